/* Processing-site heat as an activity proxy: hot pixels in each scene of a period, by the
 * thermal anomaly rules of Liu et al. (2021) on the SWIR bands the chips carry. A furnace or
 * flare saturates the SWIR detector: those pixels, left out of composites as bad data, are kept
 * here (flagged saturated) because they are the hottest. */
#ifndef MW_SITE_HEAT_H
#define MW_SITE_HEAT_H

#include <jansson.h>

#include "minewatch/grid.h"
#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "pipeline/site_stack.h"

/* swir22 - swir16 at least this (reflectance): minewatch's floor, not Liu et al.'s, against
 * noise passing the ratio on dark surfaces */
#define MW_HEAT_MIN_EXCESS 0.05
#define MW_HEAT_RULE                                                                               \
    "hot pixel: TAI = (swir22 - swir16) / nir08 >= 0.45 and swir22 - swir16 >= swir16 - nir08 "    \
    "(Liu et al. 2021), and swir22 - swir16 >= 0.05 (minewatch's floor: on dark surfaces such as " \
    "water, sensor noise alone passes the ratio), in the site, observed and not cloud, shadow or " \
    "cirrus; saturated pixels "                                                                    \
    "count (they are the hottest). nir08 is B8A where the chips carry it, else nir (B08). "        \
    "hot_pixel_days: hot pixels summed over the period's scenes; max_tai: the largest TAI of "     \
    "those pixels. The NHI of Marchese et al. (2019) are not used to count: they are defined on "  \
    "TOA radiance, and on surface reflectance NHI_SWNIR > 0 holds for bare soil"
#define MW_HEAT_CITATION                                                                           \
    "Liu Y., Zhi W., Xu B., Xu W. & Wu W. 2021, Detecting high-temperature anomalies from "        \
    "Sentinel-2 MSI images, ISPRS J. Photogramm. Remote Sens. 177:174-193"

/* hot_pixel_days and max_tai of one period from its chips; a scene's count goes into its
 * provenance entry. Leaves the row's cells empty when the chips lack swir16 or swir22.
 * Returns 0, or -1 with an error (a chip that cannot be read). */
int mw_site_heat(const mw_pipeline *p, const mw_grid *g, const uint8_t *mask,
                 const period_stack *ps, mw_indicator_row *row);

#endif
