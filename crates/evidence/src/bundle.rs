//! Evidence bundles: one zip with a recording, its manifest, the public key
//! and its neighbours in the chain, verifiable offline with nothing else.
//!
//! Layout: `<id>.wav`, `<id>.manifest.json`, `public.key`,
//! `chain/prev.manifest.json` (the link before, if any),
//! `chain/next.manifest.json` (the link after, if sealed yet), `README.txt`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::manifest::{Manifest, MANIFEST_SUFFIX, MAX_MANIFEST_BYTES};
use crate::verify::{check_manifest, read_manifest, Checked, Inventory, Report};
use crate::{EvidenceError, Fault};

/// Name of the public key entry.
pub const PUBLIC_KEY_ENTRY: &str = "public.key";
/// Name of the previous link's manifest.
pub const PREV_ENTRY: &str = "chain/prev.manifest.json";
/// Name of the next link's manifest.
pub const NEXT_ENTRY: &str = "chain/next.manifest.json";
/// Entries a bundle may hold at most (refuses zip bombs of many entries).
const MAX_ENTRIES: usize = 64;
/// Largest audio entry read (a WAV cannot exceed 4 GiB).
const MAX_AUDIO_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// What [`export`] wrote.
#[derive(Clone, Debug)]
pub struct Exported {
    /// The recording's manifest.
    pub manifest: Manifest,
    /// Whether the previous link went into the bundle.
    pub with_prev: bool,
    /// Whether the next link went into the bundle.
    pub with_next: bool,
}

/// Writes the bundle of recording `id` (found under `root`) to `out`, which
/// must not exist yet.
pub fn export(
    root: &Path,
    id: &str,
    key: &VerifyingKey,
    out: &Path,
) -> Result<Exported, EvidenceError> {
    crate::validate_id(id)?;
    let inv = Inventory::scan(root)?;
    let mine = inv.of_id(id);
    let not_found = || EvidenceError::NotFound {
        id: id.to_string(),
        root: root.to_path_buf(),
    };
    let wav = mine.wavs.first().ok_or_else(not_found)?.clone();
    let manifest_path = wav.with_file_name(format!("{id}{MANIFEST_SUFFIX}"));
    let m = read_manifest(&manifest_path)?;
    let mut prev = None;
    let mut next = None;
    for p in &inv.manifests {
        if *p == manifest_path {
            continue;
        }
        let Ok(other) = read_manifest(p) else {
            continue;
        };
        if m.prev
            .as_ref()
            .is_some_and(|l| l.seq == other.seq && l.call_id == other.call_id)
        {
            prev = Some(p.clone());
        }
        if other
            .prev
            .as_ref()
            .is_some_and(|l| l.seq == m.seq && l.call_id == m.call_id)
        {
            next = Some(p.clone());
        }
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(EvidenceError::io(out))?;
    let mut z = ZipWriter::new(file);
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(std::fs::metadata(&wav).is_ok_and(|md| md.len() >= u64::from(u32::MAX)));
    let zio = |e: zip::result::ZipError| EvidenceError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let add_file = |z: &mut ZipWriter<File>, name: &str, src: &Path| {
        z.start_file(name, opts).map_err(zio)?;
        let mut f = File::open(src).map_err(EvidenceError::io(src))?;
        std::io::copy(&mut f, z).map_err(EvidenceError::io(out))?;
        Ok::<(), EvidenceError>(())
    };
    add_file(&mut z, &format!("{id}.wav"), &wav)?;
    add_file(&mut z, &format!("{id}{MANIFEST_SUFFIX}"), &manifest_path)?;
    if let Some(p) = &prev {
        add_file(&mut z, PREV_ENTRY, p)?;
    }
    if let Some(p) = &next {
        add_file(&mut z, NEXT_ENTRY, p)?;
    }
    z.start_file(PUBLIC_KEY_ENTRY, opts).map_err(zio)?;
    z.write_all(format!("{}\n", crate::public_key_hex(key)).as_bytes())
        .map_err(EvidenceError::io(out))?;
    z.start_file("README.txt", opts).map_err(zio)?;
    z.write_all(
        format!(
            "hotline evidence bundle for recording {id}\n\
             Verify with: hotline recordings verify THIS.zip [--pubkey HEX]\n\
             Signing key fingerprint: {} (compare with `hotline recordings pubkey` on the server)\n",
            crate::key_id(key)
        )
        .as_bytes(),
    )
    .map_err(EvidenceError::io(out))?;
    let file = z.finish().map_err(zio)?;
    file.sync_all().map_err(EvidenceError::io(out))?;
    Ok(Exported {
        manifest: m,
        with_prev: prev.is_some(),
        with_next: next.is_some(),
    })
}

fn read_entry<R: Read + std::io::Seek>(
    z: &mut ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Option<Result<Vec<u8>, String>> {
    let e = z.by_name(name).ok()?;
    let mut bytes = Vec::new();
    Some(
        e.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                if bytes.len() as u64 > limit {
                    Err(format!("{name} is larger than {limit} bytes"))
                } else {
                    Ok(bytes)
                }
            }),
    )
}

/// Verifies a bundle offline. The key is `pinned` if given (recommended:
/// the server's published key), else the bundle's own `public.key` (which
/// then only proves the bundle is consistent; compare its fingerprint).
/// Returns the report and the key used.
pub fn verify_bundle(
    path: &Path,
    pinned: Option<&VerifyingKey>,
) -> Result<(Report, VerifyingKey), EvidenceError> {
    let bad = |reason: String| EvidenceError::BadBundle {
        path: path.to_path_buf(),
        reason,
    };
    let f = File::open(path).map_err(EvidenceError::io(path))?;
    let mut z = ZipArchive::new(f).map_err(|e| bad(e.to_string()))?;
    if z.len() > MAX_ENTRIES {
        return Err(bad(format!("{} entries (at most {MAX_ENTRIES})", z.len())));
    }
    let manifests: Vec<String> = z
        .file_names()
        .filter(|n| !n.contains('/') && n.ends_with(MANIFEST_SUFFIX))
        .map(str::to_string)
        .collect();
    let [name] = manifests.as_slice() else {
        return Err(bad(format!(
            "expected exactly one top-level *{MANIFEST_SUFFIX}, found {}",
            manifests.len()
        )));
    };
    let id = name
        .strip_suffix(MANIFEST_SUFFIX)
        .unwrap_or_default()
        .to_string();
    crate::validate_id(&id)?;
    let key = match pinned {
        Some(k) => *k,
        None => {
            let text = read_entry(&mut z, PUBLIC_KEY_ENTRY, 4096)
                .ok_or_else(|| bad(format!("no {PUBLIC_KEY_ENTRY} (pass --pubkey)")))?
                .map_err(&bad)?;
            let text = String::from_utf8_lossy(&text).into_owned();
            crate::parse_public_key(&text).map_err(|e| bad(format!("{PUBLIC_KEY_ENTRY}: {e}")))?
        }
    };
    let mut report = Report::default();
    let shown = format!("{}:{name}", path.display());
    let bytes = read_entry(&mut z, name, MAX_MANIFEST_BYTES)
        .ok_or_else(|| bad(format!("cannot read {name}")))?
        .map_err(&bad)?;
    let m = match Manifest::from_json(&shown, &bytes) {
        Ok(m) => m,
        Err(e) => {
            report.faults.push(Fault::ManifestUnreadable {
                manifest: shown,
                reason: match e {
                    EvidenceError::BadManifest { reason, .. } => reason,
                    other => other.to_string(),
                },
            });
            return Ok((report, key));
        }
    };
    let audio = match z.by_name(&format!("{id}.wav")) {
        Ok(e) => Some(
            crate::wav::hash_reader(e.take(MAX_AUDIO_BYTES)).map_err(EvidenceError::io(path))?,
        ),
        Err(_) => None,
    };
    report
        .faults
        .extend(check_manifest(&m, &shown, &id, audio, &key));
    report.checked.push(Checked {
        call_id: m.call_id.clone(),
        seq: m.seq,
        recovered: m.recovered,
        samples_per_channel: m.samples_per_channel,
    });
    let mut link = |entry: &str| -> Option<Manifest> {
        let shown = format!("{}:{entry}", path.display());
        let bytes = read_entry(&mut z, entry, MAX_MANIFEST_BYTES)?;
        match bytes
            .map_err(|r| crate::EvidenceError::BadManifest {
                path: shown.clone(),
                reason: r,
            })
            .and_then(|b| Manifest::from_json(&shown, &b))
        {
            Ok(l) => {
                if !l.signature_valid(&key) {
                    report.faults.push(Fault::BadSignature { manifest: shown });
                }
                Some(l)
            }
            Err(e) => {
                report.faults.push(Fault::ManifestUnreadable {
                    manifest: shown,
                    reason: e.to_string(),
                });
                None
            }
        }
    };
    let prev = link(PREV_ENTRY);
    let next = link(NEXT_ENTRY);
    if let Some(p) = &m.prev {
        match prev {
            None => report.faults.push(Fault::BundleIncomplete {
                what: format!(
                    "{PREV_ENTRY} (link #{} of call {}) is missing or unreadable",
                    p.seq, p.call_id
                ),
            }),
            Some(pm) if pm.hash() != p.manifest_sha256 => report.faults.push(Fault::LinkReplaced {
                call_id: m.call_id.clone(),
                seq: m.seq,
                prev_seq: p.seq,
                expected_call_id: p.call_id.clone(),
                expected_hash: p.manifest_sha256.clone(),
                found_call_id: pm.call_id.clone(),
                found_hash: pm.hash(),
            }),
            Some(_) => {}
        }
    } else if m.seq != 0 {
        report.faults.push(Fault::Unlinked {
            call_id: m.call_id.clone(),
            seq: m.seq,
        });
    }
    if let Some(n) = next {
        let this = m.hash();
        match &n.prev {
            Some(l) if l.manifest_sha256 == this => {}
            other => report.faults.push(Fault::LinkReplaced {
                call_id: n.call_id.clone(),
                seq: n.seq,
                prev_seq: m.seq,
                expected_call_id: other.as_ref().map_or("-".into(), |l| l.call_id.clone()),
                expected_hash: other
                    .as_ref()
                    .map_or("-".into(), |l| l.manifest_sha256.clone()),
                found_call_id: m.call_id.clone(),
                found_hash: this,
            }),
        }
    }
    Ok((report, key))
}
