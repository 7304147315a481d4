//! `cargo +nightly fuzz run campaign_csv`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_worklist::fuzzing::campaign_csv(data);
});
