//! The duty floor over HTTP (docs/api.md, "Duty floor"): the roster of a
//! date and its changes (one, or a CSV file of them), attendance for a
//! period, who should be on the floor and who is (the wallboard), and the
//! handovers (prefill, write, acknowledge, list). A task raises
//! `handover_missing` for a shift that ended without one.
//!
//! Roles: every logged-in user reads; supervisors (and the bearer token)
//! change the roster; an agent writes the handover of a shift they are
//! rostered on and acknowledges one as the incoming shift; supervisors may
//! do both for anyone. Every write is in the audit log.

use crate::api::JsonPath;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{AgentId, Calendar, CallEvent, Clock, EventKind, Shift};
use hotline_duty::handover::{DueItem, HandoverItem, OpenCase, MAX_TEXT};
use hotline_duty::{Duty, Roster, RosterChange, RosterError};
use hotline_engine::control::AgentControl;
use hotline_engine::duty::DutyBoard;
use hotline_engine::role::RoleWatch;
use hotline_store::{Handover, NewHandover, Role, Store};
use serde::Deserialize;
use tracing::{info, warn};

use crate::routes::Routes;
use crate::{ApiError, Principal};

/// Largest JSON body of these routes, bytes.
const MAX_JSON: usize = 32 * 1024;
/// Largest CSV import, bytes.
pub const MAX_CSV: usize = 512 * 1024;
/// Longest period of one attendance query, days.
const MAX_DAYS: i64 = 92;
const DAY_MS: i64 = 86_400_000;

/// Where the task's events go (the event log and the live stream).
pub type Publish = Arc<dyn Fn(CallEvent) + Send + Sync>;

/// The state of the duty routes.
#[derive(Clone)]
pub struct DutyApi {
    /// The roster (shared with the engine) and the rules.
    pub board: DutyBoard,
    /// The base roster (config pattern, no changes), to rebuild from.
    pub base: Arc<Roster>,
    /// The store.
    pub store: Store,
    /// The engine's agents (who is on the floor).
    pub agents: AgentControl,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// A shift's handover is missing this long after its end, ms.
    pub handover_grace_ms: i64,
}

impl From<RosterError> for ApiError {
    fn from(e: RosterError) -> Self {
        match e {
            RosterError::Overlap { .. } => ApiError::new(StatusCode::CONFLICT, e),
            _ => ApiError::bad_request(e),
        }
    }
}

/// The state of the duty routes: the duty floor and the listener's gate.
#[derive(Clone)]
pub struct DutyRoutes {
    /// The duty floor.
    pub duty: DutyApi,
    /// Who may call the routes.
    pub gate: crate::auth::Gate,
}

impl std::ops::Deref for DutyRoutes {
    type Target = DutyApi;

    fn deref(&self) -> &DutyApi {
        &self.duty
    }
}

impl DutyRoutes {
    async fn who(
        &self,
        headers: &HeaderMap,
        changes: bool,
        min: Role,
    ) -> Result<Principal, ApiError> {
        self.gate.principal(headers, changes, min).await
    }
}

impl DutyApi {
    fn cal(&self) -> &Calendar {
        self.board.calendar()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Loads the stored roster changes onto the configured pattern and puts
    /// the result on the board; a stored change that no longer fits (the
    /// config changed) is skipped with a warning. The number applied.
    pub async fn load(&self) -> Result<usize, hotline_store::StoreError> {
        let (roster, applied) = load_roster(&self.store, &self.base, self.cal()).await?;
        self.board.replace(roster);
        Ok(applied)
    }

    /// The routes, to merge into the listener, behind its `gate`.
    pub fn router(self, gate: crate::auth::Gate) -> axum::Router {
        routes()
            .into_router()
            .layer(axum::extract::DefaultBodyLimit::max(MAX_CSV))
            .with_state(DutyRoutes { duty: self, gate })
    }

    async fn audit(&self, p: &Principal, action: &str, reason: &str) {
        if let Err(e) = self
            .store
            .append_audit(self.now(), &p.audit_name(), action, None, reason)
            .await
        {
            warn!(error = %e, action, "duty: cannot write the audit log");
        }
    }

    /// Looks every minute for shifts that ended more than the grace ago
    /// without a handover (with someone rostered on them) and publishes
    /// `handover_missing` once per shift occurrence. In the HA pair only
    /// the active node (`role`) looks, and it looks at once on becoming
    /// active: the shared mark that makes the alarm once across nodes is
    /// never taken by a standby (whose event would be dropped), and a shift
    /// that ended while no node was active is raised by the new one.
    pub fn spawn_handover_watch(&self, publish: Publish, mut role: RoleWatch) {
        let api = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = role.changed() => {}
                }
                if !role.is_active() {
                    continue;
                }
                if let Err(e) = api.look_for_missing(&publish).await {
                    warn!(error = %e, "duty: cannot check the handovers");
                }
            }
        });
    }

    /// One look for missing handovers (see [`DutyApi::spawn_handover_watch`]);
    /// the events raised.
    pub async fn look_for_missing(
        &self,
        publish: &Publish,
    ) -> Result<usize, hotline_store::StoreError> {
        let now = self.now();
        let roster = self.board.roster();
        let mut raised = 0;
        for shift in roster.shifts() {
            let Ok(date) = shift.latest_ended(self.cal(), now - self.handover_grace_ms) else {
                continue;
            };
            let Ok((start, end)) = shift.on(self.cal(), date) else {
                continue;
            };
            if now - end > DAY_MS {
                continue;
            }
            let rostered = roster
                .on(self.cal(), date)
                .unwrap_or_default()
                .iter()
                .any(|d| d.shift == shift.name);
            if !rostered || start >= end {
                continue;
            }
            let date = date.to_string();
            if self.store.handover_of(&shift.name, &date).await?.is_some() {
                continue;
            }
            if self
                .store
                .mark_handover_missing(&shift.name, &date, now)
                .await?
            {
                warn!(shift = %shift.name, %date, "a shift ended without a handover");
                publish(CallEvent {
                    at_ms: now,
                    call_id: None,
                    agent: None,
                    queue: None,
                    kind: EventKind::HandoverMissing {
                        shift: shift.name.clone(),
                        date,
                    },
                });
                raised += 1;
            }
        }
        Ok(raised)
    }
}

/// The configured roster with the stored per-date changes applied in the
/// order they were made; a stored change that no longer fits (the config
/// changed) is skipped with a warning. The roster and the changes applied.
pub async fn load_roster(
    store: &Store,
    base: &Roster,
    cal: &Calendar,
) -> Result<(Roster, usize), hotline_store::StoreError> {
    let changes = store.roster_changes(None).await?;
    let mut roster = base.clone();
    let mut applied = 0;
    for c in changes {
        match roster.apply(cal, c.change) {
            Ok(()) => applied += 1,
            Err(e) => warn!(change = c.id, error = %e, "stored roster change skipped"),
        }
    }
    Ok((roster, applied))
}

/// The duty section of a report of `[from_ms, to_ms)`: the unanswered
/// calls charged to the people on duty, attendance per shift (CSV or HTML).
pub async fn report_section(
    store: &Store,
    board: &DutyBoard,
    from_ms: i64,
    to_ms: i64,
    unanswered: &[hotline_metrics::kpi::UnansweredCall],
    html: bool,
    now: i64,
) -> Result<String, hotline_store::StoreError> {
    let missed: Vec<hotline_duty::report::Missed> = unanswered
        .iter()
        .map(|u| hotline_duty::report::Missed {
            call_id: u.call_id.clone(),
            arrived_ms: u.arrived_ms,
            caller: u.caller.clone().unwrap_or_default(),
            outcome: u.outcome.to_string(),
        })
        .collect();
    let roster = board.roster();
    let charged = hotline_duty::report::charge(&roster, board.rules(), board.calendar(), &missed);
    let att = attendance_of(store, board, from_ms, to_ms, None, now).await?;
    // the handovers of the shifts of the period (they end after it starts)
    let handovers: Vec<hotline_duty::report::HandoverRow> = store
        .handovers(from_ms, to_ms.saturating_add(DAY_MS))
        .await?
        .into_iter()
        .filter(|h| h.new.start_ms >= from_ms && h.new.start_ms < to_ms)
        .map(|h| hotline_duty::report::HandoverRow {
            shift: h.new.shift,
            date: h.new.date,
            written_by: h.new.written_by,
            written_ms: h.new.written_ms,
            acknowledged_by: h.acknowledged_by,
            acknowledged_ms: h.acknowledged_ms,
            items: h.new.items.len(),
        })
        .collect();
    let cal = board.calendar();
    Ok(if html {
        hotline_duty::report::html(cal, &charged, &att, &handovers, now)
    } else {
        hotline_duty::report::csv(cal, &charged, &att, &handovers, now)
    })
}

/// Checks a roster change against the roster on `board`, stores it and
/// puts the new roster on the board; its id. 400 for an unknown agent or
/// shift or bad hours, 409 for an overlap.
pub async fn apply_change(
    store: &Store,
    board: &DutyBoard,
    change: &RosterChange,
    by: &str,
    now: i64,
) -> Result<i64, ApiError> {
    let mut roster = (*board.roster()).clone();
    roster.apply(board.calendar(), change.clone())?;
    let id = store.add_roster_change(change, by, now).await?;
    board.replace(roster);
    Ok(id)
}

/// Imports a CSV file of roster changes, all or nothing: the first bad
/// line is named (400, or 409 for an overlap). The number imported.
pub async fn import_changes(
    store: &Store,
    board: &DutyBoard,
    text: &str,
    by: &str,
    now: i64,
) -> Result<usize, ApiError> {
    let changes = hotline_duty::csv::parse(text).map_err(ApiError::bad_request)?;
    // the line of each change, for errors found against the roster
    let mut lines: Vec<usize> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start_matches('\u{feff}').trim();
        let header = lines.is_empty()
            && l.split(',')
                .next()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("date"));
        if !(l.is_empty() || l.starts_with('#') || header) {
            lines.push(i + 1);
        }
    }
    let mut roster = (*board.roster()).clone();
    for (i, c) in changes.iter().enumerate() {
        if let Err(e) = roster.apply(board.calendar(), c.clone()) {
            let line = lines.get(i).copied().unwrap_or(i + 1);
            let status = if matches!(e, RosterError::Overlap { .. }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(ApiError::new(status, format!("line {line}: {e}")));
        }
    }
    let n = store.add_roster_changes(&changes, by, now).await?;
    board.replace(roster);
    Ok(n)
}

/// The roster of a date as text lines (`hotline roster show`).
pub fn roster_text(
    roster: &Roster,
    cal: &Calendar,
    date: jiff::civil::Date,
) -> Result<String, RosterError> {
    let mut out = format!("roster of {date} ({})\n", cal.name());
    let duties = roster.on(cal, date)?;
    if duties.is_empty() {
        out.push_str("  nobody rostered\n");
    }
    for d in duties {
        let parts: Vec<String> = d
            .parts
            .iter()
            .map(|(a, b)| format!("{}-{}", cal.format(*a), cal.format(*b)))
            .collect();
        out.push_str(&format!(
            "  {:<8} {:<16} {}\n",
            d.agent,
            d.shift,
            parts.join(" + ")
        ));
    }
    for c in roster.changes().iter().filter(|c| c.date == date) {
        out.push_str(&format!(
            "  change: {} {} {} {}\n",
            c.op.as_str(),
            c.agent,
            if c.shift.is_empty() {
                "(all shifts)"
            } else {
                &c.shift
            },
            c.note
        ));
    }
    Ok(out)
}

/// Handovers of shifts ending in `[from_ms, to_ms)` as text lines
/// (`hotline handover list`).
pub async fn handovers_text(
    store: &Store,
    cal: &Calendar,
    from_ms: i64,
    to_ms: i64,
) -> Result<String, hotline_store::StoreError> {
    let list = store.handovers(from_ms, to_ms).await?;
    let mut out = String::new();
    for h in &list {
        out.push_str(&format!(
            "#{} {} {} (ended {}) written by {} at {}; {}\n",
            h.id,
            h.new.shift,
            h.new.date,
            cal.format(h.new.end_ms),
            h.new.written_by,
            cal.format(h.new.written_ms),
            match (&h.acknowledged_by, h.acknowledged_ms) {
                (Some(by), Some(at)) => format!("acknowledged by {by} at {}", cal.format(at)),
                _ => "not acknowledged".to_string(),
            }
        ));
        for line in h.new.text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        for i in &h.new.items {
            out.push_str(&format!("    [{}] {}\n", i.kind, i.text));
        }
    }
    if list.is_empty() {
        out.push_str("no handovers\n");
    }
    Ok(out)
}

/// The duty routes, without state.
pub fn routes() -> Routes<DutyRoutes> {
    Routes::new()
        .get("/api/roster", roster)
        .post("/api/roster", change)
        .post("/api/roster/import", import)
        .get("/api/attendance", attendance)
        .get("/api/duty/floor", floor)
        .get("/api/handovers", handovers)
        .get("/api/handovers/prefill", prefill)
        .post("/api/handovers", write_handover)
        .post("/api/handovers/{id}/ack", acknowledge)
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::auth::parse_json_at_most(body, MAX_JSON)
}

fn date_or_today(api: &DutyApi, s: Option<&str>) -> Result<jiff::civil::Date, ApiError> {
    match s {
        Some(s) => hotline_core::calendar::parse_date(s).map_err(ApiError::bad_request),
        None => api.cal().date_of(api.now()).map_err(ApiError::bad_request),
    }
}

fn duty_json(cal: &Calendar, d: &Duty) -> serde_json::Value {
    serde_json::json!({
        "agent": d.agent.as_str(),
        "shift": d.shift,
        "date": d.date.to_string(),
        "start_ms": d.start_ms,
        "end_ms": d.end_ms,
        "start": cal.format_with_offset(d.start_ms),
        "end": cal.format_with_offset(d.end_ms),
        "parts": d.parts,
        "scheduled_ms": d.scheduled_ms(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateQuery {
    date: Option<String>,
}

/// `GET /api/roster?date=YYYY-MM-DD`: the duties starting that local date
/// (today by default) and the changes made for it.
async fn roster(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    q: Result<Query<DateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let Query(q) =
        q.map_err(|e| ApiError::bad_request(format!("bad query (date=YYYY-MM-DD): {e}")))?;
    let date = date_or_today(&api, q.date.as_deref())?;
    let roster = api.board.roster();
    let duties = roster.on(api.cal(), date)?;
    let changes: Vec<&RosterChange> = roster.changes().iter().filter(|c| c.date == date).collect();
    Ok(Json(serde_json::json!({
        "date": date.to_string(),
        "timezone": api.cal().name(),
        "duties": duties.iter().map(|d| duty_json(api.cal(), d)).collect::<Vec<_>>(),
        "changes": changes,
        "shifts": roster.shifts().iter().map(|s| serde_json::json!({
            "name": s.name,
            "parts": s.parts().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Body of `POST /api/roster`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    date: String,
    agent: String,
    #[serde(default)]
    shift: String,
    action: String,
    #[serde(default)]
    note: String,
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(|c| c.is_control() && c != '\n')
}

/// `POST /api/roster`: one change (supervisor). 201 with its id; 400 for
/// an unknown agent or shift or bad hours, 409 for overlapping shifts.
async fn change(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Supervisor).await?;
    let b: ChangeBody = json(&body)?;
    if !text_ok(&b.note, 200) || !text_ok(&b.agent, 64) || !text_ok(&b.shift, 64) {
        return Err(ApiError::bad_request(
            "agent and shift at most 64, note at most 200 characters, no control characters",
        ));
    }
    let change = RosterChange {
        date: hotline_core::calendar::parse_date(&b.date).map_err(ApiError::bad_request)?,
        agent: AgentId::new(b.agent),
        shift: b.shift,
        op: b.action.parse().map_err(ApiError::bad_request)?,
        note: b.note,
    };
    let id = apply_change(&api.store, &api.board, &change, &p.audit_name(), api.now()).await?;
    let what = format!(
        "{} {} {} {}",
        change.date,
        change.agent,
        change.op.as_str(),
        change.shift
    );
    info!(by = %p.name, %what, "roster changed");
    api.audit(&p, "roster_change", &what).await;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// `POST /api/roster/import`: a CSV file of changes
/// (`date,agent,shift,action[,note]`), all or nothing. 400 names the line.
async fn import(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Supervisor).await?;
    if body.len() > MAX_CSV {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the file is {} bytes; at most {MAX_CSV}", body.len()),
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request(format!("the file is not UTF-8: {e}")))?;
    let n = import_changes(&api.store, &api.board, text, &p.audit_name(), api.now()).await?;
    api.audit(&p, "roster_import", &format!("{n} changes"))
        .await;
    Ok(Json(serde_json::json!({ "imported": n })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    agent: Option<String>,
}

/// `GET /api/attendance?from=YYYY-MM-DD&to=YYYY-MM-DD`: the duties of the
/// period (to included; today by default) with their attendance, 出勤率 and
/// adherence. An agent sees their own duties.
async fn attendance(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, false, Role::Agent).await?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query: {e}")))?;
    let from = date_or_today(&api, q.from.as_deref())?;
    let to = match q.to.as_deref() {
        Some(t) => hotline_core::calendar::parse_date(t).map_err(ApiError::bad_request)?,
        None => from,
    };
    let (from_ms, _) = api.cal().day_bounds(from).map_err(ApiError::bad_request)?;
    let (_, to_ms) = api.cal().day_bounds(to).map_err(ApiError::bad_request)?;
    if to_ms <= from_ms || to_ms - from_ms > MAX_DAYS * DAY_MS + 2 * 3_600_000 {
        return Err(ApiError::bad_request(format!(
            "from must not be after to, and the period at most {MAX_DAYS} days"
        )));
    }
    let agent = if p.role >= Role::Supervisor {
        q.agent
    } else {
        Some(p.name.clone())
    };
    let report = attendance_of(
        &api.store,
        &api.board,
        from_ms,
        to_ms,
        agent.as_deref(),
        api.now(),
    )
    .await?;
    Ok(Json(serde_json::json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "attendance": report,
    }))
    .into_response())
}

/// Attendance of the duties starting in `[from_ms, to_ms)` (of one agent
/// if given), from the stored agent events, as of `now`.
pub async fn attendance_of(
    store: &Store,
    board: &DutyBoard,
    from_ms: i64,
    to_ms: i64,
    agent: Option<&str>,
    now: i64,
) -> Result<hotline_duty::Attendance, hotline_store::StoreError> {
    let cal = board.calendar();
    let duties: Vec<Duty> = board
        .roster()
        .between(cal, from_ms, to_ms)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.start_ms >= from_ms && d.start_ms < to_ms)
        .filter(|d| agent.is_none_or(|a| d.agent.as_str() == a))
        .collect();
    // presence before the period decides who was logged in at its start
    let lead = 2 * DAY_MS;
    let end = duties.iter().map(|d| d.end_ms).max().unwrap_or(to_ms);
    let mut events = Vec::new();
    for kind in [
        "agent_registered",
        "agent_unregistered",
        "agent_logged_in",
        "agent_logged_out",
        "agent_paused",
        "agent_unpaused",
    ] {
        events.extend(
            store
                .events_of_kind(kind, from_ms - lead, 1_000_000)
                .await?
                .into_iter()
                .filter(|e| e.at_ms < end),
        );
    }
    let rules = board.rules();
    Ok(hotline_duty::attendance(
        &duties,
        &events,
        hotline_duty::Grace {
            late_ms: rules.late_grace_ms,
            early_ms: rules.early_grace_ms,
        },
        now,
    ))
}

/// `GET /api/duty/floor`: who should be on the floor now (rostered) and
/// who is (registered, logged in, not paused); the supervisors on duty.
async fn floor(State(api): State<DutyRoutes>, headers: HeaderMap) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let now = api.now();
    let roster = api.board.roster();
    let on = hotline_duty::on_duty(&roster, api.board.rules(), api.cal(), now);
    let statuses = api.agents.list().await.unwrap_or_default();
    let is_on: Vec<String> = statuses
        .iter()
        .filter(|s| s.registered && s.state != "logged_out" && s.state != "paused")
        .map(|s| s.agent.clone())
        .collect();
    let missing: Vec<&String> = on.agents.iter().filter(|a| !is_on.contains(a)).collect();
    Ok(Json(serde_json::json!({
        "at_ms": now,
        "shifts": on.shifts,
        "should": on.agents,
        "is": is_on,
        "missing": missing,
        "supervisors": on.supervisors,
        "agents": statuses,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    from: Option<String>,
    to: Option<String>,
}

fn handover_json(cal: &Calendar, h: &Handover) -> serde_json::Value {
    serde_json::json!({
        "id": h.id,
        "shift": h.new.shift,
        "date": h.new.date,
        "start_ms": h.new.start_ms,
        "end_ms": h.new.end_ms,
        "end": cal.format_with_offset(h.new.end_ms),
        "written_by": h.new.written_by,
        "written_ms": h.new.written_ms,
        "text": h.new.text,
        "items": h.new.items,
        "acknowledged_by": h.acknowledged_by,
        "acknowledged_ms": h.acknowledged_ms,
    })
}

/// `GET /api/handovers?from=&to=`: handovers of shifts ending in the
/// period (dates, to included; the last 7 days by default).
async fn handovers(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query: {e}")))?;
    let today = date_or_today(&api, None)?;
    let from = match q.from.as_deref() {
        Some(f) => hotline_core::calendar::parse_date(f).map_err(ApiError::bad_request)?,
        None => today.saturating_sub(jiff::Span::new().days(7)),
    };
    let to = date_or_today(&api, q.to.as_deref())?;
    let (from_ms, _) = api.cal().day_bounds(from).map_err(ApiError::bad_request)?;
    let (_, to_ms) = api.cal().day_bounds(to).map_err(ApiError::bad_request)?;
    let list = api.store.handovers(from_ms, to_ms).await?;
    Ok(Json(serde_json::json!({
        "handovers": list.iter().map(|h| handover_json(api.cal(), h)).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The occurrence of `shift` a handover is for: on `date` if given, else
/// the one running now or, between shifts, the last one ended.
fn occurrence(
    api: &DutyApi,
    shift: &Shift,
    date: Option<&str>,
) -> Result<(jiff::civil::Date, i64, i64), ApiError> {
    let cal = api.cal();
    let now = api.now();
    let date = match date {
        Some(d) => hotline_core::calendar::parse_date(d).map_err(ApiError::bad_request)?,
        None => {
            let today = cal.date_of(now).map_err(ApiError::bad_request)?;
            let running = [today.yesterday().ok(), Some(today)]
                .into_iter()
                .flatten()
                .find(|d| shift.on(cal, *d).is_ok_and(|(a, b)| a <= now && now < b));
            match running {
                Some(d) => d,
                None => shift
                    .latest_ended(cal, now)
                    .map_err(ApiError::bad_request)?,
            }
        }
    };
    let (start, end) = shift.on(cal, date).map_err(ApiError::bad_request)?;
    Ok((date, start, end))
}

fn configured_shift(api: &DutyApi, name: &str) -> Result<Shift, ApiError> {
    api.board
        .roster()
        .shifts()
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown shift `{}`",
                name.chars().take(64).collect::<String>()
            ))
        })
}

/// What the system knows for a handover of `[start, end)`: open cases, open
/// work items (call-backs owed) and the alarms of the shift.
async fn prefill_items(api: &DutyApi, start: i64, end: i64) -> Result<Vec<HandoverItem>, ApiError> {
    let page = api
        .store
        .case_page(&hotline_store::CaseFilter {
            status: Some(hotline_store::CaseStatus::Open),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let cases: Vec<OpenCase> = page
        .items
        .iter()
        .map(|c| OpenCase {
            id: c.id,
            severity: c.severity.as_str().to_string(),
            owner: c.owner.clone(),
            deadline_ms: c.deadline_ms,
            number: c.number.clone(),
        })
        .collect();
    let items = api
        .store
        .work_items(&hotline_store::ItemFilter {
            open: Some(true),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let due: Vec<DueItem> = items
        .iter()
        .map(|i| DueItem {
            id: i.id,
            kind: i.new.kind.as_str().to_string(),
            number: i.new.number.clone(),
            deadline_ms: i.new.deadline_ms,
        })
        .collect();
    let mut alarms = Vec::new();
    for e in api.store.events_between(start, end, 100_000).await? {
        let text = match &e.kind {
            EventKind::FloorAlarm { reason, .. } => reason.clone(),
            EventKind::StorageAlarm { reason } => reason.clone(),
            EventKind::TrunkDown { trunk, reason } => format!("{trunk}: {reason}"),
            EventKind::ContinuousWorkWarning { worked_ms, .. } => format!(
                "{} worked {} min without a break",
                e.agent.as_ref().map(|a| a.as_str()).unwrap_or("?"),
                worked_ms / 60_000
            ),
            EventKind::CaseOverdue { case_id, .. } => format!("case #{case_id} overdue"),
            EventKind::WorkItemOverdue { item, number, .. } => {
                format!("work item #{item} ({number}) overdue")
            }
            EventKind::HandoverMissing { shift, date } => {
                format!("handover of {shift} {date} missing")
            }
            _ => continue,
        };
        alarms.push((e.at_ms, e.kind.name().to_string(), text));
    }
    Ok(hotline_duty::handover::prefill(
        api.cal(),
        &cases,
        &due,
        &alarms,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefillQuery {
    shift: String,
    date: Option<String>,
}

/// `GET /api/handovers/prefill?shift=&date=`: the occurrence and the items
/// the system knows, to start the form with.
async fn prefill(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    q: Result<Query<PrefillQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    api.who(&headers, false, Role::Agent).await?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query (shift=NAME): {e}")))?;
    let shift = configured_shift(&api, &q.shift)?;
    let (date, start, end) = occurrence(&api, &shift, q.date.as_deref())?;
    let items = prefill_items(&api, start, end).await?;
    let existing = api
        .store
        .handover_of(&shift.name, &date.to_string())
        .await?;
    Ok(Json(serde_json::json!({
        "shift": shift.name,
        "date": date.to_string(),
        "start_ms": start,
        "end_ms": end,
        "items": items,
        "handover": existing.as_ref().map(|h| handover_json(api.cal(), h)),
    }))
    .into_response())
}

/// Body of `POST /api/handovers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverBody {
    shift: String,
    date: Option<String>,
    text: String,
}

/// `POST /api/handovers`: the outgoing shift writes its handover (an agent
/// only for a shift they are rostered on); the prefilled items are kept
/// with it. 201; 409 once acknowledged.
async fn write_handover(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Agent).await?;
    let b: HandoverBody = json(&body)?;
    if b.text.trim().is_empty() || b.text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_request(format!(
            "text: 1 to {MAX_TEXT} characters"
        )));
    }
    let shift = configured_shift(&api, &b.shift)?;
    let (date, start, end) = occurrence(&api, &shift, b.date.as_deref())?;
    let roster = api.board.roster();
    let on_it = roster
        .on(api.cal(), date)
        .unwrap_or_default()
        .iter()
        .any(|d| d.shift == shift.name && d.agent.as_str() == p.name);
    if p.role < Role::Supervisor && !on_it {
        return Err(ApiError::forbidden(format!(
            "{} is not rostered on {} {date}",
            p.name, shift.name
        )));
    }
    let items = prefill_items(&api, start, end).await?;
    let h = NewHandover {
        shift: shift.name.clone(),
        date: date.to_string(),
        start_ms: start,
        end_ms: end,
        written_by: p.name.clone(),
        text: b.text,
        items,
        written_ms: api.now(),
    };
    let Some(id) = api.store.write_handover(&h).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this handover was acknowledged and can no longer be changed",
        ));
    };
    api.audit(
        &p,
        "handover_write",
        &format!("{} {date} #{id}", shift.name),
    )
    .await;
    let stored = api.store.handover(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(stored.map(|h| handover_json(api.cal(), &h))),
    )
        .into_response())
}

/// `POST /api/handovers/{id}/ack`: the incoming shift acknowledges (an
/// agent rostered on a duty running or starting within the relief window
/// of the handed-over shift's end; not its writer). 409 if already done.
async fn acknowledge(
    State(api): State<DutyRoutes>,
    headers: HeaderMap,
    JsonPath(id): JsonPath<String>,
) -> Result<Response, ApiError> {
    let p = api.who(&headers, true, Role::Agent).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("the handover id is a number"))?;
    let Some(h) = api.store.handover(id).await? else {
        return Err(ApiError::not_found(format!("no handover {id}")));
    };
    if p.role < Role::Supervisor {
        let window = api.board.rules().relief_window_ms.max(3_600_000);
        let roster = api.board.roster();
        let incoming = roster
            .between(api.cal(), h.new.end_ms - window, h.new.end_ms + window)
            .unwrap_or_default()
            .iter()
            .any(|d| {
                d.agent.as_str() == p.name
                    && d.end_ms > h.new.end_ms
                    && !(d.shift == h.new.shift && d.date.to_string() == h.new.date)
            });
        if !incoming || p.name == h.new.written_by {
            return Err(ApiError::forbidden(
                "only the incoming shift (or a supervisor) acknowledges a handover",
            ));
        }
    }
    match api
        .store
        .acknowledge_handover(id, &p.name, api.now())
        .await?
    {
        Some(true) => {
            api.audit(&p, "handover_ack", &format!("#{id}")).await;
            let h = api.store.handover(id).await?;
            Ok(Json(h.map(|h| handover_json(api.cal(), &h))).into_response())
        }
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "this handover is already acknowledged",
        )),
        None => Err(ApiError::not_found(format!("no handover {id}"))),
    }
}
