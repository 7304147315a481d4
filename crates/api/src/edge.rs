//! The HTTP listener's own accept loop, bounded against slow-loris and
//! connection floods (axum::serve sets no header read timeout and takes
//! every connection):
//!
//! - at most [`HttpLimits::max_per_source`] connections from one IP
//!   address and [`HttpLimits::max_total`] in all; more are closed at once;
//! - a request's header block must arrive within
//!   [`HttpLimits::header_timeout`] (hyper's `header_read_timeout`, which
//!   also ends a keep-alive connection that stays silent that long);
//!
//! every refusal and timeout is counted ([`HttpStats`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;
use tracing::debug;

/// Bounds on HTTP connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections one IP address may hold at once (an office behind one
    /// NAT address holds several per console: keep it generous).
    pub max_per_source: usize,
    /// Connections in all.
    pub max_total: usize,
    /// Time for a request's header block.
    pub header_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_per_source: 256,
            max_total: 4096,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of the HTTP listener.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections served.
    pub accepted: AtomicU64,
    /// Connections refused: too many from the source or in all.
    pub refused: AtomicU64,
    /// Connections closed because a header block did not arrive in time
    /// (a slow sender, or a keep-alive connection left silent that long).
    pub slow: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

#[derive(Default)]
struct Slots {
    per_source: HashMap<IpAddr, usize>,
    total: usize,
}

/// Serves `app` on connections from `listener` within `limits`, with the
/// client's address as `ConnectInfo<SocketAddr>`; returns never (the
/// listener's accept loop retries errors).
pub async fn serve<L>(
    mut listener: L,
    app: axum::Router,
    limits: HttpLimits,
    stats: Arc<HttpStats>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let slots = Arc::new(Mutex::new(Slots::default()));
    loop {
        let (io, peer) = listener.accept().await;
        if !take_slot(&slots, &limits, peer.ip()) {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "HTTP connection refused: too many");
            drop(io);
            continue;
        }
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let svc =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
        let slots = slots.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(svc))
                .with_upgrades();
            if let Err(e) = conn.await {
                if e.is_timeout() {
                    stats.slow.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "HTTP connection closed: header block too slow");
                } else {
                    debug!(%peer, error = %e, "HTTP connection ended");
                }
            }
            give_back(&slots, peer.ip());
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn take_slot(slots: &Mutex<Slots>, limits: &HttpLimits, ip: IpAddr) -> bool {
    let Ok(mut s) = slots.lock() else {
        return false;
    };
    let from_source = s.per_source.get(&ip).copied().unwrap_or(0);
    if from_source >= limits.max_per_source || s.total >= limits.max_total {
        return false;
    }
    *s.per_source.entry(ip).or_default() += 1;
    s.total += 1;
    true
}

fn give_back(slots: &Mutex<Slots>, ip: IpAddr) {
    if let Ok(mut s) = slots.lock() {
        if let Some(n) = s.per_source.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_source.remove(&ip);
            }
        }
        s.total = s.total.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    /// A listener serving `/health` and `/peer` (the ConnectInfo address).
    async fn listener(limits: HttpLimits) -> (SocketAddr, Arc<HttpStats>) {
        let app = axum::Router::new()
            .route("/health", axum::routing::get(|| async { "ok\n" }))
            // a long response like the wallboard's event stream
            .route(
                "/stream",
                axum::routing::get(|| async {
                    let chunks = futures_util::stream::unfold(0u32, |n| async move {
                        if n == 6 {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        Some((Ok::<_, std::io::Error>(format!("data: {n}\n\n")), n + 1))
                    });
                    axum::body::Body::from_stream(chunks)
                }),
            )
            .route(
                "/peer",
                axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    peer.to_string()
                }),
            );
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let stats = Arc::new(HttpStats::default());
        tokio::spawn(serve(tcp, app, limits, stats.clone()));
        (addr, stats)
    }

    async fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        s.connect(to).await.unwrap()
    }

    /// One request on a new connection; the whole answer.
    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let me = s.local_addr().unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(3), s.read_to_string(&mut out))
            .await
            .unwrap()
            .unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        if path == "/peer" {
            assert!(
                out.ends_with(&me.to_string()),
                "ConnectInfo is the client: {out}"
            );
        }
        out
    }

    /// True when the peer closes within `within` (reads until EOF or error).
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Server-side sockets of `port` still holding a descriptor here
    /// (ESTABLISHED or CLOSE_WAIT in /proc/net/tcp): the connections a server
    /// on that port has not closed. Process-wide descriptor counts are noisy
    /// while other tests run in parallel.
    fn server_sockets(port: u16) -> usize {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        tcp.lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let local_port = f
                    .get(1)
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                local_port == Some(port) && matches!(f.get(3), Some(&"01") | Some(&"08"))
            })
            .count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_loris_on_http_is_bounded_closed_and_counted() {
        let (addr, stats) = listener(HttpLimits {
            max_per_source: 4,
            max_total: 64,
            header_timeout: Duration::from_secs(1),
        })
        .await;
        get(addr, "/peer").await;
        let tasks = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let mut conns = Vec::new();
        for _ in 0..10 {
            conns.push(connect_from("127.0.0.5", addr).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(server_sockets(addr.port()) >= 4, "the slow ones are seen");
        let request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n";
        let started = std::time::Instant::now();
        let mut closed = vec![false; conns.len()];
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(3) && closed.iter().any(|c| !c) {
            for (k, c) in conns.iter_mut().enumerate() {
                if !closed[k]
                    && c.write_all(&request[i % request.len()..][..1])
                        .await
                        .is_err()
                {
                    closed[k] = true;
                }
            }
            i += 1;
            if i == 3 {
                // a normal client meanwhile
                get(addr, "/health").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for (k, c) in conns.iter_mut().enumerate() {
            if !closed[k] {
                closed[k] = closed_within(c, Duration::from_millis(500)).await;
            }
        }
        assert!(closed.iter().all(|c| *c), "{closed:?}");
        assert_eq!(stats.refused.load(Ordering::Relaxed), 6);
        assert_eq!(stats.slow.load(Ordering::Relaxed), 4);
        drop(conns);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(stats.open.load(Ordering::Relaxed), 0);
        assert_eq!(
            server_sockets(addr.port()),
            0,
            "every server-side socket closed"
        );
        let after = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        assert!(after <= tasks + 1, "tasks {tasks} -> {after}");
        get(addr, "/health").await;
    }

    #[tokio::test]
    async fn keep_alive_requests_within_the_timeout_are_served() {
        let (addr, stats) = listener(HttpLimits {
            header_timeout: Duration::from_millis(500),
            ..HttpLimits::default()
        })
        .await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 1024];
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // a response streaming longer than the header timeout is not cut
        s.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).contains("data: 5") {
            let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "cut: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(stats.slow.load(Ordering::Relaxed), 0);
        // then silent: closed after the header timeout
        assert!(closed_within(&mut s, Duration::from_secs(2)).await);
        assert_eq!(stats.accepted.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn slots_per_source_and_in_all() {
        let slots = Mutex::new(Slots::default());
        let limits = HttpLimits {
            max_per_source: 2,
            max_total: 3,
            ..HttpLimits::default()
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(take_slot(&slots, &limits, a) && take_slot(&slots, &limits, a));
        assert!(!take_slot(&slots, &limits, a));
        assert!(take_slot(&slots, &limits, b));
        assert!(!take_slot(&slots, &limits, b));
        give_back(&slots, a);
        assert!(take_slot(&slots, &limits, b));
        for ip in [a, b, b] {
            give_back(&slots, ip);
        }
        let s = slots.lock().unwrap();
        assert!(s.per_source.is_empty() && s.total == 0);
    }
}
