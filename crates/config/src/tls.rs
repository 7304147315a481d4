//! `[sip.tls]`: SIP over TLS for agents' phones (port 5061 by default).
//!
//! Off unless `enabled = true`; then `cert` and `key` are required and are
//! loaded and checked by [`settings`] — `serve` and `check-config` refuse an
//! unreadable, garbage, expired or mismatched certificate/key with the file
//! named, and never fall back to plaintext.

use crate::config::{invalid, ConfigError, SipSection};
use hotline_sip::tls::{TlsSettings, DEFAULT_TLS_PORT};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[sip.tls]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// Listen for SIP over TLS.
    pub enabled: bool,
    /// Listen address; default `sip.listen`'s IP on port 5061.
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain (server certificate first).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// PEM CA certificates: phones must present a client certificate
    /// signed by one of them (mutual TLS); unset = no client certificate.
    pub client_ca: Option<PathBuf>,
    /// Seconds between looks at the files for a change (then reloaded);
    /// SIGHUP reloads at once.
    pub reload_check_s: Option<u32>,
}

/// Default seconds between looks at the certificate files.
const RELOAD_CHECK_S: u32 = 5;

/// Checks the keys that need no file (the files are read by [`settings`]).
pub fn validate(sip: &SipSection) -> Result<(), ConfigError> {
    let t = &sip.tls;
    if let Some(s) = t.reload_check_s {
        if !(1..=3600).contains(&s) {
            return Err(invalid(
                "sip.tls.reload_check_s",
                "must be 1 to 3600 seconds",
            ));
        }
    }
    if !t.enabled {
        return Ok(());
    }
    for (key, v) in [("sip.tls.cert", &t.cert), ("sip.tls.key", &t.key)] {
        match v {
            None => {
                return Err(invalid(
                    key,
                    "required when sip.tls.enabled = true (a PEM file)",
                ))
            }
            Some(p) if p.as_os_str().is_empty() => return Err(invalid(key, "must not be empty")),
            Some(_) => {}
        }
    }
    let listen = listen(sip);
    if listen.port() != 0 && listen.port() == sip.listen.port() && listen.ip() == sip.listen.ip() {
        return Err(invalid(
            "sip.tls.listen",
            format!("{listen} is sip.listen's address (UDP and TCP); give TLS its own port (5061)"),
        ));
    }
    Ok(())
}

/// The TLS listen address: `sip.tls.listen`, else `sip.listen`'s IP on 5061.
fn listen(sip: &SipSection) -> SocketAddr {
    sip.tls
        .listen
        .unwrap_or_else(|| SocketAddr::new(sip.listen.ip(), DEFAULT_TLS_PORT))
}

/// The SIP server's TLS settings, with the certificate, key and client CA
/// read and checked at `now_ms`; None when TLS is off.
pub fn settings(sip: &SipSection, now_ms: i64) -> anyhow::Result<Option<(TlsSettings, Duration)>> {
    validate(sip)?;
    let t = &sip.tls;
    let (true, Some(cert), Some(key)) = (t.enabled, &t.cert, &t.key) else {
        return Ok(None);
    };
    let settings = TlsSettings {
        listen: listen(sip),
        cert: cert.clone(),
        key: key.clone(),
        client_ca: t.client_ca.clone(),
    };
    hotline_sip::tls::load_identity(&settings, now_ms)
        .map_err(|e| anyhow::anyhow!("sip.tls: {e}"))?;
    let every = Duration::from_secs(u64::from(t.reload_check_s.unwrap_or(RELOAD_CHECK_S)));
    Ok(Some((settings, every)))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const NOW: i64 = 1_796_000_000_000;

    fn sip(toml: &str) -> Result<super::SipSection, String> {
        Config::parse(toml)
            .map(|c| c.sip)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_errors_name_the_key() {
        let s = sip("").unwrap();
        assert!(super::settings(&s, NOW).unwrap().is_none());
        for (toml, key) in [
            ("[sip.tls]\nenabled = true", "sip.tls.cert"),
            ("[sip.tls]\nenabled = true\ncert = \"c.pem\"", "sip.tls.key"),
            ("[sip.tls]\nenabled = true\ncert = \"\"\nkey = \"k\"", "sip.tls.cert"),
            ("[sip.tls]\nreload_check_s = 0", "sip.tls.reload_check_s"),
            ("[sip.tls]\nreload_check_s = 99999", "sip.tls.reload_check_s"),
            ("[sip.tls]\nreload_check_s = -1", "reload_check_s"),
            ("[sip.tls]\nenabled = \"yes\"", "enabled"),
            ("[sip.tls]\nlisten = \"nonsense\"", "listen"),
            ("[sip.tls]\ncertificate = \"c.pem\"", "certificate"),
            (
                "[sip]\nlisten = \"127.0.0.1:5060\"\n[sip.tls]\nenabled = true\ncert = \"c\"\nkey = \"k\"\nlisten = \"127.0.0.1:5060\"",
                "sip.tls.listen",
            ),
            (
                "[sip.tls]\nenabled = true\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"",
                "/nonexistent/c.pem",
            ),
        ] {
            let err = match sip(toml) {
                Err(e) => e,
                Ok(s) => match super::settings(&s, NOW) {
                    Err(e) => e.to_string(),
                    Ok(_) => panic!("accepted: {toml}"),
                },
            };
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn the_default_port_is_5061_on_the_sip_address() {
        let s = sip("[sip]\nlisten = \"10.1.2.3:5060\"\n[sip.tls]\nenabled = true\ncert = \"c\"\nkey = \"k\"").unwrap();
        assert_eq!(super::listen(&s), "10.1.2.3:5061".parse().unwrap());
        assert!(super::validate(&s).is_ok());
        // hostile paths are only file names: a clear read error, no panic
        let long = "x".repeat(100_000);
        let s = sip(&format!(
            "[sip.tls]\nenabled = true\ncert = \"{long}\"\nkey = \"\\u0000\""
        ))
        .unwrap();
        assert!(super::settings(&s, NOW).is_err());
    }
}
