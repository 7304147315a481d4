//! The duty floor's tables on both databases (included by store.rs).

use hotline_core::AgentId;
use hotline_duty::handover::HandoverItem;
use hotline_duty::{ChangeOp, RosterChange};
use hotline_store::{NewHandover, Store};

pub async fn duty_suite(store: &Store, hostile: &[&str]) {
    // --- roster changes: one, then a batch; read back in order, by date
    let change = |date: &str, agent: &str, shift: &str, op: ChangeOp, note: &str| RosterChange {
        date: hotline_core::calendar::parse_date(date).unwrap(),
        agent: AgentId::new(agent),
        shift: shift.into(),
        op,
        note: note.into(),
    };
    let id = store
        .add_roster_change(
            &change("2026-12-07", "1001", "day", ChangeOp::Remove, "leave"),
            "lead",
            10,
        )
        .await
        .unwrap();
    assert!(id > 0);
    let batch: Vec<RosterChange> = hostile
        .iter()
        .map(|h| change("2026-12-08", "1002", "13:00-20:00", ChangeOp::Add, h))
        .collect();
    assert_eq!(
        store
            .add_roster_changes(&batch, "csv:lead", 20)
            .await
            .unwrap(),
        hostile.len()
    );
    let all = store.roster_changes(None).await.unwrap();
    assert_eq!(all.len(), 1 + hostile.len());
    assert_eq!(all[0].change.op, ChangeOp::Remove);
    assert_eq!(all[0].made_by, "lead");
    let notes: Vec<&str> = all[1..].iter().map(|c| c.change.note.as_str()).collect();
    assert_eq!(notes, hostile);
    let later = store.roster_changes(Some("2026-12-08")).await.unwrap();
    assert_eq!(later.len(), hostile.len());
    assert!(store
        .roster_changes(Some("2027-01-01"))
        .await
        .unwrap()
        .is_empty());

    // --- handovers: write, rewrite, acknowledge once, then no rewrite
    let h = NewHandover {
        shift: "day".into(),
        date: "2026-12-07".into(),
        start_ms: 1_000,
        end_ms: 26_201_000,
        written_by: "1001".into(),
        text: hostile.join("\n"),
        items: vec![HandoverItem {
            kind: "case".into(),
            id: 7,
            text: "case #7 (major) of 139...".into(),
        }],
        written_ms: 26_000_000,
    };
    let id = store.write_handover(&h).await.unwrap().unwrap();
    let mut h2 = h.clone();
    h2.text = "rewritten".into();
    assert_eq!(store.write_handover(&h2).await.unwrap(), Some(id));
    let got = store.handover(id).await.unwrap().unwrap();
    assert_eq!(got.new.text, "rewritten");
    assert_eq!(got.new.items, h.items);
    assert_eq!(got.acknowledged_by, None);
    assert_eq!(
        store
            .acknowledge_handover(id, "1002", 26_300_000)
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        store
            .acknowledge_handover(id, "1003", 26_400_000)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(
        store
            .acknowledge_handover(id + 1000, "1003", 1)
            .await
            .unwrap(),
        None
    );
    let got = store
        .handover_of("day", "2026-12-07")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.acknowledged_by.as_deref(), Some("1002"));
    assert_eq!(got.acknowledged_ms, Some(26_300_000));
    // acknowledged: kept as it was
    assert_eq!(store.write_handover(&h).await.unwrap(), None);
    assert_eq!(
        store.handover(id).await.unwrap().unwrap().new.text,
        "rewritten"
    );
    // listing by the shift's end
    let mut night = h.clone();
    night.shift = "night".into();
    night.end_ms = 50_000_000;
    store.write_handover(&night).await.unwrap().unwrap();
    assert_eq!(store.handovers(0, i64::MAX).await.unwrap().len(), 2);
    let only = store.handovers(30_000_000, i64::MAX).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].new.shift, "night");
    assert!(store
        .handover_of("night", "2026-12-08")
        .await
        .unwrap()
        .is_none());

    // --- the missing-handover alarm is raised once
    assert!(store
        .mark_handover_missing("late", "2026-12-07", 5)
        .await
        .unwrap());
    assert!(!store
        .mark_handover_missing("late", "2026-12-07", 6)
        .await
        .unwrap());
    assert!(store
        .mark_handover_missing("late", "2026-12-08", 6)
        .await
        .unwrap());
}
