#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! SIP session timers (RFC 4028) in the call flow, in simulated time: hours
//! of refreshes in milliseconds, and the calls whose far end vanished.

mod harness;

use harness::{Phone, World};
use hotline_callflow::{Action, Command, FlowSettings, Input, LegInput};
use hotline_core::{AgentId, CallId, EndedBy, EventKind, Outcome, Side};

const T0: i64 = 1_000_000;

fn talking(media_timeout_ms: i64) -> (World, CallId) {
    let mut cfg = FlowSettings::basic(&["a1"]);
    cfg.media_timeout_ms = media_timeout_ms;
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 2_000);
    assert_eq!(
        w.first(&c, "agent_answered").map(|e| e.at_ms),
        Some(T0 + 1_000)
    );
    (w, c)
}

fn caller_timer(w: &mut World, c: &CallId, at: i64, interval_ms: i64, we_refresh: bool) {
    w.at(
        at,
        c,
        Input::Caller(LegInput::SessionTimer {
            interval_ms,
            we_refresh,
        }),
    );
}

fn refreshes(w: &World, c: &CallId) -> (usize, usize) {
    let cmds = w.commands(c);
    (
        cmds.iter()
            .filter(|x| matches!(x, Command::RefreshCaller { .. }))
            .count(),
        cmds.iter()
            .filter(|x| matches!(x, Command::RefreshAgent { .. }))
            .count(),
    )
}

fn expired(w: &World, c: &CallId) -> (i64, Side, i64, Option<u16>) {
    let e = w.first(c, "session_expired").expect("session_expired");
    match e.kind {
        EventKind::SessionExpired {
            side,
            interval_ms,
            status,
        } => (e.at_ms, side, interval_ms, status),
        _ => unreachable!(),
    }
}

fn ended_by_the_system(w: &World, c: &CallId) {
    let cdr = w.cdr(c).expect("cdr");
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    assert_eq!(cdr.ended_by, Some(EndedBy::System));
    assert_eq!(cdr.end_cause.as_deref(), Some("session_expired"));
    let cmds = w.commands(c);
    assert!(cmds.iter().any(|x| matches!(x, Command::HangUpCaller)));
    assert!(cmds
        .iter()
        .any(|x| matches!(x, Command::HangUpAgent { agent } if agent == &AgentId::new("a1"))));
}

#[test]
fn a_caller_who_refreshes_keeps_the_call_for_hours_and_one_who_stops_on_hold_is_ended() {
    let (mut w, c) = talking(10_000);
    // Session-Expires: 90;refresher=uac: the caller refreshes every 40 s
    caller_timer(&mut w, &c, T0 + 2_000, 90_000, false);
    let mut t = T0 + 2_000;
    while t < T0 + 3 * 3_600_000 {
        t += 40_000;
        w.at(t, &c, Input::Caller(LegInput::Refreshed));
    }
    w.run_until(t + 1_000);
    assert!(w.calls.contains_key(&c), "{:?}", w.kinds(&c));
    assert!(w.first(&c, "session_expired").is_none());
    // we never refresh a session the caller refreshes
    assert_eq!(refreshes(&w, &c), (0, 0));
    // on hold the caller's RTP stops (media_timeout does not act) and its
    // refreshes stop too: the far end is gone
    w.control(&c, Action::Hold, "a1")
        .expect("reply")
        .expect("held");
    w.dead_media.insert(c.clone(), (true, false));
    w.run_until(t + 59_999);
    assert!(
        w.calls.contains_key(&c),
        "not before interval - min(32 s, interval/3)"
    );
    w.run_until(t + 90_000);
    assert!(w.first(&c, "media_timeout").is_none());
    let (at, side, interval_ms, status) = expired(&w, &c);
    assert_eq!(
        (at, side, interval_ms, status),
        (t + 60_000, Side::Caller, 90_000, None)
    );
    ended_by_the_system(&w, &c);
    let kinds = w.kinds(&c);
    let i = kinds.iter().position(|k| *k == "session_expired").unwrap();
    assert_eq!(kinds[i + 1], "completed");
}

#[test]
fn we_refresh_at_half_the_interval_and_end_the_call_when_a_refresh_fails() {
    let (mut w, c) = talking(0);
    let a1 = AgentId::new("a1");
    // the agent's 2xx left the refreshing to us: 1800 s
    w.at(
        T0 + 2_000,
        &c,
        Input::Agent {
            agent: a1.clone(),
            event: LegInput::SessionTimer {
                interval_ms: 1_800_000,
                we_refresh: true,
            },
        },
    );
    // five hours: a refresh every 900 s, each answered 200 ms later
    let mut next = T0 + 2_000 + 900_000;
    for _ in 0..20 {
        w.run_until(next - 1);
        assert_eq!(
            refreshes(&w, &c).1,
            ((next - T0 - 2_000) / 900_000 - 1) as usize
        );
        w.run_until(next);
        w.at(
            next + 200,
            &c,
            Input::Agent {
                agent: a1.clone(),
                event: LegInput::Refreshed,
            },
        );
        next += 900_200;
    }
    w.run_until(next - 1_000);
    assert_eq!(refreshes(&w, &c), (0, 20));
    assert!(w.calls.contains_key(&c));
    // the next one is answered 481 (the phone forgot the dialog)
    w.run_until(next);
    w.at(
        next + 50,
        &c,
        Input::Agent {
            agent: a1.clone(),
            event: LegInput::RefreshFailed { status: 481 },
        },
    );
    w.run_until(next + 1_000);
    let (at, side, interval_ms, status) = expired(&w, &c);
    assert_eq!(
        (at, side, interval_ms, status),
        (next + 50, Side::Agent, 1_800_000, Some(481))
    );
    ended_by_the_system(&w, &c);
}

#[test]
fn our_refresh_that_is_never_answered_expires_the_session() {
    let (mut w, c) = talking(0);
    caller_timer(&mut w, &c, T0 + 2_000, 90_000, true);
    w.run_until(T0 + 2_000 + 45_000);
    assert_eq!(refreshes(&w, &c), (1, 0));
    // nothing comes back: expired at interval - min(32 s, interval / 3)
    w.run_until(T0 + 2_000 + 59_999);
    assert!(w.calls.contains_key(&c));
    w.run_until(T0 + 2_000 + 61_000);
    let (at, side, _, status) = expired(&w, &c);
    assert_eq!((at, side, status), (T0 + 62_000, Side::Caller, None));
    assert_eq!(refreshes(&w, &c), (1, 0), "one refresh in flight at a time");
    ended_by_the_system(&w, &c);
}

#[test]
fn a_waiting_caller_whose_session_expires_is_abandoned_and_stale_agent_timers_are_ignored() {
    let mut w = World::new(FlowSettings::basic(&["a1"]));
    w.agent("a1", Phone::Busy);
    let c = w.call_in("0612");
    // the engine answers at the third ring; the caller's leg gets its timer
    w.run_until(T0 + 12_000);
    caller_timer(&mut w, &c, T0 + 12_000, 90_000, false);
    // an agent leg's late session event on a call it is not talking on
    w.at(
        T0 + 13_000,
        &c,
        Input::Agent {
            agent: AgentId::new("a9"),
            event: LegInput::RefreshFailed { status: 408 },
        },
    );
    w.run_until(T0 + 60_000);
    assert!(w.first(&c, "session_expired").is_none());
    w.run_until(T0 + 12_000 + 61_000);
    let (at, side, _, _) = expired(&w, &c);
    assert_eq!((at, side), (T0 + 72_000, Side::Caller));
    assert!(w.first(&c, "abandoned").is_some(), "{:?}", w.kinds(&c));
    assert_eq!(w.cdr(&c).unwrap().outcome, Some(Outcome::Abandoned));
}
