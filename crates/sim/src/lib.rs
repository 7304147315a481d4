//! A deterministic discrete-event simulation of a call center, driving the
//! real routing core ([`hotline_acd::Acd`]) with random traffic.
//!
//! Calls arrive at random (Poisson, `calls_per_hour`), each talks for an
//! exponential time (mean `aht_s`), then the ACD's wrap-up applies. Agents
//! answer every offer at once. Callers may give up after an exponential
//! patience (mean `patience_s`). The result, [`SimReport`], gives the service
//! level, average speed of answer, abandon rate and occupancy, next to what
//! Erlang C ([`hotline_metrics::erlang`]) predicts for the same inputs.
//!
//! The simulation is sans-IO: simulated time (ms) is handed to the ACD as
//! `now`; nothing sleeps or reads a clock. A run is a pure function of its
//! [`SimConfig`], the seed included: the same seed gives the same report.
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

pub use config::{SimConfig, SimError, MAX_CALLS};
pub use hotline_acd::Strategy;
pub use report::{ErlangPrediction, SimReport};

/// Runs the simulation described by `cfg` to the end and reports its figures.
///
/// Fails only when `cfg` is invalid ([`SimConfig::validate`]) or, should the
/// ACD ever break its own rules (an agent offered two calls, an offer for an
/// unknown call), with [`SimError::Inconsistent`].
pub fn run(cfg: &SimConfig) -> Result<SimReport, SimError> {
    let mut sim = engine::Simulation::new(cfg)?;
    while sim.step()? {}
    Ok(sim.report())
}
