//! The shipped Grafana dashboard against the running binary: every metric
//! family it queries is on the live `/metrics` (the label-level check on a
//! scripted day is `crates/metrics/tests/grafana.rs`).

use super::*;

#[test]
fn every_family_the_dashboard_queries_is_on_the_live_metrics() {
    let h = Hotline::start();
    let (status, text) = http(&h.http_addr(), "GET", "/metrics");
    assert_eq!(status, 200, "{text}");
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let dash = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/grafana/hotline.json"
    ))
    .expect("the dashboard");
    let mut names: Vec<String> = Vec::new();
    let mut rest = dash.as_str();
    while let Some(at) = rest.find("hotline_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names.sort();
    names.dedup();
    assert!(names.len() >= 25, "{names:?}");
    for name in &names {
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(f)))
            .unwrap_or(name);
        assert!(
            families.contains(&family),
            "the dashboard queries {name}; /metrics has no such family"
        );
    }
    // the regulations' figures are in /api/stats too (null until there are calls)
    let (_, stats) = http(&h.http_addr(), "GET", "/api/stats");
    let v: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    for key in [
        "qa_score",
        "agent_turnover",
        "avg_queue_ms",
        "queue_placement_rate",
        "service_level_20s",
        "occupancy",
        "cost_per_call",
        "busy",
    ] {
        assert!(
            v["since_start"]["center"].get(key).is_some(),
            "{key} in {v}"
        );
    }
}
