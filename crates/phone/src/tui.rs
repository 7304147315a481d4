//! The terminal interface (`--tui`, ratatui): registration, the audio
//! device, the call's state, the caller's number, the handle-time clock,
//! calls and missed calls; keys `a` answer, `h` hang up, `m` mute, `q` quit.
//!
//! With `--api` it also shows what the engine says about the agent
//! ([`AgentView`]: state, call type, handle time against the limit, hold,
//! missed calls) and adds keys: `p` pause (asks the reason), `u` unpause,
//! `o` hold/resume, `t` transfer to the shift leader, `1`-`4` call type,
//! `x` mark the call abusive (asks a note), `r` pause/resume the recording,
//! `s` start recording an unrecorded call. Requests are `try_send`-ed to
//! the API task: the screen never waits on the server.
//!
//! It runs on its own thread: it draws the [`PhoneState`] the phone
//! publishes and sends [`Command`]s back; it never touches the call itself.

use crate::api::{now_ms, AgentView, ApiAction};
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
        let text = match p {
            Prompt::PauseReason(t) | Prompt::AbuseNote(t) => t,
        };
        match code {
            KeyCode::Esc => *prompt = None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !c.is_control() && text.chars().count() < MAX_TYPED => text.push(c),
            KeyCode::Enter => {
                let a = match prompt.take() {
                    Some(Prompt::PauseReason(r)) => {
                        let r = r.trim();
                        ApiAction::Pause(if r.is_empty() { "break" } else { r }.to_string())
                    }
                    Some(Prompt::AbuseNote(n)) => ApiAction::MarkAbuse(n.trim().to_string()),
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
        KeyCode::Char('u') => ApiAction::Unpause,
        KeyCode::Char('o') if view.held => ApiAction::Resume,
        KeyCode::Char('o') => ApiAction::Hold,
        KeyCode::Char('r') if view.recording_paused => ApiAction::RecordResume,
        KeyCode::Char('r') => ApiAction::RecordPause,
        KeyCode::Char('s') => ApiAction::RecordStart,
        KeyCode::Char('t') => ApiAction::Transfer(None),
        KeyCode::Char(c) => {
            let (_, t) = CALL_TYPE_KEYS.iter().find(|(k, _)| *k == c)?;
            ApiAction::SetType((*t).to_string())
        }
        _ => return None,
    };
    Some(KeyAction::Api(a))
}

/// The engine's lines (with `--api`).
pub fn api_lines(v: &AgentView, now_ms: i64, prompt: Option<&Prompt>, note: &str) -> Vec<String> {
    let call = match (&v.caller, v.clock_text(now_ms)) {
        (None, None) => "-".to_string(),
        (caller, clock) => format!(
            "{}  type {}  handle time {}{}",
            caller.as_deref().unwrap_or("?"),
            v.call_type.as_deref().unwrap_or("-"),
            clock.unwrap_or_else(|| "--:--".into()),
            if v.recording_paused {
                "  (recording paused)"
            } else {
                ""
            }
        ),
    };
    let state = v.state_text(now_ms);
    let pending = match &v.pause_after_call {
        Some(r) if !state.starts_with("paused") => format!("  (pause after this call: {r})"),
        _ => String::new(),
    };
    let mut out = vec![
        format!("Engine:       {}", v.link),
        format!("Agent state:  {state}{pending}"),
        format!("Engine call:  {call}"),
        format!("Missed (engine): {}", v.missed),
        format!(
            "Engine says:  {}",
            if note.is_empty() { &v.message } else { note }
        ),
    ];
    out.push(match prompt {
        Some(Prompt::PauseReason(t)) => format!("Pause reason: {t}_   (Enter = send, empty = break; Esc = cancel)"),
        Some(Prompt::AbuseNote(t)) => format!("Abuse note:   {t}_   (Enter = mark the call abusive; Esc = cancel)"),
        None => "Keys: p pause  u unpause  o hold/resume  t transfer to shift leader  1 order  2 inquiry  3 complaint  4 callback  x mark abusive  r pause/resume recording  s start recording".to_string(),
    });
    out
}

/// The lines the interface shows for `st` at `now`.
pub fn lines(st: &PhoneState, now: Instant) -> Vec<String> {
    let state = match st.call {
        CallState::Idle => "available".to_string(),
        CallState::Ringing => "RINGING".to_string(),
        CallState::Talking if st.muted => "on call (muted)".to_string(),
        CallState::Talking => "on call".to_string(),
    };
    let handle = st
        .answered_at
        .map(|t| clock(now.saturating_duration_since(t)))
        .unwrap_or_else(|| "--:--".into());
    vec![
        format!("Registration: {}", st.registration),
        format!(
            "Audio device: {}",
            st.device_trouble.as_deref().unwrap_or("ok")
        ),
        format!("State:        {state}"),
        format!("Caller:       {}", st.caller.as_deref().unwrap_or("-")),
        format!("Handle time:  {handle}"),
        format!("Calls: {}   Missed: {}", st.calls, st.missed),
        format!("Last: {}", st.last),
        String::new(),
        "Keys: a answer   h hang up   m mute   q quit".to_string(),
    ]
}

/// Draws the interface; `api` = the engine's lines, if any.
pub fn render(frame: &mut Frame<'_>, st: &PhoneState, now: Instant, api: &[String]) {
    let area: Rect = frame.area();
    let mut all = lines(st, now);
    all.extend(api.iter().cloned());
    let text: Vec<Line<'_>> = all
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if (i == 2 && st.call == CallState::Ringing) || (i == 1 && st.device_trouble.is_some())
            {
                Line::styled(l, Style::default().add_modifier(Modifier::BOLD))
            } else {
                Line::from(l)
            }
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" hotline-phone: agent {} ", st.agent));
    frame.render_widget(Paragraph::new(text).block(block), area);
}

/// Runs the interface on the terminal until `q`, or until the phone stops
/// (the command channel closes). Restores the terminal on the way out.
/// Without a terminal it asks the phone to quit and returns the error.
pub fn run(
    state: watch::Receiver<PhoneState>,
    commands: mpsc::Sender<Command>,
    api: Option<ApiUi>,
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
            let extra = view
                .as_ref()
                .map(|v| api_lines(v, now_ms(), prompt.as_ref(), &note))
                .unwrap_or_default();
            terminal.draw(|f| render(f, &st, Instant::now(), &extra))?;
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
                                note = "busy: the last request is still running".into();
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

    fn screen(st: &PhoneState, now: Instant) -> String {
        let mut t = Terminal::new(TestBackend::new(70, 13)).unwrap();
        t.draw(|f| render(f, st, now, &[])).unwrap();
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

    #[test]
    fn the_engine_lines_show_state_call_type_and_limit() {
        use serde_json::json;
        let mut v = AgentView::new("1001");
        v.link = "following 127.0.0.1:8080".into();
        v.apply(&json!({"at_ms": 0, "call_id": "c1", "agent": null, "kind": {"type": "arrived", "caller": {"number": "0699"}, "call_type": "inquiry"}}));
        v.apply(&json!({"at_ms": 1000, "call_id": "c1", "agent": "1001", "kind": {"type": "agent_answered", "wait_ms": 1, "rings": 1}}));
        v.apply(&json!({"at_ms": 2000, "call_id": "c1", "agent": "1001", "kind": {"type": "limit_warning", "call_type": "order", "limit_ms": 60000, "talk_ms": 48000}}));
        v.apply(
            &json!({"at_ms": 2000, "call_id": "c1", "agent": "1001", "kind": {"type": "held"}}),
        );
        let l = api_lines(&v, 50_000, None, "").join("\n");
        for want in [
            "following",
            "on call (HELD)",
            "0699",
            "type order",
            "00:49 / 01:00  WARNING",
            "call on hold",
            "x mark abusive",
        ] {
            assert!(l.contains(want), "`{want}` missing:\n{l}");
        }
        let l = api_lines(&v, 50_000, Some(&Prompt::PauseReason("me".into())), "busy").join("\n");
        assert!(
            l.contains("Pause reason: me_") && l.contains("Engine says:  busy"),
            "{l}"
        );
        // it fits the screen with the phone's lines
        let mut t = Terminal::new(TestBackend::new(140, 20)).unwrap();
        let extra = api_lines(&v, 50_000, None, "");
        t.draw(|f| render(f, &PhoneState::default(), Instant::now(), &extra))
            .unwrap();
    }
}
