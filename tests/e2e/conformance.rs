//! Hostile and malformed SIP: the RFC 4475 torture messages and the PROTOS
//! c07-sip INVITE cases from `../shared/conformance/` (kept outside the repo).
//!
//! The RFC 4475 messages name outside hosts in Via and Request-URI, so the
//! test re-runs itself inside a private network namespace with only loopback
//! (`unshare -n`): whatever the server answers cannot leave the machine.
//! The bar: no crash, no hang, OPTIONS still answered 200 after every message,
//! and no invalid message is ever accepted with a 2xx.

use super::*;
use std::path::PathBuf;
use std::process::Command;

const IN_NETNS: &str = "HOTLINE_TEST_IN_NETNS";

#[path = "../../fuzz/conformance.rs"]
mod shared;

fn conformance_dir() -> Option<PathBuf> {
    shared::dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Runs `test` (this test's full name) again inside `unshare -n` with only `lo`
/// up. Returns true when the caller is already inside and should do the work.
fn inside_private_network(test: &str) -> bool {
    if std::env::var_os(IN_NETNS).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                text.contains("1 passed"),
                "the test did not run inside the namespace:\n{text}"
            );
            eprintln!("{}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(o) => panic!(
            "{test} failed inside the network namespace:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("unshare is needed to run {test} isolated from the network: {e}"),
    }
    false
}

/// §3.1.2 / §3.3 messages a server must not accept. Two more invalid ones,
/// `badaspec` (spaces inside <>) and `trws` (trailing SP on the request line),
/// are accepted: RFC 4475 allows a liberal parser to ignore those spaces, and
/// rsipstack's does.
const INVALID: &[&str] = &[
    "badinv01",
    "baddate",
    "baddn",
    "badvers",
    "bcast",
    "bext01",
    "clerr",
    "insuf",
    "invut",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "mcl01",
    "mismatch01",
    "mismatch02",
    "ncl",
    "quotbal",
    "regbadct",
    "scalar02",
    "scalarlg",
    "unkscm",
    "escruri",
    "sdp01",
    "multi01",
];

/// Messages with one exact answer (RFC 4475 §3.3).
const EXACT: &[(&str, u16)] = &[
    ("bext01", 420),
    ("unkscm", 416),
    ("ncl", 400),
    ("badvers", 505),
];

/// The Call-ID of a raw message (full or compact form).
fn call_id(msg: &[u8]) -> Option<String> {
    String::from_utf8_lossy(msg).lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        (name == "call-id" || name == "i").then(|| value.trim().to_string())
    })
}

#[test]
fn rfc4475_torture_messages_never_break_the_server() {
    let Some(dir) = conformance_dir() else {
        eprintln!("SKIPPED: ../shared/conformance not found (set HOTLINE_CONFORMANCE_DIR)");
        return;
    };
    if !inside_private_network("conformance::rfc4475_torture_messages_never_break_the_server") {
        return;
    }
    let mut h = Hotline::start();
    let mut sip = RawSip::new(&h);
    let mut files: Vec<_> = std::fs::read_dir(dir.join("rfc4475"))
        .expect("rfc4475 dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 45,
        "expected the 50 RFC 4475 messages, found {}",
        files.len()
    );
    let mut table = String::new();
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let msg = std::fs::read(f).expect("read message");
        sip.send(&msg);
        // what comes back within 300 ms for this message's Call-ID (earlier
        // messages' final responses are retransmitted: nobody ACKs them)
        let id = call_id(&msg);
        let mut statuses = Vec::new();
        while let Some(r) = sip.recv(Duration::from_millis(300)) {
            let ours = id.as_deref().is_some_and(|id| r.contains(id));
            if let (true, Some(s)) = (ours, status_of(&r)) {
                if !statuses.contains(&s) {
                    statuses.push(s);
                }
            }
        }
        let options = sip.options();
        table.push_str(&format!(
            "{name:12} -> {statuses:?}, then OPTIONS {options:?}\n"
        ));
        if options != Some(200) {
            failures.push(format!("{name}: OPTIONS after it got {options:?}"));
        }
        if INVALID.contains(&name.as_str()) && statuses.iter().any(|s| (200..300).contains(s)) {
            failures.push(format!(
                "{name}: invalid message accepted with {statuses:?}"
            ));
        }
        if let Some((_, want)) = EXACT.iter().find(|(n, _)| *n == name) {
            if !statuses.contains(want) {
                failures.push(format!("{name}: want {want}, got {statuses:?}"));
            }
        }
        // 5xx only where the RFC asks for it (505 for another SIP version)
        if statuses.iter().any(|s| *s >= 500 && *s != 503 && *s != 505) {
            failures.push(format!("{name}: server error {statuses:?}"));
        }
    }
    eprintln!("RFC 4475 results:\n{table}");
    assert!(h.is_running(), "hotline died\n{}", h.report());
    assert!(
        failures.is_empty(),
        "{failures:#?}\n{table}\n{}",
        h.report()
    );
}

#[test]
fn protos_c07_invite_cases_never_break_the_server() {
    let Some(dir) = conformance_dir() else {
        eprintln!("SKIPPED: ../shared/conformance not found (set HOTLINE_CONFORMANCE_DIR)");
        return;
    };
    let cases = shared::protos_cases(&dir).expect("tar reads the PROTOS archive");
    assert!(cases.len() > 4000, "found {} PROTOS cases", cases.len());

    let mut h = Hotline::start();
    let mut sip = RawSip::new(&h);
    let local = sip.local();
    let mut failures = Vec::new();
    let mut answered = 0usize;
    let mut too_big = 0usize;
    for (i, msgs) in cases.iter().enumerate() {
        for (j, msg) in msgs.iter().enumerate() {
            let msg = shared::protos_fill(msg, i, j, local.port());
            // a few cases exceed a UDP datagram (EMSGSIZE): they cannot be sent
            if sip.socket.send_to(&msg, sip.server).is_err() {
                too_big += 1;
            }
        }
        // pace to stay inside the per-source rate limit, drain replies
        while sip.recv(Duration::from_millis(2)).is_some() {
            answered += 1;
        }
        if i % 250 == 0 || i + 1 == cases.len() {
            let st = sip.options();
            if st != Some(200) {
                failures.push(format!("after case {i}: OPTIONS got {st:?}"));
            }
        }
    }
    eprintln!(
        "PROTOS: {} cases, {too_big} messages too big for UDP, {answered} responses",
        cases.len()
    );
    assert!(h.is_running(), "hotline died\n{}", h.report());
    assert!(failures.is_empty(), "{failures:#?}\n{}", h.report());
}
