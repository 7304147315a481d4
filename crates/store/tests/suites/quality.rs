//! Quality scores and employment dates, run by `store.rs` on SQLite and on
//! PostgreSQL alike.

use hotline_store::quality::{NewScore, QualityComment, ScoreFilter, ScoreForm};
use hotline_store::{Role, Store, User};
use std::collections::BTreeMap;

fn score(call: &str, agent: &str, queue: Option<&str>, reviewer: &str, r: u8, at: i64) -> NewScore {
    let form = ScoreForm::shipped_example();
    let ratings: BTreeMap<String, u8> = form.criteria.iter().map(|c| (c.id.clone(), r)).collect();
    NewScore {
        call_id: call.into(),
        agent: agent.into(),
        queue: queue.map(str::to_string),
        call_arrived_ms: at,
        form: form.id.clone(),
        reviewer: reviewer.into(),
        total: form.total(&ratings).unwrap(),
        ratings,
        comments: vec![
            QualityComment {
                offset_ms: 9_000,
                text: "closing phrase missing; 「谢谢您的电话」'; DROP TABLE users; --".into(),
            },
            QualityComment {
                offset_ms: 1_500,
                text: "good opening".into(),
            },
        ],
        at_ms: at + 1_000,
    }
}

/// Scores, averages, calibration and turnover; hostile text is kept as given.
pub async fn quality_suite(store: &Store) {
    // q1 by alice (4/5 = 80) and bob (3/5 = 60): calibration; q2 by alice (100)
    let id = store
        .put_quality_score(&score("q1", "1001", Some("sales"), "alice", 4, 1_000))
        .await
        .unwrap();
    store
        .put_quality_score(&score("q1", "1001", Some("sales"), "bob", 3, 1_000))
        .await
        .unwrap();
    store
        .put_quality_score(&score("q2", "1002", None, "alice", 5, 2_000))
        .await
        .unwrap();
    // outside the period
    store
        .put_quality_score(&score("q3", "1001", Some("sales"), "alice", 0, 99_000))
        .await
        .unwrap();
    // alice scores q1 again: her score is replaced, same id
    let again = store
        .put_quality_score(&score("q1", "1001", Some("sales"), "alice", 5, 1_000))
        .await
        .unwrap();
    assert_eq!(id, again);
    let q1 = store.quality_scores_of_call("q1").await.unwrap();
    assert_eq!(q1.len(), 2);
    assert_eq!((q1[0].reviewer.as_str(), q1[0].total), ("alice", 100.0));
    assert_eq!((q1[1].reviewer.as_str(), q1[1].total), ("bob", 60.0));
    // comments in order of position, text as given
    assert_eq!(q1[0].comments[0].offset_ms, 1_500);
    assert!(q1[0].comments[1].text.contains("DROP TABLE"));
    let avg = store.quality_averages(0, 10_000).await.unwrap();
    assert_eq!(avg.overall.scores, 3);
    assert_eq!(avg.overall.mean, Some((100.0 + 60.0 + 100.0) / 3.0));
    assert_eq!(avg.agents["1001"].mean, Some(80.0));
    assert_eq!(avg.agents["1002"].mean, Some(100.0));
    assert_eq!(avg.teams["sales"].mean, Some(80.0));
    assert!(
        !avg.teams.contains_key(""),
        "calls without a queue are in no team"
    );
    let empty = store.quality_averages(10_000, 20_000).await.unwrap();
    assert_eq!((empty.overall.mean, empty.overall.scores), (None, 0));
    let cal = store.quality_calibration(0, 10_000).await.unwrap();
    assert_eq!(cal.len(), 1);
    assert_eq!((cal[0].call_id.as_str(), cal[0].spread), ("q1", 40.0));
    assert_eq!(cal[0].criterion_spread["opening"], 2);
    let mine = store
        .quality_scores(&ScoreFilter {
            agent: Some("1001".into()),
            ..ScoreFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|s| s.call_id.as_str()).collect::<Vec<_>>(),
        ["q3", "q1", "q1"],
        "newest call first"
    );
    let period = store
        .quality_scores(&ScoreFilter {
            from_ms: Some(1_500),
            to_ms: Some(3_000),
            limit: 10,
            ..ScoreFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(period.len(), 1);
    assert_eq!(period[0].call_id, "q2");
    // employment dates: a user added before the migration's columns starts at creation
    for (name, role) in [
        ("1001", Role::Agent),
        ("1002", Role::Agent),
        ("sup", Role::Supervisor),
    ] {
        store
            .put_user(
                &User {
                    name: name.into(),
                    role,
                    password_hash: "x".into(),
                },
                100,
            )
            .await
            .unwrap();
    }
    assert!(store
        .set_employment("1002", Some(50), Some(5_000))
        .await
        .unwrap());
    assert!(!store.set_employment("nobody", None, None).await.unwrap());
    let agents = store.agent_employment().await.unwrap();
    assert!(
        agents
            .iter()
            .any(|(n, s, e)| n == "1001" && *s == 100 && e.is_none()),
        "{agents:?}"
    );
    assert!(agents.iter().all(|(n, _, _)| n != "sup"), "only agents");
    // [1 000, 10 000): two employed at its start, one at its end, one left
    assert_eq!(
        store.agent_turnover(1_000, 10_000).await.unwrap(),
        Some(1.0 / 1.5)
    );
}
