//! `cargo +nightly fuzz run config_toml --features config`: see
//! fuzz/README.md. The binary's src/config, included by path (the hotline
//! package has no library target).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../src/config/mod.rs"]
mod config;

#[path = "../../src/config/fuzzing.rs"]
mod config_fuzzing;

fuzz_target!(|data: &[u8]| {
    let _ = config_fuzzing::config_toml(data);
});
