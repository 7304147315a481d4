#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Hostile input at the SIP edge over real sockets: a slow-loris on
//! SIP-over-TCP, a connection flood from one source, a 64 KB datagram.

use hotline_sip::{AgentAccount, SipConfig, SipEvent, SipServer, TcpLimits};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::mpsc;

async fn server(tcp: TcpLimits) -> (SipServer, mpsc::Receiver<SipEvent>) {
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tcp,
        ..SipConfig::default()
    };
    let accounts = vec![AgentAccount {
        id: "1001".into(),
        password: "secret1".into(),
        algorithms: None,
        nat: false,
    }];
    SipServer::start(cfg, accounts).await.unwrap()
}

/// A TCP connection from `ip` (another loopback address = another source).
async fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

fn register(srv: SocketAddr, me: SocketAddr, n: u32) -> String {
    format!(
        "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKtcp{n}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{srv}>;tag={n}\r\nTo: <sip:1001@{srv}>\r\nCall-ID: tcp{n}\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{me};transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Reads until the peer closes (true) or `within` passes (false).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A legitimate phone registering over TCP gets its 401 challenge.
async fn tcp_register_is_answered(srv: SocketAddr, n: u32) {
    let mut tcp = TcpStream::connect(srv).await.unwrap();
    let me = tcp.local_addr().unwrap();
    tcp.write_all(register(srv, me, n).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let len = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
        .await
        .expect("an answer over TCP")
        .unwrap();
    let r = String::from_utf8_lossy(&buf[..len]);
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_on_sip_tcp_is_bounded_closed_and_counted() {
    let (srv, _events) = server(TcpLimits {
        max_per_source: 4,
        max_total: 64,
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3600),
    })
    .await;
    let addr = srv.local_addr();
    tcp_register_is_answered(addr, 1).await;
    let fds_before = open_fds();
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    // 10 connections from 127.0.0.5, each sending one byte at a time
    let mut conns = Vec::new();
    for _ in 0..10 {
        conns.push(connect_from("127.0.0.5", addr).await);
    }
    let started = Instant::now();
    let msg = register(addr, "127.0.0.5:1".parse().unwrap(), 2).into_bytes();
    let mut closed = vec![false; conns.len()];
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(3) && closed.iter().any(|c| !c) {
        for (i, c) in conns.iter_mut().enumerate() {
            if closed[i] {
                continue;
            }
            // a write to a closed connection fails (at the latest the second one)
            if c.write_all(&msg[sent % 40..sent % 40 + 1]).await.is_err() {
                closed[i] = true;
            }
        }
        sent += 1;
        // meanwhile a legitimate phone on another source is served
        if sent == 3 {
            tcp_register_is_answered(addr, 3).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (i, c) in conns.iter_mut().enumerate() {
        if !closed[i] {
            closed[i] = closed_within(c, Duration::from_millis(500)).await;
        }
    }
    assert!(
        closed.iter().all(|c| *c),
        "every slow connection is closed: {closed:?}"
    );
    let st = srv.tcp_stats();
    assert_eq!(
        st.refused.load(Ordering::Relaxed),
        6,
        "over 4 per source refused"
    );
    assert_eq!(
        st.slow.load(Ordering::Relaxed),
        4,
        "4 timed out on their header"
    );
    drop(conns);
    // nothing grows: slots, descriptors, tasks back where they were
    let settled = async {
        loop {
            if st.open.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(3), settled)
        .await
        .expect("no connection left open");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        open_fds() <= fds_before + 1,
        "fds {} -> {}",
        fds_before,
        open_fds()
    );
    let tasks_after = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert!(
        tasks_after <= tasks_before + 2,
        "tasks {tasks_before} -> {tasks_after}"
    );
    // and the source can come back with a real message
    tcp_register_is_answered(addr, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connection_that_goes_quiet_after_a_message_is_closed_when_idle() {
    let (srv, _events) = server(TcpLimits {
        idle_timeout: Duration::from_millis(800),
        ..TcpLimits::default()
    })
    .await;
    let addr = srv.local_addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let me = tcp.local_addr().unwrap();
    tcp.write_all(register(addr, me, 7).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 401"));
    // then a drip that never completes a request
    for b in b"REGISTER sip:x" {
        if tcp.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(
        closed_within(&mut tcp, Duration::from_secs(3)).await,
        "closed when idle"
    );
    assert_eq!(srv.tcp_stats().idle.load(Ordering::Relaxed), 1);
    assert_eq!(srv.tcp_stats().accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_64_kb_datagram_is_dropped_and_counted_and_the_server_keeps_serving() {
    let (srv, _events) = server(TcpLimits::default()).await;
    let addr = srv.local_addr();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let options = |id: &str, pad: usize| {
        format!(
            "OPTIONS sip:hotline@{addr} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{id}\r\nMax-Forwards: 70\r\nFrom: <sip:mon@{me}>;tag=1\r\nTo: <sip:hotline@{addr}>\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nX-Pad: {}\r\nContent-Length: 0\r\n\r\n",
            "p".repeat(pad)
        )
    };
    // the largest UDP payload over IPv4: 65,507 bytes
    let huge = options("big1", 65_507 - options("big1", 0).len());
    assert_eq!(huge.len(), 65_507);
    sock.send_to(huge.as_bytes(), addr).await.unwrap();
    sock.send_to(&vec![0xffu8; 65_507], addr).await.unwrap();
    // just over the limit, and just under it
    sock.send_to(options("big2", 8_192).as_bytes(), addr)
        .await
        .unwrap();
    sock.send_to(options("fits", 7_000).as_bytes(), addr)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
        .await
        .expect("an answer to the datagram that fits")
        .unwrap();
    let r = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        r.starts_with("SIP/2.0 200") && r.contains("Call-ID: fits"),
        "{r}"
    );
    assert_eq!(srv.oversized_count(), 3);
    // nothing else comes back
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf))
            .await
            .is_err(),
        "oversized datagrams are never answered"
    );
}
