//! The calendar end to end: a queue closed on a holiday (the closed message,
//! or 480 without one; an IVR choice of a closed queue) and the greeting of
//! the period of the day.

use super::*;
use hotline_core::Outcome;

fn closed_today(prompts: &tempfile::TempDir, closed_message: Option<&Path>) -> HotlineOptions {
    HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        prompts_toml: closed_message
            .map(|p| format!("closed = \"{}\"", p.display()))
            .unwrap_or_default(),
        extra_toml: closed_today_toml("", ""),
        ..HotlineOptions::default()
    }
}

#[test]
fn on_a_holiday_the_caller_hears_the_closed_message_and_no_agent_rings() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let message = tone_wav(prompts.path(), "closed.wav", 2000.0, 800);
    let h = Hotline::start_with(closed_today(&prompts, Some(&message)));
    register(&h, "1001", free_udp_port());
    let sink = RtpSink::bind();
    Sipp::new("caller_silent.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612121212")
        .key("rtp_port", &sink.port.to_string())
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success("the engine answers, plays the closed message, hangs up");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Rejected), "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    let closed = find(&ev, |k| matches!(k, EventKind::QueueClosed { .. }))
        .unwrap_or_else(|| panic!("no queue_closed in {:?}", kinds(&ev)));
    assert_eq!(closed.queue.as_ref().map(|q| q.as_str()), Some("general"));
    assert!(
        find(&ev, |k| matches!(k, EventKind::Offered { .. })).is_none(),
        "{:?}",
        kinds(&ev)
    );
    let windows = tone_windows(&sink.pcm(), 8000, 100, TONES);
    let heard = windows.iter().filter(|w| **w == Some(2000.0)).count();
    assert!(
        heard >= 7,
        "closed message heard in {heard} windows: {windows:?}"
    );
}

#[test]
fn without_a_closed_message_a_closed_queue_answers_480() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let h = Hotline::start_with(closed_today(&prompts, None));
    let out = Sipp::new("caller_rejected.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612121213")
        .run();
    out.assert_success("closed: refused");
    assert!(out.logs().contains("final 480"), "{}", out.logs());
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(Outcome::Rejected));
    let ev = events(&h, &cdr.call_id);
    assert!(
        kinds(&ev).contains(&"queue_closed".to_string()),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn the_greeting_of_the_current_period_is_played() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let day = tone_wav(prompts.path(), "day.wav", 1400.0, 1500);
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            r#"
[schedule]
timezone = "Asia/Shanghai"

[[schedule.greetings]]
name = "all-day"
from = "00:00"
to = "24:00"
prompt = "{}"
"#,
            day.display()
        ),
        ..HotlineOptions::default()
    });
    let sink = RtpSink::bind();
    Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612121214")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(1500)
        .run()
        .assert_success("caller listens to the greeting");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let ev = events(&h, &cdr.call_id);
    let started = find(&ev, |k| matches!(k, EventKind::PromptStarted { .. })).unwrap();
    assert_eq!(
        started.kind,
        EventKind::PromptStarted {
            prompt: "all-day".into()
        }
    );
    let pcm = sink.pcm();
    assert_tone(
        "period greeting",
        &pcm[..pcm.len().min(8000)],
        8000,
        1400.0,
        0.7,
    );
}
