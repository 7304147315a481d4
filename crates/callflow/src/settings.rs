//! What the call flow needs to know of the configuration, and of the world
//! around it that is pure (open hours, prompt lengths): given by the driver.

use hotline_acd::QueueConfig;
use hotline_core::{AgentId, CallType, QueueId, RingCadence};
use std::collections::{BTreeMap, HashMap};

/// A prompt the call asks the driver to play, by name; the driver owns the
/// audio. Lengths come from [`Environment::prompt_ms`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PromptRef {
    /// The greeting of a period of the day (None: the default greeting).
    Greeting(Option<String>),
    /// Music on hold / while waiting.
    Music,
    /// The IVR menu.
    Menu,
    /// Played to a blacklisted caller before the engine hangs up.
    Blacklisted,
    /// "We cannot hear you, please call again".
    SilentLine,
    /// The queue is closed.
    Closed,
    /// "Press 1 and we call you back" (after announcements).
    CallbackOffer,
    /// "We will call you back".
    CallbackConfirm,
    /// "Please leave your message after the tone".
    VoicemailGreeting,
    /// The beep before a voicemail.
    VoicemailBeep,
    /// Position and expected wait, spoken (and the periodic message).
    Announcement {
        /// 1 = next.
        position: Option<u32>,
        /// Expected wait, ms.
        expected_wait_ms: Option<i64>,
    },
    /// The agent-only beep when a supervisor starts monitoring the call.
    MonitorBeep,
    /// 「1001号客服为您服务」: the answering agent's number (报工号), played to
    /// both sides before they talk.
    AgentNumber(String),
    /// 「很抱歉让您久等了」, played to both sides when a hold ends.
    HoldResume,
    /// 「谢谢您的电话，再见！」, played to both sides before the agent's
    /// closing hang-up clears the line.
    Closing,
    /// The agent-only beep at the handle-time warning (false) or limit (true).
    LimitTone {
        /// The limit itself, not the warning.
        exceeded: bool,
    },
}

impl PromptRef {
    /// The name written in `prompt_started` events.
    pub fn name(&self) -> String {
        match self {
            PromptRef::Greeting(Some(p)) => format!("greeting:{p}"),
            PromptRef::Greeting(None) => "greeting".into(),
            PromptRef::Music => "music".into(),
            PromptRef::Menu => "menu".into(),
            PromptRef::Blacklisted => "blacklisted".into(),
            PromptRef::SilentLine => "silent_line".into(),
            PromptRef::Closed => "closed".into(),
            PromptRef::CallbackOffer => "callback_offer".into(),
            PromptRef::CallbackConfirm => "callback_confirm".into(),
            PromptRef::VoicemailGreeting => "voicemail".into(),
            PromptRef::VoicemailBeep => "voicemail-beep".into(),
            PromptRef::Announcement { .. } => "announcement".into(),
            PromptRef::MonitorBeep => "monitor_beep".into(),
            PromptRef::AgentNumber(_) => "agent_number".into(),
            PromptRef::HoldResume => "hold_resume".into(),
            PromptRef::Closing => "closing".into(),
            PromptRef::LimitTone { exceeded: false } => "limit_warning".into(),
            PromptRef::LimitTone { exceeded: true } => "limit_exceeded".into(),
        }
    }
}

/// The pure facts of the world the call flow asks about: open hours, the
/// greeting of the period, the length of a prompt. The engine answers from
/// its schedule and loaded prompts; tests answer from a table.
pub trait Environment: Send + Sync {
    /// Is `queue` inside its open hours at `now_ms`?
    fn is_open(&self, queue: &QueueId, now_ms: i64) -> bool;
    /// The greeting of the period of the day at `now_ms`.
    fn greeting(&self, now_ms: i64) -> PromptRef;
    /// How long `prompt` plays, ms; None when it is not configured (an
    /// optional message left out, an announcement with nothing to say).
    fn prompt_ms(&self, prompt: &PromptRef) -> Option<i64>;
    /// The name of the prompt in `prompt_started` events (the audio's own
    /// name where the driver knows it).
    fn prompt_name(&self, prompt: &PromptRef) -> String {
        prompt.name()
    }
}

/// What a caller of a closed queue gets after the closed message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClosedTreatment {
    /// Goodbye (480 without a closed message).
    #[default]
    Message,
    /// A voicemail (needs [`FlowSettings::voicemail_max_ms`]).
    Voicemail,
    /// A callback once the queue opens (needs [`FlowSettings::callback`]).
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

/// Where an IVR choice routes the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The call's type from this choice.
    pub call_type: CallType,
    /// The queue.
    pub queue: QueueId,
    /// A language skill the call needs (e.g. `cantonese`).
    pub language: Option<String>,
}

/// The IVR menu after the greeting.
#[derive(Clone, Debug)]
pub struct Menu {
    /// Time to press a key after the menu prompt ends, ms.
    pub timeout_ms: i64,
    /// Plays of the menu before the default is taken.
    pub tries: u32,
    /// Key → route.
    pub options: BTreeMap<char, Route>,
    /// Route when no valid key is pressed.
    pub default: Route,
}

/// How callbacks are offered and made.
#[derive(Debug, Clone)]
pub struct CallbackPolicy {
    /// The key a waiting caller presses (`1`).
    pub key: char,
    /// How long a callback stays due, ms (24 h).
    pub deadline_ms: i64,
    /// Pause between attempts, ms.
    pub retry_ms: i64,
    /// Attempts before the callback is given up.
    pub attempts: u32,
    /// How long the customer's phone rings per attempt, ms.
    pub answer_timeout_ms: i64,
    /// How long a callback for a customer with an open case waits for the
    /// case's owner, each attempt, ms (首问负责制).
    pub owner_wait_ms: i64,
}

/// Position and expected-wait announcements.
#[derive(Debug, Clone, Copy)]
pub struct AnnouncePolicy {
    /// Every this long while waiting, ms.
    pub every_ms: i64,
    /// Handle time assumed while a queue has no history, ms.
    pub default_handle_ms: i64,
}

/// Which numbers agents may dial out to (no private calls on the hotline).
#[derive(Debug, Clone, Default)]
pub struct DialRules {
    /// A number must start with one of these (empty: any number).
    pub allowed_prefixes: Vec<String>,
    /// How long the customer's phone rings, ms.
    pub answer_timeout_ms: i64,
}

impl DialRules {
    /// Ok when agents may dial `number`; else why not, in words the agent's
    /// phone shows.
    pub fn check(&self, number: &str) -> Result<(), String> {
        if !crate::dialable(number) {
            return Err(format!("`{number}` is not a number that can be dialled"));
        }
        if !self.allowed_prefixes.is_empty()
            && !self
                .allowed_prefixes
                .iter()
                .any(|p| number.starts_with(p.as_str()))
        {
            return Err(format!(
                "{number} is not an allowed number (private calls are not allowed)"
            ));
        }
        Ok(())
    }
}

/// The call flow's settings (the sans-IO part of the engine's config).
#[derive(Clone, Debug)]
pub struct FlowSettings {
    /// Request-URI users that reach the hotline.
    pub numbers: Vec<String>,
    /// The queue a call goes to unless the IVR or the blacklist says otherwise.
    pub queue: QueueId,
    /// The queues and their ACD settings (the default queue is added with
    /// default settings if absent).
    pub queues: Vec<QueueConfig>,
    /// Where a queue's calls go when they wait its maximum, when no member is
    /// logged in, or when it is full: queue → queue (or [`VOICEMAIL`]).
    pub overflow: HashMap<QueueId, QueueId>,
    /// Agents' skills (name → proficiency 1–100).
    pub agent_skills: HashMap<AgentId, BTreeMap<String, u8>>,
    /// Every configured agent.
    pub agents: Vec<AgentId>,
    /// The menu after the greeting; None = every call goes to `queue`.
    pub ivr: Option<Menu>,
    /// Voicemail: the longest message, ms (None: no voicemail).
    pub voicemail_max_ms: Option<i64>,
    /// What a caller of a closed queue gets after the closed message.
    pub closed_treatment: ClosedTreatment,
    /// Callbacks (None: not offered).
    pub callback: Option<CallbackPolicy>,
    /// Announcements (None: music only).
    pub announcements: Option<AnnouncePolicy>,
    /// A queue's own agent ring timeout, ms.
    pub queue_ring_timeout_ms: HashMap<QueueId, i64>,
    /// How long an agent's phone rings before the next agent is tried, ms.
    pub agent_ring_timeout_ms: i64,
    /// Silent line after the engine answered, ms (0 = never).
    pub silent_line_ms: i64,
    /// Ring cadence the caller hears.
    pub cadence: RingCadence,
    /// The engine answers at the end of this ring if no agent has.
    pub answer_after_rings: u32,
    /// After-call work time, ms.
    pub wrap_up_ms: i64,
    /// Pause an agent after this many missed calls in a row (0 = never).
    pub auto_pause_after_misses: u32,
    /// Record every call answered by an agent (off: only on request).
    pub record: bool,
    /// Start the recording when the engine answers.
    pub record_queue: bool,
    /// Handle-time limit per call type, ms.
    pub limits: HashMap<CallType, i64>,
    /// `limit_warning` at this fraction of the limit (0–1).
    pub limit_warning_fraction: f64,
    /// Beep to the agent only at the warning and the limit.
    pub limit_tone: bool,
    /// Where a transfer without a target goes.
    pub transfer_queue: Option<QueueId>,
    /// Dialling out (None: agents cannot call customers).
    pub dial: Option<DialRules>,
    /// A talking call (not on hold) from one side of which no RTP came for
    /// this long is ended as dropped (`media_timeout`), ms; 0 = never.
    pub media_timeout_ms: i64,
}

impl FlowSettings {
    /// Settings with one queue (`general`), no IVR, no callbacks, the
    /// mainland-China cadence and the usual limits; a base for tests and
    /// simulations.
    pub fn basic(agents: &[&str]) -> Self {
        FlowSettings {
            numbers: vec!["hotline".into()],
            queue: QueueId::new("general"),
            queues: Vec::new(),
            overflow: HashMap::new(),
            agent_skills: HashMap::new(),
            agents: agents.iter().map(|a| AgentId::new(*a)).collect(),
            ivr: None,
            voicemail_max_ms: None,
            closed_treatment: ClosedTreatment::Message,
            callback: None,
            announcements: None,
            queue_ring_timeout_ms: HashMap::new(),
            agent_ring_timeout_ms: 15_000,
            silent_line_ms: 0,
            cadence: RingCadence::default(),
            answer_after_rings: 3,
            wrap_up_ms: 5_000,
            auto_pause_after_misses: 0,
            record: true,
            record_queue: false,
            limits: HashMap::from([
                (CallType::Order, 60_000),
                (CallType::Inquiry, 180_000),
                (CallType::Callback, 180_000),
            ]),
            limit_warning_fraction: 0.8,
            limit_tone: true,
            transfer_queue: None,
            dial: None,
            media_timeout_ms: 0,
        }
    }

    /// Is `queue` a configured queue?
    pub fn knows_queue(&self, queue: &QueueId) -> bool {
        queue == &self.queue || self.queues.iter().any(|q| &q.id == queue)
    }

    /// How long an agent's phone rings for a call of `queue`, ms.
    pub fn ring_timeout_ms(&self, queue: Option<&QueueId>) -> i64 {
        queue
            .and_then(|q| self.queue_ring_timeout_ms.get(q))
            .copied()
            .unwrap_or(self.agent_ring_timeout_ms)
    }

    /// The handle-time limit of a call type, ms (None: no limit).
    pub fn limit_ms(&self, call_type: CallType) -> Option<i64> {
        self.limits.get(&call_type).copied().filter(|l| *l > 0)
    }
}
