//! What a run measured, and Erlang C's prediction for the same inputs.

use crate::config::{OverflowTo, SimConfig};
use hotline_core::{AgentId, CallEvent, EventKind};
use hotline_metrics::erlang::{self, Workload};
use hotline_metrics::kpi::{KpiConfig, Metrics};
use std::collections::HashMap;
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

/// The figures of one run, over the calls that arrived after the warm-up,
/// folded from the events the calls and the controller emitted: the KPIs
/// by [`hotline_metrics::kpi::Metrics`] (as the live wallboard computes
/// them, with no short abandons), the agents' busy time and the longest wait
/// beside it.
///
/// A callback is a call of its own (it arrives when the caller asks for it),
/// as on the wallboard: `calls` counts the inbound calls and the callbacks.
/// Every measured call is in exactly one of `answered`, `abandoned`,
/// `failed`, `voicemails`, `callbacks_requested`, `callbacks_expired` and
/// `still_waiting`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// The inputs of the run.
    pub config: SimConfig,
    /// Calls that arrived after the warm-up (inbound calls and callbacks).
    pub calls: u64,
    /// Of those, answered by an agent (including calls still talking at the end).
    pub answered: u64,
    /// Of those, the callers who hung up before an answer.
    pub abandoned: u64,
    /// Of those, calls the engine ended without an agent (none is expected).
    pub failed: u64,
    /// Of those, callers who overflowed to the voicemail and left a message.
    pub voicemails: u64,
    /// Of those, callers who asked for a callback and hung up.
    pub callbacks_requested: u64,
    /// Of those, callbacks given up (the customer never reached in time).
    pub callbacks_expired: u64,
    /// Of those, still waiting for an agent when the run ended (in a queue,
    /// leaving a voicemail, or a callback still due).
    pub still_waiting: u64,
    /// Callbacks that reached the customer and were talked to the end.
    pub callbacks_made: u64,
    /// Calls the engine answered itself at the ring target (they went on
    /// waiting for an agent).
    pub system_answered: u64,
    /// Calls moved to another queue or the voicemail after the maximum wait.
    pub overflowed: u64,
    /// Offers no agent picked up before the ring timeout.
    pub missed_offers: u64,
    /// Position and expected-wait announcements played.
    pub announcements: u64,
    /// Measured calls that ended, each with exactly one CDR.
    pub cdrs: u64,
    /// Answered within the target ÷ (answered + abandoned); 0 if neither.
    pub service_level: f64,
    /// Mean wait of answered calls, seconds; 0 if none was answered.
    pub asa_s: f64,
    /// Abandoned ÷ calls; 0 without calls.
    pub abandon_rate: f64,
    /// Share of the agents' time after the warm-up spent talking or in
    /// wrap-up, in [0, 1] (the overflow queue's agents included).
    pub occupancy: f64,
    /// Longest wait of a call answered or abandoned, seconds.
    pub max_wait_s: f64,
    /// Erlang C's figures for the same inputs, if it can model them.
    pub erlang_c: Option<ErlangPrediction>,
}

/// The run's record folded as it goes: measured calls' events into
/// [`Metrics`], agents' busy time (talk and wrap-up, every call) within the
/// measured span, and what the KPIs do not keep.
#[derive(Debug)]
pub(crate) struct Tally {
    metrics: Metrics,
    from: i64,
    end: i64,
    max_wait_ms: i64,
    announcements: u64,
    missed_offers: u64,
    cdrs: u64,
    /// Agent → since when they talk.
    talking: HashMap<AgentId, i64>,
    /// Agent time spent talking or wrapping up within [from, end], ms.
    busy_ms: i128,
}

impl Tally {
    /// Measuring calls that arrive from `from` on, and agent time up to
    /// `end` (ms), against a service-level target of `target_ms`.
    pub(crate) fn new(from: i64, end: i64, target_ms: i64, rings: u32) -> Self {
        Tally {
            metrics: Metrics::new(KpiConfig {
                short_abandon_ms: 0,
                service_level_ms: target_ms,
                rings,
                ..KpiConfig::default()
            }),
            from,
            end,
            max_wait_ms: 0,
            announcements: 0,
            missed_offers: 0,
            cdrs: 0,
            talking: HashMap::new(),
            busy_ms: 0,
        }
    }

    /// The part of [a, b] inside the measured span, ms.
    fn inside(&self, a: i64, b: i64) -> i128 {
        i128::from((b.min(self.end) - a.max(self.from)).max(0))
    }

    /// Folds one event; `measured`: its call arrived after the warm-up.
    pub(crate) fn apply(&mut self, e: &CallEvent, measured: bool) {
        match (&e.kind, &e.agent) {
            (EventKind::AgentAnswered { .. }, Some(agent)) => {
                self.talking.insert(agent.clone(), e.at_ms);
            }
            (EventKind::Completed { .. } | EventKind::Transferred { .. }, Some(agent)) => {
                if let Some(since) = self.talking.remove(agent) {
                    self.busy_ms += self.inside(since, e.at_ms);
                }
            }
            (EventKind::WrapUp { wrap_ms }, _) => {
                self.busy_ms += self.inside(e.at_ms, e.at_ms.saturating_add(*wrap_ms));
            }
            _ => {}
        }
        if !measured {
            return;
        }
        match &e.kind {
            EventKind::AgentAnswered { wait_ms, .. } | EventKind::Abandoned { wait_ms, .. } => {
                self.max_wait_ms = self.max_wait_ms.max(*wait_ms);
            }
            EventKind::Announced { .. } => self.announcements += 1,
            EventKind::AgentRingNoAnswer { .. } => self.missed_offers += 1,
            _ => {}
        }
        self.metrics.apply(e);
    }

    /// A measured call ended with its CDR.
    pub(crate) fn cdr(&mut self) {
        self.cdrs += 1;
    }

    /// Forgets the KPI records of calls that ended and arrived before
    /// `before_ms` (no call still going may have arrived before it): they
    /// still count, memory stays bounded.
    pub(crate) fn forget_before(&mut self, before_ms: i64) {
        self.metrics.forget_before(before_ms);
    }

    /// The report at `now` (at or after the end of the run).
    pub(crate) fn report(&self, cfg: &SimConfig, now: i64) -> SimReport {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        // calls that arrived up to the end (inclusive)
        let c = self
            .metrics
            .snapshot(now.max(self.end).saturating_add(1))
            .center;
        let still_talking: i128 = self
            .talking
            .values()
            .map(|since| self.inside(*since, self.end))
            .sum();
        let agents = f64::from(cfg.agents + cfg.overflow_agents());
        let span = (self.end - self.from) as f64 * agents;
        SimReport {
            config: cfg.clone(),
            calls: c.offered,
            answered: c.answered,
            abandoned: c.abandoned,
            failed: c.failed,
            voicemails: c.voicemail,
            callbacks_requested: c.callbacks_requested,
            callbacks_expired: c.callbacks_expired,
            still_waiting: c.waiting_now,
            callbacks_made: c.callbacks_done,
            system_answered: c.system_answered,
            overflowed: c.overflowed,
            missed_offers: self.missed_offers,
            announcements: self.announcements,
            cdrs: self.cdrs,
            service_level: c.service_level.unwrap_or(0.0),
            asa_s: c.asa_ms.unwrap_or(0.0) / 1000.0,
            abandon_rate: c.abandon_rate.unwrap_or(0.0),
            occupancy: ratio((self.busy_ms + still_talking) as f64, span).clamp(0.0, 1.0),
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

/// The call flow's settings in words, for the report's header.
fn flow_line(c: &SimConfig) -> String {
    let t = &c.treatments;
    let mut parts = vec![format!(
        "engine answers after {} rings ({} s)",
        t.answer_after_rings,
        t.system_answer_s()
    )];
    if t.agent_answer_s > 0.0 || t.no_answer_share > 0.0 {
        parts.push(format!(
            "agents pick up after {} s, {} of offers ring out ({} s timeout)",
            t.agent_answer_s,
            percent(t.no_answer_share),
            t.ring_timeout_s
        ));
    } else {
        parts.push("agents answer at once".to_string());
    }
    if let Some(o) = t.overflow {
        let to = match o.to {
            OverflowTo::Voicemail => "voicemail".to_string(),
            OverflowTo::Queue { agents } => format!("a second queue of {agents} agents"),
        };
        parts.push(format!("max wait {} s, then {to}", o.max_wait_s));
    }
    if let Some(after) = t.callback_after_s {
        parts.push(format!("callback asked after {after} s of waiting"));
    }
    if let Some(every) = t.announce_every_s {
        parts.push(format!("announcements every {every} s"));
    }
    format!("Call flow: {}", parts.join("; "))
}

impl fmt::Display for SimReport {
    /// A table of the simulated figures next to Erlang C's, under a header
    /// with the inputs and the call counts, then what the treatments did.
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
        writeln!(f, "{}", flow_line(c))?;
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
            Some(_) if c.treatments.changes_the_queue() => writeln!(
                f,
                "(Erlang C knows no ring time, overflow or callback: a reference only)"
            )?,
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
        writeln!(f)?;
        let share = |n: u64| {
            if self.calls > 0 {
                percent(n as f64 / self.calls as f64)
            } else {
                none()
            }
        };
        writeln!(f, "{:<26} {:>12} {:>12}", "Treatments", "calls", "of all")?;
        let rows = [
            (
                format!(
                    "Engine answered ({} rings)",
                    c.treatments.answer_after_rings
                ),
                self.system_answered,
            ),
            ("Offers rung out".to_string(), self.missed_offers),
            ("Overflowed".to_string(), self.overflowed),
            ("Voicemails".to_string(), self.voicemails),
            ("Callbacks asked".to_string(), self.callbacks_requested),
            ("Callbacks made".to_string(), self.callbacks_made),
            ("Callbacks given up".to_string(), self.callbacks_expired),
            ("Announcements".to_string(), self.announcements),
            ("CDRs written".to_string(), self.cdrs),
        ];
        for (name, n) in rows {
            let of_all = if name == "Offers rung out" || name == "Announcements" {
                none()
            } else {
                share(n)
            };
            writeln!(f, "{name:<26} {n:>12} {of_all:>12}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::{CallId, CallType, EndedBy, Party};

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

    fn event(at: i64, call: &str, agent: Option<&str>, kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: agent.map(AgentId::new),
            queue: None,
            kind,
        }
    }

    fn arrived(at: i64, call: &str) -> CallEvent {
        let kind = EventKind::Arrived {
            caller: Party {
                number: "1".into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::Inquiry,
        };
        event(at, call, None, kind)
    }

    fn answered(at: i64, call: &str, agent: &str, wait_ms: i64) -> CallEvent {
        let kind = EventKind::AgentAnswered {
            wait_ms,
            rings: 1,
            limit_ms: None,
        };
        event(at, call, Some(agent), kind)
    }

    fn completed(at: i64, call: &str, agent: &str, talk_ms: i64) -> CallEvent {
        let kind = EventKind::Completed {
            ended_by: EndedBy::Caller,
            talk_ms,
        };
        event(at, call, Some(agent), kind)
    }

    fn wrap_up(at: i64, call: &str, agent: &str, wrap_ms: i64) -> CallEvent {
        event(at, call, Some(agent), EventKind::WrapUp { wrap_ms })
    }

    /// A call answered before the warm-up ended, one after it, one
    /// abandoned, folded as the engine emits them.
    fn three_calls(cfg: &SimConfig) -> SimReport {
        // measured from 1000 ms to 11000 ms, target 20 s
        let mut t = Tally::new(1_000, 11_000, 20_000, 3);
        let events = [
            (arrived(500, "w"), false), // warm-up: not measured
            (answered(1_500, "w", "a0", 1_000), false),
            (completed(4_500, "w", "a0", 3_000), false),
            (wrap_up(4_500, "w", "a0", 1_000), false), // busy 1500..5500
            (arrived(2_000, "m"), true),
            (answered(2_000, "m", "a1", 0), true), // busy 2000.. still talking at 11000
            (arrived(3_000, "x"), true),
            (
                event(
                    9_000,
                    "x",
                    None,
                    EventKind::Abandoned {
                        wait_ms: 6_000,
                        position: 0,
                    },
                ),
                true,
            ),
        ];
        for (e, measured) in &events {
            t.apply(e, *measured);
        }
        t.cdr();
        t.report(cfg, 11_000)
    }

    #[test]
    fn the_events_make_the_report() {
        let cfg = SimConfig {
            agents: 2,
            ..SimConfig::default()
        };
        let r = three_calls(&cfg);
        assert_eq!((r.calls, r.answered, r.abandoned), (2, 1, 1), "{r:?}");
        assert_eq!((r.still_waiting, r.cdrs), (0, 1), "{r:?}");
        assert_eq!(r.service_level, 0.5);
        assert_eq!(r.asa_s, 0.0);
        assert_eq!(r.abandon_rate, 0.5);
        assert_eq!(r.max_wait_s, 6.0);
        // (4000 + 9000) ms busy of 2 agents × 10000 ms
        assert!((r.occupancy - 0.65).abs() < 1e-12, "{r:?}");
        let empty = Tally::new(0, 1, 0, 3).report(&cfg, 1);
        assert_eq!(
            (empty.service_level, empty.asa_s, empty.abandon_rate),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn the_table_shows_both_columns_and_the_treatments() {
        let mut t = Tally::new(0, 3_600_000, 20_000, 3);
        t.apply(&arrived(0, "c"), true);
        t.apply(&answered(30_000, "c", "a0", 30_000), true);
        t.apply(&completed(210_000, "c", "a0", 180_000), true);
        let text = t.report(&SimConfig::default(), 3_600_000).to_string();
        for want in [
            "200 calls/h",
            "12 agents (longest idle)",
            "engine answers after 3 rings (11 s)",
            "agents answer at once",
            "Service level (20 s)",
            "0.0 %",
            "64.0 %",
            "30.0 s",
            "40.4 s",
            "83.3 %",
            "simulated",
            "Erlang C",
            "1 answered",
            "Treatments",
            "Voicemails",
            "Callbacks made",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        let impatient = SimConfig {
            patience_s: Some(30.0),
            ..SimConfig::default()
        };
        let text = Tally::new(0, 1, 0, 3).report(&impatient, 1).to_string();
        assert!(text.contains("assumes nobody abandons"), "{text}");
        let mut moved = SimConfig::default();
        moved.treatments.overflow = Some(crate::Overflow {
            max_wait_s: 90.0,
            to: OverflowTo::Voicemail,
        });
        moved.treatments.callback_after_s = Some(60.0);
        let text = Tally::new(0, 1, 0, 3).report(&moved, 1).to_string();
        for want in [
            "max wait 90 s, then voicemail",
            "callback asked after 60 s",
            "a reference only",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }
}
