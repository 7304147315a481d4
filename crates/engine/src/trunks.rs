//! Carrier trunks: where agents' calls out and callbacks go.
//!
//! A trunk has a channel limit, a health state kept by OPTIONS probes and a
//! number format (how the carrier wants numbers written). [`Trunks`] is the
//! sans-IO part (every question takes `now`), shared behind a mutex
//! ([`TrunkBoard`]) by the call drivers (seize a channel, release it when
//! the call ends), the probe task and the API (`GET /api/trunks`).
//!
//! Health follows Kamailio's dispatcher: any final answer to OPTIONS (even
//! 403 or 404: the carrier is there) keeps a trunk up; `down_after` probes
//! in a row without an answer take it down, one answer brings it back. A
//! trunk not probed yet counts as up (a fresh start must not refuse calls).

use hotline_sip::TrunkTarget;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};

/// How the carrier wants numbers written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStyle {
    /// `+8613812345678`.
    E164,
    /// National numbers with the national prefix (`013812345678`), others
    /// with the international prefix (`00441234567`).
    National,
    /// As the agent dialled it (digits only).
    AsDialled,
}

impl std::str::FromStr for NumberStyle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "e164" => Ok(NumberStyle::E164),
            "national" => Ok(NumberStyle::National),
            "as_dialled" => Ok(NumberStyle::AsDialled),
            other => Err(format!(
                "`{}` is not a number format (e164, national, as_dialled)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// The country and its dialling prefixes, and the style the carrier takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    /// The center's country code (`86`).
    pub country_code: String,
    /// The national (trunk) prefix (`0`).
    pub national_prefix: String,
    /// The international prefix (`00`).
    pub international_prefix: String,
    /// What the carrier takes.
    pub style: NumberStyle,
}

impl Default for NumberFormat {
    /// Mainland China: +86, national prefix 0, international 00, national
    /// style.
    fn default() -> Self {
        NumberFormat {
            country_code: "86".into(),
            national_prefix: "0".into(),
            international_prefix: "00".into(),
            style: NumberStyle::National,
        }
    }
}

impl NumberFormat {
    /// The number in the carrier's format, or None when it is not a phone
    /// number (letters, too short or too long; separators ` -().` are
    /// dropped).
    ///
    /// A dialled number is read as: `+CC...` or `<international>CC...`
    /// international; `<national>...` national with its area code; anything
    /// else a national significant number (a mobile number, `138...`).
    pub fn format(&self, dialled: &str) -> Option<String> {
        let trimmed = dialled.trim();
        let plus = trimmed.starts_with('+');
        let digits: String = trimmed
            .trim_start_matches('+')
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        if digits.len() < 3 || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if self.style == NumberStyle::AsDialled {
            return Some(if plus { format!("+{digits}") } else { digits });
        }
        // the full international number, without '+'
        let international = if plus {
            digits
        } else if !self.international_prefix.is_empty()
            && digits.starts_with(&self.international_prefix)
        {
            digits[self.international_prefix.len()..].to_string()
        } else if !self.national_prefix.is_empty() && digits.starts_with(&self.national_prefix) {
            format!(
                "{}{}",
                self.country_code,
                &digits[self.national_prefix.len()..]
            )
        } else {
            format!("{}{}", self.country_code, digits)
        };
        if international.len() < 4 {
            return None;
        }
        Some(match self.style {
            NumberStyle::E164 | NumberStyle::AsDialled => format!("+{international}"),
            NumberStyle::National => match international.strip_prefix(&self.country_code) {
                Some(national) => format!("{}{national}", self.national_prefix),
                None => format!("{}{international}", self.international_prefix),
            },
        })
    }
}

/// One trunk's settings (`[[trunks]]`).
#[derive(Debug, Clone)]
pub struct TrunkConfig {
    /// Address, credentials, caller id.
    pub target: TrunkTarget,
    /// Calls at once through it.
    pub max_channels: u32,
    /// How numbers are written for it.
    pub numbers: NumberFormat,
    /// Time between OPTIONS probes, ms (0 = not probed: always up).
    pub probe_every_ms: i64,
    /// Unanswered probes in a row that take it down.
    pub down_after: u32,
}

/// Whether a trunk takes calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Health {
    /// Not probed yet (or probing is off): calls are placed.
    Unknown,
    /// Answered its last probe.
    Up {
        /// Since when, epoch ms.
        since_ms: i64,
    },
    /// `down_after` probes in a row went unanswered.
    Down {
        /// Since when, epoch ms.
        since_ms: i64,
        /// The last probe's failure.
        reason: String,
    },
}

/// Why a trunk cannot take a call now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrunkRefusal {
    /// No trunk of that name.
    #[error("no trunk `{0}`")]
    Unknown(String),
    /// Every channel is in use.
    #[error("trunk `{name}` is at its channel limit ({max})")]
    Full {
        /// The trunk.
        name: String,
        /// Its limit.
        max: u32,
    },
    /// It stopped answering OPTIONS.
    #[error("trunk `{name}` is down: {reason}")]
    Down {
        /// The trunk.
        name: String,
        /// The last probe's failure.
        reason: String,
    },
    /// The number cannot be written for the carrier.
    #[error("`{0}` is not a number this trunk can dial")]
    BadNumber(String),
}

/// A change of a trunk's health, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthChange {
    /// It answers again (or for the first time after being down).
    Up {
        /// The trunk.
        name: String,
    },
    /// It stopped answering.
    Down {
        /// The trunk.
        name: String,
        /// Why.
        reason: String,
    },
}

/// One trunk as `GET /api/trunks` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrunkStatus {
    /// Its name.
    pub name: String,
    /// The carrier's address.
    pub address: String,
    /// Health.
    pub health: Health,
    /// Channels in use.
    pub in_use: u32,
    /// The limit.
    pub max_channels: u32,
    /// Calls placed through it since the start.
    pub placed: u64,
    /// Calls refused since the start because it was full.
    pub refused_full: u64,
    /// Calls refused since the start because it was down.
    pub refused_down: u64,
    /// When it was last probed, epoch ms.
    pub last_probe_ms: Option<i64>,
}

struct TrunkState {
    cfg: TrunkConfig,
    in_use: u32,
    health: Health,
    misses: u32,
    placed: u64,
    refused_full: u64,
    refused_down: u64,
    last_probe_ms: Option<i64>,
}

/// Every trunk's channels and health (sans-IO).
#[derive(Default)]
pub struct Trunks {
    trunks: Vec<TrunkState>,
}

impl Trunks {
    /// The configured trunks, none in use, health unknown.
    pub fn new(configs: Vec<TrunkConfig>) -> Self {
        Trunks {
            trunks: configs
                .into_iter()
                .map(|cfg| TrunkState {
                    cfg,
                    in_use: 0,
                    health: Health::Unknown,
                    misses: 0,
                    placed: 0,
                    refused_full: 0,
                    refused_down: 0,
                    last_probe_ms: None,
                })
                .collect(),
        }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut TrunkState> {
        self.trunks.iter_mut().find(|t| t.cfg.target.name == name)
    }

    /// Takes a channel of `name` for a call to `number`: the target and the
    /// number in the carrier's format; refused when the trunk is unknown,
    /// down or full, or the number cannot be written for it.
    pub fn seize(
        &mut self,
        name: &str,
        number: &str,
    ) -> Result<(TrunkTarget, String), TrunkRefusal> {
        let t = self
            .get_mut(name)
            .ok_or_else(|| TrunkRefusal::Unknown(name.to_string()))?;
        if let Health::Down { reason, .. } = &t.health {
            t.refused_down += 1;
            return Err(TrunkRefusal::Down {
                name: name.to_string(),
                reason: reason.clone(),
            });
        }
        if t.in_use >= t.cfg.max_channels {
            t.refused_full += 1;
            return Err(TrunkRefusal::Full {
                name: name.to_string(),
                max: t.cfg.max_channels,
            });
        }
        let formatted = t
            .cfg
            .numbers
            .format(number)
            .ok_or_else(|| TrunkRefusal::BadNumber(number.chars().take(32).collect()))?;
        t.in_use += 1;
        t.placed += 1;
        Ok((t.cfg.target.clone(), formatted))
    }

    /// Gives back a channel of `name`.
    pub fn release(&mut self, name: &str) {
        if let Some(t) = self.get_mut(name) {
            t.in_use = t.in_use.saturating_sub(1);
        }
    }

    /// Records a probe's outcome at `now` (`Ok(status)`: any final answer;
    /// `Err`: none within the timeout); the health change, if any.
    pub fn probed(
        &mut self,
        name: &str,
        now: i64,
        outcome: Result<u16, String>,
    ) -> Option<HealthChange> {
        let t = self.get_mut(name)?;
        t.last_probe_ms = Some(now);
        match outcome {
            Ok(_) => {
                t.misses = 0;
                let was_up = matches!(t.health, Health::Up { .. });
                let was_down = matches!(t.health, Health::Down { .. });
                if !was_up {
                    t.health = Health::Up { since_ms: now };
                }
                was_down.then(|| HealthChange::Up {
                    name: name.to_string(),
                })
            }
            Err(reason) => {
                t.misses = t.misses.saturating_add(1);
                if t.misses < t.cfg.down_after.max(1) {
                    return None;
                }
                match &mut t.health {
                    Health::Down { reason: r, .. } => {
                        *r = reason;
                        None
                    }
                    _ => {
                        t.health = Health::Down {
                            since_ms: now,
                            reason: reason.clone(),
                        };
                        Some(HealthChange::Down {
                            name: name.to_string(),
                            reason,
                        })
                    }
                }
            }
        }
    }

    /// Every trunk's state.
    pub fn status(&self) -> Vec<TrunkStatus> {
        self.trunks
            .iter()
            .map(|t| TrunkStatus {
                name: t.cfg.target.name.clone(),
                address: t.cfg.target.address.to_string(),
                health: t.health.clone(),
                in_use: t.in_use,
                max_channels: t.cfg.max_channels,
                placed: t.placed,
                refused_full: t.refused_full,
                refused_down: t.refused_down,
                last_probe_ms: t.last_probe_ms,
            })
            .collect()
    }

    /// The configured trunks.
    pub fn configs(&self) -> impl Iterator<Item = &TrunkConfig> {
        self.trunks.iter().map(|t| &t.cfg)
    }
}

/// The trunks shared by the call drivers, the probe task and the API
/// (cheap to clone; the lock is held for a lookup, never across an await).
#[derive(Clone, Default)]
pub struct TrunkBoard {
    inner: Arc<Mutex<Trunks>>,
}

impl TrunkBoard {
    /// A board over `trunks`.
    pub fn new(trunks: Trunks) -> Self {
        TrunkBoard {
            inner: Arc::new(Mutex::new(trunks)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Trunks> {
        // a panic while holding the lock leaves counters, not broken memory
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`Trunks::seize`], with a guard that gives the channel back when
    /// dropped (the call ended, however it ended).
    pub fn seize(&self, name: &str, number: &str) -> Result<Seizure, TrunkRefusal> {
        let (target, number) = self.lock().seize(name, number)?;
        Ok(Seizure {
            board: self.clone(),
            target,
            number,
        })
    }

    /// [`Trunks::probed`].
    pub fn probed(
        &self,
        name: &str,
        now: i64,
        outcome: Result<u16, String>,
    ) -> Option<HealthChange> {
        self.lock().probed(name, now, outcome)
    }

    /// [`Trunks::status`].
    pub fn status(&self) -> Vec<TrunkStatus> {
        self.lock().status()
    }

    /// The configured trunks (for the probe tasks).
    pub fn configs(&self) -> Vec<TrunkConfig> {
        self.lock().configs().cloned().collect()
    }
}

/// A channel of a trunk held by one call; given back on drop.
pub struct Seizure {
    board: TrunkBoard,
    /// Where to send the INVITE.
    pub target: TrunkTarget,
    /// The number in the carrier's format.
    pub number: String,
}

impl Drop for Seizure {
    fn drop(&mut self) {
        self.board.lock().release(&self.target.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_sip::SipTransport;

    fn trunk(name: &str, max: u32) -> TrunkConfig {
        TrunkConfig {
            target: TrunkTarget {
                name: name.into(),
                address: "192.0.2.10:5060".parse().unwrap(),
                transport: SipTransport::Udp,
                domain: "carrier.example".into(),
                auth: None,
                caller_id: "4008001234".into(),
            },
            max_channels: max,
            numbers: NumberFormat::default(),
            probe_every_ms: 30_000,
            down_after: 2,
        }
    }

    #[test]
    fn numbers_are_written_the_way_the_carrier_wants() {
        let cn = NumberFormat::default();
        assert_eq!(cn.format("13812345678").as_deref(), Some("013812345678"));
        assert_eq!(cn.format("010-6552 9988").as_deref(), Some("01065529988"));
        assert_eq!(cn.format("+86 10 65529988").as_deref(), Some("01065529988"));
        assert_eq!(
            cn.format("0086 10 65529988").as_deref(),
            Some("01065529988")
        );
        assert_eq!(
            cn.format("+44 20 7946 0000").as_deref(),
            Some("00442079460000")
        );
        let e164 = NumberFormat {
            style: NumberStyle::E164,
            ..NumberFormat::default()
        };
        assert_eq!(
            e164.format("13812345678").as_deref(),
            Some("+8613812345678")
        );
        assert_eq!(e164.format("01065529988").as_deref(), Some("+861065529988"));
        assert_eq!(
            e164.format("00442079460000").as_deref(),
            Some("+442079460000")
        );
        let raw = NumberFormat {
            style: NumberStyle::AsDialled,
            ..NumberFormat::default()
        };
        assert_eq!(raw.format("0612 345").as_deref(), Some("0612345"));
        for bad in [
            "",
            "12",
            "06@evil",
            "1234567890123456789012",
            "+",
            "abc",
            "0612;x",
        ] {
            assert_eq!(cn.format(bad), None, "{bad}");
            assert_eq!(e164.format(bad), None, "{bad}");
        }
        assert_eq!("e164".parse::<NumberStyle>(), Ok(NumberStyle::E164));
        assert!("E.164".parse::<NumberStyle>().is_err());
    }

    #[test]
    fn channels_are_limited_and_given_back_when_the_call_ends() {
        let board = TrunkBoard::new(Trunks::new(vec![trunk("ct", 2)]));
        let a = board.seize("ct", "13812345678").unwrap();
        assert_eq!(a.number, "013812345678");
        assert_eq!(
            a.target.uri_for(&a.number),
            "sip:013812345678@carrier.example"
        );
        let b = board.seize("ct", "13812345679").unwrap();
        assert_eq!(
            board.seize("ct", "13812345670").err(),
            Some(TrunkRefusal::Full {
                name: "ct".into(),
                max: 2
            })
        );
        drop(a);
        let c = board.seize("ct", "13812345670").unwrap();
        let s = &board.status()[0];
        assert_eq!((s.in_use, s.placed, s.refused_full), (2, 3, 1));
        drop((b, c));
        assert_eq!(board.status()[0].in_use, 0);
        assert_eq!(
            board.seize("other", "1381234").err(),
            Some(TrunkRefusal::Unknown("other".into()))
        );
        assert!(matches!(
            board.seize("ct", "06@evil"),
            Err(TrunkRefusal::BadNumber(_))
        ));
        assert_eq!(
            board.status()[0].in_use,
            0,
            "a refused number holds nothing"
        );
    }

    #[test]
    fn a_trunk_goes_down_after_missed_probes_and_comes_back_with_one_answer() {
        let mut t = Trunks::new(vec![trunk("ct", 10)]);
        // a fresh trunk takes calls before its first probe
        assert!(t.seize("ct", "13812345678").is_ok());
        t.release("ct");
        assert_eq!(t.probed("ct", 1_000, Ok(200)), None);
        assert_eq!(t.status()[0].health, Health::Up { since_ms: 1_000 });
        // 404 to OPTIONS: the carrier is there
        assert_eq!(t.probed("ct", 31_000, Ok(404)), None);
        assert_eq!(t.probed("ct", 61_000, Err("timeout".into())), None);
        assert!(t.seize("ct", "13812345678").is_ok(), "one miss is not down");
        t.release("ct");
        assert_eq!(
            t.probed("ct", 91_000, Err("timeout".into())),
            Some(HealthChange::Down {
                name: "ct".into(),
                reason: "timeout".into()
            })
        );
        assert_eq!(t.probed("ct", 121_000, Err("still".into())), None);
        assert!(matches!(
            t.seize("ct", "13812345678"),
            Err(TrunkRefusal::Down { reason, .. }) if reason == "still"
        ));
        assert_eq!(t.status()[0].refused_down, 1);
        assert_eq!(
            t.probed("ct", 151_000, Ok(200)),
            Some(HealthChange::Up { name: "ct".into() })
        );
        assert!(t.seize("ct", "13812345678").is_ok());
        assert_eq!(t.probed("nope", 1, Ok(200)), None);
    }
}
