//! Where the numbers go, end to end: the wallboard's live stream
//! (`GET /api/stream`, Server-Sent Events) with a real SIPp call.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// One SSE frame as received: event name, data, wall-clock receive time (epoch ms).
#[derive(Clone, Debug)]
struct Received {
    name: String,
    data: String,
    at_ms: i64,
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A client of `GET /api/stream` reading frames on a thread.
struct StreamClient {
    frames: Arc<Mutex<Vec<Received>>>,
    headers: String,
    _socket: std::net::TcpStream,
}

impl StreamClient {
    /// Opens the stream at `path`; returns the status line and headers on
    /// anything but 200.
    fn open(addr: &str, path: &str) -> Result<StreamClient, String> {
        let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP listener");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut r = BufReader::new(s.try_clone().expect("clone socket"));
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return Err(headers);
            }
            if line == "\r\n" {
                break;
            }
            headers.push_str(&line);
        }
        if !headers.starts_with("HTTP/1.1 200") {
            let mut body = String::new();
            let _ = r.read_to_string(&mut body);
            return Err(format!("{headers}\n{body}"));
        }
        let chunked = headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let frames = Arc::new(Mutex::new(Vec::new()));
        let out = frames.clone();
        std::thread::spawn(move || {
            // de-chunk, then split into SSE frames on blank lines
            let mut text = String::new();
            loop {
                let chunk = if chunked {
                    let mut size = String::new();
                    if r.read_line(&mut size).unwrap_or(0) == 0 {
                        break;
                    }
                    let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    let mut buf = vec![0u8; n + 2];
                    if r.read_exact(&mut buf).is_err() {
                        break;
                    }
                    buf.truncate(n);
                    buf
                } else {
                    let mut buf = vec![0u8; 4096];
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            buf
                        }
                    }
                };
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let frame: String = text.drain(..end + 2).collect();
                    let mut name = String::from("message");
                    let mut data = String::new();
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("event: ") {
                            name = v.to_string();
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            data.push_str(v);
                        }
                    }
                    if frame.starts_with(':') {
                        continue; // keep-alive comment
                    }
                    out.lock().expect("frames").push(Received {
                        name,
                        data,
                        at_ms: epoch_ms(),
                    });
                }
            }
        });
        Ok(StreamClient {
            frames,
            headers,
            _socket: s,
        })
    }

    fn frames(&self) -> Vec<Received> {
        self.frames.lock().expect("frames").clone()
    }
}

impl Drop for StreamClient {
    fn drop(&mut self) {
        // the reader thread holds a clone: close the connection for both
        let _ = self._socket.shutdown(std::net::Shutdown::Both);
    }
}

/// The center's figures since start from `GET /api/stats` (waits up to 3 s
/// for `ready` to hold: the live task folds events as they come).
pub(crate) fn center_stats(
    h: &Hotline,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut center = serde_json::Value::Null;
    wait_until(Duration::from_secs(3), || {
        let (status, body) = http(&h.http_addr(), "GET", "/api/stats");
        center = serde_json::from_str::<serde_json::Value>(&body)
            .map(|v| v["since_start"]["center"].clone())
            .unwrap_or_default();
        status == 200 && ready(&center)
    });
    center
}

fn agent_uas(agent: &str, port: u16) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .duration_ms(0)
        .timeout(Duration::from_secs(40))
        .spawn()
}

#[test]
fn the_live_stream_carries_a_real_calls_events_and_snapshots_every_second() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        // two shifts cover the day: one of them is running
        extra_toml: "[[shifts]]\nname = \"am\"\nstart = \"00:00\"\nend = \"12:00\"\n[[shifts]]\nname = \"pm\"\nstart = \"12:00\"\nend = \"00:00\"\n".into(),
        ..HotlineOptions::default()
    });
    let web = h.http_addr();
    let client = StreamClient::open(&web, "/api/stream").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        client
            .headers
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{}",
        client.headers
    );
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = agent_uas("1001", port);
    let started = epoch_ms();
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(1500)
        .run()
        .assert_success("answered call");
    agent.wait().assert_success("agent 1001");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let call = cdr.call_id.as_str().to_string();
    // the completed event and a snapshot counting the call come through
    let done = wait_until(Duration::from_secs(5), || {
        client.frames().iter().any(|f| {
            f.name == "snapshot"
                && serde_json::from_str::<serde_json::Value>(&f.data)
                    .is_ok_and(|v| v["since_start"]["center"]["answered"] == 1)
        })
    });
    // every event of the call, as stored, comes through the stream
    let parse = |frames: &[Received]| -> Vec<(CallEvent, i64)> {
        frames
            .iter()
            .filter(|f| f.name == "call_event")
            .map(|f| {
                let e: CallEvent = serde_json::from_str(&f.data)
                    .unwrap_or_else(|e| panic!("call_event is a CallEvent: {e}: {}", f.data));
                (e, f.at_ms)
            })
            .collect()
    };
    let mut stored = Vec::new();
    let all_streamed = wait_until(Duration::from_secs(3), || {
        stored = events(&h, &cdr.call_id);
        let streamed = parse(&client.frames());
        stored.iter().all(|e| streamed.iter().any(|(s, _)| s == e))
    });
    let frames = client.frames();
    let names: Vec<&str> = frames.iter().map(|f| f.name.as_str()).collect();
    assert!(
        done,
        "no snapshot with the answered call: {names:?}\n{}",
        h.report()
    );
    assert!(
        all_streamed,
        "stored events missing from the stream: {:?}\nstream: {names:?}",
        kinds(&stored)
    );
    let ended = epoch_ms();
    // the first frame is the snapshot at connection
    assert_eq!(names.first(), Some(&"snapshot"), "{names:?}");
    let streamed = parse(&frames);
    let of_call: Vec<&(CallEvent, i64)> = streamed
        .iter()
        .filter(|(e, _)| e.call_id.as_ref().map(|c| c.as_str()) == Some(call.as_str()))
        .collect();
    for want in ["arrived", "agent_answered", "completed"] {
        assert!(
            of_call.iter().any(|(e, _)| e.kind.name() == want),
            "{want} missing: {:?}",
            kinds(&stored)
        );
    }
    let delays: Vec<i64> = of_call.iter().map(|(e, got)| got - e.at_ms).collect();
    eprintln!("stream delays (ms) of the call's events: {delays:?}");
    assert!(
        delays.iter().all(|d| *d <= 100),
        "an event took more than 100 ms to reach the stream: {delays:?}"
    );
    // the agent's registration (no call id) streams too
    assert!(
        streamed
            .iter()
            .any(|(e, _)| matches!(e.kind, EventKind::AgentRegistered { .. })),
        "{names:?}"
    );
    // at least one snapshot a second, none more than ~1.5 s apart
    let snaps: Vec<i64> = frames
        .iter()
        .filter(|f| f.name == "snapshot")
        .map(|f| f.at_ms)
        .collect();
    let span_s = (ended - started) as f64 / 1000.0;
    assert!(
        snaps.len() as f64 >= span_s.floor(),
        "{} snapshots in {span_s:.1} s",
        snaps.len()
    );
    let gaps: Vec<i64> = snaps.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g <= 1500),
        "snapshot gaps (ms): {gaps:?}"
    );
    for f in frames.iter().filter(|f| f.name == "snapshot") {
        let v: serde_json::Value = serde_json::from_str(&f.data).expect("snapshot JSON");
        assert!(v["last_15_min"]["center"].is_object(), "{v}");
    }
    // the last snapshot: today and the current shift count the call too
    let last = frames
        .iter()
        .rev()
        .find(|f| f.name == "snapshot")
        .expect("a snapshot");
    let v: serde_json::Value = serde_json::from_str(&last.data).expect("snapshot JSON");
    assert_eq!(v["today"]["center"]["answered"], 1, "{v}");
    let shift = &v["current_shift"];
    assert!(shift["name"] == "am" || shift["name"] == "pm", "{shift}");
    assert_eq!(shift["figures"]["center"]["answered"], 1, "{shift}");
    assert_eq!(v["since_start"]["agents"]["1001"]["answered"], 1, "{v}");
    // Prometheus: the agent's staffed time and occupancy
    let (_, text) = http(&web, "GET", "/metrics");
    let staffed = text
        .lines()
        .find_map(|l| l.strip_prefix("hotline_agent_staffed_seconds_total{agent=\"1001\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(staffed.is_some_and(|s| s > 0.0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("hotline_agent_occupancy_ratio{agent=\"1001\"} ")),
        "{text}"
    );
    // the report of today, from the stored log, has the live figures
    let today = std::process::Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .expect("date");
    let today = String::from_utf8_lossy(&today.stdout).trim().to_string();
    let out = std::process::Command::new(Hotline::binary())
        .args(["report", "--day", &today, "--config"])
        .arg(&h.config_path)
        .arg("--data")
        .arg(&h.data_dir)
        .output()
        .expect("run report");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_row_matches_live(
        row(&table(&csv, "scope"), "scope", "center"),
        &v["today"]["center"],
        // the report's rate is over the whole day, the live one until now
        // (so are the agents' staffed hours behind occupancy and calls per
        // agent hour); the stream's snapshots carry no store figures
        &[
            "calls_per_hour",
            "first_contact_resolution",
            "occupancy",
            "calls_per_agent_hour",
            "qa_score",
            "agent_turnover",
        ],
    );
    assert!(
        v["since_start"]["agents"]["1001"]["staffed_ms"]
            .as_i64()
            .is_some_and(|ms| ms > 0),
        "the registered agent is staffed: {v}"
    );
}

#[test]
fn the_stream_refuses_bad_queries_and_wrong_methods() {
    need_peers();
    let h = Hotline::start();
    let web = h.http_addr();
    for bad in [
        "/api/stream?events=maybe",
        "/api/stream?snapshots=",
        "/api/stream?events=true&evil=1",
        "/api/stream?%ff%fe=1",
    ] {
        let e = StreamClient::open(&web, bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(e.starts_with("HTTP/1.1 400"), "{bad}: {e}");
        assert!(e.contains("\"error\""), "{bad}: {e}");
    }
    assert_eq!(http(&web, "POST", "/api/stream").0, 405);
    // only snapshots: no call events even when an agent registers
    let client = StreamClient::open(&web, "/api/stream?events=false&snapshots=true")
        .unwrap_or_else(|e| panic!("{e}"));
    register(&h, "1001", free_udp_port());
    std::thread::sleep(Duration::from_millis(1500));
    let frames = client.frames();
    assert!(frames.len() >= 2, "{frames:?}");
    assert!(frames.iter().all(|f| f.name == "snapshot"), "{frames:?}");
    // the server still answers everything else
    assert_eq!(http(&web, "GET", "/health").0, 200);
}

#[test]
fn the_stream_caps_its_clients_and_survives_clients_that_never_read() {
    let h = Hotline::start();
    let web = h.http_addr();
    // 64 clients that read their status line, then never another byte
    let mut idle = Vec::new();
    for i in 0..64 {
        let mut s = std::net::TcpStream::connect(&web).expect("connect");
        s.write_all(format!("GET /api/stream HTTP/1.1\r\nHost: x{i}\r\n\r\n").as_bytes())
            .expect("send");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut status = [0u8; 12];
        s.read_exact(&mut status).expect("status line");
        assert_eq!(&status, b"HTTP/1.1 200", "client {i}");
        idle.push(s);
    }
    let mut last = String::new();
    let full = wait_until(Duration::from_secs(5), || {
        match StreamClient::open(&web, "/api/stream") {
            Ok(c) => {
                last = c.headers.clone();
                false
            }
            Err(e) => {
                last = e;
                last.starts_with("HTTP/1.1 503")
            }
        }
    });
    assert!(
        full,
        "the 65th client was not refused: {last}\n{}",
        h.report()
    );
    assert!(last.contains("too many stream clients"), "{last}");
    assert_eq!(http(&web, "GET", "/api/stats").0, 200, "still serving");
    drop(idle);
    let again = wait_until(Duration::from_secs(5), || {
        StreamClient::open(&web, "/api/stream").is_ok()
    });
    assert!(again, "slots come back when clients leave");
}

// ---------------------------------------------------------------------------
// hotline report over a stored event script
// ---------------------------------------------------------------------------

/// 2026-11-22 00:00 UTC, epoch ms.
const DAY: i64 = 1_795_305_600_000;
const H: i64 = 3_600_000;

fn ev(at: i64, call: &str, agent: Option<&str>, kind: EventKind) -> CallEvent {
    CallEvent {
        at_ms: at,
        call_id: Some(CallId::from_stored(call)),
        agent: agent.map(hotline_core::AgentId::new),
        queue: Some(hotline_core::QueueId::new("general")),
        kind,
    }
}

fn arrived(at: i64, call: &str, caller: &str) -> CallEvent {
    ev(
        at,
        call,
        None,
        EventKind::Arrived {
            caller: hotline_core::Party {
                number: caller.into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: hotline_core::CallType::Inquiry,
        },
    )
}

/// An answered call: arrival, answer after `wait` s by `agent`, `talk` s of talk.
fn answered(at: i64, call: &str, agent: &str, wait: i64, talk: i64) -> Vec<CallEvent> {
    vec![
        arrived(at, call, "0612345678"),
        ev(
            at + wait * 1000,
            call,
            Some(agent),
            EventKind::AgentAnswered {
                wait_ms: wait * 1000,
                rings: 2,
                limit_ms: None,
            },
        ),
        ev(
            at + (wait + talk) * 1000,
            call,
            Some(agent),
            EventKind::Completed {
                ended_by: hotline_core::EndedBy::Caller,
                talk_ms: talk * 1000,
            },
        ),
    ]
}

fn abandoned(at: i64, call: &str, caller: &str, wait: i64) -> Vec<CallEvent> {
    vec![
        arrived(at, call, caller),
        ev(
            at + wait * 1000,
            call,
            None,
            EventKind::Abandoned {
                wait_ms: wait * 1000,
                position: 1,
            },
        ),
    ]
}

/// The fixed script of 2026-11-22 (and its neighbours), figures computed by
/// hand in [`a_report_of_a_stored_event_script_matches_hand_computed_figures`].
fn script() -> Vec<CallEvent> {
    let mut e = Vec::new();
    // c1 08:00 inquiry, waited 10 s, talked 120 s with 1001; 1002 let it ring out first
    e.extend(answered(DAY + 8 * H, "c1", "1001", 10, 120));
    e.push(ev(
        DAY + 8 * H + 5_000,
        "c1",
        Some("1002"),
        EventKind::AgentRingNoAnswer { rang_ms: 5_000 },
    ));
    // c2 08:30 an order (IVR), waited 30 s, talked 90 s with 1002, past its limit
    e.extend(answered(DAY + 8 * H + 1_800_000, "c2", "1002", 30, 90));
    e.push(ev(
        DAY + 8 * H + 1_801_000,
        "c2",
        None,
        EventKind::IvrChoice {
            digit: "1".into(),
            call_type: hotline_core::CallType::Order,
            language: None,
        },
    ));
    e.push(ev(
        DAY + 8 * H + 1_800_000 + 90_000,
        "c2",
        Some("1002"),
        EventKind::LimitExceeded {
            call_type: hotline_core::CallType::Order,
            limit_ms: 60_000,
        },
    ));
    // c3 09:10 hung up after 3 s (short), a hostile caller id
    e.extend(abandoned(
        DAY + 9 * H + 600_000,
        "c3",
        "<script>alert(1)</script>",
        3,
    ));
    // c4 09:20 hung up after 40 s
    e.extend(abandoned(DAY + 9 * H + 1_200_000, "c4", "0699999999", 40));
    // c5 09:40 the queue was full
    e.push(arrived(DAY + 9 * H + 2_400_000, "c5", "0655555555"));
    e.push(ev(
        DAY + 9 * H + 2_400_000,
        "c5",
        None,
        EventKind::Rejected {
            status: 486,
            reason: "queue general full (10 waiting)".into(),
        },
    ));
    // c6 23:59:50, waited 5 s, talked 60 s into the next day
    e.extend(answered(DAY + 24 * H - 10_000, "c6", "1001", 5, 60));
    // c7 arrived the day before, abandoned after midnight: not this day's
    e.extend(abandoned(DAY - 1_000, "c7", "0600000007", 11));
    // c8 arrived at midnight the day after: not this day's (still waiting)
    e.push(arrived(DAY + 24 * H, "c8", "0600000008"));
    // 1001's phone: registered 07:00 for an hour, refreshed at 07:30 (until
    // 08:30) and at 08:15 (until 09:15), unregistered at 09:00; paused 08:40-08:50
    let agent = |at: i64, kind: EventKind| CallEvent {
        at_ms: at,
        call_id: None,
        agent: Some(hotline_core::AgentId::new("1001")),
        queue: None,
        kind,
    };
    let reg = || EventKind::AgentRegistered {
        contact: "sip:1001@127.0.0.1:5070".into(),
        expires_s: 3600,
    };
    e.push(agent(DAY + 7 * H, reg()));
    e.push(agent(DAY + 7 * H + 1_800_000, reg()));
    e.push(agent(DAY + 8 * H + 900_000, reg()));
    e.push(agent(
        DAY + 8 * H + 2_400_000,
        EventKind::AgentPaused {
            reason: "coffee".into(),
            by: "phone".into(),
            after_call: false,
        },
    ));
    e.push(agent(
        DAY + 8 * H + 3_000_000,
        EventKind::AgentUnpaused { by: "phone".into() },
    ));
    e.push(agent(
        DAY + 9 * H,
        EventKind::AgentUnregistered {
            contact: "sip:1001@127.0.0.1:5070".into(),
        },
    ));
    e
}

/// A data directory whose SQLite log holds `events`, and the shipped config
/// in the UTC calendar with a night shift.
fn stored(events: &[CallEvent]) -> (tempfile::TempDir, std::path::PathBuf) {
    stored_with(
        events,
        &[("timezone = \"Asia/Shanghai\"", "timezone = \"UTC\"")],
    )
}

/// A data directory whose SQLite log holds `events`, and the shipped config
/// (with each `(from, to)` replaced) plus two shifts.
fn stored_with(
    events: &[CallEvent],
    replace: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hotline.db");
    let url = format!("sqlite://{}", db.display());
    runtime().block_on(async {
        let store = Store::connect(&url).await.expect("create the database");
        for e in events {
            store.append_event(e).await.expect("append");
        }
        store.close().await;
    });
    let mut shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"),
    )
    .expect("shipped config");
    for (from, to) in replace {
        assert!(
            shipped.contains(from),
            "{from} is not in the shipped config"
        );
        shipped = shipped.replacen(from, to, 1);
    }
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "{shipped}\n[[shifts]]\nname = \"test-night\"\nstart = \"22:00\"\nend = \"06:00\"\n\n[[shifts]]\nname = \"test-bj\"\nstart = \"08:00\"\nend = \"10:00\"\n"
        ),
    )
    .expect("write config");
    (dir, config)
}

/// `hotline report ARGS --config CONFIG --data DIR` → (exit code, stdout, stderr).
fn report(
    dir: &tempfile::TempDir,
    config: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = std::process::Command::new(Hotline::binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("report")
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("run hotline report");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CSV table whose header starts with `first`: rows as (key, cells by header name).
fn table(csv: &str, first: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{first},")));
    let Some(header) = lines.next() else {
        panic!("no table {first}:\n{csv}");
    };
    let names: Vec<&str> = header.split(',').collect();
    lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            names
                .iter()
                .map(|n| n.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn row<'a>(
    t: &'a [std::collections::HashMap<String, String>],
    key: &str,
    value: &str,
) -> &'a std::collections::HashMap<String, String> {
    t.iter()
        .find(|r| r.get(key).map(String::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no row {key}={value} in {t:?}"))
}

/// Every figure of a report's scope row equals the live calculator's (as
/// JSON, `Figures`), formatted the way the report formats it; `skip` names
/// columns that legitimately differ.
fn assert_row_matches_live(
    row: &std::collections::HashMap<String, String>,
    live: &serde_json::Value,
    skip: &[&str],
) {
    let mut compared = 0;
    for (col, text) in row {
        if col == "scope" || skip.contains(&col.as_str()) {
            continue;
        }
        let (key, scale) = match col.as_str() {
            "system_answered_within_3_rings" => ("system_answered_within_rings".to_string(), 1.0),
            "agent_answered_within_3_rings" => ("agent_answered_within_rings".to_string(), 1.0),
            c if c.ends_with("_s") => (format!("{}_ms", &c[..c.len() - 2]), 0.001),
            c => (c.to_string(), 1.0),
        };
        let Some(v) = live.get(&key) else {
            panic!("report column {col} has no live figure {key}: {live}");
        };
        let want = match v {
            serde_json::Value::Null => String::new(),
            v if v.is_u64() && scale == 1.0 => v.to_string(),
            v => format!("{:.3}", v.as_f64().expect("a number") * scale),
        };
        assert_eq!(
            text, &want,
            "{col}: report {text:?}, live {want:?} ({key} = {v})"
        );
        compared += 1;
    }
    assert!(compared >= 18, "only {compared} columns compared: {row:?}");
}

fn check(r: &std::collections::HashMap<String, String>, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(r.get(*k).map(String::as_str), Some(*v), "{k} in {r:?}");
    }
}

#[test]
fn a_report_of_a_stored_event_script_matches_hand_computed_figures() {
    let (dir, config) = stored(&script());
    let (code, csv, err) = report(&dir, &config, &["--day", "2026-11-22"]);
    assert_eq!(code, 0, "{err}");
    let scopes = table(&csv, "scope");
    // offered c1 c2 c3 c4 c6; c5 refused (queue full: blocked); c7, c8 other days
    // ASA (10 + 30 + 5) / 3 = 15 s; SL: c1, c6 within 20 s of 3 answered + 1 long abandon (c4)
    // abandon rate 2/5, without short (2-1)/(5-1); talk (120 + 90 + 60) / 3 = 90 s
    // within limit 2 of 3 completed; busy 1 of 6 arrivals; 5 calls over 24 h
    check(
        row(&scopes, "scope", "center"),
        &[
            ("offered", "5"),
            ("answered", "3"),
            ("abandoned", "2"),
            ("short_abandoned", "1"),
            ("rejected", "1"),
            ("blocked", "1"),
            ("asa_s", "15.000"),
            ("service_level", "0.500"),
            ("abandon_rate", "0.400"),
            ("abandon_rate_without_short", "0.250"),
            ("avg_talk_s", "90.000"),
            ("within_limit", "0.667"),
            ("busy_rate", "0.167"),
            ("calls_per_hour", "0.208"),
            ("avg_time_to_abandon_s", "21.500"),
            // c1, c2, c6 are one caller, who called again within 24 h
            // after c1 and after c2; c6 was the last call
            ("first_contact_resolution", "0.333"),
        ],
    );
    check(row(&scopes, "scope", "queue:general"), &[("offered", "5")]);
    let types = table(&csv, "call_type");
    check(
        row(&types, "call_type", "inquiry"),
        &[
            ("answered", "2"),
            ("completed", "2"),
            ("aht_s", "90.000"),
            ("within_limit", "1.000"),
        ],
    );
    check(
        row(&types, "call_type", "order"),
        &[
            ("answered", "1"),
            ("aht_s", "90.000"),
            ("limit_exceeded", "1"),
            ("within_limit", "0.000"),
        ],
    );
    let agents = table(&csv, "agent");
    check(
        row(&agents, "agent", "1001"),
        &[
            ("answered", "2"),
            ("missed", "0"),
            ("talk_s", "180.000"),
            ("avg_talk_s", "90.000"),
            // staffed 07:00-09:00, paused 10 min: occupancy 180 / 6600 s
            ("staffed_s", "7200.000"),
            ("paused_s", "600.000"),
            ("occupancy", "0.027"),
            ("utilisation", "0.025"),
        ],
    );
    check(
        row(&agents, "agent", "1002"),
        &[
            ("answered", "1"),
            ("missed", "1"),
            ("rang_out", "1"),
            ("limit_exceeded", "1"),
            ("within_limit", "0.000"),
        ],
    );
    let hours = table(&csv, "hour");
    assert_eq!(hours.len(), 24, "{csv}");
    check(
        row(&hours, "hour", "2026-11-22 08:00"),
        &[
            ("offered", "2"),
            ("answered", "2"),
            ("asa_s", "20.000"),
            ("service_level", "0.500"),
        ],
    );
    check(
        row(&hours, "hour", "2026-11-22 09:00"),
        &[("offered", "2"), ("abandoned", "2"), ("asa_s", "")],
    );
    check(row(&hours, "hour", "2026-11-22 23:00"), &[("offered", "1")]);
    check(row(&hours, "hour", "2026-11-22 12:00"), &[("offered", "0")]);
    let missed = table(&csv, "missed_call");
    let outcomes: Vec<(&str, &str)> = missed
        .iter()
        .map(|r| (r["missed_call"].as_str(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("c3", "short_abandoned"),
            ("c4", "abandoned"),
            ("c5", "blocked")
        ]
    );
    check(
        row(&missed, "missed_call", "c4"),
        &[("wait_s", "40.000"), ("caller", "0699999999")],
    );

    // the same figures from the live calculator fed the same events
    let mut live = hotline_metrics::kpi::Metrics::new(Default::default());
    for e in script() {
        live.apply(&e);
    }
    let s = live.snapshot_window(DAY, DAY + 24 * H);
    let json = serde_json::to_value(&s).expect("snapshot JSON");
    assert_row_matches_live(
        row(&scopes, "scope", "center"),
        &json["center"],
        &["first_contact_resolution"],
    );
    assert_row_matches_live(
        row(&scopes, "scope", "queue:general"),
        &json["queues"]["general"],
        &["first_contact_resolution"],
    );

    // the night shift 22:00 to 06:00: c6 and c8
    let (code, csv, err) = report(
        &dir,
        &config,
        &["--shift", "test-night", "--day", "2026-11-22"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        csv.starts_with(
            "# hotline report: shift test-night of 2026-11-22 (2026-11-22 22:00 to 2026-11-23 06:00 UTC)"
        ),
        "{csv}"
    );
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[("offered", "2"), ("answered", "1")],
    );
    assert_eq!(table(&csv, "hour").len(), 8);
    // 08:00 to 10:00 UTC (16:00 to 18:00 in Beijing): c1 to c5
    let (code, csv, err) = report(
        &dir,
        &config,
        &["--shift", "test-bj", "--day", "2026-11-22"],
    );
    assert_eq!(code, 0, "{err}");
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[("offered", "4"), ("answered", "2"), ("rejected", "1")],
    );
    // a range in another zone: 2026-11-22 16:00+08:00 = 08:00 UTC, one hour: c1 and c2
    let (code, csv, err) = report(
        &dir,
        &config,
        &[
            "--from",
            "2026-11-22T16:00:00+08:00",
            "--to",
            "2026-11-22T09:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{err}");
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[("offered", "2"), ("answered", "2"), ("asa_s", "20.000")],
    );
}

#[test]
fn the_html_report_is_one_self_contained_page_with_the_figures() {
    let (dir, config) = stored(&script());
    let page = dir.path().join("report.html");
    let out = page.to_string_lossy().into_owned();
    let (code, stdout, err) = report(
        &dir,
        &config,
        &["--day", "2026-11-22", "--format", "html", "--out", &out],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.is_empty(),
        "--out writes the file, not stdout: {stdout}"
    );
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for want in [
        "day 2026-11-22 (UTC)",
        "<div class=\"kpi\">Calls<b>5</b></div>",
        "<div class=\"kpi\">Answered<b>3</b></div>",
        "<div class=\"kpi\">Abandoned<b>2 <small>(1 short)</small></b></div>",
        "<div class=\"kpi\">ASA<b>15.0&#8239;s</b></div>",
        "<div class=\"kpi\">Service level<b>50.0&#8239;%</b></div>",
        "<div class=\"kpi\">Within limit<b>66.7&#8239;%</b></div>",
        "<div class=\"kpi\">First-contact resolution<b>33.3&#8239;%</b></div>",
        "<td>order</td><td>1</td><td>1</td><td>90.0&#8239;s</td><td>1</td><td>0.0&#8239;%</td>",
        "<td>1002</td><td>1</td><td>1</td>",
        "Missed calls (3)",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "Calls per hour",
        "Average speed of answer per hour",
    ] {
        assert!(html.contains(want), "{want} missing:\n{html}");
    }
    // self-contained: no script, no external resource of any kind
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "http:", "https:", "src=", "href=", "@import", "url(",
    ] {
        assert!(!lower.contains(banned), "{banned} in the page");
    }
    // well-formed enough: every element we open is closed, the charts have bars
    for tag in [
        "html", "head", "body", "table", "thead", "tbody", "tr", "svg", "figure", "style", "title",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    // calls, ASA and dropped calls per hour
    assert_eq!(html.matches("<svg ").count(), 3);
    assert_eq!(html.matches("<rect ").count(), 72, "24 hours in 3 charts");
    assert!(html.contains("aria-label=\"Dropped calls per hour\""));

    // a day without data: zeros and dashes, no error
    let (code, html, err) = report(&dir, &config, &["--day", "2026-01-01", "--format", "html"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        html.contains("<div class=\"kpi\">Calls<b>0</b></div>"),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"kpi\">ASA<b>&ndash;</b></div>"),
        "{html}"
    );
    assert!(html.contains("Missed calls (0)"), "{html}");
}

/// A call at 07:30 in Shanghai (23:30 UTC the day before) is on that local
/// day in `hotline report --day`, with the shipped config (Asia/Shanghai).
#[test]
fn a_report_day_is_a_day_of_the_center_s_time_zone() {
    // 2026-11-23 07:30 +08:00 = 2026-11-22 23:30 UTC; and 09:00 +08:00 on the 22nd
    let mut events = answered(DAY + 23 * H + 1_800_000, "early", "1001", 4, 30);
    events.extend(answered(DAY + H, "yesterday", "1002", 4, 30));
    let (dir, config) = stored_with(&events, &[]);
    let (code, csv, err) = report(&dir, &config, &["--day", "2026-11-23"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        csv.starts_with("# hotline report: day 2026-11-23 (Asia/Shanghai)"),
        "{csv}"
    );
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[("offered", "1"), ("answered", "1")],
    );
    let hours = table(&csv, "hour");
    assert_eq!(hours.len(), 24);
    check(row(&hours, "hour", "2026-11-23 07:00"), &[("offered", "1")]);
    let (code, csv, err) = report(&dir, &config, &["--day", "2026-11-22"]);
    assert_eq!(code, 0, "{err}");
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[("offered", "1"), ("answered", "1")],
    );
    check(
        row(&table(&csv, "hour"), "hour", "2026-11-22 09:00"),
        &[("offered", "1")],
    );
}

/// `ring.answer_after_rings = 2` is the target of the "within N rings"
/// figures and names their CSV columns.
#[test]
fn the_ring_target_of_the_config_counts_and_names_the_columns() {
    // answered() hears 2 rings; a third call hears 3
    let mut events = script();
    let mut three = answered(DAY + 12 * H, "three", "1001", 12, 30);
    if let EventKind::AgentAnswered { rings, .. } = &mut three[1].kind {
        *rings = 3;
    }
    events.extend(three);
    for (target, within) in [("3", "1.000"), ("2", "0.750")] {
        let (dir, config) = stored_with(
            &events,
            &[
                ("timezone = \"Asia/Shanghai\"", "timezone = \"UTC\""),
                (
                    "answer_after_rings = 3",
                    &format!("answer_after_rings = {target}"),
                ),
            ],
        );
        let (code, csv, err) = report(&dir, &config, &["--day", "2026-11-22"]);
        assert_eq!(code, 0, "{err}");
        let header = csv
            .lines()
            .find(|l| l.starts_with("scope,"))
            .expect("header");
        let col = format!("agent_answered_within_{target}_rings");
        assert!(header.contains(&format!(",{col},")), "{header}");
        assert_eq!(header.matches("_rings,").count(), 2, "{header}");
        check(
            row(&table(&csv, "scope"), "scope", "center"),
            &[(col.as_str(), within)],
        );
    }
}

#[test]
fn a_report_for_a_day_without_data_is_zeros_and_empty_ratios() {
    let (dir, config) = stored(&script());
    let (code, csv, err) = report(&dir, &config, &["--day", "2025-06-01"]);
    assert_eq!(code, 0, "{err}");
    check(
        row(&table(&csv, "scope"), "scope", "center"),
        &[
            ("offered", "0"),
            ("answered", "0"),
            ("asa_s", ""),
            ("service_level", ""),
            ("busy_rate", ""),
        ],
    );
    assert!(table(&csv, "agent").is_empty(), "{csv}");
    assert!(table(&csv, "missed_call").is_empty(), "{csv}");
    assert_eq!(table(&csv, "hour").len(), 24);
}

#[test]
fn report_refuses_absurd_periods_with_a_clear_error() {
    let (dir, config) = stored(&[]);
    let cases: [(&[&str], &str); 12] = [
        (
            &["--from", "2026-11-23", "--to", "2026-11-22"],
            "must be after --from",
        ),
        (
            &[
                "--from",
                "2026-11-22T10:00:00Z",
                "--to",
                "2026-11-22T10:00:00Z",
            ],
            "must be after --from",
        ),
        (
            &["--from", "2000-01-01", "--to", "2026-01-01"],
            "at most 31 days",
        ),
        (
            &["--from", "2026-11-22T25:00:00Z", "--to", "2026-11-23"],
            "--from",
        ),
        (&["--from", "2026-11-22", "--to", "soon"], "--to"),
        (&["--day", "2026-02-30"], "--day"),
        (
            &["--day", "2026-11-22", "--shift", "lunch"],
            "no shift named \"lunch\"",
        ),
        (&["--from", "2026-11-22"], "--to"),
        (
            &[
                "--day",
                "2026-11-22",
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-23",
            ],
            "--from",
        ),
        (&["--day", "2026-11-22", "--format", "pdf"], "--format"),
        (&[], "--day"),
        (
            &["--day", "2026-11-22", "--out", "/nonexistent-dir/x.csv"],
            "--out",
        ),
    ];
    for (args, want) in cases {
        let (code, stdout, err) = report(&dir, &config, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?} should say {want}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

#[test]
fn check_config_names_a_bad_shift() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"),
    )
    .expect("shipped config");
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!("{shipped}\n[[shifts]]\nname = \"late\"\nstart = \"22:00\"\nend = \"6 am\"\n"),
    )
    .expect("write");
    let out = std::process::Command::new(Hotline::binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check-config")
        .arg(&config)
        .output()
        .expect("run hotline");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("].end: expected HH:MM") && err.contains("6 am"),
        "{err}"
    );
}
