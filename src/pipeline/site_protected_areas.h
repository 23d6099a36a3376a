/* Biodiversity exposure of a site: the nearest protected or key biodiversity area of a layer the
 * user gives (any OGR source, e.g. a WDPA extract), how much of the site lies in such areas, and
 * how much of its forest loss. Distances and areas are measured in the site's grid CRS (UTM). */
#ifndef MW_SITE_PROTECTED_AREAS_H
#define MW_SITE_PROTECTED_AREAS_H

#include <stddef.h>

#include <jansson.h>

#include "minewatch/grid.h"
#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run.h"
#include "minewatch/site_change.h"

typedef struct mw_protected_areas {
    void *ds;    /* GDALDatasetH */
    void *layer; /* OGRLayerH: the first layer */
    int name_field;
    double max_m;
} mw_protected_areas;

/* Opens the pipeline's protected_areas layer. Returns 0, or -1 with an error naming the file. */
int mw_protected_areas_open(const mw_pipeline *p, mw_protected_areas *pa);
void mw_protected_areas_close(mw_protected_areas *pa);

/* pa_nearest, pa_distance_m and pa_overlap_ha of every row of the site (polygon upoly in the
 * grid's CRS), and *local: the areas over the grid, clipped to it, in the grid's CRS (NULL when
 * none; caller destroys), for mw_site_pa_loss. Returns 0 or -1. */
int mw_site_pa_figures(mw_protected_areas *pa, void *upoly, const mw_grid *g,
                       mw_indicator_row *rows, size_t nrows, mw_run_result *res, json_t *jsite,
                       void **local);
/* pa_forest_loss_ha per period: the kept loss pixels (those of forest_loss_ha) whose centre lies
 * in the areas. */
int mw_site_pa_loss(void *local, const mw_grid *g, const mw_site_change *c, mw_indicator_row *rows);

#endif
