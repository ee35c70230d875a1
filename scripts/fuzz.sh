#!/usr/bin/env bash
# Fuzzes dozor's exposition parser with cargo fuzz (libFuzzer) for a while:
#   scripts/fuzz.sh            # 60 seconds (what the test suite runs)
#   scripts/fuzz.sh 3600       # an hour, by hand
# Seeds are the parser's test fixtures; new inputs go to a scratch corpus.
# A crash leaves its input in common/fuzz/artifacts/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../common/fuzz"
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --quiet
fi
corpus="$(mktemp -d /tmp/dozor-fuzz.XXXXXX)"
trap 'rm -rf "$corpus"' EXIT
# cargo fuzz passes nightly-only flags (-Zsanitizer); RUSTC_BOOTSTRAP lets
# the stable toolchain accept them for this one build.
status=0
RUSTC_BOOTSTRAP=1 cargo fuzz run parse "$corpus" ../tests/fixtures -- \
    -max_total_time="$secs" -max_len=65536 >"$corpus.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 60 "$corpus.log"
    echo "the fuzzer found a failure (exit $status); the input is in common/fuzz/artifacts/"
else
    grep -E "^Done" "$corpus.log"
fi
rm -f "$corpus.log"
exit "$status"
