//! The routing brain of the hotline, sans-IO: queues of waiting calls, agents and
//! their states, and the choice of which agent gets which call.
//!
//! Nothing here reads a clock, opens a socket or spawns a task. The engine feeds
//! inputs through `handle_*`/setter methods with `now` (epoch ms) and asks for
//! decisions with [`Acd::poll_offers`]. This first version has one strategy,
//! longest-idle agent, which is the default of the issue that introduces queues.

#![warn(missing_docs)]

use hotline_core::{AgentId, CallId};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// The state of one agent, as the ACD sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Not registered: never offered a call.
    LoggedOut,
    /// Waiting for a call since the given time (epoch ms).
    Available {
        /// When the agent became idle (for longest-idle routing).
        since_ms: i64,
    },
    /// Reserved for one call: their phone rings.
    Ringing,
    /// Talking.
    OnCall,
    /// After-call work until the given time (epoch ms).
    WrapUp {
        /// When wrap-up ends.
        until_ms: i64,
    },
}

/// A decision: ring this agent for this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The waiting call.
    pub call: CallId,
    /// The agent to ring (now reserved: never offered two calls at once).
    pub agent: AgentId,
}

/// What came of ringing an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingResult {
    /// The agent answered: they are on the call.
    Answered,
    /// Their ring timeout passed.
    NoAnswer,
    /// Their phone refused (busy, declined).
    Rejected,
    /// Their phone could not be reached.
    Unreachable,
    /// The caller went away while the agent's phone rang.
    CallerGone,
}

struct Waiting {
    call: CallId,
    since_ms: i64,
    /// Agents already tried in the current round (cleared when everyone was tried).
    tried: BTreeSet<AgentId>,
    /// Agent currently ringing for this call.
    ringing: Option<AgentId>,
}

/// Counters of one agent, for the wallboard of later issues and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentCounters {
    /// Calls the agent answered.
    pub answered: u32,
    /// Offers that rang out or were refused.
    pub missed: u32,
}

/// Settings of the ACD.
#[derive(Clone, Copy, Debug)]
pub struct AcdConfig {
    /// After-call work time before an agent is available again, ms.
    pub wrap_up_ms: i64,
}

/// The ACD: one queue of waiting calls and the agents who serve it.
pub struct Acd {
    cfg: AcdConfig,
    agents: HashMap<AgentId, AgentState>,
    counters: HashMap<AgentId, AgentCounters>,
    queue: VecDeque<Waiting>,
}

impl Acd {
    /// An ACD with no agents and no calls.
    pub fn new(cfg: AcdConfig) -> Self {
        Acd {
            cfg,
            agents: HashMap::new(),
            counters: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// The agent's current state (LoggedOut if unknown).
    pub fn agent_state(&self, agent: &AgentId) -> AgentState {
        self.agents
            .get(agent)
            .copied()
            .unwrap_or(AgentState::LoggedOut)
    }

    /// The agent's counters.
    pub fn counters(&self, agent: &AgentId) -> AgentCounters {
        self.counters.get(agent).copied().unwrap_or_default()
    }

    /// The agent's phone registered: available unless already busy.
    pub fn agent_logged_in(&mut self, agent: &AgentId, now: i64) {
        let st = self
            .agents
            .entry(agent.clone())
            .or_insert(AgentState::LoggedOut);
        if *st == AgentState::LoggedOut {
            *st = AgentState::Available { since_ms: now };
        }
    }

    /// The agent's last registration is gone. A call in progress is not cut;
    /// the agent simply gets no new offers.
    pub fn agent_logged_out(&mut self, agent: &AgentId) {
        if let Some(st) = self.agents.get_mut(agent) {
            if matches!(st, AgentState::Available { .. } | AgentState::WrapUp { .. }) {
                *st = AgentState::LoggedOut;
            }
        }
    }

    /// A caller waits for an agent.
    pub fn enqueue(&mut self, call: CallId, now: i64) {
        if self.queue.iter().any(|w| w.call == call) {
            return;
        }
        self.queue.push_back(Waiting {
            call,
            since_ms: now,
            tried: BTreeSet::new(),
            ringing: None,
        });
    }

    /// Position of a waiting call (1 = next), or None.
    pub fn position(&self, call: &CallId) -> Option<u32> {
        self.queue
            .iter()
            .position(|w| &w.call == call)
            .map(|p| p as u32 + 1)
    }

    /// Calls waiting (including those whose agent is ringing).
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// The caller left (abandoned or failed): drop the call; an agent ringing
    /// for it is freed.
    pub fn remove_call(&mut self, call: &CallId, now: i64) {
        if let Some(i) = self.queue.iter().position(|w| &w.call == call) {
            if let Some(w) = self.queue.remove(i) {
                if let Some(agent) = w.ringing {
                    self.ring_result(call, &agent, RingResult::CallerGone, now);
                }
            }
        }
    }

    /// Reports what came of ringing `agent` for `call`.
    pub fn ring_result(&mut self, call: &CallId, agent: &AgentId, result: RingResult, now: i64) {
        if let Some(w) = self.queue.iter_mut().find(|w| &w.call == call) {
            if w.ringing.as_ref() == Some(agent) {
                w.ringing = None;
            }
        }
        let Some(st) = self.agents.get_mut(agent) else {
            return;
        };
        match result {
            RingResult::Answered => {
                *st = AgentState::OnCall;
                self.counters.entry(agent.clone()).or_default().answered += 1;
                if let Some(i) = self.queue.iter().position(|w| &w.call == call) {
                    self.queue.remove(i);
                }
            }
            RingResult::NoAnswer | RingResult::Rejected | RingResult::Unreachable => {
                if *st == AgentState::Ringing {
                    // back to idle; they keep their place among the idle (since = now)
                    *st = AgentState::Available { since_ms: now };
                }
                self.counters.entry(agent.clone()).or_default().missed += 1;
            }
            RingResult::CallerGone => {
                if *st == AgentState::Ringing {
                    *st = AgentState::Available { since_ms: now };
                }
            }
        }
    }

    /// The agent's call ended: wrap-up starts.
    pub fn call_ended(&mut self, agent: &AgentId, now: i64) {
        if let Some(st) = self.agents.get_mut(agent) {
            if *st == AgentState::OnCall {
                *st = AgentState::WrapUp {
                    until_ms: now + self.cfg.wrap_up_ms,
                };
            }
        }
    }

    /// Moves time on (wrap-up ends) and returns the offers to make now: each
    /// waiting call without a ringing agent, oldest first, gets the
    /// longest-idle available agent it has not tried in this round.
    pub fn poll_offers(&mut self, now: i64) -> Vec<Offer> {
        for st in self.agents.values_mut() {
            if let AgentState::WrapUp { until_ms } = *st {
                if until_ms <= now {
                    *st = AgentState::Available { since_ms: until_ms };
                }
            }
        }
        let mut offers = Vec::new();
        let mut idle: Vec<(i64, AgentId)> = self
            .agents
            .iter()
            .filter_map(|(a, st)| match st {
                AgentState::Available { since_ms } => Some((*since_ms, a.clone())),
                _ => None,
            })
            .collect();
        idle.sort();
        let logged_in: BTreeSet<AgentId> = self
            .agents
            .iter()
            .filter(|(_, st)| **st != AgentState::LoggedOut)
            .map(|(a, _)| a.clone())
            .collect();
        let mut waiting: Vec<&mut Waiting> = self
            .queue
            .iter_mut()
            .filter(|w| w.ringing.is_none())
            .collect();
        waiting.sort_by_key(|w| w.since_ms);
        for w in waiting {
            if idle.is_empty() {
                break;
            }
            // a new round once every logged-in agent has been tried
            if !logged_in.is_empty() && logged_in.iter().all(|a| w.tried.contains(a)) {
                w.tried.clear();
            }
            let Some(i) = idle.iter().position(|(_, a)| !w.tried.contains(a)) else {
                continue;
            };
            let (_, agent) = idle.remove(i);
            w.tried.insert(agent.clone());
            w.ringing = Some(agent.clone());
            offers.push(Offer {
                call: w.call.clone(),
                agent,
            });
        }
        for o in &offers {
            self.agents.insert(o.agent.clone(), AgentState::Ringing);
        }
        offers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> AgentId {
        AgentId::new(s)
    }
    fn c(s: &str) -> CallId {
        CallId::from_stored(s)
    }

    #[test]
    fn longest_idle_agent_gets_the_oldest_call() {
        let mut acd = Acd::new(AcdConfig { wrap_up_ms: 5_000 });
        acd.agent_logged_in(&a("1002"), 100);
        acd.agent_logged_in(&a("1001"), 50);
        acd.enqueue(c("x"), 200);
        acd.enqueue(c("y"), 300);
        let offers = acd.poll_offers(300);
        assert_eq!(
            offers,
            vec![
                Offer {
                    call: c("x"),
                    agent: a("1001")
                },
                Offer {
                    call: c("y"),
                    agent: a("1002")
                }
            ]
        );
        // never two offers to one agent
        assert!(acd.poll_offers(400).is_empty());
    }

    #[test]
    fn no_answer_moves_to_next_agent_then_starts_a_new_round() {
        let mut acd = Acd::new(AcdConfig { wrap_up_ms: 0 });
        acd.agent_logged_in(&a("1001"), 0);
        acd.agent_logged_in(&a("1002"), 10);
        acd.enqueue(c("x"), 100);
        assert_eq!(acd.poll_offers(100)[0].agent, a("1001"));
        acd.ring_result(&c("x"), &a("1001"), RingResult::NoAnswer, 15_100);
        assert_eq!(acd.counters(&a("1001")).missed, 1);
        assert_eq!(acd.poll_offers(15_100)[0].agent, a("1002"));
        acd.ring_result(&c("x"), &a("1002"), RingResult::Rejected, 16_000);
        // both tried: new round, the longest idle again
        assert_eq!(acd.poll_offers(16_000)[0].agent, a("1001"));
    }

    #[test]
    fn answered_call_leaves_queue_and_agent_wraps_up() {
        let mut acd = Acd::new(AcdConfig { wrap_up_ms: 10_000 });
        acd.agent_logged_in(&a("1001"), 0);
        acd.enqueue(c("x"), 0);
        acd.poll_offers(0);
        acd.ring_result(&c("x"), &a("1001"), RingResult::Answered, 3_000);
        assert_eq!(acd.waiting(), 0);
        assert_eq!(acd.agent_state(&a("1001")), AgentState::OnCall);
        acd.call_ended(&a("1001"), 60_000);
        acd.enqueue(c("y"), 61_000);
        assert!(acd.poll_offers(65_000).is_empty());
        assert_eq!(acd.poll_offers(70_000)[0].agent, a("1001"));
    }

    #[test]
    fn abandon_while_ringing_frees_agent_and_logout_stops_offers() {
        let mut acd = Acd::new(AcdConfig { wrap_up_ms: 0 });
        acd.agent_logged_in(&a("1001"), 0);
        acd.enqueue(c("x"), 0);
        acd.poll_offers(0);
        acd.remove_call(&c("x"), 4_000);
        assert_eq!(
            acd.agent_state(&a("1001")),
            AgentState::Available { since_ms: 4_000 }
        );
        assert_eq!(acd.counters(&a("1001")).missed, 0);
        acd.agent_logged_out(&a("1001"));
        acd.enqueue(c("y"), 5_000);
        assert!(acd.poll_offers(5_000).is_empty());
        assert_eq!(acd.position(&c("y")), Some(1));
    }

    #[test]
    fn a_simulated_day_never_double_books_an_agent() {
        // 24 h of traffic, one call every 30 s, agents answer after 3 s, talk 100 s.
        let mut acd = Acd::new(AcdConfig { wrap_up_ms: 10_000 });
        for i in 0..5 {
            acd.agent_logged_in(&a(&format!("10{i:02}")), 0);
        }
        let mut ringing: Vec<(i64, Offer)> = Vec::new();
        let mut talking: Vec<(i64, AgentId)> = Vec::new();
        let mut n = 0;
        let mut now = 0;
        while now < 86_400_000 {
            if now % 30_000 == 0 {
                acd.enqueue(c(&format!("call{n}")), now);
                n += 1;
            }
            for o in acd.poll_offers(now) {
                assert_eq!(acd.agent_state(&o.agent), AgentState::Ringing);
                assert!(ringing.iter().all(|(_, r)| r.agent != o.agent));
                assert!(talking.iter().all(|(_, t)| *t != o.agent));
                ringing.push((now + 3_000, o));
            }
            let (due, rest): (Vec<_>, Vec<_>) = ringing.into_iter().partition(|(t, _)| *t <= now);
            ringing = rest;
            for (_, o) in due {
                acd.ring_result(&o.call, &o.agent, RingResult::Answered, now);
                talking.push((now + 100_000, o.agent));
            }
            let (done, rest): (Vec<_>, Vec<_>) = talking.into_iter().partition(|(t, _)| *t <= now);
            talking = rest;
            for (_, ag) in done {
                acd.call_ended(&ag, now);
            }
            now += 1_000;
        }
        assert!(
            acd.waiting() < 3,
            "5 agents keep up with 2 calls/min of 113 s each"
        );
    }
}
