//! `GET /api/sip/bans` and `DELETE /api/sip/bans/{kind}/{target}` over a
//! real lockout on a fake clock: roles, CSRF, bad and hostile targets,
//! lifting what is not banned, the audit entry of a lift.

use super::*;
use crate::{hash_password, Console, ConsoleConfig};
use axum::body::Body;
use axum::http::{header, Request};
use hotline_core::Clock;
use hotline_engine::bans::{BanBook, SipBans};
use hotline_sip::lockout::{Lockout, LockoutConfig};
use hotline_store::{Role, Store, User};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const TOKEN: &str = "bans-test-token-0123456789abcdef";
const T0: i64 = 1_800_000_000_000;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A real lockout read at the fake clock's time.
struct Book {
    lockout: Mutex<Lockout>,
    clock: Arc<FakeClock>,
    /// What the gate dropped (set by a test; zeros else).
    dropped: Mutex<hotline_engine::bans::Dropped>,
    /// The gate's malformed, throttled and oversized datagrams.
    gate: Mutex<(u64, u64, u64)>,
}

impl BanBook for Book {
    fn bans(&self) -> Vec<Ban> {
        self.lockout.lock().unwrap().bans(self.now_ms())
    }
    fn lift(&self, target: &BanTarget) -> bool {
        self.lockout.lock().unwrap().lift(self.now_ms(), target)
    }
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
    fn dropped(&self) -> hotline_engine::bans::Dropped {
        *self.dropped.lock().unwrap()
    }
    fn counters(&self) -> hotline_engine::bans::GateCounters {
        let issued = self.lockout.lock().unwrap().issued();
        let (malformed, throttled, oversized) = *self.gate.lock().unwrap();
        hotline_engine::bans::GateCounters {
            malformed_datagrams: malformed,
            throttled_datagrams: throttled,
            oversized_datagrams: oversized,
            sources_banned: issued.sources,
            users_locked: issued.users,
        }
    }
}

struct W {
    app: axum::Router,
    console: Console,
    clock: Arc<FakeClock>,
    book: Arc<Book>,
}

struct Who {
    cookie: String,
    csrf: String,
}

async fn world(bans: bool) -> W {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let hash = hash_password("pw").unwrap();
    for (name, role) in [("ann", Role::Agent), ("alice", Role::Supervisor)] {
        store
            .put_user(
                &User {
                    name: name.into(),
                    role,
                    password_hash: hash.clone(),
                },
                0,
            )
            .await
            .unwrap();
    }
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let dir = std::env::temp_dir();
    let mut cc = ConsoleConfig::new(dir.clone(), dir);
    cc.api_token = TOKEN.into();
    let console = Console::new(store, cc, clock.clone(), None);
    let book = Arc::new(Book {
        lockout: Mutex::new(Lockout::new(LockoutConfig {
            source_failures: 3,
            user_failures: 3,
            window_ms: 60_000,
            ban_ms: 30_000,
            max_ban_ms: 120_000,
            ..LockoutConfig::default()
        })),
        clock: clock.clone(),
        dropped: Mutex::default(),
        gate: Mutex::default(),
    });
    let mut api = crate::fuzzing::api_of(&console);
    if bans {
        api.bans = SipBans::new(book.clone());
    }
    W {
        app: api.router(),
        console,
        clock,
        book,
    }
}

impl W {
    fn session(&self, name: &str, role: Role) -> Who {
        let (token, s) =
            self.console
                .inner
                .sessions
                .lock()
                .unwrap()
                .open(name, role, self.clock.now_ms());
        Who {
            cookie: format!("{}={token}", crate::auth::SESSION_COOKIE),
            csrf: s.csrf,
        }
    }

    /// `who`: a session, or None for the bearer token.
    async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        csrf: bool,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = Request::builder().method(method).uri(path);
        match who {
            Some(w) => {
                b = b.header(header::COOKIE, &w.cookie);
                if csrf {
                    b = b.header(crate::auth::CSRF_HEADER, &w.csrf);
                }
            }
            None => b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
        }
        let r = self
            .app
            .clone()
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let s = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
        (
            s,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `src` guesses `user`'s password wrong `n` times.
    fn guess(&self, src: &str, user: &str, n: usize) {
        let mut l = self.book.lockout.lock().unwrap();
        for _ in 0..n {
            l.failed(self.clock.now_ms(), src.parse().unwrap(), user);
        }
    }

    async fn audit(&self) -> Vec<String> {
        self.console
            .store()
            .audit(None)
            .await
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {} {}", a.who, a.action, a.reason))
            .collect()
    }
}

fn targets(v: &serde_json::Value) -> Vec<String> {
    v["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!(
                "{}:{}",
                b["kind"].as_str().unwrap(),
                b["target"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_supervisor_lists_and_lifts_bans_and_an_agent_is_refused() {
    let w = world(true).await;
    let alice = w.session("alice", Role::Supervisor);
    let ann = w.session("ann", Role::Agent);
    let (s, v) = w.call("GET", "/api/sip/bans", Some(&alice), false).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
    assert!(targets(&v).is_empty());
    assert_eq!(
        v["dropped"],
        serde_json::json!({"banned_datagrams": 0, "banned_connections": 0, "scanner_requests": 0})
    );

    w.guess("203.0.113.7", "1001", 3);
    w.clock.0.fetch_add(10_000, Ordering::SeqCst);
    let (s, v) = w.call("GET", "/api/sip/bans", Some(&alice), false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(targets(&v), ["source:203.0.113.7", "user:1001"]);
    assert_eq!(v["bans"][0]["remaining_s"], 20);
    assert_eq!(v["bans"][0]["offences"], 1);
    assert_eq!(v["bans"][0]["until_ms"], T0 + 30_000);

    // agents: neither list nor lift; no session at all: 401
    let (s, _) = w.call("GET", "/api/sip/bans", Some(&ann), false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w
        .call(
            "DELETE",
            "/api/sip/bans/source/203.0.113.7",
            Some(&ann),
            true,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = w
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/sip/bans")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // a session's change needs its CSRF token
    let (s, _) = w
        .call(
            "DELETE",
            "/api/sip/bans/source/203.0.113.7",
            Some(&alice),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(w.book.bans().len(), 2, "nothing lifted without the token");

    let (s, v) = w
        .call(
            "DELETE",
            "/api/sip/bans/source/203.0.113.7",
            Some(&alice),
            true,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lifted"]["kind"], "source");
    assert_eq!(v["lifted"]["target"], "203.0.113.7");
    let (s, v) = w.call("GET", "/api/sip/bans", None, false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(targets(&v), ["user:1001"]);
    // the bearer token lifts the lock
    let (s, _) = w
        .call("DELETE", "/api/sip/bans/user/1001", None, true)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(w.book.bans().is_empty());
    assert_eq!(
        w.audit().await,
        [
            "user:alice sip_ban_lift source 203.0.113.7",
            "api:token sip_ban_lift user 1001"
        ]
    );
}

#[tokio::test]
async fn lifting_what_is_not_banned_is_404_and_a_ban_that_ran_out_is_gone() {
    let w = world(true).await;
    for path in [
        "/api/sip/bans/source/192.0.2.1",
        "/api/sip/bans/user/1001",
        "/api/sip/bans/source/::1",
    ] {
        let (s, v) = w.call("DELETE", path, None, true).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("not banned"), "{v}");
    }
    // failures under the threshold are no ban
    w.guess("192.0.2.1", "1002", 2);
    let (s, _) = w
        .call("DELETE", "/api/sip/bans/source/192.0.2.1", None, true)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // a ban that ran out
    w.guess("192.0.2.1", "1002", 1);
    assert_eq!(w.book.bans().len(), 2, "the source and the name");
    w.clock.0.fetch_add(30_001, Ordering::SeqCst);
    let (_, v) = w.call("GET", "/api/sip/bans", None, false).await;
    assert!(targets(&v).is_empty(), "{v}");
    let (s, _) = w
        .call("DELETE", "/api/sip/bans/source/192.0.2.1", None, true)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // an IPv4-mapped IPv6 address names the IPv4 source
    w.guess("192.0.2.9", "x", 3);
    let (s, v) = w
        .call(
            "DELETE",
            "/api/sip/bans/source/::ffff:192.0.2.9",
            None,
            true,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lifted"]["target"], "192.0.2.9");
    assert!(w.audit().await.iter().all(|a| !a.contains("192.0.2.1")));
}

#[tokio::test]
async fn bad_and_hostile_targets_are_400_and_lift_nothing() {
    let w = world(true).await;
    w.guess("198.51.100.4", "1001", 3);
    let long_user = "1".repeat(MAX_USER + 1);
    let long_ip = format!("/api/sip/bans/source/{}", "1".repeat(10_000));
    let long_user_path = format!("/api/sip/bans/user/{long_user}");
    for path in [
        "/api/sip/bans/source/not-an-address",
        "/api/sip/bans/source/198.51.100.4%0A",
        "/api/sip/bans/source/198.51.100.0%2F24",
        "/api/sip/bans/source/999.1.1.1",
        "/api/sip/bans/source/1001",
        "/api/sip/bans/user/10%0A01",
        "/api/sip/bans/user/%00",
        "/api/sip/bans/host/198.51.100.4",
        "/api/sip/bans/SOURCE/198.51.100.4",
        long_ip.as_str(),
        long_user_path.as_str(),
    ] {
        let (s, v) = w.call("DELETE", path, None, true).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{}: {v}",
            &path[..path.len().min(60)]
        );
        let msg = v["error"].as_str().unwrap();
        assert!(
            msg.len() < 200,
            "the error does not echo the whole input: {msg}"
        );
    }
    assert_eq!(w.book.bans().len(), 2, "nothing was lifted");
    // paths the route does not take
    for path in ["/api/sip/bans/source", "/api/sip/bans/source/1.2.3.4/x"] {
        let (s, _) = w.call("DELETE", path, None, true).await;
        assert!(s.is_client_error(), "{path}: {s}");
    }
    assert!(w.audit().await.is_empty());
}

#[tokio::test]
async fn without_a_sip_server_the_list_is_empty_and_says_so() {
    let w = world(false).await;
    w.guess("198.51.100.4", "1001", 3);
    let (s, v) = w.call("GET", "/api/sip/bans", None, false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["enabled"], false);
    assert!(targets(&v).is_empty());
    let (s, _) = w
        .call("DELETE", "/api/sip/bans/source/198.51.100.4", None, true)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[test]
fn targets_parse_to_what_the_lockout_keys() {
    assert_eq!(
        parse_target("source", "2001:DB8::1").unwrap(),
        BanTarget::Source("2001:db8::1".parse().unwrap())
    );
    assert_eq!(
        parse_target("user", "张三").unwrap(),
        BanTarget::User("张三".into())
    );
    assert!(parse_target("user", &"张".repeat(MAX_USER)).is_ok());
    assert!(parse_target("user", &"张".repeat(MAX_USER + 1)).is_err());
    assert!(parse_target("user", "").is_err());
    assert!(parse_target("", "1001").is_err());
}

impl W {
    /// `GET /metrics` with the bearer token: (status, text).
    async fn metrics(&self) -> (StatusCode, String) {
        let r = self
            .app
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/metrics")
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let s = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
        (s, String::from_utf8(bytes.to_vec()).unwrap())
    }
}

/// The sample of `family` with `labels` (`""` or `{kind="user"}`) in a
/// Prometheus text, if there is one.
fn sample(text: &str, family_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(family_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn metrics_show_the_gate_counters_the_bans_in_force_and_issued() {
    let w = world(true).await;
    let (s, text) = w.metrics().await;
    assert_eq!(s, StatusCode::OK, "{text}");
    // before any ban: every series is there, at zero
    assert_eq!(sample(&text, "hotline_sip_banned_sources"), Some(0.0));
    assert_eq!(
        sample(&text, "hotline_sip_bans_issued_total{kind=\"source\"}"),
        Some(0.0)
    );
    // the KPI families are still there, before the defence's
    assert!(text.find("hotline_calls_offered_total") < text.find("hotline_sip_"));
    *w.book.dropped.lock().unwrap() = hotline_engine::bans::Dropped {
        banned_datagrams: 41,
        banned_connections: 2,
        scanner_requests: 5,
    };
    *w.book.gate.lock().unwrap() = (3, 11, 1);
    w.guess("198.51.100.7", "1001", 3); // bans the source and locks 1001
    w.guess("198.51.100.8", "1002", 3); // another source (1002 locked too)
    let (_, text) = w.metrics().await;
    for (series, v) in [
        (
            "hotline_sip_dropped_datagrams_total{reason=\"malformed\"}",
            3.0,
        ),
        (
            "hotline_sip_dropped_datagrams_total{reason=\"rate_limited\"}",
            11.0,
        ),
        (
            "hotline_sip_dropped_datagrams_total{reason=\"banned_source\"}",
            41.0,
        ),
        (
            "hotline_sip_dropped_datagrams_total{reason=\"scanner\"}",
            5.0,
        ),
        (
            "hotline_sip_dropped_datagrams_total{reason=\"oversize\"}",
            1.0,
        ),
        ("hotline_sip_banned_connections_total", 2.0),
        ("hotline_sip_banned_sources", 2.0),
        ("hotline_sip_locked_users", 2.0),
        ("hotline_sip_bans_issued_total{kind=\"source\"}", 2.0),
        ("hotline_sip_bans_issued_total{kind=\"user\"}", 2.0),
    ] {
        assert_eq!(sample(&text, series), Some(v), "{series} in\n{text}");
    }
    for (family, kind) in [
        ("hotline_sip_dropped_datagrams_total", "counter"),
        ("hotline_sip_banned_connections_total", "counter"),
        ("hotline_sip_banned_sources", "gauge"),
        ("hotline_sip_locked_users", "gauge"),
        ("hotline_sip_bans_issued_total", "counter"),
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {family} {kind}\n")).count(),
            1,
            "{family}"
        );
        assert!(text.contains(&format!("# HELP {family} ")), "{family}");
    }
    // a lift lowers the gauge, not the counter; a ban that ran out leaves too
    let (s, _) = w
        .call("DELETE", "/api/sip/bans/source/198.51.100.7", None, true)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, text) = w.metrics().await;
    assert_eq!(sample(&text, "hotline_sip_banned_sources"), Some(1.0));
    assert_eq!(
        sample(&text, "hotline_sip_bans_issued_total{kind=\"source\"}"),
        Some(2.0)
    );
    w.clock.0.fetch_add(31_000, Ordering::SeqCst);
    let (_, text) = w.metrics().await;
    assert_eq!(sample(&text, "hotline_sip_banned_sources"), Some(0.0));
    assert_eq!(sample(&text, "hotline_sip_locked_users"), Some(0.0));
    assert_eq!(
        sample(&text, "hotline_sip_bans_issued_total{kind=\"user\"}"),
        Some(2.0)
    );
    // every sample line is `name{labels} value` or `name value`
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
}

#[tokio::test]
async fn without_a_sip_server_the_defence_families_are_zeros() {
    let w = world(false).await;
    w.guess("198.51.100.4", "1001", 3);
    let (s, text) = w.metrics().await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sample(&text, "hotline_sip_banned_sources"), Some(0.0));
    assert_eq!(
        sample(
            &text,
            "hotline_sip_dropped_datagrams_total{reason=\"banned_source\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "hotline_sip_bans_issued_total{kind=\"user\"}"),
        Some(0.0)
    );
}
