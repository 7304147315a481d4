//! Inputs the ACD may be handed by mistake or by a confused peer: unknown
//! queues, agents and calls, results for phones that never rang, duplicate
//! ids and absurd times. None may panic or corrupt the index.

use hotline_acd::*;
use hotline_core::{AgentId, CallId, QueueId};

fn a(s: &str) -> AgentId {
    AgentId::new(s)
}
fn c(s: &str) -> CallId {
    CallId::from_stored(s)
}

fn acd() -> Acd {
    Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 0,
    })
}

#[test]
fn unknown_queues_agents_and_calls_are_refused_or_ignored() {
    let mut acd = acd();
    assert_eq!(
        acd.enqueue_in(&QueueId::new("nowhere"), c("x"), CallRequest::default(), 0),
        Err(EnqueueRefused::UnknownQueue(QueueId::new("nowhere")))
    );
    assert_eq!(acd.waiting(), 0);
    // results and ends for agents and calls nobody knows
    acd.ring_result(&c("x"), &a("ghost"), RingResult::Answered, 1);
    acd.ring_result(&c("x"), &a("ghost"), RingResult::NoAnswer, 1);
    assert_eq!(acd.call_ended(&a("ghost"), 2), None);
    acd.remove_call(&c("x"), 3);
    acd.unpause(&a("ghost"), 4);
    acd.agent_logged_out(&a("ghost"));
    assert_eq!(
        acd.pause(&a("ghost"), "x", 5, None),
        Err(LeaveRefused::NotLoggedIn)
    );
    assert_eq!(
        acd.logout(&a("ghost"), None),
        Err(LeaveRefused::NotLoggedIn)
    );
    assert!(!acd.rename_call(&c("x"), c("y"), 0));
    assert_eq!(acd.position(&c("x")), None);
    assert_eq!(acd.expected_wait_ms(&c("x"), 1_000), None);
    assert_eq!(acd.staffed_agents(&QueueId::new("nowhere")), 0);
    assert_eq!(acd.waiting_in(&QueueId::new("nowhere")), 0);
    assert_eq!(acd.recent_handle_ms(&QueueId::new("nowhere")), None);
    assert!(!acd.queue_open(&QueueId::new("nowhere")));
    acd.set_queue_open(&QueueId::new("nowhere"), false);
    assert!(acd.take_notices().is_empty());
    // the ACD still works afterwards
    acd.agent_logged_in(&a("1"), 10);
    acd.enqueue(c("real"), 11);
    assert_eq!(
        acd.poll_offers(12),
        vec![Offer {
            call: c("real"),
            agent: a("1")
        }]
    );
}

#[test]
fn a_result_for_a_phone_that_never_rang_does_not_free_or_book_anyone() {
    let mut acd = acd();
    acd.agent_logged_in(&a("1"), 0);
    acd.agent_logged_in(&a("2"), 1);
    acd.enqueue(c("x"), 2);
    assert_eq!(acd.poll_offers(3)[0].agent, a("1"));
    // agent 2 never rang for x: a stray "caller gone" leaves them available
    acd.ring_result(&c("x"), &a("2"), RingResult::CallerGone, 4);
    assert_eq!(
        acd.agent_state(&a("2")),
        AgentState::Available { since_ms: 1 }
    );
    assert_eq!(acd.waiting_calls(&default_queue())[0].ringing, [a("1")]);
    // a second call still finds agent 2, never agent 1
    acd.enqueue(c("y"), 5);
    assert_eq!(
        acd.poll_offers(6),
        vec![Offer {
            call: c("y"),
            agent: a("2")
        }]
    );
}

#[test]
fn the_same_call_twice_keeps_one_place_and_a_rename_onto_another_call_is_refused() {
    let mut acd = acd();
    assert_eq!(
        acd.enqueue_in(&default_queue(), c("x"), CallRequest::default(), 0),
        Ok(1)
    );
    assert_eq!(
        acd.enqueue_in(&default_queue(), c("y"), CallRequest::default(), 1),
        Ok(2)
    );
    // x again (even asking for another priority): still one call, same place
    let vip = CallRequest {
        priority: 10,
        skills: vec![],
        preferred: None,
    };
    assert_eq!(acd.enqueue_in(&default_queue(), c("x"), vip, 2), Ok(1));
    assert_eq!(acd.waiting(), 2);
    assert!(
        !acd.rename_call(&c("x"), c("y"), 0),
        "y is another waiting call"
    );
    assert!(acd.rename_call(&c("x"), c("x"), 0));
    assert_eq!(
        (acd.position(&c("x")), acd.position(&c("y"))),
        (Some(1), Some(2))
    );
    assert!(acd.rename_call(&c("x"), c("z"), 0));
    assert_eq!(
        (acd.position(&c("x")), acd.position(&c("z"))),
        (None, Some(1))
    );
    acd.agent_logged_in(&a("1"), 3);
    assert_eq!(acd.poll_offers(4)[0].call, c("z"));
}

#[test]
fn absurd_times_do_not_panic() {
    let mut acd = acd();
    acd.set_queue(QueueConfig {
        max_wait_ms: Some(1_000),
        widen_after_ms: Some(1_000),
        wrap_up_ms: Some(i64::MAX),
        skills: vec![SkillNeed {
            skill: "x".into(),
            min_level: 200,
        }],
        ..QueueConfig::new(QueueId::new("q"))
    });
    acd.agent_logged_in(&a("1"), i64::MIN);
    acd.enqueue_in(
        &QueueId::new("q"),
        c("far"),
        CallRequest::default(),
        i64::MAX,
    )
    .unwrap();
    acd.enqueue(c("past"), i64::MIN);
    let offers = acd.poll_offers(i64::MIN);
    assert_eq!(offers.len(), 1);
    acd.ring_result(&c("past"), &a("1"), RingResult::Answered, i64::MIN);
    assert_eq!(acd.call_ended(&a("1"), i64::MAX), Some(0));
    let _ = acd.poll_offers(i64::MAX);
    let _ = acd.expected_wait_ms(&c("far"), i64::MAX);
    // the call from the end of time waited "forever" when polled from the
    // start of time; either way it is reported, not lost
    let _ = acd.take_notices();
}

/// An offer can cross the caller's hang-up: the call leaves (its agent is
/// freed and offered the next caller), then the engine reports the first
/// offer as undelivered. That stale result must not free the agent a second
/// time, or they would be offered a third call while ringing for the second
/// (found by the simulation of the whole call flow).
#[test]
fn a_stale_result_for_an_offer_that_is_over_books_no_agent_twice() {
    let mut acd = Acd::new(AcdConfig::default());
    acd.agent_logged_in(&a("1"), 0);
    acd.enqueue(c("x"), 0);
    assert_eq!(acd.poll_offers(0).len(), 1);
    acd.enqueue(c("y"), 1);
    acd.enqueue(c("z"), 2);
    acd.remove_call(&c("x"), 3);
    let offers = acd.poll_offers(3);
    assert_eq!(
        offers,
        vec![Offer {
            call: c("y"),
            agent: a("1")
        }]
    );
    // the stale report for x
    acd.ring_result(&c("x"), &a("1"), RingResult::Unreachable, 4);
    assert_eq!(acd.agent_state(&a("1")), AgentState::Ringing);
    assert!(acd.poll_offers(4).is_empty(), "1 rings for y: z waits");
}

/// A caller who asks for a callback while an agent's phone rings for them:
/// the rename lets that agent go (their results would name the old id).
#[test]
fn renaming_a_call_lets_its_ringing_agents_go() {
    let mut acd = Acd::new(AcdConfig::default());
    acd.agent_logged_in(&a("1"), 0);
    acd.enqueue(c("x"), 0);
    assert_eq!(acd.poll_offers(0).len(), 1);
    assert!(acd.rename_call(&c("x"), c("cb"), 5));
    assert_eq!(
        acd.agent_state(&a("1")),
        AgentState::Available { since_ms: 5 }
    );
    assert_eq!(acd.counters(&a("1")).missed, 0);
    // the callback is offered again, to the same agent
    assert_eq!(
        acd.poll_offers(6),
        vec![Offer {
            call: c("cb"),
            agent: a("1")
        }]
    );
}
