#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Self-tests of the end-to-end peers, without hotline: every SIPp scenario
//! in this directory and the baresip config generator run against another
//! real peer (SIPp or baresip), and the audio each one sends is checked at the
//! other end. If these fail, the peers or the machine are broken, not hotline.
//!
//! `cargo test --test peers`

#[path = "../common/mod.rs"]
mod common;

use common::*;
use std::time::Duration;

/// SIPp caller (1000 Hz) -> SIPp agent UAS (440 Hz): full INVITE/180/200/ACK/BYE.
#[test]
fn sipp_caller_calls_sipp_agent() {
    need_peers();
    let agent = Sipp::new("agent_uas.xml")
        .key("agent", "1001")
        .duration_ms(200)
        .spawn();
    let caller = Sipp::new("caller.xml")
        .remote(&agent.addr())
        .service("hotline")
        .key("caller", "2001")
        .duration_ms(1000)
        .run();
    caller.assert_success("caller.xml -> agent_uas.xml");
    let agent = agent.wait();
    agent.assert_success("agent_uas.xml");
    let ladder = caller.ladder();
    assert!(ladder.contains("< SIP/2.0 180"), "{ladder}");
    assert!(
        ladder.contains("> BYE sip:1001@"),
        "BYE goes to the Contact: {ladder}"
    );
}

/// Same over TCP (`-t t1` on both sides).
#[test]
fn sipp_caller_calls_sipp_agent_over_tcp() {
    need_peers();
    let agent = Sipp::new("agent_uas.xml")
        .key("agent", "1001")
        .duration_ms(0)
        .tcp()
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    let caller = Sipp::new("caller.xml")
        .remote(&agent.addr())
        .service("4000")
        .key("caller", "2001")
        .duration_ms(500)
        .tcp()
        .run();
    caller.assert_success("caller.xml over TCP");
    agent.wait().assert_success("agent_uas.xml over TCP");
    assert!(
        caller.messages_log().contains("TCP message"),
        "{}",
        caller.report()
    );
}

/// SIPp caller (1000 Hz) -> baresip auto-answer (440 Hz): both directions of audio.
#[test]
fn sipp_caller_calls_baresip_agent() {
    need_peers();
    let phone = Baresip::answering("1001", AudioSource::Sine(440));
    let caller = Sipp::new("caller.xml")
        .remote(&format!("127.0.0.1:{}", phone.sip_port))
        .service("1001")
        .key("caller", "2001")
        .duration_ms(2000)
        .run();
    caller.assert_success("caller.xml -> baresip");
    assert!(
        phone.wait_call_ended(Duration::from_secs(5)),
        "{}",
        phone.report()
    );
    let (sent, received) = phone.last_dump();
    assert_eq!((received.rate, received.channels), (8000, 1));
    assert_tone(
        "baresip received (SIPp caller's tone)",
        &received.samples,
        8000,
        CALLER_TONE_HZ,
        0.8,
    );
    assert_tone("baresip sent", &sent.samples, 8000, AGENT_TONE_HZ, 0.9);
    assert!(
        received.duration() > Duration::from_millis(1500),
        "{:?}",
        received.duration()
    );
}

/// baresip caller (1000 Hz) -> SIPp agent UAS (440 Hz).
#[test]
fn baresip_caller_calls_sipp_agent() {
    need_peers();
    let agent = Sipp::new("agent_uas.xml")
        .key("agent", "1001")
        .duration_ms(300)
        .spawn();
    let phone = Baresip::call(
        "2001",
        &format!("sip:1001@{}", agent.addr()),
        4,
        AudioSource::Sine(1000),
    );
    agent
        .wait()
        .assert_success("agent_uas.xml <- baresip (baresip hangs up on -t)");
    let (sent, received) = phone.last_dump();
    assert_tone(
        "baresip caller received (SIPp agent's tone)",
        &received.samples,
        8000,
        AGENT_TONE_HZ,
        0.8,
    );
    assert_tone(
        "baresip caller sent",
        &sent.samples,
        8000,
        CALLER_TONE_HZ,
        0.9,
    );
}

/// baresip sending a file (aufile: 8 kHz mono S16LE), the other way round.
#[test]
fn baresip_plays_a_wav_file() {
    need_peers();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("700hz.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in sine(8000, 700.0, 0.4, 3000) {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let agent = Sipp::new("agent_uas.xml")
        .key("agent", "1001")
        .duration_ms(0)
        .spawn();
    let phone = Baresip::call(
        "2001",
        &format!("sip:1001@{}", agent.addr()),
        6,
        AudioSource::File(path),
    );
    agent
        .wait()
        .assert_success("agent_uas.xml <- baresip aufile");
    let (sent, _) = phone.last_dump();
    assert_tone("baresip aufile sent", &sent.samples, 8000, 700.0, 0.8);
}

/// The silent caller advertises a test-owned RTP port; the far end's audio
/// (here SIPp agent_uas.xml standing in for hotline's greeting) arrives there.
#[test]
fn caller_wait_greeting_receives_rtp_on_the_sink() {
    need_peers();
    let sink = RtpSink::bind();
    let answerer = Sipp::new("agent_uas.xml")
        .key("agent", "hotline")
        .duration_ms(0)
        .spawn();
    let caller = Sipp::new("caller_wait_greeting.xml")
        .remote(&answerer.addr())
        .service("hotline")
        .key("caller", "2001")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(2000)
        .run();
    caller.assert_success("caller_wait_greeting.xml");
    answerer.wait().assert_success("agent_uas.xml as answerer");
    let packets = sink.packets();
    assert!(packets.len() > 60, "only {} RTP packets", packets.len());
    assert!(packets
        .iter()
        .all(|p| p.payload_type == 0 && p.payload.len() == 160));
    assert_tone("RTP at the sink", &sink.pcm(), 8000, AGENT_TONE_HZ, 0.9);
}

/// The agent hangs up: agent_uas_hangup.xml sends BYE, caller_until_bye.xml answers it.
#[test]
fn agent_hangs_up() {
    need_peers();
    let agent = Sipp::new("agent_uas_hangup.xml")
        .key("agent", "1001")
        .duration_ms(1000)
        .spawn();
    let caller = Sipp::new("caller_until_bye.xml")
        .remote(&agent.addr())
        .service("hotline")
        .key("caller", "2001")
        .timeout(Duration::from_secs(10))
        .run();
    caller.assert_success("caller_until_bye.xml");
    agent.wait().assert_success("agent_uas_hangup.xml");
    assert!(
        caller.ladder().contains("< BYE sip:2001@"),
        "{}",
        caller.ladder()
    );
}

/// Abandon while ringing: CANCEL -> 200 + 487 -> ACK.
#[test]
fn caller_cancels_a_ringing_agent() {
    need_peers();
    let agent = Sipp::new("agent_noanswer.xml").key("agent", "1001").spawn();
    let caller = Sipp::new("caller_cancel.xml")
        .remote(&agent.addr())
        .service("hotline")
        .key("caller", "2001")
        .duration_ms(500)
        .run();
    caller.assert_success("caller_cancel.xml");
    agent.wait().assert_success("agent_noanswer.xml");
    let ladder = caller.ladder();
    for step in ["> CANCEL", "< SIP/2.0 487", "> ACK"] {
        assert!(ladder.contains(step), "{step} missing:\n{ladder}");
    }
}

/// Busy: 486 -> ACK, and the caller logs which final status it got.
#[test]
fn busy_agent_rejects() {
    need_peers();
    let agent = Sipp::new("agent_busy.xml").spawn();
    let caller = Sipp::new("caller_rejected.xml")
        .remote(&agent.addr())
        .service("1001")
        .key("caller", "2001")
        .run();
    caller.assert_success("caller_rejected.xml");
    agent.wait().assert_success("agent_busy.xml");
    assert!(caller.logs().contains("final 486"), "{}", caller.report());
    // and the normal caller fails on it (exit code != 0)
    let agent = Sipp::new("agent_busy.xml").spawn();
    let talker = Sipp::new("caller.xml")
        .remote(&agent.addr())
        .service("1001")
        .key("caller", "2001")
        .duration_ms(100)
        .timeout(Duration::from_secs(5))
        .run();
    talker.assert_failure("caller.xml must fail on 486");
}

fn registrar(user: &str, pass: &str) -> SippProcess {
    Sipp::new("peer_registrar.xml")
        .key("user", user)
        .key("pass", pass)
        .spawn()
}

/// agent_register.xml computes a valid MD5 digest (qop=auth) from the
/// injection file; a wrong password is refused; the variants check it.
#[test]
fn agent_register_digest() {
    need_peers();
    let reg = registrar("1001", "demo1001");
    let ok = Sipp::new("agent_register.xml")
        .remote(&reg.addr())
        .credentials("1001", "demo1001")
        .run();
    ok.assert_success("good password");
    reg.wait().assert_success("registrar, good password");
    let auth = ok.messages().into_iter().filter(|m| m.sent).nth(1).unwrap();
    let h = auth.headers("Authorization").join("");
    assert!(
        h.starts_with("Digest username=\"1001\",realm=\"hotline\""),
        "{h}"
    );

    let reg = registrar("1001", "demo1001");
    Sipp::new("agent_register.xml")
        .remote(&reg.addr())
        .credentials("1001", "wrong")
        .timeout(Duration::from_secs(5))
        .run()
        .assert_failure("wrong password must not register");
    drop(reg);

    let reg = registrar("1001", "demo1001");
    Sipp::new("agent_register_reject.xml")
        .remote(&reg.addr())
        .credentials("1001", "wrong")
        .run()
        .assert_success("reject variant expects 401/403");
    drop(reg);

    let reg = registrar("1001", "demo1001");
    Sipp::new("agent_unregister.xml")
        .remote(&reg.addr())
        .credentials("1001", "demo1001")
        .run()
        .assert_success("unregister");
    drop(reg);
}

/// The first 401 of a known and an unknown user compare equal through
/// challenge_fingerprint (here trivially: the fixture registrar treats
/// them alike; against hotline this is the user-enumeration check).
#[test]
fn register_challenge_fingerprints() {
    need_peers();
    let mut prints = Vec::new();
    for user in ["1001", "9999"] {
        let reg = registrar("1001", "demo1001");
        let out = Sipp::new("agent_register_challenge.xml")
            .remote(&reg.addr())
            .credentials(user, "x")
            .run();
        out.assert_success(user);
        assert!(
            out.logs().contains("challenge Digest realm=\"hotline\""),
            "{}",
            out.report()
        );
        let got = out.received();
        assert_eq!(got.len(), 1, "{}", out.report());
        prints.push(challenge_fingerprint(&got[0]));
        drop(reg);
    }
    assert_eq!(prints[0], prints[1]);
}

/// baresip's account line registers with MD5 digest (qop=auth) and then
/// answers a call on the contact it registered.
#[test]
fn baresip_agent_registers_with_digest() {
    need_peers();
    let reg = registrar("1001", "demo1001");
    let phone = Baresip::agent(&reg.addr(), "1001", "demo1001", AudioSource::Sine(440));
    assert!(
        phone.wait_registered(Duration::from_secs(5)),
        "{}",
        phone.report()
    );
    let out = reg.wait();
    out.assert_success("registrar <- baresip");
    // baresip 1.0 registers Contact <sip:1001-0x....@127.0.0.1:PORT>
    let contact = out
        .received()
        .last()
        .map(|m| header_values(m, "Contact").join(""))
        .unwrap();
    assert!(
        contact.contains(&format!("@127.0.0.1:{}", phone.sip_port)),
        "{contact}"
    );
}

/// A 183 while caller_cancel.xml pauses must not abort it.
#[test]
fn caller_cancel_survives_provisionals_during_its_pause() {
    need_peers();
    let agent = Sipp::new("peer_ring_180_183.xml")
        .key("agent", "1001")
        .spawn();
    let caller = Sipp::new("caller_cancel.xml")
        .remote(&agent.addr())
        .service("hotline")
        .key("caller", "2001")
        .duration_ms(600)
        .run();
    caller.assert_success("caller_cancel.xml with a 183 during the pause");
    agent.wait().assert_success("peer_ring_180_183.xml");
    assert!(
        caller.ladder().contains("< SIP/2.0 183"),
        "{}",
        caller.ladder()
    );
}
