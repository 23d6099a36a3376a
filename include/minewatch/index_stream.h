/* A spectral index over whole rasters, streamed in row strips: the engine of `minewatch index`. */
#ifndef MINEWATCH_INDEX_STREAM_H
#define MINEWATCH_INDEX_STREAM_H

#include <math.h>
#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/spectral_index.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_index_input {
    const char *path;     /* NULL when the index does not use the band */
    int band;             /* 1-based band number in the file */
    double scale, offset; /* reflectance = DN * scale + offset */
    int has_nodata;
    double nodata; /* DN meaning no data (default: the file's own no-data value) */
} mw_index_input;

/* Written where the index has no value: one quiet NaN, as every real-valued map has it (and one
 * bit pattern, so outputs stay byte-identical whatever NaN a computation made). */
#define MW_INDEX_NODATA NAN

typedef struct mw_index_options {
    size_t mem_budget_bytes; /* all strips in flight, all threads */
    int chunk_rows;          /* 0: from the budget; rounded to whole tile rows */
    int cog;                 /* write a COG (via a temporary tiled GeoTIFF) */
    const char *compress; /* GTiff COMPRESS: "DEFLATE" (default when NULL), "NONE", "ZSTD", "LZW" */
    /* 1: the computation may lower GDAL's block cache, a process-wide setting, for its duration
     * (put back on return): every block is read directly, and a cache under one block per band
     * keeps GTiff from copying the other bands of pixel-interleaved blocks into it (a fifth of
     * the run on such files). 0: GDAL's settings are left alone (a host program's own reads may
     * run beside). The CLI passes 1. */
    int may_set_block_cache;
} mw_index_options;

/* Computes ix from inputs (indexed by mw_band) into a Float32 tiled GeoTIFF at out_path, whole or
 * not at all. Bands on different grids are aligned to the finest one (GDAL VRT, nearest). The
 * file's bytes do not depend on the thread count or the chunk size. */
MW_API int mw_index_compute(const mw_spectral_index *ix, const mw_index_input inputs[MW_BAND_COUNT],
                            const char *out_path, const mw_index_options *o);

#ifdef __cplusplus
}
#endif

#endif
