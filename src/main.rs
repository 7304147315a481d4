//! `hotline`: the call-center engine binary.
//!
//! `hotline serve` runs the hotline; `hotline check-config` validates a config file.

mod access;
mod config;
mod http;
mod recordings;
mod report;
mod retention;
mod routing_config;
mod schedule_config;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use config::Config;
use hotline_core::QueueId;
use hotline_engine::{Engine, EngineConfig, Prompts};
use hotline_media::prompt::Prompt;
use hotline_media::{MediaConfig, MediaEngine};
use hotline_recorder::Recorder;
use hotline_sip::{AgentAccount, SipConfig, SipServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tracing::{error, info, warn};

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call-center engine: answers within three rings, queues, routes, bridges and records hotline calls"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hotline.
    Serve {
        /// Config file.
        #[arg(long, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// SIP listen address (UDP and TCP), overrides sip.listen.
        #[arg(long, value_name = "ADDR:PORT")]
        sip: Option<SocketAddr>,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// HTTP listen address (metrics, stats), overrides http.listen.
        #[arg(long, value_name = "ADDR:PORT")]
        http: Option<SocketAddr>,
    },
    /// Erlang C: agents needed for a service-level target, and what fewer or
    /// more agents would give.
    Staffing {
        /// Calls offered per hour.
        #[arg(long, allow_negative_numbers = true)]
        calls_per_hour: f64,
        /// Average handle time (talk + hold + wrap-up), seconds.
        #[arg(long, allow_negative_numbers = true)]
        aht: f64,
        /// Service-level target: share of calls answered within --target-seconds.
        #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
        target_sl: f64,
        /// Service-level time, seconds.
        #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
        target_seconds: f64,
        /// Most agents to consider (1 to 1000000).
        #[arg(long, default_value_t = hotline_metrics::erlang::MAX_AGENTS, allow_negative_numbers = true)]
        max_agents: u32,
    },
    /// Runs the real call flow (controller, ACD and calls, with their
    /// treatments) against simulated traffic (Poisson arrivals, exponential
    /// talk times and patience) and prints service level, ASA, abandon rate
    /// and occupancy next to Erlang C's prediction, and what each treatment
    /// did (engine answers, missed offers, overflows, voicemails, callbacks).
    /// Without treatments agents answer at once: Erlang C's M/M/N system.
    Simulate(SimArgs),
    /// A day's, shift's or range's figures from the stored event log, as CSV
    /// or a self-contained HTML page (docs/kpis.md).
    Report {
        /// The period and the output.
        #[command(flatten)]
        args: report::ReportArgs,
        /// Config file (for the database location).
        #[arg(long, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Recordings as evidence: public key, offline verification, export.
    Recordings {
        #[command(subcommand)]
        cmd: recordings::RecordingsCmd,
        /// Config file (for the data directory and recordings root).
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Users and roles (playback: supervisor; administration: admin).
    Users {
        #[command(subcommand)]
        cmd: access::UsersCmd,
        /// Config file (for the database).
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// The audit log of every access to recordings (CSV), or `--verify` its chain.
    Audit {
        /// Check the hash chain; names the first altered or missing entry.
        #[arg(long)]
        verify: bool,
        /// Only the accesses to this recording (call id).
        #[arg(long)]
        call: Option<String>,
        /// Config file (for the database).
        #[arg(long, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Check a config file and exit (0 = valid).
    CheckConfig {
        /// Config file.
        #[arg(default_value = "config/hotline.toml")]
        path: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,rsipstack=warn,sqlx=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::CheckConfig { path } => check_config(&path),
        Command::Report { args, config, data } => report(&config, data, &args),
        Command::Recordings { cmd, config, data } => recordings::run(&config, data, cmd),
        Command::Users { cmd, config, data } => {
            load_with_data(&config, data).and_then(|c| access::users(&c, cmd))
        }
        Command::Audit {
            verify,
            call,
            config,
            data,
        } => load_with_data(&config, data).and_then(|c| access::audit(&c, verify, call.as_deref())),
        Command::Staffing {
            calls_per_hour,
            aht,
            target_sl,
            target_seconds,
            max_agents,
        } => staffing(calls_per_hour, aht, target_sl, target_seconds, max_agents),
        Command::Simulate(args) => simulate(args),
        Command::Serve {
            config,
            sip,
            data,
            http,
        } => serve(&config, sip, data, http),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hotline: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn report(config_path: &Path, data: Option<PathBuf>, args: &report::ReportArgs) -> Result<()> {
    use hotline_core::Clock;
    let mut cfg = Config::load(config_path)?;
    if let Some(data) = data {
        cfg.storage.data_dir = data;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let now = hotline_core::SystemClock.now_ms();
    let text = runtime.block_on(report::run(&cfg, args, now))?;
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("--out: cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// `hotline simulate` arguments.
#[derive(clap::Args)]
struct SimArgs {
    /// Calls offered per hour.
    #[arg(long, allow_negative_numbers = true)]
    calls_per_hour: f64,
    /// Average talk time, seconds.
    #[arg(long, allow_negative_numbers = true)]
    aht: f64,
    /// Agents logged in.
    #[arg(long, allow_negative_numbers = true)]
    agents: i64,
    /// Simulated hours (after the warm-up).
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    hours: f64,
    /// Service-level time, seconds.
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    target_seconds: f64,
    /// Mean patience of callers, seconds (exponential); none = nobody abandons.
    #[arg(long, allow_negative_numbers = true)]
    patience: Option<f64>,
    /// After-call work, seconds.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    wrap_up: f64,
    /// longest-idle, round-robin, fewest-calls, least-talk-time, linear or ring-all.
    #[arg(long, default_value = "longest-idle")]
    strategy: String,
    /// Random seed (the same seed gives the same figures).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The engine answers a call no agent has answered at the end of this
    /// ring (1 to 10; 3 = 11 s), then greets and plays music.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    answer_after_rings: i64,
    /// Seconds an agent's phone rings before they pick up (below --ring-timeout).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    agent_answer: f64,
    /// Share of offers agents do not answer (0 to 0.9): the phone rings
    /// out, the next agent is offered the call.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    no_answer_share: f64,
    /// Seconds an agent's phone rings before the next agent is tried.
    #[arg(long, default_value_t = 15.0, allow_negative_numbers = true)]
    ring_timeout: f64,
    /// A caller waiting this many seconds overflows (needs --overflow).
    #[arg(long, allow_negative_numbers = true, requires = "overflow")]
    max_wait: Option<f64>,
    /// Where callers go after --max-wait: `voicemail`, or `queue:N` (a
    /// second queue with N agents of its own).
    #[arg(long, requires = "max_wait")]
    overflow: Option<String>,
    /// A caller still waiting this many seconds presses the callback key
    /// and is called back (at least the engine's answer, 11 s).
    #[arg(long, allow_negative_numbers = true)]
    callback_after: Option<f64>,
    /// Position and expected-wait announcements every this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    announce_every: Option<f64>,
}

/// The `hotline simulate` flag of a [`hotline_sim::SimConfig`] field.
fn sim_flag(field: &str) -> String {
    let flag = match field {
        "aht_s" => "aht",
        "target_s" => "target-seconds",
        "patience_s" => "patience",
        "wrap_up_s" => "wrap-up",
        "agent_answer_s" => "agent-answer",
        "ring_timeout_s" => "ring-timeout",
        "max_wait_s" => "max-wait",
        "callback_after_s" => "callback-after",
        "announce_every_s" => "announce-every",
        other => return format!("--{}", other.replace('_', "-")),
    };
    format!("--{flag}")
}

fn simulate(a: SimArgs) -> Result<()> {
    use hotline_sim::{Overflow, OverflowTo, SimConfig, SimError, Strategy, Treatments};
    let strategy = match a.strategy.as_str() {
        "longest-idle" => Strategy::LongestIdle,
        "round-robin" => Strategy::RoundRobin,
        "fewest-calls" => Strategy::FewestCalls,
        "least-talk-time" => Strategy::LeastTalkTime,
        "linear" => Strategy::Linear,
        "ring-all" => Strategy::RingAll,
        other => bail!(
            "--strategy: unknown strategy `{other}` (longest-idle, round-robin, fewest-calls, least-talk-time, linear, ring-all)"
        ),
    };
    let agents = u32::try_from(a.agents)
        .map_err(|_| anyhow::anyhow!("--agents: must be from 1 to 10000, got {}", a.agents))?;
    let answer_after_rings = u32::try_from(a.answer_after_rings).map_err(|_| {
        anyhow::anyhow!(
            "--answer-after-rings: must be from 1 to 10, got {}",
            a.answer_after_rings
        )
    })?;
    let refused = |e: SimError| match &e {
        SimError::Invalid { field, reason } => anyhow::anyhow!("{}: {reason}", sim_flag(field)),
        SimError::Inconsistent { .. } => anyhow::anyhow!("{e}"),
    };
    let overflow = match (a.max_wait, a.overflow.as_deref()) {
        (Some(max_wait_s), Some(to)) => Some(Overflow {
            max_wait_s,
            to: to.parse::<OverflowTo>().map_err(refused)?,
        }),
        _ => None,
    };
    let cfg = SimConfig {
        calls_per_hour: a.calls_per_hour,
        aht_s: a.aht,
        agents,
        hours: a.hours,
        target_s: a.target_seconds,
        patience_s: a.patience,
        wrap_up_s: a.wrap_up,
        strategy,
        seed: a.seed,
        treatments: Treatments {
            answer_after_rings,
            agent_answer_s: a.agent_answer,
            no_answer_share: a.no_answer_share,
            ring_timeout_s: a.ring_timeout,
            overflow,
            callback_after_s: a.callback_after,
            announce_every_s: a.announce_every,
        },
        ..SimConfig::default()
    };
    // the simulated calls' own logs (overflows, missed offers, in simulated
    // time) are not for this terminal: the report says what happened
    let quiet = tracing::subscriber::NoSubscriber::default();
    let report =
        tracing::subscriber::with_default(quiet, || hotline_sim::run(&cfg)).map_err(refused)?;
    print!("{report}");
    Ok(())
}

fn staffing(
    calls_per_hour: f64,
    aht: f64,
    target_sl: f64,
    target_seconds: f64,
    max_agents: u32,
) -> Result<()> {
    use hotline_metrics::erlang::{predict, Workload};
    let load = Workload::new(calls_per_hour, aht)?;
    let needed = load.agents_needed(target_sl, target_seconds, max_agents)?;
    println!(
        "{calls_per_hour} calls/h × {aht} s = {:.2} Erlangs; {:.0}% within {target_seconds} s needs {needed} agents",
        load.traffic(),
        target_sl * 100.0
    );
    println!("agents  P(wait)  service level  ASA (s)  occupancy");
    let first = needed.saturating_sub(3).max(1);
    let last = needed.saturating_add(4).min(max_agents);
    for n in first..=last {
        let p = predict(load, n, target_seconds)?;
        let asa = if p.asa_s.is_finite() {
            format!("{:.1}", p.asa_s)
        } else {
            "∞".to_string()
        };
        let mark = if n == needed { "  <- needed" } else { "" };
        println!(
            "{n:>6}  {:>7.3}  {:>12.1}%  {asa:>7}  {:>8.1}%{mark}",
            p.wait_probability,
            p.service_level * 100.0,
            p.occupancy * 100.0
        );
    }
    Ok(())
}

fn check_config(path: &Path) -> Result<()> {
    let cfg = Config::load(path)?;
    load_prompts(&cfg)?;
    load_ivr(&cfg)?;
    println!(
        "{}: OK ({} agents, numbers {}, SIP on {})",
        path.display(),
        cfg.agents.len(),
        cfg.hotline.numbers.join(", "),
        cfg.sip.listen
    );
    Ok(())
}

fn load_prompts(cfg: &Config) -> Result<Prompts> {
    let greeting = Prompt::load_wav("greeting", &cfg.prompts.greeting).with_context(|| {
        format!(
            "prompts.greeting: cannot load {}",
            cfg.prompts.greeting.display()
        )
    })?;
    let music = Prompt::load_wav("music", &cfg.prompts.music)
        .with_context(|| format!("prompts.music: cannot load {}", cfg.prompts.music.display()))?;
    let optional = |name: &str, path: &Option<PathBuf>| -> Result<Option<Prompt>> {
        path.as_ref()
            .map(|path| {
                Prompt::load_wav(name, path)
                    .with_context(|| format!("prompts.{name}: cannot load {}", path.display()))
            })
            .transpose()
    };
    Ok(Prompts {
        greeting,
        music,
        blacklisted: optional("blacklisted", &cfg.prompts.blacklisted)?,
        silent_line: optional("silent_line", &cfg.prompts.silent_line)?,
        closed: optional("closed", &cfg.prompts.closed)?,
    })
}

fn load_announcements(cfg: &Config) -> Result<Option<hotline_engine::announce::Announcements>> {
    let a = &cfg.announcements;
    if a.every_s == 0 {
        return Ok(None);
    }
    let words = if a.position || a.expected_wait {
        Some(
            hotline_engine::announce::AnnounceWords::load(&a.words)
                .with_context(|| format!("announcements.words: {}", a.words.display()))?,
        )
    } else {
        None
    };
    let message = a
        .message
        .as_ref()
        .map(|path| {
            Prompt::load_wav("still_waiting", path)
                .with_context(|| format!("announcements.message: cannot load {}", path.display()))
        })
        .transpose()?;
    Ok(Some(hotline_engine::announce::Announcements {
        every_ms: i64::from(a.every_s) * 1000,
        position: a.position,
        expected_wait: a.expected_wait,
        default_handle_ms: i64::from(a.default_handle_s) * 1000,
        words,
        message,
    }))
}

fn load_callback(cfg: &Config) -> Result<Option<hotline_engine::callback::CallbackConfig>> {
    let c = &cfg.callback;
    if !c.enabled {
        return Ok(None);
    }
    let load = |name: &str, path: &Option<PathBuf>| -> Result<Option<Prompt>> {
        path.as_ref()
            .map(|p| {
                Prompt::load_wav(name, p)
                    .with_context(|| format!("callback.{name}: cannot load {}", p.display()))
            })
            .transpose()
    };
    Ok(Some(hotline_engine::callback::CallbackConfig {
        key: c.key.chars().next().unwrap_or('1'),
        offer: load("offer", &c.offer)?,
        confirm: load("confirm", &c.confirm)?,
        deadline_ms: i64::from(c.deadline_h) * 3_600_000,
        dial: c.dial.clone(),
        gateway: c.gateway()?,
        retry_ms: i64::from(c.retry_s) * 1000,
        attempts: c.attempts,
        answer_timeout_ms: i64::from(c.answer_timeout_s) * 1000,
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
    }))
}

/// The config file with `--data` applied.
fn load_with_data(config: &Path, data: Option<PathBuf>) -> Result<Config> {
    let mut cfg = Config::load(config)?;
    if let Some(d) = data {
        cfg.storage.data_dir = d;
    }
    Ok(cfg)
}

fn load_voicemail(cfg: &Config) -> Result<Option<hotline_engine::Voicemail>> {
    let v = &cfg.voicemail;
    if !v.enabled {
        return Ok(None);
    }
    let prompt = v
        .prompt
        .as_ref()
        .map(|path| {
            Prompt::load_wav("voicemail", path)
                .with_context(|| format!("voicemail.prompt: cannot load {}", path.display()))
        })
        .transpose()?;
    Ok(Some(hotline_engine::Voicemail {
        prompt,
        max_ms: i64::from(v.max_s) * 1000,
    }))
}

fn load_period_greetings(cfg: &Config) -> Result<Vec<Prompt>> {
    cfg.schedule
        .greetings
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Prompt::load_wav(&g.name, &g.prompt).with_context(|| {
                format!(
                    "schedule.greetings[{i}].prompt: cannot load {}",
                    g.prompt.display()
                )
            })
        })
        .collect()
}

fn load_ivr(cfg: &Config) -> Result<Option<hotline_engine::routing::IvrMenu>> {
    if !cfg.ivr.enabled {
        return Ok(None);
    }
    let prompt = Prompt::load_wav("menu", &cfg.ivr.prompt)
        .with_context(|| format!("ivr.prompt: cannot load {}", cfg.ivr.prompt.display()))?;
    Ok(cfg.ivr_menu(prompt)?)
}

fn serve(
    config_path: &Path,
    sip: Option<SocketAddr>,
    data: Option<PathBuf>,
    http: Option<SocketAddr>,
) -> Result<()> {
    let mut cfg = Config::load(config_path)?;
    if let Some(sip) = sip {
        cfg.sip.listen = sip;
    }
    if let Some(http) = http {
        cfg.http.listen = http;
        cfg.http.enabled = true;
    }
    if let Some(data) = data {
        cfg.storage.data_dir = data;
    }
    cfg.validate()?;
    let prompts = load_prompts(&cfg)?;
    let workers = if cfg.media.workers == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        cfg.media.workers
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hotline-io")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cfg, prompts, workers))
}

/// The supervisor console over the store, with the engine's blacklist
/// (its run-time entries loaded from the store).
async fn console(
    cfg: &Config,
    store: hotline_store::Store,
    blacklist: hotline_engine::routing::Blacklist,
) -> Result<hotline_console::Console> {
    let c = &cfg.console;
    let mut ccfg =
        hotline_console::ConsoleConfig::new(cfg.recordings_dir(), cfg.storage.data_dir.clone());
    ccfg.api_token = cfg.http.api_token.clone();
    ccfg.secure_cookies = cfg.http.tls_cert.is_some();
    ccfg.session_idle_s = c.session_idle_s;
    ccfg.session_max_s = c.session_max_s;
    ccfg.login_attempts = c.login_attempts;
    ccfg.login_window_s = c.login_window_s;
    ccfg.open_read_api = c.open_read_api;
    let console = hotline_console::Console::new(
        store,
        ccfg,
        std::sync::Arc::new(hotline_core::SystemClock),
        Some(blacklist),
    );
    let n = console
        .load_blacklist()
        .await
        .context("console: cannot load the run-time blacklist")?;
    info!(entries = n, "run-time blacklist loaded");
    Ok(console)
}

async fn run(cfg: Config, prompts: Prompts, workers: usize) -> Result<()> {
    std::fs::create_dir_all(&cfg.storage.data_dir).with_context(|| {
        format!(
            "storage.data_dir: cannot create {}",
            cfg.storage.data_dir.display()
        )
    })?;
    let recorder = Recorder::new(recordings::recorder_config(&cfg)?).with_context(|| {
        format!(
            "storage.recordings: {} is not usable",
            cfg.recordings_dir().display()
        )
    })?;
    let store = hotline_store::Store::connect(&cfg.database_url())
        .await
        .context("storage: cannot open the database")?;
    recordings::startup_sweep(&recorder, &store).await?;
    let (sink, writer) = hotline_store::spawn_writer(store.clone());
    if let Some(notary) = recorder.notary().cloned() {
        retention::spawn(cfg.clone(), notary, sink.clone());
    }

    let media = MediaEngine::start(MediaConfig {
        bind_ip: cfg.media.ip,
        port_min: cfg.media.port_min,
        port_max: cfg.media.port_max,
        workers,
    })
    .context("media: cannot start RTP workers")?;

    let mut accounts = Vec::new();
    for (i, a) in cfg.agents.iter().enumerate() {
        let algorithms = match &a.algorithms {
            Some(names) => Some(config::parse_algorithms(
                &format!("agents[{i}].algorithms"),
                names,
            )?),
            None => None,
        };
        info!(agent = %a.id, name = a.name.as_deref().unwrap_or("-"), "agent account");
        accounts.push(AgentAccount {
            id: a.id.clone(),
            password: a.password.clone(),
            algorithms,
        });
    }
    let sip_cfg = SipConfig {
        listen: cfg.sip.listen,
        realm: cfg.sip.realm.clone(),
        nonce_ttl_ms: i64::from(cfg.sip.nonce_ttl_s) * 1000,
        min_expires_s: cfg.sip.min_expires_s,
        max_expires_s: cfg.sip.max_expires_s,
        default_expires_s: cfg.sip.max_expires_s.min(600).max(cfg.sip.min_expires_s),
        max_contacts_per_agent: cfg.sip.max_contacts_per_agent,
        algorithms: config::parse_algorithms("sip.algorithms", &cfg.sip.algorithms)?,
        rate_limit_per_source: cfg.sip.rate_limit_per_source,
        feature_prefix: "*".into(),
        dial_prefix: if cfg.outbound.enabled {
            cfg.outbound.prefix.clone()
        } else {
            String::new()
        },
    };
    let demo = cfg.demo_password_agents();
    if !demo.is_empty() && !cfg.sip.listen.ip().is_loopback() {
        for _ in 0..3 {
            warn!("!!! DEMO PASSWORDS ON A NETWORK ADDRESS: agents {} use the shipped demo passwords while SIP listens on {}. Anyone who can reach this port can register as them. Change [[agents]] passwords in the config.", demo.join(", "), cfg.sip.listen);
        }
    }
    let (sip, sip_events) = SipServer::start(sip_cfg, accounts)
        .await
        .context("sip.listen")?;
    let engine_cfg = EngineConfig {
        numbers: cfg.hotline.numbers.clone(),
        queue: QueueId::new(cfg.hotline.queue.clone()),
        queues: cfg.queue_configs(),
        overflow: cfg.overflow_map(),
        agent_skills: cfg.agent_skills(),
        vip: cfg.vip_patterns(),
        blacklist: hotline_engine::routing::Blacklist::new(cfg.blacklist_entries()),
        ivr: load_ivr(&cfg)?,
        agents: cfg
            .agents
            .iter()
            .map(|a| hotline_core::AgentId::new(a.id.clone()))
            .collect(),
        feature_codes: cfg.feature_codes(),
        cadence: cfg.cadence(),
        answer_after_rings: cfg.ring.answer_after_rings,
        agent_ring_timeout_ms: cfg.agent_ring_timeout_ms(),
        schedule: cfg.schedule(load_period_greetings(&cfg)?)?,
        announcements: load_announcements(&cfg)?,
        voicemail: load_voicemail(&cfg)?,
        callback: load_callback(&cfg)?,
        outbound: load_outbound(&cfg)?,
        closed_treatment: match cfg.schedule.closed_action {
            schedule_config::ClosedAction::Message => hotline_engine::ClosedTreatment::Message,
            schedule_config::ClosedAction::Voicemail => hotline_engine::ClosedTreatment::Voicemail,
            schedule_config::ClosedAction::Callback => hotline_engine::ClosedTreatment::Callback,
        },
        queue_ring_timeout_ms: cfg.queue_ring_timeouts(),
        silent_line_ms: i64::from(cfg.hotline.silent_line_s) * 1000,
        media_timeout_ms: i64::from(cfg.hotline.media_timeout_s) * 1000,
        wrap_up_ms: i64::from(cfg.acd.wrap_up_ms),
        media_ip: cfg.media.ip,
        record: cfg.hotline.record,
        record_queue: cfg.hotline.record_queue,
        limits: cfg.limits.by_type(),
        auto_pause_after_misses: cfg.acd.auto_pause_after_misses,
        limit_warning_fraction: cfg.limits.warning_fraction,
        transfer_queue: cfg.acd.transfer_queue.clone().map(QueueId::new),
        limit_tone: cfg.limits.agent_tone,
    };
    let blacklist = engine_cfg.blacklist.clone();
    let mut engine = Engine::new(
        engine_cfg,
        sip.clone(),
        media.clone(),
        recorder,
        sink.clone(),
        prompts,
    );
    let mut http_addr = None;
    if cfg.http.enabled {
        let (live_tx, live_rx) = tokio::sync::mpsc::unbounded_channel();
        let live = http::LiveKpis::spawn(live_rx, cfg.shifts.clone(), cfg.kpi_config());
        let api = http::Api {
            live,
            agents: engine.control(),
            token: cfg.http.api_token.clone(),
            console: if cfg.console.enabled {
                Some(console(&cfg, store.clone(), blacklist).await?)
            } else {
                None
            },
            tls: match (&cfg.http.tls_cert, &cfg.http.tls_key) {
                (Some(cert), Some(key)) => Some(hotline_console::tls::Tls::load(cert, key)?),
                _ => None,
            },
            store: Some(store.clone()),
            recordings: Some(cfg.recordings_dir()),
        };
        http_addr = Some(http::serve(cfg.http.listen, api).await?);
        engine = engine.with_live_events(live_tx);
    }
    let pending = pending_callbacks(&store).await;
    if !pending.is_empty() {
        info!(
            count = pending.len(),
            "callbacks pending from before the restart are taken over"
        );
    }
    engine = engine.with_pending_callbacks(pending);
    let engine_task = tokio::spawn(engine.run(sip_events));
    info!(sip = %sip.local_addr(), http = ?http_addr, data = %cfg.storage.data_dir.display(), recordings = %cfg.recordings_dir().display(), "hotline ready");
    match http_addr {
        Some(h) => println!("hotline: ready sip={} http={h}", sip.local_addr()),
        None => println!("hotline: ready sip={}", sip.local_addr()),
    }

    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("interrupted, shutting down"),
        _ = term => info!("terminated, shutting down"),
        r = engine_task => {
            error!(?r, "engine stopped unexpectedly");
            sink.flush().await;
            bail!("the engine stopped");
        }
    }
    sip.shutdown();
    sink.flush().await;
    media.shutdown();
    drop(sink);
    writer.abort();
    Ok(())
}

/// The callbacks the previous run left to make (from the event log). A store
/// that cannot be read is logged and the engine starts without them: calls
/// come first.
async fn pending_callbacks(
    store: &hotline_store::Store,
) -> Vec<hotline_engine::callback::PendingCallback> {
    use hotline_core::Clock;
    let now = hotline_core::SystemClock.now_ms();
    // deadlines are at most a week (callback.deadline_h <= 168)
    let since = now - 8 * 86_400_000;
    let requested = match store
        .events_of_kind("callback_requested", since, 100_000)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "pending callbacks could not be read; they are not made");
            return Vec::new();
        }
    };
    let mut own = std::collections::HashMap::new();
    for e in &requested {
        if let hotline_core::EventKind::CallbackRequested { callback, .. } = &e.kind {
            match store.events_for_call(callback).await {
                Ok(ev) => {
                    own.insert(callback.clone(), ev);
                }
                Err(e) => warn!(call = %callback, error = %e, "callback events unreadable"),
            }
        }
    }
    hotline_engine::callback::PendingCallback::find(&requested, now, |id| {
        own.get(id).cloned().unwrap_or_default()
    })
}
