#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The relay with SDES-SRTP on one or both legs, over real UDP sockets:
//! each leg its own keys, the recording tap, DTMF and tones on the plain
//! audio, and forged, tampered and replayed packets dropped and counted
//! without counting as media.

mod common;

use common::*;
use hotline_core::Side;
use hotline_media::prompt::Prompt;
use hotline_media::srtp::{SdesKey, SrtpSession, Suite};
use std::time::{Duration, Instant};

#[test]
fn a_plain_caller_and_an_srtp_agent_talk_through_the_relay_and_the_tap_hears_both() {
    let media = engine(35000, 35099, 1);
    let mut session = media.allocate("srtp-one-leg").unwrap();
    let mut digits = session.take_dtmf().unwrap();
    let (caller, agent) = (peer(), peer());
    // the phone's key (its SDP) and ours (our SDP), 32-bit tags as a phone may ask
    let phone_key = SdesKey::generate_for(1, Suite::AesCm128HmacSha1_32);
    let our_key = SdesKey::generate_for(1, Suite::AesCm128HmacSha1_32);
    let mut phone = SrtpSession::new(&phone_key, &our_key).unwrap();
    session
        .set_srtp(Side::Agent, Some((&our_key, &phone_key)))
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMA);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(256);
    session.bridge(Some(tap_tx));
    std::thread::sleep(Duration::from_millis(50));

    // caller (plain PCMU) -> agent (SRTP PCMA): protected, transcoded
    let voice = [0x2au8; 160];
    for seq in 0..5u16 {
        caller
            .send_to(
                &rtp(0, seq, u32::from(seq) * 160, 0x1111, &voice),
                addr(session.caller_port()),
            )
            .unwrap();
        let wire = recv(&agent);
        assert_eq!(wire.len(), 12 + 160 + 4, "SRTP with a 4-byte tag");
        let plain = phone.unprotect(&wire).expect("our key protects it");
        let r = rtp_rs::RtpReader::new(&plain).unwrap();
        assert_eq!(r.payload_type(), 8);
        assert_ne!(&wire[12..172], r.payload(), "encrypted on the wire");
    }
    // agent (SRTP) -> caller (plain)
    for seq in 0..5u16 {
        let p = rtp(8, 100 + seq, u32::from(seq) * 160, 0x2222, &[0xd5; 160]);
        agent
            .send_to(&phone.protect(&p).unwrap(), addr(session.agent_port()))
            .unwrap();
        let got = recv(&caller);
        let r = rtp_rs::RtpReader::new(&got).unwrap();
        assert_eq!(r.payload_type(), 0);
        assert_eq!(r.payload().len(), 160);
    }
    // the recorder got decoded frames of both sides
    let frames: Vec<_> = tap_rx.try_iter().collect();
    assert_eq!(frames.iter().filter(|f| f.side == Side::Caller).count(), 5);
    assert_eq!(frames.iter().filter(|f| f.side == Side::Agent).count(), 5);
    // the caller's key press reaches the agent protected, and is reported
    let ev = [5u8, 0x0a, 0x00, 0xa0];
    caller
        .send_to(
            &rtp(101, 50, 9000, 0x1111, &ev),
            addr(session.caller_port()),
        )
        .unwrap();
    let wire = recv(&agent);
    let plain = phone.unprotect(&wire).unwrap();
    assert_eq!(rtp_rs::RtpReader::new(&plain).unwrap().payload_type(), 96);
    assert_eq!(
        digits.blocking_recv_timeout(Duration::from_secs(2)),
        Some('5')
    );
    // a tone for the agent only goes out protected too
    session.tone_to_agent(Prompt::tone("beep", 1000.0, 60, 8000));
    let wire = recv(&agent);
    assert!(phone.unprotect(&wire).is_ok(), "the tone is SRTP");
    let s = session.stats();
    assert_eq!(s.agent.srtp_refused, 0);
    assert_eq!(s.agent.packets_in, 5);
    assert_eq!(s.caller.srtp_refused, 0);
}

/// `Receiver::blocking_recv` with a deadline, for the DTMF channel.
trait RecvTimeout {
    fn blocking_recv_timeout(&mut self, d: Duration) -> Option<char>;
}

impl RecvTimeout for tokio::sync::mpsc::Receiver<char> {
    fn blocking_recv_timeout(&mut self, d: Duration) -> Option<char> {
        let t = Instant::now();
        loop {
            if let Ok(c) = self.try_recv() {
                return Some(c);
            }
            if t.elapsed() > d {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn both_legs_srtp_each_with_its_own_keys_and_prompts_are_protected() {
    let media = engine(35100, 35199, 1);
    let session = media.allocate("srtp-two-legs").unwrap();
    let (caller, agent) = (peer(), peer());
    let (c_phone, c_ours) = (SdesKey::generate(1), SdesKey::generate(1));
    let (a_phone, a_ours) = (SdesKey::generate(7), SdesKey::generate(7));
    let mut caller_end = SrtpSession::new(&c_phone, &c_ours).unwrap();
    let mut agent_end = SrtpSession::new(&a_phone, &a_ours).unwrap();
    session
        .set_srtp(Side::Caller, Some((&c_ours, &c_phone)))
        .unwrap();
    session
        .set_srtp(Side::Agent, Some((&a_ours, &a_phone)))
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    // the greeting to the caller is protected with the caller leg's key
    session.play_to_caller(vec![Prompt::tone("greeting", 440.0, 60, 8000)], false);
    let wire = recv(&caller);
    assert_eq!(wire.len(), 12 + 160 + 10);
    assert!(caller_end.unprotect(&wire).is_ok());
    std::thread::sleep(Duration::from_millis(100));
    caller
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while caller.recv(&mut [0u8; 2048]).is_ok() {}
    caller
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    session.bridge(None);
    std::thread::sleep(Duration::from_millis(50));
    let voice = [0x33u8; 160];
    for seq in 0..5u16 {
        let p = rtp(0, seq, u32::from(seq) * 160, 0xaaaa, &voice);
        caller
            .send_to(
                &caller_end.protect(&p).unwrap(),
                addr(session.caller_port()),
            )
            .unwrap();
        let wire = recv(&agent);
        // not the caller leg's key: the agent leg has its own
        let mut wrong = SrtpSession::new(&c_phone, &c_ours).unwrap();
        assert!(wrong.unprotect(&wire).is_err());
        let plain = agent_end.unprotect(&wire).unwrap();
        assert_eq!(rtp_rs::RtpReader::new(&plain).unwrap().payload(), voice);
        let back = rtp(0, seq, u32::from(seq) * 160, 0xbbbb, &voice);
        agent
            .send_to(
                &agent_end.protect(&back).unwrap(),
                addr(session.agent_port()),
            )
            .unwrap();
        let wire = recv(&caller);
        let plain = caller_end.unprotect(&wire).unwrap();
        assert_eq!(rtp_rs::RtpReader::new(&plain).unwrap().payload(), voice);
    }
    let s = session.stats();
    assert_eq!((s.caller.packets_in, s.agent.packets_in), (5, 5));
    assert_eq!((s.caller.srtp_refused, s.agent.srtp_refused), (0, 0));
}

#[test]
fn forged_tampered_replayed_and_plain_packets_are_dropped_counted_and_are_not_media() {
    let media = engine(35200, 35299, 1);
    let session = media.allocate("srtp-hostile").unwrap();
    let (caller, agent, attacker) = (peer(), peer(), peer());
    let (phone_key, our_key) = (SdesKey::generate(1), SdesKey::generate(1));
    let mut phone = SrtpSession::new(&phone_key, &our_key).unwrap();
    session
        .set_srtp(Side::Agent, Some((&our_key, &phone_key)))
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    // announced at one address; the attacker sends from another before
    // the phone's first packet: nothing of it may be learnt
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(256);
    session.bridge(Some(tap_tx));
    std::thread::sleep(Duration::from_millis(50));
    let to_agent_port = addr(session.agent_port());
    let voice = [0x44u8; 160];
    // forged: plain RTP, random tags, a stranger's key, garbage
    let mut stranger = SrtpSession::new(&SdesKey::generate(1), &our_key).unwrap();
    let mut sent_bad = 0u64;
    for seq in 0..50u16 {
        let plain = rtp(0, seq, u32::from(seq) * 160, 0x5151, &voice);
        let mut fake_tag = plain.clone();
        fake_tag.extend_from_slice(&[seq as u8; 10]);
        for p in [
            plain.clone(),
            fake_tag,
            stranger.protect(&plain).unwrap(),
            vec![0x80; 30],
        ] {
            attacker.send_to(&p, to_agent_port).unwrap();
            sent_bad += 1;
        }
    }
    wait_for(|| session.stats().agent.srtp_refused >= sent_bad);
    let s = session.stats();
    assert_eq!(s.agent.packets_in, 0, "forged packets are not media");
    assert_eq!(tap_rx.try_iter().count(), 0, "nor recorded");
    caller
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(caller.recv(&mut [0u8; 2048]).is_err(), "nor relayed");
    caller
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    // the real phone, from its own address: relayed
    let first = phone
        .protect(&rtp(0, 1000, 160_000, 0x7777, &voice))
        .unwrap();
    agent.send_to(&first, to_agent_port).unwrap();
    assert_eq!(
        rtp_rs::RtpReader::new(&recv(&caller)).unwrap().payload(),
        voice
    );
    // replayed (by anyone) and tampered: dropped, counted
    agent.send_to(&first, to_agent_port).unwrap();
    attacker.send_to(&first, to_agent_port).unwrap();
    let mut t = phone
        .protect(&rtp(0, 1001, 160_160, 0x7777, &voice))
        .unwrap();
    t[40] ^= 0x01;
    agent.send_to(&t, to_agent_port).unwrap();
    wait_for(|| session.stats().agent.srtp_refused >= sent_bad + 2);
    let s = session.stats();
    assert_eq!(s.agent.packets_in, 1, "only the phone's one good packet");
    assert_eq!(s.agent.srtp_refused, sent_bad + 2, "{s:?}");
    assert_eq!(
        s.agent.foreign, 1,
        "the attacker's replay after the phone latched"
    );
    // the stream goes on
    let next = phone
        .protect(&rtp(0, 1002, 160_320, 0x7777, &voice))
        .unwrap();
    agent.send_to(&next, to_agent_port).unwrap();
    assert_eq!(
        rtp_rs::RtpReader::new(&recv(&caller)).unwrap().payload(),
        voice
    );
    assert_eq!(
        tap_rx.try_iter().filter(|f| f.side == Side::Agent).count(),
        2
    );
}

/// A phone that changes its key in a re-INVITE (RFC 4568 §7.1.4): the
/// relay takes the new key, packets still in flight under the old one are
/// relayed until the first one under the new key, then the old key is
/// refused; what we send keeps our key. SRTCP from the phone is
/// authenticated and counted; forged, plain or replayed RTCP is refused.
#[test]
fn a_rekeyed_srtp_leg_switches_keys_and_srtcp_is_authenticated() {
    let media = engine(35200, 35299, 1);
    let session = media.allocate("srtp-rekey").unwrap();
    let (caller, agent) = (peer_timeout(Duration::from_millis(500)), peer());
    let old_key = SdesKey::generate(1);
    let our_key = SdesKey::generate(1);
    let mut phone = SrtpSession::new(&old_key, &our_key).unwrap();
    session
        .set_srtp(Side::Agent, Some((&our_key, &old_key)))
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    session.bridge(None);
    std::thread::sleep(Duration::from_millis(50));
    let to_relay = addr(session.agent_port());
    let mut seq = 0u16;
    let packet = |seq: &mut u16| {
        *seq += 1;
        rtp(0, *seq, u32::from(*seq) * 160, 0x7777, &[0x42; 160])
    };
    // under the old key: relayed
    for _ in 0..3 {
        let p = packet(&mut seq);
        agent
            .send_to(&phone.protect(&p).unwrap(), to_relay)
            .unwrap();
        assert_eq!(recv(&caller).len(), 172);
    }
    // the re-INVITE's new key; one packet was still on its way under the old
    let new_key = SdesKey::generate(2);
    let in_flight = phone.protect(&packet(&mut seq)).unwrap();
    let stale = phone.protect(&packet(&mut seq)).unwrap();
    session.rekey_srtp(Side::Agent, &new_key);
    std::thread::sleep(Duration::from_millis(30));
    agent.send_to(&in_flight, to_relay).unwrap();
    assert_eq!(recv(&caller).len(), 172, "in flight under the old key");
    // the phone switches
    let mut phone_new = SrtpSession::new(&new_key, &our_key).unwrap();
    for _ in 0..3 {
        let p = packet(&mut seq);
        agent
            .send_to(&phone_new.protect(&p).unwrap(), to_relay)
            .unwrap();
        assert_eq!(recv(&caller).len(), 172, "under the new key");
    }
    // after the switch the old key is refused (a late packet, a forger who
    // had it)
    agent.send_to(&stale, to_relay).unwrap();
    let forged = phone.protect(&packet(&mut seq)).unwrap();
    agent.send_to(&forged, to_relay).unwrap();
    wait_for(|| session.stats().agent.srtp_refused >= 2);
    assert!(caller.recv(&mut [0u8; 2048]).is_err(), "old key relayed");
    // the other way our key did not change: the phone decrypts
    caller
        .send_to(&packet(&mut seq), addr(session.caller_port()))
        .unwrap();
    let wire = recv(&agent);
    assert!(phone_new.unprotect(&wire).is_ok());

    // SRTCP (rtcp-mux) from the phone: authenticated and counted, not relayed
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&0x7777u32.to_be_bytes());
    rr.extend_from_slice(&[0x11; 24]);
    let before = session.stats();
    let srtcp = phone_new.protect_rtcp(&rr).unwrap();
    agent.send_to(&srtcp, to_relay).unwrap();
    wait_for(|| session.stats().agent.rtcp > before.agent.rtcp);
    // replayed, plain, tampered, E = 0 with a made-up tag
    agent.send_to(&srtcp, to_relay).unwrap();
    agent.send_to(&rr, to_relay).unwrap();
    let mut bad = phone_new.protect_rtcp(&rr).unwrap();
    bad[12] ^= 0x40;
    agent.send_to(&bad, to_relay).unwrap();
    let mut e0 = rr.clone();
    e0.extend_from_slice(&[0, 0, 0, 5]);
    e0.extend_from_slice(&[0xee; 10]);
    agent.send_to(&e0, to_relay).unwrap();
    wait_for(|| session.stats().agent.srtp_refused >= before.agent.srtp_refused + 4);
    let s = session.stats();
    assert_eq!(s.agent.rtcp, before.agent.rtcp + 1, "{s:?}");
    assert_eq!(s.agent.srtp_refused, before.agent.srtp_refused + 4, "{s:?}");
    assert!(caller.recv(&mut [0u8; 2048]).is_err(), "RTCP relayed");
}
