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
#include "minewatch/error.h"
#include "minewatch/qa.h"
#include "minewatch/version.h"
#include "minewatch/warp.h"

void mw_chip_free(mw_chip *c)
{
    free(c->path);
    free(c->qa_path);
    memset(c, 0, sizeof *c);
}

/* Everything the chip's pixels depend on; a chip is reused only if its key matches. */
static char *chip_key(const mw_scene *sc, const mw_grid *g, const mw_band *bands, int nb)
{
    json_t *k = json_pack("{s:s,s:s,s:s,s:[i,f,f,f,i,i]}", "v", MW_VERSION_STRING, "scene", sc->id,
                          "datetime", sc->datetime, "grid", g->epsg, g->x0, g->y0, g->res, g->width,
                          g->height);
    json_t *jb = json_array();
    for (int i = 0; i < nb; i++) {
        const mw_scene_asset *a = &sc->bands[bands[i]];
        struct stat st;
        long long size = -1, mtime = -1;
        if (a->href && stat(a->href, &st) == 0) {
            size = (long long)st.st_size;
            mtime = (long long)st.st_mtime;
        }
        json_array_append_new(jb, json_pack("[s,s,f,f,f,I,I]", mw_bands[bands[i]].name,
                                            a->href ? a->href : "", a->scale, a->offset, a->nodata,
                                            (json_int_t)size, (json_int_t)mtime));
    }
    struct stat st;
    long long ssize = -1, smtime = -1;
    if (sc->scl.href && stat(sc->scl.href, &st) == 0) {
        ssize = (long long)st.st_size;
        smtime = (long long)st.st_mtime;
    }
    json_object_set_new(k, "bands", jb);
    json_object_set_new(k, "scl",
                        json_pack("[s,I,I]", sc->scl.href ? sc->scl.href : "", (json_int_t)ssize,
                                  (json_int_t)smtime));
    char *s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(k);
    return s;
}

static int try_reuse(mw_chip *c, const char *key)
{
    int ok = 0;
    GDALDatasetH q = GDALOpen(c->qa_path, GA_ReadOnly);
    GDALDatasetH d = q ? GDALOpen(c->path, GA_ReadOnly) : NULL;
    if (q && d) {
        const char *kq = GDALGetMetadataItem(q, "MW_CHIP_KEY", NULL);
        const char *kd = GDALGetMetadataItem(d, "MW_CHIP_KEY", NULL);
        const char *cf = GDALGetMetadataItem(d, "MW_CLEAR_FRACTION", NULL);
        const char *vf = GDALGetMetadataItem(d, "MW_COVERAGE_FRACTION", NULL);
        if (kq && kd && cf && vf && strcmp(kq, key) == 0 && strcmp(kd, key) == 0) {
            c->clear_fraction = CPLAtof(cf);
            c->coverage_fraction = CPLAtof(vf);
            ok = 1;
        }
    }
    if (d) GDALClose(d);
    if (q) GDALClose(q);
    CPLErrorReset();
    return ok;
}

static GDALDatasetH create_tif(const char *path, const mw_grid *g, int nb, GDALDataType t)
{
    char **co = NULL;
    co = CSLSetNameValue(co, "TILED", "YES");
    co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    co = CSLSetNameValue(co, "PREDICTOR", t == GDT_Float32 ? "3" : "2");
    co = CSLSetNameValue(co, "INTERLEAVE", "BAND");
    GDALDatasetH ds = mw_grid_create_dataset(g, "GTiff", path, nb, t, co);
    CSLDestroy(co);
    return ds;
}

static void set_tags(GDALDatasetH ds, const mw_scene *sc, const char *key, double clear,
                     double cover)
{
    char buf[64];
    GDALSetMetadataItem(ds, "MW_CHIP_KEY", key, NULL);
    GDALSetMetadataItem(ds, "MW_SCENE_ID", sc->id, NULL);
    GDALSetMetadataItem(ds, "MW_DATETIME", sc->datetime, NULL);
    GDALSetMetadataItem(ds, "MW_PROCESSING_BASELINE", sc->baseline, NULL);
    GDALSetMetadataItem(ds, "MW_OFFSET_SOURCE",
                        sc->offset_source == MW_OFFSET_FROM_RASTER_BANDS ? "raster:bands"
                                                                         : "s2:processing_baseline",
                        NULL);
    snprintf(buf, sizeof buf, "%.6f", clear);
    GDALSetMetadataItem(ds, "MW_CLEAR_FRACTION", buf, NULL);
    snprintf(buf, sizeof buf, "%.6f", cover);
    GDALSetMetadataItem(ds, "MW_COVERAGE_FRACTION", buf, NULL);
}

int mw_chip_ingest(const mw_scene *sc, const mw_grid *g, const char *site_dir, const mw_band *bands,
                   int nb, const uint8_t *mask, uint8_t qa_exclude, mw_chip *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < nb; i++)
        if (!sc->bands[bands[i]].href)
            return mw_error_set(MW_ERR_INPUT, "scene '%s' (%s) has no '%s' (%s) asset", sc->id,
                                sc->item_path, mw_bands[bands[i]].name, mw_bands[bands[i]].s2_name);
    if (!sc->scl.href)
        return mw_error_set(MW_ERR_INPUT,
                            "scene '%s' (%s) has no SCL asset: clouds cannot be masked, so the "
                            "scene is left out. Add the scene classification layer",
                            sc->id, sc->item_path);
    char date[11];
    mw_day_format(sc->day, date);
    size_t n = strlen(site_dir) + strlen(sc->id) + 48;
    out->path = malloc(n);
    out->qa_path = malloc(n);
    if (!out->path || !out->qa_path) {
        mw_chip_free(out);
        return mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    snprintf(out->path, n, "%s/%.4s%.2s%.2s_%s_%s.tif", site_dir, date, date + 5, date + 8,
             sc->sensor, sc->id);
    snprintf(out->qa_path, n, "%s/%.4s%.2s%.2s_%s_%s_qa.tif", site_dir, date, date + 5, date + 8,
             sc->sensor, sc->id);
    char *key = chip_key(sc, g, bands, nb);
    if (key && try_reuse(out, key)) {
        free(key);
        out->reused = 1;
        return out->coverage_fraction > 0 ? 0 : 1;
    }
    size_t npix = mw_grid_npix(g);
    float *refl = malloc(npix * (size_t)nb * sizeof *refl);
    uint8_t *qa = malloc(npix);
    int rc = (refl && qa && key)
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "out of memory ingesting '%s'", sc->id);
    for (int i = 0; i < nb && rc == 0; i++) {
        const mw_scene_asset *a = &sc->bands[bands[i]];
        float *dst = refl + (size_t)i * npix;
        rc = mw_warp_to_grid(a->href, a->nodata, g, MW_RESAMPLE_BILINEAR, dst, NULL);
        if (rc) break;
        const float scale = (float)a->scale, offset = (float)a->offset;
#pragma omp simd
        for (size_t p = 0; p < npix; p++)
            dst[p] = dst[p] * scale + offset; /* NaN stays NaN */
    }
    if (rc == 0) rc = mw_warp_to_grid(sc->scl.href, 0, g, MW_RESAMPLE_NEAREST, NULL, qa);
    if (rc) mw_error_prefix("scene '%s'", sc->id);
    long inside = 0, covered = 0, clear = 0;
    if (rc == 0) {
        for (size_t p = 0; p < npix; p++) {
            uint8_t q = mw_qa_from_scl(qa[p]);
            for (int i = 0; i < nb; i++)
                if (isnan(refl[(size_t)i * npix + p])) q |= MW_QA_NODATA;
            if (q & MW_QA_NODATA)
                for (int i = 0; i < nb; i++)
                    refl[(size_t)i * npix + p] = NAN;
            qa[p] = q;
            if (mask[p]) {
                inside++;
                covered += !(q & MW_QA_NODATA);
                clear += !(q & qa_exclude);
            }
        }
        out->coverage_fraction = inside ? (double)covered / (double)inside : 0.0;
        out->clear_fraction = inside ? (double)clear / (double)inside : 0.0;
    }
    if (rc == 0 && covered == 0) {
        free(refl);
        free(qa);
        free(key);
        return 1;
    }
    char *tmp = NULL, *tmpq = NULL;
    if (rc == 0) {
        tmp = mw_part_path(out->path);
        tmpq = mw_part_path(out->qa_path);
        GDALDatasetH d = create_tif(tmp, g, nb, GDT_Float32);
        GDALDatasetH q = d ? create_tif(tmpq, g, 1, GDT_Byte) : NULL;
        if (!d || !q) {
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot create chip '%s'", out->path);
        } else {
            for (int i = 0; i < nb && rc == 0; i++) {
                GDALRasterBandH b = GDALGetRasterBand(d, i + 1);
                GDALSetDescription(b, mw_bands[bands[i]].name);
                GDALSetRasterNoDataValue(b, NAN);
                if (GDALRasterIO(b, GF_Write, 0, 0, g->width, g->height, refl + (size_t)i * npix,
                                 g->width, g->height, GDT_Float32, 0, 0) != CE_None)
                    rc = mw_error_from_gdal(MW_ERR_IO, "cannot write chip '%s'", out->path);
            }
            GDALRasterBandH b = GDALGetRasterBand(q, 1);
            GDALSetDescription(b, "qa");
            if (rc == 0 && GDALRasterIO(b, GF_Write, 0, 0, g->width, g->height, qa, g->width,
                                        g->height, GDT_Byte, 0, 0) != CE_None)
                rc = mw_error_from_gdal(MW_ERR_IO, "cannot write chip '%s'", out->qa_path);
            set_tags(d, sc, key, out->clear_fraction, out->coverage_fraction);
            set_tags(q, sc, key, out->clear_fraction, out->coverage_fraction);
        }
        if (q) GDALClose(q);
        if (d) GDALClose(d);
        /* QA first: a chip counts as present only when its reflectance file carries the key. */
        if (rc == 0) rc = mw_commit_path(tmpq, out->qa_path);
        if (rc == 0) rc = mw_commit_path(tmp, out->path);
        if (rc) {
            mw_remove_tree(tmp);
            mw_remove_tree(tmpq);
        }
    }
    free(tmp);
    free(tmpq);
    free(refl);
    free(qa);
    free(key);
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
