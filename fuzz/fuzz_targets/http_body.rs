//! `cargo +nightly fuzz run http_body --features http`: see fuzz/README.md.
//! One request (`METHOD PATH\nBODY`) through the real router, an in-memory
//! store and an admin session, built once per process.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hotline_api::fuzzing::http_body(data);
});
