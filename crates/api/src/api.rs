//! The JSON API over calls, the blacklist and the audit log.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{Calendar, CallId, CallType};
use hotline_engine::routing::NumberPattern;
use hotline_store::{BlacklistRow, Cdr, CdrFilter, Mark, Role};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{parse_json, read_body};
use crate::routes::Routes;
use crate::{ApiError, Console};

/// The widest date range a call query may span, days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The largest page.
pub const MAX_PAGE: i64 = 500;
/// The largest offset.
pub const MAX_OFFSET: i64 = 1_000_000;

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/api/calls", calls)
        .get("/api/calls/{id}", call)
        .get("/api/blacklist", blacklist)
        .post("/api/blacklist", blacklist_add)
        .delete("/api/blacklist/{entry}", blacklist_remove)
        .get("/api/audit", audit)
        .get("/api/audit/verify", audit_verify)
}

/// The path parameter, or a JSON 400.
pub(crate) fn path_param<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad path: {e}")))
}

/// A path parameter whose rejection (a bad percent-encoding, invalid
/// UTF-8, a value of the wrong type) is a JSON 400 like every other error,
/// not axum's plain text (found by the `http_body` fuzz target).
pub struct JsonPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for JsonPath<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        path_param(
            <Path<T> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state).await,
        )
        .map(JsonPath)
    }
}

/// A call id from the path, checked with [`call_id`] (a JSON 400 otherwise).
pub(crate) struct CallPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CallPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let id = path_param(
            <Path<String> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state)
                .await,
        )?;
        call_id(&id)?;
        Ok(CallPath(id))
    }
}

/// A call id from a path: only `[A-Za-z0-9_.-]`, 1–128 bytes, never a path.
pub(crate) fn call_id(id: &str) -> Result<&str, ApiError> {
    if hotline_evidence::is_safe_id(id) {
        Ok(id)
    } else {
        Err(ApiError::bad_request(
            "bad call id: 1-128 of letters, digits, '_', '-', '.', not starting with '.'",
        ))
    }
}

/// Query of `GET /api/calls` and `GET /api/recordings`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallsQuery {
    from: Option<String>,
    to: Option<String>,
    caller: Option<String>,
    agent: Option<String>,
    queue: Option<String>,
    #[serde(rename = "type")]
    call_type: Option<String>,
    outcome: Option<String>,
    marked: Option<bool>,
    held: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

const OUTCOMES: [&str; 6] = [
    "answered",
    "abandoned",
    "rejected",
    "failed",
    "voicemail",
    "callback",
];

/// A day (`YYYY-MM-DD`, in the center's time zone) or epoch ms; `end` = the
/// end of that day (the next local midnight: 23 or 25 hours away on a
/// daylight-saving change).
pub(crate) fn time_param(cal: &Calendar, key: &str, v: &str, end: bool) -> Result<i64, ApiError> {
    if !v.is_empty() && v.len() <= 15 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{key}: not a time")));
    }
    let d: jiff::civil::Date = v.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{key}: `{}` is not a date (YYYY-MM-DD) nor epoch ms",
            v.chars().take(32).collect::<String>()
        ))
    })?;
    let (start, next) = cal
        .day_bounds(d)
        .map_err(|e| ApiError::bad_request(format!("{key}: {e}")))?;
    Ok(if end { next } else { start })
}

fn short(key: &str, v: &Option<String>) -> Result<(), ApiError> {
    match v {
        Some(s) if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) => {
            Err(ApiError::bad_request(format!(
                "{key}: 1-128 characters without control characters"
            )))
        }
        _ => Ok(()),
    }
}

impl CallsQuery {
    pub(crate) fn filter(self, cal: &Calendar, recorded: bool) -> Result<CdrFilter, ApiError> {
        let from_ms = self
            .from
            .as_deref()
            .map(|v| time_param(cal, "from", v, false))
            .transpose()?;
        let to_ms = self
            .to
            .as_deref()
            .map(|v| time_param(cal, "to", v, true))
            .transpose()?;
        if let (Some(a), Some(b)) = (from_ms, to_ms) {
            if a >= b {
                return Err(ApiError::bad_request("from must be before to"));
            }
            if b - a > MAX_RANGE_DAYS * 86_400_000 {
                return Err(ApiError::bad_request(format!(
                    "the range spans more than {MAX_RANGE_DAYS} days: narrow it"
                )));
            }
        }
        for (k, v) in [
            ("caller", &self.caller),
            ("agent", &self.agent),
            ("queue", &self.queue),
        ] {
            short(k, v)?;
        }
        if let Some(t) = &self.call_type {
            if !CallType::ALL.iter().any(|c| c.as_str() == t) {
                return Err(ApiError::bad_request(format!(
                    "type: one of {}",
                    CallType::names()
                )));
            }
        }
        if let Some(o) = &self.outcome {
            if !OUTCOMES.contains(&o.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "outcome: one of {}",
                    OUTCOMES.join(", ")
                )));
            }
        }
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit: 1-{MAX_PAGE}")));
        }
        let offset = self.offset.unwrap_or(0);
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(ApiError::bad_request(format!("offset: 0-{MAX_OFFSET}")));
        }
        Ok(CdrFilter {
            from_ms,
            to_ms,
            caller: self.caller,
            agent: self.agent,
            queue: self.queue,
            call_type: self.call_type,
            outcome: self.outcome,
            marked: self.marked,
            held: self.held,
            recorded,
            limit,
            offset,
        })
    }
}

/// A query string whose rejection is a JSON 400 like every other error,
/// not axum's plain text.
pub struct JsonQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for JsonQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        query_param(
            <Query<T> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state)
                .await,
        )
        .map(JsonQuery)
    }
}

pub(crate) fn query_param<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))
}

/// A mark as JSON.
pub(crate) fn mark_json(m: &Mark) -> Value {
    json!({
        "id": m.id,
        "kind": m.kind.as_str(),
        "note": m.note,
        "by": m.by,
        "at_ms": m.at_ms,
        "released_ms": m.released_ms,
        "released_by": m.released_by,
        "release_reason": m.release_reason,
    })
}

/// A CDR as JSON, with its marks and hold.
pub(crate) fn cdr_json(c: &Cdr, marks: &[Mark]) -> Value {
    json!({
        "call_id": c.call_id.as_str(),
        "caller": c.caller,
        "caller_name": c.caller_name,
        "dialled": c.dialled,
        "queue": c.queue.as_ref().map(|q| q.as_str()),
        "agent": c.agent.as_ref().map(|a| a.as_str()),
        "type": c.call_type.as_str(),
        "arrived_ms": c.arrived_ms,
        "system_answered_ms": c.system_answered_ms,
        "agent_answered_ms": c.agent_answered_ms,
        "ended_ms": c.ended_ms,
        "wait_ms": c.wait_ms,
        "talk_ms": c.talk_ms,
        "rings": c.rings,
        "outcome": c.outcome.map(|o| o.as_str()),
        "ended_by": c.ended_by,
        "recorded": c.recording_path.is_some(),
        "recording_sha256": c.recording_sha256,
        "end_cause": c.end_cause,
        "marks": marks.iter().map(mark_json).collect::<Vec<_>>(),
        "held": marks.iter().any(|m| m.released_ms.is_none()),
    })
}

pub(crate) async fn page_json(c: &Console, f: &CdrFilter) -> Result<Value, ApiError> {
    let page = c.store().cdr_page(f).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for cdr in &page.items {
        let marks = c.store().marks(cdr.call_id.as_str()).await?;
        items.push(cdr_json(cdr, &marks));
    }
    Ok(json!({
        "total": page.total,
        "limit": f.limit,
        "offset": f.offset,
        "items": items,
    }))
}

/// A page of the call log (`recorded`: only calls with a recording).
pub(crate) async fn cdr_list(
    c: &Console,
    headers: &HeaderMap,
    q: Result<Query<CallsQuery>, QueryRejection>,
    recorded: bool,
) -> Result<Response, ApiError> {
    c.authorize(headers, &Method::GET, Role::Supervisor).await?;
    let f = query_param(q)?.filter(c.calendar(), recorded)?;
    Ok(Json(page_json(c, &f).await?).into_response())
}

async fn calls(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    cdr_list(&c, &headers, q, false).await
}

async fn call(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let id = id.as_str();
    let cid = CallId::from_stored(id);
    let cdr = c.store().cdr(&cid).await?;
    let events = c.store().events_for_call(&cid).await?;
    if cdr.is_none() && events.is_empty() {
        return Err(ApiError::not_found(format!("no call `{id}`")));
    }
    let marks = c.store().marks(id).await?;
    Ok(Json(json!({
        "call_id": id,
        "cdr": cdr.as_ref().map(|x| cdr_json(x, &marks)),
        "events": events,
        "marks": marks.iter().map(mark_json).collect::<Vec<_>>(),
        "held": marks.iter().any(|m| m.released_ms.is_none()),
    }))
    .into_response())
}

fn blacklist_row_json(r: &BlacklistRow) -> Value {
    json!({
        "id": r.id,
        "pattern": r.pattern,
        "action": r.action,
        "reason": r.reason,
        "call_id": r.call_id,
        "by": r.by,
        "at_ms": r.at_ms,
    })
}

async fn blacklist(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let rows = c.store().blacklist().await?;
    let configured: Vec<Value> = c
        .inner
        .blacklist
        .as_ref()
        .map(|b| {
            b.configured()
                .iter()
                .map(|e| {
                    json!({
                        "pattern": e.pattern.to_string(),
                        "action": e.action.to_string(),
                        "reason": e.reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "entries": rows.iter().map(blacklist_row_json).collect::<Vec<_>>(),
        "configured": configured,
    }))
    .into_response())
}

/// Body of `POST /api/blacklist`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlacklistBody {
    pattern: String,
    reason: String,
    call_id: Option<String>,
}

async fn blacklist_add(State(c): State<Console>, req: Request) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Supervisor)
        .await?;
    let body: BlacklistBody = parse_json(&read_body(req, 8192).await?)?;
    let pattern = NumberPattern::parse(&body.pattern)
        .map_err(|e| ApiError::bad_request(format!("pattern: {e}")))?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.len() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "reason: say why (1-500 characters, no control characters)",
        ));
    }
    if let Some(id) = &body.call_id {
        let id = call_id(id)?;
        if c.store().cdr(&CallId::from_stored(id)).await?.is_none() {
            return Err(ApiError::not_found(format!("no call `{id}`")));
        }
    }
    let now = c.now();
    let text = pattern.to_string();
    let id = match c
        .store()
        .add_blacklist(
            &text,
            "reject",
            reason,
            body.call_id.as_deref(),
            &p.name,
            now,
        )
        .await
    {
        Ok(id) => id,
        Err(e) => {
            if c.store()
                .blacklist()
                .await?
                .iter()
                .any(|r| r.pattern == text)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("`{text}` is already on the blacklist"),
                ));
            }
            return Err(e.into());
        }
    };
    c.store()
        .append_audit(
            now,
            &p.audit_name(),
            "blacklist_add",
            body.call_id.as_deref(),
            &format!("{text}: {reason}"),
        )
        .await?;
    if let Err(e) = c.load_blacklist().await {
        tracing::warn!(error = %e, "console: cannot reload the blacklist");
    }
    let row = BlacklistRow {
        id,
        pattern: text,
        action: "reject".into(),
        reason: reason.to_string(),
        call_id: body.call_id,
        by: p.name,
        at_ms: now,
    };
    Ok((StatusCode::CREATED, Json(blacklist_row_json(&row))).into_response())
}

async fn blacklist_remove(
    State(c): State<Console>,
    headers: HeaderMap,
    method: Method,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &method, Role::Supervisor).await?;
    let id = path_param(id)?;
    let Some(row) = c.store().remove_blacklist(id).await? else {
        return Err(ApiError::not_found(format!("no blacklist entry {id}")));
    };
    c.store()
        .append_audit(
            c.now(),
            &p.audit_name(),
            "blacklist_remove",
            row.call_id.as_deref(),
            &row.pattern,
        )
        .await?;
    if let Err(e) = c.load_blacklist().await {
        tracing::warn!(error = %e, "console: cannot reload the blacklist");
    }
    Ok(Json(blacklist_row_json(&row)).into_response())
}

/// Query of `GET /api/audit`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    call_id: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn audit(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Admin).await?;
    let q = query_param(q)?;
    if let Some(id) = &q.call_id {
        call_id(id)?;
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit: 1-1000"));
    }
    let offset = q.offset.unwrap_or(0);
    let all = c.store().audit(q.call_id.as_deref()).await?;
    // newest first
    let items: Vec<Value> = all
        .iter()
        .rev()
        .skip(offset)
        .take(limit)
        .map(|a| {
            json!({
                "id": a.id,
                "at_ms": a.at_ms,
                "who": a.who,
                "action": a.action,
                "call_id": a.call_id,
                "reason": a.reason,
                "hash": a.hash,
            })
        })
        .collect();
    Ok(Json(json!({ "total": all.len(), "items": items })).into_response())
}

async fn audit_verify(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Admin).await?;
    Ok(Json(match c.store().verify_audit().await? {
        Ok(n) => json!({ "ok": true, "entries": n }),
        Err(b) => json!({ "ok": false, "fault": b.to_string() }),
    })
    .into_response())
}
