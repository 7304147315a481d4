//! The work-list routes as agents, supervisors and the token; bad input.

use super::service::{Worklist, WorklistConfig};
use super::WorklistApi;
use crate::{hash_password, Console, ConsoleConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, Clock, EndedBy, EventKind, Party, QueueId, OUTBOUND,
};
use hotline_store::{Role, Store, User};
use hotline_worklist::Quota;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tower::ServiceExt;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const TOKEN: &str = "worklist-test-token-0123456789";
/// 2026-12-01T02:00:00Z, Tuesday 10:00 in Shanghai.
const T0: i64 = 1_796_090_400_000;

struct W {
    app: axum::Router,
    service: Worklist,
    console: Console,
    clock: Arc<FakeClock>,
    live: mpsc::UnboundedReceiver<CallEvent>,
}

struct Who {
    cookie: String,
    csrf: String,
}

async fn world() -> W {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let hash = hash_password("pw").unwrap();
    for (name, role) in [
        ("1001", Role::Agent),
        ("1002", Role::Agent),
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
    let mut queues = HashMap::new();
    queues.insert(QueueId::new("general"), Vec::new());
    queues.insert(QueueId::new("vip"), vec![AgentId::new("1002")]);
    let cfg = WorklistConfig {
        deadline_ms: 24 * 3_600_000,
        check_every_ms: 1000,
        quota: Quota::default(),
        calendar: hotline_core::Calendar::named("Asia/Shanghai").unwrap(),
        queues,
        default_queue: QueueId::new("general"),
        agents: vec![AgentId::new("1001"), AgentId::new("1002")],
    };
    let (tx, live) = mpsc::unbounded_channel();
    let service = Worklist::start(store, cfg, clock.clone(), None, Some(tx))
        .await
        .unwrap();
    let app = WorklistApi {
        service: service.clone(),
        gate: crate::auth::Gate {
            console: Some(console.clone()),
            token: TOKEN.into(),
        },
    }
    .router();
    W {
        app,
        service,
        console,
        clock,
        live,
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

    async fn raw(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
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
        (
            s,
            axum::body::to_bytes(r.into_body(), 1 << 24)
                .await
                .unwrap()
                .to_vec(),
        )
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        who: Option<&Who>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let (s, b) = self.raw(method, path, who, body.as_bytes().to_vec()).await;
        (
            s,
            serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn event(&self, at: i64, call: &str, agent: Option<&str>, kind: EventKind) {
        self.service
            .on_event(&CallEvent {
                at_ms: at,
                call_id: Some(CallId::from_stored(call)),
                agent: agent.map(AgentId::new),
                queue: Some(QueueId::new("general")),
                kind,
            })
            .await;
    }

    async fn arrived(&self, at: i64, call: &str, number: &str, dialled: &str, agent: Option<&str>) {
        self.event(
            at,
            call,
            agent,
            EventKind::Arrived {
                caller: Party {
                    number: number.into(),
                    display: None,
                },
                dialled: dialled.into(),
                call_type: CallType::Inquiry,
            },
        )
        .await;
    }
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_missed_call_is_an_item_of_its_queue_and_an_answered_call_out_returns_it() {
    let w = world().await;
    w.arrived(T0, "c1", "0612345678", "hotline", None).await;
    w.event(
        T0 + 11_000,
        "c1",
        None,
        EventKind::SystemAnswered { rings: 3 },
    )
    .await;
    w.event(
        T0 + 40_000,
        "c1",
        None,
        EventKind::Abandoned {
            wait_ms: 40_000,
            position: 1,
        },
    )
    .await;
    let a1 = w.session("1001", Role::Agent);
    let (s, v) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    assert_eq!(s, StatusCode::OK);
    let item = &v["items"][0];
    assert_eq!(
        (item["kind"].as_str(), item["number"].as_str()),
        (Some("missed"), Some("0612345678"))
    );
    assert_eq!(item["owner"]["queue"], "general");
    assert_eq!(item["deadline_ms"], T0 + 40_000 + 24 * 3_600_000);
    assert_eq!(item["overdue"], false);
    assert!(w.service.may_dial(&AgentId::new("1001"), "0612345678"));
    // the agent calls: not answered (an attempt), then answered (returned)
    w.arrived(T0 + 60_000, "o1", "0612345678", OUTBOUND, Some("1001"))
        .await;
    w.event(
        T0 + 90_000,
        "o1",
        Some("1001"),
        EventKind::Rejected {
            status: 480,
            reason: "no answer".into(),
        },
    )
    .await;
    w.arrived(T0 + 120_000, "o2", "0612345678", OUTBOUND, Some("1001"))
        .await;
    w.event(
        T0 + 125_000,
        "o2",
        Some("1001"),
        EventKind::AgentAnswered {
            wait_ms: 5_000,
            rings: 0,
            limit_ms: None,
        },
    )
    .await;
    w.event(
        T0 + 185_000,
        "o2",
        Some("1001"),
        EventKind::Completed {
            ended_by: EndedBy::Agent,
            talk_ms: 60_000,
        },
    )
    .await;
    let (_, v) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    assert_eq!(ids(&v), Vec::<i64>::new());
    assert!(!w.service.may_dial(&AgentId::new("1001"), "0612345678"));
    let (_, v) = w
        .json("GET", "/api/worklist?closed=true", Some(&a1), "")
        .await;
    let item = &v["items"][0];
    assert_eq!(
        (
            item["outcome"].as_str(),
            item["attempts"].as_u64(),
            item["closed_by"].as_str()
        ),
        (Some("returned"), Some(1), Some("1001"))
    );
    // a refused dial counts
    w.arrived(T0 + 200_000, "o3", "13800000000", OUTBOUND, Some("1001"))
        .await;
    w.event(
        T0 + 200_001,
        "o3",
        Some("1001"),
        EventKind::Rejected {
            status: 403,
            reason: "not an allowed number".into(),
        },
    )
    .await;
    w.clock.0.store(T0 + 300_000, Ordering::SeqCst);
    let (s, f) = w.json("GET", "/api/worklist/figures", Some(&a1), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            f["open"].as_u64(),
            f["overdue"].as_u64(),
            f["refused_dials"].as_u64()
        ),
        (Some(0), Some(0), Some(1))
    );
    // today: 1 owed, 1 returned, after 85 s (answer at +125 s, item made at +40 s)
    assert_eq!(f["today"]["percent_returned"], 100.0);
    assert_eq!(f["today"]["avg_time_to_return_ms"], 85_000);
}

#[tokio::test]
async fn agents_see_and_close_their_own_and_their_queues_items_supervisors_all() {
    let w = world().await;
    let (a1, a2, sup) = (
        w.session("1001", Role::Agent),
        w.session("1002", Role::Agent),
        w.session("alice", Role::Supervisor),
    );
    let (s, p) = w
        .json(
            "POST",
            "/api/worklist/promise",
            Some(&a1),
            r#"{"number":"0612-345 678","name":"王先生","notes":"refund status"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().unwrap();
    assert_eq!(
        (
            p["kind"].as_str(),
            p["owner"]["agent"].as_str(),
            p["number"].as_str()
        ),
        (Some("promise"), Some("1001"), Some("0612345678"))
    );
    // a supervisor gives one to the vip queue (only 1002 serves it)
    let (s, v) = w
        .json(
            "POST",
            "/api/worklist/promise",
            None,
            r#"{"number":"0699","queue":"vip","due":"2026-12-01T12:00"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vip = v["id"].as_i64().unwrap();
    assert_eq!(v["deadline_ms"], T0 + 2 * 3_600_000);
    let (_, v) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    assert_eq!(ids(&v), vec![id]);
    let (_, v) = w.json("GET", "/api/worklist", Some(&a2), "").await;
    assert_eq!(ids(&v), vec![vip]);
    let (_, v) = w.json("GET", "/api/worklist", Some(&sup), "").await;
    assert_eq!(ids(&v), vec![id, vip]);
    // not yours: as if it did not exist
    let (s, _) = w
        .json("GET", &format!("/api/worklist/{id}"), Some(&a2), "")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .json(
            "POST",
            &format!("/api/worklist/{id}/close"),
            Some(&a2),
            r#"{"outcome":"resolved"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = w
        .json(
            "POST",
            &format!("/api/worklist/{id}/close"),
            Some(&a1),
            r#"{"outcome":"returned"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = w
        .json(
            "POST",
            &format!("/api/worklist/{id}/close"),
            Some(&a1),
            r#"{"outcome":"resolved"}"#,
        )
        .await;
    assert_eq!(
        (s, v["outcome"].as_str()),
        (StatusCode::OK, Some("resolved"))
    );
    let (s, _) = w
        .json(
            "POST",
            &format!("/api/worklist/{id}/close"),
            Some(&a1),
            r#"{"outcome":"given_up"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // agents promise only for themselves
    let (s, _) = w
        .json(
            "POST",
            "/api/worklist/promise",
            Some(&a1),
            r#"{"number":"0611","agent":"1002"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // without credentials
    let (s, _) = w
        .json(
            "GET",
            "/api/worklist",
            Some(&Who {
                cookie: "x=y".into(),
                csrf: String::new(),
            }),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_promises_and_ids_are_clear_400s_oversized_bodies_413() {
    let w = world().await;
    let a1 = w.session("1001", Role::Agent);
    for body in [
        "",
        "not json",
        r#"{"number":"06@evil"}"#,
        r#"{"number":"0611","extra":1}"#,
        r#"{"number":"0611","due":"yesterday"}"#,
        r#"{"number":"0611","due":"2020-01-01T00:00"}"#,
        r#"{"number":"0611","name":"a\u0000b"}"#,
        r#"{"number":"0611","call_id":"../../etc"}"#,
        r#"{"number":12}"#,
    ] {
        let (s, v) = w
            .json("POST", "/api/worklist/promise", Some(&a1), body)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {v}"
        );
    }
    let big = format!(r#"{{"number":"0611","notes":"{}"}}"#, "x".repeat(20_000));
    let (s, _) = w
        .json("POST", "/api/worklist/promise", Some(&a1), &big)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    for path in [
        "/api/worklist/abc",
        "/api/worklist/-1",
        "/api/worklist/0",
        "/api/worklist/99999999999999999999",
    ] {
        let (s, _) = w.json("GET", path, Some(&a1), "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}");
    }
    let (s, _) = w.json("GET", "/api/worklist/42", Some(&a1), "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = w
        .json("GET", "/api/worklist?closed=maybe", Some(&a1), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // a state change without the CSRF token
    let no_csrf = Who {
        cookie: a1.cookie.clone(),
        csrf: "wrong".into(),
    };
    let (s, _) = w
        .json(
            "POST",
            "/api/worklist/promise",
            Some(&no_csrf),
            r#"{"number":"0611"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_campaign_is_imported_once_worked_to_its_quota_figures_and_exported() {
    let w = world().await;
    let (sup, a1) = (
        w.session("alice", Role::Supervisor),
        w.session("1001", Role::Agent),
    );
    let csv = "number,name,card,notes,due,preferred,agent\n\
               0611,李雷,M001,,2026-12-05,after 13:10,1001\n\
               0612,韩梅梅,M002,,,10:00前,1001\n\
               06@x,坏,M003,,,,\n\
               0614,张三,M004,,2026-13-01,,\n\
               0615,王五,M005,,,,\n";
    let (s, v) = w
        .raw(
            "POST",
            "/api/campaigns/import?name=December%20members&queue=general",
            Some(&sup),
            csv.as_bytes().to_vec(),
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], 3);
    assert_eq!(v["errors"][0]["line"], 4);
    assert_eq!(v["errors"][1]["line"], 5);
    assert_eq!(v["error_count"], 2);
    let campaign = v["campaign"].as_i64().unwrap();
    // the fixed file again: only the fixed lines are new
    let fixed = csv
        .replace("06@x", "0613")
        .replace("2026-13-01", "2026-12-31");
    let (_, v) = w
        .raw(
            "POST",
            "/api/campaigns/import?name=December%20members",
            Some(&sup),
            fixed.into_bytes(),
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(
        (v["imported"].as_u64(), v["error_count"].as_u64()),
        (Some(2), Some(0)),
        "{v}"
    );
    assert_eq!(v["duplicates"], serde_json::json!([2, 3, 6]));
    // agents may not import; oversized, binary and header-less files are refused
    let (s, _) = w
        .raw(
            "POST",
            "/api/campaigns/import?name=x",
            Some(&a1),
            b"number\n0611\n".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w
        .raw(
            "POST",
            "/api/campaigns/import?name=x",
            Some(&sup),
            vec![b'1'; 3 * 1024 * 1024],
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    for (q, body) in [
        ("name=x", vec![0xff, 0xfe, 0x00]),
        ("name=x", b"name,card\nA,1\n".to_vec()),
        ("name=x", Vec::new()),
        ("name=%20", b"number\n0611\n".to_vec()),
        ("name=x&queue=nope", b"number\n0611\n".to_vec()),
        ("name=x&due=12/31", b"number\n0611\n".to_vec()),
        ("queue=general", b"number\n0611\n".to_vec()),
    ] {
        let (s, b) = w
            .raw(
                "POST",
                &format!("/api/campaigns/import?{q}"),
                Some(&sup),
                body,
            )
            .await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{q}: {}",
            String::from_utf8_lossy(&b)
        );
    }
    // 1001 works their two visits; the shared ones are visible too
    let (_, list) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    let mine: Vec<&serde_json::Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["owner"]["agent"] == "1001")
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    let (v1, v2) = (
        mine[0]["id"].as_i64().unwrap(),
        mine[1]["id"].as_i64().unwrap(),
    );
    assert_eq!(mine[0]["preferred"], "after 13:10");
    // bad visit forms
    for body in [
        format!(r#"{{"item":{v1},"outcome":"reached","opinions":"ok","satisfaction":6}}"#),
        format!(r#"{{"item":{v1},"outcome":"reached","opinions":"ok","satisfaction":0}}"#),
        format!(r#"{{"item":{v1},"outcome":"reached","opinions":""}}"#),
        format!(r#"{{"item":{v1},"outcome":"maybe"}}"#),
        format!(r#"{{"item":{v1},"outcome":"refused","satisfaction":3}}"#),
        format!(r#"{{"item":{v1},"outcome":"reached","opinions":"ok","duration_s":-5}}"#),
        format!(r#"{{"item":{v1},"outcome":"reached","opinions":"ok","agent":"1002"}}"#),
    ] {
        let (s, v) = w.json("POST", "/api/visits", Some(&a1), &body).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::FORBIDDEN,
            "{body}: {s} {v}"
        );
    }
    let (s, _) = w
        .json(
            "POST",
            "/api/visits",
            Some(&a1),
            r#"{"item":999,"outcome":"not_reached"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // a visit for an item that is not a return visit
    let (_, p) = w
        .json(
            "POST",
            "/api/worklist/promise",
            Some(&a1),
            r#"{"number":"0688"}"#,
        )
        .await;
    let (s, _) = w
        .json(
            "POST",
            "/api/visits",
            Some(&a1),
            &format!(r#"{{"item":{},"outcome":"not_reached"}}"#, p["id"]),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // not reached: kept open; reached in 2 min: valid; refused
    let (s, v) = w
        .json(
            "POST",
            "/api/visits",
            Some(&a1),
            &format!(r#"{{"item":{v1},"outcome":"not_reached"}}"#),
        )
        .await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::CREATED, Some(false))
    );
    w.clock.0.fetch_add(600_000, Ordering::SeqCst);
    let (s, v) = w
        .json("POST", "/api/visits", Some(&a1), &format!(r#"{{"item":{v1},"outcome":"reached","opinions":"满意, 希望多些活动","satisfaction":5,"duration_s":120}}"#))
        .await;
    assert_eq!(
        (s, v["valid"].as_bool(), v["card"].as_str()),
        (StatusCode::CREATED, Some(true), Some("M001")),
        "{v}"
    );
    let (s, _) = w
        .json(
            "POST",
            "/api/visits",
            Some(&a1),
            &format!(r#"{{"item":{v1},"outcome":"reached","opinions":"again"}}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = w
        .json(
            "POST",
            "/api/visits",
            Some(&a1),
            &format!(
                r#"{{"item":{v2},"outcome":"reached","opinions":"long talk","duration_s":200}}"#
            ),
        )
        .await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::CREATED, Some(false))
    );
    // quota figures: 1 valid of 20 this week, of 80 this month; agents see their own
    let (s, q) = w.json("GET", "/api/visits/quotas", Some(&a1), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["agents"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            q["agents"][0]["valid"].as_u64(),
            q["agents"][0]["made"].as_u64(),
            q["agents"][0]["remaining"].as_u64()
        ),
        (Some(1), Some(3), Some(19))
    );
    let (_, q) = w
        .json("GET", "/api/visits/quotas?period=month", Some(&sup), "")
        .await;
    assert_eq!(q["agents"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            q["agents"][0]["valid"].as_u64(),
            q["agents"][0]["target"].as_u64()
        ),
        (Some(1), Some(80))
    );
    let (s, _) = w
        .json("GET", "/api/visits/quotas?period=year", Some(&sup), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // the weekly summary (supervisors)
    let (s, _) = w.json("GET", "/api/visits/weekly", Some(&a1), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, sum) = w.json("GET", "/api/visits/weekly", Some(&sup), "").await;
    assert_eq!(s, StatusCode::OK);
    let row = &sum["agents"][0];
    assert_eq!(
        (
            row["made"].as_u64(),
            row["valid"].as_u64(),
            row["not_reached"].as_u64(),
            row["over_time"].as_u64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    assert_eq!(sum["visits"][1]["opinions"], "满意, 希望多些活动");
    let (s, _) = w
        .json("GET", "/api/visits/weekly?date=last%20week", Some(&sup), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // campaign progress and export
    let (_, c) = w.json("GET", "/api/campaigns", Some(&sup), "").await;
    let c0 = &c["campaigns"][0];
    assert_eq!(
        (
            c0["members"].as_u64(),
            c0["open"].as_u64(),
            c0["reached"].as_u64()
        ),
        (Some(5), Some(3), Some(2))
    );
    let (s, one) = w
        .json("GET", &format!("/api/campaigns/{campaign}"), Some(&a1), "")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["visits"].as_array().unwrap().len(), 3);
    let (s, body) = w
        .raw(
            "GET",
            &format!("/api/campaigns/{campaign}/export"),
            Some(&sup),
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.starts_with("number,name,card,notes,due,preferred,agent,outcome,attempts,closed\n"),
        "{text}"
    );
    assert!(
        text.contains("0611,李雷,M001,,2026-12-05,after 13:10,1001,reached,2,"),
        "{text}"
    );
    let (s, _) = w
        .raw(
            "GET",
            &format!("/api/campaigns/{campaign}/export"),
            Some(&a1),
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.json("GET", "/api/campaigns/77", Some(&sup), "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_overdue_item_raises_its_alarm_once() {
    let mut w = world().await;
    let a1 = w.session("1001", Role::Agent);
    let (_, p) = w
        .json(
            "POST",
            "/api/worklist/promise",
            Some(&a1),
            r#"{"number":"0611","due":"2026-12-01T10:30"}"#,
        )
        .await;
    let id = p["id"].as_i64().unwrap();
    w.service.check_overdue().await;
    assert!(w.live.try_recv().is_err());
    w.clock.0.store(T0 + 30 * 60_000 + 1, Ordering::SeqCst);
    w.service.check_overdue().await;
    let e = w.live.try_recv().unwrap();
    assert_eq!(e.agent, Some(AgentId::new("1001")));
    assert!(
        matches!(e.kind, EventKind::WorkItemOverdue { item, ref number, deadline_ms, .. } if item == id && number == "0611" && deadline_ms == T0 + 30 * 60_000)
    );
    w.service.check_overdue().await;
    assert!(w.live.try_recv().is_err());
    let a1 = w.session("1001", Role::Agent);
    let (_, f) = w.json("GET", "/api/worklist/figures", Some(&a1), "").await;
    assert_eq!(f["overdue"], 1);
    let (_, l) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    assert_eq!(
        (
            l["items"][0]["overdue"].as_bool(),
            l["items"][0]["alarmed"].as_bool()
        ),
        (Some(true), Some(true))
    );
}

/// The overdue alarms a live stream got within `ms`.
async fn overdue_within(live: &mut mpsc::UnboundedReceiver<CallEvent>, ms: u64) -> Vec<i64> {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
    while let Ok(Some(e)) = tokio::time::timeout_at(end, live.recv()).await {
        if let EventKind::WorkItemOverdue { item, .. } = e.kind {
            got.push(item);
        }
    }
    got
}

#[tokio::test]
async fn a_standby_becoming_active_reads_the_work_list_again_and_alarms_once() {
    // node A is `w` (active); node B starts standby on the same store
    let mut w = world().await;
    let promise = |number: &str, due: &str| {
        format!(r#"{{"number":"{number}","due":"2026-12-01T{due}","agent":"1001"}}"#)
    };
    let id_of = |v: &serde_json::Value| v["id"].as_i64().unwrap();
    // loaded by B at its start, closed on A later
    let (_, p3) = w
        .json(
            "POST",
            "/api/worklist/promise",
            None,
            &promise("0633", "10:20"),
        )
        .await;
    let (tx_b, mut live_b) = mpsc::unbounded_channel();
    let b = Worklist::start(
        w.service.store().clone(),
        w.service.config().clone(),
        w.clock.clone(),
        None,
        Some(tx_b),
    )
    .await
    .unwrap();
    let role = hotline_engine::role::RolePublisher::new();
    let (_events_b, rx_b) = mpsc::unbounded_channel();
    tokio::spawn(b.clone().run_as(rx_b, role.watch()));
    // created on A after B started: P1 due at 10:30, P2 at 10:10
    let (_, p1) = w
        .json(
            "POST",
            "/api/worklist/promise",
            None,
            &promise("0611", "10:30"),
        )
        .await;
    let (_, p2) = w
        .json(
            "POST",
            "/api/worklist/promise",
            None,
            &promise("0622", "10:10"),
        )
        .await;
    let (s, _) = w
        .json(
            "POST",
            &format!("/api/worklist/{}/close", id_of(&p3)),
            None,
            r#"{"outcome":"resolved"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // A alarms P2 at 10:15; the standby raises nothing
    w.clock.0.store(T0 + 15 * 60_000, Ordering::SeqCst);
    w.service.check_overdue().await;
    let mut on_a = Vec::new();
    while let Ok(e) = w.live.try_recv() {
        if let EventKind::WorkItemOverdue { item, .. } = e.kind {
            on_a.push(item);
        }
    }
    assert_eq!(on_a, [id_of(&p2)]);
    // the standby raises nothing; its view follows A's at its next look
    assert!(overdue_within(&mut live_b, 1_500).await.is_empty());
    let open_b: Vec<i64> = b
        .list(&hotline_worklist::Viewer::Supervisor, false, 0)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open_b, [id_of(&p1), id_of(&p2)]);
    // A is gone; P1 falls due (and P3's deadline passes) while no node is
    // active; B takes over at 10:31
    w.clock.0.store(T0 + 31 * 60_000, Ordering::SeqCst);
    role.set(hotline_engine::role::NodeRole::Active);
    // P1 once: not P2 again (A alarmed it), not P3 (A closed it)
    assert_eq!(overdue_within(&mut live_b, 2_500).await, [id_of(&p1)]);
    let open: Vec<i64> = b
        .list(&hotline_worklist::Viewer::Supervisor, false, 0)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [id_of(&p1), id_of(&p2)]);
    assert!(b.may_dial(&AgentId::new("1001"), "0611"));
    assert!(!b.may_dial(&AgentId::new("1001"), "0633"));
}

#[tokio::test]
async fn a_missed_call_of_a_customer_with_an_open_case_is_an_item_of_the_case_owner() {
    let w = world().await;
    let owners = hotline_engine::owners::CaseOwners::new();
    owners.replace(HashMap::from([(
        "0698765432".to_string(),
        hotline_engine::owners::Owner {
            agent: AgentId::new("1002"),
            case_id: 9,
        },
    )]));
    let service = w.service.clone().with_case_owners(owners);
    for (call, number) in [("c1", "0698765432"), ("c2", "0612345678")] {
        w.arrived(T0, call, number, "hotline", None).await;
        service
            .on_event(&CallEvent {
                at_ms: T0 + 30_000,
                call_id: Some(CallId::from_stored(call)),
                agent: None,
                queue: Some(QueueId::new("general")),
                kind: EventKind::Abandoned {
                    wait_ms: 30_000,
                    position: 1,
                },
            })
            .await;
    }
    let sup = w.session("alice", Role::Supervisor);
    let (s, v) = w.json("GET", "/api/worklist", Some(&sup), "").await;
    assert_eq!(s, StatusCode::OK);
    let owner_of = |number: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["number"] == number)
            .map(|i| i["owner"].clone())
            .unwrap()
    };
    // the case owner's customer is theirs; anyone else's is the queue's
    assert_eq!(owner_of("0698765432")["agent"], "1002");
    assert_eq!(owner_of("0612345678")["queue"], "general");
    // the other agent does not see the owner's item
    let a1 = w.session("1001", Role::Agent);
    let (_, mine) = w.json("GET", "/api/worklist", Some(&a1), "").await;
    assert!(mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["number"] != "0698765432"));
}
