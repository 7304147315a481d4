//! `cargo +nightly fuzz run sip_datagram`: see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hotline_sip::fuzzing::sip_datagram(data);
});
