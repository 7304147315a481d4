//! `hotline`: the call-center engine binary.
//!
//! `hotline serve` runs the hotline; `hotline check-config` validates a config file.

mod access;
mod cases;
mod duty;
mod recordings;
mod report;
mod worklist;

use anyhow::Result;
use clap::{Parser, Subcommand};
use config::settings::Settings;
use config::Config;
use hotline_config as config;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
        // colours only on a terminal: a journal, a pipe or a file gets plain text
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::CheckConfig { path } => check_config(&path),
        Command::Report { args, config, data } => load_with_data(&config, data).and_then(|c| {
            let html = args.format == report::Format::Html;
            hotline_server::report::report(&c, &args.period_args(), html, args.out.as_deref())
        }),
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
        } => load_with_data(&config, data)
            .and_then(|c| hotline_server::access::audit(&c, verify, call.as_deref())),
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

fn simulate(a: SimArgs) -> Result<()> {
    use hotline_sim::{Overflow, OverflowTo, SimConfig, SimError, Strategy, Treatments};
    let refused = |e: SimError| anyhow::anyhow!(e.flag_message());
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
    use hotline_metrics::erlang::{staffing_table, Workload};
    let load = Workload::new(calls_per_hour, aht)?;
    print!(
        "{}",
        staffing_table(load, target_sl, target_seconds, max_agents)?
    );
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
    let store = hotline_server::recordings::probe_shared_store(&s.cfg)?.unwrap_or_default();
    println!(
        "{}: OK ({} agents, numbers {}, SIP on {}{tls}{store})",
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
    hotline_server::serve(Settings::build(cfg)?)
}
