//! Interop and hostile input at the SIP and HTTP edges (issue 19): agents
//! rung at their Contact (RFC 3261), through their Path (RFC 3327), at the
//! REGISTER's source only where NAT is evident; the binary's listeners
//! against a slow-loris and a 64 KB datagram.

use super::*;
use std::time::Instant;

/// 1 s on / 1 s off: agents answer long before the engine would.
fn slow_ring() -> HotlineOptions {
    HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        ..HotlineOptions::default()
    }
}

/// Registers `agent` from `from_ip` (SIPp) for Contact `contact`, with one
/// extra header line.
fn register_for(h: &Hotline, agent: &str, from_ip: &str, contact: &str, extra: &str) -> SippOutput {
    let out = Sipp::new("agent_register_contact.xml")
        .local_ip(from_ip)
        .remote(&h.addr())
        .key("contact", contact)
        .key("extra", extra)
        .credentials(agent, &format!("demo{agent}"))
        .run();
    out.assert_success(&format!("register {agent} from {from_ip} for {contact}"));
    out
}

/// An answering phone (agent_uas.xml) listening on `ip:port`.
fn phone_at(agent: &str, ip: &str, port: u16) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .local_ip(ip)
        .port(port)
        .key("agent", agent)
        .duration_ms(0)
        .timeout(Duration::from_secs(30))
        .spawn()
}

/// One call from a SIPp caller that talks 1.5 s; asserts an agent answered it.
fn call_answered_by_agent(h: &Hotline) {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(1500)
        .run()
        .assert_success("the caller talks");
    let answered = wait_until(Duration::from_secs(5), || {
        all_events(h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::AgentAnswered { .. }))
    });
    assert!(answered, "no agent answered\n{}", h.report());
}

#[test]
fn a_third_party_registration_is_rung_at_its_contact() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    // the phone listens on 127.0.0.2; a registrar acting for it sends from 127.0.0.3
    let port = free_udp_port();
    let phone = phone_at("1001", "127.0.0.2", port);
    register_for(
        &h,
        "1001",
        "127.0.0.3",
        &format!("127.0.0.2:{port}"),
        "X-Registered-By: registrar",
    );
    call_answered_by_agent(&h);
    let out = phone.wait();
    out.assert_success("the phone at the Contact takes the call");
    let invite = out
        .messages()
        .into_iter()
        .find(|m| m.first_line().starts_with("INVITE "))
        .expect("an INVITE at the Contact");
    assert!(
        invite.first_line().contains(&format!("@127.0.0.2:{port}")),
        "{}",
        invite.first_line()
    );
}

#[test]
fn a_nated_contact_is_rung_at_the_register_source() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    // a phone behind NAT: its Contact names its LAN address, its REGISTER
    // comes from the NAT's public side (here 127.0.0.1:port)
    let port = free_udp_port();
    Sipp::new("agent_register_contact.xml")
        .port(port)
        .remote(&h.addr())
        .key("contact", "192.168.77.20:5060")
        .key("extra", "X-Behind: nat")
        .credentials("1001", "demo1001")
        .run()
        .assert_success("register with a private Contact");
    let phone = phone_at("1001", "127.0.0.1", port);
    call_answered_by_agent(&h);
    let out = phone.wait();
    out.assert_success("the phone at the REGISTER's source takes the call");
    let invite = out
        .messages()
        .into_iter()
        .find(|m| m.first_line().starts_with("INVITE "))
        .expect("an INVITE at the source");
    // the Request-URI stays the registered Contact (RFC 3261)
    assert!(
        invite.first_line().contains("@192.168.77.20:5060"),
        "{}",
        invite.first_line()
    );
}

#[test]
fn a_register_with_path_is_answered_with_it_and_rung_through_it() {
    need_peers();
    let h = Hotline::start_with(slow_ring());
    // an edge proxy on 127.0.0.4 added Path; the phone behind it is not
    // reachable from the hotline (127.0.0.2:9, nobody there): the INVITE
    // must go to the proxy, with the Path as Route
    let port = free_udp_port();
    let path = format!("<sip:127.0.0.4:{port};lr>");
    let proxy = phone_at("1001", "127.0.0.4", port);
    let reg = register_for(
        &h,
        "1001",
        "127.0.0.3",
        "127.0.0.2:9",
        &format!("Path: {path}"),
    );
    let ok = reg
        .messages()
        .into_iter()
        .find(|m| m.status() == Some(200))
        .expect("a 200 to the REGISTER");
    assert_eq!(ok.headers("Path"), vec![path.clone()], "Path echoed");
    call_answered_by_agent(&h);
    let out = proxy.wait();
    out.assert_success("the Path proxy receives the INVITE");
    let invite = out
        .messages()
        .into_iter()
        .find(|m| m.first_line().starts_with("INVITE "))
        .expect("an INVITE at the proxy");
    assert!(
        invite.first_line().contains("@127.0.0.2:9"),
        "{}",
        invite.first_line()
    );
    assert_eq!(invite.headers("Route"), vec![path]);
}

/// True when the peer closes within `within` (reads until EOF or error).
fn closed_within(s: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).ok();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn the_binarys_http_listener_bounds_a_slow_loris_and_sip_drops_a_64_kb_datagram() {
    use std::io::Write;
    let h = Hotline::start_with(HotlineOptions {
        http_toml: "header_timeout_s = 1\nmax_connections_per_source = 4\n".into(),
        ..HotlineOptions::default()
    });
    let listener: std::net::SocketAddr = h.http_addr().parse().unwrap();
    // four connections sending a header a byte at a time take the source's slots
    let mut conns: Vec<std::net::TcpStream> = (0..4)
        .map(|_| std::net::TcpStream::connect(listener).unwrap())
        .collect();
    let started = Instant::now();
    for c in conns.iter_mut() {
        c.write_all(b"G").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    // a fifth from the same source is closed at once
    let mut fifth = std::net::TcpStream::connect(listener).unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok();
    assert!(
        closed_within(&mut fifth, Duration::from_millis(500)),
        "over the per-source limit"
    );
    for b in b"ET /hea" {
        for c in conns.iter_mut() {
            c.write_all(&[*b]).ok();
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    // the slow ones are closed after the 1 s header timeout
    for (i, c) in conns.iter_mut().enumerate() {
        assert!(
            closed_within(c, Duration::from_secs(3)),
            "connection {i} still open after {:?}",
            started.elapsed()
        );
    }
    // and the source is served again
    std::thread::sleep(Duration::from_millis(100));
    let (status, body) = http(&h.http_addr(), "GET", "/health");
    assert_eq!((status, body.trim()), (200, "ok"));

    // a 64 KB datagram to SIP: dropped unanswered, the server keeps serving
    let mut sip = RawSip::new(&h);
    sip.send(&vec![b'X'; 65_507]);
    let uri = format!("sip:hotline@{}", h.addr());
    let big = sip.request(
        "OPTIONS",
        &uri,
        &format!("X-Pad: {}\r\n", "p".repeat(60_000)),
        "",
    );
    sip.send(big.as_bytes());
    assert!(
        sip.final_response(Duration::from_millis(500)).is_none(),
        "never answered"
    );
    let req = sip.request("OPTIONS", &uri, "", "");
    sip.send(req.as_bytes());
    let resp = sip
        .final_response(Duration::from_secs(3))
        .expect("OPTIONS answered");
    assert_eq!(status_of(&resp), Some(200), "{resp}");
}
