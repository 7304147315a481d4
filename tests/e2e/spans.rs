//! The call's tracing span carries the SIP Call-ID of the caller's leg, so
//! an operator can find every log line of a call from a packet capture or a
//! carrier's trouble ticket (issue 21).

use super::*;

/// A call answered by agent 1001: every line the engine logs inside the
/// call's span names both the hotline's call id and the caller's Call-ID.
#[test]
fn the_call_s_log_lines_carry_the_caller_s_sip_call_id() {
    need_peers();
    let h = Hotline::start();
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(40))
        .spawn();
    // SIPp's -cid_str: %u is the call number, %s the local address
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(1000)
        .arg("-cid_str")
        .arg("thin21-span-%u@%s")
        .run()
        .assert_success("answered call");
    agent.wait().assert_success("agent 1001");
    let sip_call_id = "thin21-span-1@127.0.0.1";
    let stderr = h.stderr();
    // the log goes to a pipe here, as to journald or a file: no colour codes
    assert!(
        !stderr.contains('\x1b'),
        "ANSI escape codes in a log written to a pipe:\n{stderr}"
    );
    let in_span: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&format!("sip_call_id={sip_call_id}")))
        .collect();
    assert!(
        !in_span.is_empty(),
        "no line names {sip_call_id}\n{}",
        h.report()
    );
    // the same span names the hotline's own call id, the one in the CDR
    let cdrs = wait_cdrs(&h, 1);
    assert_eq!(cdrs.len(), 1, "{cdrs:#?}");
    let own = format!("call_id={}", cdrs[0].call_id);
    assert!(
        in_span.iter().all(|l| l.contains(&own)),
        "{own} missing in {in_span:#?}"
    );
}
