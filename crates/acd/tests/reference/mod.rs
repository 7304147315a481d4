//! The ACD's routing as it was before the index (commit 8fb001f): a
//! straightforward scan of waiting calls × queue members on every poll.
//! Kept verbatim (renamed `ReferenceAcd`) as the oracle the indexed `Acd` is
//! compared with, offer for offer, in `tests/indexed_equals_reference.rs`.

#![allow(dead_code)]

use hotline_acd::{
    default_queue, AcdConfig, AgentCounters, AgentState, CallRequest, EnqueueRefused, LeaveRefused,
    Notice, Offer, QueueConfig, RingResult, SkillNeed, Strategy, WaitingCall, HANDLE_HISTORY,
    MISSED_CALLS_REASON,
};
use hotline_core::{AgentId, CallId, QueueId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

struct Agent {
    state: AgentState,
    counters: AgentCounters,
    skills: BTreeMap<String, u8>,
    on_call_since: i64,
    /// Queue of the call being handled (for its wrap-up time).
    call_queue: Option<QueueId>,
    /// A pause asked for while ringing or talking: applied when that ends.
    pending_pause: Option<(String, i64)>,
}

struct Queue {
    cfg: QueueConfig,
    /// Index in the member order of the agent offered last (round robin).
    last: Option<AgentId>,
    /// Handle times (talk + wrap-up, ms) of the queue's last calls, newest
    /// last, at most [`HANDLE_HISTORY`].
    recent_handles: std::collections::VecDeque<i64>,
    /// Inside its open hours (minimum staffing only holds then).
    open: bool,
}

/// How many recent handle times a queue keeps for its expected wait.
struct Waiting {
    call: CallId,
    queue: QueueId,
    request: CallRequest,
    since_ms: i64,
    seq: u64,
    /// Agents already tried in the current round (cleared when all were tried).
    tried: BTreeSet<AgentId>,
    /// Agents currently ringing for this call (several with ring-all).
    ringing: Vec<AgentId>,
}

/// The ACD: queues of waiting calls and the agents who serve them.
pub struct ReferenceAcd {
    cfg: AcdConfig,
    agents: HashMap<AgentId, Agent>,
    queues: Vec<Queue>,
    waiting: Vec<Waiting>,
    notices: Vec<Notice>,
    seq: u64,
}

impl ReferenceAcd {
    /// An ACD with the default queue (`general`: every agent, longest idle),
    /// no agents and no calls.
    pub fn new(cfg: AcdConfig) -> Self {
        ReferenceAcd {
            cfg,
            agents: HashMap::new(),
            queues: vec![Queue {
                cfg: QueueConfig::new(default_queue()),
                last: None,
                recent_handles: Default::default(),
                open: true,
            }],
            waiting: Vec::new(),
            notices: Vec::new(),
            seq: 0,
        }
    }

    /// Adds a queue, or replaces the settings of one with the same id.
    pub fn set_queue(&mut self, cfg: QueueConfig) {
        match self.queues.iter_mut().find(|q| q.cfg.id == cfg.id) {
            Some(q) => q.cfg = cfg,
            None => self.queues.push(Queue {
                cfg,
                last: None,
                recent_handles: Default::default(),
                open: true,
            }),
        }
    }

    /// Sets an agent's skills (name → proficiency 1–100).
    pub fn set_skills(&mut self, agent: &AgentId, skills: BTreeMap<String, u8>) {
        self.agent_mut(agent).skills = skills;
    }

    fn agent_mut(&mut self, agent: &AgentId) -> &mut Agent {
        self.agents.entry(agent.clone()).or_insert(Agent {
            state: AgentState::LoggedOut,
            counters: AgentCounters::default(),
            skills: BTreeMap::new(),
            on_call_since: 0,
            call_queue: None,
            pending_pause: None,
        })
    }

    /// The agent's current state (LoggedOut if unknown).
    pub fn agent_state(&self, agent: &AgentId) -> AgentState {
        self.agents
            .get(agent)
            .map(|a| a.state.clone())
            .unwrap_or(AgentState::LoggedOut)
    }

    /// The agent's counters.
    pub fn counters(&self, agent: &AgentId) -> AgentCounters {
        self.agents
            .get(agent)
            .map(|a| a.counters)
            .unwrap_or_default()
    }

    /// Notices since the last call (auto-pauses, overrides, max waits).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The agent's phone registered: available unless already in another state.
    pub fn agent_logged_in(&mut self, agent: &AgentId, now: i64) {
        let a = self.agent_mut(agent);
        if a.state == AgentState::LoggedOut {
            a.state = AgentState::Available { since_ms: now };
        }
    }

    /// The agent's last registration is gone. A call in progress is not cut;
    /// the agent simply gets no new offers. (A phone going away cannot be
    /// refused; use [`Acd::logout`] for a requested logout.)
    pub fn agent_logged_out(&mut self, agent: &AgentId) {
        if let Some(a) = self.agents.get_mut(agent) {
            if matches!(
                a.state,
                AgentState::Available { .. }
                    | AgentState::WrapUp { .. }
                    | AgentState::Paused { .. }
            ) {
                a.state = AgentState::LoggedOut;
            }
        }
    }

    fn is_member(q: &QueueConfig, agent: &AgentId) -> bool {
        q.members.is_empty() || q.members.contains(agent)
    }

    fn staffed(&self, q: &QueueConfig) -> u32 {
        self.agents
            .iter()
            .filter(|(id, a)| {
                Self::is_member(q, id)
                    && !matches!(a.state, AgentState::LoggedOut | AgentState::Paused { .. })
            })
            .count() as u32
    }

    /// Staffed (logged in, not paused) agents of a queue.
    pub fn staffed_agents(&self, queue: &QueueId) -> u32 {
        self.queues
            .iter()
            .find(|q| &q.cfg.id == queue)
            .map(|q| self.staffed(&q.cfg))
            .unwrap_or(0)
    }

    /// Checks that `agent` may stop taking calls; with `override_by` (a
    /// supervisor) a shortfall is allowed and reported as a notice.
    fn may_leave(
        &mut self,
        agent: &AgentId,
        override_by: Option<&str>,
    ) -> Result<(), LeaveRefused> {
        let staffed_now = matches!(
            self.agents.get(agent).map(|a| &a.state),
            Some(
                AgentState::Available { .. }
                    | AgentState::Ringing
                    | AgentState::OnCall
                    | AgentState::WrapUp { .. }
            )
        );
        if !staffed_now {
            return if matches!(self.agent_state(agent), AgentState::Paused { .. }) {
                Ok(())
            } else {
                Err(LeaveRefused::NotLoggedIn)
            };
        }
        let mut short = Vec::new();
        for q in &self.queues {
            if q.open && Self::is_member(&q.cfg, agent) && q.cfg.min_staffed > 0 {
                let after = self.staffed(&q.cfg).saturating_sub(1);
                if after < q.cfg.min_staffed {
                    short.push((q.cfg.id.clone(), after, q.cfg.min_staffed));
                }
            }
        }
        match (short.first(), override_by) {
            (None, _) => Ok(()),
            (Some((queue, after, min)), None) => Err(LeaveRefused::BelowMinimum {
                queue: queue.clone(),
                staffed_after: *after,
                minimum: *min,
            }),
            (Some(_), Some(by)) => {
                for (queue, _, _) in short {
                    self.notices.push(Notice::MinimumOverridden {
                        agent: agent.clone(),
                        queue,
                        by: by.to_string(),
                    });
                }
                Ok(())
            }
        }
    }

    /// Pauses an agent with a reason. Refused if a queue would fall below its
    /// minimum staffing, unless a supervisor overrides (`override_by`). An
    /// agent who is ringing or on a call keeps that call: the pause starts when
    /// the call (and its wrap-up) ends.
    pub fn pause(
        &mut self,
        agent: &AgentId,
        reason: &str,
        now: i64,
        override_by: Option<&str>,
    ) -> Result<(), LeaveRefused> {
        self.may_leave(agent, override_by)?;
        let a = self.agent_mut(agent);
        match a.state {
            // a ringing or talking agent keeps the call; the pause applies after it
            AgentState::Ringing | AgentState::OnCall => {
                a.pending_pause = Some((reason.to_string(), now))
            }
            _ => {
                a.state = AgentState::Paused {
                    reason: reason.to_string(),
                    since_ms: now,
                }
            }
        }
        Ok(())
    }

    /// Ends a pause: the agent is available (misses in a row are forgiven).
    pub fn unpause(&mut self, agent: &AgentId, now: i64) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.pending_pause = None;
            if matches!(a.state, AgentState::Paused { .. }) {
                a.state = AgentState::Available { since_ms: now };
                a.counters.consecutive_missed = 0;
            }
        }
    }

    /// An agent asks to log out: refused below a queue's minimum unless a
    /// supervisor overrides.
    pub fn logout(
        &mut self,
        agent: &AgentId,
        override_by: Option<&str>,
    ) -> Result<(), LeaveRefused> {
        self.may_leave(agent, override_by)?;
        self.agent_logged_out(agent);
        Ok(())
    }

    /// A caller waits for an agent in the default queue.
    pub fn enqueue(&mut self, call: CallId, now: i64) {
        // the default queue has no length limit unless configured; a refusal
        // there is reported by enqueue_in to callers who care
        let _ = self.enqueue_in(&default_queue(), call, CallRequest::default(), now);
    }

    /// A caller waits in `queue`; returns their position (1 = next).
    pub fn enqueue_in(
        &mut self,
        queue: &QueueId,
        call: CallId,
        request: CallRequest,
        now: i64,
    ) -> Result<u32, EnqueueRefused> {
        let Some(q) = self.queues.iter().find(|q| &q.cfg.id == queue) else {
            return Err(EnqueueRefused::UnknownQueue(queue.clone()));
        };
        if self.waiting.iter().any(|w| w.call == call) {
            return Ok(self.position(&call).unwrap_or(1));
        }
        let waiting = self.waiting.iter().filter(|w| &w.queue == queue).count();
        if q.cfg.max_len.is_some_and(|m| waiting >= m) {
            return Err(EnqueueRefused::QueueFull { waiting });
        }
        self.seq += 1;
        self.waiting.push(Waiting {
            call: call.clone(),
            queue: queue.clone(),
            request,
            since_ms: now,
            seq: self.seq,
            tried: BTreeSet::new(),
            ringing: Vec::new(),
        });
        Ok(self.position(&call).unwrap_or(1))
    }

    fn order_key(w: &Waiting) -> (std::cmp::Reverse<u8>, i64, u64) {
        (std::cmp::Reverse(w.request.priority), w.since_ms, w.seq)
    }

    /// Says whether a queue is inside its open hours; outside them its
    /// minimum staffing does not hold (the last agent may leave at closing).
    /// Queues are open until told otherwise.
    pub fn set_queue_open(&mut self, queue: &QueueId, open: bool) {
        if let Some(q) = self.queues.iter_mut().find(|q| &q.cfg.id == queue) {
            q.open = open;
        }
    }

    /// Gives a waiting call a new id, keeping its queue, priority and place
    /// (a caller who asked for a callback keeps their turn); false if `old`
    /// is not waiting.
    pub fn rename_call(&mut self, old: &CallId, new: CallId, now: i64) -> bool {
        // (a fix made after the index: agents still ringing for the old
        // call are let go)
        let ringing = self
            .waiting
            .iter()
            .find(|w| &w.call == old)
            .map(|w| w.ringing.clone())
            .unwrap_or_default();
        for agent in ringing {
            self.ring_result(old, &agent, RingResult::CallerGone, now);
        }
        match self.waiting.iter_mut().find(|w| &w.call == old) {
            Some(w) => {
                w.call = new;
                true
            }
            None => false,
        }
    }

    /// Position of a waiting call in its queue (1 = next), or None.
    pub fn position(&self, call: &CallId) -> Option<u32> {
        let me = self.waiting.iter().find(|w| &w.call == call)?;
        let ahead = self
            .waiting
            .iter()
            .filter(|w| w.queue == me.queue && Self::order_key(w) < Self::order_key(me))
            .count();
        Some(ahead as u32 + 1)
    }

    /// Calls waiting in all queues (including those whose agent is ringing).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The calls waiting in `queue`, next first (for the wallboard).
    pub fn waiting_calls(&self, queue: &QueueId) -> Vec<WaitingCall> {
        let mut w: Vec<&Waiting> = self.waiting.iter().filter(|w| &w.queue == queue).collect();
        w.sort_by_key(|w| Self::order_key(w));
        w.into_iter()
            .map(|w| WaitingCall {
                call: w.call.clone(),
                since_ms: w.since_ms,
                priority: w.request.priority,
                ringing: w.ringing.clone(),
            })
            .collect()
    }

    /// The configured queues' ids, in order.
    pub fn queue_ids(&self) -> Vec<QueueId> {
        self.queues.iter().map(|q| q.cfg.id.clone()).collect()
    }

    /// Whether `queue` is inside its open hours (as last set).
    pub fn queue_open(&self, queue: &QueueId) -> bool {
        self.queues.iter().any(|q| &q.cfg.id == queue && q.open)
    }

    /// Calls waiting in one queue.
    pub fn waiting_in(&self, queue: &QueueId) -> usize {
        self.waiting.iter().filter(|w| &w.queue == queue).count()
    }

    /// The caller left (abandoned or failed): drop the call; an agent ringing
    /// for it is freed.
    pub fn remove_call(&mut self, call: &CallId, now: i64) {
        if let Some(i) = self.waiting.iter().position(|w| &w.call == call) {
            for agent in self.waiting[i].ringing.clone() {
                self.ring_result(call, &agent, RingResult::CallerGone, now);
            }
            self.waiting.retain(|w| &w.call != call);
        }
    }

    /// Reports what came of ringing `agent` for `call`.
    pub fn ring_result(&mut self, call: &CallId, agent: &AgentId, result: RingResult, now: i64) {
        let mut queue = None;
        // (a fix made after the index: a result for an offer that is over
        // changes nothing; the agent may be ringing for another call)
        let rang_for_it = self
            .waiting
            .iter()
            .any(|w| &w.call == call && w.ringing.contains(agent));
        if !rang_for_it {
            return;
        }
        if let Some(w) = self.waiting.iter_mut().find(|w| &w.call == call) {
            w.ringing.retain(|a| a != agent);
            queue = Some(w.queue.clone());
        }
        let auto_pause = self.cfg.auto_pause_after_misses;
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let was_ringing = a.state == AgentState::Ringing;
        match result {
            RingResult::Answered => {
                a.state = AgentState::OnCall;
                a.on_call_since = now;
                a.call_queue = queue;
                a.counters.answered += 1;
                a.counters.consecutive_missed = 0;
                // ring-all: the others ringing for it are let go (not a miss)
                let others = self
                    .waiting
                    .iter()
                    .find(|w| &w.call == call)
                    .map(|w| w.ringing.clone())
                    .unwrap_or_default();
                for other in others {
                    self.ring_result(call, &other, RingResult::AnsweredElsewhere, now);
                }
                self.waiting.retain(|w| &w.call != call);
                return;
            }
            RingResult::NoAnswer | RingResult::Rejected => {
                a.counters.missed += 1;
                a.counters.consecutive_missed += 1;
                if auto_pause > 0 && a.counters.consecutive_missed >= auto_pause {
                    a.state = AgentState::Paused {
                        reason: MISSED_CALLS_REASON.to_string(),
                        since_ms: now,
                    };
                    let misses = a.counters.consecutive_missed;
                    self.notices.push(Notice::AgentAutoPaused {
                        agent: agent.clone(),
                        misses,
                    });
                } else if was_ringing {
                    // back to idle; they go to the end of the idle line
                    a.state = AgentState::Available { since_ms: now };
                }
            }
            RingResult::Unreachable | RingResult::CallerGone | RingResult::AnsweredElsewhere => {
                if was_ringing {
                    a.state = AgentState::Available { since_ms: now };
                }
            }
        }
        if matches!(a.state, AgentState::Available { .. }) {
            if let Some((reason, _)) = a.pending_pause.take() {
                a.state = AgentState::Paused {
                    reason,
                    since_ms: now,
                };
            }
        }
    }

    /// The agent's call ended: wrap-up starts (the queue's, or the default).
    /// Returns the wrap-up time given, ms (None if the agent was not on a call).
    pub fn call_ended(&mut self, agent: &AgentId, now: i64) -> Option<i64> {
        let default_wrap = self.cfg.wrap_up_ms;
        let wraps: HashMap<QueueId, i64> = self
            .queues
            .iter()
            .filter_map(|q| Some((q.cfg.id.clone(), q.cfg.wrap_up_ms?)))
            .collect();
        if let Some(a) = self.agents.get_mut(agent) {
            if a.state == AgentState::OnCall {
                let talk = (now - a.on_call_since).max(0);
                a.counters.talk_ms += talk;
                let queue = a.call_queue.take();
                let wrap = queue
                    .as_ref()
                    .and_then(|q| wraps.get(q).copied())
                    .unwrap_or(default_wrap)
                    .max(0);
                a.state = AgentState::WrapUp {
                    until_ms: now + wrap,
                };
                if let Some(q) = queue.and_then(|q| self.queues.iter_mut().find(|x| x.cfg.id == q))
                {
                    if q.recent_handles.len() == HANDLE_HISTORY {
                        q.recent_handles.pop_front();
                    }
                    q.recent_handles.push_back(talk + wrap);
                }
                return Some(wrap);
            }
        }
        None
    }

    /// Mean handle time (talk + wrap-up) of the queue's recent calls, ms, or
    /// None before its first call.
    pub fn recent_handle_ms(&self, queue: &QueueId) -> Option<i64> {
        let q = self.queues.iter().find(|q| &q.cfg.id == queue)?;
        if q.recent_handles.is_empty() {
            return None;
        }
        Some(q.recent_handles.iter().sum::<i64>() / q.recent_handles.len() as i64)
    }

    /// Expected wait of a waiting call, ms: its position times the queue's
    /// recent mean handle time (`default_handle_ms` before any call) shared
    /// among the queue's staffed agents. None when the call is not waiting or
    /// nobody is staffed (no honest estimate exists).
    pub fn expected_wait_ms(&self, call: &CallId, default_handle_ms: i64) -> Option<i64> {
        let position = i64::from(self.position(call)?);
        let queue = &self.waiting.iter().find(|w| &w.call == call)?.queue;
        let staffed = i64::from(self.staffed_agents(queue));
        if staffed == 0 {
            return None;
        }
        let handle = self
            .recent_handle_ms(queue)
            .unwrap_or(default_handle_ms)
            .max(0);
        Some(position.saturating_mul(handle) / staffed)
    }

    fn qualifies(agent: &Agent, needs: &[SkillNeed], widened: bool) -> bool {
        needs.iter().all(|n| {
            let level = agent.skills.get(&n.skill).copied().unwrap_or(0);
            level >= if widened { 1 } else { n.min_level.max(1) }
        })
    }

    /// Moves time on (wrap-ups end, over-long waits are reported) and returns
    /// the offers to make now: waiting calls without a ringing agent, by
    /// priority then longest waiting across all queues, each get an available
    /// member of their queue with the skills they need, picked by the queue's
    /// strategy, not yet tried in this round.
    pub fn poll_offers(&mut self, now: i64) -> Vec<Offer> {
        for a in self.agents.values_mut() {
            if let AgentState::WrapUp { until_ms } = a.state {
                if until_ms <= now {
                    a.state = match a.pending_pause.take() {
                        Some((reason, _)) => AgentState::Paused {
                            reason,
                            since_ms: until_ms,
                        },
                        None => AgentState::Available { since_ms: until_ms },
                    };
                }
            }
        }
        // calls over their queue's maximum wait leave (not while an agent rings)
        let max_waits: HashMap<QueueId, i64> = self
            .queues
            .iter()
            .filter_map(|q| Some((q.cfg.id.clone(), q.cfg.max_wait_ms?)))
            .collect();
        let mut i = 0;
        while i < self.waiting.len() {
            let w = &self.waiting[i];
            let waited = now - w.since_ms;
            if w.ringing.is_empty() && max_waits.get(&w.queue).is_some_and(|m| waited >= *m) {
                let w = self.waiting.remove(i);
                self.notices.push(Notice::MaxWaitReached {
                    call: w.call,
                    queue: w.queue,
                    waited_ms: waited,
                });
            } else {
                i += 1;
            }
        }
        let mut idle = self
            .agents
            .values()
            .filter(|a| matches!(a.state, AgentState::Available { .. }))
            .count();
        if idle == 0 {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..self.waiting.len())
            .filter(|&i| self.waiting[i].ringing.is_empty())
            .collect();
        order.sort_by_key(|&i| Self::order_key(&self.waiting[i]));
        let mut offers = Vec::new();
        for i in order {
            if idle == 0 {
                break;
            }
            let (queue_id, since, needs) = {
                let w = &self.waiting[i];
                let Some(q) = self.queues.iter().find(|q| q.cfg.id == w.queue) else {
                    continue;
                };
                let mut needs = q.cfg.skills.clone();
                needs.extend(w.request.skills.iter().cloned());
                (w.queue.clone(), w.since_ms, needs)
            };
            let Some(qi) = self.queues.iter().position(|q| q.cfg.id == queue_id) else {
                continue;
            };
            let widened = self.queues[qi]
                .cfg
                .widen_after_ms
                .is_some_and(|t| now - since >= t);
            // members who could ever take this call (logged in, qualified)
            let candidates: Vec<AgentId> = {
                let q = &self.queues[qi].cfg;
                let mut ids: Vec<AgentId> = if q.members.is_empty() {
                    let mut v: Vec<AgentId> = self.agents.keys().cloned().collect();
                    v.sort();
                    v
                } else {
                    q.members.clone()
                };
                ids.retain(|id| {
                    self.agents.get(id).is_some_and(|a| {
                        !matches!(a.state, AgentState::LoggedOut | AgentState::Paused { .. })
                            && Self::qualifies(a, &needs, widened)
                    })
                });
                ids
            };
            let w = &mut self.waiting[i];
            if !candidates.is_empty() && candidates.iter().all(|a| w.tried.contains(a)) {
                w.tried.clear();
            }
            let available: Vec<&AgentId> = candidates
                .iter()
                .filter(|id| {
                    !w.tried.contains(*id)
                        && matches!(
                            self.agents.get(*id).map(|a| &a.state),
                            Some(AgentState::Available { .. })
                        )
                })
                .collect();
            if available.is_empty() {
                continue;
            }
            // preferred skills narrow the choice when someone has them
            let preferred = &self.queues[qi].cfg.preferred;
            let available: Vec<&AgentId> = if preferred.is_empty() {
                available
            } else {
                let best: Vec<&AgentId> = available
                    .iter()
                    .copied()
                    .filter(|id| {
                        self.agents
                            .get(*id)
                            .is_some_and(|a| Self::qualifies(a, preferred, false))
                    })
                    .collect();
                if best.is_empty() {
                    available
                } else {
                    best
                }
            };
            let since_of = |id: &AgentId| match self.agents.get(id).map(|a| &a.state) {
                Some(AgentState::Available { since_ms }) => *since_ms,
                _ => i64::MAX,
            };
            let counters =
                |id: &AgentId| self.agents.get(id).map(|a| a.counters).unwrap_or_default();
            let q = &self.queues[qi];
            let picks: Vec<AgentId> = match q.cfg.strategy {
                Strategy::RingAll => available.iter().map(|id| (*id).clone()).collect(),
                strategy => vec![match strategy {
                    Strategy::FewestCalls => available
                        .iter()
                        .min_by_key(|id| (counters(id).answered, since_of(id), (**id).clone()))
                        .map(|id| (*id).clone()),
                    Strategy::LeastTalkTime => available
                        .iter()
                        .min_by_key(|id| (counters(id).talk_ms, since_of(id), (**id).clone()))
                        .map(|id| (*id).clone()),
                    Strategy::Linear => available.first().map(|id| (*id).clone()),
                    Strategy::RoundRobin => {
                        let start = q
                            .last
                            .as_ref()
                            .and_then(|l| candidates.iter().position(|c| c == l))
                            .map(|p| p + 1)
                            .unwrap_or(0);
                        (0..candidates.len())
                            .map(|k| &candidates[(start + k) % candidates.len()])
                            .find(|c| available.contains(c))
                            .cloned()
                    }
                    Strategy::LongestIdle | Strategy::RingAll => available
                        .iter()
                        .min_by_key(|id| (since_of(id), (**id).clone()))
                        .map(|id| (*id).clone()),
                }
                .unwrap_or_else(|| available[0].clone())],
            };
            let w = &mut self.waiting[i];
            for pick in &picks {
                w.tried.insert(pick.clone());
                w.ringing.push(pick.clone());
                offers.push(Offer {
                    call: w.call.clone(),
                    agent: pick.clone(),
                });
                if let Some(a) = self.agents.get_mut(pick) {
                    a.state = AgentState::Ringing;
                }
            }
            self.queues[qi].last = picks.last().cloned();
            idle = idle.saturating_sub(picks.len());
        }
        offers
    }
}
