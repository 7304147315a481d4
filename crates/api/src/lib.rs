//! Every HTTP route of hotline: [`engine`] (Prometheus `/metrics`,
//! `/api/stats`, the wallboard's stream, agent and call control) and the
//! supervisor console, served by the engine itself on one listener
//! ([`engine::serve`]). The console: login with the store's users and roles, sessions in HttpOnly
//! SameSite=Strict cookies with a per-session CSRF token, a JSON API over
//! calls (CDRs and their event timelines), recordings (metadata, audio with
//! HTTP range requests, waveform, loudness, evidence bundles), evidence marks
//! and legal holds, the run-time blacklist and the audit log, and the web UI
//! whose assets are embedded in the binary.
//!
//! [`Console::router`] returns an axum [`Router`] the binary merges into its
//! listener (beside `/metrics`, `/api/stats`, `/api/stream`, `/api/agents`),
//! and [`Console::session_principal`] lets the binary's own endpoints accept a
//! console session as well as their bearer token. docs/api.md lists every
//! endpoint with the role it needs.

#![warn(missing_docs)]

mod api;
mod assets;
pub mod auth;
pub mod bans;
mod body_limit;
pub mod case_deadlines;
pub mod cases;
pub mod cases_text;
pub mod cluster;
pub mod desk;
pub mod duty;
pub mod edge;
pub mod engine;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod i18n;
mod linetests;
mod monitor;
pub mod quality;
mod recordings;
pub mod report;
pub mod routes;
pub mod standby;
pub mod tls;
pub mod worklist;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{Calendar, Clock};
use hotline_engine::routing::{Blacklist, BlacklistAction, BlacklistEntry, NumberPattern};
use hotline_recorder::access::{AccessError, RecordingAccess};
use hotline_store::{Role, Store, StoreError};
use tracing::warn;

pub use auth::{hash_password, verify_password, LoginLimiter, Principal, Sessions};

/// Errors of the console outside a request (start-up).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The database refused.
    #[error("console: {0}")]
    Store(#[from] StoreError),
    /// A stored blacklist entry no longer parses.
    #[error("console: stored blacklist entry `{pattern}` is invalid: {detail}")]
    BadBlacklistEntry {
        /// The stored pattern.
        pattern: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// An error answered to an API client: a status and a JSON body
/// `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words.
    pub message: String,
    /// Seconds to wait before retrying (429), if any.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        ApiError {
            status,
            message: message.to_string(),
            retry_after_s: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::BadId(_) => ApiError::bad_request(
                "bad call id: 1-128 of letters, digits, '_', '-', '.', not starting with '.'",
            ),
            AccessError::BadKind(_) => {
                ApiError::bad_request("kind: extortion, abuse, dispute or other")
            }
            AccessError::BadText(what) => ApiError::bad_request(what),
            AccessError::NoCall(_) | AccessError::NotRecorded(_) | AccessError::Gone(_) => {
                ApiError::not_found(e)
            }
            AccessError::NotAdmin => ApiError::forbidden(e),
            AccessError::NotHeld(_) => ApiError::new(StatusCode::CONFLICT, e),
            AccessError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        warn!(error = %e, "console: database error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// Settings of the console (`[console]` and `[http]` in the config).
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The recordings root; audio is never served from outside it.
    pub recordings_dir: PathBuf,
    /// The data directory (the evidence public key, temporary bundles).
    pub data_dir: PathBuf,
    /// `http.api_token`: a bearer token API clients may use instead of a
    /// session (empty = none accepted). It acts with the supervisor role.
    pub api_token: String,
    /// Mark cookies `Secure` (the listener serves TLS).
    pub secure_cookies: bool,
    /// A session ends after this long without a request, seconds.
    pub session_idle_s: u64,
    /// A session ends this long after login whatever happens, seconds.
    pub session_max_s: u64,
    /// Failed logins allowed per user name and per client address within
    /// `login_window_s` before further attempts are refused (429).
    pub login_attempts: u32,
    /// The window of `login_attempts`, seconds.
    pub login_window_s: u64,
    /// Leave the engine's read endpoints (`/metrics`, `/api/stats`,
    /// `/api/stream`, `/api/agents`) open; false = [`require_login`] asks a
    /// session or the bearer token for every path but the login, the pages,
    /// `/health` and `/api/openapi.json`.
    pub open_read_api: bool,
    /// The center's calendar (`schedule.timezone`): a day in a query
    /// (`/api/calls?from=2026-12-06`) is that local day.
    pub calendar: Calendar,
    /// The quality score forms (`[[quality_forms]]`; the shipped example
    /// when the config has none).
    pub quality_forms: Vec<hotline_store::quality::ScoreForm>,
    /// The shared recordings store (`[recordings_store]`, issue 18):
    /// recordings no longer in `recordings_dir` are read through it.
    pub shared: Option<hotline_recorder::shared::SharedStore>,
}

impl ConsoleConfig {
    /// Defaults for a recordings root and data directory.
    pub fn new(recordings_dir: PathBuf, data_dir: PathBuf) -> Self {
        ConsoleConfig {
            recordings_dir,
            data_dir,
            api_token: String::new(),
            secure_cookies: false,
            session_idle_s: 1800,
            session_max_s: 12 * 3600,
            login_attempts: 5,
            login_window_s: 900,
            open_read_api: true,
            calendar: Calendar::utc(),
            quality_forms: vec![hotline_store::quality::ScoreForm::shipped_example()],
            shared: None,
        }
    }
}

struct Inner {
    store: Store,
    access: RecordingAccess,
    cfg: ConsoleConfig,
    clock: Arc<dyn Clock>,
    sessions: Mutex<Sessions>,
    limiter: Mutex<LoginLimiter>,
    blacklist: Option<Blacklist>,
    cases: cases::DeskCell,
}

/// The console: shared state of its handlers (cheap to clone).
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

impl Console {
    /// A console over `store`; `blacklist` is the engine's (its run-time part
    /// is loaded from the store by [`Console::load_blacklist`] and replaced
    /// on every change), None when no engine runs.
    pub fn new(
        store: Store,
        cfg: ConsoleConfig,
        clock: Arc<dyn Clock>,
        blacklist: Option<Blacklist>,
    ) -> Console {
        let sessions = Sessions::new(cfg.session_idle_s * 1000, cfg.session_max_s * 1000);
        let limiter = LoginLimiter::new(cfg.login_attempts, cfg.login_window_s * 1000);
        Console {
            inner: Arc::new(Inner {
                access: RecordingAccess::new(store.clone(), cfg.recordings_dir.clone())
                    .with_shared(cfg.shared.clone()),
                store,
                cfg,
                clock,
                sessions: Mutex::new(sessions),
                limiter: Mutex::new(limiter),
                blacklist,
                cases: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Fills the figures kept in the store (monitoring score, agent
    /// turnover) into a live snapshot; a database error leaves them empty.
    pub async fn fill_snapshot(&self, s: &mut hotline_metrics::kpi::Snapshot) {
        if let Err(e) = quality::fill_snapshot(&self.inner.store, s).await {
            warn!(error = %e, "quality figures unavailable");
        }
    }

    /// Recording access (resolve, mark, release, audit).
    pub fn access(&self) -> &RecordingAccess {
        &self.inner.access
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Reads the run-time blacklist from the store into the engine's
    /// blacklist (at start, and after every change).
    pub async fn load_blacklist(&self) -> Result<usize, ConsoleError> {
        let Some(list) = &self.inner.blacklist else {
            return Ok(0);
        };
        let rows = self.inner.store.blacklist().await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let pattern =
                NumberPattern::parse(&r.pattern).map_err(|e| ConsoleError::BadBlacklistEntry {
                    pattern: r.pattern.clone(),
                    detail: e.to_string(),
                })?;
            entries.push(BlacklistEntry {
                pattern,
                action: BlacklistAction::Reject,
                reason: r.reason,
            });
        }
        let n = entries.len();
        list.handle().replace(entries);
        Ok(n)
    }

    /// Who a request comes from: a bearer token (`Authorization: Bearer`,
    /// the supervisor role) or a session cookie. A state change (any method
    /// but GET/HEAD) with a session needs the session's CSRF token in
    /// `X-CSRF-Token`. 401 without valid credentials, 403 below `min`.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        method: &Method,
        min: Role,
    ) -> Result<Principal, ApiError> {
        auth::principal(
            Some(self),
            &self.inner.cfg.api_token,
            headers,
            state_change(method),
            min,
            auth::NoToken::LogIn,
        )
        .await
    }

    /// The session's user if the request carries a session cookie (None if
    /// it carries none): Err when the session is unknown or expired, the
    /// CSRF token is missing or wrong on a `state_change`, the user no longer
    /// exists, or their role (read from the store at every request, so a
    /// change of role or a removed user takes effect at once) is below `min`.
    pub async fn session_principal(
        &self,
        headers: &HeaderMap,
        state_change: bool,
        min: Role,
    ) -> Option<Result<Principal, ApiError>> {
        let token = auth::session_cookie(headers)?;
        let now = self.now();
        let found = match self.inner.sessions.lock() {
            Ok(mut s) => s.touch(token, now),
            Err(p) => p.into_inner().touch(token, now),
        };
        let Some(session) = found else {
            return Some(Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the session has expired: log in again",
            )));
        };
        if state_change {
            let given = headers
                .get(auth::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !auth::same_secret(given, &session.csrf) {
                return Some(Err(ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header",
                )));
            }
        }
        let user = match self.inner.store.user(&session.user).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                match self.inner.sessions.lock() {
                    Ok(mut s) => s.close(token),
                    Err(p) => p.into_inner().close(token),
                };
                return Some(Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "this user no longer exists",
                )));
            }
            Err(e) => return Some(Err(e.into())),
        };
        Some(auth::need(
            Principal {
                name: user.name,
                role: user.role,
                session: true,
            },
            min,
        ))
    }

    /// The console's routes (the API and the pages); they are served with
    /// the engine's by [`engine::Api::router`].
    pub(crate) fn routes() -> routes::Routes<engine::Api> {
        api::routes()
            .merge(recordings::routes())
            .merge(quality::routes())
            .merge(auth::routes())
            .merge(assets::routes())
            .merge(i18n::routes())
            .merge(cases::routes())
    }

    /// The center's calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.inner.cfg.calendar
    }

    /// `http.api_token` (empty = no bearer token accepted).
    pub fn api_token(&self) -> &str {
        &self.inner.cfg.api_token
    }
}

/// Paths [`require_login`] never guards: what a browser needs before it
/// can log in, and the health check.
const PUBLIC_PATHS: [&str; 7] = [
    "/",
    "/console",
    "/health",
    "/api/login",
    "/api/session",
    "/api/openapi.json",
    "/favicon.ico",
];

/// Middleware for the whole listener: with `open_read_api = false`, every
/// request outside the public paths and `/console/` needs a session (any
/// role; with the CSRF token on a state change) or the bearer token; the
/// endpoints themselves still check their own roles.
pub async fn require_login(
    axum::extract::State(c): axum::extract::State<Console>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    if c.inner.cfg.open_read_api || PUBLIC_PATHS.contains(&path) || path.starts_with("/console/") {
        return next.run(req).await;
    }
    match c.authorize(req.headers(), req.method(), Role::Agent).await {
        Ok(_) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Whether a method changes state (and so needs the CSRF token).
pub fn state_change(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The warning for a listener outside loopback without TLS, if one is due.
pub fn exposure_warning(addr: SocketAddr, tls: bool) -> Option<String> {
    (!addr.ip().is_loopback() && !tls).then(|| {
        format!(
            "the HTTP listener {addr} is not on loopback and has no TLS: console passwords and session cookies cross the network in clear; configure [http] tls_cert/tls_key or listen on 127.0.0.1"
        )
    })
}

#[cfg(test)]
mod tests;
