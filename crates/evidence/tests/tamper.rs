#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! Tampering with recordings, manifests and the chain, and what verify says.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hotline_evidence::bundle::{export, verify_bundle};
use hotline_evidence::sweep::{sweep, Parties};
use hotline_evidence::verify::{verify_all, verify_one};
use hotline_evidence::wav::hash_file;
use hotline_evidence::{ChainHead, EvidenceError, Fault, Gaps, Notary, RecordingFacts};

struct Site {
    _dir: tempfile::TempDir,
    data: PathBuf,
    root: PathBuf,
    notary: Notary,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let root = data.join("recordings");
        fs::create_dir_all(&root).unwrap();
        let notary = Notary::open(&data).unwrap();
        Site {
            _dir: dir,
            data,
            root,
            notary,
        }
    }

    /// Writes a 1 s stereo WAV with distinct content and seals it.
    fn record(&self, id: &str, day: &str) -> PathBuf {
        let dir = self.root.join(day);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{id}.wav"));
        write_wav(&path, id.len() as i16);
        let (sha, size) = hash_file(&path).unwrap();
        let facts = RecordingFacts {
            call_id: id.into(),
            caller: Some("+8613800000000".into()),
            agent: Some("1001".into()),
            queue: Some("support".into()),
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_001_000,
            samples_per_channel: 8_000,
            codec: "pcm_s16le 8000 Hz stereo".into(),
            gaps: Gaps {
                count: 1,
                samples: 160,
            },
            file_size: size,
            file_sha256: sha,
            ..RecordingFacts::default()
        };
        self.notary.seal(&path, facts, 1_700_000_002_000).unwrap();
        path
    }

    fn head(&self) -> Option<hotline_evidence::Link> {
        ChainHead::load(&self.data).unwrap()
    }

    fn verify(&self) -> Vec<Fault> {
        verify_all(&self.root, &self.notary.public_key(), self.head().as_ref())
            .unwrap()
            .faults
    }

    fn manifest(&self, id: &str) -> PathBuf {
        hotline_evidence::verify::find(&self.root, id)
            .unwrap()
            .1
            .unwrap()
    }
}

fn write_wav(path: &Path, v: i16) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..8_000i16 {
        w.write_sample(v.wrapping_mul(i)).unwrap();
        w.write_sample(-i).unwrap();
    }
    w.finalize().unwrap();
}

fn three() -> (Site, [PathBuf; 3]) {
    let s = Site::new();
    let a = s.record("call-a", "2026/11/22");
    let b = s.record("call-bb", "2026/11/23");
    let c = s.record("call-ccc", "2026/11/23");
    (s, [a, b, c])
}

#[test]
fn clean_chain_verifies() {
    let (s, _) = three();
    assert_eq!(s.verify(), vec![]);
    let r = verify_one(
        &s.root,
        "call-bb",
        &s.notary.public_key(),
        s.head().as_ref(),
    )
    .unwrap();
    assert!(r.is_ok(), "{:?}", r.faults);
    assert_eq!(r.checked.len(), 1);
    assert_eq!(r.checked[0].seq, 1);
    assert_eq!(s.head().unwrap().call_id, "call-ccc");
}

#[test]
fn edited_audio_byte_is_named() {
    let (s, [_, b, _]) = three();
    let mut bytes = fs::read(&b).unwrap();
    bytes[44 + 1000] ^= 0x01;
    fs::write(&b, &bytes).unwrap();
    let faults = s.verify();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let Fault::AudioAltered {
        call_id,
        expected_size,
        actual_size,
        ..
    } = &faults[0]
    else {
        panic!("{faults:?}")
    };
    assert_eq!(call_id, "call-bb");
    assert_eq!(expected_size, actual_size);
    assert!(faults[0].to_string().contains("audio altered"));
    // verify of another id is not affected
    let r = verify_one(&s.root, "call-a", &s.notary.public_key(), s.head().as_ref()).unwrap();
    assert!(r.is_ok(), "{:?}", r.faults);
    let r = verify_one(
        &s.root,
        "call-bb",
        &s.notary.public_key(),
        s.head().as_ref(),
    )
    .unwrap();
    assert!(
        matches!(r.faults.as_slice(), [Fault::AudioAltered { .. }]),
        "{:?}",
        r.faults
    );
}

#[test]
fn edited_manifest_fails_its_signature() {
    let (s, _) = three();
    let p = s.manifest("call-bb");
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains("\"1001\""));
    fs::write(&p, text.replace("\"1001\"", "\"1002\"")).unwrap();
    let faults = s.verify();
    assert!(
        faults
            .iter()
            .any(|f| matches!(f, Fault::BadSignature { manifest } if manifest.contains("call-bb"))),
        "{faults:?}"
    );
    // the edit also changes its hash: the next link names it as replaced
    assert!(
        faults.iter().any(|f| matches!(f,
            Fault::LinkReplaced { call_id, expected_call_id, .. }
                if call_id == "call-ccc" && expected_call_id == "call-bb")),
        "{faults:?}"
    );
    // reformatting (same content) is not a fault
    let (s2, _) = three();
    let p = s2.manifest("call-a");
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(s2.verify(), vec![]);
}

#[test]
fn swapped_manifest_is_named() {
    let (s, _) = three();
    let a = s.manifest("call-a");
    let b = s.manifest("call-bb");
    fs::copy(&a, &b).unwrap();
    let faults = s.verify();
    assert!(
        faults.iter().any(|f| matches!(f,
            Fault::ManifestSwapped { names_call, expected_file, .. }
                if names_call == "call-a" && expected_file == "call-bb.wav")),
        "{faults:?}"
    );
    // it is a validly signed manifest: no signature fault
    assert!(!faults
        .iter()
        .any(|f| matches!(f, Fault::BadSignature { .. })));
}

#[test]
fn recording_deleted_from_the_middle_breaks_the_chain_naming_it() {
    let (s, [_, b, _]) = three();
    let m = s.manifest("call-bb");
    fs::remove_file(&b).unwrap();
    fs::remove_file(&m).unwrap();
    let faults = s.verify();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let Fault::MissingLink {
        call_id,
        seq,
        missing_seq,
        missing_call_id,
        ..
    } = &faults[0]
    else {
        panic!("{faults:?}")
    };
    assert_eq!(
        (
            call_id.as_str(),
            *seq,
            *missing_seq,
            missing_call_id.as_str()
        ),
        ("call-ccc", 2, 1, "call-bb")
    );
    assert!(faults[0].to_string().contains("was deleted"));
}

#[test]
fn newest_recording_deleted_is_caught_by_the_head() {
    let (s, [_, _, c]) = three();
    fs::remove_file(s.manifest("call-ccc")).unwrap();
    fs::remove_file(&c).unwrap();
    assert_eq!(
        s.verify(),
        vec![Fault::HeadMissing {
            seq: 2,
            call_id: "call-ccc".into()
        }]
    );
}

#[test]
fn missing_audio_or_manifest_is_named() {
    let (s, [a, _, _]) = three();
    fs::remove_file(&a).unwrap();
    fs::remove_file(s.manifest("call-bb")).unwrap();
    let faults = s.verify();
    assert!(faults.contains(&Fault::AudioMissing {
        call_id: "call-a".into(),
        file: "call-a.wav".into()
    }));
    assert!(faults
        .iter()
        .any(|f| matches!(f, Fault::ManifestMissing { file } if file.ends_with("call-bb.wav"))));
}

#[test]
fn garbage_manifests_are_faults_not_panics() {
    let (s, _) = three();
    let p = s.manifest("call-bb");
    for junk in [
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"{\"version\": 1}".to_vec(),
        vec![0xff; 100],
        format!("[{}1]", "1,".repeat(33 * 1024 * 1024)).into_bytes(),
    ] {
        fs::write(&p, &junk).unwrap();
        let faults = s.verify();
        assert!(
            faults
                .iter()
                .any(|f| matches!(f, Fault::ManifestUnreadable { manifest, .. } if manifest.contains("call-bb"))),
            "{faults:?}"
        );
        // not reported a second time as a deleted link
        assert!(
            !faults
                .iter()
                .any(|f| matches!(f, Fault::MissingLink { .. })),
            "{faults:?}"
        );
    }
}

#[test]
fn hostile_ids_are_refused() {
    let (s, _) = three();
    let k = s.notary.public_key();
    for id in ["../../etc/passwd", "", ".hidden", "a/b", &"x".repeat(5000)] {
        let e = verify_one(&s.root, id, &k, None).unwrap_err();
        assert!(matches!(e, EvidenceError::InvalidId(_)), "{e}");
    }
    let e = verify_one(&s.root, "nope", &k, None).unwrap_err();
    assert!(matches!(e, EvidenceError::NotFound { .. }), "{e}");
}

#[test]
fn a_recording_is_sealed_once() {
    let (s, [a, _, _]) = three();
    let (sha, size) = hash_file(&a).unwrap();
    let facts = RecordingFacts {
        call_id: "call-a".into(),
        file_sha256: sha,
        file_size: size,
        ..RecordingFacts::default()
    };
    let e = s.notary.seal(&a, facts, 0).unwrap_err();
    assert!(matches!(e, EvidenceError::AlreadySealed(_)), "{e}");
}

#[test]
fn concurrent_seals_make_one_chain() {
    let s = Arc::new(Site::new());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..5 {
                    s.record(&format!("t{t}-{i}"), "2026/11/23");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.verify(), vec![]);
    assert_eq!(s.head().unwrap().seq, 19);
}

#[test]
fn the_chain_survives_a_restart() {
    let (s, _) = three();
    let again = Notary::open(&s.data).unwrap();
    assert_eq!(again.public_key(), s.notary.public_key());
    assert_eq!(again.head().unwrap().seq, 2);
}

/// Rewrites a zip, changing one entry with `f`.
fn rewrite_zip(path: &Path, entry: &str, f: impl Fn(&mut Vec<u8>)) {
    let mut z = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        entries.push((e.name().to_string(), b));
    }
    let mut w = zip::ZipWriter::new(fs::File::create(path).unwrap());
    for (name, mut b) in entries {
        if name == entry {
            f(&mut b);
        }
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&b).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn bundle_verifies_with_nothing_else_and_names_tampering() {
    let (s, _) = three();
    let elsewhere = tempfile::tempdir().unwrap();
    let zip = elsewhere.path().join("b.zip");
    let x = export(&s.root, "call-bb", &s.notary.public_key(), &zip).unwrap();
    assert!(x.with_prev && x.with_next);
    // the site disappears: only the zip is left
    let key = s.notary.public_key();
    drop(s);
    let (r, used) = verify_bundle(&zip, None).unwrap();
    assert!(r.is_ok(), "{:?}", r.faults);
    assert_eq!(used, key);
    assert_eq!(r.checked[0].call_id, "call-bb");
    // exporting over an existing file is refused
    assert!(zip.exists());

    let t = elsewhere.path().join("t.zip");
    fs::copy(&zip, &t).unwrap();
    rewrite_zip(&t, "call-bb.wav", |b| b[100] ^= 0x80);
    let (r, _) = verify_bundle(&t, None).unwrap();
    assert!(
        matches!(r.faults.as_slice(), [Fault::AudioAltered { .. }]),
        "{:?}",
        r.faults
    );

    fs::copy(&zip, &t).unwrap();
    rewrite_zip(&t, "call-bb.manifest.json", |b| {
        *b = String::from_utf8_lossy(b)
            .replace("support", "sales")
            .into_bytes()
    });
    let (r, _) = verify_bundle(&t, Some(&key)).unwrap();
    assert!(
        matches!(r.faults.as_slice(), [Fault::BadSignature { .. }, ..]),
        "{:?}",
        r.faults
    );

    // a bundle whose key was replaced fails against the pinned server key
    let other = Site::new();
    fs::copy(&zip, &t).unwrap();
    let other_key = hotline_evidence::public_key_hex(&other.notary.public_key());
    rewrite_zip(&t, "public.key", |b| *b = other_key.clone().into_bytes());
    let (r, _) = verify_bundle(&t, None).unwrap();
    assert!(
        r.faults
            .iter()
            .any(|f| matches!(f, Fault::BadSignature { .. })),
        "{:?}",
        r.faults
    );

    // the previous link replaced
    fs::copy(&zip, &t).unwrap();
    rewrite_zip(&t, "chain/prev.manifest.json", |b| {
        *b = String::from_utf8_lossy(b)
            .replace("1001", "1003")
            .into_bytes()
    });
    let (r, _) = verify_bundle(&t, Some(&key)).unwrap();
    assert!(
        r.faults
            .iter()
            .any(|f| matches!(f, Fault::LinkReplaced { .. })),
        "{:?}",
        r.faults
    );

    // not a zip at all
    fs::write(&t, b"PK\x03\x04 garbage").unwrap();
    assert!(matches!(
        verify_bundle(&t, None),
        Err(EvidenceError::BadBundle { .. })
    ));
}

#[test]
fn sweep_repairs_and_seals_a_crashed_recording() {
    let s = Site::new();
    s.record("before", "2026/11/23");
    let dir = s.root.join("2026/11/23");
    let path = dir.join("crashed.wav");
    write_wav(&path, 3);
    // as after SIGKILL: the header says 0 samples, 2 s of audio follow
    let mut bytes = fs::read(&path).unwrap();
    bytes[4..8].copy_from_slice(&36u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&vec![7u8; 32_000 + 2]);
    fs::write(&path, &bytes).unwrap();
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 0);
    let report = sweep(&s.notary, &s.root, 1, &|id| Parties {
        caller: Some(format!("caller-of-{id}")),
        start_ms: Some(1_000),
        ..Parties::default()
    })
    .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].repair.samples_per_channel, 16_000);
    assert_eq!(report.recovered[0].repair.truncated, 2);
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 16_000);
    let m = hotline_evidence::verify::read_manifest(&s.manifest("crashed")).unwrap();
    assert!(m.recovered);
    assert_eq!(m.caller.as_deref(), Some("caller-of-crashed"));
    assert_eq!((m.start_ms, m.end_ms), (1_000, 3_000));
    assert_eq!(m.seq, 1);
    assert!(m.loudness.is_some());
    assert_eq!(s.verify(), vec![]);
    // a second sweep has nothing to do
    let again = sweep(&s.notary, &s.root, 2, &|_| Parties::default()).unwrap();
    assert!(again.recovered.is_empty() && again.failed.is_empty());
    // a junk .wav is reported, left untouched, and does not stop the sweep
    fs::write(
        dir.join("junk.wav"),
        b"not audio, but longer than a header ........",
    )
    .unwrap();
    let r = sweep(&s.notary, &s.root, 3, &|_| Parties::default()).unwrap();
    assert_eq!(r.failed.len(), 1);
    assert!(
        r.failed[0].1.to_string().contains("not a RIFF/WAVE"),
        "{}",
        r.failed[0].1
    );
}

#[test]
fn sweep_moves_a_head_left_behind_by_a_crash_while_sealing() {
    let s = Site::new();
    s.record("one", "2026/11/23");
    let head_file = s.data.join("evidence/chain.head");
    let old_head = fs::read(&head_file).unwrap();
    s.record("two", "2026/11/23");
    // the crash came after the manifest of "two", before the head file
    fs::write(&head_file, &old_head).unwrap();
    let reopened = Notary::open(&s.data).unwrap();
    assert_eq!(reopened.head().unwrap().call_id, "one");
    let r = sweep(&reopened, &s.root, 5, &|_| Parties::default()).unwrap();
    assert!(r.head_adopted);
    assert_eq!(reopened.head().unwrap().call_id, "two");
    assert_eq!(s.head().unwrap().call_id, "two");
    // the next seal continues the chain instead of forking it
    let dir = s.root.join("2026/11/23");
    let p = dir.join("three.wav");
    write_wav(&p, 9);
    let (sha, size) = hash_file(&p).unwrap();
    let (m, _) = reopened
        .seal(
            &p,
            RecordingFacts {
                call_id: "three".into(),
                file_sha256: sha,
                file_size: size,
                ..RecordingFacts::default()
            },
            6,
        )
        .unwrap();
    assert_eq!(m.seq, 2);
    assert_eq!(s.verify(), vec![]);
}

#[test]
fn a_deletion_needs_a_signed_tombstone_naming_the_same_audio() {
    use hotline_evidence::tombstone::Tombstone;
    let (s, [a, _, _]) = three();
    let (sha, _) = hash_file(&a).unwrap();
    let tomb = |sha: &str| Tombstone {
        call_id: "call-a".into(),
        file: "call-a.wav".into(),
        file_sha256: sha.into(),
        deleted_at_ms: 1_800_000_000_000,
        reason: "older than 90 days".into(),
        audit_hash: "ab".repeat(32),
        key_id: String::new(),
        signature: String::new(),
    };
    let mut good = tomb(&sha);
    s.notary.sign_tombstone(&mut good);
    fs::remove_file(&a).unwrap();
    let missing = Fault::AudioMissing {
        call_id: "call-a".into(),
        file: "call-a.wav".into(),
    };
    // unsigned, signed for another hash, edited after signing: still missing
    let mut other = tomb(&"00".repeat(32));
    s.notary.sign_tombstone(&mut other);
    let mut edited = good.clone();
    edited.reason = "nobody asked".into();
    // and the tombstone itself is named, with what does not hold
    let refused = |faults: &[Fault], why: &str| {
        faults.iter().any(|f| {
            matches!(f, Fault::TombstoneInvalid { call_id, reason, .. }
                if call_id == "call-a" && reason.contains(why))
        })
    };
    for (t, why) in [
        (tomb(&sha), "not signed"),
        (other, "not of call-a.wav"),
        (edited, "not signed"),
    ] {
        t.write(&a).unwrap();
        let faults = s.verify();
        assert!(faults.contains(&missing), "{t:?}");
        assert!(refused(&faults, why), "{why}: {faults:?}");
    }
    fs::write(Tombstone::path_for(&a), b"{garbage").unwrap();
    let faults = s.verify();
    assert!(faults.contains(&missing));
    assert!(refused(&faults, ""), "{faults:?}");
    // the genuine tombstone: the chain and the manifest still verify
    good.write(&a).unwrap();
    assert_eq!(s.verify(), vec![]);
}
