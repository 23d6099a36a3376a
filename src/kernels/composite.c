#include "minewatch/composite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <omp.h>

#include "minewatch/error.h"

// clang-format off
const mw_composite_method_info mw_composite_methods[] = {
    {"median", "per-band median of the clear observations (the mean of the middle two for an even count)", "the per-band median, as compared with the medoid by Flood N. 2013, Seasonal composite Landsat TM/ETM+ images using the medoid, Remote Sens. 5(12):6481-6500 (minewatch takes the median, not the medoid: bands of one pixel may come from different dates)"},
    {"max_ndvi", "the clear observation of greatest NDVI, all bands from that date", "Holben B.N. 1986, Int. J. Remote Sens. 7(11):1417-1434"},
    {"bap", "the clear observation of best score: 0.75 x Gaussian day-of-year closeness (sigma 30 d) to the period's middle + 0.25 x the chip's clear fraction over the site", "White J.C. et al. 2014, Can. J. Remote Sens. 40(3):192-212; Griffiths P. et al. 2013, IEEE JSTARS 6(5):2088-2101"},
};
// clang-format on
const int mw_composite_nmethods =
    (int)(sizeof mw_composite_methods / sizeof mw_composite_methods[0]);

int mw_composite_method_find(const char *name)
{
    for (int i = 0; i < mw_composite_nmethods; i++)
        if (strcmp(name, mw_composite_methods[i].name) == 0) return i;
    return -1;
}

void mw_composite_bap_scores(const mw_day *day, const double *clear_fraction, size_t n,
                             mw_day target, double *score)
{
    for (size_t c = 0; c < n; c++) {
        const double d = (double)(day[c] - target) / MW_BAP_DAY_SIGMA;
        const double cf = clear_fraction && isfinite(clear_fraction[c]) ? clear_fraction[c] : 0;
        score[c] = MW_BAP_WEIGHT_DAY * exp(-0.5 * d * d) + MW_BAP_WEIGHT_CLEAR * cf;
    }
}

int mw_composite_chunk_rows(const mw_grid *g, size_t nchips, int nbands, int nthreads,
                            size_t budget_bytes)
{
    size_t per_row = (size_t)g->width * (nchips * ((size_t)nbands * sizeof(float) + 1) + 1);
    size_t rows = budget_bytes / ((size_t)(nthreads > 0 ? nthreads : 1) * (per_row ? per_row : 1));
    if (rows < 1) rows = 1;
    if (rows > (size_t)g->height) rows = (size_t)g->height;
    return (int)rows;
}

/* Median of v[0..n): insertion sort, n is the number of dates (tens at most). */
static float median(float *v, int n)
{
    for (int i = 1; i < n; i++) {
        float x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
    return n % 2 ? v[n / 2] : (float)(((double)v[n / 2 - 1] + (double)v[n / 2]) * 0.5);
}

/* Pixels [0, npx) of one stretch: values[c * nbands + b][p], qa[c][p]; out pointers already at
 * the stretch. gather holds nbands x nchips floats. */
static void composite_pixels(const float *const *values, const uint8_t *const *qa, size_t nchips,
                             int nbands, size_t npx, const uint8_t *mask,
                             const mw_composite_spec *s, float *const *band, uint16_t *nclear,
                             mw_day *day, float *gather)
{
    const int sel = s->method != MW_COMPOSITE_MEDIAN;
    for (size_t p = 0; p < npx; p++) {
        for (int b = 0; b < nbands; b++)
            band[b][p] = NAN;
        nclear[p] = 0;
        if (day) day[p] = MW_COMPOSITE_NO_DAY;
        if (mask && !mask[p]) {
            nclear[p] = MW_COMPOSITE_NCLEAR_NONE;
            continue;
        }
        int n = 0;
        long best = -1;
        double best_score = 0;
        for (size_t c = 0; c < nchips; c++) {
            if (qa && (qa[c][p] & s->qa_exclude)) continue;
            const float *const *v = values + c * (size_t)nbands;
            int finite = 1;
            for (int b = 0; b < nbands; b++)
                finite &= isfinite(v[b][p]);
            if (!finite) continue;
            if (!sel) {
                for (int b = 0; b < nbands; b++)
                    gather[(size_t)b * nchips + (size_t)n] = v[b][p];
            } else {
                double score;
                if (s->method == MW_COMPOSITE_MAX_NDVI) {
                    const double r = v[s->red][p], ni = v[s->nir][p];
                    score = r + ni != 0 ? (ni - r) / (ni + r) : -INFINITY;
                } else {
                    score = s->score[c];
                }
                if (best < 0 || score > best_score) /* ties: the earlier chip stays */
                    best = (long)c, best_score = score;
            }
            n++;
        }
        nclear[p] = (uint16_t)(n < MW_COMPOSITE_NCLEAR_NONE ? n : MW_COMPOSITE_NCLEAR_NONE - 1);
        if (n == 0 || n < s->min_obs) continue;
        if (!sel) {
            for (int b = 0; b < nbands; b++)
                band[b][p] = median(gather + (size_t)b * nchips, n);
        } else {
            for (int b = 0; b < nbands; b++)
                band[b][p] = values[(size_t)best * nbands + (size_t)b][p];
            if (day && s->day) day[p] = s->day[best];
        }
    }
}

#define MAX_BANDS 64

static int check_spec(const mw_composite_spec *s, int nbands)
{
    if (nbands < 1 || nbands > MAX_BANDS)
        return mw_error_set(MW_ERR_INTERNAL, "composite: %d bands (1 to %d)", nbands, MAX_BANDS);
    if (s->method == MW_COMPOSITE_MAX_NDVI &&
        (s->red < 0 || s->red >= nbands || s->nir < 0 || s->nir >= nbands))
        return mw_error_set(MW_ERR_INTERNAL,
                            "composite max_ndvi: red/nir band positions %d/%d "
                            "outside the chips' %d bands",
                            s->red, s->nir, nbands);
    if (s->method == MW_COMPOSITE_BAP && !s->score)
        return mw_error_set(MW_ERR_INTERNAL, "composite bap: no chip scores given");
    return 0;
}

#define STRETCH 4096 /* pixels per task in memory: any split gives the same pixels */

int mw_composite_stack(const float *const *values, const uint8_t *const *qa, size_t nchips,
                       int nbands, size_t npx, const uint8_t *mask, const mw_composite_spec *s,
                       const mw_composite_result *out)
{
    if (check_spec(s, nbands)) return -1;
    const long ntasks = (long)((npx + STRETCH - 1) / STRETCH);
    const size_t nv = nchips * (size_t)nbands;
    int failed = 0;
#pragma omp parallel
    {
        float *gather = malloc((size_t)nbands * nchips * sizeof(float) + 1);
        const float **v = malloc(nv * sizeof *v + 1);
        const uint8_t **q = malloc(nchips * sizeof *q + 1);
        float *bp[MAX_BANDS];
        if (!gather || !v || !q) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (long t = 0; t < ntasks; t++) {
            if (!gather || !v || !q) continue;
            const size_t p0 = (size_t)t * STRETCH, n = p0 + STRETCH <= npx ? STRETCH : npx - p0;
            for (size_t i = 0; i < nv; i++)
                v[i] = values[i] + p0;
            for (size_t c = 0; qa && c < nchips; c++)
                q[c] = qa[c] + p0;
            for (int b = 0; b < nbands; b++)
                bp[b] = out->band[b] + p0;
            composite_pixels(v, qa ? q : NULL, nchips, nbands, n, mask ? mask + p0 : NULL, s, bp,
                             out->nclear + p0, out->day ? out->day + p0 : NULL, gather);
        }
        free(gather), free(v), free(q);
    }
    if (failed) return mw_error_set(MW_ERR_NOMEM, "composite: out of memory");
    return 0;
}

typedef struct thread_state {
    GDALDatasetH *refl, *qa; /* one handle per chip, owned by this thread */
    float *buf;              /* nchips x nbands x chunk pixels */
    uint8_t *qbuf;           /* nchips x chunk pixels */
    float *gather;           /* nbands x nchips */
    const float **v;         /* nchips x nbands plane pointers into buf */
    const uint8_t **q;       /* nchips plane pointers into qbuf */
} thread_state;

static void state_free(thread_state *t, size_t nchips)
{
    for (size_t c = 0; c < nchips; c++) {
        if (t->refl && t->refl[c]) GDALClose(t->refl[c]);
        if (t->qa && t->qa[c]) GDALClose(t->qa[c]);
    }
    free(t->refl), free(t->qa), free(t->buf), free(t->qbuf), free(t->gather);
    free(t->v), free(t->q);
}

static int state_init(thread_state *t, const mw_chip *chips, size_t nchips, int nbands,
                      size_t chunk_px)
{
    memset(t, 0, sizeof *t);
    t->refl = calloc(nchips, sizeof *t->refl);
    t->qa = calloc(nchips, sizeof *t->qa);
    t->buf = malloc(nchips * (size_t)nbands * chunk_px * sizeof *t->buf);
    t->qbuf = malloc(nchips * chunk_px);
    t->gather = malloc((size_t)nbands * nchips * sizeof *t->gather + 1);
    t->v = malloc(nchips * (size_t)nbands * sizeof *t->v + 1);
    t->q = malloc(nchips * sizeof *t->q + 1);
    if (!t->refl || !t->qa || !t->buf || !t->qbuf || !t->gather || !t->v || !t->q)
        return mw_error_set(MW_ERR_NOMEM, "composite: out of memory for a %zu-pixel chunk",
                            chunk_px);
    for (size_t c = 0; c < nchips; c++) {
        t->q[c] = t->qbuf + c * chunk_px;
        for (int b = 0; b < nbands; b++)
            t->v[c * (size_t)nbands + (size_t)b] =
                t->buf + (c * (size_t)nbands + (size_t)b) * chunk_px;
        t->refl[c] = GDALOpen(chips[c].path, GA_ReadOnly);
        t->qa[c] = GDALOpen(chips[c].qa_path, GA_ReadOnly);
        if (!t->refl[c] || !t->qa[c])
            return mw_error_from_gdal(MW_ERR_IO, "composite: cannot open chip '%s'", chips[c].path);
    }
    return 0;
}

int mw_composite_chips(const mw_chip *chips, size_t nchips, int nbands, const mw_grid *g,
                       const uint8_t *mask, const mw_composite_spec *s, int chunk_rows,
                       const mw_composite_result *out)
{
    if (check_spec(s, nbands)) return -1;
    const int W = g->width, H = g->height;
    if (chunk_rows < 1) chunk_rows = 1;
    const int nchunks = (H + chunk_rows - 1) / chunk_rows;
    const size_t chunk_px = (size_t)W * (size_t)chunk_rows;
    int failed = 0;
    char *first_err = NULL;
    mw_error_kind first_kind = MW_ERR_NONE;
#pragma omp parallel
    {
        thread_state ts;
        int ok = state_init(&ts, chips, nchips, nbands, chunk_px) == 0;
        if (!ok) {
#pragma omp critical(mw_composite_err)
            if (!first_err) {
                first_err = strdup(mw_error_message());
                first_kind = mw_error_get_kind();
            }
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < nchunks; k++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !ok) continue;
            const int r0 = k * chunk_rows, nr = r0 + chunk_rows <= H ? chunk_rows : H - r0;
            const size_t off = (size_t)r0 * W, npx = (size_t)nr * W;
            float *bp[MAX_BANDS];
            for (int b = 0; b < nbands; b++)
                bp[b] = out->band[b] + off;
            int any = 0;
            for (size_t p = 0; p < npx && !any; p++)
                any = mask[off + p];
            if (!any) { /* outside the site: never read */
                composite_pixels(ts.v, ts.q, 0, nbands, npx, mask + off, s, bp, out->nclear + off,
                                 out->day ? out->day + off : NULL, ts.gather);
                continue;
            }
            int err = 0;
            for (size_t c = 0; c < nchips && !err; c++) {
                float *cb = ts.buf + c * (size_t)nbands * chunk_px;
                err = GDALDatasetRasterIO(ts.refl[c], GF_Read, 0, r0, W, nr, cb, W, nr, GDT_Float32,
                                          nbands, NULL, 0, 0,
                                          (GSpacing)(chunk_px * sizeof(float))) != CE_None;
                err = err || GDALRasterIO(GDALGetRasterBand(ts.qa[c], 1), GF_Read, 0, r0, W, nr,
                                          ts.qbuf + c * chunk_px, W, nr, GDT_Byte, 0, 0) != CE_None;
                if (err) {
                    mw_error_from_gdal(MW_ERR_IO, "composite: cannot read chip '%s'",
                                       chips[c].path);
#pragma omp critical(mw_composite_err)
                    if (!first_err) {
                        first_err = strdup(mw_error_message());
                        first_kind = MW_ERR_IO;
                    }
#pragma omp atomic write
                    failed = 1;
                }
            }
            if (err) continue;
            composite_pixels(ts.v, ts.q, nchips, nbands, npx, mask + off, s, bp, out->nclear + off,
                             out->day ? out->day + off : NULL, ts.gather);
        }
        state_free(&ts, nchips);
    }
    if (failed) {
        mw_error_set(first_kind ? first_kind : MW_ERR_IO, "%s",
                     first_err ? first_err : "composite failed");
        free(first_err);
        return -1;
    }
    return 0;
}
