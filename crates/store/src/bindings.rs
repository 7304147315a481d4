//! Registrations that survive a restart (migration 0010): the registrar's
//! bindings, written behind the location service and read back at start.
//!
//! The store keeps them as text and numbers and checks nothing SIP: the
//! registrar decides at start which rows it can use (a row it cannot read,
//! or whose contact, source or Path does not parse, is skipped with a
//! warning). A row that does not even decode here (a wrong type, a Path
//! that is not a JSON list of strings) is skipped and counted.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use tracing::warn;

/// Most bindings read at start (the registrar holds at most a few per agent).
pub const MAX_BINDINGS: i64 = 200_000;

/// One registered contact of an agent, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBinding {
    /// The agent (the REGISTER's To user).
    pub agent: String,
    /// The Contact URI registered.
    pub contact: String,
    /// Where the REGISTER came from (`ip:port`).
    pub source: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
    /// When it expires, epoch ms.
    pub expires_at_ms: i64,
    /// The REGISTER's Call-ID.
    pub call_id: String,
    /// The CSeq of the last REGISTER accepted.
    pub cseq: u32,
    /// The REGISTER's Path URIs, in order (RFC 3327).
    pub path: Vec<String>,
    /// Rung at `source` whatever the Contact says.
    pub nat: bool,
}

/// What [`Store::load_bindings`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedBindings {
    /// The unexpired bindings, by agent and contact.
    pub bindings: Vec<StoredBinding>,
    /// Expired rows deleted.
    pub expired: u64,
    /// Rows that could not be read (left in the table, logged).
    pub unreadable: u64,
}

impl Store {
    /// Writes a binding (a REGISTER added or refreshed it); replaces the
    /// row of the same agent and contact.
    pub async fn save_binding(&self, b: &StoredBinding, now_ms: i64) -> Result<(), StoreError> {
        let path = serde_json::to_string(&b.path).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO sip_bindings (agent, contact, source, transport, expires_at_ms, \
             call_id, cseq, path, nat, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (agent, contact) DO UPDATE SET source = excluded.source, \
             transport = excluded.transport, expires_at_ms = excluded.expires_at_ms, \
             call_id = excluded.call_id, cseq = excluded.cseq, path = excluded.path, \
             nat = excluded.nat, updated_ms = excluded.updated_ms",
        )
        .bind(b.agent.clone())
        .bind(b.contact.clone())
        .bind(b.source.clone())
        .bind(b.transport.clone())
        .bind(b.expires_at_ms)
        .bind(b.call_id.clone())
        .bind(i64::from(b.cseq))
        .bind(path)
        .bind(i64::from(b.nat))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes one binding (unregistered, replaced or expired); true if
    /// there was one.
    pub async fn delete_binding(&self, agent: &str, contact: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sip_bindings WHERE agent = $1 AND contact = $2")
            .bind(agent.to_string())
            .bind(contact.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The bindings still valid at `now_ms` (at most [`MAX_BINDINGS`],
    /// soonest to expire last), after deleting those that expired. Rows
    /// that cannot be read are skipped with a warning.
    pub async fn load_bindings(&self, now_ms: i64) -> Result<LoadedBindings, StoreError> {
        let expired = sqlx::query("DELETE FROM sip_bindings WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let rows = sqlx::query(
            "SELECT agent, contact, source, transport, expires_at_ms, call_id, cseq, path, nat \
             FROM sip_bindings ORDER BY expires_at_ms DESC, agent, contact LIMIT $1",
        )
        .bind(MAX_BINDINGS)
        .fetch_all(&self.pool)
        .await?;
        let mut out = LoadedBindings {
            expired,
            ..LoadedBindings::default()
        };
        for row in &rows {
            match binding_from_row(row) {
                Ok(b) => out.bindings.push(b),
                Err(why) => {
                    let agent: Option<String> = row.try_get("agent").ok();
                    warn!(?agent, %why, "stored registration skipped: cannot read it");
                    out.unreadable += 1;
                }
            }
        }
        Ok(out)
    }
}

fn binding_from_row(row: &AnyRow) -> Result<StoredBinding, String> {
    let text = |name: &str| -> Result<String, String> {
        row.try_get::<String, _>(name)
            .map_err(|e| format!("{name}: {e}"))
    };
    let int = |name: &str| -> Result<i64, String> {
        row.try_get::<i64, _>(name)
            .map_err(|e| format!("{name}: {e}"))
    };
    let path_text = text("path")?;
    let path: Vec<String> =
        serde_json::from_str(&path_text).map_err(|e| format!("path is not a list: {e}"))?;
    let cseq = int("cseq")?;
    Ok(StoredBinding {
        agent: text("agent")?,
        contact: text("contact")?,
        source: text("source")?,
        transport: text("transport")?,
        expires_at_ms: int("expires_at_ms")?,
        call_id: text("call_id")?,
        cseq: u32::try_from(cseq).map_err(|_| format!("cseq {cseq} out of range"))?,
        path,
        nat: match int("nat")? {
            0 => false,
            1 => true,
            n => return Err(format!("nat {n} is not 0 or 1")),
        },
    })
}
