//! Kamailio's TLS (issue 18): the shipped config/kamailio/kamailio.cfg with
//! `WITH_TLS` and config/kamailio/tls.cfg (its two paths pointed at a test
//! PKI) in front of a hotline node on loopback. A baresip agent registers
//! over TLS to Kamailio with `mediaenc=srtp-mand`; Kamailio relays to the
//! node over UDP (the private network: `media.srtp_allow_without_tls`);
//! a SIPp caller's call through Kamailio is answered, bridged to that agent
//! over TLS + SRTP and recorded with both voices on their channels. Bad
//! certificates stop the start with the file named
//! (deploy/kamailio/tls-check.sh for what Kamailio itself would accept).
//!
//! `cargo test --test e2e -- edge_tls::`

use super::calls::check_baresip_call;
use super::tls::{free_tcp_port, Pki};
use super::*;
use std::process::Command;
use std::time::Instant;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped tls.cfg with its certificate and key paths replaced.
fn tls_cfg(dir: &Path, cert: &str, key: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/kamailio/tls.cfg")).unwrap();
    assert!(text.contains("certificate = /etc/kamailio/tls/sip.crt"));
    assert!(text.contains("private_key = /etc/kamailio/tls/sip.key"));
    let text = text
        .replace("/etc/kamailio/tls/sip.crt", cert)
        .replace("/etc/kamailio/tls/sip.key", key);
    let path = dir.join("tls.cfg");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `-A` defines of a TLS edge on 127.0.0.1:`tls_port`.
fn tls_defines(tls_port: u16, cfg: &Path) -> Vec<String> {
    vec![
        "WITH_TLS".into(),
        format!("LISTEN_TLS=tls:127.0.0.1:{tls_port}"),
        format!("TLS_CFG=\"{}\"", cfg.display()),
    ]
}

fn have_tls_module() -> bool {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .any(|d| d.path().join("kamailio/modules/tls.so").exists())
}

fn need_kamailio_tls() {
    need_peers();
    assert!(
        have_kamailio() && have_tls_module(),
        "kamailio with its tls module is not installed: run scripts/test.sh \
         (apt: kamailio kamailio-tls-modules)"
    );
}

/// deploy/kamailio/tls-check.sh on a tls.cfg: (exit 0, output).
fn tls_check(cfg: &Path) -> (bool, String) {
    let out = Command::new("sh")
        .arg(repo().join("deploy/kamailio/tls-check.sh"))
        .arg(cfg)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Kamailio run in the foreground with the TLS edge config until it exits
/// or `wait` passes (then killed): (exited by itself with success, its log).
fn kamailio_run(tls_port: u16, cfg: &Path, list: &Path, wait: Duration) -> (Option<bool>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(kamailio_bin());
    cmd.args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
        .arg(kamailio_cfg())
        .arg("-A")
        .arg(format!("LISTEN=udp:127.0.0.1:{}", free_udp_port()))
        .arg("-A")
        .arg(format!("DS_LIST=\"{}\"", list.display()));
    for d in tls_defines(tls_port, cfg) {
        cmd.arg("-A").arg(d);
    }
    let log_path = dir.path().join("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = cmd
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let end = Instant::now() + wait;
    let mut status = None;
    while Instant::now() < end {
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s.success());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if status.is_none() {
        terminate(&mut child, Duration::from_secs(5));
    }
    // reaped (terminate waited, or it exited): no zombie
    let _ = child.wait();
    (
        status,
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    )
}

/// `openssl s_client` to 127.0.0.1:`port` verifying the server against
/// `ca` (and its IP): whether the handshake and verification succeed.
fn openssl_verifies(port: u16, ca: &str) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-verify_return_error",
            "-verify_ip",
            "127.0.0.1",
            "-CAfile",
            ca,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains("Verify return code: 0 (ok)")
}

#[test]
fn shipped_kamailio_config_with_tls_passes_kamailio_check() {
    need_kamailio_tls();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let cfg = tls_cfg(dir.path(), &pki.path("cert.pem"), &pki.path("key.pem"));
    let list = repo().join("config/kamailio/dispatcher.list");
    let defines = tls_defines(5061, &cfg);
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    let (ok, out) = kamailio_check(&list, &defines);
    assert!(ok, "kamailio -c WITH_TLS:\n{out}");
    assert!(out.contains("tls: 127.0.0.1"), "{out}");
    // as shipped (defaults): TLS on 0.0.0.0:5061, UDP kept for the nodes
    let (ok, out) = kamailio_check(&list, &["WITH_TLS"]);
    assert!(ok, "kamailio -c WITH_TLS (defaults):\n{out}");
    assert!(
        out.contains("tls: 0.0.0.0") && out.contains(":5061"),
        "{out}"
    );
    assert!(out.contains("udp: 0.0.0.0"), "{out}");
    // with TCP too
    let (ok, out) = kamailio_check(&list, &["WITH_TLS", "WITH_TCP"]);
    assert!(ok && out.contains("tcp: 0.0.0.0"), "{out}");
    // the systemd drop-in runs the certificate check and -A WITH_TLS
    let dropin =
        std::fs::read_to_string(repo().join("deploy/systemd/kamailio.service.d/tls.conf")).unwrap();
    assert!(dropin
        .contains("ExecStartPre=/usr/local/lib/hotline/kamailio-tls-check /etc/kamailio/tls.cfg"));
    assert!(dropin.contains("\nExecStart=\n"), "{dropin}");
    assert!(dropin.contains("-A WITH_TLS"), "{dropin}");
    let (ok, out) = tls_check(&cfg);
    assert!(
        ok && out.contains("key ") && out.contains(" matches"),
        "{out}"
    );
}

/// The edge terminates TLS: baresip (TLS + `srtp-mand`) registers through
/// it, a SIPp caller's call through it is bridged to baresip by the node and
/// recorded; the node↔Kamailio leg is UDP.
#[test]
fn a_baresip_agent_over_kamailio_tls_with_mandatory_srtp_answers_a_call_through_the_edge() {
    tls_srtp_agent_through_the_edge(false);
}

/// The same with Kamailio as the registrar (usrloc in PostgreSQL) and the
/// HA pair behind it: the TLS phone's contact is kept with its TLS socket,
/// the active node's INVITE, looked up by Kamailio, reaches it over its own
/// TLS connection; node A is killed and node B rings the same phone (never
/// registered again) for the next caller, SRTP and recording as before.
#[test]
fn with_kamailio_as_the_registrar_either_node_rings_a_tls_srtp_agent_over_its_connection() {
    tls_srtp_agent_through_the_edge(true);
}

fn tls_srtp_agent_through_the_edge(kamailio_registrar: bool) {
    need_kamailio_tls();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let kam_port = free_udp_port();
    let pg = kamailio_registrar.then(start_pg);
    // with the registrar at the edge: two nodes of the pair on PostgreSQL
    let node = |id: &str| {
        let (storage_toml, cluster_toml) = match &pg {
            Some(pg) => (
                format!("database_url = \"{}\"", pg.url()),
                format!(
                    "\n[cluster]\nenabled = true\nnode_id = \"{id}\"\nlease_ttl_ms = 3000\nrenew_every_ms = 1000\ndb_health_window_ms = 2500\nregistrar = \"kamailio\"\nedge = \"127.0.0.1:{kam_port}\"\n"
                ),
            ),
            None => (String::new(), String::new()),
        };
        Hotline::start_with(HotlineOptions {
            // behind Kamailio as config/hotline-node.toml; agent 2001 wants
            // SRTP only, and the keys may travel on the private UDP leg to
            // Kamailio
            extra_toml: format!(
                "\n[sip.lockout]\nsource_failures = 0\nremember_good_s = 0\n\
                 \n[[agents]]\nid = \"2001\"\npassword = \"demo2001\"\nsrtp = \"required\"\n{cluster_toml}"
            ),
            storage_toml,
            media_toml: "srtp_allow_without_tls = true".into(),
            ring_on_ms: 1000,
            ring_off_ms: 1000,
            env: vec![("HOTLINE_LOG".into(), "info,rsipstack=warn,sqlx=warn".into())],
            ..HotlineOptions::default()
        })
    };
    let mut h = node("node-a");
    let b = pg.as_ref().map(|_| {
        assert!(
            wait_until(Duration::from_secs(15), || super::ha::options_status(
                h.sip_port
            ) == Some(200)),
            "node A is not active\n{}",
            h.report()
        );
        node("node-b")
    });
    let cfg = tls_cfg(dir.path(), &pki.path("cert.pem"), &pki.path("key.pem"));
    let tls_port = free_tcp_port();
    let mut list = format!("1 sip:127.0.0.1:{} 0 10 duid=node-a\n", h.sip_port);
    if let Some(b) = &b {
        list.push_str(&format!("1 sip:127.0.0.1:{} 0 5 duid=node-b\n", b.sip_port));
    }
    let mut defines = tls_defines(tls_port, &cfg);
    if let Some(pg) = &pg {
        defines.push("WITH_REGISTRAR".into());
        defines.push(format!("DBURL=\"{}\"", pg.url()));
    }
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    let kam = Kamailio::start_on(kam_port, &list, &defines);
    assert!(
        kam.log()
            .contains(&format!("tls: 127.0.0.1 [127.0.0.1]:{tls_port}")),
        "{}",
        kam.log()
    );

    // the edge presents the configured certificate: verified against the
    // test CA, refused against another CA (baresip 1.0 loads `sip_cafile`
    // but does not verify the server, so this is checked with openssl)
    assert!(
        openssl_verifies(tls_port, &pki.path("ca.pem")),
        "{}",
        kam.log()
    );
    let stranger = Pki::new(&dir.path().join("other"));
    assert!(!openssl_verifies(tls_port, &stranger.path("ca.pem")));

    // the agent's phone: TLS to Kamailio, SRTP mandatory
    let phone = AgentPhone::new(&kam.addr(), "2001", "demo2001", AudioSource::Sine(440))
        .over_tls(tls_port, &pki.path("ca.pem"))
        .mediaenc("srtp-mand")
        .start();
    assert!(
        phone.wait_registered(Duration::from_secs(10)),
        "{}\n{}\n===== kamailio =====\n{}",
        phone.report(),
        h.report(),
        kam.log()
    );
    if let Some(pg) = &pg {
        // Kamailio keeps the contact with the TLS socket it came on
        let rows = super::ha::db(&pg.url(), async |s| {
            s.edge_contacts().await.expect("location")
        });
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(
            rows[0]
                .socket
                .as_deref()
                .is_some_and(|s| s.starts_with("tls:")),
            "{rows:?}"
        );
        assert!(
            wait_until(Duration::from_secs(5), || format!(
                "{}{}",
                h.stdout(),
                h.stderr()
            )
            .contains("agents registered at the edge agents=1")),
            "{}",
            h.report()
        );
    }
    // a caller through the edge (UDP), answered and bridged to 2001
    let out = Sipp::new("caller.xml")
        .remote(&kam.addr())
        .service("hotline")
        .key("caller", "0612345678")
        .duration_ms(5000)
        .run();
    out.assert_success("a caller through the edge talks to the TLS + SRTP agent");
    assert!(
        phone.stdout().contains("Call established"),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    let log = h.log();
    assert!(
        log.contains("SRTP on the agent leg (SDES)"),
        "the agent leg is not SRTP:\n{}",
        h.report()
    );
    // the caller's 200 came through Kamailio (its Record-Route)
    let ok = out
        .messages()
        .into_iter()
        .find(|m| {
            !m.sent
                && m.first_line().starts_with("SIP/2.0 200")
                && m.headers("CSeq").iter().any(|c| c.contains("INVITE"))
        })
        .expect("a 200 to the INVITE");
    assert!(
        ok.headers("Record-Route")
            .iter()
            .any(|r| r.contains(&format!(":{}", kam.port))),
        "{:?}",
        ok.headers("Record-Route")
    );
    // the recording: caller left, baresip's 440 Hz right (decrypted by the
    // node), baresip heard the caller
    check_baresip_call(&h, &phone, "2001", "TLS + SRTP agent behind Kamailio");

    // the pair: node A dies; node B takes over and rings the same phone,
    // registered once with Kamailio, over its TLS connection
    let Some(b) = b else {
        return;
    };
    h.kill();
    assert!(
        wait_until(Duration::from_secs(15), || super::ha::options_status(
            b.sip_port
        ) == Some(200)),
        "node B did not take over\n{}",
        b.report()
    );
    // Kamailio's next probes mark A down and B up
    std::thread::sleep(Duration::from_secs(2));
    let out = Sipp::new("caller.xml")
        .remote(&kam.addr())
        .service("hotline")
        .key("caller", "0612345679")
        .duration_ms(5000)
        .run();
    out.assert_success("after the failover the survivor bridges the caller to the TLS agent");
    super::wait_cdrs(&b, 2);
    let log_b = format!("{}{}", b.stdout(), b.stderr());
    assert!(
        log_b.contains("SRTP on the agent leg (SDES)"),
        "the survivor's agent leg is not SRTP:\n{}",
        b.report()
    );
    check_baresip_call(&b, &phone, "2001", "TLS + SRTP agent rung by the survivor");
}

/// Bad certificates: Kamailio refuses a key that is not the certificate's,
/// a missing file and garbage at start (exit, the file named); it would
/// serve an expired or not-yet-valid one, which the shipped pre-start
/// check (deploy/kamailio/tls-check.sh, ExecStartPre of the drop-in)
/// refuses with the dates.
#[test]
fn kamailio_with_an_expired_or_wrong_certificate_fails_at_start() {
    need_kamailio_tls();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let other = Pki::new(&dir.path().join("other"));
    other.issue(2024, 2040);
    let list = dir.path().join("dispatcher.list");
    std::fs::write(&list, "1 sip:127.0.0.1:9 0 10 duid=node-a\n").unwrap();

    // a key that is not the certificate's
    let cfg = tls_cfg(dir.path(), &pki.path("cert.pem"), &other.path("key.pem"));
    let (ok, out) = tls_check(&cfg);
    assert!(
        !ok && out.contains("is not the key of the certificate"),
        "{out}"
    );
    assert!(out.contains(&other.path("key.pem")), "{out}");
    let (status, log) = kamailio_run(free_tcp_port(), &cfg, &list, Duration::from_secs(10));
    assert_eq!(
        status,
        Some(false),
        "kamailio started with a wrong key:\n{log}"
    );
    assert!(
        log.contains("key values mismatch") && log.contains(&other.path("key.pem")),
        "{log}"
    );

    // a missing certificate
    let missing = dir.path().join("nope.pem").display().to_string();
    let cfg = tls_cfg(dir.path(), &missing, &pki.path("key.pem"));
    let (ok, out) = tls_check(&cfg);
    assert!(
        !ok && out.contains("cannot read the certificate") && out.contains(&missing),
        "{out}"
    );
    let (status, log) = kamailio_run(free_tcp_port(), &cfg, &list, Duration::from_secs(10));
    assert_eq!(status, Some(false), "{log}");
    assert!(log.contains(&missing), "{log}");

    // garbage as the certificate
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n").unwrap();
    let garbage = garbage.display().to_string();
    let cfg = tls_cfg(dir.path(), &garbage, &pki.path("key.pem"));
    let (ok, out) = tls_check(&cfg);
    assert!(!ok && out.contains("is not a PEM certificate"), "{out}");
    let (status, log) = kamailio_run(free_tcp_port(), &cfg, &list, Duration::from_secs(10));
    assert_eq!(status, Some(false), "{log}");

    // expired: the check refuses it with its dates
    pki.issue(2020, 2021);
    let cfg = tls_cfg(dir.path(), &pki.path("cert.pem"), &pki.path("key.pem"));
    let (ok, out) = tls_check(&cfg);
    assert!(!ok && out.contains("is expired"), "{out}");
    assert!(
        out.contains(&pki.path("cert.pem")) && out.contains("2021"),
        "{out}"
    );
    // (Kamailio itself starts with it: what the pre-start check is for)
    let (status, log) = kamailio_run(free_tcp_port(), &cfg, &list, Duration::from_secs(3));
    eprintln!("kamailio with an expired certificate: exited {status:?}");
    let _ = log;

    // not valid yet
    pki.issue(2090, 2095);
    let (ok, out) = tls_check(&cfg);
    assert!(!ok && out.contains("is not valid yet"), "{out}");

    // a tls.cfg that names no certificate, an unreadable tls.cfg
    let empty = dir.path().join("empty.cfg");
    std::fs::write(&empty, "[server:default]\nmethod = TLSv1.2+\n").unwrap();
    let (ok, out) = tls_check(&empty);
    assert!(!ok && out.contains("names no certificate"), "{out}");
    let (ok, out) = tls_check(&dir.path().join("absent.cfg"));
    assert!(!ok && out.contains("cannot read"), "{out}");
}
