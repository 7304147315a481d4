//! Passwords (Argon2id), sessions, CSRF tokens, the login rate limit and the
//! login/logout/session endpoints.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::routes::Routes;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_store::{Role, User};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::{ApiError, Console};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hotline_session";
/// The header carrying the CSRF token on state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions held at most; the oldest is dropped beyond.
pub const MAX_SESSIONS: usize = 10_000;
/// Rate-limit keys held at most.
const MAX_LIMIT_KEYS: usize = 100_000;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Argon2 refused (should not happen with the default parameters).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The Argon2id PHC string of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a hash that
/// does not parse).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash verified against when the user is unknown, so an unknown user
/// costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// The user `name` if `password` is theirs, else None: the one password
/// check of the console's login and the command line (an unknown user
/// costs as much time as a wrong password; Argon2 runs off the async
/// threads).
pub async fn check_password(
    store: &hotline_store::Store,
    name: &str,
    password: &str,
) -> Result<Option<User>, hotline_store::StoreError> {
    let user = store.user(name).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    Ok(user.filter(|_| matches))
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's name (`api` for the bearer token).
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Whether they came with a session (false: the bearer token).
    pub session: bool,
}

impl Principal {
    /// The bearer token's principal: the supervisor role.
    pub fn api() -> Principal {
        Principal {
            name: "api".into(),
            role: Role::Supervisor,
            session: false,
        }
    }

    /// The name written in the audit log.
    pub fn audit_name(&self) -> String {
        if self.session {
            format!("user:{}", self.name)
        } else {
            "api:token".into()
        }
    }

    /// Who acts, for recording access.
    pub fn actor(&self) -> hotline_recorder::access::Actor {
        hotline_recorder::access::Actor {
            name: self.name.clone(),
            audit_name: self.audit_name(),
            admin: self.role >= Role::Admin,
        }
    }
}

/// Ok(p) if `p` has at least role `min`, else 403.
pub fn need(p: Principal, min: Role) -> Result<Principal, ApiError> {
    if p.role >= min {
        Ok(p)
    } else {
        Err(ApiError::forbidden(format!(
            "`{}` ({}) may not do this: it needs the {} role",
            p.name,
            p.role.as_str(),
            min.as_str()
        )))
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a request gets when it has neither a session nor the bearer token.
#[derive(Debug, Clone, Copy)]
pub enum NoToken {
    /// 401: log in first (the console's API).
    LogIn,
    /// With no `http.api_token` configured: 403, the named feature is
    /// disabled (agent and call control without a console session).
    Disabled(&'static str),
}

/// The one principal check of the listener: a console session (with its
/// CSRF token when the request `changes` something; the role read from the
/// store) or `Authorization: Bearer <http.api_token>` (the supervisor
/// role). 401 without valid credentials, 403 below `min` (or, per
/// `no_token`, when no token is configured).
pub async fn principal(
    console: Option<&crate::Console>,
    token: &str,
    headers: &HeaderMap,
    changes: bool,
    min: Role,
    no_token: NoToken,
) -> Result<Principal, ApiError> {
    if let Some(c) = console {
        if let Some(r) = c.session_principal(headers, changes, min).await {
            return r;
        }
    }
    let unauthorized = |m: &str| Err(ApiError::new(StatusCode::UNAUTHORIZED, m));
    match (bearer(headers), no_token) {
        (Some(given), _) if !token.is_empty() && same_secret(given, token) => {
            need(Principal::api(), min)
        }
        (_, NoToken::Disabled(what)) if token.is_empty() => Err(ApiError::forbidden(format!(
            "{what} is disabled: set http.api_token in the config"
        ))),
        (Some(_), _) => unauthorized("wrong bearer token"),
        (None, NoToken::LogIn) => unauthorized("log in first (POST /api/login)"),
        (None, NoToken::Disabled(_)) => unauthorized("missing bearer token"),
    }
}

/// Who may call an area's routes: the console's sessions (when its routes
/// are served) and `http.api_token`. Built once by [`crate::Api`] and
/// handed to every area whose routes keep a state of their own (work
/// lists, the duty floor), so there is one copy of the console and the
/// token and one principal check.
#[derive(Clone)]
pub struct Gate {
    /// The console (sessions and roles), None when its routes are off.
    pub console: Option<crate::Console>,
    /// `http.api_token` (the supervisor role); empty = none.
    pub token: String,
}

impl Gate {
    /// [`principal`] with this gate's console and token; a request with
    /// neither a session nor the token gets 401 "log in first".
    pub async fn principal(
        &self,
        headers: &HeaderMap,
        changes: bool,
        min: Role,
    ) -> Result<Principal, ApiError> {
        principal(
            self.console.as_ref(),
            &self.token,
            headers,
            changes,
            min,
            NoToken::LogIn,
        )
        .await
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The session cookie of a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim())
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// One logged-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The user.
    pub user: String,
    /// Their role at login.
    pub role: Role,
    /// The token state changes must carry in `X-CSRF-Token`.
    pub csrf: String,
    /// Login time, epoch ms.
    pub created_ms: i64,
    /// Last request, epoch ms.
    pub last_ms: i64,
}

/// The sessions, by the SHA-256 of their cookie (the cookie itself is not
/// kept), with idle and absolute expiry.
#[derive(Debug)]
pub struct Sessions {
    by_key: HashMap<String, Session>,
    idle_ms: i64,
    max_ms: i64,
}

impl Sessions {
    /// Sessions ending after `idle_ms` without a request or `max_ms` after login.
    pub fn new(idle_ms: u64, max_ms: u64) -> Self {
        Sessions {
            by_key: HashMap::new(),
            idle_ms: i64::try_from(idle_ms).unwrap_or(i64::MAX),
            max_ms: i64::try_from(max_ms).unwrap_or(i64::MAX),
        }
    }

    fn alive(&self, s: &Session, now: i64) -> bool {
        now - s.last_ms < self.idle_ms && now - s.created_ms < self.max_ms
    }

    /// Opens a session; returns (cookie token, session).
    pub fn open(&mut self, user: &str, role: Role, now: i64) -> (String, Session) {
        if self.by_key.len() >= MAX_SESSIONS {
            let (idle, max) = (self.idle_ms, self.max_ms);
            self.by_key
                .retain(|_, s| now - s.last_ms < idle && now - s.created_ms < max);
            if self.by_key.len() >= MAX_SESSIONS {
                if let Some(oldest) = self
                    .by_key
                    .iter()
                    .min_by_key(|(_, s)| s.last_ms)
                    .map(|(k, _)| k.clone())
                {
                    self.by_key.remove(&oldest);
                }
            }
        }
        let token = random_token();
        let s = Session {
            user: user.to_string(),
            role,
            csrf: random_token(),
            created_ms: now,
            last_ms: now,
        };
        self.by_key.insert(token_key(&token), s.clone());
        (token, s)
    }

    /// The live session of `token`, its idle clock restarted; an expired one
    /// is removed.
    pub fn touch(&mut self, token: &str, now: i64) -> Option<Session> {
        let key = token_key(token);
        let alive = self.by_key.get(&key).map(|s| self.alive(s, now))?;
        if !alive {
            self.by_key.remove(&key);
            return None;
        }
        let s = self.by_key.get_mut(&key)?;
        s.last_ms = now;
        Some(s.clone())
    }

    /// Ends the session of `token`.
    pub fn close(&mut self, token: &str) -> bool {
        self.by_key.remove(&token_key(token)).is_some()
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Failed logins per key (`user:NAME`, `ip:ADDR`) in a sliding window; time
/// is an argument, so tests run it on a fake clock.
#[derive(Debug)]
pub struct LoginLimiter {
    max: u32,
    window_ms: i64,
    failures: HashMap<String, VecDeque<i64>>,
}

impl LoginLimiter {
    /// At most `max` failures per key within `window_ms`.
    pub fn new(max: u32, window_ms: u64) -> Self {
        LoginLimiter {
            max: max.max(1),
            window_ms: i64::try_from(window_ms).unwrap_or(i64::MAX),
            failures: HashMap::new(),
        }
    }

    fn prune(&mut self, key: &str, now: i64) {
        let w = self.window_ms;
        if let Some(q) = self.failures.get_mut(key) {
            while q.front().is_some_and(|t| now - t >= w) {
                q.pop_front();
            }
            if q.is_empty() {
                self.failures.remove(key);
            }
        }
    }

    /// Ms until an attempt under any of `keys` is allowed again (None:
    /// allowed now).
    pub fn blocked(&mut self, keys: &[String], now: i64) -> Option<i64> {
        let mut wait = None;
        for k in keys {
            self.prune(k, now);
            if let Some(q) = self.failures.get(k) {
                if q.len() >= self.max as usize {
                    let until = q.front().map(|t| t + self.window_ms - now).unwrap_or(0);
                    wait = Some(wait.unwrap_or(0).max(until.max(1)));
                }
            }
        }
        wait
    }

    /// Counts a failed attempt under each of `keys`.
    pub fn fail(&mut self, keys: &[String], now: i64) {
        if self.failures.len() >= MAX_LIMIT_KEYS {
            let w = self.window_ms;
            self.failures
                .retain(|_, q| q.back().is_some_and(|t| now - t < w));
        }
        for k in keys {
            let q = self.failures.entry(k.clone()).or_default();
            q.push_back(now);
            while q.len() > self.max as usize {
                q.pop_front();
            }
        }
    }

    /// Forgets the failures of `key` (after a successful login).
    pub fn clear(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .post("/api/login", login)
        .post("/api/logout", logout)
        .get("/api/session", session)
}

/// Body of `POST /api/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
}

/// Parses a JSON body into `T`, or a 400 that says why.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

/// [`parse_json`] of a body of at most `max` bytes; a larger one is 413.
pub(crate) fn parse_json_at_most<T: serde::de::DeserializeOwned>(
    body: &[u8],
    max: usize,
) -> Result<T, ApiError> {
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {} bytes; at most {max}", body.len()),
        ));
    }
    parse_json(body)
}

pub(crate) async fn read_body(req: Request, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {limit} bytes"),
            )
        })
}

fn cookie(c: &Console, value: &str, max_age_s: u64) -> Option<HeaderValue> {
    let secure = if c.inner.cfg.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .ok()
}

fn session_json(s: &Session, expires_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "user": s.user,
        "role": s.role.as_str(),
        "csrf": s.csrf,
        "expires_ms": expires_ms,
    })
}

async fn login(State(c): State<Console>, req: Request) -> Result<Response, ApiError> {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    // a cross-site form cannot send application/json without a preflight
    // (refused): no login forgery from another site
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the login as Content-Type: application/json",
        ));
    }
    let body: LoginBody = parse_json(&read_body(req, 4096).await?)?;
    if body.user.is_empty() || body.user.len() > 64 || body.password.len() > 1024 {
        return Err(ApiError::bad_request(
            "user must be 1-64 bytes and password at most 1024",
        ));
    }
    let keys = [format!("ip:{ip}"), format!("user:{}", body.user)];
    let now = c.now();
    let blocked = match c.inner.limiter.lock() {
        Ok(mut l) => l.blocked(&keys, now),
        Err(p) => p.into_inner().blocked(&keys, now),
    };
    if let Some(wait_ms) = blocked {
        warn!(user = %body.user, %ip, "console login refused: too many failed attempts");
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins: wait and try again",
        );
        e.retry_after_s = Some(u64::try_from(wait_ms.max(1)).unwrap_or(1).div_ceil(1000));
        return Err(e);
    }
    let user = match check_password(&c.inner.store, &body.user, &body.password).await? {
        Some(u) => u,
        None => {
            match c.inner.limiter.lock() {
                Ok(mut l) => l.fail(&keys, now),
                Err(p) => p.into_inner().fail(&keys, now),
            }
            warn!(user = %body.user, %ip, "console login failed");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown user or wrong password",
            ));
        }
    };
    match c.inner.limiter.lock() {
        Ok(mut l) => l.clear(&keys[1]),
        Err(p) => p.into_inner().clear(&keys[1]),
    }
    let (token, s) = match c.inner.sessions.lock() {
        Ok(mut ss) => ss.open(&user.name, user.role, now),
        Err(p) => p.into_inner().open(&user.name, user.role, now),
    };
    info!(user = %user.name, role = user.role.as_str(), %ip, "console login");
    c.inner
        .store
        .append_audit(now, &format!("user:{}", user.name), "login", None, &ip)
        .await?;
    let max_s = c.inner.cfg.session_max_s;
    let expires = now + i64::try_from(max_s * 1000).unwrap_or(i64::MAX / 2);
    let mut r = Json(session_json(&s, expires)).into_response();
    if let Some(v) = cookie(&c, &token, max_s) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn logout(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    let p = c
        .authorize(&headers, &axum::http::Method::POST, Role::Agent)
        .await?;
    if let Some(token) = session_cookie(&headers) {
        match c.inner.sessions.lock() {
            Ok(mut s) => s.close(token),
            Err(p) => p.into_inner().close(token),
        };
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = cookie(&c, "", 0) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    info!(user = %p.name, "console logout");
    Ok(r)
}

async fn session(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = session_cookie(&headers)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not logged in"))?;
    let now = c.now();
    let s = match c.inner.sessions.lock() {
        Ok(mut ss) => ss.touch(token, now),
        Err(p) => p.into_inner().touch(token, now),
    }
    .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the session has expired"))?;
    let expires = s.created_ms + i64::try_from(c.inner.cfg.session_max_s * 1000).unwrap_or(0);
    Ok(Json(session_json(&s, expires)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_bad_hashes_do_not() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn limiter_blocks_after_max_failures_and_opens_after_the_window() {
        let mut l = LoginLimiter::new(3, 60_000);
        let keys = ["ip:1".to_string(), "user:a".to_string()];
        for t in 0..3 {
            assert_eq!(l.blocked(&keys, t * 1000), None);
            l.fail(&keys, t * 1000);
        }
        assert_eq!(l.blocked(&keys, 3000), Some(57_000));
        // another user from the same address is blocked too
        assert!(l
            .blocked(&["ip:1".to_string(), "user:b".to_string()], 3000)
            .is_some());
        // the oldest failure leaves the window at 60 s
        assert_eq!(l.blocked(&keys, 60_000), None);
        l.clear("user:a");
        assert_eq!(l.blocked(&["user:a".to_string()], 3000), None);
    }

    #[test]
    fn sessions_expire_idle_and_absolute() {
        let mut s = Sessions::new(1000, 5000);
        let (t, _) = s.open("alice", Role::Supervisor, 0);
        assert!(s.touch(&t, 900).is_some());
        assert!(s.touch(&t, 1800).is_some());
        assert!(s.touch(&t, 2900).is_none(), "idle over 1 s");
        let (t, _) = s.open("alice", Role::Supervisor, 10_000);
        for now in (10_500..15_000).step_by(500) {
            assert!(s.touch(&t, now).is_some());
        }
        assert!(s.touch(&t, 15_000).is_none(), "absolute limit");
        assert!(s.is_empty());
    }

    #[test]
    fn cookies_and_bearer_are_found() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; hotline_session=abc ; c=d"),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        assert_eq!(bearer(&h), Some("xyz"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }

    #[tokio::test]
    async fn the_bearer_token_without_a_console() {
        let with = |auth: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(a) = auth {
                h.insert(
                    header::AUTHORIZATION,
                    HeaderValue::from_str(a).expect("header"),
                );
            }
            h
        };
        let check = |token: &'static str, auth: Option<&'static str>, no_token| async move {
            principal(None, token, &with(auth), true, Role::Supervisor, no_token)
                .await
                .map_err(|e| e.status)
        };
        let disabled = NoToken::Disabled("agent control");
        // no token configured: control is disabled, whatever is sent
        assert_eq!(
            check("", None, disabled).await.err(),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            check("", Some("Bearer "), disabled).await.err(),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            check("", None, NoToken::LogIn).await.err(),
            Some(StatusCode::UNAUTHORIZED)
        );
        // a token configured: the right one acts as a supervisor
        let p = check("s3cret", Some("Bearer s3cret"), disabled)
            .await
            .expect("ok");
        assert!(!p.session && p.role == Role::Supervisor);
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Basic s3cret"),
        ] {
            assert_eq!(
                check("s3cret", bad, disabled).await.err(),
                Some(StatusCode::UNAUTHORIZED),
                "{bad:?}"
            );
        }
        // the supervisor token is not enough for an admin endpoint
        let admin = principal(
            None,
            "t",
            &with(Some("Bearer t")),
            false,
            Role::Admin,
            NoToken::LogIn,
        )
        .await;
        assert_eq!(admin.err().map(|e| e.status), Some(StatusCode::FORBIDDEN));
    }
}
