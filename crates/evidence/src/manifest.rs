//! The signed manifest of one recording.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::loudness::Loudness;

/// Format version written into every manifest.
pub const MANIFEST_VERSION: u32 = 1;
/// A manifest's file name is `<call-id>` followed by this.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";
/// Largest manifest accepted when reading: the loudness timeline grows
/// with the call (about 0.4 MB per hour), a day-long call fits.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// Domain separation: what is signed is this prefix plus the canonical JSON.
const SIGNING_CONTEXT: &[u8] = b"hotline-evidence-manifest-v1\n";

/// A link of the chain: the previous manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Its chain position.
    pub seq: u64,
    /// Its call id.
    pub call_id: String,
    /// Its [`Manifest::hash`].
    pub manifest_sha256: String,
}

/// Holes in the RTP streams filled with silence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gaps {
    /// Number of holes (both channels).
    pub count: u32,
    /// Samples of silence written for them (both channels summed).
    pub samples: u64,
}

/// A paused span (recording paused on request: silence in the file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// First silent sample.
    pub start_sample: u64,
    /// Sample after the last silent one.
    pub end_sample: u64,
}

/// What is signed about one recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// Position in the chain (0 = first recording of this server key).
    pub seq: u64,
    /// The call (also the file stem).
    pub call_id: String,
    /// The audio file's name (`<call-id>.wav`, in the manifest's directory).
    pub file: String,
    /// Caller number, when known.
    pub caller: Option<String>,
    /// Agent id, when known.
    pub agent: Option<String>,
    /// Queue, when known.
    pub queue: Option<String>,
    /// Epoch ms of sample 0.
    pub start_ms: i64,
    /// Epoch ms of the end of the recording.
    pub end_ms: i64,
    /// Samples per channel.
    pub samples_per_channel: u64,
    /// Audio format, e.g. `pcm_s16le 8000 Hz stereo (left=caller, right=agent)`.
    pub codec: String,
    /// Lost-packet holes.
    pub gaps: Gaps,
    /// Paused spans.
    pub pauses: Vec<Pause>,
    /// Sealed by the startup sweep after a crash (header repaired from the
    /// file length) rather than at a normal close.
    pub recovered: bool,
    /// Size of the audio file in bytes.
    pub file_size: u64,
    /// SHA-256 of the audio file, lowercase hex.
    pub file_sha256: String,
    /// Loudness timeline (RMS per 100 ms per channel), when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
    /// The previous manifest (None only for seq 0).
    pub prev: Option<Link>,
    /// The node whose chain this is (`[cluster] node_id`, issue 18: each
    /// node of the HA pair signs its own chain in the shared recordings
    /// store). Absent on a single node and in manifests written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// [`crate::key_id`] of the signing key.
    pub key_id: String,
    /// Epoch ms of signing.
    pub signed_at_ms: i64,
    /// Ed25519 signature over the manifest with this field empty, hex.
    pub signature: String,
}

impl Manifest {
    /// The bytes that are signed: a context prefix and the compact JSON of
    /// the manifest with an empty signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = String::new();
        let mut out = SIGNING_CONTEXT.to_vec();
        // Serializing plain strings, integers and options cannot fail.
        out.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
        out
    }

    /// Signs (sets [`Manifest::signature`] and [`Manifest::key_id`]).
    pub fn sign(&mut self, key: &SigningKey) {
        self.key_id = crate::key_id(&key.verifying_key());
        let sig = key.sign(&self.signing_bytes());
        self.signature = hex::encode(sig.to_bytes());
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

    /// The manifest's identity in the chain: SHA-256 (hex) of its compact
    /// JSON including the signature (independent of how the file is
    /// formatted).
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }

    /// This manifest as a chain link.
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            call_id: self.call_id.clone(),
            manifest_sha256: self.hash(),
        }
    }

    /// Parses a manifest file's bytes; `name` is used in the error.
    pub fn from_json(name: &str, bytes: &[u8]) -> Result<Manifest, crate::EvidenceError> {
        let bad = |reason: String| crate::EvidenceError::BadManifest {
            path: name.to_string(),
            reason,
        };
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(bad(format!("{} bytes is too large", bytes.len())));
        }
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if m.version != MANIFEST_VERSION {
            return Err(bad(format!("unknown version {}", m.version)));
        }
        Ok(m)
    }

    /// The file on disk: compact JSON (the loudness timeline would make
    /// pretty JSON three times larger; read it with `jq .`) and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The manifest file name of a call: `<call-id>.manifest.json`.
    pub fn file_name(call_id: &str) -> String {
        format!("{call_id}{MANIFEST_SUFFIX}")
    }
}
