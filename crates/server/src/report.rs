//! `hotline report`: the period is resolved by `hotline_metrics::period`
//! in the center's calendar, the events folded and rendered by
//! `hotline_api::report`, with the duty floor's and the work list's
//! sections.

use anyhow::{bail, Context, Result};
use hotline_config::settings::Center;
use hotline_config::Config;
use hotline_metrics::period::{period, PeriodArgs};
use std::path::Path;

/// `hotline report`: the period's figures (CSV, or HTML with `html`), with
/// the work list's section, to `out` or stdout.
pub fn report(cfg: &Config, args: &PeriodArgs, html: bool, out: Option<&Path>) -> Result<()> {
    use hotline_core::Clock;
    let runtime = crate::runtime()?;
    let now = hotline_core::SystemClock.now_ms();
    let mut text = runtime.block_on(run(cfg, args, html, now))?;
    let visits = runtime.block_on(crate::worklist::report_section(cfg, html))?;
    hotline_api::report::insert_section(&mut text, &visits, html);
    crate::write_out(out, &text)
}

/// Runs `hotline report`: the period's figures as CSV or HTML text.
pub async fn run(cfg: &Config, args: &PeriodArgs, html: bool, now_ms: i64) -> Result<String> {
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
        html,
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
        let a = PeriodArgs {
            day: Some("2026-12-07".into()),
            ..PeriodArgs::default()
        };
        let now = at("23:59");
        let csv = rt.block_on(run(&cfg, &a, false, now)).unwrap();
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
        let html = rt.block_on(run(&cfg, &a, true, now)).unwrap();
        let section = html.find("<section id=\"duty\">").expect("duty section");
        assert!(section < html.rfind("</body>").unwrap());
    }
}
