//! What to simulate, and the checks that keep a run finite and meaningful.

use hotline_acd::Strategy;
use hotline_core::RingCadence;
use std::str::FromStr;

/// Most calls one run may simulate (warm-up included, on average).
pub const MAX_CALLS: f64 = 50_000_000.0;

/// Most simulated hours (`hours`, and separately `warmup_hours`).
const MAX_HOURS: f64 = 10_000.0;

/// Most agents in one run.
const MAX_AGENTS: u32 = 10_000;

/// Longest time (AHT, wrap-up, patience, target), seconds: a day.
const MAX_SECONDS: f64 = 86_400.0;

/// Most calls an understaffed run without abandons may pile up in the queue.
const MAX_BACKLOG: f64 = 100_000.0;

/// Most rings before the engine answers (ten rings: 46 s with the
/// mainland-China cadence).
const MAX_RINGS: u32 = 10;

/// Longest agent ring timeout, seconds.
const MAX_RING_TIMEOUT_S: f64 = 300.0;

/// Where a caller who waited the queue's maximum goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowTo {
    /// The voicemail: the caller hears the greeting and the beep and leaves a
    /// message (exponential, mean [`crate::VOICEMAIL_MEAN_S`], at most
    /// [`crate::VOICEMAIL_MAX_S`]).
    Voicemail,
    /// A second queue, `overflow`, with agents of its own (who take no call
    /// of the first queue).
    Queue {
        /// Its agents, 1 to 10 000 (with the first queue's).
        agents: u32,
    },
}

impl FromStr for OverflowTo {
    type Err = SimError;

    /// `voicemail`, or `queue:N` (a second queue with N agents of its own).
    fn from_str(s: &str) -> Result<Self, SimError> {
        let bad = || SimError::Invalid {
            field: "overflow",
            reason: format!(
                "must be `voicemail` or `queue:N` (a second queue with N agents), got `{s}`"
            ),
        };
        if s == "voicemail" {
            return Ok(OverflowTo::Voicemail);
        }
        let n = s.strip_prefix("queue:").ok_or_else(bad)?;
        let agents: u32 = n.parse().map_err(|_| bad())?;
        Ok(OverflowTo::Queue { agents })
    }
}

/// A queue's maximum wait and where the callers who reach it go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overflow {
    /// A caller waiting this long (not while an agent rings) leaves the
    /// queue, seconds (above 0, at most 86 400).
    pub max_wait_s: f64,
    /// Where to.
    pub to: OverflowTo,
}

/// The call flow's treatments in a run. The default is none of them beyond
/// the engine's own answer at the third ring (which changes no figure): every
/// agent answers at once, nobody is moved, asks for a callback or hears
/// announcements, so the run is Erlang C's M/M/N system.
#[derive(Clone, Debug, PartialEq)]
pub struct Treatments {
    /// The engine answers a call no agent has answered at the end of this
    /// ring (1 to 10; 3: 11 s with the mainland-China cadence), then plays
    /// the greeting and music while the call keeps waiting.
    pub answer_after_rings: u32,
    /// How long an agent's phone rings before they pick up, seconds (0: at
    /// once; below `ring_timeout_s`).
    pub agent_answer_s: f64,
    /// Share of offers the agent does not answer, 0 to 0.9: their phone
    /// rings until `ring_timeout_s`, then the next agent is offered the call.
    pub no_answer_share: f64,
    /// How long an agent's phone rings before the next agent is tried,
    /// seconds (above 0, at most 300).
    pub ring_timeout_s: f64,
    /// The queue's maximum wait and where callers go then (None: they wait).
    pub overflow: Option<Overflow>,
    /// A caller still waiting this long after ringing in presses the
    /// callback key, hangs up, and is called back when an agent is free
    /// (None: nobody asks). At least the time of the engine's answer (the
    /// key is offered after it), at most 86 400.
    pub callback_after_s: Option<f64>,
    /// Position and expected-wait announcements every this many seconds
    /// while a caller waits (None: music only), 1 to 86 400.
    pub announce_every_s: Option<f64>,
}

impl Default for Treatments {
    /// The engine answers at the third ring; nothing else (see the type).
    fn default() -> Self {
        Treatments {
            answer_after_rings: 3,
            agent_answer_s: 0.0,
            no_answer_share: 0.0,
            ring_timeout_s: 15.0,
            overflow: None,
            callback_after_s: None,
            announce_every_s: None,
        }
    }
}

impl Treatments {
    /// Seconds from a call's arrival to the engine's own answer (the end of
    /// ring `answer_after_rings` of the mainland-China cadence).
    pub fn system_answer_s(&self) -> f64 {
        RingCadence::default().end_of_ring_ms(self.answer_after_rings) as f64 / 1000.0
    }

    /// Does the run differ from Erlang C's system (agents who do not answer
    /// at once, callers moved or called back)? Announcements and the
    /// engine's answer change nothing Erlang C measures.
    pub fn changes_the_queue(&self) -> bool {
        self.agent_answer_s > 0.0
            || self.no_answer_share > 0.0
            || self.overflow.is_some()
            || self.callback_after_s.is_some()
    }
}

/// The inputs of one simulation run.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Calls offered per hour (Poisson arrivals), above 0 and at most 1 000 000.
    pub calls_per_hour: f64,
    /// Mean talk time, seconds (exponential), above 0 and at most 86 400.
    pub aht_s: f64,
    /// Agents logged in for the whole run, 1 to 10 000.
    pub agents: u32,
    /// Simulated hours measured after the warm-up, above 0 and at most 10 000.
    pub hours: f64,
    /// Service-level target: answered within this many seconds (0 to 86 400).
    pub target_s: f64,
    /// Mean patience of a waiting caller, seconds (exponential): a caller not
    /// answered by then hangs up. `None`: nobody abandons.
    pub patience_s: Option<f64>,
    /// After-call work of every call, seconds (the ACD's wrap-up), 0 to 86 400.
    pub wrap_up_s: f64,
    /// How the queue picks among available agents.
    pub strategy: Strategy,
    /// Seed of the random numbers: the same seed gives the same report.
    pub seed: u64,
    /// Simulated hours before measuring starts (the queue fills up from
    /// empty), 0 to 10 000. Only calls arriving after it are measured.
    pub warmup_hours: f64,
    /// The call flow's treatments (default: none that changes the queue).
    pub treatments: Treatments,
}

impl Default for SimConfig {
    /// The textbook case: 200 calls an hour of 180 s (10 Erlangs) on 12
    /// agents, 80/20 style target of 20 s, an 8-hour day after 1 hour of
    /// warm-up, nobody abandons, no wrap-up, no treatment.
    fn default() -> Self {
        SimConfig {
            calls_per_hour: 200.0,
            aht_s: 180.0,
            agents: 12,
            hours: 8.0,
            target_s: 20.0,
            patience_s: None,
            wrap_up_s: 0.0,
            strategy: Strategy::LongestIdle,
            seed: 1,
            warmup_hours: 1.0,
            treatments: Treatments::default(),
        }
    }
}

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// An input is out of range; `field` is its name in [`SimConfig`].
    #[error("{field}: {reason}")]
    Invalid {
        /// The [`SimConfig`] field at fault, e.g. `agents`.
        field: &'static str,
        /// What is wrong with it, with the value given.
        reason: String,
    },
    /// The call flow broke one of its own rules during the run (a bug, not
    /// an input problem): what happened, at which simulated time.
    #[error("the call flow misbehaved at {at_ms} ms of simulated time: {what}")]
    Inconsistent {
        /// Simulated time, ms.
        at_ms: i64,
        /// What went wrong.
        what: String,
    },
}

impl SimError {
    /// The message with the field named as `hotline simulate`'s flag
    /// (`aht_s` is `--aht`, `max_wait_s` is `--max-wait`).
    pub fn flag_message(&self) -> String {
        match self {
            SimError::Invalid { field, reason } => {
                let flag = match *field {
                    "aht_s" => "aht",
                    "target_s" => "target-seconds",
                    "patience_s" => "patience",
                    "wrap_up_s" => "wrap-up",
                    "agent_answer_s" => "agent-answer",
                    "ring_timeout_s" => "ring-timeout",
                    "max_wait_s" => "max-wait",
                    "callback_after_s" => "callback-after",
                    "announce_every_s" => "announce-every",
                    other => return format!("--{}: {reason}", other.replace('_', "-")),
                };
                format!("--{flag}: {reason}")
            }
            SimError::Inconsistent { .. } => self.to_string(),
        }
    }

    /// The [`SimConfig`] field an [`SimError::Invalid`] names.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SimError::Invalid { field, .. } => Some(field),
            SimError::Inconsistent { .. } => None,
        }
    }
}

fn number(
    field: &'static str,
    value: f64,
    range: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<(), SimError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(SimError::Invalid {
            field,
            reason: format!("must be {range}, got {value}"),
        })
    }
}

impl SimConfig {
    /// Checks every input: finite, in range, and a run that ends in
    /// reasonable time (at most [`MAX_CALLS`] calls; without abandons, enough
    /// agents that the queue does not grow without bound).
    pub fn validate(&self) -> Result<(), SimError> {
        number(
            "calls_per_hour",
            self.calls_per_hour,
            "above 0 and at most 1000000",
            |v| v > 0.0 && v <= 1e6,
        )?;
        number(
            "aht_s",
            self.aht_s,
            "a number of seconds above 0 and at most 86400",
            |v| v > 0.0 && v <= MAX_SECONDS,
        )?;
        if !(1..=MAX_AGENTS).contains(&self.agents) {
            return Err(SimError::Invalid {
                field: "agents",
                reason: format!("must be from 1 to {MAX_AGENTS}, got {}", self.agents),
            });
        }
        number("hours", self.hours, "above 0 and at most 10000", |v| {
            v > 0.0 && v <= MAX_HOURS
        })?;
        number("warmup_hours", self.warmup_hours, "from 0 to 10000", |v| {
            (0.0..=MAX_HOURS).contains(&v)
        })?;
        number(
            "target_s",
            self.target_s,
            "a number of seconds from 0 to 86400",
            |v| (0.0..=MAX_SECONDS).contains(&v),
        )?;
        if let Some(p) = self.patience_s {
            number(
                "patience_s",
                p,
                "a number of seconds above 0 and at most 86400 (or none: nobody abandons)",
                |v| v > 0.0 && v <= MAX_SECONDS,
            )?;
        }
        number(
            "wrap_up_s",
            self.wrap_up_s,
            "a number of seconds from 0 to 86400",
            |v| (0.0..=MAX_SECONDS).contains(&v),
        )?;
        let calls = self.calls_per_hour * (self.hours + self.warmup_hours);
        if calls > MAX_CALLS {
            return Err(SimError::Invalid {
                field: "calls_per_hour",
                reason: format!(
                    "{} calls an hour for {} hours (warm-up included) is about {calls:.0} calls, \
                     more than the {MAX_CALLS:.0} a run may simulate: lower calls_per_hour or hours",
                    self.calls_per_hour,
                    self.hours + self.warmup_hours
                ),
            });
        }
        self.validate_treatments()?;
        let t = &self.treatments;
        let voicemail = matches!(
            t.overflow,
            Some(Overflow {
                to: OverflowTo::Voicemail,
                ..
            })
        );
        if self.patience_s.is_none() && !voicemail {
            // with nobody abandoning, an overloaded queue grows by the
            // difference between arrivals and what the agents can handle
            // (an agent's time per call: talk, wrap-up, picking up and the
            // offers that ring out before someone answers)
            let rung_out = t.no_answer_share / (1.0 - t.no_answer_share) * t.ring_timeout_s;
            let per_call = self.aht_s + self.wrap_up_s + t.agent_answer_s + rung_out;
            let capacity = f64::from(self.agents + self.overflow_agents()) * 3600.0 / per_call;
            let backlog = (self.calls_per_hour - capacity) * (self.hours + self.warmup_hours);
            if backlog > MAX_BACKLOG {
                return Err(SimError::Invalid {
                    field: "agents",
                    reason: format!(
                        "{} agents handle at most {capacity:.1} calls an hour against {} offered, \
                         and nobody abandons: about {backlog:.0} callers would pile up \
                         (at most {MAX_BACKLOG:.0}); add agents, shorten hours or set patience_s",
                        self.agents, self.calls_per_hour
                    ),
                });
            }
        }
        Ok(())
    }

    /// Agents of the overflow queue (0 without one).
    pub fn overflow_agents(&self) -> u32 {
        match self.treatments.overflow {
            Some(Overflow {
                to: OverflowTo::Queue { agents },
                ..
            }) => agents,
            _ => 0,
        }
    }

    fn validate_treatments(&self) -> Result<(), SimError> {
        let t = &self.treatments;
        if !(1..=MAX_RINGS).contains(&t.answer_after_rings) {
            return Err(SimError::Invalid {
                field: "answer_after_rings",
                reason: format!(
                    "must be from 1 to {MAX_RINGS}, got {}",
                    t.answer_after_rings
                ),
            });
        }
        number(
            "ring_timeout_s",
            t.ring_timeout_s,
            "a number of seconds above 0 and at most 300",
            |v| v > 0.0 && v <= MAX_RING_TIMEOUT_S,
        )?;
        number(
            "agent_answer_s",
            t.agent_answer_s,
            &format!(
                "a number of seconds from 0 to below the ring timeout ({} s)",
                t.ring_timeout_s
            ),
            |v| v >= 0.0 && v < t.ring_timeout_s,
        )?;
        number(
            "no_answer_share",
            t.no_answer_share,
            "a share from 0 to 0.9",
            |v| (0.0..=0.9).contains(&v),
        )?;
        if let Some(o) = t.overflow {
            number(
                "max_wait_s",
                o.max_wait_s,
                "a number of seconds above 0 and at most 86400",
                |v| v > 0.0 && v <= MAX_SECONDS,
            )?;
            if let OverflowTo::Queue { agents } = o.to {
                if agents == 0 || agents.saturating_add(self.agents) > MAX_AGENTS {
                    return Err(SimError::Invalid {
                        field: "overflow",
                        reason: format!(
                            "the overflow queue needs 1 to {} agents ({MAX_AGENTS} in all with the {} of the first queue), got {agents}",
                            MAX_AGENTS.saturating_sub(self.agents),
                            self.agents
                        ),
                    });
                }
            }
        }
        if let Some(after) = t.callback_after_s {
            let answer = t.system_answer_s();
            number(
                "callback_after_s",
                after,
                &format!(
                    "a number of seconds from the engine's answer ({answer} s after \
                     {} rings, when the callback is offered) to 86400",
                    t.answer_after_rings
                ),
                |v| v >= answer && v <= MAX_SECONDS,
            )?;
        }
        if let Some(every) = t.announce_every_s {
            number(
                "announce_every_s",
                every,
                "a number of seconds from 1 to 86400",
                |v| (1.0..=MAX_SECONDS).contains(&v),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_name_the_command_line_flag() {
        let e = |field| SimError::Invalid {
            field,
            reason: "bad".into(),
        };
        assert_eq!(e("aht_s").flag_message(), "--aht: bad");
        assert_eq!(e("max_wait_s").flag_message(), "--max-wait: bad");
        assert_eq!(e("target_s").flag_message(), "--target-seconds: bad");
        assert_eq!(e("calls_per_hour").flag_message(), "--calls-per-hour: bad");
        let broken = SimError::Inconsistent {
            at_ms: 5,
            what: "twice".into(),
        };
        assert_eq!(broken.flag_message(), broken.to_string());
        let refused = crate::run(&SimConfig {
            aht_s: -1.0,
            ..SimConfig::default()
        })
        .unwrap_err();
        assert!(refused.flag_message().starts_with("--aht: "), "{refused}");
    }

    use super::*;

    #[test]
    fn the_default_is_valid() {
        assert_eq!(SimConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_short_overload_with_no_abandons_is_allowed() {
        // 12 agents can do 240 calls an hour; 300 for 2 hours piles up ~120
        let cfg = SimConfig {
            calls_per_hour: 300.0,
            hours: 1.0,
            ..SimConfig::default()
        };
        assert_eq!(cfg.validate(), Ok(()));
    }
}
