//! Alarms and reports out of hotline, to people: e-mail (SMTP with STARTTLS
//! and AUTH through lettre, rustls with the ring provider: no OpenSSL) and
//! webhooks (a plain JSON shape, or the WeCom/DingTalk robot text shape).
//!
//! The engine's events reach [`Notifier`] through the event tee; the kinds a
//! channel is configured for ([`config::DEFAULT_KINDS`] unless it names its
//! own) become a [`message::Message`] (Chinese first) queued in a bounded
//! [`retry::Outbox`] (sans-IO: takes `now`). Each attempt runs on a task of
//! its own with a timeout, is recorded in the store (`notify_deliveries`)
//! and a failure is retried with backoff. Nothing here blocks the engine: a
//! full queue drops with a warning, a dead SMTP server only delays its mail.

#![warn(missing_docs)]

pub mod config;
pub mod message;
pub mod retry;
mod service;
pub mod transport;

pub use config::{
    ConfigError, EmailChannel, Language, NotifyConfig, WebhookChannel, WebhookStyle, DEFAULT_KINDS,
    KNOWN_KINDS,
};
pub use message::Message;
pub use retry::{Outbox, RetryPolicy, Verdict};
pub use service::{target_of_url, Notifier, MAX_IN_FLIGHT};
