//! The HTTP API's smoke fuzz on stable (issue 19): the corpus of the
//! `http_body` target (fuzz/corpus/http_body, one valid request
//! `METHOD PATH\nBODY` a file) and deterministic mutations of each
//! (fuzz/replay.rs: bit flips, special bytes, cuts, repeats, splices
//! between seeds, huge numbers) through `crate::fuzzing::http_body`, the
//! entry point libFuzzer runs: the real router, its handlers and an
//! in-memory store, as an admin. Its invariants are in crate::fuzzing.

use super::*;

#[path = "../../../../fuzz/replay.rs"]
mod replay;

fn corpus() -> Vec<(String, Vec<u8>)> {
    replay::project_corpus("http_body")
}

#[test]
fn mutated_bodies_and_queries_get_a_json_4xx_never_a_5xx_or_a_panic() {
    let seeds = corpus();
    assert!(seeds.len() >= 40, "the corpus is in fuzz/corpus/http_body");
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let runs = replay::replay(&seeds, 60, |input| {
        if let Some(s) = crate::fuzzing::http_body(input) {
            *statuses.borrow_mut().entry(s).or_default() += 1;
        }
    });
    let statuses = statuses.into_inner();
    eprintln!("{runs} requests from {} seeds: {statuses:?}", seeds.len());
    let ok: usize = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    assert!(ok > 0, "no mutation reached a handler's success path");
    assert!(
        statuses.contains_key(&400),
        "no mutation reached a handler's refusal"
    );
}

#[test]
fn every_console_route_the_tests_call_has_a_seed_in_the_corpus() {
    // the corpus follows the tests' requests: a route added to
    // `endpoints()` needs its seed file (fuzz/corpus/http_body/*.req)
    let lines: std::collections::BTreeSet<String> = corpus()
        .into_iter()
        .filter_map(|(_, data)| {
            let text = String::from_utf8(data).ok()?;
            Some(text.lines().next()?.to_string())
        })
        .collect();
    for (method, path, _, _) in endpoints() {
        if path == "/api/logout" {
            continue; // would end the harness's session
        }
        assert!(
            lines.contains(&format!("{method} {path}")),
            "no seed for {method} {path} in fuzz/corpus/http_body"
        );
    }
}

#[test]
fn every_seed_is_a_request_of_a_route_that_answers() {
    // a seed is a valid request: none ends in 5xx, most succeed (the
    // reads of a case before any case exists may be 404)
    let mut ok = 0;
    for (name, data) in corpus() {
        if name.starts_with("regression_") {
            continue; // a finding, not a valid request
        }
        let (method, path, _) = crate::fuzzing::request_of(&data);
        assert!(
            crate::fuzzing::BODY_ROUTES.contains(&format!("{method} {}", path).as_str())
                || method == "GET"
                || method == "DELETE",
            "{name}: {method} {path} takes a body but is not in BODY_ROUTES"
        );
        let status = crate::fuzzing::http_body(&data).expect("a request");
        if (200..300).contains(&status) {
            ok += 1;
        }
    }
    assert!(ok >= 35, "only {ok} seeds succeed");
}

#[tokio::test]
async fn a_known_path_with_another_method_is_a_json_405_with_allow() {
    let w = world().await;
    let root = w.session("root", Role::Admin);
    let (s, h, b) = w
        .send("PATCH", "/api/blacklist", Some(&root), "", &[])
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let allow = h
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert!(v["error"].is_string(), "{v}");
}

#[test]
fn regression_a_path_parameter_that_is_not_utf8_is_a_json_400() {
    // found by the libFuzzer `http_body` target (corpus file
    // regression_invalid_utf8_in_a_path_parameter.req): axum's own Path
    // rejection answered 400 in plain text on every route that took the
    // path raw (call and agent actions, monitor, bans, work list, duty)
    let seeds = corpus();
    let (_, found) = seeds
        .iter()
        .find(|(n, _)| n == "regression_invalid_utf8_in_a_path_parameter.req")
        .expect("seed in the corpus");
    assert_eq!(crate::fuzzing::http_body(found), Some(400));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(every_route_taking_a_path_answers_bad_utf8_in_json());
}

async fn every_route_taking_a_path_answers_bad_utf8_in_json() {
    let w = world().await;
    let root = w.session("root", Role::Admin);
    for (method, path) in [
        ("POST", "/api/calls/%FF%FE/hold"),
        ("POST", "/api/agents/%C3%28/pause"),
        ("GET", "/api/agents/%80/call"),
        ("POST", "/api/agents/%80/call/hold"),
        ("GET", "/api/agents/%E2%82/customer"),
        ("POST", "/api/monitor/%FF"),
        ("DELETE", "/api/monitor/%FF"),
        ("DELETE", "/api/sip/bans/ip/%FF"),
    ] {
        let (s, h, b) = w.send(method, path, Some(&root), "{}", &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{method} {path}"
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("bad path")),
            "{method} {path}: {v}"
        );
    }
}
