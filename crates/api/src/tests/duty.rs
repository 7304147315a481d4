//! The duty routes: roster, changes and CSV import, attendance, the floor,
//! handovers; roles and bad input.

use crate::duty::{DutyApi, Publish};
use crate::{hash_password, Console, ConsoleConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use hotline_core::{AgentId, Calendar, CallEvent, Clock, EventKind, Shift};
use hotline_duty::{DutyRules, Roster, WeeklyEntry};
use hotline_engine::duty::DutyBoard;
use hotline_store::{Role, Store, User};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const TOKEN: &str = "duty-test-token-0123456789abcdef";
/// 2026-12-01T02:00:00Z, Tuesday 10:00 in Shanghai.
const T0: i64 = 1_796_090_400_000;
const M: i64 = 60_000;
const H: i64 = 3_600_000;

struct D {
    api: DutyApi,
    app: axum::Router,
    console: Console,
    clock: Arc<FakeClock>,
    store: Store,
}

struct Who {
    cookie: String,
    csrf: String,
}

fn shift(name: &str, part: &str) -> Shift {
    Shift::new(name, vec![part.parse().unwrap()]).unwrap()
}

async fn world() -> D {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let hash = hash_password("pw").unwrap();
    for (name, role) in [
        ("1001", Role::Agent),
        ("1002", Role::Agent),
        ("1003", Role::Agent),
        ("alice", Role::Supervisor),
    ] {
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
    let console = Console::new(store.clone(), cc, clock.clone(), None);
    let cal = Calendar::named("Asia/Shanghai").unwrap();
    let week: Vec<jiff::civil::Weekday> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| hotline_duty::roster::parse_weekday(d).unwrap())
        .collect();
    let base = Roster::new(
        vec![shift("day", "08:00-15:00"), shift("late", "13:00-20:00")],
        ["1001", "1002", "1003"].map(AgentId::new),
        vec![
            WeeklyEntry {
                agent: AgentId::new("1001"),
                shift: "day".into(),
                days: week.clone(),
            },
            WeeklyEntry {
                agent: AgentId::new("1002"),
                shift: "late".into(),
                days: week,
            },
        ],
    )
    .unwrap();
    let mut rules = DutyRules::default();
    rules.supervisors.insert("day".into(), vec!["alice".into()]);
    let board = DutyBoard::new(base.clone(), rules, cal);
    let api = DutyApi {
        board,
        base: Arc::new(base),
        store: store.clone(),
        agents: hotline_engine::control::AgentControl::detached(),
        clock: clock.clone(),
        handover_grace_ms: 15 * M,
    };
    let app = api.clone().router(crate::auth::Gate {
        console: Some(console.clone()),
        token: TOKEN.into(),
    });
    D {
        api,
        app,
        console,
        clock,
        store,
    }
}

impl D {
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

    async fn raw(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: Vec<u8>,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = Request::builder().method(method).uri(path);
        match who {
            Some(w) => {
                b = b
                    .header(header::COOKIE, &w.cookie)
                    .header(crate::auth::CSRF_HEADER, &w.csrf)
            }
            None => b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
        }
        let r = self
            .app
            .clone()
            .oneshot(b.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let s = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
        (
            s,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        self.raw(method, path, who, body.as_bytes().to_vec()).await
    }

    async fn event(&self, at: i64, agent: &str, kind: EventKind) {
        self.store
            .append_event(&CallEvent {
                at_ms: at,
                call_id: None,
                agent: Some(AgentId::new(agent)),
                queue: None,
                kind,
            })
            .await
            .unwrap();
    }
}

fn agents_of(v: &serde_json::Value) -> Vec<String> {
    v["duties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["agent"].as_str().unwrap(),
                d["shift"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn roster_changes_and_their_bad_input() {
    let d = world().await;
    let agent = d.session("1001", Role::Agent);
    let lead = d.session("alice", Role::Supervisor);
    let (s, v) = d
        .call("GET", "/api/roster?date=2026-12-01", Some(&agent), "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(agents_of(&v), ["1001:day", "1002:late"]);
    assert_eq!(v["timezone"], "Asia/Shanghai");
    // today by default
    let (_, today) = d.call("GET", "/api/roster", Some(&agent), "").await;
    assert_eq!(today["date"], "2026-12-01");
    // agents do not change the roster
    let add = r#"{"date":"2026-12-01","agent":"1003","shift":"day","action":"add","note":"cover"}"#;
    let (s, _) = d.call("POST", "/api/roster", Some(&agent), add).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = d.call("POST", "/api/roster", Some(&lead), add).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = d.call("GET", "/api/roster?date=2026-12-01", None, "").await;
    assert_eq!(agents_of(&v), ["1001:day", "1003:day", "1002:late"]);
    assert_eq!(v["changes"].as_array().unwrap().len(), 1);
    // the engine's board sees it too
    assert_eq!(d.api.board.roster().at(d.api.board.calendar(), T0).len(), 2);
    // bad input: overlapping shifts, unknown agent, zero length, bad JSON,
    // unknown field, bad action, bad date, control characters, oversized
    for (body, status, needle) in [
        (
            r#"{"date":"2026-12-01","agent":"1001","shift":"late","action":"add"}"#,
            StatusCode::CONFLICT,
            "overlapping",
        ),
        (
            r#"{"date":"2026-12-01","agent":"9999","shift":"day","action":"add"}"#,
            StatusCode::BAD_REQUEST,
            "unknown agent",
        ),
        (
            r#"{"date":"2026-12-01","agent":"1003","shift":"18:00-18:00","action":"add"}"#,
            StatusCode::BAD_REQUEST,
            "18:00-18:00",
        ),
        (
            r#"{"date":"2026-12-01","agent":"1003","shift":"brunch","action":"add"}"#,
            StatusCode::BAD_REQUEST,
            "unknown shift",
        ),
        (r#"{"date":"2026-12-01""#, StatusCode::BAD_REQUEST, "JSON"),
        (
            r#"{"date":"2026-12-01","agent":"1003","shift":"day","action":"add","x":1}"#,
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            r#"{"date":"2026-12-01","agent":"1003","shift":"day","action":"swap"}"#,
            StatusCode::BAD_REQUEST,
            "unknown action",
        ),
        (
            r#"{"date":"2026-02-30","agent":"1003","shift":"day","action":"add"}"#,
            StatusCode::BAD_REQUEST,
            "2026-02-30",
        ),
        (
            r#"{"date":"2026-12-02","agent":"1003","shift":"day","action":"add","note":"a\u0000b"}"#,
            StatusCode::BAD_REQUEST,
            "control",
        ),
    ] {
        let (s, v) = d.call("POST", "/api/roster", Some(&lead), body).await;
        assert_eq!(s, status, "{body}: {v}");
        assert!(
            v["error"].as_str().unwrap_or("").contains(needle),
            "{body}: {v}"
        );
    }
    let huge = format!(
        r#"{{"date":"2026-12-01","agent":"1003","shift":"day","action":"add","note":"{}"}}"#,
        "x".repeat(40_000)
    );
    let (s, _) = d.call("POST", "/api/roster", Some(&lead), &huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // nothing of that was stored
    assert_eq!(d.store.roster_changes(None).await.unwrap().len(), 1);
    let (s, _) = d
        .call("GET", "/api/roster?date=yesterday", Some(&agent), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = d
        .call("GET", "/api/roster?day=2026-12-01", Some(&agent), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // not logged in
    let r = d
        .app
        .clone()
        .oneshot(Request::get("/api/roster").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roster_csv_import_is_all_or_nothing_with_line_numbers() {
    let d = world().await;
    let lead = d.session("alice", Role::Supervisor);
    let good = "date,agent,shift,action,note\n\
                2026-12-02,1001,,remove,annual leave\n\
                2026-12-02,1003,day,add,\"covers 1001, day\"\n";
    let (s, v) = d
        .call("POST", "/api/roster/import", Some(&lead), good)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], 2);
    let (_, v) = d
        .call("GET", "/api/roster?date=2026-12-02", Some(&lead), "")
        .await;
    assert_eq!(agents_of(&v), ["1003:day", "1002:late"]);
    for (text, status, needle) in [
        (
            "date,agent,shift,action\n2026-12-03,1001,day,add\n2026-12-03,1001\n",
            StatusCode::BAD_REQUEST,
            "line 3",
        ),
        (
            "2026-12-03,1003,late,add\n2026-12-03,1003,day,add\n",
            StatusCode::CONFLICT,
            "line 2",
        ),
        (
            "# comment\n2026-12-03,ghost,day,add\n",
            StatusCode::BAD_REQUEST,
            "line 2",
        ),
        (
            "2026-12-03,1003,09:00-09:00,add\n",
            StatusCode::BAD_REQUEST,
            "line 1",
        ),
        (
            "2026-12-03,1003,day,add,\"unterminated\n",
            StatusCode::BAD_REQUEST,
            "line 1",
        ),
    ] {
        let (s, v) = d
            .call("POST", "/api/roster/import", Some(&lead), text)
            .await;
        assert_eq!(s, status, "{text:?}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(needle),
            "{text:?}: {v}"
        );
    }
    let (s, _) = d
        .raw(
            "POST",
            "/api/roster/import",
            Some(&lead),
            vec![0xff, 0xfe, b'\n'],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let big = "2026-12-03,1003,day,add\n".repeat(30_000);
    let (s, _) = d
        .call("POST", "/api/roster/import", Some(&lead), &big)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // only the good file's two changes are stored
    assert_eq!(d.store.roster_changes(None).await.unwrap().len(), 2);
    let agent = d.session("1003", Role::Agent);
    let (s, _) = d
        .call("POST", "/api/roster/import", Some(&agent), good)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // a restart loads the stored changes onto the configured pattern
    d.api.board.replace((*d.api.base).clone());
    assert_eq!(d.api.load().await.unwrap(), 2);
    let (_, v) = d
        .call("GET", "/api/roster?date=2026-12-02", Some(&lead), "")
        .await;
    assert_eq!(agents_of(&v), ["1003:day", "1002:late"]);
}

#[tokio::test]
async fn attendance_and_the_floor() {
    let d = world().await;
    let reg = |c: &str| EventKind::AgentRegistered {
        contact: format!("sip:{c}@10.0.0.1"),
        expires_s: 0,
    };
    // Monday: 1001 on time, 1002 absent; Tuesday 1001 20 minutes late
    let mon8 = T0 - 24 * H - 2 * H;
    d.event(mon8 - 2 * M, "1001", reg("1001")).await;
    d.event(
        mon8 + 7 * H + M,
        "1001",
        EventKind::AgentUnregistered {
            contact: "sip:1001@10.0.0.1".into(),
        },
    )
    .await;
    d.event(T0 - 2 * H + 20 * M, "1001", reg("1001")).await;
    let lead = d.session("alice", Role::Supervisor);
    let (s, v) = d
        .call(
            "GET",
            "/api/attendance?from=2026-11-30&to=2026-12-01",
            Some(&lead),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["attendance"];
    let st: Vec<String> = a["duties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["agent"].as_str().unwrap(),
                d["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        st,
        ["1001:present", "1002:absent", "1001:late", "1002:upcoming"]
    );
    assert_eq!(a["scheduled"], 3);
    assert_eq!(a["present"], 2);
    assert!((a["attendance_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    // an agent sees their own duties only
    let agent = d.session("1002", Role::Agent);
    let (_, v) = d
        .call(
            "GET",
            "/api/attendance?from=2026-11-30&to=2026-12-01&agent=1001",
            Some(&agent),
            "",
        )
        .await;
    assert!(v["attendance"]["duties"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["agent"] == "1002"));
    for q in [
        "from=2026-12-02&to=2026-12-01",
        "from=2026-01-01&to=2026-12-01",
        "from=x",
        "foo=1",
    ] {
        let (s, v) = d
            .call("GET", &format!("/api/attendance?{q}"), Some(&lead), "")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    // the floor at 10:00: 1001 should be on; no engine here, so nobody is
    let (s, v) = d.call("GET", "/api/duty/floor", Some(&agent), "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["should"], serde_json::json!(["1001"]));
    assert_eq!(v["missing"], serde_json::json!(["1001"]));
    assert_eq!(v["supervisors"], serde_json::json!(["alice"]));
    assert_eq!(v["shifts"], serde_json::json!(["day"]));
}

#[tokio::test]
async fn handovers_written_acknowledged_and_missing() {
    let d = world().await;
    // 14:50 Tuesday; an alarm of the day shift and an open work item
    d.clock.0.store(T0 + 4 * H + 50 * M, Ordering::SeqCst);
    d.store
        .append_event(&CallEvent {
            at_ms: T0,
            call_id: None,
            agent: Some(AgentId::new("1001")),
            queue: None,
            kind: EventKind::FloorAlarm {
                reason: "1001 unregistered while needed".into(),
                shift: Some("day".into()),
            },
        })
        .await
        .unwrap();
    let w1001 = d.session("1001", Role::Agent);
    let w1002 = d.session("1002", Role::Agent);
    let w1003 = d.session("1003", Role::Agent);
    let (s, v) = d
        .call("GET", "/api/handovers/prefill?shift=day", Some(&w1001), "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["date"], "2026-12-01");
    let items = v["items"].as_array().unwrap();
    assert!(
        items.iter().any(|i| i["kind"] == "alarm"
            && i["text"]
                .as_str()
                .unwrap()
                .contains("unregistered while needed")),
        "{v}"
    );
    let body = r#"{"shift":"day","text":"两位客户待回电；8号线路有杂音"}"#;
    // not on the day shift: refused
    let (s, _) = d.call("POST", "/api/handovers", Some(&w1003), body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = d.call("POST", "/api/handovers", Some(&w1001), body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["written_by"], "1001");
    assert!(!v["items"].as_array().unwrap().is_empty());
    // bad input
    for (b, status) in [
        (
            r#"{"shift":"day","text":"  "}"#.to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"shift":"brunch","text":"x"}"#.to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"shift":"day"}"#.to_string(), StatusCode::BAD_REQUEST),
        (
            format!(r#"{{"shift":"day","text":"{}"}}"#, "长".repeat(20_001)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            format!(r#"{{"shift":"day","text":"{}"}}"#, "x".repeat(20_001)),
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"shift":"day","date":"2026-13-01","text":"x"}"#.to_string(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, v) = d.call("POST", "/api/handovers", Some(&w1001), &b).await;
        assert_eq!(s, status, "{}: {v}", &b[..b.len().min(60)]);
    }
    // the writer does not acknowledge their own; 1003 is not incoming
    for who in [&w1001, &w1003] {
        let (s, _) = d
            .call("POST", &format!("/api/handovers/{id}/ack"), Some(who), "")
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, v) = d
        .call(
            "POST",
            &format!("/api/handovers/{id}/ack"),
            Some(&w1002),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["acknowledged_by"], "1002");
    let (s, _) = d
        .call(
            "POST",
            &format!("/api/handovers/{id}/ack"),
            Some(&w1002),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = d.call("POST", "/api/handovers", Some(&w1001), body).await;
    assert_eq!(s, StatusCode::CONFLICT);
    for path in ["/api/handovers/999/ack", "/api/handovers/abc/ack"] {
        let lead = d.session("alice", Role::Supervisor);
        let (s, _) = d.call("POST", path, Some(&lead), "").await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "{path}: {s}"
        );
    }
    let (s, v) = d.call("GET", "/api/handovers", Some(&w1003), "").await;
    assert_eq!(s, StatusCode::OK);
    let list = v["handovers"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["acknowledged_by"], "1002");
    // both are in the audit log
    let audit = d.store.audit(None).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"handover_write") && actions.contains(&"handover_ack"));

    // 20:30: the late shift ended at 20:00 without a handover
    d.clock.0.store(T0 + 10 * H + 30 * M, Ordering::SeqCst);
    let seen: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
    let sink = seen.clone();
    let publish: Publish = Arc::new(move |e| sink.lock().unwrap().push(e));
    // the HA pair: a standby's watch neither raises it nor takes the
    // shared mark (its event would be dropped); the node becoming active
    // raises it at once, and once
    let role = hotline_engine::role::RolePublisher::new();
    d.api.spawn_handover_watch(publish.clone(), role.watch());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(seen.lock().unwrap().is_empty());
    role.set(hotline_engine::role::NodeRole::Active);
    let t = std::time::Instant::now();
    while seen.lock().unwrap().is_empty() && t.elapsed().as_secs() < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(d.api.look_for_missing(&publish).await.unwrap(), 0);
    let seen = seen.lock().unwrap();
    assert!(matches!(
        &seen[0].kind,
        EventKind::HandoverMissing { shift, date } if shift == "late" && date == "2026-12-01"
    ));
}
