#!/bin/sh
# make tsan: the threaded kernels, remote reads (test_stac_api runs the CLI on 2 threads against
# the loopback server), treecover on 1 and 2 threads (its per-thread layer handles), the graph
# command, the real scenes (the cloud screen and manifests in the ingest threads), and a small
# pipeline with the screen, the report and the STAC catalogue under ThreadSanitizer. GCC's libgomp is not
# instrumented (its barriers look like races), so this builds with clang and LLVM's OpenMP and
# loads Archer, LLVM's OpenMP tool that tells TSan about OpenMP's synchronisation.
set -eu
cd "$(dirname "$0")/.."
BUILD=${TSAN_BUILD:-build-tsan}
ARCHER=$(ls /usr/lib/llvm-*/lib/libarcher.so 2>/dev/null | tail -1)
[ -n "$ARCHER" ] || { echo "tsan: libarcher.so not found (Debian package libomp-dev)" >&2; exit 1; }
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_TSAN=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
cd "$BUILD"
OMP_TOOL_LIBRARIES="$ARCHER" OMP_NUM_THREADS=4 \
TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 second_deadlock_stack=1 suppressions=$PWD/../tests/tsan.supp" \
    ctest --output-on-failure -R 'test_core|test_composite|test_patches|test_index|test_coregister|test_trend|test_change_vector|test_stac_api|test_treecover|test_graph|test_real_scenes'
# And a whole pipeline on four threads: ingest, co-registration, composite, change, outputs.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/sites.geojson" <<EOT
{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"t1","name":"t1","kind":"mine","radius_m":400},"geometry":{"type":"Point","coordinates":[25.40,-10.70]}},
{"type":"Feature","properties":{"id":"t2","name":"t2","kind":"smelter","radius_m":400},"geometry":{"type":"Point","coordinates":[25.43,-10.70]}}]}
EOT
cat > "$T/p.yaml" <<EOT
name: tsan
sites: {catalogue: sites.geojson}
source: {type: simulator, seed: 3, scenes_per_period: 3}
periods:
  baseline: {start: 2021-06-01, end: 2021-07-31}
  monitoring: [{name: "2023", start: 2023-06-01, end: 2023-07-31}, {name: "2024", start: 2024-06-01, end: 2024-07-31}]
grid: {pixel_size_m: 10, buffer_m: 100}
mask: {source: screen}     # the built-in cloud screen, in the ingest threads
outputs: {formats: [gpkg, csv, maps, report, stac]}
EOT
OMP_TOOL_LIBRARIES="$ARCHER" TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 suppressions=$PWD/../tests/tsan.supp" \
    ./minewatch run "$T/p.yaml" -o "$T/out" --threads 4 --chunk-rows 7
echo "tsan: no data race reported"
