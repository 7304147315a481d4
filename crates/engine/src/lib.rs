//! The call controller of the hotline.
//!
//! One *controller* task owns the ACD: it learns about registrations and new
//! calls, asks the ACD which agent rings for which call, and tells the call
//! tasks. Each call is owned by one *call task* ([`call`]) that drives both SIP
//! legs, the media session and the recording, and writes the call's events.
//! Messages, not locks: call tasks talk to the controller over channels.

#![warn(missing_docs)]

pub mod announce;
mod call;
pub mod callback;
pub mod control;
mod limits;
pub mod routing;
pub mod schedule;

use call::{CallCtx, CallTask, ControllerMsg, QueueStatus};
use control::{
    refusal_text, state_name, AgentControl, AgentRequest, AgentStatus, CallTarget, ControlError,
    ControlMsg, FeatureCodes, Requester,
};
use hotline_acd::AgentState;
use hotline_acd::{Acd, AcdConfig, CallRequest, EnqueueRefused, Notice, QueueConfig, RingResult};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, Clock, EventKind, QueueId, RingCadence, SystemClock,
};
use hotline_media::prompt::Prompt;
use hotline_media::MediaEngine;
use hotline_recorder::Recorder;
use hotline_sip::{BindingChange, SipEvent, SipServer};
use hotline_store::EventSink;
use routing::{IvrMenu, NumberPattern};
use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, info_span, warn, Instrument};

/// Settings of the call controller.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Request-URI users that reach the hotline (e.g. `hotline`, `4000`).
    pub numbers: Vec<String>,
    /// The queue a call goes to unless the IVR or the blacklist says otherwise.
    pub queue: QueueId,
    /// The queues and their routing settings (the default queue is added
    /// with default settings if absent).
    pub queues: Vec<QueueConfig>,
    /// Where a queue's calls go when they wait its maximum, or when no
    /// member is logged in: queue → overflow queue.
    pub overflow: HashMap<QueueId, QueueId>,
    /// Agents' skills (name → proficiency 1–100).
    pub agent_skills: HashMap<AgentId, BTreeMap<String, u8>>,
    /// Callers served ahead of others.
    pub vip: Vec<NumberPattern>,
    /// Numbers marked malicious (configured and added at run time).
    pub blacklist: routing::Blacklist,
    /// The menu after the greeting; None = every call goes to `queue`.
    pub ivr: Option<IvrMenu>,
    /// Every configured agent.
    pub agents: Vec<AgentId>,
    /// Voicemail (None: not offered): closed queues with
    /// [`ClosedTreatment::Voicemail`], and queues overflowing to [`VOICEMAIL`].
    pub voicemail: Option<Voicemail>,
    /// What a caller of a closed queue gets after the closed message.
    pub closed_treatment: ClosedTreatment,
    /// Callbacks (None: not offered).
    pub callback: Option<callback::CallbackConfig>,
    /// Position and expected-wait announcements (None: music only).
    pub announcements: Option<announce::Announcements>,
    /// Open hours, holidays and greeting periods.
    pub schedule: schedule::Schedule,
    /// A queue's own agent ring timeout, ms (others use `agent_ring_timeout_ms`).
    pub queue_ring_timeout_ms: HashMap<QueueId, i64>,
    /// A caller who sends no sound this long after the engine answered hears
    /// the silent-line message and is hung up; 0 = never.
    pub silent_line_ms: i64,
    /// Codes agents dial to log in/out and pause/unpause.
    pub feature_codes: FeatureCodes,
    /// Ring cadence the caller hears; rings are counted on it.
    pub cadence: RingCadence,
    /// The engine answers at the end of this ring if no agent has (3).
    pub answer_after_rings: u32,
    /// How long an agent's phone rings before the next agent is tried, ms.
    pub agent_ring_timeout_ms: i64,
    /// After-call work time, ms.
    pub wrap_up_ms: i64,
    /// IP written in our SDP (where RTP reaches the engine).
    pub media_ip: IpAddr,
    /// Record every call answered by an agent (off: only on request).
    pub record: bool,
    /// Start the recording when the engine answers (the caller in the queue),
    /// not only when an agent does.
    pub record_queue: bool,
    /// Handle-time limit per call type, ms (a type absent here has none).
    pub limits: HashMap<CallType, i64>,
    /// `limit_warning` is emitted at this fraction of the limit (0–1).
    pub limit_warning_fraction: f64,
    /// Pause an agent after this many missed calls in a row (0 = never).
    pub auto_pause_after_misses: u32,
    /// Where a transfer without a target goes (the shift leaders' queue);
    /// None: a transfer must name its queue.
    pub transfer_queue: Option<QueueId>,
    /// Beep to the agent only (the caller does not hear it) at the warning
    /// and at the limit.
    pub limit_tone: bool,
}

/// Prompts the engine plays, loaded at start.
#[derive(Clone, Debug)]
pub struct Prompts {
    /// Played once when the engine answers.
    pub greeting: Prompt,
    /// Looped after the greeting until an agent answers.
    pub music: Prompt,
    /// Played to a blacklisted caller whose entry rejects them (None: 603).
    pub blacklisted: Option<Prompt>,
    /// "We cannot hear you, please call again" (None: hang up silently).
    pub silent_line: Option<Prompt>,
    /// Played to callers whose queue is closed (None: 480 before answering).
    pub closed: Option<Prompt>,
}

/// What a caller of a closed queue gets after the closed message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClosedTreatment {
    /// Goodbye (480 without a closed message).
    #[default]
    Message,
    /// A voicemail (needs [`EngineConfig::voicemail`]).
    Voicemail,
    /// A callback once the queue opens (needs [`EngineConfig::callback`]).
    Callback,
}

impl ClosedTreatment {
    /// Every treatment, in the order of the docs.
    pub const ALL: [ClosedTreatment; 3] = [
        ClosedTreatment::Message,
        ClosedTreatment::Voicemail,
        ClosedTreatment::Callback,
    ];

    /// Its config spelling: `message`, `voicemail`, `callback`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedTreatment::Message => "message",
            ClosedTreatment::Voicemail => "voicemail",
            ClosedTreatment::Callback => "callback",
        }
    }
}

impl std::fmt::Display for ClosedTreatment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A closed-queue treatment name that is none of `message`, `voicemail`, `callback`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown closed treatment `{0}` (message, voicemail or callback)")]
pub struct UnknownClosedTreatment(pub String);

impl std::str::FromStr for ClosedTreatment {
    type Err = UnknownClosedTreatment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClosedTreatment::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownClosedTreatment(s.chars().take(64).collect()))
    }
}

/// The overflow target that sends a caller to voicemail instead of a queue.
pub const VOICEMAIL: &str = "voicemail";

/// How callers leave a message.
#[derive(Debug, Clone)]
pub struct Voicemail {
    /// "Please leave your message after the tone" (a beep follows).
    pub prompt: Option<Prompt>,
    /// The longest message, ms.
    pub max_ms: i64,
}

/// A waiting call's routing, kept by the controller.
#[derive(Clone, Debug)]
struct Waiting {
    queue: QueueId,
    request: CallRequest,
    /// Overflows so far.
    hops: u32,
}

/// Everything the engine needs to run.
pub struct Engine {
    cfg: Arc<EngineConfig>,
    sip: SipServer,
    media: MediaEngine,
    recorder: Recorder,
    sink: EventSink,
    live: Option<mpsc::UnboundedSender<CallEvent>>,
    prompts: Prompts,
    clock: Arc<dyn Clock>,
    control_tx: mpsc::Sender<ControlMsg>,
    control_rx: Option<mpsc::Receiver<ControlMsg>>,
    pending_callbacks: Vec<callback::PendingCallback>,
}

impl Engine {
    /// Assembles an engine from its parts (all already started).
    pub fn new(
        cfg: EngineConfig,
        sip: SipServer,
        media: MediaEngine,
        recorder: Recorder,
        sink: EventSink,
        prompts: Prompts,
    ) -> Self {
        let (control_tx, control_rx) = mpsc::channel(256);
        Engine {
            cfg: Arc::new(cfg),
            sip,
            media,
            recorder,
            sink,
            live: None,
            prompts,
            clock: Arc::new(SystemClock),
            control_tx,
            control_rx: Some(control_rx),
            pending_callbacks: Vec::new(),
        }
    }

    /// Callbacks left pending by the previous run (see
    /// [`callback::PendingCallback::find`]): made after all, within their
    /// deadline, once their queue is open and an agent is free.
    pub fn with_pending_callbacks(mut self, pending: Vec<callback::PendingCallback>) -> Self {
        self.pending_callbacks = pending;
        self
    }

    /// A handle for agent requests (login, logout, pause, unpause) from the API.
    pub fn control(&self) -> AgentControl {
        AgentControl {
            tx: self.control_tx.clone(),
        }
    }

    /// Also hands every event, as it happens, to `live` (the live KPIs).
    pub fn with_live_events(mut self, live: mpsc::UnboundedSender<CallEvent>) -> Self {
        self.live = Some(live);
        self
    }

    /// Writes an event to the log and to the live listener.
    fn publish(&self, e: CallEvent) {
        if let Some(live) = &self.live {
            let _ = live.send(e.clone());
        }
        self.sink.event(e);
    }

    /// Runs the controller until the SIP event stream ends.
    pub async fn run(mut self, mut sip_events: mpsc::Receiver<SipEvent>) {
        let Some(mut control_rx) = self.control_rx.take() else {
            return;
        };
        // agents who logged out on request stay out across re-registrations
        let mut logged_off: HashSet<AgentId> = HashSet::new();
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: self.cfg.wrap_up_ms,
            auto_pause_after_misses: self.cfg.auto_pause_after_misses,
        });
        acd.set_queue(QueueConfig::new(self.cfg.queue.clone()));
        for q in &self.cfg.queues {
            acd.set_queue(q.clone());
        }
        for (agent, skills) in &self.cfg.agent_skills {
            acd.set_skills(agent, skills.clone());
        }
        // what each waiting call asked for, to re-queue it on overflow
        let mut requests: HashMap<CallId, Waiting> = HashMap::new();
        let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControllerMsg>(4096);
        let mut calls: HashMap<CallId, mpsc::Sender<call::CallCmd>> = HashMap::new();
        // the call each agent is talking on (for actions addressed to the agent)
        let mut talking: HashMap<AgentId, CallId> = HashMap::new();
        let ctx = Arc::new(CallCtx {
            cfg: self.cfg.clone(),
            sip: self.sip.clone(),
            media: self.media.clone(),
            recorder: self.recorder.clone(),
            sink: self.sink.clone(),
            live: self.live.clone(),
            prompts: self.prompts.clone(),
            clock: self.clock.clone(),
            controller: ctl_tx.clone(),
        });
        for p in std::mem::take(&mut self.pending_callbacks) {
            let (cmd_tx, cmd_rx) = mpsc::channel(16);
            calls.insert(p.id.clone(), cmd_tx);
            requests.insert(
                p.id.clone(),
                Waiting {
                    queue: p.queue.clone(),
                    request: CallRequest::default(),
                    hops: 0,
                },
            );
            let span = info_span!("callback", call_id = %p.id);
            let task = callback::CallbackTask::new(
                ctx.clone(),
                p.id.clone(),
                p.number.clone(),
                p.queue.clone(),
                p.deadline_ms,
                false,
                cmd_rx,
            )
            .resume(&p);
            tokio::spawn(task.run().instrument(span));
        }
        // agents already registered (none at start, but keep it correct)
        for a in self.sip.registered_agents() {
            acd.agent_logged_in(&AgentId::new(a), self.clock.now_ms());
        }
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                ev = sip_events.recv() => {
                    let Some(ev) = ev else { break };
                    let now = self.clock.now_ms();
                    match ev {
                        SipEvent::IncomingCall(inbound) if inbound.agent.is_some() => {
                            let agent = AgentId::new(inbound.agent.clone().unwrap_or_default());
                            let span = info_span!("agent", agent = %agent);
                            let _g = span.enter();
                            let result = match self.cfg.feature_codes.parse(&inbound.dialled) {
                                Some(request) => self.apply(
                                    &mut acd,
                                    &mut logged_off,
                                    &agent,
                                    request,
                                    &Requester { by: "phone".into(), override_minimum: false },
                                    now,
                                ),
                                None => Err(ControlError::Refused(format!("unknown feature code {}", inbound.dialled))),
                            };
                            drop(_g);
                            tokio::spawn(call::feature_call(ctx.clone(), inbound, result.map(|_| ())).instrument(span));
                        }
                        SipEvent::IncomingCall(inbound) => {
                            let call_id = CallId::generate(now);
                            let (cmd_tx, cmd_rx) = mpsc::channel(16);
                            calls.insert(call_id.clone(), cmd_tx);
                            let span = info_span!("call", call_id = %call_id);
                            let task = CallTask::new(ctx.clone(), call_id, inbound, cmd_rx, now);
                            tokio::spawn(task.run().instrument(span));
                        }
                        SipEvent::Binding(change) => self.on_binding(&mut acd, &logged_off, change, now),
                    }
                }
                msg = ctl_rx.recv() => {
                    let Some(msg) = msg else { break };
                    let now = self.clock.now_ms();
                    match msg {
                        ControllerMsg::Enqueue { call, queue, request } => {
                            let w = Waiting { queue, request, hops: 0 };
                            self.place(&mut acd, &calls, call.clone(), w.clone(), now);
                            requests.insert(call, w);
                        }
                        ControllerMsg::RingResult { call, agent, result } => {
                            if result == RingResult::Answered {
                                talking.insert(agent.clone(), call.clone());
                            }
                            acd.ring_result(&call, &agent, result, now);
                            // an agent whose contact is gone is not offered again
                            if result == RingResult::Unreachable && self.sip.contacts(agent.as_str()).is_empty() {
                                acd.agent_logged_out(&agent);
                            }
                        }
                        ControllerMsg::AgentReleased { agent, call } => {
                            if talking.get(&agent) == Some(&call) {
                                talking.remove(&agent);
                            }
                            if let Some(wrap_ms) = acd.call_ended(&agent, now) {
                                self.publish(CallEvent {
                                    at_ms: now,
                                    call_id: Some(call),
                                    agent: Some(agent),
                                    queue: None,
                                    kind: EventKind::WrapUp { wrap_ms },
                                });
                            }
                        }
                        ControllerMsg::Callback { old, new, number, queue, deadline_ms } => {
                            let (cmd_tx, cmd_rx) = mpsc::channel(16);
                            calls.remove(&old);
                            calls.insert(new.clone(), cmd_tx);
                            let w = requests.remove(&old).unwrap_or(Waiting {
                                queue: queue.clone(),
                                request: CallRequest::default(),
                                hops: 0,
                            });
                            // keeps the caller's place; a caller of a closed
                            // queue had none: the callback queues itself at opening
                            let queued = acd.rename_call(&old, new.clone());
                            requests.insert(new.clone(), w);
                            let span = info_span!("callback", call_id = %new);
                            let task = callback::CallbackTask::new(ctx.clone(), new, number, queue, deadline_ms, queued, cmd_rx);
                            tokio::spawn(task.run().instrument(span));
                        }
                        ControllerMsg::Status { call, default_handle_ms, reply } => {
                            let _ = reply.send(QueueStatus {
                                position: acd.position(&call),
                                expected_wait_ms: acd.expected_wait_ms(&call, default_handle_ms),
                            });
                        }
                        ControllerMsg::Gone { call } => {
                            acd.remove_call(&call, now);
                            calls.remove(&call);
                            requests.remove(&call);
                        }
                    }
                }
                msg = control_rx.recv() => {
                    let Some(msg) = msg else { continue };
                    let now = self.clock.now_ms();
                    match msg {
                        ControlMsg::Request { agent, request, requester, reply } => {
                            let r = self.apply(&mut acd, &mut logged_off, &agent, request, &requester, now);
                            let _ = reply.send(r);
                        }
                        ControlMsg::Call { target, action, by, reply } => {
                            let call = match &target {
                                CallTarget::Call(c) => Some(c.clone()),
                                CallTarget::Agent(a) => talking.get(a).cloned(),
                            };
                            let tx = call.as_ref().and_then(|c| calls.get(c));
                            match tx {
                                Some(tx) => {
                                    // the call task answers; a call that just
                                    // ended drops `reply` (NoCall below)
                                    if let Err(mpsc::error::TrySendError::Full(call::CallCmd::Control { reply, .. }) | mpsc::error::TrySendError::Closed(call::CallCmd::Control { reply, .. })) =
                                        tx.try_send(call::CallCmd::Control { action, by, reply })
                                    {
                                        let _ = reply.send(Err(ControlError::Refused("the call is busy; try again".into())));
                                    }
                                }
                                None => {
                                    let what = match target {
                                        CallTarget::Call(c) => format!("no call {c} in progress"),
                                        CallTarget::Agent(a) if self.cfg.agents.contains(&a) => format!("agent {a} is on no call"),
                                        CallTarget::Agent(a) => format!("unknown agent `{a}`"),
                                    };
                                    let _ = reply.send(Err(ControlError::NoCall(what)));
                                }
                            }
                        }
                        ControlMsg::Queues { reply } => {
                            let list = acd
                                .queue_ids()
                                .into_iter()
                                .map(|q| {
                                    let waiting: Vec<control::WaitingCaller> = acd
                                        .waiting_calls(&q)
                                        .into_iter()
                                        .enumerate()
                                        .map(|(i, w)| control::WaitingCaller {
                                            call_id: w.call.to_string(),
                                            position: i as u32 + 1,
                                            waited_ms: (now - w.since_ms).max(0),
                                            priority: w.priority,
                                            ringing: w.ringing.iter().map(ToString::to_string).collect(),
                                        })
                                        .collect();
                                    control::QueueStatus {
                                        open: self.cfg.schedule.is_open(&q, now),
                                        staffed: acd.staffed_agents(&q),
                                        longest_wait_ms: waiting.iter().map(|w| w.waited_ms).max().unwrap_or(0),
                                        waiting,
                                        queue: q.to_string(),
                                    }
                                })
                                .collect();
                            let _ = reply.send(list);
                        }
                        ControlMsg::List { reply } => {
                            let list = self
                                .cfg
                                .agents
                                .iter()
                                .map(|a| self.status(&acd, &logged_off, a))
                                .collect();
                            let _ = reply.send(list);
                        }
                    }
                }
                _ = tick.tick() => {}
            }
            let now = self.clock.now_ms();
            // a recording that stopped mid-call (disk full): raise it now,
            // the call goes on
            for f in self.recorder.take_failures() {
                warn!(call = %f.call_id, path = %f.path.display(), reason = %f.reason, "recording stopped: storage alarm");
                self.publish(CallEvent {
                    at_ms: now,
                    call_id: Some(CallId::from_stored(&f.call_id)),
                    agent: None,
                    queue: None,
                    kind: EventKind::StorageAlarm {
                        reason: format!(
                            "recording {} stopped: {} (the call goes on unrecorded)",
                            f.path.display(),
                            f.reason
                        ),
                    },
                });
            }
            // minimum staffing holds during open hours only
            for q in self
                .cfg
                .queues
                .iter()
                .map(|q| &q.id)
                .chain([&self.cfg.queue])
            {
                acd.set_queue_open(q, self.cfg.schedule.is_open(q, now));
            }
            for offer in acd.poll_offers(now) {
                let contacts = self.sip.contacts(offer.agent.as_str());
                let sent = match (calls.get(&offer.call), contacts.into_iter().next()) {
                    (Some(tx), Some(binding)) => tx
                        .try_send(call::CallCmd::Offer {
                            agent: offer.agent.clone(),
                            binding,
                        })
                        .is_ok(),
                    _ => false,
                };
                if !sent {
                    warn!(agent = %offer.agent, call = %offer.call, "offer could not be delivered");
                    acd.ring_result(&offer.call, &offer.agent, RingResult::Unreachable, now);
                    if self.sip.contacts(offer.agent.as_str()).is_empty() {
                        acd.agent_logged_out(&offer.agent);
                    }
                }
            }
            for (call, from) in self.publish_notices(&mut acd, now) {
                // max wait reached: the ACD has let the call go; overflow it
                if let Some(w) = requests.get_mut(&call) {
                    self.overflow(&mut acd, &calls, &call, w, &from, "max_wait", now);
                }
            }
        }
        info!("engine stopped");
    }

    /// Puts a call in its queue, or overflows it when the queue has no
    /// member logged in, or refuses it when the queue is full.
    fn place(
        &self,
        acd: &mut Acd,
        calls: &HashMap<CallId, mpsc::Sender<call::CallCmd>>,
        call: CallId,
        mut w: Waiting,
        now: i64,
    ) {
        if acd.staffed_agents(&w.queue) == 0 && self.cfg.overflow.contains_key(&w.queue) {
            let from = w.queue.clone();
            self.overflow(acd, calls, &call, &mut w, &from, "no_agents", now);
            return;
        }
        match acd.enqueue_in(&w.queue, call.clone(), w.request.clone(), now) {
            Ok(position) => self.publish(CallEvent {
                at_ms: now,
                call_id: Some(call),
                agent: None,
                queue: Some(w.queue.clone()),
                kind: EventKind::Queued { position },
            }),
            Err(EnqueueRefused::QueueFull { .. }) if self.cfg.overflow.contains_key(&w.queue) => {
                let from = w.queue.clone();
                self.overflow(acd, calls, &call, &mut w, &from, "full", now);
            }
            Err(refused) => {
                let reason = match refused {
                    EnqueueRefused::QueueFull { waiting } => {
                        format!("queue {} full ({waiting} waiting)", w.queue)
                    }
                    EnqueueRefused::UnknownQueue(q) => format!("unknown queue {q}"),
                };
                warn!(call = %call, %reason, "call refused by the queue");
                if let Some(tx) = calls.get(&call) {
                    let _ = tx.try_send(call::CallCmd::Refused { reason });
                }
            }
        }
    }

    /// Moves a call to its queue's overflow queue (at most a few hops, so a
    /// cycle of overflows cannot spin), or back into its own queue if none.
    #[allow(clippy::too_many_arguments)]
    fn overflow(
        &self,
        acd: &mut Acd,
        calls: &HashMap<CallId, mpsc::Sender<call::CallCmd>>,
        call: &CallId,
        w: &mut Waiting,
        from: &QueueId,
        reason: &str,
        now: i64,
    ) {
        const MAX_HOPS: u32 = 4;
        let target = self
            .cfg
            .overflow
            .get(from)
            .filter(|_| w.hops < MAX_HOPS)
            .cloned();
        let Some(to) = target else {
            // nowhere to go: the caller keeps waiting where they are, or is
            // refused if even that queue is full
            if let Err(refused) = acd.enqueue_in(from, call.clone(), w.request.clone(), now) {
                warn!(call = %call, ?refused, "call refused: no overflow left");
                if let Some(tx) = calls.get(call) {
                    let _ = tx.try_send(call::CallCmd::Refused {
                        reason: format!("queue {from} full"),
                    });
                }
            }
            return;
        };
        w.hops += 1;
        if to.as_str() == VOICEMAIL && self.cfg.voicemail.is_some() {
            info!(call = %call, from = %from, reason, "call overflows to voicemail");
            self.publish(CallEvent {
                at_ms: now,
                call_id: Some(call.clone()),
                agent: None,
                queue: Some(from.clone()),
                kind: EventKind::Overflowed {
                    from: from.clone(),
                    reason: reason.to_string(),
                },
            });
            acd.remove_call(call, now);
            if let Some(tx) = calls.get(call) {
                let _ = tx.try_send(call::CallCmd::Voicemail);
            }
            return;
        }
        w.queue = to.clone();
        info!(call = %call, from = %from, to = %to, reason, "call overflows");
        self.publish(CallEvent {
            at_ms: now,
            call_id: Some(call.clone()),
            agent: None,
            queue: Some(to.clone()),
            kind: EventKind::Overflowed {
                from: from.clone(),
                reason: reason.to_string(),
            },
        });
        if let Some(tx) = calls.get(call) {
            let _ = tx.try_send(call::CallCmd::Moved { queue: to });
        }
        self.place(acd, calls, call.clone(), w.clone(), now);
    }

    /// Turns the ACD's notices into events; returns the calls that reached
    /// their queue's maximum wait, with that queue.
    fn publish_notices(&self, acd: &mut Acd, now: i64) -> Vec<(CallId, QueueId)> {
        let mut max_waits = Vec::new();
        for n in acd.take_notices() {
            let (agent, kind) = match n {
                Notice::AgentAutoPaused { agent, misses } => {
                    warn!(agent = %agent, misses, "agent paused after missed calls");
                    (
                        agent,
                        EventKind::AgentPaused {
                            reason: hotline_acd::MISSED_CALLS_REASON.to_string(),
                            by: "acd".to_string(),
                            after_call: false,
                        },
                    )
                }
                Notice::MinimumOverridden { agent, queue, by } => {
                    warn!(agent = %agent, queue = %queue, by = %by, "minimum staffing overridden");
                    (agent, EventKind::MinimumStaffingOverridden { queue, by })
                }
                Notice::MaxWaitReached {
                    call,
                    queue,
                    waited_ms,
                } => {
                    info!(call = %call, queue = %queue, waited_ms, "call reached its queue's maximum wait");
                    max_waits.push((call, queue));
                    continue;
                }
            };
            self.publish(CallEvent {
                at_ms: now,
                call_id: None,
                agent: Some(agent),
                queue: None,
                kind,
            });
        }
        max_waits
    }

    /// An agent's status for the API.
    fn status(&self, acd: &Acd, logged_off: &HashSet<AgentId>, agent: &AgentId) -> AgentStatus {
        let state = acd.agent_state(agent);
        let counters = acd.counters(agent);
        AgentStatus {
            agent: agent.as_str().to_string(),
            state: state_name(&state),
            reason: match state {
                AgentState::Paused { reason, .. } => Some(reason),
                _ => None,
            },
            registered: !self.sip.contacts(agent.as_str()).is_empty(),
            logged_out_by_request: logged_off.contains(agent),
            answered: counters.answered,
            missed: counters.missed,
        }
    }

    /// Carries out an agent request on the ACD; every change and refusal is an event.
    fn apply(
        &self,
        acd: &mut Acd,
        logged_off: &mut HashSet<AgentId>,
        agent: &AgentId,
        request: AgentRequest,
        requester: &Requester,
        now: i64,
    ) -> Result<AgentStatus, ControlError> {
        if !self.cfg.agents.contains(agent) {
            return Err(ControlError::UnknownAgent(agent.as_str().to_string()));
        }
        let by = requester.by.clone();
        let allow = requester.override_minimum.then_some(by.as_str());
        let state = acd.agent_state(agent);
        let done: Result<EventKind, String> = match &request {
            AgentRequest::Login => {
                if self.sip.contacts(agent.as_str()).is_empty() {
                    Err("no phone of this agent is registered".to_string())
                } else {
                    logged_off.remove(agent);
                    acd.agent_logged_in(agent, now);
                    Ok(EventKind::AgentLoggedIn { by: by.clone() })
                }
            }
            AgentRequest::Logout => match acd.logout(agent, allow) {
                Ok(()) => {
                    logged_off.insert(agent.clone());
                    Ok(EventKind::AgentLoggedOut { by: by.clone() })
                }
                Err(r) => Err(refusal_text(&r)),
            },
            AgentRequest::Pause { reason } => {
                let after_call = matches!(state, AgentState::Ringing | AgentState::OnCall);
                acd.pause(agent, reason, now, allow)
                    .map(|()| EventKind::AgentPaused {
                        reason: reason.clone(),
                        by: by.clone(),
                        after_call,
                    })
                    .map_err(|r| refusal_text(&r))
            }
            AgentRequest::Unpause => match state {
                AgentState::LoggedOut => Err("not logged in".to_string()),
                AgentState::Available { .. } | AgentState::WrapUp { .. } => {
                    Err("not paused".to_string())
                }
                _ => {
                    acd.unpause(agent, now);
                    Ok(EventKind::AgentUnpaused { by: by.clone() })
                }
            },
        };
        let event = |kind| CallEvent {
            at_ms: now,
            call_id: None,
            agent: Some(agent.clone()),
            queue: None,
            kind,
        };
        match done {
            Ok(kind) => {
                info!(agent = %agent, request = request.name(), by = %by, "agent request done");
                // an override's notice is published with the others after this turn
                self.publish(event(kind));
                Ok(self.status(acd, logged_off, agent))
            }
            Err(reason) => {
                warn!(agent = %agent, request = request.name(), by = %by, %reason, "agent request refused");
                self.publish(event(EventKind::AgentRequestRefused {
                    request: request.name().to_string(),
                    reason: reason.clone(),
                    by,
                }));
                Err(ControlError::Refused(reason))
            }
        }
    }

    fn on_binding(
        &self,
        acd: &mut Acd,
        logged_off: &HashSet<AgentId>,
        change: BindingChange,
        now: i64,
    ) {
        let (agent, kind) = match change {
            BindingChange::Added {
                agent,
                contact,
                expires_s,
            } => {
                let id = AgentId::new(agent.clone());
                if !logged_off.contains(&id) {
                    acd.agent_logged_in(&id, now);
                }
                (agent, EventKind::AgentRegistered { contact, expires_s })
            }
            BindingChange::Removed { agent, contact } => {
                if self.sip.contacts(&agent).is_empty() {
                    acd.agent_logged_out(&AgentId::new(agent.clone()));
                }
                (agent, EventKind::AgentUnregistered { contact })
            }
        };
        self.publish(CallEvent {
            at_ms: now,
            call_id: None,
            agent: Some(AgentId::new(agent)),
            queue: None,
            kind,
        });
    }
}
