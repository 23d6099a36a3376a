#include "minewatch/sensor.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LANDSAT_C2L2                                                                               \
    "USGS Landsat Collection 2 Level-2 Science Product Guide (LSDS-1619): SR = DN x 2.75e-5 - "    \
    "0.2, fill 0; QA_PIXEL bits 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 shadow, 5 snow, 6 "  \
    "clear, 7 water"

/* Bands in mw_band order: blue, green, red, nir, nir08, swir16, swir22. Landsat has one NIR band,
 * which serves as both nir and nir08. */
const mw_sensor_info mw_sensors[MW_SENSOR_COUNT] = {
    {MW_SENSOR_S2_MSI,
     "S2",
     "Sentinel-2 MSI",
     {"B02", "B03", "B04", "B08", "B8A", "B11", "B12"},
     {10, 10, 10, 10, 20, 20, 20},
     MW_QA_FROM_SCL,
     MW_S2_HARMONISATION_CITATION},
    {MW_SENSOR_LANDSAT_OLI,
     "LO",
     "Landsat 8/9 OLI",
     {"B2", "B3", "B4", "B5", "B5", "B6", "B7"},
     {30, 30, 30, 30, 30, 30, 30},
     MW_QA_FROM_QA_PIXEL,
     LANDSAT_C2L2},
    {MW_SENSOR_LANDSAT_ETM,
     "LE",
     "Landsat 7 ETM+",
     {"B1", "B2", "B3", "B4", "B4", "B5", "B7"},
     {30, 30, 30, 30, 30, 30, 30},
     MW_QA_FROM_QA_PIXEL,
     LANDSAT_C2L2},
    {MW_SENSOR_LANDSAT_TM,
     "LT",
     "Landsat 4/5 TM",
     {"B1", "B2", "B3", "B4", "B4", "B5", "B7"},
     {30, 30, 30, 30, 30, 30, 30},
     MW_QA_FROM_QA_PIXEL,
     LANDSAT_C2L2},
};

int mw_sensor_from_platform(const char *platform, const char *id)
{
    if (platform && *platform) {
        char p[64];
        size_t n = 0;
        for (const char *c = platform; *c && n + 1 < sizeof p; c++)
            if (isalnum((unsigned char)*c)) p[n++] = (char)tolower((unsigned char)*c);
        p[n] = 0;
        if (strncmp(p, "sentinel2", 9) == 0) return MW_SENSOR_S2_MSI;
        if (strcmp(p, "landsat8") == 0 || strcmp(p, "landsat9") == 0) return MW_SENSOR_LANDSAT_OLI;
        if (strcmp(p, "landsat7") == 0) return MW_SENSOR_LANDSAT_ETM;
        if (strcmp(p, "landsat5") == 0 || strcmp(p, "landsat4") == 0) return MW_SENSOR_LANDSAT_TM;
    }
    if (id) {
        if (strncmp(id, "S2A", 3) == 0 || strncmp(id, "S2B", 3) == 0 || strncmp(id, "S2C", 3) == 0)
            return MW_SENSOR_S2_MSI;
        if (strncmp(id, "LC08", 4) == 0 || strncmp(id, "LC09", 4) == 0)
            return MW_SENSOR_LANDSAT_OLI;
        if (strncmp(id, "LE07", 4) == 0) return MW_SENSOR_LANDSAT_ETM;
        if (strncmp(id, "LT05", 4) == 0 || strncmp(id, "LT04", 4) == 0) return MW_SENSOR_LANDSAT_TM;
    }
    return -1;
}

int mw_sensor_band_from_native(const mw_sensor_info *s, const char *native)
{
    if (strncasecmp(native, "SR_", 3) == 0) native += 3;
    char nb[16];
    size_t n = strcspn(native, ".");
    if (n == 0 || n >= sizeof nb) return -1;
    memcpy(nb, native, n);
    nb[n] = 0;
    for (int b = 0; b < MW_BAND_COUNT; b++)
        if (s->native[b] && strcasecmp(s->native[b], nb) == 0) return b;
    return -1;
}
