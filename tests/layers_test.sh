#!/bin/sh
# Layers that only point down (cmake/layers.cmake): the tree passes the check the build runs; a
# copy with an upward include planted in a kernel, an internal header of the pipeline included
# from io (once by its folder, once climbing out with "../"), and a public header of no layer is
# refused, each named; and the planted kernel does not compile with its layer's include path.
set -eu
SRC=$1
BUILD=$2
cmake -DSRC="$SRC" -P "$SRC/cmake/check_layers.cmake"
T=$(mktemp -d /tmp/mw-layers-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp -r "$SRC/include" "$SRC/src" "$T/"
echo '#include "minewatch/run.h"' >> "$T/src/kernels/band_table.c"
echo '#include "pipeline/provenance.h"' >> "$T/src/io/sensor_table.c"
echo '#include "../pipeline/provenance.h"' >> "$T/src/io/lonlat.c"
echo '/* */' > "$T/include/minewatch/stray.h"
if cmake -DSRC="$T" -P "$SRC/cmake/check_layers.cmake" > "$T/out" 2>&1; then
  echo "an upward include was not refused" >&2
  exit 1
fi
grep -q 'src/kernels/band_table.c (layer kernels) includes minewatch/run.h (layer pipeline' "$T/out"
grep -q 'src/io/sensor_table.c (layer io) includes pipeline/provenance.h (layer pipeline' "$T/out"
grep -q 'src/io/lonlat.c (layer io) includes ../pipeline/provenance.h (layer pipeline' "$T/out"
grep -q 'include/minewatch/stray.h belongs to no layer' "$T/out"
# the compiler, given the kernels' view of the headers, cannot find the pipeline's
cc -fsyntax-only -I"$BUILD/layers/kernels" -I"$BUILD/generated" "$SRC/src/kernels/band_table.c"
if cc -fsyntax-only -I"$BUILD/layers/kernels" -I"$BUILD/generated" "$T/src/kernels/band_table.c" \
    > "$T/cc" 2>&1; then
  echo "an upward include compiled" >&2
  exit 1
fi
grep -q 'minewatch/run.h: No such file' "$T/cc"
echo "layers ok"
