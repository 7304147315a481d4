//! The IO shell of the reply-deadline checker: one task owns a
//! [`DeadlineChecker`], loads the open, unreplied cases at start, is told of
//! every change by the case handlers, sleeps until the checker's next
//! instant and publishes what it raises as `case_warning` / `case_overdue`
//! events (to the event log and the live stream). The count of overdue
//! cases is kept for the wallboard (`GET /api/cases/summary`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotline_cases::{DeadlineChecker, DeadlineEvent, WatchedCase};
use hotline_core::{AgentId, CallEvent, Clock, EventKind};
use hotline_store::{Case, CaseFilter, CaseStatus, Store, StoreError, MAX_CASE_PAGE};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Where the task's events go (the engine's event sink and live stream).
pub type Publish = Arc<dyn Fn(CallEvent) + Send + Sync>;

/// The longest the task sleeps without looking at the clock again (a
/// changed system clock is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(30);

enum Msg {
    Watch(WatchedCase),
    Unwatch(i64),
    Look,
}

/// Handle on the deadline task; cheap to clone.
#[derive(Clone)]
pub struct Deadlines {
    tx: mpsc::UnboundedSender<Msg>,
    overdue: Arc<AtomicUsize>,
    watched: Arc<AtomicUsize>,
}

impl Deadlines {
    /// Tells the task a case changed: watched while open and not replied
    /// to, dropped otherwise.
    pub fn changed(&self, c: &Case) {
        let msg = if c.is_closed() || c.replied_ms.is_some() {
            Msg::Unwatch(c.id)
        } else {
            Msg::Watch(watched(c))
        };
        if self.tx.send(msg).is_err() {
            warn!(case = c.id, "the case deadline task has stopped");
        }
    }

    /// Asks the task to look at the clock now (after the clock was moved,
    /// in tests).
    pub fn look(&self) {
        let _ = self.tx.send(Msg::Look);
    }

    /// Open cases past their reply deadline without a reply, as of the
    /// task's last look.
    pub fn overdue(&self) -> usize {
        self.overdue.load(Ordering::Relaxed)
    }

    /// Open cases not yet replied to.
    pub fn watched(&self) -> usize {
        self.watched.load(Ordering::Relaxed)
    }
}

fn watched(c: &Case) -> WatchedCase {
    WatchedCase {
        case_id: c.id,
        owner: c.owner.clone(),
        severity: c.severity,
        deadline_ms: c.deadline_ms,
    }
}

/// The open, unreplied cases, for the checker at start.
async fn open_unreplied(store: &Store) -> Result<Vec<Case>, StoreError> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = store
            .case_page(&CaseFilter {
                status: Some(CaseStatus::Open),
                limit: MAX_CASE_PAGE,
                offset,
                ..CaseFilter::default()
            })
            .await?;
        let n = page.items.len() as i64;
        out.extend(page.items.into_iter().filter(|c| c.replied_ms.is_none()));
        offset += n;
        if n == 0 || offset >= page.total {
            return Ok(out);
        }
    }
}

fn event(e: DeadlineEvent, now: i64) -> CallEvent {
    let (w, warning) = match e {
        DeadlineEvent::Warning(w) => (w, true),
        DeadlineEvent::Overdue(w) => (w, false),
    };
    let (case_id, severity, deadline_ms) =
        (w.case_id, w.severity.as_str().to_string(), w.deadline_ms);
    CallEvent {
        at_ms: now,
        call_id: None,
        agent: Some(AgentId::new(w.owner)),
        queue: None,
        kind: if warning {
            EventKind::CaseWarning {
                case_id,
                severity,
                deadline_ms,
            }
        } else {
            EventKind::CaseOverdue {
                case_id,
                severity,
                deadline_ms,
            }
        },
    }
}

/// Starts the task: loads the open cases, then watches their deadlines.
pub async fn spawn(
    store: Store,
    warn_before_ms: i64,
    clock: Arc<dyn Clock>,
    publish: Publish,
) -> Result<Deadlines, StoreError> {
    let mut checker = DeadlineChecker::new(warn_before_ms);
    for c in open_unreplied(&store).await? {
        checker.watch(watched(&c));
    }
    info!(open = checker.len(), "case deadlines watched");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = Deadlines {
        tx,
        overdue: Arc::new(AtomicUsize::new(0)),
        watched: Arc::new(AtomicUsize::new(checker.len())),
    };
    let (overdue, count) = (handle.overdue.clone(), handle.watched.clone());
    tokio::spawn(async move {
        loop {
            let now = clock.now_ms();
            for e in checker.poll(now) {
                publish(event(e, now));
            }
            overdue.store(checker.overdue(), Ordering::Relaxed);
            count.store(checker.len(), Ordering::Relaxed);
            let sleep = checker
                .poll_timeout()
                .map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Msg::Watch(w)) => checker.watch(w),
                    Some(Msg::Unwatch(id)) => { checker.unwatch(id); }
                    Some(Msg::Look) => {}
                    None => return,
                },
                () = tokio::time::sleep(sleep) => {}
            }
        }
    });
    Ok(handle)
}
