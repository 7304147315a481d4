//! The startup sweep: before the first call, every recording a crash left
//! open (a WAV without a manifest) gets its header repaired from the file
//! length and is sealed as recovered, its parties named from the event log,
//! and a `recording_recovered` event is logged.

use crate::{Recorder, ServiceError};
use hotline_core::{CallId, EventKind};
use hotline_evidence::sweep::Parties;
use hotline_evidence::{self as ev};
use std::collections::HashMap;
use tracing::{error, warn};

/// What the event log knows of a call (for a recording sealed after a crash).
fn parties_from(events: &[hotline_core::CallEvent]) -> Parties {
    let mut p = Parties::default();
    for e in events {
        if e.queue.is_some() {
            p.queue = e.queue.as_ref().map(ToString::to_string);
        }
        match &e.kind {
            EventKind::Arrived { caller, .. } => p.caller = Some(caller.number.clone()),
            EventKind::AgentAnswered { .. } => p.agent = e.agent.as_ref().map(ToString::to_string),
            EventKind::RecordingOpened { .. } => p.start_ms = Some(e.at_ms),
            _ => {}
        }
    }
    p
}

/// At start, before any call: repairs and seals every recording left open by
/// a crash (a WAV without a manifest), naming its parties from the event log.
pub async fn startup_sweep(
    recorder: &Recorder,
    store: &hotline_store::Store,
) -> Result<(), ServiceError> {
    let Some(notary) = recorder.notary().cloned() else {
        return Ok(());
    };
    let root = recorder.root().to_path_buf();
    let scan_root = root.clone();
    // file-system work off the tokio workers
    let unsealed = tokio::task::spawn_blocking(move || {
        ev::verify::Inventory::scan(&scan_root).map(|inv| {
            inv.wavs
                .iter()
                .filter_map(|w| {
                    let id = w.file_stem()?.to_str()?;
                    let sealed = w
                        .with_file_name(format!("{id}{}", ev::MANIFEST_SUFFIX))
                        .exists();
                    (!sealed && ev::is_safe_id(id)).then(|| id.to_string())
                })
                .collect::<Vec<_>>()
        })
    })
    .await?;
    let unsealed = match unsealed {
        Ok(ids) => ids,
        Err(e) => {
            // Calls must still be answered: say it loudly and go on.
            error!(error = %e, "recordings sweep: cannot scan the recordings root; recordings left open by a crash stay unsealed");
            return Ok(());
        }
    };
    let mut parties = HashMap::new();
    for id in unsealed {
        match store
            .events_for_call(&CallId::from_stored(id.clone()))
            .await
        {
            Ok(events) => {
                parties.insert(id, parties_from(&events));
            }
            Err(e) => {
                warn!(call_id = %id, error = %e, "recordings sweep: cannot read the call's events")
            }
        }
    }
    let parties_of = parties.clone();
    let report = tokio::task::spawn_blocking(move || {
        ev::sweep::sweep(&notary, &root, ev::now_ms(), &|id| {
            parties.get(id).cloned().unwrap_or_default()
        })
    })
    .await?;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "recordings sweep failed; recordings left open by a crash stay unsealed");
            return Ok(());
        }
    };
    if report.head_adopted {
        warn!("recordings sweep: chain head moved to the newest manifest (crash while sealing)");
    }
    for r in &report.recovered {
        warn!(
            call_id = %r.call_id,
            path = %r.path.display(),
            samples = r.repair.samples_per_channel,
            header_said_bytes = r.repair.declared_before,
            data_bytes = r.repair.data_bytes,
            cut_bytes = r.repair.truncated,
            manifest = %r.manifest.display(),
            "recording recovered after a crash: header repaired from the file length, sealed as recovered"
        );
    }
    for r in &report.recovered {
        let p = parties_of.get(&r.call_id).cloned().unwrap_or_default();
        let path = r
            .path
            .strip_prefix(recorder.root())
            .unwrap_or(&r.path)
            .to_string_lossy()
            .replace('\\', "/");
        let event = hotline_core::CallEvent {
            at_ms: ev::now_ms(),
            call_id: Some(CallId::from_stored(r.call_id.clone())),
            agent: p.agent.map(hotline_core::AgentId::new),
            queue: p.queue.map(hotline_core::QueueId::new),
            kind: EventKind::RecordingRecovered {
                path,
                sha256: r.file_sha256.clone(),
                samples: r.repair.samples_per_channel,
                header_bytes: u64::from(r.repair.declared_before),
                data_bytes: r.repair.data_bytes,
            },
        };
        if let Err(e) = store.append_event(&event).await {
            error!(call_id = %r.call_id, error = %e, "recordings sweep: cannot log the recovery in the event log");
        }
    }
    for (p, e) in &report.failed {
        error!(path = %p.display(), error = %e, "recordings sweep: recording left unsealed");
    }
    Ok(())
}
