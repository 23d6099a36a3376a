/* A built-in cloud and cloud-shadow screen for scenes without a quality band, after the
 * potential-cloud and potential-shadow tests of Fmask (Zhu & Woodcock 2012) and its path for
 * images without a thermal band (Fmask 4.0, Qiu, Zhu & He 2019). It fills the same mw_qa_flag
 * bits as SCL and QA_PIXEL do.
 *
 * What differs from Fmask, because minewatch has surface reflectance and no thermal band:
 *   - no brightness-temperature test: as Fmask 4.0 does for Sentinel-2, the land cloud
 *     probability is spectral variability x a brightness probability from HOT (the haze
 *     optimized transformation) normalised by clear land;
 *   - no cirrus test (the harmonised bands carry no 1.38 um band);
 *   - each cloud object's shadow is matched over cloud heights from 200 m to 12 km along the
 *     sun's direction as Fmask does, but without the thermal band's estimate of the cloud's
 *     height, and kept where the potential-shadow layer agrees; without sun angles no shadow
 *     is flagged (the record says so);
 *   - over bright surfaces (NDBI > 0 and > NDVI: soil, tailings, built), Fmask 4.0's potential
 *     false positives, clouds are opened by 90 m, so only cloud bodies wider than that stay;
 *   - a scene without SWIR bands (some exports carry only blue, green, red and NIR) gets the
 *     tests that need no SWIR (basic test on NDVI alone, no NIR/SWIR1 ratio, water clouds by
 *     green instead of SWIR1 brightness); the scene's record says which set ran. */
#ifndef MINEWATCH_CLOUD_SCREEN_H
#define MINEWATCH_CLOUD_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The thresholds of the screen, one table: name, value, and where it comes from. */
typedef enum mw_screen_param {
    MW_SCREEN_SWIR2_MIN,       /* basic test: SWIR 2.2 um above */
    MW_SCREEN_NDSI_MAX,        /* basic test: NDSI below */
    MW_SCREEN_NDVI_MAX,        /* basic test: NDVI below */
    MW_SCREEN_WHITENESS_MAX,   /* whiteness test: below */
    MW_SCREEN_HOT_OFFSET,      /* HOT test: blue - 0.5 red - this > 0 */
    MW_SCREEN_NIR_SWIR1_MIN,   /* NIR / SWIR1 above */
    MW_SCREEN_LAND_PERCENTILE, /* of clear land's cloud probability */
    MW_SCREEN_LAND_MARGIN,     /* added to that percentile: the threshold (Sentinel-2) */
    MW_SCREEN_LAND_MARGIN_L8,  /* the same for Landsat 8 and 9 */
    MW_SCREEN_LAND_MARGIN_L47, /* the same for Landsats 4 to 7 */
    MW_SCREEN_HOT_PAD,         /* the HOT percentiles of the brightness probability widened by */
    MW_SCREEN_WATER_SWIR1_REF, /* SWIR1 of full brightness probability over water */
    MW_SCREEN_SHADOW_FILL_MIN, /* flood-filled NIR minus NIR above: potential shadow */
    MW_SCREEN_FILL_PERCENTILE, /* of clear land's NIR: the level the flood fill starts from */
    MW_SCREEN_CLOUD_H_MIN_M,   /* cloud heights searched for shadows, metres */
    MW_SCREEN_CLOUD_H_MAX_M,
    MW_SCREEN_SIMILAR_MIN, /* a cloud object's shadow: best similarity at least */
    MW_SCREEN_PFP_ERODE_M, /* clouds over bright surfaces opened by this radius, metres */
    MW_SCREEN_PARAM_COUNT
} mw_screen_param;

typedef struct mw_screen_param_info {
    const char *name;
    double value;
    const char *citation;
} mw_screen_param_info;
MW_API extern const mw_screen_param_info mw_screen_params[MW_SCREEN_PARAM_COUNT];
#define MW_SCREEN_CITATION                                                                         \
    "Zhu Z., Woodcock C.E. (2012) Object-based cloud and cloud shadow detection in Landsat "       \
    "imagery. Remote Sensing of Environment 118, 83-94 (Fmask: potential cloud pixels, eq. 1-7; "  \
    "cloud probability over land and water, eq. 8-20; potential shadow by flood fill, sect. "      \
    "3.2); Qiu S., Zhu Z., He B. (2019) Fmask 4.0: Improved cloud and cloud shadow detection in "  \
    "Landsats 4-8 and Sentinel-2 imagery. Remote Sensing of Environment 231, 111205 (brightness "  \
    "probability from HOT without a thermal band; NDBI in the variability; thresholds)"
#define MW_SCREEN_VERSION "fmask-spectral-3"

/* Surface reflectance on one grid, NaN = no data. swir16 and swir22 may both be NULL (the
 * reduced test set); the others are required. */
typedef struct mw_screen_input {
    const float *blue, *green, *red, *nir, *swir16, *swir22;
    int width, height;
    double res_m;
    double sun_azimuth, sun_elevation; /* degrees; elevation not above 0: unknown */
    double land_margin; /* the sensor's cloud probability threshold; NaN: the table's default */
} mw_screen_input;

typedef struct mw_screen_result {
    long observed, cloud, shadow, water;
    double land_threshold; /* the dynamic land cloud-probability threshold used */
    int reduced;           /* 1: no SWIR, the reduced test set ran */
    int sun_known;
} mw_screen_result;

/* Sets MW_QA_CLOUD, MW_QA_SHADOW and MW_QA_WATER in qa (w x h, other bits kept; MW_QA_NODATA
 * where any band is NaN). Deterministic: no random sampling, the same on any thread count.
 * Returns 0, or -1 (MW_ERR_NOMEM / MW_ERR_INPUT) with a message. */
MW_API int mw_cloud_screen(const mw_screen_input *in, uint8_t *qa, mw_screen_result *res);

#ifdef __cplusplus
}
#endif

#endif
