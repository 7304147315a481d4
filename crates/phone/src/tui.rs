//! The terminal interface (`--tui`, ratatui): registration, the audio
//! device, the call's state, the caller's number, the handle-time clock,
//! calls and missed calls; keys `a` answer, `h` hang up, `m` mute, `q` quit.
//! In Simplified Chinese or English ([`Lang`]); the key help fits 80 columns.
//!
//! With `--api` the engine's view of the agent ([`AgentView`]: state, call
//! type, handle time against the limit, hold, missed calls) is merged into
//! the same lines (one state, one clock) and it adds keys: `p` pause (asks the reason), `u` unpause,
//! `o` hold/resume, `t` transfer to the shift leader, `1`-`4` call type,
//! `x` mark the call abusive (asks a note), `r` pause/resume the recording,
//! `s` start recording an unrecorded call. Requests are `try_send`-ed to
//! the API task: the screen never waits on the server.
//!
//! It runs on its own thread: it draws the [`PhoneState`] the phone
//! publishes and sends [`Command`]s back; it never touches the call itself.

use crate::api::{now_ms, AgentState, AgentView, ApiAction, LimitState};
use crate::phone::{CallState, Command, PhoneState};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// `mm:ss` (or `h:mm:ss`) of a duration.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// The engine side of the interface (`--api`).
#[derive(Debug)]
pub struct ApiUi {
    /// What the engine says about the agent.
    pub view: watch::Receiver<AgentView>,
    /// Where key actions go.
    pub actions: mpsc::Sender<ApiAction>,
}

/// Text being typed after `p` (pause reason) or `x` (abuse note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// The pause reason (Enter = `break` when empty).
    PauseReason(String),
    /// The note of an abuse mark.
    AbuseNote(String),
    /// A customer's number to call (click-to-call: the engine rings this
    /// phone first, then the customer).
    DialNumber(String),
}

/// What a key asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// A phone command.
    Phone(Command),
    /// An engine request.
    Api(ApiAction),
}

/// Call types the keys `1`-`4` set.
pub const CALL_TYPE_KEYS: [(char, &str); 4] = [
    ('1', "order"),
    ('2', "inquiry"),
    ('3', "complaint"),
    ('4', "callback"),
];

/// Longest pause reason or note typed.
const MAX_TYPED: usize = 64;

/// Turns a key into an action; `prompt` is the text being typed, if any;
/// `view` = what the engine says (`o` resumes a held call, `r` resumes a
/// paused recording); None = no `--api`, no engine keys.
pub fn handle_key(
    code: KeyCode,
    prompt: &mut Option<Prompt>,
    view: Option<&AgentView>,
) -> Option<KeyAction> {
    if let Some(p) = prompt {
        let digits_only = matches!(p, Prompt::DialNumber(_));
        let text = match p {
            Prompt::PauseReason(t) | Prompt::AbuseNote(t) | Prompt::DialNumber(t) => t,
        };
        match code {
            KeyCode::Esc => *prompt = None,
            KeyCode::Backspace => {
                text.pop();
            }
            // a number: digits and a leading +, at most 32
            KeyCode::Char(c)
                if digits_only
                    && (c.is_ascii_digit() || (c == '+' && text.is_empty()))
                    && text.len() < 32 =>
            {
                text.push(c)
            }
            KeyCode::Char(c)
                if !digits_only && !c.is_control() && text.chars().count() < MAX_TYPED =>
            {
                text.push(c)
            }
            KeyCode::Enter => {
                let a = match prompt.take() {
                    Some(Prompt::PauseReason(r)) => {
                        let r = r.trim();
                        ApiAction::Pause(if r.is_empty() { "break" } else { r }.to_string())
                    }
                    Some(Prompt::AbuseNote(n)) => ApiAction::MarkAbuse(n.trim().to_string()),
                    Some(Prompt::DialNumber(n)) if n.trim_start_matches('+').is_empty() => {
                        return None
                    }
                    Some(Prompt::DialNumber(n)) => ApiAction::Dial(n),
                    None => return None,
                };
                return Some(KeyAction::Api(a));
            }
            _ => {}
        }
        return None;
    }
    let phone = match code {
        KeyCode::Char('a') | KeyCode::Enter => Some(Command::Answer),
        KeyCode::Char('h') => Some(Command::Hangup),
        KeyCode::Char('m') => Some(Command::ToggleMute),
        KeyCode::Char('q') | KeyCode::Esc => Some(Command::Quit),
        _ => None,
    };
    if let Some(c) = phone {
        return Some(KeyAction::Phone(c));
    }
    let view = view?;
    let a = match code {
        KeyCode::Char('p') => {
            *prompt = Some(Prompt::PauseReason(String::new()));
            return None;
        }
        KeyCode::Char('x') => {
            *prompt = Some(Prompt::AbuseNote(String::new()));
            return None;
        }
        KeyCode::Char('d') => {
            *prompt = Some(Prompt::DialNumber(String::new()));
            return None;
        }
        KeyCode::Char('u') => ApiAction::Unpause,
        KeyCode::Char('o') if view.held => ApiAction::Resume,
        KeyCode::Char('o') => ApiAction::Hold,
        KeyCode::Char('r') if view.recording_paused => ApiAction::RecordResume,
        KeyCode::Char('r') => ApiAction::RecordPause,
        KeyCode::Char('s') => ApiAction::RecordStart,
        KeyCode::Char('t') => ApiAction::Transfer(None),
        KeyCode::Char('c') => ApiAction::Close,
        KeyCode::Char(c) => {
            let (_, t) = CALL_TYPE_KEYS.iter().find(|(k, _)| *k == c)?;
            ApiAction::SetType((*t).to_string())
        }
        _ => return None,
    };
    Some(KeyAction::Api(a))
}

/// The language of the interface (`--lang`, else `LC_ALL`/`LC_MESSAGES`/`LANG`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh`, `zh-CN`, `zh_CN.UTF-8` → Chinese, `en*` → English, `C`/`POSIX`
    /// → English; anything else: None.
    pub fn parse(s: &str) -> Option<Lang> {
        let l = s.trim().to_ascii_lowercase();
        if l.starts_with("zh") {
            Some(Lang::Zh)
        } else if l.starts_with("en") || l == "c" || l == "posix" || l.starts_with("c.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// From the environment's locale (the first of `LC_ALL`, `LC_MESSAGES`,
    /// `LANG` that is set); Chinese when none says.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    fn words(self) -> &'static Words {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// The texts of the interface in one language.
struct Words {
    title: &'static str,
    registration: &'static str,
    engine: &'static str,
    audio: &'static str,
    ok: &'static str,
    state: &'static str,
    caller: &'static str,
    customer: &'static str,
    call_type: &'static str,
    handle_time: &'static str,
    calls: &'static str,
    missed: &'static str,
    last: &'static str,
    available: &'static str,
    ringing: &'static str,
    on_call: &'static str,
    muted: &'static str,
    held: &'static str,
    recording_paused: &'static str,
    logged_out: &'static str,
    wrap_up: &'static str,
    paused: &'static str,
    pause_after: &'static str,
    warning: &'static str,
    exceeded: &'static str,
    pause_prompt: &'static str,
    pause_help: &'static str,
    note_prompt: &'static str,
    note_help: &'static str,
    dial_prompt: &'static str,
    dial_help: &'static str,
    phone_keys: &'static [(&'static str, &'static str)],
    engine_keys: &'static [(&'static str, &'static str)],
}

const ZH: Words = Words {
    title: "坐席",
    registration: "注册",
    engine: "引擎",
    audio: "音频设备",
    ok: "正常",
    state: "状态",
    caller: "来电号码",
    customer: "客户",
    call_type: "类型",
    handle_time: "处理时长",
    calls: "通话",
    missed: "未接",
    last: "最近",
    available: "空闲",
    ringing: "振铃中",
    on_call: "通话中",
    muted: "静音",
    held: "保持中",
    recording_paused: "录音暂停",
    logged_out: "已签出",
    wrap_up: "话后处理（剩余 {} 秒）",
    paused: "暂停（{}）",
    pause_after: "本通话后暂停：{}",
    warning: "预警",
    exceeded: "已超时",
    pause_prompt: "暂停原因",
    pause_help: "回车发送，空=休息；Esc 取消",
    note_prompt: "辱骂备注",
    note_help: "回车标记该通话；Esc 取消",
    dial_prompt: "外呼号码",
    dial_help: "回车先振铃本话机再呼客户；Esc 取消",
    phone_keys: &[("a", "接听"), ("h", "挂机"), ("m", "静音"), ("q", "退出")],
    engine_keys: &[
        ("p", "暂停"),
        ("u", "恢复"),
        ("o", "保持/恢复"),
        ("t", "转班长"),
        ("1", "订单"),
        ("2", "咨询"),
        ("3", "投诉"),
        ("4", "回电"),
        ("x", "标记辱骂"),
        ("r", "录音暂停/继续"),
        ("s", "开始录音"),
        ("c", "结束语并挂机"),
        ("d", "外呼"),
    ],
};

const EN: Words = Words {
    title: "agent",
    registration: "Registration",
    engine: "engine",
    audio: "Audio device",
    ok: "ok",
    state: "State",
    caller: "Caller",
    customer: "Customer",
    call_type: "type",
    handle_time: "Handle time",
    calls: "Calls",
    missed: "Missed",
    last: "Last",
    available: "available",
    ringing: "RINGING",
    on_call: "on call",
    muted: "muted",
    held: "HELD",
    recording_paused: "recording paused",
    logged_out: "logged out",
    wrap_up: "wrap-up ({} s left)",
    paused: "paused ({})",
    pause_after: "pause after this call: {}",
    warning: "WARNING",
    exceeded: "LIMIT EXCEEDED",
    pause_prompt: "Pause reason",
    pause_help: "Enter = send, empty = break; Esc = cancel",
    note_prompt: "Abuse note",
    note_help: "Enter = mark the call abusive; Esc = cancel",
    dial_prompt: "Number to call",
    dial_help: "Enter = ring this phone, then the customer; Esc = cancel",
    phone_keys: &[
        ("a", "answer"),
        ("h", "hang up"),
        ("m", "mute"),
        ("q", "quit"),
    ],
    engine_keys: &[
        ("p", "pause"),
        ("u", "unpause"),
        ("o", "hold"),
        ("t", "to leader"),
        ("1", "order"),
        ("2", "inquiry"),
        ("3", "complaint"),
        ("4", "callback"),
        ("x", "abusive"),
        ("r", "rec pause"),
        ("s", "rec start"),
        ("c", "goodbye + hang up"),
        ("d", "dial"),
    ],
};

/// Columns inside the frame of an 80-column terminal.
pub const KEY_LINE_COLUMNS: usize = 78;

/// The display width of `s` (a CJK character takes two columns).
pub fn columns(s: &str) -> usize {
    Line::from(s).width()
}

/// `label: value` with the labels of one screen aligned (by display width).
fn field(label: &str, value: &str) -> String {
    let pad = 14usize.saturating_sub(columns(label) + 1);
    format!("{label}:{}{value}", " ".repeat(pad.max(1)))
}

/// The key help, wrapped into lines of at most `width` columns.
pub fn key_lines(lang: Lang, engine: bool, width: usize) -> Vec<String> {
    let w = lang.words();
    let mut keys: Vec<&(&str, &str)> = w.phone_keys.iter().collect();
    if engine {
        keys.extend(w.engine_keys.iter());
    }
    let mut out = Vec::new();
    let mut line = String::new();
    for (k, label) in keys {
        let item = format!("{k} {label}");
        let sep = if line.is_empty() { "" } else { "  " };
        if !line.is_empty() && columns(&line) + columns(sep) + columns(&item) > width {
            out.push(std::mem::take(&mut line));
            line = item;
        } else {
            line.push_str(sep);
            line.push_str(&item);
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn mmss(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// The agent's state, once: the phone's own call (ringing, talking) is the
/// truth while it has one; between calls the engine's state (wrap-up,
/// paused, logged out) when the engine has said something, else available.
pub fn state_text(st: &PhoneState, view: Option<&AgentView>, now_ms: i64, lang: Lang) -> String {
    let w = lang.words();
    // a pause reason the engine names (`training`) in the interface's language
    let reason = |r: &str| match lang {
        Lang::Zh => crate::tui_zh::zh_reason(r),
        Lang::En => r.to_string(),
    };
    let mut out = match st.call {
        CallState::Ringing => w.ringing.to_string(),
        CallState::Talking => {
            let mut s = w.on_call.to_string();
            let mut extra = Vec::new();
            if st.muted {
                extra.push(w.muted);
            }
            if view.is_some_and(|v| v.held) {
                extra.push(w.held);
            }
            if view.is_some_and(|v| v.recording_paused) {
                extra.push(w.recording_paused);
            }
            if !extra.is_empty() {
                s.push_str(&format!(" ({})", extra.join(", ")));
            }
            s
        }
        CallState::Idle => match view.map(|v| (&v.state, v)) {
            Some((AgentState::LoggedOut, _)) => w.logged_out.to_string(),
            Some((AgentState::WrapUp { until_ms }, _)) if *until_ms > now_ms => w
                .wrap_up
                .replace("{}", &((until_ms - now_ms + 999) / 1000).to_string()),
            Some((AgentState::WrapUp { .. }, v)) => match &v.pause_after_call {
                Some(r) => w.paused.replace("{}", &reason(r)),
                None => w.available.to_string(),
            },
            Some((AgentState::Paused { reason: r }, _)) => w.paused.replace("{}", &reason(r)),
            _ => w.available.to_string(),
        },
    };
    if let Some(r) = view.and_then(|v| v.pause_after_call.as_ref()) {
        if !matches!(view.map(|v| &v.state), Some(AgentState::Paused { .. }))
            && !out.contains(reason(r).as_str())
        {
            out.push_str(&format!("  ({})", w.pause_after.replace("{}", &reason(r))));
        }
    }
    out
}

/// The handle-time clock, once: the engine's (it knows the limit) when it
/// has the call, else the phone's own from its answer.
pub fn handle_time_text(
    st: &PhoneState,
    view: Option<&AgentView>,
    now: Instant,
    now_ms: i64,
    lang: Lang,
) -> String {
    let w = lang.words();
    if st.call != CallState::Talking {
        return "--:--".into();
    }
    if let Some((v, t)) = view.and_then(|v| v.answered_ms.map(|t| (v, t))) {
        let mut out = mmss(now_ms - t);
        if let Some(l) = v.limit_ms {
            out.push_str(&format!(" / {}", mmss(l)));
        }
        match v.limit {
            LimitState::Fine => {}
            LimitState::Warning => out.push_str(&format!("  {}", w.warning)),
            LimitState::Exceeded => out.push_str(&format!("  {}", w.exceeded)),
        }
        return out;
    }
    st.answered_at
        .map(|t| clock(now.saturating_duration_since(t)))
        .unwrap_or_else(|| "--:--".into())
}

/// Every line of the screen: one state, one clock, the keys in lines that
/// fit 80 columns. `api` = what the engine says (with `--api`) and its
/// `now_ms`; `prompt` = text being typed; `note` = the last request's answer.
pub fn screen_lines(
    st: &PhoneState,
    now: Instant,
    api: Option<(&AgentView, i64)>,
    prompt: Option<&Prompt>,
    note: &str,
    lang: Lang,
) -> Vec<String> {
    let w = lang.words();
    let view = api.map(|(v, _)| v);
    let now_ms = api.map(|(_, t)| t).unwrap_or(0);
    // the phone's and the engine's own lines, in the interface's language
    let tr = |s: &str| match lang {
        Lang::Zh => crate::tui_zh::zh_line(s),
        Lang::En => s.to_string(),
    };
    let mut registration = tr(&st.registration);
    if let Some(v) = view {
        registration.push_str(&format!("   {}: {}", w.engine, tr(&v.link)));
    }
    let caller = st
        .caller
        .clone()
        .or_else(|| view.and_then(|v| v.caller.clone()))
        .unwrap_or_else(|| "-".into());
    let caller = match view.and_then(|v| v.call_type.as_deref()) {
        Some(t) if st.call != CallState::Idle => {
            let t = match lang {
                Lang::Zh => crate::tui_zh::zh_call_type(t),
                Lang::En => t.to_string(),
            };
            format!("{caller}   {} {t}", w.call_type)
        }
        _ => caller,
    };
    let missed = view.map_or(st.missed, |v| v.missed.max(st.missed));
    let last = if !note.is_empty() {
        note.to_string()
    } else {
        match view {
            Some(v) if !v.message.is_empty() => tr(&v.message),
            _ => tr(&st.last),
        }
    };
    let customer = view
        .and_then(|v| v.customer.as_ref())
        .map(|c| customer_text(c, now_ms, lang));
    let mut out = vec![
        field(w.registration, &registration),
        field(
            w.audio,
            &st.device_trouble.as_deref().map_or(w.ok.to_string(), tr),
        ),
        field(w.state, &state_text(st, view, now_ms, lang)),
        field(w.caller, &caller),
        field(
            w.handle_time,
            &handle_time_text(st, view, now, now_ms, lang),
        ),
        format!("{}: {}   {}: {}", w.calls, st.calls, w.missed, missed),
        field(w.last, &last),
        String::new(),
    ];
    if let Some(c) = customer {
        // under the caller's number: who they are, before the hello
        out.insert(4, field(w.customer, &c));
    }
    match prompt {
        Some(Prompt::PauseReason(t)) => {
            out.push(format!("{}: {t}_   ({})", w.pause_prompt, w.pause_help))
        }
        Some(Prompt::AbuseNote(t)) => {
            out.push(format!("{}: {t}_   ({})", w.note_prompt, w.note_help))
        }
        Some(Prompt::DialNumber(t)) => {
            out.push(format!("{}: {t}_   ({})", w.dial_prompt, w.dial_help))
        }
        None => out.extend(key_lines(lang, view.is_some(), KEY_LINE_COLUMNS)),
    }
    out
}

/// The customer's card in one line: name, VIP, blacklist, open complaint
/// cases (the newest with its owner: 首问负责制), calls and the last one.
fn customer_text(c: &crate::api::CustomerCard, now_ms: i64, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut parts = vec![c.name.clone().unwrap_or_else(|| "-".into())];
    if c.vip {
        parts.push("VIP".into());
    }
    if let Some(r) = &c.blacklisted {
        parts.push(if zh {
            format!("黑名单：{r}")
        } else {
            format!("BLACKLISTED: {r}")
        });
    }
    if c.open_cases > 0 {
        let case = c.case.as_ref().map_or(String::new(), |(id, title, owner)| {
            if zh {
                format!("（#{id} {title}，负责人 {owner}）")
            } else {
                format!(" (#{id} {title}, owner {owner})")
            }
        });
        parts.push(if zh {
            format!("未结投诉 {} 件{case}", c.open_cases)
        } else {
            format!("open complaints: {}{case}", c.open_cases)
        });
    }
    let ago = |t: i64| {
        let days = (now_ms - t).max(0) / 86_400_000;
        match (days, zh) {
            (0, true) => "今天".to_string(),
            (0, false) => "today".to_string(),
            (d, true) => format!("{d} 天前"),
            (d, false) => format!("{d} d ago"),
        }
    };
    parts.push(match (&c.last_call, zh) {
        (None, true) => "首次来电".into(),
        (None, false) => "first call".into(),
        (Some((t, agent)), true) => format!(
            "来电 {} 次，上次 {}{}",
            c.calls_total,
            ago(*t),
            agent
                .as_deref()
                .map_or(String::new(), |a| format!("（{a} 接听）"))
        ),
        (Some((t, agent)), false) => format!(
            "{} calls, last {}{}",
            c.calls_total,
            ago(*t),
            agent
                .as_deref()
                .map_or(String::new(), |a| format!(" by {a}"))
        ),
    });
    parts.join("  ")
}

/// Draws the interface: the lines of [`screen_lines`]; the state line bold
/// while ringing, the device line bold on trouble.
pub fn render(frame: &mut Frame<'_>, st: &PhoneState, lines: &[String], lang: Lang) {
    let area: Rect = frame.area();
    let text: Vec<Line<'_>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if (i == 2 && st.call == CallState::Ringing) || (i == 1 && st.device_trouble.is_some())
            {
                Line::styled(l.clone(), Style::default().add_modifier(Modifier::BOLD))
            } else {
                Line::from(l.clone())
            }
        })
        .collect();
    let block = Block::default().borders(Borders::ALL).title(format!(
        " hotline-phone: {} {} ",
        lang.words().title,
        st.agent
    ));
    frame.render_widget(Paragraph::new(text).block(block), area);
}

/// Runs the interface on the terminal until `q`, or until the phone stops
/// (the command channel closes). Restores the terminal on the way out.
/// Without a terminal it asks the phone to quit and returns the error.
pub fn run(
    state: watch::Receiver<PhoneState>,
    commands: mpsc::Sender<Command>,
    api: Option<ApiUi>,
    lang: Lang,
) -> std::io::Result<()> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let _ = commands.blocking_send(Command::Quit);
        return Err(std::io::Error::other("--tui needs a terminal on stdout"));
    }
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            let _ = commands.blocking_send(Command::Quit);
            return Err(e);
        }
    };
    let mut prompt: Option<Prompt> = None;
    let mut note = String::new();
    let result = (|| -> std::io::Result<()> {
        loop {
            if commands.is_closed() {
                return Ok(());
            }
            let st = state.borrow().clone();
            let view = api.as_ref().map(|a| a.view.borrow().clone());
            let lines = screen_lines(
                &st,
                Instant::now(),
                view.as_ref().map(|v| (v, now_ms())),
                prompt.as_ref(),
                &note,
                lang,
            );
            terminal.draw(|f| render(f, &st, &lines, lang))?;
            if !event::poll(Duration::from_millis(200))? {
                continue;
            }
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                match handle_key(k.code, &mut prompt, view.as_ref()) {
                    Some(KeyAction::Phone(c)) => {
                        let quit = c == Command::Quit;
                        if commands.blocking_send(c).is_err() || quit {
                            return Ok(());
                        }
                    }
                    Some(KeyAction::Api(a)) => {
                        note.clear();
                        if let Some(ui) = &api {
                            if ui.actions.try_send(a).is_err() {
                                note = match lang {
                                    Lang::Zh => "忙：上一个请求尚未完成".into(),
                                    Lang::En => "busy: the last request is still running".into(),
                                };
                            }
                        }
                    }
                    None => {}
                }
            }
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn draw(width: u16, height: u16, st: &PhoneState, lines: &[String], lang: Lang) -> String {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| render(f, st, lines, lang)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn screen(st: &PhoneState, now: Instant) -> String {
        let lines = screen_lines(st, now, None, None, "", Lang::En);
        draw(80, 14, st, &lines, Lang::En)
    }

    #[test]
    fn the_screen_shows_the_caller_and_the_handle_time_clock() {
        let now = Instant::now();
        let st = PhoneState {
            agent: "1001".into(),
            registration: "registered (expires 600 s)".into(),
            call: CallState::Talking,
            caller: Some("0612345678".into()),
            answered_at: now.checked_sub(Duration::from_secs(83)),
            muted: true,
            device_trouble: Some("LOST: output: unplugged (waiting for it)".into()),
            calls: 2,
            missed: 1,
            last: "answered".into(),
        };
        let s = screen(&st, now);
        for want in [
            "agent 1001",
            "0612345678",
            "01:23",
            "on call (muted)",
            "Missed: 1",
            "registered",
            "LOST: output: unplugged",
        ] {
            assert!(s.contains(want), "`{want}` missing:\n{s}");
        }
        let idle = screen(
            &PhoneState {
                agent: "1001".into(),
                ..PhoneState::default()
            },
            now,
        );
        assert!(
            idle.contains("available") && idle.contains("--:--"),
            "{idle}"
        );
        let ringing = screen(
            &PhoneState {
                call: CallState::Ringing,
                caller: Some("0699".into()),
                ..PhoneState::default()
            },
            now,
        );
        assert!(
            ringing.contains("RINGING") && ringing.contains("0699"),
            "{ringing}"
        );
        // in Chinese
        let lines = screen_lines(&st, now, None, None, "", Lang::Zh);
        let zh = draw(80, 14, &st, &lines, Lang::Zh);
        // (a wide character is drawn as the character and an empty cell)
        let squeezed = zh.replace(' ', "");
        // the phone's own status lines too (issue 20): not "registered (expires 600 s)"
        for want in [
            "坐席1001",
            "通话中",
            "静音",
            "01:23",
            "来电号码",
            "未接:1",
            "已注册（600秒后过期）",
        ] {
            assert!(squeezed.contains(want), "`{want}` missing:\n{zh}");
        }
    }

    #[test]
    fn one_state_and_one_clock_with_the_engine_the_keys_fit_80_columns() {
        use serde_json::json;
        let now = Instant::now();
        let mut v = AgentView::new("1001");
        v.link = "following 127.0.0.1:8080".into();
        // before any event the engine's state is unknown: the phone's shows
        let idle = PhoneState {
            agent: "1001".into(),
            ..PhoneState::default()
        };
        for lang in [Lang::Zh, Lang::En] {
            let l = screen_lines(&idle, now, Some((&v, 0)), None, "", lang).join("\n");
            assert!(!l.contains("unknown"), "{l}");
            assert_eq!(
                l.matches(lang.words().state).count(),
                1,
                "one state line:\n{l}"
            );
        }
        v.apply(&json!({"at_ms": 0, "call_id": "c1", "agent": null, "kind": {"type": "arrived", "caller": {"number": "0699"}, "call_type": "inquiry"}}));
        v.apply(&json!({"at_ms": 1000, "call_id": "c1", "agent": "1001", "kind": {"type": "agent_answered", "wait_ms": 1, "rings": 1}}));
        v.apply(&json!({"at_ms": 2000, "call_id": "c1", "agent": "1001", "kind": {"type": "limit_warning", "call_type": "order", "limit_ms": 60000, "talk_ms": 48000}}));
        v.apply(
            &json!({"at_ms": 2000, "call_id": "c1", "agent": "1001", "kind": {"type": "held"}}),
        );
        // the phone's own clock says 00:40, the engine's 00:49: one clock,
        // the engine's (it has the limit)
        let talking = PhoneState {
            agent: "1001".into(),
            call: CallState::Talking,
            caller: Some("0699".into()),
            answered_at: now.checked_sub(Duration::from_secs(40)),
            ..PhoneState::default()
        };
        let l = screen_lines(&talking, now, Some((&v, 50_000)), None, "", Lang::En).join("\n");
        for want in [
            "following",
            "on call (HELD)",
            "0699",
            "type order",
            "00:49 / 01:00  WARNING",
            "x abusive",
        ] {
            assert!(l.contains(want), "`{want}` missing:\n{l}");
        }
        assert!(!l.contains("00:40"), "two clocks:\n{l}");
        assert_eq!(l.matches("Handle time").count(), 1, "{l}");
        assert!(!l.contains("Customer"), "no card yet:\n{l}");
        // the customer's card, read from the API, under the caller
        assert!(v.set_customer(crate::api::CustomerCard {
            call_id: "c1".into(),
            name: Some("王芳".into()),
            vip: true,
            blacklisted: None,
            open_cases: 1,
            case: Some((7, "parcel lost".into(), "1002".into())),
            calls_total: 4,
            last_call: Some((50_000 - 3 * 86_400_000, Some("1002".into()))),
        }));
        let lines = screen_lines(&talking, now, Some((&v, 50_000)), None, "", Lang::En);
        assert!(
            lines[3].contains("0699") && lines[4].starts_with("Customer"),
            "{lines:?}"
        );
        assert!(
            lines[4].contains("王芳  VIP  open complaints: 1 (#7 parcel lost, owner 1002)  4 calls, last 3 d ago by 1002"),
            "{lines:?}"
        );
        let zh = screen_lines(&talking, now, Some((&v, 50_000)), None, "", Lang::Zh);
        assert!(
            zh[4].contains("未结投诉 1 件（#7 parcel lost，负责人 1002）")
                && zh[4].contains("3 天前"),
            "{zh:?}"
        );
        let zh = screen_lines(&talking, now, Some((&v, 50_000)), None, "", Lang::Zh).join("\n");
        for want in [
            "通话中 (保持中)",
            "类型 订单/预订",
            "00:49 / 01:00  预警",
            "x 标记辱骂",
        ] {
            assert!(zh.contains(want), "`{want}` missing:\n{zh}");
        }
        // the engine alone knows the wrap-up and the pause reason
        v.apply(&json!({"at_ms": 60_000, "call_id": "c1", "agent": "1001", "kind": {"type": "completed", "talk_ms": 59_000, "ended_by": "caller"}}));
        v.apply(&json!({"at_ms": 60_000, "call_id": null, "agent": "1001", "kind": {"type": "agent_paused", "reason": "meal"}}));
        let l = screen_lines(&idle, now, Some((&v, 61_000)), None, "", Lang::Zh).join("\n");
        assert!(l.contains("暂停（用餐）"), "{l}");
        // every line of the key help fits an 80-column terminal in both
        // languages, with and without the engine keys
        for lang in [Lang::Zh, Lang::En] {
            for engine in [false, true] {
                let keys = key_lines(lang, engine, KEY_LINE_COLUMNS);
                assert!(!keys.is_empty());
                for k in &keys {
                    assert!(
                        columns(k) <= KEY_LINE_COLUMNS,
                        "{lang:?}: {k} is {} columns",
                        columns(k)
                    );
                }
                let all = keys.join(" ");
                for key in ["a ", "h ", "q "] {
                    assert!(all.contains(key), "{all}");
                }
                if engine {
                    for key in [
                        "p ", "u ", "o ", "t ", "1 ", "4 ", "x ", "r ", "s ", "c ", "d ",
                    ] {
                        assert!(all.contains(key), "{all}");
                    }
                }
            }
            // drawn at 80×24 the last key is on screen
            let lines = screen_lines(&talking, now, Some((&v, 50_000)), None, "", lang);
            let s = draw(80, 24, &talking, &lines, lang);
            let last = lang.words().engine_keys.last().unwrap().1;
            let squeezed: String = s.replace(' ', "");
            assert!(squeezed.contains(&last.replace(' ', "")), "{lang:?}:\n{s}");
        }
        let l = screen_lines(
            &talking,
            now,
            Some((&v, 50_000)),
            Some(&Prompt::PauseReason("me".into())),
            "busy",
            Lang::En,
        )
        .join("\n");
        assert!(l.contains("Pause reason: me_") && l.contains("busy"), "{l}");
    }

    #[test]
    fn the_dial_key_takes_a_number_and_asks_the_engine_to_call_it() {
        let v = AgentView::new("1001");
        let mut p = None;
        assert_eq!(handle_key(KeyCode::Char('d'), &mut p, Some(&v)), None);
        assert_eq!(p, Some(Prompt::DialNumber(String::new())));
        // only digits (and a leading +) are typed; letters and a late + are ignored
        for c in "+86a138-0+0".chars() {
            handle_key(KeyCode::Char(c), &mut p, Some(&v));
        }
        assert_eq!(p, Some(Prompt::DialNumber("+8613800".into())));
        assert_eq!(
            handle_key(KeyCode::Enter, &mut p, Some(&v)),
            Some(KeyAction::Api(ApiAction::Dial("+8613800".into())))
        );
        assert_eq!(p, None);
        assert_eq!(
            ApiAction::Dial("13800".into()).request("1001"),
            (
                "/api/agents/1001/dial".to_string(),
                Some(serde_json::json!({ "number": "13800" }))
            )
        );
        // an empty number sends nothing; Esc cancels; at most 32 digits
        handle_key(KeyCode::Char('d'), &mut p, Some(&v));
        assert_eq!(handle_key(KeyCode::Enter, &mut p, Some(&v)), None);
        handle_key(KeyCode::Char('d'), &mut p, Some(&v));
        for _ in 0..40 {
            handle_key(KeyCode::Char('9'), &mut p, Some(&v));
        }
        assert_eq!(p, Some(Prompt::DialNumber("9".repeat(32))));
        handle_key(KeyCode::Esc, &mut p, Some(&v));
        assert_eq!(p, None);
        // without the engine (no --api) there is no dial key
        assert_eq!(handle_key(KeyCode::Char('d'), &mut p, None), None);
        assert_eq!(p, None);
    }

    #[test]
    fn the_language_comes_from_the_flag_or_the_locale() {
        assert_eq!(Lang::parse("zh_CN.UTF-8"), Some(Lang::Zh));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("en_US.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("C"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("fr_FR"), None);
        assert_eq!(Lang::parse(""), None);
        assert_eq!(Lang::parse(&"z".repeat(10_000)), None);
        assert_eq!(columns("通话中"), 6);
        assert_eq!(columns("on call"), 7);
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_secs(0)), "00:00");
        assert_eq!(clock(Duration::from_secs(61)), "01:01");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn engine_keys_prompt_for_a_reason_and_map_to_requests() {
        let mut p = None;
        let v = AgentView::new("1001");
        let mut held = AgentView::new("1001");
        held.held = true;
        held.recording_paused = true;
        let (v, held) = (Some(&v), Some(&held));
        assert_eq!(
            handle_key(KeyCode::Char('o'), &mut p, None),
            None,
            "no --api: no engine keys"
        );
        assert_eq!(
            handle_key(KeyCode::Char('r'), &mut p, v),
            Some(KeyAction::Api(ApiAction::RecordPause))
        );
        assert_eq!(
            handle_key(KeyCode::Char('r'), &mut p, held),
            Some(KeyAction::Api(ApiAction::RecordResume))
        );
        assert_eq!(
            handle_key(KeyCode::Char('h'), &mut p, v),
            Some(KeyAction::Phone(Command::Hangup))
        );
        assert_eq!(
            handle_key(KeyCode::Char('o'), &mut p, v),
            Some(KeyAction::Api(ApiAction::Hold))
        );
        assert_eq!(
            handle_key(KeyCode::Char('o'), &mut p, held),
            Some(KeyAction::Api(ApiAction::Resume))
        );
        assert_eq!(
            handle_key(KeyCode::Char('t'), &mut p, v),
            Some(KeyAction::Api(ApiAction::Transfer(None)))
        );
        assert_eq!(
            handle_key(KeyCode::Char('c'), &mut p, v),
            Some(KeyAction::Api(ApiAction::Close))
        );
        assert_eq!(
            handle_key(KeyCode::Char('3'), &mut p, v),
            Some(KeyAction::Api(ApiAction::SetType("complaint".into())))
        );
        // p, then type "meal" (an `h` typed is text, not a hang-up), Enter
        assert_eq!(handle_key(KeyCode::Char('p'), &mut p, v), None);
        for c in "mealh".chars() {
            assert_eq!(handle_key(KeyCode::Char(c), &mut p, v), None);
        }
        handle_key(KeyCode::Backspace, &mut p, v);
        assert_eq!(p, Some(Prompt::PauseReason("meal".into())));
        assert_eq!(
            handle_key(KeyCode::Enter, &mut p, v),
            Some(KeyAction::Api(ApiAction::Pause("meal".into())))
        );
        assert_eq!(p, None);
        // empty reason = break; Esc cancels a note
        handle_key(KeyCode::Char('p'), &mut p, v);
        assert_eq!(
            handle_key(KeyCode::Enter, &mut p, v),
            Some(KeyAction::Api(ApiAction::Pause("break".into())))
        );
        handle_key(KeyCode::Char('x'), &mut p, v);
        handle_key(KeyCode::Char('!'), &mut p, v);
        assert_eq!(handle_key(KeyCode::Esc, &mut p, v), None);
        assert_eq!(p, None);
    }
}
