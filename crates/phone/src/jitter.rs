//! An adaptive jitter buffer for 20 ms G.711 frames (sans-IO: time is an
//! argument).
//!
//! Packets go in with their RTP sequence number and arrival time; one frame
//! comes out per 20 ms playout tick. The buffer waits until it holds its
//! target depth before it starts playing, conceals a missing frame with
//! silence, drops packets that arrive after their turn, and resynchronises on
//! a sequence jump (a new stream or a hostile sender). The target depth is
//! the smaller of two estimates, at most [`MAX_TARGET_FRAMES`]: one frame
//! plus the delay spread (slowest minus fastest transit) of the last 64
//! packets (about 1.3 s) in frames, and one frame plus 2.5 × the RFC 3550
//! interarrival jitter in frames (rounded). A one-off step (the sender starting late, a route
//! change) is forgotten after 64 packets; jitter that persists keeps the
//! buffer deep. The RFC 3550 interarrival jitter is estimated for reports; when the buffer runs deeper than target
//! plus two frames it drops the oldest frame so latency comes back down;
//! when it runs shallower than target it holds playout back one frame (at
//! most every 200 ms) so it grows.
//!
//! Storage is a fixed array of slots: nothing allocates after construction,
//! whatever arrives.

use hotline_media::FRAME_SAMPLES;

/// Slots in the buffer (frames of 20 ms): 640 ms.
pub const SLOTS: usize = 32;
/// Largest target depth, frames (160 ms).
pub const MAX_TARGET_FRAMES: usize = 8;
/// Consecutive empty ticks after which the buffer re-buffers.
const REBUFFER_AFTER: u32 = 10;
/// Packets over which the delay spread is measured (about 1.3 s).
const WINDOW: usize = 64;
/// Fewest ticks between two growth steps.
const STRETCH_EVERY: u32 = 10;

/// Counters of what the buffer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub accepted: u64,
    /// Packets dropped because their turn had passed.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Packets refused (payload empty or longer than a frame).
    pub malformed: u64,
    /// Frames concealed (missing at their turn).
    pub concealed: u64,
    /// Frames dropped to shrink the buffer.
    pub shrunk: u64,
    /// Silent frames inserted to grow the buffer (jitter went up).
    pub stretched: u64,
    /// Resynchronisations after a sequence jump.
    pub resyncs: u64,
}

#[derive(Clone, Copy)]
struct Slot {
    seq: u16,
    len: usize,
    full: bool,
    data: [u8; FRAME_SAMPLES],
}

const EMPTY: Slot = Slot {
    seq: 0,
    len: 0,
    full: false,
    data: [0; FRAME_SAMPLES],
};

/// What a playout tick yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// A received frame (G.711 bytes; shorter than a frame = the rest is silence).
    Frame(&'a [u8]),
    /// Nothing to play (buffering, or a lost frame concealed by silence).
    Silence,
}

/// The jitter buffer of one receive stream.
pub struct JitterBuffer {
    slots: [Slot; SLOTS],
    /// Sequence number of the next frame to play; None before the first packet.
    next: Option<u16>,
    playing: bool,
    empty_ticks: u32,
    /// Pops since the buffer last grew by holding a frame back.
    since_stretch: u32,
    /// RFC 3550 jitter estimate, in ms (smoothed 1/16).
    jitter_ms: f64,
    last_transit: Option<f64>,
    /// Transit times (arrival - timestamp) of the last WINDOW packets, ms.
    window: [f64; WINDOW],
    window_pos: usize,
    window_len: usize,
    /// Frames we want buffered before and while playing.
    target: usize,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("next", &self.next)
            .field("playing", &self.playing)
            .field("depth", &self.depth())
            .field("target", &self.target)
            .field("jitter_ms", &self.jitter_ms)
            .finish()
    }
}

/// `a - b` in sequence space (wrapping, signed).
fn seq_diff(a: u16, b: u16) -> i32 {
    i32::from(a.wrapping_sub(b) as i16)
}

impl JitterBuffer {
    /// An empty buffer with a target of one frame.
    pub fn new() -> Self {
        JitterBuffer {
            slots: [EMPTY; SLOTS],
            next: None,
            playing: false,
            empty_ticks: 0,
            since_stretch: 0,
            jitter_ms: 0.0,
            last_transit: None,
            window: [0.0; WINDOW],
            window_pos: 0,
            window_len: 0,
            target: 1,
            stats: JitterStats::default(),
        }
    }

    /// What happened so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current target depth, frames.
    pub fn target_frames(&self) -> usize {
        self.target
    }

    /// The interarrival jitter estimate, ms.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// Frames buffered from the next one to play on.
    pub fn depth(&self) -> usize {
        self.slots.iter().filter(|s| s.full).count()
    }

    fn reset(&mut self, seq: u16) {
        for s in &mut self.slots {
            s.full = false;
        }
        self.next = Some(seq);
        self.playing = false;
        self.empty_ticks = 0;
    }

    /// Stores one packet's payload. `timestamp` is the RTP timestamp (8 kHz),
    /// `now_ms` the arrival time.
    pub fn push(&mut self, now_ms: u64, seq: u16, timestamp: u32, payload: &[u8]) {
        if payload.is_empty() || payload.len() > FRAME_SAMPLES {
            self.stats.malformed += 1;
            return;
        }
        // RFC 3550 A.8 jitter (reported), and the delay spread over the
        // last WINDOW packets (drives the target)
        let transit = now_ms as f64 - f64::from(timestamp) / 8.0;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            if d < 1000.0 {
                self.jitter_ms += (d - self.jitter_ms) / 16.0;
            } else {
                // a new stream or a clock jump, not jitter: forget the window
                self.window_len = 0;
            }
        }
        self.last_transit = Some(transit);
        self.window[self.window_pos] = transit;
        self.window_pos = (self.window_pos + 1) % WINDOW;
        self.window_len = (self.window_len + 1).min(WINDOW);
        let mut lo = f64::MAX;
        let mut hi = f64::MIN;
        for i in 0..self.window_len {
            let t = self.window[(self.window_pos + WINDOW - 1 - i) % WINDOW];
            lo = lo.min(t);
            hi = hi.max(t);
        }
        let spread = (hi - lo).max(0.0);
        // The spread alone also grows with clock drift and timestamp steps
        // (seen on real calls: 0.7 ms of jitter, 40 ms of spread), the RFC
        // 3550 estimate alone over-reacts to alternating delays: take the
        // smaller of the two.
        let by_spread = 1 + (spread / 20.0).ceil() as usize;
        let by_jitter = 1 + (2.5 * self.jitter_ms / 20.0).round() as usize;
        self.target = by_spread.min(by_jitter).clamp(1, MAX_TARGET_FRAMES);

        let next = match self.next {
            None => {
                self.reset(seq);
                seq
            }
            Some(n) => n,
        };
        let ahead = seq_diff(seq, next);
        if ahead < 0 {
            if ahead < -(SLOTS as i32) * 4 {
                // far behind: a restarted stream
                self.stats.resyncs += 1;
                self.reset(seq);
            } else {
                self.stats.late += 1;
                return;
            }
        } else if ahead >= SLOTS as i32 {
            self.stats.resyncs += 1;
            self.reset(seq);
        }
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        if slot.full && slot.seq == seq {
            self.stats.duplicate += 1;
            return;
        }
        slot.seq = seq;
        slot.len = payload.len();
        slot.data[..payload.len()].copy_from_slice(payload);
        slot.full = true;
        self.stats.accepted += 1;
    }

    /// The frame for this 20 ms tick.
    pub fn pop(&mut self) -> Playout<'_> {
        let Some(next) = self.next else {
            return Playout::Silence;
        };
        if !self.playing {
            if self.depth() >= self.target {
                self.playing = true;
            } else {
                return Playout::Silence;
            }
        }
        // too deep: drop the oldest frame so latency comes back to target
        if self.depth() > self.target + 2 {
            let i = usize::from(next) % SLOTS;
            if self.slots[i].full && self.slots[i].seq == next {
                self.slots[i].full = false;
                self.stats.shrunk += 1;
            }
            self.next = Some(next.wrapping_add(1));
            return self.pop();
        }
        // too shallow for the jitter seen: hold playout back one frame
        // (at most once per STRETCH_EVERY ticks, so it grows gently)
        self.since_stretch = self.since_stretch.saturating_add(1);
        let depth = self.depth();
        if depth > 0 && depth < self.target && self.since_stretch >= STRETCH_EVERY {
            self.since_stretch = 0;
            self.stats.stretched += 1;
            return Playout::Silence;
        }
        self.next = Some(next.wrapping_add(1));
        let i = usize::from(next) % SLOTS;
        let slot = &mut self.slots[i];
        if slot.full && slot.seq == next {
            slot.full = false;
            self.empty_ticks = 0;
            let len = slot.len;
            return Playout::Frame(&self.slots[i].data[..len]);
        }
        self.stats.concealed += 1;
        self.empty_ticks += 1;
        if self.empty_ticks >= REBUFFER_AFTER && self.depth() == 0 {
            // the stream paused (hold, silence suppression): buffer again
            self.playing = false;
        }
        Playout::Silence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: u8) -> [u8; FRAME_SAMPLES] {
        [v; FRAME_SAMPLES]
    }

    #[test]
    fn in_order_packets_play_in_order_after_the_target_depth() {
        let mut jb = JitterBuffer::new();
        jb.push(0, 100, 0, &frame(1));
        assert_eq!(jb.pop(), Playout::Frame(&frame(1)));
        jb.push(20, 101, 160, &frame(2));
        jb.push(40, 102, 320, &frame(3));
        assert_eq!(jb.pop(), Playout::Frame(&frame(2)));
        assert_eq!(jb.pop(), Playout::Frame(&frame(3)));
        assert_eq!(jb.pop(), Playout::Silence);
    }

    #[test]
    fn reordered_packets_come_out_in_sequence_and_late_ones_are_dropped() {
        let mut jb = JitterBuffer::new();
        jb.push(0, 10, 0, &frame(10));
        jb.push(0, 12, 320, &frame(12));
        jb.push(0, 11, 160, &frame(11));
        assert_eq!(jb.pop(), Playout::Frame(&frame(10)));
        assert_eq!(jb.pop(), Playout::Frame(&frame(11)));
        assert_eq!(jb.pop(), Playout::Frame(&frame(12)));
        jb.push(0, 11, 160, &frame(11));
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn a_lost_frame_is_concealed_and_playback_goes_on() {
        let mut jb = JitterBuffer::new();
        jb.push(0, 1, 0, &frame(1));
        jb.push(40, 3, 320, &frame(3));
        assert_eq!(jb.pop(), Playout::Frame(&frame(1)));
        assert_eq!(jb.pop(), Playout::Silence);
        assert_eq!(jb.pop(), Playout::Frame(&frame(3)));
        assert_eq!(jb.stats().concealed, 1);
    }

    #[test]
    fn the_sequence_wraps() {
        let mut jb = JitterBuffer::new();
        jb.push(0, 65535, 0, &frame(1));
        jb.push(20, 0, 160, &frame(2));
        assert_eq!(jb.pop(), Playout::Frame(&frame(1)));
        assert_eq!(jb.pop(), Playout::Frame(&frame(2)));
    }

    #[test]
    fn jitter_raises_the_target_and_a_calm_stream_keeps_it_at_one_frame() {
        let mut calm = JitterBuffer::new();
        for i in 0..100u16 {
            calm.push(u64::from(i) * 20, i, u32::from(i) * 160, &frame(0));
            calm.pop();
        }
        assert_eq!(calm.target_frames(), 1);
        let mut bumpy = JitterBuffer::new();
        for i in 0..100u16 {
            // arrivals wobble by ±30 ms
            let wobble = if i % 2 == 0 { 0 } else { 60 };
            bumpy.push(u64::from(i) * 20 + wobble, i, u32::from(i) * 160, &frame(0));
            bumpy.pop();
        }
        assert!(bumpy.target_frames() >= 3, "{bumpy:?}");
        assert!(bumpy.target_frames() <= MAX_TARGET_FRAMES);
    }

    #[test]
    fn a_backlog_is_shrunk_back_towards_the_target() {
        let mut jb = JitterBuffer::new();
        for i in 0..20u16 {
            jb.push(0, i, u32::from(i) * 160, &frame(i as u8));
        }
        let mut played = 0;
        while let Playout::Frame(_) = jb.pop() {
            played += 1;
        }
        assert!(jb.stats().shrunk >= 12, "{:?}", jb.stats());
        assert!(played <= jb.target_frames() + 3, "{played} {jb:?}");
    }

    #[test]
    fn garbage_never_panics_and_memory_stays_fixed() {
        // hostile input: random sequence numbers, timestamps and lengths
        let mut jb = JitterBuffer::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = [0u8; 2000];
        for t in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 2000) as usize;
            buf[0] = x as u8;
            jb.push(t, (x >> 16) as u16, (x >> 32) as u32, &buf[..len]);
            if t % 3 == 0 {
                jb.pop();
            }
        }
        let s = jb.stats();
        assert!(s.malformed > 0 && s.resyncs > 0 && s.accepted > 0, "{s:?}");
        assert!(jb.depth() <= SLOTS);
        // and a clean stream afterwards plays normally
        let mut jb2 = JitterBuffer::new();
        jb2.push(0, 7, 0, &frame(7));
        assert_eq!(jb2.pop(), Playout::Frame(&frame(7)));
    }
}
