//! The event loop: the real call flow ([`Controller`] and one [`Call`] per
//! call) driven in simulated time by scripted callers and agents' phones.
//!
//! Future happenings (the next arrival, a caller's patience running out, a
//! talk ending, a phone picked up, the timers the calls and the controller
//! ask for) wait in one heap ordered by (time, insertion order). Each is
//! handed to the call flow, then the commands it gives are carried out at
//! once, the way the engine would: an INVITE reaches the agent's phone, a
//! recording opens, a message to the controller is delivered. The events
//! the calls and the controller emit are the record the report folds.

use crate::config::{OverflowTo, SimConfig, SimError};
use crate::random::Stream;
use crate::report::{SimReport, Tally};
use hotline_acd::{QueueConfig, SkillNeed};
use hotline_callflow::{
    AnnouncePolicy, Call, CallbackPolicy, Command, Controller, ControllerInput, ControllerOutput,
    Environment, FlowSettings, Inbound, Input, LegInput, Phase, PromptRef, Sealed, VOICEMAIL,
};
use hotline_core::{AgentId, CallEvent, CallId, Cdr, Party, QueueId};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

const MS_PER_HOUR: f64 = 3_600_000.0;

/// The key a waiting caller presses to be called back.
const CALLBACK_KEY: char = '1';

/// How long a callback's customer lets the phone ring before answering, ms.
const CUSTOMER_ANSWER_MS: i64 = 6_000;

/// Mean length of a voicemail message, seconds (exponential).
pub const VOICEMAIL_MEAN_S: f64 = 30.0;

/// Longest voicemail message, seconds (the engine stops recording then).
pub const VOICEMAIL_MAX_S: f64 = 120.0;

/// The main queue (every call rings in here).
const MAIN_QUEUE: &str = "general";

/// The overflow queue of [`OverflowTo::Queue`].
const OVERFLOW_QUEUE: &str = "overflow";

/// Most steps at one simulated millisecond before the run is declared stuck.
const MAX_STEPS_AT_ONCE: u64 = 1_000_000;

/// How often the KPI records of ended calls are forgotten (they still
/// count), simulated ms.
const FORGET_EVERY_MS: i64 = 3_600_000;

/// The number callers dial (the flow's only hotline number).
const HOTLINE_NUMBER: &str = "hotline";

/// Open all the time, the default greeting, prompt lengths from a table.
struct SimEnv;

impl Environment for SimEnv {
    fn is_open(&self, _queue: &QueueId, _now_ms: i64) -> bool {
        true
    }

    fn greeting(&self, _now_ms: i64) -> PromptRef {
        PromptRef::Greeting(None)
    }

    fn prompt_ms(&self, prompt: &PromptRef) -> Option<i64> {
        Some(match prompt {
            PromptRef::Greeting(_) => 6_000,
            PromptRef::Music => 30_000,
            PromptRef::Announcement { .. } => 5_000,
            PromptRef::CallbackOffer => 4_000,
            PromptRef::VoicemailBeep => 500,
            PromptRef::LimitTone { .. } => 300,
            PromptRef::MonitorBeep => 150,
            _ => 3_000,
        })
    }
}

/// Something the scripted world does at a simulated time. Acts on a call
/// are checked when due: one the call has moved past is dropped.
#[derive(Clone, Debug)]
enum Due {
    /// The next caller rings in.
    Arrival,
    /// A waiting caller's patience runs out: they hang up.
    GiveUp(CallId),
    /// A waiting caller presses the callback key.
    AskCallback(CallId),
    /// The customer ends the talk (`token` names the talk).
    TalkEnds(CallId, u64),
    /// The caller stops speaking their voicemail message.
    MessageEnds(CallId),
    /// A callback's customer picks up.
    CustomerAnswers(CallId),
    /// An agent picks up (`token` names the ring).
    AgentAnswers(CallId, AgentId, u64),
    /// The call asked to be woken now (if still its deadline).
    CallTimer(CallId),
    /// The controller asked to be woken now (if still its deadline).
    ControllerTimer,
}

/// A [`Due`] in the heap, earliest first, then first scheduled first.
struct Scheduled {
    at: i64,
    seq: u64,
    due: Due,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One call in progress and what the world expects of it.
struct Slot {
    call: Call,
    /// When the call arrived (a callback: when it was asked for), ms.
    arrived_ms: i64,
    /// Arrived after the warm-up: its events are measured.
    measured: bool,
    /// The wake-up time asked for last (a timer in the heap).
    deadline: Option<i64>,
    /// Agents whose pick-up is scheduled, with the ring's token.
    answering: Vec<(AgentId, u64)>,
    /// The talk the customer will end (its token).
    talk: Option<u64>,
    /// The CDR came.
    finished: bool,
}

/// One run in progress.
pub(crate) struct Simulation {
    controller: Controller,
    cfg_flow: Arc<FlowSettings>,
    env: Arc<dyn Environment>,
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    /// Steps taken at the current `now` (a timer that never moves on would
    /// spin for ever: caught at [`MAX_STEPS_AT_ONCE`]).
    steps_now: u64,
    now: i64,
    /// Measuring starts here (end of warm-up), ms.
    measure_from: i64,
    /// No arrival after this; the report is taken here, ms.
    end: i64,
    aht_s: f64,
    patience_s: Option<f64>,
    callback_after_ms: Option<i64>,
    agent_answer_ms: i64,
    no_answer_share: f64,
    /// Mean time between arrivals, ms.
    interarrival_ms: f64,
    /// Exact (unrounded) time of the next arrival, ms.
    next_arrival: f64,
    arrivals: Stream,
    talk_times: Stream,
    patience: Stream,
    pick_ups: Stream,
    messages: Stream,
    calls_made: u64,
    calls: HashMap<CallId, Slot>,
    /// Calls with commands to carry out, in order.
    dirty: VecDeque<CallId>,
    /// Calls touched since their deadline was last read.
    touched: Vec<CallId>,
    controller_touched: bool,
    controller_deadline: Option<i64>,
    /// Agent → the call they are bridged to.
    bridged: HashMap<AgentId, CallId>,
    /// Calls that ended (a CDR came), measured or not.
    ended: u64,
    /// Callback calls started.
    callbacks_started: u64,
    /// Kept when asked (tests): every CDR, and every call's events.
    keep: Option<Kept>,
    tally: Tally,
    /// When the KPI records of ended calls are next forgotten, ms.
    next_forget: i64,
    cfg: SimConfig,
}

/// What a checked run keeps to compare at the end.
#[derive(Default)]
struct Kept {
    /// Every CDR, in the order the calls ended.
    cdrs: Vec<Cdr>,
    /// Every event of each call, as emitted.
    events: HashMap<CallId, Vec<CallEvent>>,
}

fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// The skill of the first queue's agents (with an overflow queue, whose
/// agents have [`OVERFLOW_QUEUE`] instead). Skills, not member lists, keep
/// the queues apart: the ACD checks a member list by scanning it.
const MAIN_SKILL: &str = "first";

/// The call flow's settings for `cfg`: one queue (`general`) of the agents,
/// an overflow queue or the voicemail, callbacks, announcements; no
/// recording and no handle-time limits (they change no figure here).
fn flow_settings(cfg: &SimConfig, main: &[AgentId], backup: &[AgentId]) -> FlowSettings {
    let t = &cfg.treatments;
    let mut f = FlowSettings::basic(&[]);
    f.queue = QueueId::new(MAIN_QUEUE);
    f.agents = main.iter().chain(backup).cloned().collect();
    f.queues = vec![QueueConfig {
        strategy: cfg.strategy,
        max_wait_ms: t.overflow.map(|o| ms(o.max_wait_s)),
        ..QueueConfig::new(f.queue.clone())
    }];
    match t.overflow.map(|o| o.to) {
        Some(OverflowTo::Voicemail) => {
            f.overflow.insert(f.queue.clone(), QueueId::new(VOICEMAIL));
            f.voicemail_max_ms = Some(ms(VOICEMAIL_MAX_S));
        }
        Some(OverflowTo::Queue { .. }) => {
            let q = QueueId::new(OVERFLOW_QUEUE);
            f.overflow.insert(f.queue.clone(), q.clone());
            let skill = |name: &str| {
                vec![SkillNeed {
                    skill: name.to_string(),
                    min_level: 1,
                }]
            };
            f.queues[0].skills = skill(MAIN_SKILL);
            f.queues.push(QueueConfig {
                strategy: cfg.strategy,
                skills: skill(OVERFLOW_QUEUE),
                ..QueueConfig::new(q)
            });
            for (agents, name) in [(main, MAIN_SKILL), (backup, OVERFLOW_QUEUE)] {
                for a in agents {
                    let skills = BTreeMap::from([(name.to_string(), 100)]);
                    f.agent_skills.insert(a.clone(), skills);
                }
            }
        }
        None => {}
    }
    if t.callback_after_s.is_some() {
        f.callback = Some(CallbackPolicy {
            key: CALLBACK_KEY,
            deadline_ms: 86_400_000,
            retry_ms: 300_000,
            attempts: 3,
            answer_timeout_ms: 30_000,
            owner_wait_ms: 0,
        });
    }
    f.announcements = t.announce_every_s.map(|every| AnnouncePolicy {
        every_ms: ms(every),
        default_handle_ms: ms(cfg.aht_s + cfg.wrap_up_s),
    });
    f.agent_ring_timeout_ms = ms(t.ring_timeout_s);
    f.answer_after_rings = t.answer_after_rings;
    f.wrap_up_ms = ms(cfg.wrap_up_s);
    f.record = false;
    f.limits.clear();
    f.limit_tone = false;
    f
}

/// Agent `i` of a queue: `prefix` and the number zero-padded, so that the
/// ACD's order of agents (by name) is their number's.
fn agent_name(prefix: char, i: u32) -> AgentId {
    AgentId::new(format!("{prefix}{i:05}"))
}

impl Simulation {
    /// A run at time 0: agents registered and idle, nobody calling, the
    /// first arrival scheduled.
    pub(crate) fn new(cfg: &SimConfig) -> Result<Self, SimError> {
        cfg.validate()?;
        let main: Vec<AgentId> = (0..cfg.agents).map(|i| agent_name('a', i)).collect();
        let backup: Vec<AgentId> = (0..cfg.overflow_agents())
            .map(|i| agent_name('o', i))
            .collect();
        let flow = Arc::new(flow_settings(cfg, &main, &backup));
        let env: Arc<dyn Environment> = Arc::new(SimEnv);
        let controller = Controller::new(flow.clone(), env.clone());
        let measure_from = (cfg.warmup_hours * MS_PER_HOUR).round() as i64;
        let end = measure_from + (cfg.hours * MS_PER_HOUR).round() as i64;
        let t = &cfg.treatments;
        let agents: Vec<AgentId> = main.into_iter().chain(backup).collect();
        let mut sim = Simulation {
            controller,
            cfg_flow: flow,
            env,
            heap: BinaryHeap::new(),
            seq: 0,
            steps_now: 0,
            now: 0,
            measure_from,
            end,
            aht_s: cfg.aht_s,
            patience_s: cfg.patience_s,
            callback_after_ms: t.callback_after_s.map(ms),
            agent_answer_ms: ms(t.agent_answer_s),
            no_answer_share: t.no_answer_share,
            interarrival_ms: MS_PER_HOUR / cfg.calls_per_hour,
            next_arrival: 0.0,
            arrivals: Stream::new(cfg.seed, 0),
            talk_times: Stream::new(cfg.seed, 1),
            patience: Stream::new(cfg.seed, 2),
            pick_ups: Stream::new(cfg.seed, 3),
            messages: Stream::new(cfg.seed, 4),
            calls_made: 0,
            calls: HashMap::new(),
            dirty: VecDeque::new(),
            touched: Vec::new(),
            controller_touched: false,
            controller_deadline: None,
            bridged: HashMap::new(),
            ended: 0,
            callbacks_started: 0,
            keep: None,
            tally: Tally::new(measure_from, end, ms(cfg.target_s), t.answer_after_rings),
            next_forget: measure_from + FORGET_EVERY_MS,
            cfg: cfg.clone(),
        };
        for agent in agents {
            sim.controller.handle(
                0,
                ControllerInput::Registered {
                    contact: format!("sip:{agent}@sim"),
                    agent,
                    expires_s: u32::MAX,
                },
            );
        }
        sim.controller_touched = true;
        sim.pump()?;
        sim.schedule_arrival();
        Ok(sim)
    }

    fn schedule(&mut self, at: i64, due: Due) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            due,
        });
    }

    fn schedule_arrival(&mut self) {
        self.next_arrival += self.arrivals.exponential(self.interarrival_ms);
        let at = self.next_arrival.round() as i64;
        if at <= self.end {
            self.schedule(at, Due::Arrival);
        }
    }

    fn inconsistent(&self, what: String) -> SimError {
        SimError::Inconsistent {
            at_ms: self.now,
            what,
        }
    }

    /// Handles the next happening and everything it sets off; false once
    /// the run is over (nothing left before `until`).
    fn step_until(&mut self, until: i64) -> Result<bool, SimError> {
        let Some(next) = self.heap.peek() else {
            return Ok(false);
        };
        if next.at > until {
            return Ok(false);
        }
        let Some(Scheduled { at, due, .. }) = self.heap.pop() else {
            return Ok(false);
        };
        if at > self.now {
            self.now = at;
            self.steps_now = 0;
        }
        self.steps_now += 1;
        if self.steps_now > MAX_STEPS_AT_ONCE {
            return Err(self.inconsistent(format!(
                "more than {MAX_STEPS_AT_ONCE} steps without time moving on (a timer due again and again?)"
            )));
        }
        match due {
            Due::Arrival => self.arrival(),
            Due::GiveUp(call) => {
                if self.phase(&call) == Some(&Phase::Waiting) {
                    self.feed(&call, Input::Caller(LegInput::Gone { reason: None }));
                }
            }
            Due::AskCallback(call) => {
                if self.phase(&call) == Some(&Phase::Waiting) {
                    self.feed(&call, Input::Digit(CALLBACK_KEY));
                }
            }
            Due::TalkEnds(call, token) => {
                let talking = self
                    .calls
                    .get(&call)
                    .is_some_and(|s| s.talk == Some(token) && s.call.phase() == &Phase::Talking);
                if talking {
                    self.feed(&call, Input::Caller(LegInput::Gone { reason: None }));
                }
            }
            Due::MessageEnds(call) => {
                if self.phase(&call) == Some(&Phase::Voicemail) {
                    self.feed(&call, Input::Caller(LegInput::Gone { reason: None }));
                }
            }
            Due::CustomerAnswers(call) => {
                if matches!(self.phase(&call), Some(Phase::Dialling { .. })) {
                    self.feed(&call, Input::Caller(LegInput::Answered { usable: true }));
                }
            }
            Due::AgentAnswers(call, agent, token) => {
                let pending = self.calls.get_mut(&call).is_some_and(|s| {
                    let before = s.answering.len();
                    s.answering.retain(|(a, t)| !(a == &agent && *t == token));
                    s.answering.len() < before
                });
                if pending {
                    let event = LegInput::Answered { usable: true };
                    self.feed(&call, Input::Agent { agent, event });
                }
            }
            Due::CallTimer(call) => {
                let now = self.now;
                let due = self
                    .calls
                    .get(&call)
                    .is_some_and(|s| s.deadline.is_some_and(|d| d <= now));
                if due {
                    if let Some(s) = self.calls.get_mut(&call) {
                        s.deadline = None;
                        s.call.handle_timeout(now);
                    }
                    self.dirty.push_back(call.clone());
                    self.touched.push(call);
                }
            }
            Due::ControllerTimer => {
                let now = self.now;
                if self.controller_deadline.is_some_and(|d| d <= now) {
                    self.controller_deadline = None;
                    self.controller.handle_timeout(now);
                    self.controller_touched = true;
                }
            }
        }
        self.pump()?;
        if self.now >= self.next_forget {
            self.next_forget = self.now + FORGET_EVERY_MS;
            // no call still going arrived before this
            let oldest = self.calls.values().map(|s| s.arrived_ms).min();
            self.tally
                .forget_before(oldest.unwrap_or(self.now).min(self.now));
        }
        Ok(true)
    }

    /// Handles the next happening up to the end of the run.
    pub(crate) fn step(&mut self) -> Result<bool, SimError> {
        self.step_until(self.end)
    }

    /// The settings and the world a new call is made with.
    fn flow(&self) -> (Arc<FlowSettings>, Arc<dyn Environment>) {
        (self.cfg_flow.clone(), self.env.clone())
    }

    fn phase(&self, call: &CallId) -> Option<&Phase> {
        self.calls.get(call).map(|s| s.call.phase())
    }

    fn arrival(&mut self) {
        let n = self.calls_made;
        self.calls_made += 1;
        let id = CallId::from_stored(format!("c{n}"));
        let now = self.now;
        let inbound = Inbound {
            caller: Party {
                number: format!("1{n:010}"),
                display: None,
            },
            dialled: HOTLINE_NUMBER.to_string(),
            media: Ok(()),
            blacklisted: None,
            vip: false,
            owner: None,
        };
        let (flow, env) = self.flow();
        let call = Call::inbound(id.clone(), flow, env, inbound, now);
        self.add_call(id.clone(), call, now);
        if let Some(mean) = self.patience_s {
            let at = now + ms(self.patience.exponential(mean));
            self.schedule(at, Due::GiveUp(id.clone()));
        }
        if let Some(after) = self.callback_after_ms {
            self.schedule(now + after, Due::AskCallback(id));
        }
        self.schedule_arrival();
    }

    fn add_call(&mut self, id: CallId, call: Call, arrived_ms: i64) {
        let measured = arrived_ms >= self.measure_from;
        self.calls.insert(
            id.clone(),
            Slot {
                call,
                arrived_ms,
                measured,
                deadline: None,
                answering: Vec::new(),
                talk: None,
                finished: false,
            },
        );
        self.dirty.push_back(id.clone());
        self.touched.push(id);
    }

    /// Hands a call an input now; its commands are carried out by the pump.
    fn feed(&mut self, id: &CallId, input: Input) {
        let now = self.now;
        if let Some(s) = self.calls.get_mut(id) {
            s.call.handle(now, input);
            self.dirty.push_back(id.clone());
            self.touched.push(id.clone());
        }
    }

    /// Carries out every pending command of the calls and the controller,
    /// then re-reads the wake-up times of what was touched and forgets the
    /// calls that ended.
    fn pump(&mut self) -> Result<(), SimError> {
        loop {
            while let Some(id) = self.dirty.pop_front() {
                while let Some(cmd) = self.calls.get_mut(&id).and_then(|s| s.call.poll_command()) {
                    self.execute(&id, cmd)?;
                }
            }
            if !self.drain_controller() && self.dirty.is_empty() {
                break;
            }
        }
        let now = self.now;
        for id in std::mem::take(&mut self.touched) {
            let Some(s) = self.calls.get_mut(&id) else {
                continue;
            };
            if s.finished {
                self.calls.remove(&id);
                continue;
            }
            let next = s.call.poll_timeout().map(|t| t.max(now));
            if next != s.deadline {
                s.deadline = next;
                if let Some(at) = next {
                    self.schedule(at, Due::CallTimer(id));
                }
            }
        }
        if std::mem::take(&mut self.controller_touched) {
            let next = self.controller.poll_timeout(now);
            if next != self.controller_deadline {
                self.controller_deadline = next;
                if let Some(at) = next {
                    self.schedule(at, Due::ControllerTimer);
                }
            }
        }
        Ok(())
    }

    /// Carries out the controller's outputs; false if there was none.
    fn drain_controller(&mut self) -> bool {
        let mut any = false;
        while let Some(out) = self.controller.poll_output() {
            any = true;
            self.controller_output(out);
        }
        any
    }

    fn tell_controller(&mut self, input: ControllerInput) {
        self.controller.handle(self.now, input);
        self.controller_touched = true;
    }

    fn execute(&mut self, id: &CallId, cmd: Command) -> Result<(), SimError> {
        let now = self.now;

        match cmd {
            Command::Emit(e) => self.observe(e),
            Command::Tell(msg) => {
                self.tell_controller(ControllerInput::FromCall {
                    call: id.clone(),
                    msg,
                });
                // what the controller decided goes out before the call's
                // next command, as in the engine: an offer made to this call
                // reaches it before it tells the controller it is gone
                self.drain_controller();
            }
            Command::InviteAgent { agent } => {
                let contact = format!("sip:{agent}@sim");
                let event = LegInput::Invited { contact };
                self.feed(
                    id,
                    Input::Agent {
                        agent: agent.clone(),
                        event,
                    },
                );
                let rings_out =
                    self.no_answer_share > 0.0 && self.pick_ups.uniform() < self.no_answer_share;
                if rings_out {
                    // the phone rings until the call's ring timeout
                } else if self.agent_answer_ms == 0 {
                    let event = LegInput::Answered { usable: true };
                    self.feed(id, Input::Agent { agent, event });
                } else {
                    self.seq += 1;
                    let token = self.seq;
                    if let Some(s) = self.calls.get_mut(id) {
                        s.answering.push((agent.clone(), token));
                    }
                    let at = now + self.agent_answer_ms;
                    self.schedule(at, Due::AgentAnswers(id.clone(), agent, token));
                }
            }
            Command::HangUpAgent { agent } => {
                if let Some(s) = self.calls.get_mut(id) {
                    s.answering.retain(|(a, _)| a != &agent);
                }
                if self.bridged.get(&agent) == Some(id) {
                    self.bridged.remove(&agent);
                }
            }
            Command::Bridge { agent: Some(agent) } => {
                if let Some(other) = self.bridged.get(&agent) {
                    if other != id {
                        return Err(
                            self.inconsistent(format!("{agent} bridged to {id} while on {other}"))
                        );
                    }
                }
                self.bridged.insert(agent, id.clone());
                self.seq += 1;
                let token = self.seq;
                if let Some(s) = self.calls.get_mut(id) {
                    s.talk = Some(token);
                }
                let at = now + ms(self.talk_times.exponential(self.aht_s));
                self.schedule(at, Due::TalkEnds(id.clone(), token));
            }
            Command::Bridge { agent: None } => {
                // the voicemail records: the caller speaks, then hangs up
                let at = now + ms(self.messages.exponential(VOICEMAIL_MEAN_S));
                self.schedule(at, Due::MessageEnds(id.clone()));
            }
            Command::HangUpCaller => {
                if let Some(s) = self.calls.get_mut(id) {
                    s.talk = None;
                }
            }
            Command::DialCustomer { .. } => {
                let contact = "sip:customer@sim".to_string();
                self.feed(id, Input::Caller(LegInput::Invited { contact }));
                self.schedule(now + CUSTOMER_ANSWER_MS, Due::CustomerAnswers(id.clone()));
            }
            Command::OpenRecording => {
                let path = format!("{id}.wav");
                self.feed(id, Input::RecordingOpened { path });
            }
            Command::CloseRecording { .. } => {
                let sealed = Sealed {
                    path: format!("{id}.wav"),
                    sha256: String::new(),
                    samples: 0,
                    gaps: 0,
                    gap_samples: 0,
                };
                self.feed(id, Input::RecordingSealed(sealed));
            }
            Command::CheckSilence => self.feed(id, Input::SilenceChecked { heard: true }),
            Command::CheckMedia => self.feed(
                id,
                Input::MediaChecked {
                    caller: true,
                    agent: true,
                },
            ),
            Command::Finished(cdr) => self.finished(id, *cdr)?,
            // the simulation's phones are always there: every refresh is answered
            Command::RefreshCaller { .. } => self.feed(id, Input::Caller(LegInput::Refreshed)),
            Command::RefreshAgent { agent, .. } => self.feed(
                id,
                Input::Agent {
                    agent,
                    event: LegInput::Refreshed,
                },
            ),
            // signalling and media the simulation has no use for
            Command::Ringing
            | Command::AnswerCaller
            | Command::RejectCaller { .. }
            | Command::Play { .. }
            | Command::Hold
            | Command::Unhold
            | Command::ToneToAgent(_)
            | Command::PlayIntoCall
            | Command::PlayToBoth(_)
            | Command::TapRecording
            | Command::MuteRecording(_)
            | Command::StopTap
            | Command::ReleaseMedia
            | Command::Reply { .. }
            // the simulation's agents never dial out
            | Command::AgentRinging { .. }
            | Command::AnswerAgent { .. }
            | Command::RejectAgent { .. }
            // nor do supervisors monitor its calls
            | Command::InviteSupervisor { .. }
            | Command::AnswerSupervisor
            | Command::JoinMonitor { .. }
            | Command::SetMonitorMode(_)
            | Command::EndMonitor { .. } => {}
        }
        Ok(())
    }

    fn finished(&mut self, id: &CallId, cdr: Cdr) -> Result<(), SimError> {
        let Some(s) = self.calls.get_mut(id) else {
            return Err(self.inconsistent(format!("a CDR for unknown call {id}")));
        };
        if s.finished {
            return Err(self.inconsistent(format!("call {id} finished twice")));
        }
        s.finished = true;
        s.talk = None;
        s.answering.clear();
        let measured = s.measured;
        if self.bridged.values().any(|c| c == id) {
            return Err(self.inconsistent(format!("call {id} ended with an agent bridged")));
        }
        self.ended += 1;
        if measured {
            self.tally.cdr();
        }
        if let Some(keep) = &mut self.keep {
            keep.cdrs.push(cdr);
        }
        Ok(())
    }

    fn controller_output(&mut self, out: ControllerOutput) {
        let now = self.now;

        match out {
            ControllerOutput::Offer { call, agent } => {
                if self.calls.get(&call).is_some_and(|s| !s.finished) {
                    self.feed(&call, Input::Offer { agent });
                } else {
                    self.tell_controller(ControllerInput::OfferUndelivered {
                        call,
                        agent,
                        registered: true,
                    });
                }
            }
            ControllerOutput::ToCall { call, input } => self.feed(&call, input),
            ControllerOutput::StartCallback { id, spec } => {
                let arrived_ms = spec.requested_ms;
                let (flow, env) = self.flow();
                let call = Call::callback(id.clone(), flow, env, spec, now);
                self.callbacks_started += 1;
                self.add_call(id, call, arrived_ms);
            }
            ControllerOutput::Event(e) => self.observe(e),
        }
    }

    /// An event of a call or an agent: folded into the figures when its
    /// call is measured (agent time is measured whatever the call).
    fn observe(&mut self, e: CallEvent) {
        let Some(call) = &e.call_id else {
            return;
        };
        let measured = self.calls.get(call).is_some_and(|s| s.measured);
        if let Some(keep) = &mut self.keep {
            keep.events.entry(call.clone()).or_default().push(e.clone());
        }
        self.tally.apply(&e, measured);
    }

    /// The figures of the run so far.
    pub(crate) fn report(&self) -> SimReport {
        self.tally.report(&self.cfg, self.now.max(self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overflow, Treatments};
    use hotline_acd::{AgentState, Strategy};

    impl Simulation {
        /// Every agent, the first queue's then the overflow queue's.
        fn agents(&self) -> Vec<AgentId> {
            self.controller
                .statuses()
                .into_iter()
                .map(|s| AgentId::new(s.agent))
                .collect()
        }

        /// Runs on past the end (no more arrivals) until every call has
        /// ended, at most `hours` more.
        fn finish_calls(&mut self, hours: f64) -> Result<(), SimError> {
            let until = self.end + (hours * MS_PER_HOUR).round() as i64;
            while !self.calls.is_empty() && self.step_until(until)? {}
            Ok(())
        }
    }

    /// A busy run: wrap-up, impatient callers, near-full occupancy.
    fn busy(seed: u64, strategy: Strategy) -> SimConfig {
        SimConfig {
            calls_per_hour: 230.0,
            aht_s: 170.0,
            agents: 12,
            hours: 40.0,
            target_s: 20.0,
            patience_s: Some(60.0),
            wrap_up_s: 15.0,
            strategy,
            seed,
            warmup_hours: 1.0,
            ..SimConfig::default()
        }
    }

    /// Checks, after every step, that the ACD and the simulation agree on
    /// who is talking, that nobody holds two calls, and (agents answering at
    /// once) that nobody waits while an agent is free.
    fn run_checked(cfg: &SimConfig) -> SimReport {
        let mut sim = Simulation::new(cfg).expect("valid config");
        let agents = sim.agents();
        let plain = !cfg.treatments.changes_the_queue();
        let mut steps = 0u64;
        while sim.step().expect("consistent run") {
            steps += 1;
            // check every step early on, then every 7th (keeps debug runs quick)
            if steps > 20_000 && !steps.is_multiple_of(7) {
                continue;
            }
            let acd = sim.controller.acd();
            for a in &agents {
                let state = acd.agent_state(a);
                assert_ne!(state, AgentState::LoggedOut);
                if sim.bridged.contains_key(a) {
                    assert_eq!(state, AgentState::OnCall, "{a} is bridged");
                }
                if plain {
                    assert_ne!(
                        state,
                        AgentState::Ringing,
                        "{a}: offers are answered at once"
                    );
                    let talking = sim.bridged.contains_key(a);
                    assert_eq!(state == AgentState::OnCall, talking, "{a}: {state:?}");
                }
            }
            // distinct agents on distinct calls
            let mut calls: Vec<&CallId> = sim.bridged.values().collect();
            calls.sort();
            calls.dedup();
            assert_eq!(calls.len(), sim.bridged.len(), "a call with two agents");
            if plain {
                let idle = agents
                    .iter()
                    .any(|a| matches!(acd.agent_state(a), AgentState::Available { .. }));
                assert!(
                    !idle || acd.waiting() == 0,
                    "a caller waits beside an idle agent"
                );
            }
        }
        let r = sim.report();
        // every measured call is in exactly one outcome
        let accounted = r.answered
            + r.abandoned
            + r.failed
            + r.voicemails
            + r.callbacks_requested
            + r.callbacks_expired
            + r.still_waiting;
        assert_eq!(accounted, r.calls, "{r:?}");
        assert!(r.cdrs <= r.calls, "{r:?}");
        r
    }

    #[test]
    fn every_call_is_accounted_for_and_no_agent_takes_two() {
        for strategy in [
            Strategy::LongestIdle,
            Strategy::RoundRobin,
            Strategy::FewestCalls,
            Strategy::LeastTalkTime,
            Strategy::Linear,
            Strategy::RingAll,
        ] {
            let r = run_checked(&busy(3, strategy));
            assert_eq!(r.answered + r.abandoned + r.still_waiting, r.calls, "{r:?}");
            assert!(r.calls > 8_000, "{r:?}");
            assert!(r.abandoned > 0, "impatient callers abandon: {r:?}");
            assert!((0.0..=1.0).contains(&r.occupancy), "{r:?}");
            assert!((0.0..=1.0).contains(&r.service_level), "{r:?}");
            assert!((0.0..=1.0).contains(&r.abandon_rate), "{r:?}");
            assert!(r.asa_s >= 0.0 && r.max_wait_s >= r.asa_s, "{r:?}");
            // offered 230 × 185 s / 3600 = 11.8 Erlangs on 12 agents
            assert!(r.occupancy > 0.8, "{r:?}");
            // callers who wait past the third ring hear the engine answer
            assert!(r.system_answered > 0, "{r:?}");
        }
    }

    #[test]
    fn wrap_up_keeps_the_agent_from_the_next_call() {
        // one agent, wrap-up longer than any wait would otherwise be
        let cfg = SimConfig {
            calls_per_hour: 10.0,
            aht_s: 60.0,
            agents: 1,
            hours: 400.0,
            wrap_up_s: 120.0,
            warmup_hours: 0.0,
            ..SimConfig::default()
        };
        let r = run_checked(&cfg);
        // occupancy counts wrap-up: (60 + 120) s × 10 / 3600 = 0.5, against
        // a talk share of 60 × 10 / 3600 = 0.17 without wrap-up
        assert!(r.occupancy > 0.4, "{r:?}");
        let no_wrap = run_checked(&SimConfig {
            wrap_up_s: 0.0,
            ..cfg.clone()
        });
        assert!(no_wrap.occupancy < 0.25, "{no_wrap:?}");
        // M/G/1 (Pollaczek-Khinchine): ASA 100 s with wrap-up, 12 s without
        assert!(r.asa_s > 2.0 * no_wrap.asa_s, "{r:?} vs {no_wrap:?}");
    }

    #[test]
    fn calls_before_the_warm_up_are_not_measured() {
        let cfg = SimConfig {
            hours: 5.0,
            warmup_hours: 5.0,
            ..SimConfig::default()
        };
        let mut sim = Simulation::new(&cfg).expect("valid");
        while sim.step().expect("consistent") {}
        let r = sim.report();
        // about 1000 arrivals in 5 hours, and as many before
        assert!(
            sim.calls_made > r.calls + 700,
            "{} vs {r:?}",
            sim.calls_made
        );
        assert!((800..1200).contains(&r.calls), "{r:?}");
    }

    /// A run short of agents, with every treatment but callbacks.
    fn scarce(seed: u64) -> SimConfig {
        let mut cfg = SimConfig {
            calls_per_hour: 300.0,
            aht_s: 180.0,
            agents: 15,
            hours: 10.0,
            patience_s: Some(240.0),
            wrap_up_s: 10.0,
            seed,
            ..SimConfig::default()
        };
        cfg.treatments.agent_answer_s = 3.0;
        cfg.treatments.no_answer_share = 0.1;
        cfg.treatments.ring_timeout_s = 12.0;
        cfg.treatments.overflow = Some(Overflow {
            max_wait_s: 120.0,
            to: OverflowTo::Voicemail,
        });
        cfg.treatments.announce_every_s = Some(30.0);
        cfg
    }

    #[test]
    fn treatments_show_in_the_figures() {
        let plain = run_checked(&SimConfig {
            treatments: Treatments::default(),
            ..scarce(5)
        });
        let r = run_checked(&scarce(5));
        println!("{plain}\n{r}");
        // 15 Erlangs on 15 agents: many wait past the third ring; on 22
        // agents hardly anyone does
        assert!(r.system_answered > r.calls / 5, "{r:?}");
        assert!(plain.system_answered > plain.calls / 5, "{plain:?}");
        let staffed = run_checked(&SimConfig {
            agents: 22,
            treatments: Treatments::default(),
            ..scarce(5)
        });
        assert!(
            staffed.system_answered < plain.system_answered / 10,
            "{staffed:?}"
        );
        // about one offer in ten rings out
        assert!(r.missed_offers > r.answered / 20, "{r:?}");
        assert_eq!(plain.missed_offers, 0, "{plain:?}");
        // two minutes of waiting, then the voicemail
        assert!(r.overflowed > 0 && r.voicemails > 0, "{r:?}");
        assert!(r.voicemails <= r.overflowed, "{r:?}");
        assert!(
            r.max_wait_s <= 120.0 + 12.0,
            "nobody waits past the max: {r:?}"
        );
        assert_eq!((plain.overflowed, plain.voicemails), (0, 0), "{plain:?}");
        assert!(plain.max_wait_s > 150.0, "{plain:?}");
        // announcements every 30 s while waiting
        assert!(r.announcements > r.system_answered / 2, "{r:?}");
        assert_eq!(plain.announcements, 0);
        assert_eq!(plain.callbacks_requested, 0);
        // missed offers and late pick-ups cost agent time: worse service
        assert!(r.asa_s > 3.0, "{r:?}");
    }

    #[test]
    fn callers_who_wait_ask_for_a_callback_and_are_called_back() {
        let mut cfg = SimConfig {
            calls_per_hour: 300.0,
            aht_s: 180.0,
            agents: 16,
            hours: 10.0,
            patience_s: Some(300.0),
            seed: 2,
            ..SimConfig::default()
        };
        cfg.treatments.callback_after_s = Some(45.0);
        let r = run_checked(&cfg);
        println!("{r}");
        assert!(r.callbacks_requested > 20, "{r:?}");
        assert!(r.callbacks_made > r.callbacks_requested / 2, "{r:?}");
        assert!(r.callbacks_made <= r.callbacks_requested, "{r:?}");
        // the callers who would have waited longest (and given up after 45 s)
        // hang up with a callback due instead: fewer abandon
        let without = run_checked(&SimConfig {
            treatments: Treatments::default(),
            ..cfg.clone()
        });
        assert!(r.abandoned < without.abandoned, "{r:?} vs {without:?}");
        assert_eq!(without.callbacks_requested, 0);
    }

    #[test]
    fn an_overflow_queue_takes_the_callers_who_waited_too_long() {
        let mut cfg = SimConfig {
            calls_per_hour: 300.0,
            aht_s: 180.0,
            agents: 14,
            hours: 10.0,
            patience_s: Some(400.0),
            seed: 4,
            ..SimConfig::default()
        };
        cfg.treatments.overflow = Some(Overflow {
            max_wait_s: 60.0,
            to: OverflowTo::Queue { agents: 3 },
        });
        let r = run_checked(&cfg);
        println!("{r}");
        assert!(r.overflowed > 50, "{r:?}");
        assert_eq!(r.voicemails, 0, "{r:?}");
        let without = run_checked(&SimConfig {
            treatments: Treatments::default(),
            ..cfg.clone()
        });
        // three more agents behind the first queue: fewer abandon
        assert!(
            r.abandon_rate < without.abandon_rate,
            "{r:?} vs {without:?}"
        );
    }

    /// Runs `cfg` keeping every CDR and event, lets every call end, and
    /// checks each call got exactly one CDR, the one its events give.
    fn one_cdr_each(cfg: &SimConfig) -> (u64, usize) {
        let mut sim = Simulation::new(cfg).expect("valid config");
        sim.keep = Some(Kept::default());
        while sim.step().expect("consistent run") {}
        sim.finish_calls(30.0).expect("consistent run");
        assert!(
            sim.calls.is_empty(),
            "{} calls never ended",
            sim.calls.len()
        );
        assert!(sim.bridged.is_empty(), "{:?}", sim.bridged);
        let keep = sim.keep.take().expect("kept");
        let made = sim.calls_made + sim.callbacks_started;
        assert_eq!(sim.ended, made);
        assert_eq!(keep.cdrs.len() as u64, made, "one CDR per call");
        let mut ids: Vec<&CallId> = keep.cdrs.iter().map(|c| &c.call_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len() as u64, made, "no call with two CDRs");
        for cdr in &keep.cdrs {
            let events = &keep.events[&cdr.call_id];
            let derived = Cdr::from_events(events).expect("an arrival");
            assert_eq!(&derived, cdr, "{events:#?}");
        }
        (made, keep.events.len())
    }

    #[test]
    fn every_call_ends_with_exactly_one_cdr() {
        let (made, _) = one_cdr_each(&scarce(9));
        assert!(made > 2_500, "{made}");
        let mut cfg = SimConfig {
            calls_per_hour: 300.0,
            aht_s: 180.0,
            agents: 15,
            hours: 10.0,
            patience_s: Some(200.0),
            wrap_up_s: 5.0,
            strategy: Strategy::RingAll,
            seed: 9,
            ..SimConfig::default()
        };
        cfg.treatments.callback_after_s = Some(40.0);
        cfg.treatments.no_answer_share = 0.2;
        cfg.treatments.agent_answer_s = 2.0;
        cfg.treatments.announce_every_s = Some(20.0);
        let (made, _) = one_cdr_each(&cfg);
        assert!(made > 2_500, "{made}");
    }

    #[test]
    fn the_same_seed_gives_the_same_run_with_every_treatment() {
        let mut cfg = scarce(11);
        cfg.hours = 3.0;
        cfg.treatments.overflow = None;
        cfg.treatments.callback_after_s = Some(30.0);
        let a = run_checked(&cfg);
        assert_eq!(a, run_checked(&cfg));
        assert!(a.callbacks_requested > 0 && a.missed_offers > 0, "{a:?}");
    }

    /// An offer the controller makes to a call whose caller hangs up in the
    /// same breath (the agent's wrap-up ends as the caller gives up) must
    /// reach the call before its "gone": delivered after it, the ACD would
    /// free the agent a second time while they already ring for the next
    /// caller, and offer them a third (one agent bridged on two calls).
    #[test]
    fn an_offer_racing_the_callers_hang_up_books_no_agent_twice() {
        let mut cfg = SimConfig {
            calls_per_hour: 330.0,
            aht_s: 100.0,
            agents: 10,
            hours: 6.0,
            wrap_up_s: 10.0,
            warmup_hours: 0.0,
            ..SimConfig::default()
        };
        cfg.treatments.agent_answer_s = 12.0;
        let mut sim = Simulation::new(&cfg).expect("valid");
        let agents = sim.agents();
        let mut raced = 0;
        while sim.step().expect("no agent booked twice") {
            let acd = sim.controller.acd();
            if raced >= 300 || acd.waiting() < 3 {
                continue;
            }
            // the next wrap-up to end, and a caller whose agent still rings
            let Some(ends) = agents
                .iter()
                .filter_map(|a| match acd.agent_state(a) {
                    AgentState::WrapUp { until_ms } if until_ms > sim.now => Some(until_ms),
                    _ => None,
                })
                .min()
            else {
                continue;
            };
            let mut ringing: Vec<&CallId> = sim
                .calls
                .iter()
                .filter(|(_, s)| !s.answering.is_empty())
                .map(|(id, _)| id)
                .collect();
            ringing.sort();
            if let Some(call) = ringing.first() {
                let call = (*call).clone();
                // the caller hangs up as the wrap-up ends, just before the
                // controller's timer (as a patience drawn at arrival would)
                sim.heap.push(Scheduled {
                    at: ends,
                    seq: 0,
                    due: Due::GiveUp(call),
                });
                raced += 1;
            }
        }
        assert_eq!(raced, 300);
    }
}
