//! Who may touch recordings, and the record of every touch: users with
//! Argon2-hashed passwords and roles (`hotline users`), evidence marks that
//! place a legal hold (`hotline recordings mark/release`), finding recordings
//! (`hotline recordings list/show`) and the hash-chained audit log
//! (`hotline audit`).

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use hotline_core::{CallType, Clock, SystemClock};
use hotline_recorder::access::{AccessError, Actor, RecordingAccess};
use hotline_store::{Role, Store, User};
use std::path::{Path, PathBuf};

/// The longest password file read.
const MAX_PASSWORD: u64 = 1024;

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

fn read_password(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--password-file {}: cannot read", path.display()))?;
    if meta.len() > MAX_PASSWORD {
        bail!(
            "--password-file {}: longer than {MAX_PASSWORD} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--password-file {}: not readable text", path.display()))?;
    let pw = text.lines().next().unwrap_or_default().to_string();
    if pw.is_empty() {
        bail!("--password-file {}: empty", path.display());
    }
    Ok(pw)
}

fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Checks a user's password; the same message whether the user or the
/// password is wrong.
async fn authenticate(store: &Store, who: &Credentials) -> Result<User> {
    let password = read_password(&who.password_file)?;
    let refused = || anyhow!("user `{}`: unknown user or wrong password", who.user);
    let user = store.user(&who.user).await?.ok_or_else(refused)?;
    if !hotline_api::verify_password(&user.password_hash, &password) {
        return Err(refused());
    }
    Ok(user)
}

fn need(user: &User, role: Role, what: &str) -> Result<()> {
    if user.role < role {
        bail!(
            "user `{}` ({}) may not {what}: needs the {} role",
            user.name,
            user.role.as_str(),
            role.as_str()
        );
    }
    Ok(())
}

/// Runs `hotline users ...`.
pub fn users(cfg: &Config, cmd: UsersCmd) -> Result<()> {
    match cmd {
        UsersCmd::Add {
            name,
            role,
            password_file,
        } => {
            if !valid_user_name(&name) {
                bail!("user name `{name}`: 1-64 letters, digits, '-', '_' or '.'");
            }
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow!("--role: `{role}` is not agent, supervisor or admin"))?;
            let password = read_password(&password_file)?;
            if password.chars().count() < 8 {
                bail!("--password-file: the password needs at least 8 characters");
            }
            let hash = hotline_api::hash_password(&password)?;
            crate::runtime()?.block_on(async {
                let store = crate::open_store(cfg).await?;
                let now = SystemClock.now_ms();
                store
                    .put_user(
                        &User {
                            name: name.clone(),
                            role,
                            password_hash: hash,
                        },
                        now,
                    )
                    .await?;
                store
                    .append_audit(
                        now,
                        "os:cli",
                        "user",
                        None,
                        &format!("{name} is {}", role.as_str()),
                    )
                    .await?;
                println!("user {name}: {}", role.as_str());
                Ok(())
            })
        }
    }
}

/// The recording-access service over the config's store and recordings.
async fn recording_access(cfg: &Config) -> Result<RecordingAccess> {
    Ok(RecordingAccess::new(
        crate::open_store(cfg).await?,
        cfg.recordings_dir(),
    ))
}

/// A refusal of the service, naming the command-line flag it is about.
fn flagged(e: AccessError) -> anyhow::Error {
    match e {
        AccessError::BadKind(_) | AccessError::BadText(_) => anyhow!("--{e}"),
        e => anyhow!("recording: {e}"),
    }
}

/// Who acts on the command line: a user of `hotline users`.
fn actor(user: &User) -> Actor {
    Actor {
        name: user.name.clone(),
        audit_name: format!("user:{}", user.name),
        admin: user.role >= Role::Admin,
    }
}

/// `hotline recordings mark`: an evidence mark and legal hold (supervisor).
pub fn mark(cfg: &Config, id: &str, kind: &str, note: &str, who: &Credentials) -> Result<()> {
    RecordingAccess::call_id(id).map_err(flagged)?;
    RecordingAccess::check_mark(kind, note).map_err(flagged)?;
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let user = authenticate(access.store(), who).await?;
        need(&user, Role::Supervisor, "mark recordings")?;
        access
            .mark(id, kind, note, &actor(&user), SystemClock.now_ms())
            .await
            .map_err(flagged)?;
        println!("{id}: marked {kind} by {}; on legal hold", user.name);
        Ok(())
    })
}

/// `hotline recordings release`: ends the legal hold (admin only; a
/// refusal is on record).
pub fn release(cfg: &Config, id: &str, reason: &str, who: &Credentials) -> Result<()> {
    RecordingAccess::call_id(id).map_err(flagged)?;
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let user = authenticate(access.store(), who).await?;
        let n = access
            .release(id, reason, &actor(&user), SystemClock.now_ms())
            .await
            .map_err(flagged)?;
        println!("{id}: hold released by {} ({n} mark(s))", user.name);
        Ok(())
    })
}

/// Records an access by someone who need not be a user (CLI export without
/// `--user`): the operating-system account is named.
pub fn audit_cli_access(
    cfg: &Config,
    id: &str,
    action: &str,
    reason: &str,
    who: Option<&Credentials>,
) -> Result<()> {
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        let name = match who {
            Some(c) => {
                let user = authenticate(&store, c).await?;
                need(&user, Role::Supervisor, action)?;
                format!("user:{}", user.name)
            }
            None => format!(
                "os:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            ),
        };
        store
            .append_audit(SystemClock.now_ms(), &name, action, Some(id), reason)
            .await?;
        Ok(())
    })
}

/// The WAV of recording `id` under the recordings root (from its CDR), if
/// its audio is still there.
pub fn recording_file(cfg: &Config, id: &str) -> Result<PathBuf> {
    RecordingAccess::call_id(id).map_err(flagged)?;
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let (_, path) = access.resolve(id).await.map_err(flagged)?;
        Ok(path)
    })
}

/// Start and end of a day of the center's calendar, epoch ms.
fn day_bounds(cal: &hotline_core::Calendar, day: &str, key: &str) -> Result<(i64, i64)> {
    let d = hotline_core::calendar::parse_date(day).map_err(|e| anyhow!("{key}: {e}"))?;
    cal.day_bounds(d).map_err(|e| anyhow!("{key}: {e}"))
}

/// `hotline recordings list`: recorded calls, newest first, with their marks.
pub fn list(cfg: &Config, f: &ListFilter) -> Result<()> {
    let cal = cfg.calendar()?;
    let from = f
        .from
        .as_deref()
        .map(|d| day_bounds(&cal, d, "--from").map(|b| b.0))
        .transpose()?;
    let to =
        f.to.as_deref()
            .map(|d| day_bounds(&cal, d, "--to").map(|b| b.1))
            .transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        if a >= b {
            bail!("--from must be before --to");
        }
    }
    let call_type = f
        .call_type
        .as_deref()
        .map(|t| {
            CallType::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == t)
                .ok_or_else(|| anyhow!("--type: `{t}` is not one of {}", CallType::names()))
        })
        .transpose()?;
    let q = hotline_recorder::listing::ListQuery {
        caller: f.caller.clone(),
        agent: f.agent.clone(),
        from_ms: from,
        to_ms: to,
        marked: f.marked,
        call_type,
        min_talk_ms: f.min_duration.map(|s| i64::from(s) * 1000),
        limit: f.limit,
    };
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        print!(
            "{}",
            hotline_recorder::listing::list_csv(&store, &cal, &q).await?
        );
        Ok(())
    })
}

/// `hotline recordings show`: one recording's call, marks and accesses.
pub fn show(cfg: &Config, id: &str) -> Result<()> {
    hotline_evidence::validate_id(id)?;
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        let text = hotline_recorder::listing::show_text(&store, id)
            .await?
            .ok_or_else(|| anyhow!("recording {id}: no such call"))?;
        print!("{text}");
        Ok(())
    })
}

/// `hotline audit [--verify]`: the access log, or a check of its chain.
pub fn audit(cfg: &Config, verify: bool, call: Option<&str>) -> Result<()> {
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        if verify {
            return match store.verify_audit().await? {
                Ok(n) => {
                    println!("audit log OK: {n} entries, chain intact");
                    Ok(())
                }
                Err(b) => Err(anyhow!("audit log FAULT: {b}")),
            };
        }
        print!(
            "{}",
            hotline_recorder::listing::audit_csv(&store, call).await?
        );
        Ok(())
    })
}
