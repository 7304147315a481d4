//! A deterministic discrete-event simulation of a call center, driving the
//! real call flow with random traffic: the [`hotline_callflow::Controller`]
//! (which owns the ACD) and one [`hotline_callflow::Call`] per call, the
//! same code the engine runs, with scripted callers and agents' phones
//! instead of SIP and RTP.
//!
//! Calls arrive at random (Poisson, `calls_per_hour`), each talks for an
//! exponential time (mean `aht_s`), then the ACD's wrap-up applies. Callers
//! may give up after an exponential patience (mean `patience_s`). The
//! treatments ([`Treatments`]) are those of the call flow itself: the
//! engine's answer at the third ring, agents who pick up late or not at all
//! (ring timeout, next agent), a maximum wait with overflow to a second
//! queue or the voicemail, callbacks asked for after a wait, position
//! announcements. By default agents answer at once and nothing else
//! happens, which is Erlang C's M/M/N system.
//!
//! The result, [`SimReport`], is folded from the events the calls emit (the
//! KPIs by [`hotline_metrics::kpi::Metrics`], as live): service level,
//! average speed of answer, abandon rate and occupancy next to what Erlang C
//! ([`hotline_metrics::erlang`]) predicts for the same inputs, and what each
//! treatment did.
//!
//! The simulation is sans-IO: simulated time (ms) is handed to the call flow
//! as `now`; nothing sleeps or reads a clock. A run is a pure function of
//! its [`SimConfig`], the seed included: the same seed gives the same report.
//!
//! ```
//! use hotline_sim::{run, SimConfig};
//!
//! let cfg = SimConfig { hours: 10.0, ..SimConfig::default() };
//! let report = run(&cfg).expect("valid config");
//! assert!(report.calls > 0);
//! println!("{report}");
//! ```

#![warn(missing_docs)]

mod config;
mod engine;
mod random;
mod report;

pub use config::{Overflow, OverflowTo, SimConfig, SimError, Treatments, MAX_CALLS};
pub use engine::{VOICEMAIL_MAX_S, VOICEMAIL_MEAN_S};
pub use hotline_acd::Strategy;
pub use report::{ErlangPrediction, SimReport};

/// Runs the simulation described by `cfg` to the end and reports its figures.
///
/// Fails only when `cfg` is invalid ([`SimConfig::validate`]) or, should the
/// call flow ever break its own rules (an agent bridged to two calls, a call
/// finished twice), with [`SimError::Inconsistent`].
pub fn run(cfg: &SimConfig) -> Result<SimReport, SimError> {
    let mut sim = engine::Simulation::new(cfg)?;
    while sim.step()? {}
    Ok(sim.report())
}
