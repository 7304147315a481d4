//! The call flow: caller → engine → agent, bridged and recorded; the engine's
//! own answer by the third ring; abandon, no-answer, busy, hang-ups, bad SDP.

use super::*;
use sha2::{Digest, Sha256};

fn agent_uas(agent: &str, port: u16, ring_ms: u64) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .duration_ms(ring_ms)
        .timeout(Duration::from_secs(40))
        .spawn()
}

/// Options with a 1 s on / 1 s off cadence: agents answer long before the
/// engine would (end of ring 3 = 5 s).
pub(crate) fn slow_ring() -> HotlineOptions {
    HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        ..HotlineOptions::default()
    }
}

/// Registers 1001 then 1002 (so 1001 is the longest idle and rings first),
/// runs `first` (a SIPp scenario) as 1001's phone and an answering phone as 1002.
fn two_agents(h: &Hotline, first: &str) -> (SippProcess, SippProcess) {
    let (p1, p2) = (free_udp_port(), free_udp_port());
    register(h, "1001", p1);
    std::thread::sleep(Duration::from_millis(50));
    register(h, "1002", p2);
    let phone1 = Sipp::new(first).port(p1).key("agent", "1001").spawn();
    (phone1, agent_uas("1002", p2, 0))
}

/// One call answered at once by agent 1001, the caller talking `hold_ms`.
fn one_answered_call(h: &Hotline, hold_ms: u64) {
    let port = free_udp_port();
    register(h, "1001", port);
    let agent = agent_uas("1001", port, 0);
    caller(h, hold_ms).run().assert_success("answered call");
    agent.wait().assert_success("agent 1001");
}

pub(crate) fn caller(h: &Hotline, hold_ms: u64) -> Sipp {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(hold_ms)
}

/// The end of a call between a SIPp caller and a baresip agent `agent`:
/// one CDR with that agent, the recording checked over the whole talk
/// (caller's tone left, baresip's 440 Hz right), baresip's call ended and
/// what it received the caller's tone (`what` names it). The CDR and the
/// recording's SHA-256.
pub(crate) fn check_baresip_call(
    h: &Hotline,
    phone: &Baresip,
    agent: &str,
    what: &str,
) -> (Cdr, String) {
    let cdr = wait_cdrs(h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some(agent),
        "{cdr:#?}"
    );
    let talk = Duration::from_millis(cdr.talk_ms.expect("talk time") as u64);
    let sha = check_recording(h, &cdr, talk);
    assert!(
        phone.wait_call_ended(Duration::from_secs(5)),
        "{}",
        phone.report()
    );
    let (_sent, received) = phone.last_dump();
    assert_tone(what, &received.samples, 8000, CALLER_TONE_HZ, 0.7);
    (cdr, sha)
}

/// Checks a stereo recording: left = caller's 1000 Hz, right = agent's 440 Hz,
/// about `talk` long; returns its SHA-256.
pub(crate) fn check_recording(h: &Hotline, cdr: &Cdr, talk: Duration) -> String {
    let rel = cdr
        .recording_path
        .as_deref()
        .unwrap_or_else(|| panic!("CDR without recording: {cdr:#?}"));
    let path = h.recordings_dir().join(rel);
    let wav = Wav::read(&path);
    assert_eq!(
        (wav.rate, wav.channels, wav.bits),
        (8000, 2, 16),
        "{}",
        path.display()
    );
    let secs = wav.duration().as_secs_f64();
    assert!(
        (secs - talk.as_secs_f64()).abs() < 1.0,
        "recording lasts {secs:.2} s, the call talked {:.2} s",
        talk.as_secs_f64()
    );
    let left = wav.channel(0);
    let right = wav.channel(1);
    assert_tone("recording left (caller)", &left, 8000, CALLER_TONE_HZ, 0.8);
    assert_tone("recording right (agent)", &right, 8000, AGENT_TONE_HZ, 0.8);
    // no cross-talk: the caller's tone is absent from the agent's channel and vice versa
    assert!(
        goertzel_power(&right, 8000, CALLER_TONE_HZ)
            < goertzel_power(&right, 8000, AGENT_TONE_HZ) / 100.0
    );
    assert!(
        goertzel_power(&left, 8000, AGENT_TONE_HZ)
            < goertzel_power(&left, 8000, CALLER_TONE_HZ) / 100.0
    );
    // the file's path follows recordings/YYYY/MM/DD/<call>.wav
    let parts: Vec<&str> = rel.split('/').collect();
    assert_eq!(parts.len(), 4, "{rel}");
    assert_eq!(parts[3], format!("{}.wav", cdr.call_id.as_str()));
    hex::encode(Sha256::digest(
        std::fs::read(&path).expect("read recording"),
    ))
}

#[test]
fn a_caller_reaches_a_sipp_agent_bridged_and_recorded() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = agent_uas("1001", port, 300);
    let out = caller(&h, 3000).run();
    out.assert_success("caller talks to agent 1001");
    agent.wait().assert_success("agent 1001 answers");
    let ladder = out.ladder();
    for step in [
        "< SIP/2.0 100",
        "< SIP/2.0 180",
        "< SIP/2.0 200",
        "> ACK",
        "> BYE",
        "< SIP/2.0 200",
    ] {
        assert!(ladder.contains(step), "{step} missing\n{ladder}");
    }
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Answered),
        "{cdr:#?}"
    );
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert_eq!(cdr.caller, "0612345678");
    assert_eq!(cdr.ended_by, Some(hotline_core::EndedBy::Caller));
    assert!(
        cdr.system_answered_ms.is_none(),
        "the agent answered within the rings: {cdr:#?}"
    );
    assert_eq!(cdr.rings, Some(1), "{cdr:#?}");
    let talk = Duration::from_millis(cdr.talk_ms.expect("talk time") as u64);
    let sha = check_recording(&h, &cdr, talk);
    assert_eq!(
        cdr.recording_sha256.as_deref(),
        Some(sha.as_str()),
        "CDR hash = file hash"
    );

    let ev = events(&h, &cdr.call_id);
    let k = kinds(&ev);
    for want in [
        "arrived",
        "queued",
        "offered",
        "agent_answered",
        "recording_opened",
        "completed",
        "recording_closed",
    ] {
        assert!(k.iter().any(|x| x == want), "{want} missing from {k:?}");
    }
    let closed =
        find(&ev, |k| matches!(k, EventKind::RecordingClosed { .. })).expect("recording_closed");
    assert!(matches!(&closed.kind, EventKind::RecordingClosed { sha256, .. } if *sha256 == sha));
}

#[test]
fn a_caller_reaches_a_baresip_agent_and_both_voices_are_recorded() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let phone = Baresip::agent(&h.addr(), "1002", "demo1002", AudioSource::Sine(440));
    assert!(
        phone.wait_registered(Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    let out = caller(&h, 3000).run();
    out.assert_success("caller talks to baresip agent 1002");
    let (cdr, sha) =
        check_baresip_call(&h, &phone, "1002", "baresip agent received (caller's tone)");
    assert_eq!(cdr.recording_sha256.as_deref(), Some(sha.as_str()));
}

#[test]
fn with_no_agent_the_engine_answers_by_the_third_ring_and_plays_the_greeting() {
    need_peers();
    let h = Hotline::start();
    let sink = RtpSink::bind();
    let out = Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("4000")
        .key("caller", "0611111111")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(3000)
        .run();
    out.assert_success("caller waits in queue");
    let ladder = out.ladder();
    let ringing = ladder.find("< SIP/2.0 180").expect("180 first");
    let ok = ladder.find("< SIP/2.0 200").expect("200 from the engine");
    assert!(ringing < ok, "{ladder}");

    // the greeting arrives: PCMU, 20 ms, a continuous stream, not silence
    let packets = sink.packets();
    assert!(
        packets.len() > 100,
        "only {} RTP packets of greeting",
        packets.len()
    );
    assert!(packets
        .iter()
        .all(|p| p.payload_type == 0 && p.payload.len() == 160));
    for w in packets.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence gap");
        assert_eq!(
            w[1].timestamp,
            w[0].timestamp.wrapping_add(160),
            "timestamp gap"
        );
    }
    let pcm = sink.pcm();
    assert!(
        rms(&pcm) > 0.01,
        "the greeting is audible (rms {})",
        rms(&pcm)
    );
    // and it is the greeting, byte for byte, from its first sample
    let greeting = hotline_media::prompt::Prompt::load_wav(
        "greeting",
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts/greeting.wav"),
    )
    .expect("load greeting");
    let heard: Vec<u8> = packets
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    let expected = greeting.encoded(hotline_media::Codec::Pcmu);
    let n = heard.len().min(expected.len());
    assert_eq!(
        &heard[..n],
        &expected[..n],
        "the caller hears the greeting from its start"
    );

    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Abandoned),
        "hung up in queue: {cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let arrived = find(&ev, |k| matches!(k, EventKind::Arrived { .. }))
        .expect("arrived")
        .at_ms;
    let answered = find(&ev, |k| matches!(k, EventKind::SystemAnswered { rings: 3 }))
        .expect("system_answered with 3 rings");
    let after = answered.at_ms - arrived;
    let third_ring_ends = h.options.system_answer_after().as_millis() as i64;
    // behaviour, not speed: the answer is the end of the third ring, never a fourth
    assert!(
        after >= third_ring_ends - 50,
        "answered after {after} ms, before the third ring ended ({third_ring_ends} ms)"
    );
    assert!(
        after < third_ring_ends + h.options.ring_off_ms as i64,
        "answered after {after} ms: a fourth ring began"
    );
    assert!(
        find(
            &ev,
            |k| matches!(k, EventKind::PromptStarted { prompt } if prompt == "greeting")
        )
        .is_some(),
        "{:?}",
        kinds(&ev)
    );
    assert!(
        find(&ev, |k| matches!(k, EventKind::Abandoned { .. })).is_some(),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn a_caller_on_hold_is_bridged_when_an_agent_registers() {
    need_peers();
    let h = Hotline::start();
    let port = free_udp_port();
    let call = caller(&h, 4000).spawn();
    // the engine answers after 1.2 s; the agent arrives later
    std::thread::sleep(Duration::from_millis(2000));
    register(&h, "1003", port);
    let agent = agent_uas("1003", port, 0);
    call.wait().assert_success("caller");
    agent.wait().assert_success("agent 1003");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Answered),
        "{cdr:#?}"
    );
    assert!(cdr.system_answered_ms.is_some(), "{cdr:#?}");
    assert_eq!(cdr.rings, Some(3));
    assert!(cdr.wait_ms.unwrap_or(0) >= 2000, "{cdr:#?}");
    let talk = Duration::from_millis(cdr.talk_ms.expect("talk") as u64);
    check_recording(&h, &cdr, talk);
}

#[test]
fn cancel_while_the_agent_rings_is_an_abandoned_call() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_noanswer.xml")
        .port(port)
        .key("agent", "1001")
        .spawn();
    let out = Sipp::new("caller_cancel.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0622222222")
        .duration_ms(800)
        .run();
    out.assert_success("caller cancels");
    agent
        .wait()
        .assert_success("the agent's phone is cancelled too");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Abandoned),
        "{cdr:#?}"
    );
    assert!(cdr.recording_path.is_none());
    let k = kinds(&events(&h, &cdr.call_id));
    assert!(
        k.contains(&"offered".to_string()) && k.contains(&"abandoned".to_string()),
        "{k:?}"
    );
}

#[test]
fn an_agent_who_does_not_answer_is_skipped_for_the_next() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        ring_timeout_ms: 1000,
        ..slow_ring()
    });
    // 1001 registers first: the longest idle, offered first
    let (sleepy, awake) = two_agents(&h, "agent_noanswer.xml");
    caller(&h, 1500).run().assert_success("caller");
    sleepy.wait().assert_success("1001 rang and was cancelled");
    awake.wait().assert_success("1002 answered");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some("1002"),
        "{cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let missed =
        find(&ev, |k| matches!(k, EventKind::AgentRingNoAnswer { .. })).expect("ring no answer");
    assert_eq!(missed.agent.as_ref().map(|a| a.as_str()), Some("1001"));
}

#[test]
fn a_busy_agent_is_skipped_for_the_next() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let (busy, awake) = two_agents(&h, "agent_busy.xml");
    caller(&h, 1000).run().assert_success("caller");
    busy.wait().assert_success("1001 was busy");
    awake.wait().assert_success("1002 answered");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some("1002"),
        "{cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let rejected = find(&ev, |k| {
        matches!(k, EventKind::AgentRejected { status: 486 })
    })
    .expect("486 on record");
    assert_eq!(rejected.agent.as_ref().map(|a| a.as_str()), Some("1001"));
}

#[test]
fn the_agent_hanging_up_ends_the_callers_leg() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let port = free_udp_port();
    register(&h, "1004", port);
    let agent = Sipp::new("agent_uas_hangup.xml")
        .port(port)
        .key("agent", "1004")
        .duration_ms(1500)
        .spawn();
    let out = Sipp::new("caller_until_bye.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0633333333")
        .timeout(Duration::from_secs(15))
        .run();
    out.assert_success("the caller gets a BYE from the engine");
    agent.wait().assert_success("agent hangs up");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.ended_by, Some(hotline_core::EndedBy::Agent), "{cdr:#?}");
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Answered));
}

#[test]
fn calls_over_tcp_work_like_udp() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = agent_uas("1001", port, 0);
    caller(&h, 1500)
        .tcp()
        .run()
        .assert_success("caller over TCP");
    agent.wait().assert_success("agent");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Answered),
        "{cdr:#?}"
    );
}

#[test]
fn offers_without_a_usable_sdp_are_refused_with_488_and_logged() {
    let h = Hotline::start();
    let mut sip = RawSip::new(&h);
    let uri = format!("sip:hotline@{}", h.addr());
    let l = sip.local();
    let cases = [
        ("only G.729", format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", ip = l.ip())),
        ("garbage", "this is not SDP at all".to_string()),
        ("no audio", format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n", ip = l.ip())),
        ("oversized", format!("v=0\r\n{}", "a=x-padding:0123456789\r\n".repeat(900))),
    ];
    for (what, body) in &cases {
        let req = sip.request("INVITE", &uri, "Content-Type: application/sdp\r\n", body);
        sip.send(req.as_bytes());
        if *what == "oversized" {
            // a 22 kB datagram is dropped unanswered by the SIP gate (8 KiB
            // or more) before it is a call
            assert_eq!(
                sip.final_response_to_last("INVITE", Duration::from_secs(1)),
                None,
                "{what}"
            );
            continue;
        }
        let resp = sip
            .final_response_to_last("INVITE", Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{what}: no final response\n{}", h.report()));
        assert_eq!(status_of(&resp), Some(488), "{what}: {resp}");
    }
    // an INVITE without any body is refused too
    let req = sip.request("INVITE", &uri, "", "");
    sip.send(req.as_bytes());
    let resp = sip
        .final_response_to_last("INVITE", Duration::from_secs(5))
        .expect("final response");
    assert_eq!(status_of(&resp), Some(488), "{resp}");
    // a call to another number is not ours
    let other = format!("sip:5555@{}", h.addr());
    let sdp = &cases[0].1.replace("18\r\na=rtpmap:18 G729/8000", "0");
    let req = sip.request("INVITE", &other, "Content-Type: application/sdp\r\n", sdp);
    sip.send(req.as_bytes());
    let resp = sip
        .final_response_to_last("INVITE", Duration::from_secs(5))
        .expect("final response");
    assert_eq!(status_of(&resp), Some(404), "{resp}");
    assert_eq!(sip.options(), Some(200), "still serving\n{}", h.report());
    let rejected = wait_cdrs(&h, 5);
    assert!(
        rejected
            .iter()
            .all(|c| c.outcome == Some(hotline_core::Outcome::Rejected)),
        "{rejected:#?}"
    );
}

#[test]
fn an_unreachable_agent_is_skipped_for_the_next() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        ring_timeout_ms: 1500,
        ..slow_ring()
    });
    let (gone, p2) = (free_udp_port(), free_udp_port());
    // 1001 registers and its phone disappears (nothing listens on its contact)
    register(&h, "1001", gone);
    std::thread::sleep(Duration::from_millis(50));
    register(&h, "1002", p2);
    let awake = agent_uas("1002", p2, 0);
    caller(&h, 1000).run().assert_success("caller");
    awake.wait().assert_success("1002 answered");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some("1002"),
        "{cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let first = find(&ev, |k| matches!(k, EventKind::Offered { .. })).expect("offered");
    assert_eq!(
        first.agent.as_ref().map(|a| a.as_str()),
        Some("1001"),
        "{:?}",
        kinds(&ev)
    );
    assert!(
        find(&ev, |k| matches!(
            k,
            EventKind::AgentRingNoAnswer { .. } | EventKind::AgentUnreachable { .. }
        ))
        .is_some(),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn the_daily_report_counts_what_happened() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    one_answered_call(&h, 1000);
    Sipp::new("caller_cancel.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0644444444")
        .duration_ms(300)
        .run()
        .assert_success("abandoned call");
    wait_cdrs(&h, 2);
    let today = std::process::Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .expect("date");
    let today = String::from_utf8_lossy(&today.stdout).trim().to_string();
    let out = std::process::Command::new(Hotline::binary())
        .args(["report", "--day", &today, "--config"])
        .arg(&h.config_path)
        .arg("--data")
        .arg(&h.data_dir)
        .output()
        .expect("run report");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{csv}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let center: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("center,"))
        .expect("center row")
        .split(',')
        .collect();
    // scope, offered, answered, abandoned, short_abandoned, rejected, asa_s, service_level, abandon_rate
    assert_eq!(&center[1..6], &["2", "1", "1", "1", "0"], "{csv}");
    assert_eq!(
        center[7], "1.000",
        "the answered call was within 20 s: {csv}"
    );
    assert_eq!(center[8], "0.500", "{csv}");
    assert!(
        csv.lines().any(|l| l.starts_with("queue:general,2,1,")),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.starts_with("1001,1,0,")), "{csv}");
}

/// A raw HTTP/1.1 GET (or other method) → (status, body).
#[test]
fn live_kpis_on_metrics_and_api_stats() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    let web = h.http_addr();
    assert_eq!(http(&web, "GET", "/health"), (200, "ok\n".to_string()));
    one_answered_call(&h, 1000);
    wait_cdrs(&h, 1);
    let (status, text) = http(&web, "GET", "/metrics");
    assert_eq!(status, 200, "{text}");
    for line in [
        "hotline_calls_offered_total 1",
        "hotline_calls_answered_total 1",
        "hotline_calls_answered_total{queue=\"general\"} 1",
        "hotline_calls_talking 0",
        "hotline_service_level_ratio 1",
        "hotline_agent_answered_total{agent=\"1001\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    let (status, json) = http(&web, "GET", "/api/stats");
    assert_eq!(status, 200, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["last_15_min"]["center"]["answered"], 1, "{v}");
    assert_eq!(v["since_start"]["agents"]["1001"]["answered"], 1, "{v}");
    // bad input: unknown path, wrong method, garbage request
    assert_eq!(http(&web, "GET", "/../../etc/passwd").0, 404);
    assert_eq!(http(&web, "POST", "/metrics").0, 405);
    let (status, _) = http(&web, "BREW", "/metrics");
    assert!(status == 405 || status == 400, "{status}");
    let mut junk = std::net::TcpStream::connect(&web).expect("connect");
    use std::io::Write;
    let _ = junk.write_all(&[0xff; 70_000]);
    drop(junk);
    assert_eq!(http(&web, "GET", "/health").0, 200, "still serving");
}

#[test]
fn handle_time_limits_warn_then_report_exceeded_while_the_call_runs() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[limits]\ninquiry_s = 1\nwarning_fraction = 0.5\n".into(),
        ..slow_ring()
    });
    one_answered_call(&h, 2500);
    let cdr = wait_cdrs(&h, 1).remove(0);
    let ev = events(&h, &cdr.call_id);
    let answered = find(&ev, |k| matches!(k, EventKind::AgentAnswered { .. }))
        .expect("answered")
        .at_ms;
    let warning = find(&ev, |k| {
        matches!(k, EventKind::LimitWarning { limit_ms: 1000, .. })
    })
    .expect("limit_warning");
    let exceeded = find(&ev, |k| {
        matches!(k, EventKind::LimitExceeded { limit_ms: 1000, .. })
    })
    .expect("limit_exceeded");
    let completed = find(&ev, |k| matches!(k, EventKind::Completed { .. })).expect("completed");
    assert!(
        warning.at_ms - answered >= 450,
        "warning at half the limit: {:?}",
        kinds(&ev)
    );
    assert!(exceeded.at_ms - answered >= 950);
    assert!(
        warning.at_ms <= exceeded.at_ms && exceeded.at_ms <= completed.at_ms,
        "{:?}",
        kinds(&ev)
    );
    assert_eq!(exceeded.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    let (_, text) = http(&h.http_addr(), "GET", "/metrics");
    assert!(
        text.lines().any(|l| l == "hotline_within_limit_ratio 0"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "hotline_agent_limit_exceeded_total{agent=\"1001\"} 1"),
        "{text}"
    );
}

#[test]
fn a_short_call_stays_within_its_limit() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[limits]\ninquiry_s = 30\n".into(),
        ..slow_ring()
    });
    one_answered_call(&h, 500);
    let cdr = wait_cdrs(&h, 1).remove(0);
    let k = kinds(&events(&h, &cdr.call_id));
    assert!(!k.iter().any(|k| k.starts_with("limit_")), "{k:?}");
    let (_, text) = http(&h.http_addr(), "GET", "/metrics");
    assert!(
        text.lines().any(|l| l == "hotline_within_limit_ratio 1"),
        "{text}"
    );
}

#[test]
fn an_agent_who_misses_calls_is_auto_paused_when_configured() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        ring_timeout_ms: 1000,
        auto_pause_after_misses: 1,
        ..slow_ring()
    });
    let (sleepy, awake) = two_agents(&h, "agent_noanswer.xml");
    caller(&h, 500).run().assert_success("caller");
    sleepy.wait().assert_success("1001 rang out");
    awake.wait().assert_success("1002 answered");
    wait_cdrs(&h, 1);
    let paused = wait_until(Duration::from_secs(5), || {
        all_events(&h)
            .iter()
            .any(|e| matches!(&e.kind, EventKind::AgentPaused { reason, by, .. } if reason == "missed calls" && by == "acd") && e.agent.as_ref().map(|a| a.as_str()) == Some("1001"))
    });
    assert!(paused, "no agent_paused event for 1001\n{}", h.report());
}

/// A caller whose phone stops sending RTP mid-call (here: it never sends
/// any) is a dropped call: the engine ends it after `media_timeout_s` with a
/// `media_timeout` event naming the silent side, hangs up both legs and
/// frees the agent; the recording is sealed as usual.
#[test]
fn a_call_whose_rtp_stops_is_ended_as_dropped() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        hotline_toml: "media_timeout_s = 2".into(),
        ..HotlineOptions::default()
    });
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .calls(1)
        .timeout(Duration::from_secs(30))
        .spawn();
    let sink = RtpSink::bind();
    Sipp::new("caller_silent.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611113333")
        .key("rtp_port", &sink.port.to_string())
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success("the engine hangs up on the dead line");
    agent.wait().assert_success("the agent is hung up on too");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Answered),
        "{cdr:#?}"
    );
    assert_eq!(
        cdr.ended_by,
        Some(hotline_core::EndedBy::System),
        "{cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let dropped = find(&ev, |k| matches!(k, EventKind::MediaTimeout { .. }))
        .unwrap_or_else(|| panic!("no media_timeout in {:?}", kinds(&ev)));
    assert!(
        matches!(dropped.kind, EventKind::MediaTimeout { side: hotline_core::Side::Caller, idle_ms } if idle_ms >= 2000),
        "{dropped:?}"
    );
    let answered = find(&ev, |k| matches!(k, EventKind::AgentAnswered { .. })).expect("answered");
    let after = dropped.at_ms - answered.at_ms;
    assert!(
        (2000..6000).contains(&after),
        "dropped {after} ms after the answer"
    );
    assert!(kinds(&ev).contains(&"recording_closed".to_string()));
    // the dropped-call KPI: one answered call, dropped (the KPI task folds
    // the events a moment after they are stored)
    let metric = |text: &str, series: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
    };
    let mut text = String::new();
    let counted = wait_until(Duration::from_secs(5), || {
        text = http(&h.http_addr(), "GET", "/metrics").1;
        metric(&text, "hotline_calls_dropped_total") == Some(1.0)
    });
    assert!(counted, "no dropped call on /metrics:\n{text}");
    assert_eq!(metric(&text, "hotline_calls_answered_total"), Some(1.0));
    assert_eq!(metric(&text, "hotline_dropped_ratio"), Some(1.0), "{text}");
    assert!(text.contains("# TYPE hotline_calls_dropped_total counter"));
    let queue = cdr
        .queue
        .as_ref()
        .map(|q| q.as_str().to_string())
        .expect("the call's queue");
    assert_eq!(
        metric(
            &text,
            &format!("hotline_calls_dropped_total{{queue=\"{queue}\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    let (status, stats) = http(&h.http_addr(), "GET", "/api/stats");
    assert_eq!(status, 200, "{stats}");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    for window in ["since_start", "today"] {
        let c = &stats[window]["center"];
        assert_eq!(c["dropped"], 1, "{window}: {c}");
        assert_eq!(c["dropped_rate"], 1.0, "{window}: {c}");
    }
    assert_eq!(stats["since_start"]["queues"][&queue]["dropped"], 1);
}

/// An agent whose phone registered and then went away (nothing listens at
/// its contact) is offered a call whose caller hangs up meanwhile: the
/// engine forgets the call instead of offering it to the same dead phone
/// again and again, and goes on taking calls.
#[test]
fn a_call_that_ends_while_offered_to_a_dead_phone_is_not_offered_again() {
    need_peers();
    let h = Hotline::start();
    register(&h, "1001", free_udp_port());
    for n in ["0655555551", "0655555552"] {
        Sipp::new("caller_cancel.xml")
            .remote(&h.addr())
            .service("hotline")
            .key("caller", n)
            .duration_ms(400)
            .run()
            .assert_success("the caller gives up");
    }
    let cdrs = wait_cdrs(&h, 2);
    assert!(
        cdrs.iter()
            .all(|c| c.outcome == Some(hotline_core::Outcome::Abandoned)),
        "{cdrs:#?}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let undelivered = h.stderr().matches("offer could not be delivered").count();
    assert!(
        undelivered < 50,
        "{undelivered} undelivered offers: the engine spins"
    );
    let (status, body) = http(&h.http_addr(), "GET", "/health");
    assert_eq!((status, body.trim()), (200, "ok"));
}
