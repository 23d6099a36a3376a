/* The memory a site needs, by stage, from its grid, periods and bands: a site that does not fit
 * the budget is refused with the size it needs, before anything is allocated, and the stages
 * that run in parallel run on as many threads as the budget holds. The per-pixel costs are the
 * buffers each stage allocates (counted in site_memory.c); they were checked against the peak
 * resident set measured on runs of 0.25 to 4 million pixels (test_hostile, README). */
#ifndef MW_SITE_MEMORY_H
#define MW_SITE_MEMORY_H

#include <stddef.h>

#include "minewatch/pipeline.h"

typedef struct mw_site_memory {
    size_t need;            /* bytes at the site's peak, one thread per stage */
    int ingest_threads;     /* scenes ingested at once */
    int coreg_threads;      /* chips co-registered at once */
    size_t composite_bytes; /* for the composite's chunk buffers, all threads */
} mw_site_memory;

/* avail: the bytes the run may use for this site. Returns 0 with the plan, or -1 (MW_ERR_NOMEM)
 * with a message giving the size needed and what to change. */
int mw_site_memory_plan(const mw_pipeline *p, int width, int height, int threads, size_t avail,
                        mw_site_memory *m);
/* The `change` command's need: composites read back plus the change stage. */
size_t mw_site_memory_change(const mw_pipeline *p, size_t npix);

#endif
