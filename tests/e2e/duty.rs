//! The duty floor end to end: the day shift's last agent may not pause or
//! log out (API) until the next shift's agent is logged in (a real SIPp
//! registration); a supervisor's override is logged; an agent of the shift
//! on duty who unregisters while needed raises a floor alarm.

use super::*;
use hotline_core::AgentId;

const TOKEN: &str = "test-token";

/// `HH:MM` UTC, `minutes` from now (wrapping around the day).
fn utc_hm(minutes: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let m = (now / 60 + minutes).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn control(h: &Hotline, agent: &str, action: &str, body: &str) -> (u16, String) {
    http_with(
        &h.http_addr(),
        "POST",
        &format!("/api/agents/{agent}/{action}"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body,
    )
}

fn floor(h: &Hotline) -> serde_json::Value {
    let (s, b) = http_with(
        &h.http_addr(),
        "GET",
        "/api/duty/floor",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        "",
    );
    assert_eq!(s, 200, "{b}");
    serde_json::from_str(&b).unwrap()
}

/// A hotline whose day shift (1001) ended this minute and whose next shift
/// (1002) began, in UTC.
fn day_ended_night_began() -> Hotline {
    let end = utc_hm(0);
    let extra = format!(
        "[schedule]\ntimezone = \"UTC\"\n\n\
         [[shifts]]\nname = \"day\"\nstart = \"{}\"\nend = \"{end}\"\n\n\
         [[shifts]]\nname = \"next\"\nstart = \"{end}\"\nend = \"{}\"\n\n\
         [[roster]]\nagent = \"1001\"\nshift = \"day\"\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\n\
         [[roster]]\nagent = \"1002\"\nshift = \"next\"\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\n\
         [duty]\nrelief = true\n",
        utc_hm(-180),
        utc_hm(180),
    );
    Hotline::start_with(HotlineOptions {
        extra_toml: extra,
        ..HotlineOptions::default()
    })
}

#[test]
fn the_day_shift_stays_until_the_next_shift_logs_in_and_unregistering_raises_an_alarm() {
    need_peers();
    let h = day_ended_night_began();
    let p1 = free_udp_port();
    register(&h, "1001", p1);
    assert!(wait_until(Duration::from_secs(5), || {
        floor(&h)["is"] == serde_json::json!(["1001"])
    }));
    let f = floor(&h);
    assert_eq!(f["should"], serde_json::json!(["1002"]), "{f}");
    assert_eq!(f["missing"], serde_json::json!(["1002"]), "{f}");

    // 1001 is the last on the floor and 1002 has not arrived: refused
    for action in ["pause", "logout"] {
        let (s, b) = control(&h, "1001", action, r#"{"reason":"meal"}"#);
        assert_eq!(s, 409, "{action}: {b}");
        assert!(
            b.contains("next shift") && b.contains("1002"),
            "{action}: {b}"
        );
    }
    // the events reach the log through the writer task: wait for both
    let refused = || -> Vec<CallEvent> {
        all_events(&h)
            .into_iter()
            .filter(|e| matches!(&e.kind, EventKind::AgentRequestRefused { reason, .. } if reason.contains("1002")))
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(5), || refused().len() == 2),
        "{:#?}",
        refused()
    );
    let refused = refused();
    assert_eq!(refused[0].agent, Some(AgentId::new("1001")));

    // a supervisor may override; it is logged
    let (s, b) = control(
        &h,
        "1001",
        "pause",
        r#"{"reason":"meal","by":"lead","override":true}"#,
    );
    assert_eq!(s, 200, "{b}");
    assert!(wait_until(Duration::from_secs(5), || {
        all_events(&h).iter().any(|e| matches!(&e.kind, EventKind::ReliefOverridden { by, request, .. } if by == "api:lead" && request == "pause"))
    }));
    let (s, b) = control(&h, "1001", "unpause", "");
    assert_eq!(s, 200, "{b}");

    // the next shift's agent logs in: 1001 may go
    let p2 = free_udp_port();
    register(&h, "1002", p2);
    assert!(wait_until(Duration::from_secs(5), || {
        floor(&h)["missing"] == serde_json::json!([])
    }));
    let (s, b) = control(&h, "1001", "pause", r#"{"reason":"meal"}"#);
    assert_eq!(s, 200, "{b}");

    // 1002, on duty and now the last available, unplugs: a floor alarm
    Sipp::new("agent_unregister.xml")
        .remote(&h.addr())
        .port(p2)
        .credentials("1002", "demo1002")
        .run()
        .assert_success("unregister 1002");
    let alarmed = wait_until(Duration::from_secs(5), || {
        all_events(&h).iter().any(|e| {
            e.agent == Some(AgentId::new("1002"))
                && matches!(&e.kind, EventKind::FloorAlarm { reason, shift } if reason.contains("unregistered while needed") && shift.as_deref() == Some("next"))
        })
    });
    assert!(alarmed, "no floor alarm for 1002\n{}", h.report());
    // 1001 unregistering while paused raises none
    Sipp::new("agent_unregister.xml")
        .remote(&h.addr())
        .port(p1)
        .credentials("1001", "demo1001")
        .run()
        .assert_success("unregister 1001");
    assert!(wait_until(Duration::from_secs(5), || all_events(&h)
        .iter()
        .any(|e| e.agent == Some(AgentId::new("1001"))
            && matches!(e.kind, EventKind::AgentUnregistered { .. }))));
    std::thread::sleep(Duration::from_millis(500));
    let alarms: Vec<CallEvent> = all_events(&h)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::FloorAlarm { .. }) && e.agent.is_some())
        .collect();
    assert_eq!(alarms.len(), 1, "{alarms:#?}");
}

/// `hotline roster` and `hotline handover` on the database, with bad input.
#[test]
fn roster_and_handover_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndata_dir = \"{}\"\n\n[schedule]\ntimezone = \"Asia/Shanghai\"\n\n\
             [[agents]]\nid = \"1001\"\npassword = \"secret-1001\"\n\n\
             [[agents]]\nid = \"1002\"\npassword = \"secret-1002\"\n\n\
             [[shifts]]\nname = \"early\"\nstart = \"08:00\"\nend = \"15:00\"\n\n\
             [[shifts]]\nname = \"middle\"\nstart = \"13:00\"\nend = \"20:00\"\n\n\
             [[roster]]\nagent = \"1001\"\nshift = \"early\"\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(Hotline::binary())
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run hotline");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["roster", "show", "--date", "2026-12-07"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1001") && out.contains("early") && out.contains("2026-12-07 08:00"),
        "{out}"
    );
    let (code, out, err) = run(&[
        "roster",
        "set",
        "--date",
        "2026-12-07",
        "--agent",
        "1002",
        "--shift",
        "middle",
        "--note",
        "extra",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stored"), "{out}");
    // bad input: overlap, unknown agent, zero-length hours, bad date, bad action
    for (args, needle) in [
        (
            vec![
                "roster",
                "set",
                "--date",
                "2026-12-07",
                "--agent",
                "1001",
                "--shift",
                "14:00-16:00",
            ],
            "overlapping",
        ),
        (
            vec![
                "roster",
                "set",
                "--date",
                "2026-12-07",
                "--agent",
                "9999",
                "--shift",
                "early",
            ],
            "unknown agent",
        ),
        (
            vec![
                "roster",
                "set",
                "--date",
                "2026-12-08",
                "--agent",
                "1002",
                "--shift",
                "10:00-10:00",
            ],
            "10:00-10:00",
        ),
        (
            vec![
                "roster",
                "set",
                "--date",
                "2026-12-32",
                "--agent",
                "1002",
                "--shift",
                "early",
            ],
            "--date",
        ),
        (
            vec![
                "roster",
                "set",
                "--date",
                "2026-12-08",
                "--agent",
                "1002",
                "--action",
                "swap",
            ],
            "--action",
        ),
        (vec!["roster", "show", "--date", "tomorrow"], "--date"),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // CSV import: a bad line is named and nothing is imported
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "date,agent,shift,action\n2026-12-09,1002,early,add\n2026-12-09,1002\n",
    )
    .unwrap();
    let (code, _, err) = run(&["roster", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 3"), "{err}");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "2026-12-09,1002,early,add,covers\n2026-12-09,1001,,remove,leave\n",
    )
    .unwrap();
    let (code, out, err) = run(&["roster", "import", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 2"), "{out}");
    let (_, out, _) = run(&["roster", "show", "--date", "2026-12-09"]);
    assert!(out.contains("1002") && !out.contains("  1001 "), "{out}");
    let (code, _, err) = run(&["roster", "import", "/nonexistent.csv"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run(&[
        "handover",
        "list",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-09",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no handovers"), "{out}");
    let (code, _, err) = run(&["handover", "list", "--from", "12/01"]);
    assert_eq!(code, 2, "{err}");
}

/// The console's duty pages in Chromium: the wallboard's on-duty panel, the
/// roster page with a change (a refused one first), the handover written
/// and acknowledged; no raw catalogue keys on the pages.
#[test]
fn the_console_shows_the_floor_and_takes_a_roster_change_and_a_handover() {
    use super::console::{add_user, artifacts, Browser};
    need_peers();
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    let h = day_ended_night_began();
    let web = h.http_addr();
    add_user(&h, "lead", "supervisor", "battery staple");
    register(&h, "1001", free_udp_port());
    let b = Browser::start("zh-CN");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "document.getElementById('login-view') && !document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", "lead");
    b.type_in("#login-password", "battery staple");
    b.click("#login-submit");
    // the wallboard: 1002 should be on and is not
    assert!(
        b.wait_js(
            "document.getElementById('duty-missing') && document.getElementById('duty-missing').textContent === '1002'",
            Duration::from_secs(10)
        ),
        "the on-duty panel\n{}",
        h.report()
    );
    let no_keys = "Object.keys(window.HOTLINE_CATALOGUE['en']).filter(k => k.startsWith('duty.') && document.body.innerText.includes(k)).length === 0";
    assert!(
        b.wait_js(no_keys, Duration::from_secs(2)),
        "raw keys on the wallboard"
    );
    // the roster page
    b.go(&format!("http://{web}/console/#/duty"));
    assert!(
        b.wait_js(
            "document.getElementById('duty-roster') && document.getElementById('duty-attendance') && document.getElementById('nav-duty').classList.contains('active')",
            Duration::from_secs(10)
        ),
        "the roster page\n{}",
        h.report()
    );
    assert!(
        b.wait_js(no_keys, Duration::from_secs(2)),
        "raw keys on the roster page"
    );
    // an unknown agent is refused with the reason
    b.type_in("#duty-change input[name=agent]", "9999");
    b.type_in("#duty-change input[name=shift]", "day");
    b.click("#duty-change button[type=submit]");
    assert!(b.wait_js(
        "!document.getElementById('flash').hidden && document.getElementById('flash').textContent.includes('9999')",
        Duration::from_secs(5)
    ));
    b.go("about:blank");
    b.go(&format!("http://{web}/console/#/duty"));
    assert!(b.wait_js(
        "document.getElementById('duty-change')",
        Duration::from_secs(10)
    ));
    b.type_in("#duty-change input[name=agent]", "1003");
    b.type_in("#duty-change input[name=shift]", "00:00-00:01");
    b.type_in("#duty-change input[name=note]", "顶班");
    b.click("#duty-change button[type=submit]");
    assert!(
        b.wait_js(
            "[...document.querySelectorAll('#duty-roster td')].some(td => td.textContent === '1003')",
            Duration::from_secs(10)
        ),
        "the change shows in the roster\n{}",
        h.report()
    );
    b.screenshot(&artifacts().join("duty-roster-zh-CN.png"));
    // the handover: written for the day shift, then acknowledged
    b.go(&format!("http://{web}/console/#/handover"));
    assert!(b.wait_js(
        "document.getElementById('duty-handover-shift') && document.getElementById('duty-prefill').children.length > 0",
        Duration::from_secs(10)
    ));
    b.js("const s = document.getElementById('duty-handover-shift'); s.value = 'day'; s.dispatchEvent(new Event('change'));");
    b.type_in("#duty-handover textarea", "两位客户待回电；线路正常");
    b.click("#duty-handover button[type=submit]");
    assert!(
        b.wait_js(
            "document.querySelector('article.handover button.duty-ack')",
            Duration::from_secs(10)
        ),
        "the handover is listed\n{}",
        h.report()
    );
    b.click("article.handover button.duty-ack");
    assert!(b.wait_js(
        "document.querySelector('article.handover') && !document.querySelector('article.handover button.duty-ack') && document.querySelector('article.handover').textContent.includes('lead')",
        Duration::from_secs(10)
    ));
    assert!(
        b.wait_js(no_keys, Duration::from_secs(2)),
        "raw keys on the handover page"
    );
    b.screenshot(&artifacts().join("duty-handover-zh-CN.png"));
    let (s, body) = http_with(
        &web,
        "GET",
        "/api/handovers",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        "",
    );
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("两位客户待回电") && body.contains("\"acknowledged_by\":\"lead\""),
        "{body}"
    );
}
