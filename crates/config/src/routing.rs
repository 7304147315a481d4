//! The routing part of the configuration: `[[queues]]`, `[[blacklist]]`,
//! `[ivr]`, VIP numbers and agent skills, checked against each other (an
//! unknown queue or agent anywhere refuses the start, naming the key) and
//! turned into the engine's settings.

use crate::config::{invalid, Config, ConfigError};
use hotline_acd::{QueueConfig, SkillNeed, Strategy};
use hotline_core::{AgentId, CallType, QueueId};
use hotline_engine::control::FeatureCodes;
use hotline_engine::routing::{BlacklistAction, BlacklistEntry, IvrMenu, IvrOption, NumberPattern};
use hotline_engine::schedule::OpenHours;
use hotline_media::prompt::Prompt;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// One queue, every setting typed and with its defaults: what the ACD, the
/// call flow, the calendar, the KPIs and retention need of it.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Its name.
    pub id: QueueId,
    /// The ACD's settings (strategy, members, waits, skills, wrap-up).
    pub acd: QueueConfig,
    /// Where its callers overflow (a queue or `voicemail`).
    pub overflow: Option<QueueId>,
    /// Its own agent ring timeout, ms (else `acd.ring_timeout_ms`).
    pub ring_timeout_ms: Option<i64>,
    /// Open hours in `schedule.timezone` (None = around the clock).
    pub open: Option<OpenHours>,
    /// Its own short-abandon threshold, ms (else `kpis.short_abandon_s`).
    pub short_abandon_ms: Option<i64>,
    /// Its own retention, days (else `retention.days`; 0 = no age limit).
    pub retention_days: Option<u32>,
}

/// `[[queues]]`: one queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// Queue name (letters, digits, `-`, `_`).
    pub id: String,
    /// How agents are picked: `longest_idle`, `round_robin`, `fewest_calls`,
    /// `least_talk_time`, `linear` or `ring_all`.
    #[serde(default, deserialize_with = "crate::config::from_str")]
    pub strategy: Strategy,
    /// Agent ids serving the queue, in order; empty = every agent.
    #[serde(default)]
    pub members: Vec<String>,
    /// After-call work for this queue's calls, seconds (default `acd.wrap_up_ms`).
    #[serde(default)]
    pub wrap_up_s: Option<u32>,
    /// A caller waiting this long overflows to `overflow` (0 = never).
    #[serde(default)]
    pub max_wait_s: u32,
    /// More waiting callers than this are refused (busy) or overflow (0 = no limit).
    #[serde(default)]
    pub max_len: u32,
    /// Pauses and logouts may not leave fewer staffed members than this.
    #[serde(default)]
    pub min_staffed: u32,
    /// Skills every call of the queue needs: name → minimum proficiency (1–100).
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Skills preferred but not required: name → proficiency (1–100); agents
    /// who have them are offered the call first.
    #[serde(default)]
    pub preferred_skills: BTreeMap<String, u8>,
    /// After this wait any proficiency of those skills will do (0 = never widen).
    #[serde(default)]
    pub widen_after_s: u32,
    /// Queue taking this queue's calls at max wait or when nobody is staffed.
    #[serde(default)]
    pub overflow: Option<String>,
    /// How long an agent's phone rings for this queue's calls, seconds
    /// (default `acd.ring_timeout_ms`: three rings of the cadence).
    #[serde(default)]
    pub ring_timeout_s: Option<u32>,
    /// Days this queue's recordings are kept (default `retention.days`; 0 =
    /// no age limit).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// This queue's short-abandon threshold, seconds (default
    /// `kpis.short_abandon_s`).
    #[serde(default)]
    pub short_abandon_s: Option<u32>,
    /// Open hours (`["mon-fri 08:00-20:00", "sat 09:00-13:00"]`, in
    /// `schedule.timezone`); empty = open around the clock.
    #[serde(default)]
    pub open: Vec<String>,
}

/// `[[blacklist]]`: a malicious number or prefix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlacklistSection {
    /// `+8613800000000`, or a prefix `+86138*`.
    pub number: String,
    /// Why (shown to supervisors and written in the event).
    pub reason: String,
    /// Route these callers to this queue instead of refusing them.
    #[serde(default)]
    pub queue: Option<String>,
}

/// `[ivr]`: the menu after the greeting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IvrSection {
    /// Play the menu at all.
    pub enabled: bool,
    /// The menu prompt ("for orders press 1, ...").
    pub prompt: PathBuf,
    /// Seconds to wait for a key after the menu ends.
    pub timeout_s: u32,
    /// How many times the menu plays before the default is taken.
    pub tries: u32,
    /// The keys.
    pub options: Vec<IvrOptionSection>,
}

impl Default for IvrSection {
    fn default() -> Self {
        IvrSection {
            enabled: false,
            prompt: PathBuf::from("config/prompts/menu.wav"),
            timeout_s: 5,
            tries: 2,
            options: Vec::new(),
        }
    }
}

/// `[agent_codes]`: feature codes agents dial from their phone. Every code
/// starts with `*`; INVITEs to `*...` must authenticate as the agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentCodesSection {
    /// Log in to the queues.
    pub login: String,
    /// Log out of the queues (the phone stays registered).
    pub logout: String,
    /// Pause; a reason key may follow (`*631`).
    pub pause: String,
    /// End the pause.
    pub unpause: String,
    /// Reason keys after the pause code: key → reason.
    pub pause_reasons: BTreeMap<String, String>,
    /// The reason of a pause dialled without a key.
    pub default_pause_reason: String,
}

impl Default for AgentCodesSection {
    fn default() -> Self {
        let d = FeatureCodes::default();
        AgentCodesSection {
            login: d.login,
            logout: d.logout,
            pause: d.pause,
            unpause: d.unpause,
            pause_reasons: d.pause_reasons,
            default_pause_reason: d.default_pause_reason,
        }
    }
}

/// `[[ivr.options]]`: one key of the menu.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrOptionSection {
    /// The key: `0`–`9`, `*` or `#`.
    pub digit: String,
    /// A call type name (default inquiry).
    #[serde(default)]
    pub call_type: Option<String>,
    /// The queue (default `hotline.queue`).
    #[serde(default)]
    pub queue: Option<String>,
    /// A language skill the caller needs (`mandarin`, `cantonese`, ...).
    #[serde(default)]
    pub language: Option<String>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check_skills(key: &str, skills: &BTreeMap<String, u8>) -> Result<(), ConfigError> {
    for (name, level) in skills {
        if !valid_name(name) {
            return Err(invalid(key, format!("`{name}` is not a valid skill name")));
        }
        if !(1..=100).contains(level) {
            return Err(invalid(
                format!("{key}.{name}"),
                format!("proficiency must be 1–100, got {level}"),
            ));
        }
    }
    Ok(())
}

fn parse_call_type(key: &str, name: Option<&str>) -> Result<CallType, ConfigError> {
    match name {
        None => Ok(CallType::default()),
        Some(n) => n
            .parse()
            .map_err(|e: hotline_core::UnknownCallType| invalid(key, e.to_string())),
    }
}

impl Config {
    /// The names of every queue: `[[queues]]` and `hotline.queue`.
    fn queue_names(&self) -> BTreeSet<&str> {
        let mut q: BTreeSet<&str> = self.queues.iter().map(|q| q.id.as_str()).collect();
        q.insert(self.hotline.queue.as_str());
        q
    }

    /// Checks queues, blacklist, IVR, VIP numbers and skills against each other.
    pub fn validate_routing(&self) -> Result<(), ConfigError> {
        let agents: BTreeSet<&str> = self.agents.iter().map(|a| a.id.as_str()).collect();
        for (i, a) in self.agents.iter().enumerate() {
            check_skills(&format!("agents[{i}].skills"), &a.skills)?;
        }
        let mut ids = BTreeSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let key = format!("queues[{i}]");
            if !valid_name(&q.id) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("`{}` must be 1-64 letters, digits, '-', '_' or '.'", q.id),
                ));
            }
            if q.id == hotline_engine::VOICEMAIL {
                return Err(invalid(
                    format!("{key}.id"),
                    "`voicemail` is reserved (overflow = \"voicemail\" sends callers to voicemail)",
                ));
            }
            if !ids.insert(q.id.as_str()) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("queue `{}` is defined twice", q.id),
                ));
            }
        }
        if !self.queues.is_empty() && !ids.contains(self.hotline.queue.as_str()) {
            return Err(invalid(
                "hotline.queue",
                format!("unknown queue `{}` (not in [[queues]])", self.hotline.queue),
            ));
        }
        let queues = self.queue_names();
        let known_queue = |key: String, q: &str| -> Result<(), ConfigError> {
            if queues.contains(q) {
                Ok(())
            } else {
                Err(invalid(key, format!("unknown queue `{q}`")))
            }
        };
        for (i, q) in self.queues.iter().enumerate() {
            let key = format!("queues[{i}]");
            for m in &q.members {
                if !agents.contains(m.as_str()) {
                    return Err(invalid(
                        format!("{key}.members"),
                        format!("unknown agent `{m}`"),
                    ));
                }
            }
            check_skills(&format!("{key}.skills"), &q.skills)?;
            check_skills(&format!("{key}.preferred_skills"), &q.preferred_skills)?;
            if let Some(o) = q
                .overflow
                .as_ref()
                .filter(|o| *o == hotline_engine::VOICEMAIL)
            {
                if !self.voicemail.enabled {
                    return Err(invalid(
                        format!("{key}.overflow"),
                        format!("`{o}` needs [voicemail] enabled = true"),
                    ));
                }
            } else if let Some(o) = &q.overflow {
                known_queue(format!("{key}.overflow"), o)?;
                if o == &q.id {
                    return Err(invalid(
                        format!("{key}.overflow"),
                        "a queue cannot overflow to itself",
                    ));
                }
            }
            if q.max_wait_s > 0 && q.overflow.is_none() {
                return Err(invalid(
                    format!("{key}.max_wait_s"),
                    "needs an overflow queue (queues.overflow) for the callers who reach it",
                ));
            }
            if q.max_wait_s > 86_400 || q.widen_after_s > 86_400 {
                return Err(invalid(key, "waits longer than a day are a typo"));
            }
            if let Some(r) = q.ring_timeout_s {
                if !(1..=600).contains(&r) {
                    return Err(invalid(
                        format!("{key}.ring_timeout_s"),
                        "an agent's phone rings between 1 and 600 seconds",
                    ));
                }
            }
        }
        if let Some(q) = &self.acd.transfer_queue {
            known_queue("acd.transfer_queue".into(), q)?;
        }
        for (i, v) in self.hotline.vip.iter().enumerate() {
            NumberPattern::parse(v)
                .map_err(|e| invalid(format!("hotline.vip[{i}]"), e.to_string()))?;
        }
        for (i, b) in self.blacklist.iter().enumerate() {
            let key = format!("blacklist[{i}]");
            NumberPattern::parse(&b.number)
                .map_err(|e| invalid(format!("{key}.number"), e.to_string()))?;
            if b.reason.trim().is_empty() {
                return Err(invalid(
                    format!("{key}.reason"),
                    "say why the number is blacklisted",
                ));
            }
            if let Some(q) = &b.queue {
                known_queue(format!("{key}.queue"), q)?;
            }
        }
        let codes = &self.agent_codes;
        let mut seen = BTreeSet::new();
        for (key, code) in [
            ("agent_codes.login", &codes.login),
            ("agent_codes.logout", &codes.logout),
            ("agent_codes.pause", &codes.pause),
            ("agent_codes.unpause", &codes.unpause),
        ] {
            let ok = code.len() >= 2
                && code.len() <= 8
                && code.starts_with('*')
                && code[1..].chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(invalid(key, format!("`{code}` must be * and 1-7 digits")));
            }
            if !seen.insert(code.as_str()) {
                return Err(invalid(key, format!("`{code}` is used twice")));
            }
        }
        for (k, reason) in &codes.pause_reasons {
            if k.is_empty() || k.len() > 2 || !k.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(
                    "agent_codes.pause_reasons",
                    format!("key `{k}` must be 1-2 digits"),
                ));
            }
            if reason.trim().is_empty() || reason.len() > 64 {
                return Err(invalid(
                    format!("agent_codes.pause_reasons.{k}"),
                    "must be a short text",
                ));
            }
            let dialled = format!("{}{k}", codes.pause);
            if seen.contains(dialled.as_str()) {
                return Err(invalid(
                    format!("agent_codes.pause_reasons.{k}"),
                    format!("{dialled} is also another code"),
                ));
            }
        }
        if codes.default_pause_reason.trim().is_empty() {
            return Err(invalid(
                "agent_codes.default_pause_reason",
                "must not be empty",
            ));
        }
        if let Some(n) = self.hotline.numbers.iter().find(|n| n.starts_with('*')) {
            return Err(invalid(
                "hotline.numbers",
                format!("`{n}` starts with * which is reserved for agent feature codes"),
            ));
        }
        let ivr = &self.ivr;
        if ivr.enabled {
            if ivr.options.is_empty() {
                return Err(invalid(
                    "ivr.options",
                    "an enabled menu needs at least one option",
                ));
            }
            if !(1..=5).contains(&ivr.tries) {
                return Err(invalid("ivr.tries", "must be 1–5"));
            }
            if !(1..=60).contains(&ivr.timeout_s) {
                return Err(invalid("ivr.timeout_s", "must be 1–60 seconds"));
            }
        }
        let mut digits = BTreeSet::new();
        for (i, o) in ivr.options.iter().enumerate() {
            let key = format!("ivr.options[{i}]");
            let mut chars = o.digit.chars();
            let ok = match (chars.next(), chars.next()) {
                (Some(c), None) => c.is_ascii_digit() || c == '*' || c == '#',
                _ => false,
            };
            if !ok {
                return Err(invalid(
                    format!("{key}.digit"),
                    format!("`{}` is not one key (0-9, * or #)", o.digit),
                ));
            }
            if !digits.insert(o.digit.as_str()) {
                return Err(invalid(
                    format!("{key}.digit"),
                    format!("key {} is used twice", o.digit),
                ));
            }
            parse_call_type(&format!("{key}.call_type"), o.call_type.as_deref())?;
            if let Some(q) = &o.queue {
                known_queue(format!("{key}.queue"), q)?;
            }
            if let Some(lang) = &o.language {
                if !self.agents.iter().any(|a| a.skills.contains_key(lang)) {
                    return Err(invalid(
                        format!("{key}.language"),
                        format!(
                            "no agent has the skill `{lang}`: these callers would wait forever"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// One [`QueueSettings`] per `[[queues]]` entry, defaults filled in.
    /// Call after the checks.
    pub fn queue_settings(&self) -> Result<Vec<QueueSettings>, ConfigError> {
        let needs = |skills: &BTreeMap<String, u8>| {
            skills
                .iter()
                .map(|(skill, level)| SkillNeed {
                    skill: skill.clone(),
                    min_level: *level,
                })
                .collect()
        };
        self.queues
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let id = QueueId::new(q.id.clone());
                Ok(QueueSettings {
                    acd: QueueConfig {
                        id: id.clone(),
                        strategy: q.strategy,
                        members: q.members.iter().map(|m| AgentId::new(m.clone())).collect(),
                        max_wait_ms: (q.max_wait_s > 0).then(|| i64::from(q.max_wait_s) * 1000),
                        max_len: (q.max_len > 0).then_some(q.max_len as usize),
                        wrap_up_ms: q.wrap_up_s.map(|s| i64::from(s) * 1000),
                        min_staffed: q.min_staffed,
                        skills: needs(&q.skills),
                        widen_after_ms: (q.widen_after_s > 0)
                            .then(|| i64::from(q.widen_after_s) * 1000),
                        preferred: needs(&q.preferred_skills),
                    },
                    overflow: q.overflow.clone().map(QueueId::new),
                    ring_timeout_ms: q.ring_timeout_s.map(|s| i64::from(s) * 1000),
                    open: if q.open.is_empty() {
                        None
                    } else {
                        Some(
                            OpenHours::parse(&q.open)
                                .map_err(|e| invalid(format!("queues[{i}].open"), e.to_string()))?,
                        )
                    },
                    short_abandon_ms: q.short_abandon_s.map(|s| i64::from(s) * 1000),
                    retention_days: q.retention_days,
                    id,
                })
            })
            .collect()
    }

    /// How the KPIs count: thresholds from `[kpis]` and the queues, and the
    /// ring the engine answers at (`ring.answer_after_rings`) as the target
    /// of the "within N rings" figures.
    pub fn kpi_config(&self, queues: &[QueueSettings]) -> hotline_metrics::kpi::KpiConfig {
        hotline_metrics::kpi::KpiConfig {
            short_abandon_ms: i64::from(self.kpis.short_abandon_s) * 1000,
            short_abandon_ms_by_queue: queues
                .iter()
                .filter_map(|q| Some((q.id.clone(), q.short_abandon_ms?)))
                .collect(),
            service_level_ms: match self.kpis.service_level_s {
                Some(s) => i64::from(s) * 1000,
                None => self.cadence().end_of_ring_ms(self.ring.answer_after_rings),
            },
            callback_overdue_ms: match self.kpis.callback_overdue_s {
                Some(s) => i64::from(s) * 1000,
                None => i64::from(self.callback.deadline_h) * 3_600_000,
            },
            rings: self.ring.answer_after_rings,
            queue_placement_ms: i64::from(self.kpis.queue_placement_s) * 1000,
            limits_ms: self
                .limits
                .by_type()
                .into_iter()
                .map(|(t, ms)| (t.as_str().to_string(), ms))
                .collect(),
            cost: hotline_metrics::kpi::CostModel {
                trunk_per_minute: self.kpis.trunk_cost_per_minute,
                agent_per_hour: self.kpis.agent_cost_per_hour,
            },
        }
    }

    /// The agents' feature codes.
    pub fn feature_codes(&self) -> FeatureCodes {
        let c = &self.agent_codes;
        FeatureCodes {
            login: c.login.clone(),
            logout: c.logout.clone(),
            pause: c.pause.clone(),
            unpause: c.unpause.clone(),
            pause_reasons: c.pause_reasons.clone(),
            default_pause_reason: c.default_pause_reason.clone(),
        }
    }

    /// Agents' skills.
    pub fn agent_skills(&self) -> HashMap<AgentId, BTreeMap<String, u8>> {
        self.agents
            .iter()
            .filter(|a| !a.skills.is_empty())
            .map(|a| (AgentId::new(a.id.clone()), a.skills.clone()))
            .collect()
    }

    /// VIP patterns (validated).
    pub fn vip_patterns(&self) -> Vec<NumberPattern> {
        self.hotline
            .vip
            .iter()
            .filter_map(|v| NumberPattern::parse(v).ok())
            .collect()
    }

    /// Blacklist entries (validated).
    pub fn blacklist_entries(&self) -> Vec<BlacklistEntry> {
        self.blacklist
            .iter()
            .filter_map(|b| {
                Some(BlacklistEntry {
                    pattern: NumberPattern::parse(&b.number).ok()?,
                    action: match &b.queue {
                        Some(q) => BlacklistAction::Queue(QueueId::new(q.clone())),
                        None => BlacklistAction::Reject,
                    },
                    reason: b.reason.clone(),
                })
            })
            .collect()
    }

    /// The IVR menu with its prompt, if enabled.
    pub fn ivr_menu(&self, prompt: Prompt) -> Result<Option<IvrMenu>, ConfigError> {
        if !self.ivr.enabled {
            return Ok(None);
        }
        let default_queue = QueueId::new(self.hotline.queue.clone());
        let mut options = BTreeMap::new();
        for (i, o) in self.ivr.options.iter().enumerate() {
            let key = format!("ivr.options[{i}]");
            let Some(digit) = o.digit.chars().next() else {
                return Err(invalid(format!("{key}.digit"), "empty"));
            };
            options.insert(
                digit,
                IvrOption {
                    call_type: parse_call_type(
                        &format!("{key}.call_type"),
                        o.call_type.as_deref(),
                    )?,
                    queue: o
                        .queue
                        .clone()
                        .map(QueueId::new)
                        .unwrap_or_else(|| default_queue.clone()),
                    language: o.language.clone(),
                },
            );
        }
        Ok(Some(IvrMenu {
            prompt,
            timeout_ms: i64::from(self.ivr.timeout_s) * 1000,
            tries: self.ivr.tries,
            options,
            default: IvrOption {
                call_type: CallType::default(),
                queue: default_queue,
                language: None,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const AGENTS: &str = r#"
[[agents]]
id = "1001"
password = "secret1"
skills = { mandarin = 90, cantonese = 40 }

[[agents]]
id = "1002"
password = "secret2"
"#;

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("{AGENTS}\n{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_routing_config_is_accepted_and_converted() {
        let cfg = parse(
            r#"
[[queues]]
id = "general"
strategy = "round_robin"
max_wait_s = 120
overflow = "mandarin"
max_len = 50
min_staffed = 1

[[queues]]
id = "mandarin"
members = ["1001"]
skills = { mandarin = 50 }
widen_after_s = 30
wrap_up_s = 10

[[blacklist]]
number = "+86139*"
reason = "abuse"
queue = "mandarin"

[[blacklist]]
number = "+8613800000000"
reason = "extortion"

[ivr]
enabled = true
prompt = "menu.wav"

[[ivr.options]]
digit = "1"
call_type = "order"

[[ivr.options]]
digit = "9"
queue = "mandarin"
language = "mandarin"
"#,
        )
        .unwrap();
        let queues = cfg.queue_settings().unwrap();
        assert_eq!(queues.len(), 2);
        assert_eq!(queues[0].acd.strategy, hotline_acd::Strategy::RoundRobin);
        assert_eq!(queues[0].acd.max_wait_ms, Some(120_000));
        assert_eq!(queues[0].acd.max_len, Some(50));
        assert_eq!(queues[1].acd.skills[0].min_level, 50);
        assert_eq!(queues[1].acd.widen_after_ms, Some(30_000));
        assert_eq!(queues[1].acd.wrap_up_ms, Some(10_000));
        assert_eq!(
            queues[0].overflow.as_ref().map(|q| q.as_str()),
            Some("mandarin")
        );
        assert!(queues[1].overflow.is_none());
        assert_eq!(cfg.agent_skills().len(), 1);
        let bl = cfg.blacklist_entries();
        assert_eq!(bl.len(), 2);
        assert_eq!(bl[0].action.to_string(), "queue:mandarin");
        assert_eq!(bl[1].action.to_string(), "reject");
        let menu = cfg
            .ivr_menu(hotline_media::prompt::Prompt::tone("menu", 400.0, 100, 100))
            .unwrap()
            .unwrap();
        assert_eq!(menu.options.len(), 2);
        assert_eq!(menu.options[&'1'].call_type, hotline_core::CallType::Order);
        assert_eq!(menu.options[&'1'].queue.as_str(), "general");
        assert_eq!(menu.options[&'9'].language.as_deref(), Some("mandarin"));
        assert_eq!(menu.default.queue.as_str(), "general");
    }

    #[test]
    fn routing_errors_name_the_key() {
        let cases = [
            ("[[queues]]\nid = \"sales\"", "hotline.queue"),
            (
                "[[queues]]\nid = \"general\"\nmembers = [\"9999\"]",
                "queues[0].members",
            ),
            (
                "[[queues]]\nid = \"general\"\n[[queues]]\nid = \"general\"",
                "queues[1].id",
            ),
            ("[[queues]]\nid = \"a b\"", "queues[0].id"),
            (
                "[[queues]]\nid = \"general\"\noverflow = \"nowhere\"",
                "queues[0].overflow",
            ),
            (
                "[[queues]]\nid = \"general\"\noverflow = \"general\"",
                "queues[0].overflow",
            ),
            (
                "[[queues]]\nid = \"general\"\nmax_wait_s = 30",
                "queues[0].max_wait_s",
            ),
            (
                "[[queues]]\nid = \"general\"\nstrategy = \"ring_everyone\"",
                "strategy",
            ),
            (
                "[[queues]]\nid = \"general\"\nring_timeout_s = 0",
                "queues[0].ring_timeout_s",
            ),
            (
                "[[queues]]\nid = \"general\"\nskills = { x = 0 }",
                "queues[0].skills.x",
            ),
            (
                "[[agents]]\nid = \"1003\"\npassword = \"xxxx\"\nskills = { x = 101 }",
                "agents[2].skills.x",
            ),
            (
                "[[blacklist]]\nnumber = \"evil\"\nreason = \"r\"",
                "blacklist[0].number",
            ),
            (
                "[[blacklist]]\nnumber = \"123\"\nreason = \" \"",
                "blacklist[0].reason",
            ),
            (
                "[[blacklist]]\nnumber = \"123\"\nreason = \"r\"\nqueue = \"x\"",
                "blacklist[0].queue",
            ),
            ("[hotline]\nvip = [\"abc\"]", "hotline.vip[0]"),
            ("[ivr]\nenabled = true", "ivr.options"),
            (
                "[ivr]\nenabled = true\ntries = 0\n[[ivr.options]]\ndigit = \"1\"",
                "ivr.tries",
            ),
            (
                "[ivr]\nenabled = true\ntimeout_s = 0\n[[ivr.options]]\ndigit = \"1\"",
                "ivr.timeout_s",
            ),
            ("[[ivr.options]]\ndigit = \"12\"", "ivr.options[0].digit"),
            ("[[ivr.options]]\ndigit = \"x\"", "ivr.options[0].digit"),
            (
                "[[ivr.options]]\ndigit = \"1\"\n[[ivr.options]]\ndigit = \"1\"",
                "ivr.options[1].digit",
            ),
            (
                "[[ivr.options]]\ndigit = \"1\"\ncall_type = \"sales\"",
                "ivr.options[0].call_type",
            ),
            (
                "[[ivr.options]]\ndigit = \"1\"\nqueue = \"x\"",
                "ivr.options[0].queue",
            ),
            (
                "[[ivr.options]]\ndigit = \"1\"\nlanguage = \"klingon\"",
                "ivr.options[0].language",
            ),
            ("[agent_codes]\nlogin = \"61\"", "agent_codes.login"),
            ("[agent_codes]\npause = \"*61\"", "agent_codes.pause"),
            ("[agent_codes]\nunpause = \"*6a\"", "agent_codes.unpause"),
            (
                "[agent_codes]\npause_reasons = { x = \"meal\" }",
                "agent_codes.pause_reasons",
            ),
            (
                "[agent_codes]\npause = \"*6\"\npause_reasons = { 1 = \"meal\" }",
                "agent_codes.pause_reasons.1",
            ),
            ("[hotline]\nnumbers = [\"*99\"]", "hotline.numbers"),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(key), "`{text}` gave `{err}`, expected {key}");
        }
    }
}
