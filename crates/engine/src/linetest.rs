//! The line self-test (the regulations: the phones are tested twice a day,
//! morning and middle shift, and the test is recorded).
//!
//! At each configured time the engine calls the hotline number through a
//! trunk with the test caller id. The hotline, seeing that caller id,
//! answers within the rings and, instead of queueing, plays the *answer
//! tone* ([`ANSWER_HZ`]) while listening for the caller's *test tone*
//! ([`CALLER_HZ`]); once it hears it, it switches to the *heard tone*
//! ([`HEARD_HZ`]). The calling side sends the test tone and passes when it
//! hears the heard tone: both directions carried audio. It also sends
//! OPTIONS to the trunk and to every registered agent phone. The outcome is
//! an event (`line_test_passed`, `line_test_failed` with the reason) and a
//! slot that did not run in time is `line_test_missing`.
//!
//! Sans-IO parts: [`Scheduler`] (which slots are due or missed, given `now`)
//! and [`ToneDetector`] (Goertzel over 20 ms frames).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hotline_core::calendar::current_shift;
use hotline_core::{Calendar, CallEvent, EventKind, Party, Shift, Side};
use hotline_media::prompt::Prompt;
use hotline_media::{sdp, Codec};
use hotline_sip::{InboundCall, LegEvent};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn, Instrument};

use crate::driver::CallCtx;

/// The answering hotline's tone until it hears the caller, Hz.
pub const ANSWER_HZ: f64 = 1000.0;
/// The calling side's test tone, Hz.
pub const CALLER_HZ: f64 = 1400.0;
/// The answering hotline's tone once it heard the caller, Hz.
pub const HEARD_HZ: f64 = 2000.0;
/// How long a tone must last to count, ms (consecutive 20 ms frames).
pub const TONE_MIN_MS: u32 = 200;
/// The longest an answered test call stays up on the answering side, ms.
const ANSWER_SIDE_MAX_MS: u64 = 20_000;
/// OPTIONS wait for the trunk and each phone.
const OPTIONS_WAIT: Duration = Duration::from_secs(3);

/// `[line_test]` as the engine uses it.
#[derive(Clone, Debug)]
pub struct LineTestConfig {
    /// The slots, `HH:MM` label and minutes after local midnight.
    pub slots: Vec<(String, u16)>,
    /// A slot not run within this after its time is missing, ms.
    pub grace_ms: i64,
    /// The center's calendar (slots are local times).
    pub calendar: Calendar,
    /// The shifts, to name the one on duty in each result.
    pub shifts: Vec<Shift>,
    /// The trunk the test call goes through (None: none configured — every
    /// test fails with `no trunk configured`).
    pub trunk: Option<String>,
    /// The number called (the hotline's number as the carrier reaches it).
    pub number: String,
    /// The caller id of the test call; calls from it are answered with the
    /// test tones instead of being queued.
    pub caller_id: String,
    /// Also OPTIONS every registered agent phone.
    pub check_phones: bool,
    /// How long the tone exchange may take after the answer, ms.
    pub listen_ms: i64,
}

/// What the scheduler says to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the test of this slot now.
    Run {
        /// The slot (`08:30`).
        slot: String,
        /// When it was due, epoch ms.
        due_ms: i64,
    },
    /// This slot's time passed without a test: raise `line_test_missing`.
    Missing {
        /// The slot.
        slot: String,
        /// When it was due, epoch ms.
        due_ms: i64,
    },
}

/// Which slots are due, sans-IO: every slot occurrence after the last
/// instant looked at and at or before `now` is run if it is still within
/// the grace period, reported missing otherwise.
#[derive(Clone, Debug)]
pub struct Scheduler {
    slots: Vec<(String, u16)>,
    grace_ms: i64,
    checked_to: i64,
}

/// How far back the scheduler looks for missed slots at most, ms.
pub const LOOKBACK_MS: i64 = 2 * 86_400_000;

impl Scheduler {
    /// A scheduler whose slots due after `since_ms` count (the last
    /// recorded test, or the start of the engine on a fresh database).
    pub fn new(slots: Vec<(String, u16)>, grace_ms: i64, since_ms: i64) -> Self {
        Scheduler {
            slots,
            grace_ms: grace_ms.max(0),
            checked_to: since_ms,
        }
    }

    fn occurrences(&self, cal: &Calendar, from: i64, to: i64) -> Vec<(String, i64)> {
        let (Ok(first), Ok(last)) = (cal.date_of(from), cal.date_of(to)) else {
            return vec![];
        };
        let mut out = vec![];
        let mut day = first;
        while day <= last {
            for (label, minutes) in &self.slots {
                let (h, m) = ((minutes / 60) as i8, (minutes % 60) as i8);
                let Ok(at) = cal.instant(day.at(h, m, 0, 0)) else {
                    continue;
                };
                if from < at && at <= to {
                    out.push((label.clone(), at));
                }
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        out.sort_by_key(|(_, at)| *at);
        out
    }

    /// The slots to run or report at `now`, oldest first.
    pub fn poll(&mut self, now: i64, cal: &Calendar) -> Vec<Action> {
        if now <= self.checked_to {
            return vec![];
        }
        let from = self.checked_to.max(now - LOOKBACK_MS);
        let due = self.occurrences(cal, from, now);
        self.checked_to = now;
        // of several slots due in the grace period, only the latest runs
        let runnable = due.iter().rposition(|(_, at)| now - at <= self.grace_ms);
        due.into_iter()
            .enumerate()
            .map(|(i, (slot, due_ms))| {
                if Some(i) == runnable {
                    Action::Run { slot, due_ms }
                } else {
                    Action::Missing { slot, due_ms }
                }
            })
            .collect()
    }

    /// The next slot after the last poll, epoch ms (None: no slots).
    pub fn next_due(&self, cal: &Calendar) -> Option<i64> {
        self.occurrences(cal, self.checked_to, self.checked_to + 3 * 86_400_000)
            .first()
            .map(|(_, at)| *at)
    }
}

/// Which of the three test tones a stream carries, frame by frame
/// (Goertzel), sans-IO.
#[derive(Clone, Debug, Default)]
pub struct ToneDetector {
    run: Option<(u32, u32)>,
    heard: Vec<u32>,
}

/// The tones the detector knows.
const TONES: [f64; 3] = [ANSWER_HZ, CALLER_HZ, HEARD_HZ];

/// Goertzel power of `freq` in `samples` (8 kHz), normalised so a full-scale
/// sine of amplitude A gives A²/4.
pub fn goertzel_power(samples: &[i16], freq: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n as f64 * n as f64)
}

/// The test tone that dominates one frame (most of its energy), if any.
pub fn frame_tone(samples: &[i16]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let energy = samples
        .iter()
        .map(|&x| (f64::from(x) / 32768.0).powi(2))
        .sum::<f64>()
        / samples.len() as f64;
    if energy < 1e-5 {
        return None;
    }
    // a pure tone puts half its mean square in its Goertzel power
    TONES
        .into_iter()
        .map(|f| (f, goertzel_power(samples, f)))
        .find(|(_, p)| *p >= 0.3 * energy)
        .map(|(f, _)| f)
}

impl ToneDetector {
    /// Feeds one frame of `ms` milliseconds; returns a tone once it has
    /// lasted [`TONE_MIN_MS`] (reported once per run).
    pub fn feed(&mut self, samples: &[i16], ms: u32) -> Option<f64> {
        let tone = frame_tone(samples);
        let idx = tone.and_then(|t| TONES.iter().position(|x| *x == t));
        let Some(i) = idx else {
            self.run = None;
            return None;
        };
        let i = i as u32;
        let total = match self.run {
            Some((j, n)) if j == i => n + ms,
            _ => ms,
        };
        let before = self.run.filter(|(j, _)| *j == i).map_or(0, |(_, n)| n);
        self.run = Some((i, total));
        if before < TONE_MIN_MS && total >= TONE_MIN_MS {
            self.heard.push(i);
            return Some(TONES[i as usize]);
        }
        None
    }

    /// Whether `freq` was heard (for [`TONE_MIN_MS`]) so far.
    pub fn heard(&self, freq: f64) -> bool {
        self.heard.iter().any(|&i| TONES[i as usize] == freq)
    }
}

/// A request to run a test now (`POST /api/line-tests`).
#[derive(Debug)]
pub struct RunNow {
    /// Who asked.
    pub by: String,
    /// The result event, when done.
    pub reply: oneshot::Sender<CallEvent>,
}

/// A handle to run a test now; None inside when the test is not configured.
#[derive(Clone, Debug, Default)]
pub struct LineTests {
    pub(crate) tx: Option<mpsc::Sender<RunNow>>,
}

/// Why a test could not be started on request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LineTestError {
    /// `[line_test]` is off.
    #[error("the line test is not configured ([line_test] enabled = false)")]
    Off,
    /// A test is already running or queued.
    #[error("a line test is already running")]
    Busy,
    /// The engine stopped.
    #[error("the engine is not running")]
    Stopped,
}

impl LineTests {
    /// Runs one test now; the result event.
    pub async fn run_now(&self, by: &str) -> Result<CallEvent, LineTestError> {
        let tx = self.tx.as_ref().ok_or(LineTestError::Off)?;
        let (reply, rx) = oneshot::channel();
        tx.try_send(RunNow {
            by: by.to_string(),
            reply,
        })
        .map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => LineTestError::Busy,
            mpsc::error::TrySendError::Closed(_) => LineTestError::Stopped,
        })?;
        rx.await.map_err(|_| LineTestError::Stopped)
    }

    /// Whether the test is configured.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }
}

fn shift_at(cfg: &LineTestConfig, at: i64) -> Option<String> {
    current_shift(&cfg.shifts, &cfg.calendar, at).map(|(s, _, _)| s.name.clone())
}

/// The scheduler task: runs due slots, reports missed ones, and runs tests
/// on request; one test at a time. In the HA pair (`pair`: the node's role
/// and the shared store) only the active node tests: a standby node waits,
/// and on becoming active starts from the last test (or missed slot) the
/// shared log holds, so a slot the other node ran is not run again and a
/// slot nobody ran is run (within its grace) or reported missing.
pub(crate) async fn run(
    ctx: Arc<CallCtx>,
    cfg: Arc<LineTestConfig>,
    since_ms: i64,
    mut requests: mpsc::Receiver<RunNow>,
    pair: Option<(crate::role::RoleWatch, hotline_store::Store)>,
) {
    let mut sched = Scheduler::new(cfg.slots.clone(), cfg.grace_ms, since_ms);
    let mut role = pair.as_ref().map(|(r, _)| r.clone()).unwrap_or_default();
    loop {
        if let Some((_, store)) = &pair {
            if !role.is_active() {
                tokio::select! {
                    _ = role.active() => {}
                    r = requests.recv() => match r {
                        // refused: dropping the reply answers "not running"
                        Some(req) => {
                            info!(by = %req.by, "line test requested on the standby node: refused");
                            continue;
                        }
                        None => return,
                    },
                }
                let now = ctx.clock.now_ms();
                let last = store
                    .line_tests(now - LOOKBACK_MS, now + 1, 1)
                    .await
                    .ok()
                    .and_then(|v| v.first().map(|e| e.at_ms));
                let since = last.unwrap_or(now);
                info!(
                    since,
                    "active: the line test goes on from the shared log's last test"
                );
                sched = Scheduler::new(cfg.slots.clone(), cfg.grace_ms, since);
            }
        }
        let now = ctx.clock.now_ms();
        for action in sched.poll(now, &cfg.calendar) {
            match action {
                Action::Missing { slot, due_ms } => {
                    warn!(%slot, due_ms, "line test missing: its time passed without a test");
                    ctx.publish(CallEvent {
                        at_ms: now,
                        call_id: None,
                        agent: None,
                        queue: None,
                        kind: EventKind::LineTestMissing {
                            shift: shift_at(&cfg, due_ms),
                            slot,
                            due_ms,
                        },
                    });
                }
                Action::Run { slot, .. } => {
                    let e = run_test(&ctx, &cfg, "scheduled", &slot).await;
                    ctx.publish(e);
                }
            }
        }
        if ctx.controller.is_closed() {
            return;
        }
        let now = ctx.clock.now_ms();
        let wait = sched
            .next_due(&cfg.calendar)
            .map(|t| (t - now).clamp(0, 60_000))
            .unwrap_or(60_000);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64 + 5)) => {}
            _ = role.changed() => {}
            r = requests.recv() => match r {
                Some(req) => {
                    info!(by = %req.by, "line test requested");
                    let e = run_test(&ctx, &cfg, "manual", "").await;
                    ctx.publish(e.clone());
                    let _ = req.reply.send(e);
                }
                None => return,
            },
        }
    }
}

/// Runs one test; the result event (published by the caller).
async fn run_test(ctx: &CallCtx, cfg: &LineTestConfig, trigger: &str, slot: &str) -> CallEvent {
    let span = tracing::info_span!("line_test", %trigger, %slot);
    let started = ctx.clock.now_ms();
    let (failures, detail) = checks(ctx, cfg).instrument(span).await;
    let shift = shift_at(cfg, started);
    let kind = match failures.first() {
        None => {
            info!(%detail, "line test passed");
            EventKind::LineTestPassed {
                trigger: trigger.into(),
                slot: slot.into(),
                shift,
                detail,
            }
        }
        Some(reason) => {
            warn!(%reason, %detail, "line test failed");
            EventKind::LineTestFailed {
                trigger: trigger.into(),
                slot: slot.into(),
                shift,
                reason: reason.clone(),
                detail,
            }
        }
    };
    CallEvent {
        at_ms: ctx.clock.now_ms(),
        call_id: None,
        agent: None,
        queue: None,
        kind,
    }
}

/// An answer to a phone's OPTIONS that a proxy in front of it (Kamailio,
/// along the Path or by its own lookup) gives when the phone is gone: no
/// answer in time (408), not registered or not found (480, 404, 410), or
/// no way there (503, 504). Any other answer, 405 or 501 included, came
/// from a phone that is there.
fn proxy_says_unreachable(code: u16) -> bool {
    matches!(code, 404 | 408 | 410 | 480 | 503 | 504)
}

/// Every check; the failures (first = the reason) and a line per check.
async fn checks(ctx: &CallCtx, cfg: &LineTestConfig) -> (Vec<String>, String) {
    let mut failures = vec![];
    let mut lines = vec![];
    match test_call(ctx, cfg, &mut lines).await {
        Ok(()) => {}
        Err(reason) => failures.push(reason),
    }
    if cfg.check_phones {
        let mut agents = ctx.sip.registered_agents();
        agents.sort();
        if agents.is_empty() {
            lines.push("phones: no agent phone registered".into());
        }
        for agent in agents {
            for b in ctx.sip.contacts(&agent) {
                match ctx.sip.options_contact(&b, OPTIONS_WAIT).await {
                    Ok(code) if proxy_says_unreachable(code) => {
                        let r = format!(
                            "phone of agent {agent} ({}) is unreachable: OPTIONS {code} from the proxy in front of it",
                            b.source
                        );
                        lines.push(r.clone());
                        failures.push(r);
                    }
                    Ok(code) => lines.push(format!("phone {agent} ({}): OPTIONS {code}", b.source)),
                    Err(e) => {
                        let r = format!(
                            "phone of agent {agent} ({}) did not answer OPTIONS: {e}",
                            b.source
                        );
                        lines.push(r.clone());
                        failures.push(r);
                    }
                }
            }
        }
    }
    (failures, lines.join("\n"))
}

/// The trunk probe and the test call with its tones.
async fn test_call(
    ctx: &CallCtx,
    cfg: &LineTestConfig,
    lines: &mut Vec<String>,
) -> Result<(), String> {
    let fail = |lines: &mut Vec<String>, r: String| {
        lines.push(r.clone());
        Err(r)
    };
    let configs = ctx.trunks.configs();
    let trunk = match &cfg.trunk {
        Some(name) => configs.iter().find(|t| &t.target.name == name),
        None => configs.first(),
    };
    let Some(trunk) = trunk else {
        return fail(
            lines,
            "no trunk configured: the line cannot be tested".into(),
        );
    };
    let name = trunk.target.name.clone();
    match ctx
        .sip
        .options(trunk.target.address, trunk.target.transport, OPTIONS_WAIT)
        .await
    {
        Ok(code) => lines.push(format!("trunk {name}: OPTIONS {code}")),
        Err(e) => {
            return fail(
                lines,
                format!("trunk {name} down: no answer to OPTIONS ({e})"),
            )
        }
    }
    let seized = match ctx.trunks.seize(&name, &cfg.number) {
        Ok(s) => s,
        Err(r) => return fail(lines, format!("trunk {name}: {r}")),
    };
    let mut target = seized.target.clone();
    target.caller_id = cfg.caller_id.clone();
    let mut media = match ctx.media.allocate("line-test") {
        Ok(m) => m,
        Err(e) => return fail(lines, format!("no media port for the test call: {e}")),
    };
    let _ = media.take_dtmf();
    let offer = sdp::build(
        ctx.cfg.media_ip,
        media.caller_port(),
        &[Codec::Pcmu, Codec::Pcma],
        Some(101),
        ctx.clock.now_ms().unsigned_abs(),
        1,
    );
    let from = Party {
        number: cfg.caller_id.clone(),
        display: Some("line-test".into()),
    };
    let started = tokio::time::Instant::now();
    let mut leg = match ctx
        .sip
        .invite_trunk(&target, &seized.number, &from, offer)
        .await
    {
        Ok(l) => l,
        Err(e) => return fail(lines, format!("test call to {} not sent: {e}", cfg.number)),
    };
    let rings = ctx.cfg.answer_after_rings.max(1);
    let answer_within = ctx.cfg.cadence.end_of_ring_ms(rings);
    // a little slack for the SIP round trips
    let deadline = started + Duration::from_millis(answer_within as u64 + 1_500);
    let answer = loop {
        let ev = tokio::select! {
            ev = leg.next_event() => ev,
            _ = tokio::time::sleep_until(deadline) => {
                leg.hangup().await;
                return fail(lines, format!(
                    "test call to {} not answered within {rings} rings ({} s)",
                    cfg.number, answer_within / 1000
                ));
            }
        };
        match ev {
            Some(LegEvent::Answered { sdp }) => break sdp,
            Some(LegEvent::Rejected { status }) => {
                return fail(
                    lines,
                    format!("test call to {} refused: SIP {status}", cfg.number),
                )
            }
            Some(LegEvent::Failed { reason }) | Some(LegEvent::Ended { reason }) => {
                return fail(
                    lines,
                    format!("test call to {} failed: {reason}", cfg.number),
                )
            }
            Some(e) if e.keeps_the_leg_up() => {}
            Some(_) | None => {
                return fail(
                    lines,
                    format!("test call to {} ended before the answer", cfg.number),
                )
            }
        }
    };
    let answered_ms = started.elapsed().as_millis() as i64;
    lines.push(format!(
        "test call to {} through {name}: answered after {:.1} s (limit {rings} rings, {} s)",
        cfg.number,
        answered_ms as f64 / 1000.0,
        answer_within / 1000
    ));
    let Some((addr, negotiated)) = sdp::parse_plain(&answer).ok().and_then(|a| {
        Some((
            SocketAddr::new(a.connection, a.audio_port),
            sdp::negotiate(&a).ok()?,
        ))
    }) else {
        leg.hangup().await;
        return fail(lines, "the answer carries no usable SDP".into());
    };
    media.set_remote(Side::Caller, addr, negotiated);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(512);
    media.tap(tap_tx);
    media.play_to_caller(vec![Prompt::tone("line-test", CALLER_HZ, 1000, 8000)], true);
    let mut det = ToneDetector::default();
    let until = tokio::time::Instant::now() + Duration::from_millis(cfg.listen_ms.max(500) as u64);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut hung_up = false;
    while tokio::time::Instant::now() < until && !det.heard(HEARD_HZ) {
        tokio::select! {
            _ = tick.tick() => {}
            ev = leg.next_event() => match ev {
                Some(e) if e.keeps_the_leg_up() => {}
                _ => { hung_up = true; break; }
            },
        }
        while let Ok(f) = tap_rx.try_recv() {
            if f.side == Side::Caller {
                let ms = (f.samples.len() / 8) as u32;
                det.feed(&f.samples, ms);
            }
        }
    }
    if !hung_up {
        leg.hangup().await;
    }
    drop(media);
    drop(seized);
    if det.heard(HEARD_HZ) {
        lines.push("audio: both ways (our tone heard by the hotline, its tone heard here)".into());
        Ok(())
    } else if det.heard(ANSWER_HZ) {
        fail(
            lines,
            "one-way audio: the hotline's tone came through, ours did not reach it".into(),
        )
    } else if hung_up {
        fail(
            lines,
            "the test call was hung up before the tones were exchanged".into(),
        )
    } else {
        fail(lines, "no audio from the hotline on the test call".into())
    }
}

/// Answers a call from the test caller id: rings once, answers, plays the
/// answer tone, switches to the heard tone once the caller's test tone
/// arrives, and hangs up when the caller does (or after 20 s).
pub(crate) async fn answer_test_call(ctx: Arc<CallCtx>, mut inbound: InboundCall) {
    inbound.ringing();
    let offer = if inbound.offer_is_sdp {
        sdp::parse_plain(&inbound.offer).ok()
    } else {
        None
    };
    let Some((offer, negotiated)) = offer.and_then(|o| {
        let n = sdp::negotiate(&o).ok()?;
        Some((o, n))
    }) else {
        inbound.reject(488, Some("line test: no usable SDP".into()));
        return;
    };
    let Ok(mut media) = ctx.media.allocate(&inbound.sip_call_id) else {
        inbound.reject(503, Some("line test: no media port".into()));
        return;
    };
    let _ = media.take_dtmf();
    media.set_remote(
        Side::Caller,
        SocketAddr::new(offer.connection, offer.audio_port),
        negotiated,
    );
    let answer = sdp::build(
        ctx.cfg.media_ip,
        media.caller_port(),
        &[negotiated.codec],
        negotiated.telephone_event,
        ctx.clock.now_ms().unsigned_abs(),
        1,
    );
    if let Err(e) = inbound.answer(answer) {
        warn!(error = %e, "line test: cannot answer the test call");
        return;
    }
    info!(caller = %inbound.caller.number, "line test call answered with the test tone");
    let (tap_tx, tap_rx) = crossbeam_channel::bounded(512);
    media.tap(tap_tx);
    media.play_to_caller(
        vec![Prompt::tone("line-test-answer", ANSWER_HZ, 1000, 8000)],
        true,
    );
    let mut det = ToneDetector::default();
    let mut switched = false;
    let until = tokio::time::Instant::now() + Duration::from_millis(ANSWER_SIDE_MAX_MS);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            ev = inbound.next_event() => match ev {
                Some(e) if e.keeps_the_leg_up() => {}
                _ => break,
            },
        }
        while let Ok(f) = tap_rx.try_recv() {
            let ms = (f.samples.len() / 8) as u32;
            if det.feed(&f.samples, ms) == Some(CALLER_HZ) && !switched {
                switched = true;
                info!("line test: the caller's tone is heard, answering with the heard tone");
                media.play_to_caller(
                    vec![Prompt::tone("line-test-heard", HEARD_HZ, 1000, 8000)],
                    true,
                );
            }
        }
        if tokio::time::Instant::now() >= until {
            inbound.hangup().await;
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_s_timeout_or_not_registered_is_a_dead_phone_a_405_is_not() {
        for c in [404, 408, 410, 480, 503, 504] {
            assert!(proxy_says_unreachable(c), "{c}");
        }
        for c in [200, 405, 415, 481, 486, 501] {
            assert!(!proxy_says_unreachable(c), "{c}");
        }
    }

    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn slots() -> Vec<(String, u16)> {
        vec![
            ("08:30".into(), 8 * 60 + 30),
            ("13:30".into(), 13 * 60 + 30),
        ]
    }

    fn cal() -> Calendar {
        Calendar::named("Asia/Shanghai").unwrap()
    }

    /// 2026-12-07 00:00 in Shanghai.
    fn midnight() -> i64 {
        cal().instant("2026-12-07T00:00".parse().unwrap()).unwrap()
    }

    #[test]
    fn two_tests_a_day_over_simulated_days() {
        let c = cal();
        let t0 = midnight();
        let mut s = Scheduler::new(slots(), 30 * MIN, t0);
        let mut runs = vec![];
        // the engine ticks every minute for three days
        let mut now = t0;
        while now < t0 + 3 * DAY {
            now += MIN;
            for a in s.poll(now, &c) {
                match a {
                    Action::Run { slot, due_ms } => {
                        assert_eq!(now, due_ms, "run on time");
                        runs.push((slot, (due_ms - t0) / MIN));
                    }
                    Action::Missing { .. } => panic!("nothing missed: {a:?}"),
                }
            }
        }
        let expected: Vec<(String, i64)> = (0..3)
            .flat_map(|d| {
                [
                    ("08:30".to_string(), d * 1440 + 510),
                    ("13:30".to_string(), d * 1440 + 810),
                ]
            })
            .collect();
        assert_eq!(runs, expected);
    }

    #[test]
    fn a_slot_missed_while_the_engine_was_down_is_reported_missing() {
        let c = cal();
        let t0 = midnight();
        let mut s = Scheduler::new(slots(), 30 * MIN, t0 + 7 * 60 * MIN);
        // down from 07:00 to 10:00: the 08:30 test never ran
        let back = t0 + 10 * 60 * MIN;
        assert_eq!(
            s.poll(back, &c),
            vec![Action::Missing {
                slot: "08:30".into(),
                due_ms: t0 + 510 * MIN
            }]
        );
        assert_eq!(s.poll(back + MIN, &c), vec![], "reported once");
        assert_eq!(s.next_due(&c), Some(t0 + 810 * MIN));
        // a late tick within the grace period still runs the test
        let late = t0 + 810 * MIN + 20 * MIN;
        assert_eq!(
            s.poll(late, &c),
            vec![Action::Run {
                slot: "13:30".into(),
                due_ms: t0 + 810 * MIN
            }]
        );
    }

    #[test]
    fn a_long_outage_reports_each_missed_slot_and_runs_only_the_current_one() {
        let c = cal();
        let t0 = midnight();
        let mut s = Scheduler::new(slots(), 30 * MIN, t0);
        // back on day 2 at 13:40: 08:30 and 13:30 of day 1, 08:30 of day 2 missed
        let now = t0 + DAY + 820 * MIN;
        let got = s.poll(now, &c);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(matches!(&got[3], Action::Run { slot, .. } if slot == "13:30"));
        assert_eq!(
            got.iter()
                .filter(|a| matches!(a, Action::Missing { .. }))
                .count(),
            3
        );
        // a clock far in the past or a huge jump never floods
        let mut s = Scheduler::new(slots(), 30 * MIN, 0);
        assert!(s.poll(t0, &c).len() <= 6);
        assert_eq!(s.poll(t0 - DAY, &c), vec![], "time going back does nothing");
        let empty = Scheduler::new(vec![], 30 * MIN, t0);
        assert_eq!(empty.next_due(&c), None);
    }

    fn tone(freq: f64, ms: usize) -> Vec<i16> {
        Prompt::tone("t", freq, ms as u32, 8000).samples().to_vec()
    }

    fn g711(samples: &[i16]) -> Vec<i16> {
        let mut enc = vec![0u8; samples.len()];
        Codec::Pcma.encode(samples, &mut enc);
        let mut out = vec![0i16; samples.len()];
        Codec::Pcma.decode(&enc, &mut out);
        out
    }

    #[test]
    fn the_detector_tells_the_three_tones_apart_through_g711() {
        for f in TONES {
            let mut d = ToneDetector::default();
            let s = g711(&tone(f, 400));
            let mut got = vec![];
            for frame in s.chunks(160) {
                if let Some(t) = d.feed(frame, 20) {
                    got.push(t);
                }
            }
            assert_eq!(got, vec![f], "{f}");
            for other in TONES.into_iter().filter(|o| *o != f) {
                assert!(!d.heard(other));
            }
        }
        // too short, silence, noise and a 440 Hz voice-like tone are not tones
        let mut d = ToneDetector::default();
        for frame in tone(HEARD_HZ, 100).chunks(160) {
            assert_eq!(d.feed(frame, 20), None);
        }
        assert!(!d.heard(HEARD_HZ));
        assert_eq!(frame_tone(&[0; 160]), None);
        assert_eq!(frame_tone(&[]), None);
        assert_eq!(frame_tone(&tone(440.0, 20)), None);
        let noise: Vec<i16> = (0..160u32)
            .map(|i| ((i * 7919 % 2000) as i16 - 1000) * 8)
            .collect();
        assert_eq!(frame_tone(&noise), None);
        // a gap restarts the count
        let mut d = ToneDetector::default();
        let t = tone(CALLER_HZ, 100);
        for frame in t.chunks(160).chain([&[0i16; 160][..]]).chain(t.chunks(160)) {
            assert_eq!(d.feed(frame, 20), None);
        }
    }
}
