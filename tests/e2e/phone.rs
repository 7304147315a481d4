//! `hotline-phone`, the agent softphone bridge, against a running hotline:
//! it registers as agent 1001 with WAV files standing in for the headset,
//! auto-answers a SIPp caller, and the tones cross both ways. Plus hostile
//! cases: a registrar answering 403, a missing WAV, an INVITE offering no
//! codec we speak.
//!
//! The phone is another package's binary, so `CARGO_BIN_EXE_*` does not name
//! it: [`phone_binary`] runs `cargo build -p hotline-phone` once (a no-op when
//! it is fresh) into the same target directory as this test executable and
//! uses `<target>/<profile>/hotline-phone`.

use super::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Builds (once per test run) and locates the `hotline-phone` binary.
fn phone_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // <target>/<profile>/deps/e2e-HASH
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile dir")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "hotline-phone", "--bin", "hotline-phone"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build -p hotline-phone");
        assert!(
            out.status.success(),
            "cargo build -p hotline-phone failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join("hotline-phone");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

/// A running `hotline-phone` with its output collected.
struct Phone {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Phone {
    fn spawn(args: &[String]) -> Phone {
        Phone::spawn_with(args, Stdio::null())
    }

    /// With stdin piped (the phone's line commands).
    fn spawn_piped(args: &[String]) -> (Phone, std::process::ChildStdin) {
        let mut p = Phone::spawn_with(args, Stdio::piped());
        let stdin = p.child.stdin.take().expect("stdin");
        (p, stdin)
    }

    fn spawn_with(args: &[String], stdin: Stdio) -> Phone {
        let mut child = Command::new(phone_binary())
            .args(args)
            .env("HOTLINE_PHONE_LOG", "info,rsipstack=warn")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hotline-phone");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        for (stream, buf) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
                stdout.clone(),
            ),
            (
                Box::new(child.stderr.take().expect("stderr")),
                stderr.clone(),
            ),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                    b.push_str(&line);
                    b.push('\n');
                }
            });
        }
        Phone {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn report(&self) -> String {
        format!(
            "--- hotline-phone stdout ---\n{}\n--- hotline-phone stderr ---\n{}",
            self.stdout(),
            self.stderr.lock().unwrap_or_else(|e| e.into_inner())
        )
    }

    /// Panics with the phone's output unless `needle` shows within `timeout`.
    fn expect_line(&self, needle: &str, timeout: Duration) {
        assert!(
            self.wait_line(needle, timeout),
            "`{needle}` not seen\n{}",
            self.report()
        );
    }

    fn wait_line(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.stdout().contains(needle))
    }

    /// Waits for the exit; returns the code (None = killed after timeout).
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                // let the reader threads drain
                std::thread::sleep(Duration::from_millis(100));
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        terminate(&mut self.child, Duration::from_secs(2));
        None
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(2));
    }
}

fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create WAV");
    for s in samples {
        w.write_sample(*s).expect("write WAV");
    }
    w.finalize().expect("finalize WAV");
}

fn s(v: &str) -> String {
    v.to_string()
}

/// The middle of the audible part of a signal (skips the silence before
/// the call and after it, and the first/last 200 ms of ramps).
fn audible(samples: &[i16], rate: u32) -> &[i16] {
    let first = samples.iter().position(|v| v.unsigned_abs() > 2000);
    let last = samples.iter().rposition(|v| v.unsigned_abs() > 2000);
    match (first, last) {
        (Some(a), Some(b)) if b > a + rate as usize / 2 => {
            let trim = rate as usize / 5;
            &samples[a + trim..b - trim]
        }
        _ => &[],
    }
}

/// A hotline whose rings last 1 s on / 1 s off: the phone answers (300 ms)
/// long before the engine would.
fn hotline_with_slow_rings() -> Hotline {
    Hotline::start_with(HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        ..HotlineOptions::default()
    })
}

#[test]
fn the_phone_registers_auto_answers_and_bridges_the_tones_both_ways() {
    need_peers();
    let h = hotline_with_slow_rings();
    let dir = tempfile::tempdir().expect("temp dir");
    // the microphone: 440 Hz at 44.1 kHz (a rate that needs a real resampler)
    let input = dir.path().join("mic.wav");
    write_wav(&input, 44100, &sine(44100, AGENT_TONE_HZ, 0.4, 2000));
    let output = dir.path().join("headset.wav");
    let pw = dir.path().join("password");
    std::fs::write(&pw, "demo1001\n").expect("password file");
    let mut phone = Phone::spawn(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1001"),
        s("--password-file"),
        pw.display().to_string(),
        s("--input-wav"),
        input.display().to_string(),
        s("--output-wav"),
        output.display().to_string(),
        s("--output-rate"),
        s("48000"),
        s("--auto-answer-ms"),
        s("300"),
        s("--calls"),
        s("1"),
    ]);
    assert!(
        phone.wait_line("hotline-phone: registered 1001@", Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    let out = Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(4000)
        .run();
    out.assert_success("caller talks to the hotline-phone agent");
    let code = phone.wait_exit(Duration::from_secs(15));
    let report = phone.report();
    assert_eq!(code, Some(0), "{report}");
    if let Some(l) = report.lines().find(|l| l.contains("ended after")) {
        eprintln!("{l}");
    }
    for line in [
        "ringing: call from 0612345678",
        "answered call from 0612345678",
        "ended after",
    ] {
        assert!(report.contains(line), "`{line}` missing\n{report}");
    }
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some("1001"),
        "{cdr:#?}\n{report}"
    );
    // the headset heard the caller's 1000 Hz (at the device rate, 48 kHz)
    let heard = Wav::read(&output);
    assert_eq!((heard.rate, heard.channels), (48000, 1));
    let talk = audible(&heard.samples, 48000);
    assert!(
        talk.len() > 48000 * 2,
        "only {} audible samples in the headset WAV\n{report}",
        talk.len()
    );
    assert_tone(
        "headset output (caller's tone)",
        talk,
        48000,
        CALLER_TONE_HZ,
        0.9,
    );
    // the caller's side of the recording is the caller; the agent channel
    // carries the phone's microphone: 440 Hz
    let rel = cdr.recording_path.as_deref().expect("recording path");
    let rec = Wav::read(&h.recordings_dir().join(rel));
    let right = rec.channel(1);
    let agent_talk = audible(&right, 8000);
    assert!(
        agent_talk.len() > 8000 * 2,
        "agent channel nearly silent\n{report}"
    );
    assert_tone(
        "recording right (the phone's microphone)",
        agent_talk,
        8000,
        AGENT_TONE_HZ,
        0.9,
    );
    assert_tone(
        "recording left (caller)",
        &rec.channel(0),
        8000,
        CALLER_TONE_HZ,
        0.7,
    );
    // replay that recording as a supervisor would: each side alone, at half
    // speed, rendered to a file: twice as long, same pitch
    let rec_path = h.recordings_dir().join(rel);
    for (channel, hz) in [("agent", AGENT_TONE_HZ), ("caller", CALLER_TONE_HZ)] {
        let out = dir.path().join(format!("replay-{channel}.wav"));
        let run = Command::new(phone_binary())
            .arg("play")
            .arg(&rec_path)
            .args(["--channel", channel, "--speed", "0.5", "--output-wav"])
            .arg(&out)
            .output()
            .expect("run hotline-phone play");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let slow = Wav::read(&out);
        assert_eq!((slow.rate, slow.channels), (8000, 1));
        let (n, m) = (slow.samples.len() as f64, rec.channel(1).len() as f64);
        assert!((n / m - 2.0).abs() < 0.02, "{channel}: {n} vs {m} samples");
        assert_tone(
            &format!("replay of the {channel} channel at 0.5x"),
            audible(&slow.samples, 8000),
            8000,
            hz,
            0.85,
        );
    }
    // the same through the server's audited `hotline recordings play ID`,
    // which runs this very player
    use super::access::{hotline as hotline_cli, ok};
    let pw = dir.path().join("sue.pw");
    std::fs::write(&pw, "sue password\n").expect("password file");
    let pw = pw.display().to_string();
    ok(&hotline_cli(
        &h,
        &[
            "users",
            "add",
            "sue",
            "--role",
            "supervisor",
            "--password-file",
            &pw,
        ],
    ));
    let out = dir.path().join("audited.wav");
    let player = phone_binary();
    ok(&hotline_cli(
        &h,
        &[
            "recordings",
            "play",
            cdr.call_id.as_str(),
            "--user",
            "sue",
            "--password-file",
            &pw,
            "--player",
            player.to_str().unwrap_or_default(),
            "--channel",
            "agent",
            "--speed",
            "0.5",
            "--reason",
            "e2e",
            "--output-wav",
            out.to_str().unwrap_or_default(),
        ],
    ));
    assert_tone(
        "audited replay of the agent channel",
        audible(&Wav::read(&out).samples, 8000),
        8000,
        AGENT_TONE_HZ,
        0.85,
    );
}

/// A registrar that answers every REGISTER with 403 (the hotline itself
/// answers a wrong password with 401 again, so this stands in for a server
/// that forbids the agent outright).
fn forbidding_registrar() -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = sock.local_addr().expect("addr");
    sock.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut answered = 0;
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if !req.starts_with("REGISTER ") {
                continue;
            }
            let mut resp = String::from("SIP/2.0 403 Forbidden\r\n");
            for l in req.lines() {
                let lower = l.to_ascii_lowercase();
                if ["via:", "from:", "call-id:", "cseq:"]
                    .iter()
                    .any(|p| lower.starts_with(p))
                {
                    resp.push_str(l);
                    resp.push_str("\r\n");
                } else if lower.starts_with("to:") {
                    resp.push_str(l);
                    resp.push_str(";tag=forbid\r\n");
                }
            }
            resp.push_str("Content-Length: 0\r\n\r\n");
            sock.send_to(resp.as_bytes(), from).ok();
            answered += 1;
            break;
        }
        answered
    });
    (addr, t)
}

#[test]
fn a_registrar_answering_403_stops_the_phone_with_a_clear_message_and_exit_code_2() {
    // build the phone first: the fake registrar waits only so long
    phone_binary();
    let (addr, registrar) = forbidding_registrar();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Phone::spawn(&[
        s("--server"),
        addr.to_string(),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("whatever"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
    ]);
    let code = phone.wait_exit(Duration::from_secs(15));
    let report = phone.report();
    assert_eq!(code, Some(2), "{report}");
    assert!(
        report.contains("registration as 1001 refused") && report.contains("403"),
        "{report}"
    );
    assert!(!report.contains("panicked"), "{report}");
    assert_eq!(registrar.join().expect("registrar thread"), 1);
}

#[test]
fn a_missing_input_wav_is_a_clear_error_before_any_sip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-mic.wav");
    let mut phone = Phone::spawn(&[
        s("--server"),
        s("127.0.0.1:9"),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("x"),
        s("--input-wav"),
        missing.display().to_string(),
    ]);
    let code = phone.wait_exit(Duration::from_secs(10));
    let report = phone.report();
    assert_eq!(code, Some(3), "{report}");
    assert!(
        report.contains("cannot read input WAV") && report.contains("no-such-mic.wav"),
        "{report}"
    );
}

#[test]
fn an_invite_without_a_common_codec_gets_488_and_the_phone_stays_registered() {
    need_peers();
    let h = Hotline::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Phone::spawn(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1002"),
        s("--password"),
        s("demo1002"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
        s("--auto-answer-ms"),
        s("0"),
    ]);
    assert!(
        phone.wait_line("hotline-phone: registered 1002@", Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    // the phone's SIP address, from its status line "... from IP:PORT (expires"
    let out = phone.stdout();
    let contact: std::net::SocketAddr = out
        .split(" from ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {out}"));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(3))).ok();
    let l = sock.local_addr().expect("addr");
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18 9\r\na=rtpmap:18 G729/8000\r\na=rtpmap:9 G722/8000\r\n";
    let invite = format!(
        "INVITE sip:1002@{contact} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-nocodec\r\nMax-Forwards: 70\r\nFrom: <sip:0611@{l}>;tag=nc1\r\nTo: <sip:1002@{contact}>\r\nCall-ID: nocodec@test\r\nCSeq: 1 INVITE\r\nContact: <sip:0611@{l}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.send_to(invite.as_bytes(), contact)
        .expect("send INVITE");
    let mut buf = [0u8; 4096];
    let mut final_status = None;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let Ok(n) = sock.recv(&mut buf) else { break };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if let Some(code) = status_of(&text).filter(|c| *c >= 200) {
            final_status = Some(code);
            break;
        }
    }
    assert_eq!(final_status, Some(488), "{}", phone.report());
    phone.expect_line("no common codec", Duration::from_secs(2));
    // still alive and registered
    assert!(
        phone.child.try_wait().ok().flatten().is_none(),
        "{}",
        phone.report()
    );
    assert!(!phone.report().contains("panicked"));
}

#[test]
fn a_wrong_password_is_refused_by_the_hotline_and_the_phone_exits_2() {
    need_peers();
    let h = Hotline::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Phone::spawn(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1003"),
        s("--password"),
        s("not-demo1003"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
    ]);
    let code = phone.wait_exit(Duration::from_secs(15));
    let report = phone.report();
    assert_eq!(code, Some(2), "{report}");
    assert!(
        report.contains("registration as 1003 refused") && report.contains("401"),
        "{report}"
    );
}

#[test]
fn the_agent_hanging_up_on_the_phone_ends_the_callers_leg() {
    need_peers();
    let h = hotline_with_slow_rings();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Phone::spawn(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("demo1001"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
        s("--auto-answer-ms"),
        s("100"),
        s("--hangup-after-ms"),
        s("1500"),
        s("--calls"),
        s("1"),
    ]);
    phone.expect_line("hotline-phone: registered 1001@", Duration::from_secs(10));
    // the caller waits for a BYE: only the phone's hang-up can end its call
    Sipp::new("caller_until_bye.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0622222222")
        .run()
        .assert_success("the caller gets the BYE the phone caused");
    assert_eq!(
        phone.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        phone.report()
    );
    assert!(phone.report().contains("we hung up"), "{}", phone.report());
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.ended_by, Some(hotline_core::EndedBy::Agent), "{cdr:#?}");
}

/// Kills the hotline started by hand on drop.
struct Respawned(Child);

impl Drop for Respawned {
    fn drop(&mut self) {
        terminate(&mut self.0, Duration::from_secs(5));
    }
}

/// Starts `hotline serve` again on the same SIP port and data (the harness's
/// `restart` picks a new port, and the phone only knows the old one).
fn respawn_on_same_port(h: &Hotline) -> Respawned {
    let mut child = Command::new(Hotline::binary())
        .arg("serve")
        .arg("--config")
        .arg(&h.config_path)
        .arg("--sip")
        .arg(format!("127.0.0.1:{}", h.sip_port))
        .arg("--data")
        .arg(&h.data_dir)
        .current_dir(h.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("respawn hotline");
    let out = child.stdout.take().expect("stdout");
    let ready = format!("hotline: ready sip=127.0.0.1:{}", h.sip_port);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(&ready) {
                tx.send(()).ok();
            }
        }
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "the respawned hotline never got ready"
    );
    Respawned(child)
}

/// A phone registered as agent 1004 (WAV output in `dir`) with `extra`
/// options.
fn registered_1004(h: &Hotline, dir: &Path, extra: &[&str]) -> Phone {
    let mut args = vec![
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1004"),
        s("--password"),
        s("demo1004"),
        s("--output-wav"),
        dir.join("o.wav").display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let phone = Phone::spawn(&args);
    phone.expect_line("hotline-phone: registered 1004@", Duration::from_secs(10));
    phone
}

#[test]
fn the_phone_registers_again_after_the_hotline_restarts() {
    need_peers();
    let mut h = Hotline::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // 60 s is the server's minimum: the phone refreshes after 48 s (no
    // keep-alive here: this is the refresh path)
    let mut phone = registered_1004(&h, dir.path(), &["--expires", "60", "--keepalive-s", "0"]);
    h.kill();
    // the refresh at ~48 s finds no server (8 s timeout), then backs off
    phone.expect_line("registration failed", Duration::from_secs(70));
    let _again = respawn_on_same_port(&h);
    phone.expect_line("registered again", Duration::from_secs(20));
    assert!(phone.child.try_wait().ok().flatten().is_none());
}

/// OPTIONS keep-alives (every ~2 s here) see the hotline die long before a
/// registration refresh would (600 s asked for), report it, register again
/// as soon as it answers again.
#[test]
fn keepalives_see_the_hotline_go_and_come_back() {
    need_peers();
    let mut h = Hotline::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = registered_1004(&h, dir.path(), &["--keepalive-s", "2"]);
    // answered keep-alives are silent
    std::thread::sleep(Duration::from_secs(5));
    assert!(!phone.stdout().contains("keep-alive"), "{}", phone.report());
    h.kill();
    let t = Instant::now();
    phone.expect_line("not answering keep-alives", Duration::from_secs(30));
    eprintln!("server loss seen after {:?}", t.elapsed());
    let _again = respawn_on_same_port(&h);
    phone.expect_line("answering keep-alives again", Duration::from_secs(20));
    phone.expect_line("registered again", Duration::from_secs(30));
    assert!(phone.child.try_wait().ok().flatten().is_none());
}

/// `--api`: the phone follows its agent's events on the real engine's
/// `/api/stream` (the caller's number, the call's end) and, during the
/// call, sends hold, resume, call type, recording pause/resume and pause
/// requests with the bearer token: each answer and each resulting event
/// shows, refusals (409, 400) as messages.
#[test]
fn the_phone_follows_its_agent_on_the_engine_api_and_pauses_through_it() {
    need_peers();
    let h = hotline_with_slow_rings();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{}\n", h.options.api_token)).expect("token file");
    let (mut phone, mut stdin) = Phone::spawn_piped(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("demo1001"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
        s("--auto-answer-ms"),
        s("300"),
        s("--api"),
        format!("http://{}", h.http_addr()),
        s("--api-token-file"),
        token.display().to_string(),
    ]);
    phone.expect_line("hotline-phone: registered 1001@", Duration::from_secs(10));
    let addr = h.addr();
    let caller = std::thread::spawn(move || {
        Sipp::new("caller.xml")
            .remote(&addr)
            .service("hotline")
            .key("caller", "0612345678")
            .duration_ms(8000)
            .run()
    });
    assert!(
        phone.wait_line("engine: on call with 0612345678", Duration::from_secs(15)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    use std::io::Write;
    // the call actions, each answered and then seen as the engine's event
    for (line, answer, event) in [
        ("hold", "engine: hold: done", "engine: call on hold"),
        ("resume", "engine: resume: done", "engine: call resumed"),
        ("resume", "engine: resume: not possible now", ""),
        (
            "type order",
            "engine: call type order: done",
            "engine: call type set to order",
        ),
        (
            "type pizza",
            "engine: call type pizza: refused as a bad request",
            "",
        ),
        (
            "record_pause",
            "engine: pause recording: done",
            "engine: recording paused",
        ),
        (
            "record_resume",
            "engine: resume recording: done",
            "engine: recording resumed",
        ),
        ("abuse threats", "engine: mark abusive: done", ""),
    ] {
        writeln!(stdin, "{line}").expect("write to the phone");
        phone.expect_line(answer, Duration::from_secs(5));
        if !event.is_empty() {
            phone.expect_line(event, Duration::from_secs(5));
        }
    }
    writeln!(stdin, "pause meal").expect("write to the phone");
    phone.expect_line("engine: pause (meal): done", Duration::from_secs(5));
    assert!(
        phone.wait_line("(meal)", Duration::from_secs(5))
            && phone.stdout().contains("engine: paused"),
        "{}",
        phone.report()
    );
    caller
        .join()
        .expect("sipp thread")
        .assert_success("caller talks to the agent");
    // the engine's end of the call arrives on its own path, the BYE on
    // another: wait for both before quitting
    phone.expect_line("engine: call ended", Duration::from_secs(15));
    phone.expect_line("ended after", Duration::from_secs(15));
    writeln!(stdin, "q").expect("write to the phone");
    assert_eq!(
        phone.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        phone.report()
    );
}

/// `hotline-phone play`'s command line: bad files and options are exit
/// codes with a message (never a panic), and the device path runs through
/// cpal where ALSA's `null` device exists.
#[test]
fn play_refuses_bad_input_with_exit_codes_and_plays_through_cpal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("rec.wav");
    let stereo: Vec<i16> = sine(8000, 440.0, 0.3, 1000)
        .into_iter()
        .flat_map(|v| [v, 0])
        .collect();
    let mut w = hound::WavWriter::create(
        &good,
        hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .expect("wav");
    for v in stereo {
        w.write_sample(v).expect("sample");
    }
    w.finalize().expect("finalize");
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"RIFF\xff\xff\xff\xffWAVEjunkjunkjunk").expect("junk");
    let play = |args: &[&str]| {
        Command::new(phone_binary())
            .arg("play")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hotline-phone play")
    };
    let g = good.display().to_string();
    for (args, code, says) in [
        (
            vec![junk.to_str().unwrap_or("junk")],
            65,
            "not a readable WAV",
        ),
        (vec!["/nonexistent.wav"], 65, "/nonexistent.wav"),
        (vec![g.as_str(), "--speed", "0.1"], 64, "0.2"),
        (vec![g.as_str(), "--speed", "2"], 64, "0.2"),
        (vec![g.as_str(), "--start", "9"], 64, "lasts 1.0 s"),
        (
            vec![g.as_str(), "--channel", "middle"],
            2,
            "caller, agent or both",
        ),
        (
            vec![g.as_str(), "--output-wav", "/nonexistent/dir/o.wav"],
            73,
            "/nonexistent/dir/o.wav",
        ),
    ] {
        let out = play(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // the cpal path, on ALSA's null device where it exists (not paced by a
    // clock: it only proves the stream, the ring and the end of playback)
    let devices = Command::new(phone_binary())
        .arg("devices")
        .output()
        .expect("devices");
    if String::from_utf8_lossy(&devices.stdout).contains("null") {
        let out = play(&[g.as_str(), "--output", "null", "--speed", "0.5"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("hotline-phone: played"));
    } else {
        eprintln!("no ALSA null device here; device playback not exercised");
    }
}

/// The server never links ALSA: only hotline-phone depends on cpal.
#[test]
fn the_server_binary_does_not_link_alsa_but_the_phone_does() {
    if !have("ldd") {
        eprintln!("no ldd here: skipped");
        return;
    }
    let libs = |bin: &Path| {
        let out = Command::new("ldd").arg(bin).output().expect("run ldd");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let server = libs(&Hotline::binary());
    assert!(
        !server.contains("libasound"),
        "hotline links ALSA:\n{server}"
    );
    let phone = libs(&phone_binary());
    assert!(
        phone.contains("libasound"),
        "hotline-phone without ALSA?\n{phone}"
    );
}

/// Device mode through cpal on whatever this machine has. On a headless box
/// that is ALSA's `null` device: it opens, but it is not paced by a clock, so
/// this only shows the device path carries a whole call (register, answer,
/// stream, hang up) without stalling the network side; the audio checks are
/// the WAV tests' job.
#[test]
fn device_mode_carries_a_call_through_cpal() {
    need_peers();
    let devices = Command::new(phone_binary())
        .arg("devices")
        .output()
        .expect("hotline-phone devices");
    let listing = String::from_utf8_lossy(&devices.stdout).to_string();
    if !listing.contains("null") {
        eprintln!("no ALSA null device here; skipped:\n{listing}");
        return;
    }
    let h = Hotline::start_with(HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        ..HotlineOptions::default()
    });
    let mut phone = Phone::spawn(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("demo1001"),
        s("--input"),
        s("null"),
        s("--output"),
        s("null"),
        s("--auto-answer-ms"),
        s("200"),
        s("--calls"),
        s("1"),
    ]);
    phone.expect_line("hotline-phone: registered 1001@", Duration::from_secs(10));
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0633333333")
        // 5 s, not 2: in one loaded e2e run (SQLite statements taking 1 s)
        // the phone's side of the call started 2-3 s late, its two device
        // callbacks spinning on ALSA's unpaced `null`, and a 2 s call had
        // ended before the phone heard a frame
        .duration_ms(5000)
        .run()
        .assert_success("caller through the device-mode phone");
    assert_eq!(
        phone.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        phone.report()
    );
    let report = phone.report();
    assert!(report.contains("answered call from 0633333333"), "{report}");
    // RTP arrived and was played into the device ring
    let rx: u64 = report
        .split("rx ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(rx > 50, "only {rx} frames received\n{report}");
    if let Some(l) = report.lines().find(|l| l.contains("ended after")) {
        eprintln!("{l}");
    }
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
}

/// The softphone's dial key (`dial NUMBER` on stdin, `d` in the TUI):
/// click-to-call through the engine's API. The softphone rings first (and
/// answers itself), then the engine calls the customer through the gateway;
/// the call is recorded as the agent's outbound call and the customer's card
/// shows on the phone.
#[test]
fn the_phone_dials_a_customer_through_the_engine_click_to_call() {
    need_peers();
    let gateway = free_udp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            r#"
[outbound]
enabled = true
prefix = "9"
dial = "sip:{{number}}@127.0.0.1:{gateway}"
allowed_prefixes = ["06"]
answer_timeout_s = 10
"#
        ),
        ..HotlineOptions::default()
    });
    let customer = Sipp::new("agent_uas.xml")
        .port(gateway)
        .key("agent", "0612345678")
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{}\n", h.options.api_token)).expect("token file");
    let (mut phone, mut stdin) = Phone::spawn_piped(&[
        s("--server"),
        h.addr(),
        s("--agent"),
        s("1001"),
        s("--password"),
        s("demo1001"),
        s("--output-wav"),
        dir.path().join("o.wav").display().to_string(),
        s("--auto-answer-ms"),
        s("300"),
        s("--api"),
        format!("http://{}", h.http_addr()),
        s("--api-token-file"),
        token.display().to_string(),
    ]);
    phone.expect_line("hotline-phone: registered 1001@", Duration::from_secs(10));
    use std::io::Write;
    // a number outside the dial rules is refused with the reason
    writeln!(stdin, "dial 13800000000").expect("write to the phone");
    phone.expect_line("engine: dial 13800000000: ", Duration::from_secs(5));
    assert!(
        !phone.stdout().contains("engine: dial 13800000000: done"),
        "{}",
        phone.report()
    );
    writeln!(stdin, "dial 0612345678").expect("write to the phone");
    phone.expect_line("engine: dial 0612345678: done", Duration::from_secs(5));
    if !phone.wait_line("engine: on call with 0612345678", Duration::from_secs(15)) {
        let c = customer.stop();
        panic!(
            "not on call:\n{}\n--- customer:\n{}\n{}",
            phone.report(),
            c.logs(),
            h.report()
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    writeln!(stdin, "h").expect("write to the phone");
    customer
        .wait()
        .assert_success("the customer answered and was hung up on");
    let answered = || {
        cdrs(&h)
            .into_iter()
            .find(|c| c.outcome == Some(hotline_core::Outcome::Answered))
    };
    assert!(
        wait_until(Duration::from_secs(10), || answered().is_some()),
        "{:#?}",
        cdrs(&h)
    );
    let cdr = answered().expect("the answered call");
    assert_eq!(
        (cdr.dialled.as_str(), cdr.caller.as_str()),
        ("outbound", "0612345678"),
        "{cdr:#?}"
    );
    assert_eq!(cdr.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert_eq!(cdr.call_type, hotline_core::CallType::Reply);
    assert!(cdr.recording_path.is_some(), "recorded: {cdr:#?}");
    writeln!(stdin, "q").expect("write to the phone");
    assert_eq!(
        phone.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        phone.report()
    );
}
