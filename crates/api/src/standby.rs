//! The HA pair's standby node (issue 18, phase 2): the requests that start
//! a call or change what the ACD routes are the active node's. On a standby
//! node they answer `503 Service Unavailable` with a JSON body
//! (`{"error": ..., "code": "node_standby"}`, the console shows
//! `ha.node_standby` in the user's language) and `Retry-After`; every read
//! (wallboard, recordings, cases, reports) keeps working on both nodes.
//!
//! Refused on a standby node:
//! - `POST /api/agents/{id}/{action}`: click-to-call (`dial`) and the agent
//!   state changes (`login`, `logout`, `pause`, `unpause`: the active node's
//!   ACD routes, a standby's change would be lost);
//! - `POST /api/monitor`, `POST /api/monitor/{call_id}`: listen-in,
//!   whisper and barge;
//! - `POST /api/line-tests`: the line self-test dials out.
//!
//! Actions on a call in progress (`/api/calls/{id}/{action}`) are not
//! refused: a node that stepped down may still carry calls. The caller's
//! credentials are checked first: a request without a session or the
//! bearer token, or with a wrong one, gets the same `401` on either node
//! (and a session's state change without its CSRF token the same `403`);
//! only an authenticated request learns that the node is standby. The
//! route's own role check (an agent acting for another agent, ...) comes
//! after, on the active node. Nothing else is gated: `/health`,
//! `/metrics`, `/api/cluster` and the reads answer on both nodes.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_engine::role::RoleWatch;

/// The `code` of the JSON body of a standby node's 503.
pub const CODE: &str = "node_standby";

/// The gate's state: the node's role, the Retry-After to send and who may
/// learn it.
#[derive(Clone)]
pub struct StandbyGate {
    /// The node's role (from the lease task).
    pub role: RoleWatch,
    /// Seconds to wait before retrying (about a lease's lapse).
    pub retry_after_s: u32,
    /// The listener's principal check, done before the refusal.
    pub auth: crate::auth::Gate,
}

/// Whether `method path` starts a call or changes the ACD's routing.
pub fn starts_a_call(method: &Method, path: &str) -> bool {
    if method != Method::POST {
        return false;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "api", "agents", _, _]
            | ["", "api", "monitor"]
            | ["", "api", "monitor", _]
            | ["", "api", "line-tests"]
    )
}

/// The 503 of a standby node.
pub fn refusal(retry_after_s: u32) -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({
            "error": hotline_engine::STANDBY_REFUSAL,
            "code": CODE,
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The middleware: a standby node refuses the requests of
/// [`starts_a_call`] from an authenticated caller; anyone else gets the
/// listener's `401` (or `403` for a missing CSRF token) as on the active node.
pub async fn gate(State(g): State<StandbyGate>, req: Request, next: Next) -> Response {
    if !g.role.is_active() && starts_a_call(req.method(), req.uri().path()) {
        if let Err(e) = g
            .auth
            .principal(req.headers(), true, hotline_store::Role::Agent)
            .await
        {
            return e.into_response();
        }
        tracing::info!(method = %req.method(), path = %req.uri().path(), "refused on the standby node");
        return refusal(g.retry_after_s);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_starting_requests_are_known_and_reads_are_not() {
        for (m, p) in [
            (Method::POST, "/api/agents/1001/dial"),
            (Method::POST, "/api/agents/1001/pause"),
            (Method::POST, "/api/agents/1001/login/"),
            (Method::POST, "/api/monitor"),
            (Method::POST, "/api/monitor/c-1"),
            (Method::POST, "/api/line-tests"),
        ] {
            assert!(starts_a_call(&m, p), "{m} {p}");
        }
        for (m, p) in [
            (Method::GET, "/api/agents/1001/call"),
            (Method::GET, "/api/line-tests"),
            (Method::GET, "/api/monitor"),
            (Method::POST, "/api/agents/1001/call/hold"),
            (Method::POST, "/api/calls/c-1/hold"),
            (Method::POST, "/api/cases"),
            (Method::GET, "/api/recordings/c-1"),
            (Method::POST, "/api/agents"),
            (Method::POST, "/api"),
            (Method::POST, ""),
            (Method::POST, "//////"),
            (Method::POST, "/api/agents/1001/dial/x/y"),
        ] {
            assert!(!starts_a_call(&m, p), "{m} {p}");
        }
        let long = format!("/api/agents/{}/dial", "9".repeat(100_000));
        assert!(starts_a_call(&Method::POST, &long));
    }
}
