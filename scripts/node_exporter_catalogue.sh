#!/usr/bin/env bash
# Regenerates collector/src/proc/catalogue.tsv, the TYPE and HELP of every
# node_exporter family with a fixed name, from the node_exporter installed
# here (Debian's prometheus-node-exporter). Families whose names carry a
# field (node_memory_*, node_netstat_*, node_vmstat_*, node_sockstat_*)
# are described by rules in catalogue.rs instead.
#
#   scripts/node_exporter_catalogue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# One textfile, so the textfile collector's own families appear.
textfiles=$(mktemp -d)
echo 'catalogue_probe 1' > "$textfiles/probe.prom"
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
    --collector.textfile.directory="$textfiles" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$textfiles"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/metrics" -o /tmp/node_exporter.metrics && break; sleep 0.1; done
version=$(prometheus-node-exporter --version 2>&1 | head -n 1)
out=collector/src/proc/catalogue.tsv
{
    echo "# From $version (Apache-2.0), by scripts/node_exporter_catalogue.sh."
    echo "# family<TAB>type<TAB>help"
    python3 - /tmp/node_exporter.metrics <<'PY'
import re, sys
help_, type_ = {}, {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"# (HELP|TYPE) (node_\S+) (.*)", line.rstrip("\n"))
    if m:
        (help_ if m.group(1) == "HELP" else type_)[m.group(2)] = m.group(3)
dynamic = ("node_memory_", "node_netstat_", "node_vmstat_", "node_sockstat_", "node_scrape_", "node_exporter_")
for name in sorted(type_):
    if name.startswith(dynamic) and name != "node_sockstat_sockets_used":
        continue
    print(f"{name}\t{type_[name]}\t{help_.get(name, '')}")
PY
} > "$out"
echo "wrote $(grep -vc '^#' "$out") families to $out"
