#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Routing by ownership (首问负责制) through the whole call flow, in
//! simulated time: a caller with an open case rings its owner first; the
//! owner takes it when free within the wait, else anyone does; the events
//! say which.

mod harness;

use harness::{Phone, World};
use hotline_callflow::{FlowSettings, OwnerHint};
use hotline_core::{AgentId, EventKind};

const T0: i64 = 1_000_000;

fn owner(agent: &str, wait_ms: i64) -> Option<OwnerHint> {
    Some(OwnerHint {
        agent: AgentId::new(agent),
        case_id: 7,
        wait_ms,
    })
}

fn owner_outcomes(w: &World, c: &hotline_core::CallId) -> Vec<(String, String)> {
    w.events_of(c)
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OwnerFirst { outcome } => Some((
                e.agent.as_ref().unwrap().as_str().to_string(),
                outcome.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_returning_caller_rings_the_free_owner_not_the_longest_idle() {
    let mut w = World::new(FlowSettings::basic(&["a1", "a2"]));
    w.agent("a1", Phone::Answer(2_000));
    w.agent("a2", Phone::Answer(2_000));
    w.next_owner = owner("a2", 20_000);
    let c = w.call_in("0612");
    w.run_until(T0 + 3_000);
    assert_eq!(w.bridged.get(&AgentId::new("a2")), Some(&c));
    assert_eq!(owner_outcomes(&w, &c), [("a2".into(), "offered".into())]);
}

#[test]
fn a_busy_owner_is_waited_for_then_anyone_answers() {
    let mut w = World::new(FlowSettings::basic(&["a1", "a2"]));
    w.agent("a1", Phone::Answer(1_000));
    w.agent("a2", Phone::Answer(1_000));
    // a2 is talking to someone else
    w.next_owner = owner("a2", 60_000);
    let first = w.call_in("0600");
    w.run_until(T0 + 1_000);
    assert_eq!(w.bridged.get(&AgentId::new("a2")), Some(&first));
    // the owner's customer calls: a1 is free but does not ring
    w.next_owner = owner("a2", 20_000);
    let c = w.call_in("0612");
    w.run_until(T0 + 20_999);
    assert!(!w.bridged.values().any(|x| x == &c), "held for the owner");
    // after the wait: a1 takes it (the engine answered at 11 s meanwhile)
    w.run_until(T0 + 23_000);
    assert_eq!(w.bridged.get(&AgentId::new("a1")), Some(&c));
    assert_eq!(owner_outcomes(&w, &c), [("a2".into(), "wait_over".into())]);
    assert!(w.first(&c, "system_answered").is_some(), "no fourth ring");
}

#[test]
fn an_owner_free_within_the_wait_takes_the_call() {
    let mut w = World::new(FlowSettings::basic(&["a1", "a2"]));
    w.agent("a1", Phone::Answer(1_000));
    w.agent("a2", Phone::Answer(1_000));
    w.next_owner = owner("a2", 60_000);
    let first = w.call_in("0600");
    w.run_until(T0 + 1_000);
    w.hang_up_at(T0 + 5_000, &first);
    w.next_owner = owner("a2", 60_000);
    let c = w.call_in("0612");
    // a2 hangs up at 5 s and is free after the wrap-up; a1 never rings
    w.run_until(T0 + 40_000);
    assert_eq!(w.bridged.get(&AgentId::new("a2")), Some(&c));
    assert_eq!(owner_outcomes(&w, &c), [("a2".into(), "offered".into())]);
}

#[test]
fn an_owner_not_logged_in_is_not_waited_for() {
    let mut w = World::new(FlowSettings::basic(&["a1", "a2"]));
    w.agent("a1", Phone::Answer(1_000));
    w.next_owner = owner("a2", 60_000);
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000);
    assert_eq!(w.bridged.get(&AgentId::new("a1")), Some(&c));
    assert_eq!(
        owner_outcomes(&w, &c),
        [("a2".into(), "not_logged_in".into())]
    );
}

fn callback_policy() -> hotline_callflow::CallbackPolicy {
    hotline_callflow::CallbackPolicy {
        key: '1',
        deadline_ms: 86_400_000,
        retry_ms: 60_000,
        attempts: 3,
        answer_timeout_ms: 30_000,
        owner_wait_ms: 600_000,
    }
}

#[test]
fn a_callback_for_a_customer_with_an_open_case_goes_to_its_owner() {
    let mut cfg = FlowSettings::basic(&["a1", "a2"]);
    cfg.callback = Some(callback_policy());
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    w.agent("a2", Phone::Answer(1_000));
    // a callback taken over after a restart, for a2's complaint customer:
    // a1 is the longest idle, but the callback is a2's
    let id = hotline_core::CallId::from_stored("cb-owner");
    let spec = hotline_callflow::CallbackSpec {
        number: "0612".into(),
        queue: hotline_core::QueueId::new("general"),
        requested_ms: T0 - 60_000,
        deadline_ms: T0 + 3_600_000,
        attempts: 0,
        queued: false,
        resumed: true,
        owner: owner("a2", 30_000),
    };
    w.controller
        .resume_callbacks(w.now, vec![(id.clone(), spec)]);
    w.pump();
    w.run_until(T0 + 10_000);
    let offered = w.first(&id, "offered").expect("offered");
    assert_eq!(offered.agent.as_ref().map(AgentId::as_str), Some("a2"));
    assert_eq!(owner_outcomes(&w, &id), [("a2".into(), "offered".into())]);
}

#[test]
fn a_caller_with_an_open_case_who_asks_for_a_callback_hands_it_to_the_owner() {
    let mut cfg = FlowSettings::basic(&["a1", "a2"]);
    cfg.callback = Some(callback_policy());
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    w.agent("a2", Phone::Answer(1_000));
    // both agents busy: the owner's customer waits
    w.next_owner = None;
    let first = w.call_in("0600");
    w.run_until(T0 + 500);
    let second = w.call_in("0601");
    w.run_until(T0 + 1_500);
    assert_eq!(w.bridged.get(&AgentId::new("a1")), Some(&first));
    assert_eq!(w.bridged.get(&AgentId::new("a2")), Some(&second));
    w.next_owner = owner("a2", 5_000);
    let c = w.call_in("0612");
    w.run_until(T0 + 2_000);
    // the owner's customer asks for a callback
    w.at(T0 + 14_000, &c, hotline_callflow::Input::Digit('1'));
    w.run_until(T0 + 15_000);
    let requested = w
        .events_of(&c)
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::CallbackRequested { callback, .. } => Some(callback.clone()),
            _ => None,
        })
        .expect("callback requested");
    // both agents free up; the callback's attempt rings the owner alone
    w.hang_up_at(T0 + 16_000, &first);
    w.hang_up_at(T0 + 200_000, &second);
    w.run_until(T0 + 400_000);
    let offers: Vec<String> = w
        .events_of(&requested)
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .filter_map(|e| e.agent.as_ref().map(|a| a.as_str().to_string()))
        .collect();
    assert_eq!(offers.first().map(String::as_str), Some("a2"), "{offers:?}");
}
