//! Live monitoring's engine side: which phones belong to supervisors, the
//! desk-phone feature codes (`*70` + agent to listen, `*71` whisper, `*72`
//! barge), and the audit entries of every monitoring session.

use hotline_core::{CallEvent, EventKind, MonitorMode};
use tracing::warn;

/// Settings of live monitoring (`[monitor]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorConfig {
    /// SIP accounts (agents' ids) whose phones have the supervisor role:
    /// they may dial the monitor codes and are the phones the console rings.
    pub supervisors: Vec<String>,
    /// Listen code, followed by the agent's number (`*70` → `*701001`).
    pub listen_code: String,
    /// Whisper code.
    pub whisper_code: String,
    /// Barge code.
    pub barge_code: String,
    /// A short beep to the agent when a supervisor joins.
    pub beep: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            supervisors: Vec::new(),
            listen_code: "*70".into(),
            whisper_code: "*71".into(),
            barge_code: "*72".into(),
            beep: false,
        }
    }
}

/// Longest agent number accepted after a monitor code.
pub const MAX_AGENT_DIGITS: usize = 32;

impl MonitorConfig {
    /// Is `account` a supervisor's phone?
    pub fn is_supervisor(&self, account: &str) -> bool {
        self.supervisors.iter().any(|s| s == account)
    }

    /// The mode and agent of a dialled monitor code (`*711001` → whisper
    /// agent 1001); None when `dialled` is not one. The longest matching
    /// code wins (codes may share a prefix); the agent part is 1–32
    /// characters of letters, digits, `.`, `_` or `-`.
    pub fn parse(&self, dialled: &str) -> Option<(MonitorMode, String)> {
        let mut codes = [
            (self.listen_code.as_str(), MonitorMode::Listen),
            (self.whisper_code.as_str(), MonitorMode::Whisper),
            (self.barge_code.as_str(), MonitorMode::Barge),
        ];
        codes.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
        codes.iter().find_map(|(code, mode)| {
            if code.is_empty() {
                return None;
            }
            let agent = dialled.strip_prefix(code)?;
            let ok = !agent.is_empty()
                && agent.len() <= MAX_AGENT_DIGITS
                && agent
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            ok.then(|| (*mode, agent.to_string()))
        })
    }
}

/// The audit entry of a monitoring event: (action, reason), or None for
/// other events. `who` is the supervisor's phone and who asked.
pub(crate) fn audit_entry(e: &CallEvent) -> Option<(String, &'static str, String)> {
    let agent = e.agent.as_ref().map(|a| a.to_string()).unwrap_or_default();
    match &e.kind {
        EventKind::MonitorStarted {
            supervisor,
            mode,
            by,
        } => Some((
            format!("phone:{supervisor} ({by})"),
            "monitor_start",
            format!("mode {mode}, agent {agent}"),
        )),
        EventKind::MonitorModeChanged {
            supervisor,
            from,
            mode,
            by,
        } => Some((
            format!("phone:{supervisor} ({by})"),
            "monitor_mode",
            format!("{from} -> {mode}, agent {agent}"),
        )),
        EventKind::MonitorStopped {
            supervisor,
            duration_ms,
            reason,
        } => Some((
            format!("phone:{supervisor}"),
            "monitor_stop",
            format!(
                "after {} s ({reason}), started {}, agent {agent}",
                duration_ms / 1000,
                e.at_ms - duration_ms
            ),
        )),
        EventKind::MonitorFailed { supervisor, reason } => Some((
            format!("phone:{supervisor}"),
            "monitor_failed",
            format!("{reason}, agent {agent}"),
        )),
        _ => None,
    }
}

/// Writes a monitoring event's audit entry (off the call's task; a failure
/// is logged: the event itself is in the event log either way).
pub(crate) fn audit(store: &hotline_store::Store, e: &CallEvent) {
    let Some((who, action, reason)) = audit_entry(e) else {
        return;
    };
    let store = store.clone();
    let call = e.call_id.as_ref().map(|c| c.to_string());
    let at = e.at_ms;
    tokio::spawn(async move {
        if let Err(err) = store
            .append_audit(at, &who, action, call.as_deref(), &reason)
            .await
        {
            warn!(error = %err, %action, "cannot write the monitoring audit entry");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_with_the_agent_after_them() {
        let c = MonitorConfig::default();
        assert_eq!(
            c.parse("*701001"),
            Some((MonitorMode::Listen, "1001".into()))
        );
        assert_eq!(
            c.parse("*711001"),
            Some((MonitorMode::Whisper, "1001".into()))
        );
        assert_eq!(
            c.parse("*72a.b-c_d"),
            Some((MonitorMode::Barge, "a.b-c_d".into()))
        );
        for bad in [
            "*70",
            "*7",
            "*73 1001",
            "*701001 ",
            "*70100;1",
            "*70<script>",
            "*61",
            "",
            "*70\u{0}",
            "*70🙂",
        ] {
            assert_eq!(c.parse(bad), None, "{bad:?}");
        }
        let long = format!("*70{}", "1".repeat(MAX_AGENT_DIGITS + 1));
        assert_eq!(c.parse(&long), None);
        let ok = format!("*70{}", "1".repeat(MAX_AGENT_DIGITS));
        assert!(c.parse(&ok).is_some());
    }

    #[test]
    fn the_longest_code_wins_and_empty_codes_are_off() {
        let c = MonitorConfig {
            listen_code: "*7".into(),
            whisper_code: "*77".into(),
            barge_code: String::new(),
            ..MonitorConfig::default()
        };
        assert_eq!(
            c.parse("*771001"),
            Some((MonitorMode::Whisper, "1001".into()))
        );
        assert_eq!(
            c.parse("*71001"),
            Some((MonitorMode::Listen, "1001".into()))
        );
        assert_eq!(c.parse("1001"), None);
        assert!(!c.is_supervisor("1004"));
        let s = MonitorConfig {
            supervisors: vec!["1004".into()],
            ..MonitorConfig::default()
        };
        assert!(s.is_supervisor("1004") && !s.is_supervisor("1001"));
    }

    #[test]
    fn every_monitoring_event_has_an_audit_entry() {
        use hotline_core::{AgentId, CallId};
        let ev = |kind| CallEvent {
            at_ms: 100_000,
            call_id: Some(CallId::from_stored("c1")),
            agent: Some(AgentId::new("1001")),
            queue: None,
            kind,
        };
        let stop = ev(EventKind::MonitorStopped {
            supervisor: "1004".into(),
            duration_ms: 42_000,
            reason: "supervisor hung up".into(),
        });
        let (who, action, reason) = audit_entry(&stop).unwrap();
        assert_eq!((who.as_str(), action), ("phone:1004", "monitor_stop"));
        assert!(reason.contains("after 42 s") && reason.contains("started 58000"));
        assert!(reason.contains("agent 1001"));
        let start = ev(EventKind::MonitorStarted {
            supervisor: "1004".into(),
            mode: MonitorMode::Barge,
            by: "api:alice".into(),
        });
        let (who, action, reason) = audit_entry(&start).unwrap();
        assert_eq!(who, "phone:1004 (api:alice)");
        assert_eq!(action, "monitor_start");
        assert!(reason.contains("barge"));
        assert!(audit_entry(&ev(EventKind::WrapUp { wrap_ms: 1 })).is_none());
    }
}
