//! Password guessing defence for digest authentication, sans-IO: failed
//! digest answers are counted per source address and per user name in a
//! sliding window; too many ban the source (its datagrams are dropped
//! unanswered) or lock the user name (answered `403 Forbidden` without a
//! challenge). Every ban is twice as long as the one before it (up to a
//! maximum), and forgotten after a quiet period as long as that maximum.
//!
//! Unknown user names are counted and locked exactly like known ones, so a
//! lock tells a guesser nothing about which accounts exist. A source that
//! proved a user's password keeps working through that user's lock (the
//! agent's own phone is not locked out by someone guessing elsewhere);
//! configured trusted networks are never counted (none by default: loopback
//! is not exempt, so the shipped configuration is safe to expose).
//!
//! Time is an argument (`now_ms`); nothing here reads a clock. Memory is
//! bounded: at most [`LockoutConfig::max_tracked`] sources, user names and
//! remembered good sources each.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpNetError {
    /// The address part is not an IP address.
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The prefix length is not a number within the address' bits.
    #[error("`{0}` is not a prefix length (0-32 for IPv4, 0-128 for IPv6)")]
    Prefix(String),
}

impl IpNet {
    /// Whether `ip` lies in the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| IpNetError::Address(addr.to_string()))?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| IpNetError::Prefix(p.to_string()))?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Settings of the defence.
#[derive(Clone, Debug)]
pub struct LockoutConfig {
    /// Failed digest answers from one source address within `window_ms`
    /// that ban the source; 0 = never ban sources.
    pub source_failures: u32,
    /// Failed digest answers for one user name (from any source) within
    /// `window_ms` that lock the name; 0 = never lock names.
    pub user_failures: u32,
    /// The sliding window failures are counted in, ms.
    pub window_ms: i64,
    /// The first ban or lock, ms; each repeat doubles it.
    pub ban_ms: i64,
    /// The longest ban or lock, ms; after a quiet period this long the
    /// doubling starts over.
    pub max_ban_ms: i64,
    /// How long a source that proved a user's password stays exempt from
    /// that user's lock, ms.
    pub remember_good_ms: i64,
    /// Sources never counted nor banned.
    pub trusted: Vec<IpNet>,
    /// Most sources, user names and good sources tracked (each).
    pub max_tracked: usize,
    /// Requests whose User-Agent contains one of these (ignoring case) are
    /// dropped unanswered: the defaults of known SIP scanners (sipvicious
    /// says `friendly-scanner`). Empty = drop none.
    pub scanner_user_agents: Vec<String>,
}

/// User-Agents of well-known SIP scanners, dropped by default.
pub const SCANNER_USER_AGENTS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipscan",
    "sundayddr",
    "iwar",
    "vaxsipuseragent",
    "pplsip",
];

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            source_failures: 10,
            user_failures: 5,
            window_ms: 600_000,
            ban_ms: 600_000,
            max_ban_ms: 86_400_000,
            remember_good_ms: 86_400_000,
            trusted: Vec::new(),
            max_tracked: 100_000,
            scanner_user_agents: SCANNER_USER_AGENTS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// What is banned or locked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BanTarget {
    /// Every request from this address is dropped.
    Source(IpAddr),
    /// This user name is answered 403 (except from its good sources).
    User(String),
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanTarget::Source(ip) => write!(f, "source {ip}"),
            BanTarget::User(u) => write!(f, "user {u}"),
        }
    }
}

/// A ban or lock in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// Who.
    pub target: BanTarget,
    /// Until when (epoch ms).
    pub until_ms: i64,
    /// Bans of this target in a row (1 = first; each doubles the length).
    pub offences: u32,
}

/// Something the operator must learn (and the event log keep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockoutEvent {
    /// Too many failures: banned or locked.
    Banned {
        /// The ban.
        ban: Ban,
        /// Failures counted in the window.
        failures: u32,
        /// The source of the last failure.
        source: IpAddr,
        /// The user name of the last failure.
        user: String,
    },
    /// A supervisor lifted a ban or lock before its end.
    Lifted {
        /// Whose.
        target: BanTarget,
    },
}

/// Whether a request may try to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check its credentials.
    Allowed,
    /// The source is banned: drop the request unanswered.
    SourceBanned {
        /// Until when (epoch ms).
        until_ms: i64,
    },
    /// The user name is locked for this source: answer 403.
    UserLocked {
        /// Until when (epoch ms).
        until_ms: i64,
    },
}

#[derive(Default)]
struct Strikes {
    /// Times of the failures inside the window, oldest first.
    failures: VecDeque<i64>,
    banned_until: Option<i64>,
    offences: u32,
}

impl Strikes {
    fn banned(&self, now_ms: i64) -> Option<i64> {
        self.banned_until.filter(|u| *u > now_ms)
    }

    /// Worth keeping: banned, or failures still inside the window, or a
    /// ban recent enough to double the next one.
    fn live(&self, now_ms: i64, cfg: &LockoutConfig) -> bool {
        self.failures
            .back()
            .is_some_and(|t| now_ms.saturating_sub(*t) < cfg.window_ms)
            || self
                .banned_until
                .is_some_and(|u| now_ms.saturating_sub(u) < cfg.max_ban_ms)
    }

    /// Counts one failure; returns the new ban if it reaches `threshold`.
    fn fail(&mut self, now_ms: i64, threshold: u32, cfg: &LockoutConfig) -> Option<(i64, u32)> {
        let from = now_ms.saturating_sub(cfg.window_ms);
        while self.failures.front().is_some_and(|t| *t <= from) {
            self.failures.pop_front();
        }
        self.failures.push_back(now_ms);
        if threshold == 0 || self.failures.len() < threshold as usize {
            return None;
        }
        // a quiet period as long as the longest ban forgives earlier offences
        if self
            .banned_until
            .is_some_and(|u| now_ms.saturating_sub(u) >= cfg.max_ban_ms)
        {
            self.offences = 0;
        }
        let failures = self.failures.len() as u32;
        let length = cfg
            .ban_ms
            .saturating_mul(1i64 << self.offences.min(40))
            .min(cfg.max_ban_ms)
            .max(0);
        self.offences = self.offences.saturating_add(1);
        let until = now_ms.saturating_add(length);
        self.banned_until = Some(until);
        self.failures.clear();
        Some((until, failures))
    }
}

/// The counters and bans of one SIP server.
pub struct Lockout {
    cfg: LockoutConfig,
    sources: HashMap<IpAddr, Strikes>,
    users: HashMap<String, Strikes>,
    /// (user, source) that proved the password, until when.
    good: HashMap<(String, IpAddr), i64>,
    events: VecDeque<LockoutEvent>,
    /// When the tables were last swept for room.
    last_sweep_ms: Option<i64>,
    /// Bans and locks issued so far.
    issued: Issued,
}

/// Bans and locks issued since the start (a counter: lifts and ends do not
/// lower it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Issued {
    /// Sources banned.
    pub sources: u64,
    /// User names locked.
    pub users: u64,
}

impl Lockout {
    /// Nothing counted, nobody banned.
    pub fn new(mut cfg: LockoutConfig) -> Self {
        for s in &mut cfg.scanner_user_agents {
            *s = s.to_lowercase();
        }
        cfg.scanner_user_agents.retain(|s| !s.is_empty());
        Lockout {
            cfg,
            sources: HashMap::new(),
            users: HashMap::new(),
            good: HashMap::new(),
            events: VecDeque::new(),
            last_sweep_ms: None,
            issued: Issued::default(),
        }
    }

    fn trusted(&self, src: IpAddr) -> bool {
        self.cfg.trusted.iter().any(|n| n.contains(src))
    }

    /// Whether a request with this User-Agent comes from a known scanner
    /// (to be dropped unanswered).
    pub fn is_scanner(&self, user_agent: &str) -> bool {
        if self.cfg.scanner_user_agents.is_empty() {
            return false;
        }
        let ua = user_agent.to_lowercase();
        self.cfg.scanner_user_agents.iter().any(|s| ua.contains(s))
    }

    /// Whether every datagram from `src` must be dropped now.
    pub fn source_banned(&self, now_ms: i64, src: IpAddr) -> bool {
        let src = src.to_canonical();
        !self.trusted(src)
            && self
                .sources
                .get(&src)
                .and_then(|s| s.banned(now_ms))
                .is_some()
    }

    /// Whether a request from `src` for `user` may try its credentials.
    pub fn admit(&self, now_ms: i64, src: IpAddr, user: &str) -> Admission {
        let src = src.to_canonical();
        if self.trusted(src) {
            return Admission::Allowed;
        }
        if let Some(until_ms) = self.sources.get(&src).and_then(|s| s.banned(now_ms)) {
            return Admission::SourceBanned { until_ms };
        }
        let locked = self.users.get(user).and_then(|s| s.banned(now_ms));
        let good = self
            .good
            .get(&(user.to_string(), src))
            .is_some_and(|until| *until > now_ms);
        match locked {
            Some(until_ms) if !good => Admission::UserLocked { until_ms },
            _ => Admission::Allowed,
        }
    }

    /// A digest answer from `src` for `user` was checked and was wrong.
    pub fn failed(&mut self, now_ms: i64, src: IpAddr, user: &str) {
        let src = src.to_canonical();
        if self.trusted(src) {
            return;
        }
        self.sweep(now_ms);
        let cfg = &self.cfg;
        let room = self.sources.len() < cfg.max_tracked;
        if let Some(s) = match self.sources.get_mut(&src) {
            Some(s) => Some(s),
            None if room => Some(self.sources.entry(src).or_default()),
            None => None,
        } {
            if let Some((until_ms, failures)) = s.fail(now_ms, cfg.source_failures, cfg) {
                self.issued.sources += 1;
                self.events.push_back(LockoutEvent::Banned {
                    ban: Ban {
                        target: BanTarget::Source(src),
                        until_ms,
                        offences: s.offences,
                    },
                    failures,
                    source: src,
                    user: user.to_string(),
                });
            }
        }
        let room = self.users.len() < cfg.max_tracked;
        if !room && !self.users.contains_key(user) {
            return;
        }
        let u = self.users.entry(user.to_string()).or_default();
        if let Some((until_ms, failures)) = u.fail(now_ms, cfg.user_failures, cfg) {
            self.issued.users += 1;
            self.events.push_back(LockoutEvent::Banned {
                ban: Ban {
                    target: BanTarget::User(user.to_string()),
                    until_ms,
                    offences: u.offences,
                },
                failures,
                source: src,
                user: user.to_string(),
            });
        }
    }

    /// `src` tried `user` while the name is locked for it: nothing is
    /// checked, but the try counts against the source (whoever keeps
    /// guessing at a locked name ends up banned and dropped).
    pub fn failed_while_locked(&mut self, now_ms: i64, src: IpAddr, user: &str) {
        let src = src.to_canonical();
        if self.trusted(src) {
            return;
        }
        self.sweep(now_ms);
        let cfg = &self.cfg;
        if self.sources.len() >= cfg.max_tracked && !self.sources.contains_key(&src) {
            return;
        }
        let s = self.sources.entry(src).or_default();
        if let Some((until_ms, failures)) = s.fail(now_ms, cfg.source_failures, cfg) {
            self.issued.sources += 1;
            self.events.push_back(LockoutEvent::Banned {
                ban: Ban {
                    target: BanTarget::Source(src),
                    until_ms,
                    offences: s.offences,
                },
                failures,
                source: src,
                user: user.to_string(),
            });
        }
    }

    /// `src` proved `user`'s password: it stays exempt from that user's lock.
    pub fn succeeded(&mut self, now_ms: i64, src: IpAddr, user: &str) {
        let src = src.to_canonical();
        self.sweep(now_ms);
        let key = (user.to_string(), src);
        if self.good.len() < self.cfg.max_tracked || self.good.contains_key(&key) {
            self.good
                .insert(key, now_ms.saturating_add(self.cfg.remember_good_ms));
        }
    }

    /// The bans and locks in force, sources first.
    pub fn bans(&self, now_ms: i64) -> Vec<Ban> {
        let mut out: Vec<Ban> = self
            .sources
            .iter()
            .filter_map(|(ip, s)| {
                Some(Ban {
                    target: BanTarget::Source(*ip),
                    until_ms: s.banned(now_ms)?,
                    offences: s.offences,
                })
            })
            .chain(self.users.iter().filter_map(|(u, s)| {
                Some(Ban {
                    target: BanTarget::User(u.clone()),
                    until_ms: s.banned(now_ms)?,
                    offences: s.offences,
                })
            }))
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Lifts a ban or lock (a supervisor's decision): its failures and
    /// offences are forgotten. False if `target` was not banned.
    pub fn lift(&mut self, now_ms: i64, target: &BanTarget) -> bool {
        let strikes = match target {
            BanTarget::Source(ip) => self.sources.get_mut(&ip.to_canonical()),
            BanTarget::User(u) => self.users.get_mut(u),
        };
        match strikes {
            Some(s) if s.banned(now_ms).is_some() => {
                *s = Strikes::default();
                self.events.push_back(LockoutEvent::Lifted {
                    target: target.clone(),
                });
                true
            }
            _ => false,
        }
    }

    /// The next thing the operator must learn, oldest first.
    pub fn poll_event(&mut self) -> Option<LockoutEvent> {
        self.events.pop_front()
    }

    /// Bans and locks issued since the start.
    pub fn issued(&self) -> Issued {
        self.issued
    }

    /// How many sources, user names and (user, source) proofs are tracked
    /// now (each at most [`LockoutConfig::max_tracked`]).
    pub fn tracked(&self) -> (usize, usize, usize) {
        (self.sources.len(), self.users.len(), self.good.len())
    }

    /// When a table is full, forgets what no longer matters (at most once a
    /// second, so a spray of new names cannot make every failure a sweep).
    fn sweep(&mut self, now_ms: i64) {
        let full = self.sources.len() >= self.cfg.max_tracked
            || self.users.len() >= self.cfg.max_tracked
            || self.good.len() >= self.cfg.max_tracked;
        if !full
            || self
                .last_sweep_ms
                .is_some_and(|t| now_ms.saturating_sub(t) < 1_000)
        {
            return;
        }
        self.last_sweep_ms = Some(now_ms);
        let cfg = &self.cfg;
        self.sources.retain(|_, s| s.live(now_ms, cfg));
        self.users.retain(|_, s| s.live(now_ms, cfg));
        self.good.retain(|_, until| *until > now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cfg() -> LockoutConfig {
        LockoutConfig {
            source_failures: 3,
            user_failures: 4,
            window_ms: 60_000,
            ban_ms: 10_000,
            max_ban_ms: 40_000,
            remember_good_ms: 3_600_000,
            trusted: vec![],
            max_tracked: 100,
            scanner_user_agents: vec![],
        }
    }

    #[test]
    fn scanners_are_told_by_their_user_agent_when_asked() {
        let l = Lockout::new(LockoutConfig::default());
        assert!(l.is_scanner("friendly-scanner"));
        assert!(l.is_scanner("SIPVicious 0.3.8"));
        assert!(!l.is_scanner("baresip v1.0.0 (x86_64/linux)"));
        assert!(!l.is_scanner(""));
        let none = Lockout::new(LockoutConfig {
            scanner_user_agents: vec!["".into()],
            ..LockoutConfig::default()
        });
        assert!(
            !none.is_scanner("friendly-scanner"),
            "an empty pattern matches nothing"
        );
        let custom = Lockout::new(LockoutConfig {
            scanner_user_agents: vec!["EvilDialer".into()],
            ..LockoutConfig::default()
        });
        assert!(custom.is_scanner("evildialer/2"));
        assert!(!custom.is_scanner("friendly-scanner"));
    }

    #[test]
    fn a_source_is_banned_at_the_threshold_inside_the_window_only() {
        let mut l = Lockout::new(cfg());
        let a = ip("192.0.2.1");
        // two failures, then the window moves on: no ban
        l.failed(0, a, "1001");
        l.failed(1_000, a, "1001");
        l.failed(61_000, a, "1002");
        l.failed(61_500, a, "1003");
        assert_eq!(l.admit(61_500, a, "1003"), Admission::Allowed);
        assert_eq!(l.poll_event(), None);
        // three inside 60 s: banned for 10 s
        l.failed(62_000, a, "1004");
        assert_eq!(
            l.admit(62_001, a, "x"),
            Admission::SourceBanned { until_ms: 72_000 }
        );
        assert!(l.source_banned(71_999, a));
        assert!(!l.source_banned(72_000, a));
        assert!(
            !l.source_banned(62_001, ip("192.0.2.2")),
            "others keep working"
        );
        match l.poll_event() {
            Some(LockoutEvent::Banned {
                ban,
                failures,
                source,
                user,
            }) => {
                assert_eq!(ban.target, BanTarget::Source(a));
                assert_eq!((ban.until_ms, ban.offences, failures), (72_000, 1, 3));
                assert_eq!((source, user.as_str()), (a, "1004"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(l.poll_event(), None);
    }

    #[test]
    fn repeat_bans_double_up_to_the_maximum_and_a_quiet_period_forgives() {
        let mut l = Lockout::new(LockoutConfig {
            user_failures: 0,
            ..cfg()
        });
        let a = ip("192.0.2.1");
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..5 {
            for _ in 0..3 {
                l.failed(now, a, "u");
            }
            let Admission::SourceBanned { until_ms } = l.admit(now, a, "u") else {
                panic!("not banned at {now}");
            };
            lengths.push(until_ms - now);
            now = until_ms;
        }
        assert_eq!(lengths, [10_000, 20_000, 40_000, 40_000, 40_000]);
        // quiet for the longest ban: the next ban is the first again
        now += 40_000;
        for _ in 0..3 {
            l.failed(now, a, "u");
        }
        assert_eq!(
            l.admit(now, a, "u"),
            Admission::SourceBanned {
                until_ms: now + 10_000
            }
        );
    }

    #[test]
    fn known_and_unknown_names_lock_alike_and_a_good_source_keeps_working() {
        let mut l = Lockout::new(LockoutConfig {
            source_failures: 0,
            ..cfg()
        });
        let phone = ip("10.0.0.5");
        l.succeeded(0, phone, "1001");
        // four guessers, one try each, for a real and a made-up name
        for (i, user) in ["1001", "nosuchuser"].iter().enumerate() {
            for g in 0..4 {
                l.failed(1_000 + i as i64, ip(&format!("198.51.100.{g}")), user);
            }
        }
        let locked = Admission::UserLocked { until_ms: 11_000 };
        let fresh = ip("203.0.113.9");
        assert_eq!(l.admit(1_001, fresh, "1001"), locked);
        assert_eq!(
            l.admit(1_001, fresh, "nosuchuser"),
            Admission::UserLocked { until_ms: 11_001 }
        );
        assert_eq!(
            l.admit(1_001, phone, "1001"),
            Admission::Allowed,
            "the agent's own phone"
        );
        assert_eq!(
            l.admit(1_001, phone, "nosuchuser"),
            Admission::UserLocked { until_ms: 11_001 }
        );
        assert_eq!(l.admit(11_001, fresh, "nosuchuser"), Admission::Allowed);
        let bans = l.bans(1_001);
        assert_eq!(
            bans.iter().map(|b| b.target.clone()).collect::<Vec<_>>(),
            [
                BanTarget::User("1001".into()),
                BanTarget::User("nosuchuser".into())
            ]
        );
    }

    #[test]
    fn guessing_on_at_a_locked_name_bans_the_source() {
        let mut l = Lockout::new(cfg());
        let a = ip("192.0.2.1");
        // four failures lock the name (the source threshold is three, so
        // use two sources)
        l.failed(0, a, "1001");
        l.failed(1, a, "1001");
        l.failed(2, ip("192.0.2.2"), "1001");
        l.failed(3, ip("192.0.2.2"), "1001");
        assert_eq!(
            l.admit(4, a, "1001"),
            Admission::UserLocked { until_ms: 10_003 }
        );
        while l.poll_event().is_some() {}
        // a's third try (at a locked name) bans a
        l.failed_while_locked(5, a, "1001");
        assert_eq!(
            l.admit(6, a, "other"),
            Admission::SourceBanned { until_ms: 10_005 }
        );
        assert!(matches!(
            l.poll_event(),
            Some(LockoutEvent::Banned {
                ban: Ban {
                    target: BanTarget::Source(_),
                    ..
                },
                ..
            })
        ));
        // trusted sources are not counted this way either
        let mut l = Lockout::new(LockoutConfig {
            trusted: vec!["192.0.2.0/24".parse().unwrap()],
            ..cfg()
        });
        for t in 0..10 {
            l.failed_while_locked(t, a, "1001");
        }
        assert!(!l.source_banned(11, a));
    }

    #[test]
    fn trusted_networks_are_never_counted_and_loopback_is_not_trusted_by_default() {
        let mut l = Lockout::new(LockoutConfig {
            trusted: vec!["10.1.0.0/16".parse().unwrap()],
            ..cfg()
        });
        for _ in 0..10 {
            l.failed(0, ip("10.1.200.3"), "1001");
            l.failed(0, ip("127.0.0.1"), "1002");
        }
        assert_eq!(l.admit(1, ip("10.1.200.3"), "1003"), Admission::Allowed);
        assert!(l.source_banned(1, ip("127.0.0.1")));
        assert!(
            l.source_banned(1, ip("::ffff:127.0.0.1")),
            "IPv4-mapped is the same source"
        );
        assert!(!l.source_banned(1, ip("10.1.200.3")));
        // only 1002 was counted (from loopback), 10 times: locked
        assert!(matches!(
            l.admit(1, ip("10.2.0.1"), "1002"),
            Admission::UserLocked { .. }
        ));
        assert_eq!(l.admit(1, ip("10.2.0.1"), "1001"), Admission::Allowed);
    }

    #[test]
    fn a_supervisor_lifts_a_ban_and_the_slate_is_clean() {
        let mut l = Lockout::new(cfg());
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            l.failed(0, a, "1001");
        }
        l.poll_event();
        assert!(l.lift(5, &BanTarget::Source(a)));
        assert_eq!(
            l.poll_event(),
            Some(LockoutEvent::Lifted {
                target: BanTarget::Source(a)
            })
        );
        assert!(!l.lift(5, &BanTarget::Source(a)), "not banned any more");
        assert!(!l.lift(5, &BanTarget::User("ghost".into())));
        assert_eq!(l.admit(5, a, "1001"), Admission::Allowed);
        // offences forgotten: the next ban is the first length again
        for _ in 0..3 {
            l.failed(10, a, "1001");
        }
        assert_eq!(
            l.admit(10, a, "x"),
            Admission::SourceBanned { until_ms: 10_010 }
        );
    }

    #[test]
    fn a_spray_of_names_and_sources_stays_bounded() {
        let mut l = Lockout::new(LockoutConfig {
            max_tracked: 50,
            ..cfg()
        });
        for i in 0..10_000u32 {
            let src = IpAddr::from([198, 18, (i >> 8) as u8, i as u8]);
            l.failed(i64::from(i) * 10, src, &format!("user{i}"));
            l.succeeded(i64::from(i) * 10, src, &format!("user{i}"));
        }
        assert!(l.sources.len() <= 50 && l.users.len() <= 50 && l.good.len() <= 50);
        // still works for a new attacker once the window has passed
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            l.failed(10_000_000, a, "1001");
        }
        assert!(l.source_banned(10_000_001, a));
    }

    #[test]
    fn networks_parse_and_match_and_bad_ones_are_refused_by_name() {
        let n: IpNet = "192.168.0.0/16".parse().unwrap();
        assert!(n.contains(ip("192.168.44.1")) && !n.contains(ip("192.169.0.1")));
        assert!(!n.contains(ip("::1")));
        let one: IpNet = "2001:db8::7".parse().unwrap();
        assert_eq!(one.to_string(), "2001:db8::7/128");
        assert!(one.contains(ip("2001:db8::7")) && !one.contains(ip("2001:db8::8")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert_eq!(
            "10.0.0.0/33".parse::<IpNet>(),
            Err(IpNetError::Prefix("33".into()))
        );
        assert_eq!(
            "10.0.0.0/x".parse::<IpNet>(),
            Err(IpNetError::Prefix("x".into()))
        );
        assert_eq!(
            "localhost".parse::<IpNet>(),
            Err(IpNetError::Address("localhost".into()))
        );
        assert!("".parse::<IpNet>().is_err());
        assert!("::/129".parse::<IpNet>().is_err());
    }

    #[test]
    fn bans_issued_are_counted_and_stay_counted_after_lifts_and_ends() {
        let mut l = Lockout::new(cfg());
        assert_eq!(l.issued(), Issued::default());
        let a = ip("192.0.2.1");
        for t in 0..4 {
            l.failed(t, a, "1001");
        }
        // 3 failures ban the source, the 4th locks the name
        assert_eq!(
            l.issued(),
            Issued {
                sources: 1,
                users: 1
            }
        );
        assert_eq!(l.bans(10).len(), 2);
        assert!(l.lift(10, &BanTarget::Source(a)));
        // the lifted source guesses again: a second ban
        for t in 20..23 {
            l.failed(t, a, "1002");
        }
        // a locked name tried again from elsewhere counts against that source
        let b = ip("192.0.2.2");
        for t in 30..33 {
            l.failed_while_locked(t, b, "1001");
        }
        assert_eq!(
            l.issued(),
            Issued {
                sources: 3,
                users: 1
            }
        );
        // bans end; the counter does not go back
        assert!(l.bans(1_000_000).is_empty());
        assert_eq!(
            l.issued(),
            Issued {
                sources: 3,
                users: 1
            }
        );
        // trusted sources are never banned nor counted
        let mut t = Lockout::new(LockoutConfig {
            trusted: vec!["192.0.2.0/24".parse().unwrap()],
            ..cfg()
        });
        for n in 0..10 {
            t.failed(n, a, "1001");
        }
        assert_eq!(t.issued().sources, 0);
    }
}
