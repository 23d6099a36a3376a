/* The built-in cloud and shadow screen; what it does and how it differs from Fmask is in
 * minewatch/cloud_screen.h. Every step is a whole-window operation in a fixed order (exact
 * percentiles by sorting, a priority flood with ties broken by pixel index), so the result never
 * depends on threads or chunks. */
#include "minewatch/cloud_screen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/qa.h"

#define ZW12 "Zhu & Woodcock 2012"
#define QZH19 "Qiu, Zhu & He 2019"
const mw_screen_param_info mw_screen_params[MW_SCREEN_PARAM_COUNT] = {
    {"swir2_min", 0.03, ZW12 ", eq. 1 (basic test, band 7 > 0.03)"},
    {"ndsi_max", 0.8, ZW12 ", eq. 1 (basic test)"},
    {"ndvi_max", 0.8, ZW12 ", eq. 1 (basic test)"},
    {"whiteness_max", 0.7, ZW12 ", eq. 2-3 (whiteness test)"},
    {"hot_offset", 0.08, ZW12 ", eq. 4 (haze optimized transformation, Zhang et al. 2002)"},
    {"nir_swir1_min", 0.75, ZW12 ", eq. 5 (band 4 / band 5 of Landsat 7 > 0.75)"},
    {"land_percentile", 82.5, ZW12 ", eq. 17 (upper level of clear land's probability)"},
    {"land_margin", 0.2, QZH19 " (cloud probability threshold, Sentinel-2 default 20 %)"},
    {"land_margin_landsat8", 0.175, QZH19 " (Landsat 8 default 17.5 %)"},
    {"land_margin_landsat4_7", 0.1, QZH19 " (Landsats 4-7 default 10 %)"},
    {"hot_pad", 0.04, QZH19 " (brightness probability: HOT percentiles widened by 0.04)"},
    {"water_swir1_ref", 0.11, ZW12 ", eq. 12 (brightness probability over water)"},
    {"shadow_fill_min", 0.02, ZW12 ", sect. 3.2 (flood-filled NIR minus NIR)"},
    {"fill_percentile", 17.5, ZW12 ", sect. 3.2 (the flood fill's boundary level)"},
    {"cloud_height_min_m", 200, ZW12 ", sect. 3.3 (range of cloud heights searched)"},
    {"cloud_height_max_m", 12000, ZW12 ", sect. 3.3"},
    {"similar_min", 0.3, ZW12 ", sect. 3.3 (T_similar)"},
    {"pfp_erode_m", 90,
     QZH19 " (erosion of clouds over potential false positives, 90 m for "
           "Landsat 8 and Sentinel-2)"},
};
#define P(k) (mw_screen_params[k].value)
#define DEG 0.017453292519943295 /* radians */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The q-th percentile (0-100) of v[0..n), by sorting (v is reordered); linear between ranks. */
static double percentile(float *v, size_t n, double q)
{
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_float);
    double r = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)r;
    double f = r - (double)i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[n - 1];
}

/* A binary min-heap of (level, pixel) for the priority flood. */
typedef struct heap_item {
    float level;
    unsigned idx;
} heap_item;

static int before(heap_item a, heap_item b)
{
    return a.level < b.level || (a.level == b.level && a.idx < b.idx);
}

static void heap_push(heap_item *h, size_t *n, heap_item x)
{
    size_t i = (*n)++;
    while (i > 0 && before(x, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
    heap_item top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && before(h[c + 1], h[c])) c++;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* Grayscale hole filling (MATLAB imfill, 8-connected) of nir from the window's edge and its
 * no-data pixels, which stand at the level `edge`: fill = the lowest level at which a pixel
 * connects to the edge. Priority flood (Barnes, Lehman & Mulla 2014). */
static int flood_fill(const float *nir, const uint8_t *valid, int w, int h, float edge, float *fill)
{
    const size_t n = (size_t)w * h;
    heap_item *heap = malloc((n + 1) * sizeof *heap);
    uint8_t *seen = calloc(n + 1, 1);
    if (!heap || !seen) {
        free(heap), free(seen);
        return mw_error_set(MW_ERR_NOMEM, "cloud screen: out of memory for the flood fill");
    }
    size_t hn = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            if (!valid[p]) {
                seen[p] = 1, fill[p] = edge;
                heap_push(heap, &hn, (heap_item){edge, (unsigned)p});
            } else if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
                seen[p] = 1, fill[p] = nir[p];
                heap_push(heap, &hn, (heap_item){nir[p], (unsigned)p});
            }
        }
    while (hn) {
        heap_item c = heap_pop(heap, &hn);
        int cx = (int)(c.idx % (unsigned)w), cy = (int)(c.idx / (unsigned)w);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int x = cx + dx, y = cy + dy;
                if ((!dx && !dy) || x < 0 || y < 0 || x >= w || y >= h) continue;
                size_t p = (size_t)y * w + x;
                if (seen[p]) continue;
                seen[p] = 1;
                fill[p] = nir[p] > c.level ? nir[p] : c.level;
                heap_push(heap, &hn, (heap_item){fill[p], (unsigned)p});
            }
    }
    free(heap), free(seen);
    return 0;
}

/* Fmask's shadow matching (Zhu & Woodcock 2012, sect. 3.3): each cloud object (8-connected) is
 * projected along the sun's direction for cloud heights from h_min to h_max, a pixel's shift
 * apart; the similarity of a height is the share of the projected pixels inside the window and
 * off the object that fall on potential shadow or on other cloud. The best height wins if its
 * similarity reaches similar_min, and the projected shape there is the object's shadow (where
 * the potential-shadow layer agrees). Objects are visited in raster order of their first pixel. */
static int match_shadows(const uint8_t *cloud, const uint8_t *pshadow, int w, int h, double ux,
                         double uy, double d_min, double d_max, uint8_t *shadow)
{
    const size_t n = (size_t)w * h;
    int *label = calloc(n + 1, sizeof *label);
    unsigned *pix = malloc((n + 1) * sizeof *pix), *stack = malloc((n + 1) * sizeof *stack);
    if (!label || !pix || !stack) {
        free(label), free(pix), free(stack);
        return mw_error_set(MW_ERR_NOMEM, "cloud screen: out of memory for the shadow match");
    }
    int next = 0;
    for (size_t seed = 0; seed < n; seed++) {
        if (!cloud[seed] || label[seed]) continue;
        /* the object: flood from its first pixel */
        const int id = ++next;
        size_t np = 0, top = 0;
        label[seed] = id, stack[top++] = (unsigned)seed;
        while (top) {
            unsigned c = stack[--top];
            pix[np++] = c;
            int cx = (int)(c % (unsigned)w), cy = (int)(c / (unsigned)w);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int x = cx + dx, y = cy + dy;
                    if (x < 0 || y < 0 || x >= w || y >= h) continue;
                    size_t q = (size_t)y * w + x;
                    if (cloud[q] && !label[q]) label[q] = id, stack[top++] = (unsigned)q;
                }
        }
        /* the best height, a pixel's shift at a time */
        double best = -1, best_d = NAN;
        for (double d = d_min; d <= d_max; d += 1.0) {
            const int sx = (int)lround(d * ux), sy = (int)lround(d * uy);
            long inside = 0, hit = 0;
            for (size_t k = 0; k < np; k++) {
                int x = (int)(pix[k] % (unsigned)w) + sx, y = (int)(pix[k] / (unsigned)w) + sy;
                if (x < 0 || y < 0 || x >= w || y >= h) continue;
                size_t q = (size_t)y * w + x;
                if (label[q] == id) continue;
                inside++;
                hit += pshadow[q] || cloud[q];
            }
            if (inside == 0) break; /* projected out of the window */
            const double sim = (double)hit / (double)inside;
            if (sim > best) best = sim, best_d = d;
        }
        if (!(best >= P(MW_SCREEN_SIMILAR_MIN))) continue;
        const int sx = (int)lround(best_d * ux), sy = (int)lround(best_d * uy);
        for (size_t k = 0; k < np; k++) {
            int x = (int)(pix[k] % (unsigned)w) + sx, y = (int)(pix[k] / (unsigned)w) + sy;
            if (x < 0 || y < 0 || x >= w || y >= h) continue;
            size_t q = (size_t)y * w + x;
            if (!cloud[q] && pshadow[q]) shadow[q] = 1;
        }
    }
    free(label), free(pix), free(stack);
    return 0;
}

int mw_cloud_screen(const mw_screen_input *in, uint8_t *qa, mw_screen_result *res)
{
    memset(res, 0, sizeof *res);
    if (!in->blue || !in->green || !in->red || !in->nir)
        return mw_error_set(MW_ERR_INPUT, "cloud screen: needs the blue, green, red and NIR bands");
    const int w = in->width, h = in->height;
    const size_t n = (size_t)w * h;
    const int reduced = !in->swir16 || !in->swir22;
    res->reduced = reduced;
    uint8_t *pcp = calloc(n + 1, 1), *water = calloc(n + 1, 1), *valid = calloc(n + 1, 1);
    uint8_t *cloud = calloc(n + 1, 1), *reach = calloc(n + 1, 1), *pshadow = calloc(n + 1, 1);
    uint8_t *pfp = calloc(n + 1, 1);
    float *prob = malloc((n + 1) * sizeof *prob), *pool = malloc((n + 1) * sizeof *pool);
    float *fill = malloc((n + 1) * sizeof *fill);
    int rc = pcp && water && valid && cloud && reach && pshadow && pfp && prob && pool && fill
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "cloud screen: out of memory (%zu pixels)", n);
    if (rc) goto done;
    /* Pass one: potential cloud pixels (ZW12 eq. 1-5), water (eq. 6), each pixel's spectral
     * variability (QZH19: with NDBI) and HOT, kept in `fill` until the flood fill needs it. */
    float *hotv = fill;
    for (size_t p = 0; p < n; p++) {
        const float b = in->blue[p], g = in->green[p], r = in->red[p], nir = in->nir[p];
        const float s1 = reduced ? 0 : in->swir16[p], s2 = reduced ? 0 : in->swir22[p];
        if (isnan(b) || isnan(g) || isnan(r) || isnan(nir) || isnan(s1) || isnan(s2)) {
            qa[p] |= MW_QA_NODATA;
            continue;
        }
        valid[p] = 1, res->observed++;
        const double ndvi = nir + r != 0 ? (nir - r) / (nir + r) : 0;
        const double ndsi = !reduced && g + s1 != 0 ? (g - s1) / (g + s1) : 0;
        const double ndbi = !reduced && s1 + nir != 0 ? (s1 - nir) / (s1 + nir) : 0;
        const double m = (b + g + r) / 3.0;
        const double white = m > 0 ? (fabs(b - m) + fabs(g - m) + fabs(r - m)) / m : 1e9;
        const int basic =
            ndvi < P(MW_SCREEN_NDVI_MAX) &&
            (reduced || (s2 > P(MW_SCREEN_SWIR2_MIN) && ndsi < P(MW_SCREEN_NDSI_MAX)));
        hotv[p] = (float)(b - 0.5 * r - P(MW_SCREEN_HOT_OFFSET));
        const int b45 = reduced || (s1 > 0 && nir / s1 > P(MW_SCREEN_NIR_SWIR1_MIN));
        pcp[p] = basic && white < P(MW_SCREEN_WHITENESS_MAX) && hotv[p] > 0 && b45;
        pfp[p] = !reduced && ndbi > 0 && ndbi > ndvi; /* bright soil, tailings, built */
        water[p] = (ndvi < 0.01 && nir < 0.11) || (ndvi < 0.1 && ndvi > 0 && nir < 0.05);
        double v = fmax(fmax(fabs(ndvi), fabs(ndsi)), fmax(fabs(ndbi), white));
        prob[p] = (float)(1.0 - v);
    }
    /* Pass two: without a thermal band, QZH19's brightness probability from HOT, normalised by
     * clear land, stands in for the temperature probability; the land probability is
     * variability x brightness, and clouds exceed the 82.5th percentile of clear land's by the
     * sensor's margin. Over water, the SWIR1 brightness probability (green without SWIR),
     * against clear water's percentile the same way. */
    size_t nclear = 0;
    for (size_t p = 0; p < n; p++)
        if (valid[p] && !pcp[p] && !water[p]) pool[nclear++] = hotv[p];
    const int few_clear = nclear * 1000 < (size_t)res->observed; /* under 0.1 % */
    const double margin = isfinite(in->land_margin) ? in->land_margin : P(MW_SCREEN_LAND_MARGIN);
    if (!few_clear) {
        const double lo = percentile(pool, nclear, 100 - P(MW_SCREEN_LAND_PERCENTILE)) -
                          P(MW_SCREEN_HOT_PAD),
                     hi = percentile(pool, nclear, P(MW_SCREEN_LAND_PERCENTILE)) +
                          P(MW_SCREEN_HOT_PAD);
        for (size_t p = 0; p < n; p++) {
            if (!valid[p]) continue;
            double bp = hi > lo ? (hotv[p] - lo) / (hi - lo) : 1;
            bp = bp < 0 ? 0 : bp > 1 ? 1 : bp;
            prob[p] = (float)(prob[p] * bp);
        }
        nclear = 0;
        for (size_t p = 0; p < n; p++)
            if (valid[p] && !pcp[p] && !water[p]) pool[nclear++] = prob[p];
        res->land_threshold = percentile(pool, nclear, P(MW_SCREEN_LAND_PERCENTILE)) + margin;
    } else
        res->land_threshold = NAN;
    const double wref = P(MW_SCREEN_WATER_SWIR1_REF);
    size_t nwater = 0;
    for (size_t p = 0; p < n; p++)
        if (valid[p] && water[p]) {
            const float bright = reduced ? in->green[p] : in->swir16[p];
            hotv[p] = (float)fmin(fmax(bright / wref, 0), 1); /* HOT is done with */
            if (!pcp[p]) pool[nwater++] = hotv[p];
        }
    const double water_threshold =
        nwater ? percentile(pool, nwater, P(MW_SCREEN_LAND_PERCENTILE)) + margin : 0;
    for (size_t p = 0; p < n; p++) {
        if (!valid[p] || !pcp[p]) continue;
        cloud[p] =
            water[p] ? hotv[p] > water_threshold : few_clear || prob[p] > res->land_threshold;
    }
    /* Bright surfaces that pass for cloud (QZH19's potential false positives: NDBI > 0 and >
     * NDVI): their clouds are opened by the erosion radius, so only cloud bodies wider than it
     * stay there; real clouds over them are that wide, speckle on tailings is not. */
    {
        const int r = (int)ceil(P(MW_SCREEN_PFP_ERODE_M) / in->res_m - 1e-9);
        uint8_t *scratch = malloc(n + 1);
        if (!scratch) {
            rc = mw_error_set(MW_ERR_NOMEM, "cloud screen: out of memory");
            goto done;
        }
        for (size_t p = 0; p < n; p++)
            reach[p] = !cloud[p]; /* erosion of cloud = dilation of not-cloud */
        mw_qa_dilate(reach, w, h, 1, r, scratch);
        for (size_t p = 0; p < n; p++)
            reach[p] = !reach[p];
        mw_qa_dilate(reach, w, h, 1, r, scratch);
        for (size_t p = 0; p < n; p++)
            if (cloud[p] && pfp[p] && !reach[p]) cloud[p] = 0;
        free(scratch);
        memset(reach, 0, n);
    }
    /* Shadows: potential shadow by flood fill of NIR (sect. 3.2), kept where a cloud casts it. */
    size_t nland = 0;
    for (size_t p = 0; p < n; p++)
        if (valid[p] && !pcp[p] && !water[p]) pool[nland++] = in->nir[p];
    float edge = (float)percentile(pool, nland, P(MW_SCREEN_FILL_PERCENTILE));
    if (isnan(edge)) edge = 0;
    float *nir0 = prob; /* prob is done with: NIR with no data at the edge level */
    for (size_t p = 0; p < n; p++)
        nir0[p] = valid[p] ? in->nir[p] : edge;
    rc = flood_fill(nir0, valid, w, h, edge, fill);
    if (rc) goto done;
    for (size_t p = 0; p < n; p++)
        pshadow[p] = valid[p] && !cloud[p] && fill[p] - in->nir[p] > P(MW_SCREEN_SHADOW_FILL_MIN);
    res->sun_known = in->sun_elevation > 0 && in->sun_elevation <= 90;
    if (res->sun_known) {
        const double tanz = tan((90.0 - in->sun_elevation) * DEG);
        const double az = in->sun_azimuth * DEG;
        rc = match_shadows(cloud, pshadow, w, h, -sin(az), cos(az),
                           P(MW_SCREEN_CLOUD_H_MIN_M) * tanz / in->res_m,
                           P(MW_SCREEN_CLOUD_H_MAX_M) * tanz / in->res_m, reach);
    } /* without sun angles no shadow can be matched to its cloud: none is flagged */
    if (rc) goto done;
    for (size_t p = 0; p < n; p++) {
        if (!valid[p]) continue;
        if (cloud[p]) {
            qa[p] |= MW_QA_CLOUD, res->cloud++;
        } else if (reach[p]) {
            qa[p] |= MW_QA_SHADOW, res->shadow++;
        }
        if (water[p]) qa[p] |= MW_QA_WATER, res->water++;
    }
done:
    free(pcp), free(water), free(valid), free(cloud), free(reach), free(pshadow), free(pfp),
        free(prob), free(pool), free(fill);
    return rc;
}
