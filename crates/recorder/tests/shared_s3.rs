#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Recordings on shared storage against a real S3-compatible peer: `moto`
//! (`moto_server -p PORT` on loopback; scripts/test.sh installs it). Two
//! nodes upload into one bucket, the objects are read back over S3 and their
//! channels checked, both chains verify across nodes, a tampered object is
//! found; a missing bucket is a clear error at the start-up check.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hotline_evidence::Fault;
use hotline_recorder::shared::{SharedSettings, SharedStore};
use hotline_testkit::Moto;

mod node;
use node::node;

/// A plain HTTP/1.1 request to moto (which accepts unsigned requests): the
/// status code.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// A 2-second call: caller 1000 Hz on the left, agent 440 Hz on the right.
fn record(n: &node::Node, id: &str) -> String {
    node::record(n, id, 100)
}

fn s3(port: u16, bucket: &str, node: &str) -> SharedStore {
    SharedStore::open(&SharedSettings {
        url: format!("s3://{bucket}/site-a"),
        node: node.into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        allow_http: true,
        access_key_id: Some("hotline-lab".into()),
        secret_access_key: Some("hotline-lab-secret".into()),
        timeout: Duration::from_secs(10),
        ..SharedSettings::default()
    })
    .unwrap()
}

/// Relative power of `freq` in `x` (Goertzel).
fn power(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

#[test]
fn two_nodes_record_into_one_s3_bucket_and_verify_across_nodes() {
    let m = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // the bucket does not exist yet: a clear error at start, no panic
    let s1 = s3(m.port, "hotline-rec", "node1");
    let e = rt.block_on(s1.check()).expect_err("no bucket");
    let text = e.to_string();
    assert!(
        text.contains("s3://hotline-rec/site-a") && text.contains("cannot write"),
        "{text}"
    );
    assert_eq!(http(m.port, "PUT", "/hotline-rec", b""), Some(200));
    rt.block_on(s1.check()).expect("the bucket works now");
    let s2 = s3(m.port, "hotline-rec", "node2");
    rt.block_on(s2.check()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let n1 = node(dir.path(), "node1");
    let n2 = node(dir.path(), "node2");
    let rel = record(&n1, "n1-a");
    record(&n1, "n1-b");
    record(&n2, "n2-a");
    let r1 = rt
        .block_on(s1.upload_spool(&n1.spool, &n1.notary.public_key()))
        .unwrap();
    assert_eq!(r1.uploaded.len(), 2, "{r1:?}");
    let r2 = rt
        .block_on(s2.upload_spool(&n2.spool, &n2.notary.public_key()))
        .unwrap();
    assert_eq!(r2.uploaded.len(), 1, "{r2:?}");
    assert!(
        !n1.spool.join(&rel).exists(),
        "the spool copy goes after the put"
    );

    // the object read back over S3 (from the other node) and its channels
    let back = dir.path().join("back.wav");
    assert!(rt.block_on(s2.fetch_recording(&rel, &back)).unwrap());
    let mut wav = hound::WavReader::open(&back).unwrap();
    assert_eq!(wav.spec().channels, 2);
    assert_eq!(wav.spec().sample_rate, 8000);
    let all: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let left: Vec<i16> = all.iter().step_by(2).copied().collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left.len(), 16_000);
    assert!(
        power(&left, 1000.0) > 100.0 * power(&left, 440.0),
        "caller left"
    );
    assert!(
        power(&right, 440.0) > 100.0 * power(&right, 1000.0),
        "agent right"
    );

    // both chains verify from either node
    for s in [&s1, &s2] {
        let work = tempfile::tempdir().unwrap();
        let reports = rt
            .block_on(s.verify(&BTreeMap::new(), work.path()))
            .unwrap();
        let nodes: Vec<&str> = reports.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["node1", "node2"]);
        for r in &reports {
            assert!(r.report.is_ok(), "{}: {:?}", r.node, r.report.faults);
        }
        assert_eq!(reports[0].report.checked.len(), 2);
        assert_eq!(reports[1].report.checked.len(), 1);
    }

    // a tampered object (rewritten in the bucket) is named
    use object_store::ObjectStoreExt;
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("hotline-rec")
        .with_endpoint(format!("http://127.0.0.1:{}", m.port))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("someone-else")
        .with_secret_access_key("x")
        .build()
        .unwrap();
    let key = object_store::path::Path::from("site-a/node1/2024/03/01/n1-b.wav");
    let mut bytes = std::fs::read(&back).unwrap();
    bytes[2000] ^= 0x7f;
    rt.block_on(raw.put(&key, bytes.into())).unwrap();
    let work = tempfile::tempdir().unwrap();
    let reports = rt
        .block_on(s2.verify(&BTreeMap::new(), work.path()))
        .unwrap();
    let faults: Vec<Fault> = reports
        .iter()
        .flat_map(|r| r.report.faults.clone())
        .collect();
    assert!(
        faults
            .iter()
            .any(|f| matches!(f, Fault::AudioAltered { call_id, .. } if call_id == "n1-b")),
        "{faults:?}"
    );
    let shown = faults[0].to_string();
    assert!(shown.contains("n1-b"), "{shown}");
    // a removed object too
    rt.block_on(raw.delete(&object_store::path::Path::from(
        "site-a/node2/2024/03/01/n2-a.wav",
    )))
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let reports = rt
        .block_on(s1.verify(&BTreeMap::new(), work.path()))
        .unwrap();
    assert!(reports[1]
        .report
        .faults
        .iter()
        .any(|f| matches!(f, Fault::AudioMissing { call_id, .. } if call_id == "n2-a")));
}

/// moto enforcing authentication (`INITIAL_NO_AUTH_ACTION_COUNT=0`): keys it
/// does not know are refused, and the start-up check says so.
#[test]
fn wrong_credentials_are_a_clear_error_at_the_start_up_check() {
    let m = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = s3(m.port, "hotline-rec", "node1");
    let e = rt.block_on(s.check()).expect_err("unknown access key");
    let text = e.to_string();
    assert!(text.contains("cannot write"), "{text}");
    assert!(
        text.contains("InvalidAccessKeyId") || text.contains("403") || text.contains("Forbidden"),
        "{text}"
    );
}

/// Retention over the S3 store (node/sweep.rs, also run on `file://`):
/// the expired recording is deleted with its tombstone put, a held one is
/// kept, the quota takes the oldest first, another node's part is never
/// touched, a WAV deleted behind hotline's back (a lifecycle rule) and a
/// tombstone of another key are named by verify, an unreachable store
/// removes nothing.
#[test]
fn retention_in_the_s3_store_deletes_with_tombstones_and_verify_accepts_only_those() {
    let m = Moto::start();
    assert_eq!(http(m.port, "PUT", "/hl-ret", b""), Some(200), "bucket");
    let dir = tempfile::tempdir().unwrap();
    node::sweep::scenario(dir.path(), &|n| s3(m.port, "hl-ret", n), &|key| {
        // deleted behind hotline's back, by another S3 client (on its
        // own thread: the scenario runs inside a runtime)
        let (port, key) = (m.port, format!("site-a/{key}"));
        std::thread::spawn(move || {
            use object_store::ObjectStoreExt;
            let raw = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name("hl-ret")
                .with_endpoint(format!("http://127.0.0.1:{port}"))
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_access_key_id("lifecycle-rule")
                .with_secret_access_key("x")
                .build()
                .unwrap();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(raw.delete(&object_store::path::Path::from(key)))
                .unwrap();
        })
        .join()
        .unwrap();
    });
}
