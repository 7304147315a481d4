use crate::{AgentId, CallId, CallType, Party, QueueId};
use serde::{Deserialize, Serialize};

/// One thing that happened to a call or an agent: the record everything else is
/// derived from (queue log, CDRs, metrics, wallboard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// When it happened, epoch milliseconds.
    pub at_ms: i64,
    /// The call it belongs to, if any (agent registrations have none).
    pub call_id: Option<CallId>,
    /// The agent involved, if any.
    pub agent: Option<AgentId>,
    /// The queue involved, if any.
    pub queue: Option<QueueId>,
    /// What happened.
    pub kind: EventKind,
}

/// The `dialled` of the `arrived` event of an agent's call to a customer
/// (its direction: inbound calls carry the number the caller dialled).
pub const OUTBOUND: &str = "outbound";

/// Which side ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The caller hung up.
    Caller,
    /// The agent hung up.
    Agent,
    /// The engine ended it (shutdown, error, timeout).
    System,
}

/// How a call ended, as stored in its CDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An agent talked to the caller.
    Answered,
    /// The caller hung up before reaching an agent.
    Abandoned,
    /// The engine refused the call (bad request, no common codec, ...).
    Rejected,
    /// The call failed for a technical reason after it was accepted.
    Failed,
    /// No agent took the call; the caller was offered voicemail (closed
    /// queue or overflow) and the call ended there.
    Voicemail,
    /// The caller asked to be called back and hung up; the callback is a
    /// call of its own (type `callback`).
    Callback,
}

impl Outcome {
    /// The lowercase name used in the store and API.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Voicemail => "voicemail",
            Outcome::Callback => "callback",
        }
    }
}

/// The kinds of [`CallEvent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A caller's INVITE reached the hotline.
    Arrived {
        /// Who is calling.
        caller: Party,
        /// The number they dialled.
        dialled: String,
        /// The call type assumed until it is known.
        call_type: CallType,
    },
    /// The call was refused before it was queued.
    Rejected {
        /// SIP status sent to the caller.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The call was put in a queue, waiting for an agent.
    Queued {
        /// Position in the queue (1 = next).
        position: u32,
    },
    /// The call was offered to an agent (their phone rings).
    Offered {
        /// The contact that was invited.
        contact: String,
    },
    /// The agent's phone rang out (their ring timeout passed).
    AgentRingNoAnswer {
        /// How long it rang, ms.
        rang_ms: i64,
    },
    /// The agent's phone refused the call (486 busy, 603 decline, ...).
    AgentRejected {
        /// SIP status the phone answered with.
        status: u16,
    },
    /// The agent's phone could not be reached (timeout, transport error).
    AgentUnreachable {
        /// What went wrong.
        reason: String,
    },
    /// No agent answered within the ring target: the engine answered the caller.
    SystemAnswered {
        /// Rings the caller heard before the answer.
        rings: u32,
    },
    /// A prompt started playing to the caller.
    PromptStarted {
        /// Prompt name (greeting, music, ...).
        prompt: String,
    },
    /// An agent answered; caller and agent are bridged.
    AgentAnswered {
        /// Time the caller waited since arrival, ms.
        wait_ms: i64,
        /// Rings the caller heard before someone (engine or agent) answered.
        rings: u32,
        /// The handle-time limit of the call's type from now, ms (None: no
        /// limit; absent in logs written before it existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_ms: Option<i64>,
    },
    /// The caller hung up before reaching an agent.
    Abandoned {
        /// Time waited, ms.
        wait_ms: i64,
        /// Position in the queue when they hung up (0 if ringing only).
        position: u32,
    },
    /// A bridged call ended.
    Completed {
        /// Who hung up.
        ended_by: EndedBy,
        /// Talk time, ms.
        talk_ms: i64,
    },
    /// The call ended for a technical reason after it was accepted.
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// Recording of the call started.
    RecordingOpened {
        /// Path relative to the recordings root.
        path: String,
    },
    /// Recording of the call ended and was sealed.
    RecordingClosed {
        /// Path relative to the recordings root.
        path: String,
        /// SHA-256 of the WAV file, hex.
        sha256: String,
        /// Samples written per channel.
        samples: u64,
        /// Holes filled with silence (lost, late or dropped audio), both channels.
        #[serde(default)]
        gaps: u32,
        /// Samples of silence those holes added.
        #[serde(default)]
        gap_samples: u64,
    },
    /// A recording left open by a crash was repaired (its header rewritten
    /// from the file length) and sealed as recovered by the startup sweep.
    RecordingRecovered {
        /// Path relative to the recordings root.
        path: String,
        /// SHA-256 of the repaired WAV file, hex.
        sha256: String,
        /// Samples per channel recovered.
        samples: u64,
        /// Audio bytes the header declared before the repair.
        header_bytes: u64,
        /// Audio bytes found on disk (whole frames).
        data_bytes: u64,
    },
    /// The agent stopped taking calls (auto-pause after missed calls, or asked).
    AgentPaused {
        /// Why ("missed calls", "meal", ...).
        reason: String,
        /// Who paused them ("acd" for the automatic pause, "phone" for a
        /// feature code, "api:<name>" for the API).
        by: String,
        /// Asked during a call: the pause starts when the call and its
        /// wrap-up end.
        #[serde(default)]
        after_call: bool,
    },
    /// The agent takes calls again after a pause.
    AgentUnpaused {
        /// Who ended the pause.
        by: String,
    },
    /// The agent logged in to the queues (feature code or API).
    AgentLoggedIn {
        /// Who logged them in.
        by: String,
    },
    /// The agent logged out of the queues (their phone stays registered).
    AgentLoggedOut {
        /// Who logged them out.
        by: String,
    },
    /// A waiting caller was told their position and expected wait (each
    /// left out when unknown).
    Announced {
        /// Place in the queue, 1 = next.
        position: Option<u32>,
        /// Expected wait, ms.
        expected_wait_ms: Option<i64>,
    },
    /// A waiting caller pressed the callback key: they hang up, keep their
    /// place, and are called back by the next free agent.
    CallbackRequested {
        /// The number that will be called back.
        number: String,
        /// The callback call's id.
        callback: CallId,
        /// Due by, epoch ms.
        deadline_ms: i64,
    },
    /// A callback attempt did not reach the caller (no answer, busy, error).
    CallbackAttemptFailed {
        /// 1 for the first attempt.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// A callback reached its deadline or its last attempt without reaching
    /// the caller.
    CallbackExpired {
        /// Attempts made.
        attempts: u32,
    },
    /// The agent's after-call work for this call: available again after
    /// `wrap_ms` (the queue's wrap-up time). Part of the handle time.
    WrapUp {
        /// Wrap-up time, ms.
        wrap_ms: i64,
    },
    /// Retention or the storage quota removed a recording's audio (a signed
    /// tombstone replaces it; the manifest stays).
    RecordingDeleted {
        /// The WAV, relative to the recordings root.
        path: String,
        /// Why (`older than 90 days (queue general)`, `storage quota`).
        reason: String,
    },
    /// The recordings exceed the storage quota and only held recordings are
    /// left to remove: someone must act.
    StorageAlarm {
        /// What is wrong.
        reason: String,
    },
    /// A carrier trunk stopped answering OPTIONS: calls out and callbacks
    /// through it are refused until it answers again.
    TrunkDown {
        /// The trunk (`[[trunks]]` name).
        trunk: String,
        /// The last probe's failure.
        reason: String,
    },
    /// The line self-test passed: the test call through the trunk was
    /// answered within the rings and a tone went through both ways.
    LineTestPassed {
        /// `scheduled` (a `[line_test] times` slot) or `manual` (API).
        trigger: String,
        /// The slot (`08:30`) for a scheduled test; empty for a manual one.
        #[serde(default)]
        slot: String,
        /// The shift on duty when it ran (`[[shifts]]` name), if any.
        #[serde(default)]
        shift: Option<String>,
        /// What was checked and how it went, one line per check.
        detail: String,
    },
    /// The line self-test failed: the alarm for the machine room.
    LineTestFailed {
        /// `scheduled` or `manual`.
        trigger: String,
        /// The slot for a scheduled test; empty for a manual one.
        #[serde(default)]
        slot: String,
        /// The shift on duty when it ran, if any.
        #[serde(default)]
        shift: Option<String>,
        /// The first check that failed, in words (`trunk down: ...`).
        reason: String,
        /// Every check and how it went, one line per check.
        detail: String,
    },
    /// A scheduled line self-test did not run (the engine was down or busy
    /// at its time): the alarm that nobody tested the line.
    LineTestMissing {
        /// The slot that was missed (`08:30`).
        slot: String,
        /// When it was due, epoch ms.
        due_ms: i64,
        /// The shift on duty at that time, if any.
        #[serde(default)]
        shift: Option<String>,
    },
    /// HA pair: this node took every queue's lease and takes new calls
    /// (answers OPTIONS 200).
    NodeActive {
        /// The node (`[cluster] node_id`).
        node: String,
        /// The nodes whose lapsed leases it took (empty: nobody held them).
        #[serde(default)]
        taken_from: Vec<String>,
    },
    /// HA pair: this node stopped taking new calls (OPTIONS and INVITEs get
    /// 503): another node holds the leases, or its renewals or the database
    /// failed, or it stops.
    NodeStandby {
        /// The node.
        node: String,
        /// `held_by_other_node`, `renew_late`, `database_unhealthy`,
        /// `released` or `starting`.
        reason: String,
        /// The node holding the leases, when known.
        #[serde(default)]
        holder: Option<String>,
    },
    /// A trunk that was down answers again.
    TrunkUp {
        /// The trunk.
        trunk: String,
    },
    /// The caller left a voicemail (recorded like a call: caller left, the
    /// agent channel silent).
    VoicemailLeft {
        /// The recording, relative to the recordings root (None if it could
        /// not be written).
        path: Option<String>,
        /// How long the caller spoke after the tone, ms.
        duration_ms: i64,
    },
    /// The caller's queue is closed (outside its open hours or on a holiday);
    /// the queue is the event's queue.
    QueueClosed {},
    /// The agent put the caller on hold: the caller hears music, neither
    /// side hears the other (the caller's side is still recorded).
    Held {
        /// Who asked (`api:<by>`, `phone`).
        by: String,
    },
    /// The call came back from hold.
    Resumed {
        /// How long it was on hold, ms.
        held_ms: i64,
        /// Who asked.
        by: String,
    },
    /// The agent (the event's agent) passed the caller on to another queue
    /// (blind transfer, e.g. to the shift leaders); the caller waits there
    /// with music and the recording goes on.
    Transferred {
        /// The queue the call goes to.
        to: QueueId,
        /// The transferring agent's part of the call, ms (answer to transfer).
        talk_ms: i64,
        /// Who asked.
        by: String,
    },
    /// The call's type was set during the call (the agent's disposition); its
    /// handle-time limit is now that type's, counted from the answer.
    CallTypeSet {
        /// The new type.
        call_type: CallType,
        /// Its handle-time limit, ms, counted from the answer (None: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_ms: Option<i64>,
        /// Who set it.
        by: String,
    },
    /// Recording paused on request (card numbers): silence is written from
    /// here, and the span is listed in the signed manifest.
    RecordingPaused {
        /// Who asked.
        by: String,
    },
    /// An earlier recording was played into the call (both parties heard it).
    PlayedIntoCall {
        /// The recording played (its call id).
        recording: String,
        /// Its length, ms.
        duration_ms: i64,
        /// Who asked.
        by: String,
    },
    /// Recording resumed after a pause.
    RecordingResumed {
        /// How long it was paused, ms.
        paused_ms: i64,
        /// Who asked.
        by: String,
    },
    /// The caller sent no sound for the configured time after the engine
    /// answered: the "we cannot hear you" message was played and the call
    /// ended (a dead line, not a caller who gave up).
    SilentLine {
        /// How long the line was silent, ms.
        silent_ms: i64,
    },
    /// A supervisor let the agent pause or log out although a queue falls
    /// below its minimum staffing.
    MinimumStaffingOverridden {
        /// The queue left short.
        queue: QueueId,
        /// The supervisor.
        by: String,
    },
    /// A login, logout, pause or unpause was refused.
    AgentRequestRefused {
        /// What was asked (`pause`, `logout`, ...).
        request: String,
        /// Why it was refused.
        reason: String,
        /// Who asked.
        by: String,
    },
    /// The call reached the warning fraction of its type's handle-time limit.
    LimitWarning {
        /// The call's type.
        call_type: CallType,
        /// Its limit, ms.
        limit_ms: i64,
        /// Talk time so far, ms.
        talk_ms: i64,
    },
    /// The call went past its type's handle-time limit.
    LimitExceeded {
        /// The call's type.
        call_type: CallType,
        /// Its limit, ms.
        limit_ms: i64,
    },
    /// The recording could not be written (the call goes on).
    RecordingFailed {
        /// What went wrong.
        reason: String,
    },
    /// An agent's phone registered a contact.
    AgentRegistered {
        /// The registered contact URI.
        contact: String,
        /// Seconds until the binding expires.
        expires_s: u32,
    },
    /// An agent's contact was removed (unregistered or expired).
    AgentUnregistered {
        /// The removed contact URI.
        contact: String,
    },
    /// The caller's number matched a blacklist entry.
    Blacklisted {
        /// The entry that matched (`+8613800000000` or a prefix `+86138*`).
        entry: String,
        /// What was done: `reject` or `queue:<id>`.
        action: String,
        /// Why the number is on the list.
        reason: String,
    },
    /// The caller chose an IVR option (DTMF); the call's type and queue are set.
    IvrChoice {
        /// The key pressed (`0`-`9`, `*`, `#`), or empty when no key came in
        /// time and the default was taken.
        digit: String,
        /// The call type the choice sets.
        call_type: CallType,
        /// The language the caller needs, if the choice names one.
        #[serde(default)]
        language: Option<String>,
    },
    /// The caller pressed a key that is not an option of the menu.
    IvrInvalid {
        /// The key pressed.
        digit: String,
    },
    /// The call left its queue for another (max wait reached, or no agent
    /// logged in); the event's `queue` is the new one.
    Overflowed {
        /// The queue the call left.
        from: QueueId,
        /// Why (`max_wait`, `no_agents`).
        reason: String,
    },
    /// A supervisor joined the call (their phone answered): live monitoring
    /// in `mode` (`whisper` and `barge` mark that the agent, or both
    /// parties, heard someone else than each other from here on).
    MonitorStarted {
        /// The supervisor's phone (its SIP account).
        supervisor: String,
        /// `listen`, `whisper` or `barge`.
        mode: crate::MonitorMode,
        /// Who asked (`phone:<account>`, `api:<name>`).
        by: String,
    },
    /// The supervisor switched mode during the call.
    MonitorModeChanged {
        /// The supervisor's phone.
        supervisor: String,
        /// The mode before.
        from: crate::MonitorMode,
        /// The mode now.
        mode: crate::MonitorMode,
        /// Who asked.
        by: String,
    },
    /// The monitoring ended (the supervisor hung up or asked to stop, or
    /// the call ended).
    MonitorStopped {
        /// The supervisor's phone.
        supervisor: String,
        /// How long the supervisor was on the call, ms.
        duration_ms: i64,
        /// Why (`supervisor hung up`, `stopped by api:alice`, `call ended`).
        reason: String,
    },
    /// A monitoring request came to nothing (the supervisor's phone did not
    /// answer, refused, or could not be reached).
    MonitorFailed {
        /// The supervisor's phone.
        supervisor: String,
        /// Why.
        reason: String,
    },
    /// No RTP came from one side of a talking call (not on hold) for the
    /// configured time: the line died (a dropped call). The call is ended
    /// by the engine (`completed` with `ended_by = system` follows).
    MediaTimeout {
        /// The side that went silent at the packet level.
        side: crate::Side,
        /// How long nothing came, ms (at least the timeout).
        idle_ms: i64,
    },
    /// A SIP session timer (RFC 4028) ran out: the far end of one leg
    /// stopped refreshing the session, or did not answer our refresh (408,
    /// 481, no answer) — a far end that vanished, also while the call is
    /// on hold (a dropped call, like `media_timeout`). The call is ended by
    /// the engine (`completed` with `ended_by = system` follows).
    SessionExpired {
        /// The leg whose session expired.
        side: crate::Side,
        /// The negotiated session interval, ms.
        interval_ms: i64,
        /// None: the far end's refresh never came; a status: our refresh
        /// failed with it (408 also for no answer at all).
        status: Option<u16>,
    },
    /// One-way audio: RTP stopped from one side of a talking call (not on
    /// hold) for half the media timeout while the other side still sends
    /// (a caller who "gets through but hears nothing"). Once per episode;
    /// if it lasts the whole timeout, `media_timeout` ends the call.
    OneWayAudio {
        /// The side that went silent at the packet level.
        side: crate::Side,
        /// How long nothing came from it, ms.
        idle_ms: i64,
    },
    /// SDES-SRTP on one leg of the call (RFC 4568 keys in the SDP, RFC 3711
    /// on the wire): the relay authenticates and decrypts what comes from
    /// that phone and encrypts what goes to it; the recording is written
    /// from the plain audio. The event's `agent` names the agent's leg.
    MediaEncrypted {
        /// The leg: `caller` or `agent`.
        side: crate::Side,
        /// The crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
        suite: String,
    },
    /// The phone on an SRTP leg changed its key in a re-INVITE or UPDATE
    /// (RFC 4568 §7.1.4): the relay takes the new key (the old one until
    /// the first packet under the new key).
    MediaRekeyed {
        /// The leg: `caller` or `agent`.
        side: crate::Side,
    },
    /// Routing by ownership: the caller has an open complaint case and its
    /// owner (the event's `agent`) was rung first (`offered`), or was not
    /// free within the wait (`wait_over`) or not logged in
    /// (`not_logged_in`), so anyone may answer.
    OwnerFirst {
        /// `offered`, `wait_over` or `not_logged_in`.
        outcome: String,
    },
    /// A complaint case's reply deadline is near (first-contact ownership:
    /// its owner, the event's `agent`, is warned).
    CaseWarning {
        /// The case.
        case_id: i64,
        /// `general`, `major` or `crisis`.
        severity: String,
        /// The reply deadline, epoch ms.
        deadline_ms: i64,
    },
    /// A complaint case's reply deadline passed without a reply (the
    /// alarm; the owner is the event's `agent`).
    CaseOverdue {
        /// The case.
        case_id: i64,
        /// `general`, `major` or `crisis`.
        severity: String,
        /// The reply deadline, epoch ms.
        deadline_ms: i64,
    },
    /// A work item (a call the center owes a customer: a missed call, a
    /// voicemail, a promise, a return visit) passed its deadline while open.
    /// Raised once per item; the event's agent or queue is its owner.
    WorkItemOverdue {
        /// The item's id.
        item: i64,
        /// Its kind (`missed`, `voicemail`, `promise`, ...).
        item_kind: String,
        /// The customer's number.
        number: String,
        /// Its deadline, epoch ms.
        deadline_ms: i64,
    },
    /// The duty floor needs people: an agent rostered and needed left by
    /// unregistering or unplugging their phone (the event's agent), or the
    /// floor is empty while agents are rostered (no agent).
    FloorAlarm {
        /// What is wrong, in words.
        reason: String,
        /// The shift concerned (`[[shifts]]` name), if known.
        #[serde(default)]
        shift: Option<String>,
    },
    /// The agent has worked longer than `duty.max_continuous_work_h` without
    /// a rest break (raised once per stretch of work).
    ContinuousWorkWarning {
        /// Worked without a break so far, ms.
        worked_ms: i64,
        /// The configured limit, ms.
        limit_ms: i64,
    },
    /// A shift ended without a written handover.
    HandoverMissing {
        /// The shift (`[[shifts]]` name).
        shift: String,
        /// The local date its occurrence started on, `YYYY-MM-DD`.
        date: String,
    },
    /// A supervisor let the agent pause or log out although the duty rules
    /// (relief by the next shift, the meal minimum) refused it.
    ReliefOverridden {
        /// What was asked (`pause`, `logout`).
        request: String,
        /// The rule that was overridden.
        reason: String,
        /// The supervisor.
        by: String,
    },
}

impl EventKind {
    /// The snake_case name of the kind (stored next to the JSON body).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Arrived { .. } => "arrived",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Queued { .. } => "queued",
            EventKind::Offered { .. } => "offered",
            EventKind::AgentRingNoAnswer { .. } => "agent_ring_no_answer",
            EventKind::AgentRejected { .. } => "agent_rejected",
            EventKind::AgentUnreachable { .. } => "agent_unreachable",
            EventKind::SystemAnswered { .. } => "system_answered",
            EventKind::PromptStarted { .. } => "prompt_started",
            EventKind::AgentAnswered { .. } => "agent_answered",
            EventKind::Abandoned { .. } => "abandoned",
            EventKind::Completed { .. } => "completed",
            EventKind::Failed { .. } => "failed",
            EventKind::RecordingOpened { .. } => "recording_opened",
            EventKind::RecordingClosed { .. } => "recording_closed",
            EventKind::RecordingFailed { .. } => "recording_failed",
            EventKind::RecordingRecovered { .. } => "recording_recovered",
            EventKind::LimitWarning { .. } => "limit_warning",
            EventKind::AgentPaused { .. } => "agent_paused",
            EventKind::AgentUnpaused { .. } => "agent_unpaused",
            EventKind::AgentLoggedIn { .. } => "agent_logged_in",
            EventKind::AgentLoggedOut { .. } => "agent_logged_out",
            EventKind::AgentRequestRefused { .. } => "agent_request_refused",
            EventKind::MinimumStaffingOverridden { .. } => "minimum_staffing_overridden",
            EventKind::SilentLine { .. } => "silent_line",
            EventKind::QueueClosed { .. } => "queue_closed",
            EventKind::Announced { .. } => "announced",
            EventKind::VoicemailLeft { .. } => "voicemail_left",
            EventKind::RecordingDeleted { .. } => "recording_deleted",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::StorageAlarm { .. } => "storage_alarm",
            EventKind::TrunkDown { .. } => "trunk_down",
            EventKind::TrunkUp { .. } => "trunk_up",
            EventKind::NodeActive { .. } => "node_active",
            EventKind::NodeStandby { .. } => "node_standby",
            EventKind::LineTestPassed { .. } => "line_test_passed",
            EventKind::LineTestFailed { .. } => "line_test_failed",
            EventKind::LineTestMissing { .. } => "line_test_missing",
            EventKind::CallbackRequested { .. } => "callback_requested",
            EventKind::CallbackAttemptFailed { .. } => "callback_attempt_failed",
            EventKind::CallbackExpired { .. } => "callback_expired",
            EventKind::LimitExceeded { .. } => "limit_exceeded",
            EventKind::AgentRegistered { .. } => "agent_registered",
            EventKind::AgentUnregistered { .. } => "agent_unregistered",
            EventKind::Blacklisted { .. } => "blacklisted",
            EventKind::IvrChoice { .. } => "ivr_choice",
            EventKind::IvrInvalid { .. } => "ivr_invalid",
            EventKind::Overflowed { .. } => "overflowed",
            EventKind::MediaTimeout { .. } => "media_timeout",
            EventKind::OneWayAudio { .. } => "one_way_audio",
            EventKind::MediaEncrypted { .. } => "media_encrypted",
            EventKind::MediaRekeyed { .. } => "media_rekeyed",
            EventKind::SessionExpired { .. } => "session_expired",
            EventKind::WorkItemOverdue { .. } => "work_item_overdue",
            EventKind::Held { .. } => "held",
            EventKind::Resumed { .. } => "resumed",
            EventKind::Transferred { .. } => "transferred",
            EventKind::CallTypeSet { .. } => "call_type_set",
            EventKind::RecordingPaused { .. } => "recording_paused",
            EventKind::RecordingResumed { .. } => "recording_resumed",
            EventKind::PlayedIntoCall { .. } => "played_into_call",
            EventKind::MonitorStarted { .. } => "monitor_started",
            EventKind::MonitorModeChanged { .. } => "monitor_mode_changed",
            EventKind::MonitorStopped { .. } => "monitor_stopped",
            EventKind::MonitorFailed { .. } => "monitor_failed",
            EventKind::OwnerFirst { .. } => "owner_first",
            EventKind::CaseWarning { .. } => "case_warning",
            EventKind::CaseOverdue { .. } => "case_overdue",
            EventKind::FloorAlarm { .. } => "floor_alarm",
            EventKind::ContinuousWorkWarning { .. } => "continuous_work_warning",
            EventKind::HandoverMissing { .. } => "handover_missing",
            EventKind::ReliefOverridden { .. } => "relief_overridden",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_round_trip_carries_kind_name() {
        let e = CallEvent {
            at_ms: 5,
            call_id: Some(CallId::from_stored("c1")),
            agent: None,
            queue: Some(QueueId::new("sales")),
            kind: EventKind::Abandoned {
                wait_ms: 4000,
                position: 1,
            },
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"type\":\"abandoned\""));
        let back: CallEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.kind.name(), "abandoned");
    }
}
