//! One recording from open to seal: places frames by RTP timestamp, aligns
//! the two channels and writes them interleaved into the WAV file. A writer
//! lane ([`crate::lanes`]) drives many of these.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use hotline_core::{AudioFrame, Side};
use sha2::{Digest, Sha256};

use crate::{CallParties, RecorderError, RecordingSummary, WriteFailure};
use hotline_evidence::{Gaps, Notary, RecordingFacts};
use std::sync::Arc;

/// Sample rate of every recording, Hz.
pub const SAMPLE_RATE: u32 = 8_000;
/// Samples per millisecond at [`SAMPLE_RATE`].
const SAMPLES_PER_MS: i64 = (SAMPLE_RATE / 1000) as i64;
/// How far (samples) one channel may run ahead of the other before the lagging
/// one is padded with silence: 500 ms.
const MAX_LAG: u64 = 4_000;
/// A timestamp further than this (samples) from the arrival-based position
/// re-anchors the stream instead of writing that much silence: 10 s.
const MAX_JUMP: i64 = 80_000;
/// Silence is inserted (and written out) in pieces of at most this many
/// samples so a long hole never sits in memory: 1 s.
const SILENCE_CHUNK: u64 = 8_000;
/// A single arrival-based jump larger than this (samples) is treated as a
/// broken clock and ignored: 24 h.
const MAX_ARRIVAL_JUMP: i64 = 24 * 3_600 * 8_000;
/// Frames written per hound sample-writer batch.
const WRITE_BATCH: usize = 4_096;

/// Commands from the [`crate::RecordingHandle`] to its writer.
#[derive(Debug)]
pub(crate) enum Ctrl {
    /// Drain what is queued and close the file; the closed recording goes
    /// back to the handle, which seals it (and signs its manifest).
    Finish(CallParties),
}

/// Everything a recording needs from its open to its close. A writer lane
/// ([`crate::lanes`]) serves many of them: it calls [`Session::service`]
/// once per batch interval (and at once when the handle asks to finish).
pub(crate) struct Session {
    pub path: PathBuf,
    pub relative_path: String,
    pub started_at_ms: i64,
    pub notary: Option<Arc<Notary>>,
    frames: Receiver<AudioFrame>,
    ctrl: Receiver<Ctrl>,
    /// The handle is gone without `finish`: close when the media senders go.
    ctrl_gone: bool,
    out: Output,
    mixer: Mixer,
    flush_interval: Duration,
    sync_interval: Duration,
    next_flush: Instant,
    next_sync: Option<Instant>,
    /// Who took part (from the handle's finish).
    parties: CallParties,
    /// Where the closed recording goes to be sealed by the waiting handle.
    closed: Sender<Closed>,
}

/// How a [`Session`] is opened.
pub(crate) struct Opening {
    pub file: File,
    pub path: PathBuf,
    pub relative_path: String,
    pub started_at_ms: i64,
    pub flush_interval: Duration,
    pub sync_interval: Duration,
    pub notary: Option<Arc<Notary>>,
    pub frames: Receiver<AudioFrame>,
    pub ctrl: Receiver<Ctrl>,
    /// Where a write failure is reported as it happens.
    pub failures: Sender<WriteFailure>,
    pub closed: Sender<Closed>,
}

/// What [`Session::service`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Serviced {
    /// The call goes on.
    Open,
    /// The handle asked to finish, or every sender is gone: close it.
    Done,
}

impl Session {
    /// Opens the WAV writer on `o.file` (its header is written at once).
    pub fn open(o: Opening, now: Instant) -> Self {
        let sync = o.sync_interval;
        Session {
            out: Output::new(o.file, o.path.clone(), Some(o.failures)),
            mixer: Mixer::new(o.started_at_ms),
            path: o.path,
            relative_path: o.relative_path,
            started_at_ms: o.started_at_ms,
            notary: o.notary,
            frames: o.frames,
            ctrl: o.ctrl,
            ctrl_gone: false,
            flush_interval: o.flush_interval,
            sync_interval: sync,
            next_flush: now + o.flush_interval,
            next_sync: (!sync.is_zero()).then(|| now + sync),
            parties: CallParties::default(),
            closed: o.closed,
        }
    }

    /// Whether the handle has asked to finish (a lane woken by a handle
    /// services only these).
    pub fn finish_asked(&self) -> bool {
        !self.ctrl_gone && !self.ctrl.is_empty()
    }

    /// Writes every frame queued since the last call (all of them in one
    /// pass: one write per file per batch), rewrites the header and fsyncs
    /// when due, and says whether the recording is done.
    pub fn service(&mut self, now: Instant) -> Serviced {
        let mut finish = None;
        if !self.ctrl_gone {
            match self.ctrl.try_recv() {
                Ok(Ctrl::Finish(p)) => finish = Some(p),
                Err(TryRecvError::Empty) => {}
                // The handle was dropped without finish(): go on until the
                // media workers drop their senders too.
                Err(TryRecvError::Disconnected) => self.ctrl_gone = true,
            }
        }
        // Bounded by what is queued now, so a sender that never stops
        // cannot keep the lane here.
        let queued = self.frames.len();
        let (mixer, out) = (&mut self.mixer, &mut self.out);
        let mut senders_gone = false;
        for _ in 0..=queued {
            match self.frames.try_recv() {
                Ok(f) => mixer.push(&f, &mut |l, r| out.write(l, r)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    senders_gone = true;
                    break;
                }
            }
        }
        if let Some(parties) = finish {
            self.parties = parties;
            return Serviced::Done;
        }
        if senders_gone {
            return Serviced::Done;
        }
        if now >= self.next_flush {
            self.out.flush_header();
            self.next_flush = now + self.flush_interval;
        }
        if self.next_sync.is_some_and(|at| now >= at) {
            self.out.flush_header();
            self.out.sync_data();
            self.next_sync = Some(now + self.sync_interval);
        }
        Serviced::Open
    }

    /// Pads both channels to the same length and hands the recording to its
    /// handle for sealing; with no handle waiting (it was dropped without
    /// `finish`) seals it here.
    pub fn close(mut self) {
        let (mixer, out) = (&mut self.mixer, &mut self.out);
        mixer.finish(&mut |l, r| out.write(l, r));
        let closed = Closed {
            path: self.path,
            relative_path: self.relative_path,
            started_at_ms: self.started_at_ms,
            notary: self.notary,
            parties: self.parties,
            out: self.out,
            mixer: self.mixer,
        };
        if let Err(unsent) = self.closed.send(closed) {
            let closed = unsent.into_inner();
            let path = closed.path.clone();
            match closed.seal() {
                Ok(_) => {
                    tracing::info!(path = %path.display(), "recording sealed after its handle was dropped")
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "recording could not be sealed after its handle was dropped")
                }
            }
        }
    }
}

/// A recording whose audio is all written, waiting to be sealed (header
/// finalized, fsync, SHA-256, signed manifest). Sealing runs on the thread
/// that finishes the call, not on the writer lane, so a slow fsync never
/// delays the other recordings' frames.
pub(crate) struct Closed {
    path: PathBuf,
    relative_path: String,
    started_at_ms: i64,
    notary: Option<Arc<Notary>>,
    parties: CallParties,
    out: Output,
    mixer: Mixer,
}

type Outcome = Result<RecordingSummary, RecorderError>;

impl Closed {
    /// Finalizes, fsyncs, hashes and signs the file.
    pub fn seal(self) -> Outcome {
        let Closed {
            path,
            relative_path,
            started_at_ms,
            notary,
            parties,
            out,
            mixer,
        } = self;
        let (sha256, out_size) = out.seal()?;
        let samples = mixer.written;
        let duration_ms = samples * 1000 / u64::from(SAMPLE_RATE);
        let manifest = notary.and_then(|n| {
            let facts = RecordingFacts {
                call_id: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                caller: parties.caller,
                agent: parties.agent,
                queue: parties.queue,
                start_ms: started_at_ms,
                end_ms: started_at_ms.saturating_add(i64::try_from(duration_ms).unwrap_or(i64::MAX)),
                samples_per_channel: samples,
                codec: hotline_evidence::sweep::codec_name(hotline_evidence::wav::PcmFormat::HOTLINE),
                gaps: Gaps {
                    count: mixer.gaps,
                    samples: mixer.gap_samples,
                },
                pauses: pauses_in_samples(&parties.pauses_ms, started_at_ms, samples),
                recovered: false,
                file_size: out_size,
                file_sha256: sha256.clone(),
                loudness: hotline_evidence::loudness::of_wav(&path).ok(),
            };
            match n.seal(&path, facts, hotline_evidence::now_ms()) {
                Ok((m, p)) => {
                    tracing::info!(path = %p.display(), seq = m.seq, "recording manifest signed");
                    Some(p)
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "recording manifest could not be signed; the startup sweep will seal it");
                    None
                }
            }
        });
        Ok(RecordingSummary {
            relative_path,
            path,
            sha256,
            samples_per_channel: samples,
            duration_ms,
            gaps: mixer.gaps,
            gap_samples: mixer.gap_samples,
            late_or_duplicate: mixer.late_or_duplicate,
            manifest,
        })
    }
}

/// Converts paused spans (epoch ms) to sample positions in a file that
/// started at `started_at_ms` and holds `samples` per channel: clamped to the
/// file, empty spans dropped, in order.
fn pauses_in_samples(
    pauses_ms: &[(i64, i64)],
    started_at_ms: i64,
    samples: u64,
) -> Vec<hotline_evidence::Pause> {
    let at = |ms: i64| {
        let off = ms.saturating_sub(started_at_ms).max(0);
        u64::try_from(off.saturating_mul(SAMPLES_PER_MS))
            .unwrap_or(0)
            .min(samples)
    };
    let mut out: Vec<hotline_evidence::Pause> = pauses_ms
        .iter()
        .map(|&(from, to)| hotline_evidence::Pause {
            start_sample: at(from),
            end_sample: at(to.max(from)),
        })
        .filter(|p| p.end_sample > p.start_sample)
        .collect();
    out.sort_by_key(|p| p.start_sample);
    out
}

/// The WAV file being written; after the first error it only swallows input.
struct Output {
    wav: Option<hound::WavWriter<BufWriter<File>>>,
    /// A second handle on the file, for fsync after hound closed its own.
    sync: Option<File>,
    error: Option<RecorderError>,
    path: PathBuf,
    /// The first failure is reported here as it happens.
    failures: Option<crossbeam_channel::Sender<WriteFailure>>,
}

impl Output {
    fn new(
        file: File,
        path: PathBuf,
        failures: Option<crossbeam_channel::Sender<WriteFailure>>,
    ) -> Self {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Output {
            wav: None,
            sync: None,
            error: None,
            path,
            failures,
        };
        match file.try_clone() {
            Ok(f) => out.sync = Some(f),
            Err(e) => {
                out.fail(hound::Error::IoError(e));
                return out;
            }
        }
        match hound::WavWriter::new(BufWriter::new(file), spec) {
            Ok(w) => out.wav = Some(w),
            Err(e) => out.fail(e),
        }
        out
    }

    fn fail(&mut self, e: hound::Error) {
        if self.error.is_none() {
            tracing::error!(path = %self.path.display(), error = %e, "recording stopped: write failed");
            if let Some(tx) = &self.failures {
                // never blocks: a full report queue drops this one
                let _ = tx.try_send(WriteFailure {
                    call_id: self
                        .path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path: self.path.clone(),
                    reason: e.to_string(),
                });
            }
            self.error = Some(RecorderError::Write {
                path: self.path.clone(),
                source: e,
            });
        }
        // Drop the writer: its Drop tries once more to write the header.
        self.wav = None;
    }

    /// Writes `l` and `r` (same length) interleaved.
    fn write(&mut self, l: &[i16], r: &[i16]) {
        let Some(w) = self.wav.as_mut() else { return };
        let mut res = Ok(());
        for (lc, rc) in l.chunks(WRITE_BATCH).zip(r.chunks(WRITE_BATCH)) {
            // chunk length <= WRITE_BATCH, so the cast cannot truncate.
            let mut sw = w.get_i16_writer((lc.len() * 2) as u32);
            for (&a, &b) in lc.iter().zip(rc) {
                sw.write_sample(a);
                sw.write_sample(b);
            }
            res = sw.flush();
            if res.is_err() {
                break;
            }
        }
        if let Err(e) = res {
            self.fail(e);
        }
    }

    /// Rewrites the header so the file is readable up to here after a crash.
    fn flush_header(&mut self) {
        if let Some(w) = self.wav.as_mut() {
            if let Err(e) = w.flush() {
                self.fail(e);
            }
        }
    }

    /// Pushes what hound wrote to the disk (fdatasync); a failure stops the
    /// recording like a write error.
    fn sync_data(&mut self) {
        if self.wav.is_none() {
            return;
        }
        if let Some(f) = self.sync.as_ref() {
            if let Err(e) = f.sync_data() {
                self.fail(hound::Error::IoError(e));
            }
        }
    }

    /// Finalizes the header, fsyncs and hashes the file.
    fn seal(mut self) -> Result<(String, u64), RecorderError> {
        if let Some(w) = self.wav.take() {
            if let Err(e) = w.finalize() {
                self.fail(e);
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let seal_err = |source| RecorderError::Seal {
            path: self.path.clone(),
            source,
        };
        if let Some(f) = self.sync.take() {
            f.sync_all().map_err(seal_err)?;
        }
        let mut f = File::open(&self.path).map_err(seal_err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(seal_err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((hex::encode(hasher.finalize()), size))
    }
}

/// Where one RTP stream (SSRC) of a channel is anchored in the recording.
#[derive(Debug)]
struct Stream {
    ssrc: u32,
    /// Position (samples since the recording started) of the first frame.
    anchor_pos: i64,
    /// Highest timestamp seen, and its distance from the first one
    /// (unwrapped, so calls longer than the 32-bit RTP clock still work).
    last_ts: u32,
    last_ext: i64,
}

/// One channel's audio not yet written.
#[derive(Debug, Default)]
struct Channel {
    /// Samples from position `Mixer::written` on.
    buf: Vec<i16>,
    /// Silence filled in for lost packets that is still in `buf`, absolute
    /// `[start, end)` positions; a late packet may still fill it.
    holes: Vec<(u64, u64)>,
    stream: Option<Stream>,
}

/// Places frames of both channels and emits aligned stereo audio.
#[derive(Debug)]
pub(crate) struct Mixer {
    started_at_ms: i64,
    /// Samples per channel already emitted.
    pub written: u64,
    ch: [Channel; 2],
    pub gaps: u32,
    pub gap_samples: u64,
    pub late_or_duplicate: u64,
}

impl Mixer {
    pub fn new(started_at_ms: i64) -> Self {
        Mixer {
            started_at_ms,
            written: 0,
            ch: [Channel::default(), Channel::default()],
            gaps: 0,
            gap_samples: 0,
            late_or_duplicate: 0,
        }
    }

    fn end(&self, c: usize) -> u64 {
        self.written + self.ch[c].buf.len() as u64
    }

    /// Places one frame, then emits whatever both channels have.
    pub fn push(&mut self, f: &AudioFrame, sink: &mut dyn FnMut(&[i16], &[i16])) {
        if f.samples.is_empty() {
            return;
        }
        let c = match f.side {
            Side::Caller => 0,
            Side::Agent => 1,
        };
        let end = self.end(c) as i64;
        let arrival_pos = f
            .arrival_ms
            .saturating_sub(self.started_at_ms)
            .saturating_mul(SAMPLES_PER_MS);
        // A broken clock must not make us write a day of silence.
        let arrival_pos = if arrival_pos.saturating_sub(end) > MAX_ARRIVAL_JUMP {
            tracing::warn!(
                arrival_ms = f.arrival_ms,
                "recorder: absurd arrival time ignored"
            );
            end
        } else {
            arrival_pos
        };
        let reanchor = |ch: &mut Channel| {
            let pos = arrival_pos.max(end);
            ch.stream = Some(Stream {
                ssrc: f.ssrc,
                anchor_pos: pos,
                last_ts: f.timestamp,
                last_ext: 0,
            });
            pos
        };
        let ch = &mut self.ch[c];
        let (pos, in_stream) = match ch.stream.as_mut() {
            Some(s) if s.ssrc == f.ssrc => {
                let delta = i64::from(f.timestamp.wrapping_sub(s.last_ts) as i32);
                let ext = s.last_ext + delta;
                let pos = s.anchor_pos.saturating_add(ext);
                if pos.saturating_sub(arrival_pos).abs() > MAX_JUMP {
                    (reanchor(ch), false)
                } else {
                    if delta > 0 {
                        s.last_ts = f.timestamp;
                        s.last_ext = ext;
                    }
                    (pos, true)
                }
            }
            _ => (reanchor(ch), false),
        };
        self.place(c, pos, &f.samples, in_stream, sink);
        self.emit(sink);
    }

    /// Writes `samples` at `pos` of channel `c`.
    fn place(
        &mut self,
        c: usize,
        pos: i64,
        samples: &[i16],
        in_stream: bool,
        sink: &mut dyn FnMut(&[i16], &[i16]),
    ) {
        let n = samples.len() as i64;
        let written = self.written as i64;
        let end = self.end(c) as i64;
        let mut pos = pos;
        let mut samples = samples;
        if pos.saturating_add(n) <= written {
            self.late_or_duplicate += 1;
            return;
        }
        if pos < end {
            if pos >= written && self.fill_hole(c, pos as u64, samples) {
                return;
            }
            if pos + n <= end {
                self.late_or_duplicate += 1;
                return;
            }
            // Overlaps the end: keep only the new part.
            let skip = (end - pos) as usize;
            samples = &samples[skip..];
            pos = end;
        }
        if pos > end {
            let hole = (pos - end) as u64;
            if in_stream {
                self.gaps += 1;
                self.gap_samples += hole;
                self.ch[c].holes.push((end as u64, pos as u64));
            }
            let mut left = hole;
            while left > 0 {
                let k = left.min(SILENCE_CHUNK);
                let new_len = self.ch[c].buf.len() + k as usize;
                self.ch[c].buf.resize(new_len, 0);
                left -= k;
                self.emit(sink);
            }
        }
        self.ch[c].buf.extend_from_slice(samples);
    }

    /// Puts a late frame into a silence hole it fits in entirely.
    fn fill_hole(&mut self, c: usize, pos: u64, samples: &[i16]) -> bool {
        let n = samples.len() as u64;
        let ch = &mut self.ch[c];
        let Some(i) = ch.holes.iter().position(|&(s, e)| s <= pos && pos + n <= e) else {
            return false;
        };
        let (s, e) = ch.holes[i];
        let off = (pos - self.written) as usize;
        ch.buf[off..off + samples.len()].copy_from_slice(samples);
        ch.holes.remove(i);
        self.gap_samples = self.gap_samples.saturating_sub(n);
        let mut parts = 0;
        if s < pos {
            ch.holes.push((s, pos));
            parts += 1;
        }
        if pos + n < e {
            ch.holes.push((pos + n, e));
            parts += 1;
        }
        match parts {
            0 => self.gaps = self.gaps.saturating_sub(1),
            2 => self.gaps += 1,
            _ => {}
        }
        true
    }

    /// Pads a channel lagging more than [`MAX_LAG`] and emits what both have.
    fn emit(&mut self, sink: &mut dyn FnMut(&[i16], &[i16])) {
        let (e0, e1) = (self.end(0), self.end(1));
        let (lead, lag_c) = if e0 >= e1 { (e0, 1) } else { (e1, 0) };
        let lag_end = self.end(lag_c);
        if lead - lag_end > MAX_LAG {
            let new_len = self.ch[lag_c].buf.len() + (lead - MAX_LAG - lag_end) as usize;
            self.ch[lag_c].buf.resize(new_len, 0);
        }
        self.emit_ready(sink);
    }

    /// Emits the samples both channels have.
    fn emit_ready(&mut self, sink: &mut dyn FnMut(&[i16], &[i16])) {
        let k = self.ch[0].buf.len().min(self.ch[1].buf.len());
        if k == 0 {
            return;
        }
        sink(&self.ch[0].buf[..k], &self.ch[1].buf[..k]);
        self.written += k as u64;
        let written = self.written;
        for ch in &mut self.ch {
            ch.buf.drain(..k);
            ch.holes.retain(|&(_, e)| e > written);
            for h in &mut ch.holes {
                h.0 = h.0.max(written);
            }
        }
    }

    /// Pads both channels to the same length and emits everything.
    pub fn finish(&mut self, sink: &mut dyn FnMut(&[i16], &[i16])) {
        let target = self.end(0).max(self.end(1));
        for c in 0..2 {
            let new_len = (target - self.written) as usize;
            self.ch[c].buf.resize(new_len, 0);
        }
        self.emit_ready(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_reported_at_once_and_the_writer_goes_on_swallowing() {
        // /dev/full refuses every write with ENOSPC, like a full disk
        let Ok(file) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            eprintln!("no /dev/full here: skipped");
            return;
        };
        let (tx, rx) = crossbeam_channel::bounded(4);
        let path = PathBuf::from("/recordings/2026/11/23/c-full.wav");
        let mut out = Output::new(file, path.clone(), Some(tx));
        let tone = vec![1000i16; 8000];
        for _ in 0..20 {
            out.write(&tone, &tone);
            out.flush_header();
        }
        let reports: Vec<WriteFailure> = rx.try_iter().collect();
        assert_eq!(reports.len(), 1, "reported once: {reports:?}");
        assert_eq!(reports[0].call_id, "c-full");
        assert_eq!(reports[0].path, path);
        assert!(
            reports[0].reason.contains("No space left"),
            "{}",
            reports[0].reason
        );
        assert!(
            out.error.is_some(),
            "the failure is also kept for the close"
        );
    }

    #[test]
    fn paused_spans_become_sample_ranges_inside_the_file() {
        // file started at 1000 ms and holds 2 s (16000 samples)
        let p = pauses_in_samples(
            &[(2500, 2000), (1500, 1750), (2800, 9000), (0, 1200)],
            1000,
            16_000,
        );
        let spans: Vec<(u64, u64)> = p.iter().map(|p| (p.start_sample, p.end_sample)).collect();
        // (2500, 2000) is empty (end before start) and dropped; the one past
        // the end is clamped; the one before the start begins at 0
        assert_eq!(spans, [(0, 1600), (4000, 6000), (14_400, 16_000)]);
    }

    fn frame(side: Side, ssrc: u32, seq: u16, ts: u32, arrival: i64, v: i16) -> AudioFrame {
        AudioFrame {
            side,
            ssrc,
            seq,
            timestamp: ts,
            arrival_ms: arrival,
            samples: vec![v; 160],
        }
    }

    struct Collect(Vec<i16>, Vec<i16>);
    impl Collect {
        fn run(m: &mut Mixer, frames: &[AudioFrame]) -> Collect {
            let mut c = Collect(Vec::new(), Vec::new());
            for f in frames {
                m.push(f, &mut |l, r| {
                    c.0.extend_from_slice(l);
                    c.1.extend_from_slice(r);
                });
            }
            m.finish(&mut |l, r| {
                c.0.extend_from_slice(l);
                c.1.extend_from_slice(r);
            });
            c
        }
    }

    #[test]
    fn late_packet_fills_its_hole() {
        let mut m = Mixer::new(0);
        let fs = [
            frame(Side::Caller, 1, 0, 0, 0, 1),
            frame(Side::Caller, 1, 2, 320, 40, 3),
            frame(Side::Caller, 1, 1, 160, 45, 2),
        ];
        let c = Collect::run(&mut m, &fs);
        assert_eq!(m.gaps, 0);
        assert_eq!(m.gap_samples, 0);
        assert_eq!(m.late_or_duplicate, 0);
        assert_eq!(c.0.len(), 480);
        assert_eq!(&c.0[160..320], &[2; 160][..]);
        assert_eq!(c.1, vec![0; 480]);
    }

    #[test]
    fn absurd_jump_reanchors() {
        let mut m = Mixer::new(0);
        let fs = [
            frame(Side::Agent, 7, 0, 1000, 0, 1),
            // timestamp jumps by 1 000 000 samples (two minutes) 20 ms later
            frame(Side::Agent, 7, 1, 1_001_000, 20, 2),
            frame(Side::Agent, 7, 2, 1_001_160, 40, 3),
        ];
        let c = Collect::run(&mut m, &fs);
        assert_eq!(m.gaps, 0);
        assert_eq!(c.1.len(), 480);
        assert_eq!(&c.1[160..320], &[2; 160][..]);
        assert_eq!(&c.1[320..], &[3; 160][..]);
    }

    #[test]
    fn new_ssrc_starts_at_arrival_not_before_end() {
        let mut m = Mixer::new(0);
        let fs = [
            frame(Side::Caller, 1, 0, 0, 0, 1),
            frame(Side::Caller, 1, 1, 160, 20, 1),
            // new SSRC, arrives 1 s in: placed at 8000 (silence before is not a gap)
            frame(Side::Caller, 2, 0, 99, 1000, 5),
            // another new SSRC claiming an earlier arrival: clamped to the end
            frame(Side::Caller, 3, 0, 7, 500, 6),
        ];
        let c = Collect::run(&mut m, &fs);
        assert_eq!(m.gaps, 0);
        assert_eq!(c.0.len(), 8000 + 320);
        assert_eq!(&c.0[8000..8160], &[5; 160][..]);
        assert_eq!(&c.0[8160..], &[6; 160][..]);
        assert!(c.0[320..8000].iter().all(|&s| s == 0));
    }

    #[test]
    fn full_disk_is_reported_by_finish_and_the_writer_keeps_draining() {
        // /dev/full accepts seeks and refuses every write with ENOSPC.
        let Ok(file) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return; // not on Linux
        };
        let (tx, rx) = crossbeam_channel::bounded(4);
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded(1);
        let (closed_tx, closed_rx) = crossbeam_channel::bounded(1);
        let t0 = Instant::now();
        let mut s = Session::open(
            Opening {
                file,
                path: PathBuf::from("/dev/full"),
                relative_path: "full.wav".into(),
                started_at_ms: 0,
                flush_interval: Duration::from_millis(10),
                sync_interval: Duration::from_millis(10),
                notary: None,
                frames: rx,
                ctrl: ctrl_rx,
                failures: crossbeam_channel::bounded(1).0,
                closed: closed_tx,
            },
            t0,
        );
        // Far more than the channel holds: only a writer that keeps draining
        // after the failure lets this end.
        for i in 0..500u32 {
            tx.send(frame(
                Side::Caller,
                1,
                i as u16,
                i * 160,
                i64::from(i) * 20,
                1,
            ))
            .unwrap();
            if tx.is_full() {
                let at = t0 + Duration::from_millis(u64::from(i) * 20);
                assert_eq!(s.service(at), Serviced::Open);
            }
        }
        ctrl_tx.send(Ctrl::Finish(CallParties::default())).unwrap();
        assert!(s.finish_asked());
        assert_eq!(s.service(t0 + Duration::from_secs(20)), Serviced::Done);
        s.close();
        let err = closed_rx.recv().unwrap().seal().unwrap_err();
        assert!(matches!(err, RecorderError::Write { .. }), "{err}");
        assert!(err.to_string().contains("/dev/full"), "{err}");
    }

    #[test]
    fn a_session_ends_when_its_handle_and_every_sender_are_gone_and_seals_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orphan.wav");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let (tx, rx) = crossbeam_channel::bounded(64);
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded::<Ctrl>(1);
        let (closed_tx, closed_rx) = crossbeam_channel::bounded(1);
        let t0 = Instant::now();
        let mut s = Session::open(
            Opening {
                file,
                path: path.clone(),
                relative_path: "orphan.wav".into(),
                started_at_ms: 0,
                flush_interval: Duration::from_secs(1),
                sync_interval: Duration::ZERO,
                notary: None,
                frames: rx,
                ctrl: ctrl_rx,
                failures: crossbeam_channel::bounded(1).0,
                closed: closed_tx,
            },
            t0,
        );
        for i in 0..10u32 {
            tx.send(frame(
                Side::Caller,
                1,
                i as u16,
                i * 160,
                i64::from(i) * 20,
                1,
            ))
            .unwrap();
        }
        // the handle goes without finish: the call goes on
        drop(ctrl_tx);
        drop(closed_rx);
        assert_eq!(s.service(t0), Serviced::Open);
        assert!(!s.finish_asked());
        // the media workers go too: done, and sealed right here
        drop(tx);
        assert_eq!(s.service(t0), Serviced::Done);
        s.close();
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.duration(), 1600, "ten 20 ms frames");
    }

    #[test]
    fn long_hole_is_written_in_pieces() {
        let mut m = Mixer::new(0);
        let mut biggest = 0;
        let fs = [
            frame(Side::Caller, 1, 0, 0, 0, 1),
            frame(Side::Caller, 1, 1, 8 * 9_000, 9_000, 2),
        ];
        for f in &fs {
            m.push(f, &mut |l, _| biggest = biggest.max(l.len()));
            assert!(m.ch[0].buf.len() <= (MAX_LAG + SILENCE_CHUNK) as usize + 160);
        }
        assert_eq!(m.gaps, 1);
        assert_eq!(m.gap_samples, 72_000 - 160);
        assert!(biggest <= SILENCE_CHUNK as usize);
    }
}
