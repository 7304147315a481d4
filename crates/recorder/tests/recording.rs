#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! End-to-end tests of the recorder: frames in, WAV file read back with hound.

use std::f64::consts::PI;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hotline_core::{AudioFrame, CallId, Side};
use hotline_recorder::{Recorder, RecorderConfig, RecorderError};
use sha2::{Digest, Sha256};

const START: i64 = 1_709_251_200_000; // 2024-03-01T00:00:00Z

fn tone(freq: f64, n: u64) -> i16 {
    ((2.0 * PI * freq * n as f64 / 8000.0).sin() * 8000.0).round() as i16
}

/// Frame `idx` (20 ms each, counted from the start of the recording) of a tone.
fn tone_frame(side: Side, ssrc: u32, ts0: u32, first_idx: u64, idx: u64, freq: f64) -> AudioFrame {
    let k = idx - first_idx;
    AudioFrame {
        side,
        ssrc,
        seq: k as u16,
        timestamp: ts0.wrapping_add((k * 160) as u32),
        arrival_ms: START + idx as i64 * 20,
        samples: (idx * 160..idx * 160 + 160)
            .map(|n| tone(freq, n))
            .collect(),
    }
}

/// Relative power of `freq` in `x` (Goertzel).
fn goertzel(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

fn read(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).expect("readable wav");
    let spec = r.spec();
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let l = all.iter().step_by(2).copied().collect();
    let rr = all.iter().skip(1).step_by(2).copied().collect();
    (spec, l, rr)
}

fn recorder() -> (tempfile::TempDir, Recorder) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Recorder::new(RecorderConfig::new(dir.path().join("rec"))).expect("recorder");
    (dir, rec)
}

#[test]
fn stereo_tones_gap_duplicate_and_wraparound() {
    let (_d, rec) = recorder();
    let id = CallId::from_stored("c0001");
    let h = rec.open(&id, START).expect("open");
    assert_eq!(h.relative_path(), "2024/03/01/c0001.wav");

    const FRAMES: u64 = 150; // 3 s
    const AGENT_FROM: u64 = 25; // agent audio starts 500 ms in
    const LOST: u64 = 70; // caller packet lost in the middle
    let barrier = Arc::new(Barrier::new(2));
    let caller = {
        let tx = h.sender();
        let b = barrier.clone();
        std::thread::spawn(move || {
            for i in 0..FRAMES {
                if i % 5 == 0 {
                    b.wait();
                }
                if i == LOST {
                    continue;
                }
                tx.send(tone_frame(Side::Caller, 0x1111, 1000, 0, i, 1000.0))
                    .unwrap();
                if i == 40 {
                    // a duplicate of the previous packet
                    tx.send(tone_frame(Side::Caller, 0x1111, 1000, 0, i, 1000.0))
                        .unwrap();
                }
            }
        })
    };
    let agent = {
        let tx = h.sender();
        let b = barrier.clone();
        std::thread::spawn(move || {
            for i in 0..FRAMES {
                if i % 5 == 0 {
                    b.wait();
                }
                if i >= AGENT_FROM {
                    // starts 300 samples before the 32-bit wrap
                    let f = tone_frame(Side::Agent, 0x2222, u32::MAX - 299, AGENT_FROM, i, 440.0);
                    tx.send(f).unwrap();
                }
            }
        })
    };
    caller.join().unwrap();
    agent.join().unwrap();
    let s = h.finish().expect("finish");

    assert_eq!(s.gaps, 1);
    assert_eq!(s.gap_samples, 160);
    assert_eq!(s.late_or_duplicate, 1);
    assert_eq!(s.samples_per_channel, FRAMES * 160);
    assert_eq!(s.duration_ms, 3000);
    assert_eq!(s.relative_path, "2024/03/01/c0001.wav");

    let bytes = std::fs::read(&s.path).unwrap();
    assert_eq!(s.sha256, hex::encode(Sha256::digest(&bytes)));

    let (spec, l, r) = read(&s.path);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    assert_eq!(l.len(), r.len());
    assert_eq!(l.len() as u64, FRAMES * 160);

    // Left: the caller's tone sample-exact, except the lost packet: exactly
    // 160 samples of silence at its place.
    let hole = (LOST * 160) as usize..((LOST + 1) * 160) as usize;
    for (n, &v) in l.iter().enumerate() {
        if hole.contains(&n) {
            assert_eq!(v, 0, "sample {n} in the hole");
        } else {
            assert_eq!(v, tone(1000.0, n as u64), "left sample {n}");
        }
    }
    // Right: silent before the agent spoke, then the agent's tone, also across
    // the timestamp wrap-around.
    let agent_start = (AGENT_FROM * 160) as usize;
    assert!(r[..agent_start].iter().all(|&v| v == 0));
    for (n, &v) in r.iter().enumerate().skip(agent_start) {
        assert_eq!(v, tone(440.0, n as u64), "right sample {n}");
    }

    // And the spectral view a supervisor's tool would take.
    let win = 8000..12000;
    let (l1000, l440) = (
        goertzel(&l[win.clone()], 1000.0),
        goertzel(&l[win.clone()], 440.0),
    );
    let (r1000, r440) = (goertzel(&r[win.clone()], 1000.0), goertzel(&r[win], 440.0));
    assert!(
        l1000 > 100.0 * l440,
        "left: 1000 Hz {l1000} vs 440 Hz {l440}"
    );
    assert!(
        r440 > 100.0 * r1000,
        "right: 440 Hz {r440} vs 1000 Hz {r1000}"
    );
}

#[test]
fn one_sided_call_has_equal_channels() {
    let (_d, rec) = recorder();
    let h = rec.open(&CallId::from_stored("one-sided"), START).unwrap();
    let tx = h.sender();
    for i in 0..100 {
        tx.send(tone_frame(Side::Caller, 9, 0, 0, i, 1000.0))
            .unwrap();
    }
    drop(tx);
    let s = h.finish().unwrap();
    let (_, l, r) = read(&s.path);
    assert_eq!(l.len(), 16_000);
    assert_eq!(r.len(), 16_000);
    assert!(r.iter().all(|&v| v == 0));
    assert!(goertzel(&l, 1000.0) > 1000.0 * goertzel(&l, 440.0));
    assert_eq!(s.gaps, 0);
}

#[test]
fn file_is_readable_while_the_call_runs() {
    let (_d, rec) = recorder();
    let h = rec.open(&CallId::from_stored("live"), START).unwrap();
    let tx = h.sender();
    for i in 0..50 {
        tx.send(tone_frame(Side::Caller, 1, 0, 0, i, 1000.0))
            .unwrap();
        tx.send(tone_frame(Side::Agent, 2, 0, 0, i, 440.0)).unwrap();
    }
    // No more audio: the header is refreshed by the timer alone.
    std::thread::sleep(Duration::from_millis(1300));
    let (spec, l, r) = read(h.path());
    assert_eq!(spec.channels, 2);
    assert!(!l.is_empty(), "header refreshed while running");
    assert_eq!(l.len(), r.len());
    assert!(l.len() <= 8000);
    let s = h.finish().unwrap();
    assert_eq!(s.samples_per_channel, 8000);
}

#[test]
fn writer_ends_and_finalizes_when_all_senders_are_dropped() {
    let (_d, rec) = recorder();
    let h = rec.open(&CallId::from_stored("dropped"), START).unwrap();
    let tx = h.sender();
    let path = h.path().to_path_buf();
    drop(h); // handle gone, a media worker still sends
    for i in 0..10 {
        tx.send(tone_frame(Side::Agent, 2, 0, 0, i, 440.0)).unwrap();
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = hound::WavReader::open(&path).map(|r| r.len()).unwrap_or(0);
        if n == 2 * 1600 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "file not finalized ({n} samples)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn timestamp_wraparound_is_continuous() {
    let (_d, rec) = recorder();
    let h = rec.open(&CallId::from_stored("wrap"), START).unwrap();
    let tx = h.sender();
    for i in 0..100 {
        tx.send(tone_frame(Side::Caller, 5, u32::MAX - 1000, 0, i, 1000.0))
            .unwrap();
    }
    drop(tx);
    let s = h.finish().unwrap();
    assert_eq!(
        (s.gaps, s.late_or_duplicate, s.samples_per_channel),
        (0, 0, 16_000)
    );
    let (_, l, _) = read(&s.path);
    assert!(l
        .iter()
        .enumerate()
        .all(|(n, &v)| v == tone(1000.0, n as u64)));
}

#[test]
fn unwritable_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let root = file.join("recordings");
    let err = Recorder::new(RecorderConfig::new(&root)).unwrap_err();
    assert!(matches!(err, RecorderError::RootNotWritable { .. }));
    assert!(
        err.to_string().contains(&root.display().to_string()),
        "{err}"
    );
}

#[test]
fn refuses_unsafe_ids_and_never_overwrites() {
    let (_d, rec) = recorder();
    for bad in ["", "../x", ".hidden", "a/b", "a b", "é"] {
        let e = rec.open(&CallId::from_stored(bad), START).unwrap_err();
        assert!(matches!(e, RecorderError::InvalidCallId(_)), "{bad}: {e}");
    }
    let id = CallId::from_stored("twice");
    let h = rec.open(&id, START).unwrap();
    assert!(matches!(
        rec.open(&id, START + 1000),
        Err(RecorderError::Create { .. })
    ));
    h.finish().unwrap();
}

#[test]
fn finish_signs_a_chained_manifest_that_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let notary = Arc::new(hotline_recorder::Notary::open(&data).expect("notary"));
    let mut cfg = RecorderConfig::new(dir.path().join("rec"));
    cfg.notary = Some(Arc::clone(&notary));
    cfg.sync_interval = Duration::from_millis(20);
    let rec = Recorder::new(cfg).expect("recorder");
    let mut paths = Vec::new();
    for (k, id) in ["sealed-1", "sealed-2"].iter().enumerate() {
        let h = rec.open(&CallId::from_stored(*id), START).expect("open");
        let tx = h.sender();
        for i in 0..50 {
            tx.send(tone_frame(Side::Caller, 1, 0, 0, i, 1000.0))
                .unwrap();
            tx.send(tone_frame(Side::Agent, 2, 0, 0, i, 440.0)).unwrap();
        }
        drop(tx);
        let s = h
            .finish_with(hotline_recorder::CallParties {
                caller: Some(format!("caller{k}")),
                agent: Some("1001".into()),
                queue: Some("general".into()),
                pauses_ms: Vec::new(),
            })
            .expect("finish");
        let manifest = s.manifest.clone().expect("manifest written");
        assert_eq!(
            manifest.file_name().unwrap(),
            format!("{id}.manifest.json").as_str()
        );
        let m = hotline_evidence::verify::read_manifest(&manifest).expect("manifest parses");
        assert_eq!(m.seq, k as u64);
        assert_eq!(m.file_sha256, s.sha256);
        assert_eq!(m.samples_per_channel, s.samples_per_channel);
        assert_eq!(m.caller.as_deref(), Some(format!("caller{k}").as_str()));
        assert_eq!(m.start_ms, START);
        assert_eq!(m.end_ms, START + 1000);
        assert!(!m.recovered);
        let loud = m.loudness.as_ref().expect("loudness");
        assert_eq!(loud.caller_rms.len(), 10);
        // a sine of amplitude 8000 has an RMS of 8000/sqrt(2)
        assert!(
            (i32::from(loud.caller_rms[3]) - 5657).abs() < 60,
            "{:?}",
            loud.caller_rms
        );
        paths.push(s.path);
    }
    let report = hotline_evidence::verify::verify_all(
        &dir.path().join("rec"),
        &notary.public_key(),
        notary.head().as_ref(),
    )
    .expect("verify");
    assert!(report.is_ok(), "{:?}", report.faults);
    assert_eq!(report.checked.len(), 2);
}

#[test]
fn many_recordings_share_two_writer_lanes_and_each_keeps_its_own_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RecorderConfig::new(dir.path().join("rec"));
    cfg.writer_lanes = 2;
    cfg.batch_interval = Duration::from_millis(50);
    let rec = Recorder::new(cfg).expect("recorder");
    // 40 calls up at once, each with its own caller tone, sent as the media
    // workers do (try_send, 20 ms pacing in 100 ms bursts)
    const CALLS: u64 = 40;
    const FRAMES: u64 = 50; // 1 s each
    let freq = |c: u64| 300.0 + 50.0 * c as f64;
    let handles: Vec<_> = (0..CALLS)
        .map(|c| {
            rec.open(&CallId::from_stored(format!("lane{c}")), START)
                .expect("open")
        })
        .collect();
    let mut dropped = 0;
    for burst in 0..FRAMES / 5 {
        for (c, h) in handles.iter().enumerate() {
            let tx = h.sender();
            for i in burst * 5..burst * 5 + 5 {
                let f = tone_frame(Side::Caller, 1, 0, 0, i, freq(c as u64));
                if tx.try_send(f).is_err() {
                    dropped += 1;
                }
                let a = tone_frame(Side::Agent, 2, 0, 0, i, 440.0);
                if tx.try_send(a).is_err() {
                    dropped += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        dropped, 0,
        "a 512-frame queue holds far more than one batch"
    );
    // finish them all at once from several threads, like the engine's
    // blocking pool does
    let summaries: Vec<_> = std::thread::scope(|s| {
        let joins: Vec<_> = handles
            .into_iter()
            .map(|h| s.spawn(move || h.finish().expect("finish")))
            .collect();
        joins.into_iter().map(|j| j.join().expect("join")).collect()
    });
    for (c, sum) in summaries.iter().enumerate() {
        assert_eq!(sum.samples_per_channel, FRAMES * 160, "call {c}");
        assert_eq!(sum.gaps, 0, "call {c}");
        let (_, l, r) = read(&sum.path);
        let own = goertzel(&l, freq(c as u64));
        let other = goertzel(&l, freq((c as u64 + 1) % CALLS));
        assert!(
            own > 100.0 * other,
            "call {c}: its own caller tone on the left"
        );
        assert!(goertzel(&r, 440.0) > 100.0 * goertzel(&r, freq(c as u64)));
    }
}

#[test]
fn a_recording_finishes_without_waiting_for_the_next_batch() {
    // a batch interval far longer than the test: finish must wake the lane
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RecorderConfig::new(dir.path().join("rec"));
    cfg.batch_interval = Duration::from_secs(3_600);
    let rec = Recorder::new(cfg).expect("recorder");
    let h = rec.open(&CallId::from_stored("wake"), START).expect("open");
    let tx = h.sender();
    for i in 0..25 {
        tx.send(tone_frame(Side::Caller, 1, 0, 0, i, 1000.0))
            .unwrap();
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(h.finish());
    });
    let sum = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("finish woke the lane instead of waiting an hour")
        .expect("finish");
    assert_eq!(sum.samples_per_channel, 25 * 160);
}
