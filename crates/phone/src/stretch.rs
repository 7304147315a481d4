//! Time-stretch that keeps the pitch: WSOLA (waveform-similarity
//! overlap-add, Verhelst & Roelands 1993), for replaying recordings slower
//! (0.2×–1.0×) so hard-to-hear words become clear without the voice
//! dropping in pitch.
//!
//! Why our own: the registry's candidates did not fit. `wsola` 0.1.0 is a
//! single first release of a one-person podcast tool (no maintenance record,
//! and its streaming `pull` allocates a `Vec` per call); `timestretch` is a
//! hybrid WSOLA/phase vocoder tuned for dance music with presets, a much
//! larger surface and frequent breaking releases (0.5 → 0.11 in months). We
//! need 8 kHz speech, speeds up to 1.0, live speed changes and seeks over a
//! recording that is already in memory, with no allocation after
//! construction: about a hundred lines.
//!
//! How: output advances by a fixed hop (half a 30 ms Hann window, so the
//! windows sum to one); the input position advances by `hop × speed`. Each
//! new window is taken from the input near that position, shifted by up to
//! ±8 ms to where the waveform best continues the previous window's natural
//! continuation (normalised cross-correlation on the channels' sum), so the
//! overlap-add joins waveforms in phase: the duration changes, the
//! periodicity (pitch) does not. At speed 1.0 the best shift is always 0 and
//! the input is rebuilt exactly.

/// Window length, ms.
pub const WINDOW_MS: u32 = 30;
/// Largest shift searched either side, ms (covers voice periods down to
/// about 60 Hz).
pub const SEARCH_MS: u32 = 8;

/// A WSOLA time-stretcher over an in-memory interleaved signal.
#[derive(Clone, Debug)]
pub struct Wsola {
    ch: usize,
    n: usize,
    hop: usize,
    search: isize,
    window: Vec<f32>,
    acc: Vec<f32>,
    scratch: Vec<f32>,
    prev: Option<isize>,
}

impl Wsola {
    /// A stretcher for `channels` interleaved channels at `rate` Hz.
    pub fn new(rate: u32, channels: usize) -> Wsola {
        let hop = ((rate * WINDOW_MS / 2000) as usize).max(8);
        let n = 2 * hop;
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
            .collect();
        let ch = channels.max(1);
        let search = (rate * SEARCH_MS / 1000) as usize;
        Wsola {
            scratch: vec![0.0; 2 * hop + 2 * search],
            ch,
            n,
            hop,
            search: search as isize,
            window,
            acc: vec![0.0; n * ch],
            prev: None,
        }
    }

    /// Output frames each [`step`](Self::step) produces.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Forgets the last window (after a seek): the next one is taken as is.
    pub fn reset(&mut self) {
        self.acc.fill(0.0);
        self.prev = None;
    }

    /// Sample `c` of frame `i` of `x`, silence outside it.
    fn at(&self, x: &[f32], i: isize, c: usize) -> f32 {
        if i < 0 {
            return 0.0;
        }
        x.get(i as usize * self.ch + c).copied().unwrap_or(0.0)
    }

    /// Copies `len` frames of `mono` from `start` into `dst`, silence
    /// outside it.
    fn segment(mono: &[f32], start: isize, dst: &mut [f32]) {
        for (k, d) in dst.iter_mut().enumerate() {
            let i = start + k as isize;
            *d = if i < 0 {
                0.0
            } else {
                mono.get(i as usize).copied().unwrap_or(0.0)
            };
        }
    }

    /// Places the next window near input frame `nominal` of `x` and writes
    /// the [`hop`](Self::hop) frames that are now complete into `out`
    /// (`hop × channels` samples). `mono` is `x` with its channels summed
    /// (`x` itself when mono): the waveform the search compares. No
    /// allocation.
    pub fn step(&mut self, x: &[f32], mono: &[f32], nominal: isize, out: &mut [f32]) {
        let start = match self.prev {
            None => nominal,
            Some(p) => {
                let overlap = self.hop;
                // the natural continuation of the last window, and the
                // stretch of input every candidate lies in
                let (nat, rest) = self.scratch.split_at_mut(overlap);
                Self::segment(mono, p + overlap as isize, nat);
                let span = &mut rest[..overlap + 2 * self.search as usize];
                Self::segment(mono, nominal - self.search, span);
                let mut best = (f32::MIN, 0isize);
                for d in -self.search..=self.search {
                    let off = (d + self.search) as usize;
                    let cand = &span[off..off + overlap];
                    let (mut corr, mut energy) = (0.0f32, 1e-9f32);
                    for (v, n) in cand.iter().zip(nat.iter()) {
                        corr += v * n;
                        energy += v * v;
                    }
                    let score = corr / energy.sqrt();
                    // ties (silence) go to the smallest shift
                    if score > best.0 + 1e-6 || (score >= best.0 - 1e-6 && d.abs() < best.1.abs()) {
                        best = (score, d);
                    }
                }
                nominal + best.1
            }
        };
        for i in 0..self.n {
            let w = self.window[i];
            for c in 0..self.ch {
                self.acc[i * self.ch + c] += self.at(x, start + i as isize, c) * w;
            }
        }
        let done = self.hop * self.ch;
        let m = done.min(out.len());
        out[..m].copy_from_slice(&self.acc[..m]);
        self.acc.copy_within(done.., 0);
        let len = self.acc.len();
        self.acc[len - done..].fill(0.0);
        self.prev = Some(start);
    }
}

/// Stretches all of `x` (interleaved `channels`) to `1 / speed` of its
/// duration, keeping the pitch (offline helper for tests and rendering).
pub fn stretch(x: &[f32], rate: u32, channels: usize, speed: f64) -> Vec<f32> {
    let mut ws = Wsola::new(rate, channels);
    let ch = channels.max(1);
    let frames = x.len() / ch;
    let hop = ws.hop();
    let mut out = Vec::with_capacity((frames as f64 / speed) as usize * ch + hop * ch);
    let mut buf = vec![0.0; hop * ch];
    let mono = mono_mix(x, ch);
    let mut pos = 0.0f64;
    while (pos as usize) < frames {
        ws.step(x, &mono, pos.round() as isize, &mut buf);
        out.extend_from_slice(&buf);
        pos += hop as f64 * speed;
    }
    out
}

/// The channels of `x` summed (what [`Wsola::step`] compares).
pub fn mono_mix(x: &[f32], channels: usize) -> Vec<f32> {
    x.chunks_exact(channels.max(1))
        .map(|f| f.iter().sum())
        .collect()
}

/// Frequency of the dominant tone of `x` (mono) by counting zero crossings
/// (with linear interpolation at both ends), Hz.
pub fn zero_crossing_hz(x: &[f32], rate: u32) -> f64 {
    let mut first = None;
    let mut last = 0.0;
    let mut n = 0usize;
    for i in 1..x.len() {
        let (a, b) = (x[i - 1], x[i]);
        if a < 0.0 && b >= 0.0 {
            let t = (i - 1) as f64 + f64::from(-a / (b - a));
            if first.is_none() {
                first = Some(t);
            } else {
                n += 1;
            }
            last = t;
        }
    }
    match first {
        Some(f) if n > 0 && last > f => n as f64 * f64::from(rate) / (last - f),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn half_speed_doubles_the_duration_and_keeps_440_hz() {
        let x = tone(440.0, 8000, 2.0);
        for speed in [0.5, 0.2, 0.75] {
            let y = stretch(&x, 8000, 1, speed);
            let want = x.len() as f64 / speed;
            assert!(
                (y.len() as f64 - want).abs() < 0.01 * want,
                "{speed}: {} vs {want}",
                y.len()
            );
            // skip the fade-in and the fade-out (the last window, stretched)
            let tail = (240.0 / speed) as usize + 400;
            let hz = zero_crossing_hz(&y[400..y.len() - tail], 8000);
            assert!((hz - 440.0).abs() < 4.4, "{speed}: {hz} Hz");
            // no holes: the level stays up throughout
            let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt();
            for (i, chunk) in y[400..y.len() - tail].chunks(400).enumerate() {
                assert!(
                    rms(chunk) > 0.3,
                    "{speed}: dip to {} at {} of {}",
                    rms(chunk),
                    400 * (i + 1),
                    y.len()
                );
            }
        }
    }

    #[test]
    fn speed_one_rebuilds_the_input() {
        let x = tone(300.0, 8000, 0.5);
        let y = stretch(&x, 8000, 1, 1.0);
        // after the first half window (fade-in) the output is the input
        let err = x[120..3900]
            .iter()
            .zip(&y[120..3900])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "{err}");
    }

    #[test]
    fn stereo_channels_stay_apart() {
        // one party talks at a time: the caller's tone, the agent silent
        let l = tone(440.0, 8000, 1.0);
        let x: Vec<f32> = l.iter().flat_map(|a| [*a, 0.0]).collect();
        let y = stretch(&x, 8000, 2, 0.5);
        let yl: Vec<f32> = y.chunks(2).map(|f| f[0]).collect();
        assert!((yl.len() as i64 - 16000).abs() < 160, "{}", yl.len());
        assert!((zero_crossing_hz(&yl[400..15600], 8000) - 440.0).abs() < 4.4);
        assert!(y.chunks(2).all(|f| f[1] == 0.0));
    }
}
