#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Every treatment of the call flow, in simulated time: the same cases the
//! e2e suite checks over SIP, here in milliseconds and without timing slack.

mod harness;

use harness::{Phone, World};
use hotline_acd::{QueueConfig, Strategy};
use hotline_callflow::{
    Action, AnnouncePolicy, BlacklistHit, CallbackPolicy, ClosedTreatment, Command, ControlError,
    FlowSettings, Input, LegInput, Menu, Phase, PromptRef, Route,
};
use hotline_core::{AgentId, CallType, EndedBy, EventKind, Outcome, QueueId};
use std::collections::BTreeMap;

const T0: i64 = 1_000_000;

fn basic(agents: &[&str]) -> FlowSettings {
    FlowSettings::basic(agents)
}

fn world(agents: &[&str]) -> World {
    World::new(basic(agents))
}

#[test]
fn no_agent_the_engine_answers_at_the_end_of_the_third_ring() {
    let mut w = world(&["a1"]);
    let c = w.call_in("0612");
    assert_eq!(w.kinds(&c), ["arrived", "queued"]);
    w.run_until(T0 + 10_999);
    assert!(!w.commands(&c).contains(&&Command::AnswerCaller));
    w.run_until(T0 + 11_000);
    let answered = w.first(&c, "system_answered").expect("system answer");
    assert_eq!(answered.at_ms, T0 + 11_000);
    assert!(matches!(
        answered.kind,
        EventKind::SystemAnswered { rings: 3 }
    ));
    assert!(w.commands(&c).contains(&&Command::Play {
        prompts: vec![PromptRef::Greeting(None), PromptRef::Music],
        looped: true
    }));
    w.hang_up_at(T0 + 30_000, &c);
    w.run_until(T0 + 31_000);
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(cdr.outcome, Some(Outcome::Abandoned));
    assert_eq!(
        (cdr.system_answered_ms, cdr.wait_ms),
        (Some(T0 + 11_000), Some(30_000))
    );
    assert!(w.calls.is_empty());
    // answer_after_rings = 2: the engine answers at 6 s
    let mut cfg = basic(&[]);
    cfg.answer_after_rings = 2;
    let mut w = World::new(cfg);
    let c = w.call_in("0612");
    w.run_until(T0 + 6_000);
    assert!(matches!(
        w.first(&c, "system_answered").map(|e| &e.kind),
        Some(EventKind::SystemAnswered { rings: 2 })
    ));
}

#[test]
fn an_agent_answers_in_the_second_ring_bridged_recorded_and_completed() {
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::Answer(6_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 6_000);
    let answered = w.first(&c, "agent_answered").expect("answered");
    assert!(matches!(
        answered.kind,
        EventKind::AgentAnswered {
            wait_ms: 6_000,
            rings: 2,
            limit_ms: Some(180_000)
        }
    ));
    assert_eq!(w.bridged.get(&AgentId::new("a1")), Some(&c));
    assert_eq!(w.calls[&c].phase(), &Phase::Talking);
    w.hang_up_at(T0 + 66_000, &c);
    w.run_until(T0 + 70_000);
    assert_eq!(
        w.kinds(&c),
        // (wrap_up comes from the controller as the agent is released)
        [
            "arrived",
            "queued",
            "offered",
            "recording_opened",
            "agent_answered",
            "completed",
            "wrap_up",
            "recording_closed"
        ]
    );
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    assert_eq!(cdr.ended_by, Some(EndedBy::Caller));
    assert_eq!(
        (cdr.talk_ms, cdr.rings, cdr.system_answered_ms),
        (Some(60_000), Some(2), None)
    );
    assert_eq!(
        cdr.recording_sha256.as_deref(),
        Some(format!("sha-{c}").as_str())
    );
    // no ring, no answer by the engine
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::Play { .. })));
    // wrap-up, then the agent takes the next call
    let c2 = w.call_in("0613");
    w.run_until(T0 + 80_000);
    assert!(
        w.first(&c2, "agent_answered").is_some(),
        "{:?}",
        w.kinds(&c2)
    );
}

#[test]
fn an_agent_who_does_not_answer_busy_or_unreachable_is_skipped_for_the_next() {
    let mut cfg = basic(&["a1", "a2", "a3", "a4"]);
    cfg.queues = vec![QueueConfig {
        strategy: Strategy::Linear,
        members: ["a1", "a2", "a3", "a4"]
            .iter()
            .map(|a| AgentId::new(*a))
            .collect(),
        ..QueueConfig::new(QueueId::new("general"))
    }];
    cfg.agent_ring_timeout_ms = 5_000;
    let mut w = World::new(cfg);
    w.agent("a1", Phone::NoAnswer);
    w.agent("a2", Phone::Busy);
    w.agent("a3", Phone::Unreachable);
    w.agent("a4", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 10_000);
    let by_agent: Vec<(String, &str)> = w
        .events_of(&c)
        .iter()
        .filter_map(|e| e.agent.as_ref().map(|a| (a.to_string(), e.kind.name())))
        .collect();
    assert_eq!(
        by_agent,
        [
            ("a1".into(), "offered"),
            ("a1".into(), "agent_ring_no_answer"),
            ("a2".into(), "offered"),
            ("a2".into(), "agent_rejected"),
            ("a3".into(), "agent_unreachable"),
            ("a4".into(), "offered"),
            ("a4".into(), "recording_opened"),
            ("a4".into(), "agent_answered"),
        ]
    );
    let ring_out = w.first(&c, "agent_ring_no_answer").expect("ring out");
    assert_eq!(ring_out.at_ms, T0 + 5_000);
    let acd = w.controller.acd();
    assert_eq!(acd.counters(&AgentId::new("a1")).missed, 1);
    assert_eq!(acd.counters(&AgentId::new("a2")).missed, 1);
}

#[test]
fn a_caller_who_cancels_while_an_agent_rings_is_abandoned_and_not_a_miss() {
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::NoAnswer);
    let c = w.call_in("0612");
    w.hang_up_at(T0 + 4_000, &c);
    w.run_until(T0 + 5_000);
    assert!(w.commands(&c).contains(&&Command::HangUpAgent {
        agent: AgentId::new("a1")
    }));
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(
        (cdr.outcome, cdr.wait_ms),
        (Some(Outcome::Abandoned), Some(4_000))
    );
    assert_eq!(w.controller.acd().counters(&AgentId::new("a1")).missed, 0);
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "available");
}

#[test]
fn ring_all_the_first_to_answer_takes_the_call_the_others_stop_without_a_miss() {
    let mut cfg = basic(&["a1", "a2", "a3"]);
    cfg.queues = vec![QueueConfig {
        strategy: Strategy::RingAll,
        ..QueueConfig::new(QueueId::new("general"))
    }];
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(5_000));
    w.agent("a2", Phone::Answer(3_000));
    w.agent("a3", Phone::NoAnswer);
    let c = w.call_in("0612");
    w.run_until(T0 + 6_000);
    assert_eq!(
        w.first(&c, "agent_answered").and_then(|e| e.agent.clone()),
        Some(AgentId::new("a2"))
    );
    for loser in ["a1", "a3"] {
        assert!(w.commands(&c).contains(&&Command::HangUpAgent {
            agent: AgentId::new(loser)
        }));
        assert_eq!(w.controller.acd().counters(&AgentId::new(loser)).missed, 0);
    }
}

fn ivr() -> Menu {
    let route = |t, q: &str| Route {
        call_type: t,
        queue: QueueId::new(q),
        language: None,
    };
    Menu {
        timeout_ms: 5_000,
        tries: 2,
        options: BTreeMap::from([
            ('1', route(CallType::Order, "orders")),
            (
                '2',
                Route {
                    language: Some("cantonese".into()),
                    ..route(CallType::Inquiry, "general")
                },
            ),
        ]),
        default: route(CallType::Inquiry, "general"),
    }
}

#[test]
fn ivr_a_key_routes_the_call_and_sets_its_type_and_limit() {
    let mut cfg = basic(&["a1"]);
    cfg.ivr = Some(ivr());
    cfg.queues = vec![QueueConfig::new(QueueId::new("orders"))];
    let mut w = World::new(cfg);
    let c = w.call_in("0612");
    w.run_until(T0 + 11_000);
    assert!(w.commands(&c).contains(&&Command::Play {
        prompts: vec![PromptRef::Greeting(None), PromptRef::Menu],
        looped: false
    }));
    // a key that is no option, then 1
    w.at(T0 + 13_000, &c, Input::Digit('9'));
    w.at(T0 + 14_000, &c, Input::Digit('1'));
    w.run_until(T0 + 15_000);
    assert_eq!(
        w.kinds(&c),
        [
            "arrived",
            "system_answered",
            "prompt_started",
            "ivr_invalid",
            "ivr_choice",
            "queued"
        ]
    );
    w.agent("a1", Phone::Answer(1_000));
    w.run_until(T0 + 17_000);
    assert!(matches!(
        w.first(&c, "agent_answered").map(|e| &e.kind),
        Some(EventKind::AgentAnswered {
            limit_ms: Some(60_000),
            ..
        })
    ));
    assert_eq!(w.calls[&c].queue(), Some(&QueueId::new("orders")));
}

#[test]
fn ivr_without_a_key_plays_the_menu_again_then_takes_the_default() {
    let mut cfg = basic(&[]);
    cfg.ivr = Some(ivr());
    let mut w = World::new(cfg);
    let c = w.call_in("0612");
    // answered at 11 s; greeting 3 s + menu 4 s + 5 s to press: 23 s; again 4 + 5: 32 s
    w.run_until(T0 + 22_999);
    assert!(w.first(&c, "ivr_choice").is_none());
    w.run_until(T0 + 31_999);
    assert!(w.first(&c, "ivr_choice").is_none());
    w.run_until(T0 + 32_000);
    let choice = w.first(&c, "ivr_choice").expect("default");
    assert!(
        matches!(&choice.kind, EventKind::IvrChoice { digit, call_type: CallType::Inquiry, .. } if digit.is_empty())
    );
}

#[test]
fn a_silent_line_hears_the_message_and_is_hung_up() {
    let mut cfg = basic(&[]);
    cfg.silent_line_ms = 8_000;
    let mut w = World::new(cfg);
    let c = w.call_in("0612");
    w.silent.insert(c.clone());
    let talker = w.call_in("0613");
    w.run_until(T0 + 19_000);
    assert!(w.first(&c, "silent_line").is_some());
    assert!(w.first(&talker, "silent_line").is_none());
    w.run_until(T0 + 30_000);
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Failed));
    assert!(w.commands(&c).contains(&&Command::Play {
        prompts: vec![PromptRef::SilentLine],
        looped: false
    }));
    assert!(w.calls.contains_key(&talker));
}

#[test]
fn waiting_callers_hear_their_position_and_can_ask_for_a_callback_that_keeps_their_place() {
    let mut cfg = basic(&["a1"]);
    cfg.announcements = Some(AnnouncePolicy {
        every_ms: 20_000,
        default_handle_ms: 120_000,
    });
    cfg.callback = Some(CallbackPolicy {
        key: '1',
        deadline_ms: 86_400_000,
        retry_ms: 60_000,
        attempts: 3,
        answer_timeout_ms: 30_000,
        owner_wait_ms: 0,
    });
    let mut w = World::new(cfg);
    let first = w.call_in("0612");
    let second = w.call_in("0613");
    // answered at 11 s, greeting 3 s, then every 20 s
    w.run_until(T0 + 34_000);
    let announced = w.first(&second, "announced").expect("announcement");
    assert!(matches!(
        announced.kind,
        EventKind::Announced {
            position: Some(2),
            ..
        }
    ));
    assert!(w.commands(&second).iter().any(|c| matches!(c, Command::Play { prompts, .. } if prompts.contains(&PromptRef::CallbackOffer))));
    // the first caller asks for a callback: the callback keeps place 1
    w.at(T0 + 40_000, &first, Input::Digit('1'));
    w.run_until(T0 + 45_000);
    assert_eq!(
        w.cdr(&first).and_then(|c| c.outcome),
        Some(Outcome::Callback)
    );
    let cb = w.callbacks().pop().expect("callback");
    assert_eq!(w.controller.acd().position(&cb), Some(1));
    assert_eq!(w.controller.acd().position(&second), Some(2));
    // an agent comes: the callback first, agent rung, then the customer
    w.agent("a1", Phone::Answer(1_000));
    w.run_until(T0 + 50_000);
    assert!(w.commands(&cb).contains(&&Command::DialCustomer {
        number: "0612".into()
    }));
    let answered = w.first(&cb, "agent_answered").expect("connected");
    assert!(matches!(
        answered.kind,
        EventKind::AgentAnswered {
            rings: 0,
            limit_ms: Some(180_000),
            ..
        }
    ));
    // call control works during a callback (it did not before)
    let held = w
        .control(&cb, Action::Hold, "api:lead")
        .expect("reply")
        .expect("held");
    assert!(held.held);
    assert_eq!(held.call_type, CallType::Callback);
    let resumed = w
        .control(&cb, Action::Resume, "api:lead")
        .expect("reply")
        .expect("resumed");
    assert!(!resumed.held);
    w.control(&cb, Action::PauseRecording, "a1")
        .expect("reply")
        .expect("paused");
    w.hang_up_at(T0 + 60_000, &cb);
    w.run_until(T0 + 61_000);
    let cdr = w.cdr(&cb).expect("callback cdr");
    assert_eq!(
        (cdr.outcome, cdr.call_type),
        (Some(Outcome::Answered), CallType::Callback)
    );
    assert!(w
        .commands(&cb)
        .iter()
        .any(|c| matches!(c, Command::CloseRecording { pauses_ms, .. } if pauses_ms.len() == 1)));
    assert_eq!(w.kinds(&cb)[0], "arrived");
}

#[test]
fn a_callback_whose_customer_never_answers_is_tried_then_given_up() {
    let mut cfg = basic(&["a1"]);
    cfg.callback = Some(CallbackPolicy {
        key: '1',
        deadline_ms: 86_400_000,
        retry_ms: 60_000,
        attempts: 2,
        answer_timeout_ms: 30_000,
        owner_wait_ms: 0,
    });
    let mut w = World::new(cfg);
    w.customers.insert("0612".into(), Phone::NoAnswer);
    let c = w.call_in("0612");
    w.at(T0 + 15_000, &c, Input::Digit('1'));
    w.run_until(T0 + 20_000);
    let cb = w.callbacks().pop().expect("callback");
    // while it waits for an agent, call control is refused, not left hanging
    let r = w.control(&cb, Action::Show, "api:lead").expect("a reply");
    assert!(matches!(r, Err(ControlError::Refused(_))));
    w.agent("a1", Phone::Answer(1_000));
    w.run_until(T0 + 400_000);
    let fails: Vec<u32> = w
        .events_of(&cb)
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::CallbackAttemptFailed { attempt, reason } => {
                assert_eq!(reason, "no answer");
                Some(*attempt)
            }
            _ => None,
        })
        .collect();
    assert_eq!(fails, [1, 2]);
    assert!(w.first(&cb, "callback_expired").is_some());
    assert_eq!(w.cdr(&cb).and_then(|c| c.outcome), Some(Outcome::Failed));
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "available");
    // the agent was released after each attempt
    let released = w
        .events
        .iter()
        .filter(|e| e.call_id.as_ref() == Some(&cb) && e.kind.name() == "wrap_up")
        .count();
    assert_eq!(released, 2);
}

#[test]
fn a_node_that_stepped_down_moves_its_ringing_callers_and_keeps_the_others() {
    // the HA pair: the node is standby (no offers); StepDown refuses the
    // caller still ringing 503 (Kamailio tries the active node), keeps the
    // caller the engine answered (music), the one an agent's phone rings
    // for, and the callback
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::NoAnswer);
    let ringing_agent = w.call_in("0611");
    w.run_until(T0 + 500);
    assert!(w.first(&ringing_agent, "offered").is_some());
    w.controller.set_routing(T0 + 500, false);
    let answered = w.call_in("0612");
    w.run_until(T0 + 12_000);
    assert!(w.first(&answered, "system_answered").is_some());
    let ringing = w.call_in("0613");
    w.run_until(T0 + 14_000);
    for c in [&ringing_agent, &answered, &ringing] {
        w.at(T0 + 14_000, c, Input::StepDown);
    }
    w.run_until(T0 + 15_000);
    assert!(w.commands(&ringing).contains(&&Command::RejectCaller {
        status: 503,
        reason: hotline_callflow::STEP_DOWN_REASON.into(),
    }));
    assert!(matches!(
        w.first(&ringing, "rejected").map(|e| &e.kind),
        Some(EventKind::Rejected { status: 503, reason }) if reason == "node_standby"
    ));
    assert!(w.cdr(&ringing).is_some(), "ended: {:?}", w.kinds(&ringing));
    for c in [&ringing_agent, &answered] {
        assert!(w.first(c, "rejected").is_none(), "{:?}", w.kinds(c));
        assert!(w.cdr(c).is_none(), "still up: {:?}", w.kinds(c));
    }
    // the answered caller is offered once the node is active again
    w.hang_up_at(T0 + 16_000, &ringing_agent);
    w.run_until(T0 + 17_000);
    w.controller.set_routing(T0 + 17_000, true);
    w.pump();
    w.run_until(T0 + 30_000);
    assert!(
        w.first(&answered, "offered").is_some(),
        "{:?}",
        w.kinds(&answered)
    );
}

#[test]
fn a_callback_between_two_attempts_on_a_node_that_stepped_down_never_dials() {
    // the HA pair: the first attempt fails, then the node steps down
    // (routing off); the retry falls due on the standby: the callback waits
    // in its queue, no agent is rung and the customer is not dialled
    let mut cfg = basic(&["a1"]);
    cfg.callback = Some(CallbackPolicy {
        key: '1',
        deadline_ms: 86_400_000,
        retry_ms: 60_000,
        attempts: 3,
        answer_timeout_ms: 30_000,
        owner_wait_ms: 0,
    });
    let mut w = World::new(cfg);
    w.customers.insert("0612".into(), Phone::NoAnswer);
    let c = w.call_in("0612");
    w.at(T0 + 15_000, &c, Input::Digit('1'));
    w.run_until(T0 + 20_000);
    let cb = w.callbacks().pop().expect("callback");
    w.agent("a1", Phone::Answer(1_000));
    w.run_until(T0 + 60_000);
    let count = |w: &World, name: &str| {
        w.events_of(&cb)
            .iter()
            .filter(|e| e.kind.name() == name)
            .count()
    };
    let dials = |w: &World| {
        w.commands(&cb)
            .iter()
            .filter(|c| matches!(c, Command::DialCustomer { .. }))
            .count()
    };
    assert_eq!(count(&w, "callback_attempt_failed"), 1);
    assert_eq!((count(&w, "offered"), dials(&w)), (1, 1));
    w.controller.set_routing(T0 + 60_000, false);
    w.run_until(T0 + 600_000);
    assert_eq!(
        (
            count(&w, "offered"),
            dials(&w),
            count(&w, "callback_attempt_failed")
        ),
        (1, 1, 1),
        "{:?}",
        w.kinds(&cb)
    );
    // back in its queue for the next attempt, waiting
    assert_eq!(count(&w, "queued"), 1, "{:?}", w.kinds(&cb));
    // active again (the shared log says it is still due): the next attempt
    w.controller.set_routing(T0 + 600_000, true);
    w.pump();
    w.run_until(T0 + 620_000);
    assert_eq!(
        (count(&w, "offered"), dials(&w)),
        (2, 2),
        "{:?}",
        w.kinds(&cb)
    );
}

#[test]
fn overflow_after_the_maximum_wait_and_to_voicemail_when_nobody_is_logged_in() {
    let mut cfg = basic(&["a1"]);
    cfg.queues = vec![
        QueueConfig {
            max_wait_ms: Some(30_000),
            ..QueueConfig::new(QueueId::new("general"))
        },
        QueueConfig::new(QueueId::new("leaders")),
    ];
    cfg.overflow
        .insert(QueueId::new("general"), QueueId::new("leaders"));
    cfg.overflow
        .insert(QueueId::new("leaders"), QueueId::new("voicemail"));
    cfg.voicemail_max_ms = Some(60_000);
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let busy = w.call_in("0611");
    w.run_until(T0 + 1_000);
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000 + 30_000);
    let over = w.first(&c, "overflowed").expect("overflow");
    assert!(matches!(&over.kind, EventKind::Overflowed { reason, .. } if reason == "max_wait"));
    assert_eq!(over.at_ms, T0 + 31_000);
    assert_eq!(w.calls[&c].queue(), Some(&QueueId::new("leaders")));
    // a1 is staffed in leaders (on a call): the caller waits there
    assert_eq!(w.calls[&c].phase(), &Phase::Waiting);
    w.hang_up_at(T0 + 40_000, &busy);
    // wrap-up 5 s, then a1 takes the overflowed caller
    w.run_until(T0 + 46_000);
    assert_eq!(
        w.first(&c, "agent_answered").map(|e| e.at_ms),
        Some(T0 + 46_000)
    );
    // nobody logged in to leaders: voicemail
    let mut w2 = {
        let mut cfg = basic(&[]);
        cfg.overflow
            .insert(QueueId::new("general"), QueueId::new("voicemail"));
        cfg.voicemail_max_ms = Some(60_000);
        World::new(cfg)
    };
    let c = w2.call_in("0612");
    w2.run_until(T0 + 3_000);
    assert!(w2.commands(&c).contains(&&Command::AnswerCaller));
    assert!(w2.commands(&c).contains(&&Command::Bridge { agent: None }));
    w2.hang_up_at(T0 + 10_000, &c);
    w2.run_until(T0 + 11_000);
    let left = w2.first(&c, "voicemail_left").expect("message");
    assert!(
        matches!(&left.kind, EventKind::VoicemailLeft { path: Some(_), duration_ms } if *duration_ms == 7_400)
    );
    assert_eq!(w2.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Voicemail));
    // sealed before the voicemail_left event (its file is complete then)
    let kinds = w2.kinds(&c);
    let pos = |k| kinds.iter().position(|x| *x == k).expect(k);
    assert!(pos("recording_closed") < pos("voicemail_left"));
}

#[test]
fn the_cdr_ends_at_the_hang_up_however_late_the_recording_is_sealed() {
    // issue 19: at 300 calls/s the seal (fsync, SHA-256, signature) came
    // back seconds after the BYE and the CDR ended then: 2,222 calls
    // "bridged at once" while SIPp held 900
    let mut w = world(&["a1"]);
    w.seal_delay_ms = 7_000;
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.hang_up_at(T0 + 3_000, &c);
    w.run_until(T0 + 5_000);
    // hung up, still sealing: no CDR yet
    assert!(w.cdr(&c).is_none());
    assert_eq!(w.first(&c, "completed").map(|e| e.at_ms), Some(T0 + 3_000));
    w.run_until(T0 + 11_000);
    assert_eq!(
        w.first(&c, "recording_closed").map(|e| e.at_ms),
        Some(T0 + 10_000)
    );
    let cdr = w.cdr(&c).expect("cdr after the seal");
    assert_eq!(cdr.ended_ms, Some(T0 + 3_000));
    assert_eq!(cdr.talk_ms, Some(2_000));
    assert_eq!(
        cdr.recording_sha256.as_deref(),
        Some(format!("sha-{c}").as_str())
    );

    // the closing events written after the seal (a voicemail's outcome)
    // are dated at the end too
    let mut cfg = basic(&[]);
    cfg.overflow
        .insert(QueueId::new("general"), QueueId::new("voicemail"));
    cfg.voicemail_max_ms = Some(60_000);
    let mut w = World::new(cfg);
    w.seal_delay_ms = 5_000;
    let c = w.call_in("0612");
    w.hang_up_at(T0 + 10_000, &c);
    w.run_until(T0 + 20_000);
    let left = w.first(&c, "voicemail_left").expect("message");
    assert_eq!(left.at_ms, T0 + 10_000);
    assert_eq!(
        w.first(&c, "recording_closed").map(|e| e.at_ms),
        Some(T0 + 15_000)
    );
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(cdr.outcome, Some(Outcome::Voicemail));
    assert_eq!(cdr.ended_ms, Some(T0 + 10_000));
    // still sealed before the voicemail_left event in the log
    let kinds = w.kinds(&c);
    let pos = |k| kinds.iter().position(|x| *x == k).expect(k);
    assert!(pos("recording_closed") < pos("voicemail_left"));
}

#[test]
fn hold_resume_type_limits_and_a_transfer_to_the_leaders() {
    let mut cfg = basic(&["a1", "b1"]);
    cfg.queues = vec![
        QueueConfig {
            members: vec![AgentId::new("a1")],
            ..QueueConfig::new(QueueId::new("general"))
        },
        QueueConfig {
            members: vec![AgentId::new("b1")],
            ..QueueConfig::new(QueueId::new("leaders"))
        },
    ];
    cfg.transfer_queue = Some(QueueId::new("leaders"));
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(2_000));
    w.agent("b1", Phone::Answer(3_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 2_000);
    let t = |r: Option<Result<_, ControlError>>| r.expect("a reply");
    assert!(t(w.control(&c, Action::Hold, "a1")).expect("hold").held);
    assert!(
        t(w.control(&c, Action::Hold, "a1")).is_err(),
        "already on hold"
    );
    w.run_until(T0 + 12_000);
    assert!(!t(w.control(&c, Action::Resume, "a1")).expect("resume").held);
    assert!(matches!(
        w.first(&c, "resumed").map(|e| &e.kind),
        Some(EventKind::Resumed {
            held_ms: 10_000,
            ..
        })
    ));
    // an order from now on: 60 s from the answer; the warning at 48 s
    t(w.control(&c, Action::SetType(CallType::Order), "a1")).expect("type");
    w.run_until(T0 + 2_000 + 60_000);
    let warn = w.first(&c, "limit_warning").expect("warning");
    assert_eq!(warn.at_ms, T0 + 2_000 + 48_000);
    assert_eq!(
        w.first(&c, "limit_exceeded").map(|e| e.at_ms),
        Some(T0 + 62_000)
    );
    assert!(w
        .commands(&c)
        .contains(&&Command::ToneToAgent(PromptRef::LimitTone {
            exceeded: true
        })));
    // unknown queue refused, then to the leaders
    assert!(t(w.control(
        &c,
        Action::Transfer {
            to: Some(QueueId::new("nowhere"))
        },
        "a1"
    ))
    .is_err());
    let moved = t(w.control(&c, Action::Transfer { to: None }, "a1")).expect("transfer");
    assert_eq!(
        (moved.queue.as_deref(), moved.agent),
        (Some("leaders"), None)
    );
    w.run_until(T0 + 70_000);
    let answers: Vec<_> = w
        .events_of(&c)
        .into_iter()
        .filter(|e| e.kind.name() == "agent_answered")
        .map(|e| e.agent.clone())
        .collect();
    assert_eq!(
        answers,
        [Some(AgentId::new("a1")), Some(AgentId::new("b1"))]
    );
    w.agent_hangs_up_at(T0 + 80_000, &c, "b1");
    w.run_until(T0 + 81_000);
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(cdr.agent, Some(AgentId::new("b1")));
    assert_eq!(
        (cdr.ended_by, cdr.talk_ms, cdr.call_type),
        (Some(EndedBy::Agent), Some(78_000), CallType::Order)
    );
    assert_eq!(cdr.queue, Some(QueueId::new("leaders")));
}

#[test]
fn a_desk_phone_refer_transfers_and_its_leg_is_released_after_the_grace() {
    let mut cfg = basic(&["a1", "b1"]);
    cfg.queues = vec![
        QueueConfig {
            members: vec![AgentId::new("a1")],
            ..QueueConfig::new(QueueId::new("general"))
        },
        QueueConfig {
            members: vec![AgentId::new("b1")],
            ..QueueConfig::new(QueueId::new("leaders"))
        },
    ];
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000);
    let a1 = AgentId::new("a1");
    w.at(
        T0 + 5_000,
        &c,
        Input::Agent {
            agent: a1.clone(),
            event: LegInput::RemoteHold { held: true },
        },
    );
    w.at(
        T0 + 6_000,
        &c,
        Input::Agent {
            agent: a1.clone(),
            event: LegInput::Refer {
                target: "leaders".into(),
            },
        },
    );
    w.run_until(T0 + 6_249);
    assert!(w.first(&c, "held").is_some());
    assert!(w.first(&c, "transferred").is_some());
    assert!(!w
        .commands(&c)
        .contains(&&Command::HangUpAgent { agent: a1.clone() }));
    w.run_until(T0 + 6_250);
    assert!(w
        .commands(&c)
        .contains(&&Command::HangUpAgent { agent: a1 }));
}

#[test]
fn recording_on_request_when_calls_are_not_recorded_and_its_pause_spans() {
    let mut cfg = basic(&["a1"]);
    cfg.record = false;
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 2_000);
    assert!(w.first(&c, "recording_opened").is_none());
    let r = w.control(&c, Action::PauseRecording, "a1").expect("reply");
    assert!(r.is_err(), "nothing to pause");
    let started = w
        .control(&c, Action::StartRecording, "a1")
        .expect("reply")
        .expect("started");
    assert!(started.recorded);
    assert!(w
        .control(&c, Action::StartRecording, "a1")
        .expect("reply")
        .is_err());
    w.run_until(T0 + 5_000);
    w.control(&c, Action::PauseRecording, "a1")
        .expect("reply")
        .expect("paused");
    w.run_until(T0 + 8_000);
    w.control(&c, Action::ResumeRecording, "a1")
        .expect("reply")
        .expect("resumed");
    w.hang_up_at(T0 + 9_000, &c);
    w.run_until(T0 + 10_000);
    assert!(w.commands(&c).contains(&&Command::CloseRecording {
        agent: Some(AgentId::new("a1")),
        pauses_ms: vec![(T0 + 5_000, T0 + 8_000)]
    }));
    // control of a waiting call is refused; of an ended call: no call
    let waiting = w.call_in("0613");
    let r = w.control(&waiting, Action::Hold, "a1").expect("reply");
    assert!(matches!(r, Err(ControlError::Refused(_))));
}

#[test]
fn closed_hours_blacklist_and_unusable_answers() {
    // closed, no closed message: 480 before any answer
    let mut w = world(&[]);
    w.env.close("general");
    w.env.without("closed");
    let c = w.call_in("0612");
    assert!(w.commands(&c).contains(&&Command::RejectCaller {
        status: 480,
        reason: "closed".into()
    }));
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Rejected));
    // closed with voicemail: message, then voicemail
    let mut cfg = basic(&[]);
    cfg.closed_treatment = ClosedTreatment::Voicemail;
    cfg.voicemail_max_ms = Some(30_000);
    let mut w = World::new(cfg);
    w.env.close("general");
    let c = w.call_in("0612");
    w.run_until(T0 + 5_000);
    assert!(w.commands(&c).contains(&&Command::Bridge { agent: None }));
    w.run_until(T0 + 40_000);
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Voicemail));
    // blacklisted: the message, then the engine hangs up; without one, 603
    let mut w = world(&["a1"]);
    let hit = BlacklistHit {
        entry: "0612".into(),
        action: "reject".into(),
        reason: "abuse".into(),
        queue: None,
    };
    let c = w.call_with("0612", Some(hit.clone()), false);
    w.run_until(T0 + 5_000);
    assert!(w.commands(&c).contains(&&Command::HangUpCaller));
    assert!(matches!(
        w.cdr(&c).map(|c| c.outcome),
        Some(Some(Outcome::Rejected))
    ));
    w.env.without("blacklisted");
    let c = w.call_with("0612", Some(hit), false);
    assert!(w.commands(&c).contains(&&Command::RejectCaller {
        status: 603,
        reason: "blacklisted".into()
    }));
    // an agent answering with SDP we cannot use is a refusal (488)
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::BadSdp(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000);
    assert!(matches!(
        w.first(&c, "agent_rejected").map(|e| &e.kind),
        Some(EventKind::AgentRejected { status: 488 })
    ));
}

#[test]
fn the_engine_stopping_ends_every_call_with_a_cdr() {
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::Answer(1_000));
    let talking = w.call_in("0612");
    w.run_until(T0 + 1_000);
    let waiting = w.call_in("0613");
    for c in [&talking, &waiting] {
        w.at(w.now, c, Input::Shutdown);
    }
    w.run_until(T0 + 2_000);
    assert!(w.calls.is_empty());
    for c in [&talking, &waiting] {
        assert_eq!(w.cdr(c).and_then(|c| c.outcome), Some(Outcome::Failed));
    }
    assert!(w.bridged.is_empty());
}

#[test]
fn callbacks_pending_at_a_restart_are_taken_over_with_their_attempts_and_no_second_arrival() {
    let mut cfg = basic(&["a1"]);
    cfg.callback = Some(CallbackPolicy {
        key: '1',
        deadline_ms: 86_400_000,
        retry_ms: 60_000,
        attempts: 3,
        answer_timeout_ms: 30_000,
        owner_wait_ms: 0,
    });
    let mut w = World::new(cfg);
    w.env.close("general");
    let id = hotline_core::CallId::from_stored("cb-before-restart");
    let spec = hotline_callflow::CallbackSpec {
        number: "0612".into(),
        queue: QueueId::new("general"),
        requested_ms: T0 - 600_000,
        deadline_ms: T0 + 3_600_000,
        attempts: 2,
        queued: false,
        resumed: true,
        owner: None,
    };
    w.controller
        .resume_callbacks(w.now, vec![(id.clone(), spec)]);
    w.pump();
    assert!(w.calls.contains_key(&id));
    assert!(
        w.first(&id, "arrived").is_none(),
        "its arrival is in the log already"
    );
    // closed: it waits for the opening (checked every minute)
    w.agent("a1", Phone::Answer(1_000));
    w.run_until(T0 + 100_000);
    assert!(w.first(&id, "offered").is_none());
    w.env.open("general");
    w.run_until(T0 + 200_000);
    let answered = w.first(&id, "agent_answered").expect("made after all");
    // the wait counts from the original request
    assert!(matches!(answered.kind, EventKind::AgentAnswered { wait_ms, .. } if wait_ms > 600_000));
    w.hang_up_at(T0 + 250_000, &id);
    w.run_until(T0 + 260_000);
    let cdr = w.cdr(&id).expect("cdr");
    assert_eq!(
        (cdr.arrived_ms, cdr.outcome),
        (T0 - 600_000, Some(Outcome::Answered))
    );
}

#[test]
fn an_agents_call_is_found_by_the_agent_and_forgotten_when_it_ends() {
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000);
    assert_eq!(w.controller.call_of(&AgentId::new("a1")), Some(&c));
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "on_call");
    w.hang_up_at(T0 + 2_000, &c);
    w.run_until(T0 + 3_000);
    assert_eq!(w.controller.call_of(&AgentId::new("a1")), None);
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "wrap_up");
    w.run_until(T0 + 7_000);
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "available");
    // an input to an ended call: ignored; an action: no call
    assert_eq!(w.control(&c, Action::Show, "a1"), None);
}

fn dialling(prefixes: &[&str]) -> FlowSettings {
    let mut cfg = basic(&["a1", "a2"]);
    cfg.dial = Some(hotline_callflow::DialRules {
        allowed_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        answer_timeout_ms: 30_000,
    });
    cfg
}

#[test]
fn an_agent_dials_a_customer_the_same_call_recorded_held_and_completed() {
    let mut w = World::new(dialling(&["06", "+86"]));
    w.agent("a1", Phone::Answer(1_000));
    w.customers.insert("0612".into(), Phone::Answer(3_000));
    let c = w.dial_out("a1", "0612").expect("allowed");
    let a1 = AgentId::new("a1");
    assert!(w.commands(&c).starts_with(&[
        &Command::Emit(w.events_of(&c)[0].clone()),
        &Command::AgentRinging { agent: a1.clone() },
        &Command::DialCustomer {
            number: "0612".into()
        },
    ]));
    assert_eq!(w.controller.status(&a1).state, "on_call");
    // an inbound call meanwhile is not offered to the busy agent
    let inbound = w.call_in("0613");
    w.run_until(T0 + 3_000);
    assert!(w
        .commands(&c)
        .contains(&&Command::AnswerAgent { agent: a1.clone() }));
    let answered = w.first(&c, "agent_answered").expect("connected");
    assert!(matches!(
        answered.kind,
        EventKind::AgentAnswered {
            wait_ms: 3_000,
            rings: 0,
            limit_ms: Some(180_000)
        }
    ));
    assert!(w.first(&inbound, "offered").is_none());
    assert_eq!(w.controller.call_of(&a1), Some(&c));
    // call control as on any call
    assert!(
        w.control(&c, Action::Hold, "a1")
            .expect("reply")
            .expect("held")
            .held
    );
    w.control(&c, Action::Resume, "a1")
        .expect("reply")
        .expect("resumed");
    w.hang_up_at(T0 + 63_000, &c);
    w.run_until(T0 + 63_000);
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(
        (cdr.dialled.as_str(), cdr.caller.as_str()),
        ("outbound", "0612")
    );
    assert_eq!(
        (cdr.outcome, cdr.agent.clone()),
        (Some(Outcome::Answered), Some(a1.clone()))
    );
    assert_eq!(
        (cdr.talk_ms, cdr.call_type),
        (Some(60_000), CallType::Callback)
    );
    assert!(cdr.recording_sha256.is_some());
    // wrap-up, then the waiting inbound caller gets the agent
    w.run_until(T0 + 69_000);
    assert!(w.first(&inbound, "agent_answered").is_some());
}

#[test]
fn a_number_on_the_agents_work_list_is_dialled_outside_the_allowed_prefixes() {
    let mut w = World::new(dialling(&["06"]));
    w.agent("a1", Phone::Answer(1_000));
    let c = w.dial_out_with("a1", "13800000000", true).expect("a call");
    assert!(w.commands(&c).contains(&&Command::DialCustomer {
        number: "13800000000".into()
    }));
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::RejectAgent { .. })));
    // not a number at all: refused even so
    w.hang_up_at(T0 + 1_000, &c);
    w.run_until(T0 + 20_000);
    let bad = w.dial_out_with("a1", "06;x=1", true).expect("a call");
    assert!(w
        .commands(&bad)
        .iter()
        .any(|c| matches!(c, Command::RejectAgent { status: 403, .. })));
}

#[test]
fn outbound_refusals_not_allowed_disabled_busy_no_answer_and_the_agent_giving_up() {
    let a1 = AgentId::new("a1");
    // a number outside the allowed prefixes: 403, audited as an event, the agent free
    let mut w = World::new(dialling(&["06"]));
    w.agent("a1", Phone::Answer(1_000));
    let c = w.dial_out("a1", "13800000000").expect("a call");
    assert!(matches!(
        w.commands(&c).iter().find(|c| matches!(c, Command::RejectAgent { .. })),
        Some(Command::RejectAgent { status: 403, reason, .. }) if reason.contains("not an allowed number")
    ));
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Rejected));
    assert_eq!(w.controller.status(&a1).state, "wrap_up");
    for bad in ["", "anonymous", "06;x=1", "06 12"] {
        w.run_for(10_000);
        let c = w.dial_out("a1", bad).expect("a call");
        assert!(
            w.commands(&c)
                .iter()
                .any(|c| matches!(c, Command::RejectAgent { status: 403, .. })),
            "{bad:?}"
        );
    }
    // dialling out not enabled
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.dial_out("a1", "0612").expect("a call");
    assert!(w.commands(&c).iter().any(|c| matches!(c, Command::RejectAgent { status: 403, reason, .. } if reason.contains("not enabled"))));
    // busy, then no answer within the timeout
    let mut w = World::new(dialling(&[]));
    w.agent("a1", Phone::Answer(1_000));
    w.customers.insert("0612".into(), Phone::Busy);
    w.customers.insert("0613".into(), Phone::NoAnswer);
    let c = w.dial_out("a1", "0612").expect("a call");
    w.run_for(1_000);
    assert!(w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::RejectAgent { status: 486, .. })));
    w.run_for(10_000);
    let c = w.dial_out("a1", "0613").expect("a call");
    w.run_for(29_999);
    assert!(w.calls.contains_key(&c));
    w.run_for(1);
    assert!(w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::RejectAgent { status: 480, .. })));
    assert!(w.commands(&c).contains(&&Command::HangUpCaller));
    // the agent hangs up while the customer's phone rings
    w.run_for(10_000);
    let c = w.dial_out("a1", "0613").expect("a call");
    w.agent_hangs_up_at(w.now + 2_000, &c, "a1");
    w.run_for(3_000);
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Failed));
    assert!(w.commands(&c).contains(&&Command::HangUpCaller));
    // an agent on a call cannot dial
    let mut w = World::new(dialling(&[]));
    w.agent("a1", Phone::Answer(1_000));
    let inbound = w.call_in("0612");
    w.run_for(2_000);
    assert_eq!(w.controller.call_of(&a1), Some(&inbound));
    assert!(w.dial_out("a1", "0613").is_none());
}

#[test]
fn click_to_call_rings_the_agent_first_then_the_customer() {
    let a1 = AgentId::new("a1");
    let mut cfg = dialling(&["06"]);
    cfg.limits.insert(CallType::Reply, 180_000);
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(2_000));
    w.customers.insert("0612".into(), Phone::Answer(3_000));
    let c = w
        .click_to_call("a1", "0612", CallType::Reply)
        .expect("accepted");
    // the agent's phone rings; the customer is not dialled yet
    assert!(w
        .commands(&c)
        .contains(&&Command::InviteAgent { agent: a1.clone() }));
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::DialCustomer { .. })));
    assert_eq!(w.controller.status(&a1).state, "on_call");
    w.run_until(T0 + 2_000);
    assert!(w.commands(&c).contains(&&Command::DialCustomer {
        number: "0612".into()
    }));
    w.run_until(T0 + 5_000);
    let answered = w.first(&c, "agent_answered").expect("connected");
    assert!(matches!(
        answered.kind,
        EventKind::AgentAnswered {
            limit_ms: Some(180_000),
            ..
        }
    ));
    // the agent's leg was answered by the agent: the engine answers nothing
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::AnswerAgent { .. } | Command::RejectAgent { .. })));
    w.hang_up_at(T0 + 65_000, &c);
    w.run_until(T0 + 65_000);
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(
        (cdr.dialled.as_str(), cdr.caller.as_str(), cdr.call_type),
        ("outbound", "0612", CallType::Reply)
    );
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    assert_eq!(cdr.talk_ms, Some(60_000));
}

#[test]
fn click_to_call_of_a_number_on_the_agents_work_list_rings_the_agent() {
    let mut w = World::new(dialling(&["06"]));
    w.agent("a1", Phone::NoAnswer);
    let c = w
        .click_to_call_with("a1", "13800000000", CallType::ReturnVisit, true)
        .expect("a call");
    assert!(w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::InviteAgent { .. })));
    assert!(!w
        .events_of(&c)
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Rejected { status: 403, .. })));
}

#[test]
fn click_to_call_refusals_the_agent_not_answering_and_a_busy_customer() {
    let a1 = AgentId::new("a1");
    let mut w = World::new(dialling(&["06"]));
    w.agent("a1", Phone::NoAnswer);
    // a number outside the allowed prefixes: refused before any phone rings
    let c = w
        .click_to_call("a1", "13800000000", CallType::Other)
        .expect("a call");
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::InviteAgent { .. })));
    assert!(w
        .events_of(&c)
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Rejected { status: 403, .. })));
    assert_eq!(w.cdr(&c).and_then(|c| c.outcome), Some(Outcome::Rejected));
    // the agent's phone is not answered within the timeout: cancelled, 408
    w.run_for(10_000);
    let c = w
        .click_to_call("a1", "0612", CallType::Reply)
        .expect("a call");
    w.run_for(29_999);
    assert!(w.calls.contains_key(&c));
    w.run_for(1);
    assert!(w
        .commands(&c)
        .contains(&&Command::HangUpAgent { agent: a1.clone() }));
    assert!(w
        .events_of(&c)
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Rejected { status: 408, .. })));
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::DialCustomer { .. })));
    // a busy customer: the agent's answered leg is hung up, not rejected
    let mut w = World::new(dialling(&[]));
    w.agent("a1", Phone::Answer(1_000));
    w.customers.insert("0612".into(), Phone::Busy);
    let c = w
        .click_to_call("a1", "0612", CallType::Reply)
        .expect("a call");
    w.run_for(2_000);
    assert!(w
        .commands(&c)
        .contains(&&Command::HangUpAgent { agent: a1.clone() }));
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::RejectAgent { .. })));
    assert!(w
        .events_of(&c)
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Rejected { status: 486, .. })));
    // an agent on a call cannot be asked to click-to-call
    let inbound = w.call_in("0613");
    w.run_for(10_000);
    w.run_for(2_000);
    assert_eq!(w.controller.call_of(&a1), Some(&inbound));
    assert!(w.click_to_call("a1", "0614", CallType::Reply).is_none());
}

#[test]
fn a_talking_call_whose_rtp_stops_is_dropped_but_not_while_on_hold() {
    let mut cfg = basic(&["a1"]);
    cfg.media_timeout_ms = 10_000;
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 1_000);
    // RTP flows for a minute: nothing happens
    w.run_until(T0 + 61_000);
    assert!(w.calls.contains_key(&c));
    // on hold the caller's phone may go quiet: not a dropped call
    w.control(&c, Action::Hold, "a1")
        .expect("reply")
        .expect("held");
    w.dead_media.insert(c.clone(), (true, false));
    w.run_until(T0 + 121_000);
    assert!(w.calls.contains_key(&c), "held calls are not dropped");
    w.control(&c, Action::Resume, "a1")
        .expect("reply")
        .expect("resumed");
    // off hold and still nothing from the caller: dropped within 1-1.5 timeouts
    w.run_until(T0 + 121_000 + 9_999);
    assert!(w.calls.contains_key(&c));
    w.run_until(T0 + 121_000 + 15_000);
    let dropped = w.first(&c, "media_timeout").expect("dropped");
    assert!(
        matches!(dropped.kind, EventKind::MediaTimeout { side: hotline_core::Side::Caller, idle_ms } if idle_ms >= 10_000)
    );
    // half-way, the caller's side was reported as one-way audio, once
    let one_way: Vec<_> = w
        .events_of(&c)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::OneWayAudio { .. }))
        .collect();
    assert_eq!(one_way.len(), 1, "{:?}", w.kinds(&c));
    assert!(
        matches!(
            one_way[0].kind,
            EventKind::OneWayAudio {
                side: hotline_core::Side::Caller,
                idle_ms: 5_000
            }
        ) && one_way[0].at_ms < dropped.at_ms
    );
    let cdr = w.cdr(&c).expect("cdr");
    assert_eq!(
        (cdr.outcome, cdr.ended_by),
        (Some(Outcome::Answered), Some(EndedBy::System))
    );
    assert!(w.commands(&c).contains(&&Command::HangUpCaller));
    assert!(w.commands(&c).contains(&&Command::HangUpAgent {
        agent: AgentId::new("a1")
    }));
    // the agent is free again after the wrap-up
    w.run_for(6_000);
    assert_eq!(w.controller.status(&AgentId::new("a1")).state, "available");
}

#[test]
fn one_way_audio_that_recovers_is_an_event_and_the_call_goes_on() {
    let mut cfg = basic(&["a1"]);
    cfg.media_timeout_ms = 10_000;
    let mut w = World::new(cfg);
    w.agent("a1", Phone::Answer(1_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 11_000);
    // the agent's side goes quiet for 7 s, then comes back
    w.dead_media.insert(c.clone(), (false, true));
    w.run_until(T0 + 18_000);
    w.dead_media.remove(&c);
    w.run_until(T0 + 60_000);
    assert!(w.calls.contains_key(&c), "not dropped");
    let one_way: Vec<_> = w
        .events_of(&c)
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::OneWayAudio {
                    side: hotline_core::Side::Agent,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(one_way.len(), 1, "{:?}", w.kinds(&c));
    assert!(w.first(&c, "media_timeout").is_none());
    // both sides silent is a dead line, not one-way audio
    w.dead_media.insert(c.clone(), (true, true));
    w.run_until(T0 + 80_000);
    assert!(w.first(&c, "media_timeout").is_some());
    assert_eq!(
        w.events_of(&c)
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::OneWayAudio { .. }))
            .count(),
        1
    );
}

/// 报工号, 「很抱歉让您久等了」 and the closing phrase (issue 20): each plays to
/// both sides when configured, and nothing changes when it is not.
#[test]
fn the_agent_number_the_hold_resume_and_the_closing_phrase_play_when_configured() {
    let mut w = world(&["1001"]);
    w.env.with_phrase("agent_number");
    w.env.with_phrase("hold_resume");
    w.env.with_phrase("closing");
    w.agent("1001", Phone::Answer(2_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 2_500);
    // the agent answered: the number is announced to both, after the bridge
    // command (the media plays it before they hear each other)
    let cmds: Vec<String> = w.commands(&c).iter().map(|c| format!("{c:?}")).collect();
    let bridge = cmds
        .iter()
        .position(|c| c.starts_with("Bridge"))
        .expect("bridged");
    let number = cmds
        .iter()
        .position(|c| c == "PlayToBoth(AgentNumber(\"1001\"))")
        .expect("the agent's number is announced");
    assert!(bridge < number, "{cmds:?}");
    let kinds = w.kinds(&c);
    let answered = kinds.iter().position(|k| *k == "agent_answered").unwrap();
    assert_eq!(kinds[answered + 1], "prompt_started", "{kinds:?}");
    let t = |r: Option<Result<_, ControlError>>| r.expect("a reply");
    t(w.control(&c, Action::Hold, "1001")).expect("hold");
    w.run_until(T0 + 10_000);
    t(w.control(&c, Action::Resume, "1001")).expect("resume");
    let plays: Vec<&Command> = w
        .commands(&c)
        .into_iter()
        .filter(|c| matches!(c, Command::PlayToBoth(_)))
        .collect();
    assert_eq!(
        plays,
        [
            &Command::PlayToBoth(PromptRef::AgentNumber("1001".into())),
            &Command::PlayToBoth(PromptRef::HoldResume)
        ]
    );
    // the resumed event comes before the phrase's prompt_started
    let kinds = w.kinds(&c);
    let resumed = kinds.iter().position(|k| *k == "resumed").unwrap();
    assert_eq!(kinds[resumed + 1], "prompt_started", "{kinds:?}");
    // the closing hang-up: the phrase (2.5 s), then both legs go; ended by
    // the agent; a second close meanwhile is refused
    w.run_until(T0 + 20_000);
    t(w.control(&c, Action::Close, "1001")).expect("close");
    assert!(
        t(w.control(&c, Action::Close, "1001")).is_err(),
        "already closing"
    );
    assert!(w
        .commands(&c)
        .contains(&&Command::PlayToBoth(PromptRef::Closing)));
    w.run_until(T0 + 22_000);
    assert!(w.cdr(&c).is_none(), "still saying goodbye");
    w.run_until(T0 + 23_000);
    let cdr = w.cdr(&c).expect("ended");
    assert_eq!(cdr.ended_by, Some(EndedBy::Agent));
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    let cmds = w.commands(&c);
    assert!(cmds.contains(&&Command::HangUpCaller));
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::HangUpAgent { agent } if agent.as_str() == "1001")));
    let completed = w.first(&c, "completed").expect("completed");
    assert_eq!(completed.at_ms, T0 + 20_000 + 2_500 + 300);
}

#[test]
fn without_the_phrases_nothing_is_played_and_close_clears_the_line_at_once() {
    let mut w = world(&["1001"]);
    w.agent("1001", Phone::Answer(2_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 3_000);
    let t = |r: Option<Result<_, ControlError>>| r.expect("a reply");
    t(w.control(&c, Action::Hold, "1001")).expect("hold");
    t(w.control(&c, Action::Resume, "1001")).expect("resume");
    assert!(!w
        .commands(&c)
        .iter()
        .any(|c| matches!(c, Command::PlayToBoth(_))));
    // only the greeting's prompt_started, if any: no phrase was announced
    assert!(w
        .events_of(&c)
        .iter()
        .all(|e| !matches!(&e.kind, EventKind::PromptStarted { prompt } if prompt != "greeting")));
    // a held call is taken off hold for the goodbye
    t(w.control(&c, Action::Hold, "1001")).expect("hold");
    t(w.control(&c, Action::Close, "1001")).expect("close");
    w.pump();
    let cdr = w.cdr(&c).expect("ended at once");
    assert_eq!(cdr.ended_by, Some(EndedBy::Agent));
    assert_eq!(w.first(&c, "completed").map(|e| e.at_ms), Some(T0 + 3_000));
    // the caller who hangs up during the closing phrase ends it first
    let mut w = world(&["1001"]);
    w.env.with_phrase("closing");
    w.agent("1001", Phone::Answer(2_000));
    let c = w.call_in("0612");
    w.run_until(T0 + 3_000);
    t(w.control(&c, Action::Close, "1001")).expect("close");
    w.hang_up_at(T0 + 4_000, &c);
    w.run_until(T0 + 10_000);
    let cdr = w.cdr(&c).expect("ended");
    assert_eq!(cdr.ended_by, Some(EndedBy::Caller));
    // control on a call that is not talking is refused
    let mut w = world(&[]);
    let c = w.call_in("0613");
    w.run_until(T0 + 1_000);
    assert!(t(w.control(&c, Action::Close, "x")).is_err());
}

#[test]
fn a_standby_node_makes_no_offers_until_routing_is_on_again() {
    // the HA pair: a node that stepped down keeps its waiting caller but
    // offers it to no agent (its agent state may be stale) until it is
    // active again; then the caller is offered at once
    let mut w = world(&["a1"]);
    w.agent("a1", Phone::Answer(1_000));
    w.controller.set_routing(T0, false);
    assert!(!w.controller.routing());
    let c = w.call_in("0612");
    w.run_until(T0 + 30_000);
    assert!(w.first(&c, "offered").is_none(), "{:?}", w.kinds(&c));
    assert!(w.first(&c, "queued").is_some(), "{:?}", w.kinds(&c));
    w.controller.set_routing(T0 + 30_000, true);
    w.pump();
    w.run_until(T0 + 40_000);
    let offered = w.first(&c, "offered").expect("offered once routing is on");
    assert_eq!(offered.at_ms, T0 + 30_000);
    assert!(w.first(&c, "agent_answered").is_some(), "{:?}", w.kinds(&c));
}
