/* The spectral index registry: one table drives the kernels, the CLI help and provenance. */
#ifndef MINEWATCH_SPECTRAL_INDEX_H
#define MINEWATCH_SPECTRAL_INDEX_H

#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/band.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pixel's harmonised reflectances indexed by mw_band; NaN means no data. */
typedef double (*mw_index_fn)(const double *rho);

typedef struct mw_spectral_index {
    const char *name;
    const char *formula;
    mw_band bands[4];
    int nbands;
    double valid_min, valid_max; /* values outside are no data */
    mw_index_fn fn;
    const char *citation;
    int normalised_difference; /* 1: (bands[0]-bands[1])/(bands[0]+bands[1]), computed by a SIMD
                                  loop */
} mw_spectral_index;

MW_API extern const mw_spectral_index mw_spectral_indices[];
MW_API extern const int mw_spectral_nindices;
MW_API const mw_spectral_index *mw_spectral_index_find(const char *name);

/* out[i] = index of pixel i; rows[b] points at band b's values (only the index's bands are read).
 * NaN in, zero denominators and values outside the valid range give NaN (no data). */
MW_API void mw_spectral_index_row(const mw_spectral_index *ix,
                                  const float *const rows[MW_BAND_COUNT], float *out, size_t n);
/* The same from raw numbers: reflectance = row * scale[b] + offset[b], taken in double precision
 * so that near-zero reflectances keep their digits. */
MW_API void mw_spectral_index_row_dn(const mw_spectral_index *ix,
                                     const float *const rows[MW_BAND_COUNT],
                                     const double scale[MW_BAND_COUNT],
                                     const double offset[MW_BAND_COUNT], float *out, size_t n);
/* The same for rows of whole DN below 2^22 in magnitude (8- and 16-bit files): a normalised
 * difference whose offsets are whole DN is computed in the DN domain, exactly up to the one
 * rounding of its division (Sentinel-2's -1000 DN offset is; Landsat's -0.2 at 2.75e-5 is not and
 * takes the double path). */
MW_API void mw_spectral_index_row_int(const mw_spectral_index *ix,
                                      const float *const rows[MW_BAND_COUNT],
                                      const double scale[MW_BAND_COUNT],
                                      const double offset[MW_BAND_COUNT], float *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
