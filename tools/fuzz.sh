#!/bin/sh
# make fuzz: every fuzz target under libFuzzer (clang, ASan + UBSan), coverage-guided, for
# FUZZ_SECONDS each (default 600), two at a time. Seeds: tests/fuzz/corpus/<target> (kept as they
# are) and, when present, real files of ../shared/data (read only, never copied). What libFuzzer
# learns goes to out/fuzz/corpus/<target>; a crash to out/fuzz/artifacts/. Prints executions and
# coverage per target, and exits non-zero if any target crashed.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-600}
BUILD=${FUZZ_BUILD:-build-fuzz}
OUT=out/fuzz
DATA=${MW_DATA:-../shared/data}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target fuzz_pipeline fuzz_stac_item fuzz_stac_page fuzz_sites fuzz_landsat_mtl fuzz_safe fuzz_graph fuzz_manifest >/dev/null
mkdir -p "$OUT/artifacts"
extra() { # real files for a target, from the shared data, when it is there
    [ -d "$DATA" ] || return 0
    case "$1" in
    stac_item) d="$OUT/seeds/stac_item"; mkdir -p "$d"; find "$DATA" -name '*.json' -size -200k ! -name '*MTL*' -exec cp {} "$d/" \; 2>/dev/null; echo "$d" ;;
    landsat_mtl) d="$OUT/seeds/landsat_mtl"; mkdir -p "$d"; find "$DATA" \( -name '*MTL.json' -o -name '*MTL.txt' \) -exec cp {} "$d/" \; 2>/dev/null; echo "$d" ;;
    esac
}
run() {
    t=$1
    mkdir -p "$OUT/corpus/$t"
    # shellcheck disable=SC2046
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
        "$BUILD/tests/fuzz_$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=20 -artifact_prefix="$OUT/artifacts/$t-" "$OUT/corpus/$t" "tests/fuzz/corpus/$t" $(extra "$t") \
        > "$OUT/$t.log" 2>&1 && echo 0 > "$OUT/$t.rc" || echo $? > "$OUT/$t.rc"
}
set -- pipeline stac_item stac_page sites landsat_mtl safe graph manifest
while [ $# -gt 0 ]; do
    run "$1" &
    [ $# -gt 1 ] && { run "$2" & shift; }
    wait
    shift
done
status=0
printf '%-12s %12s %10s %8s %8s %s\n' target executions exec/s cov ft result
for t in pipeline stac_item stac_page sites landsat_mtl safe; do
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$' || echo ?)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$' || echo ?)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1 | grep -o '[0-9]*' || echo ?)
    ft=$(grep -o 'ft: [0-9]*' "$OUT/$t.log" | tail -1 | grep -o '[0-9]*' || echo ?)
    rc=$(cat "$OUT/$t.rc")
    res=ok; [ "$rc" = 0 ] || { res="CRASH (see $OUT/$t.log)"; status=1; }
    printf '%-12s %12s %10s %8s %8s %s\n' "$t" "$execs" "$rate" "$cov" "$ft" "$res"
done
exit $status
