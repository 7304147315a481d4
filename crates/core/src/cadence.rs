use serde::{Deserialize, Serialize};

/// The ringing pattern a caller hears, used to count rings.
///
/// The default is mainland China's: 1 s on, 4 s off. A ring is counted when its
/// "on" part starts; ring `n` (1-based) ends `(n-1)*(on+off) + on` ms after arrival,
/// so the third ring ends 11 s after the call arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingCadence {
    /// Length of the tone, in milliseconds.
    pub on_ms: u32,
    /// Length of the silence after it, in milliseconds.
    pub off_ms: u32,
}

/// A cadence that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CadenceError {
    /// The tone part must last at least 100 ms.
    #[error("ring tone must last between 100 ms and 10000 ms, got {0} ms")]
    OnOutOfRange(u32),
    /// The silence must not exceed 10 s.
    #[error("ring pause must last at most 10000 ms, got {0} ms")]
    OffOutOfRange(u32),
}

impl Default for RingCadence {
    fn default() -> Self {
        RingCadence {
            on_ms: 1000,
            off_ms: 4000,
        }
    }
}

impl RingCadence {
    /// Checks that the cadence describes a real ring.
    pub fn validate(&self) -> Result<(), CadenceError> {
        if !(100..=10_000).contains(&self.on_ms) {
            return Err(CadenceError::OnOutOfRange(self.on_ms));
        }
        if self.off_ms > 10_000 {
            return Err(CadenceError::OffOutOfRange(self.off_ms));
        }
        Ok(())
    }

    /// One ring period (on + off), in milliseconds.
    pub fn period_ms(&self) -> i64 {
        i64::from(self.on_ms) + i64::from(self.off_ms)
    }

    /// Milliseconds after arrival at which ring `n` (1-based) ends.
    pub fn end_of_ring_ms(&self, n: u32) -> i64 {
        let n = i64::from(n.max(1));
        (n - 1) * self.period_ms() + i64::from(self.on_ms)
    }

    /// Rings the caller has heard (started) after `elapsed_ms` of ringing.
    pub fn rings_heard(&self, elapsed_ms: i64) -> u32 {
        if elapsed_ms < 0 {
            return 0;
        }
        (elapsed_ms / self.period_ms().max(1) + 1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_third_ring_ends_at_eleven_seconds() {
        let c = RingCadence::default();
        assert_eq!(c.end_of_ring_ms(3), 11_000);
        assert_eq!(c.end_of_ring_ms(1), 1_000);
        assert_eq!(c.rings_heard(0), 1);
        assert_eq!(c.rings_heard(4_999), 1);
        assert_eq!(c.rings_heard(5_000), 2);
        assert_eq!(c.rings_heard(10_999), 3);
        // the engine answers at 11 s: the fourth ring would only start at 15 s.
        assert_eq!(c.rings_heard(11_000), 3);
    }

    #[test]
    fn rejects_nonsense_cadence() {
        assert!(RingCadence {
            on_ms: 0,
            off_ms: 4000
        }
        .validate()
        .is_err());
        assert!(RingCadence {
            on_ms: 1000,
            off_ms: 60_000
        }
        .validate()
        .is_err());
        assert!(RingCadence::default().validate().is_ok());
    }
}
