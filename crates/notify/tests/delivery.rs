#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The notifier against real sockets: a webhook that fails then answers, an
//! SMTP server that refuses, one that hangs, and a real SMTP server
//! (aiosmtpd) that takes the mail. Every attempt is recorded in the store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use hotline_core::{Calendar, CallEvent, EventKind};
use hotline_notify::{EmailChannel, Notifier, NotifyConfig, WebhookChannel, WebhookStyle};
use hotline_store::{Delivery, Store};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn trunk_down(at: i64) -> CallEvent {
    CallEvent {
        at_ms: at,
        call_id: None,
        agent: None,
        queue: None,
        kind: EventKind::TrunkDown {
            trunk: "carrier".into(),
            reason: "no answer to OPTIONS".into(),
        },
    }
}

fn cfg() -> NotifyConfig {
    NotifyConfig {
        retry_first_s: 1,
        retry_max_s: 1,
        timeout_s: 2,
        max_attempts: 3,
        ..NotifyConfig::default()
    }
}

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::connect(&format!("sqlite://{}/n.db", dir.path().display()))
        .await
        .unwrap()
}

async fn wait_for(store: &Store, n: usize, secs: u64) -> Vec<Delivery> {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let mut d = store.deliveries(0, 100).await.unwrap();
        if d.len() >= n || tokio::time::Instant::now() > end {
            d.reverse();
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_webhook_answering_500_is_retried_and_recorded() {
    let hits = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let (h, b) = (hits.clone(), bodies.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let (h, b) = (h.clone(), b.clone());
            async move {
                b.lock().unwrap().push(v);
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy")
                } else {
                    (
                        axum::http::StatusCode::OK,
                        "{\"errcode\":0,\"errmsg\":\"ok\"}",
                    )
                }
            }
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let mut c = cfg();
    c.webhook.push(WebhookChannel {
        url: format!("http://{addr}/hook?key=secret"),
        style: WebhookStyle::Wecom,
        events: None,
        reports: false,
    });
    let n = Notifier::spawn(
        c,
        Calendar::named("Asia/Shanghai").unwrap(),
        Some(store.clone()),
    );
    n.events().send(trunk_down(1_780_000_000_000)).unwrap();
    // not an alarm: never delivered
    n.events()
        .send(CallEvent {
            kind: EventKind::TrunkUp {
                trunk: "carrier".into(),
            },
            ..trunk_down(1_780_000_000_001)
        })
        .unwrap();
    let d = wait_for(&store, 2, 10).await;
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!((d[0].attempt, d[0].outcome.as_str()), (1, "retry"));
    assert!(d[0].error.as_deref().unwrap().contains("HTTP 500"), "{d:?}");
    assert_eq!((d[1].attempt, d[1].outcome.as_str()), (2, "delivered"));
    assert_eq!(
        d[1].target,
        format!("http://{addr}/hook"),
        "no key in the record"
    );
    assert_eq!(d[1].event_kind, "trunk_down");
    assert!(d[1].at_ms - d[0].at_ms >= 900, "backoff respected: {d:?}");
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies[1]["msgtype"], "text");
    let text = bodies[1]["text"]["content"].as_str().unwrap();
    assert!(
        text.contains("中继线路中断") && text.contains("carrier"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2, "trunk_up is not an alarm");
}

/// A fake SMTP server: greets with `greeting` (None: says nothing, hangs).
async fn fake_smtp(greeting: Option<&'static str>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = vec![];
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            if let Some(g) = greeting {
                let _ = s.write_all(g.as_bytes()).await;
            }
            held.push(s);
        }
    });
    port
}

fn mail(port: u16) -> EmailChannel {
    EmailChannel {
        host: "127.0.0.1".into(),
        port,
        starttls: false,
        ca_file: None,
        user: None,
        password: None,
        from: "热线 <hotline@example.cn>".into(),
        to: vec!["duty@example.cn".into()],
        events: None,
        reports: true,
    }
}

#[tokio::test]
async fn an_smtp_server_that_refuses_or_hangs_is_retried_then_given_up() {
    let refuses = fake_smtp(Some("554 5.3.2 no service here\r\n")).await;
    let hangs = fake_smtp(None).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let mut c = cfg();
    c.max_attempts = 2;
    c.timeout_s = 1;
    c.email = vec![mail(refuses), mail(hangs)];
    let n = Notifier::spawn(c, Calendar::utc(), Some(store.clone()));
    let started = std::time::Instant::now();
    n.events().send(trunk_down(1_000)).unwrap();
    let d = wait_for(&store, 4, 15).await;
    assert_eq!(d.len(), 4, "{d:?}");
    let of = |port: u16| -> Vec<&Delivery> {
        d.iter()
            .filter(|x| x.target.contains(&format!(":{port} ")))
            .collect()
    };
    let r = of(refuses);
    assert_eq!(
        r.iter().map(|x| x.outcome.as_str()).collect::<Vec<_>>(),
        ["retry", "gave_up"]
    );
    assert!(r[0].error.as_deref().unwrap().contains("554"), "{r:?}");
    let h = of(hangs);
    assert_eq!(
        h.iter().map(|x| x.outcome.as_str()).collect::<Vec<_>>(),
        ["retry", "gave_up"]
    );
    let e = h[0].error.as_deref().unwrap();
    assert!(
        e.contains("within 1 s") || e.contains("timed out") || e.contains("timeout"),
        "{e}"
    );
    // the hanging server did not hold back the refusing one's retries
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `aiosmtpd` (Debian python3-aiosmtpd) on a free port, saving to a maildir.
fn aiosmtpd(maildir: &std::path::Path) -> Option<(std::process::Child, u16)> {
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("aiosmtpd did not start");
}

#[tokio::test]
async fn a_real_smtp_server_receives_the_alarm_and_the_report_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let Some((mut child, port)) = aiosmtpd(&maildir) else {
        panic!("aiosmtpd missing: apt-get install python3-aiosmtpd (scripts/test.sh does)");
    };
    let store = store(&dir).await;
    let mut c = cfg();
    c.email = vec![mail(port)];
    let n = Notifier::spawn(
        c,
        Calendar::named("Asia/Shanghai").unwrap(),
        Some(store.clone()),
    );
    n.events().send(trunk_down(1_780_000_000_000)).unwrap();
    assert!(n.send_report(
        "2026-12-05",
        "总呼入: 12\n未接: 1".into(),
        1_780_000_000_000
    ));
    let d = wait_for(&store, 2, 10).await;
    child.kill().ok();
    child.wait().ok();
    assert!(d.iter().all(|x| x.outcome == "delivered"), "{d:?}");
    let mut texts = vec![];
    for f in std::fs::read_dir(maildir.join("new")).unwrap() {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        // decode the MIME headers and body with Python's email package
        let out = std::process::Command::new("/usr/bin/python3")
            .args(["-c", "import sys,email,email.policy as p;m=email.message_from_bytes(sys.stdin.buffer.read(),policy=p.default);print(m['subject']);print(m.get_content())"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&raw)?;
                c.wait_with_output()
            })
            .unwrap();
        texts.push(String::from_utf8(out.stdout).unwrap());
    }
    assert_eq!(texts.len(), 2, "{texts:?}");
    let all = texts.join("\n---\n");
    assert!(all.contains("【热线告警】中继线路中断"), "{all}");
    assert!(all.contains("原因: no answer to OPTIONS"), "{all}");
    assert!(
        all.contains("【热线】2026-12-05 日报") && all.contains("未接: 1"),
        "{all}"
    );
}

/// A private CA and a certificate for 127.0.0.1 signed by it (openssl).
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=hotline test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// aiosmtpd requiring STARTTLS, then AUTH (hotline / s3cret) before mail.
const SMTP_TLS_AUTH: &str = r#"
import sys, ssl, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, cert, key, maildir = sys.argv[1:5]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"hotline" and data.password == b"s3cret"
    return AuthResult(success=ok)
c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=auth, auth_require_tls=True,
               auth_required=True)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

#[tokio::test]
async fn mail_goes_over_starttls_with_auth_and_an_unknown_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let maildir = dir.path().join("mail");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SMTP_TLS_AUTH])
        .arg(port.to_string())
        .arg(&cert)
        .arg(&key)
        .arg(&maildir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let store = store(&dir).await;
    let tls = |ca_file: Option<std::path::PathBuf>, password: &str| EmailChannel {
        starttls: true,
        ca_file,
        user: Some("hotline".into()),
        password: Some(password.into()),
        ..mail(port)
    };
    let mut c = cfg();
    c.max_attempts = 1;
    // (a wrong password is not tried here: aiosmtpd 1.4.3 never answers a
    // failed AUTH; refusals are covered by the fake server above)
    c.email = vec![tls(Some(ca.clone()), "s3cret"), tls(None, "s3cret")];
    c.validate().unwrap();
    let n = Notifier::spawn(c, Calendar::utc(), Some(store.clone()));
    n.events().send(trunk_down(1_000)).unwrap();
    let d = wait_for(&store, 2, 15).await;
    server.kill().ok();
    server.wait().ok();
    assert!(up, "the STARTTLS server did not start");
    assert_eq!(d.len(), 2, "{d:?}");
    let delivered: Vec<&Delivery> = d.iter().filter(|x| x.outcome == "delivered").collect();
    assert_eq!(
        delivered.len(),
        1,
        "only the trusted, authenticated route: {d:?}"
    );
    let failed: Vec<String> = d.iter().filter_map(|x| x.error.clone()).collect();
    assert_eq!(failed.len(), 1, "{d:?}");
    assert!(
        failed
            .iter()
            .any(|e| e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer")),
        "an unknown CA is refused: {failed:?}"
    );
    let n_mails = std::fs::read_dir(maildir.join("new")).unwrap().count();
    assert_eq!(n_mails, 1);
}
