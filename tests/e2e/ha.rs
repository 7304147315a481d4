//! The HA pair (issue 18, phase 1): Kamailio in front of two hotline nodes
//! on one PostgreSQL, all on loopback, with the shipped files
//! (config/kamailio/kamailio.cfg unchanged, parameters given with `-A`;
//! deploy/systemd units; config/hotline-node.toml).
//!
//! The failover test runs both before and after the node side (`[cluster]`:
//! leases, standby 503, take-over) is in the binary: it asks the binary
//! whether it knows `[cluster]` and, if so, runs the nodes with it and
//! checks the standby/take-over behaviour too.
//!
//! `cargo test --test e2e -- ha::`

use crate::common::*;
use hotline_core::EventKind;
use hotline_store::Store;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// the shipped files
// ---------------------------------------------------------------------------

#[test]
fn shipped_kamailio_config_passes_kamailio_check() {
    assert!(
        have_kamailio(),
        "kamailio is not installed: run scripts/test.sh (apt: kamailio)"
    );
    let list = repo().join("config/kamailio/dispatcher.list");
    for defines in [
        &[][..],
        &["WITH_TCP"],
        &["WITH_CTL"],
        &["WITH_TCP", "WITH_CTL"],
        &["WITH_REGISTRAR"],
        &[
            "WITH_REGISTRAR",
            "WITH_TCP",
            "LISTEN_NODES=udp:127.0.0.1:5070",
        ],
    ] {
        let (ok, out) = kamailio_check(&list, defines);
        assert!(ok, "kamailio -c with {defines:?} failed:\n{out}");
        assert!(
            out.contains("udp: 0.0.0.0") || out.contains("udp: 0.0.0.0 [0.0.0.0]:5060"),
            "listens on the default public address: {out}"
        );
    }
    // TLS needs kamailio-tls-modules: checked when they are installed
    let tls_mod = Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so");
    let (ok, out) = kamailio_check(&list, &["WITH_TLS"]);
    if tls_mod.exists() {
        // the shipped tls.cfg path may not exist on a test machine: only
        // a parse error is a failure of ours
        assert!(
            ok || !out.contains("parse error"),
            "kamailio -c WITH_TLS:\n{out}"
        );
    } else {
        assert!(!ok && out.contains("<tls>"), "no tls module: {out}");
    }
    // the check can fail: a listen address that is not one
    let (ok, out) = kamailio_check(&list, &["LISTEN=udp:no-such-host.invalid:5060"]);
    assert!(!ok, "a bad LISTEN passed kamailio -c:\n{out}");
    // (`kamailio -c` does not read the dispatcher list: the failover test
    // runs the config for real)
}

#[test]
fn shipped_dispatcher_list_names_two_nodes_by_priority() {
    let text = std::fs::read_to_string(repo().join("config/kamailio/dispatcher.list")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(r[0], "1", "set 1 (NODES in kamailio.cfg): {r:?}");
        assert!(r[1].starts_with("sip:"), "{r:?}");
    }
    let prio: Vec<i32> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(prio[0] > prio[1], "node-a first: {prio:?}");
}

/// `systemd-analyze verify` on the node unit (its ExecStart pointed at the
/// binary under test, since verify checks the executable exists) and on
/// Debian's kamailio.service with our drop-in.
#[test]
fn systemd_units_verify_and_are_hardened() {
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/hotline@.service")).unwrap();
    for key in [
        "User=hotline",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LimitNOFILE=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "CapabilityBoundingSet=",
        "ExecStartPre=/usr/local/bin/hotline check-config /etc/hotline/%i.toml",
        "ExecStart=/usr/local/bin/hotline serve --config /etc/hotline/%i.toml",
    ] {
        assert!(unit.contains(key), "hotline@.service lacks {key}");
    }
    let dropin =
        std::fs::read_to_string(repo().join("deploy/systemd/kamailio.service.d/hotline.conf"))
            .unwrap();
    for key in [
        "CFGFILE=/etc/kamailio/hotline.cfg",
        "Restart=on-failure",
        "LimitNOFILE=",
    ] {
        assert!(dropin.contains(key), "kamailio drop-in lacks {key}");
    }
    if !have("systemd-analyze") {
        eprintln!("systemd-analyze not installed: units checked by content only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = Hotline::binary();
    let local = unit.replace("/usr/local/bin/hotline", &bin.display().to_string());
    let path = dir.path().join("hotline@node-a.service");
    std::fs::write(&path, &local).unwrap();
    let verify = |p: &Path, unit_path: Option<&Path>| {
        let mut c = Command::new("systemd-analyze");
        c.args(["verify", "--man=no"]).arg(p);
        if let Some(u) = unit_path {
            c.env("SYSTEMD_UNIT_PATH", format!("{}:", u.display()));
        }
        let out = c.output().expect("systemd-analyze");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = verify(&path, None);
    assert!(
        ok && out.trim().is_empty(),
        "verify hotline@.service:\n{out}"
    );
    // the check can fail: a misspelt directive
    let bad = dir.path().join("hotline@bad.service");
    std::fs::write(&bad, local.replace("NoNewPrivileges=", "NoNewPrivilege=")).unwrap();
    let (_, out) = verify(&bad, None);
    assert!(
        out.contains("NoNewPrivilege"),
        "verify did not notice a bad directive:\n{out}"
    );
    let debian = Path::new("/lib/systemd/system/kamailio.service");
    if debian.exists() {
        let kdir = dir.path().join("k");
        std::fs::create_dir_all(kdir.join("kamailio.service.d")).unwrap();
        std::fs::copy(debian, kdir.join("kamailio.service")).unwrap();
        std::fs::write(kdir.join("kamailio.service.d/hotline.conf"), &dropin).unwrap();
        let (ok, out) = verify(&kdir.join("kamailio.service"), Some(&kdir));
        assert!(
            ok && out.trim().is_empty(),
            "verify kamailio + drop-in:\n{out}"
        );
    }
}

/// config/hotline-node.toml passes `hotline check-config` (with its
/// install paths pointed at this checkout).
#[test]
fn node_example_config_checks() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("config/hotline-node.toml")).unwrap();
    let text = text
        .replace(
            "/usr/local/share/hotline/",
            &format!("{}/config/", repo().display()),
        )
        .replace("/var/lib/hotline/node-a", &dir.path().display().to_string());
    let path = dir.path().join("node-a.toml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(Hotline::binary())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "check-config node example:\n{all}");
    assert!(all.contains("10.0.0.11:5060"), "{all}");
    // behind Kamailio: no per-source ban (it would ban the proxy)
    assert!(text.contains("source_failures = 0"));
    assert!(text.contains("postgres://"));

    // the node example is a node of the pair
    assert!(text.contains("\n[cluster]\nenabled = true\n"), "{text}");
}

// ---------------------------------------------------------------------------
// the failover
// ---------------------------------------------------------------------------

/// Lease TTL of the test nodes: a take-over within a few seconds.
const LEASE_TTL_MS: u64 = 3000;

/// A node's `[cluster]`; with `edge` (Kamailio's port) Kamailio is the
/// agents' registrar (`registrar = "kamailio"`).
fn cluster_toml(node: &str, edge: Option<u16>) -> String {
    let registrar = edge
        .map(|p| format!("registrar = \"kamailio\"\nedge = \"127.0.0.1:{p}\"\n"))
        .unwrap_or_default();
    format!(
        "[cluster]\nenabled = true\nnode_id = \"{node}\"\nlease_ttl_ms = {LEASE_TTL_MS}\nrenew_every_ms = {}\ndb_health_window_ms = {}\n{registrar}",
        LEASE_TTL_MS / 3,
        LEASE_TTL_MS * 5 / 6
    )
}

/// Kamailio's `-A` defines for the registrar with usrloc in `pg`.
fn registrar_defines(pg: &PgCluster) -> Vec<String> {
    vec!["WITH_REGISTRAR".into(), format!("DBURL=\"{}\"", pg.url())]
}

/// One OPTIONS straight to a node; its status.
pub(crate) fn options_status(port: u16) -> Option<u16> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let local = sock.local_addr().ok()?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos()
    );
    let msg = format!(
        "OPTIONS sip:hotline@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ha{id}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=ha\r\nTo: <sip:hotline@127.0.0.1:{port}>\r\nCall-ID: ha-{id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(msg.as_bytes(), ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let code = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
        if code >= 200 {
            return Some(code);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn node(pg: &PgCluster, id: &str, sip_port: u16, edge: Option<u16>) -> Hotline {
    node_with(pg, id, sip_port, edge, HotlineOptions::default())
}

/// [`node`] with other options (a line test, a trunk).
fn node_with(
    pg: &PgCluster,
    id: &str,
    sip_port: u16,
    edge: Option<u16>,
    options: HotlineOptions,
) -> Hotline {
    Hotline::start_with(HotlineOptions {
        storage_toml: format!("database_url = \"{}\"", pg.url()),
        sip_port: Some(sip_port),
        media_ports: 128,
        ring_timeout_ms: 2000,
        extra_toml: format!("{}{}", options.extra_toml, cluster_toml(id, edge)),
        line_test_toml: options.line_test_toml,
        ..HotlineOptions::default()
    })
}

/// A supervisor's API request to a node that must answer 200; its JSON.
fn api(h: &Hotline, method: &str, path: &str) -> serde_json::Value {
    let (status, body) = crate::http_with(
        &h.http_addr(),
        method,
        path,
        &[("Authorization", "Bearer test-token")],
        "",
    );
    assert_eq!(status, 200, "{method} {path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Runs `f` on a connection to the database at `url`.
pub(crate) fn db<T>(url: &str, f: impl AsyncFnOnce(&Store) -> T) -> T {
    crate::runtime().block_on(async {
        let store = Store::connect(url).await.expect("connect to PostgreSQL");
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// A `-trace_msg` log as (seconds of the day, sent, message text).
fn timed_messages(log: &str) -> Vec<(f64, bool, String)> {
    let mut out: Vec<(f64, bool, String)> = Vec::new();
    let mut stamp = 0.0;
    let mut cur: Option<(f64, bool, String)> = None;
    for line in log.lines() {
        if line.starts_with("-----------------------------------------------") {
            if let Some(m) = cur.take() {
                out.push(m);
            }
            // "----- 2026-11-22 19:16:40.046376"
            if let Some(t) = line.split_whitespace().nth(2) {
                let mut parts = t.split(':');
                if let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) {
                    if let (Ok(h), Ok(m), Ok(s)) =
                        (h.parse::<f64>(), m.parse::<f64>(), s.parse::<f64>())
                    {
                        stamp = h * 3600.0 + m * 60.0 + s;
                    }
                }
            }
            continue;
        }
        if cur.is_none() {
            let l = line.trim();
            if l.contains("message sent") || l.contains("message received") {
                cur = Some((stamp, l.contains("sent"), String::new()));
            }
            continue;
        }
        if let Some((_, _, text)) = cur.as_mut() {
            if text.is_empty() && line.trim().is_empty() {
                continue;
            }
            text.push_str(line.trim_end_matches('\r'));
            text.push('\n');
        }
    }
    if let Some(m) = cur.take() {
        out.push(m);
    }
    out
}

/// The port in a `<sip:user@127.0.0.1:PORT;...>` header value.
fn uri_port(v: &str) -> Option<u16> {
    let v = v.split('<').nth(1).unwrap_or(v);
    let v = v.split(['>', ';']).next()?;
    v.rsplit(':').next()?.parse().ok()
}

/// One caller's call, as seen by the caller.
#[derive(Debug)]
struct Call {
    n: u32,
    started: Instant,
    /// SIPp's verdict (INVITE answered, BYE answered 200).
    ok: bool,
    /// When the 200 to the INVITE arrived.
    answered: Option<Instant>,
    /// Which node answered (the port in the 200's Contact).
    node: Option<u16>,
    /// The 200 came through Kamailio (its Record-Route).
    via_edge: bool,
    final_status: Option<u16>,
    /// SIPp ended by itself (not killed at its timeout).
    ended: bool,
}

fn analyse(n: u32, started: Instant, out: &SippOutput, kam_port: u16) -> Call {
    let msgs = timed_messages(&out.messages_log());
    let t0 = msgs.iter().find(|m| m.1).map(|m| m.0);
    let ok200 = msgs.iter().find(|m| {
        !m.1 && m.2.starts_with("SIP/2.0 200")
            && header_values(&m.2, "CSeq")
                .iter()
                .any(|c| c.contains("INVITE"))
    });
    let final_status = msgs
        .iter()
        .filter(|m| {
            !m.1 && header_values(&m.2, "CSeq")
                .iter()
                .any(|c| c.contains("INVITE"))
        })
        .filter_map(|m| {
            m.2.strip_prefix("SIP/2.0 ")?
                .get(..3)?
                .parse::<u16>()
                .ok()
                .filter(|c| *c >= 200)
        })
        .next();
    let (answered, node, via_edge) = match (t0, ok200) {
        (Some(t0), Some(m)) => {
            let mut dt = m.0 - t0;
            if dt < 0.0 {
                dt += 86_400.0;
            }
            let node = header_values(&m.2, "Contact")
                .first()
                .and_then(|c| uri_port(c));
            let via_edge = header_values(&m.2, "Record-Route")
                .iter()
                .any(|r| r.contains(&format!(":{kam_port}")));
            (Some(started + Duration::from_secs_f64(dt)), node, via_edge)
        }
        _ => (None, None, false),
    };
    Call {
        n,
        started,
        ok: out.success(),
        answered,
        node,
        via_edge,
        final_status,
        ended: !out.timed_out,
    }
}

/// Calls placed every `every` until `stop` says so; each is its own SIPp
/// (`caller.xml`, `-m 1`) to Kamailio, talking `talk_ms` then BYE.
struct Callers {
    placed: Vec<(u32, Instant, SippProcess)>,
    next: u32,
}

impl Callers {
    fn place(&mut self, kam: &Kamailio, talk_ms: u64) {
        self.next += 1;
        let n = self.next;
        let started = Instant::now();
        let p = Sipp::new("caller.xml")
            .remote(&kam.addr())
            .service("hotline")
            .key("caller", &format!("1380000{n:04}"))
            .duration_ms(talk_ms)
            .timeout(Duration::from_secs(40))
            .spawn();
        self.placed.push((n, started, p));
    }
}

/// Registers `agent` (its demo password) from `local_ip` on a free port
/// through `edge`; the port, for the agent's phone to listen on.
fn register_at(edge: &str, local_ip: &str, agent: &str, what: &str) -> u16 {
    let port = free_udp_port();
    Sipp::new("agent_register.xml")
        .remote(edge)
        .local_ip(local_ip)
        .port(port)
        .credentials(agent, &format!("demo{agent}"))
        .run()
        .assert_success(what);
    port
}

/// Agent phones: SIPp UAS (agent_uas_proxied.xml), each serving many calls.
fn agent_phones(kam: &Kamailio, ids: &[&str]) -> Vec<SippProcess> {
    ids.iter()
        .map(|id| {
            let port = free_udp_port();
            Sipp::new("agent_register.xml")
                .remote(&kam.addr())
                .port(port)
                .credentials(id, &format!("demo{id}"))
                .run()
                .assert_success(&format!("register {id} through Kamailio"));
            Sipp::new("agent_uas_proxied.xml")
                .port(port)
                .key("agent", id)
                .duration_ms(100)
                .calls(10_000)
                .timeout(Duration::from_secs(300))
                .tolerate_unexpected()
                .spawn()
        })
        .collect()
}

/// The failover end to end: PostgreSQL, Kamailio (the shipped config, as
/// the agents' registrar with usrloc in PostgreSQL) and two nodes on
/// loopback; four agents register with Kamailio; a call every 500 ms;
/// SIGKILL the active node; new calls are answered by the survivor (≥ 99 %
/// after the failover window), its ACD rings the agents through Kamailio
/// (looked up in usrloc), the dead node's calls end, and the survivor's
/// /api/cluster (the wallboard) shows A down and every lease B's.
#[test]
fn ha_pair_survives_sigkill_of_the_active_node() {
    need_peers();
    assert!(
        have_kamailio(),
        "kamailio is not installed: run scripts/test.sh (apt: kamailio)"
    );
    const TALK_MS: u64 = 1000;
    const EVERY: Duration = Duration::from_millis(500);
    const BEFORE_KILL: Duration = Duration::from_secs(8);
    const AFTER_KILL: Duration = Duration::from_secs(25);

    let pg = start_pg();
    let url = pg.url();
    let (port_a, port_b) = (free_udp_port(), free_udp_port());
    let kam_port = free_udp_port();

    // node A first: it takes the leases (with [cluster]) and is the active
    // one; its migrations make Kamailio's tables
    let mut a = node(&pg, "node-a", port_a, Some(kam_port));
    assert!(
        wait_until(Duration::from_secs(15), || options_status(port_a)
            == Some(200)),
        "node A does not answer OPTIONS 200\n{}",
        a.report()
    );
    let list = format!(
        "1 sip:127.0.0.1:{port_a} 0 10 duid=node-a\n1 sip:127.0.0.1:{port_b} 0 5 duid=node-b\n"
    );
    let defines = registrar_defines(&pg);
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    let kam = Kamailio::start_on(kam_port, &list, &defines);

    // agents register with Kamailio
    let ids = ["1001", "1002", "1003", "1004"];
    let mut phones = agent_phones(&kam, &ids);
    // ... whose usrloc writes them through to the shared database, where
    // the node reads them; the node's own registrar is not used
    let mut stored = Vec::new();
    let saved = wait_until(Duration::from_secs(10), || {
        stored = db(&url, async |s| s.edge_contacts().await.expect("location"));
        stored.len() >= ids.len()
    });
    assert!(
        saved,
        "Kamailio's location in PostgreSQL: {stored:?}\n{}",
        kam.log()
    );
    let node_bindings = db(&url, async |s| {
        s.load_bindings(now_ms()).await.expect("bindings").bindings
    });
    assert!(node_bindings.is_empty(), "{node_bindings:?}");
    assert!(
        wait_until(Duration::from_secs(5), || format!(
            "{}{}",
            a.stdout(),
            a.stderr()
        )
        .contains("agents registered at the edge agents=4")),
        "node A does not see the four agents\n{}",
        a.report()
    );

    // node B: standby; it reads the same table
    let mut b = node(&pg, "node-b", port_b, Some(kam_port));
    assert!(
        wait_until(Duration::from_secs(10), || options_status(port_b)
            == Some(503)),
        "the standby node answers OPTIONS 503: got {:?}\n{}",
        options_status(port_b),
        b.report()
    );
    // let Kamailio's probes see both nodes as they are
    std::thread::sleep(Duration::from_secs(2));

    // steady calls
    let mut callers = Callers {
        placed: Vec::new(),
        next: 0,
    };
    let begin = Instant::now();
    while begin.elapsed() < BEFORE_KILL {
        callers.place(&kam, TALK_MS);
        std::thread::sleep(EVERY);
    }
    let pid_a = a.pid().expect("node A runs");
    let killed_at = Instant::now();
    let killed_ms = now_ms();
    a.kill(); // SIGKILL
    eprintln!("ha: SIGKILL node A (pid {pid_a})");
    let mut b_active_at = None;
    while killed_at.elapsed() < AFTER_KILL {
        callers.place(&kam, TALK_MS);
        std::thread::sleep(EVERY);
        if b_active_at.is_none() && options_status(port_b) == Some(200) {
            b_active_at = Some(killed_at.elapsed());
        }
    }

    let calls: Vec<Call> = std::mem::take(&mut callers.placed)
        .into_iter()
        .map(|(n, started, p)| {
            let out = p.wait();
            analyse(n, started, &out, kam.port)
        })
        .collect();
    let phones: Vec<SippOutput> = phones.drain(..).map(|p| p.stop()).collect();

    let table: String = calls
        .iter()
        .map(|c| {
            format!(
                "#{:>3} start {:>+7.2}s ok={} node={:?} answer {:?} edge={} final={:?}\n",
                c.n,
                secs_rel(c.started, killed_at),
                c.ok,
                c.node.map(|p| if p == port_a {
                    "A"
                } else if p == port_b {
                    "B"
                } else {
                    "?"
                }),
                c.answered
                    .map(|t| format!("{:+.2}s", secs_rel(t, killed_at))),
                c.via_edge,
                c.final_status
            )
        })
        .collect();
    eprintln!("ha: calls (time relative to the SIGKILL)\n{table}");
    let context = format!("{table}\n===== kamailio =====\n{}", tail(&kam.log(), 80));

    // before the kill: node A answers, through Kamailio
    let before: Vec<&Call> = calls.iter().filter(|c| c.started < killed_at).collect();
    assert!(before.len() >= 10, "{context}");
    for c in &before {
        assert_eq!(c.node, Some(port_a), "before the kill A answers\n{context}");
        assert!(c.via_edge, "the 200 came through Kamailio\n{context}");
    }
    // calls that ended before the kill went through cleanly
    let done_before = before
        .iter()
        .filter(|c| {
            c.answered
                .is_some_and(|t| t + Duration::from_millis(TALK_MS + 500) < killed_at)
        })
        .count();
    let ok_before = before
        .iter()
        .filter(|c| {
            c.ok && c
                .answered
                .is_some_and(|t| t + Duration::from_millis(TALK_MS + 500) < killed_at)
        })
        .count();
    assert_eq!(ok_before, done_before, "{context}");

    // the failover window: from the SIGKILL to the first call answered by B
    let first_b = calls
        .iter()
        .filter(|c| c.node == Some(port_b))
        .filter_map(|c| c.answered)
        .filter(|t| *t > killed_at)
        .min()
        .unwrap_or_else(|| panic!("no call answered by node B\n{context}"));
    let failover = first_b - killed_at;
    eprintln!("ha: failover: first call answered by the survivor {failover:?} after SIGKILL");
    if let Some(t) = b_active_at {
        eprintln!("ha: node B answered OPTIONS 200 {t:?} after SIGKILL");
    }
    let after: Vec<&Call> = calls.iter().filter(|c| c.started > first_b).collect();
    assert!(after.len() >= 20, "{context}");
    let answered_by_b = after
        .iter()
        .filter(|c| c.ok && c.node == Some(port_b))
        .count();
    let rate = answered_by_b as f64 / after.len() as f64;
    eprintln!(
        "ha: after the window {answered_by_b}/{} calls answered by the survivor ({:.1} %)",
        after.len(),
        rate * 100.0
    );
    assert!(rate >= 0.99, "≥ 99 % after the failover window\n{context}");
    let bound = Duration::from_millis(2 * LEASE_TTL_MS + 4000);
    assert!(
        failover < bound,
        "failover took {failover:?} (bound {bound:?})\n{context}"
    );

    // the dead node's calls end: every caller's SIPp exited (wait() above)
    // and those answered by A and still up at the kill did not end cleanly
    let dead: Vec<&Call> = before
        .iter()
        .copied()
        .filter(|c| {
            c.answered
                .is_some_and(|t| t + Duration::from_millis(TALK_MS) > killed_at)
        })
        .collect();
    eprintln!("ha: {} calls were up on node A at the kill", dead.len());
    for c in &dead {
        assert!(
            c.ended && !c.ok,
            "a call up on the dead node did not end (or ended cleanly?)\n{context}"
        );
    }
    assert!(calls.iter().all(|c| c.ended), "a caller hung\n{context}");

    // the survivor's ACD rang the agents, through Kamailio (usrloc)
    let mut from_a = 0;
    let mut from_b = 0;
    for p in &phones {
        for m in p.messages().iter().filter(|m| !m.sent) {
            if !m.first_line().starts_with("INVITE ") {
                continue;
            }
            let vias = m.headers("Via");
            assert!(
                vias.first()
                    .is_some_and(|v| v.contains(&format!(":{}", kam.port))),
                "an agent's INVITE did not come through Kamailio: {vias:?}"
            );
            if vias.iter().any(|v| v.contains(&format!(":{port_a}"))) {
                from_a += 1;
            }
            if vias.iter().any(|v| v.contains(&format!(":{port_b}"))) {
                from_b += 1;
            }
        }
    }
    eprintln!("ha: agent INVITEs from node A {from_a}, from node B {from_b}");
    assert!(
        from_a >= before.len() / 2,
        "A's ACD rang the agents\n{context}"
    );
    assert!(
        from_b >= after.len() / 2,
        "the survivor's ACD rang the agents\n{context}\n{}",
        b.report()
    );

    // the shared database: the survivor's calls are there with an agent
    let after_ms = killed_ms + failover.as_millis() as i64;
    let (cdrs, arrived) = db(&url, async |s| {
        let cdrs = s.recent_cdrs(10_000).await.expect("CDRs");
        let events = s
            .events_between(0, i64::MAX, 100_000)
            .await
            .expect("events");
        (cdrs, events)
    });
    let with_agent = cdrs
        .iter()
        .filter(|c| c.arrived_ms >= after_ms && c.agent_answered_ms.is_some())
        .count();
    assert!(
        with_agent >= after.len() / 2,
        "{with_agent} CDRs after the window with an agent\n{context}"
    );
    let arrived: HashSet<String> = arrived
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Arrived { .. }))
        .filter_map(|e| e.call_id.as_ref().map(|c| c.to_string()))
        .collect();
    let closed: HashSet<String> = cdrs.iter().map(|c| c.call_id.to_string()).collect();
    let open: Vec<&String> = arrived.difference(&closed).collect();
    // the survivor closed the calls the dead node left open
    let mut open_now = open.len();
    let closed_all = wait_until(Duration::from_secs(20), || {
        let (cdrs, events) = db(&url, async |s| {
            (
                s.recent_cdrs(10_000).await.expect("CDRs"),
                s.events_between(0, i64::MAX, 100_000)
                    .await
                    .expect("events"),
            )
        });
        let closed: HashSet<String> = cdrs.iter().map(|c| c.call_id.to_string()).collect();
        open_now = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Arrived { .. }))
            .filter_map(|e| e.call_id.as_ref().map(|c| c.to_string()))
            .filter(|c| !closed.contains(c))
            .count();
        open_now == 0
    });
    assert!(
        closed_all,
        "{open_now} calls of the dead node left open\n{}",
        b.report()
    );
    // what the wallboard shows (GET /api/cluster on the survivor): B is
    // active, A is down, every queue's lease is B's, and B took over from A
    let view = api(&b, "GET", "/api/cluster");
    assert_eq!(view["node"]["node_id"], "node-b", "{view}");
    assert_eq!(view["node"]["active"], true, "{view}");
    assert_eq!(view["database"], "ok", "{view}");
    let nodes = view["nodes"].as_array().expect("nodes");
    let node_a = nodes
        .iter()
        .find(|n| n["node_id"] == "node-a")
        .unwrap_or_else(|| panic!("node A is not listed: {view}"));
    assert_eq!(node_a["up"], false, "the dead node shows down: {view}");
    let leases = view["leases"].as_array().expect("leases");
    assert!(!leases.is_empty(), "{view}");
    for l in leases {
        assert_eq!(l["owner"], "node-b", "the queue's ACD moved: {view}");
        assert_eq!(l["held"], true, "{view}");
        assert_eq!(l["previous_owner"], "node-a", "{view}");
    }
    assert!(
        view["node"]["take_overs"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["from"] == "node-a")),
        "the take-over from node A is on record: {view}"
    );
    assert!(b.is_running(), "the survivor runs\n{}", b.report());
    b.stop();
}

/// Kamailio as the agents' registrar, usrloc in PostgreSQL: the node
/// writes the subscribers (hashes, no password) and reads the contacts;
/// Kamailio challenges, locks a guessed user name, keeps the contacts
/// through its own restart (loaded back from PostgreSQL) and rings the
/// agent for the node; the node refuses a REGISTER sent to it directly;
/// an agent that unregisters is no longer offered.
#[test]
fn kamailio_is_the_registrar_with_usrloc_in_postgresql() {
    need_peers();
    assert!(
        have_kamailio(),
        "kamailio is not installed: run scripts/test.sh"
    );
    let pg = start_pg();
    let url = pg.url();
    let port_a = free_udp_port();
    let kam_port = free_udp_port();
    // with the line self-test (a trunk back to itself) checking the phones
    let a = node_with(
        &pg,
        "node-a",
        port_a,
        Some(kam_port),
        HotlineOptions {
            extra_toml: "[[trunks]]\nname = \"loop\"\naddress = \"127.0.0.1:{{sip_port}}\"\ncaller_id = \"4000\"\nnumber_format = \"as_dialled\"\nprobe_every_s = 0\n".into(),
            line_test_toml: "times = [\"03:17\"]\ntrunk = \"loop\"\nnumber = \"4000\"\ncaller_id = \"99990000\"\n".into(),
            ..HotlineOptions::default()
        },
    );
    assert!(
        wait_until(Duration::from_secs(15), || options_status(port_a)
            == Some(200)),
        "node A does not answer OPTIONS 200\n{}",
        a.report()
    );
    let list = format!("1 sip:127.0.0.1:{port_a} 0 10 duid=node-a\n");
    let defines = registrar_defines(&pg);
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    let mut kam = Kamailio::start_on(kam_port, &list, &defines);
    let edge = kam.addr();

    // a REGISTER sent to the node itself: 403, it is not the registrar
    let direct = Sipp::new("agent_register.xml")
        .remote(&a.addr())
        .port(free_udp_port())
        .credentials("1001", "demo1001")
        .run();
    assert!(!direct.success(), "{}", direct.report());
    assert!(
        a.log_shows(
            "REGISTER refused: the agents register with Kamailio",
            Duration::from_secs(5)
        ),
        "{}",
        a.report()
    );

    // the agent registers with Kamailio (challenged with the node's hashes)
    let port = register_at(&edge, "127.0.0.3", "1001", "1001 registers with Kamailio");
    let mut rows = Vec::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            rows = db(&url, async |s| s.edge_contacts().await.expect("location"));
            rows.len() == 1
        }),
        "{rows:?}\n{}",
        kam.log()
    );
    assert_eq!(rows[0].agent, "1001");
    assert!(
        rows[0].contact.contains(&format!("127.0.0.3:{port}")),
        "{rows:?}"
    );
    assert!(
        a.log_shows(
            "agents registered at the edge agents=1",
            Duration::from_secs(5)
        ),
        "{}",
        a.report()
    );

    // the line self-test's OPTIONS reaches the phone itself through
    // Kamailio's lookup (not Kamailio): the phone is not running now (SIPp
    // registered and exited), so Kamailio answers 408 and the test fails,
    // naming the agent
    let ev = api(&a, "POST", "/api/line-tests");
    assert_eq!(
        ev["kind"]["type"],
        "line_test_failed",
        "{ev:#}\n{}",
        a.report()
    );
    let reason = ev["kind"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("phone of agent 1001")
            && (reason.contains("OPTIONS 408 from the proxy")
                || reason.contains("did not answer OPTIONS")),
        "{ev:#}"
    );
    assert!(
        ev["kind"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("audio: both ways")),
        "the line itself is fine: {ev:#}"
    );

    // password guessing on user 1002 from 127.0.0.2: after USER_FAILS (5)
    // wrong answers the name is locked, its right password refused too
    for i in 0..5 {
        let out = Sipp::new("agent_register_reject.xml")
            .remote(&edge)
            .local_ip("127.0.0.2")
            .credentials("1002", &format!("guess{i}"))
            .run();
        out.assert_success(&format!("guess {i} refused"));
    }
    assert!(kam
        .log()
        .contains("failed digest answers for user 1002: locked"));
    let locked = Sipp::new("agent_register.xml")
        .remote(&edge)
        .local_ip("127.0.0.4")
        .port(free_udp_port())
        .credentials("1002", "demo1002")
        .run();
    assert!(
        !locked.success(),
        "a locked name registered: {}",
        locked.report()
    );
    assert!(
        kam.log_shows("REGISTER for locked user 1002", Duration::from_secs(5)),
        "{}",
        kam.log()
    );

    // a call: the node rings 1001 through Kamailio's lookup
    let call = |kam: &Kamailio| {
        let agent = Sipp::new("agent_uas_proxied.xml")
            .local_ip("127.0.0.3")
            .port(port)
            .key("agent", "1001")
            .duration_ms(100)
            .timeout(Duration::from_secs(30))
            .spawn();
        let out = Sipp::new("caller.xml")
            .remote(&kam.addr())
            .local_ip("127.0.0.5")
            .service("hotline")
            .key("caller", "13800000001")
            .duration_ms(1000)
            .run();
        (out, agent.wait())
    };
    let (out, agent) = call(&kam);
    out.assert_success("a call through the edge");
    agent.assert_success("1001 answered, rung through Kamailio");
    let invite = agent
        .received()
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .expect("an INVITE");
    assert!(
        invite.contains(&format!("Via: SIP/2.0/UDP 127.0.0.1:{kam_port}")),
        "{invite}"
    );
    assert!(
        invite.starts_with(&format!("INVITE sip:1001@127.0.0.3:{port}")),
        "Kamailio's lookup set the Request-URI to the contact: {invite}"
    );

    // Kamailio restarted: it loads the contacts back from PostgreSQL and
    // rings the agent without a new REGISTER
    kam.stop();
    let kam = Kamailio::start_on(kam_port, &list, &defines);
    let (out, agent) = call(&kam);
    out.assert_success("a call through the restarted edge");
    agent.assert_success("1001 rung after Kamailio's restart");

    // 1001 unregisters: its row goes, the node stops offering it
    Sipp::new("agent_unregister.xml")
        .remote(&kam.addr())
        .local_ip("127.0.0.3")
        .port(port)
        .credentials("1001", "demo1001")
        .run()
        .assert_success("1001 unregisters");
    assert!(
        wait_until(Duration::from_secs(5), || db(&url, async |s| s
            .edge_contacts()
            .await
            .expect("location"))
        .is_empty()),
        "{}",
        kam.log()
    );
    assert!(
        a.log_shows(
            "agents registered at the edge agents=0",
            Duration::from_secs(5)
        ),
        "{}",
        a.report()
    );
}

fn secs_rel(t: Instant, zero: Instant) -> f64 {
    if t >= zero {
        (t - zero).as_secs_f64()
    } else {
        -(zero - t).as_secs_f64()
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------
// the edge proxy against bad input
// ---------------------------------------------------------------------------

/// A raw SIP socket on a given loopback address (Kamailio counts and bans
/// per source address; 127.0.0.1 is its own address and exempt).
struct Raw {
    sock: std::net::UdpSocket,
    to: std::net::SocketAddr,
    n: u32,
}

impl Raw {
    fn new(ip: &str, to: &str) -> Raw {
        let sock = std::net::UdpSocket::bind((ip, 0)).expect("bind a loopback address");
        Raw {
            sock,
            to: to.parse().unwrap(),
            n: 0,
        }
    }

    fn local(&self) -> std::net::SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// A request (`extra` header lines end with CRLF); `to_tag` makes it
    /// in-dialog.
    fn request(&mut self, method: &str, uri: &str, extra: &str, to_tag: bool) -> String {
        self.n += 1;
        let l = self.local();
        let n = self.n;
        let tag = if to_tag { ";tag=far" } else { "" };
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-edge{n}-{p}\r\nMax-Forwards: 70\r\nFrom: <sip:2001@{l}>;tag=e{n}\r\nTo: <{uri}>{tag}\r\nCall-ID: edge-{n}-{p}@{l}\r\nCSeq: {n} {method}\r\nContact: <sip:2001@{l}>\r\n{extra}Content-Length: 0\r\n\r\n",
            p = std::process::id()
        )
    }

    fn send(&self, msg: &str) {
        self.sock.send_to(msg.as_bytes(), self.to).expect("send");
    }

    /// The first final answer to our last request within `wait` (answers
    /// to earlier ones are skipped).
    fn final_status(&self, wait: Duration) -> Option<(u16, String)> {
        let want = format!("CSeq: {} ", self.n);
        let end = Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            let n = self.sock.recv(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(code) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse::<u16>().ok())
            {
                if code >= 200 && text.contains(&want) {
                    return Some((code, text));
                }
            }
        }
        None
    }

    fn ask(&mut self, method: &str, uri: &str, extra: &str, to_tag: bool) -> Option<u16> {
        let msg = self.request(method, uri, extra, to_tag);
        self.send(&msg);
        self.final_status(Duration::from_secs(3)).map(|r| r.0)
    }
}

/// Counts what reaches a socket (a would-be relay victim).
fn victim() -> (std::net::UdpSocket, u16) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn received(s: &std::net::UdpSocket) -> usize {
    let mut buf = [0u8; 65536];
    let mut n = 0;
    while s.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// The shipped edge config with one node: no open relay, malformed and
/// looping requests stopped, scanners dropped, a password guesser and a
/// flooder banned at the edge (and not the node banning Kamailio), 503 +
/// Retry-After when no node is up, and a Kamailio restart that loses no
/// registration.
#[test]
fn edge_proxy_refuses_bad_input_and_survives_a_restart() {
    need_peers();
    assert!(
        have_kamailio(),
        "kamailio is not installed: run scripts/test.sh"
    );
    let h = Hotline::start_with(HotlineOptions {
        // behind Kamailio, as config/hotline-node.toml: no per-source ban
        extra_toml: "[sip.lockout]\nsource_failures = 0\nremember_good_s = 0\n".into(),
        ..HotlineOptions::default()
    });
    let list = format!("1 sip:127.0.0.1:{} 0 10 duid=node-a\n", h.sip_port);
    let mut kam = Kamailio::start(&list, &[]);
    let edge = kam.addr();
    let edge_uri = format!("sip:{edge}");
    let (vsock, vport) = victim();
    let victim_uri = format!("sip:victim@127.0.0.1:{vport}");

    // the node is reachable through the edge: OPTIONS to the hotline number
    let mut c = Raw::new("127.0.0.3", &edge);
    assert!(
        wait_until(Duration::from_secs(5), || c.ask(
            "OPTIONS",
            &format!("sip:hotline@{edge}"),
            "",
            false
        ) == Some(200)),
        "OPTIONS through the edge\n{}",
        kam.log()
    );

    // no open relay: an INVITE for somewhere else, with or without a
    // preloaded Route, goes to the node (which refuses it), never there
    let s1 = c.ask("INVITE", &victim_uri, "", false);
    let s2 = c.ask(
        "INVITE",
        &victim_uri,
        &format!("Route: <sip:127.0.0.1:{vport};lr>\r\n"),
        false,
    );
    // an in-dialog BYE for a dialog that is not a node's
    let s3 = c.ask("BYE", &victim_uri, "", true);
    let s4 = c.ask(
        "BYE",
        &victim_uri,
        &format!("Route: <sip:127.0.0.1:{vport};lr>\r\n"),
        true,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&vsock),
        0,
        "the edge relayed to a third party ({s1:?} {s2:?} {s3:?} {s4:?})\n{}",
        kam.log()
    );
    assert_eq!(s3, Some(404), "{}", kam.log());
    assert_eq!(s4, Some(403), "{}", kam.log());
    assert!(s1.is_some_and(|s| s >= 400), "{s1:?}");

    // a loop: Max-Forwards 0
    let msg = c
        .request("OPTIONS", &format!("sip:hotline@{edge}"), "", false)
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    c.send(&msg);
    assert_eq!(
        c.final_status(Duration::from_secs(2)).map(|r| r.0),
        Some(483)
    );
    // malformed: a CSeq whose method is not the request's, garbage, an
    // oversized datagram: no answer or an error, and the edge lives on
    let bad = c
        .request("INVITE", &format!("sip:hotline@{edge}"), "", false)
        .replace(" INVITE\r\nContact", " BYE\r\nContact");
    c.send(&bad);
    let got = c.final_status(Duration::from_millis(800)).map(|r| r.0);
    assert!(got.is_none_or(|s| s >= 400), "{got:?}");
    c.send("\u{0}\u{1}garbage\r\n\r\n");
    c.send(&"X".repeat(10_000));
    c.send(&format!(
        "INVITE sip:hotline@{edge} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:1\r\n\r\n"
    ));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        kam.is_running(),
        "kamailio died on bad input\n{}",
        kam.log()
    );
    assert_eq!(
        c.ask("OPTIONS", &edge_uri, "", false),
        Some(200),
        "the edge still answers"
    );

    // a scanner's User-Agent is dropped unanswered
    let scan = c.request(
        "OPTIONS",
        &edge_uri,
        "User-Agent: friendly-scanner\r\n",
        false,
    );
    c.send(&scan);
    assert!(c.final_status(Duration::from_millis(800)).is_none());

    // password guessing from 127.0.0.2 (one guess for each of ten user
    // names, under the node's per-user lock): every wrong digest answer
    // counts at the edge; at the 10th the address is banned (dropped
    // unanswered)
    for i in 0..10 {
        let out = Sipp::new("agent_register_reject.xml")
            .remote(&edge)
            .local_ip("127.0.0.2")
            .credentials(&format!("90{i:02}"), &format!("guess{i}"))
            .run();
        assert!(
            out.success() || i == 9,
            "guess {i} not refused: {}",
            out.report()
        );
    }
    let mut guesser = Raw::new("127.0.0.2", &edge);
    assert_eq!(
        guesser.ask("OPTIONS", &edge_uri, "", false),
        None,
        "the guesser is banned at the edge\n{}",
        kam.log()
    );
    assert!(
        kam.log_shows(
            "failed digest answers from 127.0.0.2",
            Duration::from_secs(5)
        ),
        "{}",
        kam.log()
    );
    // ... and the node did not ban Kamailio: an agent still registers
    let port = register_at(
        &edge,
        "127.0.0.3",
        "1001",
        "register 1001 through the edge after the guessing",
    );

    // a flood from 127.0.0.4: pike bans it
    let mut flood = Raw::new("127.0.0.4", &edge);
    for _ in 0..200 {
        let m = flood.request("OPTIONS", &edge_uri, "", false);
        flood.send(&m);
    }
    std::thread::sleep(Duration::from_millis(300));
    flood.sock.set_nonblocking(true).ok();
    let answered = received(&flood.sock);
    flood.sock.set_nonblocking(false).ok();
    assert!(answered < 200, "pike let the whole flood through");
    assert_eq!(
        flood.ask("OPTIONS", &edge_uri, "", false),
        None,
        "the flooder is banned\n{}",
        kam.log()
    );
    assert!(
        kam.log_shows("pike: flood from 127.0.0.4", Duration::from_secs(5)),
        "{}",
        kam.log()
    );

    // Kamailio restarted on the same address: it keeps no state, the node
    // keeps the registration with its Path: a call still reaches the agent
    let port_edge = kam.port;
    kam.stop();
    let kam = Kamailio::start_on(port_edge, &list, &[]);
    let agent = Sipp::new("agent_uas_proxied.xml")
        .local_ip("127.0.0.3")
        .port(port)
        .key("agent", "1001")
        .duration_ms(100)
        .spawn();
    let call = Sipp::new("caller.xml")
        .remote(&kam.addr())
        .local_ip("127.0.0.3")
        .service("hotline")
        .key("caller", "13800000001")
        .duration_ms(1000)
        .run();
    call.assert_success("a call through the restarted edge");
    let agent = agent.wait();
    agent.assert_success("the agent's phone answered through the restarted edge");
    assert!(
        agent
            .received()
            .iter()
            .any(|m| m.starts_with("INVITE ") && m.contains(&format!(":{port_edge}"))),
        "the agent's INVITE came through the edge"
    );
    drop(kam);

    // no node up: 503 with Retry-After, not silence
    let (dead_sock, dead_port) = victim();
    drop(dead_sock);
    let kam = Kamailio::start(
        &format!("1 sip:127.0.0.1:{dead_port} 0 10 duid=gone\n"),
        &["HOLD_MS=2000"],
    );
    let mut c = Raw::new("127.0.0.3", &kam.addr());
    let msg = c.request("INVITE", &format!("sip:hotline@{}", kam.addr()), "", false);
    c.send(&msg);
    let reply = c.final_status(Duration::from_secs(5));
    let (code, text) = reply.unwrap_or_else(|| panic!("no answer\n{}", kam.log()));
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("Retry-After: 5"), "{text}");
    // once the probes marked it down, at once
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    let reply = c.ask(
        "REGISTER",
        &format!("sip:{}", kam.addr()),
        "Expires: 60\r\n",
        false,
    );
    assert_eq!(reply, Some(503));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    // a new call waits HOLD_MS for a node (a take-over), then 503
    let t = Instant::now();
    let msg = c.request("INVITE", &format!("sip:hotline@{}", kam.addr()), "", false);
    c.send(&msg);
    let (code, text) = c
        .final_status(Duration::from_secs(6))
        .unwrap_or_else(|| panic!("no answer to a held call\n{}", kam.log()));
    let waited = t.elapsed();
    assert_eq!(code, 503, "{text}");
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "held {waited:?}, HOLD_MS=2000\n{}",
        kam.log()
    );
    assert!(
        kam.log_shows("no hotline node up for INVITE", Duration::from_secs(5)),
        "{}",
        kam.log()
    );
}
