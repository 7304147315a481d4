//! `[monitor]`: live monitoring (issue 17) — which phones are supervisors'
//! and the desk-phone codes they dial to listen, whisper or barge in.

use crate::config::{invalid, Config, ConfigError};
use hotline_engine::monitor::MonitorConfig;
use serde::Deserialize;

/// `[monitor]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSection {
    /// SIP accounts (`[[agents]]` ids) of supervisors' phones.
    pub supervisors: Vec<String>,
    /// Listen code; the agent's number follows (`*701001`).
    pub listen_code: String,
    /// Whisper code.
    pub whisper_code: String,
    /// Barge code.
    pub barge_code: String,
    /// Beep to the agent when a supervisor joins.
    pub beep: bool,
}

impl Default for MonitorSection {
    fn default() -> Self {
        let d = MonitorConfig::default();
        MonitorSection {
            supervisors: d.supervisors,
            listen_code: d.listen_code,
            whisper_code: d.whisper_code,
            barge_code: d.barge_code,
            beep: d.beep,
        }
    }
}

impl Config {
    /// The engine's monitoring settings.
    pub fn monitor_config(&self) -> MonitorConfig {
        let m = &self.monitor;
        MonitorConfig {
            supervisors: m.supervisors.clone(),
            listen_code: m.listen_code.clone(),
            whisper_code: m.whisper_code.clone(),
            barge_code: m.barge_code.clone(),
            beep: m.beep,
        }
    }

    /// Checks `[monitor]`: supervisors are configured agents (each once),
    /// codes are `*` and 1–7 digits, distinct, and neither a prefix of an
    /// agent code nor one of them a prefix of a monitor code.
    pub fn validate_monitor(&self) -> Result<(), ConfigError> {
        let m = &self.monitor;
        if m.supervisors.len() > 1000 {
            return Err(invalid("monitor.supervisors", "at most 1000 phones"));
        }
        for (i, s) in m.supervisors.iter().enumerate() {
            if !self.agents.iter().any(|a| &a.id == s) {
                return Err(invalid(
                    "monitor.supervisors",
                    format!(
                        "`{}` is not an [[agents]] id (a supervisor's phone registers as one)",
                        s.chars().take(40).collect::<String>()
                    ),
                ));
            }
            if m.supervisors[..i].contains(s) {
                return Err(invalid(
                    "monitor.supervisors",
                    format!("`{s}` is listed twice"),
                ));
            }
        }
        let codes = [
            ("monitor.listen_code", &m.listen_code),
            ("monitor.whisper_code", &m.whisper_code),
            ("monitor.barge_code", &m.barge_code),
        ];
        let a = &self.agent_codes;
        let agent_codes = [&a.login, &a.logout, &a.pause, &a.unpause];
        for (i, (key, code)) in codes.iter().enumerate() {
            let ok = code.len() >= 2
                && code.len() <= 8
                && code.starts_with('*')
                && code[1..].chars().all(|c| c.is_ascii_digit());
            if !ok {
                let shown: String = code.chars().take(20).collect();
                return Err(invalid(*key, format!("`{shown}` must be * and 1-7 digits")));
            }
            if codes[..i].iter().any(|(_, c)| c == code) {
                return Err(invalid(*key, format!("`{code}` is used twice")));
            }
            if let Some(clash) = agent_codes
                .iter()
                .find(|c| c.starts_with(code.as_str()) || code.starts_with(c.as_str()))
            {
                return Err(invalid(
                    *key,
                    format!("`{code}` clashes with the agent code `{clash}` (one is a prefix of the other)"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[[agents]]\nid = \"1001\"\npassword = \"secret1\"\n[[agents]]\nid = \"1004\"\npassword = \"secret4\"\n{extra}"
        );
        let c = Config::parse(&text)?;
        c.validate_monitor()?;
        Ok(c)
    }

    #[test]
    fn defaults_and_a_supervisor() {
        let c = parse("").unwrap();
        assert_eq!(c.monitor_config(), MonitorConfig::default());
        let c = parse("[monitor]\nsupervisors = [\"1004\"]\nbeep = true\nwhisper_code = \"*79\"")
            .unwrap();
        let m = c.monitor_config();
        assert!(m.is_supervisor("1004") && m.beep);
        assert_eq!(m.whisper_code, "*79");
    }

    #[test]
    fn bad_values_name_their_key() {
        let long = format!(
            "[monitor]\nsupervisors = [{}]",
            vec!["\"1004\""; 1001].join(",")
        );
        for (extra, key) in [
            ("[monitor]\nsupervisors = [\"9999\"]", "monitor.supervisors"),
            (
                "[monitor]\nsupervisors = [\"1004\", \"1004\"]",
                "monitor.supervisors",
            ),
            (long.as_str(), "monitor.supervisors"),
            ("[monitor]\nlisten_code = \"70\"", "monitor.listen_code"),
            ("[monitor]\nlisten_code = \"*\"", "monitor.listen_code"),
            ("[monitor]\nwhisper_code = \"*7a\"", "monitor.whisper_code"),
            (
                "[monitor]\nbarge_code = \"*123456789\"",
                "monitor.barge_code",
            ),
            ("[monitor]\nbarge_code = \"*70\"", "monitor.barge_code"),
            ("[monitor]\nlisten_code = \"*6\"", "monitor.listen_code"),
            ("[monitor]\nlisten_code = \"*611\"", "monitor.listen_code"),
            (
                "[monitor]\nbarge_code = \"*72\\u0000\"",
                "monitor.barge_code",
            ),
        ] {
            let err = parse(extra).expect_err(extra).to_string();
            assert!(err.contains(key), "`{extra}` gave `{err}`");
            assert!(err.len() < 300, "{err}");
        }
        for extra in [
            "[monitor]\nbeep = \"yes\"",
            "[monitor]\nsupervisors = \"1004\"",
            "[monitor]\nspy_code = \"*73\"",
        ] {
            assert!(parse(extra).is_err(), "{extra}");
        }
    }
}
