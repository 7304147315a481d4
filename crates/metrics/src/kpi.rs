//! KPIs folded from the event log, sans-IO.
//!
//! [`Metrics::apply`] takes each [`CallEvent`]; the figures come from
//! [`Metrics::snapshot`] (every call so far) or [`Metrics::snapshot_window`]
//! (calls that arrived in `[from, now)`: "last 15 minutes", "today", a
//! shift), always with `now` passed in. The aggregator keeps one small record
//! of facts per call and computes every figure from those records when asked,
//! so a window is the same code as "since start". docs/kpis.md gives each
//! formula.
//!
//! Bad input has defined results (tested below):
//! - events of a call may come in any order: the facts are the same;
//! - an event applied twice counts once: each fact of a call is recorded once
//!   (first value wins), and an agent's missed offer once per (agent, time);
//! - events of a call whose `arrived` was never seen (a log that starts
//!   mid-call, an unknown call id) are kept but counted nowhere until the
//!   arrival shows up; [`Metrics::forget_before`] drops them once stale;
//! - negative waits and talk times count as 0; rings are taken as given;
//! - a call whose end never comes (a crash mid-call) stays "waiting" or
//!   "talking" until [`Metrics::forget_before`] passes its last event;
//! - a call's queue and type are chosen by event time (the arrival's queue,
//!   the latest type), not by the order events are applied in;
//! - events without a call id count for no call; an agent's registrations,
//!   logins and pauses make their staffed and paused time (a sorted,
//!   de-duplicated timeline per agent; a registration counts until it
//!   expires, so a crash does not leave an agent staffed for ever).

use crate::presence::{Change, Timeline};
use hotline_core::{AgentId, CallEvent, CallId, CallType, EventKind, QueueId, OUTBOUND};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Settings of the KPIs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KpiConfig {
    /// Abandons before this wait are "short" (misdials, instant regrets) and
    /// counted apart, ms.
    pub short_abandon_ms: i64,
    /// A queue's own short-abandon threshold, ms (others use `short_abandon_ms`).
    pub short_abandon_ms_by_queue: BTreeMap<QueueId, i64>,
    /// Service-level time: answered by an agent within it counts as in
    /// target, ms. The default is the ring limit: the end of ring
    /// `ring.answer_after_rings` of the cadence (11 s for 3 rings with the
    /// shipped cadence), so "in target" means "no caller heard a fourth ring".
    pub service_level_ms: i64,
    /// "Within N rings" figures use this N (3: no caller hears a fourth ring).
    pub rings: u32,
    /// A callback still waiting this long after the caller asked for it is
    /// overdue, ms (default: the callback deadline, 24 h).
    pub callback_overdue_ms: i64,
    /// A queued call that no agent was offered within this time after it was
    /// queued "had to wait" (queue placement rate), ms.
    pub queue_placement_ms: i64,
    /// What calls cost (cost per call); all zero = not configured.
    pub cost: CostModel,
    /// The handle-time limit of each call type (`[limits]`), ms; shown
    /// beside the type's handle time (types without a limit are absent).
    pub limits_ms: BTreeMap<String, i64>,
}

/// The cost model of the cost per call (平均单呼成本).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CostModel {
    /// Trunk (telephone line) cost per minute of an inbound call, from its
    /// arrival to its end.
    pub trunk_per_minute: f64,
    /// Cost of an agent per staffed hour.
    pub agent_per_hour: f64,
}

impl CostModel {
    /// True when a cost is set (else the cost per call is absent).
    pub fn configured(&self) -> bool {
        self.trunk_per_minute > 0.0 || self.agent_per_hour > 0.0
    }
}

/// The "20 s form" of the service level (`service_level_20s`), ms.
pub const SERVICE_LEVEL_20S_MS: i64 = 20_000;

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            short_abandon_ms: 5_000,
            short_abandon_ms_by_queue: BTreeMap::new(),
            service_level_ms: 11_000,
            rings: 3,
            callback_overdue_ms: 86_400_000,
            queue_placement_ms: 1_000,
            cost: CostModel::default(),
            limits_ms: BTreeMap::new(),
        }
    }
}

impl KpiConfig {
    /// The short-abandon threshold of a call counted in `queue`, ms.
    pub fn short_abandon_ms_for(&self, queue: Option<&QueueId>) -> i64 {
        queue
            .and_then(|q| self.short_abandon_ms_by_queue.get(q))
            .copied()
            .unwrap_or(self.short_abandon_ms)
    }
}

/// An agent's answer of a call.
#[derive(Clone, Debug)]
struct Answer {
    wait_ms: i64,
    rings: u32,
    agent: Option<AgentId>,
}

/// Why an offer to an agent did not become an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MissKind {
    /// `agent_ring_no_answer`
    RangOut,
    /// `agent_rejected`
    Refused,
    /// `agent_unreachable`
    Unreachable,
}

/// One failed offer: (agent, when, why). Identical ones are one.
type Miss = (AgentId, i64, MissKind);

/// What is known about one call.
#[derive(Clone, Debug, Default)]
struct CallFacts {
    /// The queue the call counts in: that of its `arrived` event, else that
    /// of its earliest event with a queue (an overflow names the new queue,
    /// so "first applied" would depend on the order events come in).
    queue: Option<QueueId>,
    /// When `queue` was seen; None = from the arrival (final).
    queue_at: Option<i64>,
    arrived_ms: Option<i64>,
    /// An agent's call to a customer (`dialled = "outbound"`): it counts in
    /// the agent's figures, not in the inbound ones (offered, answered,
    /// service level, abandons).
    outbound: bool,
    /// A callback the engine made (`dialled = "callback"`): the customer did
    /// not call again (first-contact resolution).
    callback: bool,
    /// Time of the latest event of the call.
    last_ms: i64,
    rejected: bool,
    /// SIP status of the first `rejected`.
    rejected_status: Option<u16>,
    /// A `blacklisted` event refused the call (`action` = `reject`).
    blacklisted_refused: bool,
    /// The call left a queue for another at least once (`overflowed`).
    overflowed: bool,
    /// The line stayed silent and the engine ended the call (`silent_line`).
    silent_line: bool,
    /// When an agent first answered (earliest `agent_answered`).
    answered_ms: Option<i64>,
    /// When the line died under the call, the earliest: `media_timeout`
    /// (no RTP) or `session_expired` (a far end that vanished). A dropped
    /// call if it came at or after an agent's answer.
    line_lost_ms: Option<i64>,
    /// When one side first went silent at the packet level (`one_way_audio`).
    one_way_ms: Option<i64>,
    /// The caller left a voicemail (`voicemail_left`).
    voicemail: bool,
    /// The caller asked for a callback and hung up (`callback_requested`).
    callback_requested: bool,
    /// A callback was given up (`callback_expired`).
    callback_expired: bool,
    /// The agent's wrap-up after the call (`wrap_up`), ms.
    wrap_ms: Option<i64>,
    /// The call's type and when it was set: `arrived` sets the assumed type,
    /// `ivr_choice` and the limit events the known one; the latest wins.
    call_type: Option<(i64, CallType)>,
    /// The caller's number (from `arrived`).
    caller: Option<Box<str>>,
    failed: bool,
    system_answered_rings: Option<u32>,
    agent_answered: Option<Answer>,
    abandoned_wait_ms: Option<i64>,
    /// Talk time and the agent named on `completed`.
    completed: Option<(i64, Option<AgentId>)>,
    /// The agent named on `limit_exceeded` (if it came).
    limit_exceeded: Option<Option<AgentId>>,
    misses: Vec<Miss>,
    /// Time on hold of the ended holds (`resumed`), ms.
    hold_ms: i64,
    /// The same holds per agent who held the call (the event's agent).
    holds: Vec<(Option<AgentId>, i64)>,
    /// A hold still open (`held` without `resumed` yet): since, by whom.
    held_at: Option<(i64, Option<AgentId>)>,
    /// The agent named on `wrap_up`.
    wrap_agent: Option<AgentId>,
    /// When the call was first put in a queue (`queued`).
    queued_ms: Option<i64>,
    /// When an agent was first offered the call (`offered`).
    offered_ms: Option<i64>,
    /// When the call stopped waiting for an agent: an agent's answer or its
    /// end before one (abandoned, voicemail, callback request, failure).
    left_queue_ms: Option<i64>,
    /// When the call ended (earliest ending event), for its trunk time.
    ended_ms: Option<i64>,
    /// The call met a closed queue (`queue_closed`).
    closed: bool,
    /// The agents who transferred the call and their part of it (`transferred`).
    transfers: Vec<(Option<AgentId>, i64)>,
}

impl CallFacts {
    fn ended(&self) -> bool {
        self.rejected
            || self.failed
            || self.abandoned_wait_ms.is_some()
            || self.completed.is_some()
            || self.voicemail
            || self.callback_requested
            || self.callback_expired
    }

    /// Time connected to agents: the completing agent's talk and the parts
    /// of the agents who transferred the call before, ms (hold included).
    fn connected_ms(&self) -> Option<i64> {
        let (talk, _) = self.completed.as_ref()?;
        Some(
            self.transfers
                .iter()
                .fold(*talk, |sum, (_, t)| sum.saturating_add((*t).max(0))),
        )
    }

    /// Got through to an agent and then the line died (`media_timeout`,
    /// `session_expired` at or after the answer): neither party's BYE ended
    /// it. A line that died while the caller still waited for a first
    /// answer is not a dropped call (the caller never got through; it ends
    /// as abandoned or failed).
    fn dropped(&self) -> bool {
        matches!((self.answered_ms, self.line_lost_ms), (Some(a), Some(l)) if l >= a)
    }

    /// An answered call with one-way audio at or after the answer.
    fn one_way_audio(&self) -> bool {
        matches!((self.answered_ms, self.one_way_ms), (Some(a), Some(o)) if o >= a)
    }

    fn answering_agent(&self) -> Option<&AgentId> {
        self.agent_answered.as_ref().and_then(|a| a.agent.as_ref())
    }

    /// The type the call is measured as (inquiry until known).
    fn call_type(&self) -> CallType {
        self.call_type.map(|(_, t)| t).unwrap_or_default()
    }

    /// Refused because there was no room: a full queue (486), a closed queue
    /// (480), no capacity (503) or the blacklist (603, `blacklisted` with
    /// `reject`).
    fn blocked(&self) -> bool {
        self.rejected
            && (self.blacklisted_refused
                || matches!(self.rejected_status, Some(480 | 486 | 503 | 603)))
    }

    /// Refused because the queue was closed (480, or a `queue_closed` before
    /// the refusal), not by the blacklist.
    fn closed_refused(&self) -> bool {
        self.rejected
            && !self.blacklisted_refused
            && (self.closed || self.rejected_status == Some(480))
    }

    /// Met a busy signal: refused for want of room (a full queue 486, no
    /// media capacity 503); closed hours and the blacklist are apart.
    fn busy(&self) -> bool {
        self.rejected
            && !self.blacklisted_refused
            && !self.closed_refused()
            && matches!(self.rejected_status, Some(486 | 503))
    }

    /// Queued and no agent offered it within `grace_ms`: it had to wait.
    fn placed(&self, grace_ms: i64) -> bool {
        let Some(q) = self.queued_ms else {
            return false;
        };
        match self.offered_ms {
            Some(o) => o.saturating_sub(q) > grace_ms,
            None => true,
        }
    }

    /// Time in the queue: from `queued` until an agent answered or the call
    /// ended before one; None while it waits.
    fn queue_time_ms(&self) -> Option<i64> {
        Some(self.left_queue_ms?.saturating_sub(self.queued_ms?).max(0))
    }

    /// The agent whose call it was at the end: named on `completed`, else
    /// the one who answered.
    fn completing_agent(&self) -> Option<&AgentId> {
        self.completed
            .as_ref()
            .and_then(|(_, a)| a.as_ref())
            .or(self.answering_agent())
    }

    fn note_left_queue(&mut self, at: i64) {
        self.left_queue_ms = Some(self.left_queue_ms.map_or(at, |t| t.min(at)));
    }

    fn note_end(&mut self, at: i64) {
        self.ended_ms = Some(self.ended_ms.map_or(at, |t| t.min(at)));
    }

    fn set_type(&mut self, at: i64, t: CallType, known: bool) {
        // a known type (IVR, limit events) beats the assumed one of `arrived`
        // at the same millisecond; otherwise the latest wins
        let at = if known { at } else { at.saturating_sub(1) };
        if self.call_type.is_none_or(|(t0, _)| at >= t0) {
            self.call_type = Some((at, t));
        }
    }
}

/// Figures of the calls of one type (handle time, limits).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeFigures {
    /// Calls of this type answered by an agent.
    pub answered: u64,
    /// Calls of this type completed (talked and ended).
    pub completed: u64,
    /// Mean talk time of the completed calls (hold not included), ms.
    pub avg_talk_ms: Option<f64>,
    /// Mean time on hold of the completed calls, ms.
    pub avg_hold_ms: Option<f64>,
    /// Mean call duration (talk + hold) of the completed calls, ms.
    pub avg_call_ms: Option<f64>,
    /// Average handle time of the completed calls, ms: talk + hold +
    /// wrap-up (from `wrap_up`).
    pub aht_ms: Option<f64>,
    /// Completed calls that went past the type's limit.
    pub limit_exceeded: u64,
    /// Completed calls within the limit ÷ completed calls.
    pub within_limit: Option<f64>,
    /// The type's handle-time limit (`[limits]`), ms, if it has one.
    pub limit_ms: Option<i64>,
}

/// A call that arrived and was not answered by an agent (for the report's
/// list of missed calls).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnansweredCall {
    /// The call.
    pub call_id: String,
    /// When it arrived, epoch ms.
    pub arrived_ms: i64,
    /// The caller's number, if the arrival carried one.
    pub caller: Option<String>,
    /// Its queue, if it reached one.
    pub queue: Option<String>,
    /// `abandoned`, `short_abandoned`, `failed`, `silent_line`, `rejected`,
    /// `blocked` or `waiting` (not ended).
    pub outcome: &'static str,
    /// Time waited before the end, ms (abandons), if known.
    pub wait_ms: Option<i64>,
}

/// The figures of one scope (the center, a queue).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Calls that arrived and were not refused.
    pub offered: u64,
    /// Calls refused at the door (unknown number, bad SDP, no capacity, full queue, blacklist).
    pub rejected: u64,
    /// Of those, calls refused for want of room or by policy: a full or
    /// closed queue (486), no capacity (503), the blacklist (603).
    pub blocked: u64,
    /// Of those, calls the blacklist refused.
    pub blacklisted_refused: u64,
    /// Of those, calls refused because their queue was closed (outside its
    /// hours or on a holiday, no voicemail).
    pub closed_refused: u64,
    /// Of those, callers who met a busy signal: a full queue (486) or no
    /// media capacity (503).
    pub busy: u64,
    /// Busy ÷ calls that arrived (offered + rejected) — 忙音率.
    pub busy_rate: Option<f64>,
    /// Offered calls that were put in a queue (`queued`).
    pub queued: u64,
    /// Offered calls that had to wait: queued and not offered to an agent
    /// within `queue_placement_ms`.
    pub placed_in_queue: u64,
    /// Placed in queue ÷ offered — 队列放置率.
    pub queue_placement_rate: Option<f64>,
    /// Mean time in the queue of every queued call whose wait ended
    /// (answered, abandoned, voicemail, callback request, failure), ms — 平均排队时间.
    pub avg_queue_ms: Option<f64>,
    /// Offered calls that overflowed to another queue at least once.
    pub overflowed: u64,
    /// Calls ended because the line stayed silent (also counted in `failed`).
    pub silent_line: u64,
    /// Answered calls that dropped: after an agent answered, the line died
    /// (`media_timeout`: no RTP from one side; `session_expired`: a far end
    /// that vanished) and the engine ended the call — not either party's BYE.
    pub dropped: u64,
    /// Dropped ÷ answered — 掉话率.
    pub dropped_rate: Option<f64>,
    /// Answered calls with one-way audio (`one_way_audio`: one side sent no
    /// RTP for half the media timeout while the other did), dropped or not.
    pub one_way_audio: u64,
    /// Callers who left a voicemail instead of reaching an agent.
    pub voicemail: u64,
    /// Callers who asked to be called back (and hung up).
    pub callbacks_requested: u64,
    /// Callbacks made: agent and caller talked (calls of type `callback`).
    pub callbacks_done: u64,
    /// Callbacks waiting for an agent at `now`.
    pub callbacks_due: u64,
    /// Of those, callbacks waiting longer than the overdue threshold
    /// (`kpis.callback_overdue_s`, default 1 h).
    pub callbacks_overdue: u64,
    /// Callbacks given up (deadline or last attempt without reaching the caller).
    pub callbacks_expired: u64,
    /// Calls answered by an agent.
    pub answered: u64,
    /// Calls the engine answered itself at the ring limit (an agent may have
    /// answered later).
    pub system_answered: u64,
    /// Callers who hung up before an agent answered (short ones included).
    pub abandoned: u64,
    /// Of those, abandons before the short-abandon threshold.
    pub short_abandoned: u64,
    /// Calls that ended for a technical reason before an agent answered.
    pub failed: u64,
    /// Calls waiting for an agent at `now`.
    pub waiting_now: u64,
    /// Calls with an agent at `now` (answered, not completed).
    pub talking_now: u64,
    /// Mean wait of agent-answered calls, ms (average speed of answer).
    pub asa_ms: Option<f64>,
    /// Longest wait among calls waiting at `now`, ms.
    pub longest_current_wait_ms: i64,
    /// Mean wait of abandoned calls, ms.
    pub avg_time_to_abandon_ms: Option<f64>,
    /// Mean rings heard before the first answer (the engine's or an agent's).
    pub avg_rings_to_answer: Option<f64>,
    /// How many answered calls heard 1, 2, 3, ... rings.
    pub rings_distribution: BTreeMap<u32, u64>,
    /// Of the calls the engine answered itself, the share within the ring limit (must be 1).
    pub system_answered_within_rings: Option<f64>,
    /// Of all answered calls, the share an agent answered within the ring limit.
    pub agent_answered_within_rings: Option<f64>,
    /// Answered by an agent within the target ÷ (answered + abandoned after the short threshold).
    pub service_level: Option<f64>,
    /// The same with the 20 s target ([`SERVICE_LEVEL_20S_MS`]).
    pub service_level_20s: Option<f64>,
    /// Abandoned ÷ offered.
    pub abandon_rate: Option<f64>,
    /// (Abandoned − short) ÷ (offered − short).
    pub abandon_rate_without_short: Option<f64>,
    /// Mean talk time of completed calls (hold not included), ms.
    pub avg_talk_ms: Option<f64>,
    /// Mean time on hold of completed calls, ms.
    pub avg_hold_ms: Option<f64>,
    /// Mean call duration of completed calls: talk + hold, ms — 平均通话时间.
    pub avg_call_ms: Option<f64>,
    /// Average handle time of completed calls (talk + hold + wrap-up), ms.
    pub aht_ms: Option<f64>,
    /// Answered calls that an agent transferred to another queue.
    pub transferred: u64,
    /// Transferred ÷ answered.
    pub transfer_rate: Option<f64>,
    /// Queue waits of the answered calls.
    pub wait_histogram: Histogram,
    /// Handle times (talk + hold + wrap-up) of the completed calls.
    pub handle_histogram: Histogram,
    /// Offered calls per hour over the window.
    pub calls_per_hour: Option<f64>,
    /// Completed calls that stayed within their handle-time limit ÷ completed calls.
    pub within_limit: Option<f64>,
    /// Handle time and limit compliance per call type (`order`, `inquiry`,
    /// ...; only types with answered calls).
    pub by_type: BTreeMap<String, TypeFigures>,
    /// Center only: (talk + hold + wrap-up) ÷ (staffed − paused) of all
    /// agents — 占线率.
    pub occupancy: Option<f64>,
    /// Center only: calls answered per staffed agent hour.
    pub calls_per_agent_hour: Option<f64>,
    /// Center only: (trunk minutes × trunk cost + staffed hours × agent
    /// cost) ÷ answered calls, from `kpis.cost` — 平均单呼成本.
    pub cost_per_call: Option<f64>,
    /// Center only: agents who left in the period ÷ the mean number of
    /// agents employed in it — 值机员流动率 (filled from the users' start
    /// and end dates by the caller, not from events).
    pub agent_turnover: Option<f64>,
    /// Mean quality score (0–100) of the calls of the period's scored
    /// recordings — 监听分值 (filled from the quality scores by the caller).
    pub qa_score: Option<f64>,
}

/// The figures of one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentFigures {
    /// Calls answered.
    pub answered: u64,
    /// Missed calls: offers that rang out or were refused (`rang_out + refused`,
    /// what the ACD counts towards an auto-pause).
    pub missed: u64,
    /// Offers that rang out unanswered (`agent_ring_no_answer`).
    pub rang_out: u64,
    /// Offers the phone refused (`agent_rejected`: busy, declined).
    pub refused: u64,
    /// Offers that could not reach the phone (`agent_unreachable`; not a miss).
    pub unreachable: u64,
    /// Total talk time (hold not included), ms: of the calls the agent
    /// completed and of their part of the calls they transferred.
    pub talk_ms: i64,
    /// Total time the agent held callers, ms.
    pub hold_ms: i64,
    /// Total after-call work (wrap-up), ms.
    pub wrap_ms: i64,
    /// Mean talk per call (completed or transferred; hold not included), ms —
    /// 平均交谈时间, as for the center.
    pub avg_talk_ms: Option<f64>,
    /// Mean call duration per call: talk + hold, ms — 平均通话时间.
    pub avg_call_ms: Option<f64>,
    /// Calls answered per staffed hour — 每小时呼叫次数.
    pub calls_per_hour: Option<f64>,
    /// Mean quality score (0–100) of the agent's scored calls — 监听分值
    /// (filled from the quality scores by the caller).
    pub qa_score: Option<f64>,
    /// Calls the agent transferred to another queue.
    pub transferred: u64,
    /// Calls that went past their handle-time limit.
    pub limit_exceeded: u64,
    /// Limit compliance: the agent's completed calls that stayed within
    /// their limit ÷ the agent's completed calls.
    pub within_limit: Option<f64>,
    /// Time staffed in the window: a phone registered and logged in to the
    /// queues (pauses included), ms — the agent's attendance.
    pub staffed_ms: i64,
    /// Staffed ÷ the length of the window (for a shift: the shift so far, or
    /// the whole shift in a report), at most 1.
    pub attendance: Option<f64>,
    /// Of that, time paused, ms.
    pub paused_ms: i64,
    /// (Talk + hold + wrap-up) ÷ (staffed − paused): the share of the time
    /// available for calls spent on calls and their after-call work, at
    /// most 1 — 占线率.
    pub occupancy: Option<f64>,
    /// (Talk + hold + wrap-up) ÷ staffed (pauses included), at most 1.
    pub utilisation: Option<f64>,
}

/// Everything at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// When (epoch ms).
    pub at_ms: i64,
    /// Start of the window (epoch ms), None = since the start.
    pub from_ms: Option<i64>,
    /// The whole center.
    pub center: Figures,
    /// Per queue.
    pub queues: BTreeMap<String, Figures>,
    /// Per agent, over the same calls as the center (those that arrived in the window).
    pub agents: BTreeMap<String, AgentFigures>,
}

/// The KPI aggregator: feed it events, ask for snapshots.
#[derive(Debug, Default)]
pub struct Metrics {
    cfg: KpiConfig,
    /// Boxed: the map's table (a third or more of it empty) then costs a
    /// pointer per slot instead of a whole record.
    calls: HashMap<CallId, Box<CallFacts>>,
    /// Ended calls folded by [`Metrics::compact`], by the start of their
    /// arrival's minute ([`ROLLUP_MINUTE_MS`]) or, once older,
    /// quarter-hour ([`ROLLUP_QUARTER_MS`]).
    rollups: BTreeMap<i64, Rollup>,
    /// Each agent's staffing changes (registration, login, pause).
    presence: HashMap<AgentId, Timeline>,
    /// What the calls and sums dropped by [`Metrics::forget_before`] added
    /// up to, so that "since start" keeps counting them (its counters never
    /// go back): the same sums as a minute's, added the same way.
    forgotten: Rollup,
}

/// [`Metrics::compact`] keeps every fact of the calls that arrived in the
/// last 16 minutes (the "last 15 minutes" window stays exact), ms.
pub const DETAIL_MS: i64 = 16 * 60_000;
/// Older ended calls are folded into one sum per minute of arrival, ms.
pub const ROLLUP_MINUTE_MS: i64 = 60_000;
/// Minute sums older than this are merged per quarter-hour, ms ("last
/// hour" stays counted by the minute).
pub const FINE_ROLLUPS_MS: i64 = 75 * 60_000;
/// The quarter-hour of the merged sums, ms (every UTC offset is a multiple of
/// it, so the center's midnight starts one).
pub const ROLLUP_QUARTER_MS: i64 = 15 * 60_000;

/// The start of `step`'s period that holds `t` (`t` itself at the far ends
/// of time, where the start would not fit in an i64).
fn floor_to(t: i64, step: i64) -> i64 {
    t.checked_sub(t.rem_euclid(step)).unwrap_or(t)
}

/// The sums of the ended calls that arrived in one minute or quarter-hour,
/// folded by [`Metrics::compact`] so that a day of traffic costs a few
/// hundred of these instead of one [`CallFacts`] per call. They count in a
/// window like the calls would have (the same code adds them), except
/// that a window starting inside a minute (quarter-hour) counts that
/// minute's (quarter's) calls not at all. Also what everything forgotten
/// by [`Metrics::forget_before`] added up to. An agent's outbound call counts
/// for its agent only, never in the center's or a queue's inbound figures
/// (docs/kpis.md), whether it is kept, folded or forgotten.
#[derive(Debug, Default)]
struct Rollup {
    center: Acc,
    queues: HashMap<QueueId, Acc>,
    agents: HashMap<AgentId, AgentAcc>,
    /// The earliest arrival of an inbound call in it.
    first_arrival: Option<i64>,
}

impl Rollup {
    /// Adds one ended call the way [`Metrics::snapshot_window`] adds it.
    fn add(&mut self, f: &CallFacts, cfg: &KpiConfig) {
        let Some(arrived) = f.arrived_ms else {
            return;
        };
        if f.outbound {
            add_agents(&mut self.agents, f);
            return;
        }
        self.first_arrival = Some(self.first_arrival.map_or(arrived, |t| t.min(arrived)));
        self.center.add(f, arrived, None, cfg);
        if let Some(q) = &f.queue {
            self.queues
                .entry(q.clone())
                .or_default()
                .add(f, arrived, None, cfg);
        }
        add_agents(&mut self.agents, f);
    }

    fn merge(&mut self, o: &Rollup) {
        self.center.merge(&o.center);
        for (q, acc) in &o.queues {
            self.queues.entry(q.clone()).or_default().merge(acc);
        }
        for (a, acc) in &o.agents {
            self.agents.entry(a.clone()).or_default().merge(acc);
        }
        if let Some(t) = o.first_arrival {
            self.first_arrival = Some(self.first_arrival.map_or(t, |f| f.min(t)));
        }
    }
}

impl Metrics {
    /// An empty aggregator.
    pub fn new(cfg: KpiConfig) -> Self {
        Metrics {
            cfg,
            calls: HashMap::new(),
            rollups: BTreeMap::new(),
            presence: HashMap::new(),
            forgotten: Rollup::default(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &KpiConfig {
        &self.cfg
    }

    /// Calls tracked (for memory accounting), counted or not.
    pub fn tracked_calls(&self) -> usize {
        self.calls.len()
    }

    /// Per-minute and per-quarter-hour sums held (for memory accounting).
    pub fn rollups(&self) -> usize {
        self.rollups.len()
    }

    /// Bounds the memory of a busy day: folds every ended call that arrived
    /// and had its latest event more than [`DETAIL_MS`] before `now_ms`
    /// into the sum of its arrival's minute, and merges the minute sums
    /// older than [`FINE_ROLLUPS_MS`] per quarter-hour. Snapshots stay the
    /// same for windows that start on a quarter-hour (today, shifts) or
    /// within the last [`DETAIL_MS`] (the last 15 minutes); one starting
    /// inside an older minute (the last hour) leaves that minute's calls
    /// out. The per-call lists ([`Metrics::unanswered`],
    /// [`Metrics::first_contact_resolution`]) no longer see folded calls:
    /// the report builds its own aggregator and never compacts it. An
    /// event that comes for a call already folded (a late `wrap_up`) is
    /// kept apart and counted nowhere, like one of a call never seen.
    pub fn compact(&mut self, now_ms: i64) {
        let cut = now_ms.saturating_sub(DETAIL_MS);
        let cfg = &self.cfg;
        let rollups = &mut self.rollups;
        self.calls.retain(|_, f| {
            let Some(arrived) = f.arrived_ms else {
                return true;
            };
            if !f.ended() || arrived >= cut || f.last_ms >= cut {
                return true;
            }
            rollups
                .entry(floor_to(arrived, ROLLUP_MINUTE_MS))
                .or_default()
                .add(f, cfg);
            false
        });
        let coarse = now_ms.saturating_sub(FINE_ROLLUPS_MS);
        let fine: Vec<i64> = self
            .rollups
            .range(..coarse)
            .map(|(b, _)| *b)
            .filter(|b| b.rem_euclid(ROLLUP_QUARTER_MS) != 0)
            .collect();
        for b in fine {
            if let Some(r) = self.rollups.remove(&b) {
                let quarter = floor_to(b, ROLLUP_QUARTER_MS);
                self.rollups.entry(quarter).or_default().merge(&r);
            }
        }
    }

    /// Folds one event in. Agent registrations, logins and pauses go to the
    /// agent's presence timeline; other events without a call and kinds
    /// without a KPI are ignored; see the module docs for odd streams.
    pub fn apply(&mut self, e: &CallEvent) {
        if let (Some(agent), Some(change)) = (&e.agent, Change::of(e)) {
            self.presence
                .entry(agent.clone())
                .or_default()
                .add(e.at_ms, change);
        }
        let Some(call) = &e.call_id else { return };
        if !self.calls.contains_key(call) {
            self.calls.insert(
                call.clone(),
                Box::new(CallFacts {
                    last_ms: e.at_ms,
                    ..CallFacts::default()
                }),
            );
        }
        let Some(f) = self.calls.get_mut(call) else {
            return;
        };
        f.last_ms = f.last_ms.max(e.at_ms);
        if let Some(q) = &e.queue {
            let from_arrival = matches!(e.kind, EventKind::Arrived { .. });
            let settled = f.queue.is_some() && f.queue_at.is_none();
            if !settled && (from_arrival || f.queue_at.is_none_or(|t| e.at_ms < t)) {
                f.queue = Some(q.clone());
                f.queue_at = (!from_arrival).then_some(e.at_ms);
            }
        }
        let miss = |kind| (e.agent.clone(), e.at_ms, kind);
        let missed = match &e.kind {
            EventKind::Arrived {
                caller,
                call_type,
                dialled,
            } => {
                f.outbound |= dialled == OUTBOUND;
                f.callback |= dialled == "callback";
                if f.arrived_ms.is_none() {
                    f.arrived_ms = Some(e.at_ms);
                    f.caller = Some(caller.number.as_str().into());
                }
                f.set_type(e.at_ms, *call_type, false);
                None
            }
            EventKind::Rejected { status, .. } => {
                f.rejected = true;
                f.rejected_status.get_or_insert(*status);
                f.note_end(e.at_ms);
                None
            }
            EventKind::QueueClosed {} => {
                f.closed = true;
                None
            }
            EventKind::Queued { .. } => {
                f.queued_ms = Some(f.queued_ms.map_or(e.at_ms, |t| t.min(e.at_ms)));
                None
            }
            EventKind::Offered { .. } => {
                f.offered_ms = Some(f.offered_ms.map_or(e.at_ms, |t| t.min(e.at_ms)));
                None
            }
            EventKind::Blacklisted { action, .. } => {
                f.blacklisted_refused |= action == "reject";
                None
            }
            EventKind::Overflowed { .. } => {
                f.overflowed = true;
                None
            }
            EventKind::SilentLine { .. } => {
                f.silent_line = true;
                None
            }
            EventKind::MediaTimeout { .. } | EventKind::SessionExpired { .. } => {
                f.line_lost_ms = Some(f.line_lost_ms.map_or(e.at_ms, |t| t.min(e.at_ms)));
                None
            }
            EventKind::OneWayAudio { .. } => {
                f.one_way_ms = Some(f.one_way_ms.map_or(e.at_ms, |t| t.min(e.at_ms)));
                None
            }
            EventKind::VoicemailLeft { .. } => {
                f.voicemail = true;
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                None
            }
            EventKind::CallbackRequested { .. } => {
                f.callback_requested = true;
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                None
            }
            EventKind::CallbackExpired { .. } => {
                f.callback_expired = true;
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                None
            }
            EventKind::WrapUp { wrap_ms } => {
                if f.wrap_ms.is_none() {
                    f.wrap_ms = Some((*wrap_ms).max(0));
                    f.wrap_agent = e.agent.clone();
                }
                None
            }
            EventKind::Held { .. } => {
                f.held_at.get_or_insert((e.at_ms, e.agent.clone()));
                None
            }
            EventKind::Resumed { held_ms, .. } => {
                // a duplicate `resumed` finds no open hold and adds nothing
                if let Some((_, by)) = f.held_at.take() {
                    let held = (*held_ms).max(0);
                    f.hold_ms = f.hold_ms.saturating_add(held);
                    f.holds.push((e.agent.clone().or(by), held));
                }
                None
            }
            EventKind::Transferred { talk_ms, .. } => {
                let t = (e.agent.clone(), (*talk_ms).max(0));
                if !f.transfers.contains(&t) {
                    f.transfers.push(t);
                }
                None
            }
            EventKind::IvrChoice { call_type, .. }
            | EventKind::LimitWarning { call_type, .. }
            | EventKind::CallTypeSet { call_type, .. } => {
                f.set_type(e.at_ms, *call_type, true);
                None
            }
            EventKind::Failed { .. } => {
                f.failed = true;
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                None
            }
            EventKind::SystemAnswered { rings } => {
                f.system_answered_rings.get_or_insert(*rings);
                None
            }
            EventKind::AgentAnswered { wait_ms, rings, .. } => {
                f.note_left_queue(e.at_ms);
                f.answered_ms = Some(f.answered_ms.map_or(e.at_ms, |t| t.min(e.at_ms)));
                f.agent_answered.get_or_insert_with(|| Answer {
                    wait_ms: (*wait_ms).max(0),
                    rings: *rings,
                    agent: e.agent.clone(),
                });
                None
            }
            EventKind::Abandoned { wait_ms, .. } => {
                f.abandoned_wait_ms.get_or_insert((*wait_ms).max(0));
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                None
            }
            EventKind::Completed { talk_ms, .. } => {
                f.note_left_queue(e.at_ms);
                f.note_end(e.at_ms);
                if let Some((since, by)) = f.held_at.take() {
                    // ended on hold: the hold lasted until the end
                    let held = e.at_ms.saturating_sub(since).max(0);
                    f.hold_ms = f.hold_ms.saturating_add(held);
                    f.holds.push((by.or_else(|| e.agent.clone()), held));
                }
                f.completed
                    .get_or_insert_with(|| ((*talk_ms).max(0), e.agent.clone()));
                None
            }
            EventKind::LimitExceeded { call_type, .. } => {
                f.set_type(e.at_ms, *call_type, true);
                f.limit_exceeded.get_or_insert_with(|| e.agent.clone());
                None
            }
            EventKind::AgentRingNoAnswer { .. } => Some(miss(MissKind::RangOut)),
            EventKind::AgentRejected { .. } => Some(miss(MissKind::Refused)),
            EventKind::AgentUnreachable { .. } => Some(miss(MissKind::Unreachable)),
            _ => None,
        };
        if let Some((Some(agent), at, kind)) = missed {
            let m = (agent, at, kind);
            if !f.misses.contains(&m) {
                f.misses.push(m);
            }
        }
    }

    /// Forgets calls that ended and arrived before `before_ms`, and any call
    /// (ended or not, arrival known or not) whose latest event is before it.
    /// The live task calls it periodically to bound memory. What the
    /// forgotten calls added up to stays in [`Metrics::snapshot`] ("since
    /// start": its counters never go back; a forgotten call that had not
    /// ended is no longer waiting or talking); windows see only the calls
    /// still kept.
    pub fn forget_before(&mut self, before_ms: i64) {
        let cfg = &self.cfg;
        let forgotten = &mut self.forgotten;
        self.presence.retain(|agent, timeline| {
            let ((staffed, paused), left) = timeline.forget_before(before_ms);
            if staffed > 0 || paused > 0 {
                let acc = forgotten.agents.entry(agent.clone()).or_default();
                acc.staffed_ms = acc.staffed_ms.saturating_add(staffed);
                acc.paused_ms = acc.paused_ms.saturating_add(paused);
            }
            left
        });
        self.calls.retain(|_, f| {
            let done = f.ended() && f.arrived_ms.is_some_and(|t| t < before_ms);
            let keep = !done && f.last_ms >= before_ms;
            if !keep {
                forgotten.add(f, cfg);
            }
            keep
        });
        // a sum goes once all of its calls arrived before `before_ms`
        let old: Vec<i64> = self
            .rollups
            .keys()
            .copied()
            .filter(|b| b.saturating_add(ROLLUP_QUARTER_MS) <= before_ms)
            .collect();
        for b in old {
            if let Some(r) = self.rollups.remove(&b) {
                self.forgotten.merge(&r);
            }
        }
    }

    /// The calls that arrived in `[from_ms, to_ms)` and were not answered by
    /// an agent, oldest first (for the report's missed-call list); calls
    /// forgotten by [`Metrics::forget_before`] are not in it.
    pub fn unanswered(&self, from_ms: i64, to_ms: i64) -> Vec<UnansweredCall> {
        let mut out: Vec<UnansweredCall> = self
            .calls
            .iter()
            .filter_map(|(id, f)| {
                let arrived = f.arrived_ms?;
                if arrived < from_ms || arrived >= to_ms || f.agent_answered.is_some() {
                    return None;
                }
                let outcome = if f.rejected {
                    if f.blocked() {
                        "blocked"
                    } else {
                        "rejected"
                    }
                } else if let Some(w) = f.abandoned_wait_ms {
                    if w < self.cfg.short_abandon_ms_for(f.queue.as_ref()) {
                        "short_abandoned"
                    } else {
                        "abandoned"
                    }
                } else if f.voicemail {
                    "voicemail"
                } else if f.callback_requested {
                    "callback_requested"
                } else if f.callback_expired {
                    "callback_expired"
                } else if f.silent_line {
                    "silent_line"
                } else if f.failed {
                    "failed"
                } else {
                    "waiting"
                };
                Some(UnansweredCall {
                    call_id: id.as_str().to_string(),
                    arrived_ms: arrived,
                    caller: f.caller.as_deref().map(str::to_string),
                    queue: f.queue.as_ref().map(|q| q.as_str().to_string()),
                    outcome,
                    wait_ms: f.abandoned_wait_ms,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.arrived_ms, &a.call_id).cmp(&(b.arrived_ms, &b.call_id)));
        out
    }

    /// First-contact resolution: of the calls that arrived in `[from_ms,
    /// to_ms)` (in `queue`, if given) and that an agent answered, the share
    /// whose caller did not call again within `repeat_ms` after the call's
    /// arrival, as far as the folded events go. Calls without a caller
    /// number (empty, `anonymous`) are left out; `None` when no call is left.
    pub fn first_contact_resolution(
        &self,
        from_ms: i64,
        to_ms: i64,
        repeat_ms: i64,
        queue: Option<&str>,
    ) -> Option<f64> {
        fn known(f: &CallFacts) -> Option<&str> {
            f.caller
                .as_deref()
                .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("anonymous"))
        }
        // the customer calling again: an agent's call to them or a callback
        // is not a repeat
        let mut arrivals: HashMap<&str, Vec<i64>> = HashMap::new();
        for f in self.calls.values().filter(|f| !f.outbound && !f.callback) {
            if let (Some(c), Some(t)) = (known(f), f.arrived_ms) {
                arrivals.entry(c).or_default().push(t);
            }
        }
        for v in arrivals.values_mut() {
            v.sort_unstable();
        }
        let (mut answered, mut resolved) = (0u64, 0u64);
        for f in self.calls.values() {
            let (Some(c), Some(t)) = (known(f), f.arrived_ms) else {
                continue;
            };
            if t < from_ms || t >= to_ms || f.agent_answered.is_none() || f.rejected || f.outbound {
                continue;
            }
            if queue.is_some_and(|q| f.queue.as_ref().map(QueueId::as_str) != Some(q)) {
                continue;
            }
            answered += 1;
            let later = arrivals.get(c).map_or(&[][..], Vec::as_slice);
            let next = later.get(later.partition_point(|x| *x <= t));
            resolved += u64::from(next.is_none_or(|n| n.saturating_sub(t) > repeat_ms));
        }
        ratio(resolved as f64, answered)
    }

    /// Figures over every call so far (that arrived before `now_ms`).
    pub fn snapshot(&self, now_ms: i64) -> Snapshot {
        self.build(None, now_ms)
    }

    /// Figures over calls that arrived in `[from_ms, now_ms)`.
    pub fn snapshot_window(&self, from_ms: i64, now_ms: i64) -> Snapshot {
        self.build(Some(from_ms), now_ms)
    }

    /// The center's figures that come from its agents: occupancy, calls per
    /// agent hour and the cost per call (trunk time of the calls plus the
    /// agents' staffed time, over the answered calls).
    fn center_agent_figures<'a>(
        &self,
        center: &mut Figures,
        agents: impl Iterator<Item = &'a AgentAcc>,
        trunk_ms: f64,
    ) {
        let (mut busy, mut available, mut staffed) = (0f64, 0f64, 0f64);
        for a in agents {
            busy += a.busy_ms() as f64;
            available += a.staffed_ms.saturating_sub(a.paused_ms).max(0) as f64;
            staffed += a.staffed_ms.max(0) as f64;
        }
        center.occupancy = (available > 0.0).then(|| (busy / available).min(1.0));
        center.calls_per_agent_hour =
            (staffed > 0.0).then(|| center.answered as f64 * 3_600_000.0 / staffed);
        let cost = self.cfg.cost;
        center.cost_per_call = (cost.configured() && center.answered > 0).then(|| {
            (trunk_ms / 60_000.0 * cost.trunk_per_minute
                + staffed / 3_600_000.0 * cost.agent_per_hour)
                / center.answered as f64
        });
    }

    fn build(&self, from_ms: Option<i64>, now_ms: i64) -> Snapshot {
        let mut center = Acc::default();
        let mut queues: HashMap<&QueueId, Acc> = HashMap::new();
        let mut agents: HashMap<&AgentId, AgentAcc> = HashMap::new();
        let mut first_arrival = i64::MAX;
        for f in self.calls.values() {
            let Some(arrived) = f.arrived_ms else {
                continue;
            };
            if from_ms.is_some_and(|from| arrived < from) || arrived >= now_ms {
                continue;
            }
            if f.outbound {
                add_agents(&mut agents, f);
                continue;
            }
            first_arrival = first_arrival.min(arrived);
            center.add(f, arrived, Some(now_ms), &self.cfg);
            if let Some(q) = &f.queue {
                queues
                    .entry(q)
                    .or_default()
                    .add(f, arrived, Some(now_ms), &self.cfg);
            }
            add_agents(&mut agents, f);
        }
        for (b, r) in &self.rollups {
            if from_ms.is_some_and(|from| *b < from) || *b >= now_ms {
                continue;
            }
            center.merge(&r.center);
            for (q, acc) in &r.queues {
                queues.entry(q).or_default().merge(acc);
            }
            for (a, acc) in &r.agents {
                agents.entry(a).or_default().merge(acc);
            }
            if let Some(t) = r.first_arrival {
                first_arrival = first_arrival.min(t);
            }
        }
        for (a, timeline) in &self.presence {
            let from = from_ms.or(timeline.first_ms()).unwrap_or(now_ms);
            let (staffed, paused) = timeline.measure(from, now_ms);
            if staffed > 0 || agents.contains_key(a) {
                let acc = agents.entry(a).or_default();
                acc.staffed_ms = acc.staffed_ms.saturating_add(staffed);
                acc.paused_ms = acc.paused_ms.saturating_add(paused);
            }
        }
        if from_ms.is_none() {
            let old = &self.forgotten;
            center.merge(&old.center);
            for (q, acc) in &old.queues {
                queues.entry(q).or_default().merge(acc);
            }
            for (a, acc) in &old.agents {
                agents.entry(a).or_default().merge(acc);
            }
            if let Some(t) = old.first_arrival {
                first_arrival = first_arrival.min(t);
            }
        }
        let span_ms = match from_ms {
            Some(from) => now_ms.saturating_sub(from),
            None if first_arrival < now_ms => now_ms.saturating_sub(first_arrival),
            None => 0,
        };
        let trunk_ms = center.trunk_sum;
        let mut center = center.figures(span_ms);
        self.center_agent_figures(&mut center, agents.values(), trunk_ms);
        let limits = |f: &mut Figures| {
            for t in CallType::ALL {
                if let Some(tf) = f.by_type.get_mut(t.as_str()) {
                    tf.limit_ms = self.cfg.limits_ms.get(t.as_str()).copied();
                }
            }
        };
        limits(&mut center);
        let mut queues: HashMap<&QueueId, Figures> = queues
            .into_iter()
            .map(|(k, v)| (k, v.figures(span_ms)))
            .collect();
        queues.values_mut().for_each(limits);
        Snapshot {
            at_ms: now_ms,
            from_ms,
            center,
            queues: queues
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect(),
            agents: agents
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v.figures(span_ms)))
                .collect(),
        }
    }
}

/// Upper bounds (seconds) of the wait histogram buckets.
pub const WAIT_BUCKETS_S: [u32; 9] = [3, 5, 10, 20, 30, 60, 120, 300, 600];
/// Upper bounds (seconds) of the handle-time histogram buckets.
pub const HANDLE_BUCKETS_S: [u32; 9] = [30, 60, 90, 120, 180, 300, 600, 1200, 1800];

/// The bucket of `ms` among `bounds_s` (the last index: above every bound).
fn bucket(bounds_s: &[u32], ms: i64) -> usize {
    bounds_s
        .iter()
        .position(|b| ms <= i64::from(*b) * 1000)
        .unwrap_or(bounds_s.len())
}

/// A distribution: how many values fell at or below each bound.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Upper bounds, seconds.
    pub bounds_s: Vec<u32>,
    /// Values at or below each bound (cumulative, like Prometheus `le`).
    pub cumulative: Vec<u64>,
    /// Every value (the `+Inf` bucket).
    pub count: u64,
    /// Sum of the values, seconds.
    pub sum_s: f64,
}

impl Histogram {
    fn of(bounds_s: &[u32], counts: &[u64], sum_ms: f64) -> Histogram {
        if counts.iter().all(|c| *c == 0) {
            // nothing counted: like the other empty figures
            return Histogram::default();
        }
        let mut running = 0;
        let cumulative = counts[..bounds_s.len()]
            .iter()
            .map(|c| {
                running += c;
                running
            })
            .collect();
        Histogram {
            bounds_s: bounds_s.to_vec(),
            cumulative,
            count: counts.iter().sum(),
            sum_s: sum_ms / 1000.0,
        }
    }
}

fn ratio(num: f64, den: u64) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

#[derive(Clone, Debug, Default)]
struct AgentAcc {
    answered: u64,
    rang_out: u64,
    refused: u64,
    unreachable: u64,
    talk_ms: i64,
    talked_calls: u64,
    limit_exceeded: u64,
    /// Completed calls (of `talked_calls`) that went past their limit.
    talked_over_limit: u64,
    /// Calls the agent passed on to another queue.
    transferred: u64,
    staffed_ms: i64,
    paused_ms: i64,
    /// Of `talk_ms` (connected), the time the agent held the caller.
    hold_ms: i64,
    wrap_ms: i64,
}

impl AgentAcc {
    fn merge(&mut self, o: &AgentAcc) {
        self.answered += o.answered;
        self.rang_out += o.rang_out;
        self.refused += o.refused;
        self.unreachable += o.unreachable;
        self.talk_ms = self.talk_ms.saturating_add(o.talk_ms);
        self.talked_calls += o.talked_calls;
        self.limit_exceeded += o.limit_exceeded;
        self.talked_over_limit += o.talked_over_limit;
        self.transferred += o.transferred;
        self.staffed_ms = self.staffed_ms.saturating_add(o.staffed_ms);
        self.paused_ms = self.paused_ms.saturating_add(o.paused_ms);
        self.hold_ms = self.hold_ms.saturating_add(o.hold_ms);
        self.wrap_ms = self.wrap_ms.saturating_add(o.wrap_ms);
    }

    /// Time busy with calls: connected (talk + hold) plus wrap-up, ms.
    fn busy_ms(&self) -> i64 {
        self.talk_ms.saturating_add(self.wrap_ms)
    }

    fn figures(self, span_ms: i64) -> AgentFigures {
        let busy = self.busy_ms();
        let share = |den: i64| (den > 0).then(|| (busy as f64 / den as f64).min(1.0));
        let calls = self.talked_calls + self.transferred;
        let talk = self.talk_ms.saturating_sub(self.hold_ms).max(0);
        AgentFigures {
            answered: self.answered,
            missed: self.rang_out + self.refused,
            rang_out: self.rang_out,
            refused: self.refused,
            unreachable: self.unreachable,
            talk_ms: talk,
            hold_ms: self.hold_ms,
            wrap_ms: self.wrap_ms,
            avg_talk_ms: ratio(talk as f64, calls),
            avg_call_ms: ratio(self.talk_ms as f64, calls),
            calls_per_hour: (self.staffed_ms > 0)
                .then(|| self.answered as f64 * 3_600_000.0 / self.staffed_ms as f64),
            qa_score: None,
            transferred: self.transferred,
            limit_exceeded: self.limit_exceeded,
            within_limit: ratio(
                self.talked_calls.saturating_sub(self.talked_over_limit) as f64,
                self.talked_calls,
            ),
            staffed_ms: self.staffed_ms,
            attendance: (span_ms > 0).then(|| (self.staffed_ms as f64 / span_ms as f64).min(1.0)),
            paused_ms: self.paused_ms,
            occupancy: share(self.staffed_ms.saturating_sub(self.paused_ms)),
            utilisation: share(self.staffed_ms),
        }
    }
}

/// Per-agent accumulators, keyed by borrowed (snapshots) or owned (forgotten) ids.
trait AgentTable<'a> {
    fn agent(&mut self, a: &'a AgentId) -> &mut AgentAcc;
}

impl<'a> AgentTable<'a> for HashMap<&'a AgentId, AgentAcc> {
    fn agent(&mut self, a: &'a AgentId) -> &mut AgentAcc {
        self.entry(a).or_default()
    }
}

impl<'a> AgentTable<'a> for HashMap<AgentId, AgentAcc> {
    fn agent(&mut self, a: &'a AgentId) -> &mut AgentAcc {
        self.entry(a.clone()).or_default()
    }
}

/// Adds one counted call to its agents: who answered, who missed it, whose
/// talk and limit it was (the agent named on the event, else the one who answered).
fn add_agents<'a>(agents: &mut impl AgentTable<'a>, f: &'a CallFacts) {
    let answering = f.answering_agent();
    if let Some(a) = answering {
        agents.agent(a).answered += 1;
    }
    let completing = f.completing_agent();
    if let (Some((talk, _)), Some(a)) = (&f.completed, completing) {
        let t = agents.agent(a);
        t.talk_ms = t.talk_ms.saturating_add(*talk);
        t.talked_calls += 1;
        t.talked_over_limit += u64::from(f.limit_exceeded.is_some());
    }
    if f.completed.is_some() {
        // holds and wrap-up count for the agent named on their event, else
        // for the agent whose call it was at the end
        for (named, held) in &f.holds {
            if let Some(a) = named.as_ref().or(completing) {
                let t = agents.agent(a);
                t.hold_ms = t.hold_ms.saturating_add(*held);
            }
        }
        if let (Some(w), Some(a)) = (f.wrap_ms, f.wrap_agent.as_ref().or(completing)) {
            let t = agents.agent(a);
            t.wrap_ms = t.wrap_ms.saturating_add(w);
        }
    }
    for (named, part) in &f.transfers {
        if let Some(a) = named.as_ref() {
            let t = agents.agent(a);
            t.talk_ms = t.talk_ms.saturating_add(*part);
            t.transferred += 1;
        }
    }
    if let Some(named) = &f.limit_exceeded {
        if let Some(a) = named.as_ref().or(answering) {
            agents.agent(a).limit_exceeded += 1;
        }
    }
    for (a, _, kind) in &f.misses {
        let t = agents.agent(a);
        match kind {
            MissKind::RangOut => t.rang_out += 1,
            MissKind::Refused => t.refused += 1,
            MissKind::Unreachable => t.unreachable += 1,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Acc {
    offered: u64,
    rejected: u64,
    answered: u64,
    answered_in_target: u64,
    abandoned: u64,
    short_abandoned: u64,
    failed: u64,
    waiting_now: u64,
    talking_now: u64,
    wait_sum: f64,
    abandon_wait_sum: f64,
    longest_wait: i64,
    rings_sum: f64,
    rings_count: u64,
    rings: BTreeMap<u32, u64>,
    system_answered: u64,
    system_in_rings: u64,
    agent_in_rings: u64,
    talk_sum: f64,
    hold_sum: f64,
    wrap_sum: f64,
    talk_count: u64,
    over_limit: u64,
    transferred: u64,
    blocked: u64,
    blacklisted_refused: u64,
    overflowed: u64,
    silent_line: u64,
    dropped: u64,
    one_way_audio: u64,
    voicemail: u64,
    callbacks_requested: u64,
    callbacks_done: u64,
    callbacks_due: u64,
    callbacks_overdue: u64,
    callbacks_expired: u64,
    busy: u64,
    closed_refused: u64,
    queued: u64,
    placed: u64,
    queue_sum: f64,
    queue_count: u64,
    answered_in_20s: u64,
    /// Trunk time of the offered calls that ended (arrival to end), ms.
    trunk_sum: f64,
    /// Answered calls per wait bucket ([`WAIT_BUCKETS_S`], last = above).
    wait_hist: [u64; WAIT_BUCKETS_S.len() + 1],
    /// Completed calls per handle-time bucket ([`HANDLE_BUCKETS_S`]).
    handle_hist: [u64; HANDLE_BUCKETS_S.len() + 1],
    /// Indexed like `CallType::ALL` (no map to allocate per scope).
    by_type: [TypeAcc; 4],
}

fn type_index(t: CallType) -> usize {
    CallType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

#[derive(Clone, Debug, Default)]
struct TypeAcc {
    answered: u64,
    completed: u64,
    talk_sum: f64,
    hold_sum: f64,
    wrap_sum: f64,
    over_limit: u64,
}

impl TypeAcc {
    fn merge(&mut self, o: &TypeAcc) {
        self.answered += o.answered;
        self.completed += o.completed;
        self.talk_sum += o.talk_sum;
        self.hold_sum += o.hold_sum;
        self.wrap_sum += o.wrap_sum;
        self.over_limit += o.over_limit;
    }

    fn figures(&self) -> TypeFigures {
        TypeFigures {
            answered: self.answered,
            completed: self.completed,
            avg_talk_ms: ratio(self.talk_sum, self.completed),
            avg_hold_ms: ratio(self.hold_sum, self.completed),
            avg_call_ms: ratio(self.talk_sum + self.hold_sum, self.completed),
            aht_ms: ratio(
                self.talk_sum + self.hold_sum + self.wrap_sum,
                self.completed,
            ),
            limit_exceeded: self.over_limit,
            within_limit: ratio((self.completed - self.over_limit) as f64, self.completed),
            limit_ms: None,
        }
    }
}

impl Acc {
    /// Adds one call. `now` is None for a forgotten call: it is no longer
    /// waiting or talking, whatever its facts say.
    fn add(&mut self, f: &CallFacts, arrived: i64, now: Option<i64>, cfg: &KpiConfig) {
        if f.rejected {
            self.rejected += 1;
            self.blocked += u64::from(f.blocked());
            self.blacklisted_refused += u64::from(f.blacklisted_refused);
            self.busy += u64::from(f.busy());
            self.closed_refused += u64::from(f.closed_refused());
            return;
        }
        self.offered += 1;
        if f.queued_ms.is_some() {
            self.queued += 1;
            self.placed += u64::from(f.placed(cfg.queue_placement_ms));
            if let Some(q) = f.queue_time_ms() {
                self.queue_sum += q as f64;
                self.queue_count += 1;
            }
        }
        if let Some(end) = f.ended_ms {
            self.trunk_sum += end.saturating_sub(arrived).max(0) as f64;
        }
        self.overflowed += u64::from(f.overflowed);
        self.silent_line += u64::from(f.silent_line);
        self.dropped += u64::from(f.dropped());
        self.one_way_audio += u64::from(f.one_way_audio());
        self.voicemail += u64::from(f.voicemail);
        self.callbacks_requested += u64::from(f.callback_requested);
        self.callbacks_expired += u64::from(f.callback_expired);
        if f.call_type() == CallType::Callback {
            self.callbacks_done += u64::from(f.completed.is_some());
            if let Some(now) = now.filter(|_| !f.ended()) {
                self.callbacks_due += 1;
                self.callbacks_overdue +=
                    u64::from(now.saturating_sub(arrived) > cfg.callback_overdue_ms);
            }
        }
        if f.agent_answered.is_some() || f.completed.is_some() {
            let t = &mut self.by_type[type_index(f.call_type())];
            t.answered += u64::from(f.agent_answered.is_some());
            if let Some(connected) = f.connected_ms() {
                t.completed += 1;
                t.talk_sum += (connected - f.hold_ms).max(0) as f64;
                t.hold_sum += f.hold_ms as f64;
                t.wrap_sum += f.wrap_ms.unwrap_or(0) as f64;
                t.over_limit += u64::from(f.limit_exceeded.is_some());
            }
        }
        // first answer: the engine's (at the end of the ring limit) or an agent's
        let first_rings = match (f.system_answered_rings, &f.agent_answered) {
            (Some(r), _) => Some(r),
            (None, Some(a)) => Some(a.rings),
            (None, None) => None,
        };
        if let Some(r) = first_rings {
            self.rings_sum += f64::from(r);
            self.rings_count += 1;
            *self.rings.entry(r).or_default() += 1;
        }
        if let Some(r) = f.system_answered_rings {
            self.system_answered += 1;
            self.system_in_rings += u64::from(r <= cfg.rings);
        }
        if let Some(a) = &f.agent_answered {
            self.answered += 1;
            self.wait_sum += a.wait_ms as f64;
            self.wait_hist[bucket(&WAIT_BUCKETS_S, a.wait_ms)] += 1;
            self.answered_in_target += u64::from(a.wait_ms <= cfg.service_level_ms);
            self.answered_in_20s += u64::from(a.wait_ms <= SERVICE_LEVEL_20S_MS);
            self.agent_in_rings +=
                u64::from(f.system_answered_rings.is_none() && a.rings <= cfg.rings);
            if f.completed.is_none() && !f.failed && now.is_some() {
                self.talking_now += 1;
            }
        } else if let Some(w) = f.abandoned_wait_ms {
            self.abandoned += 1;
            self.abandon_wait_sum += w as f64;
            self.short_abandoned += u64::from(w < cfg.short_abandon_ms_for(f.queue.as_ref()));
        } else if f.failed {
            self.failed += 1;
        } else if let Some(now) = now.filter(|_| !f.ended()) {
            self.waiting_now += 1;
            self.longest_wait = self.longest_wait.max(now.saturating_sub(arrived));
        }
        if f.agent_answered.is_some() && !f.transfers.is_empty() {
            self.transferred += 1;
        }
        if let Some(connected) = f.connected_ms() {
            let handle = connected.saturating_add(f.wrap_ms.unwrap_or(0).max(0));
            self.handle_hist[bucket(&HANDLE_BUCKETS_S, handle)] += 1;
            self.talk_sum += (connected - f.hold_ms).max(0) as f64;
            self.hold_sum += f.hold_ms as f64;
            self.wrap_sum += f.wrap_ms.unwrap_or(0) as f64;
            self.talk_count += 1;
            self.over_limit += u64::from(f.limit_exceeded.is_some());
        }
    }

    fn merge(&mut self, o: &Acc) {
        self.offered += o.offered;
        self.rejected += o.rejected;
        self.answered += o.answered;
        self.answered_in_target += o.answered_in_target;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.failed += o.failed;
        self.waiting_now += o.waiting_now;
        self.talking_now += o.talking_now;
        self.wait_sum += o.wait_sum;
        self.abandon_wait_sum += o.abandon_wait_sum;
        self.longest_wait = self.longest_wait.max(o.longest_wait);
        self.rings_sum += o.rings_sum;
        self.rings_count += o.rings_count;
        for (r, n) in &o.rings {
            *self.rings.entry(*r).or_default() += n;
        }
        self.system_answered += o.system_answered;
        self.system_in_rings += o.system_in_rings;
        self.agent_in_rings += o.agent_in_rings;
        self.talk_sum += o.talk_sum;
        self.hold_sum += o.hold_sum;
        self.wrap_sum += o.wrap_sum;
        self.talk_count += o.talk_count;
        self.over_limit += o.over_limit;
        self.transferred += o.transferred;
        self.blocked += o.blocked;
        self.blacklisted_refused += o.blacklisted_refused;
        self.overflowed += o.overflowed;
        self.silent_line += o.silent_line;
        self.dropped += o.dropped;
        self.one_way_audio += o.one_way_audio;
        self.voicemail += o.voicemail;
        self.callbacks_requested += o.callbacks_requested;
        self.callbacks_done += o.callbacks_done;
        self.callbacks_due += o.callbacks_due;
        self.callbacks_overdue += o.callbacks_overdue;
        for (a, b) in self.wait_hist.iter_mut().zip(&o.wait_hist) {
            *a += b;
        }
        for (a, b) in self.handle_hist.iter_mut().zip(&o.handle_hist) {
            *a += b;
        }
        self.callbacks_expired += o.callbacks_expired;
        self.busy += o.busy;
        self.closed_refused += o.closed_refused;
        self.queued += o.queued;
        self.placed += o.placed;
        self.queue_sum += o.queue_sum;
        self.queue_count += o.queue_count;
        self.answered_in_20s += o.answered_in_20s;
        self.trunk_sum += o.trunk_sum;
        for (mine, theirs) in self.by_type.iter_mut().zip(&o.by_type) {
            mine.merge(theirs);
        }
    }

    fn figures(self, span_ms: i64) -> Figures {
        let long_abandons = self.abandoned - self.short_abandoned;
        Figures {
            offered: self.offered,
            rejected: self.rejected,
            blocked: self.blocked,
            blacklisted_refused: self.blacklisted_refused,
            closed_refused: self.closed_refused,
            busy: self.busy,
            busy_rate: ratio(self.busy as f64, self.offered + self.rejected),
            queued: self.queued,
            placed_in_queue: self.placed,
            queue_placement_rate: ratio(self.placed as f64, self.offered),
            avg_queue_ms: ratio(self.queue_sum, self.queue_count),
            overflowed: self.overflowed,
            silent_line: self.silent_line,
            dropped: self.dropped,
            dropped_rate: ratio(self.dropped as f64, self.answered),
            one_way_audio: self.one_way_audio,
            voicemail: self.voicemail,
            callbacks_requested: self.callbacks_requested,
            callbacks_done: self.callbacks_done,
            callbacks_due: self.callbacks_due,
            callbacks_overdue: self.callbacks_overdue,
            callbacks_expired: self.callbacks_expired,
            answered: self.answered,
            system_answered: self.system_answered,
            abandoned: self.abandoned,
            short_abandoned: self.short_abandoned,
            failed: self.failed,
            waiting_now: self.waiting_now,
            talking_now: self.talking_now,
            asa_ms: ratio(self.wait_sum, self.answered),
            longest_current_wait_ms: self.longest_wait,
            avg_time_to_abandon_ms: ratio(self.abandon_wait_sum, self.abandoned),
            avg_rings_to_answer: ratio(self.rings_sum, self.rings_count),
            rings_distribution: self.rings,
            system_answered_within_rings: ratio(self.system_in_rings as f64, self.system_answered),
            agent_answered_within_rings: ratio(self.agent_in_rings as f64, self.rings_count),
            service_level: ratio(
                self.answered_in_target as f64,
                self.answered + long_abandons,
            ),
            service_level_20s: ratio(self.answered_in_20s as f64, self.answered + long_abandons),
            abandon_rate: ratio(self.abandoned as f64, self.offered),
            abandon_rate_without_short: ratio(
                long_abandons as f64,
                self.offered - self.short_abandoned,
            ),
            avg_talk_ms: ratio(self.talk_sum, self.talk_count),
            avg_hold_ms: ratio(self.hold_sum, self.talk_count),
            avg_call_ms: ratio(self.talk_sum + self.hold_sum, self.talk_count),
            aht_ms: ratio(
                self.talk_sum + self.hold_sum + self.wrap_sum,
                self.talk_count,
            ),
            transferred: self.transferred,
            transfer_rate: ratio(self.transferred as f64, self.answered),
            wait_histogram: Histogram::of(&WAIT_BUCKETS_S, &self.wait_hist, self.wait_sum),
            handle_histogram: Histogram::of(
                &HANDLE_BUCKETS_S,
                &self.handle_hist,
                self.talk_sum + self.hold_sum + self.wrap_sum,
            ),
            calls_per_hour: (span_ms > 0)
                .then(|| self.offered as f64 * 3_600_000.0 / span_ms as f64),
            within_limit: ratio((self.talk_count - self.over_limit) as f64, self.talk_count),
            by_type: CallType::ALL
                .iter()
                .zip(&self.by_type)
                .filter(|(_, acc)| acc.answered > 0 || acc.completed > 0)
                .map(|(t, acc)| (t.as_str().to_string(), acc.figures()))
                .collect(),
            occupancy: None,
            calls_per_agent_hour: None,
            cost_per_call: None,
            agent_turnover: None,
            qa_score: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::{CallType, EndedBy, Party};

    fn event(
        at: i64,
        call: Option<&str>,
        agent: Option<&str>,
        queue: Option<&str>,
        kind: EventKind,
    ) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: call.map(CallId::from_stored),
            agent: agent.map(AgentId::new),
            queue: queue.map(QueueId::new),
            kind,
        }
    }

    fn arrived_kind() -> EventKind {
        EventKind::Arrived {
            caller: Party {
                number: "0611".into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::default(),
        }
    }

    struct Log(Vec<CallEvent>);

    impl Log {
        fn new() -> Self {
            Log(Vec::new())
        }
        fn ev(&mut self, at: i64, call: &str, agent: Option<&str>, queue: &str, kind: EventKind) {
            self.0.push(event(at, Some(call), agent, Some(queue), kind));
        }
        fn arrive(&mut self, at: i64, call: &str, queue: &str) {
            self.ev(at, call, None, queue, arrived_kind());
        }
        fn answer(&mut self, at: i64, call: &str, queue: &str, agent: &str, wait: i64, rings: u32) {
            let kind = EventKind::AgentAnswered {
                wait_ms: wait,
                rings,
                limit_ms: None,
            };
            self.ev(at, call, Some(agent), queue, kind);
        }
        fn complete(&mut self, at: i64, call: &str, queue: &str, agent: &str, talk: i64) {
            let kind = EventKind::Completed {
                ended_by: EndedBy::Caller,
                talk_ms: talk,
            };
            self.ev(at, call, Some(agent), queue, kind);
        }
        fn ring_out(&mut self, at: i64, call: &str, queue: &str, agent: &str) {
            let kind = EventKind::AgentRingNoAnswer { rang_ms: 15_000 };
            self.ev(at, call, Some(agent), queue, kind);
        }
        /// Answered by `agent` after `wait`, talked `talk`.
        #[allow(clippy::too_many_arguments)]
        fn answered(
            &mut self,
            at: i64,
            call: &str,
            queue: &str,
            agent: &str,
            wait: i64,
            rings: u32,
            talk: i64,
        ) {
            self.arrive(at, call, queue);
            self.answer(at + wait, call, queue, agent, wait, rings);
            self.complete(at + wait + talk, call, queue, agent, talk);
        }
        fn abandoned(&mut self, at: i64, call: &str, queue: &str, wait: i64) {
            self.arrive(at, call, queue);
            self.ev(
                at + wait,
                call,
                None,
                queue,
                EventKind::Abandoned {
                    wait_ms: wait,
                    position: 1,
                },
            );
        }
        fn metrics(&self) -> Metrics {
            let mut m = Metrics::new(KpiConfig::default());
            for e in &self.0 {
                m.apply(e);
            }
            m
        }
    }

    /// Every ratio finite or absent, every count and duration non-negative.
    fn sane(f: &Figures) -> bool {
        let ratios = [
            f.service_level,
            f.abandon_rate,
            f.abandon_rate_without_short,
            f.system_answered_within_rings,
            f.agent_answered_within_rings,
            f.within_limit,
            f.dropped_rate,
        ];
        let means = [
            f.asa_ms,
            f.avg_time_to_abandon_ms,
            f.avg_talk_ms,
            f.avg_rings_to_answer,
            f.calls_per_hour,
        ];
        ratios
            .iter()
            .all(|v| v.is_none_or(|v| (0.0..=1.0).contains(&v)))
            && means
                .iter()
                .all(|v| v.is_none_or(|v| v.is_finite() && v >= 0.0))
            && f.longest_current_wait_ms >= 0
            && f.answered + f.abandoned + f.failed + f.waiting_now <= f.offered
            && f.dropped <= f.answered
            && f.one_way_audio <= f.answered
    }

    /// The seven calls of the hand-computed day (see the comments).
    fn small_day() -> Log {
        let mut log = Log::new();
        log.answered(0, "a", "sales", "1001", 4_000, 1, 60_000); // in target, 1 ring
        log.answered(1_000, "b", "sales", "1002", 30_000, 3, 120_000); // out of target
        log.abandoned(2_000, "c", "sales", 2_000); // short abandon
        log.abandoned(3_000, "d", "support", 40_000); // long abandon
                                                      // e: the engine answered at ring 3, then agent 1001 after 14 s; still talking
        log.arrive(4_000, "e", "support");
        log.ev(
            15_000,
            "e",
            None,
            "support",
            EventKind::SystemAnswered { rings: 3 },
        );
        log.answer(18_000, "e", "support", "1001", 14_000, 3);
        log.ev(
            9_000 + 200_000,
            "b",
            Some("1002"),
            "sales",
            EventKind::LimitExceeded {
                call_type: CallType::Inquiry,
                limit_ms: 180_000,
            },
        );
        // f: refused at the door
        log.arrive(5_000, "f", "support");
        let refused = EventKind::Rejected {
            status: 488,
            reason: "codec".into(),
        };
        log.ev(5_000, "f", None, "support", refused);
        // g: still waiting at now; 1002 let it ring out, 1003's phone was busy
        log.arrive(100_000, "g", "sales");
        log.ring_out(101_000, "g", "sales", "1002");
        log.ev(
            117_000,
            "g",
            Some("1003"),
            "sales",
            EventKind::AgentRejected { status: 486 },
        );
        log.ev(
            118_000,
            "g",
            Some("1004"),
            "sales",
            EventKind::AgentUnreachable {
                reason: "timeout".into(),
            },
        );
        log
    }

    #[test]
    fn every_formula_on_a_small_hand_computed_day() {
        let m = small_day().metrics();
        let s = m.snapshot(160_000);
        let c = &s.center;
        assert!(sane(c));
        assert_eq!(
            (
                c.offered,
                c.rejected,
                c.answered,
                c.abandoned,
                c.short_abandoned,
                c.failed
            ),
            (6, 1, 3, 2, 1, 0)
        );
        assert_eq!(c.system_answered, 1);
        // g has waited 160 − 100 s; e talks
        assert_eq!(
            (c.waiting_now, c.talking_now, c.longest_current_wait_ms),
            (1, 1, 60_000)
        );
        assert_eq!(c.asa_ms, Some((4_000.0 + 30_000.0 + 14_000.0) / 3.0));
        // in 20 s: a (4 s) and e (14 s); denominator: 3 answered + 1 long abandon
        assert_eq!(c.service_level_20s, Some(2.0 / 4.0));
        // in the ring limit (11 s, the default target): a only
        assert_eq!(c.service_level, Some(1.0 / 4.0));
        assert_eq!(c.abandon_rate, Some(2.0 / 6.0));
        assert_eq!(c.abandon_rate_without_short, Some(1.0 / 5.0));
        assert_eq!(c.avg_time_to_abandon_ms, Some((2_000.0 + 40_000.0) / 2.0));
        // first answers: a 1 ring, b 3 rings (agent), e 3 rings (engine)
        assert_eq!(c.avg_rings_to_answer, Some(7.0 / 3.0));
        assert_eq!(c.rings_distribution, BTreeMap::from([(1, 1), (3, 2)]));
        assert_eq!(c.system_answered_within_rings, Some(1.0));
        // a and b by an agent within 3 rings; e was the engine's
        assert_eq!(c.agent_answered_within_rings, Some(2.0 / 3.0));
        assert_eq!(c.avg_talk_ms, Some((60_000.0 + 120_000.0) / 2.0));
        // a and b completed; b went past its limit
        assert_eq!(c.within_limit, Some(0.5));
        // 6 offered over the 160 s since the first arrival
        assert_eq!(c.calls_per_hour, Some(6.0 * 3_600_000.0 / 160_000.0));

        let sales = &s.queues["sales"];
        assert_eq!(
            (
                sales.offered,
                sales.answered,
                sales.abandoned,
                sales.short_abandoned
            ),
            (4, 2, 1, 1)
        );
        // a in target, b not; c is short so not in the denominator
        assert_eq!(sales.service_level_20s, Some(0.5));
        assert_eq!(sales.abandon_rate_without_short, Some(0.0));
        let support = &s.queues["support"];
        assert_eq!(
            (support.offered, support.rejected, support.answered),
            (2, 1, 1)
        );
        assert_eq!(
            support.service_level_20s,
            Some(0.5),
            "e in target, d abandoned long"
        );

        assert_eq!(
            s.agents["1001"],
            AgentFigures {
                answered: 2,
                talk_ms: 60_000,
                avg_talk_ms: Some(60_000.0),
                avg_call_ms: Some(60_000.0),
                within_limit: Some(1.0),
                // no registration in this log: never staffed
                attendance: Some(0.0),
                ..AgentFigures::default()
            }
        );
        assert_eq!(
            s.agents["1002"],
            AgentFigures {
                answered: 1,
                missed: 1,
                rang_out: 1,
                talk_ms: 120_000,
                avg_talk_ms: Some(120_000.0),
                avg_call_ms: Some(120_000.0),
                limit_exceeded: 1,
                within_limit: Some(0.0),
                attendance: Some(0.0),
                ..AgentFigures::default()
            }
        );
        let busy = &s.agents["1003"];
        assert_eq!((busy.missed, busy.rang_out, busy.refused), (1, 0, 1));
        let offline = &s.agents["1004"];
        assert_eq!((offline.missed, offline.unreachable), (0, 1));
    }

    /// Ten calls for the figures of call types, blocking, overflow and
    /// silent lines (hand-computed in the test below).
    fn typed_day() -> Log {
        let mut log = Log::new();
        let ivr = |t| EventKind::IvrChoice {
            digit: "1".into(),
            call_type: t,
            language: None,
        };
        // p: an order (IVR) answered by 1001, talked 90 s, past the 60 s limit
        log.answered(0, "p", "orders", "1001", 10_000, 2, 90_000);
        log.ev(2_000, "p", None, "orders", ivr(CallType::Order));
        let warn = EventKind::LimitWarning {
            call_type: CallType::Order,
            limit_ms: 60_000,
            talk_ms: 48_000,
        };
        log.ev(58_000, "p", Some("1001"), "orders", warn);
        let over = EventKind::LimitExceeded {
            call_type: CallType::Order,
            limit_ms: 60_000,
        };
        log.ev(70_000, "p", Some("1001"), "orders", over);
        // q: an order, 30 s
        log.answered(1_000, "q", "orders", "1002", 5_000, 1, 30_000);
        log.ev(3_000, "q", None, "orders", ivr(CallType::Order));
        // r: no IVR choice, so an inquiry, 100 s
        log.answered(2_000, "r", "general", "1001", 3_000, 1, 100_000);
        // s: a complaint still talking
        log.arrive(3_000, "s", "general");
        log.ev(3_500, "s", None, "general", ivr(CallType::Complaint));
        log.answer(8_000, "s", "general", "1002", 5_000, 1);
        // t: blacklisted and refused
        log.arrive(4_000, "t", "general");
        let black = |action: &str| EventKind::Blacklisted {
            entry: "+86138*".into(),
            action: action.into(),
            reason: "abuse".into(),
        };
        log.ev(4_000, "t", None, "general", black("reject"));
        let refuse = |status| EventKind::Rejected {
            status,
            reason: "x".into(),
        };
        log.ev(4_000, "t", None, "general", refuse(603));
        // u: the queue was full
        log.arrive(5_000, "u", "general");
        log.ev(5_000, "u", None, "general", refuse(486));
        // v: not a hotline number (refused, not blocked)
        log.arrive(6_000, "v", "general");
        log.ev(6_000, "v", None, "general", refuse(404));
        // w: overflowed from orders to general after 23 s, abandoned at 43 s
        log.arrive(7_000, "w", "orders");
        let overflow = EventKind::Overflowed {
            from: QueueId::new("orders"),
            reason: "max_wait".into(),
        };
        log.ev(30_000, "w", None, "general", overflow);
        let gave_up = EventKind::Abandoned {
            wait_ms: 43_000,
            position: 1,
        };
        log.ev(50_000, "w", None, "general", gave_up);
        // x: the engine answered, the line stayed silent
        log.arrive(8_000, "x", "general");
        log.ev(
            19_000,
            "x",
            None,
            "general",
            EventKind::SystemAnswered { rings: 3 },
        );
        log.ev(
            39_000,
            "x",
            None,
            "general",
            EventKind::SilentLine { silent_ms: 20_000 },
        );
        let failed = EventKind::Failed {
            reason: "silent line".into(),
        };
        log.ev(41_000, "x", None, "general", failed);
        // y: blacklisted but routed (not refused), an inquiry of 10 s
        log.arrive(9_000, "y", "general");
        log.ev(9_000, "y", None, "general", black("queue:general"));
        log.answer(10_000, "y", "general", "1001", 1_000, 1);
        log.complete(20_000, "y", "general", "1001", 10_000);
        log
    }

    #[test]
    fn call_types_blocking_overflow_and_silent_lines_are_counted_by_hand() {
        let log = typed_day();
        let m = log.metrics();
        let s = m.snapshot(200_000);
        let c = &s.center;
        assert!(sane(c));
        // 10 arrivals: t, u, v refused; t (blacklist, 603) and u (486) blocked
        assert_eq!((c.offered, c.rejected, c.blocked), (7, 3, 2));
        assert_eq!(c.blacklisted_refused, 1);
        // only u met a busy signal; t is the blacklist's
        assert_eq!((c.busy, c.closed_refused), (1, 0));
        assert_eq!(c.busy_rate, Some(1.0 / 10.0));
        assert_eq!((c.overflowed, c.silent_line, c.failed), (1, 1, 1));
        // p, q, r, y completed; p went past its limit
        assert_eq!(c.within_limit, Some(3.0 / 4.0));
        let order = &c.by_type["order"];
        assert_eq!(
            *order,
            TypeFigures {
                answered: 2,
                completed: 2,
                avg_talk_ms: Some((90_000.0 + 30_000.0) / 2.0),
                avg_hold_ms: Some(0.0),
                avg_call_ms: Some(60_000.0),
                aht_ms: Some(60_000.0),
                limit_exceeded: 1,
                within_limit: Some(0.5),
                limit_ms: None,
            }
        );
        let inquiry = &c.by_type["inquiry"];
        assert_eq!((inquiry.answered, inquiry.completed), (2, 2));
        assert_eq!(inquiry.aht_ms, Some((100_000.0 + 10_000.0) / 2.0));
        assert_eq!(inquiry.within_limit, Some(1.0));
        let complaint = &c.by_type["complaint"];
        assert_eq!((complaint.answered, complaint.completed), (1, 0));
        assert_eq!((complaint.aht_ms, complaint.within_limit), (None, None));
        assert!(!c.by_type.contains_key("callback"));
        // limit compliance per agent: 1001 completed p (over), r and y
        assert_eq!(s.agents["1001"].within_limit, Some(2.0 / 3.0));
        assert_eq!(s.agents["1002"].within_limit, Some(1.0), "s still talks");
        // per queue: w counts in orders (its first queue), overflowed
        assert_eq!(s.queues["orders"].overflowed, 1);
        assert_eq!(s.queues["general"].blocked, 2);
        assert_eq!(s.queues["general"].by_type["inquiry"].completed, 2);
        // the missed-call list: everything not answered, oldest first
        let list = m.unanswered(0, 200_000);
        let missed: Vec<(&str, &str, Option<i64>)> = list
            .iter()
            .map(|u| (u.call_id.as_str(), u.outcome, u.wait_ms))
            .collect();
        assert_eq!(
            missed,
            [
                ("t", "blocked", None),
                ("u", "blocked", None),
                ("v", "rejected", None),
                ("w", "abandoned", Some(43_000)),
                ("x", "silent_line", None),
            ]
        );
        assert_eq!(m.unanswered(0, 200_000)[0].caller.as_deref(), Some("0611"));
        assert!(m.unanswered(5_000, 7_000).len() == 2, "u and v only");
        // the same in reverse order and twice
        let mut m2 = Metrics::new(KpiConfig::default());
        for e in log.0.iter().rev().chain(log.0.iter()) {
            m2.apply(e);
        }
        assert_eq!(m2.snapshot(200_000), s);
        assert_eq!(m2.unanswered(0, 200_000), m.unanswered(0, 200_000));
    }

    /// 1001 and 1002's registrations, logins and pauses (no call id), and
    /// one call of 1001.
    fn staffed_day() -> Log {
        let mut log = Log::new();
        let mut agent = |at: i64, agent: &str, kind: EventKind| {
            log.0.push(event(at, None, Some(agent), None, kind));
        };
        let reg = |expires_s| EventKind::AgentRegistered {
            contact: "sip:1001@10.0.0.5:5060".into(),
            expires_s,
        };
        agent(0, "1001", reg(3_600));
        let pause = EventKind::AgentPaused {
            reason: "meal".into(),
            by: "phone".into(),
            after_call: false,
        };
        agent(600_000, "1001", pause);
        let by = || "phone".to_string();
        agent(900_000, "1001", EventKind::AgentUnpaused { by: by() });
        agent(1_800_000, "1001", reg(3_600)); // refreshed until 5 400 000
        agent(2_400_000, "1001", EventKind::AgentLoggedOut { by: by() });
        agent(3_000_000, "1001", EventKind::AgentLoggedIn { by: by() });
        let gone = EventKind::AgentUnregistered {
            contact: "sip:1001@10.0.0.5:5060".into(),
        };
        agent(4_200_000, "1001", gone);
        // 1002 registers for 60 s and is never heard of again (a crash)
        agent(1_000_000, "1002", reg(60));
        log.answered(90_000, "k", "sales", "1001", 10_000, 1, 300_000);
        log
    }

    /// The scripted day of the regulations' KPIs (times in seconds of the
    /// day; `now` = 3 600 s), computed by hand in the test below.
    fn regulations_day() -> Log {
        let mut log = Log::new();
        let s = |sec: f64| (sec * 1000.0) as i64;
        let reg = EventKind::AgentRegistered {
            contact: "sip:x@10.0.0.5".into(),
            expires_s: 7_200,
        };
        // 1001 and 1002 staffed the whole hour; 1001 paused 600-900 s
        log.0.push(event(0, None, Some("1001"), None, reg.clone()));
        log.0.push(event(0, None, Some("1002"), None, reg));
        let pause = EventKind::AgentPaused {
            reason: "meal".into(),
            by: "phone".into(),
            after_call: false,
        };
        log.0.push(event(s(600.0), None, Some("1001"), None, pause));
        let unpause = EventKind::AgentUnpaused { by: "phone".into() };
        log.0
            .push(event(s(900.0), None, Some("1001"), None, unpause));
        let queued = |log: &mut Log, at: f64, call: &str| {
            log.ev(s(at), call, None, "q", EventKind::Queued { position: 1 });
        };
        let offered = |log: &mut Log, at: f64, call: &str, agent: &str| {
            let kind = EventKind::Offered {
                contact: "sip:x@10.0.0.5".into(),
            };
            log.ev(s(at), call, Some(agent), "q", kind);
        };
        let wrap = |log: &mut Log, at: f64, call: &str, agent: &str, wrap: f64| {
            let kind = EventKind::WrapUp { wrap_ms: s(wrap) };
            log.ev(s(at), call, Some(agent), "q", kind);
        };
        // A: offered at once, answered after 2 s, held 20 s of its 100 s, wrap-up 10 s
        log.arrive(s(100.0), "A", "q");
        queued(&mut log, 100.0, "A");
        offered(&mut log, 100.2, "A", "1001");
        log.answer(s(102.0), "A", "q", "1001", s(2.0), 1);
        let by = || "api:1001".to_string();
        log.ev(
            s(130.0),
            "A",
            Some("1001"),
            "q",
            EventKind::Held { by: by() },
        );
        let resumed = EventKind::Resumed {
            held_ms: s(20.0),
            by: by(),
        };
        log.ev(s(150.0), "A", Some("1001"), "q", resumed);
        log.complete(s(202.0), "A", "q", "1001", s(100.0));
        wrap(&mut log, 202.0, "A", "1001", 10.0);
        // B: no agent free for 15 s (had to wait), answered after 18 s, 60 s, wrap-up 20 s
        log.arrive(s(200.0), "B", "q");
        queued(&mut log, 200.0, "B");
        offered(&mut log, 215.0, "B", "1002");
        log.answer(s(218.0), "B", "q", "1002", s(18.0), 3);
        log.complete(s(278.0), "B", "q", "1002", s(60.0));
        wrap(&mut log, 278.0, "B", "1002", 20.0);
        // C: waited 40 s and hung up; D: hung up after 2 s (short)
        log.abandoned(s(300.0), "C", "q", s(40.0));
        queued(&mut log, 300.0, "C");
        log.abandoned(s(400.0), "D", "q", s(2.0));
        queued(&mut log, 400.0, "D");
        // E: still waiting at now
        log.arrive(s(500.0), "E", "q");
        queued(&mut log, 500.0, "E");
        // F: queue full (486), G: no capacity (503): busy signals
        for (call, at, status) in [("F", 600.0, 486), ("G", 610.0, 503)] {
            log.arrive(s(at), call, "q");
            let kind = EventKind::Rejected {
                status,
                reason: "busy".into(),
            };
            log.ev(s(at), call, None, "q", kind);
        }
        // H: the queue is closed (480)
        log.arrive(s(620.0), "H", "q");
        log.ev(s(620.0), "H", None, "q", EventKind::QueueClosed {});
        let closed = EventKind::Rejected {
            status: 480,
            reason: "closed".into(),
        };
        log.ev(s(620.0), "H", None, "q", closed);
        // I: the blacklist (603)
        log.arrive(s(630.0), "I", "q");
        let listed = EventKind::Blacklisted {
            entry: "0611".into(),
            action: "reject".into(),
            reason: "abuse".into(),
        };
        log.ev(s(630.0), "I", None, "q", listed);
        let refused = EventKind::Rejected {
            status: 603,
            reason: "blacklist".into(),
        };
        log.ev(s(630.0), "I", None, "q", refused);
        // J: offered at once, answered after 5 s, 40 s, no wrap-up
        log.arrive(s(700.0), "J", "q");
        queued(&mut log, 700.0, "J");
        offered(&mut log, 700.5, "J", "1001");
        log.answer(s(705.0), "J", "q", "1001", s(5.0), 2);
        log.complete(s(745.0), "J", "q", "1001", s(40.0));
        log
    }

    #[test]
    fn the_regulations_kpis_on_a_scripted_day_by_hand() {
        let log = regulations_day();
        let mut m = Metrics::new(KpiConfig {
            cost: CostModel {
                trunk_per_minute: 0.1,
                agent_per_hour: 30.0,
            },
            ..KpiConfig::default()
        });
        for e in &log.0 {
            m.apply(e);
        }
        let snap = m.snapshot(3_600_000);
        let c = &snap.center;
        let close = |a: Option<f64>, b: f64| {
            assert!(a.is_some_and(|a| (a - b).abs() < 1e-9), "{a:?} != {b}");
        };
        // 10 arrivals: A B C D E J offered; F G H I refused
        assert_eq!((c.offered, c.rejected, c.blocked), (6, 4, 4));
        // 忙音率: F and G met a busy signal; H (closed) and I (blacklist) apart
        assert_eq!((c.busy, c.closed_refused, c.blacklisted_refused), (2, 1, 1));
        close(c.busy_rate, 2.0 / 10.0);
        // 队列放置率: B (offered 15 s later), C, D, E (never offered) had to
        // wait; A (0.2 s) and J (0.5 s) were offered within the 1 s grace
        assert_eq!((c.queued, c.placed_in_queue), (6, 4));
        close(c.queue_placement_rate, 4.0 / 6.0);
        // 平均排队时间 over every queued call whose wait ended: A 2, B 18,
        // C 40, D 2, J 5 s (E still waits)
        close(
            c.avg_queue_ms,
            (2.0 + 18.0 + 40.0 + 2.0 + 5.0) * 1000.0 / 5.0,
        );
        // 平均应答速度 over the answered only
        close(c.asa_ms, (2.0 + 18.0 + 5.0) * 1000.0 / 3.0);
        // 服务水平: within the ring limit (11 s): A and J; with 20 s: A, B, J;
        // over answered (3) + long abandons (C)
        close(c.service_level, 2.0 / 4.0);
        close(c.service_level_20s, 3.0 / 4.0);
        // 呼叫放弃率, 平均放弃时间
        close(c.abandon_rate, 2.0 / 6.0);
        close(c.avg_time_to_abandon_ms, (40_000.0 + 2_000.0) / 2.0);
        // 平均交谈时间 (talk): A 100 − 20, B 60, J 40; 平均持线时间: 20 / 3;
        // 平均通话时间 (talk + hold): (100 + 60 + 40) / 3
        close(c.avg_talk_ms, 180_000.0 / 3.0);
        close(c.avg_hold_ms, 20_000.0 / 3.0);
        close(c.avg_call_ms, 200_000.0 / 3.0);
        close(c.aht_ms, (200_000.0 + 30_000.0) / 3.0);
        // the queue is the center here: the same figures mean the same
        let q = &snap.queues["q"];
        assert_eq!(
            (q.avg_talk_ms, q.avg_call_ms, q.avg_queue_ms, q.busy_rate),
            (c.avg_talk_ms, c.avg_call_ms, c.avg_queue_ms, c.busy_rate)
        );
        assert_eq!(
            q.occupancy, None,
            "occupancy is the center's and the agents'"
        );
        // agents: 1001 took A and J (connected 140 s, held 20 s, wrap-up 10 s),
        // staffed 3 600 s of which 300 s paused
        let a = &snap.agents["1001"];
        assert_eq!(
            (a.answered, a.talk_ms, a.hold_ms, a.wrap_ms),
            (2, 120_000, 20_000, 10_000)
        );
        close(a.avg_talk_ms, 60_000.0);
        close(a.avg_call_ms, 70_000.0);
        // 占线率 with wrap-up: (140 + 10) / (3 600 − 300)
        close(a.occupancy, 150.0 / 3_300.0);
        close(a.utilisation, 150.0 / 3_600.0);
        // 每小时呼叫次数: 2 answered in a staffed hour
        close(a.calls_per_hour, 2.0);
        let b = &snap.agents["1002"];
        assert_eq!((b.answered, b.talk_ms, b.wrap_ms), (1, 60_000, 20_000));
        close(b.occupancy, 80.0 / 3_600.0);
        close(b.calls_per_hour, 1.0);
        // the center's occupancy: (150 + 80) / (3 300 + 3 600)
        close(c.occupancy, 230.0 / 6_900.0);
        close(c.calls_per_agent_hour, 3.0 / 2.0);
        // 平均单呼成本: trunk A 102 + B 78 + C 40 + D 2 + J 45 = 267 s at 0.1 a
        // minute, two staffed hours at 30; over the 3 answered calls
        close(c.cost_per_call, (267.0 / 60.0 * 0.1 + 2.0 * 30.0) / 3.0);
        // without a cost model: no cost
        assert_eq!(log.metrics().snapshot(3_600_000).center.cost_per_call, None);
        // the same through the columns (CSV, /metrics, wallboard read these)
        let col = |n: &str| crate::columns::column(n).and_then(|col| col.exported(c));
        close(col("avg_queue_ms"), 13.4);
        close(col("queue_placement_rate"), 4.0 / 6.0);
        close(col("cost_per_call"), (267.0 / 60.0 * 0.1 + 60.0) / 3.0);
    }

    #[test]
    fn attendance_occupancy_and_utilisation_per_agent_by_hand() {
        let log = staffed_day();
        let m = log.metrics();
        let s = m.snapshot(6_000_000);
        let a = &s.agents["1001"];
        // staffed: [0, 2 400 000) + [3 000 000, 4 200 000); paused [600 000, 900 000)
        assert_eq!((a.staffed_ms, a.paused_ms), (3_600_000, 300_000));
        assert_eq!(a.talk_ms, 300_000);
        assert_eq!(a.occupancy, Some(300_000.0 / 3_300_000.0));
        assert_eq!(a.utilisation, Some(300_000.0 / 3_600_000.0));
        // 1002: staffed until the registration expired, no call
        let b = &s.agents["1002"];
        assert_eq!((b.staffed_ms, b.talk_ms), (60_000, 0));
        assert_eq!((b.occupancy, b.utilisation), (Some(0.0), Some(0.0)));
        // a window: [1 000 000, 3 000 000): 1001 staffed until the logout
        let w = m.snapshot_window(1_000_000, 3_000_000);
        let a = &w.agents["1001"];
        assert_eq!((a.staffed_ms, a.paused_ms), (1_400_000, 0));
        // attendance against the window (a shift from 1 000 s to 3 000 s)
        assert_eq!(a.attendance, Some(1_400_000.0 / 2_000_000.0));
        assert_eq!(a.occupancy, Some(0.0), "the call arrived before the window");
        // a window where nobody was staffed lists nobody
        assert!(m.snapshot_window(5_000_000, 6_000_000).agents.is_empty());
        // the same in any order and twice
        let mut m2 = Metrics::new(KpiConfig::default());
        for e in log.0.iter().rev().chain(log.0.iter()) {
            m2.apply(e);
        }
        assert_eq!(m2.snapshot(6_000_000), s);
        // forgetting keeps "since start" and later windows exact
        for cut in [1, 700_000, 2_000_000, 2_400_001, 10_000_000] {
            let mut m3 = log.metrics();
            m3.forget_before(cut);
            assert_eq!(
                m3.snapshot(6_000_000).agents["1001"],
                s.agents["1001"],
                "cut at {cut}"
            );
            if cut <= 1_000_000 {
                assert_eq!(m3.snapshot_window(1_000_000, 3_000_000).agents, w.agents);
            }
        }
        // talk over staffed time is capped at 1
        let mut short = Log::new();
        short.0.push(event(
            0,
            None,
            Some("1003"),
            None,
            EventKind::AgentRegistered {
                contact: "c".into(),
                expires_s: 10,
            },
        ));
        short.answered(1_000, "z", "sales", "1003", 0, 1, 60_000);
        let f = &short.metrics().snapshot(100_000).agents["1003"];
        assert_eq!((f.staffed_ms, f.occupancy), (10_000, Some(1.0)));
    }

    #[test]
    fn first_contact_resolution_by_hand() {
        let mut log = Log::new();
        let caller = |n: &str| EventKind::Arrived {
            caller: Party {
                number: n.into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::default(),
        };
        let h = 3_600_000;
        // A calls at 0 (answered), again at 2 h (answered), again at 30 h (abandoned)
        // B calls at 1 h (answered), never again; C (anonymous) at 1 h, answered twice
        for (at, call, who, answered) in [
            (0, "a1", "A", true),
            (2 * h, "a2", "A", true),
            (30 * h, "a3", "A", false),
            (h, "b1", "B", true),
            (h, "c1", "anonymous", true),
            (h + 1, "c2", "anonymous", true),
        ] {
            log.ev(at, call, None, "q", caller(who));
            if answered {
                log.answer(at + 1_000, call, "q", "1001", 1_000, 1);
            }
        }
        // B is called back by an agent at 3 h and by a callback at 4 h: not
        // B calling again
        for (at, call, dialled) in [(3 * h, "b-reply", "outbound"), (4 * h, "b-cb", "callback")] {
            log.ev(
                at,
                call,
                None,
                "q",
                EventKind::Arrived {
                    caller: Party {
                        number: "B".into(),
                        display: None,
                    },
                    dialled: dialled.into(),
                    call_type: CallType::default(),
                },
            );
        }
        let m = log.metrics();
        // a1: A again after 2 h (not resolved); a2: next at 30 h, 28 h later
        // (resolved within 24 h); b1 resolved; anonymous left out
        assert_eq!(
            m.first_contact_resolution(0, 24 * h, 24 * h, None),
            Some(2.0 / 3.0)
        );
        // a 30-hour repeat window: a2 is a repeat too
        assert_eq!(
            m.first_contact_resolution(0, 24 * h, 30 * h, None),
            Some(1.0 / 3.0)
        );
        assert_eq!(
            m.first_contact_resolution(0, 24 * h, 24 * h, Some("q")),
            Some(2.0 / 3.0)
        );
        assert_eq!(
            m.first_contact_resolution(0, 24 * h, 24 * h, Some("x")),
            None
        );
        assert_eq!(
            m.first_contact_resolution(25 * h, 40 * h, 24 * h, None),
            None
        );
    }

    #[test]
    fn a_window_counts_the_calls_that_arrived_in_it() {
        let m = small_day().metrics();
        // [3 s, 160 s): d, e, f (refused) and g
        let w = m.snapshot_window(3_000, 160_000);
        assert_eq!(w.from_ms, Some(3_000));
        let c = &w.center;
        assert_eq!(
            (c.offered, c.rejected, c.answered, c.abandoned),
            (3, 1, 1, 1)
        );
        assert_eq!(c.calls_per_hour, Some(3.0 * 3_600_000.0 / 157_000.0));
        assert_eq!(c.asa_ms, Some(14_000.0));
        assert_eq!(c.service_level_20s, Some(0.5));
        assert_eq!(
            c.service_level,
            Some(0.0),
            "14 s is past the 11 s ring limit"
        );
        assert_eq!(c.avg_talk_ms, None, "nothing completed: absent, not 0");
        // agents too: 1001 answered e only; 1002 missed g and answered nothing here
        assert_eq!(w.agents["1001"].answered, 1);
        assert_eq!((w.agents["1002"].answered, w.agents["1002"].missed), (0, 1));
        assert_eq!(
            w.agents["1002"].limit_exceeded, 0,
            "b arrived before the window"
        );
        // the window ends at now: calls that arrive later are not in it
        let early = m.snapshot_window(0, 3_000);
        assert_eq!(early.center.offered, 3, "a, b, c");
        assert_eq!(early.center.waiting_now, 0);
        assert!(!early.agents.contains_key("1003"));
        // "since start" before anything happened, and an empty or inverted window
        assert_eq!(m.snapshot(0).center, Figures::default());
        assert_eq!(
            m.snapshot_window(200_000, 300_000).center.calls_per_hour,
            Some(0.0)
        );
        assert_eq!(
            m.snapshot_window(300_000, 200_000).center,
            Figures::default()
        );
        // since start equals a window from before the first call
        let all = m.snapshot(160_000);
        let wide = m.snapshot_window(0, 160_000);
        assert_eq!(
            (all.center, all.queues, all.agents),
            (wide.center, wide.queues, wide.agents)
        );
    }

    #[test]
    fn an_outbound_call_counts_for_its_agent_not_in_the_inbound_figures() {
        let mut log = Log::new();
        log.answered(0, "in", "q", "1", 10_000, 2, 60_000);
        let out = EventKind::Arrived {
            caller: Party {
                number: "0612".into(),
                display: None,
            },
            dialled: OUTBOUND.into(),
            call_type: CallType::Callback,
        };
        log.0
            .push(event(100_000, Some("out"), Some("1"), None, out));
        log.0.push(event(
            103_000,
            Some("out"),
            Some("1"),
            None,
            EventKind::AgentAnswered {
                wait_ms: 3_000,
                rings: 0,
                limit_ms: None,
            },
        ));
        log.0.push(event(
            163_000,
            Some("out"),
            Some("1"),
            None,
            EventKind::Completed {
                ended_by: EndedBy::Agent,
                talk_ms: 60_000,
            },
        ));
        let s = log.metrics().snapshot(200_000);
        // one inbound call offered and answered within 10 s, whatever the
        // agent dialled
        assert_eq!((s.center.offered, s.center.answered), (1, 1));
        assert_eq!(s.center.asa_ms, Some(10_000.0));
        let agent = &s.agents["1"];
        assert_eq!((agent.answered, agent.talk_ms), (2, 120_000));
    }

    #[test]
    fn hold_and_transfer_by_hand() {
        let by = || "api:test".to_string();
        let mut log = Log::new();
        // a: answered by 1 at 5 s, on hold 20-50 s, completed at 65 s (talk
        // 60 s of which 30 s hold), wrap-up 10 s
        log.arrive(0, "a", "q");
        log.answer(5_000, "a", "q", "1", 5_000, 1);
        log.ev(20_000, "a", Some("1"), "q", EventKind::Held { by: by() });
        log.ev(
            50_000,
            "a",
            Some("1"),
            "q",
            EventKind::Resumed {
                held_ms: 30_000,
                by: by(),
            },
        );
        // a duplicated `resumed` adds nothing
        log.ev(
            50_000,
            "a",
            Some("1"),
            "q",
            EventKind::Resumed {
                held_ms: 30_000,
                by: by(),
            },
        );
        log.complete(65_000, "a", "q", "1", 60_000);
        log.ev(
            65_000,
            "a",
            Some("1"),
            "q",
            EventKind::WrapUp { wrap_ms: 10_000 },
        );
        // b: answered by 1 at 2 s, transferred after 40 s to the leaders,
        // answered there by 9 at 50 s, put on hold at 80 s and the caller
        // hangs up on hold at 90 s (9 talked 40 s, 10 s of it on hold)
        log.arrive(0, "b", "q");
        log.answer(2_000, "b", "q", "1", 2_000, 1);
        let to = QueueId::new("leaders");
        let transfer = EventKind::Transferred {
            to,
            talk_ms: 40_000,
            by: by(),
        };
        log.ev(42_000, "b", Some("1"), "q", transfer);
        log.answer(50_000, "b", "leaders", "9", 50_000, 3);
        log.ev(
            80_000,
            "b",
            Some("9"),
            "leaders",
            EventKind::Held { by: by() },
        );
        log.complete(90_000, "b", "leaders", "9", 40_000);
        // c: answered, not transferred, no hold, 30 s
        log.answered(0, "c", "q", "2", 1_000, 1, 30_000);
        let m = log.metrics();
        let c = m.snapshot(100_000).center;
        assert_eq!((c.answered, c.transferred), (3, 1));
        assert_eq!(c.transfer_rate, Some(1.0 / 3.0));
        // hold: a 30 s, b 10 s, c 0
        assert_eq!(c.avg_hold_ms, Some(40_000.0 / 3.0));
        // talk without hold: a 30 s, b 40 + 40 - 10 = 70 s, c 30 s
        assert_eq!(c.avg_talk_ms, Some(130_000.0 / 3.0));
        // AHT: talk + hold + wrap-up (a's 10 s only)
        assert_eq!(c.aht_ms, Some((130_000.0 + 40_000.0 + 10_000.0) / 3.0));
        // histograms: waits 5, 2, 1 s; handle times a 70 s (with wrap-up), b 80 s, c 30 s
        assert_eq!(
            c.wait_histogram.cumulative[..3],
            [2, 3, 3],
            "<=3 s, <=5 s, <=10 s"
        );
        assert_eq!(c.wait_histogram.count, 3);
        assert_eq!(c.wait_histogram.sum_s, 8.0);
        assert_eq!(
            c.handle_histogram.cumulative[..3],
            [1, 1, 3],
            "<=30 s, <=60 s, <=90 s"
        );
        assert_eq!(c.handle_histogram.sum_s, 180.0);
        // b counts once as answered (at 2 s, by 1) whoever finished it
        assert_eq!(c.asa_ms, Some((5_000.0 + 2_000.0 + 1_000.0) / 3.0));
        // agents: 1 completed a (60 s) and passed b on after 40 s
        let one = &m.snapshot(100_000).agents["1"];
        // connected 100 s, of which 1 held a for 30 s: talk 70 s
        assert_eq!(
            (one.talk_ms, one.hold_ms, one.transferred, one.answered),
            (70_000, 30_000, 1, 2)
        );
        assert_eq!(one.avg_talk_ms, Some(35_000.0));
        assert_eq!(one.avg_call_ms, Some(50_000.0));
        let nine = &m.snapshot(100_000).agents["9"];
        // 9 was connected 40 s and held the caller for the last 10 s
        assert_eq!(
            (nine.talk_ms, nine.hold_ms, nine.transferred),
            (30_000, 10_000, 0)
        );
        assert_eq!(one.wrap_ms, 10_000, "a's wrap-up is 1's");
    }

    #[test]
    fn handle_time_is_talk_plus_wrap_up() {
        let mut log = Log::new();
        log.answered(0, "a", "q", "1", 5_000, 1, 60_000);
        log.ev(
            70_000,
            "a",
            Some("1"),
            "q",
            EventKind::WrapUp { wrap_ms: 20_000 },
        );
        log.answered(0, "b", "q", "2", 5_000, 1, 40_000);
        // b's wrap-up event is lost (crash): its handle time is its talk time
        let c = log.metrics().snapshot(200_000).center;
        assert_eq!(c.avg_talk_ms, Some(50_000.0));
        assert_eq!(c.aht_ms, Some((80_000.0 + 40_000.0) / 2.0));
        assert_eq!(c.by_type["inquiry"].aht_ms, Some(60_000.0));
        // a duplicate wrap-up does not count twice
        log.ev(
            71_000,
            "a",
            Some("1"),
            "q",
            EventKind::WrapUp { wrap_ms: 20_000 },
        );
        assert_eq!(
            log.metrics().snapshot(200_000).center.aht_ms,
            Some(60_000.0)
        );
    }

    #[test]
    fn a_queue_has_its_own_short_abandon_threshold() {
        let mut log = Log::new();
        log.abandoned(0, "a", "sales", 8_000);
        log.abandoned(0, "b", "support", 8_000);
        let mut m = Metrics::new(KpiConfig {
            short_abandon_ms_by_queue: [(QueueId::new("sales"), 10_000)].into_iter().collect(),
            ..KpiConfig::default()
        });
        for e in &log.0 {
            m.apply(e);
        }
        let s = m.snapshot(100_000);
        // 8 s is short in sales (10 s threshold), not in support (default 5 s)
        assert_eq!(s.center.short_abandoned, 1);
        assert_eq!(s.queues["sales"].short_abandoned, 1);
        assert_eq!(s.queues["support"].short_abandoned, 0);
        let unanswered = m.unanswered(0, 100_000);
        let sales = unanswered.iter().find(|u| u.call_id == "a").unwrap();
        assert_eq!(sales.outcome, "short_abandoned");
    }

    #[test]
    fn voicemail_closed_queues_and_callbacks_by_hand() {
        let mut log = Log::new();
        // v: overflowed to voicemail after 30 s
        log.arrive(0, "v", "q");
        log.ev(
            30_000,
            "v",
            None,
            "q",
            EventKind::Overflowed {
                from: QueueId::new("q"),
                reason: "max_wait".into(),
            },
        );
        log.ev(
            40_000,
            "v",
            None,
            "q",
            EventKind::VoicemailLeft {
                path: None,
                duration_ms: 9_000,
            },
        );
        // x: the queue was closed (480)
        log.arrive(0, "x", "q");
        log.ev(0, "x", None, "q", EventKind::QueueClosed {});
        log.ev(
            0,
            "x",
            None,
            "q",
            EventKind::Rejected {
                status: 480,
                reason: "closed".into(),
            },
        );
        // r: asked for a callback; cb: the callback, made and completed
        log.arrive(0, "r", "q");
        log.ev(
            20_000,
            "r",
            None,
            "q",
            EventKind::CallbackRequested {
                number: "0611".into(),
                callback: CallId::from_stored("cb"),
                deadline_ms: 86_420_000,
            },
        );
        let cb_arrived = EventKind::Arrived {
            caller: Party {
                number: "0611".into(),
                display: None,
            },
            dialled: "callback".into(),
            call_type: CallType::Callback,
        };
        log.ev(20_000, "cb", None, "q", cb_arrived.clone());
        log.answer(60_000, "cb", "q", "1", 40_000, 0);
        log.complete(120_000, "cb", "q", "1", 60_000);
        // due: a second callback still waiting; gone: one given up
        log.ev(50_000, "due", None, "q", cb_arrived.clone());
        log.ev(50_000, "gone", None, "q", cb_arrived);
        log.ev(
            90_000,
            "gone",
            None,
            "q",
            EventKind::CallbackExpired { attempts: 3 },
        );
        let c = log.metrics().snapshot(100_000).center;
        assert_eq!(c.voicemail, 1);
        assert_eq!((c.rejected, c.blocked), (1, 1), "a closed queue blocks");
        assert_eq!(c.callbacks_requested, 1);
        assert_eq!(c.callbacks_done, 1);
        assert_eq!(c.callbacks_due, 1);
        assert_eq!(c.callbacks_overdue, 0, "waiting 50 s of the 24 h promise");
        let hour = log.metrics().snapshot(50_000 + 3_600_001).center;
        assert_eq!(
            (hour.callbacks_due, hour.callbacks_overdue),
            (1, 0),
            "an hour is not the deadline"
        );
        let later = log.metrics().snapshot(50_000 + 86_400_001).center;
        assert_eq!((later.callbacks_due, later.callbacks_overdue), (1, 1));
        assert_eq!(c.callbacks_expired, 1);
        // neither the voicemail nor the callback request is still waiting or
        // an abandon; the callback waiting for an agent is
        assert_eq!(c.abandoned, 0);
        assert_eq!(c.waiting_now, 1);
        assert_eq!(c.longest_current_wait_ms, 50_000);
    }

    #[test]
    fn the_short_abandon_threshold_and_targets_are_configurable() {
        let mut log = Log::new();
        log.abandoned(0, "a", "q", 4_999);
        log.abandoned(0, "b", "q", 5_000);
        log.abandoned(0, "c", "q", 12_000);
        log.answered(0, "d", "q", "1", 20_000, 4, 1_000);
        log.answered(0, "e", "q", "1", 20_001, 2, 1_000);
        let s = log.metrics().snapshot(100_000).center;
        // default: short < 5 s, target ≤ 11 s (the ring limit), 3 rings
        assert_eq!((s.abandoned, s.short_abandoned), (3, 1));
        assert_eq!(s.service_level, Some(0.0), "nobody within 11 s");
        assert_eq!(
            s.service_level_20s,
            Some(1.0 / 4.0),
            "d in target; e, b and c not"
        );
        assert_eq!(s.agent_answered_within_rings, Some(1.0 / 2.0));
        let mut m = Metrics::new(KpiConfig {
            short_abandon_ms: 15_000,
            service_level_ms: 30_000,
            rings: 4,
            ..KpiConfig::default()
        });
        for e in &log.0 {
            m.apply(e);
        }
        assert_eq!(m.config().rings, 4);
        let s = m.snapshot(100_000).center;
        assert_eq!(s.short_abandoned, 3);
        assert_eq!(
            s.service_level,
            Some(1.0),
            "all answered in target, no long abandon"
        );
        assert_eq!(s.abandon_rate, Some(3.0 / 5.0));
        assert_eq!(s.abandon_rate_without_short, Some(0.0));
        assert_eq!(s.agent_answered_within_rings, Some(1.0));
    }

    #[test]
    fn system_answers_past_the_ring_limit_show() {
        let mut log = Log::new();
        for (i, rings) in [3, 3, 4].into_iter().enumerate() {
            let call = format!("s{i}");
            log.arrive(0, &call, "q");
            log.ev(
                11_000,
                &call,
                None,
                "q",
                EventKind::SystemAnswered { rings },
            );
        }
        let s = log.metrics().snapshot(60_000).center;
        assert_eq!(s.system_answered_within_rings, Some(2.0 / 3.0));
        assert_eq!(s.agent_answered_within_rings, Some(0.0));
        assert_eq!(s.rings_distribution, BTreeMap::from([(3, 2), (4, 1)]));
        // answered by the engine, not by an agent: still waiting for one
        assert_eq!(
            (s.answered, s.waiting_now, s.longest_current_wait_ms),
            (0, 3, 60_000)
        );
        assert_eq!(
            s.service_level, None,
            "nobody answered or abandoned long yet"
        );
    }

    #[test]
    fn events_in_any_order_and_twice_give_the_same_figures() {
        let mut log = Log::new();
        for i in 0..50 {
            log.answered(
                i * 10_000,
                &format!("c{i}"),
                "q",
                "1001",
                i * 700,
                1 + (i % 4) as u32,
                30_000,
            );
            log.ring_out(i * 10_000 + 1, &format!("c{i}"), "q", "1002");
            log.abandoned(i * 10_000 + 5, &format!("x{i}"), "q", i * 300);
        }
        let forward = log.metrics().snapshot(10_000_000);
        assert_eq!(forward.agents["1002"].missed, 50);
        let mut shuffled = log.0.clone();
        shuffled.reverse();
        shuffled.extend(log.0.iter().cloned()); // every event twice
                                                // and a deterministic shuffle on top
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (i * 7919 + 13) % n);
        }
        let mut m = Metrics::new(KpiConfig::default());
        for e in &shuffled {
            m.apply(e);
        }
        assert_eq!(m.snapshot(10_000_000), forward);
        assert_eq!(m.tracked_calls(), 100);
    }

    #[test]
    fn hostile_streams_do_not_break_the_figures() {
        let mut m = Metrics::new(KpiConfig::default());
        let completed = |talk_ms| EventKind::Completed {
            ended_by: EndedBy::Agent,
            talk_ms,
        };
        // completed without arrived, for an unknown call id, with a negative talk time
        m.apply(&event(5, Some("ghost"), Some("1001"), None, completed(-5)));
        m.apply(&event(
            5,
            Some("ghost"),
            Some("1001"),
            None,
            EventKind::AgentAnswered {
                wait_ms: i64::MAX,
                rings: u32::MAX,
                limit_ms: None,
            },
        ));
        m.apply(&event(
            6,
            Some("ghost"),
            Some("1001"),
            None,
            EventKind::AgentRejected { status: 486 },
        ));
        // events without a call
        let reg = EventKind::AgentRegistered {
            contact: "x".into(),
            expires_s: 60,
        };
        m.apply(&event(5, None, Some("1001"), None, reg));
        m.apply(&event(5, None, None, None, completed(10)));
        let s = m.snapshot(10);
        assert_eq!(
            s.center,
            Figures {
                // 1001 was staffed 5 ms and did nothing
                occupancy: Some(0.0),
                calls_per_agent_hour: Some(0.0),
                ..Figures::default()
            },
            "calls without an arrival are not counted"
        );
        // nor their agents: 1001 shows only the 5 ms its phone was registered
        assert_eq!(
            s.agents["1001"],
            AgentFigures {
                staffed_ms: 5,
                occupancy: Some(0.0),
                utilisation: Some(0.0),
                calls_per_hour: Some(0.0),
                ..AgentFigures::default()
            }
        );
        // hostile registrations: absurd expiry, times at the edges, no overflow
        let mut h = Metrics::new(KpiConfig::default());
        for at in [i64::MIN, -1, 0, i64::MAX] {
            let reg = EventKind::AgentRegistered {
                contact: "x".into(),
                expires_s: u32::MAX,
            };
            h.apply(&event(at, None, Some("9"), None, reg));
        }
        let f = &h.snapshot_window(i64::MIN, i64::MAX).agents["9"];
        // [MIN, MIN + u32::MAX s) + [-1, 0) + [0, u32::MAX s): no overflow
        assert_eq!(f.staffed_ms, 2 * 4_294_967_295_000 + 1);
        h.forget_before(i64::MAX);
        assert!(h.snapshot(i64::MAX).agents["9"].staffed_ms > 0);
        assert_eq!(m.tracked_calls(), 1);

        // the arrival turns up late: now the call counts, with durations clamped at 0
        m.apply(&event(0, Some("ghost"), None, Some("q"), arrived_kind()));
        let s = m.snapshot(10);
        assert_eq!((s.center.offered, s.center.answered), (1, 1));
        assert_eq!(s.center.avg_talk_ms, Some(0.0));
        assert_eq!(s.center.asa_ms, Some(i64::MAX as f64));
        assert_eq!(s.center.rings_distribution, BTreeMap::from([(u32::MAX, 1)]));
        assert_eq!(s.agents["1001"].answered, 1);
        assert_eq!(s.agents["1001"].refused, 1);
        assert_eq!(s.agents["1001"].talk_ms, 0);
        assert!(sane(&s.center));

        // contradictions: abandoned after an answer stays answered; a second
        // arrival or answer with other values does not change the first
        m.apply(&event(
            20,
            Some("ghost"),
            None,
            None,
            EventKind::Abandoned {
                wait_ms: 3,
                position: 0,
            },
        ));
        m.apply(&event(30, Some("ghost"), None, None, arrived_kind()));
        let again = m.snapshot(10);
        assert_eq!(again.center, s.center);

        // negative waits count as 0
        m.apply(&event(1, Some("neg"), None, Some("q"), arrived_kind()));
        m.apply(&event(
            2,
            Some("neg"),
            None,
            Some("q"),
            EventKind::Abandoned {
                wait_ms: -9_000,
                position: 1,
            },
        ));
        let s = m.snapshot(10).center;
        assert_eq!((s.abandoned, s.short_abandoned), (1, 1));
        assert_eq!(s.avg_time_to_abandon_ms, Some(0.0));
        assert!(sane(&s));

        // a call that claims to have arrived at the dawn of time waits "forever"
        m.apply(&event(i64::MIN, Some("old"), None, None, arrived_kind()));
        assert_eq!(m.snapshot(10).center.longest_current_wait_ms, i64::MAX);
        // and one from the future is not counted before its time
        m.apply(&event(i64::MAX, Some("future"), None, None, arrived_kind()));
        assert_eq!(m.snapshot(10).center.offered, 3);
        assert!(sane(&m.snapshot(i64::MAX).center));
        assert!(sane(&m.snapshot_window(i64::MIN, i64::MAX).center));
    }

    #[test]
    fn forgetting_bounds_memory_and_keeps_recent_calls() {
        let mut log = Log::new();
        log.answered(0, "done", "q", "1", 1_000, 1, 1_000);
        log.arrive(0, "lost", "q"); // the engine crashed mid-call: no end ever comes
        log.complete(500, "ghost", "q", "1", 10); // never arrived
        log.arrive(900_000, "recent", "q");
        let mut m = log.metrics();
        assert_eq!(m.tracked_calls(), 4);
        let before = m.snapshot(1_000_000).center;
        assert_eq!((before.offered, before.waiting_now), (3, 2));
        assert_eq!(before.longest_current_wait_ms, 1_000_000, "the lost call");
        let agents_before = m.snapshot(1_000_000).agents;
        m.forget_before(100_000);
        assert_eq!(m.tracked_calls(), 1, "only the recent call is left");
        // since start still counts what was forgotten; the lost call no longer waits
        let after = m.snapshot(1_000_000).center;
        assert_eq!(
            (after.offered, after.answered, after.waiting_now),
            (3, 1, 1)
        );
        assert_eq!(after.longest_current_wait_ms, 100_000);
        assert_eq!(
            (after.asa_ms, after.avg_talk_ms),
            (before.asa_ms, before.avg_talk_ms)
        );
        assert_eq!(after.calls_per_hour, before.calls_per_hour);
        assert_eq!(m.snapshot(1_000_000).agents, agents_before);
        // a window sees only what is kept
        assert_eq!(m.snapshot_window(0, 1_000_000).center.offered, 1);
        // forgetting twice forgets nothing more
        m.forget_before(100_000);
        assert_eq!(m.snapshot(1_000_000).center, after);
    }

    #[test]
    fn hours_of_simulated_traffic_run_in_milliseconds() {
        // 8 hours, a call every 20 s (1 440 calls): every 10th abandons after
        // i % 60 s, the others wait i % 40 s, ring 1–3 times and talk 90 s.
        let mut log = Log::new();
        let (mut i, mut t) = (0i64, 0i64);
        let hours = 8 * 3_600_000;
        let (mut answered, mut in_target, mut abandoned, mut short, mut wait_sum) = (0, 0, 0, 0, 0);
        while t < hours {
            let call = format!("c{i}");
            if i % 10 == 0 {
                let wait = (i % 60) * 1_000;
                log.abandoned(t, &call, "q", wait);
                abandoned += 1;
                short += u64::from(wait < 5_000);
            } else {
                let wait = (i % 40) * 1_000;
                let agent = format!("{}", 1000 + i % 20);
                log.answered(t, &call, "q", &agent, wait, 1 + (i % 3) as u32, 90_000);
                answered += 1;
                in_target += u64::from(wait <= 20_000);
                wait_sum += wait;
            }
            t += 20_000;
            i += 1;
        }
        let started = std::time::Instant::now();
        let m = log.metrics();
        let s = m.snapshot(hours + 3_600_000);
        assert!(started.elapsed().as_millis() < 2_000);
        let c = &s.center;
        assert_eq!(
            (c.offered, c.answered, c.abandoned),
            (1_440, answered, abandoned)
        );
        assert_eq!(c.short_abandoned, short);
        assert_eq!(
            c.service_level_20s,
            Some(in_target as f64 / (answered + abandoned - short) as f64)
        );
        assert_eq!(c.asa_ms, Some(wait_sum as f64 / answered as f64));
        assert_eq!(c.abandon_rate, Some(0.1));
        assert_eq!((c.waiting_now, c.talking_now), (0, 0));
        // agents 1000 + i % 20 for i not a multiple of 10: 18 of them
        assert_eq!(s.agents.len(), 18);
        assert_eq!(s.agents.values().map(|a| a.answered).sum::<u64>(), answered);
        // the last hour of arrivals: 180 calls, 180 an hour
        let hour = m.snapshot_window(hours - 3_600_000, hours);
        assert_eq!(hour.center.offered, 180);
        assert_eq!(hour.center.calls_per_hour, Some(180.0));
        // the queue is the center here
        assert_eq!(s.queues["q"], s.center);
    }

    #[test]
    fn a_simulated_week_and_forgetting_old_calls() {
        let mut m = Metrics::new(KpiConfig::default());
        let mut log = Log::new();
        let week = 7 * 86_400_000i64;
        let mut t = 0;
        let mut i = 0;
        while t < week {
            if i % 10 == 0 {
                log.abandoned(t, &format!("c{i}"), "q", (i % 60) * 1_000);
            } else {
                log.answered(
                    t,
                    &format!("c{i}"),
                    "q",
                    &format!("{}", 1000 + i % 20),
                    (i % 40) * 1_000,
                    1 + (i % 3) as u32,
                    90_000,
                );
            }
            t += 30_000;
            i += 1;
        }
        for e in &log.0 {
            m.apply(e);
        }
        let s = m.snapshot(week);
        assert_eq!(s.center.offered, i as u64);
        assert!((s.center.abandon_rate.unwrap() - 0.1).abs() < 0.001);
        let day = m.snapshot_window(week - 86_400_000, week);
        assert_eq!(day.center.offered, 2_880);
        assert!((day.center.calls_per_hour.unwrap() - 120.0).abs() < 1e-9);
        m.forget_before(week - 86_400_000);
        assert_eq!(m.tracked_calls(), 2_880);
        assert_eq!(m.snapshot(week), s, "since start does not go back");
        let kept = m.snapshot_window(week - 86_400_000, week);
        assert_eq!(
            (kept.center, kept.agents),
            (day.center, day.agents),
            "the last day is intact"
        );
    }

    #[test]
    fn a_huge_number_of_calls_stays_exact() {
        // 200 000 calls (600 000 events), 3 queues, 500 agents
        let mut m = Metrics::new(KpiConfig::default());
        let n = 200_000i64;
        for i in 0..n {
            let call = CallId::from_stored(format!("c{i}"));
            let queue = Some(QueueId::new(["a", "b", "c"][(i % 3) as usize]));
            let agent = Some(AgentId::new(format!("{}", i % 500)));
            let at = i * 1_000;
            let ev = |at_ms, agent: Option<AgentId>, kind| CallEvent {
                at_ms,
                call_id: Some(call.clone()),
                agent,
                queue: queue.clone(),
                kind,
            };
            m.apply(&ev(at, None, arrived_kind()));
            let wait = i % 30_000;
            m.apply(&ev(
                at + wait,
                agent.clone(),
                EventKind::AgentAnswered {
                    wait_ms: wait,
                    rings: 1,
                    limit_ms: None,
                },
            ));
            m.apply(&ev(
                at + wait + 60_000,
                agent,
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: 60_000,
                },
            ));
        }
        let now = n * 1_000 + 100_000;
        let s = m.snapshot(now);
        assert_eq!((s.center.offered, s.center.answered), (200_000, 200_000));
        let in_target = (0..n).filter(|i| i % 30_000 <= 20_000).count() as f64;
        assert_eq!(s.center.service_level_20s, Some(in_target / n as f64));
        let mean_wait = (0..n).map(|i| (i % 30_000) as f64).sum::<f64>() / n as f64;
        assert!((s.center.asa_ms.unwrap() - mean_wait).abs() < 1e-6);
        assert_eq!(s.queues.values().map(|q| q.offered).sum::<u64>(), 200_000);
        assert_eq!(s.agents.len(), 500);
        assert!(s
            .agents
            .values()
            .all(|a| a.answered == 400 && a.talk_ms == 400 * 60_000));
        assert!(sane(&s.center));
        m.forget_before(now);
        assert_eq!(m.tracked_calls(), 0);
        assert_eq!(m.snapshot(now), s);
    }

    /// The ways a call ends, for the dropped-call KPI (times in ms):
    /// - sales `a`: answered, both talked, the caller's BYE: not dropped;
    /// - sales `b`: answered, the caller's RTP stopped: `media_timeout`, the
    ///   engine ended it: dropped;
    /// - support `c`: answered, the agent's phone vanished: `session_expired`
    ///   naming the agent: dropped;
    /// - support `d`: the caller hung up while queued: abandoned, not dropped;
    /// - support `e`: the caller's session expired while queued (never got
    ///   through): ends as abandoned, not dropped;
    /// - sales `f`: answered, one-way audio for a while, then a BYE: one-way
    ///   audio, not dropped;
    /// - sales `g`: answered, one-way audio, then `media_timeout`: both;
    /// - sales `h`: answered, still talking at `now`: not dropped;
    /// - sales `i`: a `media_timeout` stamped before its answer (a hostile
    ///   stream), then a BYE: not dropped.
    fn dropping_day() -> Log {
        let mut log = Log::new();
        let side = hotline_core::Side::Caller;
        let timeout = |log: &mut Log, at, call: &str, q: &str| {
            let kind = EventKind::MediaTimeout {
                side,
                idle_ms: 20_000,
            };
            log.ev(at, call, Some("1001"), q, kind);
        };
        let one_way = |log: &mut Log, at, call: &str, q: &str| {
            let kind = EventKind::OneWayAudio {
                side,
                idle_ms: 10_000,
            };
            log.ev(at, call, Some("1001"), q, kind);
        };
        let ended_by_system = |log: &mut Log, at, call: &str, q: &str, talk| {
            let kind = EventKind::Completed {
                ended_by: EndedBy::System,
                talk_ms: talk,
            };
            log.ev(at, call, Some("1001"), q, kind);
        };
        log.answered(0, "a", "sales", "1001", 3_000, 1, 60_000);
        log.arrive(100_000, "b", "sales");
        log.answer(104_000, "b", "sales", "1001", 4_000, 1);
        timeout(&mut log, 150_000, "b", "sales");
        ended_by_system(&mut log, 150_000, "b", "sales", 46_000);
        log.arrive(200_000, "c", "support");
        log.answer(202_000, "c", "support", "1002", 2_000, 1);
        let expired = EventKind::SessionExpired {
            side: hotline_core::Side::Agent,
            interval_ms: 90_000,
            status: Some(408),
        };
        log.ev(400_000, "c", Some("1002"), "support", expired);
        log.ev(
            400_000,
            "c",
            Some("1002"),
            "support",
            EventKind::Completed {
                ended_by: EndedBy::System,
                talk_ms: 198_000,
            },
        );
        log.abandoned(500_000, "d", "support", 20_000);
        log.arrive(600_000, "e", "support");
        let expired = EventKind::SessionExpired {
            side,
            interval_ms: 90_000,
            status: None,
        };
        log.ev(690_000, "e", None, "support", expired);
        log.ev(
            690_000,
            "e",
            None,
            "support",
            EventKind::Abandoned {
                wait_ms: 90_000,
                position: 1,
            },
        );
        log.arrive(700_000, "f", "sales");
        log.answer(701_000, "f", "sales", "1001", 1_000, 1);
        one_way(&mut log, 720_000, "f", "sales");
        log.complete(780_000, "f", "sales", "1001", 79_000);
        log.arrive(800_000, "g", "sales");
        log.answer(801_000, "g", "sales", "1001", 1_000, 1);
        one_way(&mut log, 811_000, "g", "sales");
        timeout(&mut log, 821_000, "g", "sales");
        ended_by_system(&mut log, 821_000, "g", "sales", 20_000);
        log.arrive(900_000, "h", "sales");
        log.answer(901_000, "h", "sales", "1003", 1_000, 1);
        log.arrive(950_000, "i", "sales");
        timeout(&mut log, 950_500, "i", "sales");
        log.answer(951_000, "i", "sales", "1001", 1_000, 1);
        log.complete(991_000, "i", "sales", "1001", 40_000);
        log
    }

    #[test]
    fn dropped_calls_are_answered_calls_the_line_ended_by_hand() {
        let now = 1_000_000;
        let m = dropping_day().metrics();
        let s = m.snapshot(now);
        let c = &s.center;
        // answered: a b c f g h i = 7; dropped: b c g = 3
        assert_eq!((c.offered, c.answered, c.abandoned), (9, 7, 2));
        assert_eq!((c.dropped, c.one_way_audio), (3, 2));
        assert_eq!(c.dropped_rate, Some(3.0 / 7.0));
        assert_eq!(c.talking_now, 1, "h still talks");
        let sales = &s.queues["sales"];
        // sales answered a b f g h i = 6, dropped b g
        assert_eq!(
            (sales.answered, sales.dropped, sales.one_way_audio),
            (6, 2, 2)
        );
        assert_eq!(sales.dropped_rate, Some(2.0 / 6.0));
        let support = &s.queues["support"];
        // support: c answered and dropped; d and e abandoned (e's session
        // expired before anyone answered: the caller never got through)
        assert_eq!((support.answered, support.abandoned), (1, 2));
        assert_eq!((support.dropped, support.dropped_rate), (1, Some(1.0)));
        assert_eq!(support.one_way_audio, 0);
        // nothing answered: no rate
        let mut quiet = Log::new();
        quiet.abandoned(0, "z", "q", 9_000);
        let q = quiet.metrics().snapshot(now).center;
        assert_eq!((q.dropped, q.dropped_rate), (0, None));
        // the missed-call list has the two abandons, no dropped call
        let missed: Vec<_> = m
            .unanswered(0, now)
            .into_iter()
            .map(|u| u.call_id)
            .collect();
        assert_eq!(missed, ["d", "e"]);
        // the columns read it for /metrics and the reports
        let col = |n| crate::columns::column(n).and_then(|col| col.exported(c));
        assert_eq!(col("dropped"), Some(3.0));
        assert_eq!(col("dropped_rate"), Some(3.0 / 7.0));
        assert_eq!(col("one_way_audio"), Some(2.0));
    }

    #[test]
    fn dropped_calls_per_window_in_any_order_and_after_forgetting() {
        let now = 1_000_000;
        let log = dropping_day();
        let m = log.metrics();
        let whole = m.snapshot(now);
        // windows by arrival: [0, 300 s) holds a b c; [300 s, now) the rest
        let first = m.snapshot_window(0, 300_000).center;
        assert_eq!((first.answered, first.dropped), (3, 2));
        let rest = m.snapshot_window(300_000, now).center;
        assert_eq!((rest.answered, rest.dropped, rest.one_way_audio), (4, 1, 2));
        assert_eq!(rest.dropped_rate, Some(0.25));
        // reversed and every event twice: the same figures
        let mut m2 = Metrics::new(KpiConfig::default());
        for e in log.0.iter().rev().chain(log.0.iter()) {
            m2.apply(e);
        }
        assert_eq!(m2.snapshot(now), whole);
        // forgetting the ended calls keeps "since start" counting them
        let mut m3 = log.metrics();
        m3.forget_before(now);
        let after = m3.snapshot(now).center;
        assert_eq!((after.dropped, after.one_way_audio), (3, 2));
        assert_eq!(after.dropped_rate, Some(3.0 / 7.0));
        // a simulated day: every 10th answered call drops, every 25th is
        // abandoned, none of those is dropped
        let mut day = Metrics::new(KpiConfig::default());
        let (mut answered, mut dropped) = (0u64, 0u64);
        for i in 0..8_640i64 {
            let at = i * 10_000;
            let call = CallId::from_stored(format!("d{i}"));
            let e = |t, agent: Option<&str>, kind| CallEvent {
                at_ms: t,
                call_id: Some(call.clone()),
                agent: agent.map(AgentId::new),
                queue: Some(QueueId::new("q")),
                kind,
            };
            day.apply(&e(at, None, arrived_kind()));
            if i % 25 == 0 {
                let kind = EventKind::Abandoned {
                    wait_ms: 8_000,
                    position: 1,
                };
                day.apply(&e(at + 8_000, None, kind));
                continue;
            }
            let answer = EventKind::AgentAnswered {
                wait_ms: 2_000,
                rings: 1,
                limit_ms: None,
            };
            day.apply(&e(at + 2_000, Some("1001"), answer));
            answered += 1;
            let ended_by = if i % 10 == 0 {
                dropped += 1;
                let kind = EventKind::MediaTimeout {
                    side: hotline_core::Side::Agent,
                    idle_ms: 30_000,
                };
                day.apply(&e(at + 9_000, Some("1001"), kind));
                EndedBy::System
            } else {
                EndedBy::Agent
            };
            let done = EventKind::Completed {
                ended_by,
                talk_ms: 7_000,
            };
            day.apply(&e(at + 9_000, Some("1001"), done));
        }
        let c = day.snapshot(86_400_000).center;
        assert_eq!((c.answered, c.dropped), (answered, dropped));
        assert_eq!(c.dropped_rate, Some(dropped as f64 / answered as f64));
        // 864 tenth calls, 173 of them (every 50th) abandoned before
        assert_eq!(dropped, 691);
    }

    #[test]
    fn three_days_of_100_000_calls_fold_into_a_bounded_number_of_sums() {
        // what the live task does every minute: compact, forget two days back
        let mut m = Metrics::new(KpiConfig::default());
        let n = 100_000i64;
        let step = 3 * 86_400_000 / n; // a call every 2.592 s
        let (mut tidy, mut most_calls, mut most_sums) = (60_000i64, 0usize, 0usize);
        for i in 0..n {
            let at = i * step;
            while tidy <= at {
                m.compact(tidy);
                m.forget_before(tidy - 2 * 86_400_000);
                most_calls = most_calls.max(m.tracked_calls());
                most_sums = most_sums.max(m.rollups());
                tidy += 60_000;
            }
            let mut log = Log::new();
            let (call, queue) = (format!("c{i}"), ["a", "b"][(i % 2) as usize]);
            if i % 10 == 0 {
                log.abandoned(at, &call, queue, (i % 60) * 1_000);
            } else {
                let agent = format!("{}", 1000 + i % 50);
                let talk = 60_000 + (i % 120) * 1_000;
                log.answered(at, &call, queue, &agent, (i % 40) * 1_000, 1, talk);
            }
            for e in &log.0 {
                m.apply(e);
            }
        }
        // the calls of the last DETAIL_MS, one more minute and the longest
        // call (40 s wait + 3 min talk), not two days of them (66 667)
        let bound = ((DETAIL_MS + 60_000 + 220_000) / step + 1) as usize;
        assert!(
            most_calls <= bound,
            "{most_calls} calls kept (bound {bound})"
        );
        // two days of quarter-hours and the minutes of the last 75 minutes
        let sums =
            (2 * 86_400_000 / ROLLUP_QUARTER_MS + FINE_ROLLUPS_MS / ROLLUP_MINUTE_MS + 2) as usize;
        assert!(most_sums <= sums, "{most_sums} sums kept (bound {sums})");
        // since start still counts every call
        let s = m.snapshot(n * step + 600_000);
        assert_eq!((s.center.offered, s.center.answered), (100_000, 90_000));
        assert_eq!(s.agents.values().map(|a| a.answered).sum::<u64>(), 90_000);
        assert_eq!(s.queues.values().map(|q| q.offered).sum::<u64>(), 100_000);
    }

    #[test]
    fn a_folded_or_forgotten_day_counts_like_the_unfolded_one_outbound_included() {
        // a day: inbound calls answered and abandoned in two queues, and
        // agents' outbound calls (which count for their agents only)
        let mut log = Log::new();
        let (mut i, mut t) = (0i64, 0i64);
        while t < 86_400_000 {
            let (call, queue) = (format!("d{i}"), ["a", "b"][(i % 2) as usize]);
            let agent = format!("{}", 1000 + i % 5);
            match i % 4 {
                0 => log.abandoned(t, &call, queue, (i % 30) * 1_000),
                1 | 2 => {
                    let kind = EventKind::Arrived {
                        caller: Party {
                            number: "0622".into(),
                            display: None,
                        },
                        dialled: OUTBOUND.into(),
                        call_type: CallType::default(),
                    };
                    log.ev(t, &call, Some(&agent), queue, kind);
                    log.answer(t + 4_000, &call, queue, &agent, 4_000, 1);
                    log.complete(t + 64_000, &call, queue, &agent, 60_000);
                }
                _ => log.answered(t, &call, queue, &agent, (i % 20) * 1_000, 2, 120_000),
            }
            t += 137_000;
            i += 1;
        }
        let now = t + 3_600_000;
        let whole = log.metrics().snapshot(now);
        assert!(whole.center.offered > 0 && whole.agents.len() == 5);
        // outbound calls are not offered to the center
        assert!(
            whole.center.offered < i as u64 * 3 / 4,
            "{}",
            whole.center.offered
        );
        // forgotten without folding, folded then forgotten, folded only
        let mut forgotten = log.metrics();
        forgotten.forget_before(now);
        let mut folded_forgotten = log.metrics();
        folded_forgotten.compact(now);
        assert!(folded_forgotten.rollups() > 0);
        folded_forgotten.forget_before(now);
        let mut folded = log.metrics();
        folded.compact(now);
        for (how, m) in [
            ("forgotten", &forgotten),
            ("folded, then forgotten", &folded_forgotten),
            ("folded", &folded),
        ] {
            assert_eq!(m.tracked_calls(), 0, "{how}");
            let s = m.snapshot(now);
            assert_eq!(s.center, whole.center, "center, {how}");
            assert_eq!(s.queues, whole.queues, "queues, {how}");
            assert_eq!(s.agents, whole.agents, "agents, {how}");
        }
    }

    #[test]
    fn compacting_keeps_today_a_shift_and_the_last_15_minutes_exact() {
        // 6 hours from midnight (0), a call every 20 s: abandons, ring-outs,
        // wrap-ups, two queues, agents' outbound calls
        let mut log = Log::new();
        let (mut i, mut t) = (0i64, 0i64);
        while t < 6 * 3_600_000 {
            let (call, queue) = (format!("c{i}"), ["a", "b"][(i % 2) as usize]);
            let agent = format!("{}", 1000 + i % 7);
            match i % 6 {
                0 => log.abandoned(t, &call, queue, (i % 50) * 1_000),
                1 => {
                    let kind = EventKind::Arrived {
                        caller: Party {
                            number: "0622".into(),
                            display: None,
                        },
                        dialled: OUTBOUND.into(),
                        call_type: CallType::default(),
                    };
                    log.ev(t, &call, Some(&agent), queue, kind);
                    log.answer(t + 5_000, &call, queue, &agent, 5_000, 1);
                    log.complete(t + 65_000, &call, queue, &agent, 60_000);
                }
                _ => {
                    log.ring_out(t + 15_000, &call, queue, "1099");
                    log.answered(t, &call, queue, &agent, (i % 40) * 1_000, 2, 90_000);
                    let wrap = EventKind::WrapUp { wrap_ms: 20_000 };
                    log.ev(t + 200_000, &call, Some(&agent), queue, wrap);
                }
            }
            t += 20_000;
            i += 1;
        }
        let mut m = log.metrics();
        let now = t + 7 * 60_000 + 30_000; // not on a minute
        let windows = [None, Some(0), Some(2 * 3_600_000), Some(now - 15 * 60_000)];
        let snap = |m: &Metrics, from: Option<i64>| match from {
            None => m.snapshot(now),
            Some(from) => m.snapshot_window(from, now),
        };
        let before: Vec<Snapshot> = windows.iter().map(|w| snap(&m, *w)).collect();
        let hour_before = m.snapshot_window(now - 3_600_000, now).center;
        let kept = m.tracked_calls();
        m.compact(now);
        assert!(
            m.tracked_calls() * 10 < kept,
            "{} of {kept}",
            m.tracked_calls()
        );
        assert!(m.rollups() > 0);
        let after: Vec<Snapshot> = windows.iter().map(|w| snap(&m, *w)).collect();
        assert_eq!(
            before, after,
            "since start, today, a shift, the last 15 minutes"
        );
        // the last hour starts inside a folded minute: that minute's calls
        // (three at most) are left out, nothing else changes
        let hour = m.snapshot_window(now - 3_600_000, now).center;
        assert!(hour.offered <= hour_before.offered && hour.offered + 3 >= hour_before.offered);
        // compacting again changes nothing; later, minutes merge per quarter
        m.compact(now);
        assert_eq!(
            windows.iter().map(|w| snap(&m, *w)).collect::<Vec<_>>(),
            after
        );
        let later = now + 3 * 3_600_000;
        let today = m.snapshot_window(0, later);
        let shift = m.snapshot_window(2 * 3_600_000, later);
        m.compact(later);
        assert!(m.rollups() <= 24 + 1, "{} sums for 6 hours", m.rollups());
        assert_eq!(m.tracked_calls(), 0);
        assert_eq!(m.snapshot_window(0, later), today);
        assert_eq!(m.snapshot_window(2 * 3_600_000, later), shift);
        // forgetting takes the sums into "since start"
        let all = m.snapshot(later);
        m.forget_before(later);
        assert_eq!((m.tracked_calls(), m.rollups()), (0, 0));
        assert_eq!(m.snapshot(later), all);
    }

    #[test]
    fn a_late_event_of_a_folded_call_counts_nowhere_and_is_forgotten() {
        let mut log = Log::new();
        log.answered(0, "c", "q", "1", 1_000, 1, 60_000);
        let mut m = log.metrics();
        let now = 3_600_000;
        m.compact(now);
        assert_eq!((m.tracked_calls(), m.rollups()), (0, 1));
        let s = m.snapshot(now);
        let wrap = EventKind::WrapUp { wrap_ms: 5_000 };
        m.apply(&event(now, Some("c"), Some("1"), Some("q"), wrap));
        let late = m.snapshot(now);
        assert_eq!((late.center, late.agents), (s.center, s.agents));
        // never arrived: compacting keeps it, forgetting drops it
        m.compact(now + 2 * DETAIL_MS);
        assert_eq!(m.tracked_calls(), 1);
        m.forget_before(now + 1);
        assert_eq!((m.tracked_calls(), m.rollups()), (0, 0));
    }

    #[test]
    fn compacting_at_the_ends_of_time_does_not_panic() {
        let mut log = Log::new();
        log.abandoned(i64::MIN, "old", "q", 1_000);
        log.abandoned(i64::MAX - 10, "future", "q", 1);
        log.answered(-61_001, "neg", "q", "1", 1_000, 1, 1_000);
        let mut m = log.metrics();
        for now in [i64::MIN, -1, 0, i64::MAX] {
            m.compact(now);
            m.forget_before(now);
            assert!(sane(&m.snapshot(now).center));
        }
        assert_eq!(m.snapshot(i64::MAX).center.offered, 3);
    }
}
