//! The floor now: who is on it (from the agent events), and the rules the
//! engine asks before an agent pauses or logs out — the relief rule (the
//! last agents of a shift stay until the next shift is logged in), the meal
//! minimum — plus the alarms: an agent who leaves by unregistering while
//! needed, an empty floor while agents are rostered, and continuous work
//! past the limit. Sans-IO: every call takes `now`.

use crate::roster::{Duty, Roster};
use hotline_core::{AgentId, Calendar, CallEvent, EventKind, QueueId, ShiftPart};
use std::collections::{BTreeMap, BTreeSet};

const MINUTE_MS: i64 = 60_000;

/// A meal period of a shift: during it, at least `min_on_floor` agents
/// (of `members`, when the rule is for a queue) stay available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealRule {
    /// The shift (`[[shifts]]` name) whose occurrence must be running.
    pub shift: String,
    /// The local period, e.g. `11:30-13:00`.
    pub period: ShiftPart,
    /// The queue the minimum is for (None: the whole floor).
    pub queue: Option<QueueId>,
    /// The queue's members (empty: every agent counts).
    pub members: Vec<AgentId>,
    /// Agents that must stay available.
    pub min_on_floor: u32,
}

/// The duty rules (`[duty]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyRules {
    /// The relief rule is on.
    pub relief: bool,
    /// Agents who stay on the floor until the next shift is logged in.
    pub relief_min: u32,
    /// A shift starting within this long is "the next shift", ms.
    pub relief_window_ms: i64,
    /// Meal periods with their minimum.
    pub meals: Vec<MealRule>,
    /// Continuous work longer than this raises a warning, ms.
    pub max_continuous_ms: i64,
    /// A pause or absence this long ends a stretch of continuous work, ms.
    pub rest_break_ms: i64,
    /// Logging in later than this after the start is late, ms.
    pub late_grace_ms: i64,
    /// Leaving earlier than this before the end is leaving early, ms.
    pub early_grace_ms: i64,
    /// Supervisors on duty per shift name.
    pub supervisors: BTreeMap<String, Vec<String>>,
    /// An empty floor while someone is rostered raises a floor alarm.
    pub empty_floor_alarm: bool,
}

impl Default for DutyRules {
    fn default() -> Self {
        DutyRules {
            relief: true,
            relief_min: 1,
            relief_window_ms: 60 * MINUTE_MS,
            meals: Vec::new(),
            max_continuous_ms: 8 * 60 * MINUTE_MS,
            rest_break_ms: 30 * MINUTE_MS,
            late_grace_ms: 5 * MINUTE_MS,
            early_grace_ms: 5 * MINUTE_MS,
            supervisors: BTreeMap::new(),
            empty_floor_alarm: true,
        }
    }
}

/// What an agent wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Pause.
    Pause,
    /// Log out.
    Logout,
    /// Unregister the phone (not asked: it happened).
    Unregister,
}

impl Leave {
    /// `pause`, `logout`, `unregister`.
    pub fn as_str(self) -> &'static str {
        match self {
            Leave::Pause => "pause",
            Leave::Logout => "logout",
            Leave::Unregister => "unregister",
        }
    }
}

/// The answer to "may this agent leave the floor now?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Yes.
    Allowed,
    /// No, with the reason (for the agent, the event and the API).
    Refused {
        /// Why.
        reason: String,
        /// The shift concerned.
        shift: Option<String>,
    },
}

/// One agent's presence.
#[derive(Debug, Clone, Default)]
struct Presence {
    contacts: BTreeSet<String>,
    logged_out: bool,
    paused: bool,
    /// Available since (start of the current stretch of work).
    working_since: Option<i64>,
    /// Off the floor since (ended the last stretch of work).
    off_since: Option<i64>,
    /// The current stretch was warned about.
    warned: bool,
}

impl Presence {
    fn on_floor(&self) -> bool {
        !self.contacts.is_empty() && !self.logged_out && !self.paused
    }
}

/// Who is on the floor, and the duty rules.
#[derive(Debug, Clone)]
pub struct Floor {
    cal: Calendar,
    rules: DutyRules,
    agents: BTreeMap<AgentId, Presence>,
    empty_alarmed: bool,
}

impl Floor {
    /// An empty floor under `rules` in the center's calendar.
    pub fn new(cal: Calendar, rules: DutyRules) -> Self {
        Floor {
            cal,
            rules,
            agents: BTreeMap::new(),
            empty_alarmed: false,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &DutyRules {
        &self.rules
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.cal
    }

    /// Whether `agent` is available (registered, logged in, not paused).
    pub fn on_floor(&self, agent: &AgentId) -> bool {
        self.agents.get(agent).is_some_and(Presence::on_floor)
    }

    /// The agents on the floor.
    pub fn present(&self) -> Vec<AgentId> {
        self.agents
            .iter()
            .filter(|(_, p)| p.on_floor())
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Takes an agent event (registration, login, pause...) and returns the
    /// alarms it raises: a `floor_alarm` when an agent who was needed on
    /// the floor unregistered (the rules would have refused them leaving).
    pub fn observe(&mut self, roster: &Roster, e: &CallEvent) -> Vec<CallEvent> {
        let Some(agent) = e.agent.clone() else {
            return Vec::new();
        };
        let now = e.at_ms;
        let mut alarms = Vec::new();
        let was_on = self.on_floor(&agent);
        if let EventKind::AgentUnregistered { contact } = &e.kind {
            let p = self.agents.get(&agent);
            let last_contact =
                p.is_some_and(|p| p.contacts.len() == 1 && p.contacts.contains(contact));
            if was_on && last_contact {
                if let Decision::Refused { reason, shift } =
                    self.may_leave(roster, now, &agent, Leave::Unregister)
                {
                    tracing::warn!(agent = %agent, %reason, "agent left the floor by unregistering");
                    alarms.push(CallEvent {
                        at_ms: now,
                        call_id: None,
                        agent: Some(agent.clone()),
                        queue: None,
                        kind: EventKind::FloorAlarm {
                            reason: format!("{agent} unregistered while needed: {reason}"),
                            shift,
                        },
                    });
                }
            }
        }
        let p = self.agents.entry(agent).or_default();
        match &e.kind {
            EventKind::AgentRegistered { contact, .. } => {
                p.contacts.insert(contact.clone());
            }
            EventKind::AgentUnregistered { contact } => {
                p.contacts.remove(contact);
            }
            EventKind::AgentLoggedIn { .. } => p.logged_out = false,
            EventKind::AgentLoggedOut { .. } => {
                p.logged_out = true;
                p.paused = false;
            }
            EventKind::AgentPaused { .. } => p.paused = true,
            EventKind::AgentUnpaused { .. } => p.paused = false,
            _ => return alarms,
        }
        let is_on = p.on_floor();
        if is_on && !was_on {
            // a break shorter than the rest break continues the stretch
            let rested = p
                .off_since
                .is_none_or(|off| now - off >= self.rules.rest_break_ms);
            if rested || p.working_since.is_none() {
                p.working_since = Some(now);
                p.warned = false;
            }
            p.off_since = None;
        } else if was_on && !is_on {
            p.off_since = Some(now);
        }
        if is_on {
            self.empty_alarmed = false;
        }
        alarms
    }

    /// Whether `agent` may leave the floor now (pause, log out). An agent
    /// not on the floor may always (logging out from a pause).
    pub fn may_leave(&self, roster: &Roster, now: i64, agent: &AgentId, leave: Leave) -> Decision {
        if !self.on_floor(agent) {
            return Decision::Allowed;
        }
        let others: Vec<&AgentId> = self
            .agents
            .iter()
            .filter(|(a, p)| *a != agent && p.on_floor())
            .map(|(a, _)| a)
            .collect();
        // the meal minimum
        let local = self.cal.local(now).ok();
        for m in &self.rules.meals {
            let Some(local) = local else { break };
            let minute = (local.hour() as u16) * 60 + local.minute() as u16;
            let (s, e) = (m.period.start.minutes(), m.period.end.minutes());
            let inside = if s < e {
                s <= minute && minute < e
            } else {
                minute >= s || minute < e
            };
            if !inside || !self.shift_running(roster, &m.shift, now) {
                continue;
            }
            let counts = |a: &AgentId| m.members.is_empty() || m.members.contains(a);
            if !counts(agent) {
                continue;
            }
            let left = others.iter().filter(|a| counts(a)).count() as u32;
            if left < m.min_on_floor {
                let whose = match &m.queue {
                    Some(q) => format!(" of queue {q}"),
                    None => String::new(),
                };
                return Decision::Refused {
                    reason: format!(
                        "meal period {} of shift {}: at least {} agent(s){whose} must stay on the floor ({} would be left)",
                        m.period, m.shift, m.min_on_floor, left
                    ),
                    shift: Some(m.shift.clone()),
                };
            }
        }
        // relief: the last agents stay until the next shift is logged in
        if self.rules.relief && (others.len() as u32) < self.rules.relief_min {
            let window_end = now + self.rules.relief_window_ms;
            let duties = roster
                .between(&self.cal, now, window_end.max(now + 1))
                .unwrap_or_default();
            let needed: Vec<&Duty> = duties
                .iter()
                .filter(|d| d.covers(now) || (d.start_ms > now && d.start_ms <= window_end))
                .collect();
            let own = needed.iter().find(|d| &d.agent == agent && d.covers(now));
            let relievers: Vec<&&Duty> = needed.iter().filter(|d| &d.agent != agent).collect();
            if let Some(own) = own.filter(|_| relievers.is_empty()) {
                return Decision::Refused {
                    reason: format!(
                        "you are the last agent on the floor during your shift {} (until {})",
                        own.shift,
                        self.cal.format(own.end_ms)
                    ),
                    shift: Some(own.shift.clone()),
                };
            }
            if !relievers.is_empty() {
                let mut names: Vec<String> =
                    relievers.iter().map(|d| d.agent.to_string()).collect();
                names.dedup();
                let shift = relievers.first().map(|d| d.shift.clone());
                let what = match leave {
                    Leave::Unregister => "left",
                    _ => "may not leave",
                };
                return Decision::Refused {
                    reason: format!(
                        "the last agent on the floor {what} before the next shift is logged in (rostered: {})",
                        names.join(", ")
                    ),
                    shift,
                };
            }
        }
        Decision::Allowed
    }

    fn shift_running(&self, roster: &Roster, name: &str, now: i64) -> bool {
        let Some(shift) = roster.shifts().iter().find(|s| s.name == name) else {
            return false;
        };
        let Ok(today) = self.cal.date_of(now) else {
            return false;
        };
        [today.yesterday().ok(), Some(today)]
            .into_iter()
            .flatten()
            .any(|d| {
                shift
                    .on(&self.cal, d)
                    .is_ok_and(|(a, b)| a <= now && now < b)
            })
    }

    /// Time passes: continuous-work warnings (once per stretch) and an
    /// empty-floor alarm while agents are rostered (once until someone is
    /// on the floor again).
    pub fn tick(&mut self, roster: &Roster, now: i64) -> Vec<CallEvent> {
        let mut out = Vec::new();
        let limit = self.rules.max_continuous_ms;
        for (agent, p) in self.agents.iter_mut() {
            let Some(since) = p.working_since else {
                continue;
            };
            // a stretch ends when the break reached the rest break
            if let Some(off) = p.off_since {
                if now - off >= self.rules.rest_break_ms {
                    p.working_since = None;
                    continue;
                }
            }
            let worked = p.off_since.unwrap_or(now) - since;
            if limit > 0 && worked > limit && !p.warned {
                p.warned = true;
                tracing::warn!(agent = %agent, worked_ms = worked, "continuous work past the limit");
                out.push(CallEvent {
                    at_ms: now,
                    call_id: None,
                    agent: Some(agent.clone()),
                    queue: None,
                    kind: EventKind::ContinuousWorkWarning {
                        worked_ms: worked,
                        limit_ms: limit,
                    },
                });
            }
        }
        if self.rules.empty_floor_alarm && !self.empty_alarmed {
            let rostered = roster.at(&self.cal, now);
            if !rostered.is_empty() && !self.agents.values().any(Presence::on_floor) {
                self.empty_alarmed = true;
                let names: Vec<String> = rostered.iter().map(|d| d.agent.to_string()).collect();
                out.push(CallEvent {
                    at_ms: now,
                    call_id: None,
                    agent: None,
                    queue: None,
                    kind: EventKind::FloorAlarm {
                        reason: format!("the floor is empty; rostered now: {}", names.join(", ")),
                        shift: rostered.first().map(|d| d.shift.clone()),
                    },
                });
            }
        }
        out
    }

    /// When the next [`Floor::tick`] could raise something, epoch ms (the
    /// earliest continuous-work limit; else a minute from now).
    pub fn next_tick(&self, now: i64) -> i64 {
        self.agents
            .values()
            .filter(|p| !p.warned && p.off_since.is_none())
            .filter_map(|p| p.working_since)
            .map(|s| s + self.rules.max_continuous_ms + 1)
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now + MINUTE_MS)
            .min(now + MINUTE_MS)
    }
}
