//! SIP over TLS with a real phone: baresip registers over TLS
//! (`sip:1001@127.0.0.1:PORT;transport=tls`, the test CA as its
//! `sip_cafile`), is rung over TLS and answers; the recording has both voices
//! on their channels; a certificate replaced and reloaded with SIGHUP in the
//! middle of the call leaves it up. A bad certificate stops `serve` and
//! `check-config` with the file named.

use super::calls::{caller, check_baresip_call, slow_ring};
use super::*;
use rcgen::{CertificateParams, KeyPair};
use std::process::Command;

/// A test CA (ca.pem) and a server certificate for 127.0.0.1 / localhost
/// (cert.pem, key.pem) valid from `from` to `until` (years).
pub(crate) struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    pub(crate) fn new(dir: &Path) -> Pki {
        let dir = dir.join("pki");
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "hotline e2e CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = p.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, ca_key }
    }

    pub(crate) fn issue(&self, from: i32, until: i32) {
        let mut p = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        p.not_before = rcgen::date_time_ymd(from, 1, 1);
        p.not_after = rcgen::date_time_ymd(until, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        for (name, data) in [("key.pem", key.serialize_pem()), ("cert.pem", cert.pem())] {
            let tmp = self.dir.join(format!("{name}.tmp"));
            std::fs::write(&tmp, data).unwrap();
            std::fs::rename(&tmp, self.dir.join(name)).unwrap();
        }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The `[sip.tls]` table for a listener on `port`.
    pub(crate) fn toml(&self, port: u16) -> String {
        format!(
            "\n[sip.tls]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\nreload_check_s = 3600\n",
            self.path("cert.pem"),
            self.path("key.pem")
        )
    }
}

pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_baresip_agent_over_tls_answers_and_a_certificate_reload_leaves_the_call_up() {
    need_peers();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2024, 2040);
    let tls_port = free_tcp_port();
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: pki.toml(tls_port),
        env: vec![(
            "HOTLINE_LOG".into(),
            "info,rsipstack=warn,sqlx=warn,hotline_sip=debug".into(),
        )],
        ..slow_ring()
    });
    assert!(
        h.stdout().contains(&format!(" tls=127.0.0.1:{tls_port}")),
        "{}",
        h.report()
    );
    let check = Command::new(Hotline::binary())
        .args(["check-config", &h.config_path.display().to_string()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "SIP over TLS on 127.0.0.1:{tls_port} with {}",
            pki.path("cert.pem")
        )),
        "{said}"
    );
    let phone = AgentPhone::new(&h.addr(), "1002", "demo1002", AudioSource::Sine(440))
        .over_tls(tls_port, &pki.path("ca.pem"))
        .start();
    assert!(
        phone.wait_registered(Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    assert!(
        phone
            .stdout()
            .lines()
            .any(|l| l.contains("/TLS/") && l.contains(" 200 OK")),
        "baresip did not register over TLS\n{}",
        phone.report()
    );

    let call = caller(&h, 5000).spawn();
    assert!(
        phone.wait_established(Duration::from_secs(10)),
        "{}\n{}",
        phone.report(),
        h.report()
    );
    // a new certificate and SIGHUP in the middle of the call
    pki.issue(2024, 2041);
    let pid = h.pid().expect("hotline pid");
    let hup = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(
        wait_until(Duration::from_secs(5), || {
            h.stdout().contains("TLS certificate reloaded")
                || h.stderr().contains("TLS certificate reloaded")
        }),
        "{}",
        h.report()
    );
    let out = call.wait();
    // the agent was rung over TLS, on the connection it registered on
    let log = h.log();
    let rung = log
        .lines()
        .find(|l| l.contains("where the INVITE goes"))
        .unwrap_or_else(|| panic!("no INVITE to the agent logged\n{}", h.report()));
    assert!(
        rung.contains("transport=Tls") && rung.contains("reason: Contact"),
        "{rung}"
    );
    let source = rung
        .split("source=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(
        rung.contains(&format!("next_hop: Some({source})")),
        "not rung on the connection it registered on: {rung}"
    );
    out.assert_success("caller talks to the baresip agent over TLS");
    // left: the caller's 1000 Hz, right: baresip's 440 Hz, the whole call
    check_baresip_call(
        &h,
        &phone,
        "1002",
        "baresip agent over TLS received (caller's tone)",
    );
}

/// `check-config` and `serve` on a config whose TLS certificate is bad.
fn refused(pki: &Pki, dir: &Path, want: &str) {
    let sip_port = free_udp_port();
    let tls_port = free_tcp_port();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = render_config(
        CONFIG_TEMPLATE,
        &[
            ("sip_port", sip_port.to_string()),
            ("data_dir", data.display().to_string()),
            ("recordings_dir", data.join("rec").display().to_string()),
            (
                "prompts_dir",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("config/prompts")
                    .display()
                    .to_string(),
            ),
            ("ring_on_ms", "200".into()),
            ("ring_off_ms", "300".into()),
            ("ring_timeout_ms", "3000".into()),
            ("auto_pause_after_misses", "0".into()),
            ("media_port_min", "40000".into()),
            ("media_port_max", "40063".into()),
            ("extra", pki.toml(tls_port)),
            ("hotline_extra", String::new()),
            ("acd_extra", String::new()),
            ("record", "true".into()),
            ("api_token", "test-token".into()),
            ("http_extra", String::new()),
            ("sip_extra", String::new()),
            ("storage_extra", String::new()),
            ("media_extra", String::new()),
            ("prompts_extra", String::new()),
            ("line_test_extra", "enabled = false".into()),
            (
                "greeting",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("config/prompts/greeting.wav")
                    .display()
                    .to_string(),
            ),
        ],
    );
    let path = dir.join("hotline.toml");
    std::fs::write(&path, config).unwrap();
    for args in [
        vec!["check-config".to_string(), path.display().to_string()],
        vec![
            "serve".into(),
            "--config".into(),
            path.display().to_string(),
        ],
    ] {
        let out = Command::new(Hotline::binary())
            .args(&args)
            .env("HOTLINE_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?} accepted it:\n{text}");
        assert!(
            text.contains("sip.tls") && text.contains(want),
            "{args:?}: {text}"
        );
        assert!(!text.contains("hotline: ready"), "{text}");
    }
    // nothing listens on the TLS port
    assert!(std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err());
}

#[test]
fn an_expired_garbage_or_mismatched_certificate_stops_serve_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    pki.issue(2020, 2021);
    refused(&pki, dir.path(), "expired");
    pki.issue(2024, 2040);
    let key = std::fs::read(pki.dir.join("key.pem")).unwrap();
    pki.issue(2024, 2040); // the certificate of another key
    std::fs::write(pki.dir.join("key.pem"), key).unwrap();
    refused(&pki, dir.path(), "does not match");
    std::fs::write(
        pki.dir.join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\n%%%\n",
    )
    .unwrap();
    refused(&pki, dir.path(), "cert.pem");
    std::fs::remove_file(pki.dir.join("key.pem")).unwrap();
    pki.issue(2024, 2040);
    std::fs::remove_file(pki.dir.join("key.pem")).unwrap();
    refused(&pki, dir.path(), "key.pem");
}
