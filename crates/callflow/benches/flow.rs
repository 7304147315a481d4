#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The cost of the call flow's state machines per call: one inbound call
//! from INVITE to its CDR (queued, the agent rings and answers, recorded,
//! completed), commands drained as the engine would; and one callback.
//! The ACD's routing decision has its own bench (hotline-acd).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hotline_callflow::{
    Call, CallbackSpec, Command, Environment, FlowSettings, Inbound, Input, LegInput, PromptRef,
    Sealed,
};
use hotline_core::{AgentId, CallId, Party, QueueId};
use std::sync::Arc;

struct Env;

impl Environment for Env {
    fn is_open(&self, _: &QueueId, _: i64) -> bool {
        true
    }
    fn greeting(&self, _: i64) -> PromptRef {
        PromptRef::Greeting(None)
    }
    fn prompt_ms(&self, _: &PromptRef) -> Option<i64> {
        Some(3_000)
    }
}

/// Carries out what the driver would answer at once; counts commands.
fn drain(call: &mut Call, now: i64) -> usize {
    let mut n = 0;
    while let Some(cmd) = call.poll_command() {
        n += 1;
        match cmd {
            Command::OpenRecording => call.handle(
                now,
                Input::RecordingOpened {
                    path: "r.wav".into(),
                },
            ),
            Command::CloseRecording { .. } => call.handle(
                now,
                Input::RecordingSealed(Sealed {
                    path: "r.wav".into(),
                    sha256: "00".into(),
                    samples: 1,
                    gaps: 0,
                    gap_samples: 0,
                }),
            ),
            other => {
                black_box(other);
            }
        }
    }
    n
}

fn one_inbound_call(cfg: &Arc<FlowSettings>, env: &Arc<dyn Environment>) -> usize {
    let agent = AgentId::new("a1");
    let inbound = Inbound {
        caller: Party {
            number: "0612345678".into(),
            display: None,
        },
        dialled: "hotline".into(),
        media: Ok(()),
        blacklisted: None,
        vip: false,
        owner: None,
    };
    let mut c = Call::inbound(
        CallId::from_stored("c1"),
        cfg.clone(),
        env.clone(),
        inbound,
        0,
    );
    let mut n = drain(&mut c, 0);
    c.handle(
        100,
        Input::Offer {
            agent: agent.clone(),
        },
    );
    n += drain(&mut c, 100);
    c.handle(
        150,
        Input::Agent {
            agent: agent.clone(),
            event: LegInput::Invited {
                contact: "sip:a1@x".into(),
            },
        },
    );
    c.handle(
        4_000,
        Input::Agent {
            agent,
            event: LegInput::Answered { usable: true },
        },
    );
    n += drain(&mut c, 4_000);
    while let Some(t) = c.poll_timeout() {
        if t > 120_000 {
            break;
        }
        c.handle_timeout(t);
        n += drain(&mut c, t);
    }
    c.handle(120_000, Input::Caller(LegInput::Gone { reason: None }));
    n + drain(&mut c, 120_000)
}

fn one_callback(cfg: &Arc<FlowSettings>, env: &Arc<dyn Environment>) -> usize {
    let agent = AgentId::new("a1");
    let spec = CallbackSpec {
        number: "0612345678".into(),
        queue: QueueId::new("general"),
        requested_ms: 0,
        deadline_ms: 86_400_000,
        attempts: 0,
        queued: true,
        resumed: false,
        owner: None,
    };
    let mut c = Call::callback(CallId::from_stored("cb"), cfg.clone(), env.clone(), spec, 0);
    let mut n = drain(&mut c, 0);
    c.handle(
        100,
        Input::Offer {
            agent: agent.clone(),
        },
    );
    c.handle(
        150,
        Input::Agent {
            agent: agent.clone(),
            event: LegInput::Invited {
                contact: "sip:a1@x".into(),
            },
        },
    );
    c.handle(
        2_000,
        Input::Agent {
            agent,
            event: LegInput::Answered { usable: true },
        },
    );
    n += drain(&mut c, 2_000);
    c.handle(6_000, Input::Caller(LegInput::Answered { usable: true }));
    n += drain(&mut c, 6_000);
    c.handle(90_000, Input::Caller(LegInput::Gone { reason: None }));
    n + drain(&mut c, 90_000)
}

fn bench(c: &mut Criterion) {
    let cfg = Arc::new(FlowSettings::basic(&["a1"]));
    let env: Arc<dyn Environment> = Arc::new(Env);
    c.bench_function("inbound_call_arrival_to_cdr", |b| {
        b.iter(|| one_inbound_call(&cfg, &env))
    });
    c.bench_function("callback_request_to_cdr", |b| {
        b.iter(|| one_callback(&cfg, &env))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
