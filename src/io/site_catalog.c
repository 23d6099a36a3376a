#include "minewatch/site.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/name_check.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/lonlat.h"

static const char *field_str(OGRFeatureH f, OGRFeatureDefnH defn, const char *name)
{
    int i = OGR_FD_GetFieldIndex(defn, name);
    if (i < 0 || !OGR_F_IsFieldSetAndNotNull(f, i)) return NULL;
    return OGR_F_GetFieldAsString(f, i);
}

static void site_free(mw_site *s)
{
    free(s->id);
    free(s->name);
    free(s->kind);
    free(s->commodities);
    free(s->country);
    free(s->operator_name);
    free(s->supply_node);
    free(s->source);
    free(s->wkt_wgs84);
}

void mw_site_catalog_free(mw_site_catalog *cat)
{
    if (!cat) return;
    for (size_t i = 0; i < cat->n; i++)
        site_free(&cat->sites[i]);
    free(cat->sites);
    free(cat->path);
    memset(cat, 0, sizeof *cat);
}

static OGRSpatialReferenceH srs_epsg(int epsg)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (OSRImportFromEPSG(s, epsg) != OGRERR_NONE) {
        OSRDestroySpatialReference(s);
        return NULL;
    }
    OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

/* A site is mapped on one UTM grid: a zone is 6 degrees wide. */
#define MAX_SITE_TEXT 4096 /* bytes of a name, operator, source...: a label, not a document */
#define MAX_SITE_SPAN_DEG 6.0

/* Every vertex within the lon/lat ranges; bb gets the bounding box (antimeridian-aware), or the
 * first bad vertex in bb[0..1]. */
static int vertices_ok(OGRGeometryH g, double bad[2])
{
    int parts = OGR_G_GetGeometryCount(g);
    for (int i = 0; i < parts; i++)
        if (!vertices_ok(OGR_G_GetGeometryRef(g, i), bad)) return 0;
    int n = parts > 0 ? 0 : OGR_G_GetPointCount(g);
    for (int i = 0; i < n; i++) {
        double x = OGR_G_GetX(g, i), y = OGR_G_GetY(g, i);
        if (!(fabs(x) <= 180 && fabs(y) <= 90)) {
            bad[0] = x, bad[1] = y;
            return 0;
        }
    }
    return 1;
}

static int coordinates_ok(OGRGeometryH g, double bb[4])
{
    if (!vertices_ok(g, bb)) return 0;
    mw_lonlat_bbox(g, bb);
    return 1;
}

static int load_feature(const char *path, long fidx, OGRFeatureH f, OGRFeatureDefnH defn,
                        OGRCoordinateTransformationH to_wgs84, mw_site *s)
{
    const char *id = field_str(f, defn, "id");
    if (!id || !*id)
        return mw_error_set(
            MW_ERR_INPUT, "%s: feature %ld has no 'id'; every site needs a unique id", path, fidx);
    /* Ids name the site's maps and datacube folder: a catalogue must not choose where files go. */
    if (mw_name_check(id, "site id")) return mw_error_prefix("%s: feature %ld", path, fidx);
    static const char *const text_fields[] = {"name",     "kind",        "commodities", "country",
                                              "operator", "supply_node", "source",      NULL};
    for (const char *const *tf = text_fields; *tf; tf++) {
        const char *v = field_str(f, defn, *tf);
        if (v && strlen(v) > MAX_SITE_TEXT)
            return mw_error_set(MW_ERR_INPUT,
                                "%s: site '%s': its '%s' is %zu bytes long; at most %d are "
                                "taken. Shorten it",
                                path, id, *tf, strlen(v), MAX_SITE_TEXT);
    }
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    if (!g || OGR_G_IsEmpty(g))
        return mw_error_set(MW_ERR_INPUT, "%s: site '%s' has no geometry", path, id);
    OGRGeometryH gc = OGR_G_Clone(g);
    if (to_wgs84 && OGR_G_Transform(gc, to_wgs84) != OGRERR_NONE) {
        OGR_G_DestroyGeometry(gc);
        return mw_error_set(MW_ERR_INPUT, "%s: site '%s': cannot transform geometry to WGS 84",
                            path, id);
    }
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(gc));
    const char *rad = field_str(f, defn, "radius_m");
    double radius = rad ? atof(rad) : 0.0;
    if (t == wkbPoint) {
        if (!(radius > 0 && radius < 100000)) {
            OGR_G_DestroyGeometry(gc);
            return mw_error_set(MW_ERR_INPUT,
                                "%s: site '%s' is a point but has no valid 'radius_m' (metres, "
                                "0 < r < 100000); add one or give a polygon",
                                path, id);
        }
    } else if (t == wkbPolygon || t == wkbMultiPolygon) {
        radius = 0;
        if (!OGR_G_IsValid(gc)) {
            OGR_G_DestroyGeometry(gc);
            return mw_error_set(MW_ERR_INPUT,
                                "%s: site '%s' has an invalid polygon (self-intersecting or "
                                "unclosed ring); repair it, e.g. with ogr2ogr -makevalid",
                                path, id);
        }
    } else {
        OGR_G_DestroyGeometry(gc);
        return mw_error_set(MW_ERR_INPUT,
                            "%s: site '%s' has a %s geometry; use a polygon or a point with "
                            "radius_m",
                            path, id, OGRGeometryTypeToName(t));
    }
    double bb[4];
    if (!coordinates_ok(gc, bb)) {
        OGR_G_DestroyGeometry(gc);
        return mw_error_set(MW_ERR_INPUT,
                            "%s: site '%s' has a vertex outside longitude -180..180 or latitude "
                            "-90..90 (lon %.6g lat %.6g); are lon and lat swapped?",
                            path, id, bb[0], bb[1]);
    }
    const double span_lon = bb[2] >= bb[0] ? bb[2] - bb[0] : bb[2] + 360 - bb[0];
    if (span_lon > MAX_SITE_SPAN_DEG || bb[3] - bb[1] > MAX_SITE_SPAN_DEG) {
        OGR_G_DestroyGeometry(gc);
        return mw_error_set(MW_ERR_INPUT,
                            "%s: site '%s' spans %.2f degrees of longitude and %.2f of latitude; a "
                            "site is mapped on one UTM grid, which holds at most %.0f degrees: "
                            "split it into smaller sites",
                            path, id, span_lon, bb[3] - bb[1], MAX_SITE_SPAN_DEG);
    }
    mw_lonlat_centroid(gc, &s->lon, &s->lat);
    if (!(fabs(s->lat) <= 84 && fabs(s->lon) <= 180)) {
        OGR_G_DestroyGeometry(gc);
        return mw_error_set(MW_ERR_INPUT,
                            "%s: site '%s' lies at lon %.4f lat %.4f, outside the UTM range "
                            "(|lat| <= 84); are lon and lat swapped?",
                            path, id, s->lon, s->lat);
    }
    char *wkt = NULL;
    OGR_G_ExportToWkt(gc, &wkt);
    OGR_G_DestroyGeometry(gc);
    s->wkt_wgs84 = mw_text_dup(wkt);
    CPLFree(wkt);
    s->radius_m = radius;
    s->id = mw_text_dup(id);
    s->name = mw_text_dup(field_str(f, defn, "name"));
    s->kind = mw_text_dup(field_str(f, defn, "kind"));
    s->commodities = mw_text_dup(field_str(f, defn, "commodities"));
    s->country = mw_text_dup(field_str(f, defn, "country"));
    s->operator_name = mw_text_dup(field_str(f, defn, "operator"));
    s->supply_node = mw_text_dup(field_str(f, defn, "supply_node"));
    s->source = mw_text_dup(field_str(f, defn, "source"));
    if (!s->id || !s->name || !s->kind || !s->commodities || !s->country || !s->operator_name ||
        !s->supply_node || !s->source || !s->wkt_wgs84)
        return mw_error_set(MW_ERR_NOMEM, "out of memory reading %s", path);
    return 0;
}

typedef struct id_at {
    const char *id;
    size_t at;
} id_at;

static int cmp_id_at(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Ids must be unique; sorted, so 100,000 sites take a moment, not a minute. */
static int check_unique(const char *path, const mw_site_catalog *cat)
{
    if (cat->n < 2) return 0;
    id_at *v = malloc(cat->n * sizeof *v);
    if (!v) return mw_error_set(MW_ERR_NOMEM, "out of memory reading %s", path);
    for (size_t i = 0; i < cat->n; i++)
        v[i] = (id_at){cat->sites[i].id, i};
    qsort(v, cat->n, sizeof *v, cmp_id_at);
    int rc = 0;
    for (size_t i = 1; i < cat->n && rc == 0; i++)
        if (strcmp(v[i].id, v[i - 1].id) == 0)
            rc = mw_error_set(MW_ERR_INPUT,
                              "%s: site id '%s' appears twice (features %zu and %zu); ids must "
                              "be unique",
                              path, v[i].id, v[i - 1].at, v[i].at);
    free(v);
    return rc;
}

int mw_site_catalog_load(const char *path, mw_site_catalog *out)
{
    memset(out, 0, sizeof *out);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return mw_error_from_gdal(MW_ERR_INPUT,
                                  "cannot open site catalogue '%s' as a vector file; check the "
                                  "path (GeoJSON, GeoPackage, Shapefile... are accepted)",
                                  path);
    if (GDALDatasetGetLayerCount(ds) < 1) {
        GDALClose(ds);
        return mw_error_set(MW_ERR_INPUT, "site catalogue '%s' has no layer", path);
    }
    OGRLayerH lyr = GDALDatasetGetLayer(ds, 0);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(lyr);
    if (OGR_FD_GetFieldIndex(defn, "id") < 0) {
        GDALClose(ds);
        return mw_error_set(MW_ERR_INPUT,
                            "site catalogue '%s' has no 'id' field; expected fields: id, name, "
                            "kind, commodities, country, operator, supply_node, source, radius_m",
                            path);
    }
    OGRSpatialReferenceH lsrs = OGR_L_GetSpatialRef(lyr);
    OGRSpatialReferenceH wgs = srs_epsg(4326);
    OGRCoordinateTransformationH ct = NULL;
    if (lsrs) {
        OGRSpatialReferenceH l2 = OSRClone(lsrs);
        OSRSetAxisMappingStrategy(l2, OAMS_TRADITIONAL_GIS_ORDER);
        if (!OSRIsSame(l2, wgs)) ct = OCTNewCoordinateTransformation(l2, wgs);
        OSRDestroySpatialReference(l2);
    }
    int rc = 0;
    size_t cap = 0;
    OGR_L_ResetReading(lyr);
    OGRFeatureH f;
    long fidx = 0;
    while ((f = OGR_L_GetNextFeature(lyr)) != NULL) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            mw_site *ns = realloc(out->sites, cap * sizeof *ns);
            if (!ns) {
                OGR_F_Destroy(f);
                rc = mw_error_set(MW_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            out->sites = ns;
        }
        mw_site *s = &out->sites[out->n];
        memset(s, 0, sizeof *s);
        rc = load_feature(path, fidx++, f, defn, ct, s);
        OGR_F_Destroy(f);
        out->n++;
        if (rc) break;
    }
    if (rc == 0) rc = check_unique(path, out);
    if (ct) OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs);
    GDALClose(ds);
    if (rc == 0 && out->n == 0)
        rc = mw_error_set(MW_ERR_INPUT, "site catalogue '%s' holds no sites", path);
    if (rc) {
        mw_site_catalog_free(out);
        return -1;
    }
    out->path = mw_text_dup(path);
    return 0;
}

const mw_site *mw_site_catalog_find(const mw_site_catalog *cat, const char *id)
{
    for (size_t i = 0; i < cat->n; i++)
        if (strcmp(cat->sites[i].id, id) == 0) return &cat->sites[i];
    return NULL;
}

int mw_site_utm_epsg(const mw_site *s)
{
    int zone = (int)floor((s->lon + 180.0) / 6.0) + 1;
    if (zone > 60) zone = 60;
    if (zone < 1) zone = 1;
    return (s->lat >= 0 ? 32600 : 32700) + zone;
}

OGRGeometryH mw_site_polygon(const mw_site *s, int epsg)
{
    OGRGeometryH g = NULL;
    if (OGR_G_CreateFromWkt((char **)&(const char *){s->wkt_wgs84}, NULL, &g) != OGRERR_NONE) {
        mw_error_set(MW_ERR_INTERNAL, "site '%s': cannot parse stored geometry", s->id);
        return NULL;
    }
    OGRSpatialReferenceH wgs = srs_epsg(4326), dst = srs_epsg(epsg);
    OGRCoordinateTransformationH ct =
        (wgs && dst) ? OCTNewCoordinateTransformation(wgs, dst) : NULL;
    int bad = !ct || OGR_G_Transform(g, ct) != OGRERR_NONE;
    if (ct) OCTDestroyCoordinateTransformation(ct);
    if (wgs) OSRDestroySpatialReference(wgs);
    if (dst) OSRDestroySpatialReference(dst);
    if (bad) {
        OGR_G_DestroyGeometry(g);
        mw_error_set(MW_ERR_INPUT, "site '%s': cannot project its geometry to EPSG:%d", s->id,
                     epsg);
        return NULL;
    }
    if (s->radius_m > 0) {
        /* 32 segments per quadrant: the polygon's area is within 0.04 % of the disc's. */
        OGRGeometryH disc = OGR_G_Buffer(g, s->radius_m, 32);
        OGR_G_DestroyGeometry(g);
        g = disc;
    }
    return g;
}

OGRGeometryH mw_site_polygon_wgs84(const mw_site *s, int utm_epsg)
{
    if (s->radius_m > 0) { /* the disc, split at the antimeridian if it crosses it */
        OGRGeometryH g = mw_site_polygon(s, utm_epsg);
        if (!g) return NULL;
        OGRGeometryH w = mw_lonlat_from_projected(g, utm_epsg);
        OGR_G_DestroyGeometry(g);
        return w;
    }
    OGRGeometryH g = NULL;
    OGR_G_CreateFromWkt((char **)&(const char *){s->wkt_wgs84}, NULL, &g);
    return g;
}
