#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for a few seconds (issue 19).
#
#   scripts/fuzz-smoke.sh            # 20 s a target
#   FUZZ_SECONDS=120 scripts/fuzz-smoke.sh
#   FUZZ_TARGETS="sip_datagram wav_repair" scripts/fuzz-smoke.sh
#
# Needs a nightly toolchain and cargo-fuzz: without them it says so and
# exits 0 (the stable corpus replays in `cargo test` still run). With them a
# crash, a broken invariant or a build failure exits non-zero. New inputs go
# to target/fuzz-corpus/<target>, never into the committed fuzz/corpus.
# The first build compiles the crates with coverage instrumentation: about
# 8 minutes on the 2-core reference machine, which is why scripts/test.sh
# runs this only when FUZZ_SECONDS is set.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz-smoke: no nightly toolchain; skipped (see fuzz/README.md)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz not installed (cargo install cargo-fuzz); skipped"
    exit 0
fi
targets="${FUZZ_TARGETS:-sip_datagram sdp_body rtp_stream wav_repair roster_csv campaign_csv config_toml}"
root="$(pwd)"
failed=()
for t in $targets; do
    features=()
    if [[ "$t" == config_toml ]]; then
        features=(--features config)
    fi
    work="$root/target/fuzz-corpus/$t"
    mkdir -p "$work"
    echo "fuzz-smoke: $t for ${seconds}s"
    if ! (cd fuzz && cargo +nightly fuzz run -s none "${features[@]}" "$t" "$work" "corpus/$t" \
        -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -n 20); then
        failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz-smoke: FAILED: ${failed[*]} (the crashing input is under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz-smoke: every target ran ${seconds}s without a finding"
