//! Quality scoring (监听分值): score forms, a reviewer's score of a recorded
//! call with timestamped comments, averages per agent and team over a period,
//! the calibration view (two reviewers of one call), and the agents'
//! employment dates behind the turnover figure. Supervisors and admins
//! score; an agent sees only the scores of their own calls (the scores whose
//! agent is their user name).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::CallId;
use hotline_metrics::kpi::Snapshot;
use hotline_store::quality::{check_comments, NewScore, QualityComment, ScoreFilter};
use hotline_store::{Role, Store, StoreError};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

use crate::api::{path_param, query_param, time_param, CallPath};
use crate::auth::{parse_json, read_body};
use crate::routes::Routes;
use crate::{ApiError, Console};

/// The turnover of a window without a start ("since start") is over this
/// many days up to now.
pub const TURNOVER_SINCE_START_DAYS: i64 = 365;

/// The widest period of the averages and the calibration view, days.
pub const MAX_PERIOD_DAYS: i64 = 366;

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/api/quality/forms", forms)
        .get("/api/calls/{id}/scores", call_scores)
        .post("/api/calls/{id}/scores", score_call)
        .get("/api/quality/scores", scores)
        .get("/api/quality/averages", averages)
        .get("/api/quality/calibration", calibration)
        .post("/api/users/{name}/employment", employment)
}

/// `GET /api/quality/forms`: the score forms of the config.
async fn forms(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Agent).await?;
    Ok(Json(json!({
        "forms": c.inner.cfg.quality_forms,
        "max_rating": hotline_store::quality::MAX_RATING,
    }))
    .into_response())
}

/// `GET /api/calls/{id}/scores`: every reviewer's score of a call
/// (supervisors); an agent gets the scores of their own call only.
async fn call_scores(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let mut scores = c.store().quality_scores_of_call(&id).await?;
    if p.role < Role::Supervisor {
        scores.retain(|s| s.agent == p.name);
    }
    Ok(Json(json!({ "call_id": id, "scores": scores })).into_response())
}

/// The body of `POST /api/calls/{id}/scores`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ScoreBody {
    form: String,
    ratings: BTreeMap<String, u8>,
    #[serde(default)]
    comments: Vec<QualityComment>,
}

/// `POST /api/calls/{id}/scores`: the reviewer's score of a recorded call
/// (replaces their earlier one). Supervisors and admins.
async fn score_call(
    State(c): State<Console>,
    CallPath(id): CallPath,
    req: Request,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Supervisor)
        .await?;
    let body: ScoreBody = parse_json(&read_body(req, 64 * 1024).await?)?;
    let form = c
        .inner
        .cfg
        .quality_forms
        .iter()
        .find(|f| f.id == body.form)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "form: no score form `{}`",
                body.form.chars().take(64).collect::<String>()
            ))
        })?;
    let total = form
        .total(&body.ratings)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    check_comments(&body.comments).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cdr = c
        .store()
        .cdr(&CallId::from_stored(&id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no call `{id}`")))?;
    if cdr.recording_path.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("call `{id}` has no recording to score"),
        ));
    }
    let Some(agent) = cdr.agent.as_ref() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("no agent took call `{id}`"),
        ));
    };
    let now = c.now();
    let score = NewScore {
        call_id: id.clone(),
        agent: agent.as_str().to_string(),
        queue: cdr.queue.as_ref().map(|q| q.as_str().to_string()),
        call_arrived_ms: cdr.arrived_ms,
        form: form.id.clone(),
        reviewer: p.name.clone(),
        ratings: body.ratings,
        total,
        comments: body.comments,
        at_ms: now,
    };
    let score_id = c.store().put_quality_score(&score).await?;
    c.store()
        .append_audit(
            now,
            &p.name,
            "quality_score",
            Some(&id),
            &format!("{total:.2} on form {}", form.id),
        )
        .await?;
    tracing::info!(call = %id, reviewer = %p.name, total, "call scored");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": score_id, "call_id": id, "total": (total * 100.0).round() / 100.0 })),
    )
        .into_response())
}

/// Query of the period endpoints.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    agent: Option<String>,
    queue: Option<String>,
    limit: Option<i64>,
}

impl PeriodQuery {
    /// The period `[from, to)`: days (in the center's time zone) or epoch
    /// ms; default the last 30 days.
    fn period(&self, cal: &hotline_core::Calendar, now: i64) -> Result<(i64, i64), ApiError> {
        let to = match &self.to {
            Some(v) => time_param(cal, "to", v, true)?,
            None => now.saturating_add(1),
        };
        let from = match &self.from {
            Some(v) => time_param(cal, "from", v, false)?,
            None => to.saturating_sub(30 * 86_400_000),
        };
        if from >= to {
            return Err(ApiError::bad_request("from must be before to"));
        }
        if to.saturating_sub(from) > MAX_PERIOD_DAYS * 86_400_000 {
            return Err(ApiError::bad_request(format!(
                "the period spans more than {MAX_PERIOD_DAYS} days: narrow it"
            )));
        }
        Ok((from, to))
    }
}

fn name_param(key: &str, v: &Option<String>) -> Result<(), ApiError> {
    match v {
        Some(s) if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) => {
            Err(ApiError::bad_request(format!(
                "{key}: 1-128 characters without control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// `GET /api/quality/scores?from&to&agent&queue&limit`: the scores of the
/// calls of a period, newest first; an agent gets only their own.
async fn scores(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let q = query_param(q)?;
    let (from, to) = q.period(c.calendar(), c.now())?;
    name_param("agent", &q.agent)?;
    name_param("queue", &q.queue)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit: 1-1000"));
    }
    let agent = if p.role < Role::Supervisor {
        Some(p.name.clone())
    } else {
        q.agent.clone()
    };
    let list = c
        .store()
        .quality_scores(&ScoreFilter {
            agent,
            queue: q.queue.clone(),
            from_ms: Some(from),
            to_ms: Some(to),
            limit,
        })
        .await?;
    Ok(Json(json!({ "from_ms": from, "to_ms": to, "scores": list })).into_response())
}

/// `GET /api/quality/averages?from&to`: 监听分值 per agent, per team and
/// overall; an agent gets their own average only.
async fn averages(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let q = query_param(q)?;
    if q.agent.is_some() || q.queue.is_some() || q.limit.is_some() {
        return Err(ApiError::bad_request("averages take from and to only"));
    }
    let (from, to) = q.period(c.calendar(), c.now())?;
    let mut avg = c.store().quality_averages(from, to).await?;
    if p.role < Role::Supervisor {
        let mine = avg.agents.remove(&p.name).unwrap_or_default();
        return Ok(Json(json!({
            "from_ms": from, "to_ms": to,
            "agents": { p.name.clone(): mine },
        }))
        .into_response());
    }
    Ok(Json(json!({
        "from_ms": from, "to_ms": to,
        "overall": avg.overall, "agents": avg.agents, "teams": avg.teams,
    }))
    .into_response())
}

/// `GET /api/quality/calibration?from&to`: calls scored by two reviewers
/// or more, side by side, the widest disagreement first. Supervisors.
async fn calibration(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let q = query_param(q)?;
    if q.agent.is_some() || q.queue.is_some() || q.limit.is_some() {
        return Err(ApiError::bad_request("calibration takes from and to only"));
    }
    let (from, to) = q.period(c.calendar(), c.now())?;
    let calls = c.store().quality_calibration(from, to).await?;
    Ok(Json(json!({ "from_ms": from, "to_ms": to, "calls": calls })).into_response())
}

/// The body of `POST /api/users/{name}/employment`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct EmploymentBody {
    started_ms: Option<i64>,
    ended_ms: Option<i64>,
}

/// `POST /api/users/{name}/employment`: when a user started and left (for
/// agent turnover). Admins.
async fn employment(
    State(c): State<Console>,
    name: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Admin)
        .await?;
    let name = path_param(name)?;
    name_param("name", &Some(name.clone()))?;
    let body: EmploymentBody = parse_json(&read_body(req, 1024).await?)?;
    // 1970 to 2200: a date typed in seconds or with a digit too many is refused
    let sane = |v: Option<i64>| v.is_none_or(|t| (0..=7_258_118_400_000).contains(&t));
    if !sane(body.started_ms) || !sane(body.ended_ms) {
        return Err(ApiError::bad_request(
            "started_ms, ended_ms: epoch ms from 1970 to 2200",
        ));
    }
    if let (Some(s), Some(e)) = (body.started_ms, body.ended_ms) {
        if e < s {
            return Err(ApiError::bad_request("ended_ms is before started_ms"));
        }
    }
    if !c
        .store()
        .set_employment(&name, body.started_ms, body.ended_ms)
        .await?
    {
        return Err(ApiError::not_found(format!("no user `{name}`")));
    }
    c.store()
        .append_audit(
            c.now(),
            &p.name,
            "employment",
            None,
            &format!("{name}: {:?} to {:?}", body.started_ms, body.ended_ms),
        )
        .await?;
    Ok(
        Json(json!({ "name": name, "started_ms": body.started_ms, "ended_ms": body.ended_ms }))
            .into_response(),
    )
}

/// Fills the figures that come from the store into a snapshot: the
/// monitoring score (center, queues = teams, agents) of the calls of the
/// snapshot's window (`from_ms`, or since the epoch, to `at_ms`) and the
/// agent turnover of the window (without `from_ms`: of the last
/// [`TURNOVER_SINCE_START_DAYS`] days, the annual turnover).
pub async fn fill_snapshot(store: &Store, s: &mut Snapshot) -> Result<(), StoreError> {
    let from = s.from_ms.unwrap_or(0);
    let to = s.at_ms;
    if from >= to {
        return Ok(());
    }
    let avg = store.quality_averages(from, to).await?;
    s.center.qa_score = avg.overall.mean;
    for (q, f) in s.queues.iter_mut() {
        f.qa_score = avg.teams.get(q).and_then(|a| a.mean);
    }
    for (a, v) in &avg.agents {
        if let Some(f) = s.agents.get_mut(a) {
            f.qa_score = v.mean;
        }
    }
    let since = s
        .from_ms
        .unwrap_or(to.saturating_sub(TURNOVER_SINCE_START_DAYS * 86_400_000));
    s.center.agent_turnover = store.agent_turnover(since, to).await?;
    Ok(())
}
