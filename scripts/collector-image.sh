#!/usr/bin/env bash
# Builds the dozor-collector image FROM scratch: the binary and the shared
# libraries it links, nothing else, so it builds without any registry.
#
#   scripts/collector-image.sh                  # release build; tags dozor-collector:VERSION and :latest
#   scripts/collector-image.sh --binary PATH    # an already built binary
#   scripts/collector-image.sh --tag NAME:TAG   # another tag (may be repeated)
#
# Run it as README says (the host at /host, read-only; its processes seen
# through /host/proc, so the host's network and name are reported):
#   docker run -d --name dozor-collector --restart unless-stopped \
#     -v /:/host:ro -v /var/run/docker.sock:/var/run/docker.sock \
#     -v dozor-collector:/var/lib/dozor-collector \
#     -e DOZOR_SERVER=http://monitor:8080 -e DOZOR_ENROLL_TOKEN=dze_... \
#     dozor-collector:VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
tags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --tag) tags+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)"; exit 2 ;;
    esac
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
if [ ${#tags[@]} -eq 0 ]; then tags=("dozor-collector:$version" "dozor-collector:latest"); fi
if [ -z "$binary" ]; then
    cargo build --release --locked -p dozor-collector
    binary="${CARGO_TARGET_DIR:-target}/release/dozor-collector"
fi
[ -x "$binary" ] || { echo "no collector binary at $binary"; exit 1; }

ctx="$(mktemp -d /tmp/dozor-collector-image.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/usr/local/bin" "$ctx/var/lib/dozor-collector" "$ctx/tmp"
cp "$binary" "$ctx/usr/local/bin/dozor-collector"
# The dynamic loader and every library the binary needs, at their paths.
for lib in $(ldd "$binary" | grep -oE '/[^ ]+'); do
    mkdir -p "$ctx$(dirname "$lib")"
    cp -L "$lib" "$ctx$lib"
done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
# Reads the host through /host; runs as root because the Docker socket and
# some of the host's /proc files are root-only.
ENV DOZOR_ROOT=/host \
    DOZOR_STATE_DIR=/var/lib/dozor-collector
VOLUME /var/lib/dozor-collector
ENTRYPOINT ["/usr/local/bin/dozor-collector"]
DOCKERFILE
args=()
for t in "${tags[@]}"; do args+=(-t "$t"); done
docker build -q "${args[@]}" "$ctx" >/dev/null
echo "built ${tags[*]}"
