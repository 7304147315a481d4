//! `hotline roster` and `hotline handover`: the flags; the work is
//! `hotline_server::duty`.

use crate::config::Config;
use anyhow::Result;
use hotline_server::duty;
use std::path::PathBuf;

/// `hotline roster`.
#[derive(clap::Subcommand)]
pub enum RosterCmd {
    /// The duties of a date and its changes.
    Show {
        /// YYYY-MM-DD (default today, schedule.timezone).
        #[arg(long)]
        date: Option<String>,
    },
    /// Import roster changes from CSV: date,agent,shift,action[,note] (all or nothing).
    Import {
        /// The CSV file (UTF-8, at most 512 KiB).
        file: PathBuf,
        /// Who imports (in the change records).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// One change: put an agent on a shift on a date, or take them off.
    Set {
        /// YYYY-MM-DD, the day the shift starts.
        #[arg(long)]
        date: String,
        /// The agent.
        #[arg(long)]
        agent: String,
        /// A [[shifts]] name or hours HH:MM-HH:MM (empty with remove: every shift).
        #[arg(long, default_value = "")]
        shift: String,
        /// add or remove.
        #[arg(long, default_value = "add")]
        action: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        /// Who changes it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

/// `hotline handover`.
#[derive(clap::Subcommand)]
pub enum HandoverCmd {
    /// Handovers of shifts ending from --from to --to (dates, included; default the last 7 days).
    List {
        /// YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
    },
}

/// Runs `hotline roster`.
pub fn roster(cfg: &Config, cmd: RosterCmd) -> Result<()> {
    match cmd {
        RosterCmd::Show { date } => duty::roster_show(cfg, date.as_deref()),
        RosterCmd::Import { file, by } => duty::roster_import(cfg, &file, &by),
        RosterCmd::Set {
            date,
            agent,
            shift,
            action,
            note,
            by,
        } => duty::roster_set(
            cfg,
            duty::SetArgs {
                date: &date,
                agent: &agent,
                shift: &shift,
                action: &action,
                note: &note,
                by: &by,
            },
        ),
    }
}

/// Runs `hotline handover`.
pub fn handover(cfg: &Config, cmd: HandoverCmd) -> Result<()> {
    let HandoverCmd::List { from, to } = cmd;
    duty::handover_list(cfg, from.as_deref(), to.as_deref())
}
