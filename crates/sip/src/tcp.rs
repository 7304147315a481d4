//! SIP over TCP, accepted here before the stack reads a byte, so that a
//! slow-loris (a connection sending one byte a second) or a connection flood
//! is bounded:
//!
//! - at most [`TcpLimits::max_per_source`] connections from one IP address
//!   and [`TcpLimits::max_total`] in all; a banned source is refused;
//! - the first message's header block (up to the blank line) must arrive
//!   within [`TcpLimits::header_timeout`], else the connection is closed;
//! - afterwards a connection that delivers no complete request for
//!   [`TcpLimits::idle_timeout`] is closed (a registered phone refreshes its
//!   registration well within it).
//!
//! SIP over TLS goes through the same gate ([`crate::tls`]): its bytes are
//! ciphertext, so instead of peeking for the header block the handshake
//! must finish and the first complete request arrive within
//! [`TcpLimits::header_timeout`] of the accept.
//!
//! Every refusal and closing is counted ([`TcpStats`]). The connection is
//! handed to rsipstack as its own `TcpConnection`; a duplicate of the socket
//! kept here lets the watchdog shut it down (shutdown(2) ends the stack's
//! read loop, which retires the connection and cancels its token, which
//! ends the watchdog and releases the per-source slot).

use crate::lockout::Lockout;
use hotline_core::Clock;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Largest header block of a first message we wait for (a REGISTER's or an
/// INVITE's headers are a few hundred bytes to a few KiB).
const MAX_HEAD: usize = 16_384;

/// How often a connection still sending its first header block is looked at.
const PEEK_EVERY: Duration = Duration::from_millis(100);

/// Bounds on SIP-over-TCP connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections one IP address may hold at once.
    pub max_per_source: usize,
    /// Connections in all.
    pub max_total: usize,
    /// Time for the first message's header block.
    pub header_timeout: Duration,
    /// Longest time without a complete request before the connection is closed.
    pub idle_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_per_source: 16,
            max_total: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(3660),
        }
    }
}

/// Counters of the TCP gate.
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Connections accepted and handed to the stack.
    pub accepted: AtomicU64,
    /// Connections refused: too many from the source or in all.
    pub refused: AtomicU64,
    /// Connections refused: the source is banned.
    pub banned: AtomicU64,
    /// Connections closed: the first header block was too slow or too big.
    pub slow: AtomicU64,
    /// Connections closed: no complete request for the idle timeout.
    pub idle: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// TLS connections closed: the handshake failed (no certificate the
    /// client trusts, not TLS at all, a client certificate refused).
    pub handshake_failed: AtomicU64,
}

/// The open connections, by source, and when each last delivered a request.
#[derive(Default)]
struct Table {
    per_source: HashMap<IpAddr, usize>,
    last_request: HashMap<SocketAddr, Instant>,
    /// Connections that delivered a complete request (TLS: before that the
    /// header timeout applies).
    spoken: std::collections::HashSet<SocketAddr>,
    total: usize,
}

/// Accepts SIP-over-TCP (or, with an acceptor, SIP-over-TLS) connections
/// within [`TcpLimits`].
pub(crate) struct TcpGate {
    limits: TcpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stats: Arc<TcpStats>,
    table: Mutex<Table>,
    lockout: Arc<Mutex<Lockout>>,
    clock: Arc<dyn Clock>,
}

impl TcpGate {
    pub(crate) fn new(
        limits: TcpLimits,
        stats: Arc<TcpStats>,
        lockout: Arc<Mutex<Lockout>>,
        clock: Arc<dyn Clock>,
    ) -> Arc<TcpGate> {
        Arc::new(TcpGate {
            limits,
            tls: None,
            stats,
            table: Mutex::new(Table::default()),
            lockout,
            clock,
        })
    }

    /// The same gate for SIP over TLS: connections are handshaken with `acceptor`.
    pub(crate) fn new_tls(
        limits: TcpLimits,
        stats: Arc<TcpStats>,
        lockout: Arc<Mutex<Lockout>>,
        clock: Arc<dyn Clock>,
        acceptor: tokio_rustls::TlsAcceptor,
    ) -> Arc<TcpGate> {
        Arc::new(TcpGate {
            limits,
            tls: Some(acceptor),
            stats,
            table: Mutex::new(Table::default()),
            lockout,
            clock,
        })
    }

    /// A complete request arrived over the connection from `remote`.
    pub(crate) fn touch(&self, remote: SocketAddr) {
        if let Ok(mut t) = self.table.lock() {
            if let Some(at) = t.last_request.get_mut(&remote) {
                *at = Instant::now();
                t.spoken.insert(remote);
            }
        }
    }

    /// Whether a connection from `remote` is open through this gate.
    pub(crate) fn is_open(&self, remote: SocketAddr) -> bool {
        self.table
            .lock()
            .is_ok_and(|t| t.last_request.contains_key(&remote))
    }

    fn has_spoken(&self, remote: SocketAddr) -> bool {
        self.table.lock().is_ok_and(|t| t.spoken.contains(&remote))
    }

    /// Takes a slot for `peer`; false when its source or the server is full.
    fn admit(&self, peer: SocketAddr) -> bool {
        let Ok(mut t) = self.table.lock() else {
            return false;
        };
        let from_source = t.per_source.get(&peer.ip()).copied().unwrap_or(0);
        if from_source >= self.limits.max_per_source || t.total >= self.limits.max_total {
            return false;
        }
        *t.per_source.entry(peer.ip()).or_default() += 1;
        t.total += 1;
        t.last_request.insert(peer, Instant::now());
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn release(&self, peer: SocketAddr) {
        if let Ok(mut t) = self.table.lock() {
            if let Some(n) = t.per_source.get_mut(&peer.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.per_source.remove(&peer.ip());
                }
            }
            t.total = t.total.saturating_sub(1);
            t.last_request.remove(&peer);
            t.spoken.remove(&peer);
        }
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }

    fn idle_for(&self, peer: SocketAddr) -> Duration {
        self.table
            .lock()
            .ok()
            .and_then(|t| t.last_request.get(&peer).map(Instant::elapsed))
            .unwrap_or_default()
    }

    fn banned(&self, ip: IpAddr) -> bool {
        let now = self.clock.now_ms();
        self.lockout
            .lock()
            .map(|l| l.source_banned(now, ip))
            .unwrap_or(false)
    }

    /// The accept loop: runs until `cancel`.
    pub(crate) async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        local: SipAddr,
        layer: Arc<rsipstack::transaction::endpoint::EndpointInner>,
        cancel: CancellationToken,
    ) {
        loop {
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // out of fds or similar: back off instead of spinning
                        warn!(error = %e, "SIP TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            if self.banned(peer.ip()) {
                self.stats.banned.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "SIP TCP connection from a banned source closed");
                continue;
            }
            if !self.admit(peer) {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "SIP TCP connection refused: too many");
                continue;
            }
            let gate = self.clone();
            let local = local.clone();
            let layer = layer.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                gate.connection(stream, peer, local, layer, cancel).await;
                gate.release(peer);
            });
        }
    }

    /// One connection: the first header block within the timeout, then the
    /// stack reads it and the watchdog closes it when idle.
    async fn connection(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        local: SipAddr,
        endpoint: Arc<rsipstack::transaction::endpoint::EndpointInner>,
        cancel: CancellationToken,
    ) {
        let accepted_at = Instant::now();
        if let Some(acceptor) = &self.tls {
            return self
                .tls_connection(acceptor, stream, peer, local, endpoint, cancel, accepted_at)
                .await;
        }
        match tokio::time::timeout(self.limits.header_timeout, first_head(&stream)).await {
            Ok(Ok(Head::Complete)) => {}
            Ok(Ok(Head::TooBig)) => {
                self.stats.slow.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "SIP TCP connection closed: header block over 16 KiB");
                return;
            }
            Ok(Ok(Head::Closed)) | Ok(Err(_)) => return,
            Err(_) => {
                self.stats.slow.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "SIP TCP connection closed: no header block in time");
                return;
            }
        }
        // keep a duplicate of the socket to shut it down from here
        let (stream, dup) = match split_dup(stream) {
            Ok(x) => x,
            Err(e) => {
                debug!(%peer, error = %e, "cannot duplicate a SIP TCP socket");
                return;
            }
        };
        let token = cancel.child_token();
        let conn = match TcpConnection::from_stream(stream, local, Some(token.clone())) {
            Ok(c) => c,
            Err(e) => {
                debug!(%peer, error = %e, "cannot hand a SIP TCP connection to the stack");
                return;
            }
        };
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        endpoint
            .transport_layer
            .add_connection(SipConnection::Tcp(conn));
        self.watch(peer, dup, token, None).await;
    }

    /// A TLS connection: the handshake, then the stack reads it; the first
    /// complete request must come within the header timeout of the accept.
    #[allow(clippy::too_many_arguments)]
    async fn tls_connection(
        &self,
        acceptor: &tokio_rustls::TlsAcceptor,
        stream: TcpStream,
        peer: SocketAddr,
        local: SipAddr,
        endpoint: Arc<rsipstack::transaction::endpoint::EndpointInner>,
        cancel: CancellationToken,
        accepted_at: Instant,
    ) {
        let (stream, dup) = match split_dup(stream) {
            Ok(x) => x,
            Err(e) => {
                debug!(%peer, error = %e, "cannot duplicate a SIP TLS socket");
                return;
            }
        };
        let tls =
            match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    self.stats.handshake_failed.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, error = %e, "SIP TLS handshake failed");
                    return;
                }
                Err(_) => {
                    self.stats.slow.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "SIP TLS connection closed: no handshake in time");
                    return;
                }
            };
        let token = cancel.child_token();
        let remote = SipAddr {
            r#type: Some(rsipstack::sip::Transport::Tls),
            addr: peer.into(),
        };
        let conn = match TlsConnection::from_server_stream(tls, local, remote, Some(token.clone()))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                debug!(%peer, error = %e, "cannot hand a SIP TLS connection to the stack");
                return;
            }
        };
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        endpoint
            .transport_layer
            .add_connection(SipConnection::Tls(conn));
        self.watch(peer, dup, token, Some(accepted_at)).await;
    }

    /// Closes the connection when idle (or, with `first_by`, when no request
    /// came within the header timeout of that instant) until the stack retires it.
    async fn watch(
        &self,
        peer: SocketAddr,
        dup: std::net::TcpStream,
        token: CancellationToken,
        mut first_by: Option<Instant>,
    ) {
        let idle_check = (self.limits.idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        let head_check = (self.limits.header_timeout / 8)
            .clamp(Duration::from_millis(20), Duration::from_millis(500));
        loop {
            let check = if first_by.is_some() {
                head_check
            } else {
                idle_check
            };
            tokio::select! {
                // the stack retired it (closed by the peer, error, shutdown)
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(check) => {}
            }
            let close = match first_by {
                Some(_) if self.has_spoken(peer) => {
                    first_by = None;
                    None
                }
                Some(at) if at.elapsed() >= self.limits.header_timeout => {
                    self.stats.slow.fetch_add(1, Ordering::Relaxed);
                    Some("no request in time")
                }
                Some(_) => None,
                None if self.idle_for(peer) >= self.limits.idle_timeout => {
                    self.stats.idle.fetch_add(1, Ordering::Relaxed);
                    Some("no request for the idle timeout")
                }
                None => None,
            };
            if let Some(why) = close {
                debug!(%peer, why, "SIP stream connection closed");
                dup.shutdown(std::net::Shutdown::Both).ok();
                // the stack's read loop ends and retires the connection
                tokio::time::timeout(Duration::from_secs(5), token.cancelled())
                    .await
                    .ok();
                break;
            }
        }
    }
}

/// What the start of a connection holds.
enum Head {
    /// A complete header block (or a CRLF CRLF keep-alive).
    Complete,
    /// The peer closed before one.
    Closed,
    /// More than 16 KiB without the end of a header block.
    TooBig,
}

/// Waits (peeking, without consuming) until the stream holds a complete
/// header block.
async fn first_head(stream: &TcpStream) -> std::io::Result<Head> {
    let mut buf = vec![0u8; MAX_HEAD + 1];
    let mut seen = 0;
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        // the end of a header block (a CRLF keep-alive is `\r\n\r\n` too)
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Head::Complete);
        }
        if n > MAX_HEAD {
            return Ok(Head::TooBig);
        }
        if n == seen {
            // nothing new yet: a slow sender; look again a little later
            tokio::time::sleep(PEEK_EVERY).await;
        }
        seen = n;
    }
}

/// The stream back as a tokio stream, plus a duplicate descriptor of the same socket.
fn split_dup(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std = stream.into_std()?;
    let dup = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, dup))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(limits: TcpLimits) -> Arc<TcpGate> {
        TcpGate::new(
            limits,
            Arc::default(),
            Arc::new(Mutex::new(Lockout::new(Default::default()))),
            Arc::new(hotline_core::SystemClock),
        )
    }

    #[test]
    fn slots_are_bounded_per_source_and_in_all_and_given_back() {
        let g = gate(TcpLimits {
            max_per_source: 2,
            max_total: 3,
            ..TcpLimits::default()
        });
        let a = |p: u16| SocketAddr::from(([10, 0, 0, 1], p));
        let b = |p: u16| SocketAddr::from(([10, 0, 0, 2], p));
        assert!(g.admit(a(1)) && g.admit(a(2)));
        assert!(!g.admit(a(3)), "third from one source");
        assert!(g.admit(b(1)));
        assert!(!g.admit(b(2)), "full in all");
        g.release(a(1));
        assert!(g.admit(b(2)));
        assert_eq!(g.stats.open.load(Ordering::Relaxed), 3);
        for p in [a(2), b(1), b(2)] {
            g.release(p);
        }
        let t = g.table.lock().unwrap();
        assert!(t.per_source.is_empty() && t.last_request.is_empty() && t.total == 0);
    }
}
