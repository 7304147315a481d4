#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! SIP over TLS over real sockets on loopback: a phone registering over TLS
//! and rung over the same connection, the slow-loris and flood bounds of the
//! TCP gate applied to TLS, certificates refused at start and reloaded while
//! connections stay up. Messages are written by hand; baresip drives the same
//! paths in the end-to-end tests of the `hotline` binary.

use hotline_core::Party;
use hotline_sip::{
    AgentAccount, LegEvent, SipConfig, SipError, SipServer, SipTransport, TcpLimits, TlsSettings,
};
use md5::{Digest, Md5};
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

/// A test CA and the server certificates it signs, written as PEM files.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "hotline-sip-tls-{name}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "hotline test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = p.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, ca_key }
    }

    /// A server certificate for localhost / 127.0.0.1, valid until `until`
    /// (year), written to cert.pem and key.pem.
    fn issue(&self, until: i32) -> Vec<u8> {
        let mut p = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(until, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        // written whole then renamed: a reader never sees half a file
        let write = |name: &str, data: &str| {
            let tmp = self.dir.join(format!("{name}.tmp"));
            std::fs::write(&tmp, data).unwrap();
            std::fs::rename(&tmp, self.dir.join(name)).unwrap();
        };
        write("key.pem", &key.serialize_pem());
        write("cert.pem", &cert.pem());
        cert.der().to_vec()
    }

    fn settings(&self) -> TlsSettings {
        TlsSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: self.dir.join("cert.pem"),
            key: self.dir.join("key.pem"),
            client_ca: None,
        }
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

async fn server(tls: TlsSettings, limits: TcpLimits) -> SipServer {
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tcp: limits,
        tls: Some(tls),
        tls_reload_check: Duration::from_millis(100),
        ..SipConfig::default()
    };
    let accounts = vec![AgentAccount {
        id: "1001".into(),
        password: "secret1".into(),
        algorithms: None,
        nat: false,
    }];
    let (srv, mut events) = SipServer::start(cfg, accounts).await.unwrap();
    // nobody else reads the events here
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    srv
}

fn connector(ca: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

struct Phone {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
    server: SocketAddr,
    cseq: u32,
}

impl Phone {
    async fn connect(ca: &Path, server: SocketAddr) -> Phone {
        let tcp = TcpStream::connect(server).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector(ca).connect(name, tcp).await.unwrap();
        Phone {
            tls,
            buf: Vec::new(),
            server,
            cseq: 0,
        }
    }

    /// The end-entity certificate the server presented.
    fn peer_cert(&self) -> Vec<u8> {
        self.tls.get_ref().1.peer_certificates().unwrap()[0]
            .as_ref()
            .to_vec()
    }

    fn me(&self) -> SocketAddr {
        self.tls.get_ref().0.local_addr().unwrap()
    }

    async fn send(&mut self, msg: &str) {
        self.tls.write_all(msg.as_bytes()).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// The next whole message (header block plus Content-Length body).
    async fn recv(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            (k.eq_ignore_ascii_case("content-length") || k == "l")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if self.buf.len() >= end + 4 + len {
                        let msg: Vec<u8> = self.buf.drain(..end + 4 + len).collect();
                        return String::from_utf8_lossy(&msg).into_owned();
                    }
                }
                let mut chunk = [0u8; 4096];
                let n = self.tls.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the server closed the connection");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("no message from the server")
    }

    async fn final_response(&mut self) -> String {
        loop {
            let r = self.recv().await;
            if !r.starts_with("SIP/2.0 1") {
                return r;
            }
        }
    }

    fn register_msg(&mut self, auth: Option<String>) -> String {
        self.cseq += 1;
        let me = self.me();
        let srv = self.server;
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sips:{srv} SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch=z9hG4bK{b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{srv}>;tag=t{b}\r\nTo: <sip:1001@{srv}>\r\nCall-ID: tls-reg-{port}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1001@{me};transport=tls>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n",
            b = rand::random::<u32>(),
            port = me.port(),
            cseq = self.cseq,
        )
    }

    /// REGISTERs as 1001 with the right password; the final response.
    async fn register(&mut self) -> String {
        let m = self.register_msg(None);
        self.send(&m).await;
        let challenge = self.final_response().await;
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        let nonce = param(&challenge, "nonce");
        let realm = param(&challenge, "realm");
        let uri = format!("sips:{}", self.server);
        let ha1 = md5hex(&format!("1001:{realm}:secret1"));
        let ha2 = md5hex(&format!("REGISTER:{uri}"));
        let resp = md5hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        let auth = format!("Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"");
        let m = self.register_msg(Some(auth));
        self.send(&m).await;
        self.final_response().await
    }
}

fn md5hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn param(resp: &str, name: &str) -> String {
    let line = resp
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate"))
        .unwrap();
    let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = line[start..].find('"').unwrap() + start;
    line[start..end].to_string()
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

/// A reply to `req` (copying Via, From, To, Call-ID, CSeq).
fn reply(req: &str, status: &str, to_tag: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for l in req.lines() {
        let k = l.split(':').next().unwrap_or_default().to_ascii_lowercase();
        if ["via", "from", "call-id", "cseq"].contains(&k.as_str()) {
            out.push_str(l);
            out.push_str("\r\n");
        }
        if k == "to" {
            out.push_str(&format!("{l};tag={to_tag}\r\n"));
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[tokio::test]
async fn a_phone_registered_over_tls_is_rung_over_its_connection_with_a_tls_contact() {
    let pki = Pki::new("ring");
    pki.issue(2040);
    let srv = server(pki.settings(), TcpLimits::default()).await;
    let tls_addr = srv.tls_addr().unwrap();
    assert_ne!(tls_addr.port(), srv.local_addr().port());
    let mut phone = Phone::connect(&pki.ca_path(), tls_addr).await;
    let ok = phone.register().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let bindings = srv.contacts("1001");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].transport, SipTransport::Tls);
    assert_eq!(bindings[0].source, phone.me());

    let caller = Party {
        number: "13800138000".into(),
        display: None,
    };
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n".to_string();
    let mut leg = srv.invite(&bindings[0], &caller, sdp).await.unwrap();
    let invite = phone.recv().await;
    assert!(invite.starts_with("INVITE sip:1001@"), "{invite}");
    let via = header(&invite, "via");
    assert!(via.starts_with(&format!("SIP/2.0/TLS {tls_addr}")), "{via}");
    let contact = header(&invite, "contact").to_ascii_lowercase();
    assert!(
        contact.contains(&format!("@{tls_addr};transport=tls")),
        "{contact}"
    );
    phone.send(&reply(&invite, "486 Busy Here", "busy1")).await;
    let ack = phone.recv().await;
    assert!(ack.starts_with("ACK "), "{ack}");
    let ev = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match leg.next_event().await {
                Some(LegEvent::Rejected { status }) => return status,
                Some(_) => continue,
                None => panic!("the leg ended without a rejection"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(ev, 486);
    srv.shutdown();
}

#[tokio::test]
async fn a_bad_certificate_stops_the_start_with_a_clear_error() {
    let pki = Pki::new("bad");
    pki.issue(2025); // expired on 2025-01-01
    let start = |tls: TlsSettings| async move {
        let cfg = SipConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(tls),
            ..SipConfig::default()
        };
        SipServer::start(cfg, vec![]).await.err().unwrap()
    };
    let e = start(pki.settings()).await;
    assert!(matches!(e, SipError::Tls(_)), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    pki.issue(2040);
    let mut s = pki.settings();
    s.key = pki.ca_path(); // a certificate where the key should be
    let e = start(s).await;
    assert!(e.to_string().contains("key"), "{e}");
    let mut s = pki.settings();
    s.cert = pki.dir.join("missing.pem");
    let e = start(s).await;
    assert!(e.to_string().contains("missing.pem"), "{e}");
}

#[tokio::test]
async fn slow_silent_plaintext_and_too_many_tls_connections_are_closed() {
    let pki = Pki::new("loris");
    pki.issue(2040);
    let limits = TcpLimits {
        max_per_source: 2,
        max_total: 100,
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_secs(60),
    };
    let srv = server(pki.settings(), limits).await;
    let addr = srv.tls_addr().unwrap();
    let closed = |mut s: TcpStream| async move {
        let mut b = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(3), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    };
    // a silent TCP connection: no handshake in time
    let silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed(silent).await);
    assert_eq!(srv.tls_stats().unwrap().slow.load(Ordering::Relaxed), 1);
    // plaintext SIP on the TLS port: no fallback, the handshake fails
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n")
        .await
        .unwrap();
    assert!(closed(plain).await);
    assert_eq!(
        srv.tls_stats()
            .unwrap()
            .handshake_failed
            .load(Ordering::Relaxed),
        1
    );
    // a handshake, then nothing: closed after the header timeout
    let mut quiet = Phone::connect(&pki.ca_path(), addr).await;
    let started = std::time::Instant::now();
    let mut b = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(3), quiet.tls.read(&mut b)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(srv.tls_stats().unwrap().slow.load(Ordering::Relaxed), 2);
    // a phone that speaks in time stays
    let mut phone = Phone::connect(&pki.ca_path(), addr).await;
    assert!(phone.register().await.starts_with("SIP/2.0 200"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let m = phone.register_msg(None);
    phone.send(&m).await;
    assert!(phone.final_response().await.starts_with("SIP/2.0 401"));
    // two per source: a third is refused at once
    let _second = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let third = TcpStream::connect(addr).await.unwrap();
    assert!(closed(third).await);
    assert_eq!(srv.tls_stats().unwrap().refused.load(Ordering::Relaxed), 1);
    srv.shutdown();
}

#[tokio::test]
async fn a_new_certificate_is_presented_to_new_connections_and_old_ones_stay_up() {
    let pki = Pki::new("reload");
    let first = pki.issue(2040);
    let srv = server(pki.settings(), TcpLimits::default()).await;
    let addr = srv.tls_addr().unwrap();
    let mut old = Phone::connect(&pki.ca_path(), addr).await;
    assert_eq!(old.peer_cert(), first);
    assert!(old.register().await.starts_with("SIP/2.0 200"));
    let before = srv.tls_not_after_ms().unwrap();

    // the files change: the watcher reloads them
    let second = pki.issue(2041);
    tokio::time::timeout(Duration::from_secs(5), async {
        while srv.tls_not_after_ms() == Some(before) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the changed certificate was not reloaded");
    let fresh = Phone::connect(&pki.ca_path(), addr).await;
    assert_eq!(fresh.peer_cert(), second);
    // the connection made before the reload still carries requests
    let m = old.register_msg(None);
    old.send(&m).await;
    assert!(old.final_response().await.starts_with("SIP/2.0 401"));

    // a broken file: the reload (as on SIGHUP) fails and the certificate stays
    std::fs::write(pki.dir.join("key.pem"), "garbage").unwrap();
    let e = srv.reload_tls().await.unwrap_err();
    assert!(e.to_string().contains("key.pem"), "{e}");
    tokio::time::sleep(Duration::from_millis(300)).await; // the watcher tries too
    let again = Phone::connect(&pki.ca_path(), addr).await;
    assert_eq!(again.peer_cert(), second);
    // fixed again and reloaded by hand
    let third = pki.issue(2042);
    srv.reload_tls().await.unwrap();
    let last = Phone::connect(&pki.ca_path(), addr).await;
    assert_eq!(last.peer_cert(), third);
    srv.shutdown();
}

/// A phone's certificate for 127.0.0.1, signed by the test CA (it serves as
/// its client certificate too): (cert DER, key DER).
fn phone_identity(
    pki: &Pki,
) -> (
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    let p = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    (
        cert.der().clone(),
        rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

#[tokio::test]
async fn with_a_client_ca_phones_need_a_certificate_and_a_lost_connection_is_dialled_anew() {
    let pki = Pki::new("mutual");
    pki.issue(2040);
    let mut settings = pki.settings();
    settings.client_ca = Some(pki.ca_path());
    let srv = server(settings, TcpLimits::default()).await;
    let addr = srv.tls_addr().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in
        rustls_pki_types::CertificateDer::pem_slice_iter(&std::fs::read(pki.ca_path()).unwrap())
    {
        roots.add(c.unwrap()).unwrap();
    }

    // without a client certificate the handshake fails
    // (TLS 1.3: the client's handshake ends first, the refusal follows)
    let mut no_cert = Phone::connect(&pki.ca_path(), addr).await;
    let m = no_cert.register_msg(None);
    no_cert.tls.write_all(m.as_bytes()).await.ok();
    let mut b = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(3), no_cert.tls.read(&mut b)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    assert!(tokio::time::timeout(Duration::from_secs(3), async {
        while srv
            .tls_stats()
            .unwrap()
            .handshake_failed
            .load(Ordering::Relaxed)
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok());

    // the phone: its own TLS listener, and a client certificate
    let (cert, key) = phone_identity(&pki);
    let phone_server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.clone_key())
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let phone_port = listener.local_addr().unwrap().port();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let mut phone = Phone {
        tls,
        buf: Vec::new(),
        server: addr,
        cseq: 0,
    };
    // register a Contact at the phone's own TLS port
    let m = phone.register_msg(None);
    let me = phone.me();
    let m = m.replace(
        &format!("<sip:1001@{me};transport=tls>"),
        &format!("<sip:1001@127.0.0.1:{phone_port};transport=tls>"),
    );
    phone.send(&m).await;
    let challenge = phone.final_response().await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let nonce = param(&challenge, "nonce");
    let realm = param(&challenge, "realm");
    let uri = format!("sips:{addr}");
    let ha1 = md5hex(&format!("1001:{realm}:secret1"));
    let ha2 = md5hex(&format!("REGISTER:{uri}"));
    let resp = md5hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
    let auth = format!("Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"");
    let m = phone.register_msg(Some(auth)).replace(
        &format!("<sip:1001@{me};transport=tls>"),
        &format!("<sip:1001@127.0.0.1:{phone_port};transport=tls>"),
    );
    phone.send(&m).await;
    let ok = phone.final_response().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let binding = srv.contacts("1001").remove(0);
    assert_eq!(binding.transport, SipTransport::Tls);

    // the registration's connection goes away
    drop(phone);
    assert!(tokio::time::timeout(Duration::from_secs(5), async {
        while srv.tls_stats().unwrap().open.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok());
    // a call: the hotline dials the phone's TLS port, verifying its
    // certificate against the client CA
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(phone_server));
    let caller = Party {
        number: "13800138000".into(),
        display: None,
    };
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n".to_string();
    let _leg = srv.invite(&binding, &caller, sdp).await.unwrap();
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("the hotline did not dial the phone")
        .unwrap();
    let mut tls = acceptor.accept(tcp).await.unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
    let invite = String::from_utf8_lossy(&got);
    assert!(invite.starts_with("INVITE sip:1001@127.0.0.1:"), "{invite}");
    srv.shutdown();
}
