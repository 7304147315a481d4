//! `cargo +nightly fuzz run roster_csv`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_duty::fuzzing::roster_csv(data);
});
