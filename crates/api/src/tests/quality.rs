//! Quality scoring through the API: scores, several reviewers, averages,
//! calibration, what agents see, employment dates, bad input.

use super::*;

/// A valid score of the shipped form (every criterion 4 of 5 = 80).
pub(super) const GOOD_SCORE: &str = r#"{"form":"standard","ratings":{"opening":4,"agent_number":4,"listening":4,"solution":4,"courtesy":4,"closing":4,"time_limit":4},"comments":[{"offset_ms":1200,"text":"opening phrase said"}]}"#;

fn ratings(r: u8) -> String {
    let form = hotline_store::quality::ScoreForm::shipped_example();
    let m: std::collections::BTreeMap<String, u8> =
        form.criteria.iter().map(|c| (c.id.clone(), r)).collect();
    serde_json::to_string(&m).unwrap()
}

#[tokio::test]
async fn two_reviewers_score_a_call_and_agents_see_their_own() {
    let w = world().await;
    // the agent of c1 is 1001: a console user of that name sees its scores
    w.console
        .store()
        .put_user(
            &User {
                name: "1001".into(),
                role: Role::Agent,
                password_hash: hashed("agent password"),
            },
            0,
        )
        .await
        .unwrap();
    let alice = w.session("alice", Role::Supervisor);
    let root = w.session("root", Role::Admin);
    let (s, v) = w
        .json("POST", "/api/calls/c1/scores", Some(&alice), GOOD_SCORE)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["total"], 80.0);
    let body = format!(
        r#"{{"form":"standard","ratings":{},"comments":[{{"offset_ms":500,"text":"没有报工号"}}]}}"#,
        ratings(2)
    );
    let (s, v) = w
        .json("POST", "/api/calls/c1/scores", Some(&root), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["total"], 40.0);
    let (_, v) = w
        .json("GET", "/api/calls/c1/scores", Some(&alice), "")
        .await;
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 2);
    assert_eq!(scores[0]["reviewer"], "alice");
    assert_eq!(scores[0]["comments"][0]["offset_ms"], 1200);
    assert_eq!(scores[1]["comments"][0]["text"], "没有报工号");
    // the period of the call (1 700 000 000 000) averages both scores: 60
    let period = "from=1699999999000&to=1700000099000";
    let (s, v) = w
        .json(
            "GET",
            &format!("/api/quality/averages?{period}"),
            Some(&alice),
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["overall"]["mean"], 60.0);
    assert_eq!(v["overall"]["scores"], 2);
    assert_eq!(v["agents"]["1001"]["mean"], 60.0);
    let (_, v) = w
        .json(
            "GET",
            &format!("/api/quality/calibration?{period}"),
            Some(&alice),
            "",
        )
        .await;
    assert_eq!(v["calls"][0]["call_id"], "c1");
    assert_eq!(v["calls"][0]["spread"], 40.0);
    assert_eq!(v["calls"][0]["criterion_spread"]["opening"], 2);
    // the agent sees their own call's scores and average, ann (another agent) nothing
    let own = w.session("1001", Role::Agent);
    let (_, v) = w.json("GET", "/api/calls/c1/scores", Some(&own), "").await;
    assert_eq!(v["scores"].as_array().unwrap().len(), 2);
    let (_, v) = w
        .json(
            "GET",
            &format!("/api/quality/averages?{period}"),
            Some(&own),
            "",
        )
        .await;
    assert_eq!(v["agents"]["1001"]["mean"], 60.0);
    assert!(
        v.get("overall").is_none() && v.get("teams").is_none(),
        "{v}"
    );
    let ann = w.session("ann", Role::Agent);
    let (_, v) = w.json("GET", "/api/calls/c1/scores", Some(&ann), "").await;
    assert_eq!(v["scores"].as_array().unwrap().len(), 0);
    let (_, v) = w
        .json(
            "GET",
            &format!("/api/quality/scores?{period}&agent=1001"),
            Some(&ann),
            "",
        )
        .await;
    assert_eq!(
        v["scores"].as_array().unwrap().len(),
        0,
        "an agent's filter is themselves"
    );
    let (s, _) = w
        .json("POST", "/api/calls/c1/scores", Some(&own), GOOD_SCORE)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not score");
    // scoring again replaces the reviewer's score
    let (s, _) = w
        .json(
            "POST",
            "/api/calls/c1/scores",
            Some(&alice),
            &format!(r#"{{"form":"standard","ratings":{}}}"#, ratings(5)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = w
        .json(
            "GET",
            &format!("/api/quality/averages?{period}"),
            Some(&alice),
            "",
        )
        .await;
    assert_eq!(
        (v["overall"]["mean"].clone(), v["overall"]["scores"].clone()),
        (70.0.into(), 2.into())
    );
    assert!(w
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "alice quality_score c1"));
}

#[tokio::test]
async fn the_monitoring_score_and_turnover_fill_a_snapshot() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let (s, _) = w
        .json("POST", "/api/calls/c1/scores", Some(&alice), GOOD_SCORE)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut snap = hotline_metrics::kpi::Snapshot {
        at_ms: 1_800_000_000_000,
        from_ms: None,
        ..Default::default()
    };
    snap.agents.insert("1001".into(), Default::default());
    // ann (an agent) started at 0 and leaves within the last year
    let root = w.session("root", Role::Admin);
    let (s, v) = w
        .json(
            "POST",
            "/api/users/ann/employment",
            Some(&root),
            r#"{"started_ms":0,"ended_ms":1790000000000}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    w.console.fill_snapshot(&mut snap).await;
    assert_eq!(snap.center.qa_score, Some(80.0));
    assert_eq!(snap.agents["1001"].qa_score, Some(80.0));
    // one agent (ann) employed at the start, none at the end, one left: 1 / 0.5
    assert_eq!(snap.center.agent_turnover, Some(2.0));
    let text = hotline_metrics::prometheus::render(&snap);
    assert!(text.contains("hotline_qa_score 80\n"), "{text}");
    assert!(
        text.contains("hotline_agent_qa_score{agent=\"1001\"} 80\n"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_scores_and_periods_are_refused_with_a_json_4xx() {
    let w = world().await;
    let a = w.session("alice", Role::Supervisor);
    let root = w.session("root", Role::Admin);
    let huge = format!(
        r#"{{"form":"standard","ratings":{},"comments":[{{"offset_ms":0,"text":"{}"}}]}}"#,
        ratings(3),
        "x".repeat(70_000)
    );
    let many = format!(
        r#"{{"form":"standard","ratings":{},"comments":[{}]}}"#,
        ratings(3),
        vec![r#"{"offset_ms":1,"text":"a"}"#; 101].join(",")
    );
    let cases: Vec<(&str, String, String, StatusCode)> = vec![
        (
            "POST",
            "/api/calls/c1/scores".into(),
            "{not json".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            "[]".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            format!(r#"{{"form":"nope","ratings":{}}}"#, ratings(3)),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            r#"{"form":"standard","ratings":{"opening":3}}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            format!(r#"{{"form":"standard","ratings":{}}}"#, ratings(6)),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            r#"{"form":"standard","ratings":{"opening":-1}}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            r#"{"form":"standard","ratings":{"opening":99999}}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            format!(
                r#"{{"form":"standard","ratings":{},"extra":1}}"#,
                ratings(3)
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            format!(
                r#"{{"form":"standard","ratings":{},"comments":[{{"offset_ms":-5,"text":"x"}}]}}"#,
                ratings(3)
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            format!(
                r#"{{"form":"standard","ratings":{},"comments":[{{"offset_ms":5,"text":"a\u0000b"}}]}}"#,
                ratings(3)
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "POST",
            "/api/calls/c1/scores".into(),
            many,
            StatusCode::BAD_REQUEST,
        ),
        // no recording, no call, a bad id
        (
            "POST",
            "/api/calls/c2/scores".into(),
            GOOD_SCORE.into(),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/api/calls/nosuch/scores".into(),
            GOOD_SCORE.into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/api/calls/..%2Fetc/scores".into(),
            GOOD_SCORE.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/averages?from=2026-13-01".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/averages?from=2026-02-01&to=2026-01-01".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/averages?from=0&to=99999999999999".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/averages?agent=1001".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/scores?limit=0".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/scores?limit=abc".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/scores?bogus=1".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            format!("/api/quality/scores?agent={}", "9".repeat(200)),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/api/quality/calibration?to=yesterday".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, want) in cases {
        let (s, v) = w.json(method, &path, Some(&a), &body).await;
        assert_eq!(
            s,
            want,
            "{method} {path} {}: {v}",
            body.chars().take(80).collect::<String>()
        );
        if s != StatusCode::PAYLOAD_TOO_LARGE {
            assert!(v["error"].is_string(), "{path}: {v}");
        }
    }
    for (body, want) in [
        (r#"{"started_ms":5,"ended_ms":1}"#, StatusCode::BAD_REQUEST),
        (r#"{"started_ms":-1}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"started_ms":99999999999999999}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"started_ms":"yesterday"}"#, StatusCode::BAD_REQUEST),
        (r#"{"fired":true}"#, StatusCode::BAD_REQUEST),
    ] {
        let (s, v) = w
            .json("POST", "/api/users/ann/employment", Some(&root), body)
            .await;
        assert_eq!(s, want, "{body}: {v}");
    }
    let (s, _) = w
        .json(
            "POST",
            "/api/users/nobody/employment",
            Some(&root),
            r#"{"started_ms":0}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // nothing was stored by the refusals
    let (_, v) = w.json("GET", "/api/calls/c1/scores", Some(&a), "").await;
    assert_eq!(v["scores"].as_array().unwrap().len(), 0);
}
