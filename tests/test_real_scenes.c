/* Real products from ../shared/data: every STAC flavour parses to the right bands, dates, cloud
 * cover and radiometry; the Sentinel-2 L2A series and the Landsat C2 L2 scene ingest into chips
 * that match a direct GDAL read and the documented formulae, pixel for pixel. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <gdal.h>
#include <jansson.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "minewatch/chip.h"
#include "minewatch/cloud_screen.h"
#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "minewatch/land_cover.h"
#include "minewatch/qa.h"
#include "minewatch/scene.h"
#include "minewatch/site.h"
#include "minewatch/warp.h"
#include "test_util.h"

#define DATA MW_SOURCE_DIR "/../shared/data"
/* measured (see screen_agrees_with_provider_masks) less a margin */
#define FLOOR_S2_AGREE 0.90    /* measured 0.920 */
#define FLOOR_S2_CLOUD_F1 0.85 /* 0.882 */
#define FLOOR_L8_AGREE 0.64    /* 0.674 */
#define FLOOR_L8_CLOUD_F1 0.77 /* 0.806 */
static char *g_dir;

static int have_data(void)
{
    struct stat st;
    if (stat(DATA "/SOURCES.md", &st) == 0) return 1;
    if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
        fail_msg("the real test data is missing at %s (required when CI=true)", DATA);
    fprintf(stderr, "SKIP: real test data not found at %s\n", DATA);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suf);
    return s && a >= b && strcmp(s + a - b, suf) == 0;
}

typedef struct expect {
    const char *file;
    mw_sensor sensor;
    const char *date;
    double cloud;
    double offset;      /* of the red band */
    const char *source; /* substring of the radiometry source */
    const char *red, *nir, *nir08, *swir22, *qa;
} expect;

static const expect items[] = {
    {"stac_items/earth_search_v0/S2A_28QCH_20200714_0_L2A.json", MW_SENSOR_S2_MSI, "2020-07-14",
     2.36, 0, "processing baseline 02.14 (from sentinel:product_id)", "/B04.tif", "/B08.tif",
     "/B8A.tif", "/B12.tif", "/SCL.tif"},
    {"stac_items/earth_search_v1/S2A_12RWT_20240106_0_L2A.json", MW_SENSOR_S2_MSI, "2024-01-06",
     1.051041, 0, "earthsearch:boa_offset_applied=true", "/B04.tif", "/B08.tif", "/B8A.tif",
     "/B12.tif", "/SCL.tif"},
    {"stac_items/earth_search_v1/S2A_33TWN_20161202_0_L2A.json", MW_SENSOR_S2_MSI, "2016-12-02",
     51.059555, 0, "raster:bands", "/B04.tif", "/B08.tif", "/B8A.tif", "/B12.tif", "/SCL.tif"},
    {"stac_items/earth_search_v1/S2A_33TWN_20220122_0_L2A.json", MW_SENSOR_S2_MSI, "2022-01-22",
     51.567542, 0, "raster:bands", "/B04.tif", "/B08.tif", "/B8A.tif", "/B12.tif", "/SCL.tif"},
    {"stac_items/earth_search_v1/S2B_33TWN_20220130_0_L2A.json", MW_SENSOR_S2_MSI, "2022-01-30",
     55.048245, 0, "earthsearch:boa_offset_applied=true", "/B04.tif", "/B08.tif", "/B8A.tif",
     "/B12.tif", "/SCL.tif"},
    {"stac_items/earth_search_v1/S2B_33TWN_20220226_0_L2A.json", MW_SENSOR_S2_MSI, "2022-02-26",
     75.198358, -0.1, "raster:bands", "/B04.tif", "/B08.tif", "/B8A.tif", "/B12.tif", "/SCL.tif"},
    {"stac_items/planetary_computer/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json",
     MW_SENSOR_S2_MSI, "2019-06-29", 0.314306, 0,
     "processing baseline 02.12 (from s2:processing_baseline)", "_B04_10m.tif", "_B08_10m.tif",
     "_B8A_20m.tif", "_B12_20m.tif", "_SCL_20m.tif"},
    {"stac_items/stactools_sentinel2/"
     "S2A_MSIL2A_20230821T221941_N0509_R029_T01KAB_20230822T021825.json",
     MW_SENSOR_S2_MSI, "2023-08-21", 59.050727, -0.1, "raster:bands", "_B04_10m.jp2",
     "_B08_10m.jp2", "_B8A_20m.jp2", "_B12_20m.jp2", "_SCL_20m.jp2"},
    {"stac_items/stactools_sentinel2/S2A_OPER_MSI_L2A_TL_VGS1_20220401T110010_A035382_T34LBP.json",
     MW_SENSOR_S2_MSI, "2022-04-01", 92.696983, -0.1, "raster:bands", "/R10m/B04.jp2",
     "/R10m/B08.jp2", "/R20m/B8A.jp2", "/R20m/B12.jp2", "/R20m/SCL.jp2"},
    {"stac_items/stactools_sentinel2/"
     "esa_S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD_20210122T155500.json",
     MW_SENSOR_S2_MSI, "2021-01-22", 0.447807, 0, "raster:bands", "_B04_10m.jp2", "_B08_10m.jp2",
     "_B8A_20m.jp2", "_B12_20m.jp2", "_SCL_20m.jp2"},
    {"stac_items/usgs_landsat_c2/LC08_L2SP_028030_20200114_20200824_02_T1_SR.json",
     MW_SENSOR_LANDSAT_OLI, "2020-01-14", 8.18, -0.2, "Landsat Collection 2 Level-2", "_SR_B4.TIF",
     "_SR_B5.TIF", "_SR_B5.TIF", "_SR_B7.TIF", "_QA_PIXEL.TIF"},
    {"stac_items/usgs_landsat_c2/LE07_L2SP_044033_20210329_20210424_02_T1_SR.json",
     MW_SENSOR_LANDSAT_ETM, "2021-03-29", 0, -0.2, "Landsat Collection 2 Level-2", "_SR_B3.TIF",
     "_SR_B4.TIF", "_SR_B4.TIF", "_SR_B7.TIF", "_QA_PIXEL.TIF"},
    {"landsat8_c2l2_001062_20201031_600m/LC08_L2SP_001062_20201031_20201106_02_T2_SR_stac.json",
     MW_SENSOR_LANDSAT_OLI, "2020-10-31", 99.94, -0.2, "Landsat Collection 2 Level-2", "_SR_B4.TIF",
     "_SR_B5.TIF", "_SR_B5.TIF", "_SR_B7.TIF", "_QA_PIXEL.TIF"},
    {"s2l2a_timeseries_33TWM_2023-08_120m/S2B_33TWM_20230813_0_L2A/S2B_33TWM_20230813_0_L2A.json",
     MW_SENSOR_S2_MSI, "2023-08-13", 1.1, 0, "earthsearch:boa_offset_applied=true", "/B04.tif",
     "/B08.tif", NULL, NULL, "/SCL.tif"},
};

static void every_item_flavour_parses(void **state)
{
    (void)state;
    if (!have_data()) skip();
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        const expect *e = &items[i];
        char *path = tu_path(DATA, e->file);
        mw_scene s;
        if (mw_stac_item_read(path, &s) != 0) fail_msg("%s: %s", e->file, mw_error_message());
        char d[11];
        mw_day_format(s.day, d);
        if (s.sensor != e->sensor || strcmp(d, e->date) != 0 ||
            fabs(s.cloud_cover - e->cloud) > 0.06)
            fail_msg("%s: sensor %d date %s cloud %g", e->file, s.sensor, d, s.cloud_cover);
        if (fabs(s.bands[MW_BAND_RED].offset - e->offset) > 1e-12 ||
            !strstr(s.offset_source, e->source))
            fail_msg("%s: offset %g from '%s', want %g from '%s'", e->file,
                     s.bands[MW_BAND_RED].offset, s.offset_source, e->offset, e->source);
        double want_scale = e->sensor == MW_SENSOR_S2_MSI ? 1e-4 : 2.75e-5;
        assert_true(fabs(s.bands[MW_BAND_RED].scale - want_scale) < 1e-15);
        const struct {
            const char *got, *want;
        } hrefs[] = {{s.bands[MW_BAND_RED].href, e->red},
                     {s.bands[MW_BAND_NIR].href, e->nir},
                     {s.bands[MW_BAND_NIR08].href, e->nir08},
                     {s.bands[MW_BAND_SWIR22].href, e->swir22},
                     {s.qa.href, e->qa}};
        for (int h = 0; h < 5; h++)
            if (hrefs[h].want && !ends_with(hrefs[h].got, hrefs[h].want))
                fail_msg("%s: asset %d is '%s', want '...%s'", e->file, h,
                         hrefs[h].got ? hrefs[h].got : "(none)", hrefs[h].want);
        /* Every band present gets the same radiometry (one source per scene). */
        for (int b = 0; b < MW_BAND_COUNT; b++)
            if (s.bands[b].href) assert_true(s.bands[b].offset == s.bands[MW_BAND_RED].offset);
        mw_scene_free(&s);
        free(path);
    }
}

static void on_fail_count(const char *path, const char *msg, void *user)
{
    fprintf(stderr, "FAILED %s: %s\n", path, msg);
    ++*(int *)user;
}

/* Every item file under stac_items, not only the ones with exact expectations above. */
static void every_item_in_shared_data_parses(void **state)
{
    (void)state;
    if (!have_data()) skip();
    static const struct {
        const char *dir;
        size_t items;
    } dirs[] = {{"earth_search_v0", 1},
                {"earth_search_v1", 16},
                {"planetary_computer", 1},
                {"stactools_sentinel2", 3},
                {"usgs_landsat_c2", 2}};
    size_t total = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        char path[1024];
        snprintf(path, sizeof path, DATA "/stac_items/%s", dirs[d].dir);
        mw_scene_catalog cat;
        int fails = 0;
        assert_int_equal(mw_scene_catalog_scan(path, &cat, on_fail_count, &fails), 0);
        assert_int_equal(fails, 0);
        if (cat.n != dirs[d].items)
            fail_msg("%s: %zu scenes, want %zu", dirs[d].dir, cat.n, dirs[d].items);
        for (size_t i = 0; i < cat.n; i++) {
            const mw_scene *sc = &cat.scenes[i];
            assert_non_null(sc->bands[MW_BAND_RED].href);
            assert_non_null(sc->bands[MW_BAND_NIR].href);
            assert_non_null(sc->bands[MW_BAND_SWIR16].href);
            assert_non_null(sc->qa.href);
            assert_true(!isnan(sc->bands[MW_BAND_RED].scale) &&
                        !isnan(sc->bands[MW_BAND_RED].offset));
            assert_true(sc->cloud_cover >= 0 && sc->cloud_cover <= 100);
            assert_true(sc->bbox[1] < sc->bbox[3]);
            assert_non_null(sc->offset_source);
        }
        total += cat.n;
        mw_scene_catalog_free(&cat);
    }
    assert_int_equal(total, 23);
}

static void non_items_and_duplicates(void **state)
{
    (void)state;
    if (!have_data()) skip();
    mw_scene s;
    /* A collection is not an item; a surface-temperature item has no reflectance for us. */
    assert_int_equal(
        mw_stac_item_read(DATA "/stac_items/planetary_computer/sentinel-2-l2a.collection.json", &s),
        -1);
    assert_non_null(strstr(mw_error_message(), "not a STAC item"));
    assert_int_equal(mw_stac_item_read(DATA "/landsat8_c2l2_001062_20201031_600m/"
                                            "LC08_L2SP_001062_20201031_20201106_02_T2_ST_stac.json",
                                       &s),
                     1);
    /* The MTL gives the same product with its own constants. */
    assert_int_equal(
        mw_landsat_mtl_read(
            DATA
            "/landsat8_c2l2_001062_20201031_600m/LC08_L2SP_001062_20201031_20201106_02_T2_MTL.json",
            &s),
        0);
    assert_string_equal(s.id, "LC08_L2SP_001062_20201031_20201106_02_T2");
    assert_true(s.bands[MW_BAND_RED].scale == 2.75e-5 && s.bands[MW_BAND_RED].offset == -0.2);
    assert_true(ends_with(s.radsat.href, "_QA_RADSAT.TIF"));
    assert_true(fabs(s.cloud_cover - 99.94) < 1e-9);
    mw_scene_free(&s);
    /* Scanning the folder finds it once (item and MTL are one product), the ST item is ignored. */
    mw_scene_catalog cat;
    int fails = 0;
    assert_int_equal(
        mw_scene_catalog_scan(DATA "/landsat8_c2l2_001062_20201031_600m", &cat, NULL, &fails), 0);
    assert_int_equal(cat.n, 1);
    mw_scene_catalog_free(&cat);
    /* The MTL as text or XML, alone in a folder as users keep them: the same scene as the JSON. */
    const char *const kinds[] = {"txt", "xml"};
    mw_scene want;
    assert_int_equal(
        mw_landsat_mtl_read(
            DATA
            "/landsat8_c2l2_001062_20201031_600m/LC08_L2SP_001062_20201031_20201106_02_T2_MTL.json",
            &want),
        0);
    for (int k = 0; k < 2; k++) {
        char *dir = tu_path(g_dir, kinds[k]), cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %s && cp " DATA
                 "/landsat8_c2l2_001062_20201031_600m/*.TIF %s/ && cp " DATA
                 "/landsat8_c2l2_001062_20201031_600m/*_MTL.%s %s/",
                 dir, dir, kinds[k], dir);
        assert_int_equal(tu_run(cmd, NULL), 0);
        assert_int_equal(mw_scene_catalog_scan(dir, &cat, NULL, NULL), 0);
        assert_int_equal(cat.n, 1);
        const mw_scene *got = &cat.scenes[0];
        assert_string_equal(got->id, want.id);
        assert_int_equal(got->day, want.day);
        assert_true(got->seconds == want.seconds && got->cloud_cover == want.cloud_cover);
        for (int b = 0; b < MW_BAND_COUNT; b++) {
            assert_true((got->bands[b].href == NULL) == (want.bands[b].href == NULL));
            if (!want.bands[b].href) continue;
            assert_string_equal(strrchr(got->bands[b].href, '/'), strrchr(want.bands[b].href, '/'));
            assert_true(got->bands[b].scale == want.bands[b].scale &&
                        got->bands[b].offset == want.bands[b].offset);
        }
        assert_string_equal(strrchr(got->qa.href, '/'), strrchr(want.qa.href, '/'));
        mw_scene_catalog_free(&cat);
        free(dir);
    }
    mw_scene_free(&want);
    /* a text MTL cut short is named with what is wrong */
    char *cut = tu_path(g_dir, "cut_MTL.txt");
    tu_write(cut,
             "GROUP = LANDSAT_METADATA_FILE\n  GROUP = PRODUCT_CONTENTS\n    ORIGIN = \"x\"\n");
    mw_scene bad;
    assert_int_equal(mw_landsat_mtl_read(cut, &bad), -1);
    assert_non_null(strstr(mw_error_message(), "ends before its END (2 group(s) open)"));
    tu_write(cut, "GROUP = LANDSAT_METADATA_FILE\nthis is not odl\nEND\n");
    assert_int_equal(mw_landsat_mtl_read(cut, &bad), -1);
    assert_non_null(strstr(mw_error_message(), "cut_MTL.txt:2: expected KEY = VALUE"));
    free(cut);
    assert_int_equal(
        mw_scene_catalog_scan(DATA "/s2l2a_timeseries_33TWM_2023-08_120m", &cat, NULL, NULL), 0);
    assert_int_equal(cat.n, 5);
    for (size_t i = 1; i < cat.n; i++)
        assert_true(cat.scenes[i - 1].day <= cat.scenes[i].day);
    mw_scene_catalog_free(&cat);
}

/* A square site given in a projected CRS, written as a one-feature GeoPackage and loaded back. */
static void make_site(const char *path, int epsg, double x0, double y0, double x1, double y1,
                      mw_site_catalog *cat)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), path, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, epsg);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "sites", srs, wkbPolygon, NULL);
    const char *fields[] = {"id", "name", "kind"};
    for (int i = 0; i < 3; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i], OFTString);
        OGR_L_CreateField(l, fd, 1);
        OGR_Fld_Destroy(fd);
    }
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
    OGR_F_SetFieldString(f, 0, "real-site");
    OGR_F_SetFieldString(f, 1, "test window");
    OGR_F_SetFieldString(f, 2, "mine");
    char wkt[256];
    snprintf(wkt, sizeof wkt, "POLYGON((%f %f,%f %f,%f %f,%f %f,%f %f))", x0, y0, x1, y0, x1, y1,
             x0, y1, x0, y0);
    OGRGeometryH g;
    char *p = wkt;
    OGR_G_CreateFromWkt(&p, srs, &g);
    OGR_F_SetGeometryDirectly(f, g);
    assert_int_equal(OGR_L_CreateFeature(l, f), OGRERR_NONE);
    OGR_F_Destroy(f);
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
    assert_int_equal(mw_site_catalog_load(path, cat), 0);
}

static void *read_window(const char *path, GDALDataType t, int x, int y, int w, int h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    assert_non_null(ds);
    void *buf = malloc((size_t)w * h * GDALGetDataTypeSizeBytes(t));
    assert_int_equal(
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, x, y, w, h, buf, w, h, t, 0, 0), CE_None);
    GDALClose(ds);
    return buf;
}

static void s2_series_matches_direct_reads(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *gp = tu_path(g_dir, "s2site.gpkg");
    mw_site_catalog cat;
    make_site(gp, 32633, 560000, 5120000, 580000, 5140000, &cat);
    mw_grid g;
    /* The grid is anchored on the tile's own lattice, so bilinear reads land on pixel centres. */
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 120, 240, 499980, 5200020, &g), 0);
    assert_int_equal(g.epsg, 32633);
    int col0 = (int)lround((g.x0 - 499980) / 120), row0 = (int)lround((5200020 - g.y0) / 120);
    assert_true(fabs(g.x0 - (499980 + col0 * 120.0)) < 1e-6);
    size_t npix = mw_grid_npix(&g);
    uint8_t *mask = malloc(npix);
    assert_int_equal(mw_grid_site_mask(&g, &cat.sites[0], mask), 0);
    mw_scene_catalog sc;
    assert_int_equal(
        mw_scene_catalog_scan(DATA "/s2l2a_timeseries_33TWM_2023-08_120m", &sc, NULL, NULL), 0);
    static const mw_band bands[2] = {MW_BAND_RED, MW_BAND_NIR};
    long compared = 0, cloud = 0;
    for (size_t k = 0; k < sc.n; k++) {
        const mw_scene *s = &sc.scenes[k];
        mw_ingest_options o = {
            bands, 2, MW_RESAMPLE_BILINEAR, MW_QA_DEFAULT_EXCLUDE, 0, 0, 0, 0, MW_MASK_AUTO, 0};
        mw_chip chip;
        if (mw_chip_ingest(s, &g, g_dir, &o, mask, &chip) != 0)
            fail_msg("%s: %s", s->id, mw_error_message());
        float *refl = malloc(npix * 2 * sizeof *refl);
        GDALDatasetH cd = GDALOpen(chip.path, GA_ReadOnly);
        assert_string_equal(GDALGetDriverShortName(GDALGetDatasetDriver(cd)), "GTiff");
        assert_non_null(strstr(GDALGetMetadataItem(cd, "LAYOUT", "IMAGE_STRUCTURE"), "COG"));
        assert_string_equal(GDALGetMetadataItem(cd, "MW_SCENE_ID", NULL), s->id);
        assert_int_equal(GDALDatasetRasterIO(cd, GF_Read, 0, 0, g.width, g.height, refl, g.width,
                                             g.height, GDT_Float32, 2, NULL, 0, 0, 0),
                         CE_None);
        GDALClose(cd);
        uint8_t *qa = read_window(chip.qa_path, GDT_Byte, 0, 0, g.width, g.height);
        uint16_t *dn4 =
            read_window(s->bands[MW_BAND_RED].href, GDT_UInt16, col0, row0, g.width, g.height);
        uint16_t *dn8 =
            read_window(s->bands[MW_BAND_NIR].href, GDT_UInt16, col0, row0, g.width, g.height);
        uint8_t *scl = read_window(s->qa.href, GDT_Byte, col0, row0, g.width, g.height);
        for (size_t p = 0; p < npix; p++) {
            uint8_t want_qa = mw_qa_from_scl(scl[p]);
            if (dn4[p] == 0 || dn8[p] == 0) want_qa |= MW_QA_NODATA;
            if (qa[p] != want_qa)
                fail_msg("%s pixel %zu: QA %u, SCL %u gives %u", s->id, p, qa[p], scl[p], want_qa);
            if (want_qa & MW_QA_NODATA) {
                assert_true(isnan(refl[p]) && isnan(refl[npix + p]));
                continue;
            }
            cloud += (want_qa & MW_QA_CLOUD) != 0;
            /* Earth Search says the offset is already applied: reflectance = DN / 10000. */
            if (fabs(refl[p] - dn4[p] / 10000.0) > 1e-7 ||
                fabs(refl[npix + p] - dn8[p] / 10000.0) > 1e-7)
                fail_msg("%s pixel %zu: %g %g vs DN %u %u", s->id, p, refl[p], refl[npix + p],
                         dn4[p], dn8[p]);
            compared++;
        }
        free(refl), free(qa), free(dn4), free(dn8), free(scl);
        mw_chip_free(&chip);
    }
    assert_true(compared > 5 * (long)npix * 8 / 10);
    assert_true(cloud > 0);
    mw_scene_catalog_free(&sc);
    mw_site_catalog_free(&cat);
    free(mask), free(gp);
}

/* Equal values, NaN equal to NaN. */
static int same_values(const void *a, const void *b, size_t n, GDALDataType t)
{
    if (t != GDT_Float32) return memcmp(a, b, n * (size_t)GDALGetDataTypeSizeBytes(t)) == 0;
    const float *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) return 0;
    return 1;
}

/* A raster whose pixels are the grid's or a whole multiple of them, in the grid's CRS, is read
 * directly, not warped (scene_warp.c): on a real tile, at its own pixel size and at a half and a
 * third of it, on its lattice and off it by fractions of a pixel (a co-registration shift), with
 * the grid hanging over each of the tile's edges, nearest and bilinear, with and without the
 * source's no data, every value is bit for bit the one GDAL's warper gives. In another CRS, or
 * cubic, the warper still runs. */
static void direct_reads_equal_gdal_warper(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *b04 =
        tu_path(DATA, "s2l2a_timeseries_33TWM_2023-08_120m/S2A_33TWM_20230815_0_L2A/B04.tif");
    char *scl =
        tu_path(DATA, "s2l2a_timeseries_33TWM_2023-08_120m/S2A_33TWM_20230815_0_L2A/SCL.tif");
    const double X = 499980, Y = 5200020, E = 499980 + 915 * 120.0, S = 5200020 - 915 * 120.0;
    static const struct {
        double res, x0, y0;
        int w, h;
    } grids[] = {
        {120, X - 600, Y + 600, 200, 150},               /* over the top-left corner */
        {120, E - 120 * 150, S + 120 * 90, 200, 150},    /* over the bottom-right corner */
        {60, X + 60 * 7, Y + 60 * 11, 300, 250},         /* half the pixel, odd offsets, top */
        {60, E - 60 * 101, S + 60 * 77, 300, 250},       /* the right and bottom edges */
        {40, E - 40 * 200, S + 40 * 100, 300, 250},      /* a third */
        {120, X - 600 + 37.3, Y + 600 - 81.9, 200, 150}, /* shifted: top-left corner */
        {120, E - 120 * 150 - 13.7, S + 120 * 90 + 59.4, 200, 150}, /* bottom-right */
        {60, X + 60 * 7 + 21.1, Y + 60 * 11 + 30, 300, 250}, /* half, shifted by half a pixel */
        {60, E - 60 * 101 - 44.4, S + 60 * 77 - 7.5, 300, 250},
        {40, E - 40 * 200 - 13.3, S + 40 * 100 + 27.1, 300, 250}, /* a third, shifted */
    };
    static const struct {
        int scl;
        mw_resample r;
        GDALDataType t;
        int has_nodata;
        double fill;
    } reads[] = {
        {0, MW_RESAMPLE_BILINEAR, GDT_Float32, 1, 0}, /* reflectance */
        {0, MW_RESAMPLE_BILINEAR, GDT_Float32, 0, 0}, {0, MW_RESAMPLE_NEAREST, GDT_Float32, 1, 0},
        {0, MW_RESAMPLE_NEAREST, GDT_UInt16, 0, 1}, /* QA_PIXEL's way */
        {1, MW_RESAMPLE_NEAREST, GDT_Byte, 0, 0},   /* SCL's way */
        {1, MW_RESAMPLE_NEAREST, GDT_Byte, 1, 7},
    };
    const size_t ngrids = sizeof grids / sizeof *grids, nreads = sizeof reads / sizeof *reads;
    long direct = 0, values = 0, nodata = 0, interpolated = 0;
    for (size_t gi = 0; gi < ngrids; gi++)
        for (size_t ri = 0; ri < nreads; ri++) {
            const mw_grid g = {32633,         grids[gi].x0, grids[gi].y0,
                               grids[gi].res, grids[gi].w,  grids[gi].h};
            const mw_scene_asset a = {reads[ri].scl ? scl : b04, 1, 0, 0, NULL, NULL, 1};
            mw_warp_spec ws = {
                reads[ri].r, reads[ri].t, reads[ri].has_nodata, 0, reads[ri].fill, 0, 0};
            assert_int_equal(mw_warp_reads_directly(&a, &g, &ws), 1);
            const size_t n = mw_grid_npix(&g), esz = (size_t)GDALGetDataTypeSizeBytes(reads[ri].t);
            void *got = malloc(n * esz), *ref = malloc(n * esz);
            assert_int_equal(mw_warp_to_grid(&a, &g, &ws, got), 0);
            ws.gdal_warper_only = 1;
            assert_int_equal(mw_warp_to_grid(&a, &g, &ws, ref), 0);
            if (!same_values(got, ref, n, reads[ri].t))
                fail_msg("grid %zu, read %zu: the direct read differs from GDAL's warper", gi, ri);
            if (reads[ri].t == GDT_Float32)
                for (size_t p = 0; p < n; p++)
                    nodata += isnan(((float *)got)[p]);
            if (reads[ri].r == MW_RESAMPLE_BILINEAR && (grids[gi].res != 120 || gi >= 5))
                interpolated += (long)n; /* finer than the tile, or shifted */
            direct++, values += (long)n;
            free(got), free(ref);
        }
    print_message("direct reads: %ld, %ld values equal to GDAL's warper (%ld interpolated), %ld "
                  "of them no data\n",
                  direct, values, interpolated, nodata);
    assert_int_equal(direct, (long)(ngrids * nreads));
    assert_true(nodata > 0);
    /* another CRS, and cubic: the warper */
    const mw_scene_asset a = {b04, 1, 0, 0, NULL, NULL, 1};
    const mw_grid other_crs = {32634, X, Y, 120, 100, 100};
    mw_warp_spec ws = {MW_RESAMPLE_NEAREST, GDT_Float32, 1, 0, 0, 0, 0};
    assert_int_equal(mw_warp_reads_directly(&a, &other_crs, &ws), 0);
    ws.resample = MW_RESAMPLE_CUBIC;
    const mw_grid on = {32633, X, Y, 120, 100, 100};
    assert_int_equal(mw_warp_reads_directly(&a, &on, &ws), 0);
    free(b04), free(scl);
}

static void qa_dilation_in_metres(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *gp = tu_path(g_dir, "s2site2.gpkg");
    mw_site_catalog cat;
    make_site(gp, 32633, 540000, 5100000, 580000, 5140000, &cat);
    mw_grid g;
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 120, 0, 499980, 5200020, &g), 0);
    size_t npix = mw_grid_npix(&g);
    uint8_t *mask = malloc(npix);
    mw_grid_site_mask(&g, &cat.sites[0], mask);
    mw_scene s;
    assert_int_equal(mw_stac_item_read(DATA
                                       "/s2l2a_timeseries_33TWM_2023-08_120m/"
                                       "S2A_33TWM_20230818_0_L2A/S2A_33TWM_20230818_0_L2A.json",
                                       &s),
                     0);
    static const mw_band bands[1] = {MW_BAND_RED};
    char *d0 = tu_path(g_dir, "d0"), *d1 = tu_path(g_dir, "d1");
    mkdir(d0, 0755);
    mkdir(d1, 0755);
    mw_ingest_options o = {
        bands,        1, MW_RESAMPLE_BILINEAR, MW_QA_DEFAULT_EXCLUDE, MW_QA_CLOUD, 0, 0, 0,
        MW_MASK_AUTO, 0};
    mw_chip c0, c1;
    assert_int_equal(mw_chip_ingest(&s, &g, d0, &o, mask, &c0), 0);
    o.dilate_m = 200; /* 200 m at 120 m pixels: 2 pixels */
    assert_int_equal(mw_chip_ingest(&s, &g, d1, &o, mask, &c1), 0);
    uint8_t *q0 = read_window(c0.qa_path, GDT_Byte, 0, 0, g.width, g.height);
    uint8_t *q1 = read_window(c1.qa_path, GDT_Byte, 0, 0, g.width, g.height);
    long grown = 0;
    for (int y = 0; y < g.height; y++)
        for (int x = 0; x < g.width; x++) {
            size_t p = (size_t)y * g.width + x;
            assert_int_equal(q1[p] & ~MW_QA_CLOUD, q0[p] & ~MW_QA_CLOUD); /* only cloud grows */
            if ((q1[p] & MW_QA_CLOUD) && !(q0[p] & MW_QA_CLOUD)) {
                grown++;
                int near = 0; /* a cloud pixel within 2 pixels (Chebyshev) */
                for (int dy = -2; dy <= 2 && !near; dy++)
                    for (int dx = -2; dx <= 2 && !near; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx >= 0 && yy >= 0 && xx < g.width && yy < g.height)
                            near = q0[(size_t)yy * g.width + xx] & MW_QA_CLOUD;
                    }
                assert_true(near);
            }
        }
    assert_true(grown > 0);
    assert_true(c1.clear_fraction < c0.clear_fraction);
    free(q0), free(q1), free(mask), free(gp), free(d0), free(d1);
    mw_chip_free(&c0), mw_chip_free(&c1);
    mw_scene_free(&s);
    mw_site_catalog_free(&cat);
}

/* The built-in screen against the providers' own masks on the same pixels: agreement of the
 * cloud and shadow classes, per scene and overall. Floors are the measured values (printed)
 * less a margin, so that a change that makes the screen worse fails. */
typedef struct mask_agreement {
    long n, both_cloud, prov_cloud, scr_cloud, both_shadow, prov_shadow, scr_shadow, agree;
} mask_agreement;

static void compare_masks(const mw_scene *s, const mw_grid *g, const uint8_t *mask,
                          const mw_band *bands, int nb, mask_agreement *a)
{
    char *dp = tu_path(g_dir, "mask-provider"), *ds = tu_path(g_dir, "mask-screen");
    mkdir(dp, 0755), mkdir(ds, 0755);
    mw_ingest_options o = {
        bands, nb, MW_RESAMPLE_NEAREST, MW_QA_DEFAULT_EXCLUDE, 0, 0, 0, 0, MW_MASK_PROVIDER, 0};
    mw_chip cp, cs;
    if (mw_chip_ingest(s, g, dp, &o, mask, &cp) != 0) fail_msg("%s: %s", s->id, mw_error_message());
    o.mask_source = MW_MASK_SCREEN;
    if (mw_chip_ingest(s, g, ds, &o, mask, &cs) != 0) fail_msg("%s: %s", s->id, mw_error_message());
    assert_non_null(strstr(cs.mask, "screen"));
    const size_t npix = mw_grid_npix(g);
    uint8_t *qp = read_window(cp.qa_path, GDT_Byte, 0, 0, g->width, g->height);
    uint8_t *qs = read_window(cs.qa_path, GDT_Byte, 0, 0, g->width, g->height);
    mask_agreement m = {0};
    for (size_t p = 0; p < npix; p++) {
        if (!mask[p] || (qp[p] & MW_QA_NODATA) || (qs[p] & MW_QA_NODATA)) continue;
        const int pc = (qp[p] & (MW_QA_CLOUD | MW_QA_CIRRUS)) != 0, sc = (qs[p] & MW_QA_CLOUD) != 0;
        const int ps = !pc && (qp[p] & MW_QA_SHADOW), ss = !sc && (qs[p] & MW_QA_SHADOW);
        m.n++;
        m.prov_cloud += pc, m.scr_cloud += sc, m.both_cloud += pc && sc;
        m.prov_shadow += ps, m.scr_shadow += ss, m.both_shadow += ps && ss;
        m.agree += (pc || ps) == (sc || ss);
    }
    printf("  %-44s %s: %ld px, provider cloud %.1f %% shadow %.1f %%, screen cloud %.1f %% "
           "shadow %.1f %%; cloud recall %.2f precision %.2f, shadow recall %.2f precision %.2f, "
           "clear/not-clear agreement %.3f\n",
           s->id, cs.mask, m.n, 100.0 * m.prov_cloud / m.n, 100.0 * m.prov_shadow / m.n,
           100.0 * m.scr_cloud / m.n, 100.0 * m.scr_shadow / m.n,
           m.prov_cloud ? (double)m.both_cloud / m.prov_cloud : NAN,
           m.scr_cloud ? (double)m.both_cloud / m.scr_cloud : NAN,
           m.prov_shadow ? (double)m.both_shadow / m.prov_shadow : NAN,
           m.scr_shadow ? (double)m.both_shadow / m.scr_shadow : NAN, (double)m.agree / m.n);
    a->n += m.n, a->agree += m.agree;
    a->both_cloud += m.both_cloud, a->prov_cloud += m.prov_cloud, a->scr_cloud += m.scr_cloud;
    a->both_shadow += m.both_shadow, a->prov_shadow += m.prov_shadow, a->scr_shadow += m.scr_shadow;
    free(qp), free(qs), free(dp), free(ds);
    mw_chip_free(&cp), mw_chip_free(&cs);
}

static void screen_agrees_with_provider_masks(void **state)
{
    (void)state;
    if (!have_data()) skip();
    /* Sentinel-2 33TWM, five dates, SCL; blue, green, red and NIR only: the reduced test set */
    char *gp = tu_path(g_dir, "screen-s2.gpkg");
    mw_site_catalog cat;
    make_site(gp, 32633, 500100, 5090340, 609660, 5199900, &cat);
    mw_grid g;
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 120, 0, 499980, 5200020, &g), 0);
    uint8_t *mask = malloc(mw_grid_npix(&g));
    assert_int_equal(mw_grid_site_mask(&g, &cat.sites[0], mask), 0);
    mw_scene_catalog sc;
    assert_int_equal(
        mw_scene_catalog_scan(DATA "/s2l2a_timeseries_33TWM_2023-08_120m", &sc, NULL, NULL), 0);
    static const mw_band s2b[4] = {MW_BAND_BLUE, MW_BAND_GREEN, MW_BAND_RED, MW_BAND_NIR};
    mask_agreement s2 = {0};
    printf("cloud screen vs Sentinel-2 SCL (33TWM, 120 m):\n");
    for (size_t k = 0; k < sc.n; k++) {
        /* the items name the full tile's other bands on the network; the data here hold four */
        for (int b = 0; b < MW_BAND_COUNT; b++)
            if (b != MW_BAND_BLUE && b != MW_BAND_GREEN && b != MW_BAND_RED && b != MW_BAND_NIR)
                free(sc.scenes[k].bands[b].href), sc.scenes[k].bands[b].href = NULL;
        compare_masks(&sc.scenes[k], &g, mask, s2b, 4, &s2);
    }
    mw_scene_catalog_free(&sc);
    mw_site_catalog_free(&cat);
    free(mask), free(gp);
    /* Landsat 8 001062, QA_PIXEL, all six reflective bands */
    mw_scene ls;
    assert_int_equal(mw_stac_item_read(DATA "/landsat8_c2l2_001062_20201031_600m/"
                                            "LC08_L2SP_001062_20201031_20201106_02_T2_SR_stac.json",
                                       &ls),
                     0);
    assert_true(ls.sun_elevation > 64 && ls.sun_elevation < 65); /* eo:sun_elevation */
    mw_scene_free(&ls); /* its hrefs are on the network; the MTL names the local files */
    assert_int_equal(mw_landsat_mtl_read(DATA "/landsat8_c2l2_001062_20201031_600m/"
                                              "LC08_L2SP_001062_20201031_20201106_02_T2_MTL.txt",
                                         &ls),
                     0);
    assert_true(ls.sun_elevation > 64 && ls.sun_elevation < 65); /* SUN_ELEVATION */
    gp = tu_path(g_dir, "screen-ls.gpkg");
    make_site(gp, 32620, 150000, -430000, 365000, -210000, &cat);
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 600, 0, 143685, -204285, &g), 0);
    mask = malloc(mw_grid_npix(&g));
    assert_int_equal(mw_grid_site_mask(&g, &cat.sites[0], mask), 0);
    static const mw_band lsb[6] = {MW_BAND_BLUE, MW_BAND_GREEN,  MW_BAND_RED,
                                   MW_BAND_NIR,  MW_BAND_SWIR16, MW_BAND_SWIR22};
    mask_agreement l8 = {0};
    printf("cloud screen vs Landsat QA_PIXEL (001062, 600 m):\n");
    compare_masks(&ls, &g, mask, lsb, 6, &l8);
    mw_scene_free(&ls);
    mw_site_catalog_free(&cat);
    free(mask), free(gp);
    const double s2_agree = (double)s2.agree / s2.n, l8_agree = (double)l8.agree / l8.n;
    const double s2_cloud_f1 = 2.0 * s2.both_cloud / (s2.prov_cloud + s2.scr_cloud);
    const double l8_cloud_f1 = 2.0 * l8.both_cloud / (l8.prov_cloud + l8.scr_cloud);
    printf("overall: S2 agreement %.3f, cloud F1 %.3f; Landsat agreement %.3f, cloud F1 %.3f, "
           "shadow recall %.3f\n",
           s2_agree, s2_cloud_f1, l8_agree, l8_cloud_f1,
           l8.prov_shadow ? (double)l8.both_shadow / l8.prov_shadow : NAN);
    assert_true(s2_agree > FLOOR_S2_AGREE && s2_cloud_f1 > FLOOR_S2_CLOUD_F1);
    assert_true(l8_agree > FLOOR_L8_AGREE && l8_cloud_f1 > FLOOR_L8_CLOUD_F1);
}

/* The repository's Brumadinho pipeline on the real Landsat crops (no QA band): the screen masks
 * both scenes, the valley's vegetation cleared is the mud flow (measured 193.05 ha, IBAMA's
 * figures for the vegetation it destroyed: 133.27 ha of native forest and 70.65 ha of permanent
 * protection areas), the same on one thread and two, and asked for the provider's masks it says
 * what is missing. */
static void brumadinho_mud_flow(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char cmd[4096], *out, *o1 = tu_path(g_dir, "bru1"), *o2 = tu_path(g_dir, "bru2");
    snprintf(cmd, sizeof cmd, "%s run %s/pipelines/brumadinho.yaml -o %s -q --threads 2", MW_CLI,
             MW_SOURCE_DIR, o1);
    int rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("brumadinho exited %d:\n%s", rc, out);
    free(out);
    char *csv = tu_path(o1, "indicators.csv");
    const double cleared = tu_csv_value(csv, "br-ferro-carvao-valley", "after", "veg_cleared_ha");
    const double whole = tu_csv_value(csv, "br-corrego-do-feijao", "after", "veg_cleared_ha");
    printf("Brumadinho: vegetation cleared in the valley %.2f ha, in the whole crop %.2f ha\n",
           cleared, whole);
    assert_true(cleared > 175 && cleared < 215); /* measured 193.05 */
    assert_true(whole >= cleared);
    assert_true(tu_csv_value(csv, "br-ferro-carvao-valley", "baseline", "veg_cleared_ha") == 0);
    char *prov = tu_path(o1, "provenance.json"), *pt = tu_read(prov, NULL);
    assert_int_equal(tu_count(pt, "\"mask\": \"screen " MW_SCREEN_VERSION "\""),
                     4); /* 2 sites x 2 */
    free(pt), free(prov);
    /* without a terminal: one timed line per stage and site; --log: the same as JSON lines */
    char *log = tu_path(g_dir, "bru.jsonl");
    snprintf(cmd, sizeof cmd, "%s run %s/pipelines/brumadinho.yaml -o %s --threads 1 --log %s",
             MW_CLI, MW_SOURCE_DIR, o2, log);
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_non_null(strstr(out, "Z minewatch: site br-ferro-carvao-valley: period after: 1 "
                                "scene(s) ingested, 0 failed\n"));
    assert_true(tu_count(out, "Z minewatch: site ") >= 8);
    free(out);
    char *lt = tu_read(log, NULL);
    assert_non_null(lt);
    int lines = 0;
    for (char *line = strtok(lt, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j || !json_is_string(json_object_get(j, "time")) ||
            !json_is_string(json_object_get(j, "message")))
            fail_msg("not a JSON log line: %s", line);
        json_decref(j);
    }
    assert_true(lines >= 10);
    free(lt), free(log);
    char *csv2 = tu_path(o2, "indicators.csv");
    assert_true(tu_same_file(csv, csv2));
    char *m1 = tu_path(o1, "maps/br-ferro-carvao-valley_veg_cleared_after.tif"),
         *m2 = tu_path(o2, "maps/br-ferro-carvao-valley_veg_cleared_after.tif");
    assert_true(tu_same_file(m1, m2));
    free(m1), free(m2), free(csv2), free(csv);
    /* the crops' own mask asked for: each scene named, with what to do */
    char *pl = tu_path(g_dir, "bru-provider.yaml");
    snprintf(cmd, sizeof cmd,
             "sed 's|source: auto .*|source: provider|; s|\\.\\./aoi|%s/aoi|; "
             "s|\\.\\./\\.\\./shared|%s/../shared|' %s/pipelines/brumadinho.yaml > %s",
             MW_SOURCE_DIR, MW_SOURCE_DIR, MW_SOURCE_DIR, pl);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s run %s -o %s/bru3 -q", MW_CLI, pl, g_dir);
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "LC08_L2SP_218074_20190114_20200829_02_T1"));
    assert_non_null(strstr(out, "has no QA_PIXEL asset: clouds cannot be masked"));
    free(out), free(pl), free(o1), free(o2);
}

/* Plain band files with manifests beside them, as an export from another platform gives them:
 * the Brumadinho crops' SR_B2-B7 without their MTL give the same figures as the MTL folder, and
 * each bad manifest (a missing file, a band twice, bands on two grids, not YAML) is named by
 * file:line:col while the rest of the run goes on; a scene that overlaps no site is named. */
static void manifests_as_users_have_them(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *dir = tu_path(g_dir, "manifests"), cmd[8192], *out;
    mkdir(dir, 0755);
    static const char *const dates[2][4] = {
        {"20190114", "2019-01-14T12:57:13Z", "97.81448496", "59.92196710"},
        {"20190130", "2019-01-30T12:57:09Z", "90.98350850", "58.47348294"}};
    for (int d = 0; d < 2; d++) {
        char path[1024], text[4096], f[6][512];
        for (int b = 0; b < 6; b++)
            snprintf(f[b], sizeof f[b],
                     DATA "/landsat8_c2l2_brumadinho_2019/%s/LC08_L2SP_218074_%s_20200829_02_T1_"
                          "SR_B%d.TIF",
                     dates[d][0], dates[d][0], b + 2);
        snprintf(path, sizeof path, "%s/export_%s.scene.yaml", dir, dates[d][0]);
        snprintf(text, sizeof text,
                 "# bands exported without their metadata file\n"
                 "datetime: %s\nsensor: LANDSAT_8\nscale: 2.75e-5\noffset: -0.2\nnodata: 0\n"
                 "sun: {azimuth: %s, elevation: %s}\n"
                 "bands:\n  blue: %s\n  green: %s\n  red: %s\n  nir: %s\n  swir16: %s\n"
                 "  swir22: %s\n",
                 dates[d][1], dates[d][2], dates[d][3], f[0], f[1], f[2], f[3], f[4], f[5]);
        tu_write(path, text);
    }
    char *bad = tu_path(dir, "missing.scene.yaml");
    tu_write(bad, "datetime: 2019-01-15\nsensor: landsat-8\nbands:\n  red: nowhere/B4.tif\n");
    free(bad);
    bad = tu_path(dir, "twice.scene.yaml");
    tu_write(bad, "datetime: 2019-01-15\nsensor: landsat-8\nbands:\n"
                  "  red: " DATA "/landsat8_c2l2_brumadinho_2019/20190114/"
                  "LC08_L2SP_218074_20190114_20200829_02_T1_SR_B4.TIF\n"
                  "  red: " DATA "/landsat8_c2l2_brumadinho_2019/20190114/"
                  "LC08_L2SP_218074_20190114_20200829_02_T1_SR_B5.TIF\n");
    free(bad);
    bad = tu_path(dir, "two-grids.scene.yaml");
    tu_write(bad, "datetime: 2019-01-15\nsensor: landsat-8\nbands:\n"
                  "  red: " DATA "/landsat8_c2l2_brumadinho_2019/20190114/"
                  "LC08_L2SP_218074_20190114_20200829_02_T1_SR_B4.TIF\n"
                  "  nir: {file: " DATA "/madre_de_dios_l8/LC08_003069_20180906_clip.tif, "
                  "band: 4}\n");
    free(bad);
    bad = tu_path(dir, "broken.scene.yaml");
    tu_write(bad, "datetime: [2019-01-15\nsensor: landsat-8\n");
    free(bad);
    /* Madre de Dios, dated inside the baseline: overlaps neither Brumadinho site */
    bad = tu_path(dir, "elsewhere.scene.yaml");
    tu_write(bad, "datetime: 2019-01-16\nsensor: landsat-8\nscale: 0.0001\nbands:\n"
                  "  red: {file: " DATA "/madre_de_dios_l8/LC08_003069_20180906_clip.tif, "
                  "band: 3}\n"
                  "  nir: {file: " DATA "/madre_de_dios_l8/LC08_003069_20180906_clip.tif, "
                  "band: 4}\n");
    free(bad);
    char *pl = tu_path(g_dir, "bru-manifests.yaml"), *o1 = tu_path(g_dir, "bru-mtl"),
         *o2 = tu_path(g_dir, "bru-manifest");
    snprintf(cmd, sizeof cmd,
             "sed 's|path: .*|path: %s|; s|\\.\\./aoi|%s/aoi|' %s/pipelines/brumadinho.yaml > %s",
             dir, MW_SOURCE_DIR, MW_SOURCE_DIR, pl);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s run %s/pipelines/brumadinho.yaml -o %s -q", MW_CLI, MW_SOURCE_DIR,
             o1);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s run %s -o %s -q", MW_CLI, pl, o2);
    assert_int_equal(tu_run(cmd, &out), 1); /* the bad manifests are failures */
    static const char *const said[] = {"missing.scene.yaml:4:8: red: '",
                                       "nowhere/B4.tif' is not there",
                                       "twice.scene.yaml:5:3: band 'red' is given twice",
                                       "two-grids.scene.yaml:5:15: band 'nir' (110x104",
                                       "is not on the grid of band 'red'",
                                       "broken.scene.yaml:2:7: not valid YAML",
                                       "1 scene(s) of",
                                       "overlap none of the sites",
                                       NULL};
    for (int k = 0; said[k]; k++)
        if (!strstr(out, said[k])) fail_msg("the run does not say '%s':\n%s", said[k], out);
    free(out);
    char *c1 = tu_path(o1, "indicators.csv"), *c2 = tu_path(o2, "indicators.csv");
    assert_true(tu_same_file(c1, c2)); /* the same pixels, the same figures */
    char *pp = tu_path(o2, "provenance.json"), *pt = tu_read(pp, NULL);
    assert_non_null(
        strstr(pt, "\"scenes_outside_every_site\": [\n    {\n      \"id\": \"elsewhere\""));
    assert_non_null(strstr(pt, "scene manifest scale/offset"));
    free(pt), free(pp), free(c1), free(c2), free(pl), free(o1), free(o2), free(dir);
}

/* The land-cover classes against real mining footprints: the Madre de Dios Landsat 8 export (a
 * six-band stack, read through a manifest) and the Amazon Mining Watch polygons of 2018 over it.
 * Measured: bare_or_disturbed precision 0.964, recall 0.271; with built_bright (white quartz
 * tailings are spectrally flat) and water (the mining ponds) recall 0.579 at precision 0.982.
 * Floors are those less a margin. */
static void mining_footprint_on_real_imagery(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *mp = tu_path(g_dir, "LC08_003069_20180906.scene.yaml");
    char text[4096];
    const char *f = DATA "/madre_de_dios_l8/LC08_003069_20180906_clip.tif";
    snprintf(text, sizeof text,
             "datetime: 2018-09-06\nsensor: landsat-8\nscale: 0.0001\nbands:\n"
             "  blue: {file: %s, band: 1}\n  green: {file: %s, band: 2}\n"
             "  red: {file: %s, band: 3}\n  nir: {file: %s, band: 4}\n"
             "  swir16: {file: %s, band: 5}\n  swir22: {file: %s, band: 6}\n",
             f, f, f, f, f, f);
    tu_write(mp, text);
    mw_scene s;
    if (mw_scene_manifest_read(mp, &s)) fail_msg("%s", mw_error_message());
    char *gp = tu_path(g_dir, "mdd.gpkg");
    mw_site_catalog cat;
    make_site(gp, 32619, 390330, -1426230, 393630, -1423110, &cat);
    mw_grid g;
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 30, 0, 390330, 8576890, &g), 0);
    const size_t npix = mw_grid_npix(&g);
    uint8_t *mask = malloc(npix), *cover = malloc(npix);
    assert_int_equal(mw_grid_site_mask(&g, &cat.sites[0], mask), 0);
    static const mw_band bands[6] = {MW_BAND_BLUE, MW_BAND_GREEN,  MW_BAND_RED,
                                     MW_BAND_NIR,  MW_BAND_SWIR16, MW_BAND_SWIR22};
    mw_ingest_options o = {
        bands, 6, MW_RESAMPLE_NEAREST, MW_QA_NODATA | MW_QA_SATURATED, 0, 0, 0, 0, MW_MASK_AUTO, 0};
    mw_chip chip;
    if (mw_chip_ingest(&s, &g, g_dir, &o, mask, &chip)) fail_msg("%s", mw_error_message());
    float *refl = malloc(npix * 6 * sizeof *refl);
    GDALDatasetH cd = GDALOpen(chip.path, GA_ReadOnly);
    assert_int_equal(GDALDatasetRasterIO(cd, GF_Read, 0, 0, g.width, g.height, refl, g.width,
                                         g.height, GDT_Float32, 6, NULL, 0, 0, 0),
                     CE_None);
    GDALClose(cd);
    const float *rows[MW_BAND_COUNT] = {0};
    for (int b = 0; b < 6; b++)
        rows[bands[b]] = refl + (size_t)b * npix;
    const mw_cover_thresholds t = mw_cover_default_thresholds();
    mw_cover_classify(rows, npix, mask, &t, NULL, cover);
    /* the footprints on the same grid */
    GDALDatasetH truth = mw_grid_create_dataset(&g, "MEM", NULL, 1, GDT_Byte, NULL);
    GDALDatasetH amw = GDALOpenEx(DATA "/amazon_mining_watch_polygons/"
                                       "mining_201800_simplified.geojson",
                                  GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(amw);
    OGRLayerH layer = GDALDatasetGetLayer(amw, 0);
    OGR_L_SetSpatialFilterRect(layer, -70.02, -12.91, -69.97, -12.86);
    int band = 1;
    double burn = 1;
    assert_int_equal(
        GDALRasterizeLayers(truth, 1, &band, 1, &layer, NULL, NULL, &burn, NULL, NULL, NULL),
        CE_None);
    uint8_t *mined = malloc(npix);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(truth, 1), GF_Read, 0, 0, g.width, g.height,
                                  mined, g.width, g.height, GDT_Byte, 0, 0),
                     CE_None);
    GDALClose(truth), GDALClose(amw);
    long tp1 = 0, pred1 = 0, tp3 = 0, pred3 = 0, pos = 0, valid = 0;
    for (size_t p = 0; p < npix; p++) {
        if (!mask[p] || cover[p] == MW_COVER_NODATA) continue;
        valid++;
        pos += mined[p];
        const int bare = cover[p] == MW_COVER_BARE;
        const int any = bare || cover[p] == MW_COVER_BUILT || cover[p] == MW_COVER_WATER;
        pred1 += bare, tp1 += bare && mined[p];
        pred3 += any, tp3 += any && mined[p];
    }
    const double prec1 = (double)tp1 / pred1, rec1 = (double)tp1 / pos, prec3 = (double)tp3 / pred3,
                 rec3 = (double)tp3 / pos;
    printf("mining footprint (Madre de Dios, AMW 2018, %ld px, %.1f %% mined): bare_or_disturbed "
           "precision %.3f recall %.3f; bare, built or water precision %.3f recall %.3f\n",
           valid, 100.0 * pos / valid, prec1, rec1, prec3, rec3);
    assert_true(pos > valid / 3); /* the polygons were laid where the mines are */
    assert_true(prec1 > 0.93 && rec1 > 0.24);
    assert_true(prec3 > 0.95 && rec3 > 0.55);
    free(refl), free(mined), free(mask), free(cover), free(gp), free(mp);
    mw_chip_free(&chip);
    mw_scene_free(&s);
    mw_site_catalog_free(&cat);
}

/* A manifest's own mask, its values mapped to QA classes: a scene whose mask is all cloud leaves
 * its period without a composite, and the run names the scene and where its mask came from. */
static void all_cloud_scene_is_named(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char *dir = tu_path(g_dir, "allcloud"), cmd[8192], *out;
    mkdir(dir, 0755);
    const char *b4 = DATA "/landsat8_c2l2_brumadinho_2019/20190114/"
                          "LC08_L2SP_218074_20190114_20200829_02_T1_SR_B4.TIF";
    snprintf(cmd, sizeof cmd, "gdal_translate -q -ot Byte -scale 0 65535 1 1 %s %s/cloud.tif", b4,
             dir);
    assert_int_equal(tu_run(cmd, NULL), 0);
    char text[4096], *mp = tu_path(dir, "clouded.scene.yaml");
    snprintf(text, sizeof text,
             "datetime: 2019-01-14T12:57:13Z\nsensor: landsat-8\nscale: 2.75e-5\noffset: -0.2\n"
             "nodata: 0\nbands:\n"
             "  blue: %.*sB2.TIF\n  green: %.*sB3.TIF\n  red: %s\n  nir: %.*sB5.TIF\n"
             "  swir16: %.*sB6.TIF\n  swir22: %.*sB7.TIF\n"
             "mask: {file: cloud.tif, classes: {cloud: [1], nodata: [0]}}\n",
             (int)strlen(b4) - 6, b4, (int)strlen(b4) - 6, b4, b4, (int)strlen(b4) - 6, b4,
             (int)strlen(b4) - 6, b4, (int)strlen(b4) - 6, b4);
    tu_write(mp, text);
    char *pl = tu_path(g_dir, "allcloud.yaml");
    snprintf(cmd, sizeof cmd,
             "sed 's|path: .*|path: %s|; s|\\.\\./aoi|%s/aoi|' %s/pipelines/brumadinho.yaml > %s",
             dir, MW_SOURCE_DIR, MW_SOURCE_DIR, pl);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s run %s -o %s/allcloud-out -q", MW_CLI, pl, g_dir);
    assert_int_equal(tu_run(cmd, &out), 1);
    if (!strstr(out, "none of its 1 scene(s) has a clear pixel over the site (all cloud, shadow "
                     "or masked: clouded (manifest mask))"))
        fail_msg("the all-cloud scene is not named:\n%s", out);
    free(out), free(pl), free(mp), free(dir);
}

static void landsat_matches_direct_reads(void **state)
{
    (void)state;
    if (!have_data()) skip();
    const char *dir = DATA "/landsat8_c2l2_001062_20201031_600m";
    mw_scene s;
    assert_int_equal(
        mw_landsat_mtl_read(
            DATA
            "/landsat8_c2l2_001062_20201031_600m/LC08_L2SP_001062_20201031_20201106_02_T2_MTL.json",
            &s),
        0);
    (void)dir;
    char *gp = tu_path(g_dir, "lsite.gpkg");
    mw_site_catalog cat;
    make_site(gp, 32620, 250000, -330000, 310000, -270000, &cat);
    mw_grid g;
    assert_int_equal(mw_grid_for_site(&cat.sites[0], 600, 0, 0, 0, &g), 0);
    assert_int_equal(g.epsg, 32720); /* south of the equator: the grid takes the southern zone */
    size_t npix = mw_grid_npix(&g);
    uint8_t *mask = malloc(npix);
    mw_grid_site_mask(&g, &cat.sites[0], mask);
    static const mw_band bands[2] = {MW_BAND_RED, MW_BAND_NIR};
    mw_ingest_options o = {bands,        2, MW_RESAMPLE_NEAREST, MW_QA_DEFAULT_EXCLUDE, 0, 0, 0, 0,
                           MW_MASK_AUTO, 0};
    mw_chip chip;
    if (mw_chip_ingest(&s, &g, g_dir, &o, mask, &chip) != 0) fail_msg("%s", mw_error_message());
    float *refl = malloc(npix * 2 * sizeof *refl);
    GDALDatasetH cd = GDALOpen(chip.path, GA_ReadOnly);
    assert_int_equal(GDALDatasetRasterIO(cd, GF_Read, 0, 0, g.width, g.height, refl, g.width,
                                         g.height, GDT_Float32, 2, NULL, 0, 0, 0),
                     CE_None);
    GDALClose(cd);
    uint8_t *qa = read_window(chip.qa_path, GDT_Byte, 0, 0, g.width, g.height);
    /* The reference: the source pixel holding each grid pixel centre, found with PROJ through OGR
     * (north-zone scene, south-zone grid), read directly with GDAL. */
    GDALDatasetH b4 = GDALOpen(s.bands[MW_BAND_RED].href, GA_ReadOnly),
                 qp = GDALOpen(s.qa.href, GA_ReadOnly);
    GDALDatasetH rs = GDALOpen(s.radsat.href, GA_ReadOnly);
    double sgt[6], inv[6];
    GDALGetGeoTransform(b4, sgt);
    assert_true(GDALInvGeoTransform(sgt, inv));
    OGRSpatialReferenceH from = OSRNewSpatialReference(NULL), to = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(from, g.epsg);
    OSRImportFromWkt(to, (char **)&(const char *){GDALGetProjectionRef(b4)});
    OSRSetAxisMappingStrategy(from, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(to, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(from, to);
    long compared = 0, clouds = 0, edge_skipped = 0;
    for (int y = 0; y < g.height; y++)
        for (int x = 0; x < g.width; x++) {
            size_t p = (size_t)y * g.width + x;
            double gx = g.x0 + (x + 0.5) * g.res, gy = g.y0 - (y + 0.5) * g.res;
            OCTTransform(ct, 1, &gx, &gy, NULL);
            double sx = inv[0] + gx * inv[1] + gy * inv[2], sy = inv[3] + gx * inv[4] + gy * inv[5];
            /* Centres within 1e-6 px of a source pixel edge may round either way: skip those. */
            if (fabs(sx - floor(sx + 0.5)) < 1e-6 || fabs(sy - floor(sy + 0.5)) < 1e-6) {
                edge_skipped++;
                continue;
            }
            int ix = (int)floor(sx), iy = (int)floor(sy);
            if (ix < 0 || iy < 0 || ix >= GDALGetRasterXSize(b4) || iy >= GDALGetRasterYSize(b4))
                continue;
            uint16_t dn, q, r;
            assert_int_equal(GDALRasterIO(GDALGetRasterBand(b4, 1), GF_Read, ix, iy, 1, 1, &dn, 1,
                                          1, GDT_UInt16, 0, 0),
                             CE_None);
            assert_int_equal(GDALRasterIO(GDALGetRasterBand(qp, 1), GF_Read, ix, iy, 1, 1, &q, 1, 1,
                                          GDT_UInt16, 0, 0),
                             CE_None);
            assert_int_equal(GDALRasterIO(GDALGetRasterBand(rs, 1), GF_Read, ix, iy, 1, 1, &r, 1, 1,
                                          GDT_UInt16, 0, 0),
                             CE_None);
            uint8_t want = mw_qa_from_landsat(q, r);
            if (dn == 0) want |= MW_QA_NODATA;
            if ((qa[p] & ~MW_QA_NODATA) != (want & ~MW_QA_NODATA) && !(qa[p] & MW_QA_NODATA))
                fail_msg("pixel %d,%d: QA %u, QA_PIXEL %u RADSAT %u give %u", x, y, qa[p], q, r,
                         want);
            if (want & MW_QA_NODATA) continue;
            if (fabs(refl[p] - (dn * 2.75e-5 - 0.2)) > 1e-6)
                fail_msg("pixel %d,%d: %g vs DN %u -> %g", x, y, refl[p], dn, dn * 2.75e-5 - 0.2);
            clouds += (q >> 3) & 1;
            compared++;
        }
    assert_true(compared > (long)npix / 2);
    assert_true(clouds > compared / 2); /* the scene is 99.94 % cloud */
    assert_true(edge_skipped < (long)npix / 100);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(from), OSRDestroySpatialReference(to);
    GDALClose(b4), GDALClose(qp), GDALClose(rs);
    free(refl), free(qa), free(mask), free(gp);
    mw_chip_free(&chip);
    mw_scene_free(&s);
    mw_site_catalog_free(&cat);
}

/* The CLI on real scenes: ingest fills the datacube; a second command reuses every chip and
 * reads no scene raster (the rasters are zeroed in place, same size and time, to prove it). */
static void ingest_then_run_on_real_series(void **state)
{
    (void)state;
    if (!have_data()) skip();
    char cmd[4096], *out;
    char *scenes = tu_path(g_dir, "twm"), *cube = tu_path(g_dir, "twm-tiles"),
         *o1 = tu_path(g_dir, "twm-out1"), *o2 = tu_path(g_dir, "twm-out2");
    snprintf(cmd, sizeof cmd, "cp -rp %s %s", DATA "/s2l2a_timeseries_33TWM_2023-08_120m", scenes);
    assert_int_equal(tu_run(cmd, NULL), 0);
    char *sites = tu_path(g_dir, "twm-sites.geojson");
    tu_write(sites,
             "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
             "{\"id\":\"si-window\",\"name\":\"Slovenian test window\",\"kind\":\"mine\"},"
             "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[15.6,46.3],[15.9,46.3],"
             "[15.9,46.5],[15.6,46.5],[15.6,46.3]]]}}]}");
    char *pl = tu_path(g_dir, "twm.yaml");
    char text[2048];
    snprintf(text, sizeof text,
             "name: twm\nsites: {catalogue: %s}\nsource: {type: local, path: %s}\n"
             "periods:\n  baseline: {start: 2023-08-10, end: 2023-08-13}\n"
             "  monitoring: [{name: later, start: 2023-08-15, end: 2023-08-20}]\n"
             "grid: {pixel_size_m: 120, origin_m: [499980, 5200020]}\nmask: {dilate_m: 240}\n"
             /* the series carries its SWIR bands only as remote links */
             "bands: [blue, green, red, nir]\n",
             sites, scenes);
    tu_write(pl, text);
    snprintf(cmd, sizeof cmd, "%s ingest %s -o %s --datacube %s", MW_CLI, pl, o1, cube);
    int rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("ingest exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "si-window"));
    free(out);
    /* Per scene, the NIR chip the shift is estimated from and one full chip: co-registered
     * (_coreg) where a shift was applied, else unshifted. */
    snprintf(cmd, sizeof cmd, "ls %s/si-window/*_nir_qa.tif | wc -l", cube);
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_int_equal(atoi(out), 5);
    free(out);
    snprintf(cmd, sizeof cmd, "ls %s/si-window/*_qa.tif | grep -vc _nir_qa", cube);
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_int_equal(atoi(out), 5);
    free(out);
    /* Zero every band raster in place, keeping size and modification time. */
    snprintf(cmd, sizeof cmd,
             "for f in %s/*/*.tif; do s=$(stat -c %%s $f); cp -p $f $f.ref; "
             "dd if=/dev/zero of=$f bs=$s count=1 conv=notrunc status=none; touch -r $f.ref $f; rm "
             "$f.ref; done",
             scenes);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s run %s -o %s --datacube %s -q", MW_CLI, pl, o2, cube);
    rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("run on the cached datacube exited %d:\n%s", rc, out);
    free(out);
    char *pp = tu_path(o2, "provenance.json");
    char *prov = tu_read(pp, NULL);
    assert_non_null(prov);
    assert_null(strstr(prov, "\"chip_reused\": false"));
    assert_non_null(strstr(prov, "\"chip_reused\": true"));
    assert_non_null(strstr(prov, "earthsearch:boa_offset_applied=true"));
    /* each shift estimated once: ingest kept the four (the fifth scene is the reference) beside
     * their NIR chips, and the run on the cached chips read them */
    assert_int_equal(tu_count(prov, "\"estimate_reused\": true"), 4);
    free(prov);
    snprintf(cmd, sizeof cmd, "ls %s/si-window/*_nir.tif.shift.json | wc -l", cube);
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_int_equal(atoi(out), 4);
    free(out);
    /* A kept estimate whose inputs no longer match (here: another moving chip) is not used: the
     * shift is estimated again, the same, and kept anew. */
    snprintf(cmd, sizeof cmd,
             "f=$(ls %s/si-window/*_nir.tif.shift.json | head -1); "
             "sed -i 's/\"moving_chip\":\"[0-9a-f]*\"/\"moving_chip\":\"0\"/' $f; "
             "grep -c '\"moving_chip\":\"0\"' $f",
             cube);
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_int_equal(atoi(out), 1);
    free(out);
    char *o3 = tu_path(g_dir, "twm-out3");
    snprintf(cmd, sizeof cmd, "%s run %s -o %s --datacube %s -q", MW_CLI, pl, o3, cube);
    rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("run with a stale estimate exited %d:\n%s", rc, out);
    free(out);
    char *pp3 = tu_path(o3, "provenance.json"), *prov3 = tu_read(pp3, NULL);
    assert_non_null(prov3);
    assert_int_equal(tu_count(prov3, "\"estimate_reused\": true"), 3);
    free(prov3), free(pp3);
    snprintf(cmd, sizeof cmd,
             "cat %s/si-window/*_nir.tif.shift.json | grep -c '\"moving_chip\":\"0\"'", cube);
    tu_run(cmd, &out);
    assert_int_equal(atoi(out), 0);
    free(out);
    char *i2 = tu_path(o2, "indicators.csv"), *i3 = tu_path(o3, "indicators.csv");
    assert_true(tu_same_file(i2, i3));
    free(i2), free(i3), free(o3);
    char *csv = tu_path(o2, "indicators.csv"), *c = tu_read(csv, NULL);
    assert_non_null(c);
    assert_non_null(strstr(c, ",baseline,2023-08-10,2023-08-13,2,0,"));
    assert_non_null(strstr(c, ",later,2023-08-15,2023-08-20,3,0,"));
    assert_true(tu_csv_value(csv, "si-window", "baseline", "n_scenes") == 2);
    assert_true(tu_csv_value(csv, "si-window", "later", "n_scenes") == 3);
    free(c), free(csv), free(pp), free(pl), free(sites), free(scenes), free(cube), free(o1),
        free(o2);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    g_dir = tu_mkdtemp("real");
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
        cmocka_unit_test(every_item_flavour_parses),
        cmocka_unit_test(every_item_in_shared_data_parses),
        cmocka_unit_test(non_items_and_duplicates),
        cmocka_unit_test(s2_series_matches_direct_reads),
        cmocka_unit_test(direct_reads_equal_gdal_warper),
        cmocka_unit_test(qa_dilation_in_metres),
        cmocka_unit_test(landsat_matches_direct_reads),
        cmocka_unit_test(screen_agrees_with_provider_masks),
        cmocka_unit_test(brumadinho_mud_flow),
        cmocka_unit_test(manifests_as_users_have_them),
        cmocka_unit_test(mining_footprint_on_real_imagery),
        cmocka_unit_test(all_cloud_scene_is_named),
        cmocka_unit_test(ingest_then_run_on_real_series),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
