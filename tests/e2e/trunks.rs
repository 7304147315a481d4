//! Calls out through a carrier trunk: a SIPp carrier that challenges the
//! INVITE (digest), answers with early media and records on the right
//! channels; the trunk's channel limit; a trunk that stops answering OPTIONS
//! goes down (event, `/api/trunks`), refuses calls, and comes back.

use super::*;
use hotline_core::Outcome;

/// Agents dial `9` + numbers starting with 1 or 0 through the trunk
/// `carrier` at 127.0.0.1:`port` (national format, +86).
fn with_trunk(port: u16, extra: &str) -> HotlineOptions {
    HotlineOptions {
        extra_toml: format!(
            r#"
[outbound]
enabled = true
prefix = "9"
allowed_prefixes = ["1", "0"]
answer_timeout_s = 15
trunk = "carrier"

[[trunks]]
name = "carrier"
address = "127.0.0.1:{port}"
domain = "carrier.test"
username = "hotline"
password = "trunk-secret"
caller_id = "4008001234"
{extra}
"#
        ),
        ..HotlineOptions::default()
    }
}

fn dial(h: &Hotline, agent: &str, dialled: &str, talk_ms: u64) -> SippProcess {
    Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service(dialled)
        .credentials(agent, &format!("demo{agent}"))
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(40))
        .spawn()
}

/// The SIPp carrier at `port` (digest challenge, 183, 200 after `ring_ms`),
/// for one call.
fn carrier(port: u16, ring_ms: u64) -> SippProcess {
    Sipp::new("carrier_uas.xml")
        .port(port)
        .duration_ms(ring_ms)
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn()
}

/// The INVITEs the carrier received: the first one challenged, the second
/// one with credentials.
fn challenged_once(carrier: &SippOutput) -> Vec<SipTrace> {
    let invites: Vec<SipTrace> = carrier
        .messages()
        .into_iter()
        .filter(|m| m.first_line().starts_with("INVITE "))
        .collect();
    assert_eq!(invites.len(), 2, "challenged once: {}", carrier.ladder());
    invites
}

fn trunks(h: &Hotline) -> serde_json::Value {
    let (status, body) = http(&h.http_addr(), "GET", "/api/trunks");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[test]
fn an_agent_calls_out_through_a_trunk_that_asks_for_credentials() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 0"));
    register(&h, "1001", free_udp_port());
    let carrier = carrier(port, 300);
    let out = dial(&h, "1001", "913812345678", 3000).wait();
    if !out.logs().contains("final 200") {
        let c = carrier.stop();
        panic!("{}\n{}\n{}", out.logs(), c.ladder(), c.errors_log());
    }
    out.assert_success("the agent dials, talks and hangs up");
    let carrier = carrier.wait();
    carrier.assert_success("the carrier checked the credentials and answered");
    // the carrier got the number in its national format, from our caller id
    let invites = challenged_once(&carrier);
    for inv in &invites {
        assert!(
            inv.first_line()
                .starts_with("INVITE sip:013812345678@carrier.test"),
            "{}",
            inv.first_line()
        );
        let from = inv.headers("From").join(" ");
        assert!(from.contains("sip:4008001234@"), "{from}");
        // our Call-ID names our address, not the SIP library's domain
        let call_id = inv.headers("Call-ID").join(" ");
        assert!(call_id.ends_with("@127.0.0.1"), "{call_id}");
        // the carrier as a loose route: a CANCEL finds it too
        let route = inv.headers("Route").join(" ");
        assert!(route.contains(";lr"), "{route}");
    }
    assert!(
        !invites[1].headers("Authorization").is_empty(),
        "{}",
        carrier.ladder()
    );
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.dialled, "outbound", "{cdr:#?}");
    assert_eq!(cdr.caller, "13812345678");
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().expect("recorded")),
    );
    assert_tone("customer channel", &wav.channel(0), 8000, 440.0, 0.6);
    assert_tone("agent channel", &wav.channel(1), 8000, 1000.0, 0.6);
    let t = trunks(&h);
    assert_eq!(t[0]["name"], "carrier", "{t}");
    assert_eq!(t[0]["placed"], 1, "{t}");
    assert_eq!(t[0]["in_use"], 0, "the channel is given back: {t}");
    assert_eq!(t[0]["health"]["state"], "unknown", "probing off: {t}");
}

#[test]
fn a_trunk_at_its_channel_limit_refuses_the_next_call_with_the_reason() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 0\nmax_channels = 1"));
    register(&h, "1001", free_udp_port());
    register(&h, "1002", free_udp_port());
    let carrier = carrier(port, 0);
    let first = dial(&h, "1001", "913812345678", 6000);
    assert!(
        wait_until(Duration::from_secs(15), || trunks(&h)[0]["in_use"] == 1),
        "the first call holds the channel: {}",
        trunks(&h)
    );
    let second = dial(&h, "1002", "913812345679", 500).wait();
    second.assert_success("the refusal is answered");
    assert!(second.logs().contains("final 503"), "{}", second.logs());
    first.wait().assert_success("the first call goes on");
    carrier.wait().assert_success("the carrier took one call");
    let t = trunks(&h);
    assert_eq!(
        (t[0]["placed"].as_u64(), t[0]["refused_full"].as_u64()),
        (Some(1), Some(1)),
        "{t}"
    );
    let refused = wait_cdrs(&h, 2)
        .into_iter()
        .find(|c| c.caller == "13812345679")
        .expect("the refused call has its CDR");
    assert_eq!(refused.outcome, Some(Outcome::Rejected));
    let ev = events(&h, &refused.call_id);
    assert!(
        find(&ev, |k| matches!(k, EventKind::Rejected { status: 503, reason } if reason.contains("channel limit"))).is_some(),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn a_trunk_that_stops_answering_options_goes_down_refuses_calls_and_comes_back() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 1\ndown_after = 2"));
    register(&h, "1001", free_udp_port());
    // the carrier answers three probes, then goes quiet
    let alive = Sipp::new("carrier_options.xml")
        .port(port)
        .calls(3)
        .timeout(Duration::from_secs(30))
        .spawn();
    assert!(
        wait_until(Duration::from_secs(15), || trunks(&h)[0]["health"]["state"]
            == "up"),
        "{}",
        trunks(&h)
    );
    alive.wait().assert_success("three probes answered");
    assert!(
        wait_until(Duration::from_secs(20), || trunks(&h)[0]["health"]["state"]
            == "down"),
        "{}",
        trunks(&h)
    );
    let down = all_events(&h);
    assert!(
        find(
            &down,
            |k| matches!(k, EventKind::TrunkDown { trunk, .. } if trunk == "carrier")
        )
        .is_some(),
        "{:?}",
        kinds(&down)
    );
    // a call through a dead trunk is refused at once, with the reason
    let out = dial(&h, "1001", "913812345678", 500).wait();
    out.assert_success("the refusal is answered");
    assert!(out.logs().contains("final 503"), "{}", out.logs());
    let t = trunks(&h);
    assert_eq!(t[0]["refused_down"], 1, "{t}");
    assert_eq!(t[0]["placed"], 0, "{t}");
    // the carrier is back: one answered probe brings the trunk up
    let back = Sipp::new("carrier_options.xml")
        .port(port)
        .calls(2)
        .timeout(Duration::from_secs(30))
        .spawn();
    assert!(
        wait_until(Duration::from_secs(15), || trunks(&h)[0]["health"]["state"]
            == "up"),
        "{}",
        trunks(&h)
    );
    back.wait();
    assert!(wait_until(Duration::from_secs(5), || {
        find(
            &all_events(&h),
            |k| matches!(k, EventKind::TrunkUp { trunk } if trunk == "carrier"),
        )
        .is_some()
    }));
}

#[test]
fn click_to_call_rings_the_agents_phone_first_then_the_customer_through_the_trunk() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 0"));
    let phone = free_udp_port();
    register(&h, "1001", phone);
    // bad input first: no engine call starts for any of these
    for (body, status) in [
        (r#"{"number": "06@evil"}"#, 400),
        (r#"{"number": "0612", "type": "sales"}"#, 400),
        (r#"{"number": "0612", "extra": 1}"#, 400),
        (r#"{}"#, 400),
        (r#"{"number": "99999"}"#, 403),
    ] {
        let (s, b) = call_control::post(&h, "/api/agents/1001/dial", body);
        assert_eq!(s, status, "{body}: {b}");
        assert!(b["error"].is_string(), "{b}");
    }
    let (s, b) = call_control::post(&h, "/api/agents/1002/dial", r#"{"number": "13812345678"}"#);
    assert_eq!(s, 409, "1002 has no phone registered: {b}");
    let (s, b) = call_control::post(&h, "/api/agents/9999/dial", r#"{"number": "13812345678"}"#);
    assert_eq!(s, 404, "{b}");
    // the agent's phone answers at once and hangs up after 4 s of talk
    let agent = Sipp::new("agent_uas_hangup.xml")
        .port(phone)
        .key("agent", "1001")
        .duration_ms(4000)
        .timeout(Duration::from_secs(40))
        .spawn();
    let carrier = carrier(port, 500);
    let (s, b) = call_control::post(
        &h,
        "/api/agents/1001/dial",
        r#"{"number": "13812345678", "type": "return_visit"}"#,
    );
    assert_eq!(s, 202, "{b}");
    let call = CallId::from_stored(b["call_id"].as_str().expect("call id"));
    agent
        .wait()
        .assert_success("the agent's phone rang, talked and hung up");
    carrier
        .wait()
        .assert_success("the carrier was dialled after the agent answered");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.call_id, call);
    assert_eq!(
        (cdr.dialled.as_str(), cdr.caller.as_str(), cdr.call_type),
        (
            "outbound",
            "13812345678",
            hotline_core::CallType::ReturnVisit
        )
    );
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    let ev = events(&h, &call);
    let k = kinds(&ev);
    // the agent's phone was offered before the customer answered
    assert!(
        position_of(&k, "offered") < position_of(&k, "agent_answered"),
        "{k:?}"
    );
    assert!(
        find(&ev, |e| matches!(
            e,
            EventKind::AgentAnswered {
                limit_ms: Some(180_000),
                ..
            }
        ))
        .is_some(),
        "return visits have a 3-minute limit: {k:?}"
    );
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().expect("recorded")),
    );
    // both parties play 440 Hz here: each channel holds its own party
    assert_tone("customer channel", &wav.channel(0), 8000, 440.0, 0.5);
    assert_tone("agent channel", &wav.channel(1), 8000, 440.0, 0.5);
    // the agent is on a call no longer: a second click works again later
    assert_eq!(trunks(&h)[0]["in_use"], 0);
}

#[test]
fn a_callback_goes_through_the_same_trunk_with_its_credentials() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let port = free_udp_port();
    let confirm = tone_wav(prompts.path(), "confirm.wav", 700.0, 300);
    let h = Hotline::start_with(HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        extra_toml: format!(
            r#"
[callback]
enabled = true
key = "1"
confirm = "{}"
retry_s = 2
attempts = 2
answer_timeout_s = 10
trunk = "carrier"

[[trunks]]
name = "carrier"
address = "127.0.0.1:{port}"
domain = "carrier.test"
username = "hotline"
password = "trunk-secret"
caller_id = "4008001234"
probe_every_s = 0
"#,
            confirm.display()
        ),
        ..HotlineOptions::default()
    });
    // nobody staffed: the caller asks for a callback and is hung up on
    let (_, callback) = callback::request_callback(&h, "0614000002");
    let carrier = carrier(port, 300);
    let agent_port = free_udp_port();
    register(&h, "1001", agent_port);
    Sipp::new("agent_uas_hangup.xml")
        .port(agent_port)
        .key("agent", "1001")
        .duration_ms(2500)
        .calls(1)
        .timeout(Duration::from_secs(40))
        .run()
        .assert_success("the agent takes the callback and hangs up");
    let carrier = carrier.wait();
    carrier.assert_success("the carrier was called with credentials");
    let invites = challenged_once(&carrier);
    assert!(
        invites[1]
            .first_line()
            .starts_with("INVITE sip:0614000002@carrier.test"),
        "{}",
        invites[1].first_line()
    );
    let cdrs = wait_cdrs(&h, 2);
    let cb = cdrs
        .iter()
        .find(|c| c.call_id == callback)
        .unwrap_or_else(|| panic!("no CDR for the callback: {cdrs:#?}"));
    assert_eq!(cb.outcome, Some(Outcome::Answered), "{cb:#?}");
    assert_eq!(cb.dialled, "callback");
    let t = trunks(&h);
    assert_eq!(
        (t[0]["placed"].as_u64(), t[0]["in_use"].as_u64()),
        (Some(1), Some(0)),
        "{t}"
    );
}

#[test]
fn a_busy_customer_behind_the_trunk_reaches_the_agent_as_486_and_frees_the_channel() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 0\nmax_channels = 1"));
    register(&h, "1001", free_udp_port());
    // the carrier answers 486 (the customer is busy), twice
    let carrier = Sipp::new("agent_busy.xml")
        .port(port)
        .calls(2)
        .timeout(Duration::from_secs(40))
        .spawn();
    for number in ["913812345678", "913812345679"] {
        let out = dial(&h, "1001", number, 500).wait();
        out.assert_success("the busy signal is answered");
        assert!(out.logs().contains("final 486"), "{}", out.logs());
        // the channel was given back: the second call gets through to the carrier
        assert!(
            wait_until(Duration::from_secs(5), || trunks(&h)[0]["in_use"] == 0),
            "{}",
            trunks(&h)
        );
    }
    carrier
        .wait()
        .assert_success("the carrier refused both calls busy");
    let t = trunks(&h);
    assert_eq!(
        (t[0]["placed"].as_u64(), t[0]["refused_full"].as_u64()),
        (Some(2), Some(0)),
        "{t}"
    );
    let cdrs = wait_cdrs(&h, 2);
    assert!(
        cdrs.iter().all(|c| c.outcome == Some(Outcome::Rejected)),
        "{cdrs:#?}"
    );
}

#[test]
fn a_carrier_that_answers_503_is_a_refused_call_with_the_channel_given_back() {
    need_peers();
    let port = free_udp_port();
    let h = Hotline::start_with(with_trunk(port, "probe_every_s = 0\nmax_channels = 1"));
    register(&h, "1001", free_udp_port());
    let carrier = Sipp::new("carrier_503.xml")
        .port(port)
        .calls(2)
        .timeout(Duration::from_secs(40))
        .spawn();
    for number in ["913812345678", "913812345679"] {
        let out = dial(&h, "1001", number, 500).wait();
        out.assert_success("the refusal is answered");
        // the agent's phone hears a final failure, not a hang
        assert!(
            out.logs().contains("final 503") || out.logs().contains("final 480"),
            "{}",
            out.logs()
        );
        assert!(
            wait_until(Duration::from_secs(5), || trunks(&h)[0]["in_use"] == 0),
            "the channel is given back: {}",
            trunks(&h)
        );
    }
    carrier
        .wait()
        .assert_success("the carrier refused both calls");
    let cdrs = wait_cdrs(&h, 2);
    assert!(
        cdrs.iter()
            .all(|c| c.outcome == Some(Outcome::Rejected) && c.dialled == "outbound"),
        "{cdrs:#?}"
    );
    // the refusal names the carrier's status in the call's events
    let ev = events(&h, &cdrs[0].call_id);
    assert!(
        ev.iter().any(|e| matches!(&e.kind, EventKind::Rejected { status, .. } if *status == 503 || *status == 480)),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn a_customer_who_does_not_answer_behind_the_trunk_is_given_up_after_the_timeout() {
    need_peers();
    let port = free_udp_port();
    let mut o = with_trunk(port, "probe_every_s = 0\nmax_channels = 1");
    o.extra_toml = o
        .extra_toml
        .replace("answer_timeout_s = 15", "answer_timeout_s = 5");
    let h = Hotline::start_with(o);
    register(&h, "1001", free_udp_port());
    // the customer's phone rings and never answers: the engine CANCELs
    let carrier = Sipp::new("agent_noanswer.xml")
        .port(port)
        .key("agent", "13812345678")
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let started = std::time::Instant::now();
    let out = dial(&h, "1001", "913812345678", 500).wait();
    out.assert_success("the agent hears the call given up");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "given up before the answer timeout: {:?}",
        started.elapsed()
    );
    // the scenario passes only when the CANCEL came (then 200 + 487)
    carrier
        .wait()
        .assert_success("the carrier's phone rang and was cancelled");
    assert!(
        wait_until(Duration::from_secs(5), || trunks(&h)[0]["in_use"] == 0),
        "the channel is given back: {}",
        trunks(&h)
    );
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.dialled, "outbound");
    assert_ne!(cdr.outcome, Some(Outcome::Answered), "{cdr:#?}");
    assert_eq!(cdr.talk_ms.unwrap_or(0), 0, "{cdr:#?}");
}

/// A callback whose trunk is dead: each attempt fails with the trunk's
/// reason and is retried, and its work item stays open (the trunk coming
/// back is shown by the OPTIONS test; a callback through a live trunk by
/// the credentials test).
#[test]
fn a_callback_through_a_dead_trunk_stays_open_and_is_retried() {
    need_peers();
    let prompts = tempfile::tempdir().expect("temp dir");
    let port = free_udp_port();
    let confirm = tone_wav(prompts.path(), "confirm.wav", 700.0, 300);
    let h = Hotline::start_with(HotlineOptions {
        greeting: Some(tone_wav(prompts.path(), "greeting.wav", 600.0, 300)),
        extra_toml: format!(
            r#"
[callback]
enabled = true
key = "1"
confirm = "{}"
retry_s = 3
attempts = 5
answer_timeout_s = 10
trunk = "carrier"

[[trunks]]
name = "carrier"
address = "127.0.0.1:{port}"
domain = "carrier.test"
username = "hotline"
password = "trunk-secret"
caller_id = "4008001234"
probe_every_s = 1
down_after = 1
"#,
            confirm.display()
        ),
        ..HotlineOptions::default()
    });
    // nobody answers OPTIONS: the trunk is down
    assert!(
        wait_until(Duration::from_secs(15), || trunks(&h)[0]["health"]["state"]
            == "down"),
        "{}",
        trunks(&h)
    );
    let (_, callback) = callback::request_callback(&h, "0614000003");
    let agent_port = free_udp_port();
    register(&h, "1001", agent_port);
    // the agent takes each attempt; the dead trunk fails it
    let desk = Sipp::new("agent_uas_hangup.xml")
        .port(agent_port)
        .key("agent", "1001")
        .duration_ms(1000)
        .calls(3)
        .timeout(Duration::from_secs(60))
        .spawn();
    let failed = |h: &Hotline| -> Vec<String> {
        events(h, &callback)
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::CallbackAttemptFailed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(30), || !failed(&h).is_empty()),
        "no failed attempt: {:?}\n{}",
        kinds(&events(&h, &callback)),
        h.report()
    );
    assert!(failed(&h)[0].contains("down"), "{:?}", failed(&h));
    // the work item of the callback is still open
    let (s, body) = http_with(
        &h.http_addr(),
        "GET",
        "/api/worklist",
        &[("Authorization", "Bearer test-token")],
        "",
    );
    assert_eq!(s, 200, "{body}");
    let items: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        items["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["number"] == "0614000003")),
        "{items}"
    );
    // and it is retried: a second attempt fails the same way
    assert!(
        wait_until(Duration::from_secs(20), || failed(&h).len() >= 2),
        "not retried: {:?}",
        kinds(&events(&h, &callback))
    );
    assert!(
        cdr_of_opt(&h, &callback).is_none(),
        "the callback is still due (no CDR yet)"
    );
    let t = trunks(&h);
    assert!(t[0]["refused_down"].as_u64().unwrap_or(0) >= 2, "{t}");
    let _ = desk.stop();
}

fn cdr_of_opt(h: &Hotline, call: &hotline_core::CallId) -> Option<hotline_core::Cdr> {
    cdrs(h).into_iter().find(|c| &c.call_id == call)
}
