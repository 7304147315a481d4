//! The background writer between the engine and the database.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotline_core::CallEvent;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Backend, Cdr, Store, StoreError};

/// Most events and CDRs held in memory while the database is slow or down;
/// past it new ones are dropped, logged with their content and counted in
/// [`EventSink::lost`].
pub const MAX_PENDING: usize = 100_000;
/// Most items written in one transaction.
const MAX_BATCH: usize = 256;
/// An item the database refuses (see [`refused_item`]) this many times in a
/// row is given up.
const MAX_REFUSALS: u32 = 5;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

enum Msg {
    Event(CallEvent),
    Cdr(Box<Cdr>),
    Flush(oneshot::Sender<()>),
}

/// One thing to write, borrowed from the queue.
pub(crate) enum Item<'a> {
    Event(&'a CallEvent),
    Cdr(&'a Cdr),
}

#[derive(Debug, Default)]
struct Shared {
    /// Items sent and not yet written (in the channel or the writer's queue).
    pending: AtomicUsize,
    /// Items dropped (queue full, writer gone, or refused by the database).
    lost: AtomicU64,
}

impl Shared {
    fn lose(&self, what: &str, detail: &str, content: &dyn std::fmt::Debug) {
        let n = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(lost_total = n, what, detail, content = ?content, "store: record LOST");
    }
}

/// The engine's side of the background writer: never blocks, never fails.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Msg>,
    shared: Arc<Shared>,
}

impl EventSink {
    /// Queues an event for appending (in the order of calls to this method).
    pub fn event(&self, e: CallEvent) {
        self.send(Msg::Event(e));
    }

    /// Queues a CDR for upserting (ordered with the events).
    pub fn cdr(&self, c: Cdr) {
        self.send(Msg::Cdr(Box::new(c)));
    }

    /// Waits until everything sent so far is written (or given up and counted
    /// as lost). Returns at once if the writer task has ended. While the
    /// database is down this waits for it: wrap it in a timeout if needed.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Items dropped so far (each was logged with its content at error level).
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    /// Items sent and not yet written.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::Relaxed)
    }

    fn send(&self, msg: Msg) {
        if self.shared.pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            self.shared
                .lose("queue", "write queue full", &DebugMsg(&msg));
            return;
        }
        if let Err(mpsc::error::SendError(msg)) = self.tx.send(msg) {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            self.shared
                .lose("queue", "writer task ended", &DebugMsg(&msg));
        }
    }
}

struct DebugMsg<'a>(&'a Msg);

impl std::fmt::Debug for DebugMsg<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Msg::Event(e) => match serde_json::to_string(e) {
                Ok(json) => f.write_str(&json),
                Err(_) => write!(f, "{e:?}"),
            },
            Msg::Cdr(c) => write!(f, "{c:?}"),
            Msg::Flush(_) => f.write_str("flush"),
        }
    }
}

/// Starts the background writer on the current tokio runtime.
///
/// Events and CDRs are written in the order they were sent, in transactions of
/// up to 256. On a database error the writer logs it (`tracing::error`), keeps
/// everything in memory (up to [`MAX_PENDING`] items, then new ones are logged
/// in full and counted as lost) and retries with backoff (100 ms doubling to
/// 10 s) for as long as it takes. Only an item whose *data* the database
/// refuses 5 times in a row (a NUL byte in a text for PostgreSQL, a constraint
/// violation) is logged in full and counted as lost, so it cannot block the
/// log forever. Nothing is dropped silently.
///
/// The task ends once every [`EventSink`] is dropped and everything is written.
pub fn spawn_writer(store: Store) -> (EventSink, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let task = tokio::spawn(run(store, rx, shared.clone()));
    (EventSink { tx, shared }, task)
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Msg>, shared: Arc<Shared>) {
    let mut queue: VecDeque<Msg> = VecDeque::new();
    let mut batch_limit = MAX_BATCH;
    let mut backoff = BACKOFF_MIN;
    let mut refusals = 0u32;
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(m) => queue.push_back(m),
                None => break,
            }
        }
        while queue.len() < 4 * MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => queue.push_back(m),
                Err(_) => break,
            }
        }
        while matches!(queue.front(), Some(Msg::Flush(_))) {
            if let Some(Msg::Flush(done)) = queue.pop_front() {
                let _ = done.send(());
            }
        }
        let n = queue
            .iter()
            .take(batch_limit)
            .take_while(|m| !matches!(m, Msg::Flush(_)))
            .count();
        if n == 0 {
            continue;
        }
        let items = queue.iter().take(n).filter_map(|m| match m {
            Msg::Event(e) => Some(Item::Event(e)),
            Msg::Cdr(c) => Some(Item::Cdr(c)),
            Msg::Flush(_) => None,
        });
        match store.write_batch(items).await {
            Ok(()) => {
                queue.drain(..n);
                shared.pending.fetch_sub(n, Ordering::AcqRel);
                batch_limit = (batch_limit * 2).min(MAX_BATCH);
                backoff = BACKOFF_MIN;
                refusals = 0;
            }
            Err(e) => {
                let refused = refused_item(store.backend(), &e);
                tracing::error!(error = %e, batch = n, pending = shared.pending.load(Ordering::Relaxed),
                    "store: write failed, will retry");
                if refused && n > 1 {
                    // Find the culprit: go on one item at a time.
                    batch_limit = 1;
                    continue;
                }
                if refused {
                    refusals += 1;
                    if refusals >= MAX_REFUSALS {
                        if let Some(m) = queue.pop_front() {
                            shared.pending.fetch_sub(1, Ordering::AcqRel);
                            shared.lose("database", &e.to_string(), &DebugMsg(&m));
                        }
                        refusals = 0;
                        continue;
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Whether the database refused the data itself (bad text, constraint), as
/// opposed to being unreachable, read-only, locked or missing its tables:
/// only the former can be given up; everything else is retried until it works.
fn refused_item(backend: Backend, e: &StoreError) -> bool {
    match e {
        StoreError::Encode(_) => true,
        StoreError::Db(sqlx::Error::Database(d)) => {
            if !matches!(d.kind(), sqlx::error::ErrorKind::Other) {
                return true; // unique / foreign key / not null / check violation
            }
            let code = d.code().unwrap_or_default();
            // PostgreSQL SQLSTATE class 22 (data exception: NUL byte, bad
            // encoding, value too long) and 23 (integrity constraint).
            // SQLite primary result codes 18 (TOOBIG), 19 (CONSTRAINT), 20 (MISMATCH).
            match backend {
                Backend::Postgres => code.starts_with("22") || code.starts_with("23"),
                Backend::Sqlite => matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(18..=20)),
            }
        }
        _ => false,
    }
}
