/* The CLI end to end: truth recovered, identical results for any threads and chunk size, and bad
 * input reported without stopping the rest. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>
#include <cpl_minixml.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>

#include "minewatch/indicator.h"
#include "pipeline/provenance.h"
#include "test_util.h"

static char *g_dir;

#define SITES "[cd-kamoto, id-imip-morowali]"
#define PIPELINE_FMT                                                                               \
    "name: e2e\n"                                                                                  \
    "sites:\n"                                                                                     \
    "  catalogue: %s\n"                                                                            \
    "  ids: " SITES "\n"                                                                           \
    "source: %s\n"                                                                                 \
    "periods:\n"                                                                                   \
    "  baseline: {start: 2021-06-01, end: 2021-09-30}\n"                                           \
    "  monitoring:\n"                                                                              \
    "    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"                                 \
    "grid: {pixel_size_m: 10, buffer_m: 300}\n"                                                    \
    "outputs: {formats: [gpkg, csv, maps]}\n"

static char *write_pipeline(const char *name, const char *source, const char *catalogue)
{
    char *f = tu_path(g_dir, name);
    char text[2048];
    snprintf(text, sizeof text, PIPELINE_FMT,
             catalogue ? catalogue : MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson", source);
    tu_write(f, text);
    return f;
}

static int run_cli(const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", MW_CLI, args);
    return tu_run(cmd, out);
}

typedef struct row {
    char site[64], period[32];
    long n_scenes, n_failed;
    double clear, valid, area, forest, forest_base, loss, observed, ndvi;
} row;

/* Reads indicators.csv by column name, so the test does not depend on column order. */
static int read_rows(const char *dir, row *rows, int max)
{
    char *p = tu_path(dir, "indicators.csv");
    FILE *f = fopen(p, "r");
    free(p);
    if (!f) return -1;
    char line[4096], *cols[64];
    int nc = 0, n = 0;
    if (!fgets(line, sizeof line, f)) return -1;
    line[strcspn(line, "\n")] = 0;
    for (char *t = strtok(line, ","); t && nc < 64; t = strtok(NULL, ","))
        cols[nc++] = strdup(t);
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        /* site names may be quoted and hold commas: split by hand honouring quotes */
        char *cells[64];
        int k = 0, q = 0;
        cells[k++] = line;
        for (char *c = line; *c; c++) {
            if (*c == '"')
                q = !q;
            else if (*c == ',' && !q) {
                *c = 0;
                cells[k++] = c + 1;
            }
        }
        for (int i = 0; i < nc && i < k; i++) {
            const char *v = cells[i];
            double d = *v ? atof(v) : NAN;
            if (!strcmp(cols[i], "site_id")) snprintf(r->site, sizeof r->site, "%s", v);
            if (!strcmp(cols[i], "period")) snprintf(r->period, sizeof r->period, "%s", v);
            if (!strcmp(cols[i], "n_scenes")) r->n_scenes = atol(v);
            if (!strcmp(cols[i], "n_scenes_failed")) r->n_failed = atol(v);
            if (!strcmp(cols[i], "clear_fraction")) r->clear = d;
            if (!strcmp(cols[i], "valid_fraction")) r->valid = d;
            if (!strcmp(cols[i], "area_ha")) r->area = d;
            if (!strcmp(cols[i], "forest_ha")) r->forest = d;
            if (!strcmp(cols[i], "forest_baseline_ha")) r->forest_base = d;
            if (!strcmp(cols[i], "forest_loss_ha")) r->loss = d;
            if (!strcmp(cols[i], "ndvi_mean")) r->ndvi = d;
            if (!strcmp(cols[i], "forest_observed_fraction")) r->observed = d;
        }
    }
    fclose(f);
    for (int i = 0; i < nc; i++)
        free(cols[i]);
    return n;
}

static double truth_value(const char *scenes_dir, const char *site, const char *period,
                          const char *key)
{
    char *p = tu_path(scenes_dir, "truth.json");
    json_t *t = json_load_file(p, 0, NULL);
    free(p);
    assert_non_null(t);
    double v = NAN;
    size_t i, j;
    json_t *s, *q;
    json_array_foreach(json_object_get(t, "sites"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "id")), site)) continue;
        json_array_foreach(json_object_get(s, "periods"), j,
                           q) if (!strcmp(json_string_value(json_object_get(q, "name")), period))
            v = json_real_value(json_object_get(q, key));
    }
    json_decref(t);
    return v;
}

static char *g_out1, *g_scenes, *g_local;

/* Every map of a run as a GIS user gets it: a COG; no data NaN in real-valued maps and the
 * type's largest value in integer ones; every band described; a class map's colour table, names
 * and raster attribute table agreeing, the table's pixel counts and hectares those of the map. */
static void maps_follow_the_conventions(const char *out_dir)
{
    char *maps = tu_path(out_dir, "maps");
    DIR *d = opendir(maps);
    assert_non_null(d);
    int nmaps = 0, nclass = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".tif")) continue;
        char *path = tu_path(maps, e->d_name);
        GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
        if (!ds) fail_msg("%s does not open", path);
        const char *layout = GDALGetMetadataItem(ds, "LAYOUT", "IMAGE_STRUCTURE");
        if (!layout || strcmp(layout, "COG")) fail_msg("%s is not a COG", path);
        double gt[6];
        assert_int_equal(GDALGetGeoTransform(ds, gt), CE_None);
        const int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds);
        for (int b = 1; b <= GDALGetRasterCount(ds); b++) {
            GDALRasterBandH band = GDALGetRasterBand(ds, b);
            const GDALDataType t = GDALGetRasterDataType(band);
            int has = 0;
            const double nd = GDALGetRasterNoDataValue(band, &has);
            const double want = t == GDT_Byte     ? 255
                                : t == GDT_UInt16 ? 65535
                                : t == GDT_UInt32 ? 4294967295.0
                                                  : NAN;
            if (!has || (isnan(want) ? !isnan(nd) : nd != want))
                fail_msg("%s band %d: no data %g, the convention says %g", path, b, nd, want);
            if (!*GDALGetDescription(band)) fail_msg("%s band %d has no description", path, b);
            GDALColorTableH ct = GDALGetRasterColorTable(band);
            if (!ct) continue;
            nclass++;
            unsigned char *v = malloc((size_t)w * h);
            assert_int_equal(GDALRasterIO(band, GF_Read, 0, 0, w, h, v, w, h, GDT_Byte, 0, 0),
                             CE_None);
            long count[256] = {0};
            for (size_t i = 0; i < (size_t)w * h; i++)
                count[v[i]]++;
            free(v);
            GDALRasterAttributeTableH rat = GDALGetDefaultRAT(band);
            if (!rat) fail_msg("%s has a colour table but no attribute table", path);
            const int rows = GDALRATGetRowCount(rat);
            const int cv = GDALRATGetColOfUsage(rat, GFU_MinMax),
                      cn = GDALRATGetColOfUsage(rat, GFU_Name),
                      cp = GDALRATGetColOfUsage(rat, GFU_PixelCount);
            int ch = -1;
            for (int c = 0; c < GDALRATGetColumnCount(rat); c++)
                if (!strcmp(GDALRATGetNameOfCol(rat, c), "hectares")) ch = c;
            assert_true(cv >= 0 && cn >= 0 && cp >= 0 && ch >= 0);
            long listed = 0;
            for (int r = 0; r < rows; r++) {
                const int val = GDALRATGetValueAsInt(rat, r, cv);
                assert_true(val >= 0 && val < 255);
                char key[32];
                snprintf(key, sizeof key, "CLASS_%d", val);
                const char *name = GDALGetMetadataItem(band, key, NULL);
                if (!name || strcmp(name, GDALRATGetValueAsString(rat, r, cn)))
                    fail_msg("%s class %d: metadata '%s', table '%s'", path, val,
                             name ? name : "(none)", GDALRATGetValueAsString(rat, r, cn));
                if (GDALRATGetValueAsInt(rat, r, cp) != count[val])
                    fail_msg("%s class %d: the table counts %d pixels, the map has %ld", path, val,
                             GDALRATGetValueAsInt(rat, r, cp), count[val]);
                const double ha = count[val] * gt[1] * gt[1] / 1e4;
                if (fabs(GDALRATGetValueAsDouble(rat, r, ch) - ha) > 0.005)
                    fail_msg("%s class %d: %g ha in the table, %g in the map", path, val,
                             GDALRATGetValueAsDouble(rat, r, ch), ha);
                listed += count[val];
            }
            /* every pixel is a listed class or no data */
            if (listed + count[255] != (long)w * h)
                fail_msg("%s: %ld pixels of values no class names", path,
                         (long)w * h - listed - count[255]);
        }
        GDALClose(ds);
        free(path);
        nmaps++;
    }
    closedir(d);
    assert_true(nmaps >= 10 && nclass >= 4);
    free(maps);
}

static void run_recovers_truth(void **state)
{
    (void)state;
    char *pl = write_pipeline(
        "sim.yaml", "{type: simulator, seed: 5, scenes_per_period: 5, cloud_cover: 0.25}", NULL);
    { /* the one run that also writes the report and the STAC catalogue (the others need not) */
        char *t = tu_read(pl, NULL), *at = strstr(t, "outputs: {formats: [gpkg, csv, maps]}");
        assert_non_null(at);
        char *u = malloc(strlen(t) + 64);
        sprintf(u, "%.*soutputs: {formats: [gpkg, csv, maps, report, stac]}%s", (int)(at - t), t,
                at + strlen("outputs: {formats: [gpkg, csv, maps]}"));
        tu_write(pl, u);
        free(t), free(u);
    }
    char args[2048], *out;
    snprintf(args, sizeof args, "run %s -o %s --threads 2", pl, g_out1);
    int rc = run_cli(args, &out);
    if (rc != 0) fail_msg("run exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "site_id"));
    assert_non_null(strstr(out, g_out1));
    free(out);
    row rows[8];
    assert_int_equal(read_rows(g_out1, rows, 8), 4);
    for (int i = 0; i < 4; i++) {
        row *r = &rows[i];
        assert_int_equal(r->n_scenes, 5);
        assert_int_equal(r->n_failed, 0);
        assert_true(r->clear > 0.3 && r->clear < 1.0);
        assert_true(r->valid > 0.999);
        assert_true(r->observed > 0.999);
        double area = truth_value(g_scenes, r->site, r->period, "area_ha");
        assert_true(fabs(r->area - area) / area < 0.001);
        double fb = truth_value(g_scenes, r->site, "baseline", "forest_ha");
        assert_true(fabs(r->forest_base - fb) / fb < 0.02);
        double loss = truth_value(g_scenes, r->site, r->period, "forest_loss_ha");
        if (!strcmp(r->period, "baseline")) {
            assert_true(r->loss == 0.0);
        } else {
            assert_true(loss > 5);
            if (fabs(r->loss - loss) / loss > 0.05)
                fail_msg("%s %s: forest loss %.2f ha, truth %.2f ha", r->site, r->period, r->loss,
                         loss);
        }
        assert_true(r->ndvi > 0.6 && r->ndvi < 0.9);
    }
    { /* heat under clouds: the smelter's furnace every period, the mine never a false one */
        char *csv = tu_path(g_out1, "indicators.csv");
        for (int i = 0; i < 4; i++) {
            const double hot = tu_csv_value(csv, rows[i].site, rows[i].period, "hot_pixel_days");
            if (!strcmp(rows[i].site, "id-imip-morowali") ? !(hot >= 10) : hot != 0)
                fail_msg("%s %s: %g hot pixel-days", rows[i].site, rows[i].period, hot);
        }
        free(csv);
    }
    /* GeoPackage: layer site_indicators, one feature per site and period, with geometry. */
    char *gp = tu_path(g_out1, "indicators.gpkg");
    GDALDatasetH ds = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    OGRLayerH l = GDALDatasetGetLayerByName(ds, "site_indicators");
    assert_non_null(l);
    assert_int_equal(OGR_L_GetFeatureCount(l, 1), 4);
    OGRFeatureH f = OGR_L_GetNextFeature(l);
    assert_non_null(OGR_F_GetGeometryRef(f));
    assert_true(fabs(OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "area_ha")) - rows[0].area) <
                0.01);
    /* the catalogue's attributes ride along */
    assert_string_equal(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "kind")), "mine");
    assert_int_equal(strlen(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "country"))), 2);
    OGR_F_Destroy(f);
    /* units and meanings for GIS tools (gpkg_data_columns), and the QGIS style it opens with */
    OGRLayerH q = GDALDatasetExecuteSQL(ds,
                                        "SELECT title, description FROM gpkg_data_columns WHERE "
                                        "table_name = 'site_indicators' AND column_name = "
                                        "'forest_loss_ha'",
                                        NULL, NULL);
    assert_non_null(q);
    f = OGR_L_GetNextFeature(q);
    assert_non_null(f);
    assert_string_equal(OGR_F_GetFieldAsString(f, 0), "forest_loss_ha (ha)");
    assert_non_null(strstr(OGR_F_GetFieldAsString(f, 1), "baseline forest lost"));
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, q);
    q = GDALDatasetExecuteSQL(ds,
                              "SELECT styleQML, useAsDefault FROM layer_styles WHERE "
                              "f_table_name = 'site_indicators'",
                              NULL, NULL);
    assert_non_null(q);
    f = OGR_L_GetNextFeature(q);
    assert_non_null(f);
    assert_int_equal(OGR_F_GetFieldAsInteger(f, 1), 1);
    CPLXMLNode *qml = CPLParseXMLString(OGR_F_GetFieldAsString(f, 0));
    assert_non_null(qml);
    const CPLXMLNode *qg = CPLGetXMLNode(qml, "=qgis");
    assert_non_null(qg);
    assert_string_equal(CPLGetXMLValue(qg, "renderer-v2.attr", ""), "forest_loss_ha");
    CPLDestroyXMLNode(qml);
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, q);
    GDALClose(ds);
    free(gp);
    /* Provenance names the pipeline by hash and every scene used. */
    char *pp = tu_path(g_out1, "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    assert_non_null(prov);
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(prov, "pipeline"), "sha256"))),
        64);
    json_t *s0 = json_array_get(json_object_get(prov, "sites"), 0);
    json_t *p0 = json_array_get(json_object_get(s0, "periods"), 0);
    assert_int_equal(json_array_size(json_object_get(p0, "scenes")), 5);
    assert_non_null(json_object_get(json_object_get(prov, "methods"), "harmonisation"));
    /* ... and proves its inputs: the build and its libraries, the site catalogue and every chip
     * the composites read, by hash */
    json_t *sw = json_object_get(prov, "software");
    assert_true(strlen(json_string_value(json_object_get(sw, "git_commit"))) >= 7);
    assert_non_null(json_string_value(json_object_get(sw, "fftw")));
    assert_non_null(json_string_value(json_object_get(sw, "libcurl")));
    assert_int_equal(
        strlen(json_string_value(json_object_get(
            json_object_get(json_object_get(prov, "inputs"), "site_catalogue"), "sha256"))),
        64);
    json_t *cc =
        json_object_get(json_array_get(json_object_get(p0, "scenes"), 0), "composited_chip");
    char *chip_sha = mw_sha256_file(json_string_value(json_object_get(cc, "path")));
    assert_string_equal(json_string_value(json_object_get(cc, "sha256")), chip_sha);
    free(chip_sha);
    json_decref(prov);
    free(pp);
    free(pl);
    maps_follow_the_conventions(g_out1);
    /* The report, opened by a real browser: per site the three pictures (each a PNG GDAL reads),
     * the charts, the indicator and scene tables; the methods; a drawn page. */
    char *hp = tu_path(g_out1, "report.html"), *png = tu_path(g_out1, "report-shot.png");
    char *dom = tu_browser_dom(hp, png);
    if (!dom) fail_msg("headless Chromium could not render %s", hp);
    static const char *const sites[2] = {"cd-kamoto", "id-imip-morowali"};
    for (int s = 0; s < 2; s++) {
        static const char *const pics[3] = {"before", "after", "changes"};
        char want[256];
        for (int k = 0; k < 3; k++) {
            snprintf(want, sizeof want, "<img src=\"report/%s_%s.png\"", sites[s], pics[k]);
            if (!strstr(dom, want)) fail_msg("the report has no %s", want);
            snprintf(want, sizeof want, "report/%s_%s.png", sites[s], pics[k]);
            char *ip = tu_path(g_out1, want);
            GDALDatasetH im = GDALOpen(ip, GA_ReadOnly);
            if (!im) fail_msg("%s is not a picture GDAL reads", ip);
            assert_string_equal(GDALGetDriverShortName(GDALGetDatasetDriver(im)), "PNG");
            assert_int_equal(GDALGetRasterCount(im), 3);
            GDALClose(im);
            free(ip);
        }
        snprintf(want, sizeof want, "id=\"indicators-%s\"", sites[s]);
        assert_non_null(strstr(dom, want));
        snprintf(want, sizeof want, "id=\"scenes-%s\"", sites[s]);
        assert_non_null(strstr(dom, want));
        snprintf(want, sizeof want, "<svg class=\"chart\" id=\"chart-%s-", sites[s]);
        assert_true(tu_count(dom, want) >= 4); /* NDVI, forest, loss, cleared at least */
        snprintf(want, sizeof want, "<td>S2SIM_%s_", sites[s]);
        assert_int_equal(tu_count(dom, want), 10); /* 5 scenes in each of 2 periods */
    }
    assert_non_null(strstr(dom, "id=\"methods-table\""));
    assert_true(tu_count(dom, "Hansen et al. 2013") >= 1);
    assert_null(strstr(dom, "<script"));
    assert_true(tu_png_is_drawn(png, 1280));
    free(dom), free(hp), free(png);
    char *csv = tu_path(g_out1, "indicators.csv");
    /* The STAC catalogue of the outputs: an item per site and period, each asset a file there,
     * the grid as the maps have it, the indicators as the CSV has them */
    char *cp = tu_path(g_out1, "stac/collection.json");
    json_t *col = json_load_file(cp, 0, NULL);
    assert_non_null(col);
    assert_string_equal(json_string_value(json_object_get(col, "type")), "Collection");
    size_t li, nitems = 0;
    json_t *link;
    json_array_foreach(json_object_get(col, "links"), li, link)
    {
        if (strcmp(json_string_value(json_object_get(link, "rel")), "item")) continue;
        nitems++;
        char rel[512];
        snprintf(rel, sizeof rel, "stac/%s", json_string_value(json_object_get(link, "href")) + 2);
        char *ip = tu_path(g_out1, rel);
        json_t *item = json_load_file(ip, 0, NULL);
        if (!item) fail_msg("no STAC item %s", ip);
        json_t *props = json_object_get(item, "properties");
        const char *site = json_string_value(json_object_get(props, "minewatch:site_id")),
                   *per = json_string_value(json_object_get(props, "minewatch:period"));
        assert_true(fabs(json_number_value(json_object_get(props, "minewatch:forest_loss_ha")) -
                         tu_csv_value(csv, site, per, "forest_loss_ha")) < 1e-9);
        const char *key;
        json_t *asset;
        int composite = 0, cover = 0;
        json_object_foreach(json_object_get(item, "assets"), key, asset)
        {
            char ap[512];
            snprintf(ap, sizeof ap, "stac/%s", json_string_value(json_object_get(asset, "href")));
            char *full = tu_path(g_out1, ap);
            if (access(full, R_OK)) fail_msg("asset %s of %s is not there", full, ip);
            assert_true(json_array_size(json_object_get(asset, "roles")) >= 1);
            if (!strcmp(key, "composite")) {
                composite = 1;
                GDALDatasetH m = GDALOpen(full, GA_ReadOnly);
                assert_non_null(m);
                json_t *shape = json_object_get(props, "proj:shape");
                assert_int_equal(json_integer_value(json_array_get(shape, 0)),
                                 GDALGetRasterYSize(m));
                assert_int_equal(json_integer_value(json_array_get(shape, 1)),
                                 GDALGetRasterXSize(m));
                assert_int_equal(json_array_size(json_object_get(asset, "raster:bands")), 6);
                json_t *b0 = json_array_get(json_object_get(asset, "raster:bands"), 0);
                assert_string_equal(json_string_value(json_object_get(b0, "unit")),
                                    "reflectance (0-1)");
                GDALClose(m);
            }
            if (!strcmp(key, "cover")) { /* the classes a STAC client can show */
                json_t *b0 = json_array_get(json_object_get(asset, "raster:bands"), 0);
                json_t *cls = json_object_get(b0, "classification:classes");
                assert_int_equal(json_array_size(cls), 5);
                json_t *c1 = json_array_get(cls, 1);
                assert_int_equal(json_integer_value(json_object_get(c1, "value")), 2);
                assert_string_equal(json_string_value(json_object_get(c1, "name")), "forest");
                assert_string_equal(json_string_value(json_object_get(c1, "color_hint")), "006400");
                cover = 1;
            }
            free(full);
        }
        assert_true(composite && cover);
        json_decref(item);
        free(ip);
    }
    assert_int_equal(nitems, 4); /* 2 sites x 2 periods */
    json_decref(col);
    free(cp), free(csv);
}

static void compare_outputs(const char *a, const char *b, const char *s1, const char *s2)
{
    /* "@" stands for a site id: the two sites in turn */
    const char *files[] = {"indicators.csv",
                           "maps/@_forest_loss.tif",
                           "maps/@_forest_loss.tif",
                           "maps/@_ndvi_2023.tif",
                           "maps/@_ndvi_baseline.tif",
                           "maps/@_clear_obs_2023.tif",
                           "maps/@_composite_2023.tif",
                           "maps/@_cover_2023.tif",
                           "maps/@_cover_2023.tif.aux.xml",
                           "maps/@_dnbr_2023.tif",
                           "maps/@_ndvi_trend.tif",
                           "maps/@_transitions.csv",
                           "maps/@_loss_patches.gpkg",
                           "maps/@_change_2023.tif",
                           "indicators.gpkg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char rel[256];
        const char *at = strchr(files[i], '@');
        if (at)
            snprintf(rel, sizeof rel, "%.*s%s%s", (int)(at - files[i]), files[i], i % 2 ? s1 : s2,
                     at + 1);
        else
            snprintf(rel, sizeof rel, "%s", files[i]);
        char *x = tu_path(a, rel), *y = tu_path(b, rel);
        if (!tu_same_file(x, y)) fail_msg("%s differs between %s and %s", rel, a, b);
        free(x), free(y);
    }
}

/* Same bytes for any thread count, chunk height and memory budget. What is tested is the
 * invariance, not the size: two small sites (a mine and a smelter, 700 m discs at the Kamoto and
 * Morowali positions, three scenes a period) keep the runs short, and every output kind is
 * compared, GeoPackages too. */
static void identical_for_any_threads_and_chunks(void **state)
{
    (void)state;
    char *cat = tu_path(g_dir, "small-sites.geojson");
    tu_write(cat,
             "{\"type\":\"FeatureCollection\",\"features\":["
             "{\"type\":\"Feature\",\"properties\":{\"id\":\"km\",\"name\":\"mine\",\"kind\":"
             "\"mine\",\"radius_m\":700},\"geometry\":{\"type\":\"Point\",\"coordinates\":[25."
             "42,-10.73]}},"
             "{\"type\":\"Feature\",\"properties\":{\"id\":\"mo\",\"name\":\"smelter\",\"kind\":"
             "\"smelter\",\"radius_m\":700},\"geometry\":{\"type\":\"Point\",\"coordinates\":["
             "122.16,-2.81]}}]}");
    char *pl = tu_path(g_dir, "small.yaml"), text[2048];
    char *scenes = tu_path(g_dir, "small-scenes");
    snprintf(text, sizeof text,
             "name: small\nsites: {catalogue: %s}\nsource: {type: local, path: %s}\n"
             "periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
             "  monitoring:\n    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"
             "grid: {pixel_size_m: 10, buffer_m: 300}\noutputs: {formats: [gpkg, csv, maps]}\n",
             cat, scenes);
    tu_write(pl, text);
    char *sim = tu_path(g_dir, "small-sim.yaml");
    char simtext[2048];
    snprintf(simtext, sizeof simtext, "%s", text);
    char *src = strstr(simtext, "{type: local");
    snprintf(src, sizeof simtext - (size_t)(src - simtext),
             "{type: simulator, seed: 5, scenes_per_period: 3, cloud_cover: 0.25}\n%s",
             strstr(text, "periods:"));
    tu_write(sim, simtext);
    char args[2048], *out;
    snprintf(args, sizeof args, "simulate %s -o %s -q", sim, scenes);
    assert_int_equal(run_cli(args, &out), 0);
    free(out);
    /* --mem 200: near the smallest budget these sites fit: small composite chunks, one scene
     * ingested at a time. */
    const char *runs[] = {"--threads 2",
                          "--threads 1",
                          "--threads 2 --chunk-rows 7",
                          "--threads 2 --chunk-rows 64 --mem 200",
                          "--threads 2 --mem 200",
                          "--threads 1 --chunk-rows 1000"};
    char *ref = NULL;
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char name[32];
        snprintf(name, sizeof name, "out-chunks-%zu", i);
        char *o = tu_path(g_dir, name);
        snprintf(args, sizeof args, "run %s -o %s -q %s", pl, o, runs[i]);
        int rc = run_cli(args, &out);
        if (rc != 0) fail_msg("%s exited %d:\n%s", args, rc, out);
        free(out);
        if (ref)
            compare_outputs(ref, o, "km", "mo");
        else
            ref = strdup(o);
        free(o);
    }
    free(ref), free(sim), free(scenes), free(pl), free(cat);
}

static void *read_map(const char *dir, const char *site, const char *what, const char *period,
                      GDALDataType t, int *w, int *h)
{
    char name[256];
    snprintf(name, sizeof name, "maps/%s_%s_%s.tif", site, what, period);
    char *path = tu_path(dir, name);
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) fail_msg("no map %s", path);
    *w = GDALGetRasterXSize(ds), *h = GDALGetRasterYSize(ds);
    void *v = malloc((size_t)*w * *h * GDALGetDataTypeSizeBytes(t));
    assert_int_equal(
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, *w, *h, v, *w, *h, t, 0, 0), CE_None);
    GDALClose(ds);
    free(path);
    return v;
}

/* max_ndvi and bap from the same datacube: each pixel's date is one of its period's scene dates,
 * the clear-observation count is the median run's, max-NDVI is at least as green as the median,
 * and provenance names the method. */
static void composite_methods_write_dates_and_counts(void **state)
{
    (void)state;
    const char *methods[] = {"max_ndvi", "bap"};
    for (int m = 0; m < 2; m++) {
        char text[4096], src[1024], name[64];
        snprintf(src, sizeof src, "{type: local, path: %s}", g_scenes);
        snprintf(text, sizeof text, PIPELINE_FMT,
                 MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson", src);
        char *o = strstr(text, "outputs:");
        snprintf(o, sizeof text - (size_t)(o - text),
                 "outputs: {formats: [csv, maps], datacube: %s/tiles}\ncomposite: {method: %s}\n",
                 g_out1, methods[m]);
        snprintf(name, sizeof name, "%s.yaml", methods[m]);
        char *pl = tu_path(g_dir, name);
        tu_write(pl, text);
        snprintf(name, sizeof name, "out-%s", methods[m]);
        char *dir = tu_path(g_dir, name), args[2048], *out;
        snprintf(args, sizeof args, "run %s -o %s -q", pl, dir);
        int rc = run_cli(args, &out);
        if (rc != 0) fail_msg("%s exited %d:\n%s", args, rc, out);
        free(out);
        char *pp = tu_path(dir, "provenance.json");
        json_t *prov = json_load_file(pp, 0, NULL);
        assert_non_null(prov);
        json_t *cm = json_object_get(json_object_get(prov, "methods"), "composite");
        assert_string_equal(json_string_value(json_object_get(cm, "method")), methods[m]);
        json_t *sites = json_object_get(prov, "sites");
        for (size_t si = 0; si < json_array_size(sites); si++) {
            json_t *js = json_array_get(sites, si);
            const char *site = json_string_value(json_object_get(js, "id"));
            json_t *pers = json_object_get(js, "periods");
            for (size_t k = 0; k < json_array_size(pers); k++) {
                json_t *jp = json_array_get(pers, k);
                const char *per = json_string_value(json_object_get(jp, "name"));
                json_t *sc = json_object_get(jp, "scenes");
                uint32_t dates[16];
                size_t nd = 0;
                for (size_t i = 0; i < json_array_size(sc) && nd < 16; i++) {
                    const char *dt =
                        json_string_value(json_object_get(json_array_get(sc, i), "datetime"));
                    int y, mo, d;
                    assert_int_equal(sscanf(dt, "%4d-%2d-%2d", &y, &mo, &d), 3);
                    dates[nd++] = (uint32_t)(y * 10000 + mo * 100 + d);
                }
                assert_true(nd >= 3);
                int w, h, w2, h2;
                uint32_t *date = read_map(dir, site, "date", per, GDT_UInt32, &w, &h);
                uint16_t *n = read_map(dir, site, "clear_obs", per, GDT_UInt16, &w2, &h2);
                uint16_t *n_med = read_map(g_out1, site, "clear_obs", per, GDT_UInt16, &w2, &h2);
                assert_memory_equal(n, n_med, (size_t)w * h * sizeof *n);
                long dated = 0;
                for (size_t i = 0; i < (size_t)w * h; i++) {
                    if (date[i] == 4294967295u) {                /* no data */
                        assert_true(n[i] == 0 || n[i] == 65535); /* min_clear_observations 1 */
                        continue;
                    }
                    int found = 0;
                    for (size_t j = 0; j < nd; j++)
                        found |= date[i] == dates[j];
                    if (!found)
                        fail_msg("%s %s pixel %zu: date %u is no scene's", site, per, i, date[i]);
                    dated++;
                }
                assert_true(dated > (long)w * h / 4);
                free(date), free(n), free(n_med);
            }
        }
        if (m == 0) { /* the greenest date beats the median's NDVI on every site mean */
            row med[8], mx[8];
            int a = read_rows(g_out1, med, 8), b = read_rows(dir, mx, 8);
            assert_int_equal(a, b);
            for (int i = 0; i < a; i++)
                if (mx[i].ndvi < med[i].ndvi)
                    fail_msg("%s %s: max-NDVI mean %.4f < median %.4f", mx[i].site, mx[i].period,
                             mx[i].ndvi, med[i].ndvi);
        }
        json_decref(prov);
        free(pp), free(dir), free(pl);
    }
}

static void bad_scenes_are_skipped_and_reported(void **state)
{
    (void)state;
    char *bad = tu_path(g_dir, "scenes-bad"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "cp -r %s %s", g_scenes, bad);
    assert_int_equal(tu_run(cmd, NULL), 0);
    /* 1: a truncated band file; 2: an item that is not JSON; 3: an item without SCL. Pick three
     * kamoto scenes of 2023 by listing the folder. */
    snprintf(cmd, sizeof cmd, "ls %s | grep cd-kamoto_2023 | head -3", bad);
    char *list;
    assert_int_equal(tu_run(cmd, &list), 0);
    char id[3][128];
    assert_int_equal(sscanf(list, "%127s %127s %127s", id[0], id[1], id[2]), 3);
    free(list);
    snprintf(cmd, sizeof cmd, "truncate -s 3000 %s/%s/B04.tif", bad, id[0]);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "printf '{\"type\": \"Feature\", oops' > %s/%s/%s.json", bad, id[1],
             id[1]);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"scl\"/\"not_scl\"/' %s/%s/%s.json", bad, id[2], id[2]);
    assert_int_equal(tu_run(cmd, NULL), 0);
    char src[1024];
    /* the scene's own masks only: a scene without one is left out, not screened */
    snprintf(src, sizeof src, "{type: local, path: %s}\nmask: {source: provider}", bad);
    char *pl = write_pipeline("bad.yaml", src, NULL);
    char *o = tu_path(g_dir, "out-bad");
    snprintf(cmd, sizeof cmd, "run %s -o %s --threads 2", pl, o);
    int rc = run_cli(cmd, &out);
    assert_int_equal(rc, 1);
    /* Each problem names its scene or file and says what happened. */
    assert_non_null(strstr(out, id[0]));
    assert_non_null(strstr(out, "B04.tif"));
    assert_non_null(strstr(out, "the scene is skipped"));
    char want[512];
    snprintf(want, sizeof want, "%s/%s/%s.json", bad, id[1], id[1]);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "not valid JSON"));
    assert_non_null(strstr(out, id[2]));
    assert_non_null(strstr(out, "has no SCL asset"));
    assert_non_null(strstr(out, "(mask: {source: auto} or screen)"));
    free(out);
    row rows[8];
    assert_int_equal(read_rows(o, rows, 8), 4);
    for (int i = 0; i < 4; i++) {
        int hit = !strcmp(rows[i].site, "cd-kamoto") && !strcmp(rows[i].period, "2023");
        /* The unparseable item never became a scene; the other two failed at ingest. */
        assert_int_equal(rows[i].n_scenes, hit ? 2 : 5);
        assert_int_equal(rows[i].n_failed, hit ? 2 : 0);
        if (hit) {
            /* Two scenes left, one mostly cloudy: only part of the site is seen, and the row says
             * so; the loss found there is real loss, never more than the truth. */
            double t = truth_value(g_scenes, "cd-kamoto", "2023", "forest_loss_ha");
            assert_true(rows[i].valid < 0.9 && rows[i].observed < 0.9);
            assert_true(fabs(rows[i].observed - rows[i].valid) < 0.1);
            assert_true(rows[i].loss > 0 && rows[i].loss <= t * 1.05);
        } else {
            assert_true(rows[i].valid > 0.999 && rows[i].observed > 0.999);
        }
    }
    char *pp = tu_path(o, "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(prov, "failures")), 3);
    json_decref(prov);
    free(pp), free(pl), free(o), free(bad);
}

/* Reads a number column of a CSV row chosen by two key columns. */
static double period_mid_year(const char *start, const char *end)
{
    int y0, m0, d0, y1, m1, d1;
    assert_int_equal(sscanf(start, "%d-%d-%d", &y0, &m0, &d0), 3);
    assert_int_equal(sscanf(end, "%d-%d-%d", &y1, &m1, &d1), 3);
    /* days since 1970 (civil-from-days inverse, Howard Hinnant) */
    double dd[2];
    int ys[2] = {y0, y1}, ms[2] = {m0, m1}, ds[2] = {d0, d1};
    for (int i = 0; i < 2; i++) {
        int y = ys[i] - (ms[i] <= 2), era = (y >= 0 ? y : y - 399) / 400;
        int yoe = y - era * 400, mp = (ms[i] + 9) % 12;
        int doy = (153 * mp + 2) / 5 + ds[i] - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        dd[i] = era * 146097.0 + doe - 719468.0;
    }
    return 1970.0 + (0.5 * (dd[0] + dd[1]) + 0.5) / 365.2425;
}

/* The change stages against the simulator's truth: land-cover areas, each planted clearing as
 * one loss patch in its period, the site NDVI trend, the co-registration shifts; and `change`
 * alone gives the run's figures. */
static void change_stages_match_truth(void **state)
{
    (void)state;
    char *tp = tu_path(g_scenes, "truth.json"), *pp = tu_path(g_out1, "provenance.json");
    char *csv = tu_path(g_out1, "indicators.csv");
    json_t *truth = json_load_file(tp, 0, NULL), *prov = json_load_file(pp, 0, NULL);
    assert_non_null(truth);
    assert_non_null(prov);
    json_t *cn = json_object_get(truth, "cover_ndvi");
    size_t si;
    json_t *ts;
    json_array_foreach(json_object_get(truth, "sites"), si, ts)
    {
        const char *site = json_string_value(json_object_get(ts, "id"));
        json_t *pers = json_object_get(ts, "periods");
        double t[8], mean[8];
        size_t np = json_array_size(pers);
        for (size_t k = 0; k < np; k++) {
            json_t *q = json_array_get(pers, k);
            const char *per = json_string_value(json_object_get(q, "name"));
#define TV(key) json_real_value(json_object_get(q, key))
            struct {
                const char *col, *truth;
                double tol;
            } checks[] = {{"disturbed_ha", "disturbed_ha", 0.10},
                          {"water_ha", "water_ha", 0.10},
                          {"built_ha", "built_ha", 0.10},
                          {"reveg_ha", "revegetated_ha", 0.15}};
            for (size_t c = 0; c < sizeof checks / sizeof *checks; c++) {
                double got = tu_csv_value(csv, site, per, checks[c].col),
                       want = TV(checks[c].truth);
                if (want < 1) {
                    if (!(got < 1))
                        fail_msg("%s %s %s: %.2f ha, truth %.2f", site, per, checks[c].col, got,
                                 want);
                } else if (fabs(got - want) / want > checks[c].tol) {
                    fail_msg("%s %s %s: %.2f ha, truth %.2f (tolerance %.0f %%)", site, per,
                             checks[c].col, got, want, 100 * checks[c].tol);
                }
            }
            double loss = tu_csv_value(csv, site, per, "forest_loss_ha"),
                   want = TV("forest_loss_ha");
            /* Generic change (CVA, Otsu) finds every cover change: the loss and the dump's
             * revegetation, with no vegetation rule of its own. */
            double chg = tu_csv_value(csv, site, per, "changed_ha"),
                   planted = want + TV("revegetated_ha");
            if (k > 0 && fabs(chg - planted) / planted > 0.10)
                fail_msg("%s %s: generic change %.2f ha, planted change %.2f ha (> 10 %%)", site,
                         per, chg, planted);
            if (k > 0)
                print_message("%s %s: generic change %.2f ha, planted %.2f ha\n", site, per, chg,
                              planted);
            if (k > 0 && fabs(loss - want) / want > 0.05)
                fail_msg("%s %s: forest loss %.2f ha, truth %.2f ha (> 5 %%)", site, per, loss,
                         want);
            double area = TV("area_ha"), grass = area - TV("forest_ha") - TV("disturbed_ha") -
                                                 TV("water_ha") - TV("revegetated_ha") -
                                                 TV("built_ha");
#define CN(name) json_real_value(json_object_get(cn, name))
            mean[k] = (TV("forest_ha") * CN("forest") + grass * CN("grass") +
                       TV("disturbed_ha") * CN("bare") + TV("water_ha") * CN("water") +
                       TV("revegetated_ha") * CN("revegetated") + TV("built_ha") * CN("built")) /
                      area;
            t[k] = period_mid_year(json_string_value(json_object_get(q, "start")),
                                   json_string_value(json_object_get(q, "end")));
#undef CN
#undef TV
        }
        /* Two periods: the Theil-Sen slope is the one pairwise slope. */
        assert_int_equal(np, 2);
        double slope = (mean[1] - mean[0]) / (t[1] - t[0]);
        double got = tu_csv_value(csv, site, "baseline", "ndvi_trend_per_yr");
        print_message("%s: NDVI trend %.5f/yr, truth %.5f/yr\n", site, got, slope);
        assert_true(got * slope > 0);
        if (fabs(got - slope) / fabs(slope) > 0.10)
            fail_msg("%s: NDVI trend %.5f/yr, truth %.5f/yr (> 10 %%)", site, got, slope);
        /* Every planted clearing of at least the MMU is one patch of its period. */
        char name[256];
        snprintf(name, sizeof name, "maps/%s_loss_patches.gpkg", site);
        char *gp = tu_path(g_out1, name);
        GDALDatasetH ds = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL);
        if (!ds) fail_msg("no %s", gp);
        OGRLayerH l = GDALDatasetGetLayerByName(ds, "forest_loss_patches");
        assert_non_null(l);
        size_t ci;
        json_t *cl;
        int checked = 0;
        json_array_foreach(json_object_get(json_object_get(ts, "world"), "clearings"), ci, cl)
        {
            double bb[4], ha = json_real_value(json_object_get(cl, "area_ha"));
            for (int i = 0; i < 4; i++)
                bb[i] = json_real_value(json_array_get(json_object_get(cl, "bbox_utm"), i));
            const char *on = json_string_value(json_object_get(cl, "cleared_on"));
            if (ha < 0.5 || strcmp(on, "2023-06-01") > 0) continue; /* later, or below the MMU */
            int found = 0;
            double area = 0;
            OGRFeatureH f;
            OGR_L_ResetReading(l);
            while ((f = OGR_L_GetNextFeature(l)) != NULL) {
                OGRGeometryH c = OGR_G_CreateGeometry(wkbPoint);
                OGR_G_Centroid(OGR_F_GetGeometryRef(f), c);
                double x = OGR_G_GetX(c, 0), y = OGR_G_GetY(c, 0);
                if (x > bb[0] && x < bb[2] && y > bb[1] && y < bb[3] &&
                    OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "area_ha")) >= 0.5) {
                    found++;
                    area = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "area_ha"));
                    assert_string_equal(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "period")),
                                        "2023");
                    assert_true(OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "mean_dndvi")) >
                                0.3);
                }
                OGR_G_DestroyGeometry(c);
                OGR_F_Destroy(f);
            }
            if (found != 1) fail_msg("%s: clearing %zu found %d times", site, ci, found);
            if (fabs(area - ha) / ha > 0.15)
                fail_msg("%s: clearing %zu: patch %.2f ha, truth %.2f ha", site, ci, area, ha);
            checked++;
        }
        assert_true(checked >= 2);
        /* Patches, counts and hectares reconcile: a period's features are its loss_patches, each
         * of at least the MMU, and their areas add up to its forest_loss_ha. */
        const char *const per_names[] = {"baseline", "2023"};
        for (int k = 0; k < 2; k++) {
            long n = 0;
            double sum = 0, smallest = INFINITY;
            OGRFeatureH f;
            OGR_L_ResetReading(l);
            while ((f = OGR_L_GetNextFeature(l)) != NULL) {
                if (strcmp(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "period")),
                           per_names[k]) == 0) {
                    double a = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "area_ha"));
                    n++, sum += a;
                    if (a < smallest) smallest = a;
                }
                OGR_F_Destroy(f);
            }
            double want_n = tu_csv_value(csv, site, per_names[k], "loss_patches");
            double want_ha = tu_csv_value(csv, site, per_names[k], "forest_loss_ha");
            print_message("%s %s: %ld patch polygons, %.2f ha; loss_patches %.0f, forest_loss_ha "
                          "%.2f\n",
                          site, per_names[k], n, sum, want_n, want_ha);
            assert_int_equal(n, (long)want_n);
            assert_true(fabs(sum - want_ha) < 0.01);
            if (n) assert_true(smallest >= 0.5 - 1e-9);
        }
        GDALClose(ds);
        free(gp);
        /* The transition matrix accounts for every site pixel. */
        snprintf(name, sizeof name, "maps/%s_transitions.csv", site);
        char *tc = tu_path(g_out1, name), cmd[1024], *sum;
        snprintf(cmd, sizeof cmd, "awk -F, 'NR>1{s+=$5}END{printf \"%%.2f\", s}' %s", tc);
        assert_int_equal(tu_run(cmd, &sum), 0);
        double area = tu_csv_value(csv, site, "baseline", "area_ha");
        if (fabs(atof(sum) - area) / area > 0.01)
            fail_msg("%s: transitions sum to %s ha, site %.2f ha", site, sum, area);
        free(sum), free(tc);
    }
    /* Co-registration: each trusted estimate against the planted shifts, relative to the
     * reference scene (shift to apply = -(scene - reference)). */
    json_t *shift = json_object();
    json_array_foreach(json_object_get(truth, "sites"), si, ts)
    {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(ts, "scenes"), i, s) json_object_set(
            shift, json_string_value(json_object_get(s, "id")), json_object_get(s, "shift_px"));
    }
    double se = 0;
    int n = 0, total = 0;
    json_array_foreach(json_object_get(prov, "sites"), si, ts)
    {
        size_t k, i;
        json_t *per, *sc;
        json_array_foreach(json_object_get(ts, "periods"), k, per)
            json_array_foreach(json_object_get(per, "scenes"), i, sc)
        {
            json_t *c = json_object_get(sc, "coregistration");
            assert_non_null(c);
            if (json_is_true(json_object_get(c, "is_reference"))) continue;
            total++;
            if (!json_is_true(json_object_get(c, "trusted"))) continue;
            json_t *m = json_object_get(shift, json_string_value(json_object_get(sc, "id")));
            json_t *r = json_object_get(shift, json_string_value(json_object_get(c, "reference")));
#define G(o, k) json_real_value(json_object_get(o, k))
            double ex = -(G(m, "col") - G(r, "col")), ey = -(G(m, "row") - G(r, "row"));
            double dx = G(c, "dx_px") - ex, dy = G(c, "dy_px") - ey;
#undef G
            se += dx * dx + dy * dy;
            n++;
        }
    }
    double rmse = sqrt(se / (2.0 * n));
    print_message("co-registration: %d of %d estimates trusted, RMSE %.3f px per axis\n", n, total,
                  rmse);
    assert_true(n >= total * 3 / 4);
    assert_true(rmse <= 0.06);
    json_decref(shift);
    /* `change` alone, from the run's composites, gives the run's figures. */
    char args[2048], *out;
    snprintf(args, sizeof args, "change %s -o %s -q", g_local, g_out1);
    int rc = run_cli(args, &out);
    if (rc != 0) fail_msg("change exited %d:\n%s", rc, out);
    free(out);
    char *cc = tu_path(g_out1, "change.csv");
    const char *cols[] = {"forest_loss_ha", "loss_patches", "water_ha",          "disturbed_ha",
                          "reveg_ha",       "dnbr_high_ha", "ndvi_trend_per_yr", "changed_ha"};
    const char *sites[] = {"cd-kamoto", "id-imip-morowali"}, *pers[] = {"baseline", "2023"};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++)
            for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
                double a = tu_csv_value(csv, sites[s], pers[k], cols[c]),
                       b = tu_csv_value(cc, sites[s], pers[k], cols[c]);
                if (!(a == b))
                    fail_msg("%s %s %s: run %g, change %g", sites[s], pers[k], cols[c], a, b);
            }
    assert_true(isnan(tu_csv_value(cc, "cd-kamoto", "2023", "n_scenes")));
    free(cc);
    /* its provenance: every file it wrote and every composite it read, by hash; the thresholds
     * of the generic change the run found, since both run the one change stage */
    long checked;
    char *unlike = tu_outputs_unlike_provenance(g_out1, "change_provenance.json", &checked);
    if (unlike) fail_msg("change_provenance.json: %s is not what it says", unlike);
    assert_true(checked > 10);
    char *cpp = tu_path(g_out1, "change_provenance.json");
    json_t *cp = json_load_file(cpp, 0, NULL);
    assert_non_null(cp);
    int thresholds = 0;
    json_array_foreach(json_object_get(cp, "sites"), si, ts)
    {
        json_t *rs = NULL, *x;
        size_t j, k;
        json_array_foreach(json_object_get(prov, "sites"), j,
                           x) if (json_equal(json_object_get(x, "id"), json_object_get(ts, "id")))
            rs = x;
        assert_non_null(rs);
        json_t *per;
        json_array_foreach(json_object_get(ts, "periods"), k, per)
        {
            const char *comp = json_string_value(json_object_get(per, "composite"));
            assert_non_null(comp);
            char *h = mw_sha256_file(comp);
            assert_string_equal(h, json_string_value(json_object_get(per, "composite_sha256")));
            free(h);
            json_t *gc = json_object_get(per, "generic_change"),
                   *rgc = json_object_get(json_array_get(json_object_get(rs, "periods"), k),
                                          "generic_change");
            if (k == 0) continue;
            assert_non_null(gc);
            assert_non_null(rgc);
            assert_true(json_real_value(json_object_get(gc, "threshold")) ==
                        json_real_value(json_object_get(rgc, "threshold")));
            thresholds++;
        }
    }
    assert_int_equal(thresholds, 2); /* two sites, one monitoring period */
    json_decref(cp);
    free(cpp);
    json_decref(truth), json_decref(prov);
    free(tp), free(pp), free(csv);
}

/* A user's baseline forest raster (tree cover %) replaces the NDVI rule at baseline: none
 * forested gives no forest and no loss; all forested keeps the pit and pond out of the loss,
 * since loss also needs the NDVI drop; a missing raster is reported and the rule decides. */
static void baseline_forest_map_replaces_the_rule(void **state)
{
    (void)state;
    const int pcts[3] = {0, 100, -1};
    for (int i = 0; i < 3; i++) {
        char name[64], cmd[4096], *out;
        snprintf(name, sizeof name, "bf-%d", i);
        char *dir = tu_path(g_dir, name), *tif = tu_path(dir, "cover.tif");
        snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -r %s/maps %s/maps", dir, g_out1, dir);
        assert_int_equal(tu_run(cmd, NULL), 0);
        if (pcts[i] >= 0) {
            snprintf(cmd, sizeof cmd,
                     "gdal_create -q -of GTiff -outsize 360 180 -bands 1 -ot Byte -burn %d "
                     "-a_srs EPSG:4326 -a_ullr -180 90 180 -90 %s",
                     pcts[i], tif);
            assert_int_equal(tu_run(cmd, NULL), 0);
        }
        char text[4096], src[1024];
        snprintf(src, sizeof src, "{type: local, path: %s}", g_scenes);
        snprintf(text, sizeof text, PIPELINE_FMT,
                 MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson", src);
        strncat(text, "baseline_forest: {path: cover.tif, min_percent: 30}\n",
                sizeof text - strlen(text) - 1);
        char *pl = tu_path(dir, "p.yaml");
        tu_write(pl, text);
        snprintf(cmd, sizeof cmd, "change %s -o %s -q", pl, dir);
        int rc = run_cli(cmd, &out);
        char *cc = tu_path(dir, "change.csv"), *ic = tu_path(g_out1, "indicators.csv");
        const char *sites[] = {"cd-kamoto", "id-imip-morowali"};
        for (int s = 0; s < 2; s++) {
            double base = tu_csv_value(cc, sites[s], "baseline", "forest_ha"),
                   loss = tu_csv_value(cc, sites[s], "2023", "forest_loss_ha"),
                   rule_loss = tu_csv_value(ic, sites[s], "2023", "forest_loss_ha"),
                   area = tu_csv_value(cc, sites[s], "baseline", "area_ha"),
                   water = tu_csv_value(cc, sites[s], "baseline", "water_ha");
            if (pcts[i] == 0) {
                assert_int_equal(rc, 0);
                assert_true(base == 0 && loss == 0);
            } else if (pcts[i] == 100) {
                assert_int_equal(rc, 0);
                if (fabs(base - (area - water)) / area > 0.01)
                    fail_msg("%s: baseline forest %.2f ha, site less water %.2f ha", sites[s], base,
                             area - water);
                /* The map only adds baseline forest (grass, forest edges): the loss keeps all the
                 * rule found and gains a little where grass was cleared. */
                if (loss < rule_loss - 1e-9 || loss > 1.10 * rule_loss)
                    fail_msg("%s: loss %.2f ha with the map, %.2f ha by the rule", sites[s], loss,
                             rule_loss);
            } else {
                assert_int_equal(rc, 1);
                assert_non_null(strstr(out, "cover.tif"));
                assert_non_null(strstr(out, "the NDVI rule decides baseline forest instead"));
                assert_true(fabs(loss - rule_loss) < 1e-9);
            }
        }
        free(out), free(cc), free(ic), free(pl), free(tif), free(dir);
    }
}

/* A period whose every scene is cloud over the site, and `change` without a run: clear
 * messages, the other period's figures intact. */
static void all_cloud_period_and_change_without_run(void **state)
{
    (void)state;
    char *bad = tu_path(g_dir, "scenes-cloud"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd,
             "cp -r %s %s && for d in %s/*cd-kamoto_2023*/; do "
             "gdal_calc.py --quiet -A \"$d/SCL.tif\" --calc='A*0+9' --type=Byte --NoDataValue=0 "
             "--outfile=\"$d/SCL9.tif\" >/dev/null && mv \"$d/SCL9.tif\" \"$d/SCL.tif\"; done",
             g_scenes, bad, bad);
    if (tu_run(cmd, &out) != 0) fail_msg("making cloudy scenes failed:\n%s", out);
    free(out);
    char src[1024];
    snprintf(src, sizeof src, "{type: local, path: %s}", bad);
    char *pl = write_pipeline("cloud.yaml", src, NULL), *o = tu_path(g_dir, "out-cloud");
    snprintf(cmd, sizeof cmd, "run %s -o %s -q", pl, o);
    int rc = run_cli(cmd, &out);
    assert_int_equal(rc, 1);
    if (!strstr(out, "none of its 5 scene(s) has a clear pixel"))
        fail_msg("no all-cloud message:\n%s", out);
    assert_non_null(strstr(out, "cd-kamoto"));
    free(out);
    char *csv = tu_path(o, "indicators.csv");
    assert_true(isnan(tu_csv_value(csv, "cd-kamoto", "2023", "forest_loss_ha")));
    assert_true(tu_csv_value(csv, "id-imip-morowali", "2023", "forest_loss_ha") > 5);
    free(csv);
    snprintf(cmd, sizeof cmd, "change %s -o %s/never-run", pl, g_dir);
    rc = run_cli(cmd, &out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "holds no composites: run 'minewatch run"));
    free(out);
    free(pl), free(o), free(bad);
}

/* Shift a raster by dx metres, or strip its CRS (dx == 0). */
static void edit_raster(const char *path, double dx)
{
    GDALDatasetH ds = GDALOpen(path, GA_Update);
    assert_non_null(ds);
    if (dx != 0) {
        double gt[6];
        GDALGetGeoTransform(ds, gt);
        gt[0] += dx;
        assert_int_equal(GDALSetGeoTransform(ds, gt), CE_None);
    } else {
        assert_int_equal(GDALSetSpatialRef(ds, NULL), CE_None);
    }
    GDALClose(ds);
}

/* An unknown baseline, a raster without CRS, and a scene whose rasters miss the site. */
static void more_bad_scenes_are_named(void **state)
{
    (void)state;
    char *bad = tu_path(g_dir, "scenes-bad2"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "cp -r %s %s", g_scenes, bad);
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "ls %s | grep id-imip-morowali_2023 | head -3", bad);
    char *list, id[3][128];
    assert_int_equal(tu_run(cmd, &list), 0);
    assert_int_equal(sscanf(list, "%127s %127s %127s", id[0], id[1], id[2]), 3);
    free(list);
    /* 1: no raster:bands scale/offset and no processing baseline anywhere */
    char item[1024];
    snprintf(item, sizeof item, "%s/%s/%s.json", bad, id[0], id[0]);
    json_t *j = json_load_file(item, 0, NULL);
    json_object_del(json_object_get(j, "properties"), "s2:processing_baseline");
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(j, "assets"), k, a) json_object_del(a, "raster:bands");
    assert_int_equal(json_dump_file(j, item, JSON_INDENT(1)), 0);
    json_decref(j);
    /* 2: a band without CRS; 3: every raster moved 500 km east (the item still says otherwise) */
    snprintf(cmd, sizeof cmd, "%s/%s/B08.tif", bad, id[1]);
    edit_raster(cmd, 0);
    static const char *const files[] = {"B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL"};
    for (int i = 0; i < 8; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s/%s.tif", bad, id[2], files[i]);
        edit_raster(cmd, 500000);
    }
    char src[1024];
    snprintf(src, sizeof src, "{type: local, path: %s}", bad);
    char *pl = write_pipeline("bad2.yaml", src, NULL), *o = tu_path(g_dir, "out-bad2");
    snprintf(cmd, sizeof cmd, "run %s -o %s --threads 2", pl, o);
    assert_int_equal(run_cli(cmd, &out), 1);
    if (!strstr(out, id[0]) || !strstr(out, "does not guess the offset"))
        fail_msg("unknown baseline not reported for %s:\n%s", id[0], out);
    if (!strstr(out, id[1]) || !strstr(out, "has no coordinate reference system"))
        fail_msg("CRS-less raster not reported for %s:\n%s", id[1], out);
    free(out);
    char *pp = tu_path(o, "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    int recorded = 0;
    size_t si, pi, ki;
    json_t *site, *per, *sk;
    json_array_foreach(json_object_get(prov, "sites"), si, site)
        json_array_foreach(json_object_get(site, "periods"), pi, per)
            json_array_foreach(json_object_get(per, "skipped"), ki, sk) recorded |=
        !strcmp(json_string_value(json_object_get(sk, "id")), id[2]) &&
        !strcmp(json_string_value(json_object_get(sk, "reason")), "does not cover the site");
    json_decref(prov);
    if (!recorded) fail_msg("provenance does not record that %s misses the site", id[2]);
    row rows[8];
    assert_int_equal(read_rows(o, rows, 8), 4);
    for (int i = 0; i < 4; i++)
        if (!strcmp(rows[i].site, "id-imip-morowali") && !strcmp(rows[i].period, "2023")) {
            assert_int_equal(rows[i].n_scenes, 2);
            assert_int_equal(rows[i].n_failed, 1);
        }
    free(pp), free(pl), free(o), free(bad);
}

static void bad_input_exits_2_and_keeps_outputs(void **state)
{
    (void)state;
    char *csv = tu_path(g_out1, "indicators.csv");
    size_t n0;
    char *before = tu_read(csv, &n0);
    char args[2048], *out;
    /* A broken pipeline file. */
    char *f = tu_path(g_dir, "broken.yaml");
    tu_write(f, "name: x\nsites: {catalogue: a.geojson}\nsorce: {type: local}\n");
    snprintf(args, sizeof args, "run %s -o %s", f, g_out1);
    assert_int_equal(run_cli(args, &out), 2);
    char want[1024];
    snprintf(want, sizeof want, "%s:3:1: unknown key 'sorce'", f);
    assert_non_null(strstr(out, want));
    free(out);
    /* A missing catalogue. */
    char *p2 = write_pipeline("nocat.yaml", "{type: local, path: .}", "/nonexistent/sites.geojson");
    snprintf(args, sizeof args, "run %s -o %s", p2, g_out1);
    assert_int_equal(run_cli(args, &out), 2);
    assert_non_null(strstr(out, "cannot open site catalogue '/nonexistent/sites.geojson'"));
    free(out);
    /* An unknown site id. */
    char *p3 = tu_path(g_dir, "unknown.yaml");
    char *text = tu_read(g_local, NULL);
    char *at = strstr(text, SITES);
    char fixed[4096];
    snprintf(fixed, sizeof fixed, "%.*s[cd-kamoto, xx-nowhere]%s", (int)(at - text), text,
             at + strlen(SITES));
    tu_write(p3, fixed);
    snprintf(args, sizeof args, "run %s -o %s", p3, g_out1);
    assert_int_equal(run_cli(args, &out), 2);
    assert_non_null(strstr(out, "unknown site id 'xx-nowhere'"));
    free(out);
    /* Nothing already written was touched. */
    size_t n1;
    char *after = tu_read(csv, &n1);
    assert_true(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before), free(after), free(csv), free(f), free(p2), free(p3), free(text);
}

/* The README's demo itself: every site's forest loss within 10 % of the planted truth. */
static void demo_pipeline_matches_truth(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    /* The demo's size is what this checks (2 of its sites x 3 periods x 5 scenes); under the
     * sanitizers its stages run in the smaller pipelines above, and make test must stay under 15
     * minutes. */
    skip();
#endif
    /* The demo pipeline as shipped, on its two sites no other test runs (Kamoto and the
     * Morowali smelter, its furnace too, are checked above at the same settings): paths made
     * absolute. */
    char *text = tu_read(MW_SOURCE_DIR "/pipelines/demo.yaml", NULL);
    assert_non_null(text);
    static const char *const edits[][2] = {
        {"../aoi/critical_mineral_sites.geojson",
         MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson"},
        {"[cd-kamoto, id-weda-bay, au-greenbushes, id-imip-morowali]",
         "[id-weda-bay, au-greenbushes]"},
        {"datacube: ../tiles", "datacube: tiles"}};
    for (size_t e = 0; e < 3; e++) {
        char *at = strstr(text, edits[e][0]);
        if (!at) fail_msg("pipelines/demo.yaml no longer says '%s'", edits[e][0]);
        char *t2 = malloc(strlen(text) + strlen(edits[e][1]) + 1);
        sprintf(t2, "%.*s%s%s", (int)(at - text), text, edits[e][1], at + strlen(edits[e][0]));
        free(text);
        text = t2;
    }
    char *pl = tu_path(g_dir, "demo.yaml");
    tu_write(pl, text);
    free(text);
    char *o = tu_path(g_dir, "demo"), *cube = tu_path(g_dir, "demo-tiles"), args[2048], *out;
    snprintf(args, sizeof args, "run %s -o %s --datacube %s -q", pl, o, cube);
    int rc = run_cli(args, &out);
    if (rc != 0) fail_msg("demo exited %d:\n%s", rc, out);
    free(out);
    char *scenes = tu_path(o, "scenes");
    row rows[16];
    assert_int_equal(read_rows(o, rows, 16), 6);
    int checked = 0;
    for (int i = 0; i < 6; i++) {
        if (!strcmp(rows[i].period, "baseline")) continue;
        double t = truth_value(scenes, rows[i].site, rows[i].period, "forest_loss_ha");
        if (!(t > 5) || fabs(rows[i].loss - t) / t > 0.10)
            fail_msg("demo %s %s: forest loss %.2f ha, truth %.2f ha", rows[i].site, rows[i].period,
                     rows[i].loss, t);
        checked++;
    }
    assert_int_equal(checked, 4);
    /* heat under the demo's clouds: no mine a false furnace */
    char *csv = tu_path(o, "indicators.csv");
    const char *const periods[] = {"baseline", "2023", "2024"};
    for (int i = 0; i < 6; i++) {
        double hot = tu_csv_value(csv, rows[i].site, rows[i].period, "hot_pixel_days");
        if (hot != 0) fail_msg("demo %s %s: %g hot pixel-days", rows[i].site, rows[i].period, hot);
    }
    /* three periods: no Mann-Kendall p (3 points cannot go below 0.296), a slope still */
    for (int k = 0; k < 3; k++) {
        assert_true(isnan(tu_csv_value(csv, "id-weda-bay", periods[k], "ndvi_trend_p")));
        assert_true(isfinite(tu_csv_value(csv, "id-weda-bay", periods[k], "ndvi_trend_per_yr")));
    }
    free(csv);
    char *chips = tu_path(cube, "au-greenbushes/grid.json");
    assert_int_equal(access(chips, R_OK), 0);
    free(chips), free(scenes), free(o), free(cube), free(pl);
}

/* Sites across the antimeridian and across a UTM zone edge: the same truth recovered, and output
 * geometries in lon/lat that are split at 180 degrees instead of wrapping round the Earth. */
static void sites_across_the_antimeridian_and_zone_edges(void **state)
{
    (void)state;
    char *cat = tu_path(g_dir, "edge-sites.geojson");
    tu_write(
        cat,
        "{\"type\":\"FeatureCollection\",\"features\":["
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"fj-point\",\"name\":\"antimeridian point\","
        "\"kind\":\"mine\",\"radius_m\":1200},\"geometry\":{\"type\":\"Point\",\"coordinates\":["
        "179.995,-16.6]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"fj-split\",\"name\":\"antimeridian "
        "polygon\","
        "\"kind\":\"mine\"},\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":["
        "[[[179.965,-16.95],[180,-16.95],[180,-16.91],[179.965,-16.91],[179.965,-16.95]]],"
        "[[[-180,-16.95],[-179.985,-16.95],[-179.985,-16.91],[-180,-16.91],[-180,-16.95]]]]}},"
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"zm-zone-edge\",\"name\":\"UTM 35/36 edge\","
        "\"kind\":\"mine\",\"radius_m\":1200},\"geometry\":{\"type\":\"Point\",\"coordinates\":[30."
        "005,-13.0]}}]}");
    char *pl = tu_path(g_dir, "edge.yaml");
    char text[2048];
    snprintf(text, sizeof text,
             "name: edge\nsites: {catalogue: %s}\nsource: {type: simulator, seed: 9, "
             "scenes_per_period: 3}\n"
             "periods:\n  baseline: {start: 2021-06-01, end: 2021-07-31}\n"
             "  monitoring: [{name: \"2023\", start: 2023-06-01, end: 2023-07-31}]\n"
             "grid: {pixel_size_m: 10, buffer_m: 200}\noutputs: {formats: [gpkg, csv]}\n",
             cat);
    tu_write(pl, text);
    char *o = tu_path(g_dir, "out-edge"), args[2048], *out;
    snprintf(args, sizeof args, "run %s -o %s -q", pl, o);
    int rc = run_cli(args, &out);
    if (rc != 0) fail_msg("exited %d:\n%s", rc, out);
    free(out);
    char *scenes = tu_path(o, "scenes");
    row rows[8];
    assert_int_equal(read_rows(o, rows, 8), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rows[i].n_scenes, 3);
        double area = truth_value(scenes, rows[i].site, rows[i].period, "area_ha");
        assert_true(fabs(rows[i].area - area) / area < 0.002);
        if (!strcmp(rows[i].period, "baseline")) continue;
        double t = truth_value(scenes, rows[i].site, rows[i].period, "forest_loss_ha");
        if (fabs(rows[i].loss - t) / t > 0.10)
            fail_msg("%s: loss %.2f ha, truth %.2f ha", rows[i].site, rows[i].loss, t);
    }
    char *gp = tu_path(o, "indicators.gpkg");
    GDALDatasetH ds = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        const char *id = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "site_id"));
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        OGREnvelope e;
        OGR_G_GetEnvelope(g, &e);
        assert_true(e.MinX >= -180 && e.MaxX <= 180);
        if (!strncmp(id, "fj-", 3)) {
            assert_int_equal(OGR_G_GetGeometryCount(g), 2); /* one part each side of 180 */
            assert_true(e.MaxX - e.MinX > 359);
        } else {
            assert_int_equal(OGR_G_GetGeometryCount(g), 1);
            assert_true(e.MaxX - e.MinX < 0.1);
        }
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    char *pp = tu_path(o, "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    size_t i;
    json_t *site;
    json_array_foreach(json_object_get(prov, "sites"), i, site)
    {
        const char *id = json_string_value(json_object_get(site, "id"));
        json_int_t epsg =
            json_integer_value(json_object_get(json_object_get(site, "grid"), "epsg"));
        assert_int_equal(epsg, strncmp(id, "fj-", 3) == 0 ? 32760 : 32736);
    }
    json_decref(prov);
    free(pp), free(gp), free(scenes), free(o), free(pl), free(cat);
}

/* A grid in a CRS the user sets: the neighbouring UTM zone, 6 degrees off the site. */
static void grid_in_a_user_crs(void **state)
{
    (void)state;
    char src[1024];
    snprintf(src, sizeof src, "{type: local, path: %s}", g_scenes);
    char *pl = write_pipeline("crs.yaml", src, NULL);
    char *text = tu_read(pl, NULL), fixed[4096];
    /* Kamoto alone: the grid's CRS is what is tested, on the site whose truth is checked. */
    char *ids = strstr(text, SITES);
    assert_non_null(ids);
    memcpy(ids, "[cd-kamoto]", 11);
    memmove(ids + 11, ids + strlen(SITES), strlen(ids + strlen(SITES)) + 1);
    const char *at = strstr(text, "grid: {pixel_size_m: 10, buffer_m: 300}");
    assert_non_null(at);
    snprintf(fixed, sizeof fixed, "%.*sgrid: {pixel_size_m: 10, buffer_m: 300, epsg: 32734}%s",
             (int)(at - text), text, at + strlen("grid: {pixel_size_m: 10, buffer_m: 300}"));
    tu_write(pl, fixed);
    char *o = tu_path(g_dir, "out-crs"), args[2048], *out;
    snprintf(args, sizeof args, "run %s -o %s -q", pl, o);
    int rc = run_cli(args, &out);
    if (rc != 0) fail_msg("exited %d:\n%s", rc, out);
    free(out);
    row rows[8];
    assert_int_equal(read_rows(o, rows, 8), 2);
    for (int i = 0; i < 2; i++) {
        if (strcmp(rows[i].site, "cd-kamoto") || !strcmp(rows[i].period, "baseline")) continue;
        double t = truth_value(g_scenes, "cd-kamoto", rows[i].period, "forest_loss_ha");
        /* Zone 34 is 6 degrees from the site: grid areas grow by the zone's scale factor squared.
         */
        if (fabs(rows[i].loss - t) / t > 0.10)
            fail_msg("loss %.2f ha, truth %.2f ha", rows[i].loss, t);
    }
    char *pp = tu_path(o, "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    json_t *s0 = json_array_get(json_object_get(prov, "sites"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s0, "grid"), "epsg")),
                     32734);
    json_decref(prov);
    /* A geographic CRS is a mistake in the pipeline file: refused before anything runs. */
    tu_write(pl, text);
    at = strstr(text, "grid: {pixel_size_m: 10, buffer_m: 300}");
    snprintf(fixed, sizeof fixed, "%.*sgrid: {pixel_size_m: 10, buffer_m: 300, epsg: 4326}%s",
             (int)(at - text), text, at + strlen("grid: {pixel_size_m: 10, buffer_m: 300}"));
    tu_write(pl, fixed);
    assert_int_equal(run_cli(args, &out), 2);
    assert_non_null(strstr(out, "'grid.epsg' 4326 is not a projected CRS in metres"));
    free(out), free(pp), free(o), free(text), free(pl);
}

/* Heat at processing sites: the simulator plants a 25 m hot spot (SWIR22 saturated at its centre)
 * in every other scene of a smelter. Each such scene finds about the disc's pixels as hot; the
 * others, and a mine without a furnace, find none. */
static void heat_at_processing_sites(void **state)
{
    (void)state;
    char *cat = tu_path(g_dir, "heat-sites.geojson");
    tu_write(cat, "{\"type\":\"FeatureCollection\",\"features\":["
                  "{\"type\":\"Feature\",\"properties\":{\"id\":\"smelt\",\"name\":\"s\",\"kind\":"
                  "\"smelter\",\"commodities\":\"nickel\",\"country\":\"ID\",\"radius_m\":600},"
                  "\"geometry\":{\"type\":\"Point\",\"coordinates\":[122.15,-2.82]}},"
                  "{\"type\":\"Feature\",\"properties\":{\"id\":\"pit\",\"name\":\"p\",\"kind\":"
                  "\"mine\",\"commodities\":\"nickel\",\"country\":\"ID\",\"radius_m\":600},"
                  "\"geometry\":{\"type\":\"Point\",\"coordinates\":[127.9,0.48]}}]}\n");
    char *pl = tu_path(g_dir, "heat.yaml");
    char text[2048];
    snprintf(text, sizeof text,
             "name: heat\nsites: {catalogue: %s}\n"
             "source: {type: simulator, seed: 3, scenes_per_period: 4, cloud_cover: 0}\n"
             "periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
             "  monitoring: [{name: \"2023\", start: 2023-06-01, end: 2023-09-30}]\n"
             "grid: {pixel_size_m: 10, buffer_m: 0}\noutputs: {formats: [csv]}\n",
             cat);
    tu_write(pl, text);
    char *out = tu_path(g_dir, "heat-out"), args[4096], *log;
    snprintf(args, sizeof args, "run %s -o %s -q", pl, out);
    int rc = run_cli(args, &log);
    if (rc != 0) fail_msg("run exited %d:\n%s", rc, log);
    free(log);
    char *tp = tu_path(out, "scenes/truth.json"), *pp = tu_path(out, "provenance.json"),
         *csv = tu_path(out, "indicators.csv");
    json_t *truth = json_load_file(tp, 0, NULL), *prov = json_load_file(pp, 0, NULL);
    assert_non_null(truth), assert_non_null(prov);
    /* the pixels of the smelter's grid whose centre lies in the planted disc */
    json_t *ts = json_array_get(json_object_get(truth, "sites"), 0);
    json_t *hs = json_object_get(json_object_get(ts, "world"), "hot_spot");
    json_t *ps = json_array_get(json_object_get(prov, "sites"), 0);
    json_t *grid = json_object_get(ps, "grid");
    const double hx = json_real_value(json_object_get(hs, "x")),
                 hy = json_real_value(json_object_get(hs, "y")),
                 hr = json_real_value(json_object_get(hs, "radius_m"));
    const double x0 = json_real_value(json_object_get(grid, "x0")),
                 y0 = json_real_value(json_object_get(grid, "y0")),
                 res = json_real_value(json_object_get(grid, "pixel_size_m"));
    const int w = (int)json_integer_value(json_object_get(grid, "width")),
              h = (int)json_integer_value(json_object_get(grid, "height"));
    long disc = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x0 + (x + 0.5) * res - hx, dy = y0 - (y + 0.5) * res - hy;
            disc += dx * dx + dy * dy < hr * hr;
        }
    assert_true(disc > 10);
    /* scene by scene against the truth's hot flags */
    json_t *hot_of = json_object();
    size_t i, k;
    json_t *sc, *per;
    json_array_foreach(json_object_get(ts, "scenes"), i, sc) json_object_set(
        hot_of, json_string_value(json_object_get(sc, "id")), json_object_get(sc, "hot_spot"));
    long sum[2] = {0, 0};
    int hot_scenes = 0;
    json_array_foreach(json_object_get(ps, "periods"), k, per)
        json_array_foreach(json_object_get(per, "scenes"), i, sc)
    {
        long n =
            (long)json_integer_value(json_object_get(json_object_get(sc, "heat"), "hot_pixels"));
        const char *id = json_string_value(json_object_get(sc, "id"));
        int planted = json_is_true(json_object_get(hot_of, id));
        print_message("%s: %ld hot pixels (%s; disc %ld pixels)\n", id, n,
                      planted ? "hot spot planted" : "none planted", disc);
        if (planted) {
            hot_scenes++;
            if (n < disc * 7 / 10 || n > disc * 16 / 10)
                fail_msg("%s: %ld hot pixels, the planted disc holds %ld", id, n, disc);
        } else {
            assert_int_equal(n, 0);
        }
        if (k < 2) sum[k] += n;
    }
    assert_true(hot_scenes >= 2);
    /* the rows: per period the sum; the mine none; TAI far above the 0.45 rule at the furnace */
    assert_true(fabs(tu_csv_value(csv, "smelt", "baseline", "hot_pixel_days") - (double)sum[0]) <
                0.5);
    assert_true(fabs(tu_csv_value(csv, "smelt", "2023", "hot_pixel_days") - (double)sum[1]) < 0.5);
    assert_true(tu_csv_value(csv, "smelt", "2023", "max_tai") > 1.0);
    assert_true(tu_csv_value(csv, "pit", "baseline", "hot_pixel_days") == 0);
    assert_true(tu_csv_value(csv, "pit", "2023", "hot_pixel_days") == 0);
    assert_true(isnan(tu_csv_value(csv, "pit", "2023", "max_tai")));
    json_decref(hot_of), json_decref(truth), json_decref(prov);
    free(tp), free(pp), free(csv), free(out), free(pl), free(cat);
}

static void cli_basics(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run_cli("--help", &out), 0);
    assert_non_null(strstr(out, "usage: minewatch <command>"));
    free(out);
    const char *cmds[] = {"run", "simulate", "sites", "indices", "indicators"};
    for (int i = 0; i < 5; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        assert_int_equal(run_cli(a, &out), 0);
        assert_non_null(strstr(out, "usage: minewatch"));
        free(out);
    }
    assert_int_equal(run_cli("frobnicate", &out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    free(out);
    assert_int_equal(run_cli("run", &out), 2);
    free(out);
    assert_int_equal(run_cli("run x.yaml --threads zero", &out), 2);
    free(out);
    assert_int_equal(run_cli("--version", &out), 0);
    assert_non_null(strstr(out, "minewatch 0."));
    free(out);
    assert_int_equal(run_cli("sites " MW_SOURCE_DIR
                             "/aoi/critical_mineral_sites.geojson --commodity lithium",
                             &out),
                     0);
    assert_non_null(strstr(out, "au-greenbushes"));
    assert_null(strstr(out, "cd-kamoto"));
    free(out);
    /* any case; as JSON or CSV for other tools */
    assert_int_equal(
        run_cli("sites " MW_SOURCE_DIR
                "/aoi/critical_mineral_sites.geojson --commodity LiThIuM --format json "
                "-q",
                &out),
        0);
    json_t *sj = json_loads(out, 0, NULL);
    assert_true(json_is_array(sj));
    assert_true(json_array_size(sj) >= 8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sj, 0), "country")), "AU");
    json_decref(sj);
    free(out);
    assert_int_equal(run_cli("indicators --format csv", &out), 0);
    assert_int_equal(tu_count(out, "\n"), mw_indicator_ncolumns + 1);
    assert_non_null(strstr(out, "name,type,unit,description\nsite_id,text,,"));
    free(out);
    assert_int_equal(run_cli("sites --format yaml", &out), 2);
    assert_non_null(strstr(out, "--format takes text, csv or json"));
    free(out);
    assert_int_equal(run_cli("-V", &out), 0);
    assert_non_null(strstr(out, "(commit "));
    assert_non_null(strstr(out, "fftw"));
    free(out);
    assert_int_equal(run_cli("indices", &out), 0);
    assert_non_null(strstr(out, "ndvi"));
    assert_non_null(strstr(out, "Marchese"));
    free(out);
    /* Relative output folders that do not exist yet are created, parents included. */
    char cmd[2048];
    char *p = tu_path(g_dir, "nested.yaml");
    tu_write(p, "name: n\nsites: {catalogue: " MW_SOURCE_DIR
                "/aoi/critical_mineral_sites.geojson, ids: [au-kwinana-lithium]}\n"
                "source: {type: simulator, scenes_per_period: 1}\n"
                "periods: {baseline: {start: 2021-06-01, end: 2021-06-30}, monitoring: [{name: m, "
                "start: 2022-06-01, end: 2022-06-30}]}\n");
    snprintf(cmd, sizeof cmd, "cd %s && %s simulate nested.yaml -q -o rel/a/b", g_dir, MW_CLI);
    assert_int_equal(tu_run(cmd, &out), 0);
    free(out);
    char *truth = tu_path(g_dir, "rel/a/b/truth.json");
    assert_int_equal(access(truth, R_OK), 0);
    free(truth), free(p);
    assert_int_equal(run_cli("indicators", &out), 0);
    assert_non_null(strstr(out, "forest_observed_fraction"));
    free(out);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("e2e");
    g_out1 = tu_path(g_dir, "out1");
    g_scenes = tu_path(g_out1, "scenes");
    char src[1024];
    snprintf(src, sizeof src, "{type: local, path: %s}", g_scenes);
    g_local = write_pipeline("local.yaml", src, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir), free(g_out1), free(g_scenes), free(g_local);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_recovers_truth),
        cmocka_unit_test(change_stages_match_truth),
        cmocka_unit_test(baseline_forest_map_replaces_the_rule),
        cmocka_unit_test(identical_for_any_threads_and_chunks),
        cmocka_unit_test(composite_methods_write_dates_and_counts),
        cmocka_unit_test(bad_scenes_are_skipped_and_reported),
        cmocka_unit_test(all_cloud_period_and_change_without_run),
        cmocka_unit_test(more_bad_scenes_are_named),
        cmocka_unit_test(bad_input_exits_2_and_keeps_outputs),
        cmocka_unit_test(demo_pipeline_matches_truth),
        cmocka_unit_test(sites_across_the_antimeridian_and_zone_edges),
        cmocka_unit_test(grid_in_a_user_crs),
        cmocka_unit_test(cli_basics),
        cmocka_unit_test(heat_at_processing_sites),
    };
    /* MW_TEST_FILTER=name runs the tests whose name matches (a cmocka pattern) */
    if (getenv("MW_TEST_FILTER")) cmocka_set_test_filter(getenv("MW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
