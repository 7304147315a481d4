//! Live monitoring end to end (issue 17): a baresip caller sends tone A, a
//! baresip agent tone B, a baresip supervisor tone C. The console's request
//! rings the supervisor's phone and joins it; in listen the supervisor hears
//! A and B and nobody hears C; in whisper the agent hears C and the caller
//! never does; in barge everyone hears everyone. The recording keeps A left
//! and B right only. A supervisor's desk phone joins by `*70` + agent, a
//! phone without the supervisor role is refused, and the supervisor hanging
//! up ends only the monitoring. Events and audit entries read back.

use super::*;
use std::time::Instant;

const TOKEN: &str = "test-token";
/// Caller, agent and supervisor tones (Hz).
const A: f64 = 500.0;
const B: f64 = 1100.0;
const C: f64 = 1900.0;

fn options() -> HotlineOptions {
    HotlineOptions {
        extra_toml: "[monitor]\nsupervisors = [\"1004\"]\n".into(),
        ..HotlineOptions::default()
    }
}

fn api(h: &Hotline, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (s, b) = http_with(
        &h.http_addr(),
        method,
        path,
        &[("Authorization", auth.as_str())],
        body,
    );
    (
        s,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

/// Amplitude of `freq` relative to the window's RMS: about 1.4 for a lone
/// tone, 1.0 for each of two equal tones, near 0 when absent.
fn share(samples: &[i16], freq: f64) -> f64 {
    let r = rms(samples);
    if r < 1e-4 {
        return 0.0;
    }
    2.0 * goertzel_power(samples, 8000, freq).sqrt() / r
}

/// Audio received by a party between two wall-clock instants, given when
/// its call (and so its dump) started.
fn window(dec: &[i16], started: Instant, from: Instant, to: Instant) -> Vec<i16> {
    let at = |t: Instant| (t.saturating_duration_since(started).as_secs_f64() * 8000.0) as usize;
    let (a, b) = (at(from).min(dec.len()), at(to).min(dec.len()));
    dec[a..b].to_vec()
}

fn check(who: &str, phase: &str, samples: &[i16], expect: [bool; 3]) {
    assert!(
        samples.len() >= 8000,
        "{phase}: {who} received only {} samples",
        samples.len()
    );
    let levels = [share(samples, A), share(samples, B), share(samples, C)];
    for ((name, l), want) in ["A", "B", "C"].iter().zip(levels).zip(expect) {
        if want {
            assert!(l > 0.4, "{phase}: {who} should hear {name} ({levels:?})");
        } else {
            assert!(l < 0.12, "{phase}: {who} must not hear {name} ({levels:?})");
        }
    }
}

fn established_at(phone: &Baresip) -> Instant {
    assert!(
        phone.wait_established(Duration::from_secs(15)),
        "{}",
        phone.report()
    );
    Instant::now()
}

#[test]
fn listen_whisper_barge_by_tones_and_the_recording_keeps_a_and_b() {
    need_peers();
    let h = Hotline::start_with(options());
    let agent = Baresip::agent(&h.addr(), "1001", "demo1001", AudioSource::Sine(B as u32));
    assert!(
        agent.wait_registered(Duration::from_secs(10)),
        "{}",
        agent.report()
    );
    // the caller talks for 22 s, then hangs up
    let mut caller = Baresip::configure(
        AudioSource::Sine(A as u32),
        "<sip:0612345678@127.0.0.1>;regint=0",
    );
    caller.start(&[
        "-e".into(),
        format!("/dial {}", h.uri("hotline")),
        "-t".into(),
        "28".into(),
    ]);
    let caller_t0 = established_at(&caller);
    let agent_t0 = established_at(&agent);
    let call = super::call_control::wait_talking(&h, "1001");
    let call_id = call["call_id"].as_str().expect("call id").to_string();
    // only now the supervisor's phone registers (the ACD never offers it the call)
    let sup = Baresip::agent(&h.addr(), "1004", "demo1004", AudioSource::Sine(C as u32));
    assert!(
        sup.wait_registered(Duration::from_secs(10)),
        "{}",
        sup.report()
    );

    // refusals first: not a supervisor's phone (403), junk, no such call
    let (s, b) = api(
        &h,
        "POST",
        "/api/monitor",
        r#"{"agent":"1001","phone":"1002"}"#,
    );
    assert_eq!(s, 403, "{b}");
    for body in [
        r#"{"agent":"1001","phone":"1004","mode":"spy"}"#,
        r#"{"agent":"1001"}"#,
        r#"{"phone":"1004"}"#,
        r#"{"agent":"1001","call":"x","phone":"1004"}"#,
        r#"{"agent":"1001","phone":"1004","extra":1}"#,
        "not json",
    ] {
        let (s, b) = api(&h, "POST", "/api/monitor", body);
        assert_eq!(s, 400, "{body}: {b}");
        assert!(b["error"].is_string(), "{body}: {b}");
    }
    let (s, _) = api(&h, "DELETE", "/api/monitor/nosuchcall", "");
    assert_eq!(s, 404);
    let (s, _) = api(
        &h,
        "POST",
        &format!("/api/monitor/{call_id}"),
        r#"{"mode":"barge"}"#,
    );
    assert_eq!(s, 409, "not monitored yet");
    let (s, _) = http(&h.http_addr(), "POST", "/api/monitor");
    assert!(s == 401 || s == 403, "{s}");

    // listen: the engine rings 1004, which answers by itself
    let (s, b) = api(
        &h,
        "POST",
        "/api/monitor",
        r#"{"agent":"1001","phone":"1004","mode":"listen"}"#,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["monitored_by"], "1004");
    let sup_t0 = established_at(&sup);
    let listen_from = Instant::now() + Duration::from_millis(1500);
    std::thread::sleep(Duration::from_millis(5000));
    let listen_to = Instant::now();
    let (s, b) = api(
        &h,
        "POST",
        "/api/monitor",
        r#"{"agent":"1001","phone":"1004"}"#,
    );
    assert_eq!(s, 409, "already monitored: {b}");

    let (s, b) = api(
        &h,
        "POST",
        &format!("/api/monitor/{call_id}"),
        r#"{"mode":"whisper"}"#,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["monitor_mode"], "whisper");
    let whisper_from = Instant::now() + Duration::from_millis(1000);
    std::thread::sleep(Duration::from_millis(4500));
    let whisper_to = Instant::now();

    let (s, b) = api(
        &h,
        "POST",
        &format!("/api/monitor/{call_id}"),
        r#"{"mode":"barge"}"#,
    );
    assert_eq!(s, 200, "{b}");
    let barge_from = Instant::now() + Duration::from_millis(1000);
    std::thread::sleep(Duration::from_millis(4500));
    let barge_to = Instant::now();

    // stop: the supervisor's phone is hung up, the call goes on
    let (s, b) = api(&h, "DELETE", &format!("/api/monitor/{call_id}"), "");
    assert_eq!(s, 200, "{b}");
    assert!(b["monitored_by"].is_null(), "{b}");
    assert!(
        sup.wait_call_ended(Duration::from_secs(5)),
        "{}",
        sup.report()
    );
    let after_from = Instant::now() + Duration::from_millis(1000);
    std::thread::sleep(Duration::from_millis(2500));
    let after_to = Instant::now();

    caller.wait(Duration::from_secs(30));
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert!(
        agent.wait_call_ended(Duration::from_secs(5)),
        "{}",
        agent.report()
    );
    let mut agent = agent;
    let mut sup = sup;
    agent.stop();
    sup.stop();

    let (_, caller_dec) = caller.last_dump();
    let (_, agent_dec) = agent.last_dump();
    let (_, sup_dec) = sup.last_dump();
    let (c, a, s) = (&caller_dec.samples, &agent_dec.samples, &sup_dec.samples);
    check(
        "supervisor",
        "listen",
        &window(s, sup_t0, listen_from, listen_to),
        [true, true, false],
    );
    check(
        "caller",
        "listen",
        &window(c, caller_t0, listen_from, listen_to),
        [false, true, false],
    );
    check(
        "agent",
        "listen",
        &window(a, agent_t0, listen_from, listen_to),
        [true, false, false],
    );
    check(
        "supervisor",
        "whisper",
        &window(s, sup_t0, whisper_from, whisper_to),
        [true, true, false],
    );
    check(
        "caller",
        "whisper",
        &window(c, caller_t0, whisper_from, whisper_to),
        [false, true, false],
    );
    check(
        "agent",
        "whisper",
        &window(a, agent_t0, whisper_from, whisper_to),
        [true, false, true],
    );
    check(
        "supervisor",
        "barge",
        &window(s, sup_t0, barge_from, barge_to),
        [true, true, false],
    );
    check(
        "caller",
        "barge",
        &window(c, caller_t0, barge_from, barge_to),
        [false, true, true],
    );
    check(
        "agent",
        "barge",
        &window(a, agent_t0, barge_from, barge_to),
        [true, false, true],
    );
    check(
        "caller",
        "after stop",
        &window(c, caller_t0, after_from, after_to),
        [false, true, false],
    );
    check(
        "agent",
        "after stop",
        &window(a, agent_t0, after_from, after_to),
        [true, false, false],
    );

    // the recording: A left, B right, never C
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().expect("recorded")),
    );
    let (left, right) = (wav.channel(0), wav.channel(1));
    let skip = 8000 * 3; // the greeting / answer settle
    check(
        "recording left",
        "whole call",
        &left[skip..left.len() - 8000],
        [true, false, false],
    );
    check(
        "recording right",
        "whole call",
        &right[skip..right.len() - 8000],
        [false, true, false],
    );

    // the call's events mark the whisper and the barge; the audit has the session
    let ev = events(&h, &CallId::from_stored(&call_id));
    let k = kinds(&ev);
    let pos = |name: &str| {
        k.iter()
            .position(|x| x == name)
            .unwrap_or_else(|| panic!("{name} in {k:?}"))
    };
    assert!(pos("agent_answered") < pos("monitor_started"));
    assert!(pos("monitor_started") < pos("monitor_mode_changed"));
    assert!(pos("monitor_stopped") < pos("completed"), "{k:?}");
    let modes: Vec<String> =
        ev.iter()
            .filter_map(|e| match &e.kind {
                EventKind::MonitorStarted { mode, .. }
                | EventKind::MonitorModeChanged { mode, .. } => Some(mode.to_string()),
                _ => None,
            })
            .collect();
    assert_eq!(modes, ["listen", "whisper", "barge"]);
    let stopped = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::MonitorStopped {
                duration_ms,
                reason,
                ..
            } => Some((*duration_ms, reason.clone())),
            _ => None,
        })
        .expect("monitor_stopped");
    assert!((13_000..20_000).contains(&stopped.0), "{stopped:?}");
    assert_eq!(stopped.1, "stopped by api:api");
    let audit = read_db(&h, async |s| s.audit(Some(&call_id)).await.expect("audit"));
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "monitor_start",
            "monitor_mode",
            "monitor_mode",
            "monitor_stop"
        ],
        "{audit:#?}"
    );
    assert!(audit[0].who.contains("phone:1004") && audit[0].who.contains("api:api"));
    assert!(audit[3].reason.contains("after 1"), "{:?}", audit[3]);
}

#[test]
fn a_desk_phone_joins_by_feature_code_and_hanging_up_ends_only_the_monitoring() {
    need_peers();
    let h = Hotline::start_with(options());
    let agent = Baresip::agent(&h.addr(), "1001", "demo1001", AudioSource::Sine(B as u32));
    assert!(
        agent.wait_registered(Duration::from_secs(10)),
        "{}",
        agent.report()
    );
    let mut caller = Baresip::configure(
        AudioSource::Sine(A as u32),
        "<sip:0612345678@127.0.0.1>;regint=0",
    );
    caller.start(&[
        "-e".into(),
        format!("/dial {}", h.uri("hotline")),
        "-t".into(),
        "14".into(),
    ]);
    let call = super::call_control::wait_talking(&h, "1001");
    let call_id = call["call_id"].as_str().unwrap().to_string();

    // 1002 is no supervisor: its *70 is refused with 403
    let mut not_sup = Baresip::configure(
        AudioSource::Sine(C as u32),
        &format!("<sip:1002@{}>;auth_pass=demo1002;regint=0", h.addr()),
    );
    not_sup.start(&[
        "-e".into(),
        format!("/dial {}", h.uri("*701001")),
        "-t".into(),
        "4".into(),
    ]);
    not_sup.wait(Duration::from_secs(15));
    assert!(not_sup.stdout().contains("403"), "{}", not_sup.report());

    // 1004 dials *72 + 1001 (barge): its own call is the monitor leg
    let started = Instant::now();
    let mut sup = Baresip::configure(
        AudioSource::Sine(C as u32),
        &format!("<sip:1004@{}>;auth_pass=demo1004;regint=0", h.addr()),
    );
    sup.start(&[
        "-e".into(),
        format!("/dial {}", h.uri("*721001")),
        "-t".into(),
        "5".into(),
    ]);
    let sup_t0 = established_at(&sup);
    sup.wait(Duration::from_secs(15));
    let sup_left = Instant::now();
    // the call goes on after the supervisor left
    std::thread::sleep(Duration::from_millis(1500));
    let r = super::call_control::wait_talking(&h, "1001");
    assert_eq!(r["call_id"], call_id.as_str());
    assert!(r["monitored_by"].is_null(), "{r}");
    caller.wait(Duration::from_secs(30));
    wait_cdrs(&h, 1);

    // the supervisor heard both; the caller heard the supervisor (barge)
    let (_, sup_dec) = sup.last_dump();
    let s = window(
        &sup_dec.samples,
        sup_t0,
        sup_t0 + Duration::from_millis(1500),
        sup_left - Duration::from_millis(500),
    );
    check("desk-phone supervisor", "barge", &s, [true, true, false]);
    let ev = events(&h, &CallId::from_stored(&call_id));
    let started_ev = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::MonitorStarted {
                supervisor,
                mode,
                by,
            } => Some((supervisor.clone(), mode.to_string(), by.clone())),
            _ => None,
        })
        .expect("monitor_started");
    assert_eq!(
        started_ev,
        ("1004".into(), "barge".into(), "phone:1004".into())
    );
    let reason = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::MonitorStopped {
                reason,
                duration_ms,
                ..
            } => Some((reason.clone(), *duration_ms)),
            _ => None,
        })
        .expect("monitor_stopped");
    assert_eq!(reason.0, "supervisor hung up");
    assert!(
        reason.1 >= 3_000 && reason.1 <= (sup_left - started).as_millis() as i64 + 1000,
        "{reason:?}"
    );
    let k = kinds(&ev);
    let stop = k.iter().position(|x| x == "monitor_stopped").unwrap();
    let done = k.iter().position(|x| x == "completed").unwrap();
    assert!(
        stop < done,
        "the call ended after the supervisor left: {k:?}"
    );
    let refused = all_events(&h).into_iter().any(|e| {
        matches!(&e.kind, EventKind::AgentRequestRefused { request, .. } if request == "monitor_listen")
            && e.agent.as_ref().map(|a| a.as_str()) == Some("1002")
    });
    assert!(refused, "the refused *70 of 1002 is an event");
}

#[test]
fn a_supervisor_listens_then_whispers_then_stops_from_the_wallboard_in_chromium() {
    need_peers();
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    let h = Hotline::start_with(options());
    let web = h.http_addr();
    super::console::add_user(&h, "lead", "supervisor", "correct horse");
    let agent = Baresip::agent(&h.addr(), "1001", "demo1001", AudioSource::Sine(B as u32));
    assert!(
        agent.wait_registered(Duration::from_secs(10)),
        "{}",
        agent.report()
    );
    let mut caller = Baresip::configure(
        AudioSource::Sine(A as u32),
        "<sip:0612345678@127.0.0.1>;regint=0",
    );
    caller.start(&[
        "-e".into(),
        format!("/dial {}", h.uri("hotline")),
        "-t".into(),
        "40".into(),
    ]);
    let call = super::call_control::wait_talking(&h, "1001");
    let call_id = call["call_id"].as_str().unwrap().to_string();
    let sup = Baresip::agent(&h.addr(), "1004", "demo1004", AudioSource::Sine(C as u32));
    assert!(
        sup.wait_registered(Duration::from_secs(10)),
        "{}",
        sup.report()
    );

    let b = super::console::Browser::start("en");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "document.getElementById('login-view') && !document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", "lead");
    b.type_in("#login-password", "correct horse");
    b.click("#login-submit");
    let listen = "tr.live-call button[data-mode='listen']";
    assert!(
        b.wait_js(
            &format!("document.querySelector(\"{listen}\")"),
            Duration::from_secs(15)
        ),
        "the talking call has monitor buttons\n{}",
        h.report()
    );
    b.type_in("#monitor-phone", "1004");
    // the wallboard redraws its rows every second: click from inside the page
    let click = |sel: &str| {
        b.js(&format!("document.querySelector(\"{sel}\").click()"));
    };
    click(listen);
    assert!(
        sup.wait_established(Duration::from_secs(10)),
        "{}",
        sup.report()
    );
    let has = |name: &str| {
        let name = name.to_string();
        let call = CallId::from_stored(&call_id);
        wait_until(Duration::from_secs(10), || {
            kinds(&events(&h, &call)).contains(&name)
        })
    };
    assert!(has("monitor_started"), "{}", h.report());
    // the buttons are drawn again with each render: wait for the active one
    let whisper = "tr.live-call button[data-mode='whisper']";
    assert!(b.wait_js(
        "document.querySelector(\"tr.live-call button.active[data-mode='listen']\")",
        Duration::from_secs(5)
    ));
    click(whisper);
    assert!(has("monitor_mode_changed"), "{}", h.report());
    assert!(b.wait_js(
        "document.querySelector(\"tr.live-call button[data-mode='stop']\")",
        Duration::from_secs(5)
    ));
    click("tr.live-call button[data-mode='stop']");
    // baresip says "terminated" or "session closed" for the engine's BYE
    assert!(
        wait_until(Duration::from_secs(10), || {
            let out = sup.stdout();
            out.contains("terminated (duration") || out.contains("session closed")
        }),
        "{}",
        sup.report()
    );
    assert!(has("monitor_stopped"));
    let ev = events(&h, &CallId::from_stored(&call_id));
    let by: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MonitorStarted { by, mode, .. } => Some(format!("{mode} {by}")),
            EventKind::MonitorModeChanged { by, mode, .. } => Some(format!("{mode} {by}")),
            EventKind::MonitorStopped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        by,
        ["listen api:lead", "whisper api:lead", "stopped by api:lead"]
    );
    // the call is still up after the supervisor left
    let r = super::call_control::wait_talking(&h, "1001");
    assert_eq!(r["call_id"], call_id.as_str());
    drop(b);
    drop(caller);
}
