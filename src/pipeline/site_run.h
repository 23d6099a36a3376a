/* One site's run: its grid, datacube chips, co-registration, composites and change stages,
 * between the catalogue (pipeline_run.c) and the site's record (site_record.h). */
#ifndef MW_SITE_RUN_H
#define MW_SITE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run.h"
#include "minewatch/scene.h"
#include "minewatch/site.h"
#include "pipeline/site_protected_areas.h"
#include "pipeline/site_reference_forest.h"

/* What every site of a run shares: the pipeline, the scenes, the folders, the reports. */
typedef struct site_ctx {
    size_t site_avail; /* bytes of the budget a site may use */
    const mw_pipeline *p;
    const mw_run_options *o;
    const mw_scene_catalog *scenes;
    const char *cube_dir;
    const char *maps_dir;
    mw_run_report *rep;
    mw_run_result *res;
    json_t *prov_sites;
    mw_rf_table *rf;        /* reference_forest rows, when the pipeline has the section */
    mw_protected_areas *pa; /* protected_areas, when the pipeline has the section */
    uint8_t *over_any;      /* per scene of a local catalogue: it overlaps some site (NULL: API) */
    const mw_scene *scenes_local; /* that catalogue's scenes */
} site_ctx;

/* Computes the site into rows (one per period of the pipeline): every failure goes to sc->rep
 * with the site named, and what was done to sc->prov_sites; never stops the run. */
void mw_site_run(site_ctx *sc, const mw_site *site, mw_indicator_row *rows);

/* Takes the site's datacube folder for this process (another run sharing the datacube waits),
 * then removes the partial files killed runs left there. The lock's descriptor (mw_dir_unlock),
 * or -1 with an error. */
int mw_site_cube_lock(const char *site_dir, const char *site_id);

#endif
