//! A deterministic world for the call flow (like quinn's `Pair`): the
//! controller, every call, scripted phones and callers, in simulated time.
//! Inputs scheduled at a time are delivered in order; commands are carried
//! out at once the way the engine would (an INVITE is sent, a recording
//! opens), and the invariants are checked as they go: no agent bridged on two
//! calls, no call finished twice, every CDR equal to the one its events give.

#![allow(dead_code)]

use hotline_callflow::{
    Action, BlacklistHit, Call, Command, ControlError, Controller, ControllerInput,
    ControllerOutput, Environment, FlowSettings, Inbound, Input, LegInput, OutboundSpec, PromptRef,
    Sealed, TalkingCall,
};
use hotline_core::{AgentId, CallEvent, CallId, CallType, Cdr, EventKind, Party, QueueId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// How an agent's phone behaves when it rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phone {
    /// Answers after this many ms.
    Answer(i64),
    /// Rings until cancelled.
    NoAnswer,
    /// 486 after 100 ms.
    Busy,
    /// The INVITE cannot be sent.
    Unreachable,
    /// Answers after this many ms with an SDP we cannot use.
    BadSdp(i64),
}

/// Prompt lengths, open hours and missing prompts of the test world.
#[derive(Default)]
pub struct TestEnv {
    pub closed: Mutex<HashSet<QueueId>>,
    pub missing: Mutex<HashSet<&'static str>>,
    /// Optional phrases configured (agent_number, hold_resume, closing):
    /// absent unless named here.
    pub phrases: Mutex<HashSet<&'static str>>,
}

impl TestEnv {
    pub fn close(&self, q: &str) {
        self.closed.lock().expect("lock").insert(QueueId::new(q));
    }
    pub fn open(&self, q: &str) {
        self.closed.lock().expect("lock").remove(&QueueId::new(q));
    }
    pub fn without(&self, prompt: &'static str) {
        self.missing.lock().expect("lock").insert(prompt);
    }
    pub fn with_phrase(&self, prompt: &'static str) {
        self.phrases.lock().expect("lock").insert(prompt);
    }
}

impl Environment for TestEnv {
    fn is_open(&self, queue: &QueueId, _now_ms: i64) -> bool {
        !self.closed.lock().expect("lock").contains(queue)
    }
    fn greeting(&self, _now_ms: i64) -> PromptRef {
        PromptRef::Greeting(None)
    }
    fn prompt_ms(&self, prompt: &PromptRef) -> Option<i64> {
        let name = prompt.name();
        if self
            .missing
            .lock()
            .expect("lock")
            .iter()
            .any(|m| *m == name)
        {
            return None;
        }
        if matches!(
            prompt,
            PromptRef::AgentNumber(_) | PromptRef::HoldResume | PromptRef::Closing
        ) && !self.phrases.lock().expect("lock").contains(name.as_str())
        {
            return None;
        }
        Some(match prompt {
            PromptRef::Greeting(_) => 3_000,
            PromptRef::AgentNumber(_) => 1_500,
            PromptRef::Closing => 2_500,
            PromptRef::Music => 10_000,
            PromptRef::Menu => 4_000,
            PromptRef::VoicemailBeep => 500,
            PromptRef::LimitTone { .. } => 300,
            _ => 2_000,
        })
    }
}

/// What a scheduled input is for.
#[derive(Clone, Debug)]
enum Target {
    Call(CallId),
    Agent(CallId, AgentId),
    Customer(CallId),
}

pub struct World {
    pub now: i64,
    pub cfg: Arc<FlowSettings>,
    pub env: Arc<TestEnv>,
    pub controller: Controller,
    pub calls: BTreeMap<CallId, Call>,
    pub events: Vec<CallEvent>,
    pub cdrs: Vec<Cdr>,
    pub phones: HashMap<AgentId, Phone>,
    /// Callback customers: how they answer (absent: answer after 2 s).
    pub customers: HashMap<String, Phone>,
    /// A callback's customer hangs up this long after answering (None: never).
    pub customer_talk_ms: Option<i64>,
    /// Calls whose RTP stopped: (from the caller, from the agent).
    pub dead_media: HashMap<CallId, (bool, bool)>,
    /// Callers who never make a sound.
    pub silent: HashSet<CallId>,
    pub replies: HashMap<u64, Result<TalkingCall, ControlError>>,
    /// Every command carried out, with its call.
    pub trace: Vec<(i64, CallId, Command)>,
    scheduled: BTreeMap<(i64, u64), (Target, Input)>,
    seq: u64,
    token: u64,
    /// Agent → the call they are bridged to.
    pub bridged: HashMap<AgentId, CallId>,
    finished: HashSet<CallId>,
    /// The case owner the next inbound call carries (routing by ownership).
    pub next_owner: Option<hotline_callflow::OwnerHint>,
    /// How long the recorder takes to seal a recording (fsync, hash,
    /// signature): 0 answers at once, more delivers the seal that much later.
    pub seal_delay_ms: i64,
}

impl World {
    pub fn new(cfg: FlowSettings) -> Self {
        let cfg = Arc::new(cfg);
        let env = Arc::new(TestEnv::default());
        let controller = Controller::new(cfg.clone(), env.clone());
        World {
            now: 1_000_000,
            cfg,
            env,
            controller,
            calls: BTreeMap::new(),
            events: Vec::new(),
            cdrs: Vec::new(),
            phones: HashMap::new(),
            customers: HashMap::new(),
            customer_talk_ms: None,
            dead_media: HashMap::new(),
            silent: HashSet::new(),
            replies: HashMap::new(),
            trace: Vec::new(),
            scheduled: BTreeMap::new(),
            seq: 0,
            token: 0,
            bridged: HashMap::new(),
            finished: HashSet::new(),
            next_owner: None,
            seal_delay_ms: 0,
        }
    }

    /// Registers an agent's phone with its behaviour.
    pub fn agent(&mut self, name: &str, phone: Phone) {
        let agent = AgentId::new(name);
        self.phones.insert(agent.clone(), phone);
        self.controller.handle(
            self.now,
            ControllerInput::Registered {
                agent,
                contact: format!("sip:{name}@phone"),
                expires_s: 3600,
            },
        );
        self.pump();
    }

    /// A caller dials the hotline now.
    pub fn call_in(&mut self, number: &str) -> CallId {
        self.call_with(number, None, false)
    }

    pub fn call_with(
        &mut self,
        number: &str,
        blacklisted: Option<BlacklistHit>,
        vip: bool,
    ) -> CallId {
        self.seq += 1;
        let id = CallId::from_stored(format!("call{:04}", self.seq));
        let inbound = Inbound {
            caller: Party {
                number: number.into(),
                display: None,
            },
            dialled: "hotline".into(),
            media: Ok(()),
            blacklisted,
            vip,
            owner: self.next_owner.take(),
        };
        let call = Call::inbound(
            id.clone(),
            self.cfg.clone(),
            self.env.clone(),
            inbound,
            self.now,
        );
        self.calls.insert(id.clone(), call);
        self.pump();
        id
    }

    /// An agent dials `number` now; None when the controller refuses (the
    /// agent is on a call).
    pub fn dial_out(&mut self, agent: &str, number: &str) -> Option<CallId> {
        self.dial_out_with(agent, number, false)
    }

    /// An agent dials `number`, which is (or not) on one of their open
    /// work items.
    pub fn dial_out_with(
        &mut self,
        agent: &str,
        number: &str,
        on_work_item: bool,
    ) -> Option<CallId> {
        self.seq += 1;
        let id = CallId::from_stored(format!("out{:04}", self.seq));
        let agent = AgentId::new(agent);
        self.controller.dial_out(self.now, &agent, &id).ok()?;
        let spec = OutboundSpec {
            agent,
            number: number.into(),
            call_type: CallType::Callback,
            media: Ok(()),
            on_work_item,
        };
        let call = Call::outbound(
            id.clone(),
            self.cfg.clone(),
            self.env.clone(),
            spec,
            self.now,
        );
        self.calls.insert(id.clone(), call);
        self.pump();
        Some(id)
    }

    /// Click-to-call: `agent`'s phone rings first, then `number`; None if
    /// the controller refuses (unknown agent, on a call).
    pub fn click_to_call(
        &mut self,
        agent: &str,
        number: &str,
        call_type: CallType,
    ) -> Option<CallId> {
        self.click_to_call_with(agent, number, call_type, false)
    }

    /// Click-to-call of a number that is (or not) on one of the agent's
    /// open work items.
    pub fn click_to_call_with(
        &mut self,
        agent: &str,
        number: &str,
        call_type: CallType,
        on_work_item: bool,
    ) -> Option<CallId> {
        self.seq += 1;
        let id = CallId::from_stored(format!("c2c{:04}", self.seq));
        let agent = AgentId::new(agent);
        self.controller.dial_out(self.now, &agent, &id).ok()?;
        let spec = hotline_callflow::ClickToCall {
            agent,
            number: number.into(),
            call_type,
            on_work_item,
        };
        let call = Call::click_to_call(
            id.clone(),
            self.cfg.clone(),
            self.env.clone(),
            spec,
            self.now,
        );
        self.calls.insert(id.clone(), call);
        self.pump();
        Some(id)
    }

    fn schedule(&mut self, at: i64, target: Target, input: Input) {
        self.seq += 1;
        self.scheduled.insert((at, self.seq), (target, input));
    }

    /// The caller (or callback customer) hangs up at `at`.
    pub fn hang_up_at(&mut self, at: i64, call: &CallId) {
        self.schedule(
            at,
            Target::Call(call.clone()),
            Input::Caller(LegInput::Gone { reason: None }),
        );
    }

    /// An input to a call at `at`.
    pub fn at(&mut self, at: i64, call: &CallId, input: Input) {
        self.schedule(at, Target::Call(call.clone()), input);
    }

    /// The agent's phone hangs up at `at`.
    pub fn agent_hangs_up_at(&mut self, at: i64, call: &CallId, agent: &str) {
        let agent = AgentId::new(agent);
        self.schedule(
            at,
            Target::Agent(call.clone(), agent.clone()),
            Input::Agent {
                agent,
                event: LegInput::Gone { reason: None },
            },
        );
    }

    /// An action on the call now; returns the reply once it came.
    pub fn control(
        &mut self,
        call: &CallId,
        action: Action,
        by: &str,
    ) -> Option<Result<TalkingCall, ControlError>> {
        self.token += 1;
        let token = self.token;
        let now = self.now;
        if let Some(c) = self.calls.get_mut(call) {
            c.handle(
                now,
                Input::Control {
                    token,
                    action,
                    by: by.into(),
                },
            );
        }
        self.pump();
        self.replies.remove(&token)
    }

    /// Runs simulated time up to `until` (absolute, epoch ms).
    pub fn run_until(&mut self, until: i64) {
        loop {
            let next_input = self.scheduled.keys().next().map(|(t, _)| *t);
            let next_call = self.calls.values().filter_map(Call::poll_timeout).min();
            let next_ctl = self.controller.poll_timeout(self.now);
            let Some(next) = [next_input, next_call, next_ctl]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let due: Vec<(i64, u64)> = self
                .scheduled
                .range(..=(now, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            for k in due {
                if let Some((target, input)) = self.scheduled.remove(&k) {
                    if let (
                        Target::Agent(c, a),
                        Input::Agent {
                            event: LegInput::Gone { .. },
                            ..
                        },
                    ) = (&target, &input)
                    {
                        if self.bridged.get(a) == Some(c) {
                            self.bridged.remove(a);
                        }
                    }
                    let call = match &target {
                        Target::Call(c) | Target::Agent(c, _) | Target::Customer(c) => c.clone(),
                    };
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.handle(now, input);
                    }
                    self.pump();
                }
            }
            let ids: Vec<CallId> = self
                .calls
                .iter()
                .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.handle_timeout(now);
                }
                self.pump();
            }
            if next_ctl.is_some_and(|t| t <= now) {
                self.controller.handle_timeout(now);
                self.pump();
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs `ms` more of simulated time.
    pub fn run_for(&mut self, ms: i64) {
        let until = self.now + ms;
        self.run_until(until);
    }

    fn feed(&mut self, call: &CallId, input: Input) {
        let now = self.now;
        if let Some(c) = self.calls.get_mut(call) {
            c.handle(now, input);
        }
    }

    /// Carries out every pending command of the calls and the controller.
    pub fn pump(&mut self) {
        loop {
            let mut any = false;
            let ids: Vec<CallId> = self.calls.keys().cloned().collect();
            for id in ids {
                while let Some(cmd) = self.calls.get_mut(&id).and_then(Call::poll_command) {
                    any = true;
                    self.execute(&id, cmd);
                }
            }
            while let Some(out) = self.controller.poll_output() {
                any = true;
                self.controller_output(out);
            }
            if !any {
                break;
            }
        }
    }

    fn cancel(&mut self, pred: impl Fn(&Target) -> bool) {
        self.scheduled.retain(|_, (t, _)| !pred(t));
    }

    fn execute(&mut self, id: &CallId, cmd: Command) {
        let now = self.now;
        self.trace.push((now, id.clone(), cmd.clone()));
        match cmd {
            Command::Emit(e) => self.events.push(e),
            Command::Tell(msg) => {
                self.controller.handle(
                    now,
                    ControllerInput::FromCall {
                        call: id.clone(),
                        msg,
                    },
                );
                // as the engine does: the controller's outputs go out after
                // each message to it, before the call's next command
                while let Some(out) = self.controller.poll_output() {
                    self.controller_output(out);
                }
            }
            Command::InviteAgent { agent } => {
                let phone = self.phones.get(&agent).copied().unwrap_or(Phone::NoAnswer);
                if phone == Phone::Unreachable {
                    let event = LegInput::InviteFailed {
                        reason: "no route".into(),
                    };
                    self.feed(id, Input::Agent { agent, event });
                    return;
                }
                let contact = format!("sip:{agent}@phone");
                self.feed(
                    id,
                    Input::Agent {
                        agent: agent.clone(),
                        event: LegInput::Invited { contact },
                    },
                );
                let target = Target::Agent(id.clone(), agent.clone());
                match phone {
                    Phone::Answer(ms) => self.schedule(
                        now + ms,
                        target,
                        Input::Agent {
                            agent,
                            event: LegInput::Answered { usable: true },
                        },
                    ),
                    Phone::BadSdp(ms) => self.schedule(
                        now + ms,
                        target,
                        Input::Agent {
                            agent,
                            event: LegInput::Answered { usable: false },
                        },
                    ),
                    Phone::Busy => self.schedule(
                        now + 100,
                        target,
                        Input::Agent {
                            agent,
                            event: LegInput::Rejected { status: 486 },
                        },
                    ),
                    Phone::NoAnswer | Phone::Unreachable => {}
                }
            }
            Command::HangUpAgent { agent } => {
                let (c, a) = (id.clone(), agent.clone());
                self.cancel(|t| matches!(t, Target::Agent(tc, ta) if tc == &c && ta == &a));
                if self.bridged.get(&agent) == Some(id) {
                    self.bridged.remove(&agent);
                }
            }
            Command::Bridge { agent: Some(agent) } => {
                if let Some(other) = self.bridged.get(&agent) {
                    assert_eq!(other, id, "agent {agent} bridged on two calls");
                }
                self.bridged.insert(agent, id.clone());
            }
            Command::HangUpCaller => {
                let c = id.clone();
                self.cancel(|t| matches!(t, Target::Call(tc) | Target::Customer(tc) if tc == &c));
            }
            Command::DialCustomer { number } => {
                let phone = self
                    .customers
                    .get(&number)
                    .copied()
                    .unwrap_or(Phone::Answer(2_000));
                let target = Target::Customer(id.clone());
                if phone == Phone::Unreachable {
                    self.feed(
                        id,
                        Input::Caller(LegInput::InviteFailed {
                            reason: "no route".into(),
                        }),
                    );
                    return;
                }
                self.feed(
                    id,
                    Input::Caller(LegInput::Invited {
                        contact: format!("sip:{number}@gw"),
                    }),
                );
                match phone {
                    Phone::Answer(ms) => {
                        self.schedule(
                            now + ms,
                            target.clone(),
                            Input::Caller(LegInput::Answered { usable: true }),
                        );
                        if let Some(talk) = self.customer_talk_ms {
                            self.schedule(
                                now + ms + talk,
                                target,
                                Input::Caller(LegInput::Gone { reason: None }),
                            );
                        }
                    }
                    Phone::BadSdp(ms) => self.schedule(
                        now + ms,
                        target,
                        Input::Caller(LegInput::Answered { usable: false }),
                    ),
                    Phone::Busy => self.schedule(
                        now + 100,
                        target,
                        Input::Caller(LegInput::Rejected { status: 486 }),
                    ),
                    _ => {}
                }
            }
            Command::OpenRecording => {
                self.feed(
                    id,
                    Input::RecordingOpened {
                        path: format!("{id}.wav"),
                    },
                );
            }
            Command::CloseRecording { .. } => {
                let path = format!("{id}.wav");
                let sealed = Input::RecordingSealed(Sealed {
                    path,
                    sha256: format!("sha-{id}"),
                    samples: 8_000,
                    gaps: 0,
                    gap_samples: 0,
                });
                if self.seal_delay_ms > 0 {
                    self.schedule(now + self.seal_delay_ms, Target::Call(id.clone()), sealed);
                } else {
                    self.feed(id, sealed);
                }
            }
            Command::CheckMedia => {
                let (caller_dead, agent_dead) =
                    self.dead_media.get(id).copied().unwrap_or_default();
                self.feed(
                    id,
                    Input::MediaChecked {
                        caller: !caller_dead,
                        agent: !agent_dead,
                    },
                );
            }
            Command::CheckSilence => {
                let heard = !self.silent.contains(id);
                self.feed(id, Input::SilenceChecked { heard });
            }
            Command::Reply { token, result } => {
                self.replies.insert(token, result);
            }
            Command::Finished(cdr) => {
                assert!(self.finished.insert(id.clone()), "call {id} finished twice");
                let own: Vec<CallEvent> = self
                    .events
                    .iter()
                    .filter(|e| e.call_id.as_ref() == Some(id))
                    .cloned()
                    .collect();
                if let Some(derived) = Cdr::from_events(&own) {
                    assert_eq!(derived, *cdr, "the CDR of {id} is not what its events give");
                }
                assert!(
                    !self.bridged.values().any(|c| c == id),
                    "call {id} ended with an agent still bridged"
                );
                self.cdrs.push(*cdr);
                self.calls.remove(id);
                let c = id.clone();
                self.cancel(|t| matches!(t, Target::Call(tc) | Target::Customer(tc) | Target::Agent(tc, _) if tc == &c));
            }
            _ => {}
        }
    }

    fn controller_output(&mut self, out: ControllerOutput) {
        let now = self.now;
        match out {
            ControllerOutput::Offer { call, agent } => {
                if self.calls.contains_key(&call) {
                    self.feed(&call, Input::Offer { agent });
                } else {
                    self.controller.handle(
                        now,
                        ControllerInput::OfferUndelivered {
                            call,
                            agent,
                            registered: true,
                        },
                    );
                }
            }
            ControllerOutput::ToCall { call, input } => self.feed(&call, input),
            ControllerOutput::StartCallback { id, spec } => {
                let call =
                    Call::callback(id.clone(), self.cfg.clone(), self.env.clone(), spec, now);
                self.calls.insert(id, call);
            }
            ControllerOutput::Event(e) => self.events.push(e),
        }
    }

    // ---- reading the record ----

    /// The names of a call's events, in order.
    pub fn kinds(&self, call: &CallId) -> Vec<&'static str> {
        self.events
            .iter()
            .filter(|e| e.call_id.as_ref() == Some(call))
            .map(|e| e.kind.name())
            .collect()
    }

    /// A call's events.
    pub fn events_of(&self, call: &CallId) -> Vec<&CallEvent> {
        self.events
            .iter()
            .filter(|e| e.call_id.as_ref() == Some(call))
            .collect()
    }

    /// The first event of `name` of the call.
    pub fn first(&self, call: &CallId, name: &str) -> Option<&CallEvent> {
        self.events
            .iter()
            .find(|e| e.call_id.as_ref() == Some(call) && e.kind.name() == name)
    }

    /// The CDR of a call.
    pub fn cdr(&self, call: &CallId) -> Option<&Cdr> {
        self.cdrs.iter().find(|c| &c.call_id == call)
    }

    /// Commands carried out for a call.
    pub fn commands(&self, call: &CallId) -> Vec<&Command> {
        self.trace
            .iter()
            .filter(|(_, c, _)| c == call)
            .map(|(_, _, cmd)| cmd)
            .collect()
    }

    /// The callback calls started so far.
    pub fn callbacks(&self) -> Vec<CallId> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::CallbackRequested { callback, .. } => Some(callback.clone()),
                _ => None,
            })
            .collect()
    }
}
