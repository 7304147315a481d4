//! The startup sweep: recordings left open by a crash (a WAV without a
//! manifest) get their header repaired from the file length, are hashed and
//! sealed with `recovered: true`.

use std::path::{Path, PathBuf};

use crate::manifest::MANIFEST_SUFFIX;
use crate::verify::{read_manifest, Inventory};
use crate::wav::{hash_file, repair_header, PcmFormat, Repair};
use crate::{EvidenceError, Gaps, Notary, RecordingFacts};

/// Who took part in a call, looked up (e.g. from the event log) for a
/// recovered recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parties {
    /// Caller number.
    pub caller: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Queue.
    pub queue: Option<String>,
    /// When the recording started (epoch ms), if known.
    pub start_ms: Option<i64>,
}

/// One recording the sweep sealed.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// Its call id.
    pub call_id: String,
    /// The WAV file.
    pub path: PathBuf,
    /// What the header repair did.
    pub repair: Repair,
    /// The manifest written.
    pub manifest: PathBuf,
    /// SHA-256 of the repaired file, hex.
    pub file_sha256: String,
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Recordings repaired and sealed.
    pub recovered: Vec<Recovered>,
    /// Files that could not be recovered, with the reason.
    pub failed: Vec<(PathBuf, EvidenceError)>,
    /// Whether the chain head was moved forward to a manifest written just
    /// before a crash.
    pub head_adopted: bool,
}

fn mtime_ms(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Seals every WAV under `root` that has no manifest. Run it at start,
/// before any recording opens (an open recording has no manifest either).
/// `parties` looks up what is known of a call; `now_ms` is the signing time.
pub fn sweep(
    notary: &Notary,
    root: &Path,
    now_ms: i64,
    parties: &dyn Fn(&str) -> Parties,
) -> Result<SweepReport, EvidenceError> {
    let inv = Inventory::scan(root)?;
    let mut report = SweepReport::default();
    // A crash between writing a manifest and the chain head leaves the head
    // one link behind: move it to the newest manifest.
    // Only manifests written since the head file can be newer than the head
    // (1 s of slack for coarse file times): a start does not parse them all.
    let since = notary
        .head_path()
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.checked_sub(std::time::Duration::from_secs(1)));
    let newest = inv
        .manifests
        .iter()
        .filter(|p| match since {
            None => true,
            Some(since) => p
                .metadata()
                .and_then(|m| m.modified())
                .map_or(true, |t| t >= since),
        })
        .filter_map(|p| read_manifest(p).ok())
        .max_by_key(|m| m.seq);
    if let Some(m) = newest {
        report.head_adopted = notary.adopt_head(m.link())?;
    }
    for wav in &inv.wavs {
        let Some(id) = wav
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wav"))
        else {
            continue;
        };
        if wav
            .with_file_name(format!("{id}{MANIFEST_SUFFIX}"))
            .exists()
        {
            continue;
        }
        let id = id.to_string();
        match recover_one(notary, wav, &id, now_ms, parties) {
            Ok(r) => report.recovered.push(r),
            Err(e) => report.failed.push((wav.clone(), e)),
        }
    }
    Ok(report)
}

fn recover_one(
    notary: &Notary,
    wav: &Path,
    id: &str,
    now_ms: i64,
    parties: &dyn Fn(&str) -> Parties,
) -> Result<Recovered, EvidenceError> {
    crate::validate_id(id)?;
    let repair = repair_header(wav, PcmFormat::HOTLINE)?;
    let (sha, size) = hash_file(wav)?;
    let loudness = crate::loudness::of_wav(wav).ok();
    let p = parties(id);
    let rate = i64::from(repair.format.sample_rate.max(1));
    let duration_ms = i64::try_from(repair.samples_per_channel)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
        / rate;
    let (start_ms, end_ms) = match p.start_ms {
        Some(s) => (s, s.saturating_add(duration_ms)),
        None => {
            let end = mtime_ms(wav).unwrap_or(now_ms);
            (end.saturating_sub(duration_ms), end)
        }
    };
    let facts = RecordingFacts {
        call_id: id.to_string(),
        caller: p.caller,
        agent: p.agent,
        queue: p.queue,
        start_ms,
        end_ms,
        samples_per_channel: repair.samples_per_channel,
        codec: codec_name(repair.format),
        gaps: Gaps::default(),
        pauses: Vec::new(),
        recovered: true,
        file_size: size,
        file_sha256: sha.clone(),
        loudness,
    };
    let (_, manifest) = notary.seal(wav, facts, now_ms)?;
    Ok(Recovered {
        call_id: id.to_string(),
        path: wav.to_path_buf(),
        repair,
        manifest,
        file_sha256: sha,
    })
}

/// The codec description written into manifests.
pub fn codec_name(f: PcmFormat) -> String {
    let layout = if f.channels == 2 {
        "stereo (left=caller, right=agent)".to_string()
    } else {
        format!("{} channels", f.channels)
    };
    format!("pcm_s{}le {} Hz {layout}", f.bits, f.sample_rate)
}
