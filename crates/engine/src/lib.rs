//! The hotline's engine: the IO shell around the sans-IO call flow
//! (`hotline-callflow`).
//!
//! One *controller* task owns the [`Controller`] (the ACD, waiting calls,
//! agents): it learns about registrations and new calls, hands offers to the
//! calls, and sleeps exactly until the controller's next deadline. Each call
//! is driven by one task ([`driver`]) that owns its SIP legs, media session
//! and recording, feeds the call's state machine and carries out its
//! commands. Messages, not locks: calls and controller talk over channels.

#![warn(missing_docs)]

pub mod announce;
pub mod bans;
pub mod bindings;
pub mod callback;
pub mod cluster;
pub mod cluster_task;
pub mod control;
mod customer_srtp;
mod driver;
pub mod duty;
pub mod edge_registrar;
mod env;
pub mod failover;
pub mod linetest;
pub mod monitor;
pub mod outbound;
pub mod owners;
pub mod restart;
pub mod role;
pub mod routing;
pub mod schedule;
pub mod srtp_stats;
pub mod trunks;
pub mod zh;

use control::{
    AgentControl, CallAction, CallTarget, ControlError, ControlMsg, FeatureCodes, Requester,
};
use driver::{CallCtx, CallDriver, CallMsg, FromCall};
use env::EngineEnv;
use hotline_acd::QueueConfig;
pub use hotline_callflow::{dialable, ClosedTreatment, UnknownClosedTreatment, VOICEMAIL};
use hotline_callflow::{
    AnnouncePolicy, Call, CallbackPolicy, Controller, ControllerInput, ControllerOutput,
    FlowSettings, Menu, Route,
};
use hotline_core::{
    AgentId, CallEvent, CallId, CallType, Clock, EventKind, QueueId, RingCadence, SystemClock,
};
use hotline_media::prompt::Prompt;
use hotline_media::MediaEngine;
use hotline_recorder::Recorder;
use hotline_sip::{BindingChange, SipEvent, SipServer};
use hotline_store::EventSink;
use routing::{IvrMenu, NumberPattern};
use std::collections::{BTreeMap, HashMap};
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
    /// Agents dialling customers (None: they cannot).
    pub outbound: Option<outbound::OutboundConfig>,
    /// A talking call without RTP from one side this long is ended as
    /// dropped, ms (0 = never).
    pub media_timeout_ms: i64,
    /// Live monitoring: supervisors' phones, feature codes, the beep.
    pub monitor: monitor::MonitorConfig,
    /// The carrier trunks (`[[trunks]]`) calls out and callbacks go through.
    pub trunks: Vec<trunks::TrunkConfig>,
    /// The twice-daily line self-test (None: off).
    pub line_test: Option<linetest::LineTestConfig>,
    /// SDES-SRTP: the callers' policy and every agent's without their own.
    pub srtp: SrtpSettings,
}

/// SDES-SRTP settings (`[media] srtp`, `[[agents]] srtp`).
#[derive(Clone, Debug, Default)]
pub struct SrtpSettings {
    /// Callers' policy, and agents' without their own (`[media] srtp`).
    pub default: hotline_media::srtp::SrtpPolicy,
    /// Agents' own policies (`[[agents]] srtp`).
    pub agents: HashMap<AgentId, hotline_media::srtp::SrtpPolicy>,
    /// Keys may travel in SDP over plain UDP/TCP (`[media]
    /// srtp_allow_without_tls`); off: only over SIP over TLS.
    pub allow_without_tls: bool,
}

impl SrtpSettings {
    /// The policy of `agent`'s leg.
    pub fn for_agent(&self, agent: &AgentId) -> hotline_media::srtp::SrtpPolicy {
        self.agents.get(agent).copied().unwrap_or(self.default)
    }
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
    /// The words an answering agent's work number is said with to both
    /// sides and each agent's number (「一零零一」「号客服为您服务」, 报工号);
    /// None: not announced.
    pub agent_number: Option<zh::AgentNumbers>,
    /// 「很抱歉让您久等了」 when a hold ends (None: nothing).
    pub hold_resume: Option<Prompt>,
    /// 「谢谢您的电话，再见！」 before the agent's closing hang-up clears the
    /// line (None: it is cleared at once).
    pub closing: Option<Prompt>,
}

/// How callers leave a message.
#[derive(Debug, Clone)]
pub struct Voicemail {
    /// "Please leave your message after the tone" (a beep follows).
    pub prompt: Option<Prompt>,
    /// The longest message, ms.
    pub max_ms: i64,
}

/// How long a node of the HA pair stays standby before its callers still
/// ringing for the first time are refused 503 for the active node, ms (a
/// role that flips back within it moves nobody).
pub const STEP_DOWN_GRACE_MS: i64 = 2_000;

/// The answer to a request that would start a call on a standby node.
pub const STANDBY_REFUSAL: &str =
    "this node is the standby of the HA pair: calls are started on the active node";

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
    audit: Option<hotline_store::Store>,
    trunks: trunks::TrunkBoard,
    owners: Option<(owners::CaseOwners, i64)>,
    duty: Option<duty::DutyBoard>,
    line_test: Option<(
        mpsc::Sender<linetest::RunNow>,
        mpsc::Receiver<linetest::RunNow>,
    )>,
    line_test_since: Option<i64>,
    pair: Option<Pair>,
}

/// The engine's side of the HA pair ([`Engine::in_pair`]).
#[derive(Clone)]
struct Pair {
    role: role::RoleWatch,
    store: hotline_store::Store,
    hold_ms: i64,
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
        let trunks = trunks::TrunkBoard::new(trunks::Trunks::new(cfg.trunks.clone()));
        let line_test = cfg.line_test.as_ref().map(|_| mpsc::channel(1));
        Engine {
            line_test,
            line_test_since: None,
            trunks,
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
            audit: None,
            owners: None,
            duty: None,
            pair: None,
        }
    }

    /// The HA pair: the node-only duties follow `role` (one source of
    /// truth, [`role`]): while standby the controller offers no call,
    /// click-to-call and monitoring answer [`ControlError::Unavailable`],
    /// the line self-test and the duty alarms pause; on becoming active the
    /// node takes over every callback pending in the shared log (`store`)
    /// that it does not run yet. Agents of a lost node's calls are held
    /// out of routing for at most `failover_hold_ms`
    /// ([`control::AgentControl::hold_after_failover`]).
    pub fn in_pair(
        mut self,
        role: role::RoleWatch,
        store: hotline_store::Store,
        failover_hold_ms: i64,
    ) -> Self {
        self.pair = Some(Pair {
            role,
            store,
            hold_ms: failover_hold_ms,
        });
        self
    }

    /// Routing by ownership: a caller whose number has an open case in
    /// `owners` rings its owner first, alone, for up to `wait_ms` (the map
    /// is read once when a call arrives; the API side keeps it current).
    pub fn with_case_owners(mut self, owners: owners::CaseOwners, wait_ms: i64) -> Self {
        self.owners = (wait_ms > 0).then_some((owners, wait_ms));
        self
    }

    /// The duty floor: the relief and meal rules before a pause or logout,
    /// floor alarms and continuous-work warnings from presence changes.
    pub fn with_duty(mut self, board: duty::DutyBoard) -> Self {
        self.duty = Some(board);
        self
    }

    /// Callbacks left pending by the previous run (see
    /// [`callback::PendingCallback::find`]): made after all, within their
    /// deadline, once their queue is open and an agent is free.
    pub fn with_pending_callbacks(mut self, pending: Vec<callback::PendingCallback>) -> Self {
        self.pending_callbacks = pending;
        self
    }

    /// Writes an audit entry for every monitoring session (start, mode
    /// change, stop) to `store`'s audit log.
    pub fn with_audit(mut self, store: hotline_store::Store) -> Self {
        self.audit = Some(store);
        self
    }

    /// The last line self-test on record (epoch ms): slots after it that
    /// were not run are reported `line_test_missing` at start (None: only
    /// slots from now on count).
    pub fn with_line_test_since(mut self, since_ms: Option<i64>) -> Self {
        self.line_test_since = since_ms;
        self
    }

    /// A handle to run the line self-test now (`POST /api/line-tests`).
    pub fn line_tests(&self) -> linetest::LineTests {
        linetest::LineTests {
            tx: self.line_test.as_ref().map(|(tx, _)| tx.clone()),
        }
    }

    /// Reads the engine's time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A handle for agent requests (login, logout, pause, unpause) from the API.
    pub fn control(&self) -> AgentControl {
        AgentControl {
            tx: self.control_tx.clone(),
        }
    }

    /// The trunks' channels and health (`GET /api/trunks`).
    pub fn trunks(&self) -> trunks::TrunkBoard {
        self.trunks.clone()
    }

    /// Also hands every event, as it happens, to `live` (the live KPIs).
    pub fn with_live_events(mut self, live: mpsc::UnboundedSender<CallEvent>) -> Self {
        self.live = Some(live);
        self
    }

    /// Runs the controller until the SIP event stream ends.
    pub async fn run(mut self, sip_events: mpsc::Receiver<SipEvent>) {
        let Some(control_rx) = self.control_rx.take() else {
            return;
        };
        let flow = Arc::new(flow_settings(&self.cfg));
        let env = Arc::new(EngineEnv {
            cfg: self.cfg.clone(),
            prompts: self.prompts.clone(),
        });
        let (from_calls_tx, from_calls) = mpsc::channel::<FromCall>(4096);
        let ctx = Arc::new(CallCtx {
            cfg: self.cfg.clone(),
            flow: flow.clone(),
            env: env.clone(),
            sip: self.sip.clone(),
            media: self.media.clone(),
            recorder: self.recorder.clone(),
            sink: self.sink.clone(),
            live: self.live.clone(),
            clock: self.clock.clone(),
            controller: from_calls_tx,
            audit: self.audit.clone(),
            trunks: self.trunks.clone(),
            owners: self.owners.clone(),
        });
        tokio::spawn(storage_watch(ctx.clone()));
        if let (Some(cfg), Some((_, rx))) = (self.cfg.line_test.clone(), self.line_test.take()) {
            let since = self.line_test_since.unwrap_or_else(|| self.clock.now_ms());
            tokio::spawn(
                linetest::run(
                    ctx.clone(),
                    Arc::new(cfg),
                    since,
                    rx,
                    self.pair
                        .as_ref()
                        .map(|p| (p.role.clone(), p.store.clone())),
                )
                .instrument(info_span!("line_test")),
            );
        }
        for trunk in self.trunks.configs() {
            if trunk.probe_every_ms > 0 {
                tokio::spawn(probe_trunk(ctx.clone(), trunk));
            }
        }
        let mut shell = Shell {
            controller: Controller::new(flow, env),
            calls: HashMap::new(),
            ctx,
            duty: self.duty.clone().map(duty::DutyDesk::new),
            pair: self.pair.clone(),
            holds: failover::FailoverHolds::new(),
            control_tx: self.control_tx.clone(),
            callbacks: Default::default(),
            standby_since: None,
        };
        let now = self.clock.now_ms();
        // agents already registered (none at start, but keep it correct)
        for a in self.sip.registered_agents() {
            let agent = AgentId::new(a);
            shell.controller.handle(
                now,
                ControllerInput::Registered {
                    agent,
                    contact: String::new(),
                    expires_s: 0,
                },
            );
        }
        let pending = std::mem::take(&mut self.pending_callbacks)
            .into_iter()
            .map(crate::callback::PendingCallback::resumed)
            .collect();
        shell.controller.resume_callbacks(now, pending);
        if let Some(p) = &shell.pair {
            let active = p.role.is_active();
            shell.controller.set_routing(now, active);
            if active {
                shell.load_pending_callbacks();
            }
        }
        shell.run(sip_events, from_calls, control_rx).await;
        info!("engine stopped");
    }
}

/// The call flow's settings from the engine's.
fn flow_settings(cfg: &EngineConfig) -> FlowSettings {
    let route = |o: &routing::IvrOption| Route {
        call_type: o.call_type,
        queue: o.queue.clone(),
        language: o.language.clone(),
    };
    FlowSettings {
        numbers: cfg.numbers.clone(),
        queue: cfg.queue.clone(),
        queues: cfg.queues.clone(),
        overflow: cfg.overflow.clone(),
        agent_skills: cfg.agent_skills.clone(),
        agents: cfg.agents.clone(),
        ivr: cfg.ivr.as_ref().map(|m| Menu {
            timeout_ms: m.timeout_ms,
            tries: m.tries,
            options: m.options.iter().map(|(k, o)| (*k, route(o))).collect(),
            default: route(&m.default),
        }),
        voicemail_max_ms: cfg.voicemail.as_ref().map(|v| v.max_ms),
        closed_treatment: cfg.closed_treatment,
        callback: cfg.callback.as_ref().map(|c| CallbackPolicy {
            key: c.key,
            deadline_ms: c.deadline_ms,
            retry_ms: c.retry_ms,
            attempts: c.attempts,
            answer_timeout_ms: c.answer_timeout_ms,
            owner_wait_ms: c.owner_wait_ms,
        }),
        announcements: cfg.announcements.as_ref().map(|a| AnnouncePolicy {
            every_ms: a.every_ms,
            default_handle_ms: a.default_handle_ms,
        }),
        queue_ring_timeout_ms: cfg.queue_ring_timeout_ms.clone(),
        agent_ring_timeout_ms: cfg.agent_ring_timeout_ms,
        silent_line_ms: cfg.silent_line_ms,
        cadence: cfg.cadence,
        answer_after_rings: cfg.answer_after_rings,
        wrap_up_ms: cfg.wrap_up_ms,
        auto_pause_after_misses: cfg.auto_pause_after_misses,
        record: cfg.record,
        record_queue: cfg.record_queue,
        limits: cfg.limits.clone(),
        limit_warning_fraction: cfg.limit_warning_fraction,
        limit_tone: cfg.limit_tone,
        transfer_queue: cfg.transfer_queue.clone(),
        media_timeout_ms: cfg.media_timeout_ms,
        dial: cfg.outbound.as_ref().map(|o| hotline_callflow::DialRules {
            allowed_prefixes: o.allowed_prefixes.clone(),
            answer_timeout_ms: o.answer_timeout_ms,
        }),
    }
}

/// A recording that stopped mid-call (disk full) is raised at once; the call
/// goes on unrecorded.
async fn storage_watch(ctx: Arc<CallCtx>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        if ctx.controller.is_closed() {
            return;
        }
        let now = ctx.clock.now_ms();
        for f in ctx.recorder.take_failures() {
            warn!(call = %f.call_id, path = %f.path.display(), reason = %f.reason, "recording stopped: storage alarm");
            ctx.publish(CallEvent {
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
    }
}

/// Probes a trunk with OPTIONS every `probe_every_ms` (each probe waits at
/// most that long, 5 s at most) until the engine stops; health changes are
/// events (`trunk_down`, `trunk_up`).
async fn probe_trunk(ctx: Arc<CallCtx>, trunk: trunks::TrunkConfig) {
    let every = Duration::from_millis(trunk.probe_every_ms.max(200) as u64);
    let wait = every.min(Duration::from_secs(5));
    let name = trunk.target.name.clone();
    let span = tracing::info_span!("trunk", trunk = %name);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if ctx.controller.is_closed() {
            return;
        }
        let outcome = ctx
            .sip
            .options(trunk.target.address, trunk.target.transport, wait)
            .instrument(span.clone())
            .await
            .map_err(|e| e.to_string());
        let now = ctx.clock.now_ms();
        let kind = match ctx.trunks.probed(&name, now, outcome) {
            None => continue,
            Some(trunks::HealthChange::Down { name, reason }) => {
                warn!(trunk = %name, %reason, "trunk down: calls through it are refused");
                EventKind::TrunkDown {
                    trunk: name,
                    reason,
                }
            }
            Some(trunks::HealthChange::Up { name }) => {
                info!(trunk = %name, "trunk up again");
                EventKind::TrunkUp { trunk: name }
            }
        };
        ctx.publish(CallEvent {
            at_ms: now,
            call_id: None,
            agent: None,
            queue: None,
            kind,
        });
    }
}

/// The controller task's state: the sans-IO controller and the calls'
/// mailboxes.
struct Shell {
    controller: Controller,
    calls: HashMap<CallId, mpsc::Sender<Box<CallMsg>>>,
    ctx: Arc<CallCtx>,
    duty: Option<duty::DutyDesk>,
    pair: Option<Pair>,
    holds: failover::FailoverHolds,
    control_tx: mpsc::Sender<ControlMsg>,
    /// The callback calls this node runs.
    callbacks: std::collections::HashSet<CallId>,
    /// When the node last turned standby (None: active; the shell's own
    /// monotonic time, as the grace's timer).
    standby_since: Option<tokio::time::Instant>,
}

impl Shell {
    /// Whether this node may route and start calls (always, out of a pair).
    fn active(&self) -> bool {
        self.pair.as_ref().is_none_or(|p| p.role.is_active())
    }

    /// The role changed: routing and the callbacks follow it; a node that
    /// stays standby for [`STEP_DOWN_GRACE_MS`] moves its ringing callers
    /// to the active node.
    fn on_role(&mut self, role: role::NodeRole) {
        let now = self.ctx.clock.now_ms();
        info!(role = role.as_str(), "node role changed");
        self.controller.set_routing(now, role.is_active());
        if role.is_active() {
            self.standby_since = None;
            self.load_pending_callbacks();
        } else {
            self.standby_since = Some(tokio::time::Instant::now());
            let tx = self.control_tx.clone();
            tokio::spawn(async move {
                let grace = u64::try_from(STEP_DOWN_GRACE_MS).unwrap_or(0);
                tokio::time::sleep(std::time::Duration::from_millis(grace)).await;
                let _ = tx.send(ControlMsg::SteppedDown).await;
            });
        }
    }

    /// Still standby after the grace: every call is told
    /// ([`hotline_callflow::Input::StepDown`]); the callers still ringing
    /// for the first time are refused 503, which Kamailio's dispatcher
    /// turns into a try on the active node.
    fn stepped_down(&mut self) {
        // a role that flipped back and down again waits its own grace
        let grace =
            std::time::Duration::from_millis(u64::try_from(STEP_DOWN_GRACE_MS).unwrap_or(0));
        let waited = self.standby_since.map(|t| t.elapsed());
        if self.active() || waited.is_none_or(|w| w + std::time::Duration::from_millis(50) < grace)
        {
            return;
        }
        let mut told = 0;
        for tx in self.calls.values() {
            let msg = Box::new(CallMsg::Input(hotline_callflow::Input::StepDown));
            told += usize::from(tx.try_send(msg).is_ok());
        }
        info!(
            calls = told,
            "standby: ringing callers moved to the active node (503)"
        );
    }

    /// Reads the callbacks pending in the shared log (any node's: this node
    /// now holds every queue's lease) and hands them back to the controller
    /// task, which takes over those it does not run yet.
    fn load_pending_callbacks(&self) {
        let Some(p) = &self.pair else { return };
        let (store, tx, clock) = (
            p.store.clone(),
            self.control_tx.clone(),
            self.ctx.clock.clone(),
        );
        tokio::spawn(
            async move {
                let pending = callback::load_pending(&store, clock.now_ms()).await;
                let _ = tx.send(ControlMsg::ResumeCallbacks { pending }).await;
            }
            .in_current_span(),
        );
    }

    /// Holds the agents of a lost node's calls out of routing.
    fn hold_after_failover(&mut self, agents: Vec<(AgentId, CallId)>) {
        let now = self.ctx.clock.now_ms();
        let hold_ms = self.pair.as_ref().map_or(0, |p| p.hold_ms);
        for (agent, call) in agents {
            if !self.controller.knows_agent(&agent) || self.holds.is_held(&agent) {
                continue;
            }
            let requester = Requester {
                by: "failover".into(),
                override_minimum: true,
            };
            let pause = hotline_callflow::AgentRequest::Pause {
                reason: failover::HOLD_REASON.into(),
            };
            warn!(%agent, %call, hold_ms, "agent held out of routing: their call on the lost node may still be up");
            self.holds.hold(now, agent.clone(), call, hold_ms);
            if let Err(e) = self.controller.request(now, &agent, pause, &requester) {
                // not logged in here yet (the registrations are being
                // reloaded): paused when their phone comes back
                info!(%agent, reason = %e, "held agent paused once registered");
            }
        }
    }

    /// A held agent's phone registered (reloaded after the take-over):
    /// the hold's pause applies now.
    fn pause_if_held(&mut self, now: i64, agent: &AgentId) {
        if !self.holds.is_held(agent) {
            return;
        }
        let held = self
            .controller
            .status(agent)
            .reason
            .as_deref()
            .is_some_and(|r| r == failover::HOLD_REASON);
        if held {
            return;
        }
        let requester = Requester {
            by: "failover".into(),
            override_minimum: true,
        };
        let pause = hotline_callflow::AgentRequest::Pause {
            reason: failover::HOLD_REASON.into(),
        };
        if let Err(e) = self.controller.request(now, agent, pause, &requester) {
            info!(%agent, reason = %e, "held agent could not be paused yet");
        }
    }

    /// Ends a hold with an unpause (unless the agent acted meanwhile).
    fn release_hold(&mut self, now: i64, agent: &AgentId, why: failover::Release) {
        let paused_by_us = self
            .controller
            .status(agent)
            .reason
            .as_deref()
            .is_some_and(|r| r == failover::HOLD_REASON);
        if !paused_by_us {
            return;
        }
        info!(%agent, why = why.as_str(), "hold after the take-over lifted");
        let requester = Requester {
            by: why.as_str().into(),
            override_minimum: false,
        };
        let _ = self.controller.request(
            now,
            agent,
            hotline_callflow::AgentRequest::Unpause,
            &requester,
        );
    }

    /// The holds' timers: timeouts, and the store asked about the calls.
    fn tick_holds(&mut self) {
        let now = self.ctx.clock.now_ms();
        for agent in self.holds.poll_expired(now) {
            self.release_hold(now, &agent, failover::Release::Timeout);
        }
        let calls = self.holds.calls_to_check(now);
        if let (false, Some(p)) = (calls.is_empty(), &self.pair) {
            let (store, tx) = (p.store.clone(), self.control_tx.clone());
            tokio::spawn(
                async move {
                    for call in calls {
                        match store.events_for_call(&call).await {
                            Ok(events) => {
                                let _ = tx.send(ControlMsg::HeldCallEvents { call, events }).await;
                            }
                            Err(e) => {
                                warn!(%call, error = %e, "a held agent's call could not be read")
                            }
                        }
                    }
                }
                .in_current_span(),
            );
        }
    }

    async fn run(
        &mut self,
        mut sip_events: mpsc::Receiver<SipEvent>,
        mut from_calls: mpsc::Receiver<FromCall>,
        mut control_rx: mpsc::Receiver<ControlMsg>,
    ) {
        let mut duty_tick = tokio::time::interval(Duration::from_secs(1));
        duty_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut role = self
            .pair
            .as_ref()
            .map(|p| p.role.clone())
            .unwrap_or_default();
        loop {
            self.carry_out();
            let now = self.ctx.clock.now_ms();
            let wake = self
                .controller
                .poll_timeout(now)
                .map(|t| Duration::from_millis((t - now).max(0) as u64));
            let hold_wake = self
                .holds
                .poll_timeout()
                .map(|t| Duration::from_millis((t - now).max(0) as u64));
            tokio::select! {
                r = role.changed() => self.on_role(r),
                _ = tokio::time::sleep(hold_wake.unwrap_or(Duration::ZERO)), if hold_wake.is_some() => {
                    self.tick_holds();
                }
                ev = sip_events.recv() => {
                    let Some(ev) = ev else { break };
                    self.on_sip(ev);
                }
                msg = from_calls.recv() => {
                    let Some(msg) = msg else { break };
                    let now = self.ctx.clock.now_ms();
                    match msg {
                        FromCall::Tell { call, msg } => {
                            self.controller.handle(now, ControllerInput::FromCall { call, msg });
                        }
                        FromCall::Done { call } => {
                            self.calls.remove(&call);
                            self.callbacks.remove(&call);
                            // forgets it even if it left without saying so
                            let msg = hotline_callflow::ToController::Gone;
                            self.controller.handle(now, ControllerInput::FromCall { call, msg });
                        }
                    }
                }
                msg = control_rx.recv() => {
                    let Some(msg) = msg else { continue };
                    self.on_control(msg);
                }
                _ = tokio::time::sleep(wake.unwrap_or(Duration::ZERO)), if wake.is_some() => {
                    let now = self.ctx.clock.now_ms();
                    self.controller.handle_timeout(now);
                }
                _ = duty_tick.tick(), if self.duty.is_some() => {
                    // the floor's alarms are the active node's to raise
                    if !self.active() {
                        continue;
                    }
                    let now = self.ctx.clock.now_ms();
                    let alarms = self.duty.as_mut().map(|d| d.tick(now)).unwrap_or_default();
                    for a in alarms {
                        self.ctx.publish(a);
                    }
                }
            }
        }
    }

    /// Carries out what the controller asks.
    fn carry_out(&mut self) {
        while let Some(out) = self.controller.poll_output() {
            match out {
                ControllerOutput::Offer { call, agent } => {
                    if self.calls.get(&call).is_none_or(|tx| tx.is_closed()) {
                        // the call is over (its driver stopped, e.g. the caller
                        // hung up meanwhile): forget it instead of reporting the
                        // offer undelivered, which would have the ACD offer the
                        // same dead call to the same agent again, forever
                        self.calls.remove(&call);
                        let now = self.ctx.clock.now_ms();
                        let msg = hotline_callflow::ToController::Gone;
                        self.controller
                            .handle(now, ControllerInput::FromCall { call, msg });
                        continue;
                    }
                    let mut contacts = self.ctx.sip.contacts(agent.as_str());
                    if self.ctx.cfg.srtp.for_agent(&agent)
                        == hotline_media::srtp::SrtpPolicy::Required
                        && !self.ctx.cfg.srtp.allow_without_tls
                    {
                        // SDES keys reach the phone only over TLS: a phone
                        // registered over UDP/TCP is not one we may ring
                        let all = contacts.len();
                        contacts.retain(|b| b.transport == hotline_sip::SipTransport::Tls);
                        if contacts.is_empty() && all > 0 {
                            srtp_stats::counters()
                                .refused(srtp_stats::RefusalReason::AgentNotOnTls);
                            warn!(agent = %agent, "SRTP required for the agent but the phone is not registered over TLS: not rung");
                        }
                    }
                    let registered = !contacts.is_empty();
                    let sent = match (self.calls.get(&call), contacts.into_iter().next()) {
                        (Some(tx), Some(binding)) => tx
                            .try_send(Box::new(CallMsg::Offer {
                                agent: agent.clone(),
                                binding,
                            }))
                            .is_ok(),
                        _ => false,
                    };
                    if !sent {
                        let now = self.ctx.clock.now_ms();
                        self.controller.handle(
                            now,
                            ControllerInput::OfferUndelivered {
                                call,
                                agent,
                                registered,
                            },
                        );
                    }
                }
                ControllerOutput::ToCall { call, input } => {
                    if let Some(tx) = self.calls.get(&call) {
                        if tx.try_send(Box::new(CallMsg::Input(input))).is_err() {
                            warn!(call = %call, "call mailbox full or closed: input dropped");
                        }
                    }
                }
                ControllerOutput::StartCallback { id, mut spec } => {
                    let now = self.ctx.clock.now_ms();
                    // a callback taken over after a restart learns the owner
                    // of its customer's open case here (a new one carries it)
                    if spec.owner.is_none() {
                        let wait = self
                            .ctx
                            .cfg
                            .callback
                            .as_ref()
                            .map_or(0, |c| c.owner_wait_ms);
                        spec.owner = self.ctx.owner_hint(&spec.number, wait);
                    }
                    let (tx, rx) = mpsc::channel(16);
                    self.calls.insert(id.clone(), tx);
                    self.callbacks.insert(id.clone());
                    let resumed = spec.resumed;
                    let call = Call::callback(
                        id.clone(),
                        self.ctx.flow.clone(),
                        self.ctx.env.clone(),
                        spec,
                        now,
                    );
                    let span = info_span!("callback", call_id = %id);
                    span.in_scope(|| {
                        if resumed {
                            info!("callback taken over after a restart, waiting for an agent");
                        } else {
                            info!("callback waiting for an agent");
                        }
                    });
                    let driver = CallDriver::callback(self.ctx.clone(), call, rx);
                    tokio::spawn(driver.run().instrument(span));
                }
                ControllerOutput::Event(e) => {
                    let alarms = self
                        .duty
                        .as_mut()
                        .map(|d| d.observe(&e))
                        .unwrap_or_default();
                    self.ctx.publish(e);
                    for a in alarms {
                        self.ctx.publish(a);
                    }
                }
            }
        }
    }

    fn on_sip(&mut self, ev: SipEvent) {
        let now = self.ctx.clock.now_ms();
        match ev {
            SipEvent::IncomingCall(inbound) if inbound.agent.is_some() => {
                let agent = AgentId::new(inbound.agent.clone().unwrap_or_default());
                let span = info_span!("agent", agent = %agent);
                let dial = self.ctx.cfg.outbound.as_ref();
                if let Some(number) = dial.and_then(|o| o.number(&inbound.dialled)) {
                    let number = number.to_string();
                    return self.dial_out(now, agent, number, inbound);
                }
                if let Some((mode, target)) = self.ctx.cfg.monitor.parse(&inbound.dialled) {
                    return span.in_scope(|| self.monitor_call(now, agent, mode, target, inbound));
                }
                let result =
                    span.in_scope(
                        || match self.ctx.cfg.feature_codes.parse(&inbound.dialled) {
                            Some(request) => self
                                .agent_request(
                                    now,
                                    &agent,
                                    request,
                                    &Requester {
                                        by: "phone".into(),
                                        override_minimum: false,
                                    },
                                )
                                .map(|_| ()),
                            None => Err(ControlError::Refused(format!(
                                "unknown feature code {}",
                                inbound.dialled
                            ))),
                        },
                    );
                // its events go to the log before the phone hears the answer
                self.carry_out();
                tokio::spawn(
                    driver::feature_call(self.ctx.clone(), inbound, result).instrument(span),
                );
            }
            SipEvent::IncomingCall(inbound)
                if self
                    .ctx
                    .cfg
                    .line_test
                    .as_ref()
                    .is_some_and(|l| l.caller_id == inbound.caller.number) =>
            {
                tokio::spawn(
                    linetest::answer_test_call(self.ctx.clone(), inbound)
                        .instrument(info_span!("line_test_answer")),
                );
            }
            SipEvent::IncomingCall(inbound) => {
                let call_id = CallId::generate(now);
                let (tx, rx) = mpsc::channel(16);
                self.calls.insert(call_id.clone(), tx);
                let span =
                    info_span!("call", call_id = %call_id, sip_call_id = %inbound.sip_call_id);
                let driver =
                    span.in_scope(|| CallDriver::inbound(self.ctx.clone(), call_id, inbound, rx));
                tokio::spawn(driver.run().instrument(span));
            }
            SipEvent::Binding(BindingChange::Added {
                agent,
                contact,
                expires_s,
            }) => {
                let agent = AgentId::new(agent);
                // a held agent is paused before any offer can reach them
                let held = self.holds.is_held(&agent);
                if held {
                    self.controller.set_routing(now, false);
                }
                self.controller.handle(
                    now,
                    ControllerInput::Registered {
                        agent: agent.clone(),
                        contact,
                        expires_s,
                    },
                );
                if held {
                    self.pause_if_held(now, &agent);
                    let active = self.active();
                    self.controller.set_routing(now, active);
                }
            }
            SipEvent::Binding(BindingChange::Removed { agent, contact }) => {
                let registered = !self.ctx.sip.contacts(&agent).is_empty();
                let agent = AgentId::new(agent);
                self.controller.handle(
                    now,
                    ControllerInput::Unregistered {
                        agent,
                        contact,
                        registered,
                    },
                );
            }
        }
    }

    /// Click-to-call: checked here (the agent's phone registered, the agent
    /// free, the number allowed) so the API hears why not; then a call that
    /// rings the agent's phone first.
    fn click_to_call(&mut self, now: i64, r: control::DialRequest) -> Result<CallId, ControlError> {
        let refused = |ctx: &CallCtx, agent: &AgentId, reason: String| {
            ctx.publish(CallEvent {
                at_ms: now,
                call_id: None,
                agent: Some(agent.clone()),
                queue: None,
                kind: EventKind::AgentRequestRefused {
                    request: "dial".into(),
                    reason: reason.clone(),
                    by: r.by.clone(),
                },
            });
            ControlError::Refused(reason)
        };
        if !self.active() {
            return Err(ControlError::Unavailable(STANDBY_REFUSAL.into()));
        }
        if !self.controller.knows_agent(&r.agent) {
            return Err(ControlError::UnknownAgent(r.agent.as_str().to_string()));
        }
        let Some(binding) = self.ctx.sip.contacts(r.agent.as_str()).into_iter().next() else {
            return Err(refused(
                &self.ctx,
                &r.agent,
                "the agent has no phone registered".into(),
            ));
        };
        // a number on one of the agent's open work items passes the dial rules
        let on_work_item = self
            .ctx
            .cfg
            .outbound
            .as_ref()
            .is_some_and(|o| o.permit.allows(&r.agent, &r.number));
        match &self.ctx.flow.dial {
            None => {
                let reason = refused(&self.ctx, &r.agent, "dialling out is not enabled".into());
                return Err(ControlError::Forbidden(reason.to_string()));
            }
            Some(rules) => {
                if let Err(why) = rules.check(&r.number).or_else(|why| {
                    if on_work_item && hotline_callflow::dialable(&r.number) {
                        Ok(())
                    } else {
                        Err(why)
                    }
                }) {
                    let reason = refused(&self.ctx, &r.agent, why).to_string();
                    return Err(ControlError::Forbidden(reason));
                }
            }
        }
        let call_id = CallId::generate(now);
        if let Err(e) = self.controller.dial_out(now, &r.agent, &call_id) {
            return Err(refused(&self.ctx, &r.agent, e.to_string()));
        }
        let span = info_span!("call", call_id = %call_id, agent = %r.agent);
        let (tx, rx) = mpsc::channel(16);
        self.calls.insert(call_id.clone(), tx);
        let spec = hotline_callflow::ClickToCall {
            agent: r.agent,
            number: r.number,
            call_type: r.call_type,
            on_work_item,
        };
        let driver = span.in_scope(|| {
            CallDriver::click_to_call(self.ctx.clone(), call_id.clone(), spec, binding, rx)
        });
        tokio::spawn(driver.run().instrument(span));
        Ok(call_id)
    }

    /// An agent's phone dials a customer: the agent is made busy (refused
    /// when ringing or talking: 486 and an event), then a call of its own.
    fn dial_out(
        &mut self,
        now: i64,
        agent: AgentId,
        number: String,
        inbound: hotline_sip::InboundCall,
    ) {
        let call_id = CallId::generate(now);
        let span = info_span!("call", call_id = %call_id, sip_call_id = %inbound.sip_call_id, agent = %agent);
        if let Err(e) = self.controller.dial_out(now, &agent, &call_id) {
            span.in_scope(|| warn!(%number, reason = %e, "dialling out refused"));
            inbound.reject(486, Some(e.to_string()));
            self.ctx.publish(CallEvent {
                at_ms: now,
                call_id: None,
                agent: Some(agent),
                queue: None,
                kind: EventKind::AgentRequestRefused {
                    request: "dial".into(),
                    reason: e.to_string(),
                    by: "phone".into(),
                },
            });
            return;
        }
        let (tx, rx) = mpsc::channel(16);
        self.calls.insert(call_id.clone(), tx);
        let driver = span.in_scope(|| {
            CallDriver::outbound(self.ctx.clone(), call_id, agent, number, inbound, rx)
        });
        tokio::spawn(driver.run().instrument(span));
    }

    /// A supervisor's desk phone dialled a monitor code: their INVITE
    /// joins the target agent's call (403 for a phone without the
    /// supervisor role, 404 when the agent is on no call).
    fn monitor_call(
        &mut self,
        now: i64,
        supervisor: AgentId,
        mode: hotline_core::MonitorMode,
        target: String,
        inbound: hotline_sip::InboundCall,
    ) {
        let refuse = |inbound: hotline_sip::InboundCall, status: u16, reason: String| {
            warn!(%supervisor, %target, %reason, "monitor code refused");
            inbound.reject(status, Some(reason.clone()));
            self.ctx.publish(CallEvent {
                at_ms: now,
                call_id: None,
                agent: Some(supervisor.clone()),
                queue: None,
                kind: EventKind::AgentRequestRefused {
                    request: format!("monitor_{mode}"),
                    reason,
                    by: "phone".into(),
                },
            });
        };
        if !self.ctx.cfg.monitor.is_supervisor(supervisor.as_str()) {
            return refuse(inbound, 403, "only supervisors may monitor calls".into());
        }
        let agent = AgentId::new(target.clone());
        let Some(tx) = self
            .controller
            .call_of(&agent)
            .cloned()
            .and_then(|c| self.calls.get(&c))
        else {
            return refuse(inbound, 404, format!("agent {target} is on no call"));
        };
        info!(%supervisor, agent = %target, %mode, "supervisor dials in to monitor");
        let msg = Box::new(CallMsg::MonitorCall {
            inbound,
            supervisor: supervisor.to_string(),
            mode,
        });
        if let Err(mpsc::error::TrySendError::Full(msg) | mpsc::error::TrySendError::Closed(msg)) =
            tx.try_send(msg)
        {
            if let CallMsg::MonitorCall { inbound, .. } = *msg {
                inbound.reject(503, Some("the call is busy; try again".into()));
            }
        }
    }

    /// An agent request, asked of the duty rules first (pause, logout).
    fn agent_request(
        &mut self,
        now: i64,
        agent: &AgentId,
        request: hotline_callflow::AgentRequest,
        requester: &Requester,
    ) -> Result<control::AgentStatus, ControlError> {
        // the agent (or a supervisor) acts: a hold after a take-over is
        // theirs to lift
        if self.holds.agent_acted(agent).is_some() {
            info!(%agent, by = %requester.by, "hold after the take-over lifted by a request");
        }
        let overridden = match &self.duty {
            Some(d) if self.controller.knows_agent(agent) => {
                match d.check(now, agent, &request, requester) {
                    Ok(o) => o,
                    Err(refused) => {
                        let (e, refused) = *refused;
                        self.ctx.publish(refused);
                        return Err(e);
                    }
                }
            }
            _ => None,
        };
        let r = self.controller.request(now, agent, request, requester);
        if let (Ok(_), Some(ev)) = (&r, overridden) {
            self.ctx.publish(ev);
        }
        r
    }

    fn on_control(&mut self, msg: ControlMsg) {
        let now = self.ctx.clock.now_ms();
        match msg {
            ControlMsg::Request {
                agent,
                request,
                requester,
                reply,
            } => {
                let r = self.agent_request(now, &agent, request, &requester);
                // its events go to the log before the answer goes out
                self.carry_out();
                let _ = reply.send(r);
            }
            ControlMsg::Call {
                target,
                action,
                by,
                reply,
            } => {
                if let CallAction::Monitor { supervisor, .. } = &action {
                    if !self.active() {
                        let _ = reply.send(Err(ControlError::Unavailable(STANDBY_REFUSAL.into())));
                        return;
                    }
                    if !self.ctx.cfg.monitor.is_supervisor(supervisor) {
                        let _ = reply.send(Err(ControlError::Forbidden(format!(
                            "`{supervisor}` is not a supervisor's phone ([monitor] supervisors)"
                        ))));
                        return;
                    }
                }
                let call = match &target {
                    CallTarget::Call(c) => Some(c.clone()),
                    CallTarget::Agent(a) => self.controller.call_of(a).cloned(),
                };
                match call.as_ref().and_then(|c| self.calls.get(c)) {
                    Some(tx) => {
                        // the call answers; a call that just ended drops `reply`
                        if let Err(
                            mpsc::error::TrySendError::Full(msg)
                            | mpsc::error::TrySendError::Closed(msg),
                        ) = tx.try_send(Box::new(CallMsg::Control { action, by, reply }))
                        {
                            if let CallMsg::Control { reply, .. } = *msg {
                                let _ = reply.send(Err(ControlError::Refused(
                                    "the call is busy; try again".into(),
                                )));
                            }
                        }
                    }
                    None => {
                        let what = match target {
                            CallTarget::Call(c) => format!("no call {c} in progress"),
                            CallTarget::Agent(a) if self.controller.knows_agent(&a) => {
                                format!("agent {a} is on no call")
                            }
                            CallTarget::Agent(a) => format!("unknown agent `{a}`"),
                        };
                        let _ = reply.send(Err(ControlError::NoCall(what)));
                    }
                }
            }
            ControlMsg::Queues { reply } => {
                let _ = reply.send(self.controller.queues(now));
            }
            ControlMsg::Dial { request, reply } => {
                let r = self.click_to_call(now, request);
                self.carry_out();
                let _ = reply.send(r);
            }
            ControlMsg::List { reply } => {
                let _ = reply.send(self.controller.statuses());
            }
            ControlMsg::HoldAfterFailover { agents, reply } => {
                self.hold_after_failover(agents);
                self.carry_out();
                let _ = reply.send(());
            }
            ControlMsg::HeldCallEvents { call, events } => {
                for agent in self.holds.call_events(&call, &events) {
                    self.release_hold(now, &agent, failover::Release::CallEnded);
                }
            }
            ControlMsg::SteppedDown => self.stepped_down(),
            ControlMsg::ResumeCallbacks { pending } => {
                if !self.active() {
                    return;
                }
                // callbacks this node kept parked while standby that the
                // shared log says are done (the other node ran them): gone
                // without a word, so that no customer is called twice —
                // those waiting in their queue and those between two
                // attempts alike; one an agent of this node talks on (its
                // attempt in progress) runs to its end
                let due: std::collections::HashSet<&CallId> =
                    pending.iter().map(|p| &p.id).collect();
                let stale: Vec<CallId> = self
                    .callbacks
                    .iter()
                    .filter(|id| !due.contains(id) && !self.controller.is_talked_on(id))
                    .cloned()
                    .collect();
                for id in stale {
                    info!(call = %id, "callback done by the other node: parked");
                    if let Some(tx) = self.calls.get(&id) {
                        let _ = tx.try_send(Box::new(CallMsg::Park));
                    }
                    self.controller.handle(
                        now,
                        ControllerInput::FromCall {
                            call: id.clone(),
                            msg: hotline_callflow::ToController::Gone,
                        },
                    );
                    self.callbacks.remove(&id);
                }
                let fresh: Vec<(CallId, hotline_callflow::CallbackSpec)> = pending
                    .into_iter()
                    .filter(|p| !self.calls.contains_key(&p.id))
                    .map(crate::callback::PendingCallback::resumed)
                    .collect();
                if !fresh.is_empty() {
                    info!(
                        count = fresh.len(),
                        "callbacks pending in the shared log taken over"
                    );
                    self.controller.resume_callbacks(now, fresh);
                }
            }
        }
    }
}
