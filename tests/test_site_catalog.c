/* The site catalogue in aoi/ loads from any OGR format; bad sites are named; grids are right. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "minewatch/site.h"
#include "test_util.h"

#define AOI MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson"
static char *g_dir;

static int count_with(const mw_site_catalog *c, const char *commodity)
{
    int n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += strstr(c->sites[i].commodities, commodity) != NULL;
    return n;
}

static int count_kind(const mw_site_catalog *c, const char *kind)
{
    int n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += strcmp(c->sites[i].kind, kind) == 0;
    return n;
}

static void catalogue_covers_the_supply_chain(void **state)
{
    (void)state;
    mw_site_catalog c;
    assert_int_equal(mw_site_catalog_load(AOI, &c), 0);
    assert_true(c.n >= 20);
    for (size_t i = 0; i < c.n; i++) {
        const mw_site *s = &c.sites[i];
        assert_true(*s->id && *s->name && *s->kind && *s->commodities && *s->country);
        assert_true(*s->operator_name && *s->supply_node && *s->source);
        assert_true(strlen(s->country) == 2);
        assert_true(fabs(s->lat) <= 84 && fabs(s->lon) <= 180);
    }
    assert_true(count_with(&c, "cobalt") >= 2);
    assert_true(count_with(&c, "lithium") >= 3);
    assert_true(count_with(&c, "nickel") >= 3);
    assert_true(count_with(&c, "graphite") >= 1);
    assert_true(count_with(&c, "rare_earths") >= 2);
    assert_true(count_with(&c, "bauxite") >= 2);
    assert_true(count_kind(&c, "brine_field") >= 1);
    assert_true(count_kind(&c, "refinery") >= 1);
    assert_true(count_kind(&c, "smelter") >= 1);
    const mw_site *k = mw_site_catalog_find(&c, "cd-kamoto");
    assert_non_null(k);
    assert_true(k->radius_m == 2000);
    assert_true(k->lat < -10 && k->lat > -11.5 && k->lon > 25 && k->lon < 26); /* Kolwezi */
    int polygons = 0;
    for (size_t i = 0; i < c.n; i++)
        polygons += c.sites[i].radius_m == 0;
    assert_true(polygons >= 3);
    mw_site_catalog_free(&c);
}

static void any_ogr_format_loads(void **state)
{
    (void)state;
    char *gpkg = tu_path(g_dir, "sites.gpkg");
    GDALDatasetH src = GDALOpenEx(AOI, GDAL_OF_VECTOR, NULL, NULL, NULL);
    char *argv[] = {"-f", "GPKG", "-t_srs", "EPSG:3857", NULL};
    GDALVectorTranslateOptions *o = GDALVectorTranslateOptionsNew(argv, NULL);
    GDALDatasetH out = GDALVectorTranslate(gpkg, NULL, 1, &src, o, NULL);
    assert_non_null(out);
    GDALClose(out);
    GDALVectorTranslateOptionsFree(o);
    GDALClose(src);
    mw_site_catalog a, b;
    assert_int_equal(mw_site_catalog_load(AOI, &a), 0);
    assert_int_equal(mw_site_catalog_load(gpkg, &b), 0); /* reprojected back to WGS 84 on load */
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        const mw_site *s = mw_site_catalog_find(&b, a.sites[i].id);
        assert_non_null(s);
        assert_true(fabs(s->lat - a.sites[i].lat) < 1e-7 && fabs(s->lon - a.sites[i].lon) < 1e-7);
        assert_true(s->radius_m == a.sites[i].radius_m);
    }
    mw_site_catalog_free(&a);
    mw_site_catalog_free(&b);
    free(gpkg);
}

static void expect_load_error(const char *geojson_features, const char *needle)
{
    char *f = tu_path(g_dir, "bad.geojson");
    char *text = malloc(strlen(geojson_features) + 128);
    sprintf(text, "{\"type\":\"FeatureCollection\",\"features\":[%s]}", geojson_features);
    tu_write(f, text);
    mw_site_catalog c;
    assert_int_equal(mw_site_catalog_load(f, &c), -1);
    assert_int_equal(mw_error_get_kind(), MW_ERR_INPUT);
    if (!strstr(mw_error_message(), needle) || !strstr(mw_error_message(), f))
        fail_msg("got '%s', want the file and '%s'", mw_error_message(), needle);
    mw_error_clear();
    free(text);
    free(f);
}

#define PT(id, lon, lat, extra)                                                                    \
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"" id                                           \
    "\",\"name\":\"x\",\"kind\":\"mine\"" extra                                                    \
    "},\"geometry\":{\"type\":\"Point\",\"coordinates\":[" #lon "," #lat "]}}"

static void bad_sites_are_named(void **state)
{
    (void)state;
    expect_load_error(PT("p1", 25.4, -10.7, ""),
                      "site 'p1' is a point but has no valid 'radius_m'");
    expect_load_error(
        PT("d1", 25.4, -10.7, ",\"radius_m\":100") "," PT("d1", 25.5, -10.7, ",\"radius_m\":100"),
        "site id 'd1' appears twice");
    expect_load_error(PT("s1", -10.7, 95.0, ",\"radius_m\":100"), "are lon and lat swapped?");
    expect_load_error("{\"type\":\"Feature\",\"properties\":{\"id\":\"l1\"},\"geometry\":{\"type\":"
                      "\"LineString\",\"coordinates\":[[0,0],[1,1]]}}",
                      "site 'l1' has a Line String geometry");
    expect_load_error("{\"type\":\"Feature\",\"properties\":{\"id\":\"b1\"},\"geometry\":{\"type\":"
                      "\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}",
                      "site 'b1' has an invalid polygon");
    mw_site_catalog c;
    assert_int_equal(mw_site_catalog_load("/nonexistent/sites.geojson", &c), -1);
    assert_non_null(
        strstr(mw_error_message(), "cannot open site catalogue '/nonexistent/sites.geojson'"));
}

static void site_grid_and_mask(void **state)
{
    (void)state;
    mw_site_catalog c;
    assert_int_equal(mw_site_catalog_load(AOI, &c), 0);
    const mw_site *k = mw_site_catalog_find(&c, "cd-kamoto");
    mw_grid g;
    assert_int_equal(mw_grid_for_site(k, 10, 500, 0, 0, &g), 0);
    assert_int_equal(g.epsg, 32735); /* 25.4 E, south: UTM 35S */
    assert_true(fmod(g.x0, 10) == 0 && fmod(g.y0, 10) == 0);
    assert_true(g.width >= 500 && g.width <= 502 && g.height >= 500 && g.height <= 502);
    uint8_t *m = malloc(mw_grid_npix(&g));
    assert_int_equal(mw_grid_site_mask(&g, k, m), 0);
    long n = 0;
    for (size_t i = 0; i < mw_grid_npix(&g); i++)
        n += m[i];
    double ha = n * 0.01, disc = M_PI * 2000.0 * 2000.0 / 1e4;
    assert_true(fabs(ha - disc) / disc < 0.005);
    free(m);
    const mw_site *b = mw_site_catalog_find(&c, "cn-bayan-obo"); /* a polygon site */
    assert_non_null(b);
    assert_int_equal(mw_grid_for_site(b, 20, 0, 0, 0, &g), 0);
    assert_int_equal(g.epsg, 32649);
    mw_site_catalog_free(&c);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("sites");
    return g_dir ? 0 : -1;
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
        cmocka_unit_test(catalogue_covers_the_supply_chain),
        cmocka_unit_test(any_ogr_format_loads),
        cmocka_unit_test(bad_sites_are_named),
        cmocka_unit_test(site_grid_and_mask),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
