#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! Frames per second through one recording's writer (both sides, 20 ms
//! frames): 100 s of a call queued at once, then finished, so the time is
//! the writer's (placing, interleaving, writing, sealing), not the batch
//! interval's.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotline_core::{AudioFrame, CallId, Side};
use hotline_recorder::{Recorder, RecorderConfig};

const FRAMES_PER_SIDE: u32 = 5_000; // 100 s of stereo audio per iteration

fn frames() -> Vec<AudioFrame> {
    let mut v = Vec::new();
    for i in 0..FRAMES_PER_SIDE {
        for (side, ssrc) in [(Side::Caller, 1), (Side::Agent, 2)] {
            v.push(AudioFrame {
                side,
                ssrc,
                seq: i as u16,
                timestamp: i.wrapping_mul(160),
                arrival_ms: i64::from(i) * 20,
                samples: (0..160).map(|n| ((n * 37 + i) % 2000) as i16).collect(),
            });
        }
    }
    v
}

fn bench_writer(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = frames();
    let mut cfg = RecorderConfig::new(dir.path());
    cfg.channel_capacity = input.len();
    let rec = Recorder::new(cfg).expect("recorder");
    let mut n = 0u64;
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.sample_size(20);
    g.bench_function("frames_through_the_writer", |b| {
        b.iter_batched(
            || input.clone(),
            |frames| {
                n += 1;
                let h = rec
                    .open(&CallId::from_stored(format!("bench{n}")), 0)
                    .expect("open");
                let tx = h.sender();
                for f in frames {
                    tx.send(f).expect("send");
                }
                drop(tx);
                h.finish().expect("finish")
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_writer);
criterion_main!(benches);
