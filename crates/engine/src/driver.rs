//! The IO shell of one call: owns the call's SIP legs, its media session and
//! its recording, turns what happens on them into [`Input`]s for the
//! sans-IO [`Call`], and carries out the [`Command`]s it gives. Timers are
//! the call's own [`Call::poll_timeout`]; time is the engine's clock.

use crate::callback::CallbackConfig;
use crate::control::{CallAction, ControlError, TalkingCall};
use crate::customer_srtp;
use crate::env::EngineEnv;
use crate::routing;
use crate::srtp_stats;
use crate::EngineConfig;
use hotline_callflow::{Action, Call, Command, Input, LegInput, Sealed, ToController};
use hotline_core::{AgentId, CallEvent, CallId, Clock, EventKind, Party, Side};
use hotline_media::prompt::Prompt;
use hotline_media::sdp::{self, Negotiated};
use hotline_media::srtp::{self, SdesKey, SrtpPolicy};
use hotline_media::{Codec, MediaEngine, MediaSession};
use hotline_recorder::{Recorder, RecordingHandle};
use hotline_sip::{Binding, InboundCall, LegEvent, OutboundLeg, SipServer, SipTransport};
use hotline_store::EventSink;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, info_span, warn, Instrument};

/// RTP payload type we offer agents for telephone-event.
pub(crate) const TELEPHONE_EVENT_PT: u8 = 101;

/// Controller → call driver. Sent boxed: a call's mailbox (a tokio
/// channel) allocates a block of 32 slots when it is created, 32 × 8 bytes
/// for a box instead of 32 × ~270 bytes for this enum (issue 19).
#[derive(Debug)]
pub(crate) enum CallMsg {
    /// Ring this agent at this contact.
    Offer { agent: AgentId, binding: Binding },
    /// An input from the controller (refused, moved, voicemail, status).
    Input(Input),
    /// An action of the agent or a supervisor.
    Control {
        action: CallAction,
        by: String,
        reply: oneshot::Sender<Result<TalkingCall, ControlError>>,
    },
    /// A supervisor's own INVITE (a monitor feature code) to join the call.
    MonitorCall {
        inbound: InboundCall,
        supervisor: String,
        mode: hotline_core::MonitorMode,
    },
    /// The HA pair: a callback waiting for an agent that the shared log
    /// says is done elsewhere: the task ends without a word (no event: its
    /// end is already in the log).
    Park,
}

/// Call driver → controller.
#[derive(Debug)]
pub(crate) enum FromCall {
    /// What the call tells the controller.
    Tell { call: CallId, msg: ToController },
    /// The call is over (its task ends).
    Done { call: CallId },
}

/// What every call driver shares.
pub(crate) struct CallCtx {
    pub cfg: Arc<EngineConfig>,
    pub flow: Arc<hotline_callflow::FlowSettings>,
    pub env: Arc<EngineEnv>,
    pub sip: SipServer,
    pub media: MediaEngine,
    pub recorder: Recorder,
    pub sink: EventSink,
    pub live: Option<mpsc::UnboundedSender<CallEvent>>,
    pub clock: Arc<dyn Clock>,
    pub controller: mpsc::Sender<FromCall>,
    /// Where monitoring sessions are audited.
    pub audit: Option<hotline_store::Store>,
    pub trunks: crate::trunks::TrunkBoard,
    /// Open cases' owners by number, and how long a caller waits for theirs.
    pub owners: Option<(crate::owners::CaseOwners, i64)>,
}

impl CallCtx {
    /// The owner of `number`'s open case, if it has one, waited for
    /// `wait_ms` (routing by ownership, 首问负责制).
    pub(crate) fn owner_hint(
        &self,
        number: &str,
        wait_ms: i64,
    ) -> Option<hotline_callflow::OwnerHint> {
        let (map, _) = self.owners.as_ref()?;
        let o = map.owner_of(number)?;
        Some(hotline_callflow::OwnerHint {
            agent: o.agent,
            case_id: o.case_id,
            wait_ms,
        })
    }

    /// Writes an event to the log and the live feed (and a monitoring
    /// event to the audit log).
    pub fn publish(&self, e: CallEvent) {
        if let Some(store) = &self.audit {
            crate::monitor::audit(store, &e);
        }
        if let Some(live) = &self.live {
            let _ = live.send(e.clone());
        }
        self.sink.event(e);
    }
}

/// Where the customer is dialled: a plain gateway (`dial`) or a trunk with
/// the number in its format.
enum DialTarget {
    Gateway(Binding),
    Trunk(hotline_sip::TrunkTarget, String),
}

/// The customer's leg.
// one per call; the caller's INVITE is the common case, boxing it would
// only add an allocation per call
#[allow(clippy::large_enum_variant)]
enum CustomerLeg {
    /// A caller's INVITE (answered or not).
    Inbound(InboundCall),
    /// The leg the engine placed (a callback), once dialled.
    Outbound(Option<OutboundLeg>),
}

/// An agent's leg: one the engine placed (ringing the agent for a call),
/// or the agent's own INVITE (the agent dials out).
#[allow(clippy::large_enum_variant)] // a few per call
enum AgentLeg {
    Out(OutboundLeg),
    In(InboundCall),
}

impl AgentLeg {
    async fn next_event(&mut self) -> Option<LegEvent> {
        match self {
            AgentLeg::Out(l) => l.next_event().await,
            AgentLeg::In(c) => c.next_event().await,
        }
    }

    async fn hangup(&self) {
        match self {
            AgentLeg::Out(l) => l.hangup().await,
            AgentLeg::In(c) => c.hangup().await,
        }
    }

    fn refresh_session(&self, interval_s: u32) {
        match self {
            AgentLeg::Out(l) => l.refresh_session(interval_s),
            AgentLeg::In(c) => c.refresh_session(interval_s),
        }
    }
}

/// A session timer event of a leg as the call flow's input (RFC 4028).
fn session_input(ev: &LegEvent) -> Option<LegInput> {
    match ev {
        LegEvent::SessionTimer(t) => Some(timer_input(t)),
        LegEvent::Refreshed => Some(LegInput::Refreshed),
        LegEvent::RefreshFailed { status } => Some(LegInput::RefreshFailed { status: *status }),
        _ => None,
    }
}

fn timer_input(t: &hotline_sip::SessionTimer) -> LegInput {
    LegInput::SessionTimer {
        interval_ms: i64::from(t.interval_s) * 1000,
        we_refresh: t.we_refresh,
    }
}

/// One call's IO.
pub(crate) struct CallDriver {
    ctx: Arc<CallCtx>,
    call: Call,
    customer: CustomerLeg,
    /// Our SDP answer to the caller's offer (inbound).
    caller_sdp: Option<String>,
    media: Option<MediaSession>,
    dtmf: Option<mpsc::Receiver<char>>,
    session_id: u64,
    /// The agents' legs (ringing or talking).
    legs: Vec<(AgentId, AgentLeg)>,
    /// Our SDP answer to the INVITE of an agent who dials out.
    agent_sdp: Option<String>,
    /// An agent's call out (the customer is dialled through its gateway).
    outbound: bool,
    bindings: HashMap<AgentId, Binding>,
    agent_media: HashMap<AgentId, (SocketAddr, Negotiated)>,
    /// Our SDES key in the INVITE to each agent (None: a plain offer).
    agent_offer_keys: HashMap<AgentId, SdesKey>,
    /// Each answered agent leg's SRTP keys (ours, the phone's).
    agent_srtp: HashMap<AgentId, (SdesKey, SdesKey)>,
    /// The agent whose leg the relay's agent side carries (its SRTP keys).
    srtp_bridged: Option<AgentId>,
    /// Our SDES key in the INVITE to the customer (None: a plain offer).
    customer_offer_key: Option<SdesKey>,
    /// The caller's (customer's) SRTP key as the relay takes it (None: a
    /// plain leg).
    caller_srtp: Option<SdesKey>,
    /// SRTP legs to put in the event log (`media_encrypted`) once the call
    /// has its first event: (side, agent, suite).
    srtp_announce: Vec<(Side, Option<AgentId>, &'static str)>,
    recording: Option<RecordingHandle>,
    play_audio: Option<Prompt>,
    /// RTP packets received from (caller, agent) at the last media check.
    media_counts: Option<(u64, u64)>,
    /// The trunk channel the customer's leg holds (given back on drop).
    trunk: Option<crate::trunks::Seizure>,
    replies: HashMap<u64, oneshot::Sender<Result<TalkingCall, ControlError>>>,
    next_token: u64,
    /// The supervisor's leg of a monitored call.
    supervisor: Option<AgentLeg>,
    /// Where the supervisor's RTP goes (their SDP), once answered.
    supervisor_media: Option<(SocketAddr, Negotiated)>,
    /// The token of a supervisor's own INVITE's monitor request (refused:
    /// their INVITE gets the reason).
    own_leg_token: Option<u64>,
    rx: mpsc::Receiver<Box<CallMsg>>,
    rx_open: bool,
    parked: bool,
}

/// An INVITE's offer checked: the media session (its `side` facing the
/// offerer: the caller, or an agent who dials out), our answer and the
/// SRTP suite of that leg (None: plain RTP), or the status and reason to
/// refuse the call with.
fn accept_offer(
    ctx: &CallCtx,
    id: &CallId,
    inbound: &InboundCall,
    side: Side,
    policy: SrtpPolicy,
) -> Result<(MediaSession, String, Option<SdesKey>), (u16, String)> {
    if !inbound.offer_is_sdp || inbound.offer.is_empty() {
        return Err((488, "an SDP offer is required".into()));
    }
    let offer = sdp::parse(&inbound.offer).map_err(|e| (488, format!("bad SDP: {e}")))?;
    let negotiated = sdp::negotiate(&offer).map_err(|e| (488, format!("no common codec: {e}")))?;
    let keys = match srtp::negotiate_sdp(
        policy,
        &offer,
        inbound.secure,
        ctx.cfg.srtp.allow_without_tls,
    ) {
        srtp::Negotiated::Plain => None,
        srtp::Negotiated::Srtp(theirs) => {
            Some((SdesKey::generate_for(theirs.tag, theirs.suite), theirs))
        }
        srtp::Negotiated::Refuse(why) => {
            warn!(?side, %policy, tls = inbound.secure, reason = why, "SRTP: offer refused (488)");
            srtp_stats::counters().refused(srtp_stats::RefusalReason::of(why));
            return Err((488, format!("SRTP: {why}")));
        }
    };
    let media = ctx.media.allocate(id.as_str()).map_err(|e| {
        warn!(error = %e, "no media ports");
        (503, "no media capacity".to_string())
    })?;
    if let Some((ours, theirs)) = &keys {
        if let Err(e) = media.set_srtp(side, Some((ours, theirs))) {
            warn!(error = %e, "SRTP: cannot set up the keys");
            return Err((488, format!("SRTP: {e}")));
        }
        info!(?side, suite = theirs.suite.name(), "SRTP on the leg (SDES)");
        srtp_stats::counters().leg(side);
    }
    media.set_remote(
        side,
        SocketAddr::new(offer.connection, offer.audio_port),
        negotiated,
    );
    let port = match side {
        Side::Caller => media.caller_port(),
        Side::Agent => media.agent_port(),
    };
    let answer = sdp::build_secure(
        ctx.cfg.media_ip,
        port,
        &[negotiated.codec],
        negotiated.telephone_event,
        session_id(id),
        1,
        keys.as_ref().map(|(ours, _)| sdp::Secure {
            key: ours,
            savp: offer.savp,
        }),
    );
    Ok((media, answer, keys.map(|(_, theirs)| theirs)))
}

impl CallDriver {
    /// A caller's INVITE: screened and handed to a new [`Call`].
    pub(crate) fn inbound(
        ctx: Arc<CallCtx>,
        id: CallId,
        inbound: InboundCall,
        rx: mpsc::Receiver<Box<CallMsg>>,
    ) -> Self {
        let now = ctx.clock.now_ms();
        info!(caller = %inbound.caller.number, dialled = %inbound.dialled, "call arrived");
        let numbered = ctx.cfg.numbers.iter().any(|n| n == &inbound.dialled);
        let mut caller_key = None;
        let (media, caller_sdp, verdict) = if numbered {
            match accept_offer(&ctx, &id, &inbound, Side::Caller, ctx.cfg.srtp.default) {
                Ok((m, answer, theirs)) => {
                    caller_key = theirs;
                    (Some(m), Some(answer), Ok(()))
                }
                Err(e) => (None, None, Err(e)),
            }
        } else {
            (None, None, Ok(()))
        };
        let blacklisted = ctx.cfg.blacklist.lookup(&inbound.caller.number).map(|e| {
            warn!(entry = %e.pattern, action = %e.action, reason = %e.reason, "blacklisted caller");
            hotline_callflow::BlacklistHit {
                entry: e.pattern.to_string(),
                action: e.action.to_string(),
                reason: e.reason.clone(),
                queue: match e.action {
                    routing::BlacklistAction::Reject => None,
                    routing::BlacklistAction::Queue(q) => Some(q),
                },
            }
        });
        let spec = hotline_callflow::Inbound {
            caller: inbound.caller.clone(),
            dialled: inbound.dialled.clone(),
            media: verdict,
            blacklisted,
            vip: routing::is_vip(&ctx.cfg.vip, &inbound.caller.number),
            owner: ctx.owners.as_ref().and_then(|(_, wait_ms)| {
                let o = ctx.owner_hint(&inbound.caller.number, *wait_ms)?;
                info!(owner = %o.agent, case = o.case_id, "caller has an open case: its owner rings first");
                Some(o)
            }),
        };
        let call = Call::inbound(id.clone(), ctx.flow.clone(), ctx.env.clone(), spec, now);
        let mut d = CallDriver::new(
            ctx,
            call,
            CustomerLeg::Inbound(inbound),
            rx,
            session_id(&id),
        );
        d.caller_sdp = caller_sdp;
        if let Some(theirs) = caller_key {
            d.srtp_announce
                .push((Side::Caller, None, theirs.suite.name()));
            d.caller_srtp = Some(theirs);
        }
        if let Some(mut m) = media {
            d.dtmf = m.take_dtmf();
            d.media = Some(m);
        }
        d
    }

    /// Click-to-call: the agent's phone (at `binding`) rings first, then the
    /// customer is dialled.
    pub(crate) fn click_to_call(
        ctx: Arc<CallCtx>,
        id: CallId,
        spec: hotline_callflow::ClickToCall,
        binding: Binding,
        rx: mpsc::Receiver<Box<CallMsg>>,
    ) -> Self {
        let now = ctx.clock.now_ms();
        info!(number = %spec.number, "click-to-call: ringing the agent first");
        let agent = spec.agent.clone();
        let call = Call::click_to_call(id.clone(), ctx.flow.clone(), ctx.env.clone(), spec, now);
        let sid = session_id(&id);
        let mut d = CallDriver::new(ctx, call, CustomerLeg::Outbound(None), rx, sid);
        d.outbound = true;
        d.bindings.insert(agent, binding);
        d
    }

    /// An agent's phone dials `number`: the agent's offer is checked (its
    /// media faces the agent), then the call dials the customer.
    pub(crate) fn outbound(
        ctx: Arc<CallCtx>,
        id: CallId,
        agent: AgentId,
        number: String,
        inbound: InboundCall,
        rx: mpsc::Receiver<Box<CallMsg>>,
    ) -> Self {
        let now = ctx.clock.now_ms();
        info!(%number, "agent dials out");
        let mut own_suite = None;
        let (media, agent_sdp, verdict) = match accept_offer(
            &ctx,
            &id,
            &inbound,
            Side::Agent,
            ctx.cfg.srtp.for_agent(&agent),
        ) {
            Ok((m, sdp, theirs)) => {
                own_suite = theirs.map(|k| k.suite.name());
                (Some(m), Some(sdp), Ok(()))
            }
            Err(e) => (None, None, Err(e)),
        };
        let call_type = ctx
            .cfg
            .outbound
            .as_ref()
            .map_or(hotline_core::CallType::Callback, |o| o.call_type);
        let on_work_item = ctx
            .cfg
            .outbound
            .as_ref()
            .is_some_and(|o| o.permit.allows(&agent, &number));
        let spec = hotline_callflow::OutboundSpec {
            agent: agent.clone(),
            number,
            call_type,
            media: verdict,
            on_work_item,
        };
        let call = Call::outbound(id.clone(), ctx.flow.clone(), ctx.env.clone(), spec, now);
        let sid = session_id(&id);
        let mut d = CallDriver::new(ctx, call, CustomerLeg::Outbound(None), rx, sid);
        d.outbound = true;
        d.agent_sdp = agent_sdp;
        d.media = media;
        if let Some(suite) = own_suite {
            d.srtp_announce
                .push((Side::Agent, Some(agent.clone()), suite));
        }
        d.legs.push((agent, AgentLeg::In(inbound)));
        d
    }

    /// A callback (new or taken over after a restart).
    pub(crate) fn callback(
        ctx: Arc<CallCtx>,
        call: Call,
        rx: mpsc::Receiver<Box<CallMsg>>,
    ) -> Self {
        let sid = session_id(call.id());
        CallDriver::new(ctx, call, CustomerLeg::Outbound(None), rx, sid)
    }

    fn new(
        ctx: Arc<CallCtx>,
        call: Call,
        customer: CustomerLeg,
        rx: mpsc::Receiver<Box<CallMsg>>,
        session_id: u64,
    ) -> Self {
        CallDriver {
            ctx,
            call,
            customer,
            caller_sdp: None,
            media: None,
            dtmf: None,
            session_id,
            // one agent rings at a time mostly: room for one, not the
            // four of a first push (a leg is a few hundred bytes)
            legs: Vec::with_capacity(1),
            agent_sdp: None,
            outbound: false,
            bindings: HashMap::new(),
            agent_media: HashMap::new(),
            agent_offer_keys: HashMap::new(),
            agent_srtp: HashMap::new(),
            srtp_bridged: None,
            customer_offer_key: None,
            caller_srtp: None,
            srtp_announce: Vec::new(),
            recording: None,
            play_audio: None,
            media_counts: None,
            trunk: None,
            replies: HashMap::new(),
            next_token: 0,
            supervisor: None,
            supervisor_media: None,
            own_leg_token: None,
            rx,
            rx_open: true,
            parked: false,
        }
    }

    fn now(&self) -> i64 {
        self.ctx.clock.now_ms()
    }

    fn feed(&mut self, input: Input) {
        let now = self.now();
        self.call.handle(now, input);
    }

    /// The call's task: inputs in, commands out, until the call is over.
    ///
    /// Not an `async fn`: an async fn's future keeps its arguments twice
    /// (as captured and as moved into the body, rust-lang/rust#62958), and
    /// the driver is a few KiB that every call's task would carry twice
    /// (issue 19). The `async move` block uses the captured driver in place.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    pub(crate) fn run(mut self) -> impl std::future::Future<Output = ()> {
        async move {
            loop {
                if self.parked || self.carry_out().await {
                    break;
                }
                let deadline = self.call.poll_timeout();
                let wait = deadline.map(|d| Duration::from_millis((d - self.now()).max(0) as u64));
                let wants_digits = self.dtmf.is_some();
                tokio::select! {
                    ev = next_customer_event(&mut self.customer) => self.on_customer(ev),
                    (i, ev) = next_agent_event(&mut self.legs) => self.on_agent(i, ev),
                    ev = next_supervisor_event(&mut self.supervisor) => self.on_supervisor(ev),
                    d = next_digit(&mut self.dtmf), if wants_digits => match d {
                        Some(d) => self.feed(Input::Digit(d)),
                        None => self.dtmf = None,
                    },
                    msg = self.rx.recv(), if self.rx_open => self.on_msg(msg.map(|m| *m)),
                    _ = tokio::time::sleep(wait.unwrap_or(Duration::ZERO)), if wait.is_some() => {
                        let now = self.now();
                        self.call.handle_timeout(now);
                    }
                }
            }
            let id = self.call.id().clone();
            if let Some(m) = &self.media {
                let stats = m.stats();
                info!(?stats, "media stats");
                for (side, s) in [(Side::Caller, stats.caller), (Side::Agent, stats.agent)] {
                    srtp_stats::counters().call_ended(side, s.srtp_refused, s.srtp_rekeys);
                }
            }
            self.ctx
                .controller
                .send(FromCall::Done { call: id })
                .await
                .ok();
        }
    }

    fn on_msg(&mut self, msg: Option<CallMsg>) {
        match msg {
            None => {
                // the controller is gone: shutting down
                self.rx_open = false;
                self.feed(Input::Shutdown);
            }
            Some(CallMsg::Offer { agent, binding }) => {
                self.bindings.insert(agent.clone(), binding);
                self.feed(Input::Offer { agent });
            }
            Some(CallMsg::Input(i)) => self.feed(i),
            Some(CallMsg::Park) => {
                info!("callback parked: done by the other node");
                self.parked = true;
            }
            Some(CallMsg::MonitorCall {
                inbound,
                supervisor,
                mode,
            }) => {
                if self.supervisor.is_some() {
                    inbound.reject(486, Some("the call is already monitored".into()));
                    return;
                }
                let by = format!("phone:{supervisor}");
                self.supervisor = Some(AgentLeg::In(inbound));
                self.next_token += 1;
                let token = self.next_token;
                self.own_leg_token = Some(token);
                let action = Action::Monitor {
                    supervisor,
                    mode,
                    own_leg: true,
                    beep: self.ctx.cfg.monitor.beep,
                };
                self.feed(Input::Control { token, action, by });
            }
            Some(CallMsg::Control { action, by, reply }) => {
                let action = match action {
                    CallAction::Show => Action::Show,
                    CallAction::Hold => Action::Hold,
                    CallAction::Resume => Action::Resume,
                    CallAction::Transfer { to } => Action::Transfer { to },
                    CallAction::SetType(t) => Action::SetType(t),
                    CallAction::PauseRecording => Action::PauseRecording,
                    CallAction::ResumeRecording => Action::ResumeRecording,
                    CallAction::StartRecording => Action::StartRecording,
                    CallAction::Monitor { supervisor, mode } => Action::Monitor {
                        supervisor,
                        mode,
                        own_leg: false,
                        beep: self.ctx.cfg.monitor.beep,
                    },
                    CallAction::MonitorMode(m) => Action::SetMonitorMode(m),
                    CallAction::StopMonitor => Action::StopMonitor,
                    CallAction::Close => Action::Close,
                    CallAction::PlayIntoCall { audio, recording } => {
                        let duration_ms = audio.duration_ms() as i64;
                        self.play_audio = Some(audio);
                        Action::PlayIntoCall {
                            recording,
                            duration_ms,
                        }
                    }
                };
                self.next_token += 1;
                let token = self.next_token;
                self.replies.insert(token, reply);
                self.feed(Input::Control { token, action, by });
            }
        }
    }

    fn on_customer(&mut self, ev: Option<LegEvent>) {
        if let Some(i) = ev.as_ref().and_then(session_input) {
            return self.feed(Input::Caller(i));
        }
        let input = match ev {
            Some(LegEvent::Info { body }) => match routing::dtmf_from_info(&body) {
                Some(d) => Input::Digit(d),
                None => return,
            },
            Some(LegEvent::Reoffer { sdp }) => return self.srtp_reoffer(None, &sdp),
            Some(LegEvent::Answered { sdp: answer }) => {
                let policy = self.ctx.cfg.srtp.default;
                let ours = self.customer_offer_key.take();
                let usable = match customer_srtp::answer(policy, ours.as_ref(), &answer) {
                    Ok((addr, n, keys)) => {
                        if let Some(m) = &self.media {
                            // the keys before the address: no packet slips through plain
                            if let Some((ours, theirs)) = &keys {
                                if let Err(e) = m.set_srtp(Side::Caller, Some((ours, theirs))) {
                                    warn!(error = %e, "SRTP: cannot set up the customer's keys");
                                }
                                info!(
                                    suite = theirs.suite.name(),
                                    "SRTP on the customer leg (SDES)"
                                );
                                srtp_stats::counters().leg(Side::Caller);
                                self.srtp_announce
                                    .push((Side::Caller, None, theirs.suite.name()));
                                self.caller_srtp = Some(theirs.clone());
                            }
                            m.set_remote(Side::Caller, addr, n);
                        }
                        self.announce_srtp();
                        true
                    }
                    Err(e) => {
                        if e.starts_with("SRTP") {
                            srtp_stats::counters().refused(srtp_stats::RefusalReason::Answer);
                        }
                        warn!(error = %e, "the customer answered with unusable SDP");
                        false
                    }
                };
                Input::Caller(LegInput::Answered { usable })
            }
            Some(LegEvent::Rejected { status }) => {
                // the customer's leg is over: its trunk channel is free
                self.trunk = None;
                Input::Caller(LegInput::Rejected { status })
            }
            Some(e) if e.keeps_the_leg_up() => return,
            other => {
                if let CustomerLeg::Outbound(leg) = &mut self.customer {
                    *leg = None;
                }
                self.trunk = None;
                Input::Caller(LegInput::Gone {
                    reason: gone_reason(other),
                })
            }
        };
        self.feed(input);
    }

    fn on_supervisor(&mut self, ev: Option<LegEvent>) {
        let event = match ev {
            Some(LegEvent::Answered { sdp: answer }) => match negotiate(&answer) {
                Ok(m) => {
                    self.supervisor_media = Some(m);
                    LegInput::Answered { usable: true }
                }
                Err(e) => {
                    warn!(error = %e, "the supervisor's phone answered with unusable SDP");
                    LegInput::Answered { usable: false }
                }
            },
            Some(LegEvent::Rejected { status }) => {
                self.supervisor = None;
                LegInput::Rejected { status }
            }
            Some(e) if e.keeps_the_leg_up() => return,
            other => {
                self.supervisor = None;
                LegInput::Gone {
                    reason: gone_reason(other),
                }
            }
        };
        self.feed(Input::Supervisor(event));
    }

    /// Rings the supervisor's phone with an offer for the monitor leg.
    async fn invite_supervisor(&mut self, supervisor: String) {
        let failed = |reason: String| Input::Supervisor(LegInput::InviteFailed { reason });
        let Some(binding) = self.ctx.sip.contacts(&supervisor).into_iter().next() else {
            return self.feed(failed(format!("phone {supervisor} is not registered")));
        };
        let Some(media) = &self.media else {
            return self.feed(failed("the call has no media".into()));
        };
        let port = match self
            .ctx
            .media
            .add_monitor(media, hotline_core::MonitorMode::Listen)
        {
            Ok(p) => p,
            Err(e) => return self.feed(failed(e.to_string())),
        };
        let offer = sdp::build(
            self.ctx.cfg.media_ip,
            port,
            &[Codec::Pcmu, Codec::Pcma],
            None,
            self.session_id ^ 0x5u64,
            1,
        );
        let from = Party {
            number: format!("monitor-{}", self.call.id()),
            display: Some("monitor".into()),
        };
        match self.ctx.sip.invite(&binding, &from, offer).await {
            Ok(leg) => {
                info!(%supervisor, contact = %binding.contact, "ringing the supervisor to monitor");
                self.supervisor = Some(AgentLeg::Out(leg));
                self.feed(Input::Supervisor(LegInput::Invited {
                    contact: binding.contact,
                }));
            }
            Err(e) => self.feed(failed(e.to_string())),
        }
    }

    /// Answers the supervisor's own INVITE with the monitor leg's port.
    fn answer_supervisor(&mut self) {
        let Some(AgentLeg::In(inbound)) = &self.supervisor else {
            return;
        };
        let checked = if inbound.offer_is_sdp {
            sdp::parse_plain(&inbound.offer).ok().and_then(|o| {
                let n = sdp::negotiate(&o).ok()?;
                Some((SocketAddr::new(o.connection, o.audio_port), n))
            })
        } else {
            None
        };
        let (Some((addr, negotiated)), Some(media)) = (checked, &self.media) else {
            return self.feed(Input::Supervisor(LegInput::Answered { usable: false }));
        };
        let port = match self
            .ctx
            .media
            .add_monitor(media, hotline_core::MonitorMode::Listen)
        {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "no media port for the monitor leg");
                return self.feed(Input::Supervisor(LegInput::InviteFailed {
                    reason: e.to_string(),
                }));
            }
        };
        let answer = sdp::build(
            self.ctx.cfg.media_ip,
            port,
            &[negotiated.codec],
            negotiated.telephone_event,
            self.session_id ^ 0x5u64,
            1,
        );
        if let Err(e) = inbound.answer(answer) {
            warn!(error = %e, "cannot answer the supervisor's call");
            return self.feed(Input::Supervisor(LegInput::InviteFailed {
                reason: e.to_string(),
            }));
        }
        self.supervisor_media = Some((addr, negotiated));
        self.feed(Input::Supervisor(LegInput::Answered { usable: true }));
    }

    fn on_agent(&mut self, i: usize, ev: Option<LegEvent>) {
        let Some(agent) = self.legs.get(i).map(|(a, _)| a.clone()) else {
            return;
        };
        if let Some(event) = ev.as_ref().and_then(session_input) {
            return self.feed(Input::Agent { agent, event });
        }
        let event = match ev {
            Some(LegEvent::Answered { sdp: answer }) => {
                let usable = match self.agent_answer(&agent, &answer) {
                    Ok(m) => {
                        self.agent_media.insert(agent.clone(), m);
                        true
                    }
                    Err(e) => {
                        warn!(agent = %agent, error = %e, "agent answered with unusable SDP");
                        false
                    }
                };
                LegInput::Answered { usable }
            }
            Some(LegEvent::Rejected { status }) => {
                info!(agent = %agent, status, "agent refused the call");
                self.legs.remove(i);
                LegInput::Rejected { status }
            }
            Some(LegEvent::RemoteHold { held }) => LegInput::RemoteHold { held },
            Some(LegEvent::Refer { target }) => LegInput::Refer { target },
            Some(LegEvent::Reoffer { sdp }) => return self.srtp_reoffer(Some(&agent), &sdp),
            Some(e) if e.keeps_the_leg_up() => return,
            other => {
                self.legs.remove(i);
                LegInput::Gone {
                    reason: gone_reason(other),
                }
            }
        };
        self.feed(Input::Agent { agent, event });
    }

    /// Puts the SRTP legs set up so far in the event log (`media_encrypted`).
    fn announce_srtp(&mut self) {
        for (side, agent, suite) in std::mem::take(&mut self.srtp_announce) {
            self.ctx.publish(CallEvent {
                at_ms: self.ctx.clock.now_ms(),
                call_id: Some(self.call.id().clone()),
                agent,
                queue: None,
                kind: EventKind::MediaEncrypted {
                    side,
                    suite: suite.to_string(),
                },
            });
        }
    }

    /// A re-offer with an `a=crypto` key from the caller (`None`) or an
    /// agent (RFC 4568 §7.1.4: a phone may change its key in a re-INVITE):
    /// a new key re-keys that leg of the relay (the old key is taken until
    /// the first packet under the new one). Plain legs are left alone.
    fn srtp_reoffer(&mut self, agent: Option<&AgentId>, sdp: &[u8]) {
        let Some(key) = std::str::from_utf8(sdp).ok().and_then(srtp::offered_key) else {
            return;
        };
        let Some(m) = &self.media else {
            return;
        };
        match agent {
            None => {
                // nothing on a plain leg, nor for the same key
                let Some(theirs) = self.caller_srtp.as_mut() else {
                    debug!(
                        suite = key.suite.name(),
                        "SRTP: a key in the caller's re-offer on a plain leg: ignored"
                    );
                    return;
                };
                if *theirs == key {
                    return;
                }
                *theirs = key.clone();
                m.rekey_srtp(Side::Caller, &key);
                info!(
                    suite = key.suite.name(),
                    "SRTP: the caller's phone changed its key (re-INVITE): re-keyed"
                );
                self.publish_rekeyed(Side::Caller, None);
            }
            Some(a) => {
                let Some((_, theirs)) = self.agent_srtp.get_mut(a) else {
                    return;
                };
                if *theirs == key {
                    return;
                }
                *theirs = key.clone();
                if self.srtp_bridged.as_ref() == Some(a) {
                    m.rekey_srtp(Side::Agent, &key);
                }
                info!(agent = %a, suite = key.suite.name(), "SRTP: the agent's phone changed its key (re-INVITE): re-keyed");
                self.publish_rekeyed(Side::Agent, Some(a.clone()));
            }
        }
    }

    /// `media_rekeyed` for the leg on `side` (the agent's names them).
    fn publish_rekeyed(&self, side: Side, agent: Option<AgentId>) {
        self.ctx.publish(CallEvent {
            at_ms: self.ctx.clock.now_ms(),
            call_id: Some(self.call.id().clone()),
            agent,
            queue: None,
            kind: EventKind::MediaRekeyed { side },
        });
    }

    /// An agent's answer to our INVITE: where its RTP goes and what it
    /// speaks, and its SRTP key when we offered ours and it took it
    /// (required: it must; an answer we cannot use is refused).
    fn agent_answer(
        &mut self,
        agent: &AgentId,
        answer: &[u8],
    ) -> Result<(SocketAddr, Negotiated), String> {
        let a = sdp::parse(answer).map_err(|e| e.to_string())?;
        let n = sdp::negotiate(&a).map_err(|e| e.to_string())?;
        self.agent_srtp.remove(agent);
        match self.agent_offer_keys.get(agent).cloned() {
            // a plain offer: a key or RTP/SAVP in the answer is not ours to take
            None if a.savp => return Err("RTP/SAVP answer to a plain RTP offer".into()),
            None => {}
            Some(ours) => {
                // we only offered a key where it may travel
                let policy = self.ctx.cfg.srtp.for_agent(agent);
                match srtp::negotiate_sdp(policy, &a, true, true) {
                    srtp::Negotiated::Plain => {}
                    srtp::Negotiated::Srtp(theirs) => {
                        if theirs.suite != ours.suite {
                            srtp_stats::counters().refused(srtp_stats::RefusalReason::Answer);
                            return Err(format!(
                                "SRTP: the answer's suite {} is not the one offered",
                                theirs.suite.name()
                            ));
                        }
                        info!(agent = %agent, suite = theirs.suite.name(), "SRTP on the agent leg (SDES)");
                        srtp_stats::counters().leg(Side::Agent);
                        self.srtp_announce.push((
                            Side::Agent,
                            Some(agent.clone()),
                            theirs.suite.name(),
                        ));
                        self.announce_srtp();
                        self.agent_srtp
                            .insert(agent.clone(), (ours.clone(), theirs));
                    }
                    srtp::Negotiated::Refuse(why) => {
                        warn!(agent = %agent, %policy, reason = why, "SRTP: the agent's answer is refused");
                        srtp_stats::counters().refused(srtp_stats::RefusalReason::Answer);
                        return Err(format!("SRTP: {why}"));
                    }
                }
            }
        }
        Ok((SocketAddr::new(a.connection, a.audio_port), n))
    }

    /// Carries out the call's commands; true once the call is over.
    async fn carry_out(&mut self) -> bool {
        while let Some(cmd) = self.call.poll_command() {
            match cmd {
                Command::Ringing => {
                    if let CustomerLeg::Inbound(c) = &self.customer {
                        c.ringing();
                    }
                }
                Command::AnswerCaller => {
                    if let (CustomerLeg::Inbound(c), Some(sdp)) = (&self.customer, &self.caller_sdp)
                    {
                        match c.answer(sdp.clone()) {
                            Err(e) => warn!(error = %e, "cannot answer caller"),
                            Ok(()) => {
                                if let Some(t) = c.session {
                                    self.feed(Input::Caller(timer_input(&t)));
                                }
                            }
                        }
                    }
                }
                Command::RefreshCaller { interval_s } => match &self.customer {
                    CustomerLeg::Inbound(c) => c.refresh_session(interval_s),
                    CustomerLeg::Outbound(Some(l)) => l.refresh_session(interval_s),
                    CustomerLeg::Outbound(None) => {}
                },
                Command::RefreshAgent { agent, interval_s } => {
                    if let Some(leg) = self.leg(&agent) {
                        leg.refresh_session(interval_s);
                    }
                }
                Command::RejectCaller { status, reason } => {
                    info!(status, %reason, "call rejected");
                    if let CustomerLeg::Inbound(c) = &self.customer {
                        c.reject(status, Some(reason));
                    }
                }
                Command::HangUpCaller => match &mut self.customer {
                    CustomerLeg::Inbound(c) => c.hangup().await,
                    CustomerLeg::Outbound(leg) => {
                        if let Some(l) = leg.take() {
                            Box::pin(async move { l.hangup().await }).await;
                        }
                        self.trunk = None;
                    }
                },
                // the futures of rare or large steps are boxed: the call's
                // task would otherwise carry the largest of them for its
                // whole life (issue 19, memory per call)
                Command::DialCustomer { number } => Box::pin(self.dial_customer(&number)).await,
                Command::InviteAgent { agent } => Box::pin(self.invite_agent(agent)).await,
                Command::HangUpAgent { agent } => {
                    if let Some(i) = self.legs.iter().position(|(a, _)| a == &agent) {
                        let (_, leg) = self.legs.remove(i);
                        Box::pin(async move { leg.hangup().await }).await;
                    }
                }
                Command::Play { prompts, looped } => {
                    let audio: Vec<Prompt> = prompts
                        .iter()
                        .flat_map(|p| self.ctx.env.resolve(p))
                        .collect();
                    if let Some(m) = &self.media {
                        m.play_to_caller(audio, looped);
                    }
                }
                Command::Bridge { agent } => {
                    if let Some(m) = &self.media {
                        if let Some((a, (addr, n))) = agent.and_then(|a| {
                            let media = self.agent_media.get(&a).copied()?;
                            Some((a, media))
                        }) {
                            // the leg's own keys, or plain RTP (a transfer
                            // from an SRTP agent to a plain one)
                            let keys = self.agent_srtp.get(&a).map(|(o, t)| (o, t));
                            self.srtp_bridged = Some(a.clone());
                            if let Err(e) = m.set_srtp(Side::Agent, keys) {
                                warn!(agent = %a, error = %e, "SRTP: cannot set up the keys");
                            }
                            m.set_remote(Side::Agent, addr, n);
                        }
                        m.bridge(self.recording.as_ref().map(RecordingHandle::sender));
                    }
                }
                Command::Hold => {
                    if let Some(m) = &self.media {
                        m.hold(vec![self.ctx.env.prompts.music.clone()]);
                    }
                }
                Command::Unhold => {
                    if let Some(m) = &self.media {
                        m.unhold();
                    }
                }
                Command::ToneToAgent(p) => {
                    if let (Some(m), Some(tone)) = (&self.media, self.ctx.env.resolve(&p).pop()) {
                        m.tone_to_agent(tone);
                    }
                }
                Command::PlayToBoth(p) => {
                    let parts = self.ctx.env.resolve(&p);
                    if let (Some(m), false) = (&self.media, parts.is_empty()) {
                        let samples: Vec<i16> = parts
                            .iter()
                            .flat_map(|x| x.samples().iter().copied())
                            .collect();
                        m.play_to_both(Prompt::from_samples(&p.name(), samples));
                    }
                }
                Command::PlayIntoCall => {
                    if let (Some(m), Some(audio)) = (&self.media, self.play_audio.take()) {
                        m.play_to_both(audio);
                    }
                }
                Command::OpenRecording => {
                    let input = match self.ctx.recorder.open(self.call.id(), self.now()) {
                        Ok(h) => {
                            let path = h.relative_path().to_string();
                            self.recording = Some(h);
                            Input::RecordingOpened { path }
                        }
                        Err(e) => {
                            warn!(error = %e, "recording could not be started; the call goes on");
                            Input::RecordingFailed {
                                reason: e.to_string(),
                            }
                        }
                    };
                    self.feed(input);
                }
                Command::TapRecording => {
                    if let (Some(m), Some(r)) = (&self.media, &self.recording) {
                        m.tap(r.sender());
                    }
                }
                Command::MuteRecording(muted) => {
                    if let Some(m) = &self.media {
                        m.mute_tap(muted);
                    }
                }
                Command::StopTap => {
                    if let Some(m) = &self.media {
                        m.stop_tap();
                    }
                }
                Command::CloseRecording { agent, pauses_ms } => {
                    let input = Box::pin(self.close_recording(agent, pauses_ms)).await;
                    self.feed(input);
                }
                Command::AgentRinging { agent } => {
                    if let Some(AgentLeg::In(c)) = self.leg(&agent) {
                        c.ringing();
                    }
                }
                Command::AnswerAgent { agent } => {
                    if let (Some(AgentLeg::In(c)), Some(sdp)) = (self.leg(&agent), &self.agent_sdp)
                    {
                        match c.answer(sdp.clone()) {
                            Err(e) => warn!(error = %e, "cannot answer the agent's call"),
                            Ok(()) => {
                                if let Some(t) = c.session {
                                    let event = timer_input(&t);
                                    self.feed(Input::Agent { agent, event });
                                }
                            }
                        }
                    }
                }
                Command::RejectAgent {
                    agent,
                    status,
                    reason,
                } => {
                    info!(status, %reason, "agent's call refused");
                    if let Some(i) = self.legs.iter().position(|(a, _)| a == &agent) {
                        if let (_, AgentLeg::In(c)) = self.legs.remove(i) {
                            c.reject(status, Some(reason));
                        }
                    }
                }
                Command::ReleaseMedia => {
                    self.media = None;
                    self.dtmf = None;
                    self.agent_media.clear();
                }
                Command::CheckMedia => {
                    let now_counts = self
                        .media
                        .as_ref()
                        .map(|m| {
                            let s = m.stats();
                            (s.caller.packets_in, s.agent.packets_in)
                        })
                        .unwrap_or_default();
                    let (caller, agent) = match self.media_counts.replace(now_counts) {
                        Some((c, a)) => (now_counts.0 > c, now_counts.1 > a),
                        None => (true, true),
                    };
                    self.feed(Input::MediaChecked { caller, agent });
                }
                Command::CheckSilence => {
                    let heard = self
                        .media
                        .as_ref()
                        .is_some_and(|m| m.caller_voice_at_ms().is_some());
                    if !heard {
                        warn!(
                            silent_ms = self.ctx.cfg.silent_line_ms,
                            "silent line: no sound from the caller"
                        );
                    }
                    self.feed(Input::SilenceChecked { heard });
                }
                Command::Tell(msg) => {
                    let call = self.call.id().clone();
                    self.ctx
                        .controller
                        .send(FromCall::Tell { call, msg })
                        .await
                        .ok();
                }
                Command::Emit(e) => {
                    self.ctx.publish(e);
                    self.announce_srtp();
                }
                Command::InviteSupervisor { supervisor } => {
                    Box::pin(self.invite_supervisor(supervisor)).await
                }
                Command::AnswerSupervisor => self.answer_supervisor(),
                Command::JoinMonitor { mode } => {
                    if let (Some(m), Some((addr, n))) = (&self.media, self.supervisor_media) {
                        m.set_monitor_remote(addr, n);
                        m.set_monitor_mode(mode);
                    }
                }
                Command::SetMonitorMode(mode) => {
                    if let Some(m) = &self.media {
                        m.set_monitor_mode(mode);
                    }
                }
                Command::EndMonitor { hang_up } => {
                    if let Some(m) = &self.media {
                        m.stop_monitor();
                    }
                    let answered = self.supervisor_media.take().is_some();
                    self.own_leg_token = None;
                    match (self.supervisor.take(), hang_up) {
                        (Some(AgentLeg::In(c)), true) if !answered => {
                            c.reject(480, Some("the monitoring could not start".into()))
                        }
                        (Some(leg), true) => Box::pin(async move { leg.hangup().await }).await,
                        _ => {}
                    }
                }
                Command::Reply { token, result } => {
                    if self.own_leg_token == Some(token) {
                        self.own_leg_token = None;
                        if let Err(e) = &result {
                            if let Some(AgentLeg::In(c)) = self.supervisor.take() {
                                c.reject(403, Some(e.to_string()));
                            }
                        }
                    }
                    if let Some(reply) = self.replies.remove(&token) {
                        let _ = reply.send(result);
                    }
                }
                Command::Finished(cdr) => {
                    info!(outcome = ?cdr.outcome, "call over");
                    let legs = std::mem::take(&mut self.legs);
                    let supervisor = self.supervisor.take();
                    Box::pin(async move {
                        for (_, leg) in legs {
                            leg.hangup().await;
                        }
                        if let Some(leg) = supervisor {
                            leg.hangup().await;
                        }
                    })
                    .await;
                    self.ctx.sink.cdr(*cdr);
                    return true;
                }
            }
        }
        self.call.is_done()
    }

    fn ensure_media(&mut self) -> bool {
        if self.media.is_some() {
            return true;
        }
        match self.ctx.media.allocate(self.call.id().as_str()) {
            Ok(m) => {
                self.media = Some(m);
                true
            }
            Err(e) => {
                warn!(error = %e, "no media ports");
                false
            }
        }
    }

    async fn invite_agent(&mut self, agent: AgentId) {
        let failed = |reason: String| Input::Agent {
            agent: agent.clone(),
            event: LegInput::InviteFailed { reason },
        };
        if !self.ensure_media() {
            return self.feed(failed("no media ports".into()));
        }
        let (Some(binding), Some(media)) = (self.bindings.get(&agent).cloned(), &self.media) else {
            return self.feed(failed("no contact".into()));
        };
        // SDES keys travel in the SDP: only to a phone registered over TLS
        // (or where the operator allows it); required: RTP/SAVP only
        let policy = self.ctx.cfg.srtp.for_agent(&agent);
        let keys_may_travel =
            binding.transport == SipTransport::Tls || self.ctx.cfg.srtp.allow_without_tls;
        let savp = match (policy, keys_may_travel) {
            (SrtpPolicy::Off, _) | (SrtpPolicy::Optional, false) => None,
            (SrtpPolicy::Optional, true) => Some(false),
            (SrtpPolicy::Required, true) => Some(true),
            (SrtpPolicy::Required, false) => {
                warn!(agent = %agent, transport = ?binding.transport, "SRTP required for the agent but the phone is not registered over TLS: not rung");
                return self.feed(failed(
                    "SRTP required: the phone is not registered over TLS".into(),
                ));
            }
        };
        let our_key = savp.map(|_| SdesKey::generate(1));
        match &our_key {
            Some(k) => {
                self.agent_offer_keys.insert(agent.clone(), k.clone());
            }
            None => {
                self.agent_offer_keys.remove(&agent);
            }
        }
        let agent_sdp = sdp::build_secure(
            self.ctx.cfg.media_ip,
            media.agent_port(),
            &[Codec::Pcmu, Codec::Pcma],
            Some(TELEPHONE_EVENT_PT),
            self.session_id,
            1,
            our_key
                .as_ref()
                .zip(savp)
                .map(|(key, savp)| sdp::Secure { key, savp }),
        );
        let caller = self.caller_party();
        let span = info_span!("agent", agent = %agent);
        match self
            .ctx
            .sip
            .invite(&binding, &caller, agent_sdp)
            .instrument(span)
            .await
        {
            Ok(leg) => {
                info!(agent = %agent, contact = %binding.contact, "offering call");
                self.legs.push((agent.clone(), AgentLeg::Out(leg)));
                self.feed(Input::Agent {
                    agent,
                    event: LegInput::Invited {
                        contact: binding.contact,
                    },
                });
            }
            Err(e) => {
                warn!(agent = %agent, error = %e, "cannot invite agent");
                self.feed(failed(e.to_string()));
            }
        }
    }

    fn leg(&self, agent: &AgentId) -> Option<&AgentLeg> {
        self.legs.iter().find(|(a, _)| a == agent).map(|(_, l)| l)
    }

    fn caller_party(&self) -> Party {
        match &self.customer {
            CustomerLeg::Inbound(c) => c.caller.clone(),
            CustomerLeg::Outbound(_) => Party {
                number: self.callback_number(),
                display: None,
            },
        }
    }

    fn callback_number(&self) -> String {
        self.call
            .events()
            .iter()
            .find_map(|e| match &e.kind {
                hotline_core::EventKind::Arrived { caller, .. } => Some(caller.number.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    async fn dial_customer(&mut self, number: &str) {
        let failed = |reason: String| Input::Caller(LegInput::InviteFailed { reason });
        let cfg = &self.ctx.cfg;
        let trunk = if self.outbound {
            cfg.outbound.as_ref().and_then(|o| o.trunk.clone())
        } else {
            cfg.callback.as_ref().and_then(|c| c.trunk.clone())
        };
        // through a trunk: a channel and the number in the carrier's format
        let target = match trunk {
            Some(name) => {
                // a retry (callback) gives the previous attempt's channel back first
                self.trunk = None;
                match self.ctx.trunks.seize(&name, number) {
                    Ok(seized) => {
                        let t = DialTarget::Trunk(seized.target.clone(), seized.number.clone());
                        self.trunk = Some(seized);
                        t
                    }
                    Err(refusal) => return self.feed(failed(refusal.to_string())),
                }
            }
            None => {
                let via = if self.outbound {
                    cfg.outbound
                        .as_ref()
                        .map(|o| (o.uri_for(number), o.gateway))
                } else {
                    cfg.callback
                        .as_ref()
                        .map(|c: &CallbackConfig| (c.uri_for(number), c.gateway))
                };
                let Some((uri, gateway)) = via else {
                    return self.feed(failed("no gateway configured".into()));
                };
                let Some(uri) = uri else {
                    return self.feed(failed(format!("`{number}` cannot be dialled")));
                };
                DialTarget::Gateway(Binding {
                    contact: uri,
                    source: gateway,
                    transport: SipTransport::Udp,
                    expires_at_ms: i64::MAX,
                    call_id: String::new(),
                    cseq: 0,
                    path: Vec::new(),
                    // the gateway is given by address: always sent there
                    nat: true,
                })
            }
        };
        if !self.ensure_media() {
            return self.feed(failed("no media ports".into()));
        }
        let Some(media) = &self.media else { return };
        let from = Party {
            number: self
                .ctx
                .cfg
                .numbers
                .first()
                .cloned()
                .unwrap_or_else(|| "hotline".into()),
            display: Some("hotline".into()),
        };
        // the [media] srtp policy on the customer's leg too (keys only
        // where they may travel: gateways and trunks are UDP/TCP)
        let secure = match customer_srtp::offer(
            self.ctx.cfg.srtp.default,
            self.ctx.cfg.srtp.allow_without_tls,
        ) {
            Ok(s) => s,
            Err(why) => {
                warn!(%number, reason = why, "SRTP: the customer is not dialled");
                srtp_stats::counters().refused(srtp_stats::RefusalReason::NoTls);
                self.trunk = None;
                return self.feed(failed(format!("SRTP: {why}")));
            }
        };
        let offer = sdp::build_secure(
            self.ctx.cfg.media_ip,
            media.caller_port(),
            &[Codec::Pcmu, Codec::Pcma],
            Some(TELEPHONE_EVENT_PT),
            self.session_id,
            1,
            secure
                .as_ref()
                .map(|(key, savp)| sdp::Secure { key, savp: *savp }),
        );
        self.customer_offer_key = secure.map(|(k, _)| k);
        let (sent, contact) = match &target {
            DialTarget::Gateway(binding) => {
                info!(%number, "calling the customer");
                (
                    self.ctx.sip.invite(binding, &from, offer).await,
                    binding.contact.clone(),
                )
            }
            DialTarget::Trunk(trunk, formatted) => {
                info!(%number, trunk = %trunk.name, dialled = %formatted, "calling the customer through a trunk");
                (
                    self.ctx
                        .sip
                        .invite_trunk(trunk, formatted, &from, offer)
                        .await,
                    trunk.uri_for(formatted),
                )
            }
        };
        match sent {
            Ok(leg) => {
                self.customer = CustomerLeg::Outbound(Some(leg));
                self.feed(Input::Caller(LegInput::Invited { contact }));
            }
            Err(e) => {
                self.trunk = None;
                self.feed(failed(e.to_string()))
            }
        }
    }

    /// Seals the recording (hash, signed manifest) off the async workers.
    async fn close_recording(
        &mut self,
        agent: Option<AgentId>,
        pauses_ms: Vec<(i64, i64)>,
    ) -> Input {
        let Some(rec) = self.recording.take() else {
            return Input::RecordingFailed {
                reason: "no recording open".into(),
            };
        };
        let parties = hotline_recorder::CallParties {
            caller: Some(self.caller_party().number),
            agent: agent.map(|a| a.to_string()),
            queue: self.call.queue().map(ToString::to_string),
            pauses_ms,
        };
        match tokio::task::spawn_blocking(move || rec.finish_with(parties)).await {
            Ok(Ok(s)) => {
                info!(path = %s.relative_path, sha256 = %s.sha256, samples = s.samples_per_channel, gaps = s.gaps, "recording sealed");
                Input::RecordingSealed(Sealed {
                    path: s.relative_path,
                    sha256: s.sha256,
                    samples: s.samples_per_channel,
                    gaps: s.gaps,
                    gap_samples: s.gap_samples,
                })
            }
            Ok(Err(e)) => {
                warn!(error = %e, "recording failed");
                Input::RecordingFailed {
                    reason: e.to_string(),
                }
            }
            Err(e) => {
                warn!(error = %e, "recording task failed");
                Input::RecordingFailed {
                    reason: e.to_string(),
                }
            }
        }
    }
}

fn negotiate(answer: &[u8]) -> Result<(SocketAddr, Negotiated), sdp::SdpError> {
    let a = sdp::parse_plain(answer)?;
    let n = sdp::negotiate(&a)?;
    Ok((SocketAddr::new(a.connection, a.audio_port), n))
}

fn gone_reason(ev: Option<LegEvent>) -> Option<String> {
    match ev {
        Some(LegEvent::Failed { reason } | LegEvent::Ended { reason }) => Some(reason),
        Some(LegEvent::Cancelled) => Some("cancelled".into()),
        Some(LegEvent::HungUp) => Some("hung up".into()),
        _ => None,
    }
}

async fn next_customer_event(leg: &mut CustomerLeg) -> Option<LegEvent> {
    match leg {
        CustomerLeg::Inbound(c) => c.next_event().await,
        CustomerLeg::Outbound(Some(l)) => l.next_event().await,
        CustomerLeg::Outbound(None) => std::future::pending().await,
    }
}

async fn next_supervisor_event(leg: &mut Option<AgentLeg>) -> Option<LegEvent> {
    match leg {
        Some(l) => l.next_event().await,
        None => std::future::pending().await,
    }
}

async fn next_digit(rx: &mut Option<mpsc::Receiver<char>>) -> Option<char> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next event of any agent leg, with the leg's index.
async fn next_agent_event(legs: &mut [(AgentId, AgentLeg)]) -> (usize, Option<LegEvent>) {
    if legs.is_empty() {
        return std::future::pending().await;
    }
    let futures = legs.iter_mut().map(|(_, l)| Box::pin(l.next_event()));
    let (ev, index, _) = futures_util::future::select_all(futures).await;
    (index, ev)
}

/// An SDP session id derived from the call id (stable for the call's life).
fn session_id(id: &CallId) -> u64 {
    id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) >> 2
}

/// Answers an agent's feature-code call: a short high beep when the request
/// was carried out, then hang up; a refusal is a 403 whose reason phrase says
/// why (phones show it).
pub(crate) async fn feature_call(
    ctx: Arc<CallCtx>,
    mut inbound: InboundCall,
    result: Result<(), ControlError>,
) {
    if let Err(e) = result {
        inbound.reject(403, Some(e.to_string()));
        return;
    }
    let offer = if inbound.offer_is_sdp {
        sdp::parse_plain(&inbound.offer).ok()
    } else {
        None
    };
    let Some((offer, negotiated)) = offer.and_then(|o| {
        let n = sdp::negotiate(&o).ok()?;
        Some((o, n))
    }) else {
        // done, but no audio to confirm it with: say so in the status line
        inbound.reject(
            488,
            Some("done (no usable SDP for the confirmation tone)".into()),
        );
        return;
    };
    let Ok(media) = ctx.media.allocate(&inbound.sip_call_id) else {
        inbound.reject(
            503,
            Some("done (no media port for the confirmation tone)".into()),
        );
        return;
    };
    media.set_remote(
        Side::Caller,
        SocketAddr::new(offer.connection, offer.audio_port),
        negotiated,
    );
    let answer = sdp::build(
        ctx.cfg.media_ip,
        media.caller_port(),
        &[negotiated.codec],
        negotiated.telephone_event,
        ctx.clock.now_ms().unsigned_abs(),
        1,
    );
    if let Err(e) = inbound.answer(answer) {
        warn!(error = %e, "cannot answer the feature code");
        return;
    }
    let beep = Prompt::tone("confirmation", 1400.0, 400, 8000);
    let until = Duration::from_millis(beep.duration_ms() + 300);
    media.play_to_caller(vec![beep], false);
    let sleep = tokio::time::sleep(until);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => { inbound.hangup().await; break; }
            ev = inbound.next_event() => match ev {
                Some(e) if e.keeps_the_leg_up() => {}
                _ => break,
            },
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The size of the future an async fn of one argument returns, without
    /// calling it: what tokio allocates for the task.
    fn future_size1<A, F>(_: impl FnOnce(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Largest call-task future accepted (debug builds lay futures out
    /// larger than release ones: the bound is for debug).
    const CALL_TASK_MAX_BYTES: usize = 4096;

    /// Every call has a driver task and tokio allocates its whole future
    /// state for the call's life. Issue 19 boxed the futures of the rare or
    /// large steps (dialling, inviting, hanging up, sealing); this fails if
    /// an await of a large future or a large local held across an await
    /// makes it grow again.
    #[test]
    fn the_call_task_future_stays_small() {
        let n = future_size1(CallDriver::run);
        eprintln!(
            "call task future: {n} bytes; CallDriver {}, Call {}, carry_out {}, next_agent_event {}, \
             next_customer_event {}, InboundCall {}, LegEvent {}, CallEvent {}, Command {}, AgentLeg {}",
            std::mem::size_of::<CallDriver>(),
            std::mem::size_of::<Call>(),
            future_size1(CallDriver::carry_out),
            future_size1(next_agent_event),
            future_size1(next_customer_event),
            std::mem::size_of::<InboundCall>(),
            std::mem::size_of::<LegEvent>(),
            std::mem::size_of::<hotline_core::CallEvent>(),
            std::mem::size_of::<hotline_callflow::Command>(),
            std::mem::size_of::<AgentLeg>(),
        );
        assert!(
            n <= CALL_TASK_MAX_BYTES,
            "the call task's future is {n} bytes"
        );
    }
}
