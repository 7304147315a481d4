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

use crate::api::JsonPath;
use crate::engine::Api;
use crate::routes::Routes;
use crate::ApiError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_engine::bans::{Ban, BanTarget, Dropped, GateCounters, SipBans};
use serde::Serialize;
use std::fmt::Write as _;
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
    JsonPath((kind, target)): JsonPath<(String, String)>,
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

/// The SIP defence's families of `/metrics` (Prometheus text format):
/// what the gate turned away, the bans and locks in force and those issued,
/// read from the running SIP server (zeros without one, so the series never
/// disappear).
pub(crate) fn exposition(bans: &SipBans) -> String {
    let (list, _) = bans.list();
    render_defence(&bans.dropped(), &bans.counters(), &list)
}

/// [`exposition`] of given counters and bans in force.
pub fn render_defence(dropped: &Dropped, counters: &GateCounters, bans: &[Ban]) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, samples: &[(Option<(&str, &str)>, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (label, v) in samples {
                match label {
                    Some((k, l)) => {
                        let _ = writeln!(out, "{name}{{{k}=\"{l}\"}} {v}");
                    }
                    None => {
                        let _ = writeln!(out, "{name} {v}");
                    }
                }
            }
        };
    let reason = |r| Some(("reason", r));
    family(
        "hotline_sip_dropped_datagrams_total",
        "counter",
        "SIP datagrams turned away before the SIP stack, by reason: malformed (did not parse; answered 400 when a response can be routed), rate_limited (the per-source flood limit), banned_source (a source banned for password guessing), scanner (a known scanner's User-Agent), oversize (over 8 KiB).",
        &[
            (reason("malformed"), counters.malformed_datagrams),
            (reason("rate_limited"), counters.throttled_datagrams),
            (reason("banned_source"), dropped.banned_datagrams),
            (reason("scanner"), dropped.scanner_requests),
            (reason("oversize"), counters.oversized_datagrams),
        ],
    );
    family(
        "hotline_sip_banned_connections_total",
        "counter",
        "SIP TCP and TLS connections from banned sources, closed at once.",
        &[(None, dropped.banned_connections)],
    );
    let sources = bans
        .iter()
        .filter(|b| matches!(b.target, BanTarget::Source(_)))
        .count() as u64;
    let users = bans.len() as u64 - sources;
    family(
        "hotline_sip_banned_sources",
        "gauge",
        "Sources banned for password guessing now: every datagram and connection from them is dropped ([sip.lockout]).",
        &[(None, sources)],
    );
    family(
        "hotline_sip_locked_users",
        "gauge",
        "User names locked for password guessing now: answered 403 except from addresses that proved the password ([sip.lockout]).",
        &[(None, users)],
    );
    family(
        "hotline_sip_bans_issued_total",
        "counter",
        "Bans issued since the start, by kind: source (an address banned) or user (a name locked); lifts and ends do not lower it.",
        &[
            (Some(("kind", "source")), counters.sources_banned),
            (Some(("kind", "user")), counters.users_locked),
        ],
    );
    out
}

#[cfg(test)]
#[path = "tests/bans.rs"]
mod tests;
