/* Harmonised band names shared by every sensor (the STAC eo common names). */
#ifndef MINEWATCH_BAND_H
#define MINEWATCH_BAND_H

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_band {
    MW_BAND_BLUE,
    MW_BAND_GREEN,
    MW_BAND_RED,
    MW_BAND_NIR,
    MW_BAND_NIR08,
    MW_BAND_SWIR16,
    MW_BAND_SWIR22,
    MW_BAND_COUNT
} mw_band;

typedef struct mw_band_info {
    mw_band band;
    const char *name;    /* harmonised (STAC eo common) name */
    const char *s2_name; /* Sentinel-2 MSI band */
    double s2_res_m;     /* native Sentinel-2 resolution */
    double centre_nm;    /* Sentinel-2A centre wavelength */
} mw_band_info;

MW_API extern const mw_band_info mw_bands[MW_BAND_COUNT];
MW_API const mw_band_info *
mw_band_by_name(const char *name); /* harmonised or S2 name; NULL if unknown */

/* Sentinel-2 L2A surface reflectance: rho = (DN + BOA_ADD_OFFSET) / 10000, DN 0 = no data.
 * BOA_ADD_OFFSET = -1000 from processing baseline 04.00 (products from 2022-01-25), 0 before.
 * Source: ESA, Sentinel-2 L2A Product Specification / PB 04.00 release note (2022). */
#define MW_S2_QUANTIFICATION 10000.0
#define MW_S2_BOA_OFFSET_PB0400 (-1000.0)
#define MW_S2_PB0400_FIRST_DAY "2022-01-25"
#define MW_S2_HARMONISATION_CITATION                                                               \
    "ESA Sentinel-2 Products Specification Document (S2-PDGS-TAS-DI-PSD) and processing baseline " \
    "04.00 note: L2A reflectance = (DN + BOA_ADD_OFFSET)/10000, BOA_ADD_OFFSET = -1000 from PB "   \
    "04.00 (2022-01-25), 0 before; DN 0 = no data"

#ifdef __cplusplus
}
#endif

#endif
