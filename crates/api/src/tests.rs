//! API tests: every endpoint as every role, CSRF, login and its rate limit on
//! a fake clock, malformed input, ranges, path traversal.

use super::*;
use axum::body::Body;
use axum::http::{header, Request};
use hotline_core::{CallEvent, CallId, CallType, EventKind};
use hotline_store::User;
use std::sync::atomic::{AtomicI64, Ordering};
use tower::ServiceExt;

mod quality;

use crate::fuzzing::{api_of, cdr};

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct World {
    console: Console,
    app: axum::Router,
    clock: Arc<FakeClock>,
    dir: tempfile::TempDir,
    wav_len: u64,
}

/// A session cookie and CSRF token of a role.
#[derive(Clone)]
struct Who {
    cookie: String,
    csrf: String,
}

const TOKEN: &str = "the-api-token-0123456789";

fn stereo_wav(path: &std::path::Path, ms: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(8 * ms) {
        let t = f64::from(i) / 8000.0;
        let l = ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16;
        let r = ((t * 1000.0 * std::f64::consts::TAU).sin()
            * if i > 4000 { 20000.0 } else { 100.0 }) as i16;
        w.write_sample(l).unwrap();
        w.write_sample(r).unwrap();
    }
    w.finalize().unwrap();
}

/// Argon2 hashes of the test passwords, made once.
fn hashed(pw: &str) -> String {
    static HASHES: std::sync::OnceLock<Mutex<std::collections::HashMap<String, String>>> =
        std::sync::OnceLock::new();
    let m = HASHES.get_or_init(Default::default);
    let mut m = m.lock().unwrap();
    m.entry(pw.to_string())
        .or_insert_with(|| hash_password(pw).unwrap())
        .clone()
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(tune: impl FnOnce(&mut ConsoleConfig)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recordings");
    std::fs::create_dir_all(rec.join("2026/11/23")).unwrap();
    stereo_wav(&rec.join("2026/11/23/c1.wav"), 1000);
    std::fs::write(dir.path().join("secret.wav"), b"RIFF outside the root").unwrap();
    let wav_len = std::fs::metadata(rec.join("2026/11/23/c1.wav"))
        .unwrap()
        .len();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store
        .upsert_cdr(&cdr("c1", Some("2026/11/23/c1.wav")))
        .await
        .unwrap();
    store.upsert_cdr(&cdr("c2", None)).await.unwrap();
    // a CDR whose stored path leads outside the root
    store
        .upsert_cdr(&cdr("evil", Some("../secret.wav")))
        .await
        .unwrap();
    store
        .append_event(&CallEvent {
            at_ms: 1_700_000_000_000,
            call_id: Some(CallId::from_stored("c1")),
            agent: None,
            queue: None,
            kind: EventKind::Arrived {
                caller: hotline_core::Party {
                    number: "0611111111".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::Inquiry,
            },
        })
        .await
        .ok();
    for (name, role, pw) in [
        ("ann", Role::Agent, "agent password"),
        ("alice", Role::Supervisor, "correct horse"),
        ("root", Role::Admin, "battery staple"),
    ] {
        store
            .put_user(
                &User {
                    name: name.into(),
                    role,
                    password_hash: hashed(pw),
                },
                0,
            )
            .await
            .unwrap();
    }
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let mut cfg = ConsoleConfig::new(rec, dir.path().join("data"));
    cfg.api_token = TOKEN.into();
    cfg.login_attempts = 3;
    cfg.login_window_s = 60;
    tune(&mut cfg);
    let blacklist = Blacklist::new(Vec::new());
    let console = Console::new(store, cfg, clock.clone(), Some(blacklist));
    let app = api_of(&console).router();
    World {
        console,
        app,
        clock,
        dir,
        wav_len,
    }
}

impl World {
    fn session(&self, name: &str, role: Role) -> Who {
        let (token, s) =
            self.console
                .inner
                .sessions
                .lock()
                .unwrap()
                .open(name, role, self.clock.now_ms());
        Who {
            cookie: format!("{}={token}", auth::SESSION_COOKIE),
            csrf: s.csrf,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(w) = who {
            b = b
                .header(header::COOKIE, &w.cookie)
                .header(auth::CSRF_HEADER, &w.csrf);
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        if !body.is_empty() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let r = self
            .app
            .clone()
            .oneshot(b.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
        (status, headers, bytes.to_vec())
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let (s, h, b) = self.send(method, path, who, body, &[]).await;
        if s.is_client_error() || s.is_server_error() {
            assert_eq!(
                h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                Some("application/json"),
                "{method} {path}: errors are JSON"
            );
        }
        (
            s,
            serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn audit_actions(&self) -> Vec<String> {
        self.console
            .store()
            .audit(None)
            .await
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {} {}", a.who, a.action, a.call_id.unwrap_or_default()))
            .collect()
    }
}

/// The test user of a role.
fn user_of(role: Role) -> &'static str {
    match role {
        Role::Agent => "ann",
        Role::Supervisor => "alice",
        Role::Admin => "root",
    }
}

/// Every endpoint with the least role it needs.
fn endpoints() -> Vec<(&'static str, &'static str, &'static str, Role)> {
    vec![
        ("GET", "/api/calls", "", Role::Supervisor),
        ("GET", "/api/calls/c1", "", Role::Supervisor),
        ("GET", "/api/recordings", "", Role::Supervisor),
        ("GET", "/api/recordings/c1", "", Role::Supervisor),
        ("GET", "/api/recordings/c1/audio", "", Role::Supervisor),
        ("GET", "/api/recordings/c1/waveform", "", Role::Supervisor),
        ("GET", "/api/recordings/c1/loudness", "", Role::Supervisor),
        (
            "POST",
            "/api/recordings/c1/marks",
            r#"{"kind":"abuse","note":"shouting"}"#,
            Role::Supervisor,
        ),
        (
            "POST",
            "/api/recordings/c1/release",
            r#"{"reason":"case closed"}"#,
            Role::Admin,
        ),
        ("GET", "/api/blacklist", "", Role::Supervisor),
        (
            "POST",
            "/api/blacklist",
            r#"{"pattern":"+86139*","reason":"extortion","call_id":"c1"}"#,
            Role::Supervisor,
        ),
        ("DELETE", "/api/blacklist/1", "", Role::Supervisor),
        ("GET", "/api/audit", "", Role::Admin),
        ("GET", "/api/audit/verify", "", Role::Admin),
        ("GET", "/api/session", "", Role::Agent),
        ("POST", "/api/logout", "", Role::Agent),
        ("GET", "/api/me/language", "", Role::Agent),
        (
            "PUT",
            "/api/me/language",
            r#"{"language":"en"}"#,
            Role::Agent,
        ),
        ("GET", "/api/quality/forms", "", Role::Agent),
        ("GET", "/api/calls/c1/scores", "", Role::Agent),
        (
            "POST",
            "/api/calls/c1/scores",
            quality::GOOD_SCORE,
            Role::Supervisor,
        ),
        ("GET", "/api/quality/scores", "", Role::Agent),
        ("GET", "/api/quality/averages", "", Role::Agent),
        ("GET", "/api/quality/calibration", "", Role::Supervisor),
        (
            "POST",
            "/api/users/ann/employment",
            r#"{"started_ms":0,"ended_ms":null}"#,
            Role::Admin,
        ),
    ]
}

#[tokio::test]
async fn every_endpoint_as_every_role() {
    for (method, path, body, min) in endpoints() {
        for role in [
            None,
            Some(Role::Agent),
            Some(Role::Supervisor),
            Some(Role::Admin),
        ] {
            // a fresh world each time, so one answer (a release, a removal,
            // a logout) does not decide the next
            let w = world().await;
            // the mark and blacklist entry (id 1) the release and removal need
            let admin = w.session("root", Role::Admin);
            let (s, _) = w
                .json(
                    "POST",
                    "/api/recordings/c1/marks",
                    Some(&admin),
                    r#"{"kind":"abuse"}"#,
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
            let (s, _) = w
                .json(
                    "POST",
                    "/api/blacklist",
                    Some(&admin),
                    r#"{"pattern":"0612","reason":"x"}"#,
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
            let who = role.map(|r| w.session(user_of(r), r));
            let (s, _, b) = w.send(method, path, who.as_ref(), body, &[]).await;
            let text = String::from_utf8_lossy(&b);
            let name = role.map(|r| r.as_str()).unwrap_or("anonymous");
            match role {
                None => assert_eq!(
                    s,
                    StatusCode::UNAUTHORIZED,
                    "{name} {method} {path}: {text}"
                ),
                Some(r) if r < min => {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{name} {method} {path}: {text}")
                }
                Some(_) => assert!(s.is_success(), "{name} {method} {path}: {s} {text}"),
            }
        }
    }
}

#[tokio::test]
async fn the_bearer_token_acts_as_a_supervisor_and_a_wrong_one_is_refused() {
    let w = world().await;
    let good = format!("Bearer {TOKEN}");
    // no CSRF token with the bearer: it is not a cookie a browser sends by itself
    let mark = r#"{"kind":"dispute"}"#;
    for (method, path, body, auth, want) in [
        ("GET", "/api/calls", "", good.as_str(), StatusCode::OK),
        (
            "POST",
            "/api/recordings/c1/marks",
            mark,
            &good,
            StatusCode::CREATED,
        ),
        ("GET", "/api/audit", "", &good, StatusCode::FORBIDDEN),
        (
            "GET",
            "/api/calls",
            "",
            "Bearer nope",
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (s, _, b) = w
            .send(method, path, None, body, &[("authorization", auth)])
            .await;
        assert_eq!(
            s,
            want,
            "{method} {path} {auth}: {}",
            String::from_utf8_lossy(&b)
        );
    }
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_of_the_session() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let other = w.session("root", Role::Admin);
    for csrf in ["", "wrong", other.csrf.as_str()] {
        let who = Who {
            cookie: alice.cookie.clone(),
            csrf: csrf.into(),
        };
        let (s, v) = w
            .json(
                "POST",
                "/api/recordings/c1/marks",
                Some(&who),
                r#"{"kind":"abuse"}"#,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "csrf `{csrf}`: {v}");
    }
    assert!(w.console.store().marks("c1").await.unwrap().is_empty());
    // reads need none
    let who = Who {
        cookie: alice.cookie.clone(),
        csrf: String::new(),
    };
    assert_eq!(
        w.json("GET", "/api/calls", Some(&who), "").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_sets_an_http_only_strict_cookie_and_rate_limits_failures() {
    let w = world().await;
    let (s, h, b) = w
        .send(
            "POST",
            "/api/login",
            None,
            r#"{"user":"alice","password":"correct horse"}"#,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["role"], "supervisor");
    let who = Who {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: v["csrf"].as_str().unwrap().to_string(),
    };
    assert_eq!(
        w.json("GET", "/api/session", Some(&who), "").await.0,
        StatusCode::OK
    );
    // wrong password and unknown user: the same 401
    let (s1, v1) = w
        .json(
            "POST",
            "/api/login",
            None,
            r#"{"user":"alice","password":"nope"}"#,
        )
        .await;
    let (s2, v2) = w
        .json(
            "POST",
            "/api/login",
            None,
            r#"{"user":"mallory","password":"nope"}"#,
        )
        .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(v1, v2);
    // third failure from this address: limited (3 per 60 s), even with the
    // right password
    w.json(
        "POST",
        "/api/login",
        None,
        r#"{"user":"alice","password":"nope"}"#,
    )
    .await;
    let (s, h, _) = w
        .send(
            "POST",
            "/api/login",
            None,
            r#"{"user":"alice","password":"correct horse"}"#,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.get(header::RETRY_AFTER).is_some());
    // a minute later it opens again
    w.clock.0.fetch_add(61_000, Ordering::SeqCst);
    let (s, _) = w
        .json(
            "POST",
            "/api/login",
            None,
            r#"{"user":"alice","password":"correct horse"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // sessions expire after 30 idle minutes
    w.clock.0.fetch_add(31 * 60_000, Ordering::SeqCst);
    assert_eq!(
        w.json("GET", "/api/calls", Some(&who), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    // logout ends the session
    let (_, h, b) = w
        .send(
            "POST",
            "/api/login",
            None,
            r#"{"user":"root","password":"battery staple"}"#,
            &[],
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let root = Who {
        cookie: h[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .into(),
        csrf: v["csrf"].as_str().unwrap().into(),
    };
    assert_eq!(
        w.send("POST", "/api/logout", Some(&root), "", &[]).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        w.json("GET", "/api/audit", Some(&root), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(w
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "user:root login "));
}

#[tokio::test]
async fn malformed_input_gets_a_json_4xx() {
    let w = world().await;
    let a = w.session("root", Role::Admin);
    let cases: Vec<(&str, String, &str, StatusCode)> = vec![
        (
            "POST",
            "/api/login".into(),
            "{not json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/login".into(),
            r#"{"user":"a"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/recordings/c1/marks".into(),
            "[1,2",
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/recordings/c1/marks".into(),
            r#"{"kind":"murder"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/recordings/c1/marks".into(),
            r#"{"kind":"abuse","x":1}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/blacklist".into(),
            r#"{"pattern":"abc","reason":"x"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/blacklist".into(),
            r#"{"pattern":"0612","reason":""}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/blacklist".into(),
            r#"{"pattern":"0612","reason":"x","call_id":"nope"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            "DELETE",
            "/api/blacklist/abc".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "DELETE",
            "/api/blacklist/999".into(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/calls?from=2020-01-01&to=2026-01-01".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls?from=yesterday".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls?limit=100000".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls?offset=-1".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls?type=spam".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls?bogus=1".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/calls/unknown".into(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/recordings/unknown/audio".into(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/recordings/c2/audio".into(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/recordings/c1/waveform?points=1000000".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/audit?limit=0".into(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/recordings/c2/release".into(),
            r#"{"reason":"x"}"#,
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/api/recordings/c1/marks".into(),
            format!(r#"{{"kind":"abuse","note":"{}"}}"#, "x".repeat(100_000)).leak(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (m, p, body, want) in cases {
        let (s, v) = w.json(m, &p, Some(&a), body).await;
        assert_eq!(
            s,
            want,
            "{m} {p} {}: {v}",
            body.chars().take(60).collect::<String>()
        );
        assert!(v["error"].is_string(), "{m} {p}: {v}");
    }
}

/// Bodies above the router's 64 KiB limit (and far above it), on routes
/// that take the body whole (`Bytes`: axum refuses them before the handler,
/// in plain text unless mapped) and on routes that read it themselves: a
/// JSON 413 every time, no panic, and the server keeps serving.
#[tokio::test]
async fn an_oversized_body_gets_a_json_413_and_the_server_keeps_serving() {
    let w = world().await;
    let a = w.session("root", Role::Admin);
    let just_over = format!(
        r#"{{"note":"{}"}}"#,
        "x".repeat(crate::engine::BODY_LIMIT + 1)
    );
    let huge = "[".repeat(4 << 20);
    let multibyte = "\u{fffd}".repeat(40_000);
    let routes = [
        "/api/agents/1001/pause",
        "/api/agents/1001/call/hold",
        "/api/calls/c1/hold",
        "/api/monitor",
        "/api/monitor/c1",
        "/api/line-tests",
        "/api/login",
        "/api/recordings/c1/marks",
    ];
    for path in routes {
        for body in [&just_over, &huge, &multibyte] {
            let (s, v) = w.json("POST", path, Some(&a), body).await;
            assert_eq!(
                s,
                StatusCode::PAYLOAD_TOO_LARGE,
                "POST {path} {} bytes: {v}",
                body.len()
            );
            let e = v["error"].as_str().unwrap_or_default();
            assert!(
                e.contains("too large") || e.contains("larger"),
                "POST {path}: {v}"
            );
        }
    }
    // the same without a session: refused or too large, in JSON either way
    let (s, v) = w.json("POST", "/api/agents/1001/pause", None, &huge).await;
    assert!(s.is_client_error(), "{s} {v}");
    assert!(v["error"].is_string(), "{v}");
    // still serving
    let (s, v) = w.json("GET", "/api/agents", Some(&a), "").await;
    assert!(
        s.is_success() || s == StatusCode::SERVICE_UNAVAILABLE,
        "{s} {v}"
    );
    let (s, v) = w
        .json("POST", "/api/recordings/c1/marks", Some(&a), "[1,2")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn a_login_that_is_not_json_is_refused() {
    let w = world().await;
    let req = Request::builder()
        .method("POST")
        .uri("/api/login")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"user":"alice","password":"correct horse"}"#))
        .unwrap();
    let r = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn traversal_in_recording_ids_never_reaches_a_file_outside_the_root() {
    let w = world().await;
    let a = w.session("root", Role::Admin);
    for id in [
        "..%2F..%2Fetc%2Fpasswd",
        "..",
        ".hidden",
        "%2e%2e",
        "c1%00",
        "a%2Fb",
        "..%5C..%5Csecret",
        "evil",
    ] {
        for suffix in ["", "/audio", "/waveform", "/loudness", "/bundle"] {
            let path = format!("/api/recordings/{id}{suffix}");
            let (s, _, b) = w.send("GET", &path, Some(&a), "", &[]).await;
            assert!(
                s.is_client_error(),
                "{path}: {s} {}",
                String::from_utf8_lossy(&b)
            );
            assert!(!b.starts_with(b"RIFF"), "{path} served audio");
        }
    }
    // nothing was listened to
    assert!(!w.audit_actions().await.iter().any(|a| a.contains("listen")));
    // path segments with a slash do not even route to a recording
    let (s, _, _) = w
        .send(
            "GET",
            "/api/recordings/../../secret.wav/audio",
            Some(&a),
            "",
            &[],
        )
        .await;
    assert!(s.is_client_error());
}

#[tokio::test]
async fn audio_serves_ranges_and_audits_every_fetch_first() {
    let w = world().await;
    let a = w.session("alice", Role::Supervisor);
    let (s, h, b) = w
        .send("GET", "/api/recordings/c1/audio", Some(&a), "", &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b.len() as u64, w.wav_len);
    assert!(b.starts_with(b"RIFF"));
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    let (s, h, b) = w
        .send(
            "GET",
            "/api/recordings/c1/audio",
            Some(&a),
            "",
            &[("range", "bytes=0-3")],
        )
        .await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(b, b"RIFF");
    assert_eq!(
        h[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes 0-3/{}", w.wav_len)
    );
    let (s, _, b) = w
        .send(
            "GET",
            "/api/recordings/c1/audio",
            Some(&a),
            "",
            &[("range", "bytes=-10")],
        )
        .await;
    assert_eq!((s, b.len()), (StatusCode::PARTIAL_CONTENT, 10));
    // a huge end is clamped to the file
    let (s, _, b) = w
        .send(
            "GET",
            "/api/recordings/c1/audio",
            Some(&a),
            "",
            &[("range", "bytes=100-99999999999999")],
        )
        .await;
    assert_eq!(
        (s, b.len() as u64),
        (StatusCode::PARTIAL_CONTENT, w.wav_len - 100)
    );
    let past = format!("bytes={}-", w.wav_len);
    let (s, h, _) = w
        .send(
            "GET",
            "/api/recordings/c1/audio",
            Some(&a),
            "",
            &[("range", &past)],
        )
        .await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        h[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes */{}", w.wav_len)
    );
    let listens: Vec<String> = w
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a.contains("listen"))
        .collect();
    // four served fetches, four entries; the 416 served nothing
    assert_eq!(listens.len(), 4, "{listens:?}");
    assert!(listens.iter().all(|l| l == "user:alice listen c1"));
}

#[tokio::test]
async fn waveform_and_loudness_describe_both_channels() {
    let w = world().await;
    let a = w.session("alice", Role::Supervisor);
    let (s, v) = w
        .json(
            "GET",
            "/api/recordings/c1/waveform?points=100",
            Some(&a),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["duration_ms"], 1000);
    let caller = v["caller"].as_array().unwrap();
    let agent = v["agent"].as_array().unwrap();
    assert_eq!(caller.len(), 100);
    // the agent channel is quiet, then loud
    assert!(agent[10].as_u64().unwrap() < 200 && agent[90].as_u64().unwrap() > 15000);
    assert!(caller.iter().all(|p| p.as_u64().unwrap() > 7000));
    let (s, v) = w
        .json("GET", "/api/recordings/c1/loudness", Some(&a), "")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v["loudest"].as_array().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn marks_hold_release_is_admin_only_and_everything_is_audited() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let root = w.session("root", Role::Admin);
    let (s, v) = w
        .json(
            "POST",
            "/api/recordings/c1/marks",
            Some(&alice),
            r#"{"kind":"extortion","note":"asks for money"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = w
        .json("GET", "/api/recordings?held=true", Some(&alice), "")
        .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["call_id"], "c1");
    assert_eq!(v["items"][0]["marks"][0]["kind"], "extortion");
    let (s, _) = w
        .json(
            "POST",
            "/api/recordings/c1/release",
            Some(&alice),
            r#"{"reason":"mine"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = w.json("GET", "/api/calls/c1", Some(&alice), "").await;
    assert_eq!(v["held"], true);
    assert_eq!(v["events"][0]["kind"]["type"], "arrived", "{v}");
    let (s, _) = w
        .json(
            "POST",
            "/api/recordings/c1/release",
            Some(&root),
            r#"{"reason":"case closed"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = w
        .json("GET", "/api/recordings?held=true", Some(&alice), "")
        .await;
    assert_eq!(v["total"], 0);
    let (_, v) = w
        .json("GET", "/api/audit?call_id=c1", Some(&root), "")
        .await;
    let actions: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["release", "release_refused", "mark"]);
    let (_, v) = w.json("GET", "/api/audit/verify", Some(&root), "").await;
    assert_eq!(v["ok"], true);
}

#[tokio::test]
async fn blacklist_changes_reach_the_engine_at_once() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let engine = w.console.inner.blacklist.clone().unwrap();
    assert!(engine.lookup("+8613900001111").is_none());
    let (s, v) = w
        .json(
            "POST",
            "/api/blacklist",
            Some(&alice),
            r#"{"pattern":"+86 139*","reason":"extortion","call_id":"c1"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["pattern"], "+86139*");
    assert_eq!(engine.lookup("+8613900001111").unwrap().reason, "extortion");
    let (s, _) = w
        .json(
            "POST",
            "/api/blacklist",
            Some(&alice),
            r#"{"pattern":"+86139*","reason":"again"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let id = v["id"].as_i64().unwrap();
    let (_, list) = w.json("GET", "/api/blacklist", Some(&alice), "").await;
    assert_eq!(list["entries"][0]["call_id"], "c1");
    let (s, _) = w
        .json("DELETE", &format!("/api/blacklist/{id}"), Some(&alice), "")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(engine.lookup("+8613900001111").is_none());
    let acts = w.audit_actions().await;
    assert!(
        acts.contains(&"user:alice blacklist_add c1".to_string()),
        "{acts:?}"
    );
    assert!(
        acts.contains(&"user:alice blacklist_remove c1".to_string()),
        "{acts:?}"
    );
}

#[tokio::test]
async fn pages_and_openapi_are_served_with_a_strict_policy() {
    let w = world().await;
    for p in [
        "/console/",
        "/console/app.js",
        "/console/quality.js",
        "/console/style.css",
        "/api/openapi.json",
    ] {
        let (s, h, _) = w.send("GET", p, None, "", &[]).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
    }
    let (_, _, b) = w.send("GET", "/api/openapi.json", None, "", &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&b).expect("the OpenAPI document is JSON");
    let paths = v["paths"].as_object().expect("paths");
    for (_, p, _, _) in endpoints() {
        let templ = p
            .replace("/c1", "/{call_id}")
            .replace("/api/blacklist/1", "/api/blacklist/{id}")
            .replace("/users/ann/", "/users/{name}/");
        assert!(paths.contains_key(&templ), "{templ} not in openapi.json");
    }
    assert!(w.dir.path().exists());
}

#[test]
fn a_non_loopback_listener_without_tls_is_warned_about() {
    assert!(exposure_warning("127.0.0.1:8080".parse().unwrap(), false).is_none());
    assert!(exposure_warning("0.0.0.0:8080".parse().unwrap(), false).is_some());
    assert!(exposure_warning("0.0.0.0:8443".parse().unwrap(), true).is_none());
}

#[tokio::test]
async fn closing_the_read_api_guards_every_path_but_the_login_and_the_pages() {
    let w = world_with(|c| c.open_read_api = false).await;
    assert_eq!(
        w.send("GET", "/api/stats", None, "", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let bearer = format!("Bearer {TOKEN}");
    let (s, _, _) = w
        .send("GET", "/api/stats", None, "", &[("authorization", &bearer)])
        .await;
    assert_eq!(s, StatusCode::OK);
    let ann = w.session("ann", Role::Agent);
    assert_eq!(
        w.send("GET", "/api/stats", Some(&ann), "", &[]).await.0,
        StatusCode::OK
    );
    for open in [
        "/health",
        "/console/",
        "/console/app.js",
        "/api/openapi.json",
    ] {
        assert_eq!(
            w.send("GET", open, None, "", &[]).await.0,
            StatusCode::OK,
            "{open}"
        );
    }
    let (s, _) = w
        .json(
            "POST",
            "/api/login",
            None,
            r#"{"user":"alice","password":"correct horse"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // the console's own role checks still apply behind the guard
    assert_eq!(
        w.send("GET", "/api/calls", Some(&ann), "", &[]).await.0,
        StatusCode::FORBIDDEN
    );
    // and it stays open when asked to
    let open = world().await;
    assert_eq!(
        open.send("GET", "/api/stats", None, "", &[]).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_role_change_in_the_store_applies_to_open_sessions_at_once() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    assert_eq!(
        w.json("GET", "/api/calls", Some(&alice), "").await.0,
        StatusCode::OK
    );
    let demoted = User {
        name: "alice".into(),
        role: Role::Agent,
        password_hash: hashed("correct horse"),
    };
    w.console.store().put_user(&demoted, 1).await.unwrap();
    assert_eq!(
        w.json("GET", "/api/calls", Some(&alice), "").await.0,
        StatusCode::FORBIDDEN
    );
    // a session of a user the store does not know is refused
    let ghost = w.session("ghost", Role::Admin);
    assert_eq!(
        w.json("GET", "/api/audit", Some(&ghost), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.json("GET", "/api/audit", Some(&ghost), "").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_day_in_a_call_query_is_the_centers_local_day() {
    // the calls arrived at 2023-11-14 22:13:20 UTC = 2023-11-15 06:13:20 in Shanghai
    let shanghai = hotline_core::Calendar::named("Asia/Shanghai").unwrap();
    let w = world_with(|c| c.calendar = shanghai).await;
    let alice = w.session("alice", Role::Supervisor);
    let count = |body: &serde_json::Value| body["items"].as_array().map(Vec::len).unwrap();
    let (s, local_day) = w
        .json(
            "GET",
            "/api/calls?from=2023-11-15&to=2023-11-15",
            Some(&alice),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{local_day}");
    assert_eq!(count(&local_day), 3, "{local_day}");
    let (s, utc_day) = w
        .json(
            "GET",
            "/api/calls?from=2023-11-14&to=2023-11-14",
            Some(&alice),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        count(&utc_day),
        0,
        "the UTC day is not the center's: {utc_day}"
    );
}

mod cases;
mod cluster;
mod duty;
mod fuzz_bodies;
mod i18n;

#[tokio::test]
async fn an_agent_may_click_to_call_only_as_themselves() {
    let w = world().await;
    // ann is an agent: her own phone passes the check (no engine here: 503)
    let ann = w.session("ann", Role::Agent);
    let body = r#"{"number":"13812345678","type":"return_visit"}"#;
    let (s, b) = w
        .json("POST", "/api/agents/ann/dial", Some(&ann), body)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    let (s, b) = w
        .json("POST", "/api/agents/1001/dial", Some(&ann), body)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // a supervisor dials for any agent; bad input is refused before the engine
    let alice = w.session("alice", Role::Supervisor);
    let (s, _) = w
        .json("POST", "/api/agents/1001/dial", Some(&alice), body)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    for bad in [
        r#"{"number":"06@x"}"#,
        r#"{"number":"0612","type":"sales"}"#,
        r#"{"number":"0612","x":1}"#,
        "[]",
        "",
    ] {
        let (s, b) = w
            .json("POST", "/api/agents/1001/dial", Some(&alice), bad)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
    let huge = format!(r#"{{"number":"{}"}}"#, "1".repeat(10_000));
    let (s, _) = w
        .json("POST", "/api/agents/1001/dial", Some(&alice), &huge)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // nobody logged in: 401
    let (s, _) = w.json("POST", "/api/agents/1001/dial", None, body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
