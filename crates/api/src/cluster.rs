//! The HA pair over HTTP (issue 18, phase 1): `GET /api/cluster`, this
//! node's state, the queues' leases and every node's last heartbeat, for
//! the wallboard and the operators; and the `/metrics` families
//! `hotline_cluster_active`, `hotline_cluster_lease_owner` and
//! `hotline_cluster_lease_fence`.
//!
//! Supervisors and admins only (a console session, or the bearer token);
//! agents get 403. Without `[cluster]` the answer is `{"enabled": false}`.
//! The node's own view comes from its lease task (it answers even while the
//! database is down); leases and nodes are read from the database, on its
//! clock.

use crate::engine::Api;
use crate::routes::Routes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_engine::cluster_task::{ClusterStatus, NodeStatus};
use hotline_store::LeaseView;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// How long the database may take to list the leases.
const DB_WAIT: Duration = Duration::from_secs(2);

pub(crate) fn routes() -> Routes<Api> {
    Routes::new().get("/api/cluster", guarded)
}

/// `GET /api/cluster`.
async fn status(State(api): State<Api>) -> Response {
    // (the gate is checked by the caller wrapper below)
    Json(view(&api).await).into_response()
}

/// The body of `GET /api/cluster`.
pub async fn view(api: &Api) -> Value {
    let Some(node) = api.cluster.as_ref().and_then(ClusterStatus::snapshot) else {
        return json!({ "enabled": false });
    };
    let store = api.console.store();
    let db = tokio::time::timeout(DB_WAIT, store.lease_view()).await;
    let (database, leases, nodes, db_now) = match db {
        Ok(Ok(v)) => {
            let (leases, nodes) = rows(&v, &node);
            ("ok".to_string(), leases, nodes, Some(v.db_now_ms))
        }
        Ok(Err(e)) => (format!("unreachable: {e}"), vec![], vec![], None),
        Err(_) => (
            format!("unreachable: no answer within {DB_WAIT:?}"),
            vec![],
            vec![],
            None,
        ),
    };
    json!({
        "enabled": true,
        "node": node_json(&node),
        "database": database,
        "db_now_ms": db_now,
        "leases": leases,
        "nodes": nodes,
    })
}

fn node_json(n: &NodeStatus) -> Value {
    json!({
        "node_id": n.node_id,
        "active": n.active,
        "reason": n.reason,
        "holder": n.holder,
        "since_ms": n.since_ms,
        "last_db_ok_ms": n.last_db_ok_ms,
        "lease_ttl_ms": n.settings.lease_ttl_ms,
        "renew_every_ms": n.settings.renew_every_ms,
        "db_health_window_ms": n.settings.db_health_window_ms,
        "take_overs": n.take_overs.iter().map(|t| json!({
            "from": t.from,
            "at_ms": t.at_ms,
            "calls_closed": t.calls_closed,
        })).collect::<Vec<_>>(),
    })
}

/// Leases and nodes as listed: a node is `up` while its last heartbeat is
/// younger than the lease ttl (database clock).
fn rows(v: &LeaseView, me: &NodeStatus) -> (Vec<Value>, Vec<Value>) {
    let ttl = me.settings.lease_ttl_ms;
    let leases = v
        .leases
        .iter()
        .map(|l| {
            let held = l.expires_ms > v.db_now_ms;
            json!({
                "queue": l.name,
                "owner": l.owner,
                "held": held,
                "fence": l.fence,
                "expires_ms": l.expires_ms,
                "remaining_ms": (l.expires_ms - v.db_now_ms).max(0),
                "acquired_ms": l.acquired_ms,
                "previous_owner": l.previous_owner,
            })
        })
        .collect();
    let nodes = v
        .nodes
        .iter()
        .map(|n| {
            let up = v.db_now_ms - n.seen_ms < ttl;
            json!({
                "node_id": n.node_id,
                "up": up,
                "active": up && n.active,
                "seen_ms": n.seen_ms,
                "started_ms": n.started_ms,
                "sip": n.sip,
                "this_node": n.node_id == me.node_id,
            })
        })
        .collect();
    (leases, nodes)
}

/// Who asks: a supervisor's (or admin's) session or the bearer token.
pub(crate) async fn guarded(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(e) = crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        &headers,
        false,
        hotline_store::Role::Supervisor,
        crate::auth::NoToken::LogIn,
    )
    .await
    {
        return e.into_response();
    }
    status(State(api)).await
}

fn label(s: &str) -> String {
    s.chars()
        .take(128)
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            '"' => vec!['\\', '"'],
            '\n' => vec!['\\', 'n'],
            c if c.is_control() => vec![],
            c => vec![c],
        })
        .collect()
}

/// The cluster's families of `/metrics` (nothing without `[cluster]`).
pub fn exposition(cluster: Option<&ClusterStatus>) -> String {
    let Some(n) = cluster.and_then(ClusterStatus::snapshot) else {
        return String::new();
    };
    let mut out = String::new();
    let node = label(&n.node_id);
    let _ = writeln!(out, "# HELP hotline_cluster_active 1 while this node of the HA pair takes new calls (holds every queue's lease, database healthy), else 0 (OPTIONS and INVITEs get 503)");
    let _ = writeln!(out, "# TYPE hotline_cluster_active gauge");
    let _ = writeln!(
        out,
        "hotline_cluster_active{{node=\"{node}\"}} {}",
        u8::from(n.active)
    );
    let _ = writeln!(out, "# HELP hotline_cluster_lease_owner The owner of each queue's lease as this node last saw it (1 per queue)");
    let _ = writeln!(out, "# TYPE hotline_cluster_lease_owner gauge");
    for l in &n.leases {
        let _ = writeln!(
            out,
            "hotline_cluster_lease_owner{{queue=\"{}\",owner=\"{}\"}} 1",
            label(&l.queue),
            label(&l.owner)
        );
    }
    let _ = writeln!(out, "# HELP hotline_cluster_lease_fence The fencing counter of each queue's lease (grows on every change of owner)");
    let _ = writeln!(out, "# TYPE hotline_cluster_lease_fence gauge");
    for l in &n.leases {
        let _ = writeln!(
            out,
            "hotline_cluster_lease_fence{{queue=\"{}\"}} {}",
            label(&l.queue),
            l.fence
        );
    }
    out
}
