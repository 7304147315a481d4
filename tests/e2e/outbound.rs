//! Agents calling customers from their desk phone: the dial prefix and the
//! number, authenticated like a feature code, checked against the allowed
//! prefixes, dialled through the gateway (a SIPp phone here), bridged and
//! recorded like any call; refusals with a status the phone shows.

use super::*;
use hotline_core::Outcome;

/// A hotline whose agents may dial 06 numbers through 127.0.0.1:`gateway`.
fn with_outbound(gateway: u16) -> HotlineOptions {
    HotlineOptions {
        extra_toml: format!(
            r#"
[outbound]
enabled = true
prefix = "9"
dial = "sip:{{number}}@127.0.0.1:{gateway}"
allowed_prefixes = ["06"]
answer_timeout_s = 10
"#
        ),
        ..HotlineOptions::default()
    }
}

/// `agent` dials `prefix + number` and talks `talk_ms`; the SIPp output.
fn dial(h: &Hotline, agent: &str, dialled: &str, talk_ms: u64) -> SippOutput {
    Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service(dialled)
        .credentials(agent, &format!("demo{agent}"))
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(40))
        .run()
}

#[test]
fn an_agent_dials_a_customer_recorded_customer_left_agent_right() {
    need_peers();
    let gateway = free_udp_port();
    let h = Hotline::start_with(with_outbound(gateway));
    register(&h, "1001", free_udp_port());
    // the customer's phone behind the gateway answers and plays 440 Hz
    let customer = Sipp::new("agent_uas.xml")
        .port(gateway)
        .key("agent", "0612345678")
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let out = dial(&h, "1001", "90612345678", 3000);
    out.assert_success("agent dials out, talks and hangs up");
    assert!(out.logs().contains("final 200"), "{}", out.logs());
    customer
        .wait()
        .assert_success("the customer's phone answers");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.dialled, "outbound", "{cdr:#?}");
    assert_eq!(cdr.caller, "0612345678");
    assert_eq!(cdr.outcome, Some(Outcome::Answered));
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert_eq!(cdr.call_type, hotline_core::CallType::Callback);
    let k = kinds(&events(&h, &cdr.call_id));
    for name in [
        "arrived",
        "recording_opened",
        "agent_answered",
        "completed",
        "recording_closed",
    ] {
        assert!(k.contains(&name.to_string()), "no {name} in {k:?}");
    }
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().expect("recorded")),
    );
    assert_tone("customer channel", &wav.channel(0), 8000, 440.0, 0.6);
    assert_tone("agent channel", &wav.channel(1), 8000, 1000.0, 0.6);
}

#[test]
fn a_number_outside_the_allowed_prefixes_is_refused_with_its_reason() {
    need_peers();
    let gateway = free_udp_port();
    let h = Hotline::start_with(with_outbound(gateway));
    register(&h, "1001", free_udp_port());
    let out = dial(&h, "1001", "913800000000", 500);
    out.assert_success("the refusal is answered");
    assert!(out.logs().contains("final 403"), "{}", out.logs());
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        (cdr.dialled.as_str(), cdr.outcome),
        ("outbound", Some(Outcome::Rejected))
    );
    let ev = events(&h, &cdr.call_id);
    let refused = find(&ev, |k| {
        matches!(k, EventKind::Rejected { status: 403, .. })
    })
    .unwrap_or_else(|| panic!("no 403 in {:?}", kinds(&ev)));
    assert!(
        matches!(&refused.kind, EventKind::Rejected { reason, .. } if reason.contains("not an allowed number")),
        "{refused:?}"
    );
}
