//! The HTTP listener: Prometheus `/metrics`, `/api/stats` (JSON), `/health`.
//!
//! One task owns the live [`Metrics`]: it folds every event the engine
//! publishes and answers snapshot requests over a channel, so handlers never
//! share state with the engine.

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hotline_core::{CallEvent, Clock, SystemClock};
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

async fn metrics(State(live): State<LiveKpis>) -> Response {
    match live.stats().await {
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

async fn stats(State(live): State<LiveKpis>) -> Response {
    match live.stats().await {
        Some(s) => Json(s).into_response(),
        None => unavailable(),
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
pub async fn serve(addr: SocketAddr, live: LiveKpis) -> Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        warn!(%addr, "the HTTP listener is not on loopback and has no authentication yet: anyone who reaches it reads the center's figures");
    }
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/stats", get(stats))
        .route("/health", get(|| async { "ok\n" }))
        .fallback(not_found)
        .with_state(live);
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
