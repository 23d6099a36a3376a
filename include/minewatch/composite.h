/* Per-period composites from clear observations only, streamed in row chunks. */
#ifndef MINEWATCH_COMPOSITE_H
#define MINEWATCH_COMPOSITE_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/chip.h"
#include "minewatch/grid.h"

/* Rows per chunk so that every thread's scratch fits in budget_bytes in all. */
int mw_composite_chunk_rows(const mw_grid *g, size_t nchips, int nbands, int nthreads,
                            size_t budget_bytes);

/* Per-band median of the clear observations (QA & exclude == 0, all bands finite) of each pixel
 * inside the mask. out[b] holds width*height values (NaN where fewer than min_obs clear
 * observations or outside the mask); nclear receives the count. Identical results for any
 * chunk_rows and thread count: each pixel is computed alone, in a fixed order of chips. */
int mw_composite_median(const mw_chip *chips, size_t nchips, int nbands, const mw_grid *g,
                        const uint8_t *mask, uint8_t qa_exclude, int min_obs, int chunk_rows,
                        float *const *out, uint16_t *nclear);

#endif
