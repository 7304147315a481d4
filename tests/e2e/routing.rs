//! Routing before and around the ACD, end to end with SIPp: the IVR menu
//! (DTMF by SIP INFO) setting the call type and queue, the blacklist (refuse
//! or route to a designated queue), VIP callers jumping the queue, overflow
//! (no agent staffed, maximum wait) and a full queue refusing callers.

use super::*;
use hotline_core::{CallType, Outcome};

/// Options with a 300 ms greeting and `extra` TOML (queues, IVR, blacklist).
fn routed(prompts: &tempfile::TempDir, extra: &str) -> HotlineOptions {
    HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        extra_toml: extra.to_string(),
        ..HotlineOptions::default()
    }
}

/// An IVR menu (300 ms prompt) with 1 = order → queue `orders`.
fn ivr_toml(prompts: &tempfile::TempDir, timeout_s: u32, tries: u32) -> String {
    let menu = tone_wav(prompts.path(), "menu.wav", 700.0, 300);
    format!(
        r#"
[[queues]]
id = "general"

[[queues]]
id = "orders"
members = ["1002"]

[ivr]
enabled = true
prompt = "{}"
timeout_s = {timeout_s}
tries = {tries}

[[ivr.options]]
digit = "1"
call_type = "order"
queue = "orders"

[[ivr.options]]
digit = "3"
call_type = "complaint"
"#,
        menu.display()
    )
}

fn answering_agent(h: &Hotline, agent: &str, calls: u32) -> SippProcess {
    let port = free_udp_port();
    register(h, agent, port);
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .calls(calls)
        .timeout(Duration::from_secs(40))
        .spawn()
}

fn caller_from(h: &Hotline, number: &str, hold_ms: u64) -> Sipp {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", number)
        .duration_ms(hold_ms)
}

fn offered_to(events: &[CallEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .filter_map(|e| e.agent.as_ref().map(|a| a.as_str().to_string()))
        .collect()
}

fn queue_of(e: &CallEvent) -> Option<&str> {
    e.queue.as_ref().map(|q| q.as_str())
}

#[test]
fn an_ivr_choice_by_sip_info_sets_the_call_type_and_queue() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(&prompts, &ivr_toml(&prompts, 3, 2)));
    // 1001 is idle longest and serves `general`; only 1002 serves `orders`
    register(&h, "1001", free_udp_port());
    std::thread::sleep(Duration::from_millis(50));
    let agent = answering_agent(&h, "1002", 1);
    Sipp::new("caller_ivr_info.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .key("first", "7")
        .key("second", "1")
        .duration_ms(3000)
        .run()
        .assert_success("caller chooses 1 after a wrong key");
    agent.wait().assert_success("agent 1002 answers the order");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Answered), "{cdr:#?}");
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    assert_eq!(cdr.queue.as_ref().map(|q| q.as_str()), Some("orders"));
    assert_eq!(cdr.call_type, CallType::Order);
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("system_answered") < pos("ivr_invalid"), "{k:?}");
    assert!(pos("ivr_invalid") < pos("ivr_choice"), "{k:?}");
    assert!(pos("ivr_choice") < pos("queued"), "{k:?}");
    let invalid = find(&ev, |k| matches!(k, EventKind::IvrInvalid { .. })).unwrap();
    assert_eq!(invalid.kind, EventKind::IvrInvalid { digit: "7".into() });
    let choice = find(&ev, |k| matches!(k, EventKind::IvrChoice { .. })).unwrap();
    assert_eq!(
        choice.kind,
        EventKind::IvrChoice {
            digit: "1".into(),
            call_type: CallType::Order,
            language: None
        }
    );
    // the call belongs to no queue until the caller chose, then to `orders`
    assert_eq!(queue_of(&ev[0]), None, "{:?}", ev[0]);
    let queued = find(&ev, |k| matches!(k, EventKind::Queued { .. })).unwrap();
    assert_eq!(queue_of(queued), Some("orders"));
    assert_eq!(offered_to(&ev), vec!["1002"], "only orders' member rings");
}

#[test]
fn no_key_pressed_takes_the_default_queue_after_the_menu_times_out() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(&prompts, &ivr_toml(&prompts, 1, 2)));
    let agent = answering_agent(&h, "1001", 1);
    // greeting 0.3 s + menu 0.3 s + 1 s, menu again 0.3 s + 1 s: ~2.9 s after the answer
    caller_from(&h, "0612345678", 6000)
        .run()
        .assert_success("silent caller");
    agent.wait().assert_success("agent 1001");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Answered), "{cdr:#?}");
    assert_eq!(cdr.call_type, CallType::Inquiry);
    assert_eq!(cdr.queue.as_ref().map(|q| q.as_str()), Some("general"));
    let ev = events(&h, &cdr.call_id);
    let answered = find(&ev, |k| matches!(k, EventKind::SystemAnswered { .. })).unwrap();
    let choice = find(&ev, |k| matches!(k, EventKind::IvrChoice { .. })).unwrap();
    assert_eq!(
        choice.kind,
        EventKind::IvrChoice {
            digit: String::new(),
            call_type: CallType::Inquiry,
            language: None
        }
    );
    let waited = choice.at_ms - answered.at_ms;
    assert!(
        (2_600..4_500).contains(&waited),
        "default taken {waited} ms after the answer (two menus with 1 s timeouts)"
    );
}

#[test]
fn a_blacklisted_number_is_refused_and_the_attempt_logged() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        r#"
[[blacklist]]
number = "06 1234 5678"
reason = "extortion attempts, case 2026-118"
"#,
    ));
    // an agent is available, yet nobody rings for the blacklisted number
    let agent = answering_agent(&h, "1001", 1);
    let out = Sipp::new("caller_rejected.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .run();
    out.assert_success("blacklisted caller refused");
    assert!(out.logs().contains("final 603"), "{}", out.logs());
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Rejected));
    let ev = events(&h, &cdr.call_id);
    let b = find(&ev, |k| matches!(k, EventKind::Blacklisted { .. })).unwrap();
    assert_eq!(
        b.kind,
        EventKind::Blacklisted {
            entry: "0612345678".into(),
            action: "reject".into(),
            reason: "extortion attempts, case 2026-118".into()
        }
    );
    assert!(
        offered_to(&ev).is_empty(),
        "no agent rang: {:?}",
        kinds(&ev)
    );
    // another number still gets through
    caller_from(&h, "0700000000", 1000)
        .run()
        .assert_success("a normal caller");
    agent.wait().assert_success("agent 1001");
    // live KPIs: the refusal is a blocked call, by the blacklist
    let c = crate::kpis::center_stats(&h, |c| c["answered"] == 1);
    assert_eq!(
        (
            &c["offered"],
            &c["rejected"],
            &c["blocked"],
            &c["blacklisted_refused"]
        ),
        (&1.into(), &1.into(), &1.into(), &1.into()),
        "{c}"
    );
    // the blacklist is its own figure, not a busy signal (忙音率)
    assert_eq!(
        (&c["busy"], &c["busy_rate"]),
        (&0.into(), &0.0.into()),
        "{c}"
    );
}

#[test]
fn a_blacklisted_prefix_is_routed_to_the_security_queue() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        r#"
[[queues]]
id = "general"
members = ["1001"]

[[queues]]
id = "security"
members = ["1003"]

[[blacklist]]
number = "0699*"
reason = "abusive calls from this range"
queue = "security"
"#,
    ));
    register(&h, "1001", free_udp_port());
    std::thread::sleep(Duration::from_millis(50));
    let agent = answering_agent(&h, "1003", 1);
    caller_from(&h, "0699123456", 1500)
        .run()
        .assert_success("caller routed to security");
    agent.wait().assert_success("agent 1003 (security desk)");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1003"));
    assert_eq!(cdr.queue.as_ref().map(|q| q.as_str()), Some("security"));
    let ev = events(&h, &cdr.call_id);
    let b = find(&ev, |k| matches!(k, EventKind::Blacklisted { .. })).unwrap();
    assert!(
        matches!(&b.kind, EventKind::Blacklisted { entry, action, .. } if entry == "0699*" && action == "queue:security"),
        "{b:?}"
    );
    assert_eq!(offered_to(&ev), vec!["1003"]);
}

#[test]
fn a_vip_caller_is_served_before_an_earlier_caller() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        hotline_toml: r#"vip = ["+8610*"]"#.into(),
        ..HotlineOptions::default()
    });
    // both wait in the queue (no agent yet): the ordinary caller first
    let ordinary = caller_from(&h, "0612345678", 9000).spawn();
    assert!(
        wait_until(Duration::from_secs(5), || all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::Queued { .. }))),
        "first caller queued"
    );
    std::thread::sleep(Duration::from_millis(300));
    let vip = caller_from(&h, "+8610555000", 3000).spawn();
    assert!(
        wait_until(Duration::from_secs(5), || all_events(&h)
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Queued { .. }))
            .count()
            == 2),
        "both callers queued"
    );
    let agent = answering_agent(&h, "1001", 2);
    vip.wait().assert_success("VIP caller");
    ordinary.wait().assert_success("ordinary caller");
    agent.wait().assert_success("agent 1001 takes both");
    let cdrs = wait_cdrs(&h, 2);
    let vip_cdr = cdrs.iter().find(|c| c.caller == "+8610555000").unwrap();
    let other = cdrs.iter().find(|c| c.caller == "0612345678").unwrap();
    assert!(other.arrived_ms < vip_cdr.arrived_ms);
    let (Some(v), Some(o)) = (vip_cdr.agent_answered_ms, other.agent_answered_ms) else {
        panic!("both answered: {cdrs:#?}");
    };
    assert!(v < o, "the VIP was answered first ({v} vs {o})");
}

#[test]
fn calls_overflow_when_no_member_is_staffed_and_at_max_wait() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        r#"
[[queues]]
id = "general"
members = ["1001"]
max_wait_s = 1
overflow = "backup"

[[queues]]
id = "backup"
members = ["1002"]
"#,
    ));
    // nobody of `general` is logged in: straight to backup
    let backup = answering_agent(&h, "1002", 2);
    caller_from(&h, "0611111111", 1000)
        .run()
        .assert_success("first caller");
    let first = wait_cdrs(&h, 1).remove(0);
    assert_eq!(first.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    assert_eq!(first.queue.as_ref().map(|q| q.as_str()), Some("backup"));
    let ev = events(&h, &first.call_id);
    let o = find(&ev, |k| matches!(k, EventKind::Overflowed { .. })).unwrap();
    assert_eq!(queue_of(o), Some("backup"));
    assert!(
        matches!(&o.kind, EventKind::Overflowed { from, reason } if from.as_str() == "general" && reason == "no_agents"),
        "{o:?}"
    );

    // 1001 logs in and is busy on a long call; the next caller waits 1 s in
    // `general`, then overflows to backup where 1002 answers
    let main = answering_agent(&h, "1001", 1);
    let long = caller_from(&h, "0622222222", 6000).spawn();
    assert!(
        wait_until(Duration::from_secs(5), || cdrs(&h).len() == 1
            && all_events(&h).iter().any(|e| matches!(
                e.kind,
                EventKind::AgentAnswered { .. }
            ) && e
                .agent
                .as_ref()
                .map(|a| a.as_str())
                == Some("1001"))),
        "1001 on the long call"
    );
    caller_from(&h, "0633333333", 1000)
        .run()
        .assert_success("third caller");
    long.wait().assert_success("long call");
    main.wait().assert_success("agent 1001");
    backup.wait().assert_success("agent 1002");
    let third = wait_cdrs(&h, 3)
        .into_iter()
        .find(|c| c.caller == "0633333333")
        .unwrap();
    assert_eq!(third.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let ev = events(&h, &third.call_id);
    let queued = find(&ev, |k| matches!(k, EventKind::Queued { .. })).unwrap();
    assert_eq!(queue_of(queued), Some("general"));
    let o = find(&ev, |k| matches!(k, EventKind::Overflowed { .. })).unwrap();
    assert!(
        matches!(&o.kind, EventKind::Overflowed { from, reason } if from.as_str() == "general" && reason == "max_wait"),
        "{o:?}"
    );
    let waited = o.at_ms - queued.at_ms;
    assert!(
        (900..3000).contains(&waited),
        "overflowed after {waited} ms"
    );
    // live KPIs: two of the three calls overflowed
    let c = crate::kpis::center_stats(&h, |c| c["answered"] == 3);
    assert_eq!(
        (&c["answered"], &c["overflowed"]),
        (&3.into(), &2.into()),
        "{c}"
    );
}

#[test]
fn a_full_queue_refuses_the_next_caller_busy() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        r#"
[[queues]]
id = "general"
max_len = 1
"#,
    ));
    let waiting = caller_from(&h, "0611111111", 3000).spawn();
    assert!(
        wait_until(Duration::from_secs(5), || all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::Queued { .. }))),
        "first caller queued"
    );
    let out = Sipp::new("caller_rejected.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0622222222")
        .run();
    out.assert_success("second caller refused");
    assert!(out.logs().contains("final 486"), "{}", out.logs());
    waiting
        .wait()
        .assert_success("first caller waited and left");
    let refused = wait_cdrs(&h, 2)
        .into_iter()
        .find(|c| c.caller == "0622222222")
        .unwrap();
    assert_eq!(refused.outcome, Some(Outcome::Rejected));
    let ev = events(&h, &refused.call_id);
    assert!(
        ev.iter().any(|e| matches!(&e.kind, EventKind::Rejected { status: 486, reason } if reason.contains("full"))),
        "{ev:#?}"
    );
    // live KPIs: a blocked call (queue full), one of two arrivals
    let c = crate::kpis::center_stats(&h, |c| c["blocked"] == 1 && c["waiting_now"] == 0);
    assert_eq!(
        (&c["offered"], &c["blocked"], &c["blacklisted_refused"]),
        (&1.into(), &1.into(), &0.into()),
        "{c}"
    );
    assert_eq!(c["busy_rate"], 0.5, "{c}");
}

#[test]
fn a_language_chosen_in_the_ivr_goes_to_an_agent_who_speaks_it() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let menu = tone_wav(prompts.path(), "menu.wav", 700.0, 300);
    let h = Hotline::start_with(routed(
        &prompts,
        &format!(
            r#"
[[agents]]
id = "2001"
password = "demo2001"
skills = {{ cantonese = 80, mandarin = 60 }}

[ivr]
enabled = true
prompt = "{}"
timeout_s = 3

[[ivr.options]]
digit = "9"
call_type = "inquiry"
language = "cantonese"
"#,
            menu.display()
        ),
    ));
    // 1001 (no Cantonese) has been idle longest, yet 2001 gets the call
    register(&h, "1001", free_udp_port());
    std::thread::sleep(Duration::from_millis(50));
    let agent = answering_agent(&h, "2001", 1);
    Sipp::new("caller_ivr_info.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .key("first", "9")
        .key("second", "1")
        .duration_ms(2500)
        .run()
        .assert_success("caller chooses Cantonese");
    agent.wait().assert_success("agent 2001 answers");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("2001"));
    let ev = events(&h, &cdr.call_id);
    assert_eq!(offered_to(&ev), vec!["2001"], "{:?}", kinds(&ev));
    let choice = find(&ev, |k| matches!(k, EventKind::IvrChoice { .. })).unwrap();
    assert!(
        matches!(&choice.kind, EventKind::IvrChoice { digit, language: Some(l), .. } if digit == "9" && l == "cantonese"),
        "{choice:?}"
    );
    // the second key, pressed after the choice, changed nothing
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(
                e.kind,
                EventKind::IvrChoice { .. } | EventKind::IvrInvalid { .. }
            ))
            .count(),
        1
    );
}

/// A dead line: the caller never sends a sound after the engine answered.
#[test]
fn a_silent_line_hears_the_message_and_is_hung_up() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let message = tone_wav(prompts.path(), "cannot_hear.wav", 2000.0, 800);
    let h = Hotline::start_with(HotlineOptions {
        hotline_toml: "silent_line_s = 2".into(),
        prompts_toml: format!("silent_line = \"{}\"", message.display()),
        ..routed(&prompts, "")
    });
    let sink = RtpSink::bind();
    Sipp::new("caller_silent.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611112222")
        .key("rtp_port", &sink.port.to_string())
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success("the engine hangs up on the silent caller");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Failed), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("system_answered") < pos("silent_line"), "{k:?}");
    let silent = find(&ev, |k| matches!(k, EventKind::SilentLine { .. })).unwrap();
    assert_eq!(silent.kind, EventKind::SilentLine { silent_ms: 2000 });
    let answered = find(&ev, |k| matches!(k, EventKind::SystemAnswered { .. })).unwrap();
    let after = silent.at_ms - answered.at_ms;
    assert!(
        (1900..4000).contains(&after),
        "silent line declared {after} ms after the answer"
    );
    // the caller heard the whole message (2000 Hz, 800 ms) before the BYE
    let windows = tone_windows(&sink.pcm(), 8000, 100, TONES);
    let heard = windows.iter().filter(|w| **w == Some(2000.0)).count();
    assert!(heard >= 7, "message heard in {heard} windows: {windows:?}");
    // live KPIs: a silent line, counted among the failed calls
    let c = crate::kpis::center_stats(&h, |c| c["silent_line"] == 1);
    assert_eq!(
        (&c["offered"], &c["silent_line"], &c["failed"]),
        (&1.into(), &1.into(), &1.into()),
        "{c}"
    );
}

/// A caller who talks while waiting is not a silent line.
#[test]
fn a_caller_who_talks_is_not_a_silent_line() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(HotlineOptions {
        hotline_toml: "silent_line_s = 1".into(),
        ..routed(&prompts, "")
    });
    let hold = h.options.system_answer_after() + Duration::from_millis(3000);
    caller_from(&h, "0611113333", hold.as_millis() as u64)
        .run()
        .assert_success("the caller talks, waits, hangs up");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Abandoned), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    assert!(
        find(&ev, |k| matches!(k, EventKind::SilentLine { .. })).is_none(),
        "{:?}",
        kinds(&ev)
    );
}

/// A caller waiting behind a busy agent hears their position and the
/// expected wait, and the announcement is an event.
#[test]
fn a_waiting_caller_hears_position_and_expected_wait() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        &format!(
            "[announcements]\nevery_s = 5\ndefault_handle_s = 120\nwords = \"{}\"\n",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config/prompts/announce")
                .display()
        ),
    ));
    // 1001 takes the first call and keeps talking
    let agent = answering_agent(&h, "1001", 1);
    let first = caller_from(&h, "0611110001", 14_000).spawn();
    assert!(
        wait_until(Duration::from_secs(10), || {
            all_events(&h)
                .iter()
                .any(|e| matches!(e.kind, EventKind::AgentAnswered { .. }))
        }),
        "the first call is answered"
    );
    let sink = RtpSink::bind();
    Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611110002")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(8_500)
        .run()
        .assert_success("the second caller waits and hangs up");
    first.wait().assert_success("first caller");
    agent.wait().assert_success("agent 1001");
    let cdrs = wait_cdrs(&h, 2);
    let second = cdrs
        .iter()
        .find(|c| c.caller == "0611110002")
        .expect("second caller's CDR");
    assert_eq!(second.outcome, Some(Outcome::Abandoned));
    let ev = events(&h, &second.call_id);
    let said = find(&ev, |k| matches!(k, EventKind::Announced { .. }))
        .unwrap_or_else(|| panic!("no announcement in {:?}", kinds(&ev)));
    // first in line; one staffed agent, no handled call yet: 1 × 120 s ÷ 1
    assert_eq!(
        said.kind,
        EventKind::Announced {
            position: Some(1),
            expected_wait_ms: Some(120_000)
        }
    );
    let answered = find(&ev, |k| matches!(k, EventKind::SystemAnswered { .. })).unwrap();
    let after = said.at_ms - answered.at_ms;
    assert!(
        (5_000..7_500).contains(&after),
        "announced {after} ms after the answer (greeting 0.3 s + 5 s)"
    );
    assert!(rms(&sink.pcm()) > 0.01, "the caller heard something");
}

/// Ring-all: both members ring at once; the one who answers takes the call,
/// the other's phone is cancelled and it is not a missed call.
#[test]
fn ring_all_rings_every_member_and_cancels_the_others_on_answer() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(
        &prompts,
        r#"
[[queues]]
id = "general"
strategy = "ring_all"
members = ["1001", "1002"]
"#,
    ));
    let silent_port = free_udp_port();
    register(&h, "1001", silent_port);
    let ringer = Sipp::new("agent_noanswer.xml")
        .port(silent_port)
        .key("agent", "1001")
        .timeout(Duration::from_secs(30))
        .spawn();
    let answerer = answering_agent(&h, "1002", 1);
    caller_from(&h, "0611220000", 1500)
        .run()
        .assert_success("caller talks to whoever answers");
    answerer.wait().assert_success("1002 answers");
    ringer
        .wait()
        .assert_success("1001 rang and was cancelled (CANCEL, 487)");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let ev = events(&h, &cdr.call_id);
    let mut offered = offered_to(&ev);
    offered.sort();
    assert_eq!(offered, vec!["1001", "1002"], "{:?}", kinds(&ev));
    assert!(
        find(&ev, |k| matches!(
            k,
            EventKind::AgentRingNoAnswer { .. } | EventKind::AgentRejected { .. }
        ))
        .is_none(),
        "the cancelled ring is no missed call: {:?}",
        kinds(&ev)
    );
    // both offers went out together, before anyone answered
    let answered = find(&ev, |k| matches!(k, EventKind::AgentAnswered { .. })).unwrap();
    assert!(ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .all(|e| e.at_ms <= answered.at_ms));
}

/// A DTMF flood (and INFO bodies that are no key at all) during the menu:
/// every INFO is answered, junk is ignored, the invalid keys use up the
/// menu's tries and the call goes to the default queue; nothing later in the
/// flood changes it.
#[test]
fn a_dtmf_flood_uses_up_the_menu_and_the_call_goes_on() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let mut h = Hotline::start_with(routed(&prompts, &ivr_toml(&prompts, 3, 2)));
    let agent = answering_agent(&h, "1001", 1);
    Sipp::new("caller_dtmf_flood.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612300000")
        .duration_ms(2000)
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success("every INFO of the flood answered 200");
    agent.wait().assert_success("agent 1001 answers");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Answered), "{cdr:#?}");
    assert_eq!(cdr.queue.as_ref().map(|q| q.as_str()), Some("general"));
    assert_eq!(cdr.call_type, CallType::Inquiry);
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    assert_eq!(
        k.iter().filter(|x| *x == "ivr_invalid").count(),
        2,
        "two tries, then the default: {k:?}"
    );
    // the default taken for the caller (no digit), never the late key 1
    let choices: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::IvrChoice { .. }))
        .collect();
    assert_eq!(choices.len(), 1, "{k:?}");
    assert!(
        matches!(&choices[0].kind, EventKind::IvrChoice { digit, call_type: CallType::Inquiry, .. } if digit.is_empty()),
        "{:?}",
        choices[0]
    );
    assert!(h.is_running(), "the engine survived");
}

/// The menu choice as RFC 4733 telephone-events in the caller's RTP (SIPp
/// plays its own capture of key 1), not SIP INFO.
#[test]
fn an_ivr_choice_by_rfc4733_telephone_event_routes_the_call() {
    need_peers();
    let pcap = Path::new("/usr/share/sip-tester/dtmf_2833_1.pcap");
    assert!(pcap.exists(), "sip-tester ships {}", pcap.display());
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(routed(&prompts, &ivr_toml(&prompts, 3, 2)));
    register(&h, "1001", free_udp_port());
    std::thread::sleep(Duration::from_millis(50));
    let agent = answering_agent(&h, "1002", 1);
    Sipp::new("caller_dtmf_rfc4733.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345999")
        .duration_ms(3000)
        .run()
        .assert_success("caller presses 1 in the RTP stream");
    agent.wait().assert_success("agent 1002 answers the order");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.queue.as_ref().map(|q| q.as_str()), Some("orders"));
    assert_eq!(cdr.call_type, CallType::Order);
    let ev = events(&h, &cdr.call_id);
    let choice = find(&ev, |k| matches!(k, EventKind::IvrChoice { .. }))
        .unwrap_or_else(|| panic!("no choice in {:?}", kinds(&ev)));
    assert!(
        matches!(&choice.kind, EventKind::IvrChoice { digit, .. } if digit == "1"),
        "{choice:?}"
    );
}
