#!/bin/sh
# Layers that only point down (cmake/check_layers.cmake, run by the build): the tree passes; a
# copy with an upward include planted in a kernel, an internal header of the pipeline included
# from io, and a public header of no layer is refused, each named.
set -eu
SRC=$1
cmake -DSRC="$SRC" -P "$SRC/cmake/check_layers.cmake"
T=$(mktemp -d /tmp/mw-layers-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp -r "$SRC/include" "$SRC/src" "$T/"
echo '#include "minewatch/run.h"' >> "$T/src/kernels/band_table.c"
echo '#include "pipeline/provenance.h"' >> "$T/src/io/sensor_table.c"
echo '/* */' > "$T/include/minewatch/stray.h"
if cmake -DSRC="$T" -P "$SRC/cmake/check_layers.cmake" > "$T/out" 2>&1; then
  echo "an upward include was not refused" >&2
  exit 1
fi
grep -q 'src/kernels/band_table.c (layer kernels) includes minewatch/run.h (layer pipeline' "$T/out"
grep -q 'src/io/sensor_table.c (layer io) includes pipeline/provenance.h (layer pipeline' "$T/out"
grep -q 'include/minewatch/stray.h belongs to no layer' "$T/out"
echo "layers ok"
