//! Persistence of the hotline's record: the append-only event log (the queue
//! log every KPI is derived from) and call detail records (CDRs).
//!
//! One code path serves both databases through sqlx's `Any` driver: SQLite
//! (bundled, the embedded default, WAL mode) and PostgreSQL (several engine
//! nodes sharing one database), selected by the URL given to
//! [`Store::connect`]. Queries use `$N` placeholders, timestamps are `i64` epoch
//! milliseconds and there are no BOOLEAN columns, so the same statements run
//! on both. Migrations (`migrations/sqlite`, `migrations/postgres`) are
//! embedded in the binary and run at connect.
//!
//! [`spawn_writer`] puts a background task in front of the store so the engine
//! never waits on the database.

#![warn(missing_docs)]

mod bindings;
mod cases;
mod console;
mod duty;
mod edge;
mod evidence;
mod language;
mod leases;
mod notify;
mod paging;
pub mod quality;
mod worklist;
mod writer;

pub use bindings::{LoadedBindings, StoredBinding, MAX_BINDINGS};
pub use cases::{
    Case, CaseError, CaseFilter, CaseLink, CasePage, CaseStatus, CaseStep, CaseUpdate,
    CaseWithRepeats, LinkKind, NewCase, NewNote, Note, OpenOwner, MAX_CASE_PAGE,
};
pub use console::{BlacklistRow, CdrFilter, CdrPage};
pub use duty::{Handover, NewHandover, StoredChange, MAX_HANDOVERS};
pub use edge::{EdgeContact, Subscriber, SubscriberSync, MAX_EDGE_CONTACTS};
pub use evidence::{AuditBreak, AuditEntry, Mark, MarkKind, Role, User, AUDIT_GENESIS};
pub use leases::{Lease, LeaseGrant, LeaseView, NodeBeat, NodeRow, MAX_LEASES};
pub use notify::{Delivery, LINE_TEST_KINDS, MAX_DELIVERIES};
pub use worklist::{Campaign, ItemFilter, MAX_ITEMS};

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use hotline_core::{AgentId, CallEvent, CallId, CallType, EndedBy, Outcome, QueueId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection, Row, SqlSafeStr};

pub use writer::{spawn_writer, EventSink, MAX_PENDING};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database we support.
    #[error("unsupported database URL `{0}`: expected sqlite:///abs/path.db, sqlite://relative.db or postgres://user@host/db")]
    UnsupportedUrl(String),
    /// The directory of the SQLite file cannot be created.
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        /// The directory that was tried.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or reached.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations failed.
    #[error("migrating database {url} failed: {source}")]
    Migrate {
        /// The URL, password removed.
        url: String,
        /// The underlying error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An event could not be turned into JSON.
    #[error("cannot encode event as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// A stored row cannot be read back (edited by hand, or written by a newer
    /// version).
    #[error("stored {what} `{id}` is unreadable: {detail}")]
    Corrupt {
        /// `event` or `cdr`.
        what: &'static str,
        /// Event id or call id.
        id: String,
        /// What is wrong with it.
        detail: String,
    },
}

pub use hotline_core::Cdr;

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection pool to the hotline database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The node this store writes events for (`[cluster] node_id`).
    node: Option<std::sync::Arc<str>>,
}

pub(crate) const CDR_COLUMNS: &str =
    "call_id, caller, caller_name, dialled, queue, agent, call_type, \
     arrived_ms, system_answered_ms, agent_answered_ms, ended_ms, wait_ms, talk_ms, rings, \
     outcome, ended_by, recording_path, recording_sha256, end_cause";
/// Largest `limit` honoured by the listing queries.
const MAX_LIMIT: i64 = 1_000_000;

impl Store {
    /// Opens the database and runs the migrations.
    ///
    /// `sqlite:///abs/path/hotline.db` or `sqlite://rel.db` (file and directory
    /// created if missing, WAL journal), `sqlite::memory:` (tests), or
    /// `postgres://user:pass@host:port/db` (also `postgresql://`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = redact(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(shown));
        };
        let connect_err = |source| StoreError::Connect {
            url: shown.clone(),
            source,
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let mut pool_url = Cow::Borrowed(url);
        if backend == Backend::Sqlite {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            if memory {
                // Every connection would see its own empty database.
                opts = opts.max_connections(1).min_connections(1);
            } else {
                let u = prepare_sqlite_file(url).await.map_err(|e| match e {
                    Prepare::Dir(path, source) => StoreError::Directory { path, source },
                    Prepare::Sqlx(source) => connect_err(source),
                })?;
                pool_url = Cow::Owned(u);
            }
        }
        let pool = opts.connect(&pool_url).await.map_err(connect_err)?;
        migrator(backend)
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                url: shown.clone(),
                source,
            })?;
        Ok(Store {
            pool,
            backend,
            node: None,
        })
    }

    /// This store with every event it appends marked as written by `node`
    /// (the HA pair: a survivor closes the calls the dead node left open).
    pub fn with_node(mut self, node: &str) -> Store {
        self.node = Some(node.into());
        self
    }

    /// The node events are marked with, if any.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Appends one event to the log; returns its id (ids grow in append order).
    pub async fn append_event(&self, e: &CallEvent) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_event(&mut conn, e, self.node.as_deref()).await
    }

    /// All events of a call, in the order they were appended.
    pub async fn events_for_call(&self, call_id: &CallId) -> Result<Vec<CallEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM events WHERE call_id = $1 ORDER BY id".into_sql_str(),
        )
        .bind(call_id.as_str().to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events with `from_ms <= at_ms < to_ms`, oldest first (ties in append
    /// order), at most `limit` of them.
    pub async fn events_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<CallEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM events WHERE at_ms >= $1 AND at_ms < $2 \
             ORDER BY at_ms, id LIMIT $3",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit.clamp(0, MAX_LIMIT))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Calls that arrived at or after `from_ms` and have no CDR (still
    /// running, or left unfinished by a killed engine), oldest first, at
    /// most `limit`.
    pub async fn calls_without_cdr(
        &self,
        from_ms: i64,
        limit: i64,
    ) -> Result<Vec<CallId>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, MIN(at_ms) AS first_ms FROM events \
             WHERE kind = 'arrived' AND at_ms >= $1 AND call_id IS NOT NULL \
             AND call_id NOT IN (SELECT call_id FROM cdrs) \
             GROUP BY call_id ORDER BY first_ms, call_id LIMIT $2"
                .into_sql_str(),
        )
        .bind(from_ms)
        .bind(limit.clamp(0, MAX_LIMIT))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(CallId::from_stored(r.try_get::<String, _>("call_id")?)))
            .collect()
    }

    /// [`Store::calls_without_cdr`] of the calls that arrived on `node`
    /// (their `arrived` event was written by that node).
    pub async fn calls_without_cdr_on(
        &self,
        node: &str,
        from_ms: i64,
        limit: i64,
    ) -> Result<Vec<CallId>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, MIN(at_ms) AS first_ms FROM events \
             WHERE node = $1 AND kind = 'arrived' AND at_ms >= $2 AND call_id IS NOT NULL \
             AND call_id NOT IN (SELECT call_id FROM cdrs) \
             GROUP BY call_id ORDER BY first_ms, call_id LIMIT $3"
                .into_sql_str(),
        )
        .bind(node.to_string())
        .bind(from_ms)
        .bind(limit.clamp(0, MAX_LIMIT))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(CallId::from_stored(r.try_get::<String, _>("call_id")?)))
            .collect()
    }

    /// Events of one kind (`callback_requested`, ...) with `at_ms >= from_ms`,
    /// oldest first, at most `limit`.
    pub async fn events_of_kind(
        &self,
        kind: &str,
        from_ms: i64,
        limit: i64,
    ) -> Result<Vec<CallEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM events WHERE at_ms >= $1 AND kind = $2 \
             ORDER BY at_ms, id LIMIT $3",
        )
        .bind(from_ms)
        .bind(kind.to_string())
        .bind(limit.clamp(0, MAX_LIMIT))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Inserts the CDR or replaces the stored one of the same call.
    pub async fn upsert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        upsert_cdr(&mut conn, cdr).await
    }

    /// The CDR of a call, if stored.
    pub async fn cdr(&self, call_id: &CallId) -> Result<Option<Cdr>, StoreError> {
        let sql = format!("SELECT {CDR_COLUMNS} FROM cdrs WHERE call_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id.as_str().to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(cdr_from_row).transpose()
    }

    /// The most recently arrived calls' CDRs, newest first, at most `limit`.
    pub async fn recent_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        let sql = format!(
            "SELECT {CDR_COLUMNS} FROM cdrs ORDER BY arrived_ms DESC, call_id DESC LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit.clamp(0, MAX_LIMIT))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(cdr_from_row).collect()
    }

    /// Writes events and CDRs in one transaction, in order.
    pub(crate) async fn write_batch<'a>(
        &self,
        items: impl Iterator<Item = writer::Item<'a>>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for item in items {
            match item {
                writer::Item::Event(e) => {
                    insert_event(&mut tx, e, self.node.as_deref()).await?;
                }
                writer::Item::Cdr(c) => upsert_cdr(&mut tx, c).await?,
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_event(
    conn: &mut sqlx::AnyConnection,
    e: &CallEvent,
    node: Option<&str>,
) -> Result<i64, StoreError> {
    let body = serde_json::to_string(e).map_err(StoreError::Encode)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (at_ms, call_id, agent, queue, kind, body, node) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(e.at_ms)
    .bind(e.call_id.as_ref().map(|c| c.as_str().to_string()))
    .bind(e.agent.as_ref().map(|a| a.as_str().to_string()))
    .bind(e.queue.as_ref().map(|q| q.as_str().to_string()))
    .bind(e.kind.name())
    .bind(body)
    .bind(node.map(str::to_string))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

async fn upsert_cdr(conn: &mut sqlx::AnyConnection, c: &Cdr) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO cdrs ({CDR_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (call_id) DO UPDATE SET \
         caller = excluded.caller, caller_name = excluded.caller_name, \
         dialled = excluded.dialled, queue = excluded.queue, agent = excluded.agent, \
         call_type = excluded.call_type, arrived_ms = excluded.arrived_ms, \
         system_answered_ms = excluded.system_answered_ms, \
         agent_answered_ms = excluded.agent_answered_ms, ended_ms = excluded.ended_ms, \
         wait_ms = excluded.wait_ms, talk_ms = excluded.talk_ms, rings = excluded.rings, \
         outcome = excluded.outcome, ended_by = excluded.ended_by, \
         recording_path = excluded.recording_path, recording_sha256 = excluded.recording_sha256, \
         end_cause = excluded.end_cause"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(c.call_id.as_str().to_string())
        .bind(c.caller.clone())
        .bind(c.caller_name.clone())
        .bind(c.dialled.clone())
        .bind(c.queue.as_ref().map(|q| q.as_str().to_string()))
        .bind(c.agent.as_ref().map(|a| a.as_str().to_string()))
        .bind(c.call_type.as_str())
        .bind(c.arrived_ms)
        .bind(c.system_answered_ms)
        .bind(c.agent_answered_ms)
        .bind(c.ended_ms)
        .bind(c.wait_ms)
        .bind(c.talk_ms)
        .bind(c.rings)
        .bind(c.outcome.map(Outcome::as_str))
        .bind(c.ended_by.map(ended_by_str))
        .bind(c.recording_path.clone())
        .bind(c.recording_sha256.clone())
        .bind(c.end_cause.clone())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn event_from_row(row: &AnyRow) -> Result<CallEvent, StoreError> {
    let id: i64 = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
        what: "event",
        id: id.to_string(),
        detail: e.to_string(),
    })
}

pub(crate) fn cdr_from_row(row: &AnyRow) -> Result<Cdr, StoreError> {
    let call_id: String = row.try_get("call_id")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "cdr",
        id: call_id.clone(),
        detail,
    };
    let call_type: String = row.try_get("call_type")?;
    let call_type = CallType::from_str(&call_type).map_err(|e| corrupt(e.to_string()))?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let outcome = outcome
        .map(|s| parse_outcome(&s).ok_or_else(|| corrupt(format!("unknown outcome `{s}`"))))
        .transpose()?;
    let ended_by: Option<String> = row.try_get("ended_by")?;
    let ended_by = ended_by
        .map(|s| parse_ended_by(&s).ok_or_else(|| corrupt(format!("unknown ended_by `{s}`"))))
        .transpose()?;
    Ok(Cdr {
        call_id: CallId::from_stored(call_id.clone()),
        caller: row.try_get("caller")?,
        caller_name: row.try_get("caller_name")?,
        dialled: row.try_get("dialled")?,
        queue: row.try_get::<Option<String>, _>("queue")?.map(QueueId),
        agent: row.try_get::<Option<String>, _>("agent")?.map(AgentId),
        call_type,
        arrived_ms: row.try_get("arrived_ms")?,
        system_answered_ms: row.try_get("system_answered_ms")?,
        agent_answered_ms: row.try_get("agent_answered_ms")?,
        ended_ms: row.try_get("ended_ms")?,
        wait_ms: row.try_get("wait_ms")?,
        talk_ms: row.try_get("talk_ms")?,
        rings: row.try_get("rings")?,
        outcome,
        ended_by,
        recording_path: row.try_get("recording_path")?,
        recording_sha256: row.try_get("recording_sha256")?,
        end_cause: row.try_get("end_cause")?,
    })
}

fn parse_outcome(s: &str) -> Option<Outcome> {
    [
        Outcome::Answered,
        Outcome::Abandoned,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Voicemail,
        Outcome::Callback,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

fn ended_by_str(e: EndedBy) -> &'static str {
    match e {
        EndedBy::Caller => "caller",
        EndedBy::Agent => "agent",
        EndedBy::System => "system",
    }
}

fn parse_ended_by(s: &str) -> Option<EndedBy> {
    [EndedBy::Caller, EndedBy::Agent, EndedBy::System]
        .into_iter()
        .find(|e| ended_by_str(*e) == s)
}

/// The embedded migrations, `version "NNNN" "name"`: each is the file
/// `migrations/{sqlite,postgres}/NNNN_name.sql` of the backend.
macro_rules! embedded_migrations {
    ($backend:expr; $($version:literal $file:literal $name:literal),* $(,)?) => {
        vec![$(
            Migration::new(
                $version,
                Cow::Borrowed($name),
                MigrationType::Simple,
                match $backend {
                    Backend::Sqlite => include_str!(concat!(
                        "../migrations/sqlite/", $file, "_", $name, ".sql"
                    )),
                    Backend::Postgres => include_str!(concat!(
                        "../migrations/postgres/", $file, "_", $name, ".sql"
                    )),
                }
                .into_sql_str(),
                false,
            )
        ),*]
    };
}

/// The embedded migrations of a backend.
fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(embedded_migrations![backend;
        1 "0001" "init",
        2 "0002" "evidence",
        3 "0003" "console",
        4 "0004" "cases",
        5 "0005" "worklist",
        6 "0006" "quality",
        7 "0007" "user_language",
        8 "0008" "duty",
        9 "0009" "notify",
        10 "0010" "bindings",
        11 "0011" "cluster",
        12 "0012" "edge_registrar",
    ])
}

enum Prepare {
    Dir(PathBuf, std::io::Error),
    Sqlx(sqlx::Error),
}

/// Creates the SQLite file (and its directory) if missing, switches it to WAL
/// (persistent in the file) and returns an absolute URL for the `Any` pool.
///
/// Done with the SQLite driver itself because the `Any` driver takes only a
/// URL, whose SQLite options cannot say `journal_mode`, and because `Any`
/// parses the URL as a generic URL first, which mangles relative paths
/// (`sqlite://../x.db` treats `..` as a host name).
async fn prepare_sqlite_file(url: &str) -> Result<String, Prepare> {
    let opts = SqliteConnectOptions::from_str(url).map_err(Prepare::Sqlx)?;
    let file: &Path = opts.get_filename();
    let file = if file.is_relative() {
        let cwd = std::env::current_dir().map_err(|e| Prepare::Dir(PathBuf::from("."), e))?;
        cwd.join(file)
    } else {
        file.to_path_buf()
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Prepare::Dir(dir.to_path_buf(), e))?;
    }
    let opts = opts
        .filename(&file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let conn = opts.connect().await.map_err(Prepare::Sqlx)?;
    conn.close().await.map_err(Prepare::Sqlx)?;
    Ok(opts.to_url_lossy().to_string())
}

/// The URL with its password (if any) replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_of_both_backends_is_embedded_in_order() {
        for (backend, dir) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            let mut on_disk: Vec<(i64, String)> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter_map(|f| {
                        let stem = f.strip_suffix(".sql")?;
                        let (n, name) = stem.split_once('_')?;
                        Some((n.parse().ok()?, name.to_string()))
                    })
                    .collect();
            on_disk.sort();
            let embedded: Vec<(i64, String)> = migrator(backend)
                .iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect();
            assert_eq!(embedded, on_disk, "{dir}");
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
        assert_eq!(redact("nonsense"), "nonsense");
    }

    #[test]
    fn enum_names_round_trip() {
        for e in [EndedBy::Caller, EndedBy::Agent, EndedBy::System] {
            assert_eq!(parse_ended_by(ended_by_str(e)), Some(e));
        }
        for o in [
            Outcome::Answered,
            Outcome::Abandoned,
            Outcome::Rejected,
            Outcome::Failed,
            Outcome::Voicemail,
            Outcome::Callback,
        ] {
            assert_eq!(parse_outcome(o.as_str()), Some(o));
        }
        assert_eq!(parse_outcome("x"), None);
    }
}
