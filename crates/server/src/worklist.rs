//! Work lists and return-visit campaigns: the service started by `serve`
//! (fed by the engine's event stream), and `hotline worklist` (import,
//! export, list, quotas) working on the database directly.

use anyhow::{bail, Context, Result};
use hotline_api::worklist::Worklist;
use hotline_config::settings::Center;
use hotline_config::Config;
use hotline_core::CallEvent;
use std::path::Path;
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

/// The work-list service over the config's database, for one subcommand.
fn with_service<T>(
    cfg: &Config,
    f: impl AsyncFnOnce(&Worklist, &Center) -> Result<T>,
) -> Result<T> {
    let center = Center::build(cfg)?;
    crate::runtime()?.block_on(async {
        let w = service(cfg, &center).await?;
        f(&w, &center).await
    })
}

/// `hotline worklist import`: a return-visit campaign CSV (`queue` shares
/// the unassigned visits, `due` the default due date, `by` who imports).
pub fn import(
    cfg: &Config,
    file: &Path,
    name: &str,
    queue: Option<&str>,
    due: Option<&str>,
    by: &str,
) -> Result<()> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("{}: cannot read", file.display()))?;
    if meta.len() > hotline_worklist::csv::MAX_IMPORT_BYTES as u64 {
        bail!(
            "{}: {} bytes; at most {} are accepted (split the file)",
            file.display(),
            meta.len(),
            hotline_worklist::csv::MAX_IMPORT_BYTES
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        bail!("--name: 1-64 characters without control characters");
    }
    with_service(cfg, async |w, center| {
        if let Some(q) = queue {
            if !w
                .config()
                .queues
                .contains_key(&hotline_core::QueueId::new(q))
            {
                bail!("--queue: no queue `{q}` in the config");
            }
        }
        let due = match due {
            None => None,
            Some(d) => {
                let date = hotline_core::calendar::parse_date(d)
                    .map_err(|e| anyhow::anyhow!("--due: {e}"))?;
                let bounds = center.calendar.day_bounds(date);
                Some(bounds.map_err(|e| anyhow::anyhow!("--due: {e}"))?.1)
            }
        };
        let r = w
            .import(name.trim(), queue, &bytes, due, by)
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
    })
}

/// A campaign's items, open or closed.
async fn campaign_items(w: &Worklist, which: &str) -> Result<Vec<hotline_worklist::WorkItem>> {
    let id = campaign_id(w, which).await?;
    let f = hotline_store::ItemFilter {
        campaign: Some(id),
        ..Default::default()
    };
    Ok(w.store().work_items(&f).await?)
}

/// `hotline worklist export`: a campaign's members and outcomes as CSV.
pub fn export(cfg: &Config, campaign: &str, out: Option<&Path>) -> Result<()> {
    let text = with_service(cfg, async |w, center| {
        let items = campaign_items(w, campaign).await?;
        Ok(hotline_api::worklist::export_csv(&items, &center.calendar))
    })?;
    crate::write_out(out, &text)
}

/// `hotline worklist list`: open items (those `agent` may work), or all of a campaign.
pub fn list(cfg: &Config, campaign: Option<&str>, agent: Option<&str>) -> Result<()> {
    with_service(cfg, async |w, center| {
        let viewer = match agent {
            Some(a) => {
                let a = hotline_core::AgentId::new(a);
                if !w.config().agents.contains(&a) {
                    bail!("--agent: no agent `{a}` in the config");
                }
                w.viewer(&a)
            }
            None => hotline_worklist::Viewer::Supervisor,
        };
        let items = match campaign {
            Some(c) => campaign_items(w, c).await?,
            None => w.list(&viewer, false, 0).await?,
        };
        let cal = &center.calendar;
        print!(
            "{}",
            hotline_api::worklist::text::list_csv(&items, &viewer, cal, w.now_ms())
        );
        if campaign.is_none() {
            for c in w.store().campaigns().await? {
                eprintln!(
                    "campaign {} `{}` (created {} by {})",
                    c.id,
                    c.name,
                    cal.format(c.created_ms),
                    c.created_by
                );
            }
        }
        Ok(())
    })
}

/// `hotline worklist quotas`: every agent's quota progress and the share of calls returned.
pub fn quotas(cfg: &Config) -> Result<()> {
    with_service(cfg, async |w, _| {
        print!("{}", hotline_api::worklist::text::quota_csv(w).await?);
        Ok(())
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
