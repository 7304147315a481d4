//! `hotline report`: a period's figures from the stored event log, as CSV or
//! as a self-contained HTML page (rendered by `hotline_metrics::report`).
//!
//! The period is a day of the center's calendar (`--day`, in
//! `schedule.timezone`), a shift of a day (`--shift`, from the config's
//! `[[shifts]]`, possibly crossing midnight) or any range (`--from/--to`,
//! RFC 3339, local times or dates). The events of the period and of the day
//! after it (calls that end later) are folded with the same [`Metrics`] as
//! the live figures, and the figures are those of the calls that arrived in
//! the period.

use crate::config::settings::Center;
use crate::config::Config;
use anyhow::{bail, Context, Result};
use hotline_core::{Calendar, Shift};
use hotline_metrics::kpi::{KpiConfig, Metrics};
use hotline_metrics::report::{build, report_csv, report_html, Period};
use std::path::PathBuf;

const DAY_MS: i64 = 86_400_000;

/// The longest period a report covers, days.
pub const MAX_DAYS: i64 = 31;

/// Output format of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated tables: scopes, call types, agents, hours, missed calls.
    Csv,
    /// One self-contained HTML page with tables and SVG charts.
    Html,
}

/// `hotline report` arguments (the period, the output).
#[derive(Clone, Debug, clap::Args)]
pub struct ReportArgs {
    /// A day of the center's calendar (schedule.timezone), YYYY-MM-DD: calls that arrived that day (with --shift: the day the shift starts).
    #[arg(long)]
    pub day: Option<String>,
    /// Start of the period: RFC 3339 (2026-11-22T22:00:00+08:00), a local time (2026-11-22T22:00) or a date (local midnight).
    #[arg(long, requires = "to", conflicts_with_all = ["day", "shift"])]
    pub from: Option<String>,
    /// End of the period (excluded): RFC 3339, a local time or a date; at most 31 days after --from.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A shift of the config's [[shifts]]: on --day, or the latest one that has ended.
    #[arg(long)]
    pub shift: Option<String>,
    /// The week (Monday to Monday, local) holding this date, YYYY-MM-DD.
    #[arg(long, conflicts_with_all = ["day", "shift", "from", "month"])]
    pub week: Option<String>,
    /// A calendar month, YYYY-MM (the 1st to the 1st, local).
    #[arg(long, conflicts_with_all = ["day", "shift", "from", "week"])]
    pub month: Option<String>,
    /// csv or html.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The period asked for, in the center's calendar. `now_ms` picks the
/// latest ended shift when `--shift` comes without `--day`.
pub fn period(args: &ReportArgs, cal: &Calendar, shifts: &[Shift], now_ms: i64) -> Result<Period> {
    let day = |flag: &str, d: &str| {
        hotline_core::calendar::parse_date(d).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let zone = cal.name();
    if let Some(w) = &args.week {
        let d = day("--week", w)?;
        let monday = d
            .checked_sub(jiff::Span::new().days(i64::from(d.weekday().to_monday_zero_offset())))
            .map_err(|e| anyhow::anyhow!("--week: {e}"))?;
        let next = monday
            .checked_add(jiff::Span::new().days(7))
            .map_err(|e| anyhow::anyhow!("--week: {e}"))?;
        let (from_ms, _) = cal.day_bounds(monday)?;
        let (to_ms, _) = cal.day_bounds(next)?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!("week of {monday} ({zone})"),
        });
    }
    if let Some(m) = &args.month {
        let bad = || {
            anyhow::anyhow!(
                "--month: expected YYYY-MM, got {:?}",
                m.chars().take(16).collect::<String>()
            )
        };
        if m.len() != 7 {
            return Err(bad());
        }
        let first = day("--month", &format!("{m}-01")).map_err(|_| bad())?;
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| bad())?;
        let (from_ms, _) = cal.day_bounds(first)?;
        let (to_ms, _) = cal.day_bounds(next)?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!("month {m} ({zone})"),
        });
    }
    if let Some(name) = &args.shift {
        let Some(shift) = shifts.iter().find(|s| &s.name == name) else {
            let known: Vec<&str> = shifts.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "--shift: no shift named {:?} in the config's [[shifts]] (known: {})",
                name.chars().take(64).collect::<String>(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let date = match &args.day {
            Some(d) => day("--day", d)?,
            None => shift
                .latest_ended(cal, now_ms)
                .with_context(|| format!("shift {name}"))?,
        };
        let (from_ms, to_ms) = shift
            .on(cal, date)
            .with_context(|| format!("shift {name}"))?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!(
                "shift {name} of {date} ({} to {} {zone})",
                cal.format(from_ms),
                cal.format(to_ms)
            ),
        });
    }
    match (&args.day, &args.from, &args.to) {
        (Some(d), None, None) => {
            let (from_ms, to_ms) = cal.day_bounds(day("--day", d)?)?;
            Ok(Period {
                from_ms,
                to_ms,
                label: format!("day {d} ({zone})"),
            })
        }
        (None, Some(from), Some(to)) => {
            let instant = |flag: &str, s: &str| {
                cal.parse_instant(s).map_err(|_| {
                    anyhow::anyhow!(
                        "{flag}: expected an RFC 3339 time (2026-11-22T22:00:00Z, 2026-11-22T06:00:00+08:00), a local time (2026-11-22T06:00) or a date (2026-11-22) between 1970 and 9999, got {:?}",
                        s.chars().take(64).collect::<String>()
                    )
                })
            };
            let from_ms = instant("--from", from)?;
            let to_ms = instant("--to", to)?;
            if to_ms <= from_ms {
                bail!(
                    "--to ({}) must be after --from ({})",
                    cal.format(to_ms),
                    cal.format(from_ms)
                );
            }
            if to_ms - from_ms > MAX_DAYS * DAY_MS {
                bail!("--from/--to: a report covers at most {MAX_DAYS} days; split the range");
            }
            Ok(Period {
                from_ms,
                to_ms,
                label: format!("{} to {} {zone}", cal.format(from_ms), cal.format(to_ms)),
            })
        }
        _ => bail!("give the period: --day YYYY-MM-DD, --from/--to, --shift NAME [--day], --week YYYY-MM-DD or --month YYYY-MM"),
    }
}

/// Folds the stored events of `[from_ms, to_ms)` into a new calculator.
pub async fn load(
    store: &hotline_store::Store,
    from_ms: i64,
    to_ms: i64,
    kpi: KpiConfig,
) -> Result<Metrics> {
    const PAGE: usize = 50_000;
    let mut metrics = Metrics::new(kpi);
    let mut cursor = from_ms;
    // page through the log so a busy day does not load at once
    loop {
        let page = store
            .events_between(cursor, to_ms, PAGE as i64)
            .await
            .context("storage: cannot read events")?;
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

/// Runs `hotline report`: the period's figures as CSV or HTML text.
pub async fn run(cfg: &Config, args: &ReportArgs, now_ms: i64) -> Result<String> {
    let center = Center::build(cfg)?;
    let period = period(args, &center.calendar, &center.shifts, now_ms)?;
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            bail!("storage: no database at {path} (has the hotline run with this data directory?)");
        }
    }
    let store = hotline_store::Store::connect(&url)
        .await
        .context("storage: cannot open the database")?;
    // and the next day: calls of the period that end after it
    let metrics = load(
        &store,
        period.from_ms,
        period.to_ms.saturating_add(DAY_MS),
        center.kpi,
    )
    .await;
    let (from_ms, to_ms) = (period.from_ms, period.to_ms);
    let mut report = build(&metrics?, period, center.calendar.clone());
    // the monitoring score and the agent turnover of the period are kept in the store
    hotline_api::quality::fill_snapshot(&store, &mut report.total)
        .await
        .context("storage: cannot read the quality scores")?;
    let html = args.format == Format::Html;
    let mut text = match args.format {
        Format::Csv => report_csv(&report),
        Format::Html => report_html(&report),
    };
    // the missed calls charged to the people on duty, attendance per shift
    if cfg.duty.enabled {
        let board = crate::duty::board(cfg, &store, &center.calendar).await?;
        let section = hotline_api::duty::report_section(
            &store,
            &board,
            from_ms,
            to_ms,
            &report.unanswered,
            html,
            now_ms,
        )
        .await
        .context("storage: cannot read the roster")?;
        match text.rfind("</body>") {
            Some(at) if html => text.insert_str(at, &section),
            _ => text.push_str(&section),
        }
    }
    // calls by note category (orders, bookings, complaints, ...)
    let categories = store
        .note_categories(from_ms, to_ms)
        .await
        .context("storage: cannot read the call notes")?;
    let section = hotline_metrics::report::categories_section(&categories, html);
    match text.rfind("</body>") {
        Some(at) if html => text.insert_str(at, &section),
        _ => text.push_str(&section),
    }
    store.close().await;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::ShiftPart;

    fn args(
        day: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        shift: Option<&str>,
    ) -> ReportArgs {
        ReportArgs {
            day: day.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            shift: shift.map(str::to_string),
            week: None,
            month: None,
            format: Format::Csv,
            out: None,
        }
    }

    fn night() -> Vec<Shift> {
        let part: ShiftPart = "22:00-06:00".parse().expect("part");
        vec![Shift::new("night", vec![part]).expect("shift")]
    }

    const D: i64 = 1_795_305_600_000; // 2026-11-22 00:00 UTC
    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn periods_of_days_ranges_and_shifts() {
        let utc = Calendar::utc();
        let p = period(&args(Some("2026-11-22"), None, None, None), &utc, &[], 0).unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        assert_eq!(p.label, "day 2026-11-22 (UTC)");
        let p = period(
            &args(
                None,
                Some("2026-11-22T08:00:00+08:00"),
                Some("2026-11-23"),
                None,
            ),
            &utc,
            &[],
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        // the night shift crosses midnight
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &utc,
            &night(),
            0,
        )
        .unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + 22 * HOUR_MS, D + DAY_MS + 6 * HOUR_MS)
        );
        assert_eq!(
            p.label,
            "shift night of 2026-11-22 (2026-11-22 22:00 to 2026-11-23 06:00 UTC)"
        );
        // without --day: the latest night that has ended
        let at_3am = D + DAY_MS + 3 * HOUR_MS; // during the night of the 22nd
        let p = period(
            &args(None, None, None, Some("night")),
            &utc,
            &night(),
            at_3am,
        )
        .unwrap();
        assert_eq!(p.from_ms, D - 2 * HOUR_MS, "the night of the 21st");
        let at_7am = D + DAY_MS + 7 * HOUR_MS;
        let p = period(
            &args(None, None, None, Some("night")),
            &utc,
            &night(),
            at_7am,
        )
        .unwrap();
        assert_eq!(
            p.from_ms,
            D + 22 * HOUR_MS,
            "the night of the 22nd has ended"
        );
    }

    #[test]
    fn days_and_shifts_are_those_of_the_center_s_zone() {
        let shanghai = Calendar::named("Asia/Shanghai").unwrap();
        // 2026-11-23 in Shanghai: 16:00 UTC on the 22nd to 16:00 UTC on the 23rd
        let p = period(
            &args(Some("2026-11-23"), None, None, None),
            &shanghai,
            &[],
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D + 16 * HOUR_MS, D + 40 * HOUR_MS));
        assert_eq!(p.label, "day 2026-11-23 (Asia/Shanghai)");
        // a call at 07:30 local on the 23rd (23:30 UTC on the 22nd) is in it
        let call = D + 23 * HOUR_MS + 30 * 60_000;
        assert!(p.from_ms <= call && call < p.to_ms);
        // the night shift 22:00-06:00 local of the 22nd: 14:00 to 22:00 UTC
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &shanghai,
            &night(),
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D + 14 * HOUR_MS, D + 22 * HOUR_MS));
        // a local time without an offset is in the center's zone
        let p = period(
            &args(
                None,
                Some("2026-11-23T07:00"),
                Some("2026-11-23T08:00"),
                None,
            ),
            &shanghai,
            &[],
            0,
        )
        .unwrap();
        assert_eq!(p.from_ms, D + 23 * HOUR_MS);
    }

    #[test]
    fn week_and_month_presets() {
        let shanghai = Calendar::named("Asia/Shanghai").unwrap();
        let mut a = args(None, None, None, None);
        // Thursday 2026-11-26: the week from Monday 2026-11-23 00:00 local
        a.week = Some("2026-11-26".into());
        let p = period(&a, &shanghai, &[], 0).unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + 16 * HOUR_MS, D + 16 * HOUR_MS + 7 * DAY_MS)
        );
        assert_eq!(p.label, "week of 2026-11-23 (Asia/Shanghai)");
        let mut a = args(None, None, None, None);
        a.month = Some("2026-02".into());
        let p = period(&a, &Calendar::utc(), &[], 0).unwrap();
        assert_eq!(p.to_ms - p.from_ms, 28 * DAY_MS);
        assert_eq!(p.label, "month 2026-02 (UTC)");
        for bad in [
            "2026-13",
            "2026-2",
            "202602",
            "2026-02-01",
            "",
            "x".repeat(500).as_str(),
        ] {
            let mut a = args(None, None, None, None);
            a.month = Some(bad.into());
            let e = period(&a, &Calendar::utc(), &[], 0)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--month") && e.len() < 200, "{bad}: {e}");
        }
        let mut a = args(None, None, None, None);
        a.week = Some("2026-02-30".into());
        assert!(period(&a, &Calendar::utc(), &[], 0)
            .unwrap_err()
            .to_string()
            .contains("--week"));
    }

    /// A scripted day in the store: the report names, for each missed call,
    /// the agents and the supervisor on duty, and attendance per shift.
    #[test]
    fn the_day_report_charges_missed_calls_to_the_shift_on_duty() {
        use hotline_core::{AgentId, CallEvent, CallId, CallType, EventKind, Party};
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"
[storage]
data_dir = "{}"

[schedule]
timezone = "Asia/Shanghai"

[[agents]]
id = "1001"
password = "secret-1001"

[[agents]]
id = "1002"
password = "secret-1002"

[[shifts]]
name = "early"
start = "08:00"
end = "15:00"

[[shifts]]
name = "middle"
start = "13:00"
end = "20:00"

[duty]
supervisors = {{ early = ["lead-a"], middle = ["lead-b"] }}

[[roster]]
agent = "1001"
shift = "early"
days = ["mon", "tue", "wed", "thu", "fri"]

[[roster]]
agent = "1002"
shift = "middle"
days = ["mon", "tue", "wed", "thu", "fri"]
"#,
            dir.path().display()
        );
        let cfg = Config::parse(&text).unwrap();
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let at = |hm: &str| cal.parse_instant(&format!("2026-12-07T{hm}")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = hotline_store::Store::connect(&cfg.database_url())
                .await
                .unwrap();
            let ev = |at_ms: i64, call: &str, agent: Option<&str>, kind: EventKind| CallEvent {
                at_ms,
                call_id: Some(CallId::from_stored(call)),
                agent: agent.map(AgentId::new),
                queue: None,
                kind,
            };
            let arrived = |t: i64, call: &str| {
                ev(
                    t,
                    call,
                    None,
                    EventKind::Arrived {
                        caller: Party {
                            number: "13800000000".into(),
                            display: None,
                        },
                        dialled: "hotline".into(),
                        call_type: CallType::Inquiry,
                    },
                )
            };
            let abandoned = |t: i64, call: &str| {
                ev(
                    t + 30_000,
                    call,
                    None,
                    EventKind::Abandoned {
                        wait_ms: 30_000,
                        position: 1,
                    },
                )
            };
            // 1001 logs in on time; 1002 never comes
            store
                .append_event(&CallEvent {
                    at_ms: at("07:58"),
                    call_id: None,
                    agent: Some(AgentId::new("1001")),
                    queue: None,
                    kind: EventKind::AgentRegistered {
                        contact: "sip:1001@10.0.0.1".into(),
                        expires_s: 0,
                    },
                })
                .await
                .unwrap();
            store
                .write_handover(&hotline_store::NewHandover {
                    shift: "early".into(),
                    date: "2026-12-07".into(),
                    start_ms: at("08:00"),
                    end_ms: at("15:00"),
                    written_by: "1001".into(),
                    text: "m1 to call back".into(),
                    items: vec![],
                    written_ms: at("14:50"),
                })
                .await
                .unwrap();
            for (call, hm) in [
                ("m1", "09:00"),
                ("m2", "14:00"),
                ("m3", "19:00"),
                ("m4", "22:30"),
            ] {
                store.append_event(&arrived(at(hm), call)).await.unwrap();
                store.append_event(&abandoned(at(hm), call)).await.unwrap();
            }
            store.close().await;
        });
        let mut a = args(Some("2026-12-07"), None, None, None);
        a.format = Format::Csv;
        let now = at("23:59");
        let csv = rt.block_on(run(&cfg, &a, now)).unwrap();
        let duty = csv
            .split("# duty: missed calls charged")
            .nth(1)
            .expect("the duty section");
        let line = |call: &str| {
            duty.lines()
                .find(|l| l.starts_with(&format!("{call},")) && l.contains("abandoned,"))
                .unwrap_or_else(|| panic!("{call} not charged in\n{csv}"))
                .to_string()
        };
        assert!(line("m1").ends_with(",early,1001,lead-a"), "{}", line("m1"));
        assert!(
            line("m2").ends_with(",early middle,1001 1002,lead-a lead-b"),
            "{}",
            line("m2")
        );
        assert!(
            line("m3").ends_with(",middle,1002,lead-b"),
            "{}",
            line("m3")
        );
        assert!(line("m4").ends_with(",,,"), "{}", line("m4"));
        assert!(csv.contains("\n1001,2\n"), "{csv}");
        assert!(csv.contains("\nlead-b,2\n"), "{csv}");
        assert!(
            csv.contains("early,2026-12-07,1,1,0,0,0,1.000,1.000"),
            "{csv}"
        );
        assert!(
            csv.contains("middle,2026-12-07,1,0,0,1,0,0.000,0.000"),
            "{csv}"
        );
        // the early shift's handover is listed; the middle shift had none
        assert!(
            csv.contains("early,2026-12-07,1001,2026-12-07 14:50,,,0"),
            "{csv}"
        );
        assert!(csv.contains("middle,2026-12-07,missing,,,,"), "{csv}");
        // the HTML page carries the same section
        a.format = Format::Html;
        let html = rt.block_on(run(&cfg, &a, now)).unwrap();
        let section = html.find("<section id=\"duty\">").expect("duty section");
        assert!(section < html.rfind("</body>").unwrap());
    }

    #[test]
    fn absurd_periods_are_refused_with_the_flag_named() {
        let cases: [(ReportArgs, &str); 8] = [
            (
                args(None, Some("2026-11-23"), Some("2026-11-22"), None),
                "must be after --from",
            ),
            (
                args(None, Some("2026-11-22"), Some("2026-11-22"), None),
                "must be after --from",
            ),
            (
                args(None, Some("2026-01-01"), Some("2026-12-31"), None),
                "at most 31 days",
            ),
            (
                args(None, Some("1970-01-01"), Some("9999-12-30T00:00:00Z"), None),
                "at most 31 days",
            ),
            (
                args(None, Some("2026-13-01"), Some("2026-11-22"), None),
                "--from",
            ),
            (args(Some("2026-02-30"), None, None, None), "--day"),
            (args(Some("2026-11-22"), None, None, Some("day")), "--shift"),
            (args(None, None, None, None), "--day"),
        ];
        for (a, want) in cases {
            let e = period(&a, &Calendar::utc(), &night(), D)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }
}
