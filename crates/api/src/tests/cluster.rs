//! `GET /api/cluster` and the cluster's `/metrics` families over a fixed
//! node status and a real (SQLite) store: off, roles, the node's view, the
//! leases and nodes from the store, hostile names in the metrics' labels.

use super::*;
use hotline_engine::cluster::ClusterSettings;
use hotline_engine::cluster_task::{ClusterStatus, LeaseSeen, NodeStatus, TakeOver};
use hotline_store::{NodeBeat, Role};

fn status(active: bool) -> NodeStatus {
    NodeStatus {
        node_id: "node-b".into(),
        active,
        reason: (!active).then(|| "held_by_other_node".into()),
        holder: (!active).then(|| "node-a".into()),
        since_ms: 5,
        last_db_ok_ms: Some(6),
        db_now_ms: Some(7),
        leases: vec![LeaseSeen {
            queue: "gen\"eral\\\n".into(),
            owner: "node-b".into(),
            fence: 4,
            expires_ms: 9,
        }],
        take_overs: vec![TakeOver {
            from: "node-a".into(),
            at_ms: 5,
            calls_closed: Some(2),
        }],
        settings: ClusterSettings::new("node-b"),
    }
}

#[tokio::test]
async fn cluster_status_for_supervisors_off_without_a_cluster() {
    let mut w = world().await;
    let sup = w.session("alice", Role::Supervisor);
    // no [cluster]: off, and nothing in /metrics
    let (s, v) = w.json("GET", "/api/cluster", Some(&sup), "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, serde_json::json!({"enabled": false}));
    assert_eq!(crate::cluster::exposition(None), "");

    let st = ClusterStatus::of(status(true));
    let api = crate::engine::Api {
        cluster: Some(st.clone()),
        ..api_of(&w.console)
    };
    let app = api.router();
    let store = w.console.store().clone();
    let beat = |id: &str, active| NodeBeat {
        node_id: id.into(),
        active,
        sip: "127.0.0.1:5060".into(),
    };
    store
        .acquire_leases(&beat("node-b", true), &["general".into()], 60_000)
        .await
        .unwrap();
    store.heartbeat(&beat("node-a", false)).await.unwrap();
    w.app = app;
    let (s, v) = w.json("GET", "/api/cluster", Some(&sup), "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["database"], "ok");
    assert_eq!(v["node"]["node_id"], "node-b");
    assert_eq!(v["node"]["active"], true);
    assert_eq!(v["node"]["take_overs"][0]["calls_closed"], 2);
    assert_eq!(v["node"]["lease_ttl_ms"], 6_000);
    assert_eq!(v["leases"][0]["queue"], "general");
    assert_eq!(v["leases"][0]["owner"], "node-b");
    assert_eq!(v["leases"][0]["held"], true);
    assert_eq!(v["leases"][0]["fence"], 1);
    let rem = v["leases"][0]["remaining_ms"].as_i64().unwrap();
    assert!((59_000..=60_000).contains(&rem), "{rem}");
    let nodes: Vec<(String, bool, bool)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node_id"].as_str().unwrap().to_string(),
                n["up"].as_bool().unwrap(),
                n["this_node"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("node-a".into(), true, false),
            ("node-b".into(), true, true)
        ]
    );
    // agents: 403; nobody: 401
    let ann = w.session("ann", Role::Agent);
    let (s, _) = w.json("GET", "/api/cluster", Some(&ann), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = w.send("GET", "/api/cluster", None, "", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // standby: the reason and the holder; /metrics says 0
    st.replace(status(false));
    let (_, v) = w.json("GET", "/api/cluster", Some(&sup), "").await;
    assert_eq!(v["node"]["active"], false);
    assert_eq!(v["node"]["reason"], "held_by_other_node");
    assert_eq!(v["node"]["holder"], "node-a");
    let m = crate::cluster::exposition(Some(&st));
    assert!(
        m.contains("hotline_cluster_active{node=\"node-b\"} 0"),
        "{m}"
    );
    // a hostile queue name cannot break the exposition's lines
    assert!(
        m.contains("hotline_cluster_lease_owner{queue=\"gen\\\"eral\\\\\\n\",owner=\"node-b\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("hotline_cluster_lease_fence{queue=\"gen\\\"eral\\\\\\n\"} 4"),
        "{m}"
    );
    for line in m.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("hotline_cluster_"),
            "{line}"
        );
    }
    st.replace(status(true));
    let m = crate::cluster::exposition(Some(&st));
    assert!(
        m.contains("hotline_cluster_active{node=\"node-b\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn a_standby_node_answers_503_to_what_starts_a_call_and_keeps_reads() {
    let mut w = world().await;
    let sup = w.session("alice", Role::Supervisor);
    let st = ClusterStatus::of(status(false));
    w.app = crate::engine::Api {
        cluster: Some(st.clone()),
        ..api_of(&w.console)
    }
    .router();
    let retry = ClusterSettings::new("x").retry_after_s().to_string();
    for (path, body) in [
        ("/api/agents/1001/dial", r#"{"number":"13800000000"}"#),
        ("/api/agents/1001/pause", r#"{"reason":"meal"}"#),
        ("/api/agents/1001/login", ""),
        ("/api/monitor", r#"{"agent":"1001","mode":"listen"}"#),
        ("/api/line-tests", ""),
    ] {
        let (s, h, b) = w.send("POST", path, Some(&sup), body, &[]).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            h.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some(retry.as_str()),
            "{path}"
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["code"], crate::standby::CODE, "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("standby"), "{v}");
    }
    // hostile: an oversized agent id and a hostile body are refused the same
    // way, before any parsing
    let long = format!("/api/agents/{}/dial", "9".repeat(10_000));
    let (s, _, _) = w.send("POST", &long, Some(&sup), "\u{0}{{{{", &[]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // reads keep working on the standby
    let (s, v) = w.json("GET", "/api/cluster", Some(&sup), "").await;
    assert_eq!(
        (s, &v["node"]["active"]),
        (StatusCode::OK, &serde_json::json!(false))
    );
    let (s, _) = w.json("GET", "/api/kpis", Some(&sup), "").await;
    assert_ne!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = w.json("GET", "/api/calls", Some(&sup), "").await;
    assert_eq!(s, StatusCode::OK);
    // the login comes first: no or wrong credentials get the 401 of the
    // active node, not the standby's refusal
    let stale = Who {
        cookie: format!("{}=not-a-session", auth::SESSION_COOKIE),
        csrf: "x".into(),
    };
    let wrong = ("authorization", "Bearer not-the-token");
    for path in [
        "/api/agents/1001/dial",
        "/api/agents/1001/pause",
        "/api/monitor",
        "/api/monitor/c-1",
        "/api/line-tests",
    ] {
        for (who, extra) in [(None, None), (None, Some(wrong)), (Some(&stale), None)] {
            let extra: Vec<(&str, &str)> = extra.into_iter().collect();
            let (s, h, b) = w.send("POST", path, who, "{}", &extra).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} {extra:?}");
            assert!(h.get(header::RETRY_AFTER).is_none(), "{path}");
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            assert_ne!(v["code"], crate::standby::CODE, "{path}: {v}");
        }
    }
    // a session's state change without its CSRF token: 403, as anywhere
    let no_csrf = Who {
        cookie: sup.cookie.clone(),
        csrf: String::new(),
    };
    let (s, _, _) = w
        .send("POST", "/api/agents/1001/pause", Some(&no_csrf), "{}", &[])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // the right bearer token: the standby's refusal
    let good = format!("Bearer {TOKEN}");
    let (s, _, _) = w
        .send(
            "POST",
            "/api/line-tests",
            None,
            "",
            &[("authorization", good.as_str())],
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // what probes the node stays open to anyone on the standby
    for path in ["/health", "/metrics"] {
        let (s, _, _) = w.send("GET", path, None, "", &[]).await;
        assert_eq!(s, StatusCode::OK, "{path}");
    }
    // active again: the request reaches the engine (none here: not the
    // standby's refusal)
    st.replace(status(true));
    let (_, _, b) = w
        .send(
            "POST",
            "/api/agents/1001/dial",
            Some(&sup),
            r#"{"number":"13800000000"}"#,
            &[],
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_ne!(v["code"], crate::standby::CODE, "{v}");
}
