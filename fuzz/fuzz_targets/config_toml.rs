//! `cargo +nightly fuzz run config_toml --features config`: see
//! fuzz/README.md. The entry point is hotline-config's fuzzing module
//! (test-only in that crate), included by path; it names the crate as
//! `crate::config`.
#![no_main]

use hotline_config as config;
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/config/src/fuzzing.rs"]
mod config_fuzzing;

fuzz_target!(|data: &[u8]| {
    let _ = config_fuzzing::config_toml(data);
});
