//! Callbacks end to end: a waiting caller presses 1 and hangs up; when an
//! agent is free the engine rings the agent, then calls the caller back
//! through the configured gateway (here a SIPp phone) and bridges them; a
//! caller who cannot be reached is tried again and the callback given up.

use super::*;
use hotline_core::{CallType, Outcome};

/// A hotline offering callbacks; the caller's phone is reached at
/// 127.0.0.1:`phone_port` (the "gateway").
fn with_callbacks(prompts: &tempfile::TempDir, phone_port: u16) -> HotlineOptions {
    let confirm = tone_wav(prompts.path(), "confirm.wav", 700.0, 300);
    HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        extra_toml: format!(
            r#"
[callback]
enabled = true
key = "1"
confirm = "{}"
dial = "sip:{{number}}@127.0.0.1:{phone_port}"
retry_s = 2
attempts = 2
answer_timeout_s = 5
"#,
            confirm.display()
        ),
        ..HotlineOptions::default()
    }
}

/// The caller presses 1 while waiting and the engine hangs up; returns the
/// original CDR and the callback's id.
pub(super) fn request_callback(h: &Hotline, number: &str) -> (Cdr, CallId) {
    let wait = h.options.system_answer_after() + Duration::from_millis(600);
    Sipp::new("caller_key_until_bye.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", number)
        .key("first", "1")
        .duration_ms(wait.as_millis() as u64)
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success("caller presses 1 and is hung up on");
    let cdr = wait_cdrs(h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Callback), "{cdr:#?}");
    let ev = events(h, &cdr.call_id);
    let req = find(&ev, |k| matches!(k, EventKind::CallbackRequested { .. }))
        .unwrap_or_else(|| panic!("no callback_requested in {:?}", kinds(&ev)));
    let EventKind::CallbackRequested {
        number: n,
        callback,
        deadline_ms,
    } = &req.kind
    else {
        unreachable!()
    };
    assert_eq!(n, number);
    let day = deadline_ms - req.at_ms;
    assert!(
        (24 * 3_600_000 - 1_000..=24 * 3_600_000).contains(&day),
        "due within 24 h: {day} ms"
    );
    (cdr, callback.clone())
}

/// The caller's phone at the gateway (answers), and agent 1001 registered
/// with a phone that takes one call and hangs up after `talk_ms`.
fn phone_and_agent(
    h: &Hotline,
    phone_port: u16,
    number: &str,
    talk_ms: u64,
) -> (SippProcess, SippProcess) {
    let phone = Sipp::new("agent_uas.xml")
        .port(phone_port)
        .key("agent", number)
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let agent_port = free_udp_port();
    register(h, "1001", agent_port);
    let agent = Sipp::new("agent_uas_hangup.xml")
        .port(agent_port)
        .key("agent", "1001")
        .duration_ms(talk_ms)
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    (phone, agent)
}

#[test]
fn a_caller_who_presses_1_is_called_back_by_the_next_free_agent() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let phone_port = free_udp_port();
    let h = Hotline::start_with(with_callbacks(&prompts, phone_port));
    // nobody staffed: the caller waits, then asks for a callback
    let (_, callback) = request_callback(&h, "0614000001");
    // the caller's phone, then an agent who talks 2.5 s and hangs up
    let (phone, agent) = phone_and_agent(&h, phone_port, "0614000001", 2500);
    agent
        .wait()
        .assert_success("agent takes the callback and hangs up");
    phone
        .wait()
        .assert_success("the caller's phone rings and answers");
    let cdrs = wait_cdrs(&h, 2);
    let cb = cdrs
        .iter()
        .find(|c| c.call_id == callback)
        .unwrap_or_else(|| panic!("no CDR for the callback: {cdrs:#?}"));
    assert_eq!(cb.outcome, Some(Outcome::Answered), "{cb:#?}");
    assert_eq!(cb.call_type, CallType::Callback);
    assert_eq!(cb.caller, "0614000001");
    assert_eq!(cb.dialled, "callback");
    assert_eq!(cb.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    let k = kinds(&events(&h, &callback));
    for name in [
        "arrived",
        "offered",
        "agent_answered",
        "completed",
        "recording_closed",
    ] {
        assert!(k.contains(&name.to_string()), "no {name} in {k:?}");
    }
    // recorded like any call: the caller's phone left, the agent right
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cb.recording_path.as_deref().expect("recorded")),
    );
    assert_tone("caller channel", &wav.channel(0), 8000, 440.0, 0.6);
    assert_tone("agent channel", &wav.channel(1), 8000, 440.0, 0.6);
}

/// Before the call flow was one state machine, a callback had its own copy
/// of ringing and talking: no hold, no transfer, no recording control, and
/// `GET /api/agents/{id}/call` during a callback waited on a channel nobody
/// read. The same actions now work on a callback as on any call.
#[test]
fn the_agent_on_a_callback_holds_resumes_and_pauses_the_recording_through_the_api() {
    use super::call_control::{post, wait_talking};
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let phone_port = free_udp_port();
    let h = Hotline::start_with(with_callbacks(&prompts, phone_port));
    let (_, callback) = request_callback(&h, "0614000004");
    let (phone, agent) = phone_and_agent(&h, phone_port, "0614000004", 6000);
    let talking = wait_talking(&h, "1001");
    assert_eq!(talking["call_id"], callback.as_str(), "{talking}");
    assert_eq!(talking["call_type"], "callback", "{talking}");
    assert_eq!(talking["caller"], "0614000004", "{talking}");
    let (s, b) = post(&h, "/api/agents/1001/call/hold", "");
    assert_eq!((s, &b["held"]), (200, &serde_json::json!(true)), "{b}");
    let (s, b) = post(&h, "/api/agents/1001/call/resume", "");
    assert_eq!((s, &b["held"]), (200, &serde_json::json!(false)), "{b}");
    let (s, b) = post(&h, "/api/agents/1001/call/record_pause", "");
    assert_eq!(
        (s, &b["recording_paused"]),
        (200, &serde_json::json!(true)),
        "{b}"
    );
    agent
        .wait()
        .assert_success("agent takes the callback and hangs up");
    phone.wait().assert_success("the caller's phone answers");
    let cdrs = wait_cdrs(&h, 2);
    assert!(cdrs.iter().any(|c| c.call_id == callback), "{cdrs:#?}");
    let k = kinds(&events(&h, &callback));
    for name in [
        "held",
        "resumed",
        "recording_paused",
        "completed",
        "recording_closed",
    ] {
        assert!(k.contains(&name.to_string()), "no {name} in {k:?}");
    }
}

#[test]
fn an_unreachable_caller_is_tried_again_then_the_callback_is_given_up() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let phone_port = free_udp_port();
    let h = Hotline::start_with(with_callbacks(&prompts, phone_port));
    let (_, callback) = request_callback(&h, "0614000002");
    // the caller's line is busy both times; the agent answers both offers
    let phone = Sipp::new("agent_busy.xml")
        .port(phone_port)
        .calls(2)
        .timeout(Duration::from_secs(40))
        .spawn();
    let agent_port = free_udp_port();
    register(&h, "1001", agent_port);
    let agent = Sipp::new("agent_uas.xml")
        .port(agent_port)
        .key("agent", "1001")
        .calls(2)
        .timeout(Duration::from_secs(40))
        .spawn();
    phone.wait().assert_success("busy twice");
    agent
        .wait()
        .assert_success("agent rung twice, hung up on twice");
    let cdrs = wait_cdrs(&h, 2);
    let cb = cdrs.iter().find(|c| c.call_id == callback).unwrap();
    assert_eq!(cb.outcome, Some(Outcome::Failed), "{cb:#?}");
    let ev = events(&h, &callback);
    let fails: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::CallbackAttemptFailed { attempt, reason } => {
                Some((*attempt, reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(fails.len(), 2, "{:?}", kinds(&ev));
    assert_eq!(fails[0].0, 1);
    assert!(fails[0].1.contains("486"), "{fails:?}");
    assert!(
        matches!(
            find(&ev, |k| matches!(k, EventKind::CallbackExpired { .. })).map(|e| &e.kind),
            Some(EventKind::CallbackExpired { attempts: 2 })
        ),
        "{:?}",
        kinds(&ev)
    );
}

/// A caller of a closed queue may leave a callback: it is requested at
/// once, but no agent is rung for it until the queue opens.
#[test]
fn a_closed_queue_takes_a_callback_and_rings_nobody_while_closed() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let phone_port = free_udp_port();
    let mut opts = with_callbacks(&prompts, phone_port);
    opts.extra_toml
        .push_str(&closed_today_toml("closed_action = \"callback\"", ""));
    let h = Hotline::start_with(opts);
    // an agent is logged in, yet nobody rings while the queue is closed
    register(&h, "1001", free_udp_port());
    let sink = RtpSink::bind();
    Sipp::new("caller_silent.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0614000009")
        .key("rtp_port", &sink.port.to_string())
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success("closed: confirm, goodbye");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Callback), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("queue_closed") < pos("callback_requested"), "{k:?}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::Offered { .. })),
        "a callback rang an agent while the queue was closed"
    );
}

/// A callback asked for before the engine died is still made after the
/// restart (read back from the event log), by its original id.
#[test]
fn a_pending_callback_survives_a_restart() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let phone_port = free_udp_port();
    let mut h = Hotline::start_with(with_callbacks(&prompts, phone_port));
    let (_, callback) = request_callback(&h, "0614000009");
    // the engine dies (SIGKILL) with the callback still waiting for an agent
    h.restart();
    assert!(
        wait_until(Duration::from_secs(10), || h.stderr().contains(
            "callbacks pending from before the restart are taken over"
        )),
        "{}",
        h.stderr()
    );
    let (phone, agent) = phone_and_agent(&h, phone_port, "0614000009", 1500);
    agent
        .wait()
        .assert_success("agent takes the callback after the restart");
    phone.wait().assert_success("the caller is called back");
    let cdrs = wait_cdrs(&h, 2);
    let cb = cdrs
        .iter()
        .find(|c| c.call_id == callback)
        .unwrap_or_else(|| panic!("no CDR for the callback: {cdrs:#?}"));
    assert_eq!(cb.outcome, Some(Outcome::Answered), "{cb:#?}");
    assert_eq!(cb.caller, "0614000009");
    // one arrival for the callback call, from before the restart
    let k = kinds(&events(&h, &callback));
    assert_eq!(k.iter().filter(|n| *n == "arrived").count(), 1, "{k:?}");
    assert!(k.contains(&"completed".to_string()), "{k:?}");
    // a second restart finds nothing left to do
    h.restart();
    assert!(
        !h.stderr()
            .rsplit("===== restart =====")
            .next()
            .unwrap_or("")
            .contains("taken over"),
        "{}",
        h.stderr()
    );
}
