//! The supervisor console against the real binary: its API on a real
//! recorded call (sessions, CSRF, ranges, bundle, marks, agent control, a
//! blacklist entry the engine applies to the next SIPp call), and a browser
//! test in headless Chromium driven over WebDriver (chromedriver): log in,
//! watch a SIPp call appear on the wallboard and leave it, open its
//! recording, change the speed, mark it, find the hold in the recordings list
//! and the listen in the audit log. Screenshots and the measured
//! event-to-screen latency go to `target/console-artifacts/`.

use super::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// `hotline users add NAME --role ROLE` with password `pw`.
pub(super) fn add_user(h: &Hotline, name: &str, role: &str, pw: &str) {
    let file = h.dir.path().join(format!("{name}.pw"));
    std::fs::write(&file, format!("{pw}\n")).unwrap();
    let out = Command::new(Hotline::binary())
        .args(["users", "add", name, "--role", role, "--password-file"])
        .arg(&file)
        .arg("--config")
        .arg(&h.config_path)
        .arg("--data")
        .arg(&h.data_dir)
        .env("HOTLINE_LOG", "warn")
        .output()
        .expect("run hotline users add");
    assert!(
        out.status.success(),
        "users add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One HTTP/1.1 exchange: (status, header block, body bytes).
fn raw_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Vec<u8>) {
    // a full-page screenshot in Chromium can take longer than 10 s on a
    // loaded 2-core machine (seen in a clean-clone CI run): wait for it
    try_raw_http(addr, method, path, headers, body, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`raw_http`] that says what went wrong instead of panicking, waiting at
/// most `wait` for the answer's head.
fn try_raw_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    wait: Duration,
) -> Result<(u16, String, Vec<u8>), String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(wait)).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{method} {path}: send: {e}"))?;
    // read the head, then Content-Length bytes (chromedriver keeps the
    // connection open whatever Connection says), or to the end
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "{method} {path}: no response head: {}",
                    String::from_utf8_lossy(&raw)
                ))
            }
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let mut body = raw[split + 4..].to_vec();
    match length {
        Some(n) => {
            while body.len() < n {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => body.extend_from_slice(&buf[..k]),
                }
            }
            body.truncate(n);
        }
        None => {
            let _ = s.read_to_end(&mut body);
        }
    }
    Ok((status, head, body))
}

/// A logged-in console client (cookie and CSRF token).
pub(super) struct Client {
    addr: String,
    cookie: String,
    csrf: String,
}

impl Client {
    pub(super) fn login(addr: &str, user: &str, pw: &str) -> Client {
        let body = json!({"user": user, "password": pw}).to_string();
        let (status, head, b) = raw_http(addr, "POST", "/api/login", &[], &body);
        assert_eq!(status, 200, "login {user}: {}", String::from_utf8_lossy(&b));
        let cookie = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with("set-cookie:")
                    .then(|| l[11..].trim().to_string())
            })
            .expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let v: Value = serde_json::from_slice(&b).unwrap();
        Client {
            addr: addr.into(),
            cookie: cookie.split(';').next().unwrap().to_string(),
            csrf: v["csrf"].as_str().unwrap().to_string(),
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> (u16, String, Vec<u8>) {
        let mut headers = vec![
            ("Cookie", self.cookie.as_str()),
            ("X-CSRF-Token", self.csrf.as_str()),
        ];
        headers.extend_from_slice(extra);
        raw_http(&self.addr, method, path, &headers, body)
    }

    pub(super) fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (s, _, b) = self.send(method, path, &body, &[]);
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
}

/// A recorded call: agent 1001 answers a SIPp caller who talks `talk_ms`.
fn recorded_call(h: &Hotline, caller: &str, talk_ms: u64) -> (SippProcess, SippProcess) {
    let port = free_udp_port();
    register(h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn();
    let call = Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", caller)
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(60))
        .spawn();
    (agent, call)
}

#[test]
fn the_console_api_serves_a_real_recorded_call_to_a_logged_in_supervisor() {
    need_peers();
    let h = Hotline::start();
    let web = h.http_addr();
    add_user(&h, "alice", "supervisor", "correct horse");
    add_user(&h, "root", "admin", "battery staple");
    let (agent, call) = recorded_call(&h, "0611112222", 1500);
    call.wait().assert_success("caller");
    agent.wait().assert_success("agent");
    let id = wait_cdrs(&h, 1).remove(0).call_id.as_str().to_string();
    h.wait_recording(Some(&id), Duration::from_secs(10));
    // no session: nothing
    let (s, _, _) = raw_http(&web, "GET", "/api/calls", &[], "");
    assert_eq!(s, 401);
    let alice = Client::login(&web, "alice", "correct horse");
    let (s, v) = alice.json("GET", "/api/calls?caller=0611112222", Value::Null);
    assert_eq!((s, v["total"].as_i64()), (200, Some(1)), "{v}");
    let (s, v) = alice.json("GET", &format!("/api/calls/{id}"), Value::Null);
    assert_eq!(s, 200);
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"]["type"].as_str())
        .collect();
    for k in ["arrived", "offered", "agent_answered", "completed"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // audio: whole, a range, past the end
    let (s, head, wav) = alice.send("GET", &format!("/api/recordings/{id}/audio"), "", &[]);
    assert_eq!(s, 200, "{head}");
    assert!(wav.starts_with(b"RIFF"));
    let (s, head, part) = alice.send(
        "GET",
        &format!("/api/recordings/{id}/audio"),
        "",
        &[("Range", "bytes=44-1043")],
    );
    assert_eq!((s, part.len()), (206, 1000), "{head}");
    assert_eq!(part, wav[44..1044]);
    let past = format!("bytes={}-", wav.len());
    let (s, _, _) = alice.send(
        "GET",
        &format!("/api/recordings/{id}/audio"),
        "",
        &[("Range", &past)],
    );
    assert_eq!(s, 416);
    // the bundle is a zip
    let (s, head, zip) = alice.send("GET", &format!("/api/recordings/{id}/bundle"), "", &[]);
    assert_eq!(s, 200, "{head} {}", String::from_utf8_lossy(&zip));
    assert!(zip.starts_with(b"PK"));
    // mark: on hold; a supervisor cannot release it, an admin can
    let (s, _) = alice.json(
        "POST",
        &format!("/api/recordings/{id}/marks"),
        json!({"kind": "abuse", "note": "insults"}),
    );
    assert_eq!(s, 201);
    let (_, v) = alice.json("GET", "/api/recordings?held=true", Value::Null);
    assert_eq!(v["items"][0]["call_id"], id.as_str());
    let (s, _) = alice.json(
        "POST",
        &format!("/api/recordings/{id}/release"),
        json!({"reason": "no"}),
    );
    assert_eq!(s, 403);
    let root = Client::login(&web, "root", "battery staple");
    let (_, v) = root.json("GET", &format!("/api/audit?call_id={id}"), Value::Null);
    let actions: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["release_refused", "mark", "export", "listen", "listen"],
        "{v}"
    );
    // agent control with the session: CSRF token needed
    let (s, _, _) = raw_http(
        &web,
        "POST",
        "/api/agents/1001/pause",
        &[("Cookie", &alice.cookie)],
        r#"{"reason":"training"}"#,
    );
    assert_eq!(s, 403);
    let (s, v) = alice.json(
        "POST",
        "/api/agents/1001/pause",
        json!({"reason": "training"}),
    );
    assert_eq!((s, v["state"].as_str()), (200, Some("paused")), "{v}");
    let paused = wait_until(Duration::from_secs(5), || {
        all_events(&h)
            .into_iter()
            .any(|e| matches!(&e.kind, EventKind::AgentPaused { by, .. } if by == "api:alice"))
    });
    assert!(paused, "the pause is the session's user's");
    alice.json("POST", "/api/agents/1001/unpause", Value::Null);
    // the bearer token still works for API clients
    let (s, _) = http_with(
        &web,
        "POST",
        "/api/agents/1001/pause",
        &[("Authorization", "Bearer test-token")],
        "",
    );
    assert_eq!(s, 200);
    // a blacklist entry from the console refuses the next call from that number
    let (s, v) = alice.json(
        "POST",
        "/api/blacklist",
        json!({"pattern": "0611112222", "reason": "threats", "call_id": id}),
    );
    assert_eq!(s, 201, "{v}");
    let out = Sipp::new("caller_rejected.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0611112222")
        .run();
    out.assert_success("blacklisted caller refused");
    assert!(out.logs().contains("final 603"), "{}", out.logs());
    // call control takes the session too (with the CSRF token); the call is over
    let hold = format!("/api/calls/{id}/hold");
    let (s, _, _) = raw_http(&web, "POST", &hold, &[("Cookie", &alice.cookie)], "");
    assert_eq!(s, 403);
    let (s, v) = alice.json("POST", &hold, Value::Null);
    assert!(s == 404 || s == 409, "{s} {v}");
    // five failed logins from this address: the sixth attempt is refused
    // even with the right password, with Retry-After
    for _ in 0..5 {
        let (s, _, _) = raw_http(
            &web,
            "POST",
            "/api/login",
            &[],
            r#"{"user":"mallory","password":"guess"}"#,
        );
        assert_eq!(s, 401);
    }
    let (s, head, _) = raw_http(
        &web,
        "POST",
        "/api/login",
        &[],
        r#"{"user":"alice","password":"correct horse"}"#,
    );
    assert_eq!(s, 429, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    // the existing session is not affected
    assert_eq!(alice.json("GET", "/api/session", Value::Null).0, 200);
}

// ---------------------------------------------------------------------------
// WebDriver (W3C) over plain HTTP to chromedriver
// ---------------------------------------------------------------------------

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(super) struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// How many times [`Browser::start`] starts chromedriver and Chromium before
/// it gives up.
const BROWSER_STARTS: usize = 3;

/// SIGKILL to every process in chromedriver's process group: chromedriver
/// and the Chromium it started (which outlives chromedriver otherwise).
fn kill_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

impl Browser {
    /// Chromium with `lang` as the browser's language. On a loaded 2-core
    /// machine Chromium once did not come up within chromedriver's 60 s (the
    /// session request went unanswered): a start that fails is killed with
    /// its whole process group and tried again, up to [`BROWSER_STARTS`]
    /// times; chromedriver's log (in `target/console-artifacts/`) says why.
    pub(super) fn start(lang: &str) -> Browser {
        let mut failures = Vec::new();
        for attempt in 1..=BROWSER_STARTS {
            match Browser::try_start(lang) {
                Ok(b) => return b,
                Err(e) => {
                    eprintln!(
                        "Chromium did not start (attempt {attempt} of {BROWSER_STARTS}): {e}"
                    );
                    failures.push(format!("attempt {attempt}: {e}"));
                }
            }
        }
        panic!(
            "no browser session after {BROWSER_STARTS} starts:\n{}",
            failures.join("\n")
        );
    }

    /// One start of chromedriver and a Chromium session; on failure the
    /// process group is killed and the error carries the end of
    /// chromedriver's log (kept on disk).
    fn try_start(lang: &str) -> Result<Browser, String> {
        use std::os::unix::process::CommandExt;
        let port = free_tcp_port();
        let log = artifacts().join(format!("chromedriver-{port}.log"));
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let addr = format!("127.0.0.1:{port}");
        if !wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        }) {
            kill_group(&mut driver);
            return Err("chromedriver did not listen".into());
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--autoplay-policy=no-user-gesture-required",
                    "--window-size=1400,1000",
                    format!("--lang={lang}"),
                    format!("--accept-lang={lang}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {"intl.accept_languages": lang}
            }
        }}});
        // chromedriver itself gives Chromium 60 s to start: wait longer so
        // that its own error comes back rather than our timeout
        let answer = try_raw_http(
            &addr,
            "POST",
            "/session",
            &[],
            &caps.to_string(),
            Duration::from_secs(90),
        );
        let session = match &answer {
            Ok((200, _, body)) => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["value"]["sessionId"].as_str().map(str::to_string)),
            _ => None,
        };
        if let Some(session) = session {
            let _ = std::fs::remove_file(&log);
            return Ok(Browser {
                driver,
                addr,
                session,
                _profile: profile,
            });
        }
        kill_group(&mut driver);
        let what = match answer {
            Ok((status, _, body)) => format!("{status} {}", String::from_utf8_lossy(&body)),
            Err(e) => e,
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        Err(format!(
            "{what}\nchromedriver log ({}), last lines:\n{}",
            log.display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        ))
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (status, _, b) = raw_http(&self.addr, method, path, &[], &body);
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert!(status == 200, "WebDriver {method} {path}: {status} {v}");
        v["value"].clone()
    }

    fn cmd(&self, method: &str, what: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{what}", self.session), body)
    }

    pub(super) fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url }));
    }

    pub(super) fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    pub(super) fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), json!({}));
    }

    /// Fills in a form field the way a paste does: focus, the value, then
    /// the `input` and `change` events the console listens to. Not WebDriver's
    /// keyboard (`/element/{id}/value`): chromedriver once hung on it for a
    /// minute typing "9999" on a loaded CI machine, failing the run.
    pub(super) fn type_in(&self, css: &str, text: &str) {
        let found = self.cmd(
            "POST",
            "/execute/sync",
            json!({
                "script": "const e = document.querySelector(arguments[0]); \
                           if (!e) return false; \
                           e.focus(); \
                           e.value = (e.value || '') + arguments[1]; \
                           e.dispatchEvent(new Event('input', {bubbles: true})); \
                           e.dispatchEvent(new Event('change', {bubbles: true})); \
                           return true;",
                "args": [css, text]
            }),
        );
        assert_eq!(found, Value::Bool(true), "no element {css}");
    }

    /// Polls a JS expression until it is truthy.
    pub(super) fn wait_js(&self, expr: &str, timeout: Duration) -> bool {
        let script = format!("return !!({expr});");
        wait_until(timeout, || self.js(&script).as_bool().unwrap_or(false))
    }

    /// Sets the window to `w`×`h` pixels.
    fn resize(&self, w: u32, h: u32) {
        self.cmd("POST", "/window/rect", json!({"width": w, "height": h}));
    }

    /// Fails when the visible text of the page says "null", "undefined" or
    /// "NaN", or shows a catalogue key instead of its message; returns the text.
    fn assert_clean_text(&self, page: &str) -> String {
        let text = self
            .js("return document.body.innerText;")
            .as_str()
            .unwrap_or("")
            .to_string();
        for bad in ["null", "undefined", "NaN"] {
            let hit = text.split(|c: char| !c.is_alphanumeric()).any(|w| w == bad);
            assert!(!hit, "{page}: the page shows `{bad}`:\n{text}");
        }
        let keys = self.js(
            "const t = document.body.innerText; return Object.keys(window.HOTLINE_CATALOGUE['en']).filter(k => t.includes(k));",
        );
        assert_eq!(
            keys.as_array().map(Vec::len),
            Some(0),
            "{page}: raw catalogue keys on the page: {keys}"
        );
        text
    }

    pub(super) fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "/screenshot", Value::Null);
        let png = base64_decode(v.as_str().expect("base64 png"));
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // never panics here: a drop during a failing test's unwinding
        if !self.session.is_empty() {
            let _ = try_raw_http(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                "",
                Duration::from_secs(10),
            );
        }
        kill_group(&mut self.driver);
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

pub(super) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

#[test]
fn a_supervisor_watches_a_live_call_then_replays_and_marks_it_in_chromium() {
    need_peers();
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    // a 2 s handle-time limit with the warning at 1 s: the 4 s call turns
    // the clock amber, then red
    let mut h = Hotline::start_with(HotlineOptions {
        extra_toml: "[limits]\ninquiry_s = 2\nwarning_fraction = 0.5\n".into(),
        ..HotlineOptions::default()
    });
    let web = h.http_addr();
    add_user(&h, "root", "admin", "battery staple");
    let out = artifacts();
    // a Chinese browser: the console speaks Chinese before and after login
    let b = Browser::start("zh-CN");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "document.getElementById('login-view') && !document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    assert_eq!(
        b.js("return [document.documentElement.lang, document.getElementById('login-submit').textContent];"),
        json!(["zh-CN", "登录"]),
        "the browser's language is the default"
    );
    b.assert_clean_text("login");
    b.type_in("#login-user", "root");
    b.type_in("#login-password", "battery staple");
    b.click("#login-submit");
    assert!(
        b.wait_js(
            "document.getElementById('wb-tiles') && window.hotline.snapshot",
            Duration::from_secs(10)
        ),
        "the wallboard shows a snapshot"
    );
    // a live call: it appears while SIPp talks, and leaves when it hangs up
    let (agent, call) = recorded_call(&h, "0633334444", 4000);
    let t0 = Instant::now();
    assert!(
        b.wait_js(
            "document.querySelectorAll('tr.live-call').length === 1",
            Duration::from_secs(15)
        ),
        "the call appears on the wallboard\n{}",
        h.report()
    );
    let appeared = t0.elapsed();
    // answered: the agent's row shows the handle-time clock
    assert!(b.wait_js(
        "[...document.querySelectorAll('tr.live-call td')].some(td => td.textContent === '1001')",
        Duration::from_secs(10)
    ));
    assert!(
        b.wait_js(
            "document.querySelector('tr.live-call .clock.warning')",
            Duration::from_secs(5)
        ),
        "the handle-time clock turns amber at the warning"
    );
    assert!(
        b.wait_js(
            "document.querySelector('tr.live-call .clock.exceeded')",
            Duration::from_secs(5)
        ),
        "and red at the limit"
    );
    b.screenshot(&out.join("wallboard-live-call.png"));
    let text = b.assert_clean_text("wallboard with a live call");
    assert!(text.contains("当前通话"), "{text}");
    // the dropped-call KPI has its tiles, in Chinese
    assert!(text.contains("掉话") && text.contains("掉话率"), "{text}");
    call.wait().assert_success("caller");
    agent.wait().assert_success("agent");
    assert!(
        b.wait_js(
            "document.querySelectorAll('tr.live-call').length === 0",
            Duration::from_secs(10)
        ),
        "the call leaves the wallboard when it ends"
    );
    b.screenshot(&out.join("wallboard-after.png"));
    let lat = b.js("return window.hotline.latencies.map(l => l.ms);");
    let mut lat: Vec<i64> = lat
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    lat.sort_unstable();
    assert!(!lat.is_empty(), "latencies measured");
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    let figures = format!(
        "event-to-screen latency over {} call events: min {} ms, median {} ms, p95 {} ms, max {} ms (call visible {} ms after SIPp started)\n",
        lat.len(),
        lat[0],
        pick(0.5),
        pick(0.95),
        lat[lat.len() - 1],
        appeared.as_millis()
    );
    std::fs::write(out.join("latency.txt"), &figures).unwrap();
    eprintln!("console: {figures}screenshots in {}", out.display());
    assert!(pick(0.5) < 1000, "{figures}");

    // the recording: from the recordings list to the call's page
    let id = wait_cdrs(&h, 1).remove(0).call_id.as_str().to_string();
    h.wait_recording(Some(&id), Duration::from_secs(10));
    b.click("#nav-recordings");
    let row = format!("#recordings-table tr[data-call='{id}'] a");
    assert!(b.wait_js(
        &format!("document.querySelector(\"{row}\")"),
        Duration::from_secs(10)
    ));
    // one call in the log: the pager says so, in Chinese, with no "null"
    let pager = b.js("return document.getElementById('recordings-pager').textContent;");
    assert_eq!(pager, json!("共 1 条录音，第 1–1 条"));
    b.assert_clean_text("recordings list");
    b.click(&row);
    assert!(
        b.wait_js(
            "document.getElementById('play') && !document.getElementById('play').disabled",
            Duration::from_secs(15)
        ),
        "the player loads the audio"
    );
    assert!(b.wait_js(
        "document.querySelectorAll('#timeline li').length >= 4",
        Duration::from_secs(5)
    ));
    // the regulations' slowest replay: 20 %
    b.click("#speed option[value='0.2']");
    assert!(b.wait_js(
        "document.getElementById('audio').playbackRate === 0.2 && document.getElementById('audio').preservesPitch === true",
        Duration::from_secs(5)
    ));
    b.click("#speed option[value='0.5']");
    assert!(b.wait_js(
        "document.getElementById('audio').playbackRate === 0.5 && document.getElementById('audio').preservesPitch === true",
        Duration::from_secs(5)
    ));
    b.click("#channel option[value='caller']");
    b.click("#play");
    let played = b.wait_js(
        "document.getElementById('audio').currentTime > 0.2",
        Duration::from_secs(10),
    );
    b.screenshot(&out.join("player.png"));
    assert!(played, "the audio plays");
    b.click("#mark-kind option[value='extortion']");
    b.type_in("#mark-note", "demands money");
    b.click("#mark");
    assert!(b.wait_js(
        "document.getElementById('hold-state').getAttribute('data-held') === 'true' && document.getElementById('hold-state').textContent === '法律保全中'",
        Duration::from_secs(5)
    ));
    // quality scoring beside the player: every criterion rated 4 of 5 (80),
    // a comment at the player's position, saved and listed
    assert!(
        b.wait_js(
            "document.getElementById('qa-save') && document.getElementById('qa-r-opening')",
            Duration::from_secs(10)
        ),
        "the score form is beside the player"
    );
    for c in [
        "opening",
        "agent_number",
        "listening",
        "solution",
        "courtesy",
        "closing",
        "time_limit",
    ] {
        b.click(&format!("#qa-r-{c} option[value='4']"));
    }
    assert!(b.wait_js(
        "document.getElementById('qa-total').textContent === '80.0'",
        Duration::from_secs(5)
    ));
    b.type_in("#qa-comment-text", "opening phrase said");
    b.click("#qa-comment-add");
    assert!(b.wait_js(
        "document.querySelectorAll('#qa-new-comments li').length === 1",
        Duration::from_secs(5)
    ));
    b.click("#qa-save");
    assert!(
        b.wait_js(
            "(document.querySelector(\"#qa-scores tr[data-reviewer='root'] .qa-total\") || {}).textContent === '80.0'",
            Duration::from_secs(10)
        ),
        "the saved score is listed"
    );
    b.screenshot(&out.join("quality.png"));
    let scores = read_db(&h, async |s| s.quality_scores_of_call(&id).await.unwrap());
    assert_eq!(scores.len(), 1);
    assert_eq!(
        (
            scores[0].reviewer.as_str(),
            scores[0].agent.as_str(),
            scores[0].total
        ),
        ("root", "1001", 80.0)
    );
    assert_eq!(scores[0].comments.len(), 1);
    assert_eq!(scores[0].comments[0].text, "opening phrase said");
    // the hold in the recordings list, the listen and the mark in the audit log
    b.go(&format!("http://{web}/console/#/recordings?held=true"));
    let held = format!("#recordings-table tr[data-call='{id}'] td.held");
    assert!(
        b.wait_js(
            &format!("document.querySelector(\"{held}\")"),
            Duration::from_secs(10)
        ),
        "the hold is listed"
    );
    b.click("#nav-audit");
    assert!(b.wait_js("document.querySelector(\"#audit-table tr[data-action='mark']\") && document.querySelector(\"#audit-table tr[data-action='listen']\")", Duration::from_secs(10)));
    b.screenshot(&out.join("audit.png"));
    let marks = read_db(&h, async |s| s.marks(&id).await.unwrap());
    assert_eq!(marks.len(), 1);
    assert_eq!(
        (marks[0].kind.as_str(), marks[0].by.as_str()),
        ("extortion", "root")
    );
    // blacklist the caller from the call's page link, with the call linked
    b.go(&format!("http://{web}/console/#/call/{id}"));
    assert!(b.wait_js(
        "document.querySelector(\"#view a[href^='#/blacklist?']\")",
        Duration::from_secs(10)
    ));
    b.click("#view a[href^='#/blacklist?']");
    assert!(b.wait_js("document.getElementById('bl-pattern') && document.getElementById('bl-pattern').value === '0633334444'", Duration::from_secs(10)));
    b.type_in("#bl-reason", "threats on the recording");
    b.click("#bl-add");
    let row = format!("#blacklist-table tr[data-pattern='0633334444'] a[href='#/call/{id}']");
    assert!(
        b.wait_js(
            &format!("document.querySelector(\"{row}\")"),
            Duration::from_secs(10)
        ),
        "the entry is listed with its call"
    );
    b.screenshot(&out.join("blacklist.png"));
    // a wallboard opened during a call shows it too (from the engine's
    // view of the agent's call), and drops it when it ends
    let (agent, call) = recorded_call(&h, "0655556666", 5000);
    assert!(wait_until(Duration::from_secs(10), || {
        let (_, body) = http(&web, "GET", "/api/agents");
        body.contains("\"on_call\"")
    }));
    b.go(&format!("http://{web}/console/#/wallboard"));
    assert!(
        b.wait_js(
            "[...document.querySelectorAll('tr.live-call td')].some(td => td.textContent === '0655556666')",
            Duration::from_secs(10)
        ),
        "a call already up when the page opened is shown"
    );
    call.wait().assert_success("second caller");
    agent.wait().assert_success("second agent");
    assert!(b.wait_js(
        "document.querySelectorAll('tr.live-call').length === 0",
        Duration::from_secs(10)
    ));
    tour_in_both_languages(&h, &b, &id, &out);
    // the wallboard says so when its live stream dies
    b.click("#nav-wallboard");
    assert!(b.wait_js(
        "document.getElementById('wb-tiles') && document.getElementById('banner').hidden",
        Duration::from_secs(10)
    ));
    h.stop();
    assert!(
        b.wait_js(
            "!document.getElementById('banner').hidden",
            Duration::from_secs(10)
        ),
        "a stale banner when the stream stops"
    );
    b.screenshot(&out.join("wallboard-stale.png"));
}

/// Every page in zh-CN and en: no "null", "undefined", "NaN" or raw key in
/// the visible text; the wallboard (with a live call), the call page and the
/// player at 1920×1080 and 1366×768 in the artifacts dir; the language
/// switch is stored for the user and survives a reload.
fn tour_in_both_languages(h: &Hotline, b: &Browser, id: &str, out: &Path) {
    let web = h.http_addr();
    let (agent, call) = recorded_call(h, "0677778888", 25_000);
    for (lang, wallboard_title, calls_title) in [
        ("en", "Wallboard", "Calls"),
        ("zh-CN", "监控大屏", "通话记录"),
    ] {
        b.resize(1920, 1080);
        b.go(&format!("http://{web}/console/#/wallboard"));
        assert!(b.wait_js(
            "document.querySelector('select.lang-switch')",
            Duration::from_secs(10)
        ));
        b.click(&format!("select.lang-switch option[value='{lang}']"));
        assert!(
            b.wait_js(
                &format!("document.documentElement.lang === '{lang}' && document.querySelector('#view h2') && document.querySelector('#view h2').textContent === '{wallboard_title}'"),
                Duration::from_secs(10)
            ),
            "{lang}: the switch re-renders the page"
        );
        // stored for the user: a reload keeps it
        assert!(b.wait_js(
            &format!("(fetch('/api/me/language').then(r => r.json()).then(v => {{ window.__langv = v.language; }}), window.__langv === '{lang}')"),
            Duration::from_secs(10)
        ), "{lang}: stored");
        b.go("about:blank");
        b.go(&format!("http://{web}/console/#/wallboard"));
        assert!(
            b.wait_js(
                &format!("document.querySelectorAll('tr.live-call').length === 1 && document.querySelector('#view h2').textContent === '{wallboard_title}' && document.getElementById('nav-calls').textContent === '{calls_title}'"),
                Duration::from_secs(15)
            ),
            "{lang}: the wallboard after a reload, with the live call\n{}",
            h.report()
        );
        for (w, hgt) in [(1920, 1080), (1366, 768)] {
            b.resize(w, hgt);
            std::thread::sleep(Duration::from_millis(1200));
            b.assert_clean_text(&format!("{lang} wallboard {w}x{hgt}"));
            // the Chinese text fits: nothing wider than the window
            let over = b.js("return document.scrollingElement.scrollWidth - window.innerWidth;");
            assert!(
                over.as_i64().unwrap_or(0) <= 0,
                "{lang} wallboard {w}x{hgt} overflows by {over} px"
            );
            b.screenshot(&out.join(format!("wallboard-{lang}-{w}x{hgt}.png")));
        }
        for page in ["calls", "recordings", "agents", "blacklist", "audit"] {
            b.go(&format!("http://{web}/console/#/{page}"));
            assert!(
                b.wait_js(
                    &format!("document.querySelector('#view table') && document.querySelectorAll('#view table tr').length > 1 && document.getElementById('nav-{page}').classList.contains('active')"),
                    Duration::from_secs(10)
                ),
                "{lang}: {page} renders"
            );
            b.assert_clean_text(&format!("{lang} {page}"));
            if page == "recordings" {
                let pager = b.js("return document.getElementById('recordings-pager').textContent;");
                // the two finished calls (the tour's own is still talking)
                let want = if lang == "en" {
                    "2 recordings, 1–2"
                } else {
                    "共 2 条录音，第 1–2 条"
                };
                assert_eq!(pager, json!(want), "{lang}");
            }
        }
        b.go(&format!("http://{web}/console/#/call/{id}"));
        assert!(
            b.wait_js(
                "document.getElementById('play') && !document.getElementById('play').disabled && document.querySelectorAll('#timeline li').length >= 4",
                Duration::from_secs(15)
            ),
            "{lang}: the call page and its player"
        );
        for (w, hgt) in [(1920, 1080), (1366, 768)] {
            b.resize(w, hgt);
            std::thread::sleep(Duration::from_millis(500));
            b.js("window.scrollTo(0, 0);");
            b.assert_clean_text(&format!("{lang} call page {w}x{hgt}"));
            b.screenshot(&out.join(format!("call-{lang}-{w}x{hgt}.png")));
            b.js("document.getElementById('wave').scrollIntoView();");
            b.screenshot(&out.join(format!("player-{lang}-{w}x{hgt}.png")));
        }
    }
    cases_and_customer_in_both_languages(h, b, id, out);
    b.resize(1400, 1000);
    call.wait().assert_success("tour caller");
    agent.wait().assert_success("tour agent");
}

/// Switches the console's language with its switch (on the wallboard).
fn switch_language(h: &Hotline, b: &Browser, lang: &str) {
    b.go(&format!("http://{}/console/#/wallboard", h.http_addr()));
    assert!(b.wait_js(
        "document.querySelector('select.lang-switch') && document.getElementById('wb-tiles')",
        Duration::from_secs(10)
    ));
    b.click(&format!("select.lang-switch option[value='{lang}']"));
    assert!(
        b.wait_js(
            &format!("document.documentElement.lang === '{lang}'"),
            Duration::from_secs(10)
        ),
        "{lang}: switched"
    );
}

/// The complaint case of the recorded call `id` and its customer's page in
/// zh-CN and en at 1920×1080 and 1366×768 (screenshots `case-*.png`,
/// `customer-*.png`), and the pages of cases, work lists and campaigns:
/// no "null"/"undefined"/"NaN", no raw key, nothing wider than the window.
fn cases_and_customer_in_both_languages(h: &Hotline, b: &Browser, id: &str, out: &Path) {
    let web = h.http_addr();
    let root = Client::login(&web, "root", "battery staple");
    let (s, v) = root.json(
        "POST",
        &format!("/api/calls/{id}/notes"),
        json!({"caller_name": "王芳", "category": "complaint", "summary": "快递丢失，要求退款",
               "follow_up": "24 小时内回电"}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = root.json(
        "POST",
        "/api/cases",
        json!({"call_id": id, "customer_name": "王芳", "severity": "major",
               "title": "快递丢失", "note": "客户来电投诉快递丢失"}),
    );
    assert_eq!(s, 201, "{v}");
    let case = v["id"].as_i64().expect("a case id");
    let (s, v) = root.json(
        "POST",
        &format!("/api/cases/{case}/stage"),
        json!({"version": v["version"], "stage": "investigate", "note": "联系快递公司"}),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["number"]
        .as_str()
        .expect("the customer's number")
        .to_string();
    // a return visit (回访) owed by 1001, for the visit form
    let (s, body) = http_with(
        &web,
        "POST",
        "/api/campaigns/import?name=December",
        &[("Authorization", "Bearer test-token")],
        "号码,姓名,卡号,备注,时间,坐席\n0611111111,李雷,M001,新会员,after 13:10,1001\n",
    );
    assert_eq!(s, 200, "{body}");
    let (s, v) = root.json("GET", "/api/worklist", Value::Null);
    assert_eq!(s, 200, "{v}");
    let visit = v["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["kind"] == "return_visit"))
        .and_then(|i| i["id"].as_i64())
        .unwrap_or_else(|| panic!("a return visit in the work list: {v}"));
    let fits = |what: &str| {
        let over = b.js("return document.scrollingElement.scrollWidth - window.innerWidth;");
        assert!(
            over.as_i64().unwrap_or(0) <= 0,
            "{what} overflows by {over} px"
        );
    };
    for (lang, stage, severity, category, title) in [
        ("zh-CN", "调查", "重大", "投诉", "工单"),
        ("en", "investigate", "major", "complaint", "Case"),
    ] {
        switch_language(h, b, lang);
        b.go(&format!("http://{web}/console/#/case/{case}"));
        assert!(
            b.wait_js(
                &format!("document.getElementById('case-stage') && document.getElementById('case-stage').dataset.value === 'investigate' && document.getElementById('case-stage').textContent === '{stage}' && document.getElementById('case-severity').textContent === '{severity}' && document.querySelector('#view h2').textContent.startsWith('{title} {case}') && document.querySelectorAll('#case-timeline li').length >= 2"),
                Duration::from_secs(10)
            ),
            "{lang}: the case page in its language"
        );
        for (w, hgt) in [(1920, 1080), (1366, 768)] {
            b.resize(w, hgt);
            std::thread::sleep(Duration::from_millis(400));
            b.assert_clean_text(&format!("{lang} case page {w}x{hgt}"));
            fits(&format!("{lang} case page {w}x{hgt}"));
            b.screenshot(&out.join(format!("case-{lang}-{w}x{hgt}.png")));
        }
        b.go(&format!("http://{web}/console/#/customer/{number}"));
        assert!(
            b.wait_js(
                &format!("document.getElementById('customer-name') && document.getElementById('customer-name').textContent === '王芳' && [...document.querySelectorAll('#view table.notes td')].some(td => td.textContent === '{category}') && document.querySelectorAll('#customer-cases tr').length >= 2"),
                Duration::from_secs(10)
            ),
            "{lang}: the customer page in its language"
        );
        for (w, hgt) in [(1920, 1080), (1366, 768)] {
            b.resize(w, hgt);
            std::thread::sleep(Duration::from_millis(400));
            b.assert_clean_text(&format!("{lang} customer page {w}x{hgt}"));
            fits(&format!("{lang} customer page {w}x{hgt}"));
            b.screenshot(&out.join(format!("customer-{lang}-{w}x{hgt}.png")));
        }
        // the other pages of issues 14 and 15: (route, page name, ready)
        let visit_route = format!("visit/{visit}");
        for (route, page, ready) in [
            ("cases", "cases", "document.getElementById('nav-cases').classList.contains('active') && document.querySelectorAll('#cases-table tr.case-row').length >= 1"),
            ("worklist", "worklist", "document.getElementById('nav-worklist').classList.contains('active') && document.getElementById('wl-items') && document.querySelector('#wl-figures .tile') && document.querySelector(\"#wl-items tr[data-item] a[href^='#/visit/']\")"),
            ("campaigns", "campaigns", "document.getElementById('nav-campaigns').classList.contains('active') && document.querySelectorAll('#wl-campaigns tr[data-campaign]').length === 1 && document.querySelectorAll('.wl-quota').length === 2"),
            (visit_route.as_str(), "visit", "document.getElementById('wl-visit') && document.querySelector('#wl-visit select[name=outcome]')"),
        ] {
            b.go(&format!("http://{web}/console/#/{route}"));
            assert!(
                b.wait_js(ready, Duration::from_secs(10)),
                "{lang}: {page} renders"
            );
            std::thread::sleep(Duration::from_millis(300));
            b.assert_clean_text(&format!("{lang} {page} 1366x768"));
            fits(&format!("{lang} {page} 1366x768"));
            b.screenshot(&out.join(format!("{page}-{lang}-1366x768.png")));
        }
    }
}

#[test]
fn the_console_serves_https_with_a_configured_certificate() {
    assert!(
        have("openssl") && have("curl"),
        "openssl and curl are needed"
    );
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h = Hotline::start_with(HotlineOptions {
        http_toml: format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            cert.display(),
            key.display()
        ),
        ..HotlineOptions::default()
    });
    add_user(&h, "alice", "supervisor", "correct horse");
    let web = h.http_addr();
    let curl = |args: &[&str]| {
        let o = Command::new("curl")
            .args(["-s", "-i", "--max-time", "10", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // the certificate verifies and the login cookie is Secure
    let r = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"user":"alice","password":"correct horse"}"#,
        &format!("https://{web}/api/login"),
    ]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let cookie = r
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {r}"));
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let r = curl(&[&format!("https://{web}/api/stats")]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // plain HTTP on the TLS port gets no HTTP answer
    let mut s = std::net::TcpStream::connect(&web).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    // and the server keeps serving TLS clients after it
    let r = curl(&[&format!("https://{web}/health")]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}
