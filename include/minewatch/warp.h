/* Read only the site window of a raster, resampled onto the site grid (GDAL warp API). */
#ifndef MINEWATCH_WARP_H
#define MINEWATCH_WARP_H

#include "minewatch/grid.h"
#include "minewatch/scene.h"

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
    double fill;    /* integer outputs: value where the source has nothing */
    int any_format; /* 0: GeoTIFF and JPEG 2000 only, formats that hold pixels and never name
                       other files (a scene asset from someone else's catalogue: a VRT could
                       make GDAL read any local file); 1: any GDAL raster (the user's own map) */
} mw_warp_spec;

/* Warps band 1 of the asset onto g into out (width*height values of spec->gdal_type). Returns 0,
 * or -1 with an error naming the asset's href (never its signature). */
int mw_warp_to_grid(const mw_scene_asset *src, const mw_grid *g, const mw_warp_spec *spec,
                    void *out);
const char *mw_resample_name(mw_resample r);

#endif
