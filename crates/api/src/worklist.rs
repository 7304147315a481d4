//! Work lists and return-visit campaigns over HTTP: my work list, promises,
//! closing by hand, campaign import/list/progress/export, the visit form,
//! quotas, the weekly summary and 已复电话百分比 (docs/api.md, "Work lists").
//!
//! Roles: an agent (a console user whose name is their extension) sees and
//! works their own items and their queues' shared ones; supervisors, admins
//! and the bearer token see everything, import campaigns and may act for an
//! agent.

pub mod service;
#[cfg(test)]
mod tests;
pub mod text;

use crate::api::{JsonPath, JsonQuery};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{AgentId, CallId, QueueId};
use hotline_store::Role;
use hotline_worklist::csv::{quote, MAX_IMPORT_BYTES};
use hotline_worklist::quota::Period;
use hotline_worklist::{ItemOutcome, Owner, Viewer, VisitOutcome, WorkItem};
use serde::Deserialize;

use crate::routes::Routes;
use crate::{ApiError, Principal};
pub use service::{Figures, ImportReport, Worklist, WorklistConfig, WorklistError};

/// Largest JSON body of these routes, bytes.
const MAX_JSON: usize = 16 * 1024;

/// The state of the work-list routes.
#[derive(Clone)]
pub struct WorklistApi {
    /// The service.
    pub service: Worklist,
    /// Who may call the routes (the listener's one gate).
    pub gate: crate::auth::Gate,
}

impl From<WorklistError> for ApiError {
    fn from(e: WorklistError) -> Self {
        match e {
            WorklistError::NoItem(_) | WorklistError::NoCampaign(_) => ApiError::not_found(e),
            WorklistError::Closed(_) => ApiError::new(StatusCode::CONFLICT, e),
            WorklistError::NotYours(_) => ApiError::forbidden(e),
            WorklistError::NotAVisit(_) | WorklistError::Bad(_) | WorklistError::Visit(_) => {
                ApiError::bad_request(e)
            }
            WorklistError::Import(hotline_worklist::csv::ImportError::TooBig(_)) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e)
            }
            WorklistError::Import(_) => ApiError::bad_request(e),
            WorklistError::Store(s) => s.into(),
        }
    }
}

impl WorklistApi {
    async fn who(
        &self,
        headers: &HeaderMap,
        changes: bool,
        min: Role,
    ) -> Result<Principal, ApiError> {
        self.gate.principal(headers, changes, min).await
    }

    fn viewer(&self, p: &Principal) -> Viewer {
        if p.role >= Role::Supervisor {
            Viewer::Supervisor
        } else {
            self.service.viewer(&AgentId::new(p.name.clone()))
        }
    }

    /// The routes, to merge into the listener.
    pub fn router(self) -> axum::Router {
        routes()
            .into_router()
            .layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES))
            .with_state(self)
    }
}

/// The work-list routes, without state.
pub fn routes() -> Routes<WorklistApi> {
    Routes::new()
        .get("/api/worklist", list)
        .get("/api/worklist/figures", figures)
        .post("/api/worklist/promise", promise)
        .get("/api/worklist/{id}", one)
        .post("/api/worklist/{id}/close", close)
        .get("/api/campaigns", campaigns)
        .post("/api/campaigns/import", import)
        .get("/api/campaigns/{id}", campaign)
        .get("/api/campaigns/{id}/export", export)
        .post("/api/visits", visit)
        .get("/api/visits/quotas", quotas)
        .get("/api/visits/weekly", weekly)
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::auth::parse_json_at_most(body, MAX_JSON)
}

fn text_ok(s: &str, max: usize, what: &str) -> Result<(), ApiError> {
    if s.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{what}: at most {max} characters"
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::bad_request(format!(
            "{what}: no control characters"
        )));
    }
    Ok(())
}

fn item_json(i: &WorkItem, now: i64) -> serde_json::Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("overdue".into(), i.is_overdue(now).into());
    }
    v
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Also closed items.
    #[serde(default)]
    closed: Option<String>,
    /// Closed items created since (instant), default 7 days ago.
    since: Option<String>,
}

fn now_ms(api: &WorklistApi) -> i64 {
    api.service.now_ms()
}

/// `GET /api/worklist`: my work list (agents: their own and their queues'
/// items; supervisors: all), open items oldest first.
async fn list(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonQuery(q): JsonQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, false, Role::Agent).await?;
    let viewer = api.viewer(&p);
    let now = now_ms(&api);
    let closed = match q.closed.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("closed: true or false")),
    };
    let since = match q.since.as_deref() {
        None => now - 7 * 86_400_000,
        Some(s) => api
            .service
            .config()
            .calendar
            .parse_instant(s)
            .map_err(|e| ApiError::bad_request(format!("since: {e}")))?,
    };
    let items = api.service.list(&viewer, closed, since).await?;
    let items: Vec<_> = items.iter().map(|i| item_json(i, now)).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `GET /api/worklist/figures`: open and overdue items, refused dials, and
/// today's 已复电话百分比.
async fn figures(State(api): State<WorklistApi>, headers: HeaderMap) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let now = now_ms(&api);
    let start = api
        .service
        .config()
        .calendar
        .start_of_day(now)
        .unwrap_or(now - 86_400_000);
    let today = api.service.returned(start, now + 1).await?;
    let f = api.service.figures();
    Ok(Json(serde_json::json!({
        "open": f.open,
        "overdue": f.overdue,
        "refused_dials": f.refused_dials,
        "today": today,
    }))
    .into_response())
}

async fn one(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonPath(id): JsonPath<String>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, false, Role::Agent).await?;
    let id = parse_id(&id)?;
    let item = api.service.item(&api.viewer(&p), id).await?;
    Ok(Json(item_json(&item, now_ms(&api))).into_response())
}

fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::bad_request("the id is a positive number"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromiseBody {
    number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    notes: String,
    /// Due by (an instant or a local date-time); default: the deadline from now.
    due: Option<String>,
    /// The call in which it was promised.
    call_id: Option<String>,
    /// Supervisors: the agent who owes the call.
    agent: Option<String>,
    /// Supervisors: the queue that owes it (when no agent).
    queue: Option<String>,
}

/// `POST /api/worklist/promise`: "I'll call you back".
async fn promise(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Agent).await?;
    let b: PromiseBody = json(&body)?;
    text_ok(&b.name, 64, "name")?;
    text_ok(&b.notes, 1000, "notes")?;
    let cfg = api.service.config();
    let owner = if p.role < Role::Supervisor {
        if b.agent.is_some() || b.queue.is_some() {
            return Err(ApiError::forbidden("agents promise for themselves"));
        }
        Owner::Agent(AgentId::new(p.name.clone()))
    } else {
        match (b.agent, b.queue) {
            (Some(a), None) => {
                let a = AgentId::new(a);
                if !cfg.agents.contains(&a) {
                    return Err(ApiError::bad_request("agent: no such agent"));
                }
                Owner::Agent(a)
            }
            (None, Some(q)) => {
                let q = QueueId::new(q);
                if !cfg.queues.contains_key(&q) {
                    return Err(ApiError::bad_request("queue: no such queue"));
                }
                Owner::Queue(q)
            }
            (None, None) => Owner::Queue(cfg.default_queue.clone()),
            (Some(_), Some(_)) => return Err(ApiError::bad_request("agent or queue, not both")),
        }
    };
    let due = match b.due.as_deref() {
        None => None,
        Some(s) => Some(
            cfg.calendar
                .parse_instant(s)
                .map_err(|e| ApiError::bad_request(format!("due: {e}")))?,
        ),
    };
    let call = match b.call_id {
        None => None,
        Some(c)
            if c.len() <= 128
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch)) =>
        {
            Some(CallId::from_stored(c))
        }
        Some(_) => return Err(ApiError::bad_request("call_id: a call id")),
    };
    let item = api
        .service
        .promise(
            owner,
            &b.number,
            &b.name,
            &b.notes,
            due,
            call,
            &format!("api:{}", p.name),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(item_json(&item, now_ms(&api)))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    /// `resolved` or `given_up`.
    outcome: String,
}

/// `POST /api/worklist/{id}/close`: closed by hand.
async fn close(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonPath(id): JsonPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Agent).await?;
    let id = parse_id(&id)?;
    let b: CloseBody = json(&body)?;
    let outcome = ItemOutcome::parse(&b.outcome)
        .filter(|o| matches!(o, ItemOutcome::Resolved | ItemOutcome::GivenUp))
        .ok_or_else(|| ApiError::bad_request("outcome: resolved or given_up"))?;
    let item = api
        .service
        .close(&api.viewer(&p), id, outcome, &p.name)
        .await?;
    Ok(Json(item_json(&item, now_ms(&api))).into_response())
}

/// `GET /api/campaigns`: campaigns with their progress.
async fn campaigns(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let store = api.service.store();
    let mut out = Vec::new();
    for c in store.campaigns().await? {
        let items = store
            .work_items(&hotline_store::ItemFilter {
                campaign: Some(c.id),
                ..Default::default()
            })
            .await?;
        out.push(campaign_json(&c, &items));
    }
    Ok(Json(serde_json::json!({ "campaigns": out })).into_response())
}

fn campaign_json(c: &hotline_store::Campaign, items: &[WorkItem]) -> serde_json::Value {
    let count = |o: ItemOutcome| items.iter().filter(|i| i.outcome == Some(o)).count();
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "queue": c.queue,
        "created_ms": c.created_ms,
        "created_by": c.created_by,
        "members": items.len(),
        "open": items.iter().filter(|i| i.is_open()).count(),
        "reached": count(ItemOutcome::Reached),
        "refused": count(ItemOutcome::Refused),
        "closed_otherwise": count(ItemOutcome::Resolved) + count(ItemOutcome::GivenUp),
        "attempts": items.iter().map(|i| u64::from(i.attempts)).sum::<u64>(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// The campaign (created if new).
    name: String,
    /// The queue that shares its unassigned visits.
    queue: Option<String>,
    /// Due date of lines without one (`YYYY-MM-DD`), default a week from now.
    due: Option<String>,
}

/// `POST /api/campaigns/import?name=...`: the CSV file as the body.
async fn import(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonQuery(q): JsonQuery<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Supervisor).await?;
    if q.name.trim().is_empty() {
        return Err(ApiError::bad_request("name: the campaign's name"));
    }
    text_ok(&q.name, 64, "name")?;
    let cfg = api.service.config();
    if let Some(queue) = &q.queue {
        if !cfg.queues.contains_key(&QueueId::new(queue.clone())) {
            return Err(ApiError::bad_request("queue: no such queue"));
        }
    }
    let due = match q.due.as_deref() {
        None => None,
        Some(d) => {
            let date = hotline_core::calendar::parse_date(d)
                .map_err(|e| ApiError::bad_request(format!("due: {e}")))?;
            Some(
                cfg.calendar
                    .day_bounds(date)
                    .map_err(|e| ApiError::bad_request(format!("due: {e}")))?
                    .1,
            )
        }
    };
    let r = api
        .service
        .import(q.name.trim(), q.queue.as_deref(), &body, due, &p.name)
        .await?;
    Ok(Json(r).into_response())
}

/// `GET /api/campaigns/{id}`: a campaign, its members and its visits.
async fn campaign(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonPath(id): JsonPath<String>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, false, Role::Agent).await?;
    let id = parse_id(&id)?;
    let store = api.service.store();
    let c = store
        .campaign(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    let items = store
        .work_items(&hotline_store::ItemFilter {
            campaign: Some(id),
            ..Default::default()
        })
        .await?;
    let viewer = api.viewer(&p);
    let now = now_ms(&api);
    let mut v = campaign_json(&c, &items);
    let mine: Vec<_> = items
        .iter()
        .filter(|i| i.visible_to(&viewer))
        .map(|i| item_json(i, now))
        .collect();
    let visits: Vec<_> = store
        .campaign_visits(id)
        .await?
        .into_iter()
        .filter(|v| viewer == Viewer::Supervisor || p.name == v.agent.as_str())
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("items".into(), serde_json::json!(mine));
        o.insert("visits".into(), serde_json::json!(visits));
    }
    Ok(Json(v).into_response())
}

/// `GET /api/campaigns/{id}/export`: members and outcomes as CSV.
async fn export(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonPath(id): JsonPath<String>,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Supervisor).await?;
    let id = parse_id(&id)?;
    let store = api.service.store();
    store
        .campaign(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    let items = store
        .work_items(&hotline_store::ItemFilter {
            campaign: Some(id),
            ..Default::default()
        })
        .await?;
    let body = export_csv(&items, &api.service.config().calendar);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"campaign-{id}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The export: the import's columns (so it can be imported again) and the outcome.
pub fn export_csv(items: &[WorkItem], cal: &hotline_core::Calendar) -> String {
    let mut out =
        String::from("number,name,card,notes,due,preferred,agent,outcome,attempts,closed\n");
    for i in items {
        let agent = match &i.new.owner {
            Owner::Agent(a) => a.as_str().to_string(),
            Owner::Queue(_) => String::new(),
        };
        // due is the end of a local day: name that day
        let due = cal
            .date_of(i.new.deadline_ms - 1)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let fields = [
            i.new.number.clone(),
            i.new.name.clone(),
            i.new.card.clone(),
            i.new.notes.clone(),
            due,
            i.new.preferred.clone(),
            agent,
            i.outcome
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
            i.attempts.to_string(),
            i.closed_ms
                .map(|c| cal.format_with_offset(c))
                .unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitBody {
    /// The work item (a return visit).
    item: i64,
    /// `reached`, `not_reached` or `refused`.
    outcome: String,
    #[serde(default)]
    opinions: String,
    /// 1-5.
    satisfaction: Option<i64>,
    /// The call's length when no CDR says it, seconds.
    duration_s: Option<i64>,
    /// The call of the visit (default: the last call made from the item).
    call_id: Option<String>,
    /// Supervisors: the agent who made the visit.
    agent: Option<String>,
}

/// `POST /api/visits`: the visit form.
async fn visit(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Agent).await?;
    let b: VisitBody = json(&body)?;
    let outcome = VisitOutcome::parse(&b.outcome)
        .ok_or_else(|| ApiError::bad_request("outcome: reached, not_reached or refused"))?;
    let agent = match (p.role >= Role::Supervisor, b.agent) {
        (false, Some(_)) => return Err(ApiError::forbidden("agents record their own visits")),
        (false, None) => AgentId::new(p.name.clone()),
        (true, Some(a)) => {
            let a = AgentId::new(a);
            if !api.service.config().agents.contains(&a) {
                return Err(ApiError::bad_request("agent: no such agent"));
            }
            a
        }
        (true, None) if p.session => AgentId::new(p.name.clone()),
        (true, None) => return Err(ApiError::bad_request("agent: who made the visit")),
    };
    if let Some(c) = &b.call_id {
        if c.is_empty()
            || c.len() > 128
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
        {
            return Err(ApiError::bad_request("call_id: a call id"));
        }
    }
    let duration_ms = match b.duration_s {
        None => None,
        Some(s) if (0..=86_400).contains(&s) => Some(s * 1000),
        Some(_) => return Err(ApiError::bad_request("duration_s: 0 to 86400")),
    };
    let viewer = api.viewer(&p);
    let (v, valid) = api
        .service
        .record_visit(
            &viewer,
            &agent,
            b.item,
            outcome,
            &b.opinions,
            b.satisfaction,
            duration_ms,
            b.call_id,
        )
        .await?;
    let mut out = serde_json::to_value(&v).unwrap_or_default();
    if let Some(o) = out.as_object_mut() {
        o.insert("valid".into(), valid.into());
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotaQuery {
    /// `week` (default) or `month`.
    period: Option<String>,
}

/// `GET /api/visits/quotas?period=week|month`: every agent's progress
/// (an agent sees their own).
async fn quotas(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonQuery(q): JsonQuery<QuotaQuery>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, false, Role::Agent).await?;
    let period = match q.period.as_deref() {
        None | Some("week") => Period::Week,
        Some("month") => Period::Month,
        Some(_) => return Err(ApiError::bad_request("period: week or month")),
    };
    let mut rows = api.service.quotas(period).await?;
    if p.role < Role::Supervisor {
        rows.retain(|r| r.agent.as_str() == p.name);
    }
    let quota = api.service.config().quota;
    Ok(
        Json(serde_json::json!({ "period": period.as_str(), "quota": quota, "agents": rows }))
            .into_response(),
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WeeklyQuery {
    /// A day of the week wanted (`YYYY-MM-DD`), default today.
    date: Option<String>,
}

/// `GET /api/visits/weekly?date=YYYY-MM-DD`: the weekly summary (supervisors).
async fn weekly(
    State(api): State<WorklistApi>,
    headers: HeaderMap,
    JsonQuery(q): JsonQuery<WeeklyQuery>,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Supervisor).await?;
    let at = match q.date.as_deref() {
        None => None,
        Some(d) => {
            let date = hotline_core::calendar::parse_date(d)
                .map_err(|e| ApiError::bad_request(format!("date: {e}")))?;
            Some(
                api.service
                    .config()
                    .calendar
                    .day_bounds(date)
                    .map_err(|e| ApiError::bad_request(format!("date: {e}")))?
                    .0,
            )
        }
    };
    Ok(Json(api.service.weekly(at).await?).into_response())
}
