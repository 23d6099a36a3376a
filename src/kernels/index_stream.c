#include "minewatch/index_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "minewatch/error.h"

#define TILE 256

typedef struct source {
    const char *path; /* what each thread opens */
    int band;
    double scale, offset, nodata, saturated;
    int has_nodata, has_saturated;
} source;

static int same_grid(GDALDatasetH a, GDALDatasetH b)
{
    double ga[6], gb[6];
    if (GDALGetRasterXSize(a) != GDALGetRasterXSize(b) ||
        GDALGetRasterYSize(a) != GDALGetRasterYSize(b))
        return 0;
    if (GDALGetGeoTransform(a, ga) != CE_None || GDALGetGeoTransform(b, gb) != CE_None) return 0;
    for (int i = 0; i < 6; i++)
        if (fabs(ga[i] - gb[i]) > 1e-9 * (fabs(ga[i]) + 1)) return 0;
    return 1;
}

/* The largest value of an integer type: a saturated detector reading. */
static int saturated_value(GDALDataType t, double *v)
{
    switch (t) {
    case GDT_Byte:
        *v = 255;
        return 1;
    case GDT_UInt16:
        *v = 65535;
        return 1;
    case GDT_Int16:
        *v = 32767;
        return 1;
    default:
        return 0;
    }
}

int mw_index_compute(const mw_spectral_index *ix, const mw_index_input in[MW_BAND_COUNT],
                     const char *out_path, const mw_index_options *o)
{
    source src[4];
    GDALDatasetH first = NULL;
    int aligned = 1, rc = 0;
    char vrt[128] = "", one[4][160] = {{0}};
    for (int k = 0; k < ix->nbands; k++) {
        const mw_index_input *p = &in[ix->bands[k]];
        if (!p->path)
            return mw_error_set(MW_ERR_INPUT,
                                "index '%s' needs the '%s' band (%s); give it with --%s FILE",
                                ix->name, mw_bands[ix->bands[k]].name,
                                mw_bands[ix->bands[k]].s2_name, mw_bands[ix->bands[k]].name);
        GDALDatasetH ds = GDALOpenEx(p->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
        if (!ds) {
            if (first) GDALClose(first);
            return mw_error_from_gdal(MW_ERR_INPUT, "cannot open '%s' (band %s)", p->path,
                                      mw_bands[ix->bands[k]].name);
        }
        int nb = GDALGetRasterCount(ds);
        if (p->band < 1 || p->band > nb) {
            GDALClose(ds);
            if (first) GDALClose(first);
            return mw_error_set(MW_ERR_INPUT, "'%s' has %d band(s); band %d was asked for %s",
                                p->path, nb, p->band, mw_bands[ix->bands[k]].name);
        }
        GDALRasterBandH b = GDALGetRasterBand(ds, p->band);
        int hn = 0;
        double nd = GDALGetRasterNoDataValue(b, &hn);
        src[k] = (source){p->path,
                          p->band,
                          p->scale,
                          p->offset,
                          p->has_nodata ? p->nodata : nd,
                          0,
                          p->has_nodata || hn,
                          0};
        src[k].has_saturated = saturated_value(GDALGetRasterDataType(b), &src[k].saturated);
        if (!first)
            first = ds;
        else {
            aligned &= same_grid(first, ds);
            GDALClose(ds);
        }
    }
    if (!aligned) {
        /* Bands on different grids (10 m and 20 m): a VRT on the finest grid, one band each. */
        /* Bands taken from multi-band files are first cut out into single-band VRTs. */
        const char *paths[4];
        for (int k = 0; k < ix->nbands; k++) {
            paths[k] = src[k].path;
            one[k][0] = 0;
            if (src[k].band == 1) continue;
            snprintf(one[k], sizeof one[k], "/vsimem/mw_index_%ld_%p_%d.vrt", (long)getpid(),
                     (void *)src, k);
            char bn[16];
            snprintf(bn, sizeof bn, "%d", src[k].band);
            char *targv[] = {"-of", "VRT", "-b", bn, NULL};
            GDALTranslateOptions *to = GDALTranslateOptionsNew(targv, NULL);
            GDALDatasetH sd = GDALOpen(src[k].path, GA_ReadOnly);
            GDALDatasetH t = sd ? GDALTranslate(one[k], sd, to, NULL) : NULL;
            GDALTranslateOptionsFree(to);
            if (t) GDALClose(t);
            if (sd) GDALClose(sd);
            if (!t) {
                GDALClose(first);
                return mw_error_from_gdal(MW_ERR_INPUT, "cannot take band %d of '%s'", src[k].band,
                                          src[k].path);
            }
            paths[k] = one[k];
        }
        snprintf(vrt, sizeof vrt, "/vsimem/mw_index_%ld_%p.vrt", (long)getpid(), (void *)src);
        char *argv[] = {"-separate", "-resolution", "highest", "-r", "nearest", NULL};
        GDALBuildVRTOptions *bo = GDALBuildVRTOptionsNew(argv, NULL);
        GDALDatasetH v = GDALBuildVRT(vrt, ix->nbands, NULL, paths, bo, NULL);
        GDALBuildVRTOptionsFree(bo);
        if (!v) {
            GDALClose(first);
            return mw_error_from_gdal(MW_ERR_INPUT, "cannot align the input bands onto one grid");
        }
        GDALClose(v);
        for (int k = 0; k < ix->nbands; k++) {
            src[k].path = vrt;
            src[k].band = k + 1;
        }
        GDALClose(first);
        first = GDALOpen(vrt, GA_ReadOnly);
    }
    const int W = GDALGetRasterXSize(first), H = GDALGetRasterYSize(first);
    double gt[6];
    GDALGetGeoTransform(first, gt);
    char *wkt = CPLStrdup(GDALGetProjectionRef(first));
    GDALClose(first);
    /* Strip height: whole tile rows, sized so every thread's strip fits in the budget. */
    int nthreads = omp_get_max_threads();
    size_t per_row = (size_t)W * sizeof(float) * (size_t)(ix->nbands + 1);
    int rows = o->chunk_rows > 0 ? o->chunk_rows
                                 : (int)(o->mem_budget_bytes / ((size_t)nthreads * per_row));
    rows = rows / TILE * TILE;
    if (rows < TILE) rows = TILE;
    if (rows > H) rows = (H + TILE - 1) / TILE * TILE;
    const int nstrips = (H + rows - 1) / rows;
    char *tmp = mw_part_path(out_path), *tmp2 = o->cog ? mw_part_path(tmp) : NULL;
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "BLOCKXSIZE", "256");
    co = CSLSetNameValue(co, "BLOCKYSIZE", "256");
    const char *comp = o->compress ? o->compress : "DEFLATE";
    co = CSLSetNameValue(co, "COMPRESS", comp);
    if (strcasecmp(comp, "NONE") != 0) co = CSLSetNameValue(co, "PREDICTOR", "3");
    if (strcasecmp(comp, "DEFLATE") == 0) co = CSLSetNameValue(co, "ZLEVEL", "1");
    if ((double)W * H * 4 > 3.5e9) co = CSLSetNameValue(co, "BIGTIFF", "YES");
    GDALDatasetH out =
        GDALCreate(GDALGetDriverByName("GTiff"), o->cog ? tmp2 : tmp, W, H, 1, GDT_Float32, co);
    CSLDestroy(co);
    if (!out) {
        CPLFree(wkt);
        free(tmp), free(tmp2);
        return mw_error_from_gdal(MW_ERR_IO, "cannot create '%s'", out_path);
    }
    GDALSetGeoTransform(out, gt);
    GDALSetProjection(out, wkt);
    CPLFree(wkt);
    GDALRasterBandH ob = GDALGetRasterBand(out, 1);
    GDALSetRasterNoDataValue(ob, MW_INDEX_NODATA);
    GDALSetDescription(ob, ix->name);
    GDALSetMetadataItem(out, "MW_INDEX", ix->name, NULL);
    GDALSetMetadataItem(out, "MW_FORMULA", ix->formula, NULL);
    GDALSetMetadataItem(out, "MW_CITATION", ix->citation, NULL);
    double scale[MW_BAND_COUNT] = {0}, offset[MW_BAND_COUNT] = {0};
    for (int k = 0; k < ix->nbands; k++) {
        scale[ix->bands[k]] = src[k].scale;
        offset[ix->bands[k]] = src[k].offset;
    }
    int failed = 0;
    char *first_err = NULL;
#pragma omp parallel
    {
        GDALDatasetH h[4] = {0};
        float *buf = malloc((size_t)W * rows * sizeof(float) * (size_t)(ix->nbands + 1));
        int ok = buf != NULL;
        for (int k = 0; k < ix->nbands && ok; k++)
            ok = (h[k] = GDALOpen(src[k].path, GA_ReadOnly)) != NULL;
        const float *rowsp[MW_BAND_COUNT] = {0};
#pragma omp for ordered schedule(static, 1)
        for (int s = 0; s < nstrips; s++) {
            const int r0 = s * rows, nr = r0 + rows <= H ? rows : H - r0;
            const size_t n = (size_t)W * nr;
            float *res = buf + (size_t)ix->nbands * W * rows;
            int err = !ok;
            for (int k = 0; k < ix->nbands && !err; k++) {
                float *b = buf + (size_t)k * W * rows;
                err = GDALRasterIO(GDALGetRasterBand(h[k], src[k].band), GF_Read, 0, r0, W, nr, b,
                                   W, nr, GDT_Float32, 0, 0) != CE_None;
                const float nd = (float)src[k].nodata, sat = (float)src[k].saturated;
                const int hn = src[k].has_nodata, hs = src[k].has_saturated;
                for (size_t i = 0; i < n; i++) /* DN stay exact; reflectance is taken in double */
                    if ((hn && b[i] == nd) || (hs && b[i] == sat)) b[i] = NAN;
                rowsp[ix->bands[k]] = b;
            }
            if (!err) {
                mw_spectral_index_row_dn(ix, rowsp, scale, offset, res, n);
                for (size_t i = 0; i < n; i++)
                    if (res[i] != res[i]) res[i] = MW_INDEX_NODATA;
            }
#pragma omp ordered
            {
                /* In row order, one strip at a time: the file's tile layout never depends on
                 * which thread finished first. */
                if (!err && !failed) {
                    CPLErrorReset();
                    err = GDALRasterIO(ob, GF_Write, 0, r0, W, nr, res, W, nr, GDT_Float32, 0, 0) !=
                          CE_None;
                    GDALFlushCache(out); /* this strip's tiles go to disk now, in order */
                    err |= CPLGetLastErrorType() == CE_Failure;
                }
                if (err && !failed) {
                    failed = 1;
                    mw_error_from_gdal(MW_ERR_IO,
                                       "index '%s': reading or writing rows %d-%d failed", ix->name,
                                       r0, r0 + nr - 1);
                    first_err = strdup(mw_error_message());
                }
            }
        }
        for (int k = 0; k < ix->nbands; k++)
            if (h[k]) GDALClose(h[k]);
        free(buf);
    }
    GDALClose(out);
    if (vrt[0]) VSIUnlink(vrt);
    for (int k = 0; k < 4; k++)
        if (one[k][0]) VSIUnlink(one[k]);
    if (!failed && o->cog) {
        GDALDatasetH t = GDALOpen(tmp2, GA_ReadOnly);
        char **cc = CSLSetNameValue(NULL, "COMPRESS", "DEFLATE");
        cc = CSLSetNameValue(cc, "PREDICTOR", "YES");
        cc = CSLSetNameValue(cc, "LEVEL", "1");
        cc = CSLSetNameValue(cc, "NUM_THREADS", "1");
        GDALDatasetH c =
            t ? GDALCreateCopy(GDALGetDriverByName("COG"), tmp, t, FALSE, cc, NULL, NULL) : NULL;
        CSLDestroy(cc);
        if (!c) {
            failed = 1;
            mw_error_from_gdal(MW_ERR_IO, "cannot write the COG '%s'", out_path);
            first_err = strdup(mw_error_message());
        } else {
            GDALClose(c);
        }
        if (t) GDALClose(t);
        mw_remove_tree(tmp2);
    }
    if (failed) {
        mw_error_set(MW_ERR_IO, "%s", first_err ? first_err : "index failed");
        mw_remove_tree(tmp);
        rc = -1;
    } else {
        rc = mw_commit_path(tmp, out_path);
    }
    free(first_err);
    free(tmp), free(tmp2);
    return rc;
}
