//! The HTTP listener: Prometheus `/metrics`, `/api/stats` (JSON), `/health`,
//! and agent control: `GET /api/agents`, `POST /api/agents/{id}/{action}`
//! (login, logout, pause, unpause; bearer token `http.api_token`).
//!
//! One task owns the live [`Metrics`]: it folds every event the engine
//! publishes and answers snapshot requests over a channel, so handlers never
//! share state with the engine.

use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hotline_core::{AgentId, CallEvent, Clock, SystemClock};
use hotline_engine::control::{AgentControl, AgentRequest, ControlError, Requester};
use hotline_metrics::kpi::{KpiConfig, Metrics, Snapshot};
use serde::Serialize;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Figures over several windows, as `/api/stats` returns them.
#[derive(Serialize)]
pub struct Stats {
    /// Every call since the engine started.
    pub since_start: Snapshot,
    /// Calls that arrived in the last 15 minutes.
    pub last_15_min: Snapshot,
    /// Calls that arrived in the last hour.
    pub last_hour: Snapshot,
}

type StatsRequest = oneshot::Sender<Stats>;

/// Handle on the live KPI task.
#[derive(Clone)]
pub struct LiveKpis {
    requests: mpsc::Sender<StatsRequest>,
}

impl LiveKpis {
    /// Starts the task that folds `events` into the live KPIs.
    pub fn spawn(mut events: mpsc::UnboundedReceiver<CallEvent>) -> LiveKpis {
        let (tx, mut rx) = mpsc::channel::<StatsRequest>(64);
        tokio::spawn(async move {
            let clock = SystemClock;
            let mut metrics = Metrics::new(KpiConfig::default());
            let mut tidy = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Some(e) => metrics.apply(&e),
                        None => break,
                    },
                    r = rx.recv() => match r {
                        Some(reply) => {
                            let now = clock.now_ms();
                            let _ = reply.send(Stats {
                                since_start: metrics.snapshot(now + 1),
                                last_15_min: metrics.snapshot_window(now - 15 * 60_000, now + 1),
                                last_hour: metrics.snapshot_window(now - 3_600_000, now + 1),
                            });
                        }
                        None => break,
                    },
                    _ = tidy.tick() => metrics.forget_before(clock.now_ms() - 2 * 86_400_000),
                }
            }
        });
        LiveKpis { requests: tx }
    }

    async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.ok()?;
        rx.await.ok()
    }
}

/// What the handlers share: the live KPIs, the engine's agent control and
/// the token that state-changing endpoints require.
#[derive(Clone)]
pub struct Api {
    /// The live KPI task.
    pub live: LiveKpis,
    /// Agent requests to the engine.
    pub agents: AgentControl,
    /// `http.api_token` (empty = control endpoints refused).
    pub token: String,
}

async fn metrics(State(api): State<Api>) -> Response {
    match api.live.stats().await {
        Some(s) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            hotline_metrics::prometheus::render(&s.since_start),
        )
            .into_response(),
        None => unavailable(),
    }
}

async fn stats(State(api): State<Api>) -> Response {
    match api.live.stats().await {
        Some(s) => Json(s).into_response(),
        None => unavailable(),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({"error": message.to_string()})),
    )
        .into_response()
}

async fn agents(State(api): State<Api>) -> Response {
    match api.agents.list().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// Body of `POST /api/agents/{id}/{action}` (all optional).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    /// Pause reason (default "break").
    reason: Option<String>,
    /// Who asks (written in the event as `api:<by>`).
    by: Option<String>,
    /// Override a queue's minimum staffing (logged).
    #[serde(rename = "override", default)]
    override_minimum: bool,
}

fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // constant time in the token's length
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn short_text(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

async fn control(
    State(api): State<Api>,
    Path((agent, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if api.token.is_empty() {
        return error(
            StatusCode::FORBIDDEN,
            "agent control is disabled: set http.api_token in the config",
        );
    }
    if !bearer_ok(&headers, &api.token) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let body: ControlBody = if body.iter().all(u8::is_ascii_whitespace) {
        ControlBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")),
        }
    };
    let reason = body.reason.unwrap_or_else(|| "break".to_string());
    let by = body.by.unwrap_or_else(|| "supervisor".to_string());
    if !short_text(&reason, 64) || !short_text(&by, 64) {
        return error(
            StatusCode::BAD_REQUEST,
            "reason and by must be 1-64 characters without control characters",
        );
    }
    let request = match action.as_str() {
        "login" => AgentRequest::Login,
        "logout" => AgentRequest::Logout,
        "pause" => AgentRequest::Pause { reason },
        "unpause" => AgentRequest::Unpause,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action `{}` (login, logout, pause, unpause)",
                    other.chars().take(32).collect::<String>()
                ),
            )
        }
    };
    let requester = Requester {
        by: format!("api:{by}"),
        override_minimum: body.override_minimum,
    };
    match api
        .agents
        .request(AgentId::new(agent), request, requester)
        .await
    {
        Ok(status) => Json(status).into_response(),
        Err(e @ ControlError::UnknownAgent(_)) => error(StatusCode::NOT_FOUND, e),
        Err(e @ ControlError::Refused(_)) => error(StatusCode::CONFLICT, e),
        Err(e @ ControlError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": "the KPI task is not running"})),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "no such endpoint"})),
    )
        .into_response()
}

/// Binds `addr` and serves until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, api: Api) -> Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        warn!(%addr, "the HTTP listener is not on loopback and has no authentication yet: anyone who reaches it reads the center's figures");
    }
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/stats", get(stats))
        .route("/health", get(|| async { "ok\n" }))
        .route("/api/agents", get(agents))
        .route("/api/agents/{id}/{action}", post(control))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(4096))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("http.listen: cannot listen on {addr}"))?;
    let local = listener.local_addr().context("http.listen")?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "HTTP listener stopped");
        }
    });
    Ok(local)
}
