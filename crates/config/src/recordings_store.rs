//! `[recordings_store]`: where sealed recordings live (issue 18). `local`
//! (the default): in the recordings root, exactly as a single node always
//! did. An object store URL (`file:///dir` on a shared mount, or
//! `s3://bucket/prefix` on an S3-compatible store): the recordings root is
//! the spool, and each sealed recording is uploaded under
//! `<node_id>/YYYY/MM/DD/` (see `hotline_recorder::shared`).
//!
//! Credentials never sit in the TOML: they come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, as
//! every S3 client reads them) or from `credentials_file`, a file in the same
//! `KEY=value` form (a systemd `EnvironmentFile`), readable by hotline only.

use crate::config::{invalid, Config, ConfigError};
use hotline_recorder::shared::{node_id_ok, SharedSettings};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest credentials file read.
const CREDENTIALS_MAX: u64 = 16 * 1024;

/// `[recordings_store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsStoreSection {
    /// `local`, `file:///absolute/dir` or `s3://bucket[/prefix]`.
    pub url: String,
    /// The node id in the key layout; default `cluster.node_id`.
    pub node_id: Option<String>,
    /// S3 endpoint (`https://…`, or `http://…` with `allow_http`).
    pub endpoint: Option<String>,
    /// S3 region (default `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Allow a plain-http endpoint (a lab store only).
    pub allow_http: bool,
    /// `KEY=value` file with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN`); default: the environment.
    pub credentials_file: Option<PathBuf>,
    /// Seconds between two upload passes while recordings wait in the spool.
    pub retry_every_s: u64,
    /// Longest time one request to the store may take, seconds.
    pub timeout_s: u64,
    /// Byte budget of this node's part of the store, MiB (0: none): over
    /// it, the retention pass removes this node's oldest unheld recordings
    /// from the store (an object store has no full disk to warn first).
    pub quota_mb: f64,
}

impl Default for RecordingsStoreSection {
    fn default() -> Self {
        RecordingsStoreSection {
            url: "local".into(),
            node_id: None,
            endpoint: None,
            region: None,
            allow_http: false,
            credentials_file: None,
            retry_every_s: 30,
            timeout_s: 30,
            quota_mb: 0.0,
        }
    }
}

/// The typed settings of a shared store.
#[derive(Debug, Clone)]
pub struct RecordingsStore {
    /// How to reach it (credentials included).
    pub settings: SharedSettings,
    /// Time between upload passes while the spool is not empty.
    pub retry_every: Duration,
    /// Byte budget of this node's part of the store (None: none).
    pub quota_bytes: Option<u64>,
}

/// Reads `KEY=value` lines (blank lines and `#` comments skipped, values
/// optionally quoted).
fn read_credentials(path: &Path) -> Result<Vec<(String, String)>, String> {
    use std::io::Read;
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    f.take(CREDENTIALS_MAX + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > CREDENTIALS_MAX {
        return Err(format!("{} is larger than 16 KiB", path.display()));
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "{} line {}: expected KEY=value",
                path.display(),
                n + 1
            ));
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        match k.trim() {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN" => {
                out.push((k.trim().to_string(), v.to_string()))
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(format!(
                    "{} line {}: unknown key `{shown}` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)",
                    path.display(),
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

impl Config {
    /// The shared store of recordings; None with `url = "local"`.
    pub fn recordings_store(&self) -> Result<Option<RecordingsStore>, ConfigError> {
        let s = &self.recordings_store;
        let url = s.url.trim();
        if url == "local" || url.is_empty() {
            return Ok(None);
        }
        if !(url.starts_with("file://") || url.starts_with("s3://")) {
            let shown: String = url.chars().take(60).collect();
            return Err(invalid(
                "recordings_store.url",
                format!(
                    "`{shown}`: expected \"local\", file:///absolute/dir or s3://bucket/prefix"
                ),
            ));
        }
        let node = match s.node_id.as_deref().or(self.cluster.node_id.as_deref()) {
            Some(n) if node_id_ok(n) => n.to_string(),
            Some(n) => {
                let shown: String = n.chars().take(20).collect();
                return Err(invalid(
                    "recordings_store.node_id",
                    format!("`{shown}` is not a node id: 1 to 64 letters, digits, `.`, `_` or `-`"),
                ));
            }
            None => {
                return Err(invalid(
                    "recordings_store.node_id",
                    "required with a shared store (or set cluster.node_id): the first level of \
                     every key this node writes, different on each node",
                ))
            }
        };
        if !(1..=86_400).contains(&s.retry_every_s) {
            return Err(invalid(
                "recordings_store.retry_every_s",
                format!("must be 1 to 86400 seconds, got {}", s.retry_every_s),
            ));
        }
        if !(1..=3_600).contains(&s.timeout_s) {
            return Err(invalid(
                "recordings_store.timeout_s",
                format!("must be 1 to 3600 seconds, got {}", s.timeout_s),
            ));
        }
        if !(s.quota_mb.is_finite() && (0.0..=1e12).contains(&s.quota_mb)) {
            return Err(invalid(
                "recordings_store.quota_mb",
                format!("must be 0 (no quota) to 1e12 MiB, got {}", s.quota_mb),
            ));
        }
        let mut settings = SharedSettings {
            url: url.to_string(),
            node,
            endpoint: s.endpoint.clone(),
            region: s.region.clone(),
            allow_http: s.allow_http,
            timeout: Duration::from_secs(s.timeout_s),
            ..SharedSettings::default()
        };
        if let Some(path) = &s.credentials_file {
            let creds = read_credentials(path)
                .map_err(|m| invalid("recordings_store.credentials_file", m))?;
            for (k, v) in creds {
                match k.as_str() {
                    "AWS_ACCESS_KEY_ID" => settings.access_key_id = Some(v),
                    "AWS_SECRET_ACCESS_KEY" => settings.secret_access_key = Some(v),
                    _ => settings.session_token = Some(v),
                }
            }
            if settings.access_key_id.is_none() || settings.secret_access_key.is_none() {
                return Err(invalid(
                    "recordings_store.credentials_file",
                    format!(
                        "{} must name both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                        path.display()
                    ),
                ));
            }
        }
        // the URL, endpoint and node are checked by building the client
        // (no request is made here)
        hotline_recorder::shared::SharedStore::open(&settings).map_err(|e| {
            let text = e.to_string();
            let key = if text.contains("endpoint") || text.contains("allow_http") {
                "recordings_store.endpoint"
            } else {
                "recordings_store.url"
            };
            invalid(key, text)
        })?;
        Ok(Some(RecordingsStore {
            settings,
            retry_every: Duration::from_secs(s.retry_every_s),
            quota_bytes: (s.quota_mb > 0.0).then_some((s.quota_mb * 1_048_576.0) as u64),
        }))
    }

    /// Checks `[recordings_store]`.
    pub fn validate_recordings_store(&self) -> Result<(), ConfigError> {
        self.recordings_store().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const BASE: &str = "[hotline]\nnumbers = [\"110\"]\n";

    fn store(extra: &str) -> Result<Option<RecordingsStore>, String> {
        let cfg = Config::parse(&format!("{BASE}{extra}")).map_err(|e| e.to_string())?;
        cfg.recordings_store().map_err(|e| e.to_string())
    }

    #[test]
    fn local_is_the_default() {
        assert!(store("").unwrap().is_none());
        assert!(store("[recordings_store]\nurl = \"local\"\n")
            .unwrap()
            .is_none());
    }

    #[test]
    fn s3_with_a_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("s3.env");
        std::fs::write(
            &creds,
            "# lab\nAWS_ACCESS_KEY_ID=AKIDLAB\nexport AWS_SECRET_ACCESS_KEY=\"s3cr3t=x\"\n",
        )
        .unwrap();
        let s = store(&format!(
            "[recordings_store]\nurl = \"s3://hotline-rec/site-a\"\nnode_id = \"node1\"\n\
             endpoint = \"http://127.0.0.1:9000\"\nallow_http = true\nregion = \"eu-west-1\"\n\
             credentials_file = \"{}\"\nretry_every_s = 5\n",
            creds.display()
        ))
        .unwrap()
        .unwrap();
        assert_eq!(s.settings.node, "node1");
        assert_eq!(s.settings.access_key_id.as_deref(), Some("AKIDLAB"));
        assert_eq!(s.settings.secret_access_key.as_deref(), Some("s3cr3t=x"));
        assert_eq!(s.settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.retry_every, Duration::from_secs(5));
        assert_eq!(s.quota_bytes, None, "no quota unless configured");
    }

    #[test]
    fn the_store_quota_is_in_mib() {
        let s = store(
            "[recordings_store]\nurl = \"file:///tmp/hotline-obj18-cfg-test\"\nnode_id = \"n1\"\nquota_mb = 1.5\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.quota_bytes, Some(1_572_864));
    }

    #[test]
    fn the_node_id_comes_from_the_cluster() {
        let s = store(
            "[cluster]\nnode_id = \"hl-b\"\n[recordings_store]\nurl = \"file:///tmp/hotline-obj18-cfg-test\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.settings.node, "hl-b");
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.env");
        let bad_line = dir.path().join("bad.env");
        std::fs::write(&bad_line, "AWS_ACCESS_KEY_ID AKID\n").unwrap();
        let unknown = dir.path().join("unknown.env");
        std::fs::write(&unknown, "PASSWORD=x\n").unwrap();
        let half = dir.path().join("half.env");
        std::fs::write(&half, "AWS_ACCESS_KEY_ID=x\n").unwrap();
        let huge = dir.path().join("huge.env");
        std::fs::write(&huge, "#".repeat(20_000)).unwrap();
        let n = "node_id = \"n1\"\n";
        let cases = [
            ("url = \"ftp://x\"\n".to_string(), "recordings_store.url"),
            ("url = \"s3://b\"\n".into(), "recordings_store.node_id"),
            (
                "url = \"s3://b\"\nnode_id = \"a/b\"\n".to_string(),
                "recordings_store.node_id",
            ),
            (format!("url = \"s3://B_B\"\n{n}"), "recordings_store.url"),
            (format!("url = \"file://rel\"\n{n}"), "recordings_store.url"),
            (
                format!("url = \"s3://b\"\n{n}endpoint = \"http://h:1\"\n"),
                "recordings_store.endpoint",
            ),
            (
                format!("url = \"s3://b\"\n{n}retry_every_s = 0\n"),
                "recordings_store.retry_every_s",
            ),
            (
                format!("url = \"s3://b\"\n{n}timeout_s = 99999\n"),
                "recordings_store.timeout_s",
            ),
            (
                format!(
                    "url = \"s3://b\"\n{n}credentials_file = \"{}\"\n",
                    missing.display()
                ),
                "recordings_store.credentials_file",
            ),
            (
                format!(
                    "url = \"s3://b\"\n{n}credentials_file = \"{}\"\n",
                    bad_line.display()
                ),
                "KEY=value",
            ),
            (
                format!(
                    "url = \"s3://b\"\n{n}credentials_file = \"{}\"\n",
                    unknown.display()
                ),
                "unknown key",
            ),
            (
                format!(
                    "url = \"s3://b\"\n{n}credentials_file = \"{}\"\n",
                    half.display()
                ),
                "both",
            ),
            (
                format!(
                    "url = \"s3://b\"\n{n}credentials_file = \"{}\"\n",
                    huge.display()
                ),
                "16 KiB",
            ),
            (format!("url = \"s3://b\"\n{n}secret = \"x\"\n"), "secret"),
            (
                format!("url = \"s3://b\"\n{n}quota_mb = -1\n"),
                "recordings_store.quota_mb",
            ),
            (
                format!("url = \"s3://b\"\n{n}quota_mb = nan\n"),
                "recordings_store.quota_mb",
            ),
            (
                format!(
                    "url = \"{}\"\n{n}",
                    "s3://b/".to_string() + &"x".repeat(100_000)
                ),
                "recordings_store.url",
            ),
        ];
        for (body, want) in cases {
            let e = store(&format!("[recordings_store]\n{body}")).expect_err(&body);
            assert!(e.contains(want), "{want}: {e}");
            assert!(e.len() < 600, "{e}");
        }
    }
}
