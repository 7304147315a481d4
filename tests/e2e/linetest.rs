//! The line self-test end to end: a test passing through a trunk that points
//! back at the hotline itself (answered within the rings, tones both ways),
//! and a test failing because the trunk is down (OPTIONS unanswered), whose
//! alarm reaches a real SMTP server (aiosmtpd) and a local webhook sink that
//! first answers 500 (retried, every attempt recorded).

use super::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "test-token";

fn post_line_test(h: &Hotline) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http_with(
        &h.http_addr(),
        "POST",
        "/api/line-tests",
        &[("Authorization", auth.as_str())],
        "",
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

/// The HTTP address of the latest run (a restart gets a new port).
fn web(h: &Hotline) -> String {
    h.stdout()
        .lines()
        .rev()
        .find_map(|l| l.split(" http=").nth(1).map(|a| a.trim().to_string()))
        .unwrap_or_else(|| h.http_addr())
}

fn get(h: &Hotline, path: &str) -> serde_json::Value {
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http_with(
        &web(h),
        "GET",
        path,
        &[("Authorization", auth.as_str())],
        "",
    );
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// `GET /api/line-tests` once it lists a result (or after 5 s).
fn listed(h: &Hotline) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let list = get(h, "/api/line-tests");
        if list["tests"][0].is_object() || std::time::Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_line_test_through_a_trunk_back_to_the_hotline_passes() {
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: r#"
[[trunks]]
name = "loop"
address = "127.0.0.1:{{sip_port}}"
caller_id = "4000"
number_format = "as_dialled"
probe_every_s = 0
"#
        .into(),
        line_test_toml: r#"
times = ["03:17"]
trunk = "loop"
number = "4000"
caller_id = "99990000"
"#
        .into(),
        ..HotlineOptions::default()
    });
    let (status, ev) = post_line_test(&h);
    assert_eq!(status, 200, "{ev}\n{}", h.report());
    assert_eq!(
        ev["kind"]["type"],
        "line_test_passed",
        "{ev:#}\n{}",
        h.report()
    );
    assert_eq!(ev["kind"]["trigger"], "manual");
    let detail = ev["kind"]["detail"].as_str().unwrap();
    assert!(detail.contains("trunk loop: OPTIONS 200"), "{detail}");
    assert!(detail.contains("answered after"), "{detail}");
    assert!(detail.contains("audio: both ways"), "{detail}");
    // recorded (the event writer is asynchronous), listed, and the test
    // call never reached the queue
    let list = listed(&h);
    assert_eq!(list["enabled"], true);
    assert_eq!(
        list["tests"][0]["kind"]["type"], "line_test_passed",
        "{list}"
    );
    let events = read_db(&h, async |s| {
        s.events_between(0, i64::MAX, 10_000).await.unwrap()
    });
    assert!(
        find(&events, |k| matches!(k, EventKind::Arrived { .. })).is_none(),
        "the test call is answered by the test, not queued: {events:#?}"
    );
    // hostile queries are refused
    for q in ["?days=0", "?days=1000", "?limit=-1", "?limit=abc", "?x=1"] {
        let auth = format!("Bearer {TOKEN}");
        let (status, body) = http_with(
            &h.http_addr(),
            "GET",
            &format!("/api/line-tests{q}"),
            &[("Authorization", auth.as_str())],
            "",
        );
        assert_eq!(status, 400, "{q}: {body}");
    }
    let auth = format!("Bearer {TOKEN}");
    let (status, _) = http_with(
        &h.http_addr(),
        "POST",
        "/api/line-tests",
        &[("Authorization", auth.as_str())],
        "{\"now\": true}",
    );
    assert_eq!(status, 400, "a body is refused");
    let (status, _) = http_with(&h.http_addr(), "POST", "/api/line-tests", &[], "");
    assert_eq!(status, 401, "a supervisor's request only");
    // a phone registered and then unplugged (SIPp registers and exits):
    // its OPTIONS go unanswered and the test fails, naming it
    let phone = free_udp_port();
    register(&h, "1001", phone);
    let (status, ev) = post_line_test(&h);
    assert_eq!(status, 200, "{ev}");
    assert_eq!(ev["kind"]["type"], "line_test_failed", "{ev:#}");
    let reason = ev["kind"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "phone of agent 1001 (127.0.0.1:{phone}) did not answer OPTIONS"
        )),
        "{reason}"
    );
    let detail = ev["kind"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("audio: both ways"),
        "the line itself is fine: {detail}"
    );
}

/// A webhook sink: answers 500 to the first POST, 200 after; keeps bodies.
fn webhook_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook?key=robot-secret", l.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let Ok(k) = s.read(&mut chunk) else {
                    break None;
                };
                if k == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_string());
                    }
                }
            };
            if let Some(body) = body {
                b.lock().unwrap().push(body);
            }
            let answer = if n == 0 {
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
            } else {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"errcode\":0,\"errmsg\":\"ok\"}"
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (url, bodies)
}

/// aiosmtpd (python3-aiosmtpd) on a free port, saving mail to `maildir`.
struct Smtp {
    child: std::process::Child,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd(maildir: &Path) -> Smtp {
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "aiosmtpd missing: apt-get install python3-aiosmtpd (scripts/test.sh installs it)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .spawn()
        .unwrap();
    // killed and waited for on drop, also when it never starts
    let smtp = Smtp { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return smtp;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("aiosmtpd did not start");
}

/// Subject and text of every mail in `maildir/new`, decoded by Python's
/// email package.
fn mails(maildir: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(maildir.join("new")) else {
        return vec![];
    };
    dir.map(|f| {
        let path = f.unwrap().path();
        let out = std::process::Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import sys,email,email.policy as p;m=email.message_from_binary_file(open(sys.argv[1],'rb'),policy=p.default);print(m['subject']);print(m['to']);print(m.get_content())",
            ])
            .arg(&path)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    })
    .collect()
}

#[test]
fn a_line_test_with_the_trunk_down_fails_and_its_alarm_is_mailed_and_posted() {
    let mail_dir = tempfile::tempdir().unwrap();
    let maildir = mail_dir.path().join("mail");
    let smtp = aiosmtpd(&maildir);
    let (hook, bodies) = webhook_sink();
    // nothing listens on the trunk's port: OPTIONS go unanswered
    let dead = free_udp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            r#"
[[trunks]]
name = "carrier"
address = "127.0.0.1:{dead}"
probe_every_s = 0

[notify]
retry_first_s = 1
retry_max_s = 2
timeout_s = 5

[[notify.email]]
host = "127.0.0.1"
port = {port}
starttls = false
from = "热线 <hotline@example.cn>"
to = ["machine-room@example.cn", "duty@example.cn"]

[[notify.webhook]]
url = "{hook}"
style = "wecom"
events = ["line_test_failed", "line_test_missing"]
"#,
            port = smtp.port
        ),
        line_test_toml: "times = [\"03:17\"]\ncheck_phones = false".into(),
        ..HotlineOptions::default()
    });
    let (status, ev) = post_line_test(&h);
    assert_eq!(status, 200, "{ev}\n{}", h.report());
    assert_eq!(ev["kind"]["type"], "line_test_failed", "{ev:#}");
    let reason = ev["kind"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("trunk carrier down: no answer to OPTIONS"),
        "{reason}"
    );
    // the mail reaches the SMTP server; the webhook is retried after its 500
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while (mails(&maildir).is_empty() || bodies.lock().unwrap().len() < 2)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mails = mails(&maildir);
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", h.report());
    let m = &mails[0];
    assert!(m.starts_with("【热线告警】线路自检失败"), "{m}");
    assert!(m.contains("machine-room@example.cn"), "{m}");
    assert!(
        m.contains("原因: trunk carrier down: no answer to OPTIONS"),
        "{m}"
    );
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        2,
        "posted, refused with 500, posted again: {bodies:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(v["msgtype"], "text");
    let text = v["text"]["content"].as_str().unwrap();
    assert!(
        text.contains("线路自检失败") && text.contains("trunk carrier down"),
        "{text}"
    );
    // every attempt is on record, without the robot's key
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let record = loop {
        let d = get(&h, "/api/notifications");
        if d.as_array().unwrap().len() >= 3 || std::time::Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows = record.as_array().unwrap();
    let outcomes: Vec<(String, String, i64)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
                r["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("email".into(), "delivered".into(), 1)),
        "{record:#}"
    );
    assert!(
        outcomes.contains(&("webhook".into(), "retry".into(), 1)),
        "{record:#}"
    );
    assert!(
        outcomes.contains(&("webhook".into(), "delivered".into(), 2)),
        "{record:#}"
    );
    assert!(!record.to_string().contains("robot-secret"), "{record}");
    assert!(rows.iter().all(|r| r["event_kind"] == "line_test_failed"));
    // the result is listed (the wallboard's panel reads this)
    let list = listed(&h);
    assert_eq!(
        list["tests"][0]["kind"]["type"], "line_test_failed",
        "{list}"
    );
}

#[test]
fn check_config_names_the_bad_notify_and_line_test_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[notify.email]]\nhost = \"smtp.example.cn\"\nfrom = \"hotline@example.cn\"\nto = []\n",
            "notify.email[0].to: no recipients",
        ),
        (
            "[[notify.webhook]]\nurl = \"ftp://robot.example.cn/hook\"\n",
            "notify.webhook[0].url",
        ),
        (
            "[[notify.webhook]]\nurl = \"http://127.0.0.1:9/hook\"\nevents = [\"trunk_dwn\"]\n",
            "notify.webhook[0].events: unknown event kind `trunk_dwn`",
        ),
        (
            "[[notify.email]]\nhost = \"smtp.example.cn\"\nstarttls = false\nuser = \"u\"\npassword = \"p\"\nfrom = \"hotline@example.cn\"\nto = [\"a@example.cn\"]\n",
            "notify.email[0].starttls",
        ),
        ("[line_test]\ntimes = [\"8:30\"]\n", "line_test.times"),
        ("[line_test]\ntrunk = \"missing\"\n", "line_test.trunk"),
        ("[notify]\nqueue_size = 0\n", "notify.queue_size"),
    ];
    for (text, key) in cases {
        let path = dir.path().join("hotline.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(Hotline::binary())
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "{text}: must name {key}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_scheduled_line_test_runs_at_its_time_with_its_slot() {
    // the next whole minute at least 5 s away, in the center's time zone
    // (the test config names none: the machine's zone, as the engine reads it)
    let cal = hotline_core::Calendar::system();
    let now = hotline_core::Clock::now_ms(&hotline_core::SystemClock);
    let mut at = (now / 60_000 + 1) * 60_000;
    if at - now < 5_000 {
        at += 60_000;
    }
    let local = cal.local(at).unwrap();
    let slot = format!("{:02}:{:02}", local.hour(), local.minute());
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: r#"
[[trunks]]
name = "loop"
address = "127.0.0.1:{{sip_port}}"
number_format = "as_dialled"
probe_every_s = 0
"#
        .into(),
        line_test_toml: format!(
            "times = [\"{slot}\"]\nnumber = \"4000\"\ncaller_id = \"99990000\"\ncheck_phones = false"
        ),
        ..HotlineOptions::default()
    });
    let deadline = std::time::Instant::now() + Duration::from_millis((at - now) as u64 + 20_000);
    let list = loop {
        let list = get(&h, "/api/line-tests");
        if list["tests"][0].is_object() || std::time::Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let e = &list["tests"][0];
    assert_eq!(
        e["kind"]["type"],
        "line_test_passed",
        "{list:#}\n{}",
        h.report()
    );
    assert_eq!(e["kind"]["trigger"], "scheduled");
    assert_eq!(e["kind"]["slot"], slot.as_str());
    let ran = e["at_ms"].as_i64().unwrap();
    assert!(ran >= at && ran < at + 15_000, "ran at {ran}, due {at}");
}

#[test]
fn a_slot_missed_while_the_hotline_was_stopped_is_reported_missing_at_start() {
    let cal = hotline_core::Calendar::system();
    let now = hotline_core::Clock::now_ms(&hotline_core::SystemClock);
    // a slot an hour and a half ago, past its 30 minutes of grace
    let due = (now - 90 * 60_000) / 60_000 * 60_000;
    let local = cal.local(due).unwrap();
    let slot = format!("{:02}:{:02}", local.hour(), local.minute());
    let mut h = Hotline::start_with(HotlineOptions {
        line_test_toml: format!("times = [\"{slot}\"]\ngrace_min = 30\ncheck_phones = false"),
        ..HotlineOptions::default()
    });
    // a fresh database: slots before the start do not count
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&h, "/api/line-tests")["tests"], serde_json::json!([]));
    h.stop();
    // the last test on record ran three hours ago
    read_db(&h, async |s| {
        s.append_event(&CallEvent {
            at_ms: now - 3 * 3_600_000,
            call_id: None,
            agent: None,
            queue: None,
            kind: EventKind::LineTestPassed {
                trigger: "scheduled".into(),
                slot: "earlier".into(),
                shift: None,
                detail: String::new(),
            },
        })
        .await
        .unwrap();
    });
    h.restart();
    let list = listed_until(&h, |l| l["tests"][0]["kind"]["type"] == "line_test_missing");
    let e = &list["tests"][0]["kind"];
    assert_eq!(e["type"], "line_test_missing", "{list:#}\n{}", h.report());
    assert_eq!(e["slot"], slot.as_str());
    assert_eq!(e["due_ms"].as_i64(), Some(due));
    assert_eq!(
        list["tests"].as_array().unwrap().len(),
        2,
        "reported once: {list:#}"
    );
}

/// `GET /api/line-tests` once `done` says so (or after 5 s).
fn listed_until(h: &Hotline, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let list = get(h, "/api/line-tests");
        if done(&list) || std::time::Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
