//! Kamailio as the agents' registrar (`[cluster] registrar = "kamailio"`,
//! issue 18): the agents register with Kamailio, which challenges them
//! against the `subscriber` table and keeps their contacts in its
//! `location` table (usrloc, write-through) in the shared PostgreSQL.
//!
//! Each node:
//! - writes `subscriber` from its `[[agents]]` at start (user name and the
//!   MD5 digest hashes, never a password), retried until it succeeds;
//! - reads `location` every [`POLL_EVERY`] and makes its location service
//!   say exactly that: an agent with a row is registered, "at the edge". The
//!   node rings such an agent with `INVITE sip:<agent>@<edge>` sent to
//!   Kamailio, whose `lookup("location")` forks it to the agent's phones
//!   (over their TLS connection or through their NAT, as Kamailio saw the
//!   REGISTER). So either node rings any agent, and a node that starts or
//!   takes over knows every registration at once.
//!
//! When the database cannot be read the bindings are kept for
//! [`HOLD_BINDINGS`] (a node that loses the database goes standby anyway).

use std::net::SocketAddr;
use std::time::Duration;

use hotline_core::Clock;
use hotline_sip::{Binding, SipServer, SipTransport};
use hotline_store::{EdgeContact, Store, Subscriber};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often Kamailio's `location` table is read.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long the bindings last without a successful read.
pub const HOLD_BINDINGS: Duration = Duration::from_secs(30);

/// The node's binding for an agent with a contact in Kamailio's table:
/// the agent's address of record at the edge, sent to the edge.
pub fn binding_of(c: &EdgeContact, edge: SocketAddr, now_ms: i64) -> Binding {
    Binding {
        contact: format!("sip:{}@{edge}", c.agent),
        source: edge,
        transport: SipTransport::Udp,
        expires_at_ms: now_ms + HOLD_BINDINGS.as_millis() as i64,
        call_id: "kamailio-location".into(),
        cseq: 0,
        path: Vec::new(),
        nat: false,
    }
}

/// Agent names as they may appear in a SIP URI's user part (what the
/// registrar accepts): anything else in Kamailio's table is skipped.
fn agent_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+*#".contains(&b))
}

/// The node's bindings for Kamailio's rows (one per agent: Kamailio forks
/// to the agent's contacts itself).
pub fn bindings_of(rows: &[EdgeContact], edge: SocketAddr, now_ms: i64) -> Vec<(String, Binding)> {
    let mut out: Vec<(String, Binding)> = Vec::new();
    for r in rows {
        if !agent_name_ok(&r.agent) {
            continue;
        }
        if out.iter().any(|(a, _)| *a == r.agent) {
            continue;
        }
        out.push((r.agent.clone(), binding_of(r, edge, now_ms)));
    }
    out
}

/// The running task ([`EdgeRegistrar::start`]).
pub struct EdgeRegistrar {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl EdgeRegistrar {
    /// Switches `sip` to the registrar at the edge and starts writing the
    /// subscribers of `realm` and reading Kamailio's contacts.
    pub fn start(
        store: Store,
        sip: SipServer,
        edge: SocketAddr,
        realm: String,
        subscribers: Vec<Subscriber>,
        clock: std::sync::Arc<dyn Clock>,
    ) -> EdgeRegistrar {
        sip.set_registrar_at_edge();
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let mut subscribers_written = false;
            let mut failing = false;
            let mut last_count = None;
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if !subscribers_written {
                    match store.sync_subscribers(&realm, &subscribers).await {
                        Ok(s) => {
                            subscribers_written = true;
                            info!(
                                agents = subscribers.len(),
                                written = s.written,
                                removed = s.removed,
                                %realm,
                                "Kamailio's subscriber table follows [[agents]]"
                            );
                        }
                        Err(e) => {
                            warn!(error = %e, "Kamailio's subscriber table not written; trying again");
                        }
                    }
                }
                match store.edge_contacts().await {
                    Ok(rows) => {
                        if failing {
                            info!("Kamailio's location table is readable again");
                            failing = false;
                        }
                        let wanted = bindings_of(&rows, edge, clock.now_ms());
                        let n = wanted.len();
                        sip.replace_bindings(wanted);
                        if last_count != Some(n) {
                            info!(agents = n, contacts = rows.len(), %edge, "agents registered at the edge");
                            last_count = Some(n);
                        }
                    }
                    Err(e) => {
                        if !failing {
                            warn!(error = %e, "Kamailio's location table cannot be read; the registrations known are kept for {} s", HOLD_BINDINGS.as_secs());
                            failing = true;
                        }
                    }
                }
            }
        });
        EdgeRegistrar { cancel, task }
    }

    /// Stops reading (at shutdown).
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(agent: &str, contact: &str, socket: &str) -> EdgeContact {
        EdgeContact {
            agent: agent.into(),
            contact: contact.into(),
            received: None,
            socket: Some(socket.into()),
            user_agent: String::new(),
        }
    }

    #[test]
    fn one_binding_per_agent_at_the_edge_and_strange_names_skipped() {
        let edge: SocketAddr = "10.0.0.10:5060".parse().unwrap();
        let rows = [
            row("1001", "sip:1001@192.168.1.20:5060", "udp:10.0.0.10:5060"),
            row(
                "1001",
                "sip:1001@10.9.9.9:5061;transport=tls",
                "tls:10.0.0.10:5061",
            ),
            row("1002", "sip:1002@192.168.1.21:5060", "udp:10.0.0.10:5060"),
            row("", "sip:x@y", "udp:1.1.1.1:1"),
            row("a b", "sip:x@y", "udp:1.1.1.1:1"),
            row("<sip:evil>", "sip:x@y", "udp:1.1.1.1:1"),
            row(&"9".repeat(65), "sip:x@y", "udp:1.1.1.1:1"),
        ];
        let b = bindings_of(&rows, edge, 1_000);
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].0, "1001");
        assert_eq!(b[0].1.contact, "sip:1001@10.0.0.10:5060");
        assert_eq!(b[0].1.source, edge);
        assert_eq!(b[0].1.expires_at_ms, 31_000);
        // rung at the edge, whatever the phone's Contact said
        let t = b[1].1.target();
        assert_eq!(t.next_hop, Some(edge));
        assert!(t.route.is_empty());
    }
}
