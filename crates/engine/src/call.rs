//! One call, owned by one task: the caller's leg, the agent legs tried in turn,
//! the media session, the recording and the call's events and CDR.

use crate::control::{CallAction, ControlError, TalkingCall};
use crate::limits::LimitWatch;
use crate::routing::{self, BlacklistAction, IvrOption, MenuInput};
use crate::{ClosedTreatment, EngineConfig, Prompts};
use hotline_acd::{CallRequest, RingResult, SkillNeed};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, Clock, EndedBy, EventKind, Outcome, Party, QueueId, Side,
};
use hotline_media::prompt::Prompt;
use hotline_media::sdp;
use hotline_media::{Codec, MediaEngine, MediaSession};
use hotline_recorder::{Recorder, RecordingHandle};
use hotline_sip::{Binding, InboundCall, LegEvent, OutboundLeg, SipServer};
use hotline_store::{Cdr, EventSink};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{info, info_span, warn, Instrument};

/// RTP payload type we offer agents for telephone-event.
pub(crate) const TELEPHONE_EVENT_PT: u8 = 101;

/// Controller → call task.
#[derive(Debug)]
pub(crate) enum CallCmd {
    /// Ring this agent at this contact.
    Offer { agent: AgentId, binding: Binding },
    /// The queue refused the call (full).
    Refused { reason: String },
    /// The call overflowed to another queue.
    Moved { queue: QueueId },
    /// The call overflowed to voicemail.
    Voicemail,
    /// An action of the agent or a supervisor on the talking call.
    Control {
        action: CallAction,
        by: String,
        reply: tokio::sync::oneshot::Sender<Result<TalkingCall, ControlError>>,
    },
}

/// Call task → controller.
#[derive(Debug)]
pub(crate) enum ControllerMsg {
    /// The call waits for an agent in `queue`.
    Enqueue {
        call: CallId,
        queue: QueueId,
        request: CallRequest,
    },
    /// What came of an offer.
    RingResult {
        call: CallId,
        agent: AgentId,
        result: RingResult,
    },
    /// The agent's call ended: wrap-up.
    AgentReleased { agent: AgentId, call: CallId },
    /// The call is over; forget it.
    Gone { call: CallId },
    /// The caller asked for a callback: `new` takes over `old`'s place.
    Callback {
        old: CallId,
        new: CallId,
        number: String,
        queue: QueueId,
        deadline_ms: i64,
    },
    /// Where the waiting call stands (for announcements).
    Status {
        call: CallId,
        default_handle_ms: i64,
        reply: tokio::sync::oneshot::Sender<QueueStatus>,
    },
}

/// A waiting call's place in its queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueStatus {
    /// 1 = next; None when not waiting.
    pub position: Option<u32>,
    /// Expected wait, ms, when it can be estimated.
    pub expected_wait_ms: Option<i64>,
}

/// What every call task shares.
pub(crate) struct CallCtx {
    pub cfg: Arc<EngineConfig>,
    pub sip: SipServer,
    pub media: MediaEngine,
    pub recorder: Recorder,
    pub sink: EventSink,
    pub live: Option<mpsc::UnboundedSender<CallEvent>>,
    pub prompts: Prompts,
    pub clock: Arc<dyn Clock>,
    pub controller: mpsc::Sender<ControllerMsg>,
}

/// How long the phone's leg stays up after its REFER was accepted, so the
/// 202 reaches it before the BYE (a BYE first makes phones abort the REFER).
const REFER_ACCEPT_GRACE: Duration = Duration::from_millis(250);

/// Priority of a transferred caller in the new queue (VIP callers have 10).
const TRANSFER_PRIORITY: u8 = 20;

/// The talking phase of a call with one agent.
struct Talk {
    agent: AgentId,
    answered_ms: i64,
    /// On hold since (epoch ms).
    held_since: Option<i64>,
    /// Recording paused since (epoch ms).
    paused_since: Option<i64>,
    recorded: bool,
    limits: LimitWatch,
}

/// What an action came to.
enum Acted {
    Done,
    /// Open the recording now (the caller of `act` owns it).
    StartRecording,
    /// Transfer to this queue (checked, not yet carried out).
    Transfer(QueueId),
}

/// The agent-only beep: one short beep at the warning, a higher, longer one
/// at the limit.
fn limit_tone(kind: &EventKind) -> Prompt {
    match kind {
        EventKind::LimitExceeded { .. } => Prompt::tone("limit_exceeded", 1400.0, 400, 6000),
        _ => Prompt::tone("limit_warning", 1000.0, 200, 6000),
    }
}

/// An agent leg that is ringing.
struct Ringing {
    agent: AgentId,
    leg: OutboundLeg,
    deadline: Instant,
    offered_ms: i64,
}

enum Wake {
    Announce,
    Caller(Option<LegEvent>),
    SilenceCheck,
    Digit(Option<char>),
    MenuTimeout,
    Agent(usize, Option<LegEvent>),
    Cmd(Option<CallCmd>),
    RingTimeout,
    SystemAnswer,
}

/// The task that owns one call.
pub(crate) struct CallTask {
    ctx: Arc<CallCtx>,
    id: CallId,
    inbound: InboundCall,
    cmds: mpsc::Receiver<CallCmd>,
    cdr: Cdr,
    /// The queue the call waits in (None until routed: IVR pending).
    queue: Option<QueueId>,
    /// Set when the call was routed to a queue that is closed now.
    closed: bool,
    /// Spans (epoch ms) the recording was paused on request.
    pauses_ms: Vec<(i64, i64)>,
    /// The recording started at the engine's answer (`hotline.record_queue`),
    /// until an agent or the voicemail takes it over.
    queue_recording: Option<RecordingHandle>,
}

/// The IVR menu while the caller has not chosen.
struct MenuState {
    /// Menu plays left, counting the current one.
    plays_left: u32,
    /// When the current play times out (None until the menu first plays).
    deadline: Option<Instant>,
}

async fn next_digit(rx: &mut Option<mpsc::Receiver<char>>) -> Option<char> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next event of any ringing agent leg, with the leg's index.
async fn next_agent_event(ringing: &mut [Ringing]) -> (usize, Option<LegEvent>) {
    if ringing.is_empty() {
        return std::future::pending().await;
    }
    let legs = ringing.iter_mut().map(|r| Box::pin(r.leg.next_event()));
    let (ev, index, _) = futures_util::future::select_all(legs).await;
    (index, ev)
}

impl CallTask {
    pub(crate) fn new(
        ctx: Arc<CallCtx>,
        id: CallId,
        inbound: InboundCall,
        cmds: mpsc::Receiver<CallCmd>,
        now: i64,
    ) -> Self {
        let cdr = new_cdr(&id, &inbound.caller, &inbound.dialled, now);
        CallTask {
            ctx,
            id,
            inbound,
            cmds,
            cdr,
            queue: None,
            closed: false,
            pauses_ms: Vec::new(),
            queue_recording: None,
        }
    }

    fn emit(&self, agent: Option<&AgentId>, kind: EventKind) {
        emit_event(&self.ctx, &self.id, self.queue.as_ref(), agent, kind);
    }

    async fn tell(&self, msg: ControllerMsg) {
        self.ctx.controller.send(msg).await.ok();
    }

    fn finish(mut self, outcome: Outcome) {
        if let Some(rec) = self.queue_recording.take() {
            // the call ended in the queue: seal what was recorded there
            let (ctx, id, queue) = (self.ctx.clone(), self.id.clone(), self.queue.clone());
            let mut cdr = self.cdr.clone();
            tokio::spawn(async move {
                close_recording(&ctx, &id, queue.as_ref(), &mut cdr, None, rec, Vec::new()).await;
            });
        }
        self.cdr.outcome = Some(outcome);
        self.cdr.ended_ms = Some(self.ctx.clock.now_ms());
        self.ctx.sink.cdr(self.cdr.clone());
    }

    fn reject(self, status: u16, reason: &str) {
        info!(status, reason, "call rejected");
        self.inbound.reject(status, Some(reason.to_string()));
        self.emit(
            None,
            EventKind::Rejected {
                status,
                reason: reason.to_string(),
            },
        );
        self.finish(Outcome::Rejected);
    }

    /// Drives the call from INVITE to the end.
    pub(crate) async fn run(mut self) {
        let arrived = Instant::now();
        info!(caller = %self.inbound.caller.number, dialled = %self.inbound.dialled, "call arrived");
        self.emit(
            None,
            EventKind::Arrived {
                caller: self.inbound.caller.clone(),
                dialled: self.inbound.dialled.clone(),
                call_type: CallType::default(),
            },
        );
        if !self
            .ctx
            .cfg
            .numbers
            .iter()
            .any(|n| n == &self.inbound.dialled)
        {
            return self.reject(404, "not a hotline number");
        }
        if !self.inbound.offer_is_sdp || self.inbound.offer.is_empty() {
            return self.reject(488, "an SDP offer is required");
        }
        let offer = match sdp::parse(&self.inbound.offer) {
            Ok(o) => o,
            Err(e) => return self.reject(488, &format!("bad SDP: {e}")),
        };
        let caller_media = match sdp::negotiate(&offer) {
            Ok(n) => n,
            Err(e) => return self.reject(488, &format!("no common codec: {e}")),
        };
        let mut media = match self.ctx.media.allocate(self.id.as_str()) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "no media ports");
                return self.reject(503, "no media capacity");
            }
        };
        media.set_remote(
            Side::Caller,
            SocketAddr::new(offer.connection, offer.audio_port),
            caller_media,
        );
        let session_id = rand_session_id(&self.id);
        let caller_sdp = sdp::build(
            self.ctx.cfg.media_ip,
            media.caller_port(),
            &[caller_media.codec],
            caller_media.telephone_event,
            session_id,
            1,
        );
        // Screening: the blacklist first, then the IVR (if any) or the default queue.
        let mut menu: Option<MenuState> = None;
        let entry = self.ctx.cfg.blacklist.lookup(&self.inbound.caller.number);
        if let Some(entry) = entry {
            warn!(entry = %entry.pattern, action = %entry.action, reason = %entry.reason, "blacklisted caller");
            self.emit(
                None,
                EventKind::Blacklisted {
                    entry: entry.pattern.to_string(),
                    action: entry.action.to_string(),
                    reason: entry.reason.clone(),
                },
            );
            match entry.action {
                BlacklistAction::Reject => {
                    return self.refuse_blacklisted(&media, caller_sdp).await;
                }
                BlacklistAction::Queue(q) => {
                    self.inbound.ringing();
                    self.route(q, CallType::default(), None).await;
                }
            }
        } else if !self
            .ctx
            .cfg
            .schedule
            .is_open(&self.ctx.cfg.queue, self.ctx.clock.now_ms())
        {
            // the center is closed: no menu, straight to the closed treatment
            self.queue = Some(self.ctx.cfg.queue.clone());
            self.cdr.queue = self.queue.clone();
            self.closed = true;
        } else {
            self.inbound.ringing();
            match &self.ctx.cfg.ivr {
                Some(ivr) => {
                    menu = Some(MenuState {
                        plays_left: ivr.tries.max(1),
                        deadline: None,
                    })
                }
                None => {
                    let q = self.ctx.cfg.queue.clone();
                    self.route(q, CallType::default(), None).await;
                }
            }
        }
        let mut dtmf = media.take_dtmf();
        // silent line: armed when the engine answers, disarmed by any sound or key
        let mut silence_deadline: Option<Instant> = None;
        // waiting announcements: armed when the engine answers
        let mut announce_at: Option<Instant> = None;

        let cadence = self.ctx.cfg.cadence;
        let answer_at = arrived
            + Duration::from_millis(
                cadence
                    .end_of_ring_ms(self.ctx.cfg.answer_after_rings)
                    .max(0) as u64,
            );
        let mut system_answered = false;
        // agents ringing for this call (several when the queue rings all)
        let mut ringing: Vec<Ringing> = Vec::new();

        // the recording: opened at the first answer, kept across transfers
        let mut recording: Option<RecordingHandle> = None;
        // Phase 1 and 2 again after each transfer
        loop {
            // Phase 1: until an agent answers (or the caller leaves).
            let (agent, agent_leg, agent_media) = loop {
                if self.closed {
                    return self
                        .closed(&media, caller_sdp, ringing, system_answered)
                        .await;
                }
                let is_ringing = !ringing.is_empty();
                let ring_deadline = ringing.iter().map(|r| r.deadline).min().unwrap_or(arrived);
                let menu_deadline = menu.as_ref().and_then(|m| m.deadline);
                let wants_digits =
                    dtmf.is_some() && (menu.is_some() || self.ctx.cfg.callback.is_some());
                let wake = tokio::select! {
                    ev = self.inbound.next_event() => Wake::Caller(ev),
                    d = next_digit(&mut dtmf), if wants_digits => Wake::Digit(d),
                    _ = sleep_until(menu_deadline.unwrap_or(arrived)), if menu_deadline.is_some() => Wake::MenuTimeout,
                    _ = sleep_until(silence_deadline.unwrap_or(arrived)), if silence_deadline.is_some() => Wake::SilenceCheck,
                    _ = sleep_until(announce_at.unwrap_or(arrived)), if announce_at.is_some() && !is_ringing => Wake::Announce,
                    (i, ev) = next_agent_event(&mut ringing) => Wake::Agent(i, ev),
                    cmd = self.cmds.recv() => Wake::Cmd(cmd),
                    _ = sleep_until(ring_deadline), if is_ringing => Wake::RingTimeout,
                    _ = sleep_until(answer_at), if !system_answered => Wake::SystemAnswer,
                };
                match wake {
                    Wake::Announce => {
                        announce_at = self.announce(&media, menu.is_some()).await;
                    }
                    Wake::Caller(Some(LegEvent::Info { body })) => {
                        silence_deadline = None;
                        if let Some(d) = routing::dtmf_from_info(&body) {
                            if let Some(m) = menu.as_mut() {
                                if self.menu_key(m, d, &media).await {
                                    menu = None;
                                }
                            } else if self.wants_callback(d, system_answered) {
                                return self.accept_callback(&media, ringing).await;
                            }
                        }
                    }
                    Wake::SilenceCheck => {
                        silence_deadline = None;
                        if media.caller_voice_at_ms().is_none() {
                            let silent_ms = self.ctx.cfg.silent_line_ms;
                            return self.silent_line(&media, ringing, silent_ms).await;
                        }
                    }
                    Wake::Digit(Some(d)) => {
                        silence_deadline = None;
                        if let Some(m) = menu.as_mut() {
                            if self.menu_key(m, d, &media).await {
                                menu = None;
                            }
                        } else if self.wants_callback(d, system_answered) {
                            return self.accept_callback(&media, ringing).await;
                        }
                    }
                    Wake::Digit(None) => dtmf = None,
                    Wake::MenuTimeout => {
                        if let Some(m) = menu.as_mut() {
                            if self.menu_timeout(m, &media).await {
                                menu = None;
                            }
                        }
                    }
                    Wake::Caller(Some(e)) if e.keeps_the_leg_up() => {}
                    Wake::Caller(_) => {
                        // CANCEL before our answer, BYE after the system answer: abandoned.
                        let wait_ms = arrived.elapsed().as_millis() as i64;
                        self.stop_ringing(&mut ringing, RingResult::CallerGone)
                            .await;
                        info!(wait_ms, "caller abandoned");
                        self.emit(
                            None,
                            EventKind::Abandoned {
                                wait_ms,
                                position: 0,
                            },
                        );
                        self.tell(ControllerMsg::Gone {
                            call: self.id.clone(),
                        })
                        .await;
                        self.cdr.wait_ms = Some(wait_ms);
                        return self.finish(Outcome::Abandoned);
                    }
                    Wake::Cmd(None) => {
                        // the controller is gone: shutting down
                        self.inbound.reject(503, None);
                        self.inbound.hangup().await;
                        return self.finish(Outcome::Failed);
                    }
                    Wake::Cmd(Some(CallCmd::Voicemail)) => {
                        return self
                            .voicemail(&media, caller_sdp, ringing, system_answered)
                            .await;
                    }
                    Wake::Cmd(Some(CallCmd::Moved { queue })) => {
                        self.cdr.queue = Some(queue.clone());
                        self.queue = Some(queue);
                    }
                    Wake::Cmd(Some(CallCmd::Control { reply, .. })) => {
                        let _ = reply.send(Err(ControlError::Refused(
                            "the call is not talking to an agent (it is waiting)".into(),
                        )));
                    }
                    Wake::Cmd(Some(CallCmd::Refused { reason })) => {
                        self.tell(ControllerMsg::Gone {
                            call: self.id.clone(),
                        })
                        .await;
                        if system_answered {
                            info!(%reason, "queue refused the call: hanging up");
                            self.inbound.hangup().await;
                            self.emit(
                                None,
                                EventKind::Rejected {
                                    status: 486,
                                    reason,
                                },
                            );
                            return self.finish(Outcome::Rejected);
                        }
                        return self.reject(486, &reason);
                    }
                    Wake::Cmd(Some(CallCmd::Offer { agent, binding })) => {
                        let agent_sdp = sdp::build(
                            self.ctx.cfg.media_ip,
                            media.agent_port(),
                            &[Codec::Pcmu, Codec::Pcma],
                            Some(TELEPHONE_EVENT_PT),
                            session_id,
                            1,
                        );
                        let span = info_span!("agent", agent = %agent);
                        match self
                            .ctx
                            .sip
                            .invite(&binding, &self.inbound.caller, agent_sdp)
                            .instrument(span)
                            .await
                        {
                            Ok(leg) => {
                                info!(agent = %agent, contact = %binding.contact, "offering call");
                                self.emit(
                                    Some(&agent),
                                    EventKind::Offered {
                                        contact: binding.contact.clone(),
                                    },
                                );
                                let timeout_ms = self
                                    .queue
                                    .as_ref()
                                    .and_then(|q| self.ctx.cfg.queue_ring_timeout_ms.get(q))
                                    .copied()
                                    .unwrap_or(self.ctx.cfg.agent_ring_timeout_ms);
                                let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
                                ringing.push(Ringing {
                                    agent,
                                    leg,
                                    deadline: Instant::now() + timeout,
                                    offered_ms: self.ctx.clock.now_ms(),
                                });
                            }
                            Err(e) => {
                                warn!(agent = %agent, error = %e, "cannot invite agent");
                                self.emit(
                                    Some(&agent),
                                    EventKind::AgentUnreachable {
                                        reason: e.to_string(),
                                    },
                                );
                                self.tell(ControllerMsg::RingResult {
                                    call: self.id.clone(),
                                    agent,
                                    result: RingResult::Unreachable,
                                })
                                .await;
                            }
                        }
                    }
                    Wake::Agent(_, Some(e)) if e.keeps_the_leg_up() => {}
                    Wake::Agent(i, Some(LegEvent::Answered { sdp: answer })) => {
                        if i >= ringing.len() {
                            continue;
                        }
                        let r = ringing.swap_remove(i);
                        let neg = sdp::parse(&answer).and_then(|a| {
                            let n = sdp::negotiate(&a)?;
                            Ok((a, n))
                        });
                        match neg {
                            Ok((a, n)) => {
                                // ring-all: the others stop ringing (not a miss)
                                self.stop_ringing(&mut ringing, RingResult::AnsweredElsewhere)
                                    .await;
                                break (
                                    r.agent,
                                    r.leg,
                                    (SocketAddr::new(a.connection, a.audio_port), n),
                                );
                            }
                            Err(e) => {
                                warn!(agent = %r.agent, error = %e, "agent answered with unusable SDP");
                                r.leg.hangup().await;
                                self.emit(Some(&r.agent), EventKind::AgentRejected { status: 488 });
                                self.tell(ControllerMsg::RingResult {
                                    call: self.id.clone(),
                                    agent: r.agent,
                                    result: RingResult::Rejected,
                                })
                                .await;
                            }
                        }
                    }
                    Wake::Agent(i, Some(LegEvent::Rejected { status })) => {
                        if i < ringing.len() {
                            let r = ringing.swap_remove(i);
                            info!(agent = %r.agent, status, "agent refused the call");
                            self.emit(Some(&r.agent), EventKind::AgentRejected { status });
                            self.tell(ControllerMsg::RingResult {
                                call: self.id.clone(),
                                agent: r.agent,
                                result: RingResult::Rejected,
                            })
                            .await;
                        }
                    }
                    Wake::Agent(i, other) => {
                        if i < ringing.len() {
                            let r = ringing.swap_remove(i);
                            let reason = match other {
                                Some(LegEvent::Failed { reason })
                                | Some(LegEvent::Ended { reason }) => reason,
                                _ => "leg closed".to_string(),
                            };
                            warn!(agent = %r.agent, %reason, "agent unreachable");
                            self.emit(Some(&r.agent), EventKind::AgentUnreachable { reason });
                            self.tell(ControllerMsg::RingResult {
                                call: self.id.clone(),
                                agent: r.agent,
                                result: RingResult::Unreachable,
                            })
                            .await;
                        }
                    }
                    Wake::RingTimeout => {
                        let now = Instant::now();
                        let (due, still): (Vec<Ringing>, Vec<Ringing>) =
                            ringing.drain(..).partition(|r| r.deadline <= now);
                        ringing = still;
                        for r in due {
                            let rang_ms = self.ctx.clock.now_ms() - r.offered_ms;
                            info!(agent = %r.agent, rang_ms, "agent did not answer");
                            r.leg.hangup().await;
                            self.emit(Some(&r.agent), EventKind::AgentRingNoAnswer { rang_ms });
                            self.tell(ControllerMsg::RingResult {
                                call: self.id.clone(),
                                agent: r.agent,
                                result: RingResult::NoAnswer,
                            })
                            .await;
                        }
                    }
                    Wake::SystemAnswer => {
                        system_answered = true;
                        let rings = self.ctx.cfg.answer_after_rings;
                        if let Err(e) = self.inbound.answer(caller_sdp.clone()) {
                            warn!(error = %e, "cannot answer caller");
                        }
                        info!(rings, "no agent answered: the engine answers");
                        if self.ctx.cfg.record_queue
                            && recording.is_none()
                            && self.queue_recording.is_none()
                        {
                            self.queue_recording = self.open_recording(None, false);
                            if let Some(rec) = &self.queue_recording {
                                media.tap(rec.sender());
                            }
                        }
                        self.cdr.system_answered_ms = Some(self.ctx.clock.now_ms());
                        self.emit(None, EventKind::SystemAnswered { rings });
                        if self.ctx.cfg.silent_line_ms > 0 {
                            silence_deadline = Some(
                                Instant::now()
                                    + Duration::from_millis(self.ctx.cfg.silent_line_ms as u64),
                            );
                        }
                        let greeting = self.greeting();
                        if let Some(a) = &self.ctx.cfg.announcements {
                            announce_at = Some(
                                Instant::now()
                                    + Duration::from_millis(
                                        greeting.duration_ms() + a.every_ms.max(1000) as u64,
                                    ),
                            );
                        }
                        match (menu.as_mut(), &self.ctx.cfg.ivr) {
                            (Some(m), Some(ivr)) => {
                                let greeting = greeting.clone();
                                let until = greeting.duration_ms() + ivr.prompt.duration_ms();
                                media.play_to_caller(vec![greeting, ivr.prompt.clone()], false);
                                m.deadline = Some(
                                    Instant::now()
                                        + Duration::from_millis(
                                            until + ivr.timeout_ms.max(0) as u64,
                                        ),
                                );
                            }
                            _ => media.play_to_caller(
                                vec![greeting.clone(), self.ctx.prompts.music.clone()],
                                true,
                            ),
                        }
                        self.emit(
                            None,
                            EventKind::PromptStarted {
                                prompt: greeting.name().to_string(),
                            },
                        );
                    }
                }
            };

            // Phase 2: bridged.
            let wait_ms = arrived.elapsed().as_millis() as i64;
            let rings = if system_answered {
                self.ctx.cfg.answer_after_rings
            } else {
                cadence.rings_heard(wait_ms)
            };
            media.set_remote(Side::Agent, agent_media.0, agent_media.1);
            if !system_answered {
                if let Err(e) = self.inbound.answer(caller_sdp.clone()) {
                    warn!(error = %e, "cannot answer caller");
                }
            }
            self.tell(ControllerMsg::RingResult {
                call: self.id.clone(),
                agent: agent.clone(),
                result: RingResult::Answered,
            })
            .await;
            if recording.is_none() {
                recording = match self.queue_recording.take() {
                    Some(r) => Some(r),
                    None => self.open_recording(Some(&agent), false),
                };
            }
            media.bridge(recording.as_ref().map(RecordingHandle::sender));
            let answered_ms = self.ctx.clock.now_ms();
            let answered_at = Instant::now();
            info!(agent = %agent, wait_ms, rings, "agent answered, bridged");
            let limits =
                LimitWatch::start(&self.ctx.cfg, self.cdr.call_type, answered_ms, answered_at);
            self.emit(
                Some(&agent),
                EventKind::AgentAnswered {
                    wait_ms,
                    rings,
                    limit_ms: limits.limit_ms(),
                },
            );
            self.cdr.agent = Some(agent.clone());
            self.cdr.agent_answered_ms.get_or_insert(answered_ms);
            self.cdr.wait_ms.get_or_insert(wait_ms);
            self.cdr.rings.get_or_insert(i64::from(rings));
            let mut agent_leg = agent_leg;
            let mut talk = Talk {
                agent: agent.clone(),
                answered_ms,
                held_since: None,
                paused_since: None,
                recorded: recording.is_some(),
                limits,
            };
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            let mut cmds_open = true;
            let ended_by = loop {
                let limit_due = talk.limits.next();
                tokio::select! {
                    _ = sleep_until(limit_due.unwrap_or(far)), if limit_due.is_some() => {
                        if let Some(kind) = talk.limits.fire(self.ctx.clock.now_ms()) {
                            if self.ctx.cfg.limit_tone {
                                media.tone_to_agent(limit_tone(&kind));
                            }
                            self.emit(Some(&agent), kind);
                        }
                    }
                    ev = self.inbound.next_event() => match ev {
                        Some(e) if e.keeps_the_leg_up() => {}
                        _ => { agent_leg.hangup().await; break Some(EndedBy::Caller); }
                    },
                    ev = agent_leg.next_event() => match ev {
                        // the desk phone's hold key (re-INVITE sendonly/inactive)
                        Some(LegEvent::RemoteHold { held }) => {
                            let action = if held { CallAction::Hold } else { CallAction::Resume };
                            if let Err(e) = self.act(&mut talk, &media, action, "phone") {
                                info!(held, reason = %e, "hold from the phone: nothing to do");
                            }
                        }
                        // the desk phone's transfer key (REFER to a queue)
                        Some(LegEvent::Refer { target }) => {
                            let action = CallAction::Transfer { to: Some(QueueId::new(target.clone())) };
                            match self.act(&mut talk, &media, action, "phone") {
                                Ok(Acted::Transfer(to)) => {
                                    self.transfer(&mut talk, &media, to, "phone").await;
                                    // let the 202 to the REFER leave before our BYE:
                                    // the transaction layer sends it on its own task
                                    tokio::time::sleep(REFER_ACCEPT_GRACE).await;
                                    agent_leg.hangup().await;
                                    break None;
                                }
                                Ok(_) => {}
                                Err(e) => warn!(%target, reason = %e, "transfer from the phone refused; the call goes on"),
                            }
                        }
                        Some(e) if e.keeps_the_leg_up() || matches!(e, LegEvent::Answered { .. }) => {}
                        _ => { self.inbound.hangup().await; break Some(EndedBy::Agent); }
                    },
                    cmd = self.cmds.recv(), if cmds_open => match cmd {
                        Some(CallCmd::Control { action, by, reply }) => {
                            let r = self.act(&mut talk, &media, action, &by);
                            let transfer = match &r {
                                Ok(Acted::Transfer(to)) => Some(to.clone()),
                                _ => None,
                            };
                            let r = match r {
                                Ok(Acted::StartRecording) => {
                                    info!(%by, "recording started on request");
                                    recording = self.open_recording(Some(&agent), true);
                                    match &recording {
                                        Some(rec) => {
                                            media.tap(rec.sender());
                                            talk.recorded = true;
                                            Ok(Acted::Done)
                                        }
                                        None => Err(ControlError::Refused("the recording could not be started (see recording_failed)".into())),
                                    }
                                }
                                other => other,
                            };
                            let _ = reply.send(r.map(|_| {
                            let mut c = self.talking_call(&talk, transfer.is_none());
                            if let Some(to) = &transfer {
                                c.queue = Some(to.to_string());
                            }
                            c
                        }));
                            if let Some(to) = transfer {
                                self.transfer(&mut talk, &media, to, &by).await;
                                agent_leg.hangup().await;
                                break None;
                            }
                        }
                        Some(other) => warn!(?other, "ignored while talking"),
                        None => cmds_open = false,
                    },
                }
            };
            if let Some(since) = talk.held_since.take() {
                // ended on hold: the hold span ends with the call
                info!(
                    held_ms = self.ctx.clock.now_ms() - since,
                    "call ended on hold"
                );
            }
            let talk_ms = self.ctx.clock.now_ms() - answered_ms;
            self.tell(ControllerMsg::AgentReleased {
                agent: agent.clone(),
                call: self.id.clone(),
            })
            .await;
            let Some(ended_by) = ended_by else {
                // transferred: the caller waits in the new queue (music), the
                // recording goes on; back to phase 1
                system_answered = true;
                continue;
            };
            info!(?ended_by, talk_ms, "call completed");
            self.emit(Some(&agent), EventKind::Completed { ended_by, talk_ms });
            if let Some(since) = talk.paused_since.take() {
                self.pauses_ms.push((since, self.ctx.clock.now_ms()));
            }
            self.tell(ControllerMsg::Gone {
                call: self.id.clone(),
            })
            .await;
            self.cdr.talk_ms =
                Some(self.ctx.clock.now_ms() - self.cdr.agent_answered_ms.unwrap_or(answered_ms));
            self.cdr.ended_by = Some(ended_by);
            media.stop_tap();
            let stats = media.stats();
            info!(?stats, "media stats");
            drop(media);
            if let Some(rec) = recording {
                self.close_recording(Some(&agent), rec).await;
            }
            return self.finish(Outcome::Answered);
        }
    }

    /// The call as the API shows it.
    fn talking_call(&self, talk: &Talk, with_agent: bool) -> TalkingCall {
        TalkingCall {
            call_id: self.id.to_string(),
            agent: with_agent.then(|| talk.agent.to_string()),
            caller: self.inbound.caller.number.clone(),
            queue: self.queue.as_ref().map(ToString::to_string),
            call_type: self.cdr.call_type,
            held: talk.held_since.is_some(),
            recording_paused: talk.paused_since.is_some(),
            recorded: talk.recorded,
        }
    }

    /// Carries out an action on the talking call (all but the transfer
    /// itself, which the caller of this runs when `Acted::Transfer` comes back).
    fn act(
        &mut self,
        talk: &mut Talk,
        media: &MediaSession,
        action: CallAction,
        by: &str,
    ) -> Result<Acted, ControlError> {
        let now = self.ctx.clock.now_ms();
        let agent = talk.agent.clone();
        let refuse = |why: &str| Err(ControlError::Refused(why.to_string()));
        match action {
            CallAction::Show => {}
            CallAction::Hold => {
                if talk.held_since.is_some() {
                    return refuse("the call is already on hold");
                }
                media.hold(vec![self.ctx.prompts.music.clone()]);
                talk.held_since = Some(now);
                info!(%by, "call on hold");
                self.emit(Some(&agent), EventKind::Held { by: by.to_string() });
            }
            CallAction::Resume => {
                let Some(since) = talk.held_since.take() else {
                    return refuse("the call is not on hold");
                };
                media.unhold();
                info!(%by, "call back from hold");
                self.emit(
                    Some(&agent),
                    EventKind::Resumed {
                        held_ms: (now - since).max(0),
                        by: by.to_string(),
                    },
                );
            }
            CallAction::SetType(call_type) => {
                if call_type != self.cdr.call_type {
                    self.cdr.call_type = call_type;
                    talk.limits.retype(&self.ctx.cfg, call_type);
                }
                info!(?call_type, %by, "call type set");
                self.emit(
                    Some(&agent),
                    EventKind::CallTypeSet {
                        call_type,
                        limit_ms: talk.limits.limit_ms(),
                        by: by.to_string(),
                    },
                );
            }
            CallAction::PauseRecording => {
                if !talk.recorded {
                    return refuse("the call is not being recorded");
                }
                if talk.paused_since.is_some() {
                    return refuse("the recording is already paused");
                }
                media.mute_tap(true);
                talk.paused_since = Some(now);
                info!(%by, "recording paused");
                self.emit(
                    Some(&agent),
                    EventKind::RecordingPaused { by: by.to_string() },
                );
            }
            CallAction::ResumeRecording => {
                let Some(since) = talk.paused_since.take() else {
                    return refuse("the recording is not paused");
                };
                media.mute_tap(false);
                self.pauses_ms.push((since, now));
                info!(%by, "recording resumed");
                self.emit(
                    Some(&agent),
                    EventKind::RecordingResumed {
                        paused_ms: (now - since).max(0),
                        by: by.to_string(),
                    },
                );
            }
            CallAction::StartRecording => {
                if talk.recorded {
                    return refuse("the call is already recorded");
                }
                return Ok(Acted::StartRecording);
            }
            CallAction::PlayIntoCall { audio, recording } => {
                if talk.held_since.is_some() {
                    return refuse("the call is on hold: resume it first");
                }
                let duration_ms = audio.duration_ms() as i64;
                media.play_to_both(audio);
                info!(%recording, duration_ms, %by, "recording played into the call");
                self.emit(
                    Some(&agent),
                    EventKind::PlayedIntoCall {
                        recording,
                        duration_ms,
                        by: by.to_string(),
                    },
                );
            }
            CallAction::Transfer { to } => {
                let cfg = &self.ctx.cfg;
                let Some(to) = to.or_else(|| cfg.transfer_queue.clone()) else {
                    return refuse("no queue named and no [transfer] queue configured");
                };
                let known = to == cfg.queue || cfg.queues.iter().any(|q| q.id == to);
                if !known {
                    return Err(ControlError::Refused(format!("unknown queue `{to}`")));
                }
                if !cfg.schedule.is_open(&to, now) {
                    return Err(ControlError::Refused(format!("queue `{to}` is closed now")));
                }
                return Ok(Acted::Transfer(to));
            }
        }
        Ok(Acted::Done)
    }

    /// Blind transfer: the agent is let go, the caller hears music and waits
    /// in `to` ahead of its other callers; the recording goes on.
    async fn transfer(&mut self, talk: &mut Talk, media: &MediaSession, to: QueueId, by: &str) {
        let now = self.ctx.clock.now_ms();
        if let Some(since) = talk.held_since.take() {
            self.emit(
                Some(&talk.agent),
                EventKind::Resumed {
                    held_ms: (now - since).max(0),
                    by: by.to_string(),
                },
            );
        }
        let talk_ms = now - talk.answered_ms;
        info!(to = %to, talk_ms, %by, "transferred");
        self.emit(
            Some(&talk.agent),
            EventKind::Transferred {
                to: to.clone(),
                talk_ms,
                by: by.to_string(),
            },
        );
        media.hold(vec![self.ctx.prompts.music.clone()]);
        self.queue = Some(to.clone());
        self.cdr.queue = Some(to.clone());
        self.tell(ControllerMsg::Enqueue {
            call: self.id.clone(),
            queue: to,
            // a caller passed on has waited already: served first
            request: CallRequest {
                priority: TRANSFER_PRIORITY,
                skills: Vec::new(),
            },
        })
        .await;
    }

    /// Sets the call's queue and type and hands it to the controller.
    async fn route(&mut self, queue: QueueId, call_type: CallType, language: Option<String>) {
        let vip = routing::is_vip(&self.ctx.cfg.vip, &self.inbound.caller.number);
        let request = CallRequest {
            priority: if vip { 10 } else { 0 },
            skills: language
                .into_iter()
                .map(|skill| SkillNeed {
                    skill,
                    min_level: 1,
                })
                .collect(),
        };
        info!(queue = %queue, ?call_type, vip, "call routed");
        self.queue = Some(queue.clone());
        self.cdr.queue = Some(queue.clone());
        self.cdr.call_type = call_type;
        if !self
            .ctx
            .cfg
            .schedule
            .is_open(&queue, self.ctx.clock.now_ms())
        {
            self.closed = true;
            return;
        }
        self.tell(ControllerMsg::Enqueue {
            call: self.id.clone(),
            queue,
            request,
        })
        .await;
    }

    /// Takes an IVR choice: event, routing, music.
    async fn choose(&mut self, digit: Option<char>, option: IvrOption, media: &MediaSession) {
        self.emit(
            None,
            EventKind::IvrChoice {
                digit: digit.map(String::from).unwrap_or_default(),
                call_type: option.call_type,
                language: option.language.clone(),
            },
        );
        media.play_to_caller(vec![self.ctx.prompts.music.clone()], true);
        self.route(option.queue, option.call_type, option.language)
            .await;
    }

    /// A key pressed while the menu is pending; true once the caller is routed.
    async fn menu_key(&mut self, m: &mut MenuState, digit: char, media: &MediaSession) -> bool {
        let Some(ivr) = self.ctx.cfg.ivr.clone() else {
            return false;
        };
        match ivr.input(digit) {
            MenuInput::Choice(option) => {
                info!(%digit, "IVR choice");
                self.choose(Some(digit), option.clone(), media).await;
                true
            }
            MenuInput::Invalid => {
                info!(%digit, "key is not a menu option");
                self.emit(
                    None,
                    EventKind::IvrInvalid {
                        digit: digit.to_string(),
                    },
                );
                if m.deadline.is_none() {
                    // the menu has not played yet: it will, in full
                    return false;
                }
                self.menu_timeout(m, media).await
            }
        }
    }

    /// The menu played without a valid key: play it again or take the default.
    async fn menu_timeout(&mut self, m: &mut MenuState, media: &MediaSession) -> bool {
        let Some(ivr) = self.ctx.cfg.ivr.clone() else {
            return false;
        };
        m.plays_left = m.plays_left.saturating_sub(1);
        if m.plays_left == 0 {
            info!("no menu choice: default queue");
            self.choose(None, ivr.default.clone(), media).await;
            return true;
        }
        media.play_to_caller(vec![ivr.prompt.clone()], false);
        m.deadline = Some(
            Instant::now()
                + Duration::from_millis(ivr.prompt.duration_ms() + ivr.timeout_ms.max(0) as u64),
        );
        false
    }

    /// Ends a call whose line stayed silent after the engine answered: the
    /// silent-line message (if configured), then BYE.
    async fn silent_line(mut self, media: &MediaSession, ringing: Vec<Ringing>, silent_ms: i64) {
        warn!(silent_ms, "silent line: no sound from the caller");
        self.let_go_of(ringing).await;
        self.emit(None, EventKind::SilentLine { silent_ms });
        match self.ctx.prompts.silent_line.clone() {
            Some(message) => self.play_then_hang_up(media, message).await,
            None => self.inbound.hangup().await,
        }
        self.emit(
            None,
            EventKind::Failed {
                reason: "silent line".to_string(),
            },
        );
        self.finish(Outcome::Failed);
    }

    /// Tells a waiting caller where they stand (position, expected wait,
    /// message), then music again; returns when to do it next.
    async fn announce(&mut self, media: &MediaSession, menu_pending: bool) -> Option<Instant> {
        let ctx = self.ctx.clone();
        let a = ctx.cfg.announcements.as_ref()?;
        let every = Duration::from_millis(a.every_ms.max(1000) as u64);
        if menu_pending || self.queue.is_none() {
            return Some(Instant::now() + every);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tell(ControllerMsg::Status {
            call: self.id.clone(),
            default_handle_ms: a.default_handle_ms,
            reply,
        })
        .await;
        let status = answer.await.ok()?;
        if status.position.is_none() {
            // not waiting any more (an agent is being offered the call)
            return Some(Instant::now() + every);
        }
        let mut prompts = a.build(status.position, status.expected_wait_ms);
        if let Some(offer) = ctx.cfg.callback.as_ref().and_then(|c| c.offer.clone()) {
            prompts.push(offer);
        }
        if prompts.is_empty() {
            return Some(Instant::now() + every);
        }
        let spoken: u64 = prompts.iter().map(|p| p.duration_ms()).sum();
        info!(position = ?status.position, expected_wait_ms = ?status.expected_wait_ms, "announcement");
        self.emit(
            None,
            EventKind::Announced {
                position: status.position,
                expected_wait_ms: status.expected_wait_ms,
            },
        );
        prompts.push(self.ctx.prompts.music.clone());
        media.play_to_caller(prompts, true);
        Some(Instant::now() + Duration::from_millis(spoken) + every)
    }

    /// Is `digit` a callback request the engine can honour now (the caller
    /// waits in a queue after the engine answered, and can be dialled)?
    fn wants_callback(&self, digit: char, system_answered: bool) -> bool {
        let Some(cb) = &self.ctx.cfg.callback else {
            return false;
        };
        if digit != cb.key || !system_answered || self.queue.is_none() || self.closed {
            return false;
        }
        if cb.uri_for(&self.inbound.caller.number).is_none() {
            info!(number = %self.inbound.caller.number, "callback key pressed, but the number cannot be called back");
            return false;
        }
        true
    }

    /// The caller asked to be called back: confirm, hang up, and hand the
    /// place in the queue to a callback (a call of type `callback`).
    async fn accept_callback(mut self, media: &MediaSession, mut ringing: Vec<Ringing>) {
        let Some(cb) = self.ctx.cfg.callback.clone() else {
            return;
        };
        let Some(queue) = self.queue.clone() else {
            return;
        };
        // an agent ringing for the caller stops: the callback waits its turn
        self.stop_ringing(&mut ringing, RingResult::CallerGone)
            .await;
        let now = self.ctx.clock.now_ms();
        let deadline_ms = now + cb.deadline_ms;
        let callback = CallId::generate(now);
        let number = self.inbound.caller.number.clone();
        info!(%number, %callback, deadline_ms, "callback requested");
        self.emit(
            None,
            EventKind::CallbackRequested {
                number: number.clone(),
                callback: callback.clone(),
                deadline_ms,
            },
        );
        self.tell(ControllerMsg::Callback {
            old: self.id.clone(),
            new: callback,
            number,
            queue,
            deadline_ms,
        })
        .await;
        match cb.confirm.clone() {
            Some(confirm) => self.play_then_hang_up(media, confirm).await,
            None => self.inbound.hangup().await,
        }
        self.cdr.wait_ms = Some(now - self.cdr.arrived_ms);
        self.finish(Outcome::Callback);
    }

    /// Plays `prompt` to the (answered) caller and waits for its end; false
    /// if the caller hung up meanwhile.
    async fn play_and_wait(&mut self, media: &MediaSession, prompt: Prompt) -> bool {
        let until = Instant::now() + Duration::from_millis(prompt.duration_ms());
        media.play_to_caller(vec![prompt], false);
        loop {
            tokio::select! {
                _ = sleep_until(until) => return true,
                ev = self.inbound.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() => {}
                    _ => return false,
                },
            }
        }
    }

    /// The caller hung up during the voicemail greeting: an abandon.
    fn caller_left_before_voicemail(self) {
        info!("caller left before the voicemail tone");
        self.emit(
            None,
            EventKind::Abandoned {
                wait_ms: 0,
                position: 0,
            },
        );
        self.finish(Outcome::Abandoned);
    }

    /// Takes a message: the voicemail greeting and a beep, then the caller's
    /// audio is recorded (caller channel; the agent channel stays silent)
    /// until they hang up or the maximum length; a `voicemail_left` event.
    async fn voicemail(
        mut self,
        media: &MediaSession,
        caller_sdp: String,
        ringing: Vec<Ringing>,
        answered: bool,
    ) {
        let Some(vm) = self.ctx.cfg.voicemail.clone() else {
            return self.reject(480, "no agent");
        };
        self.let_go_of(ringing).await;
        if !answered {
            if let Err(e) = self.inbound.answer(caller_sdp) {
                warn!(error = %e, "cannot answer caller");
            }
            self.cdr.system_answered_ms = Some(self.ctx.clock.now_ms());
        }
        info!("voicemail");
        let mut intro: Vec<Prompt> = vm.prompt.iter().cloned().collect();
        intro.push(Prompt::tone("voicemail-beep", 1000.0, 500, 8000));
        let intro_ms: u64 = intro.iter().map(|p| p.duration_ms()).sum();
        let until = Instant::now() + Duration::from_millis(intro_ms + 100);
        media.play_to_caller(intro, false);
        loop {
            tokio::select! {
                _ = sleep_until(until) => break,
                ev = self.inbound.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() => {}
                    _ => return self.caller_left_before_voicemail(),
                },
            }
        }
        let recording = match self.queue_recording.take() {
            Some(r) => Some(r),
            None => self.open_recording(None, false),
        };
        media.bridge(recording.as_ref().map(RecordingHandle::sender));
        let started = Instant::now();
        let end = started + Duration::from_millis(vm.max_ms.max(1000) as u64);
        let caller_hung_up = loop {
            tokio::select! {
                _ = sleep_until(end) => break false,
                ev = self.inbound.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() => {}
                    _ => break true,
                },
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        if !caller_hung_up {
            info!("voicemail reached its maximum length");
            self.inbound.hangup().await;
        }
        media.stop_tap();
        let path = recording.as_ref().map(|r| r.relative_path().to_string());
        if let Some(rec) = recording {
            self.close_recording(None, rec).await;
        }
        info!(duration_ms, "voicemail left");
        self.emit(None, EventKind::VoicemailLeft { path, duration_ms });
        self.finish(Outcome::Voicemail);
    }

    /// Plays `message` to the (answered) caller, then hangs up, unless the
    /// caller hangs up first.
    async fn play_then_hang_up(&mut self, media: &MediaSession, message: Prompt) {
        let until = Instant::now() + Duration::from_millis(message.duration_ms() + 300);
        media.play_to_caller(vec![message], false);
        loop {
            tokio::select! {
                _ = sleep_until(until) => { self.inbound.hangup().await; break; }
                ev = self.inbound.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() => {}
                    _ => break,
                },
            }
        }
    }

    /// Refuses a blacklisted caller: the blacklist message if there is one
    /// (answer, play, hang up), else 603 Decline.
    async fn refuse_blacklisted(mut self, media: &MediaSession, caller_sdp: String) {
        let Some(message) = self.ctx.prompts.blacklisted.clone() else {
            return self.reject(603, "blacklisted");
        };
        if let Err(e) = self.inbound.answer(caller_sdp) {
            warn!(error = %e, "cannot answer blacklisted caller");
        }
        self.play_then_hang_up(media, message).await;
        self.emit(
            None,
            EventKind::Rejected {
                status: 603,
                reason: "blacklisted".to_string(),
            },
        );
        self.finish(Outcome::Rejected);
    }

    /// The caller's queue is closed (outside its open hours or a holiday):
    /// the closed message if there is one, else 480 before the answer.
    async fn closed(
        mut self,
        media: &MediaSession,
        caller_sdp: String,
        ringing: Vec<Ringing>,
        answered: bool,
    ) {
        info!("queue closed: outside open hours");
        self.emit(None, EventKind::QueueClosed {});
        self.let_go_of(ringing).await;
        let treatment = match self.ctx.cfg.closed_treatment {
            ClosedTreatment::Voicemail if self.ctx.cfg.voicemail.is_some() => {
                ClosedTreatment::Voicemail
            }
            ClosedTreatment::Callback
                if self
                    .ctx
                    .cfg
                    .callback
                    .as_ref()
                    .is_some_and(|c| c.uri_for(&self.inbound.caller.number).is_some()) =>
            {
                ClosedTreatment::Callback
            }
            _ => ClosedTreatment::Message,
        };
        if treatment != ClosedTreatment::Message {
            if !answered {
                if let Err(e) = self.inbound.answer(caller_sdp.clone()) {
                    warn!(error = %e, "cannot answer caller");
                }
            }
            if let Some(message) = self.ctx.prompts.closed.clone() {
                if !self.play_and_wait(media, message).await {
                    return self.caller_left_before_voicemail();
                }
            }
            return match treatment {
                ClosedTreatment::Voicemail => {
                    self.voicemail(media, caller_sdp, Vec::new(), true).await
                }
                _ => self.accept_callback(media, Vec::new()).await,
            };
        }
        match self.ctx.prompts.closed.clone() {
            Some(message) => {
                if !answered {
                    if let Err(e) = self.inbound.answer(caller_sdp) {
                        warn!(error = %e, "cannot answer caller");
                    }
                }
                self.play_then_hang_up(media, message).await;
            }
            None if !answered => return self.reject(480, "closed"),
            None => self.inbound.hangup().await,
        }
        self.emit(
            None,
            EventKind::Rejected {
                status: 480,
                reason: "closed".to_string(),
            },
        );
        self.finish(Outcome::Rejected);
    }

    /// Stops every ringing agent phone and tells the ACD why.
    async fn stop_ringing(&mut self, ringing: &mut Vec<Ringing>, why: RingResult) {
        for r in ringing.drain(..) {
            r.leg.hangup().await;
            self.tell(ControllerMsg::RingResult {
                call: self.id.clone(),
                agent: r.agent,
                result: why,
            })
            .await;
        }
    }

    /// Hangs up the ringing agents and takes the call out of the ACD.
    async fn let_go_of(&mut self, mut ringing: Vec<Ringing>) {
        self.stop_ringing(&mut ringing, RingResult::CallerGone)
            .await;
        self.tell(ControllerMsg::Gone {
            call: self.id.clone(),
        })
        .await;
    }

    /// The greeting of the current period of the day (or the default one).
    fn greeting(&self) -> Prompt {
        self.ctx
            .cfg
            .schedule
            .period(self.ctx.clock.now_ms())
            .map(|p| p.greeting.clone())
            .unwrap_or_else(|| self.ctx.prompts.greeting.clone())
    }

    fn open_recording(
        &mut self,
        agent: Option<&AgentId>,
        on_request: bool,
    ) -> Option<RecordingHandle> {
        open_recording(
            &self.ctx,
            &self.id,
            self.queue.as_ref(),
            &mut self.cdr,
            agent,
            on_request,
        )
    }

    async fn close_recording(&mut self, agent: Option<&AgentId>, rec: RecordingHandle) {
        let queue = self.queue.clone();
        let pauses_ms = std::mem::take(&mut self.pauses_ms);
        close_recording(
            &self.ctx,
            &self.id,
            queue.as_ref(),
            &mut self.cdr,
            agent,
            rec,
            pauses_ms,
        )
        .await;
    }
}

/// A fresh CDR for a call that just arrived.
pub(crate) fn new_cdr(id: &CallId, caller: &Party, dialled: &str, now: i64) -> Cdr {
    Cdr {
        call_id: id.clone(),
        caller: caller.number.clone(),
        caller_name: caller.display.clone(),
        dialled: dialled.to_string(),
        queue: None,
        agent: None,
        call_type: CallType::default(),
        arrived_ms: now,
        system_answered_ms: None,
        agent_answered_ms: None,
        ended_ms: None,
        wait_ms: None,
        talk_ms: None,
        rings: None,
        outcome: None,
        ended_by: None,
        recording_path: None,
        recording_sha256: None,
    }
}

/// Writes an event of call `call` to the log and the live feed.
pub(crate) fn emit_event(
    ctx: &CallCtx,
    call: &CallId,
    queue: Option<&QueueId>,
    agent: Option<&AgentId>,
    kind: EventKind,
) {
    let e = CallEvent {
        at_ms: ctx.clock.now_ms(),
        call_id: Some(call.clone()),
        agent: agent.cloned(),
        queue: queue.cloned(),
        kind,
    };
    if let Some(live) = &ctx.live {
        let _ = live.send(e.clone());
    }
    ctx.sink.event(e);
}

/// Starts the call's recording (if calls are recorded, or `on_request`);
/// a failure is an event and the call goes on.
pub(crate) fn open_recording(
    ctx: &CallCtx,
    id: &CallId,
    queue: Option<&QueueId>,
    cdr: &mut Cdr,
    agent: Option<&AgentId>,
    on_request: bool,
) -> Option<RecordingHandle> {
    if !ctx.cfg.record && !on_request {
        return None;
    }
    match ctx.recorder.open(id, ctx.clock.now_ms()) {
        Ok(h) => {
            emit_event(
                ctx,
                id,
                queue,
                agent,
                EventKind::RecordingOpened {
                    path: h.relative_path().to_string(),
                },
            );
            cdr.recording_path = Some(h.relative_path().to_string());
            Some(h)
        }
        Err(e) => {
            warn!(error = %e, "recording could not be started; the call goes on");
            emit_event(
                ctx,
                id,
                queue,
                agent,
                EventKind::RecordingFailed {
                    reason: e.to_string(),
                },
            );
            None
        }
    }
}

/// Seals the call's recording (hash, signed manifest) off the async workers.
pub(crate) async fn close_recording(
    ctx: &CallCtx,
    id: &CallId,
    queue: Option<&QueueId>,
    cdr: &mut Cdr,
    agent: Option<&AgentId>,
    rec: RecordingHandle,
    pauses_ms: Vec<(i64, i64)>,
) {
    let parties = hotline_recorder::CallParties {
        caller: Some(cdr.caller.clone()),
        agent: agent.map(ToString::to_string),
        queue: queue.map(ToString::to_string),
        pauses_ms,
    };
    let kind = match tokio::task::spawn_blocking(move || rec.finish_with(parties)).await {
        Ok(Ok(summary)) => {
            info!(path = %summary.relative_path, sha256 = %summary.sha256, samples = summary.samples_per_channel, gaps = summary.gaps, "recording sealed");
            cdr.recording_sha256 = Some(summary.sha256.clone());
            EventKind::RecordingClosed {
                path: summary.relative_path,
                sha256: summary.sha256,
                samples: summary.samples_per_channel,
                gaps: summary.gaps,
                gap_samples: summary.gap_samples,
            }
        }
        Ok(Err(e)) => {
            warn!(error = %e, "recording failed");
            EventKind::RecordingFailed {
                reason: e.to_string(),
            }
        }
        Err(e) => {
            warn!(error = %e, "recording task failed");
            EventKind::RecordingFailed {
                reason: e.to_string(),
            }
        }
    };
    emit_event(ctx, id, queue, agent, kind);
}

/// Answers an agent's feature-code call: a short high beep when the request
/// was carried out, then hang up; a refusal is a 403 whose reason phrase says
/// why (phones show it).
pub(crate) async fn feature_call(
    ctx: Arc<CallCtx>,
    mut inbound: InboundCall,
    result: Result<(), crate::control::ControlError>,
) {
    if let Err(e) = result {
        inbound.reject(403, Some(e.to_string()));
        return;
    }
    let offer = if inbound.offer_is_sdp {
        sdp::parse(&inbound.offer).ok()
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
    let beep = hotline_media::prompt::Prompt::tone("confirmation", 1400.0, 400, 8000);
    let until = Instant::now() + Duration::from_millis(beep.duration_ms() + 300);
    media.play_to_caller(vec![beep], false);
    loop {
        tokio::select! {
            _ = sleep_until(until) => { inbound.hangup().await; break; }
            ev = inbound.next_event() => match ev {
                Some(e) if e.keeps_the_leg_up() => {}
                _ => break,
            },
        }
    }
}

/// An SDP session id derived from the call id (stable for the call's life).
fn rand_session_id(id: &CallId) -> u64 {
    id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) >> 2
}
