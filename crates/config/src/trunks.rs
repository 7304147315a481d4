//! `[[trunks]]`: the carriers calls out and callbacks go through, and the
//! `trunk` keys of `[outbound]` and `[callback]` that name one.

use crate::config::{from_str, invalid, Config, ConfigError};
use hotline_engine::trunks::{NumberFormat, NumberStyle, TrunkConfig};
use hotline_sip::{SipTransport, TrunkAuth, TrunkTarget};
use serde::Deserialize;
use std::net::SocketAddr;

/// `[[trunks]]`: one carrier trunk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSection {
    /// Its name (`outbound.trunk`, `callback.trunk`, events, `/api/trunks`).
    pub name: String,
    /// The carrier's SIP address, `IP:PORT`.
    pub address: SocketAddr,
    /// `udp` or `tcp`.
    #[serde(default = "udp")]
    pub transport: String,
    /// The Request-URI's host (`sip:NUMBER@domain`); default the address.
    #[serde(default)]
    pub domain: Option<String>,
    /// Digest user name, if the carrier challenges.
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Option<String>,
    /// The realm the credentials are for (unset: any).
    #[serde(default)]
    pub realm: Option<String>,
    /// Our number as the carrier shows it (From user); default the first
    /// hotline number.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Calls at once.
    #[serde(default = "thirty")]
    pub max_channels: u32,
    /// `national`, `e164` or `as_dialled`.
    #[serde(default = "national", deserialize_with = "from_str")]
    pub number_format: NumberStyle,
    /// The country code (`86`).
    #[serde(default = "cn")]
    pub country_code: String,
    /// The national prefix (`0`).
    #[serde(default = "zero")]
    pub national_prefix: String,
    /// The international prefix (`00`).
    #[serde(default = "zero_zero")]
    pub international_prefix: String,
    /// Seconds between OPTIONS probes (0 = not probed).
    #[serde(default = "thirty")]
    pub probe_every_s: u32,
    /// Unanswered probes in a row that take it down.
    #[serde(default = "two")]
    pub down_after: u32,
}

fn udp() -> String {
    "udp".into()
}
fn thirty() -> u32 {
    30
}
fn two() -> u32 {
    2
}
fn national() -> NumberStyle {
    NumberStyle::National
}
fn cn() -> String {
    "86".into()
}
fn zero() -> String {
    "0".into()
}
fn zero_zero() -> String {
    "00".into()
}

fn digits(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
}

fn short_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"<>;,@ ".contains(&b))
}

impl Config {
    /// Checks `[[trunks]]` and the `trunk` keys naming them.
    pub fn validate_trunks(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.trunks.iter().enumerate() {
            let key = |k: &str| format!("trunks[{i}].{k}");
            if t.name.is_empty()
                || t.name.len() > 32
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(invalid(
                    key("name"),
                    "1-32 characters among letters, digits, - and _",
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!("trunk `{}` is defined twice", t.name),
                ));
            }
            transport(&t.transport).map_err(|m| invalid(key("transport"), m))?;
            if t.address.port() == 0 || t.address.ip().is_unspecified() {
                return Err(invalid(key("address"), "the carrier's IP:PORT"));
            }
            if let Some(d) = &t.domain {
                if !short_token(d) {
                    return Err(invalid(key("domain"), "a host name or address"));
                }
            }
            match (&t.username, &t.password) {
                (Some(u), Some(p)) if short_token(u) && !p.is_empty() && p.len() <= 128 => {}
                (None, None) => {}
                _ => {
                    return Err(invalid(
                        key("password"),
                        "give both username and password (1-128 characters), or neither",
                    ))
                }
            }
            if let Some(c) = &t.caller_id {
                let number = c.strip_prefix('+').unwrap_or(c);
                if number.is_empty() || !digits(number, 20) {
                    return Err(invalid(key("caller_id"), "a number, e.g. 4008001234"));
                }
            }
            if !(1..=10_000).contains(&t.max_channels) {
                return Err(invalid(key("max_channels"), "1 to 10000"));
            }
            if t.country_code.is_empty() || !digits(&t.country_code, 3) {
                return Err(invalid(key("country_code"), "1-3 digits, e.g. 86"));
            }
            if !digits(&t.national_prefix, 2) || !digits(&t.international_prefix, 4) {
                return Err(invalid(
                    key("national_prefix"),
                    "national_prefix: 0-2 digits (0), international_prefix: 0-4 digits (00)",
                ));
            }
            if t.probe_every_s > 3600 {
                return Err(invalid(key("probe_every_s"), "0 (off) to 3600 seconds"));
            }
            if !(1..=10).contains(&t.down_after) {
                return Err(invalid(key("down_after"), "1 to 10 probes"));
            }
        }
        for (key, name, enabled) in [
            (
                "outbound.trunk",
                &self.outbound.trunk,
                self.outbound.enabled,
            ),
            (
                "callback.trunk",
                &self.callback.trunk,
                self.callback.enabled,
            ),
        ] {
            if let Some(n) = name {
                if enabled && !names.contains(n.as_str()) {
                    return Err(invalid(key, format!("no [[trunks]] entry is named `{n}`")));
                }
            }
        }
        Ok(())
    }

    /// The engine's trunks. Call after [`Config::validate_trunks`].
    pub fn trunks(&self) -> Result<Vec<TrunkConfig>, ConfigError> {
        self.trunks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(TrunkConfig {
                    target: TrunkTarget {
                        name: t.name.clone(),
                        address: t.address,
                        transport: transport(&t.transport)
                            .map_err(|m| invalid(format!("trunks[{i}].transport"), m))?,
                        domain: t.domain.clone().unwrap_or_else(|| t.address.to_string()),
                        auth: match (&t.username, &t.password) {
                            (Some(u), Some(p)) => Some(TrunkAuth {
                                username: u.clone(),
                                password: p.clone(),
                                realm: t.realm.clone(),
                            }),
                            _ => None,
                        },
                        caller_id: t.caller_id.clone().unwrap_or_else(|| {
                            self.hotline
                                .numbers
                                .first()
                                .cloned()
                                .unwrap_or_else(|| "hotline".into())
                        }),
                    },
                    max_channels: t.max_channels,
                    numbers: NumberFormat {
                        country_code: t.country_code.clone(),
                        national_prefix: t.national_prefix.clone(),
                        international_prefix: t.international_prefix.clone(),
                        style: t.number_format,
                    },
                    probe_every_ms: i64::from(t.probe_every_s) * 1000,
                    down_after: t.down_after,
                })
            })
            .collect()
    }
}

fn transport(s: &str) -> Result<SipTransport, String> {
    match s {
        "udp" => Ok(SipTransport::Udp),
        "tcp" => Ok(SipTransport::Tcp),
        other => Err(format!(
            "`{}` is not a transport (udp, tcp)",
            other.chars().take(16).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK: &str = r#"
[[trunks]]
name = "carrier"
address = "192.0.2.10:5060"
username = "hotline"
password = "trunk-secret"
caller_id = "4008001234"
max_channels = 4
number_format = "e164"
"#;

    #[test]
    fn a_trunk_is_read_with_its_defaults() {
        let cfg = Config::parse(TRUNK).unwrap();
        let t = cfg.trunks().unwrap().remove(0);
        assert_eq!(t.target.name, "carrier");
        assert_eq!(t.target.domain, "192.0.2.10:5060");
        assert_eq!(t.target.caller_id, "4008001234");
        assert_eq!(
            t.target.auth.as_ref().map(|a| a.username.as_str()),
            Some("hotline")
        );
        assert_eq!(t.max_channels, 4);
        assert_eq!(t.numbers.style, NumberStyle::E164);
        assert_eq!(t.numbers.country_code, "86");
        assert_eq!((t.probe_every_ms, t.down_after), (30_000, 2));
    }

    #[test]
    fn bad_trunks_name_their_key() {
        for (text, key) in [
            (TRUNK.replace("\"carrier\"", "\"a b\""), "trunks[0].name"),
            (format!("{TRUNK}{TRUNK}"), "trunks[1].name"),
            (
                TRUNK.replace("max_channels = 4", "max_channels = 0"),
                "trunks[0].max_channels",
            ),
            (
                TRUNK.replace("username = \"hotline\"\n", ""),
                "trunks[0].password",
            ),
            (TRUNK.replace("4008001234", "40a"), "trunks[0].caller_id"),
            (
                TRUNK.replace("192.0.2.10:5060", "0.0.0.0:5060"),
                "trunks[0].address",
            ),
            (
                format!("{TRUNK}transport = \"sctp\"\n"),
                "trunks[0].transport",
            ),
            (format!("{TRUNK}down_after = 0\n"), "trunks[0].down_after"),
            (
                format!("{TRUNK}country_code = \"+86\"\n"),
                "trunks[0].country_code",
            ),
            (
                format!("[outbound]\nenabled = true\ntrunk = \"nope\"\n{TRUNK}"),
                "outbound.trunk",
            ),
            (
                format!("[callback]\nenabled = true\ntrunk = \"nope\"\n{TRUNK}"),
                "callback.trunk",
            ),
        ] {
            let err = Config::parse(&text).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(key)),
                "{key}: {err:?}"
            );
        }
        let err = Config::parse(&TRUNK.replace("\"e164\"", "\"E.164\""))
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("number_format")),
            "{err:?}"
        );
        assert!(Config::parse(&TRUNK.replace("192.0.2.10:5060", "carrier.example")).is_err());
    }
}
