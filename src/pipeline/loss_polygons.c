/* Loss patches as polygons: the patch-id map traced by GDALPolygonize, one feature per patch. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/atomic_file.h"
#include "io/gpkg_file.h"
#include "io/qgis_styles.h"
#include "minewatch/error.h"
#include "minewatch/patches.h"
#include "minewatch/site_change.h"
#include "pipeline/site_maps.h"

static int add_field(OGRLayerH l, const char *name, OGRFieldType t)
{
    OGRFieldDefnH fd = OGR_Fld_Create(name, t);
    int ok = OGR_L_CreateField(l, fd, TRUE) == OGRERR_NONE;
    OGR_Fld_Destroy(fd);
    return ok ? 0 : -1;
}

/* One period's patches traced into lyr: the kept-loss pixels of period k labelled again (the
 * same components in the same order as the run labelled them, so label j is patches[first+j-1])
 * and polygonized 8-connected, as labelled. */
static int trace_period(GDALDatasetH mem_ds, GDALDatasetH scratch, OGRLayerH lyr, const mw_grid *g,
                        const char *site_id, const mw_site_change *c, size_t k, size_t first,
                        size_t count, const char *period_name, uint8_t *sel, int32_t *lab,
                        int32_t *any)
{
    const size_t npix = mw_grid_npix(g);
    const size_t byte = (k - 1) / 8;
    const uint8_t bit = (uint8_t)(1u << ((k - 1) % 8));
    for (size_t i = 0; i < npix; i++)
        sel[i] = (c->lost_by[i * c->lost_bytes + byte] & bit) != 0;
    mw_patch *pp = NULL;
    size_t np = 0;
    if (mw_patches_label(sel, NULL, g->width, g->height, 0, 1, lab, &pp, &np)) return -1;
    free(pp);
    if (np != count)
        return mw_error_set(MW_ERR_INTERNAL, "loss patches of period %zu: %zu traced, %zu counted",
                            k, np, count);
    for (size_t i = 0; i < npix; i++)
        any[i] = lab[i] != 0;
    GDALRasterBandH idb = GDALGetRasterBand(mem_ds, 1), maskb = GDALGetRasterBand(mem_ds, 2);
    if (GDALRasterIO(idb, GF_Write, 0, 0, g->width, g->height, lab, g->width, g->height, GDT_Int32,
                     0, 0) != CE_None ||
        GDALRasterIO(maskb, GF_Write, 0, 0, g->width, g->height, any, g->width, g->height,
                     GDT_Int32, 0, 0) != CE_None)
        return mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot fill the raster");
    /* a scratch layer of this period's polygons alone */
    while (GDALDatasetGetLayerCount(scratch) > 0)
        if (GDALDatasetDeleteLayer(scratch, 0) != OGRERR_NONE)
            return mw_error_from_gdal(MW_ERR_IO, "loss patches: scratch layer");
    OGRLayerH tmp = GDALDatasetCreateLayer(scratch, "t", NULL, wkbPolygon, NULL);
    if (!tmp || add_field(tmp, "id", OFTInteger))
        return mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot make a scratch layer");
    char **opt = CSLSetNameValue(NULL, "8CONNECTED", "8");
    CPLErr e = GDALPolygonize(idb, maskb, tmp, 0, opt, NULL, NULL);
    CSLDestroy(opt);
    if (e != CE_None) return mw_error_from_gdal(MW_ERR_IO, "cannot trace the loss patches");
    OGRFeatureH f;
    OGR_L_ResetReading(tmp);
    int rc = 0;
    while (rc == 0 && (f = OGR_L_GetNextFeature(tmp)) != NULL) {
        int id = OGR_F_GetFieldAsInteger(f, 0);
        if (id >= 1 && (size_t)id <= count) {
            const mw_loss_patch *p = &c->patches[first + (size_t)id - 1];
            OGRFeatureH o = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
            OGR_F_SetGeometry(o, OGR_F_GetGeometryRef(f));
            OGR_F_SetFieldInteger(o, 0, id);
            OGR_F_SetFieldString(o, 1, site_id);
            OGR_F_SetFieldString(o, 2, period_name);
            OGR_F_SetFieldDouble(o, 3, p->area_ha);
            OGR_F_SetFieldInteger64(o, 4, p->npix);
            if (isfinite(p->mean_dndvi))
                OGR_F_SetFieldDouble(o, 5, p->mean_dndvi);
            else
                OGR_F_SetFieldNull(o, 5);
            if (OGR_L_CreateFeature(lyr, o) != OGRERR_NONE)
                rc = mw_error_from_gdal(MW_ERR_IO, "cannot write a loss patch");
            OGR_F_Destroy(o);
        }
        OGR_F_Destroy(f);
    }
    return rc;
}

int mw_loss_patches_write(const char *path, const mw_grid *g, const char *site_id,
                          const mw_site_change *c, const char *const *period_names)
{
    if (!path) return -1;
    const size_t npix = mw_grid_npix(g);
    GDALDatasetH mem_ds = mw_grid_create_dataset(g, "MEM", NULL, 2, GDT_Int32, NULL);
    if (!mem_ds) return mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot make a raster");
    int32_t *any = malloc(npix * sizeof *any), *lab = malloc(npix * sizeof *lab);
    uint8_t *sel = malloc(npix);
    int rc = any && lab && sel ? 0 : mw_error_set(MW_ERR_NOMEM, "loss patches: out of memory");
    GDALDriverH memdrv = GDALGetDriverByName("Memory");
    GDALDatasetH scratch = memdrv ? GDALCreate(memdrv, "", 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (rc == 0 && !scratch)
        rc = mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot make a scratch dataset");
    char *mem = NULL;
    GDALDatasetH ds = rc ? NULL : mw_gpkg_begin(path, &mem);
    if (rc == 0 && !ds) rc = -1;
    OGRLayerH lyr = NULL;
    if (rc == 0) {
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(srs, g->epsg);
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
        char **lco = CSLSetNameValue(NULL, "DESCRIPTION",
                                     "minewatch forest-loss patches: per period, the 8-connected "
                                     "patches of baseline forest lost by that period of at least "
                                     "the minimum mapping unit; a period's features are its "
                                     "loss_patches and their area_ha adds up to its "
                                     "forest_loss_ha");
        lyr = GDALDatasetCreateLayer(ds, "forest_loss_patches", srs, wkbPolygon, lco);
        CSLDestroy(lco);
        OSRDestroySpatialReference(srs);
        if (!lyr || add_field(lyr, "patch_id", OFTInteger) ||
            add_field(lyr, "site_id", OFTString) || add_field(lyr, "period", OFTString) ||
            add_field(lyr, "area_ha", OFTReal) || add_field(lyr, "pixels", OFTInteger64) ||
            add_field(lyr, "mean_dndvi", OFTReal))
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot make the patch layer in '%s'", path);
    }
    static const char *const cols[6] = {"patch_id", "site_id", "period",
                                        "area_ha",  "pixels",  "mean_dndvi"};
    static const char *const titles[6] = {"patch_id",     "site_id",        "period",
                                          "area_ha (ha)", "pixels (count)", "mean_dndvi (NDVI)"};
    static const char *const descs[6] = {
        "patch number within its period, in raster order of its first pixel",
        "site identifier in the site catalogue",
        "the monitoring period by which the patch was lost",
        "area of the patch's pixels on the site grid",
        "grid pixels in the patch",
        "baseline NDVI minus the period's NDVI, averaged over the patch"};
    if (rc == 0) rc = mw_gpkg_describe_columns(ds, "forest_loss_patches", 6, cols, titles, descs);
    if (rc == 0)
        rc = mw_gpkg_add_style(ds, "forest_loss_patches", "geom", "minewatch loss patches",
                               mw_qml_loss_patches, "forest-loss patches in red");
    if (rc == 0 && OGR_L_StartTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    /* patches[] holds each period's patches together, periods in order */
    for (size_t first = 0; rc == 0 && first < c->npatches;) {
        size_t k = (size_t)c->patches[first].period, count = 0;
        while (first + count < c->npatches && (size_t)c->patches[first + count].period == k)
            count++;
        rc = trace_period(mem_ds, scratch, lyr, g, site_id, c, k, first, count, period_names[k],
                          sel, lab, any);
        first += count;
    }
    if (rc == 0 && OGR_L_CommitTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    free(any), free(lab), free(sel);
    if (scratch) GDALClose(scratch);
    GDALClose(mem_ds);
    if (!ds) return -1;
    return mw_gpkg_finish(ds, mem, path, rc == 0);
}
