//! `[cases]`: complaint cases under first-contact ownership — reply
//! deadlines per severity, the warning before them, the call-note
//! categories and how long a returning caller waits for their case's owner.

use serde::Deserialize;

use crate::config::{invalid, ConfigError};

/// `[cases]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasesSection {
    /// Hours to reply to a general complaint (1–720).
    pub general_reply_h: u32,
    /// Hours to reply to a major complaint (1–720).
    pub major_reply_h: u32,
    /// Hours to reply to a crisis (1–720).
    pub crisis_reply_h: u32,
    /// Minutes before the deadline the owner is warned (0 = no warning).
    pub warn_before_min: u32,
    /// The call-note categories (1–50 names, 1–64 bytes each, no duplicates).
    pub note_categories: Vec<String>,
    /// Seconds a caller with an open case waits for its owner (logged in
    /// and free) before anyone may take the call (0 = do not route by
    /// ownership; at most 300).
    pub owner_wait_s: u32,
    /// Major and crisis complaints are escalated to this role or person at
    /// once (empty = not automatically).
    pub escalate_serious_to: String,
}

impl Default for CasesSection {
    fn default() -> Self {
        CasesSection {
            general_reply_h: 24,
            major_reply_h: 24,
            crisis_reply_h: 24,
            warn_before_min: 120,
            note_categories: hotline_cases::DEFAULT_CATEGORIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            owner_wait_s: 20,
            escalate_serious_to: "management".into(),
        }
    }
}

impl CasesSection {
    /// Checks the values, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, h) in [
            ("cases.general_reply_h", self.general_reply_h),
            ("cases.major_reply_h", self.major_reply_h),
            ("cases.crisis_reply_h", self.crisis_reply_h),
        ] {
            if !(1..=720).contains(&h) {
                return Err(invalid(key, "1 to 720 hours"));
            }
        }
        let shortest = self
            .general_reply_h
            .min(self.major_reply_h)
            .min(self.crisis_reply_h);
        if u64::from(self.warn_before_min) >= u64::from(shortest) * 60 {
            return Err(invalid(
                "cases.warn_before_min",
                "the warning must come before the shortest reply deadline",
            ));
        }
        let cats = &self.note_categories;
        if cats.is_empty() || cats.len() > 50 {
            return Err(invalid("cases.note_categories", "1 to 50 categories"));
        }
        for (i, c) in cats.iter().enumerate() {
            if c.trim() != c || c.is_empty() || c.len() > 64 || c.chars().any(char::is_control) {
                return Err(invalid(
                    "cases.note_categories",
                    "each 1-64 bytes, no control characters or surrounding spaces",
                ));
            }
            if cats[..i].contains(c) {
                return Err(invalid(
                    "cases.note_categories",
                    format!("`{c}` is listed twice"),
                ));
            }
        }
        let e = &self.escalate_serious_to;
        if e.trim() != e || e.len() > 128 || e.chars().any(char::is_control) {
            return Err(invalid(
                "cases.escalate_serious_to",
                "a role or person: at most 128 bytes, no control characters or surrounding spaces",
            ));
        }
        if self.owner_wait_s > 300 {
            return Err(invalid("cases.owner_wait_s", "0 to 300 seconds"));
        }
        Ok(())
    }

    /// The deadline policy.
    pub fn policy(&self) -> hotline_cases::DeadlinePolicy {
        let h = |n: u32| i64::from(n) * hotline_cases::HOUR_MS;
        hotline_cases::DeadlinePolicy {
            general_ms: h(self.general_reply_h),
            major_ms: h(self.major_reply_h),
            crisis_ms: h(self.crisis_reply_h),
            warn_before_ms: i64::from(self.warn_before_min) * 60_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_parse_and_bad_values_name_the_key() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.cases.policy(), hotline_cases::DeadlinePolicy::default());
        assert!(c.cases.note_categories.contains(&"complaint".to_string()));
        let c = Config::parse("[cases]\ncrisis_reply_h = 4\nwarn_before_min = 60").unwrap();
        assert_eq!(c.cases.policy().crisis_ms, 4 * hotline_cases::HOUR_MS);
        for (text, key) in [
            ("[cases]\ngeneral_reply_h = 0", "cases.general_reply_h"),
            ("[cases]\nmajor_reply_h = 100000", "cases.major_reply_h"),
            ("[cases]\ncrisis_reply_h = 2", "cases.warn_before_min"),
            ("[cases]\nnote_categories = []", "cases.note_categories"),
            (
                "[cases]\nnote_categories = [\"a\", \"a\"]",
                "cases.note_categories",
            ),
            (
                "[cases]\nnote_categories = [\" a\"]",
                "cases.note_categories",
            ),
            (
                "[cases]\nnote_categories = [\"a\\u0000\"]",
                "cases.note_categories",
            ),
            ("[cases]\nowner_wait_s = 301", "cases.owner_wait_s"),
            (
                "[cases]\nescalate_serious_to = \" boss\"",
                "cases.escalate_serious_to",
            ),
            (
                "[cases]\nescalate_serious_to = \"a\\nb\"",
                "cases.escalate_serious_to",
            ),
            ("[cases]\nowner_wait_s = -1", "owner_wait_s"),
            ("[cases]\nrefund = true", "refund"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "`{text}` gave `{err}`");
        }
        let long = format!(
            "[cases]\nnote_categories = [{}]",
            vec!["\"x\""; 51].join(",")
        );
        assert!(Config::parse(&long).is_err());
    }
}
