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

/// Server-side sockets of `port` still holding a descriptor here
/// (ESTABLISHED or CLOSE_WAIT in /proc/net/tcp): the connections a server
/// on that port has not closed. Process-wide descriptor counts are noisy
/// while other tests run in parallel.
fn server_sockets(port: u16) -> usize {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    tcp.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && matches!(f.get(3), Some(&"01") | Some(&"08"))
        })
        .count()
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
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    // 10 connections from 127.0.0.5, each sending one byte at a time
    let mut conns = Vec::new();
    for _ in 0..10 {
        conns.push(connect_from("127.0.0.5", addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server_sockets(addr.port()) >= 4, "the slow ones are seen");
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
    assert_eq!(
        server_sockets(addr.port()),
        0,
        "every server-side socket closed"
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

// ---------------------------------------------------------------------------
// 10,000 REGISTERs from 10,000 users
// ---------------------------------------------------------------------------

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(s.as_bytes()))
}

/// A REGISTER for `user` from `me`, answering `nonce` with `password` when given.
fn register_udp(srv: SocketAddr, me: SocketAddr, user: &str, auth: Option<(&str, &str)>) -> String {
    let authz = auth
        .map(|(nonce, pw)| {
            let uri = format!("sip:{srv}");
            let ha1 = md5_hex(&format!("{user}:hotline:{pw}"));
            let ha2 = md5_hex(&format!("REGISTER:{uri}"));
            let resp = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
            format!("Authorization: Digest username=\"{user}\", realm=\"hotline\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n")
        })
        .unwrap_or_default();
    let cseq = if auth.is_some() { 2 } else { 1 };
    format!(
        "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{user}x{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{srv}>;tag={user}\r\nTo: <sip:{user}@{srv}>\r\nCall-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{me}>\r\nExpires: 600\r\n{authz}Content-Length: 0\r\n\r\n"
    )
}

fn header_param(msg: &str, name: &str) -> Option<String> {
    let start = msg.find(&format!("{name}=\""))? + name.len() + 2;
    let end = msg[start..].find('"')? + start;
    Some(msg[start..end].to_string())
}

/// Sends one message per user from `ip` at about 100/s and collects the
/// answers: (status, Call-ID user, nonce). Users left unanswered are sent
/// again up to twice (as a UA retransmits over UDP); the first pass's count
/// of answers is returned too.
async fn spray(
    srv: SocketAddr,
    ip: &str,
    users: Vec<String>,
    make: impl Fn(SocketAddr, &str) -> String,
) -> (Vec<(u16, String, Option<String>)>, usize) {
    let sock = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
    let me = sock.local_addr().unwrap();
    let mut answers: Vec<(u16, String, Option<String>)> = Vec::new();
    let mut buf = vec![0u8; 65_535];
    let mut todo = users;
    let mut first_pass = 0;
    for pass in 0..3 {
        for chunk in todo.chunks(10) {
            for u in chunk {
                sock.send_to(make(me, u).as_bytes(), srv).await.unwrap();
            }
            let until = tokio::time::Instant::now() + Duration::from_millis(100);
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(until, sock.recv_from(&mut buf)).await
            {
                answers.push(parse_answer(&buf[..n]));
            }
        }
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(1000), sock.recv_from(&mut buf)).await
        {
            answers.push(parse_answer(&buf[..n]));
        }
        if pass == 0 {
            first_pass = answers.len();
        }
        let seen: std::collections::HashSet<&str> =
            answers.iter().map(|(_, u, _)| u.as_str()).collect();
        todo.retain(|u| !seen.contains(u.as_str()));
        if todo.is_empty() || answers.iter().any(|(s, _, _)| *s == 403) {
            break;
        }
    }
    (answers, first_pass)
}

fn parse_answer(b: &[u8]) -> (u16, String, Option<String>) {
    let m = String::from_utf8_lossy(b);
    let status = m.get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0);
    let user = m
        .lines()
        .find_map(|l| l.strip_prefix("Call-ID: reg-"))
        .unwrap_or_default()
        .to_string();
    (status, user, header_param(&m, "nonce"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_registers_from_ten_thousand_users_keep_every_table_bounded() {
    // 10,000 configured users u0..u9999 besides 1001
    let mut accounts: Vec<AgentAccount> = (0..10_000)
        .map(|i| AgentAccount {
            id: format!("u{i}"),
            password: format!("pw-{i}"),
            algorithms: None,
            nat: false,
        })
        .collect();
    accounts.push(AgentAccount {
        id: "1001".into(),
        password: "secret1".into(),
        algorithms: None,
        nat: false,
    });
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_expires_s: 3600,
        ..SipConfig::default()
    };
    let (srv, mut events) = SipServer::start(cfg, accounts).await.unwrap();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let addr = srv.local_addr();
    let sources: Vec<String> = (1..=25).map(|k| format!("127.0.9.{k}")).collect();
    let per_source = 10_000 / sources.len();
    let users_of = |prefix: &str, k: usize| -> Vec<String> {
        (k * per_source..(k + 1) * per_source)
            .map(|i| format!("{prefix}{i}"))
            .collect()
    };
    let rss_start = rss_kib();

    // 1. 10,000 unknown users, no credentials: 10,000 401s, no state; the
    // same flood again once the stack's finished transactions expired
    // (32 s) reuses the memory of the first
    let mut round = Vec::new();
    let mut held = 0;
    for pass in 0..2 {
        if pass == 1 {
            held = srv.table_sizes().stack_transactions;
            let expired = async {
                while srv.table_sizes().stack_transactions > 100 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(45), expired)
                .await
                .expect("finished transactions expire");
        }
        let started = Instant::now();
        let tasks: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(k, ip)| {
                let users = users_of(&format!("x{pass}n"), k);
                let ip = ip.clone();
                tokio::spawn(async move {
                    spray(addr, &ip, users, |me, u| register_udp(addr, me, u, None)).await
                })
            })
            .collect();
        let (mut answered, mut first) = (0, 0);
        for t in tasks {
            let (a, f) = t.await.unwrap();
            assert!(a.iter().all(|(s, _, _)| *s == 401), "only 401s");
            let users: std::collections::HashSet<&str> =
                a.iter().map(|(_, u, _)| u.as_str()).collect();
            answered += users.len();
            first += f;
        }
        round.push((answered, first, started.elapsed(), rss_kib()));
    }
    for (answered, _, took, _) in &round {
        assert!(
            *answered >= 9_900,
            "answered {answered} of 10,000 in {took:?}"
        );
    }
    let t = srv.table_sizes();
    assert_eq!(
        (
            t.bindings,
            t.lockout_sources,
            t.lockout_users,
            t.lockout_proofs
        ),
        (0, 0, 0, 0),
        "unknown users leave nothing"
    );

    // 2. 10,000 guesses at unknown names (wrong answers to real nonces):
    // every source is banned after 10, the tables stay small
    let tasks: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(k, ip)| {
            let users = users_of("g", k);
            let ip = ip.clone();
            tokio::spawn(async move {
                // a nonce issued to this source first
                let (first, _) = spray(addr, &ip, users[..1].to_vec(), |me, u| {
                    register_udp(addr, me, u, None)
                })
                .await;
                let nonce = first[0].2.clone().unwrap();
                spray(addr, &ip, users, move |me, u| {
                    register_udp(addr, me, u, Some((&nonce, "guess")))
                })
                .await
                .0
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        let a = t.await.unwrap();
        assert!(a.iter().all(|(s, _, _)| *s == 401 || *s == 403), "{a:?}");
        // distinct users answered (a late answer may come twice after a resend)
        let users: std::collections::HashSet<&str> = a.iter().map(|(_, u, _)| u.as_str()).collect();
        refused += users.len();
    }
    let t = srv.table_sizes();
    let bans = srv.auth_bans();
    assert_eq!(
        bans.len(),
        sources.len(),
        "every guessing source banned: {bans:?}"
    );
    // 10 failures ban a source; requests already in flight when the ban
    // falls (up to a burst of 10 here) are still answered
    assert!(
        refused <= sources.len() * 20,
        "{refused} answers: the rest were dropped"
    );
    assert!(
        t.lockout_users <= sources.len() * 20 && t.lockout_sources == sources.len(),
        "{t:?}"
    );

    // 3. 10,000 configured users register for real (from other sources)
    let started = Instant::now();
    let legit: Vec<String> = (1..=25).map(|k| format!("127.0.10.{k}")).collect();
    let tasks: Vec<_> = legit
        .iter()
        .enumerate()
        .map(|(k, ip)| {
            let users = users_of("u", k);
            let ip = ip.clone();
            tokio::spawn(async move {
                let sock = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
                let me = sock.local_addr().unwrap();
                let mut ok = 0;
                let mut buf = vec![0u8; 65_535];
                for chunk in users.chunks(20) {
                    for u in chunk {
                        sock.send_to(register_udp(addr, me, u, None).as_bytes(), addr)
                            .await
                            .unwrap();
                    }
                    let mut pending: std::collections::HashSet<String> =
                        chunk.iter().cloned().collect();
                    let mut timeouts = 0;
                    while !pending.is_empty() {
                        let Ok(Ok((n, _))) = tokio::time::timeout(
                            Duration::from_millis(1000),
                            sock.recv_from(&mut buf),
                        )
                        .await
                        else {
                            // a datagram lost in the burst: start those again,
                            // as a phone retransmits
                            timeouts += 1;
                            if timeouts > 6 {
                                break;
                            }
                            for u in &pending {
                                sock.send_to(register_udp(addr, me, u, None).as_bytes(), addr)
                                    .await
                                    .unwrap();
                            }
                            continue;
                        };
                        let (status, user, nonce) = parse_answer(&buf[..n]);
                        match (status, nonce) {
                            (401, Some(nonce)) => {
                                let i: usize = user[1..].parse().unwrap();
                                let pw = format!("pw-{i}");
                                let m = register_udp(addr, me, &user, Some((&nonce, &pw)));
                                sock.send_to(m.as_bytes(), addr).await.unwrap();
                            }
                            (200, _) => {
                                if pending.remove(&user) {
                                    ok += 1;
                                }
                            }
                            other => panic!("{user}: {other:?}"),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                ok
            })
        })
        .collect();
    let mut registered = 0;
    for t in tasks {
        registered += t.await.unwrap();
    }
    let took_legit = started.elapsed();
    assert!(
        registered >= 9_900,
        "{registered} of 10,000 registered in {took_legit:?}"
    );
    assert_eq!(srv.table_sizes().bindings, registered);
    let rss_end = rss_kib();

    // 4. the agent's own phone still registers
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let (a, _) = spray(addr, "127.0.0.1", vec!["1001".into()], |me2, u| {
        register_udp(addr, me2, u, None)
    })
    .await;
    let nonce = a[0].2.clone().unwrap();
    sock.send_to(
        register_udp(addr, me, "1001", Some((&nonce, "secret1"))).as_bytes(),
        addr,
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_answer(&buf[..n]).0, 200);

    // figures (run with --nocapture to read them)
    let (a1, f1, t1, r1) = round[0];
    let (a2, f2, t2, r2) = round[1];
    println!(
        "10k REGISTER figures: unknown flood 1 answered {a1} ({f1} at the first try) in {t1:?}, RSS {rss_start} -> {r1} KiB; \
         stack transactions held after it {held}; flood 2 (after they expired) answered {a2} ({f2} at the first try) in {t2:?}, RSS {r2} KiB; 10,000 agents registered in {took_legit:?}, RSS {rss_end} KiB; tables {:?}",
        srv.table_sizes()
    );
    // the second identical flood does not grow memory further: nothing is
    // kept per user, and the stack's finished transactions expired
    assert!(
        r2 <= r1 + 8 * 1024,
        "RSS grew {} KiB between two identical floods",
        r2.saturating_sub(r1)
    );
}
