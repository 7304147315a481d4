//! `cargo +nightly fuzz run rtp_stream`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_media::fuzzing::rtp_stream(data);
});
