//! Call notes and complaint cases, on both databases (called from the
//! store suite with its store).

use hotline_cases::{Severity, Stage, TransitionError};
use hotline_core::{CallId, CallType};
use hotline_store::{
    CaseError, CaseFilter, CaseStatus, CaseUpdate, Cdr, LinkKind, NewCase, NewNote, Store,
};

fn note(call: &str, number: &str, summary: &str, at: i64) -> NewNote {
    NewNote {
        call_id: call.into(),
        number: number.into(),
        caller_name: Some("王芳".into()),
        contact: None,
        category: "complaint".into(),
        summary: summary.into(),
        follow_up: Some("call back with the refund".into()),
        by: "1001".into(),
        at_ms: at,
    }
}

fn new_case(number: &str, call: Option<&str>, owner: &str, at: i64) -> NewCase {
    NewCase {
        number: number.into(),
        customer_name: Some("王芳".into()),
        call_id: call.map(str::to_string),
        owner: owner.into(),
        severity: Severity::General,
        title: "parcel lost".into(),
        note: "the parcel did not arrive".into(),
        agent_concerned: None,
        deadline_ms: at + 86_400_000,
        by: owner.into(),
        at_ms: at,
    }
}

fn inbound(call: &str, caller: &str, arrived: i64) -> Cdr {
    Cdr {
        call_id: CallId::from_stored(call),
        caller: caller.into(),
        caller_name: None,
        dialled: "400".into(),
        queue: None,
        agent: Some(hotline_core::AgentId::new("1001")),
        call_type: CallType::Complaint,
        arrived_ms: arrived,
        system_answered_ms: None,
        agent_answered_ms: Some(arrived + 5_000),
        ended_ms: Some(arrived + 60_000),
        wait_ms: Some(5_000),
        talk_ms: Some(55_000),
        rings: Some(2),
        outcome: Some(hotline_core::Outcome::Answered),
        ended_by: None,
        recording_path: None,
        recording_sha256: None,
        end_cause: None,
    }
}

pub async fn suite(store: &Store, hostile: &[&str]) {
    let t0 = 9_000_000_000;
    // --- notes: hostile text round-trips, by call and by number
    for (i, h) in hostile.iter().enumerate() {
        let mut n = note("case-call-1", "13900000001", h, t0 + i as i64);
        n.caller_name = Some((*h).to_string());
        let id = store.add_note(&n).await.unwrap();
        let back = store.notes_for_call("case-call-1").await.unwrap();
        let got = back.iter().find(|x| x.id == id).unwrap();
        assert_eq!(got.note, n);
        assert_eq!(got.case_id, None);
    }
    let mut other = note("case-call-2", "13900000002", "about 0001", t0 + 100);
    other.contact = Some("13900000001".into());
    store.add_note(&other).await.unwrap();
    // the report's counts per category, in a window
    let mut order = note("case-call-9", "13900000009", "an order", t0 + 200);
    order.category = "order".into();
    store.add_note(&order).await.unwrap();
    let counts = store.note_categories(t0, t0 + 1_000).await.unwrap();
    let complaint_n = i64::try_from(hostile.len() + 1).unwrap();
    assert_eq!(
        counts,
        vec![
            ("complaint".to_string(), complaint_n),
            ("order".to_string(), 1)
        ]
    );
    assert!(store
        .note_categories(t0 + 1_000, t0 + 2_000)
        .await
        .unwrap()
        .is_empty());
    let by_number = store.notes_for_number("13900000001", 100).await.unwrap();
    assert_eq!(
        by_number.len(),
        hostile.len() + 1,
        "own calls and as contact"
    );
    assert_eq!(by_number[0].note.summary, "about 0001", "newest first");
    assert_eq!(
        store
            .notes_for_number("13900000001", 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store.notes_for_call("nope").await.unwrap().is_empty());

    // --- a case from a call: version 1, stage receive, linked to the call
    store
        .upsert_cdr(&inbound("case-call-1", "13900000001", t0))
        .await
        .unwrap();
    let c = store
        .open_case(&new_case(
            "13900000001",
            Some("case-call-1"),
            "1001",
            t0 + 1_000,
        ))
        .await
        .unwrap();
    assert_eq!((c.version, c.stage, c.closed_ms), (1, Stage::Receive, None));
    assert_eq!(c.valid, None);
    assert!(store.set_note_case(by_number[1].id, c.id).await.unwrap());
    assert!(!store.set_note_case(-5, c.id).await.unwrap());
    let links = store.case_links(c.id).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].kind, links[0].target.as_str()),
        (LinkKind::Call, "case-call-1")
    );
    assert_eq!(store.case(c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.case(-1).await.unwrap(), None);

    // --- optimistic concurrency: the second writer with the same version
    // gets a conflict, and nothing of the first is lost
    let u1 = CaseUpdate {
        severity: Some(Severity::Major),
        deadline_ms: Some(t0 + 3_600_000),
        ..CaseUpdate::default()
    };
    let u2 = CaseUpdate {
        title: Some("overwrites?".into()),
        ..CaseUpdate::default()
    };
    let after = store
        .update_case(c.id, 1, &u1, "1001", t0 + 2_000)
        .await
        .unwrap();
    assert_eq!((after.version, after.severity), (2, Severity::Major));
    match store.update_case(c.id, 1, &u2, "1002", t0 + 2_001).await {
        Err(CaseError::Conflict {
            expected: 1,
            current: 2,
            ..
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    let now = store.case(c.id).await.unwrap().unwrap();
    assert_eq!(
        (now.title.as_str(), now.severity),
        ("parcel lost", Severity::Major)
    );
    // truly concurrent writers on one version: exactly one wins
    let (a, b) = tokio::join!(
        store.update_case(c.id, 2, &u2, "1001", t0 + 3_000),
        store.advance_case(
            c.id,
            2,
            Stage::Investigate,
            "asked the courier",
            "1001",
            t0 + 3_000
        ),
    );
    let wins = [a.is_ok(), b.is_ok()];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{a:?} {b:?}");
    for r in [&a, &b] {
        if let Err(e) = r {
            assert!(matches!(e, CaseError::Conflict { .. }), "{e:?}");
        }
    }
    let mut v = store.case(c.id).await.unwrap().unwrap().version;
    assert_eq!(v, 3);
    if a.is_ok() {
        let c2 = store
            .advance_case(
                c.id,
                v,
                Stage::Investigate,
                "asked the courier",
                "1001",
                t0 + 3_001,
            )
            .await
            .unwrap();
        v = c2.version;
    }

    // --- stages: order enforced, closing needs the judgement, closes once
    match store
        .advance_case(c.id, v, Stage::Reply, "x", "1001", t0 + 4_000)
        .await
    {
        Err(CaseError::Transition(TransitionError::OutOfOrder {
            next: Stage::Analyse,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.case(c.id).await.unwrap().unwrap().version,
        v,
        "refused: unchanged"
    );
    for (i, st) in [Stage::Analyse, Stage::Handle, Stage::Reply]
        .into_iter()
        .enumerate()
    {
        let x = store
            .advance_case(c.id, v, st, hostile[i], "1001", t0 + 5_000 + i as i64)
            .await
            .unwrap();
        v = x.version;
        assert_eq!(x.stage, st);
    }
    assert_eq!(
        store.case(c.id).await.unwrap().unwrap().replied_ms,
        Some(t0 + 5_002)
    );
    match store
        .advance_case(c.id, v, Stage::Summarise, "done", "1001", t0 + 6_000)
        .await
    {
        Err(CaseError::Transition(TransitionError::NotJudged)) => {}
        other => panic!("{other:?}"),
    }
    let judged = store
        .update_case(
            c.id,
            v,
            &CaseUpdate {
                judgement: Some((true, "courier error".into())),
                escalated_to: Some("shift_leader".into()),
                agent_concerned: Some("1003".into()),
                ..CaseUpdate::default()
            },
            "super",
            t0 + 6_500,
        )
        .await
        .unwrap();
    assert_eq!(judged.valid, Some(true));
    assert_eq!(judged.escalated_ms, Some(t0 + 6_500));
    let closed = store
        .advance_case(
            c.id,
            judged.version,
            Stage::Summarise,
            "refunded; courier warned",
            "1001",
            t0 + 7_000,
        )
        .await
        .unwrap();
    assert_eq!(closed.closed_ms, Some(t0 + 7_000));
    assert_eq!(
        closed.closing_summary.as_deref(),
        Some("refunded; courier warned")
    );
    match store
        .advance_case(
            c.id,
            closed.version,
            Stage::Summarise,
            "again",
            "1001",
            t0 + 8_000,
        )
        .await
    {
        Err(CaseError::Transition(TransitionError::Closed)) => {}
        other => panic!("closing twice: {other:?}"),
    }
    match store
        .update_case(c.id, closed.version, &u2, "1001", t0 + 8_000)
        .await
    {
        Err(CaseError::Transition(TransitionError::Closed)) => {}
        other => panic!("editing a closed case: {other:?}"),
    }
    match store
        .advance_case(-7, 1, Stage::Investigate, "x", "1001", t0)
        .await
    {
        Err(CaseError::NotFound(-7)) => {}
        other => panic!("{other:?}"),
    }
    // the timeline keeps everything, in order
    let steps = store.case_steps(c.id).await.unwrap();
    let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
    let mut want = vec!["receive", "update"];
    if a.is_ok() {
        want.push("update"); // the title change won the race
    }
    want.extend([
        "investigate",
        "analyse",
        "handle",
        "reply",
        "update",
        "judge",
        "escalate",
        "summarise",
    ]);
    assert_eq!(actions, want);
    let analyse = steps.iter().find(|s| s.action == "analyse").unwrap();
    assert_eq!(analyse.note, hostile[0]);
    // links also after closing; a repeated link is not doubled
    assert!(store
        .link_case(
            c.id,
            LinkKind::Recording,
            "case-call-1",
            "super",
            t0 + 9_000
        )
        .await
        .unwrap());
    assert!(!store
        .link_case(
            c.id,
            LinkKind::Recording,
            "case-call-1",
            "super",
            t0 + 9_001
        )
        .await
        .unwrap());
    assert!(matches!(
        store.link_case(-3, LinkKind::Mark, "1", "super", t0).await,
        Err(CaseError::NotFound(-3))
    ));
    assert_eq!(store.case_links(c.id).await.unwrap().len(), 2);

    // --- open owners (routing), pages, filters, repeats for the KPI
    let c2 = store
        .open_case(&new_case("13900000002", None, "1002", t0 + 10_000))
        .await
        .unwrap();
    let c3 = store
        .open_case(&new_case("13900000002", None, "1004", t0 + 11_000))
        .await
        .unwrap();
    let c4 = store
        .open_case(&new_case(hostile[1], None, hostile[2], t0 + 12_000))
        .await
        .unwrap();
    let owners = store.open_case_owners().await.unwrap();
    let of = |n: &str| {
        owners
            .iter()
            .find(|o| o.number == n)
            .map(|o| (o.owner.clone(), o.case_id))
    };
    assert_eq!(of("13900000001"), None, "closed cases route nobody");
    assert_eq!(
        of("13900000002"),
        Some(("1004".into(), c3.id)),
        "the newest open case"
    );
    assert_eq!(of(hostile[1]), Some((hostile[2].to_string(), c4.id)));
    let all = |f: CaseFilter| async move {
        store
            .case_page(&CaseFilter {
                limit: 100,
                from_ms: Some(t0),
                ..f
            })
            .await
            .unwrap()
    };
    let p = all(CaseFilter::default()).await;
    assert_eq!(p.total, 4);
    assert_eq!(p.items[0].id, c4.id, "newest first");
    assert_eq!(
        all(CaseFilter {
            status: Some(CaseStatus::Closed),
            ..CaseFilter::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        all(CaseFilter {
            status: Some(CaseStatus::Open),
            ..CaseFilter::default()
        })
        .await
        .total,
        3
    );
    assert_eq!(
        all(CaseFilter {
            owner: Some("1002".into()),
            ..CaseFilter::default()
        })
        .await
        .items[0]
            .id,
        c2.id
    );
    assert_eq!(
        all(CaseFilter {
            severity: Some(Severity::Major),
            ..CaseFilter::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        all(CaseFilter {
            stage: Some(Stage::Receive),
            ..CaseFilter::default()
        })
        .await
        .total,
        3
    );
    assert_eq!(
        all(CaseFilter {
            agent_concerned: Some("1003".into()),
            ..CaseFilter::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        all(CaseFilter {
            number: Some(hostile[1].into()),
            ..CaseFilter::default()
        })
        .await
        .total,
        1
    );
    // c2..c4 are due at t0 + 10_000 + 1 day ...; the closed one was replied
    let od = all(CaseFilter {
        overdue_at: Some(t0 + 86_400_000 + 10_500),
        ..CaseFilter::default()
    })
    .await;
    assert_eq!(
        od.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![c2.id]
    );
    let page = store
        .case_page(&CaseFilter {
            limit: 2,
            offset: 1,
            from_ms: Some(t0),
            ..CaseFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.items.len(), page.items[0].id),
        (4, 2, c3.id)
    );
    assert_eq!(
        store
            .cases_for_number("13900000002", 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // repeats: a second inbound call from the number while c2/c3 are open
    store
        .upsert_cdr(&inbound("case-call-3", "13900000002", t0 + 20_000))
        .await
        .unwrap();
    // a call after c1 closed does not count against it
    store
        .upsert_cdr(&inbound("case-call-4", "13900000001", t0 + 30_000))
        .await
        .unwrap();
    // the owner's reply call and a callback to the number are not the
    // customer calling again (first-contact resolution counts inbound calls)
    for (call, dialled) in [("case-reply", "outbound"), ("case-callback", "callback")] {
        store
            .upsert_cdr(&Cdr {
                dialled: dialled.into(),
                ..inbound(call, "13900000001", t0 + 5_000)
            })
            .await
            .unwrap();
    }
    let reps = store
        .cases_with_repeats(t0, t0 + 100_000, t0 + 50_000)
        .await
        .unwrap();
    let r: Vec<(i64, i64)> = reps.iter().map(|x| (x.case.id, x.repeat_calls)).collect();
    assert_eq!(r, vec![(c.id, 0), (c2.id, 1), (c3.id, 1), (c4.id, 0)]);
}
