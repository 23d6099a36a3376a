/* Period composites from the datacube's chips, streamed in row chunks across threads (the
 * kernel: minewatch/composite.h). */
#ifndef MINEWATCH_CHIP_COMPOSITE_H
#define MINEWATCH_CHIP_COMPOSITE_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/chip.h"
#include "minewatch/composite.h"
#include "minewatch/grid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows per chunk so that every thread's scratch fits in budget_bytes in all. */
MW_API int mw_composite_chunk_rows(const mw_grid *g, size_t nchips, int nbands, int nthreads,
                                   size_t budget_bytes);

/* From chips (in date order), in row chunks across threads; chunks the mask leaves empty are
 * never read. Identical results for any chunk_rows and thread count: each pixel is computed alone,
 * from the chips in a fixed order, ties going to the earlier chip. */
MW_API int mw_composite_chips(const mw_chip *chips, size_t nchips, int nbands, const mw_grid *g,
                              const uint8_t *mask, const mw_composite_spec *s, int chunk_rows,
                              const mw_composite_result *out);

#ifdef __cplusplus
}
#endif

#endif
