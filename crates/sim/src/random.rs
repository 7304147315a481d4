//! Seeded random streams and exponential samples.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One independent, seeded stream of random numbers.
pub(crate) struct Stream(StdRng);

impl Stream {
    /// The stream number `index` of the run seeded with `seed` (each kind of
    /// sample has its own stream, so changing one does not shift the others).
    pub(crate) fn new(seed: u64, index: u64) -> Self {
        // splitmix64-style mixing keeps neighbouring seeds far apart
        let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Stream(StdRng::seed_from_u64(z ^ (z >> 31)))
    }

    /// An exponential sample with the given mean, by inverse transform:
    /// `−mean · ln(U)` with `U` uniform in (0, 1].
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        let u: f64 = 1.0 - self.0.random::<f64>(); // (0, 1]
        -mean * u.ln()
    }

    /// A uniform sample in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_samples_have_the_right_mean_and_spread() {
        let mut s = Stream::new(7, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| s.exponential(180.0)).collect();
        assert!(xs.iter().all(|x| x.is_finite() && *x >= 0.0));
        let mean = xs.iter().sum::<f64>() / n as f64;
        // standard error 180/√200000 ≈ 0.4 s
        assert!((mean - 180.0).abs() < 2.0, "{mean}");
        // P(X > mean) = e^-1 for an exponential
        let above = xs.iter().filter(|x| **x > 180.0).count() as f64 / n as f64;
        assert!((above - (-1.0f64).exp()).abs() < 0.005, "{above}");
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, index| {
            let mut s = Stream::new(seed, index);
            (0..4).map(|_| s.exponential(1.0)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert_ne!(draw(1, 0), draw(2, 0));
    }
}
