/* The change stage of one site: land cover, loss, severity, trends and generic change from the
 * period composites, its figures, maps and provenance. `run` and `change` both call it. */
#ifndef MW_SITE_CHANGE_STAGE_H
#define MW_SITE_CHANGE_STAGE_H

#include <stdint.h>

#include <jansson.h>

#include "minewatch/grid.h"
#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run_report.h"

/* rowsp[k][band] is period k's composite (rowsp[k] NULL: none). Fills the rows' change figures
 * (and the loss inside protected areas when pa_local, from mw_site_pa_figures, is given), writes
 * the maps into maps_dir (NULL: none) and the generic-change threshold into jperiods[k]
 * (the site's provenance periods). Failures go to rep; the figures they concern stay empty. */
void mw_site_change_stage(const mw_pipeline *p, const mw_grid *g, const uint8_t *mask,
                          const float *const *const *rowsp, int chunk_rows, void *pa_local,
                          const char *maps_dir, const char *site_id, mw_indicator_row *rows,
                          json_t *jperiods, mw_run_report *rep);

#endif
