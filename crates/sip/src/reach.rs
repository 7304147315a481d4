//! Where a request to a registered agent goes.
//!
//! RFC 3261 §8.1.2 / §10: the Request-URI is the registered Contact and the
//! request is sent there. RFC 3327: a REGISTER that crossed proxies carries a
//! `Path`; requests to that contact then go through those proxies (their
//! URIs become `Route` headers, the first one is the next hop). Only where
//! NAT is evident is the REGISTER's source address used instead, the way
//! Kamailio's `nat_uac_test` (flag 1: the Contact is an RFC 1918 address)
//! and `fix_nated_contact` decide:
//!
//! - the agent is configured behind NAT (`nat = true`), or
//! - the Contact's host is an address nobody else can reach (unspecified
//!   `0.0.0.0`/`::`; private, shared (CGNAT) or link-local and not the
//!   address the REGISTER came from; loopback while the REGISTER came from
//!   elsewhere).
//!
//! Everything here is pure: [`target`] takes the binding's facts and
//! returns the decision, so it is tested without sockets.

use std::net::{IpAddr, SocketAddr};

/// Why a request goes where [`target`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Through the proxies of the REGISTER's `Path` (RFC 3327).
    Path,
    /// To the registered Contact (RFC 3261).
    Contact,
    /// To the REGISTER's source: the Contact is unreachable from here.
    NatEvident,
    /// To the REGISTER's source: the agent is configured `nat = true`.
    NatConfigured,
}

/// Where to send a request to one registered contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The next hop; None = resolve the Contact's (or the first Path
    /// hop's) host name.
    pub next_hop: Option<SocketAddr>,
    /// `Route` header values to put on the request (the stored Path, in order).
    pub route: Vec<String>,
    /// Why.
    pub reason: Reason,
}

/// Decides where a request to `contact` (registered from `source`, with the
/// REGISTER's `path`, for an agent configured `nat` or not) is sent.
pub fn target(contact: &str, source: SocketAddr, path: &[String], nat: bool) -> Target {
    if let Some(first) = path.first() {
        return Target {
            next_hop: uri_addr(first),
            route: path.to_vec(),
            reason: Reason::Path,
        };
    }
    let to_source = |reason| Target {
        next_hop: Some(source),
        route: Vec::new(),
        reason,
    };
    if nat {
        return to_source(Reason::NatConfigured);
    }
    match uri_addr(contact) {
        Some(addr) if nat_evident(addr.ip(), source.ip()) => to_source(Reason::NatEvident),
        next_hop => Target {
            next_hop,
            route: Vec::new(),
            reason: Reason::Contact,
        },
    }
}

/// Whether a Contact naming `contact` but registered from `source` is
/// evidently behind NAT (see the module documentation).
pub fn nat_evident(contact: IpAddr, source: IpAddr) -> bool {
    let contact = canonical(contact);
    let source = canonical(source);
    if contact.is_unspecified() {
        return true;
    }
    if contact == source {
        return false;
    }
    if contact.is_loopback() {
        return !source.is_loopback();
    }
    is_private(contact)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Private, shared or link-local: not reachable from outside its network.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// The address a SIP URI names when its host is an IP literal (`sip:u@1.2.3.4:5070;transport=udp`,
/// `<sip:[::1]:5070;lr>`); the port defaults to 5060 (5061 for `sips:`).
/// None for a host name (to be resolved) or anything unparsable.
pub fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let uri = uri.trim();
    let uri = match uri.find('<') {
        Some(i) => uri[i + 1..].split_once('>')?.0,
        None => uri,
    };
    let (rest, default_port) = if let Some(r) = strip_prefix_ci(uri, "sips:") {
        (r, 5061)
    } else {
        (strip_prefix_ci(uri, "sip:")?, 5060)
    };
    let rest = rest.split([';', '?']).next()?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (h, port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (hostport, default_port),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// The URIs of `Path` header values, in order (one header may list several,
/// comma-separated; commas inside `<...>` or quotes are part of a URI).
/// At most `max` entries: a longer Path is refused by the caller.
pub fn split_path(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let mut depth = 0u32;
        let mut quoted = false;
        let mut start = 0;
        for (i, c) in v.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '<' if !quoted => depth += 1,
                '>' if !quoted => depth = depth.saturating_sub(1),
                ',' if !quoted && depth == 0 => {
                    let part = v[start..i].trim();
                    if !part.is_empty() {
                        out.push(part.to_string());
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        let part = v[start..].trim();
        if !part.is_empty() {
            out.push(part.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_third_party_registration_is_rung_at_its_contact() {
        // registered from 127.0.0.3 for a phone listening on 127.0.0.2:5099
        let t = target(
            "sip:1001@127.0.0.2:5099;transport=udp",
            sa("127.0.0.3:5070"),
            &[],
            false,
        );
        assert_eq!(t.next_hop, Some(sa("127.0.0.2:5099")));
        assert_eq!(t.reason, Reason::Contact);
        // a phone that registers from one port and listens on another
        let t = target(
            "sip:1001@203.0.113.7:5062",
            sa("203.0.113.7:40000"),
            &[],
            false,
        );
        assert_eq!(t.next_hop, Some(sa("203.0.113.7:5062")));
        // a public Contact from another public address: RFC 3261 says Contact
        let t = target("sip:1001@198.51.100.9", sa("203.0.113.7:5060"), &[], false);
        assert_eq!(
            (t.next_hop, t.reason),
            (Some(sa("198.51.100.9:5060")), Reason::Contact)
        );
        // a host name is resolved by the stack
        let t = target(
            "sip:1001@phone.example.com:5070",
            sa("203.0.113.7:5060"),
            &[],
            false,
        );
        assert_eq!((t.next_hop, t.reason), (None, Reason::Contact));
        // the same private address as the source: a LAN phone, no NAT
        let t = target(
            "sip:1001@192.168.1.20:5060",
            sa("192.168.1.20:5060"),
            &[],
            false,
        );
        assert_eq!(
            (t.next_hop, t.reason),
            (Some(sa("192.168.1.20:5060")), Reason::Contact)
        );
    }

    #[test]
    fn a_nated_contact_is_rung_at_the_source() {
        for contact in [
            "sip:1001@192.168.1.20:5060",
            "sip:1001@10.1.2.3",
            "sip:1001@172.16.0.9:5062",
            "sip:1001@100.64.3.4:5060",
            "sip:1001@169.254.1.1",
            "sip:1001@0.0.0.0:5060",
            "sip:1001@[fd00::1]:5060",
            "sip:1001@[fe80::1]",
        ] {
            let t = target(contact, sa("127.0.0.1:40000"), &[], false);
            assert_eq!(
                (t.next_hop, t.reason),
                (Some(sa("127.0.0.1:40000")), Reason::NatEvident),
                "{contact}"
            );
        }
        // a loopback Contact from a remote source cannot be reached
        let t = target(
            "sip:1001@127.0.0.1:5060",
            sa("203.0.113.7:1024"),
            &[],
            false,
        );
        assert_eq!(t.reason, Reason::NatEvident);
        // a loopback Contact from loopback is fine (tests, a local softphone)
        let t = target("sip:1001@127.0.0.2:5099", sa("127.0.0.1:1024"), &[], false);
        assert_eq!(t.reason, Reason::Contact);
        // not private: 172.32/12 is outside 172.16/12, 100.128 outside the CGNAT range
        for contact in ["sip:1001@172.32.0.1", "sip:1001@100.128.0.1"] {
            assert_eq!(
                target(contact, sa("127.0.0.1:1"), &[], false).reason,
                Reason::Contact
            );
        }
        // an IPv4-mapped source equal to the Contact is the same address
        assert!(!nat_evident(
            "192.168.1.2".parse().unwrap(),
            "::ffff:192.168.1.2".parse().unwrap()
        ));
    }

    #[test]
    fn nat_configured_always_uses_the_source_and_path_wins_over_everything() {
        let t = target(
            "sip:1001@198.51.100.9:5060",
            sa("203.0.113.7:4000"),
            &[],
            true,
        );
        assert_eq!(
            (t.next_hop, t.reason),
            (Some(sa("203.0.113.7:4000")), Reason::NatConfigured)
        );
        let path = vec![
            "<sip:10.0.0.5:5070;lr>".to_string(),
            "<sip:edge.example.com;lr>".to_string(),
        ];
        for nat in [false, true] {
            let t = target("sip:1001@192.168.1.20", sa("127.0.0.1:5070"), &path, nat);
            assert_eq!(t.reason, Reason::Path);
            assert_eq!(t.next_hop, Some(sa("10.0.0.5:5070")));
            assert_eq!(t.route, path);
        }
        let t = target(
            "sip:1001@192.168.1.20",
            sa("127.0.0.1:5070"),
            &path[1..],
            false,
        );
        assert_eq!((t.next_hop, t.reason), (None, Reason::Path));
    }

    #[test]
    fn uri_addresses_are_read_or_refused() {
        assert_eq!(uri_addr("sip:127.0.0.1"), Some(sa("127.0.0.1:5060")));
        assert_eq!(uri_addr("sips:u@127.0.0.1"), Some(sa("127.0.0.1:5061")));
        assert_eq!(
            uri_addr("SIP:u@127.0.0.1:7;transport=tcp"),
            Some(sa("127.0.0.1:7"))
        );
        assert_eq!(
            uri_addr("\"A, B\" <sip:[::1]:5070;lr>;x=y"),
            Some(sa("[::1]:5070"))
        );
        assert_eq!(
            uri_addr("sip:u:pw@10.0.0.1:5080?subject=x"),
            Some(sa("10.0.0.1:5080"))
        );
        assert_eq!(uri_addr("sip:[::1]"), Some(sa("[::1]:5060")));
        for bad in [
            "",
            "sip:",
            "tel:+861234",
            "http://1.2.3.4",
            "sip:1.2.3.4:99999",
            "sip:1.2.3.4:x",
            "sip:[::1",
            "sip:[::1]x",
            "sip:300.1.1.1",
            "<sip:1.2.3.4",
            "sip:host.example",
        ] {
            assert_eq!(uri_addr(bad), None, "{bad:?}");
        }
        // hostile: very long, multibyte
        assert_eq!(uri_addr(&format!("sip:{}", "9".repeat(100_000))), None);
        assert_eq!(uri_addr("sip:电话@1.2.3.4"), Some(sa("1.2.3.4:5060")));
        assert_eq!(uri_addr("电"), None);
        assert_eq!(uri_addr("电话号码"), None);
    }

    #[test]
    fn path_values_split_on_commas_outside_brackets() {
        let v = vec![
            "<sip:p1.example.com;lr>, <sip:10.0.0.1;lr>".to_string(),
            "\"a,b\" <sip:p3;lr;x=\"1,2\">".to_string(),
            " , ".to_string(),
        ];
        assert_eq!(
            split_path(&v),
            vec![
                "<sip:p1.example.com;lr>".to_string(),
                "<sip:10.0.0.1;lr>".to_string(),
                "\"a,b\" <sip:p3;lr;x=\"1,2\">".to_string()
            ]
        );
        assert!(split_path(&[]).is_empty());
        assert_eq!(split_path(&["<<<,>".to_string()]).len(), 1);
    }
}
