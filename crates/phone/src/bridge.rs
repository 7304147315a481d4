//! The audio bridge between the call's RTP and a sound device, in two halves
//! driven by the network side's 20 ms tick:
//!
//! - [`Downlink`]: RTP in → [`JitterBuffer`] → G.711 decode → resample
//!   8 kHz → device rate (rubato) → lock-free ring → the device's output callback.
//! - [`Uplink`]: the device's input callback → lock-free ring → resample
//!   device rate → 8 kHz → G.711 encode → RTP out.
//!
//! Both halves allocate only when built; the device callbacks see nothing but
//! the `rtrb` ends ([`PlaybackEnd`], [`CaptureEnd`]), which never lock,
//! allocate or block.

use crate::jitter::{JitterBuffer, JitterStats, Playout};
use audioadapter_buffers::direct::InterleavedSlice;
use hotline_media::{Codec, FRAME_SAMPLES};
use rubato::{Fft, FixedSync, Resampler};

/// Network rate, Hz.
pub const NET_RATE: u32 = 8000;
/// Most audio the playback ring may hold before the downlink drops a frame
/// (keeps latency bounded when the device clock is slower than the sender's).
pub const MAX_PLAYBACK_QUEUE_MS: u32 = 60;
/// Most audio the capture ring may hold before the uplink skips ahead.
pub const MAX_CAPTURE_QUEUE_MS: u32 = 60;
/// RTP header we send: version 2, no padding, no extension, no CSRC.
const RTP_HEADER: usize = 12;

/// Errors building the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The resampler refused the rates.
    #[error("cannot resample between {from} Hz and {to} Hz: {reason}")]
    Resampler {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What rubato said.
        reason: String,
    },
}

/// Why an incoming datagram was not played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not an RTP packet (too short, wrong version, bad lengths).
    Malformed,
    /// RTCP (RFC 5761 demultiplexing): not audio.
    Rtcp,
    /// A payload type other than the negotiated codec (telephone-event, ...).
    OtherPayload(u8),
}

/// The parts of an RTP packet the bridge needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpView<'a> {
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Payload (padding removed).
    pub payload: &'a [u8],
}

/// Parses an RTP packet (RFC 3550), refusing RTCP and anything malformed.
pub fn parse_rtp(b: &[u8]) -> Result<RtpView<'_>, Refused> {
    if b.len() < RTP_HEADER || b[0] >> 6 != 2 {
        return Err(Refused::Malformed);
    }
    if (192..=223).contains(&b[1]) {
        return Err(Refused::Rtcp);
    }
    let csrc = usize::from(b[0] & 0x0F);
    let mut start = RTP_HEADER + 4 * csrc;
    if b[0] & 0x10 != 0 {
        let ext = b.get(start + 2..start + 4).ok_or(Refused::Malformed)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = b.len();
    if b[0] & 0x20 != 0 {
        let pad = usize::from(*b.last().ok_or(Refused::Malformed)?);
        end = end.checked_sub(pad).ok_or(Refused::Malformed)?;
    }
    if start > end {
        return Err(Refused::Malformed);
    }
    Ok(RtpView {
        payload_type: b[1] & 0x7F,
        seq: u16::from_be_bytes([b[2], b[3]]),
        timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        payload: &b[start..end],
    })
}

/// One mono resampler with its preallocated buffers.
struct Rs {
    inner: Fft<f32>,
    out: Vec<f32>,
}

impl Rs {
    fn new(from: u32, to: u32, fixed: FixedSync) -> Result<Rs, BridgeError> {
        let inner =
            Fft::<f32>::new(from as usize, to as usize, FRAME_SAMPLES, 1, fixed).map_err(|e| {
                BridgeError::Resampler {
                    from,
                    to,
                    reason: e.to_string(),
                }
            })?;
        let out = vec![0.0; inner.output_frames_max()];
        Ok(Rs { inner, out })
    }

    /// Resamples `input` (exactly `input_frames_next()` frames); returns the output.
    fn process(&mut self, input: &[f32]) -> &[f32] {
        let frames = input.len();
        let cap = self.out.len();
        let (Ok(i), Ok(mut o)) = (
            InterleavedSlice::new(input, 1, frames),
            InterleavedSlice::new_mut(&mut self.out, 1, cap),
        ) else {
            return &[];
        };
        match self.inner.process_into_buffer(&i, &mut o, None) {
            Ok((_, n)) => &self.out[..n],
            Err(_) => &[],
        }
    }

    fn delay_frames(&self) -> usize {
        self.inner.output_delay()
    }
}

/// The device side of the playback ring (for the output callback).
pub type PlaybackEnd = rtrb::Consumer<f32>;
/// The device side of the capture ring (for the input callback).
pub type CaptureEnd = rtrb::Producer<f32>;

/// Ring capacity for `ms` of audio at `rate`, with room for a burst.
fn ring_capacity(rate: u32, ms: u32) -> usize {
    (rate as usize * ms as usize / 1000).max(FRAME_SAMPLES) * 4
}

/// The playback ring for a device at `rate`: the network end (for
/// [`Downlink::new`]) and the device end (for the output callback). It lives
/// as long as the device; each call's downlink borrows the network end.
pub fn playback_ring(rate: u32) -> (rtrb::Producer<f32>, PlaybackEnd) {
    rtrb::RingBuffer::new(ring_capacity(rate, MAX_PLAYBACK_QUEUE_MS))
}

/// The capture ring for a device at `rate`: the device end (for the input
/// callback) and the network end (for [`Uplink::new`]).
pub fn capture_ring(rate: u32) -> (CaptureEnd, rtrb::Consumer<f32>) {
    rtrb::RingBuffer::new(ring_capacity(rate, MAX_CAPTURE_QUEUE_MS))
}

/// Receive half: RTP → jitter buffer → decode → resample → playback ring.
pub struct Downlink {
    jb: JitterBuffer,
    codec: Codec,
    payload_type: u8,
    pcm: [i16; FRAME_SAMPLES],
    f8k: [f32; FRAME_SAMPLES],
    rs: Option<Rs>,
    ring: rtrb::Producer<f32>,
    max_queue: usize,
    device_rate: u32,
    /// Device-rate samples dropped because the device did not keep up.
    pub overflow_samples: u64,
    /// Datagrams refused (malformed, RTCP, other payloads).
    pub refused: u64,
}

impl std::fmt::Debug for Downlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downlink")
            .field("codec", &self.codec)
            .field("device_rate", &self.device_rate)
            .field("jitter", &self.jb)
            .finish_non_exhaustive()
    }
}

impl Downlink {
    /// A downlink for `codec` on `payload_type` playing at `device_rate`
    /// into `ring` (from [`playback_ring`]).
    pub fn new(
        codec: Codec,
        payload_type: u8,
        device_rate: u32,
        ring: rtrb::Producer<f32>,
    ) -> Result<Downlink, BridgeError> {
        let rs = if device_rate == NET_RATE {
            None
        } else {
            Some(Rs::new(NET_RATE, device_rate, FixedSync::Input)?)
        };
        Ok(Downlink {
            jb: JitterBuffer::new(),
            codec,
            payload_type,
            pcm: [0; FRAME_SAMPLES],
            f8k: [0.0; FRAME_SAMPLES],
            rs,
            ring,
            max_queue: (device_rate * MAX_PLAYBACK_QUEUE_MS / 1000) as usize,
            device_rate,
            overflow_samples: 0,
            refused: 0,
        })
    }

    /// Gives the ring back when the call ends.
    pub fn into_ring(self) -> rtrb::Producer<f32> {
        self.ring
    }

    /// Takes one datagram from the far end.
    pub fn on_datagram(&mut self, now_ms: u64, bytes: &[u8]) -> Result<(), Refused> {
        let r = parse_rtp(bytes).and_then(|p| {
            if p.payload_type == self.payload_type {
                Ok(p)
            } else {
                Err(Refused::OtherPayload(p.payload_type))
            }
        });
        match r {
            Ok(p) => {
                self.jb.push(now_ms, p.seq, p.timestamp, p.payload);
                Ok(())
            }
            Err(e) => {
                self.refused += 1;
                Err(e)
            }
        }
    }

    /// The 20 ms playout tick: one frame from the jitter buffer to the ring.
    pub fn tick(&mut self) {
        match self.jb.pop() {
            Playout::Frame(bytes) => {
                let n = bytes.len();
                self.codec.decode(bytes, &mut self.pcm[..n]);
                self.pcm[n..].fill(0);
            }
            Playout::Silence => self.pcm.fill(0),
        }
        for (f, s) in self.f8k.iter_mut().zip(&self.pcm) {
            *f = f32::from(*s) / 32768.0;
        }
        let out: &[f32] = match self.rs.as_mut() {
            Some(rs) => rs.process(&self.f8k),
            None => &self.f8k,
        };
        let queued = self.ring.buffer().capacity() - self.ring.slots();
        if queued + out.len() > self.max_queue.max(out.len()) {
            self.overflow_samples += out.len() as u64;
            return;
        }
        for s in out {
            if self.ring.push(*s).is_err() {
                self.overflow_samples += 1;
            }
        }
    }

    /// The jitter buffer's counters.
    pub fn jitter_stats(&self) -> JitterStats {
        self.jb.stats()
    }

    /// The RFC 3550 interarrival jitter estimate, ms.
    pub fn jitter_ms(&self) -> f64 {
        self.jb.jitter_ms()
    }

    /// The jitter buffer's current target depth, ms.
    pub fn jitter_target_ms(&self) -> u32 {
        self.jb.target_frames() as u32 * 20
    }

    /// Delay of the resampler, ms (0 at 8 kHz).
    pub fn resampler_delay_ms(&self) -> f64 {
        self.rs
            .as_ref()
            .map(|r| r.delay_frames() as f64 * 1000.0 / f64::from(self.device_rate))
            .unwrap_or(0.0)
    }
}

/// Send half: capture ring → resample → encode → RTP packets.
pub struct Uplink {
    codec: Codec,
    payload_type: u8,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    rs: Option<Rs>,
    ring: rtrb::Consumer<f32>,
    input: Vec<f32>,
    pcm: [i16; FRAME_SAMPLES],
    packet: [u8; RTP_HEADER + FRAME_SAMPLES],
    max_queue: usize,
    device_rate: u32,
    /// Ticks with not enough captured audio (silence was sent).
    pub underruns: u64,
    /// Device-rate samples skipped because the capture ring ran too deep.
    pub skipped_samples: u64,
    /// Whether the microphone is muted (silence is sent).
    pub muted: bool,
}

impl std::fmt::Debug for Uplink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uplink")
            .field("codec", &self.codec)
            .field("device_rate", &self.device_rate)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Uplink {
    /// An uplink sending `codec` on `payload_type`, capturing at
    /// `device_rate` from `ring` (from [`capture_ring`]).
    pub fn new(
        codec: Codec,
        payload_type: u8,
        device_rate: u32,
        ssrc: u32,
        ring: rtrb::Consumer<f32>,
    ) -> Result<Uplink, BridgeError> {
        let rs = if device_rate == NET_RATE {
            None
        } else {
            Some(Rs::new(device_rate, NET_RATE, FixedSync::Output)?)
        };
        let max_in = rs
            .as_ref()
            .map(|r| r.inner.input_frames_max())
            .unwrap_or(FRAME_SAMPLES);
        Ok(Uplink {
            codec,
            payload_type,
            ssrc,
            seq: (ssrc >> 8) as u16,
            timestamp: ssrc.rotate_left(7),
            rs,
            ring,
            input: vec![0.0; max_in],
            pcm: [0; FRAME_SAMPLES],
            packet: [0; RTP_HEADER + FRAME_SAMPLES],
            max_queue: (device_rate * MAX_CAPTURE_QUEUE_MS / 1000) as usize,
            device_rate,
            underruns: 0,
            skipped_samples: 0,
            muted: false,
        })
    }

    /// Gives the ring back when the call ends.
    pub fn into_ring(self) -> rtrb::Consumer<f32> {
        self.ring
    }

    /// The 20 ms send tick: the next RTP packet (silence if the device gave
    /// too little audio, or when muted).
    pub fn tick(&mut self) -> &[u8] {
        let need = self
            .rs
            .as_ref()
            .map(|r| r.inner.input_frames_next())
            .unwrap_or(FRAME_SAMPLES);
        // a device running faster than our clock: skip to stay near real time
        let mut avail = self.ring.slots();
        while avail > self.max_queue.max(2 * need) {
            if self.ring.pop().is_err() {
                break;
            }
            self.skipped_samples += 1;
            avail -= 1;
        }
        let have_audio = avail >= need;
        if have_audio {
            for slot in self.input[..need].iter_mut() {
                *slot = self.ring.pop().unwrap_or(0.0);
            }
        } else {
            self.underruns += 1;
            self.input[..need].fill(0.0);
        }
        let out: &[f32] = match self.rs.as_mut() {
            Some(rs) => rs.process(&self.input[..need]),
            None => &self.input[..need],
        };
        for (i, p) in self.pcm.iter_mut().enumerate() {
            let v = if self.muted {
                0.0
            } else {
                out.get(i).copied().unwrap_or(0.0)
            };
            *p = (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        let h = &mut self.packet;
        h[0] = 0x80;
        h[1] = self.payload_type & 0x7F;
        h[2..4].copy_from_slice(&self.seq.to_be_bytes());
        h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.codec.encode(&self.pcm, &mut h[RTP_HEADER..]);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        &self.packet
    }

    /// Delay of the resampler, ms (0 at 8 kHz).
    pub fn resampler_delay_ms(&self) -> f64 {
        self.rs
            .as_ref()
            .map(|r| r.delay_frames() as f64 * 1000.0 / f64::from(NET_RATE))
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        v[2..4].copy_from_slice(&seq.to_be_bytes());
        v[4..8].copy_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn tone_ulaw(freq: f64, frame: usize) -> Vec<u8> {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| {
                let n = (frame * FRAME_SAMPLES + i) as f64;
                (10000.0 * (2.0 * std::f64::consts::PI * freq * n / 8000.0).sin()) as i16
            })
            .collect();
        let mut out = vec![0u8; FRAME_SAMPLES];
        Codec::Pcmu.encode(&pcm, &mut out);
        out
    }

    /// Power of `freq` in `s` (Goertzel), normalised by length.
    pub(crate) fn goertzel(s: &[f32], rate: u32, freq: f64) -> f64 {
        let k = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for x in s {
            let c = f64::from(*x) + k * a - b;
            b = a;
            a = c;
        }
        (a * a + b * b - k * a * b) / s.len() as f64
    }

    #[test]
    fn rtp_parser_refuses_garbage_and_rtcp() {
        assert_eq!(parse_rtp(&[]), Err(Refused::Malformed));
        assert_eq!(parse_rtp(&[0x40; 20]), Err(Refused::Malformed));
        assert_eq!(
            parse_rtp(&[0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Refused::Rtcp)
        );
        // CSRC count beyond the packet
        assert_eq!(
            parse_rtp(&[0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Refused::Malformed)
        );
        // padding longer than the packet
        let mut p = rtp(0, 1, 0, &[1, 2, 3]);
        p[0] |= 0x20;
        *p.last_mut().unwrap() = 200;
        assert_eq!(parse_rtp(&p), Err(Refused::Malformed));
        // extension header cut short
        assert_eq!(
            parse_rtp(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Refused::Malformed)
        );
        let ok = rtp(8, 7, 99, &[5; 160]);
        let v = parse_rtp(&ok).unwrap();
        assert_eq!(
            (v.payload_type, v.seq, v.timestamp, v.payload.len()),
            (8, 7, 99, 160)
        );
    }

    #[test]
    fn garbage_datagrams_into_the_downlink_are_refused_without_panic() {
        let (ring, mut end) = playback_ring(48000);
        let mut dl = Downlink::new(Codec::Pcmu, 0, 48000, ring).unwrap();
        let mut x: u32 = 12345;
        for t in 0..20_000u64 {
            let len = (t % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = dl.on_datagram(t, &bytes);
            if t % 10 == 0 {
                dl.tick();
                while end.pop().is_ok() {}
            }
        }
        assert!(dl.refused > 10_000, "{}", dl.refused);
        // telephone-event is not played
        assert_eq!(
            dl.on_datagram(0, &rtp(101, 1, 0, &[0; 4])),
            Err(Refused::OtherPayload(101))
        );
    }

    #[test]
    fn a_tone_goes_through_the_downlink_at_the_device_rate() {
        for rate in [8000u32, 16000, 44100, 48000] {
            let (ring, mut end) = playback_ring(rate);
            let mut dl = Downlink::new(Codec::Pcmu, 0, rate, ring).unwrap();
            let mut out = Vec::new();
            for f in 0..50u16 {
                dl.on_datagram(
                    u64::from(f) * 20,
                    &rtp(0, f, u32::from(f) * 160, &tone_ulaw(1000.0, f.into())),
                )
                .unwrap();
                dl.tick();
                while let Ok(s) = end.pop() {
                    out.push(s);
                }
            }
            // 50 frames of 20 ms minus the jitter buffer's first frame
            let expect = rate as usize * 49 / 50;
            assert!(
                out.len() + rate as usize / 50 >= expect,
                "{rate}: {}",
                out.len()
            );
            let tail = &out[out.len() / 2..];
            let p1000 = goertzel(tail, rate, 1000.0);
            let p440 = goertzel(tail, rate, 440.0);
            let p3000 = goertzel(tail, rate, 3000.0);
            assert!(
                p1000 > 100.0 * p440 && p1000 > 100.0 * p3000,
                "{rate}: {p1000} {p440} {p3000}"
            );
        }
    }

    #[test]
    fn a_tone_goes_through_the_uplink_to_rtp() {
        for rate in [8000u32, 44100, 48000] {
            let (mut end, ring) = capture_ring(rate);
            let mut ul = Uplink::new(Codec::Pcma, 8, rate, 0xABCD_0001, ring).unwrap();
            let mut pcm = Vec::new();
            let mut n = 0usize;
            let mut last_seq = None;
            for _ in 0..50 {
                for _ in 0..rate / 50 {
                    let v = (0.3
                        * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / f64::from(rate)).sin())
                        as f32;
                    end.push(v).unwrap();
                    n += 1;
                }
                let p = parse_rtp(ul.tick()).unwrap();
                assert_eq!(p.payload_type, 8);
                if let Some(l) = last_seq {
                    assert_eq!(p.seq, u16::wrapping_add(l, 1));
                }
                last_seq = Some(p.seq);
                let mut dec = [0i16; FRAME_SAMPLES];
                Codec::Pcma.decode(p.payload, &mut dec);
                pcm.extend(dec.iter().map(|s| f32::from(*s) / 32768.0));
            }
            let tail = &pcm[pcm.len() / 2..];
            let p440 = goertzel(tail, 8000, 440.0);
            let p1000 = goertzel(tail, 8000, 1000.0);
            assert!(p440 > 100.0 * p1000, "{rate}: {p440} {p1000}");
            assert!(ul.underruns <= 2, "{rate}: {}", ul.underruns);
        }
    }

    #[test]
    fn an_empty_capture_ring_sends_silence_and_mute_silences() {
        let (mut end, ring) = capture_ring(48000);
        let mut ul = Uplink::new(Codec::Pcmu, 0, 48000, 1, ring).unwrap();
        let p = parse_rtp(ul.tick()).unwrap();
        assert!(p.payload.iter().all(|b| *b == 0xFF));
        assert_eq!(ul.underruns, 1);
        ul.muted = true;
        for _ in 0..960 {
            end.push(0.5).unwrap();
        }
        let p = parse_rtp(ul.tick()).unwrap();
        assert!(p.payload.iter().all(|b| *b == 0xFF));
    }
}

/// Latency the bridge adds (jitter buffer + resampling + ring queueing,
/// excluding the device's own buffer and the sender's packetisation),
/// measured on a simulated clock with 1 ms resolution. Used by the latency
/// test and docs/performance.md.
pub mod latency {
    use super::*;

    /// Downlink: ms from the arrival of the packet whose first sample starts
    /// a tone to that sample leaving the ring into a device that pulls every
    /// `device_period_ms`. `wobble_ms` delays every other packet (jitter).
    pub fn downlink_ms(device_rate: u32, device_period_ms: u64, wobble_ms: u64) -> f64 {
        let (ring, mut dev) = playback_ring(device_rate);
        let Ok(mut dl) = Downlink::new(Codec::Pcmu, 0, device_rate, ring) else {
            return f64::NAN;
        };
        let onset_frame = 100u16;
        let mut frame_bytes = [0xFFu8; FRAME_SAMPLES];
        let mut arrivals: Vec<(u64, u16)> = (0..200u16)
            .map(|k| {
                let t = u64::from(k) * 20 + if k % 2 == 1 { wobble_ms } else { 0 };
                (t, k)
            })
            .collect();
        arrivals.sort_unstable();
        let mut next = 0;
        let per_ms = f64::from(device_rate) / 1000.0;
        let mut pulled = 0.0f64;
        let mut onset_arrival = None;
        for t in 0..4200u64 {
            while next < arrivals.len() && arrivals[next].0 == t {
                let k = arrivals[next].1;
                let pcm: [i16; FRAME_SAMPLES] = if k >= onset_frame {
                    [12000; FRAME_SAMPLES]
                } else {
                    [0; FRAME_SAMPLES]
                };
                Codec::Pcmu.encode(&pcm, &mut frame_bytes);
                let mut pkt = [0u8; RTP_HEADER + FRAME_SAMPLES];
                pkt[0] = 0x80;
                pkt[2..4].copy_from_slice(&k.to_be_bytes());
                pkt[4..8].copy_from_slice(&(u32::from(k) * 160).to_be_bytes());
                pkt[RTP_HEADER..].copy_from_slice(&frame_bytes);
                if k == onset_frame {
                    onset_arrival = Some(t);
                }
                let _ = dl.on_datagram(t, &pkt);
                next += 1;
            }
            // the network clock ticks at a phase of its own (7 ms)
            if t % 20 == 7 {
                dl.tick();
            }
            if t % device_period_ms == 0 {
                pulled += per_ms * device_period_ms as f64;
                while pulled >= 1.0 {
                    pulled -= 1.0;
                    match dev.pop() {
                        Ok(v) if v.abs() > 0.15 => {
                            if let Some(a) = onset_arrival {
                                return (t - a) as f64;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        f64::NAN
    }

    /// Uplink: ms from a tone's first sample being captured (the device
    /// delivering every `device_period_ms`, so that period is included) to
    /// the RTP packet carrying it being sent, less the packetisation wait
    /// (the rest of the 20 ms packet).
    pub fn uplink_ms(device_rate: u32, device_period_ms: u64) -> f64 {
        let (mut dev, ring) = capture_ring(device_rate);
        let Ok(mut ul) = Uplink::new(Codec::Pcmu, 0, device_rate, 1, ring) else {
            return f64::NAN;
        };
        let onset_ms = 2003u64;
        let per_ms = f64::from(device_rate) / 1000.0;
        let mut n: u64 = 0;
        for t in 0..4000u64 {
            // a device callback at t delivers what was captured in [t - period, t)
            if t % device_period_ms == 0 {
                while (n as f64) / per_ms < t as f64 {
                    let sample_t = n as f64 / per_ms;
                    let v = if sample_t >= onset_ms as f64 {
                        0.4
                    } else {
                        0.0
                    };
                    let _ = dev.push(v);
                    n += 1;
                }
            }
            if t % 20 == 7 {
                let Ok(p) = parse_rtp(ul.tick()) else {
                    continue;
                };
                let mut pcm = [0i16; FRAME_SAMPLES];
                Codec::Pcmu.decode(p.payload, &mut pcm);
                if let Some(i) = pcm.iter().position(|s| s.unsigned_abs() > 4000) {
                    // sample i waited (20 - i/8) ms for the rest of its packet:
                    // that is packetisation, not the bridge
                    return t as f64 - onset_ms as f64 - 20.0 + i as f64 / 8.0;
                }
            }
        }
        f64::NAN
    }
}

#[cfg(test)]
mod latency_tests {
    use super::latency::{downlink_ms, uplink_ms};

    /// The figures in docs/performance.md; the target is < 60 ms one way.
    #[test]
    fn the_bridge_adds_less_than_60_ms_each_way() {
        for rate in [8000u32, 44100, 48000] {
            for period in [5u64, 10, 20] {
                let d = downlink_ms(rate, period, 0);
                let dj = downlink_ms(rate, period, 30);
                let u = uplink_ms(rate, period);
                println!(
                    "rate {rate} Hz, device period {period} ms: downlink {d:.0} ms (calm), {dj:.0} ms (30 ms jitter); uplink {u:.0} ms"
                );
                assert!(d.is_finite() && d < 60.0, "downlink {rate}/{period}: {d}");
                assert!(u.is_finite() && u < 60.0, "uplink {rate}/{period}: {u}");
                assert!(
                    dj.is_finite() && dj < 100.0,
                    "jittery downlink {rate}/{period}: {dj}"
                );
            }
        }
    }
}
