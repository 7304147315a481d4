//! What the supervisor console reads and writes beyond events and CDRs: a
//! filtered, paged CDR query and the run-time blacklist.

use crate::paging::{Filter, PageQuery};
use crate::{cdr_from_row, Cdr, Store, StoreError, CDR_COLUMNS};
use sqlx::Row;

/// Largest page [`Store::cdr_page`] returns.
pub const MAX_PAGE: i64 = 500;

/// Filters of [`Store::cdr_page`]; `None` = no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CdrFilter {
    /// Calls that arrived at or after this, epoch ms.
    pub from_ms: Option<i64>,
    /// Calls that arrived before this, epoch ms.
    pub to_ms: Option<i64>,
    /// The caller's number, exactly.
    pub caller: Option<String>,
    /// The agent who answered.
    pub agent: Option<String>,
    /// The queue.
    pub queue: Option<String>,
    /// The call type (`order`, `inquiry`, ...).
    pub call_type: Option<String>,
    /// The outcome (`answered`, `abandoned`, ...).
    pub outcome: Option<String>,
    /// Some(true): only calls with an evidence mark (held or released);
    /// Some(false): only calls without one.
    pub marked: Option<bool>,
    /// Some(true): only calls on legal hold now.
    pub held: Option<bool>,
    /// Only calls with a recording.
    pub recorded: bool,
    /// Page size (clamped to 1..=[`MAX_PAGE`]).
    pub limit: i64,
    /// Rows skipped (newest first).
    pub offset: i64,
}

/// One page of CDRs.
#[derive(Clone, Debug, PartialEq)]
pub struct CdrPage {
    /// How many calls match the filter in all.
    pub total: i64,
    /// This page, newest first.
    pub items: Vec<Cdr>,
}

/// One run-time blacklist entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlacklistRow {
    /// Row id.
    pub id: i64,
    /// The number, or a prefix ending in `*`.
    pub pattern: String,
    /// `reject` or `queue:<id>`.
    pub action: String,
    /// Why it is listed.
    pub reason: String,
    /// The call that caused it, if any.
    pub call_id: Option<String>,
    /// Who added it.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
}

fn where_clause(f: &CdrFilter) -> Filter {
    let mut w = Filter::default();
    if let Some(t) = f.from_ms {
        w.int("arrived_ms >= $?", t);
    }
    if let Some(t) = f.to_ms {
        w.int("arrived_ms < $?", t);
    }
    w.text_eq([
        ("caller", &f.caller),
        ("agent", &f.agent),
        ("queue", &f.queue),
        ("call_type", &f.call_type),
        ("outcome", &f.outcome),
    ]);
    match f.marked {
        Some(true) => w.fixed("call_id IN (SELECT call_id FROM marks)"),
        Some(false) => w.fixed("call_id NOT IN (SELECT call_id FROM marks)"),
        None => {}
    }
    match f.held {
        Some(true) => w.fixed("call_id IN (SELECT call_id FROM marks WHERE released_ms IS NULL)"),
        Some(false) => {
            w.fixed("call_id NOT IN (SELECT call_id FROM marks WHERE released_ms IS NULL)")
        }
        None => {}
    }
    if f.recorded {
        w.fixed("recording_path IS NOT NULL");
    }
    w
}

fn blacklist_from_row(r: &sqlx::any::AnyRow) -> Result<BlacklistRow, StoreError> {
    Ok(BlacklistRow {
        id: r.try_get("id")?,
        pattern: r.try_get("pattern")?,
        action: r.try_get("action")?,
        reason: r.try_get("reason")?,
        call_id: r.try_get("call_id")?,
        by: r.try_get("by_user")?,
        at_ms: r.try_get("at_ms")?,
    })
}

impl Store {
    /// One page of CDRs matching `f`, newest first, with the total count.
    pub async fn cdr_page(&self, f: &CdrFilter) -> Result<CdrPage, StoreError> {
        let q = PageQuery {
            table: "cdrs",
            columns: CDR_COLUMNS,
            order_by: "arrived_ms DESC, call_id DESC",
            limit: f.limit,
            max_limit: MAX_PAGE,
            offset: f.offset,
        };
        let (total, rows) = self.page(&q, &where_clause(f)).await?;
        let items = rows.iter().map(cdr_from_row).collect::<Result<_, _>>()?;
        Ok(CdrPage { total, items })
    }

    /// Adds a run-time blacklist entry; returns its id. A pattern already
    /// listed is an error ([`StoreError::Db`] with a unique violation).
    pub async fn add_blacklist(
        &self,
        pattern: &str,
        action: &str,
        reason: &str,
        call_id: Option<&str>,
        by: &str,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO blacklist (pattern, action, reason, call_id, by_user, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(pattern.to_string())
        .bind(action.to_string())
        .bind(reason.to_string())
        .bind(call_id.map(str::to_string))
        .bind(by.to_string())
        .bind(at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Removes a run-time blacklist entry; returns it if it existed.
    pub async fn remove_blacklist(&self, id: i64) -> Result<Option<BlacklistRow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM blacklist WHERE id = $1 \
             RETURNING id, pattern, action, reason, call_id, by_user, at_ms",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(blacklist_from_row).transpose()
    }

    /// Every run-time blacklist entry, oldest first.
    pub async fn blacklist(&self) -> Result<Vec<BlacklistRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pattern, action, reason, call_id, by_user, at_ms FROM blacklist ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(blacklist_from_row).collect()
    }
}
