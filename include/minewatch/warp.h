/* Read only the site window of a raster, resampled onto the site grid (GDAL warp API). */
#ifndef MINEWATCH_WARP_H
#define MINEWATCH_WARP_H

#include "minewatch/grid.h"

typedef enum mw_resample { MW_RESAMPLE_NEAREST, MW_RESAMPLE_BILINEAR } mw_resample;

/* Warps band 1 of src onto g. float_out: Float32 with NaN where no source data (src_nodata is the
 * source's no-data DN); otherwise Byte, 0 where not covered. Returns 0, or -1 naming the file. */
int mw_warp_to_grid(const char *src, double src_nodata, const mw_grid *g, mw_resample rs,
                    float *float_out, unsigned char *byte_out);

#endif
