//! Complaint cases: the console's case desk wired at start (settings from
//! `[cases]`, the engine's owner map, the deadline task publishing
//! `case_warning` / `case_overdue` to the event log and the live stream),
//! and `hotline cases list|show|export` (the text is
//! `hotline_api::cases_text`).

use anyhow::{anyhow, bail, Context, Result};
use hotline_api::case_deadlines;
use hotline_api::cases::{CaseDesk, CasesConfig};
use hotline_cases::Severity;
use hotline_config::Config;
use hotline_core::{CallEvent, Clock, SystemClock};
use hotline_engine::owners::CaseOwners;
use hotline_engine::routing::NumberPattern;
use hotline_store::{CaseFilter, CaseStatus, MAX_CASE_PAGE};
use std::path::Path;
use std::sync::Arc;

/// Gives the console its case desk and starts the deadline task.
pub async fn attach(
    cfg: &Config,
    console: hotline_api::Console,
    sink: hotline_store::EventSink,
    live: tokio::sync::mpsc::UnboundedSender<CallEvent>,
    owners: CaseOwners,
    role: hotline_engine::role::RoleWatch,
) -> Result<hotline_api::Console> {
    let vip = cfg
        .hotline
        .vip
        .iter()
        .filter_map(|v| NumberPattern::parse(v).ok())
        .collect();
    let policy = cfg.cases.policy();
    // in the HA pair the active node raises the deadlines (not both)
    let gate = role.clone();
    let publish: case_deadlines::Publish = Arc::new(move |e: CallEvent| {
        if !gate.is_active() {
            return;
        }
        let _ = live.send(e.clone());
        sink.event(e);
    });
    let deadlines = case_deadlines::spawn(
        console.store().clone(),
        policy.warn_before_ms,
        Arc::new(SystemClock),
        publish,
        role,
    )
    .await
    .context("cases: cannot load the open cases")?;
    let console = console
        .with_cases(CaseDesk {
            cfg: CasesConfig {
                policy,
                categories: cfg.cases.note_categories.clone(),
                vip,
                escalate_serious_to: cfg.cases.escalate_serious_to.clone(),
            },
            owners: Some(owners.clone()),
            deadlines: Some(deadlines),
        })
        .await
        .context("cases: cannot load the case owners")?;
    tracing::info!(
        numbers = owners.len(),
        "open cases' owners loaded for routing"
    );
    Ok(console)
}

/// `hotline cases list`: cases newest first (CSV on stdout, the count on stderr).
pub fn list(
    cfg: &Config,
    status: Option<&str>,
    owner: Option<String>,
    number: Option<String>,
    severity: Option<&str>,
    overdue: bool,
    limit: i64,
) -> Result<()> {
    let now = SystemClock.now_ms();
    if !(1..=MAX_CASE_PAGE).contains(&limit) {
        bail!("--limit: 1 to {MAX_CASE_PAGE}");
    }
    let f = CaseFilter {
        status: match status {
            None => None,
            Some("open") => Some(CaseStatus::Open),
            Some("closed") => Some(CaseStatus::Closed),
            Some(s) => bail!("--status: `{}` is not open or closed", short(s)),
        },
        severity: severity
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|e| anyhow!("--severity: {e}"))
            })
            .transpose()?,
        owner,
        number,
        overdue_at: overdue.then_some(now),
        limit,
        ..CaseFilter::default()
    };
    let page = crate::runtime()?.block_on(async {
        crate::open_store(cfg)
            .await?
            .case_page(&f)
            .await
            .map_err(anyhow::Error::from)
    })?;
    print!("{}", hotline_api::cases_text::list_csv(&page.items, now));
    eprintln!("{} of {} cases", page.items.len(), page.total);
    Ok(())
}

/// `hotline cases show`: one case with its timeline and links.
pub fn show(cfg: &Config, id: i64) -> Result<()> {
    let now = SystemClock.now_ms();
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        let text = hotline_api::cases_text::show(&store, id, now)
            .await?
            .ok_or_else(|| anyhow!("no case {id}"))?;
        print!("{text}");
        Ok(())
    })
}

/// `hotline cases export`: every case opened from day `from` to day `to`
/// (included, the center's calendar) as CSV, to `out` or stdout.
pub fn export(
    cfg: &Config,
    from: Option<&str>,
    to: Option<&str>,
    out: Option<&Path>,
) -> Result<()> {
    let now = SystemClock.now_ms();
    let cal = cfg.calendar()?;
    let from_ms = from
        .map(|d| crate::day_bounds(&cal, d, "--from").map(|b| b.0))
        .transpose()?
        .unwrap_or(i64::MIN);
    let to_ms = to
        .map(|d| crate::day_bounds(&cal, d, "--to").map(|b| b.1))
        .transpose()?
        .unwrap_or(i64::MAX);
    if from_ms >= to_ms {
        bail!("--from must be before --to");
    }
    let rows = crate::runtime()?.block_on(async {
        crate::open_store(cfg)
            .await?
            .cases_with_repeats(from_ms, to_ms, now)
            .await
            .map_err(anyhow::Error::from)
    })?;
    let text = hotline_api::cases_text::export_csv(&rows, now);
    crate::write_out(out, &text)
}

fn short(s: &str) -> String {
    s.chars().take(32).collect()
}
