//! The work-list service: the engine's event stream in, work items and
//! visit records out (through the store), the overdue alarms, and the
//! in-memory index the engine's dial check consults synchronously.
//!
//! One task folds the events ([`Worklist::run`]); API requests go through
//! the same lock, so an item is never created, closed and re-opened by two
//! writers at once. The [`WorkBook`] sits behind an `RwLock` that is held
//! only while the book is read or changed in memory (never across a database
//! call): [`Worklist::may_dial`] is a read lock and a hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hotline_core::calendar::Calendar;
use hotline_core::{AgentId, CallEvent, CallId, Clock, EventKind, QueueId};
use hotline_store::{EventSink, ItemFilter, Store, StoreError};
use hotline_worklist::csv::{self, ImportContext, ImportError, LineError};
use hotline_worklist::kpi::{self, Returned, WeeklySummary};
use hotline_worklist::quota::{self, Period, Quota, QuotaProgress};
use hotline_worklist::{
    Action, ItemKind, ItemOutcome, NewItem, Owner, Viewer, VisitError, VisitOutcome, VisitRecord,
    WorkBook, WorkItem,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Settings of the work lists and campaigns (`[worklist]`).
#[derive(Clone, Debug)]
pub struct WorklistConfig {
    /// An item is due this long after it is made, ms (24 h).
    pub deadline_ms: i64,
    /// Overdue items are looked for this often, ms.
    pub check_every_ms: u64,
    /// Return-visit quotas and the longest valid visit.
    pub quota: Quota,
    /// The center's calendar (weeks, months, due dates).
    pub calendar: Calendar,
    /// Queue → members (empty: every agent).
    pub queues: HashMap<QueueId, Vec<AgentId>>,
    /// The queue of calls without one.
    pub default_queue: QueueId,
    /// Every configured agent.
    pub agents: Vec<AgentId>,
}

/// Why a work-list request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorklistError {
    /// No such item (or not visible to the caller).
    #[error("no work item {0}")]
    NoItem(i64),
    /// No such campaign.
    #[error("no campaign {0}")]
    NoCampaign(String),
    /// The item is closed already.
    #[error("work item {0} is closed already")]
    Closed(i64),
    /// Not the caller's item.
    #[error("work item {0} is not yours or your queues'")]
    NotYours(i64),
    /// A visit form for an item that is not a return visit.
    #[error("work item {0} is not a return visit")]
    NotAVisit(i64),
    /// Bad input.
    #[error("{0}")]
    Bad(String),
    /// A campaign file that cannot be read at all.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A bad visit form.
    #[error(transparent)]
    Visit(#[from] VisitError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The campaign.
    pub campaign: i64,
    /// Lines imported now.
    pub imported: usize,
    /// Lines skipped: the member is in the campaign already (or twice in the file).
    pub duplicates: Vec<usize>,
    /// Lines refused, with their line numbers (at most 100 listed).
    pub errors: Vec<LineError>,
    /// How many lines were refused in all.
    pub error_count: usize,
}

/// The work list's figures for the wallboard.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Open items.
    pub open: usize,
    /// Open items past their deadline.
    pub overdue: usize,
    /// Calls out refused by the dial rules since start.
    pub refused_dials: u64,
}

struct Inner {
    store: Store,
    book: Arc<RwLock<WorkBook>>,
    sink: Option<EventSink>,
    live: Option<mpsc::UnboundedSender<CallEvent>>,
    cfg: WorklistConfig,
    clock: Arc<dyn Clock>,
    write: tokio::sync::Mutex<()>,
    /// Open complaint cases' owners by number: an item owed to such a
    /// customer is the owner's (首问负责制).
    case_owners: std::sync::OnceLock<hotline_engine::owners::CaseOwners>,
}

/// The service (cheap to clone).
#[derive(Clone)]
pub struct Worklist {
    inner: Arc<Inner>,
}

impl Worklist {
    /// Loads the open items from the store. Alarm events go to `sink` (the
    /// log) and `live` (the wallboard), when given.
    pub async fn start(
        store: Store,
        cfg: WorklistConfig,
        clock: Arc<dyn Clock>,
        sink: Option<EventSink>,
        live: Option<mpsc::UnboundedSender<CallEvent>>,
    ) -> Result<Worklist, StoreError> {
        let mut book = WorkBook::new(
            cfg.deadline_ms,
            cfg.queues.clone(),
            cfg.default_queue.clone(),
        );
        let open = open_items(&store).await?;
        let n = open.len();
        book.reload(open);
        info!(open = n, "work list loaded");
        Ok(Worklist {
            inner: Arc::new(Inner {
                store,
                book: Arc::new(RwLock::new(book)),
                sink,
                live,
                cfg,
                clock,
                write: tokio::sync::Mutex::new(()),
                case_owners: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Folds the engine's events until the stream ends, and raises the
    /// overdue alarms every `check_every_ms`.
    pub async fn run(self, events: mpsc::UnboundedReceiver<CallEvent>) {
        self.run_as(events, hotline_engine::role::RoleWatch::single())
            .await;
    }

    /// [`Worklist::run`] on a node of the HA pair: the overdue alarms are
    /// raised by the active node only (`role`), not twice; a standby reads
    /// the open items again every `check_every_ms` instead (its console
    /// and dial check follow the active node's items). On becoming
    /// active the node reads the open items again from the shared store
    /// (the other node's new items, closings and raised alarms) and looks
    /// for overdue ones at once: an item that fell due while no node was
    /// active alarms once, one the other node alarmed not again.
    pub async fn run_as(
        self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut role: hotline_engine::role::RoleWatch,
    ) {
        let every = Duration::from_millis(self.inner.cfg.check_every_ms.max(100));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                e = events.recv() => match e {
                    Some(e) => self.on_event(&e).await,
                    None => return,
                },
                r = role.changed() => {
                    if r.is_active() {
                        match self.reload().await {
                            Ok(n) => info!(open = n, "active: work list read again from the store"),
                            Err(e) => warn!(error = %e, "active: the work list could not be read again; the node's own view stays"),
                        }
                        self.check_overdue().await;
                    }
                }
                _ = tick.tick() => {
                    if role.is_active() {
                        self.check_overdue().await;
                    } else if let Err(e) = self.reload().await {
                        // a standby's view follows the active node's
                        warn!(error = %e, "standby: the work list could not be read again");
                    }
                }
            }
        }
    }

    /// Reads the open items again from the store (see [`WorkBook::reload`]);
    /// how many are open.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let _w = self.inner.write.lock().await;
        let open = open_items(&self.inner.store).await?;
        let n = open.len();
        self.write(|b| b.reload(open));
        Ok(n)
    }

    /// Routing by ownership: from now on an item owed to a customer with an
    /// open case (a missed call, a voicemail, a callback, ...) is created
    /// for the case's owner, not the queue. Set once; later calls are
    /// ignored.
    pub fn with_case_owners(self, owners: hotline_engine::owners::CaseOwners) -> Self {
        let _ = self.inner.case_owners.set(owners);
        self
    }

    /// The settings.
    pub fn config(&self) -> &WorklistConfig {
        &self.inner.cfg
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Now, by the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    fn now(&self) -> i64 {
        self.now_ms()
    }

    fn read<T>(&self, f: impl FnOnce(&WorkBook) -> T) -> T {
        match self.inner.book.read() {
            Ok(b) => f(&b),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut WorkBook) -> T) -> T {
        match self.inner.book.write() {
            Ok(mut b) => f(&mut b),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The "no private calls" rule's work-list half (see
    /// [`WorkBook::may_dial`]): a read lock and a lookup, for the engine.
    pub fn may_dial(&self, agent: &AgentId, number: &str) -> bool {
        self.read(|b| b.may_dial(agent, number))
    }

    /// Who an agent is to the work list.
    pub fn viewer(&self, agent: &AgentId) -> Viewer {
        self.read(|b| b.viewer(agent))
    }

    /// Open items, overdue ones and refused dials.
    pub fn figures(&self) -> Figures {
        let now = self.now();
        self.read(|b| Figures {
            open: b.open_count(),
            overdue: b.overdue_count(now),
            refused_dials: b.refused_dials(),
        })
    }

    /// Folds one event (see [`WorkBook::handle_event`]).
    pub async fn on_event(&self, e: &CallEvent) {
        if e.call_id.is_none() {
            return;
        }
        let _w = self.inner.write.lock().await;
        let actions = self.write(|b| b.handle_event(e));
        for a in actions {
            self.apply(a).await;
        }
    }

    /// An item owed to a customer with an open case goes to the case's
    /// owner instead of the queue.
    fn to_case_owner(&self, n: &mut NewItem) {
        if !matches!(n.owner, Owner::Queue(_)) {
            return;
        }
        let Some(o) = self
            .inner
            .case_owners
            .get()
            .and_then(|m| m.owner_of(&n.number))
        else {
            return;
        };
        info!(number = %n.number, owner = %o.agent, case = o.case_id, "owed to a case owner's customer: the item is the owner's");
        n.owner = Owner::Agent(o.agent);
    }

    async fn apply(&self, a: Action) {
        let store = &self.inner.store;
        let mut a = a;
        if let Action::Create(n) = &mut a {
            self.to_case_owner(n);
        }
        let r = match a {
            Action::Create(n) => match store.insert_work_item(&n).await {
                Ok(id) => {
                    info!(item = id, kind = %n.kind, number = %n.number, owner = %n.owner, "work item");
                    self.write(|b| b.insert(WorkItem::open(id, n)));
                    Ok(())
                }
                Err(e) => Err((e, format!("{n:?}"))),
            },
            Action::Merged { id } => store
                .work_item_merged(id)
                .await
                .map_err(|e| (e, format!("merge into {id}"))),
            Action::Attempt { id, call_id } | Action::Visited { id, call_id } => store
                .work_item_attempt(id, &call_id)
                .await
                .map_err(|e| (e, format!("attempt {id} {call_id}"))),
            Action::Closed { item } => {
                info!(
                    item = item.id,
                    by = item.closed_by.as_deref().unwrap_or("-"),
                    "work item returned"
                );
                store
                    .close_work_item(&item)
                    .await
                    .map(|_| ())
                    .map_err(|e| (e, format!("close {}", item.id)))
            }
            Action::DialRefused {
                agent,
                number,
                reason,
            } => {
                warn!(%agent, %number, %reason, "dial refused (no private calls)");
                Ok(())
            }
        };
        if let Err((e, what)) = r {
            tracing::error!(error = %e, what, "work list: database write LOST");
        }
    }

    /// Raises the alarm of every open item past its deadline (once each).
    pub async fn check_overdue(&self) {
        let now = self.now();
        let _w = self.inner.write.lock().await;
        let due = self.write(|b| b.due_alarms(now));
        for item in due {
            if let Err(e) = self.inner.store.work_item_alarmed(item.id).await {
                warn!(error = %e, item = item.id, "work list: alarm flag not stored");
            }
            let (agent, queue) = match &item.new.owner {
                Owner::Agent(a) => (Some(a.clone()), None),
                Owner::Queue(q) => (None, Some(q.clone())),
            };
            warn!(item = item.id, number = %item.new.number, owner = %item.new.owner, "work item OVERDUE");
            let e = CallEvent {
                at_ms: now,
                call_id: None,
                agent,
                queue,
                kind: EventKind::WorkItemOverdue {
                    item: item.id,
                    item_kind: item.new.kind.as_str().to_string(),
                    number: item.new.number.clone(),
                    deadline_ms: item.new.deadline_ms,
                },
            };
            if let Some(live) = &self.inner.live {
                let _ = live.send(e.clone());
            }
            if let Some(sink) = &self.inner.sink {
                sink.event(e);
            }
        }
    }

    /// The items `viewer` sees: open ones (oldest first), and with `closed`
    /// also those closed since `since_ms`.
    pub async fn list(
        &self,
        viewer: &Viewer,
        closed: bool,
        since_ms: i64,
    ) -> Result<Vec<WorkItem>, WorklistError> {
        let mut out: Vec<WorkItem> = self.read(|b| b.visible(viewer).cloned().collect::<Vec<_>>());
        if closed {
            let done = self
                .inner
                .store
                .work_items(&ItemFilter {
                    open: Some(false),
                    from_ms: Some(since_ms),
                    ..ItemFilter::default()
                })
                .await?;
            out.extend(done.into_iter().filter(|i| i.visible_to(viewer)));
        }
        Ok(out)
    }

    /// One item, if `viewer` sees it (open or closed).
    pub async fn item(&self, viewer: &Viewer, id: i64) -> Result<WorkItem, WorklistError> {
        let item = match self.read(|b| b.get(id).cloned()) {
            Some(i) => i,
            None => self
                .inner
                .store
                .work_item(id)
                .await?
                .ok_or(WorklistError::NoItem(id))?,
        };
        if !item.visible_to(viewer) {
            return Err(WorklistError::NoItem(id));
        }
        Ok(item)
    }

    /// "I'll call you back": a promise owned by `owner`, due at `due_ms`
    /// (default: the deadline from now).
    #[allow(clippy::too_many_arguments)]
    pub async fn promise(
        &self,
        owner: Owner,
        number: &str,
        name: &str,
        notes: &str,
        due_ms: Option<i64>,
        call_id: Option<CallId>,
        by: &str,
    ) -> Result<WorkItem, WorklistError> {
        let number = hotline_worklist::normalize_number(number).ok_or_else(|| {
            WorklistError::Bad("number: 1-32 digits, an optional leading +".into())
        })?;
        let now = self.now();
        let deadline = due_ms.unwrap_or(now.saturating_add(self.inner.cfg.deadline_ms));
        if deadline <= now {
            return Err(WorklistError::Bad("due must be in the future".into()));
        }
        let n = NewItem {
            kind: ItemKind::Promise,
            number,
            name: name.to_string(),
            card: String::new(),
            notes: notes.to_string(),
            owner,
            campaign: None,
            call_id: call_id.map(|c| c.as_str().to_string()),
            created_ms: now,
            deadline_ms: deadline,
            preferred: String::new(),
            created_by: by.to_string(),
        };
        let _w = self.inner.write.lock().await;
        let id = self.inner.store.insert_work_item(&n).await?;
        let item = WorkItem::open(id, n);
        self.write(|b| b.insert(item.clone()));
        Ok(item)
    }

    /// Closes an item by hand (resolved or given up), if `viewer` may work it.
    pub async fn close(
        &self,
        viewer: &Viewer,
        id: i64,
        outcome: ItemOutcome,
        by: &str,
    ) -> Result<WorkItem, WorklistError> {
        if !matches!(outcome, ItemOutcome::Resolved | ItemOutcome::GivenUp) {
            return Err(WorklistError::Bad(
                "outcome: resolved or given_up (a call closes an item as returned, a visit form as reached/not_reached/refused)".into(),
            ));
        }
        let _w = self.inner.write.lock().await;
        let Some(open) = self.read(|b| b.get(id).cloned()) else {
            return match self.inner.store.work_item(id).await? {
                Some(i) if i.visible_to(viewer) => Err(WorklistError::Closed(id)),
                _ => Err(WorklistError::NoItem(id)),
            };
        };
        if !open.visible_to(viewer) {
            return Err(WorklistError::NoItem(id));
        }
        let now = self.now();
        let Some(item) = self.write(|b| b.close(id, outcome, now, by)) else {
            return Err(WorklistError::Closed(id));
        };
        if !self.inner.store.close_work_item(&item).await? {
            return Err(WorklistError::Closed(id));
        }
        Ok(item)
    }

    /// Imports a campaign file into campaign `name` (created if new, its
    /// unassigned visits shared by `queue`), due by `default_due_ms` unless a
    /// line says otherwise.
    pub async fn import(
        &self,
        name: &str,
        queue: Option<&str>,
        bytes: &[u8],
        default_due_ms: Option<i64>,
        by: &str,
    ) -> Result<ImportReport, WorklistError> {
        let now = self.now();
        let store = &self.inner.store;
        let found = store
            .campaigns()
            .await?
            .into_iter()
            .find(|c| c.name == name);
        let existing = match &found {
            Some(c) => store.campaign_keys(c.id).await?,
            None => Default::default(),
        };
        // a file refused whole creates no campaign
        let parsed = csv::parse(
            bytes,
            &ImportContext {
                calendar: &self.inner.cfg.calendar,
                now_ms: now,
                agents: &self.inner.cfg.agents,
                existing: &existing,
            },
        )?;
        let campaign = match found {
            Some(c) => c,
            None => {
                store.create_campaign(name, queue, "", by, now).await?;
                store
                    .campaigns()
                    .await?
                    .into_iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| WorklistError::NoCampaign(name.to_string()))?
            }
        };
        let queue = campaign
            .queue
            .clone()
            .map(QueueId::new)
            .unwrap_or_else(|| self.inner.cfg.default_queue.clone());
        let default_due = default_due_ms.unwrap_or(now.saturating_add(7 * 86_400_000));
        let items: Vec<NewItem> = parsed
            .rows
            .iter()
            .map(|r| NewItem {
                kind: ItemKind::ReturnVisit,
                number: r.number.clone(),
                name: r.name.clone(),
                card: r.card.clone(),
                notes: r.notes.clone(),
                owner: r
                    .agent
                    .clone()
                    .map_or_else(|| Owner::Queue(queue.clone()), Owner::Agent),
                campaign: Some(campaign.id),
                call_id: None,
                created_ms: now,
                deadline_ms: r.due_ms.unwrap_or(default_due),
                preferred: r.preferred.clone(),
                created_by: format!("import:{by}"),
            })
            .collect();
        let _w = self.inner.write.lock().await;
        let stored = store.insert_campaign_items(&items).await?;
        let imported = stored.len();
        self.write(|b| {
            for i in stored {
                b.insert(i);
            }
        });
        info!(campaign = %campaign.name, imported, errors = parsed.error_count, duplicates = parsed.duplicates.len(), "campaign import");
        Ok(ImportReport {
            campaign: campaign.id,
            imported,
            duplicates: parsed.duplicates,
            errors: parsed.errors,
            error_count: parsed.error_count,
        })
    }

    /// Records a visit form for item `id` by `agent`. The call's length is
    /// its CDR's talk time (the call given, or the last call made from the
    /// item), else `duration_ms` as typed. Reached and refused close the
    /// item; not reached keeps it open.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_visit(
        &self,
        viewer: &Viewer,
        agent: &AgentId,
        id: i64,
        outcome: VisitOutcome,
        opinions: &str,
        satisfaction: Option<i64>,
        duration_ms: Option<i64>,
        call_id: Option<String>,
    ) -> Result<(VisitRecord, bool), WorklistError> {
        let _w = self.inner.write.lock().await;
        let Some(item) = self.read(|b| b.get(id).cloned()) else {
            return match self.inner.store.work_item(id).await? {
                Some(i) if i.visible_to(viewer) => Err(WorklistError::Closed(id)),
                _ => Err(WorklistError::NoItem(id)),
            };
        };
        if !item.visible_to(viewer) {
            return Err(WorklistError::NoItem(id));
        }
        if item.new.kind != ItemKind::ReturnVisit {
            return Err(WorklistError::NotAVisit(id));
        }
        let call = call_id.or_else(|| item.last_call.clone());
        let mut measured = None;
        if let Some(c) = &call {
            if let Some(cdr) = self
                .inner
                .store
                .cdr(&CallId::from_stored(c.clone()))
                .await?
            {
                measured = cdr.talk_ms;
            }
        }
        let duration = measured.or(duration_ms).unwrap_or(0);
        let sat = VisitRecord::check(outcome, opinions, satisfaction, duration)?;
        let now = self.now();
        let v = VisitRecord {
            item_id: id,
            campaign: item.new.campaign,
            agent: agent.clone(),
            at_ms: now,
            outcome,
            opinions: opinions.trim().to_string(),
            satisfaction: sat,
            duration_ms: duration,
            call_id: call,
            card: item.new.card.clone(),
            name: item.new.name.clone(),
            number: item.new.number.clone(),
        };
        let valid = v.valid(self.inner.cfg.quota.max_visit_ms);
        let closed = if outcome == VisitOutcome::NotReached {
            self.write(|b| b.count_attempt(id));
            None
        } else {
            self.write(|b| b.close(id, outcome.item_outcome(), now, agent.as_str()))
        };
        if !self
            .inner
            .store
            .record_visit(&v, valid, closed.as_ref())
            .await?
        {
            return Err(WorklistError::Closed(id));
        }
        Ok((v, valid))
    }

    /// Every agent's quota progress in the period holding now.
    pub async fn quotas(&self, period: Period) -> Result<Vec<QuotaProgress>, WorklistError> {
        let now = self.now();
        let cal = &self.inner.cfg.calendar;
        let (from, to) = period
            .bounds(cal, now)
            .map_err(|e| WorklistError::Bad(e.to_string()))?;
        let visits = self.inner.store.visits_between(from, to).await?;
        quota::progress(
            cal,
            &self.inner.cfg.quota,
            period,
            now,
            &self.inner.cfg.agents,
            &visits,
        )
        .map_err(|e| WorklistError::Bad(e.to_string()))
    }

    /// The weekly summary of the week holding `at_ms` (now if None).
    pub async fn weekly(&self, at_ms: Option<i64>) -> Result<WeeklySummary, WorklistError> {
        let now = at_ms.unwrap_or_else(|| self.now());
        let cal = &self.inner.cfg.calendar;
        let (from, to) = Period::Week
            .bounds(cal, now)
            .map_err(|e| WorklistError::Bad(e.to_string()))?;
        let visits = self.inner.store.visits_between(from, to).await?;
        let items = self
            .inner
            .store
            .work_items(&ItemFilter {
                from_ms: Some(from),
                to_ms: Some(to),
                ..ItemFilter::default()
            })
            .await?;
        // a past week is summed to its end, this week to now
        let upto = if to <= self.now() {
            to - 1
        } else {
            self.now().max(from)
        };
        kpi::weekly_summary(
            cal,
            &self.inner.cfg.quota,
            upto,
            &self.inner.cfg.agents,
            &visits,
            &items,
        )
        .map_err(|e| WorklistError::Bad(e.to_string()))
    }

    /// 已复电话百分比 and time to return of the items created in `[from_ms, to_ms)`.
    pub async fn returned(&self, from_ms: i64, to_ms: i64) -> Result<Returned, WorklistError> {
        let items = self
            .inner
            .store
            .work_items(&ItemFilter {
                from_ms: Some(from_ms),
                to_ms: Some(to_ms),
                ..ItemFilter::default()
            })
            .await?;
        Ok(kpi::returned(&items, from_ms, to_ms, self.now()))
    }
}

/// Every open item in the store.
async fn open_items(store: &Store) -> Result<Vec<WorkItem>, StoreError> {
    store
        .work_items(&ItemFilter {
            open: Some(true),
            ..ItemFilter::default()
        })
        .await
}

impl hotline_engine::outbound::DialPermit for Worklist {
    fn may_dial(&self, agent: &AgentId, number: &str) -> bool {
        Worklist::may_dial(self, agent, number)
    }
}

/// Hands every event of `input` to each of `outputs` (the live KPIs, the
/// work list), until the input ends; an output that is gone is dropped.
pub fn tee(
    mut input: mpsc::UnboundedReceiver<CallEvent>,
    mut outputs: Vec<mpsc::UnboundedSender<CallEvent>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = input.recv().await {
            outputs.retain(|o| o.send(e.clone()).is_ok());
        }
    })
}
