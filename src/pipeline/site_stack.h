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
    mw_chip chip;  /* the chip composited (before mw_coregister_chips: the NIR chip) */
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
    json_t *jscenes, *jskipped;       /* the period's provenance lists (borrowed) */
} period_stack;

/* Estimates every chip's shift (on up to `threads` threads, as the memory plan allows) against
 * the reference (the baseline's clearest chip) by phase correlation of the NIR band over clear
 * pixels. The chips are the scenes' NIR chips (mw_ingest_options.estimate_only); a trusted shift
 * goes into dx, dy, to be applied by mw_coregister_chips. Each scene's estimate goes into its
 * provenance entry. A chip whose estimate fails or is not trusted is left unshifted; failures are
 * reported, never fatal. */
void mw_coregister_site(const mw_pipeline *p, const mw_grid *g, period_stack *ps, size_t nperiods,
                        const char *site_id, mw_run_report *rep, int threads);

/* Replaces each NIR chip by the scene's full chip (io), resampled from the scene once with its
 * shift. A scene whose shifted chip misses the site is made unshifted; one whose chip cannot be
 * made leaves the stack, reported as an ingest failure (or as missing the site). */
void mw_coregister_chips(const mw_grid *g, const char *site_dir, const mw_ingest_options *io,
                         const uint8_t *mask, period_stack *ps, size_t nperiods,
                         const char *site_id, mw_run_report *rep, int threads);

#endif
