//! The terminal interface (`--tui`, ratatui): registration, the call's state,
//! the caller's number, the handle-time clock, calls and missed calls; keys
//! `a` answer, `h` hang up, `m` mute, `q` quit.
//!
//! It runs on its own thread: it draws the [`PhoneState`] the phone
//! publishes and sends [`Command`]s back; it never touches the call itself.

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

/// Draws the interface.
pub fn render(frame: &mut Frame<'_>, st: &PhoneState, now: Instant) {
    let area: Rect = frame.area();
    let text: Vec<Line<'_>> = lines(st, now)
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
    let result = (|| -> std::io::Result<()> {
        loop {
            if commands.is_closed() {
                return Ok(());
            }
            let st = state.borrow().clone();
            terminal.draw(|f| render(f, &st, Instant::now()))?;
            if !event::poll(Duration::from_millis(200))? {
                continue;
            }
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                let c = match k.code {
                    KeyCode::Char('a') | KeyCode::Enter => Command::Answer,
                    KeyCode::Char('h') => Command::Hangup,
                    KeyCode::Char('m') => Command::ToggleMute,
                    KeyCode::Char('q') | KeyCode::Esc => Command::Quit,
                    _ => continue,
                };
                let quit = c == Command::Quit;
                if commands.blocking_send(c).is_err() || quit {
                    return Ok(());
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
        t.draw(|f| render(f, st, now)).unwrap();
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
}
