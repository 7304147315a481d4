#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Queues, strategies, agent states, skills, priority and staffing rules of
//! the ACD, driven with explicit time (no clock, no IO).

use hotline_acd::*;
use hotline_core::{AgentId, CallId, QueueId};
use std::collections::BTreeMap;

fn a(s: &str) -> AgentId {
    AgentId::new(s)
}
fn c(s: &str) -> CallId {
    CallId::from_stored(s)
}
fn q(s: &str) -> QueueId {
    QueueId::new(s)
}

fn acd() -> Acd {
    Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 0,
    })
}

/// Offers one call after another to `queue` and returns who got each one;
/// every call is answered and ended at once with `talk_ms`.
fn serve(acd: &mut Acd, queue: &QueueId, n: usize, t0: i64, talk_ms: i64) -> Vec<String> {
    let mut got = Vec::new();
    for i in 0..n {
        let now = t0 + i as i64 * 100_000;
        let call = c(&format!("{queue}-{t0}-{i}"));
        acd.enqueue_in(queue, call.clone(), CallRequest::default(), now)
            .unwrap();
        let offers = acd.poll_offers(now);
        assert_eq!(offers.len(), 1, "call {i}");
        let agent = offers[0].agent.clone();
        acd.ring_result(&call, &agent, RingResult::Answered, now);
        acd.call_ended(&agent, now + talk_ms);
        got.push(agent.as_str().to_string());
    }
    got
}

fn queue(id: &str, strategy: Strategy, members: &[&str]) -> QueueConfig {
    QueueConfig {
        strategy,
        members: members.iter().map(|m| a(m)).collect(),
        ..QueueConfig::new(q(id))
    }
}

#[test]
fn round_robin_remembers_where_it_stopped() {
    let mut acd = acd();
    acd.set_queue(queue("rr", Strategy::RoundRobin, &["1", "2", "3"]));
    for id in ["3", "1", "2"] {
        acd.agent_logged_in(&a(id), 0);
    }
    assert_eq!(
        serve(&mut acd, &q("rr"), 5, 1_000, 10),
        ["1", "2", "3", "1", "2"]
    );
}

#[test]
fn linear_always_starts_from_the_top() {
    let mut acd = acd();
    acd.set_queue(queue("lin", Strategy::Linear, &["2", "1", "3"]));
    for id in ["1", "2", "3"] {
        acd.agent_logged_in(&a(id), 0);
    }
    assert_eq!(serve(&mut acd, &q("lin"), 3, 1_000, 10), ["2", "2", "2"]);
}

#[test]
fn fewest_calls_and_least_talk_time_balance_the_load() {
    let mut acd = acd();
    acd.set_queue(queue("few", Strategy::FewestCalls, &["1", "2"]));
    acd.set_queue(queue("talk", Strategy::LeastTalkTime, &["1", "2"]));
    acd.agent_logged_in(&a("1"), 0);
    acd.agent_logged_in(&a("2"), 10);
    // agent 1 takes two long calls through the default queue (longest idle)
    serve(&mut acd, &default_queue(), 1, 100, 60_000);
    assert_eq!(acd.counters(&a("1")).answered, 1);
    assert_eq!(serve(&mut acd, &q("few"), 1, 200_000, 1_000), ["2"]);
    // both have one call now; 1 talked 60 s, 2 talked 1 s
    assert_eq!(serve(&mut acd, &q("talk"), 1, 400_000, 1_000), ["2"]);
    assert_eq!(acd.counters(&a("1")).talk_ms, 60_000);
}

#[test]
fn an_agent_in_two_queues_is_offered_one_call_and_the_longest_waiting_first() {
    let mut acd = acd();
    acd.set_queue(queue("sales", Strategy::LongestIdle, &["1"]));
    acd.set_queue(queue("support", Strategy::LongestIdle, &["1"]));
    acd.agent_logged_in(&a("1"), 0);
    acd.enqueue_in(&q("sales"), c("s1"), CallRequest::default(), 2_000)
        .unwrap();
    acd.enqueue_in(&q("support"), c("p1"), CallRequest::default(), 1_000)
        .unwrap();
    let offers = acd.poll_offers(3_000);
    assert_eq!(
        offers,
        vec![Offer {
            call: c("p1"),
            agent: a("1")
        }],
        "fair across queues: the older call"
    );
    assert!(
        acd.poll_offers(3_001).is_empty(),
        "never two offers at once"
    );
    assert_eq!(acd.agent_state(&a("1")), AgentState::Ringing);
}

#[test]
fn vip_callers_are_served_first_and_positions_reflect_it() {
    let mut acd = acd();
    acd.enqueue_in(&default_queue(), c("normal"), CallRequest::default(), 0)
        .unwrap();
    let pos = acd
        .enqueue_in(
            &default_queue(),
            c("vip"),
            CallRequest {
                priority: 5,
                ..Default::default()
            },
            10_000,
        )
        .unwrap();
    assert_eq!(pos, 1);
    assert_eq!(acd.position(&c("normal")), Some(2));
    acd.agent_logged_in(&a("1"), 20_000);
    assert_eq!(acd.poll_offers(20_000)[0].call, c("vip"));
}

#[test]
fn consecutive_misses_auto_pause_the_agent_with_a_notice() {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 2,
    });
    acd.agent_logged_in(&a("1"), 0);
    acd.agent_logged_in(&a("2"), 5);
    acd.enqueue(c("x"), 10);
    assert_eq!(acd.poll_offers(10)[0].agent, a("1"));
    acd.ring_result(&c("x"), &a("1"), RingResult::NoAnswer, 15_000);
    assert_eq!(acd.poll_offers(15_000)[0].agent, a("2"));
    acd.ring_result(&c("x"), &a("2"), RingResult::Rejected, 16_000);
    assert_eq!(acd.poll_offers(16_000)[0].agent, a("1"), "new round");
    acd.ring_result(&c("x"), &a("1"), RingResult::NoAnswer, 31_000);
    assert_eq!(
        acd.agent_state(&a("1")),
        AgentState::Paused {
            reason: MISSED_CALLS_REASON.into(),
            since_ms: 31_000
        }
    );
    assert_eq!(
        acd.take_notices(),
        vec![Notice::AgentAutoPaused {
            agent: a("1"),
            misses: 2
        }]
    );
    assert!(acd.take_notices().is_empty());
    // the paused agent is skipped; an answer resets the count of the other
    assert_eq!(acd.poll_offers(31_000)[0].agent, a("2"));
    acd.ring_result(&c("x"), &a("2"), RingResult::Answered, 32_000);
    assert_eq!(acd.counters(&a("2")).consecutive_missed, 0);
    assert_eq!(acd.counters(&a("1")).missed, 2);
    acd.unpause(&a("1"), 40_000);
    assert_eq!(
        acd.agent_state(&a("1")),
        AgentState::Available { since_ms: 40_000 }
    );
    assert_eq!(acd.counters(&a("1")).consecutive_missed, 0);
}

#[test]
fn a_pause_that_would_empty_the_floor_is_refused_unless_a_supervisor_overrides() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        min_staffed: 1,
        ..queue("night", Strategy::LongestIdle, &["1", "2"])
    });
    acd.agent_logged_in(&a("1"), 0);
    acd.agent_logged_in(&a("2"), 0);
    acd.pause(&a("1"), "meal", 100, None)
        .expect("one of two may eat");
    assert_eq!(
        acd.pause(&a("2"), "meal", 200, None),
        Err(LeaveRefused::BelowMinimum {
            queue: q("night"),
            staffed_after: 0,
            minimum: 1
        })
    );
    assert_eq!(
        acd.logout(&a("2"), None),
        Err(LeaveRefused::BelowMinimum {
            queue: q("night"),
            staffed_after: 0,
            minimum: 1
        })
    );
    assert!(matches!(
        acd.agent_state(&a("2")),
        AgentState::Available { .. }
    ));
    // the relief logs in: now the last one may go
    acd.unpause(&a("1"), 300);
    acd.logout(&a("2"), None).expect("relief is here");
    assert_eq!(acd.agent_state(&a("2")), AgentState::LoggedOut);
    // a supervisor may override, and it is reported
    acd.pause(&a("1"), "sick", 400, Some("supervisor-7"))
        .expect("override");
    assert_eq!(
        acd.take_notices(),
        vec![Notice::MinimumOverridden {
            agent: a("1"),
            queue: q("night"),
            by: "supervisor-7".into()
        }]
    );
    assert_eq!(
        acd.pause(&a("9"), "x", 500, None),
        Err(LeaveRefused::NotLoggedIn)
    );
}

#[test]
fn a_pause_asked_during_a_call_starts_after_it() {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 5_000,
        auto_pause_after_misses: 0,
    });
    acd.agent_logged_in(&a("1"), 0);
    acd.enqueue(c("x"), 0);
    acd.poll_offers(0);
    acd.ring_result(&c("x"), &a("1"), RingResult::Answered, 1_000);
    acd.pause(&a("1"), "training", 2_000, None).unwrap();
    assert_eq!(
        acd.agent_state(&a("1")),
        AgentState::OnCall,
        "the call goes on"
    );
    acd.call_ended(&a("1"), 10_000);
    acd.enqueue(c("y"), 11_000);
    assert!(acd.poll_offers(20_000).is_empty());
    assert_eq!(
        acd.agent_state(&a("1")),
        AgentState::Paused {
            reason: "training".into(),
            since_ms: 15_000
        }
    );
}

#[test]
fn max_wait_and_max_length_send_calls_to_overflow() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        max_wait_ms: Some(60_000),
        max_len: Some(2),
        ..QueueConfig::new(q("small"))
    });
    acd.enqueue_in(&q("small"), c("1"), CallRequest::default(), 0)
        .unwrap();
    acd.enqueue_in(&q("small"), c("2"), CallRequest::default(), 1_000)
        .unwrap();
    assert_eq!(
        acd.enqueue_in(&q("small"), c("3"), CallRequest::default(), 2_000),
        Err(EnqueueRefused::QueueFull { waiting: 2 })
    );
    assert_eq!(
        acd.enqueue_in(&q("nope"), c("4"), CallRequest::default(), 2_000),
        Err(EnqueueRefused::UnknownQueue(q("nope")))
    );
    assert!(acd.poll_offers(59_999).is_empty());
    assert!(acd.take_notices().is_empty());
    acd.poll_offers(60_500);
    assert_eq!(
        acd.take_notices(),
        vec![Notice::MaxWaitReached {
            call: c("1"),
            queue: q("small"),
            waited_ms: 60_500
        }]
    );
    assert_eq!(acd.waiting_in(&q("small")), 1);
}

#[test]
fn skills_route_by_language_and_widen_over_wait() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        widen_after_ms: Some(30_000),
        ..queue(
            "cn",
            Strategy::LongestIdle,
            &["mandarin-expert", "cantonese-novice", "english"],
        )
    });
    let skills = |list: &[(&str, u8)]| {
        list.iter()
            .map(|(s, l)| (s.to_string(), *l))
            .collect::<BTreeMap<_, _>>()
    };
    acd.set_skills(&a("mandarin-expert"), skills(&[("mandarin", 90)]));
    acd.set_skills(
        &a("cantonese-novice"),
        skills(&[("cantonese", 20), ("mandarin", 30)]),
    );
    acd.set_skills(&a("english"), skills(&[("english", 90)]));
    acd.agent_logged_in(&a("cantonese-novice"), 0);
    acd.agent_logged_in(&a("english"), 0);
    acd.agent_logged_in(&a("mandarin-expert"), 500);
    let cantonese = CallRequest {
        priority: 0,
        skills: vec![SkillNeed {
            skill: "cantonese".into(),
            min_level: 60,
        }],
        preferred: None,
    };
    acd.enqueue_in(&q("cn"), c("yue"), cantonese, 1_000)
        .unwrap();
    assert!(
        acd.poll_offers(1_000).is_empty(),
        "nobody speaks Cantonese well enough yet"
    );
    // after 30 s any proficiency will do, but the English speaker still cannot take it
    let offers = acd.poll_offers(31_000);
    assert_eq!(
        offers,
        vec![Offer {
            call: c("yue"),
            agent: a("cantonese-novice")
        }]
    );
    let mandarin = CallRequest {
        priority: 0,
        skills: vec![SkillNeed {
            skill: "mandarin".into(),
            min_level: 60,
        }],
        preferred: None,
    };
    acd.enqueue_in(&q("cn"), c("cmn"), mandarin, 32_000)
        .unwrap();
    assert_eq!(
        acd.poll_offers(32_000),
        vec![Offer {
            call: c("cmn"),
            agent: a("mandarin-expert")
        }]
    );
}

#[test]
fn hours_of_random_traffic_keep_every_invariant() {
    // 8 h, 3 queues, 12 agents in overlapping queues, random rings/misses/pauses
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 5_000,
        auto_pause_after_misses: 3,
    });
    let strategies = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
    ];
    for (i, s) in strategies.iter().enumerate() {
        let members: Vec<String> = (0..12)
            .filter(|m| m % 3 != i)
            .map(|m| format!("a{m}"))
            .collect();
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        acd.set_queue(QueueConfig {
            min_staffed: 2,
            ..queue(&format!("q{i}"), *s, &refs)
        });
    }
    for m in 0..12 {
        acd.agent_logged_in(&a(&format!("a{m}")), 0);
    }
    let mut rng: u64 = 42;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut ringing: Vec<(i64, Offer)> = Vec::new();
    let mut talking: Vec<(i64, AgentId)> = Vec::new();
    let (mut answered, mut offered_calls) = (0, 0);
    let mut now = 0;
    while now < 8 * 3_600_000 {
        // ~1 call every 25 s against 12 agents handling ~100 s each
        if next(100) < 4 {
            let qi = next(3);
            let req = CallRequest {
                priority: (next(20) == 0) as u8,
                skills: vec![],
                preferred: None,
            };
            if acd
                .enqueue_in(&q(&format!("q{qi}")), c(&format!("c{now}")), req, now)
                .is_ok()
            {
                offered_calls += 1;
            }
        }
        if next(500) == 0 {
            let ag = a(&format!("a{}", next(12)));
            if matches!(acd.agent_state(&ag), AgentState::Paused { .. }) {
                acd.unpause(&ag, now);
            } else {
                let _ = acd.pause(&ag, "break", now, None);
            }
        }
        for o in acd.poll_offers(now) {
            assert_eq!(acd.agent_state(&o.agent), AgentState::Ringing);
            assert!(
                ringing
                    .iter()
                    .all(|(_, r)| r.agent != o.agent && r.call != o.call),
                "double booking"
            );
            assert!(
                talking.iter().all(|(_, t)| *t != o.agent),
                "offer to a talking agent"
            );
            ringing.push((now + 1_000 + next(10) as i64 * 1_000, o));
        }
        let (due, rest): (Vec<_>, Vec<_>) = ringing.into_iter().partition(|(t, _)| *t <= now);
        ringing = rest;
        for (_, o) in due {
            let result = match next(10) {
                0 => RingResult::NoAnswer,
                1 => RingResult::Rejected,
                _ => RingResult::Answered,
            };
            acd.ring_result(&o.call, &o.agent, result, now);
            if result == RingResult::Answered {
                answered += 1;
                talking.push((now + 30_000 + next(120) as i64 * 1_000, o.agent));
            }
        }
        let (done, rest): (Vec<_>, Vec<_>) = talking.into_iter().partition(|(t, _)| *t <= now);
        talking = rest;
        for (_, ag) in done {
            acd.call_ended(&ag, now);
        }
        // paused agents are never below the floor without a notice
        for i in 0..3 {
            let _ = acd.staffed_agents(&q(&format!("q{i}")));
        }
        now += 1_000;
    }
    assert!(
        answered > offered_calls / 2,
        "{answered} of {offered_calls}"
    );
    let notices = acd.take_notices();
    assert!(
        notices
            .iter()
            .all(|n| !matches!(n, Notice::MinimumOverridden { .. })),
        "no override was given"
    );
}

#[test]
fn expected_wait_follows_position_recent_handle_times_and_staffing() {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 20_000,
        auto_pause_after_misses: 0,
    });
    acd.agent_logged_in(&a("1001"), 0);
    acd.agent_logged_in(&a("1002"), 0);
    // nothing handled yet: the default handle time is the estimate
    acd.enqueue(c("x"), 0);
    let offers = acd.poll_offers(0);
    assert_eq!(offers.len(), 1);
    assert_eq!(acd.recent_handle_ms(&q("general")), None);
    // two calls handled: 100 s and 40 s of talk, each + 20 s wrap-up
    let first = offers[0].agent.clone();
    acd.ring_result(&c("x"), &first, RingResult::Answered, 0);
    acd.enqueue(c("y"), 60_000);
    let offers = acd.poll_offers(60_000);
    acd.ring_result(&c("y"), &offers[0].agent, RingResult::Answered, 60_000);
    acd.call_ended(&offers[0].agent, 100_000);
    acd.call_ended(&first, 100_000);
    assert_eq!(acd.recent_handle_ms(&q("general")), Some(90_000));
    // both agents in wrap-up; three callers wait
    for (i, id) in ["w1", "w2", "w3"].iter().enumerate() {
        acd.enqueue(c(id), 101_000 + i as i64);
    }
    assert_eq!(acd.poll_offers(101_010).len(), 0);
    assert_eq!(acd.expected_wait_ms(&c("w1"), 180_000), Some(45_000));
    assert_eq!(acd.expected_wait_ms(&c("w3"), 180_000), Some(135_000));
    assert_eq!(acd.expected_wait_ms(&c("nobody"), 180_000), None);
    // nobody staffed: no estimate at all
    acd.pause(&a("1001"), "meal", 101_020, None).unwrap();
    acd.pause(&a("1002"), "meal", 101_020, None).unwrap();
    assert_eq!(acd.expected_wait_ms(&c("w1"), 180_000), None);
}

#[test]
fn the_handle_history_keeps_the_last_calls_only() {
    let mut acd = acd();
    acd.agent_logged_in(&a("1001"), 0);
    let mut now = 0;
    for talk in std::iter::repeat_n(1_000_000, 5).chain(std::iter::repeat_n(10_000, HANDLE_HISTORY))
    {
        let call = c(&format!("c{now}"));
        acd.enqueue(call.clone(), now);
        let offers = acd.poll_offers(now);
        assert_eq!(offers.len(), 1);
        acd.ring_result(&call, &a("1001"), RingResult::Answered, now);
        now += talk;
        acd.call_ended(&a("1001"), now);
        now += 1;
        acd.poll_offers(now);
    }
    assert_eq!(acd.recent_handle_ms(&q("general")), Some(10_000));
}

#[test]
fn ring_all_rings_every_available_member_and_the_first_answer_wins() {
    let mut acd = acd();
    acd.set_queue(queue("all", Strategy::RingAll, &["1", "2", "3"]));
    for id in ["1", "2", "3"] {
        acd.agent_logged_in(&a(id), 0);
    }
    acd.pause(&a("3"), "meal", 1, None).unwrap();
    acd.enqueue_in(&q("all"), c("x"), CallRequest::default(), 10)
        .unwrap();
    let mut rung: Vec<String> = acd
        .poll_offers(10)
        .into_iter()
        .map(|o| {
            assert_eq!(o.call, c("x"));
            o.agent.as_str().to_string()
        })
        .collect();
    rung.sort();
    assert_eq!(
        rung,
        ["1", "2"],
        "every available member, not the paused one"
    );
    // a second caller finds nobody free
    acd.enqueue_in(&q("all"), c("y"), CallRequest::default(), 11)
        .unwrap();
    assert!(acd.poll_offers(11).is_empty());
    // 2 answers; the engine stops 1's phone: no missed call for 1
    acd.ring_result(&c("x"), &a("2"), RingResult::Answered, 12);
    acd.ring_result(&c("x"), &a("1"), RingResult::AnsweredElsewhere, 12);
    assert_eq!(acd.agent_state(&a("2")), AgentState::OnCall);
    assert_eq!(acd.counters(&a("1")).missed, 0);
    // 1 is free again: the second caller rings 1 alone
    let offers = acd.poll_offers(13);
    assert_eq!(
        offers,
        vec![Offer {
            call: c("y"),
            agent: a("1")
        }]
    );
    // nobody answers: a missed call for 1; when 2 is free the call rings
    // the member it has not tried yet in this round
    acd.ring_result(&c("y"), &a("1"), RingResult::NoAnswer, 20);
    assert_eq!(acd.counters(&a("1")).missed, 1);
    acd.call_ended(&a("2"), 21);
    let offers = acd.poll_offers(22);
    assert_eq!(
        offers,
        vec![Offer {
            call: c("y"),
            agent: a("2")
        }]
    );
    // the caller leaves while 2 rings: 2 is free, the call is gone
    acd.remove_call(&c("y"), 23);
    assert!(matches!(
        acd.agent_state(&a("2")),
        AgentState::Available { .. }
    ));
    assert_eq!(acd.waiting(), 0);
}

#[test]
fn hours_of_ring_all_traffic_never_double_book_an_agent() {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 3_000,
        auto_pause_after_misses: 0,
    });
    acd.set_queue(queue("all", Strategy::RingAll, &["a0", "a1", "a2", "a3"]));
    acd.set_queue(queue("one", Strategy::LongestIdle, &["a2", "a3", "a4"]));
    for m in 0..5 {
        acd.agent_logged_in(&a(&format!("a{m}")), 0);
    }
    let mut rng: u64 = 7;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    // call -> (agents ringing, when they stop ringing)
    let mut ringing: Vec<(CallId, AgentId, i64)> = Vec::new();
    let mut talking: Vec<(i64, AgentId)> = Vec::new();
    let (mut offered, mut answered, mut abandoned) = (0u32, 0u32, 0u32);
    let mut now = 0;
    while now < 4 * 3_600_000 {
        if next(100) < 3 {
            let queue = if next(2) == 0 { "all" } else { "one" };
            acd.enqueue_in(
                &q(queue),
                c(&format!("c{now}")),
                CallRequest::default(),
                now,
            )
            .unwrap();
            offered += 1;
        }
        for o in acd.poll_offers(now) {
            assert_eq!(acd.agent_state(&o.agent), AgentState::Ringing);
            assert!(
                ringing.iter().all(|(_, ag, _)| *ag != o.agent),
                "agent rung for two calls"
            );
            assert!(talking.iter().all(|(_, t)| *t != o.agent));
            ringing.push((o.call, o.agent, now + 1_000 + next(8) as i64 * 1_000));
        }
        // due rings: answer (first one wins), no answer, or the caller leaves
        let due: Vec<(CallId, AgentId, i64)> = ringing
            .iter()
            .filter(|(_, _, t)| *t <= now)
            .cloned()
            .collect();
        for (call, agent, _) in due {
            if !ringing
                .iter()
                .any(|(c2, a2, _)| *c2 == call && *a2 == agent)
            {
                continue; // resolved by another agent's answer
            }
            match next(10) {
                0 => {
                    acd.ring_result(&call, &agent, RingResult::NoAnswer, now);
                    ringing.retain(|(c2, a2, _)| !(*c2 == call && *a2 == agent));
                }
                1 => {
                    acd.remove_call(&call, now);
                    abandoned += 1;
                    ringing.retain(|(c2, _, _)| *c2 != call);
                }
                _ => {
                    acd.ring_result(&call, &agent, RingResult::Answered, now);
                    answered += 1;
                    for (_, other, _) in ringing
                        .iter()
                        .filter(|(c2, a2, _)| *c2 == call && *a2 != agent)
                    {
                        acd.ring_result(&call, other, RingResult::AnsweredElsewhere, now);
                    }
                    ringing.retain(|(c2, _, _)| *c2 != call);
                    talking.push((now + 20_000 + next(100) as i64 * 1_000, agent));
                }
            }
        }
        let (done, rest): (Vec<_>, Vec<_>) = talking.into_iter().partition(|(t, _)| *t <= now);
        talking = rest;
        for (_, ag) in done {
            acd.call_ended(&ag, now);
        }
        // no agent is on two calls; no call answered twice
        let mut on: Vec<&AgentId> = talking.iter().map(|(_, a)| a).collect();
        on.sort();
        on.dedup();
        assert_eq!(on.len(), talking.len());
        now += 1_000;
    }
    assert!(answered + abandoned <= offered);
    assert!(answered > offered / 2, "{answered} of {offered}");
    // every agent ends up in a sane state once the traffic stops
    for (call, agent, _) in ringing.drain(..) {
        acd.ring_result(&call, &agent, RingResult::NoAnswer, now);
    }
    for (_, ag) in talking.drain(..) {
        acd.call_ended(&ag, now);
    }
    for m in 0..5 {
        let st = acd.agent_state(&a(&format!("a{m}")));
        assert!(
            !matches!(st, AgentState::Ringing | AgentState::OnCall),
            "a{m}: {st:?}"
        );
    }
}

#[test]
fn minimum_staffing_holds_during_open_hours_only() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        min_staffed: 1,
        ..queue("night", Strategy::LongestIdle, &["1"])
    });
    acd.agent_logged_in(&a("1"), 0);
    // open: the last agent may not leave
    assert!(matches!(
        acd.pause(&a("1"), "meal", 1, None),
        Err(LeaveRefused::BelowMinimum { .. })
    ));
    // closed: they may
    acd.set_queue_open(&q("night"), false);
    acd.pause(&a("1"), "end of shift", 2, None).unwrap();
    acd.unpause(&a("1"), 3);
    // open again: the floor holds again
    acd.set_queue_open(&q("night"), true);
    assert!(acd.logout(&a("1"), None).is_err());
}

#[test]
fn preferred_skills_go_first_but_are_not_required() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        preferred: vec![SkillNeed {
            skill: "billing".into(),
            min_level: 50,
        }],
        ..queue("support", Strategy::LongestIdle, &["generalist", "expert"])
    });
    let mut billing = BTreeMap::new();
    billing.insert("billing".to_string(), 80u8);
    acd.set_skills(&a("expert"), billing);
    // the generalist has been idle longer, yet the expert gets the call
    acd.agent_logged_in(&a("generalist"), 0);
    acd.agent_logged_in(&a("expert"), 10);
    acd.enqueue_in(&q("support"), c("x"), CallRequest::default(), 20)
        .unwrap();
    assert_eq!(acd.poll_offers(20)[0].agent, a("expert"));
    // with the expert busy, the generalist takes the next call: preferred,
    // not required
    acd.ring_result(&c("x"), &a("expert"), RingResult::Answered, 21);
    acd.enqueue_in(&q("support"), c("y"), CallRequest::default(), 22)
        .unwrap();
    assert_eq!(acd.poll_offers(22)[0].agent, a("generalist"));
}
