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
