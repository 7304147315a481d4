//! The names of the ACD's vocabulary as written in the config and on the
//! command line (`longest_idle`, ...).

use crate::Strategy;
use std::fmt;

impl Strategy {
    /// Every strategy, in the order of the docs.
    pub const ALL: [Strategy; 6] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::Linear,
        Strategy::RingAll,
    ];

    /// Its name: `longest_idle`, `round_robin`, `fewest_calls`,
    /// `least_talk_time`, `linear`, `ring_all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::FewestCalls => "fewest_calls",
            Strategy::LeastTalkTime => "least_talk_time",
            Strategy::Linear => "linear",
            Strategy::RingAll => "ring_all",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name that is none of [`Strategy::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown strategy `{}` (longest_idle, round_robin, fewest_calls, least_talk_time, linear or ring_all)",
            self.0
        )
    }
}

impl std::error::Error for UnknownStrategy {}

impl std::str::FromStr for Strategy {
    type Err = UnknownStrategy;

    /// The name; `-` is taken for `_` (`ring-all` on the command line).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.replace('-', "_");
        Strategy::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| UnknownStrategy(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        for s in Strategy::ALL {
            assert_eq!(s.to_string().parse::<Strategy>(), Ok(s));
        }
        assert_eq!("ring-all".parse::<Strategy>(), Ok(Strategy::RingAll));
        for bad in ["", "ring_everyone", "LONGEST_IDLE", "longest idle", "\u{0}"] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad}");
        }
    }
}
