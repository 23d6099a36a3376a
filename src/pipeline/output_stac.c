/* The run's outputs as a self-contained STAC catalogue: one collection, one item per site and
 * period. Spec: STAC 1.0.0 (radiantearth/stac-spec), projection extension v1.1.0, raster
 * extension v1.1.0, classification extension v1.0.0 (class maps' values, names and colours). */
#include "pipeline/output_stac.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_api.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "minewatch/error.h"

#define STAC_VERSION "1.0.0"
#define EXT_PROJ "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
#define EXT_RASTER "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
#define EXT_CLASS "https://stac-extensions.github.io/classification/v1.0.0/schema.json"
#define TIFF_TYPE "image/tiff; application=geotiff"

/* The maps of a period (per_period) or of the site, with their roles and meaning: one table. */
static const struct map_kind {
    const char *what; /* file stem after the site id */
    int per_period;
    const char *roles; /* space-separated */
    const char *title;
    const char *ext; /* ".tif" or ".gpkg" */
} map_kinds[] = {
    {"composite", 1, "data reflectance", "surface reflectance composite (6 bands)", ".tif"},
    {"ndvi", 1, "data", "NDVI of the composite", ".tif"},
    {"cover", 1, "data", "land-cover classes (names and colours in classification:classes)",
     ".tif"},
    {"clear_obs", 1, "metadata", "clear observations per pixel", ".tif"},
    {"dnbr", 1, "data", "dNBR against the baseline", ".tif"},
    {"change", 1, "data", "generic change against the baseline (1 change, 0 none)", ".tif"},
    {"veg_cleared", 1, "data", "vegetation cleared since the baseline (1 cleared, 0 not)", ".tif"},
    {"date", 1, "metadata", "date each pixel took (YYYYMMDD)", ".tif"},
    {"forest_loss", 0, "data", "first monitoring period with forest loss", ".tif"},
    {"ndvi_trend", 0, "data", "NDVI trend per pixel (slope per year, Mann-Kendall p)", ".tif"},
    {"loss_patches", 0, "data", "forest-loss patches", ".gpkg"},
};

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *stac_type(GDALDataType t)
{
    switch (t) {
    case GDT_Byte:
        return "uint8";
    case GDT_UInt16:
        return "uint16";
    case GDT_Int16:
        return "int16";
    case GDT_UInt32:
        return "uint32";
    case GDT_Int32:
        return "int32";
    case GDT_Float32:
        return "float32";
    case GDT_Float64:
        return "float64";
    default:
        return "other";
    }
}

/* classification:classes of a class map's band, from its CLASS_<value> names and colour table;
 * NULL for a band without classes. */
static json_t *band_classes(GDALRasterBandH h)
{
    GDALColorTableH ct = GDALGetRasterColorTable(h);
    json_t *classes = NULL;
    for (int v = 0; ct && v < GDALGetColorEntryCount(ct) && v < 255; v++) {
        char key[32];
        snprintf(key, sizeof key, "CLASS_%d", v);
        const char *name = GDALGetMetadataItem(h, key, NULL);
        if (!name) continue;
        const GDALColorEntry *e = GDALGetColorEntry(ct, v);
        char hint[8];
        snprintf(hint, sizeof hint, "%02X%02X%02X", e->c1 & 255, e->c2 & 255, e->c3 & 255);
        if (!classes) classes = json_array();
        json_array_append_new(classes, json_pack("{s:i,s:s,s:s,s:s}", "value", v, "name", name,
                                                 "description", name, "color_hint", hint));
    }
    return classes;
}

/* raster:bands from the file itself: data type, no data, unit, the band's description as its
 * name, and a class map's classes. */
static json_t *raster_bands(const char *path)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return NULL;
    json_t *bands = json_array();
    for (int b = 1; b <= GDALGetRasterCount(ds); b++) {
        GDALRasterBandH h = GDALGetRasterBand(ds, b);
        int has = 0;
        double nd = GDALGetRasterNoDataValue(h, &has);
        json_t *jb = json_pack("{s:s,s:s}", "data_type", stac_type(GDALGetRasterDataType(h)),
                               "name", GDALGetDescription(h));
        if (has)
            json_object_set_new(jb, "nodata",
                                isnan(nd) ? json_string("nan") : json_real(nd)); /* spec: "nan" */
        const char *unit = GDALGetRasterUnitType(h);
        if (unit && *unit) json_object_set_new(jb, "unit", json_string(unit));
        json_t *classes = band_classes(h);
        if (classes) json_object_set_new(jb, "classification:classes", classes);
        json_array_append_new(bands, jb);
    }
    GDALClose(ds);
    return bands;
}

static json_t *roles_of(const char *s)
{
    json_t *a = json_array();
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_array_append_new(a, json_string(t));
    return a;
}

static int write_json(json_t *j, const char *path)
{
    char *tmp = mw_part_path(path);
    int rc = tmp && json_dump_file(
                        j, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) == 0
                 ? mw_commit_path(tmp, path)
                 : mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    if (rc && tmp) mw_remove_tree(tmp);
    free(tmp);
    return rc;
}

/* The site's geometry (WKT in WGS 84) as GeoJSON, and its bounding box. */
static json_t *geometry_of(const char *wkt, double bbox[4])
{
    OGRGeometryH g = NULL;
    char *w = (char *)wkt;
    if (!wkt || OGR_G_CreateFromWkt(&w, NULL, &g) != OGRERR_NONE) return NULL;
    OGREnvelope e;
    OGR_G_GetEnvelope(g, &e);
    bbox[0] = e.MinX, bbox[1] = e.MinY, bbox[2] = e.MaxX, bbox[3] = e.MaxY;
    char *gj = OGR_G_ExportToJson(g);
    json_t *j = gj ? json_loads(gj, 0, NULL) : NULL;
    CPLFree(gj);
    OGR_G_DestroyGeometry(g);
    return j;
}

int mw_output_stac_write(const char *stac_dir, const char *maps_dir, const char *maps_rel,
                         const json_t *prov, const mw_pipeline *p, const mw_indicator_row *rows,
                         size_t nrows)
{
    if (mw_make_dirs(stac_dir)) return -1;
    int rc = 0;
    json_t *links = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "rel", "root", "href",
                              "./collection.json", "type", "application/json", "rel", "self",
                              "href", "./collection.json", "type", "application/json");
    double ext[4] = {180, 90, -180, -90};
    char first[11] = "", last[11] = "";
    size_t si;
    json_t *ps;
    json_array_foreach(json_object_get(prov, "sites"), si, ps)
    {
        if (rc) break;
        const char *site = json_string_value(json_object_get(ps, "id"));
        const json_t *grid = json_object_get(ps, "grid");
        const double x0 = json_number_value(json_object_get(grid, "x0")),
                     y0 = json_number_value(json_object_get(grid, "y0")),
                     res = json_number_value(json_object_get(grid, "pixel_size_m"));
        for (size_t r = 0; r < nrows && rc == 0; r++) {
            const mw_indicator_row *row = &rows[r];
            if (strcmp(row->site_id, site)) continue;
            char id[256], sd[11], ed[11], start[32], end[32];
            snprintf(id, sizeof id, "%s_%s", site, row->period);
            mw_day_format(row->period_start, sd), mw_day_format(row->period_end, ed);
            snprintf(start, sizeof start, "%sT00:00:00Z", sd);
            snprintf(end, sizeof end, "%sT23:59:59Z", ed);
            if (!*first || strcmp(sd, first) < 0) snprintf(first, sizeof first, "%s", sd);
            if (!*last || strcmp(ed, last) > 0) snprintf(last, sizeof last, "%s", ed);
            double bbox[4];
            json_t *geom = geometry_of(row->wkt_wgs84, bbox);
            if (!geom) continue; /* a site without geometry has no place in a catalogue */
            for (int k = 0; k < 2; k++)
                ext[k] = fmin(ext[k], bbox[k]), ext[k + 2] = fmax(ext[k + 2], bbox[k + 2]);
            json_t *props = json_pack(
                "{s:n,s:s,s:s,s:s,s:s,s:I,s:[i,i],s:[f,f,f,f,f,f]}", "datetime", "start_datetime",
                start, "end_datetime", end, "minewatch:site_id", site, "minewatch:period",
                row->period, "proj:epsg", json_integer_value(json_object_get(grid, "epsg")),
                "proj:shape", (int)json_integer_value(json_object_get(grid, "height")),
                (int)json_integer_value(json_object_get(grid, "width")), "proj:transform", res, 0.0,
                x0, 0.0, -res, y0);
            /* the indicators as properties: what a client filters and sorts by */
            for (int c = 0; c < mw_indicator_ncolumns; c++) {
                const mw_indicator_column *col = &mw_indicator_columns[c];
                const char *base = (const char *)row + col->offset;
                char key[96];
                snprintf(key, sizeof key, "minewatch:%s", col->name);
                if (col->type == MW_COL_REAL && isfinite(*(const double *)base)) {
                    char v[64]; /* rounded as the CSV and the GeoPackage carry it */
                    mw_indicator_format(col, row, v, sizeof v);
                    json_object_set_new(props, key, json_real(atof(v)));
                } else if (col->type == MW_COL_INT)
                    json_object_set_new(props, key, json_integer(*(const long *)base));
            }
            json_t *assets = json_object();
            for (size_t m = 0; m < sizeof map_kinds / sizeof map_kinds[0]; m++) {
                const struct map_kind *mk = &map_kinds[m];
                if (!mk->per_period && strcmp(row->period, p->periods[p->n_periods - 1].name))
                    continue; /* the site's own maps hang on its last period's item */
                char name[256];
                snprintf(name, sizeof name, "%s_%s%s%s%s", site, mk->what,
                         mk->per_period ? "_" : "", mk->per_period ? row->period : "", mk->ext);
                char *path = mw_text_path(maps_dir, name);
                if (!path || !exists(path)) {
                    free(path);
                    continue;
                }
                char href[512];
                snprintf(href, sizeof href, "%s/%s", maps_rel, name);
                const int tif = !strcmp(mk->ext, ".tif");
                json_t *a = json_pack("{s:s,s:s,s:s,s:o}", "href", href, "type",
                                      tif ? TIFF_TYPE : "application/geopackage+sqlite3", "title",
                                      mk->title, "roles", roles_of(mk->roles));
                if (tif) {
                    json_t *rb = raster_bands(path);
                    if (rb) json_object_set_new(a, "raster:bands", rb);
                }
                json_object_set_new(assets, mk->what, a);
                free(path);
            }
            json_t *item = json_pack(
                "{s:s,s:s,s:[s,s,s],s:s,s:o,s:[f,f,f,f],s:o,s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,"
                "s:s,s:s}],s:o,s:s}",
                "type", "Feature", "stac_version", STAC_VERSION, "stac_extensions", EXT_PROJ,
                EXT_RASTER, EXT_CLASS, "id", id, "geometry", geom, "bbox", bbox[0], bbox[1],
                bbox[2], bbox[3], "properties", props, "links", "rel", "root", "href",
                "./collection.json", "type", "application/json", "rel", "parent", "href",
                "./collection.json", "type", "application/json", "rel", "collection", "href",
                "./collection.json", "type", "application/json", "assets", assets, "collection",
                p->name);
            char fname[300];
            snprintf(fname, sizeof fname, "%s.json", id);
            char *ip = mw_text_path(stac_dir, fname);
            rc = ip ? write_json(item, ip) : mw_error_set(MW_ERR_NOMEM, "out of memory");
            free(ip);
            json_decref(item);
            char href[320];
            snprintf(href, sizeof href, "./%s", fname);
            json_array_append_new(links, json_pack("{s:s,s:s,s:s}", "rel", "item", "href", href,
                                                   "type", "application/geo+json"));
        }
    }
    if (rc == 0) {
        char t0[32], t1[32];
        snprintf(t0, sizeof t0, "%sT00:00:00Z", first);
        snprintf(t1, sizeof t1, "%sT23:59:59Z", last);
        json_t *col = json_pack(
            "{s:s,s:s,s:[s,s],s:s,s:s,s:s,s:{s:{s:[[f,f,f,f]]},s:{s:[[s,s]]}},s:o}", "type",
            "Collection", "stac_version", STAC_VERSION, "stac_extensions", EXT_PROJ, EXT_RASTER,
            "id", p->name, "description",
            "minewatch outputs: per site and period, the maps and indicators of a run (see "
            "provenance.json beside this folder)",
            "license", "other", "extent", "spatial", "bbox", ext[0], ext[1], ext[2], ext[3],
            "temporal", "interval", t0, t1, "links", links);
        links = NULL;
        char *cp = mw_text_path(stac_dir, "collection.json");
        rc = cp ? write_json(col, cp) : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(cp);
        json_decref(col);
    }
    json_decref(links);
    return rc;
}
