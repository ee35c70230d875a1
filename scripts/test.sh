#!/usr/bin/env bash
# The whole test suite: formatting, clippy, every test and the fuzzers,
# against a real PostgreSQL, a real PostgreSQL with TimescaleDB (built from
# ../shared/vendor/ when it is not installed), Docker, Chromium and a real
# promtool. Run as root on Debian it installs what is missing with apt-get;
# otherwise it names the packages to install.
#
#   scripts/test.sh            # what CI runs (.ci/run)
#   DOZOR_TEST_DATABASE_URL=postgres://user@host:port/postgres scripts/test.sh
#
# With CI=true nothing may be skipped: a missing service fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s  [%s]\n' "$*" "$(date +%T)"; }

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
# The reference the host metrics are compared with (tests/node_exporter.rs).
command -v prometheus-node-exporter >/dev/null || missing+=(prometheus-node-exporter)
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
# The dashboard's browser test and HTML validity check.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || [ -x /usr/lib/chromium/chromedriver ] || missing+=(chromium-driver)
/usr/bin/python3 -c 'import html5lib' 2>/dev/null || missing+=(python3-html5lib)
# The services' data plane, and the load generator of the zero-drop test.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
# The ACME test CA and its DNS (tests/certificates.rs), and the clients
# that test what nginx then serves over HTTPS.
command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || missing+=(pebble)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
# The image the Docker scrape test builds FROM scratch.
[ -x /bin/busybox ] || missing+=(busybox-static)
# TimescaleDB is built from source (no registry here has it); these build it.
timescale_version=2.28.3
timescale_installed() { [ -n "$(pg_bindir)" ] && [ -f "$(dirname "$(pg_bindir)")/lib/timescaledb-$timescale_version.so" ]; }
if ! timescale_installed; then
    pg_major=$(basename "$(dirname "$(pg_bindir)")" 2>/dev/null || echo 15)
    command -v cmake >/dev/null || missing+=(cmake)
    command -v cc >/dev/null || missing+=(build-essential)
    [ -d "/usr/include/postgresql/$pg_major/server" ] || missing+=("postgresql-server-dev-$pg_major")
    [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
    [ -f /usr/include/krb5.h ] || missing+=(libkrb5-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # The Debian packages start their own services; the tests use a
        # throwaway cluster and promtool only.
        systemctl disable --now prometheus prometheus-node-exporter nginx >/dev/null 2>&1 || true
        # Without systemd the package's own nginx may still hold port 80.
        [ -f /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true
    else
        echo "missing system packages; install them with:"
        echo "    sudo apt-get install ${missing[*]}"
        if [ "${CI:-}" = true ]; then exit 1; fi
    fi
fi

# TimescaleDB from the vendored source, built once into a cache outside
# the checkout (a warm machine copies it into place instead of rebuilding).
if ! timescale_installed && [ "$(id -u)" = 0 ] && [ -n "$(pg_bindir)" ]; then
    src=""
    for c in "${DOZOR_TIMESCALEDB_SRC:-}" "../shared/vendor/timescaledb-$timescale_version-minsrc.tar.gz" \
        "/work/shared/vendor/timescaledb-$timescale_version-minsrc.tar.gz"; do
        if [ -n "$c" ] && [ -f "$c" ]; then src="$(realpath "$c")"; break; fi
    done
    cache="/var/cache/dozor/timescaledb-$timescale_version-pg$(basename "$(dirname "$(pg_bindir)")")"
    if [ ! -d "$cache/usr" ] && [ -n "$src" ]; then
        log "building TimescaleDB $timescale_version from $src (about 2-4 minutes)"
        build="$(mktemp -d /tmp/dozor-timescaledb.XXXXXX)"
        tar -xzf "$src" -C "$build"
        (cd "$build" && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
            -DAPACHE_ONLY=OFF >"$build.log" 2>&1 &&
            cd build && make -j"$(nproc)" >>"$build.log" 2>&1 &&
            make install DESTDIR="$cache.tmp" >>"$build.log" 2>&1) ||
            { tail -n 40 "$build.log"; echo "TimescaleDB did not build"; exit 1; }
        mv "$cache.tmp" "$cache"
        rm -rf "$build" "$build.log"
    fi
    if [ -d "$cache/usr" ]; then
        cp -a "$cache/usr/." /usr/
    fi
fi
if ! timescale_installed; then
    echo "TimescaleDB $timescale_version is not installed and could not be built here"
    echo "(it needs root and ../shared/vendor/timescaledb-$timescale_version-minsrc.tar.gz)"
    if [ "${CI:-}" = true ]; then exit 1; fi
fi

pg_dirs=()
cleanup() {
    for d in "${pg_dirs[@]}"; do
        "$(pg_bindir)/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 ||
            runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$d"
    done
}
trap cleanup EXIT

# A throwaway PostgreSQL cluster on a free port; extra postgresql.conf
# lines as arguments. Prints its admin URL.
start_cluster() {
    local bin dir port user run_pg
    bin="$(pg_bindir)"
    dir="$(mktemp -d /tmp/dozor-pg.XXXXXX)"
    pg_dirs+=("$dir")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run_pg=()
    user="$(id -un)"
    if [ "$(id -u)" = 0 ]; then
        # PostgreSQL refuses to run as root.
        chown postgres: "$dir"
        run_pg=(runuser -u postgres --)
        user=postgres
    fi
    "${run_pg[@]}" "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 >/dev/null
    for line in "$@"; do echo "$line" >>"$dir/data/postgresql.conf"; done
    "${run_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null
    url="postgres://$user@127.0.0.1:$port/postgres"
}

# Plain PostgreSQL (TimescaleDB installed but not preloaded: the fallback
# case), and a second cluster that preloads TimescaleDB.
if [ -z "${DOZOR_TEST_DATABASE_URL:-}" ] && [ -n "$(pg_bindir)" ]; then
    start_cluster
    export DOZOR_TEST_DATABASE_URL="$url"
    log "throwaway PostgreSQL at $url"
fi
if [ -z "${DOZOR_TEST_TIMESCALE_URL:-}" ] && timescale_installed; then
    start_cluster "shared_preload_libraries = 'timescaledb'" "timescaledb.telemetry_level = off"
    export DOZOR_TEST_TIMESCALE_URL="$url"
    log "throwaway PostgreSQL with TimescaleDB at $url"
fi

# Incremental caches double the size of target/ and help only warm rebuilds.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (PostgreSQL: ${DOZOR_TEST_DATABASE_URL:-none})"
if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests, and none are needed: every code
    # fence in the docs is text, and `cargo test --doc` cost two minutes
    # of rustdoc for nothing.
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked
fi
log "fuzzing the exposition parser and PromQL (30 s each)"
scripts/fuzz.sh 30
log "all checks passed"
