/* The indicators and loss patches of a run into PostgreSQL/PostGIS with OGR's driver, in one
 * transaction. */
#include "pipeline/output_postgis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/text.h"
#include "io/gdal_sql.h"
#include "minewatch/error.h"
#include "pipeline/site_maps.h"

static int ensure_field(OGRLayerH l, const char *name, OGRFieldType t)
{
    if (OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), name) >= 0) return 0;
    OGRFieldDefnH fd = OGR_Fld_Create(name, t);
    int rc = OGR_L_CreateField(l, fd, TRUE) == OGRERR_NONE
                 ? 0
                 : mw_error_from_gdal(MW_ERR_IO, "cannot add column '%s' in PostgreSQL", name);
    OGR_Fld_Destroy(fd);
    return rc;
}

static OGRLayerH ensure_layer(GDALDatasetH ds, const char *name, OGRwkbGeometryType type)
{
    OGRLayerH l = GDALDatasetGetLayerByName(ds, name);
    CPLErrorReset();
    if (l) return l;
    OGRSpatialReferenceH wgs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs, 4326);
    OSRSetAxisMappingStrategy(wgs, OAMS_TRADITIONAL_GIS_ORDER);
    char **lco = CSLSetNameValue(NULL, "GEOMETRY_NAME", "geom");
    lco = CSLSetNameValue(lco, "FID", "fid");
    l = GDALDatasetCreateLayer(ds, name, wgs, type, lco);
    CSLDestroy(lco);
    OSRDestroySpatialReference(wgs);
    if (!l) mw_error_from_gdal(MW_ERR_IO, "cannot create table '%s' in PostgreSQL", name);
    return l;
}

/* DELETE the rows of this pipeline and these sites: a re-run replaces, never duplicates. */
static int delete_rows(GDALDatasetH ds, const char *table, const char *pipeline,
                       const mw_indicator_row *rows, size_t nrows)
{
    char *pl = mw_text_sql_literal(pipeline);
    size_t cap = 256;
    for (size_t r = 0; r < nrows; r++)
        cap += 2 * strlen(rows[r].site_id) + 4;
    char *in = malloc(cap);
    if (!pl || !in) {
        free(pl), free(in);
        return mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    in[0] = 0;
    for (size_t r = 0; r < nrows; r++) {
        char *q = mw_text_sql_literal(rows[r].site_id);
        if (q) snprintf(in + strlen(in), cap - strlen(in), "%s%s", *in ? "," : "", q);
        free(q);
    }
    char *st = mw_text_format("DELETE FROM \"%s\" WHERE pipeline = %s AND site_id IN (%s)", table,
                              pl, *in ? in : "''");
    int rc = st ? mw_gdal_sql(ds, st, "PostgreSQL refused a statement")
                : mw_error_set(MW_ERR_NOMEM, "out of memory");
    free(st), free(pl), free(in);
    return rc;
}

static int write_indicators(GDALDatasetH ds, const mw_pipeline *p, const char *run_started,
                            const mw_indicator_row *rows, size_t nrows)
{
    OGRLayerH l = ensure_layer(ds, "site_indicators", wkbMultiPolygon);
    if (!l) return -1;
    int rc = ensure_field(l, "pipeline", OFTString);
    if (rc == 0) rc = ensure_field(l, "run_started_utc", OFTString);
    for (int c = 0; c < mw_indicator_ncolumns && rc == 0; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        rc = ensure_field(l, col->name,
                          col->type == MW_COL_TEXT   ? OFTString
                          : col->type == MW_COL_DATE ? OFTDate
                          : col->type == MW_COL_INT  ? OFTInteger64
                                                     : OFTReal);
    }
    if (rc == 0) rc = delete_rows(ds, "site_indicators", p->name, rows, nrows);
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
    for (size_t r = 0; r < nrows && rc == 0; r++) {
        OGRFeatureH f = OGR_F_Create(d);
        OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, "pipeline"), p->name);
        OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, "run_started_utc"), run_started);
        mw_indicator_feature_fill(f, &rows[r]);
        if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot insert an indicator row into PostgreSQL");
        OGR_F_Destroy(f);
    }
    return rc;
}

/* The loss patches of each site's GeoPackage, in WGS 84. */
static int write_patches(GDALDatasetH ds, const mw_pipeline *p, const char *run_started,
                         const mw_indicator_row *rows, size_t nrows, const char *maps_dir)
{
    OGRLayerH l = ensure_layer(ds, "forest_loss_patches", wkbPolygon);
    if (!l) return -1;
    static const char *const names[] = {"pipeline", "run_started_utc", "site_id", "period",
                                        "patch_id", "area_ha",         "pixels",  "mean_dndvi"};
    static const OGRFieldType types[] = {OFTString,    OFTString, OFTString,    OFTString,
                                         OFTInteger64, OFTReal,   OFTInteger64, OFTReal};
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = ensure_field(l, names[i], types[i]);
    if (rc == 0) rc = delete_rows(ds, "forest_loss_patches", p->name, rows, nrows);
    OGRSpatialReferenceH wgs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs, 4326);
    OSRSetAxisMappingStrategy(wgs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
    for (size_t r = 0; r < nrows && rc == 0; r++) {
        if (r > 0 && !strcmp(rows[r].site_id, rows[r - 1].site_id)) continue; /* once a site */
        char *gp = mw_map_path(maps_dir, rows[r].site_id, "loss_patches", NULL, ".gpkg");
        GDALDatasetH src =
            gp ? GDALOpenEx(gp, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL) : NULL;
        free(gp);
        CPLErrorReset();
        OGRLayerH sl = src ? GDALDatasetGetLayerByName(src, "forest_loss_patches") : NULL;
        if (!sl) {
            if (src) GDALClose(src);
            continue; /* a site without maps has no patches to give */
        }
        OGRCoordinateTransformationH ct =
            OCTNewCoordinateTransformation(OGR_L_GetSpatialRef(sl), wgs);
        OGRFeatureH sf;
        OGR_L_ResetReading(sl);
        while (rc == 0 && (sf = OGR_L_GetNextFeature(sl)) != NULL) {
            OGRFeatureH f = OGR_F_Create(d);
            OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, "pipeline"), p->name);
            OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, "run_started_utc"), run_started);
            for (int i = 2; i < 8; i++) {
                const int si = OGR_F_GetFieldIndex(sf, names[i]);
                if (si >= 0 && OGR_F_IsFieldSetAndNotNull(sf, si))
                    OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, names[i]),
                                         OGR_F_GetFieldAsString(sf, si));
            }
            OGRGeometryH g = OGR_F_GetGeometryRef(sf);
            if (g) {
                g = OGR_G_Clone(g);
                if (ct && OGR_G_Transform(g, ct) == OGRERR_NONE)
                    OGR_F_SetGeometryDirectly(f, g);
                else
                    OGR_G_DestroyGeometry(g);
            }
            if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                rc = mw_error_from_gdal(MW_ERR_IO, "cannot insert a loss patch into PostgreSQL");
            OGR_F_Destroy(f);
            OGR_F_Destroy(sf);
        }
        if (ct) OCTDestroyCoordinateTransformation(ct);
        GDALClose(src);
    }
    OSRDestroySpatialReference(wgs);
    return rc;
}

static GDALDatasetH connect(const mw_pipeline *p, int with_schema)
{
    char *dsn = mw_text_format("PG:%s", p->pg_connection);
    char **oo =
        with_schema && p->pg_schema ? CSLSetNameValue(NULL, "ACTIVE_SCHEMA", p->pg_schema) : NULL;
    static const char *const drivers[] = {"PostgreSQL", NULL};
    CPLErrorReset();
    GDALDatasetH ds = dsn ? GDALOpenEx(dsn, GDAL_OF_VECTOR | GDAL_OF_UPDATE, drivers,
                                       (const char *const *)oo, NULL)
                          : NULL;
    CSLDestroy(oo);
    free(dsn);
    if (!ds)
        mw_error_from_gdal(MW_ERR_IO,
                           "cannot connect to PostgreSQL at '%s' (outputs.postgis); nothing was "
                           "written to the database",
                           p->pg_connection);
    return ds;
}

int mw_postgis_write(const mw_pipeline *p, const char *run_started, const mw_indicator_row *rows,
                     size_t nrows, const char *maps_dir)
{
    int rc = 0;
    if (p->pg_schema) { /* the schema first: OGR takes an active schema only if it exists */
        GDALDatasetH ds = connect(p, 0);
        if (!ds) return -1;
        char *sch = mw_text_format("CREATE SCHEMA IF NOT EXISTS \"%s\"", p->pg_schema);
        rc = sch ? mw_gdal_sql(ds, sch, "PostgreSQL refused a statement")
                 : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(sch);
        GDALClose(ds);
        if (rc) return mw_error_prefix("outputs.postgis '%s'", p->pg_connection);
    }
    GDALDatasetH ds = connect(p, 1);
    if (!ds) return -1;
    if (GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "PostgreSQL: cannot start a transaction");
    const int in_tx = rc == 0;
    if (rc == 0) rc = write_indicators(ds, p, run_started, rows, nrows);
    if (rc == 0 && maps_dir) rc = write_patches(ds, p, run_started, rows, nrows, maps_dir);
    if (rc == 0 && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "PostgreSQL: the transaction did not commit");
    else if (rc && in_tx)
        GDALDatasetRollbackTransaction(ds); /* the database as it was */
    GDALClose(ds);
    if (rc) mw_error_prefix("outputs.postgis '%s'", p->pg_connection);
    return rc;
}
