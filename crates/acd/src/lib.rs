//! The routing brain of the hotline, sans-IO: queues of waiting calls, agents and
//! their states, and the choice of which agent gets which call.
//!
//! Nothing here reads a clock, opens a socket or spawns a task. The engine feeds
//! inputs with `now` (epoch ms) and asks for decisions with [`Acd::poll_offers`];
//! things a supervisor must see (auto-pauses, overrides, calls that waited too
//! long) come out of [`Acd::take_notices`].
//!
//! - Queues ([`QueueConfig`]) with a routing [`Strategy`], members (an agent may
//!   serve several queues and keeps one state), max wait, max length, wrap-up,
//!   a minimum of staffed agents, and required skills with widening over wait.
//! - Agent states ([`AgentState`]): logged out, available, ringing (reserved),
//!   on call, wrap-up, paused with a reason. An agent is never offered two calls.
//! - Missed calls are counted per agent; after N consecutive misses the agent is
//!   auto-paused with the reason "missed calls".
//! - Calls are served by priority (VIP first), then longest waiting first across
//!   all queues, so an agent in several queues is fair to all of them.

#![warn(missing_docs)]

mod deadline;
mod outbound;
pub use outbound::DialRefused;
mod names;
pub use names::UnknownStrategy;

use hotline_core::{AgentId, CallId, QueueId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Reason given when the ACD pauses an agent after consecutive missed calls.
pub const MISSED_CALLS_REASON: &str = "missed calls";

/// The state of one agent, as the ACD sees it (one state across all queues).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// Not registered: never offered a call.
    LoggedOut,
    /// Waiting for a call since the given time (epoch ms).
    Available {
        /// When the agent became idle (for longest-idle routing).
        since_ms: i64,
    },
    /// Reserved for one call: their phone rings.
    Ringing,
    /// Talking.
    OnCall,
    /// After-call work until the given time (epoch ms).
    WrapUp {
        /// When wrap-up ends.
        until_ms: i64,
    },
    /// Not taking calls, with a reason (meal, training, missed calls, ...).
    Paused {
        /// Why.
        reason: String,
        /// Since when (epoch ms).
        since_ms: i64,
    },
}

/// How a queue picks among its available agents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// The agent idle the longest (default).
    #[default]
    LongestIdle,
    /// The next member after the one offered last (remembered per queue).
    RoundRobin,
    /// The agent who answered the fewest calls.
    FewestCalls,
    /// The agent with the least total talk time.
    LeastTalkTime,
    /// Members in their configured order, always from the top.
    Linear,
    /// Every available member at once; the first to answer takes the call
    /// and the others stop ringing (not a missed call for them).
    RingAll,
}

/// A skill a call needs: at least `min_level` (1–100) of `skill`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillNeed {
    /// Skill name, e.g. `cantonese`, `product:router`.
    pub skill: String,
    /// Minimum proficiency.
    pub min_level: u8,
}

/// Settings of one queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// The queue's id.
    pub id: QueueId,
    /// How agents are picked.
    pub strategy: Strategy,
    /// Agents serving the queue, in order (used by `Linear` and `RoundRobin`);
    /// empty = every logged-in agent.
    pub members: Vec<AgentId>,
    /// A call waiting longer is reported ([`Notice::MaxWaitReached`]) and
    /// leaves the queue, for the engine to overflow it.
    pub max_wait_ms: Option<i64>,
    /// More waiting calls than this are refused ([`EnqueueRefused::QueueFull`]).
    pub max_len: Option<usize>,
    /// Wrap-up after a call from this queue; None = the ACD default.
    pub wrap_up_ms: Option<i64>,
    /// Staffed (logged-in, not paused) members a pause may not go below
    /// without a supervisor's override.
    pub min_staffed: u32,
    /// Skills every call of this queue needs.
    pub skills: Vec<SkillNeed>,
    /// After this wait any proficiency (level ≥ 1) of the needed skills will do.
    pub widen_after_ms: Option<i64>,
    /// Skills the queue prefers but does not require: among the agents
    /// available, those who have them all are offered first.
    pub preferred: Vec<SkillNeed>,
}

impl QueueConfig {
    /// A queue with default settings (longest idle, every agent, no limits).
    pub fn new(id: QueueId) -> Self {
        QueueConfig {
            id,
            strategy: Strategy::LongestIdle,
            members: Vec::new(),
            max_wait_ms: None,
            max_len: None,
            wrap_up_ms: None,
            min_staffed: 0,
            skills: Vec::new(),
            widen_after_ms: None,
            preferred: Vec::new(),
        }
    }
}

/// What a call asks of the ACD besides its queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// Higher is served first (VIP callers); 0 = normal.
    pub priority: u8,
    /// Skills this call needs on top of the queue's (e.g. the caller's language).
    pub skills: Vec<SkillNeed>,
}

/// A decision: ring this agent for this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The waiting call.
    pub call: CallId,
    /// The agent to ring (now reserved: never offered two calls at once).
    pub agent: AgentId,
}

/// A call waiting in a queue, as the wallboard shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingCall {
    /// The call.
    pub call: CallId,
    /// Waiting in this queue since (epoch ms).
    pub since_ms: i64,
    /// Its priority (VIP 10, transferred 20).
    pub priority: u8,
    /// Agents ringing for it now.
    pub ringing: Vec<AgentId>,
}

/// What came of ringing an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingResult {
    /// The agent answered: they are on the call.
    Answered,
    /// Their ring timeout passed (a missed call).
    NoAnswer,
    /// Their phone refused (busy, declined: a missed call).
    Rejected,
    /// Their phone could not be reached.
    Unreachable,
    /// The caller went away while the agent's phone rang.
    CallerGone,
    /// Another agent rung for the same call (ring-all) answered first.
    AnsweredElsewhere,
}

/// Why a call could not join a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnqueueRefused {
    /// No such queue.
    UnknownQueue(QueueId),
    /// The queue already holds its maximum.
    QueueFull {
        /// Calls waiting.
        waiting: usize,
    },
}

/// Why a pause or logout was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaveRefused {
    /// The queue would have fewer staffed agents than its minimum.
    BelowMinimum {
        /// The queue.
        queue: QueueId,
        /// Staffed agents it would keep.
        staffed_after: u32,
        /// Its minimum.
        minimum: u32,
    },
    /// The agent is not logged in.
    NotLoggedIn,
}

/// Things a supervisor (and the event log) must learn about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The agent missed `misses` calls in a row and was paused.
    AgentAutoPaused {
        /// Who.
        agent: AgentId,
        /// Consecutive missed calls.
        misses: u32,
    },
    /// A pause or logout below a queue's minimum was allowed by a supervisor.
    MinimumOverridden {
        /// The agent who left.
        agent: AgentId,
        /// The queue left below its minimum.
        queue: QueueId,
        /// The supervisor who allowed it.
        by: String,
    },
    /// A call waited its queue's maximum and left the queue (overflow it).
    MaxWaitReached {
        /// The call.
        call: CallId,
        /// Its queue.
        queue: QueueId,
        /// How long it waited, ms.
        waited_ms: i64,
    },
}

/// Counters of one agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentCounters {
    /// Calls the agent answered.
    pub answered: u32,
    /// Offers that rang out or were refused.
    pub missed: u32,
    /// Missed in a row (reset by an answer or an unpause).
    pub consecutive_missed: u32,
    /// Total talk time, ms.
    pub talk_ms: i64,
}

/// Settings of the ACD.
#[derive(Clone, Copy, Debug)]
pub struct AcdConfig {
    /// After-call work time before an agent is available again, ms (queues
    /// may override it).
    pub wrap_up_ms: i64,
    /// Pause an agent after this many consecutive missed calls; 0 = never.
    pub auto_pause_after_misses: u32,
}

impl Default for AcdConfig {
    fn default() -> Self {
        AcdConfig {
            wrap_up_ms: 5_000,
            auto_pause_after_misses: 0,
        }
    }
}

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
pub const HANDLE_HISTORY: usize = 20;

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
pub struct Acd {
    cfg: AcdConfig,
    agents: HashMap<AgentId, Agent>,
    queues: Vec<Queue>,
    waiting: Vec<Waiting>,
    notices: Vec<Notice>,
    seq: u64,
}

/// The queue every call joins unless told otherwise.
pub fn default_queue() -> QueueId {
    QueueId::new("general")
}

impl Acd {
    /// An ACD with the default queue (`general`: every agent, longest idle),
    /// no agents and no calls.
    pub fn new(cfg: AcdConfig) -> Self {
        Acd {
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
    pub fn rename_call(&mut self, old: &CallId, new: CallId) -> bool {
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
            let w = self.waiting.remove(i);
            for agent in w.ringing {
                self.ring_result(call, &agent, RingResult::CallerGone, now);
            }
        }
    }

    /// Reports what came of ringing `agent` for `call`.
    pub fn ring_result(&mut self, call: &CallId, agent: &AgentId, result: RingResult, now: i64) {
        let mut queue = None;
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
                self.waiting.retain(|w| &w.call != call);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> AgentId {
        AgentId::new(s)
    }
    fn c(s: &str) -> CallId {
        CallId::from_stored(s)
    }

    #[test]
    fn the_wallboard_sees_waiting_calls_next_first_with_who_rings() {
        let mut acd = Acd::new(AcdConfig::default());
        let q = default_queue();
        acd.enqueue(c("old"), 100);
        acd.enqueue(c("newer"), 200);
        let vip = CallRequest {
            priority: 10,
            ..CallRequest::default()
        };
        acd.enqueue_in(&q, c("vip"), vip, 300).unwrap();
        let order = |acd: &Acd| -> Vec<String> {
            acd.waiting_calls(&q)
                .iter()
                .map(|w| w.call.to_string())
                .collect()
        };
        assert_eq!(order(&acd), ["vip", "old", "newer"]);
        acd.agent_logged_in(&a("1001"), 0);
        let offers = acd.poll_offers(400);
        assert_eq!(offers.len(), 1);
        let w = acd.waiting_calls(&q);
        assert_eq!(
            (w[0].call.as_str(), &w[0].ringing[..]),
            ("vip", &[a("1001")][..])
        );
        assert_eq!((w[0].priority, w[0].since_ms), (10, 300));
        assert!(acd.waiting_calls(&QueueId::new("nowhere")).is_empty());
        assert_eq!(acd.queue_ids(), [q]);
    }

    #[test]
    fn longest_idle_agent_gets_the_oldest_call() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 5_000,
            ..AcdConfig::default()
        });
        acd.agent_logged_in(&a("1002"), 100);
        acd.agent_logged_in(&a("1001"), 50);
        acd.enqueue(c("x"), 200);
        acd.enqueue(c("y"), 300);
        let offers = acd.poll_offers(300);
        assert_eq!(
            offers,
            vec![
                Offer {
                    call: c("x"),
                    agent: a("1001")
                },
                Offer {
                    call: c("y"),
                    agent: a("1002")
                }
            ]
        );
        // never two offers to one agent
        assert!(acd.poll_offers(400).is_empty());
    }

    #[test]
    fn no_answer_moves_to_next_agent_then_starts_a_new_round() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 0,
            ..AcdConfig::default()
        });
        acd.agent_logged_in(&a("1001"), 0);
        acd.agent_logged_in(&a("1002"), 10);
        acd.enqueue(c("x"), 100);
        assert_eq!(acd.poll_offers(100)[0].agent, a("1001"));
        acd.ring_result(&c("x"), &a("1001"), RingResult::NoAnswer, 15_100);
        assert_eq!(acd.counters(&a("1001")).missed, 1);
        assert_eq!(acd.poll_offers(15_100)[0].agent, a("1002"));
        acd.ring_result(&c("x"), &a("1002"), RingResult::Rejected, 16_000);
        // both tried: new round, the longest idle again
        assert_eq!(acd.poll_offers(16_000)[0].agent, a("1001"));
    }

    #[test]
    fn answered_call_leaves_queue_and_agent_wraps_up() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 10_000,
            ..AcdConfig::default()
        });
        acd.agent_logged_in(&a("1001"), 0);
        acd.enqueue(c("x"), 0);
        acd.poll_offers(0);
        acd.ring_result(&c("x"), &a("1001"), RingResult::Answered, 3_000);
        assert_eq!(acd.waiting(), 0);
        assert_eq!(acd.agent_state(&a("1001")), AgentState::OnCall);
        acd.call_ended(&a("1001"), 60_000);
        acd.enqueue(c("y"), 61_000);
        assert!(acd.poll_offers(65_000).is_empty());
        assert_eq!(acd.poll_offers(70_000)[0].agent, a("1001"));
    }

    #[test]
    fn abandon_while_ringing_frees_agent_and_logout_stops_offers() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 0,
            ..AcdConfig::default()
        });
        acd.agent_logged_in(&a("1001"), 0);
        acd.enqueue(c("x"), 0);
        acd.poll_offers(0);
        acd.remove_call(&c("x"), 4_000);
        assert_eq!(
            acd.agent_state(&a("1001")),
            AgentState::Available { since_ms: 4_000 }
        );
        assert_eq!(acd.counters(&a("1001")).missed, 0);
        acd.agent_logged_out(&a("1001"));
        acd.enqueue(c("y"), 5_000);
        assert!(acd.poll_offers(5_000).is_empty());
        assert_eq!(acd.position(&c("y")), Some(1));
    }

    #[test]
    fn a_simulated_day_never_double_books_an_agent() {
        // 24 h of traffic, one call every 30 s, agents answer after 3 s, talk 100 s.
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 10_000,
            ..AcdConfig::default()
        });
        for i in 0..5 {
            acd.agent_logged_in(&a(&format!("10{i:02}")), 0);
        }
        let mut ringing: Vec<(i64, Offer)> = Vec::new();
        let mut talking: Vec<(i64, AgentId)> = Vec::new();
        let mut n = 0;
        let mut now = 0;
        while now < 86_400_000 {
            if now % 30_000 == 0 {
                acd.enqueue(c(&format!("call{n}")), now);
                n += 1;
            }
            for o in acd.poll_offers(now) {
                assert_eq!(acd.agent_state(&o.agent), AgentState::Ringing);
                assert!(ringing.iter().all(|(_, r)| r.agent != o.agent));
                assert!(talking.iter().all(|(_, t)| *t != o.agent));
                ringing.push((now + 3_000, o));
            }
            let (due, rest): (Vec<_>, Vec<_>) = ringing.into_iter().partition(|(t, _)| *t <= now);
            ringing = rest;
            for (_, o) in due {
                acd.ring_result(&o.call, &o.agent, RingResult::Answered, now);
                talking.push((now + 100_000, o.agent));
            }
            let (done, rest): (Vec<_>, Vec<_>) = talking.into_iter().partition(|(t, _)| *t <= now);
            talking = rest;
            for (_, ag) in done {
                acd.call_ended(&ag, now);
            }
            now += 1_000;
        }
        assert!(
            acd.waiting() < 3,
            "5 agents keep up with 2 calls/min of 113 s each"
        );
    }
}
