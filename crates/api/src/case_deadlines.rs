//! The IO shell of the reply-deadline checker: one task owns a
//! [`DeadlineChecker`], loads the open, unreplied cases at start (the
//! warnings and alarms already in the event log count as raised), is told
//! of every change by the case handlers, sleeps until the checker's next
//! instant and publishes what it raises as `case_warning` / `case_overdue`
//! events (to the event log and the live stream). The count of overdue
//! cases is kept for the wallboard (`GET /api/cases/summary`).
//!
//! In the HA pair the active node raises them (the publisher drops a
//! standby's); on becoming active the node loads the cases and the raised
//! events again from the shared store: a deadline that passed while no
//! node was active is raised once, one the other node raised not again,
//! and the cases opened or replied to on the other node are known.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotline_cases::{DeadlineChecker, DeadlineEvent, WatchedCase};
use hotline_core::{AgentId, CallEvent, Clock, EventKind};
use hotline_engine::role::RoleWatch;
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

/// A checker of the open, unreplied cases in `store`, with the warnings and
/// alarms already in the event log (any node's) marked raised.
async fn load(store: &Store, warn_before_ms: i64) -> Result<DeadlineChecker, StoreError> {
    let mut checker = DeadlineChecker::new(warn_before_ms);
    let open = open_unreplied(store).await?;
    // nothing is raised before the earliest warning
    let Some(since) = open
        .iter()
        .map(|c| c.deadline_ms.saturating_sub(warn_before_ms.max(0)))
        .min()
    else {
        return Ok(checker);
    };
    for c in &open {
        checker.watch(watched(c));
    }
    for kind in ["case_warning", "case_overdue"] {
        for e in store.events_of_kind(kind, since, i64::MAX).await? {
            match e.kind {
                EventKind::CaseWarning {
                    case_id,
                    deadline_ms,
                    ..
                } => checker.raised(case_id, deadline_ms, false),
                EventKind::CaseOverdue {
                    case_id,
                    deadline_ms,
                    ..
                } => checker.raised(case_id, deadline_ms, true),
                _ => {}
            }
        }
    }
    Ok(checker)
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

/// Starts the task: loads the open cases, then watches their deadlines;
/// on `role` turning active it loads them again (see the module's doc).
pub async fn spawn(
    store: Store,
    warn_before_ms: i64,
    clock: Arc<dyn Clock>,
    publish: Publish,
    mut role: RoleWatch,
) -> Result<Deadlines, StoreError> {
    let mut checker = load(&store, warn_before_ms).await?;
    info!(
        open = checker.len(),
        overdue = checker.overdue(),
        "case deadlines watched"
    );
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
                r = role.changed() => {
                    if r.is_active() {
                        match load(&store, warn_before_ms).await {
                            Ok(c) => {
                                checker = c;
                                info!(open = checker.len(), "active: case deadlines read again from the store");
                            }
                            Err(e) => warn!(error = %e, "active: the cases could not be read again; the node's own view stays"),
                        }
                    }
                }
                () = tokio::time::sleep(sleep) => {}
            }
        }
    });
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_cases::Severity;
    use hotline_engine::role::{NodeRole, RolePublisher};
    use hotline_store::NewCase;
    use std::sync::atomic::AtomicI64;
    use std::sync::Mutex;

    struct FakeClock(AtomicI64);

    impl Clock for FakeClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    const T0: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    async fn open(store: &Store, number: &str, deadline_ms: i64) -> Case {
        store
            .open_case(&NewCase {
                number: number.into(),
                customer_name: None,
                call_id: None,
                owner: "1001".into(),
                severity: Severity::General,
                title: "t".into(),
                note: "n".into(),
                agent_concerned: None,
                deadline_ms,
                by: "1001".into(),
                at_ms: T0,
            })
            .await
            .unwrap()
    }

    /// One node's task: what it raised (through its role's gate, as the
    /// server wires it) goes to the shared log and to `raised`.
    async fn node(
        store: &Store,
        clock: &Arc<FakeClock>,
        role: RoleWatch,
    ) -> (Deadlines, Arc<Mutex<Vec<(i64, bool)>>>) {
        let raised: Arc<Mutex<Vec<(i64, bool)>>> = Arc::default();
        let (sink, _) = hotline_store::spawn_writer(store.clone());
        let (seen, gate) = (raised.clone(), role.clone());
        let publish: Publish = Arc::new(move |e: CallEvent| {
            if !gate.is_active() {
                return;
            }
            match &e.kind {
                EventKind::CaseWarning { case_id, .. } => {
                    seen.lock().unwrap().push((*case_id, false))
                }
                EventKind::CaseOverdue { case_id, .. } => {
                    seen.lock().unwrap().push((*case_id, true))
                }
                _ => {}
            }
            sink.event(e);
        });
        let d = spawn(store.clone(), HOUR / 2, clock.clone(), publish, role)
            .await
            .unwrap();
        (d, raised)
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    #[tokio::test]
    async fn a_deadline_passed_while_no_node_was_active_is_raised_once_by_the_new_active_node() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
        let c1 = open(&store, "0611", T0 + HOUR).await;
        // node A active, node B standby; both know case 1
        let role_a = RolePublisher::new();
        role_a.set(NodeRole::Active);
        let role_b = RolePublisher::new();
        let (a, raised_a) = node(&store, &clock, role_a.watch()).await;
        let (b, raised_b) = node(&store, &clock, role_b.watch()).await;
        // case 2 is opened on A after B started (B is not told)
        let c2 = open(&store, "0622", T0 + 2 * HOUR).await;
        a.changed(&c2);
        // case 1 passes its deadline: A raises it, the standby nothing
        clock.0.store(T0 + HOUR + 1, Ordering::SeqCst);
        a.look();
        b.look();
        settle().await;
        assert_eq!(*raised_a.lock().unwrap(), [(c1.id, true)]);
        assert!(raised_b.lock().unwrap().is_empty());
        // A is lost; case 2 passes its warning and its deadline while no
        // node is active
        role_a.set(NodeRole::Standby);
        clock.0.store(T0 + 2 * HOUR + 1, Ordering::SeqCst);
        a.look();
        b.look();
        settle().await;
        assert!(raised_b.lock().unwrap().is_empty());
        // B takes over: case 2's alarm once, case 1's not again
        role_b.set(NodeRole::Active);
        settle().await;
        b.look();
        settle().await;
        assert_eq!(*raised_b.lock().unwrap(), [(c2.id, true)]);
        assert_eq!(b.overdue(), 2);
        assert_eq!(b.watched(), 2);
        // a restart reads the log too: nothing raised twice
        let role_c = RolePublisher::new();
        role_c.set(NodeRole::Active);
        let (c, raised_c) = node(&store, &clock, role_c.watch()).await;
        c.look();
        settle().await;
        assert!(raised_c.lock().unwrap().is_empty());
        assert_eq!(c.overdue(), 2);
        assert_eq!(raised_a.lock().unwrap().len(), 1);
    }
}
