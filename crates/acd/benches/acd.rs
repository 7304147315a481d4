//! The ACD's decision: `poll_offers` with many agents and waiting calls.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hotline_acd::{Acd, AcdConfig, CallRequest, QueueConfig, Strategy};
use hotline_core::{AgentId, CallId, QueueId};

fn setup(agents: usize, calls: usize) -> Acd {
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        auto_pause_after_misses: 3,
    });
    for (i, s) in [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
    ]
    .iter()
    .enumerate()
    {
        let members = (0..agents)
            .filter(|m| m % 3 != i)
            .map(|m| AgentId::new(format!("a{m}")))
            .collect();
        acd.set_queue(QueueConfig {
            strategy: *s,
            members,
            ..QueueConfig::new(QueueId::new(format!("q{i}")))
        });
    }
    for m in 0..agents {
        acd.agent_logged_in(&AgentId::new(format!("a{m}")), m as i64);
    }
    for c in 0..calls {
        let q = QueueId::new(format!("q{}", c % 3));
        let _ = acd.enqueue_in(
            &q,
            CallId::from_stored(format!("c{c}")),
            CallRequest::default(),
            1_000 + c as i64,
        );
    }
    acd
}

fn poll(c: &mut Criterion) {
    for (agents, calls) in [(50, 100), (500, 1000)] {
        c.bench_function(&format!("poll_offers_{agents}_agents_{calls}_calls"), |b| {
            b.iter_batched(
                || setup(agents, calls),
                |mut acd| acd.poll_offers(10_000),
                BatchSize::SmallInput,
            )
        });
    }
    // the common case: everyone busy, calls waiting
    let mut busy = setup(500, 1000);
    busy.poll_offers(10_000);
    c.bench_function("poll_offers_all_agents_busy_1000_calls", |b| {
        b.iter(|| busy.poll_offers(10_001))
    });
}

criterion_group!(benches, poll);
criterion_main!(benches);
