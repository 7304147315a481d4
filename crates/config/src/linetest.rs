//! `[line_test]`: the twice-daily line self-test, and `[notify]`: where
//! alarms and reports go (the channels' keys are checked by
//! `hotline-notify`).

use crate::config::{invalid, Config, ConfigError};
use hotline_core::Calendar;
use hotline_engine::linetest::LineTestConfig;
use serde::Deserialize;

/// `[line_test]`: at each of `times` (the center's time zone) the engine
/// calls `number` through `trunk` with `caller_id`; the hotline answers that
/// caller id with test tones, so the test checks the answer within the rings
/// and audio both ways; also OPTIONS to the trunk and each agent phone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineTestSection {
    /// Test the line at `times` at all.
    pub enabled: bool,
    /// `HH:MM` local times (the regulations: morning and middle shift).
    pub times: Vec<String>,
    /// The `[[trunks]]` entry the test call goes through (unset: the first;
    /// none configured: every test fails with `no trunk configured`).
    pub trunk: Option<String>,
    /// The number called (unset: the first `hotline.numbers`).
    pub number: Option<String>,
    /// The caller id of the test call, as it reaches the hotline (unset:
    /// the first `hotline.numbers`: the carrier shows our own number).
    pub caller_id: Option<String>,
    /// Minutes after a slot within which a late test still runs; later it
    /// is reported `line_test_missing`.
    pub grace_min: u32,
    /// Also send OPTIONS to every registered agent phone.
    pub check_phones: bool,
    /// Seconds the tone exchange may take after the answer.
    pub listen_s: u32,
}

impl Default for LineTestSection {
    fn default() -> Self {
        LineTestSection {
            enabled: true,
            times: vec!["08:30".into(), "13:30".into()],
            trunk: None,
            number: None,
            caller_id: None,
            grace_min: 30,
            check_phones: true,
            listen_s: 8,
        }
    }
}

fn token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_.*#".contains(&b))
}

impl Config {
    /// Checks `[line_test]` and `[notify]`.
    pub fn validate_line_test(&self) -> Result<(), ConfigError> {
        self.notify
            .validate()
            .map_err(|e| invalid(e.key, e.message))?;
        let l = &self.line_test;
        if !l.enabled {
            return Ok(());
        }
        if l.times.is_empty() || l.times.len() > 24 {
            return Err(invalid("line_test.times", "1 to 24 times HH:MM"));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &l.times {
            let Some(m) = hotline_notify::config::parse_hh_mm(t) else {
                let shown: String = t.chars().take(20).collect();
                return Err(invalid(
                    "line_test.times",
                    format!("`{shown}` is not a time HH:MM (00:00-23:59)"),
                ));
            };
            if !seen.insert(m) {
                return Err(invalid("line_test.times", format!("{t} is listed twice")));
            }
        }
        if let Some(t) = &l.trunk {
            if !self.trunks.iter().any(|x| &x.name == t) {
                return Err(invalid(
                    "line_test.trunk",
                    format!(
                        "no [[trunks]] entry is named `{}`",
                        t.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
        for (key, v) in [
            ("line_test.number", &l.number),
            ("line_test.caller_id", &l.caller_id),
        ] {
            if let Some(v) = v {
                if !token(v) {
                    return Err(invalid(
                        key,
                        "1-32 characters among letters, digits and + - _ . * #",
                    ));
                }
            }
        }
        if !(1..=720).contains(&l.grace_min) {
            return Err(invalid("line_test.grace_min", "1 to 720 minutes"));
        }
        if !(1..=60).contains(&l.listen_s) {
            return Err(invalid("line_test.listen_s", "1 to 60 seconds"));
        }
        Ok(())
    }

    /// The engine's line test settings (None: off).
    pub fn line_test_config(
        &self,
        calendar: Calendar,
    ) -> Result<Option<LineTestConfig>, ConfigError> {
        let l = &self.line_test;
        if !l.enabled {
            return Ok(None);
        }
        let first = self
            .hotline
            .numbers
            .first()
            .cloned()
            .unwrap_or_else(|| "hotline".into());
        let slots = l
            .times
            .iter()
            .filter_map(|t| Some((t.clone(), hotline_notify::config::parse_hh_mm(t)?)))
            .collect();
        Ok(Some(LineTestConfig {
            slots,
            grace_ms: i64::from(l.grace_min) * 60_000,
            calendar,
            shifts: crate::config::schedule::shifts(&self.shifts)?,
            trunk: l
                .trunk
                .clone()
                .or_else(|| self.trunks.first().map(|t| t.name.clone())),
            number: l.number.clone().unwrap_or_else(|| first.clone()),
            caller_id: l.caller_id.clone().unwrap_or(first),
            check_phones: l.check_phones,
            listen_ms: i64::from(l.listen_s) * 1000,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn check(extra: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(extra).map_err(|e| e.to_string())?;
        c.validate_line_test().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_test_twice_a_day_and_bad_keys_are_named() {
        let c = check("").unwrap();
        let l = c
            .line_test_config(hotline_core::Calendar::utc())
            .unwrap()
            .unwrap();
        assert_eq!(l.slots, vec![("08:30".into(), 510), ("13:30".into(), 810)]);
        assert_eq!(l.trunk, None, "no trunk shipped: the test reports it");
        assert!(check("[line_test]\nenabled = false")
            .unwrap()
            .line_test_config(hotline_core::Calendar::utc())
            .unwrap()
            .is_none());
        for (toml, key) in [
            ("[line_test]\ntimes = []", "line_test.times"),
            ("[line_test]\ntimes = [\"8:30\"]", "line_test.times"),
            (
                "[line_test]\ntimes = [\"08:30\", \"08:30\"]",
                "line_test.times",
            ),
            ("[line_test]\ntimes = [\"24:00\"]", "line_test.times"),
            ("[line_test]\ntrunk = \"nope\"", "line_test.trunk"),
            ("[line_test]\nnumber = \"40 00\"", "line_test.number"),
            (
                "[line_test]\ncaller_id = \"<script>\"",
                "line_test.caller_id",
            ),
            ("[line_test]\ngrace_min = 0", "line_test.grace_min"),
            ("[line_test]\nlisten_s = 1000", "line_test.listen_s"),
            (
                "[[notify.email]]\nhost = \"h\"\nfrom = \"a@b.cn\"\nto = []",
                "notify.email[0].to",
            ),
            (
                "[[notify.webhook]]\nurl = \"gopher://x\"",
                "notify.webhook[0].url",
            ),
            (
                "[[notify.webhook]]\nurl = \"http://x/\"\nevents = [\"nope\"]",
                "notify.webhook[0].events",
            ),
        ] {
            let e = check(toml).unwrap_err();
            assert!(e.contains(key), "{toml}: {e}");
        }
        let huge = format!("[line_test]\ntimes = [{}]", vec!["\"08:00\""; 30].join(","));
        assert!(check(&huge).unwrap_err().contains("line_test.times"));
        let e = check("[line_test]\nwhen = 1").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
