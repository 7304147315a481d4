//! Recordings as evidence: every recording closes with a signed, chained
//! manifest; a SIGKILL mid-call leaves a file the next start repairs, seals as
//! recovered and that verifies; `hotline recordings pubkey|verify|export` name
//! each kind of tampering, and an exported bundle verifies with nothing else.

use super::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Runs `hotline recordings ARGS` in `cwd`.
fn recordings_cli(cwd: &Path, args: &[&str]) -> Output {
    Command::new(Hotline::binary())
        .arg("recordings")
        .args(args)
        .current_dir(cwd)
        .env("HOTLINE_LOG", "warn")
        .output()
        .expect("run hotline recordings")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `hotline recordings --config C --data D ARGS` against a running (or
/// stopped) hotline's data directory.
fn cli_for(h: &Hotline, args: &[&str]) -> Output {
    let mut all = vec![
        "--config",
        h.config_path.to_str().unwrap(),
        "--data",
        h.data_dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    recordings_cli(h.dir.path(), &all)
}

fn manifest_of(wav: &Path) -> serde_json::Value {
    let stem = wav.file_stem().unwrap().to_str().unwrap();
    let p = wav.with_file_name(format!("{stem}.manifest.json"));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_slice(&bytes).expect("manifest is JSON")
}

fn agent_phone(port: u16) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn()
}

fn caller(h: &Hotline, hold_ms: u64) -> Sipp {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(hold_ms)
        .timeout(Duration::from_secs(60))
}

#[test]
fn a_recorded_call_closes_with_a_signed_chained_manifest() {
    need_peers();
    let h = Hotline::start();
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = agent_phone(port);
    caller(&h, 2000).run().assert_success("recorded call");
    agent.wait().assert_success("agent 1001");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let wav = h
        .recordings_dir()
        .join(cdr.recording_path.as_deref().expect("recorded"));
    let mut m = serde_json::Value::Null;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let p = wav.with_file_name(format!("{}.manifest.json", cdr.call_id.as_str()));
            p.exists() && {
                m = manifest_of(&wav);
                true
            }
        }),
        "no manifest next to {}\n{}",
        wav.display(),
        h.report()
    );
    assert_eq!(m["recovered"], false, "{m:#}");
    assert_eq!(m["call_id"], cdr.call_id.as_str());
    assert_eq!(m["caller"], "0612345678");
    assert_eq!(m["agent"], "1001");
    assert_eq!(m["queue"], "general");
    assert_eq!(m["seq"], 0, "first recording of a new key");
    assert!(m["prev"].is_null());
    assert_eq!(
        m["file_sha256"].as_str(),
        cdr.recording_sha256.as_deref(),
        "manifest hash = CDR hash"
    );
    let wav_len = std::fs::metadata(&wav).unwrap().len();
    assert_eq!(m["file_size"].as_u64(), Some(wav_len));
    let samples = m["samples_per_channel"].as_u64().unwrap();
    assert_eq!(samples * 4 + 44, wav_len);
    // the loudness timeline: one RMS value per 100 ms per channel, the
    // caller's tone makes the left channel loud
    let caller_rms = m["loudness"]["caller_rms"].as_array().expect("loudness");
    assert_eq!(caller_rms.len() as u64, samples.div_ceil(800));
    assert!(
        caller_rms
            .iter()
            .filter(|v| v.as_u64().unwrap() > 1000)
            .count()
            > caller_rms.len() / 2
    );
    // key: 0600, the public key printed by the CLI
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.data_dir.join("evidence/signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = cli_for(&h, &["pubkey"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(printed.len(), 64, "{}", text(&out));
    assert_eq!(
        printed,
        std::fs::read_to_string(h.data_dir.join("evidence/public.key"))
            .unwrap()
            .trim()
    );
    let out = cli_for(&h, &["verify", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("OK (1 recording(s)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_recording_killed_mid_call_is_recovered_sealed_and_verifies() {
    need_peers();
    let mut h = Hotline::start();
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = agent_phone(port);
    let call = caller(&h, 30_000).spawn();
    let wav = h.wait_recording(None, Duration::from_secs(15));
    let opened = Instant::now();
    let id = wav.file_stem().unwrap().to_str().unwrap().to_string();
    // half-way between two header refreshes (they come every second from
    // the open), so the header is likely stale at the kill and the sweep
    // must repair it from the file length
    std::thread::sleep(Duration::from_millis(4_500));
    let on_disk_before = std::fs::metadata(&wav).unwrap().len();
    h.kill();
    let talk = opened.elapsed().as_secs_f64();
    let _ = call.stop();
    let _ = agent.stop();
    let manifest = wav.with_file_name(format!("{id}.manifest.json"));
    assert!(!manifest.exists(), "a killed engine cannot have sealed it");
    // what hound reads before the repair: the header of the last flush
    let header_s = hound::WavReader::open(&wav)
        .map(|r| f64::from(r.duration()) / 8000.0)
        .unwrap_or(-1.0);

    h.restart();
    assert!(
        manifest.exists(),
        "the startup sweep sealed nothing\n{}",
        h.report()
    );
    assert!(
        h.stderr().contains("recording recovered after a crash"),
        "{}",
        h.report()
    );
    let m = manifest_of(&wav);
    assert_eq!(m["recovered"], true, "{m:#}");
    assert_eq!(m["call_id"], id.as_str());
    // the event log named the parties of the crashed call
    assert_eq!(m["caller"], "0612345678", "{m:#}");
    assert_eq!(m["agent"], "1001", "{m:#}");
    let rec = Wav::read(&wav);
    let secs = rec.duration().as_secs_f64();
    eprintln!(
        "crash recovery: talked {talk:.2} s, {on_disk_before} bytes on disk at the kill, header said {header_s:.2} s, recovered {secs:.2} s"
    );
    assert!(
        secs >= talk - 1.5 && secs <= talk + 0.5,
        "recovered {secs:.2} s of a call that talked {talk:.2} s"
    );
    assert!(
        header_s >= 0.0 && header_s >= talk - 2.0,
        "header refreshed while writing: {header_s:.2} s of {talk:.2} s"
    );
    assert!(
        secs >= header_s,
        "the repair lost audio the header had: {secs:.2} < {header_s:.2} s"
    );
    assert_eq!(
        std::fs::metadata(&wav).unwrap().len(),
        44 + rec.frames() as u64 * 4,
        "whole frames only"
    );
    // the recovery is in the event log
    let ev = events(&h, &CallId::from_stored(id.clone()));
    let rec_ev = find(&ev, |k| matches!(k, EventKind::RecordingRecovered { .. }))
        .unwrap_or_else(|| panic!("no recording_recovered in {:?}", kinds(&ev)));
    match &rec_ev.kind {
        EventKind::RecordingRecovered {
            samples,
            sha256,
            header_bytes,
            data_bytes,
            ..
        } => {
            assert_eq!(*samples, rec.frames() as u64);
            assert_eq!(Some(sha256.as_str()), m["file_sha256"].as_str());
            assert!(data_bytes >= header_bytes);
        }
        _ => unreachable!(),
    }
    assert_eq!(rec_ev.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    // the interrupted call is closed in the event log and the CDRs as ended
    // by the engine's restart, with its agent and recording
    let failed = find(
        &ev,
        |k| matches!(k, EventKind::Failed { reason } if reason.contains("engine restart")),
    )
    .unwrap_or_else(|| panic!("no failed (restart) in {:?}", kinds(&ev)));
    assert_eq!(failed.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    let cdr = wait_cdrs(&h, 1)
        .into_iter()
        .find(|c| c.call_id.as_str() == id)
        .expect("a CDR for the interrupted call");
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Failed), "{cdr:#?}");
    assert_eq!(cdr.ended_by, Some(hotline_core::EndedBy::System));
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert!(
        cdr.recording_path
            .as_deref()
            .is_some_and(|p| p.ends_with(&format!("{id}.wav"))),
        "{cdr:#?}"
    );
    assert!(cdr.talk_ms.is_some_and(|t| t > 0), "{cdr:#?}");
    assert_tone(
        "recovered left (caller)",
        &rec.channel(0),
        8000,
        CALLER_TONE_HZ,
        0.6,
    );
    assert_eq!(m["samples_per_channel"].as_u64(), Some(rec.frames() as u64));
    let out = cli_for(&h, &["verify", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("recovered after a crash"), "{}", text(&out));
    let out = cli_for(&h, &["verify", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
}

// ---------------------------------------------------------------------------
// The CLI against a synthetic data directory (no SIP peers needed)
// ---------------------------------------------------------------------------

struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    root: PathBuf,
    wavs: Vec<PathBuf>,
}

impl Site {
    /// Three recordings sealed by the server's notary, as `serve` would.
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let root = data.join("recordings");
        let config = dir.path().join("hotline.toml");
        std::fs::write(
            &config,
            format!(
                "[storage]\ndata_dir = \"{}\"\nrecordings = \"{}\"\n",
                data.display(),
                root.display()
            ),
        )
        .unwrap();
        let notary = hotline_evidence::Notary::open(&data).unwrap();
        let day = root.join("2026/11/23");
        std::fs::create_dir_all(&day).unwrap();
        let mut wavs = Vec::new();
        for (i, id) in ["c-alpha", "c-bravo", "c-charlie"].iter().enumerate() {
            let p = day.join(format!("{id}.wav"));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            for n in 0..8000i32 {
                w.write_sample(((n * (i as i32 + 3)) % 3000) as i16)
                    .unwrap();
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
            let (sha, size) = hotline_evidence::wav::hash_file(&p).unwrap();
            let facts = hotline_evidence::RecordingFacts {
                call_id: id.to_string(),
                caller: Some("0612345678".into()),
                agent: Some("1001".into()),
                start_ms: 1_763_856_000_000 + i as i64 * 10_000,
                end_ms: 1_763_856_001_000 + i as i64 * 10_000,
                samples_per_channel: 8000,
                file_sha256: sha,
                file_size: size,
                ..Default::default()
            };
            notary.seal(&p, facts, 1_763_856_002_000).unwrap();
            wavs.push(p);
        }
        Site {
            dir,
            config,
            data,
            root,
            wavs,
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "--config",
            self.config.to_str().unwrap(),
            "--data",
            self.data.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        recordings_cli(self.dir.path(), &all)
    }

    fn manifest(&self, i: usize) -> PathBuf {
        let stem = self.wavs[i]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        self.wavs[i].with_file_name(format!("{stem}.manifest.json"))
    }

    /// Runs verify, expects failure, returns stdout+stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(!out.status.success(), "verify passed: {}", text(&out));
        text(&out)
    }
}

#[test]
fn cli_verify_names_an_edited_byte_an_edited_or_swapped_manifest_and_a_deleted_link() {
    let s = Site::new();
    let out = s.cli(&["verify", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("OK (3 recording(s)"),
        "{}",
        text(&out)
    );
    let out = s.cli(&["verify", "c-bravo"]);
    assert!(out.status.success(), "{}", text(&out));

    // one edited audio byte
    let original = std::fs::read(&s.wavs[1]).unwrap();
    let mut bytes = original.clone();
    bytes[44 + 4 * 4000] ^= 0x01;
    std::fs::write(&s.wavs[1], &bytes).unwrap();
    let t = s.fails(&["verify", "c-bravo"]);
    assert!(
        t.contains("FAULT  c-bravo: audio altered: c-bravo.wav has SHA-256"),
        "{t}"
    );
    assert_eq!(t.matches("FAULT").count(), 1, "{t}");
    let t = s.fails(&["verify", "--all"]);
    assert!(
        t.contains("c-bravo: audio altered") && t.contains("1 fault(s)"),
        "{t}"
    );
    // the others still verify one by one
    assert!(s.cli(&["verify", "c-alpha"]).status.success());
    std::fs::write(&s.wavs[1], &original).unwrap();

    // an edited manifest (the agent's name changed)
    let m = std::fs::read_to_string(s.manifest(2)).unwrap();
    std::fs::write(s.manifest(2), m.replace("\"1001\"", "\"1002\"")).unwrap();
    let t = s.fails(&["verify", "c-charlie"]);
    assert!(
        t.contains("c-charlie.manifest.json: signature invalid"),
        "{t}"
    );
    std::fs::write(s.manifest(2), &m).unwrap();

    // a swapped manifest
    let b = std::fs::read(s.manifest(1)).unwrap();
    std::fs::copy(s.manifest(0), s.manifest(1)).unwrap();
    let t = s.fails(&["verify", "c-bravo"]);
    assert!(
        t.contains("manifest swapped: it is the manifest of call c-alpha (c-alpha.wav), not of c-bravo.wav"),
        "{t}"
    );
    std::fs::write(s.manifest(1), &b).unwrap();
    assert!(s.cli(&["verify", "--all"]).status.success());

    // a recording deleted from the middle of the chain
    std::fs::remove_file(&s.wavs[1]).unwrap();
    std::fs::remove_file(s.manifest(1)).unwrap();
    let t = s.fails(&["verify", "--all"]);
    assert!(
        t.contains("chain broken before c-charlie (#2): link #1 (call c-bravo, manifest hash"),
        "{t}"
    );
    assert!(t.contains("that recording was deleted"), "{t}");
    let t = s.fails(&["verify", "c-charlie"]);
    assert!(t.contains("link #1 (call c-bravo"), "{t}");
}

#[test]
fn cli_export_writes_a_bundle_that_verifies_with_nothing_else_present() {
    let s = Site::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let zip = elsewhere.path().join("c-bravo.zip");
    let out = s.cli(&["export", "c-bravo", "--out", zip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("with the previous link, with the next link"),
        "{}",
        text(&out)
    );
    let pubkey = String::from_utf8_lossy(&s.cli(&["pubkey"]).stdout)
        .trim()
        .to_string();
    // exporting over an existing file is refused
    let again = s.cli(&["export", "c-bravo", "--out", zip.to_str().unwrap()]);
    assert!(!again.status.success(), "{}", text(&again));
    drop(s); // the whole site is gone: only the bundle is left

    let empty = tempfile::tempdir().unwrap();
    let out = recordings_cli(empty.path(), &["verify", zip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok     #1 c-bravo") && stdout.contains(": OK (1 recording(s)"),
        "{}",
        text(&out)
    );
    let out = recordings_cli(
        empty.path(),
        &["verify", zip.to_str().unwrap(), "--pubkey", &pubkey],
    );
    assert!(out.status.success(), "{}", text(&out));
    // another server's key: the signatures do not verify
    let other = tempfile::tempdir().unwrap();
    let (k, _) = hotline_evidence::load_or_create_signing_key(other.path()).unwrap();
    let other_hex = hotline_evidence::public_key_hex(&k.verifying_key());
    let out = recordings_cli(
        empty.path(),
        &["verify", zip.to_str().unwrap(), "--pubkey", &other_hex],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signature invalid"), "{}", text(&out));

    // a bundle with one audio byte changed
    let tampered = elsewhere.path().join("tampered.zip");
    {
        let mut z = zip_read(&zip);
        let mut w = ::zip::ZipWriter::new(std::fs::File::create(&tampered).unwrap());
        for (name, mut bytes) in z.drain(..) {
            if name == "c-bravo.wav" {
                bytes[1000] ^= 0x40;
            }
            w.start_file(name, ::zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, &bytes).unwrap();
        }
        w.finish().unwrap();
    }
    let out = recordings_cli(empty.path(), &["verify", tampered.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("c-bravo: audio altered"),
        "{}",
        text(&out)
    );
}

fn zip_read(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = ::zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            (e.name().to_string(), b)
        })
        .collect()
}

#[test]
fn cli_refuses_hostile_ids_and_garbage_clearly() {
    let s = Site::new();
    let long = "a".repeat(10_000);
    for (args, want) in [
        (
            vec!["verify", "../../../etc/passwd"],
            "is not a recording id",
        ),
        (vec!["verify", long.as_str()], "is not a recording id"),
        (
            vec!["export", "../x", "--out", "/tmp/never.zip"],
            "is not a recording id",
        ),
        (vec!["verify", "no-such-call"], "no recording no-such-call"),
        (
            vec!["verify"],
            "give a recording id, a bundle (FILE.zip) or --all",
        ),
        (
            vec!["verify", "c-alpha", "--pubkey", "xyz"],
            "--pubkey: not hex",
        ),
    ] {
        let out = s.cli(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(want), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
    assert!(!Path::new("/tmp/never.zip").exists());
    // garbage where a manifest or a bundle should be
    std::fs::write(s.manifest(0), b"{\"version\": 1, \"seq\": ").unwrap();
    let out = s.cli(&["verify", "c-alpha"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("manifest unreadable"), "{}", text(&out));
    let junk = s.dir.path().join("junk.zip");
    std::fs::write(&junk, vec![b'P'; 3000]).unwrap();
    let out = s.cli(&["verify", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not an evidence bundle"),
        "{}",
        text(&out)
    );
    // the key is not readable by others; verify refuses a loosened key
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = s.data.join("evidence/signing.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = s.cli(&["pubkey"]);
        assert!(!out.status.success());
        assert!(text(&out).contains("chmod 600"), "{}", text(&out));
    }
    let _ = &s.root;
}
