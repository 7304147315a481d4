#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! Erlang C answers and KPI folding.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hotline_core::{AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Party, QueueId};
use hotline_metrics::erlang::{Workload, MAX_AGENTS};
use hotline_metrics::kpi::{KpiConfig, Metrics};

fn staffing(c: &mut Criterion) {
    for (cph, label) in [(360.0, "24_erlangs"), (40_000.0, "2000_erlangs")] {
        let load = Workload::new(cph, 180.0).expect("valid");
        c.bench_function(&format!("agents_needed_{label}"), |b| {
            b.iter(|| black_box(load).agents_needed(0.8, 20.0, MAX_AGENTS))
        });
    }
}

/// Three events per call: arrived, agent_answered, completed.
fn day(calls: usize) -> Vec<CallEvent> {
    let mut v = Vec::with_capacity(calls * 3);
    for i in 0..calls {
        let t = i as i64 * 8_000;
        let ev = |at, agent: Option<AgentId>, kind| CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(format!("c{i}"))),
            agent,
            queue: Some(QueueId::new(format!("q{}", i % 4))),
            kind,
        };
        let agent = Some(AgentId::new(format!("{}", 1000 + i % 50)));
        v.push(ev(
            t,
            None,
            EventKind::Arrived {
                caller: Party {
                    number: "0611".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::default(),
            },
        ));
        v.push(ev(
            t + 5_000,
            agent.clone(),
            EventKind::AgentAnswered {
                wait_ms: 5_000,
                rings: 1,
                limit_ms: None,
            },
        ));
        v.push(ev(
            t + 95_000,
            agent,
            EventKind::Completed {
                ended_by: EndedBy::Caller,
                talk_ms: 90_000,
            },
        ));
    }
    v
}

fn kpis(c: &mut Criterion) {
    let events = day(10_000);
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("apply_30000_events", |b| {
        b.iter(|| {
            let mut m = Metrics::new(KpiConfig::default());
            for e in &events {
                m.apply(e);
            }
            m
        })
    });
    group.finish();
    let mut m = Metrics::new(KpiConfig::default());
    for e in &events {
        m.apply(e);
    }
    c.bench_function("snapshot_10000_calls", |b| {
        b.iter(|| m.snapshot(black_box(90_000_000)))
    });
    c.bench_function("snapshot_window_last_hour_of_10000_calls", |b| {
        b.iter(|| m.snapshot_window(black_box(86_400_000), black_box(90_000_000)))
    });
}

criterion_group!(benches, staffing, kpis);
criterion_main!(benches);
