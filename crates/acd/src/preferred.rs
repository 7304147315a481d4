//! A preferred agent with a deadline (routing by ownership, 首问负责制): a
//! caller with an open complaint case rings its owner first. While the
//! deadline has not passed, the call is held for that agent alone: it is
//! offered to them as soon as they are available, and to nobody else. At
//! the deadline (or at once when the agent is logged out or unknown) the
//! hold ends and the call is routed like any other, keeping its place. An
//! owner who is offered the call and misses it is not offered it again in
//! this round; anyone may take it then.
//!
//! A held call is out of the index the ordinary routing reads (its class
//! and the tried calls), so it never stops the calls behind it; the holds
//! are kept by deadline for [`Acd::next_deadline`].

use hotline_core::{AgentId, CallId};

use crate::{Acd, AgentState, CallIx, Notice, Offer};

/// The agent a call should ring first, and until when only them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferredAgent {
    /// The agent (the owner of the caller's open case).
    pub agent: AgentId,
    /// Until when nobody else is offered the call, epoch ms.
    pub until_ms: i64,
}

/// Why a hold for a preferred agent ended without them being offered the
/// call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldEnd {
    /// The wait passed and they were not free.
    WaitOver,
    /// They are not logged in (or unknown): nobody waits for them.
    NotLoggedIn,
}

impl HoldEnd {
    /// `wait_over` or `not_logged_in`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldEnd::WaitOver => "wait_over",
            HoldEnd::NotLoggedIn => "not_logged_in",
        }
    }
}

impl Acd {
    /// Holds a waiting call for `preferred` from `now` on (replacing any
    /// hold it had), keeping its place: a caller of a case owner who asked
    /// for a callback hands the owner a fresh wait. False if `call` is not
    /// waiting.
    pub fn prefer(&mut self, call: &CallId, preferred: PreferredAgent, now: i64) -> bool {
        let Some(&cx) = self.call_ix.get(call) else {
            return false;
        };
        self.drop_hold(cx);
        self.release_hold(cx);
        self.calls.get_mut(cx).request.preferred = Some(preferred);
        self.hold_for_preferred(cx, now);
        true
    }

    /// Called when a call joins: holds it for its preferred agent, if it
    /// names one who is logged in and the deadline is ahead.
    pub(crate) fn hold_for_preferred(&mut self, cx: CallIx, now: i64) {
        let w = self.calls.get(cx);
        let Some(p) = w.request.preferred.clone() else {
            return;
        };
        if p.until_ms <= now || !w.ringing.is_empty() {
            return;
        }
        let call = w.call.clone();
        let ax = self.agent_ix.get(&p.agent).copied();
        match ax {
            Some(ax) if self.agents[ax as usize].state != AgentState::LoggedOut => {
                self.index_call(cx, false);
                self.calls.get_mut(cx).held = Some((ax, p.until_ms));
                self.index_call(cx, true);
                self.holds.insert((p.until_ms, cx));
            }
            _ => self.notices.push(Notice::PreferredPassed {
                call,
                agent: p.agent,
                why: HoldEnd::NotLoggedIn,
            }),
        }
    }

    /// Ends a call's hold (it joins the ordinary routing).
    fn release_hold(&mut self, cx: CallIx) {
        let w = self.calls.get(cx);
        let Some((_, until)) = w.held else {
            return;
        };
        self.holds.remove(&(until, cx));
        self.index_call(cx, false);
        self.calls.get_mut(cx).held = None;
        self.index_call(cx, true);
    }

    /// Forgets the hold of a call that leaves the ACD.
    pub(crate) fn drop_hold(&mut self, cx: CallIx) {
        if let Some((_, until)) = self.calls.get(cx).held {
            self.holds.remove(&(until, cx));
        }
    }

    /// The earliest end of a hold, if any.
    pub(crate) fn next_hold_end(&self) -> Option<i64> {
        self.holds.first().map(|&(until, _)| until)
    }

    /// The held calls at `now`: those whose agent is available ring them
    /// (and leave the hold), those whose wait is over join the ordinary
    /// routing. Returns the offers made.
    pub(crate) fn serve_holds(&mut self, now: i64) -> Vec<Offer> {
        let mut offers = Vec::new();
        if self.holds.is_empty() {
            return offers;
        }
        let held: Vec<(i64, CallIx)> = self.holds.iter().copied().collect();
        for (until, cx) in held {
            let Some((ax, _)) = self.calls.get(cx).held else {
                self.holds.remove(&(until, cx));
                continue;
            };
            let agent = AgentId::clone(&self.agents[ax as usize].id);
            let call: CallId = self.calls.get(cx).call.clone();
            if matches!(self.agents[ax as usize].state, AgentState::Available { .. }) {
                self.release_hold(cx);
                self.index_call(cx, false);
                let w = self.calls.get_mut(cx);
                w.tried.insert(ax);
                w.ringing.push(ax);
                self.index_call(cx, true);
                self.update_agent(ax, |a| a.state = AgentState::Ringing);
                self.notices.push(Notice::PreferredOffered {
                    call: call.clone(),
                    agent: agent.clone(),
                });
                offers.push(Offer { call, agent });
            } else if now >= until {
                self.release_hold(cx);
                self.notices.push(Notice::PreferredPassed {
                    call,
                    agent,
                    why: HoldEnd::WaitOver,
                });
            }
        }
        offers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AcdConfig, CallRequest, QueueConfig, RingResult};
    use hotline_core::QueueId;

    const WAIT: i64 = 20_000;

    fn acd(agents: &[&str]) -> (Acd, QueueId) {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 5_000,
            auto_pause_after_misses: 0,
        });
        let q = QueueId::new("general");
        acd.set_queue(QueueConfig::new(q.clone()));
        for (i, a) in agents.iter().enumerate() {
            acd.agent_logged_in(&AgentId::new(*a), i as i64);
        }
        (acd, q)
    }

    fn owner_first(agent: &str, now: i64) -> CallRequest {
        CallRequest {
            preferred: Some(PreferredAgent {
                agent: AgentId::new(agent),
                until_ms: now + WAIT,
            }),
            ..CallRequest::default()
        }
    }

    fn call(s: &str) -> CallId {
        CallId::from_stored(s)
    }

    fn offers(acd: &mut Acd, now: i64) -> Vec<(String, String)> {
        acd.poll_offers(now)
            .into_iter()
            .map(|o| (o.call.as_str().to_string(), o.agent.as_str().to_string()))
            .collect()
    }

    fn pair(c: &str, a: &str) -> (String, String) {
        (c.to_string(), a.to_string())
    }

    #[test]
    fn a_free_owner_rings_at_once_and_is_told() {
        let (mut acd, q) = acd(&["1001", "1002"]);
        // 1002 idle longer: longest-idle would pick them
        acd.enqueue_in(&q, call("c1"), owner_first("1002", 100), 100)
            .unwrap();
        assert_eq!(offers(&mut acd, 100), vec![pair("c1", "1002")]);
        let n = acd.take_notices();
        assert!(
            matches!(&n[..], [Notice::PreferredOffered { agent, .. }] if agent.as_str() == "1002")
        );
        let (mut acd, q) = self::acd(&["1001", "1002"]);
        acd.enqueue_in(&q, call("c1"), owner_first("1001", 100), 100)
            .unwrap();
        assert_eq!(
            offers(&mut acd, 100),
            vec![pair("c1", "1001")],
            "the owner, not the longest idle"
        );
    }

    /// Simulated time: the owner is talking; the call waits for them alone
    /// while another agent is free, and later callers are served meanwhile.
    #[test]
    fn a_busy_owner_is_waited_for_then_anyone_takes_the_call() {
        let (mut acd, q) = acd(&["1001", "1002"]);
        acd.enqueue_in(&q, call("x"), CallRequest::default(), 0)
            .unwrap();
        assert_eq!(offers(&mut acd, 0), vec![pair("x", "1001")]);
        acd.ring_result(
            &call("x"),
            &AgentId::new("1001"),
            RingResult::Answered,
            1_000,
        );
        // the owner is on a call; their customer calls again
        acd.enqueue_in(&q, call("c1"), owner_first("1001", 2_000), 2_000)
            .unwrap();
        assert!(
            offers(&mut acd, 2_000).is_empty(),
            "1002 is free but not offered it"
        );
        assert_eq!(acd.next_deadline(2_000), Some(2_000 + WAIT));
        // a later caller without an owner is served by the free agent
        acd.enqueue_in(&q, call("c2"), CallRequest::default(), 3_000)
            .unwrap();
        assert_eq!(offers(&mut acd, 3_000), vec![pair("c2", "1002")]);
        assert_eq!(acd.position(&call("c1")), Some(1), "c1 keeps its place");
        acd.ring_result(
            &call("c2"),
            &AgentId::new("1002"),
            RingResult::Answered,
            4_000,
        );
        acd.call_ended(&AgentId::new("1002"), 5_000);
        // 1002 is back at 10 s (wrap-up); c1 still waits for its owner
        assert!(offers(&mut acd, 10_000).is_empty());
        assert!(offers(&mut acd, 2_000 + WAIT - 1).is_empty());
        // the wait is over: anyone
        assert_eq!(offers(&mut acd, 2_000 + WAIT), vec![pair("c1", "1002")]);
        let n = acd.take_notices();
        assert!(
            n.iter().any(|x| matches!(x, Notice::PreferredPassed { why: HoldEnd::WaitOver, agent, .. } if agent.as_str() == "1001")),
            "{n:?}"
        );
    }

    #[test]
    fn an_owner_free_within_the_wait_gets_the_call() {
        let (mut acd, q) = acd(&["1001", "1002"]);
        acd.enqueue_in(&q, call("x"), CallRequest::default(), 0)
            .unwrap();
        offers(&mut acd, 0);
        acd.ring_result(&call("x"), &AgentId::new("1001"), RingResult::Answered, 0);
        acd.enqueue_in(&q, call("c1"), owner_first("1001", 1_000), 1_000)
            .unwrap();
        assert!(offers(&mut acd, 1_000).is_empty());
        // the owner hangs up at 3 s, wrap-up until 8 s: inside the wait
        let wrap = acd.call_ended(&AgentId::new("1001"), 3_000);
        assert_eq!(wrap, Some(5_000));
        assert_eq!(acd.next_deadline(3_000), Some(8_000));
        assert_eq!(offers(&mut acd, 8_000), vec![pair("c1", "1001")]);
        assert_eq!(acd.next_deadline(8_000), None, "no hold left");
        // the owner misses it: anyone now, the owner not again this round
        acd.ring_result(
            &call("c1"),
            &AgentId::new("1001"),
            RingResult::NoAnswer,
            20_000,
        );
        assert_eq!(offers(&mut acd, 20_000), vec![pair("c1", "1002")]);
    }

    #[test]
    fn a_logged_out_or_unknown_owner_is_not_waited_for() {
        let (mut acd, q) = acd(&["1002"]);
        acd.agent_logged_in(&AgentId::new("1001"), 0);
        acd.agent_logged_out(&AgentId::new("1001"));
        for (c, owner) in [("c1", "1001"), ("c2", "ghost")] {
            acd.enqueue_in(&q, call(c), owner_first(owner, 10), 10)
                .unwrap();
            let n = acd.take_notices();
            assert!(
                matches!(
                    &n[..],
                    [Notice::PreferredPassed {
                        why: HoldEnd::NotLoggedIn,
                        ..
                    }]
                ),
                "{n:?}"
            );
        }
        assert_eq!(offers(&mut acd, 10), vec![pair("c1", "1002")]);
        // a deadline already past holds nothing
        acd.enqueue_in(&q, call("c3"), owner_first("1002", -WAIT), 11)
            .unwrap();
        assert_eq!(acd.next_deadline(11), None);
    }

    #[test]
    fn a_caller_who_hangs_up_while_held_leaves_no_hold() {
        let (mut acd, q) = acd(&["1001"]);
        acd.enqueue_in(&q, call("x"), CallRequest::default(), 0)
            .unwrap();
        offers(&mut acd, 0);
        acd.ring_result(&call("x"), &AgentId::new("1001"), RingResult::Answered, 0);
        acd.enqueue_in(&q, call("c1"), owner_first("1001", 1_000), 1_000)
            .unwrap();
        assert_eq!(acd.next_deadline(1_000), Some(1_000 + WAIT));
        acd.remove_call(&call("c1"), 2_000);
        assert_eq!(acd.next_deadline(2_000), None);
        assert_eq!(acd.position(&call("c1")), None);
        // the slot is reused by a new call: the old hold does not touch it
        acd.enqueue_in(&q, call("c2"), CallRequest::default(), 3_000)
            .unwrap();
        acd.call_ended(&AgentId::new("1001"), 3_000);
        assert_eq!(offers(&mut acd, 8_000), vec![pair("c2", "1001")]);
        assert!(acd.take_notices().is_empty());
    }

    /// A thousand returning callers over a simulated day: each rings its
    /// owner if the owner frees up within the wait, else anyone; nobody is
    /// offered two calls and every call is answered.
    #[test]
    fn a_simulated_day_of_returning_callers() {
        let names: Vec<String> = (0..10).map(|i| format!("{}", 1001 + i)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (mut acd, q) = acd(&refs);
        let mut talking: Vec<(i64, AgentId)> = Vec::new();
        let (mut to_owner, mut to_others, mut answered) = (0, 0, 0);
        let mut owner_of = std::collections::HashMap::new();
        let mut now = 0;
        let mut next_call = 0;
        while now < 86_400_000 {
            if now >= next_call && answered + acd.waiting() < 1000 {
                let i = (next_call / 45_000) as usize;
                let c = call(&format!("c{i}"));
                // owners drawn pseudo-randomly (an LCG): some are busy
                let r = (i as u64)
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407)
                    >> 33;
                let owner = names[(r % names.len() as u64) as usize].clone();
                owner_of.insert(c.clone(), owner.clone());
                acd.enqueue_in(&q, c, owner_first(&owner, now), now)
                    .unwrap();
                next_call += 45_000;
            }
            for o in acd.poll_offers(now) {
                assert!(!talking.iter().any(|(_, a)| a == &o.agent), "two calls");
                if owner_of[&o.call].as_str() == o.agent.as_str() {
                    to_owner += 1;
                } else {
                    to_others += 1;
                }
                acd.ring_result(&o.call, &o.agent, RingResult::Answered, now);
                answered += 1;
                talking.push((now + 400_000, o.agent));
            }
            talking.retain(|(end, a)| {
                if *end <= now {
                    acd.call_ended(a, now);
                    false
                } else {
                    true
                }
            });
            now += 1_000;
        }
        assert_eq!(answered, 1000);
        // 8.9 erlangs on 10 agents: owners are often busy beyond the wait
        assert!(
            to_owner > 100 && to_others > 100,
            "{to_owner} / {to_others}"
        );
    }
}
