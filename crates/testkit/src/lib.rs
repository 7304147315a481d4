//! Test support shared by hotline's test suites: the store's, the
//! engine's cluster test, the recorder's shared-store tests and the
//! end-to-end suite. It is only ever a
//! `[dev-dependencies]` entry; nothing here runs in the hotline.
//!
//! A failure here is a failed test, so the functions panic with a message
//! that says what to install or set, instead of returning errors every
//! caller would unwrap.

pub mod moto;
pub mod pg;

pub use moto::Moto;
pub use pg::PgCluster;

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick
/// for port 0). Suites that start many peers at once reserve ports their
/// own way (tests/common `reserve`) and use [`PgCluster::start_on`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free TCP port on 127.0.0.1: {e}"))
}
