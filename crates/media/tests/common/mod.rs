//! What the relay tests over real UDP sockets share (relay.rs, monitor.rs,
//! hostile.rs, srtp_relay.rs): the engine on a port range, loopback peers,
//! RTP packets built and received, the negotiated codecs, waiting.

#![allow(dead_code)] // each test file uses its part

use hotline_media::sdp::Negotiated;
use hotline_media::{Codec, MediaConfig, MediaEngine};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// PCMU with telephone-event 101.
pub const PCMU: Negotiated = Negotiated {
    codec: Codec::Pcmu,
    payload_type: 0,
    telephone_event: Some(101),
};

/// PCMA with telephone-event 96.
pub const PCMA: Negotiated = Negotiated {
    codec: Codec::Pcma,
    payload_type: 8,
    telephone_event: Some(96),
};

/// A media engine on 127.0.0.1 with ports `min..=max` and `workers` threads.
pub fn engine(min: u16, max: u16, workers: usize) -> MediaEngine {
    MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min: min,
        port_max: max,
        workers,
    })
    .unwrap()
}

/// A loopback peer whose reads give up after 3 s.
pub fn peer() -> UdpSocket {
    peer_timeout(Duration::from_secs(3))
}

/// A loopback peer whose reads give up after `timeout`.
pub fn peer_timeout(timeout: Duration) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s
}

/// 127.0.0.1:`port` (the engine's side of a leg).
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An RTP packet (version 2, no marker, no extension).
pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v[2..4].copy_from_slice(&seq.to_be_bytes());
    v[4..8].copy_from_slice(&ts.to_be_bytes());
    v[8..12].copy_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// The next datagram `s` receives, whole (up to 64 KiB); panics on timeout.
pub fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = s.recv(&mut buf).expect("an RTP packet");
    buf[..n].to_vec()
}

/// Waits until `f` holds, at most 5 s.
pub fn wait_for(mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "condition not reached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
