//! Users and roles, evidence marks (each mark is a legal hold) and the
//! append-only, hash-chained audit log of every access to a recording.

use crate::{Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Who may do what with recordings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Takes calls; may not replay recordings.
    Agent,
    /// Replays, exports and marks recordings (the playback level).
    Supervisor,
    /// Everything, including releasing holds (the administration level).
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Agent, Role::Supervisor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Why a recording is evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// Extortion or threats.
    Extortion,
    /// Abusive language.
    Abuse,
    /// A dispute with the customer.
    Dispute,
    /// Anything else worth keeping.
    Other,
}

impl MarkKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Extortion => "extortion",
            MarkKind::Abuse => "abuse",
            MarkKind::Dispute => "dispute",
            MarkKind::Other => "other",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<MarkKind> {
        [
            MarkKind::Extortion,
            MarkKind::Abuse,
            MarkKind::Dispute,
            MarkKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A stored user (the password only as its Argon2 hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Access level.
    pub role: Role,
    /// PHC string of the Argon2id hash.
    pub password_hash: String,
}

/// One evidence mark on a recording (a legal hold until released).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Row id.
    pub id: i64,
    /// The recording's call.
    pub call_id: String,
    /// Why it is evidence.
    pub kind: MarkKind,
    /// The marker's note.
    pub note: String,
    /// Who marked it.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
    /// When the hold was released (None: still held).
    pub released_ms: Option<i64>,
    /// Who released it (an admin).
    pub released_by: Option<String>,
    /// Why it was released.
    pub release_reason: Option<String>,
}

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Row id (grows in append order).
    pub id: i64,
    /// When, epoch ms.
    pub at_ms: i64,
    /// Who (`user:alice`, `system:retention`, `os:root`).
    pub who: String,
    /// `listen`, `export`, `mark`, `release`, `delete`, ...
    pub action: String,
    /// The recording's call, if the action concerns one.
    pub call_id: Option<String>,
    /// Why (the note, the reason given).
    pub reason: String,
    /// Hash of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over this entry and `prev_hash`.
    pub hash: String,
}

/// Where the audit chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    /// An entry's fields no longer match its hash (edited).
    #[error("audit entry {id} was altered: its hash does not match its content")]
    Altered {
        /// The entry's row id.
        id: i64,
    },
    /// An entry does not follow the one before it (deleted or inserted).
    #[error("audit entry {id} does not follow entry {previous}: an entry was removed or inserted")]
    Broken {
        /// The entry's row id.
        id: i64,
        /// The row id of the entry before it.
        previous: i64,
    },
    /// The first entry does not start the chain.
    #[error("the first audit entry ({id}) does not start the chain: earlier entries were removed")]
    Headless {
        /// The first entry's row id.
        id: i64,
    },
}

/// The previous hash of the first entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn audit_hash(
    prev: &str,
    at_ms: i64,
    who: &str,
    action: &str,
    call_id: Option<&str>,
    reason: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"hotline-audit-v1");
    for field in [prev, who, action, call_id.unwrap_or("\u{0}none"), reason] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(at_ms.to_be_bytes());
    hex::encode(h.finalize())
}

fn audit_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at_ms: r.try_get("at_ms")?,
        who: r.try_get("who")?,
        action: r.try_get("action")?,
        call_id: r.try_get("call_id")?,
        reason: r.try_get("reason")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

fn mark_from_row(r: &sqlx::any::AnyRow) -> Result<Mark, StoreError> {
    let id: i64 = r.try_get("id")?;
    let kind: String = r.try_get("kind")?;
    Ok(Mark {
        id,
        call_id: r.try_get("call_id")?,
        kind: MarkKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            what: "mark",
            id: id.to_string(),
            detail: format!("unknown kind `{kind}`"),
        })?,
        note: r.try_get("note")?,
        by: r.try_get("by_user")?,
        at_ms: r.try_get("at_ms")?,
        released_ms: r.try_get("released_ms")?,
        released_by: r.try_get("released_by")?,
        release_reason: r.try_get("release_reason")?,
    })
}

const MARK_COLUMNS: &str =
    "id, call_id, kind, note, by_user, at_ms, released_ms, released_by, release_reason";
const AUDIT_COLUMNS: &str = "id, at_ms, who, action, call_id, reason, prev_hash, hash";

impl Store {
    /// Adds a user, or replaces the role and password of an existing one.
    pub async fn put_user(&self, user: &User, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
        )
        .bind(user.name.clone())
        .bind(user.role.as_str())
        .bind(user.password_hash.clone())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT name, role, password_hash FROM users WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let role: String = r.try_get("role")?;
            Ok(User {
                name: r.try_get("name")?,
                role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
                    what: "user",
                    id: name.to_string(),
                    detail: format!("unknown role `{role}`"),
                })?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Marks a recording as evidence (a legal hold); returns the mark's id.
    pub async fn add_mark(
        &self,
        call_id: &str,
        kind: MarkKind,
        note: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO marks (call_id, kind, note, by_user, at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(call_id.to_string())
        .bind(kind.as_str())
        .bind(note.to_string())
        .bind(by.to_string())
        .bind(at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Releases every hold on a recording; returns how many were released.
    pub async fn release_marks(
        &self,
        call_id: &str,
        by: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE marks SET released_ms = $1, released_by = $2, release_reason = $3 \
             WHERE call_id = $4 AND released_ms IS NULL",
        )
        .bind(at_ms)
        .bind(by.to_string())
        .bind(reason.to_string())
        .bind(call_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Every mark of a recording, oldest first.
    pub async fn marks(&self, call_id: &str) -> Result<Vec<Mark>, StoreError> {
        let sql = format!("SELECT {MARK_COLUMNS} FROM marks WHERE call_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(mark_from_row).collect()
    }

    /// Calls whose recordings are on hold now.
    pub async fn held_calls(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT call_id FROM marks WHERE released_ms IS NULL ORDER BY call_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("call_id").map_err(StoreError::from))
            .collect()
    }

    /// Appends to the audit log, chained to the last entry. Safe against
    /// concurrent writers (another process, another node): a second entry
    /// claiming the same predecessor is refused by the database and retried.
    pub async fn append_audit(
        &self,
        at_ms: i64,
        who: &str,
        action: &str,
        call_id: Option<&str>,
        reason: &str,
    ) -> Result<AuditEntry, StoreError> {
        let mut last_err = None;
        for _ in 0..20 {
            let prev: String = sqlx::query("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<String, _>("hash"))
                .transpose()?
                .unwrap_or_else(|| AUDIT_GENESIS.to_string());
            let hash = audit_hash(&prev, at_ms, who, action, call_id, reason);
            let inserted = sqlx::query(
                "INSERT INTO audit (at_ms, who, action, call_id, reason, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(at_ms)
            .bind(who.to_string())
            .bind(action.to_string())
            .bind(call_id.map(str::to_string))
            .bind(reason.to_string())
            .bind(prev.clone())
            .bind(hash.clone())
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(row) => {
                    return Ok(AuditEntry {
                        id: row.try_get("id")?,
                        at_ms,
                        who: who.to_string(),
                        action: action.to_string(),
                        call_id: call_id.map(str::to_string),
                        reason: reason.to_string(),
                        prev_hash: prev,
                        hash,
                    })
                }
                // another writer took that predecessor: read the new head
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
        Err(StoreError::Db(last_err.unwrap_or(sqlx::Error::PoolClosed)))
    }

    /// Audit entries, oldest first, optionally of one recording only.
    pub async fn audit(&self, call_id: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = match call_id {
            Some(c) => {
                let sql =
                    format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE call_id = $1 ORDER BY id");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(c.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(audit_from_row).collect()
    }

    /// Checks the whole audit chain; Ok(number of entries) or where it breaks.
    pub async fn verify_audit(&self) -> Result<Result<usize, AuditBreak>, StoreError> {
        let entries = self.audit(None).await?;
        let mut prev: Option<&AuditEntry> = None;
        for e in &entries {
            let expected_prev = prev.map(|p| p.hash.as_str()).unwrap_or(AUDIT_GENESIS);
            if e.prev_hash != expected_prev {
                return Ok(Err(match prev {
                    Some(p) => AuditBreak::Broken {
                        id: e.id,
                        previous: p.id,
                    },
                    None => AuditBreak::Headless { id: e.id },
                }));
            }
            let h = audit_hash(
                &e.prev_hash,
                e.at_ms,
                &e.who,
                &e.action,
                e.call_id.as_deref(),
                &e.reason,
            );
            if h != e.hash {
                return Ok(Err(AuditBreak::Altered { id: e.id }));
            }
            prev = Some(e);
        }
        Ok(Ok(entries.len()))
    }
}
