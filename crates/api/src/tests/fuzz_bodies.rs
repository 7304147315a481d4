//! The HTTP API's smoke fuzz on stable (issue 19): the request bodies and
//! query strings of the console's routes, each a seed `METHOD PATH\nBODY`
//! (a valid request) and deterministic mutations of it (fuzz/replay.rs: bit
//! flips, special bytes, cuts, repeats, splices between seeds, huge numbers),
//! sent through the real router, its handlers and an in-memory store as an
//! admin. Invariants: no panic, no 5xx, every error answered in JSON. A
//! mutated first line that is no longer a request line is sent as a body
//! to the seed's route.

use super::*;

#[path = "../../../../fuzz/replay.rs"]
mod replay;

/// Valid requests, one a seed.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = endpoints()
        .into_iter()
        // the session must live through the run
        .filter(|(_, path, _, _)| *path != "/api/logout")
        .map(|(method, path, body, _)| {
            (
                format!("{method} {path}"),
                format!("{method} {path}\n{body}").into_bytes(),
            )
        })
        .collect();
    for (method, path, body) in [
        (
            "POST",
            "/api/login",
            r#"{"user":"root","password":"wrong guess"}"#,
        ),
        (
            "POST",
            "/api/blacklist",
            r#"{"pattern":"0612345678","reason":"恶意投诉 — extortion","action":"reject"}"#,
        ),
        (
            "POST",
            "/api/recordings/c1/marks",
            r#"{"kind":"threat","note":"\u0000\ud83d\ude00","offset_ms":18446744073709551615}"#,
        ),
        (
            "GET",
            "/api/calls?caller=0611111111&from=2026-11-01&to=2026-11-30&page=2&per_page=50",
            "",
        ),
        (
            "GET",
            "/api/recordings?agent=1001&from=2023-11-14&marked=true",
            "",
        ),
        ("GET", "/api/recordings/c1/waveform?points=4000", ""),
        ("GET", "/api/audit?from_ms=0&limit=10", ""),
        (
            "GET",
            "/api/quality/scores?agent=1001&from=2026-11-01&to=2026-11-30",
            "",
        ),
    ] {
        out.push((
            format!("{method} {path}"),
            format!("{method} {path}\n{body}").into_bytes(),
        ));
    }
    out.sort();
    out
}

/// Splits an input into the request line's method and path and the body;
/// a line that is no longer a request line leaves the whole input a body
/// for the `fallback` route (`METHOD PATH`).
fn request_of<'a>(input: &'a [u8], fallback: &str) -> (String, String, &'a [u8]) {
    let (line, body) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let parsed = std::str::from_utf8(line).ok().and_then(|l| {
        let (m, p) = l.split_once(' ')?;
        let ok = ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m)
            && p.starts_with('/')
            && p.parse::<axum::http::Uri>().is_ok();
        ok.then(|| (m.to_string(), p.to_string()))
    });
    match parsed {
        Some((m, p)) => (m, p, body),
        None => {
            let (m, p) = fallback.split_once(' ').unwrap_or(("POST", "/api/login"));
            (m.to_string(), p.to_string(), input)
        }
    }
}

#[test]
fn mutated_bodies_and_queries_get_a_json_4xx_never_a_5xx_or_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let w = rt.block_on(world());
    let who = w.session("root", Role::Admin);
    let seeds = seeds();
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let with_body: Vec<String> = seeds
        .iter()
        .filter(|(_, s)| !s.ends_with(b"\n"))
        .map(|(n, _)| n.clone())
        .collect();
    let runs = replay::replay(&seeds, 80, |input| {
        let fallback = &with_body[input.len() % with_body.len()];
        let (method, path, body) = request_of(input, fallback);
        let mut b = Request::builder()
            .method(method.as_str())
            .uri(path.as_str())
            .header(header::COOKIE, &who.cookie)
            .header(auth::CSRF_HEADER, &who.csrf);
        if !body.is_empty() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let Ok(req) = b.body(Body::from(body.to_vec())) else {
            return;
        };
        let (status, ctype) = rt.block_on(async {
            let r = w.app.clone().oneshot(req).await.unwrap();
            let status = r.status();
            let ctype = r
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let _ = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
            (status, ctype)
        });
        *statuses.borrow_mut().entry(status.as_u16()).or_default() += 1;
        assert!(!status.is_server_error(), "{method} {path}: {status}");
        if status.is_client_error() && status != StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(
                ctype.as_deref(),
                Some("application/json"),
                "{method} {path}: {status} is not JSON"
            );
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
}
