//! The fuzz targets' smoke run on the stable toolchain (what CI runs): every
//! file of a corpus directory goes through the target's entry point, then a
//! fixed number of deterministic mutations of each (bit flips, special
//! bytes, cut, repeated and spliced ranges, huge numbers). A panic names the
//! seed and saves the input under `target/fuzz-failures/` so it can be added
//! to the corpus as a regression case. Included by the crates' tests with
//! `#[path]`; libFuzzer itself runs the same entry points (fuzz/README.md).

#![allow(dead_code)]

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The files of a corpus directory, sorted by name (none if it is missing).
pub fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// The project's fuzz corpus of `target` (fuzz/corpus/TARGET).
pub fn project_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    corpus(&project_root().join("fuzz/corpus").join(target))
}

/// The workspace root (two levels above a crate's manifest).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[u8] = b"\x00\xff\r\n:; ,\"<>=@/\\%\t-0";

fn mutate(rng: &mut Rng, seed: &[u8], others: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = m.len();
        let at = rng.below(len + 1);
        match rng.below(8) {
            0 if len > 0 => m[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => m[at.min(len - 1)] = SPECIAL[rng.below(SPECIAL.len())],
            2 => {
                let end = (at + 1 + rng.below(32)).min(len);
                m.drain(at..end);
            }
            3 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let copy = m[at..end].to_vec();
                for _ in 0..1 + rng.below(8) {
                    m.splice(at..at, copy.iter().copied());
                }
            }
            4 => {
                let bytes: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                m.splice(at..at, bytes);
            }
            5 => m.truncate(at),
            6 if !others.is_empty() => {
                let other = &others[rng.below(others.len())].1;
                let from = rng.below(other.len() + 1);
                m.truncate(at);
                m.extend_from_slice(&other[from..]);
            }
            _ => {
                let huge: &[u8] = [
                    &b"99999999999999999999999"[..],
                    b"-1",
                    b"4294967296",
                    b"65536",
                    b"0",
                ][rng.below(5)];
                m.splice(at..at, huge.iter().copied());
            }
        }
    }
    m
}

fn run(target: &impl Fn(&[u8]), what: &str, input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
        let dir = project_root().join("target/fuzz-failures");
        let file = dir.join(what.replace(['/', ' '], "_"));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&file, input))
            .map(|()| file.display().to_string())
            .unwrap_or_else(|e| format!("(not saved: {e})"));
        eprintln!(
            "fuzz input {what} failed; saved as {saved}: {:?}",
            String::from_utf8_lossy(&input[..input.len().min(400)])
        );
        resume_unwind(panic);
    }
}

/// Runs `target` on every seed and on `per_seed` mutations of each; returns
/// how many inputs ran.
pub fn replay(seeds: &[(String, Vec<u8>)], per_seed: usize, target: impl Fn(&[u8])) -> usize {
    let mut runs = 0;
    for (i, (name, seed)) in seeds.iter().enumerate() {
        run(&target, name, seed);
        let mut rng =
            Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        for k in 0..per_seed {
            let m = mutate(&mut rng, seed, seeds);
            run(&target, &format!("{name}-mutation-{k}"), &m);
        }
        runs += 1 + per_seed;
    }
    runs
}
