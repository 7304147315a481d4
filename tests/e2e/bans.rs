//! Password guessing and scanning against the real binary (issue 19), with
//! sipvicious 0.3 (`pip install sipvicious`; scripts/test.sh installs it):
//! `svwar` learns no extension, `svcrack` is banned within a few tries and
//! never finds the password even when it is in its list (with the defence
//! off the same run finds it: the harness can fail), a legitimate agent on
//! another address keeps registering and taking a call while the attacker is
//! banned, and a supervisor lists the ban and lifts it, after which the
//! source is answered again.

use super::*;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The demo password of 1001 (tests/common/hotline.test.toml).
const PASSWORD: &str = "demo1001";

/// A sipvicious script: on PATH or in ~/.local/bin (`pip install --user`).
fn sipvicious(tool: &str) -> PathBuf {
    let name = format!("sipvicious_{tool}");
    if have(&name) {
        return PathBuf::from(name);
    }
    let local = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/bin").join(&name))
        .filter(|p| p.exists());
    local.unwrap_or_else(|| {
        panic!("{name} is not installed: run scripts/test.sh (it installs sipvicious from PyPI)")
    })
}

/// Runs a sipvicious tool from 127.0.0.1 (its own free local port) against
/// the hotline; returns its output (stdout and stderr) and wall time.
fn run_tool(h: &Hotline, tool: &str, args: &[&str], dir: &Path) -> (String, Duration) {
    let port = free_udp_port().to_string();
    let started = Instant::now();
    let mut child = Command::new(sipvicious(tool))
        .args(args)
        .args(["-p", &h.sip_port.to_string(), "-P", &port, "127.0.0.1"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {tool}: {e}"));
    // every run ends by itself (--maximumtime); 60 s is a hang
    let done = wait_until(Duration::from_secs(60), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !done {
        child.kill().ok();
    }
    let out = child.wait_with_output().expect("tool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(done, "{tool} did not end within 60 s:\n{text}");
    (text, started.elapsed())
}

/// 200 guesses, the real password 190th.
fn dictionary(dir: &Path) -> PathBuf {
    let mut words: Vec<String> = (0..199).map(|i| format!("guess{i:03}")).collect();
    words.insert(189, PASSWORD.to_string());
    let path = dir.join("dict.txt");
    std::fs::write(&path, words.join("\n") + "\n").unwrap();
    path
}

fn lockout_toml(source: u32, user: u32, scanners: &str) -> String {
    format!(
        "[sip.lockout]\nsource_failures = {source}\nuser_failures = {user}\nwindow_s = 60\nban_s = 120\nmax_ban_s = 240\nscanner_user_agents = {scanners}\n"
    )
}

/// The sample of `series` (a family with its labels) on `/metrics`.
fn metric(h: &Hotline, series: &str) -> Option<f64> {
    let (s, text) = http_with(&h.http_addr(), "GET", "/metrics", &[bearer()], "");
    assert_eq!(s, 200, "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn bearer() -> (&'static str, &'static str) {
    ("Authorization", "Bearer test-token")
}

fn bans(h: &Hotline) -> serde_json::Value {
    let (s, body) = http_with(&h.http_addr(), "GET", "/api/sip/bans", &[bearer()], "");
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn ban_targets(h: &Hotline) -> Vec<String> {
    bans(h)["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!(
                "{}:{}",
                b["kind"].as_str().unwrap(),
                b["target"].as_str().unwrap()
            )
        })
        .collect()
}

/// Audit entries as `who action reason`.
fn audit(h: &Hotline) -> Vec<String> {
    read_db(h, async |s| {
        s.audit(None).await.expect("read the audit log")
    })
    .into_iter()
    .map(|a| format!("{} {} {}", a.who, a.action, a.reason))
    .collect()
}

/// Registers `agent` from `ip:port` with its demo password.
fn register_from(h: &Hotline, agent: &str, ip: &str, port: u16) -> SippOutput {
    Sipp::new("agent_register.xml")
        .local_ip(ip)
        .remote(&h.addr())
        .port(port)
        .credentials(agent, &format!("demo{agent}"))
        .timeout(Duration::from_secs(10))
        .run()
}

#[test]
fn svcrack_is_banned_within_a_few_tries_and_agents_elsewhere_keep_working() {
    // a scanner that hides its User-Agent: the failure counts must stop it
    let h = Hotline::start_with(HotlineOptions {
        ring_on_ms: 1000,
        ring_off_ms: 1000,
        extra_toml: lockout_toml(5, 3, "[]"),
        ..HotlineOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dict = dictionary(dir.path());

    // the agent's phone on another address registers before the attack
    let phone_port = free_udp_port();
    register_from(&h, "1001", "127.0.0.2", phone_port).assert_success("1001 from 127.0.0.2");

    // svwar: every extension is answered alike, so none is learnt (it
    // notices an unknown extension is challenged like a known one; forced,
    // it still finds nothing)
    let (war, _) = run_tool(
        &h,
        "svwar",
        &["-e1000-1010", "--maximumtime", "3"],
        dir.path(),
    );
    assert!(
        war.contains("authentication request for an unknown extension")
            && war.contains("found nothing"),
        "svwar:\n{war}"
    );
    let (war, _) = run_tool(
        &h,
        "svwar",
        &["-e1000-1010", "--force", "--maximumtime", "3"],
        dir.path(),
    );
    assert!(
        war.contains("found nothing") && !war.contains("| 1001"),
        "svwar --force learnt an extension:\n{war}"
    );

    // svcrack with the real password 190th of 200
    let (crack, took) = run_tool(
        &h,
        "svcrack",
        &[
            "-u",
            "1001",
            "-d",
            dict.to_str().unwrap(),
            "--maximumtime",
            "3",
        ],
        dir.path(),
    );
    assert!(
        !crack.contains(PASSWORD) && crack.contains("found nothing"),
        "svcrack found the password:\n{crack}"
    );
    // the password was checked only until the name was locked (3), the
    // source banned at 5 tries: no more "authentication failed" lines
    let log = h.stderr();
    let checked = log.matches("authentication failed").count();
    assert!(
        (1..=5).contains(&checked),
        "{checked} digest answers of svcrack were checked (at most 5 expected):\n{crack}"
    );
    assert!(
        log.contains("hotline::security") && log.contains("source 127.0.0.1"),
        "the ban is in the log\n{}",
        h.report()
    );
    let banned = ban_targets(&h);
    assert!(
        banned.contains(&"source:127.0.0.1".to_string())
            && banned.contains(&"user:1001".to_string()),
        "{banned:?}"
    );
    eprintln!("svcrack ran {took:?}, {checked} answers checked, then banned: {banned:?}");

    // the banned source is not answered at all, and its datagrams are counted
    let mut raw = RawSip::new(&h);
    assert_eq!(raw.options(), None, "a banned source got an answer");
    let dropped = &bans(&h)["dropped"];
    assert!(
        dropped["banned_datagrams"].as_u64().unwrap() >= 1,
        "{dropped}"
    );
    assert_eq!(dropped["scanner_requests"], 0, "{dropped}");
    // and /metrics shows the ban, the lock and the dropped datagrams
    let banned_dropped = "hotline_sip_dropped_datagrams_total{reason=\"banned_source\"}";
    assert!(
        metric(&h, banned_dropped).is_some_and(|n| n >= 1.0),
        "{banned_dropped}: {:?}",
        metric(&h, banned_dropped)
    );
    assert_eq!(metric(&h, "hotline_sip_banned_sources"), Some(1.0));
    assert_eq!(metric(&h, "hotline_sip_locked_users"), Some(1.0));
    assert_eq!(
        metric(&h, "hotline_sip_bans_issued_total{kind=\"source\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&h, "hotline_sip_bans_issued_total{kind=\"user\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &h,
            "hotline_sip_dropped_datagrams_total{reason=\"scanner\"}"
        ),
        Some(0.0)
    );

    // the agent's phone keeps registering through its name's lock (it
    // proved the password from there) and takes a call from a third address
    register_from(&h, "1001", "127.0.0.2", phone_port)
        .assert_success("1001 re-registers from 127.0.0.2 while 127.0.0.1 is banned");
    let phone = Sipp::new("agent_uas.xml")
        .local_ip("127.0.0.2")
        .port(phone_port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(30))
        .spawn();
    Sipp::new("caller.xml")
        .local_ip("127.0.0.3")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(1000)
        .run()
        .assert_success("a caller from 127.0.0.3 is served");
    phone.wait().assert_success("1001 answers on 127.0.0.2");
    let answered = wait_until(Duration::from_secs(5), || {
        all_events(&h).iter().any(|e| {
            matches!(e.kind, EventKind::AgentAnswered { .. })
                && e.agent.as_ref().is_some_and(|a| a.as_str() == "1001")
        })
    });
    assert!(answered, "1001 did not answer\n{}", h.report());

    // the audit log has the ban and the lock, with address, name and length
    let a = audit(&h);
    assert!(
        a.iter().any(
            |e| e.starts_with("engine:sip-lockout sip_ban source 127.0.0.1 for 120 s")
                && e.contains("as user 1001")
        ),
        "{a:#?}"
    );
    assert!(
        a.iter()
            .any(|e| e.starts_with("engine:sip-lockout sip_lock user 1001 for 120 s")),
        "{a:#?}"
    );

    // a supervisor lifts the ban: the source is answered again
    let (s, body) = http_with(
        &h.http_addr(),
        "DELETE",
        "/api/sip/bans/source/127.0.0.1",
        &[bearer()],
        "",
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(raw.options(), Some(200), "the lifted source is answered");
    assert_eq!(ban_targets(&h), ["user:1001"]);
    // the lift lowers the gauge, not the count of bans issued
    assert_eq!(metric(&h, "hotline_sip_banned_sources"), Some(0.0));
    assert_eq!(
        metric(&h, "hotline_sip_bans_issued_total{kind=\"source\"}"),
        Some(1.0)
    );
    let (s, _) = http_with(
        &h.http_addr(),
        "DELETE",
        "/api/sip/bans/source/127.0.0.1",
        &[bearer()],
        "",
    );
    assert_eq!(s, 404, "lifted once");
    assert!(
        audit(&h)
            .iter()
            .any(|e| e == "api:token sip_ban_lift source 127.0.0.1"),
        "{:#?}",
        audit(&h)
    );
}

#[test]
fn svcrack_finds_the_password_when_the_defence_is_off() {
    // the control: the same run without bans finds it, so the test above
    // would notice a defence that does not work
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: lockout_toml(0, 0, "[]"),
        ..HotlineOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dict = dictionary(dir.path());
    let (crack, took) = run_tool(
        &h,
        "svcrack",
        &[
            "-u",
            "1001",
            "-d",
            dict.to_str().unwrap(),
            "--maximumtime",
            "3",
        ],
        dir.path(),
    );
    assert!(
        crack.contains(PASSWORD),
        "without the defence svcrack should find the password:\n{crack}\n{}",
        h.report()
    );
    assert!(ban_targets(&h).is_empty());
    eprintln!("svcrack found the password in {took:?} with the defence off");
}

#[test]
fn scanners_are_dropped_unanswered_on_the_shipped_defaults() {
    // the shipped [sip.lockout]: sipvicious says `friendly-scanner`
    let h = Hotline::start();
    let dir = tempfile::tempdir().unwrap();
    let dict = dictionary(dir.path());
    let (war, _) = run_tool(
        &h,
        "svwar",
        &["-e1000-1010", "--maximumtime", "2"],
        dir.path(),
    );
    assert!(
        war.contains("found nothing") && !war.contains("| 1001"),
        "svwar learnt an extension:\n{war}"
    );
    let (crack, _) = run_tool(
        &h,
        "svcrack",
        &[
            "-u",
            "1001",
            "-d",
            dict.to_str().unwrap(),
            "--maximumtime",
            "2",
        ],
        dir.path(),
    );
    assert!(
        !crack.contains(PASSWORD) && crack.contains("found nothing"),
        "{crack}"
    );
    assert_eq!(
        h.stderr().matches("authentication failed").count(),
        0,
        "no scanner request reached the registrar"
    );
    // nothing was banned (nothing was tried), and a phone on the same
    // address is still served
    assert!(ban_targets(&h).is_empty());
    assert_eq!(bans(&h)["enabled"], true);
    let dropped = &bans(&h)["dropped"];
    assert!(
        dropped["scanner_requests"].as_u64().unwrap() >= 2,
        "svwar's and svcrack's requests: {dropped}"
    );
    assert_eq!(dropped["banned_datagrams"], 0, "{dropped}");
    let scanner = metric(
        &h,
        "hotline_sip_dropped_datagrams_total{reason=\"scanner\"}",
    );
    assert!(scanner.is_some_and(|n| n >= 2.0), "{scanner:?}");
    assert_eq!(
        metric(&h, "hotline_sip_bans_issued_total{kind=\"source\"}"),
        Some(0.0)
    );
    let mut raw = RawSip::new(&h);
    assert_eq!(raw.options(), Some(200));
    register_from(&h, "1002", "127.0.0.1", free_udp_port()).assert_success("1002 registers");
}

#[test]
fn a_supervisor_sees_the_ban_and_lifts_it_with_its_button_in_chromium() {
    need_peers();
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    use super::console::{add_user, artifacts, Browser, Client};
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: lockout_toml(3, 2, "[]"),
        ..HotlineOptions::default()
    });
    let web = h.http_addr();
    add_user(&h, "alice", "supervisor", "correct horse battery");
    add_user(&h, "ann", "agent", "agent password 1");
    // a phone with a wrong password on 127.0.0.4: 1003 is locked after two
    // tries, the address banned at the third
    let banned = wait_until(Duration::from_secs(30), || {
        Sipp::new("agent_register_reject.xml")
            .local_ip("127.0.0.4")
            .remote(&h.addr())
            .credentials("1003", "not-the-password")
            .timeout(Duration::from_secs(3))
            .run();
        ban_targets(&h).contains(&"source:127.0.0.4".to_string())
    });
    assert!(banned, "{:?}\n{}", ban_targets(&h), h.report());
    // an agent may not see them
    let ann = Client::login(&web, "ann", "agent password 1");
    assert_eq!(
        ann.json("GET", "/api/sip/bans", serde_json::Value::Null).0,
        403
    );
    assert_eq!(
        ann.json(
            "DELETE",
            "/api/sip/bans/source/127.0.0.4",
            serde_json::Value::Null
        )
        .0,
        403
    );

    let b = Browser::start("zh-CN");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "document.getElementById('login-view') && !document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", "alice");
    b.type_in("#login-password", "correct horse battery");
    b.click("#login-submit");
    assert!(b.wait_js(
        "document.getElementById('wb-tiles')",
        Duration::from_secs(10)
    ));
    b.go(&format!("http://{web}/console/#/blacklist"));
    let row = "#bans-table tr[data-ban='source:127.0.0.4']";
    assert!(
        b.wait_js(
            &format!("document.querySelector(\"{row} button.ban-lift\") && document.querySelector(\"#bans-table tr[data-ban='user:1003']\")"),
            Duration::from_secs(10)
        ),
        "the bans are listed\n{}",
        h.report()
    );
    assert_eq!(
        b.js(&format!(
            "return [document.querySelector('#bans h3').textContent, document.querySelector(\"{row} button.ban-lift\").textContent, document.querySelector(\"{row} td\").textContent];"
        )),
        serde_json::json!(["SIP 封禁（密码猜测）", "解除", "来源地址"])
    );
    b.screenshot(&artifacts().join("bans-zh-CN.png"));
    b.click(&format!("{row} button.ban-lift"));
    assert!(
        b.wait_js(
            &format!("!document.querySelector(\"{row}\") && document.querySelector(\"#bans-table tr[data-ban='user:1003']\")"),
            Duration::from_secs(10)
        ),
        "the lifted ban leaves the list"
    );
    assert_eq!(ban_targets(&h), ["user:1003"]);
    assert!(
        audit(&h)
            .iter()
            .any(|e| e == "user:alice sip_ban_lift source 127.0.0.4"),
        "{:#?}",
        audit(&h)
    );
    // the address is answered again (1003 stays locked for it: 403)
    let out = Sipp::new("agent_register_reject.xml")
        .local_ip("127.0.0.4")
        .remote(&h.addr())
        .credentials("1002", "not-the-password")
        .timeout(Duration::from_secs(5))
        .run();
    out.assert_success("127.0.0.4 is challenged again after the lift");
}
