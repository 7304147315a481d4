//! Audio endpoints for the bridge: a sound device through cpal, or WAV files
//! paced by a clock (`--input-wav` / `--output-wav`). Both feed the same
//! rings ([`crate::bridge::playback_ring`], [`crate::bridge::capture_ring`]).

use crate::bridge::{CaptureEnd, PlaybackEnd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors of the audio endpoints.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input WAV cannot be read.
    #[error("cannot read input WAV {path}: {reason}")]
    InputWav {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output WAV cannot be created or written.
    #[error("cannot write output WAV {path}: {reason}")]
    OutputWav {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No sound device matches, or none exists.
    #[error("{0}")]
    NoDevice(String),
    /// The device refused a stream.
    #[error("audio device {device}: {reason}")]
    Device {
        /// Device name.
        device: String,
        /// What cpal said.
        reason: String,
    },
}

/// Mono samples of a WAV file and its rate.
#[derive(Clone, Debug)]
pub struct WavInput {
    /// Samples in -1..1, channels mixed down.
    pub samples: Vec<f32>,
    /// Sample rate, Hz.
    pub rate: u32,
}

/// Longest input WAV accepted, seconds.
pub const MAX_INPUT_SECONDS: u32 = 3600;

impl WavInput {
    /// Reads a whole WAV file (8/16/24/32-bit integer or 32-bit float).
    pub fn read(path: &Path) -> Result<WavInput, AudioError> {
        let err = |reason: String| AudioError::InputWav {
            path: path.to_path_buf(),
            reason,
        };
        let mut r = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
        let spec = r.spec();
        if spec.channels == 0 || !(4000..=192_000).contains(&spec.sample_rate) {
            return Err(err(format!(
                "{} channels at {} Hz is not usable",
                spec.channels, spec.sample_rate
            )));
        }
        if r.duration() / spec.sample_rate > MAX_INPUT_SECONDS {
            return Err(err(format!("longer than {MAX_INPUT_SECONDS} s")));
        }
        let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => r.samples::<f32>().collect::<Result<_, _>>(),
            (hound::SampleFormat::Int, b @ (8 | 16 | 24 | 32)) => {
                let scale = (1u64 << (b - 1)) as f32;
                r.samples::<i32>()
                    .map(|s| s.map(|v| v as f32 / scale))
                    .collect::<Result<_, _>>()
            }
            (f, b) => return Err(err(format!("{b}-bit {f:?} samples are not supported"))),
        }
        .map_err(|e| err(e.to_string()))?;
        let ch = usize::from(spec.channels);
        let samples: Vec<f32> = interleaved
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect();
        if samples.is_empty() {
            return Err(err("no samples".into()));
        }
        Ok(WavInput {
            samples,
            rate: spec.sample_rate,
        })
    }
}

/// Counters shared with a running endpoint.
#[derive(Debug, Default)]
pub struct EndpointStats {
    /// Output samples played (or written).
    pub played: AtomicU64,
    /// Output samples that found the ring empty (silence played).
    pub underruns: AtomicU64,
    /// Input samples dropped because the capture ring was full.
    pub overruns: AtomicU64,
    /// Stream errors reported by the device (unplugged, ...).
    pub errors: AtomicU64,
}

/// Fills `out` from the playback ring, silence where it is empty; never
/// blocks or allocates (used inside device callbacks).
pub fn fill_output(
    ring: &mut PlaybackEnd,
    out: &mut [f32],
    channels: usize,
    stats: &EndpointStats,
) {
    let mut missing = 0u64;
    for frame in out.chunks_mut(channels.max(1)) {
        let v = match ring.pop() {
            Ok(v) => v,
            Err(_) => {
                missing += 1;
                0.0
            }
        };
        frame.fill(v);
    }
    stats
        .played
        .fetch_add((out.len() / channels.max(1)) as u64, Ordering::Relaxed);
    if missing > 0 {
        stats.underruns.fetch_add(missing, Ordering::Relaxed);
    }
}

/// Pushes `input` (interleaved) into the capture ring, mixed down to mono;
/// drops what does not fit; never blocks or allocates.
pub fn take_input(ring: &mut CaptureEnd, input: &[f32], channels: usize, stats: &EndpointStats) {
    let ch = channels.max(1);
    let mut dropped = 0u64;
    for frame in input.chunks(ch) {
        let v = frame.iter().sum::<f32>() / ch as f32;
        if ring.push(v).is_err() {
            dropped += 1;
        }
    }
    if dropped > 0 {
        stats.overruns.fetch_add(dropped, Ordering::Relaxed);
    }
}

/// A clock-paced stand-in for a sound device: every 20 ms (by the system
/// clock, never by a device) it pushes the next 20 ms of the input WAV
/// (looped) into the capture ring and writes 20 ms from the playback ring to
/// the output WAV.
pub struct WavEndpoint {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), AudioError>>>,
    /// Counters.
    pub stats: Arc<EndpointStats>,
}

impl std::fmt::Debug for WavEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavEndpoint").finish_non_exhaustive()
    }
}

impl WavEndpoint {
    /// Starts the paced thread. `output` is the file and its rate; the
    /// capture rate is the input's.
    pub fn start(
        input: Option<WavInput>,
        output: Option<(PathBuf, u32)>,
        mut capture: CaptureEnd,
        mut playback: PlaybackEnd,
    ) -> Result<WavEndpoint, AudioError> {
        let mut writer = match &output {
            Some((path, rate)) => Some(
                hound::WavWriter::create(
                    path,
                    hound::WavSpec {
                        channels: 1,
                        sample_rate: *rate,
                        bits_per_sample: 16,
                        sample_format: hound::SampleFormat::Int,
                    },
                )
                .map_err(|e| AudioError::OutputWav {
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
            ),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(EndpointStats::default());
        let (stop2, stats2) = (stop.clone(), stats.clone());
        let out_rate = output.as_ref().map(|o| o.1).unwrap_or(8000);
        let out_path = output.map(|o| o.0).unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name("wav-audio".into())
            .spawn(move || {
                let werr = |e: hound::Error| AudioError::OutputWav {
                    path: out_path.clone(),
                    reason: e.to_string(),
                };
                let start = Instant::now();
                let mut tick: u64 = 0;
                let mut in_pos = 0usize;
                let mut buf = vec![0.0f32; out_rate as usize / 50 + 1];
                let mut last_flush = Instant::now();
                while !stop2.load(Ordering::Relaxed) {
                    tick += 1;
                    let deadline = start + Duration::from_millis(20 * tick);
                    if let Some(d) = deadline.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                    if let Some(inp) = &input {
                        // samples due by this tick (exact for rates not divisible by 50)
                        let due = (u64::from(inp.rate) * tick / 50
                            - u64::from(inp.rate) * (tick - 1) / 50)
                            as usize;
                        let mut dropped = 0;
                        for _ in 0..due {
                            if capture.push(inp.samples[in_pos]).is_err() {
                                dropped += 1;
                            }
                            in_pos = (in_pos + 1) % inp.samples.len();
                        }
                        stats2.overruns.fetch_add(dropped, Ordering::Relaxed);
                    }
                    let due = (u64::from(out_rate) * tick / 50
                        - u64::from(out_rate) * (tick - 1) / 50)
                        as usize;
                    fill_output(&mut playback, &mut buf[..due], 1, &stats2);
                    if let Some(w) = writer.as_mut() {
                        for s in &buf[..due] {
                            w.write_sample((s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
                                .map_err(werr)?;
                        }
                        if last_flush.elapsed() >= Duration::from_secs(1) {
                            w.flush().map_err(werr)?;
                            last_flush = Instant::now();
                        }
                    }
                }
                if let Some(w) = writer {
                    w.finalize().map_err(werr)?;
                }
                Ok(())
            })
            .map_err(|e| AudioError::OutputWav {
                path: PathBuf::new(),
                reason: format!("cannot start the audio thread: {e}"),
            })?;
        Ok(WavEndpoint {
            stop,
            thread: Some(thread),
            stats,
        })
    }

    /// Stops the clock and finalizes the output WAV.
    pub fn finish(mut self) -> Result<(), AudioError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(AudioError::OutputWav {
                path: PathBuf::new(),
                reason: "the audio thread panicked".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for WavEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{capture_ring, playback_ring};

    #[test]
    fn a_missing_input_wav_is_a_clear_error() {
        let e = WavInput::read(Path::new("/nonexistent/tone.wav"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/tone.wav"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.wav");
        std::fs::write(&p, b"not a wav").unwrap();
        assert!(WavInput::read(&p).is_err());
    }

    #[test]
    fn the_wav_endpoint_is_paced_by_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wav");
        let (mut prod, cons) = playback_ring(16000);
        let (cap, mut capc) = capture_ring(8000);
        for i in 0..16000 {
            let _ = prod.push(if i % 2 == 0 { 0.5 } else { -0.5 });
        }
        let input = WavInput {
            samples: vec![0.25; 800],
            rate: 8000,
        };
        let ep = WavEndpoint::start(Some(input), Some((out.clone(), 16000)), cap, cons).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut got = 0;
        while capc.pop().is_ok() {
            got += 1;
        }
        ep.finish().unwrap();
        // 300 ms at 8 kHz ≈ 2400 samples, not millions: a clock, not a spin
        assert!((1600..=3200).contains(&got), "{got}");
        let r = hound::WavReader::open(&out).unwrap();
        assert_eq!(r.spec().sample_rate, 16000);
        assert!((3200..=6400).contains(&r.duration()), "{}", r.duration());
    }
}
