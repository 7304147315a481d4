//! The engine's HTTP API for the agent (`--api URL`, `--api-token-file F`):
//!
//! - [`follow`]: reads `GET /api/stream?snapshots=false` (Server-Sent
//!   Events) and folds the agent's `call_event` frames into an
//!   [`AgentView`]: state (available, ringing, on call, held, wrap-up,
//!   paused with reason), the caller's number, the call type and its
//!   handle-time clock against the limit, missed calls. Reconnects with
//!   backoff.
//! - [`actions`]: pause/unpause with a reason, hold/resume, transfer (to the
//!   shift leader by default), set the call type, mark the call abusive
//!   (evidence mark + legal hold), pause/resume/start the recording, each a
//!   `POST` with the bearer token.
//!
//! Both run as tokio tasks, never on the audio path, and the TUI only
//! `try_send`s requests: a slow or broken server never blocks the screen.
//! Bad answers become a message line ([`describe`]), never a panic. The
//! events are read as loose JSON (not `hotline_core::CallEvent`) so kinds
//! added to the engine later do not break an older phone.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest answer body read, bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest SSE line accepted, bytes (a longer one drops the connection).
pub const MAX_LINE: usize = 256 * 1024;
/// Calls whose caller is remembered (from `arrived`) before they reach us.
pub const REMEMBERED_CALLS: usize = 256;

/// Errors of the API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `--api` is not an `http://host[:port][/prefix]` URL.
    #[error("--api {url}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// The token file cannot be read or is empty.
    #[error("--api-token-file {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Http(String),
}

/// Where the engine's API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTarget {
    /// Host (name or IP).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix (empty, or `/something` without a trailing slash).
    pub prefix: String,
    /// Bearer token (`http.api_token`); empty = none sent.
    pub token: String,
}

impl ApiTarget {
    /// Parses `http://host[:port][/prefix]` (https is not spoken: keep the
    /// API on loopback or behind a local TLS proxy).
    pub fn parse(url: &str, token: String) -> Result<ApiTarget, ApiError> {
        let bad = |reason: &str| ApiError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("give http://HOST[:PORT] (https is not supported)"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [v6]:port
            let (h, p) = h.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h.to_string(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
            return Err(bad("no usable host"));
        }
        let port = if port.is_empty() {
            80
        } else {
            port.parse().map_err(|_| bad("bad port"))?
        };
        if path.contains(['?', '#', ' ']) {
            return Err(bad("the prefix may not hold ?, # or spaces"));
        }
        Ok(ApiTarget {
            host,
            port,
            prefix: path.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Reads the bearer token (first line of the file).
pub fn read_token(path: &Path) -> Result<String, ApiError> {
    let err = |reason: String| ApiError::Token {
        path: path.display().to_string(),
        reason,
    };
    let s = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let t = s.lines().next().unwrap_or_default().trim().to_string();
    if t.is_empty() {
        return Err(err("empty".into()));
    }
    Ok(t)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(t: &ApiTarget) -> Result<Sender, ApiError> {
    let stream = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| ApiError::Http(format!("cannot connect to {}: {e}", t.authority())))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| ApiError::Http(format!("{}: {e}", t.authority())))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            debug!(error = %e, "API connection ended");
        }
    });
    Ok(sender)
}

fn request(
    t: &ApiTarget,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<hyper::Request<Full<Bytes>>, ApiError> {
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", t.prefix))
        .header("host", t.authority())
        .header(
            "user-agent",
            crate::phone::STATUS_PREFIX.trim_end_matches(':'),
        );
    if !t.token.is_empty() {
        b = b.header("authorization", format!("Bearer {}", t.token));
    }
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body))
        .map_err(|e| ApiError::Http(format!("bad request: {e}")))
}

/// One `POST` (fresh connection, [`REQUEST_TIMEOUT`]); the status and the
/// body (at most [`MAX_BODY`]).
pub async fn post(
    t: &ApiTarget,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, String), ApiError> {
    exchange(t, "POST", path, body).await
}

/// One `GET` (fresh connection, [`REQUEST_TIMEOUT`]); the status and the
/// body (at most [`MAX_BODY`]).
pub async fn get(t: &ApiTarget, path: &str) -> Result<(u16, String), ApiError> {
    exchange(t, "GET", path, None).await
}

async fn exchange(
    t: &ApiTarget,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, String), ApiError> {
    let req = request(t, method, path, body)?;
    let work = async {
        let mut s = connect(t).await?;
        let resp = s
            .send_request(req)
            .await
            .map_err(|e| ApiError::Http(format!("{method} {path}: {e}")))?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| ApiError::Http(format!("{method} {path}: reading the answer: {e}")))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .map_err(|_| {
            ApiError::Http(format!(
                "{method} {path}: no answer within {REQUEST_TIMEOUT:?}"
            ))
        })?
}

/// The customer's card at the agent's desk
/// (`GET /api/agents/{id}/customer`), for the call `call_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerCard {
    /// The call it is for.
    pub call_id: String,
    /// The customer's name, when a note, case or call record gave one.
    pub name: Option<String>,
    /// A VIP number.
    pub vip: bool,
    /// On the blacklist (the reason).
    pub blacklisted: Option<String>,
    /// Open complaint cases.
    pub open_cases: u64,
    /// The newest open case: id, title, owner.
    pub case: Option<(i64, String, String)>,
    /// Calls of this number on record.
    pub calls_total: u64,
    /// The last call: when (epoch ms) and who took it.
    pub last_call: Option<(i64, Option<String>)>,
}

impl CustomerCard {
    /// The card of the API's answer, None when the agent has no call or the
    /// answer is not a card.
    pub fn from_answer(v: &Value) -> Option<CustomerCard> {
        let call_id = v.get("call")?.get("call_id")?.as_str()?.to_string();
        let c = v.get("card")?;
        let case = c
            .get("cases")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .map(|k| {
                (
                    k.get("id").and_then(Value::as_i64).unwrap_or(0),
                    s(k, "title").unwrap_or_default(),
                    s(k, "owner").unwrap_or_default(),
                )
            });
        Some(CustomerCard {
            call_id,
            name: s(c, "name"),
            vip: c.get("vip").and_then(Value::as_bool).unwrap_or(false),
            blacklisted: c
                .get("blacklist")
                .filter(|b| !b.is_null())
                .map(|b| s(b, "reason").unwrap_or_default()),
            open_cases: c.get("open_cases").and_then(Value::as_u64).unwrap_or(0),
            case,
            calls_total: c.get("calls_total").and_then(Value::as_u64).unwrap_or(0),
            last_call: c.get("last_call").filter(|l| !l.is_null()).map(|l| {
                (
                    l.get("arrived_ms").and_then(Value::as_i64).unwrap_or(0),
                    s(l, "agent"),
                )
            }),
        })
    }
}

/// Reads the customer's card of `call_id` and puts it in the view (if the
/// call is still the agent's). Failures only leave a debug line: the card
/// is a help, never in the way of the call.
async fn fetch_card(t: ApiTarget, view: watch::Sender<AgentView>, call_id: String) {
    let agent = view.borrow().agent.clone();
    let path = format!("/api/agents/{agent}/customer");
    match get(&t, &path).await {
        Ok((200, body)) => {
            let card = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| CustomerCard::from_answer(&v));
            match card {
                Some(c) if c.call_id == call_id => {
                    view.send_if_modified(|v| v.set_customer(c));
                }
                _ => debug!(call = %call_id, "no customer card for the call"),
            }
        }
        Ok((status, _)) => debug!(status, "GET {path}: no customer card"),
        Err(e) => debug!(error = %e, "customer card not read"),
    }
}

/// What the agent asks of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAction {
    /// Pause with a reason.
    Pause(String),
    /// End the pause.
    Unpause,
    /// Put the call on hold.
    Hold,
    /// Take it off hold.
    Resume,
    /// Transfer to a queue (None = the configured shift-leader queue).
    Transfer(Option<String>),
    /// Set the call's type (`order`, `inquiry`, `complaint`, `callback`).
    SetType(String),
    /// Mark the call abusive (evidence mark and legal hold on its
    /// recording) with a note.
    MarkAbuse(String),
    /// Pause the recording (the caller reads out a card number).
    RecordPause,
    /// Record again after a pause.
    RecordResume,
    /// Start recording a call that is not recorded (on-demand recording).
    RecordStart,
    /// The closing hang-up: the engine plays 「谢谢您的电话，再见！」 to both
    /// sides, then clears the line.
    Close,
    /// Click-to-call: the engine rings this phone, then the number.
    Dial(String),
}

impl ApiAction {
    /// Its path (under `/api/agents/{agent}`) and JSON body.
    pub fn request(&self, agent: &str) -> (String, Option<Value>) {
        let a = format!("/api/agents/{agent}");
        match self {
            ApiAction::Pause(reason) => (format!("{a}/pause"), Some(json!({ "reason": reason }))),
            ApiAction::Unpause => (format!("{a}/unpause"), None),
            ApiAction::Hold => (format!("{a}/call/hold"), None),
            ApiAction::Resume => (format!("{a}/call/resume"), None),
            ApiAction::Transfer(None) => (format!("{a}/call/transfer"), None),
            ApiAction::Transfer(Some(to)) => {
                (format!("{a}/call/transfer"), Some(json!({ "to": to })))
            }
            ApiAction::SetType(t) => (format!("{a}/call/type"), Some(json!({ "type": t }))),
            ApiAction::MarkAbuse(note) => (
                format!("{a}/call/mark"),
                Some(json!({ "kind": "abuse", "note": note })),
            ),
            ApiAction::RecordPause => (format!("{a}/call/record_pause"), None),
            ApiAction::RecordResume => (format!("{a}/call/record_resume"), None),
            ApiAction::RecordStart => (format!("{a}/call/record_start"), None),
            ApiAction::Close => (format!("{a}/call/close"), None),
            ApiAction::Dial(n) => (format!("{a}/dial"), Some(json!({ "number": n }))),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> String {
        match self {
            ApiAction::Pause(r) => format!("pause ({r})"),
            ApiAction::Unpause => "unpause".into(),
            ApiAction::Hold => "hold".into(),
            ApiAction::Resume => "resume".into(),
            ApiAction::Transfer(None) => "transfer to the shift leader".into(),
            ApiAction::Transfer(Some(q)) => format!("transfer to {q}"),
            ApiAction::SetType(t) => format!("call type {t}"),
            ApiAction::MarkAbuse(_) => "mark abusive".into(),
            ApiAction::RecordPause => "pause recording".into(),
            ApiAction::RecordResume => "resume recording".into(),
            ApiAction::RecordStart => "start recording".into(),
            ApiAction::Close => "closing phrase and hang up".into(),
            ApiAction::Dial(n) => format!("dial {n}"),
        }
    }
}

/// The message line for an action's answer.
pub fn describe(action: &ApiAction, answer: &Result<(u16, String), ApiError>) -> String {
    let name = action.name();
    let (status, body) = match answer {
        Ok(x) => x,
        Err(e) => return format!("{name}: failed: {e}"),
    };
    let why = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let short: String = why.chars().take(120).collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(": {short}")
    };
    match status {
        200..=299 => format!("{name}: done"),
        400 => format!("{name}: refused as a bad request{why}"),
        401 => format!("{name}: the API token was refused (401): check --api-token-file"),
        // a refusal with its reason (a dial rule, an agent's own phone) is
        // not about the token; only an unexplained or token 403 is
        403 if short.is_empty() || short.contains("api_token") || short.contains("disabled") => {
            format!("{name}: not allowed (403){why}: is http.api_token set on the server?")
        }
        403 => format!("{name}: not allowed (403){why}"),
        404 if short.is_empty() => format!("{name}: no current call"),
        404 => format!("{name}: {short}"),
        409 => format!("{name}: not possible now{why}"),
        s => format!("{name}: the server answered {s}{why}"),
    }
}

/// The agent's state as the engine's events tell it. It mirrors the ACD's
/// own state (`hotline_acd::AgentState`) on purpose rather than reusing it:
/// the phone depends on core, media and sip only, and this is a view built
/// from events (with `Unknown` until the first one), not the ACD's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AgentState {
    /// No event seen yet.
    #[default]
    Unknown,
    /// Logged out of the queues.
    LoggedOut,
    /// Takes calls.
    Available,
    /// A call is offered (the phone rings).
    Ringing,
    /// Talking.
    OnCall,
    /// After-call work until this time (epoch ms).
    WrapUp {
        /// When it ends, epoch ms.
        until_ms: i64,
    },
    /// Paused.
    Paused {
        /// Why.
        reason: String,
    },
}

/// Where the current call stands against its handle-time limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LimitState {
    /// Below the warning.
    #[default]
    Fine,
    /// Past the warning fraction.
    Warning,
    /// Past the limit.
    Exceeded,
}

/// Everything the TUI shows from the engine (sans-IO: [`apply`](Self::apply)
/// folds one event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentView {
    /// The agent followed.
    pub agent: String,
    /// Connection to the stream, in words.
    pub link: String,
    /// State.
    pub state: AgentState,
    /// A pause asked during the call (starts after it and its wrap-up).
    pub pause_after_call: Option<String>,
    /// The current (or ringing) call's id.
    pub call_id: Option<String>,
    /// Its caller's number.
    pub caller: Option<String>,
    /// Its type.
    pub call_type: Option<String>,
    /// When the agent answered, epoch ms (the handle-time clock).
    pub answered_ms: Option<i64>,
    /// Its type's limit, ms, once the engine told it.
    pub limit_ms: Option<i64>,
    /// Warning / exceeded.
    pub limit: LimitState,
    /// On hold.
    pub held: bool,
    /// Recording paused (card numbers).
    pub recording_paused: bool,
    /// Calls offered to the agent and not answered (rang out, refused).
    pub missed: u32,
    /// The last answer to an action, or the last notable event.
    pub message: String,
    /// The customer's card of the current call (name, open cases, last
    /// call), read from the API when the call is offered.
    pub customer: Option<CustomerCard>,
    /// Callers (and types) of recent calls by id, from `arrived`.
    recent: VecDeque<(String, String, Option<String>)>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

impl AgentView {
    /// A view of `agent`.
    pub fn new(agent: &str) -> AgentView {
        AgentView {
            agent: agent.to_string(),
            link: "connecting".into(),
            ..AgentView::default()
        }
    }

    fn clear_call(&mut self) {
        self.call_id = None;
        self.caller = None;
        self.call_type = None;
        self.answered_ms = None;
        self.limit_ms = None;
        self.limit = LimitState::Fine;
        self.held = false;
        self.recording_paused = false;
        self.customer = None;
    }

    /// Shows `card` if it is for the current call; true when it changed the
    /// view.
    pub fn set_customer(&mut self, card: CustomerCard) -> bool {
        if self.call_id.as_deref() != Some(card.call_id.as_str())
            || self.customer.as_ref() == Some(&card)
        {
            return false;
        }
        self.customer = Some(card);
        true
    }

    fn remembered(&self, call: &str) -> Option<&(String, String, Option<String>)> {
        self.recent.iter().rev().find(|(id, _, _)| id == call)
    }

    /// Folds one `call_event` (JSON). Returns a description when it
    /// concerned this agent (also kept as the message line), None
    /// otherwise.
    pub fn apply(&mut self, ev: &Value) -> Option<String> {
        let d = self.fold(ev)?;
        self.message = d.clone();
        Some(d)
    }

    fn fold(&mut self, ev: &Value) -> Option<String> {
        let kind = ev.get("kind")?;
        let ty = kind.get("type").and_then(Value::as_str)?;
        let call = s(ev, "call_id");
        let at = ev.get("at_ms").and_then(Value::as_i64).unwrap_or(0);
        // callers are known from `arrived`, before any agent is involved
        match (ty, &call) {
            ("arrived", Some(c)) => {
                let number = kind
                    .get("caller")
                    .and_then(|p| s(p, "number"))
                    .unwrap_or_default();
                if self.recent.len() >= REMEMBERED_CALLS {
                    self.recent.pop_front();
                }
                self.recent
                    .push_back((c.clone(), number, s(kind, "call_type")));
            }
            ("ivr_choice", Some(c)) => {
                let t = s(kind, "call_type");
                if let Some(e) = self.recent.iter_mut().rev().find(|(id, _, _)| id == c) {
                    e.2 = t.clone();
                }
                if self.call_id.as_ref() == Some(c) {
                    self.call_type = t;
                }
            }
            _ => {}
        }
        if ev.get("agent").and_then(Value::as_str) != Some(self.agent.as_str()) {
            return None;
        }
        let same_call = call.is_some() && call == self.call_id;
        let desc = match ty {
            "offered" => {
                self.clear_call();
                self.call_id = call.clone();
                if let Some((_, n, t)) = call.as_deref().and_then(|c| self.remembered(c)).cloned() {
                    self.caller = Some(n);
                    self.call_type = t;
                }
                self.state = AgentState::Ringing;
                format!(
                    "offered a call from {}",
                    self.caller.as_deref().unwrap_or("?")
                )
            }
            "agent_answered" => {
                if !same_call {
                    self.clear_call();
                    self.call_id = call.clone();
                    if let Some((_, n, t)) =
                        call.as_deref().and_then(|c| self.remembered(c)).cloned()
                    {
                        self.caller = Some(n);
                        self.call_type = t;
                    }
                }
                self.answered_ms = Some(at);
                // the engine names the limit at the answer (absent: none)
                self.limit_ms = kind.get("limit_ms").and_then(Value::as_i64);
                self.state = AgentState::OnCall;
                format!("on call with {}", self.caller.as_deref().unwrap_or("?"))
            }
            "agent_ring_no_answer" | "agent_rejected" | "agent_unreachable" => {
                self.missed += 1;
                if same_call || self.state == AgentState::Ringing {
                    self.clear_call();
                    self.state = AgentState::Available;
                }
                format!("missed call ({ty})")
            }
            "abandoned" if same_call => {
                self.clear_call();
                self.state = AgentState::Available;
                "the caller hung up before the answer".into()
            }
            "limit_warning" => {
                self.limit_ms = kind.get("limit_ms").and_then(Value::as_i64);
                self.call_type = s(kind, "call_type").or(self.call_type.take());
                self.limit = LimitState::Warning;
                "handle-time warning".into()
            }
            "limit_exceeded" => {
                self.limit_ms = kind.get("limit_ms").and_then(Value::as_i64);
                self.call_type = s(kind, "call_type").or(self.call_type.take());
                self.limit = LimitState::Exceeded;
                "handle-time limit exceeded".into()
            }
            "held" => {
                self.held = true;
                "call on hold".into()
            }
            "resumed" => {
                self.held = false;
                "call resumed".into()
            }
            "call_type_set" => {
                self.call_type = s(kind, "call_type");
                // the new type's limit, from the answer; its signals follow
                self.limit_ms = kind.get("limit_ms").and_then(Value::as_i64);
                self.limit = LimitState::Fine;
                format!(
                    "call type set to {}",
                    self.call_type.as_deref().unwrap_or("?")
                )
            }
            "recording_paused" => {
                self.recording_paused = true;
                "recording paused".into()
            }
            "recording_resumed" => {
                self.recording_paused = false;
                "recording resumed".into()
            }
            "played_into_call" => "an earlier recording is played into the call".into(),
            "recording_opened" if same_call => "recording".into(),
            "transferred" => {
                let to = s(kind, "to").unwrap_or_else(|| "?".into());
                self.clear_call();
                self.state = AgentState::Available;
                format!("call transferred to {to}")
            }
            "completed" | "failed" => {
                self.clear_call();
                if self.state == AgentState::OnCall || self.state == AgentState::Ringing {
                    self.state = AgentState::Available;
                }
                format!("call ended ({ty})")
            }
            "wrap_up" => {
                let ms = kind.get("wrap_ms").and_then(Value::as_i64).unwrap_or(0);
                self.state = AgentState::WrapUp {
                    until_ms: at.saturating_add(ms),
                };
                format!("wrap-up {} s", ms / 1000)
            }
            "agent_paused" => {
                let reason = s(kind, "reason").unwrap_or_else(|| "break".into());
                let after = kind
                    .get("after_call")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if after {
                    self.pause_after_call = Some(reason.clone());
                    format!("paused after this call ({reason})")
                } else {
                    self.pause_after_call = None;
                    self.state = AgentState::Paused {
                        reason: reason.clone(),
                    };
                    format!("paused ({reason})")
                }
            }
            "agent_unpaused" => {
                self.pause_after_call = None;
                self.state = AgentState::Available;
                "available again".into()
            }
            "agent_logged_in" => {
                self.state = AgentState::Available;
                "logged in".into()
            }
            "agent_logged_out" => {
                self.state = AgentState::LoggedOut;
                "logged out".into()
            }
            "agent_request_refused" => format!(
                "{} refused: {}",
                s(kind, "request").unwrap_or_default(),
                s(kind, "reason").unwrap_or_default()
            ),
            _ => return None,
        };
        Some(desc)
    }

    /// The state in words at `now_ms` (a finished wrap-up reads available,
    /// or paused when a pause was asked during the call).
    pub fn state_text(&self, now_ms: i64) -> String {
        match &self.state {
            AgentState::Unknown => "unknown (no event yet)".into(),
            AgentState::LoggedOut => "logged out".into(),
            AgentState::Available => "available".into(),
            AgentState::Ringing => "ringing".into(),
            AgentState::OnCall if self.held => "on call (HELD)".into(),
            AgentState::OnCall => "on call".into(),
            AgentState::WrapUp { until_ms } if *until_ms > now_ms => {
                format!("wrap-up ({} s left)", (until_ms - now_ms + 999) / 1000)
            }
            AgentState::WrapUp { .. } => match &self.pause_after_call {
                Some(r) => format!("paused ({r})"),
                None => "available".into(),
            },
            AgentState::Paused { reason } => format!("paused ({reason})"),
        }
    }

    /// The handle-time clock against the limit at `now_ms`, e.g.
    /// `01:23 / 03:00  WARNING`; None without a call.
    pub fn clock_text(&self, now_ms: i64) -> Option<String> {
        let t = self.answered_ms?;
        let mm = |ms: i64| {
            let s = ms.max(0) / 1000;
            format!("{:02}:{:02}", s / 60, s % 60)
        };
        let mut out = mm(now_ms - t);
        if let Some(l) = self.limit_ms {
            out.push_str(&format!(" / {}", mm(l)));
        }
        match self.limit {
            LimitState::Fine => {}
            LimitState::Warning => out.push_str("  WARNING"),
            LimitState::Exceeded => out.push_str("  LIMIT EXCEEDED"),
        }
        Some(out)
    }
}

/// Splits an SSE byte stream into (event, data) frames; bounded memory.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
}

impl SseParser {
    /// Feeds bytes; returns the complete frames. `Err` when a line exceeds
    /// [`MAX_LINE`].
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() >= MAX_LINE {
                    return Err(ApiError::Http("an event line is too long".into()));
                }
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    let ev = if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    };
                    out.push((ev, std::mem::take(&mut self.data)));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => self.event = value.to_string(),
                "data" => {
                    if self.data.len() + value.len() > MAX_LINE {
                        return Err(ApiError::Http("an event is too long".into()));
                    }
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Reads the stream once until it ends or fails, folding frames into
/// `view`; `on_event` hears a description of each of the agent's events.
async fn stream_once(
    t: &ApiTarget,
    view: &watch::Sender<AgentView>,
    on_event: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), ApiError> {
    let req = request(t, "GET", "/api/stream?snapshots=false", None)?;
    let mut sender = tokio::time::timeout(REQUEST_TIMEOUT, connect(t))
        .await
        .map_err(|_| ApiError::Http(format!("cannot connect to {}: timeout", t.authority())))??;
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| ApiError::Http("GET /api/stream: no answer".into()))?
        .map_err(|e| ApiError::Http(format!("GET /api/stream: {e}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(ApiError::Http(format!("GET /api/stream answered {status}")));
    }
    view.send_modify(|v| v.link = format!("following {}", t.authority()));
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::Http(format!("stream: {e}")))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        for (event, data) in parser.feed(data)? {
            match event.as_str() {
                "call_event" => match serde_json::from_str::<Value>(&data) {
                    Ok(v) => {
                        let mut desc = None;
                        let mut card_for = None;
                        view.send_if_modified(|vw| {
                            let before = vw.call_id.clone();
                            desc = vw.apply(&v);
                            // a new call at the desk: who is it?
                            if vw.call_id.is_some() && vw.call_id != before {
                                card_for = vw.call_id.clone();
                            }
                            desc.is_some()
                        });
                        if let Some(call) = card_for {
                            tokio::spawn(fetch_card(t.clone(), view.clone(), call));
                        }
                        if let Some(d) = desc {
                            on_event(&d);
                        }
                    }
                    Err(e) => debug!(error = %e, "unreadable call_event ignored"),
                },
                "lagged" => {
                    return Err(ApiError::Http("the stream fell behind (lagged)".into()));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Follows the agent's events for as long as the task runs, reconnecting
/// with backoff (1 s, doubling, at most 30 s).
pub async fn follow(
    t: ApiTarget,
    view: watch::Sender<AgentView>,
    on_event: Box<dyn Fn(&str) + Send + Sync>,
) {
    let mut wait = Duration::from_secs(1);
    loop {
        let r = stream_once(&t, &view, on_event.as_ref()).await;
        if view.borrow().link.starts_with("following") {
            // it was connected: start the backoff again
            wait = Duration::from_secs(1);
        }
        let why = match r {
            Ok(()) => "the stream ended".to_string(),
            Err(e) => e.to_string(),
        };
        warn!(reason = %why, "engine event stream lost; reconnecting");
        view.send_modify(|v| {
            v.link = format!("not connected ({why}); retrying in {} s", wait.as_secs())
        });
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// Runs the agent's actions one at a time as they come from the TUI;
/// each answer becomes the view's message line.
pub async fn actions(
    t: ApiTarget,
    agent: String,
    mut rx: mpsc::Receiver<ApiAction>,
    view: watch::Sender<AgentView>,
    on_result: Box<dyn Fn(&str) + Send + Sync>,
) {
    while let Some(a) = rx.recv().await {
        view.send_modify(|v| v.message = format!("{}: sending", a.name()));
        let (path, body) = a.request(&agent);
        let answer = post(&t, &path, body.as_ref()).await;
        let msg = describe(&a, &answer);
        on_result(&msg);
        view.send_modify(|v| v.message = msg);
    }
}

/// The current time, epoch ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(agent: Option<&str>, call: &str, at: i64, kind: Value) -> Value {
        json!({"at_ms": at, "call_id": call, "agent": agent, "queue": "general", "kind": kind})
    }

    #[test]
    fn a_customer_card_is_kept_only_for_its_call_and_cleared_with_it() {
        let mut v = AgentView::new("1001");
        v.apply(&ev(
            None,
            "c1",
            0,
            json!({"type": "arrived", "caller": {"number": "0699"}}),
        ));
        v.apply(&ev(
            Some("1001"),
            "c1",
            1,
            json!({"type": "offered", "contact": "x"}),
        ));
        let answer = json!({"agent": "1001",
            "call": {"call_id": "c1", "number": "0699", "state": "ringing"},
            "card": {"name": null, "vip": true, "blacklist": {"reason": "threats"},
                     "calls_total": 0, "last_call": null, "open_cases": 0, "cases": []}});
        let card = CustomerCard::from_answer(&answer).unwrap();
        assert!(card.vip && card.blacklisted.as_deref() == Some("threats"));
        assert_eq!((card.last_call.clone(), card.case.clone()), (None, None));
        // a card of another call is not shown
        let other = CustomerCard {
            call_id: "c0".into(),
            ..card.clone()
        };
        assert!(!v.set_customer(other));
        assert!(v.set_customer(card.clone()));
        assert!(!v.set_customer(card), "unchanged");
        v.apply(&ev(
            Some("1001"),
            "c1",
            2,
            json!({"type": "agent_ring_no_answer", "rang_ms": 1}),
        ));
        assert!(v.customer.is_none());
        // no call, or not a card: nothing
        for bad in [
            json!({"call": null, "card": null}),
            json!([]),
            json!({"call": {"call_id": 5}}),
        ] {
            assert!(CustomerCard::from_answer(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn urls_are_parsed_or_refused_clearly() {
        let t = ApiTarget::parse("http://127.0.0.1:8080", "tok".into()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let t = ApiTarget::parse("http://hotline.local/engine/", String::new()).unwrap();
        assert_eq!((t.port, t.prefix.as_str()), (80, "/engine"));
        let t = ApiTarget::parse("http://[::1]:9000", String::new()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority()),
            ("::1", "[::1]:9000".to_string())
        );
        for bad in [
            "https://x",
            "ftp://x",
            "http://",
            "http://h:99999",
            "http://u@h",
            "x",
        ] {
            assert!(ApiTarget::parse(bad, String::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_view_follows_a_call_from_offer_to_wrap_up() {
        let mut v = AgentView::new("1001");
        let arrived = json!({"type":"arrived","caller":{"number":"0612345678","display":null},"dialled":"hotline","call_type":"inquiry"});
        assert_eq!(v.apply(&ev(None, "c1", 1000, arrived)), None);
        // someone else's events do not count
        assert_eq!(
            v.apply(&ev(
                Some("1002"),
                "c9",
                1000,
                json!({"type":"agent_paused","reason":"x","by":"api"})
            )),
            None
        );
        v.apply(&ev(
            Some("1001"),
            "c1",
            1500,
            json!({"type":"offered","contact":"sip:1001@x"}),
        ));
        assert_eq!(v.state, AgentState::Ringing);
        assert_eq!(v.caller.as_deref(), Some("0612345678"));
        v.apply(&ev(
            Some("1001"),
            "c1",
            2000,
            json!({"type":"agent_answered","wait_ms":1000,"rings":1,"limit_ms":180000}),
        ));
        assert_eq!(v.state_text(5000), "on call");
        // the inquiry limit shows from the answer on
        assert_eq!(v.clock_text(85_000).as_deref(), Some("01:23 / 03:00"));
        v.apply(&ev(
            Some("1001"),
            "c1",
            3000,
            json!({"type":"call_type_set","call_type":"order","limit_ms":60000}),
        ));
        assert_eq!(v.call_type.as_deref(), Some("order"));
        assert_eq!(v.limit_ms, Some(60_000), "the new type's limit");
        v.apply(&ev(Some("1001"), "c1", 4000, json!({"type":"held"})));
        assert_eq!(v.state_text(5000), "on call (HELD)");
        v.apply(&ev(Some("1001"), "c1", 5000, json!({"type":"resumed"})));
        v.apply(&ev(
            Some("1001"),
            "c1",
            6000,
            json!({"type":"recording_paused"}),
        ));
        assert!(v.recording_paused);
        v.apply(&ev(
            Some("1001"),
            "c1",
            50_000,
            json!({"type":"limit_warning","call_type":"order","limit_ms":60000,"talk_ms":48000}),
        ));
        assert_eq!(
            v.clock_text(50_000).as_deref(),
            Some("00:48 / 01:00  WARNING")
        );
        v.apply(&ev(
            Some("1001"),
            "c1",
            62_000,
            json!({"type":"limit_exceeded","call_type":"order","limit_ms":60000}),
        ));
        assert!(v.clock_text(62_000).unwrap().ends_with("LIMIT EXCEEDED"));
        v.apply(&ev(
            Some("1001"),
            "c1",
            63_000,
            json!({"type":"agent_paused","reason":"meal","by":"api:phone","after_call":true}),
        ));
        v.apply(&ev(
            Some("1001"),
            "c1",
            64_000,
            json!({"type":"completed","ended_by":"caller","talk_ms":62000}),
        ));
        assert_eq!(v.clock_text(64_000), None);
        v.apply(&ev(
            Some("1001"),
            "c1",
            64_000,
            json!({"type":"wrap_up","wrap_ms":10000}),
        ));
        assert_eq!(v.state_text(65_000), "wrap-up (9 s left)");
        assert_eq!(v.state_text(75_000), "paused (meal)");
        v.apply(&ev(
            Some("1001"),
            "",
            80_000,
            json!({"type":"agent_unpaused","by":"api"}),
        ));
        assert_eq!(v.state_text(80_000), "available");
        // a missed call, a transfer, unknown kinds
        v.apply(&ev(
            Some("1001"),
            "c2",
            90_000,
            json!({"type":"offered","contact":"x"}),
        ));
        v.apply(&ev(
            Some("1001"),
            "c2",
            95_000,
            json!({"type":"agent_ring_no_answer","rang_ms":5000}),
        ));
        assert_eq!((v.missed, v.state_text(95_000).as_str()), (1, "available"));
        v.apply(&ev(
            Some("1001"),
            "c3",
            96_000,
            json!({"type":"agent_answered","wait_ms":1,"rings":1}),
        ));
        let d = v.apply(&ev(
            Some("1001"),
            "c3",
            97_000,
            json!({"type":"transferred","to":"leaders"}),
        ));
        assert_eq!(d.as_deref(), Some("call transferred to leaders"));
        assert_eq!(
            v.apply(&ev(Some("1001"), "c3", 1, json!({"type":"brand_new_kind"}))),
            None
        );
        assert_eq!(v.apply(&json!({"garbage": true})), None);
        assert_eq!(v.apply(&json!([1, 2])), None);
    }

    #[test]
    fn answers_become_message_lines() {
        let hold = ApiAction::Hold;
        let ok = |s: u16, b: &str| Ok((s, b.to_string()));
        assert_eq!(describe(&hold, &ok(200, "{}")), "hold: done");
        assert_eq!(
            describe(&hold, &ok(404, r#"{"error":"no current call"}"#)),
            "hold: no current call"
        );
        assert!(
            describe(&ApiAction::Resume, &ok(409, r#"{"error":"not on hold"}"#))
                .contains("not possible now: not on hold")
        );
        assert!(describe(&hold, &ok(401, "")).contains("token was refused"));
        assert!(describe(&hold, &ok(403, "")).contains("http.api_token"));
        // a dial rule's refusal says why, without the token hint
        let dial = ApiAction::Dial("13800000000".into());
        assert_eq!(
            describe(
                &dial,
                &ok(403, r#"{"error":"13800000000 is not an allowed number"}"#)
            ),
            "dial 13800000000: not allowed (403): 13800000000 is not an allowed number"
        );
        assert!(describe(
            &hold,
            &ok(
                403,
                r#"{"error":"call control is disabled: set http.api_token"}"#
            )
        )
        .contains("is http.api_token set"));
        assert!(describe(&hold, &ok(500, "<html>")).contains("answered 500"));
        assert!(
            describe(&hold, &Err(ApiError::Http("cannot connect".into())))
                .contains("failed: cannot connect")
        );
        assert_eq!(
            ApiAction::SetType("order".into()).request("1001"),
            (
                "/api/agents/1001/call/type".to_string(),
                Some(json!({"type":"order"}))
            )
        );
        assert_eq!(ApiAction::Transfer(None).request("7").1, None);
        assert_eq!(
            ApiAction::MarkAbuse("threats".into()).request("7").1,
            Some(json!({"kind":"abuse","note":"threats"}))
        );
    }

    #[test]
    fn sse_frames_are_split_with_bounded_memory() {
        let mut p = SseParser::default();
        let mut frames = p.feed(b"event: call_event\r\ndata: {\"a\":").unwrap();
        assert!(frames.is_empty());
        frames = p
            .feed(b"1}\r\n\r\n: keep-alive\n\nevent: snapshot\ndata: x\ndata: y\n\n")
            .unwrap();
        assert_eq!(
            frames,
            vec![
                ("call_event".to_string(), "{\"a\":1}".to_string()),
                ("snapshot".to_string(), "x\ny".to_string())
            ]
        );
        let huge = vec![b'x'; MAX_LINE + 1];
        assert!(SseParser::default().feed(&huge).is_err());
    }
}

#[cfg(test)]
mod stub_tests {
    use super::*;
    use axum::extract::{Path as AxPath, Query};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post as axpost};
    use axum::{Json, Router};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer tok")
    }

    /// A stub of the engine's agent API, as the contract says.
    async fn stub() -> (ApiTarget, Seen) {
        let seen: Seen = Arc::default();
        let s1 = seen.clone();
        let s2 = seen.clone();
        let app = Router::new()
            .route(
                "/api/agents/{id}/call/{action}",
                axpost(
                    move |AxPath((id, action)): AxPath<(String, String)>,
                          h: HeaderMap,
                          body: String| async move {
                        s1.lock().unwrap().push((format!("{id}/call/{action}"), body.clone()));
                        if !authorized(&h) {
                            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad token"})));
                        }
                        match action.as_str() {
                            "hold" => (StatusCode::OK, Json(json!({"call_id": "c1", "held": true}))),
                            "resume" => (StatusCode::CONFLICT, Json(json!({"error": "not on hold"}))),
                            "transfer" => (StatusCode::NOT_FOUND, Json(json!({"error": "no current call"}))),
                            "type" => match serde_json::from_str::<Value>(&body) {
                                Ok(v) if ["order", "inquiry", "complaint", "callback"]
                                    .contains(&v["type"].as_str().unwrap_or("")) =>
                                {
                                    (StatusCode::OK, Json(json!({"call_id": "c1"})))
                                }
                                _ => (StatusCode::BAD_REQUEST, Json(json!({"error": "bad type"}))),
                            },
                            _ => (StatusCode::OK, Json(json!({}))),
                        }
                    },
                ),
            )
            .route(
                "/api/agents/{id}/pause",
                axpost(move |AxPath(id): AxPath<String>, body: String| async move {
                    s2.lock().unwrap().push((format!("{id}/pause"), body));
                    (StatusCode::OK, Json(json!({"agent": id, "state": "paused"})))
                }),
            )
            .route(
                "/api/agents/{id}/customer",
                get(|AxPath(id): AxPath<String>, h: HeaderMap| async move {
                    if !authorized(&h) || id != "1001" {
                        return (StatusCode::FORBIDDEN, Json(json!({"error": "not yours"})));
                    }
                    (
                        StatusCode::OK,
                        Json(json!({"agent": id,
                            "call": {"call_id": "c1", "number": "0612345678", "state": "talking", "since_ms": 2},
                            "card": {"number": "0612345678", "name": "王芳", "vip": false, "blacklist": null,
                                     "calls_total": 4,
                                     "last_call": {"call_id": "c0", "arrived_ms": 0, "agent": "1002"},
                                     "open_cases": 1,
                                     "cases": [{"id": 7, "title": "parcel lost", "owner": "1002"}]}})),
                    )
                }),
            )
            .route(
                "/api/stream",
                get(|Query(q): Query<HashMap<String, String>>| async move {
                    if q.get("snapshots").map(String::as_str) != Some("false") {
                        return (StatusCode::BAD_REQUEST, "snapshots").into_response();
                    }
                    let frames = [
                        json!({"at_ms": 1, "call_id": "c1", "agent": null, "queue": "general",
                               "kind": {"type": "arrived", "caller": {"number": "0612345678", "display": null},
                                        "dialled": "hotline", "call_type": "inquiry"}}),
                        json!({"at_ms": 2, "call_id": "c1", "agent": "1001", "queue": "general",
                               "kind": {"type": "agent_answered", "wait_ms": 1, "rings": 1}}),
                        json!({"at_ms": 3, "call_id": "c8", "agent": "1002", "queue": "general",
                               "kind": {"type": "held"}}),
                        json!({"at_ms": 4, "call_id": "c1", "agent": "1001", "queue": "general",
                               "kind": {"type": "held"}}),
                    ];
                    let mut body = String::from("event: snapshot\ndata: {}\n\n: comment\n\nevent: call_event\ndata: not json\n\n");
                    for f in frames {
                        body.push_str(&format!("event: call_event\ndata: {f}\n\n"));
                    }
                    ([("content-type", "text/event-stream")], body).into_response()
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        let t = ApiTarget::parse(&format!("http://{addr}"), "tok".into()).unwrap();
        (t, seen)
    }

    #[tokio::test]
    async fn actions_reach_the_stub_engine_and_answers_become_messages() {
        let (t, seen) = stub().await;
        let run = |a: ApiAction, t: ApiTarget| async move {
            let (path, body) = a.request("1001");
            describe(&a, &post(&t, &path, body.as_ref()).await)
        };
        assert_eq!(run(ApiAction::Hold, t.clone()).await, "hold: done");
        assert_eq!(
            run(ApiAction::Resume, t.clone()).await,
            "resume: not possible now: not on hold"
        );
        assert!(run(ApiAction::Transfer(None), t.clone())
            .await
            .contains("no current call"));
        assert_eq!(
            run(ApiAction::SetType("order".into()), t.clone()).await,
            "call type order: done"
        );
        assert!(run(ApiAction::SetType("pizza".into()), t.clone())
            .await
            .contains("bad request: bad type"));
        assert_eq!(
            run(ApiAction::MarkAbuse("threats".into()), t.clone()).await,
            "mark abusive: done"
        );
        assert_eq!(
            run(ApiAction::Pause("meal".into()), t.clone()).await,
            "pause (meal): done"
        );
        let wrong = ApiTarget {
            token: "nope".into(),
            ..t.clone()
        };
        assert!(run(ApiAction::Hold, wrong)
            .await
            .contains("token was refused"));
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.contains(&(
                "1001/call/mark".into(),
                r#"{"kind":"abuse","note":"threats"}"#.into()
            )),
            "{seen:?}"
        );
        assert!(seen.contains(&("1001/pause".into(), r#"{"reason":"meal"}"#.into())));
        assert!(seen.contains(&("1001/call/transfer".into(), String::new())));
        // nobody listening: a message, no panic, no hang
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let gone = ApiTarget::parse(&format!("http://{closed}"), "tok".into()).unwrap();
        assert!(run(ApiAction::Hold, gone)
            .await
            .contains("failed: cannot connect"));
    }

    #[tokio::test]
    async fn the_stream_is_followed_for_this_agent_only() {
        let (t, _) = stub().await;
        let (tx, mut rx) = watch::channel(AgentView::new("1001"));
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let l2 = lines.clone();
        let task = tokio::spawn(follow(
            t,
            tx,
            Box::new(move |d| l2.lock().unwrap().push(d.to_string())),
        ));
        let ok = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if rx.borrow().held && rx.borrow().customer.is_some() {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        task.abort();
        assert!(ok.is_ok(), "{:?}", rx.borrow());
        let v = rx.borrow().clone();
        assert_eq!(v.caller.as_deref(), Some("0612345678"));
        assert_eq!(v.state, AgentState::OnCall);
        assert_eq!(v.call_type.as_deref(), Some("inquiry"));
        // the customer's card was read for the new call
        let card = v.customer.clone().unwrap();
        assert_eq!(
            (card.call_id.as_str(), card.name.as_deref(), card.open_cases),
            ("c1", Some("王芳"), 1)
        );
        assert_eq!(card.case, Some((7, "parcel lost".into(), "1002".into())));
        assert_eq!(card.last_call, Some((0, Some("1002".into()))));
        let lines = lines.lock().unwrap().clone();
        assert_eq!(
            lines[..2],
            [
                "on call with 0612345678".to_string(),
                "call on hold".to_string()
            ]
        );
    }
}
