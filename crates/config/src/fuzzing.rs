//! The config file as fuzz input (issue 19): the TOML an operator writes, or
//! a config management tool renders, through every step that needs no file
//! of its own. Called by the cargo-fuzz target `config_toml` (which depends
//! on this crate and includes this test-only module by path) and by the
//! stable smoke run below.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[cfg(test)]
#[path = "../../../fuzz/replay.rs"]
mod replay;

use crate::config::settings::Center;
use crate::config::{Config, ConfigError};

/// Any bytes as a config file: the TOML parse with unknown keys refused, every
/// check of [`Config::validate`], then what `serve` derives before it opens
/// any file: the calendar and shifts, the queues' settings and KPI targets,
/// the retention policy, the trunks, the duty rules and roster, the monitor
/// settings and the demo-password check. Invariants: a refusal names its
/// key or file position; a config that validates builds all of these (no
/// check missing that a later step would trip on). Returns whether the file
/// is a valid config.
pub fn config_toml(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let cfg = match Config::parse(text) {
        Ok(c) => c,
        Err(e) => {
            match &e {
                ConfigError::Invalid { key, message } => {
                    assert!(!key.is_empty() && !message.is_empty(), "{e}")
                }
                ConfigError::Parse { message, .. } => assert!(!message.is_empty()),
                ConfigError::Read { .. } => panic!("parse read a file: {e}"),
            }
            return false;
        }
    };
    let center = Center::build(&cfg).unwrap_or_else(|e| panic!("validated, yet: {e:#}"));
    assert_eq!(
        center.queues.len(),
        cfg.queue_settings().expect("queues").len()
    );
    cfg.trunks()
        .unwrap_or_else(|e| panic!("validated, yet trunks: {e}"));
    cfg.duty
        .build(&cfg)
        .unwrap_or_else(|e| panic!("validated, yet duty: {e}"));
    let _ = cfg.monitor_config();
    let _ = cfg.demo_password_agents();
    let _ = (
        cfg.cadence(),
        cfg.agent_ring_timeout_ms(),
        cfg.database_url(),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::replay;

    #[test]
    fn the_config_corpus_and_its_mutations_break_no_invariant() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let seeds = replay::corpus(&root.join("fuzz/corpus/config_toml"));
        assert!(seeds.len() >= 3, "the corpus is in fuzz/corpus/config_toml");
        let valid = std::cell::Cell::new(0);
        let runs = replay::replay(&seeds, 600, |d| {
            if super::config_toml(d) {
                valid.set(valid.get() + 1);
            }
        });
        eprintln!(
            "{runs} config files from {} seeds, {} valid",
            seeds.len(),
            valid.get()
        );
        assert!(valid.get() >= seeds.len(), "the seeds are valid configs");
    }
}
