//! Crash-safe stereo WAV recording of hotline calls.
//!
//! A [`Recorder`] owns the recordings root. [`Recorder::open`] creates
//! `<root>/YYYY/MM/DD/<call_id>.wav` (16-bit PCM, 8 kHz, stereo: left = caller,
//! right = agent) and hands it to one of a few writer lanes (threads that each
//! serve many recordings, once per [`RecorderConfig::batch_interval`]), fed
//! through a bounded crossbeam channel of [`AudioFrame`]s per call. The writer
//! places every frame by
//! its RTP timestamp so that lost packets become silence at their true position
//! and both channels stay time-aligned; it rewrites the WAV header at least once
//! per [`RecorderConfig::flush_interval`] so a crash leaves a readable file.
//! [`RecordingHandle::finish`] seals the file (fsync) and returns its SHA-256;
//! with a [`Notary`] configured it also writes the signed, chained manifest
//! (`<call_id>.manifest.json`), on the finishing thread. Data is fsynced every
//! [`RecorderConfig::sync_interval`] while the call runs.

#![warn(missing_docs)]

pub mod access;
mod lanes;
pub mod listing;
pub mod retention;
pub mod shared;
mod startup;
mod writer;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use hotline_core::{AudioFrame, CallId};
pub use hotline_evidence::Notary;

pub use startup::startup_sweep;
pub use writer::SAMPLE_RATE;

/// Errors of the recorder's services run beside the engine (retention, the
/// startup sweep).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The database refused.
    #[error("storage: {0}")]
    Store(#[from] hotline_store::StoreError),
    /// Hashing, signing or writing evidence failed.
    #[error("evidence: {0}")]
    Evidence(#[from] hotline_evidence::EvidenceError),
    /// A file could not be removed.
    #[error("cannot remove {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A blocking task died.
    #[error("a file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The shared recordings store refused or could not be reached.
    #[error("{0}")]
    Shared(#[from] crate::shared::SharedError),
}

/// Errors of the recorder.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The recordings root cannot be created or written (missing permission,
    /// full disk, read-only file system, a file in the way, ...).
    #[error("recordings root {path} is not writable: {source}")]
    RootNotWritable {
        /// The root that was tried.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The call id cannot be used as a file name.
    #[error("call id {0:?} is not a safe file name (expected 1-128 of [A-Za-z0-9_.-], not starting with '.')")]
    InvalidCallId(String),
    /// A recording file could not be created (it may already exist: recordings
    /// are never overwritten).
    #[error("cannot create recording {path}: {source}")]
    Create {
        /// The file that was tried.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the WAV data or header failed (full disk, IO error); the
    /// recording stopped at that point.
    #[error("writing recording {path} failed: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
    /// Sealing the finished file (fsync, hashing) failed.
    #[error("sealing recording {path} failed: {source}")]
    Seal {
        /// The file being sealed.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// A writer lane could not be started (or has stopped).
    #[error("cannot start the recording writer for {path}: {source}")]
    Spawn {
        /// The recording it was for.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The writer panicked on this recording (a bug); the file may lack its
    /// final header.
    #[error("the writer of {0} panicked")]
    WriterPanicked(PathBuf),
}

/// Settings of a [`Recorder`].
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Directory under which recordings are stored (`YYYY/MM/DD/<call>.wav`).
    pub root: PathBuf,
    /// Longest time between two WAV header refreshes while a call runs.
    pub flush_interval: Duration,
    /// Capacity, in frames, of each call's channel to its writer lane
    /// (both sides: 512 frames hold 5 s of a call's audio).
    pub channel_capacity: usize,
    /// Writer lanes (threads), each serving many recordings.
    pub writer_lanes: usize,
    /// How often a lane writes what its recordings queued: one write per
    /// file per batch instead of one wake-up per 20 ms frame.
    pub batch_interval: Duration,
    /// Longest time between two fsyncs of the audio while a call runs
    /// (zero: only when the recording closes).
    pub sync_interval: Duration,
    /// Signs a manifest for every recording that closes (None: no manifest).
    pub notary: Option<Arc<Notary>>,
    /// Notified after every seal (the shared-store uploader waits on it:
    /// see [`shared`]); None on a single node.
    pub sealed: Option<Arc<tokio::sync::Notify>>,
}

impl RecorderConfig {
    /// Default settings (1 s header refresh, 5 s fsync, 512 frames of
    /// channel, no manifests) for `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RecorderConfig {
            root: root.into(),
            flush_interval: Duration::from_secs(1),
            channel_capacity: 512,
            writer_lanes: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 4),
            batch_interval: Duration::from_millis(100),
            sync_interval: Duration::from_secs(5),
            notary: None,
            sealed: None,
        }
    }
}

impl Default for RecorderConfig {
    /// Records under `recordings/` relative to the working directory.
    fn default() -> Self {
        RecorderConfig::new("recordings")
    }
}

/// A recording that stopped being written while its call went on (a full
/// disk, an I/O error): reported at once, not only when the call ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteFailure {
    /// The call (the file's stem).
    pub call_id: String,
    /// The file.
    pub path: PathBuf,
    /// What the operating system said (`No space left on device`).
    pub reason: String,
}

/// Failures kept until someone reads them; more are dropped (the first ones
/// say what is wrong).
const FAILURES_KEPT: usize = 256;

/// Creates recordings under one root; cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<RecorderConfig>,
    lanes: Arc<lanes::Lanes>,
    failures: (
        Sender<WriteFailure>,
        crossbeam_channel::Receiver<WriteFailure>,
    ),
}

impl Recorder {
    /// Creates the root if missing and proves it is writable (writes, syncs and
    /// deletes a probe file). The error names the path otherwise.
    pub fn new(cfg: RecorderConfig) -> Result<Recorder, RecorderError> {
        let root = cfg.root.clone();
        let err = |source| RecorderError::RootNotWritable {
            path: root.clone(),
            source,
        };
        fs::create_dir_all(&root).map_err(err)?;
        static PROBES: AtomicU64 = AtomicU64::new(0);
        let probe = root.join(format!(
            ".hotline-probe-{}-{}",
            std::process::id(),
            PROBES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&probe)?;
            // Large enough that a full disk refuses it.
            f.write_all(&[0u8; 4096])?;
            f.sync_all()
        })();
        let removed = fs::remove_file(&probe);
        written.map_err(err)?;
        removed.map_err(err)?;
        let mut cfg = cfg;
        cfg.channel_capacity = cfg.channel_capacity.max(1);
        if cfg.flush_interval.is_zero() {
            cfg.flush_interval = Duration::from_millis(1);
        }
        if cfg.batch_interval.is_zero() {
            cfg.batch_interval = Duration::from_millis(1);
        }
        let lanes =
            lanes::Lanes::start(cfg.writer_lanes, cfg.batch_interval).map_err(|source| {
                RecorderError::Spawn {
                    path: cfg.root.clone(),
                    source,
                }
            })?;
        Ok(Recorder {
            inner: Arc::new(cfg),
            lanes: Arc::new(lanes),
            failures: crossbeam_channel::bounded(FAILURES_KEPT),
        })
    }

    /// Recordings that failed while their call runs, since the last call
    /// (the engine turns each into a `storage_alarm` event at once).
    pub fn take_failures(&self) -> Vec<WriteFailure> {
        self.failures.1.try_iter().collect()
    }

    /// Creates `<root>/YYYY/MM/DD/<call_id>.wav` (UTC date of `started_at_ms`)
    /// and hands it to a writer lane. Sample 0 of the file is `started_at_ms`.
    ///
    /// An existing file is never overwritten: opening the same call twice on the
    /// same day is an error.
    pub fn open(
        &self,
        call_id: &CallId,
        started_at_ms: i64,
    ) -> Result<RecordingHandle, RecorderError> {
        let id = call_id.as_str();
        if !is_safe_file_name(id) {
            return Err(RecorderError::InvalidCallId(id.to_string()));
        }
        // UTC dates: a file's place never moves with `schedule.timezone`
        // (clamped to what the calendar can name: 1970 to 9999-12-30)
        let day = hotline_core::Calendar::utc()
            .date_of(started_at_ms.clamp(0, 253_402_128_000_000))
            .map_err(|e| RecorderError::Create {
                path: self.inner.root.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let dir_rel = day.strftime("%Y/%m/%d").to_string();
        let relative_path = format!("{dir_rel}/{id}.wav");
        let dir = self.inner.root.join(&dir_rel);
        let path = dir.join(format!("{id}.wav"));
        let create_err = |source| RecorderError::Create {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(create_err)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(create_err)?;
        // Make the new directory entry durable: a recording must not vanish
        // in a crash even if its data survives.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        let (tx, rx) = crossbeam_channel::bounded(self.inner.channel_capacity);
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::bounded(1);
        let (closed_tx, closed_rx) = crossbeam_channel::bounded(1);
        let session = writer::Session::open(
            writer::Opening {
                file,
                path: path.clone(),
                relative_path: relative_path.clone(),
                started_at_ms,
                flush_interval: self.inner.flush_interval,
                sync_interval: self.inner.sync_interval,
                notary: self.inner.notary.clone(),
                frames: rx,
                ctrl: ctrl_rx,
                failures: self.failures.0.clone(),
                closed: closed_tx,
            },
            std::time::Instant::now(),
        );
        let lane = self
            .lanes
            .open(session)
            .ok_or_else(|| RecorderError::Spawn {
                path: path.clone(),
                source: std::io::Error::other("the recorder's writer lane has stopped"),
            })?;
        Ok(RecordingHandle {
            sender: tx,
            ctrl: ctrl_tx,
            lane,
            closed: closed_rx,
            relative_path,
            path,
            sealed: self.inner.sealed.clone(),
        })
    }

    /// The recordings root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The notary that signs this recorder's manifests, if any.
    pub fn notary(&self) -> Option<&Arc<Notary>> {
        self.inner.notary.as_ref()
    }
}

/// Whether `s` can be used as a file name on every platform we care about.
fn is_safe_file_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One call's recording in progress.
///
/// Dropping it without [`finish`](RecordingHandle::finish) lets the writer run
/// until every sender is dropped, then finalizes the file the same way.
#[derive(Debug)]
pub struct RecordingHandle {
    sender: Sender<AudioFrame>,
    ctrl: Sender<writer::Ctrl>,
    /// The writer lane serving this recording (woken by `finish`).
    lane: Sender<lanes::LaneMsg>,
    /// The closed recording comes back here to be sealed.
    closed: crossbeam_channel::Receiver<writer::Closed>,
    relative_path: String,
    path: PathBuf,
    sealed: Option<Arc<tokio::sync::Notify>>,
}

impl RecordingHandle {
    /// A sender for the media workers; they should `try_send` so a slow disk
    /// never stalls RTP forwarding.
    pub fn sender(&self) -> Sender<AudioFrame> {
        self.sender.clone()
    }

    /// Path relative to the recordings root: `YYYY/MM/DD/<call_id>.wav`.
    pub fn relative_path(&self) -> &str {
        &self.relative_path
    }

    /// Absolute (root-joined) path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the writer to finish: it drains the frames already queued, pads
    /// both channels to equal length, finalizes the header, fsyncs and hashes
    /// the file. Blocks until done (call it from `spawn_blocking`).
    ///
    /// Frames sent after this call are refused (the channel disconnects).
    pub fn finish(self) -> Result<RecordingSummary, RecorderError> {
        self.finish_with(CallParties::default())
    }

    /// [`finish`](RecordingHandle::finish), naming the call's parties in the
    /// signed manifest.
    pub fn finish_with(self, parties: CallParties) -> Result<RecordingSummary, RecorderError> {
        // The lane may already have dropped this recording (it cannot, while
        // this handle's own sender lives, except by panicking): then the
        // receive below fails and says so.
        let _ = self.ctrl.send(writer::Ctrl::Finish(parties));
        let _ = self.lane.send(lanes::LaneMsg::Wake);
        match self.closed.recv() {
            Ok(closed) => {
                let sealed = closed.seal();
                if let (Ok(_), Some(w)) = (&sealed, &self.sealed) {
                    w.notify_one();
                }
                sealed
            }
            Err(_) => Err(RecorderError::WriterPanicked(self.path.clone())),
        }
    }
}

/// Who took part in a recorded call (goes into its manifest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallParties {
    /// Caller number.
    pub caller: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Queue.
    pub queue: Option<String>,
    /// Spans (epoch ms, start and end) during which the recording was paused
    /// on request; they are silence in the file and listed in the manifest.
    pub pauses_ms: Vec<(i64, i64)>,
}

/// What a finished recording holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Path relative to the recordings root (`/` separators).
    pub relative_path: String,
    /// Full path of the file.
    pub path: PathBuf,
    /// SHA-256 of the finished file, lowercase hex.
    pub sha256: String,
    /// Samples per channel (both channels have the same length).
    pub samples_per_channel: u64,
    /// Length of the recording in milliseconds.
    pub duration_ms: u64,
    /// Holes inside an RTP stream (lost packets) filled with silence.
    pub gaps: u32,
    /// Samples of silence, per channel summed, written for those holes.
    pub gap_samples: u64,
    /// Frames dropped because their place was already written (late or duplicate).
    pub late_or_duplicate: u64,
    /// The signed manifest written next to the file (None without a notary
    /// or when signing failed; the startup sweep seals such a file later).
    pub manifest: Option<PathBuf>,
}
