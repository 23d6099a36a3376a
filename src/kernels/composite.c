#include "minewatch/composite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "minewatch/error.h"

// clang-format off
const mw_composite_method_info mw_composite_methods[] = {
    {"median", "per-band median of the clear observations (the mean of the middle two for an even count)", "the per-band median, as compared with the medoid by Flood N. 2013, Seasonal composite Landsat TM/ETM+ images using the medoid, Remote Sens. 5(12):6481-6500 (minewatch takes the median, not the medoid: bands of one pixel may come from different dates)"},
    {"max_ndvi", "the clear observation of greatest NDVI, all bands from that date", "Holben B.N. 1986, Int. J. Remote Sens. 7(11):1417-1434"},
    {"bap", "the clear observation of best score: 0.75 x Gaussian day-of-year closeness (sigma 30 d) to the period's middle + 0.25 x the chip's clear fraction over the site", "White J.C. et al. 2014, Can. J. Remote Sens. 40(3):192-212; Griffiths P. et al. 2013, IEEE JSTARS 6(5):2088-2101"},
};
// clang-format on
const mw_band mw_composite_bands[MW_COMPOSITE_NBANDS] = {
    MW_BAND_BLUE, MW_BAND_GREEN, MW_BAND_RED, MW_BAND_NIR, MW_BAND_SWIR16, MW_BAND_SWIR22};

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

void mw_composite_pixels(const float *const *values, const uint8_t *const *qa, size_t nchips,
                         int nbands, size_t npx, const uint8_t *mask, const mw_composite_spec *s,
                         float *const *band, uint16_t *nclear, mw_day *day, float *gather)
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

int mw_composite_check(const mw_composite_spec *s, int nbands)
{
    if (nbands < 1 || nbands > MW_COMPOSITE_MAX_BANDS)
        return mw_error_set(MW_ERR_INTERNAL, "composite: %d bands (1 to %d)", nbands,
                            MW_COMPOSITE_MAX_BANDS);
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
    if (mw_composite_check(s, nbands)) return -1;
    const long ntasks = (long)((npx + STRETCH - 1) / STRETCH);
    const size_t nv = nchips * (size_t)nbands;
    int failed = 0;
#pragma omp parallel
    {
        float *gather = malloc((size_t)nbands * nchips * sizeof(float) + 1);
        const float **v = malloc(nv * sizeof *v + 1);
        const uint8_t **q = malloc(nchips * sizeof *q + 1);
        float *bp[MW_COMPOSITE_MAX_BANDS];
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
            mw_composite_pixels(v, qa ? q : NULL, nchips, nbands, n, mask ? mask + p0 : NULL, s, bp,
                                out->nclear + p0, out->day ? out->day + p0 : NULL, gather);
        }
        free(gather), free(v), free(q);
    }
    if (failed) return mw_error_set(MW_ERR_NOMEM, "composite: out of memory");
    return 0;
}
