#!/usr/bin/env bash
# Fuzzes with cargo fuzz (libFuzzer), each target for a while:
#   scripts/fuzz.sh            # 60 seconds each (what the test suite runs)
#   scripts/fuzz.sh 3600       # an hour each, by hand
# Targets:
#   common/fuzz parse   the exposition parser; seeds are its test fixtures
#   promql/fuzz eval    PromQL parse + evaluation over in-memory series;
#                       seeds are the expressions of the golden suite
# New inputs go to scratch corpora. A crash leaves its input in that
# target's artifacts/ folder and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
top="$(pwd)"
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --quiet
fi
scratch="$(mktemp -d /tmp/dozor-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

# One seed file per expression of server/tests/promql/*.test.
mkdir -p "$scratch/promql-seeds"
grep -h '^eval' server/tests/promql/*.test |
    sed -E 's/^eval[a-z_]* (instant at [^ ]+|range from [^ ]+ to [^ ]+ step [^ ]+) //' |
    awk -v d="$scratch/promql-seeds" '{ f = d "/" NR; print > f; close(f) }'

# cargo fuzz passes nightly-only flags (-Zsanitizer); RUSTC_BOOTSTRAP lets
# the stable toolchain accept them for these builds.
run() { # dir target seeds max_len
    local dir="$1" target="$2" seeds="$3" max_len="$4" status=0
    mkdir -p "$scratch/$target"
    (cd "$top/$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch/$target" "$seeds" -- \
        -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=20) \
        >"$scratch/$target.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/$target.log"
        echo "the fuzzer found a failure in $target (exit $status); the input is in $dir/artifacts/"
    else
        echo "$target: $(grep -E '^Done' "$scratch/$target.log")"
    fi
    return "$status"
}
status=0
run common/fuzz parse "$top/common/tests/fixtures" 65536 || status=$?
run promql/fuzz eval "$scratch/promql-seeds" 4096 || status=$?
exit "$status"
