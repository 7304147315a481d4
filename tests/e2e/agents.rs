//! Agent control end to end: feature codes dialled from the agent's phone
//! (SIPp, digest-authenticated INVITEs to *61..*64) and the HTTP API, with
//! minimum staffing refusing a pause, and every change as an event.

use super::*;
use hotline_core::AgentId;

const TOKEN: &str = "test-token";

/// Dials `code` as `agent` (digest auth); returns "200" (done) or "403" (refused).
fn dial_code(h: &Hotline, agent: &str, code: &str) -> String {
    let out = Sipp::new("agent_feature_code.xml")
        .remote(&h.addr())
        .service(code)
        .credentials(agent, &format!("demo{agent}"))
        .run();
    out.assert_success(&format!("{agent} dials {code}"));
    let logs = out.logs();
    if logs.contains("final 200") {
        "200".into()
    } else if logs.contains("final 403") {
        "403".into()
    } else {
        panic!("{agent} dialled {code}: no final status in\n{logs}")
    }
}

fn agent_events(h: &Hotline, agent: &str) -> Vec<CallEvent> {
    all_events(h)
        .into_iter()
        .filter(|e| e.call_id.is_none() && e.agent.as_ref() == Some(&AgentId::new(agent)))
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::AgentRegistered { .. } | EventKind::AgentUnregistered { .. }
            )
        })
        .collect()
}

fn agent_json(h: &Hotline, agent: &str) -> serde_json::Value {
    let (status, body) = http(&h.http_addr(), "GET", "/api/agents");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON agent list");
    list.as_array()
        .expect("array")
        .iter()
        .find(|a| a["agent"] == agent)
        .cloned()
        .unwrap_or_else(|| panic!("{agent} not in {body}"))
}

#[test]
fn feature_codes_pause_unpause_logout_and_login_with_minimum_staffing() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[[queues]]\nid = \"general\"\nmin_staffed = 1\n".into(),
        ..HotlineOptions::default()
    });
    let p1 = free_udp_port();
    register(&h, "1001", p1);
    // the last staffed agent cannot go on a break
    assert_eq!(dial_code(&h, "1001", "*631"), "403");
    let refused = agent_events(&h, "1001");
    assert!(
        matches!(refused.last().map(|e| &e.kind), Some(EventKind::AgentRequestRefused { request, reason, by }) if request == "pause" && reason.contains("minimum is 1") && by == "phone"),
        "{refused:#?}"
    );
    assert_eq!(agent_json(&h, "1001")["state"], "available");

    // the relief logs in: now 1001 may take the meal break
    let relief = Sipp::new("agent_uas.xml")
        .port({
            let p2 = free_udp_port();
            register(&h, "1002", p2);
            p2
        })
        .key("agent", "1002")
        .timeout(Duration::from_secs(40))
        .spawn();
    assert_eq!(dial_code(&h, "1001", "*631"), "200");
    let a = agent_json(&h, "1001");
    assert_eq!(
        (a["state"].as_str(), a["reason"].as_str()),
        (Some("paused"), Some("meal"))
    );
    // a call goes to 1002 although 1001 has been idle longer
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(1000)
        .run()
        .assert_success("caller");
    relief.wait().assert_success("agent 1002 answers");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent, Some(AgentId::new("1002")));
    // 1002 is now the only staffed agent: 1001 comes back, then may log out
    assert_eq!(dial_code(&h, "1001", "*64"), "200");
    assert_eq!(agent_json(&h, "1001")["state"], "available");
    assert_eq!(dial_code(&h, "1001", "*62"), "200");
    let a = agent_json(&h, "1001");
    assert_eq!(a["state"], "logged_out");
    assert_eq!(a["logged_out_by_request"], true);
    assert_eq!(a["registered"], true);
    // a registration refresh does not log them back in
    register(&h, "1001", p1);
    assert_eq!(agent_json(&h, "1001")["state"], "logged_out");
    assert_eq!(dial_code(&h, "1001", "*61"), "200");
    assert_eq!(agent_json(&h, "1001")["state"], "available");
    // an unknown code is refused, and so is an unpause when not paused
    assert_eq!(dial_code(&h, "1001", "*69"), "403");
    assert_eq!(dial_code(&h, "1001", "*64"), "403");

    let kinds: Vec<String> = kinds(&agent_events(&h, "1001"));
    assert_eq!(
        kinds,
        [
            "agent_request_refused",
            "agent_paused",
            "agent_unpaused",
            "agent_logged_out",
            "agent_logged_in",
            "agent_request_refused",
        ],
        "the unknown code is refused before it reaches the ACD (no event)"
    );
}

#[test]
fn a_feature_code_needs_the_agents_password() {
    let h = Hotline::start();
    let mut sip = RawSip::new(&h);
    let uri = format!("sip:*63@{}", h.addr());
    // a caller (no credentials) dialling a feature code is challenged, not served
    let req = sip.request("INVITE", &uri, "", "");
    sip.send(req.as_bytes());
    let resp = sip
        .final_response(Duration::from_secs(5))
        .expect("final response");
    assert_eq!(status_of(&resp), Some(401), "{resp}");
    assert!(resp.contains("WWW-Authenticate: Digest"), "{resp}");
    // a wrong password gets the challenge again (SIPp gives up: failure)
    let out = Sipp::new("agent_feature_code.xml")
        .remote(&h.addr())
        .service("*63")
        .credentials("1001", "wrong-password")
        .timeout(Duration::from_secs(10))
        .run();
    assert!(!out.success(), "a wrong password must not pause the agent");
    assert!(
        !all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::AgentPaused { .. })),
        "nothing changed"
    );
}

#[test]
fn the_agent_api_needs_the_token_and_reports_refusals() {
    let h = Hotline::start();
    let web = h.http_addr();
    let auth = format!("Bearer {TOKEN}");
    let with_token = [("Authorization", auth.as_str())];
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        http_with(&web, "POST", path, headers, body)
    };
    // no token, a wrong token, another scheme
    assert_eq!(post("/api/agents/1001/pause", &[], "").0, 401);
    assert_eq!(
        post(
            "/api/agents/1001/pause",
            &[("Authorization", "Bearer nope")],
            ""
        )
        .0,
        401
    );
    assert_eq!(
        post(
            "/api/agents/1001/pause",
            &[("Authorization", "Basic dGVzdA==")],
            ""
        )
        .0,
        401
    );
    // unknown agent and action, hostile bodies
    let (s, b) = post("/api/agents/9999/pause", &with_token, "");
    assert_eq!(s, 404, "{b}");
    assert!(b.contains("unknown agent"), "{b}");
    assert_eq!(post("/api/agents/1001/dance", &with_token, "").0, 404);
    for body in [
        "{not json",
        r#"{"reason": 5}"#,
        r#"{"unknown": 1}"#,
        r#"{"reason": ""}"#,
        "{\"reason\": \"a\\u0000b\"}",
    ] {
        let (s, b) = post("/api/agents/1001/pause", &with_token, body);
        assert_eq!(s, 400, "{body}: {b}");
        assert!(b.contains("\"error\""), "{b}");
    }
    let huge = format!(r#"{{"reason": "{}"}}"#, "x".repeat(10_000));
    assert_eq!(post("/api/agents/1001/pause", &with_token, &huge).0, 413);
    // 1001 has no phone registered: not logged in, so no pause; login refused too
    let (s, b) = post("/api/agents/1001/pause", &with_token, "");
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("not logged in"), "{b}");
    let (s, b) = post("/api/agents/1001/login", &with_token, "");
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("registered"), "{b}");
    // registered: pause with a reason, by a named supervisor
    register(&h, "1001", free_udp_port());
    let (s, b) = post(
        "/api/agents/1001/pause",
        &with_token,
        r#"{"reason": "training", "by": "alice"}"#,
    );
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).expect("JSON");
    assert_eq!(
        (v["state"].as_str(), v["reason"].as_str()),
        (Some("paused"), Some("training"))
    );
    let (s, b) = post("/api/agents/1001/unpause", &with_token, "");
    assert_eq!(s, 200, "{b}");
    let (s, b) = post("/api/agents/1001/unpause", &with_token, "");
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("not paused"), "{b}");
    // the log is written by a background task: wait for the pause to land
    let mut ev = Vec::new();
    let paused = wait_until(Duration::from_secs(10), || {
        ev = agent_events(&h, "1001");
        ev.iter().any(|e| matches!(&e.kind, EventKind::AgentPaused { reason, by, after_call: false } if reason == "training" && by == "api:alice"))
    });
    assert!(paused, "{ev:#?}");
    // the engine keeps serving
    assert_eq!(http(&web, "GET", "/health").0, 200);
}

#[test]
fn agent_control_is_refused_when_no_token_is_configured() {
    let h = Hotline::start_with(HotlineOptions {
        api_token: String::new(),
        ..HotlineOptions::default()
    });
    let (s, b) = http_with(
        &h.http_addr(),
        "POST",
        "/api/agents/1001/pause",
        &[("Authorization", "Bearer ")],
        "",
    );
    assert_eq!(s, 403, "{b}");
    assert!(b.contains("api_token"), "{b}");
}

/// An agent registered from a desk phone and then a softphone is one agent:
/// the call rings the device registered last, the other never rings, and a
/// second caller is not offered to the busy agent's other device.
#[test]
fn an_agent_on_two_devices_is_one_agent_rung_on_the_latest_device() {
    need_peers();
    let h = Hotline::start();
    let desk_port = free_udp_port();
    register(&h, "1001", desk_port);
    std::thread::sleep(Duration::from_millis(100));
    let soft_port = free_udp_port();
    register(&h, "1001", soft_port);
    let desk = Sipp::new("agent_uas.xml")
        .port(desk_port)
        .key("agent", "1001")
        .calls(1)
        .timeout(Duration::from_secs(30))
        .spawn();
    let soft = Sipp::new("agent_uas.xml")
        .port(soft_port)
        .key("agent", "1001")
        .calls(1)
        .timeout(Duration::from_secs(30))
        .spawn();
    let first = Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611000001")
        .duration_ms(5000)
        .spawn();
    assert!(
        wait_until(Duration::from_secs(10), || all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::AgentAnswered { .. }))),
        "the first call is answered"
    );
    // a second caller while 1001 talks: waits, gives up
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611000002")
        .duration_ms(2000)
        .run()
        .assert_success("second caller waits and hangs up");
    first.wait().assert_success("first caller");
    soft.wait()
        .assert_success("the softphone (registered last) took the call");
    let desk = desk.stop();
    assert!(
        !desk.received().iter().any(|m| m.starts_with("INVITE")),
        "the desk phone rang: {}",
        desk.ladder()
    );
    let cdrs = wait_cdrs(&h, 2);
    let offers: Vec<_> = all_events(&h)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .collect();
    assert_eq!(offers.len(), 1, "one offer in all: {offers:#?}");
    let second = cdrs.iter().find(|c| c.caller == "0611000002").unwrap();
    assert_eq!(second.outcome, Some(hotline_core::Outcome::Abandoned));
}

/// A supervisor pauses an agent who is talking: the call goes on, the pause
/// starts when it ends (`after_call`), and no new call is offered meanwhile.
#[test]
fn a_pause_asked_during_a_call_starts_when_the_call_ends() {
    need_peers();
    let h = Hotline::start();
    let web = h.http_addr();
    let auth = format!("Bearer {TOKEN}");
    let port = free_udp_port();
    register(&h, "1001", port);
    let phone = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .calls(1)
        .timeout(Duration::from_secs(30))
        .spawn();
    let call = Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0615000001")
        .duration_ms(3000)
        .spawn();
    assert!(
        wait_until(Duration::from_secs(10), || agent_json(&h, "1001")["state"]
            == "on_call"),
        "{}",
        agent_json(&h, "1001")
    );
    let (s, b) = http_with(
        &web,
        "POST",
        "/api/agents/1001/pause",
        &[("Authorization", auth.as_str())],
        r#"{"reason": "meal", "by": "bob"}"#,
    );
    assert_eq!(s, 200, "{b}");
    // still talking: the pause waits
    assert_eq!(agent_json(&h, "1001")["state"], "on_call");
    call.wait().assert_success("the call goes on to its end");
    phone.wait().assert_success("agent phone");
    assert!(
        wait_until(Duration::from_secs(10), || agent_json(&h, "1001")["state"]
            == "paused"),
        "{}",
        agent_json(&h, "1001")
    );
    let ev = agent_events(&h, "1001");
    assert!(
        ev.iter().any(|e| matches!(&e.kind, EventKind::AgentPaused { reason, after_call: true, .. } if reason == "meal")),
        "{ev:#?}"
    );
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Answered));
}

/// Outside its open hours (here: a holiday) a queue's minimum staffing does
/// not hold: the last agent may leave at closing time.
#[test]
fn the_last_agent_may_leave_when_the_queue_is_closed() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: closed_today_toml("", "min_staffed = 1"),
        ..HotlineOptions::default()
    });
    register(&h, "1001", free_udp_port());
    assert_eq!(
        dial_code(&h, "1001", "*62"),
        "200",
        "logout allowed when closed"
    );
    assert_eq!(agent_json(&h, "1001")["state"], "logged_out");
}
