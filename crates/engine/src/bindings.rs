//! Registrations that survive a restart (issue 19): the registrar's
//! bindings are written behind the location service to the store, and
//! loaded back at start, so agents registered with a long expiry are rung
//! at once after an engine was killed, without registering again.
//!
//! Write-behind, off the hot path: the REGISTER is answered from memory; a
//! task looks at the location service every [`WRITE_EVERY`] and, when it
//! changed, writes the bindings added or refreshed and deletes the removed
//! ones (unregistered, replaced, expired). A kill loses at most the last
//! [`WRITE_EVERY`] of changes, which the phones' next refresh repairs. A
//! failed write is logged and tried again at the next round.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hotline_core::Clock;
use hotline_sip::{Binding, SipServer, SipTransport};
use hotline_store::{Store, StoreError, StoredBinding};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the write-behind looks for changes.
pub const WRITE_EVERY: Duration = Duration::from_millis(500);

/// A binding as the store keeps it.
pub fn to_stored(agent: &str, b: &Binding) -> StoredBinding {
    StoredBinding {
        agent: agent.to_string(),
        contact: b.contact.clone(),
        source: b.source.to_string(),
        transport: match b.transport {
            SipTransport::Udp => "udp".into(),
            SipTransport::Tcp => "tcp".into(),
            SipTransport::Tls => "tls".into(),
        },
        expires_at_ms: b.expires_at_ms,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        path: b.path.clone(),
        nat: b.nat,
    }
}

/// A stored binding back as the registrar's, or why it cannot be.
pub fn from_stored(s: &StoredBinding) -> Result<(String, Binding), String> {
    let source: SocketAddr = s
        .source
        .parse()
        .map_err(|_| format!("source `{}` is not an address", s.source.escape_debug()))?;
    let transport = match s.transport.as_str() {
        "udp" => SipTransport::Udp,
        "tcp" => SipTransport::Tcp,
        "tls" => SipTransport::Tls,
        other => return Err(format!("transport `{}`", other.escape_debug())),
    };
    if s.agent.is_empty() || s.agent.len() > 64 {
        return Err("agent name".into());
    }
    let b = Binding {
        contact: s.contact.clone(),
        source,
        transport,
        expires_at_ms: s.expires_at_ms,
        call_id: s.call_id.clone(),
        cseq: s.cseq,
        path: s.path.clone(),
        nat: s.nat,
    };
    hotline_sip::restorable(&b)?;
    Ok((s.agent.clone(), b))
}

/// Loads the stored bindings into the registrar (call it after the SIP
/// server started and before the engine runs): unexpired ones of known
/// agents come back, expired ones are deleted, unusable rows are skipped
/// with a warning. Returns how many came back.
pub async fn restore(
    store: &Store,
    sip: &SipServer,
    clock: &dyn Clock,
) -> Result<usize, StoreError> {
    restore_with(store, sip, clock, false).await
}

/// [`restore`] while the engine runs (a node of the HA pair that became
/// active reloads what the other node's registrar wrote): the agents whose
/// bindings came back are reported to the engine, so they can be rung.
pub async fn restore_live(
    store: &Store,
    sip: &SipServer,
    clock: &dyn Clock,
) -> Result<usize, StoreError> {
    restore_with(store, sip, clock, true).await
}

async fn restore_with(
    store: &Store,
    sip: &SipServer,
    clock: &dyn Clock,
    live: bool,
) -> Result<usize, StoreError> {
    let loaded = store.load_bindings(clock.now_ms()).await?;
    let mut usable = Vec::with_capacity(loaded.bindings.len());
    let mut skipped = loaded.unreadable;
    for s in &loaded.bindings {
        match from_stored(s) {
            Ok(pair) => usable.push(pair),
            Err(why) => {
                skipped += 1;
                warn!(agent = %s.agent.escape_debug(), %why, "stored registration skipped");
            }
        }
    }
    let usable_n = usable.len() as u64;
    let restored = if live {
        sip.restore_bindings_live(usable)
    } else {
        sip.restore_bindings(usable)
    };
    skipped += usable_n.saturating_sub(restored as u64);
    info!(
        restored,
        expired = loaded.expired,
        skipped,
        "registrations restored from the store"
    );
    Ok(restored)
}

/// The running write-behind ([`WriteBehind::start`]).
pub struct WriteBehind {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WriteBehind {
    /// Starts writing the registrar's bindings to `store` behind it.
    pub fn start(store: Store, sip: SipServer, clock: std::sync::Arc<dyn Clock>) -> WriteBehind {
        let cancel = CancellationToken::new();
        let task = spawn_write_behind(store, sip, clock, cancel.clone());
        WriteBehind { cancel, task }
    }

    /// Writes what changed since the last round and stops (at shutdown).
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.ok();
    }
}

fn spawn_write_behind(
    store: Store,
    sip: SipServer,
    clock: std::sync::Arc<dyn Clock>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (_, now) = sip.bindings_snapshot();
        // what the store holds: the bindings just restored
        let mut written: HashMap<(String, String), Binding> = now
            .into_iter()
            .map(|(a, b)| ((a, b.contact.clone()), b))
            .collect();
        let mut seen = None;
        let mut tick = tokio::time::interval(WRITE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let last = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = tick.tick() => false,
            };
            let generation = sip.bindings_generation();
            if seen != Some(generation) {
                let ok = write_round(&store, &sip, clock.now_ms(), &mut written).await;
                if ok {
                    seen = Some(generation);
                }
            }
            if last {
                return;
            }
        }
    })
}

/// Writes what changed since `written`; false if a write failed (the
/// round is done again later).
async fn write_round(
    store: &Store,
    sip: &SipServer,
    now: i64,
    written: &mut HashMap<(String, String), Binding>,
) -> bool {
    let (_, current) = sip.bindings_snapshot();
    let mut ok = true;
    let mut live = HashMap::with_capacity(current.len());
    for (agent, b) in current {
        let key = (agent, b.contact.clone());
        if written.get(&key) != Some(&b) {
            match store.save_binding(&to_stored(&key.0, &b), now).await {
                Ok(()) => {
                    written.insert(key.clone(), b.clone());
                }
                Err(e) => {
                    ok = false;
                    warn!(agent = %key.0, error = %e, "registration not saved; trying again");
                }
            }
        }
        live.insert(key, ());
    }
    let gone: Vec<(String, String)> = written
        .keys()
        .filter(|k| !live.contains_key(*k))
        .cloned()
        .collect();
    for key in gone {
        match store.delete_binding(&key.0, &key.1).await {
            Ok(_) => {
                written.remove(&key);
            }
            Err(e) => {
                ok = false;
                warn!(agent = %key.0, error = %e, "removed registration not deleted; trying again");
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> StoredBinding {
        StoredBinding {
            agent: "1001".into(),
            contact: "sip:1001@127.0.0.2:5099".into(),
            source: "127.0.0.3:5070".into(),
            transport: "udp".into(),
            expires_at_ms: 1_000_000,
            call_id: "abc@127.0.0.3".into(),
            cseq: 7,
            path: vec!["<sip:127.0.0.9:5062;lr>".into()],
            nat: false,
        }
    }

    #[test]
    fn round_trip() {
        let (agent, b) = from_stored(&stored()).unwrap();
        assert_eq!(agent, "1001");
        assert_eq!(b.source, "127.0.0.3:5070".parse().unwrap());
        assert_eq!(to_stored(&agent, &b), stored());
        let mut tcp = stored();
        tcp.transport = "tcp".into();
        assert_eq!(from_stored(&tcp).unwrap().1.transport, SipTransport::Tcp);
        let mut tls = stored();
        tls.transport = "tls".into();
        let (agent, b) = from_stored(&tls).unwrap();
        assert_eq!(b.transport, SipTransport::Tls);
        assert_eq!(to_stored(&agent, &b), tls);
    }

    #[test]
    fn hostile_rows_are_refused_with_a_reason() {
        type Spoil = Box<dyn Fn(&mut StoredBinding)>;
        let cases: Vec<Spoil> = vec![
            Box::new(|s| s.source = "'; DROP TABLE sip_bindings; --".into()),
            Box::new(|s| s.source = String::new()),
            Box::new(|s| s.transport = "sctp".into()),
            Box::new(|s| s.agent = String::new()),
            Box::new(|s| s.agent = "9".repeat(65)),
            Box::new(|s| s.contact = String::new()),
            Box::new(|s| s.contact = "x".repeat(100_000)),
            Box::new(|s| s.contact = "张伟 — Ünïcødé 🎧".into()),
            Box::new(|s| s.contact = "sip:张伟@127.0.0.1".into()),
            Box::new(|s| s.contact = "sip:1001@127.0.0.1 ;x".into()),
            Box::new(|s| s.contact = "tel:+8613800000000".into()),
            Box::new(|s| s.contact = "sip:".into()),
            Box::new(|s| s.path = vec!["<not a route".into()]),
            Box::new(|s| s.path = vec!["<sip:a;lr>".into(); 9]),
            Box::new(|s| s.call_id = "c".repeat(10_000)),
        ];
        for (i, spoil) in cases.iter().enumerate() {
            let mut s = stored();
            spoil(&mut s);
            assert!(from_stored(&s).is_err(), "case {i} accepted: {s:?}");
        }
    }
}
