//! One dialog-state channel for all the legs of a SIP server (or user
//! agent), demultiplexed here into each leg's [`LegEvent`]s.
//!
//! rsipstack reports what happens to a dialog on an unbounded tokio channel
//! of `DialogState`, a large enum carrying whole requests and responses.
//! A tokio channel allocates its first block (32 slots) when it is created,
//! so one channel per leg cost ~9.5 KiB a leg, ~19 KiB a bridged call
//! (issue 19). Here every dialog gets a clone of one shared sender; one task
//! routes each state by the dialog's (Call-ID, local tag), which does not
//! change when the far end's tag arrives, to the leg registered under it.
//!
//! A state may reach the task before its leg is registered (the stack can
//! emit one between creating the dialog and our registering it): it waits
//! in a small pending list, replayed in order when the leg registers, and
//! is answered 481 (requests) or dropped after [`PENDING_TTL`].

use crate::server::{answer_with_direction, offered_direction, refer_target, LegEvent, LegTx};
use crate::session_timer as timers;
use rsipstack::dialog::dialog::{
    DialogState, DialogStateReceiver, DialogStateSender, TerminatedReason,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, HeadersExt, StatusCode};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tracing::{debug, Instrument};

/// How long a state for an unknown leg waits for its leg to register.
pub(crate) const PENDING_TTL: Duration = Duration::from_secs(2);

/// At most this many states wait for their legs (beyond: the oldest go).
const PENDING_MAX: usize = 1024;

/// A leg's identity: stable for the dialog's life, whichever side we are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LegKey {
    call_id: String,
    local_tag: String,
}

impl LegKey {
    fn of(id: &DialogId) -> Self {
        Self {
            call_id: id.call_id.clone(),
            local_tag: id.local_tag.clone(),
        }
    }
}

/// Where a leg's states go.
struct LegSink {
    tx: LegTx,
    local_sdp: Arc<Mutex<Option<String>>>,
    /// Whether the far end holds the call (its last offer).
    held: bool,
}

#[derive(Default)]
struct Legs {
    map: HashMap<LegKey, LegSink>,
    /// Size of the map after the last sweep of legs nobody listens to.
    swept_len: usize,
}

impl Legs {
    /// Forgets legs whose owner dropped them, once the map doubled.
    fn sweep_if_grown(&mut self) {
        if self.map.len() >= (2 * self.swept_len).max(64) {
            self.map.retain(|_, s| !s.tx.is_closed());
            self.swept_len = self.map.len();
        }
    }
}

/// The shared dialog-state channel and the legs listening on it.
pub(crate) struct LegRouter {
    dialogs: Arc<DialogLayer>,
    state_tx: DialogStateSender,
    legs: Arc<Mutex<Legs>>,
    registered: Arc<Notify>,
}

impl LegRouter {
    /// Creates the channel and spawns its demultiplexer (needs a tokio
    /// runtime). The task ends when the router and every dialog are gone.
    pub(crate) fn new(dialogs: Arc<DialogLayer>) -> Arc<Self> {
        let (state_tx, state_rx) = dialogs.new_dialog_state_channel();
        let legs = Arc::new(Mutex::new(Legs::default()));
        let registered = Arc::new(Notify::new());
        tokio::spawn(
            demux(
                state_rx,
                Arc::downgrade(&dialogs),
                legs.clone(),
                registered.clone(),
            )
            .instrument(tracing::info_span!("sip_legs")),
        );
        Arc::new(Self {
            dialogs,
            state_tx,
            legs,
            registered,
        })
    }

    /// The dialog layer the legs live in.
    pub(crate) fn dialogs(&self) -> &Arc<DialogLayer> {
        &self.dialogs
    }

    /// A sender for a new dialog's states (a clone of the shared one).
    pub(crate) fn state_sender(&self) -> DialogStateSender {
        self.state_tx.clone()
    }

    /// Routes the states of dialog `id` to `tx` from now on (and those that
    /// arrived before). A leg is forgotten once its receiver is dropped.
    pub(crate) fn register(&self, id: &DialogId, tx: LegTx, local_sdp: Arc<Mutex<Option<String>>>) {
        if let Ok(mut legs) = self.legs.lock() {
            legs.sweep_if_grown();
            legs.map.insert(
                LegKey::of(id),
                LegSink {
                    tx,
                    local_sdp,
                    held: false,
                },
            );
        }
        self.registered.notify_one();
    }

    /// Legs currently registered (tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.legs.lock().map(|l| l.map.len()).unwrap_or(0)
    }
}

/// The demultiplexer: one task for all legs.
async fn demux(
    mut rx: DialogStateReceiver,
    dialogs: Weak<DialogLayer>,
    legs: Arc<Mutex<Legs>>,
    registered: Arc<Notify>,
) {
    let mut pending: VecDeque<(Instant, DialogState)> = VecDeque::new();
    let mut tick = tokio::time::interval(PENDING_TTL / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = registered.notified(), if !pending.is_empty() => {
                replay(&mut pending, &legs).await;
            }
            state = rx.recv() => {
                let Some(state) = state else { break };
                if let DialogState::Terminated(id, _) = &state {
                    // the stack keeps a dialog until it is removed, whoever listens
                    if let Some(d) = dialogs.upgrade() {
                        d.remove_dialog(id);
                    }
                }
                let key = LegKey::of(state.id());
                let waits = pending.iter().any(|(_, s)| LegKey::of(s.id()) == key);
                let unrouted = if waits { Some(state) } else { route(state, &legs).await };
                if let Some(state) = unrouted {
                    if pending.len() >= PENDING_MAX {
                        if let Some((_, old)) = pending.pop_front() {
                            orphan(old).await;
                        }
                    }
                    pending.push_back((Instant::now(), state));
                }
            }
            _ = tick.tick(), if !pending.is_empty() => {
                replay(&mut pending, &legs).await;
                let now = Instant::now();
                while pending.front().is_some_and(|(at, _)| now.duration_since(*at) >= PENDING_TTL) {
                    if let Some((_, old)) = pending.pop_front() {
                        orphan(old).await;
                    }
                }
            }
        }
    }
    for (_, old) in pending {
        orphan(old).await;
    }
}

/// Delivers the waiting states whose legs have registered, in order.
async fn replay(pending: &mut VecDeque<(Instant, DialogState)>, legs: &Arc<Mutex<Legs>>) {
    let mut still = VecDeque::with_capacity(pending.len());
    while let Some((at, state)) = pending.pop_front() {
        let key = LegKey::of(state.id());
        let blocked = still
            .iter()
            .any(|(_, s): &(Instant, DialogState)| LegKey::of(s.id()) == key);
        let unrouted = if blocked {
            Some(state)
        } else {
            route(state, legs).await
        };
        if let Some(state) = unrouted {
            still.push_back((at, state));
        }
    }
    *pending = still;
}

/// A state nobody registered for: requests are answered 481 (RFC 3261
/// §12.2.2), the rest dropped.
async fn orphan(state: DialogState) {
    debug!(dialog = %state.id(), "dialog state for no leg");
    match state {
        DialogState::Updated(_, _, h)
        | DialogState::Info(_, _, h)
        | DialogState::Refer(_, _, h)
        | DialogState::Options(_, _, h)
        | DialogState::Message(_, _, h)
        | DialogState::Notify(_, _, h)
        | DialogState::Publish(_, _, h) => {
            h.reply(StatusCode::CallTransactionDoesNotExist).await.ok();
        }
        _ => {}
    }
}

/// Hands one state to its leg; gives it back when no leg is registered
/// under its key.
async fn route(state: DialogState, legs: &Arc<Mutex<Legs>>) -> Option<DialogState> {
    let key = LegKey::of(state.id());
    let Some((tx, local_sdp, held)) = legs.lock().ok().and_then(|l| {
        l.map
            .get(&key)
            .map(|s| (s.tx.clone(), s.local_sdp.clone(), s.held))
    }) else {
        return Some(state);
    };
    let mut events: Vec<LegEvent> = Vec::with_capacity(2);
    let mut now_held = held;
    match state {
        DialogState::Early(..) => events.push(LegEvent::Ringing),
        DialogState::Confirmed(..) => events.push(LegEvent::Confirmed),
        DialogState::Terminated(_, reason) => events.push(terminated(reason)),
        DialogState::Info(_, req, handle) => {
            handle.reply(StatusCode::OK).await.ok();
            events.push(LegEvent::Info {
                body: req.body.clone(),
            });
        }
        DialogState::Updated(_, req, handle) => {
            // re-INVITE / UPDATE: answer with our SDP in the direction
            // that mirrors the offer; an offer without a body (a
            // session refresh) keeps everything as it is
            let offered = (!req.body.is_empty()).then(|| offered_direction(&req.body));
            let body = local_sdp
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .map(|s| match offered {
                    Some(d) => {
                        crate::sdes::answer_crypto_tag(&answer_with_direction(&s, d), &req.body)
                    }
                    None => s,
                })
                .map(String::into_bytes);
            let mut headers = timers::refresh_answer_headers(&timers::offered(&req));
            if body.is_some() {
                headers.push(Header::ContentType("application/sdp".into()));
            }
            let headers = (!headers.is_empty()).then_some(headers);
            handle.respond(StatusCode::OK, headers, body).await.ok();
            // any re-INVITE or UPDATE refreshes the session (RFC 4028 §10)
            events.push(LegEvent::Refreshed);
            if crate::sdes::carries_crypto(&req.body) {
                events.push(LegEvent::Reoffer {
                    sdp: req.body.clone(),
                });
            }
            if let Some(d) = offered {
                now_held = matches!(d, "sendonly" | "inactive");
            }
            if now_held != held {
                events.push(LegEvent::RemoteHold { held: now_held });
            }
        }
        DialogState::Refer(_, req, handle) => {
            match req.refer_to_header().and_then(|h| refer_target(h.value())) {
                Some(target) => {
                    handle.reply(StatusCode::Accepted).await.ok();
                    events.push(LegEvent::Refer { target });
                }
                None => {
                    handle.reply(StatusCode::BadRequest).await.ok();
                }
            }
        }
        DialogState::Options(_, _, handle) => {
            handle.reply(StatusCode::OK).await.ok();
        }
        DialogState::Message(_, _, handle)
        | DialogState::Notify(_, _, handle)
        | DialogState::Publish(_, _, handle) => {
            handle.reply(StatusCode::NotImplemented).await.ok();
        }
        DialogState::Calling(_) | DialogState::Trying(_) | DialogState::WaitAck(..) => {}
    }
    if now_held != held {
        if let Ok(mut l) = legs.lock() {
            if let Some(s) = l.map.get_mut(&key) {
                s.held = now_held;
            }
        }
    }
    for ev in events {
        deliver(&tx, ev);
    }
    None
}

/// Sends without ever blocking the shared task: a full leg queue (an
/// engine that stopped reading) gets the event from a task of its own.
fn deliver(tx: &LegTx, ev: LegEvent) {
    match tx.try_send(Box::new(ev)) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(ev)) => {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(ev).await.ok() });
        }
    }
}

/// The leg event for a dialog's end.
fn terminated(reason: TerminatedReason) -> LegEvent {
    match reason {
        TerminatedReason::UacCancel => LegEvent::Cancelled,
        TerminatedReason::UacBye | TerminatedReason::UasBye => LegEvent::HungUp,
        // a final refusal may end the dialog before the INVITE's
        // own result arrives: report it the same way
        TerminatedReason::UasBusy | TerminatedReason::UacBusy => LegEvent::Rejected { status: 486 },
        TerminatedReason::UasDecline => LegEvent::Rejected { status: 603 },
        TerminatedReason::UasOther(code)
        | TerminatedReason::UacOther(code)
        | TerminatedReason::ProxyError(code) => LegEvent::Rejected {
            status: code.code(),
        },
        other => LegEvent::Ended {
            reason: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn id(call: &str, local: &str, remote: &str) -> DialogId {
        DialogId {
            call_id: call.into(),
            local_tag: local.into(),
            remote_tag: remote.into(),
        }
    }

    fn router() -> Arc<LegRouter> {
        let endpoint = rsipstack::EndpointBuilder::new().build();
        LegRouter::new(Arc::new(DialogLayer::new(endpoint.inner.clone())))
    }

    fn leg(r: &LegRouter, call: &str, local: &str) -> crate::server::LegRx {
        let (tx, rx) = mpsc::channel(64);
        r.register(&id(call, local, ""), tx, Arc::new(Mutex::new(None)));
        rx
    }

    fn ringing(call: &str, local: &str, remote: &str) -> DialogState {
        DialogState::Early(id(call, local, remote), rsipstack::sip::Response::default())
    }

    fn bye(call: &str, local: &str, remote: &str) -> DialogState {
        DialogState::Terminated(id(call, local, remote), TerminatedReason::UacBye)
    }

    async fn next(rx: &mut crate::server::LegRx) -> LegEvent {
        *tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event in time")
            .expect("the leg is open")
    }

    #[tokio::test]
    async fn each_leg_gets_only_its_own_dialogs_states_whatever_the_far_tag() {
        let r = router();
        let mut a = leg(&r, "c1", "ours-a");
        let mut b = leg(&r, "c1", "ours-b");
        let mut c = leg(&r, "c2", "ours-a");
        let tx = r.state_sender();
        // the far end's tag arrives with its answer: the key stays the same
        tx.send(ringing("c1", "ours-a", "")).unwrap();
        tx.send(bye("c2", "ours-a", "theirs")).unwrap();
        tx.send(bye("c1", "ours-a", "theirs")).unwrap();
        tx.send(ringing("c1", "ours-b", "x")).unwrap();
        assert_eq!(next(&mut a).await, LegEvent::Ringing);
        assert_eq!(next(&mut a).await, LegEvent::HungUp);
        assert_eq!(next(&mut b).await, LegEvent::Ringing);
        assert_eq!(next(&mut c).await, LegEvent::HungUp);
        tokio::task::yield_now().await;
        assert!(a.try_recv().is_err() && b.try_recv().is_err() && c.try_recv().is_err());
    }

    #[tokio::test]
    async fn states_before_the_leg_registers_are_replayed_in_order() {
        let r = router();
        let tx = r.state_sender();
        tx.send(ringing("early", "t", "")).unwrap();
        tx.send(bye("early", "t", "far")).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut rx = leg(&r, "early", "t");
        assert_eq!(next(&mut rx).await, LegEvent::Ringing);
        assert_eq!(next(&mut rx).await, LegEvent::HungUp);
        // and the leg keeps receiving live states afterwards, in order
        tx.send(ringing("early", "t", "far")).unwrap();
        assert_eq!(next(&mut rx).await, LegEvent::Ringing);
    }

    #[tokio::test(start_paused = true)]
    async fn states_for_no_leg_expire() {
        let r = router();
        let tx = r.state_sender();
        for n in 0..3 * PENDING_MAX {
            tx.send(ringing(&format!("nobody-{n}"), "t", "")).unwrap();
        }
        tx.send(ringing("late", "t", "")).unwrap();
        tokio::time::sleep(PENDING_TTL * 3).await;
        let mut rx = leg(&r, "late", "t");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(rx.try_recv().is_err(), "an expired state was delivered");
        // a live state still gets through after the flood
        tx.send(bye("late", "t", "far")).unwrap();
        assert_eq!(next(&mut rx).await, LegEvent::HungUp);
    }

    #[tokio::test]
    async fn legs_whose_owner_is_gone_are_forgotten() {
        let r = router();
        for n in 0..10_000 {
            drop(leg(&r, &format!("gone-{n}"), "t"));
        }
        assert!(r.len() <= 128, "{} legs kept", r.len());
        let mut kept = leg(&r, "kept", "t");
        for n in 0..1_000 {
            drop(leg(&r, &format!("gone-again-{n}"), "t"));
        }
        r.state_sender().send(bye("kept", "t", "far")).unwrap();
        assert_eq!(next(&mut kept).await, LegEvent::HungUp);
    }

    #[tokio::test]
    async fn a_leg_that_stops_reading_does_not_hold_up_the_others() {
        let r = router();
        let (slow_tx, mut slow) = mpsc::channel(1);
        r.register(&id("slow", "t", ""), slow_tx, Arc::new(Mutex::new(None)));
        let mut fast = leg(&r, "fast", "t");
        let tx = r.state_sender();
        for _ in 0..10 {
            tx.send(ringing("slow", "t", "")).unwrap();
        }
        tx.send(bye("fast", "t", "far")).unwrap();
        assert_eq!(next(&mut fast).await, LegEvent::HungUp);
        // the slow leg gets all its events once it reads
        for _ in 0..10 {
            assert_eq!(next(&mut slow).await, LegEvent::Ringing);
        }
    }
}
