#include "minewatch/chip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <jansson.h>

#include "core/atomic_file.h"
#include "core/name_check.h"
#include "core/text.h"
#include "minewatch/cloud_screen.h"
#include "minewatch/error.h"
#include "minewatch/qa.h"
#include "minewatch/version.h"
#include "minewatch/warp.h"

const char *const mw_mask_source_names[3] = {"auto", "provider", "screen"};

void mw_chip_free(mw_chip *c)
{
    free(c->path);
    free(c->qa_path);
    free(c->mask);
    memset(c, 0, sizeof *c);
}

static json_t *file_stamp(const char *href)
{
    struct stat st;
    long long size = -1, mtime = -1;
    if (href && stat(href, &st) == 0) {
        size = (long long)st.st_size;
        mtime = (long long)st.st_mtime;
    }
    return json_pack("[s,I,I]", href ? href : "", (json_int_t)size, (json_int_t)mtime);
}

/* Everything the chip's pixels depend on; a chip is reused only if its key matches. */
static char *chip_key(const mw_scene *sc, const mw_grid *g, const mw_ingest_options *o, int screen)
{
    json_t *k =
        json_pack("{s:s,s:s,s:s,s:[i,f,f,f,i,i],s:s,s:i,s:f,s:s}", "v", MW_VERSION_STRING, "scene",
                  sc->id, "datetime", sc->datetime, "grid", g->epsg, g->x0, g->y0, g->res, g->width,
                  g->height, "resample", mw_resample_name((mw_resample)o->resample), "dilate",
                  o->qa_dilate, "dilate_m", o->dilate_m, "radiometry", sc->offset_source);
    json_t *jb = json_array();
    for (int i = 0; i < o->nbands; i++) {
        const mw_scene_asset *a = &sc->bands[o->bands[i]];
        json_array_append_new(jb, json_pack("[s,f,f,f,o,i]", mw_bands[o->bands[i]].name, a->scale,
                                            a->offset, a->nodata, file_stamp(a->href),
                                            a->band > 1 ? a->band : 1));
    }
    json_object_set_new(k, "bands", jb);
    if (o->shift_dx != 0 || o->shift_dy != 0)
        json_object_set_new(k, "shift_px", json_pack("[f,f]", o->shift_dx, o->shift_dy));
    if (o->estimate_only) json_object_set_new(k, "estimate_only", json_true());
    if (screen) { /* the screen reads its bands, which the band list may not hold */
        json_t *sb = json_array();
        for (int b = 0; b < MW_BAND_COUNT; b++)
            json_array_append_new(sb, json_pack("[o,i]", file_stamp(sc->bands[b].href),
                                                sc->bands[b].band > 1 ? sc->bands[b].band : 1));
        json_object_set_new(k, "mask",
                            json_pack("{s:s,s:o,s:f,s:f}", "screen", MW_SCREEN_VERSION, "bands", sb,
                                      "sun_azimuth", sc->sun_azimuth, "sun_elevation",
                                      sc->sun_elevation));
    }
    json_object_set_new(k, "qa", file_stamp(screen ? NULL : sc->qa.href));
    if (!screen && sc->qa_lut) { /* a manifest's mask: its class table is part of the pixels */
        char hex[513];
        for (int v = 0; v < 256; v++)
            snprintf(hex + 2 * v, 3, "%02x", sc->qa_lut[v]);
        json_object_set_new(k, "qa_classes", json_string(hex));
    }
    json_object_set_new(k, "radsat", file_stamp(sc->radsat.href));
    char *s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(k);
    return s;
}

static int try_reuse(mw_chip *c, const char *key)
{
    int ok = 0;
    struct stat st;
    if (stat(c->path, &st) != 0 || stat(c->qa_path, &st) != 0) return 0; /* nothing to reuse */
    GDALDatasetH q = GDALOpen(c->qa_path, GA_ReadOnly);
    GDALDatasetH d = q ? GDALOpen(c->path, GA_ReadOnly) : NULL;
    if (q && d) {
        const char *kq = GDALGetMetadataItem(q, "MW_CHIP_KEY", NULL);
        const char *kd = GDALGetMetadataItem(d, "MW_CHIP_KEY", NULL);
        const char *cf = GDALGetMetadataItem(d, "MW_CLEAR_FRACTION", NULL);
        const char *vf = GDALGetMetadataItem(d, "MW_COVERAGE_FRACTION", NULL);
        const char *mk = GDALGetMetadataItem(d, "MW_MASK", NULL);
        if (kq && kd && cf && vf && mk && strcmp(kq, key) == 0 && strcmp(kd, key) == 0) {
            c->clear_fraction = CPLAtof(cf);
            c->coverage_fraction = CPLAtof(vf);
            c->mask = mw_text_dup(mk);
            ok = c->mask != NULL;
        }
    }
    if (d) GDALClose(d);
    if (q) GDALClose(q);
    CPLErrorReset();
    return ok;
}

static void set_tags(GDALDatasetH ds, const mw_scene *sc, const char *key, const char *mask,
                     double clear, double cover)
{
    char buf[64];
    GDALSetMetadataItem(ds, "MW_CHIP_KEY", key, NULL);
    GDALSetMetadataItem(ds, "MW_MASK", mask, NULL);
    GDALSetMetadataItem(ds, "MW_SCENE_ID", sc->id, NULL);
    GDALSetMetadataItem(ds, "MW_SENSOR", mw_sensors[sc->sensor].name, NULL);
    GDALSetMetadataItem(ds, "MW_DATETIME", sc->datetime, NULL);
    GDALSetMetadataItem(ds, "MW_PROCESSING_BASELINE", sc->baseline ? sc->baseline : "", NULL);
    GDALSetMetadataItem(ds, "MW_RADIOMETRY", sc->offset_source, NULL);
    snprintf(buf, sizeof buf, "%.6f", clear);
    GDALSetMetadataItem(ds, "MW_CLEAR_FRACTION", buf, NULL);
    snprintf(buf, sizeof buf, "%.6f", cover);
    GDALSetMetadataItem(ds, "MW_COVERAGE_FRACTION", buf, NULL);
    if (!isnan(sc->cloud_cover)) {
        snprintf(buf, sizeof buf, "%.4f", sc->cloud_cover);
        GDALSetMetadataItem(ds, "MW_SCENE_CLOUD_COVER_PCT", buf, NULL);
    }
}

/* Writes bands (nb x npix of type t) as a COG at path: MEM dataset, then the COG driver. */
static int write_cog(const char *path, const mw_grid *g, int nb, GDALDataType t, const void *data,
                     const char *const *names, const mw_scene *sc, const char *key,
                     const char *mask, double clear, double cover)
{
    GDALDatasetH mem = mw_grid_create_dataset(g, "MEM", NULL, nb, t, NULL);
    if (!mem) return -1;
    size_t npix = mw_grid_npix(g), esz = (size_t)GDALGetDataTypeSizeBytes(t);
    int rc = 0;
    for (int i = 0; i < nb && rc == 0; i++) {
        GDALRasterBandH b = GDALGetRasterBand(mem, i + 1);
        GDALSetDescription(b, names[i]);
        if (t == GDT_Float32) GDALSetRasterNoDataValue(b, NAN);
        if (GDALRasterIO(b, GF_Write, 0, 0, g->width, g->height,
                         (char *)data + (size_t)i * npix * esz, g->width, g->height, t, 0,
                         0) != CE_None)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot fill chip '%s'", path);
    }
    set_tags(mem, sc, key, mask, clear, cover);
    if (rc == 0) {
        /* a working copy, read back a few times: ZSTD at its fastest level (DEFLATE at level 6
         * made compressing chips the largest single cost of a fresh run) and no predictor
         * (libtiff's floating-point predictor doubled the time to read a chip back, for files
         * 13 % smaller); GDAL and QGIS read it */
        char **co = CSLSetNameValue(NULL, "COMPRESS", "ZSTD");
        co = CSLSetNameValue(co, "PREDICTOR", "NO");
        co = CSLSetNameValue(co, "LEVEL", "1");
        co = CSLSetNameValue(co, "BLOCKSIZE", "256");
        co = CSLSetNameValue(co, "OVERVIEWS", "NONE");
        co = CSLSetNameValue(co, "NUM_THREADS", "1");
        GDALDatasetH out =
            GDALCreateCopy(GDALGetDriverByName("COG"), path, mem, FALSE, co, NULL, NULL);
        CSLDestroy(co);
        if (!out)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot write chip '%s'", path);
        else if (mw_gdal_close_written(out, path))
            rc = -1;
    }
    GDALClose(mem);
    return rc;
}

/* The scene's QA band(s) on the grid, decoded into mw_qa_flag bits. */
static int ingest_qa(const mw_scene *sc, const mw_grid *g, uint8_t *qa)
{
    size_t npix = mw_grid_npix(g);
    if (sc->qa_source == MW_QA_FROM_CLASSES) {
        mw_warp_spec ws = {MW_RESAMPLE_NEAREST, GDT_Byte, 0, 0, 0, 0, 0};
        if (mw_warp_to_grid(&sc->qa, g, &ws, qa)) return -1;
        for (size_t p = 0; p < npix; p++)
            qa[p] = sc->qa_lut[qa[p]];
        return 0;
    }
    if (sc->qa_source == MW_QA_FROM_SCL) {
        mw_warp_spec ws = {MW_RESAMPLE_NEAREST, GDT_Byte, 0, 0, 0 /* SCL 0 = no data */, 0, 0};
        if (mw_warp_to_grid(&sc->qa, g, &ws, qa)) return -1;
        for (size_t p = 0; p < npix; p++)
            qa[p] = mw_qa_from_scl(qa[p]);
        return 0;
    }
    uint16_t *qp = malloc(npix * sizeof *qp), *rs = calloc(npix, sizeof *rs);
    int rc = qp && rs ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory for the QA window");
    mw_warp_spec ws = {MW_RESAMPLE_NEAREST, GDT_UInt16, 0, 0, 1 /* fill bit */, 0, 0};
    if (rc == 0) rc = mw_warp_to_grid(&sc->qa, g, &ws, qp);
    ws.fill = 0;
    if (rc == 0 && sc->radsat.href) rc = mw_warp_to_grid(&sc->radsat, g, &ws, rs);
    if (rc == 0)
        for (size_t p = 0; p < npix; p++)
            qa[p] = mw_qa_from_landsat(qp[p], rs[p]);
    free(qp);
    free(rs);
    return rc;
}

/* The built-in screen's QA for the scene on the grid: from the chip's bands where it has them,
 * the others read for the screen alone. *record says which test set ran. */
static int screen_qa(const mw_scene *sc, const mw_grid *g, const mw_ingest_options *o,
                     const float *refl, uint8_t *qa, char **record)
{
    static const mw_band need[6] = {MW_BAND_BLUE, MW_BAND_GREEN,  MW_BAND_RED,
                                    MW_BAND_NIR,  MW_BAND_SWIR16, MW_BAND_SWIR22};
    const size_t npix = mw_grid_npix(g);
    const float *bands[6] = {0};
    float *own[6] = {0};
    int rc = 0;
    for (int k = 0; k < 6 && rc == 0; k++) {
        for (int i = 0; i < o->nbands && !bands[k]; i++)
            if (o->bands[i] == need[k]) bands[k] = refl + (size_t)i * npix;
        if (bands[k]) continue;
        const mw_scene_asset *a = &sc->bands[need[k]];
        if (!a->href) {
            if (k < 4)
                rc = mw_error_set(MW_ERR_INPUT,
                                  "scene '%s' (%s) has no '%s' band: the cloud screen needs blue, "
                                  "green, red and NIR",
                                  sc->id, sc->item_path, mw_bands[need[k]].name);
            continue;
        }
        if (!(own[k] = malloc(npix * sizeof *own[k]))) {
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory screening '%s'", sc->id);
            break;
        }
        mw_warp_spec ws = {(mw_resample)o->resample, GDT_Float32, 1, a->nodata, 0, 0, 0};
        rc = mw_warp_to_grid(a, g, &ws, own[k]);
        for (size_t p = 0; rc == 0 && p < npix; p++)
            own[k][p] = own[k][p] * (float)a->scale + (float)a->offset;
        bands[k] = own[k];
    }
    mw_screen_result r;
    if (rc == 0) {
        memset(qa, 0, npix);
        const mw_screen_param margin = sc->sensor == MW_SENSOR_S2_MSI ? MW_SCREEN_LAND_MARGIN
                                       : sc->sensor == MW_SENSOR_LANDSAT_OLI
                                           ? MW_SCREEN_LAND_MARGIN_L8
                                           : MW_SCREEN_LAND_MARGIN_L47;
        mw_screen_input in = {bands[0],        bands[1],          bands[2],
                              bands[3],        bands[4],          bands[5],
                              g->width,        g->height,         g->res,
                              sc->sun_azimuth, sc->sun_elevation, mw_screen_params[margin].value};
        if (!bands[4] || !bands[5]) in.swir16 = in.swir22 = NULL;
        rc = mw_cloud_screen(&in, qa, &r);
    }
    if (rc == 0) {
        char buf[160];
        snprintf(buf, sizeof buf, "screen %s%s%s", MW_SCREEN_VERSION,
                 r.reduced ? ", reduced (no SWIR)" : "",
                 r.sun_known ? "" : ", no sun angles (no shadow screened)");
        *record = mw_text_dup(buf);
    }
    for (int k = 0; k < 6; k++)
        free(own[k]);
    return rc;
}

int mw_chip_ingest(const mw_scene *sc, const mw_grid *g, const char *site_dir,
                   const mw_ingest_options *o, const uint8_t *mask, mw_chip *out)
{
    memset(out, 0, sizeof *out);
    const int nb = o->nbands;
    for (int i = 0; i < nb; i++)
        if (!sc->bands[o->bands[i]].href)
            return mw_error_set(MW_ERR_INPUT, "scene '%s' (%s) has no '%s' band asset", sc->id,
                                sc->item_path, mw_bands[o->bands[i]].name);
    const int screen =
        o->mask_source == MW_MASK_SCREEN || (o->mask_source == MW_MASK_AUTO && !sc->qa.href);
    if (!screen && !sc->qa.href)
        return mw_error_set(
            MW_ERR_INPUT,
            "scene '%s' (%s) has no %s asset: clouds cannot be masked, so the scene is "
            "left out. Add the quality layer, or let the built-in screen mask it "
            "(mask: {source: auto} or screen)",
            sc->id, sc->item_path,
            sc->qa_source == MW_QA_FROM_SCL        ? "SCL"
            : sc->qa_source == MW_QA_FROM_QA_PIXEL ? "QA_PIXEL"
                                                   : "mask");
    if (mw_name_check(sc->id, "scene id")) return -1; /* it becomes the chip's file name */
    char date[11];
    mw_day_format(sc->day, date);
    size_t n = strlen(site_dir) + strlen(sc->id) + 48;
    out->path = malloc(n);
    out->qa_path = malloc(n);
    if (!out->path || !out->qa_path) {
        mw_chip_free(out);
        return mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    const char *kind = o->shift_dx != 0 || o->shift_dy != 0 ? "_coreg"
                       : o->estimate_only                   ? "_nir"
                                                            : "";
    snprintf(out->path, n, "%s/%.4s%.2s%.2s_%s_%s%s.tif", site_dir, date, date + 5, date + 8,
             sc->sensor_code, sc->id, kind);
    snprintf(out->qa_path, n, "%s/%.4s%.2s%.2s_%s_%s%s_qa.tif", site_dir, date, date + 5, date + 8,
             sc->sensor_code, sc->id, kind);
    /* Sampling the scene at the grid moved by -shift puts its content at +shift on the grid. */
    mw_grid gw = *g;
    gw.x0 -= o->shift_dx * g->res;
    gw.y0 += o->shift_dy * g->res;
    char *key = chip_key(sc, g, o, screen);
    if (key && try_reuse(out, key)) {
        free(key);
        out->reused = 1;
        return out->coverage_fraction > 0 ? 0 : 1;
    }
    size_t npix = mw_grid_npix(g);
    float *refl = malloc(npix * (size_t)nb * sizeof *refl);
    uint8_t *qa = malloc(npix), *scratch = malloc(npix);
    int rc = (refl && qa && scratch && key)
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "out of memory ingesting '%s'", sc->id);
    for (int i = 0; i < nb && rc == 0; i++) {
        const mw_scene_asset *a = &sc->bands[o->bands[i]];
        float *dst = refl + (size_t)i * npix;
        mw_warp_spec ws = {(mw_resample)o->resample, GDT_Float32, 1, a->nodata, 0, 0, 0};
        rc = mw_warp_to_grid(a, &gw, &ws, dst);
        if (rc) break;
        const float scale = (float)a->scale, offset = (float)a->offset;
#pragma omp simd
        for (size_t p = 0; p < npix; p++)
            dst[p] = dst[p] * scale + offset; /* NaN stays NaN */
    }
    if (rc == 0 && screen)
        rc = screen_qa(sc, &gw, o, refl, qa, &out->mask);
    else if (rc == 0) {
        rc = ingest_qa(sc, &gw, qa);
        out->mask = mw_text_dup(sc->qa_source == MW_QA_FROM_SCL        ? "SCL"
                                : sc->qa_source == MW_QA_FROM_QA_PIXEL ? "QA_PIXEL"
                                                                       : "manifest mask");
    }
    if (rc) mw_error_prefix("scene '%s'", sc->id);
    long inside = 0, covered = 0, clear = 0;
    if (rc == 0) {
        for (size_t p = 0; p < npix; p++)
            for (int i = 0; i < nb; i++)
                if (isnan(refl[(size_t)i * npix + p])) qa[p] |= MW_QA_NODATA;
        int r = o->dilate_m > 0 ? (int)ceil(o->dilate_m / g->res - 1e-9) : 0;
        mw_qa_dilate(qa, g->width, g->height, o->qa_dilate, r, scratch);
        for (size_t p = 0; p < npix; p++) {
            if (qa[p] & MW_QA_NODATA)
                for (int i = 0; i < nb; i++)
                    refl[(size_t)i * npix + p] = NAN;
            if (mask[p]) {
                inside++;
                covered += !(qa[p] & MW_QA_NODATA);
                clear += !(qa[p] & o->qa_exclude);
            }
        }
        /* to the 6 decimals the chip's metadata keeps: a reused chip then gives the very value
         * (best-pixel scores, provenance) a fresh one does */
        out->coverage_fraction = inside ? round(1e6 * (double)covered / (double)inside) / 1e6 : 0;
        out->clear_fraction = inside ? round(1e6 * (double)clear / (double)inside) / 1e6 : 0;
    }
    if (rc == 0 && covered == 0) {
        free(refl), free(qa), free(scratch), free(key);
        mw_chip_free(out);
        return 1;
    }
    if (rc == 0) {
        char *tmp = mw_part_path(out->path), *tmpq = mw_part_path(out->qa_path);
        const char *names[MW_BAND_COUNT];
        for (int i = 0; i < nb; i++)
            names[i] = mw_bands[o->bands[i]].name;
        const char *qname[1] = {"qa"};
        rc = write_cog(tmp, g, nb, GDT_Float32, refl, names, sc, key, out->mask,
                       out->clear_fraction, out->coverage_fraction);
        if (rc == 0)
            rc = write_cog(tmpq, g, 1, GDT_Byte, qa, qname, sc, key, out->mask, out->clear_fraction,
                           out->coverage_fraction);
        /* QA first: a chip counts as present only when its reflectance file carries the key. */
        if (rc == 0) rc = mw_commit_path(tmpq, out->qa_path);
        if (rc == 0) rc = mw_commit_path(tmp, out->path);
        if (rc) {
            mw_remove_tree(tmp);
            mw_remove_tree(tmpq);
        }
        free(tmp);
        free(tmpq);
    }
    free(refl), free(qa), free(scratch), free(key);
    if (rc) mw_chip_free(out);
    return rc;
}

int mw_chip_write_grid(const char *site_dir, const mw_grid *g, const char *site_id)
{
    char *wkt = mw_grid_wkt(g);
    json_t *j = json_pack("{s:s,s:i,s:s,s:f,s:f,s:f,s:i,s:i,s:s}", "site_id", site_id, "epsg",
                          g->epsg, "crs_wkt", wkt ? wkt : "", "x0", g->x0, "y0", g->y0,
                          "pixel_size_m", g->res, "width", g->width, "height", g->height, "origin",
                          "top-left corner of the top-left pixel; rows run south");
    CPLFree(wkt);
    size_t n = strlen(site_dir) + 16;
    char *path = malloc(n);
    snprintf(path, n, "%s/grid.json", site_dir);
    char *tmp = mw_part_path(path);
    int rc = json_dump_file(j, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(15)) == 0
                 ? mw_commit_path(tmp, path)
                 : mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    json_decref(j);
    free(tmp);
    free(path);
    return rc;
}
