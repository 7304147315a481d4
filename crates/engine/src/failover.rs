//! An agent is never offered two calls across the HA pair's nodes (issue 18,
//! phase 2), sans-IO.
//!
//! Only the active node routes, but a take-over can happen while the lost
//! node is still alive (it lost the database, not its calls): the agents
//! who were talking there may still be on those calls. The survivor closes
//! the calls the lost node left open (`node_failure`) and holds their
//! agents out of routing (paused with [`HOLD_REASON`], 「故障切换后状态未知」
//! in the console) until the first of:
//! - the lost node's own end of that call appears in the shared store (its
//!   events reach the database again: the call really ended);
//! - the agent sets themselves ready (an unpause, from the phone's feature
//!   code or the console);
//! - the configured timeout (`cluster.failover_hold_s`).
//!
//! [`FailoverHolds`] keeps the holds and decides, given `now`, which end;
//! the engine's controller task applies them (pause, unpause) and asks the
//! store about the calls ([`FailoverHolds::calls_to_check`]).

use std::collections::BTreeMap;

use hotline_core::{AgentId, CallEvent, CallId, EventKind};

/// The pause reason of an agent held after a take-over.
pub const HOLD_REASON: &str = "unknown_after_failover";

/// How often the store is asked whether the lost node ended the calls, ms.
pub const CHECK_EVERY_MS: i64 = 2_000;

/// Why a hold ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// The lost node's end of the call appeared in the store.
    CallEnded,
    /// The agent set themselves ready (or was logged out, or paused for
    /// another reason: the hold is theirs to lift).
    AgentReady,
    /// The hold's timeout passed.
    Timeout,
}

impl Release {
    /// Short snake_case name (the `by` of the unpause, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Release::CallEnded => "failover_call_ended",
            Release::AgentReady => "agent",
            Release::Timeout => "failover_timeout",
        }
    }
}

#[derive(Clone, Debug)]
struct Hold {
    call: CallId,
    until_ms: i64,
}

/// The agents held out of routing after a take-over.
#[derive(Debug, Default)]
pub struct FailoverHolds {
    holds: BTreeMap<AgentId, Hold>,
    next_check_ms: i64,
}

impl FailoverHolds {
    /// No holds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `agent`, who was on `call` on the lost node, for at most
    /// `hold_ms` from `now`; false when the agent was held already (the
    /// first hold stays, with the later of the two ends).
    pub fn hold(&mut self, now: i64, agent: AgentId, call: CallId, hold_ms: i64) -> bool {
        let until_ms = now.saturating_add(hold_ms.max(0));
        if let Some(h) = self.holds.get_mut(&agent) {
            h.until_ms = h.until_ms.max(until_ms);
            return false;
        }
        self.holds.insert(agent, Hold { call, until_ms });
        self.next_check_ms = self.next_check_ms.min(now);
        if self.holds.len() == 1 {
            self.next_check_ms = now;
        }
        true
    }

    /// Whether `agent` is held.
    pub fn is_held(&self, agent: &AgentId) -> bool {
        self.holds.contains_key(agent)
    }

    /// The held agents and their calls, in agent order.
    pub fn held(&self) -> Vec<(AgentId, CallId)> {
        self.holds
            .iter()
            .map(|(a, h)| (a.clone(), h.call.clone()))
            .collect()
    }

    /// The agent asked for something that lifts the hold (ready, logout,
    /// another pause): the hold is gone without an unpause of ours.
    pub fn agent_acted(&mut self, agent: &AgentId) -> Option<Release> {
        self.holds.remove(agent).map(|_| Release::AgentReady)
    }

    /// The holds whose timeout passed at `now` (to unpause).
    pub fn poll_expired(&mut self, now: i64) -> Vec<AgentId> {
        let gone: Vec<AgentId> = self
            .holds
            .iter()
            .filter(|(_, h)| h.until_ms <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for a in &gone {
            self.holds.remove(a);
        }
        gone
    }

    /// The calls to look up in the store now (empty when it is not time
    /// yet or nothing is held); the next look-up is [`CHECK_EVERY_MS`] later.
    pub fn calls_to_check(&mut self, now: i64) -> Vec<CallId> {
        if self.holds.is_empty() || now < self.next_check_ms {
            return Vec::new();
        }
        self.next_check_ms = now.saturating_add(CHECK_EVERY_MS);
        let mut calls: Vec<CallId> = self.holds.values().map(|h| h.call.clone()).collect();
        calls.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        calls.dedup();
        calls
    }

    /// A call's events as the store has them: when the lost node's own end
    /// is among them, the agents held for it (to unpause).
    pub fn call_events(&mut self, call: &CallId, events: &[CallEvent]) -> Vec<AgentId> {
        if !lost_node_ended(events) {
            return Vec::new();
        }
        let gone: Vec<AgentId> = self
            .holds
            .iter()
            .filter(|(_, h)| &h.call == call)
            .map(|(a, _)| a.clone())
            .collect();
        for a in &gone {
            self.holds.remove(a);
        }
        gone
    }

    /// When [`FailoverHolds::poll_expired`] or
    /// [`FailoverHolds::calls_to_check`] next has something, if anything is
    /// held.
    pub fn poll_timeout(&self) -> Option<i64> {
        let expiry = self.holds.values().map(|h| h.until_ms).min()?;
        Some(expiry.min(self.next_check_ms))
    }
}

/// Whether a call's log holds an end written by the node it ran on (not the
/// survivor's `node_failure` closing): completed, abandoned, or failed for
/// another reason.
pub fn lost_node_ended(events: &[CallEvent]) -> bool {
    events.iter().any(|e| match &e.kind {
        EventKind::Completed { .. } | EventKind::Abandoned { .. } => true,
        EventKind::Failed { reason } => reason != crate::restart::NODE_FAILURE_REASON,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::EndedBy;

    fn a(s: &str) -> AgentId {
        AgentId::new(s)
    }

    fn c(s: &str) -> CallId {
        CallId::from_stored(s)
    }

    fn ev(kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms: 0,
            call_id: Some(c("c1")),
            agent: Some(a("1001")),
            queue: None,
            kind,
        }
    }

    #[test]
    fn a_hold_ends_at_its_timeout_and_not_before() {
        let mut h = FailoverHolds::new();
        assert!(h.hold(1_000, a("1001"), c("c1"), 60_000));
        assert!(h.is_held(&a("1001")));
        assert_eq!(h.poll_timeout(), Some(1_000));
        assert!(h.poll_expired(60_999).is_empty());
        assert_eq!(h.poll_expired(61_000), vec![a("1001")]);
        assert!(!h.is_held(&a("1001")));
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn the_lost_nodes_own_end_releases_the_agent_the_survivors_closing_does_not() {
        let mut h = FailoverHolds::new();
        h.hold(0, a("1001"), c("c1"), 600_000);
        h.hold(0, a("1002"), c("c2"), 600_000);
        assert_eq!(h.calls_to_check(0), vec![c("c1"), c("c2")]);
        // not again before the check interval
        assert!(h.calls_to_check(CHECK_EVERY_MS - 1).is_empty());
        let closing = ev(EventKind::Failed {
            reason: crate::restart::NODE_FAILURE_REASON.into(),
        });
        assert!(h
            .call_events(&c("c1"), std::slice::from_ref(&closing))
            .is_empty());
        assert!(h.is_held(&a("1001")));
        let end = ev(EventKind::Completed {
            ended_by: EndedBy::Caller,
            talk_ms: 1_000,
        });
        assert_eq!(h.call_events(&c("c1"), &[closing, end]), vec![a("1001")]);
        assert!(!h.is_held(&a("1001")));
        assert!(h.is_held(&a("1002")));
        assert_eq!(h.calls_to_check(CHECK_EVERY_MS), vec![c("c2")]);
    }

    #[test]
    fn the_agent_setting_themselves_ready_lifts_the_hold_once() {
        let mut h = FailoverHolds::new();
        h.hold(0, a("1001"), c("c1"), 60_000);
        assert_eq!(h.agent_acted(&a("1001")), Some(Release::AgentReady));
        assert_eq!(h.agent_acted(&a("1001")), None);
        assert!(h.poll_expired(i64::MAX).is_empty());
    }

    #[test]
    fn a_second_hold_keeps_the_first_call_and_the_later_end() {
        let mut h = FailoverHolds::new();
        assert!(h.hold(0, a("1001"), c("c1"), 10_000));
        assert!(!h.hold(5_000, a("1001"), c("c9"), 10_000));
        assert_eq!(h.held(), vec![(a("1001"), c("c1"))]);
        assert!(h.poll_expired(14_999).is_empty());
        assert_eq!(h.poll_expired(15_000), vec![a("1001")]);
        // hostile figures: a negative or huge hold does not wrap
        assert!(h.hold(i64::MAX - 1, a("x"), c("c"), i64::MAX));
        assert!(h.hold(0, a("y"), c("c"), -5));
        assert_eq!(h.poll_expired(0), vec![a("y")]);
    }

    #[test]
    fn a_day_of_take_overs_in_milliseconds() {
        // 1,000 agents held at once, released by ends, readiness and timeouts
        let mut h = FailoverHolds::new();
        for i in 0..1_000 {
            h.hold(0, a(&format!("a{i}")), c(&format!("c{i}")), 120_000);
        }
        let mut released = 0;
        let end = [ev(EventKind::Abandoned {
            wait_ms: 1,
            position: 1,
        })];
        for i in (0..1_000).step_by(3) {
            released += h.call_events(&c(&format!("c{i}")), &end).len();
        }
        for i in (1..1_000).step_by(3) {
            released += usize::from(h.agent_acted(&a(&format!("a{i}"))).is_some());
        }
        let mut now = 0;
        while let Some(t) = h.poll_timeout() {
            now = t.max(now + 1);
            let _ = h.calls_to_check(now);
            released += h.poll_expired(now).len();
        }
        assert_eq!(released, 1_000);
        assert_eq!(now, 120_000);
    }
}
