//! The duty floor: built for `serve` (the board the engine and the API
//! share, the handover watch) and for `hotline roster` / `hotline handover`;
//! the work is in `hotline_api::duty` and `hotline_duty`.

use anyhow::{Context, Result};
use hotline_config::Config;
use hotline_core::Clock;
use std::path::Path;

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
    role: hotline_engine::role::RoleWatch,
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
    // in the HA pair the active node raises missing handovers (not both)
    api.spawn_handover_watch(
        std::sync::Arc::new(move |e| {
            let _ = live.send(e.clone());
            sink.event(e);
        }),
        role,
    );
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

async fn open(cfg: &Config) -> Result<(hotline_store::Store, hotline_core::Calendar)> {
    Ok((crate::open_store(cfg).await?, cfg.calendar()?))
}

fn date(flag: &str, s: &str) -> Result<jiff::civil::Date> {
    hotline_core::calendar::parse_date(s).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// Runs one roster command on the database with the config's board.
fn with_board<T>(
    cfg: &Config,
    f: impl AsyncFnOnce(
        &hotline_store::Store,
        &hotline_core::Calendar,
        &hotline_engine::duty::DutyBoard,
    ) -> Result<T>,
) -> Result<T> {
    crate::runtime()?.block_on(async {
        let (store, cal) = open(cfg).await?;
        let board = board(cfg, &store, &cal).await?;
        let r = f(&store, &cal, &board).await;
        store.close().await;
        r
    })
}

/// `hotline roster show`: the duties of `date` (default today) and its changes.
pub fn roster_show(cfg: &Config, date_arg: Option<&str>) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    with_board(cfg, async |_, cal, board| {
        let d = match date_arg {
            Some(d) => date("--date", d)?,
            None => cal.date_of(now)?,
        };
        print!(
            "{}",
            hotline_api::duty::roster_text(&board.roster(), cal, d)?
        );
        Ok(())
    })
}

/// `hotline roster import`: roster changes from a CSV file (all or nothing).
pub fn roster_import(cfg: &Config, file: &Path, by: &str) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    let len = std::fs::metadata(file)
        .with_context(|| format!("{}: cannot read", file.display()))?
        .len();
    if len > hotline_api::duty::MAX_CSV as u64 {
        anyhow::bail!(
            "{}: {len} bytes; at most {}",
            file.display(),
            hotline_api::duty::MAX_CSV
        );
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read as UTF-8", file.display()))?;
    with_board(cfg, async |store, _, board| {
        let n = hotline_api::duty::import_changes(store, board, &text, by, now)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
        println!("imported {n} roster changes");
        Ok(())
    })
}

/// One change of `hotline roster set` (the flags, unparsed).
pub struct SetArgs<'a> {
    /// `--date`, YYYY-MM-DD.
    pub date: &'a str,
    /// `--agent`.
    pub agent: &'a str,
    /// `--shift`: a shift name or hours.
    pub shift: &'a str,
    /// `--action`: add or remove.
    pub action: &'a str,
    /// `--note`.
    pub note: &'a str,
    /// `--by`.
    pub by: &'a str,
}

/// `hotline roster set`: one change stored.
pub fn roster_set(cfg: &Config, a: SetArgs<'_>) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    let change = hotline_duty::RosterChange {
        date: date("--date", a.date)?,
        agent: hotline_core::AgentId::new(a.agent),
        shift: a.shift.to_string(),
        op: a
            .action
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--action: {e}"))?,
        note: a.note.to_string(),
    };
    with_board(cfg, async |store, _, board| {
        let id = hotline_api::duty::apply_change(store, board, &change, a.by, now)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        println!("roster change #{id} stored");
        Ok(())
    })
}

/// `hotline handover list`: handovers of shifts ending from `from` to `to`
/// (dates, included; default the last 7 days).
pub fn handover_list(cfg: &Config, from: Option<&str>, to: Option<&str>) -> Result<()> {
    let now = hotline_core::SystemClock.now_ms();
    crate::runtime()?.block_on(async {
        let (store, cal) = open(cfg).await?;
        let today = cal.date_of(now)?;
        let from = match from {
            Some(f) => date("--from", f)?,
            None => today.saturating_sub(jiff::Span::new().days(7)),
        };
        let to = match to {
            Some(t) => date("--to", t)?,
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
