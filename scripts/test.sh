#!/usr/bin/env bash
# Run every check and test of the workspace, installing the real SIP peers
# the end-to-end tests talk to when they are missing:
#   sipp (sip-tester), baresip (baresip-core), sox, libasound2-dev (cpal, for
#   hotline-phone), PostgreSQL server binaries (throwaway clusters in tests),
#   chromium and chromium-driver (the console's browser test), python3-aiosmtpd
#   (a real SMTP server for the notification tests), a Chinese font
#   (fonts-wqy-microhei: the zh-CN screenshots), espeak-ng (scripts/prompts-zh.sh),
#   sipvicious 0.3.x from PyPI (the password guessing e2e), kamailio (the HA
#   pair's edge proxy, tests/e2e/ha.rs), kamailio-tls-modules (its TLS,
#   tests/e2e/edge_tls.rs), kamailio-postgres-modules (Kamailio as the
#   agents' registrar, usrloc in PostgreSQL) and moto from PyPI (an
#   S3-compatible server for the recordings on shared storage tests).
#
#   scripts/test.sh                 # everything
#   SKIP_INSTALL=1 scripts/test.sh  # never touch apt
#   CARGO_JOBS=4 scripts/test.sh    # default 2 (the reference machine has 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${CARGO_JOBS:-2}"

missing=()
for tool in sipp baresip sox; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -x /usr/sbin/kamailio ]] || command -v kamailio >/dev/null 2>&1 || missing+=("kamailio")
# shellcheck disable=SC2012
ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 || missing+=("kamailio-tls-modules")
# shellcheck disable=SC2012
ls /usr/lib/*/kamailio/modules/db_postgres.so >/dev/null 2>&1 || missing+=("kamailio-postgres-modules")
# shellcheck disable=SC2012
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=("postgresql")
fi
if ! dpkg -s libasound2-dev >/dev/null 2>&1; then
    missing+=("libasound2-dev")
fi
command -v chromium >/dev/null 2>&1 || missing+=("chromium")
command -v chromedriver >/dev/null 2>&1 || missing+=("chromium-driver")
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=("fonts-wqy-microhei")
# a real SMTP server for the notification tests (hotline-notify, e2e line test)
/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || missing+=("python3-aiosmtpd")

if ((${#missing[@]})); then
    echo "test.sh: missing: ${missing[*]}"
    if [[ "${SKIP_INSTALL:-0}" == 1 ]]; then
        echo "test.sh: SKIP_INSTALL=1, not installing; tests needing them will fail" >&2
    else
        sudo=()
        if [[ "$(id -u)" != 0 ]]; then
            sudo=(sudo)
        fi
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update
        "${sudo[@]}" apt-get install -y --no-install-recommends \
            sip-tester baresip-core sox libasound2-dev postgresql \
            chromium chromium-driver fonts-wqy-microhei python3-aiosmtpd \
            kamailio kamailio-tls-modules kamailio-postgres-modules
    fi
fi

# moto (an S3-compatible server, `moto_server -p PORT` on loopback) for the
# recordings on shared storage tests (crates/recorder/tests/shared_s3.rs),
# from PyPI into the user's site like sipvicious
export PATH="$HOME/.local/bin:$PATH"
if ! command -v moto_server >/dev/null 2>&1; then
    echo "test.sh: missing: moto_server"
    if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
        python3 -m pip install --user --quiet 'moto[server]>=5,<6' \
            || python3 -m pip install --user --quiet --break-system-packages 'moto[server]>=5,<6'
    fi
fi

# sipvicious (svwar, svcrack) for the password guessing e2e (tests/e2e/bans.rs),
# from PyPI into the user's site (its scripts land in ~/.local/bin)
export PATH="$HOME/.local/bin:$PATH"
if ! command -v sipvicious_svcrack >/dev/null 2>&1; then
    echo "test.sh: missing: sipvicious"
    if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
        python3 -m pip install --user --quiet 'sipvicious>=0.3.8,<0.4' \
            || python3 -m pip install --user --quiet --break-system-packages 'sipvicious>=0.3.8,<0.4'
    fi
fi

sipp_v="$( (sipp -v 2>&1 || true) | grep -o 'SIPp v[0-9.]*' | head -1)"
baresip_v="$( (baresip -h 2>&1 || true) | grep -o 'baresip v[0-9.]*' | head -1)"
sox_v="$( (sox --version 2>&1 || true) | grep -o 'v[0-9.]*' | head -1)"
echo "test.sh: peers: ${sipp_v:-sipp ?}, ${baresip_v:-baresip ?}, sox ${sox_v:-?}"

cargo fmt --all --check
cargo clippy --workspace --all-targets -j "$jobs" -- -D warnings
# one test at a time inside each test binary: the end-to-end tests run the
# real binary against real peers (SIPp, baresip, Kamailio, Chromium) whose
# timing is what they check; two of them at once on a 2-core machine made
# a peer start seconds late now and then (docs/testing.md). About 10 minutes
# longer than in parallel.
cargo test --workspace -j "$jobs" -- --test-threads=1

# the libFuzzer targets, briefly; opt-in (FUZZ_SECONDS=20): their instrumented
# nightly build takes minutes, the stable corpus replays above run always
if [[ -n "${FUZZ_SECONDS:-}" ]]; then
    bash scripts/fuzz-smoke.sh
fi
