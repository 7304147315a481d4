//! `hotline recordings`: the flags; the work is `hotline_server::recordings`
//! and `hotline_server::access`.

use anyhow::Result;
use clap::Subcommand;
use hotline_server::{access, recordings as rec};
use std::path::{Path, PathBuf};

/// `hotline recordings ...`
#[derive(Subcommand)]
pub enum RecordingsCmd {
    /// Print the server's evidence public key (hex) and its fingerprint.
    Pubkey,
    /// Check recordings offline: file hash, signature, chain. Exit status 2
    /// and one line per fault when anything fails.
    Verify {
        /// A recording id (call id), or an exported bundle (a path ending in
        /// `.zip`).
        target: Option<String>,
        /// Every recording under the recordings root, and the whole chain.
        #[arg(long, conflicts_with = "target")]
        all: bool,
        /// Trust this public key (hex) instead of the data directory's or
        /// the bundle's own; with a shared store, `NODE=HEX[,NODE=HEX]`
        /// instead of the nodes' published keys.
        #[arg(long, value_name = "HEX")]
        pubkey: Option<String>,
        /// Verify every node's chain in this shared store
        /// (`s3://bucket/prefix` or `file:///dir`) from any machine, without
        /// a config: endpoint and credentials from the environment
        /// (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, `AWS_REGION`,
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
        #[arg(long, value_name = "URL", conflicts_with = "target")]
        store: Option<String>,
    },
    /// Write an evidence bundle (WAV, manifest, public key, neighbouring
    /// chain links) that verifies offline with nothing else present.
    Export {
        /// The recording id (call id).
        id: String,
        /// The zip file to write (must not exist).
        #[arg(long, value_name = "FILE.zip")]
        out: PathBuf,
        /// Why it is exported (written to the audit log).
        #[arg(long, default_value = "")]
        reason: String,
        /// Export as this user (supervisor or admin); without it the
        /// operating-system account is named in the audit log.
        #[arg(long, requires = "password_file")]
        user: Option<String>,
        /// The user's password file.
        #[arg(long, value_name = "FILE", requires = "user")]
        password_file: Option<PathBuf>,
    },
    /// Apply retention and the storage quota now (what `serve` does every
    /// `retention.check_every_s`); held recordings are never removed.
    Retention {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Recorded calls, newest first, with their evidence marks (CSV).
    List(crate::access::ListFilter),
    /// One recording: its call, marks and every access to it.
    Show {
        /// The recording id (call id).
        id: String,
    },
    /// Mark a recording as evidence; the mark places a legal hold
    /// (supervisor or admin).
    Mark {
        /// The recording id (call id).
        id: String,
        /// extortion, abuse, dispute or other.
        #[arg(long)]
        kind: String,
        /// What it shows.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        who: crate::access::Credentials,
    },
    /// Listen to a recording on this machine's audio device (supervisor or
    /// admin; the listen is written to the audit log first). The audio is
    /// played by `hotline-phone play`, so the server binary needs no sound
    /// library: pause, seek and a pitch-keeping slow-down are its keys.
    Play {
        /// The recording id (call id).
        id: String,
        /// caller (left), agent (right) or both.
        #[arg(long, default_value = "both", value_parser = ["caller", "agent", "both"])]
        channel: String,
        /// Playback speed, 0.2 to 1.0; slower keeps the pitch (hard-to-hear words).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start this many seconds in.
        #[arg(long, default_value_t = 0.0)]
        start: f64,
        /// Render to this WAV file instead of the audio device.
        #[arg(long, value_name = "FILE")]
        output_wav: Option<PathBuf>,
        /// Why it is listened to (written to the audit log).
        #[arg(long, default_value = "")]
        reason: String,
        /// The player program (default: `hotline-phone` next to this binary,
        /// else on PATH).
        #[arg(long, value_name = "PATH")]
        player: Option<PathBuf>,
        #[command(flatten)]
        who: crate::access::Credentials,
    },
    /// Release a recording's legal hold (admin only; logged).
    Release {
        /// The recording id (call id).
        id: String,
        /// Why the hold ends.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: crate::access::Credentials,
    },
}

/// Runs `hotline recordings ...`. The config (for the data directory and the
/// recordings root) is read only when needed: verifying a bundle needs
/// nothing but the bundle.
pub fn run(config_path: &Path, data: Option<PathBuf>, cmd: RecordingsCmd) -> Result<()> {
    let load = || crate::load_with_data(config_path, data.clone());
    match cmd {
        RecordingsCmd::Pubkey => rec::pubkey(&load()?),
        RecordingsCmd::List(filter) => access::list(&load()?, &filter.plain()),
        RecordingsCmd::Retention { dry_run } => rec::retention(&load()?, dry_run),
        RecordingsCmd::Show { id } => access::show(&load()?, &id),
        RecordingsCmd::Mark {
            id,
            kind,
            note,
            who,
        } => access::mark(&load()?, &id, &kind, &note, &who.plain()),
        RecordingsCmd::Play {
            id,
            channel,
            speed,
            start,
            output_wav,
            reason,
            player,
            who,
        } => {
            let play = rec::Play {
                channel,
                speed,
                start,
                output_wav,
                reason,
                player,
            };
            rec::play(&load()?, &id, play, &who.plain())
        }
        RecordingsCmd::Release { id, reason, who } => {
            access::release(&load()?, &id, &reason, &who.plain())
        }
        RecordingsCmd::Export {
            id,
            out,
            reason,
            user,
            password_file,
        } => {
            let who = user
                .zip(password_file)
                .map(|(user, password_file)| access::Credentials {
                    user,
                    password_file,
                });
            rec::export(&load()?, &id, &out, &reason, who.as_ref())
        }
        RecordingsCmd::Verify {
            target,
            all,
            pubkey,
            store,
        } => {
            if let Some(url) = store {
                return rec::verify_store_url(&url, pubkey.as_deref());
            }
            if target.is_some() == all {
                anyhow::bail!(
                    "verify: give a recording id, a bundle (FILE.zip) or --all (or --store URL)"
                );
            }
            rec::verify(load, target.as_deref(), pubkey.as_deref())
        }
    }
}
