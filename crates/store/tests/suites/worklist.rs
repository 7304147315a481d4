//! Work lists and campaigns on both databases (included by store.rs).

use hotline_core::{AgentId, QueueId};
use hotline_store::{ItemFilter, Store};
use hotline_worklist::{
    ItemKind, ItemOutcome, NewItem, Owner, VisitOutcome, VisitRecord, WorkItem, DEFAULT_DEADLINE_MS,
};

fn new_item(kind: ItemKind, number: &str, owner: Owner, at: i64) -> NewItem {
    NewItem {
        kind,
        number: number.into(),
        name: String::new(),
        card: String::new(),
        notes: String::new(),
        owner,
        campaign: None,
        call_id: Some("c1".into()),
        created_ms: at,
        deadline_ms: at + DEFAULT_DEADLINE_MS,
        preferred: String::new(),
        created_by: "event".into(),
    }
}

pub async fn worklist_suite(store: &Store, hostile: &[&str]) {
    let general = Owner::Queue(QueueId::new("general"));
    // --- items from events: insert, merge, attempt, close once
    let id = store
        .insert_work_item(&new_item(
            ItemKind::Missed,
            "0612345678",
            general.clone(),
            1_000,
        ))
        .await
        .unwrap();
    store.work_item_merged(id).await.unwrap();
    store.work_item_attempt(id, "o1").await.unwrap();
    let got = store.work_item(id).await.unwrap().unwrap();
    assert_eq!(
        (got.calls, got.attempts, got.last_call.as_deref()),
        (2, 1, Some("o1"))
    );
    assert_eq!(got.new.owner, general);
    assert_eq!(got.new.deadline_ms, 1_000 + DEFAULT_DEADLINE_MS);
    assert!(got.is_open() && !got.alarmed);
    store.work_item_alarmed(id).await.unwrap();
    let mut closed = got.clone();
    closed.outcome = Some(ItemOutcome::Returned);
    closed.closed_ms = Some(5_000);
    closed.closed_by = Some("1001".into());
    assert!(store.close_work_item(&closed).await.unwrap());
    // a second close (another node, a double click) changes nothing
    let mut again = closed.clone();
    again.closed_by = Some("1002".into());
    assert!(!store.close_work_item(&again).await.unwrap());
    let got = store.work_item(id).await.unwrap().unwrap();
    assert_eq!(got.outcome, Some(ItemOutcome::Returned));
    assert_eq!(
        (got.closed_ms, got.closed_by.as_deref(), got.alarmed),
        (Some(5_000), Some("1001"), true)
    );
    assert_eq!(store.work_item(id + 1000).await.unwrap(), None);

    // hostile text round-trips as data
    let mut promise = new_item(
        ItemKind::Promise,
        "0699",
        Owner::Agent(AgentId::new("1001")),
        2_000,
    );
    promise.name = hostile.join("|");
    promise.notes = hostile.concat();
    let pid = store.insert_work_item(&promise).await.unwrap();
    assert_eq!(store.work_item(pid).await.unwrap().unwrap().new, promise);

    let open = store
        .work_items(&ItemFilter {
            open: Some(true),
            ..ItemFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(open.iter().map(|i| i.id).collect::<Vec<_>>(), vec![pid]);
    let closed = store
        .work_items(&ItemFilter {
            open: Some(false),
            ..ItemFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    let window = store
        .work_items(&ItemFilter {
            from_ms: Some(1_500),
            to_ms: Some(3_000),
            limit: 5,
            ..ItemFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 1);
    // a customer's items (the profile), hostile numbers as data
    let of = |n: &str| ItemFilter {
        number: Some(n.to_string()),
        ..ItemFilter::default()
    };
    let mine = store.work_items(&of("0612345678")).await.unwrap();
    assert_eq!(mine.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(store.work_items(&of("0699")).await.unwrap().len(), 1);
    for h in hostile {
        assert!(store.work_items(&of(h)).await.unwrap().is_empty(), "{h}");
    }

    // --- campaigns: unique names, re-import skips members already in
    let c = store
        .create_campaign("2026-12 members", Some("general"), "year end", "sup", 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .create_campaign("2026-12 members", None, "", "sup", 11)
            .await
            .unwrap(),
        None
    );
    let camp = store.campaign(c).await.unwrap().unwrap();
    assert_eq!(
        (
            camp.name.as_str(),
            camp.queue.as_deref(),
            camp.created_by.as_str()
        ),
        ("2026-12 members", Some("general"), "sup")
    );
    assert_eq!(store.campaigns().await.unwrap().len(), 1);
    assert_eq!(store.campaign(c + 99).await.unwrap(), None);
    let visit = |number: &str, card: &str| NewItem {
        kind: ItemKind::ReturnVisit,
        card: card.into(),
        campaign: Some(c),
        call_id: None,
        preferred: "after 13:10".into(),
        created_by: "import:sup".into(),
        ..new_item(
            ItemKind::ReturnVisit,
            number,
            Owner::Agent(AgentId::new("1001")),
            20,
        )
    };
    let first = store
        .insert_campaign_items(&[visit("0611", "M1"), visit("0612", "M2")])
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let second = store
        .insert_campaign_items(&[visit("0611", "M1"), visit("0613", "M3")])
        .await
        .unwrap();
    assert_eq!(
        second
            .iter()
            .map(|i| i.new.number.as_str())
            .collect::<Vec<_>>(),
        vec!["0613"]
    );
    let keys = store.campaign_keys(c).await.unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.contains(&("0612".to_string(), "M2".to_string())));
    let items = store
        .work_items(&ItemFilter {
            campaign: Some(c),
            ..ItemFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(items.len(), 3);

    // --- visits: not reached keeps the item open, reached closes it, once
    let item: WorkItem = first[0].clone();
    let rec = |outcome: VisitOutcome, at: i64, sat: Option<u8>| VisitRecord {
        item_id: item.id,
        campaign: Some(c),
        agent: AgentId::new("1001"),
        at_ms: at,
        outcome,
        opinions: if outcome == VisitOutcome::Reached {
            "服务很好; '; DROP TABLE visits; --".into()
        } else {
            String::new()
        },
        satisfaction: sat,
        duration_ms: 90_000,
        call_id: Some("o9".into()),
        card: item.new.card.clone(),
        name: item.new.name.clone(),
        number: item.new.number.clone(),
    };
    assert!(store
        .record_visit(&rec(VisitOutcome::NotReached, 100, None), false, None)
        .await
        .unwrap());
    let mut done = item.clone();
    done.outcome = Some(ItemOutcome::Reached);
    done.closed_ms = Some(200);
    done.closed_by = Some("1001".into());
    assert!(store
        .record_visit(&rec(VisitOutcome::Reached, 200, Some(5)), true, Some(&done))
        .await
        .unwrap());
    // the same item again: refused, nothing written
    assert!(!store
        .record_visit(&rec(VisitOutcome::Reached, 300, Some(4)), true, Some(&done))
        .await
        .unwrap());
    let got = store.work_item(item.id).await.unwrap().unwrap();
    assert_eq!((got.outcome, got.attempts), (Some(ItemOutcome::Reached), 2));
    let visits = store.visits_between(0, 1_000).await.unwrap();
    assert_eq!(visits.len(), 2);
    assert_eq!(visits[1], rec(VisitOutcome::Reached, 200, Some(5)));
    assert_eq!(store.visits_between(150, 1_000).await.unwrap().len(), 1);
    assert_eq!(store.campaign_visits(c).await.unwrap().len(), 2);
}
