//! Attendance against the roster, from the agent events of the log:
//! present, late, absent, left early per duty; 出勤率 = present ÷ scheduled;
//! adherence = the share of scheduled working time the agent was available
//! (registered, logged in, not paused).

use crate::roster::Duty;
use hotline_core::{AgentId, CallEvent, EventKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Stretches of one agent's presence: `(from, to, paused)`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    spans: Vec<(i64, i64, bool)>,
}

#[derive(Default)]
struct State {
    /// Contact → registered until (epoch ms; i64::MAX without expiry).
    contacts: BTreeMap<String, i64>,
    logged_out: bool,
    paused: bool,
}

impl Presence {
    /// Folds one agent's events (any order, duplicates harmless) into
    /// stretches of being logged in; a registration counts until it
    /// expires, so a log cut by a crash does not keep anyone present.
    pub fn of(events: &[&CallEvent], until_ms: i64) -> Presence {
        let mut evs: Vec<&CallEvent> = events.to_vec();
        evs.sort_by_key(|e| e.at_ms);
        let mut st = State::default();
        let mut spans: Vec<(i64, i64, bool)> = Vec::new();
        let mut push = |st: &State, a: i64, b: i64| {
            if st.logged_out {
                return;
            }
            let reg_until = st.contacts.values().copied().max().unwrap_or(i64::MIN);
            let b = b.min(reg_until);
            if b > a {
                match spans.last_mut() {
                    Some(l) if l.1 == a && l.2 == st.paused => l.1 = b,
                    _ => spans.push((a, b, st.paused)),
                }
            }
        };
        let mut prev = i64::MIN;
        for e in evs {
            if e.at_ms > prev && prev != i64::MIN {
                push(&st, prev, e.at_ms.min(until_ms));
            }
            prev = prev.max(e.at_ms);
            match &e.kind {
                EventKind::AgentRegistered { contact, expires_s } => {
                    let until = if *expires_s == 0 {
                        i64::MAX
                    } else {
                        e.at_ms.saturating_add(i64::from(*expires_s) * 1000)
                    };
                    st.contacts.insert(contact.clone(), until);
                }
                EventKind::AgentUnregistered { contact } => {
                    st.contacts.remove(contact);
                }
                EventKind::AgentLoggedIn { .. } => st.logged_out = false,
                EventKind::AgentLoggedOut { .. } => {
                    st.logged_out = true;
                    st.paused = false;
                }
                EventKind::AgentPaused { .. } => st.paused = true,
                EventKind::AgentUnpaused { .. } => st.paused = false,
                _ => {}
            }
        }
        if prev != i64::MIN && until_ms > prev {
            push(&st, prev, until_ms);
        }
        Presence { spans }
    }

    /// Logged-in time (paused or not) within `[a, b)`, ms.
    pub fn logged_in_ms(&self, a: i64, b: i64) -> i64 {
        self.sum(a, b, |_| true)
    }

    /// Available time (logged in, not paused) within `[a, b)`, ms.
    pub fn available_ms(&self, a: i64, b: i64) -> i64 {
        self.sum(a, b, |paused| !paused)
    }

    fn sum(&self, a: i64, b: i64, keep: impl Fn(bool) -> bool) -> i64 {
        self.spans
            .iter()
            .filter(|s| keep(s.2))
            .map(|s| (s.1.min(b) - s.0.max(a)).max(0))
            .sum()
    }

    /// The first instant logged in within `[a, b)`.
    pub fn first_in(&self, a: i64, b: i64) -> Option<i64> {
        self.spans
            .iter()
            .find(|s| s.1 > a && s.0 < b)
            .map(|s| s.0.max(a))
    }

    /// The last instant logged in within `[a, b)` (the end of the last
    /// stretch, at most `b`).
    pub fn last_out(&self, a: i64, b: i64) -> Option<i64> {
        self.spans
            .iter()
            .rev()
            .find(|s| s.1 > a && s.0 < b)
            .map(|s| s.1.min(b))
    }
}

/// One duty's attendance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DutyAttendance {
    /// The agent.
    pub agent: String,
    /// The shift.
    pub shift: String,
    /// Its local date.
    pub date: String,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// End, epoch ms.
    pub end_ms: i64,
    /// `upcoming`, `present`, `late`, `left_early`, `late_left_early`, `absent`.
    pub status: String,
    /// First login during the duty, epoch ms.
    pub first_in_ms: Option<i64>,
    /// Last logout (or the end), epoch ms.
    pub last_out_ms: Option<i64>,
    /// Scheduled working time so far, ms.
    pub scheduled_ms: i64,
    /// Available (logged in, not paused) within the scheduled time, ms.
    pub available_ms: i64,
    /// Logged in within the scheduled time, ms.
    pub logged_in_ms: i64,
}

/// Attendance of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attendance {
    /// Every duty of the period.
    pub duties: Vec<DutyAttendance>,
    /// Duties begun by now.
    pub scheduled: u32,
    /// Of them, the agent came (late or not).
    pub present: u32,
    /// Late.
    pub late: u32,
    /// Absent.
    pub absent: u32,
    /// Left early.
    pub left_early: u32,
    /// 出勤率 = present ÷ scheduled (None: nothing scheduled).
    pub attendance_rate: Option<f64>,
    /// Adherence = available ÷ scheduled working time (None: none).
    pub adherence: Option<f64>,
}

/// Grace periods for late and early.
#[derive(Debug, Clone, Copy)]
pub struct Grace {
    /// Login later than this after the start is late, ms.
    pub late_ms: i64,
    /// Logout earlier than this before the end is leaving early, ms.
    pub early_ms: i64,
}

/// Attendance of `duties` from the agent events `events` (any order), as
/// of `now`.
pub fn attendance(duties: &[Duty], events: &[CallEvent], grace: Grace, now: i64) -> Attendance {
    let mut by_agent: BTreeMap<&AgentId, Vec<&CallEvent>> = BTreeMap::new();
    for e in events {
        if let Some(a) = &e.agent {
            by_agent.entry(a).or_default().push(e);
        }
    }
    let mut presence: BTreeMap<&AgentId, Presence> = BTreeMap::new();
    for (a, evs) in &by_agent {
        presence.insert(a, Presence::of(evs, now));
    }
    let empty = Presence::default();
    let mut out = Attendance {
        duties: Vec::with_capacity(duties.len()),
        scheduled: 0,
        present: 0,
        late: 0,
        absent: 0,
        left_early: 0,
        attendance_rate: None,
        adherence: None,
    };
    let (mut sched_sum, mut avail_sum) = (0i64, 0i64);
    for d in duties {
        let p = presence.get(&d.agent).unwrap_or(&empty);
        let begun = d.start_ms <= now;
        let (mut scheduled_ms, mut available_ms, mut logged_in_ms) = (0, 0, 0);
        for (a, b) in &d.parts {
            let b = (*b).min(now);
            if b > *a {
                scheduled_ms += b - a;
                available_ms += p.available_ms(*a, b);
                logged_in_ms += p.logged_in_ms(*a, b);
            }
        }
        let until = d.end_ms.min(now);
        let first_in = p.first_in(d.start_ms, until);
        let last_out = p.last_out(d.start_ms, until);
        let status = if !begun {
            "upcoming"
        } else if first_in.is_none() {
            if now - d.start_ms > grace.late_ms {
                "absent"
            } else {
                "upcoming"
            }
        } else {
            let late = first_in.is_some_and(|t| t > d.start_ms + grace.late_ms);
            let early = d.end_ms <= now && last_out.is_some_and(|t| t < d.end_ms - grace.early_ms);
            match (late, early) {
                (false, false) => "present",
                (true, false) => "late",
                (false, true) => "left_early",
                (true, true) => "late_left_early",
            }
        };
        if status != "upcoming" {
            out.scheduled += 1;
            sched_sum += scheduled_ms;
            avail_sum += available_ms;
        }
        match status {
            "absent" => out.absent += 1,
            "upcoming" => {}
            s => {
                out.present += 1;
                if s.starts_with("late") {
                    out.late += 1;
                }
                if s.ends_with("left_early") {
                    out.left_early += 1;
                }
            }
        }
        out.duties.push(DutyAttendance {
            agent: d.agent.to_string(),
            shift: d.shift.clone(),
            date: d.date.to_string(),
            start_ms: d.start_ms,
            end_ms: d.end_ms,
            status: status.to_string(),
            first_in_ms: first_in,
            last_out_ms: last_out,
            scheduled_ms,
            available_ms,
            logged_in_ms,
        });
    }
    if out.scheduled > 0 {
        out.attendance_rate = Some(f64::from(out.present) / f64::from(out.scheduled));
    }
    if sched_sum > 0 {
        out.adherence = Some(avail_sum as f64 / sched_sum as f64);
    }
    out
}
