/* Exact cell coverage of a polygon; the method is in minewatch/polygon_coverage.h. */
#include "minewatch/polygon_coverage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"

typedef struct edge {
    double x0, y0, x1, y1; /* y0 < y1 */
    double sign;           /* +1 or -1: direction along y times the ring's sign */
} edge;

static int by_ymin(const void *a, const void *b)
{
    const edge *p = a, *q = b;
    return (p->y0 > q->y0) - (p->y0 < q->y0);
}

static double ring_area2(const mw_ring *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = (i + 1) % n;
        s += r->xy[2 * i] * r->xy[2 * j + 1] - r->xy[2 * j] * r->xy[2 * i + 1];
    }
    return s;
}

/* The part of e with ylo <= y <= yhi, in the row whose cells get cov and lt (lt[k]: added to
 * every cell left of column k; lt[w]: to every cell of the row). */
static void add_piece(const edge *e, double ylo, double yhi, int w, double *cov, double *lt)
{
    double dxdy = (e->x1 - e->x0) / (e->y1 - e->y0);
    double xl = e->x0 + (ylo - e->y0) * dxdy, xh = e->x0 + (yhi - e->y0) * dxdy;
    /* walk from the end with the smaller x to the larger, cutting at the column lines in
     * [0, w]: the part left of the window adds nothing, the part right of it adds to every cell */
    double xa = xl, ya = ylo, xb_end = xh, yb_end = yhi;
    if (xl > xh) xa = xh, ya = yhi, xb_end = xl, yb_end = ylo;
    double first = floor(xa) + 1, last = ceil(xb_end) - 1;
    if (first < 0) first = 0;
    if (last > w) last = w;
    for (double X = first;; X++) {
        double xb, yb;
        if (X <= last) {
            xb = X;
            yb = fabs(dxdy) > 0 ? e->y0 + (X - e->x0) / dxdy : ya;
            if (yb < ylo) yb = ylo;
            if (yb > yhi) yb = yhi;
        } else {
            xb = xb_end, yb = yb_end;
        }
        double dy = fabs(yb - ya) * e->sign;
        double mid = 0.5 * (xa + xb);
        double k = floor(mid);
        if (k >= w) {
            lt[w] += dy;
        } else if (k >= 0) {
            int ki = (int)k;
            cov[ki] += (mid - k) * dy;
            lt[ki] += dy;
        }
        if (X > last) break;
        xa = xb, ya = yb;
    }
}

int mw_polygon_coverage(const mw_ring *rings, size_t nrings, int w, int h, float *coverage)
{
    if (w <= 0 || h <= 0) return 0;
    size_t nedges = 0;
    for (size_t r = 0; r < nrings; r++)
        nedges += rings[r].n;
    edge *edges = malloc((nedges ? nedges : 1) * sizeof *edges);
    double *cov = calloc((size_t)w + 1, sizeof *cov), *lt = calloc((size_t)w + 1, sizeof *lt);
    size_t *active = malloc((nedges ? nedges : 1) * sizeof *active);
    if (!edges || !cov || !lt || !active) {
        free(edges), free(cov), free(lt), free(active);
        return mw_error_set(MW_ERR_NOMEM, "polygon coverage: out of memory (%zu edges)", nedges);
    }
    size_t ne = 0;
    for (size_t r = 0; r < nrings; r++) {
        const mw_ring *ring = &rings[r];
        size_t n = ring->n;
        if (n >= 2 && ring->xy[0] == ring->xy[2 * (n - 1)] &&
            ring->xy[1] == ring->xy[2 * (n - 1) + 1])
            n--; /* closed ring: the last vertex repeats the first */
        if (n < 3) continue;
        double a2 = ring_area2(ring, n);
        if (a2 == 0 || !isfinite(a2)) continue;
        /* Green's theorem counts area positively on a ring with positive shoelace area */
        double ring_sign = (a2 > 0 ? 1.0 : -1.0) * (ring->hole ? -1.0 : 1.0);
        for (size_t i = 0; i < n; i++) {
            size_t j = (i + 1) % n;
            double x0 = ring->xy[2 * i], y0 = ring->xy[2 * i + 1];
            double x1 = ring->xy[2 * j], y1 = ring->xy[2 * j + 1];
            if (y0 == y1) continue; /* no dy: adds nothing */
            edge *e = &edges[ne++];
            if (y0 < y1)
                *e = (edge){x0, y0, x1, y1, ring_sign};
            else
                *e = (edge){x1, y1, x0, y0, -ring_sign};
        }
    }
    qsort(edges, ne, sizeof *edges, by_ymin);
    size_t next = 0, nactive = 0;
    for (int row = 0; row < h; row++) {
        double top = row, bottom = row + 1.0;
        while (next < ne && edges[next].y0 < bottom) {
            if (edges[next].y1 > top) active[nactive++] = next;
            next++;
        }
        memset(cov, 0, ((size_t)w + 1) * sizeof *cov);
        memset(lt, 0, ((size_t)w + 1) * sizeof *lt);
        size_t keep = 0;
        for (size_t a = 0; a < nactive; a++) {
            const edge *e = &edges[active[a]];
            if (e->y1 <= top) continue; /* ended above this row: drop it */
            active[keep++] = active[a];
            double ylo = e->y0 > top ? e->y0 : top, yhi = e->y1 < bottom ? e->y1 : bottom;
            if (yhi > ylo) add_piece(e, ylo, yhi, w, cov, lt);
        }
        nactive = keep;
        float *out = coverage + (size_t)row * (size_t)w;
        double left = lt[w];
        for (int x = w - 1; x >= 0; x--) {
            double c = cov[x] + left;
            left += lt[x];
            /* rounding leaves cells outside the polygon at 1e-16, not 0: snap them */
            out[x] = c < 1e-9 ? 0.0f : c > 1 - 1e-9 ? 1.0f : (float)c;
        }
    }
    free(edges), free(cov), free(lt), free(active);
    return 0;
}
