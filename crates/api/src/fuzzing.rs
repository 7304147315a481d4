//! The HTTP API's fuzz entry point (issue 19), built with the `fuzzing`
//! feature (and in this crate's tests): the cargo-fuzz target `http_body`
//! in `fuzz/` and the stable smoke run (`cargo test -p hotline-api --lib
//! fuzz_bodies`) call [`http_body`] with arbitrary bytes. Not part of the
//! API: no stability promised.
//!
//! An input is `METHOD PATH\nBODY` (the corpus in `fuzz/corpus/http_body`
//! holds one valid request a file); an input whose first line is no longer
//! a request line is sent whole as the body of one of the routes that take
//! a body. It goes through the real router, its handlers and an in-memory
//! SQLite store, as an admin with a session and its CSRF token. The world
//! (store, recordings root with one recording, users, router, session) is
//! built once per process and rebuilt every [`REBUILD_EVERY`] inputs so the
//! tables stay small.
//!
//! Invariants besides "no panic": no 5xx; every 4xx is JSON with an
//! `error` string; a 2xx JSON answer parses; after a write is accepted
//! (POST, PUT, DELETE answered 2xx) the store reads everything back (the
//! same path, the lists of every table the console writes, the audit
//! chain verifies), never a 5xx.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::auth;
use crate::{Console, ConsoleConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use hotline_core::{CallEvent, CallId, CallType, Clock, EventKind, Party};
use hotline_engine::routing::Blacklist;
use hotline_store::{Cdr, Role, Store, User};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use tower::ServiceExt;

/// Inputs between two rebuilds of the world (accepted writes accumulate).
pub const REBUILD_EVERY: u64 = 4096;

/// The routes that take a body: an input that is not `METHOD PATH\n...`
/// is sent whole to one of them (chosen by the input's length).
pub const BODY_ROUTES: &[&str] = &[
    "POST /api/blacklist",
    "POST /api/calls/c1/notes",
    "POST /api/calls/c1/scores",
    "POST /api/cases",
    "POST /api/cases/1",
    "POST /api/cases/1/links",
    "POST /api/cases/1/stage",
    "POST /api/login",
    "POST /api/recordings/c1/marks",
    "POST /api/recordings/c1/release",
    "POST /api/users/ann/employment",
    "PUT /api/me/language",
];

/// Read after every accepted write: the lists of what the console writes
/// (a row the store cannot read back makes them fail).
const READ_BACK: &[&str] = &[
    "/api/blacklist",
    "/api/calls?per_page=50",
    "/api/calls/c1/notes",
    "/api/calls/c1/scores",
    "/api/cases",
    "/api/cases/summary",
    "/api/customers/0611111111",
    "/api/me/language",
    "/api/quality/averages",
    "/api/quality/scores",
    "/api/recordings",
    "/api/recordings/c1",
    "/api/audit?limit=50",
];

/// The harness's clock: a fixed instant (sessions never expire).
struct Fixed;

impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        1_800_000_000_000
    }
}

/// The world the requests go to.
struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    cookie: String,
    csrf: String,
    inputs: u64,
}

/// One call's CDR of the seeded store (also the API tests').
pub(crate) fn cdr(id: &str, recording: Option<&str>) -> Cdr {
    Cdr {
        call_id: CallId::from_stored(id),
        caller: "0611111111".into(),
        caller_name: None,
        dialled: "hotline".into(),
        queue: None,
        agent: Some(hotline_core::AgentId::new("1001".to_string())),
        call_type: CallType::Inquiry,
        arrived_ms: 1_700_000_000_000,
        system_answered_ms: None,
        agent_answered_ms: Some(1_700_000_001_000),
        ended_ms: Some(1_700_000_003_000),
        wait_ms: Some(1000),
        talk_ms: Some(2000),
        rings: Some(1),
        outcome: Some(hotline_core::Outcome::Answered),
        ended_by: None,
        recording_path: recording.map(str::to_string),
        recording_sha256: None,
        end_cause: None,
    }
}

/// One second of stereo tone.
fn wav(path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..8000u32 {
        let s = ((f64::from(i) / 8000.0 * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s / 2).unwrap();
    }
    w.finalize().unwrap();
}

/// The scratch directory of this process (recordings root, data dir).
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-http-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("recordings/2026/11/23")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    dir
}

/// The users' password hashes, made once (Argon2 is slow on purpose).
fn hashes() -> &'static [(String, Role, String)] {
    static HASHES: OnceLock<Vec<(String, Role, String)>> = OnceLock::new();
    HASHES.get_or_init(|| {
        [
            ("ann", Role::Agent, "agent password"),
            ("1001", Role::Agent, "agent password"),
            ("alice", Role::Supervisor, "correct horse"),
            ("root", Role::Admin, "battery staple"),
        ]
        .into_iter()
        .map(|(n, r, pw)| (n.to_string(), r, crate::hash_password(pw).unwrap()))
        .collect()
    })
}

fn build() -> World {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = scratch();
    let rec = dir.join("recordings");
    wav(&rec.join("2026/11/23/c1.wav"));
    let (app, cookie, csrf) = rt.block_on(async {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store
            .upsert_cdr(&cdr("c1", Some("2026/11/23/c1.wav")))
            .await
            .unwrap();
        store.upsert_cdr(&cdr("c2", None)).await.unwrap();
        store
            .append_event(&CallEvent {
                at_ms: 1_700_000_000_000,
                call_id: Some(CallId::from_stored("c1")),
                agent: None,
                queue: None,
                kind: EventKind::Arrived {
                    caller: Party {
                        number: "0611111111".into(),
                        display: None,
                    },
                    dialled: "hotline".into(),
                    call_type: CallType::Inquiry,
                },
            })
            .await
            .unwrap();
        for (name, role, hash) in hashes() {
            store
                .put_user(
                    &User {
                        name: name.clone(),
                        role: *role,
                        password_hash: hash.clone(),
                    },
                    0,
                )
                .await
                .unwrap();
        }
        let mut cfg = ConsoleConfig::new(rec, dir.join("data"));
        cfg.login_attempts = 3;
        cfg.login_window_s = 60;
        let console = Console::new(
            store,
            cfg,
            Arc::new(Fixed),
            Some(Blacklist::new(Vec::new())),
        )
        .with_cases(crate::cases::CaseDesk {
            owners: Some(hotline_engine::owners::CaseOwners::new()),
            ..Default::default()
        })
        .await
        .unwrap();
        let (token, session) =
            console
                .inner
                .sessions
                .lock()
                .unwrap()
                .open("root", Role::Admin, Fixed.now_ms());
        let app = api_of(&console).router();
        (
            app,
            format!("{}={token}", auth::SESSION_COOKIE),
            session.csrf,
        )
    });
    World {
        rt,
        app,
        cookie,
        csrf,
        inputs: 0,
    }
}

/// The one state over `console`: live figures, no engine behind the agent
/// control, no work list or duty board (also the API tests').
pub(crate) fn api_of(console: &Console) -> crate::engine::Api {
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    // the live task ends with its event source: keep it for the process
    std::mem::forget(events);
    crate::engine::Api {
        console: console.clone(),
        live: crate::engine::LiveKpis::spawn(rx, Default::default()),
        agents: hotline_engine::control::AgentControl::detached(),
        trunks: Default::default(),
        tls: None,
        console_routes: true,
        worklist: None,
        duty: None,
        line_tests: Default::default(),
        bans: Default::default(),
        cluster: None,
    }
}

/// Splits an input into the request line's method and path and the body;
/// a first line that is not a request line leaves the whole input a body
/// for one of [`BODY_ROUTES`].
pub fn request_of(input: &[u8]) -> (String, String, &[u8]) {
    let (line, body) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let parsed = std::str::from_utf8(line).ok().and_then(|l| {
        let (m, p) = l.split_once(' ')?;
        let ok = ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m)
            && p.starts_with('/')
            && p.parse::<axum::http::Uri>().is_ok();
        ok.then(|| (m.to_string(), p.to_string()))
    });
    match parsed {
        Some((m, p)) => (m, p, body),
        None => {
            let route = BODY_ROUTES[input.len() % BODY_ROUTES.len()];
            let (m, p) = route.split_once(' ').unwrap_or(("POST", "/api/login"));
            (m.to_string(), p.to_string(), input)
        }
    }
}

/// What came back.
struct Answer {
    status: StatusCode,
    json: bool,
    body: Vec<u8>,
}

fn send(w: &World, method: &str, path: &str, body: &[u8]) -> Option<Answer> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, &w.cookie)
        .header(auth::CSRF_HEADER, &w.csrf);
    if !body.is_empty() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let req = b.body(Body::from(body.to_vec())).ok()?;
    Some(w.rt.block_on(async {
        let r = w.app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let json = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = axum::body::to_bytes(r.into_body(), 1 << 24)
            .await
            .unwrap()
            .to_vec();
        Answer { status, json, body }
    }))
}

/// The invariants every answer keeps.
fn check(method: &str, path: &str, a: &Answer) {
    let text = || {
        String::from_utf8_lossy(&a.body)
            .chars()
            .take(300)
            .collect::<String>()
    };
    assert!(
        !a.status.is_server_error(),
        "{method} {path}: {} {}",
        a.status,
        text()
    );
    if a.status.is_client_error() {
        assert!(
            a.json,
            "{method} {path}: {} is not JSON: {}",
            a.status,
            text()
        );
        let v: serde_json::Value = serde_json::from_slice(&a.body)
            .unwrap_or_else(|e| panic!("{method} {path}: {} body is not JSON ({e})", a.status));
        assert!(
            v.get("error").is_some_and(serde_json::Value::is_string),
            "{method} {path}: {} without an error field: {v}",
            a.status
        );
    }
    if a.status.is_success() && a.json {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&a.body).is_ok(),
            "{method} {path}: {} with a body that is not JSON: {}",
            a.status,
            text()
        );
    }
}

/// One request (see the module) through the router; the status answered,
/// None when the input makes no request (a logout, which would end the
/// harness's session, or a header the HTTP types refuse).
pub fn http_body(data: &[u8]) -> Option<u16> {
    static WORLD: OnceLock<Mutex<World>> = OnceLock::new();
    let mut guard = WORLD
        .get_or_init(|| Mutex::new(build()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    guard.inputs += 1;
    if guard.inputs.is_multiple_of(REBUILD_EVERY) {
        *guard = build();
    }
    let w = &*guard;
    let (method, path, body) = request_of(data);
    if path.trim_start_matches('/').starts_with("api/logout") {
        return None;
    }
    let a = send(w, &method, &path, body)?;
    check(&method, &path, &a);
    if a.status.is_success() && method != "GET" {
        // what was accepted reads back
        let same = std::iter::once(path.as_str()).filter(|p| !p.starts_with("/api/login"));
        for p in same.chain(READ_BACK.iter().copied()) {
            let Some(r) = send(w, "GET", p, &[]) else {
                continue;
            };
            check("GET", p, &r);
        }
        let r = send(w, "GET", "/api/audit/verify", &[]).expect("a request");
        check("GET", "/api/audit/verify", &r);
        if r.status == StatusCode::OK {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            assert_eq!(
                v["ok"],
                serde_json::Value::Bool(true),
                "after {method} {path}: the audit chain breaks: {v}"
            );
        }
    }
    Some(a.status.as_u16())
}
