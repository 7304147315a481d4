//! The HA pair's leases (migration 0011): one row per queue, held by the
//! active node, and every node's heartbeat.
//!
//! Every time in these statements is the **database's** clock (epoch ms
//! computed in SQL), never the node's: two nodes whose clocks disagree by
//! seconds still agree on when a lease expires. A lease is taken when it is
//! free, expired (by the database's clock) or already ours; a change of owner
//! grows its fencing counter. [`Store::acquire_leases`] takes a set of leases
//! all or nothing, in one transaction, in name order (two nodes never end up
//! with half each, and never deadlock on each other's rows).

use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Row, SqlSafeStr};

/// Most leases taken at once (queues of a center).
pub const MAX_LEASES: usize = 1_000;

/// Longest node id or lease name stored.
const MAX_NAME: usize = 128;

/// One lease row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease (a queue id).
    pub name: String,
    /// The node holding it (or that held it last: see `expires_ms`).
    pub owner: String,
    /// Fencing counter: grows by one on every change of owner.
    pub fence: i64,
    /// When it expires unless renewed, database clock, epoch ms.
    pub expires_ms: i64,
    /// When the current owner took it, database clock.
    pub acquired_ms: i64,
    /// The owner's last renewal, database clock.
    pub renewed_ms: i64,
    /// Renewals by the current owner since it took it (0: just taken).
    pub renewals: i64,
    /// The owner before the current one, if any.
    pub previous_owner: Option<String>,
}

/// What [`Store::acquire_leases`] got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseGrant {
    /// Every lease asked for is ours now (taken or renewed); false: none
    /// was changed.
    pub granted: bool,
    /// Granted: our rows after the change; refused: the current rows of the
    /// names asked for (who holds them, until when).
    pub leases: Vec<Lease>,
    /// The database's clock at the statement, epoch ms.
    pub db_now_ms: i64,
}

/// One node's heartbeat as written with [`Store::acquire_leases`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeBeat {
    /// `[cluster] node_id`.
    pub node_id: String,
    /// Whether the node is active (takes calls) as it sends this.
    pub active: bool,
    /// Its SIP address, for the operators (`127.0.0.1:5060`).
    pub sip: String,
}

/// A node as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    /// `[cluster] node_id`.
    pub node_id: String,
    /// Its last heartbeat, database clock, epoch ms.
    pub seen_ms: i64,
    /// Its first heartbeat since it started, database clock.
    pub started_ms: i64,
    /// Active at its last heartbeat.
    pub active: bool,
    /// Its SIP address.
    pub sip: String,
}

/// Leases and nodes, with the database's clock they are read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// Every lease, by name.
    pub leases: Vec<Lease>,
    /// Every node that ever sent a heartbeat, by id.
    pub nodes: Vec<NodeRow>,
    /// The database's clock, epoch ms.
    pub db_now_ms: i64,
}

/// The database's clock in epoch ms, as an SQL expression.
fn db_now(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

const LEASE_COLUMNS: &str =
    "name, owner, fence, expires_ms, acquired_ms, renewed_ms, renewals, previous_owner";

fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    Ok(Lease {
        name: row.try_get("name")?,
        owner: row.try_get("owner")?,
        fence: row.try_get("fence")?,
        expires_ms: row.try_get("expires_ms")?,
        acquired_ms: row.try_get("acquired_ms")?,
        renewed_ms: row.try_get("renewed_ms")?,
        renewals: row.try_get("renewals")?,
        previous_owner: row.try_get("previous_owner")?,
    })
}

fn check_name(what: &'static str, s: &str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(StoreError::Corrupt {
            what,
            id: s.chars().take(40).collect(),
            detail: format!("must be 1 to {MAX_NAME} bytes without control characters"),
        });
    }
    Ok(())
}

impl Store {
    /// The database's clock, epoch ms.
    pub async fn db_now_ms(&self) -> Result<i64, StoreError> {
        let sql = format!("SELECT {} AS now_ms", db_now(self.backend));
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?)
    }

    /// Takes or renews every lease in `names` for `beat.node_id`, for
    /// `ttl_ms` from now on the database's clock, all or nothing (see the
    /// module); then writes the node's heartbeat. A lease is taken when it is
    /// free, expired or already the node's; otherwise nothing changes and
    /// the current holders are returned.
    pub async fn acquire_leases(
        &self,
        beat: &NodeBeat,
        names: &[String],
        ttl_ms: i64,
    ) -> Result<LeaseGrant, StoreError> {
        check_name("node", &beat.node_id)?;
        if names.len() > MAX_LEASES {
            return Err(StoreError::Corrupt {
                what: "lease",
                id: format!("{} names", names.len()),
                detail: format!("at most {MAX_LEASES} leases at once"),
            });
        }
        for n in names {
            check_name("lease", n)?;
        }
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        sorted.dedup();
        let ttl = ttl_ms.clamp(1, 86_400_000);
        let now = db_now(self.backend);
        let upsert = format!(
            "INSERT INTO cluster_leases ({LEASE_COLUMNS}) \
             VALUES ($1, $2, 1, {now} + $3, {now}, {now}, 0, NULL) \
             ON CONFLICT (name) DO UPDATE SET \
             fence = CASE WHEN cluster_leases.owner = excluded.owner \
                 THEN cluster_leases.fence ELSE cluster_leases.fence + 1 END, \
             acquired_ms = CASE WHEN cluster_leases.owner = excluded.owner \
                 THEN cluster_leases.acquired_ms ELSE excluded.acquired_ms END, \
             renewals = CASE WHEN cluster_leases.owner = excluded.owner \
                 THEN cluster_leases.renewals + 1 ELSE 0 END, \
             previous_owner = CASE WHEN cluster_leases.owner = excluded.owner \
                 THEN cluster_leases.previous_owner ELSE cluster_leases.owner END, \
             owner = excluded.owner, \
             expires_ms = excluded.expires_ms, renewed_ms = excluded.renewed_ms \
             WHERE cluster_leases.owner = excluded.owner \
                OR cluster_leases.expires_ms <= excluded.renewed_ms \
             RETURNING {LEASE_COLUMNS}"
        );
        let mut tx = self.pool.begin().await?;
        let mut taken = Vec::with_capacity(sorted.len());
        let mut refused = false;
        for name in &sorted {
            let row = sqlx::query(sqlx::AssertSqlSafe(upsert.clone()))
                .bind((*name).clone())
                .bind(beat.node_id.clone())
                .bind(ttl)
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                Some(r) => taken.push(lease_from_row(&r)?),
                None => {
                    refused = true;
                    break;
                }
            }
        }
        let db_now_ms: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {now}")))
            .fetch_one(&mut *tx)
            .await?;
        let grant = if refused {
            tx.rollback().await?;
            let mut held = Vec::new();
            for name in &sorted {
                let sql = format!("SELECT {LEASE_COLUMNS} FROM cluster_leases WHERE name = $1");
                if let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind((*name).clone())
                    .fetch_optional(&self.pool)
                    .await?
                {
                    held.push(lease_from_row(&r)?);
                }
            }
            LeaseGrant {
                granted: false,
                leases: held,
                db_now_ms,
            }
        } else {
            tx.commit().await?;
            LeaseGrant {
                granted: true,
                leases: taken,
                db_now_ms,
            }
        };
        // the lease rows are what counts; a heartbeat lost is shown late
        if let Err(e) = self.heartbeat(beat).await {
            tracing::warn!(error = %e, node = %beat.node_id, "cluster heartbeat not written");
        }
        Ok(grant)
    }

    /// Writes a node's heartbeat (its last round trip, database clock).
    pub async fn heartbeat(&self, beat: &NodeBeat) -> Result<(), StoreError> {
        self.beat(beat, false).await
    }

    /// A node starts: its heartbeat, with its start time reset (shown on
    /// the wallboard).
    pub async fn node_started(&self, beat: &NodeBeat) -> Result<(), StoreError> {
        self.beat(beat, true).await
    }

    async fn beat(&self, beat: &NodeBeat, start: bool) -> Result<(), StoreError> {
        check_name("node", &beat.node_id)?;
        let now = db_now(self.backend);
        let sip: String = beat.sip.chars().take(MAX_NAME).collect();
        let started = if start {
            ", started_ms = excluded.started_ms"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO cluster_nodes (node_id, seen_ms, started_ms, active, sip) \
             VALUES ($1, {now}, {now}, $2, $3) \
             ON CONFLICT (node_id) DO UPDATE SET seen_ms = excluded.seen_ms, \
             active = excluded.active, sip = excluded.sip{started}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(beat.node_id.clone())
            .bind(i64::from(beat.active))
            .bind(sip)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Lets every lease `node` holds expire now (a clean stop or a step
    /// down), so that the other node takes them at its next try; how many.
    /// The fencing counter is left: the next owner grows it.
    pub async fn release_leases(&self, node: &str) -> Result<u64, StoreError> {
        let now = db_now(self.backend);
        let sql = format!(
            "UPDATE cluster_leases SET expires_ms = {now} WHERE owner = $1 AND expires_ms > {now}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(node.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every lease and node, with the database's clock.
    pub async fn lease_view(&self) -> Result<LeaseView, StoreError> {
        let db_now_ms = self.db_now_ms().await?;
        let sql =
            format!("SELECT {LEASE_COLUMNS} FROM cluster_leases ORDER BY name LIMIT {MAX_LEASES}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let leases = rows
            .iter()
            .map(lease_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT node_id, seen_ms, started_ms, active, sip FROM cluster_nodes \
             ORDER BY node_id LIMIT 1000"
                .into_sql_str(),
        )
        .fetch_all(&self.pool)
        .await?;
        let mut nodes = Vec::with_capacity(rows.len());
        for r in &rows {
            nodes.push(NodeRow {
                node_id: r.try_get("node_id")?,
                seen_ms: r.try_get("seen_ms")?,
                started_ms: r.try_get("started_ms")?,
                active: r.try_get::<i64, _>("active")? != 0,
                sip: r.try_get("sip")?,
            });
        }
        Ok(LeaseView {
            leases,
            nodes,
            db_now_ms,
        })
    }
}
