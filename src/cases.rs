//! Complaint cases in the binary: the console's case desk wired at start
//! (settings from `[cases]`, the engine's owner map, the deadline task
//! publishing `case_warning` / `case_overdue` to the event log and the live
//! stream) and the flags of `hotline cases list|show|export` (the text is
//! `hotline_api::cases_text`).

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use hotline_api::case_deadlines;
use hotline_api::cases::{CaseDesk, CasesConfig};
use hotline_cases::Severity;
use hotline_core::{CallEvent, Clock, SystemClock};
use hotline_engine::owners::CaseOwners;
use hotline_engine::routing::NumberPattern;
use hotline_store::{CaseFilter, CaseStatus, MAX_CASE_PAGE};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Gives the console its case desk and starts the deadline task.
pub async fn attach(
    cfg: &Config,
    console: hotline_api::Console,
    sink: hotline_store::EventSink,
    live: tokio::sync::mpsc::UnboundedSender<CallEvent>,
    owners: CaseOwners,
) -> Result<hotline_api::Console> {
    let vip = cfg
        .hotline
        .vip
        .iter()
        .filter_map(|v| NumberPattern::parse(v).ok())
        .collect();
    let policy = cfg.cases.policy();
    let publish: case_deadlines::Publish = Arc::new(move |e: CallEvent| {
        let _ = live.send(e.clone());
        sink.event(e);
    });
    let deadlines = case_deadlines::spawn(
        console.store().clone(),
        policy.warn_before_ms,
        Arc::new(SystemClock),
        publish,
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

/// `hotline cases ...`
#[derive(Subcommand)]
pub enum CasesCmd {
    /// Cases, newest first.
    List {
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        /// The owning agent.
        #[arg(long)]
        owner: Option<String>,
        /// The customer's number.
        #[arg(long)]
        number: Option<String>,
        /// general, major or crisis.
        #[arg(long)]
        severity: Option<String>,
        /// Only cases past their reply deadline without a reply.
        #[arg(long)]
        overdue: bool,
        /// At most this many (1-500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One case with its timeline and links.
    Show {
        /// The case id.
        id: i64,
    },
    /// Every case opened in a period, as CSV.
    Export {
        /// First day (YYYY-MM-DD, the center's time zone).
        #[arg(long)]
        from: Option<String>,
        /// Last day, included.
        #[arg(long)]
        to: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs `hotline cases ...`.
pub fn run(cfg: &Config, cmd: CasesCmd) -> Result<()> {
    let now = SystemClock.now_ms();
    let rt = crate::runtime()?;
    match cmd {
        CasesCmd::List {
            status,
            owner,
            number,
            severity,
            overdue,
            limit,
        } => {
            if !(1..=MAX_CASE_PAGE).contains(&limit) {
                bail!("--limit: 1 to {MAX_CASE_PAGE}");
            }
            let f = CaseFilter {
                status: match status.as_deref() {
                    None => None,
                    Some("open") => Some(CaseStatus::Open),
                    Some("closed") => Some(CaseStatus::Closed),
                    Some(s) => bail!("--status: `{}` is not open or closed", short(s)),
                },
                severity: severity
                    .as_deref()
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
            let page = rt.block_on(async {
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
        CasesCmd::Show { id } => rt.block_on(async {
            let store = crate::open_store(cfg).await?;
            let text = hotline_api::cases_text::show(&store, id, now)
                .await?
                .ok_or_else(|| anyhow!("no case {id}"))?;
            print!("{text}");
            Ok(())
        }),
        CasesCmd::Export { from, to, out } => {
            let cal = cfg.calendar()?;
            let day = |d: &str, key: &str| -> Result<(i64, i64)> {
                let d = hotline_core::calendar::parse_date(d).map_err(|e| anyhow!("{key}: {e}"))?;
                cal.day_bounds(d).map_err(|e| anyhow!("{key}: {e}"))
            };
            let from_ms = from
                .as_deref()
                .map(|d| day(d, "--from").map(|b| b.0))
                .transpose()?
                .unwrap_or(i64::MIN);
            let to_ms = to
                .as_deref()
                .map(|d| day(d, "--to").map(|b| b.1))
                .transpose()?
                .unwrap_or(i64::MAX);
            if from_ms >= to_ms {
                bail!("--from must be before --to");
            }
            let rows = rt.block_on(async {
                crate::open_store(cfg)
                    .await?
                    .cases_with_repeats(from_ms, to_ms, now)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            let text = hotline_api::cases_text::export_csv(&rows, now);
            match out {
                Some(p) => std::fs::write(&p, text)
                    .with_context(|| format!("--out: cannot write {}", p.display()))?,
                None => std::io::stdout().write_all(text.as_bytes())?,
            }
            Ok(())
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(32).collect()
}
