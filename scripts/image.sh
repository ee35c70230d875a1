#!/usr/bin/env bash
# Builds a dozor image FROM scratch: the binary and the shared libraries it
# links, nothing else, so it builds without any registry and without
# BuildKit (the Dockerfiles under server/ and collector/ need both).
#
#   scripts/image.sh server|collector                  # release build; tags dozor-NAME:VERSION and :latest
#   scripts/image.sh server|collector --binary PATH    # an already built binary
#   scripts/image.sh server|collector --tag NAME:TAG   # another tag (may be repeated)
#   scripts/image.sh timescaledb [--tag NAME:TAG]      # PostgreSQL + TimescaleDB from this host
#
# The server image runs as uid 10001 with its data in /var/lib/dozor
# (a volume), listens on 0.0.0.0:8080 and checks itself with
# `dozor-server healthcheck`. The collector image runs as root (the Docker
# socket and some of the host's /proc are root-only) and reads the host
# at /host; see README for the `docker run` line. The timescaledb image
# (dozor-timescaledb) is this host's Debian PostgreSQL with the TimescaleDB
# that scripts/test.sh installs, for docker-compose.yml on a machine that
# cannot pull timescale/timescaledb; scripts/timescaledb-entrypoint.sh
# says what it honours.
set -euo pipefail
cd "$(dirname "$0")/.."
component="${1:-}"
case "$component" in
    server|collector|timescaledb) shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "first argument: server, collector or timescaledb (see --help)"; exit 2 ;;
esac
binary=""
tags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --tag) tags+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)"; exit 2 ;;
    esac
done
name="dozor-$component"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
if [ ${#tags[@]} -eq 0 ]; then tags=("$name:$version" "$name:latest"); fi

# The dynamic loader and every library FILE links, into the image's root
# at their own paths.
copy_libs() {
    local lib
    for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
        [ -e "$ctx/root$lib" ] && continue
        mkdir -p "$ctx/root$(dirname "$lib")"
        cp -L "$lib" "$ctx/root$lib"
    done
}

if [ "$component" = timescaledb ]; then
    ctx="$(mktemp -d "/tmp/$name-image.XXXXXX")"
    trap 'rm -rf "$ctx"' EXIT
    # shellcheck source=scripts/timescaledb-rootfs.sh
    . scripts/timescaledb-rootfs.sh
    args=()
    for t in "${tags[@]}"; do args+=(-t "$t"); done
    docker build -q "${args[@]}" "$ctx" >/dev/null
    echo "built ${tags[*]}"
    exit 0
fi

if [ -z "$binary" ]; then
    cargo build --release --locked -p "$name"
    binary="${CARGO_TARGET_DIR:-target}/release/$name"
fi
[ -x "$binary" ] || { echo "no $component binary at $binary"; exit 1; }

ctx="$(mktemp -d "/tmp/$name-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/tmp" "$ctx/data"
chmod 1777 "$ctx/root/tmp"
cp "$binary" "$ctx/root/usr/local/bin/$name"
copy_libs "$binary"
if [ "$component" = server ]; then
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
COPY --chown=10001:10001 data/ /var/lib/dozor/
USER 10001:10001
ENV DOZOR_LISTEN=0.0.0.0:8080 \
    DOZOR_DATA_DIR=/var/lib/dozor
VOLUME /var/lib/dozor
EXPOSE 8080
# The binary asks itself: there is no shell in this image.
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/dozor-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/dozor-server"]
DOCKERFILE
else
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
COPY data/ /var/lib/dozor-collector/
# Reads the host through /host; runs as root because the Docker socket and
# some of the host's /proc files are root-only.
ENV DOZOR_ROOT=/host \
    DOZOR_STATE_DIR=/var/lib/dozor-collector
VOLUME /var/lib/dozor-collector
ENTRYPOINT ["/usr/local/bin/dozor-collector"]
DOCKERFILE
fi
args=()
for t in "${tags[@]}"; do args+=(-t "$t"); done
docker build -q "${args[@]}" "$ctx" >/dev/null
echo "built ${tags[*]}"
