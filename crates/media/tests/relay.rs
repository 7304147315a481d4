#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The relay over real UDP sockets on loopback: prompts, bridging with
//! transcoding, telephone-event, the recording tap and hostile packets.

mod common;

use common::*;
use hotline_core::Side;
use hotline_media::prompt::Prompt;
use hotline_media::{Codec, MediaError};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn transcode(bytes: &[u8], from: Codec, to: Codec) -> Vec<u8> {
    let mut pcm = vec![0i16; bytes.len()];
    from.decode(bytes, &mut pcm);
    let mut out = vec![0u8; bytes.len()];
    to.encode(&pcm, &mut out);
    out
}

#[test]
fn prompts_then_bridge_with_transcoding_dtmf_and_tap() {
    let media = engine(31000, 31099, 2);
    let session = media.allocate("test-call").unwrap();
    assert_ne!(session.caller_port(), session.agent_port());
    let caller = peer();
    let agent = peer();
    let to_caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    let to_agent_port: SocketAddr = format!("127.0.0.1:{}", session.agent_port())
        .parse()
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.play_to_caller(
        vec![
            Prompt::tone("greeting", 1000.0, 100, 8000),
            Prompt::tone("music", 440.0, 60, 8000),
        ],
        true,
    );

    // prompt frames: PCMU, 160 bytes, continuous numbering, looped music after the greeting
    let mut last: Option<(u16, u32)> = None;
    for i in 0..12 {
        let p = recv(&caller);
        let r = rtp_rs::RtpReader::new(&p).unwrap();
        assert_eq!(r.payload_type(), 0);
        assert_eq!(r.payload().len(), 160);
        let (seq, ts) = (u16::from(r.sequence_number()), r.timestamp());
        if let Some((s, t)) = last {
            assert_eq!(seq, s.wrapping_add(1), "frame {i}");
            assert_eq!(ts, t.wrapping_add(160), "frame {i}");
        } else {
            assert!(r.mark(), "first prompt packet carries the marker");
        }
        last = Some((seq, ts));
    }
    let (prompt_seq, _) = last.unwrap();

    // agent answers with PCMA; bridge with a recording tap
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMA);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(64);
    session.bridge(Some(tap_tx));
    std::thread::sleep(Duration::from_millis(100));
    // drain prompt frames still in flight
    caller
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 2048];
    while caller.recv(&mut buf).is_ok() {}
    caller
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();

    // caller speaks PCMU (a 1000 Hz tone) → agent hears PCMA
    let tone = Prompt::tone("t", 1000.0, 20, 8000);
    caller
        .send_to(
            &rtp(0, 500, 8000, 0x1111, tone.encoded(Codec::Pcmu)),
            to_caller_port,
        )
        .unwrap();
    let p = recv(&agent);
    let r = rtp_rs::RtpReader::new(&p).unwrap();
    assert_eq!(r.payload_type(), 8, "transcoded to the agent's codec");
    assert_eq!(
        r.payload(),
        transcode(tone.encoded(Codec::Pcmu), Codec::Pcmu, Codec::Pcma)
    );
    assert_ne!(r.ssrc(), 0x1111, "the engine sends with its own SSRC");

    // agent speaks PCMA → caller hears PCMU, numbering continues after the prompt
    let tone2 = Prompt::tone("t2", 440.0, 20, 8000);
    agent
        .send_to(
            &rtp(8, 9, 160, 0x2222, tone2.encoded(Codec::Pcma)),
            to_agent_port,
        )
        .unwrap();
    let p = recv(&caller);
    let r = rtp_rs::RtpReader::new(&p).unwrap();
    assert_eq!(r.payload_type(), 0);
    assert_eq!(
        r.payload(),
        transcode(tone2.encoded(Codec::Pcma), Codec::Pcma, Codec::Pcmu)
    );
    let seq = u16::from(r.sequence_number());
    assert!(
        seq.wrapping_sub(prompt_seq) < 100,
        "sequence continues after the prompt ({prompt_seq} → {seq})"
    );

    // telephone-event from the caller (PT 101) reaches the agent as PT 96, untouched
    let dtmf = [5u8, 0x0a, 0x00, 0xa0];
    caller
        .send_to(&rtp(101 | 0x80, 501, 8160, 0x1111, &dtmf), to_caller_port)
        .unwrap();
    let p = recv(&agent);
    let r = rtp_rs::RtpReader::new(&p).unwrap();
    assert_eq!(r.payload_type(), 96);
    assert_eq!(r.payload(), &dtmf);

    // the tap got both sides, decoded, with the original RTP numbering
    let frames: Vec<_> = tap_rx.try_iter().collect();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(
        (
            frames[0].side,
            frames[0].seq,
            frames[0].timestamp,
            frames[0].samples.len()
        ),
        (Side::Caller, 500, 8000, 160)
    );
    assert_eq!((frames[1].side, frames[1].ssrc), (Side::Agent, 0x2222));

    // hostile traffic: foreign source, garbage, RTCP, unknown payload type — all dropped, relay keeps going
    let stranger = peer();
    stranger
        .send_to(&rtp(0, 1, 1, 1, &[0xff; 160]), to_caller_port)
        .unwrap();
    caller.send_to(b"\x00\x01garbage", to_caller_port).unwrap();
    caller
        .send_to(&[0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0], to_caller_port)
        .unwrap();
    caller
        .send_to(&rtp(18, 502, 8320, 0x1111, &[0; 20]), to_caller_port)
        .unwrap();
    caller.send_to(&[0x80], to_caller_port).unwrap();
    caller
        .send_to(
            &rtp(0, 503, 8480, 0x1111, tone.encoded(Codec::Pcmu)),
            to_caller_port,
        )
        .unwrap();
    let p = recv(&agent);
    let r = rtp_rs::RtpReader::new(&p).unwrap();
    assert_eq!(
        (r.payload_type(), r.payload()),
        (
            8,
            &transcode(tone.encoded(Codec::Pcmu), Codec::Pcmu, Codec::Pcma)[..]
        ),
        "only the caller's packet is relayed"
    );
    let stats = session.stats();
    assert_eq!(stats.caller.foreign, 1, "{stats:?}");
    assert_eq!(stats.caller.malformed, 2, "{stats:?}");
    assert_eq!(stats.caller.rtcp, 1, "{stats:?}");
    assert_eq!(stats.caller.unknown_payload, 1, "{stats:?}");
    assert_eq!(stats.caller.dtmf, 1, "{stats:?}");
    assert!(stats.prompt_frames >= 12);
    assert_eq!(stats.tap_dropped, 0);

    // dropping the session frees the ports
    assert_eq!(media.active_sessions(), 1);
    drop(session);
    wait_for(|| media.active_sessions() == 0);
    media.shutdown();
}

#[test]
fn the_port_range_is_bounded_and_reused() {
    // room for exactly two sessions (4 even ports)
    let media = engine(31200, 31207, 2);
    let a = media.allocate("a").unwrap();
    let b = media.allocate("b").unwrap();
    match media.allocate("c") {
        Err(MediaError::NoPorts { active, .. }) => assert_eq!(active, 2),
        other => panic!("expected NoPorts, got {other:?}"),
    }
    drop(a);
    wait_for(|| media.active_sessions() == 1);
    let c = media.allocate("c").unwrap();
    drop((b, c));
    media.shutdown();
    assert!(matches!(media.allocate("d"), Err(MediaError::Shutdown)));
}

#[test]
fn a_port_taken_by_another_program_is_skipped() {
    let squatter = UdpSocket::bind("127.0.0.1:31300").unwrap();
    let media = engine(31300, 31307, 2);
    let s = media.allocate("x").unwrap();
    assert_ne!(s.caller_port(), 31300);
    assert_ne!(s.agent_port(), 31300);
    drop(squatter);
    media.shutdown();
}

#[test]
fn a_full_recorder_channel_never_blocks_the_relay() {
    let media = engine(31400, 31499, 2);
    let session = media.allocate("full").unwrap();
    let (caller, agent) = (peer(), peer());
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    let (tap_tx, _tap_rx) = crossbeam_channel::bounded(1);
    session.bridge(Some(tap_tx));
    std::thread::sleep(Duration::from_millis(50));
    let to: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    for i in 0..20u16 {
        caller
            .send_to(&rtp(0, i, u32::from(i) * 160, 7, &[0xff; 160]), to)
            .unwrap();
        recv(&agent);
    }
    let stats = session.stats();
    assert_eq!(stats.tapped, 1);
    assert_eq!(stats.tap_dropped, 19);
    media.shutdown();
}

#[test]
fn a_peer_sending_from_another_address_than_announced_is_learnt_once() {
    let media = engine(31500, 31599, 2);
    let session = media.allocate("nat").unwrap();
    let (caller, agent, stranger) = (peer(), peer(), peer());
    // the agent announces an address it does not send from
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, "127.0.0.1:9".parse().unwrap(), PCMU);
    session.bridge(None);
    std::thread::sleep(Duration::from_millis(50));
    let to_agent_port: SocketAddr = format!("127.0.0.1:{}", session.agent_port())
        .parse()
        .unwrap();
    let to_caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    // a packet with another payload type does not teach anything
    agent
        .send_to(&rtp(8, 1, 0, 5, &[0xd5; 160]), to_agent_port)
        .unwrap();
    agent
        .send_to(&rtp(0, 2, 160, 5, &[0x7f; 160]), to_agent_port)
        .unwrap();
    let p = recv(&caller);
    assert_eq!(&p[12..], &[0x7f; 160]);
    // the caller's audio now goes where the agent really is
    caller
        .send_to(&rtp(0, 1, 0, 6, &[0x11; 160]), to_caller_port)
        .unwrap();
    assert_eq!(&recv(&agent)[12..], &[0x11; 160]);
    // and a stranger cannot take over
    stranger
        .send_to(&rtp(0, 3, 320, 7, &[0x22; 160]), to_agent_port)
        .unwrap();
    agent
        .send_to(&rtp(0, 3, 320, 5, &[0x33; 160]), to_agent_port)
        .unwrap();
    assert_eq!(&recv(&caller)[12..], &[0x33; 160]);
    wait_for(|| session.stats().agent.foreign == 2);
    media.shutdown();
}

/// A telephone-event packet (RFC 4733): event, end bit, duration.
fn dtmf_packet(seq: u16, ts: u32, event: u8, end: bool, duration: u16) -> Vec<u8> {
    let d = duration.to_be_bytes();
    let payload = [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]];
    rtp(101, seq, ts, 0x3333, &payload)
}

#[test]
fn caller_key_presses_are_reported_once_each_before_the_bridge() {
    let media = engine(31700, 31799, 2);
    let mut session = media.allocate("ivr-call").unwrap();
    let mut digits = session.take_dtmf().expect("first take");
    assert!(session.take_dtmf().is_none(), "taken once");
    let caller = peer();
    let to_caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.play_to_caller(vec![Prompt::tone("menu", 400.0, 2000, 8000)], false);
    // one audio packet first (the usual start of a call), then key 2 as a
    // real phone sends it: several updates, three end packets, same timestamp
    caller
        .send_to(&rtp(0, 1, 0, 0x3333, &[0xff; 160]), to_caller_port)
        .unwrap();
    let mut seq = 2;
    for (end, dur) in [
        (false, 160),
        (false, 320),
        (false, 480),
        (true, 640),
        (true, 640),
        (true, 640),
    ] {
        caller
            .send_to(&dtmf_packet(seq, 1600, 2, end, dur), to_caller_port)
            .unwrap();
        seq += 1;
    }
    // then '#', of which only the end packets arrive (the start was lost)
    for _ in 0..3 {
        caller
            .send_to(&dtmf_packet(seq, 4800, 11, true, 800), to_caller_port)
            .unwrap();
        seq += 1;
    }
    // events that are not keys (flash = 16) and a truncated payload are ignored
    caller
        .send_to(&dtmf_packet(seq, 8000, 16, true, 800), to_caller_port)
        .unwrap();
    caller
        .send_to(&rtp(101, seq + 1, 9600, 0x3333, &[]), to_caller_port)
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got: Vec<char> = rt.block_on(async {
        let mut got = Vec::new();
        while got.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(3), digits.recv()).await {
                Ok(Some(d)) => got.push(d),
                _ => break,
            }
        }
        // nothing more is coming
        let more = tokio::time::timeout(Duration::from_millis(300), digits.recv()).await;
        assert!(more.is_err(), "unexpected digit {more:?}");
        got
    });
    assert_eq!(got, vec!['2', '#']);
    let stats = session.stats();
    assert_eq!(stats.caller.dtmf_digits, 2, "{stats:?}");

    // a flood of distinct key presses nobody reads: bounded, counted, no panic
    for i in 0..200u32 {
        caller
            .send_to(
                &dtmf_packet(
                    seq + 2 + i as u16,
                    20_000 + i * 800,
                    (i % 10) as u8,
                    true,
                    400,
                ),
                to_caller_port,
            )
            .unwrap();
    }
    wait_for(|| {
        let s = session.stats().caller;
        s.dtmf_digits + s.dtmf_dropped == 202
    });
    let s = session.stats().caller;
    assert_eq!(s.dtmf_digits, 2 + hotline_media::DTMF_QUEUE as u64);
    drop(session);
    media.shutdown();
}

#[test]
fn the_callers_sound_is_noticed_before_the_bridge_and_silence_is_not() {
    assert!(!hotline_media::is_voice(&[0; 160]));
    assert!(!hotline_media::is_voice(&[]));
    assert!(
        !hotline_media::is_voice(&[100; 160]),
        "-50 dBFS hiss is no voice"
    );
    let media = engine(31800, 31899, 2);
    let session = media.allocate("silent-call").unwrap();
    let caller = peer();
    let to_caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    // digital silence (PCMU 0xff) for a while: no sound yet
    for i in 0..10u16 {
        caller
            .send_to(
                &rtp(0, i, u32::from(i) * 160, 0x4444, &[0xff; 160]),
                to_caller_port,
            )
            .unwrap();
    }
    wait_for(|| session.stats().caller.packets_in == 10);
    assert_eq!(session.caller_voice_at_ms(), None);
    // then the caller speaks (a tone)
    let tone = Prompt::tone("voice", 300.0, 20, 8000);
    caller
        .send_to(
            &rtp(0, 10, 1600, 0x4444, tone.encoded(Codec::Pcmu)),
            to_caller_port,
        )
        .unwrap();
    wait_for(|| session.caller_voice_at_ms().is_some());
    drop(session);
    media.shutdown();
}

/// Every packet `s` receives within `ms`, payloads only.
fn payloads_within(s: &UdpSocket, ms: u64) -> Vec<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let until = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        if let Ok(n) = s.recv(&mut buf) {
            if let Ok(r) = rtp_rs::RtpReader::new(&buf[..n]) {
                out.push(r.payload().to_vec());
            }
        }
    }
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    out
}

/// The 160-byte frames of a prompt, PCMU.
fn frames_of(p: &Prompt) -> Vec<Vec<u8>> {
    p.encoded(Codec::Pcmu)
        .chunks(160)
        .map(|c| {
            let mut f = c.to_vec();
            f.resize(160, Codec::Pcmu.silence());
            f
        })
        .collect()
}

#[test]
fn hold_agent_tone_shared_playback_and_a_muted_tap_over_real_sockets() {
    let media = engine(31600, 31699, 2);
    let session = media.allocate("control-call").unwrap();
    let (caller, agent) = (peer(), peer());
    let to_caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    let to_agent_port: SocketAddr = format!("127.0.0.1:{}", session.agent_port())
        .parse()
        .unwrap();
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(256);
    session.bridge(Some(tap_tx));
    let voice = Prompt::tone("voice", 1000.0, 20, 8000);
    let voice_frame = voice.encoded(Codec::Pcmu).to_vec();
    let mut seq = 1u16;
    let mut send = |from: &UdpSocket, to: SocketAddr, ssrc: u32| {
        seq = seq.wrapping_add(1);
        from.send_to(&rtp(0, seq, u32::from(seq) * 160, ssrc, &voice_frame), to)
            .unwrap();
    };
    // bridged: the caller reaches the agent
    send(&caller, to_caller_port, 1);
    assert_eq!(
        rtp_rs::RtpReader::new(&recv(&agent)).unwrap().payload(),
        &voice_frame[..]
    );
    while tap_rx.try_recv().is_ok() {}

    // hold: the caller hears the music and nothing of the agent; the agent
    // hears nothing; only the caller is recorded
    let music = Prompt::tone("music", 440.0, 60, 8000);
    session.hold(vec![music.clone()]);
    std::thread::sleep(Duration::from_millis(50));
    send(&caller, to_caller_port, 1);
    send(&agent, to_agent_port, 2);
    let heard = payloads_within(&caller, 300);
    assert!(heard.len() >= 5, "music frames: {}", heard.len());
    let music_frames = frames_of(&music);
    assert!(
        heard.iter().all(|p| music_frames.contains(p)),
        "the caller on hold hears only music"
    );
    assert!(
        payloads_within(&agent, 200).is_empty(),
        "the agent hears nothing on hold"
    );
    let tapped: Vec<Side> = tap_rx.try_iter().map(|f| f.side).collect();
    assert_eq!(
        tapped,
        [Side::Caller],
        "on hold only the caller is recorded"
    );

    // back from hold: both ways again, the music stops
    session.unhold();
    std::thread::sleep(Duration::from_millis(50));
    payloads_within(&caller, 60);
    send(&agent, to_agent_port, 2);
    assert_eq!(
        rtp_rs::RtpReader::new(&recv(&caller)).unwrap().payload(),
        &voice_frame[..]
    );
    assert!(payloads_within(&caller, 100).is_empty(), "no more music");

    // the limit beep: the agent only, in place of the caller meanwhile
    let beep = Prompt::tone("beep", 1400.0, 100, 6000);
    session.tone_to_agent(beep.clone());
    std::thread::sleep(Duration::from_millis(10));
    send(&caller, to_caller_port, 1);
    let got = payloads_within(&agent, 250);
    let beep_frames = frames_of(&beep);
    assert_eq!(
        got.iter().filter(|p| beep_frames.contains(p)).count(),
        beep_frames.len(),
        "the whole beep reaches the agent"
    );
    assert!(
        !got.contains(&voice_frame),
        "the caller is not relayed over the beep"
    );
    assert!(
        payloads_within(&caller, 100).is_empty(),
        "the caller hears no beep"
    );

    // an earlier recording played to both: each hears it, not the other
    let earlier = Prompt::tone("earlier", 700.0, 200, 8000);
    session.play_to_both(earlier.clone());
    std::thread::sleep(Duration::from_millis(10));
    send(&agent, to_agent_port, 2);
    send(&caller, to_caller_port, 1);
    let earlier_frames = frames_of(&earlier);
    for (who, s) in [("caller", &caller), ("agent", &agent)] {
        let got = payloads_within(s, 250);
        assert_eq!(
            got.iter().filter(|p| earlier_frames.contains(p)).count(),
            earlier_frames.len(),
            "{who} hears the whole recording"
        );
        assert!(
            !got.contains(&voice_frame),
            "{who} does not hear the other meanwhile"
        );
    }
    // and the bridge is back by itself
    send(&caller, to_caller_port, 1);
    assert_eq!(
        rtp_rs::RtpReader::new(&recv(&agent)).unwrap().payload(),
        &voice_frame[..]
    );

    // a paused recording: the frames keep coming, as silence
    while tap_rx.try_recv().is_ok() {}
    session.mute_tap(true);
    std::thread::sleep(Duration::from_millis(20));
    send(&caller, to_caller_port, 1);
    recv(&agent);
    session.mute_tap(false);
    std::thread::sleep(Duration::from_millis(20));
    send(&caller, to_caller_port, 1);
    recv(&agent);
    let frames: Vec<_> = tap_rx.try_iter().collect();
    assert_eq!(frames.len(), 2, "both frames reach the recorder");
    assert!(frames[0].samples.iter().all(|s| *s == 0), "paused: silence");
    assert!(
        frames[1].samples.iter().any(|s| *s != 0),
        "resumed: the voice"
    );
    assert_eq!(
        frames[0].samples.len(),
        160,
        "the silence keeps the frame's length"
    );
}
