//! The KPIs in the Prometheus text exposition format (version 0.0.4).

use crate::columns::{AGENT_COLUMNS, COLUMNS};
use crate::kpi::Snapshot;
use std::fmt::Write as _;

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders a snapshot: each family once, the center's sample without labels
/// and one sample per queue with a `queue` label; per-agent counters last.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    for col in COLUMNS {
        let Some((name, kind)) = col.prometheus else {
            continue;
        };
        let _ = writeln!(out, "# HELP {name} {}", col.help);
        let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
        if let Some(v) = col.exported(&s.center) {
            let _ = writeln!(out, "{name} {v}");
        }
        for (q, f) in &s.queues {
            if let Some(v) = col.exported(f) {
                let _ = writeln!(out, "{name}{{queue=\"{}\"}} {v}", label(q));
            }
        }
    }
    histogram(
        &mut out,
        "hotline_wait_seconds",
        "Queue wait of the calls an agent answered.",
        &crate::kpi::WAIT_BUCKETS_S,
        s,
        |f| &f.wait_histogram,
    );
    histogram(
        &mut out,
        "hotline_handle_seconds",
        "Handle time (talk + hold + wrap-up) of completed calls.",
        &crate::kpi::HANDLE_BUCKETS_S,
        s,
        |f| &f.handle_histogram,
    );
    let name = "hotline_average_handle_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Average handle time of completed calls, per call type."
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (t, f) in &s.center.by_type {
        if let Some(v) = f.aht_ms {
            let _ = writeln!(out, "{name}{{type=\"{}\"}} {}", label(t), v / 1000.0);
        }
    }
    for (name, help, value) in [
        (
            "hotline_handle_limit_seconds",
            "The handle-time limit of a call type ([limits]).",
            (|f: &crate::kpi::TypeFigures| f.limit_ms.map(|ms| ms as f64 / 1000.0))
                as fn(&crate::kpi::TypeFigures) -> Option<f64>,
        ),
        (
            "hotline_type_within_limit_ratio",
            "Completed calls of a type within its handle-time limit / completed calls of the type.",
            |f| f.within_limit,
        ),
        (
            "hotline_type_calls_completed_total",
            "Completed calls of a type.",
            |f| Some(f.completed as f64),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (t, f) in &s.center.by_type {
            if let Some(v) = value(f) {
                let _ = writeln!(out, "{name}{{type=\"{}\"}} {v}", label(t));
            }
        }
    }
    for col in AGENT_COLUMNS {
        let Some((name, kind)) = col.prometheus else {
            continue;
        };
        let _ = writeln!(out, "# HELP {name} {}", col.help);
        let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
        for (a, f) in &s.agents {
            if let Some(v) = col.exported(f) {
                let _ = writeln!(out, "{name}{{agent=\"{}\"}} {v}", label(a));
            }
        }
    }
    out
}

/// One histogram family: the center without labels, then each queue; an
/// empty histogram is rendered as zeros so the series never disappear.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds_s: &[u32],
    s: &Snapshot,
    of: impl Fn(&crate::kpi::Figures) -> &crate::kpi::Histogram,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let scopes =
        std::iter::once((None, &s.center)).chain(s.queues.iter().map(|(q, f)| (Some(label(q)), f)));
    for (queue, f) in scopes {
        let h = of(f);
        let q = queue
            .as_ref()
            .map(|q| format!("queue=\"{q}\","))
            .unwrap_or_default();
        for (i, b) in bounds_s.iter().enumerate() {
            let n = h.cumulative.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{q}le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{q}le=\"+Inf\"}} {}", h.count);
        let plain = queue
            .map(|q| format!("{{queue=\"{q}\"}}"))
            .unwrap_or_default();
        let _ = writeln!(out, "{name}_sum{plain} {}", h.sum_s);
        let _ = writeln!(out, "{name}_count{plain} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::{AgentFigures, Figures};

    #[test]
    fn histograms_are_cumulative_per_scope_and_zero_when_empty() {
        let mut s = Snapshot::default();
        s.center.wait_histogram = crate::kpi::Histogram {
            bounds_s: crate::kpi::WAIT_BUCKETS_S.to_vec(),
            cumulative: vec![1, 1, 2, 3, 3, 3, 3, 3, 3],
            count: 4,
            sum_s: 700.5,
        };
        s.queues.insert("sales".into(), Figures::default());
        let text = render(&s);
        for line in [
            "# TYPE hotline_wait_seconds histogram",
            "hotline_wait_seconds_bucket{le=\"3\"} 1",
            "hotline_wait_seconds_bucket{le=\"10\"} 2",
            "hotline_wait_seconds_bucket{le=\"600\"} 3",
            "hotline_wait_seconds_bucket{le=\"+Inf\"} 4",
            "hotline_wait_seconds_sum 700.5",
            "hotline_wait_seconds_count 4",
            // a queue without answered calls: zeros, not missing series
            "hotline_wait_seconds_bucket{queue=\"sales\",le=\"3\"} 0",
            "hotline_wait_seconds_count{queue=\"sales\"} 0",
            "# TYPE hotline_handle_seconds histogram",
            "hotline_handle_seconds_bucket{le=\"+Inf\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
    }

    #[test]
    fn renders_families_with_labels_escaped() {
        let mut s = Snapshot::default();
        s.center.offered = 3;
        s.center.service_level = Some(0.5);
        s.queues.insert(
            "sa\"les".into(),
            Figures {
                offered: 2,
                ..Figures::default()
            },
        );
        s.agents.insert(
            "1001".into(),
            AgentFigures {
                answered: 4,
                missed: 1,
                staffed_ms: 7_200_500,
                occupancy: Some(0.25),
                ..AgentFigures::default()
            },
        );
        let text = render(&s);
        assert!(
            text.contains(
                "# TYPE hotline_calls_offered_total counter\nhotline_calls_offered_total 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("hotline_calls_offered_total{queue=\"sa\\\"les\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("hotline_service_level_ratio 0.5\n"));
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("hotline_average_speed_of_answer_seconds")),
            "absent ratios are not exported as 0"
        );
        assert!(text.contains("hotline_agent_missed_total{agent=\"1001\"} 1\n"));
        assert!(text.contains("hotline_calls_blocked_total 0\n"), "{text}");
        assert!(
            text.contains("hotline_agent_staffed_seconds_total{agent=\"1001\"} 7200.5\n"),
            "{text}"
        );
        assert!(
            text.contains("hotline_agent_occupancy_ratio{agent=\"1001\"} 0.25\n"),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("hotline_busy_ratio")),
            "no arrivals: no ratio"
        );
        let mut typed = Snapshot::default();
        typed.center.by_type.insert(
            "order".into(),
            crate::kpi::TypeFigures {
                aht_ms: Some(61_500.0),
                ..Default::default()
            },
        );
        typed.center.blocked = 2;
        typed.center.busy_rate = Some(0.25);
        let text = render(&typed);
        assert!(
            text.contains("hotline_average_handle_seconds{type=\"order\"} 61.5\n"),
            "{text}"
        );
        assert!(text.contains("hotline_calls_blocked_total 2\n"), "{text}");
        assert!(text.contains("hotline_busy_ratio 0.25\n"), "{text}");
        // every sample line is `name{labels} value` or `name value`
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let v = l.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn dropped_calls_are_a_counter_and_a_ratio_per_queue() {
        let mut s = Snapshot::default();
        s.center.answered = 4;
        s.center.dropped = 1;
        s.center.dropped_rate = Some(0.25);
        s.center.one_way_audio = 2;
        s.queues.insert(
            "sales".into(),
            Figures {
                answered: 1,
                dropped: 1,
                dropped_rate: Some(1.0),
                ..Figures::default()
            },
        );
        let text = render(&s);
        for line in [
            "# TYPE hotline_calls_dropped_total counter",
            "hotline_calls_dropped_total 1",
            "hotline_calls_dropped_total{queue=\"sales\"} 1",
            "# TYPE hotline_dropped_ratio gauge",
            "hotline_dropped_ratio 0.25",
            "hotline_dropped_ratio{queue=\"sales\"} 1",
            "# TYPE hotline_calls_one_way_audio_total counter",
            "hotline_calls_one_way_audio_total 2",
            "hotline_calls_one_way_audio_total{queue=\"sales\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert!(text.contains("# HELP hotline_calls_dropped_total Answered calls whose line died"));
    }
}
