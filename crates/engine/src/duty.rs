//! The duty floor in the engine: the relief and meal rules asked before an
//! agent pauses or logs out (feature code or API), and the floor alarms and
//! continuous-work warnings raised from the agents' presence changes. The
//! rules are `hotline-duty`'s (sans-IO); this is the wiring.
//!
//! The roster lives in memory behind a [`DutyBoard`] so a request never
//! waits on the database: the API side loads the per-date changes from the
//! store at start and replaces the roster after every change.

use std::sync::{Arc, RwLock};

use hotline_callflow::{AgentRequest, ControlError, Requester};
use hotline_core::{AgentId, CallEvent, EventKind};
use hotline_duty::{decide, DutyRules, Floor, Leave, Roster, Verdict};

/// The roster shared by the API side (writer) and the engine (reader), with
/// the duty rules; cheap to clone.
#[derive(Clone, Debug)]
pub struct DutyBoard {
    roster: Arc<RwLock<Arc<Roster>>>,
    rules: Arc<DutyRules>,
    cal: hotline_core::Calendar,
}

impl DutyBoard {
    /// A board with `roster` under `rules` in the center's calendar.
    pub fn new(roster: Roster, rules: DutyRules, cal: hotline_core::Calendar) -> Self {
        DutyBoard {
            roster: Arc::new(RwLock::new(Arc::new(roster))),
            rules: Arc::new(rules),
            cal,
        }
    }

    /// The roster now.
    pub fn roster(&self) -> Arc<Roster> {
        match self.roster.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `roster` in place of the current one.
    pub fn replace(&self, roster: Roster) {
        let new = Arc::new(roster);
        match self.roster.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &DutyRules {
        &self.rules
    }

    /// The center's calendar.
    pub fn calendar(&self) -> &hotline_core::Calendar {
        &self.cal
    }
}

/// The controller task's part of the duty floor.
pub(crate) struct DutyDesk {
    board: DutyBoard,
    floor: Floor,
}

impl DutyDesk {
    pub(crate) fn new(board: DutyBoard) -> Self {
        let floor = Floor::new(board.cal.clone(), (*board.rules).clone());
        DutyDesk { board, floor }
    }

    /// Asks the rules before a pause or logout. `Err` = refused (the
    /// refusal event is in the returned events); `Ok(Some(event))` = a
    /// supervisor overrode a refusal (publish the event once the request
    /// went through).
    pub(crate) fn check(
        &self,
        now: i64,
        agent: &AgentId,
        request: &AgentRequest,
        requester: &Requester,
    ) -> Result<Option<CallEvent>, Box<(ControlError, CallEvent)>> {
        let leave = match request {
            AgentRequest::Pause { .. } => Leave::Pause,
            AgentRequest::Logout => Leave::Logout,
            _ => return Ok(None),
        };
        let roster = self.board.roster();
        let by = requester.by.as_str();
        let override_by = requester.override_minimum.then_some(by);
        let event = |kind| CallEvent {
            at_ms: now,
            call_id: None,
            agent: Some(agent.clone()),
            queue: None,
            kind,
        };
        match decide(&self.floor, &roster, now, agent, leave, override_by) {
            Verdict::Allowed => Ok(None),
            Verdict::Overridden { reason } => {
                tracing::warn!(agent = %agent, %by, %reason, "duty rule overridden by a supervisor");
                Ok(Some(event(EventKind::ReliefOverridden {
                    request: leave.as_str().to_string(),
                    reason,
                    by: by.to_string(),
                })))
            }
            Verdict::Refused { reason } => {
                tracing::warn!(agent = %agent, request = leave.as_str(), %reason, "refused by the duty rules");
                Err(Box::new((
                    ControlError::Refused(reason.clone()),
                    event(EventKind::AgentRequestRefused {
                        request: leave.as_str().to_string(),
                        reason,
                        by: by.to_string(),
                    }),
                )))
            }
        }
    }

    /// An event went out: the presence changes it makes, and the alarms.
    pub(crate) fn observe(&mut self, e: &CallEvent) -> Vec<CallEvent> {
        if e.agent.is_none() {
            return Vec::new();
        }
        let roster = self.board.roster();
        self.floor.observe(&roster, e)
    }

    /// Time passes: continuous-work warnings, the empty-floor alarm.
    pub(crate) fn tick(&mut self, now: i64) -> Vec<CallEvent> {
        let roster = self.board.roster();
        self.floor.tick(&roster, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::{Calendar, Shift};
    use hotline_duty::WeeklyEntry;

    fn desk() -> (DutyDesk, DutyBoard, i64) {
        let cal = Calendar::utc();
        let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| hotline_duty::roster::parse_weekday(d).unwrap())
            .collect::<Vec<_>>();
        let roster = Roster::new(
            vec![
                Shift::new("day", vec!["08:00-16:00".parse().unwrap()]).unwrap(),
                Shift::new("night", vec!["16:00-23:00".parse().unwrap()]).unwrap(),
            ],
            [AgentId::new("1001"), AgentId::new("1002")],
            vec![
                WeeklyEntry {
                    agent: AgentId::new("1001"),
                    shift: "day".into(),
                    days: every_day.clone(),
                },
                WeeklyEntry {
                    agent: AgentId::new("1002"),
                    shift: "night".into(),
                    days: every_day,
                },
            ],
        )
        .unwrap();
        let board = DutyBoard::new(roster, DutyRules::default(), cal.clone());
        let now = cal.parse_instant("2026-12-07T16:05").unwrap();
        (DutyDesk::new(board.clone()), board, now)
    }

    fn registered(now: i64, agent: &str) -> CallEvent {
        CallEvent {
            at_ms: now,
            call_id: None,
            agent: Some(AgentId::new(agent)),
            queue: None,
            kind: EventKind::AgentRegistered {
                contact: format!("sip:{agent}@127.0.0.1"),
                expires_s: 3600,
            },
        }
    }

    #[test]
    fn pause_and_logout_ask_the_duty_rules() {
        let (mut d, board, now) = desk();
        assert!(d.observe(&registered(now - 60_000, "1001")).is_empty());
        let agent = AgentId::new("1001");
        let phone = Requester {
            by: "phone".into(),
            override_minimum: false,
        };
        let pause = AgentRequest::Pause {
            reason: "meal".into(),
        };
        // 16:05: the night (1002) has not arrived
        let refused = d.check(now, &agent, &pause, &phone).unwrap_err();
        assert!(matches!(refused.0, ControlError::Refused(ref r) if r.contains("1002")));
        assert!(matches!(
            refused.1.kind,
            EventKind::AgentRequestRefused { ref request, ref by, .. } if request == "pause" && by == "phone"
        ));
        assert!(d.check(now, &agent, &AgentRequest::Logout, &phone).is_err());
        // unpause and login are not the rules' business
        assert!(matches!(
            d.check(now, &agent, &AgentRequest::Unpause, &phone),
            Ok(None)
        ));
        // a supervisor overrides: allowed, with the event to log
        let lead = Requester {
            by: "api:lead".into(),
            override_minimum: true,
        };
        let ev = d.check(now, &agent, &pause, &lead).unwrap().unwrap();
        assert!(matches!(ev.kind, EventKind::ReliefOverridden { ref by, .. } if by == "api:lead"));
        // the night arrives: allowed
        d.observe(&registered(now, "1002"));
        assert!(matches!(d.check(now, &agent, &pause, &phone), Ok(None)));
        // a roster change on the board is seen at once: 1002 off tonight
        let mut r = (*board.roster()).clone();
        r.apply(
            board.calendar(),
            hotline_duty::RosterChange {
                date: jiff::civil::date(2026, 12, 7),
                agent: AgentId::new("1002"),
                shift: String::new(),
                op: hotline_duty::ChangeOp::Remove,
                note: String::new(),
            },
        )
        .unwrap();
        board.replace(r);
        assert_eq!(board.roster().at(board.calendar(), now).len(), 0);
        // the floor alarm when 1002, the last rostered... nobody is rostered now
        let gone = CallEvent {
            kind: EventKind::AgentUnregistered {
                contact: "sip:1002@127.0.0.1".into(),
            },
            ..registered(now + 1000, "1002")
        };
        assert!(d.observe(&gone).is_empty());
        assert!(d.tick(now + 2000).is_empty());
    }
}
