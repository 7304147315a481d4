//! Work lists and return-visit campaigns in the binary: the service started
//! by `serve` (fed by the engine's event stream), and `hotline worklist`
//! (import, export, list) working on the database directly.

use crate::config::settings::Center;
use crate::config::Config;
use anyhow::{Context, Result};
use hotline_api::worklist::Worklist;
use hotline_core::CallEvent;
use hotline_engine::EngineConfig;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Starts the work-list service (None when `worklist.enabled = false`):
/// it loads the open items, then folds every event the engine publishes
/// (`events` is where the engine's live events go; the service sends its
/// overdue alarms there too, and to the log through `sink`).
pub async fn start(
    cfg: &Config,
    center: &Center,
    engine: &EngineConfig,
    store: hotline_store::Store,
    sink: hotline_store::EventSink,
    events: UnboundedSender<CallEvent>,
) -> Result<Option<Worklist>> {
    if !cfg.worklist.enabled {
        return Ok(None);
    }
    let w = Worklist::start(
        store,
        cfg.worklist.service_config(center.calendar.clone(), engine),
        Arc::new(hotline_core::SystemClock),
        Some(sink),
        Some(events),
    )
    .await
    .context("worklist: cannot read the open work items")?;
    Ok(Some(w))
}

/// The engine's dial check consults the work list (`worklist.dial_work_items`):
/// an agent may also dial the numbers on their open items.
pub fn permit(cfg: &Config, worklist: Option<&Worklist>, engine: &mut EngineConfig) {
    if let (true, Some(w), Some(o)) = (
        cfg.worklist.dial_work_items,
        worklist,
        engine.outbound.as_mut(),
    ) {
        o.permit = hotline_engine::outbound::Permit(Some(Arc::new(w.clone())));
    }
}
