//! The HA pair's leases on both databases (included by store.rs): two nodes
//! contend and one wins, expiry by the database's clock, the fencing counter
//! on a change of owner, a late renew lost to the other node, all or nothing,
//! release, hostile names, and events marked with their node.

use hotline_core::{CallEvent, CallId, CallType, EventKind, Party};
use hotline_store::{NodeBeat, Store};
use std::time::Duration;

fn beat(node: &str, active: bool) -> NodeBeat {
    NodeBeat {
        node_id: node.into(),
        active,
        sip: "127.0.0.1:5060".into(),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub async fn leases_suite(url: &str, store: &Store, hostile: &[&str]) {
    let other = Store::connect(url).await.unwrap();
    let (a, b) = (beat("node-a", false), beat("node-b", false));
    let qs = names(&["general", "vip"]);

    // the database's clock is a clock
    let db = store.db_now_ms().await.unwrap();
    let sys = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((db - sys).abs() < 60_000, "db {db} sys {sys}");

    // --- two nodes contend: one wins, the other sees who holds them
    let g = store.acquire_leases(&a, &qs, 60_000).await.unwrap();
    assert!(g.granted);
    assert_eq!(g.leases.len(), 2);
    for l in &g.leases {
        assert_eq!((l.owner.as_str(), l.fence, l.renewals), ("node-a", 1, 0));
        assert_eq!(l.previous_owner, None);
        assert!(
            l.expires_ms >= g.db_now_ms + 59_000,
            "{l:?} {}",
            g.db_now_ms
        );
    }
    let r = other.acquire_leases(&b, &qs, 60_000).await.unwrap();
    assert!(!r.granted);
    assert!(r.leases.iter().all(|l| l.owner == "node-a"), "{r:?}");
    // a renew keeps the fence and counts
    let g2 = store.acquire_leases(&a, &qs, 60_000).await.unwrap();
    assert!(g2.granted);
    for (l, before) in g2.leases.iter().zip(&g.leases) {
        assert_eq!((l.fence, l.renewals), (1, 1), "{l:?}");
        assert_eq!(l.acquired_ms, before.acquired_ms);
        assert!(l.expires_ms >= before.expires_ms);
    }

    // --- all or nothing: a set that includes a held lease changes nothing
    let r = other
        .acquire_leases(&b, &names(&["aaa-free", "general"]), 60_000)
        .await
        .unwrap();
    assert!(!r.granted);
    let view = store.lease_view().await.unwrap();
    assert!(
        view.leases.iter().all(|l| l.name != "aaa-free"),
        "the free lease was not kept: {view:?}"
    );

    // --- expiry by the database's clock; the fence grows on the change of owner
    let short = names(&["short"]);
    assert!(store.acquire_leases(&a, &short, 300).await.unwrap().granted);
    assert!(!other.acquire_leases(&b, &short, 300).await.unwrap().granted);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let t = other.acquire_leases(&b, &short, 60_000).await.unwrap();
    assert!(t.granted, "expired on the database's clock: {t:?}");
    let l = &t.leases[0];
    assert_eq!((l.owner.as_str(), l.fence, l.renewals), ("node-b", 2, 0));
    assert_eq!(l.previous_owner.as_deref(), Some("node-a"));
    // --- the holder whose renew came late lost it to the other node
    let late = store.acquire_leases(&a, &short, 300).await.unwrap();
    assert!(!late.granted);
    assert_eq!(late.leases[0].owner, "node-b");
    assert_eq!(late.leases[0].fence, 2);

    // --- release: the other node takes it at once, the fence grows again
    assert_eq!(other.release_leases("node-b").await.unwrap(), 1);
    assert_eq!(
        other.release_leases("node-b").await.unwrap(),
        0,
        "already free"
    );
    let t = store.acquire_leases(&a, &short, 60_000).await.unwrap();
    assert!(t.granted);
    assert_eq!((t.leases[0].fence, t.leases[0].renewals), (3, 0));
    assert_eq!(t.leases[0].previous_owner.as_deref(), Some("node-b"));

    // --- both race for fresh sets, at the same time: exactly one wins each
    for round in 0..12 {
        let set = names(&[&format!("race{round}-x"), &format!("race{round}-y")]);
        let (x, y) = tokio::join!(
            store.acquire_leases(&a, &set, 60_000),
            other.acquire_leases(&b, &set, 60_000)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.granted ^ y.granted, "round {round}: {x:?} {y:?}");
        let winner = if x.granted { "node-a" } else { "node-b" };
        let view = store.lease_view().await.unwrap();
        let owners: Vec<&str> = view
            .leases
            .iter()
            .filter(|l| set.contains(&l.name))
            .map(|l| l.owner.as_str())
            .collect();
        assert_eq!(owners, vec![winner, winner], "round {round}");
    }

    // --- heartbeats: both nodes listed with their state
    store.heartbeat(&beat("node-a", true)).await.unwrap();
    store.node_started(&beat("node-c", false)).await.unwrap();
    let view = store.lease_view().await.unwrap();
    let a_row = view.nodes.iter().find(|n| n.node_id == "node-a").unwrap();
    assert!(a_row.active);
    assert!(view
        .nodes
        .iter()
        .any(|n| n.node_id == "node-b" && !n.active));
    assert!(view
        .nodes
        .iter()
        .any(|n| n.node_id == "node-c" && n.seen_ms + 5 >= n.started_ms));

    // --- hostile names: SQL text is data; empty, control characters and
    // oversized names are refused with an error, never a panic
    for h in hostile {
        let r = store.acquire_leases(&a, &names(&[h]), 1_000).await;
        if h.chars().any(char::is_control) {
            assert!(r.is_err(), "{h:?}");
        } else {
            assert!(r.unwrap().granted, "{h:?}");
        }
    }
    let long = "q".repeat(10_000);
    for bad in ["", long.as_str(), "nul\0byte"] {
        assert!(store
            .acquire_leases(&a, &names(&[bad]), 1_000)
            .await
            .is_err());
        assert!(store
            .acquire_leases(&beat(bad, false), &names(&["general"]), 1_000)
            .await
            .is_err());
    }
    let many: Vec<String> = (0..1_001).map(|i| format!("q{i}")).collect();
    assert!(store.acquire_leases(&a, &many, 1_000).await.is_err());
    // a negative or absurd ttl is clamped, not stored as is
    let t = store
        .acquire_leases(&a, &names(&["clamped"]), i64::MAX)
        .await
        .unwrap();
    assert!(t.leases[0].expires_ms <= t.db_now_ms + 86_400_000 + 1_000);
    let t = store
        .acquire_leases(&a, &names(&["negative"]), -5)
        .await
        .unwrap();
    assert!(t.leases[0].expires_ms <= t.db_now_ms + 1_000);

    // --- events carry the node that wrote them; open calls per node
    let on_1 = store.clone().with_node("node-1");
    assert_eq!(on_1.node(), Some("node-1"));
    let on_2 = store.clone().with_node("node-2");
    let arrived = |call: &str| CallEvent {
        at_ms: 900_000,
        call_id: Some(CallId::from_stored(call)),
        agent: None,
        queue: None,
        kind: EventKind::Arrived {
            caller: Party {
                number: "+8613900000000".into(),
                display: None,
            },
            dialled: "400".into(),
            call_type: CallType::Inquiry,
        },
    };
    on_1.append_event(&arrived("n1-open")).await.unwrap();
    on_2.append_event(&arrived("n2-open")).await.unwrap();
    store.append_event(&arrived("single-open")).await.unwrap();
    let open = |v: Vec<CallId>| {
        v.into_iter()
            .map(|c| c.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        open(store.calls_without_cdr_on("node-1", 0, 100).await.unwrap()),
        vec!["n1-open"]
    );
    assert_eq!(
        open(store.calls_without_cdr_on("node-2", 0, 100).await.unwrap()),
        vec!["n2-open"]
    );
    assert!(open(store.calls_without_cdr_on("node-9", 0, 100).await.unwrap()).is_empty());
    // the writer marks its batches too
    let (sink, _task) = hotline_store::spawn_writer(on_2.clone());
    sink.event(arrived("n2-batched"));
    sink.flush().await;
    assert_eq!(
        open(store.calls_without_cdr_on("node-2", 0, 100).await.unwrap()),
        vec!["n2-batched", "n2-open"]
    );
    other.close().await;
}
