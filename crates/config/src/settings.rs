//! Settings: the checked config file turned into typed values, with every
//! file it names loaded (prompts, the IVR menu, greetings of the day,
//! announcement words, callback and voicemail prompts, the TLS key pair).
//!
//! One way: raw TOML sections ([`Config`], checked with the key named) →
//! [`Center`] (what needs no file: calendar, shifts, KPI settings) →
//! [`Settings::build`] (everything `serve` needs). `hotline check-config` is
//! `Settings::build` and exit, so it refuses exactly what `serve` refuses.

use crate::config::routing::QueueSettings;
use crate::config::Config;
use anyhow::{Context, Result};
use hotline_core::{AgentId, Calendar, QueueId, Shift};
use hotline_engine::{EngineConfig, Prompts};
use hotline_media::prompt::Prompt;
use hotline_media::MediaConfig;
use hotline_metrics::kpi::KpiConfig;
use hotline_sip::{AgentAccount, SipConfig};
use std::path::{Path, PathBuf};

/// What every command needs and no file on disk: the center's calendar,
/// its shifts and how the KPIs count.
#[derive(Debug, Clone)]
pub struct Center {
    /// The center's time zone (`schedule.timezone`): today, shifts, report days.
    pub calendar: Calendar,
    /// `[[shifts]]`, in the center's zone.
    pub shifts: Vec<Shift>,
    /// How the figures count (`[kpis]`, the queues' own thresholds, the
    /// ring the engine answers at).
    pub kpi: KpiConfig,
    /// Every queue with its settings.
    pub queues: Vec<QueueSettings>,
    /// What recordings retention and the storage quota remove.
    pub retention: hotline_recorder::retention::Policy,
}

impl Center {
    /// What the live figures of the HTTP API need.
    pub fn live(&self) -> hotline_api::engine::Center {
        hotline_api::engine::Center {
            calendar: self.calendar.clone(),
            shifts: self.shifts.clone(),
            kpi: self.kpi.clone(),
        }
    }

    /// From a checked config.
    pub fn build(cfg: &Config) -> Result<Center> {
        let queues = cfg.queue_settings()?;
        Ok(Center {
            calendar: cfg.calendar()?,
            shifts: crate::config::schedule::shifts(&cfg.shifts)?,
            kpi: cfg.kpi_config(&queues),
            retention: hotline_recorder::retention::Policy {
                days: cfg.retention.days,
                days_by_queue: queues
                    .iter()
                    .filter_map(|q| Some((q.id.as_str().to_string(), q.retention_days?)))
                    .collect(),
                quota_bytes: (cfg.retention.quota_mb > 0.0)
                    .then_some((cfg.retention.quota_mb * 1_048_576.0) as u64),
            },
            queues,
        })
    }
}

/// Everything `serve` needs, built once from the config file.
pub struct Settings {
    /// The file as read (paths, HTTP and console settings).
    pub cfg: Config,
    /// Calendar, shifts, KPI settings.
    pub center: Center,
    /// The engine's settings, with its prompts loaded.
    pub engine: EngineConfig,
    /// The greeting, music and the optional messages.
    pub prompts: Prompts,
    /// SIP listener and digest settings.
    pub sip: SipConfig,
    /// The agents' SIP accounts.
    pub accounts: Vec<AgentAccount>,
    /// RTP ports and workers.
    pub media: MediaConfig,
    /// The HTTPS key pair, when `http.tls_cert` is set.
    pub tls: Option<hotline_api::tls::Tls>,
}

fn wav(key: &str, name: &str, path: &Path) -> Result<Prompt> {
    Prompt::load_wav(name, path).with_context(|| format!("{key}: cannot load {}", path.display()))
}

fn optional_wav(key: &str, name: &str, path: Option<&PathBuf>) -> Result<Option<Prompt>> {
    path.map(|p| wav(key, name, p)).transpose()
}

impl Settings {
    /// Checks the config and loads every file it names; the first problem
    /// is an error naming its key.
    pub fn build(cfg: Config) -> Result<Settings> {
        cfg.validate()?;
        let center = Center::build(&cfg)?;
        let prompts = load_prompts(&cfg)?;
        let engine = engine_config(&cfg, &center.queues)?;
        let (sip, accounts) = sip_config(&cfg)?;
        let workers = if cfg.media.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            cfg.media.workers
        };
        let media = MediaConfig {
            bind_ip: cfg.media.ip,
            port_min: cfg.media.port_min,
            port_max: cfg.media.port_max,
            workers,
        };
        let tls = match (&cfg.http.tls_cert, &cfg.http.tls_key) {
            (Some(cert), Some(key)) if cfg.http.enabled => Some(
                hotline_api::tls::Tls::load(cert, key).context("http.tls_cert, http.tls_key")?,
            ),
            _ => None,
        };
        Ok(Settings {
            cfg,
            center,
            engine,
            prompts,
            sip,
            accounts,
            media,
            tls,
        })
    }
}

fn load_prompts(cfg: &Config) -> Result<Prompts> {
    let p = &cfg.prompts;
    Ok(Prompts {
        greeting: wav("prompts.greeting", "greeting", &p.greeting)?,
        music: wav("prompts.music", "music", &p.music)?,
        blacklisted: optional_wav("prompts.blacklisted", "blacklisted", p.blacklisted.as_ref())?,
        silent_line: optional_wav("prompts.silent_line", "silent_line", p.silent_line.as_ref())?,
        closed: optional_wav("prompts.closed", "closed", p.closed.as_ref())?,
        agent_number: if p.agent_number {
            if p.language != super::PromptLanguage::Zh {
                anyhow::bail!(
                    "prompts.agent_number: the agent's number is said in Mandarin: set prompts.language = \"zh\" (or agent_number = false)"
                );
            }
            let dir = &cfg.announcements.words;
            let words = hotline_engine::zh::ZhWords::load(dir).with_context(|| {
                format!(
                    "prompts.agent_number: the words in announcements.words: {}",
                    dir.display()
                )
            })?;
            for agent in cfg.unannounced_agents() {
                tracing::warn!(
                    agent = %agent,
                    "prompts.agent_number: agent `{agent}` has no work number to say (its id is not digits and [[agents]] number is not set): its answers are not announced"
                );
            }
            Some(hotline_engine::zh::AgentNumbers {
                words,
                numbers: cfg.agent_work_numbers(),
            })
        } else {
            None
        },
        hold_resume: optional_wav("prompts.hold_resume", "hold_resume", p.hold_resume.as_ref())?,
        closing: optional_wav("prompts.closing", "closing", p.closing.as_ref())?,
    })
}

fn load_announcements(cfg: &Config) -> Result<Option<hotline_engine::announce::Announcements>> {
    let a = &cfg.announcements;
    if a.every_s == 0 {
        return Ok(None);
    }
    let words = if a.position || a.expected_wait {
        let ctx = || format!("announcements.words: {}", a.words.display());
        Some(match cfg.prompts.language {
            super::PromptLanguage::Zh => hotline_engine::announce::Words::Mandarin(
                hotline_engine::zh::ZhWords::load(&a.words).with_context(ctx)?,
            ),
            super::PromptLanguage::En => hotline_engine::announce::Words::English(
                hotline_engine::announce::AnnounceWords::load(&a.words).with_context(ctx)?,
            ),
        })
    } else {
        None
    };
    Ok(Some(hotline_engine::announce::Announcements {
        every_ms: i64::from(a.every_s) * 1000,
        position: a.position,
        expected_wait: a.expected_wait,
        default_handle_ms: i64::from(a.default_handle_s) * 1000,
        words,
        message: optional_wav("announcements.message", "still_waiting", a.message.as_ref())?,
    }))
}

fn load_outbound(cfg: &Config) -> Result<Option<hotline_engine::outbound::OutboundConfig>> {
    let o = &cfg.outbound;
    if !o.enabled {
        return Ok(None);
    }
    Ok(Some(hotline_engine::outbound::OutboundConfig {
        prefix: o.prefix.clone(),
        dial: o.dial.clone(),
        gateway: o.gateway()?,
        allowed_prefixes: o.allowed_prefixes.clone(),
        answer_timeout_ms: i64::from(o.answer_timeout_s) * 1000,
        call_type: o.call_type.parse()?,
        permit: Default::default(),
        trunk: o.trunk.clone(),
    }))
}

fn load_callback(cfg: &Config) -> Result<Option<hotline_engine::callback::CallbackConfig>> {
    let c = &cfg.callback;
    if !c.enabled {
        return Ok(None);
    }
    Ok(Some(hotline_engine::callback::CallbackConfig {
        key: c.key.chars().next().unwrap_or('1'),
        offer: optional_wav("callback.offer", "offer", c.offer.as_ref())?,
        confirm: optional_wav("callback.confirm", "confirm", c.confirm.as_ref())?,
        deadline_ms: i64::from(c.deadline_h) * 3_600_000,
        dial: c.dial.clone(),
        gateway: c.gateway()?,
        retry_ms: i64::from(c.retry_s) * 1000,
        attempts: c.attempts,
        answer_timeout_ms: i64::from(c.answer_timeout_s) * 1000,
        trunk: c.trunk.clone(),
        owner_wait_ms: i64::from(c.owner_wait_s) * 1000,
    }))
}

fn load_voicemail(cfg: &Config) -> Result<Option<hotline_engine::Voicemail>> {
    let v = &cfg.voicemail;
    if !v.enabled {
        return Ok(None);
    }
    Ok(Some(hotline_engine::Voicemail {
        prompt: optional_wav("voicemail.prompt", "voicemail", v.prompt.as_ref())?,
        max_ms: i64::from(v.max_s) * 1000,
    }))
}

fn load_period_greetings(cfg: &Config) -> Result<Vec<Prompt>> {
    cfg.schedule
        .greetings
        .iter()
        .enumerate()
        .map(|(i, g)| {
            wav(
                &format!("schedule.greetings[{i}].prompt"),
                &g.name,
                &g.prompt,
            )
        })
        .collect()
}

fn load_ivr(cfg: &Config) -> Result<Option<hotline_engine::routing::IvrMenu>> {
    if !cfg.ivr.enabled {
        return Ok(None);
    }
    let prompt = wav("ivr.prompt", "menu", &cfg.ivr.prompt)?;
    Ok(cfg.ivr_menu(prompt)?)
}

fn sip_config(cfg: &Config) -> Result<(SipConfig, Vec<AgentAccount>)> {
    let mut accounts = Vec::new();
    for (i, a) in cfg.agents.iter().enumerate() {
        let algorithms = match &a.algorithms {
            Some(names) => Some(crate::config::parse_algorithms(
                &format!("agents[{i}].algorithms"),
                names,
            )?),
            None => None,
        };
        accounts.push(AgentAccount {
            id: a.id.clone(),
            password: a.password.clone(),
            algorithms,
            nat: a.nat,
        });
    }
    let s = &cfg.sip;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let tls = crate::config::tls::settings(s, now_ms)?;
    let sip = SipConfig {
        listen: s.listen,
        realm: s.realm.clone(),
        nonce_ttl_ms: i64::from(s.nonce_ttl_s) * 1000,
        min_expires_s: s.min_expires_s,
        max_expires_s: s.max_expires_s,
        default_expires_s: s.max_expires_s.min(600).max(s.min_expires_s),
        max_contacts_per_agent: s.max_contacts_per_agent,
        algorithms: crate::config::parse_algorithms("sip.algorithms", &s.algorithms)?,
        rate_limit_per_source: s.rate_limit_per_source,
        tcp: hotline_sip::TcpLimits {
            max_per_source: s.tcp_max_per_source,
            max_total: s.tcp_max_connections,
            header_timeout: std::time::Duration::from_secs(u64::from(s.tcp_header_timeout_s)),
            // a registered phone refreshes within max_expires_s
            idle_timeout: std::time::Duration::from_secs(u64::from(s.max_expires_s) + 60),
        },
        session_timers: hotline_sip::SessionTimerConfig {
            session_expires_s: s.session_expires_s,
            min_se_s: s.min_se_s,
        },
        feature_prefix: "*".into(),
        dial_prefix: if cfg.outbound.enabled {
            cfg.outbound.prefix.clone()
        } else {
            String::new()
        },
        tls: tls.as_ref().map(|(t, _)| t.clone()),
        tls_reload_check: tls.map_or(std::time::Duration::from_secs(5), |(_, every)| every),
    };
    Ok((sip, accounts))
}

fn engine_config(cfg: &Config, queues: &[QueueSettings]) -> Result<EngineConfig> {
    Ok(EngineConfig {
        numbers: cfg.hotline.numbers.clone(),
        queue: QueueId::new(cfg.hotline.queue.clone()),
        queues: queues.iter().map(|q| q.acd.clone()).collect(),
        overflow: queues
            .iter()
            .filter_map(|q| Some((q.id.clone(), q.overflow.clone()?)))
            .collect(),
        agent_skills: cfg.agent_skills(),
        vip: cfg.vip_patterns(),
        blacklist: hotline_engine::routing::Blacklist::new(cfg.blacklist_entries()),
        ivr: load_ivr(cfg)?,
        agents: cfg
            .agents
            .iter()
            .map(|a| AgentId::new(a.id.clone()))
            .collect(),
        feature_codes: cfg.feature_codes(),
        cadence: cfg.cadence(),
        answer_after_rings: cfg.ring.answer_after_rings,
        agent_ring_timeout_ms: cfg.agent_ring_timeout_ms(),
        schedule: cfg.schedule(load_period_greetings(cfg)?, queues)?,
        announcements: load_announcements(cfg)?,
        voicemail: load_voicemail(cfg)?,
        callback: load_callback(cfg)?,
        outbound: load_outbound(cfg)?,
        closed_treatment: cfg.schedule.closed_action,
        queue_ring_timeout_ms: queues
            .iter()
            .filter_map(|q| Some((q.id.clone(), q.ring_timeout_ms?)))
            .collect(),
        silent_line_ms: i64::from(cfg.hotline.silent_line_s) * 1000,
        media_timeout_ms: i64::from(cfg.hotline.media_timeout_s) * 1000,
        trunks: cfg.trunks()?,
        line_test: cfg.line_test_config(cfg.calendar()?)?,
        wrap_up_ms: i64::from(cfg.acd.wrap_up_ms),
        media_ip: cfg.media.ip,
        record: cfg.hotline.record,
        record_queue: cfg.hotline.record_queue,
        limits: cfg.limits.by_type(),
        auto_pause_after_misses: cfg.acd.auto_pause_after_misses,
        limit_warning_fraction: cfg.limits.warning_fraction,
        transfer_queue: cfg.acd.transfer_queue.clone().map(QueueId::new),
        limit_tone: cfg.limits.agent_tone,
        monitor: cfg.monitor_config(),
        srtp: crate::config::srtp::engine_settings(cfg)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped config with `extra` replacing a section. Its file paths
    /// (prompts) are relative to the workspace root, where `serve` runs as
    /// shipped; cargo runs a crate's tests in the crate's directory, so the
    /// process moves to the root once (every test here wants the same one).
    fn shipped_with(section: &str, replacement: &str) -> Config {
        static ROOT: std::sync::Once = std::sync::Once::new();
        ROOT.call_once(|| {
            std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .expect("workspace root");
        });
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/hotline.toml"
        ))
        .expect("shipped config");
        assert!(
            text.contains(section),
            "{section} not in the shipped config"
        );
        Config::parse(&text.replacen(section, replacement, 1)).expect("valid")
    }

    #[test]
    fn the_kpis_default_to_the_regulations() {
        let s = Settings::build(shipped_with("[kpis]", "[kpis]")).expect("builds");
        // answered within the ring limit (three rings: 11 s); overdue at the 24 h deadline
        assert_eq!(s.center.kpi.service_level_ms, 11_000);
        assert_eq!(s.center.kpi.callback_overdue_ms, 86_400_000);
        assert_eq!(s.center.kpi.queue_placement_ms, 1_000);
        assert!(!s.center.kpi.cost.configured());
        let s = Settings::build(shipped_with(
            "[kpis]",
            "[kpis]\nservice_level_s = 20\ncallback_overdue_s = 7200",
        ))
        .expect("builds");
        assert_eq!(s.center.kpi.service_level_ms, 20_000);
        assert_eq!(s.center.kpi.callback_overdue_ms, 7_200_000);
        let s = Settings::build(shipped_with(
            "agent_cost_per_hour = 0.0",
            "agent_cost_per_hour = 30.5",
        ))
        .expect("builds");
        assert_eq!(s.center.kpi.cost.agent_per_hour, 30.5);
        assert!(s.center.kpi.cost.configured());
        let s = Settings::build(shipped_with(
            "answer_after_rings = 3",
            "answer_after_rings = 2",
        ))
        .expect("builds");
        assert_eq!(
            s.center.kpi.service_level_ms, 6_000,
            "the end of the second ring"
        );
    }

    #[test]
    fn agents_are_announced_by_their_work_number() {
        let cfg = shipped_with(
            "[[agents]]\nid = \"1001\"",
            "[[agents]]\nid = \"zhang\"\npassword = \"secret-zhang\"\nnumber = \"12\"\n\n[[agents]]\nid = \"li\"\npassword = \"secret-li\"\n\n[[agents]]\nid = \"1001\"",
        );
        assert_eq!(cfg.unannounced_agents(), ["li"]);
        let s = Settings::build(cfg).expect("builds (li is only warned about)");
        let n = s
            .prompts
            .agent_number
            .as_ref()
            .expect("announced as shipped");
        assert_eq!(n.number_of("zhang"), Some("12"));
        assert_eq!(n.number_of("1001"), Some("1001"));
        assert_eq!(n.number_of("li"), None);
        // 「一二号客服为您服务」: the two digits, then the words
        let said: Vec<String> = n
            .announce("zhang")
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        assert_eq!(said, ["yi", "er", "agent_number"]);
        assert!(n.announce("li").is_empty());
    }

    #[test]
    fn the_shipped_config_builds_with_every_asset() {
        let s = Settings::build(shipped_with("[kpis]", "[kpis]")).expect("builds");
        assert!(s.engine.announcements.is_some());
        assert!(s.engine.voicemail.is_some());
        assert_eq!(s.center.calendar.name(), "Asia/Shanghai");
        assert_eq!(s.center.shifts.len(), 4);
        // the regulations' setup (issue 20)
        let p = &s.prompts;
        assert!(p.agent_number.is_some() && p.hold_resume.is_some() && p.closing.is_some());
        assert!(p.silent_line.is_some() && p.closed.is_some());
        assert!(matches!(
            s.engine
                .announcements
                .as_ref()
                .and_then(|a| a.words.as_ref()),
            Some(hotline_engine::announce::Words::Mandarin(_))
        ));
        assert_eq!(s.accounts.len(), 4);
    }

    #[test]
    fn every_asset_loader_refuses_an_unreadable_file_naming_its_key() {
        let cases = [
            (
                "message = \"config/prompts/zh/announce/still_waiting.wav\"",
                "message = \"/nonexistent/still_waiting.wav\"",
                "announcements.message",
            ),
            (
                "words = \"config/prompts/zh/announce\"",
                "words = \"/nonexistent/announce\"",
                "announcements.words",
            ),
            (
                "prompt = \"config/prompts/zh/voicemail.wav\"",
                "prompt = \"/nonexistent/voicemail.wav\"",
                "voicemail.prompt",
            ),
            (
                "closed = \"config/prompts/zh/closed.wav\"",
                "closed = \"/nonexistent/closed.wav\"",
                "prompts.closed",
            ),
            (
                "enabled = true\nkey = \"1\"\noffer = \"config/prompts/zh/callback_offer.wav\"",
                "enabled = true\nkey = \"1\"\noffer = \"/nonexistent/offer.wav\"",
                "callback.offer",
            ),
            (
                "enabled = true\nkey = \"1\"\noffer = \"config/prompts/zh/callback_offer.wav\"",
                "enabled = false\nkey = \"1\"\noffer = \"/nonexistent/offer.wav\"",
                // callbacks off: their prompts are not loaded
                "",
            ),
            (
                "prompt = \"config/prompts/zh/greeting_morning.wav\"",
                "prompt = \"/nonexistent/morning.wav\"",
                "schedule.greetings[0].prompt",
            ),
            (
                "hold_resume = \"config/prompts/zh/hold_resume.wav\"",
                "hold_resume = \"/nonexistent/hold_resume.wav\"",
                "prompts.hold_resume",
            ),
            (
                "closing = \"config/prompts/zh/closing.wav\"",
                "closing = \"/nonexistent/closing.wav\"",
                "prompts.closing",
            ),
            (
                "language = \"zh\"",
                "language = \"en\"",
                // the agent's number is said in Mandarin only
                "prompts.agent_number",
            ),
            (
                "words = \"config/prompts/zh/announce\"",
                "words = \"config/prompts/announce\"",
                // the English words are not the Mandarin syllables
                "ling.wav",
            ),
            ("agent_number = true", "agent_number = false", ""),
            (
                "[http]",
                "[http]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"",
                "http.tls_cert",
            ),
        ];
        for (section, replacement, key) in cases {
            let cfg = shipped_with(section, replacement);
            let result = Settings::build(cfg);
            if key.is_empty() {
                assert!(result.is_ok(), "{replacement}: {:?}", result.err());
                continue;
            }
            let err = format!("{:#}", result.err().expect(replacement));
            assert!(err.contains(key), "{replacement}: {err}");
        }
    }
}
