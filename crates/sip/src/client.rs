//! The client side: a SIP user agent for one agent's softphone
//! (`hotline-phone`). It registers to the hotline with digest authentication
//! and hands every incoming INVITE over as an [`InboundCall`] (the same
//! handle the server gives the engine: ring, answer, reject, hang up, and
//! [`LegEvent`](crate::LegEvent)s for CANCEL, BYE and the ACK).
//!
//! Keeping the registration alive (refresh before expiry, retry with backoff)
//! is the caller's loop around [`UserAgent::register`]; this type does one
//! REGISTER transaction (with its authenticated retry) per call. Likewise
//! [`UserAgent::ping`] sends one out-of-dialog OPTIONS: the caller's loop
//! turns it into a keep-alive (NAT binding refresh and liveness, RFC 5626
//! §4.4.1 intervals: [`KeepAlive`]).

use crate::legs::LegRouter;
use crate::server::{new_inbound_call, InboundCall, SipError};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::SipMessage;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, StatusCodeKind, Uri};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{udp::UdpConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// What the phone sends as User-Agent.
pub const USER_AGENT_NAME: &str = "hotline-phone";

/// How long one REGISTER (with its authenticated retry) may take.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(8);

/// How long one keep-alive OPTIONS may wait for its answer.
pub const OPTIONS_TIMEOUT: Duration = Duration::from_secs(5);

/// Default keep-alive interval over UDP, seconds: RFC 5626 §4.4.1 has UAs
/// on connectionless transports send keep-alives every 24-29 s when the
/// registrar gives no Flow-Timer (NAT bindings for UDP often live ~30 s).
pub const DEFAULT_KEEPALIVE_S: u32 = 29;

/// Keep-alives left unanswered in a row before the server counts as gone.
pub const KEEPALIVE_MISSES: u32 = 2;

/// What a keep-alive answer (or its absence) means for the phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Nothing new.
    Steady,
    /// The server stopped answering ([`KEEPALIVE_MISSES`] in a row): report
    /// it and register again (with backoff) until it answers.
    Lost,
    /// The server answers again after being lost: report it and register
    /// at once (it may have restarted and forgotten our binding).
    Back,
}

/// The keep-alive policy (sans-IO): when to send the next OPTIONS, and what
/// answers and timeouts mean.
#[derive(Clone, Debug)]
pub struct KeepAlive {
    interval: Duration,
    misses: u32,
    lost: bool,
}

impl KeepAlive {
    /// A keep-alive every `interval_s` seconds (at least 1).
    pub fn new(interval_s: u32) -> KeepAlive {
        KeepAlive {
            interval: Duration::from_secs(u64::from(interval_s.max(1))),
            misses: 0,
            lost: false,
        }
    }

    /// The wait before the next OPTIONS: 80-100 % of the interval, as RFC
    /// 5626 §4.4.1 asks (so that phones behind one NAT do not synchronise);
    /// `random` is in 0..1. While the server is lost it is probed every
    /// interval's fifth (at least 1 s) so its return is seen quickly.
    pub fn next_delay(&self, random: f64) -> Duration {
        if self.lost {
            return (self.interval / 5).max(Duration::from_secs(1));
        }
        self.interval.mul_f64(0.8 + 0.2 * random.clamp(0.0, 1.0))
    }

    /// Whether the server currently counts as lost.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// The server answered (any final status: it is alive and the NAT
    /// binding was refreshed).
    pub fn on_answer(&mut self) -> Liveness {
        self.misses = 0;
        if std::mem::take(&mut self.lost) {
            Liveness::Back
        } else {
            Liveness::Steady
        }
    }

    /// No answer in [`OPTIONS_TIMEOUT`] (or the request could not be sent).
    pub fn on_timeout(&mut self) -> Liveness {
        self.misses = self.misses.saturating_add(1);
        if !self.lost && self.misses >= KEEPALIVE_MISSES {
            self.lost = true;
            Liveness::Lost
        } else {
            Liveness::Steady
        }
    }
}

/// Settings of a [`UserAgent`].
#[derive(Clone, Debug)]
pub struct UserAgentConfig {
    /// The hotline's SIP address (UDP).
    pub server: SocketAddr,
    /// Local address to bind (port 0 = any free port). Its IP goes into the
    /// Contact, so it must be one the server can reach (not 0.0.0.0).
    pub bind: SocketAddr,
    /// The agent's extension (user name).
    pub user: String,
    /// The agent's digest password.
    pub password: String,
    /// Registration length asked for, seconds.
    pub expires_s: u32,
}

/// The result of one REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// 200 OK: registered for this long.
    Registered {
        /// Seconds the registrar granted.
        expires_s: u32,
    },
    /// A final non-2xx answer (403, 404, 401 after our credentials, ...).
    Rejected {
        /// SIP status code.
        status: u16,
        /// Reason phrase, for the message shown to the agent.
        reason: String,
    },
}

/// A SIP user agent registered as one agent (cheap to clone).
#[derive(Clone)]
pub struct UserAgent {
    inner: Arc<UaInner>,
}

struct UaInner {
    cfg: UserAgentConfig,
    local: SocketAddr,
    contact: Uri,
    dialogs: Arc<DialogLayer>,
    /// The shared dialog-state channel and its demultiplexer.
    legs: Arc<LegRouter>,
    registration: tokio::sync::Mutex<Registration>,
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    options_seq: std::sync::atomic::AtomicU32,
    cancel: CancellationToken,
}

impl std::fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgent")
            .field("user", &self.inner.cfg.user)
            .field("local", &self.inner.local)
            .field("server", &self.inner.cfg.server)
            .finish_non_exhaustive()
    }
}

impl UserAgent {
    /// Binds UDP on `cfg.bind`, starts the stack and returns the agent with
    /// the stream of incoming calls. Nothing is sent before [`register`](Self::register).
    pub async fn start(
        cfg: UserAgentConfig,
    ) -> Result<(UserAgent, mpsc::Receiver<InboundCall>), SipError> {
        if cfg.bind.ip().is_unspecified() {
            return Err(SipError::Stack(format!(
                "bind address {} is unspecified: give the IP the server reaches us on",
                cfg.bind
            )));
        }
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let udp = tokio::net::UdpSocket::bind(cfg.bind)
            .await
            .map_err(|source| SipError::Bind {
                addr: cfg.bind,
                transport: "udp",
                source,
            })?;
        let local = udp.local_addr().map_err(|source| SipError::Bind {
            addr: cfg.bind,
            transport: "udp",
            source,
        })?;
        let conn =
            UdpConnection::from_socket(Arc::new(udp), None, Some(cancel.child_token())).await?;
        transport_layer.add_transport(conn.into());
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transport_layer)
            .with_option(crate::server::call_id_option(local.ip()))
            .with_user_agent(USER_AGENT_NAME)
            .with_allows(vec![
                Method::Invite,
                Method::Ack,
                Method::Cancel,
                Method::Bye,
                Method::Options,
            ])
            .build();
        let incoming = endpoint.incoming_transactions()?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let legs = LegRouter::new(dialogs.clone());
        let contact_s = format!("sip:{}@{}", cfg.user, local);
        let contact =
            Uri::try_from(contact_s.as_str()).map_err(|_| SipError::BadUri(contact_s.clone()))?;
        let mut registration = Registration::new(
            endpoint.inner.clone(),
            Some(Credential {
                username: cfg.user.clone(),
                password: cfg.password.clone(),
                realm: None,
                auth_username: None,
            }),
        );
        registration.contact = Some(rsipstack::sip::typed::Contact {
            display_name: None,
            uri: contact.clone(),
            params: vec![],
        });
        let inner = Arc::new(UaInner {
            cfg,
            local,
            contact,
            dialogs,
            legs,
            registration: tokio::sync::Mutex::new(registration),
            endpoint: endpoint.inner.clone(),
            options_seq: std::sync::atomic::AtomicU32::new(1),
            cancel: cancel.clone(),
        });
        tokio::spawn(async move { endpoint.serve().await });
        let (calls_tx, calls_rx) = mpsc::channel(16);
        let ua = UserAgent { inner };
        tokio::spawn(ua.clone().dispatch(incoming, calls_tx));
        info!(local = %local, server = %ua.inner.cfg.server, "SIP user agent started");
        Ok((ua, calls_rx))
    }

    /// The local SIP address (the Contact's host and port).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Sends one REGISTER (answering a digest challenge with the password)
    /// asking for `cfg.expires_s`; `Err` when the server did not answer in
    /// [`REGISTER_TIMEOUT`] or could not be reached.
    pub async fn register(&self) -> Result<RegisterOutcome, SipError> {
        self.register_for(self.inner.cfg.expires_s).await
    }

    /// Removes our binding (REGISTER with Expires: 0).
    pub async fn unregister(&self) -> Result<RegisterOutcome, SipError> {
        self.register_for(0).await
    }

    async fn register_for(&self, expires: u32) -> Result<RegisterOutcome, SipError> {
        let server = format!("sip:{}", self.inner.cfg.server);
        let uri = Uri::try_from(server.as_str()).map_err(|_| SipError::BadUri(server.clone()))?;
        let mut reg = self.inner.registration.lock().await;
        let resp = tokio::time::timeout(REGISTER_TIMEOUT, reg.register(uri, Some(expires)))
            .await
            .map_err(|_| {
                SipError::Stack(format!(
                    "no answer to REGISTER from {} within {:?}",
                    self.inner.cfg.server, REGISTER_TIMEOUT
                ))
            })??;
        if resp.status_code.kind() == StatusCodeKind::Successful {
            Ok(RegisterOutcome::Registered {
                expires_s: if expires == 0 { 0 } else { reg.expires() },
            })
        } else {
            let reason = resp
                .status_code
                .to_string()
                .split_once(' ')
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            Ok(RegisterOutcome::Rejected {
                status: resp.status_code.code(),
                reason,
            })
        }
    }

    /// Sends one OPTIONS to the server (out of dialog, from our SIP socket,
    /// so it refreshes the NAT binding the server reaches us through).
    /// `Ok(status)` with the first final answer, whatever it is (a 4xx
    /// still proves the server alive); `Err` when none came within
    /// [`OPTIONS_TIMEOUT`] or it could not be sent.
    pub async fn ping(&self) -> Result<u16, SipError> {
        let server = self.inner.cfg.server;
        let uri_s = format!("sip:{server}");
        let uri = Uri::try_from(uri_s.as_str()).map_err(|_| SipError::BadUri(uri_s.clone()))?;
        let from_s = format!("sip:{}@{server}", self.inner.cfg.user);
        let from_uri =
            Uri::try_from(from_s.as_str()).map_err(|_| SipError::BadUri(from_s.clone()))?;
        let ep = &self.inner.endpoint;
        let via = ep.get_via(None, None)?;
        let from = rsipstack::sip::typed::From {
            display_name: None,
            uri: from_uri,
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
        req.headers.push(Header::Accept("application/sdp".into()));
        req.headers.push(Header::ContentLength(0.into()));
        let key = TransactionKey::from_request(&req, TransactionRole::Client)?;
        let mut tx = Transaction::new_client(key, req, ep.clone(), None);
        let answer = async {
            tx.send().await?;
            while let Some(msg) = tx.receive().await {
                if let SipMessage::Response(r) = msg {
                    if r.status_code.kind() != StatusCodeKind::Provisional {
                        return Ok(r.status_code.code());
                    }
                }
            }
            Err(SipError::Stack(format!(
                "OPTIONS to {server}: transaction ended without an answer"
            )))
        };
        tokio::time::timeout(OPTIONS_TIMEOUT, answer)
            .await
            .map_err(|_| {
                SipError::Stack(format!(
                    "no answer to OPTIONS from {server} within {OPTIONS_TIMEOUT:?}"
                ))
            })?
    }

    /// Stops the stack (the socket closes; calls in progress end).
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    async fn dispatch(
        self,
        mut incoming: rsipstack::transaction::TransactionReceiver,
        calls: mpsc::Sender<InboundCall>,
    ) {
        loop {
            let tx = tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
            };
            let this = self.clone();
            let calls = calls.clone();
            tokio::spawn(async move { this.handle_transaction(tx, calls).await });
        }
    }

    async fn handle_transaction(self, mut tx: Transaction, calls: mpsc::Sender<InboundCall>) {
        let has_to_tag = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        match tx.original.method {
            Method::Invite if !has_to_tag => {
                let Some((call, dialog)) =
                    new_inbound_call(&self.inner.legs, tx, self.inner.contact.clone(), None).await
                else {
                    return;
                };
                if calls.send(call).await.is_err() {
                    dialog.reject(Some(StatusCode::BusyHere), None).ok();
                }
            }
            Method::Options if !has_to_tag => {
                let headers = vec![
                    Header::Allow("INVITE, ACK, CANCEL, BYE, OPTIONS".into()),
                    Header::Accept("application/sdp".into()),
                ];
                tx.reply_with(StatusCode::OK, headers, None).await.ok();
            }
            Method::Ack => {}
            _ => match self.inner.dialogs.match_dialog(&tx) {
                Some(mut dialog) => {
                    if let Err(e) = dialog.handle(&mut tx).await {
                        debug!(error = %e, "in-dialog request failed");
                    }
                }
                None if has_to_tag || tx.original.method == Method::Bye => {
                    tx.reply(StatusCode::CallTransactionDoesNotExist).await.ok();
                }
                None => {
                    tx.reply(StatusCode::MethodNotAllowed).await.ok();
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_reports_a_silent_server_once_and_its_return() {
        let mut k = KeepAlive::new(30);
        // RFC 5626: 80-100 % of the interval
        assert_eq!(k.next_delay(0.0), Duration::from_secs(24));
        assert_eq!(k.next_delay(1.0), Duration::from_secs(30));
        assert_eq!(k.on_answer(), Liveness::Steady);
        assert_eq!(
            k.on_timeout(),
            Liveness::Steady,
            "one loss is not a dead server"
        );
        assert_eq!(k.on_answer(), Liveness::Steady);
        assert_eq!(k.on_timeout(), Liveness::Steady);
        assert_eq!(k.on_timeout(), Liveness::Lost);
        assert!(k.is_lost());
        assert_eq!(k.on_timeout(), Liveness::Steady, "reported once");
        // probed more often while lost
        assert_eq!(k.next_delay(0.5), Duration::from_secs(6));
        assert_eq!(k.on_answer(), Liveness::Back);
        assert_eq!(k.on_answer(), Liveness::Steady);
        assert_eq!(KeepAlive::new(0).next_delay(1.0), Duration::from_secs(1));
    }
}
