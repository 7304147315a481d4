//! Retention and the storage quota. Recordings older than their queue's
//! retention, and then the oldest recordings while the recordings exceed the
//! quota (a recording phone's overwrite mode), are removed; recordings on a
//! legal hold never are. Each removal is written to the audit log first, then
//! a tombstone signed by the server key replaces the WAV (its manifest stays,
//! so the chain and `verify` stay whole). When only held recordings are left
//! and the quota is still exceeded, an alarm is raised instead.
//!
//! [`plan`] decides (pure: the time is an argument); [`run_pass`] does the
//! IO; [`spawn`] runs a pass now and then while the engine runs. With a
//! shared recordings store, [`run_store_pass`] applies the same retention
//! (and the store's own quota) to this node's part of the store, tombstones
//! written into the store.

use crate::shared::SharedStore;
use crate::ServiceError;
use hotline_core::{CallEvent, EventKind};
use hotline_evidence::tombstone::Tombstone;
use hotline_evidence::Notary;
use hotline_store::{EventSink, Store};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{error, info, warn};

/// What may be kept, and for how long.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    /// Days a recording is kept (0 = no age limit).
    pub days: u32,
    /// Queues with their own retention, days (0 = no age limit).
    pub days_by_queue: HashMap<String, u32>,
    /// Largest total size of the recordings, bytes (None = no quota).
    pub quota_bytes: Option<u64>,
}

/// One recording as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rec {
    /// Its call.
    pub call_id: String,
    /// When the call arrived, epoch ms.
    pub arrived_ms: i64,
    /// The call's queue.
    pub queue: Option<String>,
    /// WAV size, bytes.
    pub size: u64,
    /// On legal hold.
    pub held: bool,
}

/// What a pass will do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Indexes into the recordings given to [`plan`], with the reason.
    pub delete: Vec<(usize, String)>,
    /// Raised when the quota cannot be met without touching held recordings.
    pub alarm: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

/// Decides which recordings go: first every unheld recording older than its
/// queue's retention, then the oldest unheld ones until the total fits the
/// quota. Held recordings are never chosen.
pub fn plan(recs: &[Rec], now_ms: i64, p: &Policy) -> Plan {
    let mut out = Plan::default();
    let mut gone = vec![false; recs.len()];
    for (i, r) in recs.iter().enumerate() {
        let days = r
            .queue
            .as_ref()
            .and_then(|q| p.days_by_queue.get(q))
            .copied()
            .unwrap_or(p.days);
        if days > 0 && !r.held && r.arrived_ms < now_ms.saturating_sub(i64::from(days) * DAY_MS) {
            gone[i] = true;
            let queue = r.queue.as_deref().unwrap_or("-");
            out.delete
                .push((i, format!("older than {days} days (queue {queue})")));
        }
    }
    if let Some(quota) = p.quota_bytes {
        let mut total: u64 = recs
            .iter()
            .zip(&gone)
            .filter(|(_, g)| !**g)
            .map(|(r, _)| r.size)
            .sum();
        let mut oldest: Vec<usize> = (0..recs.len()).filter(|i| !gone[*i]).collect();
        oldest.sort_by_key(|i| (recs[*i].arrived_ms, recs[*i].call_id.clone()));
        for i in oldest {
            if total <= quota {
                break;
            }
            if recs[i].held {
                continue;
            }
            total -= recs[i].size;
            out.delete.push((i, "storage quota".to_string()));
        }
        if total > quota {
            out.alarm = Some(format!(
                "recordings use {total} bytes, over the quota of {quota}, and every recording left is on legal hold"
            ));
        }
    }
    out
}

impl Policy {
    /// Whether anything is ever removed: an age limit somewhere or a quota.
    pub fn prunes(&self) -> bool {
        self.days > 0 || self.quota_bytes.is_some() || self.days_by_queue.values().any(|d| *d > 0)
    }
}

/// What a pass did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Recordings removed (or that would be, in a dry run), with the reason.
    pub deleted: Vec<(String, String)>,
    /// The alarm, if any.
    pub alarm: Option<String>,
    /// Why a pass over the shared store stopped before the end (the store
    /// refused): what is left is retried at the next pass.
    pub error: Option<String>,
}

/// The recordings the call log knows, by call: when the call arrived and
/// its queue.
async fn calls(store: &Store) -> Result<HashMap<String, (i64, Option<String>)>, ServiceError> {
    Ok(store
        .recent_cdrs(1_000_000)
        .await?
        .into_iter()
        .filter(|c| c.recording_path.is_some())
        .map(|c| {
            (
                c.call_id.as_str().to_string(),
                (c.arrived_ms, c.queue.map(|q| q.as_str().to_string())),
            )
        })
        .collect())
}

/// Who removes, when, on whose record and key.
struct Remover<'a> {
    store: &'a Store,
    notary: &'a Notary,
    who: &'a str,
    now: i64,
}

impl<'a> Remover<'a> {
    /// The remover of a pass starting now.
    fn now(store: &'a Store, notary: &'a Notary, who: &'a str) -> Self {
        Remover {
            store,
            notary,
            who,
            now: hotline_evidence::now_ms(),
        }
    }
}

/// The deletion on record (the audit entry, before it happens, saying
/// `reason` and `where_`) and its tombstone, signed.
async fn tombstone(
    by: &Remover<'_>,
    r: &Rec,
    file: String,
    file_sha256: String,
    reason: &str,
    where_: &str,
) -> Result<Tombstone, ServiceError> {
    let entry = by
        .store
        .append_audit(
            by.now,
            by.who,
            "delete",
            Some(&r.call_id),
            &format!("{reason}{where_}"),
        )
        .await?;
    let mut t = Tombstone {
        call_id: r.call_id.clone(),
        file,
        file_sha256,
        deleted_at_ms: by.now,
        reason: reason.to_string(),
        audit_hash: entry.hash,
        key_id: String::new(),
        signature: String::new(),
    };
    by.notary.sign_tombstone(&mut t);
    Ok(t)
}

/// The `recording_deleted` event of a removal.
fn deleted(now: i64, r: &Rec, rel: String, reason: String) -> CallEvent {
    CallEvent {
        at_ms: now,
        call_id: Some(hotline_core::CallId::from_stored(&r.call_id)),
        agent: None,
        queue: r
            .queue
            .as_ref()
            .map(|q| hotline_core::QueueId::new(q.clone())),
        kind: EventKind::RecordingDeleted { path: rel, reason },
    }
}

/// The quota alarm, if any: logged, audited, a `storage_alarm` event.
async fn raise_alarm(
    alarm: Option<&String>,
    store: &Store,
    who: &str,
    now: i64,
    dry_run: bool,
    sink: Option<&EventSink>,
) -> Result<(), ServiceError> {
    let Some(alarm) = alarm else {
        return Ok(());
    };
    error!(%alarm, "storage alarm");
    if !dry_run {
        store.append_audit(now, who, "alarm", None, alarm).await?;
        if let Some(sink) = sink {
            sink.event(CallEvent {
                at_ms: now,
                call_id: None,
                agent: None,
                queue: None,
                kind: EventKind::StorageAlarm {
                    reason: alarm.clone(),
                },
            });
        }
    }
    Ok(())
}

/// One retention pass over the recordings the call log knows. `notary`
/// signs the tombstones; `sink` receives `recording_deleted` and
/// `storage_alarm` events (the CLI has none).
pub async fn run_pass(
    root: &Path,
    policy: &Policy,
    store: &Store,
    notary: &Notary,
    who: &str,
    dry_run: bool,
    sink: Option<&EventSink>,
) -> Result<Summary, ServiceError> {
    let held: HashSet<String> = store.held_calls().await?.into_iter().collect();
    let mut recs = Vec::new();
    let mut paths: Vec<(PathBuf, String)> = Vec::new();
    for c in store.recent_cdrs(1_000_000).await? {
        let Some(rel) = c.recording_path.clone() else {
            continue;
        };
        let path = root.join(&rel);
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            continue; // already removed
        };
        let id = c.call_id.as_str().to_string();
        recs.push(Rec {
            held: held.contains(&id),
            call_id: id,
            arrived_ms: c.arrived_ms,
            queue: c.queue.as_ref().map(|q| q.as_str().to_string()),
            size: meta.len(),
        });
        paths.push((path, rel));
    }
    let by = Remover::now(store, notary, who);
    let now = by.now;
    let p = plan(&recs, now, policy);
    let mut summary = Summary {
        alarm: p.alarm.clone(),
        ..Summary::default()
    };
    for (i, reason) in p.delete {
        let r = &recs[i];
        let (path, rel) = paths[i].clone();
        summary.deleted.push((r.call_id.clone(), reason.clone()));
        if dry_run {
            continue;
        }
        let (sha, _) = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || hotline_evidence::wav::hash_file(&path)).await??
        };
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let t = tombstone(&by, r, file, sha, &reason, "").await?;
        let wav = path.clone();
        tokio::task::spawn_blocking(move || -> Result<(), ServiceError> {
            t.write(&wav)?;
            std::fs::remove_file(&wav).map_err(|source| ServiceError::Io {
                path: wav.clone(),
                source,
            })?;
            Ok(())
        })
        .await??;
        info!(call_id = %r.call_id, %reason, "recording removed by retention");
        if let Some(sink) = sink {
            sink.event(deleted(now, r, rel, reason));
        }
    }
    raise_alarm(summary.alarm.as_ref(), store, who, now, dry_run, sink).await?;
    Ok(summary)
}

/// One retention pass over this node's part of the shared recordings store
/// (`<node>/…`: another node's recordings are never listed, so never
/// touched). `policy` is the recordings' retention with the store's own
/// quota (`[recordings_store] quota_mb`): an object store has no full disk.
///
/// Each removal: the audit entry, then the signed tombstone put into the
/// store next to the manifest, then the WAV object deleted (see
/// [`SharedStore::remove_recording`]), then `<spool>/.fetched/<call>.wav`
/// (a playback copy) removed and `recording_deleted` sent. When the store
/// refuses, the pass stops there ([`Summary::error`]): nothing is deleted
/// without its tombstone, and the rest is retried at the next pass (which
/// reuses a tombstone already put rather than deleting twice on record).
/// A store that cannot even be listed is an error: nothing was done.
#[allow(clippy::too_many_arguments)]
pub async fn run_store_pass(
    shared: &SharedStore,
    spool: &Path,
    policy: &Policy,
    store: &Store,
    notary: &Notary,
    who: &str,
    dry_run: bool,
    sink: Option<&EventSink>,
) -> Result<Summary, ServiceError> {
    let held: HashSet<String> = store.held_calls().await?.into_iter().collect();
    let calls = calls(store).await?;
    let objects = shared.own_wavs().await?;
    let recs: Vec<Rec> = objects
        .iter()
        .map(|o| {
            let name = o.rel.rsplit('/').next().unwrap_or_default();
            let id = name.strip_suffix(".wav").unwrap_or(name).to_string();
            // a recording the call log does not know: its upload time (it
            // is kept at least as long as from its call)
            let (arrived_ms, queue) = calls.get(&id).cloned().unwrap_or((o.modified_ms, None));
            Rec {
                held: held.contains(&id),
                call_id: id,
                arrived_ms,
                queue,
                size: o.size,
            }
        })
        .collect();
    let by = Remover::now(store, notary, who);
    let now = by.now;
    let p = plan(&recs, now, policy);
    let mut summary = Summary {
        alarm: p.alarm.as_ref().map(|a| {
            format!(
                "recordings store {} (node {}): {a}",
                shared.url(),
                shared.node()
            )
        }),
        ..Summary::default()
    };
    let key = notary.public_key();
    for (i, reason) in p.delete {
        let r = &recs[i];
        let o = &objects[i];
        if dry_run {
            summary.deleted.push((r.call_id.clone(), reason));
            continue;
        }
        let file = format!("{}.wav", r.call_id);
        let removed = async {
            // a tombstone put by a pass that could not delete the WAV
            let earlier = shared
                .tombstone_of(&o.rel)
                .await?
                .filter(|t| t.signature_valid(&key) && t.call_id == r.call_id && t.file == file);
            let fresh = earlier.is_none();
            let t = match earlier {
                Some(t) => t,
                None => {
                    let sha = shared.wav_sha256(&o.rel, o.size, &key).await?;
                    let place = format!(" (recordings store {})", shared.url());
                    tombstone(&by, r, file.clone(), sha, &reason, &place).await?
                }
            };
            if let Err(e) = shared.remove_recording(&o.rel, &t).await {
                if fresh {
                    // the entry above said "delete": say it did not happen
                    let _ = store
                        .append_audit(now, who, "delete_failed", Some(&r.call_id), &e.to_string())
                        .await;
                }
                return Err(ServiceError::from(e));
            }
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = removed {
            warn!(call_id = %r.call_id, store = %shared.url(), error = %e, "retention: the recordings store refused; nothing more is removed until the next pass");
            summary.error = Some(e.to_string());
            break;
        }
        let fetched = spool
            .join(crate::access::FETCHED_DIR)
            .join(format!("{}.wav", r.call_id));
        let _ = tokio::fs::remove_file(&fetched).await;
        info!(call_id = %r.call_id, %reason, store = %shared.url(), "recording removed from the shared store by retention");
        summary.deleted.push((r.call_id.clone(), reason.clone()));
        if let Some(sink) = sink {
            sink.event(deleted(now, r, o.rel.clone(), reason));
        }
    }
    raise_alarm(summary.alarm.as_ref(), store, who, now, dry_run, sink).await?;
    Ok(summary)
}

/// Retention applied to this node's part of a shared recordings store.
#[derive(Clone, Debug)]
pub struct StoreSweep {
    /// The store (this node's part is swept).
    pub shared: SharedStore,
    /// The local recordings root (the spool; its playback copies go too).
    pub spool: PathBuf,
    /// The retention, with the store's quota.
    pub policy: Policy,
}

/// Runs a pass every `every` while the engine runs: over the local root
/// (with a shared store: the spool, what waits for upload) and over this
/// node's part of the store (nothing when no policy ever removes anything).
/// A pass that fails is logged and retried at the next one.
pub fn spawn(
    root: PathBuf,
    policy: Policy,
    every: Duration,
    store: Store,
    notary: std::sync::Arc<Notary>,
    sink: EventSink,
    shared: Option<StoreSweep>,
) {
    let shared = shared.filter(|s| s.policy.prunes());
    if !policy.prunes() && shared.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(60)));
        let who = "system:retention";
        loop {
            tick.tick().await;
            if policy.prunes() {
                match run_pass(&root, &policy, &store, &notary, who, false, Some(&sink)).await {
                    Ok(s) if !s.deleted.is_empty() => {
                        info!(removed = s.deleted.len(), "retention pass")
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "retention pass failed; retried at the next one"),
                }
            }
            if let Some(x) = &shared {
                match run_store_pass(
                    &x.shared,
                    &x.spool,
                    &x.policy,
                    &store,
                    &notary,
                    who,
                    false,
                    Some(&sink),
                )
                .await
                {
                    Ok(s) => {
                        if !s.deleted.is_empty() {
                            info!(removed = s.deleted.len(), store = %x.shared.url(), "retention pass over the shared store");
                        }
                    }
                    Err(e) => {
                        warn!(store = %x.shared.url(), error = %e, "retention pass over the shared store failed (nothing removed); retried at the next one")
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, day: i64, queue: &str, size: u64, held: bool) -> Rec {
        Rec {
            call_id: id.into(),
            arrived_ms: day * DAY_MS,
            queue: Some(queue.into()),
            size,
            held,
        }
    }

    fn ids(recs: &[Rec], p: &Plan) -> Vec<String> {
        p.delete
            .iter()
            .map(|(i, _)| recs[*i].call_id.clone())
            .collect()
    }

    #[test]
    fn old_recordings_go_unless_held_and_queues_keep_their_own_days() {
        let recs = [
            rec("old", 0, "general", 10, false),
            rec("old-held", 0, "general", 10, true),
            rec("old-complaint", 0, "complaints", 10, false),
            rec("young", 95, "general", 10, false),
        ];
        let p = Policy {
            days: 90,
            days_by_queue: [("complaints".to_string(), 365)].into_iter().collect(),
            quota_bytes: None,
        };
        let plan = plan(&recs, 100 * DAY_MS, &p);
        assert_eq!(ids(&recs, &plan), ["old"]);
        assert!(plan.delete[0].1.contains("90 days"));
        assert_eq!(plan.alarm, None);
        // no age limit: nothing
        assert_eq!(
            super::plan(&recs, 100 * DAY_MS, &Policy::default()),
            Plan::default()
        );
    }

    #[test]
    fn over_quota_the_oldest_unheld_go_first_and_held_ones_raise_an_alarm() {
        let recs = [
            rec("c", 3, "q", 40, false),
            rec("a", 1, "q", 40, true),
            rec("b", 2, "q", 40, false),
            rec("d", 4, "q", 40, false),
        ];
        let p = |quota| Policy {
            quota_bytes: Some(quota),
            ..Policy::default()
        };
        // 160 bytes for 100: b (oldest unheld, a is held), then c
        let plan1 = plan(&recs, 10 * DAY_MS, &p(100));
        assert_eq!(ids(&recs, &plan1), ["b", "c"]);
        assert_eq!(plan1.alarm, None);
        // 30 bytes: everything unheld goes and the held one is still too much
        let plan2 = plan(&recs, 10 * DAY_MS, &p(30));
        assert_eq!(ids(&recs, &plan2), ["b", "c", "d"]);
        assert!(plan2.alarm.as_deref().unwrap_or("").contains("legal hold"));
        // under quota: nothing
        assert_eq!(plan(&recs, 10 * DAY_MS, &p(1000)), Plan::default());
    }

    #[test]
    fn absurd_times_and_sizes_do_not_panic() {
        let recs = [
            rec("x", i64::MIN / DAY_MS, "q", u64::MAX / 2, false),
            rec("y", i64::MAX / DAY_MS, "q", u64::MAX / 2, false),
        ];
        let p = Policy {
            days: u32::MAX,
            quota_bytes: Some(0),
            ..Policy::default()
        };
        let out = plan(&recs, i64::MIN, &p);
        assert_eq!(out.delete.len(), 2);
        let _ = plan(&recs, i64::MAX, &p);
    }
}
