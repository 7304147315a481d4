//! A carrier trunk as the SIP layer sees it: where calls to customers go,
//! with which credentials (the carrier's digest challenge to our INVITE is
//! answered with them) and which caller id. The engine decides when a trunk
//! may be used (health, channel limit, number format); this module only
//! builds the INVITE and the OPTIONS probe.

use crate::location::SipTransport;
use std::net::SocketAddr;

/// One carrier trunk (`[[trunks]]` in the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrunkTarget {
    /// Its name in the config and the events.
    pub name: String,
    /// The carrier's SIP address.
    pub address: SocketAddr,
    /// UDP or TCP.
    pub transport: SipTransport,
    /// The host part of the Request-URI (`sip:{number}@{domain}`); the
    /// address when the carrier gives no domain.
    pub domain: String,
    /// Digest credentials, if the carrier challenges.
    pub auth: Option<TrunkAuth>,
    /// The user part of our From (the caller id the carrier shows), e.g.
    /// the hotline's public number.
    pub caller_id: String,
}

/// The carrier's digest credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkAuth {
    /// Digest user name.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// The realm, if the carrier's challenge must match one.
    pub realm: Option<String>,
}

impl std::fmt::Debug for TrunkAuth {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkAuth")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl TrunkTarget {
    /// The Request-URI for `number` (already in the carrier's format).
    pub fn uri_for(&self, number: &str) -> String {
        format!("sip:{number}@{}", self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let a = TrunkAuth {
            username: "hotline".into(),
            password: "s3cret-pass".into(),
            realm: None,
        };
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
