//! Recordings on shared storage (issue 18) with a real S3-compatible peer,
//! `moto` (`moto_server` on loopback; scripts/test.sh installs it): a real
//! call recorded by `hotline serve` lands in the bucket under the node id and
//! leaves the spool, its audio is served over HTTP (whole and a range) from
//! the store, `recordings verify --all` and `--store URL` pass and name a
//! tampered object; a missing bucket and an unreachable endpoint stop
//! `check-config` and `serve` with a clear error.

use super::*;
use hotline_testkit::Moto;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// A plain HTTP/1.1 request: status, head, body (status 0: no answer).
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new(), Vec::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new(), Vec::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, String::from_utf8_lossy(&raw).into_owned(), Vec::new());
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, raw[split + 4..].to_vec())
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `[recordings_store]` of node1 writing to `bucket` on moto.
fn store_toml(port: u16, bucket: &str, creds: &Path) -> String {
    node_store_toml(port, bucket, creds, "node1")
}

/// The `[recordings_store]` of node `node` writing to `bucket` on moto.
fn node_store_toml(port: u16, bucket: &str, creds: &Path, node: &str) -> String {
    format!(
        "\n[recordings_store]\nurl = \"s3://{bucket}/site-a\"\nnode_id = \"{node}\"\n\
         endpoint = \"http://127.0.0.1:{port}\"\nallow_http = true\nregion = \"us-east-1\"\n\
         credentials_file = \"{}\"\nretry_every_s = 1\ntimeout_s = 5\n",
        creds.display()
    )
}

fn creds_file(dir: &Path) -> PathBuf {
    let p = dir.join("s3.env");
    std::fs::write(
        &p,
        "AWS_ACCESS_KEY_ID=hotline-lab\nAWS_SECRET_ACCESS_KEY=hotline-lab-secret\n",
    )
    .unwrap();
    p
}

/// A 2-second call answered by agent 1001 and recorded; its CDR once the
/// recording is uploaded and gone from the spool.
fn uploaded_call(h: &Hotline) -> hotline_core::Cdr {
    let port = free_udp_port();
    register(h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn();
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(2000)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_success("recorded call");
    agent.wait().assert_success("agent 1001");
    let cdr = wait_cdrs(h, 1).remove(0);
    let rel = cdr.recording_path.clone().expect("recorded");
    let spool_wav = h.recordings_dir().join(&rel);
    // uploaded, then removed from the spool
    assert!(
        wait_until(Duration::from_secs(20), || !spool_wav.exists()
            && !spool_wav.with_extension("manifest.json").exists()),
        "{} still in the spool\n{}",
        spool_wav.display(),
        h.report()
    );
    cdr
}

/// The environment of an auditor's `verify --store` against moto.
fn auditor_env(port: u16) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "auditor".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "auditor-secret".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}

/// `hotline ARGS` in the node's directory with `env`.
fn cli(h: &Hotline, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(Hotline::binary());
    c.args(args)
        .current_dir(h.dir.path())
        .env("HOTLINE_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn a_recorded_call_goes_to_the_s3_store_plays_from_it_and_verifies() {
    need_peers();
    let m = Moto::start();
    let moto_addr = format!("127.0.0.1:{}", m.port);
    assert_eq!(
        http(&moto_addr, "PUT", "/hl-e2e", &[]).0,
        200,
        "bucket created"
    );
    let side = tempfile::tempdir().unwrap();
    let creds = creds_file(side.path());
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: store_toml(m.port, "hl-e2e", &creds),
        ..HotlineOptions::default()
    });
    let cdr = uploaded_call(&h);
    let id = cdr.call_id.as_str().to_string();
    let rel = cdr.recording_path.clone().expect("recorded");
    // served over HTTP from the store: whole, and a range
    let web = h.http_addr();
    let auth = ("Authorization", "Bearer test-token");
    let (s, head, wav) = http(&web, "GET", &format!("/api/recordings/{id}/audio"), &[auth]);
    assert_eq!(s, 200, "{head}\n{}", h.report());
    assert!(wav.starts_with(b"RIFF"));
    assert_eq!(
        hex_sha256(&wav),
        cdr.recording_sha256.clone().unwrap(),
        "the object is the recording the CDR names"
    );
    let (s, head, part) = http(
        &web,
        "GET",
        &format!("/api/recordings/{id}/audio"),
        &[auth, ("Range", "bytes=44-1043")],
    );
    assert_eq!((s, part.len()), (206, 1000), "{head}");
    assert_eq!(part, wav[44..1044]);
    // the console's evidence bundle, built from the store
    let (s, head, zip) = http(
        &web,
        "GET",
        &format!("/api/recordings/{id}/bundle"),
        &[auth],
    );
    assert_eq!(s, 200, "{head} {}", String::from_utf8_lossy(&zip));
    assert!(zip.starts_with(b"PK"));
    let console_zip = side.path().join("console.zip");
    std::fs::write(&console_zip, &zip).unwrap();
    // its channels: the caller's tone on the left, the agent's side on the right
    let tmp = side.path().join("back.wav");
    std::fs::write(&tmp, &wav).unwrap();
    let mut r = hound::WavReader::open(&tmp).unwrap();
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let left_loud = all
        .iter()
        .step_by(2)
        .filter(|s| s.unsigned_abs() > 1000)
        .count();
    assert!(
        left_loud > all.len() / 8,
        "the caller's audio is on the left: {left_loud} of {}",
        all.len() / 2
    );
    // verify across nodes from the node's config, and from a third machine
    let cfg = h.config_path.to_str().unwrap().to_string();
    let data = h.data_dir.to_str().unwrap().to_string();
    let cli = |args: &[&str], env: &[(&str, String)]| cli(&h, args, env);
    let out = cli(
        &[
            "recordings",
            "--config",
            &cfg,
            "--data",
            &data,
            "verify",
            "--all",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("node node1: key fingerprint"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("OK (1 node(s))"), "{}", text(&out));
    // one recording, and its evidence bundle, through the store
    let out = cli(
        &[
            "recordings",
            "--config",
            &cfg,
            "--data",
            &data,
            "verify",
            &id,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("in the shared store, node node1"),
        "{}",
        text(&out)
    );
    let zip = side.path().join("bundle.zip");
    let zip_s = zip.to_str().unwrap().to_string();
    let out = cli(
        &[
            "recordings",
            "--config",
            &cfg,
            "--data",
            &data,
            "export",
            &id,
            "--out",
            &zip_s,
            "--reason",
            "court request",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&["recordings", "verify", &zip_s], &[]);
    assert!(
        out.status.success(),
        "the bundle verifies alone: {}",
        text(&out)
    );
    let out = cli(
        &["recordings", "verify", console_zip.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "the console's bundle verifies: {}",
        text(&out)
    );
    assert!(
        std::fs::read_dir(&h.data_dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("console-bundle")),
        "the work copies are removed"
    );
    let pubkey = std::fs::read_to_string(h.data_dir.join("evidence/public.key")).unwrap();
    let env = auditor_env(m.port);
    let pin = format!("node1={}", pubkey.trim());
    let out = cli(
        &[
            "recordings",
            "verify",
            "--store",
            "s3://hl-e2e/site-a",
            "--pubkey",
            &pin,
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(pinned)"),
        "{}",
        text(&out)
    );
    // the object altered in the bucket: named by verify
    let mut bad = wav.clone();
    bad[4000] ^= 0x40;
    put_object(m.port, &format!("site-a/node1/{rel}"), bad);
    let out = cli(
        &["recordings", "verify", "--store", "s3://hl-e2e/site-a"],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all_text = text(&out);
    assert!(
        all_text.contains("audio altered") || all_text.contains("altered"),
        "{all_text}"
    );
    assert!(all_text.contains(&id), "{all_text}");
    assert!(!all_text.contains("panicked"), "{all_text}");
}

/// Retention reaches the store: `serve`'s sweep (at start, then every
/// `retention.check_every_s`) removes a recording over the store's quota
/// from the bucket with a signed tombstone, on record; playback answers as
/// for a swept recording, and `verify --all` and `verify --store` pass.
#[test]
fn the_sweep_of_serve_removes_a_recording_from_the_s3_store_and_verify_passes() {
    need_peers();
    let m = Moto::start();
    let moto_addr = format!("127.0.0.1:{}", m.port);
    assert_eq!(http(&moto_addr, "PUT", "/hl-ret", &[]).0, 200, "bucket");
    let side = tempfile::tempdir().unwrap();
    let creds = creds_file(side.path());
    let mut h = Hotline::start_with(HotlineOptions {
        extra_toml: store_toml(m.port, "hl-ret", &creds),
        ..HotlineOptions::default()
    });
    let cdr = uploaded_call(&h);
    let id = cdr.call_id.as_str().to_string();
    let rel = cdr.recording_path.clone().expect("recorded");
    let env = auditor_env(m.port);
    let out = cli(
        &h,
        &["recordings", "verify", "--store", "s3://hl-ret/site-a"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out));
    // a 2 s recording (~64 KiB) over a 10 KiB budget: the restarted node's
    // first sweep removes it
    let cfg = std::fs::read_to_string(&h.config_path).unwrap();
    std::fs::write(&h.config_path, format!("{cfg}quota_mb = 0.01\n")).unwrap();
    h.restart();
    let audit = || {
        let o = crate::access::hotline(&h, &["audit", "--call", &id]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        wait_until(Duration::from_secs(20), || audit().contains(",delete,")),
        "no deletion on record\n{}\n{}",
        audit(),
        h.report()
    );
    let log = audit();
    assert!(
        log.contains("system:retention") && log.contains("storage quota"),
        "{log}"
    );
    // gone from the bucket, its tombstone there
    let key = format!("site-a/node1/{rel}");
    assert!(
        wait_until(Duration::from_secs(10), || get_object(
            m.port, "hl-ret", &key
        )
        .is_none()),
        "{key} still in the bucket"
    );
    let tomb = key.replace(".wav", ".deleted.json");
    let body = get_object(m.port, "hl-ret", &tomb).expect("the tombstone");
    let t: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(t["call_id"], id.as_str());
    assert_eq!(t["reason"], "storage quota");
    // playback answers as for a swept recording
    let (s, head, _) = http(
        &h.http_addr(),
        "GET",
        &format!("/api/recordings/{id}/audio"),
        &[("Authorization", "Bearer test-token")],
    );
    assert_eq!(s, 404, "{head}");
    // the chain still verifies, from the node and from a third machine
    crate::access::ok(&crate::access::hotline(
        &h,
        &["recordings", "verify", "--all"],
    ));
    // the operator's pass over the store finds nothing left to remove
    let dry = crate::access::ok(&crate::access::hotline(
        &h,
        &["recordings", "retention", "--dry-run"],
    ));
    assert!(
        dry.contains("0 recording(s) would remove from s3://hl-ret/site-a (node node1)"),
        "{dry}"
    );
    let out = cli(
        &h,
        &["recordings", "verify", "--store", "s3://hl-ret/site-a"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("#0 {id}")),
        "{}",
        text(&out)
    );
}

/// Two `serve` processes (two nodes, a SQLite call log each) record a call
/// each into one bucket; an auditor's `verify --store` checks both chains.
#[test]
fn two_serve_nodes_record_into_one_bucket_and_both_chains_verify() {
    need_peers();
    let m = Moto::start();
    let moto_addr = format!("127.0.0.1:{}", m.port);
    assert_eq!(http(&moto_addr, "PUT", "/hl-two", &[]).0, 200, "bucket");
    let side = tempfile::tempdir().unwrap();
    let creds = creds_file(side.path());
    let start = |node: &str| {
        Hotline::start_with(HotlineOptions {
            extra_toml: node_store_toml(m.port, "hl-two", &creds, node),
            ..HotlineOptions::default()
        })
    };
    let (h1, h2) = (start("node1"), start("node2"));
    let id1 = uploaded_call(&h1).call_id.as_str().to_string();
    let id2 = uploaded_call(&h2).call_id.as_str().to_string();
    let out = cli(
        &h1,
        &["recordings", "verify", "--store", "s3://hl-two/site-a"],
        &auditor_env(m.port),
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (node, id) in [("node1", &id1), ("node2", &id2)] {
        assert!(
            stdout.contains(&format!("node {node}: key fingerprint")),
            "{}",
            text(&out)
        );
        assert!(stdout.contains(&format!("#0 {id}")), "{}", text(&out));
    }
    assert!(stdout.contains("OK (2 node(s))"), "{}", text(&out));
}

fn hex_sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Rewrites an object through a signed S3 PUT (moto refuses unsigned ones).
/// A plain S3 client of `bucket` on moto (another party: any credentials),
/// and a runtime to drive it.
fn raw_s3(port: u16, bucket: &str) -> (object_store::aws::AmazonS3, tokio::runtime::Runtime) {
    // reqwest without a bundled provider panics at build without one
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("tamperer")
        .with_secret_access_key("x")
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (s3, rt)
}

fn put_object(port: u16, key: &str, bytes: Vec<u8>) {
    use object_store::ObjectStoreExt;
    let (s3, rt) = raw_s3(port, "hl-e2e");
    rt.block_on(s3.put(&object_store::path::Path::from(key), bytes.into()))
        .unwrap();
}

/// The object at `key` in `bucket` (None: there is none).
fn get_object(port: u16, bucket: &str, key: &str) -> Option<Vec<u8>> {
    use object_store::ObjectStoreExt;
    let (s3, rt) = raw_s3(port, bucket);
    rt.block_on(async {
        match s3.get(&object_store::path::Path::from(key)).await {
            Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("{key}: {e}"),
        }
    })
}

#[test]
fn a_missing_bucket_or_an_unreachable_store_stops_check_config_and_serve() {
    let m = Moto::start();
    // hostile `verify --store` input: a clear refusal, exit status 2
    let long = format!("s3://b/{}", "x".repeat(10_000));
    for (args, want) in [
        (vec!["--store", "ftp://host/x"], "expected \"local\""),
        (vec!["--store", "s3://Not_A_Bucket"], "bucket name"),
        (vec!["--store", long.as_str()], "2048"),
        (vec!["--store", "file://relative"], "absolute"),
        (vec!["--store", "s3://b", "--pubkey", "zz"], "NODE=HEX"),
        (
            vec!["--store", "s3://b", "--pubkey", "node1=zz"],
            "--pubkey node1",
        ),
        (vec!["--store", "s3://b", "c-alpha"], "cannot be used with"),
    ] {
        let out = Command::new(Hotline::binary())
            .args(["recordings", "verify"])
            .args(&args)
            .env("HOTLINE_LOG", "warn")
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", m.port))
            .env("AWS_ALLOW_HTTP", "true")
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(want), "{args:?}: {t}");
        assert!(!t.contains("panicked") && t.len() < 4000, "{t}");
    }
    let side = tempfile::tempdir().unwrap();
    let creds = creds_file(side.path());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (port, bucket, want) in [
        (m.port, "no-such-bucket", "recordings_store.url"),
        (closed, "hl-any", "recordings_store.url"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("hotline.toml");
        std::fs::write(
            &cfg,
            format!(
                "[hotline]\nnumbers = [\"110\"]\n[storage]\ndata_dir = \"{}\"\n{}",
                dir.path().join("data").display(),
                store_toml(port, bucket, &creds)
            ),
        )
        .unwrap();
        let started = Instant::now();
        let out = Command::new(Hotline::binary())
            .args(["check-config", cfg.to_str().unwrap()])
            .env("HOTLINE_LOG", "warn")
            .output()
            .unwrap();
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains(want) && t.contains(bucket), "{t}");
        assert!(t.contains("not usable by node node1"), "{t}");
        assert!(!t.contains("panicked"), "{t}");
        assert!(started.elapsed() < Duration::from_secs(30), "{t}");
        // serve stops the same way, before it takes a call
        let sip = format!("127.0.0.1:{}", free_udp_port());
        let mut child = Command::new(Hotline::binary())
            .args(["serve", "--config", cfg.to_str().unwrap(), "--sip", &sip])
            .args(["--http", "127.0.0.1:0"])
            .env("HOTLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut status = None;
        wait_until(Duration::from_secs(30), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let t = text(&out);
        assert!(status.is_some_and(|s| !s.success()), "serve must stop: {t}");
        assert!(t.contains(want) && t.contains(bucket), "{t}");
        assert!(!t.contains("panicked"), "{t}");
    }
}
