/* The change stage of one site, the one driver `run` and `change` share. */
#include "pipeline/site_change_stage.h"

#include <stdlib.h>

#include "minewatch/change_vector.h"
#include "minewatch/error.h"
#include "minewatch/log.h"
#include "pipeline/site_maps.h"
#include "pipeline/site_protected_areas.h"

void mw_site_change_stage(const mw_pipeline *p, const mw_grid *g, const uint8_t *mask,
                          const float *const *const *rowsp, int chunk_rows, void *pa_local,
                          const char *maps_dir, const char *site_id, mw_indicator_row *rows,
                          json_t *jperiods, mw_run_report *rep)
{
    const size_t np = p->n_periods;
    double *t = malloc(np * sizeof *t);
    mw_change_config cfg = mw_pipeline_change_config(p, chunk_rows);
    uint8_t *base_forest = NULL;
    if (mw_load_baseline_forest(p, g, &base_forest))
        mw_report_add(rep, site_id, "", "change",
                      "%s; the NDVI rule decides baseline forest instead", mw_error_message());
    cfg.baseline_forest = base_forest;
    for (size_t k = 0; t && k < np; k++)
        t[k] = mw_period_mid_year(&p->periods[k]);
    mw_site_change ch;
    if (!t || mw_site_change_compute(g, mask, np, rowsp, t, &cfg, &ch)) {
        mw_report_add(rep, site_id, "", "change", "%s; the change indicators are left empty",
                      t ? mw_error_message() : "out of memory");
    } else {
        mw_change_fill_rows(rows, &ch);
        if (pa_local && mw_site_pa_loss(pa_local, g, &ch, rows))
            mw_report_add(rep, site_id, "", "protected_areas", "%s", mw_error_message());
        /* The automatic threshold behind changed_ha, so the figure can be retraced. */
        for (size_t k = 1; k < np; k++)
            if (ch.per[k].ok && json_array_get(jperiods, k))
                json_object_set_new(json_array_get(jperiods, k), "generic_change",
                                    json_pack("{s:s,s:f}", "method",
                                              mw_change_methods[p->change_method].name, "threshold",
                                              ch.per[k].change_threshold));
        if (maps_dir) mw_change_write_outputs(maps_dir, site_id, g, p, &ch, rep);
        mw_log(MW_LOG_INFO, "site %s: change done", site_id);
        mw_site_change_free(&ch);
    }
    mw_error_clear();
    free(t);
    free(base_forest);
}
