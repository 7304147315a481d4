//! One node of a shared recordings store, for the shared-store tests
//! (`shared_store.rs` on a `file://` store, `shared_s3.rs` on moto): its
//! notary (key, chain head, node id), its spool and its recorder, and calls
//! recorded with a 1000 Hz caller and a 440 Hz agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hotline_core::{AudioFrame, CallId, Side};
use hotline_evidence::Notary;
use hotline_recorder::{Recorder, RecorderConfig};

pub mod sweep;

/// When the test calls start, epoch ms (2024-03-01T00:00:00Z).
pub const START: i64 = 1_709_251_200_000;

/// Frame `idx` (20 ms) of a tone of `freq` Hz on one side.
pub fn frame(side: Side, idx: u64, freq: f64) -> AudioFrame {
    AudioFrame {
        side,
        ssrc: if side == Side::Caller { 1 } else { 2 },
        seq: idx as u16,
        timestamp: (idx * 160) as u32,
        arrival_ms: START + idx as i64 * 20,
        samples: (idx * 160..idx * 160 + 160)
            .map(|n| {
                ((2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin() * 8000.0) as i16
            })
            .collect(),
    }
}

/// One node: its data dir (key, chain head), spool and recorder.
pub struct Node {
    pub notary: Arc<Notary>,
    pub spool: PathBuf,
    pub rec: Recorder,
    /// Woken after each seal (what the uploader waits on).
    #[allow(dead_code)] // used by shared_store.rs only
    pub wake: Arc<tokio::sync::Notify>,
}

/// Node `id` under `dir` (`data-ID`, `spool-ID`).
pub fn node(dir: &Path, id: &str) -> Node {
    let data = dir.join(format!("data-{id}"));
    let notary = Arc::new(
        Notary::open(&data)
            .expect("notary")
            .with_node(Some(id.to_string())),
    );
    let spool = dir.join(format!("spool-{id}"));
    let mut cfg = RecorderConfig::new(&spool);
    cfg.notary = Some(Arc::clone(&notary));
    let wake = Arc::new(tokio::sync::Notify::new());
    cfg.sealed = Some(Arc::clone(&wake));
    Node {
        notary,
        spool: spool.clone(),
        rec: Recorder::new(cfg).expect("recorder"),
        wake,
    }
}

/// Records a call of `frames` 20 ms frames (1000 Hz caller, 440 Hz agent),
/// sealed with a manifest; its path relative to the spool.
pub fn record(n: &Node, id: &str, frames: u64) -> String {
    let h = n.rec.open(&CallId::from_stored(id), START).expect("open");
    let tx = h.sender();
    for i in 0..frames {
        tx.send(frame(Side::Caller, i, 1000.0)).expect("send");
        tx.send(frame(Side::Agent, i, 440.0)).expect("send");
    }
    drop(tx);
    let s = h.finish().expect("finish");
    assert!(s.manifest.is_some());
    s.relative_path
}
