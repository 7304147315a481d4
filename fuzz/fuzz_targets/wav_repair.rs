//! `cargo +nightly fuzz run wav_repair`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_evidence::fuzzing::wav_repair(data);
});
