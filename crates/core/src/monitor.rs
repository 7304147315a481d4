//! Live monitoring's vocabulary: how a supervisor takes part in a call
//! and who hears whom (the relay in `hotline-media` mixes by these rules,
//! the call flow and the events name the modes).

use std::fmt;
use std::str::FromStr;

/// How a supervisor takes part in a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorMode {
    /// The supervisor hears caller and agent mixed; nobody hears the supervisor.
    Listen,
    /// The agent hears the supervisor mixed into the caller's audio; the
    /// caller never hears the supervisor.
    Whisper,
    /// Three-way: everyone hears the other two.
    Barge,
}

/// A party of a monitored call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party3 {
    /// The customer.
    Caller,
    /// The agent.
    Agent,
    /// The supervisor's monitor leg.
    Supervisor,
}

impl Party3 {
    /// Index in per-party arrays (caller 0, agent 1, supervisor 2).
    pub fn index(self) -> usize {
        match self {
            Party3::Caller => 0,
            Party3::Agent => 1,
            Party3::Supervisor => 2,
        }
    }
}

impl MonitorMode {
    /// The mode's name (`listen`, `whisper`, `barge`).
    pub fn name(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// Does `listener` hear `speaker` in this mode? Caller and agent always
    /// hear each other; the supervisor always hears both.
    pub fn hears(self, listener: Party3, speaker: Party3) -> bool {
        use Party3::*;
        match (listener, speaker) {
            (a, b) if a == b => false,
            (Supervisor, _) | (Caller, Agent) | (Agent, Caller) => true,
            (Agent, Supervisor) => self != MonitorMode::Listen,
            (Caller, Supervisor) => self == MonitorMode::Barge,
            _ => false,
        }
    }

    /// Is `listener`'s output a mix of two parties (rather than a relay of one)?
    pub fn mixed_for(self, listener: Party3) -> bool {
        [Party3::Caller, Party3::Agent, Party3::Supervisor]
            .into_iter()
            .filter(|s| self.hears(listener, *s))
            .count()
            >= 2
    }
}

impl fmt::Display for MonitorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown monitor mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown monitor mode `{0}` (listen, whisper or barge)")]
pub struct BadMonitorMode(pub String);

impl FromStr for MonitorMode {
    type Err = BadMonitorMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "listen" => Ok(MonitorMode::Listen),
            "whisper" => Ok(MonitorMode::Whisper),
            "barge" => Ok(MonitorMode::Barge),
            other => Err(BadMonitorMode(other.chars().take(32).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Party3::*;

    #[test]
    fn who_hears_whom() {
        for m in [
            MonitorMode::Listen,
            MonitorMode::Whisper,
            MonitorMode::Barge,
        ] {
            assert!(m.hears(Caller, Agent) && m.hears(Agent, Caller));
            assert!(m.hears(Supervisor, Caller) && m.hears(Supervisor, Agent));
            assert!(!m.hears(Caller, Caller) && !m.hears(Supervisor, Supervisor));
            assert!(m.mixed_for(Supervisor));
        }
        assert!(!MonitorMode::Listen.hears(Agent, Supervisor));
        assert!(!MonitorMode::Listen.hears(Caller, Supervisor));
        assert!(MonitorMode::Whisper.hears(Agent, Supervisor));
        assert!(!MonitorMode::Whisper.hears(Caller, Supervisor));
        assert!(MonitorMode::Barge.hears(Agent, Supervisor));
        assert!(MonitorMode::Barge.hears(Caller, Supervisor));
        assert!(!MonitorMode::Listen.mixed_for(Agent) && !MonitorMode::Listen.mixed_for(Caller));
        assert!(MonitorMode::Whisper.mixed_for(Agent) && !MonitorMode::Whisper.mixed_for(Caller));
        assert!(MonitorMode::Barge.mixed_for(Agent) && MonitorMode::Barge.mixed_for(Caller));
    }

    #[test]
    fn mode_names_round_trip_and_junk_is_refused() {
        for m in [
            MonitorMode::Listen,
            MonitorMode::Whisper,
            MonitorMode::Barge,
        ] {
            assert_eq!(m.name().parse::<MonitorMode>(), Ok(m));
        }
        for bad in ["", "LISTEN", "spy", "barge ", "\u{0}", &"x".repeat(10_000)] {
            let e = bad.parse::<MonitorMode>().unwrap_err();
            assert!(e.to_string().len() < 100, "the message stays short");
        }
    }
}
