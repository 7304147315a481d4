//! What to simulate, and the checks that keep a run finite and meaningful.

use hotline_acd::Strategy;

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
}

impl Default for SimConfig {
    /// The textbook case: 200 calls an hour of 180 s (10 Erlangs) on 12
    /// agents, 80/20 style target of 20 s, an 8-hour day after 1 hour of
    /// warm-up, nobody abandons, no wrap-up.
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
    /// The ACD broke one of its own rules during the run (a bug, not an input
    /// problem): what happened, at which simulated time.
    #[error("the ACD misbehaved at {at_ms} ms of simulated time: {what}")]
    Inconsistent {
        /// Simulated time, ms.
        at_ms: i64,
        /// What went wrong.
        what: String,
    },
}

impl SimError {
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
        if self.patience_s.is_none() {
            // with nobody abandoning, an overloaded queue grows by the
            // difference between arrivals and what the agents can handle
            let capacity = f64::from(self.agents) * 3600.0 / (self.aht_s + self.wrap_up_s);
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
}

#[cfg(test)]
mod tests {
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
