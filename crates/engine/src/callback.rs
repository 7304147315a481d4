//! Callbacks. A waiting caller presses the callback key, hears a
//! confirmation and hangs up; their place in the queue is kept under a new
//! call id of type `callback`. When that place comes up the engine rings the
//! agent first and, once the agent answers, calls the caller back through the
//! configured gateway and bridges the two (recorded like any call). A caller
//! who does not answer is tried again after a pause, up to a number of
//! attempts, until the deadline (24 hours by default).

use crate::call::{
    close_recording, emit_event, new_cdr, open_recording, CallCmd, CallCtx, ControllerMsg,
    TELEPHONE_EVENT_PT,
};
use crate::limits::LimitWatch;
use hotline_acd::{CallRequest, RingResult};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Outcome, Party, QueueId, Side,
};
use hotline_media::prompt::Prompt;
use hotline_media::{sdp, Codec, MediaSession};
use hotline_sip::{Binding, LegEvent, OutboundLeg, SipTransport};
use hotline_store::Cdr;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Duration, Instant};
use tracing::{info, warn};

/// How callbacks are offered and made.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// The key a waiting caller presses (`1`).
    pub key: char,
    /// "Press 1 and we call you back", played with the announcements.
    pub offer: Option<Prompt>,
    /// "We will call you back", played before the engine hangs up.
    pub confirm: Option<Prompt>,
    /// How long a callback stays due, ms (24 h).
    pub deadline_ms: i64,
    /// Request-URI to call the caller back, `{number}` replaced by their
    /// number: `sip:{number}@192.0.2.10:5060`.
    pub dial: String,
    /// Where that INVITE is sent (the gateway or trunk).
    pub gateway: SocketAddr,
    /// Pause between attempts, ms.
    pub retry_ms: i64,
    /// Attempts before the callback is given up.
    pub attempts: u32,
    /// How long the caller's phone rings per attempt, ms.
    pub answer_timeout_ms: i64,
}

impl CallbackConfig {
    /// The URI to call `number` back, or None for a number that cannot be
    /// dialled (anonymous, letters, too long).
    pub fn uri_for(&self, number: &str) -> Option<String> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        let ok =
            !digits.is_empty() && digits.len() <= 32 && digits.chars().all(|c| c.is_ascii_digit());
        ok.then(|| self.dial.replace("{number}", number))
    }
}

/// What came of one offer of the callback to an agent.
enum Attempt {
    /// Agent and caller talked; the callback is done.
    Done,
    /// The agent did not take it; the ACD offers it again.
    AgentMissed,
    /// The agent took it but the caller could not be reached.
    CallerMissed(String),
}

/// The task that owns one callback until it is made or given up.
pub(crate) struct CallbackTask {
    ctx: Arc<CallCtx>,
    id: CallId,
    caller: Party,
    queue: QueueId,
    cmds: mpsc::Receiver<CallCmd>,
    cdr: Cdr,
    requested_ms: i64,
    deadline: Instant,
    attempts: u32,
    /// Already waiting in the ACD (it kept the caller's place).
    queued: bool,
    /// Taken over from before a restart: no second `arrived`.
    resumed: bool,
}

/// A callback that was still pending when the engine stopped (read back
/// from the event log at start), to be made after all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCallback {
    /// The callback call's id (from `callback_requested`).
    pub id: CallId,
    /// The number to call back.
    pub number: String,
    /// Its queue.
    pub queue: QueueId,
    /// When the caller asked, epoch ms.
    pub requested_ms: i64,
    /// Due by, epoch ms.
    pub deadline_ms: i64,
    /// Attempts already made (`callback_attempt_failed` events).
    pub attempts: u32,
}

impl PendingCallback {
    /// Finds the callbacks still to make in a log: every `callback_requested`
    /// whose deadline is after `now_ms` and whose callback call has no
    /// end yet. `events_of` gives a callback call's own events; a call with an
    /// agent's answer, a completion or an expiry counts as ended (better not
    /// to call a customer twice after a crash mid-callback).
    pub fn find(
        requested: &[CallEvent],
        now_ms: i64,
        mut events_of: impl FnMut(&CallId) -> Vec<CallEvent>,
    ) -> Vec<PendingCallback> {
        let mut out = Vec::new();
        for e in requested {
            let EventKind::CallbackRequested {
                number,
                callback,
                deadline_ms,
            } = &e.kind
            else {
                continue;
            };
            let Some(queue) = e.queue.clone() else {
                continue;
            };
            if *deadline_ms <= now_ms || out.iter().any(|p: &PendingCallback| &p.id == callback) {
                continue;
            }
            let own = events_of(callback);
            let ended = own.iter().any(|x| {
                matches!(
                    x.kind,
                    EventKind::AgentAnswered { .. }
                        | EventKind::Completed { .. }
                        | EventKind::CallbackExpired { .. }
                        | EventKind::Failed { .. }
                )
            });
            if ended {
                continue;
            }
            let attempts = own
                .iter()
                .filter(|x| matches!(x.kind, EventKind::CallbackAttemptFailed { .. }))
                .count();
            out.push(PendingCallback {
                id: callback.clone(),
                number: number.clone(),
                queue,
                requested_ms: e.at_ms,
                deadline_ms: *deadline_ms,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        out
    }
}

impl CallbackTask {
    pub(crate) fn new(
        ctx: Arc<CallCtx>,
        id: CallId,
        number: String,
        queue: QueueId,
        deadline_ms: i64,
        queued: bool,
        cmds: mpsc::Receiver<CallCmd>,
    ) -> Self {
        let now = ctx.clock.now_ms();
        let caller = Party {
            number,
            display: None,
        };
        let mut cdr = new_cdr(&id, &caller, "callback", now);
        cdr.queue = Some(queue.clone());
        cdr.call_type = CallType::Callback;
        let deadline = Instant::now() + Duration::from_millis((deadline_ms - now).max(0) as u64);
        CallbackTask {
            ctx,
            id,
            caller,
            queue,
            cmds,
            cdr,
            requested_ms: now,
            deadline,
            attempts: 0,
            queued,
            resumed: false,
        }
    }

    /// A callback taken over after a restart: its attempts so far, its
    /// original request time, no second `arrived` event.
    pub(crate) fn resume(mut self, p: &PendingCallback) -> Self {
        self.attempts = p.attempts;
        self.requested_ms = p.requested_ms;
        self.cdr.arrived_ms = p.requested_ms;
        self.resumed = true;
        self
    }

    fn emit(&self, agent: Option<&AgentId>, kind: EventKind) {
        emit_event(&self.ctx, &self.id, Some(&self.queue), agent, kind);
    }

    async fn tell(&self, msg: ControllerMsg) {
        self.ctx.controller.send(msg).await.ok();
    }

    fn finish(&mut self, outcome: Outcome) {
        self.cdr.outcome = Some(outcome);
        self.cdr.ended_ms = Some(self.ctx.clock.now_ms());
        self.ctx.sink.cdr(self.cdr.clone());
    }

    /// Waits for its turn, makes the attempts, ends at the deadline.
    pub(crate) async fn run(mut self) {
        let Some(cfg) = self.ctx.cfg.callback.clone() else {
            return;
        };
        if self.resumed {
            info!(number = %self.caller.number, attempts = self.attempts, "callback taken over after a restart, waiting for an agent");
        } else {
            info!(number = %self.caller.number, "callback waiting for an agent");
            self.emit(
                None,
                EventKind::Arrived {
                    caller: self.caller.clone(),
                    dialled: "callback".into(),
                    call_type: CallType::Callback,
                },
            );
        }
        // not in the ACD yet (the caller called while the queue was closed):
        // queue it now, or at opening
        let mut retry_at: Option<Instant> = (!self.queued).then(Instant::now);
        loop {
            tokio::select! {
                _ = sleep_until(self.deadline) => {
                    return self.expire().await;
                }
                _ = sleep_until(retry_at.unwrap_or(self.deadline)), if retry_at.is_some() => {
                    if !self.ctx.cfg.schedule.is_open(&self.queue, self.ctx.clock.now_ms()) {
                        // callbacks are made in open hours only
                        retry_at = Some(Instant::now() + Duration::from_secs(60));
                        continue;
                    }
                    retry_at = None;
                    self.tell(ControllerMsg::Enqueue {
                        call: self.id.clone(),
                        queue: self.queue.clone(),
                        request: CallRequest::default(),
                    })
                    .await;
                }
                cmd = self.cmds.recv() => match cmd {
                    None => {
                        self.finish(Outcome::Failed);
                        return;
                    }
                    Some(CallCmd::Moved { queue }) => {
                        self.queue = queue.clone();
                        self.cdr.queue = Some(queue);
                    }
                    Some(CallCmd::Refused { reason }) => {
                        warn!(%reason, "callback refused by its queue");
                        return self.expire().await;
                    }
                    Some(CallCmd::Voicemail) => {}
                    Some(CallCmd::Control { reply, .. }) => {
                        let _ = reply.send(Err(crate::control::ControlError::Refused(
                            "a callback waiting for an agent has no talking call".into(),
                        )));
                    }
                    Some(CallCmd::Offer { agent, binding }) => {
                        match self.attempt(&cfg, agent, binding).await {
                            Attempt::Done => return,
                            Attempt::AgentMissed => {}
                            Attempt::CallerMissed(reason) => {
                                self.attempts += 1;
                                let attempt = self.attempts;
                                info!(attempt, %reason, "callback: the caller was not reached");
                                self.emit(None, EventKind::CallbackAttemptFailed { attempt, reason });
                                let next = Instant::now() + Duration::from_millis(cfg.retry_ms.max(0) as u64);
                                if self.attempts >= cfg.attempts || next >= self.deadline {
                                    return self.expire().await;
                                }
                                retry_at = Some(next);
                            }
                        }
                    }
                },
            }
        }
    }

    /// Gives the callback up: an event, out of the queue, a failed CDR.
    async fn expire(mut self) {
        let attempts = self.attempts;
        warn!(attempts, "callback given up");
        self.emit(None, EventKind::CallbackExpired { attempts });
        self.tell(ControllerMsg::Gone {
            call: self.id.clone(),
        })
        .await;
        self.finish(Outcome::Failed);
    }

    /// Rings `agent`; when they answer, calls the caller back and bridges.
    async fn attempt(&mut self, cfg: &CallbackConfig, agent: AgentId, binding: Binding) -> Attempt {
        let ring_result = |result| ControllerMsg::RingResult {
            call: self.id.clone(),
            agent: agent.clone(),
            result,
        };
        let media = match self.ctx.media.allocate(self.id.as_str()) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "no media ports for the callback");
                self.tell(ring_result(RingResult::Unreachable)).await;
                return Attempt::AgentMissed;
            }
        };
        let session_id = u64::from(self.attempts) + 1;
        let agent_sdp = sdp::build(
            self.ctx.cfg.media_ip,
            media.agent_port(),
            &[Codec::Pcmu, Codec::Pcma],
            Some(TELEPHONE_EVENT_PT),
            session_id,
            1,
        );
        let mut agent_leg = match self.ctx.sip.invite(&binding, &self.caller, agent_sdp).await {
            Ok(leg) => leg,
            Err(e) => {
                warn!(agent = %agent, error = %e, "cannot invite agent");
                self.emit(
                    Some(&agent),
                    EventKind::AgentUnreachable {
                        reason: e.to_string(),
                    },
                );
                self.tell(ring_result(RingResult::Unreachable)).await;
                return Attempt::AgentMissed;
            }
        };
        self.emit(
            Some(&agent),
            EventKind::Offered {
                contact: binding.contact.clone(),
            },
        );
        let offered = Instant::now();
        let ring_ms = self
            .ctx
            .cfg
            .queue_ring_timeout_ms
            .get(&self.queue)
            .copied()
            .unwrap_or(self.ctx.cfg.agent_ring_timeout_ms);
        let ring_end = offered + Duration::from_millis(ring_ms.max(0) as u64);
        // 1. the agent
        let agent_media = loop {
            tokio::select! {
                _ = sleep_until(ring_end) => {
                    agent_leg.hangup().await;
                    let rang_ms = offered.elapsed().as_millis() as i64;
                    self.emit(Some(&agent), EventKind::AgentRingNoAnswer { rang_ms });
                    self.tell(ring_result(RingResult::NoAnswer)).await;
                    return Attempt::AgentMissed;
                }
                ev = agent_leg.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() => {}
                    Some(LegEvent::Answered { sdp: answer }) => {
                        match sdp::parse(&answer).and_then(|a| Ok((a.clone(), sdp::negotiate(&a)?))) {
                            Ok((a, n)) => break (SocketAddr::new(a.connection, a.audio_port), n),
                            Err(e) => {
                                warn!(agent = %agent, error = %e, "agent answered with unusable SDP");
                                agent_leg.hangup().await;
                                self.emit(Some(&agent), EventKind::AgentRejected { status: 488 });
                                self.tell(ring_result(RingResult::Rejected)).await;
                                return Attempt::AgentMissed;
                            }
                        }
                    }
                    Some(LegEvent::Rejected { status }) => {
                        self.emit(Some(&agent), EventKind::AgentRejected { status });
                        self.tell(ring_result(RingResult::Rejected)).await;
                        return Attempt::AgentMissed;
                    }
                    other => {
                        let reason = match other {
                            Some(LegEvent::Failed { reason } | LegEvent::Ended { reason }) => reason,
                            _ => "leg closed".to_string(),
                        };
                        self.emit(Some(&agent), EventKind::AgentUnreachable { reason });
                        self.tell(ring_result(RingResult::Unreachable)).await;
                        return Attempt::AgentMissed;
                    }
                },
            }
        };
        media.set_remote(Side::Agent, agent_media.0, agent_media.1);
        self.tell(ring_result(RingResult::Answered)).await;
        info!(agent = %agent, "callback: agent ready, calling the caller back");
        // 2. the caller
        match self
            .dial_caller(cfg, &media, session_id, &mut agent_leg)
            .await
        {
            Ok(caller_leg) => {
                self.talk(&agent, agent_leg, caller_leg, media).await;
                Attempt::Done
            }
            Err(reason) => {
                agent_leg.hangup().await;
                self.tell(ControllerMsg::AgentReleased {
                    agent,
                    call: self.id.clone(),
                })
                .await;
                Attempt::CallerMissed(reason)
            }
        }
    }

    /// Calls the caller back; Ok once they answered (media set up).
    async fn dial_caller(
        &mut self,
        cfg: &CallbackConfig,
        media: &MediaSession,
        session_id: u64,
        agent_leg: &mut OutboundLeg,
    ) -> Result<OutboundLeg, String> {
        let uri = cfg
            .uri_for(&self.caller.number)
            .ok_or_else(|| format!("`{}` cannot be dialled", self.caller.number))?;
        let target = Binding {
            contact: uri,
            source: cfg.gateway,
            transport: SipTransport::Udp,
            expires_at_ms: i64::MAX,
            call_id: String::new(),
            cseq: 0,
        };
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
        let offer = sdp::build(
            self.ctx.cfg.media_ip,
            media.caller_port(),
            &[Codec::Pcmu, Codec::Pcma],
            Some(TELEPHONE_EVENT_PT),
            session_id,
            1,
        );
        let mut leg = self
            .ctx
            .sip
            .invite(&target, &from, offer)
            .await
            .map_err(|e| e.to_string())?;
        let give_up = Instant::now() + Duration::from_millis(cfg.answer_timeout_ms.max(0) as u64);
        loop {
            tokio::select! {
                _ = sleep_until(give_up) => {
                    leg.hangup().await;
                    return Err("no answer".into());
                }
                ev = agent_leg.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() || matches!(e, LegEvent::Answered { .. }) => {}
                    _ => {
                        leg.hangup().await;
                        return Err("the agent hung up first".into());
                    }
                },
                ev = leg.next_event() => match ev {
                    Some(
                        LegEvent::Ringing
                        | LegEvent::Confirmed
                        | LegEvent::Info { .. }
                        | LegEvent::RemoteHold { .. }
                        | LegEvent::Refer { .. },
                    ) => {}
                    Some(LegEvent::Answered { sdp: answer }) => {
                        return match sdp::parse(&answer).and_then(|a| Ok((a.clone(), sdp::negotiate(&a)?))) {
                            Ok((a, n)) => {
                                media.set_remote(Side::Caller, SocketAddr::new(a.connection, a.audio_port), n);
                                Ok(leg)
                            }
                            Err(e) => {
                                leg.hangup().await;
                                Err(format!("unusable SDP: {e}"))
                            }
                        };
                    }
                    Some(LegEvent::Rejected { status }) => return Err(format!("refused {status}")),
                    Some(LegEvent::Failed { reason } | LegEvent::Ended { reason }) => return Err(reason),
                    Some(LegEvent::Cancelled | LegEvent::HungUp) | None => return Err("hung up".into()),
                },
            }
        }
    }

    /// Agent and caller talk, recorded, against the callback limit.
    async fn talk(
        &mut self,
        agent: &AgentId,
        mut agent_leg: OutboundLeg,
        mut caller_leg: OutboundLeg,
        media: MediaSession,
    ) {
        let recording = open_recording(
            &self.ctx,
            &self.id,
            Some(&self.queue),
            &mut self.cdr,
            Some(agent),
            false,
        );
        media.bridge(recording.as_ref().map(|r| r.sender()));
        let answered_ms = self.ctx.clock.now_ms();
        let wait_ms = answered_ms - self.requested_ms;
        info!(agent = %agent, wait_ms, "callback connected");
        self.emit(Some(agent), EventKind::AgentAnswered { wait_ms, rings: 0 });
        self.cdr.agent = Some(agent.clone());
        self.cdr.agent_answered_ms = Some(answered_ms);
        self.cdr.wait_ms = Some(wait_ms);
        self.cdr.rings = Some(0);
        let mut limits = LimitWatch::start(
            &self.ctx.cfg,
            CallType::Callback,
            answered_ms,
            Instant::now(),
        );
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let ended_by = loop {
            let due = limits.next();
            tokio::select! {
                _ = sleep_until(due.unwrap_or(far)), if due.is_some() => {
                    if let Some(kind) = limits.fire(self.ctx.clock.now_ms()) {
                        self.emit(Some(agent), kind);
                    }
                }
                ev = caller_leg.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() || matches!(e, LegEvent::Answered { .. }) => {}
                    _ => { agent_leg.hangup().await; break EndedBy::Caller; }
                },
                ev = agent_leg.next_event() => match ev {
                    Some(e) if e.keeps_the_leg_up() || matches!(e, LegEvent::Answered { .. }) => {}
                    _ => { caller_leg.hangup().await; break EndedBy::Agent; }
                },
            }
        };
        let talk_ms = self.ctx.clock.now_ms() - answered_ms;
        info!(?ended_by, talk_ms, "callback completed");
        self.emit(Some(agent), EventKind::Completed { ended_by, talk_ms });
        self.tell(ControllerMsg::AgentReleased {
            agent: agent.clone(),
            call: self.id.clone(),
        })
        .await;
        self.tell(ControllerMsg::Gone {
            call: self.id.clone(),
        })
        .await;
        self.cdr.talk_ms = Some(talk_ms);
        self.cdr.ended_by = Some(ended_by);
        media.stop_tap();
        drop(media);
        if let Some(rec) = recording {
            let queue = self.queue.clone();
            close_recording(
                &self.ctx,
                &self.id,
                Some(&queue),
                &mut self.cdr,
                Some(agent),
                rec,
                Vec::new(),
            )
            .await;
        }
        self.finish(Outcome::Answered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_callbacks_are_those_without_an_end_before_their_deadline() {
        let ev = |at, call: &str, kind| CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: None,
            queue: Some(QueueId::new("general")),
            kind,
        };
        let req = |at, cb: &str, deadline_ms| {
            ev(
                at,
                "orig",
                EventKind::CallbackRequested {
                    number: format!("06{cb}"),
                    callback: CallId::from_stored(cb),
                    deadline_ms,
                },
            )
        };
        let requested = vec![
            req(1_000, "waiting", 100_000),
            req(1_000, "tried", 100_000),
            req(1_000, "late", 5_000),
            req(1_000, "done", 100_000),
            req(1_000, "gave-up", 100_000),
            req(2_000, "waiting", 100_000),
        ];
        let failed = |n| EventKind::CallbackAttemptFailed {
            attempt: n,
            reason: "busy".into(),
        };
        let own = |id: &CallId| match id.as_str() {
            "tried" => vec![ev(3_000, "tried", failed(1)), ev(4_000, "tried", failed(2))],
            "done" => vec![ev(
                3_000,
                "done",
                EventKind::AgentAnswered {
                    wait_ms: 1,
                    rings: 1,
                },
            )],
            "gave-up" => vec![ev(
                3_000,
                "gave-up",
                EventKind::CallbackExpired { attempts: 3 },
            )],
            _ => Vec::new(),
        };
        let found = PendingCallback::find(&requested, 10_000, own);
        let got: Vec<(&str, u32)> = found.iter().map(|p| (p.id.as_str(), p.attempts)).collect();
        // `late` is past its deadline, `done` talked, `gave-up` expired;
        // `waiting` appears once
        assert_eq!(got, [("waiting", 0), ("tried", 2)]);
        assert_eq!(found[0].number, "06waiting");
        assert_eq!(
            (found[0].requested_ms, found[0].deadline_ms),
            (1_000, 100_000)
        );
        assert_eq!(found[0].queue.as_str(), "general");
    }

    fn cfg(dial: &str) -> CallbackConfig {
        CallbackConfig {
            key: '1',
            offer: None,
            confirm: None,
            deadline_ms: 86_400_000,
            dial: dial.into(),
            gateway: "127.0.0.1:5070".parse().unwrap(),
            retry_ms: 60_000,
            attempts: 3,
            answer_timeout_ms: 30_000,
        }
    }

    #[test]
    fn only_dialable_numbers_are_called_back() {
        let c = cfg("sip:{number}@127.0.0.1:5070");
        assert_eq!(
            c.uri_for("+8613800000000").as_deref(),
            Some("sip:+8613800000000@127.0.0.1:5070")
        );
        assert_eq!(
            c.uri_for("0612345678").as_deref(),
            Some("sip:0612345678@127.0.0.1:5070")
        );
        for bad in [
            "",
            "+",
            "anonymous",
            "06 12",
            "061;x=y",
            "0612@evil",
            &"1".repeat(33),
        ] {
            assert_eq!(c.uri_for(bad), None, "{bad:?}");
        }
    }
}
