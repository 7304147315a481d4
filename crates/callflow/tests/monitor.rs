#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Live monitoring in the call flow, in simulated time: a supervisor's
//! phone rung and joined, modes switched, the supervisor hanging up (the
//! call goes on), the call ending (the monitoring ends with it), refusals
//! and a phone that never answers.

mod harness;

use harness::{Phone, World};
use hotline_callflow::{Action, Command, ControlError, FlowSettings, Input, LegInput, PromptRef};
use hotline_core::{EventKind, MonitorMode, Outcome};

const T0: i64 = 1_000_000;

fn monitor(mode: MonitorMode, beep: bool) -> Action {
    Action::Monitor {
        supervisor: "9001".into(),
        mode,
        own_leg: false,
        beep,
    }
}

fn talking() -> (World, hotline_core::CallId) {
    let mut w = World::new(FlowSettings::basic(&["a1"]));
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 2_000);
    assert!(w.first(&c, "agent_answered").is_some());
    (w, c)
}

#[test]
fn rung_joined_switched_and_the_supervisor_hanging_up_ends_only_the_monitoring() {
    let (mut w, c) = talking();
    let r = w
        .control(&c, monitor(MonitorMode::Listen, true), "api:lead")
        .expect("reply")
        .expect("accepted");
    assert_eq!(r.monitored_by.as_deref(), Some("9001"));
    assert!(!r.monitor_joined, "the supervisor's phone rings first");
    assert!(w.commands(&c).contains(&&Command::InviteSupervisor {
        supervisor: "9001".into()
    }));
    // a second supervisor is refused while one is on the call
    let again = w.control(&c, monitor(MonitorMode::Barge, false), "api:other");
    assert!(matches!(again, Some(Err(ControlError::Refused(m))) if m.contains("9001")));
    // a switch while ringing: the started event carries the final mode
    w.control(&c, Action::SetMonitorMode(MonitorMode::Whisper), "api:lead")
        .expect("reply")
        .expect("switched");
    assert!(w.first(&c, "monitor_mode_changed").is_none());
    w.at(
        T0 + 5_000,
        &c,
        Input::Supervisor(LegInput::Answered { usable: true }),
    );
    w.run_until(T0 + 5_000);
    let started = w.first(&c, "monitor_started").expect("started");
    assert_eq!(started.at_ms, T0 + 5_000);
    assert_eq!(started.agent.as_ref().map(|a| a.as_str()), Some("a1"));
    assert!(
        matches!(&started.kind, EventKind::MonitorStarted { supervisor, mode: MonitorMode::Whisper, by } if supervisor == "9001" && by == "api:lead")
    );
    let cmds = w.commands(&c);
    assert!(cmds.contains(&&Command::JoinMonitor {
        mode: MonitorMode::Whisper
    }));
    assert!(cmds.contains(&&Command::ToneToAgent(PromptRef::MonitorBeep)));
    // barge, then the same mode again (no event)
    w.run_until(T0 + 8_000);
    w.control(&c, Action::SetMonitorMode(MonitorMode::Barge), "api:lead")
        .unwrap()
        .unwrap();
    w.control(&c, Action::SetMonitorMode(MonitorMode::Barge), "api:lead")
        .unwrap()
        .unwrap();
    let changes: Vec<_> = w
        .events_of(&c)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::MonitorModeChanged { .. }))
        .collect();
    assert_eq!(changes.len(), 1);
    assert!(matches!(
        changes[0].kind,
        EventKind::MonitorModeChanged {
            from: MonitorMode::Whisper,
            mode: MonitorMode::Barge,
            ..
        }
    ));
    assert!(w
        .commands(&c)
        .contains(&&Command::SetMonitorMode(MonitorMode::Barge)));
    // the supervisor hangs up: monitoring over, the call goes on
    w.at(
        T0 + 20_000,
        &c,
        Input::Supervisor(LegInput::Gone { reason: None }),
    );
    w.run_until(T0 + 20_000);
    let stopped = w.first(&c, "monitor_stopped").expect("stopped");
    assert!(
        matches!(&stopped.kind, EventKind::MonitorStopped { duration_ms: 15_000, reason, .. } if reason == "supervisor hung up")
    );
    assert!(w
        .commands(&c)
        .contains(&&Command::EndMonitor { hang_up: false }));
    assert!(w.cdr(&c).is_none(), "the call goes on");
    let r = w.control(&c, Action::Show, "api:lead").unwrap().unwrap();
    assert_eq!(r.monitored_by, None);
    // late events of the supervisor's leg are ignored
    w.at(
        T0 + 21_000,
        &c,
        Input::Supervisor(LegInput::Gone { reason: None }),
    );
    w.run_until(T0 + 21_000);
    assert_eq!(
        w.kinds(&c)
            .iter()
            .filter(|k| **k == "monitor_stopped")
            .count(),
        1
    );
    // and it can be monitored again, then the call ends: so does the monitoring
    w.control(&c, monitor(MonitorMode::Listen, false), "phone:9001")
        .unwrap()
        .unwrap();
    w.at(
        T0 + 30_000,
        &c,
        Input::Supervisor(LegInput::Answered { usable: true }),
    );
    w.hang_up_at(T0 + 40_000, &c);
    w.run_until(T0 + 45_000);
    let stops: Vec<_> = w
        .events_of(&c)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::MonitorStopped { .. }))
        .collect();
    assert_eq!(stops.len(), 2);
    assert!(
        matches!(&stops[1].kind, EventKind::MonitorStopped { duration_ms: 10_000, reason, .. } if reason == "call ended")
    );
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Answered));
    let kinds = w.kinds(&c);
    let last_stop = kinds.iter().rposition(|k| *k == "monitor_stopped").unwrap();
    let completed = kinds.iter().position(|k| *k == "completed").unwrap();
    assert!(last_stop < completed, "{kinds:?}");
    // no beep when not asked for
    let beeps = w
        .commands(&c)
        .into_iter()
        .filter(|c| **c == Command::ToneToAgent(PromptRef::MonitorBeep))
        .count();
    assert_eq!(beeps, 1);
}

#[test]
fn refusals_no_answer_and_a_waiting_call() {
    let mut w = World::new(FlowSettings::basic(&["a1"]));
    let waiting = w.call_in("0613");
    w.run_until(T0 + 1_000);
    let r = w.control(&waiting, monitor(MonitorMode::Listen, false), "api:lead");
    assert!(matches!(r, Some(Err(ControlError::Refused(_)))), "{r:?}");
    w.agent("a1", Phone::Answer(500));
    w.run_until(T0 + 3_000);
    let c = waiting;
    // the agent cannot monitor their own call
    let own = Action::Monitor {
        supervisor: "a1".into(),
        mode: MonitorMode::Listen,
        own_leg: false,
        beep: false,
    };
    assert!(matches!(w.control(&c, own, "phone:a1"), Some(Err(_))));
    // nothing to switch or stop
    assert!(matches!(
        w.control(&c, Action::SetMonitorMode(MonitorMode::Barge), "x"),
        Some(Err(_))
    ));
    assert!(matches!(
        w.control(&c, Action::StopMonitor, "x"),
        Some(Err(_))
    ));
    // a phone that never answers: given up after the ring time
    w.control(&c, monitor(MonitorMode::Listen, false), "api:lead")
        .unwrap()
        .unwrap();
    w.run_until(T0 + 3_000 + hotline_callflow::MONITOR_RING_MS + 1);
    let failed = w.first(&c, "monitor_failed").expect("given up");
    assert!(
        matches!(&failed.kind, EventKind::MonitorFailed { reason, .. } if reason.contains("did not answer"))
    );
    assert!(w
        .commands(&c)
        .contains(&&Command::EndMonitor { hang_up: true }));
    assert!(w.first(&c, "monitor_started").is_none());
    // a refusal of the supervisor's phone, and a stop asked by the console
    w.control(&c, monitor(MonitorMode::Barge, false), "api:lead")
        .unwrap()
        .unwrap();
    let now = T0 + 40_000;
    w.at(
        now,
        &c,
        Input::Supervisor(LegInput::Rejected { status: 486 }),
    );
    w.run_until(now);
    assert_eq!(
        w.kinds(&c)
            .iter()
            .filter(|k| **k == "monitor_failed")
            .count(),
        2
    );
    w.control(&c, monitor(MonitorMode::Barge, false), "api:lead")
        .unwrap()
        .unwrap();
    w.at(
        now + 1_000,
        &c,
        Input::Supervisor(LegInput::Answered { usable: true }),
    );
    w.run_until(now + 3_000);
    let r = w
        .control(&c, Action::StopMonitor, "api:lead")
        .unwrap()
        .unwrap();
    assert_eq!(r.monitored_by, None);
    let stopped = w.first(&c, "monitor_stopped").expect("stopped");
    assert!(
        matches!(&stopped.kind, EventKind::MonitorStopped { duration_ms: 2_000, reason, .. } if reason == "stopped by api:lead")
    );
    assert!(w.cdr(&c).is_none());
}
