//! `[notify]`: the channels alarms and reports go out through and the event
//! kinds each receives, with their checks (`hotline check-config`).

use serde::Deserialize;

use crate::retry::RetryPolicy;

/// The event kinds a channel receives when it names none: the alarms of the
/// regulations (trunk down, storage, overdue work, line test failed or
/// missing, the floor alarms of the duty roster).
pub const DEFAULT_KINDS: &[&str] = &[
    "trunk_down",
    "storage_alarm",
    "work_item_overdue",
    "case_overdue",
    "callback_expired",
    "line_test_failed",
    "line_test_missing",
    "floor_alarm",
    "handover_missing",
];

/// Every event kind a channel may name: the defaults and the other events
/// worth a message (matched by name, so kinds added by other parts of the
/// engine only need their name here).
pub const KNOWN_KINDS: &[&str] = &[
    "trunk_down",
    "trunk_up",
    "storage_alarm",
    "work_item_overdue",
    "case_overdue",
    "case_warning",
    "callback_expired",
    "line_test_failed",
    "line_test_missing",
    "line_test_passed",
    "floor_alarm",
    "handover_missing",
    "continuous_work_warning",
    "recording_failed",
    "limit_exceeded",
    "minimum_staffing_overridden",
    "blacklisted",
    "silent_line",
];

/// Longest list of recipients or kinds of one channel.
pub const MAX_LIST: usize = 100;

/// The language of the messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Language {
    /// Simplified Chinese (the default).
    #[default]
    #[serde(rename = "zh-CN", alias = "zh")]
    Zh,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// The body shape of a webhook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStyle {
    /// `{"kind":..,"at_ms":..,"subject":..,"text":..,"event":{..}}`.
    #[default]
    Json,
    /// WeCom / DingTalk robot: `{"msgtype":"text","text":{"content":".."}}`.
    Wecom,
}

/// `[[notify.email]]`: one mail route.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// The SMTP server's host name.
    pub host: String,
    /// Its port (587 submission with STARTTLS, 25 relay).
    #[serde(default = "submission")]
    pub port: u16,
    /// Upgrade with STARTTLS (required when true; certificates checked
    /// against the bundled Mozilla roots).
    #[serde(default = "yes")]
    pub starttls: bool,
    /// A PEM CA certificate trusted for this server besides the bundled
    /// Mozilla roots (a private mail relay).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// SMTP AUTH user name (unset: no AUTH).
    #[serde(default)]
    pub user: Option<String>,
    /// SMTP AUTH password.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender address (`热线 <hotline@example.cn>`).
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The event kinds mailed (unset: [`DEFAULT_KINDS`]).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Whether the daily report is mailed here too.
    #[serde(default = "yes")]
    pub reports: bool,
}

/// `[[notify.webhook]]`: one HTTP(S) POST route.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// The URL (`http://` or `https://`).
    pub url: String,
    /// `json` or `wecom` (also DingTalk's text shape).
    #[serde(default)]
    pub style: WebhookStyle,
    /// The event kinds posted (unset: [`DEFAULT_KINDS`]).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Whether the daily report is posted here too.
    #[serde(default)]
    pub reports: bool,
}

/// `[notify]`: where alarms and reports go.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// `zh-CN` (default) or `en`.
    #[serde(default)]
    pub language: Language,
    /// The center's name at the head of each message.
    #[serde(default = "center")]
    pub center_name: String,
    /// Attempts per delivery, the first included.
    #[serde(default = "six")]
    pub max_attempts: u32,
    /// Seconds before the second attempt (doubled after each failure).
    #[serde(default = "thirty")]
    pub retry_first_s: u32,
    /// The longest wait between attempts, seconds.
    #[serde(default = "half_hour")]
    pub retry_max_s: u32,
    /// Seconds one attempt may take (connect, TLS, SMTP dialogue, HTTP).
    #[serde(default = "twenty")]
    pub timeout_s: u32,
    /// Deliveries waiting at most; more are dropped with a warning.
    #[serde(default = "thousand")]
    pub queue_size: u32,
    /// `HH:MM` in the center's time zone: the daily report of the day
    /// before is sent then (unset: no report is sent).
    #[serde(default)]
    pub daily_report_at: Option<String>,
    /// Mail routes.
    #[serde(default)]
    pub email: Vec<EmailChannel>,
    /// Webhook routes.
    #[serde(default)]
    pub webhook: Vec<WebhookChannel>,
}

fn submission() -> u16 {
    587
}
fn yes() -> bool {
    true
}
fn center() -> String {
    "热线".into()
}
fn six() -> u32 {
    6
}
fn thirty() -> u32 {
    30
}
fn twenty() -> u32 {
    20
}
fn half_hour() -> u32 {
    1800
}
fn thousand() -> u32 {
    1000
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            language: Language::Zh,
            center_name: center(),
            max_attempts: six(),
            retry_first_s: thirty(),
            retry_max_s: half_hour(),
            timeout_s: twenty(),
            queue_size: thousand(),
            daily_report_at: None,
            email: vec![],
            webhook: vec![],
        }
    }
}

/// A `[notify]` key that is wrong: the key and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The key (`notify.email[0].to`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Whether `s` looks like a mail address (`user@host`, optionally as
/// `Name <user@host>`), as lettre will accept it.
fn mailbox_ok(s: &str) -> bool {
    s.len() <= 320 && s.parse::<lettre::message::Mailbox>().is_ok()
}

/// Parses `HH:MM` (00:00–23:59) into minutes after midnight.
pub fn parse_hh_mm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn kinds(key: &str, events: &Option<Vec<String>>) -> Result<(), ConfigError> {
    let Some(list) = events else { return Ok(()) };
    if list.is_empty() {
        return Err(bad(
            key,
            "an empty list sends nothing: remove the key for the default alarms",
        ));
    }
    if list.len() > MAX_LIST {
        return Err(bad(key, format!("at most {MAX_LIST} kinds")));
    }
    for k in list {
        if !KNOWN_KINDS.contains(&k.as_str()) {
            let shown: String = k.chars().take(40).collect();
            return Err(bad(
                key,
                format!(
                    "unknown event kind `{shown}` (known: {})",
                    KNOWN_KINDS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a webhook URL: `http://host[:port]/path` or `https://...`.
pub fn check_url(url: &str) -> Result<hyper::Uri, String> {
    if url.len() > 2048 {
        return Err("longer than 2048 characters".into());
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{url}`: only http:// and https:// URLs")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(format!("`{url}` names no host")),
    }
    Ok(uri)
}

impl NotifyConfig {
    /// Whether any channel is configured.
    pub fn is_enabled(&self) -> bool {
        !self.email.is_empty() || !self.webhook.is_empty()
    }

    /// The retry schedule of the settings.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            first_delay_ms: i64::from(self.retry_first_s) * 1000,
            max_delay_ms: i64::from(self.retry_max_s) * 1000,
        }
    }

    /// Checks every key; the first problem found, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=20).contains(&self.max_attempts) {
            return Err(bad("notify.max_attempts", "between 1 and 20"));
        }
        if !(1..=86_400).contains(&self.retry_first_s) {
            return Err(bad("notify.retry_first_s", "between 1 and 86400 seconds"));
        }
        if self.retry_max_s < self.retry_first_s || self.retry_max_s > 86_400 {
            return Err(bad(
                "notify.retry_max_s",
                "at least notify.retry_first_s and at most 86400 seconds",
            ));
        }
        if !(1..=300).contains(&self.timeout_s) {
            return Err(bad("notify.timeout_s", "between 1 and 300 seconds"));
        }
        if !(1..=100_000).contains(&self.queue_size) {
            return Err(bad("notify.queue_size", "between 1 and 100000"));
        }
        if self.center_name.chars().count() > 64 {
            return Err(bad("notify.center_name", "at most 64 characters"));
        }
        if let Some(at) = &self.daily_report_at {
            if parse_hh_mm(at).is_none() {
                return Err(bad(
                    "notify.daily_report_at",
                    format!("`{at}` is not a time HH:MM (00:00-23:59)"),
                ));
            }
        }
        for (i, e) in self.email.iter().enumerate() {
            let key = |k: &str| format!("notify.email[{i}].{k}");
            if e.host.is_empty()
                || e.host.len() > 253
                || e.host.chars().any(|c| c.is_whitespace() || c == '/')
            {
                return Err(bad(key("host"), "the SMTP server's host name"));
            }
            if e.port == 0 {
                return Err(bad(key("port"), "a port between 1 and 65535"));
            }
            if !mailbox_ok(&e.from) {
                return Err(bad(
                    key("from"),
                    format!("`{}` is not a mail address", e.from),
                ));
            }
            if e.to.is_empty() {
                return Err(bad(key("to"), "no recipients: name at least one address"));
            }
            if e.to.len() > MAX_LIST {
                return Err(bad(key("to"), format!("at most {MAX_LIST} recipients")));
            }
            for t in &e.to {
                if !mailbox_ok(t) {
                    let shown: String = t.chars().take(80).collect();
                    return Err(bad(key("to"), format!("`{shown}` is not a mail address")));
                }
            }
            match (&e.user, &e.password) {
                (Some(_), None) => return Err(bad(key("password"), "user without password")),
                (None, Some(_)) => return Err(bad(key("user"), "password without user")),
                (Some(_), Some(_)) if !e.starttls && !is_local(&e.host) => {
                    return Err(bad(
                        key("starttls"),
                        "a password is sent only over STARTTLS (or to localhost)",
                    ))
                }
                _ => {}
            }
            if let Some(path) = &e.ca_file {
                if !e.starttls {
                    return Err(bad(key("ca_file"), "only used with starttls = true"));
                }
                read_ca(path).map_err(|m| bad(key("ca_file"), m))?;
            }
            kinds(&key("events"), &e.events)?;
        }
        for (i, w) in self.webhook.iter().enumerate() {
            let key = |k: &str| format!("notify.webhook[{i}].{k}");
            check_url(&w.url).map_err(|m| bad(key("url"), m))?;
            kinds(&key("events"), &w.events)?;
        }
        Ok(())
    }
}

/// Reads a PEM CA certificate (`ca_file`).
pub fn read_ca(
    path: &std::path::Path,
) -> Result<lettre::transport::smtp::client::Certificate, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if pem.len() > 1 << 20 {
        return Err(format!("{}: larger than 1 MiB", path.display()));
    }
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: not a PEM certificate (none found)",
            path.display()
        ));
    }
    lettre::transport::smtp::client::Certificate::from_pem(&pem)
        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))
}

fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a channel with this `events` list receives `kind`.
pub fn receives(events: &Option<Vec<String>>, kind: &str) -> bool {
    match events {
        Some(list) => list.iter().any(|k| k == kind),
        None => DEFAULT_KINDS.contains(&kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NotifyConfig, String> {
        let c: NotifyConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    const MAIL: &str = r#"
        [[email]]
        host = "smtp.example.cn"
        user = "hotline"
        password = "pw"
        from = "热线 <hotline@example.cn>"
        to = ["duty@example.cn"]
    "#;

    #[test]
    fn defaults_and_a_full_channel_parse() {
        let c = parse(MAIL).unwrap();
        assert_eq!(c.language, Language::Zh);
        assert_eq!(c.email[0].port, 587);
        assert!(c.email[0].starttls);
        assert!(c.is_enabled());
        assert!(!parse("").unwrap().is_enabled());
        let w = parse("language = \"en\"\n[[webhook]]\nurl = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x\"\nstyle = \"wecom\"\nevents = [\"line_test_failed\"]").unwrap();
        assert_eq!(w.webhook[0].style, WebhookStyle::Wecom);
        assert_eq!(w.language, Language::En);
        assert!(receives(&w.webhook[0].events, "line_test_failed"));
        assert!(!receives(&w.webhook[0].events, "trunk_down"));
        assert!(receives(&None, "trunk_down"));
        assert!(receives(&None, "floor_alarm"));
        assert!(!receives(&None, "arrived"));
    }

    #[test]
    fn bad_channels_name_their_key() {
        let no_to = MAIL.replace("to = [\"duty@example.cn\"]", "to = []");
        assert!(parse(&no_to)
            .unwrap_err()
            .contains("notify.email[0].to: no recipients"));
        let bad_to = MAIL.replace("duty@example.cn", "not an address");
        assert!(parse(&bad_to).unwrap_err().contains("notify.email[0].to"));
        let bad_from = MAIL.replace("热线 <hotline@example.cn>", "@@");
        assert!(parse(&bad_from)
            .unwrap_err()
            .contains("notify.email[0].from"));
        let plain_pw = MAIL.replace("password = \"pw\"", "password = \"pw\"\nstarttls = false");
        assert!(parse(&plain_pw)
            .unwrap_err()
            .contains("notify.email[0].starttls"));
        let no_pw = MAIL.replace("password = \"pw\"", "");
        assert!(parse(&no_pw)
            .unwrap_err()
            .contains("notify.email[0].password"));
        let unknown = MAIL.replace("to = [", "events = [\"trunk_dwn\"]\nto = [");
        let e = parse(&unknown).unwrap_err();
        assert!(
            e.contains("notify.email[0].events: unknown event kind `trunk_dwn`"),
            "{e}"
        );
        let no_ca = MAIL.replace("to = [", "ca_file = \"/nonexistent/ca.pem\"\nto = [");
        let e = parse(&no_ca).unwrap_err();
        assert!(
            e.contains("notify.email[0].ca_file: /nonexistent/ca.pem"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let bad_ca = MAIL.replace(
            "to = [",
            &format!("ca_file = {:?}\nto = [", junk.display().to_string()),
        );
        let e = parse(&bad_ca).unwrap_err();
        assert!(e.contains("not a PEM certificate"), "{e}");
        let empty = MAIL.replace("to = [", "events = []\nto = [");
        assert!(parse(&empty).unwrap_err().contains("empty list"));
        for url in [
            "ftp://x/y",
            "not a url",
            "http://",
            "/relative",
            "",
            &format!("http://x/{}", "a".repeat(3000)),
        ] {
            let e = parse(&format!("[[webhook]]\nurl = {url:?}")).unwrap_err();
            assert!(e.contains("notify.webhook[0].url"), "{url}: {e}");
        }
        let e = parse("[[webhook]]\nurl = \"http://x/\"\nstyle = \"slack\"").unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
        let e = parse("[[webhook]]\nurl = \"http://x/\"\nsecret = 1").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        for (k, v) in [
            ("max_attempts", "0"),
            ("retry_first_s", "0"),
            ("timeout_s", "100000"),
            ("queue_size", "0"),
            ("daily_report_at", "\"25:00\""),
            ("daily_report_at", "\"7:00\""),
        ] {
            let e = parse(&format!("{k} = {v}")).unwrap_err();
            assert!(e.contains(&format!("notify.{k}")), "{k}: {e}");
        }
    }

    #[test]
    fn hh_mm() {
        assert_eq!(parse_hh_mm("08:30"), Some(510));
        assert_eq!(parse_hh_mm("23:59"), Some(1439));
        for s in ["24:00", "8:30", "08:60", "0830", "", "ab:cd", "08:30:00"] {
            assert_eq!(parse_hh_mm(s), None, "{s}");
        }
    }
}
