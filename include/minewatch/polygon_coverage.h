/* Exact coverage of raster cells by a polygon: for every cell of a window, the fraction of it
 * inside the polygon (0 to 1), as exactextract computes it (Baston 2022), so a pixel on a site's
 * edge counts for the part of it that lies in the site, not all or nothing.
 *
 * Method: by Green's theorem the area of polygon P inside cell [a,b] x [c,d] is the integral
 * along P's boundary of (clamp(x, a, b) - a) dy over the part of the boundary with c <= y <= d.
 * Each edge is cut at the row and column lines it crosses; a piece in column k adds its exact
 * integral to cell k and its full height to every cell left of k in that row (a running sum).
 * Cost: the cells the boundary crosses plus one pass over the window; no cell is tested
 * against the polygon. Holes and either ring orientation are handled. */
#ifndef MINEWATCH_POLYGON_COVERAGE_H
#define MINEWATCH_POLYGON_COVERAGE_H

#include <stddef.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_ring {
    const double *xy; /* x0 y0 x1 y1 ... in cell units of the window (col, row); closed or not */
    size_t n;         /* vertices */
    int hole;         /* 1: an interior ring (its area is taken away) */
} mw_ring;

/* coverage[w*h] receives the fraction of each cell of the window [0,w) x [0,h) inside the
 * polygon made of the rings (parts of a multipolygon may be given together). Rings may reach
 * outside the window; only the cells inside are written. Returns 0, or -1 (memory). */
MW_API int mw_polygon_coverage(const mw_ring *rings, size_t nrings, int w, int h, float *coverage);

#ifdef __cplusplus
}
#endif

#endif
