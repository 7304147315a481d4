//! The softphone: keeps the agent registered, takes incoming calls one at a
//! time, answers them (automatically after a delay, or on a key), and runs
//! the audio bridge between the call's RTP and the audio endpoint.

use crate::audio::{AudioError, EndpointStats, WavEndpoint, WavInput};
use crate::bridge::{capture_ring, playback_ring, BridgeError, Downlink, Uplink};
use crate::device::{device_rates, DeviceEndpoint, DeviceStatus};
use hotline_media::sdp;
use hotline_sip::{
    InboundCall, KeepAlive, LegEvent, Liveness, RegisterOutcome, SipError, UserAgent,
    UserAgentConfig, KEEPALIVE_MISSES,
};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Status lines start with this (tests and scripts wait for them).
pub const STATUS_PREFIX: &str = "hotline-phone:";

/// Errors that stop the phone.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The server refused our registration (wrong password, unknown agent, ...).
    #[error("registration as {agent} refused by {server}: {status} {reason}")]
    Rejected {
        /// Agent.
        agent: String,
        /// Server.
        server: SocketAddr,
        /// SIP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// SIP could not start.
    #[error(transparent)]
    Sip(#[from] SipError),
    /// The audio endpoint failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The bridge could not be built.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// A socket could not be opened.
    #[error("{what}: {source}")]
    Io {
        /// What we tried.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
}

impl PhoneError {
    /// The process exit code for this error: 2 refused registration, 3 audio
    /// setup, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            PhoneError::Rejected { .. } => 2,
            PhoneError::Audio(_) => 3,
            _ => 1,
        }
    }
}

/// Where the audio goes.
#[derive(Clone, Debug)]
pub enum AudioMode {
    /// WAV files paced by a clock.
    Wav {
        /// The microphone stand-in (looped); None = silence.
        input: Option<PathBuf>,
        /// The headset stand-in; None = discarded.
        output: Option<PathBuf>,
        /// Rate of the output file (the "device" rate), Hz.
        output_rate: u32,
    },
    /// A sound device (None = the default one).
    Device {
        /// Capture device.
        input: Option<String>,
        /// Playback device.
        output: Option<String>,
    },
}

/// Settings of the phone.
#[derive(Clone, Debug)]
pub struct PhoneConfig {
    /// The hotline's SIP address.
    pub server: SocketAddr,
    /// The agent's extension.
    pub agent: String,
    /// Its password.
    pub password: String,
    /// Local IP (default: the one that routes to the server).
    pub bind_ip: Option<IpAddr>,
    /// Registration length asked for, seconds.
    pub expires_s: u32,
    /// OPTIONS keep-alive interval toward the server, seconds (0 = none).
    pub keepalive_s: u32,
    /// Answer automatically after this long; None = answer on a key.
    pub auto_answer_ms: Option<u64>,
    /// Hang up automatically after this long in a call (tests, unattended).
    pub hangup_after_ms: Option<u64>,
    /// Exit after this many calls ended.
    pub max_calls: Option<u32>,
    /// Audio endpoint.
    pub audio: AudioMode,
}

/// A key command from the agent (stdin lines or the TUI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Answer the ringing call.
    Answer,
    /// Hang up (or refuse a ringing call).
    Hangup,
    /// Mute / unmute the microphone.
    ToggleMute,
    /// Leave the program.
    Quit,
}

/// Delay before the `attempt`-th registration retry (1-based): 1, 2, 4, ...
/// seconds, at most 60.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// When to refresh a registration granted for `expires_s`: at 80 %, and at
/// least 5 s before it runs out.
pub fn refresh_after(expires_s: u32) -> Duration {
    let e = u64::from(expires_s.max(1));
    Duration::from_secs((e * 4 / 5).min(e.saturating_sub(5)).max(1))
}

/// What the call is doing, for the terminal UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallState {
    /// No call: available.
    #[default]
    Idle,
    /// A call rings.
    Ringing,
    /// In a call.
    Talking,
}

/// Everything the terminal UI shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneState {
    /// The agent's extension.
    pub agent: String,
    /// Registration status in words.
    pub registration: String,
    /// The call's state.
    pub call: CallState,
    /// The caller's number (ringing or talking).
    pub caller: Option<String>,
    /// When the current call was answered (the handle-time clock).
    pub answered_at: Option<Instant>,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// Trouble with the audio device (unplugged headset), None when fine.
    pub device_trouble: Option<String>,
    /// Calls taken so far.
    pub calls: u32,
    /// Calls missed (cancelled while ringing) so far.
    pub missed: u32,
    /// The last status line.
    pub last: String,
}

/// Reports status: lines on stdout (`hotline-phone: ...`) unless the TUI
/// runs, and always the [`PhoneState`] the TUI draws.
#[derive(Clone, Debug)]
pub struct Reporter {
    print: bool,
    state: Arc<tokio::sync::watch::Sender<PhoneState>>,
}

impl Reporter {
    /// A reporter for `agent`; `print` = write status lines to stdout.
    pub fn new(agent: &str, print: bool) -> (Reporter, tokio::sync::watch::Receiver<PhoneState>) {
        let (tx, rx) = tokio::sync::watch::channel(PhoneState {
            agent: agent.to_string(),
            registration: "registering".into(),
            ..PhoneState::default()
        });
        (
            Reporter {
                print,
                state: Arc::new(tx),
            },
            rx,
        )
    }

    /// One status line.
    pub fn line(&self, line: &str) {
        if self.print {
            println!("{STATUS_PREFIX} {line}");
        }
        self.state.send_modify(|s| s.last = line.to_string());
    }

    /// Changes the shown state.
    pub fn set(&self, f: impl FnOnce(&mut PhoneState)) {
        self.state.send_modify(f);
    }
}

/// The local IP the kernel would use to reach `server`.
pub fn local_ip_for(server: SocketAddr) -> Result<IpAddr, PhoneError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| PhoneError::Io { what, source }
    };
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(any).map_err(io("bind a probe socket"))?;
    s.connect(server)
        .map_err(io(&format!("no route to the server {server}")))?;
    Ok(s.local_addr().map_err(io("read the probe socket"))?.ip())
}

/// Runs the phone until `commands` sends [`Command::Quit`] (or closes), the
/// call limit is reached, or a fatal error.
pub async fn run(
    cfg: PhoneConfig,
    mut commands: mpsc::Receiver<Command>,
    rep: Reporter,
) -> Result<(), PhoneError> {
    let ip = match cfg.bind_ip {
        Some(ip) => ip,
        None => local_ip_for(cfg.server)?,
    };
    // The audio endpoint first: a missing file or device stops us before SIP.
    let (in_rate, out_rate, endpoint) = open_audio(&cfg.audio, &rep)?;
    let mut rings = Some((endpoint.playback, endpoint.capture));

    let (ua, mut calls) = UserAgent::start(UserAgentConfig {
        server: cfg.server,
        bind: SocketAddr::new(ip, 0),
        user: cfg.agent.clone(),
        password: cfg.password.clone(),
        expires_s: cfg.expires_s,
    })
    .await?;
    // first registration: a refusal is fatal (wrong password, unknown agent)
    let mut attempt = 0;
    let expires = loop {
        match ua.register().await {
            Ok(RegisterOutcome::Registered { expires_s }) => break expires_s,
            Ok(RegisterOutcome::Rejected { status, reason }) => {
                ua.shutdown();
                return Err(PhoneError::Rejected {
                    agent: cfg.agent.clone(),
                    server: cfg.server,
                    status,
                    reason,
                });
            }
            Err(e) => {
                attempt += 1;
                let d = retry_delay(attempt);
                warn!(error = %e, retry_in = ?d, "registration failed");
                rep.line(&format!(
                    "registration failed ({e}); retrying in {} s",
                    d.as_secs()
                ));
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    c = commands.recv() => if matches!(c, None | Some(Command::Quit)) { ua.shutdown(); return Ok(()) },
                }
            }
        }
    };
    rep.line(&format!(
        "registered {}@{} from {} (expires {expires} s)",
        cfg.agent,
        cfg.server,
        ua.local_addr()
    ));
    rep.set(|s| s.registration = format!("registered at {} (expires {expires} s)", cfg.server));
    let kick = Arc::new(tokio::sync::Notify::new());
    let keeper = tokio::spawn(keep_registered(
        ua.clone(),
        expires,
        kick.clone(),
        rep.clone(),
    ));
    let pinger = (cfg.keepalive_s > 0).then(|| {
        tokio::spawn(keep_alive(
            ua.clone(),
            cfg.server,
            cfg.keepalive_s,
            kick,
            rep.clone(),
        ))
    });

    let mut done_calls = 0u32;
    let result = loop {
        let call = tokio::select! {
            c = calls.recv() => match c { Some(c) => c, None => break Ok(()) },
            c = commands.recv() => match c {
                None | Some(Command::Quit) => break Ok(()),
                Some(_) => continue,
            },
        };
        let Some((playback, capture)) = rings.take() else {
            call.reject(486, None);
            continue;
        };
        let out = handle_call(
            &cfg,
            ip,
            call,
            playback,
            capture,
            in_rate,
            out_rate,
            &endpoint.stats,
            &mut commands,
            &mut calls,
            &rep,
        )
        .await;
        match out {
            Ok((p, c, quit)) => {
                rings = Some((p, c));
                if quit {
                    break Ok(());
                }
            }
            Err(e) => break Err(e),
        }
        done_calls += 1;
        if cfg.max_calls.is_some_and(|m| done_calls >= m) {
            break Ok(());
        }
    };
    keeper.abort();
    if let Some(p) = pinger {
        p.abort();
    }
    if let Err(e) = ua.unregister().await {
        warn!(error = %e, "unregister failed");
    }
    ua.shutdown();
    if let Some(w) = endpoint.wav {
        w.finish()?;
    }
    drop(endpoint.device);
    rep.line("stopped");
    result
}

/// Sends an OPTIONS keep-alive every `interval_s` (RFC 5626: 80-100 % of
/// it, randomised): it keeps the NAT binding toward the server open and
/// tells when the server stops answering ([`KEEPALIVE_MISSES`] in a row):
/// that is reported and kicks a re-registration, as does its return.
async fn keep_alive(
    ua: UserAgent,
    server: SocketAddr,
    interval_s: u32,
    kick: Arc<tokio::sync::Notify>,
    rep: Reporter,
) {
    let mut k = KeepAlive::new(interval_s);
    loop {
        tokio::time::sleep(k.next_delay(rand::random())).await;
        let ev = match ua.ping().await {
            Ok(status) => {
                debug!(status, "keep-alive answered");
                k.on_answer()
            }
            Err(e) => {
                debug!(error = %e, "keep-alive unanswered");
                k.on_timeout()
            }
        };
        match ev {
            Liveness::Steady => {}
            Liveness::Lost => {
                warn!(%server, "server stopped answering keep-alives");
                rep.line(&format!(
                    "server {server} not answering keep-alives ({KEEPALIVE_MISSES} OPTIONS unanswered); registering again"
                ));
                rep.set(|s| s.registration = "server not answering: re-registering".into());
                kick.notify_one();
            }
            Liveness::Back => {
                info!(%server, "server answers keep-alives again");
                rep.line(&format!(
                    "server {server} answering keep-alives again; registering"
                ));
                kick.notify_one();
            }
        }
    }
}

/// Refreshes the registration before it runs out; after a failure (server
/// restarted, unreachable, refusing) retries with backoff; `kick` asks for a
/// REGISTER at once (the keep-alive saw the server go or come back).
async fn keep_registered(
    ua: UserAgent,
    mut expires: u32,
    kick: Arc<tokio::sync::Notify>,
    rep: Reporter,
) {
    let mut wait = refresh_after(expires);
    let mut attempt = 0u32;
    loop {
        let kicked = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = kick.notified() => true,
        };
        match ua.register().await {
            Ok(RegisterOutcome::Registered { expires_s }) => {
                if attempt > 0 || kicked {
                    rep.line(&format!("registered again (expires {expires_s} s)"));
                }
                attempt = 0;
                expires = expires_s;
                rep.set(|s| s.registration = format!("registered (expires {expires_s} s)"));
                wait = refresh_after(expires);
                info!(expires, "registration refreshed");
            }
            Ok(RegisterOutcome::Rejected { status: s, reason }) => {
                attempt += 1;
                wait = retry_delay(attempt);
                rep.set(|st| st.registration = format!("refused: {s} {reason}"));
                rep.line(&format!(
                    "registration refused: {s} {reason}; retrying in {} s",
                    wait.as_secs()
                ));
            }
            Err(e) => {
                attempt += 1;
                wait = retry_delay(attempt);
                rep.set(|st| st.registration = "not registered: retrying".into());
                rep.line(&format!(
                    "registration failed ({e}); retrying in {} s",
                    wait.as_secs()
                ));
            }
        }
    }
}

struct Endpoint {
    playback: rtrb::Producer<f32>,
    capture: rtrb::Consumer<f32>,
    stats: Arc<EndpointStats>,
    wav: Option<WavEndpoint>,
    device: Option<DeviceEndpoint>,
}

/// Reports the device's loss and return (status line, log, TUI).
fn device_status_reporter(rep: Reporter) -> crate::device::StatusFn {
    Box::new(move |st| match st {
        DeviceStatus::Lost { reason } => {
            warn!(%reason, "audio device lost; the call stays up");
            rep.line(&format!(
                "audio device lost ({reason}); the call stays up, waiting for the device to come back"
            ));
            rep.set(|s| s.device_trouble = Some(format!("LOST: {reason} (waiting for it)")));
        }
        DeviceStatus::Back => {
            info!("audio device back");
            rep.line("audio device back");
            rep.set(|s| s.device_trouble = None);
        }
        DeviceStatus::Gone { reason } => {
            warn!(%reason, "audio device cannot be re-opened");
            rep.line(&format!(
                "audio device cannot be re-opened ({reason}): restart hotline-phone"
            ));
            rep.set(|s| s.device_trouble = Some(format!("GONE: {reason}")));
        }
    })
}

fn open_audio(mode: &AudioMode, rep: &Reporter) -> Result<(u32, u32, Endpoint), PhoneError> {
    match mode {
        AudioMode::Wav {
            input,
            output,
            output_rate,
        } => {
            let input = input.as_deref().map(WavInput::read).transpose()?;
            let in_rate = input.as_ref().map(|i| i.rate).unwrap_or(8000);
            let (playback, pcons) = playback_ring(*output_rate);
            let (cprod, capture) = capture_ring(in_rate);
            let out = output.clone().map(|p| (p, *output_rate));
            let wav = WavEndpoint::start(input, out, cprod, pcons)?;
            let stats = wav.stats.clone();
            Ok((
                in_rate,
                *output_rate,
                Endpoint {
                    playback,
                    capture,
                    stats,
                    wav: Some(wav),
                    device: None,
                },
            ))
        }
        AudioMode::Device { input, output } => {
            let rates = device_rates(input.as_deref(), output.as_deref())?;
            let (playback, pcons) = playback_ring(rates.1);
            let (cprod, capture) = capture_ring(rates.0);
            let dev = DeviceEndpoint::start(
                input.clone(),
                output.clone(),
                rates,
                cprod,
                pcons,
                device_status_reporter(rep.clone()),
            )?;
            let stats = dev.stats.clone();
            Ok((
                rates.0,
                rates.1,
                Endpoint {
                    playback,
                    capture,
                    stats,
                    wav: None,
                    device: Some(dev),
                },
            ))
        }
    }
}

/// The ring tone on the headset while a call rings (China: 425 Hz, 1 s on,
/// 4 s off).
pub const RING_TONE_HZ: f64 = 425.0;
/// Its level: about -28 dBFS, clearly audible in a headset, below speech.
pub const RING_TONE_LEVEL: f32 = 0.04;

/// Pushes the next 20 ms of ring tone into the playback ring (skipped when
/// the device has not drained the last ones).
pub fn ring_tone(ring: &mut rtrb::Producer<f32>, rate: u32, n: &mut u64) {
    let per = (rate / 50) as usize;
    if ring.slots() < per {
        return;
    }
    for _ in 0..per {
        let t = *n as f64 / f64::from(rate);
        let v = if t % 5.0 < 1.0 {
            RING_TONE_LEVEL * (2.0 * std::f64::consts::PI * RING_TONE_HZ * t).sin() as f32
        } else {
            0.0
        };
        if ring.push(v).is_err() {
            break;
        }
        *n += 1;
    }
}

/// A second call while one is ringing or up: 486 Busy Here.
fn busy(rep: &Reporter, call: InboundCall) {
    rep.line(&format!("busy: refused call from {}", call.caller.number));
    call.reject(486, None);
}

type Rings = (rtrb::Producer<f32>, rtrb::Consumer<f32>, bool);

/// One call from INVITE to its end; gives the rings back (and whether the
/// agent asked to quit).
#[allow(clippy::too_many_arguments)]
async fn handle_call(
    cfg: &PhoneConfig,
    ip: IpAddr,
    mut call: InboundCall,
    mut playback: rtrb::Producer<f32>,
    capture: rtrb::Consumer<f32>,
    in_rate: u32,
    out_rate: u32,
    dev_stats: &EndpointStats,
    commands: &mut mpsc::Receiver<Command>,
    others: &mut mpsc::Receiver<InboundCall>,
    rep: &Reporter,
) -> Result<Rings, PhoneError> {
    let caller = call.caller.number.clone();
    // the offer must carry audio we can play
    let offer = sdp::parse_plain(&call.offer).and_then(|d| sdp::negotiate(&d).map(|n| (d, n)));
    let (remote, negotiated) = match offer {
        Ok(x) => x,
        Err(e) => {
            rep.line(&format!("refused call from {caller}: {e}"));
            call.reject(488, Some(e.to_string()));
            return Ok((playback, capture, false));
        }
    };
    call.ringing();
    rep.set(|s| {
        s.call = CallState::Ringing;
        s.caller = Some(caller.clone());
    });
    rep.line(&format!("ringing: call from {caller}"));
    // wait for the answer (auto or key), a CANCEL, or a refusal
    let answer_at = cfg
        .auto_answer_ms
        .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let mut ring_tick = tokio::time::interval(Duration::from_millis(20));
    let mut ring_n = 0u64;
    loop {
        let auto = async {
            match answer_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = auto => break,
            _ = ring_tick.tick() => ring_tone(&mut playback, out_rate, &mut ring_n),
            Some(other) = others.recv() => busy(rep, other),
            ev = call.next_event() => match ev {
                Some(LegEvent::Cancelled) | Some(LegEvent::HungUp) | Some(LegEvent::Ended { .. }) | None => {
                    rep.set(|s| {
                        s.call = CallState::Idle;
                        s.caller = None;
                        s.missed += 1;
                    });
                    rep.line(&format!("missed call from {caller} (cancelled)"));
                    return Ok((playback, capture, false));
                }
                _ => {}
            },
            c = commands.recv() => match c {
                Some(Command::Answer) => break,
                Some(Command::Hangup) => {
                    call.reject(486, None);
                    rep.set(|s| {
                        s.call = CallState::Idle;
                        s.caller = None;
                    });
                    rep.line(&format!("refused call from {caller}"));
                    return Ok((playback, capture, false));
                }
                Some(Command::ToggleMute) => {}
                None | Some(Command::Quit) => {
                    call.reject(480, None);
                    return Ok((playback, capture, true));
                }
            },
        }
    }
    let rtp = tokio::net::UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|source| PhoneError::Io {
            what: format!("bind an RTP socket on {ip}"),
            source,
        })?;
    let local_rtp = rtp.local_addr().map_err(|source| PhoneError::Io {
        what: "read the RTP socket".into(),
        source,
    })?;
    let sid = rand::random::<u32>() as u64;
    let answer = sdp::build(ip, local_rtp.port(), &[negotiated.codec], None, sid, 1);
    call.answer(answer)?;
    let remote_addr = SocketAddr::new(remote.connection, remote.audio_port);
    let send_to = (!remote.connection.is_unspecified()).then_some(remote_addr);
    let mut down = Downlink::new(
        negotiated.codec,
        negotiated.payload_type,
        out_rate,
        playback,
    )?;
    let mut up = Uplink::new(
        negotiated.codec,
        negotiated.payload_type,
        in_rate,
        rand::random(),
        capture,
    )?;
    rep.line(&format!(
        "answered call from {caller} ({} , rtp {local_rtp} <-> {remote_addr})",
        negotiated.codec.name()
    ));
    let started = Instant::now();
    rep.set(|s| {
        s.call = CallState::Talking;
        s.answered_at = Some(started);
        s.muted = false;
    });
    let hangup_at = cfg
        .hangup_after_ms
        .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut buf = [0u8; 2048];
    let mut foreign = 0u64;
    let mut quit = false;
    let mut last_minute = 0;
    let reason = loop {
        let hang = async {
            match hangup_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tick.tick() => {
                down.tick();
                let pkt = up.tick();
                if let Some(to) = send_to {
                    let _ = rtp.send_to(pkt, to).await;
                }
                let secs = started.elapsed().as_secs();
                if secs / 60 != last_minute {
                    last_minute = secs / 60;
                    rep.line(&format!("on call with {caller}: {}:{:02}", secs / 60, secs % 60));
                }
            }
            Some(other) = others.recv() => busy(rep, other),
            r = rtp.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    // RTP from anyone but the far end's address is ignored
                    if from.ip() == remote.connection {
                        let _ = down.on_datagram(started.elapsed().as_millis() as u64, &buf[..n]);
                    } else {
                        foreign += 1;
                    }
                }
            }
            ev = call.next_event() => match ev {
                Some(LegEvent::HungUp) => break "the caller hung up".to_string(),
                Some(LegEvent::Ended { reason }) => break format!("ended ({reason})"),
                Some(LegEvent::Cancelled) => break "cancelled".to_string(),
                None => break "the call is gone".to_string(),
                Some(_) => {}
            },
            _ = hang => {
                call.hangup().await;
                break "we hung up".to_string();
            }
            c = commands.recv() => match c {
                Some(Command::Hangup) => {
                    call.hangup().await;
                    break "we hung up".to_string();
                }
                Some(Command::ToggleMute) => {
                    up.muted = !up.muted;
                    let m = up.muted;
                    rep.set(|s| s.muted = m);
                    rep.line(if up.muted { "muted" } else { "unmuted" });
                }
                Some(Command::Answer) => {}
                None | Some(Command::Quit) => {
                    call.hangup().await;
                    quit = true;
                    break "we hung up (quit)".to_string();
                }
            },
        }
    };
    let js = down.jitter_stats();
    rep.set(|s| {
        s.call = CallState::Idle;
        s.caller = None;
        s.answered_at = None;
        s.muted = false;
        s.calls += 1;
    });
    rep.line(&format!(
        "call with {caller} ended after {:.1} s: {reason}; rx {} frames, late {}, concealed {}, refused {}, foreign {}; jitter {:.1} ms, target {} ms; tx underruns {}; device underruns {} errors {}",
        started.elapsed().as_secs_f64(),
        js.accepted,
        js.late,
        js.concealed,
        down.refused,
        foreign,
        down.jitter_ms(),
        down.jitter_target_ms(),
        up.underruns,
        dev_stats.underruns.load(std::sync::atomic::Ordering::Relaxed),
        dev_stats.errors.load(std::sync::atomic::Ordering::Relaxed),
    ));
    Ok((down.into_ring(), up.into_ring(), quit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_timers() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(50), Duration::from_secs(60));
        assert_eq!(refresh_after(600), Duration::from_secs(480));
        assert_eq!(refresh_after(10), Duration::from_secs(5));
        assert_eq!(refresh_after(0), Duration::from_secs(1));
    }

    #[test]
    fn the_ring_tone_is_425_hz_one_second_in_five_and_quiet() {
        let (mut prod, mut cons) = crate::bridge::playback_ring(8000);
        let mut n = 0;
        let mut out = Vec::new();
        for _ in 0..250 {
            ring_tone(&mut prod, 8000, &mut n);
            while let Ok(v) = cons.pop() {
                out.push(v);
            }
        }
        assert_eq!(out.len(), 5 * 8000);
        let on = &out[..8000];
        let off = &out[8000..];
        assert!(off.iter().all(|v| *v == 0.0));
        let peak = on.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.03 && peak <= RING_TONE_LEVEL, "{peak}");
        let crossings = on
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!(
            (crossings as f64 / 2.0 - RING_TONE_HZ).abs() < 5.0,
            "{crossings}"
        );
        // a full ring is left alone (no blocking, no overwrite)
        let (mut full, _keep) = rtrb::RingBuffer::new(10);
        let mut m = 0;
        ring_tone(&mut full, 8000, &mut m);
        assert_eq!(m, 0);
    }

    #[test]
    fn exit_codes_tell_what_failed() {
        let rej = PhoneError::Rejected {
            agent: "1001".into(),
            server: "127.0.0.1:5060".parse().unwrap(),
            status: 403,
            reason: "Forbidden".into(),
        };
        assert_eq!(rej.exit_code(), 2);
        assert!(rej.to_string().contains("403"));
        let wav = PhoneError::Audio(AudioError::NoDevice("x".into()));
        assert_eq!(wav.exit_code(), 3);
    }
}
