#!/usr/bin/env bash
# Benchmark (not a test): generic change maps on two real labelled pairs, minewatch against Orfeo
# ToolBox's MultivariateAlterationDetector (MAD, Nielsen et al. 1998; package otb-bin).
#   bench/change_scores.sh DATA_DIR BUILD_DIR OUT_DIR
# Pairs (DATA_DIR = ../shared/data): OSCD Aguas Claras, Sentinel-2 B02 B03 B04 B08 B11 B12 on the
# 10 m grid (B11 B12 resampled bilinearly by GDAL, as minewatch reads them), urban-change label;
# Taizhou, Landsat-7 6 bands, change / no-change masks. OTB gets one multi-band GeoTIFF per date
# and writes the MAD variates; they are thresholded the two ways a user would: the chi-square of
# the variates standardised by their standard deviation at P < 0.01, and Otsu (256 bins between
# min and max) on that chi-square. Scored with the same masks as bench_change. Seconds for OTB:
# the otbcli run (process start, reading, MAD, writing) plus the thresholding in numpy. The image
# stacks and MAD rasters go to a temporary folder, removed on exit (no data copied into the
# checkout); OUT_DIR keeps the tables and OTB's logs.
set -euo pipefail

DATA=${1:-../shared/data}
BUILD=${2:-build}
OUT=${3:-out/bench/change}
PY=/usr/bin/python3 # Debian's, with numpy, scipy and GDAL

if [ ! -d "$DATA/oscd_aguasclaras" ] || [ ! -d "$DATA/landsat7_changepair_taizhou" ]; then
    echo "change scores: the labelled pairs are not under $DATA (skipped)"
    exit 0
fi
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ROWS="$OUT/rows.txt"
NOTES="$OUT/notes.txt"
"$BUILD/bench_change" "$DATA" 3 >"$OUT/minewatch.txt"
grep -v '^#' "$OUT/minewatch.txt" >"$ROWS"
grep '^#' "$OUT/minewatch.txt" >"$NOTES"

if ! command -v otbcli_MultivariateAlterationDetector >/dev/null; then
    echo "# OTB: otbcli_MultivariateAlterationDetector not found (apt-get install otb-bin)" >>"$NOTES"
else
    # One Float32 stack per date; 20 m bands resampled to the 10 m grid with bilinear RasterIO,
    # the same GDAL call minewatch uses, so both sides see the same numbers.
    O1="$DATA/oscd_aguasclaras/imgs_1/S2A_OPER_MSI_L1C_TL_EPA__20161227T091305_A001222_T22LHH_"
    O2="$DATA/oscd_aguasclaras/imgs_2/T22LHH_20171015T133221_"
    for d in 1 2; do
        pre=$O1
        [ "$d" = 2 ] && pre=$O2
        list=()
        for b in B02 B03 B04 B08 B11 B12; do
            gdal_translate -q -ot Float32 -outsize 525 471 -r bilinear "$pre$b.tif" "$WORK/oscd_${d}_$b.tif"
            list+=("$WORK/oscd_${d}_$b.tif")
        done
        gdalbuildvrt -q -separate "$WORK/oscd_$d.vrt" "${list[@]}"
        gdal_translate -q "$WORK/oscd_$d.vrt" "$WORK/oscd_$d.tif"
    done
    gdal_translate -q -ot Float32 "$DATA/landsat7_changepair_taizhou/2000TM" "$WORK/taizhou_1.tif"
    gdal_translate -q -ot Float32 "$DATA/landsat7_changepair_taizhou/2003TM" "$WORK/taizhou_2.tif"

    for pair in oscd taizhou; do
        t0=$(date +%s.%N)
        otbcli_MultivariateAlterationDetector -in1 "$WORK/${pair}_1.tif" -in2 "$WORK/${pair}_2.tif" \
            -out "$WORK/${pair}_mad.tif" float >"$OUT/${pair}_otb.log" 2>&1
        t1=$(date +%s.%N)
        echo "$t0 $t1" >"$OUT/${pair}_otb.time"
        echo "# OTB $pair: $(grep -o 'Rho:.*' "$OUT/${pair}_otb.log"); $(grep -o 'at most [0-9]* threads' "$OUT/${pair}_otb.log")" >>"$NOTES"
    done

    if ! "$PY" - "$DATA" "$OUT" "$WORK" >>"$ROWS" 2>>"$NOTES" <<'EOF'
import sys, time
import numpy as np
from osgeo import gdal
from scipy.stats import chi2

data, out, work = sys.argv[1], sys.argv[2], sys.argv[3]

def otsu(v, nbins=256):
    """Otsu 1979 on the finite values, nbins between min and max: values > t are change."""
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    scale = nbins / (hi - lo)
    h = np.bincount(np.minimum(((v - lo) * scale).astype(np.int64), nbins - 1), minlength=nbins)
    h = h.astype(np.float64)
    c = np.arange(nbins) + 0.5
    w0 = np.cumsum(h)[:-1]
    s0 = np.cumsum(h * c)[:-1]
    w1 = h.sum() - w0
    ok = (w0 > 0) & (w1 > 0)
    m0 = s0 / np.where(ok, w0, 1)
    m1 = ((h * c).sum() - s0) / np.where(ok, w1, 1)
    sb = np.where(ok, w0 * w1 * (m0 - m1) ** 2, -1)
    return lo + (int(np.argmax(sb)) + 1) / scale

def score(pred, yes, no):
    tp = np.sum(pred & yes); fp = np.sum(pred & no)
    fn = np.sum(~pred & yes); tn = np.sum(~pred & no)
    n = tp + fp + fn + tn
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n / n
    return tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn), (po - pe) / (1 - pe)

def masks(pair):
    if pair == 'oscd':
        lab = gdal.Open(data + '/oscd_aguasclaras/cm/aguasclaras-cm.tif').ReadAsArray().ravel()
        return lab == 2, lab == 1  # the label holds 1 (no change) and 2 (change)
    d = data + '/landsat7_changepair_taizhou/'
    return (gdal.Open(d + 'change.bmp').ReadAsArray().ravel() > 0,
            gdal.Open(d + 'unchanged.bmp').ReadAsArray().ravel() > 0)

for pair, name in (('oscd', 'OSCD'), ('taizhou', 'Taizhou')):
    t0, t1 = map(float, open(f'{out}/{pair}_otb.time').read().split())
    mad = gdal.Open(f'{work}/{pair}_mad.tif').ReadAsArray().astype(np.float64)
    yes, no = masks(pair)
    k = mad.shape[0]
    s0 = time.perf_counter()
    mad = mad.reshape(k, -1)
    z = ((mad / mad.std(axis=1, keepdims=True)) ** 2).sum(axis=0)
    t_chi = time.perf_counter() - s0
    s0 = time.perf_counter()
    pred = chi2.sf(z, k) < 0.01
    t_p = time.perf_counter() - s0
    s0 = time.perf_counter()
    thr = otsu(z)
    pred_otsu = z > thr
    t_o = time.perf_counter() - s0
    for label, p, extra in (('OTB MAD + chi2 (P<0.01)', pred, t_p),
                            ('OTB MAD + Otsu on chi2', pred_otsu, t_o)):
        pr, rc, f1, kap = score(p, yes, no)
        print(f'{name:<8} {label:<40} {pr:9.3f} {rc:7.3f} {f1:6.3f} {kap:6.3f} '
              f'{100 * p.mean():7.1f} {t1 - t0 + t_chi + extra:8.3f}')
    print(f'# OTB {pair}: otbcli {t1 - t0:.3f} s; Otsu threshold on chi2 {thr:.3f}', file=sys.stderr)
EOF
    then
        cat "$NOTES" >&2
        exit 1
    fi
fi

printf '%-8s %-40s %9s %7s %6s %6s %7s %8s\n' pair method precision recall F1 kappa marked% seconds
sort -s -k1,1 "$ROWS"
cat "$NOTES"
