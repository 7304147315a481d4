//! SDES-SRTP policy: `[media] srtp` (callers, and agents without their
//! own), `[[agents]] srtp`, and `[media] srtp_allow_without_tls`.
//!
//! SDES keys travel inside the SDP, so anyone who reads the signalling
//! reads the keys: `required` is refused at start unless SIP over TLS is on
//! (`[sip.tls] enabled = true`) or `srtp_allow_without_tls = true` says the
//! signalling path is trusted anyway.

use crate::config::{invalid, Config, ConfigError};
use hotline_core::AgentId;
use hotline_engine::SrtpSettings;
use hotline_media::srtp::SrtpPolicy;

fn policy(key: &str, value: &str) -> Result<SrtpPolicy, ConfigError> {
    value.parse().map_err(|e: String| invalid(key, e))
}

/// Checks every SRTP key (values, and `required` without TLS).
pub fn validate(cfg: &Config) -> Result<(), ConfigError> {
    engine_settings(cfg).map(|_| ())
}

/// The engine's SRTP settings from the file.
pub fn engine_settings(cfg: &Config) -> Result<SrtpSettings, ConfigError> {
    let default = policy("media.srtp", &cfg.media.srtp)?;
    let allow = cfg.media.srtp_allow_without_tls;
    let tls = cfg.sip.tls.enabled;
    let check = |key: &str, p: SrtpPolicy| {
        if p == SrtpPolicy::Required && !tls && !allow {
            return Err(invalid(
                key,
                "\"required\" needs SIP over TLS: SDES keys travel in the SDP and are readable \
                 over plain UDP/TCP; enable [sip.tls] (phones register over TLS) or set \
                 media.srtp_allow_without_tls = true on a trusted network",
            ));
        }
        Ok(())
    };
    check("media.srtp", default)?;
    let mut agents = std::collections::HashMap::new();
    for (i, a) in cfg.agents.iter().enumerate() {
        if let Some(v) = &a.srtp {
            let key = format!("agents[{i}].srtp");
            let p = policy(&key, v)?;
            check(&key, p)?;
            agents.insert(AgentId::new(a.id.clone()), p);
        }
    }
    Ok(SrtpSettings {
        default,
        agents,
        allow_without_tls: allow,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(media: &str, agent: &str, tls: bool) -> Result<Config, String> {
        let mut text = format!(
            "[media]\n{media}\n[[agents]]\nid = \"1001\"\npassword = \"secret\"\n{agent}\n"
        );
        if tls {
            text.push_str("[sip.tls]\nenabled = true\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
        }
        Config::parse(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn policies_parse_and_required_needs_tls_or_the_switch() {
        use hotline_media::srtp::SrtpPolicy::*;
        let cfg = load("", "", false).unwrap();
        let s = super::engine_settings(&cfg).unwrap();
        assert_eq!(s.default, Optional, "the default");
        assert!(!s.allow_without_tls);
        let cfg = load("srtp = \"off\"", "srtp = \"required\"", true).unwrap();
        let s = super::engine_settings(&cfg).unwrap();
        assert_eq!(s.default, Off);
        assert_eq!(s.for_agent(&hotline_core::AgentId::new("1001")), Required);
        assert_eq!(s.for_agent(&hotline_core::AgentId::new("1002")), Off);
        // required without TLS: refused, naming the key
        let e = load("", "srtp = \"required\"", false).unwrap_err();
        assert!(
            e.contains("agents[0].srtp") && e.contains("srtp_allow_without_tls"),
            "{e}"
        );
        let e = load("srtp = \"required\"", "", false).unwrap_err();
        assert!(e.contains("media.srtp") && e.contains("TLS"), "{e}");
        // unless allowed
        let cfg = load(
            "srtp = \"required\"\nsrtp_allow_without_tls = true",
            "",
            false,
        )
        .unwrap();
        assert!(super::engine_settings(&cfg).unwrap().allow_without_tls);
    }

    #[test]
    fn hostile_values_are_refused_with_the_key_named() {
        let long = "x".repeat(100_000);
        for (media, agent, key) in [
            ("srtp = \"on\"", "", "media.srtp"),
            ("srtp = \"\"", "", "media.srtp"),
            ("srtp = \"REQUIRED\"", "", "media.srtp"),
            ("", "srtp = \"yes\"", "agents[0].srtp"),
            ("", &format!("srtp = \"{long}\""), "agents[0].srtp"),
            ("", "srtp = \"optional\\u0000\"", "agents[0].srtp"),
        ] {
            let e = load(media, agent, true).unwrap_err();
            assert!(e.contains(key) && e.len() < 400, "{media} {agent}: {e}");
        }
        // wrong types are refused by the parser
        assert!(load("srtp = 1", "", true).is_err());
        assert!(load("srtp_allow_without_tls = \"yes\"", "", true).is_err());
        assert!(load("", "srtp = [\"required\"]", true).is_err());
    }
}
