#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! The ACD's decision: `poll_offers` with many agents and waiting calls.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use hotline_acd::{
    Acd, AcdConfig, AgentState, CallRequest, QueueConfig, RingResult, SkillNeed, Strategy,
};
use hotline_core::{AgentId, CallId, QueueId};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn setup(agents: usize, calls: usize) -> Acd {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 3,
    });
    for (i, s) in [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
    ]
    .iter()
    .enumerate()
    {
        let members = (0..agents)
            .filter(|m| m % 3 != i)
            .map(|m| AgentId::new(format!("a{m}")))
            .collect();
        acd.set_queue(QueueConfig {
            strategy: *s,
            members,
            ..QueueConfig::new(QueueId::new(format!("q{i}")))
        });
    }
    for m in 0..agents {
        acd.agent_logged_in(&AgentId::new(format!("a{m}")), m as i64);
    }
    for c in 0..calls {
        let q = QueueId::new(format!("q{}", c % 3));
        let _ = acd.enqueue_in(
            &q,
            CallId::from_stored(format!("c{c}")),
            CallRequest::default(),
            1_000 + c as i64,
        );
    }
    acd
}

fn poll(c: &mut Criterion) {
    for (agents, calls) in [(50, 100), (500, 1000)] {
        c.bench_function(&format!("poll_offers_{agents}_agents_{calls}_calls"), |b| {
            b.iter_batched(
                || setup(agents, calls),
                |mut acd| acd.poll_offers(10_000),
                BatchSize::SmallInput,
            )
        });
    }
    // the common case: everyone busy, calls waiting
    let mut busy = setup(500, 1000);
    busy.poll_offers(10_000);
    c.bench_function("poll_offers_all_agents_busy_1000_calls", |b| {
        b.iter(|| busy.poll_offers(10_001))
    });
}

/// A large center: `agents` agents in `queues` queues (each agent in three of
/// them, the five strategies in turn), every agent on a call and `waiting`
/// callers spread over the queues.
fn busy_center(agents: usize, waiting: usize, queues: usize) -> Acd {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 0,
    });
    let strategies = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::Linear,
    ];
    let queues_of = |m: usize| [m % queues, (m * 7 + 3) % queues, (m * 13 + 5) % queues];
    for q in 0..queues {
        let members = (0..agents)
            .filter(|&m| queues_of(m).contains(&q))
            .map(|m| AgentId::new(format!("a{m}")))
            .collect();
        acd.set_queue(QueueConfig {
            strategy: strategies[q % strategies.len()],
            members,
            ..QueueConfig::new(QueueId::new(format!("q{q}")))
        });
    }
    for m in 0..agents {
        acd.agent_logged_in(&AgentId::new(format!("a{m}")), m as i64);
    }
    // one call for each agent, and `waiting` more
    for c in 0..agents + waiting {
        let _ = acd.enqueue_in(
            &QueueId::new(format!("q{}", c % queues)),
            CallId::from_stored(format!("c{c}")),
            CallRequest::default(),
            10_000 + c as i64,
        );
    }
    for o in acd.poll_offers(100_000) {
        acd.ring_result(&o.call, &o.agent, RingResult::Answered, 100_000);
    }
    assert_eq!(acd.waiting(), waiting, "every agent took a call");
    for m in 0..agents {
        let state = acd.agent_state(&AgentId::new(format!("a{m}")));
        assert_eq!(state, AgentState::OnCall, "a{m}");
    }
    acd
}

/// One routing decision in a large center: 1,000 agents all busy, 10,000
/// callers waiting in 20 queues; one agent's call ends (no wrap-up) and the
/// timed `poll_offers` finds them their next call. Untimed around it: the
/// call ends (a different agent each time), the offer is answered and a new
/// caller joins, so every iteration starts from the same load.
fn one_agent_freed(c: &mut Criterion) {
    const AGENTS: usize = 1_000;
    const WAITING: usize = 10_000;
    const QUEUES: usize = 20;
    let mut acd = busy_center(AGENTS, WAITING, QUEUES);
    let agents: Vec<AgentId> = (0..AGENTS).map(|m| AgentId::new(format!("a{m}"))).collect();
    let mut now = 1_000_000;
    let mut next_call = AGENTS + WAITING;
    c.bench_function(
        "poll_offers_1000_agents_10000_waiting_20_queues_one_agent_freed",
        |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    now += 1_000;
                    let agent = &agents[next_call % AGENTS];
                    acd.call_ended(agent, now);
                    let started = Instant::now();
                    let offers = black_box(acd.poll_offers(now));
                    timed += started.elapsed();
                    assert_eq!(offers.len(), 1);
                    assert_eq!(&offers[0].agent, agent);
                    acd.ring_result(&offers[0].call, agent, RingResult::Answered, now);
                    let _ = acd.enqueue_in(
                        &QueueId::new(format!("q{}", next_call % QUEUES)),
                        CallId::from_stored(format!("c{next_call}")),
                        CallRequest::default(),
                        now,
                    );
                    next_call += 1;
                }
                timed
            })
        },
    );
}

/// A whole floor comes back at once in the same large center: 500 of the
/// 1,000 agents end their calls together (no wrap-up) and the timed
/// `poll_offers` makes 500 offers out of the 10,000 callers waiting in 20
/// queues. Untimed around it: the offers are answered and 500 new callers
/// join, so every iteration starts from the same load.
fn five_hundred_freed(c: &mut Criterion) {
    const AGENTS: usize = 1_000;
    const WAITING: usize = 10_000;
    const QUEUES: usize = 20;
    const FREED: usize = 500;
    let mut acd = busy_center(AGENTS, WAITING, QUEUES);
    let agents: Vec<AgentId> = (0..AGENTS).map(|m| AgentId::new(format!("a{m}"))).collect();
    let mut now = 1_000_000;
    let mut next_call = AGENTS + WAITING;
    let mut round = 0;
    c.bench_function(
        "poll_offers_1000_agents_10000_waiting_20_queues_500_freed",
        |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    now += 1_000;
                    // every other agent, alternating halves, so each queue gets some
                    for m in (round % 2..AGENTS).step_by(2) {
                        acd.call_ended(&agents[m], now);
                    }
                    round += 1;
                    let started = Instant::now();
                    let offers = black_box(acd.poll_offers(now));
                    timed += started.elapsed();
                    assert_eq!(offers.len(), FREED);
                    for o in &offers {
                        acd.ring_result(&o.call, &o.agent, RingResult::Answered, now);
                    }
                    for _ in 0..FREED {
                        let _ = acd.enqueue_in(
                            &QueueId::new(format!("q{}", next_call % QUEUES)),
                            CallId::from_stored(format!("c{next_call}")),
                            CallRequest::default(),
                            now,
                        );
                        next_call += 1;
                    }
                }
                timed
            })
        },
    );
}

/// The one-agent-freed case with what real floors add: every call needs one
/// of four languages (a few need level 80, widened after 60 s), one caller
/// in ten is a VIP, the queues prefer a product skill, and agents speak one
/// or two languages.
fn one_agent_freed_with_skills(c: &mut Criterion) {
    const AGENTS: usize = 1_000;
    const WAITING: usize = 10_000;
    const QUEUES: usize = 20;
    let languages = ["mandarin", "cantonese", "english", "shanghainese"];
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 0,
    });
    let strategies = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::Linear,
    ];
    let queues_of = |m: usize| [m % QUEUES, (m * 7 + 3) % QUEUES, (m * 13 + 5) % QUEUES];
    for q in 0..QUEUES {
        let members = (0..AGENTS)
            .filter(|&m| queues_of(m).contains(&q))
            .map(|m| AgentId::new(format!("a{m}")))
            .collect();
        acd.set_queue(QueueConfig {
            strategy: strategies[q % strategies.len()],
            members,
            widen_after_ms: Some(60_000),
            preferred: vec![SkillNeed {
                skill: format!("product{}", q % 3),
                min_level: 50,
            }],
            ..QueueConfig::new(QueueId::new(format!("q{q}")))
        });
    }
    for m in 0..AGENTS {
        let id = AgentId::new(format!("a{m}"));
        let mut skills = BTreeMap::new();
        skills.insert(languages[m % 4].to_string(), 50 + (m % 50) as u8);
        if m % 3 == 0 {
            skills.insert(languages[(m / 3) % 4].to_string(), 90);
        }
        skills.insert(format!("product{}", m % 3), 60);
        acd.set_skills(&id, skills);
        acd.agent_logged_in(&id, m as i64);
    }
    let request = |c: usize| CallRequest {
        priority: if c.is_multiple_of(10) { 10 } else { 0 },
        skills: vec![SkillNeed {
            skill: languages[c % 4].to_string(),
            min_level: if c.is_multiple_of(7) { 80 } else { 1 },
        }],
        preferred: None,
    };
    let mut next_call = 0;
    while acd.waiting() < WAITING || !busy(&acd, AGENTS) {
        let _ = acd.enqueue_in(
            &QueueId::new(format!("q{}", next_call % QUEUES)),
            CallId::from_stored(format!("c{next_call}")),
            request(next_call),
            10_000 + next_call as i64,
        );
        next_call += 1;
        if next_call % 100 == 0 {
            for o in acd.poll_offers(100_000) {
                acd.ring_result(&o.call, &o.agent, RingResult::Answered, 100_000);
            }
        }
    }
    let agents: Vec<AgentId> = (0..AGENTS).map(|m| AgentId::new(format!("a{m}"))).collect();
    let mut now = 1_000_000;
    let mut k = 0;
    c.bench_function(
        "poll_offers_1000_agents_10000_waiting_20_queues_one_agent_freed_skills_vip",
        |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    now += 1_000;
                    let agent = &agents[k % AGENTS];
                    k += 1;
                    acd.call_ended(agent, now);
                    let started = Instant::now();
                    let offers = black_box(acd.poll_offers(now));
                    timed += started.elapsed();
                    for o in &offers {
                        acd.ring_result(&o.call, &o.agent, RingResult::Answered, now);
                    }
                    for _ in 0..offers.len() {
                        let _ = acd.enqueue_in(
                            &QueueId::new(format!("q{}", next_call % QUEUES)),
                            CallId::from_stored(format!("c{next_call}")),
                            request(next_call),
                            now,
                        );
                        next_call += 1;
                    }
                }
                timed
            })
        },
    );
}

fn busy(acd: &Acd, agents: usize) -> bool {
    (0..agents).all(|m| acd.agent_state(&AgentId::new(format!("a{m}"))) == AgentState::OnCall)
}

criterion_group!(
    benches,
    poll,
    one_agent_freed,
    five_hundred_freed,
    one_agent_freed_with_skills
);
criterion_main!(benches);
