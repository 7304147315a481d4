//! The UDP socket under the SIP stack, with a gate in front of it.
//!
//! Every datagram passes here before rsipstack sees it: floods from one source
//! are throttled, datagrams over 8 KiB are dropped unanswered (counted),
//! unparseable messages are answered `400 Bad
//! Request` when a response can be routed (it goes back to the packet's source,
//! never to a host named inside the message) and are dropped otherwise. rsipstack
//! alone drops them silently. Sources banned for password guessing
//! ([`crate::lockout`]) are dropped before anything else is read.

use crate::lockout::Lockout;
use hotline_core::Clock;
use rsipstack::sip::prelude::ToTypedHeader;
use rsipstack::sip::{HeadersExt, SipMessage};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counters of what the gate turned away.
#[derive(Debug, Default)]
pub struct GuardStats {
    /// Datagrams answered 400 or dropped because they did not parse.
    pub malformed: AtomicU64,
    /// Datagrams dropped by the per-source rate limit.
    pub throttled: AtomicU64,
    /// Datagrams dropped because their source is banned (password guessing).
    pub banned: AtomicU64,
    /// Datagrams dropped because their User-Agent is a known scanner's.
    pub scanners: AtomicU64,
    /// Datagrams over [`MAX_SIP_DATAGRAM`] bytes: dropped unanswered.
    pub oversized: AtomicU64,
}

/// Largest SIP datagram accepted: rsipstack reads datagrams into 8 KiB and
/// would cut a longer one silently. RFC 3261 §18.1.1 sends anything within
/// 200 bytes of the MTU over TCP; an INVITE with a generous SDP is a few KiB.
pub const MAX_SIP_DATAGRAM: usize = 8_191;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A tokio UDP socket that filters what reaches the SIP stack.
pub(crate) struct GuardedUdpSocket {
    socket: tokio::net::UdpSocket,
    rate_per_s: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    server_name: String,
    pub(crate) stats: Arc<GuardStats>,
    lockout: Arc<Mutex<Lockout>>,
    clock: Arc<dyn Clock>,
}

impl GuardedUdpSocket {
    pub(crate) fn new(
        socket: tokio::net::UdpSocket,
        rate_per_s: u32,
        server_name: &str,
        stats: Arc<GuardStats>,
        lockout: Arc<Mutex<Lockout>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let rate = f64::from(rate_per_s.max(1));
        GuardedUdpSocket {
            socket,
            rate_per_s: rate,
            burst: rate * 2.0,
            buckets: Mutex::new(HashMap::new()),
            server_name: server_name.to_string(),
            stats,
            lockout,
            clock,
        }
    }

    /// Whether the datagram is dropped unanswered, so its sender learns
    /// nothing: its source is banned for password guessing, or it names a
    /// known scanner as its User-Agent.
    fn screen(&self, ip: IpAddr, packet: &[u8]) -> Option<&AtomicU64> {
        let now = self.clock.now_ms();
        let ua = user_agent(packet);
        let l = self.lockout.lock().ok()?;
        if l.source_banned(now, ip) {
            Some(&self.stats.banned)
        } else if ua.as_deref().is_some_and(|ua| l.is_scanner(ua)) {
            Some(&self.stats.scanners)
        } else {
            None
        }
    }

    /// Token bucket per source IP. Wall-clock time is fine here: this is the IO shell.
    fn admit(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() > 100_000 {
            // bound memory under a spoofed-source flood: forget idle sources
            buckets.retain(|_, b| now.duration_since(b.last).as_secs() < 10);
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate_per_s).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to do with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inspection {
    /// Hand it to the stack.
    Pass,
    /// Drop it; send this response (if any) back to the source.
    Reject(Option<Vec<u8>>),
}

/// Checks one datagram. Public to the crate for tests.
pub(crate) fn inspect(packet: &[u8], server_name: &str) -> Inspection {
    // keep-alives (CRLF) and whitespace are the stack's business
    if packet.iter().all(|b| b.is_ascii_whitespace()) {
        return Inspection::Pass;
    }
    // RFC 3261 §8.2.1 / RFC 4475 badvers: a request of another SIP version
    if let Some(version) = request_version(packet) {
        if version != "SIP/2.0" {
            return Inspection::Reject(error_response(
                packet,
                server_name,
                "505 Version Not Supported",
            ));
        }
    }
    match SipMessage::try_from(packet) {
        Ok(SipMessage::Request(req)) => {
            let complete = req.via_header().is_ok()
                && req.from_header().is_ok()
                && req.to_header().is_ok()
                && req.call_id_header().is_ok()
                && req.cseq_header().is_ok();
            let cseq_ok = req
                .cseq_header()
                .ok()
                .and_then(|c| c.method().ok())
                .map(|m| m == req.method)
                .unwrap_or(false);
            let from_ok = req
                .from_header()
                .ok()
                .map(|f| f.typed().is_ok())
                .unwrap_or(false);
            let to_ok = req
                .to_header()
                .ok()
                .map(|t| t.typed().is_ok())
                .unwrap_or(false);
            let length_ok = match declared_length(packet) {
                None => true,
                Some(Ok(l)) => l == body_len(packet),
                // negative or not a number (RFC 4475 ncl)
                Some(Err(())) => false,
            };
            if complete && cseq_ok && from_ok && to_ok && length_ok {
                Inspection::Pass
            } else if req.method == rsipstack::sip::Method::Ack {
                Inspection::Reject(None)
            } else {
                Inspection::Reject(bad_request(packet, server_name))
            }
        }
        // responses that do not parse are dropped; parsed ones go to their transaction
        Ok(SipMessage::Response(_)) => Inspection::Pass,
        Err(_) => {
            let is_request = !packet.starts_with(b"SIP/");
            let is_ack = packet.starts_with(b"ACK ");
            if is_request && !is_ack {
                Inspection::Reject(bad_request(packet, server_name))
            } else {
                Inspection::Reject(None)
            }
        }
    }
}

/// The User-Agent of a datagram, read from its raw header lines (None if it
/// has none among its first 100 lines).
fn user_agent(packet: &[u8]) -> Option<String> {
    let head = head_and_body(packet).0;
    head.split(|b| *b == b'\n')
        .skip(1)
        .take(100)
        .find_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = line[..colon].trim_ascii();
            name.eq_ignore_ascii_case(b"user-agent")
                .then(|| String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned())
        })
}

fn head_and_body(packet: &[u8]) -> (&[u8], &[u8]) {
    match packet.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&packet[..i], &packet[i + 4..]),
        None => (packet, &[][..]),
    }
}

fn body_len(packet: &[u8]) -> usize {
    head_and_body(packet).1.len()
}

/// The Content-Length header: None if absent, Err if not a non-negative number.
fn declared_length(packet: &[u8]) -> Option<Result<usize, ()>> {
    let head = String::from_utf8_lossy(head_and_body(packet).0);
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name == "l" {
            Some(value.trim().parse().map_err(|_| ()))
        } else {
            None
        }
    })
}

/// The protocol version at the end of a request line (`SIP/2.0`), if the
/// datagram starts with something shaped like one.
fn request_version(packet: &[u8]) -> Option<&str> {
    if packet.starts_with(b"SIP/") {
        return None;
    }
    let end = packet.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&packet[..end]).ok()?;
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (_method, _uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && version.starts_with("SIP/")).then_some(version)
}

/// Builds a best-effort `400 Bad Request` from the raw header lines, or None if
/// there is not enough to route one (no Via).
fn bad_request(packet: &[u8], server_name: &str) -> Option<Vec<u8>> {
    error_response(packet, server_name, "400 Bad Request")
}

/// Builds a best-effort error response (`status`: code and reason) from the raw
/// header lines, or None if there is not enough to route one (no Via).
fn error_response(packet: &[u8], server_name: &str, status: &str) -> Option<Vec<u8>> {
    let head = String::from_utf8_lossy(head_and_body(packet).0);
    let mut copied = Vec::new();
    let mut has_via = false;
    for line in head.lines().skip(1).take(100) {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let keep = matches!(
            name.as_str(),
            "via" | "v" | "from" | "f" | "to" | "t" | "call-id" | "i" | "cseq"
        );
        // a line that was not UTF-8 is not copied: the lossy conversion
        // makes three bytes of every invalid one, and the answer to a
        // spoofed datagram must not be larger than the datagram
        if keep
            && line.len() < 1024
            && line
                .chars()
                .all(|c| !c.is_control() && c != char::REPLACEMENT_CHARACTER)
        {
            has_via |= name == "via" || name == "v";
            copied.push(line.to_string());
        }
    }
    if !has_via {
        return None;
    }
    let mut out = format!("SIP/2.0 {status}\r\n");
    for l in copied {
        out.push_str(&l);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Server: {server_name}\r\nContent-Length: 0\r\n\r\n"
    ));
    Some(out.into_bytes())
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GuardedUdpSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, addr) = self.socket.recv_from(buf).await?;
            if len > MAX_SIP_DATAGRAM || len >= buf.len() {
                // a 64 KB datagram: nothing a phone sends; never answered
                // (an answer to a spoofed source would be a reflection)
                self.stats.oversized.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(src = %addr, len, "oversized SIP datagram dropped");
                continue;
            }
            if !self.admit(addr.ip()) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if let Some(counter) = self.screen(addr.ip(), &buf[..len]) {
                counter.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match inspect(&buf[..len], &self.server_name) {
                Inspection::Pass => return Ok((len, addr)),
                Inspection::Reject(resp) => {
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(src = %addr, len, "malformed SIP datagram rejected");
                    if let Some(resp) = resp {
                        self.socket.send_to(&resp, addr).await.ok();
                    }
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:hotline@127.0.0.1>\r\nCall-ID: x1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn valid_request_passes() {
        assert_eq!(inspect(OPTIONS.as_bytes(), "hotline"), Inspection::Pass);
    }

    fn status_line(m: &str) -> String {
        match inspect(m.as_bytes(), "hotline") {
            Inspection::Reject(Some(r)) => String::from_utf8(r)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_sip_versions_get_505_and_bad_lengths_400() {
        assert_eq!(
            status_line(&OPTIONS.replace(" SIP/2.0\r\nVia", " SIP/7.0\r\nVia")),
            "SIP/2.0 505 Version Not Supported"
        );
        assert_eq!(
            status_line(&OPTIONS.replace("Content-Length: 0", "Content-Length: -999")),
            "SIP/2.0 400 Bad Request"
        );
        assert_eq!(
            status_line(&OPTIONS.replace("Content-Length: 0", "Content-Length: zero")),
            "SIP/2.0 400 Bad Request"
        );
        assert_eq!(request_version(OPTIONS.as_bytes()), Some("SIP/2.0"));
        assert_eq!(request_version(b"SIP/2.0 200 OK\r\n"), None);
    }

    #[test]
    fn missing_call_id_gets_400_with_via() {
        let m = OPTIONS.replace("Call-ID: x1\r\n", "");
        match inspect(m.as_bytes(), "hotline") {
            Inspection::Reject(Some(r)) => {
                let r = String::from_utf8(r).unwrap();
                assert!(r.starts_with("SIP/2.0 400"));
                assert!(r.contains("branch=z9hG4bK1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cseq_method_mismatch_and_bad_length_rejected() {
        let m = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        assert!(matches!(
            inspect(m.as_bytes(), "hotline"),
            Inspection::Reject(Some(_))
        ));
        let m = OPTIONS.replace("Content-Length: 0", "Content-Length: 500");
        assert!(matches!(
            inspect(m.as_bytes(), "hotline"),
            Inspection::Reject(Some(_))
        ));
    }

    #[test]
    fn the_user_agent_is_read_from_the_raw_header_lines() {
        let with = OPTIONS.replace(
            "Max-Forwards: 70\r\n",
            "user-agent :  friendly-scanner \r\nMax-Forwards: 70\r\n",
        );
        assert_eq!(
            user_agent(with.as_bytes()).as_deref(),
            Some("friendly-scanner")
        );
        assert_eq!(user_agent(OPTIONS.as_bytes()), None);
        // not in the body, not in the request line
        let body = OPTIONS.replace(
            "Content-Length: 0\r\n\r\n",
            "Content-Length: 22\r\n\r\nUser-Agent: in-the-body",
        );
        assert_eq!(user_agent(body.as_bytes()), None);
        assert_eq!(user_agent(b"User-Agent: x\r\n\r\n"), None);
        assert_eq!(user_agent(b""), None);
    }

    #[test]
    fn garbage_without_via_is_dropped_silently() {
        for g in [
            &b"\x00\x01\x02garbage"[..],
            b"INVITE\r\n\r\n",
            b"SIP/2.0 200\r\n",
            &[0xff; 2000],
        ] {
            assert_eq!(inspect(g, "hotline"), Inspection::Reject(None));
        }
    }
}
