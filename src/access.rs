//! Who may touch recordings, and the record of every touch: users with
//! Argon2-hashed passwords and roles (`hotline users`), evidence marks that
//! place a legal hold (`hotline recordings mark/release`), finding recordings
//! (`hotline recordings list/show`) and the hash-chained audit log
//! (`hotline audit`).

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use hotline_core::{CallId, CallType, Clock, SystemClock};
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open_store(cfg: &Config) -> Result<Store> {
    Store::connect(&cfg.database_url())
        .await
        .with_context(|| "cannot open the database (storage.database_url)")
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
            runtime()?.block_on(async {
                let store = open_store(cfg).await?;
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
        open_store(cfg).await?,
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
    runtime()?.block_on(async {
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
    runtime()?.block_on(async {
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
    runtime()?.block_on(async {
        let store = open_store(cfg).await?;
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
    runtime()?.block_on(async {
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
    runtime()?.block_on(async {
        let store = open_store(cfg).await?;
        let held = store.held_calls().await?;
        let cdrs = store.recent_cdrs(1_000_000).await?;
        println!("call_id,arrived,caller,agent,queue,type,talk_s,marks,hold,path");
        let mut shown = 0;
        for c in cdrs {
            if shown >= f.limit {
                break;
            }
            let Some(path) = &c.recording_path else {
                continue;
            };
            if from.is_some_and(|t| c.arrived_ms < t) || to.is_some_and(|t| c.arrived_ms >= t) {
                continue;
            }
            if f.caller.as_ref().is_some_and(|n| *n != c.caller)
                || f.agent
                    .as_ref()
                    .is_some_and(|a| c.agent.as_ref().map(|x| x.as_str()) != Some(a.as_str()))
                || call_type.is_some_and(|t| t != c.call_type)
                || f.min_duration
                    .is_some_and(|s| c.talk_ms.unwrap_or(0) < i64::from(s) * 1000)
            {
                continue;
            }
            let id = c.call_id.as_str().to_string();
            let marks = store.marks(&id).await?;
            if f.marked && marks.is_empty() {
                continue;
            }
            let kinds: Vec<&str> = marks.iter().map(|m| m.kind.as_str()).collect();
            let arrived = cal.format_with_offset(c.arrived_ms);
            println!(
                "{id},{arrived},{},{},{},{},{:.1},{},{},{path}",
                csv(&c.caller),
                c.agent.as_ref().map(|a| a.as_str()).unwrap_or(""),
                c.queue.as_ref().map(|q| q.as_str()).unwrap_or(""),
                c.call_type.as_str(),
                c.talk_ms.unwrap_or(0) as f64 / 1000.0,
                kinds.join("+"),
                if held.contains(&id) { "held" } else { "" },
            );
            shown += 1;
        }
        Ok(())
    })
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `hotline recordings show`: one recording's call, marks and accesses.
pub fn show(cfg: &Config, id: &str) -> Result<()> {
    hotline_evidence::validate_id(id)?;
    runtime()?.block_on(async {
        let store = open_store(cfg).await?;
        let c = store
            .cdr(&CallId::from_stored(id))
            .await?
            .ok_or_else(|| anyhow!("recording {id}: no such call"))?;
        println!("call      {id}");
        println!("caller    {}", c.caller);
        println!(
            "agent     {}",
            c.agent.as_ref().map(|a| a.as_str()).unwrap_or("-")
        );
        println!(
            "queue     {}",
            c.queue.as_ref().map(|q| q.as_str()).unwrap_or("-")
        );
        println!("type      {}", c.call_type.as_str());
        println!("talk      {:.1} s", c.talk_ms.unwrap_or(0) as f64 / 1000.0);
        println!("recording {}", c.recording_path.as_deref().unwrap_or("-"));
        println!("sha256    {}", c.recording_sha256.as_deref().unwrap_or("-"));
        for m in store.marks(id).await? {
            println!(
                "mark      {} by {} at {}: {}{}",
                m.kind.as_str(),
                m.by,
                m.at_ms,
                m.note,
                match (&m.released_by, m.released_ms) {
                    (Some(by), Some(at)) => format!(" (released by {by} at {at})"),
                    _ => " (on hold)".into(),
                }
            );
        }
        for a in store.audit(Some(id)).await? {
            println!(
                "access    {} {} by {}: {}",
                a.at_ms, a.action, a.who, a.reason
            );
        }
        Ok(())
    })
}

/// `hotline audit [--verify]`: the access log, or a check of its chain.
pub fn audit(cfg: &Config, verify: bool, call: Option<&str>) -> Result<()> {
    runtime()?.block_on(async {
        let store = open_store(cfg).await?;
        if verify {
            return match store.verify_audit().await? {
                Ok(n) => {
                    println!("audit log OK: {n} entries, chain intact");
                    Ok(())
                }
                Err(b) => Err(anyhow!("audit log FAULT: {b}")),
            };
        }
        println!("id,at_ms,who,action,call_id,reason,hash");
        for a in store.audit(call).await? {
            println!(
                "{},{},{},{},{},{},{}",
                a.id,
                a.at_ms,
                csv(&a.who),
                csv(&a.action),
                a.call_id.as_deref().unwrap_or(""),
                csv(&a.reason),
                a.hash
            );
        }
        Ok(())
    })
}
