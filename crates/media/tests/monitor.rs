#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! A supervisor's monitor leg over real UDP sockets: each party sends its
//! own tone, and what each one receives is told apart by frequency
//! (Goertzel) in listen, whisper and barge, switched during the call; the
//! recording tap carries only the caller (A) and the agent (B).

mod common;

use common::*;
use hotline_core::{AudioFrame, Side};
use hotline_media::sdp::Negotiated;
use hotline_media::{MonitorMode, FRAME_SAMPLES};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Caller, agent and supervisor tones (Hz).
const A: f64 = 500.0;
const B: f64 = 1100.0;
const C: f64 = 1900.0;

/// Amplitude of `freq` in `samples` (Goertzel, 8 kHz).
fn level(samples: &[i16], freq: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// What a party received: arrival time and decoded samples of each packet.
type Heard = Arc<Mutex<Vec<(Instant, Vec<i16>)>>>;

/// A party: sends its tone every 20 ms in its law; keeps what it receives
/// (decoded, with the arrival time).
struct Party {
    socket: Arc<UdpSocket>,
    heard: Heard,
}

impl Party {
    fn new() -> Party {
        Party {
            socket: Arc::new(peer_timeout(Duration::from_millis(50))),
            heard: Arc::default(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn start(&self, stop: Arc<AtomicBool>, to: u16, neg: Negotiated, freq: f64, ssrc: u32) {
        let tx = self.socket.clone();
        let to: SocketAddr = format!("127.0.0.1:{to}").parse().unwrap();
        let stop_tx = stop.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut frame = vec![0u8; FRAME_SAMPLES];
            for i in 0u32.. {
                if stop_tx.load(Ordering::Relaxed) {
                    break;
                }
                let pcm: Vec<i16> = (0..FRAME_SAMPLES)
                    .map(|k| {
                        let n = f64::from(i) * FRAME_SAMPLES as f64 + k as f64;
                        ((2.0 * std::f64::consts::PI * freq * n / 8000.0).sin() * 8000.0) as i16
                    })
                    .collect();
                neg.codec.encode(&pcm, &mut frame);
                let p = rtp(
                    neg.payload_type,
                    i as u16,
                    i.wrapping_mul(160),
                    ssrc,
                    &frame,
                );
                let _ = tx.send_to(&p, to);
                let due = start + Duration::from_millis(20 * u64::from(i + 1));
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        });
        let rx = self.socket.clone();
        let heard = self.heard.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let Ok(n) = rx.recv(&mut buf) else { continue };
                let Ok(r) = rtp_rs::RtpReader::new(&buf[..n]) else {
                    continue;
                };
                if r.payload_type() != neg.payload_type {
                    continue;
                }
                let mut pcm = vec![0i16; r.payload().len()];
                neg.codec.decode(r.payload(), &mut pcm);
                heard.lock().unwrap().push((Instant::now(), pcm));
            }
        });
    }

    /// Levels of A, B and C in what arrived between `from` and `to`.
    fn levels(&self, from: Instant, to: Instant) -> [f64; 3] {
        let heard = self.heard.lock().unwrap();
        let samples: Vec<i16> = heard
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        assert!(
            samples.len() >= 8000 / 4,
            "at least 250 ms of audio arrived ({})",
            samples.len()
        );
        [level(&samples, A), level(&samples, B), level(&samples, C)]
    }
}

/// Heard clearly (the tones are sent at 8000; a mixed stream keeps them).
const PRESENT: f64 = 3000.0;
/// Not heard (G.711 noise and the other tones' leakage stay far below).
const ABSENT: f64 = 150.0;

fn check(who: &str, mode: &str, levels: [f64; 3], expect: [bool; 3]) {
    for ((name, l), want) in ["A", "B", "C"].iter().zip(levels).zip(expect) {
        if want {
            assert!(l > PRESENT, "{mode}: {who} should hear {name} ({levels:?})");
        } else {
            assert!(
                l < ABSENT,
                "{mode}: {who} must not hear {name} ({levels:?})"
            );
        }
    }
}

#[test]
fn listen_whisper_barge_by_frequency_and_the_recording_keeps_a_and_b_only() {
    let media = engine(32000, 32099, 1);
    let session = media.allocate("monitored").unwrap();
    let (caller, agent, sup) = (Party::new(), Party::new(), Party::new());
    session.set_remote(Side::Caller, caller.addr(), PCMU);
    session.set_remote(Side::Agent, agent.addr(), PCMU);
    let (tap_tx, tap_rx) = crossbeam_channel::bounded::<AudioFrame>(10_000);
    session.bridge(Some(tap_tx));
    let sup_port = media.add_monitor(&session, MonitorMode::Listen).unwrap();
    assert!(![session.caller_port(), session.agent_port()].contains(&sup_port));
    // the supervisor speaks A-law: the mix is encoded per listener
    session.set_monitor_remote(sup.addr(), PCMA);

    let stop = Arc::new(AtomicBool::new(false));
    caller.start(stop.clone(), session.caller_port(), PCMU, A, 0xA);
    agent.start(stop.clone(), session.agent_port(), PCMU, B, 0xB);
    sup.start(stop.clone(), sup_port, PCMA, C, 0xC);

    let settle = Duration::from_millis(300);
    let window = Duration::from_millis(800);
    let phase = |mode: Option<MonitorMode>| {
        match mode {
            Some(m) => session.set_monitor_mode(m),
            None => session.stop_monitor(),
        }
        let from = Instant::now() + settle;
        std::thread::sleep(settle + window);
        let to = Instant::now();
        (
            caller.levels(from, to),
            agent.levels(from, to),
            (mode.is_some()).then(|| sup.levels(from, to)),
        )
    };

    // listen: the supervisor hears A and B; nobody hears C
    let (c, a, s) = phase(Some(MonitorMode::Listen));
    check("caller", "listen", c, [false, true, false]);
    check("agent", "listen", a, [true, false, false]);
    check("supervisor", "listen", s.unwrap(), [true, true, false]);

    // whisper: the agent hears A and C, the caller never C
    let (c, a, s) = phase(Some(MonitorMode::Whisper));
    check("caller", "whisper", c, [false, true, false]);
    check("agent", "whisper", a, [true, false, true]);
    check("supervisor", "whisper", s.unwrap(), [true, true, false]);

    // barge: everyone hears the other two
    let (c, a, s) = phase(Some(MonitorMode::Barge));
    check("caller", "barge", c, [false, true, true]);
    check("agent", "barge", a, [true, false, true]);
    check("supervisor", "barge", s.unwrap(), [true, true, false]);

    // back to listen during the call, then stop: a plain two-way call again
    let (c, a, _) = phase(Some(MonitorMode::Listen));
    check("caller", "listen again", c, [false, true, false]);
    check("agent", "listen again", a, [true, false, false]);
    let (c, a, _) = phase(None);
    check("caller", "stopped", c, [false, true, false]);
    check("agent", "stopped", a, [true, false, false]);
    stop.store(true, Ordering::Relaxed);

    // the recording: caller channel A only, agent channel B only, never C
    let frames: Vec<AudioFrame> = tap_rx.try_iter().collect();
    for (side, want) in [(Side::Caller, [true, false]), (Side::Agent, [false, true])] {
        let samples: Vec<i16> = frames
            .iter()
            .filter(|f| f.side == side)
            .flat_map(|f| f.samples.iter().copied())
            .collect();
        assert!(samples.len() > 8000 * 4, "{side:?}: {}", samples.len());
        let l = [level(&samples, A), level(&samples, B), level(&samples, C)];
        check(
            &format!("recording {side:?}"),
            "whole call",
            l,
            [want[0], want[1], false],
        );
    }
    let stats = session.stats();
    assert!(stats.mixed_frames > 100, "{stats:?}");
    assert!(stats.monitor.packets_in > 100 && stats.monitor.packets_out > 100);
}

#[test]
fn the_monitor_leg_drops_strangers_and_junk_and_its_port_is_reused() {
    let media = engine(32100, 32105, 1); // three ports pairs: one session + a monitor
    let session = media.allocate("m2").unwrap();
    let sup = peer_timeout(Duration::from_millis(50));
    let port = media.add_monitor(&session, MonitorMode::Barge).unwrap();
    session.set_monitor_remote(sup.local_addr().unwrap(), PCMU);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // learn the supervisor's address with one valid packet first
    sup.send_to(&rtp(0, 1, 160, 7, &[0xFF; 160]), to).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let stranger = peer_timeout(Duration::from_millis(50));
    for junk in [
        &b""[..],
        &[0u8; 1][..],
        &[0x80, 200, 0, 1][..],
        &[0x40; 40][..],
        &[0xFF; 2000][..],
    ] {
        sup.send_to(junk, to).unwrap();
        stranger.send_to(&rtp(0, 2, 320, 9, &[0; 160]), to).unwrap();
    }
    sup.send_to(&rtp(101, 3, 480, 7, &[1, 0x80, 0, 160]), to)
        .unwrap();
    sup.send_to(&rtp(18, 4, 640, 7, &[0; 20]), to).unwrap();
    let t = Instant::now();
    loop {
        let m = session.stats().monitor;
        if m.foreign >= 5 && m.malformed >= 3 && m.rtcp >= 1 && m.unknown_payload >= 1 {
            assert_eq!(m.packets_in, 3, "{m:?}");
            assert_eq!(m.dtmf, 1);
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{m:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // the supervisor gets a stream even with nobody talking (silence frames)
    let mut buf = [0u8; 2048];
    let n = sup.recv(&mut buf).expect("mixer frames to the supervisor");
    assert_eq!(n, 12 + FRAME_SAMPLES);
    // stop: the port goes back to the pool and can be taken again
    session.stop_monitor();
    let t = Instant::now();
    loop {
        match media.add_monitor(&session, MonitorMode::Listen) {
            Ok(p) => {
                assert_eq!(p, port);
                break;
            }
            Err(e) => {
                assert!(t.elapsed() < Duration::from_secs(5), "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    // a third monitor while one is open: no ports left is an error, not a panic
    assert!(media.add_monitor(&session, MonitorMode::Listen).is_err());
}

/// CPU time (user + system, in clock ticks of 10 ms) of this process's
/// thread named `name`.
fn thread_cpu_ticks(name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // fields after the ")" of the name: state is field 3, utime 14, stime 15
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        total += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    total
}

/// The relay worker's CPU per call-second with `calls` bridged calls,
/// unmonitored, monitored in listen and in barge (every party sending a
/// 20 ms frame each tick, the supervisor too). Run by hand:
/// `cargo test --release -p hotline-media --test monitor -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (docs/performance.md), run by hand in release"]
fn cpu_per_monitored_call() {
    let calls = 60;
    let media = engine(33000, 33999, 1);
    let sessions: Vec<_> = (0..calls)
        .map(|i| media.allocate(&format!("c{i}")).unwrap())
        .collect();
    let peers: Vec<[UdpSocket; 3]> = (0..calls)
        .map(|_| {
            [
                peer_timeout(Duration::from_millis(50)),
                peer_timeout(Duration::from_millis(50)),
                peer_timeout(Duration::from_millis(50)),
            ]
        })
        .collect();
    let mut sup_ports = Vec::new();
    for (s, p) in sessions.iter().zip(&peers) {
        s.set_remote(Side::Caller, p[0].local_addr().unwrap(), PCMU);
        s.set_remote(Side::Agent, p[1].local_addr().unwrap(), PCMU);
        s.bridge(None);
    }
    let frame = [0x55u8; FRAME_SAMPLES];
    let run = |secs: u64, with_sup: &[u16]| -> f64 {
        let t0 = thread_cpu_ticks("media-0");
        let start = Instant::now();
        let mut buf = [0u8; 2048];
        for i in 0..(secs * 50) as u32 {
            for (k, (s, p)) in sessions.iter().zip(&peers).enumerate() {
                let pkt = rtp(0, i as u16, i * 160, k as u32, &frame);
                let to = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().unwrap() };
                p[0].send_to(&pkt, to(s.caller_port())).unwrap();
                p[1].send_to(&pkt, to(s.agent_port())).unwrap();
                if let Some(port) = with_sup.get(k) {
                    p[2].send_to(&pkt, to(*port)).unwrap();
                }
            }
            // drain what the relay sent, so socket buffers never fill
            for p in &peers {
                for s in p {
                    s.set_nonblocking(true).unwrap();
                    while s.recv(&mut buf).is_ok() {}
                }
            }
            let due = start + Duration::from_millis(20 * u64::from(i + 1));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let ticks = thread_cpu_ticks("media-0") - t0;
        // ms of CPU per call-second
        (ticks as f64 * 10.0) / (calls as f64 * secs as f64)
    };
    let secs = 10;
    let plain = run(secs, &[]);
    for s in &sessions {
        sup_ports.push(media.add_monitor(s, MonitorMode::Listen).unwrap());
    }
    for (s, p) in sessions.iter().zip(&peers) {
        s.set_monitor_remote(p[2].local_addr().unwrap(), PCMU);
    }
    let listen = run(secs, &sup_ports);
    for s in &sessions {
        s.set_monitor_mode(MonitorMode::Barge);
    }
    let barge = run(secs, &sup_ports);
    println!(
        "{calls} calls, {secs} s each: relay CPU per call-second: bridged {plain:.3} ms, \
         monitored (listen) {listen:.3} ms, monitored (barge) {barge:.3} ms"
    );
    assert!(plain > 0.0 && barge > 0.0);
}
