#!/usr/bin/env bash
# Benchmark (not a test): `minewatch treecover` over 10,000 mine-sized polygons on a synthetic
# 20,000 x 20,000 Hansen-like tile (bench/hansen_like.py: treecover2000, lossyear, emissions as
# tiled DEFLATE GeoTIFFs, Hansen's layout), against a straightforward GDAL + numpy + scipy zonal
# computation of the same figures (bench/treecover_peer.py). Prints seconds, peak memory and the
# ratio; peak memory for 1,000 and 10,000 polygons shows it does not grow with their number.
#   bench/treecover.sh BUILD_DIR OUT_DIR [SIZE] [POLYGONS]
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-out/bench/treecover}
SIZE=${3:-20000}
N=${4:-10000}
PY=/usr/bin/python3
mkdir -p "$OUT"
DATA="$OUT/data-$SIZE-$N"
if [ ! -f "$DATA/polygons.geojson" ]; then
    mkdir -p "$DATA"
    echo "treecover bench: writing a ${SIZE}^2 Hansen-like tile and $N polygons to $DATA"
    $PY bench/hansen_like.py "$DATA" "$SIZE" "$N"
fi
# the first 1,000 polygons, to show memory does not follow their number
$PY - "$DATA" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1] + "/polygons.geojson"))
d["features"] = d["features"][:1000]
json.dump(d, open(sys.argv[1] + "/polygons-1000.geojson", "w"))
PYEOF
run() { # label, command...: prints seconds and peak RSS (MB)
    local label=$1
    shift
    sync
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >"$OUT/$label.log" 2>&1 ||
        { echo "treecover bench: $label failed, see $OUT/$label.log" >&2; tail -3 "$OUT/$label.log" >&2; }
    read -r secs kb < <(tail -1 "$OUT/time.txt")
    printf "%s %s %s\n" "$label" "$secs" "$((kb / 1024))"
}
ARGS="--treecover $DATA/treecover2000.tif --lossyear $DATA/lossyear.tif --emissions $DATA/emissions.tif --years 2000-2023 --min-cover 30 --min-size-ha 1"
rm -rf "$OUT/mw-1000" "$OUT/mw-$N"
read -r _ s1k m1k < <(run mw-1000 "$BUILD/minewatch" treecover "$DATA/polygons-1000.geojson" $ARGS -o "$OUT/mw-1000" -q)
read -r _ smw mmw < <(run mw "$BUILD/minewatch" treecover "$DATA/polygons.geojson" $ARGS -o "$OUT/mw-$N" -q)
PEER=(bench/treecover_peer.py "$DATA/polygons.geojson" "$DATA/treecover2000.tif" "$DATA/lossyear.tif" "$DATA/emissions.tif" 2000 2023 30 1 "$OUT/peer.csv")
read -r _ speer mpeer < <(run peer $PY "${PEER[@]}")
# the peer again with a block cache that holds the three layers whole: it never thrashes
read -r _ sbig mbig < <(GDAL_CACHEMAX=3000 run peer-cache $PY "${PEER[@]}")
# the figures: totals over all polygons and years (exact coverage against pixel centres)
read -r lmw lpeer < <($PY - "$OUT/mw-$N/treecover.csv" "$OUT/peer.csv" <<'PYEOF'
import csv, sys
def tot(p):
    return sum(float(r["loss_ha"] or 0) for r in csv.DictReader(open(p)))
print("%.1f %.1f" % (tot(sys.argv[1]), tot(sys.argv[2])))
PYEOF
)
echo
echo "treecover: $N polygons (200 m to 2 km across) on a ${SIZE}^2 tile, years 2000-2023, 2 cores"
printf "%-44s %9s %9s\n" "" "seconds" "peak MB"
printf "%-44s %9s %9s\n" "minewatch treecover, 1,000 polygons" "$s1k" "$m1k"
printf "%-44s %9s %9s\n" "minewatch treecover, $N polygons" "$smw" "$mmw"
printf "%-44s %9s %9s\n" "GDAL + numpy + scipy zonal, $N polygons" "$speer" "$mpeer"
printf "%-44s %9s %9s\n" "  the same, GDAL_CACHEMAX=3000 (no re-reads)" "$sbig" "$mbig"
$PY -c "print('minewatch / peer: %.1fx faster (%.1fx against the peer with the large cache); loss over all polygons and years %s ha (exact coverage) against %s ha (pixel centres), %+.2f %%' % ($speer / $smw, $sbig / $smw, '$lmw', '$lpeer', 100 * ($lmw / $lpeer - 1)))"
