#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The registrar, OPTIONS and the malformed-message gate over real UDP/TCP
//! sockets on loopback, with messages written by hand (SIPp and baresip drive
//! the same paths in the end-to-end tests of the `hotline` binary).

use hotline_sip::lockout::{BanTarget, LockoutConfig, LockoutEvent};
use hotline_sip::{AgentAccount, DigestAlgorithm, SipConfig, SipEvent, SipServer};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

async fn server(nonce_ttl_ms: i64, min_expires_s: u32) -> (SipServer, mpsc::Receiver<SipEvent>) {
    guarded_server(nonce_ttl_ms, min_expires_s, LockoutConfig::default()).await
}

async fn guarded_server(
    nonce_ttl_ms: i64,
    min_expires_s: u32,
    lockout: LockoutConfig,
) -> (SipServer, mpsc::Receiver<SipEvent>) {
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        nonce_ttl_ms,
        min_expires_s,
        ..SipConfig::default()
    };
    let accounts = vec![
        AgentAccount {
            id: "1001".into(),
            password: "secret1".into(),
            algorithms: None,
            nat: false,
        },
        AgentAccount {
            id: "1002".into(),
            password: "secret2".into(),
            algorithms: Some(vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5]),
            nat: false,
        },
        // configured behind NAT
        AgentAccount {
            id: "1003".into(),
            password: "secret3".into(),
            algorithms: None,
            nat: true,
        },
    ];
    SipServer::start_with_lockout(cfg, accounts, lockout)
        .await
        .unwrap()
}

struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    cseq: u32,
    call_id: String,
    /// Contact URI to register instead of the phone's own address.
    contact: Option<String>,
    /// Extra header lines (with CRLF) for every REGISTER.
    extra: String,
}

impl Phone {
    async fn new(server: SocketAddr) -> Phone {
        Phone::bind(server, "127.0.0.1").await
    }

    /// A phone on another loopback address (127.0.0.2, ...): another source.
    async fn bind(server: SocketAddr, ip: &str) -> Phone {
        let sock = UdpSocket::bind((ip, 0)).await.unwrap();
        Phone {
            sock,
            server,
            cseq: 0,
            call_id: format!("reg-{}", rand_tag()),
            contact: None,
            extra: String::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    async fn send_raw(&self, msg: &str) {
        self.sock
            .send_to(msg.as_bytes(), self.server)
            .await
            .unwrap();
    }

    async fn recv(&self) -> Option<String> {
        self.recv_within(Duration::from_secs(3)).await
    }

    async fn recv_within(&self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65535];
        match tokio::time::timeout(wait, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => None,
        }
    }

    /// Receives until a final (non-1xx) response.
    async fn final_response(&self) -> String {
        loop {
            let r = self.recv().await.expect("no response from the server");
            if !r.starts_with("SIP/2.0 1") {
                return r;
            }
        }
    }

    fn register_msg(&mut self, user: &str, expires: u32, auth: Option<String>) -> String {
        self.cseq += 1;
        let me = self.addr();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let contact = self
            .contact
            .clone()
            .unwrap_or_else(|| format!("sip:{user}@{me}"));
        format!(
            "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{srv}>;tag={t}\r\nTo: <sip:{user}@{srv}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\nExpires: {expires}\r\n{extra}{auth}Content-Length: 0\r\n\r\n",
            extra = self.extra,
            srv = self.server,
            b = rand_tag(),
            t = rand_tag(),
            cid = self.call_id,
            cseq = self.cseq,
        )
    }

    /// REGISTERs, answers the challenge with `password` and `alg`, returns the final response.
    async fn register(&mut self, user: &str, password: &str, alg: &str, expires: u32) -> String {
        let m = self.register_msg(user, expires, None);
        self.send_raw(&m).await;
        let challenge = self.final_response().await;
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        let nonce = param(&challenge, alg, "nonce").expect("challenge for the algorithm");
        let auth = digest_auth(
            alg,
            user,
            password,
            "hotline",
            &nonce,
            &format!("sip:{}", self.server),
            "REGISTER",
        );
        let m = self.register_msg(user, expires, Some(auth));
        self.send_raw(&m).await;
        self.final_response().await
    }
}

fn rand_tag() -> String {
    format!("{:x}", rand::random::<u64>())
}

fn hash(alg: &str, s: &str) -> String {
    if alg == "SHA-256" {
        hex::encode(Sha256::digest(s.as_bytes()))
    } else {
        hex::encode(Md5::digest(s.as_bytes()))
    }
}

fn digest_auth(
    alg: &str,
    user: &str,
    pw: &str,
    realm: &str,
    nonce: &str,
    uri: &str,
    method: &str,
) -> String {
    let ha1 = hash(alg, &format!("{user}:{realm}:{pw}"));
    let ha2 = hash(alg, &format!("{method}:{uri}"));
    let resp = hash(alg, &format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
    format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={alg}, qop=auth, nc=00000001, cnonce=\"0a4f113b\"")
}

/// A parameter of the WWW-Authenticate header for `alg`.
fn param(resp: &str, alg: &str, name: &str) -> Option<String> {
    let line = resp.lines().find(|l| {
        l.to_ascii_lowercase().starts_with("www-authenticate")
            && l.contains(&format!("algorithm={alg}"))
    })?;
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_string())
}

fn header_names_and_values_without_nonce(resp: &str) -> Vec<String> {
    resp.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !(l.starts_with("via")
                || l.starts_with("from")
                || l.starts_with("to")
                || l.starts_with("call-id")
                || l.starts_with("cseq"))
        })
        .map(|l| match l.find("nonce=\"") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn register_with_digest_good_wrong_unknown() {
    let (srv, mut events) = server(300_000, 60).await;
    let mut phone = Phone::new(srv.local_addr()).await;

    // no credentials: 401, MD5 only by default, no version in Server/User-Agent
    let m = phone.register_msg("1001", 600, None);
    phone.send_raw(&m).await;
    let known = phone.final_response().await;
    assert!(known.starts_with("SIP/2.0 401"), "{known}");
    assert!(
        known.contains("algorithm=MD5") && !known.contains("SHA-256"),
        "{known}"
    );
    for l in known.lines().filter(|l| {
        l.to_ascii_lowercase().starts_with("server")
            || l.to_ascii_lowercase().starts_with("user-agent")
    }) {
        assert!(
            !l.chars().any(|c| c.is_ascii_digit()),
            "version leaked: {l}"
        );
    }
    // an unknown user gets exactly the same 401 (apart from the nonce)
    let m = phone.register_msg("9999", 600, None);
    phone.send_raw(&m).await;
    let unknown = phone.final_response().await;
    assert_eq!(
        header_names_and_values_without_nonce(&known),
        header_names_and_values_without_nonce(&unknown)
    );

    // good password
    let ok = phone.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains(&format!("sip:1001@{}", phone.addr())), "{ok}");
    assert!(ok.contains("expires="), "{ok}");
    assert_eq!(srv.registered_agents(), vec!["1001".to_string()]);
    assert_eq!(srv.contacts("1001")[0].source, phone.addr());
    match tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
        Ok(Some(SipEvent::Binding(hotline_sip::BindingChange::Added {
            agent, expires_s, ..
        }))) => {
            assert_eq!(agent, "1001");
            assert_eq!(expires_s, 600);
        }
        other => panic!("expected a binding event, got {other:?}"),
    }

    // wrong password and unknown user: 401 again, same shape
    let wrong = phone.register("1001", "nope", "MD5", 600).await;
    let unknown = phone.register("9999", "whatever", "MD5", 600).await;
    assert!(
        wrong.starts_with("SIP/2.0 401") && unknown.starts_with("SIP/2.0 401"),
        "{wrong}\n{unknown}"
    );
    assert_eq!(
        header_names_and_values_without_nonce(&wrong),
        header_names_and_values_without_nonce(&unknown)
    );

    // unregister
    let bye = phone.register("1001", "secret1", "MD5", 0).await;
    assert!(bye.starts_with("SIP/2.0 200"), "{bye}");
    assert!(srv.registered_agents().is_empty());
}

#[tokio::test]
async fn sha256_agent_gets_sha256_first_and_both_verify() {
    let (srv, _events) = server(300_000, 60).await;
    let mut phone = Phone::new(srv.local_addr()).await;
    let m = phone.register_msg("1002", 600, None);
    phone.send_raw(&m).await;
    let ch = phone.final_response().await;
    let sha = ch.find("algorithm=SHA-256").expect("SHA-256 offered");
    let md5 = ch.find("algorithm=MD5").expect("MD5 offered too");
    assert!(sha < md5, "SHA-256 must come first: {ch}");
    assert!(phone
        .register("1002", "secret2", "SHA-256", 600)
        .await
        .starts_with("SIP/2.0 200"));
    assert!(phone
        .register("1002", "secret2", "MD5", 600)
        .await
        .starts_with("SIP/2.0 200"));
    // 1001 is MD5-only: a SHA-256 answer is refused even with the right password
    let m = phone.register_msg("1001", 600, None);
    phone.send_raw(&m).await;
    let ch = phone.final_response().await;
    let nonce = param(&ch, "MD5", "nonce").unwrap();
    let auth = digest_auth(
        "SHA-256",
        "1001",
        "secret1",
        "hotline",
        &nonce,
        &format!("sip:{}", srv.local_addr()),
        "REGISTER",
    );
    let m = phone.register_msg("1001", 600, Some(auth));
    phone.send_raw(&m).await;
    assert!(phone.final_response().await.starts_with("SIP/2.0 401"));
}

#[tokio::test]
async fn nonces_and_bindings_expire() {
    let (srv, _events) = server(1_000, 1).await;
    let mut phone = Phone::new(srv.local_addr()).await;
    let m = phone.register_msg("1001", 2, None);
    phone.send_raw(&m).await;
    let ch = phone.final_response().await;
    let nonce = param(&ch, "MD5", "nonce").unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let auth = digest_auth(
        "MD5",
        "1001",
        "secret1",
        "hotline",
        &nonce,
        &format!("sip:{}", srv.local_addr()),
        "REGISTER",
    );
    let m = phone.register_msg("1001", 2, Some(auth));
    phone.send_raw(&m).await;
    let stale = phone.final_response().await;
    assert!(
        stale.starts_with("SIP/2.0 401") && stale.contains("stale=true"),
        "{stale}"
    );
    assert!(phone
        .register("1001", "secret1", "MD5", 2)
        .await
        .starts_with("SIP/2.0 200"));
    assert_eq!(srv.registered_agents().len(), 1);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert!(
        srv.registered_agents().is_empty(),
        "binding should have expired"
    );
}

#[tokio::test]
async fn options_answered_and_malformed_requests_get_400_or_are_dropped() {
    let (srv, _events) = server(300_000, 60).await;
    let phone = Phone::new(srv.local_addr()).await;
    let me = phone.addr();
    let options = format!(
        "OPTIONS sip:hotline@{s} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKopt1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:mon@{me}>;tag=1\r\nTo: <sip:hotline@{s}>\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        s = srv.local_addr()
    );
    phone.send_raw(&options).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(r.contains("Allow:") || r.contains("allow:"), "{r}");

    // missing Call-ID: 400 routed back to the source
    let bad = options
        .replace("Call-ID: opt1\r\n", "")
        .replace("branch=z9hG4bKopt1", "branch=z9hG4bKbad1");
    phone.send_raw(&bad).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 400"), "{r}");
    // garbage without Via: dropped, no answer
    phone.send_raw("\u{1}\u{2}garbage\r\n\r\n").await;
    phone.send_raw(&"X".repeat(60_000)).await;
    // still serving
    let again = options.replace("opt1", "opt2");
    phone.send_raw(&again).await;
    let r = phone.final_response().await;
    assert!(
        r.starts_with("SIP/2.0 200"),
        "the server must keep serving, got {r}"
    );
    assert!(srv.malformed_count() >= 2);
}

#[tokio::test]
async fn register_over_tcp_is_challenged() {
    let (srv, _events) = server(300_000, 60).await;
    let mut tcp = TcpStream::connect(srv.local_addr()).await.unwrap();
    let me = tcp.local_addr().unwrap();
    let msg = format!(
        "REGISTER sip:{s} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKtcp1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{s}>;tag=9\r\nTo: <sip:1001@{s}>\r\nCall-ID: tcp1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{me};transport=tcp>\r\nContent-Length: 0\r\n\r\n",
        s = srv.local_addr()
    );
    tcp.write_all(msg.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
}

/// A lockout that acts after a few failures (the default waits for 10).
fn quick_lockout(source_failures: u32, user_failures: u32) -> LockoutConfig {
    LockoutConfig {
        source_failures,
        user_failures,
        window_ms: 600_000,
        ban_ms: 600_000,
        ..LockoutConfig::default()
    }
}

#[tokio::test]
async fn a_password_guesser_is_banned_and_dropped_while_other_sources_register() {
    let (srv, _events) = guarded_server(300_000, 60, quick_lockout(3, 100)).await;
    let mut bans = srv.auth_events();
    let mut guesser = Phone::new(srv.local_addr()).await;
    for guess in ["123456", "password", "1001"] {
        let r = guesser.register("1001", guess, "MD5", 600).await;
        assert!(r.starts_with("SIP/2.0 401"), "{guess}: {r}");
    }
    match tokio::time::timeout(Duration::from_secs(2), bans.recv()).await {
        Ok(Ok(LockoutEvent::Banned { ban, failures, .. })) => {
            assert_eq!(ban.target, BanTarget::Source("127.0.0.1".parse().unwrap()));
            assert_eq!(failures, 3);
        }
        other => panic!("expected a ban event, got {other:?}"),
    }
    // banned: even the right password gets no answer at all
    let m = guesser.register_msg("1001", 600, None);
    guesser.send_raw(&m).await;
    assert_eq!(guesser.recv_within(Duration::from_millis(800)).await, None);
    assert!(srv.banned_dropped_count() >= 1);
    assert_eq!(
        srv.auth_bans()
            .into_iter()
            .map(|b| b.target)
            .collect::<Vec<_>>(),
        [BanTarget::Source("127.0.0.1".parse().unwrap())]
    );
    assert!(srv.registered_agents().is_empty());
    // the agent's phone elsewhere registers as usual
    let mut desk = Phone::bind(srv.local_addr(), "127.0.0.2").await;
    let ok = desk.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    // a supervisor lifts the ban: the source is served again
    assert!(srv.lift_auth_ban(&BanTarget::Source("127.0.0.1".parse().unwrap())));
    assert!(matches!(bans.recv().await, Ok(LockoutEvent::Lifted { .. })));
    assert!(srv.auth_bans().is_empty());
    let ok = guesser.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
}

#[tokio::test]
async fn guessing_one_name_from_many_sources_locks_it_alike_for_known_and_unknown_names() {
    let (srv, _events) = guarded_server(300_000, 60, quick_lockout(100, 3)).await;
    // the agent's desk phone proved the password before the attack
    let mut desk = Phone::bind(srv.local_addr(), "127.0.0.2").await;
    assert!(desk
        .register("1002", "secret2", "MD5", 600)
        .await
        .starts_with("SIP/2.0 200"));
    // three sources, one guess each, for a real and a made-up name
    for src in ["127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let mut guesser = Phone::bind(srv.local_addr(), src).await;
        for user in ["1002", "9999"] {
            let r = guesser.register(user, "guess", "MD5", 600).await;
            assert!(r.starts_with("SIP/2.0 401"), "{src} {user}: {r}");
        }
    }
    // both names are locked now, and answered exactly alike: 403, no challenge
    let mut fresh = Phone::bind(srv.local_addr(), "127.0.0.6").await;
    let mut answers = Vec::new();
    for user in ["1002", "9999"] {
        let m = fresh.register_msg(user, 600, None);
        fresh.send_raw(&m).await;
        let r = fresh.final_response().await;
        assert!(r.starts_with("SIP/2.0 403"), "{user}: {r}");
        assert!(!r.to_ascii_lowercase().contains("www-authenticate"), "{r}");
        answers.push(header_names_and_values_without_nonce(&r));
    }
    assert_eq!(answers[0], answers[1]);
    let mut locked: Vec<BanTarget> = srv.auth_bans().into_iter().map(|b| b.target).collect();
    locked.sort();
    assert_eq!(
        locked,
        [
            BanTarget::User("1002".into()),
            BanTarget::User("9999".into())
        ]
    );
    // the desk phone that proved the password keeps registering
    let ok = desk.register("1002", "secret2", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
}

#[tokio::test]
async fn a_guesser_who_goes_on_at_a_locked_name_is_banned_and_never_gets_in() {
    // like `sipvicious_svcrack -u 1001 -d words`: one source, one name,
    // the right password somewhere down the list
    let (srv, _events) = guarded_server(300_000, 60, quick_lockout(4, 2)).await;
    let mut guesser = Phone::new(srv.local_addr()).await;
    let mut answers = Vec::new();
    let mut nonce = None;
    for guess in ["a", "b", "c", "d", "secret1", "secret1"] {
        let m = guesser.register_msg("1001", 600, None);
        guesser.send_raw(&m).await;
        let first = guesser.recv_within(Duration::from_millis(800)).await;
        if let Some(n) = first.as_deref().and_then(|c| param(c, "MD5", "nonce")) {
            nonce = Some(n);
        }
        let auth = digest_auth(
            "MD5",
            "1001",
            guess,
            "hotline",
            nonce.as_deref().unwrap_or("none"),
            &format!("sip:{}", srv.local_addr()),
            "REGISTER",
        );
        let m = guesser.register_msg("1001", 600, Some(auth));
        guesser.send_raw(&m).await;
        let answer = guesser.recv_within(Duration::from_millis(800)).await;
        answers.push(answer.map(|a| a.lines().next().unwrap_or("").to_string()));
    }
    assert_eq!(
        answers,
        [
            Some("SIP/2.0 401 Unauthorized".to_string()),
            Some("SIP/2.0 401 Unauthorized".to_string()),
            // 1001 locked after two failures: not checked any more, and
            // every try at it counts against the source (the challenge
            // request was the third, this the fourth: banned)
            Some("SIP/2.0 403 Forbidden".to_string()),
            // nothing comes back any more
            None,
            None,
            None,
        ]
    );
    assert!(
        srv.registered_agents().is_empty(),
        "the password was never tried"
    );
    assert!(srv
        .auth_bans()
        .iter()
        .any(|b| b.target == BanTarget::Source("127.0.0.1".parse().unwrap())));
}

#[tokio::test]
async fn guesses_sent_in_another_address_name_do_not_get_it_banned() {
    // nonces are bound to the address they were issued to: an attacker who
    // fetched one cannot spoof wrong answers from a victim's address to get
    // the victim banned (here the "victim" is 127.0.0.4)
    let (srv, _events) = guarded_server(300_000, 60, quick_lockout(3, 100)).await;
    let mut attacker = Phone::bind(srv.local_addr(), "127.0.0.3").await;
    let m = attacker.register_msg("1001", 600, None);
    attacker.send_raw(&m).await;
    let challenge = attacker.final_response().await;
    let nonce = param(&challenge, "MD5", "nonce").expect("a nonce");
    let mut victim = Phone::bind(srv.local_addr(), "127.0.0.4").await;
    for guess in ["a", "b", "c", "d", "e"] {
        let auth = digest_auth(
            "MD5",
            "1001",
            guess,
            "hotline",
            &nonce,
            &format!("sip:{}", srv.local_addr()),
            "REGISTER",
        );
        let m = victim.register_msg("1001", 600, Some(auth));
        victim.send_raw(&m).await;
        let r = victim.final_response().await;
        assert!(r.starts_with("SIP/2.0 401"), "{guess}: {r}");
    }
    assert!(srv.auth_bans().is_empty(), "{:?}", srv.auth_bans());
    // the victim's own phone registers; the attacker guessing with its own
    // nonces is banned as usual
    let ok = victim.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    for guess in ["a", "b", "c"] {
        let r = attacker.register("1002", guess, "MD5", 600).await;
        assert!(r.starts_with("SIP/2.0 401"), "{r}");
    }
    assert_eq!(
        srv.auth_bans()
            .into_iter()
            .map(|b| b.target)
            .collect::<Vec<_>>(),
        [BanTarget::Source("127.0.0.3".parse().unwrap())]
    );
}

#[tokio::test]
async fn a_known_scanner_gets_no_answer_at_all() {
    // the shipped defaults drop sipvicious' `friendly-scanner` and its kind
    let (srv, _events) = server(300_000, 60).await;
    let mut phone = Phone::new(srv.local_addr()).await;
    let m = phone.register_msg("1001", 600, None);
    let scan = m.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n",
    );
    phone.send_raw(&scan).await;
    assert_eq!(phone.recv_within(Duration::from_millis(800)).await, None);
    assert_eq!(srv.scanner_dropped_count(), 1);
    // the same request from a phone is challenged as usual
    let m = phone.register_msg("1001", 600, None);
    let phone_ua = m.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nUser-Agent: baresip v1.0.0 (x86_64/linux)\r\n",
    );
    phone.send_raw(&phone_ua).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    // over TCP the scanner gets nothing either
    let mut tcp = TcpStream::connect(srv.local_addr()).await.unwrap();
    let me = tcp.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKscan1\r\nMax-Forwards: 70\r\nFrom: <sip:100@{s}>;tag=9\r\nTo: <sip:100@{s}>\r\nCall-ID: scan1\r\nCSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n",
        s = srv.local_addr()
    );
    tcp.write_all(msg.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_millis(800), tcp.read(&mut buf)).await;
    assert!(
        !matches!(read, Ok(Ok(n)) if n > 0),
        "a scanner over TCP got an answer"
    );
}

/// Binds a UDP socket on `ip` (a phone's listening port, a proxy).
async fn listener(ip: &str) -> UdpSocket {
    UdpSocket::bind((ip, 0)).await.unwrap()
}

/// The first SIP request that arrives on `sock` within 3 s (None if none).
async fn invite_at(sock: &UdpSocket) -> Option<String> {
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}

fn caller() -> hotline_core::Party {
    hotline_core::Party {
        number: "0612345678".into(),
        display: None,
    }
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

#[tokio::test]
async fn a_third_party_registration_is_rung_at_its_contact_not_its_source() {
    let (srv, _events) = server(300_000, 60).await;
    // the registrar acting for the phone sends from 127.0.0.3; the phone
    // listens on 127.0.0.2
    let phone = listener("127.0.0.2").await;
    let mut registrar = Phone::bind(srv.local_addr(), "127.0.0.3").await;
    let contact = format!("sip:1001@{};transport=udp", phone.local_addr().unwrap());
    registrar.contact = Some(contact.clone());
    let ok = registrar.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(
        !ok.to_ascii_lowercase().contains("\npath:"),
        "no Path asked: {ok}"
    );
    let binding = srv.contacts("1001").remove(0);
    assert_eq!(binding.source, registrar.addr());
    assert_eq!(binding.target().reason, hotline_sip::reach::Reason::Contact);
    let _leg = srv.invite(&binding, &caller(), OFFER.into()).await.unwrap();
    let invite = invite_at(&phone).await.expect("the INVITE at the Contact");
    let at = format!("INVITE sip:1001@{}", phone.local_addr().unwrap());
    assert!(invite.starts_with(&at), "{invite}");
    assert!(
        registrar
            .recv_within(Duration::from_millis(300))
            .await
            .is_none(),
        "nothing goes to the REGISTER's source"
    );
}

#[tokio::test]
async fn a_nated_contact_is_rung_at_the_source_and_nat_true_forces_it() {
    let (srv, _events) = server(300_000, 60).await;
    // a private Contact from a loopback source: NAT is evident
    let mut phone = Phone::bind(srv.local_addr(), "127.0.0.1").await;
    phone.contact = Some("sip:1001@192.168.77.20:5060".into());
    let ok = phone.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let binding = srv.contacts("1001").remove(0);
    assert_eq!(
        binding.target().reason,
        hotline_sip::reach::Reason::NatEvident
    );
    let _leg = srv.invite(&binding, &caller(), OFFER.into()).await.unwrap();
    let invite = phone.recv().await.expect("the INVITE at the source");
    assert!(
        invite.starts_with("INVITE sip:1001@192.168.77.20:5060"),
        "the Request-URI stays the Contact: {invite}"
    );

    // `nat = true`: a public-looking Contact is still rung at the source
    let mut natted = Phone::bind(srv.local_addr(), "127.0.0.1").await;
    natted.contact = Some("sip:1003@198.51.100.9:5060".into());
    let ok = natted.register("1003", "secret3", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let binding = srv.contacts("1003").remove(0);
    assert_eq!(
        binding.target().reason,
        hotline_sip::reach::Reason::NatConfigured
    );
    let _leg = srv.invite(&binding, &caller(), OFFER.into()).await.unwrap();
    let invite = natted.recv().await.expect("the INVITE at the source");
    assert!(
        invite.starts_with("INVITE sip:1003@198.51.100.9:5060"),
        "{invite}"
    );
}

#[tokio::test]
async fn a_path_is_stored_echoed_and_used_as_route() {
    let (srv, _events) = server(300_000, 60).await;
    let proxy = listener("127.0.0.4").await;
    let phone_ip = "127.0.0.2:5099";
    let mut edge = Phone::bind(srv.local_addr(), "127.0.0.4").await;
    let path = format!("<sip:{};lr>", proxy.local_addr().unwrap());
    edge.contact = Some(format!("sip:1001@{phone_ip}"));
    edge.extra = format!("Path: {path}\r\nSupported: path\r\n");
    let ok = edge.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains(&format!("Path: {path}")), "Path echoed: {ok}");
    let binding = srv.contacts("1001").remove(0);
    assert_eq!(binding.path, vec![path.clone()]);
    let _leg = srv.invite(&binding, &caller(), OFFER.into()).await.unwrap();
    let invite = invite_at(&proxy)
        .await
        .expect("the INVITE at the Path proxy");
    assert!(
        invite.starts_with(&format!("INVITE sip:1001@{phone_ip}")),
        "{invite}"
    );
    assert!(invite.contains(&format!("Route: {path}")), "{invite}");

    // without Supported: path the Path is stored but not echoed
    edge.extra = format!("Path: {path}\r\n");
    let ok = edge.register("1001", "secret1", "MD5", 600).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(!ok.contains("Path:"), "{ok}");
    assert_eq!(srv.contacts("1001")[0].path, vec![path.clone()]);

    // hostile Paths: too many entries, garbage, oversized: 400, nothing stored
    for bad in [
        format!("Path: {}\r\n", [path.as_str(); 9].join(", ")),
        "Path: <<<>>>\r\n".to_string(),
        format!("Path: <sip:{};lr>\r\n", "p".repeat(600)),
    ] {
        edge.extra = bad.clone();
        let resp = edge.register("1001", "secret1", "MD5", 600).await;
        assert!(resp.starts_with("SIP/2.0 400"), "{bad}: {resp}");
    }
    assert_eq!(srv.contacts("1001")[0].path, vec![path]);
}

#[tokio::test]
async fn one_contact_header_listing_two_contacts_binds_both() {
    // RFC 3261 20.10: `Contact: <a>;expires=600, <b>` is two contacts.
    // Parsed as one, the first URI took the second's parameters (so a list
    // ending in `;expires=0` unregistered the first) and the second was lost.
    // Found by the fuzz target's registrar step (issue 19).
    let (srv, _events) = server(300_000, 60).await;
    let mut phone = Phone::new(srv.local_addr()).await;
    phone.contact = Some("sip:1001@127.0.0.2:5099>;expires=600, <sip:1001@127.0.0.4:5098".into());
    let ok = phone.register("1001", "secret1", "MD5", 300).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let mut contacts: Vec<String> = srv
        .contacts("1001")
        .into_iter()
        .map(|b| b.contact)
        .collect();
    contacts.sort();
    assert_eq!(
        contacts,
        vec![
            "sip:1001@127.0.0.2:5099".to_string(),
            "sip:1001@127.0.0.4:5098".to_string()
        ]
    );
    // a list whose middle contact unregisters leaves the others bound
    phone.contact = Some(
        "sip:1001@127.0.0.2:5099>;expires=600, <sip:1001@127.0.0.4:5098>;expires=0, <sip:1001@127.0.0.5:5097"
            .into(),
    );
    let ok = phone.register("1001", "secret1", "MD5", 300).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let mut contacts: Vec<String> = srv
        .contacts("1001")
        .into_iter()
        .map(|b| b.contact)
        .collect();
    contacts.sort();
    assert_eq!(
        contacts,
        vec![
            "sip:1001@127.0.0.2:5099".to_string(),
            "sip:1001@127.0.0.5:5097".to_string()
        ]
    );
}

#[tokio::test]
async fn a_standby_node_answers_options_and_new_invites_503_with_retry_after() {
    let (srv, mut events) = server(300_000, 60).await;
    let phone = Phone::new(srv.local_addr()).await;
    let me = phone.addr();
    let s = srv.local_addr();
    let options = |id: &str| {
        format!(
            "OPTIONS sip:hotline@{s} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:kamailio@{me}>;tag=1\r\nTo: <sip:hotline@{s}>\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let invite = |id: &str| {
        format!(
            "INVITE sip:hotline@{s} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:13800000000@{me}>;tag=7\r\nTo: <sip:hotline@{s}>\r\nCall-ID: {id}\r\nCSeq: 1 INVITE\r\nContact: <sip:13800000000@{me}>\r\nContent-Length: 0\r\n\r\n"
        )
    };
    assert!(!srv.is_standby(), "serving by default");
    srv.set_standby(Some(8));
    assert!(srv.is_standby());
    phone.send_raw(&options("sb1")).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    assert!(r.contains("Retry-After: 8"), "{r}");
    phone.send_raw(&invite("sb2")).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 503"), "{r}");
    assert!(r.contains("Retry-After: 8"), "{r}");
    // the engine never heard of the call
    assert!(
        tokio::time::timeout(Duration::from_millis(300), events.recv())
            .await
            .is_err()
    );
    // a registration is still served (the registrar stays on every node)
    let reg = format!(
        "REGISTER sip:{s} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKsb3;rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{s}>;tag=9\r\nTo: <sip:1001@{s}>\r\nCall-ID: sb3\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{me}>\r\nContent-Length: 0\r\n\r\n"
    );
    phone.send_raw(&reg).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    // a zero Retry-After is raised to 1 s
    srv.set_standby(Some(0));
    phone.send_raw(&options("sb4")).await;
    let r = phone.final_response().await;
    assert!(r.contains("Retry-After: 1"), "{r}");
    // active again: 200
    srv.set_standby(None);
    phone.send_raw(&options("sb5")).await;
    let r = phone.final_response().await;
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
}
