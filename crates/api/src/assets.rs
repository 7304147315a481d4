//! The web UI (embedded: no build step) and the OpenAPI document.

use crate::routes::Routes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// The single page of the console.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script.
pub const APP_JS: &str = include_str!("assets/app.js");
/// The cases, case and customer pages (loaded after app.js).
pub const CASES_JS: &str = include_str!("assets/cases.js");
/// The quality score form beside the player (its own file: issue 17).
pub const QUALITY_JS: &str = include_str!("assets/quality.js");
/// The work-list and return-visit pages (loaded after app.js).
pub const WORKLIST_JS: &str = include_str!("assets/worklist.js");
/// The duty floor: roster, attendance, handover pages and the wallboard
/// panel (loaded after app.js).
pub const DUTY_JS: &str = include_str!("assets/duty.js");
/// The agent's desk: the caller's card while the phone rings (issue 15).
pub const DESK_JS: &str = include_str!("assets/desk.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("assets/style.css");
/// The live-monitoring buttons of the wallboard (issue 17).
pub const MONITOR_JS: &str = include_str!("assets/monitor.js");
/// The line self-test panel of the wallboard (issue 16).
pub const LINETEST_JS: &str = include_str!("assets/linetest.js");
/// The SIP bans panel of the blacklist page (issue 19).
pub const BANS_JS: &str = include_str!("assets/bans.js");
/// The HA pair's line on the wallboard (issue 18).
pub const CLUSTER_JS: &str = include_str!("assets/cluster.js");
/// The OpenAPI 3.1 description of the API.
pub const OPENAPI_JSON: &str = include_str!("assets/openapi.json");

/// What the pages may load: only from here; audio also from blob URLs (the
/// player decodes the fetched file in memory).
const CSP: &str = "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/", || async { Redirect::to("/console/") })
        .get("/console", || async { Redirect::to("/console/") })
        .get("/console/", || async {
            asset("text/html; charset=utf-8", INDEX_HTML)
        })
        .get("/console/app.js", || async {
            asset("text/javascript; charset=utf-8", APP_JS)
        })
        .get("/console/monitor.js", || async {
            asset("text/javascript; charset=utf-8", MONITOR_JS)
        })
        .get("/console/cases.js", || async {
            asset("text/javascript; charset=utf-8", CASES_JS)
        })
        .get("/console/quality.js", || async {
            asset("text/javascript; charset=utf-8", QUALITY_JS)
        })
        .get("/console/worklist.js", || async {
            asset("text/javascript; charset=utf-8", WORKLIST_JS)
        })
        .get("/console/duty.js", || async {
            asset("text/javascript; charset=utf-8", DUTY_JS)
        })
        .get("/console/linetest.js", || async {
            asset("text/javascript; charset=utf-8", LINETEST_JS)
        })
        .get("/console/cluster.js", || async {
            asset("text/javascript; charset=utf-8", CLUSTER_JS)
        })
        .get("/console/bans.js", || async {
            asset("text/javascript; charset=utf-8", BANS_JS)
        })
        .get("/console/desk.js", || async {
            asset("text/javascript; charset=utf-8", DESK_JS)
        })
        .get("/console/style.css", || async {
            asset("text/css; charset=utf-8", STYLE_CSS)
        })
        .get("/api/openapi.json", || async {
            asset("application/json", OPENAPI_JSON)
        })
}
