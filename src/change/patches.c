#include "minewatch/patches.h"

#include <math.h>
#include <stdlib.h>

#include <omp.h>

#include "minewatch/error.h"

/* Union-find over pixel indices; the root of a set is its smallest index, which makes the result
 * independent of the order unions happen in. */
static int32_t find(int32_t *parent, int32_t p)
{
    int32_t r = p;
    while (parent[r] != r)
        r = parent[r];
    while (parent[p] != r) { /* path compression */
        int32_t next = parent[p];
        parent[p] = r;
        p = next;
    }
    return r;
}

static void join(int32_t *parent, int32_t a, int32_t b)
{
    a = find(parent, a), b = find(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

/* Joins pixel (x, y) to its set neighbours on row y-1 (8-connected). */
static void join_up(const uint8_t *mask, int32_t *parent, int w, int x, int y)
{
    const int32_t p = (int32_t)((size_t)y * w + x);
    for (int dx = -1; dx <= 1; dx++) {
        const int xx = x + dx;
        if (xx < 0 || xx >= w) continue;
        const int32_t q = (int32_t)((size_t)(y - 1) * w + xx);
        if (mask[q]) join(parent, p, q);
    }
}

int mw_patches_label(const uint8_t *mask, const float *value, int w, int h, int chunk_rows,
                     long min_pixels, int32_t *labels, mw_patch **patches, size_t *npatches)
{
    *patches = NULL, *npatches = 0;
    const size_t n = (size_t)w * h;
    if (n >= (size_t)INT32_MAX)
        return mw_error_set(MW_ERR_INPUT, "patch labelling: %d x %d pixels is too many", w, h);
    if (chunk_rows < 1) chunk_rows = h;
    int32_t *parent = malloc(n * sizeof *parent + 1);
    if (!parent) return mw_error_set(MW_ERR_NOMEM, "patch labelling: out of memory");
    const int nchunks = (h + chunk_rows - 1) / chunk_rows;
    /* Each chunk on its own: unions stay inside the chunk's pixels, so threads never meet. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nchunks; c++) {
        const int r0 = c * chunk_rows, r1 = r0 + chunk_rows < h ? r0 + chunk_rows : h;
        for (int y = r0; y < r1; y++)
            for (int x = 0; x < w; x++) {
                const int32_t p = (int32_t)((size_t)y * w + x);
                parent[p] = p;
                if (!mask[p]) continue;
                if (x > 0 && mask[p - 1]) join(parent, p, p - 1);
                if (y > r0) join_up(mask, parent, w, x, y);
            }
    }
    /* Then the chunk borders, in order. */
    for (int c = 1; c < nchunks; c++) {
        const int y = c * chunk_rows;
        for (int x = 0; x < w; x++)
            if (mask[(size_t)y * w + x]) join_up(mask, parent, w, x, y);
    }
    /* Number sets by their root (first pixel in raster order) and gather their statistics. */
    size_t cap = 64, np = 0;
    mw_patch *pt = malloc(cap * sizeof *pt);
    int rc = pt ? 0 : -1;
    for (size_t p = 0; p < n && rc == 0; p++) {
        if (!mask[p]) {
            labels[p] = 0;
            continue;
        }
        const int32_t r = find(parent, (int32_t)p);
        const int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
        if ((size_t)r == p) {
            if (np == cap) {
                mw_patch *m = realloc(pt, 2 * cap * sizeof *pt);
                if (!m) {
                    rc = -1;
                    break;
                }
                pt = m, cap *= 2;
            }
            pt[np] = (mw_patch){(int32_t)(np + 1), 0, x, y, x, y, 0, 0};
            labels[p] = (int32_t)++np;
        } else {
            labels[p] = labels[r]; /* r < p: already numbered */
        }
        mw_patch *q = &pt[labels[p] - 1];
        q->npix++;
        if (x < q->x0) q->x0 = x;
        if (x > q->x1) q->x1 = x;
        q->y1 = y;
        if (value && isfinite(value[p])) q->value_sum += value[p], q->value_n++;
    }
    free(parent);
    if (rc) {
        free(pt);
        return mw_error_set(MW_ERR_NOMEM, "patch labelling: out of memory");
    }
    /* The minimum mapping unit: small patches go, the rest are renumbered in the same order. */
    int32_t *renum = malloc((np + 1) * sizeof *renum);
    if (!renum) {
        free(pt);
        return mw_error_set(MW_ERR_NOMEM, "patch labelling: out of memory");
    }
    size_t kept = 0;
    renum[0] = 0;
    for (size_t i = 0; i < np; i++) {
        if (pt[i].npix < min_pixels) {
            renum[i + 1] = 0;
            continue;
        }
        pt[kept] = pt[i];
        pt[kept].id = (int32_t)(kept + 1);
        renum[i + 1] = (int32_t)++kept;
    }
    for (size_t p = 0; p < n; p++)
        labels[p] = renum[labels[p]];
    free(renum);
    *patches = pt, *npatches = kept;
    return 0;
}
