//! `hotline`: the call-center engine binary.
//!
//! `hotline serve` runs the hotline; `hotline check-config` validates a config file.

mod access;
mod cases;
mod duty;
mod notify;
mod recordings;
mod report;
mod worklist;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use config::settings::Settings;
use config::Config;
use hotline_config as config;
use hotline_engine::Engine;
use hotline_media::MediaEngine;
use hotline_recorder::Recorder;
use hotline_sip::SipServer;
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
    /// Complaint cases: list, show one, export as CSV.
    Cases {
        #[command(subcommand)]
        cmd: cases::CasesCmd,
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Work lists and return-visit campaigns: import, export, list, quotas.
    Worklist {
        #[command(subcommand)]
        cmd: worklist::WorklistCmd,
        /// Config file (for the database, queues and agents).
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// The duty roster: show a date, import changes from CSV, set one change.
    Roster {
        #[command(subcommand)]
        cmd: duty::RosterCmd,
        /// Config file (shifts, agents, [[roster]], the database).
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Shift handovers: list.
    Handover {
        #[command(subcommand)]
        cmd: duty::HandoverCmd,
        /// Config file (for the database and the time zone).
        #[arg(long, global = true, default_value = "config/hotline.toml")]
        config: PathBuf,
        /// Data directory, overrides storage.data_dir.
        #[arg(long, global = true, value_name = "DIR")]
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
        Command::Cases { cmd, config, data } => {
            load_with_data(&config, data).and_then(|c| cases::run(&c, cmd))
        }
        Command::Roster { cmd, config, data } => {
            load_with_data(&config, data).and_then(|c| duty::roster(&c, cmd))
        }
        Command::Handover { cmd, config, data } => {
            load_with_data(&config, data).and_then(|c| duty::handover(&c, cmd))
        }
        Command::Worklist { cmd, config, data } => {
            load_with_data(&config, data).and_then(|c| worklist::run(&c, cmd))
        }
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

/// A single-threaded runtime for a subcommand's database work.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The config's database, for a subcommand (`storage.database_url`).
async fn open_store(cfg: &Config) -> Result<hotline_store::Store> {
    hotline_store::Store::connect(&cfg.database_url())
        .await
        .context("cannot open the database (storage.database_url)")
}

fn report(config_path: &Path, data: Option<PathBuf>, args: &report::ReportArgs) -> Result<()> {
    use hotline_core::Clock;
    let mut cfg = Config::load(config_path)?;
    if let Some(data) = data {
        cfg.storage.data_dir = data;
    }
    let runtime = runtime()?;
    let now = hotline_core::SystemClock.now_ms();
    let mut text = runtime.block_on(report::run(&cfg, args, now))?;
    let html = args.format == report::Format::Html;
    let visits = runtime.block_on(worklist::report_section(&cfg, html))?;
    hotline_api::report::insert_section(&mut text, &visits, html);
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
    let strategy: Strategy = a
        .strategy
        .parse()
        .map_err(|e| anyhow::anyhow!("--strategy: {e}"))?;
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

/// `hotline check-config`: exactly what `serve` builds before it binds a
/// socket (every file the config names is loaded), then exit.
fn check_config(path: &Path) -> Result<()> {
    let s = Settings::build(Config::load(path)?)?;
    let tls = s
        .sip
        .tls
        .as_ref()
        .map(|t| format!(", SIP over TLS on {} with {}", t.listen, t.cert.display()))
        .unwrap_or_default();
    println!(
        "{}: OK ({} agents, numbers {}, SIP on {}{tls})",
        path.display(),
        s.accounts.len(),
        s.engine.numbers.join(", "),
        s.sip.listen
    );
    Ok(())
}

/// The config file with `--data` applied.
fn load_with_data(config: &Path, data: Option<PathBuf>) -> Result<Config> {
    let mut cfg = Config::load(config)?;
    if let Some(d) = data {
        cfg.storage.data_dir = d;
    }
    Ok(cfg)
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
    let settings = Settings::build(cfg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hotline-io")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(settings))
}

/// The supervisor console over the store, with the engine's blacklist
/// (its run-time entries loaded from the store).
async fn console(
    cfg: &Config,
    store: hotline_store::Store,
    blacklist: hotline_engine::routing::Blacklist,
) -> Result<hotline_api::Console> {
    let console = hotline_api::Console::new(
        store,
        cfg.console_config()?,
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

async fn run(settings: Settings) -> Result<()> {
    let Settings {
        cfg,
        center,
        engine: engine_cfg,
        prompts,
        sip: sip_cfg,
        accounts,
        media: media_cfg,
        tls,
    } = settings;
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
    // the HA pair: events marked with this node, the SIP gate shut until
    // the leases are taken
    let cluster_cfg = cfg.cluster_settings()?;
    let store = match &cluster_cfg {
        Some(c) => store.with_node(&c.node_id),
        None => store,
    };
    hotline_recorder::startup_sweep(&recorder, &store)
        .await
        .context("recordings sweep")?;
    let (sink, writer) = hotline_store::spawn_writer(store.clone());
    if let Some(notary) = recorder.notary().cloned() {
        hotline_recorder::retention::spawn(
            cfg.recordings_dir(),
            center.retention.clone(),
            std::time::Duration::from_secs(u64::from(cfg.retention.check_every_s)),
            store.clone(),
            notary,
            sink.clone(),
        );
    }

    let media = MediaEngine::start(media_cfg).context("media: cannot start RTP workers")?;
    for a in &cfg.agents {
        info!(agent = %a.id, name = a.name.as_deref().unwrap_or("-"), "agent account");
    }
    let (sip, sip_events) = SipServer::start_with_lockout(sip_cfg, accounts, cfg.sip_lockout()?)
        .await
        .context("sip.listen")?;
    if let Some(c) = &cluster_cfg {
        sip.set_standby(Some(c.retry_after_s()));
    }
    // registrations saved before a restart come back; changes are saved behind
    let clock = std::sync::Arc::new(hotline_core::SystemClock);
    if let Err(e) = hotline_engine::bindings::restore(&store, &sip, clock.as_ref()).await {
        warn!(error = %e, "saved registrations could not be read; phones register again");
    }
    let bindings = hotline_engine::bindings::WriteBehind::start(store.clone(), sip.clone(), clock);
    // bans and locks for password guessing, to the audit log
    hotline_engine::bans::spawn_audit(&sip, store.clone());
    let blacklist = engine_cfg.blacklist.clone();
    let case_owners = hotline_engine::owners::CaseOwners::new();
    // the engine's events, as they happen, to the live KPIs and the work list
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut event_outputs = Vec::new();
    let worklist = worklist::start(
        &cfg,
        &center,
        store.clone(),
        sink.clone(),
        events_tx.clone(),
        case_owners.clone(),
    )
    .await?;
    let mut engine_cfg = engine_cfg;
    worklist::permit(&cfg, worklist.as_ref(), &mut engine_cfg);
    // the case owner may call their complaint's customer (the reply call)
    if let Some(o) = engine_cfg.outbound.as_mut() {
        o.permit = std::mem::take(&mut o.permit)
            .with("case owner", std::sync::Arc::new(case_owners.clone()));
    }
    // alarms out by e-mail and webhook, and the twice-daily line test
    let line_test_since =
        notify::start(&cfg, &center, &store, &engine_cfg, &mut event_outputs).await;
    if let Some(w) = &worklist {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(w.clone().run(rx));
        event_outputs.push(tx);
    }
    let lease_names = hotline_engine::cluster_task::queue_leases(&engine_cfg);
    let mut engine = Engine::new(
        engine_cfg,
        sip.clone(),
        media.clone(),
        recorder,
        sink.clone(),
        prompts,
    )
    .with_case_owners(
        case_owners.clone(),
        i64::from(cfg.cases.owner_wait_s) * 1000,
    )
    .with_audit(store.clone())
    .with_line_test_since(line_test_since);
    let duty = duty::start(&cfg, &store, &center.calendar).await?;
    if let Some(d) = &duty {
        engine = engine.with_duty(d.board.clone());
    }
    let cluster = cluster_cfg.clone().map(|c| {
        let deps = hotline_engine::cluster_task::ClusterDeps {
            store: store.clone(),
            sip: sip.clone(),
            queues: lease_names,
            sink: sink.clone(),
            live: Some(events_tx.clone()),
            clock: std::sync::Arc::new(hotline_core::SystemClock),
        };
        hotline_engine::cluster_task::ClusterNode::start(c, deps)
    });
    let mut http_addr = None;
    if cfg.http.enabled {
        let (live_tx, live_rx) = tokio::sync::mpsc::unbounded_channel();
        event_outputs.push(live_tx.clone());
        let live = hotline_api::engine::LiveKpis::spawn(live_rx, center.live());
        let console = console(&cfg, store.clone(), blacklist).await?;
        let console = cases::attach(
            &cfg,
            console,
            sink.clone(),
            live_tx.clone(),
            case_owners.clone(),
        )
        .await?;
        let duty =
            duty.map(|d| duty::api(&cfg, d, store.clone(), engine.control(), &sink, &live_tx));
        let api = hotline_api::engine::Api {
            duty,
            worklist: worklist.clone(),
            console,
            live,
            agents: engine.control(),
            trunks: engine.trunks(),
            line_tests: engine.line_tests(),
            bans: hotline_engine::bans::SipBans::new(std::sync::Arc::new(sip.clone())),
            cluster: cluster.as_ref().map(|c| c.status()),
            tls,
            console_routes: cfg.console.enabled,
        };
        let limits = hotline_api::edge::HttpLimits {
            max_per_source: cfg.http.max_connections_per_source,
            max_total: cfg.http.max_connections,
            header_timeout: std::time::Duration::from_secs(u64::from(cfg.http.header_timeout_s)),
        };
        let (addr, _) = hotline_api::engine::serve_within(cfg.http.listen, api, limits).await?;
        http_addr = Some(addr);
    }
    if !event_outputs.is_empty() {
        hotline_api::worklist::service::tee(events_rx, event_outputs);
        engine = engine.with_live_events(events_tx);
    }
    // callbacks pending from before a restart are taken over; the other
    // calls a killed engine left unfinished get their end and CDR
    let now = hotline_core::Clock::now_ms(&hotline_core::SystemClock);
    match &cluster_cfg {
        // in the pair only this node's own calls (the other node's may be
        // up); callbacks are not taken over (both nodes would dial them)
        Some(c) => {
            hotline_engine::restart::close_node_calls(
                &store,
                now,
                &c.node_id,
                hotline_engine::restart::RESTART_REASON,
            )
            .await;
        }
        None => {
            let pending = hotline_engine::restart::take_over(&store, now).await;
            engine = engine.with_pending_callbacks(pending);
        }
    }
    let engine_task = tokio::spawn(engine.run(sip_events));
    info!(sip = %sip.local_addr(), http = ?http_addr, data = %cfg.storage.data_dir.display(), recordings = %cfg.recordings_dir().display(), "hotline ready");
    let tls = sip
        .tls_addr()
        .map(|a| format!(" tls={a}"))
        .unwrap_or_default();
    match http_addr {
        Some(h) => println!("hotline: ready sip={}{tls} http={h}", sip.local_addr()),
        None => println!("hotline: ready sip={}{tls}", sip.local_addr()),
    }
    // SIGHUP: the SIP TLS certificate and key read again (calls stay up)
    #[cfg(unix)]
    if sip.tls_addr().is_some() {
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            let sip = sip.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if let Err(e) = sip.reload_tls().await {
                        error!(error = %e, "SIGHUP: the TLS certificate was not reloaded; the previous one stays");
                    }
                }
            });
        }
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
    if let Some(c) = cluster {
        c.stop().await;
    }
    sip.shutdown();
    bindings.stop().await;
    sink.flush().await;
    media.shutdown();
    drop(sink);
    writer.abort();
    Ok(())
}
