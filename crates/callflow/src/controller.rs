//! The controller: owns the ACD, the calls waiting for an agent (and where
//! they overflow), who talks on which call, which agents logged out on
//! request. Sans-IO like [`crate::Call`]: inputs with `now`
//! ([`Controller::handle`]), outputs polled ([`Controller::poll_output`]), a
//! wake-up time ([`Controller::poll_timeout`]).

use crate::call::{CallbackSpec, Input, ToController};
use crate::control::ControlError;
use crate::settings::{Environment, FlowSettings, VOICEMAIL};
use hotline_acd::{
    Acd, AcdConfig, AgentState, CallRequest, EnqueueRefused, LeaveRefused, Notice, QueueConfig,
    RingResult,
};
use hotline_core::{AgentId, CallEvent, CallId, EventKind, QueueId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Overflows a call may take in a row (a cycle of overflows cannot spin).
const MAX_HOPS: u32 = 4;

/// What an agent (or a supervisor for them) asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentRequest {
    /// Take calls again after a logout (the phone must be registered).
    Login,
    /// Stop taking calls; the phone stays registered.
    Logout,
    /// Stop taking calls for a while, with a reason (meal, training, ...).
    Pause {
        /// Why.
        reason: String,
    },
    /// End a pause.
    Unpause,
}

impl AgentRequest {
    /// The request's name in events and the API.
    pub fn name(&self) -> &'static str {
        match self {
            AgentRequest::Login => "login",
            AgentRequest::Logout => "logout",
            AgentRequest::Pause { .. } => "pause",
            AgentRequest::Unpause => "unpause",
        }
    }
}

/// Who asks, and whether they may override minimum staffing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    /// `phone`, or `api:<name>`.
    pub by: String,
    /// A supervisor overriding a queue's minimum staffing (logged).
    pub override_minimum: bool,
}

/// One agent as the supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AgentStatus {
    /// The agent.
    pub agent: String,
    /// logged_out, available, ringing, on_call, wrap_up or paused.
    pub state: &'static str,
    /// The pause reason, when paused.
    pub reason: Option<String>,
    /// Whether a phone of the agent is registered.
    pub registered: bool,
    /// Logged out on request (stays out across re-registrations until login).
    pub logged_out_by_request: bool,
    /// Calls answered since start.
    pub answered: u32,
    /// Offers missed since start.
    pub missed: u32,
}

/// A queue as the wallboard sees it: open or not, who is staffed, who waits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueStatus {
    /// The queue.
    pub queue: String,
    /// Inside its open hours now.
    pub open: bool,
    /// Agents logged in to it with a phone registered (paused included).
    pub staffed: u32,
    /// Longest current wait, ms (0 when nobody waits).
    pub longest_wait_ms: i64,
    /// The callers waiting, next first.
    pub waiting: Vec<WaitingCaller>,
}

/// One caller waiting in a queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WaitingCaller {
    /// The call.
    pub call_id: String,
    /// 1 = next.
    pub position: u32,
    /// Waiting in this queue for, ms.
    pub waited_ms: i64,
    /// Served ahead of others (VIP 10, transferred 20).
    pub priority: u8,
    /// Agents ringing for the call now.
    pub ringing: Vec<String>,
}

/// The state's name in the API.
pub fn state_name(s: &AgentState) -> &'static str {
    match s {
        AgentState::LoggedOut => "logged_out",
        AgentState::Available { .. } => "available",
        AgentState::Ringing => "ringing",
        AgentState::OnCall => "on_call",
        AgentState::WrapUp { .. } => "wrap_up",
        AgentState::Paused { .. } => "paused",
    }
}

/// A refusal of the ACD in words an agent understands.
pub fn refusal_text(r: &LeaveRefused) -> String {
    match r {
        LeaveRefused::BelowMinimum {
            queue,
            staffed_after,
            minimum,
        } => format!(
            "queue {queue} would have {staffed_after} staffed agents, its minimum is {minimum}"
        ),
        LeaveRefused::NotLoggedIn => "not logged in".to_string(),
    }
}

/// An input to the controller.
#[derive(Clone, Debug)]
pub enum ControllerInput {
    /// A phone of the agent registered (`contact` for `expires_s`).
    Registered {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: String,
        /// Its lifetime, s.
        expires_s: u32,
    },
    /// A registration of the agent is gone; `registered`: others remain.
    Unregistered {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: String,
        /// The agent still has a registered phone.
        registered: bool,
    },
    /// A call tells the controller something.
    FromCall {
        /// The call.
        call: CallId,
        /// What.
        msg: ToController,
    },
    /// An offer could not be delivered (no contact left, call gone);
    /// `registered`: the agent still has a phone.
    OfferUndelivered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The agent still has a registered phone.
        registered: bool,
    },
}

/// What the controller asks of the driver.
#[derive(Clone, Debug)]
pub enum ControllerOutput {
    /// Ring `agent` for `call` (the driver finds the contact and hands the
    /// call an [`Input::Offer`], or reports [`ControllerInput::OfferUndelivered`]).
    Offer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// Hand a call an input (refused, moved, voicemail, its queue status).
    ToCall {
        /// The call.
        call: CallId,
        /// The input.
        input: Input,
    },
    /// Start a callback call.
    StartCallback {
        /// Its id.
        id: CallId,
        /// What to call back.
        spec: CallbackSpec,
    },
    /// Write this event.
    Event(CallEvent),
}

/// A waiting call's routing, kept to re-queue it on overflow.
#[derive(Clone, Debug)]
struct Waiting {
    queue: QueueId,
    request: CallRequest,
    hops: u32,
}

/// The controller.
pub struct Controller {
    cfg: Arc<FlowSettings>,
    env: Arc<dyn Environment>,
    acd: Acd,
    waiting: HashMap<CallId, Waiting>,
    talking: HashMap<AgentId, CallId>,
    logged_off: HashSet<AgentId>,
    registered: HashSet<AgentId>,
    out: VecDeque<ControllerOutput>,
    routing: bool,
}

impl Controller {
    /// A controller with the configured queues and skills, no agent
    /// registered and no call.
    pub fn new(cfg: Arc<FlowSettings>, env: Arc<dyn Environment>) -> Self {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: cfg.wrap_up_ms,
            auto_pause_after_misses: cfg.auto_pause_after_misses,
        });
        acd.set_queue(QueueConfig::new(cfg.queue.clone()));
        for q in &cfg.queues {
            acd.set_queue(q.clone());
        }
        for (agent, skills) in &cfg.agent_skills {
            acd.set_skills(agent, skills.clone());
        }
        Controller {
            cfg,
            env,
            acd,
            waiting: HashMap::new(),
            talking: HashMap::new(),
            logged_off: HashSet::new(),
            registered: HashSet::new(),
            out: VecDeque::new(),
            routing: true,
        }
    }

    /// Routing on or off (the HA pair: a standby node makes no offers, so
    /// that the callers and callbacks it still holds wait instead of being
    /// routed on stale agent state; on by default). Turned on, the waiting
    /// calls are offered at once.
    pub fn set_routing(&mut self, now: i64, on: bool) {
        self.routing = on;
        self.poll(now);
    }

    /// Whether the controller routes (see [`Controller::set_routing`]).
    pub fn routing(&self) -> bool {
        self.routing
    }

    /// The ACD (read only: for figures and tests).
    pub fn acd(&self) -> &Acd {
        &self.acd
    }

    /// The next output for the driver.
    pub fn poll_output(&mut self) -> Option<ControllerOutput> {
        self.out.pop_front()
    }

    /// When the controller next wants [`Controller::handle_timeout`]
    /// (a wrap-up ends, a caller reaches the maximum wait, a skill need widens).
    /// None while routing is off (the ACD's deadlines wait for it).
    pub fn poll_timeout(&self, now: i64) -> Option<i64> {
        if !self.routing {
            return None;
        }
        self.acd.next_deadline(now)
    }

    /// Moves time on: wrap-ups end, waits overflow, offers go out.
    pub fn handle_timeout(&mut self, now: i64) {
        self.poll(now);
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: i64, input: ControllerInput) {
        match input {
            ControllerInput::Registered {
                agent,
                contact,
                expires_s,
            } => {
                self.registered.insert(agent.clone());
                if !self.logged_off.contains(&agent) {
                    self.acd.agent_logged_in(&agent, now);
                }
                self.agent_event(
                    now,
                    &agent,
                    EventKind::AgentRegistered { contact, expires_s },
                );
            }
            ControllerInput::Unregistered {
                agent,
                contact,
                registered,
            } => {
                if !registered {
                    self.registered.remove(&agent);
                    self.acd.agent_logged_out(&agent);
                }
                self.agent_event(now, &agent, EventKind::AgentUnregistered { contact });
            }
            ControllerInput::FromCall { call, msg } => self.on_call_message(now, call, msg),
            ControllerInput::OfferUndelivered {
                call,
                agent,
                registered,
            } => {
                tracing::warn!(agent = %agent, call = %call, "offer could not be delivered");
                self.acd
                    .ring_result(&call, &agent, RingResult::Unreachable, now);
                if !registered {
                    self.registered.remove(&agent);
                    self.acd.agent_logged_out(&agent);
                }
            }
        }
        self.poll(now);
    }

    /// Callbacks left pending by the previous run: taken over (their
    /// attempts kept, no second `arrived`), queued once their queue opens.
    pub fn resume_callbacks(&mut self, now: i64, pending: Vec<(CallId, CallbackSpec)>) {
        for (id, mut spec) in pending {
            spec.queued = false;
            spec.resumed = true;
            self.waiting.insert(
                id.clone(),
                Waiting {
                    queue: spec.queue.clone(),
                    request: CallRequest::default(),
                    hops: 0,
                },
            );
            self.out
                .push_back(ControllerOutput::StartCallback { id, spec });
        }
        self.poll(now);
    }

    fn on_call_message(&mut self, now: i64, call: CallId, msg: ToController) {
        match msg {
            ToController::Enqueue { queue, request } => {
                self.place(
                    now,
                    call,
                    Waiting {
                        queue,
                        request,
                        hops: 0,
                    },
                );
            }
            ToController::RingResult { agent, result } => {
                if result == RingResult::Answered {
                    self.talking.insert(agent.clone(), call.clone());
                }
                self.acd.ring_result(&call, &agent, result, now);
                // an agent whose contact is gone is not offered again
                if result == RingResult::Unreachable && !self.registered.contains(&agent) {
                    self.acd.agent_logged_out(&agent);
                }
            }
            ToController::AgentReleased { agent } => {
                if self.talking.get(&agent) == Some(&call) {
                    self.talking.remove(&agent);
                }
                if let Some(wrap_ms) = self.acd.call_ended(&agent, now) {
                    self.out.push_back(ControllerOutput::Event(CallEvent {
                        at_ms: now,
                        call_id: Some(call),
                        agent: Some(agent),
                        queue: None,
                        kind: EventKind::WrapUp { wrap_ms },
                    }));
                }
            }
            ToController::Gone => {
                self.acd.remove_call(&call, now);
                self.waiting.remove(&call);
                self.talking.retain(|_, c| c != &call);
            }
            ToController::Callback {
                new,
                number,
                queue,
                deadline_ms,
                owner,
            } => {
                let w = self.waiting.remove(&call).unwrap_or(Waiting {
                    queue: queue.clone(),
                    request: CallRequest::default(),
                    hops: 0,
                });
                // keeps the caller's place; a caller of a closed queue had
                // none: the callback queues itself at opening
                let queued = self.acd.rename_call(&call, new.clone(), now);
                // the case owner gets a fresh wait for their customer's
                // callback (the caller's own wait may have passed)
                if let (true, Some(o)) = (queued, &owner) {
                    self.acd.prefer(
                        &new,
                        hotline_acd::PreferredAgent {
                            agent: o.agent.clone(),
                            until_ms: now.saturating_add(o.wait_ms),
                        },
                        now,
                    );
                }
                self.waiting.insert(new.clone(), w);
                self.out.push_back(ControllerOutput::StartCallback {
                    id: new,
                    spec: CallbackSpec {
                        number,
                        queue,
                        requested_ms: now,
                        deadline_ms,
                        attempts: 0,
                        queued,
                        resumed: false,
                        owner,
                    },
                });
            }
            ToController::AskStatus { default_handle_ms } => {
                let input = Input::QueueStatus {
                    position: self.acd.position(&call),
                    expected_wait_ms: self.acd.expected_wait_ms(&call, default_handle_ms),
                };
                self.out.push_back(ControllerOutput::ToCall { call, input });
            }
        }
    }

    /// Every queue is told whether it is open; offers go out; the ACD's
    /// notices become events (and over-long waits overflow).
    fn poll(&mut self, now: i64) {
        let queues: Vec<QueueId> = self.acd.queue_ids();
        for q in &queues {
            let open = self.env.is_open(q, now);
            self.acd.set_queue_open(q, open);
        }
        if self.routing {
            for offer in self.acd.poll_offers(now) {
                self.out.push_back(ControllerOutput::Offer {
                    call: offer.call,
                    agent: offer.agent,
                });
            }
        }
        for (call, from) in self.notices(now) {
            // max wait reached: the ACD has let the call go; overflow it
            if let Some(mut w) = self.waiting.get(&call).cloned() {
                self.overflow(now, &call, &mut w, &from, "max_wait");
            }
        }
        // an overflow may have placed calls that can be offered now
        let offers = if self.routing {
            self.acd.poll_offers(now)
        } else {
            Vec::new()
        };
        for offer in offers {
            self.out.push_back(ControllerOutput::Offer {
                call: offer.call,
                agent: offer.agent,
            });
        }
    }

    /// Puts a call in its queue (remembering its routing), or overflows it
    /// when the queue has no member logged in, or refuses it when the queue
    /// is full.
    fn place(&mut self, now: i64, call: CallId, mut w: Waiting) {
        self.waiting.insert(call.clone(), w.clone());
        // (the overflow check first: counting staffed agents scans members)
        if self.cfg.overflow.contains_key(&w.queue) && self.acd.staffed_agents(&w.queue) == 0 {
            let from = w.queue.clone();
            self.overflow(now, &call, &mut w, &from, "no_agents");
            return;
        }
        match self
            .acd
            .enqueue_in(&w.queue, call.clone(), w.request.clone(), now)
        {
            Ok(position) => self.out.push_back(ControllerOutput::Event(CallEvent {
                at_ms: now,
                call_id: Some(call),
                agent: None,
                queue: Some(w.queue.clone()),
                kind: EventKind::Queued { position },
            })),
            Err(EnqueueRefused::QueueFull { .. }) if self.cfg.overflow.contains_key(&w.queue) => {
                let from = w.queue.clone();
                self.overflow(now, &call, &mut w, &from, "full");
            }
            Err(refused) => {
                let reason = match refused {
                    EnqueueRefused::QueueFull { waiting } => {
                        format!("queue {} full ({waiting} waiting)", w.queue)
                    }
                    EnqueueRefused::UnknownQueue(q) => format!("unknown queue {q}"),
                };
                tracing::warn!(call = %call, %reason, "call refused by the queue");
                self.out.push_back(ControllerOutput::ToCall {
                    call,
                    input: Input::Refused { reason },
                });
            }
        }
    }

    /// Moves a call to its queue's overflow queue (at most a few hops), or
    /// back into its own queue if none.
    fn overflow(&mut self, now: i64, call: &CallId, w: &mut Waiting, from: &QueueId, reason: &str) {
        let target = self
            .cfg
            .overflow
            .get(from)
            .filter(|_| w.hops < MAX_HOPS)
            .cloned();
        let Some(to) = target else {
            // nowhere to go: the caller keeps waiting where they are, or is
            // refused if even that queue is full
            if let Err(refused) = self
                .acd
                .enqueue_in(from, call.clone(), w.request.clone(), now)
            {
                tracing::warn!(call = %call, ?refused, "call refused: no overflow left");
                self.out.push_back(ControllerOutput::ToCall {
                    call: call.clone(),
                    input: Input::Refused {
                        reason: format!("queue {from} full"),
                    },
                });
            }
            return;
        };
        w.hops += 1;
        self.waiting.insert(call.clone(), w.clone());
        if to.as_str() == VOICEMAIL && self.cfg.voicemail_max_ms.is_some() {
            tracing::info!(call = %call, from = %from, reason, "call overflows to voicemail");
            self.overflowed(now, call, from, from, reason);
            self.acd.remove_call(call, now);
            self.out.push_back(ControllerOutput::ToCall {
                call: call.clone(),
                input: Input::ToVoicemail,
            });
            return;
        }
        w.queue = to.clone();
        tracing::info!(call = %call, from = %from, to = %to, reason, "call overflows");
        self.overflowed(now, call, from, &to, reason);
        self.out.push_back(ControllerOutput::ToCall {
            call: call.clone(),
            input: Input::Moved { queue: to },
        });
        self.place(now, call.clone(), w.clone());
    }

    fn overflowed(
        &mut self,
        now: i64,
        call: &CallId,
        from: &QueueId,
        queue: &QueueId,
        reason: &str,
    ) {
        self.out.push_back(ControllerOutput::Event(CallEvent {
            at_ms: now,
            call_id: Some(call.clone()),
            agent: None,
            queue: Some(queue.clone()),
            kind: EventKind::Overflowed {
                from: from.clone(),
                reason: reason.to_string(),
            },
        }));
    }

    /// Turns the ACD's notices into events; returns the calls that reached
    /// their queue's maximum wait, with that queue.
    fn notices(&mut self, now: i64) -> Vec<(CallId, QueueId)> {
        let mut max_waits = Vec::new();
        for n in self.acd.take_notices() {
            let (agent, kind) = match n {
                Notice::AgentAutoPaused { agent, misses } => {
                    tracing::warn!(agent = %agent, misses, "agent paused after missed calls");
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
                    tracing::warn!(agent = %agent, queue = %queue, by = %by, "minimum staffing overridden");
                    (agent, EventKind::MinimumStaffingOverridden { queue, by })
                }
                Notice::PreferredOffered { call, agent } => {
                    tracing::info!(call = %call, owner = %agent, "the case owner rings first");
                    self.owner_event(now, call, agent, "offered");
                    continue;
                }
                Notice::PreferredPassed { call, agent, why } => {
                    tracing::info!(call = %call, owner = %agent, why = why.as_str(), "the case owner was not free: anyone may answer");
                    self.owner_event(now, call, agent, why.as_str());
                    continue;
                }
                Notice::MaxWaitReached {
                    call,
                    queue,
                    waited_ms,
                } => {
                    tracing::info!(call = %call, queue = %queue, waited_ms, "call reached its queue's maximum wait");
                    max_waits.push((call, queue));
                    continue;
                }
            };
            self.agent_event(now, &agent, kind);
        }
        max_waits
    }

    /// Routing by ownership: what became of ringing the case owner first.
    fn owner_event(&mut self, now: i64, call: CallId, owner: AgentId, outcome: &str) {
        let queue = self.waiting.get(&call).map(|w| w.queue.clone());
        self.out.push_back(ControllerOutput::Event(CallEvent {
            at_ms: now,
            call_id: Some(call),
            agent: Some(owner),
            queue,
            kind: EventKind::OwnerFirst {
                outcome: outcome.to_string(),
            },
        }));
    }

    fn agent_event(&mut self, now: i64, agent: &AgentId, kind: EventKind) {
        self.out.push_back(ControllerOutput::Event(CallEvent {
            at_ms: now,
            call_id: None,
            agent: Some(agent.clone()),
            queue: None,
            kind,
        }));
    }

    /// An agent dials out on `call`: refused for an unknown agent or one who
    /// is ringing or talking; else the agent is busy in the ACD until the
    /// call tells [`ToController::AgentReleased`].
    pub fn dial_out(
        &mut self,
        now: i64,
        agent: &AgentId,
        call: &CallId,
    ) -> Result<(), ControlError> {
        if !self.knows_agent(agent) {
            return Err(ControlError::UnknownAgent(agent.as_str().to_string()));
        }
        self.acd
            .outbound_started(agent, now)
            .map_err(|_| ControlError::Refused("you are on a call".into()))?;
        self.talking.insert(agent.clone(), call.clone());
        Ok(())
    }

    /// The call an agent talks on.
    pub fn call_of(&self, agent: &AgentId) -> Option<&CallId> {
        self.talking.get(agent)
    }

    /// Whether an agent talks on `call` (answered it and is not released
    /// yet: a callback's attempt in progress).
    pub fn is_talked_on(&self, call: &CallId) -> bool {
        self.talking.values().any(|c| c == call)
    }

    /// Is `agent` configured?
    pub fn knows_agent(&self, agent: &AgentId) -> bool {
        self.cfg.agents.contains(agent)
    }

    /// An agent's status for the API.
    pub fn status(&self, agent: &AgentId) -> AgentStatus {
        let state = self.acd.agent_state(agent);
        let counters = self.acd.counters(agent);
        AgentStatus {
            agent: agent.as_str().to_string(),
            state: state_name(&state),
            reason: match state {
                AgentState::Paused { reason, .. } => Some(reason),
                _ => None,
            },
            registered: self.registered.contains(agent),
            logged_out_by_request: self.logged_off.contains(agent),
            answered: counters.answered,
            missed: counters.missed,
        }
    }

    /// Every configured agent's status.
    pub fn statuses(&self) -> Vec<AgentStatus> {
        self.cfg.agents.iter().map(|a| self.status(a)).collect()
    }

    /// Every queue with its waiting callers.
    pub fn queues(&self, now: i64) -> Vec<QueueStatus> {
        self.acd
            .queue_ids()
            .into_iter()
            .map(|q| {
                let waiting: Vec<WaitingCaller> = self
                    .acd
                    .waiting_calls(&q)
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| WaitingCaller {
                        call_id: w.call.to_string(),
                        position: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        waited_ms: (now - w.since_ms).max(0),
                        priority: w.priority,
                        ringing: w.ringing.iter().map(ToString::to_string).collect(),
                    })
                    .collect();
                QueueStatus {
                    open: self.env.is_open(&q, now),
                    staffed: self.acd.staffed_agents(&q),
                    longest_wait_ms: waiting.iter().map(|w| w.waited_ms).max().unwrap_or(0),
                    waiting,
                    queue: q.to_string(),
                }
            })
            .collect()
    }

    /// Carries out an agent request on the ACD; every change and refusal is
    /// an event.
    pub fn request(
        &mut self,
        now: i64,
        agent: &AgentId,
        request: AgentRequest,
        requester: &Requester,
    ) -> Result<AgentStatus, ControlError> {
        if !self.knows_agent(agent) {
            return Err(ControlError::UnknownAgent(agent.as_str().to_string()));
        }
        for q in self.acd.queue_ids() {
            let open = self.env.is_open(&q, now);
            self.acd.set_queue_open(&q, open);
        }
        let by = requester.by.clone();
        let allow = requester.override_minimum.then_some(by.as_str());
        let state = self.acd.agent_state(agent);
        let done: Result<EventKind, String> = match &request {
            AgentRequest::Login => {
                if !self.registered.contains(agent) {
                    Err("no phone of this agent is registered".to_string())
                } else {
                    self.logged_off.remove(agent);
                    self.acd.agent_logged_in(agent, now);
                    Ok(EventKind::AgentLoggedIn { by: by.clone() })
                }
            }
            AgentRequest::Logout => match self.acd.logout(agent, allow) {
                Ok(()) => {
                    self.logged_off.insert(agent.clone());
                    Ok(EventKind::AgentLoggedOut { by: by.clone() })
                }
                Err(r) => Err(refusal_text(&r)),
            },
            AgentRequest::Pause { reason } => {
                let after_call = matches!(state, AgentState::Ringing | AgentState::OnCall);
                self.acd
                    .pause(agent, reason, now, allow)
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
                    self.acd.unpause(agent, now);
                    Ok(EventKind::AgentUnpaused { by: by.clone() })
                }
            },
        };
        let result = match done {
            Ok(kind) => {
                tracing::info!(agent = %agent, request = request.name(), by = %by, "agent request done");
                self.agent_event(now, agent, kind);
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(agent = %agent, request = request.name(), by = %by, %reason, "agent request refused");
                self.agent_event(
                    now,
                    agent,
                    EventKind::AgentRequestRefused {
                        request: request.name().to_string(),
                        reason: reason.clone(),
                        by,
                    },
                );
                Err(ControlError::Refused(reason))
            }
        };
        // an override's notice, and the offers an unpause makes possible
        self.poll(now);
        result.map(|()| self.status(agent))
    }
}
