//! Actions on a talking call through the API (what the agent's softphone and
//! the console use): hold and resume, pausing the recording (card numbers),
//! the call type set mid-call, an evidence mark during the call, and a blind
//! transfer to the shift leaders' queue; real SIPp caller and agents, the
//! recording read back.

use super::*;

const TOKEN: &str = "test-token";

fn agent_uas(agent: &str, port: u16) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn()
}

fn caller(h: &Hotline, talk_ms: u64) -> SippProcess {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(60))
        .spawn()
}

/// `POST path` with the token; (status, JSON body).
pub(crate) fn post(h: &Hotline, path: &str, body: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (s, b) = http_with(
        &h.http_addr(),
        "POST",
        path,
        &[("Authorization", auth.as_str())],
        body,
    );
    let json = serde_json::from_str(&b).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {b}"));
    (s, json)
}

/// Waits until `agent` talks on a call; returns its JSON.
pub(crate) fn wait_talking(h: &Hotline, agent: &str) -> serde_json::Value {
    let auth = format!("Bearer {TOKEN}");
    let path = format!("/api/agents/{agent}/call");
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(15), || {
        let (s, b) = http_with(
            &h.http_addr(),
            "GET",
            &path,
            &[("Authorization", auth.as_str())],
            "",
        );
        last = b;
        s == 200
    });
    assert!(ok, "{agent} never talked: {last}");
    serde_json::from_str(&last).expect("JSON")
}

/// Power of `freq` over samples `[from, to)` of a channel.
fn power(ch: &[i16], from: usize, to: usize, freq: f64) -> f64 {
    let to = to.min(ch.len());
    goertzel_power(&ch[from.min(to)..to], 8000, freq)
}

#[test]
fn hold_recording_pause_call_type_and_mark_during_a_call() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml:
            "[limits]\norder_s = 2\ninquiry_s = 600\nwarning_fraction = 0.5\nagent_tone = true\n"
                .into(),
        ..HotlineOptions::default()
    });
    let port = free_udp_port();
    register(&h, "1001", port);
    let phone = agent_uas("1001", port);
    let call = caller(&h, 9000);
    let talking = wait_talking(&h, "1001");
    assert_eq!(talking["agent"], "1001", "{talking}");
    assert_eq!(talking["caller"], "0612345678", "{talking}");
    assert_eq!(talking["held"], false);
    let call_id = talking["call_id"].as_str().expect("call_id").to_string();

    // nothing to resume yet; a wrong type, a body that is not JSON, an
    // unknown action: clear 4xx, the call goes on
    assert_eq!(post(&h, "/api/agents/1001/call/resume", "").0, 409);
    assert_eq!(post(&h, "/api/agents/1001/call/record_resume", "").0, 409);
    let (s, b) = post(&h, "/api/agents/1001/call/type", r#"{"type":"pizza"}"#);
    assert_eq!(s, 400, "{b}");
    assert_eq!(post(&h, "/api/agents/1001/call/type", "{not json").0, 400);
    assert_eq!(
        post(&h, "/api/agents/1001/call/type", r#"{"colour":1}"#).0,
        400
    );
    let (s, b) = post(&h, "/api/agents/1001/call/explode", "");
    assert_eq!(s, 404, "{b}");
    assert!(b["error"].as_str().unwrap_or("").contains("hold"), "{b}");
    assert_eq!(
        post(&h, "/api/agents/1002/call/hold", "").0,
        404,
        "1002 is on no call"
    );
    assert_eq!(post(&h, "/api/agents/nobody/call/hold", "").0, 404);
    assert_eq!(post(&h, "/api/calls/..%2F..%2Fetc/hold", "").0, 404);
    assert_eq!(post(&h, "/api/calls/c-000-unknown/hold", "").0, 404);
    let (s, _) = http_with(
        &h.http_addr(),
        "POST",
        "/api/agents/1001/call/hold",
        &[],
        "",
    );
    assert_eq!(s, 401, "no token");
    let (s, b) = post(&h, "/api/agents/1001/call/transfer", r#"{"to":"nowhere"}"#);
    assert_eq!(s, 409, "{b}");
    let (s, b) = post(&h, "/api/agents/1001/call/transfer", "");
    assert_eq!(s, 409, "no transfer queue configured: {b}");

    // the card number: recording paused for about 1.5 s
    std::thread::sleep(Duration::from_millis(1000));
    let (s, b) = post(&h, "/api/agents/1001/call/record_pause", "");
    assert_eq!(
        (s, &b["recording_paused"]),
        (200, &serde_json::json!(true)),
        "{b}"
    );
    assert_eq!(post(&h, "/api/agents/1001/call/record_pause", "").0, 409);
    std::thread::sleep(Duration::from_millis(1500));
    let (s, b) = post(&h, &format!("/api/calls/{call_id}/record_resume"), "");
    assert_eq!(
        (s, &b["recording_paused"]),
        (200, &serde_json::json!(false)),
        "{b}"
    );

    // hold for about 1.5 s
    std::thread::sleep(Duration::from_millis(800));
    let (s, b) = post(&h, "/api/agents/1001/call/hold", r#"{"by":"1001"}"#);
    assert_eq!((s, &b["held"]), (200, &serde_json::json!(true)), "{b}");
    assert_eq!(
        post(&h, "/api/agents/1001/call/hold", "").0,
        409,
        "already on hold"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let (s, b) = post(&h, "/api/agents/1001/call/resume", "");
    assert_eq!((s, &b["held"]), (200, &serde_json::json!(false)), "{b}");

    // the agent sets the disposition: an order, whose 2 s limit is long past
    let (s, b) = post(&h, "/api/agents/1001/call/type", r#"{"type":"order"}"#);
    assert_eq!(
        (s, &b["call_type"]),
        (200, &serde_json::json!("order")),
        "{b}"
    );
    // and marks the call as abusive while it runs
    let (s, b) = post(
        &h,
        "/api/agents/1001/call/mark",
        r#"{"kind":"abuse","note":"threatened the agent"}"#,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        post(&h, "/api/agents/1001/call/mark", r#"{"kind":"fun"}"#).0,
        400
    );

    call.wait().assert_success("caller");
    phone.wait().assert_success("agent phone");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.call_id.as_str(), call_id);
    assert_eq!(cdr.call_type, hotline_core::CallType::Order);
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("recording_paused") < pos("recording_resumed"), "{k:?}");
    assert!(pos("recording_resumed") < pos("held"), "{k:?}");
    assert!(pos("held") < pos("resumed"), "{k:?}");
    assert!(pos("resumed") < pos("call_type_set"), "{k:?}");
    assert!(pos("call_type_set") < pos("limit_warning"), "{k:?}");
    assert!(pos("limit_warning") < pos("limit_exceeded"), "{k:?}");
    assert!(pos("limit_exceeded") < pos("completed"), "{k:?}");
    let set = find(&ev, |k| matches!(k, EventKind::CallTypeSet { .. })).expect("type set");
    let exceeded = find(&ev, |k| matches!(k, EventKind::LimitExceeded { .. })).expect("exceeded");
    assert!(
        exceeded.at_ms - set.at_ms < 1000,
        "a limit already past fires at once"
    );
    let held_ms = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Resumed { held_ms, by } => Some((*held_ms, by.clone())),
            _ => None,
        })
        .expect("resumed");
    assert!((1300..4000).contains(&held_ms.0), "{held_ms:?}");
    let held_by = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Held { by } => Some(by.clone()),
            _ => None,
        })
        .expect("held");
    assert_eq!(held_by, "api:1001");

    // the recording: the paused span is digital silence on both channels
    // and listed in the signed manifest; on hold the agent is not recorded
    // while the caller still is
    let wav_path = h
        .recordings_dir()
        .join(cdr.recording_path.as_deref().expect("recorded"));
    let stem = wav_path.file_stem().unwrap().to_str().unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(wav_path.with_file_name(format!("{stem}.manifest.json"))).expect("manifest"),
    )
    .expect("manifest JSON");
    let pauses = manifest["pauses"].as_array().expect("pauses");
    assert_eq!(pauses.len(), 1, "{manifest}");
    let (p0, p1) = (
        pauses[0]["start_sample"].as_u64().unwrap() as usize,
        pauses[0]["end_sample"].as_u64().unwrap() as usize,
    );
    assert!((10_000..24_000).contains(&(p1 - p0)), "paused {p0}..{p1}");
    let wav = Wav::read(&wav_path);
    let (left, right) = (wav.channel(0), wav.channel(1));
    // 100 ms margins: packets in flight when the pause starts and ends
    let (in0, in1) = (p0 + 800, p1 - 800);
    assert!(
        left[in0..in1].iter().all(|s| *s == 0),
        "caller silent while paused"
    );
    assert!(
        right[in0..in1].iter().all(|s| *s == 0),
        "agent silent while paused"
    );
    assert!(
        power(&left, p1 + 800, p1 + 4800, CALLER_TONE_HZ) > 1e-3,
        "caller after the pause"
    );
    assert!(
        power(&right, p1 + 800, p1 + 4800, AGENT_TONE_HZ) > 1e-3,
        "agent after the pause"
    );
    let start_ms = manifest["start_ms"].as_i64().expect("start_ms");
    let at = |e: &CallEvent| ((e.at_ms - start_ms).max(0) * 8) as usize;
    let held = find(&ev, |k| matches!(k, EventKind::Held { .. })).expect("held");
    let resumed = find(&ev, |k| matches!(k, EventKind::Resumed { .. })).expect("resumed");
    let (h0, h1) = (at(held) + 1600, at(resumed).saturating_sub(1600));
    assert!(h1 > h0 + 4000, "hold {h0}..{h1}");
    assert!(
        power(&right, h0, h1, AGENT_TONE_HZ) < 1e-6,
        "the agent on hold is not recorded"
    );
    assert!(
        power(&left, h0, h1, CALLER_TONE_HZ) > 1e-3,
        "the caller on hold is recorded"
    );
    let verify = recordings_verify(&h, &call_id);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // the mark is a legal hold, written by the API user, in the audit log
    let marks = read_db(&h, async |s: &Store| {
        s.marks(&call_id).await.expect("marks")
    });
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].by, "api:agent:1001");
    let audit = read_db(&h, async |s: &Store| {
        s.audit(Some(&call_id)).await.expect("audit")
    });
    assert!(audit.iter().any(|a| a.action == "mark"), "{audit:?}");

    // hold time in the live figures
    let (_, stats) = http(&h.http_addr(), "GET", "/api/stats");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    let hold = stats["since_start"]["center"]["avg_hold_ms"]
        .as_f64()
        .expect("avg_hold_ms");
    assert!((1300.0..4000.0).contains(&hold), "{hold}");
    // and the distributions on /metrics: one wait, one handle time (9 s)
    let (_, text) = http(&h.http_addr(), "GET", "/metrics");
    for line in [
        "hotline_wait_seconds_count 1",
        "hotline_wait_seconds_bucket{le=\"3\"} 1",
        "hotline_handle_seconds_count 1",
        "hotline_handle_seconds_bucket{le=\"30\"} 1",
        "hotline_calls_transferred_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
}

fn recordings_verify(h: &Hotline, id: &str) -> std::process::Output {
    std::process::Command::new(Hotline::binary())
        .current_dir(h.dir.path())
        .args([
            "recordings",
            "--config",
            h.config_path.to_str().unwrap(),
            "--data",
            h.data_dir.to_str().unwrap(),
            "verify",
            id,
        ])
        .output()
        .expect("run hotline recordings verify")
}

#[test]
fn a_transfer_passes_the_caller_to_the_shift_leaders() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[[queues]]\nid = \"general\"\nmembers = [\"1001\"]\n\n\
                     [[queues]]\nid = \"leaders\"\nmembers = [\"1002\"]\n"
            .into(),
        acd_toml: "transfer_queue = \"leaders\"".into(),
        ..HotlineOptions::default()
    });
    let (p1, p2) = (free_udp_port(), free_udp_port());
    register(&h, "1001", p1);
    register(&h, "1002", p2);
    let first = agent_uas("1001", p1);
    let leader = agent_uas("1002", p2);
    let call = caller(&h, 7000);
    let talking = wait_talking(&h, "1001");
    let call_id = talking["call_id"].as_str().expect("call_id").to_string();
    std::thread::sleep(Duration::from_millis(1000));
    // no target named: acd.transfer_queue, the shift leaders
    let (s, b) = post(&h, "/api/agents/1001/call/transfer", "");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["agent"], serde_json::Value::Null, "{b}");
    assert_eq!(b["queue"], "leaders", "{b}");
    // the first agent is let go at once (their phone gets BYE)
    first
        .wait()
        .assert_success("first agent hung up by the transfer");
    let again = wait_talking(&h, "1002");
    assert_eq!(again["call_id"], call_id.as_str(), "{again}");
    assert_eq!(again["queue"], "leaders");
    call.wait().assert_success("caller");
    leader.wait().assert_success("leader phone");

    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.call_id.as_str(), call_id);
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Answered));
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let t = find(&ev, |k| matches!(k, EventKind::Transferred { .. })).expect("transferred");
    assert_eq!(t.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    match &t.kind {
        EventKind::Transferred { to, talk_ms, by } => {
            assert_eq!(to.as_str(), "leaders");
            assert!((800..5000).contains(talk_ms), "{talk_ms}");
            assert_eq!(by, "api:agent:1001");
        }
        other => panic!("{other:?}"),
    }
    let answers: Vec<&str> = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::AgentAnswered { .. }))
        .filter_map(|e| e.agent.as_ref().map(|a| a.as_str()))
        .collect();
    assert_eq!(answers, ["1001", "1002"], "{k:?}");
    // one recording for the whole call: the caller throughout
    let recs: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RecordingOpened { .. }))
        .collect();
    assert_eq!(recs.len(), 1, "{k:?}");
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().unwrap()),
    );
    assert!(
        (wav.duration().as_secs_f64() - 7.0).abs() < 1.5,
        "{:?}",
        wav.duration()
    );
    assert_tone(
        "caller throughout",
        &wav.channel(0),
        8000,
        CALLER_TONE_HZ,
        0.8,
    );
    // the figures: one answered call, transferred once; both agents talked
    let (_, stats) = http(&h.http_addr(), "GET", "/api/stats");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    let c = &stats["since_start"]["center"];
    assert_eq!(
        (c["answered"].as_u64(), c["transferred"].as_u64()),
        (Some(1), Some(1)),
        "{c}"
    );
    assert_eq!(c["transfer_rate"].as_f64(), Some(1.0));
    let a = &stats["since_start"]["agents"];
    assert_eq!(a["1001"]["transferred"].as_u64(), Some(1), "{a}");
    assert!(a["1002"]["talk_ms"].as_i64().unwrap_or(0) > 2000, "{a}");
    let (_, text) = http(&h.http_addr(), "GET", "/metrics");
    assert!(
        text.lines()
            .any(|l| l == "hotline_calls_transferred_total 1"),
        "{text}"
    );
}

#[test]
fn with_recording_off_a_call_is_recorded_from_when_the_agent_asks() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        record: false,
        ..HotlineOptions::default()
    });
    let port = free_udp_port();
    register(&h, "1001", port);
    let phone = agent_uas("1001", port);
    let call = caller(&h, 5000);
    let talking = wait_talking(&h, "1001");
    assert_eq!(talking["recorded"], false, "{talking}");
    // nothing to pause in a call that is not recorded
    assert_eq!(post(&h, "/api/agents/1001/call/record_pause", "").0, 409);
    std::thread::sleep(Duration::from_millis(1500));
    let (s, b) = post(&h, "/api/agents/1001/call/record_start", "");
    assert_eq!((s, &b["recorded"]), (200, &serde_json::json!(true)), "{b}");
    assert_eq!(
        post(&h, "/api/agents/1001/call/record_start", "").0,
        409,
        "already"
    );
    call.wait().assert_success("caller");
    phone.wait().assert_success("agent");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let wav_path = h
        .recordings_dir()
        .join(cdr.recording_path.as_deref().expect("recorded on request"));
    let wav = Wav::read(&wav_path);
    let secs = wav.duration().as_secs_f64();
    assert!(
        (1.5..4.6).contains(&secs),
        "recorded from the request on: {secs:.2} s of a 5 s call"
    );
    assert_tone("caller", &wav.channel(0), 8000, CALLER_TONE_HZ, 0.8);
    assert_tone("agent", &wav.channel(1), 8000, AGENT_TONE_HZ, 0.8);
    let id = cdr.call_id.as_str().to_string();
    let verify = recordings_verify(&h, &id);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn the_queue_part_is_recorded_and_played_into_the_callers_next_call() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        hotline_toml: "record_queue = true".into(),
        ..HotlineOptions::default()
    });
    // nobody staffed: the engine answers at the end of the third ring and
    // the caller waits (and talks) in the queue, then hangs up; meanwhile
    // the wallboard's /api/queues shows them waiting
    let first_call = caller(&h, 3000);
    let mut seen = serde_json::Value::Null;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let (s, b) = http(&h.http_addr(), "GET", "/api/queues");
            seen = serde_json::from_str(&b).unwrap_or_default();
            s == 200 && seen[0]["waiting"].as_array().is_some_and(|w| w.len() == 1)
        }),
        "{seen}"
    );
    assert_eq!(seen[0]["queue"], "general", "{seen}");
    assert_eq!(seen[0]["open"], true);
    assert_eq!(seen[0]["staffed"], 0);
    assert_eq!(seen[0]["waiting"][0]["position"], 1);
    first_call
        .wait()
        .assert_success("first call, abandoned in the queue");
    let mut after = serde_json::Value::Null;
    assert!(
        wait_until(Duration::from_secs(5), || {
            let (_, b) = http(&h.http_addr(), "GET", "/api/queues");
            after = serde_json::from_str(&b).unwrap_or_default();
            after[0]["waiting"] == serde_json::json!([])
        }),
        "the caller left: {after}"
    );
    assert_eq!(after[0]["longest_wait_ms"], 0);
    let first = wait_cdrs(&h, 1).remove(0);
    assert_eq!(first.outcome, Some(hotline_core::Outcome::Abandoned));
    let rel = first
        .recording_path
        .clone()
        .expect("the queue part is recorded");
    let ev = events(&h, &first.call_id);
    assert!(
        wait_until(Duration::from_secs(10), || events(&h, &first.call_id)
            .iter()
            .any(|e| matches!(e.kind, EventKind::RecordingClosed { .. }))),
        "{:?}",
        kinds(&ev)
    );
    let wav = Wav::read(&h.recordings_dir().join(&rel));
    let secs = wav.duration().as_secs_f64();
    assert!((2.0..4.0).contains(&secs), "{secs:.2} s in the queue");
    assert_tone(
        "caller in the queue",
        &wav.channel(0),
        8000,
        CALLER_TONE_HZ,
        0.8,
    );
    assert!(
        rms(&wav.channel(1)) < 1e-3,
        "no agent yet: the agent channel is silent"
    );
    let first_id = first.call_id.as_str().to_string();
    let verify = recordings_verify(&h, &first_id);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // the same caller calls again and reaches an agent, who plays the
    // earlier recording into the call
    let port = free_udp_port();
    register(&h, "1001", port);
    let phone = agent_uas("1001", port);
    let call = caller(&h, 6000);
    let talking = wait_talking(&h, "1001");
    let second_id = talking["call_id"].as_str().expect("call id").to_string();
    let (s, b) = post(
        &h,
        "/api/agents/1001/call/play",
        r#"{"recording":"../../etc/passwd"}"#,
    );
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        post(&h, "/api/agents/1001/call/play", "").0,
        400,
        "which recording?"
    );
    let (s, b) = post(
        &h,
        "/api/agents/1001/call/play",
        r#"{"recording":"c-no-such-call"}"#,
    );
    assert_eq!(s, 404, "{b}");
    let body = format!(r#"{{"recording":"{first_id}"}}"#);
    let (s, b) = post(&h, "/api/agents/1001/call/play", &body);
    assert_eq!(s, 200, "{b}");
    call.wait().assert_success("second call");
    phone.wait().assert_success("agent");
    let second = wait_cdrs(&h, 2)
        .into_iter()
        .find(|c| c.call_id.as_str() == second_id)
        .expect("second CDR");
    let ev = events(&h, &second.call_id);
    let played = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PlayedIntoCall {
                recording,
                duration_ms,
                by,
            } => Some((recording.clone(), *duration_ms, by.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("played_into_call in {:?}", kinds(&ev)));
    assert_eq!(played.0, first_id);
    assert!((2000..4000).contains(&played.1), "{played:?}");
    assert_eq!(played.2, "api:agent:1001");
    // audited against the recording played, before anyone heard it
    let audit = read_db(&h, async |s: &Store| {
        s.audit(Some(&first_id)).await.expect("audit")
    });
    assert!(
        audit
            .iter()
            .any(|a| a.action == "play_into_call" && a.reason.contains(&second_id)),
        "{audit:?}"
    );
}

/// A desk phone's own keys: HOLD and RESUME (re-INVITEs with sendonly and
/// sendrecv, answered recvonly/sendrecv) and TRANSFER (REFER to a queue).
#[test]
fn a_desk_phone_holds_resumes_and_transfers_with_its_own_keys() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[[queues]]\nid = \"general\"\nmembers = [\"1001\"]\n\n\
                     [[queues]]\nid = \"leaders\"\nmembers = [\"1002\"]\n"
            .into(),
        ..HotlineOptions::default()
    });
    let (p1, p2) = (free_udp_port(), free_udp_port());
    register(&h, "1001", p1);
    register(&h, "1002", p2);
    let desk = Sipp::new("agent_hold_refer.xml")
        .port(p1)
        .key("agent", "1001")
        .service("leaders")
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let leader = agent_uas("1002", p2);
    let call = caller(&h, 9000);
    desk.wait()
        .assert_success("hold answered recvonly, resume sendrecv, REFER 202 then BYE");
    call.wait().assert_success("caller");
    leader.wait().assert_success("the leader took the call");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    let pos = |name: &str| position_of(&k, name);
    assert!(pos("held") < pos("resumed"), "{k:?}");
    assert!(pos("resumed") < pos("transferred"), "{k:?}");
    let by: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Held { by } | EventKind::Resumed { by, .. } => Some(by.clone()),
            EventKind::Transferred { to, by, .. } => Some(format!("{by}->{to}")),
            _ => None,
        })
        .collect();
    assert_eq!(by, ["phone", "phone", "phone->leaders"], "{k:?}");
}
