//! The duty floor (sans-IO): the roster of agents per shift and local date,
//! attendance against it (出勤率, late, absent, left early, adherence), the
//! relief and meal rules the engine asks before an agent pauses or logs
//! out, the floor alarms and the continuous-work warning, the people a
//! missed call is charged to, and the handover's prefilled items.
//!
//! Time is always an argument (`now`, epoch ms); the center's calendar
//! (`hotline_core::Calendar`) turns shifts into instants, daylight saving
//! included. Tests run simulated days and weeks in milliseconds.

#![warn(missing_docs)]

pub mod attendance;
pub mod csv;
pub mod floor;
#[doc(hidden)]
pub mod fuzzing;
pub mod handover;
pub mod report;
pub mod roster;

pub use attendance::{attendance, Attendance, DutyAttendance, Grace};
pub use floor::{Decision, DutyRules, Floor, Leave, MealRule};
pub use roster::{ChangeOp, Duty, Roster, RosterChange, RosterError, WeeklyEntry};

use hotline_core::{AgentId, Calendar};
use serde::Serialize;

/// What the engine does with a request to leave the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused by a rule; the supervisor `by` overrode it (log it).
    Overridden {
        /// The rule's reason.
        reason: String,
    },
    /// Refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// Asks the floor whether `agent` may pause or log out now; a supervisor's
/// `override_by` turns a refusal into [`Verdict::Overridden`].
pub fn decide(
    floor: &Floor,
    roster: &Roster,
    now: i64,
    agent: &AgentId,
    leave: Leave,
    override_by: Option<&str>,
) -> Verdict {
    match (floor.may_leave(roster, now, agent, leave), override_by) {
        (Decision::Allowed, _) => Verdict::Allowed,
        (Decision::Refused { reason, .. }, Some(_)) => Verdict::Overridden { reason },
        (Decision::Refused { reason, .. }, None) => Verdict::Refused { reason },
    }
}

/// Who was on duty at an instant: the people a missed call is charged to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OnDuty {
    /// Shifts running (by the rostered duties working then).
    pub shifts: Vec<String>,
    /// Agents rostered and working then.
    pub agents: Vec<String>,
    /// Supervisors on duty (`duty.supervisors` of those shifts).
    pub supervisors: Vec<String>,
}

/// The agents and supervisors on duty at `at` (epoch ms).
pub fn on_duty(roster: &Roster, rules: &DutyRules, cal: &Calendar, at: i64) -> OnDuty {
    let mut out = OnDuty::default();
    for d in roster.at(cal, at) {
        if !out.shifts.contains(&d.shift) {
            out.shifts.push(d.shift.clone());
        }
        let a = d.agent.to_string();
        if !out.agents.contains(&a) {
            out.agents.push(a);
        }
    }
    // configured shifts running then, also with nobody rostered
    let today = cal.date_of(at).ok();
    for s in roster.shifts() {
        let running = today
            .into_iter()
            .flat_map(|t| [t.yesterday().ok(), Some(t)])
            .flatten()
            .any(|d| s.on(cal, d).is_ok_and(|(a, b)| a <= at && at < b));
        if running && !out.shifts.contains(&s.name) {
            out.shifts.push(s.name.clone());
        }
    }
    for s in &out.shifts {
        for sup in rules.supervisors.get(s).into_iter().flatten() {
            if !out.supervisors.contains(sup) {
                out.supervisors.push(sup.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
