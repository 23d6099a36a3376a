#include "minewatch/warp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdalwarper.h>

#include "io/http_reader.h"
#include "minewatch/error.h"

const char *mw_resample_name(mw_resample r)
{
    return r == MW_RESAMPLE_BILINEAR ? "bilinear" : r == MW_RESAMPLE_CUBIC ? "cubic" : "nearest";
}

/* Source pixels read per grid pixel, at most: a raster far finer than the grid (a footprint over
 * the site at millimetre pixels) would be read for hours; it is refused, with the fix. */
#define MAX_SOURCE_PER_GRID_PIXEL 256.0
#define MIN_SOURCE_WINDOW_PIXELS 67108864.0 /* small grids may always read this much */

static int source_window_bound(void *transformer, GDALDatasetH src, const mw_grid *g,
                               const char *src_path)
{
    double x[9], y[9], z[9] = {0};
    int ok[9];
    for (int i = 0; i < 9; i++) {
        x[i] = g->width * 0.5 * (i % 3);
        y[i] = g->height * 0.5 * (i / 3);
    }
    GDALGenImgProjTransform(transformer, TRUE, 9, x, y, z, ok);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < 9; i++)
        if (ok[i] && isfinite(x[i]) && isfinite(y[i])) {
            x0 = fmin(x0, x[i]), x1 = fmax(x1, x[i]);
            y0 = fmin(y0, y[i]), y1 = fmax(y1, y[i]);
        }
    if (!(x0 <= x1)) return 0; /* the grid does not map into the raster: GDAL says so later */
    const double W = GDALGetRasterXSize(src), H = GDALGetRasterYSize(src);
    x0 = fmax(x0, 0), y0 = fmax(y0, 0), x1 = fmin(x1, W), y1 = fmin(y1, H);
    const double window = fmax(x1 - x0, 0) * fmax(y1 - y0, 0);
    const double grid = (double)g->width * g->height;
    const double bound = fmax(MAX_SOURCE_PER_GRID_PIXEL * grid, MIN_SOURCE_WINDOW_PIXELS);
    if (window <= bound) return 0;
    return mw_error_set(MW_ERR_INPUT,
                        "raster '%s' is far finer than the site grid: its window over the site "
                        "holds %.3g pixels, %.0f per %.1f m grid pixel (at most %.0f are read). "
                        "Resample it to the grid's pixel size first (gdalwarp -tr)",
                        src_path, window, window / grid, g->res, MAX_SOURCE_PER_GRID_PIXEL);
}

int mw_warp_to_grid(const mw_scene_asset *asset, const mw_grid *g, const mw_warp_spec *spec,
                    void *out)
{
    const char *src_path = asset->href; /* for messages */
    if (src_path && strncmp(src_path, MW_HTTP_PREFIX, sizeof MW_HTTP_PREFIX - 1) == 0 &&
        mw_http_reader_install())
        return -1;
    char *open_path = mw_scene_asset_read_path(asset);
    const int is_float = spec->gdal_type == GDT_Float32;
    static const char *const pixel_formats[] = {"GTiff", "JP2OpenJPEG", NULL};
    GDALDatasetH src = open_path ? GDALOpenEx(open_path, GDAL_OF_RASTER | GDAL_OF_READONLY,
                                              spec->any_format ? NULL : pixel_formats, NULL, NULL)
                                 : NULL;
    free(open_path);
    if (!src)
        return mw_error_from_gdal(MW_ERR_IO, "cannot open raster '%s'%s", src_path,
                                  spec->any_format ? ""
                                                   : " (scene bands are read as GeoTIFF or "
                                                     "JPEG 2000 only)");
    const char *swkt = GDALGetProjectionRef(src);
    double sgt[6];
    if (!swkt || !*swkt || GDALGetGeoTransform(src, sgt) != CE_None) {
        GDALClose(src);
        return mw_error_set(MW_ERR_INPUT,
                            "raster '%s' has no coordinate reference system or geotransform; "
                            "it cannot be placed on the site grid",
                            src_path);
    }
    const int band = asset->band > 0 ? asset->band : 1;
    if (band > GDALGetRasterCount(src)) {
        const int have = GDALGetRasterCount(src);
        GDALClose(src);
        return mw_error_set(MW_ERR_INPUT, "raster '%s' has %d band(s), not band %d", src_path, have,
                            band);
    }
    GDALDataType dt = (GDALDataType)spec->gdal_type;
    GDALDatasetH dst = mw_grid_create_dataset(g, "MEM", NULL, 1, dt, NULL);
    if (!dst) {
        GDALClose(src);
        return mw_error_prefix("site window for '%s'", src_path);
    }
    GDALWarpOptions *wo = GDALCreateWarpOptions();
    wo->hSrcDS = src;
    wo->hDstDS = dst;
    wo->nBandCount = 1;
    wo->panSrcBands = CPLMalloc(sizeof(int));
    wo->panDstBands = CPLMalloc(sizeof(int));
    wo->panSrcBands[0] = band, wo->panDstBands[0] = 1;
    wo->eResampleAlg = spec->resample == MW_RESAMPLE_BILINEAR ? GRA_Bilinear
                       : spec->resample == MW_RESAMPLE_CUBIC  ? GRA_Cubic
                                                              : GRA_NearestNeighbour;
    wo->eWorkingDataType = dt;
    wo->dfWarpMemoryLimit = 16.0 * 1024 * 1024; /* counted in the site's memory plan */
    if (is_float) {
        wo->padfDstNoDataReal = CPLMalloc(sizeof(double));
        wo->padfDstNoDataReal[0] = NAN;
        wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
    } else {
        /* No destination no-data for class bands: GDAL would shift a real class value that equals
         * it. The window is pre-filled with the fill value instead. */
        char fill[32];
        snprintf(fill, sizeof fill, "%.0f", spec->fill);
        wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", fill);
    }
    if (spec->has_src_nodata) {
        wo->padfSrcNoDataReal = CPLMalloc(sizeof(double));
        wo->padfSrcNoDataReal[0] = spec->src_nodata;
    }
    /* An exact transformer (no approximation): every output pixel maps the same way whatever the
     * chunking GDAL picks, which keeps results byte-identical. */
    wo->pTransformerArg = GDALCreateGenImgProjTransformer2(src, dst, NULL);
    wo->pfnTransformer = GDALGenImgProjTransform;
    int rc = 0;
    if (!wo->pTransformerArg) {
        rc = mw_error_from_gdal(MW_ERR_INPUT, "cannot relate '%s' to the site grid (EPSG:%d)",
                                src_path, g->epsg);
    } else if (source_window_bound(wo->pTransformerArg, src, g, src_path)) {
        rc = -1;
    } else {
        GDALWarpOperationH op = GDALCreateWarpOperation(wo);
        if (!op || GDALChunkAndWarpImage(op, 0, 0, g->width, g->height) != CE_None)
            rc = mw_error_from_gdal(MW_ERR_IO, "reading the site window of '%s' failed", src_path);
        if (op) GDALDestroyWarpOperation(op);
        GDALDestroyGenImgProjTransformer(wo->pTransformerArg);
    }
    if (rc == 0 && GDALRasterIO(GDALGetRasterBand(dst, 1), GF_Read, 0, 0, g->width, g->height, out,
                                g->width, g->height, dt, 0, 0) != CE_None)
        rc = mw_error_from_gdal(MW_ERR_INTERNAL, "reading the warped window of '%s'", src_path);
    GDALDestroyWarpOptions(wo);
    GDALClose(dst);
    GDALClose(src);
    return rc;
}
