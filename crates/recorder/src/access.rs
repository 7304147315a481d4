//! Access to recordings as evidence, one service for the command line and
//! the HTTP API alike: find a recording's file (only inside the recordings
//! root), mark it as evidence (a legal hold), release the hold (admins
//! only; a refusal is on record too) and write the audit log. Who may do
//! what is the caller's check; what is written, and in which order (the
//! audit entry with the change), is this service's.

use hotline_core::CallId;
use hotline_store::{Cdr, MarkKind, Store, StoreError};
use std::path::PathBuf;
use tracing::warn;

/// The longest note of a mark and reason of a release, bytes.
pub const MAX_NOTE: usize = 4000;

/// Why an access was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Not a call id (1–128 of `[A-Za-z0-9_.-]`, not starting with `.`).
    #[error("`{0}` is not a call id")]
    BadId(String),
    /// No call with that id.
    #[error("no call `{0}`")]
    NoCall(String),
    /// The call has no recording.
    #[error("call `{0}` has no recording")]
    NotRecorded(String),
    /// The recording's audio is not (or no longer) on disk, or its stored
    /// path leads outside the recordings root.
    #[error("the recording of `{0}` is not on disk")]
    Gone(String),
    /// An unknown mark kind.
    #[error("kind: `{0}` is not extortion, abuse, dispute or other")]
    BadKind(String),
    /// A note or reason that is too long, empty where it is needed, or has
    /// control characters.
    #[error("{0}")]
    BadText(&'static str),
    /// Releasing needs the admin role (the refusal is in the audit log).
    #[error("releasing a legal hold needs the admin role")]
    NotAdmin,
    /// Nothing to release.
    #[error("`{0}` is not on hold")]
    NotHeld(String),
    /// The database refused.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// Who acts: their user name (kept on the mark) and their name in the audit
/// log (`user:alice`, `api:token`, `os:root`).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user name (marks and releases carry it).
    pub name: String,
    /// The name written in the audit log.
    pub audit_name: String,
    /// Whether they hold the admin role.
    pub admin: bool,
}

/// A note: at most [`MAX_NOTE`] bytes, no control characters but newlines and tabs.
fn check_text(text: &str, what: &'static str) -> Result<(), AccessError> {
    if text.len() > MAX_NOTE
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AccessError::BadText(what));
    }
    Ok(())
}

/// The recordings of a store under one root.
#[derive(Clone, Debug)]
pub struct RecordingAccess {
    store: Store,
    root: PathBuf,
    shared: Option<crate::shared::SharedStore>,
}

impl RecordingAccess {
    /// The service over `store`, the recordings under `root`.
    pub fn new(store: Store, root: PathBuf) -> Self {
        RecordingAccess {
            store,
            root,
            shared: None,
        }
    }

    /// Reads recordings that are no longer in the local root (uploaded,
    /// or recorded by the other node) through the shared store: they are
    /// fetched into `<root>/.fetched/` and served from there (ranges work
    /// as for local files).
    pub fn with_shared(mut self, shared: Option<crate::shared::SharedStore>) -> Self {
        self.shared = shared;
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks a call id.
    pub fn call_id(id: &str) -> Result<&str, AccessError> {
        if hotline_evidence::is_safe_id(id) {
            Ok(id)
        } else {
            Err(AccessError::BadId(id.chars().take(64).collect()))
        }
    }

    /// The call's record, if the id is a call's.
    pub async fn cdr(&self, id: &str) -> Result<Cdr, AccessError> {
        let id = Self::call_id(id)?;
        self.store
            .cdr(&CallId::from_stored(id))
            .await?
            .ok_or_else(|| AccessError::NoCall(id.to_string()))
    }

    /// The call's record and its WAV: the call must have a recording whose
    /// file resolves (symlinks followed) inside the recordings root.
    pub async fn resolve(&self, id: &str) -> Result<(Cdr, PathBuf), AccessError> {
        let cdr = self.cdr(id).await?;
        let id = cdr.call_id.as_str().to_string();
        let rel = cdr
            .recording_path
            .clone()
            .ok_or_else(|| AccessError::NotRecorded(id.clone()))?;
        let gone = || AccessError::Gone(id.clone());
        let root = tokio::fs::canonicalize(&self.root).await.map_err(|e| {
            warn!(error = %e, root = %self.root.display(), "recordings root unusable");
            gone()
        })?;
        let full = match tokio::fs::canonicalize(root.join(&rel)).await {
            Ok(f) => f,
            Err(_) => self
                .fetch_shared(&root, &rel, &id)
                .await?
                .ok_or_else(gone)?,
        };
        if !full.starts_with(&root) || !full.is_file() {
            warn!(call = %id, path = %rel, "a recording path leads outside the recordings root");
            return Err(gone());
        }
        Ok((cdr, full))
    }

    /// The recording copied from the shared store into
    /// `<root>/.fetched/<call>.wav` (None: no store, or no node has it).
    /// Copies older than an hour are removed on the way.
    async fn fetch_shared(
        &self,
        root: &std::path::Path,
        rel: &str,
        id: &str,
    ) -> Result<Option<PathBuf>, AccessError> {
        let Some(shared) = &self.shared else {
            return Ok(None);
        };
        if rel
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Ok(None);
        }
        let dir = root.join(FETCHED_DIR);
        prune_fetched(&dir).await;
        let to = dir.join(format!("{id}.wav"));
        if tokio::fs::metadata(&to).await.is_ok_and(|m| m.is_file()) {
            return Ok(Some(to));
        }
        match shared.fetch_recording(rel, &to).await {
            Ok(true) => Ok(Some(to)),
            Ok(false) => Ok(None),
            Err(e) => {
                warn!(call = %id, error = %e, "recording: cannot read it from the shared store");
                Err(AccessError::Gone(id.to_string()))
            }
        }
    }

    /// Checks a mark's kind and note before anything else is looked up.
    pub fn check_mark(kind: &str, note: &str) -> Result<MarkKind, AccessError> {
        let kind = MarkKind::parse(kind)
            .ok_or_else(|| AccessError::BadKind(kind.chars().take(64).collect()))?;
        check_text(
            note,
            "note: at most 4000 bytes, no control characters but newlines",
        )?;
        Ok(kind)
    }

    /// Marks the recording of a call that has ended (it has a call record)
    /// as evidence, a legal hold, and writes the `mark` audit entry; the
    /// mark's id.
    pub async fn mark(
        &self,
        id: &str,
        kind: &str,
        note: &str,
        by: &Actor,
        now_ms: i64,
    ) -> Result<i64, AccessError> {
        let kind = Self::check_mark(kind, note)?;
        let cdr = self.cdr(id).await?;
        self.add_mark(cdr.call_id.as_str(), kind, note, by, now_ms)
            .await
    }

    /// The same for a call still in progress, which has no call record
    /// yet: the engine vouches for `call_id`.
    pub async fn mark_talking(
        &self,
        call_id: &str,
        kind: &str,
        note: &str,
        by: &Actor,
        now_ms: i64,
    ) -> Result<i64, AccessError> {
        let kind = Self::check_mark(kind, note)?;
        let id = Self::call_id(call_id)?;
        self.add_mark(id, kind, note, by, now_ms).await
    }

    async fn add_mark(
        &self,
        id: &str,
        kind: MarkKind,
        note: &str,
        by: &Actor,
        now_ms: i64,
    ) -> Result<i64, AccessError> {
        let mark = self
            .store
            .add_mark(id, kind, note, &by.name, now_ms)
            .await?;
        self.store
            .append_audit(
                now_ms,
                &by.audit_name,
                "mark",
                Some(id),
                &format!("{}: {note}", kind.as_str()),
            )
            .await?;
        Ok(mark)
    }

    /// Ends the call's legal hold (admins only: anyone else's attempt is
    /// written to the audit log as `release_refused`); how many marks were
    /// released.
    pub async fn release(
        &self,
        id: &str,
        reason: &str,
        by: &Actor,
        now_ms: i64,
    ) -> Result<u64, AccessError> {
        let id = Self::call_id(id)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AccessError::BadText(
                "reason: say why the hold ends (1-4000 bytes)",
            ));
        }
        check_text(reason, "reason: say why the hold ends (1-4000 bytes)")?;
        if !by.admin {
            self.store
                .append_audit(now_ms, &by.audit_name, "release_refused", Some(id), reason)
                .await?;
            return Err(AccessError::NotAdmin);
        }
        let n = self
            .store
            .release_marks(id, &by.name, reason, now_ms)
            .await?;
        if n == 0 {
            return Err(AccessError::NotHeld(id.to_string()));
        }
        self.store
            .append_audit(now_ms, &by.audit_name, "release", Some(id), reason)
            .await?;
        Ok(n)
    }

    /// Writes an access (`listen`, `export`, `play_into_call`, ...) to the
    /// audit log; the access must not happen when this fails.
    pub async fn audit(
        &self,
        who: &str,
        action: &str,
        id: Option<&str>,
        detail: &str,
        now_ms: i64,
    ) -> Result<(), AccessError> {
        self.store
            .append_audit(now_ms, who, action, id, detail)
            .await?;
        Ok(())
    }
}

/// Where recordings read from the shared store are kept while they are
/// played (hidden: the inventory and the uploader skip it).
pub const FETCHED_DIR: &str = ".fetched";

/// Removes fetched copies older than an hour.
async fn prune_fetched(dir: &std::path::Path) {
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let old = e
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if old {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_ids_from_outside_are_checked() {
        assert!(check_text("threats\nand more\tdetail", "n").is_ok());
        assert!(check_text(&"x".repeat(MAX_NOTE), "n").is_ok());
        for bad in [
            "x".repeat(MAX_NOTE + 1),
            "bell \u{7}".into(),
            "nul \u{0}".into(),
        ] {
            assert!(check_text(&bad, "n").is_err(), "{bad:?}");
        }
        assert!(RecordingAccess::call_id("c1a2-b.3_x").is_ok());
        for bad in [
            "",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "a b",
            &"x".repeat(200),
        ] {
            assert!(RecordingAccess::call_id(bad).is_err(), "{bad}");
        }
    }
}
