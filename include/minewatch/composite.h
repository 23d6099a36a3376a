/* Per-period composites from clear observations only: the per-band median (default), the
 * observation of greatest NDVI, or the best available pixel; with the count of clear
 * observations and the date taken per pixel. Streamed from chips in row chunks, or in memory. */
#ifndef MINEWATCH_COMPOSITE_H
#define MINEWATCH_COMPOSITE_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/date.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_composite_method {
    MW_COMPOSITE_MEDIAN,
    MW_COMPOSITE_MAX_NDVI,
    MW_COMPOSITE_BAP
} mw_composite_method;

/* One line per method: what the pipeline file says, the rule, its citation. */
typedef struct mw_composite_method_info {
    const char *name;
    const char *rule;
    const char *citation;
} mw_composite_method_info;
MW_API extern const mw_composite_method_info mw_composite_methods[];
MW_API extern const int mw_composite_nmethods;
MW_API int mw_composite_method_find(const char *name); /* -1 if unknown */

/* Best-available-pixel weights (White et al. 2014): day-of-year closeness to the target and the
 * chip's clear fraction over the site. Their distance-to-cloud score is the QA dilation, already
 * applied to the chips' masks. */
#define MW_BAP_WEIGHT_DAY 0.75
#define MW_BAP_WEIGHT_CLEAR 0.25
#define MW_BAP_DAY_SIGMA 30.0 /* days: the Gaussian of the day score */

#define MW_COMPOSITE_NO_DAY INT32_MIN /* day map where no observation was taken */

typedef struct mw_composite_spec {
    mw_composite_method method;
    uint8_t qa_exclude;  /* QA flags that make an observation unclear */
    int min_obs;         /* fewer clear observations: no composite */
    int red, nir;        /* band positions in the chips (max_ndvi) */
    const mw_day *day;   /* per chip: acquisition day (the date taken; may be NULL) */
    const double *score; /* per chip, BAP: larger is better (mw_composite_bap_scores) */
} mw_composite_spec;

/* score[c] = W_DAY * exp(-(day[c]-target)^2 / (2 sigma^2)) + W_CLEAR * clear_fraction[c]. */
MW_API void mw_composite_bap_scores(const mw_day *day, const double *clear_fraction, size_t n,
                                    mw_day target, double *score);

#define MW_COMPOSITE_NCLEAR_NONE UINT16_MAX /* no data, as integer maps have it */
typedef struct mw_composite_result {
    float *const *band; /* nbands planes of npx: NaN where no composite or outside the mask */
    uint16_t *nclear; /* clear observations per pixel; MW_COMPOSITE_NCLEAR_NONE outside the mask */
    mw_day *day;      /* may be NULL: the day of the observation taken (max_ndvi, BAP);
                         MW_COMPOSITE_NO_DAY for the median (a statistic of several) or none */
} mw_composite_result;

#define MW_COMPOSITE_MAX_BANDS 64

/* The bands a composite carries by default, in chip and map band order. */
#define MW_COMPOSITE_NBANDS 6
MW_API extern const mw_band mw_composite_bands[MW_COMPOSITE_NBANDS];
/* 0 if the spec can composite nbands bands, else -1 with the reason. */
MW_API int mw_composite_check(const mw_composite_spec *s, int nbands);
/* The kernel over pixels [0, npx) on the calling thread: values[c * nbands + b][p] and qa[c][p]
 * of each chip c; band[b], nclear and day (may be NULL) receive the composite; mask may be NULL;
 * gather holds nbands x nchips floats of scratch. Each pixel is computed alone, from the chips
 * in their order, ties going to the earlier chip. */
MW_API void mw_composite_pixels(const float *const *values, const uint8_t *const *qa, size_t nchips,
                                int nbands, size_t npx, const uint8_t *mask,
                                const mw_composite_spec *s, float *const *band, uint16_t *nclear,
                                mw_day *day, float *gather);

/* The same kernel over a stack in memory: values[c * nbands + b] holds npx values of band b of
 * chip c, qa[c] npx QA bytes (qa may be NULL: every finite observation is clear); mask may be
 * NULL. Parallel over pixels. */
MW_API int mw_composite_stack(const float *const *values, const uint8_t *const *qa, size_t nchips,
                              int nbands, size_t npx, const uint8_t *mask,
                              const mw_composite_spec *s, const mw_composite_result *out);

#ifdef __cplusplus
}
#endif

#endif
