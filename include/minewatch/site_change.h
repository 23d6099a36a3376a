/* The change stages over one site's period composites: land cover and its transitions, forest
 * loss with a minimum mapping unit and its patches, burn severity (dNBR), recovery trends and
 * revegetation. `run` calls it after compositing; `change` calls it on the composites a run
 * wrote. Every figure is a count of grid pixels taken in pixel order, so it never depends on
 * threads or chunking. */
#ifndef MINEWATCH_SITE_CHANGE_H
#define MINEWATCH_SITE_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/composite.h"
#include "minewatch/grid.h"
#include "minewatch/land_cover.h"
#include "minewatch/trend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_change_config {
    mw_cover_thresholds cover;
    double loss_ndvi_drop_min;      /* baseline minus later NDVI must reach this for loss */
    int loss_min_width_px;          /* opening by a k x k square (mw_loss_open); 1 keeps all */
    double mmu_ha;                  /* loss patches smaller than this are dropped */
    const uint8_t *baseline_forest; /* may be NULL: 1 forest, 0 not, 255 unknown (rule decides) */
    int chunk_rows;                 /* labelling chunk height; 0: the whole grid */
    int generic_method;             /* mw_change_method: the multi-band change map */
} mw_change_config;

/* One period against the baseline (period 0). Hectares are NaN where not computable. */
typedef struct mw_period_change {
    int ok; /* the period has a composite */
    double valid_fraction, ndvi_mean;
    double cover_ha[MW_COVER_COUNT];
    double transition_ha[MW_COVER_COUNT * MW_COVER_COUNT]; /* [from baseline * N + to now] */
    double forest_loss_ha;
    long loss_patches;               /* 8-connected loss patches >= the MMU, lost by this period */
    double forest_observed_fraction; /* baseline forest with a value this period */
    double reveg_ha;                 /* bare or disturbed in an earlier period, vegetated now */
    double dnbr_high_ha;             /* dNBR in Key & Benson's high class */
    double changed_ha;       /* generic multi-band change against the baseline (any cover) */
    double veg_cleared_ha;   /* vegetated in the baseline, bare, disturbed or built now */
    double change_threshold; /* the automatic threshold the generic method chose */
} mw_period_change;

/* A loss patch: connected pixels first lost in the same period. */
/* A forest-loss patch of one period: 8-connected pixels of the forest lost by that period (the
 * pixels forest_loss_ha counts), at least the minimum mapping unit. A period's patches are
 * loss_patches of its row and their areas add up to its forest_loss_ha. */
typedef struct mw_loss_patch {
    int32_t id; /* 1.. within its period, in raster order of the patch's first pixel */
    int period; /* index of the period */
    long npix;
    double area_ha;
    double mean_dndvi; /* baseline NDVI minus NDVI of that period, over the patch */
} mw_loss_patch;

typedef struct mw_site_change {
    size_t nperiods;
    mw_period_change *per;
    double forest_baseline_ha;
    uint8_t **cover;     /* per period: mw_cover codes (NULL where no composite) */
    float **ndvi;        /* per period */
    float **dnbr;        /* per period, NULL for the baseline */
    uint8_t **changed;   /* per period: generic change 1, none 0, no data 255; NULL baseline */
    uint8_t **cleared;   /* per period: vegetation cleared 1, not 0, no data 255; NULL baseline */
    uint8_t *first_loss; /* first period with loss, 0 none, 255 no data */
    uint8_t *lost_by;    /* per pixel lost_bytes bytes: bit k-1 set when the pixel is in a kept
                            loss patch at period k */
    size_t lost_bytes;
    mw_loss_patch *patches;
    size_t npatches;
    float *trend_slope, *trend_p; /* NDVI per year and its Mann-Kendall p, per pixel */
    mw_trend site_trend;          /* of the site-mean NDVI over the periods */
} mw_site_change;

/* rows[k][b]: period k's composite band b indexed by mw_band (only mw_composite_bands are read),
 * or rows[k] == NULL where the period has none; t_years[k]: the period's middle in decimal years.
 * Needs the baseline and one more period. Errors (kind MW_ERR_INPUT) name what is missing. */
MW_API int mw_site_change_compute(const mw_grid *g, const uint8_t *mask, size_t nperiods,
                                  const float *const *const *rows, const double *t_years,
                                  const mw_change_config *cfg, mw_site_change *out);
MW_API void mw_site_change_free(mw_site_change *c);

#ifdef __cplusplus
}
#endif

#endif
