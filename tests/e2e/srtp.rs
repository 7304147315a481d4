//! SDES-SRTP with real peers: a baresip agent registered over TLS with
//! `mediaenc=srtp-mand` (SRTP or nothing) answers a SIPp caller on plain
//! RTP; the engine decrypts the agent's leg and encrypts towards it, so the
//! call is bridged and the recording has both voices on their channels. An
//! agent with `srtp = "required"` is never offered plain RTP: not rung when
//! registered over UDP, its own plain INVITE refused with 488; a caller's
//! RTP/SAVP offer over plain UDP (keys readable on the path) gets 488.

use super::calls::{caller, check_baresip_call, slow_ring};
use super::tls::{free_tcp_port, Pki};
use super::*;

/// Agent 2001: SRTP required.
const REQUIRED_AGENT: &str =
    "\n[[agents]]\nid = \"2001\"\npassword = \"demo2001\"\nsrtp = \"required\"\n";

/// A baresip agent registered over TLS as `agent` with `mediaenc`
/// answers a SIPp caller on plain RTP: the agent leg is SRTP, the call is
/// bridged and recorded with both tones, baresip hears the caller.
fn srtp_agent_answers_a_plain_caller(agent: &str, agent_toml: &str, mediaenc: &str) {
    need_peers();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let tls_port = free_tcp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!("{}{agent_toml}", pki.toml(tls_port)),
        env: vec![("HOTLINE_LOG".into(), "info,rsipstack=warn,sqlx=warn".into())],
        ..slow_ring()
    });
    // baresip with its srtp module
    let phone = AgentPhone::new(
        &h.addr(),
        agent,
        &format!("demo{agent}"),
        AudioSource::Sine(440),
    )
    .over_tls(tls_port, &pki.path("ca.pem"))
    .mediaenc(mediaenc)
    .start();
    assert!(
        phone.wait_registered(Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    let out = caller(&h, 5000).run();
    out.assert_success("a plain RTP caller talks to the SRTP agent");
    assert!(
        phone.stdout().contains("Call established"),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    let l = h.log();
    assert!(
        l.contains("SRTP on the agent leg (SDES)"),
        "the agent leg is not SRTP:\n{}",
        h.report()
    );
    // left: the caller's 1000 Hz (plain RTP), right: baresip's 440 Hz
    // (SRTP, decrypted by the engine), the whole call; baresip decrypted
    // what the engine sent it: the caller's tone
    check_baresip_call(&h, &phone, agent, "SRTP agent received (caller's tone)");
}

#[test]
fn a_baresip_agent_with_mandatory_srtp_over_tls_talks_to_a_plain_rtp_caller_and_is_recorded() {
    // required: we offer RTP/SAVP only, as srtp-mand wants
    srtp_agent_answers_a_plain_caller("2001", REQUIRED_AGENT, "srtp-mand");
}

#[test]
fn a_baresip_agent_with_best_effort_srtp_gets_srtp_from_an_optional_policy() {
    // optional (the default): RTP/AVP with our key; baresip's best-effort
    // srtp takes it and answers with its own
    srtp_agent_answers_a_plain_caller("1002", "", "srtp");
}

#[test]
fn a_required_agent_is_never_offered_plain_rtp_and_savp_over_udp_gets_488() {
    need_peers();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let tls_port = free_tcp_port();
    let gateway = free_udp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            "{}{REQUIRED_AGENT}\n[outbound]\nenabled = true\nprefix = \"9\"\ndial = \"sip:{{number}}@127.0.0.1:{gateway}\"\nallowed_prefixes = [\"06\"]\nanswer_timeout_s = 10\n",
            pki.toml(tls_port)
        ),
        ..HotlineOptions::default()
    });
    // 2001 registered over UDP: SDES keys cannot reach it, so it is not rung
    register(&h, "2001", free_udp_port());
    let out = caller(&h, 2500).run();
    out.assert_success("the engine answers the caller itself");
    let l = h.log();
    assert!(
        l.contains("SRTP required for the agent but the phone is not registered over TLS"),
        "{}",
        h.report()
    );
    assert!(
        !l.contains("offering call"),
        "the required agent was rung:\n{}",
        h.report()
    );
    let times = l.matches("not registered over TLS: not rung").count();
    assert!(times <= 3, "offered {times} times:\n{}", h.report());
    // its own INVITE with plain RTP: 488, the customer is not dialled
    let out = Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service("90612345678")
        .credentials("2001", "demo2001")
        .duration_ms(1000)
        .timeout(Duration::from_secs(20))
        .run();
    out.assert_success("the required agent's plain INVITE is refused");
    assert!(out.logs().contains("final 488"), "{}", out.logs());
    // a caller offering RTP/SAVP over UDP: keys readable on the path, 488
    let out = Sipp::new("caller_savp_rejected.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612340000")
        .run();
    out.assert_success("SAVP caller refused");
    assert!(out.logs().contains("final 488"), "{}", out.logs());
    assert!(
        h.log_shows("SRTP: offer refused (488)", Duration::from_secs(5)),
        "no reason logged:\n{}",
        h.report()
    );
    // the refusal is in the event log with its reason
    // (written by the writer task: it can lag the 488)
    let refused = || {
        all_events(&h)
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Rejected {
                    status: 488,
                    reason,
                } => Some(reason),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(5), || refused()
            .iter()
            .any(|r| r.starts_with("SRTP: ") && r.contains("TLS"))),
        "{:?}",
        refused()
    );
    // ... and on /metrics, with the agent who was not rung
    let (_, m) = http(&h.http_addr(), "GET", "/metrics");
    for (line, min) in [
        ("hotline_srtp_refusals_total{reason=\"no_tls\"} ", 2),
        (
            "hotline_srtp_refusals_total{reason=\"agent_not_on_tls\"} ",
            1,
        ),
    ] {
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} not in /metrics:\n{m}"));
        assert!(n >= min, "{line}{n}");
    }
}
