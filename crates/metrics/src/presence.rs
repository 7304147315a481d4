//! When each agent was staffed (registered and logged in) and paused,
//! folded from the agent events without a call: `agent_registered` (added or
//! refreshed, valid for `expires_s`), `agent_unregistered`,
//! `agent_logged_in/out`, `agent_paused/unpaused`. Sans-IO like the rest.
//!
//! A timeline is a sorted, de-duplicated list of changes, so events in any
//! order and twice give the same result; a contact counts only until its
//! registration expires, so a log cut by a crash does not leave an agent
//! staffed for ever.

use hotline_core::{CallEvent, EventKind};

/// One change of an agent's staffing state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// A contact registered (or refreshed) until `until_ms`.
    Registered { contact: Box<str>, until_ms: i64 },
    /// A contact was removed.
    Unregistered { contact: Box<str> },
    /// Logged in to the queues.
    LoggedIn,
    /// Logged out of the queues (ends a pause).
    LoggedOut,
    /// Paused (taken as starting at once, also when asked during a call).
    Paused,
    /// Unpaused.
    Unpaused,
}

impl Change {
    /// The change an event makes, if any.
    pub(crate) fn of(e: &CallEvent) -> Option<Change> {
        Some(match &e.kind {
            EventKind::AgentRegistered { contact, expires_s } => Change::Registered {
                contact: contact.as_str().into(),
                until_ms: e.at_ms.saturating_add(i64::from(*expires_s) * 1000),
            },
            EventKind::AgentUnregistered { contact } => Change::Unregistered {
                contact: contact.as_str().into(),
            },
            EventKind::AgentLoggedIn { .. } => Change::LoggedIn,
            EventKind::AgentLoggedOut { .. } => Change::LoggedOut,
            EventKind::AgentPaused { .. } => Change::Paused,
            EventKind::AgentUnpaused { .. } => Change::Unpaused,
            _ => return None,
        })
    }
}

/// The state between two changes.
#[derive(Clone, Debug, Default)]
struct State {
    /// Registered contacts and until when.
    contacts: Vec<(Box<str>, i64)>,
    logged_out: bool,
    paused: bool,
}

impl State {
    fn apply(&mut self, c: &Change) {
        match c {
            Change::Registered { contact, until_ms } => {
                match self.contacts.iter_mut().find(|(k, _)| k == contact) {
                    Some(entry) => entry.1 = *until_ms,
                    None => self.contacts.push((contact.clone(), *until_ms)),
                }
            }
            Change::Unregistered { contact } => self.contacts.retain(|(k, _)| k != contact),
            Change::LoggedIn => self.logged_out = false,
            Change::LoggedOut => {
                self.logged_out = true;
                self.paused = false;
            }
            Change::Paused => self.paused = true,
            Change::Unpaused => self.paused = false,
        }
    }

    /// Adds the staffed and paused time of `[a, b)` within `[from, to)`.
    fn add(&self, a: i64, b: i64, from: i64, to: i64, sums: &mut (i64, i64)) {
        if self.logged_out {
            return;
        }
        let a = a.max(from);
        let until = self
            .contacts
            .iter()
            .map(|(_, u)| *u)
            .max()
            .unwrap_or(i64::MIN);
        let b = b.min(to).min(until);
        if b > a {
            let d = b.saturating_sub(a);
            sums.0 = sums.0.saturating_add(d);
            if self.paused {
                sums.1 = sums.1.saturating_add(d);
            }
        }
    }
}

/// One agent's changes, sorted by (time, change), without duplicates.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeline {
    changes: Vec<(i64, Change)>,
}

impl Timeline {
    /// Adds a change (once).
    pub(crate) fn add(&mut self, at: i64, c: Change) {
        let item = (at, c);
        if let Err(i) = self.changes.binary_search(&item) {
            self.changes.insert(i, item);
        }
    }

    /// Time of the first change.
    pub(crate) fn first_ms(&self) -> Option<i64> {
        self.changes.first().map(|(t, _)| *t)
    }

    /// Staffed (registered and logged in) and paused ms within `[from, to)`.
    pub(crate) fn measure(&self, from: i64, to: i64) -> (i64, i64) {
        let mut sums = (0, 0);
        if to <= from {
            return sums;
        }
        let mut state = State::default();
        let mut prev = i64::MIN;
        for (t, c) in &self.changes {
            if *t >= to {
                break;
            }
            state.add(prev, *t, from, to, &mut sums);
            state.apply(c);
            prev = *t;
        }
        state.add(prev, to, from, to, &mut sums);
        sums
    }

    /// Drops the changes before `before_ms`, keeping the state they left as
    /// changes at `before_ms − 1`; returns the staffed and paused ms of the
    /// dropped part (for "since start") and whether anything is left.
    pub(crate) fn forget_before(&mut self, before_ms: i64) -> ((i64, i64), bool) {
        let cut = self.changes.partition_point(|(t, _)| *t < before_ms);
        if cut == 0 {
            return ((0, 0), !self.changes.is_empty());
        }
        let at = before_ms.saturating_sub(1);
        let first = self.changes[0].0;
        let dropped = self.measure(first, at);
        let mut state = State::default();
        for (_, c) in &self.changes[..cut] {
            state.apply(c);
        }
        let mut kept: Vec<(i64, Change)> = Vec::new();
        for (contact, until_ms) in state.contacts.into_iter().filter(|(_, u)| *u > at) {
            kept.push((at, Change::Registered { contact, until_ms }));
        }
        if state.logged_out {
            kept.push((at, Change::LoggedOut));
        }
        if state.paused {
            kept.push((at, Change::Paused));
        }
        kept.sort();
        kept.extend(self.changes.drain(cut..));
        self.changes = kept;
        (dropped, !self.changes.is_empty())
    }
}
