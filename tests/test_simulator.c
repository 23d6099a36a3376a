/* The simulator writes S2 L2A-like products whose planted truth can be checked independently. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cpl_string.h>
#include <sys/stat.h>
#include <gdal.h>
#include <jansson.h>
#include <omp.h>

#include "minewatch/chip.h"
#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "minewatch/qa.h"
#include "minewatch/warp.h"
#include "minewatch/scene.h"
#include "minewatch/sim.h"
#include "minewatch/site.h"
#include "test_util.h"

#define AOI MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson"
static char *g_dir, *g_a, *g_b;
static mw_site_catalog g_cat;
static mw_period g_per[2];
static const mw_site *g_sites[2];
static const mw_sim_options g_opt = {77, 3, 0.2, 1000.0};

static char *scene_file(const char *root, const char *site, const char *ymd, const char *file)
{
    char *p = malloc(strlen(root) + 128);
    sprintf(p, "%s/S2SIM_%s_%s/%s", root, site, ymd, file);
    return p;
}

/* Scene dates: period start + floor((k + 0.5) * len / n). */
static void scene_ymd(int period, int k, char out[9])
{
    int len = g_per[period].end - g_per[period].start + 1;
    mw_day d = g_per[period].start + (mw_day)floor((k + 0.5) * len / 3);
    char s[11];
    mw_day_format(d, s);
    sprintf(out, "%.4s%.2s%.2s", s, s + 5, s + 8);
}

static void *read_band(const char *path, GDALDataType t, int *w, int *h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    assert_non_null(ds);
    *w = GDALGetRasterXSize(ds);
    *h = GDALGetRasterYSize(ds);
    void *buf = malloc((size_t)*w * *h * (t == GDT_UInt16 ? 2 : 1));
    assert_int_equal(
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, *w, *h, buf, *w, *h, t, 0, 0),
        CE_None);
    GDALClose(ds);
    return buf;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static double median_dn(const char *path)
{
    int w, h;
    uint16_t *v = read_band(path, GDT_UInt16, &w, &h);
    qsort(v, (size_t)w * h, 2, cmp_u16);
    double m = v[(size_t)w * h / 2];
    free(v);
    return m;
}

static void products_look_like_l2a(void **state)
{
    (void)state;
    char ymd[9];
    scene_ymd(1, 0, ymd);
    static const char *files[] = {"B02.tif", "B03.tif", "B04.tif", "B08.tif",
                                  "B8A.tif", "B11.tif", "B12.tif", "SCL.tif"};
    int w10 = 0, h10 = 0;
    for (int i = 0; i < 8; i++) {
        char *p = scene_file(g_a, "cd-kamoto", ymd, files[i]);
        GDALDatasetH ds = GDALOpen(p, GA_ReadOnly);
        assert_non_null(ds);
        double gt[6];
        GDALGetGeoTransform(ds, gt);
        double res = i < 4 ? 10.0 : 20.0;
        assert_true(gt[1] == res && gt[5] == -res);
        assert_true(fmod(gt[0], 60.0) == 0 && fmod(gt[3], 60.0) == 0);
        assert_non_null(strstr(GDALGetProjectionRef(ds), "UTM zone 35S"));
        assert_int_equal(GDALGetRasterDataType(GDALGetRasterBand(ds, 1)),
                         i == 7 ? GDT_Byte : GDT_UInt16);
        if (i == 0) {
            w10 = GDALGetRasterXSize(ds);
            h10 = GDALGetRasterYSize(ds);
            /* Footprint larger than the 4 km site: 1 km margin at least. */
            assert_true(w10 * 10 >= 6000 && h10 * 10 >= 6000);
        } else if (i >= 4) {
            assert_int_equal(GDALGetRasterXSize(ds) * 2, w10);
            assert_int_equal(GDALGetRasterYSize(ds) * 2, h10);
        }
        GDALClose(ds);
        free(p);
    }
}

static void offsets_follow_processing_baseline(void **state)
{
    (void)state;
    char y0[9], y1[9];
    scene_ymd(0, 0, y0);
    scene_ymd(1, 0, y1);
    char name[64];
    sprintf(name, "S2SIM_cd-kamoto_%s.json", y0);
    char *i0 = scene_file(g_a, "cd-kamoto", y0, name);
    sprintf(name, "S2SIM_cd-kamoto_%s.json", y1);
    char *i1 = scene_file(g_a, "cd-kamoto", y1, name);
    mw_scene s0, s1;
    assert_int_equal(mw_stac_item_read(i0, &s0), 0);
    assert_int_equal(mw_stac_item_read(i1, &s1), 0);
    assert_string_equal(s0.baseline, "03.01");
    assert_string_equal(s1.baseline, "05.09");
    assert_true(s0.bands[MW_BAND_NIR].offset == 0.0);
    assert_true(fabs(s1.bands[MW_BAND_NIR].offset + 0.1) < 1e-12);
    assert_true(s1.bands[MW_BAND_NIR].scale == 1e-4);
    assert_string_equal(s1.offset_source, "raster:bands scale/offset");
    assert_int_equal(s1.sensor, MW_SENSOR_S2_MSI);
    assert_int_equal(s1.qa_source, MW_QA_FROM_SCL);
    assert_non_null(s1.qa.href);
    /* The same forest in both clear scenes: DN differ by the -1000 BOA offset. */
    char *b0 = scene_file(g_a, "cd-kamoto", y0, "B08.tif"),
         *b1 = scene_file(g_a, "cd-kamoto", y1, "B08.tif");
    double d = median_dn(b1) - median_dn(b0);
    assert_true(fabs(d - 1000.0) < 30.0);
    /* Reflectance of forest NIR from the formula: (DN + offset)/10000 ~ 0.34. */
    assert_true(fabs(median_dn(b1) * 1e-4 - 0.1 - 0.34) < 0.02);
    mw_scene_free(&s0);
    mw_scene_free(&s1);
    free(i0), free(i1), free(b0), free(b1);
}

static json_t *truth_site(json_t *t, const char *id)
{
    json_t *s;
    size_t i;
    json_array_foreach(json_object_get(t, "sites"), i,
                       s) if (strcmp(json_string_value(json_object_get(s, "id")), id) ==
                              0) return s;
    return NULL;
}

/* Loss from the planted shapes alone: cleared rectangles plus pit and pond growth rings. */
static double analytic_loss(json_t *world, const char *period_start)
{
    double ha = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(world, "clearings"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "cleared_on")), period_start) <= 0)
            ha += json_real_value(json_object_get(p, "area_ha"));
    }
    int era = 0;
    json_array_foreach(json_object_get(world, "change_dates"), i, p) era +=
        strcmp(json_string_value(p), period_start) <= 0;
    const char *discs[] = {"pit", "pond"};
    for (int k = 0; k < 2; k++) {
        json_t *d = json_object_get(world, discs[k]);
        if (!d) continue;
        double r0 = json_real_value(json_object_get(d, "r0")),
               g = json_real_value(json_object_get(d, "area_growth_per_change"));
        ha += M_PI * r0 * r0 * g * era / 1e4;
    }
    return ha;
}

static void truth_matches_planted_shapes(void **state)
{
    (void)state;
    char *tp = tu_path(g_a, "truth.json");
    json_t *t = json_load_file(tp, 0, NULL);
    assert_non_null(t);
    for (int s = 0; s < 2; s++) {
        json_t *site = truth_site(t, g_sites[s]->id);
        assert_non_null(site);
        json_t *world = json_object_get(site, "world");
        json_t *periods = json_object_get(site, "periods");
        assert_int_equal(json_array_size(periods), 2);
        json_t *base = json_array_get(periods, 0), *mon = json_array_get(periods, 1);
        assert_true(json_real_value(json_object_get(base, "forest_loss_ha")) == 0.0);
        double loss = json_real_value(json_object_get(mon, "forest_loss_ha"));
        double want = analytic_loss(world, json_string_value(json_object_get(mon, "start")));
        assert_true(want > 5.0);
        if (fabs(loss - want) / want > 0.01)
            fail_msg("%s: truth loss %.3f ha, shapes give %.3f ha", g_sites[s]->id, loss, want);
        /* Forest accounting closes: baseline forest - loss = later forest. */
        double f0 = json_real_value(json_object_get(base, "forest_ha")),
               f1 = json_real_value(json_object_get(mon, "forest_ha"));
        assert_true(fabs(f0 - loss - f1) < 0.01);
        double area = json_real_value(json_object_get(base, "area_ha"));
        assert_true(fabs(area - M_PI * 2000 * 2000 / 1e4) / area < 0.003);
        assert_true(json_real_value(json_object_get(mon, "water_ha")) >
                    json_real_value(json_object_get(base, "water_ha")));
        assert_true(json_real_value(json_object_get(mon, "revegetated_ha")) > 0.0);
        assert_true(json_real_value(json_object_get(base, "revegetated_ha")) == 0.0);
        /* Every scene has a recorded sub-pixel shift within half a pixel. */
        json_t *sc;
        size_t i;
        double spread = 0;
        json_array_foreach(json_object_get(site, "scenes"), i, sc)
        {
            json_t *sh = json_object_get(sc, "shift_px");
            double c = json_real_value(json_object_get(sh, "col")),
                   r = json_real_value(json_object_get(sh, "row"));
            assert_true(fabs(c) <= 0.5 && fabs(r) <= 0.5);
            spread += fabs(c) + fabs(r);
        }
        assert_int_equal(json_array_size(json_object_get(site, "scenes")), 6);
        assert_true(spread > 0.1);
    }
    json_decref(t);
    free(tp);
}

static double scl_share(const char *path, int lo, int hi)
{
    int w, h;
    uint8_t *v = read_band(path, GDT_Byte, &w, &h);
    long n = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        n += v[i] >= lo && v[i] <= hi;
    free(v);
    return (double)n / ((double)w * h);
}

static void clouds_nodata_and_hot_pixels_in_scl(void **state)
{
    (void)state;
    char y[3][9];
    for (int k = 0; k < 3; k++)
        scene_ymd(1, k, y[k]);
    char *clear = scene_file(g_a, "cd-kamoto", y[0], "SCL.tif");
    char *corner = scene_file(g_a, "cd-kamoto", y[1], "SCL.tif");
    char *cloudy = scene_file(g_a, "cd-kamoto", y[2], "SCL.tif");
    assert_true(scl_share(clear, 8, 9) == 0.0);
    assert_true(scl_share(clear, 0, 0) == 0.0);
    assert_true(scl_share(cloudy, 8, 9) > 0.3);
    assert_true(scl_share(cloudy, 3, 3) > 0.02); /* shadows */
    double nd = scl_share(corner, 0, 0);
    assert_true(nd > 0.05 && nd < 0.25);       /* the corner beyond the swath edge */
    assert_true(scl_share(clear, 4, 4) > 0.7); /* mostly vegetation */
    /* The smelter shows a saturated hot spot on even scenes, not on odd ones. */
    char *hot = scene_file(g_a, "id-imip-morowali", y[0], "SCL.tif");
    char *cold = scene_file(g_a, "id-imip-morowali", y[1], "SCL.tif");
    assert_true(scl_share(hot, 1, 1) > 0.0);
    assert_true(scl_share(cold, 1, 1) == 0.0);
    char *b12 = scene_file(g_a, "id-imip-morowali", y[0], "B12.tif");
    int w, h;
    uint16_t *v = read_band(b12, GDT_UInt16, &w, &h);
    int sat = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        sat += v[i] == 65535;
    assert_true(sat >= 1 && sat <= 4);
    free(v);
    free(clear), free(corner), free(cloudy), free(hot), free(cold), free(b12);
}

static void same_seed_same_bytes_any_threads(void **state)
{
    (void)state;
    int old = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(mw_simulate(g_sites, 2, g_per, 2, &g_opt, g_b), 0);
    omp_set_num_threads(old);
    static const char *files[] = {"B02.tif", "B08.tif", "B11.tif", "SCL.tif"};
    int compared = 0;
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < 3; k++) {
            char y[9];
            scene_ymd(p, k, y);
            for (int f = 0; f < 4; f++) {
                char *a = scene_file(g_a, "id-imip-morowali", y, files[f]);
                char *b = scene_file(g_b, "id-imip-morowali", y, files[f]);
                assert_true(tu_same_file(a, b));
                compared++;
                free(a), free(b);
            }
        }
    assert_int_equal(compared, 24);
    char *ta = tu_path(g_a, "truth.json"), *tb = tu_path(g_b, "truth.json");
    assert_true(tu_same_file(ta, tb));
    free(ta), free(tb);
    /* A different seed gives different scenes. */
    mw_sim_options o2 = g_opt;
    o2.seed = 78;
    char *c = tu_path(g_dir, "c");
    assert_int_equal(mw_simulate(g_sites, 1, g_per, 1, &o2, c), 0);
    char y[9];
    scene_ymd(0, 0, y);
    char *a = scene_file(g_a, "cd-kamoto", y, "B08.tif"),
         *b = scene_file(c, "cd-kamoto", y, "B08.tif");
    assert_false(tu_same_file(a, b));
    free(a), free(b), free(c);
}

/* A SAFE folder (MTD_MSIL2A.xml + JP2 bands in the ESA layout) made from a simulated scene reads
 * to the same reflectance as the scene's STAC item. */
static void write_mtd(const char *path, const char *baseline, int with_offsets, const char *granule,
                      const char *stem)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<n1:Level-2A_User_Product "
            "xmlns:n1=\"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd\">\n"
            "<n1:General_Info><Product_Info>\n"
            "<PRODUCT_START_TIME>2023-06-11T08:15:59.024Z</PRODUCT_START_TIME>\n"
            "<PRODUCT_URI>S2A_MSIL2A_20230611T081559_N%.2s%.2s_R121_T35LPC_20230611T120000.SAFE</"
            "PRODUCT_URI>\n"
            "<PROCESSING_BASELINE>%s</PROCESSING_BASELINE>\n"
            "<Datatake><SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME></Datatake>\n"
            "<Product_Organisation><Granule_List><Granule>\n",
            baseline, baseline + 3, baseline);
    const char *img[][2] = {{"R10m", "B04_10m"}, {"R10m", "B08_10m"}, {"R20m", "SCL_20m"}};
    for (int i = 0; i < 3; i++)
        fprintf(f, "<IMAGE_FILE>GRANULE/%s/IMG_DATA/%s/%s_%s</IMAGE_FILE>\n", granule, img[i][0],
                stem, img[i][1]);
    fprintf(f, "</Granule></Granule_List></Product_Organisation></Product_Info>\n"
               "<Product_Image_Characteristics><QUANTIFICATION_VALUES_LIST>"
               "<BOA_QUANTIFICATION_VALUE "
               "unit=\"none\">10000</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>\n");
    if (with_offsets) {
        fprintf(f, "<BOA_ADD_OFFSET_VALUES_LIST>");
        for (int b = 0; b < 13; b++)
            fprintf(f, "<BOA_ADD_OFFSET band_id=\"%d\">-1000</BOA_ADD_OFFSET>", b);
        fprintf(f, "</BOA_ADD_OFFSET_VALUES_LIST>\n");
    }
    fprintf(
        f, "</Product_Image_Characteristics></n1:General_Info>\n"
           "<n1:Geometric_Info><Product_Footprint><Product_Footprint><Global_Footprint>"
           "<EXT_POS_LIST>-10.6 25.3 -10.6 25.6 -10.9 25.6 -10.9 25.3 -10.6 25.3</EXT_POS_LIST>"
           "</Global_Footprint></Product_Footprint></Product_Footprint></n1:Geometric_Info>\n"
           "<n1:Quality_Indicators_Info><Cloud_Coverage_Assessment>12.5</Cloud_Coverage_Assessment>"
           "</n1:Quality_Indicators_Info></n1:Level-2A_User_Product>\n");
    fclose(f);
}

static void to_jp2(const char *src, const char *dst)
{
    GDALDatasetH in = GDALOpen(src, GA_ReadOnly);
    char **co = CSLSetNameValue(NULL, "REVERSIBLE", "YES");
    co = CSLSetNameValue(co, "QUALITY", "100");
    GDALDatasetH out =
        GDALCreateCopy(GDALGetDriverByName("JP2OpenJPEG"), dst, in, FALSE, co, NULL, NULL);
    CSLDestroy(co);
    assert_non_null(out);
    GDALClose(out);
    GDALClose(in);
}

static void safe_folder_reads_like_its_stac_item(void **state)
{
    (void)state;
    char ymd[9], name[64];
    scene_ymd(1, 0, ymd);
    const char *granule = "L2A_T35LPC_A041000_20230611T082000", *stem = "T35LPC_20230611T081559";
    char *safe =
        tu_path(g_dir, "S2A_MSIL2A_20230611T081559_N0509_R121_T35LPC_20230611T120000.SAFE");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/GRANULE/%s/IMG_DATA/R10m %s/GRANULE/%s/IMG_DATA/R20m",
             safe, granule, safe, granule);
    assert_int_equal(tu_run(cmd, NULL), 0);
    const char *srcs[] = {"B04.tif", "B08.tif", "SCL.tif"};
    const char *dsts[][2] = {{"R10m", "B04_10m"}, {"R10m", "B08_10m"}, {"R20m", "SCL_20m"}};
    for (int i = 0; i < 3; i++) {
        char dst[1024];
        snprintf(dst, sizeof dst, "%s/GRANULE/%s/IMG_DATA/%s/%s_%s.jp2", safe, granule, dsts[i][0],
                 stem, dsts[i][1]);
        char *src = scene_file(g_a, "cd-kamoto", ymd, srcs[i]);
        to_jp2(src, dst);
        free(src);
    }
    char *mtd = tu_path(safe, "MTD_MSIL2A.xml");
    write_mtd(mtd, "05.09", 1, granule, stem);
    mw_scene a, b;
    assert_int_equal(mw_safe_read(mtd, &a), 0);
    assert_string_equal(a.id, "S2A_MSIL2A_20230611T081559_N0509_R121_T35LPC_20230611T120000");
    assert_string_equal(a.baseline, "05.09");
    assert_true(fabs(a.bands[MW_BAND_RED].offset + 0.1) < 1e-12 &&
                a.bands[MW_BAND_RED].scale == 1e-4);
    assert_true(fabs(a.cloud_cover - 12.5) < 1e-9);
    assert_true(a.bbox[0] == 25.3 && a.bbox[3] == -10.6);
    assert_non_null(strstr(a.qa.href, "_SCL_20m.jp2"));
    snprintf(name, sizeof name, "S2SIM_cd-kamoto_%s.json", ymd);
    char *item = scene_file(g_a, "cd-kamoto", ymd, name);
    assert_int_equal(mw_stac_item_read(item, &b), 0);
    /* Same grid, same scene: the two chips hold the same numbers. */
    mw_grid g;
    assert_int_equal(mw_grid_for_site(g_sites[0], 10, 200, 0, 0, &g), 0);
    uint8_t *mask = malloc(mw_grid_npix(&g));
    mw_grid_site_mask(&g, g_sites[0], mask);
    static const mw_band bands[2] = {MW_BAND_RED, MW_BAND_NIR};
    mw_ingest_options o = {bands,        2, MW_RESAMPLE_BILINEAR, MW_QA_DEFAULT_EXCLUDE, 0, 0, 0, 0,
                           MW_MASK_AUTO, 0};
    char *da = tu_path(g_dir, "safe-chip"), *db = tu_path(g_dir, "item-chip");
    mkdir(da, 0755);
    mkdir(db, 0755);
    mw_chip ca, cb;
    if (mw_chip_ingest(&a, &g, da, &o, mask, &ca)) fail_msg("%s", mw_error_message());
    assert_int_equal(mw_chip_ingest(&b, &g, db, &o, mask, &cb), 0);
    size_t npix = mw_grid_npix(&g);
    float *ra = malloc(npix * 2 * 4), *rb = malloc(npix * 2 * 4);
    GDALDatasetH x = GDALOpen(ca.path, GA_ReadOnly), y = GDALOpen(cb.path, GA_ReadOnly);
    assert_int_equal(GDALDatasetRasterIO(x, GF_Read, 0, 0, g.width, g.height, ra, g.width, g.height,
                                         GDT_Float32, 2, NULL, 0, 0, 0),
                     CE_None);
    assert_int_equal(GDALDatasetRasterIO(y, GF_Read, 0, 0, g.width, g.height, rb, g.width, g.height,
                                         GDT_Float32, 2, NULL, 0, 0, 0),
                     CE_None);
    GDALClose(x), GDALClose(y);
    assert_memory_equal(ra, rb, npix * 2 * 4);
    uint8_t *qa = malloc(npix), *qb = malloc(npix);
    x = GDALOpen(ca.qa_path, GA_ReadOnly), y = GDALOpen(cb.qa_path, GA_ReadOnly);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(x, 1), GF_Read, 0, 0, g.width, g.height, qa,
                                  g.width, g.height, GDT_Byte, 0, 0),
                     CE_None);
    assert_int_equal(GDALRasterIO(GDALGetRasterBand(y, 1), GF_Read, 0, 0, g.width, g.height, qb,
                                  g.width, g.height, GDT_Byte, 0, 0),
                     CE_None);
    GDALClose(x), GDALClose(y);
    assert_memory_equal(qa, qb, npix);
    /* Baseline 04.00 without BOA_ADD_OFFSET: refused, never guessed; before 04.00: no offset. */
    write_mtd(mtd, "04.00", 0, granule, stem);
    mw_scene refused;
    assert_int_equal(mw_safe_read(mtd, &refused), -1);
    assert_non_null(strstr(mw_error_message(), "no BOA_ADD_OFFSET for band"));
    mw_error_clear();
    write_mtd(mtd, "02.14", 0, granule, stem);
    mw_scene c;
    assert_int_equal(mw_safe_read(mtd, &c), 0);
    assert_true(c.bands[MW_BAND_RED].offset == 0.0);
    /* The catalogue finds the SAFE by its MTD_MSIL2A.xml. */
    mw_scene_catalog cat;
    assert_int_equal(mw_scene_catalog_scan(safe, &cat, NULL, NULL), 0);
    assert_int_equal(cat.n, 1);
    mw_scene_catalog_free(&cat);
    mw_scene_free(&c), mw_scene_free(&b), mw_scene_free(&a);
    mw_chip_free(&ca), mw_chip_free(&cb);
    free(ra), free(rb), free(qa), free(qb), free(mask), free(da), free(db), free(item), free(mtd),
        free(safe);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("sim");
    g_a = tu_path(g_dir, "a");
    g_b = tu_path(g_dir, "b");
    if (mw_site_catalog_load(AOI, &g_cat)) return -1;
    g_sites[0] = mw_site_catalog_find(&g_cat, "cd-kamoto");
    g_sites[1] = mw_site_catalog_find(&g_cat, "id-imip-morowali");
    g_per[0] = (mw_period){"baseline", mw_day_from_ymd(2021, 6, 1), mw_day_from_ymd(2021, 7, 31)};
    g_per[1] = (mw_period){"2023", mw_day_from_ymd(2023, 6, 1), mw_day_from_ymd(2023, 7, 31)};
    omp_set_num_threads(2);
    if (mw_simulate(g_sites, 2, g_per, 2, &g_opt, g_a)) {
        fprintf(stderr, "simulate failed: %s\n", mw_error_message());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mw_site_catalog_free(&g_cat);
    tu_rmtree(g_dir);
    free(g_dir), free(g_a), free(g_b);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(products_look_like_l2a),
        cmocka_unit_test(offsets_follow_processing_baseline),
        cmocka_unit_test(truth_matches_planted_shapes),
        cmocka_unit_test(clouds_nodata_and_hot_pixels_in_scl),
        cmocka_unit_test(same_seed_same_bytes_any_threads),
        cmocka_unit_test(safe_folder_reads_like_its_stac_item),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
