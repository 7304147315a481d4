//! Recordings on shared storage (issue 18): an object store (a directory
//! through `file:///…`, or an S3-compatible bucket through `s3://bucket/prefix`)
//! that both nodes of the HA pair write to and either can read from.
//!
//! The writer lanes never touch the network: the live WAV is written to the
//! local recordings root (the *spool*) as on a single node. Once a recording
//! is sealed (its signed manifest written next to it), [`SharedStore::upload_spool`]
//! puts the WAV and then its manifest under `<node>/YYYY/MM/DD/`, moves the
//! node's chain head object `<node>/manifest/chain.head` forward, and only
//! then removes the spool copies. Recordings are uploaded in chain order and
//! an upload that fails stops the pass: the rest stay in the spool and the
//! next pass (every `retry_every`, at start, and at every seal) tries again.
//! Nothing is removed before the store acknowledged the put.
//!
//! Each node signs its own chain (the node id is in every manifest) and
//! publishes its public key at `<node>/manifest/public.key`.
//! [`SharedStore::verify`] checks every node's chain and every object
//! against it, from any machine that can reach the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hotline_evidence::tombstone::{Tombstone, TOMBSTONE_SUFFIX};
use hotline_evidence::verify::{self, Inventory, Report};
use hotline_evidence::{self as ev, Fault, Link, Manifest, VerifyingKey, MANIFEST_SUFFIX};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

/// Where a node's chain metadata lives, below `<node>/`.
pub const CHAIN_DIR: &str = "manifest";
/// The chain head object's name (in [`CHAIN_DIR`]).
pub const HEAD_OBJECT: &str = "chain.head";
/// The public key object's name (in [`CHAIN_DIR`]): the key in hex.
pub const KEY_OBJECT: &str = "public.key";
/// Largest chain head or key object read.
const SMALL_OBJECT_MAX: usize = 64 * 1024;

/// How to reach the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedSettings {
    /// `file:///absolute/dir` or `s3://bucket[/prefix]`.
    pub url: String,
    /// This node's id: the first level of every key it writes.
    pub node: String,
    /// S3 endpoint (`http://127.0.0.1:9000` for a lab store); None: AWS.
    pub endpoint: Option<String>,
    /// S3 region; None: `AWS_REGION` or `us-east-1`.
    pub region: Option<String>,
    /// Allow `http://` endpoints (a lab; never over a network you do not own).
    pub allow_http: bool,
    /// Access key id; None: `AWS_ACCESS_KEY_ID` from the environment.
    pub access_key_id: Option<String>,
    /// Secret access key; None: `AWS_SECRET_ACCESS_KEY` from the environment.
    pub secret_access_key: Option<String>,
    /// Session token, if the credentials are temporary.
    pub session_token: Option<String>,
    /// Longest time one request may take.
    pub timeout: Duration,
}

/// Errors of the shared store.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The URL (or another setting) cannot be used.
    #[error("recordings store: {0}")]
    BadSettings(String),
    /// The store refused or could not be reached.
    #[error("recordings store {url}: {what}: {}", brief(.cause))]
    Store {
        /// The store.
        url: String,
        /// What was being done.
        what: String,
        /// The store's error (shown once, without the repeated chain).
        cause: object_store::Error,
    },
    /// A local file could not be read, written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A manifest or the chain could not be read or written.
    #[error("evidence: {0}")]
    Evidence(#[from] ev::EvidenceError),
    /// The node's published public key is not this node's key: two
    /// machines are configured with the same node id.
    #[error("recordings store {url}: node {node} already published another public key (fingerprint {theirs}, ours {ours}): is another machine configured with node id {node}?")]
    KeyConflict {
        /// The store.
        url: String,
        /// The node id.
        node: String,
        /// Fingerprint found in the store.
        theirs: String,
        /// Fingerprint of this node's key.
        ours: String,
    },
    /// A blocking task died.
    #[error("a file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// An error and its causes, each said once: the S3 client's messages
/// repeat their whole chain at every level.
fn brief(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let next = err.source();
        let own = match next.map(ToString::to_string) {
            Some(n) => text
                .strip_suffix(n.as_str())
                .map(|t| t.trim_end_matches([':', ' ', '-']).to_string())
                .unwrap_or(text),
            None => text,
        };
        if !own.is_empty() && !parts.iter().any(|p| p.contains(own.as_str())) {
            parts.push(own);
        }
        cur = next;
    }
    parts.join(": ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SharedError + '_ {
    move |source| SharedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `s` is a usable node id (as `[cluster] node_id`).
pub fn node_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The object store of recordings, seen from one node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SharedStore {
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket (empty: none).
    prefix: String,
    url: String,
    node: String,
}

/// What one upload pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Recordings uploaded and removed from the spool (relative paths).
    pub uploaded: Vec<String>,
    /// Sealed recordings still in the spool after the pass.
    pub pending: usize,
    /// Why the pass stopped early, if it did.
    pub error: Option<String>,
}

/// One node's verification.
#[derive(Clone, Debug)]
pub struct NodeReport {
    /// The node.
    pub node: String,
    /// Fingerprint of the key its chain was checked with.
    pub key_id: String,
    /// Whether that key was pinned by the caller (else: the node's published key).
    pub pinned: bool,
    /// The outcome (fault paths name the objects as `<url>/<key>`).
    pub report: Report,
}

impl SharedStore {
    /// Builds the client (no request is made: see [`SharedStore::check`]).
    pub fn open(s: &SharedSettings) -> Result<SharedStore, SharedError> {
        if !node_id_ok(&s.node) {
            let shown: String = s.node.chars().take(20).collect();
            return Err(SharedError::BadSettings(format!(
                "node id `{shown}`: 1 to 64 letters, digits, `.`, `_` or `-`"
            )));
        }
        let bad = |m: String| SharedError::BadSettings(m);
        let url = s.url.trim();
        if url.len() > 2048 || url.chars().any(char::is_control) {
            return Err(bad(
                "url: at most 2048 characters, no control characters".into()
            ));
        }
        let (store, prefix): (Arc<dyn ObjectStore>, String) = if let Some(dir) =
            url.strip_prefix("file://")
        {
            let dir = Path::new(dir);
            if !dir.is_absolute() {
                return Err(bad(format!(
                        "url `{url}`: a file:// URL names an absolute directory (file:///srv/recordings)"
                    )));
            }
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let fs =
                object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|cause| {
                    SharedError::Store {
                        url: url.to_string(),
                        what: "open the directory".into(),
                        cause,
                    }
                })?;
            (Arc::new(fs), String::new())
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty()
                || bucket.len() > 63
                || !bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
            {
                return Err(bad(format!(
                        "url `{url}`: the bucket name must be 1 to 63 lower-case letters, digits, `-` or `.` (s3://bucket/prefix)"
                    )));
            }
            let prefix = prefix.trim_matches('/');
            if prefix
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
                && !prefix.is_empty()
            {
                return Err(bad(format!(
                    "url `{url}`: the prefix has an empty, `.` or `..` part"
                )));
            }
            // TLS through rustls with the ring provider, as everywhere in
            // hotline (a second install is refused and harmless).
            let _ = rustls::crypto::ring::default_provider().install_default();
            // `AWS_ALLOW_HTTP=true` in the environment counts too (the
            // auditor's `verify --store` has no config)
            let allow_http = s.allow_http
                || std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(allow_http)
                .with_client_options(
                    object_store::ClientOptions::new()
                        .with_allow_http(allow_http)
                        .with_timeout(s.timeout.max(Duration::from_secs(1)))
                        .with_connect_timeout(
                            Duration::from_secs(5).min(s.timeout.max(Duration::from_secs(1))),
                        ),
                )
                .with_retry(object_store::RetryConfig {
                    max_retries: 2,
                    retry_timeout: s.timeout.max(Duration::from_secs(1)),
                    ..Default::default()
                });
            if let Some(e) = &s.endpoint {
                if !(e.starts_with("https://") || e.starts_with("http://")) {
                    return Err(bad(format!(
                        "endpoint `{}`: expected http(s)://host[:port]",
                        e.chars().take(80).collect::<String>()
                    )));
                }
                if e.starts_with("http://") && !allow_http {
                    return Err(bad(format!("endpoint `{e}` is plain http: set allow_http = true (a lab store only) or use https")));
                }
                b = b.with_endpoint(e);
            }
            if let Some(r) = &s.region {
                b = b.with_region(r);
            } else if std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            {
                b = b.with_region("us-east-1");
            }
            if let Some(k) = &s.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &s.secret_access_key {
                b = b.with_secret_access_key(k);
            }
            if let Some(t) = &s.session_token {
                b = b.with_token(t);
            }
            let s3 = b.build().map_err(|cause| SharedError::Store {
                url: url.to_string(),
                what: "configure the S3 client".into(),
                cause,
            })?;
            (Arc::new(s3), prefix.to_string())
        } else {
            return Err(bad(format!(
                "url `{}`: expected \"local\", file:///absolute/dir or s3://bucket/prefix",
                url.chars().take(80).collect::<String>()
            )));
        };
        Ok(SharedStore {
            store,
            prefix,
            url: url.to_string(),
            node: s.node.clone(),
        })
    }

    /// The store's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The key of `rel` (a `/`-separated path) under `node`.
    fn key(&self, node: &str, rel: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(format!("{node}/{rel}"))
        } else {
            Key::from(format!("{}/{node}/{rel}", self.prefix))
        }
    }

    fn err(&self, what: impl Into<String>) -> impl FnOnce(object_store::Error) -> SharedError {
        let url = self.url.clone();
        let what = what.into();
        move |cause| SharedError::Store { url, what, cause }
    }

    /// Proves the store works for this node: puts, reads back and deletes a
    /// probe object under `<node>/manifest/`. Wrong credentials, a missing
    /// bucket or an unreachable endpoint are reported here, at start.
    pub async fn check(&self) -> Result<(), SharedError> {
        let key = self.key(
            &self.node,
            &format!("{CHAIN_DIR}/.probe-{}", std::process::id()),
        );
        let body = format!("hotline probe {}", ev::now_ms());
        self.store
            .put(&key, PutPayload::from(body.clone().into_bytes()))
            .await
            .map_err(self.err(format!("cannot write {key}")))?;
        let back = self
            .store
            .get(&key)
            .await
            .map_err(self.err(format!("cannot read back {key}")))?
            .bytes()
            .await
            .map_err(self.err(format!("cannot read back {key}")))?;
        self.store
            .delete(&key)
            .await
            .map_err(self.err(format!("cannot delete {key}")))?;
        if back.as_ref() != body.as_bytes() {
            return Err(SharedError::BadSettings(format!(
                "{}: the probe object {key} read back differs from what was written",
                self.url
            )));
        }
        Ok(())
    }

    /// Reads a small object (None: it does not exist).
    async fn get_small(&self, key: &Key) -> Result<Option<Vec<u8>>, SharedError> {
        self.get_capped(key, SMALL_OBJECT_MAX as u64, "a chain object")
            .await
    }

    /// Reads an object of at most `max` bytes (None: it does not exist).
    async fn get_capped(
        &self,
        key: &Key,
        max: u64,
        what: &str,
    ) -> Result<Option<Vec<u8>>, SharedError> {
        match self.store.get(key).await {
            Ok(r) => {
                if r.meta.size > max {
                    return Err(SharedError::BadSettings(format!(
                        "{}: {key} is {} bytes, more than {what} can be",
                        self.url, r.meta.size
                    )));
                }
                let b = r
                    .bytes()
                    .await
                    .map_err(self.err(format!("cannot read {key}")))?;
                Ok(Some(b.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(format!("cannot read {key}"))(e)),
        }
    }

    /// The chain head of `node` in the store.
    pub async fn head_of(&self, node: &str) -> Result<Option<Link>, SharedError> {
        let key = self.key(node, &format!("{CHAIN_DIR}/{HEAD_OBJECT}"));
        let Some(bytes) = self.get_small(&key).await? else {
            return Ok(None);
        };
        let head: ev::ChainHead =
            serde_json::from_slice(&bytes).map_err(|e| ev::EvidenceError::BadChainHead {
                path: PathBuf::from(format!("{}/{key}", self.url)),
                reason: e.to_string(),
            })?;
        Ok(Some(head.head))
    }

    /// The public key `node` published (None: none).
    pub async fn key_of(&self, node: &str) -> Result<Option<VerifyingKey>, SharedError> {
        let key = self.key(node, &format!("{CHAIN_DIR}/{KEY_OBJECT}"));
        let Some(bytes) = self.get_small(&key).await? else {
            return Ok(None);
        };
        let hex = String::from_utf8_lossy(&bytes);
        ev::parse_public_key(hex.trim())
            .map(Some)
            .map_err(|e| SharedError::BadSettings(format!("{}/{key}: {e}", self.url)))
    }

    /// Publishes this node's public key, or checks the one published is it.
    pub async fn publish_key(&self, key: &VerifyingKey) -> Result<(), SharedError> {
        match self.key_of(&self.node).await? {
            Some(k) if k == *key => Ok(()),
            Some(k) => Err(SharedError::KeyConflict {
                url: self.url.clone(),
                node: self.node.clone(),
                theirs: ev::key_id(&k),
                ours: ev::key_id(key),
            }),
            None => {
                let obj = self.key(&self.node, &format!("{CHAIN_DIR}/{KEY_OBJECT}"));
                let body = format!("{}\n", ev::public_key_hex(key));
                self.store
                    .put(&obj, PutPayload::from(body.into_bytes()))
                    .await
                    .map_err(self.err(format!("cannot write {obj}")))?;
                Ok(())
            }
        }
    }

    /// Puts a local file at `key` (multipart above a few MiB: never the
    /// whole recording in memory).
    async fn put_file(&self, path: &Path, key: &Key) -> Result<(), SharedError> {
        let mut f = tokio::fs::File::open(path).await.map_err(io(path))?;
        let mut w = object_store::buffered::BufWriter::new(Arc::clone(&self.store), key.clone());
        let copied = tokio::io::copy(&mut f, &mut w).await;
        match copied {
            Ok(_) => w.shutdown().await.map_err(|e| SharedError::Io {
                path: PathBuf::from(format!("{}/{key}", self.url)),
                source: e,
            }),
            Err(e) => {
                let _ = w.abort().await;
                Err(SharedError::Io {
                    path: PathBuf::from(format!("{}/{key}", self.url)),
                    source: e,
                })
            }
        }
    }

    /// Copies the object at `key` into the local file `to` (written to a
    /// temporary file first, then renamed).
    async fn get_file(&self, key: &Key, to: &Path) -> Result<(), SharedError> {
        let r = self
            .store
            .get(key)
            .await
            .map_err(self.err(format!("cannot read {key}")))?;
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        }
        // one temporary name per copy: two requests for the same recording
        // must not write into each other's file
        static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = to.with_extension(format!(
            "part{}-{}",
            std::process::id(),
            COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut f = tokio::fs::File::create(&tmp).await.map_err(io(&tmp))?;
        let mut stream = r.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(self.err(format!("cannot read {key}"))(e));
                }
            };
            f.write_all(&chunk).await.map_err(io(&tmp))?;
        }
        f.flush().await.map_err(io(&tmp))?;
        drop(f);
        tokio::fs::rename(&tmp, to).await.map_err(io(to))?;
        Ok(())
    }

    /// One upload pass over the spool (the local recordings root): every
    /// sealed recording (a WAV with its manifest), in chain order, is put
    /// in the store (WAV, then manifest, then the chain head) and removed
    /// from the spool once the store has it. The first failure stops the
    /// pass (the chain stays in order in the store); see [`UploadReport`].
    pub async fn upload_spool(
        &self,
        spool: &Path,
        key: &VerifyingKey,
    ) -> Result<UploadReport, SharedError> {
        let root = spool.to_path_buf();
        let sealed = tokio::task::spawn_blocking(move || sealed_in(&root)).await??;
        let mut report = UploadReport {
            pending: sealed.len(),
            ..UploadReport::default()
        };
        if sealed.is_empty() {
            return Ok(report);
        }
        if let Err(e) = self.publish_key(key).await {
            report.error = Some(e.to_string());
            return Ok(report);
        }
        let mut head = match self.head_of(&self.node).await {
            Ok(h) => h,
            Err(e) => {
                report.error = Some(e.to_string());
                return Ok(report);
            }
        };
        for s in sealed {
            match self.upload_one(spool, &s, &mut head).await {
                Ok(()) => {
                    report.pending -= 1;
                    report.uploaded.push(s.rel_wav.clone());
                }
                Err(e) => {
                    report.error = Some(e.to_string());
                    break;
                }
            }
        }
        Ok(report)
    }

    async fn upload_one(
        &self,
        spool: &Path,
        s: &Sealed,
        head: &mut Option<Link>,
    ) -> Result<(), SharedError> {
        let wav = match &s.rel_tombstone {
            Some(t) => spool.join(t),
            None => spool.join(&s.rel_wav),
        };
        let manifest = spool.join(&s.rel_manifest);
        let rel = s.rel_tombstone.as_ref().unwrap_or(&s.rel_wav);
        self.put_file(&wav, &self.key(&self.node, rel)).await?;
        self.put_file(&manifest, &self.key(&self.node, &s.rel_manifest))
            .await?;
        if head.as_ref().is_none_or(|h| h.seq < s.link.seq) {
            let obj = self.key(&self.node, &format!("{CHAIN_DIR}/{HEAD_OBJECT}"));
            let bytes = serde_json::to_vec_pretty(&ev::ChainHead {
                head: s.link.clone(),
            })
            .unwrap_or_default();
            self.store
                .put(&obj, PutPayload::from(bytes))
                .await
                .map_err(self.err(format!("cannot write {obj}")))?;
            *head = Some(s.link.clone());
        }
        // The store has both: the spool copies go (the WAV or tombstone
        // first, so a crash in between leaves a manifest alone that the
        // next pass skips, never a WAV that looks unsealed).
        tokio::fs::remove_file(&wav).await.map_err(io(&wav))?;
        tokio::fs::remove_file(&manifest)
            .await
            .map_err(io(&manifest))?;
        Ok(())
    }

    /// The nodes that have a part in the store.
    pub async fn nodes(&self) -> Result<Vec<String>, SharedError> {
        let base = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let list = self
            .store
            .list_with_delimiter(base.as_ref())
            .await
            .map_err(self.err("cannot list the nodes"))?;
        let mut nodes: Vec<String> = list
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|n| node_id_ok(n))
            .collect();
        nodes.sort();
        Ok(nodes)
    }

    /// Copies a recording (`rel` = `YYYY/MM/DD/<call>.wav`) from the store
    /// into `to`: this node's part first, then the other nodes'. False when
    /// no node has it.
    pub async fn fetch_recording(&self, rel: &str, to: &Path) -> Result<bool, SharedError> {
        let mut nodes = vec![self.node.clone()];
        nodes.extend(self.nodes().await?.into_iter().filter(|n| *n != self.node));
        for n in nodes {
            match self.get_file(&self.key(&n, rel), to).await {
                Ok(()) => return Ok(true),
                Err(SharedError::Store {
                    cause: object_store::Error::NotFound { .. },
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Verifies every node's chain and every object against it: each node's
    /// objects are copied into `work/<node>/` and checked like a local
    /// recordings root (hash, signature, placement, chain up to the node's
    /// head object), plus the node named in each manifest. `pinned` keys
    /// (by node) are trusted instead of the published ones.
    pub async fn verify(
        &self,
        pinned: &BTreeMap<String, VerifyingKey>,
        work: &Path,
    ) -> Result<Vec<NodeReport>, SharedError> {
        let mut out = Vec::new();
        let mut nodes = self.nodes().await?;
        for n in pinned.keys() {
            if !nodes.contains(n) {
                nodes.push(n.clone());
            }
        }
        for node in nodes {
            out.push(self.verify_node(&node, pinned.get(&node), work).await?);
        }
        Ok(out)
    }

    /// Copies `node`'s recordings and manifests into `work/<node>/`
    /// (the layout of a local recordings root); its path.
    pub async fn download_node(&self, node: &str, work: &Path) -> Result<PathBuf, SharedError> {
        let dir = work.join(node);
        let base = self.key(node, "");
        let mut listing = self.store.list(Some(&base));
        let mut objects = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(self.err(format!("cannot list {base}")))?;
            objects.push(meta.location);
        }
        for loc in objects {
            let Some(rel) = recording_rel(&base, &loc) else {
                continue;
            };
            self.get_file(&loc, &dir.join(&rel)).await?;
        }
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
        Ok(dir)
    }

    /// The node whose part holds recording `id`, copied into
    /// `work/<node>/`: (node, that directory, the key to check it with —
    /// `pinned` or the node's published one —, the node's chain head).
    /// None when no node has it.
    pub async fn materialize(
        &self,
        id: &str,
        pinned: &BTreeMap<String, VerifyingKey>,
        work: &Path,
    ) -> Result<Option<(String, PathBuf, VerifyingKey, Option<Link>)>, SharedError> {
        ev::validate_id(id)?;
        for node in self.nodes().await? {
            let dir = self.download_node(&node, work).await?;
            let scan = dir.clone();
            let inv = tokio::task::spawn_blocking(move || Inventory::scan(&scan)).await??;
            let mine = inv.of_id(id);
            if mine.wavs.is_empty() && mine.manifests.is_empty() {
                continue;
            }
            let key = match pinned.get(&node) {
                Some(k) => *k,
                None => self.key_of(&node).await?.ok_or_else(|| {
                    SharedError::BadSettings(format!(
                        "{}: node {node} has no public key object; pin one with --pubkey {node}=HEX",
                        self.url
                    ))
                })?,
            };
            let head = self.head_of(&node).await?;
            return Ok(Some((node, dir, key, head)));
        }
        Ok(None)
    }

    async fn verify_node(
        &self,
        node: &str,
        pinned: Option<&VerifyingKey>,
        work: &Path,
    ) -> Result<NodeReport, SharedError> {
        let dir = self.download_node(node, work).await?;
        let published = self.key_of(node).await?;
        let (key, is_pinned) = match (pinned, published) {
            (Some(k), _) => (*k, true),
            (None, Some(k)) => (k, false),
            (None, None) => {
                return Err(SharedError::BadSettings(format!(
                    "{}: node {node} has no public key object ({node}/{CHAIN_DIR}/{KEY_OBJECT}); pin one with --pubkey {node}=HEX",
                    self.url
                )))
            }
        };
        let head = self.head_of(node).await?;
        let scan_dir = dir.clone();
        let node_owned = node.to_string();
        let ((mut r, has_manifests, no_head), wrong) = tokio::task::spawn_blocking(move || {
            let report = verify::verify_all(&scan_dir, &key, head.as_ref())?;
            let mut wrong = Vec::new();
            let inv = Inventory::scan(&scan_dir)?;
            for p in &inv.manifests {
                if let Ok(m) = verify::read_manifest(p) {
                    if m.node.as_deref() != Some(node_owned.as_str()) {
                        wrong.push((p.display().to_string(), m));
                    }
                }
            }
            let has_manifests = !inv.manifests.is_empty();
            Ok::<_, ev::EvidenceError>(((report, has_manifests, head.is_none()), wrong))
        })
        .await??;
        for (p, m) in wrong {
            r.faults.push(Fault::WrongNode {
                manifest: p,
                names_node: m.node.unwrap_or_default(),
                node: node.to_string(),
            });
        }
        if has_manifests && no_head {
            r.faults.push(Fault::ChainHeadMissing {
                node: node.to_string(),
            });
        }
        Ok(NodeReport {
            node: node.to_string(),
            key_id: ev::key_id(&key),
            pinned: is_pinned,
            report: rename_paths(r, &work.display().to_string(), &self.display_base()),
        })
    }

    /// Every WAV object in this node's part of the store (`<node>/…` only:
    /// another node's objects are never listed), by key.
    pub async fn own_wavs(&self) -> Result<Vec<StoredWav>, SharedError> {
        let base = self.key(&self.node, "");
        let mut listing = self.store.list(Some(&base));
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(self.err(format!("cannot list {base}")))?;
            let Some(rel) = recording_rel(&base, &meta.location) else {
                continue;
            };
            if rel.ends_with(".wav") {
                out.push(StoredWav {
                    rel,
                    size: meta.size,
                    modified_ms: meta.last_modified.timestamp_millis(),
                });
            }
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(out)
    }

    /// The tombstone of recording `rel_wav` (`YYYY/MM/DD/<call>.wav`) in
    /// this node's part (None: none, or one that cannot be read).
    pub async fn tombstone_of(&self, rel_wav: &str) -> Result<Option<Tombstone>, SharedError> {
        let key = self.key(&self.node, &tombstone_rel(rel_wav));
        let Some(bytes) = self.get_small(&key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                warn!(object = %key, error = %e, "recordings store: an unreadable tombstone is replaced");
                Ok(None)
            }
        }
    }

    /// The SHA-256 the tombstone of recording `rel_wav` (an object of
    /// `size` bytes in this node's part) carries: its manifest's when the
    /// manifest is readable, signed by `key`, names this file and the
    /// object has the size it signed (one small read, not the audio's
    /// download); else the object's own, read through once.
    pub async fn wav_sha256(
        &self,
        rel_wav: &str,
        size: u64,
        key: &VerifyingKey,
    ) -> Result<String, SharedError> {
        let stem = rel_wav.strip_suffix(".wav").unwrap_or(rel_wav);
        let mkey = self.key(&self.node, &format!("{stem}{MANIFEST_SUFFIX}"));
        if let Some(bytes) = self.get_capped(&mkey, MANIFEST_MAX, "a manifest").await? {
            let file = rel_wav.rsplit('/').next().unwrap_or_default();
            if let Ok(m) = Manifest::from_json(mkey.as_ref(), &bytes) {
                if m.signature_valid(key) && m.file == file && m.file_size == size {
                    return Ok(m.file_sha256);
                }
            }
        }
        let wkey = self.key(&self.node, rel_wav);
        let r = self
            .store
            .get(&wkey)
            .await
            .map_err(self.err(format!("cannot read {wkey}")))?;
        let mut hasher = Sha256::new();
        let mut stream = r.into_stream();
        while let Some(chunk) = stream.next().await {
            hasher.update(chunk.map_err(self.err(format!("cannot read {wkey}")))?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Removes recording `rel_wav` from this node's part, tombstone first:
    /// the signed tombstone `t` is put next to its manifest, and only once
    /// the store has acknowledged it is the WAV deleted. A failure at either
    /// step leaves the WAV in the store (with or without its tombstone, both
    /// of which verify) for the next pass; never a WAV gone without one.
    /// The manifest stays, so the chain stays whole.
    pub async fn remove_recording(&self, rel_wav: &str, t: &Tombstone) -> Result<(), SharedError> {
        let tkey = self.key(&self.node, &tombstone_rel(rel_wav));
        let body = serde_json::to_vec_pretty(t).unwrap_or_default();
        self.store
            .put(&tkey, PutPayload::from(body))
            .await
            .map_err(self.err(format!("cannot write the tombstone {tkey}")))?;
        let wkey = self.key(&self.node, rel_wav);
        match self.store.delete(&wkey).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(format!("cannot delete {wkey}"))(e)),
        }
    }

    /// `<url>` as the faults name objects (`s3://bucket/prefix`).
    fn display_base(&self) -> String {
        self.url.trim_end_matches('/').to_string()
    }
}

/// Fault texts name the work copies; name the store's objects instead.
fn rename_paths(mut r: Report, from: &str, to: &str) -> Report {
    let fix = |s: &mut String| {
        if let Some(rest) = s.strip_prefix(from) {
            *s = format!("{to}{rest}");
        }
    };
    for f in &mut r.faults {
        match f {
            Fault::ManifestUnreadable { manifest, .. }
            | Fault::BadSignature { manifest }
            | Fault::ManifestSwapped { manifest, .. }
            | Fault::WrongNode { manifest, .. } => fix(manifest),
            Fault::ManifestMissing { file } => fix(file),
            _ => {}
        }
    }
    r
}

/// A WAV object in a node's part of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWav {
    /// Its path below `<node>/`: `YYYY/MM/DD/<call>.wav`.
    pub rel: String,
    /// Its size, bytes.
    pub size: u64,
    /// When the store last wrote it (the upload), epoch ms.
    pub modified_ms: i64,
}

/// Largest manifest read from the store (a day-long call's loudness
/// timeline fits, as in `hotline-evidence`).
const MANIFEST_MAX: u64 = 64 * 1024 * 1024;

/// `YYYY/MM/DD/<call>.deleted.json` for `YYYY/MM/DD/<call>.wav`.
fn tombstone_rel(rel_wav: &str) -> String {
    let stem = rel_wav.strip_suffix(".wav").unwrap_or(rel_wav);
    format!("{stem}{TOMBSTONE_SUFFIX}")
}

/// The path of `loc` below `base` (a node's part) when it is a
/// recording's object: a WAV, manifest or tombstone below the dated
/// folders, not the chain metadata, nothing hidden, no empty or `..` part.
fn recording_rel(base: &Key, loc: &Key) -> Option<String> {
    let rel = loc
        .as_ref()
        .strip_prefix(base.as_ref())?
        .trim_start_matches('/')
        .to_string();
    let name = rel.rsplit('/').next().unwrap_or_default();
    let kept = !rel.starts_with(&format!("{CHAIN_DIR}/"))
        && (name.ends_with(".wav")
            || name.ends_with(MANIFEST_SUFFIX)
            || name.ends_with(TOMBSTONE_SUFFIX))
        && !name.starts_with('.')
        && !rel.split('/').any(|p| p.is_empty() || p == "..")
        && rel.split('/').count() <= 6;
    kept.then_some(rel)
}

/// A sealed recording in the spool.
#[derive(Clone, Debug)]
struct Sealed {
    rel_wav: String,
    rel_manifest: String,
    /// Set when the WAV was removed by retention in the spool: its
    /// tombstone goes up instead.
    rel_tombstone: Option<String>,
    link: Link,
}

/// The sealed recordings under `root`, in chain order. Unreadable
/// manifests are left where they are (and said).
fn sealed_in(root: &Path) -> Result<Vec<Sealed>, SharedError> {
    let inv = Inventory::scan(root)?;
    let mut out: Vec<(Manifest, Sealed)> = Vec::new();
    for p in &inv.manifests {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(MANIFEST_SUFFIX) else {
            continue;
        };
        let wav = p.with_file_name(format!("{stem}.wav"));
        // removed by retention while it waited (the store was down): the
        // manifest and its tombstone go up, so the chain stays whole
        let tombstone = Tombstone::path_for(&wav);
        let tombstoned = !wav.is_file() && tombstone.is_file();
        if !wav.is_file() && !tombstoned {
            continue;
        }
        let m = match verify::read_manifest(p) {
            Ok(m) => m,
            Err(e) => {
                warn!(manifest = %p.display(), error = %e, "recordings store: an unreadable manifest stays in the spool");
                continue;
            }
        };
        let rel = |f: &Path| {
            f.strip_prefix(root)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/")
        };
        out.push((
            m.clone(),
            Sealed {
                rel_wav: rel(&wav),
                rel_manifest: rel(p),
                rel_tombstone: tombstoned.then(|| rel(&tombstone)),
                link: m.link(),
            },
        ));
    }
    out.sort_by_key(|(m, _)| m.seq);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// What the uploader reports after each pass that changed something.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploaderStatus {
    /// Sealed recordings waiting in the spool.
    pub pending: usize,
    /// Recordings uploaded since start.
    pub uploaded_total: u64,
    /// The last pass's failure (None: the store took everything).
    pub last_error: Option<String>,
}

/// What the uploader works on.
#[derive(Clone, Debug)]
pub struct Uploader {
    /// The store.
    pub shared: SharedStore,
    /// The local recordings root (the spool).
    pub spool: PathBuf,
    /// This node's public key (published in the store).
    pub key: VerifyingKey,
    /// Notified at every seal (`RecorderConfig::sealed`).
    pub wake: Arc<tokio::sync::Notify>,
    /// Time between passes while nothing wakes it.
    pub retry_every: Duration,
    /// Updated after every pass.
    pub status: Arc<std::sync::Mutex<UploaderStatus>>,
}

/// Runs upload passes until `stop` resolves: one at once (at start: what a
/// previous run left in the spool), one at every `wake` (the recorder
/// notifies it at each seal) and one every `retry_every`. `on_change` is
/// called when the store starts or stops refusing (the server turns it into
/// a `storage_alarm` event).
pub async fn run_uploader(
    u: Uploader,
    on_change: impl Fn(&UploaderStatus) + Send + 'static,
    stop: impl std::future::Future<Output = ()>,
) {
    let Uploader {
        shared,
        spool,
        key,
        wake,
        retry_every,
        status,
    } = u;
    tokio::pin!(stop);
    let mut failing = false;
    loop {
        let pass = shared.upload_spool(&spool, &key).await;
        let (uploaded, pending, error) = match pass {
            Ok(r) => (r.uploaded.len(), r.pending, r.error),
            Err(e) => (0, usize::MAX, Some(e.to_string())),
        };
        let snapshot = {
            let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
            s.uploaded_total += uploaded as u64;
            if pending != usize::MAX {
                s.pending = pending;
            }
            s.last_error.clone_from(&error);
            s.clone()
        };
        if uploaded > 0 {
            info!(uploaded, pending = snapshot.pending, store = %shared.url(), "recordings uploaded to the shared store");
        }
        if error.is_some() != failing {
            failing = error.is_some();
            if let Some(e) = &error {
                warn!(store = %shared.url(), pending = snapshot.pending, error = %e, "recordings store refuses: sealed recordings stay in the spool and are retried");
            } else {
                info!(store = %shared.url(), "recordings store reachable again: the spool is emptied");
            }
            on_change(&snapshot);
        }
        tokio::select! {
            () = &mut stop => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(retry_every) => {}
        }
    }
}
