#!/bin/sh
# make tsan: the threaded kernels and a small pipeline under ThreadSanitizer. GCC's libgomp is not
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
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/../tests/tsan.supp" \
    ctest --output-on-failure -R 'test_core|test_composite|test_patches|test_index|test_coregister|test_trend|test_change_vector|test_tsan_pipeline'
