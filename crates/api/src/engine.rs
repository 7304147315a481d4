//! The engine's side of the HTTP listener: Prometheus `/metrics`, `/api/stats` (JSON), `/health`,
//! the wallboard's live stream `GET /api/stream` (Server-Sent Events), and
//! agent control: `GET /api/agents`, `POST /api/agents/{id}/{action}`
//! (login, logout, pause, unpause; bearer token `http.api_token`).
//! docs/api.md describes every endpoint.
//!
//! One task owns the live [`Metrics`]: it folds every event the engine
//! publishes and answers snapshot requests over a channel, so handlers never
//! share state with the engine. The same task feeds the stream: each event,
//! and a KPI snapshot every second, serialised once into a bounded
//! [`broadcast`] channel; a client that falls more than [`STREAM_BUFFER`]
//! frames behind gets a `lagged` frame and is disconnected, so a slow
//! wallboard never slows the engine nor holds more than the buffer.

use crate::api::JsonPath;
use crate::routes::Routes;
use crate::ApiError;
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{AgentId, Calendar, CallEvent, Clock, Shift, SystemClock};
use hotline_engine::control::{
    AgentControl, AgentRequest, CallAction, CallTarget, ControlError, Requester, TalkingCall,
};
use hotline_metrics::kpi::{KpiConfig, Metrics, Snapshot};
use hotline_recorder::access::{AccessError, Actor, RecordingAccess};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::warn;

/// What the live figures need to know of the center.
#[derive(Debug, Clone, Default)]
pub struct Center {
    /// The center's time zone: "today" starts at its local midnight.
    pub calendar: Calendar,
    /// The shifts (`current_shift`).
    pub shifts: Vec<Shift>,
    /// How the figures count.
    pub kpi: KpiConfig,
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("http.listen: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Figures over several windows, as `/api/stats` returns them.
#[derive(Serialize)]
pub struct Stats {
    /// Every call since the engine started.
    pub since_start: Snapshot,
    /// Calls that arrived in the last 15 minutes.
    pub last_15_min: Snapshot,
    /// Calls that arrived in the last hour.
    pub last_hour: Snapshot,
    /// Calls that arrived since local midnight in the center's time zone
    /// (`schedule.timezone`).
    pub today: Snapshot,
    /// Calls that arrived since the start of the shift running now (from
    /// `[[shifts]]`), if one is.
    pub current_shift: Option<ShiftStats>,
}

/// The figures of the shift running now.
#[derive(Serialize)]
pub struct ShiftStats {
    /// Its name in `[[shifts]]`.
    pub name: String,
    /// When it ends, epoch ms (its start is `figures.from_ms`).
    pub ends_ms: i64,
    /// Calls that arrived since it started.
    pub figures: Snapshot,
}

type StatsRequest = oneshot::Sender<Stats>;

/// Frames the stream buffers for its slowest client (the memory bound: a
/// snapshot of a large center is tens of kB); a client further behind is
/// told `lagged` and disconnected.
pub const STREAM_BUFFER: usize = 256;

/// Most stream clients at once; more get 503.
pub const MAX_STREAM_CLIENTS: usize = 64;

/// How often the stream carries a KPI snapshot.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// How often the live KPIs fold ended calls into per-minute sums
/// ([`Metrics::compact`]) and forget old ones: each call's facts are kept
/// about [`hotline_metrics::kpi::DETAIL_MS`] plus this.
pub const TIDY_EVERY: Duration = Duration::from_secs(60);

/// The live KPIs forget calls (and sums) that arrived this long ago, ms:
/// "today" and a night shift that began yesterday need at most a day.
pub const KEEP_KPI_MS: i64 = 2 * 86_400_000;

/// One frame of the live stream: the SSE event name and its JSON data,
/// serialised once for every client.
#[derive(Clone, Debug)]
pub struct Frame {
    /// `call_event` or `snapshot`.
    pub name: &'static str,
    /// The JSON text.
    pub data: Arc<str>,
}

impl Frame {
    fn json(name: &'static str, value: &impl Serialize) -> Option<Frame> {
        match serde_json::to_string(value) {
            Ok(text) => Some(Frame {
                name,
                data: text.into(),
            }),
            Err(e) => {
                warn!(error = %e, name, "cannot serialise a stream frame");
                None
            }
        }
    }
}

/// Handle on the live KPI task.
#[derive(Clone)]
pub struct LiveKpis {
    requests: mpsc::Sender<StatsRequest>,
    frames: broadcast::Sender<Frame>,
    /// The call at each agent's desk (for the customer card).
    desk: crate::desk::SharedDesk,
}

fn stats_at(metrics: &Metrics, center: &Center, now: i64) -> Stats {
    // an instant jiff cannot place (year 10000) falls back to the UTC day
    let midnight = center
        .calendar
        .start_of_day(now)
        .unwrap_or(now.div_euclid(86_400_000) * 86_400_000);
    Stats {
        since_start: metrics.snapshot(now + 1),
        last_15_min: metrics.snapshot_window(now - 15 * 60_000, now + 1),
        last_hour: metrics.snapshot_window(now - 3_600_000, now + 1),
        today: metrics.snapshot_window(midnight, now + 1),
        current_shift: hotline_core::calendar::current_shift(&center.shifts, &center.calendar, now)
            .map(|(s, from, to)| ShiftStats {
                name: s.name.clone(),
                ends_ms: to,
                figures: metrics.snapshot_window(from, now + 1),
            }),
    }
}

impl LiveKpis {
    /// Starts the task that folds `events` into the live KPIs and feeds the
    /// stream; the center's calendar gives "today" and its shifts the
    /// current-shift window.
    pub fn spawn(mut events: mpsc::UnboundedReceiver<CallEvent>, center: Center) -> LiveKpis {
        let (tx, mut rx) = mpsc::channel::<StatsRequest>(64);
        let (frames, _) = broadcast::channel::<Frame>(STREAM_BUFFER);
        let out = frames.clone();
        let desk = crate::desk::SharedDesk::default();
        let book = desk.clone();
        tokio::spawn(async move {
            let clock = SystemClock;
            let mut metrics = Metrics::new(center.kpi.clone());
            // every minute: fold the ended calls into per-minute sums
            // (compact), forget what is two days old
            let mut tidy = tokio::time::interval(TIDY_EVERY);
            let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Some(e) => {
                            metrics.apply(&e);
                            match book.lock() {
                                Ok(mut b) => b.apply(&e),
                                Err(p) => p.into_inner().apply(&e),
                            }
                            // no subscriber: no serialisation
                            if out.receiver_count() > 0 {
                                if let Some(f) = Frame::json("call_event", &e) {
                                    let _ = out.send(f);
                                }
                            }
                        }
                        None => break,
                    },
                    r = rx.recv() => match r {
                        Some(reply) => {
                            let _ = reply.send(stats_at(&metrics, &center, clock.now_ms()));
                        }
                        None => break,
                    },
                    _ = tick.tick() => {
                        if out.receiver_count() > 0 {
                            if let Some(f) = Frame::json("snapshot", &stats_at(&metrics, &center, clock.now_ms())) {
                                let _ = out.send(f);
                            }
                        }
                    }
                    _ = tidy.tick() => {
                        let now = clock.now_ms();
                        metrics.compact(now);
                        metrics.forget_before(now - KEEP_KPI_MS);
                    }
                }
            }
        });
        LiveKpis {
            requests: tx,
            frames,
            desk,
        }
    }

    /// The call ringing or talking at `agent`'s desk, if any.
    pub fn desk_call(&self, agent: &str) -> Option<crate::desk::DeskCall> {
        match self.desk.lock() {
            Ok(b) => b.call_of(agent).cloned(),
            Err(p) => p.into_inner().call_of(agent).cloned(),
        }
    }

    async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.ok()?;
        rx.await.ok()
    }
}

/// The one state of every HTTP route: the console (users, sessions, the
/// store, recording access, the run-time blacklist, the API token), the live
/// KPIs and the engine's agent control. Console handlers take
/// `State<Console>` (a part of it, by [`FromRef`]).
#[derive(Clone)]
pub struct Api {
    /// Users, sessions, the store, recording access, the API token.
    pub console: crate::Console,
    /// The live KPI task.
    pub live: LiveKpis,
    /// Agent requests to the engine ([`AgentControl::detached`] when no
    /// engine runs).
    pub agents: AgentControl,
    /// The carrier trunks' channels and health.
    pub trunks: hotline_engine::trunks::TrunkBoard,
    /// HTTPS (`http.tls_cert`/`http.tls_key`), None = plain HTTP.
    pub tls: Option<crate::tls::Tls>,
    /// Serve the console's routes (pages, login, calls, recordings,
    /// blacklist, audit): `console.enabled`. Without them only the
    /// engine's routes answer, with the bearer token.
    pub console_routes: bool,
    /// Work lists and return-visit campaigns, None when disabled. Their
    /// routes authorize through the console's sessions and API token like
    /// every other route.
    pub worklist: Option<crate::worklist::Worklist>,
    /// The duty floor (roster, attendance, handovers), None when disabled.
    pub duty: Option<crate::duty::DutyApi>,
    /// Runs the line self-test on request (`POST /api/line-tests`).
    pub line_tests: hotline_engine::linetest::LineTests,
    /// The SIP registrar's bans for password guessing (`GET /api/sip/bans`).
    pub bans: hotline_engine::bans::SipBans,
    /// This node of the HA pair (`GET /api/cluster`), None without `[cluster]`.
    pub cluster: Option<hotline_engine::cluster_task::ClusterStatus>,
}

impl FromRef<Api> for crate::Console {
    fn from_ref(api: &Api) -> crate::Console {
        api.console.clone()
    }
}

impl Api {
    /// The gate of the areas whose routes keep their own state: the
    /// console's sessions when its routes are served, and the API token.
    pub fn gate(&self) -> crate::auth::Gate {
        crate::auth::Gate {
            console: self.console_routes.then(|| self.console.clone()),
            token: self.console.api_token().to_string(),
        }
    }

    /// The router of every route, with the one body limit, the fallback and
    /// (with the console's routes) the login guard of `open_read_api`.
    pub fn router(self) -> axum::Router {
        let console = self.console.clone();
        let mut routes = routes();
        if self.console_routes {
            routes = routes.merge(crate::Console::routes());
        }
        let worklist = self
            .worklist
            .clone()
            .map(|service| crate::worklist::WorklistApi {
                service,
                gate: self.gate(),
            });
        let mut app = routes
            .into_router()
            .fallback(not_found)
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self.clone());
        // the work list's routes keep their own body limit (campaign files)
        if let Some(w) = worklist {
            app = app.merge(w.router());
        }
        if let Some(d) = self.duty.clone() {
            app = app.merge(d.router(self.gate()));
        }
        // a known path with another method: 405 with `Allow`, in JSON like
        // every other error
        let mut app = app.method_not_allowed_fallback(method_not_allowed);
        // the HA pair: a standby node starts no call (503)
        if let Some(c) = &self.cluster {
            let retry_after_s = c.snapshot().map_or(1, |s| s.settings.retry_after_s());
            app = app.layer(axum::middleware::from_fn_with_state(
                crate::standby::StandbyGate {
                    role: c.role(),
                    retry_after_s,
                    // sessions are checked even without the console's
                    // routes, as the call-starting routes themselves do
                    auth: crate::auth::Gate {
                        console: Some(self.console.clone()),
                        token: self.console.api_token().to_string(),
                    },
                },
                crate::standby::gate,
            ));
        }
        // a body over a route's limit: 413 in JSON too (axum's own
        // rejection is plain text), whichever route and limit
        let app = app.layer(axum::middleware::map_response(
            crate::body_limit::json_payload_too_large,
        ));
        if self.console_routes {
            app.layer(axum::middleware::from_fn_with_state(
                console,
                crate::require_login,
            ))
        } else {
            app
        }
    }
}

/// The largest request body any route reads (a route may ask less: agent
/// and call control 4 KiB, login 4 KiB, marks 16 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The largest body of agent and call control requests.
const CONTROL_BODY_LIMIT: usize = 4096;

async fn metrics(State(api): State<Api>) -> Response {
    match api.live.stats().await {
        Some(mut s) => {
            api.console.fill_snapshot(&mut s.since_start).await;
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                hotline_metrics::prometheus::render(&s.since_start)
                    + &crate::bans::exposition(&api.bans)
                    + &crate::cluster::exposition(api.cluster.as_ref())
                    + &hotline_engine::srtp_stats::exposition(),
            )
                .into_response()
        }
        None => unavailable(),
    }
}

/// `GET /api/kpis`: the KPI columns of a scope and of an agent (name,
/// title, help, unit, Prometheus family) and the ones the wallboard shows.
async fn kpis() -> Response {
    Json(serde_json::json!({
        "columns": hotline_metrics::columns::COLUMNS,
        "agents": hotline_metrics::columns::AGENT_COLUMNS,
        "wallboard": hotline_metrics::columns::WALLBOARD,
    }))
    .into_response()
}

async fn stats(State(api): State<Api>) -> Response {
    match api.live.stats().await {
        Some(mut s) => {
            // the monitoring score and the turnover are kept in the store
            {
                let c = &api.console;
                for snap in [
                    &mut s.since_start,
                    &mut s.last_15_min,
                    &mut s.last_hour,
                    &mut s.today,
                ] {
                    c.fill_snapshot(snap).await;
                }
                if let Some(shift) = &mut s.current_shift {
                    c.fill_snapshot(&mut shift.figures).await;
                }
            }
            Json(s).into_response()
        }
        None => unavailable(),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    ApiError::new(status, message).into_response()
}

async fn agents(State(api): State<Api>) -> Response {
    match api.agents.list().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// `GET /api/trunks`: every trunk's health, channels in use and counts.
async fn trunks(State(api): State<Api>) -> Response {
    Json(api.trunks.status()).into_response()
}

async fn queues(State(api): State<Api>) -> Response {
    match api.agents.queues().await {
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

fn short_text(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.len() <= max && !s.chars().any(char::is_control)
}

/// Who may control agents and calls: a supervisor's console session (with
/// its CSRF token when the request `changes` something) or the bearer token
/// `http.api_token`. `Ok(Some(user))` for a session, `Ok(None)` for the
/// token; the refusal otherwise (403 when no token is configured).
async fn authorize(
    api: &Api,
    headers: &HeaderMap,
    changes: bool,
    what: &'static str,
) -> Result<Option<String>, Response> {
    match crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        headers,
        changes,
        hotline_store::Role::Supervisor,
        crate::auth::NoToken::Disabled(what),
    )
    .await
    {
        Ok(p) if p.session => Ok(Some(p.name)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.into_response()),
    }
}

/// An optional JSON body: empty (or blank) is the default, anything else
/// must parse (unknown fields are refused by the body types).
/// A body above [`CONTROL_BODY_LIMIT`] is 413, one that does not parse 400.
fn json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > CONTROL_BODY_LIMIT {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {CONTROL_BODY_LIMIT} bytes"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

async fn control(
    State(api): State<Api>,
    JsonPath((agent, action)): JsonPath<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if action == "dial" {
        // an agent's session may dial as that agent (their own work list)
        let who = crate::auth::principal(
            Some(&api.console),
            api.console.api_token(),
            &headers,
            true,
            hotline_store::Role::Agent,
            crate::auth::NoToken::Disabled("click-to-call"),
        )
        .await;
        let user = match who {
            Ok(p) if p.role == hotline_store::Role::Agent && p.name != agent => {
                return error(
                    StatusCode::FORBIDDEN,
                    "an agent may only dial from their own phone",
                )
            }
            Ok(p) if p.session => Some(p.name),
            Ok(_) => None,
            Err(e) => return e.into_response(),
        };
        return dial(api, agent, user, &body).await;
    }
    let user = match authorize(&api, &headers, true, "agent control").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let body: ControlBody = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let reason = body.reason.unwrap_or_else(|| "break".to_string());
    let by = user.or(body.by).unwrap_or_else(|| "supervisor".to_string());
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
                    "unknown action `{}` (login, logout, pause, unpause, dial)",
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
        Err(e) => control_error(e),
    }
}

/// Body of `POST /api/agents/{id}/dial`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DialBody {
    /// The customer's number.
    number: String,
    /// The call's type (default `outbound.call_type`... or `reply`).
    #[serde(rename = "type")]
    call_type: Option<String>,
    /// Who asks (written in a refusal event as `api:<by>`).
    by: Option<String>,
}

/// `POST /api/agents/{id}/dial`: click-to-call. 202 with the call id: the
/// agent's phone rings, then the customer's; the outcome is in the call's
/// events. 403 for a number the dial rules refuse, 409 when the agent is on
/// a call or has no phone registered, 404 for an unknown agent.
async fn dial(api: Api, agent: String, user: Option<String>, body: &[u8]) -> Response {
    let body: DialBody = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let number = body.number.trim().to_string();
    if !hotline_engine::dialable(&number) {
        return error(
            StatusCode::BAD_REQUEST,
            "number: digits with an optional leading +, at most 32",
        );
    }
    let call_type = match body
        .call_type
        .as_deref()
        .map(str::parse::<hotline_core::CallType>)
    {
        None => hotline_core::CallType::Reply,
        Some(Ok(t)) => t,
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, format!("type: {e}")),
    };
    let by = user.or(body.by).unwrap_or_else(|| "supervisor".to_string());
    if !short_text(&by, 64) {
        return error(StatusCode::BAD_REQUEST, "by: 1-64 characters");
    }
    let request = hotline_engine::control::DialRequest {
        agent: AgentId::new(agent),
        number,
        call_type,
        by: format!("api:{by}"),
    };
    match api.agents.dial(request).await {
        Ok(call) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "call_id": call.as_str() })),
        )
            .into_response(),
        Err(e) => control_error(e),
    }
}

/// The HTTP status of a refused request.
fn control_error(e: ControlError) -> Response {
    let status = match e {
        ControlError::UnknownAgent(_) | ControlError::NoCall(_) => StatusCode::NOT_FOUND,
        ControlError::Refused(_) => StatusCode::CONFLICT,
        ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
        ControlError::Stopped | ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, e)
}

/// Body of the call actions (all optional; which apply depends on the action).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CallBody {
    /// `transfer`: the queue (default `acd.transfer_queue`).
    to: Option<String>,
    /// `type`: a call type name ([`hotline_core::CallType::ALL`]).
    #[serde(rename = "type")]
    call_type: Option<String>,
    /// `mark`: extortion, abuse, dispute, other.
    kind: Option<String>,
    /// `mark`: what happened (up to 4000 bytes).
    note: Option<String>,
    /// Who asks (written in the event as `api:<by>`).
    by: Option<String>,
    /// `play`: the earlier recording (its call id) to play into the call.
    recording: Option<String>,
}

/// The actions `POST .../call/{action}` knows.
const CALL_ACTIONS: &str =
    "hold, resume, transfer, type, mark, record_pause, record_resume, record_start, play, close";

/// `POST /api/calls/{call_id}/{action}`: an action on a talking call.
async fn call_by_id(
    State(api): State<Api>,
    JsonPath((call, action)): JsonPath<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if hotline_evidence::validate_id(&call).is_err() {
        return error(StatusCode::NOT_FOUND, "no such call");
    }
    let target = CallTarget::Call(hotline_core::CallId::from_stored(&call));
    call_action(api, target, &action, &headers, &body).await
}

/// `POST /api/agents/{id}/call/{action}`: an action on the call the agent
/// is talking on (what the agent's softphone uses).
async fn call_of_agent(
    State(api): State<Api>,
    JsonPath((agent, action)): JsonPath<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    call_action(
        api,
        CallTarget::Agent(AgentId::new(agent)),
        &action,
        &headers,
        &body,
    )
    .await
}

/// `GET /api/agents/{id}/call`: the call the agent is talking on.
async fn agent_call(
    State(api): State<Api>,
    JsonPath(agent): JsonPath<String>,
    headers: HeaderMap,
) -> Response {
    let target = CallTarget::Agent(AgentId::new(agent));
    call_action(api, target, "show", &headers, &[]).await
}

async fn call_action(
    api: Api,
    target: CallTarget,
    action: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let user = match authorize(&api, headers, action != "show", "call control").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let body: CallBody = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let by = user
        .or_else(|| body.by.clone())
        .unwrap_or_else(|| match &target {
            CallTarget::Agent(a) => format!("agent:{a}"),
            CallTarget::Call(_) => "supervisor".to_string(),
        });
    if !short_text(&by, 64) {
        return error(
            StatusCode::BAD_REQUEST,
            "by must be 1-64 characters without control characters",
        );
    }
    let by = format!("api:{by}");
    let action = match action {
        "show" => CallAction::Show,
        "hold" => CallAction::Hold,
        "resume" => CallAction::Resume,
        "record_pause" => CallAction::PauseRecording,
        "record_resume" => CallAction::ResumeRecording,
        "record_start" => CallAction::StartRecording,
        "close" => CallAction::Close,
        "play" => return play_into_call(api, target, body, by).await,
        "transfer" => match body.to.as_deref() {
            None => CallAction::Transfer { to: None },
            Some(q) if short_text(q, 64) => CallAction::Transfer {
                to: Some(hotline_core::QueueId::new(q)),
            },
            Some(_) => return error(StatusCode::BAD_REQUEST, "to: a queue id, 1-64 characters"),
        },
        "type" => match body.call_type.as_deref().map(parse_call_type) {
            Some(Some(t)) => CallAction::SetType(t),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("type: one of {}", hotline_core::CallType::names()),
                )
            }
        },
        "mark" => return mark_call(api, target, body, by).await,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action `{}` ({CALL_ACTIONS})",
                    other.chars().take(32).collect::<String>()
                ),
            )
        }
    };
    match api.agents.call(target, action, by).await {
        Ok(call) => Json(call).into_response(),
        Err(e) => control_error(e),
    }
}

/// `play`: an earlier recording of the same caller played into the call
/// (both parties hear it), audited like a listen.
async fn play_into_call(api: Api, target: CallTarget, body: CallBody, by: String) -> Response {
    let Some(id) = body.recording else {
        return error(
            StatusCode::BAD_REQUEST,
            "recording: the call id of the recording to play",
        );
    };
    if RecordingAccess::call_id(&id).is_err() {
        return error(StatusCode::BAD_REQUEST, "recording: not a call id");
    }
    let access = api.console.access().clone();
    // the call first: only a recording of its own caller may be played
    let call = match api
        .agents
        .call(target.clone(), CallAction::Show, by.clone())
        .await
    {
        Ok(c) => c,
        Err(e) => return control_error(e),
    };
    let (earlier, path) = match access.resolve(&id).await {
        Ok(found) => found,
        Err(e @ (AccessError::NoCall(_) | AccessError::BadId(_))) => {
            return error(StatusCode::NOT_FOUND, format!("no recording {id}: {e}"))
        }
        Err(AccessError::Store(e)) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}"))
        }
        Err(e) => {
            return error(StatusCode::CONFLICT, format!("recording {id}: {e}"));
        }
    };
    if earlier.caller != call.caller {
        return error(
            StatusCode::FORBIDDEN,
            "only an earlier recording of the same caller may be played into a call",
        );
    }
    let loaded = tokio::task::spawn_blocking({
        let id = id.clone();
        move || hotline_media::prompt::Prompt::load_wav(&id, &path)
    })
    .await;
    let audio = match loaded {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            return error(
                StatusCode::CONFLICT,
                format!("recording {id} cannot be played: {e}"),
            )
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    // on record before anyone hears it
    let now = SystemClock.now_ms();
    if let Err(e) = access
        .audit(
            &by,
            "play_into_call",
            Some(&id),
            &format!("played into call {}", call.call_id),
            now,
        )
        .await
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the audit log could not be written, nothing played: {e}"),
        );
    }
    let action = CallAction::PlayIntoCall {
        audio,
        recording: id,
    };
    match api.agents.call(target, action, by).await {
        Ok(call) => Json(call).into_response(),
        Err(e) => control_error(e),
    }
}

fn parse_call_type(s: &str) -> Option<hotline_core::CallType> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// `mark`: an evidence mark (legal hold) on the talking call's recording,
/// with an audit entry, while the call is still going on.
async fn mark_call(api: Api, target: CallTarget, body: CallBody, by: String) -> Response {
    let kind = body.kind.as_deref().unwrap_or_default();
    let note = body.note.unwrap_or_default();
    if let Err(e) = RecordingAccess::check_mark(kind, &note) {
        return ApiError::from(e).into_response();
    }
    let access = api.console.access().clone();
    let call: TalkingCall = match api.agents.call(target, CallAction::Show, by.clone()).await {
        Ok(c) => c,
        Err(e) => return control_error(e),
    };
    let actor = Actor {
        name: by.clone(),
        audit_name: by.clone(),
        admin: false,
    };
    match access
        .mark_talking(&call.call_id, kind, &note, &actor, SystemClock.now_ms())
        .await
    {
        Ok(_) => {
            tracing::info!(call = %call.call_id, kind, %by, "call marked as evidence during the call");
            Json(call).into_response()
        }
        Err(AccessError::Store(e)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the mark could not be stored: {e}"),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Query of `GET /api/stream`: which frames the client wants (both by default).
#[derive(serde::Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct StreamParams {
    /// `call_event` frames.
    #[serde(default = "yes")]
    events: bool,
    /// `snapshot` frames.
    #[serde(default = "yes")]
    snapshots: bool,
}

fn yes() -> bool {
    true
}

impl StreamParams {
    fn wants(&self, f: &Frame) -> bool {
        match f.name {
            "call_event" => self.events,
            "snapshot" => self.snapshots,
            _ => true,
        }
    }
}

fn sse_event(f: &Frame) -> Event {
    Event::default().event(f.name).data(&*f.data)
}

/// What one client's stream is doing.
struct ClientStream {
    rx: broadcast::Receiver<Frame>,
    first: Option<Frame>,
    params: StreamParams,
    done: bool,
}

/// The frames one client receives: `first` (the snapshot at connection),
/// then what the broadcast carries, filtered by `params`; after a lag, one
/// `lagged` frame and the end of the stream.
fn client_stream(
    rx: broadcast::Receiver<Frame>,
    first: Option<Frame>,
    params: StreamParams,
) -> impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>> {
    let state = ClientStream {
        rx,
        first,
        params,
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(f) = st.first.take() {
            return Some((Ok(sse_event(&f)), st));
        }
        loop {
            match st.rx.recv().await {
                Ok(f) if st.params.wants(&f) => return Some((Ok(sse_event(&f)), st)),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    st.done = true;
                    let notice = serde_json::json!({
                        "missed": missed,
                        "error": "client too slow: frames were dropped; reconnect and read /api/stats",
                    });
                    let e = Event::default().event("lagged").data(notice.to_string());
                    return Some((Ok(e), st));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

async fn stream(
    State(api): State<Api>,
    params: Result<Query<StreamParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad query (events=true|false, snapshots=true|false): {e}"),
            )
        }
    };
    if api.live.frames.receiver_count() >= MAX_STREAM_CLIENTS {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many stream clients (at most {MAX_STREAM_CLIENTS})"),
        );
    }
    // subscribe before taking the first snapshot: nothing falls in between
    let rx = api.live.frames.subscribe();
    let first = if params.snapshots {
        match api.live.stats().await {
            Some(s) => Frame::json("snapshot", &s),
            None => return unavailable(),
        }
    } else {
        None
    };
    Sse::new(client_stream(rx, first, params))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the KPI task is not running",
    )
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method (see the Allow header)",
    )
}

/// The engine's routes, by area: figures, agents and queues, call control.
fn routes() -> Routes<Api> {
    let figures = Routes::new()
        .get("/health", || async { "ok\n" })
        .get("/metrics", metrics)
        .get("/api/stats", stats)
        .get("/api/kpis", kpis)
        .get("/api/stream", stream);
    let agents = Routes::new()
        .get("/api/agents", agents)
        .get("/api/queues", queues)
        .get("/api/trunks", trunks)
        .post("/api/agents/{id}/{action}", control);
    let calls = Routes::new()
        .get("/api/agents/{id}/call", agent_call)
        .get("/api/agents/{id}/customer", crate::desk::customer)
        .post("/api/agents/{id}/call/{action}", call_of_agent)
        .post("/api/calls/{id}/{action}", call_by_id);
    figures
        .merge(agents)
        .merge(calls)
        .merge(crate::monitor::routes())
        .merge(crate::linetests::routes())
        .merge(crate::bans::routes())
        .merge(crate::cluster::routes())
}

/// Every route of the listener: the engine's and the console's, as
/// (method, path).
pub fn route_list() -> Vec<(axum::http::Method, &'static str)> {
    routes()
        .merge(crate::Console::routes())
        .list()
        .iter()
        .chain(crate::worklist::routes().list())
        .chain(crate::duty::routes().list())
        .cloned()
        .collect()
}

/// Binds `addr` and serves until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, api: Api) -> Result<SocketAddr, ServeError> {
    serve_within(addr, api, crate::edge::HttpLimits::default())
        .await
        .map(|(local, _)| local)
}

/// [`serve`] within `limits` (connections per source and in all, header
/// read timeout); returns the bound address and the listener's counters.
pub async fn serve_within(
    addr: SocketAddr,
    api: Api,
    limits: crate::edge::HttpLimits,
) -> Result<(SocketAddr, Arc<crate::edge::HttpStats>), ServeError> {
    let stats = Arc::new(crate::edge::HttpStats::default());
    if let Some(w) = crate::exposure_warning(addr, api.tls.is_some()) {
        warn!(%addr, "{w}");
    }
    let tls = api.tls.clone();
    let app = api.router();
    let bind = |source| ServeError::Bind { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let counters = stats.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::tls::serve(listener, app, tls, limits, counters).await {
            warn!(error = %e, "HTTP listener stopped");
        }
    });
    Ok((local, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn frame(name: &'static str, n: usize) -> Frame {
        Frame {
            name,
            data: format!("{{\"n\":{n}}}").into(),
        }
    }

    const ALL: StreamParams = StreamParams {
        events: true,
        snapshots: true,
    };

    /// The frames of a stream as `event:`/`data:` text, until it ends or
    /// nothing comes for 200 ms.
    async fn collect(
        s: impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>,
    ) -> Vec<String> {
        let mut s = std::pin::pin!(s);
        let mut out = Vec::new();
        while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_millis(200), s.next()).await
        {
            let Ok(bytes) = axum::body::to_bytes(
                Sse::new(futures_util::stream::iter([Ok::<
                    _,
                    std::convert::Infallible,
                >(e)]))
                .into_response()
                .into_body(),
                1 << 20,
            )
            .await
            else {
                panic!("SSE body");
            };
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        out
    }

    #[tokio::test]
    async fn a_client_gets_the_first_snapshot_then_frames_in_order() {
        let (tx, rx) = broadcast::channel(16);
        for i in 0..3 {
            tx.send(frame("call_event", i)).ok();
        }
        let got = collect(client_stream(rx, Some(frame("snapshot", 99)), ALL)).await;
        assert_eq!(
            got,
            [
                "event: snapshot\ndata: {\"n\":99}\n\n",
                "event: call_event\ndata: {\"n\":0}\n\n",
                "event: call_event\ndata: {\"n\":1}\n\n",
                "event: call_event\ndata: {\"n\":2}\n\n",
            ]
        );
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_is_told_lagged_and_dropped() {
        let (tx, rx) = broadcast::channel(16);
        // 100 frames into a buffer of 16: the client missed 84
        for i in 0..100 {
            tx.send(frame("call_event", i)).ok();
        }
        let got = collect(client_stream(rx, None, ALL)).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("event: lagged\n"), "{got:?}");
        assert!(got[0].contains("\"missed\":84"), "{got:?}");
        // the stream ended and dropped its receiver: the client is gone,
        // nothing more is held for it and the sender never waits
        assert_eq!(tx.receiver_count(), 0);
        assert!(tx.send(frame("call_event", 100)).is_err());
    }

    #[tokio::test]
    async fn filters_keep_only_the_frames_asked_for() {
        let (tx, rx) = broadcast::channel(16);
        tx.send(frame("call_event", 1)).ok();
        tx.send(frame("snapshot", 2)).ok();
        tx.send(frame("call_event", 3)).ok();
        let only_snapshots = StreamParams {
            events: false,
            snapshots: true,
        };
        let got = collect(client_stream(rx, None, only_snapshots)).await;
        assert_eq!(got, ["event: snapshot\ndata: {\"n\":2}\n\n"]);
    }

    #[test]
    fn today_is_the_center_s_local_day() {
        use hotline_core::{CallId, CallType, Party, QueueId};
        let shanghai = hotline_core::Calendar::named("Asia/Shanghai").expect("zone");
        let at = |s: &str| shanghai.parse_instant(s).expect("time");
        let arrive = |m: &mut Metrics, ms: i64, id: &str| {
            m.apply(&CallEvent {
                at_ms: ms,
                call_id: Some(CallId::from_stored(id)),
                agent: None,
                queue: Some(QueueId::new("general")),
                kind: hotline_core::EventKind::Arrived {
                    caller: Party {
                        number: "0612345678".into(),
                        display: None,
                    },
                    dialled: "hotline".into(),
                    call_type: CallType::Inquiry,
                },
            })
        };
        let mut m = Metrics::default();
        // 23:00 on the 22nd and 07:30 on the 23rd, Shanghai time: one UTC day
        // (15:00 and 23:30 UTC on the 22nd), two local days
        arrive(&mut m, at("2026-11-22T23:00"), "yesterday");
        arrive(&mut m, at("2026-11-23T07:30"), "today");
        let night = "22:00-06:00".parse().expect("part");
        let morning = "06:00-14:00".parse().expect("part");
        let center = Center {
            calendar: shanghai.clone(),
            shifts: vec![
                hotline_core::Shift::new("night", vec![night]).expect("shift"),
                hotline_core::Shift::new("morning", vec![morning]).expect("shift"),
            ],
            kpi: Default::default(),
        };
        let s = stats_at(&m, &center, at("2026-11-23T07:40"));
        assert_eq!(s.today.center.offered, 1, "only the 07:30 call is today");
        assert_eq!(s.today.from_ms, Some(at("2026-11-23T00:00")));
        assert_eq!(s.since_start.center.offered, 2);
        let shift = s.current_shift.expect("the morning shift runs");
        assert_eq!(shift.name, "morning");
        assert_eq!(shift.figures.center.offered, 1);
        assert_eq!(shift.ends_ms, at("2026-11-23T14:00"));
        // with the UTC calendar both calls are "today"
        let utc = Center {
            calendar: hotline_core::Calendar::utc(),
            shifts: Vec::new(),
            kpi: Default::default(),
        };
        assert_eq!(
            stats_at(&m, &utc, at("2026-11-23T07:40"))
                .today
                .center
                .offered,
            2
        );
    }

    /// `/api/calls/{call_id}` and `/api/calls/{id}` are one path.
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[tokio::test]
    async fn the_kpi_columns_are_served_for_the_wallboard() {
        let r = kpis().await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let cols = v["columns"].as_array().expect("columns");
        assert_eq!(cols.len(), hotline_metrics::columns::COLUMNS.len());
        let asa = cols.iter().find(|c| c["name"] == "asa_ms").expect("asa");
        assert_eq!(asa["unit"], "millis");
        assert_eq!(asa["title"], "ASA");
        assert_eq!(
            asa["prometheus"],
            serde_json::json!(["hotline_average_speed_of_answer_seconds", "gauge"])
        );
        assert_eq!(v["wallboard"][0], "waiting_now");
        assert_eq!(v["agents"][0]["name"], "answered");
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_every_documented_path_has_a_route() {
        let doc: serde_json::Value =
            serde_json::from_str(crate::assets::OPENAPI_JSON).expect("openapi.json");
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), shape(path)));
                }
            }
        }
        let routes: std::collections::BTreeSet<(String, String)> = route_list()
            .into_iter()
            .map(|(m, p)| (m.to_string(), shape(p)))
            .collect();
        assert_eq!(
            routes.len(),
            route_list().len(),
            "a route is registered twice"
        );
        let undocumented: Vec<_> = routes.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing in openapi.json: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routes).collect();
        assert!(
            unrouted.is_empty(),
            "openapi.json paths without a route: {unrouted:?}"
        );
        assert!(routes.len() >= 30, "{routes:?}");
    }
}
