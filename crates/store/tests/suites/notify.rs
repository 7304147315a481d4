//! Notification deliveries and line-test results on both databases
//! (included by store.rs).

use hotline_core::{CallEvent, EventKind};
use hotline_store::{Delivery, Store};

fn delivery(at: i64, attempt: u32, outcome: &str, error: Option<&str>) -> Delivery {
    Delivery {
        at_ms: at,
        channel: "webhook".into(),
        target: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send".into(),
        event_id: "1000:line_test_failed".into(),
        event_kind: "line_test_failed".into(),
        attempt,
        outcome: outcome.into(),
        error: error.map(str::to_string),
    }
}

pub async fn notify_suite(store: &Store, hostile: &[&str]) {
    let a = delivery(2_000, 1, "retry", Some("webhook: HTTP 500: busy"));
    let b = delivery(3_000, 2, "delivered", None);
    store.record_delivery(&a).await.unwrap();
    store.record_delivery(&b).await.unwrap();
    // hostile text is stored and read back as is
    for (i, h) in hostile.iter().enumerate() {
        let mut d = delivery(1_000 + i as i64, 1, "gave_up", Some(h));
        d.target = h.to_string();
        store.record_delivery(&d).await.unwrap();
    }
    let all = store.deliveries(0, 1000).await.unwrap();
    assert_eq!(all.len(), 2 + hostile.len());
    assert_eq!(all[0], b, "newest first");
    assert_eq!(all[1], a);
    let since = store.deliveries(2_500, 10).await.unwrap();
    assert_eq!(since, vec![b.clone()]);
    assert_eq!(store.deliveries(0, 1).await.unwrap().len(), 1);
    assert!(store.deliveries(0, -5).await.unwrap().is_empty());
    // what some node already sent (the daily report after a take-over)
    assert!(store
        .delivery_attempted("1000:line_test_failed", 3_000)
        .await
        .unwrap());
    assert!(!store
        .delivery_attempted("1000:line_test_failed", 3_001)
        .await
        .unwrap());
    assert!(!store
        .delivery_attempted("report:2026-12-06", 0)
        .await
        .unwrap());
    assert!(!store.delivery_attempted("' OR 1=1 --", 0).await.unwrap());
    for h in hostile {
        assert!(all
            .iter()
            .any(|d| d.error.as_deref() == Some(*h) && d.target == *h));
    }
    // line tests are events of the log, listed newest first, others left out
    let ev = |at: i64, kind: EventKind| CallEvent {
        at_ms: at,
        call_id: None,
        agent: None,
        queue: None,
        kind,
    };
    let events = vec![
        ev(
            10_000,
            EventKind::LineTestPassed {
                trigger: "scheduled".into(),
                slot: "08:30".into(),
                shift: Some("day".into()),
                detail: "audio: both ways".into(),
            },
        ),
        ev(
            11_000,
            EventKind::TrunkDown {
                trunk: "carrier".into(),
                reason: "x".into(),
            },
        ),
        ev(
            12_000,
            EventKind::LineTestFailed {
                trigger: "manual".into(),
                slot: String::new(),
                shift: None,
                reason: "trunk carrier down".into(),
                detail: "trunk carrier down".into(),
            },
        ),
        ev(
            13_000,
            EventKind::LineTestMissing {
                slot: "13:30".into(),
                due_ms: 9_000,
                shift: None,
            },
        ),
    ];
    for e in &events {
        store.append_event(e).await.unwrap();
    }
    let tests = store.line_tests(0, 100_000, 10).await.unwrap();
    let kinds: Vec<&str> = tests.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        ["line_test_missing", "line_test_failed", "line_test_passed"]
    );
    assert_eq!(tests[2], events[0]);
    assert_eq!(store.line_tests(11_000, 13_000, 10).await.unwrap().len(), 1);
    assert_eq!(
        store.line_tests(0, 100_000, 1).await.unwrap()[0].at_ms,
        13_000
    );
}
