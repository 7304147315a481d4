#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Hours of random traffic through the controller and the calls, in
//! simulated time, with the invariants checked all along (the harness
//! asserts them as commands are carried out) and at the end: no call lost,
//! none bridged twice, none finished twice, every call with exactly one CDR
//! equal to the one its events give, every agent free again.

mod harness;

use harness::{Phone, World};
use hotline_acd::{QueueConfig, Strategy};
use hotline_callflow::{
    Action, AnnouncePolicy, CallbackPolicy, FlowSettings, Input, LegInput, Menu, Route,
};
use hotline_core::{AgentId, CallType, Outcome, QueueId};
use std::collections::{BTreeMap, HashMap};

/// xorshift64*: a small deterministic generator (the same seed, the same day).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
}

fn settings(agents: &[&str]) -> FlowSettings {
    let mut cfg = FlowSettings::basic(agents);
    let route = |t, q: &str| Route {
        call_type: t,
        queue: QueueId::new(q),
        language: None,
    };
    cfg.ivr = Some(Menu {
        timeout_ms: 4_000,
        tries: 2,
        options: BTreeMap::from([
            ('1', route(CallType::Order, "orders")),
            ('2', route(CallType::Inquiry, "general")),
        ]),
        default: route(CallType::Inquiry, "general"),
    });
    cfg.queues = vec![
        QueueConfig {
            max_wait_ms: Some(120_000),
            ..QueueConfig::new(QueueId::new("general"))
        },
        QueueConfig {
            strategy: Strategy::RingAll,
            ..QueueConfig::new(QueueId::new("orders"))
        },
        QueueConfig {
            strategy: Strategy::RoundRobin,
            members: vec![AgentId::new("lead1"), AgentId::new("lead2")],
            ..QueueConfig::new(QueueId::new("leaders"))
        },
    ];
    cfg.overflow
        .insert(QueueId::new("general"), QueueId::new("leaders"));
    cfg.transfer_queue = Some(QueueId::new("leaders"));
    cfg.announcements = Some(AnnouncePolicy {
        every_ms: 30_000,
        default_handle_ms: 120_000,
    });
    cfg.callback = Some(CallbackPolicy {
        key: '9',
        deadline_ms: 3_600_000,
        retry_ms: 120_000,
        attempts: 2,
        answer_timeout_ms: 20_000,
        owner_wait_ms: 0,
    });
    cfg.silent_line_ms = 20_000;
    cfg.agent_ring_timeout_ms = 10_000;
    cfg.media_timeout_ms = 20_000;
    cfg.dial = Some(hotline_callflow::DialRules {
        allowed_prefixes: vec!["06".into()],
        answer_timeout_ms: 25_000,
    });
    cfg
}

#[test]
fn eight_hours_of_random_traffic_keep_every_invariant() {
    const AGENTS: [&str; 8] = ["a1", "a2", "a3", "a4", "a5", "a6", "lead1", "lead2"];
    let mut w = World::new(settings(&AGENTS));
    w.customer_talk_ms = Some(90_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for a in AGENTS {
        let phone = match rng.below(10) {
            0 => Phone::NoAnswer,
            1 => Phone::Busy,
            _ => Phone::Answer(rng.between(500, 9_000)),
        };
        w.agent(a, phone);
    }
    let start = w.now;
    let end = start + 8 * 3_600_000;
    let mut arrived = 0usize;
    let mut outbound = 0usize;
    let mut t = start;
    let mut numbers: HashMap<String, ()> = HashMap::new();
    while t < end {
        // about 150 calls an hour
        t += rng.between(1_000, 47_000);
        w.run_until(t);
        let number = format!("06{:08}", rng.below(100_000_000));
        numbers.insert(number.clone(), ());
        if rng.below(20) == 0 {
            w.customers.insert(number.clone(), Phone::NoAnswer);
        }
        let c = w.call_in(&number);
        arrived += 1;
        if rng.below(25) == 0 {
            w.silent.insert(c.clone());
        }
        if rng.below(30) == 0 {
            // the line dies: no RTP from one side
            let caller = rng.below(2) == 0;
            w.dead_media.insert(c.clone(), (caller, !caller));
        }
        // a key for the menu (or none), later perhaps the callback key
        match rng.below(4) {
            0 => {}
            k => w.at(
                t + 15_000 + rng.between(0, 5_000),
                &c,
                Input::Digit(['1', '2', '7'][k as usize - 1]),
            ),
        }
        if rng.below(10) == 0 {
            w.at(t + rng.between(20_000, 90_000), &c, Input::Digit('9'));
        }
        // the caller hangs up some time (maybe while talking, maybe waiting)
        w.hang_up_at(t + rng.between(3_000, 600_000), &c);
        // now and then an agent calls a customer back (some numbers refused)
        if rng.below(8) == 0 {
            let agent = AGENTS[rng.below(AGENTS.len() as u64) as usize];
            let number = if rng.below(10) == 0 {
                "13900000000".to_string()
            } else {
                format!("06{:08}", rng.below(100_000_000))
            };
            if let Some(c) = w.dial_out(agent, &number) {
                outbound += 1;
                w.hang_up_at(w.now + rng.between(5_000, 300_000), &c);
            }
        }
        // now and then an agent acts on a random live call
        if rng.below(3) == 0 {
            let live: Vec<_> = w.calls.keys().cloned().collect();
            if !live.is_empty() {
                let target = live[rng.below(live.len() as u64) as usize].clone();
                let action = match rng.below(6) {
                    0 => Action::Hold,
                    1 => Action::Resume,
                    2 => Action::SetType(CallType::Order),
                    3 => Action::PauseRecording,
                    4 => Action::ResumeRecording,
                    _ => Action::Transfer { to: None },
                };
                let reply = w.control(&target, action, "api:soak");
                assert!(reply.is_some(), "every action gets an answer");
            }
        }
        // now and then an agent's phone hangs up its call, or puts it on hold
        if rng.below(5) == 0 {
            let talking: Vec<_> = w
                .calls
                .iter()
                .filter_map(|(id, c)| c.agent().map(|a| (id.clone(), a.clone())))
                .collect();
            if let Some((call, agent)) = talking.first() {
                if rng.below(2) == 0 {
                    w.agent_hangs_up_at(w.now + 1_000, call, agent.as_str());
                } else {
                    w.at(
                        w.now + 500,
                        call,
                        Input::Agent {
                            agent: agent.clone(),
                            event: LegInput::RemoteHold { held: true },
                        },
                    );
                }
            }
        }
    }
    // let everything end: callbacks are due within the hour
    w.run_until(end + 2 * 3_600_000);
    assert!(
        w.calls.is_empty(),
        "calls left: {:?}",
        w.calls.keys().collect::<Vec<_>>()
    );
    let callbacks = w.callbacks().len();
    assert_eq!(
        w.cdrs.len(),
        arrived + callbacks + outbound,
        "one CDR per call, callback and outbound call"
    );
    assert!(w.bridged.is_empty());
    for a in AGENTS {
        let state = w.controller.status(&AgentId::new(a)).state;
        assert!(matches!(state, "available" | "paused"), "{a} is {state}");
    }
    let count = |o| w.cdrs.iter().filter(|c| c.outcome == Some(o)).count();
    let (answered, abandoned) = (count(Outcome::Answered), count(Outcome::Abandoned));
    println!(
        "{arrived} calls, {callbacks} callbacks, {outbound} outbound: {answered} answered, {abandoned} abandoned, {} failed, {} callback, {} other",
        count(Outcome::Failed),
        count(Outcome::Callback),
        w.cdrs.len() - answered - abandoned - count(Outcome::Failed) - count(Outcome::Callback)
    );
    assert!(arrived > 1_000);
    assert!(outbound > 20, "{outbound} outbound calls");
    assert!(answered > arrived / 3, "most calls reach an agent");
    assert!(abandoned > 0 && callbacks > 0);
}
