/* `minewatch treecover`: the reference forest figures of every polygon of an AOI (method in
 * minewatch/treecover.h). Polygons go in batches: their windows are read by one thread (only the
 * blocks under each polygon), then coverage and figures run in parallel, one polygon per thread,
 * and the rows are written in the AOI's order. Memory is set by the budget, not by the number of
 * polygons. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "io/gpkg_file.h"
#include "io/tile_mosaic.h"
#include "minewatch/error.h"
#include "minewatch/log.h"
#include "minewatch/lonlat.h"
#include "minewatch/polygon_coverage.h"
#include "minewatch/run_report.h"
#include "minewatch/treecover.h"
#include "minewatch/treecover_run.h"
#include "minewatch/version.h"
#include "pipeline/provenance.h"

#define BYTES_PER_PIXEL                                                                            \
    23                     /* treecover, lossyear, emissions, coverage, and the figures' scratch   \
                            */
#define CHUNK_POLYGONS 256 /* fetched together, then read and computed in parallel */

typedef struct polygon_job {
    char *site_id;
    OGRGeometryH geom; /* in the rasters' CRS */
    long long x0, y0;  /* window on the treecover grid */
    int w, h;
    uint8_t *treecover, *lossyear;
    float *emissions;
    char *error; /* set: no figures, this says why */
    mw_treecover_year *years;
} polygon_job;

typedef struct layers {
    mw_tile_layer *tc, *ly, *em;
    double gt[6];
    long long ly_dx, ly_dy, em_dx, em_dy; /* offsets of the other grids from treecover's */
    int geographic;
    double cell_m2; /* projected: a cell's area */
} layers;

static void job_free(polygon_job *j)
{
    free(j->site_id);
    if (j->geom) OGR_G_DestroyGeometry(j->geom);
    free(j->treecover), free(j->lossyear), free(j->emissions), free(j->error), free(j->years);
    memset(j, 0, sizeof *j);
}

static void job_fail(polygon_job *j, const char *msg)
{
    if (!j->error) j->error = mw_text_dup(msg);
}

/* Offset in whole pixels of grid b's origin from grid a's, or -1 when they are not one grid. */
static int grid_offset(const double a[6], const double b[6], long long *dx, long long *dy)
{
    if (fabs(a[1] - b[1]) > 1e-9 * fabs(a[1]) || fabs(a[5] - b[5]) > 1e-9 * fabs(a[5])) return -1;
    double fx = (a[0] - b[0]) / a[1], fy = (a[3] - b[3]) / a[5];
    if (fabs(fx - floor(fx + 0.5)) > 1e-6 || fabs(fy - floor(fy + 0.5)) > 1e-6) return -1;
    *dx = (long long)floor(fx + 0.5), *dy = (long long)floor(fy + 0.5);
    return 0;
}

static int same_crs(const char *a, const char *b)
{
    OGRSpatialReferenceH x = OSRNewSpatialReference(a), y = OSRNewSpatialReference(b);
    int same = x && y && OSRIsSame(x, y);
    if (x) OSRDestroySpatialReference(x);
    if (y) OSRDestroySpatialReference(y);
    return same;
}

static int check_layer(const layers *L, mw_tile_layer *other, const char *what, long long *dx,
                       long long *dy)
{
    double gt[6];
    const char *wkt, *tc_wkt;
    mw_tile_layer_grid(other, gt, &wkt);
    mw_tile_layer_grid(L->tc, (double[6]){0}, &tc_wkt);
    if (!same_crs(wkt, tc_wkt) || grid_offset(L->gt, gt, dx, dy))
        return mw_error_set(MW_ERR_INPUT,
                            "the %s raster '%s' is not on the treecover2000 grid of '%s' (pixel "
                            "%.10g x %.10g at %.10g, %.10g against %.10g x %.10g at %.10g, %.10g)"
                            "; minewatch does not resample Hansen layers (a per-pixel total or "
                            "year would be smeared): give layers of one grid",
                            what, mw_tile_layer_name(other), mw_tile_layer_name(L->tc), gt[1],
                            gt[5], gt[0], gt[3], L->gt[1], L->gt[5], L->gt[0], L->gt[3]);
    return 0;
}

/* The rings of a (multi)polygon in window pixel units; returns the ring count (0: not an
 * area), rings[] and their coordinates allocated. */
static size_t collect_rings(OGRGeometryH g, const double gt[6], double ox, double oy,
                            mw_ring **rings, size_t *nrings, size_t *cap)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbMultiPolygon || t == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            collect_rings(OGR_G_GetGeometryRef(g, i), gt, ox, oy, rings, nrings, cap);
        return *nrings;
    }
    if (t != wkbPolygon) return *nrings;
    for (int r = 0; r < OGR_G_GetGeometryCount(g); r++) {
        OGRGeometryH ring = OGR_G_GetGeometryRef(g, r);
        int n = OGR_G_GetPointCount(ring);
        if (n < 3) continue;
        double *xy = malloc(2 * (size_t)n * sizeof *xy);
        if (!xy) continue;
        for (int i = 0; i < n; i++) {
            xy[2 * i] = (OGR_G_GetX(ring, i) - gt[0]) / gt[1] - ox;
            xy[2 * i + 1] = (OGR_G_GetY(ring, i) - gt[3]) / gt[5] - oy;
        }
        if (*nrings == *cap) {
            size_t c = *cap ? 2 * *cap : 8;
            mw_ring *bigger = realloc(*rings, c * sizeof *bigger);
            if (!bigger) {
                free(xy);
                continue;
            }
            *rings = bigger, *cap = c;
        }
        (*rings)[(*nrings)++] = (mw_ring){xy, (size_t)n, r > 0};
    }
    return *nrings;
}

/* Coverage and figures of one read polygon (any thread). */
static void compute(const layers *L, const mw_treecover_params *p, const int have_emissions,
                    polygon_job *j)
{
    if (j->error) return;
    size_t n = (size_t)j->w * (size_t)j->h;
    float *cov = malloc(n * sizeof *cov);
    double *row_ha = malloc((size_t)j->h * sizeof *row_ha);
    mw_ring *rings = NULL;
    size_t nrings = 0, cap = 0;
    collect_rings(j->geom, L->gt, (double)j->x0, (double)j->y0, &rings, &nrings, &cap);
    if (!cov || !row_ha) {
        job_fail(j, "out of memory");
    } else if (mw_polygon_coverage(rings, nrings, j->w, j->h, cov)) {
        job_fail(j, mw_error_message());
    } else {
        for (int y = 0; y < j->h; y++) {
            double top = L->gt[3] + (double)(j->y0 + y) * L->gt[5];
            row_ha[y] = (L->geographic ? mw_ellipsoid_cell_area_m2(top, top + L->gt[5], L->gt[1])
                                       : L->cell_m2) /
                        1e4;
        }
        mw_treecover_window win = {
            j->w, j->h,  j->treecover, j->lossyear, have_emissions ? j->emissions : NULL,
            cov,  row_ha};
        mw_treecover_stats st;
        j->years = calloc((size_t)(p->year_to - p->year_from + 1), sizeof *j->years);
        if (!j->years)
            job_fail(j, "out of memory");
        else if (mw_treecover_figures(&win, p, j->years, &st))
            job_fail(j, mw_error_message());
        else if (st.pixels == 0)
            job_fail(j, "the polygon covers no pixel of the rasters' grid (empty or too thin)");
    }
    for (size_t r = 0; r < nrings; r++)
        free((void *)rings[r].xy);
    free(rings), free(cov), free(row_ha);
    /* the rasters are no longer needed: the batch's memory falls as polygons finish */
    free(j->treecover), free(j->lossyear), free(j->emissions);
    j->treecover = j->lossyear = NULL, j->emissions = NULL;
}

/* Window and pixels of one polygon (the reading thread). */
static void read_job(layers *L, size_t max_pixels, polygon_job *j)
{
    OGREnvelope e;
    OGR_G_GetEnvelope(j->geom, &e);
    double px0 = (e.MinX - L->gt[0]) / L->gt[1], px1 = (e.MaxX - L->gt[0]) / L->gt[1];
    double py0 = (e.MaxY - L->gt[3]) / L->gt[5], py1 = (e.MinY - L->gt[3]) / L->gt[5];
    if (!(isfinite(px0) && isfinite(px1) && isfinite(py0) && isfinite(py1))) {
        job_fail(j, "the polygon has no finite coordinates");
        return;
    }
    double fw = ceil(px1) - floor(px0), fh = ceil(py1) - floor(py0);
    if (fw < 1) fw = 1;
    if (fh < 1) fh = 1;
    if (fw * fh > (double)max_pixels) {
        char msg[320];
        snprintf(msg, sizeof msg,
                 "the polygon's window of %.0f x %.0f pixels needs %.0f MB, more than the memory "
                 "budget allows; give --mem %.0f or more, or split the polygon",
                 fw, fh, fw * fh * BYTES_PER_PIXEL / 1048576.0,
                 ceil(fw * fh * BYTES_PER_PIXEL * 2 / 1048576.0) + 64);
        job_fail(j, msg);
        return;
    }
    j->x0 = (long long)floor(px0), j->y0 = (long long)floor(py0);
    j->w = (int)fw, j->h = (int)fh;
    size_t n = (size_t)j->w * (size_t)j->h;
    j->treecover = malloc(n), j->lossyear = malloc(n);
    j->emissions = L->em ? malloc(n * sizeof *j->emissions) : NULL;
    if (!j->treecover || !j->lossyear || (L->em && !j->emissions)) {
        job_fail(j, "out of memory");
        return;
    }
    if (mw_tile_layer_read(L->tc, j->x0, j->y0, j->w, j->h, GDT_Byte, MW_GFC_NODATA,
                           j->treecover) ||
        mw_tile_layer_read(L->ly, j->x0 + L->ly_dx, j->y0 + L->ly_dy, j->w, j->h, GDT_Byte,
                           MW_GFC_NODATA, j->lossyear) ||
        (L->em && mw_tile_layer_read(L->em, j->x0 + L->em_dx, j->y0 + L->em_dy, j->w, j->h,
                                     GDT_Float32, NAN, j->emissions)))
        job_fail(j, mw_error_message());
}

static char *feature_id(OGRFeatureH f, int field)
{
    if (field >= 0 && OGR_F_IsFieldSetAndNotNull(f, field)) {
        const char *s = OGR_F_GetFieldAsString(f, field);
        if (s && *s) return mw_text_dup(s);
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)OGR_F_GetFID(f));
    return mw_text_dup(buf);
}

typedef struct writer {
    FILE *csv;
    GDALDatasetH gpkg;
    OGRLayerH layer;
    int bad;
} writer;

static void write_rows(writer *wr, const mw_treecover_params *p, const polygon_job *j,
                       int have_emissions)
{
    for (int y = p->year_from; y <= p->year_to; y++) {
        const mw_treecover_year *r = j->error ? NULL : &j->years[y - p->year_from];
        mw_csv_cell(wr->csv, j->site_id, 1);
        fprintf(wr->csv, ",%d,", y);
        if (r) {
            fprintf(wr->csv, "%.4f,%.4f,", r->treecover_ha, r->loss_ha);
            if (have_emissions && isfinite(r->emissions_mg_co2e))
                fprintf(wr->csv, "%.3f", r->emissions_mg_co2e);
        } else {
            fputs(",,", wr->csv);
        }
        fputc('\n', wr->csv);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(wr->layer));
        OGR_F_SetFieldString(f, 0, j->site_id);
        OGR_F_SetFieldInteger(f, 1, y);
        if (r) {
            OGR_F_SetFieldDouble(f, 2, r->treecover_ha);
            OGR_F_SetFieldDouble(f, 3, r->loss_ha);
            if (have_emissions && isfinite(r->emissions_mg_co2e))
                OGR_F_SetFieldDouble(f, 4, r->emissions_mg_co2e);
            else
                OGR_F_SetFieldNull(f, 4);
        } else {
            OGR_F_SetFieldNull(f, 2), OGR_F_SetFieldNull(f, 3), OGR_F_SetFieldNull(f, 4);
        }
        const char *note = j->error          ? j->error
                           : !have_emissions ? "no emissions layer given"
                           : isfinite(r->emissions_mg_co2e)
                               ? ""
                               : "emissions unknown at some lost pixels";
        if (*note)
            OGR_F_SetFieldString(f, 5, note);
        else
            OGR_F_SetFieldNull(f, 5);
        if (OGR_L_CreateFeature(wr->layer, f) != OGRERR_NONE) wr->bad = 1;
        OGR_F_Destroy(f);
    }
}

static OGRLayerH create_layer(GDALDatasetH ds)
{
    char **lo = CSLSetNameValue(NULL, "DESCRIPTION",
                                "Tree cover, loss and gross emissions per polygon and year by the "
                                "Global Forest Watch method (Hansen GFC, Harris et al. 2021)");
    OGRLayerH l = GDALDatasetCreateLayer(ds, "treecover", NULL, wkbNone, lo);
    CSLDestroy(lo);
    if (!l) return NULL;
    static const struct {
        const char *name;
        OGRFieldType type;
    } cols[] = {{"site_id", OFTString}, {"year", OFTInteger},           {"treecover_ha", OFTReal},
                {"loss_ha", OFTReal},   {"emissions_mg_co2e", OFTReal}, {"note", OFTString}};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(cols[i].name, cols[i].type);
        OGRErr err = OGR_L_CreateField(l, fd, 1);
        OGR_Fld_Destroy(fd);
        if (err != OGRERR_NONE) return NULL;
    }
    return l;
}

static json_t *inputs_json(const mw_treecover_options *o, const layers *L)
{
    json_t *in = json_object();
    const struct {
        const char *key;
        mw_tile_layer *l;
    } ls[] = {{"treecover2000", L->tc}, {"lossyear", L->ly}, {"emissions", L->em}};
    for (size_t i = 0; i < 3; i++) {
        if (!ls[i].l) {
            json_object_set_new(in, ls[i].key, json_null());
            continue;
        }
        const char *name = mw_tile_layer_name(ls[i].l);
        json_t *e =
            json_pack("{s:s,s:b}", "source", name, "tiles", mw_tile_layer_is_template(ls[i].l));
        if (!mw_tile_layer_is_template(ls[i].l) && !strstr(name, "://")) {
            char *sha = mw_sha256_file(name);
            json_object_set_new(e, "sha256", json_string(sha ? sha : ""));
            free(sha);
        }
        json_object_set_new(in, ls[i].key, e);
    }
    char *sha = mw_sha256_file(o->aoi);
    json_object_set_new(in, "aoi",
                        json_pack("{s:s,s:s}", "path", o->aoi, "sha256", sha ? sha : ""));
    free(sha);
    return in;
}

static int open_layers(const mw_treecover_options *o, double lon, double lat, layers *L)
{
    memset(L, 0, sizeof *L);
    L->tc = mw_tile_layer_open(o->treecover, "treecover2000", lon, lat);
    if (!L->tc) return -1;
    const char *wkt;
    mw_tile_layer_grid(L->tc, L->gt, &wkt);
    L->ly = mw_tile_layer_open(o->lossyear, "lossyear", lon, lat);
    if (!L->ly || check_layer(L, L->ly, "lossyear", &L->ly_dx, &L->ly_dy)) return -1;
    if (o->emissions) {
        L->em = mw_tile_layer_open(o->emissions, "emissions", lon, lat);
        if (!L->em || check_layer(L, L->em, "emissions", &L->em_dx, &L->em_dy)) return -1;
    }
    OGRSpatialReferenceH srs = OSRNewSpatialReference(wkt);
    L->geographic = srs && OSRIsGeographic(srs);
    L->cell_m2 = fabs(L->gt[1] * L->gt[5]) * (srs ? pow(OSRGetLinearUnits(srs, NULL), 2) : 1.0);
    if (srs) OSRDestroySpatialReference(srs);
    return 0;
}

static void close_layers(layers *L)
{
    mw_tile_layer_close(L->tc), mw_tile_layer_close(L->ly), mw_tile_layer_close(L->em);
}

/* A point of the AOI in lon/lat, to find the first tile of a tile set. */
static int first_lonlat(OGRLayerH layer, OGRCoordinateTransformationH to_ll, double *lon,
                        double *lat)
{
    OGR_L_ResetReading(layer);
    OGRFeatureH f;
    int found = 0;
    while (!found && (f = OGR_L_GetNextFeature(layer))) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (g && !OGR_G_IsEmpty(g)) {
            OGREnvelope e;
            OGR_G_GetEnvelope(g, &e);
            double x = 0.5 * (e.MinX + e.MaxX), y = 0.5 * (e.MinY + e.MaxY);
            if (!to_ll || OCTTransform(to_ll, 1, &x, &y, NULL)) *lon = x, *lat = y, found = 1;
        }
        OGR_F_Destroy(f);
    }
    OGR_L_ResetReading(layer);
    return found ? 0 : -1;
}

typedef struct order_item {
    GIntBig fid;
    size_t index; /* position in the AOI */
    long long key;
} order_item;

typedef struct polygon_result {
    char *site_id, *error;
    mw_treecover_year *years;
} polygon_result;

static int by_key(const void *a, const void *b)
{
    const order_item *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Every feature's id and a key that walks the rasters in 512-pixel cells, row by row, back and
 * forth; NULL on no memory. Without random reads the AOI's own order is kept. */
static order_item *spatial_order(OGRLayerH layer, OGRCoordinateTransformationH to_raster,
                                 const double gt[6], size_t *n_out)
{
    size_t n = 0, cap = 1024;
    order_item *v = malloc(cap * sizeof *v);
    const int random_read = OGR_L_TestCapability(layer, OLCRandomRead);
    OGR_L_ResetReading(layer);
    OGRFeatureH f;
    while (v && (f = OGR_L_GetNextFeature(layer)) != NULL) {
        if (n == cap) {
            order_item *bigger = realloc(v, (cap *= 2) * sizeof *v);
            if (!bigger) {
                free(v), v = NULL;
                OGR_F_Destroy(f);
                break;
            }
            v = bigger;
        }
        long long key = 0;
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (random_read && g && !OGR_G_IsEmpty(g)) {
            OGREnvelope e;
            OGR_G_GetEnvelope(g, &e);
            double x = 0.5 * (e.MinX + e.MaxX), y = 0.5 * (e.MinY + e.MaxY);
            if (!to_raster || OCTTransform(to_raster, 1, &x, &y, NULL)) {
                double cx = (x - gt[0]) / gt[1] / 512.0, cy = (y - gt[3]) / gt[5] / 512.0;
                if (isfinite(cx) && isfinite(cy) && fabs(cx) < 1e9 && fabs(cy) < 1e9) {
                    long long r = (long long)floor(cy), c = (long long)floor(cx);
                    key = r * 4000000000LL + (r % 2 ? -c : c);
                }
            }
        }
        v[n] = (order_item){OGR_F_GetFID(f), n, key};
        n++;
        OGR_F_Destroy(f);
    }
    if (v && random_read) qsort(v, n, sizeof *v, by_key);
    if (v && !random_read) /* read in order again: fetch_job takes the next feature */
        OGR_L_ResetReading(layer);
    *n_out = n;
    return v;
}

/* The job of one feature: its name, and its polygon in the rasters' CRS (or why not). */
static void fetch_job(OGRLayerH layer, const order_item *it, int id_field,
                      OGRCoordinateTransformationH to_raster, polygon_job *j)
{
    memset(j, 0, sizeof *j);
    OGRFeatureH f = OGR_L_TestCapability(layer, OLCRandomRead) ? OGR_L_GetFeature(layer, it->fid)
                                                               : OGR_L_GetNextFeature(layer);
    if (!f) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)it->fid);
        j->site_id = mw_text_dup(buf);
        job_fail(j, "the feature cannot be read again");
        return;
    }
    j->site_id = feature_id(f, id_field);
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    OGRwkbGeometryType t = g ? wkbFlatten(OGR_G_GetGeometryType(g)) : wkbUnknown;
    if (!g || OGR_G_IsEmpty(g)) {
        job_fail(j, "the feature has no geometry");
    } else if (t != wkbPolygon && t != wkbMultiPolygon && t != wkbCurvePolygon &&
               t != wkbMultiSurface) {
        job_fail(j, "the feature is not a polygon: tree cover is measured over areas");
    } else {
        j->geom = OGR_G_GetLinearGeometry(g, 0, NULL);
        if (!j->geom || (to_raster && OGR_G_Transform(j->geom, to_raster) != OGRERR_NONE))
            job_fail(j, "the polygon cannot be transformed to the rasters' CRS");
    }
    OGR_F_Destroy(f);
}

int mw_treecover_run(const mw_treecover_options *o, mw_run_report *rep, mw_treecover_result *res)
{
    memset(res, 0, sizeof *res);
    const mw_treecover_params *p = &o->params;
    GDALDatasetH aoi = GDALOpenEx(o->aoi, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!aoi)
        return mw_error_from_gdal(MW_ERR_INPUT, "cannot open the AOI '%s' as a vector file",
                                  o->aoi);
    OGRLayerH layer = GDALDatasetGetLayerCount(aoi) > 0 ? GDALDatasetGetLayer(aoi, 0) : NULL;
    if (!layer) {
        GDALClose(aoi);
        return mw_error_set(MW_ERR_INPUT, "the AOI '%s' has no layer", o->aoi);
    }
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    int id_field = OGR_FD_GetFieldIndex(defn, o->id_field ? o->id_field : "id");
    if (o->id_field && id_field < 0) {
        GDALClose(aoi);
        return mw_error_set(MW_ERR_INPUT, "the AOI '%s' has no field '%s' (--id-field)", o->aoi,
                            o->id_field);
    }
    /* AOI coordinates: to lon/lat (to find tiles), then to the rasters' CRS */
    OGRSpatialReferenceH aoi_srs = OGR_L_GetSpatialRef(layer), ll = mw_lonlat_srs();
    OGRCoordinateTransformationH to_ll =
        aoi_srs ? OCTNewCoordinateTransformation(aoi_srs, ll) : NULL;
    double lon = 0, lat = 0;
    layers L;
    int rc = -1;
    OGRSpatialReferenceH rsrs = NULL;
    OGRCoordinateTransformationH to_raster = NULL;
    mw_out_dir od = {0};
    int od_open = 0;
    writer wr = {0};
    char *csv_path = NULL, *gpkg_path = NULL, *gpkg_mem = NULL, *gpkg_final = NULL;
    json_t *prov = NULL, *failures = json_array();
    memset(&L, 0, sizeof L);
    if (first_lonlat(layer, to_ll, &lon, &lat)) {
        mw_error_set(MW_ERR_INPUT, "the AOI '%s' has no geometry%s", o->aoi,
                     aoi_srs ? "" : " (or no coordinate reference system)");
        goto done;
    }
    if (open_layers(o, lon, lat, &L)) goto done;
    const char *rwkt;
    mw_tile_layer_grid(L.tc, (double[6]){0}, &rwkt);
    rsrs = OSRNewSpatialReference(rwkt);
    OSRSetAxisMappingStrategy(rsrs, OAMS_TRADITIONAL_GIS_ORDER);
    if (!aoi_srs && !OSRIsGeographic(rsrs)) {
        mw_error_set(MW_ERR_INPUT,
                     "the AOI '%s' has no coordinate reference system and the rasters are not in "
                     "longitude/latitude: give the AOI's CRS",
                     o->aoi);
        goto done;
    }
    if (aoi_srs && !OSRIsSame(aoi_srs, rsrs))
        to_raster = OCTNewCoordinateTransformation(aoi_srs, rsrs);
    if (mw_out_dir_open(o->out_dir, &od)) goto done;
    od_open = 1;
    csv_path = mw_out_dir_stage(&od, "treecover.csv");
    gpkg_path = mw_out_dir_stage(&od, "treecover.gpkg");
    gpkg_final = mw_out_dir_final(&od, "treecover.gpkg");
    wr.csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (!wr.csv) {
        mw_error_set(MW_ERR_IO, "cannot write '%s/treecover.csv'", o->out_dir);
        goto done;
    }
    fputs("site_id,year,treecover_ha,loss_ha,emissions_mg_co2e\n", wr.csv);
    wr.gpkg = mw_gpkg_begin(gpkg_final, &gpkg_mem);
    if (!wr.gpkg) goto done;
    wr.layer = create_layer(wr.gpkg);
    if (!wr.layer) {
        mw_error_from_gdal(MW_ERR_IO, "cannot create the treecover layer");
        goto done;
    }
    GDALDatasetStartTransaction(wr.gpkg, 0);
    const int nthreads = omp_get_max_threads();
    const size_t budget = (o->mem_budget_mb ? o->mem_budget_mb : 1024) * (size_t)1048576;
    const size_t max_pixels = budget / 2 / BYTES_PER_PIXEL / (size_t)nthreads;
    const int have_em = L.em != NULL;
    /* Polygons are processed in the order of the raster blocks under them, so each block is
     * decompressed about once (an AOI in random order would thrash the block cache), each
     * thread with its own handles on the layers and a run of neighbouring polygons. The
     * figures (a few hundred bytes a polygon) wait in AOI order for the writers. */
    size_t n = 0;
    order_item *order = spatial_order(layer, to_raster, L.gt, &n);
    polygon_result *results = calloc(n ? n : 1, sizeof *results);
    layers *thr = calloc((size_t)nthreads, sizeof *thr);
    polygon_job *chunk = calloc(CHUNK_POLYGONS, sizeof *chunk);
    if (!order || !results || !thr || !chunk) {
        free(order), free(results), free(thr), free(chunk);
        mw_error_set(MW_ERR_NOMEM, "out of memory");
        goto done;
    }
    thr[0] = L;
    int open_rc = 0;
    for (int t = 1; t < nthreads && open_rc == 0; t++)
        open_rc = open_layers(o, lon, lat, &thr[t]);
    for (size_t c0 = 0; open_rc == 0 && c0 < n; c0 += CHUNK_POLYGONS) {
        const size_t nc = n - c0 < CHUNK_POLYGONS ? n - c0 : CHUNK_POLYGONS;
        for (size_t i = 0; i < nc; i++) /* the layer is read by this thread alone */
            fetch_job(layer, &order[c0 + i], id_field, to_raster, &chunk[i]);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nc; i++) {
            polygon_job *j = &chunk[i];
            if (!j->error) read_job(&thr[omp_get_thread_num()], max_pixels, j);
            compute(&L, p, have_em, j);
        }
        for (size_t i = 0; i < nc; i++) {
            polygon_result *r = &results[order[c0 + i].index];
            r->site_id = chunk[i].site_id, r->error = chunk[i].error, r->years = chunk[i].years;
            chunk[i].site_id = chunk[i].error = NULL, chunk[i].years = NULL;
            job_free(&chunk[i]);
        }
        mw_progress("treecover", (long)(c0 + nc), (long)n);
    }
    for (int t = 1; t < nthreads; t++)
        close_layers(&thr[t]);
    free(thr), free(chunk), free(order);
    if (open_rc) {
        for (size_t i = 0; i < n; i++)
            free(results[i].site_id), free(results[i].error), free(results[i].years);
        free(results);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        polygon_job j = {0};
        j.site_id = results[i].site_id, j.error = results[i].error, j.years = results[i].years;
        if (j.error) {
            res->failed++;
            mw_report_add(rep, j.site_id, "", "treecover", "%s", j.error);
            json_array_append_new(failures,
                                  json_pack("{s:s,s:s}", "site_id", j.site_id, "reason", j.error));
        }
        write_rows(&wr, p, &j, have_em);
        job_free(&j);
    }
    res->polygons = (long)n;
    free(results);
    if (GDALDatasetCommitTransaction(wr.gpkg) != OGRERR_NONE || wr.bad) {
        mw_error_from_gdal(MW_ERR_IO, "writing the treecover layer failed");
        goto done;
    }
    int bad = ferror(wr.csv);
    bad |= fclose(wr.csv) != 0;
    wr.csv = NULL;
    if (bad) {
        mw_error_set(MW_ERR_IO, "writing '%s/treecover.csv' failed", o->out_dir);
        goto done;
    }
    GDALDatasetH g = wr.gpkg;
    wr.gpkg = NULL;
    if (mw_gpkg_finish(g, gpkg_mem, gpkg_path, 1)) {
        gpkg_mem = NULL;
        goto done;
    }
    gpkg_mem = NULL;
    /* provenance: what produced the figures */
    char now[32];
    mw_utc_now(now);
    prov = json_pack(
        "{s:s,s:s,s:s,s:s?,s:{s:s,s:s,s:[s,s,s]},s:{s:f,s:f,s:i,s:i,s:s},s:o,s:I,s:I,s:o}", "tool",
        "minewatch " MW_VERSION_STRING, "gdal", GDALVersionInfo("RELEASE_NAME"), "created", now,
        "command_line", o->command_line, "method", "name",
        "Global Forest Watch tree cover, loss and gross emissions per polygon and year",
        "semantics", MW_TREECOVER_SEMANTICS, "citations", MW_GFC_CITATION,
        MW_GFW_EMISSIONS_CITATION, MW_COVERAGE_CITATION, "parameters", "min_cover_pct",
        p->min_cover_pct, "min_size_ha", p->min_size_ha, "year_from", p->year_from, "year_to",
        p->year_to, "id_field", o->id_field ? o->id_field : (id_field >= 0 ? "id" : "(feature id)"),
        "inputs", inputs_json(o, &L), "polygons", (json_int_t)res->polygons, "failed",
        (json_int_t)res->failed, "failures", json_incref(failures));
    json_object_set_new(prov, "outputs",
                        json_pack("{s:o}", "files", mw_provenance_output_files(&od)));
    {
        char *pp = mw_out_dir_stage(&od, "provenance.json");
        if (!pp || json_dump_file(prov, pp, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0) {
            free(pp);
            mw_error_set(MW_ERR_IO, "cannot write '%s/provenance.json'", o->out_dir);
            goto done;
        }
        free(pp);
    }
    if (mw_out_dir_commit(&od)) goto done;
    rc = 0;
done:
    if (wr.csv) fclose(wr.csv);
    if (wr.gpkg) mw_gpkg_finish(wr.gpkg, gpkg_mem, gpkg_path, 0);
    if (od_open) mw_out_dir_close(&od);
    json_decref(prov);
    json_decref(failures);
    free(csv_path), free(gpkg_path), free(gpkg_final);
    close_layers(&L);
    if (to_raster) OCTDestroyCoordinateTransformation(to_raster);
    if (to_ll) OCTDestroyCoordinateTransformation(to_ll);
    if (rsrs) OSRDestroySpatialReference(rsrs);
    OSRDestroySpatialReference(ll);
    GDALClose(aoi);
    return rc;
}

int mw_treecover_polygon(const char *treecover, const char *lossyear, const char *emissions,
                         OGRGeometryH geometry_lonlat, const mw_treecover_params *p,
                         size_t mem_budget_mb, mw_treecover_year *years)
{
    OGRGeometryH g = geometry_lonlat;
    OGREnvelope e;
    OGR_G_GetEnvelope(g, &e);
    mw_treecover_options o = {0};
    o.treecover = treecover, o.lossyear = lossyear, o.emissions = emissions;
    layers L;
    if (open_layers(&o, 0.5 * (e.MinX + e.MaxX), 0.5 * (e.MinY + e.MaxY), &L)) {
        close_layers(&L);
        return -1;
    }
    polygon_job j = {0};
    j.site_id = mw_text_dup("");
    j.geom = OGR_G_Clone(g);
    const char *rwkt;
    mw_tile_layer_grid(L.tc, (double[6]){0}, &rwkt);
    OGRSpatialReferenceH ll = mw_lonlat_srs(), rs = OSRNewSpatialReference(rwkt);
    OSRSetAxisMappingStrategy(rs, OAMS_TRADITIONAL_GIS_ORDER);
    if (!OSRIsSame(ll, rs)) {
        OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(ll, rs);
        if (!ct || OGR_G_Transform(j.geom, ct) != OGRERR_NONE)
            job_fail(&j, "the site cannot be transformed to the rasters' CRS");
        if (ct) OCTDestroyCoordinateTransformation(ct);
    }
    OSRDestroySpatialReference(ll), OSRDestroySpatialReference(rs);
    const size_t budget = (mem_budget_mb ? mem_budget_mb : 1024) * (size_t)1048576;
    if (!j.error) read_job(&L, budget / 2 / BYTES_PER_PIXEL, &j);
    compute(&L, p, L.em != NULL, &j);
    int rc = 0;
    if (j.error)
        rc = mw_error_set(MW_ERR_INPUT, "%s", j.error);
    else
        memcpy(years, j.years, (size_t)(p->year_to - p->year_from + 1) * sizeof *years);
    job_free(&j);
    close_layers(&L);
    return rc;
}
