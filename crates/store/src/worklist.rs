//! Work lists and return-visit campaigns: items owed a call, campaigns and
//! the visit records (migration 0005). The rules live in `hotline-worklist`.

use std::collections::HashSet;

use crate::{Store, StoreError};
use hotline_core::{AgentId, QueueId};
use hotline_worklist::{
    ItemKind, ItemOutcome, NewItem, Owner, VisitOutcome, VisitRecord, WorkItem,
};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Most rows the listing queries return.
pub const MAX_ITEMS: i64 = 10_000;

const ITEM_COLUMNS: &str = "id, kind, number, name, card, notes, owner_agent, owner_queue, \
     campaign_id, call_id, created_ms, deadline_ms, preferred, created_by, calls, attempts, \
     last_call, outcome, closed_ms, closed_by, alarmed";

const VISIT_COLUMNS: &str = "item_id, campaign_id, agent, at_ms, outcome, opinions, \
     satisfaction, duration_ms, call_id, card, name, number";

/// A return-visit campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// Id.
    pub id: i64,
    /// Its name (unique).
    pub name: String,
    /// The queue whose members share its unassigned visits (None: the default queue).
    pub queue: Option<String>,
    /// What it is about.
    pub notes: String,
    /// When it was created, epoch ms.
    pub created_ms: i64,
    /// Who created it.
    pub created_by: String,
}

/// Which items [`Store::work_items`] lists; `None` = no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only open (true) or only closed (false) items.
    pub open: Option<bool>,
    /// Only this campaign's.
    pub campaign: Option<i64>,
    /// Created at or after, epoch ms.
    pub from_ms: Option<i64>,
    /// Created before, epoch ms.
    pub to_ms: Option<i64>,
    /// Only this customer's number (the customer profile).
    pub number: Option<String>,
    /// Most rows (clamped to 1..=[`MAX_ITEMS`]; 0 = the maximum).
    pub limit: i64,
}

enum Arg {
    Int(i64),
    Text(String),
}

impl Store {
    /// Stores a new item; its id.
    pub async fn insert_work_item(&self, n: &NewItem) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_item(&mut conn, n).await
    }

    /// Creates a campaign; its id. A name already used is an error
    /// (`Ok(None)`).
    pub async fn create_campaign(
        &self,
        name: &str,
        queue: Option<&str>,
        notes: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO campaigns (name, queue, notes, created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name.to_string())
        .bind(queue.map(str::to_string))
        .bind(notes.to_string())
        .bind(at_ms)
        .bind(by.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(r)
    }

    /// Every campaign, newest first.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, queue, notes, created_ms, created_by FROM campaigns ORDER BY id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// One campaign.
    pub async fn campaign(&self, id: i64) -> Result<Option<Campaign>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, queue, notes, created_ms, created_by FROM campaigns WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(campaign_from_row).transpose()
    }

    /// The (number, card) of every member already in a campaign.
    pub async fn campaign_keys(&self, id: i64) -> Result<HashSet<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT number, card FROM work_items WHERE campaign_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("number")?, r.try_get("card")?)))
            .collect()
    }

    /// Stores a campaign's items in one transaction; a member already in the
    /// campaign (same number and card) is skipped. The items stored, with ids.
    pub async fn insert_campaign_items(
        &self,
        items: &[NewItem],
    ) -> Result<Vec<WorkItem>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(items.len());
        for n in items {
            let sql = format!(
                "INSERT INTO work_items ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (campaign_id, number, card) DO NOTHING RETURNING id",
                NEW_COLUMNS
            );
            let id: Option<i64> = bind_new(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), n)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(id) = id {
                out.push(WorkItem::open(id, n.clone()));
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// One item.
    pub async fn work_item(&self, id: i64) -> Result<Option<WorkItem>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM work_items WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// Items by a filter, oldest first.
    pub async fn work_items(&self, f: &ItemFilter) -> Result<Vec<WorkItem>, StoreError> {
        let mut cond = Vec::new();
        let mut args = Vec::new();
        match f.open {
            Some(true) => cond.push("outcome IS NULL".to_string()),
            Some(false) => cond.push("outcome IS NOT NULL".to_string()),
            None => {}
        }
        for (sql, v) in [
            ("campaign_id = ", f.campaign),
            ("created_ms >= ", f.from_ms),
            ("created_ms < ", f.to_ms),
        ] {
            if let Some(v) = v {
                args.push(Arg::Int(v));
                cond.push(format!("{sql}${}", args.len()));
            }
        }
        if let Some(n) = &f.number {
            args.push(Arg::Text(n.clone()));
            cond.push(format!("number = ${}", args.len()));
        }
        let limit = if f.limit <= 0 {
            MAX_ITEMS
        } else {
            f.limit.min(MAX_ITEMS)
        };
        args.push(Arg::Int(limit));
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", cond.join(" AND "))
        };
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM work_items{filter} ORDER BY created_ms, id LIMIT ${}",
            args.len()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Another call of the customer merged into an item.
    pub async fn work_item_merged(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE work_items SET calls = calls + 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A call to the customer that did not close the item.
    pub async fn work_item_attempt(&self, id: i64, call_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE work_items SET attempts = attempts + 1, last_call = $2 WHERE id = $1")
            .bind(id)
            .bind(call_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records an item as closed (outcome, time, by whom); false if it was
    /// closed already (by another node or request).
    pub async fn close_work_item(&self, item: &WorkItem) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE work_items SET outcome = $2, closed_ms = $3, closed_by = $4, \
             attempts = $5, last_call = $6 WHERE id = $1 AND outcome IS NULL",
        )
        .bind(item.id)
        .bind(item.outcome.map(ItemOutcome::as_str))
        .bind(item.closed_ms)
        .bind(item.closed_by.clone())
        .bind(i64::from(item.attempts))
        .bind(item.last_call.clone())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The overdue alarm of an item was raised.
    pub async fn work_item_alarmed(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE work_items SET alarmed = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a visit; when `close` is given (reached or refused) the item
    /// is closed in the same transaction, and a visit for an item closed
    /// meanwhile is refused (`Ok(false)`).
    pub async fn record_visit(
        &self,
        v: &VisitRecord,
        valid: bool,
        close: Option<&WorkItem>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(item) = close {
            let r = sqlx::query(
                "UPDATE work_items SET outcome = $2, closed_ms = $3, closed_by = $4, \
                 attempts = attempts + 1 WHERE id = $1 AND outcome IS NULL",
            )
            .bind(item.id)
            .bind(item.outcome.map(ItemOutcome::as_str))
            .bind(item.closed_ms)
            .bind(item.closed_by.clone())
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Ok(false);
            }
        } else {
            sqlx::query("UPDATE work_items SET attempts = attempts + 1 WHERE id = $1")
                .bind(v.item_id)
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "INSERT INTO visits ({VISIT_COLUMNS}, valid) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(v.item_id)
            .bind(v.campaign)
            .bind(v.agent.as_str().to_string())
            .bind(v.at_ms)
            .bind(v.outcome.as_str())
            .bind(v.opinions.clone())
            .bind(v.satisfaction.map(i64::from))
            .bind(v.duration_ms)
            .bind(v.call_id.clone())
            .bind(v.card.clone())
            .bind(v.name.clone())
            .bind(v.number.clone())
            .bind(i64::from(valid))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Visits recorded in `[from_ms, to_ms)`, oldest first.
    pub async fn visits_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM visits WHERE at_ms >= $1 AND at_ms < $2 \
             ORDER BY at_ms, id LIMIT {MAX_ITEMS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(visit_from_row).collect()
    }

    /// A campaign's visits, oldest first.
    pub async fn campaign_visits(&self, campaign: i64) -> Result<Vec<VisitRecord>, StoreError> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM visits WHERE campaign_id = $1 ORDER BY at_ms, id LIMIT {MAX_ITEMS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(campaign)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(visit_from_row).collect()
    }
}

const NEW_COLUMNS: &str = "kind, number, name, card, notes, owner_agent, owner_queue, \
     campaign_id, call_id, created_ms, deadline_ms, preferred, created_by";

fn bind_new<'q, O>(
    q: sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    n: &NewItem,
) -> sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    let (agent, queue) = match &n.owner {
        Owner::Agent(a) => (Some(a.as_str().to_string()), None),
        Owner::Queue(q) => (None, Some(q.as_str().to_string())),
    };
    q.bind(n.kind.as_str())
        .bind(n.number.clone())
        .bind(n.name.clone())
        .bind(n.card.clone())
        .bind(n.notes.clone())
        .bind(agent)
        .bind(queue)
        .bind(n.campaign)
        .bind(n.call_id.clone())
        .bind(n.created_ms)
        .bind(n.deadline_ms)
        .bind(n.preferred.clone())
        .bind(n.created_by.clone())
}

async fn insert_item(conn: &mut sqlx::AnyConnection, n: &NewItem) -> Result<i64, StoreError> {
    let sql = format!(
        "INSERT INTO work_items ({NEW_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id"
    );
    let id: i64 = bind_new(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), n)
        .fetch_one(&mut *conn)
        .await?;
    Ok(id)
}

fn campaign_from_row(r: &AnyRow) -> Result<Campaign, StoreError> {
    Ok(Campaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        queue: r.try_get("queue")?,
        notes: r.try_get("notes")?,
        created_ms: r.try_get("created_ms")?,
        created_by: r.try_get("created_by")?,
    })
}

fn count(r: &AnyRow, col: &str) -> Result<u32, StoreError> {
    let v: i64 = r.try_get(col)?;
    Ok(u32::try_from(v.max(0)).unwrap_or(u32::MAX))
}

fn item_from_row(r: &AnyRow) -> Result<WorkItem, StoreError> {
    let id: i64 = r.try_get("id")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "work item",
        id: id.to_string(),
        detail,
    };
    let kind: String = r.try_get("kind")?;
    let kind = ItemKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?;
    let agent: Option<String> = r.try_get("owner_agent")?;
    let queue: Option<String> = r.try_get("owner_queue")?;
    let owner = match (agent, queue) {
        (Some(a), _) => Owner::Agent(AgentId::new(a)),
        (None, Some(q)) => Owner::Queue(QueueId::new(q)),
        (None, None) => return Err(corrupt("no owner".into())),
    };
    let outcome: Option<String> = r.try_get("outcome")?;
    let outcome = outcome
        .map(|o| ItemOutcome::parse(&o).ok_or_else(|| corrupt(format!("unknown outcome `{o}`"))))
        .transpose()?;
    let alarmed: i64 = r.try_get("alarmed")?;
    Ok(WorkItem {
        id,
        new: NewItem {
            kind,
            number: r.try_get("number")?,
            name: r.try_get("name")?,
            card: r.try_get("card")?,
            notes: r.try_get("notes")?,
            owner,
            campaign: r.try_get("campaign_id")?,
            call_id: r.try_get("call_id")?,
            created_ms: r.try_get("created_ms")?,
            deadline_ms: r.try_get("deadline_ms")?,
            preferred: r.try_get("preferred")?,
            created_by: r.try_get("created_by")?,
        },
        calls: count(r, "calls")?,
        attempts: count(r, "attempts")?,
        last_call: r.try_get("last_call")?,
        outcome,
        closed_ms: r.try_get("closed_ms")?,
        closed_by: r.try_get("closed_by")?,
        alarmed: alarmed != 0,
    })
}

fn visit_from_row(r: &AnyRow) -> Result<VisitRecord, StoreError> {
    let item_id: i64 = r.try_get("item_id")?;
    let outcome: String = r.try_get("outcome")?;
    let outcome = VisitOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
        what: "visit",
        id: item_id.to_string(),
        detail: format!("unknown outcome `{outcome}`"),
    })?;
    let satisfaction: Option<i64> = r.try_get("satisfaction")?;
    Ok(VisitRecord {
        item_id,
        campaign: r.try_get("campaign_id")?,
        agent: AgentId::new(r.try_get::<String, _>("agent")?),
        at_ms: r.try_get("at_ms")?,
        outcome,
        opinions: r.try_get("opinions")?,
        satisfaction: satisfaction.and_then(|s| u8::try_from(s).ok()),
        duration_ms: r.try_get("duration_ms")?,
        call_id: r.try_get("call_id")?,
        card: r.try_get("card")?,
        name: r.try_get("name")?,
        number: r.try_get("number")?,
    })
}
