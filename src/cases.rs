//! `hotline cases`: the flags; the work is `hotline_server::cases`.

use crate::config::Config;
use anyhow::Result;
use clap::Subcommand;
use hotline_server::cases;
use std::path::PathBuf;

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

/// Runs `hotline cases ...`.
pub fn run(cfg: &Config, cmd: CasesCmd) -> Result<()> {
    match cmd {
        CasesCmd::List {
            status,
            owner,
            number,
            severity,
            overdue,
            limit,
        } => cases::list(
            cfg,
            status.as_deref(),
            owner,
            number,
            severity.as_deref(),
            overdue,
            limit,
        ),
        CasesCmd::Show { id } => cases::show(cfg, id),
        CasesCmd::Export { from, to, out } => {
            cases::export(cfg, from.as_deref(), to.as_deref(), out.as_deref())
        }
    }
}
