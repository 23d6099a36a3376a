/* Benchmark (not a test): the in-memory kernels alone, no I/O.
 *  - a 24-date median composite over a 2000 x 2000 site (NaN where unclear) against numpy's
 *    nanmedian on the same stack (bench/nanmedian.py under Debian's /usr/bin/python3), with the
 *    largest difference between the two results;
 *  - 1 against 2 threads for the composite and for NDVI over 10980 x 4096 in-memory rows.
 * Prints median wall times over runs and the ratios. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gdal.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/hash_random.h"
#include "minewatch/composite.h"
#include "minewatch/coregister.h"
#include "minewatch/spectral_index.h"
#include "bench_util.h"

#define DATES 24
#define SIDE 2000
#define NPX ((size_t)SIDE * SIDE)
#define NDVI_W 10980
#define NDVI_H 4096

static double time_composite(const float *const *planes, float *out, uint16_t *n, int threads,
                             int runs)
{
    omp_set_num_threads(threads);
    const mw_composite_spec s = {MW_COMPOSITE_MEDIAN, 0, 1, 0, 0, NULL, NULL};
    float *band[1] = {out};
    const mw_composite_result r = {band, n, NULL};
    double t[16];
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        if (mw_composite_stack(planes, NULL, DATES, 1, NPX, NULL, &s, &r)) abort();
        t[i] = now() - t0;
    }
    return median_of(t, runs);
}

static double time_ndvi(const float *red, const float *nir, float *out, int threads, int runs)
{
    omp_set_num_threads(threads);
    const mw_spectral_index *ix = mw_spectral_index_find("ndvi");
    double scale[MW_BAND_COUNT], offset[MW_BAND_COUNT];
    for (int b = 0; b < MW_BAND_COUNT; b++)
        scale[b] = 2.75e-5, offset[b] = -0.2; /* Landsat C2: the double-precision path */
    double t[16];
    for (int i = 0; i < runs; i++) {
        double t0 = now();
#pragma omp parallel for schedule(static)
        for (int y = 0; y < NDVI_H; y++) {
            const float *rows[MW_BAND_COUNT] = {0};
            rows[MW_BAND_RED] = red + (size_t)y * NDVI_W;
            rows[MW_BAND_NIR] = nir + (size_t)y * NDVI_W;
            mw_spectral_index_row_dn(ix, rows, scale, offset, out + (size_t)y * NDVI_W, NDVI_W);
        }
        t[i] = now() - t0;
    }
    return median_of(t, runs);
}

static float *read_band(const char *path, int *w, int *h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) return NULL;
    *w = GDALGetRasterXSize(ds), *h = GDALGetRasterYSize(ds);
    float *v = malloc(sizeof(float) * (size_t)*w * *h);
    if (v && GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, *w, *h, v, *w, *h, GDT_Float32,
                          0, 0) != CE_None)
        free(v), v = NULL;
    GDALClose(ds);
    return v;
}

/* Co-registration of the OSCD Aguas Claras B04 pair (../shared/data) by minewatch and by
 * scikit-image's phase_cross_correlation, upsample 100, the images as given. */
static void bench_coreg(const char *data, const char *py_dir, int runs)
{
    char a[1024], b[1024], cmd[4096];
    snprintf(a, sizeof a,
             "%s/oscd_aguasclaras/imgs_1/S2A_OPER_MSI_L1C_TL_EPA__20161227T091305_A001222_T22LHH_"
             "B04.tif",
             data);
    snprintf(b, sizeof b, "%s/oscd_aguasclaras/imgs_2/T22LHH_20171015T133221_B04.tif", data);
    int w, h, w2, h2;
    float *ra = read_band(a, &w, &h), *rb = read_band(b, &w2, &h2);
    if (!ra || !rb || w != w2 || h != h2) {
        printf("co-registration: the OSCD pair is not at %s (skipped)\n", data);
        free(ra), free(rb);
        return;
    }
    const mw_coreg_options o = {100, 0, 0, 0};
    mw_coreg_result r;
    double t[16];
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        mw_coreg_estimate(ra, rb, w, h, &o, &r);
        t[i] = now() - t0;
    }
    double mine = median_of(t, runs), sk = NAN, sy = NAN, sx = NAN;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/skimage_coreg.py %s 1 %s 1 100", py_dir, a, b);
    for (int i = 0; i < runs; i++) {
        FILE *pp = popen(cmd, "r");
        if (!pp || fscanf(pp, "%lf %lf %lf", &sy, &sx, &t[i]) != 3) t[i] = NAN;
        if (pp) pclose(pp);
    }
    sk = median_of(t, runs);
    printf("\nco-registration, OSCD B04 pair %d x %d, upsample 100 (%d run(s), median):\n", w, h,
           runs);
    printf("  minewatch     %.3f s  shift (%.2f, %.2f) px, snr %.0f\n", mine, r.dy, r.dx, r.snr);
    printf("  scikit-image  %.3f s  shift (%.2f, %.2f) px  (%.1fx)\n", sk, sy, sx, sk / mine);
    free(ra), free(rb);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "out/bench/kernels";
    const char *py = argc > 2 ? argv[2] : "bench/nanmedian.py";
    int runs = getenv("MW_BENCH_RUNS") ? atoi(getenv("MW_BENCH_RUNS")) : 3;
    if (runs < 1) runs = 1;
    if (runs > 16) runs = 16;
    mw_make_dirs(dir);
    /* The stack: reflectance-like values, a third of them unclear (NaN) in patches per date. */
    float *stack = malloc(DATES * NPX * sizeof(float));
    const float *planes[DATES];
    if (!stack) return 1;
#pragma omp parallel for schedule(static)
    for (int d = 0; d < DATES; d++)
        for (size_t p = 0; p < NPX; p++) {
            const size_t x = p % SIDE, y = p / SIDE;
            const double cloud = mw_unif(mw_hash4(77, (uint64_t)d, x / 50, y / 50));
            stack[d * NPX + p] =
                cloud < 0.33 ? NAN : (float)(0.05 + 0.4 * mw_unif(mw_hash4(78, (uint64_t)d, x, y)));
        }
    for (int d = 0; d < DATES; d++)
        planes[d] = stack + d * NPX;
    char spath[1024], npath[1024], cmd[4096];
    snprintf(spath, sizeof spath, "%s/stack_24x2000x2000.f32", dir);
    snprintf(npath, sizeof npath, "%s/nanmedian_numpy.f32", dir);
    FILE *f = fopen(spath, "wb");
    if (!f || fwrite(stack, sizeof(float), DATES * NPX, f) != DATES * NPX) return 1;
    fclose(f);
    float *out = malloc(NPX * sizeof(float));
    uint16_t *n = malloc(NPX * sizeof(uint16_t));
    printf("24-date median composite, 2000 x 2000 pixels, 1 band, 33 %% unclear (NaN); %d run(s) "
           "each, median\n",
           runs);
    double c1 = time_composite(planes, out, n, 1, runs);
    double c2 = time_composite(planes, out, n, 2, runs);
    /* numpy on the same stack, then the largest difference from ours */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %d %d %d %s %d", py, spath, DATES, SIDE, SIDE,
             npath, runs);
    double np_s = NAN;
    FILE *pp = popen(cmd, "r");
    if (pp && fscanf(pp, "%lf", &np_s) != 1) np_s = NAN;
    if (pp) pclose(pp);
    double maxdiff = 0;
    long differ = 0, nan_mismatch = 0;
    float *ref = malloc(NPX * sizeof(float));
    f = fopen(npath, "rb");
    if (f && ref && fread(ref, sizeof(float), NPX, f) == NPX) {
        for (size_t p = 0; p < NPX; p++) {
            if (isnan(ref[p]) || isnan(out[p])) {
                nan_mismatch += isnan(ref[p]) != isnan(out[p]);
                continue;
            }
            double d = fabs((double)ref[p] - out[p]);
            differ += d > 0;
            if (d > maxdiff) maxdiff = d;
        }
    } else {
        np_s = NAN;
    }
    if (f) fclose(f);
    printf("\n%-40s %9s\n", "kernel", "median s");
    printf("%-40s %9.3f\n", "minewatch median composite, 2 threads", c2);
    printf("%-40s %9.3f\n", "minewatch median composite, 1 thread", c1);
    if (isfinite(np_s))
        printf("%-40s %9.3f\n", "numpy nanmedian (1 thread)", np_s);
    else
        printf("%-40s %s\n", "numpy nanmedian", "failed (apt-get install python3-numpy)");
    /* NDVI rows in memory */
    float *red = malloc((size_t)NDVI_W * NDVI_H * sizeof(float));
    float *nir = malloc((size_t)NDVI_W * NDVI_H * sizeof(float));
    float *nd = malloc((size_t)NDVI_W * NDVI_H * sizeof(float));
    if (!red || !nir || !nd) return 1;
    for (size_t i = 0; i < (size_t)NDVI_W * NDVI_H; i++) {
        red[i] = (float)(7300 + (int)(mw_unif(mw_hash4(5, i, 0, 0)) * 3000));
        nir[i] = (float)(7300 + (int)(mw_unif(mw_hash4(6, i, 0, 0)) * 12000));
    }
    double n1 = time_ndvi(red, nir, nd, 1, runs), n2 = time_ndvi(red, nir, nd, 2, runs);
    printf("%-40s %9.3f\n", "minewatch NDVI 10980x4096, 2 threads", n2);
    printf("%-40s %9.3f\n", "minewatch NDVI 10980x4096, 1 thread", n1);
    printf("\n");
    if (isfinite(np_s)) {
        printf("numpy nanmedian / minewatch (2 threads): %.1fx (goal >= 5x)\n", np_s / c2);
        printf("largest difference from numpy: %.3g (%ld of %zu pixels differ; %ld no-data "
               "mismatches)\n",
               maxdiff, differ, NPX, nan_mismatch);
    }
    printf("composite, 1 thread / 2 threads: %.2fx (goal >= 1.7x)\n", c1 / c2);
    printf("NDVI, 1 thread / 2 threads: %.2fx (goal >= 1.7x)\n", n1 / n2);
    unlink(spath);
    unlink(npath);
    GDALAllRegister();
    bench_coreg(argc > 3 ? argv[3] : "../shared/data", argc > 4 ? argv[4] : "tests", runs);
    free(stack), free(out), free(n), free(ref), free(red), free(nir), free(nd);
    return 0;
}
