//! Media worker threads, RTP port allocation and the per-call relay task.

use crate::mix::{mix_into, MonitorMode, Party3, SourceFifo};
use crate::prompt::Prompt;
use crate::sdp::Negotiated;
use crate::srtp::{SdesKey, SrtpError, SrtpSession};
use crate::{Codec, FRAME_SAMPLES};
use hotline_core::{AudioFrame, Side};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info_span, warn, Instrument};

/// Largest RTP datagram read; anything longer is truncated and refused.
const MAX_DATAGRAM: usize = 2048;

thread_local! {
    /// The receive buffer of a media worker thread, shared by all its
    /// sessions (issue 19: 2 KiB per leg was a tenth of a call's memory).
    /// One byte more than accepted: a longer datagram shows as oversized
    /// instead of being cut to a packet that looks valid. Only borrowed for
    /// one synchronous `try_recv_from`, never across an await.
    static RECV_BUF: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; MAX_DATAGRAM + 1].into_boxed_slice());
}

/// A datagram taken from a socket through the thread's [`RECV_BUF`]:
/// its length and source; `into` holds it unless it is oversized (longer
/// than [`MAX_DATAGRAM`], not copied). `None`: nothing was waiting (the
/// readiness was stale).
fn take_datagram(
    socket: &UdpSocket,
    into: &mut Vec<u8>,
) -> Option<std::io::Result<(usize, SocketAddr)>> {
    RECV_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        match socket.try_recv_from(&mut buf[..]) {
            Ok((n, src)) => {
                into.clear();
                if n <= MAX_DATAGRAM {
                    into.extend_from_slice(&buf[..n]);
                }
                Some(Ok((n, src)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(e)),
        }
    })
}
/// RTP clock rate of G.711 and telephone-event.
const CLOCK_HZ: u64 = 8000;

/// Settings of the media engine.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// Address RTP sockets bind to (and that our SDP announces).
    pub bind_ip: IpAddr,
    /// Lowest RTP port (even).
    pub port_min: u16,
    /// Highest RTP port.
    pub port_max: u16,
    /// Worker threads (at least 1).
    pub workers: usize,
}

/// Errors of the media engine.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A worker thread or its runtime could not be started.
    #[error("cannot start media worker: {0}")]
    Worker(std::io::Error),
    /// The port range is invalid.
    #[error("bad RTP port range {min}-{max}: {reason}")]
    BadRange {
        /// Lowest port.
        min: u16,
        /// Highest port.
        max: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// Every RTP port of the range is in use.
    #[error("no free RTP ports in {min}-{max} ({active} calls active)")]
    NoPorts {
        /// Lowest port.
        min: u16,
        /// Highest port.
        max: u16,
        /// Sessions currently open.
        active: usize,
    },
    /// The engine has been shut down.
    #[error("the media engine is shut down")]
    Shutdown,
}

struct Worker {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Inner {
    cfg: MediaConfig,
    /// Free even ports, least recently used first.
    free: Mutex<VecDeque<u16>>,
    workers: Mutex<Vec<Worker>>,
    handles: Vec<tokio::runtime::Handle>,
    next_worker: AtomicUsize,
    active: AtomicUsize,
}

/// The media engine: worker threads and the RTP port pool. Cheap to clone.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("cfg", &self.inner.cfg)
            .field("active", &self.active_sessions())
            .finish()
    }
}

impl MediaEngine {
    /// Starts `cfg.workers` worker threads and prepares the port pool.
    pub fn start(cfg: MediaConfig) -> Result<MediaEngine, MediaError> {
        let (min, max) = (cfg.port_min, cfg.port_max);
        if !min.is_multiple_of(2) || max < min.saturating_add(3) {
            return Err(MediaError::BadRange {
                min,
                max,
                reason: "need an even start and room for two ports",
            });
        }
        let free: VecDeque<u16> = (min..=max.saturating_sub(1)).step_by(2).collect();
        let mut workers = Vec::new();
        for i in 0..cfg.workers.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(MediaError::Worker)?;
            let handle = rt.handle().clone();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || {
                    rt.block_on(async {
                        let _ = stop_rx.await;
                    });
                    // dropping the runtime cancels the session tasks and closes their sockets
                    rt.shutdown_timeout(Duration::from_millis(500));
                })
                .map_err(MediaError::Worker)?;
            workers.push(Worker {
                handle,
                stop: Some(stop_tx),
                thread: Some(thread),
            });
        }
        let handles = workers.iter().map(|w| w.handle.clone()).collect();
        Ok(MediaEngine {
            inner: Arc::new(Inner {
                cfg,
                free: Mutex::new(free),
                workers: Mutex::new(workers),
                handles,
                next_worker: AtomicUsize::new(0),
                active: AtomicUsize::new(0),
            }),
        })
    }

    /// Sessions currently open.
    pub fn active_sessions(&self) -> usize {
        self.inner.active.load(Ordering::Relaxed)
    }

    /// Opens a session: binds a caller-facing and an agent-facing RTP port and
    /// starts its relay task. `label` names it in logs (the call id).
    pub fn allocate(&self, label: &str) -> Result<MediaSession, MediaError> {
        if self
            .inner
            .workers
            .lock()
            .map(|w| w.iter().all(|w| w.stop.is_none()))
            .unwrap_or(true)
        {
            return Err(MediaError::Shutdown);
        }
        let caller = self.bind_port()?;
        let agent = match self.bind_port() {
            Ok(s) => s,
            Err(e) => {
                self.release(caller.1);
                return Err(e);
            }
        };
        let idx = self.inner.next_worker.fetch_add(1, Ordering::Relaxed) % self.inner.handles.len();
        let handle = &self.inner.handles[idx];
        let stats = Arc::new(Counters::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let (dtmf_tx, dtmf_rx) = mpsc::channel(DTMF_QUEUE);
        let ports = (caller.1, agent.1);
        let engine = self.clone();
        let task_stats = stats.clone();
        let span =
            info_span!("media", call_id = %label, caller_port = ports.0, agent_port = ports.1);
        self.inner.active.fetch_add(1, Ordering::Relaxed);
        let guard = PortGuard { engine, ports };
        let sockets = (caller.0, agent.0);
        handle.spawn(relay_task(guard, sockets, task_stats, dtmf_tx, rx).instrument(span));
        Ok(MediaSession {
            tx,
            ports,
            stats,
            dtmf: Some(dtmf_rx),
        })
    }

    /// Adds a supervisor's monitor leg to `session`: binds a third RTP port
    /// (returned, for the supervisor's SDP) on which the supervisor hears and,
    /// by `mode`, is heard ([`MonitorMode`]). The port returns to the pool at
    /// [`MediaSession::stop_monitor`] or when the session ends. A session has
    /// at most one monitor leg: a second one replaces the first.
    pub fn add_monitor(
        &self,
        session: &MediaSession,
        mode: MonitorMode,
    ) -> Result<u16, MediaError> {
        let (socket, port) = self.bind_port()?;
        let guard = MonitorPort {
            engine: self.clone(),
            port,
        };
        session.send(Cmd::Monitor(socket, guard, mode));
        Ok(port)
    }

    fn bind_port(&self) -> Result<(std::net::UdpSocket, u16), MediaError> {
        let tries = self.inner.free.lock().map(|f| f.len()).unwrap_or(0);
        for _ in 0..tries {
            let Some(port) = self.inner.free.lock().ok().and_then(|mut f| f.pop_front()) else {
                break;
            };
            match std::net::UdpSocket::bind(SocketAddr::new(self.inner.cfg.bind_ip, port)) {
                Ok(s) => match s.set_nonblocking(true) {
                    Ok(()) => return Ok((s, port)),
                    Err(e) => {
                        warn!(port, error = %e, "cannot make RTP socket non-blocking");
                        self.release(port);
                    }
                },
                Err(e) => {
                    // taken by another program: put it at the back and go on
                    debug!(port, error = %e, "RTP port busy");
                    self.release(port);
                }
            }
        }
        Err(MediaError::NoPorts {
            min: self.inner.cfg.port_min,
            max: self.inner.cfg.port_max,
            active: self.active_sessions(),
        })
    }

    fn release(&self, port: u16) {
        if let Ok(mut f) = self.inner.free.lock() {
            f.push_back(port);
        }
    }

    /// Stops the worker threads; open sessions end and their ports close.
    pub fn shutdown(&self) {
        let Ok(mut workers) = self.inner.workers.lock() else {
            return;
        };
        for w in workers.iter_mut() {
            if let Some(stop) = w.stop.take() {
                let _ = stop.send(());
            }
        }
        for w in workers.iter_mut() {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Returns a session's ports to the pool when its task ends.
struct PortGuard {
    engine: MediaEngine,
    ports: (u16, u16),
}

/// Returns a monitor leg's port to the pool when the leg goes.
struct MonitorPort {
    engine: MediaEngine,
    port: u16,
}

impl Drop for MonitorPort {
    fn drop(&mut self) {
        self.engine.release(self.port);
    }
}

impl Drop for PortGuard {
    fn drop(&mut self) {
        self.engine.release(self.ports.0);
        self.engine.release(self.ports.1);
        self.engine.inner.active.fetch_sub(1, Ordering::Relaxed);
    }
}

enum Cmd {
    SetRemote(Side, SocketAddr, Negotiated),
    Play(Vec<Prompt>, bool),
    Bridge(Option<crossbeam_channel::Sender<AudioFrame>>),
    StopTap,
    Hold(Vec<Prompt>),
    Unhold,
    MuteTap(bool),
    AgentTone(Prompt),
    Tap(crossbeam_channel::Sender<AudioFrame>),
    PlayToBoth(Prompt),
    Monitor(std::net::UdpSocket, MonitorPort, MonitorMode),
    MonitorRemote(SocketAddr, Negotiated),
    MonitorMode(MonitorMode),
    StopMonitor,
    Srtp(Side, Option<Box<SrtpSession>>),
    SrtpRekey(Side, Box<SdesKey>),
}

/// Packet counters of one side of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStats {
    /// RTP packets received from the peer and accepted.
    pub packets_in: u64,
    /// RTP packets sent to the peer.
    pub packets_out: u64,
    /// Packets from an address that is not the peer's (dropped).
    pub foreign: u64,
    /// Datagrams that are not valid RTP (dropped).
    pub malformed: u64,
    /// RTCP packets received (ignored).
    pub rtcp: u64,
    /// Packets with a payload type not negotiated (dropped).
    pub unknown_payload: u64,
    /// telephone-event packets received.
    pub dtmf: u64,
    /// DTMF digits detected (one per key press, however many packets carry it).
    pub dtmf_digits: u64,
    /// Digits dropped because the call task was not reading them (a flood).
    pub dtmf_dropped: u64,
    /// Datagrams longer than the largest RTP packet accepted (dropped).
    pub oversized: u64,
    /// Times the peer's SSRC changed mid-call (a phone restarting its
    /// stream, a transfer behind it): accepted, relayed as a new source.
    pub ssrc_changes: u64,
    /// SRTP packets refused on an SRTP leg (failed authentication, a
    /// replay, plain RTP): dropped before anything looks at them, so they
    /// neither reach the relay or the recording nor count as media.
    pub srtp_refused: u64,
    /// Times the phone on an SRTP leg changed its key (a re-INVITE with a
    /// new `a=crypto`) and the leg was re-keyed.
    pub srtp_rekeys: u64,
}

/// Counters of a session, for the log and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// The caller-facing side.
    pub caller: SideStats,
    /// The agent-facing side.
    pub agent: SideStats,
    /// Prompt frames sent to the caller.
    pub prompt_frames: u64,
    /// Frames handed to the recorder.
    pub tapped: u64,
    /// Frames the recorder could not take (channel full).
    pub tap_dropped: u64,
    /// The supervisor's monitor leg (all monitor legs of the session).
    pub monitor: SideStats,
    /// Mixed frames sent (to any party).
    pub mixed_frames: u64,
}

#[derive(Default)]
struct SideCounters {
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    foreign: AtomicU64,
    malformed: AtomicU64,
    rtcp: AtomicU64,
    unknown_payload: AtomicU64,
    dtmf: AtomicU64,
    dtmf_digits: AtomicU64,
    dtmf_dropped: AtomicU64,
    oversized: AtomicU64,
    ssrc_changes: AtomicU64,
    srtp_refused: AtomicU64,
    srtp_rekeys: AtomicU64,
}

impl SideCounters {
    fn get(&self) -> SideStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SideStats {
            packets_in: l(&self.packets_in),
            packets_out: l(&self.packets_out),
            foreign: l(&self.foreign),
            malformed: l(&self.malformed),
            rtcp: l(&self.rtcp),
            unknown_payload: l(&self.unknown_payload),
            dtmf: l(&self.dtmf),
            dtmf_digits: l(&self.dtmf_digits),
            dtmf_dropped: l(&self.dtmf_dropped),
            oversized: l(&self.oversized),
            ssrc_changes: l(&self.ssrc_changes),
            srtp_refused: l(&self.srtp_refused),
            srtp_rekeys: l(&self.srtp_rekeys),
        }
    }
}

#[derive(Default)]
struct Counters {
    caller: SideCounters,
    agent: SideCounters,
    prompt_frames: AtomicU64,
    tapped: AtomicU64,
    tap_dropped: AtomicU64,
    monitor: SideCounters,
    mixed_frames: AtomicU64,
    /// Epoch ms of the caller's last frame with sound in it (0 = none yet).
    caller_voice_ms: std::sync::atomic::AtomicI64,
}

fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// One call's media: a handle to its relay task. Dropping it ends the task
/// and returns the ports.
#[derive(Debug)]
pub struct MediaSession {
    /// Boxed commands: the channel's first block is 32 slots of a pointer,
    /// not of the largest command (issue 19, memory per call).
    tx: mpsc::UnboundedSender<Box<Cmd>>,
    ports: (u16, u16),
    stats: Arc<Counters>,
    dtmf: Option<mpsc::Receiver<char>>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::SetRemote(..) => "SetRemote",
            Cmd::Play(..) => "Play",
            Cmd::Bridge(..) => "Bridge",
            Cmd::StopTap => "StopTap",
            Cmd::Hold(..) => "Hold",
            Cmd::Unhold => "Unhold",
            Cmd::MuteTap(..) => "MuteTap",
            Cmd::AgentTone(..) => "AgentTone",
            Cmd::Tap(..) => "Tap",
            Cmd::PlayToBoth(..) => "PlayToBoth",
            Cmd::Monitor(..) => "Monitor",
            Cmd::MonitorRemote(..) => "MonitorRemote",
            Cmd::MonitorMode(..) => "MonitorMode",
            Cmd::StopMonitor => "StopMonitor",
            Cmd::Srtp(..) => "Srtp",
            Cmd::SrtpRekey(..) => "SrtpRekey",
        })
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counters")
    }
}

impl MediaSession {
    /// The engine's RTP port facing the caller (goes in the caller's SDP).
    pub fn caller_port(&self) -> u16 {
        self.ports.0
    }

    /// The engine's RTP port facing the agent (goes in the agent's SDP).
    pub fn agent_port(&self) -> u16 {
        self.ports.1
    }

    fn send(&self, cmd: Cmd) {
        // the task only ends when this handle is dropped or the engine shuts down
        let _ = self.tx.send(Box::new(cmd));
    }

    /// Sets where one side's RTP goes and what it speaks (from its SDP).
    /// Packets are accepted from that address; if the peer sends from another
    /// one (NAT, a phone announcing another interface), the first valid RTP
    /// packet of the negotiated payload type fixes the address both ways
    /// (strict RTP learning); everything from other sources is then dropped.
    pub fn set_remote(&self, side: Side, addr: SocketAddr, negotiated: Negotiated) {
        self.send(Cmd::SetRemote(side, addr, negotiated));
    }

    /// Plays `prompts` to the caller one after the other, repeating the last
    /// one if `loop_last` (music on hold). Replaces what was playing.
    pub fn play_to_caller(&self, prompts: Vec<Prompt>, loop_last: bool) {
        self.send(Cmd::Play(prompts, loop_last));
    }

    /// Stops prompts and relays audio both ways; decoded audio of both sides is
    /// offered to `tap` (the recorder) without ever blocking.
    pub fn bridge(&self, tap: Option<crossbeam_channel::Sender<AudioFrame>>) {
        self.send(Cmd::Bridge(tap));
    }

    /// Stops feeding the recorder (the relay goes on).
    pub fn stop_tap(&self) {
        self.send(Cmd::StopTap);
    }

    /// Puts a bridged call on hold: the caller hears `music` (looped), the
    /// agent hears nothing, neither side's audio reaches the other. The
    /// caller's audio still goes to the recorder; the agent's does not.
    pub fn hold(&self, music: Vec<Prompt>) {
        self.send(Cmd::Hold(music));
    }

    /// Ends a hold: the music stops and audio flows both ways again.
    pub fn unhold(&self) {
        self.send(Cmd::Unhold);
    }

    /// While `muted`, the recorder gets silence instead of audio (pause on
    /// request, e.g. while a card number is read out). The frames keep their
    /// timing, so the file stays aligned and the paused span is exact.
    pub fn mute_tap(&self, muted: bool) {
        self.send(Cmd::MuteTap(muted));
    }

    /// Starts feeding the recorder without changing what is relayed or
    /// played: a recording started on request during a call, or one that
    /// starts when the engine answers (the caller's side while queued).
    pub fn tap(&self, tap: crossbeam_channel::Sender<AudioFrame>) {
        self.send(Cmd::Tap(tap));
    }

    /// Plays `prompt` to both parties of a bridged call (an earlier recording
    /// played into the call); meanwhile they do not hear each other. The
    /// bridge comes back by itself at the end.
    pub fn play_to_both(&self, prompt: Prompt) {
        self.send(Cmd::PlayToBoth(prompt));
    }

    /// Plays `tone` to the agent only (the handle-time limit beep): for its
    /// length it replaces the caller's audio on the agent's side; the caller
    /// and the recording do not hear it.
    pub fn tone_to_agent(&self, tone: Prompt) {
        self.send(Cmd::AgentTone(tone));
    }

    /// Makes `side` an SRTP leg (SDES): what we send there is protected
    /// with `local` (the key in our SDP), what comes from there must
    /// authenticate with `remote` (the key in the phone's SDP) or is
    /// dropped and counted ([`SideStats::srtp_refused`]). `None` makes the
    /// leg plain RTP again. Each leg has its own keys; the other leg, the
    /// recorder, DTMF, prompts and the media checks see plain RTP. Send it
    /// before [`MediaSession::set_remote`] so no packet slips through plain.
    pub fn set_srtp(
        &self,
        side: Side,
        keys: Option<(&SdesKey, &SdesKey)>,
    ) -> Result<(), SrtpError> {
        let session = match keys {
            Some((local, remote)) => Some(Box::new(SrtpSession::new(local, remote)?)),
            None => None,
        };
        self.send(Cmd::Srtp(side, session));
        Ok(())
    }

    /// The phone on `side` changed its SRTP key (a re-INVITE or UPDATE
    /// with a new `a=crypto`): what it sends must now authenticate with
    /// `remote`; packets under its old key are still taken until the first
    /// one under the new key arrives (see [`SrtpSession::rekey_inbound`]).
    /// Our key stays. Nothing happens on a plain leg.
    pub fn rekey_srtp(&self, side: Side, remote: &SdesKey) {
        self.send(Cmd::SrtpRekey(side, Box::new(remote.clone())));
    }

    /// Sets where the monitor leg's RTP goes and what it speaks (the
    /// supervisor's SDP); strict RTP learning as for the other legs.
    pub fn set_monitor_remote(&self, addr: SocketAddr, negotiated: Negotiated) {
        self.send(Cmd::MonitorRemote(addr, negotiated));
    }

    /// Switches the monitor leg's mode (takes effect with the next frame).
    pub fn set_monitor_mode(&self, mode: MonitorMode) {
        self.send(Cmd::MonitorMode(mode));
    }

    /// Drops the monitor leg: its port closes and the call goes back to a
    /// plain two-way relay.
    pub fn stop_monitor(&self) {
        self.send(Cmd::StopMonitor);
    }

    /// The caller's DTMF digits (RFC 4733 telephone-event), one per key
    /// press. Can be taken once; at most [`DTMF_QUEUE`] unread digits are
    /// kept, later ones are dropped and counted.
    pub fn take_dtmf(&mut self) -> Option<mpsc::Receiver<char>> {
        self.dtmf.take()
    }

    /// When the caller last sent a frame with sound in it (epoch ms), if ever:
    /// the silent-line check of a call the engine answered.
    pub fn caller_voice_at_ms(&self) -> Option<i64> {
        let t = self.stats.caller_voice_ms.load(Ordering::Relaxed);
        (t > 0).then_some(t)
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        let s = &self.stats;
        MediaStats {
            caller: s.caller.get(),
            agent: s.agent.get(),
            prompt_frames: s.prompt_frames.load(Ordering::Relaxed),
            tapped: s.tapped.load(Ordering::Relaxed),
            tap_dropped: s.tap_dropped.load(Ordering::Relaxed),
            monitor: s.monitor.get(),
            mixed_frames: s.mixed_frames.load(Ordering::Relaxed),
        }
    }
}

/// One outgoing RTP stream (towards one peer): our SSRC, and continuous
/// sequence numbers and timestamps whatever the source (prompt, relayed peer,
/// a peer that changed SSRC).
struct OutStream {
    ssrc: u32,
    next_seq: u16,
    last_ts: u32,
    last_sent: Option<Instant>,
    /// Incoming SSRC currently mapped, and the offsets applied to it.
    source: Option<(u32, u16, u32)>,
    sent_any: bool,
}

impl OutStream {
    fn new() -> Self {
        OutStream {
            ssrc: rand::random(),
            next_seq: rand::random(),
            last_ts: rand::random(),
            last_sent: None,
            source: None,
            sent_any: false,
        }
    }

    /// Timestamp advance for a new source: wall time since the last packet,
    /// at least one frame.
    fn gap(&self, now: Instant) -> u32 {
        let elapsed = self
            .last_sent
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        let samples = (elapsed.as_millis() as u64 * CLOCK_HZ / 1000).max(FRAME_SAMPLES as u64);
        samples.min(u64::from(u32::MAX / 2)) as u32
    }

    /// Header fields for a frame we generate ourselves. Returns (seq, ts, marker).
    fn local(&mut self, now: Instant) -> (u16, u32, bool) {
        let (ts, marker) = if self.source.is_some() || !self.sent_any {
            self.source = None;
            (self.last_ts.wrapping_add(self.gap(now)), true)
        } else {
            (self.last_ts.wrapping_add(FRAME_SAMPLES as u32), false)
        };
        let seq = self.next_seq;
        self.commit(seq, ts, now);
        (seq, ts, marker)
    }

    /// Header fields for a relayed packet. Returns (seq, ts, marker).
    fn relayed(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        marker: bool,
        now: Instant,
    ) -> (u16, u32, bool) {
        let (seq_off, ts_off, new) = match self.source {
            Some((s, so, to)) if s == ssrc => (so, to, false),
            _ => {
                let so = self.next_seq.wrapping_sub(seq);
                let to = self.last_ts.wrapping_add(self.gap(now)).wrapping_sub(ts);
                self.source = Some((ssrc, so, to));
                (so, to, true)
            }
        };
        let (out_seq, out_ts) = (seq.wrapping_add(seq_off), ts.wrapping_add(ts_off));
        // only move forward: a reordered packet keeps its place
        if (out_seq.wrapping_sub(self.next_seq) as i16) >= 0 {
            self.commit(out_seq, out_ts, now);
        }
        (out_seq, out_ts, marker || new)
    }

    fn commit(&mut self, seq: u16, ts: u32, now: Instant) {
        self.next_seq = seq.wrapping_add(1);
        self.last_ts = ts;
        self.last_sent = Some(now);
        self.sent_any = true;
    }
}

struct Leg {
    socket: UdpSocket,
    /// Where to send (None until the SDP is known, or 0.0.0.0 = hold).
    remote: Option<SocketAddr>,
    latched: bool,
    media: Option<Negotiated>,
    out: OutStream,
    /// The SSRC of the peer's last accepted packet.
    last_ssrc: Option<u32>,
    /// SDES-SRTP on this leg (None: plain RTP).
    srtp: Option<Box<SrtpSession>>,
}

impl Leg {
    fn new(socket: UdpSocket) -> Self {
        Leg {
            socket,
            remote: None,
            latched: false,
            media: None,
            out: OutStream::new(),
            last_ssrc: None,
            srtp: None,
        }
    }

    /// Sends one RTP packet to `dest`, protected first on an SRTP leg.
    async fn send(&mut self, packet: &[u8], dest: SocketAddr) -> bool {
        match self.srtp.as_mut() {
            None => self.socket.send_to(packet, dest).await.is_ok(),
            Some(s) => match s.protect(packet) {
                Ok(p) => self.socket.send_to(&p, dest).await.is_ok(),
                Err(e) => {
                    debug!(error = %e, "cannot protect an RTP packet");
                    false
                }
            },
        }
    }

    /// Is `src` the peer? `Some(true)`: yes; `Some(false)`: not yet known, may be
    /// learnt from a valid packet; `None`: a stranger.
    fn knows(&self, src: SocketAddr) -> Option<bool> {
        match self.remote {
            Some(r) if r == src => Some(true),
            Some(_) if !self.latched => Some(false),
            _ => None,
        }
    }

    /// Strict RTP learning: the first valid packet of the negotiated payload
    /// fixes where the peer sends from (NAT, multi-homed phones announcing
    /// another address than they send from); later strangers are dropped.
    fn learn(&mut self, src: SocketAddr) {
        if self.remote != Some(src) {
            debug!(announced = ?self.remote, actual = %src, "RTP peer address learnt from its first packet");
            self.remote = Some(src);
        }
        self.latched = true;
    }

    fn send_to(&self) -> Option<SocketAddr> {
        self.remote
            .filter(|r| !r.ip().is_unspecified() && r.port() != 0)
    }
}

struct Playback {
    prompts: Vec<Prompt>,
    index: usize,
    pos: usize,
    loop_last: bool,
}

impl Playback {
    /// Fills `out` with the next frame; false when everything has been played.
    fn next_frame(&mut self, codec: Codec, out: &mut [u8]) -> bool {
        let mut filled = 0;
        while filled < out.len() {
            let Some(p) = self.prompts.get(self.index) else {
                break;
            };
            let data = p.encoded(codec);
            if self.pos >= data.len() {
                if self.index + 1 < self.prompts.len() {
                    self.index += 1;
                    self.pos = 0;
                    continue;
                }
                if self.loop_last && !data.is_empty() {
                    self.pos = 0;
                    continue;
                }
                break;
            }
            let n = (data.len() - self.pos).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&data[self.pos..self.pos + n]);
            self.pos += n;
            filled += n;
        }
        if filled == 0 {
            return false;
        }
        out[filled..].fill(codec.silence());
        true
    }
}

/// The per-session task state.
struct Relay {
    caller: Leg,
    agent: Leg,
    stats: Arc<Counters>,
    playback: Option<Playback>,
    bridged: bool,
    /// On hold: the bridge is open but nothing is relayed; the caller hears
    /// `playback`.
    held: bool,
    /// Pause on request: the recorder gets silence.
    tap_muted: bool,
    /// A tone for the agent only (replaces the caller's audio meanwhile).
    agent_playback: Option<Playback>,
    /// `playback` and `agent_playback` carry a recording played to both:
    /// nothing is relayed until both end.
    shared: bool,
    tap: Option<crossbeam_channel::Sender<AudioFrame>>,
    pcm: Vec<i16>,
    enc: Vec<u8>,
    packet: Vec<u8>,
    dtmf: mpsc::Sender<char>,
    /// (SSRC, RTP timestamp) of the caller's last telephone event: all packets
    /// of one key press share them.
    last_dtmf: Option<(u32, u32)>,
    /// A supervisor's leg, while a call is monitored.
    monitor: Option<MonitorLeg>,
    /// Decoded audio of caller, agent and supervisor waiting to be mixed.
    fifos: [SourceFifo; 3],
    /// The datagram being handled, copied out of the thread's receive
    /// buffer: grows to the largest packet seen (172 bytes for G.711).
    inbuf: Vec<u8>,
    /// The mixer's frames, allocated at the first mixed tick of a
    /// monitored call (kept out of the task's state for the other calls).
    mix: Option<Box<MixScratch>>,
}

/// The mixer's scratch for one 20 ms tick: a frame of each party, the mix
/// and its encoding.
struct MixScratch {
    frames: [[i16; FRAME_SAMPLES]; 3],
    mixed: [i16; FRAME_SAMPLES],
    enc: [u8; FRAME_SAMPLES],
}

/// The supervisor's leg of a monitored call.
struct MonitorLeg {
    leg: Leg,
    mode: MonitorMode,
    _port: MonitorPort,
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Mean absolute sample level above which a caller frame counts as sound
/// (about -40 dBFS): a live line carries speech or room noise above it,
/// a dead or muted line (digital silence, comfort noise) stays below.
pub const VOICE_LEVEL: u32 = 330;

/// Does this decoded frame carry sound (not a dead line)?
pub fn is_voice(samples: &[i16]) -> bool {
    if samples.is_empty() {
        return false;
    }
    let sum: u64 = samples.iter().map(|s| u64::from(s.unsigned_abs())).sum();
    sum / samples.len() as u64 > u64::from(VOICE_LEVEL)
}

/// Unread DTMF digits kept per call; more are dropped (a flood).
pub const DTMF_QUEUE: usize = 32;

/// The key of an RFC 4733 telephone-event code (0–9, *, #, A–D), if it is one.
pub fn dtmf_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Is this datagram RTCP (RFC 5761 demultiplexing: PT 64–95 with marker)?
pub(crate) fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && (192..=223).contains(&data[1])
}

impl Relay {
    fn new(
        caller: UdpSocket,
        agent: UdpSocket,
        stats: Arc<Counters>,
        dtmf: mpsc::Sender<char>,
    ) -> Self {
        Relay {
            caller: Leg::new(caller),
            agent: Leg::new(agent),
            stats,
            playback: None,
            bridged: false,
            held: false,
            tap_muted: false,
            agent_playback: None,
            shared: false,
            tap: None,
            // scratch grown to the largest packet seen (a G.711 call:
            // 160 samples), not to the largest datagram accepted
            pcm: Vec::new(),
            enc: Vec::new(),
            packet: Vec::new(),
            dtmf,
            last_dtmf: None,
            monitor: None,
            fifos: Default::default(),
            inbuf: Vec::new(),
            mix: None,
        }
    }

    /// Reports a caller's key press once, on the first packet of the event
    /// (so a lost end packet does not lose the digit).
    fn caller_dtmf(&mut self, ssrc: u32, ts: u32, payload: &[u8]) {
        let Some(digit) = payload.first().and_then(|e| dtmf_digit(*e)) else {
            return;
        };
        if self.last_dtmf == Some((ssrc, ts)) {
            return;
        }
        self.last_dtmf = Some((ssrc, ts));
        let c = &self.stats.caller;
        match self.dtmf.try_send(digit) {
            Ok(()) => inc(&c.dtmf_digits),
            Err(_) => inc(&c.dtmf_dropped),
        }
    }

    /// The relay until its session is dropped. Not an `async fn`: its
    /// future would keep the relay twice (as captured and as moved into the
    /// body, rust-lang/rust#62958); the `async move` block uses the
    /// captured relay in place (issue 19, memory per call).
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Box<Cmd>>,
    ) -> impl std::future::Future<Output = ()> {
        async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
            // datagrams are read into the worker thread's buffer when a socket
            // is readable (see RECV_BUF), not into buffers of this task
            let mut mix_ticker = tokio::time::interval(Duration::from_millis(20));
            mix_ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
            loop {
                let playing = (self.playback.is_some()
                    && (!self.bridged || self.held || self.shared))
                    || self.agent_playback.is_some();
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        None => break,
                        Some(cmd) => {
                            let cmd = *cmd;
                            if matches!(cmd, Cmd::Play(..) | Cmd::Hold(..) | Cmd::AgentTone(..) | Cmd::PlayToBoth(..)) {
                                ticker.reset_immediately();
                            }
                            if matches!(cmd, Cmd::Monitor(..)) {
                                mix_ticker.reset_immediately();
                            }
                            self.apply(cmd);
                        }
                    },
                    r = self.caller.socket.readable() => match r {
                        Ok(()) => self.on_readable(Side::Caller).await,
                        Err(e) => debug!(error = %e, "caller RTP socket error"),
                    },
                    r = self.agent.socket.readable() => match r {
                        Ok(()) => self.on_readable(Side::Agent).await,
                        Err(e) => debug!(error = %e, "agent RTP socket error"),
                    },
                    r = monitor_readable(self.monitor.as_ref().map(|m| &m.leg.socket)) => match r {
                        Ok(()) => self.on_monitor_readable(),
                        Err(e) => debug!(error = %e, "monitor RTP socket error"),
                    },
                    _ = mix_ticker.tick(), if self.monitor.is_some() => self.mix_frame().await,
                    _ = ticker.tick(), if playing => {
                        if self.playback.is_some() && (!self.bridged || self.held || self.shared) {
                            self.play_frame(Side::Caller).await;
                        }
                        if self.agent_playback.is_some() {
                            self.play_frame(Side::Agent).await;
                        }
                        if self.shared && self.playback.is_none() && self.agent_playback.is_none() {
                            self.shared = false;
                        }
                    }
                }
            }
        }
    }

    fn apply(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetRemote(side, addr, neg) => {
                let leg = self.leg_mut(side);
                leg.remote = Some(addr);
                leg.latched = false;
                leg.media = Some(neg);
            }
            Cmd::Play(prompts, loop_last) => {
                self.playback = Some(Playback {
                    prompts,
                    index: 0,
                    pos: 0,
                    loop_last,
                });
            }
            Cmd::Bridge(tap) => {
                self.bridged = true;
                self.held = false;
                self.shared = false;
                self.playback = None;
                self.tap = tap;
            }
            Cmd::Tap(tap) => self.tap = Some(tap),
            Cmd::PlayToBoth(prompt) => {
                let pb = || Playback {
                    prompts: vec![prompt.clone()],
                    index: 0,
                    pos: 0,
                    loop_last: false,
                };
                self.shared = true;
                self.playback = Some(pb());
                self.agent_playback = Some(pb());
            }
            Cmd::StopTap => self.tap = None,
            Cmd::Hold(music) => {
                self.held = true;
                self.playback = Some(Playback {
                    prompts: music,
                    index: 0,
                    pos: 0,
                    loop_last: true,
                });
            }
            Cmd::Unhold => {
                self.held = false;
                self.playback = None;
            }
            Cmd::MuteTap(muted) => self.tap_muted = muted,
            Cmd::Monitor(socket, port, mode) => match UdpSocket::from_std(socket) {
                Ok(socket) => {
                    self.monitor = Some(MonitorLeg {
                        leg: Leg::new(socket),
                        mode,
                        _port: port,
                    });
                    self.fifos.iter_mut().for_each(SourceFifo::clear);
                }
                Err(e) => warn!(error = %e, "cannot register the monitor RTP socket"),
            },
            Cmd::MonitorRemote(addr, neg) => {
                if let Some(m) = &mut self.monitor {
                    m.leg.remote = Some(addr);
                    m.leg.latched = false;
                    m.leg.media = Some(neg);
                }
            }
            Cmd::MonitorMode(mode) => {
                if let Some(m) = &mut self.monitor {
                    m.mode = mode;
                    if mode == MonitorMode::Listen {
                        self.fifos[Party3::Supervisor.index()].clear();
                    }
                }
            }
            Cmd::Srtp(side, session) => self.leg_mut(side).srtp = session,
            Cmd::SrtpRekey(side, key) => {
                if let Some(s) = self.leg_mut(side).srtp.as_mut() {
                    match s.rekey_inbound(&key) {
                        Ok(true) => {
                            inc(&self.counters(side).srtp_rekeys);
                            debug!(?side, "SRTP: the phone's new key is taken");
                        }
                        Ok(false) => {}
                        Err(e) => debug!(?side, error = %e, "SRTP: the new key is refused"),
                    }
                }
            }
            Cmd::StopMonitor => {
                self.monitor = None;
                self.mix = None;
                self.fifos.iter_mut().for_each(SourceFifo::clear);
            }
            Cmd::AgentTone(tone) => {
                self.agent_playback = Some(Playback {
                    prompts: vec![tone],
                    index: 0,
                    pos: 0,
                    loop_last: false,
                });
            }
        }
    }

    fn leg_mut(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Caller => &mut self.caller,
            Side::Agent => &mut self.agent,
        }
    }

    fn counters(&self, side: Side) -> &SideCounters {
        match side {
            Side::Caller => &self.stats.caller,
            Side::Agent => &self.stats.agent,
        }
    }

    /// Sends the next frame of what plays to `side` (the caller's prompts,
    /// or the agent-only tone); the playback ends with its last frame, or
    /// at once when the side has no media yet.
    async fn play_frame(&mut self, side: Side) {
        let (leg, playback) = match side {
            Side::Caller => (&mut self.caller, &mut self.playback),
            Side::Agent => (&mut self.agent, &mut self.agent_playback),
        };
        let (Some(media), Some(dest)) = (leg.media, leg.send_to()) else {
            if side == Side::Agent {
                *playback = None;
            }
            return;
        };
        let Some(pb) = playback.as_mut() else {
            return;
        };
        // the frame is dead before the send's await (not in the task's state)
        let n = {
            let mut frame = [0u8; FRAME_SAMPLES];
            if !pb.next_frame(media.codec, &mut frame) {
                *playback = None;
                return;
            }
            let (seq, ts, marker) = leg.out.local(Instant::now());
            write_rtp(
                fit(&mut self.packet, 12 + frame.len()),
                media.payload_type,
                marker,
                seq,
                ts,
                leg.out.ssrc,
                &frame,
            )
        };
        if leg.send(&self.packet[..n], dest).await {
            if side == Side::Caller {
                inc(&self.stats.prompt_frames);
            }
            inc(&self.counters(side).packets_out);
        }
    }

    /// A leg's socket is readable: its next datagram handled (through the
    /// thread's receive buffer and `inbuf`).
    async fn on_readable(&mut self, side: Side) {
        let mut data = std::mem::take(&mut self.inbuf);
        let leg = match side {
            Side::Caller => &self.caller,
            Side::Agent => &self.agent,
        };
        match take_datagram(&leg.socket, &mut data) {
            None => {}
            Some(Ok((n, src))) if n > MAX_DATAGRAM => {
                // not copied: counted as `on_packet` would (foreign first)
                let c = self.counters(side);
                match leg.knows(src) {
                    None => inc(&c.foreign),
                    Some(_) => inc(&c.oversized),
                }
            }
            Some(Ok((n, src))) => self.on_packet(side, &data[..n], src).await,
            Some(Err(e)) => debug!(error = %e, ?side, "RTP socket error"),
        }
        self.inbuf = data;
    }

    /// The monitor leg's socket is readable: its next datagram handled.
    fn on_monitor_readable(&mut self) {
        let Some(m) = self.monitor.as_ref() else {
            return;
        };
        let mut data = std::mem::take(&mut self.inbuf);
        match take_datagram(&m.leg.socket, &mut data) {
            None => {}
            Some(Ok((n, src))) if n > MAX_DATAGRAM => {
                let c = &self.stats.monitor;
                match m.leg.knows(src) {
                    None => inc(&c.foreign),
                    Some(_) => inc(&c.oversized),
                }
            }
            Some(Ok((n, src))) => self.on_monitor_packet(&data[..n], src),
            Some(Err(e)) => debug!(error = %e, "monitor RTP socket error"),
        }
        self.inbuf = data;
    }

    async fn on_packet(&mut self, side: Side, data: &[u8], src: SocketAddr) {
        let from = match side {
            Side::Caller => &mut self.caller,
            Side::Agent => &mut self.agent,
        };
        let c = match side {
            Side::Caller => &self.stats.caller,
            Side::Agent => &self.stats.agent,
        };
        let Some(known) = from.knows(src) else {
            inc(&c.foreign);
            return;
        };
        if data.len() > MAX_DATAGRAM {
            inc(&c.oversized);
            return;
        }
        if is_rtcp(data) {
            // RTCP is not relayed; on an SRTP leg it must authenticate
            // (SRTCP), a forged or replayed one is counted as refused
            if let Some(s) = from.srtp.as_mut() {
                if s.unprotect_rtcp(data).is_err() {
                    inc(&c.srtp_refused);
                    return;
                }
            }
            inc(&c.rtcp);
            return;
        }
        // an SRTP leg: only what authenticates (and is no replay) goes on,
        // before the peer's address is learnt or anything is counted as media
        let plain;
        let data = match from.srtp.as_mut() {
            None => data,
            Some(s) => match s.unprotect(data) {
                Ok(p) => {
                    plain = p;
                    &plain[..]
                }
                Err(_) => {
                    inc(&c.srtp_refused);
                    return;
                }
            },
        };
        let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
            inc(&c.malformed);
            return;
        };
        if rtp.version() != 2 {
            inc(&c.malformed);
            return;
        }
        let Some(neg) = from.media else {
            inc(&c.unknown_payload);
            return;
        };
        let pt = rtp.payload_type();
        if !known && pt != neg.payload_type {
            inc(&c.foreign);
            return;
        }
        from.learn(src);
        inc(&c.packets_in);
        let ssrc_now = rtp.ssrc();
        if from.last_ssrc.is_some_and(|s| s != ssrc_now) {
            inc(&c.ssrc_changes);
            debug!(
                ?side,
                ssrc = ssrc_now,
                "the peer's SSRC changed: relayed as a new source"
            );
        }
        from.last_ssrc = Some(ssrc_now);
        let (ssrc, seq, ts, marker) = (
            rtp.ssrc(),
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.mark(),
        );
        let payload = rtp.payload();
        let now = Instant::now();
        if Some(pt) == neg.telephone_event {
            inc(&c.dtmf);
            if side == Side::Caller {
                self.caller_dtmf(ssrc, ts, payload);
            }
            let to = match side {
                Side::Caller => &mut self.agent,
                Side::Agent => &mut self.caller,
            };
            let (Some(out_media), Some(dest)) = (to.media, to.send_to()) else {
                return;
            };
            let (Some(out_pt), true) = (out_media.telephone_event, self.bridged && !self.held)
            else {
                return;
            };
            let (s, t, m) = to.out.relayed(ssrc, seq, ts, marker, now);
            let n = write_rtp(
                fit(&mut self.packet, 12 + payload.len()),
                out_pt,
                m,
                s,
                t,
                to.out.ssrc,
                payload,
            );
            if to.send(&self.packet[..n], dest).await {
                inc(&self.counters_out(side).packets_out);
            }
            return;
        }
        if pt != neg.payload_type {
            self.counters_in(side)
                .unknown_payload
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        if payload.is_empty() || payload.len() > MAX_DATAGRAM {
            return;
        }
        let samples = fit(&mut self.pcm, payload.len());
        neg.codec.decode(payload, samples);
        if side == Side::Caller && is_voice(samples) {
            self.stats
                .caller_voice_ms
                .store(epoch_ms(), Ordering::Relaxed);
        }
        // on hold the agent is neither relayed nor recorded (they may be
        // talking to a colleague); the caller is recorded throughout, also
        // before the bridge when the recording starts at the engine's answer
        let agent_on_hold = self.held && side == Side::Agent;
        if let (Some(tap), false) = (&self.tap, agent_on_hold) {
            let samples = if self.tap_muted {
                vec![0; samples.len()]
            } else {
                samples.to_vec()
            };
            let frame = AudioFrame {
                side,
                ssrc,
                seq,
                timestamp: ts,
                arrival_ms: epoch_ms(),
                samples,
            };
            match tap.try_send(frame) {
                Ok(()) => inc(&self.stats.tapped),
                Err(crossbeam_channel::TrySendError::Full(_)) => inc(&self.stats.tap_dropped),
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => self.tap = None,
            }
        }
        // a monitored call: the party's audio also goes to the mixer, and
        // an output that is a mix is sent by the mixer's clock, not here
        let mode = self.monitor.as_ref().map(|m| m.mode);
        let (speaker, listener) = match side {
            Side::Caller => (Party3::Caller, Party3::Agent),
            Side::Agent => (Party3::Agent, Party3::Caller),
        };
        if mode.is_some() && self.bridged && !self.shared {
            self.fifos[speaker.index()].push(&self.pcm[..payload.len()]);
        }
        if !self.bridged
            || self.held
            || self.shared
            || (side == Side::Caller && self.agent_playback.is_some())
            || mode.is_some_and(|m| m.mixed_for(listener))
        {
            return;
        }
        let (to, samples) = match side {
            Side::Caller => (&mut self.agent, &self.pcm[..payload.len()]),
            Side::Agent => (&mut self.caller, &self.pcm[..payload.len()]),
        };
        let (Some(out_media), Some(dest)) = (to.media, to.send_to()) else {
            return;
        };
        let body: &[u8] = if out_media.codec == neg.codec {
            payload
        } else {
            let enc = fit(&mut self.enc, samples.len());
            out_media.codec.encode(samples, enc);
            enc
        };
        let (s, t, m) = to.out.relayed(ssrc, seq, ts, marker, now);
        let n = write_rtp(
            fit(&mut self.packet, 12 + body.len()),
            out_media.payload_type,
            m,
            s,
            t,
            to.out.ssrc,
            body,
        );
        if to.send(&self.packet[..n], dest).await {
            let out = match side {
                Side::Caller => &self.stats.agent,
                Side::Agent => &self.stats.caller,
            };
            inc(&out.packets_out);
        }
    }

    /// A datagram on the monitor leg: checked like the other legs; the
    /// supervisor's voice goes to the mixer unless they only listen (their
    /// key presses are counted and dropped).
    fn on_monitor_packet(&mut self, data: &[u8], src: SocketAddr) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        let c = &self.stats.monitor;
        let Some(known) = m.leg.knows(src) else {
            inc(&c.foreign);
            return;
        };
        if data.len() > MAX_DATAGRAM {
            inc(&c.oversized);
            return;
        }
        if is_rtcp(data) {
            inc(&c.rtcp);
            return;
        }
        let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
            inc(&c.malformed);
            return;
        };
        if rtp.version() != 2 {
            inc(&c.malformed);
            return;
        }
        let Some(neg) = m.leg.media else {
            inc(&c.unknown_payload);
            return;
        };
        let pt = rtp.payload_type();
        if !known && pt != neg.payload_type {
            inc(&c.foreign);
            return;
        }
        m.leg.learn(src);
        inc(&c.packets_in);
        if Some(pt) == neg.telephone_event {
            inc(&c.dtmf);
            return;
        }
        if pt != neg.payload_type {
            inc(&c.unknown_payload);
            return;
        }
        let payload = rtp.payload();
        if payload.is_empty() || payload.len() > MAX_DATAGRAM || m.mode == MonitorMode::Listen {
            return;
        }
        let samples = fit(&mut self.pcm, payload.len());
        neg.codec.decode(payload, samples);
        self.fifos[Party3::Supervisor.index()].push(samples);
    }

    /// One 20 ms tick of a monitored call: a frame of each party from its
    /// FIFO, and for each party whose output is a mix, the parties it hears
    /// summed, encoded in its law and sent. Caller and agent only get mixes
    /// while bridged (not on hold, not during a shared playback; the agent
    /// not while a tone plays to them).
    async fn mix_frame(&mut self) {
        let Some(mode) = self.monitor.as_ref().map(|m| m.mode) else {
            return;
        };
        // the frames live in a box of the relay (not in the task's state)
        let mut s = self.mix.take().unwrap_or_else(|| {
            Box::new(MixScratch {
                frames: [[0i16; FRAME_SAMPLES]; 3],
                mixed: [0i16; FRAME_SAMPLES],
                enc: [0u8; FRAME_SAMPLES],
            })
        });
        let MixScratch { frames, mixed, enc } = &mut *s;
        for (f, out) in self.fifos.iter_mut().zip(frames.iter_mut()) {
            f.pop_frame(out);
        }
        let now = Instant::now();
        const ALL: [Party3; 3] = [Party3::Caller, Party3::Agent, Party3::Supervisor];
        for listener in ALL {
            if !mode.mixed_for(listener) {
                continue;
            }
            if listener != Party3::Supervisor && (!self.bridged || self.held || self.shared) {
                continue;
            }
            if listener == Party3::Agent && self.agent_playback.is_some() {
                continue;
            }
            let mut inputs: [&[i16]; 2] = [&[], &[]];
            let mut k = 0;
            for speaker in ALL {
                if mode.hears(listener, speaker) && k < inputs.len() {
                    inputs[k] = &frames[speaker.index()];
                    k += 1;
                }
            }
            mix_into(mixed, &inputs[..k]);
            let (leg, counters) = match listener {
                Party3::Caller => (&mut self.caller, &self.stats.caller),
                Party3::Agent => (&mut self.agent, &self.stats.agent),
                Party3::Supervisor => match &mut self.monitor {
                    Some(m) => (&mut m.leg, &self.stats.monitor),
                    None => continue,
                },
            };
            let (Some(media), Some(dest)) = (leg.media, leg.send_to()) else {
                continue;
            };
            media.codec.encode(mixed, enc);
            let (seq, ts, marker) = leg.out.local(now);
            let n = write_rtp(
                fit(&mut self.packet, 12 + enc.len()),
                media.payload_type,
                marker,
                seq,
                ts,
                leg.out.ssrc,
                enc,
            );
            if leg.send(&self.packet[..n], dest).await {
                inc(&counters.packets_out);
                inc(&self.stats.mixed_frames);
            }
        }
        if self.monitor.is_some() {
            self.mix = Some(s);
        }
    }

    fn counters_out(&self, from: Side) -> &SideCounters {
        match from {
            Side::Caller => &self.stats.agent,
            Side::Agent => &self.stats.caller,
        }
    }

    fn counters_in(&self, side: Side) -> &SideCounters {
        self.counters(side)
    }
}

/// The relay's handling of one leg's datagrams without sockets, for
/// [`crate::fuzzing::rtp_stream`]: RTCP told apart, RTP parsed, the first
/// byte read as a telephone-event, voice decoded with `codec`, and every
/// packet relayed through an [`OutStream`] and written. Invariants: the
/// written packet reads back with the header chosen and the payload
/// received; a new source continues the outgoing sequence exactly, marked.
/// Returns the packets relayed.
#[allow(clippy::expect_used)] // a fuzz oracle: the panic is the finding
pub(crate) fn fuzz_rtp_stream(packets: &[&[u8]], codec: crate::Codec) -> usize {
    let start = Instant::now();
    let mut out = OutStream::new();
    // start near the wrap of both counters
    out.next_seq = 0xfff0;
    out.last_ts = 0xffff_ff00;
    let mut pcm = vec![0i16; MAX_DATAGRAM];
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut source = None;
    let mut relayed = 0;
    for (i, data) in packets.iter().enumerate() {
        let now = start + Duration::from_millis(20 * i as u64);
        if is_rtcp(data) {
            continue;
        }
        let Ok(rtp) = rtp_rs::RtpReader::new(data) else {
            continue;
        };
        if rtp.version() != 2 {
            continue;
        }
        let payload = rtp.payload();
        let _ = payload.first().and_then(|e| dtmf_digit(*e));
        if payload.is_empty() || payload.len() > MAX_DATAGRAM {
            continue;
        }
        codec.decode(payload, &mut pcm[..payload.len()]);
        let _ = is_voice(&pcm[..payload.len()]);
        let (ssrc, next) = (rtp.ssrc(), out.next_seq);
        let (seq, ts, marker) = out.relayed(
            ssrc,
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.mark(),
            now,
        );
        if source != Some(ssrc) {
            assert_eq!(seq, next, "a new source continues our sequence");
            assert!(marker, "a new source is marked");
            source = Some(ssrc);
        }
        let pt = rtp.payload_type();
        let n = write_rtp(&mut buf, pt, marker, seq, ts, out.ssrc, payload);
        let back = rtp_rs::RtpReader::new(&buf[..n]).expect("the packet we write parses");
        assert_eq!(
            (
                u16::from(back.sequence_number()),
                back.timestamp(),
                back.ssrc(),
                back.mark(),
                back.payload_type()
            ),
            (seq, ts, out.ssrc, marker, pt & 0x7f)
        );
        assert_eq!(back.payload(), &payload[..n - 12]);
        relayed += 1;
    }
    relayed
}

/// The task of one session: its sockets registered with the worker's
/// reactor, the relay run until the session is dropped, then the ports
/// given back.
async fn relay_task(
    guard: PortGuard,
    (caller, agent): (std::net::UdpSocket, std::net::UdpSocket),
    stats: Arc<Counters>,
    dtmf: mpsc::Sender<char>,
    rx: mpsc::UnboundedReceiver<Box<Cmd>>,
) {
    match (UdpSocket::from_std(caller), UdpSocket::from_std(agent)) {
        (Ok(c), Ok(a)) => Relay::new(c, a, stats, dtmf).run(rx).await,
        (Err(e), _) | (_, Err(e)) => warn!(error = %e, "cannot register RTP sockets"),
    }
    drop(guard);
}

/// The monitor leg's socket readable, or never when there is none.
async fn monitor_readable(m: Option<&UdpSocket>) -> std::io::Result<()> {
    match m {
        Some(socket) => socket.readable().await,
        None => std::future::pending().await,
    }
}

/// The first `n` items of a scratch buffer, grown (zeroed) to `n` if it is
/// shorter: the relay allocates once per call, for the largest packet it
/// sees, never per packet.
fn fit<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

/// Writes a 12-byte RTP header and `payload` into `buf`; returns the length.
pub(crate) fn write_rtp(
    buf: &mut [u8],
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: &[u8],
) -> usize {
    let n = (12 + payload.len()).min(buf.len());
    buf[0] = 0x80;
    buf[1] = (pt & 0x7f) | if marker { 0x80 } else { 0 };
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[12..n].copy_from_slice(&payload[..n - 12]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an async fn of five arguments returns,
    /// without calling it: what tokio allocates for the task.
    fn future_size5<A, B, C, D, E, F>(_: impl FnOnce(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every call has a relay task; tokio allocates its whole future state.
    /// Issue 19 took the receive buffers and the mixer's frames out of it;
    /// this fails if a large local held across an await (an inline array,
    /// a big select! arm) makes it grow again. Debug builds lay futures out
    /// larger than release ones: the bound is for debug.
    const RELAY_TASK_MAX_BYTES: usize = 2560;

    #[test]
    fn the_relay_task_future_stays_small() {
        let n = future_size5(relay_task);
        eprintln!(
            "relay task future: {n} bytes (Relay {} bytes, Cmd {} bytes)",
            std::mem::size_of::<Relay>(),
            std::mem::size_of::<Cmd>()
        );
        assert!(
            n <= RELAY_TASK_MAX_BYTES,
            "the relay task's future is {n} bytes"
        );
    }

    #[test]
    fn scratch_grows_to_the_largest_packet_and_never_shrinks() {
        let mut v: Vec<i16> = Vec::new();
        assert_eq!(fit(&mut v, 160).len(), 160);
        let ptr = v.as_ptr();
        assert_eq!(fit(&mut v, 80).len(), 80);
        assert_eq!(fit(&mut v, 160).len(), 160);
        assert_eq!(
            (v.len(), v.as_ptr()),
            (160, ptr),
            "reallocated for a smaller packet"
        );
        assert_eq!(fit(&mut v, 240).len(), 240);
        assert_eq!(v.len(), 240);
    }

    #[test]
    fn rtcp_is_told_apart() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201]));
        assert!(!is_rtcp(&[0x80, 0]));
        assert!(!is_rtcp(&[0x80, 0x80 | 8]));
        assert!(!is_rtcp(&[0x80]));
    }

    #[test]
    fn written_header_reads_back() {
        let mut buf = [0u8; 64];
        let n = write_rtp(&mut buf, 8, true, 65535, 0xdead_beef, 42, &[1, 2, 3]);
        let r = rtp_rs::RtpReader::new(&buf[..n]).unwrap();
        assert_eq!(
            (
                r.payload_type(),
                r.mark(),
                u16::from(r.sequence_number()),
                r.timestamp(),
                r.ssrc()
            ),
            (8, true, 65535, 0xdead_beef, 42)
        );
        assert_eq!(r.payload(), &[1, 2, 3]);
    }

    #[test]
    fn out_stream_is_continuous_across_sources() {
        let mut o = OutStream::new();
        let t0 = Instant::now();
        let (s0, ts0, m0) = o.local(t0);
        assert!(m0);
        let (s1, ts1, m1) = o.local(t0 + Duration::from_millis(20));
        assert_eq!(
            (s1, ts1, m1),
            (s0.wrapping_add(1), ts0.wrapping_add(160), false)
        );
        // a relayed source with arbitrary numbering continues our numbering
        let (s2, ts2, m2) = o.relayed(7, 1000, 50_000, false, t0 + Duration::from_millis(40));
        assert_eq!(s2, s1.wrapping_add(1));
        assert_eq!(ts2, ts1.wrapping_add(160));
        assert!(m2);
        let (s3, ts3, _) = o.relayed(7, 1001, 50_160, false, t0 + Duration::from_millis(60));
        assert_eq!((s3, ts3), (s2.wrapping_add(1), ts2.wrapping_add(160)));
        // a lost packet keeps its gap
        let (s5, ts5, _) = o.relayed(7, 1003, 50_480, false, t0 + Duration::from_millis(100));
        assert_eq!((s5, ts5), (s3.wrapping_add(2), ts3.wrapping_add(320)));
        // a late one keeps its place and does not move the stream back
        let (s4, _, _) = o.relayed(7, 1002, 50_320, false, t0 + Duration::from_millis(101));
        assert_eq!(s4, s3.wrapping_add(1));
        let (s6, _, _) = o.relayed(7, 1004, 50_640, false, t0 + Duration::from_millis(120));
        assert_eq!(s6, s5.wrapping_add(1));
        // SSRC change: re-anchored, marker set, still continuous
        let (s7, ts7, m7) = o.relayed(9, 3, 10, false, t0 + Duration::from_millis(140));
        assert_eq!(s7, s6.wrapping_add(1));
        assert!(m7);
        assert_ne!(ts7, 10);
    }

    #[test]
    fn playback_concatenates_and_loops() {
        let a = Prompt::from_samples("a", vec![0; 200]);
        let b = Prompt::from_samples("b", vec![1000; 100]);
        let mut pb = Playback {
            prompts: vec![a, b],
            index: 0,
            pos: 0,
            loop_last: true,
        };
        let mut f = [0u8; FRAME_SAMPLES];
        for _ in 0..10 {
            assert!(pb.next_frame(Codec::Pcmu, &mut f));
        }
        let mut once = Playback {
            prompts: vec![Prompt::from_samples("c", vec![0; 170])],
            index: 0,
            pos: 0,
            loop_last: false,
        };
        assert!(once.next_frame(Codec::Pcma, &mut f));
        assert!(once.next_frame(Codec::Pcma, &mut f));
        assert_eq!(f[10..], [Codec::Pcma.silence(); FRAME_SAMPLES - 10]);
        assert!(!once.next_frame(Codec::Pcma, &mut f));
    }
}
