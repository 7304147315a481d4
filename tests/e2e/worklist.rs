//! Work lists and return visits end to end: a missed call becomes an item,
//! the agent dials it from the desk phone (SIPp, like outbound.rs) and the
//! item closes; a campaign imported and worked to its quota figures; an
//! overdue item raises its alarm.

use super::*;
use std::path::Path;

const TOKEN: (&str, &str) = ("Authorization", "Bearer test-token");

/// A hotline whose agents may dial 06 numbers (and their work items)
/// through 127.0.0.1:`gateway`; overdue items are looked for every second.
fn with_worklist(gateway: u16, worklist: &str) -> HotlineOptions {
    HotlineOptions {
        extra_toml: format!(
            r#"
[outbound]
enabled = true
prefix = "9"
dial = "sip:{{number}}@127.0.0.1:{gateway}"
allowed_prefixes = ["06"]
answer_timeout_s = 10

[worklist]
check_every_s = 1
{worklist}
"#
        ),
        ..HotlineOptions::default()
    }
}

fn api(h: &Hotline, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (s, b) = http_with(&h.http_addr(), method, path, &[TOKEN], body);
    (
        s,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

/// `agent` dials `prefix + number` and talks `talk_ms`.
fn dial(h: &Hotline, agent: &str, dialled: &str, talk_ms: u64) -> SippOutput {
    Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service(dialled)
        .credentials(agent, &format!("demo{agent}"))
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(40))
        .run()
}

/// The customer's phone behind the gateway: answers `calls` calls.
fn customer(gateway: u16, calls: u32) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(gateway)
        .key("agent", "customer")
        .calls(calls)
        .timeout(Duration::from_secs(60))
        .spawn()
}

fn items(h: &Hotline, query: &str) -> Vec<serde_json::Value> {
    let (s, v) = api(h, "GET", &format!("/api/worklist{query}"), "");
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_missed_call_becomes_an_item_and_dialling_it_from_the_desk_phone_closes_it() {
    need_peers();
    let gateway = free_udp_port();
    let h = Hotline::start_with(with_worklist(gateway, ""));
    // the customer calls while no agent is there and gives up (no agent is
    // registered yet: see the report on offers to a dead contact)
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "13800000000")
        .duration_ms(500)
        .timeout(Duration::from_secs(30))
        .run();
    assert!(
        wait_until(Duration::from_secs(15), || items(&h, "")
            .iter()
            .any(|i| i["number"] == "13800000000")),
        "no work item: {:?}\n{}",
        items(&h, ""),
        h.stderr()
    );
    let item = items(&h, "").remove(0);
    assert!(
        ["missed", "abandoned", "voicemail"].contains(&item["kind"].as_str().unwrap_or("")),
        "{item}"
    );
    assert_eq!(item["owner"]["queue"], "general", "{item}");
    // now the number is on the work list: the desk phone may dial it
    register(&h, "1001", free_udp_port());
    let phone = customer(gateway, 1);
    let out = dial(&h, "1001", "913800000000", 2000);
    out.assert_success("the agent returns the call");
    assert!(out.logs().contains("final 200"), "{}", out.logs());
    phone.wait().assert_success("the customer answers");
    assert!(
        wait_until(Duration::from_secs(10), || items(&h, "").is_empty()),
        "still open: {:?}",
        items(&h, "")
    );
    let closed = items(&h, "?closed=true");
    let done = closed
        .iter()
        .find(|i| i["number"] == "13800000000")
        .expect("closed item");
    assert_eq!(
        (done["outcome"].as_str(), done["closed_by"].as_str()),
        (Some("returned"), Some("1001")),
        "{done}"
    );
    let (_, f) = api(&h, "GET", "/api/worklist/figures", "");
    assert_eq!(f["today"]["percent_returned"], 100.0, "{f}");
    assert_eq!(f["refused_dials"], 0, "{f}");
    // once returned, 13800000000 (outside the allowed prefixes) is a
    // private call again: refused, audited and counted
    let out = dial(&h, "1001", "913800000000", 500);
    assert!(out.logs().contains("final 403"), "{}", out.logs());
    assert!(wait_until(Duration::from_secs(5), || {
        api(&h, "GET", "/api/worklist/figures", "").1["refused_dials"] == 1
    }));
}

#[test]
fn an_overdue_promise_raises_its_alarm_once() {
    let h = Hotline::start_with(with_worklist(free_udp_port(), ""));
    let due = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let (s, p) = api(
        &h,
        "POST",
        "/api/worklist/promise",
        &format!(r#"{{"number":"0612345678","agent":"1001","notes":"refund","due":"{due}"}}"#),
    );
    assert_eq!(s, 201, "{p}");
    let overdue = |h: &Hotline| {
        all_events(h)
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::WorkItemOverdue { .. }))
            .collect::<Vec<_>>()
    };
    assert!(overdue(&h).is_empty());
    assert!(
        wait_until(Duration::from_secs(10), || !overdue(&h).is_empty()),
        "no alarm\n{}",
        h.stderr()
    );
    let e = overdue(&h).remove(0);
    assert_eq!(e.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert!(
        matches!(&e.kind, EventKind::WorkItemOverdue { number, item_kind, .. } if number == "0612345678" && item_kind == "promise"),
        "{e:?}"
    );
    let (_, f) = api(&h, "GET", "/api/worklist/figures", "");
    assert_eq!(f["overdue"], 1, "{f}");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(overdue(&h).len(), 1, "the alarm is raised once");
}

#[test]
fn a_campaign_is_imported_and_worked_to_its_quota() {
    need_peers();
    let gateway = free_udp_port();
    let h = Hotline::start_with(with_worklist(
        gateway,
        "weekly_quota = 2\nmonthly_quota = 8",
    ));
    let csv = "号码,姓名,卡号,备注,时间,坐席\n\
               0611111111,李雷,M001,新会员,after 13:10,1001\n\
               0622222222,韩梅梅,M002,,10:00前,1001\n\
               06@bad,坏,M003,,,\n\
               0633333333,张三,M004,,,\n";
    let (s, b) = http_with(
        &h.http_addr(),
        "POST",
        "/api/campaigns/import?name=December",
        &[TOKEN],
        csv,
    );
    let r: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (r["imported"].as_u64(), r["errors"][0]["line"].as_u64()),
        (Some(3), Some(4)),
        "{r}"
    );
    // again: nothing twice
    let (_, b) = http_with(
        &h.http_addr(),
        "POST",
        "/api/campaigns/import?name=December",
        &[TOKEN],
        csv,
    );
    let r: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
    assert_eq!(r["imported"], 0, "{r}");
    let visits: Vec<serde_json::Value> = items(&h, "")
        .into_iter()
        .filter(|i| i["owner"]["agent"] == "1001")
        .collect();
    assert_eq!(visits.len(), 2);
    // the first visit is a real call from the desk phone; its length comes from the CDR
    register(&h, "1001", free_udp_port());
    let phone = customer(gateway, 1);
    dial(&h, "1001", "90611111111", 2000).assert_success("the visit call");
    phone.wait().assert_success("the member answers");
    let first = visits[0]["id"].as_i64().unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        api(&h, "GET", &format!("/api/worklist/{first}"), "").1["last_call"].is_string()
    }));
    let call = api(&h, "GET", &format!("/api/worklist/{first}"), "").1["last_call"].clone();
    wait_cdrs(&h, 1);
    let (s, v) = api(
        &h,
        "POST",
        "/api/visits",
        &format!(
            r#"{{"item":{first},"agent":"1001","outcome":"reached","opinions":"满意","satisfaction":5}}"#
        ),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["call_id"], call);
    let d = v["duration_ms"].as_i64().unwrap();
    assert!((1500..=4000).contains(&d), "{v}");
    assert_eq!(v["valid"], true);
    // a bad form, then the second visit (not over the phone here: typed length)
    let second = visits[1]["id"].as_i64().unwrap();
    let (s, _) = api(
        &h,
        "POST",
        "/api/visits",
        &format!(
            r#"{{"item":{second},"agent":"1001","outcome":"reached","opinions":"ok","satisfaction":9}}"#
        ),
    );
    assert_eq!(s, 400);
    let (s, v) = api(
        &h,
        "POST",
        "/api/visits",
        &format!(
            r#"{{"item":{second},"agent":"1001","outcome":"reached","opinions":"建议延长营业时间","satisfaction":4,"duration_s":90}}"#
        ),
    );
    assert_eq!((s, v["valid"].as_bool()), (201, Some(true)), "{v}");
    // quota met: 2 of 2 this week, 2 of 8 this month
    let (_, q) = api(&h, "GET", "/api/visits/quotas", "");
    let row = q["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "1001")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            row["valid"].as_u64(),
            row["target"].as_u64(),
            row["remaining"].as_u64()
        ),
        (Some(2), Some(2), Some(0)),
        "{q}"
    );
    assert_eq!(row["percent"], 100.0);
    let (_, q) = api(&h, "GET", "/api/visits/quotas?period=month", "");
    let row = q["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "1001")
        .cloned()
        .unwrap();
    assert_eq!(
        (row["valid"].as_u64(), row["remaining"].as_u64()),
        (Some(2), Some(6)),
        "{q}"
    );
    let (_, w) = api(&h, "GET", "/api/visits/weekly", "");
    let a = w["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "1001")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            a["made"].as_u64(),
            a["valid"].as_u64(),
            a["avg_satisfaction"].as_f64()
        ),
        (Some(2), Some(2), Some(4.5)),
        "{w}"
    );
    assert_eq!(w["visits"][0]["card"], "M001");
    let (_, c) = api(&h, "GET", "/api/campaigns", "");
    let c0 = &c["campaigns"][0];
    assert_eq!(
        (
            c0["members"].as_u64(),
            c0["reached"].as_u64(),
            c0["open"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{c}"
    );
}

fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(Hotline::binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run hotline")
}

#[test]
fn the_cli_imports_exports_and_lists_a_campaign_and_the_report_shows_quotas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("members.csv");
    std::fs::write(
        &file,
        "number,name,card,preferred,agent\n0611,李雷,M1,after 13:10,1001\n06@x,坏,M2,,\n0613,\"Li, Wei\",M3,,\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = cli(dir.path(), &["worklist", "import", f, "--name", "Dec"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "a refused line fails the command");
    assert!(stdout.contains("2 imported, 0 already"), "{stdout}");
    assert!(
        stderr.contains("line 3: number `06@x` is not a phone number"),
        "{stderr}"
    );
    // fixed and imported again: only the fixed line is new
    std::fs::write(
        &file,
        "number,name,card,preferred,agent\n0611,李雷,M1,after 13:10,1001\n0612,好,M2,,\n0613,\"Li, Wei\",M3,,\n",
    )
    .unwrap();
    let out = cli(dir.path(), &["worklist", "import", f, "--name", "Dec"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 imported, 2 already"), "{stdout}");
    let out = cli(dir.path(), &["worklist", "export", "Dec"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        csv.starts_with("number,name,card,notes,due,preferred,agent,outcome,attempts,closed\n"),
        "{csv}"
    );
    assert!(csv.contains("0611,李雷,M1,,"), "{csv}");
    assert!(csv.contains("\"Li, Wei\""), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let out = cli(dir.path(), &["worklist", "list", "--agent", "1001"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(list.contains("0611,李雷,M1,agent:1001"), "{list}");
    // hostile arguments: clear errors
    for args in [
        &["worklist", "import", "/nonexistent.csv", "--name", "x"][..],
        &["worklist", "import", f, "--name", ""],
        &["worklist", "import", f, "--name", "x", "--queue", "nope"],
        &["worklist", "import", f, "--name", "x", "--due", "12/31"],
        &["worklist", "export", "no such campaign"],
        &["worklist", "list", "--agent", "9999"],
    ] {
        let out = cli(dir.path(), args);
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date()
        .to_string();
    let out = cli(dir.path(), &["report", "--day", &today, "--format", "csv"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains(
            "period,agent,target,valid,made,remaining,percent\nweek,1001,20,0,0,20,0.0\n"
        ),
        "{report}"
    );
    assert!(report.contains("month,1001,80,0,0,80,0.0"), "{report}");
}

/// The work list in the console (Chromium): an agent sees the missed call
/// on their work list and presses its call button; their phone rings first,
/// then the customer's, and the item closes as returned.
#[test]
fn an_agent_returns_a_missed_call_from_the_console_work_list() {
    use super::console::{add_user, artifacts, Browser};
    need_peers();
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    let gateway = free_udp_port();
    let h = Hotline::start_with(with_worklist(gateway, ""));
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0613800001")
        .duration_ms(500)
        .timeout(Duration::from_secs(30))
        .run();
    assert!(
        wait_until(Duration::from_secs(15), || items(&h, "")
            .iter()
            .any(|i| i["number"] == "0613800001")),
        "no work item: {:?}",
        items(&h, "")
    );
    let id = items(&h, "")[0]["id"].as_i64().unwrap();
    // the agent's desk phone answers the engine's call (and hangs up 3 s
    // later), the customer the gateway's
    let agent_port = free_udp_port();
    register(&h, "1001", agent_port);
    let desk = Sipp::new("agent_uas_hangup.xml")
        .port(agent_port)
        .key("agent", "1001")
        .duration_ms(3000)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .spawn();
    let phone = customer(gateway, 1);
    add_user(&h, "1001", "agent", "agent password");
    let web = h.http_addr();
    let b = Browser::start("zh-CN");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "!document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", "1001");
    b.type_in("#login-password", "agent password");
    b.click("#login-submit");
    assert!(b.wait_js(
        "!document.getElementById('nav').hidden",
        Duration::from_secs(10)
    ));
    b.go(&format!("http://{web}/console/#/worklist"));
    let row = format!("#wl-items tr[data-item=\"{id}\"]");
    assert!(
        b.wait_js(
            &format!("(() => {{ const r = document.querySelector('{row}'); return r && r.textContent.includes('0613800001'); }})()"),
            Duration::from_secs(10)
        ),
        "the item is on the agent's work list: {}",
        b.js("return document.getElementById('view').textContent")
    );
    b.screenshot(&artifacts().join("worklist-zh-CN.png"));
    b.click(&format!("{row} button.wl-dial"));
    // the desk phone rings, answers, the customer answers: returned
    assert!(
        wait_until(Duration::from_secs(30), || items(&h, "").is_empty()),
        "still open: {:?}\n{}",
        items(&h, ""),
        h.report()
    );
    // the closing is written to the database just after the list forgets it
    let closed_item = || {
        items(&h, "?closed=true")
            .into_iter()
            .find(|i| i["id"] == id && !i["outcome"].is_null())
    };
    assert!(
        wait_until(Duration::from_secs(10), || closed_item().is_some()),
        "{:?}",
        items(&h, "?closed=true")
    );
    let done = closed_item().expect("closed item");
    assert_eq!(
        (done["outcome"].as_str(), done["closed_by"].as_str()),
        (Some("returned"), Some("1001")),
        "{done}"
    );
    phone.wait().assert_success("the customer answers");
    desk.wait().assert_success("the agent talks and hangs up");
    let cdrs = wait_cdrs(&h, 2);
    assert!(
        cdrs.iter().any(|c| c.dialled == "outbound"
            && c.caller == "0613800001"
            && c.agent.as_ref().map(|a| a.as_str()) == Some("1001")
            && c.outcome == Some(hotline_core::Outcome::Answered)),
        "{cdrs:#?}"
    );
}
