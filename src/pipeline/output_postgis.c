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
#include "minewatch/lonlat.h"
#include "pipeline/site_maps.h"

int mw_postgis_name_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (const char *q = s; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || *q == '_' || (q > s && *q >= '0' && *q <= '9'))) return 0;
    return 1;
}

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
    OGRSpatialReferenceH wgs = mw_lonlat_srs();
    char **lco = CSLSetNameValue(NULL, "GEOMETRY_NAME", "geom");
    lco = CSLSetNameValue(lco, "FID", "fid");
    l = GDALDatasetCreateLayer(ds, name, wgs, type, lco);
    CSLDestroy(lco);
    OSRDestroySpatialReference(wgs);
    if (!l) mw_error_from_gdal(MW_ERR_IO, "cannot create table '%s' in PostgreSQL", name);
    return l;
}

static int delete_where(GDALDatasetH ds, const char *table, const char *where)
{
    char *st = mw_text_format("DELETE FROM \"%s\" WHERE %s", table, where);
    int rc = st ? mw_gdal_sql(ds, st, "PostgreSQL refused a statement")
                : mw_error_set(MW_ERR_NOMEM, "out of memory");
    free(st);
    return rc;
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
    char *where = mw_text_format("pipeline = %s AND site_id IN (%s)", pl, *in ? in : "''");
    int rc = where ? delete_where(ds, table, where) : mw_error_set(MW_ERR_NOMEM, "out of memory");
    free(where), free(pl), free(in);
    return rc;
}

/* The table with its key columns (text), so old rows can be deleted before new ones go in. */
static OGRLayerH ensure_keyed_layer(GDALDatasetH ds, const char *table, OGRwkbGeometryType type,
                                    const char *const *keys, int nkeys)
{
    OGRLayerH l = ensure_layer(ds, table, type);
    for (int i = 0; i < nkeys && l; i++)
        if (ensure_field(l, keys[i], OFTString)) l = NULL;
    return l;
}

/* Every feature of src (its fields as they are, its geometry in WGS 84) into the table, each
 * with the extra text columns names[i] = values[i] first. */
static int copy_layer(GDALDatasetH ds, OGRLayerH src, const char *table, OGRwkbGeometryType type,
                      const char *const *names, const char *const *values, int nextra)
{
    OGRLayerH l = ensure_layer(ds, table, type);
    if (!l) return -1;
    int rc = 0;
    for (int i = 0; i < nextra && rc == 0; i++)
        rc = ensure_field(l, names[i], OFTString);
    OGRFeatureDefnH sd = OGR_L_GetLayerDefn(src);
    const int nf = OGR_FD_GetFieldCount(sd);
    for (int i = 0; i < nf && rc == 0; i++) {
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(sd, i);
        rc = ensure_field(l, OGR_Fld_GetNameRef(fd), OGR_Fld_GetType(fd));
    }
    OGRSpatialReferenceH wgs = mw_lonlat_srs();
    OGRSpatialReferenceH from = OGR_L_GetSpatialRef(src);
    OGRCoordinateTransformationH ct = from ? OCTNewCoordinateTransformation(from, wgs) : NULL;
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
    OGRFeatureH sf;
    OGR_L_ResetReading(src);
    while (rc == 0 && (sf = OGR_L_GetNextFeature(src)) != NULL) {
        OGRFeatureH f = OGR_F_Create(d);
        for (int i = 0; i < nextra; i++)
            OGR_F_SetFieldString(f, OGR_FD_GetFieldIndex(d, names[i]), values[i]);
        for (int i = 0; i < nf; i++)
            if (OGR_F_IsFieldSetAndNotNull(sf, i)) {
                const int to =
                    OGR_FD_GetFieldIndex(d, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(sd, i)));
                if (OGR_Fld_GetType(OGR_FD_GetFieldDefn(sd, i)) == OFTReal)
                    OGR_F_SetFieldDouble(f, to, OGR_F_GetFieldAsDouble(sf, i)); /* every bit */
                else
                    OGR_F_SetFieldString(f, to, OGR_F_GetFieldAsString(sf, i));
            }
        OGRGeometryH g = OGR_F_GetGeometryRef(sf);
        if (g) {
            g = OGR_G_Clone(g);
            if (!ct || OGR_G_Transform(g, ct) == OGRERR_NONE)
                OGR_F_SetGeometryDirectly(f, g);
            else
                OGR_G_DestroyGeometry(g);
        }
        if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot insert a row into PostgreSQL table '%s'",
                                    table);
        OGR_F_Destroy(f);
        OGR_F_Destroy(sf);
    }
    if (ct) OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs);
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
    static const char *const names[] = {"pipeline", "run_started_utc"};
    const char *values[] = {p->name, run_started};
    int rc = 0, made = 0;
    for (size_t r = 0; r < nrows && rc == 0; r++) {
        if (r > 0 && !strcmp(rows[r].site_id, rows[r - 1].site_id)) continue; /* once a site */
        char *gp = mw_map_path(maps_dir, rows[r].site_id, "loss_patches", NULL, ".gpkg");
        GDALDatasetH src =
            gp ? GDALOpenEx(gp, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL) : NULL;
        free(gp);
        CPLErrorReset();
        OGRLayerH sl = src ? GDALDatasetGetLayerByName(src, "forest_loss_patches") : NULL;
        if (sl && !made) { /* the table exists before its old rows go */
            made = 1;
            static const char *const keys[] = {"pipeline", "site_id"};
            if (!ensure_keyed_layer(ds, "forest_loss_patches", wkbPolygon, keys, 2) ||
                delete_rows(ds, "forest_loss_patches", p->name, rows, nrows))
                rc = -1;
        }
        if (sl && rc == 0)
            rc = copy_layer(ds, sl, "forest_loss_patches", wkbPolygon, names, values, 2);
        if (src) GDALClose(src); /* a site without maps has no patches to give */
    }
    return rc;
}

static GDALDatasetH connect(const char *connection, const char *schema, const char *what)
{
    char *dsn = mw_text_format("PG:%s", connection);
    char **oo = schema ? CSLSetNameValue(NULL, "ACTIVE_SCHEMA", schema) : NULL;
    static const char *const drivers[] = {"PostgreSQL", NULL};
    CPLErrorReset();
    GDALDatasetH ds = dsn ? GDALOpenEx(dsn, GDAL_OF_VECTOR | GDAL_OF_UPDATE, drivers,
                                       (const char *const *)oo, NULL)
                          : NULL;
    CSLDestroy(oo);
    free(dsn);
    if (!ds)
        mw_error_from_gdal(MW_ERR_IO,
                           "cannot connect to PostgreSQL at '%s' (%s); nothing was written to the "
                           "database",
                           connection, what);
    return ds;
}

typedef int (*db_writer)(GDALDatasetH ds, const void *arg);

/* Creates the schema when missing, then runs write in one transaction: on any failure the
 * database is left as it was. */
static int in_transaction(const char *connection, const char *schema, const char *what,
                          db_writer write, const void *arg)
{
    int rc = 0;
    if (schema) { /* the schema first: OGR takes an active schema only if it exists */
        GDALDatasetH ds = connect(connection, NULL, what);
        if (!ds) return -1;
        char *sch = mw_text_format("CREATE SCHEMA IF NOT EXISTS \"%s\"", schema);
        rc = sch ? mw_gdal_sql(ds, sch, "PostgreSQL refused a statement")
                 : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(sch);
        GDALClose(ds);
        if (rc) return mw_error_prefix("%s '%s'", what, connection);
    }
    GDALDatasetH ds = connect(connection, schema, what);
    if (!ds) return -1;
    if (GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "PostgreSQL: cannot start a transaction");
    const int in_tx = rc == 0;
    if (rc == 0) rc = write(ds, arg);
    if (rc == 0 && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "PostgreSQL: the transaction did not commit");
    else if (rc && in_tx)
        GDALDatasetRollbackTransaction(ds); /* the database as it was */
    GDALClose(ds);
    if (rc) mw_error_prefix("%s '%s'", what, connection);
    return rc;
}

typedef struct run_rows {
    const mw_pipeline *p;
    const char *run_started;
    const mw_indicator_row *rows;
    size_t nrows;
    const char *maps_dir;
} run_rows;

static int write_run(GDALDatasetH ds, const void *arg)
{
    const run_rows *a = arg;
    int rc = write_indicators(ds, a->p, a->run_started, a->rows, a->nrows);
    if (rc == 0 && a->maps_dir)
        rc = write_patches(ds, a->p, a->run_started, a->rows, a->nrows, a->maps_dir);
    return rc;
}

int mw_postgis_write(const mw_pipeline *p, const char *run_started, const mw_indicator_row *rows,
                     size_t nrows, const char *maps_dir)
{
    const run_rows a = {p, run_started, rows, nrows, maps_dir};
    return in_transaction(p->pg_connection, p->pg_schema, "outputs.postgis", write_run, &a);
}

typedef struct graph_rows {
    const char *gpkg, *graph, *period, *run_started;
} graph_rows;

/* The graph GeoPackage's nodes (points) and flows (lines) with the graph's name and period: a
 * re-run of the same graph and period replaces its rows. */
static int write_graph(GDALDatasetH ds, const void *arg)
{
    const graph_rows *a = arg;
    GDALDatasetH src = GDALOpenEx(a->gpkg, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!src) return mw_error_from_gdal(MW_ERR_IO, "cannot read '%s'", a->gpkg);
    static const char *const names[] = {"graph", "period", "run_started_utc"};
    const char *values[] = {a->graph, a->period, a->run_started};
    char *g = mw_text_sql_literal(a->graph), *per = mw_text_sql_literal(a->period);
    char *where = g && per ? mw_text_format("graph = %s AND period = %s", g, per) : NULL;
    static const struct {
        const char *layer, *table;
        OGRwkbGeometryType type;
    } layers[] = {{"graph_nodes", "supply_graph_nodes", wkbPoint},
                  {"graph_edges", "supply_graph_edges", wkbLineString}};
    int rc = where ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        OGRLayerH sl = GDALDatasetGetLayerByName(src, layers[i].layer);
        if (!sl)
            rc = mw_error_set(MW_ERR_IO, "'%s' has no layer %s", a->gpkg, layers[i].layer);
        else if (!ensure_keyed_layer(ds, layers[i].table, layers[i].type, names, 2) ||
                 delete_where(ds, layers[i].table, where))
            rc = -1;
        else
            rc = copy_layer(ds, sl, layers[i].table, layers[i].type, names, values, 3);
    }
    GDALClose(src);
    free(g), free(per), free(where);
    return rc;
}

int mw_postgis_write_graph(const char *connection, const char *schema, const char *graph_gpkg,
                           const char *graph_name, const char *period, const char *run_started)
{
    const graph_rows a = {graph_gpkg, graph_name, period, run_started};
    return in_transaction(connection, schema, "--postgis", write_graph, &a);
}
