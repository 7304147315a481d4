//! The one list of KPI columns: each figure of a scope (the center, a queue)
//! once, with its name, its Prometheus family, help text, unit and how to
//! read it from [`Figures`]. `/metrics`, the report's CSV and HTML tables
//! and the wallboard (which reads it from `GET /api/kpis`) are all rendered from it, so a
//! figure cannot mean one thing in one place and another elsewhere.

use crate::kpi::{AgentFigures, Figures};
use serde::Serialize;

/// How a figure is counted and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A number of calls.
    Count,
    /// A share, 0 to 1 (shown as a percentage).
    Ratio,
    /// A duration kept in ms (shown and exported in seconds).
    Millis,
    /// A long duration kept in ms: exported in seconds, shown as H:MM:SS.
    Span,
    /// Rings.
    Rings,
    /// Calls per hour.
    PerHour,
    /// An amount of money in the cost model's currency.
    Money,
    /// A quality score, 0 to 100.
    Score,
}

/// The Prometheus metric type of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Only goes up (since start).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    /// `counter` or `gauge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One figure of a scope (`F` = [`Figures`]) or of an agent (`F` =
/// [`AgentFigures`]).
#[derive(Debug, Serialize)]
#[serde(bound = "")]
pub struct Column<F> {
    /// Its field in the JSON of [`Figures`] (`/api/stats`), e.g. `asa_ms`.
    pub name: &'static str,
    /// Its short title in tables (`ASA`).
    pub title: &'static str,
    /// The Prometheus family it is exported as, if it is.
    pub prometheus: Option<(&'static str, Kind)>,
    /// What it means (the Prometheus HELP line, the tables' tooltips).
    pub help: &'static str,
    /// How it counts.
    pub unit: Unit,
    /// Its value; None = nothing to divide by.
    #[serde(skip)]
    pub value: fn(&F) -> Option<f64>,
}

impl<F> Clone for Column<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Column<F> {}

impl<F> Column<F> {
    /// Its CSV header: the name, in seconds for durations (`asa_s`), with the
    /// ring target written in (`agent_answered_within_3_rings`).
    pub fn csv_name(&self, rings: u32) -> String {
        if let Some(rest) = self.name.strip_suffix("_within_rings") {
            return format!("{rest}_within_{rings}_rings");
        }
        match (self.unit, self.name.strip_suffix("_ms")) {
            (Unit::Millis | Unit::Span, Some(base)) => format!("{base}_s"),
            _ => self.name.to_string(),
        }
    }

    /// The value in the unit of export: seconds for durations, else as kept.
    pub fn exported(&self, f: &F) -> Option<f64> {
        let v = (self.value)(f)?;
        Some(if matches!(self.unit, Unit::Millis | Unit::Span) {
            v / 1000.0
        } else {
            v
        })
    }

    /// The value as a CSV cell: counts as integers, the rest with 3
    /// decimals, empty when there is nothing to divide by.
    pub fn csv_cell(&self, f: &F) -> String {
        match (self.unit, self.exported(f)) {
            (_, None) => String::new(),
            (Unit::Count, Some(v)) => format!("{v:.0}"),
            (_, Some(v)) => format!("{v:.3}"),
        }
    }
}

const fn count(v: u64) -> Option<f64> {
    Some(v as f64)
}

/// Every figure of a scope, in the order of the CSV table.
pub const COLUMNS: &[Column<Figures>] = &[
    Column {
        name: "offered",
        title: "calls",
        prometheus: Some(("hotline_calls_offered_total", Kind::Counter)),
        help: "Calls that arrived and were not refused.",
        unit: Unit::Count,
        value: |f| count(f.offered),
    },
    Column {
        name: "answered",
        title: "answered",
        prometheus: Some(("hotline_calls_answered_total", Kind::Counter)),
        help: "Calls answered by an agent.",
        unit: Unit::Count,
        value: |f| count(f.answered),
    },
    Column {
        name: "abandoned",
        title: "abandoned",
        prometheus: Some(("hotline_calls_abandoned_total", Kind::Counter)),
        help: "Callers who hung up before an agent answered (short abandons included).",
        unit: Unit::Count,
        value: |f| count(f.abandoned),
    },
    Column {
        name: "short_abandoned",
        title: "short abandoned",
        prometheus: Some(("hotline_calls_short_abandoned_total", Kind::Counter)),
        help: "Abandons before the short-abandon threshold.",
        unit: Unit::Count,
        value: |f| count(f.short_abandoned),
    },
    Column {
        name: "rejected",
        title: "rejected",
        prometheus: Some(("hotline_calls_rejected_total", Kind::Counter)),
        help: "Calls refused at the door.",
        unit: Unit::Count,
        value: |f| count(f.rejected),
    },
    Column {
        name: "asa_ms",
        title: "ASA",
        prometheus: Some(("hotline_average_speed_of_answer_seconds", Kind::Gauge)),
        help: "Mean wait of agent-answered calls.",
        unit: Unit::Millis,
        value: |f| f.asa_ms,
    },
    Column {
        name: "service_level",
        title: "service level",
        prometheus: Some(("hotline_service_level_ratio", Kind::Gauge)),
        help: "Answered within target / (answered + abandoned after the short threshold).",
        unit: Unit::Ratio,
        value: |f| f.service_level,
    },
    Column {
        name: "abandon_rate",
        title: "abandon rate",
        prometheus: Some(("hotline_abandon_ratio", Kind::Gauge)),
        help: "Abandoned / offered.",
        unit: Unit::Ratio,
        value: |f| f.abandon_rate,
    },
    Column {
        name: "abandon_rate_without_short",
        title: "abandon rate without short",
        prometheus: Some(("hotline_abandon_without_short_ratio", Kind::Gauge)),
        help: "(Abandoned - short) / (offered - short).",
        unit: Unit::Ratio,
        value: |f| f.abandon_rate_without_short,
    },
    Column {
        name: "avg_talk_ms",
        title: "average talk",
        prometheus: Some(("hotline_average_talk_seconds", Kind::Gauge)),
        help: "Mean talk time of completed calls (hold not included).",
        unit: Unit::Millis,
        value: |f| f.avg_talk_ms,
    },
    Column {
        name: "avg_rings_to_answer",
        title: "average rings",
        prometheus: Some(("hotline_average_rings_to_answer", Kind::Gauge)),
        help: "Mean rings heard before the first answer (the engine's or an agent's).",
        unit: Unit::Rings,
        value: |f| f.avg_rings_to_answer,
    },
    Column {
        name: "system_answered_within_rings",
        title: "engine answered within the ring target",
        prometheus: Some(("hotline_system_answered_within_rings_ratio", Kind::Gauge)),
        help: "Of calls the engine answered, the share within the ring target (ring.answer_after_rings).",
        unit: Unit::Ratio,
        value: |f| f.system_answered_within_rings,
    },
    Column {
        name: "agent_answered_within_rings",
        title: "agent answered within the ring target",
        prometheus: Some(("hotline_agent_answered_within_rings_ratio", Kind::Gauge)),
        help: "Of answered calls, the share an agent answered within the ring target (ring.answer_after_rings).",
        unit: Unit::Ratio,
        value: |f| f.agent_answered_within_rings,
    },
    Column {
        name: "calls_per_hour",
        title: "calls per hour",
        prometheus: None,
        help: "Offered calls per hour over the window.",
        unit: Unit::PerHour,
        value: |f| f.calls_per_hour,
    },
    Column {
        name: "blocked",
        title: "blocked",
        prometheus: Some(("hotline_calls_blocked_total", Kind::Counter)),
        help: "Calls refused for a full or closed queue, no capacity or the blacklist.",
        unit: Unit::Count,
        value: |f| count(f.blocked),
    },
    Column {
        name: "blacklisted_refused",
        title: "blacklisted",
        prometheus: Some(("hotline_calls_blacklisted_total", Kind::Counter)),
        help: "Calls the blacklist refused.",
        unit: Unit::Count,
        value: |f| count(f.blacklisted_refused),
    },
    Column {
        name: "busy",
        title: "busy",
        prometheus: Some(("hotline_calls_busy_total", Kind::Counter)),
        help: "Callers who met a busy signal: a full queue (486) or no media capacity (503).",
        unit: Unit::Count,
        value: |f| count(f.busy),
    },
    Column {
        name: "closed_refused",
        title: "closed",
        prometheus: Some(("hotline_calls_closed_refused_total", Kind::Counter)),
        help: "Calls refused because their queue was closed (no voicemail).",
        unit: Unit::Count,
        value: |f| count(f.closed_refused),
    },
    Column {
        name: "busy_rate",
        title: "busy rate",
        prometheus: Some(("hotline_busy_ratio", Kind::Gauge)),
        help: "Busy (full queue, no capacity) / calls that arrived; closed hours and the blacklist are apart.",
        unit: Unit::Ratio,
        value: |f| f.busy_rate,
    },
    Column {
        name: "overflowed",
        title: "overflowed",
        prometheus: Some(("hotline_calls_overflowed_total", Kind::Counter)),
        help: "Calls that overflowed to another queue.",
        unit: Unit::Count,
        value: |f| count(f.overflowed),
    },
    Column {
        name: "silent_line",
        title: "silent line",
        prometheus: Some(("hotline_calls_silent_line_total", Kind::Counter)),
        help: "Calls ended because the line stayed silent.",
        unit: Unit::Count,
        value: |f| count(f.silent_line),
    },
    Column {
        name: "dropped",
        title: "dropped",
        prometheus: Some(("hotline_calls_dropped_total", Kind::Counter)),
        help: "Answered calls whose line died (media_timeout: no RTP; session_expired: a far end gone) and the engine ended, not a BYE.",
        unit: Unit::Count,
        value: |f| count(f.dropped),
    },
    Column {
        name: "dropped_rate",
        title: "dropped rate",
        prometheus: Some(("hotline_dropped_ratio", Kind::Gauge)),
        help: "Dropped calls / answered calls.",
        unit: Unit::Ratio,
        value: |f| f.dropped_rate,
    },
    Column {
        name: "one_way_audio",
        title: "one-way audio",
        prometheus: Some(("hotline_calls_one_way_audio_total", Kind::Counter)),
        help: "Answered calls in which one side sent no RTP for half the media timeout while the other did.",
        unit: Unit::Count,
        value: |f| count(f.one_way_audio),
    },
    Column {
        name: "within_limit",
        title: "within limit",
        prometheus: Some(("hotline_within_limit_ratio", Kind::Gauge)),
        help: "Completed calls within their handle-time limit / completed calls.",
        unit: Unit::Ratio,
        value: |f| f.within_limit,
    },
    Column {
        name: "avg_time_to_abandon_ms",
        title: "average time to abandon",
        prometheus: Some(("hotline_average_time_to_abandon_seconds", Kind::Gauge)),
        help: "Mean wait of abandoned calls.",
        unit: Unit::Millis,
        value: |f| f.avg_time_to_abandon_ms,
    },
    Column {
        name: "voicemail",
        title: "voicemail",
        prometheus: Some(("hotline_calls_voicemail_total", Kind::Counter)),
        help: "Callers who left a voicemail.",
        unit: Unit::Count,
        value: |f| count(f.voicemail),
    },
    Column {
        name: "callbacks_requested",
        title: "callbacks requested",
        prometheus: Some(("hotline_callbacks_requested_total", Kind::Counter)),
        help: "Callers who asked to be called back.",
        unit: Unit::Count,
        value: |f| count(f.callbacks_requested),
    },
    Column {
        name: "callbacks_done",
        title: "callbacks done",
        prometheus: Some(("hotline_callbacks_done_total", Kind::Counter)),
        help: "Callbacks in which agent and caller talked.",
        unit: Unit::Count,
        value: |f| count(f.callbacks_done),
    },
    Column {
        name: "callbacks_expired",
        title: "callbacks expired",
        prometheus: Some(("hotline_callbacks_expired_total", Kind::Counter)),
        help: "Callbacks given up (deadline or attempts).",
        unit: Unit::Count,
        value: |f| count(f.callbacks_expired),
    },
    Column {
        name: "callbacks_overdue",
        title: "callbacks overdue",
        prometheus: Some(("hotline_callbacks_overdue", Kind::Gauge)),
        help: "Callbacks waiting past their deadline (kpis.callback_overdue_s, default callback.deadline_h).",
        unit: Unit::Count,
        value: |f| count(f.callbacks_overdue),
    },
    Column {
        name: "service_level_20s",
        title: "service level 20 s",
        prometheus: Some(("hotline_service_level_20s_ratio", Kind::Gauge)),
        help: "Answered within 20 s / (answered + abandoned after the short threshold).",
        unit: Unit::Ratio,
        value: |f| f.service_level_20s,
    },
    Column {
        name: "queued",
        title: "queued",
        prometheus: Some(("hotline_calls_queued_total", Kind::Counter)),
        help: "Offered calls put in a queue.",
        unit: Unit::Count,
        value: |f| count(f.queued),
    },
    Column {
        name: "placed_in_queue",
        title: "had to wait",
        prometheus: Some(("hotline_calls_placed_in_queue_total", Kind::Counter)),
        help: "Queued calls no agent was offered within kpis.queue_placement_s.",
        unit: Unit::Count,
        value: |f| count(f.placed_in_queue),
    },
    Column {
        name: "queue_placement_rate",
        title: "queue placement rate",
        prometheus: Some(("hotline_queue_placement_ratio", Kind::Gauge)),
        help: "Calls that had to wait in a queue / offered.",
        unit: Unit::Ratio,
        value: |f| f.queue_placement_rate,
    },
    Column {
        name: "avg_queue_ms",
        title: "average queue time",
        prometheus: Some(("hotline_average_queue_time_seconds", Kind::Gauge)),
        help: "Mean time in the queue of every queued call whose wait ended (answered or not).",
        unit: Unit::Millis,
        value: |f| f.avg_queue_ms,
    },
    Column {
        name: "avg_call_ms",
        title: "average call duration",
        prometheus: Some(("hotline_average_call_duration_seconds", Kind::Gauge)),
        help: "Mean talk + hold of completed calls.",
        unit: Unit::Millis,
        value: |f| f.avg_call_ms,
    },
    Column {
        name: "avg_hold_ms",
        title: "average hold",
        prometheus: Some(("hotline_average_hold_seconds", Kind::Gauge)),
        help: "Mean time on hold of completed calls.",
        unit: Unit::Millis,
        value: |f| f.avg_hold_ms,
    },
    Column {
        name: "aht_ms",
        title: "AHT",
        prometheus: Some(("hotline_average_handle_time_seconds", Kind::Gauge)),
        help: "Average handle time of completed calls (talk + hold + wrap-up).",
        unit: Unit::Millis,
        value: |f| f.aht_ms,
    },
    Column {
        name: "transferred",
        title: "transferred",
        prometheus: Some(("hotline_calls_transferred_total", Kind::Counter)),
        help: "Answered calls an agent transferred to another queue.",
        unit: Unit::Count,
        value: |f| count(f.transferred),
    },
    Column {
        name: "transfer_rate",
        title: "transfer rate",
        prometheus: Some(("hotline_transfer_ratio", Kind::Gauge)),
        help: "Transferred calls / answered calls.",
        unit: Unit::Ratio,
        value: |f| f.transfer_rate,
    },
    Column {
        name: "callbacks_due",
        title: "callbacks due",
        prometheus: Some(("hotline_callbacks_due", Kind::Gauge)),
        help: "Callbacks waiting for an agent.",
        unit: Unit::Count,
        value: |f| count(f.callbacks_due),
    },
    Column {
        name: "system_answered",
        title: "engine answered",
        prometheus: Some(("hotline_calls_system_answered_total", Kind::Counter)),
        help: "Calls the engine answered itself at the ring target.",
        unit: Unit::Count,
        value: |f| count(f.system_answered),
    },
    Column {
        name: "failed",
        title: "failed",
        prometheus: Some(("hotline_calls_failed_total", Kind::Counter)),
        help: "Calls that ended for a technical reason before an agent answered.",
        unit: Unit::Count,
        value: |f| count(f.failed),
    },
    Column {
        name: "waiting_now",
        title: "waiting now",
        prometheus: Some(("hotline_calls_waiting", Kind::Gauge)),
        help: "Calls waiting for an agent now.",
        unit: Unit::Count,
        value: |f| count(f.waiting_now),
    },
    Column {
        name: "talking_now",
        title: "talking now",
        prometheus: Some(("hotline_calls_talking", Kind::Gauge)),
        help: "Calls with an agent now.",
        unit: Unit::Count,
        value: |f| count(f.talking_now),
    },
    Column {
        name: "longest_current_wait_ms",
        title: "longest wait now",
        prometheus: Some(("hotline_longest_wait_seconds", Kind::Gauge)),
        help: "Longest wait of the calls waiting now.",
        unit: Unit::Millis,
        value: |f| Some(f.longest_current_wait_ms as f64),
    },
    Column {
        name: "occupancy",
        title: "occupancy",
        prometheus: Some(("hotline_occupancy_ratio", Kind::Gauge)),
        help: "Center: (talk + hold + wrap-up) / (staffed - paused) of all agents.",
        unit: Unit::Ratio,
        value: |f| f.occupancy,
    },
    Column {
        name: "calls_per_agent_hour",
        title: "calls per agent hour",
        prometheus: Some(("hotline_calls_per_agent_hour", Kind::Gauge)),
        help: "Center: calls answered per staffed agent hour.",
        unit: Unit::PerHour,
        value: |f| f.calls_per_agent_hour,
    },
    Column {
        name: "cost_per_call",
        title: "cost per call",
        prometheus: Some(("hotline_cost_per_call", Kind::Gauge)),
        help: "Center: (trunk minutes x trunk cost + staffed hours x agent cost) / answered calls (kpis.trunk_cost_per_minute, kpis.agent_cost_per_hour).",
        unit: Unit::Money,
        value: |f| f.cost_per_call,
    },
    Column {
        name: "agent_turnover",
        title: "agent turnover",
        prometheus: Some(("hotline_agent_turnover_ratio", Kind::Gauge)),
        help: "Center: agents who left in the period / mean agents employed (users' start and end dates).",
        unit: Unit::Ratio,
        value: |f| f.agent_turnover,
    },
    Column {
        name: "qa_score",
        title: "QA score",
        prometheus: Some(("hotline_qa_score", Kind::Gauge)),
        help: "Mean quality score (0-100) of the scored calls of the period.",
        unit: Unit::Score,
        value: |f| f.qa_score,
    },
];

/// The columns the wallboard shows, in order (its tiles and its queue table).
pub const WALLBOARD: &[&str] = &[
    "waiting_now",
    "longest_current_wait_ms",
    "talking_now",
    "offered",
    "answered",
    "abandoned",
    "asa_ms",
    "service_level",
    "abandon_rate",
    "dropped",
    "dropped_rate",
    "occupancy",
];

/// The column named `name` (its JSON field).
pub fn column(name: &str) -> Option<&'static Column<Figures>> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// Every figure of an agent, in the order of the CSV table.
pub const AGENT_COLUMNS: &[Column<AgentFigures>] = &[
    Column {
        name: "answered",
        title: "answered",
        prometheus: Some(("hotline_agent_answered_total", Kind::Counter)),
        help: "Calls an agent answered.",
        unit: Unit::Count,
        value: |f| count(f.answered),
    },
    Column {
        name: "missed",
        title: "missed",
        prometheus: Some(("hotline_agent_missed_total", Kind::Counter)),
        help: "Offers an agent let ring out or refused.",
        unit: Unit::Count,
        value: |f| count(f.missed),
    },
    Column {
        name: "talk_ms",
        title: "talk",
        prometheus: Some(("hotline_agent_talk_seconds_total", Kind::Counter)),
        help: "Time an agent talked to callers (hold not included).",
        unit: Unit::Millis,
        value: |f| Some(f.talk_ms as f64),
    },
    Column {
        name: "hold_ms",
        title: "hold",
        prometheus: Some(("hotline_agent_hold_seconds_total", Kind::Counter)),
        help: "Time an agent held callers.",
        unit: Unit::Millis,
        value: |f| Some(f.hold_ms as f64),
    },
    Column {
        name: "wrap_ms",
        title: "wrap-up",
        prometheus: Some(("hotline_agent_wrap_seconds_total", Kind::Counter)),
        help: "An agent's after-call work.",
        unit: Unit::Millis,
        value: |f| Some(f.wrap_ms as f64),
    },
    Column {
        name: "avg_talk_ms",
        title: "average talk",
        prometheus: None,
        help: "Mean talk per call (hold not included).",
        unit: Unit::Millis,
        value: |f| f.avg_talk_ms,
    },
    Column {
        name: "avg_call_ms",
        title: "average call duration",
        prometheus: None,
        help: "Mean talk + hold per call.",
        unit: Unit::Millis,
        value: |f| f.avg_call_ms,
    },
    Column {
        name: "calls_per_hour",
        title: "calls per hour",
        prometheus: Some(("hotline_agent_calls_per_hour", Kind::Gauge)),
        help: "Calls an agent answered per staffed hour.",
        unit: Unit::PerHour,
        value: |f| f.calls_per_hour,
    },
    Column {
        name: "qa_score",
        title: "QA score",
        prometheus: Some(("hotline_agent_qa_score", Kind::Gauge)),
        help: "Mean quality score (0-100) of an agent's scored calls.",
        unit: Unit::Score,
        value: |f| f.qa_score,
    },
    Column {
        name: "rang_out",
        title: "rang out",
        prometheus: None,
        help: "Offers that rang out unanswered.",
        unit: Unit::Count,
        value: |f| count(f.rang_out),
    },
    Column {
        name: "refused",
        title: "refused",
        prometheus: None,
        help: "Offers the phone refused (busy, declined).",
        unit: Unit::Count,
        value: |f| count(f.refused),
    },
    Column {
        name: "limit_exceeded",
        title: "over the limit",
        prometheus: Some(("hotline_agent_limit_exceeded_total", Kind::Counter)),
        help: "Calls an agent took past their handle-time limit.",
        unit: Unit::Count,
        value: |f| count(f.limit_exceeded),
    },
    Column {
        name: "within_limit",
        title: "within limit",
        prometheus: None,
        help: "An agent's completed calls within their limit / completed calls.",
        unit: Unit::Ratio,
        value: |f| f.within_limit,
    },
    Column {
        name: "staffed_ms",
        title: "staffed",
        prometheus: Some(("hotline_agent_staffed_seconds_total", Kind::Counter)),
        help: "Time an agent had a registered phone and was logged in.",
        unit: Unit::Span,
        value: |f| Some(f.staffed_ms as f64),
    },
    Column {
        name: "paused_ms",
        title: "paused",
        prometheus: None,
        help: "Of the staffed time, time paused.",
        unit: Unit::Span,
        value: |f| Some(f.paused_ms as f64),
    },
    Column {
        name: "occupancy",
        title: "occupancy",
        prometheus: Some(("hotline_agent_occupancy_ratio", Kind::Gauge)),
        help: "(Talk + hold + wrap-up) / (staffed - paused time) of an agent.",
        unit: Unit::Ratio,
        value: |f| f.occupancy,
    },
    Column {
        name: "utilisation",
        title: "utilisation",
        prometheus: None,
        help: "(Talk + hold + wrap-up) / staffed time of an agent.",
        unit: Unit::Ratio,
        value: |f| f.utilisation,
    },
    Column {
        name: "attendance",
        title: "attendance",
        prometheus: None,
        help: "Staffed time / the length of the window.",
        unit: Unit::Ratio,
        value: |f| f.attendance,
    },
    Column {
        name: "transferred",
        title: "transferred",
        prometheus: None,
        help: "Calls the agent transferred to another queue.",
        unit: Unit::Count,
        value: |f| count(f.transferred),
    },
    Column {
        name: "unreachable",
        title: "unreachable",
        prometheus: None,
        help: "Offers that could not reach the phone (not a miss).",
        unit: Unit::Count,
        value: |f| count(f.unreachable),
    },
];

/// Fields of [`Figures`] that are not one number and so no column:
/// distributions and per-type breakdowns, rendered as tables of their own.
pub const NOT_COLUMNS: &[&str] = &[
    "rings_distribution",
    "wait_histogram",
    "handle_histogram",
    "by_type",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_a_column_and_every_column_a_figure() {
        let json = serde_json::to_value(Figures::default()).expect("json");
        let fields = json.as_object().expect("an object");
        for name in fields.keys() {
            assert!(
                column(name).is_some() || NOT_COLUMNS.contains(&name.as_str()),
                "figure {name} is in no column: add it to COLUMNS"
            );
        }
        for c in COLUMNS {
            assert!(
                fields.contains_key(c.name),
                "column {} is no figure",
                c.name
            );
            assert!(!c.help.is_empty() && !c.title.is_empty(), "{}", c.name);
        }
        let mut names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len(), "a column is listed twice");
        let mut families: Vec<&str> = COLUMNS
            .iter()
            .filter_map(|c| c.prometheus.map(|p| p.0))
            .collect();
        families.sort_unstable();
        families.dedup();
        assert_eq!(
            families.len(),
            COLUMNS.iter().filter(|c| c.prometheus.is_some()).count(),
            "a Prometheus family is used twice"
        );
        for (family, kind) in COLUMNS.iter().filter_map(|c| c.prometheus) {
            assert_eq!(
                family.ends_with("_total"),
                kind == Kind::Counter,
                "{family}: counters end in _total, gauges do not"
            );
        }
    }

    #[test]
    fn every_agent_figure_is_a_column() {
        let json = serde_json::to_value(AgentFigures::default()).expect("json");
        let fields = json.as_object().expect("an object");
        for name in fields.keys() {
            assert!(
                AGENT_COLUMNS.iter().any(|c| c.name == name),
                "agent figure {name} is in no column: add it to AGENT_COLUMNS"
            );
        }
        assert_eq!(
            fields.len(),
            AGENT_COLUMNS.len(),
            "a column is no figure or listed twice"
        );
        let mut f: AgentFigures = serde_json::from_value(serde_json::Value::Object(
            AGENT_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.to_string(), serde_json::json!(i + 1)))
                .collect(),
        ))
        .expect("agent figures");
        for (i, c) in AGENT_COLUMNS.iter().enumerate() {
            assert_eq!((c.value)(&f), Some(i as f64 + 1.0), "{}", c.name);
        }
        f.occupancy = None;
        assert_eq!(
            AGENT_COLUMNS
                .iter()
                .find(|c| c.name == "occupancy")
                .and_then(|c| c.exported(&f)),
            None
        );
    }

    #[test]
    fn every_column_reads_its_own_figure() {
        // give each numeric field a distinct value through JSON and read it back
        let mut json = serde_json::to_value(Figures::default()).expect("json");
        let obj = json.as_object_mut().expect("object");
        for (i, c) in COLUMNS.iter().enumerate() {
            obj.insert(c.name.to_string(), serde_json::json!(i as u64 + 1));
        }
        let f: Figures = serde_json::from_value(json).expect("figures");
        for (i, c) in COLUMNS.iter().enumerate() {
            assert_eq!((c.value)(&f), Some(i as f64 + 1.0), "{}", c.name);
        }
    }

    #[test]
    fn the_wallboard_shows_columns() {
        for name in WALLBOARD {
            assert!(column(name).is_some(), "{name}");
        }
    }

    #[test]
    fn csv_names_carry_seconds_and_the_ring_target() {
        let name = |n: &str, rings| column(n).map(|c| c.csv_name(rings));
        assert_eq!(name("asa_ms", 3).as_deref(), Some("asa_s"));
        assert_eq!(
            name("agent_answered_within_rings", 2).as_deref(),
            Some("agent_answered_within_2_rings")
        );
        assert_eq!(name("offered", 3).as_deref(), Some("offered"));
    }
}
