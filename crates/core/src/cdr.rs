//! The call detail record: one summary row per call, derived from the call's
//! own events so that it can always be re-derived from the event log.

use crate::{AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Outcome, QueueId};

/// The call detail record of one call: a summary row derived from its events.
#[derive(Clone, Debug, PartialEq)]
pub struct Cdr {
    /// The call.
    pub call_id: CallId,
    /// The caller's number or SIP user.
    pub caller: String,
    /// The caller's display name, if sent.
    pub caller_name: Option<String>,
    /// The number the caller dialled.
    pub dialled: String,
    /// The queue the call went to, if any.
    pub queue: Option<QueueId>,
    /// The agent who answered, if any.
    pub agent: Option<AgentId>,
    /// What the call was about (as known at its end).
    pub call_type: CallType,
    /// When the INVITE arrived, epoch ms.
    pub arrived_ms: i64,
    /// When the engine answered itself (after the ring target), epoch ms.
    pub system_answered_ms: Option<i64>,
    /// When an agent answered, epoch ms.
    pub agent_answered_ms: Option<i64>,
    /// When the call ended, epoch ms.
    pub ended_ms: Option<i64>,
    /// Time from arrival to an agent's answer (or to abandon), ms.
    pub wait_ms: Option<i64>,
    /// Time talking with the agent, ms.
    pub talk_ms: Option<i64>,
    /// Rings the caller heard before someone answered.
    pub rings: Option<i64>,
    /// How the call ended.
    pub outcome: Option<Outcome>,
    /// Who ended it.
    pub ended_by: Option<EndedBy>,
    /// Recording path relative to the recordings root.
    pub recording_path: Option<String>,
    /// SHA-256 of the recording, hex.
    pub recording_sha256: Option<String>,
    /// Why the engine ended an answered call whose line died:
    /// `media_timeout` (no RTP) or `session_expired` (a SIP session timer
    /// ran out: the far end vanished); None otherwise.
    pub end_cause: Option<String>,
}

/// When the call ended by its events: the latest event other than the
/// record-keeping about its recording file (sealed, failed to seal,
/// recovered or deleted after the call); the last event if there is only
/// that.
fn ended_ms(events: &[CallEvent]) -> Option<i64> {
    events
        .iter()
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::RecordingClosed { .. }
                    | EventKind::RecordingFailed { .. }
                    | EventKind::RecordingRecovered { .. }
                    | EventKind::RecordingDeleted { .. }
            )
        })
        .map(|e| e.at_ms)
        .max()
        .or_else(|| events.last().map(|e| e.at_ms))
}

impl Cdr {
    /// Derives the CDR of one call from its events, in the order they
    /// happened. None when the events hold no `arrived` (not a call's log).
    ///
    /// - queue: the last queue named by an event (transfers and overflows
    ///   move it); agent: the last agent who answered; type: the last of the
    ///   arrival's, the IVR choice's and the agent's disposition;
    /// - answer, wait and rings: the first agent answer (a transferred call
    ///   counts once); a call that never reached an agent: the wait of its
    ///   abandon, or until the callback was requested;
    /// - talk: from the first answer to the completion;
    /// - outcome: from the event that ended the call; ended: its last event
    ///   about the call itself, not the record-keeping about its file that
    ///   follows the end (`recording_closed` comes when the seal — fsync,
    ///   SHA-256, signature — is done, seconds after the BYE under load).
    pub fn from_events(events: &[CallEvent]) -> Option<Cdr> {
        let (arrived, caller, dialled, mut call_type) =
            events.iter().find_map(|e| match &e.kind {
                EventKind::Arrived {
                    caller,
                    dialled,
                    call_type,
                } => Some((e.at_ms, caller.clone(), dialled.clone(), *call_type)),
                _ => None,
            })?;
        let call_id = events.iter().find_map(|e| e.call_id.clone())?;
        let mut cdr = Cdr {
            call_id,
            caller: caller.number,
            caller_name: caller.display,
            dialled,
            queue: None,
            agent: None,
            call_type,
            arrived_ms: arrived,
            system_answered_ms: None,
            agent_answered_ms: None,
            ended_ms: ended_ms(events),
            wait_ms: None,
            talk_ms: None,
            rings: None,
            outcome: None,
            ended_by: None,
            recording_path: None,
            recording_sha256: None,
            end_cause: None,
        };
        for e in events {
            if let Some(q) = &e.queue {
                cdr.queue = Some(q.clone());
            }
            match &e.kind {
                EventKind::IvrChoice { call_type: t, .. }
                | EventKind::CallTypeSet { call_type: t, .. } => {
                    call_type = *t;
                }
                EventKind::SystemAnswered { .. } => {
                    cdr.system_answered_ms.get_or_insert(e.at_ms);
                }
                EventKind::AgentAnswered { wait_ms, rings, .. } => {
                    cdr.agent = e.agent.clone();
                    if cdr.agent_answered_ms.is_none() {
                        cdr.agent_answered_ms = Some(e.at_ms);
                        cdr.wait_ms = Some(*wait_ms);
                        cdr.rings = Some(i64::from(*rings));
                    }
                }
                EventKind::Completed { ended_by, .. } => {
                    cdr.ended_by = Some(*ended_by);
                    cdr.talk_ms = cdr.agent_answered_ms.map(|a| e.at_ms - a);
                    cdr.outcome = Some(Outcome::Answered);
                }
                EventKind::Abandoned { wait_ms, .. } => {
                    cdr.wait_ms.get_or_insert(*wait_ms);
                    cdr.outcome = Some(Outcome::Abandoned);
                }
                EventKind::Rejected { .. } => cdr.outcome = Some(Outcome::Rejected),
                EventKind::MediaTimeout { .. } => cdr.end_cause = Some("media_timeout".into()),
                EventKind::SessionExpired { .. } => cdr.end_cause = Some("session_expired".into()),
                EventKind::Failed { .. } | EventKind::CallbackExpired { .. } => {
                    cdr.outcome = Some(Outcome::Failed);
                }
                EventKind::VoicemailLeft { .. } => cdr.outcome = Some(Outcome::Voicemail),
                EventKind::CallbackRequested { .. } if e.call_id.as_ref() == Some(&cdr.call_id) => {
                    cdr.wait_ms.get_or_insert(e.at_ms - arrived);
                    cdr.outcome = Some(Outcome::Callback);
                }
                EventKind::RecordingOpened { path } => cdr.recording_path = Some(path.clone()),
                EventKind::RecordingClosed { sha256, .. } => {
                    cdr.recording_sha256 = Some(sha256.clone());
                }
                _ => {}
            }
        }
        cdr.call_type = call_type;
        Some(cdr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Party;

    fn ev(at_ms: i64, agent: Option<&str>, queue: Option<&str>, kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms,
            call_id: Some(CallId::from_stored("c1")),
            agent: agent.map(AgentId::new),
            queue: queue.map(QueueId::new),
            kind,
        }
    }

    fn arrived(at: i64) -> CallEvent {
        ev(
            at,
            None,
            None,
            EventKind::Arrived {
                caller: Party {
                    number: "0612".into(),
                    display: Some("Li".into()),
                },
                dialled: "4000".into(),
                call_type: CallType::default(),
            },
        )
    }

    #[test]
    fn a_transferred_call_counts_its_first_answer_and_its_last_agent() {
        let events = vec![
            arrived(1_000),
            ev(
                1_000,
                None,
                Some("general"),
                EventKind::Queued { position: 1 },
            ),
            ev(
                12_000,
                None,
                Some("general"),
                EventKind::SystemAnswered { rings: 3 },
            ),
            ev(
                15_000,
                Some("a1"),
                Some("general"),
                EventKind::AgentAnswered {
                    wait_ms: 14_000,
                    rings: 3,
                    limit_ms: None,
                },
            ),
            ev(
                16_000,
                None,
                Some("general"),
                EventKind::RecordingOpened {
                    path: "r.wav".into(),
                },
            ),
            ev(
                20_000,
                Some("a1"),
                Some("general"),
                EventKind::CallTypeSet {
                    call_type: CallType::Order,
                    limit_ms: None,
                    by: "a1".into(),
                },
            ),
            ev(
                30_000,
                Some("a1"),
                Some("leaders"),
                EventKind::Transferred {
                    to: QueueId::new("leaders"),
                    talk_ms: 15_000,
                    by: "a1".into(),
                },
            ),
            ev(
                35_000,
                Some("b1"),
                Some("leaders"),
                EventKind::AgentAnswered {
                    wait_ms: 34_000,
                    rings: 3,
                    limit_ms: None,
                },
            ),
            ev(
                50_000,
                Some("b1"),
                Some("leaders"),
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: 15_000,
                },
            ),
            ev(
                50_100,
                Some("b1"),
                Some("leaders"),
                EventKind::RecordingClosed {
                    path: "r.wav".into(),
                    sha256: "ab".into(),
                    samples: 1,
                    gaps: 0,
                    gap_samples: 0,
                },
            ),
        ];
        let cdr = Cdr::from_events(&events).expect("a call");
        assert_eq!(cdr.caller, "0612");
        assert_eq!(cdr.caller_name.as_deref(), Some("Li"));
        assert_eq!(cdr.queue, Some(QueueId::new("leaders")));
        assert_eq!(cdr.agent, Some(AgentId::new("b1")));
        assert_eq!(cdr.call_type, CallType::Order);
        assert_eq!(cdr.system_answered_ms, Some(12_000));
        assert_eq!(cdr.agent_answered_ms, Some(15_000));
        assert_eq!((cdr.wait_ms, cdr.rings), (Some(14_000), Some(3)));
        assert_eq!(cdr.talk_ms, Some(35_000));
        assert_eq!(cdr.outcome, Some(Outcome::Answered));
        assert_eq!(cdr.ended_by, Some(EndedBy::Caller));
        // the BYE, not the seal 100 ms later
        assert_eq!(cdr.ended_ms, Some(50_000));
        assert_eq!(cdr.recording_path.as_deref(), Some("r.wav"));
        assert_eq!(cdr.recording_sha256.as_deref(), Some("ab"));
    }

    #[test]
    fn the_end_is_the_hang_up_not_the_seal_of_the_recording_seconds_later() {
        // issue 19: at 300 calls/s the seal (fsync, SHA-256, signature)
        // came back seconds after the BYE, and the CDRs, ending at the
        // seal, had 2,222 calls bridged at once while SIPp held 900
        let sealed = |at: i64| {
            ev(
                at,
                Some("a1"),
                None,
                EventKind::RecordingClosed {
                    path: "r.wav".into(),
                    sha256: "ab".into(),
                    samples: 16_000,
                    gaps: 0,
                    gap_samples: 0,
                },
            )
        };
        let answered = ev(
            1_000,
            Some("a1"),
            None,
            EventKind::AgentAnswered {
                wait_ms: 1_000,
                rings: 1,
                limit_ms: None,
            },
        );
        let completed = ev(
            3_000,
            Some("a1"),
            None,
            EventKind::Completed {
                ended_by: EndedBy::Caller,
                talk_ms: 2_000,
            },
        );
        let cdr =
            Cdr::from_events(&[arrived(0), answered, completed, sealed(9_500)]).expect("a call");
        assert_eq!(cdr.ended_ms, Some(3_000));
        assert_eq!(cdr.talk_ms, Some(2_000));
        assert_eq!(cdr.recording_sha256.as_deref(), Some("ab"));
        // a voicemail's outcome is written after the seal, dated at the end
        let voicemail = ev(
            4_000,
            None,
            None,
            EventKind::VoicemailLeft {
                path: Some("r.wav".into()),
                duration_ms: 3_000,
            },
        );
        let cdr = Cdr::from_events(&[arrived(0), sealed(9_000), voicemail]).expect("a call");
        assert_eq!(cdr.ended_ms, Some(4_000));
        assert_eq!(cdr.outcome, Some(Outcome::Voicemail));
        // a log of nothing but bookkeeping after the arrival still ends
        let cdr = Cdr::from_events(&[arrived(0)]).expect("a call");
        assert_eq!(cdr.ended_ms, Some(0));
    }

    #[test]
    fn outcomes_come_from_the_ending_event() {
        let end = |kind: EventKind| {
            Cdr::from_events(&[arrived(0), ev(5_000, None, None, kind)]).and_then(|c| c.outcome)
        };
        assert_eq!(
            end(EventKind::Abandoned {
                wait_ms: 5_000,
                position: 1
            }),
            Some(Outcome::Abandoned)
        );
        assert_eq!(
            end(EventKind::Rejected {
                status: 486,
                reason: "full".into()
            }),
            Some(Outcome::Rejected)
        );
        assert_eq!(
            end(EventKind::Failed {
                reason: "silent line".into()
            }),
            Some(Outcome::Failed)
        );
        assert_eq!(
            end(EventKind::CallbackExpired { attempts: 3 }),
            Some(Outcome::Failed)
        );
        assert_eq!(
            end(EventKind::VoicemailLeft {
                path: None,
                duration_ms: 1
            }),
            Some(Outcome::Voicemail)
        );
        let cb = EventKind::CallbackRequested {
            number: "0612".into(),
            callback: CallId::from_stored("c2"),
            deadline_ms: 9,
        };
        let cdr = Cdr::from_events(&[arrived(0), ev(5_000, None, None, cb)]).expect("a call");
        assert_eq!(
            (cdr.outcome, cdr.wait_ms),
            (Some(Outcome::Callback), Some(5_000))
        );
        // not a call's log
        assert_eq!(
            Cdr::from_events(&[ev(0, None, None, EventKind::QueueClosed {})]),
            None
        );
        assert_eq!(Cdr::from_events(&[]), None);
    }
}
