#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! Whole-system load harness: the release `hotline` binary, SIPp agents and
//! SIPp callers, every call bridged and recorded. Prints what it measured.
//!
//! ```text
//! cargo bench --bench load                       # 200 calls, 50 at once, 20 new calls/s, 5 s each
//! LOAD_CALLS=1000 LOAD_CONCURRENT=150 LOAD_RATE=40 LOAD_HOLD_MS=8000 cargo bench --bench load
//! # steady state: one wave of 200 calls, all up for ~20 s with no signalling
//! LOAD_CALLS=200 LOAD_CONCURRENT=200 LOAD_RATE=50 LOAD_HOLD_MS=30000 cargo bench --bench load
//! LOAD_RECORD=0 ...                              # the same without recording
//! LOAD_PIN=1 ...                                 # engine on core 0, SIPp and the harness on core 1
//!                                                # (the engine starts on one core, so it sizes its workers for one)
//! HOTLINE_BIN=/tmp/hotline-old ...               # another build of the engine, to compare
//! # calls per second: short calls with media and recording, and signalling only (no RTP)
//! LOAD_CALLS=3000 LOAD_CONCURRENT=900 LOAD_RATE=300 LOAD_HOLD_MS=2000 cargo bench --bench load
//! LOAD_MEDIA=0 LOAD_RECORD=0 LOAD_CALLS=6000 LOAD_CONCURRENT=1200 LOAD_RATE=1000 LOAD_HOLD_MS=1000 cargo bench --bench load
//! LOAD_REFERENCE=1 ...                           # then the same load through Kamailio + rtpengine (benches/reference)
//! # soak: 30 minutes at 500 calls up, then `scripts/soak-plot.sh` draws the CSV
//! LOAD_SOAK=1 LOAD_CALLS=30000 LOAD_CONCURRENT=500 LOAD_RATE=17 LOAD_HOLD_MS=30000 cargo bench --bench load
//! ```
//!
//! Every run writes its time series (one row a second: calls up, engine
//! CPU, resident memory, file descriptors, threads) to `LOAD_CSV`
//! (default `target/load/run-<epoch>.csv`). With `LOAD_SOAK=1` the run
//! also fails unless, while the most calls were up, the engine's memory
//! grew less than 5 % and its file descriptors and threads did not grow
//! between the tenth of the plateau after the warm-up and the plateau's last
//! tenth. The warm-up ends at 25 % of the plateau but never before the live
//! KPIs' horizon (17 minutes after the first call: `KPI_HORIZON_MS`), while
//! the KPIs still fill by design; a shorter soak has its memory printed, not
//! judged.
//!
//! CPU is sampled every 200 ms (the engine from /proc/PID/stat, the whole
//! machine from /proc/stat). Besides the average over the whole run (ramps
//! and signalling included) the harness reports the **steady state**: the
//! longest stretch in which the most calls were up and no call arrived,
//! was answered or ended (from the CDRs, 1 s trimmed at each end), as CPU
//! per concurrent call-second. Only a run whose calls all overlap has one:
//! `LOAD_CALLS = LOAD_CONCURRENT` and `LOAD_HOLD_MS` well above
//! `LOAD_CALLS / LOAD_RATE` seconds.
//!
//! Agents: one SIPp UAS registers `LOAD_CONCURRENT + 10` agents from one port
//! and answers every offer at once, streaming a 440 Hz tone; callers stream
//! 1000 Hz. Afterwards the harness reads the CDRs, counts recordings and checks
//! the tones in a sample of them, so a run that "succeeds" with broken audio
//! does not print a figure.

#[path = "../tests/common/mod.rs"]
mod common;
mod reference;

use common::*;
use hotline_core::Outcome;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Busy and total jiffies of the whole machine (all cores), from /proc/stat.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle and iowait are the 4th and 5th
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle.min(total), total)
}

/// Moves every thread of `pid` to the CPUs `cpus` (threads started later
/// inherit it from their creator).
fn pin_to(pid: u32, cpus: &str) {
    let ok = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset could not pin {pid} to CPU {cpus} (util-linux)");
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One CPU sample: when (epoch ms), the engine's CPU seconds, the machine's
/// busy and total jiffies.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_ms: i64,
    engine_cpu_s: f64,
    /// The engine's resident memory now (VmRSS), KiB.
    rss_kib: f64,
    /// The engine's open file descriptors.
    fds: u64,
    /// The engine's threads.
    threads: u64,
    busy: u64,
    total: u64,
}

/// Samples CPU, memory, descriptors and threads of some processes (summed)
/// every 200 ms until stopped.
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(pids: Vec<u32>) -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let (busy, total) = machine_jiffies();
                out.push(Sample {
                    at_ms: epoch_ms(),
                    engine_cpu_s: pids.iter().map(|p| cpu_and_rss(*p).0).sum(),
                    rss_kib: pids.iter().map(|p| status_kib(*p, "VmRSS:")).sum(),
                    fds: pids
                        .iter()
                        .map(|p| {
                            std::fs::read_dir(format!("/proc/{p}/fd"))
                                .map_or(0, |d| d.count() as u64)
                        })
                        .sum(),
                    threads: pids.iter().map(|p| status_kib(*p, "Threads:") as u64).sum(),
                    busy,
                    total,
                });
                std::thread::sleep(Duration::from_millis(200));
            }
            out
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> Vec<Sample> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Removes closed recordings (WAV files untouched for 30 s) during a soak,
/// keeping one in a hundred.
struct Pruner {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl Pruner {
    fn start(root: std::path::PathBuf) -> Pruner {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut removed, mut kept) = (0u64, 0u64);
            let mut seen = std::collections::HashSet::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let mut stack = vec![root.clone()];
                while let Some(dir) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let path = e.path();
                        if path.is_dir() {
                            stack.push(path);
                            continue;
                        }
                        let closed = path.extension().is_some_and(|x| x == "wav")
                            && e.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
                                t.elapsed().unwrap_or_default() > Duration::from_secs(30)
                            });
                        if !closed || !seen.insert(path.clone()) {
                            continue;
                        }
                        if (removed + kept) % 100 == 0 {
                            kept += 1;
                        } else if std::fs::remove_file(&path).is_ok() {
                            removed += 1;
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
            }
            (removed, kept)
        });
        Pruner { stop, thread }
    }

    fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// When each answered call was bridged: (answered, ended) epoch ms, sorted.
fn bridged_spans(answered: &[&hotline_store::Cdr]) -> Vec<(i64, i64)> {
    let mut up: Vec<(i64, i64)> = answered
        .iter()
        .filter_map(|c| Some((c.agent_answered_ms?, c.ended_ms.unwrap_or(i64::MAX))))
        .collect();
    up.sort_unstable();
    up
}

/// Calls bridged at `t` (epoch ms).
fn calls_up_at(spans: &[(i64, i64)], t: i64) -> usize {
    spans
        .iter()
        .take_while(|(a, _)| *a <= t)
        .filter(|(_, e)| *e > t)
        .count()
}

/// Writes one row a second: seconds since the start, calls bridged,
/// engine CPU (% of one core over that second), RSS MiB, fds, threads.
fn write_series(path: &str, samples: &[Sample], spans: &[(i64, i64)]) {
    let Some(first) = samples.first() else { return };
    let mut out = String::from("t_s,calls_up,cpu_pct,rss_mib,fds,threads\n");
    let mut prev = *first;
    for s in samples.iter().skip(1) {
        if s.at_ms - prev.at_ms < 1_000 {
            continue;
        }
        let calls = calls_up_at(spans, s.at_ms);
        let cpu =
            100.0 * (s.engine_cpu_s - prev.engine_cpu_s) * 1000.0 / (s.at_ms - prev.at_ms) as f64;
        out.push_str(&format!(
            "{:.0},{calls},{cpu:.1},{:.1},{},{}\n",
            (s.at_ms - first.at_ms) as f64 / 1000.0,
            s.rss_kib / 1024.0,
            s.fds,
            s.threads
        ));
        prev = *s;
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(path, out).expect("write the time series");
}

/// How long the engine's memory keeps filling by design after the first
/// call: the live KPIs keep every call of the last
/// [`hotline_metrics::kpi::DETAIL_MS`] (16 minutes) in detail and fold
/// older ones by the minute, every [`hotline_api::engine::TIDY_EVERY`]. A
/// soak's warm-up ends no earlier, so its growth is the steady state's.
const KPI_HORIZON_MS: i64 =
    hotline_metrics::kpi::DETAIL_MS + hotline_api::engine::TIDY_EVERY.as_millis() as i64;

/// The soak's verdict on the plateau (the samples with at least 95 % of
/// the calls up most of the time, their 90th percentile): memory, descriptors and threads after its warm-up
/// against its end (the last 10 %). The warm-up ends at 25 % of the plateau
/// or at [`KPI_HORIZON_MS`] after the first call, whichever is later, and
/// the reference is the tenth of the plateau that follows it (memory
/// filling by design until the horizon is the warm-up, not growth); a
/// plateau too short for that still gets its
/// descriptors and threads judged, and its memory growth printed, not
/// judged. Fails loudly on growth.
fn soak_verdict(samples: &[Sample], spans: &[(i64, i64)]) {
    let ups: Vec<usize> = samples
        .iter()
        .map(|s| calls_up_at(spans, s.at_ms))
        .collect();
    // the calls up most of the time: the 90th percentile, so that a
    // moment's spike (two waves of short calls overlapping) does not
    // leave a plateau of one sample
    let mut sorted = ups.clone();
    sorted.sort_unstable();
    let most = sorted.get(sorted.len() * 9 / 10).copied().unwrap_or(0);
    let plateau: Vec<Sample> = samples
        .iter()
        .zip(&ups)
        .filter(|(_, up)| **up * 100 >= most * 95 && most > 0)
        .map(|(s, _)| *s)
        .collect();
    let (Some(a), Some(b)) = (plateau.first(), plateau.last()) else {
        panic!("no plateau of calls up: nothing to judge")
    };
    let span = (b.at_ms - a.at_ms).max(1) as f64;
    let window = |from: f64, to: f64| -> Vec<Sample> {
        plateau
            .iter()
            .filter(|s| {
                let f = (s.at_ms - a.at_ms) as f64 / span;
                f >= from && f <= to
            })
            .copied()
            .collect()
    };
    let first_call = spans.iter().map(|s| s.0).min().unwrap_or(a.at_ms);
    let horizon = (first_call + KPI_HORIZON_MS - a.at_ms) as f64 / span;
    let warm_end = horizon.max(0.25);
    let judged = warm_end <= 0.8;
    let (warm, end) = if judged {
        (window(warm_end, warm_end + 0.1), window(0.9, 1.0))
    } else {
        (window(0.25, 0.35), window(0.9, 1.0))
    };
    assert!(
        !warm.is_empty() && !end.is_empty(),
        "run too short for a soak"
    );
    let mean = |w: &[Sample]| w.iter().map(|s| s.rss_kib).sum::<f64>() / w.len() as f64;
    let top = |w: &[Sample], f: fn(&Sample) -> u64| w.iter().map(f).max().unwrap_or(0);
    let growth = 100.0 * (mean(&end) - mean(&warm)) / mean(&warm).max(1.0);
    let (fd0, fd1) = (top(&warm, |s| s.fds), top(&end, |s| s.fds));
    let (th0, th1) = (top(&warm, |s| s.threads), top(&end, |s| s.threads));
    println!(
        "  soak:                   plateau of {most} calls for {:.0} s; RSS {:.1} -> {:.1} MiB ({growth:+.1} %), fds {fd0} -> {fd1}, threads {th0} -> {th1}",
        span / 1000.0,
        mean(&warm) / 1024.0,
        mean(&end) / 1024.0
    );
    if judged {
        println!(
            "    warm-up:              until {:.0} s into the plateau (the KPIs' {} min horizon after the first call)",
            warm_end * span / 1000.0,
            KPI_HORIZON_MS / 60_000
        );
        assert!(
            growth < 5.0,
            "resident memory grew {growth:.1} % after the warm-up"
        );
    } else {
        println!(
            "    memory not judged:    the plateau ends before the KPIs' {} min horizon after the first call (the live KPIs still fill by design)",
            KPI_HORIZON_MS / 60_000
        );
    }
    // the same calls up hold the same sockets and files; a few for the
    // calls being set up or sealed at that instant
    assert!(
        fd1 <= fd0 + fd0 / 20 + 8,
        "file descriptors grew: {fd0} -> {fd1}"
    );
    assert!(th1 <= th0 + 4, "threads grew: {th0} -> {th1}");
}

/// The steady state of a run: the longest stretch between two signalling
/// instants (a call arriving, answered by the system or an agent, ending)
/// in which the most calls were bridged, trimmed by `margin_ms` at each end.
/// Returns (from, to, calls up).
fn steady_window(cdrs: &[hotline_store::Cdr], margin_ms: i64) -> Option<(i64, i64, u64)> {
    let mut instants: Vec<i64> = cdrs
        .iter()
        .flat_map(|c| {
            [
                Some(c.arrived_ms),
                c.system_answered_ms,
                c.agent_answered_ms,
                c.ended_ms,
            ]
        })
        .flatten()
        .collect();
    instants.sort_unstable();
    instants.dedup();
    let up_at = |t: i64| {
        cdrs.iter()
            .filter(|c| {
                c.agent_answered_ms.is_some_and(|a| a <= t) && c.ended_ms.is_none_or(|e| e > t)
            })
            .count() as u64
    };
    let stretches: Vec<(i64, i64, u64)> = instants
        .windows(2)
        .map(|w| (w[0] + margin_ms, w[1] - margin_ms, up_at(w[0])))
        .filter(|(a, b, _)| b - a >= 2_000)
        .collect();
    let most = stretches.iter().map(|s| s.2).max()?;
    stretches
        .into_iter()
        .filter(|s| s.2 == most && most > 0)
        .max_by_key(|s| s.1 - s.0)
}

/// A number field of `/proc/PID/status` (`VmRSS:` and `VmHWM:` are in KiB,
/// `Threads:` a count), 0 if unreadable.
fn status_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// (user+system CPU seconds, peak RSS in MiB) of a process.
fn cpu_and_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the parenthesised command name
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let hwm_kib = status_kib(pid, "VmHWM:");
    (cpu, hwm_kib / 1024.0)
}

fn main() {
    for p in ["sipp", "sox"] {
        assert!(
            have(p),
            "{p} is not installed: run scripts/test.sh once (it installs the peers)"
        );
    }
    let calls = env("LOAD_CALLS", 200);
    let concurrent = env("LOAD_CONCURRENT", 50);
    let rate = env("LOAD_RATE", 20);
    let hold_ms = env("LOAD_HOLD_MS", 5000);
    let record = env("LOAD_RECORD", 1) != 0;
    // LOAD_MEDIA=0: signalling only, no RTP from either side (calls per second)
    let media = env("LOAD_MEDIA", 1) != 0;
    let (caller_xml, agent_xml) = if media {
        ("caller.xml", "agent_uas.xml")
    } else {
        ("caller_signalling.xml", "agent_uas_signalling.xml")
    };
    let pin = env("LOAD_PIN", 0) != 0;
    // the machine's cores, counted before the harness pins itself
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if pin {
        // the harness and every SIPp it starts inherit core 1
        pin_to(std::process::id(), "1");
    }
    let agents = concurrent + 10;
    // an RTP and an RTCP port per leg, two legs per call, and calls that
    // ended keep theirs a moment: short calls at a high rate need more
    // than the calls up suggest
    let media_ports = env("LOAD_MEDIA_PORTS", (agents * 12 + 64).min(12_000))
        .next_multiple_of(2)
        .min(30_000) as u16;

    let mut extra = String::new();
    for i in 0..agents {
        extra.push_str(&format!(
            "[[agents]]\nid = \"{}\"\npassword = \"load{}\"\n\n",
            5000 + i,
            5000 + i
        ));
    }
    let h = Hotline::start_with(HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 4000,
        ring_timeout_ms: 5000,
        extra_toml: extra,
        media_ports,
        // one SIPp sends every caller's datagrams and one every agent's:
        // the per-source flood limit (500 a second) would cap a run at
        // about 150 calls a second
        sip_toml: "rate_limit_per_source = 1000000\n".into(),
        env: vec![("HOTLINE_LOG".into(), "warn".into())],
        record,
        ..HotlineOptions::default()
    });
    let pid = h.pid().expect("hotline pid");
    if pin {
        pin_to(pid, "0");
        println!("pinned: hotline on core 0, SIPp and the harness on core 1");
    }

    // all agents register from one port; one UAS answers for all of them
    let agent_port = free_udp_port();
    let lines: Vec<String> = (0..agents)
        .map(|i| credentials_line(&(5000 + i).to_string(), &format!("load{}", 5000 + i)))
        .collect();
    Sipp::new("agent_register.xml")
        .remote(&h.addr())
        .port(agent_port)
        .inf_lines(&lines)
        .calls(agents as u32)
        .arg("-r")
        .arg("100")
        .timeout(Duration::from_secs(60))
        .run()
        .assert_success("agents register");
    let uas = Sipp::new(agent_xml)
        .quiet()
        .port(agent_port)
        .key("agent", "load")
        .duration_ms(0)
        .calls(calls as u32)
        .timeout(Duration::from_secs(
            calls / rate.max(1) + hold_ms / 1000 + 120,
        ))
        .spawn();

    let soak = env("LOAD_SOAK", 0) != 0;
    // a soak records more than the disk holds (500 calls for 30 min are
    // 29 GB of WAV): closed recordings are removed as it goes, but one in
    // a hundred, for the tone check; every call's recording is still
    // checked through its CDR (sealed, with its SHA-256) and its
    // `recording_closed` event (gaps)
    let pruner = soak.then(|| Pruner::start(h.recordings_dir()));
    let (cpu0, _) = cpu_and_rss(pid);
    let sampler = Sampler::start(vec![pid]);
    let started = Instant::now();
    let out = Sipp::new(caller_xml)
        .quiet()
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0600000000")
        .duration_ms(hold_ms)
        .calls(calls as u32)
        .arg("-r")
        .arg(&rate.to_string())
        .arg("-l")
        .arg(&concurrent.to_string())
        // every INVITE -> 200 time, for the percentiles
        .arg("-trace_rtt")
        .arg("-rtt_freq")
        .arg("1")
        .timeout(Duration::from_secs(
            calls / rate.max(1) + hold_ms / 1000 + 120,
        ))
        .run();
    let wall = started.elapsed();
    let (cpu1, rss) = cpu_and_rss(pid);
    let samples = sampler.finish();
    let _ = uas.stop();
    if let Some(p) = pruner {
        let (removed, kept) = p.finish();
        println!("  soak pruning:           {removed} closed recordings removed, {kept} kept for the tone check");
    }

    // the books: every call's CDR and recording
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = format!("sqlite://{}", h.db_path().display());
    let mut cdrs = Vec::new();
    let mut events = Vec::new();
    wait_until(Duration::from_secs(30), || {
        (cdrs, events) = rt.block_on(async {
            let s = hotline_store::Store::connect(&url).await.expect("db");
            let c = s.recent_cdrs(1_000_000).await.expect("cdrs");
            let e = s
                .events_between(0, i64::MAX, 10_000_000)
                .await
                .expect("events");
            s.close().await;
            (c, e)
        });
        cdrs.len() as u64 >= calls
    });
    // audio lost anywhere (network, relay, recorder) shows as gaps in the recordings
    let (mut gappy, mut gaps, mut gap_samples, mut rec_samples) = (0u64, 0u64, 0u64, 0u64);
    for e in &events {
        if let hotline_core::EventKind::RecordingClosed {
            gaps: g,
            gap_samples: gs,
            samples,
            ..
        } = &e.kind
        {
            gappy += u64::from(*g > 0);
            gaps += u64::from(*g);
            gap_samples += gs;
            rec_samples += samples;
        }
    }
    // why calls were turned away, if any were
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        if let hotline_core::EventKind::Rejected { status, reason } = &e.kind {
            *rejected.entry(format!("{status} {reason}")).or_default() += 1;
        }
    }
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for c in &cdrs {
        *outcomes
            .entry(format!("{:?}", c.outcome.unwrap_or(Outcome::Failed)))
            .or_default() += 1;
    }
    let answered: Vec<_> = cdrs
        .iter()
        .filter(|c| c.outcome == Some(Outcome::Answered))
        .collect();
    let recorded = answered
        .iter()
        .filter(|c| c.recording_sha256.is_some())
        .count();
    // most calls bridged at the same moment, from the CDRs
    let mut edges: Vec<(i64, i64)> = answered
        .iter()
        .filter_map(|c| Some([(c.agent_answered_ms?, 1), (c.ended_ms?, -1)]))
        .flatten()
        .collect();
    edges.sort_unstable();
    let peak = edges.iter().scan(0i64, |n, (_, d)| {
        *n += d;
        Some(*n)
    });
    let peak = peak.max().unwrap_or(0);
    let mut waits: Vec<i64> = answered.iter().filter_map(|c| c.wait_ms).collect();
    waits.sort_unstable();
    let pct = |p: f64| {
        waits
            .get(((waits.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };

    // audio check on a sample: left 1000 Hz, right 440 Hz
    let mut audio_ok = 0;
    let present: Vec<_> = answered
        .iter()
        .filter(|c| {
            media
                && c.recording_path
                    .as_ref()
                    .is_some_and(|rel| h.recordings_dir().join(rel).is_file())
        })
        .collect();
    let sample: Vec<_> = present
        .iter()
        .step_by((present.len() / 10).max(1))
        .collect();
    for c in &sample {
        let Some(rel) = &c.recording_path else {
            continue;
        };
        let wav = Wav::read(&h.recordings_dir().join(rel));
        let (l, r) = (wav.channel(0), wav.channel(1));
        let cl = tone_coverage(&l, 8000, CALLER_TONE_HZ, TONES);
        let cr = tone_coverage(&r, 8000, AGENT_TONE_HZ, TONES);
        if cl > 0.8 && cr > 0.8 {
            audio_ok += 1;
        } else {
            println!(
                "  {rel}: caller tone in {:.0}% of 100 ms windows, agent tone in {:.0}%",
                cl * 100.0,
                cr * 100.0
            );
        }
    }

    println!("hotline load run: {calls} calls, at most {concurrent} at once, {rate} new calls/s, {hold_ms} ms talk, {cores} cores");
    println!(
        "  SIPp caller exit: {:?} (timed out: {})",
        out.status.code(),
        out.timed_out
    );
    println!("  wall time:              {:.1} s", wall.as_secs_f64());
    println!("  CDR outcomes:           {outcomes:?}");
    if !rejected.is_empty() {
        println!("  rejected because:       {rejected:?}");
    }
    println!(
        "  answered and recorded:  {} / {}",
        recorded,
        answered.len()
    );
    println!(
        "  peak concurrent bridged{} calls: {peak}",
        if record { " and recorded" } else { "" }
    );
    println!(
        "  wait to answer (ms):    p50 {} p95 {} max {}",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
    // INVITE -> 200 as the callers saw it (SIPp's response times)
    let mut rtts: Vec<f64> = out
        .trace_file("_rtt.csv")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(';').nth(1)?.trim().parse().ok())
        .collect();
    rtts.sort_by(f64::total_cmp);
    let rtt = |p: f64| {
        rtts.get(((rtts.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "  INVITE -> 200 (ms):     p50 {:.1} p99 {:.1} max {:.1} ({} calls)",
        rtt(0.5),
        rtt(0.99),
        rtt(1.0),
        rtts.len()
    );
    // the rate the calls really arrived at, from the CDRs
    let (first, last) = cdrs.iter().fold((i64::MAX, i64::MIN), |(a, b), c| {
        (a.min(c.arrived_ms), b.max(c.arrived_ms))
    });
    if cdrs.len() > 1 && last > first {
        println!(
            "  calls per second:       {:.0} arrived and {:.0} answered per second ({} calls in {:.1} s)",
            (cdrs.len() - 1) as f64 * 1000.0 / (last - first) as f64,
            (answered.len().saturating_sub(1)) as f64 * 1000.0 / (last - first) as f64,
            cdrs.len(),
            (last - first) as f64 / 1000.0
        );
    }
    println!(
        "  recordings with both tones: {audio_ok} of {} sampled",
        sample.len()
    );
    println!(
        "  audio lost:             {gappy} recordings with gaps, {gaps} gaps, {:.3}% of {:.0} s recorded",
        100.0 * gap_samples as f64 / (2 * rec_samples).max(1) as f64,
        rec_samples as f64 / 8000.0
    );
    println!(
        "  hotline CPU:            {:.1} s over {:.1} s = {:.0}% of one core ({:.2} ms CPU per call)",
        cpu1 - cpu0,
        wall.as_secs_f64(),
        100.0 * (cpu1 - cpu0) / wall.as_secs_f64(),
        1000.0 * (cpu1 - cpu0) / calls as f64
    );
    println!("  hotline peak RSS:       {rss:.0} MiB");
    let steady = steady_window(&cdrs, 1_000).and_then(|(from, to, up)| {
        let a = samples.iter().find(|s| s.at_ms >= from)?;
        let b = samples.iter().rev().find(|s| s.at_ms <= to)?;
        (b.at_ms - a.at_ms >= 1_000).then_some((*a, *b, up))
    });
    let mut hotline_steady = None;
    match steady {
        Some((a, b, up)) => {
            let secs = (b.at_ms - a.at_ms) as f64 / 1000.0;
            let engine = b.engine_cpu_s - a.engine_cpu_s;
            let machine = (b.busy - a.busy) as f64 / (b.total - a.total).max(1) as f64;
            println!(
                "  steady state:           {up} calls up, no signalling, for {secs:.1} s (recording {})",
                if record { "on" } else { "off" }
            );
            println!(
                "    hotline CPU:          {:.0}% of one core = {:.2} ms CPU per concurrent call-second",
                100.0 * engine / secs,
                1000.0 * engine / secs / up as f64
            );
            hotline_steady = Some(1000.0 * engine / secs / up as f64);
            println!(
                "    whole machine:        {:.0}% of {cores} cores busy (hotline, SIPp and everything else)",
                100.0 * machine
            );
            // memory: the engine before the first call (agents registered)
            // against its mean over the steady window
            let idle = samples.first().map_or(0.0, |s| s.rss_kib);
            let window: Vec<f64> = samples
                .iter()
                .filter(|s| s.at_ms >= a.at_ms && s.at_ms <= b.at_ms)
                .map(|s| s.rss_kib)
                .collect();
            let held = window.iter().sum::<f64>() / window.len().max(1) as f64;
            println!(
                "    memory:               {:.1} MiB idle, {:.1} MiB with {up} calls up = {:.1} KiB per call (recording buffers included)",
                idle / 1024.0,
                held / 1024.0,
                (held - idle) / up as f64
            );
        }
        None => println!(
            "  steady state:           none (calls kept arriving and ending); run one wave: LOAD_CALLS = LOAD_CONCURRENT, LOAD_HOLD_MS well above LOAD_CALLS / LOAD_RATE s"
        ),
    }
    let csv = std::env::var("LOAD_CSV").unwrap_or_else(|_| {
        format!(
            "{}/load/run-{}.csv",
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
            epoch_ms() / 1000
        )
    });
    let spans = bridged_spans(&answered);
    write_series(&csv, &samples, &spans);
    println!("  time series:            {csv}");
    if soak {
        soak_verdict(&samples, &spans);
    }
    assert_eq!(
        answered.len() as u64,
        calls,
        "every call answered: {outcomes:?}\n{}",
        out.report()
    );
    if record {
        assert_eq!(recorded, answered.len(), "every answered call recorded");
    }
    if record && media {
        assert_eq!(
            audio_ok,
            sample.len(),
            "sampled recordings carry both voices"
        );
    }
    if env("LOAD_REFERENCE", 0) != 0 {
        // the engine is done: the pair gets the machine to itself
        drop(h);
        let pair = reference::run(&reference::Load {
            calls,
            concurrent,
            rate,
            hold_ms,
            pin,
        });
        let ours = hotline_steady
            .expect("no steady state to compare: run one wave (LOAD_CALLS = LOAD_CONCURRENT)");
        let lost = 100.0 * gap_samples as f64 / (2 * rec_samples).max(1) as f64;
        println!("side by side (steady state, CPU per concurrent call-second, audio lost):");
        println!("  hotline                 {ours:.2} ms   {lost:.3}%");
        println!(
            "  Kamailio + rtpengine    {:.2} ms   {:.3}%",
            pair.ms_per_call_second, pair.loss_pct
        );
        println!(
            "  ratio hotline / pair:   {:.2}",
            ours / pair.ms_per_call_second.max(1e-9)
        );
    }
}
