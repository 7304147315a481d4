//! Registrations that survive a restart, on both databases (included by
//! store.rs): saved, refreshed, deleted, loaded with the expired ones
//! dropped, and a corrupt row skipped instead of failing the load.

use hotline_store::{Store, StoredBinding};

fn binding(agent: &str, contact: &str, expires_at_ms: i64) -> StoredBinding {
    StoredBinding {
        agent: agent.into(),
        contact: contact.into(),
        source: "127.0.0.3:5070".into(),
        transport: "udp".into(),
        expires_at_ms,
        call_id: "reg-1@127.0.0.3".into(),
        cseq: 1,
        path: vec![],
        nat: false,
    }
}

pub async fn bindings_suite(url: &str, store: &Store, hostile: &[&str]) {
    let now = 10_000_000;
    let a = binding("1001", "sip:1001@127.0.0.2:5099", now + 3_600_000);
    let mut b = binding("1001", "sip:1001@10.0.0.8:5060", now + 60_000);
    b.path = vec![
        "<sip:edge1.example.net;lr>".into(),
        "<sip:10.1.1.1:5062;lr;transport=tcp>".into(),
    ];
    b.nat = true;
    b.transport = "tcp".into();
    b.cseq = u32::MAX;
    let gone = binding("1002", "sip:1002@127.0.0.1:5072", now - 1);
    for x in [&a, &b, &gone] {
        store.save_binding(x, now - 5_000).await.unwrap();
    }
    // a refresh replaces the row of the same agent and contact
    let mut a2 = a.clone();
    a2.cseq = 2;
    a2.expires_at_ms = now + 7_200_000;
    a2.source = "127.0.0.3:5071".into();
    store.save_binding(&a2, now).await.unwrap();
    let loaded = store.load_bindings(now).await.unwrap();
    assert_eq!(loaded.bindings, vec![a2.clone(), b.clone()]);
    assert_eq!((loaded.expired, loaded.unreadable), (1, 0));
    // the expired row is gone for good
    assert_eq!(store.load_bindings(now).await.unwrap().expired, 0);
    // deleting
    assert!(store.delete_binding("1001", &b.contact).await.unwrap());
    assert!(!store.delete_binding("1001", &b.contact).await.unwrap());
    assert!(!store.delete_binding("nobody", "sip:x").await.unwrap());
    // hostile text is stored and read back as is (the registrar judges it)
    for (i, h) in hostile.iter().enumerate() {
        let mut x = binding(h, h, now + 1_000 + i as i64);
        x.source = h.to_string();
        x.path = vec![h.to_string()];
        x.call_id = h.to_string();
        store.save_binding(&x, now).await.unwrap();
    }
    let loaded = store.load_bindings(now).await.unwrap();
    assert_eq!(loaded.bindings.len(), 1 + hostile.len());
    for h in hostile {
        let x = loaded.bindings.iter().find(|x| x.agent == *h).unwrap();
        assert_eq!(
            (&x.contact, &x.source, &x.path),
            (&h.to_string(), &h.to_string(), &vec![h.to_string()])
        );
    }
    // corrupt rows written behind our back: a Path that is not JSON, a
    // negative CSeq, nat = 7; each is skipped, the good ones still load
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    for (agent, cseq, path, nat) in [
        ("bad-path", 1_i64, "{not json", 0_i64),
        ("bad-cseq", -5, "[]", 0),
        ("bad-nat", 1, "[]", 7),
    ] {
        sqlx::query(
            "INSERT INTO sip_bindings (agent, contact, source, transport, expires_at_ms, \
             call_id, cseq, path, nat, updated_ms) VALUES ($1, 'sip:x', 'x', 'udp', $2, 'c', $3, $4, $5, 0)",
        )
        .bind(agent)
        .bind(now + 3_600_000)
        .bind(cseq)
        .bind(path)
        .bind(nat)
        .execute(&raw)
        .await
        .unwrap();
    }
    raw.close().await;
    let loaded = store.load_bindings(now).await.unwrap();
    assert_eq!(loaded.unreadable, 3);
    assert_eq!(loaded.bindings.len(), 1 + hostile.len());
    assert!(loaded.bindings.contains(&a2));
    // the CDR of a call whose far end vanished says so
    let mut c = crate::cdr("expired-1", now);
    c.end_cause = Some("session_expired".into());
    store.upsert_cdr(&c).await.unwrap();
    let back = store.cdr(&c.call_id).await.unwrap().unwrap();
    assert_eq!(back.end_cause.as_deref(), Some("session_expired"));
    // clean up for the other suites
    for agent in ["bad-path", "bad-cseq", "bad-nat"] {
        assert!(store.delete_binding(agent, "sip:x").await.unwrap());
    }
}
