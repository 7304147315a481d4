//! SDES-SRTP on a customer leg (issue 18): an agent's call out goes
//! through the gateway to a baresip phone with `mediaenc=srtp`; under
//! `[media] srtp = "optional"` with keys allowed on this (lab) network the
//! hotline offers its key, baresip answers with its own, the customer's leg
//! is SRTP while the agent's stays plain, and the recording has both voices
//! (the customer's decrypted by the relay). `required` without keys allowed
//! refuses to dial in the clear (an agent with `srtp = "optional"` of their
//! own dials, plain on their leg; the customer is never called).

use super::*;

fn outbound_toml(gateway: u16) -> String {
    format!(
        "\n[outbound]\nenabled = true\nprefix = \"9\"\ndial = \"sip:{{number}}@127.0.0.1:{gateway}\"\nallowed_prefixes = [\"06\"]\nanswer_timeout_s = 10\n"
    )
}

fn dial(h: &Hotline, agent: &str, talk_ms: u64) -> SippOutput {
    Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service("90612345678")
        .credentials(agent, &format!("demo{agent}"))
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(40))
        .run()
}

#[test]
fn a_customer_phone_with_srtp_gets_an_encrypted_leg_and_the_call_is_recorded() {
    need_peers();
    // the customer's phone: auto-answers, best-effort SRTP, 440 Hz
    let mut customer = Baresip::configure(
        AudioSource::Sine(440),
        "<sip:0612345678@127.0.0.1>;answermode=auto;regint=0;mediaenc=srtp",
    );
    let cfg = customer.dir.path().join("config");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("module\t\t\tsrtp.so\n");
    std::fs::write(&cfg, text).unwrap();
    customer.start(&[]);
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: outbound_toml(customer.sip_port),
        media_toml: "srtp_allow_without_tls = true".into(),
        ..HotlineOptions::default()
    });
    register(&h, "1001", free_udp_port());
    let out = dial(&h, "1001", 3000);
    out.assert_success("the agent dials out, talks and hangs up");
    assert!(out.logs().contains("final 200"), "{}", out.logs());

    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    let ev = events(&h, &cdr.call_id);
    let enc: Vec<&CallEvent> = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MediaEncrypted { .. }))
        .collect();
    assert_eq!(enc.len(), 1, "{:?}\n{}", kinds(&ev), h.report());
    assert!(
        matches!(&enc[0].kind, EventKind::MediaEncrypted { side: hotline_core::Side::Caller, suite } if suite.starts_with("AES_CM_128_HMAC_SHA1")),
        "{:?}",
        enc[0]
    );
    // the customer's 440 Hz (SRTP, decrypted) left, the agent's 1000 Hz right
    let wav = Wav::read(
        &h.recordings_dir()
            .join(cdr.recording_path.as_deref().expect("recorded")),
    );
    assert_tone("customer channel (SRTP)", &wav.channel(0), 8000, 440.0, 0.6);
    assert_tone("agent channel", &wav.channel(1), 8000, 1000.0, 0.6);
    // baresip decrypted what we sent it: the agent's tone
    assert!(
        customer.wait_call_ended(Duration::from_secs(5)),
        "{}",
        customer.report()
    );
    let (_sent, received) = customer.last_dump();
    assert_tone(
        "the customer heard the agent",
        &received.samples,
        8000,
        1000.0,
        0.6,
    );
    let (_, m) = http(&h.http_addr(), "GET", "/metrics");
    assert!(
        m.contains("hotline_srtp_legs_total{side=\"caller\"} 1\n"),
        "{m}"
    );
}

#[test]
fn required_srtp_never_dials_a_customer_in_the_clear() {
    need_peers();
    let dir = tempfile::tempdir().unwrap();
    let pki = super::tls::Pki::new(dir.path());
    pki.issue(2024, 2040);
    let gateway = free_udp_port();
    // the gateway would answer anything: it must never be called
    let phone = Sipp::new("agent_uas.xml")
        .port(gateway)
        .key("agent", "0612345678")
        .calls(1)
        .timeout(Duration::from_secs(8))
        .spawn();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            "{}{}",
            pki.toml(super::tls::free_tcp_port()),
            outbound_toml(gateway)
        )
            + "\n[[agents]]\nid = \"2001\"\npassword = \"demo2001\"\nsrtp = \"optional\"\n",
        media_toml: "srtp = \"required\"".into(),
        ..HotlineOptions::default()
    });
    register(&h, "2001", free_udp_port());
    let out = dial(&h, "2001", 500);
    let logs = out.logs();
    assert!(!logs.contains("final 200"), "{logs}");
    let got = phone.wait();
    assert!(
        got.received().iter().all(|m| !m.starts_with("INVITE ")),
        "the customer was dialled in the clear:\n{}",
        h.report()
    );
    assert!(
        h.log_shows("SRTP: the customer is not dialled", Duration::from_secs(5)),
        "{}",
        h.report()
    );
    let (_, m) = http(&h.http_addr(), "GET", "/metrics");
    assert!(
        m.contains("hotline_srtp_refusals_total{reason=\"no_tls\"} 1\n"),
        "{m}"
    );
}
