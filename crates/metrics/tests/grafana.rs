#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every metric the shipped Grafana dashboard (config/grafana/hotline.json)
//! queries exists in the Prometheus text that `/metrics` serves
//! (`hotline_metrics::prometheus::render`), with the labels the queries
//! select on, for a scripted day with queues, agents and call types.

use hotline_core::{AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Party, QueueId};
use hotline_metrics::kpi::{KpiConfig, Metrics};
use std::collections::{BTreeMap, BTreeSet};

fn ev(
    at: i64,
    call: Option<&str>,
    agent: Option<&str>,
    queue: Option<&str>,
    kind: EventKind,
) -> CallEvent {
    CallEvent {
        at_ms: at,
        call_id: call.map(CallId::from_stored),
        agent: agent.map(|a| AgentId::new(a.to_string())),
        queue: queue.map(|q| QueueId::new(q.to_string())),
        kind,
    }
}

/// Two queues, two agents, an answered, an abandoned and a missed call.
fn scripted_day() -> String {
    let mut m = Metrics::new(KpiConfig {
        limits_ms: BTreeMap::from([
            ("inquiry".to_string(), 180_000),
            ("order".to_string(), 60_000),
        ]),
        ..KpiConfig::default()
    });
    let reg = EventKind::AgentRegistered {
        contact: "sip:1001@10.0.0.5".into(),
        expires_s: 3_600,
    };
    m.apply(&ev(0, None, Some("1001"), None, reg.clone()));
    m.apply(&ev(0, None, Some("1002"), None, reg));
    for (call, queue) in [("a", "sales"), ("b", "support")] {
        let arrived = EventKind::Arrived {
            caller: Party {
                number: "0611".into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::Inquiry,
        };
        m.apply(&ev(1_000, Some(call), None, Some(queue), arrived));
        m.apply(&ev(
            1_000,
            Some(call),
            None,
            Some(queue),
            EventKind::Queued { position: 1 },
        ));
    }
    m.apply(&ev(
        2_000,
        Some("a"),
        Some("1002"),
        Some("sales"),
        EventKind::AgentRingNoAnswer { rang_ms: 1_000 },
    ));
    m.apply(&ev(
        5_000,
        Some("a"),
        Some("1001"),
        Some("sales"),
        EventKind::AgentAnswered {
            wait_ms: 4_000,
            rings: 1,
            limit_ms: Some(180_000),
        },
    ));
    m.apply(&ev(
        65_000,
        Some("a"),
        Some("1001"),
        Some("sales"),
        EventKind::Completed {
            ended_by: EndedBy::Caller,
            talk_ms: 60_000,
        },
    ));
    m.apply(&ev(
        30_000,
        Some("b"),
        None,
        Some("support"),
        EventKind::Abandoned {
            wait_ms: 29_000,
            position: 1,
        },
    ));
    let mut snap = m.snapshot(100_000);
    // what the API fills in from the store (quality scores, employment)
    snap.center.qa_score = Some(80.0);
    snap.center.agent_turnover = Some(0.0);
    for f in snap.agents.values_mut() {
        f.qa_score = Some(80.0);
    }
    hotline_metrics::prometheus::render(&snap)
}

/// Every `hotline_*` name in a PromQL expression with the labels its
/// selector names.
fn selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("hotline_") {
        let start = i + at;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let name = expr[start..end].to_string();
        let mut labels = BTreeSet::new();
        if b.get(end) == Some(&b'{') {
            let close = expr[end..].find('}').map(|c| end + c).unwrap_or(b.len());
            for part in expr[end + 1..close].split(',') {
                let key: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !key.is_empty() && key != "le" {
                    labels.insert(key);
                }
            }
            end = close;
        }
        out.push((name, labels));
        i = end;
    }
    out
}

#[test]
fn every_metric_the_dashboard_queries_is_on_metrics() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/grafana/hotline.json"
    );
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let text = scripted_day();
    let families: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut checked = 0;
    for expr in &exprs {
        for (name, labels) in selectors(expr) {
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(f)))
                .unwrap_or(&name);
            assert!(
                families.contains(family),
                "the dashboard queries {name}, which /metrics does not serve (in `{expr}`)"
            );
            // a sample of it carries every label the query selects on
            let sample = text.lines().filter(|l| !l.starts_with('#')).find(|l| {
                (l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
                    && labels.iter().all(|k| l.contains(&format!("{k}=\"")))
            });
            assert!(
                sample.is_some(),
                "no sample of {name} with labels {labels:?} on /metrics (in `{expr}`)"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} selectors checked");
}

#[test]
fn the_selector_parser_finds_names_and_labels() {
    let s = selectors(
        r#"sum by (queue) (increase(hotline_wait_seconds_bucket{queue=~"$queue",le="20"}[15m])) / hotline_calls_offered_total"#,
    );
    assert_eq!(
        s,
        [
            (
                "hotline_wait_seconds_bucket".to_string(),
                BTreeSet::from(["queue".to_string()])
            ),
            ("hotline_calls_offered_total".to_string(), BTreeSet::new()),
        ]
    );
}
