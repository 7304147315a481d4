//! Recordings as evidence: the recorder's settings and notary for `serve`,
//! and `hotline recordings pubkey|verify|export|play|retention` (retention
//! and the startup sweep themselves live in `hotline-recorder`, the
//! bundle and the checks in `hotline-evidence`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use hotline_evidence::{self as ev, Notary};
use hotline_recorder::retention::StoreSweep;
use hotline_recorder::shared::{SharedStore, UploaderStatus};
use hotline_recorder::RecorderConfig;
use tracing::info;

use crate::access::Credentials;
use hotline_config::settings::Center;
use hotline_config::Config;

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
    // each node of the HA pair signs its own chain, named in every manifest
    let store = cfg.recordings_store()?;
    let node = store.as_ref().map(|s| s.settings.node.clone()).or_else(|| {
        cfg.cluster
            .enabled
            .then(|| cfg.cluster.node_id.clone())
            .flatten()
    });
    let mut rc = RecorderConfig::new(cfg.recordings_dir());
    rc.sync_interval = Duration::from_secs(u64::from(cfg.storage.recordings_sync_s));
    rc.notary = Some(Arc::new(notary.with_node(node)));
    if store.is_some() {
        rc.sealed = Some(Arc::new(tokio::sync::Notify::new()));
    }
    Ok(rc)
}

/// The shared recordings store of the config (None: `local`); no request
/// is made.
pub fn shared_store(cfg: &Config) -> Result<Option<SharedStore>> {
    cfg.recordings_store()?
        .map(|s| SharedStore::open(&s.settings).context("recordings_store"))
        .transpose()
}

/// Proves the shared store works for this node (a probe object written,
/// read back and deleted): `check-config` and `serve` stop with the
/// store's own error otherwise (wrong credentials, a missing bucket, an
/// unreachable endpoint).
pub async fn check_shared_store(cfg: &Config) -> Result<Option<SharedStore>> {
    let Some(shared) = shared_store(cfg)? else {
        return Ok(None);
    };
    shared.check().await.with_context(|| {
        format!(
            "recordings_store.url: {} is not usable by node {}",
            shared.url(),
            shared.node()
        )
    })?;
    Ok(Some(shared))
}

/// `check-config`: the shared store proven as `serve` will (None: `local`);
/// the line to print.
pub fn probe_shared_store(cfg: &Config) -> Result<Option<String>> {
    if cfg.recordings_store()?.is_none() {
        return Ok(None);
    }
    let shared = crate::runtime()?.block_on(check_shared_store(cfg))?;
    Ok(shared.map(|s| format!(", recordings to {} as node {}", s.url(), s.node())))
}

/// `serve` with a shared store: proves it, publishes this node's public key
/// (refused when another machine uses the same node id) and starts the
/// uploader (a pass now for what the spool holds, then at every seal and
/// every `retry_every_s`); a `storage_alarm` event when the store starts
/// refusing.
pub async fn start_shared_store(
    cfg: &Config,
    recorder: &hotline_recorder::Recorder,
    wake: Option<Arc<tokio::sync::Notify>>,
    store: hotline_store::Store,
) -> Result<Option<SharedStore>> {
    let Some(rs) = cfg.recordings_store()? else {
        return Ok(None);
    };
    let Some(shared) = check_shared_store(cfg).await? else {
        return Ok(None);
    };
    let notary = recorder
        .notary()
        .cloned()
        .ok_or_else(|| anyhow!("recordings_store: the recorder has no signing key"))?;
    shared
        .publish_key(&notary.public_key())
        .await
        .context("recordings_store")?;
    let wake = wake.unwrap_or_else(|| Arc::new(tokio::sync::Notify::new()));
    let status = Arc::new(std::sync::Mutex::new(UploaderStatus::default()));
    let url = shared.url().to_string();
    tokio::spawn(hotline_recorder::shared::run_uploader(
        hotline_recorder::shared::Uploader {
            shared: shared.clone(),
            spool: cfg.recordings_dir(),
            key: notary.public_key(),
            wake,
            retry_every: rs.retry_every,
            status,
        },
        move |s| {
            let Some(e) = &s.last_error else { return };
            let event = hotline_core::CallEvent {
                at_ms: ev::now_ms(),
                call_id: None,
                agent: None,
                queue: None,
                kind: hotline_core::EventKind::StorageAlarm {
                    reason: format!(
                        "recordings store {url} refuses: {} sealed recording(s) wait in the spool and are retried: {e}",
                        s.pending
                    ),
                },
            };
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.append_event(&event).await {
                    tracing::error!(error = %e, "cannot log the recordings store alarm");
                }
            });
        },
        std::future::pending::<()>(),
    ));
    info!(store = %shared.url(), node = %shared.node(), "recordings: sealed recordings go to the shared store");
    Ok(Some(shared))
}

/// Retention over this node's part of the shared store (None: no store):
/// the recordings' retention with the store's own quota.
pub fn store_sweep(
    cfg: &Config,
    center: &Center,
    shared: Option<SharedStore>,
) -> Result<Option<StoreSweep>> {
    let (Some(shared), Some(rs)) = (shared, cfg.recordings_store()?) else {
        return Ok(None);
    };
    Ok(Some(StoreSweep {
        shared,
        spool: cfg.recordings_dir(),
        policy: hotline_recorder::retention::Policy {
            quota_bytes: rs.quota_bytes,
            ..center.retention.clone()
        },
    }))
}

/// `hotline recordings pubkey`: the evidence public key (hex) on stdout,
/// its fingerprint on stderr.
pub fn pubkey(cfg: &Config) -> Result<()> {
    let key = ev::load_public_key(&cfg.storage.data_dir)?;
    println!("{}", ev::public_key_hex(&key));
    eprintln!("fingerprint {} (ed25519)", ev::key_id(&key));
    Ok(())
}

/// `hotline recordings retention`: retention and the storage quota applied
/// now (or only listed with `dry_run`), by the operating-system account:
/// to the recordings root and, with a shared store, to this node's part of
/// the store (the node of the config; the key of its data directory).
pub fn retention(cfg: &Config, dry_run: bool) -> Result<()> {
    let notary = Notary::open(&cfg.storage.data_dir)?;
    let who = crate::access::os_user();
    let center = Center::build(cfg)?;
    let sweep = store_sweep(cfg, &center, shared_store(cfg)?)?;
    let (local, in_store) = crate::runtime()?.block_on(async {
        let store = crate::open_store(cfg).await?;
        let local = hotline_recorder::retention::run_pass(
            &cfg.recordings_dir(),
            &center.retention,
            &store,
            &notary,
            &who,
            dry_run,
            None,
        )
        .await?;
        let in_store = match &sweep {
            Some(x) => Some(
                hotline_recorder::retention::run_store_pass(
                    &x.shared, &x.spool, &x.policy, &store, &notary, &who, dry_run, None,
                )
                .await?,
            ),
            None => None,
        };
        Ok::<_, anyhow::Error>((local, in_store))
    })?;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut done = vec![(local, String::new())];
    if let (Some(s), Some(x)) = (in_store, &sweep) {
        let place = format!(" from {} (node {})", x.shared.url(), x.shared.node());
        done.push((s, place));
    }
    let mut failed = None;
    for (summary, place) in done {
        for (id, why) in &summary.deleted {
            println!("{verb} {id}{place}: {why}");
        }
        println!("{} recording(s) {verb}{place}", summary.deleted.len());
        if let Some(alarm) = summary.alarm {
            eprintln!("ALARM: {alarm}");
        }
        failed = failed.or(summary.error);
    }
    if let Some(e) = failed {
        bail!("retention stopped: {e}; the rest is retried at the next pass");
    }
    Ok(())
}

/// How `hotline recordings play` plays a recording.
pub struct Play {
    /// caller, agent or both.
    pub channel: String,
    /// Speed, 0.2 to 1.0.
    pub speed: f64,
    /// Seconds into the recording.
    pub start: f64,
    /// Render to this WAV file instead of the audio device.
    pub output_wav: Option<PathBuf>,
    /// Why (the audit log).
    pub reason: String,
    /// The player program (default: `hotline-phone` next to this binary).
    pub player: Option<PathBuf>,
}

/// `hotline recordings play`: the listen is audited (supervisor or admin),
/// then the recording is played by `hotline-phone play`.
pub fn play(cfg: &Config, id: &str, p: Play, who: &Credentials) -> Result<()> {
    ev::validate_id(id)?;
    if !(0.2..=1.0).contains(&p.speed) {
        bail!("--speed: between 0.2 and 1.0, got {}", p.speed);
    }
    if !(0.0..=86_400.0).contains(&p.start) {
        bail!(
            "--start: seconds into the recording, 0 to 86400, got {}",
            p.start
        );
    }
    let wav = crate::access::recording_file(cfg, id)?;
    // the listen is on record before a sample is played
    crate::access::audit_cli_access(cfg, id, "listen", &p.reason, Some(who))?;
    let player = p.player.unwrap_or_else(default_player);
    let mut cmd = std::process::Command::new(&player);
    cmd.arg("play")
        .arg(&wav)
        .args(["--channel", &p.channel])
        .args(["--speed", &p.speed.to_string()])
        .args(["--start", &p.start.to_string()]);
    if let Some(out) = &p.output_wav {
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

/// `hotline recordings export`: the access is audited (as `who`, or the
/// operating-system account), then the evidence bundle is written to `out`.
pub fn export(
    cfg: &Config,
    id: &str,
    out: &Path,
    reason: &str,
    who: Option<&Credentials>,
) -> Result<()> {
    ev::validate_id(id)?;
    // the access is on record before the bundle exists
    crate::access::audit_cli_access(cfg, id, "export", reason, who)?;
    let work = tempfile::tempdir().context("a temporary directory for the export")?;
    let (root, key) = match from_store(cfg, id, work.path())? {
        // uploaded (or the other node's): the node's chain, its key
        Some((dir, key, _, node)) => {
            println!(
                "{id}: from the shared store, node {node} (key fingerprint {})",
                ev::key_id(&key)
            );
            (dir, key)
        }
        None => (
            cfg.recordings_dir(),
            ev::load_public_key(&cfg.storage.data_dir)?,
        ),
    };
    let x = ev::bundle::export(&root, id, &key, out).with_context(|| format!("export {id}"))?;
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

/// `hotline recordings verify`: one recording (an id), a bundle (a path
/// ending in `.zip`: needs no config) or, with neither, every recording and
/// the whole chain; `pubkey` (hex) is trusted instead of the stored key.
/// The config is loaded only when needed.
pub fn verify(
    load: impl FnOnce() -> Result<Config>,
    target: Option<&str>,
    pubkey: Option<&str>,
) -> Result<()> {
    let pinned = pubkey
        .map(|h| ev::parse_public_key(h).map_err(|e| anyhow!("--pubkey: {e}")))
        .transpose()?;
    if let Some(t) = target.filter(|t| t.to_ascii_lowercase().ends_with(".zip")) {
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
    if target.is_none() {
        if let Some(shared) = shared_store(&cfg)? {
            // the recordings are in the store: every node's chain there
            let pending = ev::verify::Inventory::scan(&cfg.recordings_dir())
                .map(|i| i.manifests.len())
                .unwrap_or(0);
            if pending > 0 {
                println!("spool: {pending} sealed recording(s) not uploaded yet (checked once in the store)");
            }
            return verify_shared(&shared, pubkey);
        }
    }
    let key = match pinned {
        Some(k) => k,
        None => ev::load_public_key(&cfg.storage.data_dir)?,
    };
    if let Some(id) = target {
        let work = tempfile::tempdir().context("a temporary directory for the verification")?;
        if let Some((dir, published, head, node)) = from_store(&cfg, id, work.path())? {
            let key = pinned.unwrap_or(published);
            println!(
                "{id}: in the shared store, node {node} (key fingerprint {}{})",
                ev::key_id(&key),
                if pinned.is_some() {
                    ", pinned"
                } else {
                    ", published"
                }
            );
            let report = ev::verify::verify_one(&dir, id, &key, head.as_ref())?;
            return print_report(&report, id);
        }
    }
    let head = ev::ChainHead::load(&cfg.storage.data_dir)?;
    let root = cfg.recordings_dir();
    let (report, what) = match target {
        Some(id) => (
            ev::verify::verify_one(&root, id, &key, head.as_ref())?,
            id.to_string(),
        ),
        None => (
            ev::verify::verify_all(&root, &key, head.as_ref())?,
            root.display().to_string(),
        ),
    };
    print_report(&report, &what)
}

/// Recording `id` copied from the shared store into `work` when the config
/// has a store and the recording is not in the local spool: (the copy's
/// root, the node's published key, its chain head, the node).
type FromStore = (PathBuf, ev::VerifyingKey, Option<ev::Link>, String);
fn from_store(cfg: &Config, id: &str, work: &Path) -> Result<Option<FromStore>> {
    ev::validate_id(id)?;
    let Some(shared) = shared_store(cfg)? else {
        return Ok(None);
    };
    if ev::verify::find(&cfg.recordings_dir(), id).is_ok() {
        return Ok(None);
    }
    let found = crate::runtime()?.block_on(shared.materialize(
        id,
        &std::collections::BTreeMap::new(),
        work,
    ))?;
    Ok(found.map(|(node, dir, key, head)| (dir, key, head, node)))
}

/// `hotline recordings verify --store URL`: every node's chain in a shared
/// store, from any machine (no config; endpoint and credentials from the
/// environment).
pub fn verify_store_url(url: &str, pubkey: Option<&str>) -> Result<()> {
    let shared = SharedStore::open(&hotline_recorder::shared::SharedSettings {
        url: url.to_string(),
        node: "verify".into(),
        timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .context("--store")?;
    verify_shared(&shared, pubkey)
}

/// Parses `NODE=HEX[,NODE=HEX]`.
fn pinned_nodes(
    pubkey: Option<&str>,
) -> Result<std::collections::BTreeMap<String, ev::VerifyingKey>> {
    let mut out = std::collections::BTreeMap::new();
    for part in pubkey
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (node, hex) = part
            .split_once('=')
            .ok_or_else(|| anyhow!("--pubkey: with a shared store, give NODE=HEX[,NODE=HEX]"))?;
        let key = ev::parse_public_key(hex.trim()).map_err(|e| anyhow!("--pubkey {node}: {e}"))?;
        out.insert(node.trim().to_string(), key);
    }
    Ok(out)
}

/// Verifies every node's chain in the store and prints one block per node.
fn verify_shared(shared: &SharedStore, pubkey: Option<&str>) -> Result<()> {
    let pinned = pinned_nodes(pubkey)?;
    let work = tempfile::tempdir().context("a temporary directory for the verification")?;
    let reports = crate::runtime()?.block_on(shared.verify(&pinned, work.path()))?;
    if reports.is_empty() {
        bail!("{}: no node has recordings in this store", shared.url());
    }
    let mut failed = 0;
    for r in &reports {
        println!(
            "node {}: key fingerprint {} ({})",
            r.node,
            r.key_id,
            if r.pinned {
                "pinned"
            } else {
                "published in the store: compare with `hotline recordings pubkey` on that node, or pass --pubkey NODE=HEX"
            }
        );
        print!("{}", r.report.lines());
        let verdict = r.report.verdict(&format!("{}/{}", shared.url(), r.node));
        println!("{verdict}");
        if !r.report.is_ok() {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{}: verification FAILED on {failed} node(s)", shared.url());
    }
    println!("{}: OK ({} node(s))", shared.url(), reports.len());
    Ok(())
}

fn print_report(report: &ev::verify::Report, what: &str) -> Result<()> {
    print!("{}", report.lines());
    if !report.is_ok() {
        bail!("{}", report.verdict(what));
    }
    println!("{}", report.verdict(what));
    Ok(())
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
