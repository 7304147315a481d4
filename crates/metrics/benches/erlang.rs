//! Erlang C: the cost of one staffing answer for a small and a large center.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hotline_metrics::erlang::{agents_needed, Workload};

fn staffing(c: &mut Criterion) {
    for (cph, label) in [(360.0, "24_erlangs"), (40_000.0, "2000_erlangs")] {
        let load = Workload::new(cph, 180.0).expect("valid");
        c.bench_function(&format!("agents_needed_{label}"), |b| {
            b.iter(|| agents_needed(black_box(load), 0.8, 20.0))
        });
    }
}

criterion_group!(benches, staffing);
criterion_main!(benches);
