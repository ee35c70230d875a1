#!/usr/bin/env python3
"""Records a real exporter's samples for the storage_size benchmark.

    python3 scripts/record_mix.py --url http://127.0.0.1:9100/metrics \
        --minutes 40 --out server/benches/data/node_exporter_mix.txt.gz

Scrapes every --step seconds at aligned times, as Prometheus does, keeping
each scrape's start time in milliseconds (real jitter included), then
writes the fixture the benchmark replays, with the times stamped as
dozor's collector stamps them (within 2 ms of the expected time, that
time: common/src/stamps.rs). With --raw FILE it converts a
recording made earlier (a gzip file of "#SCRAPE <ms>" lines, each followed
by the exposition text of that scrape) instead of scraping.

Fixture (gzip, tab-separated, one line per series):
    T  <first ms> <ms since the previous scrape> ...
    G  <series>   <value text as exposed> ...          gauges, untyped, quantiles
    C  <series>   <scale> <first value x 10^scale> <increment x 10^scale> ...
Counters (counter types, histogram and summary _count/_sum/_bucket) keep
exact decimal increments, so the benchmark can extend them past the
recording without float error creeping into the values. "x*n" repeats a
token n times; "_" is a scrape where the series was missing (none today: only series
present in every scrape are kept).
"""

import argparse
import gzip
import sys
import time
import urllib.request
from decimal import Decimal, InvalidOperation

COUNTER_SUFFIXES = ("_count", "_sum", "_bucket")


def record(url, minutes, step, raw_path):
    out = gzip.open(raw_path, "wt")
    nxt = (time.time() // step + 1) * step
    end = time.time() + minutes * 60
    while nxt < end:
        time.sleep(max(0.0, nxt - time.time()))
        t = time.time()
        try:
            body = urllib.request.urlopen(url, timeout=step).read().decode()
            out.write("#SCRAPE %d\n" % int(t * 1000))
            out.write(body)
        except Exception as e:  # a missed scrape is a gap, as in Prometheus
            print("scrape failed:", e, file=sys.stderr)
        nxt += step
    out.close()


def split_sample(line):
    """(series, value text) of one sample line; the series keeps its labels
    exactly as exposed (label values may hold spaces)."""
    if "}" in line:
        i = line.rindex("}") + 1
        series, rest = line[:i], line[i:].split()
    else:
        series, *rest = line.split()
    return series, rest[0]


def parse_raw(raw_path):
    scrapes, kinds = [], {}
    with gzip.open(raw_path, "rt") as f:
        try:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#SCRAPE "):
                    scrapes.append((int(line.split()[1]), {}))
                elif line.startswith("# TYPE "):
                    _, _, name, kind = line.split()
                    kinds[name] = kind
                elif line and not line.startswith("#") and scrapes:
                    series, value = split_sample(line)
                    scrapes[-1][1][series] = value
        except EOFError:  # a recording stopped mid-write: drop the tail
            pass
    if scrapes and len(scrapes) > 1:
        scrapes.pop()  # the last one may be partial
    return scrapes, kinds


def is_counter(series, kinds):
    name = series.split("{", 1)[0]
    if kinds.get(name) == "counter":
        return True
    for suffix in COUNTER_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and kinds.get(base) in ("histogram", "summary"):
            return True
    return False


def runs(tokens):
    out, prev, n = [], None, 0
    for t in tokens + [None]:
        if t == prev:
            n += 1
            continue
        if prev is not None:
            out.append(prev if n == 1 else "%s*%d" % (prev, n))
        prev, n = t, 1
    return out


def counter_line(series, values):
    try:
        decs = [Decimal(v) for v in values]
    except InvalidOperation:
        return None
    if any(not d.is_finite() for d in decs):
        return None
    if any(b < a for a, b in zip(decs, decs[1:])):
        return None  # reset during the recording: replayed as a gauge
    scale = max(0, max(-d.as_tuple().exponent for d in decs))
    ints = [int(d.scaleb(scale)) for d in decs]
    incs = [str(b - a) for a, b in zip(ints, ints[1:])]
    return "C\t%s\t%d %d %s" % (series, scale, ints[0], " ".join(runs(incs)))


def align(times, step_ms, tolerance_ms=2):
    """Scrape times as dozor's collector (and Prometheus since 2.30) stamps
    them: within 2 ms of the previous stamp plus the interval, exactly that
    (common/src/stamps.rs)."""
    out, expected = [], None
    for t in times:
        if expected is not None and abs(t - expected) <= tolerance_ms:
            t = expected
        out.append(t)
        expected = t + step_ms
    return out


def convert(raw_path, out_path, step_ms):
    scrapes, kinds = parse_raw(raw_path)
    if len(scrapes) < 2:
        sys.exit("need at least two scrapes")
    times = align([t for t, _ in scrapes], step_ms)
    seen = set().union(*(s.keys() for _, s in scrapes))
    # Series that came and went (a container's veth interface, a scrape
    # that timed out) would replay as a pattern that never happened: only
    # the series present in every scrape are kept.
    every = sorted(k for k in seen if all(k in s for _, s in scrapes))
    lines = ["T\t\t%d %s" % (times[0], " ".join(str(b - a) for a, b in zip(times, times[1:])))]
    counters = gauges = 0
    for series in every:
        values = [s.get(series, "_") for _, s in scrapes]
        line = None
        if "_" not in values and is_counter(series, kinds):
            line = counter_line(series, values)
        if line is None:
            line = "G\t%s\t%s" % (series, " ".join(runs(values)))
            gauges += 1
        else:
            counters += 1
        lines.append(line)
    with gzip.open(out_path, "wt", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")
    print(
        "%d scrapes over %.1f min, %d series (%d counters, %d gauges; %d left out, not in every scrape) -> %s"
        % (len(scrapes), (times[-1] - times[0]) / 60000, len(every), counters, gauges,
           len(seen) - len(every), out_path)
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:9100/metrics", help="exporter to scrape")
    p.add_argument("--minutes", type=float, default=40, help="how long to record")
    p.add_argument("--step", type=float, default=15, help="scrape interval in seconds")
    p.add_argument("--raw", help="convert this earlier recording instead of scraping")
    p.add_argument("--out", required=True, help="fixture to write (.txt.gz)")
    a = p.parse_args()
    raw = a.raw
    if raw is None:
        raw = a.out + ".raw.gz"
        record(a.url, a.minutes, a.step, raw)
    convert(raw, a.out, int(a.step * 1000))


if __name__ == "__main__":
    main()
