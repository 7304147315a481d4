#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Hostile and surprising RTP mid-call over real sockets: a 64 KB datagram,
//! a stranger's packets, the peer changing its SSRC.

mod common;

use common::*;
use hotline_core::Side;
use std::net::SocketAddr;
use std::time::Duration;

#[test]
fn oversized_datagrams_strangers_and_ssrc_changes_mid_call() {
    let media = engine(34100, 34199, 2);
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
        .send_to(&rtp(0, 1, 0, 0xaaaa, &[0x11; 160]), caller_port)
        .unwrap();
    assert_eq!(&recv(&agent)[12..], &[0x11; 160]);

    // a 64 KB datagram from the caller's own address (valid RTP header):
    // dropped, counted, never relayed cut to a packet that looks valid
    let huge = rtp(0, 2, 160, 0xaaaa, &vec![0x22; 65_507 - 12]);
    caller.send_to(&huge, caller_port).unwrap();
    // and to the agent side before the agent sent anything (its address is
    // not yet latched, so the size is what refuses it)
    stranger.send_to(&huge, agent_port).unwrap();
    // a stranger's well-formed packets mid-call: ignored
    for seq in 0..5 {
        stranger
            .send_to(&rtp(0, seq, 0, 0xbad, &[0x33; 160]), caller_port)
            .unwrap();
    }
    caller
        .send_to(&rtp(0, 3, 320, 0xaaaa, &[0x44; 160]), caller_port)
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
        .send_to(&rtp(0, 9000, 777_000, 0xcccc, &[0x55; 160]), caller_port)
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
        .send_to(&rtp(0, 9001, 777_160, 0xcccc, &[0x66; 160]), caller_port)
        .unwrap();
    assert_eq!(&recv(&agent)[12..], &[0x66; 160]);
    wait_for(|| session.stats().caller.ssrc_changes == 1);
    let s = session.stats();
    assert_eq!(s.caller.packets_in, 4, "{s:?}");
    assert_eq!(s.agent.ssrc_changes, 0);
    media.shutdown();
}
