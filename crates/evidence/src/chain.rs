//! Sealing recordings: the [`Notary`] signs manifests and appends them to the
//! chain.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::key::{key_dir, load_or_create_signing_key, CHAIN_HEAD_FILE};
use crate::loudness::Loudness;
use crate::manifest::{Gaps, Link, Manifest, Pause, MANIFEST_VERSION};
use crate::EvidenceError;

/// The chain head file: the newest link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// The newest link.
    pub head: Link,
}

impl ChainHead {
    /// Reads `<data_dir>/evidence/chain.head`; None when there is none yet.
    pub fn load(data_dir: &Path) -> Result<Option<Link>, EvidenceError> {
        let path = key_dir(data_dir).join(CHAIN_HEAD_FILE);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EvidenceError::io(&path)(e)),
        };
        let mut bytes = Vec::new();
        f.take(64 * 1024)
            .read_to_end(&mut bytes)
            .map_err(EvidenceError::io(&path))?;
        let head: ChainHead =
            serde_json::from_slice(&bytes).map_err(|e| EvidenceError::BadChainHead {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(Some(head.head))
    }
}

/// What the recorder knows about a finished recording.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingFacts {
    /// The call id (the WAV's file stem).
    pub call_id: String,
    /// Caller number.
    pub caller: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Queue.
    pub queue: Option<String>,
    /// Epoch ms of sample 0.
    pub start_ms: i64,
    /// Epoch ms of the end.
    pub end_ms: i64,
    /// Samples per channel.
    pub samples_per_channel: u64,
    /// Audio format description.
    pub codec: String,
    /// Lost-packet holes.
    pub gaps: Gaps,
    /// Paused spans.
    pub pauses: Vec<Pause>,
    /// Sealed by the crash-recovery sweep.
    pub recovered: bool,
    /// Size of the WAV file.
    pub file_size: u64,
    /// SHA-256 of the WAV file, hex.
    pub file_sha256: String,
    /// Loudness timeline, if computed.
    pub loudness: Option<Loudness>,
}

/// Holds the server's signing key and the chain head; seals recordings one
/// at a time (the chain is sequential). Share it through an `Arc`.
pub struct Notary {
    key: SigningKey,
    head_path: PathBuf,
    head: Mutex<Option<Link>>,
    node: Option<String>,
}

impl std::fmt::Debug for Notary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notary")
            .field("key_id", &crate::key_id(&self.key.verifying_key()))
            .field("head_path", &self.head_path)
            .finish_non_exhaustive()
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, with
/// fsyncs, so a crash leaves either the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8], must_be_new: bool) -> Result<(), EvidenceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(EvidenceError::io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(EvidenceError::io(&tmp))?;
    drop(f);
    if must_be_new {
        // hard_link fails if the target exists: never replace a manifest.
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(EvidenceError::AlreadySealed(path.to_path_buf()))
            }
            Err(e) => return Err(EvidenceError::io(path)(e)),
        }
    } else {
        fs::rename(&tmp, path).map_err(EvidenceError::io(path))?;
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Notary {
    /// Signs a tombstone with the server key (retention deletions).
    pub fn sign_tombstone(&self, t: &mut crate::tombstone::Tombstone) {
        t.sign(&self.key);
    }

    /// Loads (or creates, at first use) the key in `<data_dir>/evidence` and
    /// reads the chain head.
    pub fn open(data_dir: &Path) -> Result<Notary, EvidenceError> {
        let (key, created) = load_or_create_signing_key(data_dir)?;
        if created {
            tracing::info!(
                dir = %key_dir(data_dir).display(),
                key_id = %crate::key_id(&key.verifying_key()),
                "evidence: new signing key created"
            );
        }
        let head = ChainHead::load(data_dir)?;
        Ok(Notary {
            key,
            head_path: key_dir(data_dir).join(CHAIN_HEAD_FILE),
            head: Mutex::new(head),
            node: None,
        })
    }

    /// Names `node` in every manifest this notary signs from now on (the
    /// node of the HA pair whose chain it is).
    pub fn with_node(mut self, node: Option<String>) -> Notary {
        self.node = node;
        self
    }

    /// The node named in this notary's manifests, if any.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// `<data_dir>/evidence/chain.head`.
    pub fn head_path(&self) -> &Path {
        &self.head_path
    }

    /// The public key that verifies this notary's manifests.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The newest link of the chain.
    pub fn head(&self) -> Option<Link> {
        self.head
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Moves the head forward to `link` if it is newer (used by the startup
    /// sweep when a crash came between writing a manifest and the head).
    pub fn adopt_head(&self, link: Link) -> Result<bool, EvidenceError> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        if head.as_ref().is_some_and(|h| h.seq >= link.seq) {
            return Ok(false);
        }
        self.write_head(&link)?;
        *head = Some(link);
        Ok(true)
    }

    fn write_head(&self, link: &Link) -> Result<(), EvidenceError> {
        let bytes =
            serde_json::to_vec_pretty(&ChainHead { head: link.clone() }).unwrap_or_default();
        write_atomic(&self.head_path, &bytes, false)
    }

    /// Signs a manifest for the WAV at `wav_path` (whose stem must be the
    /// call id), writes it next to the WAV as `<call-id>.manifest.json` and
    /// appends it to the chain. `now_ms` is the signing time.
    pub fn seal(
        &self,
        wav_path: &Path,
        facts: RecordingFacts,
        now_ms: i64,
    ) -> Result<(Manifest, PathBuf), EvidenceError> {
        crate::validate_id(&facts.call_id)?;
        let file = format!("{}.wav", facts.call_id);
        let manifest_path = wav_path.with_file_name(Manifest::file_name(&facts.call_id));
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let mut m = Manifest {
            version: MANIFEST_VERSION,
            seq: head.as_ref().map_or(0, |h| h.seq + 1),
            call_id: facts.call_id,
            file,
            caller: facts.caller,
            agent: facts.agent,
            queue: facts.queue,
            start_ms: facts.start_ms,
            end_ms: facts.end_ms,
            samples_per_channel: facts.samples_per_channel,
            codec: facts.codec,
            gaps: facts.gaps,
            pauses: facts.pauses,
            recovered: facts.recovered,
            file_size: facts.file_size,
            file_sha256: facts.file_sha256,
            loudness: facts.loudness,
            prev: head.clone(),
            node: self.node.clone(),
            key_id: String::new(),
            signed_at_ms: now_ms,
            signature: String::new(),
        };
        m.sign(&self.key);
        write_atomic(&manifest_path, &m.to_json(), true)?;
        let link = m.link();
        // The manifest is on disk: it is the head now even if writing the
        // head file fails (the startup sweep re-derives it from the files).
        *head = Some(link.clone());
        self.write_head(&link)?;
        Ok((m, manifest_path))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn facts(id: &str) -> RecordingFacts {
        RecordingFacts {
            call_id: id.into(),
            codec: "pcm".into(),
            file_sha256: "ab".repeat(32),
            ..RecordingFacts::default()
        }
    }

    /// A single node's manifests are byte for byte what they were before
    /// the node field (old manifests keep verifying); a node's manifests
    /// sign their node, and moving one to another node breaks the signature.
    #[test]
    fn the_node_is_signed_and_absent_on_a_single_node() {
        let dir = tempfile::tempdir().unwrap();
        let single = Notary::open(&dir.path().join("a")).unwrap();
        let wav = dir.path().join("c1.wav");
        let (m, path) = single.seal(&wav, facts("c1"), 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"node\""), "{text}");
        assert!(m.node.is_none());
        let node = Notary::open(&dir.path().join("b"))
            .unwrap()
            .with_node(Some("node2".into()));
        assert_eq!(node.node(), Some("node2"));
        let (m2, path2) = node
            .seal(&dir.path().join("c2.wav"), facts("c2"), 2)
            .unwrap();
        let text2 = std::fs::read_to_string(&path2).unwrap();
        assert!(text2.contains("\"node\":\"node2\""), "{text2}");
        assert!(m2.signature_valid(&node.public_key()));
        let mut moved = m2.clone();
        moved.node = Some("node1".into());
        assert!(!moved.signature_valid(&node.public_key()));
        let parsed = crate::Manifest::from_json("x", text2.as_bytes()).unwrap();
        assert_eq!(parsed, m2);
    }
}
