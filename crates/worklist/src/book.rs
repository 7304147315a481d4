//! The open work items, folded from the event log.
//!
//! [`WorkBook::handle_event`] takes every [`CallEvent`] as it happens and
//! answers with [`Action`]s for the store:
//!
//! - an inbound call that ends without an agent becomes an item: abandoned in
//!   the queue (or after the engine answered), refused (queue full or closed)
//!   or failed → `missed`; hung up while it still rang → `abandoned`; a
//!   voicemail → `voicemail`; a callback request → `callback`. A customer
//!   who calls again while owed a call is merged into the open item (one
//!   call back, `calls` counts them). Anonymous numbers make no item.
//! - an agent's call out (`arrived` with `dialled = outbound`) answered by
//!   the customer closes the open items of that number the agent may work
//!   (their own and their queues'), outcome `returned`; a return visit
//!   stays open for its record. A call out that is not answered counts an
//!   attempt; one refused by the dial rules (403) is counted as a refused dial.
//!
//! The book also answers [`WorkBook::may_dial`] for the engine's dial check.

use crate::item::{ItemKind, ItemOutcome, NewItem, Owner, Viewer, WorkItem};
use crate::normalize_number;
use hotline_core::{AgentId, CallEvent, CallId, EventKind, QueueId, OUTBOUND};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Inbound calls followed at most (oldest dropped past it).
const MAX_TRACKED: usize = 50_000;
/// A tracked call older than this is dropped (it ended without an end event).
const TRACK_TTL_MS: i64 = 24 * 3_600_000;

/// What the store must do after an event or a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create this item; insert it into the book with its id
    /// ([`WorkBook::insert`]).
    Create(NewItem),
    /// Another call of the customer merged into open item `id`.
    Merged {
        /// The item.
        id: i64,
    },
    /// A call to the customer that did not close item `id`.
    Attempt {
        /// The item.
        id: i64,
        /// The call.
        call_id: String,
    },
    /// An answered call for a return visit (the item stays open for its record).
    Visited {
        /// The item.
        id: i64,
        /// The call.
        call_id: String,
    },
    /// Item closed.
    Closed {
        /// The item as closed.
        item: Box<WorkItem>,
    },
    /// An agent's call out refused by the dial rules.
    DialRefused {
        /// The agent.
        agent: AgentId,
        /// The number dialled.
        number: String,
        /// Why.
        reason: String,
    },
}

#[derive(Clone, Debug)]
struct Inbound {
    number: Option<String>,
    queue: Option<QueueId>,
    arrived_ms: i64,
    queued: bool,
    blacklisted: bool,
}

#[derive(Clone, Debug)]
struct Outbound {
    agent: AgentId,
    number: String,
    answered: bool,
}

/// The open items and the calls being followed.
#[derive(Debug, Default)]
pub struct WorkBook {
    open: BTreeMap<i64, WorkItem>,
    by_number: HashMap<String, BTreeSet<i64>>,
    /// Queue → members (empty: every agent).
    queues: HashMap<QueueId, Vec<AgentId>>,
    default_queue: Option<QueueId>,
    deadline_ms: i64,
    inbound: HashMap<CallId, Inbound>,
    outbound: HashMap<CallId, Outbound>,
    callbacks: HashMap<CallId, String>,
    refused_dials: u64,
}

impl WorkBook {
    /// An empty book: items are due `deadline_ms` after they are made;
    /// `queues` maps each queue to its members (empty: every agent);
    /// unowned calls without a queue go to `default_queue`.
    pub fn new(
        deadline_ms: i64,
        queues: HashMap<QueueId, Vec<AgentId>>,
        default_queue: QueueId,
    ) -> Self {
        WorkBook {
            deadline_ms: deadline_ms.max(1),
            queues,
            default_queue: Some(default_queue),
            ..WorkBook::default()
        }
    }

    /// How long after creation an item is due, ms.
    pub fn deadline_ms(&self) -> i64 {
        self.deadline_ms
    }

    /// The viewer an agent is: themself and the queues they serve.
    pub fn viewer(&self, agent: &AgentId) -> Viewer {
        let mut queues: Vec<QueueId> = self
            .queues
            .iter()
            .filter(|(_, m)| m.is_empty() || m.contains(agent))
            .map(|(q, _)| q.clone())
            .collect();
        queues.sort();
        Viewer::Agent {
            agent: agent.clone(),
            queues,
        }
    }

    fn agent_sees(&self, agent: &AgentId, owner: &Owner) -> bool {
        match owner {
            Owner::Agent(a) => a == agent,
            // a queue not configured (any more) is open to every agent
            Owner::Queue(q) => self
                .queues
                .get(q)
                .is_none_or(|m| m.is_empty() || m.contains(agent)),
        }
    }

    /// Adds an item read from the store or just created (open items only;
    /// a closed one is ignored).
    pub fn insert(&mut self, item: WorkItem) {
        if !item.is_open() {
            return;
        }
        self.by_number
            .entry(item.new.number.clone())
            .or_default()
            .insert(item.id);
        self.open.insert(item.id, item);
    }

    /// Replaces every open item with `open` (read again from the shared
    /// store: the HA pair's node becoming active takes the other node's
    /// items, closings and raised alarms); the calls being followed and the
    /// refused-dial count stay.
    pub fn reload(&mut self, open: Vec<WorkItem>) {
        self.open.clear();
        self.by_number.clear();
        for i in open {
            self.insert(i);
        }
    }

    /// An open item.
    pub fn get(&self, id: i64) -> Option<&WorkItem> {
        self.open.get(&id)
    }

    /// Open items, oldest first.
    pub fn open_items(&self) -> impl Iterator<Item = &WorkItem> {
        self.open.values()
    }

    /// Open items `viewer` sees, oldest first.
    pub fn visible<'a>(&'a self, viewer: &'a Viewer) -> impl Iterator<Item = &'a WorkItem> {
        self.open.values().filter(move |i| i.visible_to(viewer))
    }

    /// How many items are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// How many open items are past their deadline at `now_ms`.
    pub fn overdue_count(&self, now_ms: i64) -> usize {
        self.open.values().filter(|i| i.is_overdue(now_ms)).count()
    }

    /// Calls out refused by the dial rules since start.
    pub fn refused_dials(&self) -> u64 {
        self.refused_dials
    }

    /// The "no private calls" rule's work-list half: `agent` may dial
    /// `number` when it is on one of the open items the agent may work
    /// (their own, or shared by one of their queues).
    pub fn may_dial(&self, agent: &AgentId, number: &str) -> bool {
        let Some(n) = normalize_number(number) else {
            return false;
        };
        self.by_number.get(&n).is_some_and(|ids| {
            ids.iter()
                .filter_map(|id| self.open.get(id))
                .any(|i| self.agent_sees(agent, &i.new.owner))
        })
    }

    /// Closes open item `id` with `outcome` at `now_ms` (by an agent or
    /// `api:<user>`); the closed item, or None if it is not open.
    pub fn close(
        &mut self,
        id: i64,
        outcome: ItemOutcome,
        now_ms: i64,
        by: &str,
    ) -> Option<WorkItem> {
        let mut item = self.open.remove(&id)?;
        if let Some(ids) = self.by_number.get_mut(&item.new.number) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_number.remove(&item.new.number);
            }
        }
        item.outcome = Some(outcome);
        item.closed_ms = Some(now_ms);
        item.closed_by = Some(by.to_string());
        Some(item)
    }

    /// A call to the customer of open item `id` that did not close it.
    pub fn count_attempt(&mut self, id: i64) {
        if let Some(i) = self.open.get_mut(&id) {
            i.attempts = i.attempts.saturating_add(1);
        }
    }

    /// Open items past their deadline whose alarm is not raised yet; they
    /// are marked raised (each item alarms once).
    pub fn due_alarms(&mut self, now_ms: i64) -> Vec<WorkItem> {
        let mut out = Vec::new();
        for item in self.open.values_mut() {
            if item.is_overdue(now_ms) && !item.alarmed {
                item.alarmed = true;
                out.push(item.clone());
            }
        }
        out
    }

    /// The item a new call of `kind` from `number` merges into: an open one
    /// of the same group (missed and abandoned together; voicemails; callbacks).
    fn merge_target(&self, number: &str, kind: ItemKind) -> Option<i64> {
        let group = |k: ItemKind| match k {
            ItemKind::Missed | ItemKind::Abandoned => 0,
            ItemKind::Voicemail => 1,
            ItemKind::Callback => 2,
            ItemKind::Promise => 3,
            ItemKind::ReturnVisit => 4,
        };
        self.by_number.get(number)?.iter().copied().find(|id| {
            self.open
                .get(id)
                .is_some_and(|i| group(i.new.kind) == group(kind) && group(kind) < 3)
        })
    }

    fn owed(&mut self, now_ms: i64, call: &CallId, t: &Inbound, kind: ItemKind) -> Vec<Action> {
        let Some(number) = t.number.clone() else {
            return Vec::new();
        };
        if t.blacklisted {
            return Vec::new();
        }
        if let Some(id) = self.merge_target(&number, kind) {
            if let Some(i) = self.open.get_mut(&id) {
                i.calls = i.calls.saturating_add(1);
            }
            return vec![Action::Merged { id }];
        }
        let queue = t
            .queue
            .clone()
            .or_else(|| self.default_queue.clone())
            .unwrap_or_else(|| QueueId::new("general"));
        vec![Action::Create(NewItem {
            kind,
            number,
            name: String::new(),
            card: String::new(),
            notes: String::new(),
            owner: Owner::Queue(queue),
            campaign: None,
            call_id: Some(call.as_str().to_string()),
            created_ms: now_ms,
            deadline_ms: now_ms.saturating_add(self.deadline_ms),
            preferred: String::new(),
            created_by: "event".into(),
        })]
    }

    fn prune(&mut self, now_ms: i64) {
        if self.inbound.len() < MAX_TRACKED {
            return;
        }
        self.inbound
            .retain(|_, t| now_ms - t.arrived_ms < TRACK_TTL_MS);
        if self.inbound.len() >= MAX_TRACKED {
            // still full: drop the oldest half
            let mut ages: Vec<i64> = self.inbound.values().map(|t| t.arrived_ms).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.inbound.retain(|_, t| t.arrived_ms > cut);
        }
        if self.outbound.len() >= MAX_TRACKED {
            self.outbound.clear();
        }
        if self.callbacks.len() >= MAX_TRACKED {
            self.callbacks.clear();
        }
    }

    /// Folds one event; what the store must record.
    pub fn handle_event(&mut self, e: &CallEvent) -> Vec<Action> {
        let now = e.at_ms;
        let Some(call) = e.call_id.clone() else {
            return Vec::new();
        };
        if let EventKind::Arrived {
            caller, dialled, ..
        } = &e.kind
        {
            self.prune(now);
            let number = normalize_number(&caller.number);
            if dialled == OUTBOUND {
                if let (Some(agent), Some(number)) = (e.agent.clone(), number) {
                    self.outbound.insert(
                        call,
                        Outbound {
                            agent,
                            number,
                            answered: false,
                        },
                    );
                }
            } else {
                self.inbound.insert(
                    call,
                    Inbound {
                        number,
                        queue: e.queue.clone(),
                        arrived_ms: now,
                        queued: false,
                        blacklisted: false,
                    },
                );
            }
            return Vec::new();
        }
        if self.outbound.contains_key(&call) {
            return self.on_outbound(now, &call, e);
        }
        if let Some(number) = self.callbacks.get(&call).cloned() {
            return self.on_callback_call(now, &call, &number, e);
        }
        let Some(t) = self.inbound.get_mut(&call) else {
            return Vec::new();
        };
        if e.queue.is_some() {
            t.queue = e.queue.clone();
        }
        match &e.kind {
            EventKind::Queued { .. } | EventKind::SystemAnswered { .. } => {
                t.queued = true;
                Vec::new()
            }
            EventKind::Blacklisted { .. } => {
                t.blacklisted = true;
                Vec::new()
            }
            EventKind::Abandoned { position, .. } => {
                let kind = if t.queued || *position > 0 {
                    ItemKind::Missed
                } else {
                    ItemKind::Abandoned
                };
                let t = t.clone();
                self.inbound.remove(&call);
                self.owed(now, &call, &t, kind)
            }
            EventKind::VoicemailLeft { .. } => {
                let t = t.clone();
                self.inbound.remove(&call);
                self.owed(now, &call, &t, ItemKind::Voicemail)
            }
            EventKind::CallbackRequested { callback, .. } => {
                let t = t.clone();
                self.inbound.remove(&call);
                let actions = self.owed(now, &call, &t, ItemKind::Callback);
                if let Some(n) = t.number {
                    self.callbacks.insert(callback.clone(), n);
                }
                actions
            }
            // refused before an agent: the queue full (486), closed (480),
            // unavailable (503); not a blacklist's or the dial rules' 403/603
            EventKind::Rejected { status, .. } if !matches!(status, 403 | 603) => {
                let t = t.clone();
                self.inbound.remove(&call);
                self.owed(now, &call, &t, ItemKind::Missed)
            }
            EventKind::Failed { .. } => {
                let t = t.clone();
                self.inbound.remove(&call);
                self.owed(now, &call, &t, ItemKind::Missed)
            }
            EventKind::AgentAnswered { .. }
            | EventKind::Rejected { .. }
            | EventKind::SilentLine { .. }
            | EventKind::Completed { .. } => {
                self.inbound.remove(&call);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The open items of `number` that `agent` may work.
    fn workable(&self, agent: &AgentId, number: &str) -> Vec<i64> {
        self.by_number
            .get(number)
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| {
                        self.open
                            .get(id)
                            .is_some_and(|i| self.agent_sees(agent, &i.new.owner))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn on_outbound(&mut self, now: i64, call: &CallId, e: &CallEvent) -> Vec<Action> {
        let Some(t) = self.outbound.get(call).cloned() else {
            return Vec::new();
        };
        match &e.kind {
            EventKind::AgentAnswered { .. } if !t.answered => {
                if let Some(o) = self.outbound.get_mut(call) {
                    o.answered = true;
                }
                let mut out = Vec::new();
                for id in self.workable(&t.agent, &t.number) {
                    let visit = self
                        .open
                        .get(&id)
                        .is_some_and(|i| i.new.kind == ItemKind::ReturnVisit);
                    if visit {
                        if let Some(i) = self.open.get_mut(&id) {
                            i.attempts = i.attempts.saturating_add(1);
                            i.last_call = Some(call.as_str().to_string());
                        }
                        out.push(Action::Visited {
                            id,
                            call_id: call.as_str().to_string(),
                        });
                    } else if let Some(item) =
                        self.close(id, ItemOutcome::Returned, now, t.agent.as_str())
                    {
                        out.push(Action::Closed {
                            item: Box::new(item),
                        });
                    }
                }
                out
            }
            EventKind::Rejected { status, reason } => {
                self.outbound.remove(call);
                if *status == 403 {
                    self.refused_dials += 1;
                    return vec![Action::DialRefused {
                        agent: t.agent,
                        number: t.number,
                        reason: reason.clone(),
                    }];
                }
                self.attempts(call, &t)
            }
            EventKind::Completed { .. } | EventKind::Failed { .. } => {
                self.outbound.remove(call);
                if t.answered {
                    Vec::new()
                } else {
                    self.attempts(call, &t)
                }
            }
            _ => Vec::new(),
        }
    }

    fn attempts(&mut self, call: &CallId, t: &Outbound) -> Vec<Action> {
        let mut out = Vec::new();
        for id in self.workable(&t.agent, &t.number) {
            if let Some(i) = self.open.get_mut(&id) {
                i.attempts = i.attempts.saturating_add(1);
                i.last_call = Some(call.as_str().to_string());
                out.push(Action::Attempt {
                    id,
                    call_id: call.as_str().to_string(),
                });
            }
        }
        out
    }

    /// The engine's callback call (the caller pressed the callback key): a
    /// talk closes the callback item, a failed attempt counts.
    fn on_callback_call(
        &mut self,
        now: i64,
        call: &CallId,
        number: &str,
        e: &CallEvent,
    ) -> Vec<Action> {
        let ids: Vec<i64> = self
            .by_number
            .get(number)
            .map(|s| {
                s.iter()
                    .copied()
                    .filter(|id| {
                        self.open
                            .get(id)
                            .is_some_and(|i| i.new.kind == ItemKind::Callback)
                    })
                    .collect()
            })
            .unwrap_or_default();
        match &e.kind {
            EventKind::Completed { talk_ms, .. } if *talk_ms > 0 => {
                self.callbacks.remove(call);
                let by = e
                    .agent
                    .as_ref()
                    .map_or_else(|| "callback".to_string(), |a| a.as_str().to_string());
                ids.into_iter()
                    .filter_map(|id| self.close(id, ItemOutcome::Returned, now, &by))
                    .map(|item| Action::Closed {
                        item: Box::new(item),
                    })
                    .collect()
            }
            EventKind::CallbackAttemptFailed { .. } => ids
                .into_iter()
                .filter_map(|id| {
                    let i = self.open.get_mut(&id)?;
                    i.attempts = i.attempts.saturating_add(1);
                    Some(Action::Attempt {
                        id,
                        call_id: call.as_str().to_string(),
                    })
                })
                .collect(),
            EventKind::CallbackExpired { .. } | EventKind::Completed { .. } => {
                self.callbacks.remove(call);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::DEFAULT_DEADLINE_MS;
    use hotline_core::{CallType, EndedBy, Party};

    const MIN: i64 = 60_000;

    fn ev(
        at: i64,
        call: &str,
        agent: Option<&str>,
        queue: Option<&str>,
        kind: EventKind,
    ) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: agent.map(AgentId::new),
            queue: queue.map(QueueId::new),
            kind,
        }
    }

    fn arrived(at: i64, call: &str, number: &str, dialled: &str, agent: Option<&str>) -> CallEvent {
        ev(
            at,
            call,
            agent,
            Some("general"),
            EventKind::Arrived {
                caller: Party {
                    number: number.into(),
                    display: None,
                },
                dialled: dialled.into(),
                call_type: CallType::Inquiry,
            },
        )
    }

    fn book() -> WorkBook {
        let mut q = HashMap::new();
        q.insert(QueueId::new("general"), Vec::new());
        q.insert(QueueId::new("vip"), vec![AgentId::new("1002")]);
        WorkBook::new(DEFAULT_DEADLINE_MS, q, QueueId::new("general"))
    }

    /// Applies the actions like the service does: creates get ids 1, 2, ...
    fn feed(b: &mut WorkBook, next: &mut i64, e: CallEvent) -> Vec<Action> {
        let actions = b.handle_event(&e);
        for a in &actions {
            if let Action::Create(n) = a {
                *next += 1;
                b.insert(WorkItem::open(*next, n.clone()));
            }
        }
        actions
    }

    fn abandoned_call(
        b: &mut WorkBook,
        next: &mut i64,
        at: i64,
        call: &str,
        number: &str,
        queued: bool,
    ) {
        feed(b, next, arrived(at, call, number, "400100", None));
        if queued {
            feed(
                b,
                next,
                ev(
                    at + 11_000,
                    call,
                    None,
                    Some("general"),
                    EventKind::SystemAnswered { rings: 3 },
                ),
            );
        }
        feed(
            b,
            next,
            ev(
                at + 20_000,
                call,
                None,
                Some("general"),
                EventKind::Abandoned {
                    wait_ms: 20_000,
                    position: u32::from(queued),
                },
            ),
        );
    }

    fn dial(
        b: &mut WorkBook,
        next: &mut i64,
        at: i64,
        call: &str,
        agent: &str,
        number: &str,
        answered: bool,
    ) -> Vec<Action> {
        let mut out = feed(b, next, arrived(at, call, number, OUTBOUND, Some(agent)));
        if answered {
            out.extend(feed(
                b,
                next,
                ev(
                    at + 5_000,
                    call,
                    Some(agent),
                    None,
                    EventKind::AgentAnswered {
                        wait_ms: 0,
                        rings: 0,
                        limit_ms: None,
                    },
                ),
            ));
            out.extend(feed(
                b,
                next,
                ev(
                    at + 65_000,
                    call,
                    Some(agent),
                    None,
                    EventKind::Completed {
                        ended_by: EndedBy::Agent,
                        talk_ms: 60_000,
                    },
                ),
            ));
        } else {
            out.extend(feed(
                b,
                next,
                ev(
                    at + 30_000,
                    call,
                    Some(agent),
                    None,
                    EventKind::Failed {
                        reason: "no answer".into(),
                    },
                ),
            ));
        }
        out
    }

    #[test]
    fn a_call_abandoned_in_the_queue_is_missed_one_while_ringing_is_abandoned() {
        let mut b = book();
        let mut next = 0;
        abandoned_call(&mut b, &mut next, 0, "c1", "0612345678", true);
        abandoned_call(&mut b, &mut next, MIN, "c2", "0698765432", false);
        let items: Vec<_> = b.open_items().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].new.kind, ItemKind::Missed);
        assert_eq!(items[0].new.number, "0612345678");
        assert_eq!(items[0].new.owner, Owner::Queue(QueueId::new("general")));
        assert_eq!(items[0].new.created_ms, 20_000);
        assert_eq!(items[0].new.deadline_ms, 20_000 + 24 * 60 * MIN);
        assert_eq!(items[0].new.call_id.as_deref(), Some("c1"));
        assert_eq!(items[1].new.kind, ItemKind::Abandoned);
    }

    #[test]
    fn a_customer_who_calls_three_times_is_owed_one_call_back() {
        let mut b = book();
        let mut next = 0;
        abandoned_call(&mut b, &mut next, 0, "c1", "0612345678", true);
        abandoned_call(&mut b, &mut next, MIN, "c2", "0612 345 678", false);
        feed(
            &mut b,
            &mut next,
            arrived(2 * MIN, "c3", "0612345678", "400100", None),
        );
        let a = feed(
            &mut b,
            &mut next,
            ev(
                2 * MIN + 5,
                "c3",
                None,
                Some("general"),
                EventKind::Rejected {
                    status: 486,
                    reason: "queue full".into(),
                },
            ),
        );
        assert_eq!(a, vec![Action::Merged { id: 1 }]);
        assert_eq!(b.open_count(), 1);
        assert_eq!(b.get(1).map(|i| i.calls), Some(3));
        // a voicemail of the same number is its own item (a message to hear)
        feed(
            &mut b,
            &mut next,
            arrived(3 * MIN, "c4", "0612345678", "400100", None),
        );
        feed(
            &mut b,
            &mut next,
            ev(
                3 * MIN + 40_000,
                "c4",
                None,
                Some("general"),
                EventKind::VoicemailLeft {
                    path: None,
                    duration_ms: 9_000,
                },
            ),
        );
        assert_eq!(b.open_count(), 2);
        assert_eq!(b.get(2).map(|i| i.new.kind), Some(ItemKind::Voicemail));
    }

    #[test]
    fn answered_silent_blacklisted_and_anonymous_calls_make_no_item() {
        let mut b = book();
        let mut next = 0;
        feed(&mut b, &mut next, arrived(0, "a", "0611", "400100", None));
        feed(
            &mut b,
            &mut next,
            ev(
                1,
                "a",
                Some("1001"),
                Some("general"),
                EventKind::AgentAnswered {
                    wait_ms: 1,
                    rings: 1,
                    limit_ms: None,
                },
            ),
        );
        feed(
            &mut b,
            &mut next,
            ev(
                9,
                "a",
                Some("1001"),
                Some("general"),
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: 8,
                },
            ),
        );
        feed(&mut b, &mut next, arrived(10, "s", "0612", "400100", None));
        feed(
            &mut b,
            &mut next,
            ev(
                20,
                "s",
                None,
                None,
                EventKind::SilentLine { silent_ms: 8000 },
            ),
        );
        feed(&mut b, &mut next, arrived(30, "x", "0613", "400100", None));
        feed(
            &mut b,
            &mut next,
            ev(
                31,
                "x",
                None,
                None,
                EventKind::Blacklisted {
                    entry: "0613".into(),
                    action: "reject".into(),
                    reason: "abuse".into(),
                },
            ),
        );
        feed(
            &mut b,
            &mut next,
            ev(
                32,
                "x",
                None,
                None,
                EventKind::Rejected {
                    status: 603,
                    reason: "blacklisted".into(),
                },
            ),
        );
        feed(
            &mut b,
            &mut next,
            arrived(40, "y", "anonymous", "400100", None),
        );
        feed(
            &mut b,
            &mut next,
            ev(
                50,
                "y",
                None,
                Some("general"),
                EventKind::Abandoned {
                    wait_ms: 10,
                    position: 1,
                },
            ),
        );
        assert_eq!(b.open_count(), 0);
    }

    #[test]
    fn an_answered_call_from_a_queue_member_closes_it_an_unanswered_one_counts_an_attempt() {
        let mut b = book();
        let mut next = 0;
        abandoned_call(&mut b, &mut next, 0, "c1", "0612345678", true);
        assert!(b.may_dial(&AgentId::new("1001"), "0612-345678"));
        assert!(!b.may_dial(&AgentId::new("1001"), "0699999999"));
        let a = dial(
            &mut b,
            &mut next,
            10 * MIN,
            "o1",
            "1001",
            "0612345678",
            false,
        );
        assert_eq!(
            a,
            vec![Action::Attempt {
                id: 1,
                call_id: "o1".into()
            }]
        );
        assert_eq!(b.get(1).map(|i| i.attempts), Some(1));
        let a = dial(
            &mut b,
            &mut next,
            20 * MIN,
            "o2",
            "1001",
            "0612345678",
            true,
        );
        let Action::Closed { item } = &a[0] else {
            panic!("{a:?}")
        };
        assert_eq!(item.outcome, Some(ItemOutcome::Returned));
        assert_eq!(item.closed_ms, Some(20 * MIN + 5_000));
        assert_eq!(item.closed_by.as_deref(), Some("1001"));
        assert_eq!(item.time_to_close_ms(), Some(20 * MIN + 5_000 - 20_000));
        assert!(item.closed_in_time());
        assert_eq!(b.open_count(), 0);
        assert!(!b.may_dial(&AgentId::new("1001"), "0612345678"));
    }

    #[test]
    fn another_agents_promise_and_another_queues_item_are_neither_dialled_nor_closed() {
        let mut b = book();
        let promise = NewItem {
            kind: ItemKind::Promise,
            number: "0655".into(),
            name: "王".into(),
            card: String::new(),
            notes: "refund".into(),
            owner: Owner::Agent(AgentId::new("1002")),
            campaign: None,
            call_id: None,
            created_ms: 0,
            deadline_ms: DEFAULT_DEADLINE_MS,
            preferred: String::new(),
            created_by: "api:1002".into(),
        };
        b.insert(WorkItem::open(7, promise.clone()));
        b.insert(WorkItem::open(
            8,
            NewItem {
                kind: ItemKind::Missed,
                number: "0656".into(),
                owner: Owner::Queue(QueueId::new("vip")),
                ..promise
            },
        ));
        let (a1, a2) = (AgentId::new("1001"), AgentId::new("1002"));
        assert!(!b.may_dial(&a1, "0655"));
        assert!(!b.may_dial(&a1, "0656"));
        assert!(b.may_dial(&a2, "0655"));
        assert!(b.may_dial(&a2, "0656"));
        let mut next = 100;
        let a = dial(&mut b, &mut next, MIN, "o1", "1001", "0655", true);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(b.open_count(), 2);
        let a = dial(&mut b, &mut next, 2 * MIN, "o2", "1002", "0655", true);
        assert!(matches!(&a[..], [Action::Closed { item }] if item.id == 7));
        assert_eq!(
            b.viewer(&a1),
            Viewer::Agent {
                agent: a1.clone(),
                queues: vec![QueueId::new("general")]
            }
        );
    }

    #[test]
    fn a_refused_dial_is_counted_and_a_return_visit_stays_open_for_its_record() {
        let mut b = book();
        let mut next = 0;
        feed(
            &mut b,
            &mut next,
            arrived(0, "o1", "13800000000", OUTBOUND, Some("1001")),
        );
        let a = feed(
            &mut b,
            &mut next,
            ev(
                1,
                "o1",
                Some("1001"),
                None,
                EventKind::Rejected {
                    status: 403,
                    reason: "not an allowed number".into(),
                },
            ),
        );
        assert_eq!(
            a,
            vec![Action::DialRefused {
                agent: AgentId::new("1001"),
                number: "13800000000".into(),
                reason: "not an allowed number".into()
            }]
        );
        assert_eq!(b.refused_dials(), 1);
        let visit = NewItem {
            kind: ItemKind::ReturnVisit,
            number: "0677".into(),
            name: "李".into(),
            card: "M001".into(),
            notes: String::new(),
            owner: Owner::Agent(AgentId::new("1001")),
            campaign: Some(1),
            call_id: None,
            created_ms: 0,
            deadline_ms: 7 * DEFAULT_DEADLINE_MS,
            preferred: "after 13:10".into(),
            created_by: "import:sup".into(),
        };
        b.insert(WorkItem::open(5, visit));
        let a = dial(&mut b, &mut next, MIN, "o2", "1001", "0677", true);
        assert_eq!(
            a,
            vec![Action::Visited {
                id: 5,
                call_id: "o2".into()
            }]
        );
        assert_eq!(
            b.get(5).and_then(|i| i.last_call.clone()).as_deref(),
            Some("o2")
        );
    }

    #[test]
    fn overdue_items_alarm_once() {
        let mut b = book();
        let mut next = 0;
        abandoned_call(&mut b, &mut next, 0, "c1", "0612", true);
        let due = 20_000 + DEFAULT_DEADLINE_MS;
        assert!(b.due_alarms(due).is_empty());
        assert_eq!(b.overdue_count(due + 1), 1);
        assert_eq!(b.due_alarms(due + 1).len(), 1);
        assert!(b.due_alarms(due + 2).is_empty());
    }

    #[test]
    fn a_callback_request_is_closed_by_the_callback_talk() {
        let mut b = book();
        let mut next = 0;
        feed(&mut b, &mut next, arrived(0, "c1", "0612", "400100", None));
        feed(
            &mut b,
            &mut next,
            ev(
                30_000,
                "c1",
                None,
                Some("general"),
                EventKind::CallbackRequested {
                    number: "0612".into(),
                    callback: CallId::from_stored("cb1"),
                    deadline_ms: DEFAULT_DEADLINE_MS,
                },
            ),
        );
        assert_eq!(b.get(1).map(|i| i.new.kind), Some(ItemKind::Callback));
        let a = feed(
            &mut b,
            &mut next,
            ev(
                60_000,
                "cb1",
                None,
                None,
                EventKind::CallbackAttemptFailed {
                    attempt: 1,
                    reason: "busy".into(),
                },
            ),
        );
        assert_eq!(
            a,
            vec![Action::Attempt {
                id: 1,
                call_id: "cb1".into()
            }]
        );
        let a = feed(
            &mut b,
            &mut next,
            ev(
                90_000,
                "cb1",
                Some("1003"),
                None,
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: 40_000,
                },
            ),
        );
        assert!(
            matches!(&a[..], [Action::Closed { item }] if item.closed_by.as_deref() == Some("1003"))
        );
    }

    #[test]
    fn a_day_of_ten_thousand_missed_calls_runs_in_milliseconds_and_stays_bounded() {
        let mut b = book();
        let mut next = 0;
        for i in 0..10_000i64 {
            let call = format!("c{i}");
            // 100 distinct customers
            abandoned_call(
                &mut b,
                &mut next,
                i * 8_000,
                &call,
                &format!("06{:04}", i % 100),
                true,
            );
            // calls without an end are dropped eventually
            feed(
                &mut b,
                &mut next,
                arrived(i * 8_000, &format!("dangling{i}"), "0600", "400100", None),
            );
        }
        assert_eq!(b.open_count(), 100);
        assert_eq!(b.get(1).map(|i| i.calls), Some(100));
        assert!(b.inbound.len() <= MAX_TRACKED);
    }
}
