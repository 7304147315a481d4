//! Call notes, complaint cases (first-contact ownership, 首问负责制) and the
//! customer profile: the JSON API under `/api/calls/{id}/notes`,
//! `/api/cases` and `/api/customers/{number}`.
//!
//! Roles: an agent (the console user named like the agent id) writes notes
//! on the calls they took, sees and works the cases they own and the
//! profiles of their customers (numbers they took a call from or own a case
//! of); supervisors and admins see and work everything. Nothing is deleted:
//! a case is closed (the summarise stage), never removed. Every write is in
//! the audit log. A change names the case's `version`; a stale one is a 409.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_cases::{check_short, check_text, DeadlinePolicy, Severity, Stage, TextError};
use hotline_core::{CallId, EventKind};
use hotline_engine::owners::{CaseOwners, Owner};
use hotline_engine::routing::NumberPattern;
use hotline_store::{
    Case, CaseError, CaseFilter, CaseStatus, CaseUpdate, CdrFilter, LinkKind, NewCase, NewNote,
    Note, Role, MAX_CASE_PAGE,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::warn;

use crate::api::{call_id, cdr_json, path_param, query_param, CallPath};
use crate::auth::{parse_json, read_body, Principal};
use crate::case_deadlines::Deadlines;
use crate::routes::Routes;
use crate::{ApiError, Console};

/// Largest body of a note or case request, bytes (a 4,000-byte summary in
/// JSON with escapes fits).
pub const MAX_BODY: usize = 32 * 1024;

/// How the console works cases (`[cases]` in the config).
#[derive(Clone, Debug)]
pub struct CasesConfig {
    /// Reply deadlines per severity and the warning before them.
    pub policy: DeadlinePolicy,
    /// The call-note categories offered and accepted.
    pub categories: Vec<String>,
    /// The engine's VIP numbers (shown on the customer profile).
    pub vip: Vec<NumberPattern>,
    /// Major and crisis complaints go to management at once: the role or
    /// person they are escalated to when opened or raised to that severity.
    pub escalate_serious_to: String,
}

impl Default for CasesConfig {
    fn default() -> Self {
        CasesConfig {
            policy: DeadlinePolicy::default(),
            categories: hotline_cases::DEFAULT_CATEGORIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            vip: Vec::new(),
            escalate_serious_to: "management".into(),
        }
    }
}

/// The console's case desk: its settings, the engine's owner map and the
/// deadline task.
#[derive(Clone, Default)]
pub struct CaseDesk {
    /// Settings.
    pub cfg: CasesConfig,
    /// The engine's number → owner map, refreshed after every change.
    pub owners: Option<CaseOwners>,
    /// The deadline task, if running.
    pub deadlines: Option<Deadlines>,
}

/// Where the console keeps its desk (set once at start).
pub(crate) type DeskCell = OnceLock<Arc<CaseDesk>>;

impl Console {
    /// Gives the console its case desk (settings, owner map, deadline
    /// task) and loads the owner map; call once at start, before serving.
    pub async fn with_cases(self, desk: CaseDesk) -> Result<Console, crate::ConsoleError> {
        if self.inner.cases.set(Arc::new(desk)).is_err() {
            warn!("console: the case desk was set twice; the first one stays");
        }
        self.reload_owners().await?;
        Ok(self)
    }

    pub(crate) fn desk(&self) -> Arc<CaseDesk> {
        self.inner
            .cases
            .get_or_init(|| Arc::new(CaseDesk::default()))
            .clone()
    }

    /// Loads the open cases' owners from the store into the engine's map.
    pub async fn reload_owners(&self) -> Result<usize, crate::ConsoleError> {
        let Some(map) = self.desk().owners.clone() else {
            return Ok(0);
        };
        let rows = self.store().open_case_owners().await?;
        let n = rows.len();
        map.replace(
            rows.into_iter()
                .map(|o| {
                    (
                        o.number,
                        Owner {
                            agent: hotline_core::AgentId::new(o.owner),
                            case_id: o.case_id,
                        },
                    )
                })
                .collect::<HashMap<_, _>>(),
        );
        Ok(n)
    }

    /// A case just opened: a major or crisis complaint goes to management
    /// at once (escalated by `system`, in its timeline); the case as stored.
    async fn opened(&self, c: Case) -> Result<Case, ApiError> {
        let to = self.desk().cfg.escalate_serious_to.clone();
        let c = if c.severity.needs_management() && !to.is_empty() {
            let u = CaseUpdate {
                escalated_to: Some(to),
                ..CaseUpdate::default()
            };
            self.store()
                .update_case(c.id, c.version, &u, "system", self.now())
                .await?
        } else {
            c
        };
        self.case_changed(&c).await;
        Ok(c)
    }

    /// After a case changed: the owner map and the deadline task learn it.
    async fn case_changed(&self, c: &Case) {
        if let Some(d) = &self.desk().deadlines {
            d.changed(c);
        }
        if let Err(e) = self.reload_owners().await {
            warn!(error = %e, "console: cannot reload the case owners");
        }
    }
}

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/api/calls/{id}/notes", notes)
        .post("/api/calls/{id}/notes", note_add)
        .get("/api/cases", cases)
        .post("/api/cases", case_open)
        .get("/api/cases/summary", summary)
        .get("/api/cases/kpis", kpis)
        .get("/api/cases/{id}", case)
        .post("/api/cases/{id}", case_update)
        .post("/api/cases/{id}/stage", case_stage)
        .post("/api/cases/{id}/links", case_link)
        .get("/api/customers/{number}", customer)
}

impl From<TextError> for ApiError {
    fn from(e: TextError) -> Self {
        ApiError::bad_request(e)
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::NotFound(_) => ApiError::not_found(e),
            CaseError::Conflict { .. } | CaseError::Transition(_) => {
                ApiError::new(StatusCode::CONFLICT, e)
            }
            CaseError::Store(s) => s.into(),
        }
    }
}

fn opt_short(what: &'static str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    v.as_deref()
        .map(|s| check_short(what, s).map(str::to_string))
        .transpose()
        .map_err(Into::into)
}

/// A customer's number: 1-64 of digits, letters, `+*#.-_`.
fn number(v: &str) -> Result<&str, ApiError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+*#.-_".contains(&b));
    if ok {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "number: 1-64 of digits, letters and + * # . - _",
        ))
    }
}

fn supervisor(p: &Principal) -> bool {
    p.role >= Role::Supervisor
}

/// What the store knows of a call: its caller's number and the agent who
/// took it (the CDR once it ended, the events while it runs).
struct CallFacts {
    number: String,
    agent: Option<String>,
}

async fn call_facts(c: &Console, id: &str) -> Result<CallFacts, ApiError> {
    let cid = CallId::from_stored(id);
    if let Some(cdr) = c.store().cdr(&cid).await? {
        return Ok(CallFacts {
            number: cdr.caller,
            agent: cdr.agent.map(|a| a.as_str().to_string()),
        });
    }
    let events = c.store().events_for_call(&cid).await?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("no call `{id}`")));
    }
    let mut facts = CallFacts {
        number: String::new(),
        agent: None,
    };
    for e in &events {
        match &e.kind {
            EventKind::Arrived { caller, .. } => facts.number = caller.number.clone(),
            EventKind::AgentAnswered { .. } => {
                facts.agent = e.agent.as_ref().map(|a| a.as_str().to_string())
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// An agent may touch a call only if they took it.
fn may_touch_call(p: &Principal, f: &CallFacts) -> Result<(), ApiError> {
    if supervisor(p) || f.agent.as_deref() == Some(p.name.as_str()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "`{}` did not take this call: only its agent and supervisors may",
            p.name
        )))
    }
}

fn note_json(n: &Note) -> Value {
    json!({
        "id": n.id,
        "call_id": n.note.call_id,
        "number": n.note.number,
        "caller_name": n.note.caller_name,
        "contact": n.note.contact,
        "category": n.note.category,
        "summary": n.note.summary,
        "follow_up": n.note.follow_up,
        "case_id": n.case_id,
        "by": n.note.by,
        "at_ms": n.note.at_ms,
    })
}

fn case_json(c: &Case, now: i64) -> Value {
    json!({
        "id": c.id,
        "number": c.number,
        "customer_name": c.customer_name,
        "call_id": c.call_id,
        "owner": c.owner,
        "severity": c.severity,
        "title": c.title,
        "stage": c.stage,
        "status": if c.is_closed() { "closed" } else { "open" },
        "valid": c.valid,
        "validity_reason": c.validity_reason,
        "deadline_ms": c.deadline_ms,
        "replied_ms": c.replied_ms,
        "overdue": c.overdue_at(now),
        "escalated_to": c.escalated_to,
        "escalated_ms": c.escalated_ms,
        "agent_concerned": c.agent_concerned,
        "closing_summary": c.closing_summary,
        "opened_ms": c.opened_ms,
        "opened_by": c.opened_by,
        "closed_ms": c.closed_ms,
        "version": c.version,
    })
}

async fn audit(c: &Console, p: &Principal, action: &str, call: Option<&str>, reason: &str) {
    if let Err(e) = c
        .store()
        .append_audit(c.now(), &p.audit_name(), action, call, reason)
        .await
    {
        warn!(error = %e, action, "console: cannot write the audit log");
    }
}

// ---------------------------------------------------------------- notes

async fn notes(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let facts = call_facts(&c, &id).await?;
    may_touch_call(&p, &facts)?;
    let notes = c.store().notes_for_call(&id).await?;
    Ok(Json(json!({
        "call_id": id,
        "number": facts.number,
        "agent": facts.agent,
        "categories": c.desk().cfg.categories,
        "notes": notes.iter().map(note_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Body of `POST /api/calls/{id}/notes`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    caller_name: Option<String>,
    contact: Option<String>,
    category: String,
    summary: String,
    follow_up: Option<String>,
    /// Open a case owned by the call's agent with this note (a complaint
    /// whose follow-up is a case).
    #[serde(default)]
    open_case: bool,
    /// The case's severity (general by default).
    severity: Option<String>,
}

async fn note_add(State(c): State<Console>, req: Request) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let id = path_of(&req)?;
    let body: NoteBody = parse_json(&read_body(req, MAX_BODY).await?)?;
    let facts = call_facts(&c, &id).await?;
    may_touch_call(&p, &facts)?;
    let desk = c.desk();
    let category = check_short("category", &body.category)?;
    if !desk.cfg.categories.iter().any(|k| k == category) {
        return Err(ApiError::bad_request(format!(
            "category: one of {}",
            desk.cfg.categories.join(", ")
        )));
    }
    let contact = opt_short("contact", &body.contact)?;
    if let Some(n) = &contact {
        number(n).map_err(|_| {
            ApiError::bad_request("contact: 1-64 of digits, letters and + * # . - _")
        })?;
    }
    let severity = parse_severity(body.severity.as_deref())?;
    let now = c.now();
    let note = NewNote {
        call_id: id.clone(),
        number: facts.number.clone(),
        caller_name: opt_short("caller_name", &body.caller_name)?,
        contact,
        category: category.to_string(),
        summary: check_text("summary", &body.summary)?.to_string(),
        follow_up: body
            .follow_up
            .as_deref()
            .map(|f| check_text("follow_up", f).map(str::to_string))
            .transpose()?,
        by: p.name.clone(),
        at_ms: now,
    };
    let note_id = c.store().add_note(&note).await?;
    audit(&c, &p, "note_add", Some(&id), &note.category).await;
    let mut case = None;
    if body.open_case {
        let owner = facts.agent.clone().unwrap_or_else(|| p.name.clone());
        let title: String = note
            .summary
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(100)
            .collect();
        let opened = c
            .store()
            .open_case(&NewCase {
                number: facts.number.clone(),
                customer_name: note.caller_name.clone(),
                call_id: Some(id.clone()),
                owner,
                severity,
                title,
                note: note.summary.clone(),
                agent_concerned: None,
                deadline_ms: desk.cfg.policy.deadline(severity, now),
                by: p.name.clone(),
                at_ms: now,
            })
            .await?;
        c.store().set_note_case(note_id, opened.id).await?;
        audit(
            &c,
            &p,
            "case_open",
            Some(&id),
            &format!("case {}", opened.id),
        )
        .await;
        let opened = c.opened(opened).await?;
        case = Some(case_json(&opened, now));
    }
    let stored = Note {
        id: note_id,
        case_id: case.as_ref().and_then(|v| v["id"].as_i64()),
        note,
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "note": note_json(&stored), "case": case })),
    )
        .into_response())
}

/// The call id of a `/api/calls/{id}/...` request, checked.
fn path_of(req: &Request) -> Result<String, ApiError> {
    let id = req
        .uri()
        .path()
        .strip_prefix("/api/calls/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    Ok(call_id(id)?.to_string())
}

fn parse_severity(s: Option<&str>) -> Result<Severity, ApiError> {
    s.map(|s| s.parse::<Severity>().map_err(ApiError::bad_request))
        .transpose()
        .map(|s| s.unwrap_or(Severity::General))
}

// ---------------------------------------------------------------- cases

/// Query of `GET /api/cases`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct CasesQuery {
    owner: Option<String>,
    number: Option<String>,
    agent_concerned: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    stage: Option<String>,
    overdue: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn cases(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<CasesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let q = query_param(q)?;
    let now = c.now();
    let mut f = CaseFilter {
        owner: opt_short("owner", &q.owner)?,
        number: q
            .number
            .as_deref()
            .map(number)
            .transpose()?
            .map(str::to_string),
        agent_concerned: opt_short("agent_concerned", &q.agent_concerned)?,
        status: match q.status.as_deref() {
            None => None,
            Some("open") => Some(CaseStatus::Open),
            Some("closed") => Some(CaseStatus::Closed),
            Some(_) => return Err(ApiError::bad_request("status: open or closed")),
        },
        severity: q
            .severity
            .as_deref()
            .map(|s| s.parse::<Severity>().map_err(ApiError::bad_request))
            .transpose()?,
        stage: q
            .stage
            .as_deref()
            .map(|s| s.parse::<Stage>().map_err(ApiError::bad_request))
            .transpose()?,
        overdue_at: q.overdue.filter(|o| *o).map(|_| now),
        from_ms: None,
        to_ms: None,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    };
    if !(1..=MAX_CASE_PAGE).contains(&f.limit) {
        return Err(ApiError::bad_request(format!("limit: 1-{MAX_CASE_PAGE}")));
    }
    if !(0..=crate::api::MAX_OFFSET).contains(&f.offset) {
        return Err(ApiError::bad_request(format!(
            "offset: 0-{}",
            crate::api::MAX_OFFSET
        )));
    }
    if !supervisor(&p) {
        match &f.owner {
            Some(o) if *o != p.name => {
                return Err(ApiError::forbidden("agents see their own cases only"))
            }
            _ => f.owner = Some(p.name.clone()),
        }
    }
    let page = c.store().case_page(&f).await?;
    Ok(Json(json!({
        "total": page.total,
        "limit": f.limit,
        "offset": f.offset,
        "items": page.items.iter().map(|x| case_json(x, now)).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Body of `POST /api/cases`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    call_id: Option<String>,
    number: Option<String>,
    customer_name: Option<String>,
    owner: Option<String>,
    severity: Option<String>,
    title: String,
    note: String,
    agent_concerned: Option<String>,
}

async fn case_open(State(c): State<Console>, req: Request) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let b: OpenBody = parse_json(&read_body(req, MAX_BODY).await?)?;
    let severity = parse_severity(b.severity.as_deref())?;
    let title = check_short("title", &b.title)?.to_string();
    let note = check_text("note", &b.note)?.to_string();
    let (num, from_call_owner) = match &b.call_id {
        Some(id) => {
            let id = call_id(id)?;
            let facts = call_facts(&c, id).await?;
            may_touch_call(&p, &facts)?;
            (facts.number, facts.agent)
        }
        None => match &b.number {
            Some(n) => (number(n)?.to_string(), None),
            None => return Err(ApiError::bad_request("give the call_id or the number")),
        },
    };
    if num.is_empty() {
        return Err(ApiError::bad_request("the call has no caller number"));
    }
    // First-contact ownership: the agent who took the call owns the case.
    let owner = match (opt_short("owner", &b.owner)?, from_call_owner) {
        (Some(o), _) if supervisor(&p) => o,
        (Some(o), _) if o != p.name => {
            return Err(ApiError::forbidden(
                "an agent opens cases they own: only supervisors name another owner",
            ))
        }
        (_, Some(a)) => a,
        (Some(o), None) => o,
        (None, None) => p.name.clone(),
    };
    let now = c.now();
    let opened = c
        .store()
        .open_case(&NewCase {
            number: num,
            customer_name: opt_short("customer_name", &b.customer_name)?,
            call_id: b.call_id.clone(),
            owner,
            severity,
            title,
            note,
            agent_concerned: opt_short("agent_concerned", &b.agent_concerned)?,
            deadline_ms: c.desk().cfg.policy.deadline(severity, now),
            by: p.name.clone(),
            at_ms: now,
        })
        .await?;
    audit(
        &c,
        &p,
        "case_open",
        b.call_id.as_deref(),
        &format!(
            "case {} {} owner {}",
            opened.id, opened.severity, opened.owner
        ),
    )
    .await;
    let opened = c.opened(opened).await?;
    Ok((StatusCode::CREATED, Json(case_json(&opened, now))).into_response())
}

fn case_id(p: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let s = path_param(p)?;
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("case id: a positive number"))
}

/// The case, if `p` may see it (agents: their own).
async fn visible_case(c: &Console, p: &Principal, id: i64) -> Result<Case, ApiError> {
    let case = c
        .store()
        .case(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no case {id}")))?;
    if supervisor(p) || case.owner == p.name {
        Ok(case)
    } else {
        Err(ApiError::forbidden(format!(
            "case {id} is owned by someone else: agents see their own cases only"
        )))
    }
}

async fn case(
    State(c): State<Console>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let id = case_id(id)?;
    let case = visible_case(&c, &p, id).await?;
    let steps = c.store().case_steps(id).await?;
    let links = c.store().case_links(id).await?;
    let mut calls = Vec::new();
    for l in &links {
        if matches!(l.kind, LinkKind::Call | LinkKind::Recording) {
            if let Some(cdr) = c.store().cdr(&CallId::from_stored(&l.target)).await? {
                let marks = c.store().marks(&l.target).await?;
                calls.push(cdr_json(&cdr, &marks));
            }
        }
    }
    let notes = match &case.call_id {
        Some(call) => c.store().notes_for_call(call).await?,
        None => Vec::new(),
    };
    let mut v = case_json(&case, c.now());
    v["steps"] = json!(steps
        .iter()
        .map(|s| json!({"id": s.id, "at_ms": s.at_ms, "by": s.by, "action": s.action, "note": s.note}))
        .collect::<Vec<_>>());
    v["links"] = json!(links
        .iter()
        .map(|l| json!({"kind": l.kind.as_str(), "target": l.target, "by": l.by, "at_ms": l.at_ms}))
        .collect::<Vec<_>>());
    v["calls"] = json!(calls);
    v["notes"] = json!(notes.iter().map(note_json).collect::<Vec<_>>());
    Ok(Json(v).into_response())
}

/// Body of `POST /api/cases/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    version: i64,
    severity: Option<String>,
    title: Option<String>,
    valid: Option<bool>,
    validity_reason: Option<String>,
    escalate_to: Option<String>,
    agent_concerned: Option<String>,
}

async fn case_update(
    State(c): State<Console>,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let id = case_id(id)?;
    let b: UpdateBody = parse_json(&read_body(req, MAX_BODY).await?)?;
    let case = visible_case(&c, &p, id).await?;
    let severity = b
        .severity
        .as_deref()
        .map(|s| s.parse::<Severity>().map_err(ApiError::bad_request))
        .transpose()?;
    let judgement = match (b.valid, &b.validity_reason) {
        (Some(v), Some(r)) => Some((v, check_short("validity_reason", r)?.to_string())),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "validity_reason: say why the complaint is judged so",
            ))
        }
        (None, Some(_)) => return Err(ApiError::bad_request("validity_reason needs valid")),
        (None, None) => None,
    };
    let mut u = CaseUpdate {
        deadline_ms: severity
            .filter(|s| *s != case.severity)
            .map(|s| c.desk().cfg.policy.deadline(s, case.opened_ms)),
        severity,
        title: opt_short("title", &b.title)?,
        judgement,
        escalated_to: opt_short("escalate_to", &b.escalate_to)?,
        agent_concerned: opt_short("agent_concerned", &b.agent_concerned)?,
    };
    // raised to major or crisis: management is told at once
    let to = &c.desk().cfg.escalate_serious_to;
    if u.severity.is_some_and(Severity::needs_management)
        && !case.severity.needs_management()
        && case.escalated_to.is_none()
        && u.escalated_to.is_none()
        && !to.is_empty()
    {
        u.escalated_to = Some(to.clone());
    }
    if u.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: severity, title, valid + validity_reason, escalate_to or agent_concerned",
        ));
    }
    let now = c.now();
    let after = c
        .store()
        .update_case(id, b.version, &u, &p.name, now)
        .await?;
    audit(
        &c,
        &p,
        "case_update",
        case.call_id.as_deref(),
        &format!("case {id} version {}", after.version),
    )
    .await;
    c.case_changed(&after).await;
    Ok(Json(case_json(&after, now)).into_response())
}

/// Body of `POST /api/cases/{id}/stage`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageBody {
    version: i64,
    stage: String,
    note: String,
}

async fn case_stage(
    State(c): State<Console>,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let id = case_id(id)?;
    let b: StageBody = parse_json(&read_body(req, MAX_BODY).await?)?;
    let stage: Stage = b.stage.parse().map_err(ApiError::bad_request)?;
    let note = check_text("note", &b.note)?;
    let case = visible_case(&c, &p, id).await?;
    let now = c.now();
    let after = c
        .store()
        .advance_case(id, b.version, stage, note, &p.name, now)
        .await?;
    audit(
        &c,
        &p,
        "case_stage",
        case.call_id.as_deref(),
        &format!("case {id} {stage}"),
    )
    .await;
    c.case_changed(&after).await;
    Ok(Json(case_json(&after, now)).into_response())
}

/// Body of `POST /api/cases/{id}/links`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    kind: String,
    call_id: String,
    mark_id: Option<i64>,
}

async fn case_link(
    State(c): State<Console>,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let id = case_id(id)?;
    let b: LinkBody = parse_json(&read_body(req, 4096).await?)?;
    let kind = LinkKind::parse(&b.kind)
        .ok_or_else(|| ApiError::bad_request("kind: call, recording or mark"))?;
    let call = call_id(&b.call_id)?.to_string();
    visible_case(&c, &p, id).await?;
    let cdr = c.store().cdr(&CallId::from_stored(&call)).await?;
    let target = match kind {
        LinkKind::Call => {
            if cdr.is_none()
                && c.store()
                    .events_for_call(&CallId::from_stored(&call))
                    .await?
                    .is_empty()
            {
                return Err(ApiError::not_found(format!("no call `{call}`")));
            }
            call.clone()
        }
        LinkKind::Recording => match cdr {
            Some(x) if x.recording_path.is_some() => call.clone(),
            Some(_) => {
                return Err(ApiError::not_found(format!(
                    "call `{call}` was not recorded"
                )))
            }
            None => return Err(ApiError::not_found(format!("no call `{call}`"))),
        },
        LinkKind::Mark => {
            let m = b
                .mark_id
                .ok_or_else(|| ApiError::bad_request("mark_id: the evidence mark's id"))?;
            if !c.store().marks(&call).await?.iter().any(|x| x.id == m) {
                return Err(ApiError::not_found(format!("no mark {m} on call `{call}`")));
            }
            m.to_string()
        }
    };
    if !supervisor(&p) && kind != LinkKind::Call {
        // recordings and marks are the playback level's
        return Err(ApiError::forbidden(
            "linking recordings and evidence marks needs the supervisor role",
        ));
    }
    let added = c
        .store()
        .link_case(id, kind, &target, &p.name, c.now())
        .await?;
    if added {
        audit(
            &c,
            &p,
            "case_link",
            Some(&call),
            &format!("case {id} {} {target}", kind.as_str()),
        )
        .await;
    }
    Ok((
        if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({"case_id": id, "kind": kind.as_str(), "target": target, "added": added})),
    )
        .into_response())
}

async fn summary(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let now = c.now();
    let owner = (!supervisor(&p)).then(|| p.name.clone());
    let count = |status, overdue_at| {
        let f = CaseFilter {
            owner: owner.clone(),
            status,
            overdue_at,
            limit: 1,
            ..CaseFilter::default()
        };
        let store = c.store().clone();
        async move { store.case_page(&f).await.map(|x| x.total) }
    };
    let open = count(Some(CaseStatus::Open), None).await?;
    let overdue = count(Some(CaseStatus::Open), Some(now)).await?;
    let warn = c.desk().cfg.policy.warn_before_ms;
    let due_soon = count(Some(CaseStatus::Open), Some(now.saturating_add(warn))).await? - overdue;
    Ok(Json(json!({
        "open": open,
        "overdue": overdue,
        "due_soon": due_soon,
        "watched": c.desk().deadlines.as_ref().map(Deadlines::watched),
        "at_ms": now,
    }))
    .into_response())
}

/// Query of `GET /api/cases/kpis`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct KpiQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn kpis(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let q = query_param(q)?;
    let now = c.now();
    let to = q.to.unwrap_or(now + 1);
    let from = q.from.unwrap_or(to - 30 * 86_400_000);
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    if to - from > crate::api::MAX_RANGE_DAYS * 86_400_000 {
        return Err(ApiError::bad_request(format!(
            "the range spans more than {} days: narrow it",
            crate::api::MAX_RANGE_DAYS
        )));
    }
    let rows = c.store().cases_with_repeats(from, to, now).await?;
    let facts: Vec<hotline_metrics::cases::CaseFacts> = rows
        .iter()
        .map(|r| hotline_metrics::cases::CaseFacts {
            owner: r.case.owner.clone(),
            severity: r.case.severity.as_str().to_string(),
            agent_concerned: r.case.agent_concerned.clone(),
            valid: r.case.valid,
            opened_ms: r.case.opened_ms,
            deadline_ms: r.case.deadline_ms,
            replied_ms: r.case.replied_ms,
            closed_ms: r.case.closed_ms,
            repeat_calls: r.repeat_calls,
        })
        .collect();
    let k = hotline_metrics::cases::CaseKpis::fold(&facts, now);
    Ok(Json(json!({ "from_ms": from, "to_ms": to, "kpis": k })).into_response())
}

// ---------------------------------------------------------------- customer

/// The customer's name: from their newest note, else a case, else a call
/// record.
fn customer_name(notes: &[Note], cases: &[Case], calls: &[hotline_core::Cdr]) -> Option<String> {
    notes
        .iter()
        .find_map(|x| x.note.caller_name.clone())
        .or_else(|| cases.iter().find_map(|k| k.customer_name.clone()))
        .or_else(|| calls.iter().find_map(|x| x.caller_name.clone()))
}

/// The run-time blacklist entry matching `number` now, as JSON.
fn blacklist_entry(c: &Console, number: &str) -> Option<Value> {
    c.inner
        .blacklist
        .as_ref()
        .and_then(|b| b.lookup(number))
        .map(|e| json!({"pattern": e.pattern.to_string(), "reason": e.reason}))
}

/// Whether `number` is a VIP's (`hotline.vip`).
fn is_vip(c: &Console, number: &str) -> bool {
    c.desk().cfg.vip.iter().any(|v| v.matches(number))
}

/// How many of a customer's open cases the desk card lists.
const CARD_CASES: usize = 5;

/// The customer's card at an agent's desk (see [`crate::desk`]): who they
/// are (name, VIP, blacklist entry), their open complaint cases with the
/// owner, their last call and last note, and how many calls they made.
pub(crate) async fn customer_card(c: &Console, number: &str) -> Result<Value, ApiError> {
    let calls = c
        .store()
        .cdr_page(&CdrFilter {
            caller: Some(number.to_string()),
            limit: 1,
            ..CdrFilter::default()
        })
        .await?;
    let cases = c.store().cases_for_number(number, 100).await?;
    let notes = c.store().notes_for_number(number, 1).await?;
    let now = c.now();
    let open: Vec<&Case> = cases.iter().filter(|k| !k.is_closed()).collect();
    let name = customer_name(&notes, &cases, &calls.items);
    let blacklist = blacklist_entry(c, number);
    let last_call = calls.items.first().map(|x| {
        json!({
            "call_id": x.call_id.as_str(),
            "arrived_ms": x.arrived_ms,
            "agent": x.agent.as_ref().map(|a| a.as_str()),
            "call_type": x.call_type,
            "outcome": x.outcome,
        })
    });
    Ok(json!({
        "number": number,
        "name": name,
        "vip": is_vip(c, number),
        "blacklist": blacklist,
        "calls_total": calls.total,
        "last_call": last_call,
        "last_note": notes.first().map(note_json),
        "open_cases": open.len(),
        "cases": open
            .iter()
            .take(CARD_CASES)
            .map(|k| json!({
                "id": k.id,
                "title": k.title,
                "severity": k.severity,
                "stage": k.stage,
                "owner": k.owner,
                "deadline_ms": k.deadline_ms,
                "overdue": k.overdue_at(now),
            }))
            .collect::<Vec<_>>(),
    }))
}

async fn customer(
    State(c): State<Console>,
    headers: HeaderMap,
    n: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = c.authorize(&headers, &Method::GET, Role::Agent).await?;
    let n = path_param(n)?;
    let num = number(&n)?.to_string();
    let calls = c
        .store()
        .cdr_page(&CdrFilter {
            caller: Some(num.clone()),
            limit: 50,
            ..CdrFilter::default()
        })
        .await?;
    let cases = c.store().cases_for_number(&num, 100).await?;
    if !supervisor(&p)
        && !cases.iter().any(|k| k.owner == p.name)
        && !calls
            .items
            .iter()
            .any(|x| x.agent.as_ref().is_some_and(|a| a.as_str() == p.name))
    {
        return Err(ApiError::forbidden(
            "agents see the customers they took a call from or own a case of",
        ));
    }
    let notes = c.store().notes_for_number(&num, 100).await?;
    let work_items = c
        .store()
        .work_items(&hotline_store::ItemFilter {
            number: Some(num.clone()),
            limit: 100,
            ..hotline_store::ItemFilter::default()
        })
        .await?;
    let now = c.now();
    let mut call_items = Vec::with_capacity(calls.items.len());
    for cdr in &calls.items {
        let marks = c.store().marks(cdr.call_id.as_str()).await?;
        call_items.push(cdr_json(cdr, &marks));
    }
    let recordings: Vec<&str> = calls
        .items
        .iter()
        .filter(|x| x.recording_path.is_some())
        .map(|x| x.call_id.as_str())
        .collect();
    // the language the caller chose in the IVR on their last call, if any
    let mut language = None;
    if let Some(last) = calls.items.first() {
        for e in c.store().events_for_call(&last.call_id).await? {
            if let EventKind::IvrChoice {
                language: Some(l), ..
            } = e.kind
            {
                language = Some(l);
            }
        }
    }
    let blacklist = blacklist_entry(&c, &num);
    let vip = is_vip(&c, &num);
    let name = customer_name(&notes, &cases, &calls.items);
    audit(&c, &p, "customer_view", None, &num).await;
    Ok(Json(json!({
        "number": num,
        "name": name,
        "vip": vip,
        "language": language,
        "blacklist": blacklist,
        "calls_total": calls.total,
        "calls": call_items,
        "recordings": recordings,
        "notes": notes.iter().map(note_json).collect::<Vec<_>>(),
        "open_cases": cases.iter().filter(|k| !k.is_closed()).count(),
        "cases": cases.iter().map(|k| case_json(k, now)).collect::<Vec<_>>(),
        // call-backs, promises and return visits owed to this number
        "work_items": work_items
            .iter()
            .map(|i| json!({
                "id": i.id,
                "kind": i.new.kind,
                "owner": i.new.owner,
                "deadline_ms": i.new.deadline_ms,
                "overdue": i.is_overdue(now),
                "outcome": i.outcome,
                "closed_ms": i.closed_ms,
            }))
            .collect::<Vec<_>>(),
    }))
    .into_response())
}
