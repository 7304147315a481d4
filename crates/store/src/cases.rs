//! Call notes (来电记录单) and complaint cases under first-contact ownership
//! (首问负责制): the case, its timeline of steps (the six stages and every
//! other change, with who and when), its links to calls, recordings and
//! evidence marks. Nothing is deleted: a case is closed, never removed.
//!
//! Concurrent edits of one case are refused by an optimistic version check:
//! every change names the version it was made against, and the second of
//! two writers gets [`CaseError::Conflict`] (HTTP 409), so nothing is lost
//! silently. The rules (which stage may follow which) are
//! `hotline_cases::Stage::check_next`; they are checked inside the same
//! transaction as the write.

use hotline_cases::{Severity, Stage, TransitionError};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::paging::{Filter, PageQuery};
use crate::{Store, StoreError};

/// Largest page [`Store::case_page`] returns.
pub const MAX_CASE_PAGE: i64 = 500;

/// Errors of case operations.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No such case.
    #[error("no case {0}")]
    NotFound(i64),
    /// The case changed since the version the writer read.
    #[error("case {id} was changed by someone else (version {current}, yours {expected}): reload it and try again")]
    Conflict {
        /// The case.
        id: i64,
        /// The version the writer had.
        expected: i64,
        /// The version stored now.
        current: i64,
    },
    /// The stage transition is not allowed.
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CaseError {
    fn from(e: sqlx::Error) -> Self {
        CaseError::Store(StoreError::Db(e))
    }
}

/// A call note to add (the call record form: who, contact, what, follow-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNote {
    /// The call it is about.
    pub call_id: String,
    /// The caller's number (the customer profile's key).
    pub number: String,
    /// The caller's name, as given.
    pub caller_name: Option<String>,
    /// A contact number for the reply, if other than `number`.
    pub contact: Option<String>,
    /// The category (one of the configured list).
    pub category: String,
    /// What the call was about.
    pub summary: String,
    /// What follow-up is needed, if any.
    pub follow_up: Option<String>,
    /// Who wrote it.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
}

/// A stored call note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// The note as written.
    pub note: NewNote,
    /// The case the note's follow-up opened or joined, if any.
    pub case_id: Option<i64>,
}

/// A case to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    /// The customer's number.
    pub number: String,
    /// The customer's name, if known.
    pub customer_name: Option<String>,
    /// The call it came from (None: opened by hand).
    pub call_id: Option<String>,
    /// The owner: the agent who took the first call.
    pub owner: String,
    /// How bad it is.
    pub severity: Severity,
    /// One line saying what it is about.
    pub title: String,
    /// The record of the complaint (the receive stage's note).
    pub note: String,
    /// The agent the complaint is about, if about staff.
    pub agent_concerned: Option<String>,
    /// The reply deadline, epoch ms.
    pub deadline_ms: i64,
    /// Who opened it.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
}

/// A stored case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Case id.
    pub id: i64,
    /// The customer's number.
    pub number: String,
    /// The customer's name, if known.
    pub customer_name: Option<String>,
    /// The call it came from.
    pub call_id: Option<String>,
    /// The owner.
    pub owner: String,
    /// Severity.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The last stage reached.
    pub stage: Stage,
    /// Judged valid (Some(true)), invalid (Some(false)) or not yet judged.
    pub valid: Option<bool>,
    /// Why it was judged so.
    pub validity_reason: Option<String>,
    /// The reply deadline, epoch ms.
    pub deadline_ms: i64,
    /// When the customer was replied to (the reply stage), epoch ms.
    pub replied_ms: Option<i64>,
    /// The role or person it was escalated to.
    pub escalated_to: Option<String>,
    /// When it was escalated.
    pub escalated_ms: Option<i64>,
    /// The agent the complaint is about.
    pub agent_concerned: Option<String>,
    /// The closing summary (the summarise stage's note).
    pub closing_summary: Option<String>,
    /// When it was opened.
    pub opened_ms: i64,
    /// Who opened it.
    pub opened_by: String,
    /// When it was closed.
    pub closed_ms: Option<i64>,
    /// The optimistic-concurrency version (1 when opened, +1 per change).
    pub version: i64,
}

impl Case {
    /// Whether the case is closed.
    pub fn is_closed(&self) -> bool {
        self.closed_ms.is_some()
    }

    /// Whether the reply is late at `now`: replied after the deadline, or
    /// not replied and the deadline has passed.
    pub fn overdue_at(&self, now: i64) -> bool {
        match self.replied_ms {
            Some(r) => r > self.deadline_ms,
            None => now >= self.deadline_ms,
        }
    }
}

/// One entry of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseStep {
    /// Row id (timeline order).
    pub id: i64,
    /// When.
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// A stage name (`receive` ... `summarise`) or `update`, `escalate`,
    /// `judge`, `link`.
    pub action: String,
    /// What was done or said.
    pub note: String,
}

/// What a case is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A call (its CDR and events).
    Call,
    /// A call's recording.
    Recording,
    /// An evidence mark (by id).
    Mark,
}

impl LinkKind {
    /// Every kind.
    pub const ALL: [LinkKind; 3] = [LinkKind::Call, LinkKind::Recording, LinkKind::Mark];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Call => "call",
            LinkKind::Recording => "recording",
            LinkKind::Mark => "mark",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<LinkKind> {
        LinkKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A link of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseLink {
    /// What it links to.
    pub kind: LinkKind,
    /// The call id (call, recording) or mark id.
    pub target: String,
    /// Who linked it.
    pub by: String,
    /// When.
    pub at_ms: i64,
}

/// A change of a case's fields (None = unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseUpdate {
    /// A new severity.
    pub severity: Option<Severity>,
    /// A new reply deadline (the API derives it from a new severity).
    pub deadline_ms: Option<i64>,
    /// A new title.
    pub title: Option<String>,
    /// The validity judgement and its reason.
    pub judgement: Option<(bool, String)>,
    /// Escalated to a role or person.
    pub escalated_to: Option<String>,
    /// The agent the complaint is about.
    pub agent_concerned: Option<String>,
}

impl CaseUpdate {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == CaseUpdate::default()
    }
}

/// Open or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseStatus {
    /// Not closed.
    Open,
    /// Closed.
    Closed,
}

/// Filters of [`Store::case_page`]; None = any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Owned by.
    pub owner: Option<String>,
    /// The customer's number.
    pub number: Option<String>,
    /// About this agent.
    pub agent_concerned: Option<String>,
    /// Open or closed.
    pub status: Option<CaseStatus>,
    /// Severity.
    pub severity: Option<Severity>,
    /// At this stage.
    pub stage: Option<Stage>,
    /// Only cases not replied to whose deadline is at or before this.
    pub overdue_at: Option<i64>,
    /// Opened at or after, epoch ms.
    pub from_ms: Option<i64>,
    /// Opened before, epoch ms.
    pub to_ms: Option<i64>,
    /// Page size (clamped to 1..=[`MAX_CASE_PAGE`]).
    pub limit: i64,
    /// Rows skipped (newest first).
    pub offset: i64,
}

/// One page of cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasePage {
    /// How many cases match in all.
    pub total: i64,
    /// This page, newest first.
    pub items: Vec<Case>,
}

/// A case with what the first-contact-resolution KPI needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseWithRepeats {
    /// The case.
    pub case: Case,
    /// Inbound calls from the case's number after the one it was opened
    /// on (after it was opened) and before it was closed (or now).
    pub repeat_calls: i64,
}

/// An open case's owner (the routing map's entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOwner {
    /// The customer's number.
    pub number: String,
    /// The owner.
    pub owner: String,
    /// The case (the newest open one of the number).
    pub case_id: i64,
}

const NOTE_COLUMNS: &str =
    "id, call_id, number, caller_name, contact, category, summary, follow_up, case_id, by_user, at_ms";
const CASE_COLUMNS: &str = "id, number, customer_name, call_id, owner, severity, title, stage, \
     valid, validity_reason, deadline_ms, replied_ms, escalated_to, escalated_ms, agent_concerned, \
     closing_summary, opened_ms, opened_by, closed_ms, version";

fn note_from_row(r: &AnyRow) -> Result<Note, StoreError> {
    Ok(Note {
        id: r.try_get("id")?,
        note: NewNote {
            call_id: r.try_get("call_id")?,
            number: r.try_get("number")?,
            caller_name: r.try_get("caller_name")?,
            contact: r.try_get("contact")?,
            category: r.try_get("category")?,
            summary: r.try_get("summary")?,
            follow_up: r.try_get("follow_up")?,
            by: r.try_get("by_user")?,
            at_ms: r.try_get("at_ms")?,
        },
        case_id: r.try_get("case_id")?,
    })
}

fn case_from_row(r: &AnyRow) -> Result<Case, StoreError> {
    let id: i64 = r.try_get("id")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "case",
        id: id.to_string(),
        detail,
    };
    let severity: String = r.try_get("severity")?;
    let stage: String = r.try_get("stage")?;
    let valid: Option<i64> = r.try_get("valid")?;
    Ok(Case {
        id,
        number: r.try_get("number")?,
        customer_name: r.try_get("customer_name")?,
        call_id: r.try_get("call_id")?,
        owner: r.try_get("owner")?,
        severity: severity.parse().map_err(|e| corrupt(format!("{e}")))?,
        title: r.try_get("title")?,
        stage: stage.parse().map_err(|e| corrupt(format!("{e}")))?,
        valid: valid.map(|v| v != 0),
        validity_reason: r.try_get("validity_reason")?,
        deadline_ms: r.try_get("deadline_ms")?,
        replied_ms: r.try_get("replied_ms")?,
        escalated_to: r.try_get("escalated_to")?,
        escalated_ms: r.try_get("escalated_ms")?,
        agent_concerned: r.try_get("agent_concerned")?,
        closing_summary: r.try_get("closing_summary")?,
        opened_ms: r.try_get("opened_ms")?,
        opened_by: r.try_get("opened_by")?,
        closed_ms: r.try_get("closed_ms")?,
        version: r.try_get("version")?,
    })
}

fn case_where(f: &CaseFilter) -> Filter {
    let mut w = Filter::default();
    w.text_eq([
        ("owner", &f.owner),
        ("number", &f.number),
        ("agent_concerned", &f.agent_concerned),
    ]);
    if let Some(s) = f.severity {
        w.text("severity = $?", s.as_str());
    }
    if let Some(s) = f.stage {
        w.text("stage = $?", s.as_str());
    }
    if let Some(t) = f.overdue_at {
        w.int("replied_ms IS NULL AND deadline_ms <= $?", t);
    }
    if let Some(t) = f.from_ms {
        w.int("opened_ms >= $?", t);
    }
    if let Some(t) = f.to_ms {
        w.int("opened_ms < $?", t);
    }
    match f.status {
        Some(CaseStatus::Open) => w.fixed("closed_ms IS NULL"),
        Some(CaseStatus::Closed) => w.fixed("closed_ms IS NOT NULL"),
        None => {}
    }
    w
}

async fn insert_step(
    conn: &mut sqlx::AnyConnection,
    case_id: i64,
    at_ms: i64,
    by: &str,
    action: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_steps (case_id, at_ms, by_user, action, note) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case_id)
    .bind(at_ms)
    .bind(by.to_string())
    .bind(action.to_string())
    .bind(note.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_link(
    conn: &mut sqlx::AnyConnection,
    case_id: i64,
    kind: LinkKind,
    target: &str,
    by: &str,
    at_ms: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO case_links (case_id, kind, target, by_user, at_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (case_id, kind, target) DO NOTHING",
    )
    .bind(case_id)
    .bind(kind.as_str())
    .bind(target.to_string())
    .bind(by.to_string())
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

async fn case_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<Case>, StoreError> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// Claims the case for a change in the transaction: bumps its version if
/// it is still `expected` — the first statement, so the write lock is taken
/// before anything is read (a second writer waits for the first to commit,
/// then finds the version moved) — and returns the case as it was before
/// the change, with its new version.
async fn claim(conn: &mut sqlx::AnyConnection, id: i64, expected: i64) -> Result<Case, CaseError> {
    let r = sqlx::query("UPDATE cases SET version = version + 1 WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(expected)
        .execute(&mut *conn)
        .await?;
    let case = case_in(conn, id).await?.ok_or(CaseError::NotFound(id))?;
    if r.rows_affected() != 1 {
        return Err(CaseError::Conflict {
            id,
            expected,
            current: case.version,
        });
    }
    Ok(case)
}

impl Store {
    /// Adds a call note; returns its id.
    pub async fn add_note(&self, n: &NewNote) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO call_notes (call_id, number, caller_name, contact, category, summary, \
             follow_up, by_user, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(n.call_id.clone())
        .bind(n.number.clone())
        .bind(n.caller_name.clone())
        .bind(n.contact.clone())
        .bind(n.category.clone())
        .bind(n.summary.clone())
        .bind(n.follow_up.clone())
        .bind(n.by.clone())
        .bind(n.at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Records that a note's follow-up is handled in a case.
    pub async fn set_note_case(&self, note_id: i64, case_id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE call_notes SET case_id = $1 WHERE id = $2")
            .bind(case_id)
            .bind(note_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The notes of a call, oldest first.
    pub async fn notes_for_call(&self, call_id: &str) -> Result<Vec<Note>, StoreError> {
        let sql = format!("SELECT {NOTE_COLUMNS} FROM call_notes WHERE call_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(note_from_row).collect()
    }

    /// The newest `limit` notes of calls from (or about) a number, newest
    /// first.
    pub async fn notes_for_number(
        &self,
        number: &str,
        limit: i64,
    ) -> Result<Vec<Note>, StoreError> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM call_notes WHERE number = $1 OR contact = $1 \
             ORDER BY at_ms DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number.to_string())
            .bind(limit.clamp(0, MAX_CASE_PAGE))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(note_from_row).collect()
    }

    /// Call notes written in `from_ms <= at_ms < to_ms`, counted per
    /// category (the report's orders, bookings, complaints, ...), most first.
    pub async fn note_categories(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM call_notes \
             WHERE at_ms >= $1 AND at_ms < $2 GROUP BY category ORDER BY n DESC, category",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("category")?,
                    r.try_get::<i64, _>("n")?,
                ))
            })
            .collect()
    }

    /// Opens a case: the case (version 1, stage `receive`), its first step
    /// and, when it came from a call, the link to that call; in one
    /// transaction.
    pub async fn open_case(&self, c: &NewCase) -> Result<Case, CaseError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO cases (number, customer_name, call_id, owner, severity, title, stage, \
             deadline_ms, agent_concerned, opened_ms, opened_by, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING id",
        )
        .bind(c.number.clone())
        .bind(c.customer_name.clone())
        .bind(c.call_id.clone())
        .bind(c.owner.clone())
        .bind(c.severity.as_str())
        .bind(c.title.clone())
        .bind(Stage::Receive.as_str())
        .bind(c.deadline_ms)
        .bind(c.agent_concerned.clone())
        .bind(c.at_ms)
        .bind(c.by.clone())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        insert_step(
            &mut tx,
            id,
            c.at_ms,
            &c.by,
            Stage::Receive.as_str(),
            &c.note,
        )
        .await?;
        if let Some(call) = &c.call_id {
            insert_link(&mut tx, id, LinkKind::Call, call, &c.by, c.at_ms).await?;
        }
        let case = case_in(&mut tx, id).await?.ok_or(CaseError::NotFound(id))?;
        tx.commit().await?;
        Ok(case)
    }

    /// A case by id.
    pub async fn case(&self, id: i64) -> Result<Option<Case>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        case_in(&mut conn, id).await
    }

    /// A case's timeline, oldest first.
    pub async fn case_steps(&self, id: i64) -> Result<Vec<CaseStep>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, by_user, action, note FROM case_steps WHERE case_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseStep {
                    id: r.try_get("id")?,
                    at_ms: r.try_get("at_ms")?,
                    by: r.try_get("by_user")?,
                    action: r.try_get("action")?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// A case's links, in the order they were made.
    pub async fn case_links(&self, id: i64) -> Result<Vec<CaseLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, target, by_user, at_ms FROM case_links WHERE case_id = $1 \
             ORDER BY at_ms, kind, target",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(CaseLink {
                    kind: LinkKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                        what: "case link",
                        id: id.to_string(),
                        detail: format!("unknown kind `{kind}`"),
                    })?,
                    target: r.try_get("target")?,
                    by: r.try_get("by_user")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// One page of cases matching `f`, newest first, with the total.
    pub async fn case_page(&self, f: &CaseFilter) -> Result<CasePage, StoreError> {
        let q = PageQuery {
            table: "cases",
            columns: CASE_COLUMNS,
            order_by: "opened_ms DESC, id DESC",
            limit: f.limit,
            max_limit: MAX_CASE_PAGE,
            offset: f.offset,
        };
        let (total, rows) = self.page(&q, &case_where(f)).await?;
        let items = rows.iter().map(case_from_row).collect::<Result<_, _>>()?;
        Ok(CasePage { total, items })
    }

    /// Changes a case's fields if it is still at `version`; records the
    /// change in its timeline (`update`, `judge`, `escalate`); returns the
    /// case as stored after it. A closed case can no longer change.
    pub async fn update_case(
        &self,
        id: i64,
        version: i64,
        u: &CaseUpdate,
        by: &str,
        at_ms: i64,
    ) -> Result<Case, CaseError> {
        let mut tx = self.pool.begin().await?;
        let case = claim(&mut tx, id, version).await?;
        if case.is_closed() {
            return Err(CaseError::Transition(TransitionError::Closed));
        }
        let mut changes = Vec::new();
        if let Some(s) = u.severity {
            sqlx::query("UPDATE cases SET severity = $1 WHERE id = $2")
                .bind(s.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changes.push(format!("severity {} → {}", case.severity, s));
        }
        if let Some(d) = u.deadline_ms {
            sqlx::query("UPDATE cases SET deadline_ms = $1 WHERE id = $2")
                .bind(d)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changes.push(format!("deadline {} → {}", case.deadline_ms, d));
        }
        if let Some(t) = &u.title {
            sqlx::query("UPDATE cases SET title = $1 WHERE id = $2")
                .bind(t.clone())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changes.push(format!("title: {t}"));
        }
        if let Some(a) = &u.agent_concerned {
            sqlx::query("UPDATE cases SET agent_concerned = $1 WHERE id = $2")
                .bind(a.clone())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changes.push(format!("agent concerned: {a}"));
        }
        if !changes.is_empty() {
            insert_step(&mut tx, id, at_ms, by, "update", &changes.join("; ")).await?;
        }
        if let Some((valid, reason)) = &u.judgement {
            sqlx::query("UPDATE cases SET valid = $1, validity_reason = $2 WHERE id = $3")
                .bind(i64::from(*valid))
                .bind(reason.clone())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let verdict = if *valid { "valid" } else { "invalid" };
            insert_step(
                &mut tx,
                id,
                at_ms,
                by,
                "judge",
                &format!("{verdict}: {reason}"),
            )
            .await?;
        }
        if let Some(to) = &u.escalated_to {
            sqlx::query("UPDATE cases SET escalated_to = $1, escalated_ms = $2 WHERE id = $3")
                .bind(to.clone())
                .bind(at_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            insert_step(&mut tx, id, at_ms, by, "escalate", to).await?;
        }
        let case = case_in(&mut tx, id).await?.ok_or(CaseError::NotFound(id))?;
        tx.commit().await?;
        Ok(case)
    }

    /// Moves a case to its next stage if it is still at `version` and the
    /// rules allow it (`Stage::check_next`): `reply` records the reply time,
    /// `summarise` closes the case with `note` as its closing summary.
    pub async fn advance_case(
        &self,
        id: i64,
        version: i64,
        to: Stage,
        note: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<Case, CaseError> {
        let mut tx = self.pool.begin().await?;
        let case = claim(&mut tx, id, version).await?;
        case.stage
            .check_next(case.is_closed(), case.valid.is_some(), to)?;
        sqlx::query("UPDATE cases SET stage = $1 WHERE id = $2")
            .bind(to.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        match to {
            Stage::Reply => {
                sqlx::query("UPDATE cases SET replied_ms = $1 WHERE id = $2")
                    .bind(at_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Stage::Summarise => {
                sqlx::query("UPDATE cases SET closed_ms = $1, closing_summary = $2 WHERE id = $3")
                    .bind(at_ms)
                    .bind(note.to_string())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
        insert_step(&mut tx, id, at_ms, by, to.as_str(), note).await?;
        let case = case_in(&mut tx, id).await?.ok_or(CaseError::NotFound(id))?;
        tx.commit().await?;
        Ok(case)
    }

    /// Links a case to a call, recording or mark (also a closed case: the
    /// evidence may come later); false if the link existed. Recorded in the
    /// timeline; the version is not changed (links only add).
    pub async fn link_case(
        &self,
        id: i64,
        kind: LinkKind,
        target: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, CaseError> {
        let mut tx = self.pool.begin().await?;
        if case_in(&mut tx, id).await?.is_none() {
            return Err(CaseError::NotFound(id));
        }
        let added = insert_link(&mut tx, id, kind, target, by, at_ms).await?;
        if added {
            let note = format!("{} {target}", kind.as_str());
            insert_step(&mut tx, id, at_ms, by, "link", &note).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Every case of a number, newest first (at most `limit`).
    pub async fn cases_for_number(
        &self,
        number: &str,
        limit: i64,
    ) -> Result<Vec<Case>, StoreError> {
        let page = self
            .case_page(&CaseFilter {
                number: Some(number.to_string()),
                limit,
                ..CaseFilter::default()
            })
            .await?;
        Ok(page.items)
    }

    /// The owner of each number's newest open case (the routing map).
    pub async fn open_case_owners(&self) -> Result<Vec<OpenOwner>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, number, owner FROM cases WHERE closed_ms IS NULL ORDER BY opened_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<OpenOwner> = Vec::new();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for r in &rows {
            let o = OpenOwner {
                number: r.try_get("number")?,
                owner: r.try_get("owner")?,
                case_id: r.try_get("id")?,
            };
            match at.get(&o.number) {
                Some(&i) => out[i] = o,
                None => {
                    at.insert(o.number.clone(), out.len());
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    /// Cases opened in `[from_ms, to_ms)` with the inbound calls from their
    /// number after the first one, up to their closing (or `now_ms`): what
    /// the case KPIs are folded from.
    pub async fn cases_with_repeats(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<CaseWithRepeats>, StoreError> {
        let cols = CASE_COLUMNS
            .split(", ")
            .map(|c| format!("k.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, (SELECT COUNT(*) FROM cdrs d WHERE d.caller = k.number \
             AND d.arrived_ms > k.opened_ms \
             AND d.arrived_ms <= COALESCE(k.closed_ms, $3) \
             AND (k.call_id IS NULL OR d.call_id <> k.call_id) \
             AND d.dialled NOT IN ('outbound', 'callback')) AS repeats \
             FROM cases k WHERE k.opened_ms >= $1 AND k.opened_ms < $2 ORDER BY k.opened_ms, k.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseWithRepeats {
                    case: case_from_row(r)?,
                    repeat_calls: r.try_get("repeats")?,
                })
            })
            .collect()
    }
}
