//! `cargo +nightly fuzz run sdp_body`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_media::fuzzing::sdp_body(data);
});
