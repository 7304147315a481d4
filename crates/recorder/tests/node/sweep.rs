//! Retention over a shared store, the same scenario on every kind of store
//! (`file://` in shared_store.rs, moto's S3 in shared_s3.rs): two nodes'
//! recordings uploaded into one store with one call log (as with a shared
//! PostgreSQL); node1's pass removes its expired recording (tombstone in the
//! store, audit entry, `recording_deleted`, its playback copy) and never a
//! held one nor node10's; the quota removes node1's oldest first; `verify`
//! accepts the tombstones and names a WAV removed without one (a bucket
//! lifecycle rule) and a tombstone of another key; an unreachable store
//! removes nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hotline_core::{CallId, CallType, Cdr, EventKind, QueueId};
use hotline_evidence::Fault;
use hotline_recorder::retention::{run_store_pass, Policy, Summary};
use hotline_recorder::shared::{SharedSettings, SharedStore};
use hotline_store::{EventSink, MarkKind, Store};

use super::{node, Node};

const DAY: i64 = 86_400_000;
const WHO: &str = "system:retention";

/// A call log in `dir` (SQLite).
pub async fn call_log(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}/calls.db", dir.display()))
        .await
        .expect("call log")
}

/// Logs call `id` (queue `general`) that arrived `days_ago`, recorded at `rel`.
pub async fn log_call(store: &Store, id: &str, days_ago: i64, rel: &str) {
    store
        .upsert_cdr(&Cdr {
            call_id: CallId::from_stored(id),
            caller: "13800000000".into(),
            caller_name: None,
            dialled: "110".into(),
            queue: Some(QueueId::new("general")),
            agent: None,
            call_type: CallType::Inquiry,
            arrived_ms: hotline_evidence::now_ms() - days_ago * DAY,
            system_answered_ms: None,
            agent_answered_ms: None,
            ended_ms: None,
            wait_ms: None,
            talk_ms: None,
            rings: None,
            outcome: None,
            ended_by: None,
            recording_path: Some(rel.to_string()),
            recording_sha256: None,
            end_cause: None,
        })
        .await
        .expect("cdr");
}

/// Recording ids of `node`'s WAV objects.
pub async fn wavs(s: &SharedStore) -> Vec<String> {
    s.own_wavs()
        .await
        .expect("list")
        .into_iter()
        .map(|w| {
            w.rel
                .trim_end_matches(".wav")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Every fault of every node's verification.
pub async fn faults(s: &SharedStore) -> Vec<Fault> {
    let work = tempfile::tempdir().expect("work");
    s.verify(&BTreeMap::new(), work.path())
        .await
        .expect("verify")
        .into_iter()
        .flat_map(|r| r.report.faults)
        .collect()
}

/// The removal audit entries (`delete`, `delete_failed`) of call `id`.
pub async fn removals(store: &Store, id: &str) -> Vec<String> {
    store
        .audit(Some(id))
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.action)
        .filter(|a| a.starts_with("delete"))
        .collect()
}

/// One pass of node `n` over its part of `s`.
pub async fn pass(
    s: &SharedStore,
    n: &Node,
    p: &Policy,
    store: &Store,
    sink: Option<&EventSink>,
    dry_run: bool,
) -> Summary {
    run_store_pass(s, &n.spool, p, store, &n.notary, WHO, dry_run, sink)
        .await
        .expect("pass")
}

/// The ids a pass removed.
pub fn ids(s: &Summary) -> Vec<&str> {
    s.deleted.iter().map(|(id, _)| id.as_str()).collect()
}

/// The scenario on the store that `open(node)` opens; `drop_object(key)`
/// removes an object behind hotline's back (`node1/2024/03/01/x.wav`, below
/// the store's prefix), as a bucket lifecycle rule would.
pub fn scenario(dir: &Path, open: &dyn Fn(&str) -> SharedStore, drop_object: &dyn Fn(&str)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_rt = rt.enter();
    let n1 = node(dir, "node1");
    // a node id that node1's is a prefix of: its part must stay untouched
    let n10 = node(dir, "node10");
    let (s1, s10) = (open("node1"), open("node10"));
    let store = rt.block_on(call_log(dir));
    let (sink, _writer) = hotline_store::spawn_writer(store.clone());
    for (n, id, days_ago) in [
        (&n1, "old-a", 100),
        (&n1, "old-held", 120),
        (&n1, "young-1", 3),
        (&n1, "young-2", 2),
        (&n1, "young-3", 1),
        (&n10, "n10-old", 100),
    ] {
        let rel = super::record(n, id, 50);
        rt.block_on(log_call(&store, id, days_ago, &rel));
    }
    for (s, n) in [(&s1, &n1), (&s10, &n10)] {
        let up = rt
            .block_on(s.upload_spool(&n.spool, &n.notary.public_key()))
            .expect("upload");
        assert!(up.error.is_none() && up.pending == 0, "{up:?}");
    }
    rt.block_on(store.add_mark("old-held", MarkKind::Extortion, "threat", "li", 1))
        .expect("mark");
    // a playback copy fetched earlier
    let fetched = n1.spool.join(".fetched/old-a.wav");
    std::fs::create_dir_all(fetched.parent().expect("dir")).expect("mkdir");
    std::fs::write(&fetched, b"RIFF").expect("copy");
    let age = Policy {
        days: 30,
        ..Policy::default()
    };

    // a dry run removes nothing
    let s = rt.block_on(pass(&s1, &n1, &age, &store, None, true));
    assert_eq!(ids(&s), ["old-a"]);
    assert_eq!(rt.block_on(wavs(&s1)).len(), 5);
    assert!(rt.block_on(removals(&store, "old-a")).is_empty());

    // expired: removed, tombstone first; held: kept; node10's: untouched
    let s = rt.block_on(pass(&s1, &n1, &age, &store, Some(&sink), false));
    assert_eq!(ids(&s), ["old-a"], "{s:?}");
    assert!(s.deleted[0].1.contains("older than 30 days"), "{s:?}");
    assert!(s.error.is_none() && s.alarm.is_none(), "{s:?}");
    assert_eq!(
        rt.block_on(wavs(&s1)),
        ["old-held", "young-1", "young-2", "young-3"]
    );
    assert_eq!(
        rt.block_on(wavs(&s10)),
        ["n10-old"],
        "node10's part untouched"
    );
    let t = rt
        .block_on(s1.tombstone_of("2024/03/01/old-a.wav"))
        .expect("read")
        .expect("the tombstone is in the store");
    assert!(t.signature_valid(&n1.notary.public_key()));
    assert_eq!(
        (t.call_id.as_str(), t.file.as_str()),
        ("old-a", "old-a.wav")
    );
    let audit = rt.block_on(store.audit(Some("old-a"))).expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].who.as_str()),
        ("delete", WHO)
    );
    assert_eq!(
        t.audit_hash, audit[0].hash,
        "the tombstone names its audit entry"
    );
    assert_eq!(
        t.reason, s.deleted[0].1,
        "the tombstone says why, as locally"
    );
    assert!(
        audit[0].reason.contains("recordings store"),
        "{:?}",
        audit[0]
    );
    assert!(!fetched.exists(), "the playback copy is gone too");
    rt.block_on(sink.flush());
    let events = rt
        .block_on(store.events_of_kind("recording_deleted", 0, 100))
        .expect("events");
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0].kind, EventKind::RecordingDeleted { path, reason }
            if path == "2024/03/01/old-a.wav" && reason.contains("30 days")),
        "{events:?}"
    );
    // both chains verify: the tombstone accounts for the missing audio
    let f = rt.block_on(faults(&s1));
    assert!(f.is_empty(), "{f:?}");
    // a second pass has nothing to do
    let s = rt.block_on(pass(&s1, &n1, &age, &store, Some(&sink), false));
    assert!(s.deleted.is_empty(), "{s:?}");

    // the quota: node1's oldest unheld first, the held one never
    let size = rt.block_on(s1.own_wavs()).expect("list")[0].size;
    let quota = |q: u64| Policy {
        days: 30,
        quota_bytes: Some(q),
        ..Policy::default()
    };
    let s = rt.block_on(pass(
        &s1,
        &n1,
        &quota(size * 5 / 2),
        &store,
        Some(&sink),
        false,
    ));
    assert_eq!(ids(&s), ["young-1", "young-2"], "{s:?}");
    assert!(s.deleted.iter().all(|(_, r)| r == "storage quota"));
    assert_eq!(rt.block_on(wavs(&s1)), ["old-held", "young-3"]);
    assert_eq!(rt.block_on(wavs(&s10)), ["n10-old"]);
    let f = rt.block_on(faults(&s1));
    assert!(f.is_empty(), "{f:?}");
    // node10's pass removes its own only
    let s = rt.block_on(pass(&s10, &n10, &age, &store, Some(&sink), false));
    assert_eq!(ids(&s), ["n10-old"], "{s:?}");
    assert_eq!(rt.block_on(wavs(&s1)), ["old-held", "young-3"]);

    // only held audio left over the quota: kept, and an alarm
    let s = rt.block_on(pass(&s1, &n1, &quota(size / 2), &store, Some(&sink), false));
    assert_eq!(ids(&s), ["young-3"]);
    let alarm = s.alarm.expect("an alarm");
    assert!(
        alarm.contains("legal hold") && alarm.contains("node1"),
        "{alarm}"
    );
    assert_eq!(rt.block_on(wavs(&s1)), ["old-held"]);
    let f = rt.block_on(faults(&s1));
    assert!(f.is_empty(), "{f:?}");

    // an unreachable store: an error, nothing removed, nothing on record
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let down = SharedStore::open(&SharedSettings {
        url: "s3://recordings/hotline".into(),
        node: "node1".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        allow_http: true,
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        timeout: Duration::from_secs(2),
        ..SharedSettings::default()
    })
    .expect("builds without a request");
    let before = rt.block_on(store.audit(None)).expect("audit").len();
    let e = rt
        .block_on(run_store_pass(
            &down, &n1.spool, &age, &store, &n1.notary, WHO, false, None,
        ))
        .expect_err("unreachable");
    assert!(e.to_string().contains("cannot list"), "{e}");
    assert_eq!(rt.block_on(store.audit(None)).expect("audit").len(), before);

    // held audio removed behind hotline's back (a lifecycle rule): named
    drop_object("node1/2024/03/01/old-held.wav");
    let f = rt.block_on(faults(&s1));
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::AudioMissing { call_id, .. } if call_id == "old-held")),
        "{f:?}"
    );
    // and a tombstone signed by another node's key does not excuse it
    let mut forged = t.clone();
    forged.call_id = "old-held".into();
    forged.file = "old-held.wav".into();
    forged.file_sha256 = rt
        .block_on(s1.tombstone_of("2024/03/01/young-3.wav"))
        .expect("read")
        .expect("tombstone")
        .file_sha256; // any hash: the key is what fails first
    n10.notary.sign_tombstone(&mut forged);
    rt.block_on(s1.remove_recording("2024/03/01/old-held.wav", &forged))
        .expect("the forged tombstone is put");
    let f = rt.block_on(faults(&s1));
    assert!(
        f.iter()
            .any(|f| matches!(f, Fault::AudioMissing { call_id, .. } if call_id == "old-held")),
        "{f:?}"
    );
    assert!(
        f.iter().any(
            |f| matches!(f, Fault::TombstoneInvalid { call_id, reason, .. }
            if call_id == "old-held" && reason.contains("not signed"))
        ),
        "{f:?}"
    );
}
