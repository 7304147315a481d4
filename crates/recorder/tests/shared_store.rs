#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Recordings on shared storage (issue 18) with the local-filesystem object
//! store (`file://` into a temp dir): upload at seal, the spool kept while
//! the store refuses, two nodes' chains verified across nodes, tampering
//! found, bad settings refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hotline_core::{CallId, Side};
use hotline_evidence::Fault;
use hotline_recorder::shared::{SharedSettings, SharedStore, Uploader, UploaderStatus};

mod node;
use node::{frame, node, Node, START};

/// Records a one-second call: 1000 Hz caller, 440 Hz agent.
fn record(n: &Node, id: &str) -> String {
    node::record(n, id, 50)
}

fn settings(url: &str, node: &str) -> SharedSettings {
    SharedSettings {
        url: url.to_string(),
        node: node.to_string(),
        timeout: Duration::from_secs(3),
        ..SharedSettings::default()
    }
}

fn file_store(dir: &Path, node: &str) -> SharedStore {
    let url = format!("file://{}", dir.join("bucket").display());
    SharedStore::open(&settings(&url, node)).expect("store")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn faults_of(reports: &[hotline_recorder::shared::NodeReport]) -> Vec<Fault> {
    reports
        .iter()
        .flat_map(|r| r.report.faults.clone())
        .collect()
}

#[test]
fn sealed_recordings_move_to_the_store_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = node(dir.path(), "node1");
    let store = file_store(dir.path(), "node1");
    let rt = rt();
    rt.block_on(store.check()).expect("the file store works");
    let rel1 = record(&n1, "call-a");
    let rel2 = record(&n1, "call-b");
    assert_eq!(rel1, "2024/03/01/call-a.wav");
    // a recording still being written (no manifest) is not uploaded
    let live = n1
        .rec
        .open(&CallId::from_stored("call-live"), START)
        .unwrap();
    let r = rt
        .block_on(store.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    assert_eq!(r.uploaded, vec![rel1.clone(), rel2.clone()]);
    assert_eq!(r.pending, 0);
    assert!(r.error.is_none(), "{r:?}");
    let bucket = dir.path().join("bucket");
    for f in [
        "node1/2024/03/01/call-a.wav",
        "node1/2024/03/01/call-a.manifest.json",
        "node1/2024/03/01/call-b.wav",
        "node1/2024/03/01/call-b.manifest.json",
        "node1/manifest/chain.head",
        "node1/manifest/public.key",
    ] {
        assert!(bucket.join(f).is_file(), "{f} is in the store");
    }
    // removed from the spool only after the put; the live one stays
    assert!(!n1.spool.join(&rel1).exists());
    assert!(!n1.spool.join("2024/03/01/call-a.manifest.json").exists());
    assert!(n1.spool.join("2024/03/01/call-live.wav").exists());
    // the object's channels: caller 1000 Hz left, agent 440 Hz right
    let mut wav = hound::WavReader::open(bucket.join("node1/2024/03/01/call-b.wav")).unwrap();
    assert_eq!(wav.spec().channels, 2);
    let all: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(all.len(), 2 * 8000);
    let left_peak = all
        .iter()
        .step_by(2)
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap();
    assert!(left_peak > 7000, "{left_peak}");
    let m = hotline_evidence::verify::read_manifest(
        &bucket.join("node1/2024/03/01/call-b.manifest.json"),
    )
    .unwrap();
    assert_eq!(m.node.as_deref(), Some("node1"));
    assert_eq!(m.seq, 1);
    // verify from the store
    let work = tempfile::tempdir().unwrap();
    let reports = rt
        .block_on(store.verify(&BTreeMap::new(), work.path()))
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].node, "node1");
    assert!(reports[0].report.is_ok(), "{:?}", reports[0].report.faults);
    assert_eq!(reports[0].report.checked.len(), 2);
    // a later pass with nothing sealed does nothing
    let r = rt
        .block_on(store.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    assert!(r.uploaded.is_empty() && r.pending == 0);
    drop(live);
    // fetched back for playback, from this node's part
    let to = dir.path().join("fetched.wav");
    assert!(rt.block_on(store.fetch_recording(&rel1, &to)).unwrap());
    assert_eq!(
        std::fs::read(&to).unwrap(),
        std::fs::read(bucket.join("node1").join(&rel1)).unwrap()
    );
    assert!(!rt
        .block_on(store.fetch_recording("2024/03/01/nobody.wav", &to.with_extension("x")))
        .unwrap());
}

#[test]
fn an_unreachable_store_keeps_the_spool_and_a_later_pass_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = node(dir.path(), "node1");
    let rt = rt();
    // a closed port: connection refused
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut s = settings("s3://recordings/hotline", "node1");
    s.endpoint = Some(format!("http://127.0.0.1:{port}"));
    s.allow_http = true;
    s.access_key_id = Some("test".into());
    s.secret_access_key = Some("test".into());
    let down = SharedStore::open(&s).expect("builds without a request");
    let e = rt.block_on(down.check()).expect_err("unreachable");
    assert!(e.to_string().contains("cannot write"), "{e}");
    let rel = record(&n1, "call-kept");
    let r = rt
        .block_on(down.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    assert!(r.uploaded.is_empty());
    assert_eq!(r.pending, 1);
    assert!(r.error.is_some());
    assert!(n1.spool.join(&rel).is_file(), "nothing is lost");
    assert!(n1
        .spool
        .join("2024/03/01/call-kept.manifest.json")
        .is_file());
    // the uploader loop says so once, and uploads when the store is back
    let status = Arc::new(std::sync::Mutex::new(UploaderStatus::default()));
    let changes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&changes);
    rt.block_on(async {
        let stop = tokio::time::sleep(Duration::from_millis(600));
        hotline_recorder::shared::run_uploader(
            Uploader {
                shared: down.clone(),
                spool: n1.spool.clone(),
                key: n1.notary.public_key(),
                wake: Arc::clone(&n1.wake),
                retry_every: Duration::from_millis(50),
                status: Arc::clone(&status),
            },
            move |s| seen.lock().unwrap().push(s.clone()),
            stop,
        )
        .await;
    });
    let c = changes.lock().unwrap().clone();
    assert_eq!(c.len(), 1, "one alarm, not one per retry: {c:?}");
    assert_eq!(c[0].pending, 1);
    assert!(c[0].last_error.is_some());
    assert!(n1.spool.join(&rel).is_file());
    // the store is back (here: the file store) and a seal wakes the uploader
    let up = file_store(dir.path(), "node1");
    let status = Arc::new(std::sync::Mutex::new(UploaderStatus::default()));
    let st = Arc::clone(&status);
    rt.block_on(async {
        let wake = Arc::clone(&n1.wake);
        let task = tokio::spawn(hotline_recorder::shared::run_uploader(
            Uploader {
                shared: up.clone(),
                spool: n1.spool.clone(),
                key: n1.notary.public_key(),
                wake: Arc::clone(&wake),
                retry_every: Duration::from_secs(3600),
                status: st,
            },
            |_| {},
            tokio::time::sleep(Duration::from_secs(5)),
        ));
        // the start-up pass takes the spool's recording
        for _ in 0..100 {
            if status.lock().unwrap().uploaded_total == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(status.lock().unwrap().uploaded_total, 1);
        // a new seal is uploaded at once (the retry interval is an hour)
        let n = &n1;
        let rel2 = {
            let h = n
                .rec
                .open(&CallId::from_stored("call-next"), START)
                .unwrap();
            let tx = h.sender();
            for i in 0..10 {
                tx.send(frame(Side::Caller, i, 1000.0)).unwrap();
            }
            drop(tx);
            tokio::task::spawn_blocking(move || h.finish().unwrap().relative_path)
                .await
                .unwrap()
        };
        for _ in 0..100 {
            if status.lock().unwrap().uploaded_total == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            status.lock().unwrap().uploaded_total,
            2,
            "woken by the seal"
        );
        assert!(!n.spool.join(&rel2).exists());
        task.abort();
    });
    let work = tempfile::tempdir().unwrap();
    let reports = rt
        .block_on(up.verify(&BTreeMap::new(), work.path()))
        .unwrap();
    assert!(faults_of(&reports).is_empty(), "{:?}", faults_of(&reports));
    assert_eq!(reports[0].report.checked.len(), 2);
}

/// Two nodes, one store: both chains verify from either node; then each kind
/// of tampering is named.
#[test]
fn two_nodes_verify_across_nodes_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let n1 = node(dir.path(), "node1");
    let n2 = node(dir.path(), "node2");
    let s1 = file_store(dir.path(), "node1");
    let s2 = file_store(dir.path(), "node2");
    for k in 0..3 {
        record(&n1, &format!("n1-call{k}"));
        record(&n2, &format!("n2-call{k}"));
    }
    rt.block_on(s1.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    rt.block_on(s2.upload_spool(&n2.spool, &n2.notary.public_key()))
        .unwrap();
    // node2 checks node1's chain and its own (and the other way round)
    for s in [&s1, &s2] {
        let work = tempfile::tempdir().unwrap();
        let reports = rt
            .block_on(s.verify(&BTreeMap::new(), work.path()))
            .unwrap();
        let nodes: Vec<&str> = reports.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["node1", "node2"]);
        assert!(faults_of(&reports).is_empty(), "{:?}", faults_of(&reports));
        assert!(reports.iter().all(|r| r.report.checked.len() == 3));
    }
    // a pinned key that is not node1's: every manifest fails its signature
    let mut pinned = BTreeMap::new();
    pinned.insert("node1".to_string(), n2.notary.public_key());
    let work = tempfile::tempdir().unwrap();
    let reports = rt.block_on(s2.verify(&pinned, work.path())).unwrap();
    assert!(reports[0].pinned);
    let bad_sig = faults_of(&reports)
        .iter()
        .filter(|f| matches!(f, Fault::BadSignature { .. }))
        .count();
    assert_eq!(bad_sig, 3);

    let bucket = dir.path().join("bucket");
    let day = |n: &str| bucket.join(n).join("2024/03/01");
    let check = |s: &SharedStore| {
        let work = tempfile::tempdir().unwrap();
        faults_of(
            &rt.block_on(s.verify(&BTreeMap::new(), work.path()))
                .unwrap(),
        )
    };
    // an altered object
    let wav = day("node1").join("n1-call1.wav");
    let mut bytes = std::fs::read(&wav).unwrap();
    bytes[1000] ^= 0x55;
    std::fs::write(&wav, &bytes).unwrap();
    let f = check(&s2);
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::AudioAltered { call_id, .. } if call_id == "n1-call1")),
        "{f:?}"
    );
    let shown = f
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(shown.contains("n1-call1.wav"), "{shown}");
    bytes[1000] ^= 0x55;
    std::fs::write(&wav, &bytes).unwrap();
    assert!(check(&s2).is_empty());
    // a missing object
    std::fs::rename(&wav, dir.path().join("aside.wav")).unwrap();
    let f = check(&s1);
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::AudioMissing { call_id, .. } if call_id == "n1-call1")),
        "{f:?}"
    );
    std::fs::rename(dir.path().join("aside.wav"), &wav).unwrap();
    // a chain entry removed from the middle, then from the end
    let m = day("node2").join("n2-call1.manifest.json");
    std::fs::rename(&m, dir.path().join("aside.json")).unwrap();
    let f = check(&s1);
    assert!(
        f.iter().any(|f| matches!(f, Fault::MissingLink { missing_call_id, .. } if missing_call_id == "n2-call1")),
        "{f:?}"
    );
    std::fs::rename(dir.path().join("aside.json"), &m).unwrap();
    let last = day("node2").join("n2-call2.manifest.json");
    std::fs::rename(&last, dir.path().join("aside.json")).unwrap();
    let f = check(&s1);
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::HeadMissing { call_id, .. } if call_id == "n2-call2")),
        "{f:?}"
    );
    std::fs::rename(dir.path().join("aside.json"), &last).unwrap();
    // an altered chain entry (a byte of the manifest's caller field)
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(
        &m,
        text.replace("\"start_ms\":1709251200000", "\"start_ms\":1709251200001"),
    )
    .unwrap();
    let f = check(&s1);
    assert!(
        f.iter().any(|f| matches!(f, Fault::BadSignature { .. })),
        "{f:?}"
    );
    assert!(
        f.iter().any(|f| matches!(f, Fault::LinkReplaced { .. })),
        "{f:?}"
    );
    std::fs::write(&m, text).unwrap();
    // one node's recording copied into the other's part
    std::fs::copy(
        day("node1").join("n1-call0.wav"),
        day("node2").join("n1-call0.wav"),
    )
    .unwrap();
    std::fs::copy(
        day("node1").join("n1-call0.manifest.json"),
        day("node2").join("n1-call0.manifest.json"),
    )
    .unwrap();
    let f = check(&s1);
    assert!(
        f.iter().any(|f| matches!(f, Fault::WrongNode { names_node, node, .. } if names_node == "node1" && node == "node2")),
        "{f:?}"
    );
    std::fs::remove_file(day("node2").join("n1-call0.wav")).unwrap();
    std::fs::remove_file(day("node2").join("n1-call0.manifest.json")).unwrap();
    // the chain head object removed
    std::fs::remove_file(bucket.join("node2/manifest/chain.head")).unwrap();
    let f = check(&s1);
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::ChainHeadMissing { node } if node == "node2")),
        "{f:?}"
    );
}

#[test]
fn a_second_machine_with_the_same_node_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let a = node(dir.path(), "node1");
    let b = node(&dir.path().join("other"), "node1");
    let store = file_store(dir.path(), "node1");
    record(&a, "first");
    record(&b, "second");
    let r = rt
        .block_on(store.upload_spool(&a.spool, &a.notary.public_key()))
        .unwrap();
    assert!(r.error.is_none());
    let r = rt
        .block_on(store.upload_spool(&b.spool, &b.notary.public_key()))
        .unwrap();
    let e = r.error.expect("refused");
    assert!(e.contains("another public key"), "{e}");
    assert!(b.spool.join("2024/03/01/second.wav").is_file());
}

#[test]
fn bad_settings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(SharedSettings, &str)> = vec![
        (settings("ftp://host/x", "n1"), "expected"),
        (settings("file://relative/dir", "n1"), "absolute"),
        (settings("s3://", "n1"), "bucket"),
        (settings("s3://Bad_Bucket/x", "n1"), "bucket"),
        (
            settings(&format!("s3://{}", "b".repeat(64)), "n1"),
            "bucket",
        ),
        (settings("s3://bucket/a/../b", "n1"), "prefix"),
        (settings("s3://bucket/a//b", "n1"), "prefix"),
        (
            settings(&format!("s3://b/{}", "x".repeat(5000)), "n1"),
            "2048",
        ),
        (settings("s3://b/x\ny", "n1"), "control"),
        (settings("s3://bucket", ""), "node id"),
        (settings("s3://bucket", "../n1"), "node id"),
        (settings("s3://bucket", &"n".repeat(65)), "node id"),
        (
            SharedSettings {
                endpoint: Some("http://127.0.0.1:9000".into()),
                ..settings("s3://bucket", "n1")
            },
            "allow_http",
        ),
        (
            SharedSettings {
                endpoint: Some("127.0.0.1:9000".into()),
                ..settings("s3://bucket", "n1")
            },
            "http(s)://",
        ),
    ];
    for (s, want) in cases {
        let e = SharedStore::open(&s).expect_err(&s.url);
        let text = e.to_string();
        assert!(text.contains(want), "{:?}: {text}", s.url);
        assert!(text.len() < 400, "{text}");
    }
    // a file in the way of the directory
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let s = settings(&format!("file://{}/sub", blocker.display()), "n1");
    assert!(SharedStore::open(&s).is_err());
}

/// Retention over the store (node/sweep.rs, also run on moto).
#[test]
fn retention_removes_from_the_store_with_tombstones_and_verify_accepts_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    node::sweep::scenario(dir.path(), &|n| file_store(dir.path(), n), &|key| {
        std::fs::remove_file(bucket.join(key)).unwrap()
    });
}

/// The store refuses the tombstone: the WAV stays (no removal without a
/// tombstone), the pass stops with the reason, the failure is on record,
/// and the next pass removes it; a tombstone already put (the WAV's
/// deletion failed) is reused rather than a second deletion put on record.
#[test]
fn a_refused_tombstone_keeps_the_wav_and_the_next_pass_removes_it() {
    use node::sweep::{call_log, ids, log_call, pass, removals, wavs};
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let _in_rt = rt.enter();
    let n1 = node(dir.path(), "node1");
    let s1 = file_store(dir.path(), "node1");
    let store = rt.block_on(call_log(dir.path()));
    for id in ["exp-1", "exp-2"] {
        let rel = record(&n1, id);
        rt.block_on(log_call(&store, id, 100, &rel));
    }
    rt.block_on(s1.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    let age = hotline_recorder::retention::Policy {
        days: 30,
        ..Default::default()
    };
    // something in the way of exp-1's tombstone
    let day = dir.path().join("bucket/node1/2024/03/01");
    let blocker = day.join("exp-1.deleted.json");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let s = rt.block_on(pass(&s1, &n1, &age, &store, None, false));
    assert!(s.deleted.is_empty(), "{s:?}");
    let e = s.error.expect("the reason");
    assert!(e.contains("cannot write the tombstone"), "{e}");
    assert_eq!(
        rt.block_on(wavs(&s1)),
        ["exp-1", "exp-2"],
        "nothing removed"
    );
    assert_eq!(
        rt.block_on(removals(&store, "exp-1")),
        ["delete", "delete_failed"]
    );
    assert!(
        rt.block_on(removals(&store, "exp-2")).is_empty(),
        "the pass stopped"
    );
    assert!(faults_of(
        &rt.block_on(s1.verify(&BTreeMap::new(), dir.path().join("w").as_path()))
            .unwrap()
    )
    .is_empty());
    // the store takes it again: the next pass removes both
    std::fs::remove_dir_all(&blocker).unwrap();
    let s = rt.block_on(pass(&s1, &n1, &age, &store, None, false));
    assert_eq!(ids(&s), ["exp-1", "exp-2"], "{s:?}");
    assert!(s.error.is_none());
    assert!(rt.block_on(wavs(&s1)).is_empty());
    // a WAV still there beside its valid tombstone (its deletion failed):
    // deleted with that tombstone, no second deletion on record
    let wav = day.join("exp-2.wav");
    std::fs::write(&wav, b"RIFF, the audio back").unwrap();
    let s = rt.block_on(pass(&s1, &n1, &age, &store, None, false));
    assert_eq!(ids(&s), ["exp-2"]);
    assert!(!wav.exists());
    assert_eq!(rt.block_on(removals(&store, "exp-2")), ["delete"]);
    let work = tempfile::tempdir().unwrap();
    let f = faults_of(
        &rt.block_on(s1.verify(&BTreeMap::new(), work.path()))
            .unwrap(),
    );
    assert!(f.is_empty(), "{f:?}");
}

/// Retention in the spool while the store was down: the WAV is replaced by
/// its tombstone there, and the upload takes the manifest and the tombstone
/// so the chain in the store stays whole.
#[test]
fn a_recording_removed_in_the_spool_uploads_its_tombstone() {
    use node::sweep::{call_log, log_call, wavs};
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let n1 = node(dir.path(), "node1");
    let s1 = file_store(dir.path(), "node1");
    let store = rt.block_on(call_log(dir.path()));
    for (id, days_ago) in [("spool-old", 100), ("spool-new", 1)] {
        let rel = record(&n1, id);
        rt.block_on(log_call(&store, id, days_ago, &rel));
    }
    let age = hotline_recorder::retention::Policy {
        days: 30,
        ..Default::default()
    };
    let s = rt
        .block_on(hotline_recorder::retention::run_pass(
            &n1.spool,
            &age,
            &store,
            &n1.notary,
            "system:retention",
            false,
            None,
        ))
        .unwrap();
    assert_eq!(s.deleted.len(), 1);
    assert!(n1.spool.join("2024/03/01/spool-old.deleted.json").is_file());
    let up = rt
        .block_on(s1.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    assert_eq!(up.uploaded.len(), 2, "{up:?}");
    assert_eq!(up.pending, 0);
    assert!(
        std::fs::read_dir(n1.spool.join("2024/03/01"))
            .unwrap()
            .next()
            .is_none(),
        "the spool is empty"
    );
    assert_eq!(rt.block_on(wavs(&s1)), ["spool-new"]);
    let work = tempfile::tempdir().unwrap();
    let reports = rt
        .block_on(s1.verify(&BTreeMap::new(), work.path()))
        .unwrap();
    assert!(faults_of(&reports).is_empty(), "{:?}", faults_of(&reports));
    assert_eq!(
        reports[0].report.checked.len(),
        2,
        "both links in the chain"
    );
}
