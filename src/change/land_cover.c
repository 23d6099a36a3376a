#include "minewatch/land_cover.h"

#include <math.h>

/* The bright-built rule separates spectrally flat surfaces (concrete, metal roofs, stockpiled
 * concentrate under sheds) from the iron-stained soils of laterite and sulphide mines, whose red
 * reflectance is well above their blue (the ferric-iron ratio). */
// clang-format off
const mw_cover_rule mw_cover_rules[MW_COVER_COUNT] = {
    {MW_COVER_NODATA, "no_data", "outside the site, or a band without a composite value", 0, "composite: fewer clear observations than min_clear_observations", {0, 0, 0}},
    {MW_COVER_WATER, "water", "MNDWI = (green-swir16)/(green+swir16) >= water_mndwi_min and NDVI < veg_ndvi_min", 0.0, "Xu H. 2006, Int. J. Remote Sens. 27(14):3025-3033 (MNDWI > 0: open water)", {0, 112, 255}},
    {MW_COVER_FOREST, "forest", "NDVI >= forest_ndvi_min (or the baseline forest map)", 0.70, "proxy for the GFW forest definition (>= 30 % canopy of trees >= 5 m; Hansen et al. 2013, Science 342:850)", {0, 100, 0}},
    {MW_COVER_OTHER_VEG, "other_vegetation", "NDVI >= veg_ndvi_min", 0.20, "Sobrino J.A. et al. 2004, Remote Sens. Environ. 90:434-440 (NDVI < 0.2: bare soil)", {140, 200, 90}},
    {MW_COVER_BUILT, "built_bright", "not vegetation, red/blue < built_iron_ratio_max (spectrally flat)", 1.40, "ferric-iron ratio red/blue (Segal D.B. 1982, Proc. Int. Symp. Remote Sensing of Environment, 2nd Thematic Conf. Exploration Geology): bare lateritic and gossan soils lie above", {200, 200, 200}},
    {MW_COVER_BARE, "bare_or_disturbed", "none of the above (pits, tailings, cleared and stripped ground)", 0, "the remainder", {200, 120, 60}},
};
// clang-format on

const char *mw_cover_name(mw_cover c)
{
    return c < MW_COVER_COUNT ? mw_cover_rules[c].name : "?";
}

mw_cover_thresholds mw_cover_default_thresholds(void)
{
    mw_cover_thresholds t = {
        mw_cover_rules[MW_COVER_WATER].threshold, mw_cover_rules[MW_COVER_FOREST].threshold,
        mw_cover_rules[MW_COVER_OTHER_VEG].threshold, mw_cover_rules[MW_COVER_BUILT].threshold};
    return t;
}

static inline double nd(double a, double b)
{
    return a + b != 0 ? (a - b) / (a + b) : NAN;
}

void mw_cover_classify(const float *const rows[MW_BAND_COUNT], size_t npix, const uint8_t *mask,
                       const mw_cover_thresholds *t, const uint8_t *forest_override, uint8_t *cover)
{
    const float *blue = rows[MW_BAND_BLUE], *green = rows[MW_BAND_GREEN], *red = rows[MW_BAND_RED],
                *nir = rows[MW_BAND_NIR], *swir = rows[MW_BAND_SWIR16];
    /* Without green and swir16 no pixel is called water; without blue none is called built. */
    const int can_water = green && swir, can_built = blue != NULL;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < npix; i++) {
        double b = can_built ? blue[i] : 0, g = can_water ? green[i] : 0, r = red[i], n = nir[i],
               s = can_water ? swir[i] : 0;
        double ndvi = nd(n, r), mndwi = can_water ? nd(g, s) : -INFINITY;
        uint8_t c;
        if ((mask && !mask[i]) || isnan(b) || isnan(g) || isnan(r) || isnan(n) || isnan(s) ||
            isnan(ndvi) || isnan(mndwi))
            c = MW_COVER_NODATA;
        else if (mndwi >= t->water_mndwi_min && ndvi < t->veg_ndvi_min)
            c = MW_COVER_WATER;
        else if (forest_override && forest_override[i] != 255)
            c = forest_override[i]                                      ? MW_COVER_FOREST
                : ndvi >= t->veg_ndvi_min                               ? MW_COVER_OTHER_VEG
                : can_built && b > 0 && r / b < t->built_iron_ratio_max ? MW_COVER_BUILT
                                                                        : MW_COVER_BARE;
        else if (ndvi >= t->forest_ndvi_min)
            c = MW_COVER_FOREST;
        else if (ndvi >= t->veg_ndvi_min)
            c = MW_COVER_OTHER_VEG;
        else if (can_built && b > 0 && r / b < t->built_iron_ratio_max)
            c = MW_COVER_BUILT;
        else
            c = MW_COVER_BARE;
        cover[i] = c;
    }
}

void mw_cover_transitions(const uint8_t *from, const uint8_t *to, size_t npix, const uint8_t *mask,
                          long counts[MW_COVER_COUNT * MW_COVER_COUNT])
{
    for (int k = 0; k < MW_COVER_COUNT * MW_COVER_COUNT; k++)
        counts[k] = 0;
    for (size_t i = 0; i < npix; i++)
        if (!mask || mask[i]) counts[from[i] * MW_COVER_COUNT + to[i]]++;
}
