/* Loss patches as polygons: the patch-id map traced by GDALPolygonize, one feature per patch. */
#include <math.h>
#include <stdlib.h>

#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/atomic_file.h"
#include "io/gpkg_file.h"
#include "minewatch/error.h"
#include "minewatch/site_change.h"

static int add_field(OGRLayerH l, const char *name, OGRFieldType t)
{
    OGRFieldDefnH fd = OGR_Fld_Create(name, t);
    int ok = OGR_L_CreateField(l, fd, TRUE) == OGRERR_NONE;
    OGR_Fld_Destroy(fd);
    return ok ? 0 : -1;
}

int mw_loss_patches_write(const char *path, const mw_grid *g, const char *site_id,
                          const mw_site_change *c, const char *const *period_names)
{
    if (!path) return -1;
    const size_t npix = mw_grid_npix(g);
    GDALDatasetH mem_ds = mw_grid_create_dataset(g, "MEM", NULL, 2, GDT_Int32, NULL);
    if (!mem_ds) return mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot make a raster");
    int32_t *any = malloc(npix * sizeof *any);
    int rc = any ? 0 : mw_error_set(MW_ERR_NOMEM, "loss patches: out of memory");
    for (size_t i = 0; rc == 0 && i < npix; i++)
        any[i] = c->patch_id[i] != 0;
    GDALRasterBandH idb = GDALGetRasterBand(mem_ds, 1), maskb = GDALGetRasterBand(mem_ds, 2);
    if (rc == 0 && (GDALRasterIO(idb, GF_Write, 0, 0, g->width, g->height, c->patch_id, g->width,
                                 g->height, GDT_Int32, 0, 0) != CE_None ||
                    GDALRasterIO(maskb, GF_Write, 0, 0, g->width, g->height, any, g->width,
                                 g->height, GDT_Int32, 0, 0) != CE_None))
        rc = mw_error_from_gdal(MW_ERR_IO, "loss patches: cannot fill the raster");
    free(any);
    char *mem = NULL;
    GDALDatasetH ds = rc ? NULL : mw_gpkg_begin(path, &mem);
    if (rc == 0 && !ds) rc = -1;
    OGRLayerH lyr = NULL;
    if (rc == 0) {
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(srs, g->epsg);
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
        char **lco = CSLSetNameValue(NULL, "DESCRIPTION",
                                     "minewatch forest-loss patches: pixels first lost in the same "
                                     "period, 8-connected, after the minimum mapping unit");
        lyr = GDALDatasetCreateLayer(ds, "forest_loss_patches", srs, wkbPolygon, lco);
        CSLDestroy(lco);
        OSRDestroySpatialReference(srs);
        if (!lyr || add_field(lyr, "patch_id", OFTInteger) ||
            add_field(lyr, "site_id", OFTString) || add_field(lyr, "period", OFTString) ||
            add_field(lyr, "area_ha", OFTReal) || add_field(lyr, "pixels", OFTInteger64) ||
            add_field(lyr, "mean_dndvi", OFTReal))
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot make the patch layer in '%s'", path);
    }
    if (rc == 0 && OGR_L_StartTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    if (rc == 0) {
        char **opt = CSLSetNameValue(NULL, "8CONNECTED", "8"); /* as the labelling */
        if (GDALPolygonize(idb, maskb, lyr, 0, opt, NULL, NULL) != CE_None)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot trace the loss patches into '%s'", path);
        CSLDestroy(opt);
    }
    /* Patch ids are 1..npatches in order, so a feature finds its patch by index. */
    OGRFeatureH f;
    if (rc == 0) OGR_L_ResetReading(lyr);
    while (rc == 0 && (f = OGR_L_GetNextFeature(lyr)) != NULL) {
        int id = OGR_F_GetFieldAsInteger(f, 0);
        if (id >= 1 && (size_t)id <= c->npatches) {
            const mw_loss_patch *p = &c->patches[id - 1];
            OGR_F_SetFieldString(f, 1, site_id);
            OGR_F_SetFieldString(f, 2, period_names[p->period]);
            OGR_F_SetFieldDouble(f, 3, p->area_ha);
            OGR_F_SetFieldInteger64(f, 4, p->npix);
            if (isfinite(p->mean_dndvi))
                OGR_F_SetFieldDouble(f, 5, p->mean_dndvi);
            else
                OGR_F_SetFieldNull(f, 5);
            if (OGR_L_SetFeature(lyr, f) != OGRERR_NONE)
                rc = mw_error_from_gdal(MW_ERR_IO, "cannot write a patch to '%s'", path);
        }
        OGR_F_Destroy(f);
    }
    if (rc == 0 && OGR_L_CommitTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    GDALClose(mem_ds);
    if (!ds) return -1;
    return mw_gpkg_finish(ds, mem, path, rc == 0);
}
