#include "pipeline/site_memory.h"

#include "minewatch/composite.h"
#include "minewatch/error.h"

#define MB ((size_t)1 << 20)
/* Per scene being ingested, whatever its size: GDAL's warp buffers (its memory limit is set to
 * 16 MB in scene_warp.c), the COG writer's own, the network layer's. */
#define INGEST_FIXED (24 * MB)

/* Bytes per grid pixel, by stage. */
static size_t base_px(const mw_pipeline *p)
{
    /* site mask, clear count, the date each pixel took (selecting composites), the rasterised
     * site while the mask is made */
    return 1 + 2 + (p->composite_method != MW_COMPOSITE_MEDIAN ? 4 : 0) + 1;
}

static size_t ingest_px(const mw_pipeline *p)
{
    /* reflectance of every band, QA and its scratch, the warped band, the copy the COG writer
     * makes of the chip */
    return (size_t)p->nbands * 8 + 2 + 4 + 1;
}

static size_t coreg_px(const mw_pipeline *p)
{
    /* per chip: its NIR and QA, the window's summed-area table (8), two float windows (8), four
     * complex spectra (64); and the shifted chip is re-ingested in the same thread */
    return 5 + 8 + 8 + 64 + ingest_px(p);
}

static size_t composites_px(const mw_pipeline *p)
{
    return p->n_periods * (size_t)p->nbands * 4;
}

static size_t change_px(const mw_pipeline *p)
{
    /* per period: NDVI, cover, dNBR, changed map (10); then first loss, trend slope and p, loss,
     * scratch, was-bare, labels, NBR twice, dNDVI (28), the lost-by bits (a byte per 8
     * periods); the labelling and generic change kernels' own planes (labels, weights, ~24) */
    return p->n_periods * 10 + 28 + (p->n_periods + 6) / 8 + 24;
}

size_t mw_site_memory_change(const mw_pipeline *p, size_t npix)
{
    return npix * (base_px(p) + composites_px(p) + change_px(p));
}

int mw_site_memory_plan(const mw_pipeline *p, int width, int height, int threads, size_t avail,
                        mw_site_memory *m)
{
    const size_t npix = (size_t)width * (size_t)height;
    const size_t base = npix * base_px(p);
    const size_t ingest1 = npix * ingest_px(p) + INGEST_FIXED;
    const size_t coreg_shared = npix * 5; /* the reference chip's NIR and QA */
    const size_t coreg1 = npix * coreg_px(p) + INGEST_FIXED;
    const size_t comp = npix * composites_px(p);
    const size_t change = npix * change_px(p);
    /* The composite needs a few rows of every chip and a GDAL handle on each, per thread. */
    const size_t comp_min = ((size_t)width * 64 + 16 * MB) * (size_t)(threads > 0 ? threads : 1);
    size_t need = base + ingest1;
    if (p->coregister && base + coreg_shared + coreg1 > need) need = base + coreg_shared + coreg1;
    if (base + comp + comp_min > need) need = base + comp + comp_min;
    if (base + comp + change > need) need = base + comp + change;
    m->need = need;
    if (need > avail) {
        return mw_error_set(MW_ERR_NOMEM,
                            "the site's %d x %d grid (%.2f million pixels, %zu periods, %d bands) "
                            "needs about %zu MB, and the memory budget leaves %zu MB for it. "
                            "Raise --mem by at least %zu MB, or use a coarser grid.pixel_size_m, "
                            "a smaller grid.buffer_m, or split the site",
                            width, height, (double)npix / 1e6, p->n_periods, p->nbands,
                            need / MB + 1, avail / MB, (need - avail) / MB + 1);
    }
    int ti = 1, tc = 1;
    while (ti < threads && base + (size_t)(ti + 1) * ingest1 <= avail)
        ti++;
    while (tc < threads && base + coreg_shared + (size_t)(tc + 1) * coreg1 <= avail)
        tc++;
    m->ingest_threads = ti;
    m->coreg_threads = tc;
    m->composite_bytes = avail - base - comp;
    return 0;
}
