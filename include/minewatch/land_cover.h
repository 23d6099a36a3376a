/* Land cover per period from a composite: rule-based classes, evaluated in table order (the first
 * rule a pixel meets is its class), thresholds and citations in the one table. */
#ifndef MINEWATCH_LAND_COVER_H
#define MINEWATCH_LAND_COVER_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_cover {
    MW_COVER_NODATA,
    MW_COVER_WATER,
    MW_COVER_FOREST,
    MW_COVER_OTHER_VEG,
    MW_COVER_BUILT,
    MW_COVER_BARE,
    MW_COVER_COUNT
} mw_cover;

typedef struct mw_cover_rule {
    mw_cover cover;
    const char *name; /* in outputs: column names, map legends */
    const char *rule; /* the test, with its threshold's name */
    double threshold; /* default value of that threshold */
    const char *citation;
    unsigned char rgb[3]; /* its colour in maps and legends */
} mw_cover_rule;

/* In evaluation order, no data first; one line per class. */
MW_API extern const mw_cover_rule mw_cover_rules[MW_COVER_COUNT];
MW_API const char *mw_cover_name(mw_cover c);

typedef struct mw_cover_thresholds {
    double water_mndwi_min;      /* MNDWI at or above: water */
    double forest_ndvi_min;      /* NDVI at or above: forest */
    double veg_ndvi_min;         /* NDVI at or above: other vegetation */
    double built_iron_ratio_max; /* red/blue below (spectrally flat): built, else bare */
} mw_cover_thresholds;

/* The table's defaults (forest_ndvi_min as the pipeline's default). */
MW_API mw_cover_thresholds mw_cover_default_thresholds(void);

/* cover[i] for npix pixels from band rows indexed by mw_band (blue, green, red, nir, swir16 are
 * read; NaN in any: no data; red and nir are required, a NULL green or swir16 means no pixel is
 * called water, a NULL blue none built). mask may be NULL; outside it: no data. forest_override may
 * be NULL; else 1 forces forest, 0 forbids it (other vegetation if NDVI allows), 255 leaves the
 * rule: a baseline forest map supplied by the user (e.g. Hansen tree cover >= N %). */
MW_API void mw_cover_classify(const float *const rows[MW_BAND_COUNT], size_t npix,
                              const uint8_t *mask, const mw_cover_thresholds *t,
                              const uint8_t *forest_override, uint8_t *cover);

/* Class transitions between two cover maps: counts[from * MW_COVER_COUNT + to] pixels, in pixel
 * order (no data included as a class). */
MW_API void mw_cover_transitions(const uint8_t *from, const uint8_t *to, size_t npix,
                                 const uint8_t *mask, long counts[MW_COVER_COUNT * MW_COVER_COUNT]);

#ifdef __cplusplus
}
#endif

#endif
