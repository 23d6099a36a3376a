#include "minewatch/lonlat.h"

#include <math.h>
#include <stdlib.h>

#include <cpl_string.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

typedef struct lons {
    double *v;
    size_t n, cap;
    double s, n_lat; /* south and north */
} lons;

static void collect(OGRGeometryH g, lons *l)
{
    int parts = OGR_G_GetGeometryCount(g);
    if (parts > 0) {
        for (int i = 0; i < parts; i++)
            collect(OGR_G_GetGeometryRef(g, i), l);
        return;
    }
    int n = OGR_G_GetPointCount(g);
    for (int i = 0; i < n; i++) {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            double *nv = realloc(l->v, l->cap * sizeof *nv);
            if (!nv) return;
            l->v = nv;
        }
        l->v[l->n++] = OGR_G_GetX(g, i);
        double y = OGR_G_GetY(g, i);
        if (y < l->s) l->s = y;
        if (y > l->n_lat) l->n_lat = y;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void mw_lonlat_bbox(OGRGeometryH geometry, double bbox[4])
{
    lons l = {NULL, 0, 0, 1e9, -1e9};
    collect(geometry, &l);
    if (l.n == 0) {
        bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
        free(l.v);
        return;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp);
    /* The box is the circle of longitudes minus its largest empty gap. */
    double gap = l.v[0] + 360.0 - l.v[l.n - 1];
    double west = l.v[0], east = l.v[l.n - 1];
    for (size_t i = 0; i + 1 < l.n; i++)
        if (l.v[i + 1] - l.v[i] > gap) {
            gap = l.v[i + 1] - l.v[i];
            west = l.v[i + 1];
            east = l.v[i];
        }
    bbox[0] = west;
    bbox[1] = l.s;
    bbox[2] = east;
    bbox[3] = l.n_lat;
    free(l.v);
}

int mw_lonlat_bbox_overlap(const double a[4], const double b[4])
{
    if (a[1] > b[3] || b[1] > a[3]) return 0;
    double aw = a[0], ae = a[2] < a[0] ? a[2] + 360 : a[2];
    double bw = b[0], be = b[2] < b[0] ? b[2] + 360 : b[2];
    for (int k = -1; k <= 1; k++)
        if (aw <= be + 360.0 * k && bw + 360.0 * k <= ae) return 1;
    return 0;
}

OGRSpatialReferenceH mw_lonlat_srs(void)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (s && OSRImportFromEPSG(s, 4326) != OGRERR_NONE) {
        OSRDestroySpatialReference(s);
        return NULL;
    }
    if (s) OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

OGRGeometryH mw_lonlat_from_projected(OGRGeometryH geometry, int epsg)
{
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL), wgs = mw_lonlat_srs();
    OSRImportFromEPSG(src, epsg);
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, wgs);
    char **opts = CSLSetNameValue(NULL, "WRAPDATELINE", "YES");
    OGRGeomTransformerH t = ct ? OGR_GeomTransformer_Create(ct, opts) : NULL;
    OGRGeometryH out = t ? OGR_GeomTransformer_Transform(t, geometry) : NULL;
    if (t) OGR_GeomTransformer_Destroy(t);
    CSLDestroy(opts);
    if (ct) OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(src);
    OSRDestroySpatialReference(wgs);
    return out;
}

static void shift_west(OGRGeometryH g, double west)
{
    int parts = OGR_G_GetGeometryCount(g);
    for (int i = 0; i < parts; i++)
        shift_west(OGR_G_GetGeometryRef(g, i), west);
    int n = parts > 0 ? 0 : OGR_G_GetPointCount(g);
    for (int i = 0; i < n; i++)
        if (OGR_G_GetX(g, i) < west)
            OGR_G_SetPoint_2D(g, i, OGR_G_GetX(g, i) + 360.0, OGR_G_GetY(g, i));
}

void mw_lonlat_centroid(OGRGeometryH geometry, double *lon, double *lat)
{
    double bb[4];
    mw_lonlat_bbox(geometry, bb);
    OGRGeometryH g = OGR_G_Clone(geometry);
    if (bb[0] > bb[2]) shift_west(g, bb[0]); /* make it continuous east of its west edge */
    OGRGeometryH c = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_Centroid(g, c);
    double x = OGR_G_GetX(c, 0);
    *lon = x > 180 ? x - 360 : x;
    *lat = OGR_G_GetY(c, 0);
    OGR_G_DestroyGeometry(c);
    OGR_G_DestroyGeometry(g);
}

/* Area from the equator to latitude phi per radian of longitude, over b^2 (Snyder 1987, eq.
 * 3-12 with the authalic latitude; exact on the ellipsoid). */
static double band_area(double phi, double e)
{
    double s = sin(phi), es = e * s;
    return s / (2.0 * (1.0 - es * es)) + log((1.0 + es) / (1.0 - es)) / (4.0 * e);
}

double mw_ellipsoid_cell_area_m2(double lat0, double lat1, double dlon)
{
    const double a = 6378137.0, f = 1.0 / 298.257223563; /* WGS 84 */
    const double b = a * (1.0 - f), e = sqrt(f * (2.0 - f)), rad = 3.14159265358979323846 / 180.0;
    return fabs(dlon * rad) * b * b * fabs(band_area(lat1 * rad, e) - band_area(lat0 * rad, e));
}
