#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! Cost of sealing a recording: SHA-256 of the WAV, signing and verifying a
//! manifest, and the loudness timeline.
//!
//! `cargo bench -p hotline-evidence`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hotline_evidence::loudness::LoudnessMeter;
use hotline_evidence::wav::hash_reader;
use hotline_evidence::{Gaps, Manifest, SigningKey, MANIFEST_VERSION};

/// One minute of stereo 8 kHz 16-bit audio: 1.92 MB.
const MINUTE_BYTES: usize = 60 * 8_000 * 4;

fn manifest() -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        seq: 41,
        call_id: "c1763856000000-abcdef".into(),
        file: "c1763856000000-abcdef.wav".into(),
        caller: Some("+8613800000000".into()),
        agent: Some("1001".into()),
        queue: Some("support".into()),
        start_ms: 1_763_856_000_000,
        end_ms: 1_763_856_180_000,
        samples_per_channel: 1_440_000,
        codec: "pcm_s16le 8000 Hz stereo (left=caller, right=agent)".into(),
        gaps: Gaps {
            count: 3,
            samples: 480,
        },
        pauses: Vec::new(),
        recovered: false,
        file_size: 5_760_044,
        file_sha256: "ab".repeat(32),
        loudness: None,
        prev: None,
        node: None,
        key_id: String::new(),
        signed_at_ms: 1_763_856_180_100,
        signature: String::new(),
    }
}

fn bench(c: &mut Criterion) {
    let audio: Vec<u8> = (0..MINUTE_BYTES).map(|i| (i * 31 % 251) as u8).collect();
    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Bytes(MINUTE_BYTES as u64));
    g.bench_function("sha256 of one minute of recording", |b| {
        b.iter(|| hash_reader(black_box(audio.as_slice())).unwrap())
    });
    g.bench_function("loudness of one minute of recording", |b| {
        b.iter(|| {
            let mut m = LoudnessMeter::new(8_000);
            for f in audio.chunks_exact(4) {
                m.push(
                    i16::from_le_bytes([f[0], f[1]]),
                    i16::from_le_bytes([f[2], f[3]]),
                );
            }
            m.finish()
        })
    });
    g.finish();
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let pk = key.verifying_key();
    let mut signed = manifest();
    signed.sign(&key);
    c.bench_function("sign a manifest", |b| {
        b.iter(|| {
            let mut m = manifest();
            m.sign(black_box(&key));
            m
        })
    });
    c.bench_function("verify a manifest signature", |b| {
        b.iter(|| assert!(black_box(&signed).signature_valid(&pk)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
