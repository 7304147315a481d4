//! `[duty]` and `[[roster]]`: the duty floor — the weekly roster pattern,
//! the relief and meal rules, the continuous-work limit, the supervisors on
//! duty per shift and the handover deadline.

use std::collections::BTreeMap;

use hotline_core::{AgentId, QueueId};
use hotline_duty::{DutyRules, MealRule, Roster, WeeklyEntry};
use serde::Deserialize;

use crate::config::{invalid, ConfigError};

/// `[duty]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DutySection {
    /// The duty floor's API routes, the handover watch and the engine's rules.
    pub enabled: bool,
    /// The last agents of a shift may not pause or log out until the next
    /// shift's agents are logged in.
    pub relief: bool,
    /// Agents the relief rule keeps on the floor (1–50).
    pub relief_min: u32,
    /// A shift starting within this many minutes counts as the next one (0–720).
    pub relief_window_min: u32,
    /// Meal periods with a minimum on the floor.
    pub meals: Vec<MealSection>,
    /// Continuous work longer than this raises a warning, hours (1–24).
    pub max_continuous_work_h: u32,
    /// A pause or absence this long ends a stretch of work, minutes (1–240).
    pub rest_break_min: u32,
    /// A login later than this after the start is late, minutes (0–120).
    pub late_grace_min: u32,
    /// A logout earlier than this before the end is leaving early, minutes (0–120).
    pub early_grace_min: u32,
    /// A shift's handover is missing this many minutes after its end (1–720).
    pub handover_grace_min: u32,
    /// An empty floor while agents are rostered raises `floor_alarm`.
    pub empty_floor_alarm: bool,
    /// Supervisors on duty per shift name (console user names).
    pub supervisors: BTreeMap<String, Vec<String>>,
}

impl Default for DutySection {
    fn default() -> Self {
        DutySection {
            enabled: true,
            relief: true,
            relief_min: 1,
            relief_window_min: 60,
            meals: Vec::new(),
            max_continuous_work_h: 8,
            rest_break_min: 30,
            late_grace_min: 5,
            early_grace_min: 5,
            handover_grace_min: 15,
            empty_floor_alarm: true,
            supervisors: BTreeMap::new(),
        }
    }
}

/// `[[duty.meals]]`: during `period` of `shift`, at least `min_on_floor`
/// agents (of `queue`, if given) stay available.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MealSection {
    /// A `[[shifts]]` name.
    pub shift: String,
    /// `HH:MM-HH:MM` local time.
    pub period: String,
    /// A queue whose members count (absent: every agent).
    #[serde(default)]
    pub queue: Option<String>,
    /// Agents that stay available (1–100).
    pub min_on_floor: u32,
}

/// `[[roster]]`: the weekly pattern, one line per agent and shift.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterSection {
    /// A configured agent.
    pub agent: String,
    /// A `[[shifts]]` name.
    pub shift: String,
    /// The weekdays the shift starts on: `mon` .. `sun`.
    pub days: Vec<String>,
}

/// What the duty floor is built from.
pub struct Duty {
    /// The roster of the config (no per-date changes).
    pub roster: Roster,
    /// The rules.
    pub rules: DutyRules,
}

impl DutySection {
    /// Checks `[duty]` and `[[roster]]` against the shifts, agents and
    /// queues, and builds the roster and rules (errors name the key).
    pub fn build(&self, cfg: &crate::config::Config) -> Result<Duty, ConfigError> {
        let range = |key: &str, v: u32, lo: u32, hi: u32, unit: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(invalid(
                    format!("duty.{key}"),
                    format!("{lo} to {hi} {unit}"),
                ))
            }
        };
        range("relief_min", self.relief_min, 1, 50, "agents")?;
        range(
            "relief_window_min",
            self.relief_window_min,
            0,
            720,
            "minutes",
        )?;
        range(
            "max_continuous_work_h",
            self.max_continuous_work_h,
            1,
            24,
            "hours",
        )?;
        range("rest_break_min", self.rest_break_min, 1, 240, "minutes")?;
        range("late_grace_min", self.late_grace_min, 0, 120, "minutes")?;
        range("early_grace_min", self.early_grace_min, 0, 120, "minutes")?;
        range(
            "handover_grace_min",
            self.handover_grace_min,
            1,
            720,
            "minutes",
        )?;
        let shifts = crate::config::schedule::shifts(&cfg.shifts)?;
        let known_shift = |key: String, name: &str| {
            if shifts.iter().any(|s| s.name == name) {
                Ok(())
            } else {
                Err(invalid(
                    key,
                    format!(
                        "unknown shift `{}` (not in [[shifts]])",
                        name.chars().take(64).collect::<String>()
                    ),
                ))
            }
        };
        let mut meals = Vec::with_capacity(self.meals.len());
        for (i, m) in self.meals.iter().enumerate() {
            let key = |k: &str| format!("duty.meals[{i}].{k}");
            known_shift(key("shift"), &m.shift)?;
            let period = m
                .period
                .parse()
                .map_err(|e: hotline_core::CalendarError| invalid(key("period"), e.to_string()))?;
            if !(1..=100).contains(&m.min_on_floor) {
                return Err(invalid(key("min_on_floor"), "1 to 100 agents"));
            }
            let members = match &m.queue {
                None => Vec::new(),
                Some(q) => match cfg.queues.iter().find(|s| &s.id == q) {
                    Some(s) if s.members.is_empty() => Vec::new(),
                    Some(s) => s.members.iter().map(|a| AgentId::new(a.clone())).collect(),
                    None if *q == cfg.hotline.queue => Vec::new(),
                    None => {
                        return Err(invalid(
                            key("queue"),
                            format!("unknown queue `{}`", q.chars().take(64).collect::<String>()),
                        ))
                    }
                },
            };
            meals.push(MealRule {
                shift: m.shift.clone(),
                period,
                queue: m.queue.clone().map(QueueId::new),
                members,
                min_on_floor: m.min_on_floor,
            });
        }
        for (shift, people) in &self.supervisors {
            known_shift(format!("duty.supervisors.{shift}"), shift)?;
            if people.is_empty() || people.iter().any(|p| p.is_empty() || p.len() > 64) {
                return Err(invalid(
                    format!("duty.supervisors.{shift}"),
                    "1 or more names of 1-64 characters",
                ));
            }
        }
        let mut pattern = Vec::with_capacity(cfg.roster.len());
        for (i, r) in cfg.roster.iter().enumerate() {
            let key = |k: &str| format!("roster[{i}].{k}");
            known_shift(key("shift"), &r.shift)?;
            if r.days.is_empty() {
                return Err(invalid(
                    key("days"),
                    "at least one of mon, tue, wed, thu, fri, sat, sun",
                ));
            }
            let days = r
                .days
                .iter()
                .map(|d| hotline_duty::roster::parse_weekday(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(key("days"), e.to_string()))?;
            if !cfg.agents.iter().any(|a| a.id == r.agent) {
                return Err(invalid(
                    key("agent"),
                    format!(
                        "unknown agent `{}` (not in [[agents]])",
                        r.agent.chars().take(64).collect::<String>()
                    ),
                ));
            }
            pattern.push(WeeklyEntry {
                agent: AgentId::new(r.agent.clone()),
                shift: r.shift.clone(),
                days,
            });
        }
        let agents = cfg.agents.iter().map(|a| AgentId::new(a.id.clone()));
        let roster =
            Roster::new(shifts, agents, pattern).map_err(|e| invalid("roster", e.to_string()))?;
        let min = 60_000i64;
        Ok(Duty {
            roster,
            rules: DutyRules {
                relief: self.relief,
                relief_min: self.relief_min,
                relief_window_ms: i64::from(self.relief_window_min) * min,
                meals,
                max_continuous_ms: i64::from(self.max_continuous_work_h) * 60 * min,
                rest_break_ms: i64::from(self.rest_break_min) * min,
                late_grace_ms: i64::from(self.late_grace_min) * min,
                early_grace_ms: i64::from(self.early_grace_min) * min,
                supervisors: self.supervisors.clone(),
                empty_floor_alarm: self.empty_floor_alarm,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = r#"
[[agents]]
id = "1001"
password = "secret-pw"

[[agents]]
id = "1002"
password = "secret-pw"

[[shifts]]
name = "early"
start = "08:00"
end = "15:00"

[[shifts]]
name = "middle"
start = "13:00"
end = "20:00"
"#;

    fn build(extra: &str) -> Result<super::Duty, String> {
        let cfg = Config::parse(&format!("{BASE}\n{extra}")).map_err(|e| e.to_string())?;
        cfg.duty.build(&cfg).map_err(|e| e.to_string())
    }

    #[test]
    fn a_roster_and_rules_build() {
        let d = build(
            r#"
[duty]
supervisors = { early = ["lead"] }

[[duty.meals]]
shift = "early"
period = "11:30-13:00"
min_on_floor = 1

[[roster]]
agent = "1001"
shift = "early"
days = ["mon", "tue", "wed", "thu", "fri"]

[[roster]]
agent = "1002"
shift = "middle"
days = ["mon", "Tuesday"]
"#,
        )
        .unwrap();
        assert_eq!(d.roster.pattern().len(), 2);
        assert_eq!(d.rules.meals.len(), 1);
        assert_eq!(d.rules.max_continuous_ms, 8 * 3_600_000);
        assert!(d.rules.relief);
    }

    #[test]
    fn bad_duty_config_names_the_key() {
        for (extra, key) in [
            (
                "[[roster]]\nagent = \"9999\"\nshift = \"early\"\ndays = [\"mon\"]",
                "roster[0].agent",
            ),
            (
                "[[roster]]\nagent = \"1001\"\nshift = \"night\"\ndays = [\"mon\"]",
                "roster[0].shift",
            ),
            (
                "[[roster]]\nagent = \"1001\"\nshift = \"early\"\ndays = [\"funday\"]",
                "roster[0].days",
            ),
            (
                "[[roster]]\nagent = \"1001\"\nshift = \"early\"\ndays = []",
                "roster[0].days",
            ),
            (
                "[[roster]]\nagent = \"1001\"\nshift = \"early\"\ndays = [\"mon\"]\n\
                 [[roster]]\nagent = \"1001\"\nshift = \"middle\"\ndays = [\"mon\"]",
                "overlapping",
            ),
            ("[duty]\nmax_continuous_work_h = 0", "duty.max_continuous_work_h"),
            ("[duty]\nrelief_min = 0", "duty.relief_min"),
            ("[duty]\nhandover_grace_min = 0", "duty.handover_grace_min"),
            (
                "[[duty.meals]]\nshift = \"early\"\nperiod = \"12:00-12:00\"\nmin_on_floor = 1",
                "duty.meals[0].period",
            ),
            (
                "[[duty.meals]]\nshift = \"lunch\"\nperiod = \"12:00-13:00\"\nmin_on_floor = 1",
                "duty.meals[0].shift",
            ),
            (
                "[[duty.meals]]\nshift = \"early\"\nperiod = \"12:00-13:00\"\nmin_on_floor = 0",
                "duty.meals[0].min_on_floor",
            ),
            (
                "[[duty.meals]]\nshift = \"early\"\nperiod = \"12:00-13:00\"\nmin_on_floor = 1\nqueue = \"nope\"",
                "duty.meals[0].queue",
            ),
            ("[duty]\nsupervisors = { night = [\"lead\"] }", "duty.supervisors.night"),
            ("[duty]\nsupervisors = { early = [] }", "duty.supervisors.early"),
            ("[duty]\nrelieve = true", "relieve"),
            ("[[roster]]\nagent = \"1001\"\nshift = \"early\"\ndays = [\"mon\"]\nhours = 3", "hours"),
        ] {
            let e = build(extra).err().unwrap_or_else(|| panic!("{extra} was accepted"));
            assert!(e.contains(key), "{extra}: {e}");
        }
    }
}
