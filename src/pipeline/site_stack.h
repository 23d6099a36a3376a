/* A site's chips by period, between ingest and compositing. */
#ifndef MW_SITE_STACK_H
#define MW_SITE_STACK_H

#include <stddef.h>

#include <jansson.h>

#include "minewatch/chip.h"
#include "minewatch/date.h"
#include "minewatch/grid.h"
#include "minewatch/pipeline.h"
#include "minewatch/run_report.h"

typedef struct site_chip {
    const mw_scene *scene;
    mw_chip chip;  /* the chip composited: the co-registered one where a shift was applied */
    json_t *prov;  /* the scene's provenance entry (borrowed) */
    double dx, dy; /* shift applied, pixels (0 if none) */
} site_chip;

typedef struct period_stack {
    site_chip *c;
    size_t n;
    long failed; /* scenes that could not be ingested */
    /* why scenes were not used, for a period left without any */
    long in_dates, over_site, missed; /* in the dates; of them over the site's box; no pixel */
    mw_day before, after;             /* nearest days over the site outside the period, or 0 */
} period_stack;

/* Aligns every chip to the reference (on up to `threads` threads, as the memory plan allows) (the
 * baseline's clearest chip) by phase correlation of the NIR band over clear pixels; a trusted shift
 * is applied by re-sampling the scene once into a co-registered chip. Each scene's estimate goes
 * into its provenance entry. A chip whose estimate fails or is not trusted is composited as it is;
 * failures are reported, never fatal. */
void mw_coregister_site(const mw_pipeline *p, const mw_grid *g, const char *site_dir,
                        const mw_ingest_options *io, const uint8_t *mask, period_stack *ps,
                        size_t nperiods, const char *site_id, mw_run_report *rep, int threads);

#endif
