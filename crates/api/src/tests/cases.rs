//! Call notes, cases and the customer profile through the API: roles,
//! stages, the version check, hostile and oversized input, the owner map
//! and the deadline task on the fake clock.

use super::*;
use crate::case_deadlines;
use crate::cases::{CaseDesk, CasesConfig};
use hotline_core::AgentId;
use hotline_engine::owners::CaseOwners;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

struct Desk {
    w: World,
    owners: CaseOwners,
    events: Arc<Mutex<Vec<CallEvent>>>,
    deadlines: case_deadlines::Deadlines,
    agent: Who,
    ann: Who,
    sup: Who,
}

async fn desk() -> Desk {
    // sessions that outlive the simulated days
    let w = world_with(|c| {
        c.session_idle_s = 365 * 86_400;
        c.session_max_s = 365 * 86_400;
    })
    .await;
    w.console
        .store()
        .put_user(
            &User {
                name: "1001".into(),
                role: Role::Agent,
                password_hash: hashed("agent password"),
            },
            0,
        )
        .await
        .unwrap();
    let events: Arc<Mutex<Vec<CallEvent>>> = Arc::default();
    let sink = events.clone();
    let deadlines = case_deadlines::spawn(
        w.console.store().clone(),
        2 * HOUR,
        w.clock.clone(),
        Arc::new(move |e| sink.lock().unwrap().push(e)),
        hotline_engine::role::RoleWatch::single(),
    )
    .await
    .unwrap();
    let owners = CaseOwners::new();
    let console = w
        .console
        .clone()
        .with_cases(CaseDesk {
            cfg: CasesConfig {
                vip: vec![NumberPattern::parse("0611*").unwrap()],
                ..CasesConfig::default()
            },
            owners: Some(owners.clone()),
            deadlines: Some(deadlines.clone()),
        })
        .await
        .unwrap();
    drop(console);
    let agent = w.session("1001", Role::Agent);
    let ann = w.session("ann", Role::Agent);
    let sup = w.session("alice", Role::Supervisor);
    Desk {
        w,
        owners,
        events,
        deadlines,
        agent,
        ann,
        sup,
    }
}

async fn wait_for(events: &Arc<Mutex<Vec<CallEvent>>>, kind: &str, n: usize) {
    for _ in 0..200 {
        if events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind.name() == kind)
            .count()
            >= n
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no {kind} event: {:?}", events.lock().unwrap());
}

#[tokio::test]
async fn notes_on_a_call_by_its_agent_with_hostile_and_oversized_input() {
    let d = desk().await;
    let w = &d.w;
    let body = json!({"caller_name": "王芳 O'Brien", "category": "complaint",
        "summary": "'; DROP TABLE cases; --\nline two", "follow_up": "call back"})
    .to_string();
    let (s, v) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.agent), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["note"]["number"], "0611111111");
    assert_eq!(v["note"]["summary"], "'; DROP TABLE cases; --\nline two");
    assert!(v["case"].is_null());
    // another agent may not; a supervisor may
    let (s, _) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.ann), &body)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.json("GET", "/api/calls/c1/notes", Some(&d.ann), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.sup), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = w
        .json("GET", "/api/calls/c1/notes", Some(&d.agent), "")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["notes"].as_array().unwrap().len(), 2);
    assert!(v["categories"]
        .as_array()
        .unwrap()
        .contains(&json!("complaint")));
    // no login: 401; no such call: 404; a path that is not an id: 400
    let (s, _) = w.json("POST", "/api/calls/c1/notes", None, &body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = w
        .json("POST", "/api/calls/nope/notes", Some(&d.sup), &body)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"], "no call `nope`");
    let (s, _) = w
        .json("GET", "/api/calls/..%2Fx/notes", Some(&d.sup), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let bad = [
        json!({"category": "gossip", "summary": "x"}),
        json!({"category": "complaint", "summary": "   "}),
        json!({"category": "complaint", "summary": "x".repeat(4001)}),
        json!({"category": "complaint", "summary": "bell\u{7}"}),
        json!({"category": "complaint", "summary": "x", "caller_name": "a\nb"}),
        json!({"category": "complaint", "summary": "x", "contact": "12 34"}),
        json!({"category": "complaint", "summary": "x", "severity": "apocalyptic"}),
        json!({"category": "complaint", "summary": "x", "extra": 1}),
        json!({"category": 5, "summary": "x"}),
        json!([]),
    ];
    for b in bad {
        let (s, v) = w
            .json(
                "POST",
                "/api/calls/c1/notes",
                Some(&d.agent),
                &b.to_string(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}: {v}");
        assert!(v["error"].as_str().unwrap().len() < 300, "{v}");
    }
    let (s, _) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.agent), "{not json")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let huge = json!({"category": "complaint", "summary": "x".repeat(40_000)}).to_string();
    let (s, _) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.agent), &huge)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // 4,000 bytes of Chinese text is fine (1,333 characters)
    let ok = json!({"category": "complaint", "summary": "长".repeat(1333)}).to_string();
    let (s, _) = w
        .json("POST", "/api/calls/c1/notes", Some(&d.agent), &ok)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(w
        .audit_actions()
        .await
        .contains(&"user:1001 note_add c1".to_string()));
}

#[tokio::test]
async fn a_case_from_a_note_goes_through_its_stages_and_closes_once() {
    let d = desk().await;
    let w = &d.w;
    let t0 = w.clock.now_ms();
    let body = json!({"caller_name": "王芳", "category": "complaint",
        "summary": "parcel lost\nsecond line", "open_case": true, "severity": "major"});
    let (s, v) = w
        .json(
            "POST",
            "/api/calls/c1/notes",
            Some(&d.sup),
            &body.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case = &v["case"];
    // first-contact ownership: the agent who took the call, not the writer
    assert_eq!(case["owner"], "1001");
    assert_eq!(case["severity"], "major");
    assert_eq!(case["title"], "parcel lost");
    assert_eq!(case["deadline_ms"], t0 + 24 * HOUR);
    assert_eq!(case["version"], 2, "escalated at once: {case}");
    assert_eq!(case["escalated_to"], "management");
    assert_eq!(v["note"]["case_id"], case["id"]);
    let id = case["id"].as_i64().unwrap();
    let path = format!("/api/cases/{id}");
    let owner = d.owners.owner_of("0611111111").unwrap();
    assert_eq!((owner.agent.as_str(), owner.case_id), ("1001", id));

    // roles: ann sees nothing of it
    let (s, _) = w.json("GET", &path, Some(&d.ann), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w.json("GET", "/api/cases", Some(&d.ann), "").await;
    assert_eq!((s, v["total"].clone()), (StatusCode::OK, json!(0)));
    let (s, _) = w
        .json("GET", "/api/cases?owner=1001", Some(&d.ann), "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .json("GET", "/api/cases?status=open", Some(&d.agent), "")
        .await;
    assert_eq!((s, v["total"].clone()), (StatusCode::OK, json!(1)));

    let stage = |stage: &str, version: i64, note: &str| {
        json!({"stage": stage, "version": version, "note": note}).to_string()
    };
    let sp = format!("{path}/stage");
    // bad input
    let (s, v) = w
        .json("POST", &sp, Some(&d.agent), &stage("closed", 2, "x"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("receive, investigate"),
        "{v}"
    );
    let (s, _) = w
        .json(
            "POST",
            &sp,
            Some(&d.agent),
            &stage("investigate", 2, &"x".repeat(4001)),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = w
        .json(
            "POST",
            "/api/cases/abc/stage",
            Some(&d.agent),
            &stage("investigate", 2, "x"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = w
        .json(
            "POST",
            "/api/cases/99999/stage",
            Some(&d.agent),
            &stage("investigate", 2, "x"),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = w
        .json("POST", &sp, Some(&d.agent), &stage("handle", 2, "x"))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "out of order: {v}");
    let (s, _) = w
        .json("POST", &sp, Some(&d.ann), &stage("investigate", 2, "x"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // the version check: two writers read version 1
    let (s, v) = w
        .json(
            "POST",
            &sp,
            Some(&d.agent),
            &stage("investigate", 2, "asked the courier"),
        )
        .await;
    assert_eq!((s, v["version"].clone()), (StatusCode::OK, json!(3)), "{v}");
    let (s, v) = w
        .json(
            "POST",
            &path,
            Some(&d.sup),
            &json!({"version": 2, "title": "lost"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains("reload"), "{v}");
    let mut ver = 3;
    for st in ["analyse", "handle", "reply"] {
        w.clock.0.fetch_add(HOUR, Ordering::SeqCst);
        let (s, v) = w
            .json("POST", &sp, Some(&d.agent), &stage(st, ver, st))
            .await;
        assert_eq!(s, StatusCode::OK, "{st}: {v}");
        ver = v["version"].as_i64().unwrap();
    }
    let (s, v) = w
        .json(
            "POST",
            &sp,
            Some(&d.agent),
            &stage("summarise", ver, "done"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "not judged: {v}");
    // update: bad, empty, then a judgement with escalation and a severity change
    for b in [
        json!({"version": ver}),
        json!({"version": ver, "valid": true}),
        json!({"version": ver, "validity_reason": "x"}),
        json!({"version": ver, "severity": "mild"}),
        json!({"version": "one", "title": "x"}),
        json!({"title": "x"}),
    ] {
        let (s, v) = w.json("POST", &path, Some(&d.agent), &b.to_string()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}: {v}");
    }
    let upd = json!({"version": ver, "valid": true, "validity_reason": "courier error",
        "escalate_to": "shift_leader", "agent_concerned": "1003", "severity": "crisis"});
    let (s, v) = w
        .json("POST", &path, Some(&d.agent), &upd.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["valid"].clone(), v["escalated_to"].clone()),
        (json!(true), json!("shift_leader"))
    );
    assert_eq!(
        v["deadline_ms"],
        t0 + 24 * HOUR,
        "the default policy: a day for every severity"
    );
    ver = v["version"].as_i64().unwrap();
    let (s, v) = w
        .json(
            "POST",
            &sp,
            Some(&d.agent),
            &stage("summarise", ver, "refunded"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].clone(), v["closing_summary"].clone()),
        (json!("closed"), json!("refunded"))
    );
    ver = v["version"].as_i64().unwrap();
    let (s, v) = w
        .json(
            "POST",
            &sp,
            Some(&d.agent),
            &stage("summarise", ver, "again"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "closing twice: {v}");
    assert_eq!(v["error"], "the case is closed already");
    assert!(
        d.owners.owner_of("0611111111").is_none(),
        "closed: no longer routed"
    );

    // links: calls by the owner, recordings and marks by supervisors only
    let lp = format!("{path}/links");
    let (s, _) = w
        .json(
            "POST",
            &lp,
            Some(&d.agent),
            r#"{"kind":"recording","call_id":"c1"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .json(
            "POST",
            &lp,
            Some(&d.sup),
            r#"{"kind":"recording","call_id":"c1"}"#,
        )
        .await;
    assert_eq!(
        (s, v["added"].clone()),
        (StatusCode::CREATED, json!(true)),
        "{v}"
    );
    let (s, v) = w
        .json(
            "POST",
            &lp,
            Some(&d.sup),
            r#"{"kind":"recording","call_id":"c1"}"#,
        )
        .await;
    assert_eq!((s, v["added"].clone()), (StatusCode::OK, json!(false)));
    for (b, want) in [
        (
            r#"{"kind":"recording","call_id":"c2"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            r#"{"kind":"call","call_id":"ghost"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            r#"{"kind":"mark","call_id":"c1","mark_id":77}"#,
            StatusCode::NOT_FOUND,
        ),
        (r#"{"kind":"mark","call_id":"c1"}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"kind":"photo","call_id":"c1"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"kind":"call","call_id":"../../etc"}"#,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, v) = w.json("POST", &lp, Some(&d.sup), b).await;
        assert_eq!(s, want, "{b}: {v}");
    }
    // the case page: timeline, links, calls, notes
    let (s, v) = w.json("GET", &path, Some(&d.agent), "").await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "receive",
            "escalate",
            "investigate",
            "analyse",
            "handle",
            "reply",
            "update",
            "judge",
            "escalate",
            "summarise",
            "link"
        ]
    );
    assert_eq!(v["links"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["calls"][0]["call_id"], "c1");
    assert_eq!(v["notes"][0]["category"], "complaint");
    let audit = w.audit_actions().await;
    for a in ["case_open", "case_stage", "case_update", "case_link"] {
        assert!(audit.iter().any(|x| x.contains(a)), "{a} in {audit:?}");
    }
    // nothing is deleted: there is no DELETE route
    let (s, _, _) = w.send("DELETE", &path, Some(&d.sup), "", &[]).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // the KPIs: supervisors only
    let (s, _) = w.json("GET", "/api/cases/kpis", Some(&d.agent), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w.json("GET", "/api/cases/kpis", Some(&d.sup), "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["kpis"]["all"]["opened"], 1);
    assert_eq!(v["kpis"]["all"]["closed"], 1);
    assert_eq!(v["kpis"]["all"]["first_contact_resolution"], 1.0);
    assert_eq!(
        v["kpis"]["by_owner"]["1001"]["mean_reply_ms"],
        (3 * HOUR) as f64
    );
    assert_eq!(v["kpis"]["about_agent"]["1003"], json!([1, 1]));
    let (s, _) = w
        .json("GET", "/api/cases/kpis?from=10&to=5", Some(&d.sup), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = w
        .json("GET", "/api/cases/kpis?from=x", Some(&d.sup), "")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cases_by_hand_and_for_calls_that_do_not_exist() {
    let d = desk().await;
    let w = &d.w;
    for (b, want) in [
        (
            json!({"call_id": "ghost", "title": "t", "note": "n"}),
            StatusCode::NOT_FOUND,
        ),
        (json!({"title": "t", "note": "n"}), StatusCode::BAD_REQUEST),
        (
            json!({"number": "13 9", "title": "t", "note": "n"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number": "139", "title": "", "note": "n"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number": "139", "title": "t".repeat(129), "note": "n"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number": "139", "title": "t", "note": "n", "severity": "x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number": "139", "title": "t", "note": "n", "owner": "1002"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"call_id": "c1", "title": "t", "note": "n"}),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (s, v) = w
            .json("POST", "/api/cases", Some(&d.ann), &b.to_string())
            .await;
        assert_eq!(s, want, "{b}: {v}");
    }
    // by hand: an agent owns what they open; a supervisor names the owner
    let (s, v) = w
        .json(
            "POST",
            "/api/cases",
            Some(&d.ann),
            &json!({"number": "139", "title": "t", "note": "n"}).to_string(),
        )
        .await;
    assert_eq!(
        (s, v["owner"].clone()),
        (StatusCode::CREATED, json!("ann")),
        "{v}"
    );
    let (s, v) = w
        .json("POST", "/api/cases", Some(&d.sup),
            &json!({"number": "138", "title": "t", "note": "n", "owner": "1001", "severity": "crisis"}).to_string())
        .await;
    assert_eq!(
        (s, v["owner"].clone()),
        (StatusCode::CREATED, json!("1001")),
        "{v}"
    );
    let (s, v) = w
        .json("GET", "/api/cases?severity=crisis", Some(&d.sup), "")
        .await;
    assert_eq!((s, v["total"].clone()), (StatusCode::OK, json!(1)));
    for q in [
        "status=gone",
        "severity=x",
        "stage=x",
        "limit=0",
        "limit=501",
        "offset=-1",
        "colour=red",
        "number=a%20b",
    ] {
        let (s, v) = w
            .json("GET", &format!("/api/cases?{q}"), Some(&d.sup), "")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    let (s, _) = w.json("GET", "/api/cases/0", Some(&d.sup), "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // a general case raised to major goes to management at once
    let (s, v) = w
        .json(
            "POST",
            "/api/cases",
            Some(&d.sup),
            &json!({"number": "137", "title": "t", "note": "n"}).to_string(),
        )
        .await;
    assert_eq!(
        (s, v["escalated_to"].clone(), v["version"].clone()),
        (StatusCode::CREATED, json!(null), json!(1))
    );
    let path = format!("/api/cases/{}", v["id"]);
    let (s, v) = w
        .json(
            "POST",
            &path,
            Some(&d.sup),
            &json!({"version": 1, "severity": "major"}).to_string(),
        )
        .await;
    assert_eq!(
        (s, v["escalated_to"].clone()),
        (StatusCode::OK, json!("management")),
        "{v}"
    );
}

#[tokio::test]
async fn the_customer_profile_for_its_agent_and_supervisors() {
    let d = desk().await;
    let w = &d.w;
    let (s, _) = w
        .json(
            "POST",
            "/api/calls/c1/notes",
            Some(&d.agent),
            &json!({"caller_name": "王芳", "category": "inquiry", "summary": "opening hours"})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = w
        .json(
            "POST",
            "/api/blacklist",
            Some(&d.sup),
            r#"{"pattern":"0611111111","reason":"threats"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // a call-back owed to the number (a missed call), on the profile too
    let t = w.clock.now_ms();
    w.console
        .store()
        .insert_work_item(&hotline_worklist::NewItem {
            kind: hotline_worklist::ItemKind::Missed,
            number: "0611111111".into(),
            name: String::new(),
            card: String::new(),
            notes: String::new(),
            owner: hotline_worklist::Owner::Agent(AgentId::new("1001")),
            campaign: None,
            call_id: None,
            created_ms: t,
            deadline_ms: t + 24 * HOUR,
            preferred: String::new(),
            created_by: "event".into(),
        })
        .await
        .unwrap();
    let (s, v) = w
        .json("GET", "/api/customers/0611111111", Some(&d.agent), "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["work_items"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["work_items"][0]["kind"], "missed");
    assert_eq!(v["work_items"][0]["overdue"], false);
    assert_eq!(v["name"], "王芳");
    assert_eq!(v["vip"], true);
    assert_eq!(v["blacklist"]["reason"], "threats");
    assert_eq!(v["calls_total"], 3, "c1, c2 and evil share the number");
    assert_eq!(v["recordings"].as_array().unwrap().len(), 2);
    assert_eq!(v["notes"][0]["summary"], "opening hours");
    assert_eq!(v["open_cases"], 0);
    let (s, _) = w
        .json("GET", "/api/customers/0611111111", Some(&d.ann), "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not ann's customer");
    let (s, v) = w.json("GET", "/api/customers/0699", Some(&d.sup), "").await;
    assert_eq!(
        (s, v["calls_total"].clone(), v["vip"].clone()),
        (StatusCode::OK, json!(0), json!(false))
    );
    for bad in ["a%20b", "%27%3B", &"9".repeat(65)] {
        let (s, _) = w
            .json("GET", &format!("/api/customers/{bad}"), Some(&d.sup), "")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(w
        .audit_actions()
        .await
        .iter()
        .any(|a| a.contains("customer_view")));
}

#[tokio::test]
async fn an_overdue_case_raises_its_warning_and_alarm_in_simulated_time() {
    let d = desk().await;
    let w = &d.w;
    let t0 = w.clock.now_ms();
    let (s, v) = w
        .json(
            "POST",
            "/api/cases",
            Some(&d.sup),
            &json!({"call_id": "c1", "title": "no refund", "note": "angry"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (_, v) = w.json("GET", "/api/cases/summary", Some(&d.sup), "").await;
    assert_eq!(
        (
            v["open"].clone(),
            v["overdue"].clone(),
            v["due_soon"].clone()
        ),
        (json!(1), json!(0), json!(0))
    );
    // 22 h later: the warning (2 h before the deadline)
    w.clock.0.store(t0 + 22 * HOUR, Ordering::SeqCst);
    d.deadlines.look();
    wait_for(&d.events, "case_warning", 1).await;
    let (_, v) = w
        .json("GET", "/api/cases/summary", Some(&d.agent), "")
        .await;
    assert_eq!(
        (v["due_soon"].clone(), v["overdue"].clone()),
        (json!(1), json!(0)),
        "{v}"
    );
    // 24 h: the alarm, once
    w.clock.0.store(t0 + 24 * HOUR, Ordering::SeqCst);
    d.deadlines.look();
    wait_for(&d.events, "case_overdue", 1).await;
    d.deadlines.look();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let evs = d.events.lock().unwrap().clone();
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!(
        evs[1].agent.as_ref().map(|a| a.as_str()),
        Some("1001"),
        "the owner"
    );
    assert!(matches!(evs[1].kind, EventKind::CaseOverdue { case_id, .. } if case_id == id));
    assert_eq!(d.deadlines.overdue(), 1);
    let (_, v) = w.json("GET", "/api/cases/summary", Some(&d.sup), "").await;
    assert_eq!(v["overdue"], 1);
    let (_, v) = w
        .json("GET", "/api/cases?overdue=true", Some(&d.agent), "")
        .await;
    assert_eq!(v["items"][0]["overdue"], true);
    let (_, v) = w.json("GET", "/api/cases/summary", Some(&d.ann), "").await;
    assert_eq!(v["open"], 0, "ann's own cases");
}

#[tokio::test]
async fn the_customer_at_an_agents_desk_is_shown_with_their_open_case_and_owner() {
    let Desk {
        mut w, ann, sup, ..
    } = desk().await;
    // a case of 0611111111 (the caller of c1), owned by 1001
    let body = json!({"caller_name": "王芳", "category": "complaint",
        "summary": "parcel lost", "open_case": true, "severity": "general"});
    let (s, v) = w
        .json("POST", "/api/calls/c1/notes", Some(&sup), &body.to_string())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case_id = v["case"]["id"].clone();
    // the live task fed by our own event source
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    let api = crate::engine::Api {
        live: crate::engine::LiveKpis::spawn(rx, Default::default()),
        ..api_of(&w.console)
    };
    w.app = api.router();
    let ev = |call: &str, agent: Option<&str>, kind: EventKind| CallEvent {
        at_ms: 1,
        call_id: Some(CallId::from_stored(call)),
        agent: agent.map(AgentId::new),
        queue: None,
        kind,
    };
    let (s, v) = w
        .json("GET", "/api/agents/ann/customer", Some(&ann), "")
        .await;
    assert_eq!((s, v["call"].clone()), (StatusCode::OK, Value::Null));
    // the owner's customer calls again and ann's phone rings
    events
        .send(ev(
            "c9",
            None,
            EventKind::Arrived {
                caller: hotline_core::Party {
                    number: "0611111111".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::Inquiry,
            },
        ))
        .unwrap();
    events
        .send(ev(
            "c9",
            Some("ann"),
            EventKind::Offered {
                contact: "sip:ann@x".into(),
            },
        ))
        .unwrap();
    let mut card = Value::Null;
    for _ in 0..200 {
        let (s, v) = w
            .json("GET", "/api/agents/ann/customer", Some(&ann), "")
            .await;
        assert_eq!(s, StatusCode::OK);
        if !v["call"].is_null() {
            card = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(card["call"]["call_id"], "c9", "{card}");
    assert_eq!(card["call"]["state"], "ringing");
    let c = &card["card"];
    assert_eq!(c["number"], "0611111111");
    assert_eq!(c["name"], "王芳");
    assert_eq!(c["vip"], true, "0611* is VIP in this desk");
    assert_eq!(c["open_cases"], 1);
    assert_eq!(c["cases"][0]["id"], case_id);
    assert_eq!(c["cases"][0]["owner"], "1001");
    // the newest of the number's calls before this one
    let (_, profile) = w
        .json("GET", "/api/customers/0611111111", Some(&sup), "")
        .await;
    assert_eq!(c["last_call"]["call_id"], profile["calls"][0]["call_id"]);
    assert_eq!(c["calls_total"], profile["calls_total"]);
    assert_eq!(c["last_note"]["summary"], "parcel lost");
    // only their own desk; supervisors any; nobody without a login
    let (s, _) = w
        .json("GET", "/api/agents/1001/customer", Some(&ann), "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = w
        .json("GET", "/api/agents/ann/customer", Some(&sup), "")
        .await;
    assert_eq!(
        (s, v["call"]["call_id"].clone()),
        (StatusCode::OK, json!("c9"))
    );
    let (s, _) = w.json("GET", "/api/agents/ann/customer", None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let long = format!("/api/agents/{}/customer", "a".repeat(100));
    let (s, _) = w.json("GET", &long, Some(&sup), "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // the call ends: the desk is empty again
    events
        .send(ev(
            "c9",
            Some("ann"),
            EventKind::Completed {
                ended_by: hotline_core::EndedBy::Caller,
                talk_ms: 1,
            },
        ))
        .unwrap();
    let mut cleared = false;
    for _ in 0..200 {
        let (_, v) = w
            .json("GET", "/api/agents/ann/customer", Some(&ann), "")
            .await;
        if v["call"].is_null() {
            cleared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(cleared);
}
