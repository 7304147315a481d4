//! The duty floor (migration 0008): per-date roster changes, shift
//! handovers (written by the outgoing shift, acknowledged by the incoming
//! one) and the `handover_missing` alarms already raised. The rules live
//! in `hotline-duty`.

use crate::{Store, StoreError};
use hotline_core::AgentId;
use hotline_duty::handover::HandoverItem;
use hotline_duty::{ChangeOp, RosterChange};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Most handovers one listing returns.
pub const MAX_HANDOVERS: i64 = 1_000;

/// A roster change as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChange {
    /// Id (the order changes were made in).
    pub id: i64,
    /// The change.
    pub change: RosterChange,
    /// When it was made, epoch ms.
    pub made_ms: i64,
    /// Who made it.
    pub made_by: String,
}

/// A handover to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHandover {
    /// The shift (`[[shifts]]` name).
    pub shift: String,
    /// The local date its occurrence started on, `YYYY-MM-DD`.
    pub date: String,
    /// The occurrence's start, epoch ms.
    pub start_ms: i64,
    /// Its end, epoch ms.
    pub end_ms: i64,
    /// Who wrote it.
    pub written_by: String,
    /// The text.
    pub text: String,
    /// The prefilled items kept with it.
    pub items: Vec<HandoverItem>,
    /// When, epoch ms.
    pub written_ms: i64,
}

/// A stored handover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// Id.
    pub id: i64,
    /// What was written.
    pub new: NewHandover,
    /// Who of the incoming shift acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When, epoch ms.
    pub acknowledged_ms: Option<i64>,
}

const HANDOVER_COLUMNS: &str = "id, shift, date, start_ms, end_ms, written_by, text, items, \
     written_ms, acknowledged_by, acknowledged_ms";

impl Store {
    /// Stores a roster change; its id.
    pub async fn add_roster_change(
        &self,
        c: &RosterChange,
        by: &str,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO roster_changes (date, agent, shift, op, note, made_ms, made_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(c.date.to_string())
        .bind(c.agent.as_str().to_string())
        .bind(c.shift.clone())
        .bind(c.op.as_str().to_string())
        .bind(c.note.clone())
        .bind(at_ms)
        .bind(by.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Stores several changes in one transaction (a CSV import): all or none.
    pub async fn add_roster_changes(
        &self,
        changes: &[RosterChange],
        by: &str,
        at_ms: i64,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        for c in changes {
            sqlx::query(
                "INSERT INTO roster_changes (date, agent, shift, op, note, made_ms, made_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.date.to_string())
            .bind(c.agent.as_str().to_string())
            .bind(c.shift.clone())
            .bind(c.op.as_str().to_string())
            .bind(c.note.clone())
            .bind(at_ms)
            .bind(by.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changes.len())
    }

    /// Every roster change, in the order made (dates `YYYY-MM-DD` from
    /// `from` on when given).
    pub async fn roster_changes(
        &self,
        from: Option<&str>,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, date, agent, shift, op, note, made_ms, made_by FROM roster_changes \
             WHERE date >= $1 ORDER BY id",
        )
        .bind(from.unwrap_or("0000").to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_from_row).collect()
    }

    /// Writes the handover of a shift occurrence; rewriting it replaces the
    /// text until it is acknowledged. `Ok(None)`: already acknowledged.
    pub async fn write_handover(&self, h: &NewHandover) -> Result<Option<i64>, StoreError> {
        let items = serde_json::to_string(&h.items).map_err(StoreError::Encode)?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO handovers (shift, date, start_ms, end_ms, written_by, text, items, written_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (shift, date) DO UPDATE SET written_by = $5, text = $6, items = $7, \
             written_ms = $8 WHERE handovers.acknowledged_by IS NULL RETURNING id",
        )
        .bind(h.shift.clone())
        .bind(h.date.clone())
        .bind(h.start_ms)
        .bind(h.end_ms)
        .bind(h.written_by.clone())
        .bind(h.text.clone())
        .bind(items)
        .bind(h.written_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Acknowledges a handover. `Ok(None)`: no such handover;
    /// `Ok(Some(false))`: already acknowledged.
    pub async fn acknowledge_handover(
        &self,
        id: i64,
        by: &str,
        at_ms: i64,
    ) -> Result<Option<bool>, StoreError> {
        let done = sqlx::query(
            "UPDATE handovers SET acknowledged_by = $1, acknowledged_ms = $2 \
             WHERE id = $3 AND acknowledged_by IS NULL",
        )
        .bind(by.to_string())
        .bind(at_ms)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 1 {
            return Ok(Some(true));
        }
        Ok(self.handover(id).await?.map(|_| false))
    }

    /// One handover.
    pub async fn handover(&self, id: i64) -> Result<Option<Handover>, StoreError> {
        let sql = format!("SELECT {HANDOVER_COLUMNS} FROM handovers WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(handover_from_row).transpose()
    }

    /// The handover of a shift occurrence, if written.
    pub async fn handover_of(
        &self,
        shift: &str,
        date: &str,
    ) -> Result<Option<Handover>, StoreError> {
        let sql =
            format!("SELECT {HANDOVER_COLUMNS} FROM handovers WHERE shift = $1 AND date = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(shift.to_string())
            .bind(date.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(handover_from_row).transpose()
    }

    /// The handovers of shifts ending in `[from_ms, to_ms)`, oldest first
    /// (at most [`MAX_HANDOVERS`]).
    pub async fn handovers(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Handover>, StoreError> {
        let sql = format!(
            "SELECT {HANDOVER_COLUMNS} FROM handovers WHERE end_ms >= $1 AND end_ms < $2 \
             ORDER BY end_ms, id LIMIT {MAX_HANDOVERS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(handover_from_row).collect()
    }

    /// Records that the `handover_missing` alarm of a shift occurrence was
    /// raised; false if it already was (raise once, also across nodes).
    pub async fn mark_handover_missing(
        &self,
        shift: &str,
        date: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO handover_alarms (shift, date, raised_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (shift, date) DO NOTHING",
        )
        .bind(shift.to_string())
        .bind(date.to_string())
        .bind(at_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

fn change_from_row(r: &AnyRow) -> Result<StoredChange, StoreError> {
    let id: i64 = r.try_get("id")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "roster change",
        id: id.to_string(),
        detail,
    };
    let date: String = r.try_get("date")?;
    let date = hotline_core::calendar::parse_date(&date).map_err(|e| corrupt(e.to_string()))?;
    let op: String = r.try_get("op")?;
    let op: ChangeOp = op.parse().map_err(corrupt)?;
    let agent: String = r.try_get("agent")?;
    Ok(StoredChange {
        id,
        change: RosterChange {
            date,
            agent: AgentId::new(agent),
            shift: r.try_get("shift")?,
            op,
            note: r.try_get("note")?,
        },
        made_ms: r.try_get("made_ms")?,
        made_by: r.try_get("made_by")?,
    })
}

fn handover_from_row(r: &AnyRow) -> Result<Handover, StoreError> {
    let id: i64 = r.try_get("id")?;
    let items: String = r.try_get("items")?;
    let items: Vec<HandoverItem> =
        serde_json::from_str(&items).map_err(|e| StoreError::Corrupt {
            what: "handover",
            id: id.to_string(),
            detail: e.to_string(),
        })?;
    Ok(Handover {
        id,
        new: NewHandover {
            shift: r.try_get("shift")?,
            date: r.try_get("date")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            written_by: r.try_get("written_by")?,
            text: r.try_get("text")?,
            items,
            written_ms: r.try_get("written_ms")?,
        },
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledged_ms: r.try_get("acknowledged_ms")?,
    })
}
