//! Prompts: audio the engine plays to callers (greeting, music on hold).
//!
//! A prompt is loaded once at start from a WAV file of any common format,
//! mixed down to mono, resampled to 8 kHz with `rubato` when needed, and
//! encoded to both G.711 laws so playback only copies bytes.

use crate::Codec;
use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest prompt accepted, seconds (a guard against a wrong file).
pub const MAX_PROMPT_SECONDS: u32 = 600;

/// Why a prompt could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The file cannot be opened or is not a WAV file.
    #[error("{path}: not a readable WAV file: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What hound said.
        #[source]
        source: hound::Error,
    },
    /// The WAV format is not one we convert.
    #[error("{path}: unsupported WAV format: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        reason: String,
    },
    /// The file holds no audio.
    #[error("{0}: the WAV file holds no audio")]
    Empty(PathBuf),
    /// The file is longer than [`MAX_PROMPT_SECONDS`].
    #[error("{path}: {seconds} s is longer than the {MAX_PROMPT_SECONDS} s a prompt may last")]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Its length.
        seconds: u64,
    },
    /// Resampling failed.
    #[error("{path}: resampling to 8 kHz failed: {reason}")]
    Resample {
        /// The file.
        path: PathBuf,
        /// What rubato said.
        reason: String,
    },
}

/// A prompt ready to play: 8 kHz mono, pre-encoded. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Prompt {
    name: Arc<str>,
    samples: Arc<[i16]>,
    pcmu: Arc<[u8]>,
    pcma: Arc<[u8]>,
}

impl Prompt {
    /// Builds a prompt from 8 kHz mono samples.
    pub fn from_samples(name: &str, samples: Vec<i16>) -> Prompt {
        let mut pcmu = vec![0u8; samples.len()];
        let mut pcma = vec![0u8; samples.len()];
        Codec::Pcmu.encode(&samples, &mut pcmu);
        Codec::Pcma.encode(&samples, &mut pcma);
        Prompt {
            name: name.into(),
            samples: samples.into(),
            pcmu: pcmu.into(),
            pcma: pcma.into(),
        }
    }

    /// A sine tone of `freq_hz` lasting `duration_ms` at `amplitude` (0..=32767).
    pub fn tone(name: &str, freq_hz: f64, duration_ms: u32, amplitude: i16) -> Prompt {
        let n = duration_ms as usize * 8;
        let samples = (0..n)
            .map(|i| {
                let t = i as f64 / 8000.0;
                (f64::from(amplitude) * (2.0 * std::f64::consts::PI * freq_hz * t).sin()).round()
                    as i16
            })
            .collect();
        Prompt::from_samples(name, samples)
    }

    /// Loads a WAV file (8/16/24/32-bit integer or 32-bit float, any rate, any
    /// channel count) and converts it to 8 kHz mono G.711.
    pub fn load_wav(name: &str, path: &Path) -> Result<Prompt, PromptError> {
        let read_err = |source| PromptError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = hound::WavReader::open(path).map_err(read_err)?;
        let spec = reader.spec();
        let unsupported = |reason: String| PromptError::Unsupported {
            path: path.to_path_buf(),
            reason,
        };
        if spec.channels == 0 || spec.channels > 8 {
            return Err(unsupported(format!("{} channels", spec.channels)));
        }
        if !(4000..=192_000).contains(&spec.sample_rate) {
            return Err(unsupported(format!("sample rate {} Hz", spec.sample_rate)));
        }
        let frames = u64::from(reader.duration());
        let seconds = frames / u64::from(spec.sample_rate);
        if seconds > u64::from(MAX_PROMPT_SECONDS) {
            return Err(PromptError::TooLong {
                path: path.to_path_buf(),
                seconds,
            });
        }
        let interleaved: Vec<f64> = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => reader
                .samples::<f32>()
                .map(|s| s.map(f64::from))
                .collect::<Result<_, _>>(),
            (hound::SampleFormat::Int, b @ (8 | 16 | 24 | 32)) => {
                let scale = f64::from(1u32 << (b - 1));
                reader
                    .samples::<i32>()
                    .map(|s| s.map(|v| f64::from(v) / scale))
                    .collect::<Result<_, _>>()
            }
            (f, b) => return Err(unsupported(format!("{b}-bit {f:?} samples"))),
        }
        .map_err(read_err)?;
        let ch = usize::from(spec.channels);
        let mono: Vec<f64> = interleaved
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f64>() / ch as f64)
            .collect();
        if mono.is_empty() {
            return Err(PromptError::Empty(path.to_path_buf()));
        }
        let mono = if spec.sample_rate == 8000 {
            mono
        } else {
            resample(&mono, spec.sample_rate as usize, path)?
        };
        let samples = mono
            .iter()
            .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        Ok(Prompt::from_samples(name, samples))
    }

    /// The prompt's name (for events and logs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 8 kHz linear samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The prompt encoded in `codec`, one byte per sample.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// Length, ms.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / 8
    }
}

fn resample(mono: &[f64], rate_in: usize, path: &Path) -> Result<Vec<f64>, PromptError> {
    let err = |e: &dyn std::fmt::Display| PromptError::Resample {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut rs = Fft::<f64>::new(rate_in, 8000, 1024, 1, FixedSync::Both).map_err(|e| err(&e))?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| err(&e))?;
    let out = rs
        .process_all(&input, mono.len(), None)
        .map_err(|e| err(&e))?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, freq: f64, secs: f64) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(f64::from(rate) * secs) as usize {
            let v = (12000.0
                * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                as i16;
            for _ in 0..channels {
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    /// Zero crossings per second / 2 ≈ frequency of a pure tone.
    fn freq_of(s: &[i16]) -> f64 {
        let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f64 / 2.0 / (s.len() as f64 / 8000.0)
    }

    #[test]
    fn loads_and_resamples_a_44k_stereo_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.wav");
        write_wav(&p, 44100, 2, 440.0, 2.0);
        let prompt = Prompt::load_wav("greeting", &p).unwrap();
        assert!(
            (prompt.duration_ms() as i64 - 2000).abs() <= 20,
            "{}",
            prompt.duration_ms()
        );
        let f = freq_of(&prompt.samples()[800..15000]);
        assert!((f - 440.0).abs() < 5.0, "{f}");
        assert_eq!(prompt.encoded(Codec::Pcmu).len(), prompt.samples().len());
    }

    #[test]
    fn keeps_an_8k_file_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.wav");
        write_wav(&p, 8000, 1, 1000.0, 0.5);
        let prompt = Prompt::load_wav("music", &p).unwrap();
        assert_eq!(prompt.samples().len(), 4000);
        assert_eq!(prompt.name(), "music");
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Prompt::load_wav("x", &dir.path().join("nope.wav"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope.wav"), "{missing}");
        let garbage = dir.path().join("garbage.wav");
        std::fs::write(&garbage, b"RIFF\x10\0\0\0WAVEjunkjunkjunk").unwrap();
        assert!(Prompt::load_wav("x", &garbage).is_err());
        let text = dir.path().join("text.wav");
        std::fs::write(&text, "hello").unwrap();
        assert!(Prompt::load_wav("x", &text)
            .unwrap_err()
            .to_string()
            .contains("not a readable WAV"));
        let empty = dir.path().join("empty.wav");
        write_wav(&empty, 8000, 1, 1000.0, 0.0);
        assert!(matches!(
            Prompt::load_wav("x", &empty),
            Err(PromptError::Empty(_))
        ));
    }

    #[test]
    fn the_shipped_prompts_load_and_are_audible() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts");
        for name in ["greeting", "music"] {
            let p = Prompt::load_wav(name, &dir.join(format!("{name}.wav"))).unwrap();
            assert!(p.duration_ms() > 2000, "{name}: {} ms", p.duration_ms());
            let rms = |s: &[i16]| {
                (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
            };
            assert!(rms(p.samples()) > 500.0, "{name}: rms {}", rms(p.samples()));
            let mut dec = vec![0i16; p.samples().len()];
            Codec::Pcmu.decode(p.encoded(Codec::Pcmu), &mut dec);
            assert!(
                (rms(&dec) - rms(p.samples())).abs() < rms(p.samples()) * 0.05,
                "{name}: G.711 keeps the level"
            );
        }
    }

    #[test]
    fn tone_has_its_frequency() {
        let t = Prompt::tone("t", 1000.0, 1000, 8000);
        assert_eq!(t.duration_ms(), 1000);
        assert!((freq_of(t.samples()) - 1000.0).abs() < 3.0);
    }
}
