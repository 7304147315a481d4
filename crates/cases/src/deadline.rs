//! The reply-deadline checker (sans-IO): a warning a configured time before
//! a case's reply deadline, an overdue alarm when it passes, each once per
//! deadline; `now` is always an argument.
//!
//! The IO shell (the API side's case task) watches every open, unreplied
//! case, sleeps until [`DeadlineChecker::poll_timeout`], calls
//! [`DeadlineChecker::poll`] and publishes what comes out as `case_warning`
//! and `case_overdue` events; [`DeadlineChecker::overdue`] is the wallboard's
//! figure. A case leaves the checker when its customer has been replied to
//! (the reply stage) or it is closed.

use std::collections::BTreeMap;

use crate::Severity;

/// A case the checker watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedCase {
    /// The case id.
    pub case_id: i64,
    /// Who owns it (told of the warning and the alarm).
    pub owner: String,
    /// Its severity.
    pub severity: Severity,
    /// The reply deadline, epoch ms.
    pub deadline_ms: i64,
}

/// What the checker raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeadlineEvent {
    /// The deadline is near (`warn_before_ms` or less away).
    Warning(WatchedCase),
    /// The deadline has passed without a reply.
    Overdue(WatchedCase),
}

#[derive(Clone, Debug)]
struct Entry {
    case: WatchedCase,
    warned: bool,
    overdue: bool,
}

impl Entry {
    fn warn_at(&self, warn_before_ms: i64) -> i64 {
        self.case.deadline_ms.saturating_sub(warn_before_ms)
    }

    /// When this entry next wants the checker to look, if ever.
    fn next_at(&self, warn_before_ms: i64) -> Option<i64> {
        if self.overdue {
            None
        } else if self.warned {
            Some(self.case.deadline_ms)
        } else {
            Some(self.warn_at(warn_before_ms))
        }
    }
}

/// Watches open cases' reply deadlines.
#[derive(Clone, Debug)]
pub struct DeadlineChecker {
    warn_before_ms: i64,
    cases: BTreeMap<i64, Entry>,
}

impl DeadlineChecker {
    /// A checker warning `warn_before_ms` before each deadline.
    pub fn new(warn_before_ms: i64) -> Self {
        DeadlineChecker {
            warn_before_ms: warn_before_ms.max(0),
            cases: BTreeMap::new(),
        }
    }

    /// Starts watching a case, or updates it (owner, severity, deadline).
    /// A deadline moved changes what is still to come: a warning or alarm
    /// already raised for the old deadline is raised again for a later one.
    pub fn watch(&mut self, case: WatchedCase) {
        match self.cases.get_mut(&case.case_id) {
            Some(e) if e.case.deadline_ms == case.deadline_ms => e.case = case,
            _ => {
                self.cases.insert(
                    case.case_id,
                    Entry {
                        case,
                        warned: false,
                        overdue: false,
                    },
                );
            }
        }
    }

    /// The warning (with `overdue`: the alarm, and so the warning) of case
    /// `case_id`'s deadline `deadline_ms` was raised already (found in the
    /// event log: by this node before a restart, or by the other node of
    /// the HA pair): it is not raised again. Nothing for a case not watched
    /// or watched with another deadline (a moved deadline is raised anew).
    pub fn raised(&mut self, case_id: i64, deadline_ms: i64, overdue: bool) {
        if let Some(e) = self.cases.get_mut(&case_id) {
            if e.case.deadline_ms == deadline_ms {
                e.warned = true;
                e.overdue |= overdue;
            }
        }
    }

    /// Stops watching a case (replied to or closed); true if it was watched.
    pub fn unwatch(&mut self, case_id: i64) -> bool {
        self.cases.remove(&case_id).is_some()
    }

    /// How many cases are watched.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether no case is watched.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// What is due at `now`, in case-id order: an alarm for every watched
    /// case past its deadline not yet alarmed (its warning is then skipped),
    /// a warning for every case within `warn_before_ms` of it not yet warned.
    pub fn poll(&mut self, now: i64) -> Vec<DeadlineEvent> {
        let mut out = Vec::new();
        for e in self.cases.values_mut() {
            if e.overdue {
                continue;
            }
            if now >= e.case.deadline_ms {
                e.overdue = true;
                e.warned = true;
                out.push(DeadlineEvent::Overdue(e.case.clone()));
            } else if !e.warned && now >= e.warn_at(self.warn_before_ms) {
                e.warned = true;
                out.push(DeadlineEvent::Warning(e.case.clone()));
            }
        }
        out
    }

    /// When [`DeadlineChecker::poll`] next has something to say, if ever.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.cases
            .values()
            .filter_map(|e| e.next_at(self.warn_before_ms))
            .min()
    }

    /// How many watched cases are past their deadline (as of the last poll).
    pub fn overdue(&self) -> usize {
        self.cases.values().filter(|e| e.overdue).count()
    }

    /// The ids of the overdue cases (as of the last poll).
    pub fn overdue_ids(&self) -> Vec<i64> {
        self.cases
            .values()
            .filter(|e| e.overdue)
            .map(|e| e.case.case_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeadlinePolicy, HOUR_MS};

    fn case(id: i64, severity: Severity, opened: i64, p: &DeadlinePolicy) -> WatchedCase {
        WatchedCase {
            case_id: id,
            owner: format!("10{id:02}"),
            severity,
            deadline_ms: p.deadline(severity, opened),
        }
    }

    /// Simulated days: the checker is driven the way the IO shell drives
    /// it (sleep until `poll_timeout`, poll), and every warning and alarm
    /// comes exactly once, at its instant.
    #[test]
    fn a_simulated_week_raises_each_warning_and_alarm_once_at_its_time() {
        let p = DeadlinePolicy {
            crisis_ms: 4 * HOUR_MS,
            ..DeadlinePolicy::default()
        };
        let mut c = DeadlineChecker::new(p.warn_before_ms);
        assert_eq!(c.poll_timeout(), None);
        let t0 = 1_700_000_000_000;
        c.watch(case(1, Severity::General, t0, &p));
        c.watch(case(2, Severity::Crisis, t0 + HOUR_MS, &p));
        c.watch(case(3, Severity::Major, t0 + 2 * HOUR_MS, &p));
        let mut seen = Vec::new();
        let mut now = t0;
        let end = t0 + 7 * 24 * HOUR_MS;
        let mut wakeups = 0;
        while let Some(at) = c.poll_timeout() {
            assert!(at >= now, "never asks to be woken in the past");
            now = at;
            if now > end {
                break;
            }
            wakeups += 1;
            for ev in c.poll(now) {
                seen.push((now, ev));
            }
            // case 3 is replied to 22 h after it opened (after its
            // warning, before its deadline): it leaves the checker
            if now >= t0 + 24 * HOUR_MS {
                c.unwatch(3);
            }
        }
        let kinds: Vec<(i64, &'static str, i64)> = seen
            .iter()
            .map(|(t, e)| match e {
                DeadlineEvent::Warning(c) => (*t - t0, "warning", c.case_id),
                DeadlineEvent::Overdue(c) => (*t - t0, "overdue", c.case_id),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (3 * HOUR_MS, "warning", 2),
                (5 * HOUR_MS, "overdue", 2),
                (22 * HOUR_MS, "warning", 1),
                (24 * HOUR_MS, "overdue", 1),
                (24 * HOUR_MS, "warning", 3),
            ]
        );
        assert_eq!(wakeups, 4, "one wake-up per distinct instant");
        assert_eq!(c.overdue(), 2);
        assert_eq!(c.overdue_ids(), vec![1, 2]);
        assert_eq!(c.poll_timeout(), None, "nothing left to raise");
        assert!(c.poll(end).is_empty(), "an alarm is raised once");
    }

    #[test]
    fn what_the_log_says_was_raised_is_not_raised_again() {
        let p = DeadlinePolicy::default();
        let mut c = DeadlineChecker::new(p.warn_before_ms);
        for id in 1..=4 {
            c.watch(case(id, Severity::General, 0, &p));
        }
        let deadline = p.deadline(Severity::General, 0);
        c.raised(1, deadline, true); // alarmed
        c.raised(2, deadline, false); // warned only
        c.raised(3, deadline + 1, true); // for another deadline: not this one
        c.raised(99, deadline, true); // not watched: nothing
        assert_eq!(c.overdue_ids(), vec![1]);
        let got: Vec<(i64, bool)> = c
            .poll(deadline)
            .iter()
            .map(|e| match e {
                DeadlineEvent::Warning(w) => (w.case_id, false),
                DeadlineEvent::Overdue(w) => (w.case_id, true),
            })
            .collect();
        assert_eq!(got, vec![(2, true), (3, true), (4, true)]);
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn a_late_poll_raises_the_alarm_without_the_warning() {
        let p = DeadlinePolicy::default();
        let mut c = DeadlineChecker::new(p.warn_before_ms);
        c.watch(case(7, Severity::General, 0, &p));
        let ev = c.poll(30 * HOUR_MS);
        assert!(matches!(ev.as_slice(), [DeadlineEvent::Overdue(w)] if w.case_id == 7));
        assert!(c.poll(31 * HOUR_MS).is_empty());
    }

    #[test]
    fn a_moved_deadline_is_watched_again_and_an_owner_change_is_not() {
        let p = DeadlinePolicy::default();
        let mut c = DeadlineChecker::new(p.warn_before_ms);
        let mut w = case(1, Severity::General, 0, &p);
        c.watch(w.clone());
        assert_eq!(c.poll(23 * HOUR_MS).len(), 1);
        w.owner = "2001".into();
        c.watch(w.clone());
        assert!(
            c.poll(23 * HOUR_MS).is_empty(),
            "same deadline: no second warning"
        );
        assert_eq!(c.poll_timeout(), Some(24 * HOUR_MS));
        w.deadline_ms = 48 * HOUR_MS; // escalated: a new, later deadline
        c.watch(w);
        assert!(c.poll(24 * HOUR_MS).is_empty());
        assert!(matches!(
            c.poll(46 * HOUR_MS).as_slice(),
            [DeadlineEvent::Warning(w)] if w.owner == "2001"
        ));
        assert_eq!(c.len(), 1);
        assert!(c.unwatch(1));
        assert!(!c.unwatch(1));
        assert!(c.is_empty());
    }

    #[test]
    fn a_thousand_cases_each_warned_and_alarmed_once() {
        let p = DeadlinePolicy::default();
        let mut c = DeadlineChecker::new(p.warn_before_ms);
        for i in 0..1_000 {
            c.watch(case(i, Severity::General, i * 60_000, &p));
        }
        let (mut warnings, mut alarms, mut now) = (0, 0, 0);
        while let Some(at) = c.poll_timeout() {
            now = at;
            for e in c.poll(now) {
                match e {
                    DeadlineEvent::Warning(_) => warnings += 1,
                    DeadlineEvent::Overdue(_) => alarms += 1,
                }
            }
        }
        assert_eq!((warnings, alarms), (1_000, 1_000));
        assert_eq!(now, 999 * 60_000 + 24 * HOUR_MS);
    }
}
