//! Voicemail end to end: a queue nobody staffs overflows to voicemail, a
//! closed queue takes a message after the closed greeting, and a message
//! stops at its maximum length. The recording is read back: the caller's
//! tone on the left, silence on the right.

use super::*;
use hotline_core::Outcome;
use std::process::Command;

fn caller_from_number(h: &Hotline, number: &str, hold_ms: u64) -> Sipp {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", number)
        .duration_ms(hold_ms)
}

/// A hotline whose `general` queue overflows to voicemail (greeting 300 ms).
fn with_voicemail(prompts: &tempfile::TempDir, max_s: u32, extra: &str) -> HotlineOptions {
    let vm = tone_wav(prompts.path(), "leave_a_message.wav", 700.0, 300);
    HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        extra_toml: format!(
            r#"
[voicemail]
enabled = true
prompt = "{}"
max_s = {max_s}
{extra}
"#,
            vm.display()
        ),
        ..HotlineOptions::default()
    }
}

fn voicemail_of(h: &Hotline, call: &CallId) -> (Option<String>, i64) {
    let ev = events(h, call);
    match find(&ev, |k| matches!(k, EventKind::VoicemailLeft { .. })) {
        Some(CallEvent {
            kind: EventKind::VoicemailLeft { path, duration_ms },
            ..
        }) => (path.clone(), *duration_ms),
        _ => panic!("no voicemail_left in {:?}", kinds(&ev)),
    }
}

#[test]
fn with_nobody_staffed_the_caller_leaves_a_voicemail() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(with_voicemail(
        &prompts,
        30,
        "[[queues]]\nid = \"general\"\noverflow = \"voicemail\"\n",
    ));
    // caller.xml streams 1000 Hz from its answer and hangs up after 4 s
    caller_from_number(&h, "0613000001", 4000)
        .run()
        .assert_success("caller leaves a message");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Voicemail), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    let over = find(&ev, |k| matches!(k, EventKind::Overflowed { .. })).unwrap();
    assert_eq!(
        over.kind,
        EventKind::Overflowed {
            from: hotline_core::QueueId::new("general"),
            reason: "no_agents".into()
        }
    );
    assert!(find(&ev, |k| matches!(k, EventKind::Offered { .. })).is_none());
    let (path, duration_ms) = voicemail_of(&h, &cdr.call_id);
    // 4 s of call minus the 300 ms prompt and the 500 ms beep
    assert!(
        (2_500..4_000).contains(&duration_ms),
        "message of {duration_ms} ms"
    );
    let path = h.recordings_dir().join(path.expect("recorded"));
    let wav = Wav::read(&path);
    assert_eq!((wav.rate, wav.channels), (8000, 2));
    let secs = wav.duration().as_secs_f64();
    assert!(
        (secs - duration_ms as f64 / 1000.0).abs() < 0.6,
        "{secs} s of WAV for a {duration_ms} ms message"
    );
    assert_tone("caller channel", &wav.channel(0), 8000, 1000.0, 0.7);
    assert!(rms(&wav.channel(1)) < 0.001, "agent channel silent");
    assert_eq!(
        cdr.recording_path.as_deref(),
        path.strip_prefix(h.recordings_dir())
            .ok()
            .and_then(|p| p.to_str())
    );
}

#[test]
fn a_message_stops_at_its_maximum_length() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(with_voicemail(
        &prompts,
        5,
        "[[queues]]\nid = \"general\"\noverflow = \"voicemail\"\n",
    ));
    Sipp::new("caller_until_bye.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0613000002")
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success("the engine hangs up at the maximum length");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Voicemail));
    let (_, duration_ms) = voicemail_of(&h, &cdr.call_id);
    assert!(
        (4_900..6_500).contains(&duration_ms),
        "stopped after {duration_ms} ms"
    );
}

#[test]
fn a_closed_queue_takes_a_message_after_the_closed_greeting() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let closed = tone_wav(prompts.path(), "closed.wav", 2000.0, 300);
    let mut opts = with_voicemail(
        &prompts,
        30,
        &closed_today_toml("closed_action = \"voicemail\"", ""),
    );
    opts.prompts_toml = format!("closed = \"{}\"", closed.display());
    let h = Hotline::start_with(opts);
    register(&h, "1001", free_udp_port());
    caller_from_number(&h, "0613000003", 3500)
        .run()
        .assert_success("caller leaves a message on a holiday");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Voicemail), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("queue_closed") < pos("voicemail_left"), "{k:?}");
    assert!(!k.contains(&"offered".to_string()), "{k:?}");
    let (path, duration_ms) = voicemail_of(&h, &cdr.call_id);
    assert!(duration_ms > 1_500, "{duration_ms} ms");
    assert!(path.is_some());
}

#[test]
fn voicemail_settings_are_checked() {
    for (extra, key) in [
        (
            "[[queues]]\nid = \"general\"\noverflow = \"voicemail\"\n",
            "queues[0].overflow",
        ),
        ("[[queues]]\nid = \"voicemail\"\n", "queues[0].id"),
        (
            "[schedule]\nclosed_action = \"voicemail\"\n",
            "schedule.closed_action",
        ),
        (
            "[voicemail]\nenabled = true\nmax_s = 1\n",
            "voicemail.max_s",
        ),
        ("[schedule]\nclosed_action = \"hang_up\"\n", "closed_action"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hotline.toml");
        std::fs::write(
            &path,
            format!("[[agents]]\nid = \"1001\"\npassword = \"demo1001\"\n{extra}"),
        )
        .expect("write config");
        let out = Command::new(Hotline::binary())
            .arg("check-config")
            .arg(&path)
            .output()
            .expect("run hotline");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra} accepted");
        assert!(err.contains(key), "{extra}: {err}");
    }
}

#[test]
fn a_full_queue_overflows_to_voicemail() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(with_voicemail(
        &prompts,
        30,
        "[[queues]]\nid = \"general\"\nmax_len = 1\noverflow = \"voicemail\"\n",
    ));
    // 1001 is staffed but never answers: the first caller keeps the queue full
    let port = free_udp_port();
    register(&h, "1001", port);
    let phone = Sipp::new("agent_noanswer.xml")
        .port(port)
        .key("agent", "1001")
        .calls(3)
        .timeout(Duration::from_secs(20))
        .spawn();
    let first = caller_from_number(&h, "0613000010", 6000).spawn();
    assert!(
        wait_until(Duration::from_secs(5), || all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::Queued { .. }))),
        "the first caller queues"
    );
    caller_from_number(&h, "0613000011", 3000)
        .run()
        .assert_success("the second caller leaves a message");
    first.wait().assert_success("first caller gives up");
    drop(phone);
    let cdrs = wait_cdrs(&h, 2);
    let second = cdrs.iter().find(|c| c.caller == "0613000011").unwrap();
    assert_eq!(second.outcome, Some(Outcome::Voicemail), "{second:#?}");
    let ev = events(&h, &second.call_id);
    let over = find(&ev, |k| matches!(k, EventKind::Overflowed { .. })).unwrap();
    assert!(
        matches!(&over.kind, EventKind::Overflowed { reason, .. } if reason == "full"),
        "{over:?}"
    );
}
