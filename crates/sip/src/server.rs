//! The SIP server: transports, the dispatcher of incoming requests, the
//! registrar, and the two kinds of B2BUA legs the engine drives.

use crate::digest::{parse_authorization, DigestAlgorithm, DigestAuthority, Verdict};
use crate::guard::{GuardStats, GuardedUdpSocket};
use crate::legs::LegRouter;
use crate::location::{Binding, BindingChange, Location, RegisterError, SipTransport};
use crate::lockout::{Admission, Ban, BanTarget, Lockout, LockoutConfig, LockoutEvent};
use crate::session_timer::{self as timers, SessionTimer, SessionTimerConfig};
use crate::tcp::{TcpGate, TcpLimits, TcpStats};
use crate::tls::{CertStore, TlsError, TlsSettings};
use crate::trunk::TrunkTarget;
use hotline_core::{Clock, Party, SystemClock};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::ToTypedHeader;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, Uri};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{udp::UdpConnection, SipAddr, SipConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, info_span, warn, Instrument};

/// What the server sends in Server/User-Agent: a name, never a version.
pub const SERVER_NAME: &str = "hotline";

/// Settings of the SIP server.
#[derive(Clone, Debug)]
pub struct SipConfig {
    /// Address for both UDP and TCP.
    pub listen: SocketAddr,
    /// Digest realm.
    pub realm: String,
    /// How long a nonce is accepted, ms.
    pub nonce_ttl_ms: i64,
    /// Shortest registration accepted (shorter gets 423), seconds.
    pub min_expires_s: u32,
    /// Longest registration granted, seconds.
    pub max_expires_s: u32,
    /// Registration length when the phone asks none, seconds.
    pub default_expires_s: u32,
    /// Contacts one agent may register at once.
    pub max_contacts_per_agent: usize,
    /// Challenge algorithms for agents without their own setting, strongest first.
    pub algorithms: Vec<DigestAlgorithm>,
    /// SIP datagrams accepted per second from one IP before throttling.
    pub rate_limit_per_source: u32,
    /// INVITEs to users starting with this (agent feature codes such as
    /// `*63`) must authenticate as the agent in From; empty = none.
    pub feature_prefix: String,
    /// INVITEs to users starting with this (an agent dialling a customer:
    /// `9` + the number) must authenticate as the agent in From too;
    /// empty = agents cannot dial out.
    pub dial_prefix: String,
    /// Bounds on SIP-over-TCP connections (slow-loris, floods); SIP over
    /// TLS has the same bounds, counted apart.
    pub tcp: TcpLimits,
    /// Session timers (RFC 4028): interval and Min-SE.
    pub session_timers: SessionTimerConfig,
    /// SIP over TLS; None = off.
    pub tls: Option<TlsSettings>,
    /// How often the TLS certificate and key files are looked at for a
    /// change (then reloaded).
    pub tls_reload_check: Duration,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            realm: "hotline".into(),
            nonce_ttl_ms: 300_000,
            min_expires_s: 60,
            max_expires_s: 3600,
            default_expires_s: 600,
            max_contacts_per_agent: 4,
            algorithms: vec![DigestAlgorithm::Md5],
            rate_limit_per_source: 500,
            feature_prefix: "*".into(),
            dial_prefix: String::new(),
            tcp: TcpLimits::default(),
            session_timers: SessionTimerConfig::default(),
            tls: None,
            tls_reload_check: Duration::from_secs(5),
        }
    }
}

/// Sizes of the registrar's tables ([`SipServer::table_sizes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableSizes {
    /// Registered contacts, all agents.
    pub bindings: usize,
    /// Sources with failures or bans on record.
    pub lockout_sources: usize,
    /// User names with failures or locks on record.
    pub lockout_users: usize,
    /// (user, source) pairs that proved the password recently.
    pub lockout_proofs: usize,
    /// Transactions the stack holds, live or finished (a finished
    /// non-INVITE transaction keeps its response for 64×T1 = 32 s over
    /// UDP to answer retransmissions: RFC 3261 Timer J).
    pub stack_transactions: usize,
}

/// Path entries accepted on one REGISTER (RFC 3327); more is refused with 400.
const MAX_PATH_ENTRIES: usize = 8;

/// How a REGISTER reached us: what its bindings remember.
struct RegisterOrigin {
    source: Option<SocketAddr>,
    transport: SipTransport,
    path: Vec<String>,
    nat: bool,
}

/// An agent's SIP account.
#[derive(Clone, Debug)]
pub struct AgentAccount {
    /// Extension / user name.
    pub id: String,
    /// Digest password.
    pub password: String,
    /// Algorithms for this agent (strongest first); None = the server default.
    pub algorithms: Option<Vec<DigestAlgorithm>>,
    /// Behind NAT: ring the address the REGISTER came from whatever the
    /// Contact says (see [`crate::reach`]).
    pub nat: bool,
}

/// Errors of the SIP layer.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// The listen address could not be bound.
    #[error("cannot listen for SIP on {addr} ({transport}): {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// udp or tcp.
        transport: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// The stack refused an operation.
    #[error("SIP stack: {0}")]
    Stack(String),
    /// A URI we had to build or read is invalid.
    #[error("invalid SIP URI `{0}`")]
    BadUri(String),
    /// The TLS certificate, key or client CA cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// SIP over TLS is not configured.
    #[error("SIP over TLS is not enabled")]
    NoTls,
}

impl From<rsipstack::Error> for SipError {
    fn from(e: rsipstack::Error) -> Self {
        SipError::Stack(e.to_string())
    }
}

/// Something the engine must know about.
#[derive(Debug)]
pub enum SipEvent {
    /// A new INVITE from outside: a caller.
    IncomingCall(InboundCall),
    /// Registrations changed.
    Binding(BindingChange),
}

struct Registrar {
    auth: DigestAuthority,
    accounts: HashMap<String, AgentAccount>,
    location: Mutex<Location>,
}

/// A handle on the running SIP server (cheap to clone).
#[derive(Clone)]
pub struct SipServer {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SipConfig,
    local: SocketAddr,
    dialogs: Arc<DialogLayer>,
    /// The shared dialog-state channel and its demultiplexer.
    legs: Arc<LegRouter>,
    registrar: Registrar,
    cancel: CancellationToken,
    guard_stats: Arc<GuardStats>,
    tcp_gate: Arc<TcpGate>,
    tcp_stats: Arc<TcpStats>,
    tls: Option<TlsSide>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<SipEvent>,
    /// Password guessing defence, shared with the UDP gate.
    lockout: Arc<Mutex<Lockout>>,
    lockout_events: broadcast::Sender<LockoutEvent>,
    /// CSeq of our out-of-dialog OPTIONS (trunk probes).
    options_seq: std::sync::atomic::AtomicU32,
    /// Standby in the HA pair: the Retry-After seconds of the 503 answered
    /// to OPTIONS and new INVITEs; 0 = serving (the default).
    standby_retry_after: std::sync::atomic::AtomicU32,
    /// Kamailio is the agents' registrar (`[cluster] registrar =
    /// "kamailio"`): REGISTERs reaching this node are refused and the
    /// bindings come from [`SipServer::replace_bindings`].
    registrar_at_edge: std::sync::atomic::AtomicBool,
}

/// The TLS listener's state.
struct TlsSide {
    settings: TlsSettings,
    local: SocketAddr,
    gate: Arc<TcpGate>,
    stats: Arc<TcpStats>,
    store: Arc<CertStore>,
    /// End of the presented certificate's validity, epoch ms.
    not_after_ms: std::sync::atomic::AtomicI64,
    /// Serialises reloads.
    reload: tokio::sync::Mutex<()>,
}

impl SipServer {
    /// Binds UDP and TCP on `cfg.listen`, starts the stack, and returns the
    /// server with the stream of events for the engine. Password guessing is
    /// fought with the default [`LockoutConfig`].
    pub async fn start(
        cfg: SipConfig,
        accounts: Vec<AgentAccount>,
    ) -> Result<(SipServer, mpsc::Receiver<SipEvent>), SipError> {
        Self::start_with_lockout(cfg, accounts, LockoutConfig::default()).await
    }

    /// [`SipServer::start`] with the password guessing defence set by
    /// `lockout` (failures that ban a source or lock a user name, ban
    /// lengths, trusted networks).
    pub async fn start_with_lockout(
        cfg: SipConfig,
        accounts: Vec<AgentAccount>,
        lockout: LockoutConfig,
    ) -> Result<(SipServer, mpsc::Receiver<SipEvent>), SipError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let lockout = Arc::new(Mutex::new(Lockout::new(lockout)));
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let udp = tokio::net::UdpSocket::bind(cfg.listen)
            .await
            .map_err(|source| SipError::Bind {
                addr: cfg.listen,
                transport: "udp",
                source,
            })?;
        let local = udp.local_addr().map_err(|source| SipError::Bind {
            addr: cfg.listen,
            transport: "udp",
            source,
        })?;
        let guard_stats = Arc::new(GuardStats::default());
        let guarded = GuardedUdpSocket::new(
            udp,
            cfg.rate_limit_per_source,
            SERVER_NAME,
            guard_stats.clone(),
            lockout.clone(),
            clock.clone(),
        );
        let udp_conn =
            UdpConnection::from_socket(Arc::new(guarded), None, Some(cancel.child_token())).await?;
        transport_layer.add_transport(udp_conn.into());
        // TCP on the same port as UDP (so `--sip 127.0.0.1:0` gets one port for
        // both), accepted by our gate (slow-loris and flood bounds) and
        // handed to the stack connection by connection
        let tcp_addr = SocketAddr::new(local.ip(), local.port());
        let tcp_listener = tokio::net::TcpListener::bind(tcp_addr)
            .await
            .map_err(|source| SipError::Bind {
                addr: tcp_addr,
                transport: "tcp",
                source,
            })?;
        let tcp_stats = Arc::new(TcpStats::default());
        let tcp_gate = TcpGate::new(cfg.tcp, tcp_stats.clone(), lockout.clone(), clock.clone());
        // TLS: the identity is checked before anything listens (an expired
        // or mismatched certificate stops the start; no plaintext fallback)
        let tls = match &cfg.tls {
            None => None,
            Some(settings) => {
                let identity = crate::tls::load_identity(settings, clock.now_ms())?;
                let store = CertStore::new(&identity);
                let acceptor = crate::tls::acceptor(&identity, store.clone())?;
                let listener = tokio::net::TcpListener::bind(settings.listen)
                    .await
                    .map_err(|source| SipError::Bind {
                        addr: settings.listen,
                        transport: "tls",
                        source,
                    })?;
                let tls_local = listener.local_addr().map_err(|source| SipError::Bind {
                    addr: settings.listen,
                    transport: "tls",
                    source,
                })?;
                let stats = Arc::new(TcpStats::default());
                let gate = TcpGate::new_tls(
                    cfg.tcp,
                    stats.clone(),
                    lockout.clone(),
                    clock.clone(),
                    acceptor,
                );
                // Known to the stack as a listener so that requests it sends
                // over TLS carry `Via: SIP/2.0/TLS <this address>`; the stack
                // cannot bind it (our gate holds the port) and serves nothing
                // from it: connections come through our gate.
                let via_only = rsipstack::transport::TlsListenerConnection::new(
                    tls_local,
                    None,
                    rsipstack::transport::TlsConfig::default(),
                )
                .await?;
                transport_layer.add_transport(SipConnection::TlsListener(via_only));
                // a new TLS connection to a phone (its registration's
                // connection has gone) verifies the phone's certificate
                // against the client CA; without one it cannot be verified
                if let Some(ca) = &settings.client_ca {
                    let pem = std::fs::read(ca).map_err(|source| TlsError::Read {
                        what: "client CA",
                        path: ca.clone(),
                        source,
                    })?;
                    transport_layer.set_tls_config(rsipstack::transport::TlsConfig {
                        ca_certs: Some(pem),
                        ..Default::default()
                    });
                }
                Some((
                    listener,
                    TlsSide {
                        settings: settings.clone(),
                        local: tls_local,
                        gate,
                        stats,
                        store,
                        not_after_ms: std::sync::atomic::AtomicI64::new(identity.not_after_ms),
                        reload: tokio::sync::Mutex::new(()),
                    },
                ))
            }
        };

        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transport_layer)
            .with_option(call_id_option(local.ip()))
            .with_user_agent(SERVER_NAME)
            .with_allows(vec![
                Method::Invite,
                Method::Ack,
                Method::Cancel,
                Method::Bye,
                Method::Options,
                Method::Register,
                Method::Info,
            ])
            .build();
        let incoming = endpoint.incoming_transactions()?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let legs = LegRouter::new(dialogs.clone());
        tokio::spawn(tcp_gate.clone().serve(
            tcp_listener,
            SipAddr {
                r#type: Some(rsipstack::sip::Transport::Tcp),
                addr: tcp_addr.into(),
            },
            endpoint.inner.clone(),
            cancel.child_token(),
        ));
        let tls = tls.map(|(listener, side)| {
            tokio::spawn(side.gate.clone().serve(
                listener,
                SipAddr {
                    r#type: Some(rsipstack::sip::Transport::Tls),
                    addr: side.local.into(),
                },
                endpoint.inner.clone(),
                cancel.child_token(),
            ));
            side
        });
        let (events_tx, events_rx) = mpsc::channel(4096);
        let accounts = accounts.into_iter().map(|a| (a.id.clone(), a)).collect();
        let inner = Arc::new(Inner {
            registrar: Registrar {
                auth: DigestAuthority::new(cfg.realm.clone(), cfg.nonce_ttl_ms),
                accounts,
                location: Mutex::new(Location::new(cfg.max_contacts_per_agent)),
            },
            cfg,
            local,
            dialogs,
            legs,
            cancel: cancel.clone(),
            guard_stats,
            tcp_gate,
            tcp_stats,
            tls,
            clock,
            events: events_tx,
            lockout,
            lockout_events: broadcast::channel(256).0,
            options_seq: std::sync::atomic::AtomicU32::new(1),
            standby_retry_after: std::sync::atomic::AtomicU32::new(0),
            registrar_at_edge: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(async move { endpoint.serve().await });
        let server = SipServer { inner };
        tokio::spawn(server.clone().dispatch(incoming));
        tokio::spawn(server.clone().expire_bindings());
        info!(addr = %local, "SIP listening on UDP and TCP");
        if let Some(t) = &server.inner.tls {
            info!(addr = %t.local, cert = %t.settings.cert.display(), "SIP listening on TLS");
            tokio::spawn(server.clone().watch_tls_files());
        }
        Ok((server, events_rx))
    }

    /// The address SIP over TLS listens on; None when TLS is off.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.inner.tls.as_ref().map(|t| t.local)
    }

    /// Counters of the TLS gate; None when TLS is off.
    pub fn tls_stats(&self) -> Option<&TcpStats> {
        self.inner.tls.as_ref().map(|t| t.stats.as_ref())
    }

    /// End of the validity of the certificate TLS presents now (epoch ms).
    pub fn tls_not_after_ms(&self) -> Option<i64> {
        self.inner
            .tls
            .as_ref()
            .map(|t| t.not_after_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Reads the TLS certificate and key again (SIGHUP, or a file change
    /// seen by the watcher) and presents them from the next handshake on;
    /// open connections and calls are not touched. On an error the old
    /// certificate stays. Returns the new certificate's end of validity.
    pub async fn reload_tls(&self) -> Result<i64, SipError> {
        let t = self.inner.tls.as_ref().ok_or(SipError::NoTls)?;
        let _one = t.reload.lock().await;
        let identity = crate::tls::load_identity(&t.settings, self.inner.clock.now_ms())?;
        t.store.replace(&identity);
        t.not_after_ms
            .store(identity.not_after_ms, std::sync::atomic::Ordering::Relaxed);
        info!(cert = %t.settings.cert.display(), not_after_ms = identity.not_after_ms, "TLS certificate reloaded");
        Ok(identity.not_after_ms)
    }

    /// Reloads the TLS certificate when its files change.
    async fn watch_tls_files(self) {
        let Some(t) = self.inner.tls.as_ref() else {
            return;
        };
        let every = self
            .inner
            .cfg
            .tls_reload_check
            .max(Duration::from_millis(50));
        let mut seen = crate::tls::mtimes(&t.settings);
        loop {
            tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let now = crate::tls::mtimes(&t.settings);
            if now == seen {
                continue;
            }
            seen = now;
            if let Err(e) = self.reload_tls().await {
                warn!(error = %e, "TLS files changed but cannot be used; the previous certificate stays");
            }
        }
    }

    /// The address SIP listens on (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Datagrams rejected as malformed so far.
    pub fn malformed_count(&self) -> u64 {
        self.inner
            .guard_stats
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counters of SIP-over-TCP connections (accepted, refused, closed slow or idle, open).
    pub fn tcp_stats(&self) -> &TcpStats {
        &self.inner.tcp_stats
    }

    /// Datagrams dropped because they were too big (8 KiB or more) so far.
    pub fn oversized_count(&self) -> u64 {
        self.inner
            .guard_stats
            .oversized
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Datagrams dropped by flood throttling so far.
    pub fn throttled_count(&self) -> u64 {
        self.inner
            .guard_stats
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Datagrams dropped because their source is banned for password guessing.
    pub fn banned_dropped_count(&self) -> u64 {
        self.inner
            .guard_stats
            .banned
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Datagrams dropped because their User-Agent is a known scanner's.
    pub fn scanner_dropped_count(&self) -> u64 {
        self.inner
            .guard_stats
            .scanners
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sources banned and user names locked for password guessing, now.
    pub fn auth_bans(&self) -> Vec<Ban> {
        let now = self.inner.clock.now_ms();
        self.inner
            .lockout
            .lock()
            .map(|l| l.bans(now))
            .unwrap_or_default()
    }

    /// Sources banned and user names locked since the start.
    pub fn auth_bans_issued(&self) -> crate::lockout::Issued {
        self.inner
            .lockout
            .lock()
            .map(|l| l.issued())
            .unwrap_or_default()
    }

    /// Lifts a ban or lock before its end (a supervisor's decision; it is
    /// logged and sent to [`SipServer::auth_events`]). False if `target`
    /// was not banned.
    pub fn lift_auth_ban(&self, target: &BanTarget) -> bool {
        let now = self.inner.clock.now_ms();
        let lifted = self
            .inner
            .lockout
            .lock()
            .map(|mut l| l.lift(now, target))
            .unwrap_or(false);
        self.report_lockout_events();
        lifted
    }

    /// Bans, locks and lifts as they happen (for the event log and the
    /// supervisors); a receiver that lags loses the oldest.
    pub fn auth_events(&self) -> broadcast::Receiver<LockoutEvent> {
        self.inner.lockout_events.subscribe()
    }

    /// Logs what the lockout decided and passes it on to subscribers.
    fn report_lockout_events(&self) {
        let events: Vec<LockoutEvent> = match self.inner.lockout.lock() {
            Ok(mut l) => std::iter::from_fn(|| l.poll_event()).collect(),
            Err(_) => return,
        };
        let now = self.inner.clock.now_ms();
        for e in events {
            match &e {
                LockoutEvent::Banned {
                    ban,
                    failures,
                    source,
                    user,
                } => warn!(
                    target: "hotline::security",
                    banned = %ban.target,
                    ban_s = (ban.until_ms.saturating_sub(now).max(0) + 999) / 1000,
                    until_ms = ban.until_ms,
                    offences = ban.offences,
                    failures,
                    last_source = %source,
                    last_user = ?user,
                    "SIP password guessing: {} banned after {failures} failed digest answers",
                    ban.target
                ),
                LockoutEvent::Lifted { target } => {
                    warn!(target: "hotline::security", lifted = %target, "SIP ban lifted by a supervisor")
                }
            }
            self.inner.lockout_events.send(e).ok();
        }
    }

    /// The live contacts of an agent, most recent first.
    pub fn contacts(&self, agent: &str) -> Vec<Binding> {
        let now = self.inner.clock.now_ms();
        self.inner
            .registrar
            .location
            .lock()
            .map(|l| l.contacts(agent, now))
            .unwrap_or_default()
    }

    /// The sizes of the registrar's tables now: every one is bounded
    /// (bindings by the accounts and `max_contacts_per_agent`, the
    /// lockout's by `LockoutConfig::max_tracked`; nonces keep no state).
    pub fn table_sizes(&self) -> TableSizes {
        let bindings = self
            .inner
            .registrar
            .location
            .lock()
            .map(|l| l.len())
            .unwrap_or(0);
        let (sources, users, proofs) = self
            .inner
            .lockout
            .lock()
            .map(|l| l.tracked())
            .unwrap_or_default();
        let ep = &self.inner.dialogs.endpoint;
        TableSizes {
            bindings,
            lockout_sources: sources,
            lockout_users: users,
            lockout_proofs: proofs,
            stack_transactions: ep.transactions.len() + ep.finished_transactions.len(),
        }
    }

    /// Puts back bindings saved before a restart (agent, binding): those
    /// of configured agents, unexpired, whose contact and Path still parse
    /// come back (the agent's `nat` setting is taken from today's account);
    /// the others are skipped with a warning. Returns how many came back.
    /// Call it before the engine starts, so the agents are registered at once.
    pub fn restore_bindings(&self, saved: Vec<(String, Binding)>) -> usize {
        self.restore_bindings_inner(saved, false)
    }

    /// [`SipServer::restore_bindings`] while the engine runs (a node of the
    /// HA pair that became active): each binding restored is also reported
    /// to the engine as [`BindingChange::Added`], so its agent can be rung.
    pub fn restore_bindings_live(&self, saved: Vec<(String, Binding)>) -> usize {
        self.restore_bindings_inner(saved, true)
    }

    fn restore_bindings_inner(&self, saved: Vec<(String, Binding)>, live: bool) -> usize {
        let now = self.inner.clock.now_ms();
        let mut added = Vec::new();
        let Ok(mut loc) = self.inner.registrar.location.lock() else {
            return 0;
        };
        let mut restored = 0;
        for (agent, mut binding) in saved {
            let Some(account) = self.inner.registrar.accounts.get(&agent) else {
                warn!(%agent, "stored registration skipped: no such agent any more");
                continue;
            };
            if let Err(why) = restorable(&binding) {
                warn!(%agent, contact = %binding.contact, %why, "stored registration skipped");
                continue;
            }
            binding.nat = account.nat;
            if loc.restore(&agent, binding.clone(), now) {
                debug!(%agent, contact = %binding.contact, expires_in_s = (binding.expires_at_ms - now) / 1000, "registration restored");
                restored += 1;
                if live {
                    added.push(BindingChange::Added {
                        agent: agent.clone(),
                        contact: binding.contact.clone(),
                        expires_s: u32::try_from((binding.expires_at_ms - now) / 1000)
                            .unwrap_or(u32::MAX),
                    });
                }
            } else {
                warn!(%agent, contact = %binding.contact, "stored registration skipped: expired, a duplicate or over the contact limit");
            }
        }
        drop(loc);
        for change in added {
            if self
                .inner
                .events
                .try_send(SipEvent::Binding(change))
                .is_err()
            {
                warn!("engine busy: a restored registration was not reported");
            }
        }
        restored
    }

    /// Kamailio is the agents' registrar: from now on a REGISTER reaching
    /// this node directly is answered 403, and the bindings are only what
    /// [`SipServer::replace_bindings`] says.
    pub fn set_registrar_at_edge(&self) {
        self.inner
            .registrar_at_edge
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Kamailio is the agents' registrar ([`SipServer::set_registrar_at_edge`]).
    pub fn registrar_at_edge(&self) -> bool {
        self.inner
            .registrar_at_edge
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Replaces every binding by `wanted` (agent, binding), as read from the
    /// registrar at the edge; agents that are not configured here are left
    /// out. Contacts that came and went are reported to the engine as
    /// [`BindingChange`]s. Returns the number of bindings kept.
    pub fn replace_bindings(&self, wanted: Vec<(String, Binding)>) -> usize {
        let now = self.inner.clock.now_ms();
        let wanted: Vec<(String, Binding)> = wanted
            .into_iter()
            .filter(|(agent, _)| self.inner.registrar.accounts.contains_key(agent))
            .collect();
        let Ok(mut loc) = self.inner.registrar.location.lock() else {
            return 0;
        };
        let changes = loc.replace_all(wanted, now);
        let kept = loc.len();
        drop(loc);
        for change in changes {
            debug!(?change, "registration at the edge");
            if self
                .inner
                .events
                .try_send(SipEvent::Binding(change))
                .is_err()
            {
                warn!("engine busy: a registration at the edge was not reported");
            }
        }
        kept
    }

    /// The bindings on record now (agent, binding) and the generation of
    /// the location service they belong to (it changes with every change),
    /// for the write-behind to the store.
    pub fn bindings_snapshot(&self) -> (u64, Vec<(String, Binding)>) {
        self.inner
            .registrar
            .location
            .lock()
            .map(|l| (l.generation(), l.all()))
            .unwrap_or_default()
    }

    /// The generation of the location service (see [`SipServer::bindings_snapshot`]).
    pub fn bindings_generation(&self) -> u64 {
        self.inner
            .registrar
            .location
            .lock()
            .map(|l| l.generation())
            .unwrap_or_default()
    }

    /// Agents with at least one live registration.
    pub fn registered_agents(&self) -> Vec<String> {
        let now = self.inner.clock.now_ms();
        self.inner
            .registrar
            .location
            .lock()
            .map(|l| l.registered_agents(now))
            .unwrap_or_default()
    }

    /// Standby (the HA pair's node without the leases): out-of-dialog
    /// OPTIONS and new INVITEs are answered `503 Service Unavailable` with
    /// `Retry-After: retry_after_s` (at least 1), so a dispatcher in front
    /// routes around this node; registrations and calls already up are
    /// served as before. None: serving again.
    pub fn set_standby(&self, retry_after_s: Option<u32>) {
        let v = retry_after_s.map_or(0, |s| s.max(1));
        self.inner
            .standby_retry_after
            .store(v, std::sync::atomic::Ordering::SeqCst);
    }

    /// True while [`SipServer::set_standby`] holds new calls off.
    pub fn is_standby(&self) -> bool {
        self.standby_retry_after() > 0
    }

    fn standby_retry_after(&self) -> u32 {
        self.inner
            .standby_retry_after
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops the stack.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    fn our_uri(&self, user: &str) -> Result<Uri, SipError> {
        let s = format!("sip:{}@{}", user, self.inner.local);
        Uri::try_from(s.as_str()).map_err(|_| SipError::BadUri(s))
    }

    /// Our Contact in a dialog: over TLS `sip:hotline@<TLS address>;transport=tls`,
    /// so that the phone's in-dialog requests (BYE) come over TLS too.
    fn our_contact(&self, over_tls: bool) -> Result<Uri, SipError> {
        match (&self.inner.tls, over_tls) {
            (Some(t), true) => {
                let s = format!("sip:{}@{};transport=tls", SERVER_NAME, t.local);
                Uri::try_from(s.as_str()).map_err(|_| SipError::BadUri(s))
            }
            _ => self.our_uri(SERVER_NAME),
        }
    }

    async fn expire_bindings(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = self.inner.clock.now_ms();
            let removed = self
                .inner
                .registrar
                .location
                .lock()
                .map(|mut l| l.expire(now))
                .unwrap_or_default();
            for change in removed {
                info!(?change, "registration expired");
                self.inner.events.send(SipEvent::Binding(change)).await.ok();
            }
        }
    }

    async fn dispatch(self, mut incoming: rsipstack::transaction::TransactionReceiver) {
        loop {
            let tx = tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
            };
            let this = self.clone();
            tokio::spawn(async move { this.handle_transaction(tx).await });
        }
    }

    async fn handle_transaction(self, mut tx: Transaction) {
        if let Some(conn) = tx.connection.as_ref().filter(|c| c.is_reliable()) {
            if let Some(remote) = conn.get_remote_addr().and_then(sip_addr_to_socket) {
                match (&self.inner.tls, is_tls(conn)) {
                    (Some(t), true) => t.gate.touch(remote),
                    _ => self.inner.tcp_gate.touch(remote),
                }
            }
        }
        // a banned source or a known scanner gets nothing (over UDP the
        // gate already dropped them)
        let user_agent = tx.original.headers.iter().find_map(|h| match h {
            Header::UserAgent(ua) => Some(ua.value().to_string()),
            _ => None,
        });
        if let Ok(l) = self.inner.lockout.lock() {
            let now = self.inner.clock.now_ms();
            let banned = source_ip(&tx).is_some_and(|ip| l.source_banned(now, ip));
            if banned || user_agent.as_deref().is_some_and(|ua| l.is_scanner(ua)) {
                debug!(src = ?source_ip(&tx), ?user_agent, "request dropped (banned source or scanner)");
                return;
            }
        }
        let has_to_tag = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        let method = tx.original.method;
        if method != Method::Ack && method != Method::Cancel {
            if let Some((status, headers)) = precheck(&tx.original) {
                debug!(%method, %status, "request refused before dispatch");
                tx.reply_with(status, headers, None).await.ok();
                return;
            }
        }
        let standby = self.standby_retry_after();
        if standby > 0 && !has_to_tag && matches!(method, Method::Options | Method::Invite) {
            debug!(%method, "standby node: 503");
            let headers = vec![Header::Other("Retry-After".into(), standby.to_string())];
            tx.reply_with(StatusCode::ServiceUnavailable, headers, None)
                .await
                .ok();
            return;
        }
        match method {
            Method::Register => self.handle_register(tx).await,
            Method::Options if !has_to_tag => {
                let headers = vec![
                    Header::Allow("INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO".into()),
                    Header::Accept("application/sdp".into()),
                ];
                tx.reply_with(StatusCode::OK, headers, None).await.ok();
            }
            Method::Invite if !has_to_tag => self.handle_new_invite(tx).await,
            Method::Ack => {}
            _ => match self.inner.dialogs.match_dialog(&tx) {
                Some(mut dialog) => {
                    if let Err(e) = dialog.handle(&mut tx).await {
                        debug!(error = %e, "in-dialog request failed");
                    }
                }
                None if method == Method::Bye || method == Method::Info || has_to_tag => {
                    tx.reply(StatusCode::CallTransactionDoesNotExist).await.ok();
                }
                None => {
                    tx.reply(StatusCode::MethodNotAllowed).await.ok();
                }
            },
        }
    }

    /// Checks the request's digest credentials for `agent`; if they are
    /// missing or wrong, answers 401 with fresh challenges and returns false.
    async fn authenticate(
        &self,
        tx: &mut Transaction,
        agent: &str,
        method: &str,
        now: i64,
    ) -> bool {
        let reg = &self.inner.registrar;
        let source = source_ip(tx);
        let admission = match source {
            Some(ip) => self
                .inner
                .lockout
                .lock()
                .map(|l| l.admit(now, ip, agent))
                .unwrap_or(Admission::Allowed),
            None => Admission::Allowed,
        };
        match admission {
            Admission::Allowed => {}
            Admission::SourceBanned { .. } => return false,
            // the same for known and unknown names: both are locked alike
            Admission::UserLocked { .. } => {
                debug!(agent = %agent, src = ?source, "user name locked: 403");
                // every try at a locked name counts against its source (a
                // guesser asks for a fresh challenge before each guess)
                if let Some(ip) = source {
                    if let Ok(mut l) = self.inner.lockout.lock() {
                        l.failed_while_locked(now, ip, agent);
                    }
                    self.report_lockout_events();
                }
                tx.reply(StatusCode::Forbidden).await.ok();
                return false;
            }
        }
        let req = &tx.original;
        let account = reg.accounts.get(agent);
        let algorithms: Vec<DigestAlgorithm> = account
            .and_then(|a| a.algorithms.clone())
            .unwrap_or_else(|| self.inner.cfg.algorithms.clone());
        // Unknown users are challenged with the server default, exactly like known ones.
        let challenge_algs = if account.is_some() {
            algorithms.clone()
        } else {
            self.inner.cfg.algorithms.clone()
        };
        let auth = req.authorization_header().map(|h| h.value().to_string());
        // a wrong answer to one of our nonces is a password guess
        let mut guess = false;
        let verdict = match auth.as_deref().map(parse_authorization) {
            Some(Ok(d)) if d.username == agent => {
                let v = reg.auth.verify_from(
                    &d,
                    method,
                    account.map(|a| a.password.as_str()),
                    &algorithms,
                    now,
                    source,
                );
                // only a nonce issued to this address: a guess sent in
                // another address' name (spoofed UDP) cannot get it banned
                guess = v == Verdict::Denied && reg.auth.nonce_is_ours_for(&d.nonce, source);
                v
            }
            Some(_) => Verdict::Denied,
            None => Verdict::Denied,
        };
        if let (Some(ip), true) = (source, verdict == Verdict::Ok || guess) {
            if let Ok(mut l) = self.inner.lockout.lock() {
                if guess {
                    l.failed(now, ip, agent);
                } else {
                    l.succeeded(now, ip, agent);
                }
            }
            self.report_lockout_events();
        }
        if verdict == Verdict::Ok {
            return true;
        }
        if auth.is_some() {
            warn!(agent = %agent, src = ?tx.connection.as_ref().and_then(|c| c.get_remote_addr()).map(|a| a.to_string()), ?verdict, method, "authentication failed");
        }
        let headers = reg
            .auth
            .challenges_for(now, source, &challenge_algs, verdict == Verdict::Stale)
            .into_iter()
            .map(|c| Header::WwwAuthenticate(c.into()))
            .collect();
        tx.reply_with(StatusCode::Unauthorized, headers, None)
            .await
            .ok();
        false
    }

    async fn handle_register(&self, mut tx: Transaction) {
        let now = self.inner.clock.now_ms();
        let Some(agent) = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.typed().ok())
            .and_then(|t| t.uri.user().map(str::to_string))
        else {
            tx.reply(StatusCode::BadRequest).await.ok();
            return;
        };
        if self.registrar_at_edge() {
            warn!(agent = %agent.escape_debug(), "REGISTER refused: the agents register with Kamailio (cluster.registrar = \"kamailio\")");
            tx.reply_with(
                StatusCode::Forbidden,
                vec![Header::Other(
                    "Reason".into(),
                    "SIP;cause=403;text=\"register with the edge proxy\"".into(),
                )],
                None,
            )
            .await
            .ok();
            return;
        }
        if !self.authenticate(&mut tx, &agent, "REGISTER", now).await {
            return;
        }
        let req = &tx.original;
        let call_id = req
            .call_id_header()
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        let cseq = req
            .cseq_header()
            .ok()
            .and_then(|c| c.seq().ok())
            .unwrap_or(0);
        let header_expires = req
            .expires_header()
            .and_then(|e| e.value().trim().parse::<u32>().ok());
        let source = tx
            .connection
            .as_ref()
            .and_then(|c| c.get_remote_addr())
            .and_then(sip_addr_to_socket);
        let transport = match tx.connection.as_ref() {
            Some(c) if is_tls(c) => SipTransport::Tls,
            Some(c) if c.is_reliable() => SipTransport::Tcp,
            _ => SipTransport::Udp,
        };
        // one Contact header may list several contacts (RFC 3261 20.10):
        // parsed whole, the first URI took the last one's expires (issue 19,
        // found by the fuzz target's registrar step)
        let contacts: Vec<String> = crate::reach::split_path(
            &req.contact_headers()
                .iter()
                .map(|c| c.value().to_string())
                .collect::<Vec<_>>(),
        );
        // RFC 3327: the proxies the REGISTER crossed; requests to these
        // contacts go back through them
        let path_values: Vec<String> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Path(p) => Some(p.value().to_string()),
                _ => None,
            })
            .collect();
        let path = crate::reach::split_path(&path_values);
        if path.len() > MAX_PATH_ENTRIES
            || path
                .iter()
                .any(|p| p.len() > 512 || rsipstack::sip::typed::Route::parse(p).is_err())
        {
            tx.reply(StatusCode::BadRequest).await.ok();
            return;
        }
        let supports_path = req.headers.iter().any(|h| match h {
            Header::Supported(v) => v
                .value()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("path")),
            _ => false,
        });
        let nat = self
            .inner
            .registrar
            .accounts
            .get(&agent)
            .is_some_and(|a| a.nat);
        let applied = self.apply_register(
            &agent,
            &contacts,
            header_expires,
            RegisterOrigin {
                source,
                transport,
                path: path.clone(),
                nat,
            },
            &call_id,
            cseq,
            now,
        );
        let changes = match applied {
            Ok(c) => c,
            Err((status, headers)) => {
                tx.reply_with(status, headers, None).await.ok();
                return;
            }
        };
        // 200 lists every current binding with its remaining time.
        let mut headers: Vec<Header> = self
            .contacts(&agent)
            .into_iter()
            .map(|b| {
                let left = ((b.expires_at_ms - now).max(0) / 1000) as u32;
                Header::Contact(format!("<{}>;expires={}", b.contact, left).into())
            })
            .collect();
        if supports_path && !path.is_empty() {
            // RFC 3327 §5.3: the Path as stored, for the UA to see
            headers.push(Header::Path(path.join(", ").into()));
            headers.push(Header::Supported("path".into()));
        }
        headers.push(Header::Other("Date".into(), httpdate(now)));
        for c in &changes {
            info!(?c, "registration changed");
        }
        tx.reply_with(StatusCode::OK, headers, None).await.ok();
        for c in changes {
            self.inner.events.send(SipEvent::Binding(c)).await.ok();
        }
    }

    /// Applies the contacts of an authenticated REGISTER to the location service.
    #[allow(clippy::too_many_arguments)]
    fn apply_register(
        &self,
        agent: &str,
        contacts: &[String],
        header_expires: Option<u32>,
        origin: RegisterOrigin,
        call_id: &str,
        cseq: u32,
        now: i64,
    ) -> Result<Vec<BindingChange>, (StatusCode, Vec<Header>)> {
        let cfg = &self.inner.cfg;
        let mut loc = self
            .inner
            .registrar
            .location
            .lock()
            .map_err(|_| (StatusCode::ServerInternalError, vec![]))?;
        if contacts.iter().any(|c| c.trim() == "*") {
            if header_expires != Some(0) || contacts.len() != 1 {
                return Err((StatusCode::BadRequest, vec![]));
            }
            return Ok(loc.remove_all(agent));
        }
        let mut changes = Vec::new();
        for c in contacts {
            let typed = rsipstack::sip::typed::Contact::parse(c)
                .map_err(|_| (StatusCode::BadRequest, vec![]))?;
            let asked = typed
                .expires()
                .or(header_expires)
                .unwrap_or(cfg.default_expires_s);
            if asked != 0 && asked < cfg.min_expires_s {
                let h = vec![Header::MinExpires(cfg.min_expires_s.to_string().into())];
                return Err((StatusCode::IntervalTooBrief, h));
            }
            let granted = asked.min(cfg.max_expires_s);
            let Some(source) = origin.source else {
                continue;
            };
            let binding = Binding {
                contact: typed.uri.to_string(),
                source,
                transport: origin.transport,
                expires_at_ms: 0,
                call_id: call_id.to_string(),
                cseq,
                path: origin.path.clone(),
                nat: origin.nat,
            };
            match loc.update(agent, binding, granted, now) {
                Ok(Some(change)) => changes.push(change),
                Ok(None) => {}
                Err(RegisterError::OutOfOrder) => {
                    return Err((StatusCode::ServerInternalError, vec![]))
                }
                Err(RegisterError::TooManyContacts) => return Err((StatusCode::Forbidden, vec![])),
            }
        }
        Ok(changes)
    }

    async fn handle_new_invite(&self, mut tx: Transaction) {
        let dialled_user = tx.original.uri.user().unwrap_or_default().to_string();
        let cfg = &self.inner.cfg;
        let agents_only = [&cfg.feature_prefix, &cfg.dial_prefix]
            .iter()
            .any(|p| !p.is_empty() && dialled_user.starts_with(p.as_str()));
        let mut agent = None;
        if agents_only {
            // a feature code or a call out: only the agent named in From,
            // with their password
            let from_user = tx
                .original
                .from_header()
                .ok()
                .and_then(|f| f.typed().ok())
                .and_then(|f| f.uri.user().map(str::to_string))
                .unwrap_or_default();
            let now = self.inner.clock.now_ms();
            if !self.authenticate(&mut tx, &from_user, "INVITE", now).await {
                return;
            }
            agent = Some(from_user);
        }
        // RFC 4028 §8.1: an interval below our Min-SE gets 422
        let offer = timers::offered(&tx.original);
        let session = match timers::negotiate_uas(&cfg.session_timers, &offer) {
            Ok(s) => s,
            Err(too_brief) => {
                info!(offered = ?offer.session_expires, min_se = too_brief.min_se_s, "INVITE refused: session interval too small");
                let h = vec![Header::MinSE(too_brief.min_se_s.to_string().into())];
                tx.reply_with(StatusCode::SessionIntervalTooSmall, h, None)
                    .await
                    .ok();
                return;
            }
        };
        let over_tls = tx.connection.as_ref().is_some_and(is_tls);
        let contact = match self.our_contact(over_tls) {
            Ok(c) => c,
            Err(_) => return,
        };
        let Some((mut call, dialog)) = new_inbound_call(&self.inner.legs, tx, contact, agent).await
        else {
            return;
        };
        call.session = session;
        call.timer_offer = offer;
        if self
            .inner
            .events
            .send(SipEvent::IncomingCall(call))
            .await
            .is_err()
        {
            dialog
                .reject(Some(StatusCode::ServiceUnavailable), None)
                .ok();
        }
    }

    /// Where a request to a registered contact goes: the next hop (None: the
    /// stack resolves the Contact's or the first Route's host name) and the
    /// Route set (the REGISTER's Path).
    fn route_to(
        &self,
        to: &Binding,
        method: &str,
    ) -> Result<(Option<SipAddr>, Vec<rsipstack::sip::typed::Route>), SipError> {
        let mut target = to.target();
        // TLS (RFC 5923 connection reuse): the connection the phone
        // registered on, while it is open; a phone seldom has a certificate
        // we could verify to dial it anew
        if to.transport == SipTransport::Tls && target.route.is_empty() {
            if let Some(t) = &self.inner.tls {
                if t.gate.is_open(to.source) {
                    target.next_hop = Some(to.source);
                }
            }
        }
        debug!(contact = %to.contact, source = %to.source, transport = ?to.transport, ?target, "where the {method} goes");
        let destination = target.next_hop.map(|addr| SipAddr {
            r#type: Some(stack_transport(to.transport)),
            addr: addr.into(),
        });
        let mut route_set = Vec::with_capacity(target.route.len());
        for r in &target.route {
            let typed =
                rsipstack::sip::typed::Route::parse(r).map_err(|_| SipError::BadUri(r.clone()))?;
            route_set.push(typed);
        }
        Ok((destination, route_set))
    }

    /// Sends an INVITE to an agent's registered contact; the returned leg reports
    /// ringing, answer or failure through [`OutboundLeg::next_event`].
    pub async fn invite(
        &self,
        to: &Binding,
        caller: &Party,
        sdp: String,
    ) -> Result<OutboundLeg, SipError> {
        let (destination, route_set) = self.route_to(to, "INVITE")?;
        let contact = self.our_contact(to.transport == SipTransport::Tls)?;
        self.invite_to(
            &to.contact,
            destination,
            caller,
            None,
            route_set,
            sdp,
            contact,
        )
        .await
    }

    /// Calls `number` (already in the carrier's format) through a trunk:
    /// the INVITE goes to the trunk's address, a digest challenge (401 or
    /// 407) is answered once with its credentials, the From user is its
    /// caller id (`caller`'s display name is kept).
    pub async fn invite_trunk(
        &self,
        trunk: &TrunkTarget,
        number: &str,
        caller: &Party,
        sdp: String,
    ) -> Result<OutboundLeg, SipError> {
        let destination = Some(SipAddr {
            r#type: Some(stack_transport(trunk.transport)),
            addr: trunk.address.into(),
        });
        let credential = trunk.auth.as_ref().map(|a| Credential {
            username: a.username.clone(),
            password: a.password.clone(),
            realm: a.realm.clone(),
            ..Default::default()
        });
        let from = Party {
            number: trunk.caller_id.clone(),
            display: caller.display.clone(),
        };
        // the carrier as a loose route (RFC 3261 §8.1.2, the outbound proxy):
        // the INVITE's Request-URI names the carrier's domain, which need not
        // resolve, and the stack sends a CANCEL (copied from the INVITE) by
        // its Route, not by the INVITE's destination; without it a customer
        // who does not answer would ring on after we gave up
        let transport = match trunk.transport {
            SipTransport::Udp => "",
            SipTransport::Tcp => ";transport=tcp",
            SipTransport::Tls => ";transport=tls",
        };
        let hop = format!("<sip:{};lr{transport}>", trunk.address);
        let route =
            rsipstack::sip::typed::Route::parse(&hop).map_err(|_| SipError::BadUri(hop.clone()))?;
        self.invite_to(
            &trunk.uri_for(number),
            destination,
            &from,
            credential,
            vec![route],
            sdp,
            self.our_contact(trunk.transport == SipTransport::Tls)?,
        )
        .await
    }

    /// Sends one out-of-dialog OPTIONS to `address` and returns the final
    /// status code (a trunk's health probe); an error when nothing answers
    /// within `timeout`.
    pub async fn options(
        &self,
        address: SocketAddr,
        transport: SipTransport,
        timeout: Duration,
    ) -> Result<u16, SipError> {
        let uri_s = match transport {
            SipTransport::Udp => format!("sip:{address}"),
            SipTransport::Tcp => format!("sip:{address};transport=tcp"),
            SipTransport::Tls => format!("sip:{address};transport=tls"),
        };
        let destination = SipAddr {
            r#type: Some(stack_transport(transport)),
            addr: address.into(),
        };
        self.options_request(&uri_s, destination, Vec::new(), timeout)
            .await
    }

    /// An OPTIONS to an agent's registered contact, sent the way an INVITE
    /// to it goes (its Contact as the Request-URI, along its Path, to the
    /// edge that looks it up when Kamailio is the registrar): the phone
    /// itself answers, not a proxy in front of it. Its final status code.
    pub async fn options_contact(&self, to: &Binding, timeout: Duration) -> Result<u16, SipError> {
        let (destination, route_set) = self.route_to(to, "OPTIONS")?;
        let destination = destination.unwrap_or(SipAddr {
            r#type: Some(stack_transport(to.transport)),
            addr: to.source.into(),
        });
        self.options_request(&to.contact, destination, route_set, timeout)
            .await
    }

    async fn options_request(
        &self,
        uri_s: &str,
        destination: SipAddr,
        route_set: Vec<rsipstack::sip::typed::Route>,
        timeout: Duration,
    ) -> Result<u16, SipError> {
        let address = destination.addr.clone();
        let uri = Uri::try_from(uri_s).map_err(|_| SipError::BadUri(uri_s.to_string()))?;
        let ep = &self.inner.dialogs.endpoint;
        let via = ep.get_via(None, None)?;
        let from = rsipstack::sip::typed::From {
            display_name: None,
            uri: self.our_uri(SERVER_NAME)?,
            params: vec![],
        }
        .with_tag(rsipstack::transaction::make_tag());
        let to = rsipstack::sip::typed::To {
            display_name: None,
            uri: uri.clone(),
            params: vec![],
        };
        let seq = self
            .inner
            .options_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = ep.make_request(Method::Options, uri, via, from, to, seq, None);
        for r in route_set {
            req.headers.push(Header::from(r));
        }
        req.headers.push(Header::Accept("application/sdp".into()));
        req.headers.push(Header::ContentLength(0.into()));
        let key = TransactionKey::from_request(&req, TransactionRole::Client)?;
        let mut tx = Transaction::new_client(key, req, ep.clone(), None);
        tx.destination = Some(destination);
        let answer = async {
            tx.send().await?;
            while let Some(msg) = tx.receive().await {
                if let rsipstack::sip::SipMessage::Response(r) = msg {
                    if r.status_code.kind() != rsipstack::sip::StatusCodeKind::Provisional {
                        return Ok(r.status_code.code());
                    }
                }
            }
            Err(SipError::Stack(format!(
                "OPTIONS to {address}: transaction ended without an answer"
            )))
        };
        tokio::time::timeout(timeout, answer).await.map_err(|_| {
            SipError::Stack(format!(
                "no answer to OPTIONS from {address} within {timeout:?}"
            ))
        })?
    }

    /// An INVITE to `contact` (sent to `destination` when given), from
    /// `caller`, answering a digest challenge with `credential`.
    #[allow(clippy::too_many_arguments)]
    async fn invite_to(
        &self,
        contact: &str,
        destination: Option<SipAddr>,
        caller: &Party,
        credential: Option<Credential>,
        route_set: Vec<rsipstack::sip::typed::Route>,
        sdp: String,
        our_contact: Uri,
    ) -> Result<OutboundLeg, SipError> {
        let callee = Uri::try_from(contact).map_err(|_| SipError::BadUri(contact.to_string()))?;
        let from_user: String = caller
            .number
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(*c))
            .take(64)
            .collect();
        let from_user = if from_user.is_empty() {
            "anonymous".to_string()
        } else {
            from_user
        };
        let opt = InviteOption {
            caller_display_name: caller.display.clone().map(|d| {
                d.chars()
                    .filter(|c| !c.is_control() && *c != '"')
                    .take(64)
                    .collect()
            }),
            caller: self.our_uri(&from_user)?,
            callee,
            destination,
            content_type: Some("application/sdp".into()),
            offer: Some(sdp.clone().into_bytes()),
            contact: our_contact,
            credential,
            route_set,
            headers: Some(timers::uac_offer_headers(&self.inner.cfg.session_timers))
                .filter(|h| !h.is_empty()),
            ..Default::default()
        };
        let timer_cfg = self.inner.cfg.session_timers;
        let (dialog, join) = self
            .inner
            .dialogs
            .do_invite_async(opt, self.inner.legs.state_sender())?;
        let (leg_tx, leg_rx) = mpsc::channel(64);
        let local_sdp = Arc::new(Mutex::new(Some(sdp)));
        self.inner
            .legs
            .register(&dialog.id(), leg_tx.clone(), local_sdp.clone());
        let span = info_span!("sip_leg", contact = %contact, dir = "out");
        let final_tx = leg_tx.clone();
        let refresh_tx = leg_tx.clone();
        let leg_sdp = local_sdp.clone();
        tokio::spawn(
            async move {
                let ev = match join.await {
                    Ok(Ok((_, Some(resp))))
                        if resp.status_code.kind()
                            == rsipstack::sip::StatusCodeKind::Successful =>
                    {
                        let answered = LegEvent::Answered {
                            sdp: resp.body.clone(),
                        };
                        match timers::from_uac_answer(&timer_cfg, &resp) {
                            Some(t) => {
                                final_tx.send(Box::new(answered)).await.ok();
                                LegEvent::SessionTimer(t)
                            }
                            None => answered,
                        }
                    }
                    Ok(Ok((_, Some(resp)))) => LegEvent::Rejected {
                        status: resp.status_code.code(),
                    },
                    Ok(Ok((_, None))) => LegEvent::Failed {
                        reason: "no final response".into(),
                    },
                    Ok(Err(e)) => LegEvent::Failed {
                        reason: e.to_string(),
                    },
                    Err(e) => LegEvent::Failed {
                        reason: e.to_string(),
                    },
                };
                final_tx.send(Box::new(ev)).await.ok();
            }
            .instrument(span),
        );
        Ok(OutboundLeg {
            dialog,
            events: leg_rx,
            events_tx: refresh_tx,
            local_sdp: leg_sdp,
        })
    }
}

/// The stack's options with our Call-IDs: `UUID@our-address` (RFC 3261
/// §8.1.1.4), not the stack's default `UUID@restsend.com`, which names a
/// library and a domain that are not ours to every carrier and phone.
/// Bound to every address (`0.0.0.0`): the UUID alone.
pub(crate) fn call_id_option(
    ip: std::net::IpAddr,
) -> rsipstack::transaction::endpoint::EndpointOption {
    let mut option = rsipstack::transaction::endpoint::EndpointOption::default();
    if ip.is_unspecified() {
        option.callid_format = rsipstack::transaction::CallIdFormat::Uuid;
    } else {
        option.callid_suffix = Some(match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        });
    }
    option
}

/// The stack's name for a transport.
fn stack_transport(t: SipTransport) -> rsipstack::sip::Transport {
    match t {
        SipTransport::Udp => rsipstack::sip::Transport::Udp,
        SipTransport::Tcp => rsipstack::sip::Transport::Tcp,
        SipTransport::Tls => rsipstack::sip::Transport::Tls,
    }
}

/// Whether a connection is SIP over TLS.
fn is_tls(c: &SipConnection) -> bool {
    c.get_addr().r#type == Some(rsipstack::sip::Transport::Tls)
}

/// Creates the server dialog for a new INVITE and the [`InboundCall`] that
/// reports on it (shared by the server and the phone's user agent); None when
/// the INVITE could not start a dialog (answered 400).
pub(crate) async fn new_inbound_call(
    legs: &Arc<LegRouter>,
    mut tx: Transaction,
    contact: Uri,
    agent: Option<String>,
) -> Option<(InboundCall, InviteDialog)> {
    let dialog = match legs.dialogs().get_or_create_server_invite(
        &tx,
        legs.state_sender(),
        None,
        Some(contact),
    ) {
        Ok(d) => d,
        Err(e) => {
            debug!(error = %e, "cannot create dialog for INVITE");
            tx.reply(StatusCode::BadRequest).await.ok();
            return None;
        }
    };
    let req = tx.original.clone();
    let from = req.from_header().ok().and_then(|f| f.typed().ok());
    let caller = Party {
        number: from
            .as_ref()
            .and_then(|f| f.uri.user().map(str::to_string))
            .unwrap_or_else(|| "anonymous".into()),
        display: from.and_then(|f| f.display_name).filter(|d| !d.is_empty()),
    };
    let dialled = req.uri.user().unwrap_or_default().to_string();
    let content_type = req.header_value("Content-Type").unwrap_or_default();
    let source = tx
        .connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(sip_addr_to_socket);
    let sip_call_id = req
        .call_id_header()
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let (leg_tx, leg_rx) = mpsc::channel(64);
    let call = InboundCall {
        session: None,
        timer_offer: timers::Offered::default(),
        events_tx: leg_tx.clone(),
        caller,
        dialled,
        sip_call_id: sip_call_id.clone(),
        offer: req.body.clone(),
        offer_is_sdp: content_type
            .to_ascii_lowercase()
            .starts_with("application/sdp"),
        source,
        secure: tx.connection.as_ref().is_some_and(is_tls),
        agent,
        dialog: dialog.clone(),
        events: leg_rx,
        local_sdp: Arc::new(Mutex::new(None)),
    };
    legs.register(&dialog.id(), leg_tx, call.local_sdp.clone());
    let span = info_span!("sip_leg", sip_call_id = %sip_call_id, dir = "in");
    let mut d = dialog.clone();
    tokio::spawn(async move { d.handle(&mut tx).await.ok() }.instrument(span));
    Some((call, dialog))
}

/// RFC 3261 §8.2.2 checks every request must pass before its method is
/// looked at: a Request-URI scheme we serve (else 416), and no option tag in
/// `Require` that we would have to support (else 420 listing them, we support
/// none). `Proxy-Require` is for proxies and ignored by a UAS.
pub(crate) fn precheck(req: &rsipstack::sip::Request) -> Option<(StatusCode, Vec<Header>)> {
    use rsipstack::sip::uri::Scheme;
    match &req.uri.scheme {
        None | Some(Scheme::Sip) | Some(Scheme::Sips) => {}
        Some(Scheme::Other(_)) => return Some((StatusCode::UnsupportedUriScheme, vec![])),
    }
    let unsupported: Vec<String> = req
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Require(r) => Some(r.value().to_string()),
            _ => None,
        })
        .flat_map(|v| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("timer"))
        .collect();
    if unsupported.is_empty() {
        None
    } else {
        Some((
            StatusCode::BadExtension,
            vec![Header::Unsupported(unsupported.join(", ").into())],
        ))
    }
}

/// Whether a binding read back from the store can be used: a contact URI
/// and Path entries that parse and are no longer than a REGISTER may send.
pub fn restorable(b: &Binding) -> Result<(), String> {
    if b.contact.is_empty() || b.contact.len() > 512 {
        return Err(format!("contact of {} bytes", b.contact.len()));
    }
    let scheme_ok = ["sip:", "sips:"].iter().any(|p| {
        b.contact
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    });
    if !scheme_ok || !b.contact.bytes().all(|c| c.is_ascii_graphic()) {
        return Err("the contact is not a SIP URI".to_string());
    }
    let uri = Uri::try_from(b.contact.as_str())
        .map_err(|_| "the contact is not a SIP URI".to_string())?;
    if uri.host_with_port.to_string().is_empty() {
        return Err("the contact names no host".to_string());
    }
    if b.path.len() > MAX_PATH_ENTRIES {
        return Err(format!("{} Path entries", b.path.len()));
    }
    for p in &b.path {
        if p.len() > 512 || rsipstack::sip::typed::Route::parse(p).is_err() {
            return Err("a Path entry is not a route".to_string());
        }
    }
    if b.call_id.len() > 256 {
        return Err("Call-ID too long".to_string());
    }
    Ok(())
}

/// The address a request came from (None if the transport does not say).
fn source_ip(tx: &Transaction) -> Option<IpAddr> {
    tx.connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(sip_addr_to_socket)
        .map(|a| a.ip())
}

fn sip_addr_to_socket(a: &SipAddr) -> Option<SocketAddr> {
    a.addr.to_string().parse().ok()
}

/// RFC 7231 date for the REGISTER response.
fn httpdate(now_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What happened on one leg of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// The far end rings (180/183) — outbound legs.
    Ringing,
    /// The far end answered with this SDP — outbound legs.
    Answered {
        /// The answer body.
        sdp: Vec<u8>,
    },
    /// The far end refused with a final status — outbound legs.
    Rejected {
        /// SIP status.
        status: u16,
    },
    /// The INVITE failed without a usable response (timeout, unreachable).
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// The ACK for our 200 arrived — inbound legs.
    Confirmed,
    /// The caller cancelled before we answered — inbound legs.
    Cancelled,
    /// The far end hung up (BYE).
    HungUp,
    /// The leg ended for another reason (ACK timeout, our own BYE, ...).
    Ended {
        /// Why.
        reason: String,
    },
    /// An INFO arrived in the dialog (DTMF via SIP INFO).
    Info {
        /// Its body.
        body: Vec<u8>,
    },
    /// The far end put the call on hold (a re-INVITE or UPDATE offering
    /// `sendonly` or `inactive`: a desk phone's hold key) or took it back
    /// (`sendrecv`). Reported on changes only; the request was answered
    /// with the mirrored direction (RFC 3264 §6.1).
    RemoteHold {
        /// On hold now.
        held: bool,
    },
    /// The far end asked to transfer the call (REFER, a desk phone's
    /// transfer key); answered 202. `target` is the Refer-To URI's user part.
    Refer {
        /// Who to transfer to (`leaders`, `4001`).
        target: String,
    },
    /// The session timer of an outbound leg, from the 2xx (RFC 4028; right
    /// after `Answered`).
    SessionTimer(SessionTimer),
    /// The far end sent a new offer in a re-INVITE or UPDATE carrying an
    /// `a=crypto` key (SDES-SRTP, RFC 4568 §7.1.4: it may change its key);
    /// answered already with our SDP (our key, the offer's tag). The engine
    /// re-keys the leg when the key is new.
    Reoffer {
        /// The offered SDP.
        sdp: Vec<u8>,
    },
    /// The session was refreshed: the far end sent a re-INVITE or UPDATE,
    /// or answered ours (any answer but 408 and 481 proves it is there).
    Refreshed,
    /// Our session refresh failed: 408, 481, or no answer at all (408).
    RefreshFailed {
        /// The status, 408 for no answer.
        status: u16,
    },
}

/// A leg's event queue. The events are boxed: tokio allocates a channel's
/// first block of 32 slots with it, and 32 pointers are a quarter of 32
/// events (issue 19, memory per call; a leg gets a handful of events).
pub(crate) type LegTx = mpsc::Sender<Box<LegEvent>>;
/// The receiving end of a [`LegTx`].
pub(crate) type LegRx = mpsc::Receiver<Box<LegEvent>>;

impl LegEvent {
    /// Events that change nothing about whether the leg is up (provisional
    /// answers, ACK, INFO, re-INVITE hold, REFER): the call goes on.
    pub fn keeps_the_leg_up(&self) -> bool {
        matches!(
            self,
            LegEvent::Ringing
                | LegEvent::Confirmed
                | LegEvent::Info { .. }
                | LegEvent::RemoteHold { .. }
                | LegEvent::Refer { .. }
                | LegEvent::SessionTimer(_)
                | LegEvent::Refreshed
                | LegEvent::Reoffer { .. }
                | LegEvent::RefreshFailed { .. }
        )
    }
}

/// The media direction an SDP offer asks for (its last `a=` direction
/// attribute, session or media level); `sendrecv` when it names none.
pub(crate) fn offered_direction(sdp: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(sdp);
    let mut dir = "sendrecv";
    for line in text.lines() {
        match line.trim() {
            "a=sendonly" => dir = "sendonly",
            "a=recvonly" => dir = "recvonly",
            "a=inactive" => dir = "inactive",
            "a=sendrecv" => dir = "sendrecv",
            _ => {}
        }
    }
    dir
}

/// Our SDP with the direction that answers `offered` (RFC 3264 §6.1:
/// sendonly → recvonly, recvonly → sendonly, inactive → inactive).
pub(crate) fn answer_with_direction(ours: &str, offered: &str) -> String {
    let answer = match offered {
        "sendonly" => "recvonly",
        "recvonly" => "sendonly",
        "inactive" => "inactive",
        _ => "sendrecv",
    };
    let mut out = String::with_capacity(ours.len() + 16);
    let mut replaced = false;
    for line in ours.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if matches!(
            bare,
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) {
            out.push_str(&format!("a={answer}\r\n"));
            replaced = true;
        } else {
            out.push_str(line);
        }
    }
    if !replaced {
        if !out.ends_with('\n') {
            out.push_str("\r\n");
        }
        out.push_str(&format!("a={answer}\r\n"));
    }
    out
}

/// The user part of a Refer-To value (`<sip:leaders@host;transport=udp>`).
pub(crate) fn refer_target(value: &str) -> Option<String> {
    let uri = rsipstack::sip::event_packages::parse_refer_to(value).uri;
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';', '?']).next()?.trim();
    (!user.is_empty() && user.len() <= 64 && user.chars().all(|c| c.is_ascii_graphic()))
        .then(|| user.to_string())
}

/// A caller's INVITE, owned by the engine's call task.
pub struct InboundCall {
    /// The caller as their From header says.
    pub caller: Party,
    /// The Request-URI user part (the number dialled).
    pub dialled: String,
    /// The caller's SIP Call-ID (for logs only; untrusted).
    pub sip_call_id: String,
    /// The offer body.
    pub offer: Vec<u8>,
    /// Whether the body is declared as application/sdp.
    pub offer_is_sdp: bool,
    /// Where the INVITE came from.
    pub source: Option<SocketAddr>,
    /// The INVITE came over SIP over TLS (SDES-SRTP keys in the SDP may be
    /// used: nobody on the path could read them).
    pub secure: bool,
    /// The agent who authenticated this INVITE (feature codes only); None
    /// for callers, who are never challenged.
    pub agent: Option<String>,
    /// The session timer negotiated from the INVITE (RFC 4028); None with
    /// timers off (and for the phone's own calls).
    pub session: Option<SessionTimer>,
    timer_offer: timers::Offered,
    dialog: InviteDialog,
    events: LegRx,
    events_tx: LegTx,
    local_sdp: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for InboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundCall")
            .field("caller", &self.caller)
            .field("dialled", &self.dialled)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OutboundLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundLeg").finish_non_exhaustive()
    }
}

impl InboundCall {
    /// Sends 180 Ringing.
    pub fn ringing(&self) {
        self.dialog.ringing(None, None).ok();
    }

    /// Answers 200 OK with our SDP.
    pub fn answer(&self, sdp: String) -> Result<(), SipError> {
        if let Ok(mut l) = self.local_sdp.lock() {
            *l = Some(sdp.clone());
        }
        let mut headers = vec![Header::ContentType("application/sdp".into())];
        if let Some(t) = &self.session {
            headers.extend(timers::uas_answer_headers(t, &self.timer_offer));
        }
        self.dialog.accept(Some(headers), Some(sdp.into_bytes()))?;
        Ok(())
    }

    /// Refreshes the session (a re-INVITE with our SDP, RFC 4028 §7.4) in
    /// the background; the outcome comes as [`LegEvent::Refreshed`] or
    /// [`LegEvent::RefreshFailed`].
    pub fn refresh_session(&self, interval_s: u32) {
        spawn_refresh(
            self.dialog.clone(),
            self.local_sdp.clone(),
            self.events_tx.clone(),
            interval_s,
        );
    }

    /// Refuses the call with a final status (before it was answered).
    pub fn reject(&self, status: u16, reason: Option<String>) {
        self.dialog
            .reject(Some(StatusCode::from(status)), reason)
            .ok();
    }

    /// Hangs up an answered call (BYE).
    pub async fn hangup(&self) {
        // boxed: rsipstack's hangup future holds a whole transaction, and
        // every call task that can hang up would carry its size (issue 19)
        Box::pin(self.dialog.hangup()).await.ok();
    }

    /// The next thing that happened on this leg; None once the leg is gone.
    pub async fn next_event(&mut self) -> Option<LegEvent> {
        self.events.recv().await.map(|e| *e)
    }
}

/// Our INVITE to an agent, owned by the engine's call task.
pub struct OutboundLeg {
    dialog: InviteDialog,
    events: LegRx,
    events_tx: LegTx,
    local_sdp: Arc<Mutex<Option<String>>>,
}

/// Sends one refresh re-INVITE and reports its outcome on the leg.
fn spawn_refresh(
    dialog: InviteDialog,
    local_sdp: Arc<Mutex<Option<String>>>,
    events: LegTx,
    interval_s: u32,
) {
    let sdp = local_sdp.lock().ok().and_then(|s| s.clone());
    tokio::spawn(async move {
        let mut headers = timers::refresh_headers(interval_s);
        if sdp.is_some() {
            headers.push(Header::ContentType("application/sdp".into()));
        }
        let result = dialog
            .reinvite(Some(headers), sdp.map(String::into_bytes))
            .await;
        let ev = match result {
            Ok(Some(resp)) => match resp.status_code.code() {
                408 | 481 => LegEvent::RefreshFailed {
                    status: resp.status_code.code(),
                },
                status => {
                    debug!(status, "session refreshed");
                    LegEvent::Refreshed
                }
            },
            Ok(None) => LegEvent::RefreshFailed { status: 408 },
            Err(e) => {
                info!(error = %e, "session refresh failed");
                LegEvent::RefreshFailed { status: 408 }
            }
        };
        events.send(Box::new(ev)).await.ok();
    });
}

impl OutboundLeg {
    /// Refreshes the session in the background (see
    /// [`InboundCall::refresh_session`]).
    pub fn refresh_session(&self, interval_s: u32) {
        spawn_refresh(
            self.dialog.clone(),
            self.local_sdp.clone(),
            self.events_tx.clone(),
            interval_s,
        );
    }

    /// Cancels a ringing leg (CANCEL), or hangs up an answered one (BYE).
    pub async fn hangup(&self) {
        // boxed: rsipstack's hangup future holds a whole transaction, and
        // every call task that can hang up would carry its size (issue 19)
        Box::pin(self.dialog.hangup()).await.ok();
    }

    /// The next thing that happened on this leg; None once the leg is gone.
    pub async fn next_event(&mut self) -> Option<LegEvent> {
        self.events.recv().await.map(|e| *e)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hold_offers_are_answered_with_the_mirrored_direction() {
        let ours = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
        let hold = b"v=0\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly\r\n";
        assert_eq!(super::offered_direction(hold), "sendonly");
        let a = super::answer_with_direction(ours, "sendonly");
        assert!(
            a.contains("a=recvonly\r\n") && !a.contains("sendrecv"),
            "{a}"
        );
        assert_eq!(
            super::answer_with_direction(ours, "inactive")
                .matches("a=inactive")
                .count(),
            1
        );
        // no direction in the offer: sendrecv; none in ours: one is added
        assert_eq!(
            super::offered_direction(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
            "sendrecv"
        );
        let bare = super::answer_with_direction("v=0\r\nm=audio 4000 RTP/AVP 0", "sendonly");
        assert!(
            bare.ends_with("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"),
            "{bare:?}"
        );
        // garbage is not a hold
        assert_eq!(super::offered_direction(&[0xff, 0xfe, b'a']), "sendrecv");
    }

    #[test]
    fn refer_targets_are_user_parts_or_nothing() {
        let t = |v: &str| super::refer_target(v);
        assert_eq!(
            t("<sip:leaders@10.0.0.1;transport=udp>").as_deref(),
            Some("leaders")
        );
        assert_eq!(t("sip:4001@pbx").as_deref(), Some("4001"));
        assert_eq!(
            t("\"Boss\" <sips:boss@pbx?Replaces=abc>").as_deref(),
            Some("boss")
        );
        assert_eq!(t("<tel:+8613800000000>").as_deref(), Some("+8613800000000"));
        assert_eq!(t("<http://evil>"), None);
        assert_eq!(t("<sip:@pbx>"), None);
        assert_eq!(t(&format!("<sip:{}@pbx>", "x".repeat(100))), None);
        assert_eq!(t(""), None);
    }

    use super::*;

    #[test]
    fn http_date() {
        assert_eq!(httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(httpdate(1_795_392_000_000), "Mon, 23 Nov 2026 00:00:00 GMT");
    }
}
