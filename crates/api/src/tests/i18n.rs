//! The console language of each user (`/api/me/language`) and the catalogue
//! assets, with malformed, hostile and oversized input.

use super::*;

#[tokio::test]
async fn a_user_stores_a_language_and_gets_it_back_in_a_new_session() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let (s, v) = w.json("GET", "/api/me/language", Some(&alice), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["language"], serde_json::Value::Null);
    assert_eq!(v["languages"][0], "zh-CN");
    let (s, v) = w
        .json(
            "PUT",
            "/api/me/language",
            Some(&alice),
            r#"{"language":"en"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["language"], "en");
    // another session of the same user; another user is not affected
    let again = w.session("alice", Role::Supervisor);
    let (_, v) = w.json("GET", "/api/me/language", Some(&again), "").await;
    assert_eq!(v["language"], "en");
    let root = w.session("root", Role::Admin);
    let (_, v) = w.json("GET", "/api/me/language", Some(&root), "").await;
    assert_eq!(v["language"], serde_json::Value::Null);
    let (s, _) = w
        .json(
            "PUT",
            "/api/me/language",
            Some(&again),
            r#"{"language":"zh-CN"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = w.json("GET", "/api/me/language", Some(&alice), "").await;
    assert_eq!(v["language"], "zh-CN");
}

#[tokio::test]
async fn bad_language_requests_are_refused_with_a_reason() {
    let w = world().await;
    let alice = w.session("alice", Role::Supervisor);
    let big = format!(r#"{{"language":"{}"}}"#, "x".repeat(5000));
    for body in [
        r#"{"language":"fr"}"#,
        r#"{"language":"zh"}"#,
        r#"{"language":"ZH-cn"}"#,
        r#"{"language":""}"#,
        r#"{"language":null}"#,
        r#"{"language":1}"#,
        r#"{"language":"en","extra":1}"#,
        r#"{}"#,
        "not json",
        r#"{"language":"en"#,
        "[\"en\"]",
        r#"{"language":"zh-CN\u0000"}"#,
        r#"{"language":"'); DROP TABLE user_language; --"}"#,
    ] {
        let (s, v) = w.json("PUT", "/api/me/language", Some(&alice), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    let (s, _) = w.json("PUT", "/api/me/language", Some(&alice), &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // nothing was stored by the refused requests
    let (_, v) = w.json("GET", "/api/me/language", Some(&alice), "").await;
    assert_eq!(v["language"], serde_json::Value::Null);
    // no session, no CSRF token, the bearer token (no user to store for)
    assert_eq!(
        w.json("PUT", "/api/me/language", None, r#"{"language":"en"}"#)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let no_csrf = Who {
        cookie: alice.cookie.clone(),
        csrf: "wrong".into(),
    };
    assert_eq!(
        w.json(
            "PUT",
            "/api/me/language",
            Some(&no_csrf),
            r#"{"language":"en"}"#
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let bearer = format!("Bearer {TOKEN}");
    let (s, _, b) = w
        .send(
            "PUT",
            "/api/me/language",
            None,
            r#"{"language":"en"}"#,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let (s, _, b) = w
        .send(
            "GET",
            "/api/me/language",
            None,
            "",
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["language"], serde_json::Value::Null);
    // a value the console no longer offers, left in the store, reads as none
    w.console
        .store()
        .set_user_language("alice", "fr", 1)
        .await
        .unwrap();
    let (_, v) = w.json("GET", "/api/me/language", Some(&alice), "").await;
    assert_eq!(v["language"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_catalogue_and_its_script_are_served_with_the_pages_policy() {
    let w = world().await;
    for (p, ty) in [
        ("/console/i18n.js", "text/javascript; charset=utf-8"),
        (
            "/console/i18n/catalogue.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/i18n/zh-CN.json", "application/json"),
        ("/console/i18n/en.json", "application/json"),
    ] {
        let (s, h, b) = w.send("GET", p, None, "", &[]).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(h[header::CONTENT_TYPE], ty, "{p}");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert!(!b.is_empty());
    }
    let (_, _, b) = w.send("GET", "/console/", None, "", &[]).await;
    let page = String::from_utf8(b).unwrap();
    // the catalogue and the lookup load before the console's script
    let cat = page.find("/console/i18n/catalogue.js").unwrap();
    let look = page.find("/console/i18n.js").unwrap();
    let app = page.find("/console/app.js").unwrap();
    assert!(cat < look && look < app, "{page}");
    assert!(page.contains("<html lang=\"zh-CN\">"));
}
