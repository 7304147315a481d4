//! Erlang C: how many agents a queue needs.
//!
//! With calls arriving at random (Poisson) at `λ` per second, each handled in
//! `AHT` seconds on average (exponential), the offered traffic is
//! `A = λ · AHT` Erlangs. With `N` agents and callers who wait (no abandons):
//!
//! - Erlang B by the stable recursion `B(0) = 1`, `B(k) = A·B(k−1) / (k + A·B(k−1))`;
//! - probability a caller waits: `Pw = N·B / (N − A·(1 − B))` (for `N > A`; 1 otherwise);
//! - service level within `T` s: `SL = 1 − Pw · e^(−(N − A)·T / AHT)` (0 when `N ≤ A`);
//! - average speed of answer: `ASA = Pw · AHT / (N − A)` (infinite when `N ≤ A`);
//! - occupancy: `A / N` (capped at 1).
//!
//! The recursion needs no factorials or powers, so it stays exact for
//! thousands of agents. Every function checks its inputs and answers a
//! [`StaffingError`] naming the bad one (after the `hotline staffing` flag it
//! comes from) instead of returning NaN, panicking or searching forever.
//!
//! Two ways in: plain numbers ([`erlang_c`], [`service_level`],
//! [`average_speed_of_answer`], [`occupancy`], [`agents_needed`]) or a checked
//! [`Workload`] with [`predict`] and [`Workload::agents_needed`] (what the CLI
//! uses to print its table).

use serde::Serialize;

/// Agents [`agents_needed`] searches up to by default (`--max-agents`).
pub const MAX_AGENTS: u32 = 10_000;

/// Most agents any function here accepts (and the highest `--max-agents`).
pub const AGENTS_LIMIT: u32 = 1_000_000;

/// Most traffic, Erlangs, [`erlang_b`] and [`erlang_c`] accept.
pub const MAX_TRAFFIC: f64 = 1e8;

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
    /// Even `max_agents` agents do not reach the target.
    #[error("the target is not reachable with {max_agents} agents (--max-agents; traffic {traffic:.1} Erlangs)")]
    Unreachable {
        /// Offered traffic, Erlangs.
        traffic: f64,
        /// The most agents searched.
        max_agents: u32,
    },
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

fn check_agents(name: &'static str, agents: u32) -> Result<(), StaffingError> {
    if (1..=AGENTS_LIMIT).contains(&agents) {
        Ok(())
    } else {
        Err(StaffingError::OutOfRange {
            name,
            range: "a whole number from 1 to 1000000",
            value: f64::from(agents),
        })
    }
}

fn check_traffic(traffic: f64) -> Result<(), StaffingError> {
    check(
        "traffic",
        "a number of Erlangs above 0 and at most 1e8",
        traffic,
        |v| v > 0.0 && v <= MAX_TRAFFIC,
    )
}

fn check_target_seconds(target_s: f64) -> Result<(), StaffingError> {
    check(
        "--target-seconds",
        "a number of seconds from 0 to 86400",
        target_s,
        |v| (0.0..=86_400.0).contains(&v),
    )
}

/// A staffing question's traffic, checked: calls per hour and handle time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Workload {
    calls_per_hour: f64,
    aht_s: f64,
}

impl Workload {
    /// Checks the inputs (finite, above 0, not absurd: at most a million calls
    /// an hour and a day of handle time).
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

    /// Calls offered per hour.
    pub fn calls_per_hour(&self) -> f64 {
        self.calls_per_hour
    }

    /// Average handle time, seconds.
    pub fn aht_s(&self) -> f64 {
        self.aht_s
    }

    /// Offered traffic `A`, Erlangs.
    pub fn traffic(&self) -> f64 {
        self.calls_per_hour * self.aht_s / 3600.0
    }

    /// The fewest agents, at most `max_agents`, that answer `target_sl` (a
    /// share in (0, 1]) of calls within `target_s` seconds.
    ///
    /// One pass of the Erlang B recursion: O(answer) whatever the traffic.
    pub fn agents_needed(
        &self,
        target_sl: f64,
        target_s: f64,
        max_agents: u32,
    ) -> Result<u32, StaffingError> {
        check(
            "--target-sl",
            "a share above 0 and at most 1 (e.g. 0.8)",
            target_sl,
            |v| v > 0.0 && v <= 1.0,
        )?;
        check_target_seconds(target_s)?;
        check_agents("--max-agents", max_agents)?;
        let a = self.traffic();
        let unreachable = StaffingError::Unreachable {
            traffic: a,
            max_agents,
        };
        // nobody is ever answered with N ≤ A: no need to walk there
        if a >= f64::from(max_agents) {
            return Err(unreachable);
        }
        let mut b = 1.0;
        for n in 1..=max_agents {
            b = erlang_b_step(a, n, b);
            if f64::from(n) > a && figures(*self, n, b, target_s).service_level >= target_sl - 1e-12
            {
                return Ok(n);
            }
        }
        Err(unreachable)
    }
}

/// One step of the Erlang B recursion: `B(n)` from `B(n − 1)`.
fn erlang_b_step(a: f64, n: u32, b: f64) -> f64 {
    a * b / (f64::from(n) + a * b)
}

/// `B(agents)` for `traffic`, unchecked (callers check).
fn erlang_b_raw(traffic: f64, agents: u32) -> f64 {
    (1..=agents).fold(1.0, |b, n| erlang_b_step(traffic, n, b))
}

/// Erlang C from Erlang B, unchecked.
fn wait_probability(a: f64, agents: u32, b: f64) -> f64 {
    let n = f64::from(agents);
    if n <= a {
        return 1.0;
    }
    (n * b / (n - a * (1.0 - b))).clamp(0.0, 1.0)
}

/// Erlang B blocking probability for `traffic` Erlangs on `agents` servers.
pub fn erlang_b(traffic: f64, agents: u32) -> Result<f64, StaffingError> {
    check_traffic(traffic)?;
    check_agents("agents", agents)?;
    Ok(erlang_b_raw(traffic, agents))
}

/// Probability that a caller has to wait (Erlang C) with `traffic` Erlangs
/// offered to `agents` agents; 1 when `agents <= traffic`.
pub fn erlang_c(traffic: f64, agents: u32) -> Result<f64, StaffingError> {
    check_traffic(traffic)?;
    check_agents("agents", agents)?;
    Ok(wait_probability(
        traffic,
        agents,
        erlang_b_raw(traffic, agents),
    ))
}

/// Predicted figures for one agent count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Agents on the phones.
    pub agents: u32,
    /// Probability a caller waits at all.
    pub wait_probability: f64,
    /// Share answered within the target time (0 when under-staffed).
    pub service_level: f64,
    /// Average speed of answer, seconds (infinite when under-staffed).
    pub asa_s: f64,
    /// Share of agents' time spent handling calls (capped at 1).
    pub occupancy: f64,
}

/// The figures of `agents` agents given `b = B(agents)`, unchecked.
fn figures(load: Workload, agents: u32, b: f64, target_s: f64) -> Prediction {
    let a = load.traffic();
    let n = f64::from(agents);
    let pw = wait_probability(a, agents, b);
    let (sl, asa) = if n <= a {
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
        occupancy: (a / n).min(1.0),
    }
}

/// Predicts the probability of waiting, service level (within `target_s`
/// seconds), ASA and occupancy of `load` with `agents` agents.
pub fn predict(load: Workload, agents: u32, target_s: f64) -> Result<Prediction, StaffingError> {
    check_agents("agents", agents)?;
    check_target_seconds(target_s)?;
    Ok(figures(
        load,
        agents,
        erlang_b_raw(load.traffic(), agents),
        target_s,
    ))
}

/// Predicted share of calls answered within `target_s` seconds.
pub fn service_level(
    calls_per_hour: f64,
    aht_s: f64,
    agents: u32,
    target_s: f64,
) -> Result<f64, StaffingError> {
    let load = Workload::new(calls_per_hour, aht_s)?;
    Ok(predict(load, agents, target_s)?.service_level)
}

/// Predicted average speed of answer, seconds (infinite when `agents` ≤ traffic).
pub fn average_speed_of_answer(
    calls_per_hour: f64,
    aht_s: f64,
    agents: u32,
) -> Result<f64, StaffingError> {
    let load = Workload::new(calls_per_hour, aht_s)?;
    Ok(predict(load, agents, 0.0)?.asa_s)
}

/// Predicted occupancy: traffic ÷ agents, capped at 1.
pub fn occupancy(calls_per_hour: f64, aht_s: f64, agents: u32) -> Result<f64, StaffingError> {
    let load = Workload::new(calls_per_hour, aht_s)?;
    Ok(predict(load, agents, 0.0)?.occupancy)
}

/// The fewest agents (searching up to [`MAX_AGENTS`]) that answer `target_sl`
/// (a share in (0, 1]) of calls within `target_s` seconds.
pub fn agents_needed(
    calls_per_hour: f64,
    aht_s: f64,
    target_sl: f64,
    target_s: f64,
) -> Result<u32, StaffingError> {
    Workload::new(calls_per_hour, aht_s)?.agents_needed(target_sl, target_s, MAX_AGENTS)
}

/// `hotline staffing`'s answer as text: the agents needed for `target_sl`
/// within `target_s` seconds, and a table of what three fewer to four more
/// agents would give (probability of waiting, service level, ASA, occupancy).
pub fn staffing_table(
    load: Workload,
    target_sl: f64,
    target_s: f64,
    max_agents: u32,
) -> Result<String, StaffingError> {
    use std::fmt::Write;
    let needed = load.agents_needed(target_sl, target_s, max_agents)?;
    let mut out = format!(
        "{} calls/h × {} s = {:.2} Erlangs; {:.0}% within {target_s} s needs {needed} agents\n",
        load.calls_per_hour,
        load.aht_s,
        load.traffic(),
        target_sl * 100.0
    );
    out.push_str("agents  P(wait)  service level  ASA (s)  occupancy\n");
    let first = needed.saturating_sub(3).max(1);
    let last = needed.saturating_add(4).min(max_agents);
    for n in first..=last {
        let p = predict(load, n, target_s)?;
        let asa = if p.asa_s.is_finite() {
            format!("{:.1}", p.asa_s)
        } else {
            "∞".to_string()
        };
        let mark = if n == needed { "  <- needed" } else { "" };
        let _ = writeln!(
            out,
            "{n:>6}  {:>7.3}  {:>12.1}%  {asa:>7}  {:>8.1}%{mark}",
            p.wait_probability,
            p.service_level * 100.0,
            p.occupancy * 100.0
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_staffing_table_marks_the_agents_needed_and_its_neighbours() {
        let load = Workload::new(360.0, 180.0).unwrap();
        let text = staffing_table(load, 0.8, 20.0, MAX_AGENTS).unwrap();
        let needed = load.agents_needed(0.8, 20.0, MAX_AGENTS).unwrap();
        assert!(
            text.starts_with(&format!(
                "360 calls/h × 180 s = 18.00 Erlangs; 80% within 20 s needs {needed} agents\n"
            )),
            "{text}"
        );
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(rows.len(), 8, "{text}");
        let marked: Vec<&&str> = rows.iter().filter(|r| r.ends_with("<- needed")).collect();
        assert_eq!(marked.len(), 1, "{text}");
        assert!(
            marked[0].trim_start().starts_with(&format!("{needed} ")),
            "{text}"
        );
        // the table stops at max_agents and never lists 0 agents
        let capped = staffing_table(load, 0.8, 20.0, needed).unwrap();
        assert!(
            capped.lines().last().unwrap().ends_with("<- needed"),
            "{capped}"
        );
        let tiny = staffing_table(Workload::new(1.0, 10.0).unwrap(), 0.8, 20.0, 10).unwrap();
        assert!(
            tiny.lines().nth(2).unwrap().trim_start().starts_with("1 "),
            "{tiny}"
        );
        // an impossible target is an error, not a table
        assert!(staffing_table(load, 0.8, 20.0, 5).is_err());
    }

    use super::*;

    /// Erlang C straight from its definition (powers and factorials), for small N:
    /// `Pw = (Aᴺ/N!)·N/(N−A) ÷ (Σₖ₌₀ᴺ⁻¹ Aᵏ/k! + (Aᴺ/N!)·N/(N−A))`.
    fn erlang_c_direct(a: f64, n: u32) -> f64 {
        let fact = |k: u32| (1..=k).map(f64::from).product::<f64>();
        let sum: f64 = (0..n).map(|k| a.powi(k as i32) / fact(k)).sum();
        let top = a.powi(n as i32) / fact(n) * f64::from(n) / (f64::from(n) - a);
        top / (sum + top)
    }

    /// Service level straight from its definition, with the direct Erlang C.
    fn service_level_direct(cph: f64, aht: f64, n: u32, t: f64) -> f64 {
        let a = cph * aht / 3600.0;
        1.0 - erlang_c_direct(a, n) * (-(f64::from(n) - a) * t / aht).exp()
    }

    #[test]
    fn matches_the_textbook_table_for_ten_erlangs() {
        // A = 10 Erlangs: the classic table
        for (n, want) in [
            (11, 0.6821),
            (12, 0.4494),
            (13, 0.2853),
            (14, 0.1741),
            (15, 0.1020),
        ] {
            let got = erlang_c(10.0, n).unwrap();
            let direct = erlang_c_direct(10.0, n);
            assert!((got - want).abs() < 5e-5, "N={n}: {got} vs {want}");
            assert!((got - direct).abs() < 1e-12, "N={n}: {got} vs {direct}");
        }
    }

    #[test]
    fn agrees_with_the_direct_formula_everywhere_it_can_be_computed() {
        for a in [0.1, 0.9, 2.5, 7.0, 19.5, 33.3, 60.0] {
            for n in (a as u32 + 1)..(a as u32 + 40).min(150) {
                let got = erlang_c(a, n).unwrap();
                let want = erlang_c_direct(a, n);
                assert!((got - want).abs() < 1e-9, "A={a} N={n}: {got} vs {want}");
                let b = erlang_b(a, n).unwrap();
                assert!((0.0..=1.0).contains(&b));
                assert!(got >= b, "waiting is at least as likely as blocking");
            }
        }
    }

    #[test]
    fn the_issue_table_value_100_calls_in_30_minutes() {
        // 100 calls / 30 min = 200 calls/h, AHT 180 s → A = 10 Erlangs, 12 agents,
        // 20 s target; the published worked example gives Pw 0.4494, SL 64.01 %
        // (1 − 0.4494·e^(−2·20/180)) and ASA 40.4 s (0.4494·180/2)
        let p = predict(Workload::new(200.0, 180.0).unwrap(), 12, 20.0).unwrap();
        assert!((p.wait_probability - 0.4494).abs() < 5e-5, "{p:?}");
        assert!((p.service_level - 0.6401).abs() < 1e-4, "{p:?}");
        assert!((p.asa_s - 40.4).abs() < 0.05, "{p:?}");
        assert!((p.occupancy - 10.0 / 12.0).abs() < 1e-12);
        assert!((p.service_level - service_level_direct(200.0, 180.0, 12, 20.0)).abs() < 1e-12);
    }

    #[test]
    fn the_worked_example_of_360_calls_an_hour() {
        // 360 calls/h, 240 s AHT → 24 Erlangs; 80 % within 20 s needs 29 agents
        // (28 give 76.1 %, 29 give 84.0 %: checked with the direct formula)
        let load = Workload::new(360.0, 240.0).unwrap();
        assert!((load.traffic() - 24.0).abs() < 1e-9);
        assert_eq!((load.calls_per_hour(), load.aht_s()), (360.0, 240.0));
        let n = agents_needed(360.0, 240.0, 0.8, 20.0).unwrap();
        assert_eq!(n, 29);
        assert_eq!(load.agents_needed(0.8, 20.0, MAX_AGENTS).unwrap(), 29);
        assert!(predict(load, n, 20.0).unwrap().service_level >= 0.8);
        assert!(predict(load, n - 1, 20.0).unwrap().service_level < 0.8);
        let p = predict(load, 29, 20.0).unwrap();
        assert!((p.service_level - 0.8403).abs() < 5e-4, "{p:?}");
        assert!((p.asa_s - 11.6).abs() < 0.05, "{p:?}");
        assert!((p.occupancy - 24.0 / 29.0).abs() < 1e-12);
        for n in 25..=32 {
            let sl = service_level(360.0, 240.0, n, 20.0).unwrap();
            assert!((sl - service_level_direct(360.0, 240.0, n, 20.0)).abs() < 1e-9);
        }
        assert!((service_level(360.0, 240.0, 28, 20.0).unwrap() - 0.761).abs() < 5e-4);
        assert!((average_speed_of_answer(360.0, 240.0, 29).unwrap() - p.asa_s).abs() < 1e-12);
        assert!((occupancy(360.0, 240.0, 29).unwrap() - 24.0 / 29.0).abs() < 1e-12);
        // 200 calls/h, 180 s → 10 Erlangs: 13 agents give 79.6 %, so 14
        assert_eq!(agents_needed(200.0, 180.0, 0.8, 20.0).unwrap(), 14);
        assert!((service_level(200.0, 180.0, 13, 20.0).unwrap() - 0.7956).abs() < 5e-4);
    }

    #[test]
    fn the_search_finds_the_smallest_count_for_many_targets() {
        for (cph, aht) in [
            (12.0, 300.0),
            (360.0, 240.0),
            (1_000.0, 90.0),
            (5_000.0, 400.0),
        ] {
            let load = Workload::new(cph, aht).unwrap();
            for sl in [0.5, 0.8, 0.9, 0.99] {
                for t in [0.0, 10.0, 20.0, 60.0] {
                    let n = load.agents_needed(sl, t, MAX_AGENTS).unwrap();
                    assert!(f64::from(n) > load.traffic());
                    assert!(predict(load, n, t).unwrap().service_level >= sl - 1e-12);
                    if f64::from(n - 1) > load.traffic() {
                        assert!(predict(load, n - 1, t).unwrap().service_level < sl);
                    }
                }
            }
        }
    }

    #[test]
    fn more_agents_never_make_it_worse() {
        for a in [0.5, 3.0, 47.3, 400.0] {
            let load = Workload::new(a * 3600.0 / 180.0, 180.0).unwrap();
            let mut last = predict(load, (a as u32) + 1, 20.0).unwrap();
            for n in (a as u32 + 2)..(a as u32 + 40) {
                let p = predict(load, n, 20.0).unwrap();
                assert!(p.wait_probability <= last.wait_probability + 1e-12);
                assert!(p.service_level + 1e-12 >= last.service_level);
                assert!(p.asa_s <= last.asa_s + 1e-9);
                assert!(p.occupancy < last.occupancy);
                last = p;
            }
        }
    }

    #[test]
    fn understaffed_means_everyone_waits() {
        assert_eq!(erlang_c(10.0, 10).unwrap(), 1.0);
        assert_eq!(erlang_c(10.0, 3).unwrap(), 1.0);
        assert_eq!(erlang_c(10.5, 10).unwrap(), 1.0);
        let p = predict(Workload::new(3600.0, 10.0).unwrap(), 5, 20.0).unwrap();
        assert_eq!(p.wait_probability, 1.0);
        assert_eq!(p.service_level, 0.0);
        assert!(p.asa_s.is_infinite());
        assert_eq!(p.occupancy, 1.0);
        assert!(average_speed_of_answer(3600.0, 10.0, 10)
            .unwrap()
            .is_infinite());
    }

    #[test]
    fn large_centers_stay_exact() {
        // 2000 Erlangs: factorials would overflow; the recursion does not
        let load = Workload::new(40_000.0, 180.0).unwrap();
        let n = load.agents_needed(0.9, 15.0, MAX_AGENTS).unwrap();
        assert!(n > 2000 && n < 2200, "{n}");
        let p = predict(load, n, 15.0).unwrap();
        assert!(p.wait_probability.is_finite() && p.service_level >= 0.9);
        // hundreds of agents: every value a probability
        for n in [1, 500, 1999, 2000, 2001, 5000, AGENTS_LIMIT] {
            let pw = erlang_c(2000.0, n).unwrap();
            assert!((0.0..=1.0).contains(&pw), "N={n}: {pw}");
        }
    }

    #[test]
    fn bad_inputs_are_named_and_never_panic() {
        let err = |r: Result<Workload, StaffingError>| r.unwrap_err().to_string();
        assert!(err(Workload::new(-5.0, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(0.0, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(f64::NAN, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(1e7, 180.0)).contains("--calls-per-hour"));
        assert!(err(Workload::new(100.0, f64::INFINITY)).contains("--aht"));
        assert!(err(Workload::new(100.0, 0.0)).contains("--aht"));
        assert!(err(Workload::new(100.0, -1.0)).contains("--aht"));
        let named = |r: Result<u32, StaffingError>, flag: &str| {
            let e = r.unwrap_err().to_string();
            assert!(e.contains(flag), "{e} should name {flag}");
        };
        named(agents_needed(100.0, 180.0, 1.5, 20.0), "--target-sl");
        named(agents_needed(100.0, 180.0, 0.0, 20.0), "--target-sl");
        named(agents_needed(100.0, 180.0, -0.8, 20.0), "--target-sl");
        named(agents_needed(100.0, 180.0, f64::NAN, 20.0), "--target-sl");
        named(agents_needed(100.0, 180.0, 0.8, -1.0), "--target-seconds");
        named(
            agents_needed(100.0, 180.0, 0.8, f64::INFINITY),
            "--target-seconds",
        );
        named(agents_needed(-1.0, 180.0, 0.8, 20.0), "--calls-per-hour");
        let load = Workload::new(100.0, 180.0).unwrap();
        named(load.agents_needed(0.8, 20.0, 0), "--max-agents");
        named(
            load.agents_needed(0.8, 20.0, AGENTS_LIMIT + 1),
            "--max-agents",
        );
        // the plain-number functions check too
        for r in [
            erlang_c(f64::NAN, 10),
            erlang_c(-3.0, 10),
            erlang_c(0.0, 10),
            erlang_c(f64::INFINITY, 10),
            erlang_c(1e9, 10),
            erlang_c(10.0, 0),
            erlang_c(10.0, u32::MAX),
            erlang_b(10.0, 0),
            service_level(100.0, 180.0, 0, 20.0),
            service_level(100.0, 180.0, 10, f64::NAN),
            service_level(f64::NAN, 180.0, 10, 20.0),
            average_speed_of_answer(100.0, -180.0, 10),
            occupancy(100.0, 180.0, 0),
        ] {
            assert!(matches!(r, Err(StaffingError::OutOfRange { .. })), "{r:?}");
        }
        assert!(matches!(
            predict(load, 0, 20.0),
            Err(StaffingError::OutOfRange { name: "agents", .. })
        ));
    }

    #[test]
    fn unreachable_targets_end_with_an_error_not_a_long_search() {
        // more traffic than agents allowed: answered at once
        let e = agents_needed(1e6, 86_400.0, 0.99, 1.0).unwrap_err();
        assert!(
            matches!(
                e,
                StaffingError::Unreachable {
                    max_agents: MAX_AGENTS,
                    ..
                }
            ),
            "{e}"
        );
        // 24 Erlangs with at most 26 agents cannot give 80/20
        let load = Workload::new(360.0, 240.0).unwrap();
        let e = load.agents_needed(0.8, 20.0, 26).unwrap_err();
        assert!(e.to_string().contains("26 agents"), "{e}");
        assert!(e.to_string().contains("--max-agents"), "{e}");
        assert_eq!(load.agents_needed(0.8, 20.0, 29), Ok(29));
        // the worst case walks the whole allowed range once: still quick
        let huge = Workload::new(1e6, 3596.4).unwrap(); // 999 000 Erlangs
        let started = std::time::Instant::now();
        let e = huge.agents_needed(0.999, 0.0, AGENTS_LIMIT).unwrap_err();
        assert!(matches!(e, StaffingError::Unreachable { .. }), "{e}");
        assert!(started.elapsed().as_secs() < 10);
    }
}
