//! Erlang C: how many agents a queue needs.
//!
//! With calls arriving at random (Poisson) at `λ` per second, each handled in
//! `AHT` seconds on average (exponential), the offered traffic is
//! `A = λ · AHT` Erlangs. With `N` agents and callers who wait (no abandons):
//!
//! - Erlang B by the stable recursion `B(0) = 1`, `B(k) = A·B(k−1) / (k + A·B(k−1))`;
//! - probability a caller waits: `Pw = N·B / (N − A·(1 − B))` (for `N > A`; 1 otherwise);
//! - service level within `T` s: `SL = 1 − Pw · e^(−(N − A)·T / AHT)`;
//! - average speed of answer: `ASA = Pw · AHT / (N − A)`;
//! - occupancy: `A / N`.
//!
//! The recursion needs no factorials or powers, so it stays exact for
//! thousands of agents.

use serde::Serialize;

/// Most agents [`agents_needed`] will consider.
pub const MAX_AGENTS: u32 = 10_000;

/// Why a staffing question cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    /// An input is not a finite number in its range.
    #[error("{name} must be {range}, got {value}")]
    OutOfRange {
        /// Which input (named like the CLI flag).
        name: &'static str,
        /// The allowed range, in words.
        range: &'static str,
        /// What was given.
        value: f64,
    },
    /// Even [`MAX_AGENTS`] agents do not reach the target.
    #[error("the target is not reachable with {MAX_AGENTS} agents (traffic {traffic:.1} Erlangs)")]
    Unreachable {
        /// Offered traffic, Erlangs.
        traffic: f64,
    },
}

/// A staffing question: traffic and the service-level target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Workload {
    /// Calls offered per hour.
    pub calls_per_hour: f64,
    /// Average handle time, seconds.
    pub aht_s: f64,
}

impl Workload {
    /// Checks the inputs (finite, positive, not absurd).
    pub fn new(calls_per_hour: f64, aht_s: f64) -> Result<Workload, StaffingError> {
        check(
            "--calls-per-hour",
            "a number above 0 and at most 1000000",
            calls_per_hour,
            |v| v > 0.0 && v <= 1e6,
        )?;
        check(
            "--aht",
            "a number of seconds above 0 and at most 86400",
            aht_s,
            |v| v > 0.0 && v <= 86_400.0,
        )?;
        Ok(Workload {
            calls_per_hour,
            aht_s,
        })
    }

    /// Offered traffic `A`, Erlangs.
    pub fn traffic(&self) -> f64 {
        self.calls_per_hour * self.aht_s / 3600.0
    }
}

fn check(
    name: &'static str,
    range: &'static str,
    value: f64,
    ok: impl Fn(f64) -> bool,
) -> Result<(), StaffingError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(StaffingError::OutOfRange { name, range, value })
    }
}

/// Erlang B blocking probability for `traffic` Erlangs on `agents` servers.
pub fn erlang_b(traffic: f64, agents: u32) -> f64 {
    let mut b = 1.0;
    for k in 1..=agents {
        b = traffic * b / (f64::from(k) + traffic * b);
    }
    b
}

/// Probability that a caller has to wait (Erlang C); 1 when `agents <= traffic`.
pub fn erlang_c(traffic: f64, agents: u32) -> f64 {
    let n = f64::from(agents);
    if agents == 0 || n <= traffic {
        return 1.0;
    }
    let b = erlang_b(traffic, agents);
    (n * b / (n - traffic * (1.0 - b))).clamp(0.0, 1.0)
}

/// Predicted figures for one agent count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Agents on the phones.
    pub agents: u32,
    /// Probability a caller waits at all.
    pub wait_probability: f64,
    /// Share answered within the target time.
    pub service_level: f64,
    /// Average speed of answer, seconds (infinite when under-staffed).
    pub asa_s: f64,
    /// Share of agents' time spent handling calls (capped at 1).
    pub occupancy: f64,
}

/// Predicts service level (within `target_s`), ASA and occupancy with `agents`.
pub fn predict(load: Workload, agents: u32, target_s: f64) -> Prediction {
    let a = load.traffic();
    let n = f64::from(agents);
    let pw = erlang_c(a, agents);
    let (sl, asa) = if agents == 0 || n <= a {
        (0.0, f64::INFINITY)
    } else {
        (
            (1.0 - pw * (-(n - a) * target_s / load.aht_s).exp()).clamp(0.0, 1.0),
            pw * load.aht_s / (n - a),
        )
    };
    Prediction {
        agents,
        wait_probability: pw,
        service_level: sl,
        asa_s: asa,
        occupancy: if agents == 0 { 1.0 } else { (a / n).min(1.0) },
    }
}

/// The fewest agents that answer `target_sl` (0–1] of calls within `target_s`.
pub fn agents_needed(load: Workload, target_sl: f64, target_s: f64) -> Result<u32, StaffingError> {
    check(
        "--target-sl",
        "a share above 0 and at most 1 (e.g. 0.8)",
        target_sl,
        |v| v > 0.0 && v <= 1.0,
    )?;
    check(
        "--target-seconds",
        "a number of seconds from 0 to 86400",
        target_s,
        |v| (0.0..=86_400.0).contains(&v),
    )?;
    let a = load.traffic();
    // below the traffic nobody is ever answered; start just above it
    let start = (a.floor() as u32).saturating_add(1).max(1);
    if start > MAX_AGENTS {
        return Err(StaffingError::Unreachable { traffic: a });
    }
    (start..=MAX_AGENTS)
        .find(|&n| predict(load, n, target_s).service_level >= target_sl - 1e-12)
        .ok_or(StaffingError::Unreachable { traffic: a })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Erlang C straight from its definition (powers and factorials), for small N.
    fn erlang_c_direct(a: f64, n: u32) -> f64 {
        let fact = |k: u32| (1..=k).map(f64::from).product::<f64>();
        let sum: f64 = (0..n).map(|k| a.powi(k as i32) / fact(k)).sum();
        let top = a.powi(n as i32) / fact(n) * f64::from(n) / (f64::from(n) - a);
        top / (sum + top)
    }

    #[test]
    fn matches_the_textbook_example() {
        // A = 10 Erlangs: the classic table
        for (n, want) in [
            (11, 0.6821),
            (12, 0.4494),
            (13, 0.2853),
            (14, 0.1741),
            (15, 0.1020),
        ] {
            let got = erlang_c(10.0, n);
            assert!((got - want).abs() < 5e-4, "N={n}: {got} vs {want}");
            assert!((got - erlang_c_direct(10.0, n)).abs() < 1e-9);
        }
    }

    #[test]
    fn the_worked_example_of_360_calls_an_hour() {
        // 360 calls/h, 240 s AHT → 24 Erlangs; 80 % within 20 s needs 29 agents
        // (28 give 76.1 %, 29 give 84.0 %: checked with the direct formula)
        let load = Workload::new(360.0, 240.0).unwrap();
        assert!((load.traffic() - 24.0).abs() < 1e-9);
        let n = agents_needed(load, 0.8, 20.0).unwrap();
        assert!(predict(load, n, 20.0).service_level >= 0.8);
        assert!(predict(load, n - 1, 20.0).service_level < 0.8);
        assert_eq!(n, 29);
        let p = predict(load, 29, 20.0);
        assert!((p.service_level - 0.8403).abs() < 5e-4, "{p:?}");
        assert!((p.asa_s - 11.6).abs() < 0.05, "{p:?}");
        assert!((p.occupancy - 24.0 / 29.0).abs() < 1e-12);
        // 200 calls/h, 180 s → 10 Erlangs: 13 agents give 79.6 %, so 14
        let small = Workload::new(200.0, 180.0).unwrap();
        assert_eq!(agents_needed(small, 0.8, 20.0).unwrap(), 14);
        assert!((predict(small, 13, 20.0).service_level - 0.7956).abs() < 5e-4);
    }

    #[test]
    fn more_agents_never_make_it_worse() {
        for a in [0.5, 3.0, 47.3, 400.0] {
            let load = Workload::new(a * 3600.0 / 180.0, 180.0).unwrap();
            let mut last = predict(load, (a as u32) + 1, 20.0);
            for n in (a as u32 + 2)..(a as u32 + 40) {
                let p = predict(load, n, 20.0);
                assert!(p.wait_probability <= last.wait_probability + 1e-12);
                assert!(p.service_level + 1e-12 >= last.service_level);
                assert!(p.asa_s <= last.asa_s + 1e-9);
                last = p;
            }
        }
    }

    #[test]
    fn understaffed_means_everyone_waits() {
        assert_eq!(erlang_c(10.0, 10), 1.0);
        assert_eq!(erlang_c(10.0, 3), 1.0);
        assert_eq!(erlang_c(1.0, 0), 1.0);
        let p = predict(Workload::new(3600.0, 10.0).unwrap(), 5, 20.0);
        assert_eq!(p.service_level, 0.0);
        assert!(p.asa_s.is_infinite());
        assert_eq!(p.occupancy, 1.0);
    }

    #[test]
    fn large_centers_stay_exact() {
        // 2000 Erlangs: factorials would overflow; the recursion does not
        let load = Workload::new(40_000.0, 180.0).unwrap();
        let n = agents_needed(load, 0.9, 15.0).unwrap();
        assert!(n > 2000 && n < 2200, "{n}");
        let p = predict(load, n, 15.0);
        assert!(p.wait_probability.is_finite() && p.service_level >= 0.9);
    }

    #[test]
    fn bad_inputs_are_named() {
        let err = |r: Result<Workload, StaffingError>| r.unwrap_err().to_string();
        assert!(err(Workload::new(-5.0, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(0.0, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(f64::NAN, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(100.0, f64::INFINITY)).contains("--aht"));
        assert!(err(Workload::new(100.0, 0.0)).contains("--aht"));
        let load = Workload::new(100.0, 180.0).unwrap();
        assert!(agents_needed(load, 1.5, 20.0)
            .unwrap_err()
            .to_string()
            .contains("--target-sl"));
        assert!(agents_needed(load, 0.0, 20.0)
            .unwrap_err()
            .to_string()
            .contains("--target-sl"));
        assert!(agents_needed(load, 0.8, -1.0)
            .unwrap_err()
            .to_string()
            .contains("--target-seconds"));
        // a target of 100 % within 0 s is unreachable: bounded search, clear error
        let e = agents_needed(Workload::new(1e6, 86_400.0).unwrap(), 0.99, 1.0).unwrap_err();
        assert!(matches!(e, StaffingError::Unreachable { .. }), "{e}");
    }
}
