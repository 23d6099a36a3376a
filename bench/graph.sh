#!/usr/bin/env bash
# Benchmark (not a test): `minewatch graph` on generated supply graphs of 10k, 100k and 1M edges
# (10 edges a node, 8 stages, 1,000 mine sites): seconds and peak memory should grow linearly.
#   bench/graph.sh BUILD_DIR OUT_DIR
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-out/bench/graph}
mkdir -p "$OUT"
printf "%-28s %10s %10s %10s\n" "graph" "seconds" "peak MB" "us/edge"
for m in 10000 100000 1000000; do
    n=$((m / 10))
    d="$OUT/g$m"
    mkdir -p "$d"
    [ -f "$d/graph.json" ] || /usr/bin/python3 bench/graph_gen.py "$d" "$n" "$m"
    rm -rf "$d/out"
    sync
    /usr/bin/time -f "%e %M" -o "$d/time.txt" "$BUILD/minewatch" graph "$d/graph.json" \
        --indicators "$d/indicators.csv" --period 2024 -o "$d/out" -q
    read -r secs kb < <(tail -1 "$d/time.txt")
    /usr/bin/python3 -c "print('%-28s %10s %10d %10.2f' % ('%d nodes, %d edges' % ($n, $m), '$secs', $kb // 1024, 1e6 * $secs / $m))"
done
