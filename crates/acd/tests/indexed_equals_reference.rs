//! The indexed `Acd` makes exactly the decisions of the straightforward scan
//! it replaced (`reference::ReferenceAcd`, the code before the index): many
//! random simulated hours of traffic go through both, every input the same,
//! and every output (offers in their order, notices, refusals, positions,
//! expected waits, agent states and counters, wallboard lists) must match.
//!
//! `ACD_EQUIVALENCE_HOURS` (default 40) sets the simulated hours, spread over
//! seeds of two hours each, every seed a different floor.

mod reference;

use hotline_acd::*;
use hotline_core::{AgentId, CallId, QueueId};
use reference::ReferenceAcd;
use std::collections::BTreeMap;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SKILLS: [&str; 4] = ["mandarin", "cantonese", "english", "billing"];
const STRATEGIES: [Strategy; 6] = [
    Strategy::LongestIdle,
    Strategy::RoundRobin,
    Strategy::FewestCalls,
    Strategy::LeastTalkTime,
    Strategy::Linear,
    Strategy::RingAll,
];

fn needs(rng: &mut Rng, max: u64) -> Vec<SkillNeed> {
    (0..rng.below(max + 1))
        .map(|_| SkillNeed {
            skill: rng.pick(&SKILLS).to_string(),
            min_level: rng.below(101) as u8,
        })
        .collect()
}

fn skills(rng: &mut Rng) -> BTreeMap<String, u8> {
    let mut out = BTreeMap::new();
    for s in SKILLS {
        if rng.chance(60) {
            out.insert(s.to_string(), 1 + rng.below(100) as u8);
        }
    }
    out
}

fn random_queue(rng: &mut Rng, id: QueueId, agents: &[AgentId]) -> QueueConfig {
    // a random subset in a random order, or everyone (empty list)
    let mut members: Vec<AgentId> = if rng.chance(20) {
        Vec::new()
    } else {
        agents.iter().filter(|_| rng.chance(50)).cloned().collect()
    };
    for i in (1..members.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        members.swap(i, j);
    }
    QueueConfig {
        strategy: *rng.pick(&STRATEGIES),
        members,
        max_wait_ms: rng
            .chance(50)
            .then(|| 30_000 + rng.below(300) as i64 * 1_000),
        max_len: rng.chance(30).then(|| 3 + rng.below(30) as usize),
        wrap_up_ms: rng.chance(40).then(|| rng.below(20) as i64 * 1_000),
        min_staffed: rng.below(3) as u32,
        skills: if rng.chance(30) {
            needs(rng, 1)
        } else {
            vec![]
        },
        widen_after_ms: rng.chance(50).then(|| rng.below(90) as i64 * 1_000),
        preferred: if rng.chance(40) {
            needs(rng, 2)
        } else {
            vec![]
        },
        ..QueueConfig::new(id)
    }
}

/// Both ACDs, driven together; every answer compared.
struct Pair {
    new: Acd,
    old: ReferenceAcd,
    agents: Vec<AgentId>,
    queues: Vec<QueueId>,
    checks: u64,
}

impl Pair {
    fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, new: T, old: T) -> T {
        self.checks += 1;
        assert_eq!(new, old, "{what}: indexed (left) vs reference (right)");
        new
    }

    /// Everything a caller of the ACD can observe; returns the notices.
    fn compare_state(&mut self, calls: &[CallId]) -> Vec<Notice> {
        for ag in self.agents.clone() {
            let (n, o) = (self.new.agent_state(&ag), self.old.agent_state(&ag));
            self.same(&format!("state of {ag}"), n, o);
            let (n, o) = (self.new.counters(&ag), self.old.counters(&ag));
            self.same(&format!("counters of {ag}"), n, o);
        }
        let (n, o) = (self.new.waiting(), self.old.waiting());
        self.same("waiting", n, o);
        let (n, o) = (self.new.queue_ids(), self.old.queue_ids());
        self.same("queue ids", n, o);
        for q in self.queues.clone() {
            let (n, o) = (self.new.waiting_calls(&q), self.old.waiting_calls(&q));
            self.same(&format!("waiting calls of {q}"), n, o);
            let (n, o) = (self.new.waiting_in(&q), self.old.waiting_in(&q));
            self.same("waiting_in", n, o);
            let (n, o) = (self.new.staffed_agents(&q), self.old.staffed_agents(&q));
            self.same(&format!("staffed in {q}"), n, o);
            let (n, o) = (self.new.recent_handle_ms(&q), self.old.recent_handle_ms(&q));
            self.same("recent handle", n, o);
            let (n, o) = (self.new.queue_open(&q), self.old.queue_open(&q));
            self.same("open", n, o);
        }
        for call in calls {
            let (n, o) = (self.new.position(call), self.old.position(call));
            self.same(&format!("position of {call}"), n, o);
            let (n, o) = (
                self.new.expected_wait_ms(call, 120_000),
                self.old.expected_wait_ms(call, 120_000),
            );
            self.same("expected wait", n, o);
        }
        let (n, o) = (self.new.take_notices(), self.old.take_notices());
        self.same("notices", n, o)
    }
}

/// What the traffic went through, so the test shows it covered the rules.
#[derive(Default, Debug)]
struct Seen {
    offers: u64,
    checks: u64,
    /// An agent offered the same call again: a new round after all were tried.
    new_rounds: u64,
    ring_all_offers: u64,
    max_waits: u64,
    auto_pauses: u64,
    overrides: u64,
    refused_full: u64,
}

/// `hours` of a random floor.
fn run(seed: u64, hours: i64, seen: &mut Seen) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let cfg = AcdConfig {
        wrap_up_ms: rng.below(10) as i64 * 1_000,
        auto_pause_after_misses: rng.below(4) as u32,
    };
    let n_agents = 3 + rng.below(30) as usize;
    let agents: Vec<AgentId> = (0..n_agents)
        .map(|i| AgentId::new(format!("a{i}")))
        .collect();
    let mut queues = vec![default_queue()];
    queues.extend((0..1 + rng.below(5)).map(|i| QueueId::new(format!("q{i}"))));
    let mut pair = Pair {
        new: Acd::new(cfg),
        old: ReferenceAcd::new(cfg),
        agents: agents.clone(),
        queues: queues.clone(),
        checks: 0,
    };
    for q in &queues[1..] {
        let c = random_queue(&mut rng, q.clone(), &agents);
        pair.new.set_queue(c.clone());
        pair.old.set_queue(c);
    }
    for ag in &agents {
        if rng.chance(70) {
            let s = skills(&mut rng);
            pair.new.set_skills(ag, s.clone());
            pair.old.set_skills(ag, s);
        }
        if rng.chance(85) {
            let t = rng.below(1_000) as i64;
            pair.new.agent_logged_in(ag, t);
            pair.old.agent_logged_in(ag, t);
        }
    }
    // (call, agent, when the ring ends)
    let mut ringing: Vec<(CallId, AgentId, i64)> = Vec::new();
    let mut talking: Vec<(AgentId, i64)> = Vec::new();
    let mut calls: Vec<CallId> = Vec::new();
    // when each caller gives up
    let mut patience: BTreeMap<CallId, i64> = BTreeMap::new();
    let mut offered: BTreeMap<CallId, Vec<AgentId>> = BTreeMap::new();
    let mut n = 0u64;
    let mut now = 1_000i64;
    let end = now + hours * 3_600_000;
    while now < end {
        // odd seeds move in half seconds: equal times, exact thresholds
        now += if seed % 2 == 1 {
            500 * rng.below(6) as i64
        } else {
            rng.below(3_000) as i64
        };
        // load swings between quiet and flooded every ~20 minutes
        let busy = (now / 1_200_000) % 3;
        let arrivals = [4, 15, 40][busy as usize];
        if rng.chance(arrivals) {
            let q = rng.pick(&queues).clone();
            let call = CallId::from_stored(format!("c{n}"));
            n += 1;
            let request = CallRequest {
                priority: *rng.pick(&[0, 0, 0, 0, 0, 0, 10, 20, 5]),
                skills: if rng.chance(30) {
                    needs(&mut rng, 2)
                } else {
                    vec![]
                },
                preferred: None,
            };
            let r_new = pair.new.enqueue_in(&q, call.clone(), request.clone(), now);
            let r_old = pair.old.enqueue_in(&q, call.clone(), request, now);
            let r = pair.same("enqueue", r_new, r_old);
            if matches!(r, Err(EnqueueRefused::QueueFull { .. })) {
                seen.refused_full += 1;
            }
            if r.is_ok() {
                patience.insert(call.clone(), now + 20_000 + rng.below(600) as i64 * 1_000);
                calls.push(call);
            }
        }
        if rng.chance(2) {
            // an unknown queue, and a call already waiting
            let q = QueueId::new("nowhere");
            let call = CallId::from_stored("stray");
            let (a, b) = (
                pair.new
                    .enqueue_in(&q, call.clone(), CallRequest::default(), now),
                pair.old.enqueue_in(&q, call, CallRequest::default(), now),
            );
            let _ = pair.same("unknown queue", a, b);
            if let Some(c) = calls.last().cloned() {
                let (a, b) = (
                    pair.new
                        .enqueue_in(&queues[0], c.clone(), CallRequest::default(), now),
                    pair.old
                        .enqueue_in(&queues[0], c, CallRequest::default(), now),
                );
                let _ = pair.same("enqueue twice", a, b);
            }
        }
        // rings that end now
        let due: Vec<(CallId, AgentId, i64)> = ringing
            .iter()
            .filter(|(_, _, t)| *t <= now)
            .cloned()
            .collect();
        for (call, agent, _) in due {
            if !ringing.iter().any(|(c, a, _)| *c == call && *a == agent) {
                continue; // settled by a ring-all answer
            }
            let result = *rng.pick(&[
                RingResult::Answered,
                RingResult::Answered,
                RingResult::Answered,
                RingResult::NoAnswer,
                RingResult::Rejected,
                RingResult::Unreachable,
            ]);
            if rng.chance(5) {
                // the caller hangs up while the agent's phone rings
                pair.new.remove_call(&call, now);
                pair.old.remove_call(&call, now);
                ringing.retain(|(c, _, _)| *c != call);
                continue;
            }
            pair.new.ring_result(&call, &agent, result, now);
            pair.old.ring_result(&call, &agent, result, now);
            ringing.retain(|(c, a, _)| !(*c == call && *a == agent));
            if result == RingResult::Answered {
                talking.push((agent, now + 5_000 + rng.below(120) as i64 * 1_000));
                for (c, other, _) in ringing.iter().filter(|(c, _, _)| *c == call) {
                    pair.new
                        .ring_result(c, other, RingResult::AnsweredElsewhere, now);
                    pair.old
                        .ring_result(c, other, RingResult::AnsweredElsewhere, now);
                }
                ringing.retain(|(c, _, _)| *c != call);
            }
        }
        let (done, rest): (Vec<_>, Vec<_>) = talking.into_iter().partition(|(_, t)| *t <= now);
        talking = rest;
        for (ag, _) in done {
            let (a, b) = (pair.new.call_ended(&ag, now), pair.old.call_ended(&ag, now));
            pair.same("call ended", a, b);
        }
        // the floor changes
        if rng.chance(3) {
            let ag = rng.pick(&agents).clone();
            let by = rng.chance(30).then_some("supervisor");
            match rng.below(7) {
                0 | 1 => {
                    let (a, b) = (
                        pair.new.pause(&ag, "meal", now, by),
                        pair.old.pause(&ag, "meal", now, by),
                    );
                    let _ = pair.same("pause", a, b);
                }
                2 | 3 => {
                    pair.new.unpause(&ag, now);
                    pair.old.unpause(&ag, now);
                }
                4 => {
                    let (a, b) = (pair.new.logout(&ag, by), pair.old.logout(&ag, by));
                    let _ = pair.same("logout", a, b);
                }
                5 => {
                    pair.new.agent_logged_out(&ag);
                    pair.old.agent_logged_out(&ag);
                }
                _ => {
                    pair.new.agent_logged_in(&ag, now);
                    pair.old.agent_logged_in(&ag, now);
                }
            }
        }
        if rng.chance(1) {
            let ag = rng.pick(&agents).clone();
            let s = skills(&mut rng);
            pair.new.set_skills(&ag, s.clone());
            pair.old.set_skills(&ag, s);
        }
        if rng.below(1_000) < 3 && queues.len() > 1 {
            // a supervisor edits a queue while calls wait in it
            let q = queues[1 + rng.below(queues.len() as u64 - 1) as usize].clone();
            let c = random_queue(&mut rng, q, &agents);
            pair.new.set_queue(c.clone());
            pair.old.set_queue(c);
        }
        if rng.chance(1) {
            let q = rng.pick(&queues).clone();
            let open = rng.chance(70);
            pair.new.set_queue_open(&q, open);
            pair.old.set_queue_open(&q, open);
        }
        if rng.chance(2) && !calls.is_empty() {
            // a caller asks for a callback (keeps the turn) or hangs up
            let i = rng.below(calls.len() as u64) as usize;
            let old_id = calls[i].clone();
            if rng.chance(50) {
                let new_id = CallId::from_stored(format!("cb{n}"));
                n += 1;
                let (a, b) = (
                    pair.new.rename_call(&old_id, new_id.clone(), now),
                    pair.old.rename_call(&old_id, new_id.clone(), now),
                );
                if pair.same("rename", a, b) {
                    calls[i] = new_id.clone();
                    if let Some(t) = patience.remove(&old_id) {
                        patience.insert(new_id.clone(), t);
                    }
                    for r in ringing.iter_mut().filter(|r| r.0 == old_id) {
                        r.0 = new_id.clone();
                    }
                }
            } else {
                pair.new.remove_call(&old_id, now);
                pair.old.remove_call(&old_id, now);
                ringing.retain(|(c, _, _)| *c != old_id);
            }
        }
        // callers whose patience ran out hang up (ringing or not)
        let gone: Vec<CallId> = calls
            .iter()
            .filter(|c| patience.get(*c).is_some_and(|t| *t <= now))
            .cloned()
            .collect();
        for call in gone {
            pair.new.remove_call(&call, now);
            pair.old.remove_call(&call, now);
            ringing.retain(|(c, _, _)| *c != call);
            patience.remove(&call);
        }
        if rng.chance(1) {
            // odd inputs: results for agents or calls that are not ringing
            let ag = rng.pick(&agents).clone();
            let call = calls
                .get(rng.below(calls.len() as u64 + 1) as usize)
                .cloned()
                .unwrap_or_else(|| CallId::from_stored("gone"));
            if !ringing.iter().any(|(c, a, _)| *c == call || *a == ag)
                && !talking.iter().any(|(a, _)| *a == ag)
            {
                let result = *rng.pick(&[
                    RingResult::NoAnswer,
                    RingResult::Rejected,
                    RingResult::CallerGone,
                    RingResult::AnsweredElsewhere,
                    RingResult::Unreachable,
                ]);
                pair.new.ring_result(&call, &ag, result, now);
                pair.old.ring_result(&call, &ag, result, now);
            }
            let (a, b) = (pair.new.call_ended(&ag, now), pair.old.call_ended(&ag, now));
            pair.same("call ended while not on a call", a, b);
        }
        if rng.chance(60) {
            let offers = pair.new.poll_offers(now);
            let reference = pair.old.poll_offers(now);
            let offers = pair.same(&format!("offers at {now} (seed {seed})"), offers, reference);
            let calls_offered: Vec<&CallId> = offers.iter().map(|o| &o.call).collect();
            for (i, c) in calls_offered.iter().enumerate() {
                if calls_offered[..i].contains(c) {
                    seen.ring_all_offers += 1;
                }
            }
            for o in offers {
                seen.offers += 1;
                let before = offered.entry(o.call.clone()).or_default();
                if before.contains(&o.agent) {
                    seen.new_rounds += 1;
                }
                before.push(o.agent.clone());
                ringing.push((o.call, o.agent, now + 1_000 + rng.below(20) as i64 * 1_000));
            }
        }
        calls.retain(|c| pair.old.position(c).is_some());
        if rng.chance(10) {
            count(seen, pair.compare_state(&calls));
        }
    }
    count(seen, pair.compare_state(&calls));
    seen.checks += pair.checks;
}

fn count(seen: &mut Seen, notices: Vec<Notice>) {
    for n in notices {
        match n {
            Notice::MaxWaitReached { .. } => seen.max_waits += 1,
            Notice::AgentAutoPaused { .. } => seen.auto_pauses += 1,
            Notice::MinimumOverridden { .. } => seen.overrides += 1,
            // the reference has no preferred agents; the traffic names none
            Notice::PreferredOffered { .. } | Notice::PreferredPassed { .. } => {
                unreachable!("no preferred agent in this traffic")
            }
        }
    }
}

#[test]
fn random_hours_give_the_same_offers_as_the_reference_scan() {
    let hours: i64 = std::env::var("ACD_EQUIVALENCE_HOURS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(40);
    let mut seen = Seen::default();
    for seed in 0..(hours / 2).max(1) as u64 {
        run(seed + 1, 2, &mut seen);
    }
    eprintln!("{hours} simulated hours: {seen:?}");
    // the traffic went through every rule, not only the easy path
    assert!(seen.offers > 150 * hours as u64, "{seen:?}");
    for (rule, n) in [
        ("new rounds", seen.new_rounds),
        ("ring-all", seen.ring_all_offers),
        ("max wait", seen.max_waits),
        ("auto-pause", seen.auto_pauses),
        ("minimum overridden", seen.overrides),
        ("queue full", seen.refused_full),
    ] {
        assert!(n >= hours as u64 / 4, "{rule}: {seen:?}");
    }
}

#[test]
fn a_queue_listing_an_agent_twice_rings_them_once() {
    let mut acd = Acd::new(AcdConfig::default());
    let (a1, a2) = (AgentId::new("1"), AgentId::new("2"));
    acd.set_queue(QueueConfig {
        strategy: Strategy::RingAll,
        members: vec![a1.clone(), a2.clone(), a1.clone()],
        ..QueueConfig::new(QueueId::new("all"))
    });
    acd.agent_logged_in(&a1, 0);
    acd.agent_logged_in(&a2, 0);
    acd.enqueue_in(
        &QueueId::new("all"),
        CallId::from_stored("x"),
        CallRequest::default(),
        1,
    )
    .unwrap();
    let agents: Vec<AgentId> = acd.poll_offers(2).into_iter().map(|o| o.agent).collect();
    assert_eq!(agents, [a1, a2]);
}
