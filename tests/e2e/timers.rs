//! Issue 19: registrations that survive a restart, and SIP session timers
//! (RFC 4028) for calls whose far end vanished.

use super::*;
use hotline_core::{AgentId, EndedBy, Side};
use hotline_store::StoredBinding;

/// The HTTP address of the run going on (the ready line of the last start:
/// `Hotline::http_addr` reads the first one, stale after a restart).
fn current_http_addr(h: &Hotline) -> String {
    h.stdout()
        .lines()
        .rev()
        .find_map(|l| l.split(" http=").nth(1).map(|a| a.trim().to_string()))
        .unwrap_or_else(|| panic!("no http= in a ready line\n{}", h.report()))
}

fn agent_state(addr: &str, agent: &str) -> serde_json::Value {
    let (status, body) = http(addr, "GET", "/api/agents");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON agent list");
    list.as_array()
        .expect("array")
        .iter()
        .find(|a| a["agent"] == agent)
        .cloned()
        .unwrap_or_else(|| panic!("{agent} not in {body}"))
}

fn saved_bindings(h: &Hotline) -> Vec<StoredBinding> {
    read_db(h, async |s| {
        s.load_bindings(0)
            .await
            .expect("read the bindings")
            .bindings
    })
}

/// An agent registers (Expires 3600), the engine is SIGKILLed and started
/// again: the registration comes back from the store, a caller's call rings
/// the agent's SIPp UAS, which never registered again, and the API shows the
/// agent registered. Hostile rows put into the table meanwhile are skipped
/// with a warning; an expired one is deleted.
#[test]
fn registrations_survive_a_restart_and_the_agent_is_rung_without_registering_again() {
    need_peers();
    let mut h = Hotline::start();
    let port = free_udp_port();
    register(&h, "1001", port);
    // written behind the registrar within a second
    let saved = wait_until(Duration::from_secs(5), || {
        saved_bindings(&h).iter().any(|b| b.agent == "1001")
    });
    assert!(saved, "the registration was not saved\n{}", h.report());
    let b = saved_bindings(&h)
        .into_iter()
        .find(|b| b.agent == "1001")
        .unwrap();
    assert!(
        b.contact.starts_with(&format!("sip:1001@127.0.0.1:{port}")),
        "{b:?}"
    );
    assert_eq!(b.source, format!("127.0.0.1:{port}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now + 3_500_000..now + 3_700_000).contains(&b.expires_at_ms),
        "{b:?}"
    );
    h.kill();
    // hostile and expired rows, as a damaged or tampered table would hold
    read_db(&h, async |s| {
        let mut bad = b.clone();
        bad.agent = "1002".into();
        bad.source = "'; DROP TABLE sip_bindings; --".into();
        s.save_binding(&bad, now).await.unwrap();
        let mut bad = b.clone();
        bad.agent = "1003".into();
        bad.contact = "张伟 — not a URI".into();
        s.save_binding(&bad, now).await.unwrap();
        let mut bad = b.clone();
        bad.agent = "nobody".into();
        s.save_binding(&bad, now).await.unwrap();
        let mut old = b.clone();
        old.agent = "1004".into();
        old.expires_at_ms = now - 1;
        s.save_binding(&old, now).await.unwrap();
    });
    h.restart();
    assert!(
        h.stderr()
            .contains("registrations restored from the store restored=1 expired=1 skipped=3"),
        "{}",
        h.report()
    );
    assert!(h.stderr().contains("stored registration skipped"));
    let addr = current_http_addr(&h);
    assert_eq!(agent_state(&addr, "1001")["registered"], true);
    for other in ["1002", "1003", "1004"] {
        assert_eq!(agent_state(&addr, other)["registered"], false, "{other}");
    }
    // the expired row is gone, the good one stays
    let agents: Vec<String> = saved_bindings(&h).into_iter().map(|b| b.agent).collect();
    assert!(agents.contains(&"1001".to_string()), "{agents:?}");
    assert!(!agents.contains(&"1004".to_string()), "{agents:?}");
    // the agent's phone is there at its contact and takes the call
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .timeout(Duration::from_secs(30))
        .spawn();
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0613334444")
        .duration_ms(1000)
        .run()
        .assert_success("the caller is served after the restart");
    agent
        .wait()
        .assert_success("the agent's phone is rung without registering again");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent, Some(AgentId::new("1001")), "{cdr:#?}");
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Answered));
}

/// Session timers in seconds: the config allows a Min-SE of 2 s (for tests
/// only) and offers agents 60 s.
fn short_timers() -> HotlineOptions {
    HotlineOptions {
        sip_toml: "session_expires_s = 60\nmin_se_s = 2".into(),
        ..HotlineOptions::default()
    }
}

fn answered_by_agent(h: &Hotline) -> (u16, SippProcess) {
    let port = free_udp_port();
    register(h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .timeout(Duration::from_secs(40))
        .spawn();
    (port, agent)
}

/// (a) A caller that offers `Session-Expires: 4;refresher=uac` and refreshes
/// every 1.5 s keeps its call for 9 s (more than two intervals) and hangs up
/// itself; the 200 and every refresh's 200 carry the interval with
/// `refresher=uac` (checked by the scenario).
#[test]
fn a_caller_that_refreshes_its_session_keeps_the_call_past_two_intervals() {
    need_peers();
    let h = Hotline::start_with(short_timers());
    let (_, agent) = answered_by_agent(&h);
    Sipp::new("caller_session_refresh.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0614445555")
        .key("se", "4")
        .duration_ms(1500)
        .timeout(Duration::from_secs(40))
        .run()
        .assert_success("the call lives through six refreshes and the caller hangs up");
    agent
        .wait()
        .assert_success("the agent is hung up on by the caller's end");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.ended_by, Some(EndedBy::Caller), "{cdr:#?}");
    assert_eq!(cdr.end_cause, None, "{cdr:#?}");
    assert!(cdr.talk_ms.unwrap_or(0) >= 8_000, "{cdr:#?}");
    let ev = events(&h, &cdr.call_id);
    assert!(
        find(&ev, |k| matches!(k, EventKind::SessionExpired { .. })).is_none(),
        "{:?}",
        kinds(&ev)
    );
}

/// (b) A caller that puts the call on hold (no RTP, so `media_timeout` is
/// not what ends it) and then stops refreshing: the engine ends the call
/// with `session_expired` within the interval (4 s - min(32 s, 4 s / 3)
/// after the hold re-INVITE, its last refresh), BYE to both legs.
#[test]
fn a_caller_who_stops_refreshing_on_hold_is_ended_as_session_expired() {
    need_peers();
    let h = Hotline::start_with(short_timers());
    let (_, agent) = answered_by_agent(&h);
    Sipp::new("caller_session_hold.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0615556666")
        .key("se", "4")
        .duration_ms(300)
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success("the engine hangs up on the vanished caller");
    agent.wait().assert_success("the agent is hung up on too");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.outcome,
        Some(hotline_core::Outcome::Answered),
        "{cdr:#?}"
    );
    assert_eq!(cdr.ended_by, Some(EndedBy::System), "{cdr:#?}");
    assert_eq!(
        cdr.end_cause.as_deref(),
        Some("session_expired"),
        "{cdr:#?}"
    );
    let ev = events(&h, &cdr.call_id);
    let expired = find(&ev, |k| matches!(k, EventKind::SessionExpired { .. }))
        .unwrap_or_else(|| panic!("no session_expired in {:?}", kinds(&ev)));
    assert!(
        matches!(
            expired.kind,
            EventKind::SessionExpired {
                side: Side::Caller,
                interval_ms: 4_000,
                status: None
            }
        ),
        "{expired:?}"
    );
    assert!(find(&ev, |k| matches!(k, EventKind::MediaTimeout { .. })).is_none());
    let answered = find(&ev, |k| matches!(k, EventKind::AgentAnswered { .. })).expect("answered");
    let after = expired.at_ms - answered.at_ms;
    assert!(
        (2_600..4_500).contains(&after),
        "expired {after} ms after the answer"
    );
    let k = kinds(&ev);
    let i = k.iter().position(|x| x == "session_expired").unwrap();
    assert_eq!(k[i + 1], "completed", "{k:?}");
    // a vanished far end after the answer is a dropped call (docs/kpis.md)
    let dropped = |text: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix("hotline_calls_dropped_total ")?
                .parse::<f64>()
                .ok()
        })
    };
    let mut text = String::new();
    let counted = wait_until(Duration::from_secs(5), || {
        text = http(&h.http_addr(), "GET", "/metrics").1;
        dropped(&text) == Some(1.0)
    });
    assert!(counted, "the expired session is no dropped call:\n{text}");
}

/// (c) With the shipped Min-SE (90 s), an INVITE asking for 60 s gets 422
/// with `Min-SE: 90`, and no call is created.
#[test]
fn an_invite_with_a_session_interval_below_min_se_gets_422() {
    need_peers();
    let h = Hotline::start();
    for se in ["60", "1", "89"] {
        Sipp::new("caller_session_too_small.xml")
            .remote(&h.addr())
            .service("hotline")
            .key("caller", "0616667777")
            .key("se", se)
            .run()
            .assert_success("422 with Min-SE: 90");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(cdrs(&h).is_empty());
}
