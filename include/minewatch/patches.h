/* Patches: 8-connected components of a mask (forest loss, disturbance), labelled in row chunks
 * across threads and joined across chunk borders, with a minimum mapping unit. Labels are
 * numbered by each patch's first pixel in raster order, so they never depend on the chunking. */
#ifndef MINEWATCH_PATCHES_H
#define MINEWATCH_PATCHES_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_patch {
    int32_t id;         /* 1.. in raster order of first pixel */
    long npix;          /* pixels */
    int x0, y0, x1, y1; /* bounding box, inclusive */
    double value_sum;   /* sum of value over the patch's pixels (NaN skipped) */
    long value_n;       /* pixels with a finite value */
} mw_patch;

/* labels[w*h] receives 0 outside any kept patch, else the patch id. Patches of fewer than
 * min_pixels are dropped (the minimum mapping unit). value may be NULL. *patches (caller frees)
 * lists the kept patches in id order. Returns 0, or -1 (memory, or a raster of 2^31 pixels). */
MW_API int mw_patches_label(const uint8_t *mask, const float *value, int w, int h, int chunk_rows,
                            long min_pixels, int32_t *labels, mw_patch **patches, size_t *npatches);

#ifdef __cplusplus
}
#endif

#endif
