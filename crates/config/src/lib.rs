//! The configuration, flowing one way:
//!
//! 1. raw serde sections of the TOML file ([`Config`] and its sections here,
//!    [`routing`] and [`schedule`]), with defaults and unknown keys refused;
//! 2. checks ([`Config::validate`], `validate_routing`, `validate_schedule`),
//!    each problem reported with its key path, e.g.
//!    `ring.on_ms: ring tone must last between 100 ms and 10000 ms, got 0 ms`;
//! 3. [`settings::Settings::build`]: the typed values every part of the
//!    engine takes, with every file the config names loaded.

// The modules were src/config/ of the binary and name each other
// `crate::config::...`; the alias keeps those paths (and any section file
// written against them) compiling unchanged.
use crate as config;

pub mod agent_numbers;
pub mod cases;
pub mod cluster;
pub mod console;
pub mod duty;
#[cfg(test)]
mod fuzzing;
pub mod linetest;
pub mod lockout;
pub mod monitor;
pub mod recordings_store;
pub mod routing;
pub mod schedule;
pub mod settings;
pub mod srtp;
pub mod tls;
pub mod trunks;
pub mod worklist;

use hotline_core::RingCadence;
use hotline_sip::DigestAlgorithm;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key or wrong type (the message names the key).
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with line, column and key.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key, e.g. `media.port_min`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Deserializes a vocabulary type through its `FromStr` (the error names
/// the value and what is expected).
pub(crate) fn from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[sip]`
    #[serde(default)]
    pub sip: SipSection,
    /// `[hotline]`
    #[serde(default)]
    pub hotline: HotlineSection,
    /// `[ring]`
    #[serde(default)]
    pub ring: RingSection,
    /// `[acd]`
    #[serde(default)]
    pub acd: AcdSection,
    /// `[media]`
    #[serde(default)]
    pub media: MediaSection,
    /// `[storage]`
    #[serde(default)]
    pub storage: StorageSection,
    /// `[prompts]`
    #[serde(default)]
    pub prompts: PromptsSection,
    /// `[http]`
    #[serde(default)]
    pub http: HttpSection,
    /// `[console]`
    #[serde(default)]
    pub console: ConsoleSection,
    /// `[limits]`
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[[agents]]`
    #[serde(default)]
    pub agents: Vec<AgentSection>,
    /// `[retention]`
    #[serde(default)]
    pub retention: RetentionSection,
    /// `[kpis]`
    #[serde(default)]
    pub kpis: KpisSection,
    /// `[callback]`
    #[serde(default)]
    pub callback: CallbackSection,
    /// `[outbound]`
    #[serde(default)]
    pub outbound: OutboundSection,
    /// `[worklist]`
    #[serde(default)]
    pub worklist: crate::config::worklist::WorklistSection,
    /// `[[trunks]]`
    #[serde(default)]
    pub trunks: Vec<trunks::TrunkSection>,
    /// `[voicemail]`
    #[serde(default)]
    pub voicemail: VoicemailSection,
    /// `[announcements]`
    #[serde(default)]
    pub announcements: AnnouncementsSection,
    /// `[schedule]`
    #[serde(default)]
    pub schedule: crate::config::schedule::ScheduleSection,
    /// `[[queues]]`
    #[serde(default)]
    pub queues: Vec<crate::config::routing::QueueSection>,
    /// `[[blacklist]]`
    #[serde(default)]
    pub blacklist: Vec<crate::config::routing::BlacklistSection>,
    /// `[ivr]`
    #[serde(default)]
    pub ivr: crate::config::routing::IvrSection,
    /// `[agent_codes]`
    #[serde(default)]
    pub agent_codes: crate::config::routing::AgentCodesSection,
    /// `[[shifts]]`: named shifts for `hotline report --shift`.
    #[serde(default)]
    pub shifts: Vec<crate::config::schedule::ShiftSection>,
    /// `[monitor]`: live monitoring by supervisors.
    #[serde(default)]
    pub monitor: crate::config::monitor::MonitorSection,
    /// `[cases]`: complaint cases (reply deadlines, note categories,
    /// routing by ownership).
    #[serde(default)]
    pub cases: crate::config::cases::CasesSection,
    /// `[duty]`: the duty floor's rules.
    #[serde(default)]
    pub duty: crate::config::duty::DutySection,
    /// `[[roster]]`: the weekly roster pattern.
    #[serde(default)]
    pub roster: Vec<crate::config::duty::RosterSection>,
    /// `[[quality_forms]]`: the score forms of quality scoring (none = the
    /// shipped example form).
    #[serde(default)]
    pub quality_forms: Vec<hotline_store::quality::ScoreForm>,
    /// `[line_test]`: the twice-daily line self-test.
    #[serde(default)]
    pub line_test: crate::config::linetest::LineTestSection,
    /// `[notify]`: alarms and reports by e-mail and webhook.
    #[serde(default)]
    pub notify: hotline_notify::NotifyConfig,
    /// `[cluster]`: one node of the HA pair (cluster.rs).
    #[serde(default)]
    pub cluster: crate::config::cluster::ClusterSection,
    /// `[recordings_store]`: recordings on shared storage (recordings_store.rs).
    #[serde(default)]
    pub recordings_store: crate::config::recordings_store::RecordingsStoreSection,
}

/// `[sip]`: signalling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Digest realm.
    pub realm: String,
    /// Challenge algorithms, strongest first: "MD5" and/or "SHA-256".
    pub algorithms: Vec<String>,
    /// Nonce lifetime, seconds.
    pub nonce_ttl_s: u32,
    /// Registration limits, seconds.
    pub min_expires_s: u32,
    /// Longest registration granted, seconds.
    pub max_expires_s: u32,
    /// Contacts one agent may register at once.
    pub max_contacts_per_agent: usize,
    /// SIP datagrams per second accepted from one IP.
    pub rate_limit_per_source: u32,
    /// SIP-over-TCP connections one IP may hold at once.
    pub tcp_max_per_source: usize,
    /// SIP-over-TCP connections in all.
    pub tcp_max_connections: usize,
    /// Seconds a new TCP connection has to send its first header block.
    pub tcp_header_timeout_s: u32,
    /// Session timers (RFC 4028): the session interval offered and
    /// accepted at most, seconds (0 = off).
    pub session_expires_s: u32,
    /// Shortest session interval accepted (smaller gets 422), seconds;
    /// below 90 only for tests (see docs/configuration.md).
    pub min_se_s: u32,
    /// `[sip.lockout]`: password guessing defence.
    pub lockout: lockout::LockoutSection,
    /// `[sip.tls]`: SIP over TLS (tls.rs).
    pub tls: tls::TlsSection,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            realm: "hotline".into(),
            algorithms: vec!["MD5".into()],
            nonce_ttl_s: 300,
            min_expires_s: 60,
            max_expires_s: 3600,
            max_contacts_per_agent: 4,
            rate_limit_per_source: 500,
            tcp_max_per_source: 16,
            tcp_max_connections: 1024,
            tcp_header_timeout_s: 10,
            session_expires_s: 1800,
            min_se_s: 90,
            lockout: Default::default(),
            tls: tls::TlsSection::default(),
        }
    }
}

/// `[hotline]`: the numbers callers dial.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotlineSection {
    /// Request-URI users that reach the hotline.
    pub numbers: Vec<String>,
    /// The queue calls go to unless the IVR or the blacklist says otherwise.
    pub queue: String,
    /// Record every call answered by an agent (false: only calls an agent
    /// or supervisor asks to record, through the API).
    pub record: bool,
    /// Also record the caller from the engine's answer (greeting, queue),
    /// in the same file as the conversation.
    pub record_queue: bool,
    /// VIP callers, served ahead of everyone (`+8613800000000`, prefix `+86138*`).
    pub vip: Vec<String>,
    /// A caller who sends no sound this many seconds after the engine answered
    /// hears `prompts.silent_line` and is hung up (0 = never).
    pub silent_line_s: u32,
    /// A talking call (not on hold) without RTP from one side this many
    /// seconds is ended as dropped (`media_timeout`); 0 = never.
    pub media_timeout_s: u32,
}

impl Default for HotlineSection {
    fn default() -> Self {
        HotlineSection {
            numbers: vec!["hotline".into(), "4000".into()],
            queue: "general".into(),
            record: true,
            record_queue: false,
            vip: Vec::new(),
            silent_line_s: 0,
            media_timeout_s: 30,
        }
    }
}

/// `[ring]`: the cadence the caller hears and when the engine answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingSection {
    /// Tone, ms (default 1000: mainland China).
    pub on_ms: u32,
    /// Silence, ms (default 4000).
    pub off_ms: u32,
    /// The engine answers at the end of this ring (default 3).
    pub answer_after_rings: u32,
}

impl Default for RingSection {
    fn default() -> Self {
        RingSection {
            on_ms: 1000,
            off_ms: 4000,
            answer_after_rings: 3,
        }
    }
}

/// `[acd]`: routing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdSection {
    /// How long an agent's phone rings before the next agent, ms (0 = three ring periods).
    pub ring_timeout_ms: u32,
    /// After-call work, ms.
    pub wrap_up_ms: u32,
    /// Pause an agent after this many missed calls in a row (0 = never). Until
    /// the console exists, an auto-paused agent is back when their phone
    /// unregisters and registers again.
    pub auto_pause_after_misses: u32,
    /// Where an agent's transfer goes when it names no queue (the shift
    /// leaders' queue); unset: a transfer must name its queue.
    pub transfer_queue: Option<String>,
}

impl Default for AcdSection {
    fn default() -> Self {
        AcdSection {
            ring_timeout_ms: 0,
            wrap_up_ms: 5000,
            auto_pause_after_misses: 0,
            transfer_queue: None,
        }
    }
}

/// `[media]`: RTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// Address RTP sockets bind to and our SDP announces.
    pub ip: IpAddr,
    /// First RTP port (even).
    pub port_min: u16,
    /// Last RTP port.
    pub port_max: u16,
    /// Media worker threads (0 = one per core).
    pub workers: usize,
    /// SDES-SRTP for callers and for agents without their own `srtp`:
    /// `off`, `optional` or `required` (see [`srtp`]).
    pub srtp: String,
    /// SRTP keys may travel in SDP over plain UDP/TCP (a lab).
    pub srtp_allow_without_tls: bool,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            ip: IpAddr::from([127, 0, 0, 1]),
            port_min: 20000,
            port_max: 29999,
            workers: 0,
            srtp: "optional".into(),
            srtp_allow_without_tls: false,
        }
    }
}

/// `[limits]`: handle-time limits per call type, seconds (0 = no limit).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Orders.
    pub order_s: u32,
    /// Inquiries (the type of every call until an IVR or the agent sets one).
    pub inquiry_s: u32,
    /// Callbacks and follow-ups.
    pub callback_s: u32,
    /// Complaints.
    pub complaint_s: u32,
    /// Agents' replies to questions (calls out).
    pub reply_s: u32,
    /// Return visits (calls out).
    pub return_visit_s: u32,
    /// Other calls out.
    pub other_s: u32,
    /// `limit_warning` at this fraction of the limit.
    pub warning_fraction: f64,
    /// A short beep that only the agent hears at the warning and at the limit.
    pub agent_tone: bool,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            order_s: 60,
            inquiry_s: 180,
            callback_s: 180,
            complaint_s: 0,
            reply_s: 180,
            return_visit_s: 180,
            other_s: 0,
            warning_fraction: 0.8,
            agent_tone: false,
        }
    }
}

impl LimitsSection {
    /// The limits in ms by call type (types without a limit are absent).
    pub fn by_type(&self) -> std::collections::HashMap<hotline_core::CallType, i64> {
        use hotline_core::CallType;
        [
            (CallType::Order, self.order_s),
            (CallType::Inquiry, self.inquiry_s),
            (CallType::Callback, self.callback_s),
            (CallType::Complaint, self.complaint_s),
            (CallType::Reply, self.reply_s),
            (CallType::ReturnVisit, self.return_visit_s),
            (CallType::Other, self.other_s),
        ]
        .into_iter()
        .filter(|(_, s)| *s > 0)
        .map(|(t, s)| (t, i64::from(s) * 1000))
        .collect()
    }
}

/// `[http]`: the HTTP listener (Prometheus `/metrics`, `/api/stats`, `/health`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Serve HTTP at all.
    pub enabled: bool,
    /// Address to listen on (port 0 = any free port, printed at start).
    pub listen: SocketAddr,
    /// Bearer token the agent-control endpoints (`POST /api/agents/...`)
    /// require; empty = those endpoints are refused. Until users and roles
    /// exist this token is the supervisor's key: keep it secret.
    pub api_token: String,
    /// PEM certificate chain: serve HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Connections one IP address may hold at once.
    pub max_connections_per_source: usize,
    /// Connections in all.
    pub max_connections: usize,
    /// Seconds a request's header block may take (slow-loris).
    pub header_timeout_s: u32,
}

/// `[console]`: the supervisor web console on the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    /// Serve the console (pages and its API) on the HTTP listener.
    pub enabled: bool,
    /// A session ends after this many seconds without a request.
    pub session_idle_s: u64,
    /// A session ends this many seconds after login, whatever happens.
    pub session_max_s: u64,
    /// Failed logins allowed per user name and per client address within
    /// `login_window_s`; further attempts get 429 until the window passes.
    pub login_attempts: u32,
    /// The window of `login_attempts`, seconds.
    pub login_window_s: u64,
    /// Leave `/metrics`, `/api/stats`, `/api/stream` and `/api/agents` open
    /// on the listener (Prometheus, wallboard screens); false = they need a
    /// console session or the bearer token like everything else.
    pub open_read_api: bool,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection {
            enabled: true,
            session_idle_s: 1800,
            session_max_s: 12 * 3600,
            login_attempts: 5,
            login_window_s: 900,
            open_read_api: true,
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_token: String::new(),
            tls_cert: None,
            tls_key: None,
            max_connections_per_source: 256,
            max_connections: 4096,
            header_timeout_s: 10,
        }
    }
}

/// `[storage]`: where data lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Data directory (SQLite database, keys).
    pub data_dir: PathBuf,
    /// Recordings root; default `<data_dir>/recordings`.
    pub recordings: Option<PathBuf>,
    /// Database URL; default `sqlite://<data_dir>/hotline.db`. `postgres://...` for PostgreSQL.
    pub database_url: Option<String>,
    /// Seconds between two fsyncs of a recording's audio while the call runs
    /// (0 = only when it closes).
    pub recordings_sync_s: u32,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data_dir: PathBuf::from("data"),
            recordings: None,
            database_url: None,
            recordings_sync_s: 5,
        }
    }
}

/// `[prompts]`: WAV files (any common rate; converted to 8 kHz G.711 at load).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsSection {
    /// Played when the engine answers.
    pub greeting: PathBuf,
    /// Looped while the caller waits.
    pub music: PathBuf,
    /// Played to blacklisted callers who are refused (none: 603 Decline).
    pub blacklisted: Option<PathBuf>,
    /// "We cannot hear you, please call again" (none: hang up without a word).
    pub silent_line: Option<PathBuf>,
    /// Played to callers of a closed queue (none: 480 before answering).
    pub closed: Option<PathBuf>,
    /// The language of the prompts: `zh` (Mandarin) or `en`. It decides how
    /// announcements are put together from `announcements.words`
    /// (「您前面还有三位」 or "you are caller number four").
    pub language: PromptLanguage,
    /// 报工号: when an agent answers, both sides hear 「1001号客服为您服务」
    /// before they talk (words from `announcements.words`; needs `zh`).
    pub agent_number: bool,
    /// 「很抱歉让您久等了」, played to both sides when a hold ends (none: nothing).
    pub hold_resume: Option<PathBuf>,
    /// 「谢谢您的电话，再见！」, played to both sides by the agent's closing
    /// hang-up (`close`) before the line is cleared (none: cleared at once).
    pub closing: Option<PathBuf>,
}

/// `prompts.language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptLanguage {
    /// Mandarin (`config/prompts/zh/`, as shipped).
    Zh,
    /// English (`config/prompts/`; the default when the key is absent).
    #[default]
    En,
}

impl Default for PromptsSection {
    fn default() -> Self {
        PromptsSection {
            greeting: PathBuf::from("config/prompts/greeting.wav"),
            music: PathBuf::from("config/prompts/music.wav"),
            blacklisted: None,
            silent_line: None,
            closed: None,
            language: PromptLanguage::En,
            agent_number: false,
            hold_resume: None,
            closing: None,
        }
    }
}

/// `[retention]`: how long recordings are kept and how much disk they may use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Days a recording is kept (0 = no age limit); queues may set their own.
    pub days: u32,
    /// Largest total size of the recordings, MiB (0 = no quota). The oldest
    /// recordings without a legal hold are removed first.
    pub quota_mb: f64,
    /// Seconds between retention passes while `serve` runs (60–86400).
    pub check_every_s: u32,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            days: 0,
            quota_mb: 0.0,
            check_every_s: 3600,
        }
    }
}

/// `[kpis]`: how the figures count (docs/kpis.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpisSection {
    /// Abandons before this wait are short (counted apart), seconds; queues
    /// may set their own (`queues.short_abandon_s`).
    pub short_abandon_s: u32,
    /// Service-level time: answered by an agent within it is in target,
    /// seconds; unset = the ring limit (the end of ring
    /// `ring.answer_after_rings`: 11 s with the shipped cadence).
    pub service_level_s: Option<u32>,
    /// A callback still waiting this long after the caller asked is overdue,
    /// seconds; unset = the callback deadline (`callback.deadline_h`).
    pub callback_overdue_s: Option<u32>,
    /// A queued call no agent was offered within this time "had to wait"
    /// (queue placement rate), seconds.
    pub queue_placement_s: u32,
    /// Cost model of the cost per call: trunk cost per minute of an inbound
    /// call (0 = none).
    pub trunk_cost_per_minute: f64,
    /// Cost model of the cost per call: an agent's cost per staffed hour (0 = none).
    pub agent_cost_per_hour: f64,
}

impl Default for KpisSection {
    fn default() -> Self {
        KpisSection {
            short_abandon_s: 5,
            service_level_s: None,
            callback_overdue_s: None,
            queue_placement_s: 1,
            trunk_cost_per_minute: 0.0,
            agent_cost_per_hour: 0.0,
        }
    }
}

/// `[callback]`: waiting callers may hang up and be called back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackSection {
    /// Offer callbacks at all.
    pub enabled: bool,
    /// The key a waiting caller presses.
    pub key: String,
    /// "Press 1 to be called back", played after each announcement.
    pub offer: Option<PathBuf>,
    /// "We will call you back", played before the engine hangs up.
    pub confirm: Option<PathBuf>,
    /// Hours a callback stays due.
    pub deadline_h: u32,
    /// Request-URI the caller is called back at; `{number}` is their number.
    /// The host must be an IP address (the gateway), `:port` optional.
    pub dial: String,
    /// Seconds between attempts.
    pub retry_s: u32,
    /// Attempts before the callback is given up.
    pub attempts: u32,
    /// Seconds the caller's phone rings per attempt.
    pub answer_timeout_s: u32,
    /// The `[[trunks]]` entry callbacks go through (unset: `dial`).
    pub trunk: Option<String>,
    /// Seconds each attempt of a callback for a customer with an open case
    /// waits for the case's owner before anyone may make it (首问负责制).
    pub owner_wait_s: u32,
}

impl Default for CallbackSection {
    fn default() -> Self {
        CallbackSection {
            enabled: false,
            key: "1".into(),
            offer: None,
            confirm: None,
            deadline_h: 24,
            dial: "sip:{number}@127.0.0.1:5070".into(),
            retry_s: 300,
            attempts: 3,
            answer_timeout_s: 30,
            trunk: None,
            owner_wait_s: 1800,
        }
    }
}

impl CallbackSection {
    /// The gateway address in `dial` (`sip:{number}@IP[:PORT][;params]`).
    pub fn gateway(&self) -> Result<SocketAddr, ConfigError> {
        gateway_of("callback.dial", &self.dial)
    }
}

/// `[outbound]`: agents call customers from their desk phone by dialling
/// `prefix` + the number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSection {
    /// Agents may dial out at all.
    pub enabled: bool,
    /// Dialled before the number (`9`).
    pub prefix: String,
    /// Request-URI the number is called at; `{number}` is the number. The
    /// host must be an IP address (the gateway), `:port` optional.
    pub dial: String,
    /// A number must start with one of these; empty: any number.
    pub allowed_prefixes: Vec<String>,
    /// Seconds the customer's phone rings.
    pub answer_timeout_s: u32,
    /// The type of an outbound call (its handle-time limit).
    pub call_type: String,
    /// The `[[trunks]]` entry calls go through (unset: `dial`).
    pub trunk: Option<String>,
}

impl Default for OutboundSection {
    fn default() -> Self {
        OutboundSection {
            enabled: false,
            prefix: "9".into(),
            dial: "sip:{number}@127.0.0.1:5070".into(),
            allowed_prefixes: Vec::new(),
            answer_timeout_s: 45,
            call_type: "callback".into(),
            trunk: None,
        }
    }
}

impl OutboundSection {
    /// The gateway address in `dial`.
    pub fn gateway(&self) -> Result<SocketAddr, ConfigError> {
        gateway_of("outbound.dial", &self.dial)
    }

    /// Checks the section against the hotline numbers and feature codes.
    pub fn validate(&self, numbers: &[String]) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        let p = &self.prefix;
        if p.is_empty() || p.len() > 4 || !p.chars().all(|c| c.is_ascii_digit() || c == '#') {
            return Err(invalid(
                "outbound.prefix",
                "1 to 4 digits (or #), e.g. \"9\"",
            ));
        }
        if let Some(n) = numbers.iter().find(|n| n.starts_with(p.as_str())) {
            return Err(invalid(
                "outbound.prefix",
                format!("the hotline number {n} starts with it: callers would be challenged"),
            ));
        }
        self.gateway()?;
        for a in &self.allowed_prefixes {
            let digits = a.strip_prefix('+').unwrap_or(a);
            if digits.is_empty() || digits.len() > 16 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(invalid(
                    "outbound.allowed_prefixes",
                    format!("`{a}` is not a number prefix"),
                ));
            }
        }
        if !(5..=180).contains(&self.answer_timeout_s) {
            return Err(invalid("outbound.answer_timeout_s", "5 to 180 seconds"));
        }
        self.call_type
            .parse::<hotline_core::CallType>()
            .map_err(|e| invalid("outbound.call_type", e.to_string()))?;
        Ok(())
    }
}

/// The gateway address in a dial URI (`sip:{number}@IP[:PORT][;params]`).
fn gateway_of(key: &str, dial: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |why: &str| invalid(key, why.to_string());
    let rest = dial
        .strip_prefix("sip:")
        .ok_or_else(|| bad("must be a sip: URI like sip:{number}@192.0.2.10:5060"))?;
    let (user, host) = rest
        .split_once('@')
        .ok_or_else(|| bad("needs {number}@gateway"))?;
    if !user.contains("{number}") {
        return Err(bad("the user part must contain {number}"));
    }
    let host = host.split([';', '>', '?']).next().unwrap_or_default();
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Ok(addr);
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 5060))
        .map_err(|_| bad("the gateway must be an IP address with an optional port"))
}

/// `[voicemail]`: messages from callers nobody could take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoicemailSection {
    /// Offer voicemail at all (queues with `overflow = "voicemail"`, closed
    /// queues with `schedule.closed_action = "voicemail"`).
    pub enabled: bool,
    /// "Please leave your message after the tone".
    pub prompt: Option<PathBuf>,
    /// The longest message, seconds (5–600).
    pub max_s: u32,
}

impl Default for VoicemailSection {
    fn default() -> Self {
        VoicemailSection {
            enabled: false,
            prompt: None,
            max_s: 120,
        }
    }
}

/// `[announcements]`: what waiting callers are told between the music.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnnouncementsSection {
    /// Seconds between announcements, the first this long after the
    /// greeting (0 = music only).
    pub every_s: u32,
    /// Tell the caller's position in the queue.
    pub position: bool,
    /// Tell the expected wait (position × the queue's recent mean handle
    /// time ÷ staffed agents; left out when nobody is staffed).
    pub expected_wait: bool,
    /// Directory of the recorded words (`position.wav`, `0.wav`…`20.wav`, …).
    pub words: PathBuf,
    /// Played after the figures ("thank you for waiting", optional).
    pub message: Option<PathBuf>,
    /// Handle time assumed before a queue has handled a call, seconds.
    pub default_handle_s: u32,
}

impl Default for AnnouncementsSection {
    fn default() -> Self {
        AnnouncementsSection {
            every_s: 0,
            position: true,
            expected_wait: true,
            words: PathBuf::from("config/prompts/announce"),
            message: None,
            default_handle_s: 180,
        }
    }
}

/// `[[agents]]`: one agent's SIP account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Extension (SIP user name).
    pub id: String,
    /// Digest password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Challenge algorithms for this agent's phone (default: `sip.algorithms`).
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// Skills: name → proficiency 1–100 (`{ mandarin = 90, cantonese = 40 }`).
    #[serde(default)]
    pub skills: std::collections::BTreeMap<String, u8>,
    /// Behind NAT: ring the address the REGISTER came from, whatever the Contact says.
    #[serde(default)]
    pub nat: bool,
    /// The work number (工号) announced when the agent answers, 1–8 digits
    /// (default: the id when it is digits); see [`agent_numbers`].
    #[serde(default)]
    pub number: Option<String>,
    /// SDES-SRTP on this agent's leg: `off`, `optional` or `required`
    /// (default: `media.srtp`).
    #[serde(default)]
    pub srtp: Option<String>,
}

/// Parses an algorithm list, naming `key` on error.
pub fn parse_algorithms(key: &str, names: &[String]) -> Result<Vec<DigestAlgorithm>, ConfigError> {
    if names.is_empty() {
        return Err(invalid(
            key,
            "at least one algorithm is needed (\"MD5\" and/or \"SHA-256\")",
        ));
    }
    names
        .iter()
        .map(|n| match n.to_ascii_uppercase().as_str() {
            "MD5" => Ok(DigestAlgorithm::Md5),
            "SHA-256" | "SHA256" => Ok(DigestAlgorithm::Sha256),
            other => Err(invalid(
                key,
                format!("unknown digest algorithm `{other}` (expected \"MD5\" or \"SHA-256\")"),
            )),
        })
        .collect()
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        if meta.len() > 4 * 1024 * 1024 {
            return Err(ConfigError::Parse {
                path: path.into(),
                message: "file larger than 4 MiB".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let cfg = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.into(),
                message,
            },
            other => other,
        })?;
        Ok(cfg)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The ring cadence.
    pub fn cadence(&self) -> RingCadence {
        RingCadence {
            on_ms: self.ring.on_ms,
            off_ms: self.ring.off_ms,
        }
    }

    /// Agent ring timeout in ms (three ring periods unless set).
    pub fn agent_ring_timeout_ms(&self) -> i64 {
        if self.acd.ring_timeout_ms == 0 {
            3 * self.cadence().period_ms()
        } else {
            i64::from(self.acd.ring_timeout_ms)
        }
    }

    /// Recordings root.
    pub fn recordings_dir(&self) -> PathBuf {
        self.storage
            .recordings
            .clone()
            .unwrap_or_else(|| self.storage.data_dir.join("recordings"))
    }

    /// Database URL.
    pub fn database_url(&self) -> String {
        self.storage.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.storage.data_dir.join("hotline.db").display()
            )
        })
    }

    /// Checks values and their consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let demo = self.demo_password_agents();
        if !demo.is_empty() && !self.sip.listen.ip().is_loopback() {
            return Err(invalid(
                "agents",
                format!(
                    "agents {} still use the shipped demo passwords and sip.listen {} is not loopback: anyone who reaches this port could register as them. Give every [[agents]] entry its own password (at least 12 characters, not starting with `demo`), or listen on 127.0.0.1",
                    demo.join(", "),
                    self.sip.listen
                ),
            ));
        }
        if self.http.max_connections_per_source == 0
            || self.http.max_connections_per_source > self.http.max_connections
        {
            return Err(invalid(
                "http.max_connections_per_source",
                "must be at least 1 and at most http.max_connections",
            ));
        }
        if self.http.max_connections > 100_000 {
            return Err(invalid("http.max_connections", "must be at most 100000"));
        }
        if !(1..=300).contains(&self.http.header_timeout_s) {
            return Err(invalid("http.header_timeout_s", "must be 1 to 300 seconds"));
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            return Err(invalid(
                if self.http.tls_cert.is_some() {
                    "http.tls_key"
                } else {
                    "http.tls_cert"
                },
                "HTTPS needs both http.tls_cert and http.tls_key (PEM files)",
            ));
        }
        let c = &self.console;
        if !(60..=86_400).contains(&c.session_idle_s) {
            return Err(invalid(
                "console.session_idle_s",
                "between 60 and 86400 seconds",
            ));
        }
        if c.session_max_s < c.session_idle_s || c.session_max_s > 7 * 86_400 {
            return Err(invalid(
                "console.session_max_s",
                "at least console.session_idle_s and at most 604800 seconds (7 days)",
            ));
        }
        if !(1..=100).contains(&c.login_attempts) {
            return Err(invalid("console.login_attempts", "between 1 and 100"));
        }
        if !(1..=86_400).contains(&c.login_window_s) {
            return Err(invalid(
                "console.login_window_s",
                "between 1 and 86400 seconds",
            ));
        }
        if self.storage.recordings_sync_s > 3600 {
            return Err(invalid(
                "storage.recordings_sync_s",
                "recordings are synced to disk at least once an hour (0 = only at close)",
            ));
        }
        self.outbound.validate(&self.hotline.numbers)?;
        self.sip.lockout.build()?;
        self.worklist.validate()?;
        self.validate_trunks()?;
        self.validate_line_test()?;
        self.cases.validate()?;
        self.duty.build(self)?;
        if self.callback.enabled {
            let c = &self.callback;
            let mut key = c.key.chars();
            if !matches!(
                (key.next(), key.next()),
                (Some('0'..='9' | '*' | '#'), None)
            ) {
                return Err(invalid("callback.key", "one key: 0-9, * or #"));
            }
            self.callback.gateway()?;
            if !(1..=168).contains(&c.deadline_h) {
                return Err(invalid("callback.deadline_h", "1 to 168 hours"));
            }
            if !(1..=10).contains(&c.attempts) {
                return Err(invalid("callback.attempts", "1 to 10 attempts"));
            }
            if !(5..=120).contains(&c.answer_timeout_s) {
                return Err(invalid("callback.answer_timeout_s", "5 to 120 seconds"));
            }
            if c.retry_s > 86_400 {
                return Err(invalid("callback.retry_s", "at most a day"));
            }
            if c.owner_wait_s > 86_400 {
                return Err(invalid("callback.owner_wait_s", "at most a day"));
            }
        }
        let r = &self.retention;
        if r.days > 36_500 {
            return Err(invalid(
                "retention.days",
                "at most 36500 days (0 = no age limit)",
            ));
        }
        if !(r.quota_mb.is_finite() && r.quota_mb >= 0.0 && r.quota_mb < 1e9) {
            return Err(invalid("retention.quota_mb", "a size in MiB, 0 = no quota"));
        }
        if !(60..=86_400).contains(&r.check_every_s) {
            return Err(invalid("retention.check_every_s", "60 to 86400 seconds"));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.retention_days.is_some_and(|d| d > 36_500) {
                return Err(invalid(
                    format!("queues[{i}].retention_days"),
                    "at most 36500 days",
                ));
            }
        }
        for (i, f) in self.quality_forms.iter().enumerate() {
            f.validate()
                .map_err(|e| invalid(format!("quality_forms[{i}]"), e.to_string()))?;
            if self.quality_forms[..i].iter().any(|o| o.id == f.id) {
                return Err(invalid(format!("quality_forms[{i}].id"), "used twice"));
            }
        }
        if self.kpis.short_abandon_s > 600 {
            return Err(invalid("kpis.short_abandon_s", "at most 600 seconds"));
        }
        if self
            .kpis
            .service_level_s
            .is_some_and(|s| !(1..=3600).contains(&s))
        {
            return Err(invalid("kpis.service_level_s", "1 to 3600 seconds"));
        }
        if self
            .kpis
            .callback_overdue_s
            .is_some_and(|s| !(60..=7 * 86_400).contains(&s))
        {
            return Err(invalid("kpis.callback_overdue_s", "60 seconds to 7 days"));
        }
        if self.kpis.queue_placement_s > 600 {
            return Err(invalid("kpis.queue_placement_s", "at most 600 seconds"));
        }
        for (key, v) in [
            (
                "kpis.trunk_cost_per_minute",
                self.kpis.trunk_cost_per_minute,
            ),
            ("kpis.agent_cost_per_hour", self.kpis.agent_cost_per_hour),
        ] {
            if !(v.is_finite() && (0.0..=1_000_000.0).contains(&v)) {
                return Err(invalid(key, "a number from 0 to 1000000"));
            }
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.short_abandon_s.is_some_and(|s| s > 600) {
                return Err(invalid(
                    format!("queues[{i}].short_abandon_s"),
                    "at most 600 seconds",
                ));
            }
        }
        if !(5..=600).contains(&self.voicemail.max_s) {
            return Err(invalid(
                "voicemail.max_s",
                "a message lasts 5 to 600 seconds",
            ));
        }
        let a = &self.announcements;
        if a.every_s != 0 && !(5..=3600).contains(&a.every_s) {
            return Err(invalid(
                "announcements.every_s",
                "announce every 5 to 3600 seconds (0 = never)",
            ));
        }
        if !(1..=7200).contains(&a.default_handle_s) {
            return Err(invalid(
                "announcements.default_handle_s",
                "a handle time between 1 and 7200 seconds",
            ));
        }
        if self.hotline.media_timeout_s != 0 && !(2..=3600).contains(&self.hotline.media_timeout_s)
        {
            return Err(invalid(
                "hotline.media_timeout_s",
                "2 to 3600 seconds (0 = never end a call for lack of RTP)",
            ));
        }
        if self.hotline.silent_line_s > 600 {
            return Err(invalid(
                "hotline.silent_line_s",
                "a silent line is detected within 600 seconds (0 = off)",
            ));
        }
        if !(self.limits.warning_fraction > 0.0 && self.limits.warning_fraction < 1.0) {
            return Err(invalid(
                "limits.warning_fraction",
                "must be between 0 and 1 (e.g. 0.8)",
            ));
        }
        for (key, v) in [
            ("limits.order_s", self.limits.order_s),
            ("limits.inquiry_s", self.limits.inquiry_s),
            ("limits.callback_s", self.limits.callback_s),
            ("limits.complaint_s", self.limits.complaint_s),
            ("limits.reply_s", self.limits.reply_s),
            ("limits.return_visit_s", self.limits.return_visit_s),
            ("limits.other_s", self.limits.other_s),
        ] {
            if v > 86_400 {
                return Err(invalid(
                    key,
                    "a handle-time limit longer than a day is a typo (0 = no limit)",
                ));
            }
        }
        if self.sip.realm.trim().is_empty() || self.sip.realm.contains('"') {
            return Err(invalid(
                "sip.realm",
                "must be a non-empty name without quotes",
            ));
        }
        parse_algorithms("sip.algorithms", &self.sip.algorithms)?;
        if self.sip.min_expires_s == 0 || self.sip.min_expires_s > self.sip.max_expires_s {
            return Err(invalid(
                "sip.min_expires_s",
                "must be at least 1 and not above sip.max_expires_s",
            ));
        }
        if self.sip.min_se_s == 0 || self.sip.min_se_s > 86_400 {
            return Err(invalid(
                "sip.min_se_s",
                "must be 1 to 86400 seconds (RFC 4028: at least 90 outside tests)",
            ));
        }
        if self.sip.session_expires_s != 0
            && !(self.sip.min_se_s..=86_400).contains(&self.sip.session_expires_s)
        {
            return Err(invalid(
                "sip.session_expires_s",
                "must be 0 (no session timers) or from sip.min_se_s to 86400 seconds",
            ));
        }
        if self.sip.nonce_ttl_s < 10 {
            return Err(invalid("sip.nonce_ttl_s", "must be at least 10 seconds"));
        }
        if self.sip.tcp_max_per_source == 0
            || self.sip.tcp_max_per_source > self.sip.tcp_max_connections
        {
            return Err(invalid(
                "sip.tcp_max_per_source",
                "must be at least 1 and at most sip.tcp_max_connections",
            ));
        }
        if self.sip.tcp_max_connections > 100_000 {
            return Err(invalid("sip.tcp_max_connections", "must be at most 100000"));
        }
        if !(1..=300).contains(&self.sip.tcp_header_timeout_s) {
            return Err(invalid(
                "sip.tcp_header_timeout_s",
                "must be 1 to 300 seconds",
            ));
        }
        tls::validate(&self.sip)?;
        srtp::validate(self)?;
        self.validate_cluster()?;
        self.validate_recordings_store()?;
        if self.sip.max_contacts_per_agent == 0 {
            return Err(invalid("sip.max_contacts_per_agent", "must be at least 1"));
        }
        if self.hotline.numbers.is_empty() {
            return Err(invalid(
                "hotline.numbers",
                "at least one number must reach the hotline",
            ));
        }
        for n in &self.hotline.numbers {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(c))
            {
                return Err(invalid(
                    "hotline.numbers",
                    format!("`{n}` is not a valid SIP user part"),
                ));
            }
        }
        if self.hotline.queue.trim().is_empty() {
            return Err(invalid("hotline.queue", "must not be empty"));
        }
        let cadence = self.cadence();
        cadence.validate().map_err(|e| {
            let key = if cadence.on_ms < 100 || cadence.on_ms > 10_000 {
                "ring.on_ms"
            } else {
                "ring.off_ms"
            };
            invalid(key, e.to_string())
        })?;
        if !(1..=10).contains(&self.ring.answer_after_rings) {
            return Err(invalid(
                "ring.answer_after_rings",
                "must be between 1 and 10 (the hotline promise is 3)",
            ));
        }
        if self.acd.ring_timeout_ms != 0 && self.acd.ring_timeout_ms < 1000 {
            return Err(invalid(
                "acd.ring_timeout_ms",
                "must be 0 (three ring periods) or at least 1000 ms",
            ));
        }
        if self.media.port_min < 1024 || !self.media.port_min.is_multiple_of(2) {
            return Err(invalid(
                "media.port_min",
                "must be an even port number of at least 1024",
            ));
        }
        if self.media.port_max <= self.media.port_min + 2 {
            return Err(invalid(
                "media.port_max",
                "must be above media.port_min with room for at least two calls",
            ));
        }
        if self.media.ip.is_unspecified() {
            return Err(invalid(
                "media.ip",
                "must be an address phones can reach, not 0.0.0.0",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.agents.iter().enumerate() {
            let key = format!("agents[{i}]");
            if a.id.is_empty()
                || a.id.len() > 32
                || !a
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("`{}` must be 1-32 letters, digits, '-', '_' or '.'", a.id),
                ));
            }
            if !seen.insert(a.id.clone()) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("agent `{}` is defined twice", a.id),
                ));
            }
            if self.hotline.numbers.contains(&a.id) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("`{}` is also a hotline number", a.id),
                ));
            }
            if a.password.len() < 4 {
                return Err(invalid(
                    format!("{key}.password"),
                    "must be at least 4 characters",
                ));
            }
            if let Some(algs) = &a.algorithms {
                parse_algorithms(&format!("{key}.algorithms"), algs)?;
            }
        }
        self.validate_agent_numbers()?;
        self.validate_schedule()?;
        self.validate_monitor()?;
        self.validate_routing()
    }

    /// Agents still using a demo password (`demo...`): refused on a
    /// non-loopback SIP address.
    pub fn demo_password_agents(&self) -> Vec<String> {
        self.agents
            .iter()
            .filter(|a| a.password.starts_with("demo"))
            .map(|a| a.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid() {
        let cfg = Config::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../..",
            "/config/hotline.toml"
        )))
        .unwrap();
        assert_eq!(
            cfg.cadence().end_of_ring_ms(cfg.ring.answer_after_rings),
            11_000
        );
        assert!(cfg.hotline.numbers.contains(&"hotline".to_string()));
        assert_eq!(cfg.agents.len(), 4);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[ring]\non_ms = 0", "ring.on_ms"),
            ("[ring]\noff_ms = 99999", "ring.off_ms"),
            ("[media]\nport_min = 20001", "media.port_min"),
            ("[sip]\nalgorithms = [\"SHA-1\"]", "sip.algorithms"),
            ("[sip]\ntcp_max_per_source = 0", "sip.tcp_max_per_source"),
            ("[http]\nmax_connections_per_source = 0", "http.max_connections_per_source"),
            ("[http]\nmax_connections = 200000", "http.max_connections"),
            ("[http]\nheader_timeout_s = 301", "http.header_timeout_s"),
            ("[http]\nheader_timeout_s = \"10s\"", "header_timeout_s"),
            ("[sip]\ntcp_max_per_source = 2000", "sip.tcp_max_per_source"),
            ("[sip]\ntcp_max_connections = 1000000", "sip.tcp_max_connections"),
            ("[sip]\ntcp_max_connections = -1", "tcp_max_connections"),
            ("[sip]\ntcp_header_timeout_s = 0", "sip.tcp_header_timeout_s"),
            ("[sip]\ntcp_header_timeout_s = 99999999999", "tcp_header_timeout_s"),
            ("[[agents]]\nid = \"1001\"\npassword = \"x\"", "agents[0].password"),
            ("[[agents]]\nid = \"a b\"\npassword = \"xxxx\"", "agents[0].id"),
            ("[[agents]]\nid = \"1\"\npassword = \"xxxx\"\n[[agents]]\nid = \"1\"\npassword = \"yyyy\"", "agents[1].id"),
            ("[[agents]]\nid = \"1001\"\npassword = \"xxxx\"\nnat = \"yes\"", "nat"),
            ("[hotline]\nnumbers = []", "hotline.numbers"),
            ("[sip]\nlisten = \"nonsense\"", "listen"),
            ("[sip]\nlisen = \"127.0.0.1:5060\"", "lisen"),
            ("[ring]\non_ms = \"long\"", "on_ms"),
            ("not toml at all [", "line 1"),
            ("[announcements]\nevery_s = 2", "announcements.every_s"),
            ("[announcements]\ndefault_handle_s = 0", "announcements.default_handle_s"),
            ("[hotline]\nsilent_line_s = 100000", "hotline.silent_line_s"),
            ("[hotline]\nmedia_timeout_s = 1", "hotline.media_timeout_s"),
            ("[sip]\nmin_se_s = 0", "sip.min_se_s"),
            ("[sip]\nmin_se_s = 86401", "sip.min_se_s"),
            ("[sip]\nsession_expires_s = 60", "sip.session_expires_s"),
            ("[sip]\nsession_expires_s = 86401", "sip.session_expires_s"),
            ("[sip]\nmin_se_s = 2\nsession_expires_s = 1", "sip.session_expires_s"),
            ("[sip]\nsession_expires_s = -1", "session_expires_s"),
            ("[sip]\nsession_expires_s = \"1800\"", "session_expires_s"),
            ("[sip]\nmin_se_s = 99999999999", "min_se_s"),
            ("[schedule]\ntimezone = \"CET+1\"", "schedule.timezone"),
            ("[kpis]\nservice_level_s = 0", "kpis.service_level_s"),
            ("[schedule]\nclosed_action = \"hangup\"", "closed_action"),
            ("[kpis]\ncallback_overdue_s = 5", "kpis.callback_overdue_s"),
            ("[kpis]\ncallback_overdue_s = -5", "callback_overdue_s"),
            ("[kpis]\nservice_level_s = 99999", "kpis.service_level_s"),
            ("[kpis]\nservice_level_s = \"eleven\"", "service_level_s"),
            ("[kpis]\nqueue_placement_s = 601", "kpis.queue_placement_s"),
            ("[kpis]\ntrunk_cost_per_minute = -0.1", "kpis.trunk_cost_per_minute"),
            ("[kpis]\ntrunk_cost_per_minute = nan", "kpis.trunk_cost_per_minute"),
            ("[kpis]\nagent_cost_per_hour = inf", "kpis.agent_cost_per_hour"),
            ("[kpis]\nagent_cost_per_hour = 1e300", "kpis.agent_cost_per_hour"),
            ("[kpis]\nagent_cost_per_hour = \"30 yuan\"", "agent_cost_per_hour"),
            ("[kpis]\ncost_per_call = 3", "cost_per_call"),
            ("[[quality_forms]]\nid = \"a b\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 1 }]", "quality_forms[0]"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = []", "quality_forms[0]"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 0 }]", "weight"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = -3 }]", "weight"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 1, points = 2 }]", "points"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 1 }, { id = \"c\", label = \"d\", weight = 1 }]", "twice"),
            ("[[quality_forms]]\nid = \"f\"\nname = \"x\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 1 }]\n[[quality_forms]]\nid = \"f\"\nname = \"y\"\ncriteria = [{ id = \"c\", label = \"c\", weight = 1 }]", "quality_forms[1].id"),
            ("[acd]\ntransfer_queue = \"nowhere\"", "acd.transfer_queue"),
            ("[kpis]\nshort_abandon_s = 9999", "kpis.short_abandon_s"),
            ("[[queues]]\nid = \"general\"\nshort_abandon_s = 9999", "queues[0].short_abandon_s"),
            ("[callback]\nenabled = true\nkey = \"12\"", "callback.key"),
            ("[callback]\nenabled = true\ndial = \"tel:{number}\"", "callback.dial"),
            ("[callback]\nenabled = true\ndial = \"sip:x@127.0.0.1\"", "callback.dial"),
            ("[callback]\nenabled = true\ndial = \"sip:{number}@gw.example.com\"", "callback.dial"),
            ("[callback]\nenabled = true\nattempts = 0", "callback.attempts"),
            ("[callback]\nenabled = true\ndeadline_h = 1000", "callback.deadline_h"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "`{text}` gave `{err}`, expected it to name {key}"
            );
        }
    }

    #[test]
    fn hostile_files_give_errors_not_panics() {
        for text in [
            "\u{0}\u{1}",
            &"[".repeat(10_000),
            &format!("[sip]\nrealm = \"{}\"", "x\"".repeat(10)),
        ] {
            assert!(Config::parse(text).is_err());
        }
        assert!(matches!(
            Config::load(Path::new("/nonexistent/hotline.toml")),
            Err(ConfigError::Read { .. })
        ));
    }

    /// The keys serde expects in the table opened by `header` (a stray key
    /// makes `deny_unknown_fields` list them).
    fn expected_keys(header: &str) -> Vec<String> {
        let err = match Config::parse(&format!("{header}\nzzz_not_a_key = 1\n")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{header}: a stray key was accepted"),
        };
        let Some(tail) = err.split("zzz_not_a_key`, expected").nth(1) else {
            panic!("{header}: {err}");
        };
        tail.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_config_key_is_documented() {
        let docs = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../..",
            "/docs/configuration.md"
        ))
        .expect("docs/configuration.md");
        let mut tables: Vec<(String, String)> = Vec::new();
        for section in expected_keys("") {
            let table = format!("[{section}]");
            let header = match Config::parse(&format!("{table}\nzzz_not_a_key = 1\n")) {
                Err(e) if e.to_string().contains("zzz_not_a_key") => table,
                _ => format!("[[{section}]]"),
            };
            tables.push((section, header));
        }
        assert!(tables.len() >= 20, "{tables:?}");
        // tables inside tables
        tables.push(("schedule.greetings".into(), "[[schedule.greetings]]".into()));
        tables.push(("ivr.options".into(), "[[ivr.options]]".into()));
        tables.push(("sip.tls".into(), "[sip.tls]".into()));
        tables.push(("notify.email".into(), "[[notify.email]]".into()));
        tables.push(("notify.webhook".into(), "[[notify.webhook]]".into()));
        tables.push(("sip.lockout".into(), "[sip.lockout]".into()));
        let mut checked = 0;
        for (name, header) in &tables {
            // its heading, or (a table inside a table) a paragraph opening with it
            let quoted = format!("`{header}`");
            let heading = docs.match_indices("\n## ").map(|(i, _)| i + 1).find(|i| {
                docs[*i..]
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains(&quoted))
            });
            let Some(at) = heading.or_else(|| docs.find(&format!("\n{quoted}"))) else {
                panic!("docs/configuration.md has no section {quoted}");
            };
            let text = docs[at + 1..].split("\n## ").next().unwrap_or_default();
            let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
            for key in expected_keys(header) {
                let documented = rows.iter().any(|r| {
                    r.split('|')
                        .nth(1)
                        .is_some_and(|first| first.contains(&format!("`{key}`")))
                });
                assert!(
                    documented,
                    "{name}.{key} is not in the key table of `{header}` in docs/configuration.md"
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} keys");
    }
}
