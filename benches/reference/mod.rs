//! The reference stack of the load bench (`LOAD_REFERENCE=1`): the same SIPp
//! load through Kamailio 5.6 (a stateful proxy, `kamailio.cfg` next to this
//! file) and rtpengine 10.5 (userspace relay, every call recorded to pcap),
//! the open-source pair a hotline would otherwise be built from.
//!
//! It measures what the hotline run measures: CPU of every process of the
//! pair over the steady state (all calls up, no signalling) per concurrent
//! call-second, the whole machine's load, and the audio lost, here from the
//! RTP sequence numbers in rtpengine's pcap recordings (the packets the relay
//! received, as our recordings' gaps count the packets our relay received).
//!
//! The pair needs the Debian packages `kamailio` and `rtpengine-daemon`
//! (scripts/test.sh does not install them: this is a bench, not a test).

use super::common::*;
use super::{pin_to, Sample, Sampler};
use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the pair measured.
pub struct Figures {
    /// CPU of Kamailio and rtpengine per concurrent call-second, ms.
    pub ms_per_call_second: f64,
    /// Share of the audio missing from the recordings, %.
    pub loss_pct: f64,
}

/// The load of one run, the same for hotline and the pair.
pub struct Load {
    pub calls: u64,
    pub concurrent: u64,
    pub rate: u64,
    pub hold_ms: u64,
    pub pin: bool,
}

/// A process of the pair, stopped (SIGTERM, then SIGKILL) when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Daemon {
        let out = std::fs::File::create(&log).expect("daemon log");
        let err = out.try_clone().expect("daemon log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {name} ({e}): apt-get install -y kamailio rtpengine-daemon")
            });
        Daemon { name, child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- the last lines of {}'s log ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// Waits until `request` sent to `addr` over UDP gets any answer.
fn answers(addr: &str, request: &[u8], within: Duration) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let until = Instant::now() + within;
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        let _ = sock.send_to(request, addr);
        if sock.recv_from(&mut buf).is_ok() {
            return true;
        }
    }
    false
}

/// The processes whose parent is `pid` (Kamailio's workers).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|s| {
                    let after = s.rsplit_once(')')?.1.to_owned();
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// One RTP stream seen in a pcap: packets, the lowest and highest extended
/// sequence numbers, and the last sequence number with its extension.
struct Stream {
    packets: u64,
    lowest: i64,
    highest: i64,
    last: u16,
    last_ext: i64,
}

/// Packets received and expected (from the sequence numbers) of every RTP
/// stream in a pcap file: (received, expected).
fn rtp_counts(pcap: &[u8]) -> (u64, u64) {
    if pcap.len() < 24 {
        return (0, 0);
    }
    let le = matches!(
        pcap[..4],
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
    );
    let u32_at = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let linktype = u32_at(pcap, 20);
    // per stream: rtpengine writes each packet as received and as sent,
    // with the same SSRC, so a stream is an SSRC between two ports
    let mut streams: HashMap<(u32, u16, u16), Stream> = HashMap::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32_at(pcap, at + 8) as usize;
        let Some(frame) = pcap.get(at + 16..at + 16 + len) else {
            break;
        };
        at += 16 + len;
        let ip = if linktype == 1 {
            frame.get(14..)
        } else {
            Some(frame)
        };
        let Some(ip) = ip.filter(|ip| ip.len() > 20 && ip[0] >> 4 == 4 && ip[9] == 17) else {
            continue;
        };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let Some(rtp) = ip
            .get(ihl + 8..)
            .filter(|r| r.len() >= 12 && r[0] >> 6 == 2)
        else {
            continue;
        };
        // RTCP (packet types 200-204) is not audio
        if (200..=204).contains(&rtp[1]) {
            continue;
        }
        let seq = u16::from_be_bytes([rtp[2], rtp[3]]);
        let ssrc = u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]);
        let ports = (
            u16::from_be_bytes([ip[ihl], ip[ihl + 1]]),
            u16::from_be_bytes([ip[ihl + 2], ip[ihl + 3]]),
        );
        let first = i64::from(seq);
        let s = streams.entry((ssrc, ports.0, ports.1)).or_insert(Stream {
            packets: 0,
            lowest: first,
            highest: first,
            last: seq,
            last_ext: first,
        });
        // extend the 16-bit sequence number across wraps
        let ext = s.last_ext + i64::from(seq.wrapping_sub(s.last) as i16);
        s.packets += 1;
        s.lowest = s.lowest.min(ext);
        s.highest = s.highest.max(ext);
        s.last = seq;
        s.last_ext = ext;
    }
    streams.values().fold((0, 0), |(r, e), s| {
        (r + s.packets, e + (s.highest - s.lowest + 1).max(0) as u64)
    })
}

/// Every file under `dir` whose name ends in `.pcap`.
fn pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap") {
                out.push(p);
            }
        }
    }
    out
}

/// Runs `load` through Kamailio and rtpengine and prints what it measured.
pub fn run(load: &Load) -> Figures {
    let dir = tempfile::Builder::new()
        .prefix("hotline-reference-")
        .tempdir()
        .expect("temp dir");
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).expect("recording dir");
    let ng_port = free_udp_port();
    let sip_port = free_udp_port();
    let uas_port = free_udp_port();
    // rtpengine takes an RTP and an RTCP port per leg, two legs per call
    let rtp_count = (load.concurrent * 4 + 64).min(20_000) as u16;
    let rtp_min = free_port_block(rtp_count);

    let rtpengine = Daemon::spawn(
        "rtpengine",
        Command::new("rtpengine").args([
            "--foreground",
            "--log-stderr",
            "--log-level=4",
            "--table=-1",
            "--interface=127.0.0.1",
            &format!("--listen-ng=127.0.0.1:{ng_port}"),
            &format!("--port-min={rtp_min}"),
            &format!(
                "--port-max={}",
                u32::from(rtp_min) + u32::from(rtp_count) - 1
            ),
            &format!("--recording-dir={}", recordings.display()),
            "--recording-method=pcap",
            "--num-threads=2",
            "--delete-delay=0",
        ]),
        dir.path().join("rtpengine.log"),
    );
    assert!(
        answers(
            &format!("127.0.0.1:{ng_port}"),
            b"ping1 d7:command4:pinge",
            Duration::from_secs(10)
        ),
        "rtpengine does not answer a ping:\n{}",
        rtpengine.tail()
    );

    let cfg = include_str!("kamailio.cfg")
        .replace("@LISTEN@", &format!("127.0.0.1:{sip_port}"))
        .replace("@CHILDREN@", "4")
        .replace("@NG@", &ng_port.to_string())
        .replace("@UAS@", &uas_port.to_string());
    let cfg_path = dir.path().join("kamailio.cfg");
    std::fs::write(&cfg_path, cfg).expect("kamailio.cfg");
    let kamailio = Daemon::spawn(
        "kamailio",
        Command::new("kamailio").args([
            "-DD",
            "-E",
            "-f",
            &cfg_path.display().to_string(),
            "-m",
            "256",
            "-M",
            "64",
            "-w",
            &dir.path().display().to_string(),
        ]),
        dir.path().join("kamailio.log"),
    );
    let options = format!(
        "OPTIONS sip:ping@127.0.0.1:{sip_port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-ping\r\nFrom: <sip:bench@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ping-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(
        answers(
            &format!("127.0.0.1:{sip_port}"),
            options.as_bytes(),
            Duration::from_secs(10)
        ),
        "kamailio does not answer OPTIONS:\n{}",
        kamailio.tail()
    );
    let mut pids = vec![kamailio.pid(), rtpengine.pid()];
    pids.extend(children_of(kamailio.pid()));
    if load.pin {
        for pid in &pids {
            pin_to(*pid, "0");
        }
    }

    let timeout = Duration::from_secs(load.calls / load.rate.max(1) + load.hold_ms / 1000 + 120);
    let uas = Sipp::new("agent_uas.xml")
        .quiet()
        .port(uas_port)
        .key("agent", "load")
        .duration_ms(0)
        .calls(load.calls as u32)
        .timeout(timeout)
        .spawn();
    let sampler = Sampler::start(pids.clone());
    let started = Instant::now();
    let out = Sipp::new("caller.xml")
        .quiet()
        .remote(&format!("127.0.0.1:{sip_port}"))
        .service("hotline")
        .key("caller", "0600000000")
        .duration_ms(load.hold_ms)
        .calls(load.calls as u32)
        .arg("-r")
        .arg(&load.rate.to_string())
        .arg("-l")
        .arg(&load.concurrent.to_string())
        .timeout(timeout)
        .run();
    let wall = started.elapsed();
    let samples = sampler.finish();
    let _ = uas.stop();
    // rtpengine closes a call's pcap when the call is deleted (BYE)
    std::thread::sleep(Duration::from_secs(2));
    drop(kamailio);
    drop(rtpengine);

    let files = pcaps(&recordings);
    let (mut received, mut expected) = (0u64, 0u64);
    for f in &files {
        let (r, e) = rtp_counts(&std::fs::read(f).unwrap_or_default());
        received += r;
        expected += e;
    }
    let loss_pct = 100.0 * expected.saturating_sub(received) as f64 / expected.max(1) as f64;

    println!(
        "reference run (Kamailio + rtpengine, pcap recording): the same {} calls, at most {} at once, {} new calls/s, {} ms talk",
        load.calls, load.concurrent, load.rate, load.hold_ms
    );
    println!(
        "  SIPp caller exit: {:?} (timed out: {}), wall {:.1} s",
        out.status.code(),
        out.timed_out,
        wall.as_secs_f64()
    );
    println!(
        "  recorded:               {} pcap files, {:.0} s of audio in and out of the relay",
        files.len(),
        received as f64 * 0.02
    );
    println!(
        "  audio lost:             {:.3}% ({} of {} RTP packets)",
        loss_pct,
        expected.saturating_sub(received),
        expected
    );
    let (a, b) = plateau(&samples).expect("the pair never held the calls up (see the SIPp report)");
    let secs = (b.at_ms - a.at_ms) as f64 / 1000.0;
    let cpu = b.engine_cpu_s - a.engine_cpu_s;
    let machine = (b.busy - a.busy) as f64 / (b.total - a.total).max(1) as f64;
    let up = load.concurrent.min(load.calls);
    let ms = 1000.0 * cpu / secs / up as f64;
    println!("  steady state:           {up} calls up for {secs:.1} s");
    println!(
        "    Kamailio + rtpengine: {:.0}% of one core = {ms:.2} ms CPU per concurrent call-second",
        100.0 * cpu / secs
    );
    println!("    whole machine:        {:.0}% busy", 100.0 * machine);
    assert!(
        out.success(),
        "the reference stack failed calls:\n{}",
        out.report()
    );
    Figures {
        ms_per_call_second: ms,
        loss_pct,
    }
}

/// The steady state of the pair: the stretch in which rtpengine held its
/// most sockets and files (every call up), trimmed by a second at each end.
fn plateau(samples: &[Sample]) -> Option<(Sample, Sample)> {
    let most = samples.iter().map(|s| s.fds).max()?;
    let full: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.fds * 100 >= most * 99)
        .collect();
    let (first, last) = (full.first()?, full.last()?);
    let a = samples.iter().find(|s| s.at_ms >= first.at_ms + 1_000)?;
    let b = samples
        .iter()
        .rev()
        .find(|s| s.at_ms <= last.at_ms - 1_000)?;
    (b.at_ms - a.at_ms >= 2_000).then_some((*a, *b))
}
