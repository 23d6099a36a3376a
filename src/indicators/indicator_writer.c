#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "io/gpkg_file.h"
#include "io/qgis_styles.h"
#include "minewatch/error.h"
#include "minewatch/indicator.h"
#include "minewatch/lonlat.h"

static int write_csv(const char *path, const mw_indicator_row *rows, size_t n, int change_only)
{
    char *tmp = mw_part_path(path);
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    if (!f) {
        free(tmp);
        return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    }
    int first = 1;
    for (int c = 0; c < mw_indicator_ncolumns; c++) {
        if (change_only && mw_indicator_columns[c].stage == MW_STAGE_COMPOSITE) continue;
        fprintf(f, "%s%s", first ? "" : ",", mw_indicator_columns[c].name);
        first = 0;
    }
    fputc('\n', f);
    char buf[512];
    for (size_t r = 0; r < n; r++) {
        first = 1;
        for (int c = 0; c < mw_indicator_ncolumns; c++) {
            if (change_only && mw_indicator_columns[c].stage == MW_STAGE_COMPOSITE) continue;
            if (!first) fputc(',', f);
            first = 0;
            const mw_indicator_column *col = &mw_indicator_columns[c];
            if (col->type == MW_COL_TEXT) { /* whole, never cut to a buffer */
                const char *t = *(const char *const *)((const char *)&rows[r] + col->offset);
                mw_csv_cell(f, t ? t : "", 1);
                continue;
            }
            mw_indicator_format(col, &rows[r], buf, sizeof buf);
            mw_csv_cell(f, buf, 0);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    int rc = bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", tmp) : mw_commit_path(tmp, path);
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

int mw_indicators_write_csv(const char *path, const mw_indicator_row *rows, size_t n)
{
    return write_csv(path, rows, n, 0);
}

int mw_indicators_write_csv_change(const char *path, const mw_indicator_row *rows, size_t n)
{
    return write_csv(path, rows, n, 1);
}

void mw_indicator_feature_fill(OGRFeatureH feature, const mw_indicator_row *r)
{
    OGRFeatureH f = feature;
    for (int c = 0; c < mw_indicator_ncolumns; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        const int i = OGR_F_GetFieldIndex(f, col->name);
        const char *base = (const char *)r + col->offset;
        if (i < 0) continue;
        if (col->type == MW_COL_TEXT) {
            const char *t = *(const char *const *)base;
            OGR_F_SetFieldString(f, i, t ? t : "");
        } else if (col->type == MW_COL_DATE) {
            int y, m, d;
            mw_day_to_ymd(*(const mw_day *)base, &y, &m, &d);
            OGR_F_SetFieldDateTime(f, i, y, m, d, 0, 0, 0, 0);
        } else if (col->type == MW_COL_INT) {
            OGR_F_SetFieldInteger64(f, i, *(const long *)base);
        } else if (isfinite(*(const double *)base)) {
            /* Same rounding as the CSV, so every output carries the same numbers. */
            char buf[64];
            mw_indicator_format(col, r, buf, sizeof buf);
            OGR_F_SetFieldDouble(f, i, atof(buf));
        } else {
            OGR_F_SetFieldNull(f, i);
        }
    }
    OGRGeometryH g = NULL;
    if (r->wkt_wgs84 &&
        OGR_G_CreateFromWkt((char **)&(const char *){r->wkt_wgs84}, NULL, &g) == OGRERR_NONE)
        OGR_F_SetGeometryDirectly(f, OGR_G_ForceToMultiPolygon(g));
}

int mw_indicators_write_gpkg(const char *path, const mw_indicator_row *rows, size_t n)
{
    char *mem = NULL;
    GDALDatasetH ds = mw_gpkg_begin(path, &mem);
    if (!ds) return -1;
    OGRSpatialReferenceH wgs = mw_lonlat_srs();
    char **lco = CSLSetNameValue(NULL, "DESCRIPTION", "minewatch per-site, per-period indicators");
    OGRLayerH lyr = GDALDatasetCreateLayer(ds, "site_indicators", wgs, wkbMultiPolygon, lco);
    CSLDestroy(lco);
    OSRDestroySpatialReference(wgs);
    int rc = lyr ? 0 : mw_error_from_gdal(MW_ERR_IO, "cannot create layer in '%s'", path);
    for (int c = 0; c < mw_indicator_ncolumns && rc == 0; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        OGRFieldType t = col->type == MW_COL_TEXT   ? OFTString
                         : col->type == MW_COL_DATE ? OFTDate
                         : col->type == MW_COL_INT  ? OFTInteger64
                                                    : OFTReal;
        OGRFieldDefnH fd = OGR_Fld_Create(col->name, t);
        if (OGR_L_CreateField(lyr, fd, TRUE) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot add field '%s' to '%s'", col->name, path);
        OGR_Fld_Destroy(fd);
    }
    /* each column's unit and meaning for GIS tools (the GeoPackage schema extension), and a
     * QGIS style, before the rows (the statements need no open transaction) */
    const char *names[128], *titles[128], *descs[128];
    char *owned[128];
    int nc = 0;
    for (int c = 0; c < mw_indicator_ncolumns && c < 128; c++, nc++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        names[c] = col->name;
        owned[c] = *col->unit ? mw_text_format("%s (%s)", col->name, col->unit) : NULL;
        titles[c] = owned[c] ? owned[c] : col->name;
        descs[c] = col->description;
    }
    if (rc == 0)
        rc = mw_gpkg_describe_columns(ds, "site_indicators", (size_t)nc, names, titles, descs);
    if (rc == 0)
        rc = mw_gpkg_add_style(ds, "site_indicators", "geom", "minewatch forest loss",
                               mw_qml_site_indicators,
                               "site outlines filled by forest_loss_ha (four classes)");
    for (int c = 0; c < nc; c++)
        free(owned[c]);
    if (rc == 0 && OGR_L_StartTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    for (size_t r = 0; r < n && rc == 0; r++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(lyr));
        mw_indicator_feature_fill(f, &rows[r]);
        if (OGR_L_CreateFeature(lyr, f) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot write a feature to '%s'", path);
        OGR_F_Destroy(f);
    }
    if (rc == 0 && OGR_L_CommitTransaction(lyr) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    return mw_gpkg_finish(ds, mem, path, rc == 0);
}
