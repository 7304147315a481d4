//! Password guessing on SIP, for the operator (issue 19): the bans and
//! locks of the SIP server's lockout (`hotline_sip::lockout`) as the
//! supervisors see them — listed and lifted through [`SipBans`] (the HTTP
//! API's handle) and written to the audit log as they happen
//! ([`spawn_audit`]), next to logins and recording access.

use hotline_core::{Clock, SystemClock};
use hotline_sip::SipServer;
use std::sync::Arc;
use tracing::{info, warn};

pub use hotline_sip::lockout::{Ban, BanTarget, LockoutEvent};

/// Who the audit log names for bans the engine decided itself.
pub const AUDIT_WHO: &str = "engine:sip-lockout";

/// What the defence dropped so far, since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    /// UDP datagrams from banned sources.
    pub banned_datagrams: u64,
    /// TCP connections from banned sources, closed at once.
    pub banned_connections: u64,
    /// Requests whose User-Agent is a known scanner's.
    pub scanner_requests: u64,
}

/// The rest of the SIP defence's counters since the start: what the UDP
/// gate turned away besides banned sources and scanners, and the bans and
/// locks issued (the `/metrics` families of the defence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateCounters {
    /// Datagrams that did not parse (answered 400 when a response can be
    /// routed, else dropped); the stack never saw them.
    pub malformed_datagrams: u64,
    /// Datagrams dropped by the per-source rate limit.
    pub throttled_datagrams: u64,
    /// Datagrams over 8 KiB, dropped unanswered.
    pub oversized_datagrams: u64,
    /// Sources banned so far (lifts and ends do not lower it).
    pub sources_banned: u64,
    /// User names locked so far.
    pub users_locked: u64,
}

/// Where bans are kept: the SIP server (or, in tests, a lockout of their own).
pub trait BanBook: Send + Sync {
    /// The bans and locks in force now, sources first.
    fn bans(&self) -> Vec<Ban>;
    /// Lifts one; false if it was not banned.
    fn lift(&self, target: &BanTarget) -> bool;
    /// The time bans are compared with, epoch ms.
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms()
    }
    /// What was dropped so far.
    fn dropped(&self) -> Dropped {
        Dropped::default()
    }
    /// The gate's other counters and the bans issued so far.
    fn counters(&self) -> GateCounters {
        GateCounters::default()
    }
}

impl BanBook for SipServer {
    fn bans(&self) -> Vec<Ban> {
        self.auth_bans()
    }

    fn lift(&self, target: &BanTarget) -> bool {
        self.lift_auth_ban(target)
    }

    fn dropped(&self) -> Dropped {
        use std::sync::atomic::Ordering::Relaxed;
        Dropped {
            banned_datagrams: self.banned_dropped_count(),
            banned_connections: self.tcp_stats().banned.load(Relaxed),
            scanner_requests: self.scanner_dropped_count(),
        }
    }

    fn counters(&self) -> GateCounters {
        let issued = self.auth_bans_issued();
        GateCounters {
            malformed_datagrams: self.malformed_count(),
            throttled_datagrams: self.throttled_count(),
            oversized_datagrams: self.oversized_count(),
            sources_banned: issued.sources,
            users_locked: issued.users,
        }
    }
}

/// The HTTP API's handle on the bans: none when no SIP server runs
/// (`Default`).
#[derive(Clone, Default)]
pub struct SipBans {
    book: Option<Arc<dyn BanBook>>,
}

impl SipBans {
    /// The bans of `book` (the running SIP server).
    pub fn new(book: Arc<dyn BanBook>) -> Self {
        SipBans { book: Some(book) }
    }

    /// Whether a SIP server stands behind the handle.
    pub fn enabled(&self) -> bool {
        self.book.is_some()
    }

    /// The bans in force and the time they were read at (epoch ms).
    pub fn list(&self) -> (Vec<Ban>, i64) {
        match &self.book {
            Some(b) => (b.bans(), b.now_ms()),
            None => (Vec::new(), SystemClock.now_ms()),
        }
    }

    /// What the defence dropped so far (zeros when no server runs).
    pub fn dropped(&self) -> Dropped {
        self.book.as_ref().map(|b| b.dropped()).unwrap_or_default()
    }

    /// The gate's other counters and the bans issued (zeros when no server runs).
    pub fn counters(&self) -> GateCounters {
        self.book.as_ref().map(|b| b.counters()).unwrap_or_default()
    }

    /// Lifts a ban; false if `target` was not banned (or no server runs).
    pub fn lift(&self, target: &BanTarget) -> bool {
        self.book.as_ref().is_some_and(|b| b.lift(target))
    }
}

/// The audit entry of a lockout event at `now_ms`: (action, reason), None
/// for a lift (the API writes that one, naming the supervisor).
pub fn audit_entry(e: &LockoutEvent, now_ms: i64) -> Option<(&'static str, String)> {
    match e {
        LockoutEvent::Banned {
            ban,
            failures,
            source,
            user,
        } => {
            let secs = (ban.until_ms.saturating_sub(now_ms).max(0) + 999) / 1000;
            let action = match ban.target {
                BanTarget::Source(_) => "sip_ban",
                BanTarget::User(_) => "sip_lock",
            };
            Some((
                action,
                format!(
                    "{} for {secs} s (offence {}) after {failures} failed digest answers; last from {source} as user {}",
                    ban.target,
                    ban.offences,
                    shown(user)
                ),
            ))
        }
        LockoutEvent::Lifted { .. } => None,
    }
}

/// A user name as written in the log: at most 64 characters, control
/// characters escaped (a guesser chooses it).
pub fn shown(user: &str) -> String {
    let mut s: String = user.chars().take(64).flat_map(char::escape_debug).collect();
    if user.chars().count() > 64 {
        s.push('…');
    }
    s
}

/// Writes every ban and lock of `sip` to the audit log as it happens, until
/// the server stops.
pub fn spawn_audit(sip: &SipServer, store: hotline_store::Store) -> tokio::task::JoinHandle<()> {
    let mut events = sip.auth_events();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    warn!(
                        target: "hotline::security",
                        lost = n,
                        "SIP lockout events came faster than the audit log took them"
                    );
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let now = SystemClock.now_ms();
            let Some((action, reason)) = audit_entry(&e, now) else {
                continue;
            };
            match store
                .append_audit(now, AUDIT_WHO, action, None, &reason)
                .await
            {
                Ok(_) => info!(target: "hotline::security", %action, %reason, "audited"),
                Err(err) => {
                    warn!(error = %err, %action, "cannot write the SIP ban to the audit log")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_sip::lockout::{Lockout, LockoutConfig};
    use std::sync::Mutex;

    struct Book(Mutex<Lockout>, i64);

    impl BanBook for Book {
        fn bans(&self) -> Vec<Ban> {
            self.0.lock().unwrap().bans(self.1)
        }
        fn lift(&self, target: &BanTarget) -> bool {
            self.0.lock().unwrap().lift(self.1, target)
        }
        fn now_ms(&self) -> i64 {
            self.1
        }
    }

    #[test]
    fn bans_and_locks_become_audit_entries_with_their_length_and_lifts_do_not() {
        let mut l = Lockout::new(LockoutConfig {
            source_failures: 3,
            user_failures: 3,
            ban_ms: 30_000,
            ..LockoutConfig::default()
        });
        let src: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        for t in 0..3 {
            l.failed(1_000 + t, src, "1001");
        }
        let events: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        let (a, r) = audit_entry(&events[0], 1_002).unwrap();
        assert_eq!(a, "sip_ban");
        assert_eq!(
            r,
            "source 203.0.113.9 for 30 s (offence 1) after 3 failed digest answers; last from 203.0.113.9 as user 1001"
        );
        let (a, r) = audit_entry(&events[1], 1_002).unwrap();
        assert_eq!(a, "sip_lock");
        assert!(r.starts_with("user 1001 for 30 s"), "{r}");
        assert!(audit_entry(
            &LockoutEvent::Lifted {
                target: BanTarget::User("1001".into())
            },
            0
        )
        .is_none());
    }

    #[test]
    fn a_hostile_user_name_is_cut_and_escaped_in_the_log() {
        assert_eq!(shown("1001"), "1001");
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), 65);
    }

    #[test]
    fn the_handle_lists_and_lifts_through_its_book_and_is_empty_without_one() {
        let none = SipBans::default();
        assert!(!none.enabled());
        assert!(none.list().0.is_empty());
        assert!(!none.lift(&BanTarget::User("1001".into())));
        let mut l = Lockout::new(LockoutConfig {
            source_failures: 2,
            user_failures: 0,
            ..LockoutConfig::default()
        });
        let src: std::net::IpAddr = "198.51.100.1".parse().unwrap();
        l.failed(0, src, "1001");
        l.failed(1, src, "1002");
        let bans = SipBans::new(Arc::new(Book(Mutex::new(l), 10)));
        let (list, now) = bans.list();
        assert_eq!(now, 10);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].target, BanTarget::Source(src));
        assert!(!bans.lift(&BanTarget::User("1001".into())));
        assert!(bans.lift(&BanTarget::Source(src)));
        assert!(bans.list().0.is_empty());
        assert!(!bans.lift(&BanTarget::Source(src)), "lifted once only");
    }
}
