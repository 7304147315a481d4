//! Errors (something could not be done) and faults (verification findings).

use std::path::PathBuf;

/// An operation on keys, manifests, recordings or bundles failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error("{path}: not an Ed25519 key ({reason})")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The signing key is readable by others than its owner.
    #[error("{path}: the signing key is readable by group or others (mode {mode:o}); run `chmod 600` on it")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No key in the data directory.
    #[error("no evidence key in {0} (it is created when `hotline serve` first starts)")]
    NoKey(PathBuf),
    /// The chain head file is corrupt.
    #[error("{path}: chain head is unreadable: {reason}")]
    BadChainHead {
        /// The head file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A manifest cannot be parsed.
    #[error("{path}: not a valid manifest: {reason}")]
    BadManifest {
        /// The manifest (file or bundle entry).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A recording id is not a safe file name.
    #[error(
        "{0:?} is not a recording id (expected 1-128 of [A-Za-z0-9_.-], not starting with '.')"
    )]
    InvalidId(String),
    /// A recording already has a manifest (recordings are sealed once).
    #[error("{0}: the recording is already sealed")]
    AlreadySealed(PathBuf),
    /// No recording with that id under the recordings root.
    #[error("no recording {id} under {root}")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The recordings root searched.
        root: PathBuf,
    },
    /// A WAV file cannot be repaired (not a WAV written by hotline).
    #[error("{path}: cannot repair: {reason}")]
    NotRepairable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A bundle is not a readable evidence bundle.
    #[error("{path}: not an evidence bundle: {reason}")]
    BadBundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl EvidenceError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EvidenceError {
        let path = path.into();
        move |source| EvidenceError::Io { path, source }
    }
}

/// One thing verification found wrong. Each names the recording and what
/// exactly does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The audio file's bytes are not the ones that were signed.
    #[error("{call_id}: audio altered: {file} has SHA-256 {actual} ({actual_size} bytes) but its signed manifest says {expected} ({expected_size} bytes)")]
    AudioAltered {
        /// The recording.
        call_id: String,
        /// The audio file.
        file: String,
        /// Hash in the manifest.
        expected: String,
        /// Hash of the file now.
        actual: String,
        /// Size in the manifest.
        expected_size: u64,
        /// Size of the file now.
        actual_size: u64,
    },
    /// The audio file named by a manifest is gone.
    #[error("{call_id}: audio file {file} is missing (its manifest is present)")]
    AudioMissing {
        /// The recording.
        call_id: String,
        /// The missing file.
        file: String,
    },
    /// The manifest's signature does not verify with the server key.
    #[error("{manifest}: signature invalid: the manifest was edited after signing or was signed by another key")]
    BadSignature {
        /// The manifest.
        manifest: String,
    },
    /// A (validly signed) manifest sits next to a recording it does not describe.
    #[error("{manifest}: manifest swapped: it is the manifest of call {names_call} ({names_file}), not of {expected_file}")]
    ManifestSwapped {
        /// The manifest file.
        manifest: String,
        /// The call the manifest names.
        names_call: String,
        /// The audio file the manifest names.
        names_file: String,
        /// The audio file it sits next to.
        expected_file: String,
    },
    /// A manifest cannot be parsed.
    #[error("{manifest}: manifest unreadable: {reason}")]
    ManifestUnreadable {
        /// The manifest.
        manifest: String,
        /// Why.
        reason: String,
    },
    /// A recording has no manifest.
    #[error("{file}: recording has no manifest (never sealed, or its manifest was deleted)")]
    ManifestMissing {
        /// The audio file.
        file: String,
    },
    /// The link a manifest points back to is not there: a recording (its
    /// manifest) was deleted from the middle of the chain.
    #[error("chain broken before {call_id} (#{seq}): link #{missing_seq} (call {missing_call_id}, manifest hash {missing_hash}) is missing: that recording was deleted")]
    MissingLink {
        /// The recording whose predecessor is missing.
        call_id: String,
        /// Its chain position.
        seq: u64,
        /// Position of the missing link.
        missing_seq: u64,
        /// Call id of the missing link.
        missing_call_id: String,
        /// Manifest hash of the missing link.
        missing_hash: String,
    },
    /// The manifest at a link's position is not the one that was chained:
    /// it was replaced (or re-signed) after the next recording was sealed.
    #[error("chain broken before {call_id} (#{seq}): link #{prev_seq} should be call {expected_call_id} with manifest hash {expected_hash}, found call {found_call_id} with hash {found_hash}: that manifest was replaced")]
    LinkReplaced {
        /// The recording whose predecessor does not match.
        call_id: String,
        /// Its chain position.
        seq: u64,
        /// Position of the predecessor.
        prev_seq: u64,
        /// Call id the link records.
        expected_call_id: String,
        /// Manifest hash the link records.
        expected_hash: String,
        /// Call id found at that position.
        found_call_id: String,
        /// Manifest hash found at that position.
        found_hash: String,
    },
    /// A manifest after the first claims no predecessor.
    #[error("{call_id} (#{seq}): manifest has no link to a previous one but is not the first of the chain")]
    Unlinked {
        /// The recording.
        call_id: String,
        /// Its chain position.
        seq: u64,
    },
    /// Two manifests claim the same chain position.
    #[error("chain forked: #{seq} is claimed by both {first} and {second}")]
    Forked {
        /// The position.
        seq: u64,
        /// One call.
        first: String,
        /// The other.
        second: String,
    },
    /// The newest link recorded in the chain head is gone.
    #[error("chain head: the newest link #{seq} (call {call_id}) is missing: the newest recording was deleted")]
    HeadMissing {
        /// Position of the head.
        seq: u64,
        /// Its call id.
        call_id: String,
    },
    /// A manifest in one node's part of a shared recordings store names
    /// another node (or none): it was copied or moved there.
    #[error("{manifest}: manifest of node {names_node:?} found in node {node}'s chain: it was copied or moved there")]
    WrongNode {
        /// The manifest.
        manifest: String,
        /// The node the manifest names (empty: none).
        names_node: String,
        /// The node whose part of the store holds it.
        node: String,
    },
    /// A node's part of a shared recordings store has manifests but no
    /// chain head (`<node>/manifest/chain.head`): the newest links cannot be
    /// checked for removal.
    #[error("node {node}: the chain head object is missing: recordings removed from the end of the chain would go unnoticed")]
    ChainHeadMissing {
        /// The node.
        node: String,
    },
    /// A recording's audio is missing and a tombstone is there that does
    /// not account for it: signed by another key, naming another file or
    /// hash, or unreadable. The deletion was not one of the server's.
    #[error("{tombstone}: tombstone not accepted: {reason}")]
    TombstoneInvalid {
        /// The recording.
        call_id: String,
        /// The tombstone file.
        tombstone: String,
        /// What does not hold.
        reason: String,
    },
    /// A bundle lacks a chain link it needs.
    #[error("bundle: {what}")]
    BundleIncomplete {
        /// What is missing.
        what: String,
    },
}
