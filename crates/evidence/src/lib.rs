//! Recordings as evidence: signed, hash-chained manifests.
//!
//! When a recording closes, a [`Notary`] writes `<call-id>.manifest.json` next
//! to `<call-id>.wav`: the call, its parties, times, samples, gaps, pauses, the
//! SHA-256 of the WAV file and the hash of the previous manifest (a chain),
//! signed with the server's Ed25519 key (created at first use in
//! `<data_dir>/evidence/signing.key`, mode 0600). The chain head (the newest
//! link) is kept in `<data_dir>/evidence/chain.head`.
//!
//! [`verify`] checks recordings offline and names each fault precisely
//! ([`Fault`]): an edited audio byte, an edited or swapped manifest, a
//! recording deleted from the middle of the chain. [`bundle`] writes and
//! verifies self-contained evidence bundles (zip). [`sweep`] repairs WAV files
//! left open by a crash and seals them as `recovered`.

#![warn(missing_docs)]

pub mod bundle;
mod chain;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod key;
pub mod loudness;
mod manifest;
pub mod sweep;
pub mod tombstone;
pub mod verify;
pub mod wav;

pub use chain::{ChainHead, Notary, RecordingFacts};
pub use error::{EvidenceError, Fault};
pub use key::{
    key_dir, key_id, load_or_create_signing_key, load_public_key, parse_public_key, public_key_hex,
    CHAIN_HEAD_FILE, KEY_DIR, PUBLIC_KEY_FILE, SIGNING_KEY_FILE,
};
pub use manifest::{Gaps, Link, Manifest, Pause, MANIFEST_SUFFIX, MANIFEST_VERSION};

/// Re-exported so callers can name keys without depending on ed25519-dalek.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// Whether `id` is a safe recording id (the call id used as the file stem):
/// 1–128 of `[A-Za-z0-9_.-]`, not starting with `.`. Ids from the command
/// line or a bundle are checked with this before they touch a path.
pub fn is_safe_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Checks an id with [`is_safe_id`].
pub fn validate_id(id: &str) -> Result<(), EvidenceError> {
    if is_safe_id(id) {
        Ok(())
    } else {
        let shown: String = id.chars().take(80).collect();
        Err(EvidenceError::InvalidId(shown))
    }
}

/// Current wall-clock time in epoch milliseconds (for the IO shells; the
/// sealing logic takes time as an argument).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_safe_id("abc-123_x.y"));
        assert!(!is_safe_id(""));
        assert!(!is_safe_id("../etc/passwd"));
        assert!(!is_safe_id(".hidden"));
        assert!(!is_safe_id("a/b"));
        assert!(!is_safe_id(&"x".repeat(129)));
        let e = validate_id(&"../".repeat(1000)).unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
    }
}
