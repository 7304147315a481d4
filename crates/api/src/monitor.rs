//! Live monitoring from the console or the API (issue 17): a supervisor
//! listens to a talking call, whispers to the agent or barges in; the
//! engine rings the supervisor's phone and joins it when answered.
//!
//! - `POST /api/monitor` `{"call": id | "agent": id, "phone": account, "mode": "listen"}`
//! - `POST /api/monitor/{call_id}` `{"mode": "whisper"}`: switch
//! - `DELETE /api/monitor/{call_id}`: stop (the call goes on)
//!
//! Only the supervisor and admin roles (a console session, or the bearer
//! token); the phone must be one of `[monitor] supervisors`. Every session
//! is in the call's events and the audit log (the engine writes both).

use crate::api::JsonPath;
use crate::engine::Api;
use crate::routes::Routes;
use crate::ApiError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{AgentId, CallId, MonitorMode};
use hotline_engine::control::{CallAction, CallTarget, ControlError};

/// The monitor routes (engine side: they talk to the engine's calls).
pub(crate) fn routes() -> Routes<Api> {
    Routes::new()
        .post("/api/monitor", start)
        .post("/api/monitor/{call_id}", switch)
        .delete("/api/monitor/{call_id}", stop)
}

/// Body of `POST /api/monitor`.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The call, by id.
    call: Option<String>,
    /// Or the agent whose call it is.
    agent: Option<String>,
    /// The supervisor's phone (SIP account) to ring.
    phone: Option<String>,
    /// listen (default), whisper or barge.
    mode: Option<String>,
}

/// Body of `POST /api/monitor/{call_id}`.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: Option<String>,
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    ApiError::new(status, message).into_response()
}

/// 1–64 characters, none of them control characters.
fn short_text(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

fn parse_mode(mode: Option<&str>, default: Option<MonitorMode>) -> Result<MonitorMode, ApiError> {
    match (mode, default) {
        (None, Some(d)) => Ok(d),
        (None, None) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "mode: listen, whisper or barge",
        )),
        (Some(m), _) => m
            .parse::<MonitorMode>()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("mode: {e}"))),
    }
}

/// Who asks: a supervisor's (or admin's) console session, or the bearer
/// token; `api:<name>` for the events.
async fn supervisor(api: &Api, headers: &HeaderMap) -> Result<String, Response> {
    crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        headers,
        true,
        hotline_store::Role::Supervisor,
        crate::auth::NoToken::Disabled("monitoring"),
    )
    .await
    .map(|p| format!("api:{}", p.name))
    .map_err(IntoResponse::into_response)
}

fn call_id(id: &str) -> Result<CallTarget, ApiError> {
    if hotline_evidence::validate_id(id).is_err() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such call"));
    }
    Ok(CallTarget::Call(CallId::from_stored(id)))
}

fn control_error(e: ControlError) -> Response {
    let status = match e {
        ControlError::UnknownAgent(_) | ControlError::NoCall(_) => StatusCode::NOT_FOUND,
        ControlError::Refused(_) => StatusCode::CONFLICT,
        ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
        ControlError::Stopped | ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, e)
}

async fn act(api: &Api, target: CallTarget, action: CallAction, by: String) -> Response {
    match api.agents.call(target, action, by).await {
        Ok(call) => Json(call).into_response(),
        Err(e) => control_error(e),
    }
}

/// `POST /api/monitor`: ring the supervisor's phone and join it to the call.
async fn start(State(api): State<Api>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let by = match supervisor(&api, &headers).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let body: StartBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let target = match (body.call.as_deref(), body.agent.as_deref()) {
        (Some(c), None) => match call_id(c) {
            Ok(t) => t,
            Err(r) => return r.into_response(),
        },
        (None, Some(a)) if short_text(a) => CallTarget::Agent(AgentId::new(a)),
        (None, Some(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "agent: an agent id, 1-64 characters",
            )
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "name the call: either `call` (its id) or `agent`",
            )
        }
    };
    let phone = match body.phone.as_deref() {
        Some(p) if short_text(p) => p.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "phone: the supervisor's phone (a SIP account of [monitor] supervisors)",
            )
        }
    };
    let mode = match parse_mode(body.mode.as_deref(), Some(MonitorMode::Listen)) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    let action = CallAction::Monitor {
        supervisor: phone,
        mode,
    };
    act(&api, target, action, by).await
}

/// `POST /api/monitor/{call_id}`: switch the mode.
async fn switch(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let by = match supervisor(&api, &headers).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let target = match call_id(&id) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    let body: ModeBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let mode = match parse_mode(body.mode.as_deref(), None) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    act(&api, target, CallAction::MonitorMode(mode), by).await
}

/// `DELETE /api/monitor/{call_id}`: stop monitoring (the call goes on).
async fn stop(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    headers: HeaderMap,
) -> Response {
    let by = match supervisor(&api, &headers).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let target = match call_id(&id) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    act(&api, target, CallAction::StopMonitor, by).await
}
