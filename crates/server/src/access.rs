//! Who may touch recordings on the command line, and the record of every
//! touch: users with Argon2-hashed passwords and roles (`hotline users`),
//! evidence marks that place a legal hold (`hotline recordings
//! mark/release`), finding recordings (`hotline recordings list/show`) and
//! the hash-chained audit log (`hotline audit`). The password check is the
//! console's (`hotline_api::auth::check_password`), the marks, releases and
//! file resolution the recording-access service HTTP uses
//! (`hotline_recorder::access::RecordingAccess`).

use anyhow::{anyhow, bail, Context, Result};
use hotline_api::Principal;
use hotline_config::Config;
use hotline_core::{CallType, Clock, SystemClock};
use hotline_recorder::access::{AccessError, RecordingAccess};
use hotline_recorder::listing::ListQuery;
use hotline_store::{Role, Store, User};
use std::path::{Path, PathBuf};

/// The longest password file read.
const MAX_PASSWORD: u64 = 1024;

/// Who is asking on the command line: a user and their password file.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user (see `hotline users add`).
    pub user: String,
    /// File holding their password (first line).
    pub password_file: PathBuf,
}

/// The filters of `hotline recordings list`, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct ListFlags {
    /// `--caller`: the caller's number (exact).
    pub caller: Option<String>,
    /// `--agent`.
    pub agent: Option<String>,
    /// `--from`: first day, YYYY-MM-DD in the center's calendar.
    pub from: Option<String>,
    /// `--to`: last day, included.
    pub to: Option<String>,
    /// `--marked`: only recordings with an evidence mark.
    pub marked: bool,
    /// `--type`: a call type's name.
    pub call_type: Option<String>,
    /// `--min-duration`: seconds of talk at least.
    pub min_duration: Option<u32>,
    /// `--limit`: at most this many, newest first.
    pub limit: u32,
}

/// The operating-system account, as the audit log names it (`os:NAME`).
pub fn os_user() -> String {
    format!(
        "os:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
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

/// The principal of a user whose password checks (as a console session
/// would be); the same message whether the user or the password is wrong.
async fn authenticate(store: &Store, who: &Credentials) -> Result<Principal> {
    let password = read_password(&who.password_file)?;
    let user = hotline_api::auth::check_password(store, &who.user, &password)
        .await?
        .ok_or_else(|| anyhow!("user `{}`: unknown user or wrong password", who.user))?;
    Ok(Principal {
        name: user.name,
        role: user.role,
        session: true,
    })
}

fn need(p: &Principal, role: Role, what: &str) -> Result<()> {
    if p.role < role {
        bail!(
            "user `{}` ({}) may not {what}: needs the {} role",
            p.name,
            p.role.as_str(),
            role.as_str()
        );
    }
    Ok(())
}

/// `hotline users add`: adds a user or changes their role and password.
pub fn add_user(cfg: &Config, name: &str, role: &str, password_file: &Path) -> Result<()> {
    if !valid_user_name(name) {
        bail!("user name `{name}`: 1-64 letters, digits, '-', '_' or '.'");
    }
    let role = Role::parse(role)
        .ok_or_else(|| anyhow!("--role: `{role}` is not agent, supervisor or admin"))?;
    let password = read_password(password_file)?;
    if password.chars().count() < 8 {
        bail!("--password-file: the password needs at least 8 characters");
    }
    let hash = hotline_api::hash_password(&password)?;
    crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        let now = SystemClock.now_ms();
        let user = User {
            name: name.to_string(),
            role,
            password_hash: hash,
        };
        store.put_user(&user, now).await?;
        let what = format!("{name} is {}", role.as_str());
        store
            .append_audit(now, "os:cli", "user", None, &what)
            .await?;
        println!("user {name}: {}", role.as_str());
        Ok(())
    })
}

/// The recording-access service over the config's store and recordings.
async fn recording_access(cfg: &Config) -> Result<RecordingAccess> {
    Ok(
        RecordingAccess::new(crate::open_store(cfg).await?, cfg.recordings_dir())
            .with_shared(crate::recordings::shared_store(cfg)?),
    )
}

/// A refusal of the service, naming the command-line flag it is about.
fn flagged(e: AccessError) -> anyhow::Error {
    match e {
        AccessError::BadKind(_) | AccessError::BadText(_) => anyhow!("--{e}"),
        e => anyhow!("recording: {e}"),
    }
}

/// `hotline recordings mark`: an evidence mark and legal hold (supervisor).
pub fn mark(cfg: &Config, id: &str, kind: &str, note: &str, who: &Credentials) -> Result<()> {
    RecordingAccess::call_id(id).map_err(flagged)?;
    RecordingAccess::check_mark(kind, note).map_err(flagged)?;
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let p = authenticate(access.store(), who).await?;
        need(&p, Role::Supervisor, "mark recordings")?;
        access
            .mark(id, kind, note, &p.actor(), SystemClock.now_ms())
            .await
            .map_err(flagged)?;
        println!("{id}: marked {kind} by {}; on legal hold", p.name);
        Ok(())
    })
}

/// `hotline recordings release`: ends the legal hold (admin only; a
/// refusal is on record).
pub fn release(cfg: &Config, id: &str, reason: &str, who: &Credentials) -> Result<()> {
    RecordingAccess::call_id(id).map_err(flagged)?;
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let p = authenticate(access.store(), who).await?;
        let n = access
            .release(id, reason, &p.actor(), SystemClock.now_ms())
            .await
            .map_err(flagged)?;
        println!("{id}: hold released by {} ({n} mark(s))", p.name);
        Ok(())
    })
}

/// Records a playback or export through the recording access service (the
/// one HTTP uses), by someone who need not be a user (CLI export without
/// `--user`: the operating-system account is named).
pub fn audit_cli_access(
    cfg: &Config,
    id: &str,
    action: &str,
    reason: &str,
    who: Option<&Credentials>,
) -> Result<()> {
    crate::runtime()?.block_on(async {
        let access = recording_access(cfg).await?;
        let name = match who {
            Some(c) => {
                let p = authenticate(access.store(), c).await?;
                need(&p, Role::Supervisor, action)?;
                p.audit_name()
            }
            None => os_user(),
        };
        access
            .audit(&name, action, Some(id), reason, SystemClock.now_ms())
            .await
            .map_err(flagged)?;
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

/// `hotline recordings list`: recorded calls, newest first, with their marks.
pub fn list(cfg: &Config, f: &ListFlags) -> Result<()> {
    let cal = cfg.calendar()?;
    let from = f
        .from
        .as_deref()
        .map(|d| crate::day_bounds(&cal, d, "--from").map(|b| b.0))
        .transpose()?;
    let to =
        f.to.as_deref()
            .map(|d| crate::day_bounds(&cal, d, "--to").map(|b| b.1))
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
            t.parse::<CallType>()
                .map_err(|_| anyhow!("--type: `{t}` is not one of {}", CallType::names()))
        })
        .transpose()?;
    let q = ListQuery {
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

/// `hotline audit [--verify]`: the access log (of one call), or a check of its chain.
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
