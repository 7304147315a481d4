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
//!
//! # How a decision stays cheap
//!
//! The rules above read as "for every waiting call, in order, scan the queue's
//! members"; that is how the first version worked (O(waiting × members) a
//! poll: 109 µs for one decision with 10,000 callers and 1,000 agents). The
//! state is now indexed so a poll touches only what can change its outcome,
//! and makes exactly the decisions of that scan (a test replays random hours
//! through both, offer for offer):
//!
//! - Waiting calls that no agent rings for are grouped in *classes*: same
//!   queue, same priority, same skill need (the queue's and the call's own,
//!   merged). Inside a class the oldest call is first in the routing order and
//!   the easiest to serve (it widens first), so when it cannot be served
//!   nobody behind it can: one look per class, not per call.
//! - Calls that already rang someone in this round (their "tried" set is not
//!   empty) are kept apart, in routing order, and looked at one by one.
//! - Available agents are kept in *pools*, one per queue and skill need in
//!   use, ordered by the queue's strategy (idle since, calls answered, talk
//!   time, member order); preferred skills are one more need. Picking is the
//!   first pool entry not yet tried; round robin starts after the last agent.
//! - Wrap-ups ending and calls reaching their maximum wait are found in
//!   time-ordered sets.

#![warn(missing_docs)]

mod deadline;
mod outbound;
pub use outbound::DialRefused;
mod preferred;
pub use preferred::{HoldEnd, PreferredAgent};
mod names;
pub use names::UnknownStrategy;

use hotline_core::{AgentId, CallId, QueueId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

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
    /// Ring this agent first and nobody else until a deadline (the owner
    /// of the caller's open complaint case).
    pub preferred: Option<PreferredAgent>,
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
    /// A call held for its preferred agent rings them.
    PreferredOffered {
        /// The call.
        call: CallId,
        /// The preferred agent.
        agent: AgentId,
    },
    /// A call's preferred agent was not free in time (or not logged in):
    /// anyone may take it now.
    PreferredPassed {
        /// The call.
        call: CallId,
        /// The preferred agent.
        agent: AgentId,
        /// Why.
        why: HoldEnd,
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

/// How many recent handle times a queue keeps for its expected wait.
pub const HANDLE_HISTORY: usize = 20;

/// The queue every call joins unless told otherwise.
pub fn default_queue() -> QueueId {
    QueueId::new("general")
}

/// Index of an agent in [`Acd::agents`] (agents are never forgotten).
type AgentIx = u32;
/// Index of a queue in [`Acd::queues`] (queues are never removed).
type QueueIx = u32;
/// Slot of a waiting call in [`Acd::calls`].
type CallIx = u32;
/// Slot of a class in [`Acd::classes`].
type ClassIx = u32;
/// Slot of a pool in [`Acd::pools`].
type PoolIx = u32;
/// Index of an interned skill need in [`Needs`].
type NeedIx = u32;

/// The routing order of waiting calls: priority (higher first), then
/// waiting since, then arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    priority: Reverse<u8>,
    since_ms: i64,
    seq: u64,
}

/// Place of a waiting call inside its class or queue: oldest first.
type SinceKey = (i64, u64, CallIx);

struct Agent {
    id: Arc<AgentId>,
    state: AgentState,
    counters: AgentCounters,
    skills: BTreeMap<String, u8>,
    on_call_since: i64,
    /// Queue of the call being handled (for its wrap-up time).
    call_queue: Option<QueueIx>,
    /// A pause asked for while ringing or talking: applied when that ends.
    pending_pause: Option<(String, i64)>,
    /// The queues the agent serves, with their place in each member list
    /// (0 in a queue of every agent).
    queues: Vec<(QueueIx, u32)>,
}

impl Agent {
    fn staffed(&self) -> bool {
        !matches!(
            self.state,
            AgentState::LoggedOut | AgentState::Paused { .. }
        )
    }

    fn qualifies(&self, need: &[(String, u8)]) -> bool {
        need.iter()
            .all(|(skill, level)| self.skills.get(skill).copied().unwrap_or(0) >= *level)
    }

    fn place_in(&self, queue: QueueIx) -> Option<u32> {
        self.queues
            .iter()
            .find(|(q, _)| *q == queue)
            .map(|(_, pos)| *pos)
    }
}

struct Queue {
    cfg: QueueConfig,
    /// The agent offered last (round robin).
    last: Option<AgentIx>,
    /// Handle times (talk + wrap-up, ms) of the queue's last calls, newest
    /// last, at most [`HANDLE_HISTORY`].
    recent_handles: VecDeque<i64>,
    /// Inside its open hours (minimum staffing only holds then).
    open: bool,
    /// Place of each member in `cfg.members` (first mention).
    places: HashMap<AgentId, u32>,
    /// Members logged in and not paused.
    staffed: u32,
    /// Every waiting call of the queue (ringing or not), next first.
    all: BTreeMap<OrderKey, CallIx>,
    /// Waiting calls nobody rings for, oldest first (maximum wait).
    unrung: BTreeSet<SinceKey>,
    /// The pools of the queue, by need.
    pools: Vec<(NeedIx, PoolIx)>,
}

impl Queue {
    fn new(mut cfg: QueueConfig) -> Self {
        // an agent listed twice serves once, at its first place
        let mut places = HashMap::new();
        cfg.members.retain(|m| {
            if places.contains_key(m) {
                return false;
            }
            places.insert(m.clone(), places.len() as u32);
            true
        });
        Queue {
            cfg,
            last: None,
            recent_handles: VecDeque::new(),
            open: true,
            places,
            staffed: 0,
            all: BTreeMap::new(),
            unrung: BTreeSet::new(),
            pools: Vec::new(),
        }
    }

    /// The agent's place in this queue, if it serves it.
    fn place_of(&self, agent: &AgentId) -> Option<u32> {
        if self.cfg.members.is_empty() {
            Some(0)
        } else {
            self.places.get(agent).copied()
        }
    }
}

/// An available agent's place in a pool: the queue's strategy order, then id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PoolKey {
    first: i64,
    second: i64,
    id: Arc<AgentId>,
    ix: AgentIx,
}

impl PoolKey {
    /// `since_ms` is when the agent became available; `place` its place in
    /// the queue's member list.
    fn new(strategy: Strategy, agent: &Agent, ix: AgentIx, since_ms: i64, place: u32) -> Self {
        let (first, second) = match strategy {
            Strategy::LongestIdle => (since_ms, 0),
            Strategy::FewestCalls => (i64::from(agent.counters.answered), since_ms),
            Strategy::LeastTalkTime => (agent.counters.talk_ms, since_ms),
            Strategy::Linear | Strategy::RoundRobin | Strategy::RingAll => (i64::from(place), 0),
        };
        PoolKey {
            first,
            second,
            id: agent.id.clone(),
            ix,
        }
    }
}

/// The agents of one queue who meet one skill need.
struct Pool {
    queue: QueueIx,
    need: NeedIx,
    /// Those available now, in the queue's strategy order.
    available: BTreeSet<PoolKey>,
    /// Those staffed (logged in, not paused) in any state: the "candidates"
    /// of a call with this need.
    staffed: u32,
    /// Classes using the pool.
    refs: u32,
}

/// Waiting calls of one queue with the same priority and skill need.
struct Class {
    key: (QueueIx, u8, NeedIx),
    /// Pools for the need as asked, and once widened.
    pool: PoolIx,
    wide: PoolIx,
    /// The same with the queue's preferred skills on top (if it has any).
    preferred: Option<(PoolIx, PoolIx)>,
    /// Its calls nobody rings for and nobody was tried for, oldest first.
    untried: BTreeSet<SinceKey>,
    /// Its waiting calls, in any state.
    refs: u32,
    /// The poll in which no agent could take its first call (nor any other).
    dead_in_poll: u64,
}

/// Interned skill needs: sorted by skill, one minimum level a skill.
#[derive(Default)]
struct Needs {
    list: Vec<Vec<(String, u8)>>,
    ids: HashMap<Vec<(String, u8)>, NeedIx>,
}

impl Needs {
    /// The need meeting every one of `needs` (levels below 1 count as 1;
    /// widened, any level ≥ 1 will do).
    fn intern<'a>(&mut self, needs: impl Iterator<Item = &'a SkillNeed>, widened: bool) -> NeedIx {
        let mut levels: BTreeMap<&str, u8> = BTreeMap::new();
        for n in needs {
            let level = if widened { 1 } else { n.min_level.max(1) };
            let l = levels.entry(n.skill.as_str()).or_insert(level);
            *l = (*l).max(level);
        }
        let key: Vec<(String, u8)> = levels
            .into_iter()
            .map(|(s, l)| (s.to_string(), l))
            .collect();
        if let Some(&ix) = self.ids.get(&key) {
            return ix;
        }
        let ix = self.list.len() as NeedIx;
        self.list.push(key.clone());
        self.ids.insert(key, ix);
        ix
    }

    /// Both needs at once.
    fn merge(&mut self, a: NeedIx, b: NeedIx) -> NeedIx {
        let needs: Vec<SkillNeed> = self.list[a as usize]
            .iter()
            .chain(&self.list[b as usize])
            .map(|(skill, min_level)| SkillNeed {
                skill: skill.clone(),
                min_level: *min_level,
            })
            .collect();
        self.intern(needs.iter(), false)
    }

    fn get(&self, ix: NeedIx) -> &[(String, u8)] {
        &self.list[ix as usize]
    }
}

struct Waiting {
    call: CallId,
    queue: QueueIx,
    request: CallRequest,
    since_ms: i64,
    seq: u64,
    class: ClassIx,
    /// Agents already tried in the current round (cleared when all were tried).
    tried: BTreeSet<AgentIx>,
    /// Agents currently ringing for this call (several with ring-all).
    ringing: Vec<AgentIx>,
    /// Held for a preferred agent until a deadline: out of the routing index.
    held: Option<(AgentIx, i64)>,
}

impl Waiting {
    fn order_key(&self) -> OrderKey {
        OrderKey {
            priority: Reverse(self.request.priority),
            since_ms: self.since_ms,
            seq: self.seq,
        }
    }

    fn since_key(&self, ix: CallIx) -> SinceKey {
        (self.since_ms, self.seq, ix)
    }
}

/// A slab: slots reused after removal.
struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(ix) => {
                self.slots[ix as usize] = Some(value);
                ix
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, ix: u32) -> Option<T> {
        let value = self.slots.get_mut(ix as usize)?.take();
        if value.is_some() {
            self.free.push(ix);
        }
        value
    }

    // an index into the slab comes from the ACD's own maps, never from
    // outside: a dead slot is a bug in the index, not bad input
    #[allow(clippy::expect_used)]
    fn get(&self, ix: u32) -> &T {
        self.slots[ix as usize]
            .as_ref()
            .expect("index points at a live slot")
    }

    #[allow(clippy::expect_used)] // as `get`
    fn get_mut(&mut self, ix: u32) -> &mut T {
        self.slots[ix as usize]
            .as_mut()
            .expect("index points at a live slot")
    }

    fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_ref()?)))
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
    }
}

/// The ACD: queues of waiting calls and the agents who serve them.
pub struct Acd {
    cfg: AcdConfig,
    agents: Vec<Agent>,
    agent_ix: HashMap<AgentId, AgentIx>,
    queues: Vec<Queue>,
    queue_ix: HashMap<QueueId, QueueIx>,
    calls: Slab<Waiting>,
    call_ix: HashMap<CallId, CallIx>,
    /// Calls nobody rings for that already tried someone, in routing order.
    tried_calls: BTreeMap<OrderKey, CallIx>,
    classes: Slab<Class>,
    class_ix: HashMap<(QueueIx, u8, NeedIx), ClassIx>,
    pools: Slab<Pool>,
    needs: Needs,
    /// Agents in wrap-up, by its end.
    wrap_ups: BTreeSet<(i64, AgentIx)>,
    /// Agents available now.
    available: usize,
    /// Calls held for their preferred agent, by the hold's end.
    holds: BTreeSet<(i64, CallIx)>,
    notices: Vec<Notice>,
    seq: u64,
    polls: u64,
}

impl Acd {
    /// An ACD with the default queue (`general`: every agent, longest idle),
    /// no agents and no calls.
    pub fn new(cfg: AcdConfig) -> Self {
        let mut acd = Acd {
            cfg,
            agents: Vec::new(),
            agent_ix: HashMap::new(),
            queues: Vec::new(),
            queue_ix: HashMap::new(),
            calls: Slab::default(),
            call_ix: HashMap::new(),
            tried_calls: BTreeMap::new(),
            classes: Slab::default(),
            class_ix: HashMap::new(),
            pools: Slab::default(),
            needs: Needs::default(),
            wrap_ups: BTreeSet::new(),
            available: 0,
            holds: BTreeSet::new(),
            notices: Vec::new(),
            seq: 0,
            polls: 0,
        };
        acd.set_queue(QueueConfig::new(default_queue()));
        acd
    }

    /// Adds a queue, or replaces the settings of one with the same id. An
    /// agent listed twice among the members serves the queue once, at its
    /// first place.
    pub fn set_queue(&mut self, cfg: QueueConfig) {
        let queue = Queue::new(cfg);
        match self.queue_ix.get(&queue.cfg.id) {
            Some(&qi) => self.queues[qi as usize].cfg = queue.cfg,
            None => {
                self.queue_ix
                    .insert(queue.cfg.id.clone(), self.queues.len() as QueueIx);
                self.queues.push(queue);
            }
        }
        self.rebuild_index();
    }

    /// Sets an agent's skills (name → proficiency 1–100).
    pub fn set_skills(&mut self, agent: &AgentId, skills: BTreeMap<String, u8>) {
        let ix = self.agent_mut(agent);
        self.update_agent(ix, |a| a.skills = skills);
    }

    /// The agent's index, created (logged out) if unknown.
    fn agent_mut(&mut self, agent: &AgentId) -> AgentIx {
        if let Some(&ix) = self.agent_ix.get(agent) {
            return ix;
        }
        let ix = self.agents.len() as AgentIx;
        let queues = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(qi, q)| Some((qi as QueueIx, q.place_of(agent)?)))
            .collect();
        self.agents.push(Agent {
            id: Arc::new(agent.clone()),
            state: AgentState::LoggedOut,
            counters: AgentCounters::default(),
            skills: BTreeMap::new(),
            on_call_since: 0,
            call_queue: None,
            pending_pause: None,
            queues,
        });
        self.agent_ix.insert(agent.clone(), ix);
        ix
    }

    /// The agent's current state (LoggedOut if unknown).
    pub fn agent_state(&self, agent: &AgentId) -> AgentState {
        self.agent_ix
            .get(agent)
            .map(|&ix| self.agents[ix as usize].state.clone())
            .unwrap_or(AgentState::LoggedOut)
    }

    /// The agent's counters.
    pub fn counters(&self, agent: &AgentId) -> AgentCounters {
        self.agent_ix
            .get(agent)
            .map(|&ix| self.agents[ix as usize].counters)
            .unwrap_or_default()
    }

    /// Notices since the last call (auto-pauses, overrides, max waits).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The agent's phone registered: available unless already in another state.
    pub fn agent_logged_in(&mut self, agent: &AgentId, now: i64) {
        let ix = self.agent_mut(agent);
        if self.agents[ix as usize].state == AgentState::LoggedOut {
            self.update_agent(ix, |a| a.state = AgentState::Available { since_ms: now });
        }
    }

    /// The agent's last registration is gone. A call in progress is not cut;
    /// the agent simply gets no new offers. (A phone going away cannot be
    /// refused; use [`Acd::logout`] for a requested logout.)
    pub fn agent_logged_out(&mut self, agent: &AgentId) {
        if let Some(&ix) = self.agent_ix.get(agent) {
            if matches!(
                self.agents[ix as usize].state,
                AgentState::Available { .. }
                    | AgentState::WrapUp { .. }
                    | AgentState::Paused { .. }
            ) {
                self.update_agent(ix, |a| a.state = AgentState::LoggedOut);
            }
        }
    }

    /// Staffed (logged in, not paused) agents of a queue.
    pub fn staffed_agents(&self, queue: &QueueId) -> u32 {
        self.queue_ix
            .get(queue)
            .map(|&qi| self.queues[qi as usize].staffed)
            .unwrap_or(0)
    }

    /// Checks that `agent` may stop taking calls; with `override_by` (a
    /// supervisor) a shortfall is allowed and reported as a notice.
    fn may_leave(
        &mut self,
        agent: &AgentId,
        override_by: Option<&str>,
    ) -> Result<(), LeaveRefused> {
        let Some(a) = self
            .agent_ix
            .get(agent)
            .map(|&ix| &self.agents[ix as usize])
        else {
            return Err(LeaveRefused::NotLoggedIn);
        };
        if !a.staffed() {
            return if matches!(a.state, AgentState::Paused { .. }) {
                Ok(())
            } else {
                Err(LeaveRefused::NotLoggedIn)
            };
        }
        let mut short = Vec::new();
        for &(qi, _) in &a.queues {
            let q = &self.queues[qi as usize];
            if q.open && q.cfg.min_staffed > 0 {
                let after = q.staffed.saturating_sub(1);
                if after < q.cfg.min_staffed {
                    short.push((qi, q.cfg.id.clone(), after, q.cfg.min_staffed));
                }
            }
        }
        // in the order the queues were configured
        short.sort_by_key(|s| s.0);
        match (short.first(), override_by) {
            (None, _) => Ok(()),
            (Some((_, queue, after, min)), None) => Err(LeaveRefused::BelowMinimum {
                queue: queue.clone(),
                staffed_after: *after,
                minimum: *min,
            }),
            (Some(_), Some(by)) => {
                for (_, queue, _, _) in short {
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
        let ix = self.agent_mut(agent);
        self.update_agent(ix, |a| match a.state {
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
        });
        Ok(())
    }

    /// Ends a pause: the agent is available (misses in a row are forgiven).
    pub fn unpause(&mut self, agent: &AgentId, now: i64) {
        if let Some(&ix) = self.agent_ix.get(agent) {
            self.update_agent(ix, |a| {
                a.pending_pause = None;
                if matches!(a.state, AgentState::Paused { .. }) {
                    a.state = AgentState::Available { since_ms: now };
                    a.counters.consecutive_missed = 0;
                }
            });
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
        let Some(&qi) = self.queue_ix.get(queue) else {
            return Err(EnqueueRefused::UnknownQueue(queue.clone()));
        };
        if self.call_ix.contains_key(&call) {
            return Ok(self.position(&call).unwrap_or(1));
        }
        let q = &self.queues[qi as usize];
        let waiting = q.all.len();
        if q.cfg.max_len.is_some_and(|m| waiting >= m) {
            return Err(EnqueueRefused::QueueFull { waiting });
        }
        self.seq += 1;
        let class = self.class_for(qi, &request);
        let w = Waiting {
            call: call.clone(),
            queue: qi,
            request,
            since_ms: now,
            seq: self.seq,
            class,
            tried: BTreeSet::new(),
            ringing: Vec::new(),
            held: None,
        };
        let key = w.order_key();
        let cx = self.calls.insert(w);
        self.call_ix.insert(call, cx);
        self.queues[qi as usize].all.insert(key, cx);
        self.index_call(cx, true);
        self.hold_for_preferred(cx, now);
        Ok(self.position_of(cx))
    }

    /// Says whether a queue is inside its open hours; outside them its
    /// minimum staffing does not hold (the last agent may leave at closing).
    /// Queues are open until told otherwise.
    pub fn set_queue_open(&mut self, queue: &QueueId, open: bool) {
        if let Some(&qi) = self.queue_ix.get(queue) {
            self.queues[qi as usize].open = open;
        }
    }

    /// Gives a waiting call a new id, keeping its queue, priority and place
    /// (a caller who asked for a callback keeps their turn); agents still
    /// ringing for it are let go at `now`. False if `old` is not waiting, or
    /// `new` is another call already waiting.
    pub fn rename_call(&mut self, old: &CallId, new: CallId, now: i64) -> bool {
        let Some(&cx) = self.call_ix.get(old) else {
            return false;
        };
        if old == &new {
            return true;
        }
        if self.call_ix.contains_key(&new) {
            return false;
        }
        // agents still ringing for the old call are let go: their phones
        // ring for a caller who has hung up (results for the old id would
        // find nothing to free)
        for agent in self.calls.get(cx).ringing.clone() {
            let id = AgentId::clone(&self.agents[agent as usize].id);
            self.ring_result(old, &id, RingResult::CallerGone, now);
        }
        self.call_ix.remove(old);
        self.call_ix.insert(new.clone(), cx);
        self.calls.get_mut(cx).call = new;
        true
    }

    /// Position of a waiting call in its queue (1 = next), or None.
    pub fn position(&self, call: &CallId) -> Option<u32> {
        self.call_ix.get(call).map(|&cx| self.position_of(cx))
    }

    fn position_of(&self, cx: CallIx) -> u32 {
        let w = self.calls.get(cx);
        let ahead = self.queues[w.queue as usize]
            .all
            .range(..w.order_key())
            .count();
        ahead as u32 + 1
    }

    /// Calls waiting in all queues (including those whose agent is ringing).
    pub fn waiting(&self) -> usize {
        self.call_ix.len()
    }

    /// The calls waiting in `queue`, next first (for the wallboard).
    pub fn waiting_calls(&self, queue: &QueueId) -> Vec<WaitingCall> {
        let Some(&qi) = self.queue_ix.get(queue) else {
            return Vec::new();
        };
        self.queues[qi as usize]
            .all
            .values()
            .map(|&cx| {
                let w = self.calls.get(cx);
                WaitingCall {
                    call: w.call.clone(),
                    since_ms: w.since_ms,
                    priority: w.request.priority,
                    ringing: w
                        .ringing
                        .iter()
                        .map(|&a| AgentId::clone(&self.agents[a as usize].id))
                        .collect(),
                }
            })
            .collect()
    }

    /// The configured queues' ids, in order.
    pub fn queue_ids(&self) -> Vec<QueueId> {
        self.queues.iter().map(|q| q.cfg.id.clone()).collect()
    }

    /// Whether `queue` is inside its open hours (as last set).
    pub fn queue_open(&self, queue: &QueueId) -> bool {
        self.queue_ix
            .get(queue)
            .is_some_and(|&qi| self.queues[qi as usize].open)
    }

    /// Calls waiting in one queue.
    pub fn waiting_in(&self, queue: &QueueId) -> usize {
        self.queue_ix
            .get(queue)
            .map(|&qi| self.queues[qi as usize].all.len())
            .unwrap_or(0)
    }

    /// The caller left (abandoned or failed): drop the call; an agent ringing
    /// for it is freed.
    pub fn remove_call(&mut self, call: &CallId, now: i64) {
        if let Some(&cx) = self.call_ix.get(call) {
            // the agents ringing for it are let go first (while the call
            // still names them), then the call leaves
            for agent in self.calls.get(cx).ringing.clone() {
                let id = AgentId::clone(&self.agents[agent as usize].id);
                self.ring_result(call, &id, RingResult::CallerGone, now);
            }
            if let Some(&cx) = self.call_ix.get(call) {
                self.remove_waiting(cx);
            }
        }
    }

    /// Reports what came of ringing `agent` for `call`.
    pub fn ring_result(&mut self, call: &CallId, agent: &AgentId, result: RingResult, now: i64) {
        let agent_ix = self.agent_ix.get(agent).copied();
        let mut queue = None;
        let cx = self.call_ix.get(call).copied();
        // a result for an offer that is over (the call left, or the agent
        // was released from it already) changes nothing: the agent may be
        // ringing for another call by now
        let rang_for_it = cx
            .zip(agent_ix)
            .is_some_and(|(cx, ix)| self.calls.get(cx).ringing.contains(&ix));
        if !rang_for_it {
            return;
        }
        if let Some(cx) = cx {
            if let Some(ix) = agent_ix {
                self.index_call(cx, false);
                self.calls.get_mut(cx).ringing.retain(|&a| a != ix);
                self.index_call(cx, true);
            }
            queue = Some(self.calls.get(cx).queue);
        }
        let Some(ix) = agent_ix else {
            return;
        };
        let auto_pause = self.cfg.auto_pause_after_misses;
        let mut paused_after = None;
        self.update_agent(ix, |a| {
            let was_ringing = a.state == AgentState::Ringing;
            match result {
                RingResult::Answered => {
                    a.state = AgentState::OnCall;
                    a.on_call_since = now;
                    a.call_queue = queue;
                    a.counters.answered = a.counters.answered.saturating_add(1);
                    a.counters.consecutive_missed = 0;
                }
                RingResult::NoAnswer | RingResult::Rejected => {
                    a.counters.missed = a.counters.missed.saturating_add(1);
                    a.counters.consecutive_missed = a.counters.consecutive_missed.saturating_add(1);
                    if auto_pause > 0 && a.counters.consecutive_missed >= auto_pause {
                        a.state = AgentState::Paused {
                            reason: MISSED_CALLS_REASON.to_string(),
                            since_ms: now,
                        };
                        paused_after = Some(a.counters.consecutive_missed);
                    } else if was_ringing {
                        // back to idle; they go to the end of the idle line
                        a.state = AgentState::Available { since_ms: now };
                    }
                }
                RingResult::Unreachable
                | RingResult::CallerGone
                | RingResult::AnsweredElsewhere => {
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
        });
        if let Some(misses) = paused_after {
            self.notices.push(Notice::AgentAutoPaused {
                agent: agent.clone(),
                misses,
            });
        }
        if result == RingResult::Answered {
            if let Some(cx) = cx {
                // ring-all: the others ringing for it are let go (not a miss)
                for other in self.calls.get(cx).ringing.clone() {
                    let id = AgentId::clone(&self.agents[other as usize].id);
                    self.ring_result(call, &id, RingResult::AnsweredElsewhere, now);
                }
                if let Some(&cx) = self.call_ix.get(call) {
                    self.remove_waiting(cx);
                }
            }
        }
    }

    /// The agent's call ended: wrap-up starts (the queue's, or the default).
    /// Returns the wrap-up time given, ms (None if the agent was not on a call).
    pub fn call_ended(&mut self, agent: &AgentId, now: i64) -> Option<i64> {
        let &ix = self.agent_ix.get(agent)?;
        let a = &self.agents[ix as usize];
        if a.state != AgentState::OnCall {
            return None;
        }
        let talk = now.saturating_sub(a.on_call_since).max(0);
        let queue = a.call_queue;
        let wrap = queue
            .and_then(|qi| self.queues[qi as usize].cfg.wrap_up_ms)
            .unwrap_or(self.cfg.wrap_up_ms)
            .max(0);
        self.update_agent(ix, |a| {
            a.counters.talk_ms = a.counters.talk_ms.saturating_add(talk);
            a.call_queue = None;
            a.state = AgentState::WrapUp {
                until_ms: now.saturating_add(wrap),
            };
        });
        if let Some(qi) = queue {
            let q = &mut self.queues[qi as usize];
            if q.recent_handles.len() == HANDLE_HISTORY {
                q.recent_handles.pop_front();
            }
            q.recent_handles.push_back(talk.saturating_add(wrap));
        }
        Some(wrap)
    }

    /// Mean handle time (talk + wrap-up) of the queue's recent calls, ms, or
    /// None before its first call.
    pub fn recent_handle_ms(&self, queue: &QueueId) -> Option<i64> {
        let q = &self.queues[*self.queue_ix.get(queue)? as usize];
        if q.recent_handles.is_empty() {
            return None;
        }
        let sum = q
            .recent_handles
            .iter()
            .fold(0i64, |s, h| s.saturating_add(*h));
        Some(sum / q.recent_handles.len() as i64)
    }

    /// Expected wait of a waiting call, ms: its position times the queue's
    /// recent mean handle time (`default_handle_ms` before any call) shared
    /// among the queue's staffed agents. None when the call is not waiting or
    /// nobody is staffed (no honest estimate exists).
    pub fn expected_wait_ms(&self, call: &CallId, default_handle_ms: i64) -> Option<i64> {
        let &cx = self.call_ix.get(call)?;
        let position = i64::from(self.position_of(cx));
        let q = &self.queues[self.calls.get(cx).queue as usize];
        let staffed = i64::from(q.staffed);
        if staffed == 0 {
            return None;
        }
        let handle = self
            .recent_handle_ms(&q.cfg.id)
            .unwrap_or(default_handle_ms)
            .max(0);
        Some(position.saturating_mul(handle) / staffed)
    }

    /// Moves time on (wrap-ups end, over-long waits are reported) and returns
    /// the offers to make now: waiting calls without a ringing agent, by
    /// priority then longest waiting across all queues, each get an available
    /// member of their queue with the skills they need, picked by the queue's
    /// strategy, not yet tried in this round.
    pub fn poll_offers(&mut self, now: i64) -> Vec<Offer> {
        while let Some(&(until_ms, ix)) = self.wrap_ups.first() {
            if until_ms > now {
                break;
            }
            self.update_agent(ix, |a| {
                a.state = match a.pending_pause.take() {
                    Some((reason, _)) => AgentState::Paused {
                        reason,
                        since_ms: until_ms,
                    },
                    None => AgentState::Available { since_ms: until_ms },
                }
            });
        }
        self.expire_max_waits(now);
        let mut offers = self.serve_holds(now);
        if self.available == 0 {
            return offers;
        }
        self.polls += 1;
        let poll = self.polls;
        // the first call of every class, and the tried calls, in routing order
        let mut heads: BinaryHeap<Reverse<(OrderKey, ClassIx)>> = self
            .classes
            .iter()
            .filter_map(|(k, class)| {
                let &(since_ms, seq, _) = class.untried.first()?;
                Some(Reverse((
                    OrderKey {
                        priority: Reverse(class.key.1),
                        since_ms,
                        seq,
                    },
                    k,
                )))
            })
            .collect();
        let mut tried_after: Option<OrderKey> = None;
        while self.available > 0 {
            let next_tried = match tried_after {
                None => self.tried_calls.first_key_value(),
                Some(k) => self
                    .tried_calls
                    .range((Bound::Excluded(k), Bound::Unbounded))
                    .next(),
            }
            .map(|(k, &cx)| (*k, cx));
            let next_head = heads.peek().map(|Reverse(h)| *h);
            let (hk, class) = match (next_head, next_tried) {
                (None, None) => break,
                (Some(head), None) => head,
                (Some(head), Some((tk, _))) if head.0 < tk => head,
                (_, Some((tk, cx))) => {
                    tried_after = Some(tk);
                    self.serve_tried(cx, now, poll, &mut offers);
                    continue;
                }
            };
            heads.pop();
            let c = self.classes.get(class);
            if c.dead_in_poll == poll {
                continue;
            }
            let Some(&(_, _, cx)) = c.untried.first() else {
                continue;
            };
            debug_assert_eq!(self.calls.get(cx).order_key(), hk);
            if self.serve(cx, now, &mut offers) {
                if let Some(&(since_ms, seq, _)) = self.classes.get(class).untried.first() {
                    heads.push(Reverse((
                        OrderKey {
                            priority: hk.priority,
                            since_ms,
                            seq,
                        },
                        class,
                    )));
                }
            } else {
                self.classes.get_mut(class).dead_in_poll = poll;
            }
        }
        offers
    }

    /// Calls over their queue's maximum wait leave (not while an agent
    /// rings), reported in the order they arrived.
    fn expire_max_waits(&mut self, now: i64) {
        let mut expired: Vec<(u64, CallIx, i64)> = Vec::new();
        for q in &self.queues {
            let Some(max) = q.cfg.max_wait_ms else {
                continue;
            };
            for &(since_ms, seq, cx) in &q.unrung {
                let waited = now.saturating_sub(since_ms);
                if waited < max {
                    break;
                }
                expired.push((seq, cx, waited));
            }
        }
        expired.sort_unstable_by_key(|e| e.0);
        for (_, cx, waited_ms) in expired {
            let w = self.remove_waiting(cx);
            self.notices.push(Notice::MaxWaitReached {
                call: w.call,
                queue: self.queues[w.queue as usize].cfg.id.clone(),
                waited_ms,
            });
        }
    }

    /// The pools a waiting call picks from now: its need (widened or not)
    /// and the same with the queue's preferred skills.
    fn pools_of(&self, cx: CallIx, now: i64) -> (PoolIx, Option<PoolIx>) {
        let w = self.calls.get(cx);
        let class = self.classes.get(w.class);
        let widened = self.queues[w.queue as usize]
            .cfg
            .widen_after_ms
            .is_some_and(|t| now.saturating_sub(w.since_ms) >= t);
        if widened {
            (class.wide, class.preferred.map(|p| p.1))
        } else {
            (class.pool, class.preferred.map(|p| p.0))
        }
    }

    /// Whether `agent` could ever take a call of `queue` needing what `pool`
    /// holds (the reference's "candidates": a staffed member with the skills).
    fn is_candidate(&self, agent: AgentIx, pool: PoolIx) -> bool {
        let p = self.pools.get(pool);
        let a = &self.agents[agent as usize];
        a.place_in(p.queue).is_some() && a.staffed() && a.qualifies(self.needs.get(p.need))
    }

    /// A waiting call that already tried someone: a new round starts when
    /// every candidate was tried; then it is served like any other.
    fn serve_tried(&mut self, cx: CallIx, now: i64, poll: u64, offers: &mut Vec<Offer>) {
        let (pool, _) = self.pools_of(cx, now);
        let candidates = self.pools.get(pool).staffed as usize;
        let tried_candidates = self
            .calls
            .get(cx)
            .tried
            .iter()
            .filter(|&&a| self.is_candidate(a, pool))
            .count();
        if candidates > 0 && tried_candidates == candidates {
            self.index_call(cx, false);
            self.calls.get_mut(cx).tried.clear();
            self.index_call(cx, true);
            if !self.serve(cx, now, offers) {
                // nobody for the oldest untried call of its class in this
                // poll: nobody for the younger ones either
                let class = self.calls.get(cx).class;
                self.classes.get_mut(class).dead_in_poll = poll;
            }
        } else {
            self.serve(cx, now, offers);
        }
    }

    /// Picks the agents for a waiting call by its queue's strategy, rings
    /// them and returns true, or returns false if nobody can take it now.
    fn serve(&mut self, cx: CallIx, now: i64, offers: &mut Vec<Offer>) -> bool {
        let (pool, preferred) = self.pools_of(cx, now);
        let mut picks = match preferred {
            Some(p) => self.pick(cx, p, pool),
            None => Vec::new(),
        };
        if picks.is_empty() {
            picks = self.pick(cx, pool, pool);
        }
        let Some(&last) = picks.last() else {
            return false;
        };
        self.index_call(cx, false);
        let w = self.calls.get_mut(cx);
        for &pick in &picks {
            w.tried.insert(pick);
            w.ringing.push(pick);
        }
        let (call, qi) = (w.call.clone(), w.queue);
        self.index_call(cx, true);
        for pick in picks {
            offers.push(Offer {
                call: call.clone(),
                agent: AgentId::clone(&self.agents[pick as usize].id),
            });
            self.update_agent(pick, |a| a.state = AgentState::Ringing);
        }
        self.queues[qi as usize].last = Some(last);
        true
    }

    /// The agents of `from` (available, in strategy order) the queue's
    /// strategy picks for call `cx`, leaving out those tried in this round;
    /// `need` is the pool of the call's own need (round robin's candidates).
    fn pick(&self, cx: CallIx, from: PoolIx, need: PoolIx) -> Vec<AgentIx> {
        let w = self.calls.get(cx);
        let q = &self.queues[w.queue as usize];
        let untried = |k: &&PoolKey| !w.tried.contains(&k.ix);
        let available = &self.pools.get(from).available;
        match q.cfg.strategy {
            Strategy::RingAll => available.iter().filter(untried).map(|k| k.ix).collect(),
            Strategy::RoundRobin => {
                // after the agent offered last if they could take this call,
                // else from the top
                let after = q
                    .last
                    .filter(|&l| self.is_candidate(l, need))
                    .and_then(|l| {
                        let a = &self.agents[l as usize];
                        let place = a.place_in(w.queue)?;
                        Some(PoolKey {
                            first: i64::from(place),
                            second: 0,
                            id: a.id.clone(),
                            ix: l,
                        })
                    });
                after
                    .and_then(|k| {
                        available
                            .range((Bound::Excluded(k), Bound::Unbounded))
                            .find(untried)
                    })
                    .or_else(|| available.iter().find(untried))
                    .map(|k| vec![k.ix])
                    .unwrap_or_default()
            }
            _ => available
                .iter()
                .find(untried)
                .map(|k| vec![k.ix])
                .unwrap_or_default(),
        }
    }

    // ---- the index: kept in step with every change of an agent or a call ----

    /// Changes an agent through `f`, keeping pools, counts and wrap-ups right.
    fn update_agent<R>(&mut self, ix: AgentIx, f: impl FnOnce(&mut Agent) -> R) -> R {
        self.index_agent(ix, false);
        let r = f(&mut self.agents[ix as usize]);
        self.index_agent(ix, true);
        r
    }

    /// Adds the agent to (or takes them out of) what their state puts them in.
    fn index_agent(&mut self, ix: AgentIx, add: bool) {
        let Acd {
            agents,
            queues,
            pools,
            needs,
            wrap_ups,
            available,
            ..
        } = self;
        let a = &agents[ix as usize];
        if let AgentState::WrapUp { until_ms } = a.state {
            if add {
                wrap_ups.insert((until_ms, ix));
            } else {
                wrap_ups.remove(&(until_ms, ix));
            }
        }
        if !a.staffed() {
            return;
        }
        let since = match a.state {
            AgentState::Available { since_ms } => {
                if add {
                    *available += 1;
                } else {
                    *available -= 1;
                }
                Some(since_ms)
            }
            _ => None,
        };
        for &(qi, place) in &a.queues {
            let q = &mut queues[qi as usize];
            if add {
                q.staffed += 1;
            } else {
                q.staffed -= 1;
            }
            for &(need, pool) in &q.pools {
                if !a.qualifies(needs.get(need)) {
                    continue;
                }
                let p = pools.get_mut(pool);
                if add {
                    p.staffed += 1;
                } else {
                    p.staffed -= 1;
                }
                if let Some(since_ms) = since {
                    let key = PoolKey::new(q.cfg.strategy, a, ix, since_ms, place);
                    if add {
                        p.available.insert(key);
                    } else {
                        p.available.remove(&key);
                    }
                }
            }
        }
    }

    /// Adds a waiting call to (or takes it out of) the sets of calls nobody
    /// rings for: its class or the tried calls, and its queue's by age.
    fn index_call(&mut self, cx: CallIx, add: bool) {
        let w = self.calls.get(cx);
        if !w.ringing.is_empty() {
            return;
        }
        let since_key = w.since_key(cx);
        let q = &mut self.queues[w.queue as usize];
        if add {
            q.unrung.insert(since_key);
        } else {
            q.unrung.remove(&since_key);
        }
        if w.held.is_some() {
            // held for its preferred agent: out of the ordinary routing
            return;
        }
        if w.tried.is_empty() {
            let class = self.classes.get_mut(w.class);
            if add {
                class.untried.insert(since_key);
            } else {
                class.untried.remove(&since_key);
            }
        } else if add {
            self.tried_calls.insert(w.order_key(), cx);
        } else {
            self.tried_calls.remove(&w.order_key());
        }
    }

    /// Takes a call out of the ACD altogether.
    fn remove_waiting(&mut self, cx: CallIx) -> Waiting {
        self.index_call(cx, false);
        self.drop_hold(cx);
        #[allow(clippy::expect_used)] // as `Slab::get`
        let w = self.calls.remove(cx).expect("index points at a live slot");
        self.call_ix.remove(&w.call);
        self.queues[w.queue as usize].all.remove(&w.order_key());
        self.release_class(w.class);
        w
    }

    /// The class of a call joining queue `qi` (made if new; one more reference).
    fn class_for(&mut self, qi: QueueIx, request: &CallRequest) -> ClassIx {
        let cfg = &self.queues[qi as usize].cfg;
        let asked = cfg.skills.iter().chain(&request.skills);
        let need = self.needs.intern(asked.clone(), false);
        let key = (qi, request.priority, need);
        if let Some(&class) = self.class_ix.get(&key) {
            self.classes.get_mut(class).refs += 1;
            return class;
        }
        let wide = self.needs.intern(asked, true);
        let preferred = if cfg.preferred.is_empty() {
            None
        } else {
            let pref = self.needs.intern(cfg.preferred.iter(), false);
            Some((self.needs.merge(need, pref), self.needs.merge(wide, pref)))
        };
        let pool = self.pool_for(qi, need);
        let wide = self.pool_for(qi, wide);
        let preferred = preferred.map(|(p, w)| (self.pool_for(qi, p), self.pool_for(qi, w)));
        let class = self.classes.insert(Class {
            key,
            pool,
            wide,
            preferred,
            untried: BTreeSet::new(),
            refs: 1,
            dead_in_poll: 0,
        });
        self.class_ix.insert(key, class);
        class
    }

    /// One reference less to a class; the last one frees it and its pools.
    fn release_class(&mut self, class: ClassIx) {
        let c = self.classes.get_mut(class);
        c.refs -= 1;
        if c.refs > 0 {
            return;
        }
        #[allow(clippy::expect_used)] // as `Slab::get`
        let c = self
            .classes
            .remove(class)
            .expect("index points at a live slot");
        self.class_ix.remove(&c.key);
        let mut pools = vec![c.pool, c.wide];
        if let Some((p, w)) = c.preferred {
            pools.extend([p, w]);
        }
        for pool in pools {
            let p = self.pools.get_mut(pool);
            p.refs -= 1;
            if p.refs == 0 {
                let q = p.queue;
                self.pools.remove(pool);
                self.queues[q as usize].pools.retain(|&(_, x)| x != pool);
            }
        }
    }

    /// The pool of queue `qi`'s members meeting `need` (made if new, from
    /// the agents as they are; one more reference).
    fn pool_for(&mut self, qi: QueueIx, need: NeedIx) -> PoolIx {
        let q = &self.queues[qi as usize];
        if let Some(&(_, pool)) = q.pools.iter().find(|(n, _)| *n == need) {
            self.pools.get_mut(pool).refs += 1;
            return pool;
        }
        let mut p = Pool {
            queue: qi,
            need,
            available: BTreeSet::new(),
            staffed: 0,
            refs: 1,
        };
        let wanted = self.needs.get(need);
        for (ix, a) in self.agents.iter().enumerate() {
            let Some(place) = a.place_in(qi) else {
                continue;
            };
            if !a.staffed() || !a.qualifies(wanted) {
                continue;
            }
            p.staffed += 1;
            if let AgentState::Available { since_ms } = a.state {
                p.available.insert(PoolKey::new(
                    q.cfg.strategy,
                    a,
                    ix as AgentIx,
                    since_ms,
                    place,
                ));
            }
        }
        let pool = self.pools.insert(p);
        self.queues[qi as usize].pools.push((need, pool));
        pool
    }

    /// Builds the whole index again from agents, queues and calls (after a
    /// queue's settings changed: its members, strategy or skills).
    fn rebuild_index(&mut self) {
        self.pools.clear();
        self.classes.clear();
        self.class_ix.clear();
        self.tried_calls.clear();
        self.wrap_ups.clear();
        self.available = 0;
        for q in &mut self.queues {
            q.places = q
                .cfg
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| (m.clone(), i as u32))
                .collect();
            q.staffed = 0;
            q.unrung.clear();
            q.pools.clear();
        }
        for ix in 0..self.agents.len() {
            let id = self.agents[ix].id.clone();
            self.agents[ix].queues = self
                .queues
                .iter()
                .enumerate()
                .filter_map(|(qi, q)| Some((qi as QueueIx, q.place_of(&id)?)))
                .collect();
            self.index_agent(ix as AgentIx, true);
        }
        let calls: Vec<CallIx> = self.calls.iter().map(|(cx, _)| cx).collect();
        for cx in calls {
            let w = self.calls.get(cx);
            let (qi, request) = (w.queue, w.request.clone());
            self.calls.get_mut(cx).class = self.class_for(qi, &request);
            self.index_call(cx, true);
        }
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
