//! `hotline report`: the flags and the wiring. The period is resolved by
//! `hotline_metrics::period` in the center's calendar, the events folded and
//! rendered by `hotline_api::report`.

use crate::config::settings::Center;
use crate::config::Config;
use anyhow::{bail, Context, Result};
use hotline_metrics::period::{period, PeriodArgs};
use std::path::PathBuf;

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

impl ReportArgs {
    fn period_args(&self) -> PeriodArgs {
        PeriodArgs {
            day: self.day.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            shift: self.shift.clone(),
            week: self.week.clone(),
            month: self.month.clone(),
        }
    }
}

/// Runs `hotline report`: the period's figures as CSV or HTML text.
pub async fn run(cfg: &Config, args: &ReportArgs, now_ms: i64) -> Result<String> {
    let center = Center::build(cfg)?;
    let period = period(
        &args.period_args(),
        &center.calendar,
        &center.shifts,
        now_ms,
    )?;
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            bail!("storage: no database at {path} (has the hotline run with this data directory?)");
        }
    }
    let store = hotline_store::Store::connect(&url)
        .await
        .context("storage: cannot open the database")?;
    let board = if cfg.duty.enabled {
        Some(crate::duty::board(cfg, &store, &center.calendar).await?)
    } else {
        None
    };
    let text = hotline_api::report::render(
        &store,
        period,
        &center.calendar,
        center.kpi,
        args.format == Format::Html,
        board.as_ref(),
        now_ms,
    )
    .await;
    store.close().await;
    Ok(text?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::Calendar;

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
}
