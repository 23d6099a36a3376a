#include "minewatch/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/hash_random.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "minewatch/band.h"
#include "minewatch/error.h"
#include "minewatch/log.h"
#include "minewatch/lonlat.h"
#include "minewatch/version.h"
#include "sim/sim_world.h"

/* Typical surface reflectance per cover, bands in mw_band order (blue .. swir22). NDVI: forest
 * 0.84, grass 0.56, revegetation 0.58, bare 0.12, built 0.11, water -0.25. */
static const double cover_rho[SIM_NCOVER][MW_BAND_COUNT] = {
    [SIM_FOREST] = {0.025, 0.050, 0.030, 0.340, 0.360, 0.170, 0.080},
    [SIM_GRASS] = {0.050, 0.085, 0.080, 0.280, 0.300, 0.260, 0.160},
    [SIM_BARE] = {0.110, 0.150, 0.190, 0.240, 0.260, 0.320, 0.280},
    [SIM_WATER] = {0.060, 0.070, 0.050, 0.030, 0.025, 0.015, 0.010},
    [SIM_BUILT] = {0.140, 0.150, 0.160, 0.200, 0.210, 0.250, 0.230},
    [SIM_REVEG] = {0.045, 0.080, 0.070, 0.260, 0.280, 0.240, 0.150},
};
static const double cloud_rho[MW_BAND_COUNT] = {0.450, 0.450, 0.460, 0.500, 0.500, 0.380, 0.260};
static const double noise_sd[MW_BAND_COUNT] = {0.003, 0.003, 0.003, 0.006, 0.006, 0.006, 0.006};
static const double shadow_factor = 0.3, cirrus_add = 0.03;
static const double shadow_dx = 300.0, shadow_dy = -250.0; /* metres, from the sun's position */
static const double hot_radius = 25.0;

#define FOOT_SNAP 60.0 /* footprint corners on a 60 m lattice, as S2 tiles are */

typedef struct cloud {
    double x, y, r;
} cloud;

typedef struct sim_scene {
    char *id;
    int site;   /* index into sites */
    int period; /* index into periods */
    int k;      /* index within the period */
    mw_day day;
    double dx, dy; /* content displaced by (dx, dy) pixels along columns/rows */
    cloud *clouds;
    int nclouds;
    int cirrus;
    cloud cirrus_disc;
    int nodata_corner;
    int hot;
    const char *baseline;
    double boa_offset_dn; /* BOA_ADD_OFFSET in DN */
    double cloud_fraction;
    int hot_saturated_pixels;
} sim_scene;

typedef struct sim_site {
    const mw_site *site;
    sim_world world;
    double X0, Y0; /* footprint top-left, UTM */
    int W, H;      /* at 10 m */
    char *wkt;
} sim_site;

typedef struct sample {
    double rho[MW_BAND_COUNT];
    int nodata, cloud /* 0 none, 1 edge, 2 core */, shadow, cirrus, hot_centre;
    sim_cover cover;
} sample;

/* S2 processing baselines by date (ESA): 04.00 from 2022-01-25, 05.09 from 2022-12-06. */
static void baseline_for(mw_day day, const char **pb, double *offset_dn)
{
    if (day >= mw_day_from_ymd(2022, 12, 6)) {
        *pb = "05.09";
        *offset_dn = MW_S2_BOA_OFFSET_PB0400;
    } else if (day >= mw_day_from_ymd(2022, 1, 25)) {
        *pb = "04.00";
        *offset_dn = MW_S2_BOA_OFFSET_PB0400;
    } else {
        *pb = "03.01";
        *offset_dn = 0.0;
    }
}

static int cloud_state(const sim_scene *sc, double x, double y)
{
    int st = 0;
    for (int i = 0; i < sc->nclouds && st < 2; i++) {
        double dx = x - sc->clouds[i].x, dy = y - sc->clouds[i].y, r = sc->clouds[i].r;
        double d2 = dx * dx + dy * dy;
        if (d2 < 0.5625 * r * r)
            st = 2;
        else if (d2 < r * r)
            st = 1;
    }
    return st;
}

#define SIM_SUB 3 /* ground samples per pixel side */

/* Canopy texture: white noise on a 10 m lattice smoothed by a Gaussian of 8 m. Nearly
 * band-limited (the kernel passes 4 % at the pixel's Nyquist frequency) and not periodic, so
 * sampling it at shifted points shifts the image by that fraction of a pixel; bilinear lattice
 * noise would not (linear interpolation biases sub-pixel shifts toward whole pixels). Mean 0. */
static double texture(double x, double y)
{
    const double L = 10.0, sigma = 8.0;
    const double fx = floor(x / L), fy = floor(y / L);
    double gx[6], gy[6], v = 0;
    for (int i = 0; i < 6; i++) {
        double dx = x - (fx + i - 2) * L, dy = y - (fy + i - 2) * L;
        gx[i] = exp(-dx * dx / (2 * sigma * sigma));
        gy[i] = exp(-dy * dy / (2 * sigma * sigma));
    }
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 6; i++)
            v += gx[i] * gy[j] *
                 (mw_unif(mw_hash4(0x7e47u, (uint64_t)(int64_t)(fx + i - 2),
                                   (uint64_t)(int64_t)(fy + j - 2), 3)) -
                  0.5);
    return v; /* sd about 0.16 */
}

/* Noise-free observation at image-frame point (xi, yi). */
static void observe(const sim_site *ss, const sim_scene *sc, int era, double xi, double yi,
                    double res, sample *o)
{
    memset(o, 0, sizeof *o);
    double fx = (xi - ss->X0) / (ss->W * 10.0), fy = (ss->Y0 - yi) / (ss->H * 10.0);
    if (sc->nodata_corner && fx + fy > 1.5) {
        o->nodata = 1;
        return;
    }
    double xw = xi - sc->dx * res, yw = yi + sc->dy * res;
    const sim_world *w = &ss->world;
    o->cover = sim_world_cover(w, xw, yw, era); /* at the centre: what the SCL sees */
    /* The ground integrated over the pixel (SIM_SUB^2 samples) and a canopy texture that varies
     * continuously: a planted sub-pixel shift then moves the image by that fraction of a pixel,
     * as it does in a real sensor, instead of only where an edge crosses a sample point. */
    double veg = 0;
    for (int b = 0; b < MW_BAND_COUNT; b++)
        o->rho[b] = 0;
    for (int sy = 0; sy < SIM_SUB; sy++)
        for (int sx = 0; sx < SIM_SUB; sx++) {
            double xs = xw + ((sx + 0.5) / SIM_SUB - 0.5) * res,
                   ys = yw - ((sy + 0.5) / SIM_SUB - 0.5) * res;
            sim_cover c = sim_world_cover(w, xs, ys, era);
            for (int b = 0; b < MW_BAND_COUNT; b++)
                o->rho[b] += cover_rho[c][b] / (SIM_SUB * SIM_SUB);
            veg +=
                (c == SIM_FOREST || c == SIM_GRASS || c == SIM_REVEG) / (double)(SIM_SUB * SIM_SUB);
        }
    double t = texture(xw, yw);
    o->rho[MW_BAND_NIR] += 0.12 * t * veg;
    o->rho[MW_BAND_NIR08] += 0.12 * t * veg;
    o->rho[MW_BAND_RED] -= 0.012 * t * veg;
    if (sc->hot) {
        double dx = xw - w->hot_x, dy = yw - w->hot_y;
        if (dx * dx + dy * dy < hot_radius * hot_radius) {
            o->rho[MW_BAND_SWIR22] += 1.2;
            o->rho[MW_BAND_SWIR16] += 0.5;
            o->rho[MW_BAND_NIR08] += 0.05;
            o->hot_centre = dx * dx + dy * dy < 100.0;
        }
    }
    o->cloud = cloud_state(sc, xi, yi);
    if (o->cloud) {
        for (int b = 0; b < MW_BAND_COUNT; b++)
            o->rho[b] = cloud_rho[b];
    } else if (cloud_state(sc, xi - shadow_dx, yi - shadow_dy)) {
        o->shadow = 1;
        for (int b = 0; b < MW_BAND_COUNT; b++)
            o->rho[b] *= shadow_factor;
    }
    if (sc->cirrus) {
        double dx = xi - sc->cirrus_disc.x, dy = yi - sc->cirrus_disc.y;
        if (dx * dx + dy * dy < sc->cirrus_disc.r * sc->cirrus_disc.r) {
            o->cirrus = 1;
            for (int b = 0; b < MW_BAND_COUNT; b++)
                o->rho[b] += cirrus_add;
        }
    }
}

static uint16_t to_dn(double rho, double offset_dn)
{
    double dn = nearbyint(rho * MW_S2_QUANTIFICATION - offset_dn);
    if (dn < 1) dn = 1; /* 0 is reserved for no data */
    if (dn > 65535) dn = 65535;
    return (uint16_t)dn;
}

static int write_band(const char *path, const void *buf, int w, int h, GDALDataType t, double x0,
                      double y0, double res, const char *wkt)
{
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    char **co = NULL;
    co = CSLSetNameValue(co, "TILED", "YES");
    co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    co = CSLSetNameValue(co, "ZLEVEL", "1");
    co = CSLSetNameValue(co, "PREDICTOR", "2");
    GDALDatasetH ds = GDALCreate(drv, path, w, h, 1, t, co);
    CSLDestroy(co);
    if (!ds) return mw_error_from_gdal(MW_ERR_IO, "cannot create '%s'", path);
    double gt[6] = {x0, res, 0, y0, 0, -res};
    GDALSetGeoTransform(ds, gt);
    GDALSetProjection(ds, wkt);
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    GDALSetRasterNoDataValue(b, 0);
    CPLErr e = GDALRasterIO(b, GF_Write, 0, 0, w, h, (void *)buf, w, h, t, 0, 0);
    if (e != CE_None) {
        mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
        GDALClose(ds);
        return -1;
    }
    return mw_gdal_close_written(ds, path);
}

static uint8_t scl_of(const sample *s, int n)
{
    int cnt[SIM_NCOVER] = {0}, core = 0, edge = 0, shadow = 0, cirrus = 0, hot = 0;
    for (int i = 0; i < n; i++) {
        if (s[i].nodata) return 0;
        core |= s[i].cloud == 2;
        edge |= s[i].cloud == 1;
        shadow |= s[i].shadow;
        cirrus |= s[i].cirrus;
        hot |= s[i].hot_centre;
        cnt[s[i].cover]++;
    }
    /* Clouds and shadows are labelled if any part of the 20 m pixel holds them, as the ESA
     * processor's dilated masks do. */
    if (core) return 9;
    if (edge) return 8;
    if (shadow) return 3;
    if (hot) return 1;
    if (cirrus) return 10;
    int veg = cnt[SIM_FOREST] + cnt[SIM_GRASS] + cnt[SIM_REVEG];
    int water = cnt[SIM_WATER], bare = cnt[SIM_BARE] + cnt[SIM_BUILT];
    if (veg >= water && veg >= bare) return 4;
    return bare >= water ? 5 : 6;
}

static int render_scene(const sim_site *ss, const sim_scene *sc, int era, uint64_t seed,
                        const char *dir)
{
    const int W = ss->W, H = ss->H, W2 = W / 2, H2 = H / 2;
    static const int b10[4] = {MW_BAND_BLUE, MW_BAND_GREEN, MW_BAND_RED, MW_BAND_NIR};
    static const int b20[3] = {MW_BAND_NIR08, MW_BAND_SWIR16, MW_BAND_SWIR22};
    uint16_t *d10 = malloc((size_t)W * H * 4 * sizeof *d10);
    uint16_t *d20 = malloc((size_t)W2 * H2 * 3 * sizeof *d20);
    uint8_t *scl = malloc((size_t)W2 * H2);
    if (!d10 || !d20 || !scl) {
        free(d10);
        free(d20);
        free(scl);
        return mw_error_set(MW_ERR_NOMEM, "simulator: out of memory for scene %s", sc->id);
    }
    uint64_t skey = mw_hash4(seed, (uint64_t)sc->site, (uint64_t)sc->day, 0x5ce9e);
    sample s;
    for (int j = 0; j < H; j++)
        for (int i = 0; i < W; i++) {
            observe(ss, sc, era, ss->X0 + (i + 0.5) * 10.0, ss->Y0 - (j + 0.5) * 10.0, 10.0, &s);
            for (int q = 0; q < 4; q++) {
                size_t at = (size_t)q * W * H + (size_t)j * W + i;
                if (s.nodata) {
                    d10[at] = 0;
                    continue;
                }
                int b = b10[q];
                double n =
                    noise_sd[b] * mw_gauss(mw_hash4(skey, (uint64_t)b, (uint64_t)j, (uint64_t)i));
                d10[at] = to_dn(s.rho[b] + n, sc->boa_offset_dn);
            }
        }
    for (int j = 0; j < H2; j++)
        for (int i = 0; i < W2; i++) {
            sample sub[4];
            double mean[MW_BAND_COUNT] = {0};
            int any_nodata = 0, hot = 0;
            for (int q = 0; q < 4; q++) {
                observe(ss, sc, era, ss->X0 + (2 * i + (q & 1) + 0.5) * 10.0,
                        ss->Y0 - (2 * j + (q >> 1) + 0.5) * 10.0, 10.0, &sub[q]);
                any_nodata |= sub[q].nodata;
                hot |= sub[q].hot_centre && !sub[q].cloud;
                for (int b = 0; b < MW_BAND_COUNT; b++)
                    mean[b] += 0.25 * sub[q].rho[b];
            }
            scl[(size_t)j * W2 + i] = scl_of(sub, 4);
            for (int q = 0; q < 3; q++) {
                size_t at = (size_t)q * W2 * H2 + (size_t)j * W2 + i;
                int b = b20[q];
                if (any_nodata) {
                    d20[at] = 0;
                    continue;
                }
                double n = noise_sd[b] *
                           mw_gauss(mw_hash4(skey, (uint64_t)b + 100, (uint64_t)j, (uint64_t)i));
                /* A fire or furnace saturates the SWIR detector at its centre. */
                d20[at] =
                    hot && b == MW_BAND_SWIR22 ? 65535 : to_dn(mean[b] + n, sc->boa_offset_dn);
            }
        }
    int rc = 0;
    for (int q = 0; q < 4 && rc == 0; q++) {
        char *p = mw_text_dup(CPLFormFilename(dir, mw_bands[b10[q]].s2_name, "tif"));
        rc =
            write_band(p, d10 + (size_t)q * W * H, W, H, GDT_UInt16, ss->X0, ss->Y0, 10.0, ss->wkt);
        free(p);
    }
    for (int q = 0; q < 3 && rc == 0; q++) {
        char *p = mw_text_dup(CPLFormFilename(dir, mw_bands[b20[q]].s2_name, "tif"));
        rc = write_band(p, d20 + (size_t)q * W2 * H2, W2, H2, GDT_UInt16, ss->X0, ss->Y0, 20.0,
                        ss->wkt);
        free(p);
    }
    if (rc == 0) {
        char *p = mw_text_dup(CPLFormFilename(dir, "SCL", "tif"));
        rc = write_band(p, scl, W2, H2, GDT_Byte, ss->X0, ss->Y0, 20.0, ss->wkt);
        free(p);
    }
    free(d10);
    free(d20);
    free(scl);
    return rc;
}

/* Cloud cover of a scene as the simulator's own SCL would report it, in percent. */
static double cloud_percent(const sim_site *ss, const sim_scene *sc)
{
    long cloudy = 0, total = 0;
    for (int j = 0; j < ss->H; j += 4)
        for (int i = 0; i < ss->W; i += 4) {
            total++;
            cloudy += cloud_state(sc, ss->X0 + (i + 0.5) * 10.0, ss->Y0 - (j + 0.5) * 10.0) > 0;
        }
    return total ? 100.0 * (double)cloudy / (double)total : 0.0;
}

static void plan_clouds(const sim_site *ss, sim_scene *sc, int nper, double mean_cover,
                        uint64_t seed)
{
    mw_rng r = {mw_hash4(seed, (uint64_t)sc->site, (uint64_t)sc->day, 0xc10d)};
    double target;
    if (sc->k == 0)
        target = 0.0; /* one clear scene per period */
    else if (sc->k == nper - 1 && nper >= 3)
        target = 0.65; /* and one mostly cloudy one */
    else
        target = mw_rng_range(&r, 0.0, 2.0 * mean_cover);
    if (target > 0.8) target = 0.8;
    double area = (double)ss->W * ss->H * 100.0, sum = 0;
    sc->clouds = NULL;
    sc->nclouds = 0;
    int cap = 0;
    while (sum < target * area * 1.3 && sc->nclouds < 600) {
        if (sc->nclouds == cap) {
            cap = cap ? cap * 2 : 16;
            cloud *nc = realloc(sc->clouds, (size_t)cap * sizeof *nc);
            if (!nc) break;
            sc->clouds = nc;
        }
        cloud c = {ss->X0 + mw_rng_unif(&r) * ss->W * 10.0, ss->Y0 - mw_rng_unif(&r) * ss->H * 10.0,
                   mw_rng_range(&r, 150.0, 600.0)};
        sc->clouds[sc->nclouds++] = c;
        sum += 3.141592653589793 * c.r * c.r;
    }
    sc->cirrus = mw_rng_unif(&r) < 0.25;
    sc->cirrus_disc = (cloud){ss->X0 + mw_rng_unif(&r) * ss->W * 10.0,
                              ss->Y0 - mw_rng_unif(&r) * ss->H * 10.0, 1500.0};
    sc->dx = mw_rng_range(&r, -0.5, 0.5);
    sc->dy = mw_rng_range(&r, -0.5, 0.5);
    sc->nodata_corner = sc->k == 1;
}

static json_t *footprint_geojson(const sim_site *ss, double bbox[4])
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    double x1 = ss->X0 + ss->W * 10.0, y1 = ss->Y0 - ss->H * 10.0;
    OGR_G_AddPoint_2D(ring, ss->X0, ss->Y0);
    OGR_G_AddPoint_2D(ring, x1, ss->Y0);
    OGR_G_AddPoint_2D(ring, x1, y1);
    OGR_G_AddPoint_2D(ring, ss->X0, y1);
    OGR_G_AddPoint_2D(ring, ss->X0, ss->Y0);
    OGRGeometryH rect = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(rect, ring);
    OGR_G_Segmentize(rect, 1000.0); /* straight in UTM is curved in lon/lat */
    OGRGeometryH ll = mw_lonlat_from_projected(rect, ss->world.epsg);
    OGR_G_DestroyGeometry(rect);
    mw_lonlat_bbox(ll, bbox);
    char *js = OGR_G_ExportToJson(ll);
    json_t *g = json_loads(js, 0, NULL);
    CPLFree(js);
    OGR_G_DestroyGeometry(ll);
    return g;
}

static json_t *stac_item(const sim_site *ss, const sim_scene *sc)
{
    double bbox[4];
    json_t *geom = footprint_geojson(ss, bbox);
    char date[11], dt[32];
    mw_day_format(sc->day, date);
    snprintf(dt, sizeof dt, "%sT10:30:00Z", date);
    json_t *assets = json_object();
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        char href[16];
        snprintf(href, sizeof href, "./%s.tif", mw_bands[b].s2_name);
        json_t *a =
            json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:[{s:i,s:s,s:f,s:f,s:f}],s:[s]}", "href", href,
                      "type", "image/tiff; application=geotiff", "title", mw_bands[b].s2_name,
                      "eo:bands", "name", mw_bands[b].s2_name, "common_name", mw_bands[b].name,
                      "raster:bands", "nodata", 0, "data_type", "uint16", "spatial_resolution",
                      mw_bands[b].s2_res_m, "scale", 1.0 / MW_S2_QUANTIFICATION, "offset",
                      sc->boa_offset_dn / MW_S2_QUANTIFICATION, "roles", "data");
        json_object_set_new(assets, mw_bands[b].name, a);
    }
    json_object_set_new(assets, "scl",
                        json_pack("{s:s,s:s,s:s,s:[{s:i,s:s,s:f}],s:[s]}", "href", "./SCL.tif",
                                  "type", "image/tiff; application=geotiff", "title",
                                  "Scene classification map (SCL)", "raster:bands", "nodata", 0,
                                  "data_type", "uint8", "spatial_resolution", 20.0, "roles",
                                  "data"));
    json_t *props =
        json_pack("{s:s,s:s,s:s,s:[s],s:f,s:s,s:i,s:b,s:s,s:[f,f]}", "datetime", dt, "platform",
                  "sentinel-2-simulated", "constellation", "sentinel-2", "instruments", "msi",
                  "eo:cloud_cover", sc->cloud_fraction, "s2:processing_baseline", sc->baseline,
                  "proj:epsg", ss->world.epsg, "minewatch:simulated", 1, "minewatch:site",
                  ss->site->id, "minewatch:shift_px", sc->dx, sc->dy);
    return json_pack("{s:s,s:s,s:[s,s,s],s:s,s:o,s:[f,f,f,f],s:o,s:[],s:o}", "type", "Feature",
                     "stac_version", "1.0.0", "stac_extensions",
                     "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                     "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                     "https://stac-extensions.github.io/projection/v1.1.0/schema.json", "id",
                     sc->id, "geometry", geom, "bbox", bbox[0], bbox[1], bbox[2], bbox[3],
                     "properties", props, "links", "assets", assets);
}

/* Truth is measured on the world itself at 2.5 m, 16 samples per 10 m pixel, inside the site
 * polygon: an independent, finer reading than the pipeline's 10 m pixels. */
#define TRUTH_RES 2.5

static json_t *site_truth(const sim_site *ss, OGRGeometryH poly, const mw_period *periods,
                          size_t np)
{
    OGREnvelope env;
    OGR_G_GetEnvelope(poly, &env);
    double x0 = floor(env.MinX / TRUTH_RES) * TRUTH_RES,
           y1 = ceil(env.MaxY / TRUTH_RES) * TRUTH_RES;
    int W = (int)ceil((env.MaxX - x0) / TRUTH_RES), H = (int)ceil((y1 - env.MinY) / TRUTH_RES);
    uint8_t *mask = calloc((size_t)W * H, 1);
    if (!mask) return NULL; /* the caller reports the missing truth */
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("MEM"), "", W, H, 1, GDT_Byte, NULL);
    double gt[6] = {x0, TRUTH_RES, 0, y1, 0, -TRUTH_RES};
    GDALSetGeoTransform(ds, gt);
    int band = 1;
    double burn = 1;
    CPLErr e = GDALRasterizeGeometries(ds, 1, &band, 1, &poly, NULL, NULL, &burn, NULL, NULL, NULL);
    if (e == CE_None)
        e = GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, W, H, mask, W, H, GDT_Byte, 0, 0);
    GDALClose(ds);
    if (e != CE_None)
        memset(mask, 0, (size_t)W * H); /* truth would read 0 ha: visible, not silent */
    const sim_world *w = &ss->world;
    int era0 = sim_world_era(w, periods[0].start);
    json_t *arr = json_array();
    const double ha = TRUTH_RES * TRUTH_RES / 1e4;
    for (size_t p = 0; p < np; p++) {
        int era = sim_world_era(w, periods[p].start);
        long n[SIM_NCOVER] = {0}, loss = 0, inside = 0;
        for (int j = 0; j < H; j++) {
            double y = y1 - (j + 0.5) * TRUTH_RES;
            for (int i = 0; i < W; i++) {
                if (!mask[(size_t)j * W + i]) continue;
                double x = x0 + (i + 0.5) * TRUTH_RES;
                sim_cover c = sim_world_cover(w, x, y, era);
                n[c]++;
                inside++;
                if (c != SIM_FOREST && sim_world_cover(w, x, y, era0) == SIM_FOREST) loss++;
            }
        }
        char s[11], en[11];
        mw_day_format(periods[p].start, s);
        mw_day_format(periods[p].end, en);
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "name", periods[p].name,
                           "start", s, "end", en, "era", era, "area_ha", inside * ha, "forest_ha",
                           n[SIM_FOREST] * ha, "forest_loss_ha", loss * ha, "disturbed_ha",
                           n[SIM_BARE] * ha, "water_ha", n[SIM_WATER] * ha, "revegetated_ha",
                           n[SIM_REVEG] * ha, "built_ha", n[SIM_BUILT] * ha));
    }
    free(mask);
    return arr;
}

static json_t *world_json(const sim_world *w)
{
    json_t *patches = json_array();
    for (int i = 0; i < w->npatches; i++) {
        const sim_rect *r = &w->patches[i].r;
        char d[11];
        mw_day_format(w->events[w->patches[i].era_cleared - 1], d);
        json_array_append_new(patches,
                              json_pack("{s:[f,f,f,f],s:f,s:s}", "bbox_utm", r->x0, r->y0, r->x1,
                                        r->y1, "area_ha", (r->x1 - r->x0) * (r->y1 - r->y0) / 1e4,
                                        "cleared_on", d));
    }
    json_t *events = json_array();
    for (int i = 0; i < w->nevents; i++) {
        char d[11];
        mw_day_format(w->events[i], d);
        json_array_append_new(events, json_string(d));
    }
    json_t *o =
        json_pack("{s:i,s:b,s:o,s:o,s:{s:f,s:f,s:f,s:f},s:[f,f,f,f],s:f}", "epsg", w->epsg,
                  "processing_site", w->processing, "change_dates", events, "clearings", patches,
                  "pond", "cx", w->pond.cx, "cy", w->pond.cy, "r0", w->pond.r0,
                  "area_growth_per_change", w->pond.growth, "dump_bbox_utm", w->dump.x0, w->dump.y0,
                  w->dump.x1, w->dump.y1, "dump_revegetated_per_change", w->reveg_per_era);
    if (w->has_pit)
        json_object_set_new(o, "pit",
                            json_pack("{s:f,s:f,s:f,s:f}", "cx", w->pit.cx, "cy", w->pit.cy, "r0",
                                      w->pit.r0, "area_growth_per_change", w->pit.growth));
    if (w->has_industrial)
        json_object_set_new(
            o, "hot_spot",
            json_pack("{s:f,s:f,s:f}", "x", w->hot_x, "y", w->hot_y, "radius_m", hot_radius));
    return o;
}

char *mw_sim_key(const mw_site *const *sites, size_t nsites, const mw_period *periods,
                 size_t nperiods, const mw_sim_options *opt)
{
    json_t *k = json_pack("{s:s,s:i,s:I,s:i,s:f,s:f}", "minewatch", MW_VERSION_STRING, "renderer",
                          2 /* area-integrated pixels */, "seed", (json_int_t)opt->seed,
                          "scenes_per_period", opt->scenes_per_period, "cloud_cover",
                          opt->cloud_cover, "margin_m", opt->margin_m);
    json_t *s = json_array(), *p = json_array();
    for (size_t i = 0; i < nsites; i++)
        json_array_append_new(
            s, json_pack("[s,s,f]", sites[i]->id, sites[i]->wkt_wgs84, sites[i]->radius_m));
    for (size_t i = 0; i < nperiods; i++)
        json_array_append_new(
            p, json_pack("[s,i,i]", periods[i].name, periods[i].start, periods[i].end));
    json_object_set_new(k, "sites", s);
    json_object_set_new(k, "periods", p);
    char *out = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(k);
    return out;
}

static int cmp_day(const void *a, const void *b)
{
    mw_day x = *(const mw_day *)a, y = *(const mw_day *)b;
    return (x > y) - (x < y);
}

/* Change happens between periods, so every scene of a period sees the same ground. */
static int change_dates(const mw_period *periods, size_t np, mw_day *out)
{
    mw_day st[64], en[64];
    size_t n = np < 64 ? np : 64;
    for (size_t i = 0; i < n; i++)
        st[i] = periods[i].start;
    qsort(st, n, sizeof *st, cmp_day);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            if (periods[k].start == st[i]) en[i] = periods[k].end;
    int ne = 0;
    for (size_t i = 0; i + 1 < n && ne < SIM_MAX_EVENTS; i++)
        out[ne++] = en[i] + 1 + (st[i + 1] - en[i] - 1) / 2;
    return ne;
}

int mw_simulate(const mw_site *const *sites, size_t nsites, const mw_period *periods, size_t np,
                const mw_sim_options *opt, const char *out_dir)
{
    if (opt->scenes_per_period < 1)
        return mw_error_set(MW_ERR_INPUT, "simulator: scenes_per_period must be >= 1");
    for (size_t p = 0; p < np; p++)
        if (periods[p].end - periods[p].start + 1 < opt->scenes_per_period)
            return mw_error_set(MW_ERR_INPUT,
                                "simulator: period '%s' has fewer days than scenes_per_period (%d)",
                                periods[p].name, opt->scenes_per_period);
    if (mw_make_dirs(out_dir)) return -1;
    /* Two simulations into one folder would mix scenes of one with the truth of the other. */
    char what[128 + 4096];
    snprintf(what, sizeof what, "scene folder '%.4096s'", out_dir);
    const int lock = mw_dir_lock(out_dir, ".lock", what, 0);
    if (lock < 0) return -1;
    mw_day events[SIM_MAX_EVENTS];
    int nevents = change_dates(periods, np, events);
    sim_site *ss = calloc(nsites, sizeof *ss);
    OGRGeometryH *polys = calloc(nsites, sizeof *polys);
    size_t nsc = nsites * np * (size_t)opt->scenes_per_period;
    sim_scene *sc = calloc(nsc ? nsc : 1, sizeof *sc);
    int rc = (ss && polys && sc) ? 0 : mw_error_set(MW_ERR_NOMEM, "simulator: out of memory");
    for (size_t s = 0; s < nsites && rc == 0; s++) {
        ss[s].site = sites[s];
        int epsg = mw_site_utm_epsg(sites[s]);
        polys[s] = mw_site_polygon(sites[s], epsg);
        if (!polys[s]) {
            rc = -1;
            break;
        }
        rc = sim_world_build(&ss[s].world, sites[s], polys[s], opt->seed, events, nevents);
        ss[s].world.epsg = epsg;
        OGREnvelope env;
        OGR_G_GetEnvelope(polys[s], &env);
        ss[s].X0 = floor((env.MinX - opt->margin_m) / FOOT_SNAP) * FOOT_SNAP;
        ss[s].Y0 = ceil((env.MaxY + opt->margin_m) / FOOT_SNAP) * FOOT_SNAP;
        ss[s].W =
            (int)((ceil((env.MaxX + opt->margin_m) / FOOT_SNAP) * FOOT_SNAP - ss[s].X0) / 10.0);
        ss[s].H =
            (int)((ss[s].Y0 - floor((env.MinY - opt->margin_m) / FOOT_SNAP) * FOOT_SNAP) / 10.0);
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(srs, epsg);
        OSRExportToWkt(srs, &ss[s].wkt);
        OSRDestroySpatialReference(srs);
    }
    size_t q = 0;
    for (size_t s = 0; s < nsites && rc == 0; s++)
        for (size_t p = 0; p < np; p++)
            for (int k = 0; k < opt->scenes_per_period; k++, q++) {
                sim_scene *c = &sc[q];
                c->site = (int)s;
                c->period = (int)p;
                c->k = k;
                int len = periods[p].end - periods[p].start + 1;
                c->day = periods[p].start + (mw_day)floor((k + 0.5) * len / opt->scenes_per_period);
                baseline_for(c->day, &c->baseline, &c->boa_offset_dn);
                plan_clouds(&ss[s], c, opt->scenes_per_period, opt->cloud_cover, opt->seed);
                c->hot = ss[s].world.processing && k % 2 == 0;
                c->cloud_fraction = cloud_percent(&ss[s], c);
                char d[11];
                mw_day_format(c->day, d);
                size_t n = strlen(sites[s]->id) + 32;
                c->id = malloc(n);
                if (c->id)
                    snprintf(c->id, n, "S2SIM_%s_%.4s%.2s%.2s", sites[s]->id, d, d + 5, d + 8);
            }
    int failed = 0;
    char *first_err = NULL;
    long done = 0;
#pragma omp parallel for schedule(dynamic, 1) if (rc == 0)
    for (long i = 0; i < (long)(rc == 0 ? nsc : 0); i++) {
        sim_scene *c = &sc[i];
        sim_site *st = &ss[c->site];
        char *final_dir = malloc(strlen(out_dir) + strlen(c->id) + 2);
        sprintf(final_dir, "%s/%s", out_dir, c->id);
        char *tmp = mw_part_path(final_dir);
        mw_remove_tree(tmp);
        int r = mw_make_dirs(tmp);
        int era = sim_world_era(&st->world, c->day);
        if (r == 0) r = render_scene(st, c, era, opt->seed, tmp);
        if (r == 0) {
            json_t *item = stac_item(st, c);
            char *ip = malloc(strlen(tmp) + strlen(c->id) + 8);
            sprintf(ip, "%s/%s.json", tmp, c->id);
            if (json_dump_file(item, ip, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) != 0)
                r = mw_error_set(MW_ERR_IO, "cannot write '%s'", ip);
            free(ip);
            json_decref(item);
        }
        if (r == 0) r = mw_commit_dir(tmp, final_dir);
        if (r != 0) {
            mw_remove_tree(tmp);
#pragma omp critical(mw_sim_err)
            {
                failed++;
                if (!first_err) first_err = mw_text_dup(mw_error_message());
            }
        }
        free(tmp);
        free(final_dir);
        long d;
#pragma omp atomic capture
        d = ++done;
        mw_progress("simulate scenes", d, (long)nsc);
    }
    if (rc == 0 && failed)
        rc = mw_error_set(MW_ERR_IO, "simulator: %d scene(s) could not be written; first: %s",
                          failed, first_err ? first_err : "?");
    free(first_err);
    if (rc == 0) {
        json_t *truth = json_object();
        char *key = mw_sim_key(sites, nsites, periods, np, opt);
        json_object_set_new(truth, "generator",
                            json_string("minewatch simulate " MW_VERSION_STRING));
        json_object_set_new(truth, "sim_key", json_string(key ? key : ""));
        free(key);
        json_object_set_new(truth, "seed", json_integer((json_int_t)opt->seed));
        json_object_set_new(
            truth, "conventions",
            json_pack("{s:s,s:s,s:s}", "areas",
                      "hectares on the UTM grid plane, measured on the planted shapes at 2.5 m "
                      "inside the site polygon",
                      "forest_loss_ha",
                      "forest in the baseline period and not forest in this period", "shift_px",
                      "image content displaced by (col, row) 10 m pixels: pixel (i, j) shows the "
                      "ground at (i - col, j - row)"));
        /* What a pure pixel of each cover reads, so tests can turn areas into expected means. */
        json_t *cn = json_object();
        for (int c = 0; c < SIM_NCOVER; c++) {
            const double r = cover_rho[c][MW_BAND_RED], n = cover_rho[c][MW_BAND_NIR];
            json_object_set_new(cn, sim_cover_name((sim_cover)c), json_real((n - r) / (n + r)));
        }
        json_object_set_new(truth, "cover_ndvi", cn);
        json_t *jsites = json_array();
        for (size_t s = 0; s < nsites && rc == 0; s++) {
            json_t *pt = site_truth(&ss[s], polys[s], periods, np);
            json_t *js =
                pt ? json_pack("{s:s,s:s,s:o,s:o}", "id", sites[s]->id, "kind", sites[s]->kind,
                               "world", world_json(&ss[s].world), "periods", pt)
                   : NULL;
            if (!js) {
                rc = mw_error_set(MW_ERR_NOMEM, "simulator: out of memory measuring the truth");
                break;
            }
            json_t *scenes = json_array();
            for (size_t i = 0; i < nsc; i++) {
                if (sc[i].site != (int)s) continue;
                char d[11];
                mw_day_format(sc[i].day, d);
                json_array_append_new(
                    scenes,
                    json_pack("{s:s,s:s,s:s,s:{s:f,s:f},s:f,s:s,s:f,s:b,s:b}", "id", sc[i].id,
                              "date", d, "period", periods[sc[i].period].name, "shift_px", "col",
                              sc[i].dx, "row", sc[i].dy, "cloud_cover_pct", sc[i].cloud_fraction,
                              "processing_baseline", sc[i].baseline, "boa_add_offset",
                              sc[i].boa_offset_dn, "nodata_corner", sc[i].nodata_corner, "hot_spot",
                              sc[i].hot));
            }
            json_object_set_new(js, "scenes", scenes);
            json_array_append_new(jsites, js);
        }
        json_object_set_new(truth, "sites", jsites);
        /* truth.json last: it lists the scene folders, so it appears only when they have. */
        char *final_path = rc ? NULL : mw_text_path(out_dir, "truth.json");
        char *tmp = final_path ? mw_part_path(final_path) : NULL;
        if (rc == 0 && !tmp)
            rc = mw_error_set(MW_ERR_NOMEM, "simulator: out of memory");
        else if (rc == 0 && json_dump_file(truth, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(12)))
            rc = mw_error_set(MW_ERR_IO, "cannot write '%s'", final_path);
        else if (rc == 0)
            rc = mw_commit_path(tmp, final_path);
        if (rc && tmp) mw_remove_tree(tmp);
        free(tmp);
        free(final_path);
        json_decref(truth);
    }
    for (size_t i = 0; i < nsc && sc; i++) {
        free(sc[i].id);
        free(sc[i].clouds);
    }
    for (size_t s = 0; s < nsites && ss; s++) {
        CPLFree(ss[s].wkt);
        if (polys && polys[s]) OGR_G_DestroyGeometry(polys[s]);
    }
    free(sc);
    free(ss);
    free(polys);
    mw_dir_unlock(lock);
    return rc;
}
