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
