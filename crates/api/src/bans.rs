//! Password guessing on SIP, over HTTP (issue 19): the sources the SIP
//! registrar banned and the user names it locked after failed digest
//! answers, and lifting one early.
//!
//! - `GET /api/sip/bans`: the bans and locks in force;
//! - `DELETE /api/sip/bans/{kind}/{target}`: lift one (`source/203.0.113.7`,
//!   `user/1001`); 404 if it is not banned.
//!
//! Supervisors and admins only (a console session, or the bearer token);
//! agents get 403. A lift is written to the audit log with who lifted it
//! (the bans themselves are written there by the engine as they happen).

use crate::engine::Api;
use crate::routes::Routes;
use crate::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_engine::bans::{Ban, BanTarget};
use serde::Serialize;
use std::net::IpAddr;
use tracing::warn;

/// Longest user name a lift may name, characters.
pub const MAX_USER: usize = 64;

pub(crate) fn routes() -> Routes<Api> {
    Routes::new()
        .get("/api/sip/bans", list)
        .delete("/api/sip/bans/{kind}/{target}", lift)
}

/// One ban or lock as listed.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct BanView {
    /// `source` (every datagram of the address is dropped) or `user` (the
    /// name is answered 403 except from addresses that proved its password).
    pub kind: &'static str,
    /// The address or user name.
    pub target: String,
    /// When it ends, epoch ms.
    pub until_ms: i64,
    /// Seconds left.
    pub remaining_s: i64,
    /// Bans of this target in a row (each doubles the length).
    pub offences: u32,
}

impl BanView {
    /// `ban` as seen at `now_ms`.
    pub fn of(ban: &Ban, now_ms: i64) -> Self {
        let (kind, target) = match &ban.target {
            BanTarget::Source(ip) => ("source", ip.to_string()),
            BanTarget::User(u) => ("user", u.clone()),
        };
        BanView {
            kind,
            target,
            until_ms: ban.until_ms,
            remaining_s: (ban.until_ms.saturating_sub(now_ms).max(0) + 999) / 1000,
            offences: ban.offences,
        }
    }
}

/// Who asks: a supervisor's (or admin's) session or the bearer token.
async fn supervisor(
    api: &Api,
    headers: &HeaderMap,
    changes: bool,
) -> Result<crate::Principal, Response> {
    crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        headers,
        changes,
        hotline_store::Role::Supervisor,
        crate::auth::NoToken::LogIn,
    )
    .await
    .map_err(IntoResponse::into_response)
}

/// The target a lift names, or 400 saying what is wrong.
pub fn parse_target(kind: &str, target: &str) -> Result<BanTarget, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    match kind {
        "source" => {
            if target.len() > 64 {
                return Err(bad(format!(
                    "target: an IP address, not {} bytes",
                    target.len()
                )));
            }
            target
                .parse::<IpAddr>()
                .map(|ip| BanTarget::Source(ip.to_canonical()))
                .map_err(|_| {
                    bad(format!(
                        "target: `{}` is not an IP address (e.g. 203.0.113.7 or 2001:db8::1)",
                        target.escape_debug()
                    ))
                })
        }
        "user" => {
            let n = target.chars().count();
            if n == 0 || n > MAX_USER {
                return Err(bad(format!(
                    "target: a user name of 1 to {MAX_USER} characters, got {n}"
                )));
            }
            if target.chars().any(char::is_control) {
                return Err(bad("target: a user name has no control characters".into()));
            }
            Ok(BanTarget::User(target.to_string()))
        }
        other => Err(bad(format!(
            "kind: `source` or `user`, not `{}`",
            other.chars().take(20).collect::<String>().escape_debug()
        ))),
    }
}

/// `GET /api/sip/bans`.
async fn list(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(r) = supervisor(&api, &headers, false).await {
        return r;
    }
    let (bans, now) = api.bans.list();
    let bans: Vec<BanView> = bans.iter().map(|b| BanView::of(b, now)).collect();
    Json(serde_json::json!({
        "enabled": api.bans.enabled(),
        "now_ms": now,
        "bans": bans,
        "dropped": api.bans.dropped(),
    }))
    .into_response()
}

/// `DELETE /api/sip/bans/{kind}/{target}`.
async fn lift(
    State(api): State<Api>,
    headers: HeaderMap,
    Path((kind, target)): Path<(String, String)>,
) -> Response {
    let who = match supervisor(&api, &headers, true).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let target = match parse_target(&kind, &target) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if !api.bans.lift(&target) {
        return ApiError::new(StatusCode::NOT_FOUND, format!("{target} is not banned"))
            .into_response();
    }
    let shown = hotline_engine::bans::shown(&target.to_string());
    if let Err(e) = api
        .console
        .store()
        .append_audit(
            api.console.now(),
            &who.audit_name(),
            "sip_ban_lift",
            None,
            &shown,
        )
        .await
    {
        warn!(error = %e, "console: cannot write the SIP ban lift to the audit log");
    }
    tracing::info!(target: "hotline::security", lifted = %shown, by = %who.audit_name(), "SIP ban lifted");
    let view = BanView::of(
        &Ban {
            target,
            until_ms: 0,
            offences: 0,
        },
        0,
    );
    Json(serde_json::json!({ "lifted": { "kind": view.kind, "target": view.target } }))
        .into_response()
}

#[cfg(test)]
#[path = "tests/bans.rs"]
mod tests;
