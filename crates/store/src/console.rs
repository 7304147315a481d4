//! What the supervisor console reads and writes beyond events and CDRs: a
//! filtered, paged CDR query and the run-time blacklist.

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

enum Arg {
    Int(i64),
    Text(String),
}

fn where_clause(f: &CdrFilter) -> (String, Vec<Arg>) {
    let mut cond: Vec<String> = Vec::new();
    let mut args = Vec::new();
    let mut push = |sql: &str, a: Arg, args: &mut Vec<Arg>| {
        args.push(a);
        cond.push(sql.replace("$?", &format!("${}", args.len())));
    };
    if let Some(t) = f.from_ms {
        push("arrived_ms >= $?", Arg::Int(t), &mut args);
    }
    if let Some(t) = f.to_ms {
        push("arrived_ms < $?", Arg::Int(t), &mut args);
    }
    for (col, v) in [
        ("caller", &f.caller),
        ("agent", &f.agent),
        ("queue", &f.queue),
        ("call_type", &f.call_type),
        ("outcome", &f.outcome),
    ] {
        if let Some(v) = v {
            push(&format!("{col} = $?"), Arg::Text(v.clone()), &mut args);
        }
    }
    let mut fixed = Vec::new();
    match f.marked {
        Some(true) => fixed.push("call_id IN (SELECT call_id FROM marks)"),
        Some(false) => fixed.push("call_id NOT IN (SELECT call_id FROM marks)"),
        None => {}
    }
    match f.held {
        Some(true) => {
            fixed.push("call_id IN (SELECT call_id FROM marks WHERE released_ms IS NULL)")
        }
        Some(false) => {
            fixed.push("call_id NOT IN (SELECT call_id FROM marks WHERE released_ms IS NULL)")
        }
        None => {}
    }
    if f.recorded {
        fixed.push("recording_path IS NOT NULL");
    }
    cond.extend(fixed.into_iter().map(str::to_string));
    let sql = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    (sql, args)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: &[Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Int(i) => q.bind(*i),
            Arg::Text(t) => q.bind(t.clone()),
        };
    }
    q
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
        let (cond, args) = where_clause(f);
        let count_sql = format!("SELECT COUNT(*) AS n FROM cdrs{cond}");
        let total: i64 = bind_all(sqlx::query(sqlx::AssertSqlSafe(count_sql)), &args)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let n = args.len();
        let sql = format!(
            "SELECT {CDR_COLUMNS} FROM cdrs{cond} ORDER BY arrived_ms DESC, call_id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &args)
            .bind(f.limit.clamp(1, MAX_PAGE))
            .bind(f.offset.max(0))
            .fetch_all(&self.pool)
            .await?;
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
