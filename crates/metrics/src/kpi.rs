//! KPIs folded from the event log, sans-IO.
//!
//! [`Metrics::apply`] takes each [`CallEvent`] once, in any order; the figures
//! come from [`Metrics::snapshot`] (every call so far) or
//! [`Metrics::snapshot_window`] (calls that arrived in `[from, now)`: "last
//! 15 minutes", "today", a shift), always with `now` passed in. docs/kpis.md
//! gives each formula. Events of a call may arrive in any order or twice: each
//! fact of a call is recorded once (first value wins) and figures only use
//! calls whose arrival is known.

use hotline_core::{AgentId, CallEvent, CallId, EventKind, QueueId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Settings of the KPIs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KpiConfig {
    /// Abandons before this wait are "short" (misdials, instant regrets) and
    /// counted apart, ms.
    pub short_abandon_ms: i64,
    /// Service-level time: answered by an agent within it counts as in target, ms.
    pub service_level_ms: i64,
    /// "Within N rings" figures use this N (3: no caller hears a fourth ring).
    pub rings: u32,
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            short_abandon_ms: 5_000,
            service_level_ms: 20_000,
            rings: 3,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct CallFacts {
    queue: Option<QueueId>,
    arrived_ms: Option<i64>,
    rejected: bool,
    failed: bool,
    system_answered_rings: Option<u32>,
    /// (wait, rings, agent)
    agent_answered: Option<(i64, u32, Option<AgentId>)>,
    abandoned_wait_ms: Option<i64>,
    talk_ms: Option<i64>,
    limit_exceeded: bool,
}

impl CallFacts {
    fn ended(&self) -> bool {
        self.rejected || self.failed || self.abandoned_wait_ms.is_some() || self.talk_ms.is_some()
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
struct AgentTotals {
    limit_exceeded: u64,
    answered: u64,
    missed: u64,
    talk_ms: i64,
    talked_calls: u64,
}

/// The figures of one scope (the center, a queue).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Calls that arrived and were not refused.
    pub offered: u64,
    /// Calls refused at the door (unknown number, bad SDP, no capacity).
    pub rejected: u64,
    /// Calls answered by an agent.
    pub answered: u64,
    /// Callers who hung up before an agent answered (short ones included).
    pub abandoned: u64,
    /// Of those, abandons before the short-abandon threshold.
    pub short_abandoned: u64,
    /// Calls waiting for an agent at `now`.
    pub waiting_now: u64,
    /// Calls with an agent at `now` (answered, not completed).
    pub talking_now: u64,
    /// Mean wait of agent-answered calls, ms (average speed of answer).
    pub asa_ms: Option<f64>,
    /// Longest wait among calls waiting at `now`, ms.
    pub longest_current_wait_ms: i64,
    /// Mean wait of abandoned calls, ms.
    pub avg_time_to_abandon_ms: Option<f64>,
    /// Mean rings heard before the first answer (the engine's or an agent's).
    pub avg_rings_to_answer: Option<f64>,
    /// How many answered calls heard 1, 2, 3, ... rings.
    pub rings_distribution: BTreeMap<u32, u64>,
    /// Of the calls the engine answered itself, the share within the ring limit (must be 1).
    pub system_answered_within_rings: Option<f64>,
    /// Of all answered calls, the share an agent answered within the ring limit.
    pub agent_answered_within_rings: Option<f64>,
    /// Answered by an agent within the target ÷ (answered + abandoned after the short threshold).
    pub service_level: Option<f64>,
    /// Abandoned ÷ offered.
    pub abandon_rate: Option<f64>,
    /// (Abandoned − short) ÷ (offered − short).
    pub abandon_rate_without_short: Option<f64>,
    /// Mean talk time of completed calls, ms.
    pub avg_talk_ms: Option<f64>,
    /// Offered calls per hour over the window.
    pub calls_per_hour: Option<f64>,
    /// Completed calls that stayed within their handle-time limit ÷ completed calls.
    pub within_limit: Option<f64>,
}

/// The figures of one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AgentFigures {
    /// Calls answered.
    pub answered: u64,
    /// Offers that rang out or were refused.
    pub missed: u64,
    /// Total talk time, ms.
    pub talk_ms: i64,
    /// Mean talk time, ms.
    pub avg_talk_ms: Option<f64>,
    /// Calls that went past their handle-time limit.
    pub limit_exceeded: u64,
}

/// Everything at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// When (epoch ms).
    pub at_ms: i64,
    /// Start of the window (epoch ms), None = since the start.
    pub from_ms: Option<i64>,
    /// The whole center.
    pub center: Figures,
    /// Per queue.
    pub queues: BTreeMap<String, Figures>,
    /// Per agent (all time: agent figures are not windowed yet).
    pub agents: BTreeMap<String, AgentFigures>,
}

/// The KPI aggregator: feed it events, ask for snapshots.
#[derive(Debug, Default)]
pub struct Metrics {
    cfg: KpiConfig,
    calls: HashMap<CallId, CallFacts>,
    agents: BTreeMap<AgentId, AgentTotals>,
}

impl Metrics {
    /// An empty aggregator.
    pub fn new(cfg: KpiConfig) -> Self {
        Metrics {
            cfg,
            calls: HashMap::new(),
            agents: BTreeMap::new(),
        }
    }

    /// Calls tracked (for memory accounting).
    pub fn tracked_calls(&self) -> usize {
        self.calls.len()
    }

    /// Folds one event in. Agent-only events (registrations) and events of
    /// kinds without a KPI are ignored.
    pub fn apply(&mut self, e: &CallEvent) {
        let Some(call) = &e.call_id else { return };
        let agent = e.agent.clone();
        let f = self.calls.entry(call.clone()).or_default();
        if f.queue.is_none() {
            f.queue = e.queue.clone();
        }
        match &e.kind {
            EventKind::Arrived { .. } => {
                f.arrived_ms.get_or_insert(e.at_ms);
            }
            EventKind::Rejected { .. } => f.rejected = true,
            EventKind::Failed { .. } => f.failed = true,
            EventKind::SystemAnswered { rings } => {
                f.system_answered_rings.get_or_insert(*rings);
            }
            EventKind::AgentAnswered { wait_ms, rings } if f.agent_answered.is_none() => {
                f.agent_answered = Some((*wait_ms, *rings, agent.clone()));
                if let Some(a) = agent {
                    self.agents.entry(a).or_default().answered += 1;
                }
            }
            EventKind::Abandoned { wait_ms, .. } => {
                f.abandoned_wait_ms.get_or_insert(*wait_ms);
            }
            EventKind::Completed { talk_ms, .. } if f.talk_ms.is_none() => {
                f.talk_ms = Some(*talk_ms);
                if let Some(a) = agent {
                    let t = self.agents.entry(a).or_default();
                    t.talk_ms = t.talk_ms.saturating_add(*talk_ms.max(&0));
                    t.talked_calls += 1;
                }
            }
            EventKind::LimitExceeded { .. } if !f.limit_exceeded => {
                f.limit_exceeded = true;
                if let Some(a) = agent {
                    self.agents.entry(a).or_default().limit_exceeded += 1;
                }
            }
            EventKind::AgentRingNoAnswer { .. } | EventKind::AgentRejected { .. } => {
                if let Some(a) = agent {
                    self.agents.entry(a).or_default().missed += 1;
                }
            }
            _ => {}
        }
    }

    /// Forgets calls that ended and arrived before `before_ms` (call it daily
    /// after the figures of that time are no longer asked for live).
    pub fn forget_before(&mut self, before_ms: i64) {
        self.calls
            .retain(|_, f| !(f.ended() && f.arrived_ms.is_some_and(|t| t < before_ms)));
    }

    /// Figures over every call so far.
    pub fn snapshot(&self, now_ms: i64) -> Snapshot {
        self.build(None, now_ms)
    }

    /// Figures over calls that arrived in `[from_ms, now_ms)`.
    pub fn snapshot_window(&self, from_ms: i64, now_ms: i64) -> Snapshot {
        self.build(Some(from_ms), now_ms)
    }

    fn build(&self, from_ms: Option<i64>, now_ms: i64) -> Snapshot {
        let mut center = Acc::default();
        let mut queues: BTreeMap<String, Acc> = BTreeMap::new();
        let mut first_arrival = i64::MAX;
        for f in self.calls.values() {
            let Some(arrived) = f.arrived_ms else {
                continue;
            };
            if from_ms.is_some_and(|from| arrived < from) || arrived >= now_ms {
                continue;
            }
            first_arrival = first_arrival.min(arrived);
            center.add(f, arrived, now_ms, &self.cfg);
            if let Some(q) = &f.queue {
                queues
                    .entry(q.as_str().to_string())
                    .or_default()
                    .add(f, arrived, now_ms, &self.cfg);
            }
        }
        let span_ms = match from_ms {
            Some(from) => now_ms.saturating_sub(from),
            None if first_arrival < now_ms => now_ms.saturating_sub(first_arrival),
            None => 0,
        };
        let agents = self
            .agents
            .iter()
            .map(|(a, t)| {
                (
                    a.as_str().to_string(),
                    AgentFigures {
                        answered: t.answered,
                        missed: t.missed,
                        talk_ms: t.talk_ms,
                        avg_talk_ms: ratio(t.talk_ms as f64, t.talked_calls),
                        limit_exceeded: t.limit_exceeded,
                    },
                )
            })
            .collect();
        Snapshot {
            at_ms: now_ms,
            from_ms,
            center: center.figures(span_ms),
            queues: queues
                .into_iter()
                .map(|(k, v)| (k, v.figures(span_ms)))
                .collect(),
            agents,
        }
    }
}

fn ratio(num: f64, den: u64) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

#[derive(Default)]
struct Acc {
    offered: u64,
    rejected: u64,
    answered: u64,
    answered_in_target: u64,
    abandoned: u64,
    short_abandoned: u64,
    waiting_now: u64,
    talking_now: u64,
    wait_sum: f64,
    abandon_wait_sum: f64,
    longest_wait: i64,
    rings_sum: f64,
    rings_count: u64,
    rings: BTreeMap<u32, u64>,
    system_answered: u64,
    system_in_rings: u64,
    agent_in_rings: u64,
    talk_sum: f64,
    talk_count: u64,
    over_limit: u64,
}

impl Acc {
    fn add(&mut self, f: &CallFacts, arrived: i64, now: i64, cfg: &KpiConfig) {
        if f.rejected {
            self.rejected += 1;
            return;
        }
        self.offered += 1;
        // first answer: the engine's (at the end of the ring limit) or an agent's
        let first_rings = match (f.system_answered_rings, &f.agent_answered) {
            (Some(r), _) => Some(r),
            (None, Some((_, r, _))) => Some(*r),
            (None, None) => None,
        };
        if let Some(r) = first_rings {
            self.rings_sum += f64::from(r);
            self.rings_count += 1;
            *self.rings.entry(r).or_default() += 1;
        }
        if let Some(r) = f.system_answered_rings {
            self.system_answered += 1;
            self.system_in_rings += u64::from(r <= cfg.rings);
        }
        if let Some((wait, rings, _)) = &f.agent_answered {
            self.answered += 1;
            self.wait_sum += *wait as f64;
            self.answered_in_target += u64::from(*wait <= cfg.service_level_ms);
            self.agent_in_rings +=
                u64::from(f.system_answered_rings.is_none() && *rings <= cfg.rings);
            if f.talk_ms.is_none() && !f.failed {
                self.talking_now += 1;
            }
        } else if let Some(w) = f.abandoned_wait_ms {
            self.abandoned += 1;
            self.abandon_wait_sum += w as f64;
            self.short_abandoned += u64::from(w < cfg.short_abandon_ms);
        } else if !f.ended() {
            self.waiting_now += 1;
            self.longest_wait = self.longest_wait.max(now.saturating_sub(arrived));
        }
        if let Some(t) = f.talk_ms {
            self.talk_sum += t as f64;
            self.talk_count += 1;
            self.over_limit += u64::from(f.limit_exceeded);
        }
    }

    fn figures(self, span_ms: i64) -> Figures {
        let long_abandons = self.abandoned - self.short_abandoned;
        Figures {
            offered: self.offered,
            rejected: self.rejected,
            answered: self.answered,
            abandoned: self.abandoned,
            short_abandoned: self.short_abandoned,
            waiting_now: self.waiting_now,
            talking_now: self.talking_now,
            asa_ms: ratio(self.wait_sum, self.answered),
            longest_current_wait_ms: self.longest_wait,
            avg_time_to_abandon_ms: ratio(self.abandon_wait_sum, self.abandoned),
            avg_rings_to_answer: ratio(self.rings_sum, self.rings_count),
            rings_distribution: self.rings,
            system_answered_within_rings: ratio(self.system_in_rings as f64, self.system_answered),
            agent_answered_within_rings: ratio(self.agent_in_rings as f64, self.rings_count),
            service_level: ratio(
                self.answered_in_target as f64,
                self.answered + long_abandons,
            ),
            abandon_rate: ratio(self.abandoned as f64, self.offered),
            abandon_rate_without_short: ratio(
                long_abandons as f64,
                self.offered - self.short_abandoned,
            ),
            avg_talk_ms: ratio(self.talk_sum, self.talk_count),
            calls_per_hour: (span_ms > 0)
                .then(|| self.offered as f64 * 3_600_000.0 / span_ms as f64),
            within_limit: ratio((self.talk_count - self.over_limit) as f64, self.talk_count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::{CallType, EndedBy, Party};

    struct Log(Vec<CallEvent>);

    impl Log {
        fn ev(&mut self, at: i64, call: &str, agent: Option<&str>, queue: &str, kind: EventKind) {
            self.0.push(CallEvent {
                at_ms: at,
                call_id: Some(CallId::from_stored(call)),
                agent: agent.map(AgentId::new),
                queue: Some(QueueId::new(queue)),
                kind,
            });
        }
        fn arrive(&mut self, at: i64, call: &str, queue: &str) {
            let kind = EventKind::Arrived {
                caller: Party {
                    number: "0611".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::default(),
            };
            self.ev(at, call, None, queue, kind);
        }
        /// Answered by `agent` after `wait`, talked `talk`.
        #[allow(clippy::too_many_arguments)]
        fn answered(
            &mut self,
            at: i64,
            call: &str,
            queue: &str,
            agent: &str,
            wait: i64,
            rings: u32,
            talk: i64,
        ) {
            self.arrive(at, call, queue);
            self.ev(
                at + wait,
                call,
                Some(agent),
                queue,
                EventKind::AgentAnswered {
                    wait_ms: wait,
                    rings,
                },
            );
            self.ev(
                at + wait + talk,
                call,
                Some(agent),
                queue,
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: talk,
                },
            );
        }
        fn abandoned(&mut self, at: i64, call: &str, queue: &str, wait: i64) {
            self.arrive(at, call, queue);
            self.ev(
                at + wait,
                call,
                None,
                queue,
                EventKind::Abandoned {
                    wait_ms: wait,
                    position: 1,
                },
            );
        }
        fn metrics(&self) -> Metrics {
            let mut m = Metrics::new(KpiConfig::default());
            for e in &self.0 {
                m.apply(e);
            }
            m
        }
    }

    #[test]
    fn every_formula_on_a_small_hand_computed_day() {
        let mut log = Log(Vec::new());
        log.answered(0, "a", "sales", "1001", 4_000, 1, 60_000); // in target, 1 ring
        log.answered(1_000, "b", "sales", "1002", 30_000, 3, 120_000); // out of target
        log.abandoned(2_000, "c", "sales", 2_000); // short abandon
        log.abandoned(3_000, "d", "support", 40_000); // long abandon
                                                      // e: the engine answered at ring 3, then agent 1001 after 14 s
        log.arrive(4_000, "e", "support");
        log.ev(
            15_000,
            "e",
            None,
            "support",
            EventKind::SystemAnswered { rings: 3 },
        );
        log.ev(
            18_000,
            "e",
            Some("1001"),
            "support",
            EventKind::AgentAnswered {
                wait_ms: 14_000,
                rings: 3,
            },
        );
        log.ev(
            9_000 + 200_000,
            "b",
            Some("1002"),
            "sales",
            EventKind::LimitExceeded {
                call_type: hotline_core::CallType::Inquiry,
                limit_ms: 180_000,
            },
        );
        // f: refused at the door
        log.arrive(5_000, "f", "support");
        log.ev(
            5_000,
            "f",
            None,
            "support",
            EventKind::Rejected {
                status: 488,
                reason: "codec".into(),
            },
        );
        // g: still waiting at now
        log.arrive(100_000, "g", "sales");
        log.ev(
            101_000,
            "g",
            Some("1002"),
            "sales",
            EventKind::AgentRingNoAnswer { rang_ms: 15_000 },
        );
        let m = log.metrics();
        let s = m.snapshot(160_000);
        let c = &s.center;
        assert_eq!(
            (
                c.offered,
                c.rejected,
                c.answered,
                c.abandoned,
                c.short_abandoned
            ),
            (6, 1, 3, 2, 1)
        );
        assert_eq!(
            (c.waiting_now, c.talking_now, c.longest_current_wait_ms),
            (1, 1, 60_000)
        );
        assert_eq!(c.asa_ms, Some((4_000.0 + 30_000.0 + 14_000.0) / 3.0));
        // in target: a (4 s) and e (14 s); denominator: 3 answered + 1 long abandon
        assert_eq!(c.service_level, Some(2.0 / 4.0));
        assert_eq!(c.abandon_rate, Some(2.0 / 6.0));
        assert_eq!(c.abandon_rate_without_short, Some(1.0 / 5.0));
        assert_eq!(c.avg_time_to_abandon_ms, Some(21_000.0));
        // first answers: a 1 ring, b 3 rings (agent), e 3 rings (engine)
        assert_eq!(c.avg_rings_to_answer, Some(7.0 / 3.0));
        assert_eq!(c.rings_distribution, BTreeMap::from([(1, 1), (3, 2)]));
        assert_eq!(c.system_answered_within_rings, Some(1.0));
        assert_eq!(c.agent_answered_within_rings, Some(2.0 / 3.0));
        assert_eq!(c.avg_talk_ms, Some(90_000.0));
        // a and b completed; b went past its limit
        assert_eq!(c.within_limit, Some(0.5));
        assert_eq!(c.calls_per_hour, Some(6.0 * 3_600_000.0 / 160_000.0));
        assert_eq!(s.queues["sales"].offered, 4);
        assert_eq!(s.queues["support"].offered, 2);
        assert_eq!(s.queues["support"].rejected, 1);
        assert_eq!(
            s.agents["1001"],
            AgentFigures {
                answered: 2,
                missed: 0,
                talk_ms: 60_000,
                avg_talk_ms: Some(60_000.0),
                limit_exceeded: 0,
            }
        );
        assert_eq!(s.agents["1002"].missed, 1);
        assert_eq!(s.agents["1002"].limit_exceeded, 1);
        // a window holds only the calls that arrived in it
        let w = m.snapshot_window(3_000, 160_000);
        assert_eq!(w.center.offered, 3, "d, e, g");
        assert_eq!(w.center.calls_per_hour, Some(3.0 * 3_600_000.0 / 157_000.0));
    }

    #[test]
    fn events_in_any_order_and_twice_give_the_same_figures() {
        let mut log = Log(Vec::new());
        for i in 0..50 {
            log.answered(
                i * 10_000,
                &format!("c{i}"),
                "q",
                "1001",
                i * 700,
                1 + (i % 4) as u32,
                30_000,
            );
            log.abandoned(i * 10_000 + 5, &format!("x{i}"), "q", i * 300);
        }
        let forward = log.metrics().snapshot(10_000_000);
        let mut shuffled = log.0.clone();
        shuffled.reverse();
        shuffled.extend(log.0.iter().cloned()); // every event twice
        let mut m = Metrics::new(KpiConfig::default());
        for e in &shuffled {
            m.apply(e);
        }
        assert_eq!(m.snapshot(10_000_000), forward);
    }

    #[test]
    fn hostile_streams_do_not_break_the_figures() {
        let mut m = Metrics::new(KpiConfig::default());
        // events of calls never seen arriving, events without a call, absurd values
        let e = |at, call: Option<&str>, kind| CallEvent {
            at_ms: at,
            call_id: call.map(CallId::from_stored),
            agent: None,
            queue: None,
            kind,
        };
        m.apply(&e(
            5,
            Some("ghost"),
            EventKind::Completed {
                ended_by: EndedBy::Agent,
                talk_ms: -5,
            },
        ));
        m.apply(&e(
            5,
            Some("ghost"),
            EventKind::AgentAnswered {
                wait_ms: i64::MAX,
                rings: u32::MAX,
            },
        ));
        m.apply(&e(
            5,
            None,
            EventKind::AgentRegistered {
                contact: "x".into(),
                expires_s: 60,
            },
        ));
        // a call that claims to have arrived at the dawn of time
        m.apply(&e(
            i64::MIN,
            Some("old"),
            EventKind::Arrived {
                caller: Party {
                    number: "1".into(),
                    display: None,
                },
                dialled: "x".into(),
                call_type: CallType::default(),
            },
        ));
        assert_eq!(m.snapshot(10).center.longest_current_wait_ms, i64::MAX);
        m.forget_before(i64::MAX);
        m.calls.remove(&CallId::from_stored("old"));
        let s = m.snapshot(10);
        assert_eq!(
            s.center,
            Figures::default(),
            "calls without an arrival are not counted"
        );
        assert!(serde_json_like(&s));
    }

    fn serde_json_like(s: &Snapshot) -> bool {
        // every ratio is finite or absent
        let c = &s.center;
        [
            c.asa_ms,
            c.service_level,
            c.abandon_rate,
            c.abandon_rate_without_short,
            c.avg_talk_ms,
        ]
        .iter()
        .all(|v| v.is_none_or(f64::is_finite))
    }

    #[test]
    fn a_simulated_week_runs_in_milliseconds_and_forgets_old_calls() {
        let mut m = Metrics::new(KpiConfig::default());
        let mut log = Log(Vec::new());
        let week = 7 * 86_400_000i64;
        let mut t = 0;
        let mut i = 0;
        while t < week {
            if i % 10 == 0 {
                log.abandoned(t, &format!("c{i}"), "q", (i % 60) * 1_000);
            } else {
                log.answered(
                    t,
                    &format!("c{i}"),
                    "q",
                    &format!("{}", 1000 + i % 20),
                    (i % 40) * 1_000,
                    1 + (i % 3) as u32,
                    90_000,
                );
            }
            t += 30_000;
            i += 1;
        }
        for e in &log.0 {
            m.apply(e);
        }
        let s = m.snapshot(week);
        assert_eq!(s.center.offered, i as u64);
        assert!((s.center.abandon_rate.unwrap() - 0.1).abs() < 0.001);
        let day = m.snapshot_window(week - 86_400_000, week);
        assert_eq!(day.center.offered, 2_880);
        assert!((day.center.calls_per_hour.unwrap() - 120.0).abs() < 1e-9);
        m.forget_before(week - 86_400_000);
        assert_eq!(m.tracked_calls(), 2_880);
        assert_eq!(
            m.snapshot_window(week - 86_400_000, week).center,
            day.center,
            "the last day is intact"
        );
    }
}
