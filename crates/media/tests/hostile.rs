#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Hostile and surprising RTP mid-call over real sockets: a 64 KB datagram,
//! a stranger's packets, the peer changing its SSRC.

use hotline_core::Side;
use hotline_media::sdp::Negotiated;
use hotline_media::{Codec, MediaConfig, MediaEngine};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const PCMU: Negotiated = Negotiated {
    codec: Codec::Pcmu,
    payload_type: 0,
    telephone_event: Some(101),
};

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

fn rtp(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v[2..4].copy_from_slice(&seq.to_be_bytes());
    v[4..8].copy_from_slice(&ts.to_be_bytes());
    v[8..12].copy_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = s.recv(&mut buf).expect("an RTP packet");
    buf[..n].to_vec()
}

fn wait_for(mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "condition not reached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn oversized_datagrams_strangers_and_ssrc_changes_mid_call() {
    let media = MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min: 34100,
        port_max: 34199,
        workers: 2,
    })
    .unwrap();
    let session = media.allocate("hostile").unwrap();
    let (caller, agent, stranger) = (peer(), peer(), peer());
    session.set_remote(Side::Caller, caller.local_addr().unwrap(), PCMU);
    session.set_remote(Side::Agent, agent.local_addr().unwrap(), PCMU);
    session.bridge(None);
    std::thread::sleep(Duration::from_millis(50));
    let caller_port: SocketAddr = format!("127.0.0.1:{}", session.caller_port())
        .parse()
        .unwrap();
    let agent_port: SocketAddr = format!("127.0.0.1:{}", session.agent_port())
        .parse()
        .unwrap();

    // the call is up: the caller talks
    caller
        .send_to(&rtp(1, 0, 0xaaaa, &[0x11; 160]), caller_port)
        .unwrap();
    assert_eq!(&recv(&agent)[12..], &[0x11; 160]);

    // a 64 KB datagram from the caller's own address (valid RTP header):
    // dropped, counted, never relayed cut to a packet that looks valid
    let huge = rtp(2, 160, 0xaaaa, &vec![0x22; 65_507 - 12]);
    caller.send_to(&huge, caller_port).unwrap();
    // and to the agent side before the agent sent anything (its address is
    // not yet latched, so the size is what refuses it)
    stranger.send_to(&huge, agent_port).unwrap();
    // a stranger's well-formed packets mid-call: ignored
    for seq in 0..5 {
        stranger
            .send_to(&rtp(seq, 0, 0xbad, &[0x33; 160]), caller_port)
            .unwrap();
    }
    caller
        .send_to(&rtp(3, 320, 0xaaaa, &[0x44; 160]), caller_port)
        .unwrap();
    let p = recv(&agent);
    assert_eq!(
        &p[12..],
        &[0x44; 160],
        "the next packet relayed is the caller's own"
    );
    wait_for(|| {
        let s = session.stats();
        s.caller.oversized == 1 && s.caller.foreign == 5 && s.agent.oversized == 1
    });
    let out_ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
    let seq_before = u16::from_be_bytes([p[2], p[3]]);

    // the caller's phone restarts its stream with a new SSRC: accepted,
    // relayed in sequence with a marker, noted
    caller
        .send_to(&rtp(9000, 777_000, 0xcccc, &[0x55; 160]), caller_port)
        .unwrap();
    let q = recv(&agent);
    assert_eq!(&q[12..], &[0x55; 160]);
    assert_eq!(
        u32::from_be_bytes([q[8], q[9], q[10], q[11]]),
        out_ssrc,
        "our SSRC stays"
    );
    assert_eq!(
        u16::from_be_bytes([q[2], q[3]]),
        seq_before.wrapping_add(1),
        "in sequence"
    );
    assert!(q[1] & 0x80 != 0, "marker on the new source");
    caller
        .send_to(&rtp(9001, 777_160, 0xcccc, &[0x66; 160]), caller_port)
        .unwrap();
    assert_eq!(&recv(&agent)[12..], &[0x66; 160]);
    wait_for(|| session.stats().caller.ssrc_changes == 1);
    let s = session.stats();
    assert_eq!(s.caller.packets_in, 4, "{s:?}");
    assert_eq!(s.agent.ssrc_changes, 0);
    media.shutdown();
}
