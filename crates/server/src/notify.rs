//! Wiring of `[notify]` and `[line_test]`: the notifier on the event tee,
//! the daily report task, and when the line test last ran.

use hotline_config::settings::Center;
use hotline_config::Config;
use hotline_core::{CallEvent, Clock, SystemClock};
use hotline_engine::EngineConfig;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

/// Builds and queues the daily report of `day`.
async fn send_daily(
    store: &hotline_store::Store,
    center: &Center,
    day: &str,
    n: &hotline_notify::Notifier,
) {
    match hotline_api::report::day_csv(store, &center.calendar, &center.kpi, day).await {
        Ok(text) => {
            if !n.send_report(day, text, SystemClock.now_ms()) {
                warn!(%day, "daily report not queued (notifier busy)");
            }
        }
        Err(e) => warn!(%day, error = %e, "daily report not built"),
    }
}

/// The HA pair's node that just became active: the last daily report slot
/// (within a day) whose report no node tried to deliver (the shared
/// `notify_deliveries`) is sent now.
async fn catch_up_daily(
    store: &hotline_store::Store,
    center: &Center,
    minutes: u16,
    n: &hotline_notify::Notifier,
) {
    let now = SystemClock.now_ms();
    let Some((at, day)) = hotline_notify::message::last_daily(&center.calendar, minutes, now)
    else {
        return;
    };
    let id = hotline_notify::message::report_id(&day);
    match store.delivery_attempted(&id, at).await {
        Ok(true) => {}
        Ok(false) => {
            info!(%day, "active: the daily report no node sent goes out now");
            send_daily(store, center, &day, n).await;
        }
        Err(e) => warn!(%day, error = %e, "active: cannot tell whether the daily report went out"),
    }
}

/// Starts the notifier (when a channel is configured) as an output of the
/// engine's events, and the daily report task; returns the time of the last
/// recorded line test (for missed slots).
pub async fn start(
    cfg: &Config,
    center: &Center,
    store: &hotline_store::Store,
    engine: &EngineConfig,
    outputs: &mut Vec<UnboundedSender<CallEvent>>,
    role: hotline_engine::role::RoleWatch,
) -> Option<i64> {
    let now = SystemClock.now_ms();
    if let Some(l) = &engine.line_test {
        let times: Vec<&str> = l.slots.iter().map(|(s, _)| s.as_str()).collect();
        match &l.trunk {
            Some(t) => info!(trunk = %t, times = ?times, number = %l.number, "line test on"),
            None => {
                warn!(times = ?times, "line test on but no [[trunks]] is configured: each test is reported line_test_failed (no trunk configured)")
            }
        }
    }
    if cfg.notify.is_enabled() {
        let n = hotline_notify::Notifier::spawn(
            cfg.notify.clone(),
            center.calendar.clone(),
            Some(store.clone()),
        );
        outputs.push(n.events());
        info!(
            email = cfg.notify.email.len(),
            webhook = cfg.notify.webhook.len(),
            "notifications on"
        );
        if let Some(minutes) = cfg
            .notify
            .daily_report_at
            .as_deref()
            .and_then(hotline_notify::config::parse_hh_mm)
        {
            let (store, center) = (store.clone(), center.clone());
            let mut changes = role.clone();
            tokio::spawn(async move {
                loop {
                    let now = SystemClock.now_ms();
                    let Some((at, day)) =
                        hotline_notify::message::next_daily(&center.calendar, minutes, now)
                    else {
                        return;
                    };
                    let due = tokio::time::sleep(std::time::Duration::from_millis(
                        (at - now).max(0) as u64,
                    ));
                    tokio::select! {
                        () = due => {}
                        r = changes.changed() => {
                            // the HA pair: a node becoming active sends the
                            // last report if no node did (it fell due while
                            // no node was active)
                            if r.is_active() {
                                catch_up_daily(&store, &center, minutes, &n).await;
                            }
                            continue;
                        }
                    }
                    // in the HA pair the active node sends it (not both)
                    if !role.is_active() {
                        info!(%day, "daily report left to the active node");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    send_daily(&store, &center, &day, &n).await;
                }
            });
        }
    }
    engine.line_test.as_ref()?;
    match store
        .line_tests(now - hotline_engine::linetest::LOOKBACK_MS, now + 1, 1)
        .await
    {
        Ok(last) => last.first().map(|e| e.at_ms),
        Err(e) => {
            warn!(error = %e, "cannot read the last line test");
            None
        }
    }
}
