//! `hotline users`, and the flags of who asks and of `hotline recordings
//! list`; the work is `hotline_server::access`.

use crate::config::Config;
use anyhow::Result;
use clap::{Args, Subcommand};
use hotline_server::access;
use std::path::PathBuf;

/// `hotline users ...`
#[derive(Subcommand)]
pub enum UsersCmd {
    /// Add a user or change their role and password.
    Add {
        /// Login name (1–64 of letters, digits, `-`, `_`, `.`).
        name: String,
        /// agent, supervisor (playback) or admin (administration).
        #[arg(long)]
        role: String,
        /// File holding the password (first line; at least 8 characters).
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
    },
}

/// Who is asking: a user and their password.
#[derive(Args, Clone, Debug)]
pub struct Credentials {
    /// The user (see `hotline users add`).
    #[arg(long)]
    pub user: String,
    /// File holding their password.
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
}

/// Filters of `hotline recordings list`.
#[derive(Args, Clone, Debug, Default)]
pub struct ListFilter {
    /// Caller number (exact).
    #[arg(long)]
    pub caller: Option<String>,
    /// Agent id.
    #[arg(long)]
    pub agent: Option<String>,
    /// From this day (YYYY-MM-DD, in schedule.timezone).
    #[arg(long)]
    pub from: Option<String>,
    /// Up to and including this day (YYYY-MM-DD, in schedule.timezone).
    #[arg(long)]
    pub to: Option<String>,
    /// Only recordings with an evidence mark (held or released).
    #[arg(long)]
    pub marked: bool,
    /// Only this call type (order, inquiry, callback, complaint, reply,
    /// return_visit, other).
    #[arg(long = "type")]
    pub call_type: Option<String>,
    /// Only calls that talked at least this many seconds.
    #[arg(long)]
    pub min_duration: Option<u32>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

impl Credentials {
    /// As the server library takes them.
    pub fn plain(self) -> access::Credentials {
        access::Credentials {
            user: self.user,
            password_file: self.password_file,
        }
    }
}

impl ListFilter {
    /// As the server library takes them.
    pub fn plain(self) -> access::ListFlags {
        access::ListFlags {
            caller: self.caller,
            agent: self.agent,
            from: self.from,
            to: self.to,
            marked: self.marked,
            call_type: self.call_type,
            min_duration: self.min_duration,
            limit: self.limit,
        }
    }
}

/// Runs `hotline users ...`.
pub fn users(cfg: &Config, cmd: UsersCmd) -> Result<()> {
    let UsersCmd::Add {
        name,
        role,
        password_file,
    } = cmd;
    access::add_user(cfg, &name, &role, &password_file)
}
