//! Shared harness for hotline's end-to-end tests against real SIP peers.
//!
//! Include it from an integration test with `mod common;` (from `tests/x.rs`)
//! or `#[path = "../common/mod.rs"] mod common;` (from `tests/dir/main.rs`).
//!
//! * ports: [`free_udp_port`], [`free_port_pair`], [`free_media_port`], [`free_port_block`]
//! * the binary under test: [`Hotline`] (temp config + data dir, ready line, kill on drop)
//! * SIPp: [`Sipp`] builder -> [`SippOutput`] / [`SippProcess`] (scenarios in tests/peers)
//! * baresip: [`Baresip`] (headless config dir, agent or caller, dumped WAVs)
//! * RTP: [`RtpSink`] (a port a SIPp scenario can advertise in its SDP)
//! * audio: [`Wav`], [`goertzel_power`], [`dominant_tone`], [`channel`], [`rms`]
//! * SIP traces: [`sip_messages`], [`challenge_fingerprint`]
//!
//! Everything prints the peers' logs when a test fails (on panic or via the
//! `assert_*` helpers), so a red test says why.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// paths and small utilities
// ---------------------------------------------------------------------------

/// `tests/peers`: SIPp scenarios, injection files and tone WAVs.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Polls `f` every 20 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Fails the test with a hint when a SIP peer or sox is not installed.
pub fn need_peers() {
    for p in ["sipp", "baresip", "sox"] {
        assert!(
            have(p),
            "{p} is not installed: run scripts/test.sh (it installs the peers)"
        );
    }
}

/// True when the program is on PATH (lets a test skip with a message instead
/// of failing obscurely; scripts/test.sh installs the peers).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Sends SIGTERM to a child and waits up to `grace`, then SIGKILLs it.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Shared text buffer filled by a reader thread (a child's stdout/stderr).
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<String>>);

impl LogBuf {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
    pub fn contains(&self, needle: &str) -> bool {
        self.0.lock().unwrap().contains(needle)
    }
    fn push_line(&self, line: &str) {
        let mut s = self.0.lock().unwrap();
        s.push_str(line);
        s.push('\n');
    }
}

/// Copies a child stream into `buf` line by line; every line also goes to
/// `lines` (if given) so a caller can wait for a specific one.
fn pump<R: Read + Send + 'static>(
    stream: R,
    buf: LogBuf,
    lines: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&raw);
                    let line = line.trim_end_matches(['\n', '\r']);
                    buf.push_line(line);
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.to_string());
                    }
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------
// ports
// ---------------------------------------------------------------------------

/// Ports handed out by this test process, never handed out twice.
fn taken() -> &'static Mutex<HashSet<u16>> {
    static TAKEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    TAKEN.get_or_init(|| Mutex::new(HashSet::new()))
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

fn tcp_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Finds `count` consecutive ports starting at a multiple of `align`, all free
/// on UDP (and TCP when `tcp`), none handed out before by this process.
fn reserve(count: u16, align: u16, tcp: bool) -> u16 {
    // Below the kernel's ephemeral range (32768-60999 by default): ports
    // handed out here are never taken meanwhile by a peer binding port 0.
    const LOW: u32 = 10_000;
    const HIGH: u32 = 32_000;
    static NEXT: OnceLock<Mutex<u32>> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let seed = std::process::id().wrapping_mul(7919)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
        Mutex::new(LOW + seed % (HIGH - LOW))
    });
    for _ in 0..4000 {
        let candidate = {
            let mut n = next.lock().unwrap();
            let c = *n;
            *n = if *n + u32::from(count) + 8 >= HIGH {
                LOW
            } else {
                *n + u32::from(count) + 1
            };
            c
        };
        let base = (candidate - candidate % u32::from(align)) as u16;
        if u32::from(base) < LOW || u32::from(base) + u32::from(count) > HIGH {
            continue;
        }
        let mut taken = taken().lock().unwrap();
        let ok = (base..base + count)
            .all(|q| !taken.contains(&q) && udp_free(q) && (!tcp || tcp_free(q)));
        if ok {
            taken.extend(base..base + count);
            return base;
        }
    }
    panic!("no free block of {count} ports on 127.0.0.1");
}

/// Whether some process has a UDP socket or a TCP listener on local `port`
/// (from /proc/net, IPv4 and IPv6), without binding it.
pub fn socket_bound(port: u16) -> bool {
    let hex = format!(":{port:04X}");
    [
        "/proc/net/udp",
        "/proc/net/udp6",
        "/proc/net/tcp",
        "/proc/net/tcp6",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(f).ok())
    .any(|table| {
        table.lines().skip(1).any(|l| {
            let mut cols = l.split_whitespace();
            let local = cols.nth(1).unwrap_or_default();
            let state = cols.nth(1).unwrap_or_default();
            // UDP sockets show 07 (unconnected), TCP listeners 0A
            local.ends_with(&hex) && (state == "07" || state == "0A")
        })
    })
}

/// A port free on both UDP and TCP (SIP listens on both).
pub fn free_udp_port() -> u16 {
    reserve(1, 1, true)
}

/// An even port `p` with `p + 1` also free: RTP + RTCP.
pub fn free_port_pair() -> (u16, u16) {
    let p = reserve(2, 2, false);
    (p, p + 1)
}

/// A port for SIPp's `-mp`: SIPp 3.6.1 binds `p` (audio) and `p + 2` (video)
/// for every run, so four ports are reserved.
pub fn free_media_port() -> u16 {
    reserve(4, 4, false)
}

/// `count` consecutive free UDP ports starting at an even port (engine media range).
pub fn free_port_block(count: u16) -> u16 {
    reserve(count, 2, false)
}

// ---------------------------------------------------------------------------
// the hotline binary
// ---------------------------------------------------------------------------

pub const CONFIG_TEMPLATE: &str = include_str!("hotline.test.toml");
pub const HOTLINE_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Knobs rendered into [`CONFIG_TEMPLATE`].
#[derive(Clone, Debug)]
pub struct HotlineOptions {
    pub ring_on_ms: u64,
    pub ring_off_ms: u64,
    pub ring_timeout_ms: u64,
    /// Free TOML appended at the end of the config.
    pub extra_toml: String,
    /// Extra command-line arguments after `serve --config --sip --data`.
    pub extra_args: Vec<String>,
    /// Extra environment, e.g. `("HOTLINE_LOG", "debug")`.
    pub env: Vec<(String, String)>,
    /// Size of the engine's RTP port range (two ports per call).
    pub media_ports: u16,
    /// `acd.auto_pause_after_misses` (0 = off).
    pub auto_pause_after_misses: u32,
    /// TOML lines inside `[acd]` (e.g. `transfer_queue = "leaders"`).
    pub acd_toml: String,
    /// `hotline.record` (false: only on request).
    pub record: bool,
    /// Greeting WAV instead of the shipped 9.5 s one (IVR tests want short).
    pub greeting: Option<PathBuf>,
    /// TOML lines inside `[hotline]` (e.g. `vip = ["+861*"]`).
    pub hotline_toml: String,
    /// `http.api_token` (agent control endpoints).
    pub api_token: String,
    /// TOML lines inside `[http]` (e.g. `tls_cert = "..."`).
    pub http_toml: String,
    /// TOML lines inside `[prompts]` (e.g. `silent_line = "/tmp/x.wav"`).
    pub prompts_toml: String,
    /// TOML lines inside `[line_test]` (default `enabled = false`).
    pub line_test_toml: String,
    /// TOML lines inside `[sip]` (e.g. `min_se_s = 2`).
    pub sip_toml: String,
    /// TOML lines inside `[storage]` (e.g. `database_url = "postgres://..."`).
    pub storage_toml: String,
    /// TOML lines inside `[media]` (e.g. `srtp_allow_without_tls = true`).
    pub media_toml: String,
    /// The SIP port to listen on (e.g. one a proxy's config already names);
    /// None = a free one.
    pub sip_port: Option<u16>,
}

impl Default for HotlineOptions {
    fn default() -> Self {
        Self {
            ring_on_ms: 200,
            ring_off_ms: 300,
            ring_timeout_ms: 3000,
            extra_toml: String::new(),
            extra_args: Vec::new(),
            env: vec![("HOTLINE_LOG".into(), "info,rsipstack=warn,sqlx=warn".into())],
            media_ports: 64,
            auto_pause_after_misses: 0,
            acd_toml: String::new(),
            record: true,
            greeting: None,
            hotline_toml: String::new(),
            api_token: "test-token".into(),
            http_toml: String::new(),
            prompts_toml: String::new(),
            line_test_toml: "enabled = false".into(),
            sip_toml: String::new(),
            storage_toml: String::new(),
            media_toml: String::new(),
            sip_port: None,
        }
    }
}

impl HotlineOptions {
    /// When the engine answers by itself: end of the third ring.
    pub fn system_answer_after(&self) -> Duration {
        Duration::from_millis(3 * self.ring_on_ms + 2 * self.ring_off_ms)
    }
}

/// A running `hotline serve`, killed (and its logs printed if the test is
/// failing) on drop. The temp dir holds `hotline.toml` and `data/`.
pub struct Hotline {
    child: Option<Child>,
    pub sip_port: u16,
    pub media_port_min: u16,
    pub media_port_max: u16,
    pub options: HotlineOptions,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    stdout: LogBuf,
    stderr: LogBuf,
    readers: Vec<JoinHandle<()>>,
    reported: bool,
}

/// Renders the template: `{{key}}` -> value.
pub fn render_config(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(
        !out.contains("{{"),
        "unrendered placeholder in test config:\n{out}"
    );
    out
}

impl Hotline {
    /// Path of the binary under test: `HOTLINE_BIN` when set (the load
    /// bench compares two builds that way), else the one cargo built.
    pub fn binary() -> PathBuf {
        std::env::var_os("HOTLINE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hotline")))
    }

    /// Starts with the default test options (ring 200/300 ms -> system answer
    /// after 1.2 s; agent ring timeout 3 s).
    pub fn start() -> Self {
        Self::start_with(HotlineOptions::default())
    }

    pub fn start_with(options: HotlineOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hotline-e2e-")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let sip_port = options.sip_port.unwrap_or_else(free_udp_port);
        let media_port_min = free_port_block(options.media_ports);
        let media_port_max = media_port_min + options.media_ports - 1;
        let config = render_config(
            CONFIG_TEMPLATE,
            &[
                ("sip_port", sip_port.to_string()),
                ("data_dir", data_dir.display().to_string()),
                (
                    "recordings_dir",
                    data_dir.join("recordings").display().to_string(),
                ),
                (
                    "prompts_dir",
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("config/prompts")
                        .display()
                        .to_string(),
                ),
                ("ring_on_ms", options.ring_on_ms.to_string()),
                ("ring_off_ms", options.ring_off_ms.to_string()),
                ("ring_timeout_ms", options.ring_timeout_ms.to_string()),
                (
                    "auto_pause_after_misses",
                    options.auto_pause_after_misses.to_string(),
                ),
                ("media_port_min", media_port_min.to_string()),
                ("media_port_max", media_port_max.to_string()),
                // the config may name the hotline itself (a trunk pointing back at it)
                (
                    "extra",
                    options
                        .extra_toml
                        .replace("{{sip_port}}", &sip_port.to_string()),
                ),
                ("hotline_extra", options.hotline_toml.clone()),
                ("acd_extra", options.acd_toml.clone()),
                ("record", options.record.to_string()),
                ("api_token", options.api_token.clone()),
                ("http_extra", options.http_toml.clone()),
                ("prompts_extra", options.prompts_toml.clone()),
                ("line_test_extra", options.line_test_toml.clone()),
                ("sip_extra", options.sip_toml.clone()),
                ("storage_extra", options.storage_toml.clone()),
                ("media_extra", options.media_toml.clone()),
                (
                    "greeting",
                    options
                        .greeting
                        .clone()
                        .unwrap_or_else(|| {
                            Path::new(env!("CARGO_MANIFEST_DIR"))
                                .join("config/prompts/greeting.wav")
                        })
                        .display()
                        .to_string(),
                ),
            ],
        );
        let config_path = dir.path().join("hotline.toml");
        std::fs::write(&config_path, &config).unwrap();

        let mut cmd = Command::new(Self::binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--sip")
            .arg(format!("127.0.0.1:{sip_port}"))
            .arg("--data")
            .arg(&data_dir)
            .args(&options.extra_args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", Self::binary().display()));
        let stdout = LogBuf::default();
        let stderr = LogBuf::default();
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            pump(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        let mut me = Hotline {
            child: Some(child),
            sip_port,
            media_port_min,
            media_port_max,
            options,
            dir,
            config_path,
            data_dir,
            stdout,
            stderr,
            readers,
            reported: false,
        };
        let ready = format!("hotline: ready sip=127.0.0.1:{sip_port}");
        let deadline = Instant::now() + HOTLINE_READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) if line.trim() == ready || line.contains(&ready) => break,
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    me.fail(&format!(
                        "no `{ready}` line within {HOTLINE_READY_TIMEOUT:?}"
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process died; give stderr a moment.
                    thread::sleep(Duration::from_millis(200));
                    let status = me.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                    me.fail(&format!(
                        "hotline exited before it was ready (status {status:?})"
                    ));
                }
            }
        }
        me
    }

    fn fail(&mut self, why: &str) -> ! {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.reported = true;
        panic!("{why}\n{}", self.report());
    }

    /// `127.0.0.1:PORT` of the HTTP listener, from the (latest, after a
    /// [`Hotline::restart`]) ready line.
    pub fn http_addr(&self) -> String {
        self.stdout()
            .lines()
            .rev()
            .find_map(|l| l.split(" http=").nth(1).map(|a| a.trim().to_string()))
            .unwrap_or_else(|| panic!("no http= in the ready line\n{}", self.report()))
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.sip_port)
    }

    /// `sip:USER@127.0.0.1:PORT`
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.sip_port)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("hotline.db")
    }

    /// The database it runs on: the `database_url` of its config file
    /// (a PostgreSQL test), else its SQLite file.
    pub fn database_url(&self) -> String {
        let config = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        config
            .lines()
            .filter_map(|l| l.trim().strip_prefix("database_url"))
            .filter_map(|rest| rest.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .next()
            .unwrap_or_else(|| format!("sqlite://{}", self.db_path().display()))
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }

    /// All `*.wav` under the recordings dir, sorted.
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.recordings_dir(), &mut |p| {
            if p.extension().is_some_and(|e| e == "wav") {
                out.push(p.to_path_buf());
            }
        });
        out.sort();
        out
    }

    /// Waits for a recording whose file stem is `call_id` (or any recording
    /// if `call_id` is None) to exist.
    pub fn wait_recording(&self, call_id: Option<&str>, timeout: Duration) -> PathBuf {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .recordings()
                .into_iter()
                .find(|p| call_id.is_none_or(|id| p.file_stem().is_some_and(|s| s == id)));
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no recording for {call_id:?} under {} within {timeout:?}\n{}",
                self.recordings_dir().display(),
                self.report()
            )
        })
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// stdout then stderr: the whole log (plain text: no colours off a
    /// terminal).
    pub fn log(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Whether `needle` shows in the log within `timeout`: a line logged
    /// just before an answer can reach the test after the answer does.
    pub fn log_shows(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Config, stdout and stderr, for failure messages.
    pub fn report(&self) -> String {
        let config = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        format!(
            "===== hotline config {} =====\n{config}\n===== hotline stdout =====\n{}\n===== hotline stderr =====\n{}",
            self.config_path.display(),
            self.stdout.text(),
            self.stderr.text()
        )
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Graceful stop (SIGTERM, 10 s grace, then SIGKILL). Returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let status = self
            .child
            .take()
            .and_then(|mut c| terminate(&mut c, Duration::from_secs(10)));
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        status
    }

    /// Starts `hotline serve` again after [`Hotline::kill`] or
    /// [`Hotline::stop`], with the same config and data directory (crash
    /// recovery tests) and a new SIP port; waits for the ready line. The new
    /// run's output is appended to the same logs.
    pub fn restart(&mut self) {
        self.kill();
        let sip_port = free_udp_port();
        let mut cmd = Command::new(Self::binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--sip")
            .arg(format!("127.0.0.1:{sip_port}"))
            .arg("--data")
            .arg(&self.data_dir)
            .args(&self.options.extra_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", Self::binary().display()));
        self.stdout.push_line("===== restart =====");
        self.stderr.push_line("===== restart =====");
        let (tx, rx) = mpsc::channel();
        self.readers = vec![
            pump(child.stdout.take().unwrap(), self.stdout.clone(), Some(tx)),
            pump(child.stderr.take().unwrap(), self.stderr.clone(), None),
        ];
        self.child = Some(child);
        self.sip_port = sip_port;
        let ready = format!("hotline: ready sip=127.0.0.1:{sip_port}");
        let deadline = Instant::now() + HOTLINE_READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) if line.contains(&ready) => break,
                Ok(_) => continue,
                Err(_) => self.fail(&format!("restart: no `{ready}` line")),
            }
        }
    }

    /// Simulated crash (SIGKILL), for recovery tests. The data dir survives
    /// until the `Hotline` is dropped.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Hotline {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() && !self.reported {
            eprintln!("{}", self.report());
        }
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL and Kamailio (the HA pair, tests/e2e/ha.rs)
// ---------------------------------------------------------------------------

pub use hotline_testkit::PgCluster;

/// A throwaway PostgreSQL cluster (`hotline-testkit`) on a port reserved
/// like the suite's other peers' ports; the suite needs PostgreSQL, so a
/// missing server is a failure here even with `HOTLINE_SKIP_PG=1`.
pub fn start_pg() -> PgCluster {
    PgCluster::start_on(reserve(1, 1, true))
        .expect("PostgreSQL server binaries are missing: run scripts/test.sh or set HOTLINE_PG_BIN")
}

/// The kamailio binary: /usr/sbin/kamailio (Debian; not on a normal
/// user's PATH) or the one on PATH.
pub fn kamailio_bin() -> PathBuf {
    let sbin = Path::new("/usr/sbin/kamailio");
    if sbin.exists() {
        sbin.to_path_buf()
    } else {
        PathBuf::from("kamailio")
    }
}

/// Whether Kamailio is installed.
pub fn have_kamailio() -> bool {
    Path::new("/usr/sbin/kamailio").exists() || have("kamailio")
}

/// The shipped edge proxy, config/kamailio/kamailio.cfg.
pub fn kamailio_cfg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kamailio/kamailio.cfg")
}

/// A Kamailio running `config/kamailio/kamailio.cfg` unchanged in the
/// foreground (`-DD -E`), its parameters given with `-A` (LISTEN on
/// 127.0.0.1 and a free port, DS_LIST a dispatcher list written to its temp
/// dir). Killed on drop; its log is printed when the test fails.
pub struct Kamailio {
    child: Option<Child>,
    /// The UDP port it listens on (127.0.0.1).
    pub port: u16,
    pub dir: tempfile::TempDir,
    log: LogBuf,
    readers: Vec<JoinHandle<()>>,
}

impl Kamailio {
    /// Starts it with `dispatcher_list` as the list file (lines `1 sip:...`)
    /// and extra `-A` defines; waits until it answers OPTIONS.
    pub fn start(dispatcher_list: &str, defines: &[&str]) -> Kamailio {
        Self::start_on(free_udp_port(), dispatcher_list, defines)
    }

    /// [`Kamailio::start`] on a given port (a restart on the same address).
    pub fn start_on(port: u16, dispatcher_list: &str, defines: &[&str]) -> Kamailio {
        assert!(
            have_kamailio(),
            "kamailio is not installed: run scripts/test.sh (apt: kamailio)"
        );
        let dir = tempfile::Builder::new()
            .prefix("kamailio-")
            .tempdir()
            .expect("temp dir");
        let list = dir.path().join("dispatcher.list");
        std::fs::write(&list, dispatcher_list).unwrap();
        let mut cmd = Command::new(kamailio_bin());
        cmd.arg("-DD")
            .arg("-E")
            .arg("-f")
            .arg(kamailio_cfg())
            .args(["-m", "64", "-M", "8"])
            .arg("-A")
            .arg(format!("LISTEN=udp:127.0.0.1:{port}"))
            .arg("-A")
            .arg(format!("DS_LIST=\"{}\"", list.display()));
        for d in defines {
            cmd.arg("-A").arg(d);
        }
        let mut child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kamailio");
        let log = LogBuf::default();
        let readers = vec![
            pump(child.stdout.take().unwrap(), log.clone(), None),
            pump(child.stderr.take().unwrap(), log.clone(), None),
        ];
        let mut k = Kamailio {
            child: Some(child),
            port,
            dir,
            log,
            readers,
        };
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let up = wait_until(Duration::from_secs(15), || {
            if !k.is_running() {
                return false;
            }
            let local = sock.local_addr().unwrap();
            let msg = format!(
                "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-kam{}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=k\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: kam-probe-{}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                std::process::id(),
                std::process::id()
            );
            let _ = sock.send_to(msg.as_bytes(), ("127.0.0.1", port));
            let mut buf = [0u8; 4096];
            matches!(sock.recv(&mut buf), Ok(n) if buf[..n].starts_with(b"SIP/2.0 200"))
        });
        if !up {
            let log = k.log();
            k.stop();
            panic!("kamailio did not answer OPTIONS on 127.0.0.1:{port}\n{log}");
        }
        k
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Its stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Whether `needle` shows in the log within `timeout`. Kamailio's
    /// answer can reach the test before the line it logged just before
    /// answering has come through the pipe reader (CI saw this once).
    pub fn log_shows(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// SIGTERM (Kamailio stops its children), then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, Duration::from_secs(5));
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!("===== kamailio log =====\n{}", self.log.text());
        }
    }
}

/// `kamailio -c` on the shipped config with `defines` (`-A`); (ok, output).
pub fn kamailio_check(dispatcher_list: &Path, defines: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(kamailio_bin());
    cmd.arg("-c")
        .arg("-f")
        .arg(kamailio_cfg())
        .arg("-A")
        .arg(format!("DS_LIST=\"{}\"", dispatcher_list.display()));
    for d in defines {
        cmd.arg("-A").arg(d);
    }
    let out = cmd.output().expect("run kamailio -c");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("config file ok"),
        text,
    )
}

// ---------------------------------------------------------------------------
// SIPp
// ---------------------------------------------------------------------------

/// Default wall-clock limit of one SIPp run (also passed as `-timeout`).
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(30);

/// Builder for one SIPp run of a scenario in `tests/peers`.
///
/// Every run gets its own temp dir (the cwd of SIPp) holding copies of all
/// files of tests/peers, the injection file and SIPp's traces
/// (`-trace_msg -trace_err -trace_stat -trace_logs`), its own SIP port (`-p`)
/// and media port (`-mp`), `-m 1` and `-timeout N -timeout_error`.
#[derive(Clone, Debug)]
pub struct Sipp {
    pub scenario: String,
    remote: Option<String>,
    /// `-i`: the local address (127.0.0.1 unless [`Sipp::local_ip`] says).
    pub local_ip: String,
    pub local_port: u16,
    pub media_port: u16,
    calls: u32,
    inf: Option<String>,
    args: Vec<String>,
    timeout: Duration,
    /// Whether every message and log line is written to files (off for
    /// load runs: at hundreds of calls a second the tracing is SIPp's
    /// bottleneck).
    trace: bool,
}

impl Sipp {
    /// A run of `tests/peers/<scenario>`. caller_cancel.xml gets
    /// [`Sipp::tolerate_unexpected`] by default: 180/183 may legitimately
    /// arrive during its `<pause/>`, which SIPp would otherwise treat as an
    /// unexpected message and abort the call.
    pub fn new(scenario: &str) -> Self {
        let sipp = Sipp {
            scenario: scenario.to_string(),
            remote: None,
            local_ip: "127.0.0.1".into(),
            local_port: free_udp_port(),
            media_port: free_media_port(),
            calls: 1,
            inf: None,
            args: Vec::new(),
            timeout: SIPP_TIMEOUT,
            trace: true,
        };
        if scenario == "caller_cancel.xml" {
            sipp.tolerate_unexpected()
        } else {
            sipp
        }
    }

    /// No message trace and no log file (errors and statistics are still
    /// written): for load runs, where tracing every message costs SIPp more
    /// than the calls.
    pub fn quiet(mut self) -> Self {
        self.trace = false;
        self
    }

    /// `-default_behaviors all,-abortunexp`: a message nobody expects (e.g. a
    /// 183 during a `<pause/>`) is logged in errors.log and ignored instead
    /// of aborting the call.
    pub fn tolerate_unexpected(self) -> Self {
        self.arg("-default_behaviors").arg("all,-abortunexp")
    }

    /// Where to send (UAC scenarios): `127.0.0.1:PORT`.
    pub fn remote(mut self, addr: &str) -> Self {
        self.remote = Some(addr.to_string());
        self
    }

    /// `-s SERVICE`: the user part dialled (`hotline`, `4000`, `1001`...).
    pub fn service(self, service: &str) -> Self {
        self.arg("-s").arg(service)
    }

    /// `-key NAME VALUE` -> `[NAME]` in the scenario.
    pub fn key(self, name: &str, value: &str) -> Self {
        self.arg("-key").arg(name).arg(value)
    }

    /// `-d MS`: the length of every `<pause/>`.
    pub fn duration_ms(self, ms: u64) -> Self {
        self.arg("-d").arg(&ms.to_string())
    }

    /// `-m N` (default 1).
    pub fn calls(mut self, n: u32) -> Self {
        self.calls = n;
        self
    }

    /// Fixed local SIP port, e.g. the port an agent registered from.
    pub fn port(mut self, port: u16) -> Self {
        self.local_port = port;
        self
    }

    /// Local address other than 127.0.0.1 (`-i 127.0.0.2`: another host on loopback).
    pub fn local_ip(mut self, ip: &str) -> Self {
        self.local_ip = ip.to_string();
        self
    }

    /// Use TCP (`-t t1`) instead of UDP.
    pub fn tcp(self) -> Self {
        self.arg("-t").arg("t1")
    }

    /// Injection file lines (without the `SEQUENTIAL` header).
    pub fn inf_lines(mut self, lines: &[String]) -> Self {
        let mut s = String::from("SEQUENTIAL\n");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        self.inf = Some(s);
        self
    }

    /// The injection line for the agent_register*.xml scenarios:
    /// `USER;[authentication username=USER password=PASS];`
    pub fn credentials(self, user: &str, password: &str) -> Self {
        self.inf_lines(&[credentials_line(user, password)])
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    fn command(&self, dir: &Path) -> Command {
        for entry in std::fs::read_dir(peers_dir()).expect("tests/peers") {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
        assert!(
            dir.join(&self.scenario).is_file(),
            "no scenario tests/peers/{}",
            self.scenario
        );
        let mut cmd = Command::new("sipp");
        if let Some(r) = &self.remote {
            cmd.arg(r);
        }
        cmd.arg("-sf")
            .arg(&self.scenario)
            .arg("-i")
            .arg(&self.local_ip)
            .arg("-p")
            .arg(self.local_port.to_string())
            .arg("-mp")
            .arg(self.media_port.to_string())
            .arg("-m")
            .arg(self.calls.to_string())
            .arg("-timeout")
            .arg(format!("{}s", self.timeout.as_secs().max(1)))
            .arg("-timeout_error")
            .args(["-trace_err", "-trace_stat"])
            .args(if self.trace {
                &["-trace_msg", "-trace_logs"][..]
            } else {
                &[]
            })
            .arg("-nostdin");
        if let Some(inf) = &self.inf {
            let path = dir.join("inject.csv");
            std::fs::write(&path, inf).unwrap();
            cmd.arg("-inf").arg("inject.csv");
        }
        cmd.args(&self.args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs to completion (blocking), killing SIPp after the timeout + 5 s.
    pub fn run(self) -> SippOutput {
        self.spawn().wait()
    }

    /// Starts SIPp in the background (UAS scenarios: start it, then make the
    /// call, then [`SippProcess::wait`]). Killed on drop.
    pub fn spawn(self) -> SippProcess {
        let dir = tempfile::Builder::new()
            .prefix("sipp-")
            .tempdir()
            .expect("temp dir");
        let mut cmd = self.command(dir.path());
        let command_line = format!("{cmd:?}");
        let mut child = cmd.spawn().expect("spawn sipp (is sip-tester installed?)");
        let stdout = LogBuf::default();
        let stderr = LogBuf::default();
        let readers = vec![
            pump(child.stdout.take().unwrap(), stdout.clone(), None),
            pump(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        // A UAS (no remote) must be listening before the test makes the call
        // that rings it: on a loaded CI machine SIPp was once not answering
        // the engine's offers for 9 s (the call was abandoned). Waiting here
        // for its socket (read from /proc, never probed by binding, which
        // would race SIPp's own bind) takes that start-up out of the test.
        if self.remote.is_none() {
            let port = self.local_port;
            let bound = wait_until(Duration::from_secs(15), || {
                socket_bound(port) || matches!(child.try_wait(), Ok(Some(_)))
            });
            assert!(
                bound,
                "SIPp ({}) did not bind port {port} within 15 s: {command_line}",
                self.scenario
            );
        }
        SippProcess {
            child: Some(child),
            started: Instant::now(),
            limit: self.timeout + Duration::from_secs(5),
            sipp: self,
            dir: Some(dir),
            command_line,
            stdout,
            stderr,
            readers,
        }
    }
}

/// `USER;[authentication username=USER password=PASS];` (see TRAPS: the
/// whole keyword goes into the injection file).
pub fn credentials_line(user: &str, password: &str) -> String {
    format!("{user};[authentication username={user} password={password}];")
}

/// A SIPp running in the background.
pub struct SippProcess {
    child: Option<Child>,
    started: Instant,
    limit: Duration,
    pub sipp: Sipp,
    dir: Option<tempfile::TempDir>,
    command_line: String,
    stdout: LogBuf,
    stderr: LogBuf,
    readers: Vec<JoinHandle<()>>,
}

impl SippProcess {
    /// `127.0.0.1:PORT` this SIPp listens on.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.sipp.local_port)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Waits for exit (killing it after its limit) and collects the traces.
    pub fn wait(mut self) -> SippOutput {
        let mut child = self.child.take().unwrap();
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait sipp") {
                break s;
            }
            if self.started.elapsed() > self.limit {
                timed_out = true;
                break terminate(&mut child, Duration::from_secs(2)).expect("sipp status");
            }
            thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        SippOutput {
            scenario: self.sipp.scenario.clone(),
            command_line: self.command_line.clone(),
            status,
            timed_out,
            elapsed: self.started.elapsed(),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
            dir: self.dir.take().unwrap(),
        }
    }

    /// Stops it now (SIGTERM; SIPp writes its traces and exits) and collects.
    pub fn stop(mut self) -> SippOutput {
        if let Some(c) = self.child.as_mut() {
            terminate(c, Duration::from_secs(3));
        }
        self.wait()
    }
}

impl Drop for SippProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The result of one SIPp run; the temp dir with its traces lives as long as
/// this value.
pub struct SippOutput {
    pub scenario: String,
    pub command_line: String,
    pub status: ExitStatus,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl SippOutput {
    /// SIPp exits 0 when every call succeeded (1: some failed, 99: no call,
    /// 255/-1: fatal or `-timeout_error`).
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }

    /// Panics with all traces unless SIPp exited 0.
    pub fn assert_success(&self, context: &str) {
        assert!(
            self.success(),
            "SIPp {} failed ({context}): {:?}{}\n{}",
            self.scenario,
            self.status,
            if self.timed_out {
                " [killed: timeout]"
            } else {
                ""
            },
            self.report()
        );
    }

    /// Panics unless SIPp failed (for negative tests).
    pub fn assert_failure(&self, context: &str) {
        assert!(
            !self.success(),
            "SIPp {} unexpectedly succeeded ({context})\n{}",
            self.scenario,
            self.report()
        );
    }

    /// The trace file `<scenario stem>_<pid>_<suffix>` (suffix e.g.
    /// `messages.log`, `errors.log`, `logs.log`, `.csv`).
    pub fn trace_file(&self, suffix: &str) -> Option<PathBuf> {
        let stem = self.scenario.trim_end_matches(".xml");
        let rd = std::fs::read_dir(self.dir.path()).ok()?;
        rd.flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(&format!("{stem}_"))
                && name.ends_with(suffix)
                && name[stem.len() + 1..]
                    .split('_')
                    .next()
                    .is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        })
    }

    fn read_trace(&self, suffix: &str) -> String {
        self.trace_file(suffix)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// `-trace_msg`: every SIP message sent and received.
    pub fn messages_log(&self) -> String {
        self.read_trace("_messages.log")
    }

    /// `-trace_err`: unexpected messages and errors.
    pub fn errors_log(&self) -> String {
        self.read_trace("_errors.log")
    }

    /// `-trace_logs`: the scenario's `<log message=...>` lines.
    pub fn logs(&self) -> String {
        self.read_trace("_logs.log")
    }

    /// `-trace_stat` CSV (the screen's cumulative times read 0 in 3.6.1).
    pub fn stat_csv(&self) -> String {
        self.read_trace("_.csv")
    }

    /// Parsed `-trace_msg` log.
    pub fn messages(&self) -> Vec<SipTrace> {
        sip_messages(&self.messages_log())
    }

    /// Received messages only.
    pub fn received(&self) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| !m.sent)
            .map(|m| m.text)
            .collect()
    }

    /// First line of every message, prefixed `>` sent / `<` received.
    pub fn ladder(&self) -> String {
        self.messages()
            .iter()
            .map(|m| {
                format!(
                    "{} {}\n",
                    if m.sent { ">" } else { "<" },
                    m.text.lines().next().unwrap_or("")
                )
            })
            .collect()
    }

    /// Everything useful for a failure message.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "----- sipp command: {}", self.command_line);
        let _ = writeln!(s, "----- status {:?}, {:?}", self.status, self.elapsed);
        let _ = writeln!(s, "----- ladder\n{}", self.ladder());
        let _ = writeln!(s, "----- errors.log\n{}", self.errors_log());
        let _ = writeln!(s, "----- logs.log\n{}", self.logs());
        let _ = writeln!(s, "----- messages.log\n{}", self.messages_log());
        let _ = writeln!(s, "----- stderr\n{}", self.stderr);
        let tail: Vec<&str> = self.stdout.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let _ = writeln!(s, "----- stdout (tail)\n{}", tail.join("\n"));
        s
    }
}

/// One message from a SIPp `-trace_msg` log.
#[derive(Clone, Debug)]
pub struct SipTrace {
    pub sent: bool,
    pub text: String,
}

impl SipTrace {
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
    /// Status code for responses.
    pub fn status(&self) -> Option<u16> {
        let l = self.first_line();
        l.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
    }
    /// Values of a header (case-insensitive name, compact forms not mapped).
    pub fn headers(&self, name: &str) -> Vec<String> {
        header_values(&self.text, name)
    }
}

/// Splits a SIPp `-trace_msg` log into messages.
pub fn sip_messages(log: &str) -> Vec<SipTrace> {
    let mut out = Vec::new();
    let mut cur: Option<SipTrace> = None;
    let mut in_body = false;
    for line in log.lines() {
        if line.starts_with("-----------------------------------------------") {
            if let Some(m) = cur.take() {
                out.push(m);
            }
            in_body = false;
            continue;
        }
        if cur.is_none() && !in_body {
            let l = line.trim();
            if l.contains("message sent") || l.contains("message received") {
                cur = Some(SipTrace {
                    sent: l.contains("sent"),
                    text: String::new(),
                });
                in_body = true;
                continue;
            }
        }
        if let Some(m) = cur.as_mut() {
            if m.text.is_empty() && line.trim().is_empty() {
                continue;
            }
            m.text.push_str(line.trim_end_matches('\r'));
            m.text.push('\n');
        }
    }
    if let Some(m) = cur.take() {
        out.push(m);
    }
    for m in &mut out {
        let t = m.text.trim_end().to_string();
        m.text = t;
    }
    out
}

/// Header values of a SIP message (case-insensitive name).
pub fn header_values(msg: &str, name: &str) -> Vec<String> {
    msg.lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

/// A 401 reduced to what must not depend on the user: the status line and
/// every header, with the headers echoed from the request (Via, From, To,
/// Call-ID, CSeq) reduced to their names, and the `nonce`/`opaque` values and
/// To tag masked. Compare it for a known and an unknown user.
pub fn challenge_fingerprint(msg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = msg.lines();
    if let Some(first) = lines.next() {
        out.push(first.trim().to_string());
    }
    for l in lines {
        if l.trim().is_empty() {
            break;
        }
        let Some((n, v)) = l.split_once(':') else {
            out.push(l.to_string());
            continue;
        };
        let name = n.trim().to_ascii_lowercase();
        let echoed = [
            "via",
            "v",
            "from",
            "f",
            "to",
            "t",
            "call-id",
            "i",
            "cseq",
            "date",
            "timestamp",
        ];
        if echoed.contains(&name.as_str()) {
            out.push(name);
        } else {
            out.push(format!(
                "{name}: {}",
                mask_params(v.trim(), &["nonce", "opaque"])
            ));
        }
    }
    out
}

fn mask_params(v: &str, params: &[&str]) -> String {
    let mut out = v.to_string();
    for p in params {
        let mut from = 0;
        while let Some(i) = out[from..].to_ascii_lowercase().find(&format!("{p}=")) {
            let start = from + i + p.len() + 1;
            let rest = &out[start..];
            let end = if let Some(stripped) = rest.strip_prefix('"') {
                start + 1 + stripped.find('"').map(|e| e + 1).unwrap_or(stripped.len())
            } else {
                start + rest.find([',', ' ', ';']).unwrap_or(rest.len())
            };
            out.replace_range(start..end, "*");
            from = start + 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// baresip
// ---------------------------------------------------------------------------

/// What baresip sends.
#[derive(Clone, Debug)]
pub enum AudioSource {
    /// `ausine,FREQ` (needs 48 kHz stereo source settings, written for you).
    Sine(u32),
    /// `aufile,PATH`: S16LE mono WAV at 8 kHz; the call hangs up when it ends.
    File(PathBuf),
}

/// A headless baresip 1.0: its own config dir, SIP port, RTP port pair, and a
/// `snd/` dir where the sndfile module dumps `dump-<time>-enc.wav` (what it
/// sent) and `dump-<time>-dec.wav` (what it received), 8 kHz mono S16.
pub struct Baresip {
    pub dir: tempfile::TempDir,
    pub sip_port: u16,
    pub rtp_ports: (u16, u16),
    child: Option<Child>,
    stdout: LogBuf,
    stderr: LogBuf,
    readers: Vec<JoinHandle<()>>,
    pub command_line: String,
    pub status: Option<ExitStatus>,
}

/// A baresip agent phone to build: it registers `id`/`password` at a
/// registrar over UDP (or over TLS trusting a CA), auto-answers, sends its
/// source, optionally with SRTP (`mediaenc`); [`AgentPhone::start`] writes
/// the config and starts it.
pub struct AgentPhone {
    id: String,
    password: String,
    source: AudioSource,
    /// `127.0.0.1:PORT`, with `;transport=tls` over TLS.
    registrar: String,
    cafile: Option<String>,
    mediaenc: Option<String>,
}

impl AgentPhone {
    /// Registers at `registrar` (`127.0.0.1:PORT`) over UDP.
    pub fn new(registrar: &str, id: &str, password: &str, source: AudioSource) -> Self {
        AgentPhone {
            id: id.into(),
            password: password.into(),
            source,
            registrar: registrar.into(),
            cafile: None,
            mediaenc: None,
        }
    }

    /// Registers over TLS at `127.0.0.1:tls_port`, trusting `cafile` (PEM).
    pub fn over_tls(mut self, tls_port: u16, cafile: &str) -> Self {
        self.registrar = format!("127.0.0.1:{tls_port};transport=tls");
        self.cafile = Some(cafile.into());
        self
    }

    /// SRTP with baresip's `srtp` module: `srtp` (best effort) or
    /// `srtp-mand` (SRTP or no call).
    pub fn mediaenc(mut self, mode: &str) -> Self {
        self.mediaenc = Some(mode.into());
        self
    }

    /// Writes the config dir and starts baresip; wait for
    /// [`Baresip::wait_registered`].
    pub fn start(self) -> Baresip {
        let AgentPhone {
            id,
            password,
            source,
            registrar,
            cafile,
            mediaenc,
        } = self;
        let mut account =
            format!("<sip:{id}@{registrar}>;auth_pass={password};answermode=auto;regint=60");
        let mut config = String::new();
        if let Some(mode) = &mediaenc {
            account.push_str(&format!(";mediaenc={mode}"));
            config.push_str("module\t\t\tsrtp.so\n");
        }
        if let Some(ca) = &cafile {
            config.push_str(&format!("sip_cafile\t\t{ca}\n"));
        }
        let mut b = Baresip::configure(source, &account);
        if !config.is_empty() {
            let path = b.dir.path().join("config");
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(&config);
            std::fs::write(&path, text).unwrap();
        }
        b.start(&[]);
        b
    }
}

/// baresip `config` file contents.
pub fn baresip_config(
    sip_port: u16,
    rtp: (u16, u16),
    source: &AudioSource,
    snd_dir: &Path,
) -> String {
    let (src, rate_channels) = match source {
        AudioSource::Sine(f) => (
            format!("ausine,{f}"),
            "ausrc_srate\t\t48000\nausrc_channels\t\t2\n".to_string(),
        ),
        AudioSource::File(p) => (
            format!("aufile,{}", p.display()),
            "ausrc_srate\t\t8000\nausrc_channels\t\t1\n".to_string(),
        ),
    };
    format!(
        "# generated by tests/common (hotline e2e)\n\
         poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:{sip_port}\n\
         audio_player\t\taubridge,nil\n\
         audio_source\t\t{src}\n\
         audio_alert\t\taubridge,nil\n\
         {rate_channels}\
         rtp_ports\t\t{}-{}\n\
         rtcp_mux\t\tno\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\tausine.so\n\
         module\t\t\taufile.so\n\
         module\t\t\tsndfile.so\n\
         module_app\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         snd_path\t\t{}\n",
        rtp.0,
        rtp.1,
        snd_dir.display()
    )
}

impl Baresip {
    /// Writes the config dir (not started). `account` is one `accounts` line.
    pub fn configure(source: AudioSource, account: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("baresip-")
            .tempdir()
            .expect("temp dir");
        let sip_port = free_udp_port();
        let rtp_ports = free_port_pair();
        let snd = dir.path().join("snd");
        std::fs::create_dir_all(&snd).unwrap();
        std::fs::write(
            dir.path().join("config"),
            baresip_config(sip_port, rtp_ports, &source, &snd),
        )
        .unwrap();
        std::fs::write(dir.path().join("accounts"), format!("{account}\n")).unwrap();
        Baresip {
            dir,
            sip_port,
            rtp_ports,
            child: None,
            stdout: LogBuf::default(),
            stderr: LogBuf::default(),
            readers: Vec::new(),
            command_line: String::new(),
            status: None,
        }
    }

    /// An agent phone that registers `id`/`password` with hotline at
    /// `registrar` (`127.0.0.1:PORT`) and auto-answers, sending `source`.
    /// Started; wait for [`Baresip::wait_registered`]. Over TLS or with
    /// SRTP: [`AgentPhone`].
    pub fn agent(registrar: &str, id: &str, password: &str, source: AudioSource) -> Self {
        AgentPhone::new(registrar, id, password, source).start()
    }

    /// An auto-answering phone that does not register (call it directly at
    /// `sip:ID@127.0.0.1:{sip_port}`).
    pub fn answering(id: &str, source: AudioSource) -> Self {
        let mut b = Self::configure(
            source,
            &format!("<sip:{id}@127.0.0.1>;answermode=auto;regint=0"),
        );
        b.start(&[]);
        b
    }

    /// A caller: dials `uri`, stays `seconds`, quits (hanging up). Blocks
    /// until baresip exits.
    pub fn call(caller_id: &str, uri: &str, seconds: u32, source: AudioSource) -> Self {
        let mut b = Self::configure(source, &format!("<sip:{caller_id}@127.0.0.1>;regint=0"));
        b.start(&[
            "-e".into(),
            format!("/dial {uri}"),
            "-t".into(),
            seconds.to_string(),
        ]);
        b.wait(Duration::from_secs(u64::from(seconds) + 15));
        b
    }

    /// Starts baresip with `-f DIR` and extra args; stdin is /dev/null.
    pub fn start(&mut self, extra: &[String]) {
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(self.dir.path())
            .args(extra)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.command_line = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .expect("spawn baresip (is baresip-core installed?)");
        self.readers = vec![
            pump(child.stdout.take().unwrap(), self.stdout.clone(), None),
            pump(child.stderr.take().unwrap(), self.stderr.clone(), None),
        ];
        self.child = Some(child);
        let ok = wait_until(Duration::from_secs(10), || {
            self.stdout.contains("baresip is ready")
        });
        assert!(ok, "baresip not ready in 10 s\n{}", self.report());
    }

    /// Waits for `1001@127.0.0.1: {0/UDP/v4} 200 OK ... [1 binding]`.
    pub fn wait_registered(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.stdout
                .text()
                .lines()
                .any(|l| l.contains(" 200 OK") && l.contains("binding"))
        })
    }

    /// Waits for "Call established".
    pub fn wait_established(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.stdout.contains("Call established"))
    }

    /// Waits for a call to end ("terminated (duration").
    pub fn wait_call_ended(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.stdout.contains("terminated (duration"))
    }

    /// Waits for the process to exit (SIGTERM/SIGKILL after `timeout`).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + timeout;
            let status = loop {
                if let Ok(Some(s)) = c.try_wait() {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    break terminate(&mut c, Duration::from_secs(5));
                }
                thread::sleep(Duration::from_millis(20));
            };
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
            self.status = status;
        }
        self.status
    }

    /// SIGTERM (baresip unregisters, hangs up and closes its WAVs), 5 s grace.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(c) = self.child.as_mut() {
            terminate(c, Duration::from_secs(5));
        }
        self.wait(Duration::from_secs(1))
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Dumped WAVs as (enc = sent, dec = received) pairs, oldest call first.
    ///
    /// baresip stamps each file with the second it opened it, and the two
    /// files of one call can fall on either side of a second boundary
    /// (`…-22-29-08-enc.wav` with `…-22-29-09-dec.wav`), so the pairs are
    /// made by order, not by name.
    pub fn dumps(&self) -> Vec<(PathBuf, PathBuf)> {
        let snd = self.dir.path().join("snd");
        let files: Vec<PathBuf> = std::fs::read_dir(&snd)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let of_kind = |suffix: &str| {
            let mut v: Vec<PathBuf> = files
                .iter()
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .cloned()
                .collect();
            v.sort();
            v
        };
        of_kind("-enc.wav")
            .into_iter()
            .zip(of_kind("-dec.wav"))
            .collect()
    }

    /// The last call's (sent, received) audio, panicking with logs if missing.
    pub fn last_dump(&self) -> (Wav, Wav) {
        let (e, d) = self
            .dumps()
            .pop()
            .unwrap_or_else(|| panic!("baresip dumped no WAV\n{}", self.report()));
        (Wav::read(&e), Wav::read(&d))
    }

    pub fn report(&self) -> String {
        let config = std::fs::read_to_string(self.dir.path().join("config")).unwrap_or_default();
        let accounts =
            std::fs::read_to_string(self.dir.path().join("accounts")).unwrap_or_default();
        // baresip prints its call status line with \r; keep the log readable
        let out: String = self
            .stdout
            .text()
            .split(['\r', '\n'])
            .filter(|l| !l.trim().is_empty() && !l.contains("audio=0/0"))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "===== baresip {}\n----- config\n{config}----- accounts\n{accounts}----- stdout\n{out}----- stderr\n{}",
            self.command_line,
            self.stderr.text()
        )
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!("{}", self.report());
        }
    }
}

// ---------------------------------------------------------------------------
// RTP sink
// ---------------------------------------------------------------------------

/// One received RTP packet.
#[derive(Clone, Debug)]
pub struct RtpPacket {
    pub at: Duration,
    pub from: SocketAddr,
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Receives RTP on a port the test puts into an SDP (e.g. the `rtp_port` key
/// of caller_wait_greeting.xml). RTCP (second byte 192..=223) is dropped.
pub struct RtpSink {
    pub port: u16,
    packets: Arc<Mutex<Vec<RtpPacket>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RtpSink {
    pub fn bind() -> Self {
        let (port, _) = free_port_pair();
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind rtp sink");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let packets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p2, s2) = (packets.clone(), stop.clone());
        let start = Instant::now();
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(mut p) = parse_rtp(&buf[..n]) {
                    p.at = start.elapsed();
                    p.from = from;
                    p2.lock().unwrap().push(p);
                }
            }
        });
        RtpSink {
            port,
            packets,
            stop,
            thread: Some(thread),
        }
    }

    pub fn packets(&self) -> Vec<RtpPacket> {
        self.packets.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.packets.lock().unwrap().len()
    }

    /// Audio of the PCMU (0) / PCMA (8) packets in arrival order, decoded to
    /// 8 kHz i16 (telephone-event and other types skipped).
    pub fn pcm(&self) -> Vec<i16> {
        let mut out = Vec::new();
        for p in self.packets.lock().unwrap().iter() {
            match p.payload_type {
                0 => out.extend(p.payload.iter().map(|&b| ulaw_to_linear(b))),
                8 => out.extend(p.payload.iter().map(|&b| alaw_to_linear(b))),
                _ => {}
            }
        }
        out
    }
}

impl Drop for RtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Parses an RTP header (v2, CSRCs and extension skipped, padding removed).
pub fn parse_rtp(b: &[u8]) -> Option<RtpPacket> {
    if b.len() < 12 || b[0] >> 6 != 2 || (192..=223).contains(&b[1]) {
        return None;
    }
    let cc = usize::from(b[0] & 0x0f);
    let mut off = 12 + 4 * cc;
    if b[0] & 0x10 != 0 {
        let ext = b.get(off + 2..off + 4)?;
        off += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = b.len();
    if b[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*b.last()?))?;
    }
    Some(RtpPacket {
        at: Duration::ZERO,
        from: SocketAddr::from(([0, 0, 0, 0], 0)),
        payload_type: b[1] & 0x7f,
        marker: b[1] & 0x80 != 0,
        seq: u16::from_be_bytes([b[2], b[3]]),
        timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload: b.get(off..end)?.to_vec(),
    })
}

/// G.711 μ-law -> linear (ITU-T G.711, 14-bit scaled to i16).
pub fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// G.711 A-law -> linear.
pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

// ---------------------------------------------------------------------------
// WAV and tone analysis
// ---------------------------------------------------------------------------

/// A WAV read into memory (interleaved i16).
#[derive(Clone, Debug)]
pub struct Wav {
    pub path: PathBuf,
    pub rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub samples: Vec<i16>,
}

impl Wav {
    pub fn read(path: &Path) -> Self {
        let mut r = hound::WavReader::open(path)
            .unwrap_or_else(|e| panic!("open WAV {}: {e}", path.display()));
        let spec = r.spec();
        assert_eq!(
            spec.sample_format,
            hound::SampleFormat::Int,
            "{}: not integer PCM",
            path.display()
        );
        let samples: Vec<i16> = match spec.bits_per_sample {
            16 => r.samples::<i16>().map(|s| s.unwrap()).collect(),
            8 => r
                .samples::<i8>()
                .map(|s| i16::from(s.unwrap()) << 8)
                .collect(),
            b => panic!("{}: {b}-bit WAV not handled", path.display()),
        };
        Wav {
            path: path.to_path_buf(),
            rate: spec.sample_rate,
            channels: spec.channels,
            bits: spec.bits_per_sample,
            samples,
        }
    }

    /// One channel (0 = left = caller, 1 = right = agent in recordings).
    pub fn channel(&self, ch: usize) -> Vec<i16> {
        channel(&self.samples, usize::from(self.channels), ch)
    }

    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.frames() as f64 / f64::from(self.rate))
    }
}

/// De-interleaves channel `ch` of `channels`.
pub fn channel(samples: &[i16], channels: usize, ch: usize) -> Vec<i16> {
    assert!(ch < channels, "channel {ch} of {channels}");
    samples.iter().skip(ch).step_by(channels).copied().collect()
}

/// RMS relative to full scale (0.0 silence .. ~0.707 full-scale sine).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let x = f64::from(s) / 32768.0;
            x * x
        })
        .sum();
    (sum / samples.len() as f64).sqrt()
}

/// Goertzel power at `freq`, normalised by N²: a sine of amplitude `A`
/// (fraction of full scale) filling the window gives `A² / 4`, i.e. `rms² / 2`
/// for a pure tone. Compare frequencies with each other or with [`rms`]².
pub fn goertzel_power(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (n as f64 * n as f64)
}

/// The candidate frequency that dominates `samples`: it must carry at least
/// a quarter of the signal's energy and 10× the power of every other
/// candidate; None for silence or a mix.
pub fn dominant_tone(samples: &[i16], rate: u32, candidates: &[f64]) -> Option<f64> {
    let energy = rms(samples).powi(2);
    if energy < 1e-6 {
        return None;
    }
    let mut powers: Vec<(f64, f64)> = candidates
        .iter()
        .map(|&f| (f, goertzel_power(samples, rate, f)))
        .collect();
    powers.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best_f, best_p) = *powers.first()?;
    // a pure sine of rms r: goertzel power = r²/2 (amplitude² / 4)
    if best_p < energy / 2.0 * 0.25 {
        return None;
    }
    if powers.get(1).is_some_and(|&(_, p)| p * 10.0 > best_p) {
        return None;
    }
    Some(best_f)
}

/// Splits into windows of `ms` and returns the dominant tone of each (None
/// for silence/mixed windows). Handy to check that a tone covers most of a
/// call, or when a greeting gives way to music.
pub fn tone_windows(samples: &[i16], rate: u32, ms: u32, candidates: &[f64]) -> Vec<Option<f64>> {
    let n = (rate as usize * ms as usize / 1000).max(1);
    samples
        .chunks(n)
        .filter(|c| c.len() == n)
        .map(|c| dominant_tone(c, rate, candidates))
        .collect()
}

/// Fraction (0..=1) of `ms` windows in which `freq` dominates.
pub fn tone_coverage(samples: &[i16], rate: u32, freq: f64, candidates: &[f64]) -> f64 {
    let w = tone_windows(samples, rate, 100, candidates);
    if w.is_empty() {
        return 0.0;
    }
    w.iter().filter(|t| **t == Some(freq)).count() as f64 / w.len() as f64
}

/// Frequencies the test peers use: SIPp caller 1000 Hz, SIPp agent 440 Hz;
/// baresip sends whatever its `AudioSource::Sine` says (tests use 440/1000
/// likewise, or 700 Hz for a third party).
pub const CALLER_TONE_HZ: f64 = 1000.0;
pub const AGENT_TONE_HZ: f64 = 440.0;
pub const TONES: &[f64] = &[300.0, 440.0, 700.0, 1000.0, 1400.0, 2000.0];

/// Panics with a readable message unless `freq` dominates at least `min`
/// of the signal (100 ms windows).
pub fn assert_tone(what: &str, samples: &[i16], rate: u32, freq: f64, min: f64) {
    let cov = tone_coverage(samples, rate, freq, TONES);
    let windows = tone_windows(samples, rate, 100, TONES);
    assert!(
        cov >= min,
        "{what}: {freq} Hz dominates {:.0}% of {} windows (want >= {:.0}%), rms {:.3}; per 100 ms: {:?}",
        cov * 100.0,
        windows.len(),
        min * 100.0,
        rms(samples),
        windows
    );
}

/// Synthesises a sine (for tests of the analysis itself).
pub fn sine(rate: u32, freq: f64, amplitude: f64, ms: u32) -> Vec<i16> {
    let n = rate as usize * ms as usize / 1000;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

#[cfg(test)]
mod harness_tests {
    // unused when compiled into a harness = false target (benches/load.rs)
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn goertzel_finds_the_tone() {
        let s = sine(8000, 440.0, 0.5, 500);
        let p440 = goertzel_power(&s, 8000, 440.0);
        let p1000 = goertzel_power(&s, 8000, 1000.0);
        // amplitude 0.5 -> 0.0625
        assert!((p440 - 0.0625).abs() < 0.005, "{p440}");
        assert!(p1000 < p440 / 1000.0, "{p1000}");
        assert_eq!(dominant_tone(&s, 8000, TONES), Some(440.0));
        assert_eq!(
            dominant_tone(&sine(8000, 1000.0, 0.1, 200), 8000, TONES),
            Some(1000.0)
        );
    }

    #[test]
    fn silence_noise_and_mixes_have_no_dominant_tone() {
        assert_eq!(dominant_tone(&vec![0i16; 800], 8000, TONES), None);
        let mix: Vec<i16> = sine(8000, 440.0, 0.3, 200)
            .iter()
            .zip(sine(8000, 1000.0, 0.3, 200))
            .map(|(a, b)| a + b)
            .collect();
        assert_eq!(dominant_tone(&mix, 8000, TONES), None);
        // deterministic pseudo-noise
        let mut x: u32 = 1;
        let noise: Vec<i16> = (0..1600)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        assert_eq!(dominant_tone(&noise, 8000, TONES), None);
    }

    #[test]
    fn rms_and_channels() {
        assert!(
            (rms(&sine(8000, 1000.0, 1.0, 100)) - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.01
        );
        assert_eq!(rms(&[]), 0.0);
        let inter = [1i16, -1, 2, -2, 3, -3];
        assert_eq!(channel(&inter, 2, 0), vec![1, 2, 3]);
        assert_eq!(channel(&inter, 2, 1), vec![-1, -2, -3]);
        let left = sine(8000, 1000.0, 0.5, 300);
        let right = sine(8000, 440.0, 0.5, 300);
        let stereo: Vec<i16> = left
            .iter()
            .zip(&right)
            .flat_map(|(l, r)| [*l, *r])
            .collect();
        assert_eq!(
            dominant_tone(&channel(&stereo, 2, 0), 8000, TONES),
            Some(1000.0)
        );
        assert_eq!(
            dominant_tone(&channel(&stereo, 2, 1), 8000, TONES),
            Some(440.0)
        );
        assert!(tone_coverage(&channel(&stereo, 2, 1), 8000, 440.0, TONES) > 0.99);
    }

    #[test]
    fn wav_roundtrip_through_hound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for (l, r) in sine(8000, 1000.0, 0.5, 1000)
            .iter()
            .zip(sine(8000, 440.0, 0.5, 1000))
        {
            w.write_sample(*l).unwrap();
            w.write_sample(r).unwrap();
        }
        w.finalize().unwrap();
        let wav = Wav::read(&path);
        assert_eq!((wav.rate, wav.channels, wav.frames()), (8000, 2, 8000));
        assert_tone("left", &wav.channel(0), 8000, 1000.0, 0.95);
        assert_tone("right", &wav.channel(1), 8000, 440.0, 0.95);
    }

    #[test]
    fn g711_decoding() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
    }

    #[test]
    fn rtp_parsing() {
        let mut pkt = vec![0x80, 0x80, 0x00, 0x05, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
        pkt.extend([0xffu8; 160]);
        let p = parse_rtp(&pkt).unwrap();
        assert_eq!(
            (p.payload_type, p.marker, p.seq, p.timestamp),
            (0, true, 5, 160)
        );
        assert_eq!(p.ssrc, 0xdead_beef);
        assert_eq!(p.payload.len(), 160);
        // RTCP sender report is not RTP
        assert!(parse_rtp(&[0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn sipp_trace_parsing_and_challenge_fingerprint() {
        let log = "----------------------------------------------- 2026-11-22 19:16:40.046130\n\
UDP message sent (100 bytes):\n\n\
REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n\n\
----------------------------------------------- 2026-11-22 19:16:40.046376\n\
UDP message received [369] bytes :\n\n\
SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-1\r\nFrom: <sip:1001@h>;tag=a\r\nTo: <sip:1001@h>;tag=b\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm=\"hotline\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n\n";
        let m = sip_messages(log);
        assert_eq!(m.len(), 2);
        assert!(m[0].sent && !m[1].sent);
        assert_eq!(m[1].status(), Some(401));
        assert_eq!(
            m[1].headers("www-authenticate"),
            vec!["Digest realm=\"hotline\", nonce=\"abc\", algorithm=MD5, qop=\"auth\""]
        );
        let other = m[1]
            .text
            .replace("1001", "9999")
            .replace("nonce=\"abc\"", "nonce=\"zz9\"")
            .replace("tag=b", "tag=c");
        assert_eq!(
            challenge_fingerprint(&m[1].text),
            challenge_fingerprint(&other)
        );
        let different = m[1].text.replace("realm=\"hotline\"", "realm=\"x\"");
        assert_ne!(
            challenge_fingerprint(&m[1].text),
            challenge_fingerprint(&different)
        );
        assert!(challenge_fingerprint(&m[1].text).contains(
            &"www-authenticate: Digest realm=\"hotline\", nonce=*, algorithm=MD5, qop=\"auth\""
                .to_string()
        ));
    }

    #[test]
    fn config_template_renders() {
        let vars: Vec<(&str, String)> = [
            "sip_port",
            "data_dir",
            "recordings_dir",
            "prompts_dir",
            "ring_on_ms",
            "ring_off_ms",
            "ring_timeout_ms",
            "auto_pause_after_misses",
            "record",
            "media_port_min",
            "media_port_max",
            "api_token",
            "greeting",
        ]
        .iter()
        .map(|k| (*k, "1".to_string()))
        .chain([
            ("extra", String::new()),
            ("hotline_extra", String::new()),
            ("acd_extra", String::new()),
            ("prompts_extra", String::new()),
            ("line_test_extra", String::new()),
            ("http_extra", String::new()),
            ("sip_extra", String::new()),
            ("storage_extra", String::new()),
            ("media_extra", String::new()),
        ])
        .collect();
        let s = render_config(CONFIG_TEMPLATE, &vars);
        assert!(s.contains("on_ms = 1"));
        assert!(s.contains("numbers = [\"hotline\", \"4000\"]"));
    }

    #[test]
    fn ports_are_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..20 {
            assert!(seen.insert(free_udp_port()));
        }
        let (a, b) = free_port_pair();
        assert_eq!((a % 2, b), (0, a + 1));
        let m = free_media_port();
        assert!(!seen.contains(&m));
    }
}
