//! One call as a state machine: an inbound call from INVITE to the end, or a
//! callback from the caller's request until it is made or given up. Both are
//! the same [`Call`]: once an agent talks to the customer, hold, transfer,
//! recording control, the handle-time clock and call control are one code.
//!
//! Sans-IO: the driver feeds [`Input`]s with the current time
//! ([`Call::handle`]), carries out the [`Command`]s it polls
//! ([`Call::poll_command`]) and wakes the call at [`Call::poll_timeout`]
//! ([`Call::handle_timeout`]). Nothing here reads a clock or touches a socket.

use crate::control::{Action, ControlError, TalkingCall};
use crate::limits::LimitClock;
use crate::settings::{ClosedTreatment, Environment, FlowSettings, PromptRef, Route};
use hotline_acd::{CallRequest, PreferredAgent, RingResult, SkillNeed};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, Cdr, EndedBy, EventKind, MonitorMode, Party, QueueId,
};

#[path = "monitor.rs"]
mod monitor;
use crate::session::{Due, SessionTimer};
pub use monitor::MONITOR_RING_MS;
use std::collections::VecDeque;
use std::sync::Arc;

/// How long the phone's leg stays up after its REFER was accepted, so the
/// 202 reaches it before the BYE (a BYE first makes phones abort the REFER).
pub const REFER_ACCEPT_GRACE_MS: i64 = 250;

/// Priority of a transferred caller in the new queue (VIP callers have 10).
pub const TRANSFER_PRIORITY: u8 = 20;

/// Priority of a VIP caller.
pub const VIP_PRIORITY: u8 = 10;

/// Margin after a terminal message before the engine hangs up, ms.
const AFTER_MESSAGE_MS: i64 = 300;

/// The caller matched a blacklist entry (the driver looks it up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlacklistHit {
    /// The entry's pattern, as written.
    pub entry: String,
    /// The action's name (`reject`, `queue:abuse`).
    pub action: String,
    /// Why the number is listed.
    pub reason: String,
    /// None: refuse the call; Some: route it to this queue.
    pub queue: Option<QueueId>,
}

/// An inbound INVITE as the call flow sees it.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// Who calls.
    pub caller: Party,
    /// The number they dialled (Request-URI user).
    pub dialled: String,
    /// The driver's verdict on the offer: Err((status, reason)) when the SDP
    /// is missing, malformed, has no common codec or no media port is free.
    pub media: Result<(), (u16, String)>,
    /// The blacklist entry the caller matched.
    pub blacklisted: Option<BlacklistHit>,
    /// A VIP caller (served ahead of others).
    pub vip: bool,
    /// The owner of the caller's open complaint case, rung first.
    pub owner: Option<OwnerHint>,
}

/// Routing by ownership (首问负责制): the agent who owns the caller's open
/// case rings first, alone, for up to `wait_ms` after the call is queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerHint {
    /// The owner.
    pub agent: AgentId,
    /// Their open case.
    pub case_id: i64,
    /// How long the call waits for them, ms.
    pub wait_ms: i64,
}

/// A callback to make: the customer asked to be called back.
#[derive(Clone, Debug)]
pub struct CallbackSpec {
    /// The number to call back.
    pub number: String,
    /// Its queue.
    pub queue: QueueId,
    /// When the customer asked, epoch ms.
    pub requested_ms: i64,
    /// Due by, epoch ms.
    pub deadline_ms: i64,
    /// Attempts already made (after a restart).
    pub attempts: u32,
    /// Already waiting in the ACD (it kept the caller's place).
    pub queued: bool,
    /// Taken over after a restart: its `arrived` is already in the log.
    pub resumed: bool,
    /// The owner of the customer's open complaint case (首问负责制): each
    /// attempt is offered to them first, alone, for their wait.
    pub owner: Option<OwnerHint>,
}

/// What happened on a SIP leg (the caller's, or an agent's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegInput {
    /// The INVITE went out (agent legs, and the callback's customer leg);
    /// `contact` is where.
    Invited {
        /// The contact rung.
        contact: String,
    },
    /// The INVITE could not be sent.
    InviteFailed {
        /// Why.
        reason: String,
    },
    /// The far end answered; `usable` is false when its SDP could not be
    /// negotiated.
    Answered {
        /// The answer's SDP was usable.
        usable: bool,
    },
    /// The far end refused with this status.
    Rejected {
        /// SIP status.
        status: u16,
    },
    /// The leg ended (BYE, CANCEL, failure, transport loss).
    Gone {
        /// Why, when known.
        reason: Option<String>,
    },
    /// The phone's hold key (re-INVITE sendonly/inactive, or back).
    RemoteHold {
        /// Held, or back from hold.
        held: bool,
    },
    /// The phone's transfer key: a REFER to this target (a queue).
    Refer {
        /// The Refer-To user.
        target: String,
    },
    /// The leg's session timer (RFC 4028), negotiated when it was answered.
    SessionTimer {
        /// The session interval, ms.
        interval_ms: i64,
        /// We send the refreshes (else the far end does).
        we_refresh: bool,
    },
    /// The session was refreshed (the far end's re-INVITE or UPDATE, or
    /// the answer to ours).
    Refreshed,
    /// Our refresh failed (408, 481, no answer): the far end is gone.
    RefreshFailed {
        /// The status (408 for no answer).
        status: u16,
    },
}

impl LegInput {
    /// A session timer input (handled the same in every phase).
    fn is_session(&self) -> bool {
        matches!(
            self,
            LegInput::SessionTimer { .. } | LegInput::Refreshed | LegInput::RefreshFailed { .. }
        )
    }
}

/// A sealed recording, as the recorder reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Path relative to the recordings root.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Samples per channel.
    pub samples: u64,
    /// Gaps in the audio.
    pub gaps: u32,
    /// Samples of silence filled into gaps.
    pub gap_samples: u64,
}

/// An input to a call.
#[derive(Clone, Debug)]
pub enum Input {
    /// The customer's leg (the inbound caller, or the callback's customer).
    Caller(LegInput),
    /// A key from the caller (RFC 4733 or SIP INFO).
    Digit(char),
    /// An agent's leg.
    Agent {
        /// Whose.
        agent: AgentId,
        /// What.
        event: LegInput,
    },
    /// The controller offers the call to this agent.
    Offer {
        /// The agent to ring.
        agent: AgentId,
    },
    /// The queue refused the call (full, no overflow left).
    Refused {
        /// Why.
        reason: String,
    },
    /// The call overflowed to another queue.
    Moved {
        /// The new queue.
        queue: QueueId,
    },
    /// The call overflowed to voicemail.
    ToVoicemail,
    /// The controller's answer to [`ToController::AskStatus`].
    QueueStatus {
        /// 1 = next; None when not waiting.
        position: Option<u32>,
        /// Expected wait, ms.
        expected_wait_ms: Option<i64>,
    },
    /// The driver's answer to [`Command::CheckMedia`]: did RTP come from
    /// each side since the last check?
    MediaChecked {
        /// Packets came from the customer.
        caller: bool,
        /// Packets came from the agent.
        agent: bool,
    },
    /// The driver's answer to [`Command::CheckSilence`].
    SilenceChecked {
        /// The caller made a sound since the engine answered.
        heard: bool,
    },
    /// The recording asked for by [`Command::OpenRecording`] is open.
    RecordingOpened {
        /// Path relative to the recordings root.
        path: String,
    },
    /// It could not be opened, or failed while sealing.
    RecordingFailed {
        /// Why.
        reason: String,
    },
    /// The recording asked to close by [`Command::CloseRecording`] is sealed.
    RecordingSealed(Sealed),
    /// The supervisor's leg of a monitored call (rung by
    /// [`Command::InviteSupervisor`], or their own INVITE answered by
    /// [`Command::AnswerSupervisor`]).
    Supervisor(LegInput),
    /// An action of the agent or a supervisor; answered by
    /// [`Command::Reply`] with the same token.
    Control {
        /// The driver's token for the reply.
        token: u64,
        /// What.
        action: Action,
        /// Who (`phone`, `api:<name>`).
        by: String,
    },
    /// The engine is stopping: end the call now.
    Shutdown,
    /// The HA pair: the node stepped down (standby). A caller still ringing
    /// for the first time (not answered by the engine, no agent's phone
    /// ringing for them) is refused `503` with the reason
    /// [`STEP_DOWN_REASON`], so that the edge (Kamailio's dispatcher) sends
    /// the call to the active node; every other call stays (an answered
    /// caller keeps waiting, a call with an agent goes on).
    StepDown,
}

/// The `rejected` reason of a ringing caller moved off a node that stepped
/// down ([`Input::StepDown`]).
pub const STEP_DOWN_REASON: &str = "node_standby";

/// What a call tells the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToController {
    /// The call waits for an agent in `queue`.
    Enqueue {
        /// The queue.
        queue: QueueId,
        /// Priority and skills.
        request: CallRequest,
    },
    /// What came of an offer.
    RingResult {
        /// The agent.
        agent: AgentId,
        /// What came of it.
        result: RingResult,
    },
    /// The agent's part of the call ended: wrap-up.
    AgentReleased {
        /// The agent.
        agent: AgentId,
    },
    /// The call is over, or left the queue for good; forget it.
    Gone,
    /// The caller asked for a callback: `new` takes over their place.
    Callback {
        /// The callback's call id.
        new: CallId,
        /// The number to call back.
        number: String,
        /// The queue.
        queue: QueueId,
        /// Due by, epoch ms.
        deadline_ms: i64,
        /// The owner of the caller's open case: the callback is theirs.
        owner: Option<OwnerHint>,
    },
    /// Where does the call stand in its queue (for announcements)?
    AskStatus {
        /// Handle time assumed for a queue without history, ms.
        default_handle_ms: i64,
    },
}

/// What the driver must do for a call, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// 180 Ringing to the caller.
    Ringing,
    /// 200 OK with our SDP to the caller.
    AnswerCaller,
    /// A final error response to the caller's INVITE.
    RejectCaller {
        /// SIP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// BYE (or CANCEL) to the caller / the callback's customer.
    HangUpCaller,
    /// Call the callback's customer (answer: [`Input::Caller`]).
    DialCustomer {
        /// Their number.
        number: String,
    },
    /// INVITE the agent offered (answer: [`Input::Agent`] with `Invited` or
    /// `InviteFailed`, then the phone's answer).
    InviteAgent {
        /// The agent.
        agent: AgentId,
    },
    /// CANCEL or BYE an agent's leg.
    HangUpAgent {
        /// The agent.
        agent: AgentId,
    },
    /// Refresh the customer's session (a re-INVITE; answer: [`Input::Caller`]
    /// with `Refreshed` or `RefreshFailed`).
    RefreshCaller {
        /// The session interval to name, seconds.
        interval_s: u32,
    },
    /// Refresh an agent's session (answer: [`Input::Agent`] with
    /// `Refreshed` or `RefreshFailed`).
    RefreshAgent {
        /// The agent.
        agent: AgentId,
        /// The session interval to name, seconds.
        interval_s: u32,
    },
    /// Play prompts to the caller, the last one looped when `looped`.
    Play {
        /// What, in order.
        prompts: Vec<PromptRef>,
        /// Loop the last one.
        looped: bool,
    },
    /// Bridge the caller with `agent` (None: the caller alone, for a
    /// voicemail), through the recording if one is open.
    Bridge {
        /// The agent whose leg to connect.
        agent: Option<AgentId>,
    },
    /// The caller hears music; the agent hears nothing.
    Hold,
    /// Back from hold.
    Unhold,
    /// A tone only the agent hears.
    ToneToAgent(PromptRef),
    /// Play the recording of an earlier call (held by the driver) to both.
    PlayIntoCall,
    /// Play a prompt to both sides of the bridged call (the agent's number,
    /// the hold-resume and closing phrases); meanwhile they do not hear each
    /// other, and the bridge comes back by itself at its end.
    PlayToBoth(PromptRef),
    /// Open the call's recording (answer: [`Input::RecordingOpened`] or
    /// [`Input::RecordingFailed`]).
    OpenRecording,
    /// Feed the caller's audio to the open recording before a bridge.
    TapRecording,
    /// Write silence instead of the audio (recording paused), or stop that.
    MuteRecording(bool),
    /// Stop feeding the recording.
    StopTap,
    /// Seal the recording (answer: [`Input::RecordingSealed`] or
    /// [`Input::RecordingFailed`]).
    CloseRecording {
        /// The agent on the call (for the manifest).
        agent: Option<AgentId>,
        /// Spans paused on request, epoch ms.
        pauses_ms: Vec<(i64, i64)>,
    },
    /// Free the media ports (a callback between attempts).
    ReleaseMedia,
    /// 180 Ringing to the agent who dials out.
    AgentRinging {
        /// The agent.
        agent: AgentId,
    },
    /// 200 OK to the INVITE of the agent who dials out.
    AnswerAgent {
        /// The agent.
        agent: AgentId,
    },
    /// A final error response to the INVITE of the agent who dials out.
    RejectAgent {
        /// The agent.
        agent: AgentId,
        /// SIP status.
        status: u16,
        /// Reason phrase (phones show it).
        reason: String,
    },
    /// Ring the supervisor's phone for monitoring, with an offer for a
    /// third media leg (answer: [`Input::Supervisor`]).
    InviteSupervisor {
        /// The supervisor's phone (SIP account).
        supervisor: String,
    },
    /// 200 OK to the supervisor's own INVITE (a feature code), the monitor
    /// leg's port in the SDP (answer: [`Input::Supervisor`] `Answered`).
    AnswerSupervisor,
    /// The supervisor answered: connect their media leg in `mode`.
    JoinMonitor {
        /// How they take part.
        mode: MonitorMode,
    },
    /// Switch the joined monitor leg's mode.
    SetMonitorMode(MonitorMode),
    /// Remove the monitor leg from the media; BYE (or CANCEL, or a refusal
    /// of their own INVITE) to the supervisor when `hang_up`.
    EndMonitor {
        /// The supervisor's leg is still up and must be ended.
        hang_up: bool,
    },
    /// Has the caller made a sound since the engine answered? (answer:
    /// [`Input::SilenceChecked`]).
    CheckSilence,
    /// Did RTP come from each side since the last check? (answer:
    /// [`Input::MediaChecked`]; the first check of a call starts counting).
    CheckMedia,
    /// Tell the controller.
    Tell(ToController),
    /// Write this event to the log and the live feed.
    Emit(CallEvent),
    /// The answer to an [`Input::Control`].
    Reply {
        /// The token of the request.
        token: u64,
        /// The call after the action, or why not.
        result: Result<TalkingCall, ControlError>,
    },
    /// The call is over: its CDR, derived from its events. The last command.
    Finished(Box<Cdr>),
}

/// Where the call is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before an agent: IVR menu, queued, agents ringing (inbound calls and
    /// transferred callers).
    Waiting,
    /// A callback waiting for its turn or for its next attempt.
    CallbackWaiting,
    /// Click-to-call: the agent's phone rings before the customer is dialled.
    CallingAgent {
        /// The agent rung.
        agent: AgentId,
    },
    /// A callback's agent answered; the customer's phone rings.
    Dialling {
        /// The agent waiting for the customer.
        agent: AgentId,
    },
    /// An agent talks to the customer.
    Talking,
    /// A message plays, then the call ends (blacklist, silent line, closed,
    /// callback confirmation) or goes on to voicemail.
    Message,
    /// The caller leaves a message.
    Voicemail,
    /// Over: waiting for the recording to be sealed.
    Closing,
    /// Over.
    Done,
}

/// An agent leg that is ringing.
#[derive(Clone, Debug)]
struct Ring {
    agent: AgentId,
    /// Ring timeout (set once the INVITE went out).
    deadline: Option<i64>,
    offered_ms: i64,
}

/// The talking part of a call with one agent.
#[derive(Clone, Debug)]
struct Talk {
    agent: AgentId,
    answered_ms: i64,
    held_since: Option<i64>,
    paused_since: Option<i64>,
    limits: LimitClock,
}

/// The IVR menu while the caller has not chosen.
#[derive(Clone, Debug)]
struct MenuState {
    plays_left: u32,
    /// When the current play times out (None until it first plays).
    deadline: Option<i64>,
}

/// What follows a message.
#[derive(Clone, Debug, PartialEq)]
enum AfterMessage {
    /// Hang up, then end with these events.
    HangUp(Vec<EventKind>),
    /// The closed message ended: the closed treatment.
    Closed(ClosedTreatment),
    /// The voicemail greeting and beep ended: record.
    RecordVoicemail,
}

/// What to do once a recording asked for is open (or failed).
#[derive(Clone, Debug, PartialEq, Eq)]
enum OnRecording {
    /// The engine answered: tap it, then the system answer goes on.
    SystemAnswer,
    /// An agent answered: bridge and start talking.
    Connect,
    /// The voicemail: bridge and record.
    Voicemail,
    /// Started on request: reply to this token.
    OnRequest { token: u64, by: String },
}

/// The recording of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Recording {
    None,
    Opening(OnRecording),
    Open,
}

/// Where the call came from.
#[derive(Clone, Debug)]
enum Origin {
    Inbound,
    Callback {
        spec: CallbackSpec,
        /// When to ask the ACD for the next attempt (not queued now).
        retry_at: Option<i64>,
    },
    /// An agent dials a customer.
    Outbound {
        /// The agent (already busy in the ACD).
        agent: AgentId,
        /// The ACD was told the agent is free again.
        released: bool,
        /// Click-to-call: the engine rings the agent's phone first and
        /// dials the customer once the agent answered (else the agent's own
        /// INVITE is answered when the customer answers).
        agent_first: bool,
    },
}

/// One call.
pub struct Call {
    id: CallId,
    cfg: Arc<FlowSettings>,
    env: Arc<dyn Environment>,
    origin: Origin,
    caller: Party,
    arrived_ms: i64,
    phase: Phase,
    queue: Option<QueueId>,
    call_type: CallType,
    vip: bool,
    /// The owner of the caller's open case (rung first).
    owner: Option<OwnerHint>,
    /// The customer's leg is answered (by the engine, or the callback's
    /// customer picked up).
    caller_up: bool,
    /// The engine answered at the ring target (inbound).
    system_answered: bool,
    answer_at: Option<i64>,
    menu: Option<MenuState>,
    silence_at: Option<i64>,
    announce_at: Option<i64>,
    asked_status: bool,
    ringing: Vec<Ring>,
    /// Agent legs to hang up at a time (after a REFER was accepted).
    releasing: Vec<(AgentId, i64)>,
    message_until: Option<(i64, AfterMessage)>,
    voicemail_until: Option<i64>,
    voicemail_started: i64,
    /// The customer's phone rings until then (callbacks, outbound calls).
    give_up_at: Option<i64>,
    talk: Option<Talk>,
    /// The next media check of a talking call, and how many checks in a
    /// row found each side (caller, agent) without RTP.
    media_check_at: Option<i64>,
    media_idle: (u32, u32),
    /// The agent's closing hang-up: the line is cleared then (after the
    /// closing phrase).
    close_at: Option<i64>,
    /// Who answered last (the agent of the recording's manifest).
    last_agent: Option<AgentId>,
    recording: Recording,
    pauses_ms: Vec<(i64, i64)>,
    /// Events to write after the recording is sealed, then the end.
    closing_events: Vec<(Option<AgentId>, EventKind)>,
    /// When the call ended (the BYE, the abandon, the last message): the
    /// time of the closing events, however long the sealing takes after it.
    ended_at: Option<i64>,
    /// A supervisor monitoring the call (ringing or joined).
    monitor: Option<monitor::Monitoring>,
    /// The session timers (RFC 4028) of the customer's leg and of the
    /// talking agent's leg.
    caller_session: Option<SessionTimer>,
    agent_session: Option<(AgentId, SessionTimer)>,
    events: Vec<CallEvent>,
    out: VecDeque<Command>,
}

impl Call {
    fn new(
        id: CallId,
        cfg: Arc<FlowSettings>,
        env: Arc<dyn Environment>,
        origin: Origin,
        caller: Party,
        now: i64,
    ) -> Self {
        Call {
            id,
            cfg,
            env,
            origin,
            caller,
            arrived_ms: now,
            phase: Phase::Waiting,
            queue: None,
            call_type: CallType::default(),
            vip: false,
            owner: None,
            caller_up: false,
            system_answered: false,
            answer_at: None,
            menu: None,
            silence_at: None,
            announce_at: None,
            asked_status: false,
            ringing: Vec::new(),
            releasing: Vec::new(),
            close_at: None,
            message_until: None,
            voicemail_until: None,
            voicemail_started: now,
            give_up_at: None,
            talk: None,
            media_check_at: None,
            media_idle: (0, 0),
            last_agent: None,
            recording: Recording::None,
            pauses_ms: Vec::new(),
            closing_events: Vec::new(),
            ended_at: None,
            monitor: None,
            caller_session: None,
            agent_session: None,
            events: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// A caller's INVITE reached the hotline at `now`: screening (number,
    /// offer, blacklist, open hours), then the menu or the queue.
    pub fn inbound(
        id: CallId,
        cfg: Arc<FlowSettings>,
        env: Arc<dyn Environment>,
        inbound: Inbound,
        now: i64,
    ) -> Self {
        let mut c = Call::new(id, cfg, env, Origin::Inbound, inbound.caller.clone(), now);
        c.vip = inbound.vip;
        c.owner = inbound.owner;
        c.emit(
            now,
            None,
            EventKind::Arrived {
                caller: inbound.caller,
                dialled: inbound.dialled.clone(),
                call_type: CallType::default(),
            },
        );
        if !c.cfg.numbers.iter().any(|n| n == &inbound.dialled) {
            c.reject(now, 404, "not a hotline number");
            return c;
        }
        if let Err((status, reason)) = inbound.media {
            c.reject(now, status, &reason);
            return c;
        }
        let answer_after = c
            .cfg
            .cadence
            .end_of_ring_ms(c.cfg.answer_after_rings)
            .max(0);
        c.answer_at = Some(now + answer_after);
        if let Some(hit) = inbound.blacklisted {
            c.emit(
                now,
                None,
                EventKind::Blacklisted {
                    entry: hit.entry,
                    action: hit.action,
                    reason: hit.reason,
                },
            );
            match hit.queue {
                None => {
                    c.refuse_blacklisted(now);
                    return c;
                }
                Some(q) => {
                    c.push(Command::Ringing);
                    c.route(
                        now,
                        Route {
                            call_type: CallType::default(),
                            queue: q,
                            language: None,
                        },
                    );
                }
            }
        } else if !c.env.is_open(&c.cfg.queue, now) {
            // the center is closed: no menu, straight to the closed treatment
            c.queue = Some(c.cfg.queue.clone());
            c.closed(now);
        } else {
            c.push(Command::Ringing);
            match &c.cfg.ivr {
                Some(ivr) => {
                    c.menu = Some(MenuState {
                        plays_left: ivr.tries.max(1),
                        deadline: None,
                    })
                }
                None => {
                    let q = c.cfg.queue.clone();
                    c.route(
                        now,
                        Route {
                            call_type: CallType::default(),
                            queue: q,
                            language: None,
                        },
                    );
                }
            }
        }
        c
    }

    /// A callback: waits for its turn in the queue (or for the queue to
    /// open), rings the agent, then calls the customer back.
    pub fn callback(
        id: CallId,
        cfg: Arc<FlowSettings>,
        env: Arc<dyn Environment>,
        spec: CallbackSpec,
        now: i64,
    ) -> Self {
        let caller = Party {
            number: spec.number.clone(),
            display: None,
        };
        let resumed = spec.resumed;
        let queued = spec.queued;
        let requested_ms = spec.requested_ms;
        let queue = spec.queue.clone();
        let arrived = CallEvent {
            at_ms: requested_ms,
            call_id: Some(id.clone()),
            agent: None,
            queue: Some(queue.clone()),
            kind: EventKind::Arrived {
                caller: caller.clone(),
                dialled: "callback".into(),
                call_type: CallType::Callback,
            },
        };
        let origin = Origin::Callback {
            spec,
            retry_at: (!queued).then_some(now),
        };
        let owner = match &origin {
            Origin::Callback { spec, .. } => spec.owner.clone(),
            _ => None,
        };
        let mut c = Call::new(id, cfg, env, origin, caller, requested_ms);
        c.owner = owner;
        c.phase = Phase::CallbackWaiting;
        c.queue = Some(queue);
        c.call_type = CallType::Callback;
        if resumed {
            // its `arrived` is in the log already: known for the CDR only
            c.events.push(arrived);
        } else {
            c.emit(now, None, arrived.kind);
        }
        c
    }

    /// The call's id.
    pub fn id(&self) -> &CallId {
        &self.id
    }

    /// Where the call is now.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The queue the call is in (None before routing).
    pub fn queue(&self) -> Option<&QueueId> {
        self.queue.as_ref()
    }

    /// The agent talking on the call, if any.
    pub fn agent(&self) -> Option<&AgentId> {
        self.talk.as_ref().map(|t| &t.agent)
    }

    /// The events written so far, oldest first.
    pub fn events(&self) -> &[CallEvent] {
        &self.events
    }

    /// Over: no more inputs are taken.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next command for the driver.
    pub fn poll_command(&mut self) -> Option<Command> {
        let c = self.out.pop_front();
        if c.is_none() && self.out.capacity() > 0 {
            // drained: a call lives minutes between bursts of commands; the
            // queue's room (a command is a few hundred bytes) is given back
            // instead of kept for the call's life (issue 19)
            self.out = VecDeque::new();
        }
        c
    }

    /// When the call next wants [`Call::handle_timeout`], epoch ms.
    pub fn poll_timeout(&self) -> Option<i64> {
        let mut t: Vec<Option<i64>> = vec![
            self.message_until.as_ref().map(|(t, _)| *t),
            self.voicemail_until,
            self.releasing.iter().map(|(_, t)| *t).min(),
            self.monitor_deadline(),
        ];
        if !matches!(self.phase, Phase::Closing | Phase::Done) {
            t.push(self.caller_session.as_ref().map(SessionTimer::next));
            t.push(self.agent_session.as_ref().map(|(_, s)| s.next()));
        }
        match &self.phase {
            Phase::Waiting => {
                if !self.system_answered && matches!(self.origin, Origin::Inbound) {
                    t.push(self.answer_at);
                }
                t.push(self.menu.as_ref().and_then(|m| m.deadline));
                t.push(self.silence_at);
                if self.ringing.is_empty() && !self.asked_status {
                    t.push(self.announce_at);
                }
                t.push(self.ringing.iter().filter_map(|r| r.deadline).min());
            }
            Phase::Talking => {
                t.push(self.talk.as_ref().and_then(|x| x.limits.next()));
                t.push(self.media_check_at);
                t.push(self.close_at);
            }
            Phase::CallbackWaiting => {
                t.push(self.ringing.iter().filter_map(|r| r.deadline).min());
            }
            Phase::Dialling { .. } | Phase::CallingAgent { .. } => t.push(self.give_up_at),
            _ => {}
        }
        if let Origin::Callback { spec, retry_at } = &self.origin {
            if matches!(self.phase, Phase::CallbackWaiting) {
                t.push(Some(spec.deadline_ms));
                t.push(*retry_at);
            }
        }
        t.into_iter().flatten().min()
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: i64, input: Input) {
        if self.phase == Phase::Done {
            if let Input::Control { token, .. } = input {
                self.push(Command::Reply {
                    token,
                    result: Err(ControlError::NoCall(format!("call {} has ended", self.id))),
                });
            }
            return;
        }
        match input {
            Input::Caller(ev) if ev.is_session() => self.on_session(now, None, ev),
            Input::Agent { agent, event } if event.is_session() => {
                self.on_session(now, Some(agent), event)
            }
            Input::Caller(ev) => self.on_caller(now, ev),
            Input::Digit(d) => self.on_digit(now, d),
            Input::Agent { agent, event } => self.on_agent(now, agent, event),
            Input::Offer { agent } => self.on_offer(now, agent),
            Input::Refused { reason } => self.on_refused(now, reason),
            Input::Moved { queue } => {
                if let Origin::Callback { spec, .. } = &mut self.origin {
                    spec.queue = queue.clone();
                }
                self.queue = Some(queue);
            }
            Input::ToVoicemail => {
                if matches!(self.phase, Phase::Waiting) {
                    self.voicemail(now);
                }
            }
            Input::QueueStatus {
                position,
                expected_wait_ms,
            } => self.on_status(now, position, expected_wait_ms),
            Input::MediaChecked { caller, agent } => self.on_media_checked(now, caller, agent),
            Input::SilenceChecked { heard } => {
                if !heard && self.phase == Phase::Waiting {
                    self.silent_line(now);
                }
            }
            Input::RecordingOpened { path } => self.on_recording(now, Ok(path)),
            Input::RecordingFailed { reason } => self.on_recording(now, Err(reason)),
            Input::RecordingSealed(s) => {
                let agent = self.last_agent.clone();
                self.emit(
                    now,
                    agent.as_ref(),
                    EventKind::RecordingClosed {
                        path: s.path,
                        sha256: s.sha256,
                        samples: s.samples,
                        gaps: s.gaps,
                        gap_samples: s.gap_samples,
                    },
                );
                self.after_seal(now);
            }
            Input::Supervisor(ev) => self.on_supervisor(now, ev),
            Input::Control { token, action, by } => self.on_control(now, token, action, by),
            Input::Shutdown => self.shutdown(now),
            Input::StepDown => self.step_down(now),
        }
    }

    /// Wakes the call at (or after) [`Call::poll_timeout`].
    pub fn handle_timeout(&mut self, now: i64) {
        // agent legs let go after a REFER
        let (due, keep): (Vec<_>, Vec<_>) = self.releasing.drain(..).partition(|(_, t)| *t <= now);
        self.releasing = keep;
        for (agent, _) in due {
            self.push(Command::HangUpAgent { agent });
        }
        self.monitor_timeout(now);
        if self.session_timeout(now) {
            return;
        }
        if let Some((until, _)) = &self.message_until {
            if *until <= now {
                if let Some((_, after)) = self.message_until.take() {
                    self.message_ended(now, after);
                }
                return;
            }
        }
        if self.voicemail_until.is_some_and(|t| t <= now) {
            self.voicemail_until = None;
            if self.phase == Phase::Voicemail {
                self.push(Command::HangUpCaller);
                self.end_voicemail(now);
            }
            return;
        }
        match self.phase.clone() {
            Phase::Waiting => self.waiting_timeout(now),
            Phase::Talking => {
                if self.close_at.is_some_and(|t| t <= now) {
                    self.close_at = None;
                    self.clear_line(now);
                    return;
                }
                if self.media_check_at.is_some_and(|t| t <= now) {
                    self.media_check_at = Some(now + self.media_step_ms());
                    self.push(Command::CheckMedia);
                }
                let Some(talk) = self.talk.as_mut() else {
                    return;
                };
                let mut fired = Vec::new();
                while let Some(kind) = talk.limits.fire(now) {
                    fired.push(kind);
                }
                let agent = talk.agent.clone();
                for kind in fired {
                    if self.cfg.limit_tone {
                        let exceeded = matches!(kind, EventKind::LimitExceeded { .. });
                        self.push(Command::ToneToAgent(PromptRef::LimitTone { exceeded }));
                    }
                    self.emit(now, Some(&agent), kind);
                }
            }
            Phase::CallbackWaiting => self.callback_timeout(now),
            Phase::Dialling { agent } if self.give_up_at.is_some_and(|t| t <= now) => {
                self.give_up_at = None;
                self.push(Command::HangUpCaller);
                self.customer_missed(now, agent, 480, "no answer".into());
            }
            Phase::CallingAgent { agent } if self.give_up_at.is_some_and(|t| t <= now) => {
                self.give_up_at = None;
                self.push(Command::HangUpAgent {
                    agent: agent.clone(),
                });
                self.agent_first_failed(now, agent, 408, "the agent did not answer".into());
            }
            _ => {}
        }
    }

    // ---- outputs ----------------------------------------------------------

    fn push(&mut self, c: Command) {
        self.out.push_back(c);
    }

    fn tell(&mut self, m: ToController) {
        self.push(Command::Tell(m));
    }

    fn emit(&mut self, now: i64, agent: Option<&AgentId>, kind: EventKind) {
        let e = CallEvent {
            at_ms: now,
            call_id: Some(self.id.clone()),
            agent: agent.cloned(),
            queue: self.queue.clone(),
            kind,
        };
        if self.events.len() == self.events.capacity() {
            // a call has about ten events: grow by four, not by doubling
            // (which leaves up to half of a few KiB unused for the call's life)
            self.events.reserve_exact(4);
        }
        self.events.push(e.clone());
        self.push(Command::Emit(e));
    }

    fn ring_result(&mut self, agent: AgentId, result: RingResult) {
        self.tell(ToController::RingResult { agent, result });
    }

    fn play(&mut self, prompts: Vec<PromptRef>, looped: bool) {
        self.push(Command::Play { prompts, looped });
    }

    fn prompt_ms(&self, p: &PromptRef) -> i64 {
        self.env.prompt_ms(p).unwrap_or(0).max(0)
    }

    // ---- the end ------------------------------------------------------------

    /// Ends the call: seal the recording if one is open, then the closing
    /// events and the CDR.
    fn end(&mut self, now: i64, closing: Vec<(Option<AgentId>, EventKind)>) {
        self.end_monitor(now, "call ended", true);
        self.caller_session = None;
        self.agent_session = None;
        self.ringing.clear();
        self.menu = None;
        self.silence_at = None;
        self.announce_at = None;
        self.answer_at = None;
        self.message_until = None;
        self.voicemail_until = None;
        self.closing_events = closing;
        self.ended_at.get_or_insert(now);
        match self.recording {
            Recording::Open => {
                self.recording = Recording::None;
                self.phase = Phase::Closing;
                let pauses_ms = std::mem::take(&mut self.pauses_ms);
                self.push(Command::StopTap);
                self.push(Command::CloseRecording {
                    agent: self.last_agent.clone(),
                    pauses_ms,
                });
            }
            _ => self.after_seal(now),
        }
    }

    fn after_seal(&mut self, now: i64) {
        if self.phase == Phase::Done {
            return;
        }
        // the closing events (the outcome) are dated when the call ended,
        // not when the recording's seal (fsync, hash, signature) came back:
        // under load that is seconds later, and the CDR's end follows them
        let ended_at = self.ended_at.unwrap_or(now);
        for (agent, kind) in std::mem::take(&mut self.closing_events) {
            self.emit(ended_at, agent.as_ref(), kind);
        }
        // releasing agents are hung up now: nothing waits any more
        for (agent, _) in std::mem::take(&mut self.releasing) {
            self.push(Command::HangUpAgent { agent });
        }
        self.phase = Phase::Done;
        let cdr = Cdr::from_events(&self.events);
        if let Some(cdr) = cdr {
            self.push(Command::Finished(Box::new(cdr)));
        }
    }

    /// Ends a call the hotline cannot serve: the error response before an
    /// answer, else a BYE; a `rejected` event either way.
    fn refuse(&mut self, now: i64, status: u16, reason: &str) {
        if !self.caller_up {
            return self.reject(now, status, reason);
        }
        self.push(Command::HangUpCaller);
        let reason = reason.to_string();
        self.emit(now, None, EventKind::Rejected { status, reason });
        self.end(now, Vec::new());
    }

    fn reject(&mut self, now: i64, status: u16, reason: &str) {
        self.push(Command::RejectCaller {
            status,
            reason: reason.to_string(),
        });
        self.emit(
            now,
            None,
            EventKind::Rejected {
                status,
                reason: reason.to_string(),
            },
        );
        self.end(now, Vec::new());
    }

    /// Plays `message` to the answered caller, then hangs up and ends with
    /// `then` (the caller may hang up first: same end).
    fn message_then_hang_up(&mut self, now: i64, message: PromptRef, then: Vec<EventKind>) {
        let ms = self.prompt_ms(&message);
        self.play(vec![message], false);
        self.phase = Phase::Message;
        self.message_until = Some((now + ms + AFTER_MESSAGE_MS, AfterMessage::HangUp(then)));
    }

    fn message_ended(&mut self, now: i64, after: AfterMessage) {
        match after {
            AfterMessage::HangUp(then) => {
                self.push(Command::HangUpCaller);
                self.end(now, then.into_iter().map(|k| (None, k)).collect());
            }
            AfterMessage::Closed(ClosedTreatment::Voicemail) => self.voicemail(now),
            AfterMessage::Closed(_) => self.accept_callback(now),
            AfterMessage::RecordVoicemail => {
                self.phase = Phase::Voicemail;
                if self.recording == Recording::Open {
                    self.start_voicemail(now);
                } else {
                    self.recording = Recording::Opening(OnRecording::Voicemail);
                    self.push(Command::OpenRecording);
                }
            }
        }
    }

    /// The caller went away during a message.
    fn caller_left_message(&mut self, now: i64) {
        let Some((_, after)) = self.message_until.take() else {
            return;
        };
        match after {
            AfterMessage::HangUp(then) => {
                self.end(now, then.into_iter().map(|k| (None, k)).collect());
            }
            AfterMessage::Closed(_) | AfterMessage::RecordVoicemail => {
                // left before the voicemail tone (or the callback)
                self.left_before_the_tone(now);
            }
        }
    }

    /// The caller hung up before a voicemail (or a callback) took them: an
    /// abandon without a wait in a queue.
    fn left_before_the_tone(&mut self, now: i64) {
        self.emit(
            now,
            None,
            EventKind::Abandoned {
                wait_ms: 0,
                position: 0,
            },
        );
        self.end(now, Vec::new());
    }

    fn step_down(&mut self, now: i64) {
        let ringing_here = self.phase == Phase::Waiting
            && !self.caller_up
            && self.ringing.is_empty()
            && matches!(self.origin, Origin::Inbound);
        if ringing_here {
            tracing::info!("node standby: the ringing caller is refused 503 for the active node");
            self.reject(now, 503, STEP_DOWN_REASON);
        }
    }

    fn shutdown(&mut self, now: i64) {
        match self.phase {
            Phase::Closing | Phase::Done => {}
            _ => {
                self.let_go_of_agents(RingResult::CallerGone);
                if let Some(t) = self.talk.take() {
                    self.push(Command::HangUpAgent { agent: t.agent });
                }
                match (self.phase.clone(), &self.origin) {
                    // the agent's phone answered (or rings for) the engine's call
                    (
                        Phase::Dialling { agent } | Phase::CallingAgent { agent },
                        Origin::Outbound {
                            agent_first: true, ..
                        },
                    ) => self.push(Command::HangUpAgent { agent }),
                    // the agent's own INVITE waits for its answer
                    (Phase::Dialling { agent }, Origin::Outbound { .. }) => {
                        self.push(Command::RejectAgent {
                            agent,
                            status: 503,
                            reason: "shutting down".into(),
                        })
                    }
                    _ => {}
                }
                if self.caller_up || self.phase == Phase::Talking {
                    self.push(Command::HangUpCaller);
                } else if matches!(self.origin, Origin::Inbound) {
                    self.push(Command::RejectCaller {
                        status: 503,
                        reason: "shutting down".into(),
                    });
                }
                self.end(
                    now,
                    vec![(
                        None,
                        EventKind::Failed {
                            reason: "the engine stopped".into(),
                        },
                    )],
                );
            }
        }
    }

    // ---- screening and routing ---------------------------------------------

    fn refuse_blacklisted(&mut self, now: i64) {
        if self.env.prompt_ms(&PromptRef::Blacklisted).is_none() {
            self.reject(now, 603, "blacklisted");
            return;
        }
        self.push(Command::AnswerCaller);
        self.caller_up = true;
        self.message_then_hang_up(
            now,
            PromptRef::Blacklisted,
            vec![EventKind::Rejected {
                status: 603,
                reason: "blacklisted".into(),
            }],
        );
    }

    fn route(&mut self, now: i64, route: Route) {
        let request = CallRequest {
            priority: if self.vip { VIP_PRIORITY } else { 0 },
            skills: route
                .language
                .into_iter()
                .map(|skill| SkillNeed {
                    skill,
                    min_level: 1,
                })
                .collect(),
            preferred: self.owner.as_ref().map(|o| PreferredAgent {
                agent: o.agent.clone(),
                until_ms: now.saturating_add(o.wait_ms),
            }),
        };
        self.queue = Some(route.queue.clone());
        self.call_type = route.call_type;
        if !self.env.is_open(&route.queue, now) {
            self.closed(now);
            return;
        }
        self.tell(ToController::Enqueue {
            queue: route.queue,
            request,
        });
    }

    fn choose(&mut self, now: i64, digit: Option<char>, route: Route) {
        self.menu = None;
        self.emit(
            now,
            None,
            EventKind::IvrChoice {
                digit: digit.map(String::from).unwrap_or_default(),
                call_type: route.call_type,
                language: route.language.clone(),
            },
        );
        self.play(vec![PromptRef::Music], true);
        self.route(now, route);
    }

    fn menu_key(&mut self, now: i64, digit: char) {
        let Some(ivr) = self.cfg.ivr.clone() else {
            return;
        };
        match ivr.options.get(&digit) {
            Some(route) => self.choose(now, Some(digit), route.clone()),
            None => {
                self.emit(
                    now,
                    None,
                    EventKind::IvrInvalid {
                        digit: digit.to_string(),
                    },
                );
                if self.menu.as_ref().is_some_and(|m| m.deadline.is_some()) {
                    self.menu_timeout(now);
                }
                // else: the menu has not played yet; it will, in full
            }
        }
    }

    fn menu_timeout(&mut self, now: i64) {
        let Some(ivr) = self.cfg.ivr.clone() else {
            return;
        };
        let Some(m) = self.menu.as_mut() else { return };
        m.plays_left = m.plays_left.saturating_sub(1);
        if m.plays_left == 0 {
            self.choose(now, None, ivr.default.clone());
            return;
        }
        let ms = self.prompt_ms(&PromptRef::Menu);
        if let Some(m) = self.menu.as_mut() {
            m.deadline = Some(now + ms + ivr.timeout_ms.max(0));
        }
        self.play(vec![PromptRef::Menu], false);
    }

    /// The caller's queue is closed: the closed message if there is one,
    /// then the closed treatment; else 480 before the answer.
    fn closed(&mut self, now: i64) {
        self.emit(now, None, EventKind::QueueClosed {});
        self.let_go_of_agents(RingResult::CallerGone);
        self.tell(ToController::Gone);
        let number_ok = crate::dialable(&self.caller.number);
        let treatment = match self.cfg.closed_treatment {
            ClosedTreatment::Voicemail if self.cfg.voicemail_max_ms.is_some() => {
                ClosedTreatment::Voicemail
            }
            ClosedTreatment::Callback if self.cfg.callback.is_some() && number_ok => {
                ClosedTreatment::Callback
            }
            _ => ClosedTreatment::Message,
        };
        let message = self.env.prompt_ms(&PromptRef::Closed).is_some();
        let closed_event = EventKind::Rejected {
            status: 480,
            reason: "closed".into(),
        };
        if treatment == ClosedTreatment::Message && !message {
            return self.refuse(now, 480, "closed");
        }
        if !self.caller_up {
            self.push(Command::AnswerCaller);
            self.caller_up = true;
        }
        if treatment == ClosedTreatment::Message {
            self.message_then_hang_up(now, PromptRef::Closed, vec![closed_event]);
            return;
        }
        if message {
            let ms = self.prompt_ms(&PromptRef::Closed);
            self.play(vec![PromptRef::Closed], false);
            self.phase = Phase::Message;
            self.message_until = Some((now + ms, AfterMessage::Closed(treatment)));
        } else {
            self.message_ended(now, AfterMessage::Closed(treatment));
        }
    }

    // ---- waiting ----------------------------------------------------------------

    fn waiting_timeout(&mut self, now: i64) {
        if !self.system_answered
            && matches!(self.origin, Origin::Inbound)
            && self.answer_at.is_some_and(|t| t <= now)
        {
            self.system_answer(now);
            return;
        }
        if self
            .menu
            .as_ref()
            .and_then(|m| m.deadline)
            .is_some_and(|t| t <= now)
        {
            self.menu_timeout(now);
        }
        if self.silence_at.is_some_and(|t| t <= now) {
            self.silence_at = None;
            self.push(Command::CheckSilence);
        }
        if self.ringing.is_empty()
            && !self.asked_status
            && self.announce_at.is_some_and(|t| t <= now)
        {
            self.announce(now);
        }
        self.ring_timeouts(now);
    }

    fn ring_timeouts(&mut self, now: i64) {
        let (due, keep): (Vec<Ring>, Vec<Ring>) = self
            .ringing
            .drain(..)
            .partition(|r| r.deadline.is_some_and(|d| d <= now));
        self.ringing = keep;
        for r in due {
            let rang_ms = now - r.offered_ms;
            self.push(Command::HangUpAgent {
                agent: r.agent.clone(),
            });
            self.emit(
                now,
                Some(&r.agent),
                EventKind::AgentRingNoAnswer { rang_ms },
            );
            self.ring_result(r.agent, RingResult::NoAnswer);
            self.agent_attempt_over();
        }
    }

    fn system_answer(&mut self, now: i64) {
        self.system_answered = true;
        self.caller_up = true;
        self.push(Command::AnswerCaller);
        if self.cfg.record_queue && self.recording == Recording::None {
            self.recording = Recording::Opening(OnRecording::SystemAnswer);
            self.push(Command::OpenRecording);
            return;
        }
        self.system_answer_goes_on(now);
    }

    fn system_answer_goes_on(&mut self, now: i64) {
        let rings = self.cfg.answer_after_rings;
        self.emit(now, None, EventKind::SystemAnswered { rings });
        if self.cfg.silent_line_ms > 0 {
            self.silence_at = Some(now + self.cfg.silent_line_ms);
        }
        let greeting = self.env.greeting(now);
        let greeting_ms = self.prompt_ms(&greeting);
        if let Some(a) = self.cfg.announcements {
            self.announce_at = Some(now + greeting_ms + a.every_ms.max(1000));
        }
        match (self.menu.is_some(), self.cfg.ivr.clone()) {
            (true, Some(ivr)) => {
                let until = greeting_ms + self.prompt_ms(&PromptRef::Menu);
                self.play(vec![greeting.clone(), PromptRef::Menu], false);
                if let Some(m) = self.menu.as_mut() {
                    m.deadline = Some(now + until + ivr.timeout_ms.max(0));
                }
            }
            _ => self.play(vec![greeting.clone(), PromptRef::Music], true),
        }
        self.emit(
            now,
            None,
            EventKind::PromptStarted {
                prompt: self.env.prompt_name(&greeting),
            },
        );
    }

    fn announce(&mut self, now: i64) {
        let Some(a) = self.cfg.announcements else {
            return;
        };
        if self.menu.is_some() || self.queue.is_none() {
            self.announce_at = Some(now + a.every_ms.max(1000));
            return;
        }
        self.asked_status = true;
        self.tell(ToController::AskStatus {
            default_handle_ms: a.default_handle_ms,
        });
    }

    fn on_status(&mut self, now: i64, position: Option<u32>, expected_wait_ms: Option<i64>) {
        self.asked_status = false;
        let Some(a) = self.cfg.announcements else {
            return;
        };
        let every = a.every_ms.max(1000);
        if self.phase != Phase::Waiting || !self.ringing.is_empty() || position.is_none() {
            // not waiting any more (an agent is being offered the call)
            self.announce_at = Some(now + every);
            return;
        }
        let mut prompts = Vec::new();
        let words = PromptRef::Announcement {
            position,
            expected_wait_ms,
        };
        if self.env.prompt_ms(&words).is_some() {
            prompts.push(words);
        }
        if self.cfg.callback.is_some() && self.env.prompt_ms(&PromptRef::CallbackOffer).is_some() {
            prompts.push(PromptRef::CallbackOffer);
        }
        if prompts.is_empty() {
            self.announce_at = Some(now + every);
            return;
        }
        let spoken: i64 = prompts.iter().map(|p| self.prompt_ms(p)).sum();
        self.emit(
            now,
            None,
            EventKind::Announced {
                position,
                expected_wait_ms,
            },
        );
        prompts.push(PromptRef::Music);
        self.play(prompts, true);
        self.announce_at = Some(now + spoken + every);
    }

    fn on_digit(&mut self, now: i64, digit: char) {
        if self.phase != Phase::Waiting || !matches!(self.origin, Origin::Inbound) {
            return;
        }
        self.silence_at = None;
        if self.menu.is_some() {
            self.menu_key(now, digit);
        } else if self.wants_callback(digit) {
            self.accept_callback(now);
        }
    }

    /// Is `digit` a callback request the engine can honour now (the caller
    /// waits in a queue after the engine answered, and can be dialled)?
    fn wants_callback(&self, digit: char) -> bool {
        let Some(cb) = &self.cfg.callback else {
            return false;
        };
        digit == cb.key
            && self.system_answered
            && self.queue.is_some()
            && crate::dialable(&self.caller.number)
    }

    /// The caller asked to be called back: confirm, hang up, and hand the
    /// place in the queue to a callback (a call of its own).
    fn accept_callback(&mut self, now: i64) {
        let (Some(cb), Some(queue)) = (self.cfg.callback.clone(), self.queue.clone()) else {
            return;
        };
        self.let_go_of_agents(RingResult::CallerGone);
        let deadline_ms = now + cb.deadline_ms;
        let callback = CallId::generate(now);
        let number = self.caller.number.clone();
        self.emit(
            now,
            None,
            EventKind::CallbackRequested {
                number: number.clone(),
                callback: callback.clone(),
                deadline_ms,
            },
        );
        self.tell(ToController::Callback {
            new: callback,
            number,
            queue,
            deadline_ms,
            // the case owner's customer: their callback waits for the owner
            owner: self.owner.as_ref().map(|o| OwnerHint {
                wait_ms: cb.owner_wait_ms,
                ..o.clone()
            }),
        });
        if self.env.prompt_ms(&PromptRef::CallbackConfirm).is_some() {
            self.message_then_hang_up(now, PromptRef::CallbackConfirm, Vec::new());
        } else {
            self.push(Command::HangUpCaller);
            self.end(now, Vec::new());
        }
    }

    fn silent_line(&mut self, now: i64) {
        let silent_ms = self.cfg.silent_line_ms;
        self.let_go_of_agents(RingResult::CallerGone);
        self.tell(ToController::Gone);
        self.emit(now, None, EventKind::SilentLine { silent_ms });
        let failed = EventKind::Failed {
            reason: "silent line".into(),
        };
        if self.env.prompt_ms(&PromptRef::SilentLine).is_some() {
            self.message_then_hang_up(now, PromptRef::SilentLine, vec![failed]);
        } else {
            self.push(Command::HangUpCaller);
            self.end(now, vec![(None, failed)]);
        }
    }

    fn on_refused(&mut self, now: i64, reason: String) {
        match self.phase {
            Phase::Waiting => {
                self.tell(ToController::Gone);
                self.let_go_of_agents(RingResult::CallerGone);
                self.refuse(now, 486, &reason);
            }
            Phase::CallbackWaiting => self.expire(now),
            _ => {}
        }
    }

    /// Hangs up every ringing agent and tells the controller why.
    fn let_go_of_agents(&mut self, why: RingResult) {
        for r in std::mem::take(&mut self.ringing) {
            self.push(Command::HangUpAgent {
                agent: r.agent.clone(),
            });
            self.ring_result(r.agent, why);
        }
    }

    // ---- offers and agent legs ------------------------------------------------

    fn on_offer(&mut self, now: i64, agent: AgentId) {
        let can_ring = match self.phase {
            Phase::Waiting => true,
            Phase::CallbackWaiting => self.ringing.is_empty(),
            _ => false,
        };
        if !can_ring || self.ringing.iter().any(|r| r.agent == agent) {
            self.ring_result(agent, RingResult::CallerGone);
            return;
        }
        self.ringing.push(Ring {
            agent: agent.clone(),
            deadline: None,
            offered_ms: now,
        });
        self.push(Command::InviteAgent { agent });
    }

    fn on_agent(&mut self, now: i64, agent: AgentId, event: LegInput) {
        if let Some(talk) = &self.talk {
            if talk.agent == agent && self.phase == Phase::Talking {
                return self.talking_agent(now, event);
            }
        }
        if let Phase::CallingAgent { agent: rung } = &self.phase {
            if rung == &agent {
                return self.calling_agent(now, agent, event);
            }
        }
        if let Phase::Dialling { agent: waiting } = &self.phase {
            if waiting == &agent {
                if matches!(event, LegInput::Gone { .. }) {
                    self.push(Command::HangUpCaller);
                    if matches!(self.origin, Origin::Outbound { .. }) {
                        // the agent gave up before the customer answered
                        self.give_up_at = None;
                        self.emit(
                            now,
                            Some(&agent),
                            EventKind::Failed {
                                reason: "the agent hung up before the customer answered".into(),
                            },
                        );
                        self.release_dialler();
                        self.end(now, Vec::new());
                    } else {
                        self.customer_missed(now, agent, 487, "the agent hung up first".into());
                    }
                }
                return;
            }
        }
        let Some(i) = self.ringing.iter().position(|r| r.agent == agent) else {
            return;
        };
        match event {
            // handled in every phase by on_session
            LegInput::SessionTimer { .. }
            | LegInput::Refreshed
            | LegInput::RefreshFailed { .. } => {}
            LegInput::Invited { contact } => {
                let timeout = self.cfg.ring_timeout_ms(self.queue.as_ref());
                self.ringing[i].deadline = Some(now + timeout.max(0));
                self.emit(now, Some(&agent), EventKind::Offered { contact });
            }
            LegInput::InviteFailed { reason } => {
                self.ringing.remove(i);
                self.emit(now, Some(&agent), EventKind::AgentUnreachable { reason });
                self.ring_result(agent, RingResult::Unreachable);
                self.agent_attempt_over();
            }
            LegInput::Answered { usable: true } => {
                self.ringing.remove(i);
                // ring-all: the others stop ringing (not a miss)
                self.let_go_of_agents(RingResult::AnsweredElsewhere);
                self.ring_result(agent.clone(), RingResult::Answered);
                if matches!(self.phase, Phase::CallbackWaiting) {
                    self.agent_ready_for_callback(now, agent);
                } else {
                    self.agent_answered(now, agent);
                }
            }
            LegInput::Answered { usable: false } => {
                self.ringing.remove(i);
                self.push(Command::HangUpAgent {
                    agent: agent.clone(),
                });
                self.emit(now, Some(&agent), EventKind::AgentRejected { status: 488 });
                self.ring_result(agent, RingResult::Rejected);
                self.agent_attempt_over();
            }
            LegInput::Rejected { status } => {
                self.ringing.remove(i);
                self.emit(now, Some(&agent), EventKind::AgentRejected { status });
                self.ring_result(agent, RingResult::Rejected);
                self.agent_attempt_over();
            }
            LegInput::Gone { reason } => {
                self.ringing.remove(i);
                let reason = reason.unwrap_or_else(|| "leg closed".into());
                self.emit(now, Some(&agent), EventKind::AgentUnreachable { reason });
                self.ring_result(agent, RingResult::Unreachable);
                self.agent_attempt_over();
            }
            LegInput::RemoteHold { .. } | LegInput::Refer { .. } => {}
        }
    }

    /// An offer of a callback that did not reach the agent: its media goes
    /// until the next offer.
    fn agent_attempt_over(&mut self) {
        if matches!(self.phase, Phase::CallbackWaiting) && self.ringing.is_empty() {
            self.push(Command::ReleaseMedia);
        }
    }

    /// An agent answered an inbound (or transferred) call: answer the
    /// caller if the engine has not, open the recording, bridge, talk.
    fn agent_answered(&mut self, now: i64, agent: AgentId) {
        if !self.caller_up {
            self.push(Command::AnswerCaller);
            self.caller_up = true;
        }
        self.menu = None;
        self.silence_at = None;
        self.announce_at = None;
        self.start_talking(now, agent);
    }

    /// The agent and the customer are both there: the talking phase starts
    /// (the recording opens first when calls are recorded, then the bridge).
    fn start_talking(&mut self, now: i64, agent: AgentId) {
        self.talk = Some(Talk {
            agent: agent.clone(),
            answered_ms: now,
            held_since: None,
            paused_since: None,
            limits: LimitClock::start(&self.cfg, self.call_type, now),
        });
        self.last_agent = Some(agent);
        self.phase = Phase::Talking;
        if self.recording == Recording::None && self.cfg.record {
            self.recording = Recording::Opening(OnRecording::Connect);
            self.push(Command::OpenRecording);
        } else {
            self.connect(now);
        }
    }

    /// Bridges the agent with the customer and starts the handle-time clock.
    fn connect(&mut self, now: i64) {
        let Some(talk) = self.talk.as_mut() else {
            return;
        };
        talk.answered_ms = now;
        talk.limits = LimitClock::start(&self.cfg, self.call_type, now);
        let agent = talk.agent.clone();
        let limit_ms = talk.limits.limit_ms();
        self.push(Command::Bridge {
            agent: Some(agent.clone()),
        });
        if self.cfg.media_timeout_ms > 0 {
            // the first check takes the counts the next ones compare with
            self.media_idle = (0, 0);
            self.push(Command::CheckMedia);
            self.media_check_at = Some(now + self.media_step_ms());
        }
        let (wait_ms, rings) = match &self.origin {
            Origin::Callback { spec, .. } if !self.system_answered => (now - spec.requested_ms, 0),
            Origin::Outbound { .. } if !self.system_answered => (now - self.arrived_ms, 0),
            _ => {
                let wait_ms = now - self.arrived_ms;
                let rings = if self.system_answered {
                    self.cfg.answer_after_rings
                } else {
                    self.cfg.cadence.rings_heard(wait_ms)
                };
                (wait_ms, rings)
            }
        };
        self.emit(
            now,
            Some(&agent),
            EventKind::AgentAnswered {
                wait_ms,
                rings,
                limit_ms,
            },
        );
        // 报工号: 「1001号客服为您服务」 before they talk (when configured)
        self.play_to_both(now, PromptRef::AgentNumber(agent.to_string()));
    }

    /// Plays `prompt` to both sides of the bridged call if it is configured
    /// (and says so in a `prompt_started` event); false if it is not.
    fn play_to_both(&mut self, now: i64, prompt: PromptRef) -> bool {
        if self.env.prompt_ms(&prompt).is_none_or(|ms| ms <= 0) {
            return false;
        }
        let name = self.env.prompt_name(&prompt);
        let agent = self.talk.as_ref().map(|t| t.agent.clone());
        self.push(Command::PlayToBoth(prompt));
        self.emit(
            now,
            agent.as_ref(),
            EventKind::PromptStarted { prompt: name },
        );
        true
    }

    /// The agent's closing hang-up: both legs are hung up, the call ends as
    /// ended by the agent.
    fn clear_line(&mut self, now: i64) {
        let Some(agent) = self.talk.as_ref().map(|t| t.agent.clone()) else {
            return;
        };
        self.push(Command::HangUpCaller);
        self.push(Command::HangUpAgent { agent });
        self.complete(now, EndedBy::Agent);
    }

    /// Media is checked twice per timeout; two checks in a row without a
    /// packet from one side end the call.
    fn media_step_ms(&self) -> i64 {
        (self.cfg.media_timeout_ms / 2).max(500)
    }

    fn on_media_checked(&mut self, now: i64, caller: bool, agent: bool) {
        let held = self.talk.as_ref().is_none_or(|t| t.held_since.is_some());
        if self.phase != Phase::Talking || held {
            self.media_idle = (0, 0);
            return;
        }
        let bump = |n: u32, flowing: bool| if flowing { 0 } else { n + 1 };
        self.media_idle = (
            bump(self.media_idle.0, caller),
            bump(self.media_idle.1, agent),
        );
        // one side silent for a step while the other sends: one-way audio
        let one_way = match self.media_idle {
            (1, 0) => Some(hotline_core::Side::Caller),
            (0, 1) => Some(hotline_core::Side::Agent),
            _ => None,
        };
        if let Some(side) = one_way {
            let agent = self.talk.as_ref().map(|t| t.agent.clone());
            tracing::info!(?side, "one-way audio: no RTP from one side");
            self.emit(
                now,
                agent.as_ref(),
                EventKind::OneWayAudio {
                    side,
                    idle_ms: self.media_step_ms(),
                },
            );
        }
        let side = match self.media_idle {
            (c, _) if c >= 2 => hotline_core::Side::Caller,
            (_, a) if a >= 2 => hotline_core::Side::Agent,
            _ => return,
        };
        let checks = match side {
            hotline_core::Side::Caller => self.media_idle.0,
            hotline_core::Side::Agent => self.media_idle.1,
        };
        let idle_ms = i64::from(checks) * self.media_step_ms();
        let Some(agent) = self.talk.as_ref().map(|t| t.agent.clone()) else {
            return;
        };
        tracing::warn!(?side, idle_ms, "no RTP from one side: the call is dropped");
        self.media_check_at = None;
        self.emit(now, Some(&agent), EventKind::MediaTimeout { side, idle_ms });
        self.push(Command::HangUpCaller);
        self.push(Command::HangUpAgent { agent });
        self.complete(now, EndedBy::System);
    }

    // ---- session timers (RFC 4028) ----------------------------------------

    /// A session timer input of the customer's leg (`agent` None) or an agent's.
    fn on_session(&mut self, now: i64, agent: Option<AgentId>, ev: LegInput) {
        if matches!(self.phase, Phase::Closing | Phase::Done) {
            return;
        }
        match (ev, agent) {
            (
                LegInput::SessionTimer {
                    interval_ms,
                    we_refresh,
                },
                agent,
            ) => {
                let t = SessionTimer::start(now, interval_ms, we_refresh);
                tracing::debug!(?agent, interval_ms, we_refresh, "session timer armed");
                match agent {
                    None => self.caller_session = Some(t),
                    Some(a) => self.agent_session = Some((a, t)),
                }
            }
            (LegInput::Refreshed, None) => {
                if let Some(t) = self.caller_session.as_mut() {
                    t.refreshed(now);
                }
            }
            (LegInput::Refreshed, Some(a)) => {
                if let Some((_, t)) = self.agent_session.as_mut().filter(|(x, _)| *x == a) {
                    t.refreshed(now);
                }
            }
            (LegInput::RefreshFailed { status }, None) if self.caller_session.is_some() => {
                self.session_expired(now, None, Some(status));
            }
            (LegInput::RefreshFailed { status }, Some(a))
                if self.agent_session.as_ref().is_some_and(|(x, _)| *x == a) =>
            {
                self.session_expired(now, Some(a), Some(status));
            }
            _ => {}
        }
    }

    /// Refreshes that are due; true when a session expired (the call ends).
    fn session_timeout(&mut self, now: i64) -> bool {
        if matches!(self.phase, Phase::Closing | Phase::Done) {
            return false;
        }
        if let Some(t) = self.caller_session.as_mut() {
            match t.due(now) {
                Some(Due::Refresh) => {
                    let interval_s = (t.interval_ms() / 1000) as u32;
                    self.push(Command::RefreshCaller { interval_s });
                }
                Some(Due::Expired) => {
                    self.session_expired(now, None, None);
                    return true;
                }
                None => {}
            }
        }
        if let Some((agent, t)) = self.agent_session.as_mut() {
            let agent = agent.clone();
            match t.due(now) {
                Some(Due::Refresh) => {
                    let interval_s = (t.interval_ms() / 1000) as u32;
                    self.push(Command::RefreshAgent { agent, interval_s });
                }
                Some(Due::Expired) => {
                    self.session_expired(now, Some(agent), None);
                    return true;
                }
                None => {}
            }
        }
        false
    }

    /// A leg's session expired (its far end vanished): a talking call ends
    /// like a dropped one (both legs hung up, ended by the system); a
    /// customer waiting or in a message leaves as if they hung up. The
    /// session of an agent no longer on the call is just forgotten.
    fn session_expired(&mut self, now: i64, agent: Option<AgentId>, status: Option<u16>) {
        let talking = self.talk.as_ref().map(|t| t.agent.clone());
        let (side, interval_ms) = match &agent {
            None => (
                hotline_core::Side::Caller,
                self.caller_session.map(|t| t.interval_ms()),
            ),
            Some(a) => {
                let interval = self.agent_session.as_ref().map(|(_, t)| t.interval_ms());
                if talking.as_ref() != Some(a) || self.phase != Phase::Talking {
                    self.agent_session = None;
                    return;
                }
                (hotline_core::Side::Agent, interval)
            }
        };
        let interval_ms = interval_ms.unwrap_or(0);
        self.caller_session = None;
        self.agent_session = None;
        tracing::warn!(
            ?side,
            interval_ms,
            ?status,
            "session expired: the far end is gone"
        );
        if self.phase == Phase::Talking {
            if let Some(agent) = talking {
                self.media_check_at = None;
                self.emit(
                    now,
                    Some(&agent),
                    EventKind::SessionExpired {
                        side,
                        interval_ms,
                        status,
                    },
                );
                self.push(Command::HangUpCaller);
                self.push(Command::HangUpAgent { agent });
                self.complete(now, EndedBy::System);
                return;
            }
        }
        self.emit(
            now,
            None,
            EventKind::SessionExpired {
                side,
                interval_ms,
                status,
            },
        );
        self.push(Command::HangUpCaller);
        self.on_caller(
            now,
            LegInput::Gone {
                reason: Some("session expired".into()),
            },
        );
    }

    fn on_recording(&mut self, now: i64, result: Result<String, String>) {
        let Recording::Opening(next) = std::mem::replace(&mut self.recording, Recording::None)
        else {
            return;
        };
        let agent = match next {
            OnRecording::SystemAnswer => None,
            _ => self.last_agent.clone(),
        };
        let ok = match result {
            Ok(path) => {
                self.recording = Recording::Open;
                self.emit(now, agent.as_ref(), EventKind::RecordingOpened { path });
                true
            }
            Err(reason) => {
                self.emit(now, agent.as_ref(), EventKind::RecordingFailed { reason });
                false
            }
        };
        match next {
            OnRecording::SystemAnswer => {
                if ok {
                    self.push(Command::TapRecording);
                }
                self.system_answer_goes_on(now);
            }
            OnRecording::Connect => self.connect(now),
            OnRecording::Voicemail => self.start_voicemail(now),
            OnRecording::OnRequest { token, by } => {
                let result = if ok {
                    self.push(Command::TapRecording);
                    Ok(self.talking_call(true))
                } else {
                    Err(ControlError::Refused(
                        "the recording could not be started (see recording_failed)".into(),
                    ))
                };
                if ok {
                    tracing::info!(%by, "recording started on request");
                }
                self.push(Command::Reply { token, result });
            }
        }
    }

    fn on_caller(&mut self, now: i64, ev: LegInput) {
        match self.phase.clone() {
            Phase::Dialling { agent } => self.customer_leg(now, agent, ev),
            Phase::Waiting => {
                if let LegInput::Gone { .. } = ev {
                    // CANCEL before our answer, BYE after the system answer
                    let wait_ms = now - self.arrived_ms;
                    self.let_go_of_agents(RingResult::CallerGone);
                    self.emit(
                        now,
                        None,
                        EventKind::Abandoned {
                            wait_ms,
                            position: 0,
                        },
                    );
                    self.tell(ToController::Gone);
                    self.end(now, Vec::new());
                }
            }
            Phase::Talking => {
                if let LegInput::Gone { .. } = ev {
                    if let Some(t) = &self.talk {
                        let agent = t.agent.clone();
                        self.push(Command::HangUpAgent { agent });
                    }
                    self.complete(now, EndedBy::Caller);
                }
            }
            Phase::Message => {
                if let LegInput::Gone { .. } = ev {
                    self.caller_left_message(now);
                }
            }
            Phase::Voicemail => {
                if let LegInput::Gone { .. } = ev {
                    if self.recording == Recording::Open {
                        self.end_voicemail(now);
                    } else {
                        // still opening: left before the recording started
                        self.left_before_the_tone(now);
                    }
                }
            }
            // click-to-call: no customer leg before the agent answered
            Phase::CallbackWaiting | Phase::CallingAgent { .. } | Phase::Closing | Phase::Done => {}
        }
    }

    // ---- talking ------------------------------------------------------------------

    fn talking_agent(&mut self, now: i64, event: LegInput) {
        match event {
            LegInput::RemoteHold { held } => {
                let action = if held { Action::Hold } else { Action::Resume };
                if let Err(e) = self.act(now, action, "phone") {
                    tracing::info!(held, reason = %e, "hold from the phone: nothing to do");
                }
            }
            LegInput::Refer { target } => {
                let action = Action::Transfer {
                    to: Some(QueueId::new(target.clone())),
                };
                match self.act(now, action, "phone") {
                    Ok(Some(to)) => {
                        let agent = self.transfer(now, to, "phone");
                        // let the 202 to the REFER leave before our BYE
                        self.releasing.push((agent, now + REFER_ACCEPT_GRACE_MS));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(%target, reason = %e, "transfer from the phone refused; the call goes on")
                    }
                }
            }
            LegInput::Gone { .. } => {
                self.push(Command::HangUpCaller);
                self.complete(now, EndedBy::Agent);
            }
            _ => {}
        }
    }

    fn complete(&mut self, now: i64, ended_by: EndedBy) {
        // the supervisor leaves with the call, before its end is written
        self.end_monitor(now, "call ended", true);
        let Some(mut talk) = self.talk.take() else {
            return;
        };
        if let Some(since) = talk.paused_since.take() {
            self.pauses_ms.push((since, now));
        }
        let talk_ms = now - talk.answered_ms;
        self.emit(
            now,
            Some(&talk.agent),
            EventKind::Completed { ended_by, talk_ms },
        );
        self.released(&talk.agent);
        self.tell(ToController::AgentReleased { agent: talk.agent });
        self.tell(ToController::Gone);
        self.end(now, Vec::new());
    }

    /// Notes that the agent who dialled out was released with the others
    /// (a transfer, the end of the call).
    fn released(&mut self, agent: &AgentId) {
        if let Origin::Outbound {
            agent: dialler,
            released,
            ..
        } = &mut self.origin
        {
            if dialler == agent {
                *released = true;
            }
        }
    }

    fn talking_call(&self, with_agent: bool) -> TalkingCall {
        let talk = self.talk.as_ref();
        TalkingCall {
            call_id: self.id.to_string(),
            agent: talk.filter(|_| with_agent).map(|t| t.agent.to_string()),
            caller: self.caller.number.clone(),
            queue: self.queue.as_ref().map(ToString::to_string),
            call_type: self.call_type,
            held: talk.is_some_and(|t| t.held_since.is_some()),
            recording_paused: talk.is_some_and(|t| t.paused_since.is_some()),
            recorded: self.recording == Recording::Open,
            monitored_by: self.monitor.as_ref().map(|m| m.supervisor.clone()),
            monitor_mode: self.monitor.as_ref().map(|m| m.mode),
            monitor_joined: self.monitor.as_ref().is_some_and(|m| m.joined_ms.is_some()),
        }
    }

    fn on_control(&mut self, now: i64, token: u64, action: Action, by: String) {
        if self.phase != Phase::Talking {
            let why = match self.phase {
                Phase::CallbackWaiting => "a callback waiting for an agent has no talking call",
                Phase::Dialling { .. } => "the customer has not answered yet",
                _ => "the call is not talking to an agent (it is waiting)",
            };
            self.push(Command::Reply {
                token,
                result: Err(ControlError::Refused(why.into())),
            });
            return;
        }
        if matches!(
            action,
            Action::Monitor { .. } | Action::SetMonitorMode(_) | Action::StopMonitor
        ) {
            let result = self
                .monitor_action(now, action, &by)
                .map(|()| self.talking_call(true));
            self.push(Command::Reply { token, result });
            return;
        }
        if action == Action::StartRecording {
            if self.recording != Recording::None {
                let result = Err(ControlError::Refused("the call is already recorded".into()));
                self.push(Command::Reply { token, result });
                return;
            }
            self.recording = Recording::Opening(OnRecording::OnRequest { token, by });
            self.push(Command::OpenRecording);
            return;
        }
        match self.act(now, action, &by) {
            Ok(Some(to)) => {
                let mut c = self.talking_call(false);
                c.queue = Some(to.to_string());
                self.push(Command::Reply {
                    token,
                    result: Ok(c),
                });
                let agent = self.transfer(now, to, &by);
                self.push(Command::HangUpAgent { agent });
            }
            Ok(None) => {
                let c = self.talking_call(true);
                self.push(Command::Reply {
                    token,
                    result: Ok(c),
                });
            }
            Err(e) => self.push(Command::Reply {
                token,
                result: Err(e),
            }),
        }
    }

    /// Carries out an action on the talking call; Some(queue) for a transfer
    /// that was checked and is to be carried out.
    fn act(&mut self, now: i64, action: Action, by: &str) -> Result<Option<QueueId>, ControlError> {
        let refuse = |why: &str| Err(ControlError::Refused(why.to_string()));
        let recorded = self.recording == Recording::Open;
        let Some(talk) = self.talk.as_mut() else {
            return refuse("the call is not talking to an agent");
        };
        let agent = talk.agent.clone();
        let by = by.to_string();
        let kind = match action {
            Action::Show => return Ok(None),
            Action::Hold => {
                if talk.held_since.is_some() {
                    return refuse("the call is already on hold");
                }
                talk.held_since = Some(now);
                self.push(Command::Hold);
                EventKind::Held { by }
            }
            Action::Resume => {
                let Some(since) = talk.held_since.take() else {
                    return refuse("the call is not on hold");
                };
                self.push(Command::Unhold);
                let resumed = EventKind::Resumed {
                    held_ms: (now - since).max(0),
                    by,
                };
                self.emit(now, Some(&agent), resumed);
                // 「很抱歉让您久等了」 (when configured)
                self.play_to_both(now, PromptRef::HoldResume);
                return Ok(None);
            }
            Action::Close => {
                if self.close_at.is_some() {
                    return refuse("the call is already being closed");
                }
                if talk.held_since.is_some() {
                    // the caller would hear the phrase through the music
                    talk.held_since = None;
                    self.push(Command::Unhold);
                }
                let ms = self.env.prompt_ms(&PromptRef::Closing).unwrap_or(0);
                if self.play_to_both(now, PromptRef::Closing) {
                    self.close_at = Some(now + ms.max(0) + AFTER_MESSAGE_MS);
                } else {
                    self.clear_line(now);
                }
                return Ok(None);
            }
            Action::SetType(call_type) => {
                if call_type != self.call_type {
                    self.call_type = call_type;
                    talk.limits.retype(&self.cfg, call_type);
                }
                EventKind::CallTypeSet {
                    call_type,
                    limit_ms: talk.limits.limit_ms(),
                    by,
                }
            }
            Action::PauseRecording => {
                if !recorded {
                    return refuse("the call is not being recorded");
                }
                if talk.paused_since.is_some() {
                    return refuse("the recording is already paused");
                }
                talk.paused_since = Some(now);
                self.push(Command::MuteRecording(true));
                EventKind::RecordingPaused { by }
            }
            Action::ResumeRecording => {
                let Some(since) = talk.paused_since.take() else {
                    return refuse("the recording is not paused");
                };
                self.pauses_ms.push((since, now));
                self.push(Command::MuteRecording(false));
                EventKind::RecordingResumed {
                    paused_ms: (now - since).max(0),
                    by,
                }
            }
            Action::StartRecording => return refuse("the call is already recorded"),
            Action::Monitor { .. } | Action::SetMonitorMode(_) | Action::StopMonitor => {
                return refuse("monitoring is asked through the monitor requests")
            }
            Action::PlayIntoCall {
                recording,
                duration_ms,
            } => {
                if talk.held_since.is_some() {
                    return refuse("the call is on hold: resume it first");
                }
                self.push(Command::PlayIntoCall);
                EventKind::PlayedIntoCall {
                    recording,
                    duration_ms,
                    by,
                }
            }
            Action::Transfer { to } => {
                let Some(to) = to.or_else(|| self.cfg.transfer_queue.clone()) else {
                    return refuse("no queue named and no [transfer] queue configured");
                };
                if !self.cfg.knows_queue(&to) {
                    return Err(ControlError::Refused(format!("unknown queue `{to}`")));
                }
                if !self.env.is_open(&to, now) {
                    return Err(ControlError::Refused(format!("queue `{to}` is closed now")));
                }
                return Ok(Some(to));
            }
        };
        self.emit(now, Some(&agent), kind);
        Ok(None)
    }

    /// Blind transfer: the agent is let go (returned: the driver hangs up
    /// their leg), the caller hears music and waits in `to` ahead of its
    /// other callers; the recording goes on.
    fn transfer(&mut self, now: i64, to: QueueId, by: &str) -> AgentId {
        // the supervisor listened to this agent's conversation
        self.end_monitor(now, "the call was transferred", true);
        let Some(mut talk) = self.talk.take() else {
            return AgentId::new("");
        };
        if let Some(since) = talk.held_since.take() {
            self.emit(
                now,
                Some(&talk.agent),
                EventKind::Resumed {
                    held_ms: (now - since).max(0),
                    by: by.to_string(),
                },
            );
        }
        if let Some(since) = talk.paused_since.take() {
            self.pauses_ms.push((since, now));
            self.push(Command::MuteRecording(false));
        }
        let talk_ms = now - talk.answered_ms;
        self.emit(
            now,
            Some(&talk.agent),
            EventKind::Transferred {
                to: to.clone(),
                talk_ms,
                by: by.to_string(),
            },
        );
        self.push(Command::Hold);
        self.queue = Some(to.clone());
        self.released(&talk.agent);
        self.tell(ToController::AgentReleased {
            agent: talk.agent.clone(),
        });
        self.tell(ToController::Enqueue {
            queue: to,
            // a caller passed on has waited already: served first
            request: CallRequest {
                priority: TRANSFER_PRIORITY,
                skills: Vec::new(),
                preferred: None,
            },
        });
        // back to waiting, answered
        self.phase = Phase::Waiting;
        self.system_answered = true;
        self.caller_up = true;
        talk.agent
    }

    // ---- voicemail ---------------------------------------------------------------

    fn voicemail(&mut self, now: i64) {
        if self.cfg.voicemail_max_ms.is_none() {
            self.tell(ToController::Gone);
            self.let_go_of_agents(RingResult::CallerGone);
            self.refuse(now, 480, "no agent");
            return;
        }
        self.let_go_of_agents(RingResult::CallerGone);
        self.tell(ToController::Gone);
        if !self.caller_up {
            self.push(Command::AnswerCaller);
            self.caller_up = true;
        }
        let mut intro = Vec::new();
        if self.env.prompt_ms(&PromptRef::VoicemailGreeting).is_some() {
            intro.push(PromptRef::VoicemailGreeting);
        }
        intro.push(PromptRef::VoicemailBeep);
        let ms: i64 = intro.iter().map(|p| self.prompt_ms(p)).sum();
        self.play(intro, false);
        self.phase = Phase::Message;
        self.message_until = Some((now + ms + 100, AfterMessage::RecordVoicemail));
    }

    fn start_voicemail(&mut self, now: i64) {
        self.push(Command::Bridge { agent: None });
        self.voicemail_started = now;
        let max = self.cfg.voicemail_max_ms.unwrap_or(0).max(1000);
        self.voicemail_until = Some(now + max);
    }

    fn end_voicemail(&mut self, now: i64) {
        self.voicemail_until = None;
        let duration_ms = now - self.voicemail_started;
        let path = self.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::RecordingOpened { path } => Some(path.clone()),
            _ => None,
        });
        let path = if self.recording == Recording::Open {
            path
        } else {
            None
        };
        self.end(
            now,
            vec![(None, EventKind::VoicemailLeft { path, duration_ms })],
        );
    }

    // ---- callbacks ------------------------------------------------------------------

    fn callback_timeout(&mut self, now: i64) {
        let Origin::Callback { spec, retry_at, .. } = &mut self.origin else {
            return;
        };
        if spec.deadline_ms <= now {
            self.let_go_of_agents(RingResult::CallerGone);
            self.expire(now);
            return;
        }
        if retry_at.is_some_and(|t| t <= now) {
            let queue = spec.queue.clone();
            if !self.env.is_open(&queue, now) {
                // callbacks are made in open hours only
                if let Origin::Callback { retry_at, .. } = &mut self.origin {
                    *retry_at = Some(now + 60_000);
                }
            } else {
                if let Origin::Callback { retry_at, .. } = &mut self.origin {
                    *retry_at = None;
                }
                // the case owner's callback rings them first, each attempt
                let preferred = self.owner.as_ref().map(|o| PreferredAgent {
                    agent: o.agent.clone(),
                    until_ms: now.saturating_add(o.wait_ms),
                });
                self.tell(ToController::Enqueue {
                    queue,
                    request: CallRequest {
                        preferred,
                        ..CallRequest::default()
                    },
                });
            }
        }
        self.ring_timeouts(now);
    }

    /// Gives the callback up: an event, out of the queue, a failed CDR.
    fn expire(&mut self, now: i64) {
        let attempts = match &self.origin {
            Origin::Callback { spec, .. } => spec.attempts,
            _ => 0,
        };
        self.emit(now, None, EventKind::CallbackExpired { attempts });
        self.tell(ToController::Gone);
        self.end(now, Vec::new());
    }

    /// The callback's agent answered: call the customer.
    fn agent_ready_for_callback(&mut self, now: i64, agent: AgentId) {
        let Origin::Callback { spec, .. } = &self.origin else {
            return;
        };
        let number = spec.number.clone();
        let timeout = self
            .cfg
            .callback
            .as_ref()
            .map_or(30_000, |c| c.answer_timeout_ms);
        self.give_up_at = Some(now + timeout.max(0));
        self.last_agent = Some(agent.clone());
        self.phase = Phase::Dialling { agent };
        self.push(Command::DialCustomer { number });
    }

    fn customer_leg(&mut self, now: i64, agent: AgentId, ev: LegInput) {
        match ev {
            LegInput::Invited { .. }
            | LegInput::RemoteHold { .. }
            | LegInput::Refer { .. }
            | LegInput::SessionTimer { .. }
            | LegInput::Refreshed
            | LegInput::RefreshFailed { .. } => {}
            LegInput::Answered { usable: true } => {
                self.give_up_at = None;
                self.caller_up = true;
                if matches!(
                    self.origin,
                    Origin::Outbound {
                        agent_first: false,
                        ..
                    }
                ) {
                    self.push(Command::AnswerAgent {
                        agent: agent.clone(),
                    });
                }
                self.start_talking(now, agent);
            }
            LegInput::Answered { usable: false } => {
                self.push(Command::HangUpCaller);
                self.customer_missed(now, agent, 488, "unusable SDP".into());
            }
            LegInput::Rejected { status } => {
                self.customer_missed(now, agent, status, format!("refused {status}"))
            }
            LegInput::InviteFailed { reason } => self.customer_missed(now, agent, 503, reason),
            LegInput::Gone { reason } => {
                let reason = reason.unwrap_or_else(|| "hung up".into());
                self.customer_missed(now, agent, 480, reason)
            }
        }
    }

    /// The customer was not reached. A callback's agent is let go and another
    /// attempt follows later (or the callback is given up); an agent who
    /// dialled out hears why (`status` on their INVITE) and the call ends.
    fn customer_missed(&mut self, now: i64, agent: AgentId, status: u16, reason: String) {
        self.give_up_at = None;
        if let Origin::Outbound { agent_first, .. } = self.origin {
            tracing::info!(%reason, "outbound call: the customer was not reached");
            if agent_first {
                // the agent's phone answered the engine's call: hang it up
                self.push(Command::HangUpAgent { agent });
            } else {
                self.push(Command::RejectAgent {
                    agent,
                    status,
                    reason: reason.clone(),
                });
            }
            self.emit(now, None, EventKind::Rejected { status, reason });
            self.release_dialler();
            self.end(now, Vec::new());
            return;
        }
        self.push(Command::HangUpAgent {
            agent: agent.clone(),
        });
        self.push(Command::ReleaseMedia);
        self.tell(ToController::AgentReleased { agent });
        self.phase = Phase::CallbackWaiting;
        let (retry_ms, max) = self
            .cfg
            .callback
            .as_ref()
            .map_or((60_000, 1), |c| (c.retry_ms, c.attempts));
        let Origin::Callback { spec, retry_at } = &mut self.origin else {
            return;
        };
        spec.attempts += 1;
        let attempt = spec.attempts;
        let next = now + retry_ms.max(0);
        let give_up = spec.attempts >= max || next >= spec.deadline_ms;
        if !give_up {
            *retry_at = Some(next);
        }
        tracing::info!(attempt, %reason, "callback: the customer was not reached");
        self.emit(
            now,
            None,
            EventKind::CallbackAttemptFailed { attempt, reason },
        );
        if give_up {
            self.expire(now);
        }
    }

    /// The agent who dialled out is free for the ACD again (once).
    fn release_dialler(&mut self) {
        if let Origin::Outbound {
            agent, released, ..
        } = &mut self.origin
        {
            if !*released {
                *released = true;
                let agent = agent.clone();
                self.tell(ToController::AgentReleased { agent });
                self.tell(ToController::Gone);
            }
        }
    }

    /// An agent dials a customer: the agent's phone hears ringing while the
    /// customer's rings; the customer's answer answers the agent's INVITE and
    /// bridges them, recorded (customer left, agent right) under the call
    /// type's limit. The controller has made the agent busy already
    /// ([`crate::Controller::dial_out`]).
    pub fn outbound(
        id: CallId,
        cfg: Arc<FlowSettings>,
        env: Arc<dyn Environment>,
        spec: OutboundSpec,
        now: i64,
    ) -> Self {
        let caller = Party {
            number: spec.number.clone(),
            display: None,
        };
        let origin = Origin::Outbound {
            agent: spec.agent.clone(),
            released: false,
            agent_first: false,
        };
        let mut c = Call::new(id, cfg, env, origin, caller.clone(), now);
        c.call_type = spec.call_type;
        c.last_agent = Some(spec.agent.clone());
        let agent = spec.agent;
        c.emit(
            now,
            Some(&agent),
            EventKind::Arrived {
                caller,
                dialled: OUTBOUND.into(),
                call_type: spec.call_type,
            },
        );
        let verdict = spec.media.and_then(|()| match &c.cfg.dial {
            None => Err((403, "dialling out is not enabled".to_string())),
            Some(_) if spec.on_work_item && crate::dialable(&spec.number) => Ok(()),
            Some(rules) => rules.check(&spec.number).map_err(|why| (403, why)),
        });
        if let Err((status, reason)) = verdict {
            tracing::warn!(%agent, number = %spec.number, status, %reason, "outbound call refused");
            c.push(Command::RejectAgent {
                agent: agent.clone(),
                status,
                reason: reason.clone(),
            });
            c.emit(now, Some(&agent), EventKind::Rejected { status, reason });
            c.release_dialler();
            c.end(now, Vec::new());
            return c;
        }
        let timeout = c.cfg.dial.as_ref().map_or(30_000, |d| d.answer_timeout_ms);
        c.give_up_at = Some(now + timeout.max(0));
        c.phase = Phase::Dialling {
            agent: agent.clone(),
        };
        c.push(Command::AgentRinging { agent });
        c.push(Command::DialCustomer {
            number: spec.number,
        });
        c
    }
}

impl Call {
    /// Click-to-call (the console, the softphone): the engine rings the
    /// agent's phone first and dials the customer once the agent answered;
    /// from the customer's answer on it is the same call as any other. The
    /// agent is already busy in the ACD ([`crate::Controller::dial_out`]);
    /// the dial rules are checked here too.
    pub fn click_to_call(
        id: CallId,
        cfg: Arc<FlowSettings>,
        env: Arc<dyn Environment>,
        spec: ClickToCall,
        now: i64,
    ) -> Self {
        let caller = Party {
            number: spec.number.clone(),
            display: None,
        };
        let origin = Origin::Outbound {
            agent: spec.agent.clone(),
            released: false,
            agent_first: true,
        };
        let mut c = Call::new(id, cfg, env, origin, caller.clone(), now);
        c.call_type = spec.call_type;
        c.last_agent = Some(spec.agent.clone());
        let agent = spec.agent;
        c.emit(
            now,
            Some(&agent),
            EventKind::Arrived {
                caller,
                dialled: OUTBOUND.into(),
                call_type: spec.call_type,
            },
        );
        let verdict = match &c.cfg.dial {
            None => Err((403, "dialling out is not enabled".to_string())),
            Some(_) if spec.on_work_item && crate::dialable(&spec.number) => Ok(()),
            Some(rules) => rules.check(&spec.number).map_err(|why| (403, why)),
        };
        if let Err((status, reason)) = verdict {
            tracing::warn!(%agent, number = %spec.number, status, %reason, "click-to-call refused");
            c.agent_first_failed(now, agent, status, reason);
            return c;
        }
        let timeout = c.cfg.dial.as_ref().map_or(30_000, |d| d.answer_timeout_ms);
        c.give_up_at = Some(now + timeout.max(0));
        c.phase = Phase::CallingAgent {
            agent: agent.clone(),
        };
        c.push(Command::InviteAgent { agent });
        c
    }

    /// Click-to-call: what the agent's phone did while the engine rang it.
    fn calling_agent(&mut self, now: i64, agent: AgentId, event: LegInput) {
        match event {
            // handled in every phase by on_session
            LegInput::SessionTimer { .. }
            | LegInput::Refreshed
            | LegInput::RefreshFailed { .. } => {}
            LegInput::Invited { contact } => {
                self.emit(now, Some(&agent), EventKind::Offered { contact });
            }
            LegInput::RemoteHold { .. } | LegInput::Refer { .. } => {}
            LegInput::Answered { usable: true } => {
                let timeout = self
                    .cfg
                    .dial
                    .as_ref()
                    .map_or(30_000, |d| d.answer_timeout_ms);
                self.give_up_at = Some(now + timeout.max(0));
                self.phase = Phase::Dialling { agent };
                self.push(Command::DialCustomer {
                    number: self.caller.number.clone(),
                });
            }
            LegInput::Answered { usable: false } => {
                self.push(Command::HangUpAgent {
                    agent: agent.clone(),
                });
                self.agent_first_failed(
                    now,
                    agent,
                    488,
                    "the agent's phone has no usable codec".into(),
                );
            }
            LegInput::Rejected { status } => self.agent_first_failed(
                now,
                agent,
                status,
                format!("the agent's phone refused ({status})"),
            ),
            LegInput::InviteFailed { reason } => self.agent_first_failed(now, agent, 480, reason),
            LegInput::Gone { .. } => {
                self.agent_first_failed(now, agent, 487, "the agent's phone stopped ringing".into())
            }
        }
    }

    /// Click-to-call ends before the customer was dialled.
    fn agent_first_failed(&mut self, now: i64, agent: AgentId, status: u16, reason: String) {
        self.give_up_at = None;
        self.emit(now, Some(&agent), EventKind::Rejected { status, reason });
        self.release_dialler();
        self.end(now, Vec::new());
    }
}

/// A click-to-call request, as the engine hands it over.
#[derive(Clone, Debug)]
pub struct ClickToCall {
    /// The agent whose phone rings first.
    pub agent: AgentId,
    /// The customer's number.
    pub number: String,
    /// The call's type (reply, callback, return visit, other, ...).
    pub call_type: CallType,
    /// The number is on one of the agent's open work items: allowed
    /// whatever the allowed prefixes say.
    pub on_work_item: bool,
}

pub use hotline_core::OUTBOUND;

/// An agent's call to a customer, as the driver hands it over.
#[derive(Clone, Debug)]
pub struct OutboundSpec {
    /// The agent who dials (authenticated by the driver).
    pub agent: AgentId,
    /// The number dialled.
    pub number: String,
    /// Its type (a reply, a return visit: `callback`).
    pub call_type: CallType,
    /// The driver's verdict on the agent's SDP offer.
    pub media: Result<(), (u16, String)>,
    /// The number is on one of the agent's open work items (a call the
    /// center owes): allowed whatever the allowed prefixes say.
    pub on_work_item: bool,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.id)
            .field("phase", &self.phase)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
