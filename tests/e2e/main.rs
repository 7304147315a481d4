#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! hotline end to end: the real binary against real SIP peers (SIPp and
//! baresip) over real sockets. Every test starts its own `hotline serve` on
//! free ports with a short ring cadence (200 ms on / 300 ms off, so the engine
//! answers by itself 1.2 s after the INVITE) and reads back what it wrote: the
//! event log and CDRs in SQLite, and the WAV recordings.
//!
//! `cargo test --test e2e`

#[path = "../common/mod.rs"]
mod common;

mod access;
mod agents;
mod bans;
mod call_control;
mod callback;
mod calls;
mod cases;
mod cli;
mod conformance;
mod console;
mod duty;
mod edge_tls;
mod grafana;
mod ha;
mod interop;
mod kpis;
mod linetest;
mod mandarin;
mod monitor;
mod outbound;
mod phone;
mod recordings;
mod registrar;
mod routing;
mod schedule;
mod shared_store;
mod spans;
mod srtp;
mod srtp_customer;
mod srtp_rekey;
mod timers;
mod tls;
mod trunks;
mod voicemail;
mod worklist;

use common::*;
use hotline_core::{CallEvent, CallId, EventKind};
use hotline_store::{Cdr, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Reads the hotline's database (it runs in another process).
fn read_db<T>(h: &Hotline, f: impl AsyncFnOnce(&Store) -> T) -> T {
    let url = h.database_url();
    runtime().block_on(async {
        let store = Store::connect(&url)
            .await
            .expect("open the hotline's database");
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// All CDRs, newest first.
fn cdrs(h: &Hotline) -> Vec<Cdr> {
    read_db(h, async |s| s.recent_cdrs(1000).await.expect("read CDRs"))
}

/// Waits until `n` calls have their CDR written.
fn wait_cdrs(h: &Hotline, n: usize) -> Vec<Cdr> {
    let mut got = Vec::new();
    let ok = wait_until(Duration::from_secs(15), || {
        got = cdrs(h);
        got.len() >= n
    });
    assert!(
        ok,
        "expected {n} CDRs, have {}: {got:#?}\n{}",
        got.len(),
        h.report()
    );
    got
}

fn events(h: &Hotline, call: &CallId) -> Vec<CallEvent> {
    read_db(h, async |s| {
        s.events_for_call(call).await.expect("read events")
    })
}

/// Every event in the log (agent events included), oldest first.
fn all_events(h: &Hotline) -> Vec<CallEvent> {
    read_db(h, async |s| {
        s.events_between(0, i64::MAX, 10_000)
            .await
            .expect("read events")
    })
}

/// Event kinds of a call, as their serde tag names, in order.
fn kinds(events: &[CallEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let v = serde_json::to_value(&e.kind).expect("event kind serialises");
            v.get("type")
                .and_then(|t| t.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .collect()
}

/// Registers `agent` (MD5 digest) from local port `port` with SIPp.
fn register(h: &Hotline, agent: &str, port: u16) {
    Sipp::new("agent_register.xml")
        .remote(&h.addr())
        .port(port)
        .credentials(agent, &format!("demo{agent}"))
        .run()
        .assert_success(&format!("register {agent}"));
}

/// One HTTP/1.1 request to the hotline's listener; returns (status, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    http_with(addr, method, path, &[], "")
}

/// An HTTP request with extra headers and a body.
fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP listener");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn find(events: &[CallEvent], pred: impl Fn(&EventKind) -> bool) -> Option<&CallEvent> {
    events.iter().find(|e| pred(&e.kind))
}

/// A raw SIP client over UDP for requests SIPp cannot make malformed.
struct RawSip {
    socket: std::net::UdpSocket,
    server: std::net::SocketAddr,
    seq: u32,
}

impl RawSip {
    fn new(h: &Hotline) -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        RawSip {
            socket,
            server: h.addr().parse().expect("server addr"),
            seq: 0,
        }
    }

    fn local(&self) -> std::net::SocketAddr {
        self.socket.local_addr().expect("local addr")
    }

    fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).expect("send");
    }

    /// Next datagram within `timeout`, as text.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(timeout)).ok()?;
        let mut buf = vec![0u8; 65536];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Responses until a final one (>= 200) or `timeout`.
    fn final_response(&self, timeout: Duration) -> Option<String> {
        let end = std::time::Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            let r = self.recv(left)?;
            if status_of(&r).is_some_and(|s| s >= 200) {
                return Some(r);
            }
        }
        None
    }

    /// The final response to the last request made (its CSeq), skipping
    /// strays (retransmitted answers to earlier requests), within `timeout`.
    fn final_response_to_last(&self, method: &str, timeout: Duration) -> Option<String> {
        let want = format!("CSeq: {} {method}", self.seq);
        let end = std::time::Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            let r = self.final_response(left)?;
            if r.contains(&want) {
                return Some(r);
            }
        }
        None
    }

    /// A well-formed request with our Via; `extra` headers end with CRLF.
    fn request(&mut self, method: &str, uri: &str, extra: &str, body: &str) -> String {
        self.seq += 1;
        let l = self.local();
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-raw-{seq}-{r}\r\nMax-Forwards: 70\r\nFrom: <sip:2001@{l}>;tag=raw{seq}\r\nTo: <{uri}>\r\nCall-ID: raw-{seq}-{r}@test\r\nCSeq: {seq} {method}\r\nContact: <sip:2001@{l}>\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
            seq = self.seq,
            r = std::process::id(),
            len = body.len()
        )
    }

    /// OPTIONS → status code.
    fn options(&mut self) -> Option<u16> {
        let uri = format!("sip:hotline@{}", self.server);
        let req = self.request("OPTIONS", &uri, "", "");
        self.send(req.as_bytes());
        // ignore stray responses to earlier requests
        let end = std::time::Instant::now() + Duration::from_secs(2);
        let want = format!("CSeq: {} OPTIONS", self.seq);
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            let r = self.recv(left)?;
            if r.contains(&want) {
                return status_of(&r);
            }
        }
        None
    }
}

fn status_of(msg: &str) -> Option<u16> {
    let first = msg.lines().next()?;
    first.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// A mono 8 kHz 16-bit sine WAV written into `dir` (short prompts for tests).
fn tone_wav(dir: &Path, name: &str, freq: f64, ms: u32) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
    for i in 0..(8 * ms) {
        let v = (f64::from(i) * 2.0 * std::f64::consts::PI * freq / 8000.0).sin() * 8000.0;
        w.write_sample(v as i16).expect("write sample");
    }
    w.finalize().expect("finalize wav");
    path
}

/// Config making the `general` queue closed right now whatever the hour:
/// open around the clock in UTC, but yesterday, today and tomorrow are
/// holidays. `schedule` and `queue` are extra lines for those sections.
fn closed_today_toml(schedule: &str, queue: &str) -> String {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    format!(
        "\n[schedule]\ntimezone = \"UTC\"\nholidays = [\"{}\", \"{today}\", \"{}\"]\n{schedule}\n\n[[queues]]\nid = \"general\"\nopen = [\"daily 00:00-24:00\"]\n{queue}\n",
        today.yesterday().expect("date"),
        today.tomorrow().expect("date"),
    )
}

/// Where the first event named `name` is in `kinds` (panics listing them).
fn position_of(kinds: &[String], name: &str) -> usize {
    kinds
        .iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("no {name} in {kinds:?}"))
}
