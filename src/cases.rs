//! Complaint cases in the binary: the console's case desk wired at start
//! (settings from `[cases]`, the engine's owner map, the deadline task
//! publishing `case_warning` / `case_overdue` to the event log and the live
//! stream) and `hotline cases list|show|export`.

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use hotline_api::case_deadlines;
use hotline_api::cases::{CaseDesk, CasesConfig};
use hotline_cases::{Severity, Stage};
use hotline_core::{CallEvent, Clock, SystemClock};
use hotline_engine::owners::CaseOwners;
use hotline_engine::routing::NumberPattern;
use hotline_store::{Case, CaseFilter, CaseStatus, Store, MAX_CASE_PAGE};
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A CSV field: quoted when needed; a leading `=`, `+`, `-`, `@` is
/// defused so a spreadsheet does not run it as a formula.
fn csv(s: &str) -> String {
    let s = if s.starts_with(['=', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn num(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

const HEADER: &str = "id,number,customer_name,owner,severity,stage,status,valid,validity_reason,\
opened_ms,deadline_ms,replied_ms,closed_ms,overdue,escalated_to,agent_concerned,call_id,title,closing_summary";

fn row(c: &Case, now: i64) -> String {
    [
        c.id.to_string(),
        csv(&c.number),
        csv(opt(&c.customer_name)),
        csv(&c.owner),
        c.severity.to_string(),
        c.stage.to_string(),
        if c.is_closed() { "closed" } else { "open" }.into(),
        match c.valid {
            Some(true) => "valid".into(),
            Some(false) => "invalid".into(),
            None => String::new(),
        },
        csv(opt(&c.validity_reason)),
        c.opened_ms.to_string(),
        c.deadline_ms.to_string(),
        num(c.replied_ms),
        num(c.closed_ms),
        c.overdue_at(now).to_string(),
        csv(opt(&c.escalated_to)),
        csv(opt(&c.agent_concerned)),
        csv(opt(&c.call_id)),
        csv(&c.title),
        csv(opt(&c.closing_summary)),
    ]
    .join(",")
}

/// Runs `hotline cases ...`.
pub fn run(cfg: &Config, cmd: CasesCmd) -> Result<()> {
    let now = SystemClock.now_ms();
    let rt = runtime()?;
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
                open(cfg)
                    .await?
                    .case_page(&f)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!("{HEADER}");
            for c in &page.items {
                println!("{}", row(c, now));
            }
            eprintln!("{} of {} cases", page.items.len(), page.total);
            Ok(())
        }
        CasesCmd::Show { id } => rt.block_on(async {
            let store = open(cfg).await?;
            let c = store
                .case(id)
                .await?
                .ok_or_else(|| anyhow!("no case {id}"))?;
            println!(
                "case {}  {}  owner {}  {}  {}",
                c.id,
                c.number,
                c.owner,
                c.severity,
                if c.is_closed() { "closed" } else { "open" }
            );
            println!("title: {}", c.title);
            println!(
                "stage: {} (next: {})",
                c.stage,
                c.stage.next().map_or("-", Stage::as_str)
            );
            println!(
                "reply deadline: {}{}",
                c.deadline_ms,
                if c.overdue_at(now) { "  OVERDUE" } else { "" }
            );
            if let Some(v) = c.valid {
                println!(
                    "judged {}: {}",
                    if v { "valid" } else { "invalid" },
                    opt(&c.validity_reason)
                );
            }
            if let Some(e) = &c.escalated_to {
                println!("escalated to {e}");
            }
            if let Some(a) = &c.agent_concerned {
                println!("about agent {a}");
            }
            println!("timeline:");
            for s in store.case_steps(id).await? {
                println!(
                    "  {}  {:<11} {:<10} {}",
                    s.at_ms,
                    s.action,
                    s.by,
                    s.note.replace('\n', "\n      ")
                );
            }
            for l in store.case_links(id).await? {
                println!("link: {} {} (by {})", l.kind.as_str(), l.target, l.by);
            }
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
                open(cfg)
                    .await?
                    .cases_with_repeats(from_ms, to_ms, now)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            let mut text = format!("{HEADER},repeat_calls\n");
            for r in &rows {
                text.push_str(&row(&r.case, now));
                text.push_str(&format!(",{}\n", r.repeat_calls));
            }
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

async fn open(cfg: &Config) -> Result<Store> {
    Store::connect(&cfg.database_url())
        .await
        .context("cannot open the database (storage.database_url)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv("+8613800000000"),
            "+8613800000000",
            "numbers keep their +"
        );
        assert_eq!(csv("-1"), "'-1");
    }
}
