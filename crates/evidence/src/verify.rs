//! Offline verification: file hash, signature, manifest placement and chain.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;

use crate::manifest::{Link, Manifest, MANIFEST_SUFFIX};
use crate::{EvidenceError, Fault};

/// Directory levels searched below the recordings root (`YYYY/MM/DD` is 3).
const MAX_DEPTH: usize = 6;

/// The recordings and manifests found under a root.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// `*.wav` files.
    pub wavs: Vec<PathBuf>,
    /// `*.manifest.json` files.
    pub manifests: Vec<PathBuf>,
}

fn stem_of<'a>(path: &'a Path, suffix: &str) -> Option<&'a str> {
    path.file_name()?.to_str()?.strip_suffix(suffix)
}

impl Inventory {
    /// Walks `root` (symbolic links and hidden entries are skipped).
    pub fn scan(root: &Path) -> Result<Inventory, EvidenceError> {
        let mut inv = Inventory::default();
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let entries = fs::read_dir(&dir).map_err(EvidenceError::io(&dir))?;
            for e in entries {
                let e = e.map_err(EvidenceError::io(&dir))?;
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') {
                    continue;
                }
                let Ok(ft) = e.file_type() else { continue };
                let path = e.path();
                if ft.is_dir() {
                    if depth < MAX_DEPTH {
                        stack.push((path, depth + 1));
                    }
                } else if ft.is_file() {
                    if name.ends_with(MANIFEST_SUFFIX) {
                        inv.manifests.push(path);
                    } else if name.ends_with(".wav") {
                        inv.wavs.push(path);
                    }
                }
            }
        }
        inv.wavs.sort();
        inv.manifests.sort();
        Ok(inv)
    }

    /// The WAV files and manifests of one recording id.
    pub fn of_id(&self, id: &str) -> Inventory {
        Inventory {
            wavs: self
                .wavs
                .iter()
                .filter(|p| stem_of(p, ".wav") == Some(id))
                .cloned()
                .collect(),
            manifests: self
                .manifests
                .iter()
                .filter(|p| stem_of(p, MANIFEST_SUFFIX) == Some(id))
                .cloned()
                .collect(),
        }
    }
}

/// A recording that was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Its call id.
    pub call_id: String,
    /// Its chain position.
    pub seq: u64,
    /// Sealed after a crash.
    pub recovered: bool,
    /// Samples per channel.
    pub samples_per_channel: u64,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Recordings whose manifest could be read.
    pub checked: Vec<Checked>,
    /// Everything found wrong.
    pub faults: Vec<Fault>,
}

impl Report {
    /// No fault found.
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }

    /// The report's lines: when nothing failed, one `ok` line per recording
    /// checked; else one `FAULT` line per fault.
    pub fn lines(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.is_ok() {
            for c in &self.checked {
                let recovered = if c.recovered {
                    ", recovered after a crash"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "ok     #{} {} ({} samples per channel{recovered})",
                    c.seq, c.call_id, c.samples_per_channel
                );
            }
        }
        for f in &self.faults {
            let _ = writeln!(out, "FAULT  {f}");
        }
        out
    }

    /// The verdict on `what` (a recording id, a bundle or the recordings root).
    pub fn verdict(&self, what: &str) -> String {
        if self.is_ok() {
            format!(
                "{what}: OK ({} recording(s): file hash, signature and chain verified)",
                self.checked.len()
            )
        } else {
            format!(
                "{what}: verification FAILED: {} fault(s)",
                self.faults.len()
            )
        }
    }
}

/// Checks one manifest: placement (`manifest_stem` is the id its file name
/// carries), signature, and the audio's hash and size (`audio` = None when
/// the audio file is missing).
pub fn check_manifest(
    m: &Manifest,
    manifest_name: &str,
    manifest_stem: &str,
    audio: Option<(String, u64)>,
    key: &VerifyingKey,
) -> Vec<Fault> {
    let mut faults = Vec::new();
    let expected_file = format!("{manifest_stem}.wav");
    if m.call_id != manifest_stem || m.file != expected_file {
        faults.push(Fault::ManifestSwapped {
            manifest: manifest_name.to_string(),
            names_call: m.call_id.clone(),
            names_file: m.file.clone(),
            expected_file: expected_file.clone(),
        });
    }
    if !m.signature_valid(key) {
        faults.push(Fault::BadSignature {
            manifest: manifest_name.to_string(),
        });
    }
    match audio {
        None => faults.push(Fault::AudioMissing {
            call_id: manifest_stem.to_string(),
            file: expected_file,
        }),
        Some((hash, size)) => {
            if hash != m.file_sha256 || size != m.file_size {
                faults.push(Fault::AudioAltered {
                    call_id: manifest_stem.to_string(),
                    file: expected_file,
                    expected: m.file_sha256.clone(),
                    actual: hash,
                    expected_size: m.file_size,
                    actual_size: size,
                });
            }
        }
    }
    faults
}

/// Checks the chain links among `manifests` and against the chain `head`.
pub fn check_chain(manifests: &[Manifest], head: Option<&Link>) -> Vec<Fault> {
    let mut faults = Vec::new();
    let mut by_seq: BTreeMap<u64, Vec<(&Manifest, String)>> = BTreeMap::new();
    for m in manifests {
        by_seq.entry(m.seq).or_default().push((m, m.hash()));
    }
    for (seq, ms) in &by_seq {
        for pair in ms.windows(2) {
            faults.push(Fault::Forked {
                seq: *seq,
                first: pair[0].0.call_id.clone(),
                second: pair[1].0.call_id.clone(),
            });
        }
    }
    for m in manifests {
        match &m.prev {
            None if m.seq == 0 => {}
            None => faults.push(Fault::Unlinked {
                call_id: m.call_id.clone(),
                seq: m.seq,
            }),
            Some(p) => match by_seq.get(&p.seq) {
                None => faults.push(Fault::MissingLink {
                    call_id: m.call_id.clone(),
                    seq: m.seq,
                    missing_seq: p.seq,
                    missing_call_id: p.call_id.clone(),
                    missing_hash: p.manifest_sha256.clone(),
                }),
                Some(found) if found.iter().any(|(_, h)| *h == p.manifest_sha256) => {}
                Some(found) => faults.push(Fault::LinkReplaced {
                    call_id: m.call_id.clone(),
                    seq: m.seq,
                    prev_seq: p.seq,
                    expected_call_id: p.call_id.clone(),
                    expected_hash: p.manifest_sha256.clone(),
                    found_call_id: found[0].0.call_id.clone(),
                    found_hash: found[0].1.clone(),
                }),
            },
        }
    }
    if let Some(h) = head {
        let present = by_seq
            .get(&h.seq)
            .is_some_and(|f| f.iter().any(|(_, hash)| *hash == h.manifest_sha256));
        if !present {
            faults.push(Fault::HeadMissing {
                seq: h.seq,
                call_id: h.call_id.clone(),
            });
        }
    }
    faults
}

/// Reads and parses a manifest file (size-capped).
pub fn read_manifest(path: &Path) -> Result<Manifest, EvidenceError> {
    let f = fs::File::open(path).map_err(EvidenceError::io(path))?;
    let mut bytes = Vec::new();
    f.take(crate::manifest::MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(EvidenceError::io(path))?;
    Manifest::from_json(&path.display().to_string(), &bytes)
}

/// Parsed manifests plus a fault for each unreadable one.
struct Loaded {
    manifests: Vec<(PathBuf, Manifest)>,
    unreadable: BTreeSet<String>,
    faults: Vec<Fault>,
}

fn load_all(inv: &Inventory) -> Loaded {
    let mut l = Loaded {
        manifests: Vec::new(),
        unreadable: BTreeSet::new(),
        faults: Vec::new(),
    };
    for p in &inv.manifests {
        match read_manifest(p) {
            Ok(m) => l.manifests.push((p.clone(), m)),
            Err(e) => {
                if let Some(stem) = stem_of(p, MANIFEST_SUFFIX) {
                    l.unreadable.insert(stem.to_string());
                }
                let reason = match e {
                    EvidenceError::BadManifest { reason, .. } => reason,
                    other => other.to_string(),
                };
                l.faults.push(Fault::ManifestUnreadable {
                    manifest: p.display().to_string(),
                    reason,
                });
            }
        }
    }
    l
}

fn check_file(path: &Path, m: &Manifest, key: &VerifyingKey) -> Vec<Fault> {
    let stem = stem_of(path, MANIFEST_SUFFIX).unwrap_or_default();
    let wav = path.with_file_name(format!("{stem}.wav"));
    let audio = crate::wav::hash_file(&wav).ok();
    if audio.is_none() {
        match deleted_on_purpose(&wav, stem, m, key) {
            // removed by retention: the manifest must still be genuine
            Tombstoned::Yes => {
                return check_manifest(
                    m,
                    &path.display().to_string(),
                    stem,
                    Some((m.file_sha256.clone(), m.file_size)),
                    key,
                )
            }
            Tombstoned::Invalid(fault) => {
                let mut faults = check_manifest(m, &path.display().to_string(), stem, None, key);
                faults.push(fault);
                return faults;
            }
            Tombstoned::No => {}
        }
    }
    check_manifest(m, &path.display().to_string(), stem, audio, key)
}

/// What the tombstone of a missing WAV says.
enum Tombstoned {
    /// None there.
    No,
    /// A valid one: deleted on purpose.
    Yes,
    /// One that does not account for the deletion.
    Invalid(Fault),
}

/// A missing WAV is no fault when a tombstone signed by the server key names
/// the same recording, file and hash (deleted by retention or the quota).
fn deleted_on_purpose(wav: &Path, stem: &str, m: &Manifest, key: &VerifyingKey) -> Tombstoned {
    let path = crate::tombstone::Tombstone::path_for(wav);
    if !path.exists() {
        return Tombstoned::No;
    }
    let invalid = |reason: String| {
        Tombstoned::Invalid(Fault::TombstoneInvalid {
            call_id: stem.to_string(),
            tombstone: path.display().to_string(),
            reason,
        })
    };
    match crate::tombstone::Tombstone::read(&path) {
        Ok(t) if !t.signature_valid(key) => invalid(format!(
            "not signed by the key checked with ({}; the tombstone names key {})",
            crate::key_id(key),
            t.key_id
        )),
        Ok(t) if t.call_id != stem || t.file != m.file || t.file_sha256 != m.file_sha256 => {
            invalid(format!(
                "it is the tombstone of {} ({}, SHA-256 {}), not of {} ({})",
                t.call_id, t.file, t.file_sha256, m.file, m.file_sha256
            ))
        }
        Ok(_) => Tombstoned::Yes,
        Err(e) => invalid(e.to_string()),
    }
}

/// Whether a chain fault is about recording `id` (at chain position `seq`).
fn concerns(f: &Fault, id: &str, seq: Option<u64>) -> bool {
    match f {
        Fault::MissingLink { call_id, .. } | Fault::Unlinked { call_id, .. } => call_id == id,
        Fault::LinkReplaced {
            call_id, prev_seq, ..
        } => call_id == id || Some(*prev_seq) == seq,
        Fault::Forked { first, second, .. } => first == id || second == id,
        Fault::HeadMissing { call_id, .. } => call_id == id,
        _ => true,
    }
}

/// Verifies every recording under `root`: each manifest's placement,
/// signature and audio hash, every WAV has a manifest, and the chain is
/// unbroken up to `head`.
pub fn verify_all(
    root: &Path,
    key: &VerifyingKey,
    head: Option<&Link>,
) -> Result<Report, EvidenceError> {
    let inv = Inventory::scan(root)?;
    let loaded = load_all(&inv);
    let mut report = Report {
        faults: loaded.faults,
        ..Report::default()
    };
    for w in &inv.wavs {
        let stem = stem_of(w, ".wav").unwrap_or_default();
        if !w
            .with_file_name(format!("{stem}{MANIFEST_SUFFIX}"))
            .exists()
        {
            report.faults.push(Fault::ManifestMissing {
                file: w.display().to_string(),
            });
        }
    }
    for (p, m) in &loaded.manifests {
        report.faults.extend(check_file(p, m, key));
        report.checked.push(Checked {
            call_id: m.call_id.clone(),
            seq: m.seq,
            recovered: m.recovered,
            samples_per_channel: m.samples_per_channel,
        });
    }
    let ms: Vec<Manifest> = loaded.manifests.into_iter().map(|(_, m)| m).collect();
    report
        .faults
        .extend(check_chain(&ms, head).into_iter().filter(|f| match f {
            // already reported as unreadable
            Fault::MissingLink {
                missing_call_id, ..
            } => !loaded.unreadable.contains(missing_call_id),
            _ => true,
        }));
    Ok(report)
}

/// Verifies one recording: its manifest, audio, its link to the previous
/// recording and the next recording's link to it.
pub fn verify_one(
    root: &Path,
    id: &str,
    key: &VerifyingKey,
    head: Option<&Link>,
) -> Result<Report, EvidenceError> {
    crate::validate_id(id)?;
    let inv = Inventory::scan(root)?;
    let mine = inv.of_id(id);
    if mine.wavs.is_empty() && mine.manifests.is_empty() {
        return Err(EvidenceError::NotFound {
            id: id.to_string(),
            root: root.to_path_buf(),
        });
    }
    let loaded = load_all(&inv);
    let mut report = Report::default();
    for f in loaded.faults {
        if let Fault::ManifestUnreadable { manifest, .. } = &f {
            if mine
                .manifests
                .iter()
                .any(|p| p.display().to_string() == *manifest)
            {
                report.faults.push(f);
            }
        }
    }
    for w in &mine.wavs {
        if !w.with_file_name(format!("{id}{MANIFEST_SUFFIX}")).exists() {
            report.faults.push(Fault::ManifestMissing {
                file: w.display().to_string(),
            });
        }
    }
    let mut seq = None;
    for (p, m) in &loaded.manifests {
        if stem_of(p, MANIFEST_SUFFIX) == Some(id) {
            report.faults.extend(check_file(p, m, key));
            report.checked.push(Checked {
                call_id: m.call_id.clone(),
                seq: m.seq,
                recovered: m.recovered,
                samples_per_channel: m.samples_per_channel,
            });
            seq = Some(m.seq);
        }
    }
    let ms: Vec<Manifest> = loaded.manifests.into_iter().map(|(_, m)| m).collect();
    report.faults.extend(
        check_chain(&ms, head)
            .into_iter()
            .filter(|f| concerns(f, id, seq)),
    );
    Ok(report)
}

/// Finds the WAV (and manifest, if any) of recording `id` under `root`.
pub fn find(root: &Path, id: &str) -> Result<(PathBuf, Option<PathBuf>), EvidenceError> {
    crate::validate_id(id)?;
    let inv = Inventory::scan(root)?.of_id(id);
    let not_found = || EvidenceError::NotFound {
        id: id.to_string(),
        root: root.to_path_buf(),
    };
    let wav = inv.wavs.into_iter().next().ok_or_else(not_found)?;
    let manifest = wav.with_file_name(format!("{id}{MANIFEST_SUFFIX}"));
    let manifest = manifest.exists().then_some(manifest);
    Ok((wav, manifest))
}

#[cfg(test)]
mod report_text {
    use super::*;

    fn checked(seq: u64, id: &str, recovered: bool) -> Checked {
        Checked {
            call_id: id.into(),
            seq,
            recovered,
            samples_per_channel: 8000,
        }
    }

    #[test]
    fn a_clean_report_lists_each_recording_and_a_faulty_one_only_its_faults() {
        let mut r = Report {
            checked: vec![checked(1, "c1", false), checked(2, "c2", true)],
            faults: vec![],
        };
        assert_eq!(
            r.lines(),
            "ok     #1 c1 (8000 samples per channel)\n\
             ok     #2 c2 (8000 samples per channel, recovered after a crash)\n"
        );
        assert_eq!(
            r.verdict("root"),
            "root: OK (2 recording(s): file hash, signature and chain verified)"
        );
        r.faults.push(Fault::AudioMissing {
            call_id: "c2".into(),
            file: "c2.wav".into(),
        });
        let lines = r.lines();
        assert!(!lines.contains("ok "), "{lines}");
        assert_eq!(lines.lines().count(), 1, "{lines}");
        assert!(lines.starts_with("FAULT  c2"), "{lines}");
        assert_eq!(r.verdict("c2"), "c2: verification FAILED: 1 fault(s)");
    }
}
