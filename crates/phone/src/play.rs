//! `hotline-phone play FILE.wav`: replays a hotline recording (WAV, 8 kHz
//! stereo: left = caller, right = agent) on the output device through cpal,
//! or renders it to a WAV file (`--output-wav`, for tests and machines
//! without sound).
//!
//! - `--channel caller|agent|both`: the left channel, the right channel
//!   (each played mono), or both (stereo: caller left, agent right).
//! - `--speed 0.2..1.0`: slower without lowering the voice ([`crate::stretch`]).
//! - `--start SECONDS`: where to begin.
//! - On a terminal: space pauses, ←/→ seek 5 s, +/- change the speed by 0.1,
//!   q quits.
//!
//! The path to the device: [`Player`] (WSOLA, on a feeder thread) → rubato
//! (recording rate → device rate) → `rtrb` ring → the cpal callback, which
//! only pops samples and reads an atomic pause flag: no lock, no
//! allocation, no blocking call in it. The server's `hotline recordings play
//! ID` checks the user's role, writes the audit entry and runs this command.

use crate::audio::AudioError;
use crate::stretch::Wsola;
use audioadapter_buffers::direct::InterleavedSlice;
use cpal::traits::{DeviceTrait, StreamTrait};
use rubato::{Fft, FixedSync, Resampler};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Slowest speed.
pub const MIN_SPEED: f64 = 0.2;
/// Fastest speed (the recording as it was).
pub const MAX_SPEED: f64 = 1.0;
/// Speed change per `+` / `-` key.
pub const SPEED_STEP: f64 = 0.1;
/// Seek per ← / → key, seconds.
pub const SEEK_STEP_S: f64 = 5.0;
/// Most samples (all channels) a file may declare: about 2 hours of 8 kHz
/// stereo (the audio is held in memory as f32: at most ~480 MB, plus a
/// third more for the summed channels the stretch searches when both are
/// played).
pub const MAX_PLAY_SAMPLES: u64 = 120_000_000;

/// Which side of the recording to hear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The left channel (the caller), mono.
    Caller,
    /// The right channel (the agent), mono.
    Agent,
    /// Both, stereo (caller left, agent right).
    Both,
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Channel, String> {
        match s {
            "caller" | "left" => Ok(Channel::Caller),
            "agent" | "right" => Ok(Channel::Agent),
            "both" => Ok(Channel::Both),
            _ => Err(format!("`{s}`: the channel is caller, agent or both")),
        }
    }
}

impl Channel {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Caller => "caller",
            Channel::Agent => "agent",
            Channel::Both => "both",
        }
    }
}

/// Why `play` failed.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// The file is missing, not a WAV, malformed, too long, or of a form
    /// that is no recording.
    #[error("cannot play {path}: {reason}")]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A bad option value.
    #[error("{0}")]
    Usage(String),
    /// The output device failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The terminal (keys) failed.
    #[error("terminal: {0}")]
    Terminal(String),
    /// The output WAV could not be written.
    #[error("cannot write {path}: {reason}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl PlayError {
    /// Exit code: 65 bad input file, 64 bad option, 3 audio device, 73
    /// output file, 1 terminal.
    pub fn exit_code(&self) -> i32 {
        match self {
            PlayError::Input { .. } => 65,
            PlayError::Usage(_) => 64,
            PlayError::Audio(_) => 3,
            PlayError::Output { .. } => 73,
            PlayError::Terminal(_) => 1,
        }
    }
}

/// The chosen channel(s) of a recording, in memory.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Samples in -1..1, interleaved `channels`.
    pub samples: Vec<f32>,
    /// 1 (caller or agent, or a mono file) or 2 (both).
    pub channels: usize,
    /// Sample rate, Hz.
    pub rate: u32,
    /// The file ended before its header said (a recording cut by a crash):
    /// what is there is played.
    pub truncated: bool,
}

impl Recording {
    /// Reads `path`, keeping `channel`. Refuses anything that is not a
    /// plausible recording with a message that says why; never panics.
    pub fn read(path: &Path, channel: Channel) -> Result<Recording, PlayError> {
        let err = |reason: String| PlayError::Input {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if !meta.is_file() {
            return Err(err("not a regular file".into()));
        }
        let r = hound::WavReader::open(path)
            .map_err(|e| err(format!("not a readable WAV file ({e})")))?;
        let spec = r.spec();
        let file_ch = usize::from(spec.channels);
        if !(1..=2).contains(&file_ch) {
            return Err(err(format!(
                "{file_ch} channels: a recording has 2 (caller left, agent right) or 1"
            )));
        }
        if !(4000..=48_000).contains(&spec.sample_rate) {
            return Err(err(format!(
                "sample rate {} Hz is not that of a recording (4-48 kHz)",
                spec.sample_rate
            )));
        }
        let declared = u64::from(r.len());
        if declared > MAX_PLAY_SAMPLES || meta.len() / 2 > MAX_PLAY_SAMPLES * 2 {
            return Err(err(format!(
                "{:.0} s of audio: longer than this player holds (about {} min of 8 kHz stereo)",
                declared as f64 / f64::from(spec.sample_rate) / file_ch as f64,
                MAX_PLAY_SAMPLES / 16_000 / 60
            )));
        }
        let keep: &[usize] = match (channel, file_ch) {
            (_, 1) => &[0],
            (Channel::Caller, _) => &[0],
            (Channel::Agent, _) => &[1],
            (Channel::Both, _) => &[0, 1],
        };
        let bytes = u64::from(spec.bits_per_sample.div_ceil(8)).max(1);
        let cap = declared.min(meta.len() / bytes) as usize / file_ch * keep.len();
        let mut samples = Vec::with_capacity(cap);
        let mut truncated = false;
        let mut push = |i: usize, v: f32| {
            if keep.contains(&(i % file_ch)) {
                samples.push(v);
            }
        };
        let mut end_err = None;
        match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => {
                let mut r = r;
                for (i, s) in r.samples::<f32>().enumerate() {
                    match s {
                        Ok(v) if v.is_finite() => push(i, v.clamp(-1.0, 1.0)),
                        Ok(_) => push(i, 0.0),
                        Err(e) => {
                            end_err = Some(e);
                            break;
                        }
                    }
                }
            }
            (hound::SampleFormat::Int, b @ (8 | 16 | 24 | 32)) => {
                let scale = (1u64 << (b - 1)) as f32;
                let mut r = r;
                for (i, s) in r.samples::<i32>().enumerate() {
                    match s {
                        Ok(v) => push(i, v as f32 / scale),
                        Err(e) => {
                            end_err = Some(e);
                            break;
                        }
                    }
                }
            }
            (f, b) => {
                return Err(err(format!("{b}-bit {f:?} samples are not supported")));
            }
        }
        if let Some(e) = end_err {
            // sample data cannot be malformed, only short: a crash-cut file
            // (its header not repaired) is played as far as it goes
            if samples.len() < keep.len() {
                return Err(err(format!("no readable audio ({e})")));
            }
            truncated = true;
            tracing::warn!(path = %path.display(), error = %e, "the file ends before its header says");
        }
        let channels = keep.len();
        samples.truncate(samples.len() / channels * channels);
        if samples.is_empty() {
            return Err(err("no audio in it".into()));
        }
        Ok(Recording {
            samples,
            channels,
            rate: spec.sample_rate,
            truncated,
        })
    }

    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels
    }

    /// Duration, seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.rate)
    }
}

/// Checks a `--speed` value.
pub fn check_speed(speed: f64) -> Result<f64, PlayError> {
    if speed.is_finite() && (MIN_SPEED - 1e-9..=MAX_SPEED + 1e-9).contains(&speed) {
        Ok(speed.clamp(MIN_SPEED, MAX_SPEED))
    } else {
        Err(PlayError::Usage(format!(
            "--speed {speed}: give a speed from {MIN_SPEED} to {MAX_SPEED} (the pitch is kept)"
        )))
    }
}

/// The sans-IO playback core: position, speed, and the time-stretch. Each
/// [`next`](Player::next) gives the next block of output at the
/// recording's rate.
#[derive(Debug)]
pub struct Player {
    rec: Recording,
    /// The channels summed, for the stretch's search (empty when mono).
    mono: Vec<f32>,
    pos: f64,
    speed: f64,
    ws: Wsola,
    buf: Vec<f32>,
}

impl Player {
    /// A player at `start_s` (which must lie inside the recording) and
    /// `speed` (0.2..1.0).
    pub fn new(rec: Recording, speed: f64, start_s: f64) -> Result<Player, PlayError> {
        let speed = check_speed(speed)?;
        if !start_s.is_finite() || start_s < 0.0 || start_s >= rec.duration_s() {
            return Err(PlayError::Usage(format!(
                "--start {start_s}: the recording lasts {:.1} s",
                rec.duration_s()
            )));
        }
        let ws = Wsola::new(rec.rate, rec.channels);
        let buf = vec![0.0; ws.hop() * rec.channels];
        let mono = if rec.channels > 1 {
            crate::stretch::mono_mix(&rec.samples, rec.channels)
        } else {
            Vec::new()
        };
        Ok(Player {
            mono,
            pos: start_s * f64::from(rec.rate),
            rec,
            speed,
            ws,
            buf,
        })
    }

    /// Output channels (1 or 2).
    pub fn channels(&self) -> usize {
        self.rec.channels
    }

    /// Rate of the output blocks (the recording's), Hz.
    pub fn rate(&self) -> u32 {
        self.rec.rate
    }

    /// Frames per block.
    pub fn hop(&self) -> usize {
        self.ws.hop()
    }

    /// The recording's length, seconds.
    pub fn duration_s(&self) -> f64 {
        self.rec.duration_s()
    }

    /// Where playback is in the recording, seconds.
    pub fn position_s(&self) -> f64 {
        (self.pos / f64::from(self.rec.rate)).min(self.duration_s())
    }

    /// The speed.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Changes the speed (kept within 0.2..1.0); returns the new one.
    pub fn set_speed(&mut self, speed: f64) -> f64 {
        if speed.is_finite() {
            // 0.1 steps land on tenths
            self.speed = ((speed * 100.0).round() / 100.0).clamp(MIN_SPEED, MAX_SPEED);
        }
        self.speed
    }

    /// Jumps to `secs` (clamped into the recording).
    pub fn seek_to(&mut self, secs: f64) {
        if !secs.is_finite() {
            return;
        }
        let last = (self.rec.frames().saturating_sub(1)) as f64;
        self.pos = (secs * f64::from(self.rec.rate)).clamp(0.0, last);
        self.ws.reset();
    }

    /// Jumps by `delta` seconds (negative = back).
    pub fn seek_by(&mut self, delta: f64) {
        self.seek_to(self.position_s() + delta);
    }

    /// The next block ([`hop`](Self::hop) frames, interleaved), or None at
    /// the end of the recording.
    pub fn next_block(&mut self) -> Option<&[f32]> {
        if self.pos >= self.rec.frames() as f64 {
            return None;
        }
        let mono = if self.mono.is_empty() {
            &self.rec.samples
        } else {
            &self.mono
        };
        self.ws.step(
            &self.rec.samples,
            mono,
            self.pos.round() as isize,
            &mut self.buf,
        );
        self.pos += self.ws.hop() as f64 * self.speed;
        Some(&self.buf)
    }
}

/// Renders the whole rest of the recording into `out` (16-bit WAV at the
/// recording's rate, 1 or 2 channels); returns the frames written.
pub fn render_wav(player: &mut Player, out: &Path) -> Result<u64, PlayError> {
    let werr = |e: hound::Error| PlayError::Output {
        path: out.to_path_buf(),
        reason: e.to_string(),
    };
    let ch = player.channels();
    let mut w = hound::WavWriter::create(
        out,
        hound::WavSpec {
            channels: ch as u16,
            sample_rate: player.rate(),
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .map_err(werr)?;
    let mut frames = 0u64;
    while let Some(block) = player.next_block() {
        for s in block {
            w.write_sample((s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
                .map_err(werr)?;
        }
        frames += (block.len() / ch) as u64;
    }
    w.finalize().map_err(werr)?;
    Ok(frames)
}

/// What the keys ask of a device playback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayCommand {
    /// Pause or go on.
    TogglePause,
    /// Seek by this many seconds.
    Seek(f64),
    /// Change the speed by this much.
    Speed(f64),
    /// Stop.
    Quit,
}

/// The playback's state, shared with the key/status thread (atomics only).
#[derive(Debug, Default)]
pub struct PlayStatus {
    /// Position, ms.
    pub position_ms: AtomicU64,
    /// Speed × 100.
    pub speed_pct: AtomicU32,
    /// Paused (the device callback plays silence).
    pub paused: AtomicBool,
    /// Output samples that found the ring empty.
    pub underruns: AtomicU64,
    /// Playback ended (end of file, quit or error).
    pub done: AtomicBool,
}

/// Maps one ring frame (`ch` = 1 or 2) onto a device frame.
fn put_frame<T: Copy>(out: &mut [T], l: f32, r: f32, ch: usize, conv: impl Fn(f32) -> T) {
    match (out.len(), ch) {
        (1, 1) => out[0] = conv(l),
        (1, _) => out[0] = conv(0.5 * (l + r)),
        (_, 1) => out.fill(conv(l)),
        _ => {
            out.fill(conv(0.0));
            out[0] = conv(l);
            out[1] = conv(r);
        }
    }
}

/// The device callback: pops one ring frame per device frame; silence
/// when paused or when the ring runs dry. No lock, no allocation.
fn fill<T: Copy>(
    data: &mut [T],
    och: usize,
    ring: &mut rtrb::Consumer<f32>,
    ch: usize,
    st: &PlayStatus,
    conv: impl Fn(f32) -> T + Copy,
) {
    let paused = st.paused.load(Ordering::Relaxed);
    let mut dry = 0u64;
    for frame in data.chunks_mut(och.max(1)) {
        if paused || ring.slots() < ch {
            if !paused {
                dry += 1;
            }
            put_frame(frame, 0.0, 0.0, ch, conv);
            continue;
        }
        let l = ring.pop().unwrap_or(0.0);
        let r = if ch > 1 { ring.pop().unwrap_or(0.0) } else { l };
        put_frame(frame, l, r, ch, conv);
    }
    if dry > 0 {
        st.underruns.fetch_add(dry, Ordering::Relaxed);
    }
}

/// Plays `player` on the output device (`output` as for the phone's
/// `--output`; None = default) until the end or [`PlayCommand::Quit`].
/// Runs the feeder on the calling thread; `status` is updated for the keys
/// thread and `done` set at the end.
pub fn play_device(
    mut player: Player,
    output: Option<&str>,
    commands: mpsc::Receiver<PlayCommand>,
    status: Arc<PlayStatus>,
) -> Result<(), PlayError> {
    let r = feed_device(&mut player, output, commands, &status);
    status.done.store(true, Ordering::Relaxed);
    r
}

fn feed_device(
    player: &mut Player,
    output: Option<&str>,
    commands: mpsc::Receiver<PlayCommand>,
    status: &Arc<PlayStatus>,
) -> Result<(), PlayError> {
    let dev = crate::device::output_device(output)?;
    let dev_name = dev
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| "output".into());
    let dev_err = |e: &dyn std::fmt::Display| {
        PlayError::Audio(AudioError::Device {
            device: dev_name.clone(),
            reason: e.to_string(),
        })
    };
    let cfg = dev.default_output_config().map_err(|e| dev_err(&e))?;
    let rate = cfg.sample_rate();
    let och = usize::from(cfg.channels());
    let ch = player.channels();
    // 150 ms of audio between the feeder and the callback
    let cap = ((rate as usize * 150 / 1000).max(1024)) * ch;
    let (mut prod, mut cons) = rtrb::RingBuffer::<f32>::new(cap);
    let st = status.clone();
    let on_err = |e: cpal::Error| tracing::warn!(error = %e, "output device error");
    let stream = match cfg.sample_format() {
        cpal::SampleFormat::F32 => dev.build_output_stream(
            cfg.config(),
            move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                fill(data, och, &mut cons, ch, &st, |v| v)
            },
            on_err,
            None,
        ),
        cpal::SampleFormat::I16 => dev.build_output_stream(
            cfg.config(),
            move |data: &mut [i16], _: &cpal::OutputCallbackInfo| {
                fill(data, och, &mut cons, ch, &st, |v| {
                    (v * 32767.0).clamp(-32768.0, 32767.0) as i16
                })
            },
            on_err,
            None,
        ),
        f => {
            return Err(dev_err(&format!(
                "sample format {f} not supported (f32 or i16)"
            )))
        }
    }
    .map_err(|e| dev_err(&e))?;
    stream.play().map_err(|e| dev_err(&e))?;

    let mut rs = if rate == player.rate() {
        None
    } else {
        Some(
            Fft::<f32>::new(
                player.rate() as usize,
                rate as usize,
                player.hop(),
                ch,
                FixedSync::Input,
            )
            .map_err(|e| dev_err(&format!("cannot resample to {rate} Hz: {e}")))?,
        )
    };
    let out_max = rs.as_ref().map(|r| r.output_frames_max()).unwrap_or(0);
    let mut rs_out = vec![0.0f32; out_max.max(1) * ch];
    let mut staging: Vec<f32> = Vec::with_capacity(8 * player.hop() * ch);
    let need_room = (out_max.max(player.hop()) * ch).max(1);
    status
        .speed_pct
        .store((player.speed() * 100.0).round() as u32, Ordering::Relaxed);
    loop {
        while let Ok(c) = commands.try_recv() {
            match c {
                PlayCommand::Quit => return Ok(()),
                PlayCommand::TogglePause => {
                    status.paused.fetch_xor(true, Ordering::Relaxed);
                }
                PlayCommand::Seek(d) => {
                    player.seek_by(d);
                    staging.clear();
                }
                PlayCommand::Speed(d) => {
                    let s = player.set_speed(player.speed() + d);
                    status
                        .speed_pct
                        .store((s * 100.0).round() as u32, Ordering::Relaxed);
                }
            }
        }
        status
            .position_ms
            .store((player.position_s() * 1000.0) as u64, Ordering::Relaxed);
        if status.paused.load(Ordering::Relaxed) || prod.slots() < need_room {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let Some(block) = player.next_block() else {
            break;
        };
        match rs.as_mut() {
            None => {
                for v in block {
                    let _ = prod.push(*v);
                }
            }
            Some(rs) => {
                staging.extend_from_slice(block);
                loop {
                    let n_in = rs.input_frames_next();
                    if staging.len() < n_in * ch {
                        break;
                    }
                    let cap_out = rs_out.len() / ch;
                    let (Ok(i), Ok(mut o)) = (
                        InterleavedSlice::new(&staging[..n_in * ch], ch, n_in),
                        InterleavedSlice::new_mut(&mut rs_out, ch, cap_out),
                    ) else {
                        break;
                    };
                    let n_out = match rs.process_into_buffer(&i, &mut o, None) {
                        Ok((_, n)) => n,
                        Err(e) => return Err(dev_err(&format!("resampler: {e}"))),
                    };
                    for v in &rs_out[..n_out * ch] {
                        let _ = prod.push(*v);
                    }
                    staging.drain(..n_in * ch);
                }
            }
        }
    }
    // let the device play what is queued
    let end = Instant::now() + Duration::from_secs(2);
    while prod.slots() < cap && Instant::now() < end {
        if let Ok(PlayCommand::Quit) = commands.try_recv() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    status
        .position_ms
        .store((player.duration_s() * 1000.0) as u64, Ordering::Relaxed);
    drop(stream);
    Ok(())
}

/// The status line shown while playing on a terminal.
pub fn status_line(st: &PlayStatus, duration_s: f64, channel: Channel) -> String {
    let pos = st.position_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    let clock = |s: f64| format!("{:02}:{:04.1}", (s / 60.0) as u64, s % 60.0);
    format!(
        "{} / {}  speed {:.1}x  channel {}{}   [space pause, <-/-> 5 s, +/- speed, q quit]",
        clock(pos),
        clock(duration_s),
        f64::from(st.speed_pct.load(Ordering::Relaxed)) / 100.0,
        channel.name(),
        if st.paused.load(Ordering::Relaxed) {
            "  PAUSED"
        } else {
            ""
        }
    )
}

/// Options of `hotline-phone play`.
#[derive(Clone, Debug)]
pub struct PlayOptions {
    /// The recording.
    pub file: PathBuf,
    /// Which side to hear.
    pub channel: Channel,
    /// 0.2..1.0.
    pub speed: f64,
    /// Where to start, seconds.
    pub start_s: f64,
    /// Output device (None = default).
    pub output: Option<String>,
    /// Render to this WAV instead of a device.
    pub output_wav: Option<PathBuf>,
}

/// Runs `hotline-phone play`: renders to `--output-wav`, or plays on the
/// device with keys when stdin and stdout are a terminal. Returns the
/// summary line.
pub fn run(o: PlayOptions) -> Result<String, PlayError> {
    let speed = check_speed(o.speed)?;
    let rec = Recording::read(&o.file, o.channel)?;
    let truncated = if rec.truncated {
        " (the file ends before its header says: played what is there)"
    } else {
        ""
    };
    let mut player = Player::new(rec, speed, o.start_s)?;
    let duration = player.duration_s();
    if let Some(out) = &o.output_wav {
        let frames = render_wav(&mut player, out)?;
        return Ok(format!(
            "rendered {} ({:.1} s, channel {}, speed {speed}) to {} ({:.1} s){truncated}",
            o.file.display(),
            duration,
            o.channel.name(),
            out.display(),
            frames as f64 / f64::from(player.rate()),
        ));
    }
    let status = Arc::new(PlayStatus::default());
    let (tx, rx) = mpsc::channel();
    let st = status.clone();
    let output = o.output.clone();
    let feeder = std::thread::Builder::new()
        .name("play-feeder".into())
        .spawn(move || play_device(player, output.as_deref(), rx, st))
        .map_err(|e| PlayError::Terminal(format!("cannot start the player thread: {e}")))?;
    use std::io::IsTerminal;
    let keys = if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        interactive(&status, &tx, duration, o.channel)
    } else {
        while !status.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    };
    let _ = tx.send(PlayCommand::Quit);
    let played = feeder
        .join()
        .map_err(|_| PlayError::Terminal("the player thread panicked".into()))?;
    played?;
    keys?;
    Ok(format!(
        "played {} ({:.1} s, channel {}){truncated}; device underruns {}",
        o.file.display(),
        duration,
        o.channel.name(),
        status.underruns.load(Ordering::Relaxed)
    ))
}

/// The keys and the status line, in raw mode (restored on the way out).
fn interactive(
    status: &PlayStatus,
    tx: &mpsc::Sender<PlayCommand>,
    duration: f64,
    channel: Channel,
) -> Result<(), PlayError> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    use ratatui::crossterm::terminal;
    use std::io::Write;
    let term = |e: std::io::Error| PlayError::Terminal(e.to_string());
    terminal::enable_raw_mode().map_err(term)?;
    let r = (|| -> std::io::Result<()> {
        let mut out = std::io::stdout();
        while !status.done.load(Ordering::Relaxed) {
            write!(out, "\r{}\x1b[K", status_line(status, duration, channel))?;
            out.flush()?;
            if !event::poll(Duration::from_millis(100))? {
                continue;
            }
            let Event::Key(k) = event::read()? else {
                continue;
            };
            if k.kind != KeyEventKind::Press {
                continue;
            }
            let c = match k.code {
                KeyCode::Char(' ') => PlayCommand::TogglePause,
                KeyCode::Left => PlayCommand::Seek(-SEEK_STEP_S),
                KeyCode::Right => PlayCommand::Seek(SEEK_STEP_S),
                KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Up => {
                    PlayCommand::Speed(SPEED_STEP)
                }
                KeyCode::Char('-') | KeyCode::Down => PlayCommand::Speed(-SPEED_STEP),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    PlayCommand::Quit
                }
                KeyCode::Char('q') | KeyCode::Esc => PlayCommand::Quit,
                _ => continue,
            };
            if tx.send(c).is_err() || c == PlayCommand::Quit {
                break;
            }
        }
        write!(out, "\r\x1b[K")?;
        out.flush()
    })();
    let restored = terminal::disable_raw_mode();
    r.map_err(term)?;
    restored.map_err(term)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stretch::zero_crossing_hz;

    fn write_stereo(path: &Path, rate: u32, secs: f64, left_hz: f64, right_hz: f64) {
        let mut w = hound::WavWriter::create(
            path,
            hound::WavSpec {
                channels: 2,
                sample_rate: rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )
        .unwrap();
        for i in 0..(f64::from(rate) * secs) as usize {
            let t = i as f64 / f64::from(rate);
            for hz in [left_hz, right_hz] {
                let v = if hz > 0.0 {
                    (12000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
                } else {
                    0
                };
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    fn read_all(path: &Path) -> (hound::WavSpec, Vec<f32>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let s = r
            .samples::<i16>()
            .map(|v| f32::from(v.unwrap()) / 32768.0)
            .collect();
        (spec, s)
    }

    #[test]
    fn a_440_hz_tone_at_half_speed_lasts_twice_as_long_and_stays_440_hz() {
        let dir = tempfile::tempdir().unwrap();
        let (inp, out) = (dir.path().join("rec.wav"), dir.path().join("out.wav"));
        write_stereo(&inp, 8000, 3.0, 440.0, 0.0);
        let rec = Recording::read(&inp, Channel::Caller).unwrap();
        let mut p = Player::new(rec, 0.5, 0.0).unwrap();
        render_wav(&mut p, &out).unwrap();
        let (spec, s) = read_all(&out);
        assert_eq!((spec.channels, spec.sample_rate), (1, 8000));
        let secs = s.len() as f64 / 8000.0;
        assert!((secs - 6.0).abs() < 0.06, "{secs} s");
        let hz = zero_crossing_hz(&s[400..s.len() - 400], 8000);
        assert!((hz - 440.0).abs() < 4.4, "{hz} Hz");
    }

    #[test]
    fn channel_agent_gives_the_right_channel_only() {
        let dir = tempfile::tempdir().unwrap();
        let (inp, out) = (dir.path().join("rec.wav"), dir.path().join("out.wav"));
        write_stereo(&inp, 8000, 1.0, 440.0, 1000.0);
        let mut p = Player::new(Recording::read(&inp, Channel::Agent).unwrap(), 1.0, 0.0).unwrap();
        render_wav(&mut p, &out).unwrap();
        let (spec, s) = read_all(&out);
        assert_eq!(spec.channels, 1);
        let hz = zero_crossing_hz(&s[200..s.len() - 200], 8000);
        assert!((hz - 1000.0).abs() < 10.0, "{hz} Hz: not the agent's tone");
        // both: stereo, caller left, agent right
        let mut p = Player::new(Recording::read(&inp, Channel::Both).unwrap(), 1.0, 0.5).unwrap();
        render_wav(&mut p, &out).unwrap();
        let (spec, s) = read_all(&out);
        assert_eq!(spec.channels, 2);
        assert!(
            (s.len() as f64 / 2.0 / 8000.0 - 0.5).abs() < 0.03,
            "--start 0.5"
        );
        let l: Vec<f32> = s.chunks(2).map(|f| f[0]).collect();
        let r: Vec<f32> = s.chunks(2).map(|f| f[1]).collect();
        assert!((zero_crossing_hz(&l[200..3600], 8000) - 440.0).abs() < 4.4);
        assert!((zero_crossing_hz(&r[200..3600], 8000) - 1000.0).abs() < 10.0);
    }

    #[test]
    fn malformed_huge_and_non_wav_input_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let msg = |path: &Path| Recording::read(path, Channel::Both).unwrap_err();
        // missing
        let e = msg(&dir.path().join("missing.wav"));
        assert_eq!(e.exit_code(), 65);
        // not a WAV
        std::fs::write(&p, b"<html>not audio</html>").unwrap();
        assert!(
            msg(&p).to_string().contains("not a readable WAV"),
            "{}",
            msg(&p)
        );
        // empty, a directory
        std::fs::write(&p, b"").unwrap();
        assert!(msg(&p).to_string().contains("not a readable WAV"));
        assert!(msg(dir.path()).to_string().contains("not a regular file"));
        // a header declaring 4 GB of data in a 100-byte file
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // PCM
        h.extend_from_slice(&2u16.to_le_bytes()); // stereo
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&32000u32.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&(u32::MAX - 3).to_le_bytes());
        h.extend_from_slice(&[0u8; 56]);
        std::fs::write(&p, &h).unwrap();
        let e = msg(&p).to_string();
        assert!(e.contains("longer than this player holds"), "{e}");
        // a plausible header with a cut body: played as far as it goes
        let data = 8000u32 * 4;
        h[40..44].copy_from_slice(&data.to_le_bytes());
        h.truncate(44);
        h.extend(std::iter::repeat_n(0u8, 1000 * 4 + 2));
        std::fs::write(&p, &h).unwrap();
        let r = Recording::read(&p, Channel::Both).unwrap();
        assert!(r.truncated && r.frames() == 1000, "{} frames", r.frames());
        // 6 channels, 96 kHz
        for (ch, rate) in [(6u16, 8000u32), (2, 96_000)] {
            let mut w = hound::WavWriter::create(
                &p,
                hound::WavSpec {
                    channels: ch,
                    sample_rate: rate,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                },
            )
            .unwrap();
            for _ in 0..ch {
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
            let e = msg(&p).to_string();
            assert!(e.contains("channels") || e.contains("Hz"), "{e}");
        }
        // bad options
        write_stereo(&p, 8000, 1.0, 440.0, 0.0);
        let rec = Recording::read(&p, Channel::Both).unwrap();
        for (speed, start) in [
            (0.1, 0.0),
            (1.5, 0.0),
            (f64::NAN, 0.0),
            (0.5, 2.0),
            (0.5, -1.0),
        ] {
            let e = Player::new(rec.clone(), speed, start).unwrap_err();
            assert_eq!(e.exit_code(), 64, "{e}");
        }
    }

    #[test]
    fn keys_seek_and_change_speed_within_bounds() {
        let rec = Recording {
            samples: vec![0.0; 8000 * 20],
            channels: 1,
            rate: 8000,
            truncated: false,
        };
        let mut p = Player::new(rec, 1.0, 10.0).unwrap();
        p.seek_by(SEEK_STEP_S);
        assert!((p.position_s() - 15.0).abs() < 1e-6);
        p.seek_by(-100.0);
        assert_eq!(p.position_s(), 0.0);
        p.seek_by(100.0);
        assert!(p.position_s() < 20.0);
        assert_eq!(p.set_speed(p.speed() + SPEED_STEP), 1.0);
        let mut s = 1.0;
        for _ in 0..10 {
            s = p.set_speed(s - SPEED_STEP);
        }
        assert_eq!(s, MIN_SPEED);
        let st = PlayStatus::default();
        st.speed_pct.store(50, Ordering::Relaxed);
        st.position_ms.store(65_500, Ordering::Relaxed);
        st.paused.store(true, Ordering::Relaxed);
        let line = status_line(&st, 90.0, Channel::Agent);
        assert!(
            line.contains("01:05.5 / 01:30.0") && line.contains("0.5x") && line.contains("PAUSED"),
            "{line}"
        );
    }

    #[test]
    fn the_device_callback_maps_frames_and_plays_silence_when_paused() {
        let (mut prod, mut cons) = rtrb::RingBuffer::<f32>::new(64);
        for v in [0.1, 0.2, 0.3, 0.4] {
            prod.push(v).unwrap();
        }
        let st = PlayStatus::default();
        let mut out = [9.0f32; 6];
        // stereo ring onto a 3-channel device, then dry
        fill(&mut out[..], 3, &mut cons, 2, &st, |v| v);
        assert_eq!(out, [0.1, 0.2, 0.0, 0.3, 0.4, 0.0]);
        st.paused.store(true, Ordering::Relaxed);
        prod.push(0.5).unwrap();
        prod.push(0.6).unwrap();
        let mut mono = [9i16; 2];
        fill(&mut mono[..], 1, &mut cons, 2, &st, |v| (v * 100.0) as i16);
        assert_eq!(mono, [0, 0]);
        assert_eq!(cons.slots(), 2, "nothing consumed while paused");
        st.paused.store(false, Ordering::Relaxed);
        fill(&mut mono[..], 1, &mut cons, 2, &st, |v| (v * 100.0) as i16);
        assert_eq!(mono[0], 55);
        assert_eq!(st.underruns.load(Ordering::Relaxed), 1);
    }
}
