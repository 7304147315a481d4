//! `hotline worklist`: the flags; the work is `hotline_server::worklist`.

use crate::config::Config;
use anyhow::Result;
use hotline_server::worklist as w;
use std::path::PathBuf;

/// `hotline worklist`: campaigns and work items from the command line,
/// on the database (the server may run meanwhile).
#[derive(clap::Subcommand)]
pub enum WorklistCmd {
    /// Import a return-visit campaign CSV (number,name,card,notes,due,preferred,agent; see docs/operations.md).
    Import {
        /// The CSV file (UTF-8, header line first, at most 2 MiB).
        file: PathBuf,
        /// The campaign (created if new; importing again adds only new members).
        #[arg(long)]
        name: String,
        /// The queue that shares the campaign's unassigned visits (default: hotline.queue).
        #[arg(long)]
        queue: Option<String>,
        /// Due date of lines without one, YYYY-MM-DD (default: a week from now).
        #[arg(long)]
        due: Option<String>,
        /// Who imports (written on the items).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Export a campaign's members and outcomes as CSV (importable again).
    Export {
        /// The campaign's name or id.
        campaign: String,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List work items: open ones (default), or all of a campaign.
    List {
        /// Only this campaign's items (name or id), open or closed.
        #[arg(long)]
        campaign: Option<String>,
        /// Only items this agent may work (their own and their queues').
        #[arg(long)]
        agent: Option<String>,
    },
    /// Quota progress of every agent and the share of calls returned this week.
    Quotas,
}

/// Runs `hotline worklist ...`.
pub fn run(cfg: &Config, cmd: WorklistCmd) -> Result<()> {
    match cmd {
        WorklistCmd::Import {
            file,
            name,
            queue,
            due,
            by,
        } => w::import(cfg, &file, &name, queue.as_deref(), due.as_deref(), &by),
        WorklistCmd::Export { campaign, out } => w::export(cfg, &campaign, out.as_deref()),
        WorklistCmd::List { campaign, agent } => {
            w::list(cfg, campaign.as_deref(), agent.as_deref())
        }
        WorklistCmd::Quotas => w::quotas(cfg),
    }
}
