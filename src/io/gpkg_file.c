#include "io/gpkg_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "io/gdal_sql.h"
#include "minewatch/error.h"

void *mw_gpkg_begin(const char *final_path, char **mem_path)
{
    static unsigned long counter;
    const unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    char name[96];
    snprintf(name, sizeof name, "/vsimem/mw_gpkg_%ld_%lu.gpkg", (long)getpid(), n);
    *mem_path = CPLStrdup(name);
    /* The same inputs give the same bytes: the GeoPackage's last_change stamps are fixed (to
     * SOURCE_DATE_EPOCH when set, the reproducible-builds convention), not the clock's. */
    char stamp[32] = "1970-01-01T00:00:00.000Z";
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        time_t t = (time_t)strtoll(sde, NULL, 10);
        struct tm tm;
        if (gmtime_r(&t, &tm)) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    }
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", stamp);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), name, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds) {
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
        mw_error_from_gdal(MW_ERR_IO, "cannot create '%s'", final_path);
        CPLFree(*mem_path);
        *mem_path = NULL;
    }
    return ds;
}

int mw_gpkg_finish(void *ds, char *mem_path, const char *final_path, int ok)
{
    int rc = ok ? 0 : -1;
    if (ds && mw_gdal_close_written(ds, final_path) && rc == 0) rc = -1;
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    char *tmp = rc == 0 ? mw_part_path(final_path) : NULL;
    if (rc == 0 && !tmp) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        CPLErrorReset();
        if (CPLCopyFile(tmp, mem_path) != 0)
            rc = mw_error_from_gdal(MW_ERR_IO, "writing '%s' failed (disk full?)", final_path);
    }
    if (rc == 0) rc = mw_commit_path(tmp, final_path);
    if (rc && tmp) mw_remove_tree(tmp);
    free(tmp);
    if (mem_path) VSIUnlink(mem_path);
    CPLFree(mem_path);
    return rc;
}

int mw_gpkg_describe_columns(void *ds, const char *table, size_t n, const char *const *columns,
                             const char *const *titles, const char *const *descriptions)
{
    int rc = mw_gdal_sql(ds,
                         "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, "
                         "column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, "
                         "mime_type TEXT, constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY "
                         "(table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))",
                         "GeoPackage statement failed");
    if (rc == 0)
        rc = mw_gdal_sql(ds,
                         "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints "
                         "(constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value "
                         "TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, "
                         "max_is_inclusive BOOLEAN, description TEXT, CONSTRAINT gdcc_ntv UNIQUE "
                         "(constraint_name, constraint_type, value))",
                         "GeoPackage statement failed");
    static const char *const ext[2] = {"gpkg_data_columns", "gpkg_data_column_constraints"};
    for (int e = 0; e < 2 && rc == 0; e++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, "
                 "definition, scope) SELECT '%s', NULL, 'gpkg_schema', "
                 "'http://www.geopackage.org/spec/#extension_schema', 'read-write' WHERE NOT "
                 "EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = '%s' AND "
                 "extension_name = 'gpkg_schema')",
                 ext[e], ext[e]);
        rc = mw_gdal_sql(ds, sql, "GeoPackage statement failed");
    }
    char *tt = mw_text_sql_literal(table);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *c = mw_text_sql_literal(columns[i]), *t = mw_text_sql_literal(titles[i]),
             *d = mw_text_sql_literal(descriptions[i]);
        char *sql = c && t && d ? mw_text_format("INSERT OR REPLACE INTO gpkg_data_columns "
                                                 "(table_name, column_name, name, title, "
                                                 "description) VALUES (%s, %s, %s, %s, %s)",
                                                 tt, c, c, t, d)
                                : NULL;
        rc = sql ? mw_gdal_sql(ds, sql, "GeoPackage statement failed")
                 : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(sql), free(c), free(t), free(d);
    }
    free(tt);
    return rc;
}

int mw_gpkg_add_style(void *ds, const char *table, const char *geometry_column, const char *name,
                      const char *qml, const char *description)
{
    int rc = mw_gdal_sql(ds,
                         "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256), "
                         "f_table_name TEXT(256), f_geometry_column TEXT(256), styleName "
                         "TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, "
                         "description TEXT, owner TEXT(30), ui TEXT, update_time DATETIME "
                         "DEFAULT CURRENT_TIMESTAMP)",
                         "GeoPackage statement failed");
    char *t = mw_text_sql_literal(table), *g = mw_text_sql_literal(geometry_column),
         *n = mw_text_sql_literal(name), *q = mw_text_sql_literal(qml),
         *d = mw_text_sql_literal(description);
    /* update_time fixed like the rest of the file: the same run gives the same bytes */
    char *sql = t && g && n && q && d
                    ? mw_text_format("INSERT INTO layer_styles (f_table_catalog, f_table_schema, "
                                     "f_table_name, f_geometry_column, styleName, styleQML, "
                                     "styleSLD, useAsDefault, description, owner, ui, "
                                     "update_time) VALUES ('', '', %s, %s, %s, %s, '', 1, %s, "
                                     "'minewatch', NULL, '1970-01-01T00:00:00Z')",
                                     t, g, n, q, d)
                    : NULL;
    if (rc == 0)
        rc = sql ? mw_gdal_sql(ds, sql, "GeoPackage statement failed")
                 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    free(sql), free(t), free(g), free(n), free(q), free(d);
    return rc;
}
