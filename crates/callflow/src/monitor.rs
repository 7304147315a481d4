//! Live monitoring of a talking call (a child module of `call`): a
//! supervisor's phone is rung and joined as a third media leg in listen,
//! whisper or barge; the mode can change; the supervisor hanging up ends
//! only the monitoring, the call ending (or being transferred) ends it too.
//! Every start, mode change and stop is an event of the call.

use super::{Call, Command, LegInput, Phase};
use crate::control::{Action, ControlError};
use crate::settings::PromptRef;
use hotline_core::{EventKind, MonitorMode};

/// How long the supervisor's phone rings before the request is given up, ms.
pub const MONITOR_RING_MS: i64 = 30_000;

/// A supervisor on (or being rung for) the call.
#[derive(Clone, Debug)]
pub(super) struct Monitoring {
    /// The supervisor's phone (SIP account).
    pub(super) supervisor: String,
    /// Who asked.
    pub(super) by: String,
    pub(super) mode: MonitorMode,
    /// When the supervisor joined (None: their phone rings).
    pub(super) joined_ms: Option<i64>,
    /// Give up ringing at.
    ring_until: i64,
    beep: bool,
}

impl Call {
    /// When the supervisor's phone stops ringing, if it rings.
    pub(super) fn monitor_deadline(&self) -> Option<i64> {
        self.monitor
            .as_ref()
            .filter(|m| m.joined_ms.is_none())
            .map(|m| m.ring_until)
    }

    pub(super) fn monitor_timeout(&mut self, now: i64) {
        if self.monitor_deadline().is_some_and(|t| t <= now) {
            self.end_monitor(now, "the supervisor's phone did not answer", true);
        }
    }

    /// A monitor request, mode switch or stop on the talking call.
    pub(super) fn monitor_action(
        &mut self,
        now: i64,
        action: Action,
        by: &str,
    ) -> Result<(), ControlError> {
        let refuse = |why: String| Err(ControlError::Refused(why));
        let Some(agent) = self.talk.as_ref().map(|t| t.agent.clone()) else {
            return refuse("the call is not talking to an agent".into());
        };
        match action {
            Action::Monitor {
                supervisor,
                mode,
                own_leg,
                beep,
            } => {
                if let Some(m) = &self.monitor {
                    return refuse(format!("the call is already monitored by {}", m.supervisor));
                }
                if supervisor == agent.as_str() {
                    return refuse("an agent cannot monitor their own call".into());
                }
                if supervisor.is_empty() {
                    return refuse("no supervisor phone named".into());
                }
                self.monitor = Some(Monitoring {
                    supervisor: supervisor.clone(),
                    by: by.to_string(),
                    mode,
                    joined_ms: None,
                    ring_until: now + MONITOR_RING_MS,
                    beep,
                });
                self.push(if own_leg {
                    Command::AnswerSupervisor
                } else {
                    Command::InviteSupervisor { supervisor }
                });
                Ok(())
            }
            Action::SetMonitorMode(mode) => {
                let Some(m) = self.monitor.as_mut() else {
                    return refuse("the call is not monitored".into());
                };
                if m.mode == mode {
                    return Ok(());
                }
                let from = std::mem::replace(&mut m.mode, mode);
                let supervisor = m.supervisor.clone();
                if m.joined_ms.is_some() {
                    self.push(Command::SetMonitorMode(mode));
                    self.emit(
                        now,
                        Some(&agent),
                        EventKind::MonitorModeChanged {
                            supervisor,
                            from,
                            mode,
                            by: by.to_string(),
                        },
                    );
                }
                Ok(())
            }
            Action::StopMonitor => {
                if self.monitor.is_none() {
                    return refuse("the call is not monitored".into());
                }
                self.end_monitor(now, &format!("stopped by {by}"), true);
                Ok(())
            }
            _ => refuse("not a monitor request".into()),
        }
    }

    /// What happened on the supervisor's leg.
    pub(super) fn on_supervisor(&mut self, now: i64, ev: LegInput) {
        let Some(m) = self.monitor.as_mut() else {
            // a late event of a leg already let go
            return;
        };
        match ev {
            LegInput::Invited { .. }
            | LegInput::RemoteHold { .. }
            | LegInput::Refer { .. }
            | LegInput::SessionTimer { .. }
            | LegInput::Refreshed
            | LegInput::RefreshFailed { .. } => {}
            LegInput::Answered { usable: true } if m.joined_ms.is_none() => {
                if self.phase != Phase::Talking {
                    return self.end_monitor(now, "the call is no longer talking", true);
                }
                m.joined_ms = Some(now);
                let (mode, beep) = (m.mode, m.beep);
                let kind = EventKind::MonitorStarted {
                    supervisor: m.supervisor.clone(),
                    mode,
                    by: m.by.clone(),
                };
                self.push(Command::JoinMonitor { mode });
                if beep {
                    self.push(Command::ToneToAgent(PromptRef::MonitorBeep));
                }
                let agent = self.talk.as_ref().map(|t| t.agent.clone());
                self.emit(now, agent.as_ref(), kind);
            }
            LegInput::Answered { .. } => {
                if m.joined_ms.is_none() {
                    self.end_monitor(
                        now,
                        "the supervisor's phone answered without usable SDP",
                        true,
                    );
                }
            }
            LegInput::InviteFailed { reason } => {
                self.end_monitor(now, &format!("cannot ring the supervisor: {reason}"), false)
            }
            LegInput::Rejected { status } => self.end_monitor(
                now,
                &format!("the supervisor's phone refused ({status})"),
                false,
            ),
            LegInput::Gone { .. } => self.end_monitor(now, "supervisor hung up", false),
        }
    }

    /// Ends the monitoring, if any: `monitor_stopped` (joined) or
    /// `monitor_failed` (never joined); the leg is removed from the media
    /// and, when `hang_up`, ended.
    pub(super) fn end_monitor(&mut self, now: i64, reason: &str, hang_up: bool) {
        let Some(m) = self.monitor.take() else {
            return;
        };
        let kind = match m.joined_ms {
            Some(t) => EventKind::MonitorStopped {
                supervisor: m.supervisor,
                duration_ms: (now - t).max(0),
                reason: reason.to_string(),
            },
            None => EventKind::MonitorFailed {
                supervisor: m.supervisor,
                reason: reason.to_string(),
            },
        };
        self.push(Command::EndMonitor { hang_up });
        let agent = self.talk.as_ref().map(|t| t.agent.clone());
        self.emit(now, agent.as_ref(), kind);
    }
}
