//! Complaints under first-contact ownership against the real binary: a
//! SIPp caller complains, the answering agent writes the call note and opens
//! the case (owned by them), the same caller calls again and rings the owner
//! first although the other agent has been idle longer, the case goes
//! through its stages and the owner closes it on the case page in headless
//! Chromium (screenshots in `target/console-artifacts/`); the customer page,
//! the KPIs and `hotline cases export` show it.

use super::console::{add_user, artifacts, Browser, Client};
use super::*;
use serde_json::{json, Value};

/// An agent phone (SIPp UAS) on the port the agent registered from, for one
/// call.
fn phone(agent: &str, port: u16) -> SippProcess {
    Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .duration_ms(0)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .spawn()
}

/// `agent` calls the complainant back from their desk phone (dial prefix 9).
fn reply_call(h: &Hotline, agent: &str, talk_ms: u64) -> SippOutput {
    Sipp::new("agent_dial_out.xml")
        .remote(&h.addr())
        .service("90613330001")
        .credentials(agent, &format!("demo{agent}"))
        .duration_ms(talk_ms)
        .timeout(Duration::from_secs(40))
        .run()
}

fn complaint_call(h: &Hotline, caller: &str) -> SippOutput {
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", caller)
        .duration_ms(1500)
        .timeout(Duration::from_secs(60))
        .run()
}

#[test]
fn a_complaint_is_owned_by_the_answering_agent_whose_customer_rings_them_first() {
    need_peers();
    // agents may dial +86 numbers; the case owner also their customer
    let gateway = free_udp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: format!(
            "[cases]\nowner_wait_s = 15\n\n[outbound]\nenabled = true\nprefix = \"9\"\n\
             dial = \"sip:{{number}}@127.0.0.1:{gateway}\"\nallowed_prefixes = [\"+86\"]\n\
             answer_timeout_s = 10\ncall_type = \"reply\"\n"
        ),
        ..HotlineOptions::default()
    });
    let web = h.http_addr();
    let ports = [("1001", free_udp_port()), ("1002", free_udp_port())];
    for (a, p) in ports {
        register(&h, a, p);
    }
    let mut phones: Vec<(&str, u16, SippProcess)> =
        ports.iter().map(|&(a, p)| (a, p, phone(a, p))).collect();

    // 1. the complaint call: whoever answers owns it
    complaint_call(&h, "0613330001").assert_success("first call");
    let first = wait_cdrs(&h, 1).remove(0);
    let owner = first
        .agent
        .as_ref()
        .expect("an agent answered")
        .as_str()
        .to_string();
    let other = if owner == "1001" { "1002" } else { "1001" };
    let i = phones.iter().position(|p| p.0 == owner).unwrap();
    let (_, port, done) = phones.remove(i);
    done.wait().assert_success("the owner's phone");
    phones.push((owner_static(&owner), port, phone(&owner, port)));

    // 2. the owner writes the call note and opens the case from it
    add_user(&h, &owner, "agent", "owner password");
    add_user(&h, other, "agent", "other password");
    add_user(&h, "alice", "supervisor", "correct horse");
    let me = Client::login(&web, &owner, "owner password");
    let them = Client::login(&web, other, "other password");
    let boss = Client::login(&web, "alice", "correct horse");
    let call = first.call_id.as_str();
    let (s, v) = me.json(
        "POST",
        &format!("/api/calls/{call}/notes"),
        json!({"caller_name": "王芳", "category": "complaint",
               "summary": "快递丢失，要求退款", "follow_up": "call back with the refund",
               "open_case": true, "severity": "major"}),
    );
    assert_eq!(s, 201, "{v}");
    let case = v["case"].clone();
    assert_eq!(case["owner"], owner.as_str(), "{case}");
    assert_eq!(case["number"], "0613330001");
    let id = case["id"].as_i64().unwrap();
    // the other agent may neither write on that call nor see the case
    let (s, _) = them.json(
        "POST",
        &format!("/api/calls/{call}/notes"),
        json!({"category": "complaint", "summary": "x"}),
    );
    assert_eq!(s, 403);
    let (s, _) = them.json("GET", &format!("/api/cases/{id}"), Value::Null);
    assert_eq!(s, 403);

    // 3. the same caller calls again: the owner rings first, though the
    //    other agent has been idle longer (longest idle would pick them)
    complaint_call(&h, "0613330001").assert_success("second call");
    let second = wait_cdrs(&h, 2).remove(0);
    assert_eq!(
        second.agent.as_ref().map(|a| a.as_str()),
        Some(owner.as_str()),
        "the owner took the returning caller\n{}",
        h.report()
    );
    let ev = events(&h, &second.call_id);
    let owner_first: Vec<(Option<String>, String)> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OwnerFirst { outcome } => Some((
                e.agent.as_ref().map(|a| a.as_str().to_string()),
                outcome.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(owner_first, [(Some(owner.clone()), "offered".to_string())]);
    let offered: Vec<&str> = ev
        .iter()
        .filter(|e| e.kind.name() == "offered")
        .filter_map(|e| e.agent.as_ref().map(|a| a.as_str()))
        .collect();
    assert_eq!(offered, [owner.as_str()], "nobody else rang");

    // 4. the case goes through its stages, the second call linked
    let (s, _) = me.json(
        "POST",
        &format!("/api/cases/{id}/links"),
        json!({"kind": "call", "call_id": second.call_id.as_str()}),
    );
    assert_eq!(s, 201);
    // the reply call: only the owner may call this customer (the number is
    // outside the allowed prefixes); the other agent is refused
    let refused = reply_call(&h, other, 500);
    refused.assert_success("the other agent's refusal is answered");
    assert!(refused.logs().contains("final 403"), "{}", refused.logs());
    let customer = Sipp::new("agent_uas.xml")
        .port(gateway)
        .key("agent", "0613330001")
        .calls(1)
        .timeout(Duration::from_secs(40))
        .spawn();
    let reply = reply_call(&h, &owner, 2000);
    reply.assert_success("the owner's reply call");
    assert!(reply.logs().contains("final 200"), "{}", reply.logs());
    customer
        .wait()
        .assert_success("the customer answers the reply");
    let calls = wait_cdrs(&h, 4);
    let reply_cdr = calls
        .iter()
        .find(|c| c.dialled == "outbound" && c.outcome == Some(hotline_core::Outcome::Answered))
        .expect("the answered reply call");
    assert_eq!(reply_cdr.caller, "0613330001");
    assert_eq!(
        reply_cdr.agent.as_ref().map(|a| a.as_str()),
        Some(owner.as_str())
    );
    assert_eq!(reply_cdr.call_type, hotline_core::CallType::Reply);
    let (s, _) = me.json(
        "POST",
        &format!("/api/cases/{id}/links"),
        json!({"kind": "call", "call_id": reply_cdr.call_id.as_str()}),
    );
    assert_eq!(s, 201, "the reply call linked to the case");

    let mut version = case["version"].as_i64().unwrap();
    for stage in ["investigate", "analyse", "handle", "reply"] {
        let (s, v) = me.json(
            "POST",
            &format!("/api/cases/{id}/stage"),
            json!({"version": version, "stage": stage, "note": format!("{stage} done")}),
        );
        assert_eq!(s, 200, "{stage}: {v}");
        version = v["version"].as_i64().unwrap();
    }
    // a stale writer is refused
    let (s, _) = boss.json(
        "POST",
        &format!("/api/cases/{id}"),
        json!({"version": version - 1, "escalate_to": "manager"}),
    );
    assert_eq!(s, 409);
    let (s, v) = boss.json(
        "POST",
        &format!("/api/cases/{id}"),
        json!({"version": version, "valid": true, "validity_reason": "courier lost it",
               "escalate_to": "manager"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"].as_i64(), Some(version + 1));
    // the owner closes it in the console (Chromium): the case list, the
    // case page with its timeline and linked recordings, the last stage
    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    let b = Browser::start("en");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "!document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", &owner);
    b.type_in("#login-password", "owner password");
    b.click("#login-submit");
    assert!(b.wait_js(
        "document.getElementById('nav-cases')",
        Duration::from_secs(10)
    ));
    b.go(&format!("http://{web}/console/#/cases"));
    assert!(
        b.wait_js(
            &format!("document.querySelector('tr.case-row[data-case=\"{id}\"]')"),
            Duration::from_secs(10)
        ),
        "the agent's open case is listed"
    );
    b.click(&format!("tr.case-row[data-case=\"{id}\"] a"));
    assert!(b.wait_js(
        "document.querySelectorAll('#case-timeline li').length === 10",
        Duration::from_secs(10)
    ));
    assert!(b.wait_js(
        "document.querySelectorAll('#case-calls a.case-recording').length === 3 && document.getElementById('case-stage').textContent === 'reply'",
        Duration::from_secs(5)
    ), "the three calls' recordings are linked (complaint, repeat, reply)");
    b.screenshot(&artifacts().join("case-before-close.png"));
    b.type_in("#stage-note", "refunded, courier changed");
    b.click("#stage-next");
    assert!(
        b.wait_js("document.getElementById('case-status') && document.getElementById('case-status').textContent === 'closed'", Duration::from_secs(10)),
        "closed from the case page"
    );
    assert_eq!(
        b.js("return document.getElementById('case-closing').textContent"),
        "refunded, courier changed"
    );
    assert!(
        b.wait_js(
            "!document.getElementById('stage-form')",
            Duration::from_secs(2)
        ),
        "no stage after summarise"
    );
    // every call with the customer's number: the complaint, the repeat, the
    // other agent's refused dial and the reply
    let calls_of_customer = wait_cdrs(&h, 4)
        .iter()
        .filter(|c| c.caller == "0613330001")
        .count();
    assert_eq!(calls_of_customer, 4);
    b.click("#case-facts a");
    assert!(b.wait_js(
        &format!("document.getElementById('customer-name') && document.getElementById('customer-name').textContent === '王芳' && document.getElementById('customer-calls-total').textContent === '{calls_of_customer}'"),
        Duration::from_secs(10)
    ), "the customer page");
    b.screenshot(&artifacts().join("customer.png"));
    let (s, c) = me.json("GET", &format!("/api/cases/{id}"), Value::Null);
    assert_eq!((s, c["status"].as_str()), (200, Some("closed")));
    let (s, _) = me.json(
        "POST",
        &format!("/api/cases/{id}/stage"),
        json!({"version": c["version"], "stage": "summarise", "note": "again"}),
    );
    assert_eq!(s, 409, "closing twice");
    let (s, v) = me.json("GET", &format!("/api/cases/{id}"), Value::Null);
    assert_eq!(s, 200);
    assert_eq!(v["steps"].as_array().unwrap().len(), 11, "{v}");
    assert_eq!(v["calls"].as_array().unwrap().len(), 3);
    let (s, v) = me.json("GET", "/api/customers/0613330001", Value::Null);
    assert_eq!(s, 200);
    assert_eq!(
        (v["calls_total"].as_i64(), v["name"].as_str()),
        (Some(4), Some("王芳"))
    );
    let (s, v) = boss.json("GET", "/api/cases/kpis", Value::Null);
    assert_eq!(s, 200);
    assert_eq!(v["kpis"]["all"]["closed"], 1);
    assert_eq!(
        v["kpis"]["all"]["first_contact_resolution"], 0.0,
        "the customer had to call again: not resolved at first contact"
    );

    // 5. the CLI sees it
    let out = std::process::Command::new(Hotline::binary())
        .args(["cases", "export", "--config"])
        .arg(&h.config_path)
        .arg("--data")
        .arg(&h.data_dir)
        .env("HOTLINE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let row = csv.lines().nth(1).expect("one case");
    assert!(
        row.starts_with(&format!(
            "{id},0613330001,王芳,{owner},major,summarise,closed,valid,"
        )),
        "{csv}"
    );
    assert!(row.ends_with(",1"), "one repeat call: {row}");

    for (_, _, p) in phones {
        let _ = p.stop();
    }
}

fn owner_static(owner: &str) -> &'static str {
    if owner == "1001" {
        "1001"
    } else {
        "1002"
    }
}

/// The agent's desk: while the phone rings for a customer with an open
/// complaint, the agent sees who calls — the card from
/// `GET /api/agents/{id}/customer` and the console's desk page (Chromium,
/// in Chinese) — and the desk is empty again after the call.
#[test]
fn the_customer_card_is_at_the_agents_desk_while_the_phone_rings() {
    need_peers();
    let h = Hotline::start();
    let web = h.http_addr();
    let port = free_udp_port();
    register(&h, "1001", port);
    let first_phone = phone("1001", port);
    complaint_call(&h, "0613330002").assert_success("first call");
    let first = wait_cdrs(&h, 1).remove(0);
    first_phone
        .wait()
        .assert_success("the phone of the first call");
    add_user(&h, "1001", "agent", "agent password");
    let me = Client::login(&web, "1001", "agent password");
    let (s, v) = me.json(
        "POST",
        &format!("/api/calls/{}/notes", first.call_id.as_str()),
        json!({"caller_name": "李娜", "category": "complaint",
               "summary": "账单金额错误", "open_case": true, "severity": "general"}),
    );
    assert_eq!(s, 201, "{v}");
    let case_id = v["case"]["id"].clone();
    let (s, v) = me.json("GET", "/api/agents/1001/customer", Value::Null);
    assert_eq!((s, v["call"].clone()), (200, Value::Null), "no call yet");

    assert!(
        have("chromedriver") && have("chromium"),
        "chromium and chromium-driver are not installed: run scripts/test.sh (it installs them)"
    );
    let b = Browser::start("zh-CN");
    b.go(&format!("http://{web}/console/"));
    assert!(b.wait_js(
        "!document.getElementById('login-view').hidden",
        Duration::from_secs(10)
    ));
    b.type_in("#login-user", "1001");
    b.type_in("#login-password", "agent password");
    b.click("#login-submit");
    // an agent lands on their desk
    assert!(
        b.wait_js(
            "document.getElementById('desk-card') && document.getElementById('desk-card').textContent.includes('暂无来电')",
            Duration::from_secs(10)
        ),
        "the empty desk"
    );

    // the customer calls again; the phone rings for 8 s before answering
    let ringing_phone = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(8000)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .spawn();
    let addr = h.addr();
    let caller = std::thread::spawn(move || {
        Sipp::new("caller.xml")
            .remote(&addr)
            .service("hotline")
            .key("caller", "0613330002")
            .duration_ms(1500)
            .timeout(Duration::from_secs(60))
            .run()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let card = loop {
        let (s, v) = me.json("GET", "/api/agents/1001/customer", Value::Null);
        assert_eq!(s, 200, "{v}");
        if v["call"]["state"] == "ringing" {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the phone never rang: {v}\n{}",
            h.report()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(card["call"]["number"], "0613330002", "{card}");
    assert_eq!(card["card"]["name"], "李娜");
    assert_eq!(card["card"]["open_cases"], 1);
    assert_eq!(card["card"]["cases"][0]["id"], case_id);
    assert_eq!(card["card"]["cases"][0]["owner"], "1001");
    assert_eq!(card["card"]["last_call"]["call_id"], first.call_id.as_str());
    assert!(
        b.wait_js(
            "(() => { const c = document.getElementById('desk-card'); return c && c.textContent.includes('李娜') && c.textContent.includes('振铃中') && c.textContent.includes('您负责的投诉'); })()",
            Duration::from_secs(6)
        ),
        "the desk page shows the ringing customer: {}",
        b.js("return document.getElementById('view').textContent")
    );
    b.screenshot(&artifacts().join("desk-ringing-zh-CN.png"));
    // the caller gives up while the phone still rings (CANCEL): abandoned
    caller.join().unwrap().assert_success("second call");
    let _ = ringing_phone.wait();
    wait_cdrs(&h, 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = me.json("GET", "/api/agents/1001/customer", Value::Null);
        if v["call"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the desk stays busy: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        b.wait_js(
            "document.getElementById('desk-card').textContent.includes('暂无来电')",
            Duration::from_secs(6)
        ),
        "the desk is empty again"
    );

    // a third call the agent takes: the call record form (来电记录单) is on
    // the desk while they talk and stays after the call for the wrap-up
    let answering = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .spawn();
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0613330002")
        .duration_ms(5000)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_success("third call");
    answering
        .wait()
        .assert_success("the agent took the third call");
    let third = wait_cdrs(&h, 3)
        .into_iter()
        .find(|c| c.outcome == Some(hotline_core::Outcome::Answered) && c.call_id != first.call_id)
        .expect("the third call answered");
    assert!(
        b.wait_js(
            "document.getElementById('note-form') !== null",
            Duration::from_secs(6)
        ),
        "the call record form: {}",
        b.js("return document.getElementById('view').textContent")
    );
    b.type_in("#note-summary", "询问退款进度");
    b.type_in("#note-follow-up", "明天回电");
    b.js("document.getElementById('note-category').value = 'status_query'; return true");
    b.click("#note-save");
    assert!(
        b.wait_js(
            "document.querySelectorAll('#call-notes-list li').length === 1",
            Duration::from_secs(6)
        ),
        "the note is listed: {}",
        b.js("return document.getElementById('view').textContent")
    );
    b.screenshot(&artifacts().join("desk-note-zh-CN.png"));
    let (s, v) = me.json(
        "GET",
        &format!("/api/calls/{}/notes", third.call_id.as_str()),
        Value::Null,
    );
    assert_eq!(s, 200, "{v}");
    let n = &v["notes"][0];
    assert_eq!(
        (
            n["category"].as_str(),
            n["summary"].as_str(),
            n["follow_up"].as_str(),
            n["by"].as_str()
        ),
        (
            Some("status_query"),
            Some("询问退款进度"),
            Some("明天回电"),
            Some("1001")
        ),
        "{v}"
    );
}
