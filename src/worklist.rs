//! Work lists and return-visit campaigns in the binary: the service started
//! by `serve` (fed by the engine's event stream), and `hotline worklist`
//! (import, export, list) working on the database directly.

use crate::config::settings::Center;
use crate::config::Config;
use anyhow::{bail, Context, Result};
use hotline_api::worklist::Worklist;
use hotline_core::CallEvent;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Starts the work-list service (None when `worklist.enabled = false`):
/// it loads the open items, then folds every event the engine publishes
/// (`events` is where the engine's live events go; the service sends its
/// overdue alarms there too, and to the log through `sink`).
pub async fn start(
    cfg: &Config,
    center: &Center,
    store: hotline_store::Store,
    sink: hotline_store::EventSink,
    events: UnboundedSender<CallEvent>,
    case_owners: hotline_engine::owners::CaseOwners,
) -> Result<Option<Worklist>> {
    if !cfg.worklist.enabled {
        return Ok(None);
    }
    let w = Worklist::start(
        store,
        cfg.worklist.service_config(cfg, center),
        Arc::new(hotline_core::SystemClock),
        Some(sink),
        Some(events),
    )
    .await
    .context("worklist: cannot read the open work items")?
    .with_case_owners(case_owners);
    Ok(Some(w))
}

/// The engine's dial check consults the work list (`worklist.dial_work_items`):
/// an agent may also dial the numbers on their open items.
pub fn permit(
    cfg: &Config,
    worklist: Option<&Worklist>,
    engine: &mut hotline_engine::EngineConfig,
) {
    if let (true, Some(w), Some(o)) = (
        cfg.worklist.dial_work_items,
        worklist,
        engine.outbound.as_mut(),
    ) {
        o.permit = std::mem::take(&mut o.permit).with("work list", Arc::new(w.clone()));
    }
}

/// `hotline worklist`: campaigns and work items from the command line,
/// on the database (the server may run meanwhile).
#[derive(clap::Subcommand)]
pub enum WorklistCmd {
    /// Import a return-visit campaign CSV (number,name,card,notes,due,preferred,agent; see docs/operations.md).
    Import {
        /// The CSV file (UTF-8, header line first, at most 2 MiB).
        file: PathBuf,
        /// The campaign (created if new; importing again adds only new members).
        #[arg(long)]
        name: String,
        /// The queue that shares the campaign's unassigned visits (default: hotline.queue).
        #[arg(long)]
        queue: Option<String>,
        /// Due date of lines without one, YYYY-MM-DD (default: a week from now).
        #[arg(long)]
        due: Option<String>,
        /// Who imports (written on the items).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Export a campaign's members and outcomes as CSV (importable again).
    Export {
        /// The campaign's name or id.
        campaign: String,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List work items: open ones (default), or all of a campaign.
    List {
        /// Only this campaign's items (name or id), open or closed.
        #[arg(long)]
        campaign: Option<String>,
        /// Only items this agent may work (their own and their queues').
        #[arg(long)]
        agent: Option<String>,
    },
    /// Quota progress of every agent and the share of calls returned this week.
    Quotas,
}

async fn service(cfg: &Config, center: &Center) -> Result<Worklist> {
    Worklist::start(
        crate::open_store(cfg).await?,
        cfg.worklist.service_config(cfg, center),
        Arc::new(hotline_core::SystemClock),
        None,
        None,
    )
    .await
    .context("worklist: cannot read the open work items")
}

async fn campaign_id(w: &Worklist, which: &str) -> Result<i64> {
    hotline_api::worklist::text::campaign_id(w, which)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no campaign `{which}` (hotline worklist list shows them)"))
}

/// Runs `hotline worklist ...`.
pub fn run(cfg: &Config, cmd: WorklistCmd) -> Result<()> {
    let center = Center::build(cfg)?;
    crate::runtime()?.block_on(async {
        let w = service(cfg, &center).await?;
        match cmd {
            WorklistCmd::Import { file, name, queue, due, by } => {
                let meta = std::fs::metadata(&file)
                    .with_context(|| format!("{}: cannot read", file.display()))?;
                if meta.len() > hotline_worklist::csv::MAX_IMPORT_BYTES as u64 {
                    bail!(
                        "{}: {} bytes; at most {} are accepted (split the file)",
                        file.display(),
                        meta.len(),
                        hotline_worklist::csv::MAX_IMPORT_BYTES
                    );
                }
                let bytes = std::fs::read(&file)
                    .with_context(|| format!("{}: cannot read", file.display()))?;
                if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                    bail!("--name: 1-64 characters without control characters");
                }
                if let Some(q) = &queue {
                    if !w.config().queues.contains_key(&hotline_core::QueueId::new(q.clone())) {
                        bail!("--queue: no queue `{q}` in the config");
                    }
                }
                let due = match due {
                    None => None,
                    Some(d) => {
                        let date = hotline_core::calendar::parse_date(&d)
                            .map_err(|e| anyhow::anyhow!("--due: {e}"))?;
                        Some(center.calendar.day_bounds(date).map_err(|e| anyhow::anyhow!("--due: {e}"))?.1)
                    }
                };
                let r = w
                    .import(name.trim(), queue.as_deref(), &bytes, due, &by)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                println!(
                    "campaign {} `{}`: {} imported, {} already in the campaign or repeated, {} refused",
                    r.campaign,
                    name.trim(),
                    r.imported,
                    r.duplicates.len(),
                    r.error_count
                );
                for e in &r.errors {
                    eprintln!("{}: {e}", file.display());
                }
                if r.error_count > r.errors.len() {
                    eprintln!("... and {} more", r.error_count - r.errors.len());
                }
                if r.error_count > 0 {
                    bail!("{} line(s) not imported: fix them and import the file again (nothing is imported twice)", r.error_count);
                }
                Ok(())
            }
            WorklistCmd::Export { campaign, out } => {
                let id = campaign_id(&w, &campaign).await?;
                let items = w
                    .store()
                    .work_items(&hotline_store::ItemFilter { campaign: Some(id), ..Default::default() })
                    .await?;
                let text = hotline_api::worklist::export_csv(&items, &center.calendar);
                match out {
                    Some(path) => std::fs::write(&path, text)
                        .with_context(|| format!("--out {}: cannot write", path.display()))?,
                    None => print!("{text}"),
                }
                Ok(())
            }
            WorklistCmd::List { campaign, agent } => {
                let viewer = match &agent {
                    Some(a) => {
                        let a = hotline_core::AgentId::new(a.clone());
                        if !w.config().agents.contains(&a) {
                            bail!("--agent: no agent `{a}` in the config");
                        }
                        w.viewer(&a)
                    }
                    None => hotline_worklist::Viewer::Supervisor,
                };
                let items = match &campaign {
                    Some(c) => {
                        let id = campaign_id(&w, c).await?;
                        w.store()
                            .work_items(&hotline_store::ItemFilter { campaign: Some(id), ..Default::default() })
                            .await?
                    }
                    None => w.list(&viewer, false, 0).await?,
                };
                let cal = &center.calendar;
                print!(
                    "{}",
                    hotline_api::worklist::text::list_csv(&items, &viewer, cal, w.now_ms())
                );
                if campaign.is_none() {
                    for c in w.store().campaigns().await? {
                        eprintln!("campaign {} `{}` (created {} by {})", c.id, c.name, cal.format(c.created_ms), c.created_by);
                    }
                }
                Ok(())
            }
            WorklistCmd::Quotas => {
                print!("{}", hotline_api::worklist::text::quota_csv(&w).await?);
                Ok(())
            }
        }
    })
}

/// The work list's part of `hotline report`: quota progress and calls
/// returned (CSV sections, or an HTML section before `</body>`); empty when
/// `worklist.enabled = false`. Quotas are those of the current week and month.
pub async fn report_section(cfg: &Config, html: bool) -> Result<String> {
    if !cfg.worklist.enabled {
        return Ok(String::new());
    }
    let center = Center::build(cfg)?;
    let w = service(cfg, &center).await?;
    Ok(hotline_api::worklist::text::report_section(&w, html).await?)
}
