//! `hotline roster` and `hotline handover`: clap arguments and wiring; the
//! work is in `hotline_api::duty` and `hotline_duty`.

use crate::config::Config;
use anyhow::{Context, Result};
use hotline_core::Clock;
use std::path::PathBuf;

/// The duty floor of a running `serve`: the board the engine and the API
/// share, and the configured roster to rebuild from.
pub struct Started {
    /// The roster (with the stored changes) and the rules.
    pub board: hotline_engine::duty::DutyBoard,
    /// The configured roster, without changes.
    pub base: std::sync::Arc<hotline_duty::Roster>,
}

/// Builds the duty floor for `serve` (None when `duty.enabled = false`),
/// with the stored roster changes applied before the engine starts.
pub async fn start(
    cfg: &Config,
    store: &hotline_store::Store,
    cal: &hotline_core::Calendar,
) -> Result<Option<Started>> {
    if !cfg.duty.enabled {
        return Ok(None);
    }
    let d = cfg.duty.build(cfg)?;
    let (roster, n) = hotline_api::duty::load_roster(store, &d.roster, cal)
        .await
        .context("duty: cannot load the roster changes")?;
    tracing::info!(changes = n, "roster loaded");
    Ok(Some(Started {
        board: hotline_engine::duty::DutyBoard::new(roster, d.rules, cal.clone()),
        base: std::sync::Arc::new(d.roster),
    }))
}

/// The duty routes' state, with the handover watch started (its
/// `handover_missing` events go to the log and the live stream).
pub fn api(
    cfg: &Config,
    d: Started,
    store: hotline_store::Store,
    agents: hotline_engine::control::AgentControl,
    sink: &hotline_store::EventSink,
    live: &tokio::sync::mpsc::UnboundedSender<hotline_core::CallEvent>,
) -> hotline_api::duty::DutyApi {
    let api = hotline_api::duty::DutyApi {
        board: d.board,
        base: d.base,
        store,
        agents,
        clock: std::sync::Arc::new(hotline_core::SystemClock),
        handover_grace_ms: i64::from(cfg.duty.handover_grace_min) * 60_000,
    };
    let (sink, live) = (sink.clone(), live.clone());
    api.spawn_handover_watch(std::sync::Arc::new(move |e| {
        let _ = live.send(e.clone());
        sink.event(e);
    }));
    api
}

/// The duty board of the config with the stored roster changes.
pub async fn board(
    cfg: &Config,
    store: &hotline_store::Store,
    cal: &hotline_core::Calendar,
) -> Result<hotline_engine::duty::DutyBoard> {
    let d = cfg.duty.build(cfg)?;
    let (roster, _) = hotline_api::duty::load_roster(store, &d.roster, cal)
        .await
        .context("storage: cannot read the roster changes")?;
    Ok(hotline_engine::duty::DutyBoard::new(
        roster,
        d.rules,
        cal.clone(),
    ))
}

/// `hotline roster`.
#[derive(clap::Subcommand)]
pub enum RosterCmd {
    /// The duties of a date and its changes.
    Show {
        /// YYYY-MM-DD (default today, schedule.timezone).
        #[arg(long)]
        date: Option<String>,
    },
    /// Import roster changes from CSV: date,agent,shift,action[,note] (all or nothing).
    Import {
        /// The CSV file (UTF-8, at most 512 KiB).
        file: PathBuf,
        /// Who imports (in the change records).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// One change: put an agent on a shift on a date, or take them off.
    Set {
        /// YYYY-MM-DD, the day the shift starts.
        #[arg(long)]
        date: String,
        /// The agent.
        #[arg(long)]
        agent: String,
        /// A [[shifts]] name or hours HH:MM-HH:MM (empty with remove: every shift).
        #[arg(long, default_value = "")]
        shift: String,
        /// add or remove.
        #[arg(long, default_value = "add")]
        action: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        /// Who changes it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

/// `hotline handover`.
#[derive(clap::Subcommand)]
pub enum HandoverCmd {
    /// Handovers of shifts ending from --from to --to (dates, included; default the last 7 days).
    List {
        /// YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
    },
}

async fn open(cfg: &Config) -> Result<(hotline_store::Store, hotline_core::Calendar)> {
    Ok((crate::open_store(cfg).await?, cfg.calendar()?))
}

fn date(flag: &str, s: &str) -> Result<jiff::civil::Date> {
    hotline_core::calendar::parse_date(s).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// Runs `hotline roster`.
pub fn roster(cfg: &Config, cmd: RosterCmd) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    crate::runtime()?.block_on(async {
        let (store, cal) = open(cfg).await?;
        let board = board(cfg, &store, &cal).await?;
        let fail = |e: hotline_api::ApiError| anyhow::anyhow!("{}", e.message);
        match cmd {
            RosterCmd::Show { date: d } => {
                let d = match d {
                    Some(d) => date("--date", &d)?,
                    None => cal.date_of(now)?,
                };
                print!(
                    "{}",
                    hotline_api::duty::roster_text(&board.roster(), &cal, d)?
                );
            }
            RosterCmd::Import { file, by } => {
                let len = std::fs::metadata(&file)
                    .with_context(|| format!("{}: cannot read", file.display()))?
                    .len();
                if len > hotline_api::duty::MAX_CSV as u64 {
                    anyhow::bail!(
                        "{}: {len} bytes; at most {}",
                        file.display(),
                        hotline_api::duty::MAX_CSV
                    );
                }
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("{}: cannot read as UTF-8", file.display()))?;
                let n = hotline_api::duty::import_changes(&store, &board, &text, &by, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
                println!("imported {n} roster changes");
            }
            RosterCmd::Set {
                date: d,
                agent,
                shift,
                action,
                note,
                by,
            } => {
                let change = hotline_duty::RosterChange {
                    date: date("--date", &d)?,
                    agent: hotline_core::AgentId::new(agent),
                    shift,
                    op: action
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!("--action: {e}"))?,
                    note,
                };
                let id = hotline_api::duty::apply_change(&store, &board, &change, &by, now)
                    .await
                    .map_err(fail)?;
                println!("roster change #{id} stored");
            }
        }
        store.close().await;
        Ok(())
    })
}

/// Runs `hotline handover`.
pub fn handover(cfg: &Config, cmd: HandoverCmd) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    crate::runtime()?.block_on(async {
        let (store, cal) = open(cfg).await?;
        let HandoverCmd::List { from, to } = cmd;
        let today = cal.date_of(now)?;
        let from = match from {
            Some(f) => date("--from", &f)?,
            None => today.saturating_sub(jiff::Span::new().days(7)),
        };
        let to = match to {
            Some(t) => date("--to", &t)?,
            None => today,
        };
        let (from_ms, _) = cal.day_bounds(from)?;
        let (_, to_ms) = cal.day_bounds(to)?;
        print!(
            "{}",
            hotline_api::duty::handovers_text(&store, &cal, from_ms, to_ms)
                .await
                .context("storage: cannot read the handovers")?
        );
        store.close().await;
        Ok(())
    })
}
