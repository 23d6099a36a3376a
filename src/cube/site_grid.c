#include "minewatch/grid.h"

#include <math.h>
#include <string.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "minewatch/error.h"

int mw_grid_for_site(const mw_site *site, double res, double buffer_m, double ox, double oy,
                     mw_grid *g)
{
    return mw_grid_for_site_in(site, mw_site_utm_epsg(site), res, buffer_m, ox, oy, g);
}

int mw_grid_for_site_in(const mw_site *site, int epsg, double res, double buffer_m, double ox,
                        double oy, mw_grid *g)
{
    if (!(res > 0) || !(buffer_m >= 0))
        return mw_error_set(MW_ERR_INPUT, "grid: pixel size must be > 0 and buffer >= 0");
    memset(g, 0, sizeof *g);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    int projected = OSRImportFromEPSG(srs, epsg) == OGRERR_NONE && OSRIsProjected(srs) &&
                    fabs(OSRGetLinearUnits(srs, NULL) - 1.0) < 1e-9;
    OSRDestroySpatialReference(srs);
    if (!projected)
        return mw_error_set(
            MW_ERR_INPUT,
            "grid CRS EPSG:%d is not a projected CRS in metres; pixel sizes and areas "
            "need one (leave grid.epsg out to use the site's UTM zone)",
            epsg);
    g->epsg = epsg;
    OGRGeometryH poly = mw_site_polygon(site, g->epsg);
    if (!poly) return -1;
    OGREnvelope env;
    OGR_G_GetEnvelope(poly, &env);
    OGR_G_DestroyGeometry(poly);
    /* Snap outwards to the lattice through (ox, oy), so that site grids nest in one pixel lattice
     * (and, with the product grid as anchor, match the scenes pixel for pixel). */
    double xmin = ox + floor((env.MinX - buffer_m - ox) / res) * res;
    double xmax = ox + ceil((env.MaxX + buffer_m - ox) / res) * res;
    double ymin = oy + floor((env.MinY - buffer_m - oy) / res) * res;
    double ymax = oy + ceil((env.MaxY + buffer_m - oy) / res) * res;
    double w = (xmax - xmin) / res, h = (ymax - ymin) / res;
    if (w * h > 4.0e8)
        return mw_error_set(MW_ERR_INPUT,
                            "site '%s' needs a %.0f x %.0f pixel grid at %.1f m; use a larger "
                            "pixel_size_m or split the site",
                            site->id, w, h, res);
    g->x0 = xmin;
    g->y0 = ymax;
    g->res = res;
    g->width = (int)lround(w);
    g->height = (int)lround(h);
    return 0;
}

void mw_grid_geotransform(const mw_grid *g, double gt[6])
{
    gt[0] = g->x0;
    gt[1] = g->res;
    gt[2] = 0;
    gt[3] = g->y0;
    gt[4] = 0;
    gt[5] = -g->res;
}

char *mw_grid_wkt(const mw_grid *g)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    if (OSRImportFromEPSG(s, g->epsg) == OGRERR_NONE) OSRExportToWkt(s, &wkt);
    OSRDestroySpatialReference(s);
    return wkt;
}

GDALDatasetH mw_grid_create_dataset(const mw_grid *g, const char *driver, const char *path,
                                    int nbands, int gdal_type, char **options)
{
    GDALDriverH drv = GDALGetDriverByName(driver);
    GDALDatasetH ds = drv ? GDALCreate(drv, path ? path : "", g->width, g->height, nbands,
                                       (GDALDataType)gdal_type, options)
                          : NULL;
    if (!ds) {
        mw_error_from_gdal(MW_ERR_IO, "cannot create a %dx%d raster '%s' (%s)", g->width, g->height,
                           path ? path : "in memory", driver);
        return NULL;
    }
    double gt[6];
    mw_grid_geotransform(g, gt);
    GDALSetGeoTransform(ds, gt);
    char *wkt = mw_grid_wkt(g);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    return ds;
}

int mw_grid_site_mask(const mw_grid *g, const mw_site *site, uint8_t *mask)
{
    OGRGeometryH poly = mw_site_polygon(site, g->epsg);
    if (!poly) return -1;
    GDALDatasetH ds = mw_grid_create_dataset(g, "MEM", NULL, 1, GDT_Byte, NULL);
    if (!ds) {
        OGR_G_DestroyGeometry(poly);
        return mw_error_prefix("site '%s': site mask", site->id);
    }
    int band = 1;
    double burn = 1.0;
    CPLErr e = GDALRasterizeGeometries(ds, 1, &band, 1, &poly, NULL, NULL, &burn, NULL, NULL, NULL);
    if (e == CE_None)
        e = GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, g->width, g->height, mask,
                         g->width, g->height, GDT_Byte, 0, 0);
    GDALClose(ds);
    OGR_G_DestroyGeometry(poly);
    if (e != CE_None)
        return mw_error_from_gdal(MW_ERR_INTERNAL, "site '%s': rasterising the site failed",
                                  site->id);
    return 0;
}
