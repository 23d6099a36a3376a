/* One raster or a tile set read by windows; see io/tile_mosaic.h. */
#include "io/tile_mosaic.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <ogr_srs_api.h>

#include "core/text.h"
#include "io/http_reader.h"
#include "minewatch/error.h"

#define TILE_DEG 10
#define OPEN_TILES 8 /* tiles kept open: a batch of sites touches few */

typedef struct tile {
    int tx, ty;      /* column from 180W, row from 90N, in 10-degree steps */
    GDALDatasetH ds; /* NULL: could not be read (err says why) */
    char *err;
    unsigned long used;
} tile;

struct mw_tile_layer {
    char *spec, *name, *what;
    int is_template;
    GDALDatasetH single;
    double gt[6];
    char *wkt;
    long long tile_px; /* pixels per tile side */
    tile tiles[OPEN_TILES];
    int ntiles;
    unsigned long clock;
};

/* The path GDAL opens: URLs go through minewatch's range reader. */
static char *open_path(const char *s)
{
    if (!mw_text_is_http(s)) return mw_text_dup(s);
    size_t n = strlen(s) + sizeof MW_HTTP_PREFIX;
    char *p = malloc(n);
    if (p) snprintf(p, n, MW_HTTP_PREFIX "%s", s);
    return p;
}

static void tile_name(int tx, int ty, char lat[16], char lon[16])
{
    int top = 90 - TILE_DEG * (ty % 18), left = -180 + TILE_DEG * (tx % 36);
    snprintf(lat, 16, "%02d%c", abs(top), top >= 0 ? 'N' : 'S');
    snprintf(lon, 16, "%03d%c", abs(left), left >= 0 ? 'E' : 'W');
}

/* The template with {lat} and {lon} filled for tile (tx, ty). */
static char *tile_spec(const char *tmpl, int tx, int ty)
{
    char lat[16], lon[16];
    tile_name(tx, ty, lat, lon);
    size_t n = strlen(tmpl) + 64;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    for (const char *s = tmpl; *s;) {
        if (strncmp(s, "{lat}", 5) == 0)
            o += snprintf(o, 16, "%s", lat), s += 5;
        else if (strncmp(s, "{lon}", 5) == 0)
            o += snprintf(o, 16, "%s", lon), s += 5;
        else
            *o++ = *s++;
        if ((size_t)(o - out) + 16 >= n) {
            size_t at = (size_t)(o - out);
            char *bigger = realloc(out, n *= 2);
            if (!bigger) return free(out), NULL;
            out = bigger, o = out + at;
        }
    }
    *o = 0;
    return out;
}

static GDALDatasetH open_raster(const char *spec, const char *what)
{
    if (mw_text_is_http(spec) && mw_http_reader_install()) return NULL;
    char *p = open_path(spec);
    GDALDatasetH ds = p ? GDALOpenEx(p, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL) : NULL;
    free(p);
    if (!ds) {
        char *shown = mw_text_redact_url(spec);
        mw_error_from_gdal(MW_ERR_INPUT, "cannot read the %s raster '%s'", what, shown);
        free(shown);
    }
    return ds;
}

static int north_up(const double gt[6])
{
    return gt[2] == 0 && gt[4] == 0 && gt[1] > 0 && gt[5] < 0;
}

/* Opens tile (tx, ty), checking it lies on the layer's grid (or, for the first, setting it). */
static GDALDatasetH open_tile(mw_tile_layer *l, int tx, int ty, char **err)
{
    char *spec = tile_spec(l->spec, tx, ty);
    GDALDatasetH ds = spec ? open_raster(spec, l->what) : NULL;
    char *shown = mw_text_redact_url(spec);
    free(spec);
    if (ds) {
        double gt[6];
        const double left = -180.0 + TILE_DEG * tx, top = 90.0 - TILE_DEG * ty;
        int ok = GDALGetGeoTransform(ds, gt) == CE_None && north_up(gt) &&
                 fabs(gt[1] + gt[5]) < 1e-12 && GDALGetRasterXSize(ds) == GDALGetRasterYSize(ds);
        double px = ok ? TILE_DEG / gt[1] : 0;
        ok = ok && fabs(px - floor(px + 0.5)) < 1e-6 &&
             (long long)floor(px + 0.5) == (long long)GDALGetRasterXSize(ds);
        ok = ok && fabs(gt[0] - left) < 0.5 * gt[1] && fabs(gt[3] - top) < 0.5 * gt[1];
        ok = ok && (!l->tile_px || (long long)GDALGetRasterXSize(ds) == l->tile_px);
        if (!ok) {
            GDALClose(ds);
            ds = NULL;
            mw_error_set(MW_ERR_INPUT,
                         "%s tile '%s' is not a 10-degree tile of square pixels starting at its "
                         "name's corner (%g, %g)%s",
                         l->what, shown, left, top,
                         l->tile_px ? " on the grid of the layer's other tiles" : "");
        } else if (!l->tile_px) {
            l->tile_px = GDALGetRasterXSize(ds);
            double res = (double)TILE_DEG / (double)l->tile_px;
            double g[6] = {-180.0, res, 0, 90.0, 0, -res};
            memcpy(l->gt, g, sizeof g);
        }
    }
    if (!ds && err) *err = mw_text_dup(mw_error_message());
    free(shown);
    return ds;
}

mw_tile_layer *mw_tile_layer_open(const char *spec, const char *what, double lon, double lat)
{
    mw_tile_layer *l = calloc(1, sizeof *l);
    if (!l) return mw_error_set(MW_ERR_NOMEM, "out of memory"), NULL;
    l->spec = mw_text_dup(spec);
    l->name = mw_text_redact_url(spec);
    l->what = mw_text_dup(what);
    l->is_template = strstr(spec, "{lat}") && strstr(spec, "{lon}");
    if (!l->is_template) {
        l->single = open_raster(spec, what);
        if (!l->single) return mw_tile_layer_close(l), NULL;
        if (GDALGetGeoTransform(l->single, l->gt) != CE_None || !north_up(l->gt)) {
            mw_error_set(MW_ERR_INPUT,
                         "the %s raster '%s' has no north-up geotransform (warp it first)", what,
                         l->name);
            return mw_tile_layer_close(l), NULL;
        }
        const char *w = GDALGetProjectionRef(l->single);
        if (!w || !*w) {
            mw_error_set(MW_ERR_INPUT, "the %s raster '%s' has no coordinate reference system",
                         what, l->name);
            return mw_tile_layer_close(l), NULL;
        }
        l->wkt = mw_text_dup(w);
        return l;
    }
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 4326);
    OSRExportToWkt(srs, &l->wkt);
    OSRDestroySpatialReference(srs);
    int tx = (int)floor((lon + 180.0) / TILE_DEG), ty = (int)floor((90.0 - lat) / TILE_DEG);
    if (tx < 0 || tx >= 36 || ty < 0 || ty >= 18) {
        mw_error_set(MW_ERR_INPUT, "%s tiles: (%g, %g) is not a longitude and latitude", what, lon,
                     lat);
        return mw_tile_layer_close(l), NULL;
    }
    GDALDatasetH ds = open_tile(l, tx, ty, NULL);
    if (!ds) return mw_tile_layer_close(l), NULL;
    l->tiles[0] = (tile){tx, ty, ds, NULL, ++l->clock};
    l->ntiles = 1;
    return l;
}

void mw_tile_layer_close(mw_tile_layer *l)
{
    if (!l) return;
    if (l->single) GDALClose(l->single);
    for (int i = 0; i < l->ntiles; i++) {
        if (l->tiles[i].ds) GDALClose(l->tiles[i].ds);
        free(l->tiles[i].err);
    }
    free(l->spec), free(l->name), free(l->what);
    CPLFree(l->wkt);
    free(l);
}

void mw_tile_layer_grid(const mw_tile_layer *l, double gt[6], const char **wkt)
{
    memcpy(gt, l->gt, 6 * sizeof *gt);
    if (wkt) *wkt = l->wkt;
}

const char *mw_tile_layer_name(const mw_tile_layer *l)
{
    return l->name;
}

int mw_tile_layer_is_template(const mw_tile_layer *l)
{
    return l->is_template;
}

static tile *get_tile(mw_tile_layer *l, int tx, int ty)
{
    for (int i = 0; i < l->ntiles; i++)
        if (l->tiles[i].tx == tx && l->tiles[i].ty == ty) {
            l->tiles[i].used = ++l->clock;
            return &l->tiles[i];
        }
    int slot = l->ntiles;
    if (slot == OPEN_TILES) { /* the least recently used goes */
        slot = 0;
        for (int i = 1; i < OPEN_TILES; i++)
            if (l->tiles[i].used < l->tiles[slot].used) slot = i;
        if (l->tiles[slot].ds) GDALClose(l->tiles[slot].ds);
        free(l->tiles[slot].err);
    } else {
        l->ntiles++;
    }
    tile *t = &l->tiles[slot];
    *t = (tile){tx, ty, NULL, NULL, ++l->clock};
    t->ds = open_tile(l, tx, ty, &t->err);
    return t;
}

/* Copies the part of window (x0, y0, w, h) that src covers (its pixel (0,0) at (sx0, sy0) of the
 * window's grid, sw x sh pixels) into buf. */
static int read_part(GDALDatasetH src, const char *name, long long sx0, long long sy0, long long sw,
                     long long sh, long long x0, long long y0, int w, int h, GDALDataType dt,
                     double fill, void *buf)
{
    long long ax = x0 > sx0 ? x0 : sx0, ay = y0 > sy0 ? y0 : sy0;
    long long bx = x0 + w < sx0 + sw ? x0 + w : sx0 + sw,
              by = y0 + h < sy0 + sh ? y0 + h : sy0 + sh;
    if (ax >= bx || ay >= by) return 0;
    const int px = GDALGetDataTypeSizeBytes(dt);
    char *dst = (char *)buf + ((size_t)(ay - y0) * (size_t)w + (size_t)(ax - x0)) * (size_t)px;
    CPLErrorReset();
    if (GDALRasterIO(GDALGetRasterBand(src, 1), GF_Read, (int)(ax - sx0), (int)(ay - sy0),
                     (int)(bx - ax), (int)(by - ay), dst, (int)(bx - ax), (int)(by - ay), dt, px,
                     (GSpacing)px * w) != CE_None)
        return mw_error_from_gdal(MW_ERR_IO, "reading '%s' failed", name);
    /* the file's own no-data pixels read as fill, like pixels no file covers */
    int has_nd = 0;
    double nd = GDALGetRasterNoDataValue(GDALGetRasterBand(src, 1), &has_nd);
    if (has_nd && !isnan(nd) && nd != fill)
        for (long long y = 0; y < by - ay; y++) {
            char *row = dst + (size_t)y * (size_t)w * (size_t)px;
            for (long long x = 0; x < bx - ax; x++) {
                if (dt == GDT_Byte && ((uint8_t *)row)[x] == nd)
                    ((uint8_t *)row)[x] = (uint8_t)fill;
                if (dt == GDT_Float32 && ((float *)row)[x] == (float)nd)
                    ((float *)row)[x] = (float)fill;
            }
        }
    return 0;
}

int mw_tile_layer_read(mw_tile_layer *l, long long x0, long long y0, int w, int h, GDALDataType dt,
                       double fill, void *buf)
{
    const size_t n = (size_t)w * (size_t)h;
    if (dt == GDT_Byte) {
        memset(buf, (int)fill, n);
    } else if (dt == GDT_Float32) {
        for (size_t i = 0; i < n; i++)
            ((float *)buf)[i] = (float)fill;
    } else {
        return mw_error_set(MW_ERR_INTERNAL, "tile layer: unsupported type");
    }
    if (!l->is_template)
        return read_part(l->single, l->name, 0, 0, GDALGetRasterXSize(l->single),
                         GDALGetRasterYSize(l->single), x0, y0, w, h, dt, fill, buf);
    const long long T = l->tile_px;
    for (long long ty = y0 / T - (y0 < 0); ty * T < y0 + h; ty++)
        for (long long tx = x0 / T - (x0 < 0); tx * T < x0 + w; tx++) {
            if (tx < 0 || tx >= 36 || ty < 0 || ty >= 18) continue; /* off the globe: fill */
            tile *t = get_tile(l, (int)tx, (int)ty);
            if (!t->ds) return mw_error_set(MW_ERR_INPUT, "%s", t->err ? t->err : "tile missing");
            if (read_part(t->ds, l->name, tx * T, ty * T, T, T, x0, y0, w, h, dt, fill, buf))
                return -1;
        }
    return 0;
}
