#!/usr/bin/env bash
# Fuzzes with libFuzzer (the cargo-fuzz layout), each target for a while:
#   scripts/fuzz.sh            # 60 seconds each
#   scripts/fuzz.sh 30         # what the test suite runs
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
scratch="$(mktemp -d /tmp/dozor-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

# One seed file per expression of server/tests/promql/*.test.
mkdir -p "$scratch/promql-seeds"
grep -h '^eval' server/tests/promql/*.test |
    sed -E 's/^eval[a-z_]* (instant at [^ ]+|range from [^ ]+ to [^ ]+ step [^ ]+) //' |
    awk -v d="$scratch/promql-seeds" '{ f = d "/" NR; print > f; close(f) }'

# Each target is built as `cargo fuzz build -s none` would build it
# (libFuzzer's coverage instrumentation, debug assertions and overflow
# checks, release optimisation), without installing cargo-fuzz: that was
# a two-minute build of its own on every fresh CI machine. No sanitizer:
# the code under test is safe Rust, and the fuzzers look for panics,
# hangs and runaway memory. Both fuzz crates share one target directory,
# so their common dependencies are built once.
export CARGO_TARGET_DIR="$top/target/fuzz"
triple="$(rustc -vV | sed -n 's/^host: //p')"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
run() { # dir target seeds max_len
    local dir="$1" target="$2" seeds="$3" max_len="$4" status=0
    mkdir -p "$scratch/$target" "$top/$dir/artifacts/$target"
    (cd "$top/$dir" && RUSTFLAGS="$flags" cargo build --quiet --release \
        --target "$triple" --bin "$target") >"$scratch/$target.build.log" 2>&1 ||
        { tail -n 40 "$scratch/$target.build.log"; echo "the $target fuzzer did not build"; return 1; }
    (cd "$top/$dir" && "$CARGO_TARGET_DIR/$triple/release/$target" \
        -artifact_prefix="$top/$dir/artifacts/$target/" "$scratch/$target" "$seeds" \
        -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=20) \
        >"$scratch/$target.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/$target.log"
        echo "the fuzzer found a failure in $target (exit $status); the input is in $dir/artifacts/$target/"
    else
        echo "$target: $(grep -E '^Done' "$scratch/$target.log")"
    fi
    return "$status"
}
status=0
run common/fuzz parse "$top/common/tests/fixtures" 65536 || status=$?
run promql/fuzz eval "$scratch/promql-seeds" 4096 || status=$?
exit "$status"
