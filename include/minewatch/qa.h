/* One bit-packed quality band for every sensor, and the tables that fill it. */
#ifndef MINEWATCH_QA_H
#define MINEWATCH_QA_H

#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_qa_flag {
    MW_QA_NODATA = 1u << 0,
    MW_QA_CLOUD = 1u << 1,
    MW_QA_SHADOW = 1u << 2,
    MW_QA_CIRRUS = 1u << 3,
    MW_QA_SNOW = 1u << 4,
    MW_QA_WATER = 1u << 5,
    MW_QA_SATURATED = 1u << 6,
    MW_QA_DARK = 1u << 7,
} mw_qa_flag;

typedef struct mw_qa_flag_info {
    uint8_t bit;
    const char *name;
    const char *meaning;
} mw_qa_flag_info;

MW_API extern const mw_qa_flag_info mw_qa_flags[];
MW_API extern const int mw_qa_nflags;
/* Default pixels left out of composites. */
#define MW_QA_DEFAULT_EXCLUDE                                                                      \
    (MW_QA_NODATA | MW_QA_SATURATED | MW_QA_CLOUD | MW_QA_SHADOW | MW_QA_CIRRUS)
MW_API int mw_qa_flag_by_name(const char *name); /* bit value, or 0 if unknown */

/* Sentinel-2 L2A scene classification (SCL) classes and the QA bits each sets. */
typedef struct mw_scl_class {
    uint8_t value;
    const char *name;
    uint8_t qa;
} mw_scl_class;

MW_API extern const mw_scl_class mw_scl_classes[12];
#define MW_SCL_CITATION                                                                            \
    "ESA Sentinel-2 Level-2A Algorithm Theoretical Basis Document (S2-PDGS-MPC-ATBD-L2A), scene "  \
    "classification: 0 no data, 1 saturated/defective, 2 dark area, 3 cloud shadow, 4 "            \
    "vegetation, "                                                                                 \
    "5 not vegetated, 6 water, 7 unclassified, 8 cloud medium prob., 9 cloud high prob., 10 thin " \
    "cirrus, 11 snow"
/* QA bits for an SCL value; values above 11 are treated as no data. */
static inline uint8_t mw_qa_from_scl(uint8_t scl)
{
    return scl < 12 ? mw_scl_classes[scl].qa : (uint8_t)MW_QA_NODATA;
}

/* Landsat Collection 2 QA_PIXEL: which QA bits each QA_PIXEL bit sets (bit index -> flags).
 * USGS LSDS-1619 table 6-3: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow,
 * 6 clear, 7 water. QA_RADSAT: bit n-1 set = band n saturated. */
typedef struct mw_qa_pixel_bit {
    uint8_t bit;
    const char *name;
    uint8_t qa;
} mw_qa_pixel_bit;
MW_API extern const mw_qa_pixel_bit mw_landsat_qa_pixel_bits[8];
MW_API uint8_t mw_qa_from_landsat(uint16_t qa_pixel, uint16_t qa_radsat);

/* Grow the flags in `bits` by r pixels (a (2r+1)^2 square) over a w x h QA band, in place;
 * scratch holds w*h bytes. Done on whole site windows, so results never depend on chunking. */
MW_API void mw_qa_dilate(uint8_t *qa, int w, int h, uint8_t bits, int r, uint8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif
