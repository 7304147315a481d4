//! The stored side of `hotline report` and of the daily report the notifier
//! mails: the period's events read from the store page by page and folded
//! with the same [`Metrics`] as the live figures, the stored figures added
//! (monitoring scores, turnover), then the duty and note-category sections.
//! The period itself is resolved by `hotline_metrics::period`; the binary
//! parses the flags and prints.

use hotline_core::{Calendar, CalendarError};
use hotline_engine::duty::DutyBoard;
use hotline_metrics::kpi::{KpiConfig, Metrics};
use hotline_metrics::report::{build, categories_section, report_csv, report_html, Period};
use hotline_store::{Store, StoreError};

const DAY_MS: i64 = 86_400_000;

/// A report that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed; `what` says what was being read.
    #[error("storage: cannot read {what}: {source}")]
    Storage {
        /// What was being read (`events`, `the roster`, ...).
        what: &'static str,
        /// The store's error.
        source: StoreError,
    },
    /// A day outside the calendar's range or malformed.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

fn reading(what: &'static str) -> impl FnOnce(StoreError) -> ReportError {
    move |source| ReportError::Storage { what, source }
}

/// Folds the stored events of `[from_ms, to_ms)` into a new calculator.
pub async fn load(
    store: &Store,
    from_ms: i64,
    to_ms: i64,
    kpi: KpiConfig,
) -> Result<Metrics, ReportError> {
    const PAGE: usize = 50_000;
    let mut metrics = Metrics::new(kpi);
    let mut cursor = from_ms;
    // page through the log so a busy day does not load at once
    loop {
        let page = store
            .events_between(cursor, to_ms, PAGE as i64)
            .await
            .map_err(reading("events"))?;
        let Some(last) = page.last().map(|e| e.at_ms) else {
            break;
        };
        let full = page.len() == PAGE;
        for e in page.iter().filter(|e| e.at_ms < last || !full) {
            metrics.apply(e);
        }
        if !full {
            break;
        }
        // re-read the last millisecond on the next page (events of one ms never straddle pages twice)
        if last == cursor {
            for e in page.iter().filter(|e| e.at_ms == last) {
                metrics.apply(e);
            }
            cursor = last + 1;
        } else {
            cursor = last;
        }
    }
    Ok(metrics)
}

/// `hotline report`: the figures of the calls that arrived in `period` as
/// CSV or HTML text, with the missed calls charged to the people on duty
/// and attendance per shift when a duty board is given, and the calls by
/// note category.
pub async fn render(
    store: &Store,
    period: Period,
    calendar: &Calendar,
    kpi: KpiConfig,
    html: bool,
    duty: Option<&DutyBoard>,
    now_ms: i64,
) -> Result<String, ReportError> {
    // and the next day: calls of the period that end after it
    let metrics = load(
        store,
        period.from_ms,
        period.to_ms.saturating_add(DAY_MS),
        kpi,
    )
    .await?;
    let (from_ms, to_ms) = (period.from_ms, period.to_ms);
    let mut report = build(&metrics, period, calendar.clone());
    // the monitoring score and the agent turnover of the period are kept in the store
    crate::quality::fill_snapshot(store, &mut report.total)
        .await
        .map_err(reading("the quality scores"))?;
    let mut text = if html {
        report_html(&report)
    } else {
        report_csv(&report)
    };
    // the missed calls charged to the people on duty, attendance per shift
    if let Some(board) = duty {
        let section = crate::duty::report_section(
            store,
            board,
            from_ms,
            to_ms,
            &report.unanswered,
            html,
            now_ms,
        )
        .await
        .map_err(reading("the roster"))?;
        insert_section(&mut text, &section, html);
    }
    // calls by note category (orders, bookings, complaints, ...)
    let categories = store
        .note_categories(from_ms, to_ms)
        .await
        .map_err(reading("the call notes"))?;
    insert_section(&mut text, &categories_section(&categories, html), html);
    Ok(text)
}

/// Adds a section to a report: before `</body>` of an HTML page, at the end
/// of a CSV.
pub fn insert_section(text: &mut String, section: &str, html: bool) {
    match text.rfind("</body>") {
        Some(at) if html => text.insert_str(at, section),
        _ => text.push_str(section),
    }
}

/// The CSV report of one day (`YYYY-MM-DD`) of the center's calendar (the
/// daily report the notifier mails), from an open store.
pub async fn day_csv(
    store: &Store,
    calendar: &Calendar,
    kpi: &KpiConfig,
    day: &str,
) -> Result<String, ReportError> {
    let date = hotline_core::calendar::parse_date(day)?;
    let (from_ms, to_ms) = calendar.day_bounds(date)?;
    let metrics = load(store, from_ms, to_ms.saturating_add(DAY_MS), kpi.clone()).await?;
    let period = Period {
        from_ms,
        to_ms,
        label: format!("day {day} ({})", calendar.name()),
    };
    let mut report = build(&metrics, period, calendar.clone());
    crate::quality::fill_snapshot(store, &mut report.total)
        .await
        .map_err(reading("the quality scores"))?;
    Ok(report_csv(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    #[tokio::test]
    async fn the_daily_report_of_a_day_counts_its_calls() {
        use hotline_core::{CallEvent, CallId, EventKind, Party, QueueId};
        let calendar = Calendar::named("Asia/Shanghai").unwrap();
        let kpi = KpiConfig::default();
        let dir = tempfile::tempdir().unwrap();
        let store =
            hotline_store::Store::connect(&format!("sqlite://{}/r.db", dir.path().display()))
                .await
                .unwrap();
        let (from, _) = calendar
            .day_bounds(hotline_core::calendar::parse_date("2026-12-05").unwrap())
            .unwrap();
        let ev = |at: i64, call: &str, kind: EventKind| CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: None,
            queue: Some(QueueId::new("general")),
            kind,
        };
        // one call that day (abandoned), one the day after
        for (at, call) in [(from + 10 * HOUR_MS, "c1"), (from + 30 * HOUR_MS, "c2")] {
            store
                .append_event(&ev(
                    at,
                    call,
                    EventKind::Arrived {
                        caller: Party {
                            number: "13800000000".into(),
                            display: None,
                        },
                        dialled: "4000".into(),
                        call_type: hotline_core::CallType::Inquiry,
                    },
                ))
                .await
                .unwrap();
            store
                .append_event(&ev(
                    at + 5_000,
                    call,
                    EventKind::Abandoned {
                        wait_ms: 5_000,
                        position: 1,
                    },
                ))
                .await
                .unwrap();
        }
        let csv = day_csv(&store, &calendar, &kpi, "2026-12-05")
            .await
            .unwrap();
        assert!(
            csv.starts_with("# hotline report: day 2026-12-05 (Asia/Shanghai)"),
            "{csv}"
        );
        // the day's call only: offered 1, abandoned 1, listed as missed
        assert!(csv.contains("\ncenter,1,0,1,"), "{csv}");
        assert!(
            csv.contains("\nc1,2026-12-05 10:00,13800000000,general,abandoned"),
            "{csv}"
        );
        assert!(!csv.contains("\nc2,"), "{csv}");
        assert!(day_csv(&store, &calendar, &kpi, "2026-13-45")
            .await
            .is_err());
    }
}
