/* Read only the site window of a raster, resampled onto the site grid (GDAL warp API). */
#ifndef MINEWATCH_WARP_H
#define MINEWATCH_WARP_H

#include "minewatch/export.h"
#include "minewatch/grid.h"
#include "minewatch/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_resample {
    MW_RESAMPLE_NEAREST,
    MW_RESAMPLE_BILINEAR,
    MW_RESAMPLE_CUBIC
} mw_resample;

typedef struct mw_warp_spec {
    mw_resample resample;
    int gdal_type;      /* GDT_Float32 (no data -> NaN), GDT_Byte or GDT_UInt16 */
    int has_src_nodata; /* source DN meaning no data (left out of resampling) */
    double src_nodata;
    double fill;          /* integer outputs: value where the source has nothing */
    int any_format;       /* 0: GeoTIFF and JPEG 2000 only, formats that hold pixels and never name
                             other files (a scene asset from someone else's catalogue: a VRT could
                             make GDAL read any local file); 1: any GDAL raster (the user's own map) */
    int gdal_warper_only; /* 1: never the direct read below (tests compare the two) */
} mw_warp_spec;

/* Warps band 1 of the asset onto g into out (width*height values of spec->gdal_type). Returns 0,
 * or -1 with an error naming the asset's href (never its signature).
 * A raster in the grid's CRS whose pixels are the grid's or a whole multiple of them (Sentinel-2's
 * 10 and 20 m bands on a 10 m UTM grid), with nearest or bilinear resampling, is read directly
 * instead: the grid's pixel centres are one translation from the source's, on its lattice or off
 * it by a co-registration shift, so each value is computed from the source window without GDAL's
 * per-pixel transform and masks: bit for bit the value GDAL's warper gives (tested on real tiles,
 * with and without no data, shifted and not). Cubic, or another CRS, goes through the warper. */
MW_API int mw_warp_to_grid(const mw_scene_asset *src, const mw_grid *g, const mw_warp_spec *spec,
                           void *out);
/* 1 if the asset is read directly onto g (above), 0 if through GDAL's warper, -1 with an error if
 * it cannot be opened. */
MW_API int mw_warp_reads_directly(const mw_scene_asset *src, const mw_grid *g,
                                  const mw_warp_spec *spec);
MW_API const char *mw_resample_name(mw_resample r);

#ifdef __cplusplus
}
#endif

#endif
