#include "minewatch/band.h"

#include <string.h>
#include <strings.h>

/* Wavelengths: ESA Sentinel-2 MSI spectral response functions, S2A (COPE-GSEG-EOPG-TN-15-0007). */
const mw_band_info mw_bands[MW_BAND_COUNT] = {
    {MW_BAND_BLUE, "blue", "B02", 10, 492.7},      {MW_BAND_GREEN, "green", "B03", 10, 559.8},
    {MW_BAND_RED, "red", "B04", 10, 664.6},        {MW_BAND_NIR, "nir", "B08", 10, 832.8},
    {MW_BAND_NIR08, "nir08", "B8A", 20, 864.7},    {MW_BAND_SWIR16, "swir16", "B11", 20, 1613.7},
    {MW_BAND_SWIR22, "swir22", "B12", 20, 2202.4},
};

const mw_band_info *mw_band_by_name(const char *name)
{
    for (int i = 0; i < MW_BAND_COUNT; i++)
        if (strcasecmp(name, mw_bands[i].name) == 0 || strcasecmp(name, mw_bands[i].s2_name) == 0)
            return &mw_bands[i];
    return NULL;
}
