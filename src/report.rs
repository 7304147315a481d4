//! `hotline report`: a day's figures from the stored event log, as CSV.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use hotline_metrics::kpi::{Figures, KpiConfig, Metrics, Snapshot};
use std::fmt::Write as _;

const DAY_MS: i64 = 86_400_000;

/// Epoch ms of 00:00 UTC of `YYYY-MM-DD`.
pub fn day_start_ms(day: &str) -> Result<i64> {
    let parts: Vec<&str> = day.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("--day: expected YYYY-MM-DD, got {day:?}");
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) else {
        bail!("--day: expected YYYY-MM-DD, got {day:?}");
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d == 0
        || d > days_in_month[(m - 1) as usize]
    {
        bail!("--day: {day:?} is not a date between 1970-01-01 and 9999-12-31");
    }
    // days from civil (H. Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * DAY_MS)
}

fn opt(v: Option<f64>, scale: f64) -> String {
    v.map(|v| format!("{:.3}", v * scale)).unwrap_or_default()
}

fn row(scope: &str, f: &Figures) -> String {
    format!(
        "{scope},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        f.offered,
        f.answered,
        f.abandoned,
        f.short_abandoned,
        f.rejected,
        opt(f.asa_ms, 0.001),
        opt(f.service_level, 1.0),
        opt(f.abandon_rate, 1.0),
        opt(f.abandon_rate_without_short, 1.0),
        opt(f.avg_talk_ms, 0.001),
        opt(f.avg_rings_to_answer, 1.0),
        opt(f.system_answered_within_rings, 1.0),
        opt(f.agent_answered_within_rings, 1.0),
        opt(f.calls_per_hour, 1.0),
    )
}

/// The CSV text of a snapshot: one table for the center and queues, one for agents.
pub fn csv(s: &Snapshot) -> String {
    let mut out = String::from(
        "scope,offered,answered,abandoned,short_abandoned,rejected,asa_s,service_level,abandon_rate,abandon_rate_without_short,avg_talk_s,avg_rings_to_answer,system_answered_within_3_rings,agent_answered_within_3_rings,calls_per_hour\n",
    );
    out.push_str(&row("center", &s.center));
    for (q, f) in &s.queues {
        // queue ids are plain tokens; keep the CSV unambiguous anyway
        out.push_str(&row(
            &format!("queue:{}", q.replace([',', '"', '\n'], "_")),
            f,
        ));
    }
    out.push_str("\nagent,answered,missed,talk_s,avg_talk_s\n");
    for (a, f) in &s.agents {
        let _ = writeln!(
            out,
            "{},{},{},{:.3},{}",
            a.replace([',', '"', '\n'], "_"),
            f.answered,
            f.missed,
            f.talk_ms as f64 / 1000.0,
            opt(f.avg_talk_ms, 0.001)
        );
    }
    out
}

/// Reads the day's events (and the next day's, for calls that end after
/// midnight) and prints the figures of calls that arrived that day.
pub async fn run(cfg: &Config, day: &str) -> Result<String> {
    let from = day_start_ms(day)?;
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            bail!("storage: no database at {path} (has the hotline run with this data directory?)");
        }
    }
    let store = hotline_store::Store::connect(&url)
        .await
        .context("storage: cannot open the database")?;
    let mut metrics = Metrics::new(KpiConfig::default());
    let mut cursor = from;
    let end = from + 2 * DAY_MS;
    // page through the log so a busy day does not load at once
    loop {
        let page = store
            .events_between(cursor, end, 50_000)
            .await
            .context("storage: cannot read events")?;
        let Some(last) = page.last().map(|e| e.at_ms) else {
            break;
        };
        let full = page.len() == 50_000;
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
    store.close().await;
    Ok(csv(&metrics.snapshot_window(from, from + DAY_MS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_convert_to_utc_midnight() {
        assert_eq!(day_start_ms("1970-01-01").unwrap(), 0);
        assert_eq!(day_start_ms("2026-11-22").unwrap(), 1_795_305_600_000);
        assert_eq!(day_start_ms("2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-32",
            "22-11-2026x",
            "",
            "1969-12-31",
            "2026-11",
        ] {
            let e = day_start_ms(bad).unwrap_err().to_string();
            assert!(e.contains("--day"), "{bad}: {e}");
        }
    }
}
