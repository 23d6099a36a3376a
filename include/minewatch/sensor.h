/* Sensors: how each one's native bands map onto the harmonised bands, and where its QA lives. */
#ifndef MINEWATCH_SENSOR_H
#define MINEWATCH_SENSOR_H

#include "minewatch/export.h"
#include "minewatch/band.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_sensor {
    MW_SENSOR_S2_MSI,
    MW_SENSOR_LANDSAT_OLI, /* Landsat 8 and 9 */
    MW_SENSOR_LANDSAT_ETM, /* Landsat 7 */
    MW_SENSOR_LANDSAT_TM,  /* Landsat 4 and 5 */
    MW_SENSOR_COUNT
} mw_sensor;

typedef enum mw_qa_source {
    MW_QA_FROM_SCL,      /* Sentinel-2 L2A scene classification */
    MW_QA_FROM_QA_PIXEL, /* Landsat Collection 2 QA_PIXEL bits (+ QA_RADSAT) */
    MW_QA_FROM_CLASSES,  /* a scene manifest's mask: its values mapped to QA flags */
} mw_qa_source;

typedef struct mw_sensor_info {
    mw_sensor id;
    const char *code; /* short code used in chip names */
    const char *name;
    const char *native[MW_BAND_COUNT]; /* native band id per harmonised band, NULL if none */
    double res_m[MW_BAND_COUNT];       /* native resolution */
    mw_qa_source qa;
    const char *radiometry_citation; /* where DN -> reflectance comes from */
} mw_sensor_info;

MW_API extern const mw_sensor_info mw_sensors[MW_SENSOR_COUNT];

/* From a STAC platform ("sentinel-2a", "Sentinel-2B", "LANDSAT_8", "landsat-9") or, failing
 * that, a product id prefix (S2A_, LC08_, LE07_, LT05_). -1 if unknown. */
MW_API int mw_sensor_from_platform(const char *platform, const char *product_id);
/* The harmonised band a native band id names ("B04", "B4", "SR_B4"), or -1. */
MW_API int mw_sensor_band_from_native(const mw_sensor_info *s, const char *native);

/* Landsat Collection 2 Level-2 surface reflectance: rho = DN * 2.75e-5 - 0.2, fill DN 0.
 * USGS, Landsat 8-9 Collection 2 Level 2 Science Product Guide (LSDS-1619), section 4. */
#define MW_LANDSAT_C2L2_SCALE 2.75e-5
#define MW_LANDSAT_C2L2_OFFSET (-0.2)

#ifdef __cplusplus
}
#endif

#endif
