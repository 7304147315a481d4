//! Mixing for live monitoring: a supervisor's third leg on a bridged call.
//!
//! Who hears whom is [`MonitorMode::hears`]; the audio of each party is kept
//! in a small jitter FIFO ([`SourceFifo`]) of decoded samples, and every 20 ms
//! the relay takes one frame of each and sums, for each listener, the parties
//! it hears ([`mix_into`]: linear samples summed in `i32`, saturated to
//! `i16`, then encoded to the listener's G.711 law). An output with only one
//! contributor stays a plain relay (no added delay).

use crate::FRAME_SAMPLES;
pub use hotline_core::{BadMonitorMode, MonitorMode, Party3};
use std::collections::VecDeque;

/// Sums the `inputs` sample by sample into `out` with saturation (the
/// linear-domain mix). Inputs shorter than `out` count as silence beyond
/// their end.
pub fn mix_into(out: &mut [i16], inputs: &[&[i16]]) {
    for (i, o) in out.iter_mut().enumerate() {
        let sum: i32 = inputs
            .iter()
            .map(|s| i32::from(s.get(i).copied().unwrap_or(0)))
            .sum();
        *o = sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

/// Samples buffered before a party's audio is mixed (40 ms): absorbs the
/// jitter between its packets and the mixer's 20 ms clock, and packets of
/// 30 ms.
pub const MIX_PRIME_SAMPLES: usize = 2 * FRAME_SAMPLES;
/// Most samples kept per party (100 ms); older ones are dropped (a peer
/// whose clock runs faster than ours, or a burst).
pub const MIX_MAX_SAMPLES: usize = 5 * FRAME_SAMPLES;

/// One party's decoded audio waiting to be mixed.
#[derive(Debug, Default)]
pub struct SourceFifo {
    samples: VecDeque<i16>,
    primed: bool,
    dropped: u64,
}

impl SourceFifo {
    /// Adds decoded samples; beyond [`MIX_MAX_SAMPLES`] the oldest go.
    pub fn push(&mut self, samples: &[i16]) {
        self.samples.extend(samples.iter().copied());
        let excess = self.samples.len().saturating_sub(MIX_MAX_SAMPLES);
        if excess > 0 {
            self.samples.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// Takes the next frame into `out` (silence where there is nothing);
    /// false when the party contributed nothing to it. After an underrun
    /// the FIFO fills to [`MIX_PRIME_SAMPLES`] again before giving audio.
    pub fn pop_frame(&mut self, out: &mut [i16]) -> bool {
        if !self.primed {
            if self.samples.len() < MIX_PRIME_SAMPLES {
                out.fill(0);
                return false;
            }
            self.primed = true;
        }
        let n = self.samples.len().min(out.len());
        for (o, s) in out.iter_mut().zip(self.samples.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0);
        if n < out.len() {
            self.primed = false;
        }
        n > 0
    }

    /// Forgets what is buffered.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.primed = false;
    }

    /// Samples buffered now.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Nothing buffered?
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Samples dropped because the FIFO was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_sums_and_saturates() {
        let a = [1000i16, -1000, 30000, -30000, 5];
        let b = [2000i16, -2000, 30000, -30000];
        let mut out = [0i16; 5];
        mix_into(&mut out, &[&a, &b]);
        assert_eq!(out, [3000, -3000, i16::MAX, i16::MIN, 5]);
        mix_into(&mut out, &[]);
        assert_eq!(out, [0; 5]);
    }

    #[test]
    fn the_fifo_primes_drains_and_bounds() {
        let mut f = SourceFifo::default();
        let mut out = [7i16; FRAME_SAMPLES];
        f.push(&[1; FRAME_SAMPLES]);
        assert!(!f.pop_frame(&mut out), "not primed with one frame");
        assert_eq!(out, [0; FRAME_SAMPLES]);
        f.push(&[2; FRAME_SAMPLES]);
        assert!(f.pop_frame(&mut out));
        assert_eq!(out, [1; FRAME_SAMPLES]);
        assert!(f.pop_frame(&mut out));
        assert_eq!(out, [2; FRAME_SAMPLES]);
        // underrun: silence and priming again
        assert!(!f.pop_frame(&mut out));
        // 30 ms packets against a 20 ms clock: continuous once primed
        f.clear();
        let (mut gaps, mut pops) = (0, 0);
        for t in (0..3000).step_by(10) {
            if t % 30 == 0 {
                f.push(&[3; 240]);
            }
            if t % 20 == 0 && t >= 40 {
                pops += 1;
                if !f.pop_frame(&mut out) || out.contains(&0) {
                    gaps += 1;
                }
            }
        }
        assert!(pops > 100);
        assert_eq!(gaps, 0);
        assert!(f.len() <= MIX_MAX_SAMPLES);
        // a flood is bounded
        for _ in 0..100 {
            f.push(&[4; FRAME_SAMPLES]);
        }
        assert_eq!(f.len(), MIX_MAX_SAMPLES);
        assert!(f.dropped() > 0);
        f.clear();
        assert!(f.is_empty());
    }
}
