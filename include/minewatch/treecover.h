/* Reference forest figures by the Global Forest Watch method: per polygon and year, tree-cover
 * area, tree-cover loss and gross emissions from Hansen et al. (2013) Global Forest Change
 * (treecover2000, lossyear) and Harris et al. (2021) gross emissions from forest loss
 * (Mg CO2e per pixel), with the semantics of mapme.biodiversity's
 * treecover_area_and_emissions (the R package's public source), which GFW users compare with:
 *
 *  - a pixel belongs to the polygon by the fraction of it inside (exact coverage, as
 *    mapme.biodiversity reads it through exactextractr); every sum is weighted by it;
 *  - forest in 2000: treecover2000 strictly greater than min_cover (GFW's "canopy density
 *    greater than 30 %");
 *  - forest patches: 4-connected forest pixels (mapme's terra::patches, directions = 4); a
 *    patch whose area inside the polygon is not greater than min_size_ha is not forest;
 *  - pixel area: the cell's area on the WGS 84 ellipsoid for geographic rasters (a band
 *    between two parallels, exact), the cell's plane area for projected ones;
 *  - loss in year Y: forest pixels with lossyear = Y - 2000; tree cover in year Y: forest of
 *    2000 less the loss of every year up to and including Y (cover at the end of year Y);
 *  - emissions in year Y: the emissions of the pixels lost in Y, weighted like the area.
 *
 * Where minewatch differs from mapme.biodiversity, and why:
 *  - patches are formed from the polygon's own pixels only; mapme forms them over the whole
 *    raster crop it was given, so its figures depend on how far the crop reaches beyond the
 *    polygon, which an auditor cannot see in the result;
 *  - emissions are weighted by the pixel's fraction inside the polygon, like the loss area;
 *    mapme adds a partly covered pixel's whole emissions while counting only its covered area,
 *    so its emissions per hectare lost are too high on small polygons (mine sites are small);
 *  - emissions must be on the tree-cover grid (GFW publishes them on it); mapme resamples
 *    bilinearly when they are not, which smears a per-pixel total. */
#ifndef MINEWATCH_TREECOVER_H
#define MINEWATCH_TREECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_GFC_CITATION                                                                            \
    "Hansen, M. C. et al. (2013) High-resolution global maps of 21st-century forest cover "        \
    "change. Science 342, 850-853. doi:10.1126/science.1244693"
#define MW_GFW_EMISSIONS_CITATION                                                                  \
    "Harris, N. L. et al. (2021) Global maps of twenty-first century forest carbon fluxes. "       \
    "Nature Climate Change 11, 234-240. doi:10.1038/s41558-020-00976-6"
#define MW_COVERAGE_CITATION                                                                       \
    "Baston, D. (2022) exactextract: fast and accurate raster zonal statistics "                   \
    "(https://github.com/isciences/exactextract)"
#define MW_TREECOVER_SEMANTICS                                                                     \
    "mapme.biodiversity treecover_area_and_emissions; exact pixel coverage; forest = "             \
    "treecover2000 > min_cover; 4-connected patches of the polygon's pixels kept when their area " \
    "> min_size_ha; WGS 84 ellipsoidal pixel areas; tree cover of year Y excludes the loss of "    \
    "years up to Y; emissions weighted by coverage (see minewatch/treecover.h)"

#define MW_GFC_NODATA 255 /* treecover2000 / lossyear pixels outside the rasters */

typedef struct mw_treecover_params {
    double min_cover_pct; /* forest: treecover2000 > this (0-100) */
    double min_size_ha;   /* patches of at most this area are not forest (>= 0) */
    int year_from, year_to;
} mw_treecover_params;

/* One polygon's window of the three layers, on one grid. */
typedef struct mw_treecover_window {
    int w, h;
    const uint8_t *treecover;  /* % 0-100; MW_GFC_NODATA where unknown */
    const uint8_t *lossyear;   /* 0 none, 1-254 = year - 2000; MW_GFC_NODATA where unknown */
    const float *emissions;    /* Mg CO2e per pixel, NaN where unknown; NULL: not given */
    const float *coverage;     /* fraction of each cell inside the polygon */
    const double *row_area_ha; /* area of one whole cell of each row */
} mw_treecover_window;

typedef struct mw_treecover_year {
    int year;
    double treecover_ha, loss_ha, emissions_mg_co2e; /* emissions NaN: not known */
} mw_treecover_year;

typedef struct mw_treecover_stats {
    long pixels;         /* cells at least partly inside the polygon */
    long unknown_pixels; /* of those, without treecover2000 or lossyear (outside the rasters) */
    long loss_pixels_without_emissions; /* lost forest pixels whose emissions are NaN */
} mw_treecover_stats;

/* Figures for years p->year_from..year_to into years[] (one per year). Fails (MW_ERR_INPUT)
 * when part of the polygon has no treecover2000 or lossyear: figures over a part of a site
 * would look like figures for all of it. Emissions are NaN when the window has none, or when
 * a lost pixel's emissions are unknown (counted in stats). Returns 0 or -1. */
MW_API int mw_treecover_figures(const mw_treecover_window *win, const mw_treecover_params *p,
                                mw_treecover_year *years, mw_treecover_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
