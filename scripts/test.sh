#!/usr/bin/env bash
# The whole test suite: formatting, clippy and every test, against a real
# PostgreSQL and a real promtool. Run as root on Debian it installs what is
# missing with apt-get; otherwise it names the packages to install.
#
#   scripts/test.sh            # what CI runs (.ci/run)
#   DOZOR_TEST_DATABASE_URL=postgres://user@host:port/postgres scripts/test.sh
#
# With CI=true nothing may be skipped: a missing service fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
# The dashboard's browser test and HTML validity check.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || [ -x /usr/lib/chromium/chromedriver ] || missing+=(chromium-driver)
/usr/bin/python3 -c 'import html5lib' 2>/dev/null || missing+=(python3-html5lib)
# The image the Docker scrape test builds FROM scratch.
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # The Debian packages start their own services; the tests use a
        # throwaway cluster and promtool only.
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    else
        echo "missing system packages; install them with:"
        echo "    sudo apt-get install ${missing[*]}"
        if [ "${CI:-}" = true ]; then exit 1; fi
    fi
fi

pg_tmp=""
cleanup() {
    if [ -n "$pg_tmp" ]; then
        "$(pg_bindir)/pg_ctl" -D "$pg_tmp/data" -m immediate stop >/dev/null 2>&1 ||
            runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$pg_tmp/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$pg_tmp"
    fi
}
trap cleanup EXIT

# A throwaway PostgreSQL cluster on a free port, unless one was given.
if [ -z "${DOZOR_TEST_DATABASE_URL:-}" ] && [ -n "$(pg_bindir)" ]; then
    bin="$(pg_bindir)"
    pg_tmp="$(mktemp -d /tmp/dozor-pg.XXXXXX)"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run_pg() { "$@"; }
    user="$(id -un)"
    if [ "$(id -u)" = 0 ]; then
        # PostgreSQL refuses to run as root.
        chown postgres: "$pg_tmp"
        run_pg() { runuser -u postgres -- "$@"; }
        user=postgres
    fi
    log "starting a throwaway PostgreSQL on 127.0.0.1:$port"
    run_pg "$bin/initdb" -D "$pg_tmp/data" -U "$user" -A trust -E UTF8 >/dev/null
    run_pg "$bin/pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $pg_tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null
    export DOZOR_TEST_DATABASE_URL="postgres://$user@127.0.0.1:$port/postgres"
fi

# Incremental caches double the size of target/ and help only warm rebuilds.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (PostgreSQL: ${DOZOR_TEST_DATABASE_URL:-none})"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
    # nextest does not run doctests.
    cargo test --workspace --locked --doc
else
    cargo test --workspace --locked
fi
log "fuzzing the exposition parser (60 s)"
scripts/fuzz.sh 60
log "all checks passed"
