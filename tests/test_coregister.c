/* Co-registration: planted sub-pixel shifts recovered (RMSE over 20 random shifts), masked
 * clouds, flat and unrelated windows flagged (never a fake shift), the shift applied by
 * resampling, and agreement with scikit-image's phase_cross_correlation on real band pairs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <gdal.h>

#include "core/hash_random.h"
#include "minewatch/coregister.h"
#include "test_util.h"

#define DATA MW_SOURCE_DIR "/../shared/data"
#define N 200
#define BLOBS 400

static double g_bx[BLOBS], g_by[BLOBS], g_bs[BLOBS], g_ba[BLOBS];

/* A textured scene defined at any point: sums of Gaussian blobs (fields, roads, pits). */
static double scene(double x, double y)
{
    double v = 0.1;
    for (int k = 0; k < BLOBS; k++) {
        double dx = x - g_bx[k], dy = y - g_by[k];
        v += g_ba[k] * exp(-(dx * dx + dy * dy) / (2 * g_bs[k] * g_bs[k]));
    }
    return v;
}

/* img(x, y) = scene(x - tx, y - ty): the scene moved by +t. Pixel centres at integers. */
static void render(float *img, double ty, double tx)
{
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++)
            img[y * N + x] = (float)scene(x - tx, y - ty);
}

static void planted_shifts_are_recovered(void **state)
{
    (void)state;
    float *ref = malloc(sizeof(float) * N * N), *mov = malloc(sizeof(float) * N * N);
    render(ref, 0, 0);
    double se = 0, worst = 0;
    for (int i = 0; i < 20; i++) {
        double ty = -3 + 6 * mw_unif(mw_hash4(31, (uint64_t)i, 0, 0));
        double tx = -3 + 6 * mw_unif(mw_hash4(31, (uint64_t)i, 1, 0));
        render(mov, ty, tx);
        if (i % 2) /* a cloud over part of the moving image: masked, not correlated */
            for (int y = 120; y < 170; y++)
                for (int x = 30; x < 110; x++)
                    mov[y * N + x] = NAN;
        mw_coreg_result r;
        assert_int_equal(mw_coreg_estimate(ref, mov, N, N, NULL, &r), 0);
        if (!r.trusted) fail_msg("shift %d (%.3f, %.3f) not trusted: %s", i, ty, tx, r.why_not);
        /* the shift that registers mov onto ref undoes the planted one */
        double ey = r.dy + ty, ex = r.dx + tx;
        se += ey * ey + ex * ex;
        worst = fmax(worst, hypot(ey, ex));
    }
    double rmse = sqrt(se / 20);
    fprintf(stderr, "20 planted shifts: RMSE %.4f px, worst %.4f px\n", rmse, worst);
    assert_true(rmse <= 0.05);
    free(ref), free(mov);
}

static void the_shift_is_applied_by_resampling(void **state)
{
    (void)state;
    float *ref = malloc(sizeof(float) * N * N), *mov = malloc(sizeof(float) * N * N),
          *fix = malloc(sizeof(float) * N * N);
    render(ref, 0, 0);
    render(mov, 1.37, -2.62);
    mw_coreg_result r;
    assert_int_equal(mw_coreg_estimate(ref, mov, N, N, NULL, &r), 0);
    assert_true(r.trusted);
    mw_coreg_shift_image(mov, N, N, r.dy, r.dx, fix);
    double before = 0, after = 0, cnt = 0;
    for (int y = 10; y < N - 10; y++)
        for (int x = 10; x < N - 10; x++) {
            const int i = y * N + x;
            assert_false(isnan(fix[i]));
            before += (mov[i] - ref[i]) * (mov[i] - ref[i]);
            after += (fix[i] - ref[i]) * (fix[i] - ref[i]);
            cnt++;
        }
    before = sqrt(before / cnt), after = sqrt(after / cnt);
    fprintf(stderr, "RMS difference to the reference: %.5f before, %.5f after\n", before, after);
    assert_true(after < before / 10);
    /* edges the kernel cannot reach are no data, not invented */
    assert_true(isnan(fix[0]) || isnan(fix[N * N - 1]));
    free(ref), free(mov), free(fix);
}

static void featureless_windows_give_no_shift(void **state)
{
    (void)state;
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N);
    mw_coreg_result r;
    for (int i = 0; i < N * N; i++)
        a[i] = 0.2f, b[i] = 0.2f; /* a flat tailings pond */
    assert_int_equal(mw_coreg_estimate(a, b, N, N, NULL, &r), 0);
    assert_false(r.trusted);
    assert_string_equal(r.why_not, "flat");
    assert_true(r.dx == 0 && r.dy == 0);
    double worst = 0;
    for (uint64_t seed = 0; seed < 10; seed++) { /* the same pond with unrelated sensor noise */
        for (int i = 0; i < N * N; i++) {
            a[i] = 0.2f + 0.001f * (float)mw_unif(mw_hash4(1, (uint64_t)i, seed, 0));
            b[i] = 0.2f + 0.001f * (float)mw_unif(mw_hash4(2, (uint64_t)i, seed, 0));
        }
        assert_int_equal(mw_coreg_estimate(a, b, N, N, NULL, &r), 0);
        worst = fmax(worst, r.snr);
        assert_false(r.trusted);
        assert_string_equal(r.why_not, "weak peak");
        assert_true(r.dx == 0 && r.dy == 0);
    }
    fprintf(stderr, "unrelated noise, 10 pairs: snr at most %.2f (trusted from 12)\n", worst);
    render(a, 0, 0);
    render(b, 0.5, 0.5);
    for (int i = 0; i < N * N * 9 / 10; i++)
        b[i] = NAN; /* all but a sliver under cloud */
    assert_int_equal(mw_coreg_estimate(a, b, N, N, NULL, &r), 0);
    assert_false(r.trusted);
    assert_string_equal(r.why_not, "too few clear pixels");
    assert_int_equal(mw_coreg_estimate(a, b, 4, 4, NULL, &r), -1);
    free(a), free(b);
}

static float *read_band(const char *path, int band, int *w, int *h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) fail_msg("cannot open %s", path);
    *w = GDALGetRasterXSize(ds), *h = GDALGetRasterYSize(ds);
    float *v = malloc(sizeof(float) * (size_t)*w * *h);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, band), GF_Read, 0, 0, *w, *h, v, *w, *h,
                                  GDT_Float32, 0, 0),
                     CE_None);
    GDALClose(ds);
    return v;
}

static void agrees_with_scikit_image_on_real_pairs(void **state)
{
    (void)state;
    struct stat st;
    if (stat(DATA "/SOURCES.md", &st) != 0) {
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
            fail_msg("the real test data is missing at %s (required when CI=true)", DATA);
        fprintf(stderr, "SKIP: real test data not found at %s\n", DATA);
        skip();
    }
    const char *o1 = DATA "/oscd_aguasclaras/imgs_1/S2A_OPER_MSI_L1C_TL_EPA__20161227T091305_"
                          "A001222_T22LHH_B0";
    const char *o2 = DATA "/oscd_aguasclaras/imgs_2/T22LHH_20171015T133221_B0";
    const char *ts = DATA "/s2l2a_timeseries_33TWM_2023-08_120m/";
    char pairs[4][2][512];
    int bands[4] = {1, 1, 4, 1};
    snprintf(pairs[0][0], 512, "%s4.tif", o1), snprintf(pairs[0][1], 512, "%s4.tif", o2);
    snprintf(pairs[1][0], 512, "%s8.tif", o1), snprintf(pairs[1][1], 512, "%s8.tif", o2);
    snprintf(pairs[2][0], 512, "%s", DATA "/landsat7_changepair_taizhou/2000TM");
    snprintf(pairs[2][1], 512, "%s", DATA "/landsat7_changepair_taizhou/2003TM");
    snprintf(pairs[3][0], 512, "%sS2B_33TWM_20230810_0_L2A/B08.tif", ts);
    snprintf(pairs[3][1], 512, "%sS2A_33TWM_20230815_0_L2A/B08.tif", ts);
    for (int k = 0; k < 4; k++) {
        int w, h, w2, h2;
        float *a = read_band(pairs[k][0], bands[k], &w, &h);
        float *b = read_band(pairs[k][1], bands[k], &w2, &h2);
        assert_true(w == w2 && h == h2);
        const mw_coreg_options o = {100, 0, 0, 0}; /* the images as given, as scikit-image */
        mw_coreg_result r;
        assert_int_equal(mw_coreg_estimate(a, b, w, h, &o, &r), 0);
        char cmd[8192], *out;
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/skimage_coreg.py %s %d %s %d 100",
                 MW_SOURCE_DIR, pairs[k][0], bands[k], pairs[k][1], bands[k]);
        int rc = tu_run(cmd, &out);
        if (rc != 0) fail_msg("scikit-image failed (apt-get install python3-skimage):\n%s", out);
        double sy, sx, secs;
        assert_int_equal(sscanf(out, "%lf %lf %lf", &sy, &sx, &secs), 3);
        free(out);
        fprintf(stderr, "%s: minewatch (%.3f, %.3f) snr %.1f%s, scikit-image (%.3f, %.3f)\n",
                strrchr(pairs[k][0], '/') + 1, r.dy, r.dx, r.snr, r.trusted ? "" : " (untrusted)",
                sy, sx);
        /* an untrusted result is reported as zero; compare the estimate it withheld */
        if (!r.trusted) {
            const mw_coreg_options lo = {100, 0, 1e-9, 0};
            assert_int_equal(mw_coreg_estimate(a, b, w, h, &lo, &r), 0);
        }
        if (fabs(r.dy - sy) > 0.02 || fabs(r.dx - sx) > 0.02)
            fail_msg("%s: minewatch (%.4f, %.4f), scikit-image (%.4f, %.4f)", pairs[k][0], r.dy,
                     r.dx, sy, sx);
        free(a), free(b);
    }
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    for (int k = 0; k < BLOBS; k++) {
        g_bx[k] = -20 + (N + 40) * mw_unif(mw_hash4(7, (uint64_t)k, 0, 0));
        g_by[k] = -20 + (N + 40) * mw_unif(mw_hash4(7, (uint64_t)k, 1, 0));
        g_bs[k] = 1.5 + 6 * mw_unif(mw_hash4(7, (uint64_t)k, 2, 0));
        g_ba[k] = 0.3 * (mw_unif(mw_hash4(7, (uint64_t)k, 3, 0)) - 0.4);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(planted_shifts_are_recovered),
        cmocka_unit_test(the_shift_is_applied_by_resampling),
        cmocka_unit_test(featureless_windows_give_no_shift),
        cmocka_unit_test(agrees_with_scikit_image_on_real_pairs),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
