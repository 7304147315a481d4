//! `[sip.lockout]`: the password guessing defence of the SIP registrar
//! (issue 19) — failed digest answers per source address and per user name
//! that ban the source (its datagrams dropped unanswered) or lock the name
//! (answered 403), doubling ban lengths, trusted networks (none by default:
//! loopback is not exempt, so the shipped file is safe to expose) and the
//! User-Agents of SIP scanners dropped unanswered.

use crate::config::{invalid, Config, ConfigError};
use hotline_sip::lockout::{IpNet, LockoutConfig, SCANNER_USER_AGENTS};
use serde::Deserialize;

/// Most failures a threshold may be.
pub const MAX_FAILURES: u32 = 10_000;
/// Longest window, ban or memory of a good source: 30 days, seconds.
pub const MAX_SECONDS: u32 = 30 * 86_400;
/// Most trusted networks and scanner patterns (each).
pub const MAX_ENTRIES: usize = 1_000;
/// Longest scanner pattern, characters.
pub const MAX_PATTERN: usize = 64;

/// `[sip.lockout]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutSection {
    /// Failed digest answers from one source address within `window_s` that
    /// ban the source; 0 = never ban sources.
    pub source_failures: u32,
    /// Failed digest answers for one user name (from any source) within
    /// `window_s` that lock the name; 0 = never lock names.
    pub user_failures: u32,
    /// The sliding window failures are counted in, seconds.
    pub window_s: u32,
    /// The first ban or lock, seconds; each repeat doubles it.
    pub ban_s: u32,
    /// The longest ban or lock, seconds; after a quiet period this long the
    /// doubling starts over.
    pub max_ban_s: u32,
    /// How long a source that proved a user's password keeps registering
    /// through that user's lock, seconds.
    pub remember_good_s: u32,
    /// Networks never counted nor banned (`"10.0.0.0/8"`, `"2001:db8::/32"`,
    /// one address); none by default, loopback included.
    pub trusted: Vec<String>,
    /// Requests whose User-Agent contains one of these (ignoring case) are
    /// dropped unanswered; `[]` drops none.
    pub scanner_user_agents: Vec<String>,
    /// Most source addresses, user names and proven (user, source) pairs
    /// tracked (each).
    pub max_tracked: usize,
}

impl Default for LockoutSection {
    fn default() -> Self {
        let d = LockoutConfig::default();
        LockoutSection {
            source_failures: d.source_failures,
            user_failures: d.user_failures,
            window_s: secs(d.window_ms),
            ban_s: secs(d.ban_ms),
            max_ban_s: secs(d.max_ban_ms),
            remember_good_s: secs(d.remember_good_ms),
            trusted: Vec::new(),
            scanner_user_agents: SCANNER_USER_AGENTS.iter().map(|s| s.to_string()).collect(),
            max_tracked: d.max_tracked,
        }
    }
}

fn secs(ms: i64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

const KEY: &str = "sip.lockout";

impl LockoutSection {
    /// The SIP server's lockout settings, every value checked (errors name
    /// the key, e.g. `sip.lockout.trusted[1]`).
    pub fn build(&self) -> Result<LockoutConfig, ConfigError> {
        for (key, v) in [
            ("source_failures", self.source_failures),
            ("user_failures", self.user_failures),
        ] {
            if v > MAX_FAILURES {
                return Err(invalid(
                    format!("{KEY}.{key}"),
                    format!("at most {MAX_FAILURES} failures (0 = off), got {v}"),
                ));
            }
        }
        for (key, v) in [
            ("window_s", self.window_s),
            ("ban_s", self.ban_s),
            ("max_ban_s", self.max_ban_s),
        ] {
            if !(1..=MAX_SECONDS).contains(&v) {
                return Err(invalid(
                    format!("{KEY}.{key}"),
                    format!("between 1 and {MAX_SECONDS} seconds (30 days), got {v}"),
                ));
            }
        }
        if self.max_ban_s < self.ban_s {
            return Err(invalid(
                format!("{KEY}.max_ban_s"),
                format!(
                    "the longest ban ({} s) is shorter than the first (ban_s = {} s)",
                    self.max_ban_s, self.ban_s
                ),
            ));
        }
        if self.remember_good_s > MAX_SECONDS {
            return Err(invalid(
                format!("{KEY}.remember_good_s"),
                format!(
                    "at most {MAX_SECONDS} seconds (30 days), got {}",
                    self.remember_good_s
                ),
            ));
        }
        if !(100..=10_000_000).contains(&self.max_tracked) {
            return Err(invalid(
                format!("{KEY}.max_tracked"),
                format!("between 100 and 10000000, got {}", self.max_tracked),
            ));
        }
        if self.trusted.len() > MAX_ENTRIES {
            return Err(invalid(
                format!("{KEY}.trusted"),
                format!("at most {MAX_ENTRIES} networks"),
            ));
        }
        let mut trusted = Vec::with_capacity(self.trusted.len());
        for (i, t) in self.trusted.iter().enumerate() {
            let shown: String = t.chars().take(60).flat_map(char::escape_debug).collect();
            if t.len() > 64 {
                return Err(invalid(
                    format!("{KEY}.trusted[{i}]"),
                    format!("`{shown}...` is {} bytes long: not a network", t.len()),
                ));
            }
            let net: IpNet = t.parse().map_err(|e| {
                invalid(
                    format!("{KEY}.trusted[{i}]"),
                    format!(
                        "`{shown}`: {e}; write a network such as \"10.0.0.0/8\" or one address"
                    ),
                )
            })?;
            trusted.push(net);
        }
        if self.scanner_user_agents.len() > MAX_ENTRIES {
            return Err(invalid(
                format!("{KEY}.scanner_user_agents"),
                format!("at most {MAX_ENTRIES} patterns"),
            ));
        }
        for (i, p) in self.scanner_user_agents.iter().enumerate() {
            let ok = !p.trim().is_empty()
                && p.chars().count() <= MAX_PATTERN
                && !p.chars().any(char::is_control);
            if !ok {
                let shown: String = p.chars().take(40).flat_map(char::escape_debug).collect();
                return Err(invalid(
                    format!("{KEY}.scanner_user_agents[{i}]"),
                    format!("`{shown}`: 1 to {MAX_PATTERN} printable characters (a part of the User-Agent); use [] to drop no scanner"),
                ));
            }
        }
        let ms = |s: u32| i64::from(s) * 1000;
        Ok(LockoutConfig {
            source_failures: self.source_failures,
            user_failures: self.user_failures,
            window_ms: ms(self.window_s),
            ban_ms: ms(self.ban_s),
            max_ban_ms: ms(self.max_ban_s),
            remember_good_ms: ms(self.remember_good_s),
            trusted,
            max_tracked: self.max_tracked,
            scanner_user_agents: self.scanner_user_agents.clone(),
        })
    }
}

impl Config {
    /// The SIP server's password guessing defence (`[sip.lockout]`).
    pub fn sip_lockout(&self) -> Result<LockoutConfig, ConfigError> {
        self.sip.lockout.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout(text: &str) -> Result<LockoutConfig, ConfigError> {
        Config::parse(&format!("[sip.lockout]\n{text}"))?.sip_lockout()
    }

    fn err(text: &str) -> String {
        match lockout(text) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("`{text}` was accepted: {c:?}"),
        }
    }

    #[test]
    fn the_defaults_ban_guessers_trust_nobody_and_drop_scanners() {
        let c = Config::parse("").and_then(|c| c.sip_lockout()).unwrap();
        let d = LockoutConfig::default();
        assert_eq!(c.source_failures, d.source_failures);
        assert_eq!(c.user_failures, d.user_failures);
        assert_eq!(c.window_ms, d.window_ms);
        assert_eq!(c.ban_ms, d.ban_ms);
        assert_eq!(c.max_ban_ms, d.max_ban_ms);
        assert!(c.trusted.is_empty(), "loopback is not exempt by default");
        assert!(c
            .scanner_user_agents
            .iter()
            .any(|s| s == "friendly-scanner"));
    }

    #[test]
    fn every_key_is_read() {
        let c = lockout(
            "source_failures = 4\nuser_failures = 0\nwindow_s = 30\nban_s = 2\nmax_ban_s = 8\n\
             remember_good_s = 0\ntrusted = [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"]\n\
             scanner_user_agents = []\nmax_tracked = 500",
        )
        .unwrap();
        assert_eq!(
            (
                c.source_failures,
                c.user_failures,
                c.window_ms,
                c.ban_ms,
                c.max_ban_ms
            ),
            (4, 0, 30_000, 2_000, 8_000)
        );
        assert_eq!(c.remember_good_ms, 0);
        assert_eq!(c.max_tracked, 500);
        assert!(c.scanner_user_agents.is_empty());
        let ips: Vec<String> = c.trusted.iter().map(|n| n.to_string()).collect();
        assert_eq!(ips, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
        assert!(c.trusted[0].contains("10.1.2.3".parse().unwrap()));
        assert!(!c.trusted[0].contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn malformed_networks_name_their_entry() {
        for (net, shows) in [
            ("10.0.0.0/33", "sip.lockout.trusted[1]"),
            ("10.0.0/8", "sip.lockout.trusted[1]"),
            ("localhost", "sip.lockout.trusted[1]"),
            ("", "sip.lockout.trusted[1]"),
            ("::1/129", "sip.lockout.trusted[1]"),
            ("10.0.0.0/-1", "sip.lockout.trusted[1]"),
            ("10.0.0.0/8/8", "sip.lockout.trusted[1]"),
            ("1.2.3.4 /32", "sip.lockout.trusted[1]"),
        ] {
            let e = err(&format!("trusted = [\"127.0.0.1\", \"{net}\"]"));
            assert!(e.contains(shows), "{net}: {e}");
        }
        let e = err(&format!("trusted = [\"{}\"]", "9".repeat(10_000)));
        assert!(e.len() < 300, "an oversized entry is not echoed whole: {e}");
        let many = vec!["\"10.0.0.1\""; MAX_ENTRIES + 1].join(",");
        assert!(err(&format!("trusted = [{many}]")).contains("sip.lockout.trusted:"));
        assert!(
            err("trusted = \"10.0.0.0/8\"").contains("trusted"),
            "a list"
        );
        assert!(err("trusted = [1]").contains("trusted"));
    }

    #[test]
    fn zero_negative_and_huge_values_are_refused_with_their_key() {
        for (text, key) in [
            ("window_s = 0", "sip.lockout.window_s"),
            ("ban_s = 0", "sip.lockout.ban_s"),
            ("max_ban_s = 0", "sip.lockout.max_ban_s"),
            ("window_s = 2592001", "sip.lockout.window_s"),
            ("ban_s = 4000000000", "sip.lockout.ban_s"),
            ("ban_s = 100\nmax_ban_s = 50", "sip.lockout.max_ban_s"),
            ("remember_good_s = 2592001", "sip.lockout.remember_good_s"),
            ("source_failures = 10001", "sip.lockout.source_failures"),
            ("user_failures = 4294967295", "sip.lockout.user_failures"),
            ("max_tracked = 0", "sip.lockout.max_tracked"),
            ("max_tracked = 99999999999", "sip.lockout.max_tracked"),
            ("source_failures = -1", "source_failures"),
            ("ban_s = 99999999999", "ban_s"),
            ("ban_s = \"10m\"", "ban_s"),
            ("ban_s = 1.5", "ban_s"),
            ("bans = 3", "bans"),
        ] {
            let e = err(text);
            assert!(e.contains(key), "`{text}` gave `{e}`, expected {key}");
        }
        // 0 switches a threshold off
        let c = lockout("source_failures = 0\nuser_failures = 0").unwrap();
        assert_eq!((c.source_failures, c.user_failures), (0, 0));
    }

    #[test]
    fn scanner_patterns_are_printable_and_bounded() {
        for text in [
            "scanner_user_agents = [\"\"]",
            "scanner_user_agents = [\"  \"]",
            "scanner_user_agents = [\"a\\nb\"]",
            "scanner_user_agents = [\"friendly-scanner\", \"x\\u0000\"]",
        ] {
            assert!(
                err(text).contains("sip.lockout.scanner_user_agents["),
                "{text}"
            );
        }
        let long = "x".repeat(MAX_PATTERN + 1);
        let e = err(&format!("scanner_user_agents = [\"{long}\"]"));
        assert!(e.contains("scanner_user_agents[0]"), "{e}");
        let many = vec!["\"x\""; MAX_ENTRIES + 1].join(",");
        assert!(err(&format!("scanner_user_agents = [{many}]")).contains("scanner_user_agents:"));
        let c = lockout("scanner_user_agents = [\"EvilDialer\"]").unwrap();
        assert_eq!(c.scanner_user_agents, ["EvilDialer"]);
    }

    #[test]
    fn the_whole_file_is_refused_when_the_section_is_wrong() {
        let e = Config::parse("[sip.lockout]\nban_s = 0\n")
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("sip.lockout.ban_s"), "{e}");
    }
}
