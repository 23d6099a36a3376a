/* Composites: the median against a reference computed by sorting, max-NDVI and best-available-
 * pixel against their rules written out here, the count and the date taken; streaming from chips
 * equal to the in-memory kernel for any chunk height and thread count; chunks outside the site
 * never read. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cpl_string.h>
#include <gdal.h>
#include <omp.h>

#include "core/hash_random.h"
#include "minewatch/chip_composite.h"
#include "minewatch/composite.h"
#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "minewatch/qa.h"
#include "test_util.h"

#define NC 23 /* chips (dates) */
#define W 157
#define H 131
#define NPX ((size_t)W * H)
#define EXCL (MW_QA_NODATA | MW_QA_CLOUD | MW_QA_SHADOW)

static float g_val[NC][2][NPX]; /* red, nir */
static uint8_t g_qa[NC][NPX];
static uint8_t g_mask[NPX];
static mw_day g_day[NC];
static double g_clear[NC];
static const float *g_vp[NC * 2];
static const uint8_t *g_qp[NC];
static char *g_dir;

typedef struct result {
    float *band[2];
    uint16_t *n;
    mw_day *day;
} result;

static result result_new(void)
{
    result r = {{malloc(NPX * 4), malloc(NPX * 4)}, malloc(NPX * 2), malloc(NPX * 4)};
    return r;
}

static void result_free(result *r)
{
    free(r->band[0]), free(r->band[1]), free(r->n), free(r->day);
}

static int run_stack(const mw_composite_spec *s, const uint8_t *mask, result *r)
{
    const mw_composite_result out = {r->band, r->n, r->day};
    return mw_composite_stack(g_vp, (const uint8_t *const *)g_qp, NC, 2, NPX, mask, s, &out);
}

static int clear(size_t c, size_t p)
{
    return !(g_qa[c][p] & EXCL) && isfinite(g_val[c][0][p]) && isfinite(g_val[c][1][p]);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void median_equals_a_sorted_reference(void **state)
{
    (void)state;
    result r = result_new();
    const mw_composite_spec s = {MW_COMPOSITE_MEDIAN, EXCL, 1, 0, 1, g_day, NULL};
    assert_int_equal(run_stack(&s, NULL, &r), 0);
    long even = 0, odd = 0;
    for (size_t p = 0; p < NPX; p++) {
        float v[2][NC];
        int n = 0;
        for (size_t c = 0; c < NC; c++)
            if (clear(c, p)) v[0][n] = g_val[c][0][p], v[1][n] = g_val[c][1][p], n++;
        assert_int_equal(r.n[p], n);
        assert_int_equal(r.day[p], MW_COMPOSITE_NO_DAY); /* a statistic of several dates */
        for (int b = 0; b < 2; b++) {
            if (n == 0) {
                assert_true(isnan(r.band[b][p]));
                continue;
            }
            qsort(v[b], (size_t)n, sizeof(float), cmp_float);
            /* numpy's definition: the middle value, or the mean of the middle two */
            double want = n % 2 ? v[b][n / 2] : ((double)v[b][n / 2 - 1] + v[b][n / 2]) / 2;
            if (r.band[b][p] != (float)want)
                fail_msg("pixel %zu band %d: %.9g, want %.9g (n %d)", p, b, r.band[b][p], want, n);
        }
        even += n > 0 && n % 2 == 0, odd += n % 2;
    }
    assert_true(even > 1000 && odd > 1000); /* both branches are exercised */
    result_free(&r);
}

static void max_ndvi_takes_the_greenest_clear_date(void **state)
{
    (void)state;
    result r = result_new();
    const mw_composite_spec s = {MW_COMPOSITE_MAX_NDVI, EXCL, 3, 0, 1, g_day, NULL};
    assert_int_equal(run_stack(&s, g_mask, &r), 0);
    long taken = 0;
    for (size_t p = 0; p < NPX; p++) {
        long best = -1, n = 0;
        double bv = 0;
        for (size_t c = 0; c < NC; c++) {
            if (!clear(c, p)) continue;
            n++;
            double red = g_val[c][0][p], nir = g_val[c][1][p];
            double v = (nir - red) / (nir + red);
            if (best < 0 || v > bv) bv = v, best = (long)c;
        }
        if (!g_mask[p]) { /* no data outside the site, as integer maps write it */
            assert_int_equal(r.n[p], MW_COMPOSITE_NCLEAR_NONE);
            assert_true(isnan(r.band[0][p]) && r.day[p] == MW_COMPOSITE_NO_DAY);
            continue;
        }
        assert_int_equal(r.n[p], n);
        if (n < 3) { /* below min_obs: no composite, but the count is kept */
            assert_true(isnan(r.band[0][p]) && isnan(r.band[1][p]));
            assert_int_equal(r.day[p], MW_COMPOSITE_NO_DAY);
            continue;
        }
        assert_true(r.band[0][p] == g_val[best][0][p] && r.band[1][p] == g_val[best][1][p]);
        assert_int_equal(r.day[p], g_day[best]);
        taken++;
    }
    assert_true(taken > (long)NPX / 3);
    result_free(&r);
}

static void bap_prefers_the_period_middle_and_clear_chips(void **state)
{
    (void)state;
    double score[NC];
    const mw_day target = g_day[NC / 2] + 3;
    mw_composite_bap_scores(g_day, g_clear, NC, target, score);
    for (size_t c = 0; c < NC; c++) {
        double d = (g_day[c] - target) / 30.0;
        assert_true(fabs(score[c] - (0.75 * exp(-d * d / 2) + 0.25 * g_clear[c])) < 1e-12);
    }
    result r = result_new();
    const mw_composite_spec s = {MW_COMPOSITE_BAP, EXCL, 1, 0, 1, g_day, score};
    assert_int_equal(run_stack(&s, NULL, &r), 0);
    for (size_t p = 0; p < NPX; p++) {
        long best = -1;
        for (size_t c = 0; c < NC; c++)
            if (clear(c, p) && (best < 0 || score[c] > score[best])) best = (long)c;
        if (best < 0) {
            assert_true(isnan(r.band[0][p]) && r.day[p] == MW_COMPOSITE_NO_DAY);
            continue;
        }
        assert_true(r.band[0][p] == g_val[best][0][p] && r.band[1][p] == g_val[best][1][p]);
        assert_int_equal(r.day[p], g_day[best]);
    }
    result_free(&r);
}

/* Chips on disk: Float32 red+nir and a QA byte band, one pair per date, row-striped so that a
 * truncated file fails exactly on its missing rows. */
static void write_chips(mw_chip *chips, const char *tag)
{
    const mw_grid g = {32633, 300000, 5000000, 10, W, H};
    char **co = CSLSetNameValue(NULL, "BLOCKYSIZE", "1");
    for (size_t c = 0; c < NC; c++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%02zu.tif", tag, c);
        chips[c].path = tu_path(g_dir, name);
        snprintf(name, sizeof name, "%s_%02zu_qa.tif", tag, c);
        chips[c].qa_path = tu_path(g_dir, name);
        GDALDatasetH d = mw_grid_create_dataset(&g, "GTiff", chips[c].path, 2, GDT_Float32, co);
        assert_non_null(d);
        for (int b = 0; b < 2; b++)
            assert_int_equal(GDALRasterIO(GDALGetRasterBand(d, b + 1), GF_Write, 0, 0, W, H,
                                          g_val[c][b], W, H, GDT_Float32, 0, 0),
                             CE_None);
        GDALClose(d);
        d = mw_grid_create_dataset(&g, "GTiff", chips[c].qa_path, 1, GDT_Byte, co);
        assert_non_null(d);
        assert_int_equal(GDALRasterIO(GDALGetRasterBand(d, 1), GF_Write, 0, 0, W, H, g_qa[c], W, H,
                                      GDT_Byte, 0, 0),
                         CE_None);
        GDALClose(d);
    }
    CSLDestroy(co);
}

static void free_chips(mw_chip *chips)
{
    for (size_t c = 0; c < NC; c++)
        free(chips[c].path), free(chips[c].qa_path);
}

static void chips_equal_the_stack_for_any_chunks_and_threads(void **state)
{
    (void)state;
    mw_chip chips[NC] = {{0}};
    write_chips(chips, "chip");
    const mw_grid g = {32633, 300000, 5000000, 10, W, H};
    double score[NC];
    mw_composite_bap_scores(g_day, g_clear, NC, g_day[5], score);
    for (int m = 0; m < mw_composite_nmethods; m++) {
        const mw_composite_spec s = {(mw_composite_method)m, EXCL, 2, 0, 1, g_day, score};
        result ref = result_new();
        assert_int_equal(run_stack(&s, g_mask, &ref), 0);
        const int chunks[] = {1, 7, 64, H};
        for (int t = 1; t <= 2; t++)
            for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
                omp_set_num_threads(t);
                result r = result_new();
                const mw_composite_result out = {r.band, r.n, r.day};
                assert_int_equal(mw_composite_chips(chips, NC, 2, &g, g_mask, &s, chunks[k], &out),
                                 0);
                for (int b = 0; b < 2; b++)
                    assert_memory_equal(r.band[b], ref.band[b], NPX * sizeof(float));
                assert_memory_equal(r.n, ref.n, NPX * sizeof(uint16_t));
                assert_memory_equal(r.day, ref.day, NPX * sizeof(mw_day));
                result_free(&r);
            }
        result_free(&ref);
    }
    omp_set_num_threads(2);
    free_chips(chips);
}

static void chunks_outside_the_site_are_never_read(void **state)
{
    (void)state;
    mw_chip chips[NC] = {{0}};
    write_chips(chips, "cut");
    /* Cut every chip file short: its bottom rows are gone and reading them fails. */
    for (size_t c = 0; c < NC; c++) {
        GDALDatasetH d = GDALOpen(chips[c].path, GA_ReadOnly);
        assert_non_null(d);
        const char *off =
            GDALGetMetadataItem(GDALGetRasterBand(d, 1), "BLOCK_OFFSET_0_100", "TIFF");
        assert_non_null(off);
        long cut = atol(off);
        GDALClose(d);
        assert_int_equal(truncate(chips[c].path, cut), 0);
    }
    const mw_grid g = {32633, 300000, 5000000, 10, W, H};
    uint8_t *top = calloc(NPX, 1);
    for (size_t p = 0; p < (size_t)W * 40; p++)
        top[p] = 1; /* the site covers rows 0-39 only */
    const mw_composite_spec s = {MW_COMPOSITE_MEDIAN, EXCL, 1, 0, 1, g_day, NULL};
    result r = result_new(), ref = result_new();
    const mw_composite_result out = {r.band, r.n, r.day};
    assert_int_equal(mw_composite_chips(chips, NC, 2, &g, top, &s, 20, &out), 0);
    assert_int_equal(run_stack(&s, top, &ref), 0);
    assert_memory_equal(r.band[0], ref.band[0], NPX * sizeof(float));
    assert_memory_equal(r.n, ref.n, NPX * sizeof(uint16_t));
    /* The same chips under a site reaching the cut rows fail, naming the chip. */
    top[(size_t)W * 120] = 1;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    assert_int_equal(mw_composite_chips(chips, NC, 2, &g, top, &s, 20, &out), -1);
    CPLPopErrorHandler();
    assert_non_null(strstr(mw_error_message(), "cannot read chip"));
    free(top);
    result_free(&r), result_free(&ref);
    free_chips(chips);
}

static void bad_specs_are_refused(void **state)
{
    (void)state;
    result r = result_new();
    const mw_composite_spec a = {MW_COMPOSITE_MAX_NDVI, EXCL, 1, 0, 5, g_day, NULL};
    assert_int_equal(run_stack(&a, NULL, &r), -1);
    assert_non_null(strstr(mw_error_message(), "red/nir band positions"));
    const mw_composite_spec b = {MW_COMPOSITE_BAP, EXCL, 1, 0, 1, g_day, NULL};
    assert_int_equal(run_stack(&b, NULL, &r), -1);
    assert_int_equal(mw_composite_method_find("max_ndvi"), MW_COMPOSITE_MAX_NDVI);
    assert_int_equal(mw_composite_method_find("mean"), -1);
    result_free(&r);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("composite");
    for (size_t c = 0; c < NC; c++) {
        g_day[c] = mw_day_from_ymd(2024, 1, 1) + (mw_day)(c * 7);
        g_clear[c] = mw_unif(mw_hash4(9, c, 0, 0));
        for (size_t p = 0; p < NPX; p++) {
            double u = mw_unif(mw_hash4(1, c, p, 0)), v = mw_unif(mw_hash4(2, c, p, 0));
            /* Reflectances on a coarse lattice: equal values and ties do happen. */
            g_val[c][0][p] = (float)(0.02 + floor(u * 40) / 200);
            g_val[c][1][p] = (float)(0.1 + floor(v * 60) / 150);
            double q = mw_unif(mw_hash4(3, c, p, 0));
            g_qa[c][p] = q < 0.25   ? MW_QA_CLOUD
                         : q < 0.3  ? MW_QA_SHADOW
                         : q < 0.33 ? MW_QA_WATER
                                    : 0;
            if (mw_unif(mw_hash4(4, c, p, 0)) < 0.03) g_val[c][p % 2][p] = NAN; /* a band missing */
        }
        g_vp[c * 2] = g_val[c][0], g_vp[c * 2 + 1] = g_val[c][1];
        g_qp[c] = g_qa[c];
    }
    /* Some pixels almost always cloudy: fewer clear observations than min_obs. */
    for (size_t p = 0; p < NPX; p += 13)
        for (size_t c = 0; c < NC - 2; c++)
            g_qa[c][p] |= MW_QA_CLOUD;
    for (size_t p = 0; p < NPX; p++) {
        long x = (long)(p % W) - W / 2, y = (long)(p / W) - H / 2;
        g_mask[p] = x * x + y * y < 60 * 60;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(median_equals_a_sorted_reference),
        cmocka_unit_test(max_ndvi_takes_the_greenest_clear_date),
        cmocka_unit_test(bap_prefers_the_period_middle_and_clear_chips),
        cmocka_unit_test(chips_equal_the_stack_for_any_chunks_and_threads),
        cmocka_unit_test(chunks_outside_the_site_are_never_read),
        cmocka_unit_test(bad_specs_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
