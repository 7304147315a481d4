//! What a run measured, and Erlang C's prediction for the same inputs.

use crate::config::SimConfig;
use hotline_metrics::erlang::{self, Workload};
use std::fmt;

/// What Erlang C predicts for the run's inputs (handle time = AHT + wrap-up;
/// Erlang C assumes nobody abandons).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangPrediction {
    /// Share of calls answered within the target.
    pub service_level: f64,
    /// Average speed of answer, seconds (infinite when agents ≤ traffic).
    pub asa_s: f64,
    /// Share of the agents' time spent on calls (talk and wrap-up).
    pub occupancy: f64,
}

impl ErlangPrediction {
    /// The prediction for `cfg`, or None if Erlang C cannot model it (inputs
    /// beyond what [`hotline_metrics::erlang`] accepts).
    pub fn for_config(cfg: &SimConfig) -> Option<ErlangPrediction> {
        let load = Workload::new(cfg.calls_per_hour, cfg.aht_s + cfg.wrap_up_s).ok()?;
        let p = erlang::predict(load, cfg.agents, cfg.target_s).ok()?;
        Some(ErlangPrediction {
            service_level: p.service_level,
            asa_s: p.asa_s,
            occupancy: p.occupancy,
        })
    }
}

/// The figures of one run, over the calls that arrived after the warm-up.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// The inputs of the run.
    pub config: SimConfig,
    /// Calls that arrived after the warm-up.
    pub calls: u64,
    /// Of those, answered by an agent (including calls still talking at the end).
    pub answered: u64,
    /// Of those, the callers who hung up before an answer.
    pub abandoned: u64,
    /// Of those, still waiting when the run ended
    /// (`calls = answered + abandoned + still_waiting`).
    pub still_waiting: u64,
    /// Answered within the target ÷ (answered + abandoned); 0 if neither.
    pub service_level: f64,
    /// Mean wait of answered calls, seconds; 0 if none was answered.
    pub asa_s: f64,
    /// Abandoned ÷ calls; 0 without calls.
    pub abandon_rate: f64,
    /// Share of the agents' time after the warm-up spent talking or in
    /// wrap-up, in [0, 1].
    pub occupancy: f64,
    /// Longest wait of a call answered or abandoned, seconds.
    pub max_wait_s: f64,
    /// Erlang C's figures for the same inputs, if it can model them.
    pub erlang_c: Option<ErlangPrediction>,
}

/// Counters of the measured calls, folded as the run goes.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    from: i64,
    end: i64,
    calls: u64,
    answered: u64,
    abandoned: u64,
    in_target: u64,
    /// Sum of the answered calls' waits, ms (exact: integers).
    wait_sum_ms: u128,
    max_wait_ms: i64,
    /// Agent time spent talking or wrapping up within [from, end], ms.
    busy_ms: i128,
    /// Service-level target, ms.
    target_ms: i64,
}

impl Measured {
    /// Measuring calls that arrive from `from` on, and agent time up to `end`
    /// (ms), against a service-level target of `target_ms`.
    pub(crate) fn new(from: i64, end: i64, target_ms: i64) -> Self {
        Measured {
            from,
            end,
            calls: 0,
            answered: 0,
            abandoned: 0,
            in_target: 0,
            wait_sum_ms: 0,
            max_wait_ms: 0,
            busy_ms: 0,
            target_ms,
        }
    }

    fn measured(&self, arrived_ms: i64) -> bool {
        arrived_ms >= self.from
    }

    /// A caller rang in at `at`.
    pub(crate) fn arrived(&mut self, at: i64) {
        if self.measured(at) {
            self.calls += 1;
        }
    }

    /// A caller who rang in at `arrived` hung up unanswered at `now`.
    pub(crate) fn abandoned(&mut self, arrived: i64, now: i64) {
        if self.measured(arrived) {
            self.abandoned += 1;
            self.max_wait_ms = self.max_wait_ms.max(now - arrived);
        }
    }

    /// A caller who rang in at `arrived` was answered at `now`; the agent is
    /// busy (talk and wrap-up) for `busy_ms` from then.
    pub(crate) fn answered(&mut self, arrived: i64, now: i64, busy_ms: i64) {
        let busy_end = (now + busy_ms).min(self.end);
        self.busy_ms += i128::from((busy_end - now.max(self.from)).max(0));
        if self.measured(arrived) {
            let wait = now - arrived;
            self.answered += 1;
            self.in_target += u64::from(wait <= self.target_ms);
            self.wait_sum_ms += wait as u128;
            self.max_wait_ms = self.max_wait_ms.max(wait);
        }
    }

    pub(crate) fn report(&self, cfg: &SimConfig, still_waiting: u64) -> SimReport {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let finished = (self.answered + self.abandoned) as f64;
        let span = (self.end - self.from) as f64 * f64::from(cfg.agents);
        SimReport {
            config: cfg.clone(),
            calls: self.calls,
            answered: self.answered,
            abandoned: self.abandoned,
            still_waiting,
            service_level: ratio(self.in_target as f64, finished),
            asa_s: ratio(self.wait_sum_ms as f64, self.answered as f64) / 1000.0,
            abandon_rate: ratio(self.abandoned as f64, self.calls as f64),
            occupancy: ratio(self.busy_ms as f64, span).clamp(0.0, 1.0),
            max_wait_s: self.max_wait_ms as f64 / 1000.0,
            erlang_c: ErlangPrediction::for_config(cfg),
        }
    }
}

fn strategy_name(s: hotline_acd::Strategy) -> &'static str {
    use hotline_acd::Strategy::*;
    match s {
        LongestIdle => "longest idle",
        RoundRobin => "round robin",
        FewestCalls => "fewest calls",
        LeastTalkTime => "least talk time",
        Linear => "linear",
        RingAll => "ring all",
    }
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn seconds(s: f64) -> String {
    if s.is_finite() {
        format!("{s:.1} s")
    } else {
        "unbounded".to_string()
    }
}

impl fmt::Display for SimReport {
    /// A table of the simulated figures next to Erlang C's, under a header
    /// with the inputs and the call counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let patience = match c.patience_s {
            Some(p) => format!("mean patience {p} s"),
            None => "nobody abandons".to_string(),
        };
        writeln!(
            f,
            "Simulated {} calls/h, AHT {} s, wrap-up {} s, {} agents ({}), {patience}, seed {}",
            c.calls_per_hour,
            c.aht_s,
            c.wrap_up_s,
            c.agents,
            strategy_name(c.strategy),
            c.seed
        )?;
        writeln!(
            f,
            "{} h measured after {} h of warm-up: {} calls, {} answered, {} abandoned, {} still waiting",
            c.hours, c.warmup_hours, self.calls, self.answered, self.abandoned, self.still_waiting
        )?;
        writeln!(f)?;
        let e = self.erlang_c;
        let none = || "-".to_string();
        let rows = [
            (
                format!("Service level ({} s)", c.target_s),
                percent(self.service_level),
                e.map_or_else(none, |e| percent(e.service_level)),
            ),
            (
                "Average speed of answer".to_string(),
                seconds(self.asa_s),
                e.map_or_else(none, |e| seconds(e.asa_s)),
            ),
            (
                "Occupancy".to_string(),
                percent(self.occupancy),
                e.map_or_else(none, |e| percent(e.occupancy)),
            ),
            (
                "Abandon rate".to_string(),
                percent(self.abandon_rate),
                none(),
            ),
            ("Longest wait".to_string(), seconds(self.max_wait_s), none()),
        ];
        writeln!(f, "{:<26} {:>12} {:>12}", "", "simulated", "Erlang C")?;
        for (name, sim, erl) in rows {
            writeln!(f, "{name:<26} {sim:>12} {erl:>12}")?;
        }
        match e {
            None => writeln!(f, "(Erlang C cannot model these inputs)")?,
            Some(_) if c.patience_s.is_some() => writeln!(
                f,
                "(Erlang C assumes nobody abandons, so it overstates waiting here)"
            )?,
            Some(_) if c.wrap_up_s > 0.0 => writeln!(
                f,
                "(Erlang C with handle time = AHT + wrap-up = {} s)",
                c.aht_s + c.wrap_up_s
            )?,
            Some(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prediction_is_the_textbook_one() {
        // 200 calls/h × 180 s = 10 Erlangs on 12 agents, 20 s target
        let p = ErlangPrediction::for_config(&SimConfig::default()).expect("modelled");
        assert!((p.service_level - 0.6401).abs() < 1e-4, "{p:?}");
        assert!((p.asa_s - 40.4).abs() < 0.05, "{p:?}");
        assert!((p.occupancy - 10.0 / 12.0).abs() < 1e-12, "{p:?}");
        // wrap-up counts as handle time: 200 × 198 s = 11 Erlangs
        let w = SimConfig {
            wrap_up_s: 18.0,
            ..SimConfig::default()
        };
        let p = ErlangPrediction::for_config(&w).expect("modelled");
        assert!((p.occupancy - 11.0 / 12.0).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn measured_counters_make_the_report() {
        let cfg = SimConfig {
            agents: 2,
            ..SimConfig::default()
        };
        // measured from 1000 ms to 11000 ms, target 20 s
        let mut m = Measured::new(1_000, 11_000, 20_000);
        m.arrived(500); // warm-up: not measured
        m.answered(500, 1_500, 4_000); // agent busy 1500..5500 (counts)
        m.arrived(2_000);
        m.answered(2_000, 2_000, 20_000); // busy 2000..22000, clipped at 11000
        m.arrived(3_000);
        m.abandoned(3_000, 9_000);
        let r = m.report(&cfg, 0);
        assert_eq!((r.calls, r.answered, r.abandoned), (2, 1, 1));
        assert_eq!(r.service_level, 0.5);
        assert_eq!(r.asa_s, 0.0);
        assert_eq!(r.abandon_rate, 0.5);
        assert_eq!(r.max_wait_s, 6.0);
        // (4000 + 9000) ms busy of 2 agents × 10000 ms
        assert!((r.occupancy - 0.65).abs() < 1e-12, "{r:?}");
        let empty = Measured::new(0, 1, 0).report(&cfg, 0);
        assert_eq!(
            (empty.service_level, empty.asa_s, empty.abandon_rate),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn the_table_shows_both_columns() {
        let mut m = Measured::new(0, 3_600_000, 20_000);
        m.arrived(0);
        m.answered(0, 30_000, 180_000);
        let text = m.report(&SimConfig::default(), 0).to_string();
        for want in [
            "200 calls/h",
            "12 agents (longest idle)",
            "Service level (20 s)",
            "0.0 %",
            "64.0 %",
            "30.0 s",
            "40.4 s",
            "83.3 %",
            "simulated",
            "Erlang C",
            "1 answered",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        let impatient = SimConfig {
            patience_s: Some(30.0),
            ..SimConfig::default()
        };
        let text = Measured::new(0, 1, 0).report(&impatient, 0).to_string();
        assert!(text.contains("assumes nobody abandons"), "{text}");
    }
}
