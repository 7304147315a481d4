//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code a hostile file drives and panics only when an
//! invariant breaks (or the code under it panics). Not part of the API: no
//! stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::wav::{repair_header, PcmFormat};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

static FILES: AtomicU64 = AtomicU64::new(0);

/// A scratch file of this process, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A WAV file left on disk by a crash (any bytes) through what the start-up
/// sweep does with it: the header repair from the file length, then the
/// loudness timeline read back with hound. Invariants: a repaired file's
/// RIFF and data sizes match its length, its data is a whole number of
/// frames, and a second repair changes nothing; a refused file is left
/// byte for byte as it was. Returns whether the file was repaired.
pub fn wav_repair(data: &[u8]) -> bool {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("hotline-fuzz-wav-{}-{n}.wav", std::process::id()));
    let scratch = Scratch(path);
    std::fs::write(&scratch.0, data).expect("scratch file");
    let repaired = match repair_header(&scratch.0, PcmFormat::HOTLINE) {
        Ok(r) => r,
        Err(_) => {
            let after = std::fs::read(&scratch.0).expect("scratch file");
            assert!(after == data, "a refused file was changed");
            return false;
        }
    };
    let after = std::fs::read(&scratch.0).expect("scratch file");
    let len = after.len() as u64;
    assert_eq!(
        len,
        repaired.data_offset + repaired.data_bytes,
        "the data chunk ends the file"
    );
    assert_eq!(u64::from(le32(&after[4..8])), len - 8, "RIFF size");
    let off = repaired.data_offset as usize;
    assert_eq!(&after[off - 8..off - 4], b"data");
    assert_eq!(
        u64::from(le32(&after[off - 4..off])),
        repaired.data_bytes,
        "data size"
    );
    let frame = u64::from(repaired.format.channels) * u64::from(repaired.format.bits.div_ceil(8));
    assert!(frame > 0, "a zero frame size was accepted");
    assert_eq!(repaired.data_bytes % frame, 0, "whole frames");
    assert_eq!(repaired.samples_per_channel, repaired.data_bytes / frame);
    if !repaired.fresh_header {
        // only the two sizes change (and a partial last frame is cut)
        assert_eq!(after[..4], data[..4]);
        assert_eq!(after[8..off - 4], data[8..off - 4]);
        assert_eq!(
            after[off..],
            data[off..after.len()],
            "the audio is not touched"
        );
    }
    let again = repair_header(&scratch.0, PcmFormat::HOTLINE).expect("a repaired file repairs");
    assert!(!again.changed, "a second repair changed the file");
    assert_eq!(again.data_bytes, repaired.data_bytes);
    assert_eq!(again.format, repaired.format);
    let _ = crate::loudness::of_wav(&scratch.0);
    true
}
