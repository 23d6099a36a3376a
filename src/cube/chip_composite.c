/* Compositing chips from the datacube: row chunks read on every thread, the kernel of
 * kernels/composite.c over each; see minewatch/chip_composite.h. */
#include "minewatch/chip_composite.h"

#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <omp.h>

#include "minewatch/error.h"

int mw_composite_chunk_rows(const mw_grid *g, size_t nchips, int nbands, int nthreads,
                            size_t budget_bytes)
{
    size_t per_row = (size_t)g->width * (nchips * ((size_t)nbands * sizeof(float) + 1) + 1);
    size_t rows = budget_bytes / ((size_t)(nthreads > 0 ? nthreads : 1) * (per_row ? per_row : 1));
    if (rows < 1) rows = 1;
    if (rows > (size_t)g->height) rows = (size_t)g->height;
    return (int)rows;
}

typedef struct thread_state {
    GDALDatasetH *refl, *qa; /* one handle per chip, owned by this thread */
    float *buf;              /* nchips x nbands x chunk pixels */
    uint8_t *qbuf;           /* nchips x chunk pixels */
    float *gather;           /* nbands x nchips */
    const float **v;         /* nchips x nbands plane pointers into buf */
    const uint8_t **q;       /* nchips plane pointers into qbuf */
} thread_state;

static void state_free(thread_state *t, size_t nchips)
{
    for (size_t c = 0; c < nchips; c++) {
        if (t->refl && t->refl[c]) GDALClose(t->refl[c]);
        if (t->qa && t->qa[c]) GDALClose(t->qa[c]);
    }
    free(t->refl), free(t->qa), free(t->buf), free(t->qbuf), free(t->gather);
    free(t->v), free(t->q);
}

static int state_init(thread_state *t, const mw_chip *chips, size_t nchips, int nbands,
                      size_t chunk_px)
{
    memset(t, 0, sizeof *t);
    t->refl = calloc(nchips, sizeof *t->refl);
    t->qa = calloc(nchips, sizeof *t->qa);
    t->buf = malloc(nchips * (size_t)nbands * chunk_px * sizeof *t->buf);
    t->qbuf = malloc(nchips * chunk_px);
    t->gather = malloc((size_t)nbands * nchips * sizeof *t->gather + 1);
    t->v = malloc(nchips * (size_t)nbands * sizeof *t->v + 1);
    t->q = malloc(nchips * sizeof *t->q + 1);
    if (!t->refl || !t->qa || !t->buf || !t->qbuf || !t->gather || !t->v || !t->q)
        return mw_error_set(MW_ERR_NOMEM, "composite: out of memory for a %zu-pixel chunk",
                            chunk_px);
    for (size_t c = 0; c < nchips; c++) {
        t->q[c] = t->qbuf + c * chunk_px;
        for (int b = 0; b < nbands; b++)
            t->v[c * (size_t)nbands + (size_t)b] =
                t->buf + (c * (size_t)nbands + (size_t)b) * chunk_px;
        t->refl[c] = GDALOpen(chips[c].path, GA_ReadOnly);
        t->qa[c] = GDALOpen(chips[c].qa_path, GA_ReadOnly);
        if (!t->refl[c] || !t->qa[c])
            return mw_error_from_gdal(MW_ERR_IO, "composite: cannot open chip '%s'", chips[c].path);
    }
    return 0;
}

int mw_composite_chips(const mw_chip *chips, size_t nchips, int nbands, const mw_grid *g,
                       const uint8_t *mask, const mw_composite_spec *s, int chunk_rows,
                       const mw_composite_result *out)
{
    if (mw_composite_check(s, nbands)) return -1;
    const int W = g->width, H = g->height;
    if (chunk_rows < 1) chunk_rows = 1;
    const int nchunks = (H + chunk_rows - 1) / chunk_rows;
    const size_t chunk_px = (size_t)W * (size_t)chunk_rows;
    int failed = 0;
    char *first_err = NULL;
    mw_error_kind first_kind = MW_ERR_NONE;
#pragma omp parallel
    {
        thread_state ts;
        int ok = state_init(&ts, chips, nchips, nbands, chunk_px) == 0;
        if (!ok) {
#pragma omp critical(mw_composite_err)
            if (!first_err) {
                first_err = strdup(mw_error_message());
                first_kind = mw_error_get_kind();
            }
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < nchunks; k++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !ok) continue;
            const int r0 = k * chunk_rows, nr = r0 + chunk_rows <= H ? chunk_rows : H - r0;
            const size_t off = (size_t)r0 * W, npx = (size_t)nr * W;
            float *bp[MW_COMPOSITE_MAX_BANDS];
            for (int b = 0; b < nbands; b++)
                bp[b] = out->band[b] + off;
            int any = 0;
            for (size_t p = 0; p < npx && !any; p++)
                any = mask[off + p];
            if (!any) { /* outside the site: never read */
                mw_composite_pixels(ts.v, ts.q, 0, nbands, npx, mask + off, s, bp,
                                    out->nclear + off, out->day ? out->day + off : NULL, ts.gather);
                continue;
            }
            int err = 0;
            for (size_t c = 0; c < nchips && !err; c++) {
                float *cb = ts.buf + c * (size_t)nbands * chunk_px;
                err = GDALDatasetRasterIO(ts.refl[c], GF_Read, 0, r0, W, nr, cb, W, nr, GDT_Float32,
                                          nbands, NULL, 0, 0,
                                          (GSpacing)(chunk_px * sizeof(float))) != CE_None;
                err = err || GDALRasterIO(GDALGetRasterBand(ts.qa[c], 1), GF_Read, 0, r0, W, nr,
                                          ts.qbuf + c * chunk_px, W, nr, GDT_Byte, 0, 0) != CE_None;
                if (err) {
                    mw_error_from_gdal(MW_ERR_IO, "composite: cannot read chip '%s'",
                                       chips[c].path);
#pragma omp critical(mw_composite_err)
                    if (!first_err) {
                        first_err = strdup(mw_error_message());
                        first_kind = MW_ERR_IO;
                    }
#pragma omp atomic write
                    failed = 1;
                }
            }
            if (err) continue;
            mw_composite_pixels(ts.v, ts.q, nchips, nbands, npx, mask + off, s, bp,
                                out->nclear + off, out->day ? out->day + off : NULL, ts.gather);
        }
        state_free(&ts, nchips);
    }
    if (failed) {
        mw_error_set(first_kind ? first_kind : MW_ERR_IO, "%s",
                     first_err ? first_err : "composite failed");
        free(first_err);
        return -1;
    }
    return 0;
}
