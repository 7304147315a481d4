#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The simulation over the whole call flow, through the public API: the
//! treatments' inputs are checked by name, a run with every treatment is
//! reproducible, and a long busy run stays fast.

use hotline_sim::{run, Overflow, OverflowTo, SimConfig, SimError, Strategy, Treatments};
use std::time::Instant;

/// A busy center with every treatment on.
fn everything(calls_per_hour: f64, agents: u32, hours: f64, seed: u64) -> SimConfig {
    SimConfig {
        calls_per_hour,
        aht_s: 180.0,
        agents,
        hours,
        target_s: 20.0,
        patience_s: Some(180.0),
        wrap_up_s: 10.0,
        strategy: Strategy::LongestIdle,
        seed,
        warmup_hours: 1.0,
        treatments: Treatments {
            answer_after_rings: 3,
            agent_answer_s: 2.0,
            no_answer_share: 0.05,
            ring_timeout_s: 15.0,
            overflow: Some(Overflow {
                max_wait_s: 240.0,
                to: OverflowTo::Voicemail,
            }),
            callback_after_s: Some(90.0),
            announce_every_s: Some(30.0),
        },
    }
}

#[test]
fn overflow_targets_parse_and_bad_ones_are_named() {
    assert_eq!("voicemail".parse(), Ok(OverflowTo::Voicemail));
    assert_eq!("queue:4".parse(), Ok(OverflowTo::Queue { agents: 4 }));
    for bad in ["", "mail", "queue:", "queue:x", "queue:-1", "Voicemail"] {
        let err = bad.parse::<OverflowTo>().expect_err(bad);
        assert_eq!(err.field(), Some("overflow"), "{bad}: {err}");
        assert!(err.to_string().contains("queue:N"), "{err}");
    }
}

#[test]
fn every_bad_treatment_is_refused_by_name() {
    let with = |f: fn(&mut Treatments)| {
        let mut cfg = SimConfig::default();
        f(&mut cfg.treatments);
        cfg
    };
    let cases: Vec<(SimConfig, &str)> = vec![
        (with(|t| t.answer_after_rings = 0), "answer_after_rings"),
        (with(|t| t.answer_after_rings = 11), "answer_after_rings"),
        (with(|t| t.ring_timeout_s = 0.0), "ring_timeout_s"),
        (with(|t| t.ring_timeout_s = f64::NAN), "ring_timeout_s"),
        (with(|t| t.ring_timeout_s = 301.0), "ring_timeout_s"),
        (with(|t| t.agent_answer_s = -1.0), "agent_answer_s"),
        // picking up at the ring timeout is never picking up
        (with(|t| t.agent_answer_s = 15.0), "agent_answer_s"),
        (with(|t| t.no_answer_share = 0.95), "no_answer_share"),
        (with(|t| t.no_answer_share = -0.1), "no_answer_share"),
        (with(|t| t.no_answer_share = f64::NAN), "no_answer_share"),
        (
            with(|t| {
                t.overflow = Some(Overflow {
                    max_wait_s: 0.0,
                    to: OverflowTo::Voicemail,
                })
            }),
            "max_wait_s",
        ),
        (
            with(|t| {
                t.overflow = Some(Overflow {
                    max_wait_s: 60.0,
                    to: OverflowTo::Queue { agents: 0 },
                })
            }),
            "overflow",
        ),
        (
            with(|t| {
                t.overflow = Some(Overflow {
                    max_wait_s: 60.0,
                    to: OverflowTo::Queue { agents: 9_999 },
                })
            }),
            "overflow",
        ),
        // the key is offered once the engine answered (11 s)
        (with(|t| t.callback_after_s = Some(5.0)), "callback_after_s"),
        (
            with(|t| t.callback_after_s = Some(f64::INFINITY)),
            "callback_after_s",
        ),
        (with(|t| t.announce_every_s = Some(0.5)), "announce_every_s"),
    ];
    for (cfg, field) in cases {
        let err = cfg.validate().expect_err(field);
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(err.to_string().starts_with(field), "{err}");
        assert_eq!(run(&cfg).expect_err("refused"), err);
    }
    // the callback key right at the engine's answer is fine
    assert_eq!(with(|t| t.callback_after_s = Some(11.0)).validate(), Ok(()));
    // overloaded without abandons, but the voicemail takes the overflow
    let drained = SimConfig {
        agents: 5,
        hours: 1_000.0,
        treatments: Treatments {
            overflow: Some(Overflow {
                max_wait_s: 60.0,
                to: OverflowTo::Voicemail,
            }),
            ..Treatments::default()
        },
        ..SimConfig::default()
    };
    assert_eq!(drained.validate(), Ok(()));
    // agents who rarely answer cannot keep up with 10 Erlangs on 12
    let SimError::Invalid { field, .. } = SimConfig {
        hours: 5_000.0,
        treatments: Treatments {
            no_answer_share: 0.9,
            ..Treatments::default()
        },
        ..SimConfig::default()
    }
    .validate()
    .expect_err("overloaded") else {
        panic!("an input error");
    };
    assert_eq!(field, "agents");
}

#[test]
fn a_run_with_every_treatment_is_reproducible_and_shows_them_all() {
    let cfg = everything(400.0, 19, 6.0, 3);
    let a = run(&cfg).expect("valid");
    println!("{a}");
    assert_eq!(a, run(&cfg).expect("valid"));
    let b = run(&SimConfig { seed: 4, ..cfg }).expect("valid");
    assert_ne!(a.calls, b.calls);
    for (name, n) in [
        ("system answers", a.system_answered),
        ("missed offers", a.missed_offers),
        ("callbacks requested", a.callbacks_requested),
        ("callbacks made", a.callbacks_made),
        ("announcements", a.announcements),
        ("abandons", a.abandoned),
    ] {
        assert!(n > 0, "no {name}: {a:?}");
    }
    let text = a.to_string();
    for want in [
        "agents pick up after 2 s, 5.0 % of offers ring out (15 s timeout)",
        "max wait 240 s, then voicemail",
        "callback asked after 90 s of waiting",
        "announcements every 30 s",
        "Callbacks made",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
}

/// Runs `cfg`, prints its report and speed, and returns the report and
/// the seconds it took.
fn timed(cfg: &SimConfig) -> (hotline_sim::SimReport, f64) {
    let started = Instant::now();
    let r = run(cfg).expect("valid");
    let took = started.elapsed().as_secs_f64();
    println!("{r}");
    println!(
        "{} calls in {took:.1} s: {:.0} calls a second",
        r.calls,
        r.calls as f64 / took
    );
    (r, took)
}

#[test]
#[ignore = "long in debug: cargo test --release -p hotline-sim --test flow -- --ignored --nocapture"]
fn a_hundred_busy_hours_run_in_seconds() {
    // 3 000 calls an hour for 100 hours (and 1 of warm-up) on 150 agents:
    // about 300 000 calls through the whole flow, every treatment on
    let mut cfg = everything(3_000.0, 150, 100.0, 1);
    cfg.treatments.callback_after_s = Some(40.0);
    let (r, took) = timed(&cfg);
    assert!(r.calls > 290_000, "{r:?}");
    assert!(r.callbacks_made > 100 && r.system_answered > 0, "{r:?}");
    // seconds in release; generous for a loaded machine
    assert!(took < 60.0, "took {took:.1} s");
    // the same traffic without treatments (Erlang C's case, 160 agents)
    let plain = SimConfig {
        agents: 160,
        patience_s: None,
        treatments: Treatments::default(),
        ..everything(3_000.0, 160, 100.0, 1)
    };
    let (r, took) = timed(&plain);
    assert!(r.calls > 290_000, "{r:?}");
    assert!(took < 60.0, "took {took:.1} s");
}
