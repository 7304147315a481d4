//! Recordings as evidence at the binary: `hotline recordings pubkey|verify|
//! export|list|retention` and the recorder's notary (retention and the
//! startup sweep themselves live in `hotline-recorder`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use hotline_evidence::{self as ev, Notary};
use hotline_recorder::RecorderConfig;
use tracing::info;

use crate::config::settings::Center;
use crate::config::Config;

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
        /// the bundle's own.
        #[arg(long, value_name = "HEX")]
        pubkey: Option<String>,
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

/// The recorder settings for `serve`: root, fsync interval and the notary
/// (the key is created in `<data_dir>/evidence` at first start).
pub fn recorder_config(cfg: &Config) -> Result<RecorderConfig> {
    let notary = Notary::open(&cfg.storage.data_dir).with_context(|| {
        format!(
            "storage.data_dir: cannot open the evidence key in {}",
            ev::key_dir(&cfg.storage.data_dir).display()
        )
    })?;
    info!(key_id = %ev::key_id(&notary.public_key()), head = ?notary.head().map(|h| h.seq), "evidence: signing recordings");
    let mut rc = RecorderConfig::new(cfg.recordings_dir());
    rc.sync_interval = Duration::from_secs(u64::from(cfg.storage.recordings_sync_s));
    rc.notary = Some(Arc::new(notary));
    Ok(rc)
}

/// Runs `hotline recordings ...`. The config (for the data directory and the
/// recordings root) is read only when needed: verifying a bundle needs
/// nothing but the bundle.
pub fn run(config_path: &Path, data: Option<PathBuf>, cmd: RecordingsCmd) -> Result<()> {
    let load = || -> Result<Config> {
        let mut cfg = Config::load(config_path)?;
        if let Some(d) = data.clone() {
            cfg.storage.data_dir = d;
        }
        Ok(cfg)
    };
    let pinned = |hex: &Option<String>| -> Result<Option<ev::VerifyingKey>> {
        hex.as_deref()
            .map(|h| ev::parse_public_key(h).map_err(|e| anyhow!("--pubkey: {e}")))
            .transpose()
    };
    match cmd {
        RecordingsCmd::Pubkey => {
            let cfg = load()?;
            let key = ev::load_public_key(&cfg.storage.data_dir)?;
            println!("{}", ev::public_key_hex(&key));
            eprintln!("fingerprint {} (ed25519)", ev::key_id(&key));
            Ok(())
        }
        RecordingsCmd::List(filter) => crate::access::list(&load()?, &filter),
        RecordingsCmd::Retention { dry_run } => {
            let cfg = load()?;
            let notary = Notary::open(&cfg.storage.data_dir)?;
            let who = format!(
                "os:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            let rt = crate::runtime()?;
            let policy = Center::build(&cfg)?.retention;
            let summary = rt.block_on(async {
                let store = crate::open_store(&cfg).await?;
                hotline_recorder::retention::run_pass(
                    &cfg.recordings_dir(),
                    &policy,
                    &store,
                    &notary,
                    &who,
                    dry_run,
                    None,
                )
                .await
                .map_err(anyhow::Error::from)
            })?;
            let verb = if dry_run { "would remove" } else { "removed" };
            for (id, why) in &summary.deleted {
                println!("{verb} {id}: {why}");
            }
            println!("{} recording(s) {verb}", summary.deleted.len());
            if let Some(alarm) = summary.alarm {
                eprintln!("ALARM: {alarm}");
            }
            Ok(())
        }
        RecordingsCmd::Show { id } => crate::access::show(&load()?, &id),
        RecordingsCmd::Mark {
            id,
            kind,
            note,
            who,
        } => crate::access::mark(&load()?, &id, &kind, &note, &who),
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
            let cfg = load()?;
            ev::validate_id(&id)?;
            if !(0.2..=1.0).contains(&speed) {
                bail!("--speed: between 0.2 and 1.0, got {speed}");
            }
            if !(0.0..=86_400.0).contains(&start) {
                bail!("--start: seconds into the recording, 0 to 86400, got {start}");
            }
            let wav = crate::access::recording_file(&cfg, &id)?;
            // the listen is on record before a sample is played
            crate::access::audit_cli_access(&cfg, &id, "listen", &reason, Some(&who))?;
            let player = player.unwrap_or_else(default_player);
            let mut cmd = std::process::Command::new(&player);
            cmd.arg("play")
                .arg(&wav)
                .args(["--channel", &channel])
                .args(["--speed", &speed.to_string()])
                .args(["--start", &start.to_string()]);
            if let Some(out) = &output_wav {
                cmd.arg("--output-wav").arg(out);
            }
            let status = cmd.status().with_context(|| {
                format!(
                    "cannot run the player {} (build it with `cargo build --release -p hotline-phone`, or name it with --player)",
                    player.display()
                )
            })?;
            if !status.success() {
                bail!("the player {} failed ({status})", player.display());
            }
            Ok(())
        }
        RecordingsCmd::Release { id, reason, who } => {
            crate::access::release(&load()?, &id, &reason, &who)
        }
        RecordingsCmd::Export {
            id,
            out,
            reason,
            user,
            password_file,
        } => {
            let cfg = load()?;
            ev::validate_id(&id)?;
            let who =
                user.zip(password_file)
                    .map(|(user, password_file)| crate::access::Credentials {
                        user,
                        password_file,
                    });
            // the access is on record before the bundle exists
            crate::access::audit_cli_access(&cfg, &id, "export", &reason, who.as_ref())?;
            let key = ev::load_public_key(&cfg.storage.data_dir)?;
            let x = ev::bundle::export(&cfg.recordings_dir(), &id, &key, &out)
                .with_context(|| format!("export {id}"))?;
            println!(
                "exported {id} (#{}) to {}{}{}",
                x.manifest.seq,
                out.display(),
                if x.with_prev {
                    ", with the previous link"
                } else {
                    ""
                },
                if x.with_next {
                    ", with the next link"
                } else {
                    ""
                },
            );
            Ok(())
        }
        RecordingsCmd::Verify {
            target,
            all,
            pubkey,
        } => {
            let pinned = pinned(&pubkey)?;
            let target = match (target, all) {
                (Some(t), false) => Some(t),
                (None, true) => None,
                _ => bail!("verify: give a recording id, a bundle (FILE.zip) or --all"),
            };
            if let Some(t) = target
                .as_deref()
                .filter(|t| t.to_ascii_lowercase().ends_with(".zip"))
            {
                let (report, key) = ev::bundle::verify_bundle(Path::new(t), pinned.as_ref())?;
                if pinned.is_none() {
                    println!(
                        "key: the bundle's own, fingerprint {} (compare with `hotline recordings pubkey` on the server, or pass --pubkey)",
                        ev::key_id(&key)
                    );
                }
                return print_report(&report, t);
            }
            let cfg = load()?;
            let key = match pinned {
                Some(k) => k,
                None => ev::load_public_key(&cfg.storage.data_dir)?,
            };
            let head = ev::ChainHead::load(&cfg.storage.data_dir)?;
            let root = cfg.recordings_dir();
            let (report, what) = match &target {
                Some(id) => (
                    ev::verify::verify_one(&root, id, &key, head.as_ref())?,
                    id.clone(),
                ),
                None => (
                    ev::verify::verify_all(&root, &key, head.as_ref())?,
                    root.display().to_string(),
                ),
            };
            print_report(&report, &what)
        }
    }
}

fn print_report(report: &ev::verify::Report, what: &str) -> Result<()> {
    for c in &report.checked {
        if report.is_ok() {
            println!(
                "ok     #{} {} ({} samples per channel{})",
                c.seq,
                c.call_id,
                c.samples_per_channel,
                if c.recovered {
                    ", recovered after a crash"
                } else {
                    ""
                }
            );
        }
    }
    for f in &report.faults {
        println!("FAULT  {f}");
    }
    if report.is_ok() {
        println!(
            "{what}: OK ({} recording(s): file hash, signature and chain verified)",
            report.checked.len()
        );
        Ok(())
    } else {
        bail!(
            "{what}: verification FAILED: {} fault(s)",
            report.faults.len()
        )
    }
}

/// `hotline-phone` next to the running binary (both are built into the same
/// target directory or installed side by side), else on PATH.
fn default_player() -> PathBuf {
    let name = format!("hotline-phone{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(&name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}
