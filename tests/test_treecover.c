/* Reference forest figures (minewatch treecover): exact pixel coverage against GEOS, ellipsoidal
 * cell areas against numerical integration, the real Hansen/GFW crops of Sierra de Neiba against
 * an independent GDAL/numpy/scipy computation (tests/treecover_reference.py) and against
 * mapme.biodiversity's published figures, Hansen-style tiles served over loopback HTTP (only the
 * windows read, every tile a polygon touches), thread and memory invariance, and bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "http_fixture.h"
#include "minewatch/error.h"
#include "minewatch/lonlat.h"
#include "minewatch/polygon_coverage.h"
#include "test_util.h"

#define DATA MW_SOURCE_DIR "/../shared/data/gfw_emissions_sierra_de_neiba"
#define TC DATA "/Hansen_GFC-2023-v1.11_treecover2000_20N_080W.tif"
#define LY DATA "/Hansen_GFC-2023-v1.11_lossyear_20N_080W.tif"
#define EM DATA "/gfw_forest_carbon_gross_emissions_Mg_CO2e_px_20N_080W.tif"
#define PY "/usr/bin/python3 " MW_SOURCE_DIR "/tests/treecover_reference.py"

static char *g_dir;

static char *fmt(const char *f, ...) MW_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char buf[8192];
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return strdup(buf);
}

static int cli(char **out, const char *f, ...) MW_PRINTF(2, 3);
static int cli(char **out, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char args[8192];
    vsnprintf(args, sizeof args, f, ap);
    va_end(ap);
    char *cmd = fmt("%s %s", MW_CLI, args);
    int rc = tu_run(cmd, out);
    free(cmd);
    return rc;
}

/* ---- exact coverage ---- */

static double geos_fraction(OGRGeometryH poly, int col, int row)
{
    OGRGeometryH r = OGR_G_CreateGeometry(wkbLinearRing), sq = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddPoint_2D(r, col, row), OGR_G_AddPoint_2D(r, col + 1, row);
    OGR_G_AddPoint_2D(r, col + 1, row + 1), OGR_G_AddPoint_2D(r, col, row + 1);
    OGR_G_AddPoint_2D(r, col, row);
    OGR_G_AddGeometryDirectly(sq, r);
    OGRGeometryH x = OGR_G_Intersection(sq, poly);
    double a = x ? OGR_G_Area(x) : 0;
    if (x) OGR_G_DestroyGeometry(x);
    OGR_G_DestroyGeometry(sq);
    return a;
}

/* A star-shaped ring of n vertices around (cx, cy), radii in [r0, r1], in either direction. */
static double *star(unsigned *seed, int n, double cx, double cy, double r0, double r1, int cw)
{
    double *xy = malloc(2 * (size_t)n * sizeof *xy);
    for (int i = 0; i < n; i++) {
        double t = 2 * 3.14159265358979 * i / n * (cw ? -1 : 1);
        double r = r0 + (r1 - r0) * (rand_r(seed) / (double)RAND_MAX);
        xy[2 * i] = cx + r * cos(t), xy[2 * i + 1] = cy + r * sin(t);
    }
    return xy;
}

static OGRGeometryH ring_geom(const double *xy, int n)
{
    OGRGeometryH r = OGR_G_CreateGeometry(wkbLinearRing);
    for (int i = 0; i <= n; i++)
        OGR_G_AddPoint_2D(r, xy[2 * (i % n)], xy[2 * (i % n) + 1]);
    return r;
}

static void coverage_matches_geos(void **state)
{
    (void)state;
    unsigned seed = 7;
    double worst = 0, sum = 0, expect_sum = 0;
    for (int trial = 0; trial < 40; trial++) {
        const int w = 40, h = 30;
        /* an outer ring that may reach outside the window, a hole, and a second part */
        double cx = 5 + 30 * (rand_r(&seed) / (double)RAND_MAX);
        double cy = 5 + 20 * (rand_r(&seed) / (double)RAND_MAX);
        int cw = trial % 2;
        double *outer = star(&seed, 24, cx, cy, 6, 14, cw);
        double *hole = star(&seed, 9, cx, cy, 1, 3, !cw);
        double *part = star(&seed, 7, 36, 3, 1.2, 2.6, trial % 3 == 0);
        mw_ring rings[3] = {{outer, 24, 0}, {hole, 9, 1}, {part, 7, 0}};
        OGRGeometryH p1 = OGR_G_CreateGeometry(wkbPolygon), p2 = OGR_G_CreateGeometry(wkbPolygon);
        OGR_G_AddGeometryDirectly(p1, ring_geom(outer, 24));
        OGR_G_AddGeometryDirectly(p1, ring_geom(hole, 9));
        OGR_G_AddGeometryDirectly(p2, ring_geom(part, 7));
        /* the parts of a valid multipolygon do not overlap: the second only where it is apart */
        const int apart = !OGR_G_Intersects(p1, p2);
        OGRGeometryH mp = apart ? OGR_G_Union(p1, p2) : OGR_G_Clone(p1);
        float *cov = malloc(sizeof(float) * w * h);
        assert_int_equal(mw_polygon_coverage(rings, apart ? 3 : 2, w, h, cov), 0);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double want = geos_fraction(mp, x, y), got = cov[y * w + x];
                double d = fabs(want - got);
                if (d > worst) worst = d;
                sum += got, expect_sum += want;
                if (d > 1e-5)
                    fail_msg("trial %d cell (%d, %d): coverage %.9f, GEOS %.9f", trial, x, y, got,
                             want);
                if ((want == 0) != (got == 0) && d > 1e-9)
                    fail_msg("trial %d cell (%d, %d): in/out disagree", trial, x, y);
            }
        OGR_G_DestroyGeometry(p1), OGR_G_DestroyGeometry(p2), OGR_G_DestroyGeometry(mp);
        free(outer), free(hole), free(part), free(cov);
    }
    fprintf(stderr,
            "coverage: 40 polygons x 1200 cells, largest difference from GEOS %.2e, "
            "total %.6f against %.6f\n",
            worst, sum, expect_sum);
}

/* ---- ellipsoidal cell areas ---- */

static double integrated_area(double lat0, double lat1, double dlon)
{
    /* Simpson's rule on M(phi) N(phi) cos(phi) */
    const double a = 6378137.0, f = 1 / 298.257223563, e2 = f * (2 - f),
                 rad = 3.14159265358979323846 / 180;
    const int n = 2000;
    double h = (lat1 - lat0) * rad / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double phi = lat0 * rad + i * h, s2 = sin(phi) * sin(phi);
        double v = a * (1 - e2) / pow(1 - e2 * s2, 1.5) * a / sqrt(1 - e2 * s2) * cos(phi);
        s += v * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    return fabs(s * h / 3 * dlon * rad);
}

static void ellipsoid_cell_areas(void **state)
{
    (void)state;
    /* the whole ellipsoid: 510,065,621.7 km^2 (WGS 84) */
    double total = mw_ellipsoid_cell_area_m2(-90, 90, 360) / 1e6;
    assert_true(fabs(total - 510065621.7) < 1.0);
    const double lats[] = {0, 18.65, 45, -33.3, 69.9};
    for (size_t i = 0; i < sizeof lats / sizeof *lats; i++) {
        double got = mw_ellipsoid_cell_area_m2(lats[i], lats[i] + 0.00025, 0.00025);
        double want = integrated_area(lats[i], lats[i] + 0.00025, 0.00025);
        if (fabs(got / want - 1) > 1e-9)
            fail_msg("lat %.2f: %.6f m^2 against %.6f", lats[i], got, want);
    }
}

/* ---- the real crops ---- */

static int have_data(void)
{
    return access(TC, R_OK) == 0;
}

/* treecover over the shared data and the independent computation: the same CSV. */
static void check_against_reference(const char *years, const char *cover, const char *size)
{
    char *out = fmt("%s/real-%s-%s-%s", g_dir, years, cover, size), *text, *ref;
    int rc = cli(&text,
                 "treecover " DATA "/gfw_sample.gpkg --treecover " TC " --lossyear " LY
                 " --emissions " EM " --years %s --min-cover %s --min-size-ha %s -o %s -q",
                 years, cover, size, out);
    if (rc != 0) fail_msg("treecover exited %d:\n%s", rc, text);
    char y0[8], y1[8];
    sscanf(years, "%7[0-9]-%7[0-9]", y0, y1);
    char *cmd =
        fmt(PY " " DATA "/gfw_sample.gpkg " TC " " LY " " EM " %s %s %s %s", y0, y1, cover, size);
    assert_int_equal(tu_run(cmd, &ref), 0);
    char *csv = fmt("%s/treecover.csv", out);
    char *got = tu_read(csv, NULL);
    assert_non_null(got);
    if (strcmp(got, ref) != 0)
        fail_msg("years %s, cover %s, size %s: minewatch\n%s\nreference\n%s", years, cover, size,
                 got, ref);
    free(cmd), free(csv), free(got), free(ref), free(text), free(out);
}

static void sierra_de_neiba_matches_independent_computation(void **state)
{
    (void)state;
    if (!have_data()) {
        if (getenv("CI")) fail_msg("shared data missing: %s", TC);
        skip();
    }
    check_against_reference("2000-2005", "10", "1");
    check_against_reference("2003-2023", "30", "5");
    check_against_reference("2010-2012", "0", "0");
}

/* mapme.biodiversity 0.9 (exactextractr) published these for the same crops and polygon
 * (tests/testthat/_snaps/calc_treecover_area.md): tree cover 2000-2005 with min_cover 10 and
 * min_size 1. exactextractr measures cells on a sphere of radius 6378137 m; minewatch on the
 * WGS 84 ellipsoid, which at 18.66 N gives (1 - e^2) / (1 - e^2 sin^2 phi)^2 = 0.99467 of that.
 * Scaled by that ratio, minewatch's figures agree within 0.05 % (patches and emissions are
 * formed differently, see minewatch/treecover.h). */
static void sierra_de_neiba_agrees_with_mapme(void **state)
{
    (void)state;
    if (!have_data()) skip();
    const double mapme_cover[] = {2054.559, 2054.046, 2052.358, 2018.501, 2009.106, 2004.831};
    char *out = fmt("%s/real-2000-2005-10-1/treecover.csv", g_dir);
    char *csv = tu_read(out, NULL);
    assert_non_null(csv);
    const double e2 = 0.0066943799901413165, phi = 18.659 * 3.14159265358979 / 180;
    const double sphere_to_ellipsoid = (1 - e2) / pow(1 - e2 * sin(phi) * sin(phi), 2);
    char *line = strchr(csv, '\n') + 1;
    for (int i = 0; i < 6; i++) {
        int year;
        double cover, loss;
        assert_int_equal(sscanf(line, "1,%d,%lf,%lf", &year, &cover, &loss), 3);
        double want = mapme_cover[i] * sphere_to_ellipsoid;
        if (fabs(cover / want - 1) > 5e-4)
            fail_msg("%d: %.3f ha against mapme's %.3f x %.5f = %.3f", year, cover, mapme_cover[i],
                     sphere_to_ellipsoid, want);
        line = strchr(line, '\n') + 1;
    }
    free(csv), free(out);
}

/* ---- Hansen-style tiles over loopback HTTP ---- */

#define TILE_PX 1000 /* 0.01 degree pixels: small tiles, Hansen's layout */

static uint32_t hash(uint32_t x)
{
    x ^= x >> 16, x *= 0x7feb352d, x ^= x >> 15, x *= 0x846ca68b, x ^= x >> 16;
    return x;
}

/* One synthetic layer tile (kind 0 treecover, 1 lossyear, 2 emissions) named like Hansen's. */
static void write_tile(const char *dir, int kind, int top, int left)
{
    static const char *const names[] = {"treecover2000", "lossyear", "emissions"};
    char *path = fmt("%s/%s_%02d%c_%03d%c.tif", dir, names[kind], abs(top), top >= 0 ? 'N' : 'S',
                     abs(left), left >= 0 ? 'E' : 'W');
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, TILE_PX, TILE_PX, 1,
                                 kind == 2 ? GDT_Float32 : GDT_Byte, co);
    CSLDestroy(co);
    double gt[6] = {left, 10.0 / TILE_PX, 0, top, 0, -10.0 / TILE_PX};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 4326);
    char *wkt = NULL;
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    float *row = malloc(sizeof(float) * TILE_PX);
    uint8_t *brow = malloc(TILE_PX);
    for (int y = 0; y < TILE_PX; y++) {
        for (int x = 0; x < TILE_PX; x++) {
            /* global pixel coordinates: the layers agree across tile edges */
            uint32_t gx = (uint32_t)((left + 180) * (TILE_PX / 10) + x);
            uint32_t gy = (uint32_t)((90 - top) * (TILE_PX / 10) + y);
            uint32_t blob = hash((gx / 7) * 7919u + (gy / 5)); /* patchy forest */
            uint32_t px = hash(gx * 40503u + gy);
            uint8_t cover = (uint8_t)(blob % 100 < 70 ? 20 + px % 81 : px % 25);
            uint8_t ly = (uint8_t)(px % 9 == 0 ? 1 + (px >> 8) % 23 : 0);
            brow[x] = kind == 0 ? cover : ly;
            row[x] = ly ? 10.0f + (float)((px >> 4) % 300) / 10.0f : NAN;
        }
        assert_int_equal(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, y, TILE_PX, 1,
                                      kind == 2 ? (void *)row : (void *)brow, TILE_PX, 1,
                                      kind == 2 ? GDT_Float32 : GDT_Byte, 0, 0),
                         CE_None);
    }
    if (kind == 2) GDALSetRasterNoDataValue(GDALGetRasterBand(ds, 1), NAN);
    GDALClose(ds);
    free(row), free(brow), free(path);
}

/* An AOI GeoJSON of polygons (WKT list) with an id each. */
static char *write_aoi(const char *name, const char *const *wkt, int n)
{
    char *path = fmt("%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    fputs("{\"type\":\"FeatureCollection\",\"features\":[", f);
    for (int i = 0; i < n; i++) {
        OGRGeometryH g = NULL;
        char *w = (char *)wkt[i];
        assert_int_equal(OGR_G_CreateFromWkt(&w, NULL, &g), OGRERR_NONE);
        char *js = OGR_G_ExportToJson(g);
        fprintf(f, "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"p%d\"},\"geometry\":%s}",
                i ? "," : "", i + 1, js);
        CPLFree(js);
        OGR_G_DestroyGeometry(g);
    }
    fputs("]}\n", f);
    fclose(f);
    return path;
}

static char *g_tiles;

static void make_tiles(void)
{
    if (g_tiles) return;
    g_tiles = fmt("%s/tiles", g_dir);
    mkdir(g_tiles, 0755);
    for (int kind = 0; kind < 3; kind++)
        for (int top = 10; top <= 20; top += 10)
            for (int left = -80; left <= -70; left += 10)
                write_tile(g_tiles, kind, top, left);
    /* the same four tiles as one mosaic: the single-file reading of the same pixels */
    static const char *const names[] = {"treecover2000", "lossyear", "emissions"};
    for (int kind = 0; kind < 3; kind++) {
        char *cmd =
            fmt("cd %s && gdalbuildvrt -q %s.vrt %s_*.tif", g_tiles, names[kind], names[kind]);
        assert_int_equal(tu_run(cmd, NULL), 0);
        free(cmd);
    }
}

static long long logged_bytes(const char *log, const char *needle, int *requests)
{
    char *text = tu_read(log, NULL);
    long long bytes = 0;
    *requests = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (strstr(line, needle)) {
            (*requests)++;
            const char *b = strstr(line, "\"bytes\": ");
            if (b) bytes += atoll(b + 9);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return bytes;
}

static void tiles_over_http_read_only_the_windows(void **state)
{
    (void)state;
    make_tiles();
    /* across the corner of the four tiles at (70 W, 10 N); one inside a tile with a hole */
    const char *const polys[] = {
        "POLYGON((-70.31 9.77,-69.62 9.71,-69.70 10.28,-70.18 10.36,-70.31 9.77))",
        ("POLYGON((-75.2 15.1,-74.6 15.2,-74.7 15.8,-75.3 15.7,-75.2 15.1),"
         "(-75.0 15.4,-74.9 15.4,-74.9 15.5,-75.0 15.4))"),
        "POLYGON((-79.91 19.91,-79.80 19.92,-79.85 19.80,-79.91 19.91))"};
    char *aoi = write_aoi("tiles-aoi.geojson", polys, 3);
    char *log = fmt("%s/tiles-http.log", g_dir);
    http_server srv =
        http_server_start(MW_SOURCE_DIR "/tests/stac_test_server.py", g_tiles, log, NULL);
    assert_true(srv.port > 0);
    char *out_http = fmt("%s/tiles-http", g_dir), *out_local = fmt("%s/tiles-local", g_dir), *text;
    int rc = cli(&text,
                 "treecover %s --treecover 'http://127.0.0.1:%d/treecover2000_{lat}_{lon}.tif' "
                 "--lossyear 'http://127.0.0.1:%d/lossyear_{lat}_{lon}.tif' "
                 "--emissions 'http://127.0.0.1:%d/emissions_{lat}_{lon}.tif' --years 2000-2023 "
                 "--min-cover 30 --min-size-ha 2 -o %s -q",
                 aoi, srv.port, srv.port, srv.port, out_http);
    http_server_stop(&srv);
    if (rc != 0) fail_msg("treecover over HTTP exited %d:\n%s", rc, text);
    free(text);
    rc = cli(&text,
             "treecover %s --treecover %s/treecover2000.vrt --lossyear %s/lossyear.vrt "
             "--emissions %s/emissions.vrt --years 2000-2023 --min-cover 30 --min-size-ha 2 -o %s "
             "-q",
             aoi, g_tiles, g_tiles, g_tiles, out_local);
    if (rc != 0) fail_msg("treecover on the mosaic exited %d:\n%s", rc, text);
    free(text);
    char *a = fmt("%s/treecover.csv", out_http), *b = fmt("%s/treecover.csv", out_local);
    if (!tu_same_file(a, b)) {
        char *x = tu_read(a, NULL), *y = tu_read(b, NULL);
        fail_msg("tiles over HTTP and the local mosaic differ:\n%s\n---\n%s", x, y);
    }
    /* every tile the corner polygon touches was read, and only windows of them */
    static const char *const tiles[] = {"20N_080W", "20N_070W", "10N_080W", "10N_070W"};
    for (int i = 0; i < 4; i++) {
        char *needle = fmt("treecover2000_%s", tiles[i]);
        int requests;
        long long bytes = logged_bytes(log, needle, &requests);
        struct stat st;
        char *file = fmt("%s/treecover2000_%s.tif", g_tiles, tiles[i]);
        assert_int_equal(stat(file, &st), 0);
        fprintf(stderr, "tile %s: %d requests, %lld of %lld bytes\n", tiles[i], requests, bytes,
                (long long)st.st_size);
        assert_true(requests > 0);
        assert_true(bytes < st.st_size / 2);
        free(needle), free(file);
    }
    /* the figures are real: the corner polygon has forest and loss */
    char *csv = tu_read(a, NULL);
    double cover = 0;
    assert_int_equal(sscanf(strstr(csv, "p1,2000,"), "p1,2000,%lf", &cover), 1);
    assert_true(cover > 1000);
    free(csv), free(a), free(b), free(out_http), free(out_local), free(log), free(aoi);
}

/* Same rows whatever the threads and the memory budget (batches of other sizes). */
static void figures_do_not_depend_on_threads_or_memory(void **state)
{
    (void)state;
    make_tiles();
    enum { N = 120 };
    char *polys[N];
    unsigned seed = 11;
    for (int i = 0; i < N; i++) {
        double cx = -79.5 + 9 * (rand_r(&seed) / (double)RAND_MAX);
        double cy = 10.5 + 9 * (rand_r(&seed) / (double)RAND_MAX);
        double r = 0.02 + 0.3 * (rand_r(&seed) / (double)RAND_MAX);
        polys[i] = fmt("POLYGON((%.5f %.5f,%.5f %.5f,%.5f %.5f,%.5f %.5f,%.5f %.5f))", cx - r, cy,
                       cx, cy - 0.7 * r, cx + r, cy + 0.1 * r, cx + 0.2 * r, cy + r, cx - r, cy);
    }
    char *aoi = write_aoi("many.geojson", (const char *const *)polys, N);
    const char *runs[][2] = {{"1", "1024"}, {"2", "1024"}, {"2", "64"}};
    char *first_csv = NULL, *first_gpkg = NULL;
    for (int r = 0; r < 3; r++) {
        char *out = fmt("%s/many-%d", g_dir, r), *text;
        int rc = cli(&text,
                     "treecover %s --treecover %s/treecover2000.vrt --lossyear %s/lossyear.vrt "
                     "--emissions %s/emissions.vrt --years 2000-2023 --min-cover 30 "
                     "--min-size-ha 1 -o %s -q --threads %s --mem %s",
                     aoi, g_tiles, g_tiles, g_tiles, out, runs[r][0], runs[r][1]);
        if (rc != 0) fail_msg("run %d exited %d:\n%s", r, rc, text);
        free(text);
        char *csv = fmt("%s/treecover.csv", out), *gpkg = fmt("%s/treecover.gpkg", out);
        if (!first_csv) {
            first_csv = csv, first_gpkg = gpkg;
        } else {
            assert_true(tu_same_file(first_csv, csv));
            assert_true(tu_same_file(first_gpkg, gpkg));
            free(csv), free(gpkg);
        }
        free(out);
    }
    size_t len;
    char *text = tu_read(first_csv, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 1 + N * 24);
    free(text), free(first_csv), free(first_gpkg), free(aoi);
    for (int i = 0; i < N; i++)
        free(polys[i]);
}

/* ---- the same figures from `run` ---- */

static double csv_value(const char *csv, const char *row_prefix, int col)
{
    const char *r = strstr(csv, row_prefix);
    if (!r) return NAN;
    for (int i = 0; i < col; i++) {
        r = strchr(r, ',');
        if (!r) return NAN;
        r++;
    }
    return *r == ',' || *r == '\n' ? NAN : atof(r);
}

static int column_of(const char *csv, const char *name)
{
    int col = 0;
    for (const char *p = csv; *p && *p != '\n'; p++) {
        if (p == csv || p[-1] == ',')
            if (strncmp(p, name, strlen(name)) == 0 &&
                (p[strlen(name)] == ',' || p[strlen(name)] == '\n'))
                return col;
        if (*p == ',') col++;
    }
    return -1;
}

static void run_reports_reference_forest(void **state)
{
    (void)state;
    if (!have_data()) skip();
    /* the sample polygon as a site of a catalogue */
    GDALDatasetH ds = GDALOpenEx(DATA "/gfw_sample.gpkg", GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRFeatureH f = OGR_L_GetNextFeature(GDALDatasetGetLayer(ds, 0));
    char *geo = OGR_G_ExportToJson(OGR_F_GetGeometryRef(f));
    char *cat = fmt("%s/neiba-sites.geojson", g_dir);
    char *text = fmt("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
                     "\"properties\":{\"id\":\"neiba\",\"name\":\"Sierra de Neiba sample\","
                     "\"kind\":\"mine\",\"commodities\":\"bauxite\",\"country\":\"DO\"},"
                     "\"geometry\":%s}]}",
                     geo);
    tu_write(cat, text);
    free(text), CPLFree(geo), OGR_F_Destroy(f), GDALClose(ds);
    char *pl = fmt("%s/neiba.yaml", g_dir);
    text = fmt("name: neiba\nsites: {catalogue: %s}\n"
               "source: {type: simulator, seed: 5, scenes_per_period: 2, cloud_cover: 0.1}\n"
               "periods:\n  baseline: {start: 2019-06-01, end: 2019-09-30}\n  monitoring:\n"
               "    - {name: \"2021\", start: 2021-06-01, end: 2021-09-30}\n"
               "    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"
               "grid: {pixel_size_m: 30, buffer_m: 0}\noutputs: {formats: [csv]}\n"
               "reference_forest:\n  treecover: %s\n  lossyear: %s\n  emissions: %s\n"
               "  min_cover: 10\n  min_size_ha: 1\n",
               cat, TC, LY, EM);
    tu_write(pl, text);
    free(text);
    char *out = fmt("%s/neiba-run", g_dir);
    int rc = cli(&text, "run %s -o %s -q", pl, out);
    if (rc != 0) fail_msg("run exited %d:\n%s", rc, text);
    free(text);
    /* the command on the same polygon */
    char *ref = fmt("%s/neiba-ref", g_dir);
    rc = cli(&text,
             "treecover %s --treecover " TC " --lossyear " LY " --emissions " EM
             " --years 2000-2023 --min-cover 10 --min-size-ha 1 -o %s -q",
             cat, ref);
    if (rc != 0) fail_msg("treecover exited %d:\n%s", rc, text);
    free(text);
    char *p1 = fmt("%s/indicators.csv", out), *p2 = fmt("%s/treecover.csv", ref),
         *p3 = fmt("%s/reference_forest.csv", out);
    char *ind = tu_read(p1, NULL), *tc = tu_read(p2, NULL), *rf = tu_read(p3, NULL);
    assert_non_null(ind), assert_non_null(tc), assert_non_null(rf);
    /* the yearly table is the command's, row for row */
    assert_string_equal(rf, tc);
    int ccover = column_of(ind, "gfw_treecover_ha"), closs = column_of(ind, "gfw_loss_ha"),
        cemis = column_of(ind, "gfw_emissions_mg_co2e");
    assert_true(ccover > 0 && closs > 0 && cemis > 0);
    const char *per[] = {"baseline", "2021", "2023"};
    const int year[] = {2019, 2021, 2023};
    for (int k = 0; k < 3; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "neiba,Sierra de Neiba sample,%s,", per[k]);
        char yrow[32];
        snprintf(yrow, sizeof yrow, "neiba,%d,", year[k]);
        double want_cover = csv_value(tc, yrow, 2), loss = 0, emis = 0;
        for (int y = 2020; y <= year[k]; y++) {
            snprintf(yrow, sizeof yrow, "neiba,%d,", y);
            loss += csv_value(tc, yrow, 3), emis += csv_value(tc, yrow, 4);
        }
        (void)prefix;
        double got_cover = tu_csv_value(p1, "neiba", per[k], "gfw_treecover_ha"),
               got_loss = tu_csv_value(p1, "neiba", per[k], "gfw_loss_ha"),
               got_emis = tu_csv_value(p1, "neiba", per[k], "gfw_emissions_mg_co2e");
        fprintf(stderr, "run %s: gfw_treecover_ha %.2f, gfw_loss_ha %.2f, emissions %.1f\n", per[k],
                got_cover, got_loss, got_emis);
        assert_true(fabs(got_cover - want_cover) < 0.006);
        assert_true(fabs(got_loss - loss) < 0.006);
        if (k > 0 && isnan(emis)) {
            assert_true(isnan(got_emis)); /* unknown emissions stay empty */
        } else {
            assert_true(fabs(got_emis - emis) < 0.06);
        }
    }
    free(ind), free(tc), free(rf), free(p1), free(p2), free(p3);
    free(out), free(ref), free(pl), free(cat);
}

/* protected_areas: distance, overlap and loss inside, against OGR/GDAL in Python. */
static void run_reports_protected_areas(void **state)
{
    (void)state;
    if (!have_data()) skip();
    GDALDatasetH ds = GDALOpenEx(DATA "/gfw_sample.gpkg", GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRFeatureH f = OGR_L_GetNextFeature(GDALDatasetGetLayer(ds, 0));
    char *geo = OGR_G_ExportToJson(OGR_F_GetGeometryRef(f));
    char *cat = fmt("%s/pa-sites.geojson", g_dir);
    char *text = fmt("{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"id\":\"neiba\",\"name\":\"n\","
                     "\"kind\":\"mine\",\"commodities\":\"bauxite\",\"country\":\"DO\"},"
                     "\"geometry\":%s},"
                     "{\"type\":\"Feature\",\"properties\":{\"id\":\"far\",\"name\":\"f\","
                     "\"kind\":\"mine\",\"commodities\":\"bauxite\",\"country\":\"DO\","
                     "\"radius_m\":500},\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                     "[-71.25,18.80]}}]}",
                     geo);
    tu_write(cat, text);
    free(text), CPLFree(geo), OGR_F_Destroy(f), GDALClose(ds);
    char *pl = fmt("%s/pa.yaml", g_dir);
    text =
        fmt("name: pa\nsites: {catalogue: %s}\n"
            "source: {type: simulator, seed: 9, scenes_per_period: 2, cloud_cover: 0.1}\n"
            "periods:\n  baseline: {start: 2019-06-01, end: 2019-09-30}\n  monitoring:\n"
            "    - {name: \"2021\", start: 2021-06-01, end: 2021-09-30}\n"
            "grid: {pixel_size_m: 30, buffer_m: 0}\noutputs: {formats: [csv, maps]}\n"
            "protected_areas: {path: " DATA "/sierra_de_neiba_478140.gpkg, name_field: WDPAID}\n",
            cat);
    tu_write(pl, text);
    free(text);
    char *out = fmt("%s/pa-run", g_dir);
    int rc = cli(&text, "run %s -o %s -q", pl, out);
    if (rc != 0) fail_msg("run exited %d:\n%s", rc, text);
    free(text);
    char *p1 = fmt("%s/indicators.csv", out);
    char *ind = tu_read(p1, NULL);
    int cdist = column_of(ind, "pa_distance_m"), cov = column_of(ind, "pa_overlap_ha"),
        closs = column_of(ind, "pa_forest_loss_ha"), cfl = column_of(ind, "forest_loss_ha");
    assert_true(cdist > 0 && cov > 0 && closs > 0 && cfl > 0);
    assert_non_null(strstr(ind, ",478140,"));
    /* the independent figures: GEOS through OGR's Python bindings, the loss map through GDAL */
    char *cmd =
        fmt("/usr/bin/python3 -c \"\n"
            "from osgeo import gdal, ogr, osr\n"
            "import numpy as np\n"
            "gdal.UseExceptions()\n"
            "d1 = ogr.Open('" DATA "/sierra_de_neiba_478140.gpkg')\n"
            "f1 = d1.GetLayer(0).GetNextFeature(); pa = f1.GetGeometryRef().Clone()\n"
            "utm = osr.SpatialReference(); utm.ImportFromEPSG(32619)\n"
            "utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)\n"
            "pa.TransformTo(utm)\n"
            "d2 = ogr.Open('%s'); s = d2.GetLayer(0)\n"
            "for f in s:\n"
            "    g = f.GetGeometryRef().Clone()\n"
            "    if g.GetGeometryName() == 'POINT':\n"
            "        g.TransformTo(utm); g = g.Buffer(500, 64)\n"
            "    else:\n"
            "        g.TransformTo(utm)\n"
            "    print(f.GetField('id'), '%%.1f' %% pa.Distance(g), '%%.2f' %% "
            "(pa.Intersection(g).GetArea() / 1e4))\n"
            "m = gdal.Open('%s/maps/neiba_forest_loss.tif')\n"
            "drv = gdal.GetDriverByName('MEM')\n"
            "r = drv.Create('', m.RasterXSize, m.RasterYSize, 1, gdal.GDT_Byte)\n"
            "r.SetGeoTransform(m.GetGeoTransform()); r.SetProjection(m.GetProjection())\n"
            "v = ogr.GetDriverByName('Memory').CreateDataSource(''); l = v.CreateLayer('p', utm)\n"
            "ft = ogr.Feature(l.GetLayerDefn()); ft.SetGeometry(pa); l.CreateFeature(ft)\n"
            "gdal.RasterizeLayer(r, [1], l, burn_values=[1])\n"
            "a = m.GetRasterBand(1).ReadAsArray(); inside = r.GetRasterBand(1).ReadAsArray() == 1\n"
            "gt = m.GetGeoTransform()\n"
            "print('loss', '%%.2f' %% (((a == 1) & inside).sum() * gt[1] * -gt[5] / 1e4))\n"
            "\"",
            cat, out);
    char *ref;
    rc = tu_run(cmd, &ref);
    if (rc != 0) fail_msg("reference failed:\n%s", ref);
    double d_neiba = -1, o_neiba = -1, d_far = -1, o_far = -1, loss = -1;
    char *l1 = strstr(ref, "neiba "), *l2 = strstr(ref, "far "), *l3 = strstr(ref, "loss ");
    assert_non_null(l1), assert_non_null(l2), assert_non_null(l3);
    sscanf(l1, "neiba %lf %lf", &d_neiba, &o_neiba);
    sscanf(l2, "far %lf %lf", &d_far, &o_far);
    sscanf(l3, "loss %lf", &loss);
    (void)cfl;
    double got_d = tu_csv_value(p1, "neiba", "2021", "pa_distance_m"),
           got_o = tu_csv_value(p1, "neiba", "2021", "pa_overlap_ha"),
           got_l = tu_csv_value(p1, "neiba", "2021", "pa_forest_loss_ha"),
           got_fl = tu_csv_value(p1, "neiba", "2021", "forest_loss_ha"),
           far_d = tu_csv_value(p1, "far", "2021", "pa_distance_m"),
           far_o = tu_csv_value(p1, "far", "2021", "pa_overlap_ha");
    fprintf(stderr,
            "protected areas: neiba distance %.0f m (GEOS %.1f), overlap %.2f ha (GEOS %.2f), "
            "loss inside %.2f of %.2f ha (GDAL %.2f); far %.0f m (GEOS %.1f), overlap %.2f\n",
            got_d, d_neiba, got_o, o_neiba, got_l, got_fl, loss, far_d, d_far, far_o);
    assert_true(got_d == 0 && d_neiba == 0);
    assert_true(fabs(got_o - o_neiba) <= 0.01 + 1e-3 * o_neiba);
    assert_true(fabs(got_l - loss) < 0.01);
    assert_true(got_l <= got_fl + 1e-9);
    assert_true(fabs(far_d - d_far) <= 1.0 + 1e-3 * d_far); /* the disc is a 64-gon in both */
    assert_true(far_d > 1000 && far_o == 0);
    free(ref), free(cmd), free(ind), free(p1), free(out), free(pl), free(cat);
}

/* ---- bad input ---- */

static void bad_input_is_named_and_the_rest_is_done(void **state)
{
    (void)state;
    make_tiles();
    const char *const polys[] = {
        "POLYGON((-75.2 15.1,-74.6 15.2,-74.7 15.8,-75.3 15.7,-75.2 15.1))",
        "POLYGON((10 50,10.2 50,10.2 50.2,10 50.2,10 50))", /* far outside the mosaic */
        "POLYGON((-70.5 19.5,-70.4 19.5,-70.4 19.6,-70.5 19.6,-70.5 19.5))"};
    char *aoi = write_aoi("bad.geojson", polys, 3);
    char *out = fmt("%s/bad", g_dir), *text;
    int rc = cli(&text,
                 "treecover %s --treecover %s/treecover2000.vrt --lossyear %s/lossyear.vrt "
                 "--years 2000-2003 --min-cover 30 --min-size-ha 1 -o %s",
                 aoi, g_tiles, g_tiles, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "p2"));
    assert_non_null(strstr(text, "outside the rasters"));
    free(text);
    char *csv_path = fmt("%s/treecover.csv", out);
    char *csv = tu_read(csv_path, NULL);
    /* the outside polygon's rows are there, empty; the others have figures; no emissions
     * layer: that column is empty, never 0 */
    assert_non_null(strstr(csv, "p2,2000,,,\n"));
    assert_non_null(strstr(csv, "p1,2000,"));
    assert_null(strstr(csv, "p1,2000,,"));
    assert_non_null(strstr(strstr(csv, "p3,2003,"), ",\n"));
    char *p1 = strstr(csv, "p1,2001,");
    double c, l;
    char tail[8] = "";
    assert_int_equal(sscanf(p1, "p1,2001,%lf,%lf,%7[^\n]", &c, &l, tail), 2);
    free(csv), free(csv_path), free(out);
    /* layers on different grids: a clear error, nothing written */
    char *shifted = fmt("%s/shifted.tif", g_dir);
    char *cmd = fmt("gdal_translate -q -a_ullr -80.005 20 -69.995 10 %s/lossyear_20N_080W.tif %s",
                    g_tiles, shifted);
    assert_int_equal(tu_run(cmd, NULL), 0);
    out = fmt("%s/bad-grid", g_dir);
    rc = cli(&text,
             "treecover %s --treecover %s/treecover2000_20N_080W.tif --lossyear %s --years "
             "2000-2003 --min-cover 30 --min-size-ha 1 -o %s",
             aoi, g_tiles, shifted, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "is not on the treecover2000 grid"));
    char *written = fmt("%s/treecover.csv", out);
    assert_int_not_equal(access(written, F_OK), 0);
    free(text), free(cmd), free(shifted), free(written), free(out);
    /* a point is not an area; a missing tile is named */
    const char *const pts[] = {"POINT(-75 15)"};
    char *paoi = write_aoi("point.geojson", pts, 1);
    out = fmt("%s/bad-point", g_dir);
    rc = cli(&text,
             "treecover %s --treecover %s/treecover2000.vrt --lossyear %s/lossyear.vrt --years "
             "2000-2003 --min-cover 30 --min-size-ha 1 -o %s",
             paoi, g_tiles, g_tiles, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "not a polygon"));
    free(text), free(out);
    out = fmt("%s/bad-tile", g_dir);
    const char *const far[] = {"POLYGON((-75.2 15.1,-74.6 15.2,-74.7 15.8,-75.2 15.1))",
                               "POLYGON((-55.2 15.1,-54.6 15.2,-54.7 15.8,-55.2 15.1))"};
    char *faoi = write_aoi("far.geojson", far, 2);
    rc = cli(&text,
             "treecover %s --treecover '%s/treecover2000_{lat}_{lon}.tif' --lossyear "
             "'%s/lossyear_{lat}_{lon}.tif' --years 2000-2003 --min-cover 30 --min-size-ha 1 -o %s",
             faoi, g_tiles, g_tiles, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "treecover2000_20N_060W.tif"));
    free(text), free(out), free(paoi), free(faoi), free(aoi);
    /* bad arguments */
    rc = cli(&text,
             "treecover x.gpkg --treecover a --lossyear b --years 1999-2005 --min-cover 10 "
             "--min-size-ha 1 -o %s/x",
             g_dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "--years"));
    free(text);
    rc = cli(&text,
             "treecover x.gpkg --treecover a --lossyear b --years 2000 --min-cover 101 "
             "--min-size-ha 1 -o %s/x",
             g_dir);
    assert_int_equal(rc, 2);
    free(text);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("treecover");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    free(g_tiles);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coverage_matches_geos),
        cmocka_unit_test(ellipsoid_cell_areas),
        cmocka_unit_test(sierra_de_neiba_matches_independent_computation),
        cmocka_unit_test(sierra_de_neiba_agrees_with_mapme),
        cmocka_unit_test(tiles_over_http_read_only_the_windows),
        cmocka_unit_test(figures_do_not_depend_on_threads_or_memory),
        cmocka_unit_test(bad_input_is_named_and_the_rest_is_done),
        cmocka_unit_test(run_reports_reference_forest),
        cmocka_unit_test(run_reports_protected_areas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
