#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The same suite against SQLite (temp dir) and a throwaway PostgreSQL cluster.
//!
//! PostgreSQL: the test looks for `initdb`/`pg_ctl` under
//! `/usr/lib/postgresql/*/bin` (or `$HOTLINE_PG_BIN`), creates a cluster in a
//! temp dir and starts it on a free port, listening on 127.0.0.1 with its
//! socket in the temp dir. `initdb` refuses to run as root, so when the tests
//! run as root (CI does) the temp dir is chowned to the `postgres` user and
//! initdb/pg_ctl run through `runuser -u postgres --` (no password or PAM
//! session needed, unlike `su`). Without the binaries the PostgreSQL test fails
//! with a message, unless `HOTLINE_SKIP_PG=1`.

mod cases;
#[path = "suites/quality.rs"]
mod quality_suite;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotline_core::{
    AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Outcome, Party, QueueId,
};
use hotline_store::{spawn_writer, Backend, Cdr, Store, StoreError};
use hotline_testkit::{free_port, PgCluster};

#[path = "suites/notify.rs"]
mod notify_suite;
#[path = "suites/worklist.rs"]
mod worklist_suite;

#[path = "suites/duty.rs"]
mod duty_suite;

#[path = "suites/bindings.rs"]
mod bindings_suite;

#[path = "suites/leases.rs"]
mod leases_suite;

#[path = "suites/edge.rs"]
mod edge_suite;

fn ev(at: i64, call: &str, kind: EventKind) -> CallEvent {
    CallEvent {
        at_ms: at,
        call_id: Some(CallId::from_stored(call)),
        agent: Some(AgentId::new("1001")),
        queue: Some(QueueId::new("sales")),
        kind,
    }
}

fn cdr(call: &str, arrived: i64) -> Cdr {
    Cdr {
        call_id: CallId::from_stored(call),
        caller: "+8613800000000".into(),
        caller_name: Some("Alice".into()),
        dialled: "400".into(),
        queue: Some(QueueId::new("sales")),
        agent: None,
        call_type: CallType::Inquiry,
        arrived_ms: arrived,
        system_answered_ms: None,
        agent_answered_ms: None,
        ended_ms: None,
        wait_ms: None,
        talk_ms: None,
        rings: None,
        outcome: None,
        ended_by: None,
        recording_path: None,
        recording_sha256: None,
        end_cause: None,
    }
}

const HOSTILE: &[&str] = &[
    "O'Brien",
    "'; DROP TABLE cdrs; --",
    "\"quoted\" \\back\\slash\\ $1 ? %s",
    "张伟 — Ünïcødé 🎧 مرحبا",
    "line\nbreak\ttab\r",
];

/// Everything both databases must do identically.
async fn suite(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    // Migrations are idempotent: a second node / restart connects fine.
    let again = Store::connect(url).await.expect("connect again");

    // --- events: ids, order, per call, by time
    let evs = vec![
        ev(
            1_000,
            "c1",
            EventKind::Arrived {
                caller: Party {
                    number: "+86".into(),
                    display: None,
                },
                dialled: "400".into(),
                call_type: CallType::Inquiry,
            },
        ),
        ev(1_000, "c2", EventKind::Queued { position: 1 }),
        ev(2_000, "c1", EventKind::Queued { position: 2 }),
        ev(11_000, "c1", EventKind::SystemAnswered { rings: 3 }),
        ev(
            12_000,
            "c1",
            EventKind::AgentAnswered {
                wait_ms: 12_000,
                rings: 3,
                limit_ms: None,
            },
        ),
        ev(
            15_000,
            "c2",
            EventKind::Abandoned {
                wait_ms: 14_000,
                position: 1,
            },
        ),
        ev(
            60_000,
            "c1",
            EventKind::Completed {
                ended_by: EndedBy::Caller,
                talk_ms: 48_000,
            },
        ),
    ];
    let mut last = 0;
    for e in &evs {
        let id = store.append_event(e).await.expect("append");
        assert!(id > last, "ids grow");
        last = id;
    }
    let agent_only = CallEvent {
        at_ms: 3_000,
        call_id: None,
        agent: Some(AgentId::new("1002")),
        queue: None,
        kind: EventKind::AgentRegistered {
            contact: "sip:1002@10.0.0.2".into(),
            expires_s: 3600,
        },
    };
    again.append_event(&agent_only).await.unwrap();

    let c1 = store
        .events_for_call(&CallId::from_stored("c1"))
        .await
        .unwrap();
    let want: Vec<_> = evs
        .iter()
        .filter(|e| e.call_id.as_ref().unwrap().as_str() == "c1")
        .cloned()
        .collect();
    assert_eq!(c1, want);
    assert!(store
        .events_for_call(&CallId::from_stored("nope"))
        .await
        .unwrap()
        .is_empty());

    let between = store.events_between(1_000, 12_000, 100).await.unwrap();
    assert_eq!(
        between,
        vec![
            evs[0].clone(),
            evs[1].clone(),
            evs[2].clone(),
            agent_only.clone(),
            evs[3].clone()
        ]
    );
    assert_eq!(
        store.events_between(0, i64::MAX, 2).await.unwrap(),
        evs[..2].to_vec()
    );
    assert!(store
        .events_between(0, i64::MAX, -5)
        .await
        .unwrap()
        .is_empty());

    // --- CDRs: insert, update, read, list
    let mut a = cdr("c1", 1_000);
    store.upsert_cdr(&a).await.unwrap();
    assert_eq!(store.cdr(&a.call_id).await.unwrap(), Some(a.clone()));
    a.agent = Some(AgentId::new("1001"));
    a.call_type = CallType::Complaint;
    a.system_answered_ms = Some(11_000);
    a.agent_answered_ms = Some(12_000);
    a.ended_ms = Some(60_000);
    a.wait_ms = Some(11_000);
    a.talk_ms = Some(48_000);
    a.rings = Some(3);
    a.outcome = Some(Outcome::Answered);
    a.ended_by = Some(EndedBy::Agent);
    a.recording_path = Some("2024/03/01/c1.wav".into());
    a.recording_sha256 = Some("ab".repeat(32));
    a.caller_name = None;
    again.upsert_cdr(&a).await.unwrap();
    assert_eq!(store.cdr(&a.call_id).await.unwrap(), Some(a.clone()));
    let mut b = cdr("c2", 1_000);
    b.outcome = Some(Outcome::Abandoned);
    b.ended_by = Some(EndedBy::Caller);
    store.upsert_cdr(&b).await.unwrap();
    let c = cdr("c3", 5_000);
    store.upsert_cdr(&c).await.unwrap();
    // calls without a CDR (left open by a killed engine): arrived, no CDR,
    // not before the window
    let arrived = |at: i64, call: &str| {
        ev(
            at,
            call,
            EventKind::Arrived {
                caller: hotline_core::Party {
                    number: "0612".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::Inquiry,
            },
        )
    };
    for e in [
        arrived(500, "c-old"),
        arrived(1_000, "c1"),
        arrived(2_500, "c-open-2"),
        arrived(2_000, "c-open-1"),
    ] {
        store.append_event(&e).await.unwrap();
    }
    assert_eq!(
        store.calls_without_cdr(1_000, 10).await.unwrap(),
        vec![
            CallId::from_stored("c-open-1"),
            CallId::from_stored("c-open-2")
        ]
    );
    assert_eq!(store.calls_without_cdr(1_000, 1).await.unwrap().len(), 1);
    assert!(store.calls_without_cdr(1_000, -1).await.unwrap().is_empty());
    assert_eq!(store.cdr(&CallId::from_stored("none")).await.unwrap(), None);
    // newest first; equal arrival times ordered by call id, descending
    assert_eq!(
        store.recent_cdrs(10).await.unwrap(),
        vec![c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(store.recent_cdrs(1).await.unwrap(), vec![c.clone()]);

    // --- hostile strings come back verbatim
    let big: String = "名".repeat(100 * 1024 / 3 + 1); // > 100 KB of UTF-8
    assert!(big.len() > 100 * 1024);
    for (i, s) in HOSTILE.iter().copied().chain([big.as_str()]).enumerate() {
        let id = format!("h{i}-{s}");
        let mut h = cdr(&id, 100 + i as i64);
        h.caller = s.to_string();
        h.caller_name = Some(s.to_string());
        h.dialled = s.to_string();
        h.queue = Some(QueueId::new(s));
        h.agent = Some(AgentId::new(s));
        h.recording_path = Some(s.to_string());
        store.upsert_cdr(&h).await.unwrap();
        assert_eq!(
            store.cdr(&h.call_id).await.unwrap(),
            Some(h.clone()),
            "cdr {i}"
        );
        let e = CallEvent {
            at_ms: 100 + i as i64,
            call_id: Some(CallId::from_stored(id.clone())),
            agent: Some(AgentId::new(s)),
            queue: Some(QueueId::new(s)),
            kind: EventKind::Arrived {
                caller: Party {
                    number: s.into(),
                    display: Some(s.into()),
                },
                dialled: s.into(),
                call_type: CallType::Order,
            },
        };
        store.append_event(&e).await.unwrap();
        assert_eq!(
            store.events_for_call(&h.call_id).await.unwrap(),
            vec![e],
            "event {i}"
        );
    }
    // The tables survived the injection attempt.
    assert!(store.cdr(&a.call_id).await.unwrap().is_some());

    // A NUL byte: SQLite keeps it; PostgreSQL refuses it with an error, no panic.
    let mut nul = cdr("nul", 1);
    nul.caller_name = Some("a\0b".into());
    match store.backend() {
        Backend::Sqlite => {
            store.upsert_cdr(&nul).await.unwrap();
            assert_eq!(store.cdr(&nul.call_id).await.unwrap(), Some(nul.clone()));
        }
        Backend::Postgres => {
            let e = store.upsert_cdr(&nul).await.unwrap_err();
            assert!(matches!(e, StoreError::Db(_)), "{e}");
        }
    }

    // --- the background writer: order, flush, nothing lost
    let (sink, task) = spawn_writer(store.clone());
    let call = CallId::from_stored("w1");
    let mut sent = Vec::new();
    for i in 0..1_000 {
        let e = ev(100_000 + i, "w1", EventKind::Queued { position: i as u32 });
        sent.push(e.clone());
        sink.event(e);
        if i % 100 == 0 {
            sink.cdr(cdr("w1", 100_000 + i));
        }
    }
    if store.backend() == Backend::Postgres {
        // A record PostgreSQL refuses is given up (counted, logged) without
        // blocking the records after it.
        sink.cdr(nul.clone());
    }
    let after = ev(200_000, "w1", EventKind::Queued { position: 0 });
    sink.event(after.clone());
    sent.push(after);
    tokio::time::timeout(Duration::from_secs(60), sink.flush())
        .await
        .expect("flush in time");
    assert_eq!(store.events_for_call(&call).await.unwrap(), sent);
    assert_eq!(store.cdr(&call).await.unwrap().unwrap().arrived_ms, 100_900);
    assert_eq!(sink.pending(), 0);
    let expect_lost = u64::from(store.backend() == Backend::Postgres);
    assert_eq!(sink.lost(), expect_lost);
    drop(sink);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("writer ends")
        .unwrap();
    evidence_suite(url, &store, &again).await;
    console_suite(url, &store).await;
    language_suite(&store, &again).await;
    cases::suite(&store, HOSTILE).await;
    quality_suite::quality_suite(&store).await;
    worklist_suite::worklist_suite(&store, HOSTILE).await;
    duty_suite::duty_suite(&store, HOSTILE).await;
    notify_suite::notify_suite(&store, HOSTILE).await;
    bindings_suite::bindings_suite(url, &store, HOSTILE).await;
    leases_suite::leases_suite(url, &store, HOSTILE).await;
    edge_suite::edge_suite(url, &store, HOSTILE).await;
}

/// The console language of each user: none, set, replaced, per user, seen
/// by a second connection, hostile text stored as text.
async fn language_suite(store: &Store, again: &Store) {
    assert_eq!(store.user_language("lang-a").await.unwrap(), None);
    store.set_user_language("lang-a", "en", 1).await.unwrap();
    assert_eq!(
        store.user_language("lang-a").await.unwrap().as_deref(),
        Some("en")
    );
    store.set_user_language("lang-a", "zh-CN", 2).await.unwrap();
    store.set_user_language("lang-b", "en", 3).await.unwrap();
    assert_eq!(
        again.user_language("lang-a").await.unwrap().as_deref(),
        Some("zh-CN")
    );
    assert_eq!(
        again.user_language("lang-b").await.unwrap().as_deref(),
        Some("en")
    );
    let hostile = "x'); DROP TABLE user_language; --";
    store.set_user_language(hostile, hostile, 4).await.unwrap();
    assert_eq!(
        store.user_language(hostile).await.unwrap().as_deref(),
        Some(hostile)
    );
    assert_eq!(
        store.user_language("lang-b").await.unwrap().as_deref(),
        Some("en")
    );
}

/// Users, marks (holds) and the audit chain, with hostile text and tampering.
/// The console's paged CDR query and run-time blacklist.
async fn console_suite(url: &str, store: &Store) {
    use hotline_store::{CdrFilter, MarkKind};
    for i in 0..10 {
        let mut c = cdr(&format!("console-{i}"), 5_000_000 + i);
        c.caller = if i < 4 { "0611".into() } else { "0622".into() };
        if i % 2 == 0 {
            c.recording_path = Some(format!("console-{i}.wav"));
        }
        store.upsert_cdr(&c).await.unwrap();
    }
    store
        .add_mark("console-2", MarkKind::Abuse, "", "alice", 5)
        .await
        .unwrap();
    let mine = |caller: &str| CdrFilter {
        caller: Some(caller.into()),
        limit: 3,
        ..Default::default()
    };
    let p = store.cdr_page(&mine("0622")).await.unwrap();
    assert_eq!(p.total, 6, "{url}");
    assert_eq!(p.items.len(), 3);
    assert_eq!(p.items[0].call_id.as_str(), "console-9");
    let p = store
        .cdr_page(&CdrFilter {
            offset: 3,
            ..mine("0622")
        })
        .await
        .unwrap();
    assert_eq!(p.items[0].call_id.as_str(), "console-6", "{url}");
    let p = store
        .cdr_page(&CdrFilter {
            from_ms: Some(5_000_001),
            to_ms: Some(5_000_003),
            ..mine("0611")
        })
        .await
        .unwrap();
    assert_eq!(p.total, 2, "{url}");
    let p = store
        .cdr_page(&CdrFilter {
            marked: Some(true),
            held: Some(true),
            ..mine("0611")
        })
        .await
        .unwrap();
    assert_eq!(
        p.items
            .iter()
            .map(|c| c.call_id.as_str())
            .collect::<Vec<_>>(),
        ["console-2"],
        "{url}"
    );
    let p = store
        .cdr_page(&CdrFilter {
            recorded: true,
            marked: Some(false),
            ..mine("0622")
        })
        .await
        .unwrap();
    assert_eq!(p.total, 3, "{url}");
    // hostile text is data, not SQL
    for h in HOSTILE {
        let f = CdrFilter {
            from_ms: Some(5_000_000),
            to_ms: Some(5_000_010),
            ..mine(h)
        };
        assert_eq!(store.cdr_page(&f).await.unwrap().total, 0, "{url}");
    }
    let id = store
        .add_blacklist(
            "+86139*",
            "reject",
            HOSTILE[1],
            Some("console-1"),
            "alice",
            7,
        )
        .await
        .unwrap();
    assert!(
        store
            .add_blacklist("+86139*", "reject", "again", None, "bob", 8)
            .await
            .is_err(),
        "{url}: a pattern is listed once"
    );
    let l = store.blacklist().await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0].reason.as_str(), l[0].call_id.as_deref()),
        (HOSTILE[1], Some("console-1"))
    );
    assert_eq!(
        store.remove_blacklist(id).await.unwrap().unwrap().pattern,
        "+86139*"
    );
    assert!(store.remove_blacklist(id).await.unwrap().is_none());
}

async fn evidence_suite(url: &str, store: &Store, again: &Store) {
    use hotline_store::{AuditBreak, MarkKind, Role, User};
    // users: put, replace, read back; unknown user
    let alice = User {
        name: "alice".into(),
        role: Role::Supervisor,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    store.put_user(&alice, 1).await.unwrap();
    assert_eq!(store.user("alice").await.unwrap(), Some(alice.clone()));
    let promoted = User {
        role: Role::Admin,
        ..alice.clone()
    };
    again.put_user(&promoted, 2).await.unwrap();
    assert_eq!(
        store.user("alice").await.unwrap().unwrap().role,
        Role::Admin
    );
    assert_eq!(store.user("'; DROP TABLE users; --").await.unwrap(), None);
    // marks: hold, hostile notes, release by an admin
    for (i, note) in HOSTILE.iter().enumerate() {
        store
            .add_mark("c-ev", MarkKind::Extortion, note, "alice", 10 + i as i64)
            .await
            .unwrap();
    }
    store
        .add_mark("c-other", MarkKind::Dispute, "", "bob", 20)
        .await
        .unwrap();
    let marks = store.marks("c-ev").await.unwrap();
    assert_eq!(marks.len(), HOSTILE.len());
    assert_eq!(marks[1].note, HOSTILE[1]);
    assert_eq!(store.held_calls().await.unwrap(), vec!["c-ev", "c-other"]);
    assert_eq!(
        store
            .release_marks("c-ev", "alice", "case closed", 30)
            .await
            .unwrap(),
        HOSTILE.len() as u64
    );
    assert_eq!(
        store
            .release_marks("c-ev", "alice", "again", 31)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.held_calls().await.unwrap(), vec!["c-other"]);
    let m = &store.marks("c-ev").await.unwrap()[0];
    assert_eq!(
        (m.released_ms, m.released_by.as_deref()),
        (Some(30), Some("alice"))
    );
    // audit: a chain across two connections, hostile text, verified
    for (i, reason) in HOSTILE.iter().enumerate() {
        let s = if i % 2 == 0 { store } else { again };
        s.append_audit(100 + i as i64, "user:alice", "listen", Some("c-ev"), reason)
            .await
            .unwrap();
    }
    // concurrent appends never fork the chain
    let (a, b) = tokio::join!(
        store.append_audit(200, "user:a", "export", Some("c-ev"), "x"),
        again.append_audit(200, "user:b", "export", Some("c-ev"), "y"),
    );
    a.unwrap();
    b.unwrap();
    store
        .append_audit(
            300,
            "system:retention",
            "delete",
            None,
            "older than 90 days",
        )
        .await
        .unwrap();
    let n = HOSTILE.len() + 3;
    assert_eq!(store.verify_audit().await.unwrap(), Ok(n));
    assert_eq!(store.audit(Some("c-ev")).await.unwrap().len(), n - 1);
    // tampering: edit a reason, then delete an entry
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let second: i64 = sqlx::query_scalar("SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET reason = 'nothing to see' WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        Err(AuditBreak::Altered { id: second })
    );
    sqlx::query("DELETE FROM audit WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        Err(AuditBreak::Broken { previous, .. }) if previous == second - 1
    ));
    pool.close().await;
}

#[tokio::test]
async fn sqlite_suite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/sub/hotline.db"); // directories created
    let url = format!("sqlite://{}", path.display());
    suite(&url).await;
    // WAL mode is on and persistent.
    assert!(dir.path().join("data/sub/hotline.db-wal").exists() || wal_mode(&path).await);
}

async fn wal_mode(path: &Path) -> bool {
    use sqlx::{ConnectOptions, Connection};
    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    mode == "wal"
}

#[tokio::test]
async fn sqlite_relative_url_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    // "sqlite://rel.db" is relative to the working directory: use a path that is
    // relative but points into the temp dir.
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(dir.path(), &cwd).join("rel.db");
    let url = format!("sqlite://{}", rel.display());
    let s = Store::connect(&url).await.expect("relative");
    s.append_event(&ev(1, "r", EventKind::Queued { position: 1 }))
        .await
        .unwrap();
    assert!(dir.path().join("rel.db").exists());
    let m = Store::connect("sqlite::memory:").await.expect("memory");
    m.append_event(&ev(1, "r", EventKind::Queued { position: 1 }))
        .await
        .unwrap();
    assert_eq!(
        m.events_for_call(&CallId::from_stored("r"))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `target` relative to `base` (both absolute).
fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..b.len() {
        p.push("..");
    }
    for c in &t[common..] {
        p.push(c);
    }
    p
}

#[tokio::test]
async fn bad_urls_and_paths_are_clear_errors() {
    for url in ["mysql://localhost/x", "hotline.db", ""] {
        let e = Store::connect(url).await.unwrap_err();
        assert!(matches!(e, StoreError::UnsupportedUrl(_)), "{url}: {e}");
    }
    // A directory that cannot be created (a file is in the way).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let url = format!("sqlite://{}/file/sub/hotline.db", dir.path().display());
    let e = Store::connect(&url).await.unwrap_err();
    assert!(matches!(e, StoreError::Directory { .. }), "{e}");
    assert!(e.to_string().contains("file/sub"), "{e}");
    // /proc refuses new files even to root.
    let e = Store::connect("sqlite:///proc/hotline.db")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/proc/hotline.db"), "{e}");
    // Nobody listens there; the password is not shown.
    let port = free_port();
    let url = format!("postgres://u:secret@127.0.0.1:{port}/db");
    let e = Store::connect(&url).await.unwrap_err();
    assert!(matches!(e, StoreError::Connect { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && !msg.contains("secret"),
        "{msg}"
    );
}

#[tokio::test]
async fn writer_keeps_events_while_the_database_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.unwrap();
    let (sink, _task) = spawn_writer(store.clone());
    // Take the table away behind the store's back: every write now fails.
    let side = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE events RENAME TO events_away")
        .execute(&side)
        .await
        .unwrap();
    for i in 0..50 {
        sink.event(ev(i, "out", EventKind::Queued { position: 1 }));
    }
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(sink.pending(), 50, "kept in memory");
    assert_eq!(sink.lost(), 0);
    sqlx::query("ALTER TABLE events_away RENAME TO events")
        .execute(&side)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), sink.flush())
        .await
        .expect("recovers");
    assert_eq!(
        store
            .events_for_call(&CallId::from_stored("out"))
            .await
            .unwrap()
            .len(),
        50
    );
    assert_eq!((sink.pending(), sink.lost()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_suite() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    suite(&pg.url()).await;

    // The database goes away and comes back: the writer keeps and then writes.
    let store = Store::connect(&pg.url()).await.unwrap();
    let (sink, _task) = spawn_writer(store.clone());
    let pg = std::sync::Arc::new(pg);
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.pg_stop())
        .await
        .unwrap();
    for i in 0..20 {
        sink.event(ev(i, "outage", EventKind::Queued { position: 1 }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(sink.pending(), 20);
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.pg_start())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), sink.flush())
        .await
        .expect("recovers");
    assert_eq!(
        store
            .events_for_call(&CallId::from_stored("outage"))
            .await
            .unwrap()
            .len(),
        20
    );
    assert_eq!(sink.lost(), 0);
    store.close().await;
}
