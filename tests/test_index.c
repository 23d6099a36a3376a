/* `minewatch index`: every registered index against formulas written out here in double
 * precision, on edge values; bands on mixed grids; and the same file bytes for any thread count
 * and strip height. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cpl_string.h>
#include <gdal.h>

#include "core/hash_random.h"
#include "minewatch/grid.h"
#include "minewatch/index_stream.h"
#include "minewatch/spectral_index.h"
#include "test_util.h"

#define W 613
#define H 700 /* several 256-row strips, the last one short */
static char *g_dir, *g_stack, *g_swir20;
static uint16_t g_dn[7][W * H]; /* blue green red nir nir08 swir16 swir22 */
#define CW ((W + 1) / 2)
#define CH ((H + 1) / 2)
static uint16_t g_coarse[CW * CH]; /* swir22 at 20 m */

static void write_raster(const char *path, int w, int h, int nb, const uint16_t *data, double res)
{
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    const mw_grid g = {32633, 300000, 5000000, res, w, h};
    GDALDatasetH ds = mw_grid_create_dataset(&g, "GTiff", path, nb, GDT_UInt16, co);
    CSLDestroy(co);
    assert_non_null(ds);
    for (int b = 0; b < nb; b++) {
        GDALSetRasterNoDataValue(GDALGetRasterBand(ds, b + 1), 0);
        assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Write, 0, 0, w, h,
                                      (void *)(data + (size_t)b * w * h), w, h, GDT_UInt16, 0, 0),
                         CE_None);
    }
    GDALClose(ds);
}

static float *read_out(const char *path, int want_w)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    assert_non_null(ds);
    assert_int_equal(GDALGetRasterXSize(ds), want_w);
    assert_int_equal(GDALGetRasterYSize(ds), H);
    float *v = malloc(sizeof(float) * want_w * H);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, want_w, H, v, want_w, H,
                                  GDT_Float32, 0, 0),
                     CE_None);
    GDALClose(ds);
    return v;
}

/* The documented rule: within 1e-6 of a bound is the bound; further out, no data. */
/* The index's no data: NaN, and the one NaN the writer uses (bit for bit). */
static int is_nodata(float v)
{
    const float nd = MW_INDEX_NODATA;
    return memcmp(&v, &nd, sizeof v) == 0;
}

static double in_range(double v, double lo, double hi)
{
    if (!isfinite(v)) return NAN;
    if (v < lo && v >= lo - 1e-6 * fmax(1, fabs(lo))) return lo;
    if (v > hi && v <= hi + 1e-6 * fmax(1, fabs(hi))) return hi;
    return v < lo || v > hi ? NAN : v;
}

/* The radiometry of a run: Sentinel-2's (a whole -1000 DN offset, the exact DN-domain path) or
 * Landsat C2's (-0.2 at 2.75e-5 is no whole DN: the double path). */
static double g_scale = 1e-4, g_offset = -0.1;

/* Reflectance; NaN for no data (0) and saturated (65535). */
static double rho(int b, size_t i)
{
    uint16_t d = g_dn[b][i];
    return d == 0 || d == 65535 ? NAN : d * g_scale + g_offset;
}

static double nd(double a, double b)
{
    return (a - b) / (a + b);
}

/* The formulas as published, written out again, not taken from the registry. */
static double reference(const char *name, size_t i)
{
    double B = rho(0, i), G = rho(1, i), R = rho(2, i), N = rho(3, i), N8 = rho(4, i),
           S1 = rho(5, i), S2 = rho(6, i);
    if (!strcmp(name, "ndvi")) return nd(N, R);
    if (!strcmp(name, "nbr")) return nd(N, S2);
    if (!strcmp(name, "ndwi")) return nd(G, N);
    if (!strcmp(name, "mndwi")) return nd(G, S1);
    if (!strcmp(name, "ndbi")) return nd(S1, N);
    if (!strcmp(name, "bsi")) return ((S1 + R) - (N + B)) / ((S1 + R) + (N + B));
    if (!strcmp(name, "ndmi")) return nd(N, S1);
    if (!strcmp(name, "nhi_swir")) return nd(S2, S1);
    if (!strcmp(name, "nhi_swnir")) return nd(S1, N8);
    if (!strcmp(name, "tai")) return (S2 - S1) / N8;
    fail_msg("no reference formula for '%s': add one", name);
    return NAN;
}

static int run_index(const char *name, const char *extra, const char *out)
{
    char cmd[4096], *text;
    snprintf(cmd, sizeof cmd,
             "%s index %s -o %s --blue %s:1 --green %s:2 --red %s:3 --nir %s:4 --nir08 %s:5 "
             "--swir16 %s:6 "
             "--swir22 %s:7 --scale %.17g --offset %.17g -q %s",
             MW_CLI, name, out, g_stack, g_stack, g_stack, g_stack, g_stack, g_stack, g_stack,
             g_scale, g_offset, extra ? extra : "");
    int rc = tu_run(cmd, &text);
    if (rc != 0) fprintf(stderr, "%s\n", text);
    free(text);
    return rc;
}

static void every_index_against_its_formula(void **state)
{
    (void)state;
    const double radiometry[][2] = {{1e-4, -0.1}, {2.75e-5, -0.2}};
    for (int r = 0; r < 2; r++) {
        g_scale = radiometry[r][0], g_offset = radiometry[r][1];
        for (int k = 0; k < mw_spectral_nindices; k++) {
            const mw_spectral_index *ix = &mw_spectral_indices[k];
            char name[64];
            snprintf(name, sizeof name, "%s.tif", ix->name);
            char *out = tu_path(g_dir, name);
            assert_int_equal(run_index(ix->name, NULL, out), 0);
            float *v = read_out(out, W);
            long nodata = 0, valued = 0;
            for (size_t i = 0; i < (size_t)W * H; i++) {
                double want = in_range(reference(ix->name, i), ix->valid_min, ix->valid_max);
                int none = isnan(want);
                if (isnan(v[i]) && !is_nodata(v[i])) /* one NaN, so bytes compare */
                    fail_msg("%s pixel %zu: a NaN other than the no-data one", ix->name, i);
                if (none) {
                    if (!is_nodata(v[i]))
                        fail_msg("%s pixel %zu: %g, want no data (NaN)", ix->name, i, v[i]);
                    nodata++;
                } else {
                    /* Computed in double, stored as float: within a float step. */
                    if (fabs(v[i] - want) > 2e-7 * fmax(1.0, fabs(want)))
                        fail_msg("%s pixel %zu: %.9g, want %.9g", ix->name, i, v[i], want);
                    valued++;
                }
            }
            assert_true(nodata > 100 && valued > (long)W * H / 2);
            free(v), free(out);
        }
    }
    g_scale = 1e-4, g_offset = -0.1;
}

static void same_bytes_for_any_threads_and_strips(void **state)
{
    (void)state;
    const char *runs[] = {"--threads 1",
                          "--threads 2",
                          "--threads 2 --chunk-rows 64",
                          "--threads 2 --chunk-rows 256",
                          "--threads 2 --chunk-rows 1024",
                          "--threads 1 --chunk-rows 4096",
                          "--threads 2 --chunk-rows 7",
                          "--threads 1 --chunk-rows 300",
                          "--threads 2 --mem 64"};
    char *ref = tu_path(g_dir, "ndvi-ref.tif");
    assert_int_equal(run_index("ndvi", runs[0], ref), 0);
    for (size_t r = 1; r < sizeof runs / sizeof *runs; r++) {
        char name[64];
        snprintf(name, sizeof name, "ndvi-%zu.tif", r);
        char *out = tu_path(g_dir, name);
        assert_int_equal(run_index("ndvi", runs[r], out), 0);
        if (!tu_same_file(ref, out)) fail_msg("'%s' wrote different bytes", runs[r]);
        free(out);
    }
    free(ref);
}

/* The same numbers from single-band striped files and from Float32 tiles: block reads of any
 * shape, and the double path for values that are not small whole numbers. */
static void any_input_layout_gives_the_same_values(void **state)
{
    (void)state;
    char *ref = tu_path(g_dir, "ndvi-layout-ref.tif");
    assert_int_equal(run_index("ndvi", NULL, ref), 0);
    float *want = read_out(ref, W);
    const char *layouts[][2] = {
        {"TILED=NO", "UInt16"}, {"BLOCKYSIZE=3", "UInt16"}, {"TILED=YES", "Float32"}};
    for (size_t l = 0; l < 3; l++) {
        char *red = tu_path(g_dir, "layout-red.tif"), *nir = tu_path(g_dir, "layout-nir.tif");
        char **co = CSLAddString(NULL, layouts[l][0]);
        const mw_grid g = {32633, 300000, 5000000, 10, W, H};
        const GDALDataType t = GDALGetDataTypeByName(layouts[l][1]);
        for (int k = 0; k < 2; k++) {
            GDALDatasetH ds = mw_grid_create_dataset(&g, "GTiff", k ? nir : red, 1, t, co);
            assert_non_null(ds);
            GDALSetRasterNoDataValue(GDALGetRasterBand(ds, 1), 0);
            assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, W, H,
                                          g_dn[k ? 3 : 2], W, H, GDT_UInt16, 0, 0),
                             CE_None);
            GDALClose(ds);
        }
        CSLDestroy(co);
        char cmd[2048], *text, *out = tu_path(g_dir, "ndvi-layout.tif");
        snprintf(cmd, sizeof cmd,
                 "%s index ndvi -o %s --red %s --nir %s --scale 1e-4 --offset -0.1 -q --chunk-rows "
                 "100",
                 MW_CLI, out, red, nir);
        int rc = tu_run(cmd, &text);
        if (rc) fail_msg("%s: %s", layouts[l][0], text);
        free(text);
        float *got = read_out(out, W);
        for (size_t i = 0; i < (size_t)W * H; i++) {
            /* Float32 inputs are not saturated at 65535: those pixels get a value */
            if (t == GDT_Float32 && (g_dn[2][i] == 65535 || g_dn[3][i] == 65535)) continue;
            if (is_nodata(got[i]) != is_nodata(want[i]) ||
                (!is_nodata(got[i]) && fabs(got[i] - want[i]) > 2e-7))
                fail_msg("%s %s pixel %zu: %.9g, want %.9g", layouts[l][0], layouts[l][1], i,
                         got[i], want[i]);
        }
        free(got), free(out), free(red), free(nir);
    }
    free(want), free(ref);
}

static void bands_on_mixed_grids(void **state)
{
    (void)state;
    /* swir22 given at twice the pixel size: aligned onto the finer grid, nearest. */
    char cmd[4096], *text, *out = tu_path(g_dir, "nbr-mixed.tif");
    snprintf(cmd, sizeof cmd,
             "%s index nbr -o %s --nir %s:4 --swir22 %s --scale 1e-4 --offset -0.1 -q", MW_CLI, out,
             g_stack, g_swir20);
    int rc = tu_run(cmd, &text);
    if (rc) fail_msg("%s", text);
    free(text);
    /* The output covers both inputs: the 20 m band reaches one 10 m column further. */
    const int OW = 2 * CW;
    float *v = read_out(out, OW);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < OW; x++) {
            size_t o = (size_t)y * OW + x;
            if (x >= W) { /* no nir there */
                assert_true(is_nodata(v[o]));
                continue;
            }
            uint16_t d =
                g_coarse[(size_t)(y / 2) * CW + x / 2]; /* the coarse pixel holding this one */
            double s2 = d == 0 || d == 65535 ? NAN : d * 1e-4 - 0.1;
            double want = in_range(nd(rho(3, (size_t)y * W + x), s2), -1, 1);
            if (isnan(want))
                assert_true(is_nodata(v[o]));
            else if (fabs(v[o] - want) > 2e-7)
                fail_msg("pixel %d,%d: %g want %g", x, y, v[o], want);
        }
    free(v), free(out);
}

static void bad_calls_are_clear(void **state)
{
    (void)state;
    char cmd[2048], *text;
    snprintf(cmd, sizeof cmd, "%s index ndvi -o %s/x.tif --red %s:3", MW_CLI, g_dir, g_stack);
    assert_int_equal(tu_run(cmd, &text), 2);
    assert_non_null(strstr(text, "index 'ndvi' needs the 'nir' band"));
    free(text);
    snprintf(cmd, sizeof cmd, "%s index ndvvi -o %s/x.tif", MW_CLI, g_dir);
    assert_int_equal(tu_run(cmd, &text), 2);
    assert_non_null(strstr(text, "unknown index 'ndvvi'"));
    free(text);
    snprintf(cmd, sizeof cmd, "%s index ndvi -o %s/x.tif --red %s:9 --nir %s:4", MW_CLI, g_dir,
             g_stack, g_stack);
    assert_int_equal(tu_run(cmd, &text), 2);
    assert_non_null(strstr(text, "has 7 band(s); band 9 was asked for red"));
    free(text);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("index");
    g_stack = tu_path(g_dir, "stack.tif");
    g_swir20 = tu_path(g_dir, "swir22_20m.tif");
    /* Random DNs, then edge values planted at known places. */
    for (int b = 0; b < 7; b++)
        for (size_t i = 0; i < (size_t)W * H; i++) {
            double u = mw_unif(mw_hash4(42, (uint64_t)b, i, 0));
            g_dn[b][i] = (uint16_t)(1 + u * 6000);
        }
    for (size_t i = 0; i < (size_t)W * H; i += 97)
        g_dn[i % 7][i] = 0; /* no data */
    for (size_t i = 5; i < (size_t)W * H; i += 101)
        g_dn[(i / 3) % 7][i] = 65535;               /* saturated */
    for (size_t i = 11; i < (size_t)W * H; i += 89) /* zero sums after the offset */
        for (int b = 0; b < 7; b++)
            g_dn[b][i] = (uint16_t)(b % 2 ? 1500 : 500);
    for (size_t i = 23; i < (size_t)W * H; i += 53)
        g_dn[2][i] = 300; /* negative red after the offset */
    write_raster(g_stack, W, H, 7, &g_dn[0][0], 10);
    for (size_t i = 0; i < (size_t)CW * CH; i++)
        g_coarse[i] = i % 61 == 0 ? 0 : (uint16_t)(1 + mw_unif(mw_hash4(43, i, 0, 0)) * 6000);
    write_raster(g_swir20, CW, CH, 1, g_coarse, 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir), free(g_stack), free(g_swir20);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_index_against_its_formula),
        cmocka_unit_test(same_bytes_for_any_threads_and_strips),
        cmocka_unit_test(any_input_layout_gives_the_same_values),
        cmocka_unit_test(bands_on_mixed_grids),
        cmocka_unit_test(bad_calls_are_clear),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
