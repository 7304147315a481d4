//! The signed record of a recording deleted on purpose (retention, storage
//! quota): `<call-id>.deleted.json` next to the manifest, which stays so the
//! chain remains whole. `verify` accepts a missing WAV only with a tombstone
//! signed by the server key that names the same file and hash.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::EvidenceError;

/// A tombstone's file name is `<call-id>` followed by this.
pub const TOMBSTONE_SUFFIX: &str = ".deleted.json";
const SIGNING_CONTEXT: &[u8] = b"hotline-evidence-tombstone-v1\n";
const MAX_TOMBSTONE_BYTES: u64 = 64 * 1024;

/// Why and when a recording's audio was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// The recording (the file stem).
    pub call_id: String,
    /// The removed WAV's file name.
    pub file: String,
    /// Its SHA-256 (as in its manifest).
    pub file_sha256: String,
    /// When, epoch ms.
    pub deleted_at_ms: i64,
    /// Why (`older than 90 days (queue general)`, `storage quota`).
    pub reason: String,
    /// Hash of the audit-log entry that recorded the deletion.
    pub audit_hash: String,
    /// Fingerprint of the signing key.
    pub key_id: String,
    /// Ed25519 signature (hex) over the rest.
    pub signature: String,
}

impl Tombstone {
    fn signing_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = String::new();
        let mut out = SIGNING_CONTEXT.to_vec();
        out.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
        out
    }

    /// Signs it with the server key.
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = crate::key_id(&key.verifying_key());
        self.signature = hex::encode(key.sign(&self.signing_bytes()).to_bytes());
    }

    /// Whether the signature verifies with `key`.
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify(&self.signing_bytes(), &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// Where the tombstone of the WAV at `wav` lives.
    pub fn path_for(wav: &Path) -> PathBuf {
        let stem = wav.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        wav.with_file_name(format!("{stem}{TOMBSTONE_SUFFIX}"))
    }

    /// Writes it next to the WAV (before the WAV is removed).
    pub fn write(&self, wav: &Path) -> Result<PathBuf, EvidenceError> {
        let path = Self::path_for(wav);
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        std::fs::write(&path, text).map_err(|source| EvidenceError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Reads a tombstone (bounded; garbage is an error, not a panic).
    pub fn read(path: &Path) -> Result<Tombstone, EvidenceError> {
        let io = |source| EvidenceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_TOMBSTONE_BYTES {
            return Err(EvidenceError::BadManifest {
                path: path.display().to_string(),
                reason: format!("tombstone of {len} bytes"),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        serde_json::from_slice(&bytes).map_err(|e| EvidenceError::BadManifest {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}
