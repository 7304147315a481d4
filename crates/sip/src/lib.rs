//! SIP for the hotline, built on rsipstack (pinned) and wrapped so that no other
//! crate names an rsipstack type.
//!
//! - [`SipServer`]: UDP and TCP transports, a gate that answers malformed
//!   requests with 400 and throttles floods, OPTIONS keep-alives, the registrar
//!   with digest authentication ([`digest`]), the password guessing
//!   defence ([`lockout`]: bans and locks after failed digest answers) and the
//!   location service ([`location`]).
//! - [`InboundCall`] / [`OutboundLeg`]: the two legs of a B2BUA call, driven by
//!   the engine through [`LegEvent`]s.
//! - [`UserAgent`]: the client side for the agent softphone (`hotline-phone`):
//!   REGISTER with digest, incoming INVITEs as [`InboundCall`]s.

#![warn(missing_docs)]

mod client;
pub mod digest;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod legs;
pub mod location;
pub mod lockout;
pub mod reach;
pub mod sdes;
mod server;
pub mod session_timer;
pub mod tcp;
pub mod tls;
pub mod trunk;

pub use client::{
    KeepAlive, Liveness, RegisterOutcome, UserAgent, UserAgentConfig, DEFAULT_KEEPALIVE_S,
    KEEPALIVE_MISSES, OPTIONS_TIMEOUT, REGISTER_TIMEOUT, USER_AGENT_NAME,
};
pub use digest::DigestAlgorithm;
pub use location::{Binding, BindingChange, SipTransport};
pub use server::{
    restorable, AgentAccount, InboundCall, LegEvent, OutboundLeg, SipConfig, SipError, SipEvent,
    SipServer, TableSizes, SERVER_NAME,
};
pub use session_timer::{SessionTimer, SessionTimerConfig};
pub use tcp::{TcpLimits, TcpStats};
pub use tls::{TlsError, TlsSettings};
pub use trunk::{TrunkAuth, TrunkTarget};
