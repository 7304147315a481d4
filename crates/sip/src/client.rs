//! The client side: a SIP user agent for one agent's softphone
//! (`hotline-phone`). It registers to the hotline with digest authentication
//! and hands every incoming INVITE over as an [`InboundCall`] (the same
//! handle the server gives the engine: ring, answer, reject, hang up, and
//! [`LegEvent`](crate::LegEvent)s for CANCEL, BYE and the ACK).
//!
//! Keeping the registration alive (refresh before expiry, retry with backoff)
//! is the caller's loop around [`UserAgent::register`]; this type does one
//! REGISTER transaction (with its authenticated retry) per call.

use crate::server::{new_inbound_call, InboundCall, SipError};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, StatusCodeKind, Uri};
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
    registration: tokio::sync::Mutex<Registration>,
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
            registration: tokio::sync::Mutex::new(registration),
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
                    new_inbound_call(&self.inner.dialogs, tx, self.inner.contact.clone(), None)
                        .await
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
