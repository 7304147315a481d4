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
# With ../shared/conformance present, sip_datagram also starts from the
# RFC 4475 torture messages and the PROTOS c07-sip INVITEs (filled in as the
# stable replay does, fuzz/replay.rs), written to target/fuzz-seeds/ and read
# from there: third-party material is not copied into the repository.
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
targets="${FUZZ_TARGETS:-sip_datagram sdp_body rtp_stream wav_repair roster_csv campaign_csv config_toml http_body}"
root="$(pwd)"
conformance="$root/../shared/conformance"

# The conformance seeds of sip_datagram (see above); prints the directory.
conformance_seeds() {
    local seeds="$root/target/fuzz-seeds/sip_datagram"
    rm -rf "$seeds"
    mkdir -p "$seeds"
    if [[ -d "$conformance/rfc4475" ]]; then
        for f in "$conformance"/rfc4475/*.dat; do
            cp "$f" "$seeds/rfc4475-$(basename "$f")"
        done
    fi
    if [[ -f "$conformance/protos/protos-sip-cases.tar.gz" ]] && command -v perl >/dev/null; then
        # the case files concatenated: `<len> <message>` twice each (the
        # INVITE, then the same CANCEL); the INVITEs filled in
        tar xzf "$conformance/protos/protos-sip-cases.tar.gz" -O | perl -e '
            binmode STDIN; local $/; my $d = <STDIN>; my ($i, $n) = (0, 0);
            while ($i < length $d) {
                my $sp = index($d, " ", $i); last if $sp < 0;
                my $len = substr($d, $i, $sp - $i); last unless $len =~ /^\s*\d+$/;
                my $m = substr($d, $sp + 1, $len); $i = $sp + 1 + $len;
                next if $n++ % 2;
                my $case = ($n - 1) / 2;
                my %v = ("<To>" => "protos\@127.0.0.1", "<From>" => "tester\@127.0.0.1",
                    "<From-Address>" => "127.0.0.1", "<From-IP>" => "127.0.0.1",
                    "<Local-Port>" => "5070", "<Branch-ID>" => "${case}x0",
                    "<Call-ID>" => "protos$case", "<CSeq>" => "1",
                    "<Teardown-Method>" => "CANCEL");
                for my $k (keys %v) { $m =~ s/\Q$k\E/$v{$k}/g; }
                my $p = index($m, "\r\n\r\n");
                my $body = $p < 0 ? 0 : length($m) - $p - 4;
                $m =~ s/<Content-Length>/$body/g;
                open(my $f, ">:raw", sprintf("%s/protos-%07d", $ARGV[0], $case)) or die;
                print $f $m; close $f;
            }' "$seeds"
    fi
    echo "$seeds"
}

failed=()
for t in $targets; do
    features=()
    if [[ "$t" == config_toml ]]; then
        features=(--features config)
    fi
    if [[ "$t" == http_body ]]; then
        features=(--features http)
    fi
    work="$root/target/fuzz-corpus/$t"
    mkdir -p "$work"
    corpora=("$work" "corpus/$t")
    if [[ "$t" == sip_datagram ]]; then
        seeds="$(conformance_seeds)"
        echo "fuzz-smoke: sip_datagram also starts from $(ls "$seeds" | wc -l) conformance seeds"
        corpora+=("$seeds")
    fi
    echo "fuzz-smoke: $t for ${seconds}s"
    if ! (cd fuzz && cargo +nightly fuzz run -s none "${features[@]}" "$t" "${corpora[@]}" \
        -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -n 20); then
        failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz-smoke: FAILED: ${failed[*]} (the crashing input is under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz-smoke: every target ran ${seconds}s without a finding"
