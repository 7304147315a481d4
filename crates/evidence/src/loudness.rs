//! Loudness timeline: RMS per 100 ms per channel, and the loudest stretches
//! (raised voices) first, so a reviewer jumps straight to the shouting.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EvidenceError;

/// Window length of the timeline, milliseconds.
pub const WINDOW_MS: u32 = 100;
/// A stretch must reach at least this RMS (about -30 dBFS) to be listed.
pub const LOUD_FLOOR: u16 = 1_036;
/// Stretches listed at most.
pub const MAX_STRETCHES: usize = 10;

/// A run of loud windows on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stretch {
    /// `caller` or `agent`.
    pub channel: String,
    /// Start, ms from the start of the recording.
    pub start_ms: u64,
    /// End, ms from the start of the recording.
    pub end_ms: u64,
    /// Highest window RMS in the stretch.
    pub peak_rms: u16,
}

/// RMS per window per channel plus the loudest stretches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loudness {
    /// Window length, ms.
    pub window_ms: u32,
    /// RMS of each window of the left (caller) channel, 0–32768.
    pub caller_rms: Vec<u16>,
    /// RMS of each window of the right (agent) channel.
    pub agent_rms: Vec<u16>,
    /// Loudest stretches, loudest first.
    pub loudest: Vec<Stretch>,
}

/// Accumulates interleaved stereo samples into windows.
#[derive(Debug)]
pub struct LoudnessMeter {
    window: usize,
    n: usize,
    sum: [f64; 2],
    rms: [Vec<u16>; 2],
}

impl LoudnessMeter {
    /// A meter for `sample_rate` Hz audio.
    pub fn new(sample_rate: u32) -> Self {
        let window = (sample_rate as usize * WINDOW_MS as usize / 1000).max(1);
        LoudnessMeter {
            window,
            n: 0,
            sum: [0.0; 2],
            rms: [Vec::new(), Vec::new()],
        }
    }

    fn close_window(&mut self) {
        for c in 0..2 {
            let r = (self.sum[c] / self.n as f64).sqrt().round().min(32_768.0) as u16;
            self.rms[c].push(r);
        }
        self.n = 0;
        self.sum = [0.0; 2];
    }

    /// Adds one stereo frame.
    pub fn push(&mut self, left: i16, right: i16) {
        self.sum[0] += f64::from(left) * f64::from(left);
        self.sum[1] += f64::from(right) * f64::from(right);
        self.n += 1;
        if self.n == self.window {
            self.close_window();
        }
    }

    /// The timeline (a last partial window counts as a window).
    pub fn finish(mut self) -> Loudness {
        if self.n > 0 {
            self.close_window();
        }
        let [caller_rms, agent_rms] = self.rms;
        let mut loudest = Vec::new();
        for (name, rms) in [("caller", &caller_rms), ("agent", &agent_rms)] {
            let max = rms.iter().copied().max().unwrap_or(0);
            let threshold = (max / 2).max(LOUD_FLOOR);
            let mut i = 0;
            while i < rms.len() {
                if rms[i] < threshold {
                    i += 1;
                    continue;
                }
                let start = i;
                let mut peak = 0;
                while i < rms.len() && rms[i] >= threshold {
                    peak = peak.max(rms[i]);
                    i += 1;
                }
                loudest.push(Stretch {
                    channel: name.to_string(),
                    start_ms: start as u64 * u64::from(WINDOW_MS),
                    end_ms: i as u64 * u64::from(WINDOW_MS),
                    peak_rms: peak,
                });
            }
        }
        loudest.sort_by(|a, b| {
            b.peak_rms
                .cmp(&a.peak_rms)
                .then(a.start_ms.cmp(&b.start_ms))
        });
        loudest.truncate(MAX_STRETCHES);
        Loudness {
            window_ms: WINDOW_MS,
            caller_rms,
            agent_rms,
            loudest,
        }
    }
}

/// Computes the timeline of a stereo 16-bit WAV file.
pub fn of_wav(path: &Path) -> Result<Loudness, EvidenceError> {
    let bad = |reason: String| EvidenceError::NotRepairable {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = hound::WavReader::open(path).map_err(|e| bad(e.to_string()))?;
    let spec = r.spec();
    if spec.channels != 2 || spec.bits_per_sample != 16 {
        return Err(bad(format!(
            "expected 16-bit stereo, got {} bits {} channels",
            spec.bits_per_sample, spec.channels
        )));
    }
    let mut m = LoudnessMeter::new(spec.sample_rate);
    let mut samples = r.samples::<i16>();
    while let Some(l) = samples.next() {
        let l = l.map_err(|e| bad(e.to_string()))?;
        let Some(rr) = samples.next() else { break };
        let rr = rr.map_err(|e| bad(e.to_string()))?;
        m.push(l, rr);
    }
    Ok(m.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shouting_is_listed_first() {
        // 3 s at 8 kHz: caller quiet (amplitude 500), shouts 20000 from
        // 1.0 to 1.5 s; agent talks at 4000 from 2.0 to 2.3 s.
        let mut m = LoudnessMeter::new(8_000);
        for i in 0..24_000u32 {
            let t_ms = i / 8;
            let sq = |a: i16| if i % 2 == 0 { a } else { -a };
            let l = if (1_000..1_500).contains(&t_ms) {
                sq(20_000)
            } else {
                sq(500)
            };
            let r = if (2_000..2_300).contains(&t_ms) {
                sq(4_000)
            } else {
                0
            };
            m.push(l, r);
        }
        let t = m.finish();
        assert_eq!(t.caller_rms.len(), 30);
        assert_eq!(t.agent_rms.len(), 30);
        assert_eq!(t.caller_rms[0], 500);
        assert_eq!(t.caller_rms[12], 20_000);
        assert_eq!(t.loudest.len(), 2, "{:?}", t.loudest);
        assert_eq!(t.loudest[0].channel, "caller");
        assert_eq!((t.loudest[0].start_ms, t.loudest[0].end_ms), (1_000, 1_500));
        assert_eq!(t.loudest[0].peak_rms, 20_000);
        assert_eq!(t.loudest[1].channel, "agent");
        assert_eq!((t.loudest[1].start_ms, t.loudest[1].end_ms), (2_000, 2_300));
    }

    #[test]
    fn silence_has_no_stretches() {
        let mut m = LoudnessMeter::new(8_000);
        for _ in 0..8_050 {
            m.push(0, 0);
        }
        let t = m.finish();
        assert_eq!(t.caller_rms.len(), 11);
        assert!(t.loudest.is_empty());
    }
}
