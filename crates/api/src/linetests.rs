//! The line self-test and the notification record over HTTP:
//! `GET /api/line-tests` (results, newest first), `POST /api/line-tests`
//! (a supervisor runs one now) and `GET /api/notifications` (delivery
//! attempts of alarms and reports).

use crate::engine::Api;
use crate::routes::Routes;
use crate::ApiError;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_engine::linetest::LineTestError;
use serde::Deserialize;

/// Most days a listing looks back.
pub const MAX_DAYS: i64 = 92;

pub(crate) fn routes() -> Routes<Api> {
    Routes::new()
        .get("/api/line-tests", list)
        .post("/api/line-tests", run_now)
        .get("/api/notifications", deliveries)
}

/// Query of the listings.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Listing {
    /// Days back from now (1–92, default 7).
    days: Option<i64>,
    /// Rows at most (1–1000, default 100).
    limit: Option<i64>,
}

fn window(q: &Listing) -> Result<(i64, i64), ApiError> {
    let days = q.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("days: 1 to {MAX_DAYS}"),
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=hotline_store::MAX_DELIVERIES).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("limit: 1 to {}", hotline_store::MAX_DELIVERIES),
        ));
    }
    Ok((days, limit))
}

fn now_ms() -> i64 {
    hotline_core::Clock::now_ms(&hotline_core::SystemClock)
}

/// `GET /api/line-tests?days=7&limit=100`.
async fn list(
    State(api): State<Api>,
    q: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}"))
                .into_response()
        }
    };
    let (days, limit) = match window(&q) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    match api
        .console
        .store()
        .line_tests(now - days * 86_400_000, now + 1, limit)
        .await
    {
        Ok(tests) => Json(serde_json::json!({
            "enabled": api.line_tests.enabled(),
            "tests": tests,
        }))
        .into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// A supervisor's session (or admin's) or the bearer token: `api:<name>`.
async fn supervisor(
    api: &Api,
    headers: &HeaderMap,
    what: &'static str,
) -> Result<String, Response> {
    crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        headers,
        true,
        hotline_store::Role::Supervisor,
        crate::auth::NoToken::Disabled(what),
    )
    .await
    .map(|p| format!("api:{}", p.name))
    .map_err(IntoResponse::into_response)
}

/// `POST /api/line-tests`: runs a test now and answers with its result
/// (takes up to the ring time plus the tone exchange).
async fn run_now(State(api): State<Api>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let by = match supervisor(&api, &headers, "the line test").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !(body.iter().all(u8::is_ascii_whitespace) || body.as_ref() == b"{}") {
        return ApiError::new(StatusCode::BAD_REQUEST, "no body expected (or `{}`)")
            .into_response();
    }
    match api.line_tests.run_now(&by).await {
        Ok(event) => Json(event).into_response(),
        Err(e @ LineTestError::Off) | Err(e @ LineTestError::Busy) => {
            ApiError::new(StatusCode::CONFLICT, e).into_response()
        }
        Err(e @ LineTestError::Stopped) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e).into_response()
        }
    }
}

/// `GET /api/notifications?days=7&limit=100`: delivery attempts, newest first.
async fn deliveries(
    State(api): State<Api>,
    headers: HeaderMap,
    q: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = supervisor(&api, &headers, "the notification record").await {
        return r;
    }
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}"))
                .into_response()
        }
    };
    let (days, limit) = match window(&q) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    match api
        .console
        .store()
        .deliveries(now_ms() - days * 86_400_000, limit)
        .await
    {
        Ok(d) => Json(d).into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}
