//! Kamailio's registrar tables (migration 0012), on both databases
//! (included by store.rs): the nodes' subscriber rows follow the configured
//! agents exactly (written, changed, removed, other realms untouched);
//! Kamailio's location rows are read back as written, hostile text as text.

use hotline_store::{Store, Subscriber};

fn sub(name: &str, ha1: &str) -> Subscriber {
    Subscriber {
        username: name.into(),
        ha1: ha1.into(),
        ha1b: format!("{ha1}-b"),
    }
}

pub async fn edge_suite(url: &str, store: &Store, hostile: &[&str]) {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    // Kamailio checks these table versions at start
    let versions = sqlx::query(
        "SELECT table_name, CAST(table_version AS BIGINT) AS v FROM version ORDER BY table_name",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    let versions: Vec<(String, i64)> = versions
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect();
    assert!(versions.contains(&("location".into(), 9)), "{versions:?}");
    assert!(versions.contains(&("subscriber".into(), 7)), "{versions:?}");

    // subscribers: written, unchanged rows not rewritten, changed ones
    // rewritten, removed agents deleted; another realm is left alone
    let s = store
        .sync_subscribers("hotline", &[sub("1001", "aa"), sub("1002", "bb")])
        .await
        .unwrap();
    assert_eq!((s.written, s.removed), (2, 0));
    store
        .sync_subscribers("other", &[sub("1001", "zz")])
        .await
        .unwrap();
    let s = store
        .sync_subscribers("hotline", &[sub("1001", "aa"), sub("1002", "cc")])
        .await
        .unwrap();
    assert_eq!((s.written, s.removed), (1, 0));
    let s = store
        .sync_subscribers("hotline", &[sub("1002", "cc")])
        .await
        .unwrap();
    assert_eq!((s.written, s.removed), (0, 1));
    let rows = sqlx::query(
        "SELECT username, domain, password, ha1, ha1b FROM subscriber ORDER BY domain, username",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    let rows: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "1002".into(),
                "hotline".into(),
                String::new(),
                "cc".into(),
                "cc-b".into()
            ),
            (
                "1001".into(),
                "other".into(),
                String::new(),
                "zz".into(),
                "zz-b".into()
            ),
        ]
    );
    // hostile names are data
    let hostile_subs: Vec<Subscriber> = hostile
        .iter()
        .enumerate()
        .map(|(i, h)| sub(&format!("{i}{}", h.chars().take(40).collect::<String>()), h))
        .collect();
    let s = store.sync_subscribers("hostile", &hostile_subs).await;
    if let Ok(s) = s {
        assert_eq!(s.written, hostile_subs.len() as u64);
        let s = store.sync_subscribers("hostile", &[]).await.unwrap();
        assert_eq!(s.removed, hostile_subs.len() as u64);
    }

    // location: as Kamailio writes it
    assert!(store.edge_contacts().await.unwrap().is_empty());
    for (ruid, user, contact, received, socket) in [
        (
            "r1",
            "1001",
            "sip:1001@127.0.0.3:5070",
            None,
            Some("udp:127.0.0.1:5060"),
        ),
        (
            "r2",
            "1001",
            "sip:1001@10.0.0.8:5061;transport=tls",
            Some("sip:203.0.113.9:40000;transport=tls"),
            Some("tls:127.0.0.1:5061"),
        ),
        ("r3", "1003", "sip:1003@127.0.0.4:5070", None, None),
    ] {
        sqlx::query(
            "INSERT INTO location (ruid, username, contact, received, socket, user_agent) \
             VALUES ($1, $2, $3, $4, $5, 'test')",
        )
        .bind(ruid)
        .bind(user)
        .bind(contact)
        .bind(received.map(str::to_string))
        .bind(socket.map(str::to_string))
        .execute(&raw)
        .await
        .unwrap();
    }
    let got = store.edge_contacts().await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].agent, "1001");
    assert_eq!(got[0].socket.as_deref(), Some("udp:127.0.0.1:5060"));
    assert_eq!(got[0].received, None);
    assert_eq!(
        got[1].received.as_deref(),
        Some("sip:203.0.113.9:40000;transport=tls")
    );
    assert_eq!(got[2].agent, "1003");
    assert_eq!(got[2].socket, None);
    assert_eq!(got[2].user_agent, "test");
    sqlx::query("DELETE FROM location")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
}
