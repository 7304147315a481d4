//! Calls the previous run left unfinished: an engine killed (SIGKILL, power
//! loss, a crash) with calls up never wrote their end. At the next start
//! every such call (an `arrived` event in the last [`LOOK_BACK_MS`] and no
//! CDR) is closed as ended by the restart: a `failed` event with the reason
//! [`RESTART_REASON`] and its CDR, derived from its events like any other
//! (outcome failed, ended by the system, talk time up to its last event).
//! The recordings of those calls are repaired and sealed by the recorder's
//! startup sweep, which runs first. Callbacks still due are not closed: the
//! engine takes them over ([`crate::callback::load_pending`]).

use std::collections::HashSet;

use hotline_core::{CallEvent, CallId, Cdr, EndedBy, EventKind};
use tracing::{info, warn};

/// How far back the sweep looks, ms (as far as pending callbacks).
pub const LOOK_BACK_MS: i64 = 8 * 86_400_000;

/// Most calls closed at one start (the rest at the next).
pub const MAX_CALLS: i64 = 100_000;

/// The reason on the `failed` event of a call the restart closed.
pub const RESTART_REASON: &str = "ended by an engine restart";

/// Recordings are 8 kHz: samples per ms.
const SAMPLES_PER_MS: u64 = 8;

/// The closing event and CDR of a call whose log ends without an outcome;
/// None when it has one (it ended) or is not a call's log.
///
/// The end is the last moment the call is known to have been up, so its
/// times do not stretch over the outage: its last event before the kill,
/// or, later, the end of its recording (the answer plus the audio the
/// startup sweep recovered). `now` caps a log dated in the future (a clock
/// set back). The sweep's own `recording_recovered` event is written at the
/// restart and says nothing of when the call was up.
pub fn close(events: &[CallEvent], now: i64) -> Option<(CallEvent, Cdr)> {
    close_with(events, now, RESTART_REASON)
}

/// The reason on the `failed` event (and the CDR's `end_cause`) of a call
/// the survivor of the HA pair closed for a dead node.
pub const NODE_FAILURE_REASON: &str = "node_failure";

/// [`close`] with the `failed` event's reason; a call closed for a dead
/// node ([`NODE_FAILURE_REASON`]) also gets it as its CDR's `end_cause`.
pub fn close_with(events: &[CallEvent], now: i64, reason: &str) -> Option<(CallEvent, Cdr)> {
    let cdr = Cdr::from_events(events)?;
    if cdr.outcome.is_some() {
        return None;
    }
    let mut end = events
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::RecordingRecovered { .. }))
        .map(|e| e.at_ms)
        .max()?;
    let recovered_ms = events.iter().find_map(|e| match e.kind {
        EventKind::RecordingRecovered { samples, .. } => {
            i64::try_from(samples / SAMPLES_PER_MS).ok()
        }
        _ => None,
    });
    if let (Some(answered), Some(ms)) = (cdr.agent_answered_ms, recovered_ms) {
        end = end.max(answered.saturating_add(ms));
    }
    let closing = CallEvent {
        at_ms: end.min(now),
        call_id: Some(cdr.call_id.clone()),
        agent: cdr.agent.clone(),
        queue: cdr.queue.clone(),
        kind: EventKind::Failed {
            reason: reason.into(),
        },
    };
    let mut all = events.to_vec();
    all.push(closing.clone());
    let mut cdr = Cdr::from_events(&all)?;
    cdr.ended_by = Some(EndedBy::System);
    cdr.ended_ms = Some(closing.at_ms);
    if let Some(answered) = cdr.agent_answered_ms {
        cdr.talk_ms = Some((closing.at_ms - answered).max(0));
    }
    if reason == NODE_FAILURE_REASON {
        cdr.end_cause = Some(NODE_FAILURE_REASON.into());
    }
    Some((closing, cdr))
}

/// Closes every call the previous run left unfinished (see the module),
/// except those in `keep` (callbacks the engine takes over); how many.
/// Read or write errors are logged and skip the call: the engine starts
/// anyway.
pub async fn close_interrupted(
    store: &hotline_store::Store,
    now: i64,
    keep: &HashSet<CallId>,
) -> usize {
    close_open(store, now, keep, None, RESTART_REASON)
        .await
        .len()
}

/// The HA pair: closes the calls that arrived on `node` and have no end
/// (see the module), as ended by `reason`; how many. At the start of a
/// node, its own calls from before ([`RESTART_REASON`]); when a node takes
/// the leases over, the dead node's calls ([`NODE_FAILURE_REASON`]). Calls
/// of other nodes are never touched. The caller keeps pending callbacks
/// out with [`close_node_calls_except`] (the active node takes them over).
pub async fn close_node_calls(
    store: &hotline_store::Store,
    now: i64,
    node: &str,
    reason: &str,
) -> usize {
    close_open(store, now, &HashSet::new(), Some(node), reason)
        .await
        .len()
}

/// A call closed for a lost or restarted node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedCall {
    /// The call.
    pub call: CallId,
    /// The agent on it (or last rung for it), if any.
    pub agent: Option<hotline_core::AgentId>,
}

/// [`close_node_calls`] except the calls in `keep` (callbacks the closing
/// node takes over), returning the calls closed with their agents (the HA
/// pair holds those agents out of routing: [`crate::failover`]).
pub async fn close_node_calls_except(
    store: &hotline_store::Store,
    now: i64,
    node: &str,
    reason: &str,
    keep: &HashSet<CallId>,
) -> Vec<ClosedCall> {
    close_open(store, now, keep, Some(node), reason).await
}

async fn close_open(
    store: &hotline_store::Store,
    now: i64,
    keep: &HashSet<CallId>,
    node: Option<&str>,
    reason: &str,
) -> Vec<ClosedCall> {
    let open = match node {
        Some(n) => {
            store
                .calls_without_cdr_on(n, now - LOOK_BACK_MS, MAX_CALLS)
                .await
        }
        None => store.calls_without_cdr(now - LOOK_BACK_MS, MAX_CALLS).await,
    };
    let open = match open {
        Ok(ids) => ids,
        Err(e) => {
            warn!(error = %e, "calls left open by the previous run could not be read; they stay without a CDR");
            return Vec::new();
        }
    };
    let mut closed = Vec::new();
    for id in open.into_iter().filter(|id| !keep.contains(id)) {
        let events = match store.events_for_call(&id).await {
            Ok(ev) => ev,
            Err(e) => {
                warn!(call = %id, error = %e, "events unreadable: the call stays open");
                continue;
            }
        };
        let Some((event, cdr)) = close_with(&events, now, reason) else {
            continue;
        };
        if let Err(e) = store.append_event(&event).await {
            warn!(call = %id, error = %e, "closing event not written");
            continue;
        }
        if let Err(e) = store.upsert_cdr(&cdr).await {
            warn!(call = %id, error = %e, "CDR of the interrupted call not written");
            continue;
        }
        info!(call = %id, caller = %cdr.caller, agent = ?cdr.agent.as_ref().map(|a| a.as_str()), node = ?node, %reason, "call interrupted by the engine's end closed");
        closed.push(ClosedCall {
            call: id,
            agent: cdr.agent.clone(),
        });
    }
    closed
}

/// At start, before the engine runs: the callbacks pending from before the
/// restart (returned, for the engine to take over) and every other call the
/// previous run left unfinished closed with its end and CDR. Errors are
/// logged by the two steps; the engine starts anyway.
pub async fn take_over(
    store: &hotline_store::Store,
    now: i64,
) -> Vec<crate::callback::PendingCallback> {
    let pending = crate::callback::load_pending(store, now).await;
    if !pending.is_empty() {
        info!(
            count = pending.len(),
            "callbacks pending from before the restart are taken over"
        );
    }
    let keep: HashSet<CallId> = pending.iter().map(|p| p.id.clone()).collect();
    let closed = close_interrupted(store, now, &keep).await;
    if closed > 0 {
        info!(
            count = closed,
            "calls interrupted by the previous run closed"
        );
    }
    pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::{AgentId, CallType, Outcome, Party, QueueId};

    fn ev(at: i64, agent: Option<&str>, kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored("c1")),
            agent: agent.map(AgentId::new),
            queue: Some(QueueId::new("general")),
            kind,
        }
    }

    fn arrived() -> EventKind {
        EventKind::Arrived {
            caller: Party {
                number: "0612".into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::Inquiry,
        }
    }

    #[test]
    fn a_talking_call_without_an_end_is_closed_at_its_last_event() {
        let log = vec![
            ev(1_000, None, arrived()),
            ev(
                5_000,
                Some("1001"),
                EventKind::AgentAnswered {
                    wait_ms: 4_000,
                    rings: 1,
                    limit_ms: None,
                },
            ),
            ev(
                5_100,
                Some("1001"),
                EventKind::RecordingOpened {
                    path: "2026/12/06/c1.wav".into(),
                },
            ),
            ev(9_000, Some("1001"), EventKind::Held { by: "1001".into() }),
        ];
        let (event, cdr) = close(&log, 50_000).expect("closed");
        assert_eq!(event.at_ms, 9_000);
        assert_eq!(event.agent.as_ref().map(AgentId::as_str), Some("1001"));
        assert!(matches!(&event.kind, EventKind::Failed { reason } if reason == RESTART_REASON));
        assert_eq!(cdr.outcome, Some(Outcome::Failed));
        assert_eq!(cdr.ended_by, Some(EndedBy::System));
        assert_eq!((cdr.talk_ms, cdr.ended_ms), (Some(4_000), Some(9_000)));
        assert_eq!(cdr.recording_path.as_deref(), Some("2026/12/06/c1.wav"));
    }

    #[test]
    fn a_recovered_recording_tells_how_long_the_call_talked() {
        let log = vec![
            ev(1_000, None, arrived()),
            ev(
                5_000,
                Some("1001"),
                EventKind::AgentAnswered {
                    wait_ms: 4_000,
                    rings: 1,
                    limit_ms: None,
                },
            ),
            ev(
                5_010,
                Some("1001"),
                EventKind::RecordingOpened {
                    path: "c1.wav".into(),
                },
            ),
            // written by the startup sweep an hour later: 12 s of audio
            ev(
                3_600_000,
                Some("1001"),
                EventKind::RecordingRecovered {
                    path: "c1.wav".into(),
                    sha256: "ab".into(),
                    samples: 96_000,
                    header_bytes: 0,
                    data_bytes: 384_000,
                },
            ),
        ];
        let (event, cdr) = close(&log, 3_600_100).expect("closed");
        assert_eq!(event.at_ms, 17_000, "answer + 12 s, not the restart");
        assert_eq!((cdr.talk_ms, cdr.ended_ms), (Some(12_000), Some(17_000)));
    }

    #[test]
    fn a_call_that_ended_or_is_no_call_is_left_alone() {
        let done = vec![
            ev(1_000, None, arrived()),
            ev(
                2_000,
                None,
                EventKind::Abandoned {
                    wait_ms: 1_000,
                    position: 1,
                },
            ),
        ];
        assert!(close(&done, 9_000).is_none());
        assert!(close(&[], 9_000).is_none());
        let no_arrival = vec![ev(1_000, Some("1001"), EventKind::Held { by: "x".into() })];
        assert!(close(&no_arrival, 9_000).is_none());
        // a waiting caller: closed, never answered, at most `now`
        let waiting = vec![ev(1_000, None, arrived()), ev(60_000, None, arrived())];
        let (e, cdr) = close(&waiting, 30_000).expect("closed");
        assert_eq!(e.at_ms, 30_000);
        assert_eq!((cdr.talk_ms, cdr.agent), (None, None));
    }

    /// The event of call `id` at `at`.
    fn on(id: &str, at: i64, kind: EventKind) -> CallEvent {
        CallEvent {
            call_id: Some(CallId::from_stored(id)),
            ..ev(at, None, kind)
        }
    }

    /// On a real store (SQLite): a call killed while talking is closed with
    /// its `failed` event and CDR, a call that ended is left alone, a
    /// callback still due is handed back and not closed; a second start
    /// changes nothing.
    #[tokio::test]
    async fn take_over_closes_the_killed_calls_and_hands_back_the_due_callbacks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hotline.db").display());
        let store = hotline_store::Store::connect(&url).await.unwrap();
        let now = 1_800_000_000_000;
        let t0 = now - 3_600_000;
        let talking = [
            on("talked", t0, arrived()),
            CallEvent {
                agent: Some(AgentId::new("1001")),
                ..on(
                    "talked",
                    t0 + 5_000,
                    EventKind::AgentAnswered {
                        wait_ms: 5_000,
                        rings: 1,
                        limit_ms: None,
                    },
                )
            },
        ];
        let ended = [
            on("ended", t0, arrived()),
            on(
                "ended",
                t0 + 30_000,
                EventKind::Abandoned {
                    wait_ms: 30_000,
                    position: 1,
                },
            ),
        ];
        let asked = [
            on("asked", t0, arrived()),
            on(
                "asked",
                t0 + 20_000,
                EventKind::CallbackRequested {
                    number: "0612".into(),
                    callback: CallId::from_stored("cb1"),
                    deadline_ms: now + 86_400_000,
                },
            ),
            on(
                "asked",
                t0 + 21_000,
                EventKind::Abandoned {
                    wait_ms: 21_000,
                    position: 1,
                },
            ),
        ];
        // the callback call itself was under way when the engine died
        let callback = [on("cb1", t0 + 60_000, arrived())];
        for e in talking.iter().chain(&ended).chain(&asked).chain(&callback) {
            store.append_event(e).await.unwrap();
        }
        for log in [&ended[..], &asked[..]] {
            store
                .upsert_cdr(&Cdr::from_events(log).unwrap())
                .await
                .unwrap();
        }

        let pending = take_over(&store, now).await;
        let ids: Vec<&str> = pending.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["cb1"]);
        assert_eq!(pending[0].number, "0612");

        let id = |s: &str| CallId::from_stored(s);
        let cdr = store.cdr(&id("talked")).await.unwrap().expect("closed");
        assert_eq!(cdr.outcome, Some(Outcome::Failed));
        assert_eq!(cdr.ended_by, Some(EndedBy::System));
        assert_eq!(cdr.ended_ms, Some(t0 + 5_000));
        let log = store.events_for_call(&id("talked")).await.unwrap();
        let closing: Vec<&CallEvent> = log
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Failed { reason } if reason == RESTART_REASON))
            .collect();
        assert_eq!(closing.len(), 1, "{log:?}");
        // the callback being made is the engine's again, not closed
        assert!(store.cdr(&id("cb1")).await.unwrap().is_none());
        // the ended calls keep their own end
        let ended_cdr = store.cdr(&id("ended")).await.unwrap().unwrap();
        assert_eq!(ended_cdr.outcome, Some(Outcome::Abandoned));
        assert_eq!(store.events_for_call(&id("ended")).await.unwrap().len(), 2);

        // a second start finds nothing more to close
        let again = take_over(&store, now + 1_000).await;
        assert_eq!(again.len(), 1);
        let log = store.events_for_call(&id("talked")).await.unwrap();
        assert_eq!(log.len(), 3, "{log:?}");
        store.close().await;
    }
}
