//! Callbacks. A waiting caller presses the callback key, hears a
//! confirmation and hangs up; their place in the queue is kept under a new
//! call id of type `callback`. When that place comes up the engine rings the
//! agent first and, once the agent answers, calls the caller back through the
//! configured gateway and bridges the two (recorded like any call). A caller
//! who does not answer is tried again after a pause, up to a number of
//! attempts, until the deadline (24 hours by default).

use hotline_core::{CallEvent, CallId, EventKind, QueueId};
use hotline_media::prompt::Prompt;
use std::net::SocketAddr;

/// How callbacks are offered and made.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// The key a waiting caller presses (`1`).
    pub key: char,
    /// "Press 1 and we call you back", played with the announcements.
    pub offer: Option<Prompt>,
    /// "We will call you back", played before the engine hangs up.
    pub confirm: Option<Prompt>,
    /// How long a callback stays due, ms (24 h).
    pub deadline_ms: i64,
    /// Request-URI to call the caller back, `{number}` replaced by their
    /// number: `sip:{number}@192.0.2.10:5060`.
    pub dial: String,
    /// Where that INVITE is sent (the gateway or trunk).
    pub gateway: SocketAddr,
    /// Pause between attempts, ms.
    pub retry_ms: i64,
    /// Attempts before the callback is given up.
    pub attempts: u32,
    /// How long the caller's phone rings per attempt, ms.
    pub answer_timeout_ms: i64,
    /// The trunk callbacks go through (`[[trunks]]` name); None: `dial` and
    /// `gateway`.
    pub trunk: Option<String>,
    /// How long each attempt of a callback for a customer with an open case
    /// waits for the case's owner, ms.
    pub owner_wait_ms: i64,
}

impl CallbackConfig {
    /// The URI to call `number` back, or None for a number that cannot be
    /// dialled (anonymous, letters, too long).
    pub fn uri_for(&self, number: &str) -> Option<String> {
        hotline_callflow::dialable(number).then(|| self.dial.replace("{number}", number))
    }
}

/// A callback that was still pending when the engine stopped (read back
/// from the event log at start), to be made after all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCallback {
    /// The callback call's id (from `callback_requested`).
    pub id: CallId,
    /// The number to call back.
    pub number: String,
    /// Its queue.
    pub queue: QueueId,
    /// When the caller asked, epoch ms.
    pub requested_ms: i64,
    /// Due by, epoch ms.
    pub deadline_ms: i64,
    /// Attempts already made (`callback_attempt_failed` events).
    pub attempts: u32,
}

impl PendingCallback {
    /// The callback as the controller resumes it: not yet queued, no owner,
    /// its attempts so far counted.
    pub fn resumed(self) -> (CallId, hotline_callflow::CallbackSpec) {
        let spec = hotline_callflow::CallbackSpec {
            number: self.number,
            queue: self.queue,
            requested_ms: self.requested_ms,
            deadline_ms: self.deadline_ms,
            attempts: self.attempts,
            queued: false,
            resumed: true,
            owner: None,
        };
        (self.id, spec)
    }

    /// Finds the callbacks still to make in a log: every `callback_requested`
    /// whose deadline is after `now_ms` and whose callback call has no
    /// end yet. `events_of` gives a callback call's own events; a call with an
    /// agent's answer, a completion or an expiry counts as ended (better not
    /// to call a customer twice after a crash mid-callback).
    pub fn find(
        requested: &[CallEvent],
        now_ms: i64,
        mut events_of: impl FnMut(&CallId) -> Vec<CallEvent>,
    ) -> Vec<PendingCallback> {
        let mut out = Vec::new();
        for e in requested {
            let EventKind::CallbackRequested {
                number,
                callback,
                deadline_ms,
            } = &e.kind
            else {
                continue;
            };
            let Some(queue) = e.queue.clone() else {
                continue;
            };
            if *deadline_ms <= now_ms || out.iter().any(|p: &PendingCallback| &p.id == callback) {
                continue;
            }
            let own = events_of(callback);
            let ended = own.iter().any(|x| {
                matches!(
                    x.kind,
                    EventKind::AgentAnswered { .. }
                        | EventKind::Completed { .. }
                        | EventKind::CallbackExpired { .. }
                        | EventKind::Failed { .. }
                )
            });
            if ended {
                continue;
            }
            let attempts = own
                .iter()
                .filter(|x| matches!(x.kind, EventKind::CallbackAttemptFailed { .. }))
                .count();
            out.push(PendingCallback {
                id: callback.clone(),
                number: number.clone(),
                queue,
                requested_ms: e.at_ms,
                deadline_ms: *deadline_ms,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        out
    }
}

/// The callbacks promised before a restart that are still due at `now`
/// (deadlines are at most a week, `callback.deadline_h <= 168`), read from
/// the event log: each `callback_requested` event and the events of its
/// callback call. A store that cannot be read gives none (logged): the
/// engine starts anyway.
pub async fn load_pending(store: &hotline_store::Store, now: i64) -> Vec<PendingCallback> {
    let since = now - 8 * 86_400_000;
    let requested = match store
        .events_of_kind("callback_requested", since, 100_000)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "pending callbacks could not be read; they are not made");
            return Vec::new();
        }
    };
    let mut own = std::collections::HashMap::new();
    for e in &requested {
        if let hotline_core::EventKind::CallbackRequested { callback, .. } = &e.kind {
            match store.events_for_call(callback).await {
                Ok(ev) => {
                    own.insert(callback.clone(), ev);
                }
                Err(e) => {
                    tracing::warn!(call = %callback, error = %e, "callback events unreadable")
                }
            }
        }
    }
    PendingCallback::find(&requested, now, |id| {
        own.get(id).cloned().unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_callbacks_are_those_without_an_end_before_their_deadline() {
        let ev = |at, call: &str, kind| CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: None,
            queue: Some(QueueId::new("general")),
            kind,
        };
        let req = |at, cb: &str, deadline_ms| {
            ev(
                at,
                "orig",
                EventKind::CallbackRequested {
                    number: format!("06{cb}"),
                    callback: CallId::from_stored(cb),
                    deadline_ms,
                },
            )
        };
        let requested = vec![
            req(1_000, "waiting", 100_000),
            req(1_000, "tried", 100_000),
            req(1_000, "late", 5_000),
            req(1_000, "done", 100_000),
            req(1_000, "gave-up", 100_000),
            req(2_000, "waiting", 100_000),
        ];
        let failed = |n| EventKind::CallbackAttemptFailed {
            attempt: n,
            reason: "busy".into(),
        };
        let own = |id: &CallId| match id.as_str() {
            "tried" => vec![ev(3_000, "tried", failed(1)), ev(4_000, "tried", failed(2))],
            "done" => vec![ev(
                3_000,
                "done",
                EventKind::AgentAnswered {
                    wait_ms: 1,
                    rings: 1,
                    limit_ms: None,
                },
            )],
            "gave-up" => vec![ev(
                3_000,
                "gave-up",
                EventKind::CallbackExpired { attempts: 3 },
            )],
            _ => Vec::new(),
        };
        let found = PendingCallback::find(&requested, 10_000, own);
        let got: Vec<(&str, u32)> = found.iter().map(|p| (p.id.as_str(), p.attempts)).collect();
        // `late` is past its deadline, `done` talked, `gave-up` expired;
        // `waiting` appears once
        assert_eq!(got, [("waiting", 0), ("tried", 2)]);
        assert_eq!(found[0].number, "06waiting");
        assert_eq!(
            (found[0].requested_ms, found[0].deadline_ms),
            (1_000, 100_000)
        );
        assert_eq!(found[0].queue.as_str(), "general");
    }

    fn cfg(dial: &str) -> CallbackConfig {
        CallbackConfig {
            key: '1',
            offer: None,
            confirm: None,
            deadline_ms: 86_400_000,
            dial: dial.into(),
            gateway: "127.0.0.1:5070".parse().unwrap(),
            retry_ms: 60_000,
            attempts: 3,
            answer_timeout_ms: 30_000,
            trunk: None,
            owner_wait_ms: 0,
        }
    }

    #[test]
    fn only_dialable_numbers_are_called_back() {
        let c = cfg("sip:{number}@127.0.0.1:5070");
        assert_eq!(
            c.uri_for("+8613800000000").as_deref(),
            Some("sip:+8613800000000@127.0.0.1:5070")
        );
        assert_eq!(
            c.uri_for("0612345678").as_deref(),
            Some("sip:0612345678@127.0.0.1:5070")
        );
        for bad in [
            "",
            "+",
            "anonymous",
            "06 12",
            "061;x=y",
            "0612@evil",
            &"1".repeat(33),
        ] {
            assert_eq!(c.uri_for(bad), None, "{bad:?}");
        }
    }
}
