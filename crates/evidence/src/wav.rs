//! File hashing and by-hand WAV header repair (never through hound's
//! `WavWriter::append`, which overwrites the first second of a crashed file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::EvidenceError;

/// SHA-256 (lowercase hex) and length of everything `r` yields.
pub fn hash_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// SHA-256 (lowercase hex) and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), EvidenceError> {
    let f = File::open(path).map_err(EvidenceError::io(path))?;
    hash_reader(f).map_err(EvidenceError::io(path))
}

/// The format of the WAV files hotline writes (used when a crashed file has
/// no complete header to repair).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcmFormat {
    /// Channels.
    pub channels: u16,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits: u16,
}

impl PcmFormat {
    /// hotline's recordings: 2 channels, 8 kHz, 16 bit.
    pub const HOTLINE: PcmFormat = PcmFormat {
        channels: 2,
        sample_rate: 8_000,
        bits: 16,
    };

    /// Bytes per frame (all channels of one sample). Computed in u32: a
    /// hostile header's 65,535 channels of 16 bits overflow u16 (WAV's own
    /// field), which [`repair_header`] refuses.
    fn block_align(&self) -> u32 {
        u32::from(self.channels) * u32::from(self.bits.div_ceil(8))
    }

    /// A canonical 44-byte header for `data_bytes` of audio.
    pub fn header(&self, data_bytes: u32) -> [u8; 44] {
        let mut h = [0u8; 44];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(36u32.saturating_add(data_bytes)).to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes());
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.sample_rate.to_le_bytes());
        let byte_rate = self.sample_rate.saturating_mul(self.block_align());
        h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
        let align = u16::try_from(self.block_align()).unwrap_or(u16::MAX);
        h[32..34].copy_from_slice(&align.to_le_bytes());
        h[34..36].copy_from_slice(&self.bits.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
        h
    }
}

/// What [`repair_header`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// Format found in the header.
    pub format: PcmFormat,
    /// Offset of the first audio byte.
    pub data_offset: u64,
    /// Audio bytes now declared (whole frames only).
    pub data_bytes: u64,
    /// Samples per channel.
    pub samples_per_channel: u64,
    /// The data size the header declared before.
    pub declared_before: u32,
    /// Bytes of a partial last frame cut off the end.
    pub truncated: u64,
    /// Whether a missing header was written from scratch.
    pub fresh_header: bool,
    /// Whether anything in the file changed.
    pub changed: bool,
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Rewrites the RIFF and data chunk sizes of a WAV file from its length (the
/// data chunk must be last, as hound writes it), cutting a partial last
/// frame. A file too short to hold a header (crash before the first header
/// write reached the disk) gets a fresh header in `fallback` format and no
/// audio. Anything else that is not a RIFF/WAVE file is refused untouched.
pub fn repair_header(path: &Path, fallback: PcmFormat) -> Result<Repair, EvidenceError> {
    let bad = |reason: String| EvidenceError::NotRepairable {
        path: path.to_path_buf(),
        reason,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(EvidenceError::io(path))?;
    let len = f.metadata().map_err(EvidenceError::io(path))?.len();
    let mut head = Vec::new();
    (&mut f)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(EvidenceError::io(path))?;
    let canonical = fallback.header(0);
    if len < 44 && canonical.starts_with(&head[..head.len().min(44)]) {
        // Nothing but (part of) a header reached the disk.
        f.set_len(0)
            .and_then(|()| f.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| f.write_all(&canonical))
            .and_then(|()| f.sync_all())
            .map_err(EvidenceError::io(path))?;
        return Ok(Repair {
            format: fallback,
            data_offset: 44,
            data_bytes: 0,
            samples_per_channel: 0,
            declared_before: 0,
            truncated: 0,
            fresh_header: true,
            changed: true,
        });
    }
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file".into()));
    }
    let mut pos = 12usize;
    let mut format = None;
    let data_offset = loop {
        if pos + 8 > head.len() {
            return Err(bad("no data chunk in the first 64 KiB".into()));
        }
        let id = &head[pos..pos + 4];
        let size = le32(&head[pos + 4..pos + 8]) as usize;
        if id == b"data" {
            break pos + 8;
        }
        if id == b"fmt " {
            let b = head
                .get(pos + 8..pos + 24)
                .ok_or_else(|| bad("truncated fmt chunk".into()))?;
            format = Some(PcmFormat {
                channels: le16(&b[2..4]),
                sample_rate: le32(&b[4..8]),
                bits: le16(&b[14..16]),
            });
        }
        pos = pos
            .checked_add(8 + size + (size & 1))
            .ok_or_else(|| bad("chunk size overflows".into()))?;
    };
    let format = format.ok_or_else(|| bad("no fmt chunk before the data chunk".into()))?;
    let align = u64::from(format.block_align());
    if align == 0 || format.sample_rate == 0 {
        return Err(bad("fmt chunk declares 0 channels, bits or rate".into()));
    }
    if align > u64::from(u16::MAX) {
        return Err(bad(format!(
            "fmt chunk declares {align}-byte frames ({} channels of {} bits), more than a WAV can hold",
            format.channels, format.bits
        )));
    }
    let declared_before = le32(&head[data_offset - 4..data_offset]);
    let available = len - data_offset as u64;
    let data_bytes = available / align * align;
    let truncated = available - data_bytes;
    let riff = (data_offset as u64 - 8 + data_bytes)
        .try_into()
        .map_err(|_| bad("longer than a WAV file can be (4 GiB)".into()))?;
    let data32: u32 = data_bytes
        .try_into()
        .map_err(|_| bad("longer than a WAV file can be (4 GiB)".into()))?;
    let riff_before = le32(&head[4..8]);
    let changed = truncated > 0 || riff_before != riff || declared_before != data32;
    if changed {
        if truncated > 0 {
            f.set_len(data_offset as u64 + data_bytes)
                .map_err(EvidenceError::io(path))?;
        }
        f.seek(SeekFrom::Start(4))
            .and_then(|_| f.write_all(&u32::to_le_bytes(riff)))
            .and_then(|()| f.seek(SeekFrom::Start(data_offset as u64 - 4)).map(|_| ()))
            .and_then(|()| f.write_all(&data32.to_le_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(EvidenceError::io(path))?;
    }
    Ok(Repair {
        format,
        data_offset: data_offset as u64,
        data_bytes,
        samples_per_channel: data_bytes / align,
        declared_before,
        truncated,
        fresh_header: false,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crashed_wav(dir: &Path, frames: u32, extra: &[u8]) -> std::path::PathBuf {
        let path = dir.join("c.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..frames {
            w.write_sample((i % 1000) as i16).unwrap();
            w.write_sample(-((i % 1000) as i16)).unwrap();
        }
        w.flush().unwrap();
        // a crash: the header says what the last flush saw, more audio follows
        let mut audio = Vec::new();
        for i in frames..frames * 2 {
            audio.extend_from_slice(&((i % 1000) as i16).to_le_bytes());
            audio.extend_from_slice(&(-((i % 1000) as i16)).to_le_bytes());
        }
        audio.extend_from_slice(extra);
        std::mem::forget(w); // no finalize, as after SIGKILL
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&audio).unwrap();
        path
    }

    #[test]
    fn crashed_file_is_repaired_from_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = crashed_wav(dir.path(), 4_000, &[1, 2, 3]);
        let r = repair_header(&path, PcmFormat::HOTLINE).unwrap();
        assert_eq!(r.declared_before, 4_000 * 4);
        assert_eq!(r.samples_per_channel, 8_000);
        assert_eq!(r.truncated, 3);
        assert!(r.changed);
        let mut rd = hound::WavReader::open(&path).unwrap();
        assert_eq!(rd.duration(), 8_000);
        let s: Vec<i16> = rd.samples::<i16>().map(Result::unwrap).collect();
        // the start is intact (append through hound would have overwritten it)
        assert_eq!(&s[..6], &[0, 0, 1, -1, 2, -2]);
        assert_eq!(s[2 * 7_999], (7_999 % 1000) as i16);
        // a second repair changes nothing
        let again = repair_header(&path, PcmFormat::HOTLINE).unwrap();
        assert!(!again.changed);
        assert_eq!(again.samples_per_channel, 8_000);
    }

    #[test]
    fn hostile_files_are_refused_or_given_a_fresh_header() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let r = repair_header(&empty, PcmFormat::HOTLINE).unwrap();
        assert!(r.fresh_header);
        assert_eq!(hound::WavReader::open(&empty).unwrap().duration(), 0);
        let half = dir.path().join("half.wav");
        std::fs::write(&half, &PcmFormat::HOTLINE.header(0)[..20]).unwrap();
        assert!(
            repair_header(&half, PcmFormat::HOTLINE)
                .unwrap()
                .fresh_header
        );
        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, vec![0x41u8; 5000]).unwrap();
        let e = repair_header(&junk, PcmFormat::HOTLINE).unwrap_err();
        assert!(e.to_string().contains("not a RIFF/WAVE"), "{e}");
        assert_eq!(std::fs::read(&junk).unwrap(), vec![0x41u8; 5000]);
        // a chunk size that points far away
        let mut evil = PcmFormat::HOTLINE.header(0).to_vec();
        evil[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        evil.extend_from_slice(&[0; 100]);
        let p = dir.path().join("evil.wav");
        std::fs::write(&p, &evil).unwrap();
        assert!(repair_header(&p, PcmFormat::HOTLINE).is_err());
        let missing = dir.path().join("missing.wav");
        assert!(matches!(
            repair_header(&missing, PcmFormat::HOTLINE),
            Err(EvidenceError::Io { .. })
        ));
    }
}
