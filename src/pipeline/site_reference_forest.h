/* `run`'s reference_forest section: the Global Forest Watch figures of each site (Hansen GFC
 * tree cover and loss, GFW gross emissions; minewatch/treecover.h) beside minewatch's own, in
 * the indicator rows and as a yearly table, reference_forest.csv. */
#ifndef MW_SITE_REFERENCE_FOREST_H
#define MW_SITE_REFERENCE_FOREST_H

#include <stdio.h>

#include <jansson.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/site.h"
#include "minewatch/treecover.h"

typedef struct mw_rf_table {
    char **site_ids;
    mw_treecover_year *years; /* nyears per site, in site order */
    size_t nsites, cap;
    int nyears, year_from;
} mw_rf_table;

/* Figures 2000..the last period's year over the site polygon (lon/lat OGRGeometryH), into the
 * period rows (gfw_treecover_ha at the end of the period's year; gfw_loss_ha and gfw_emissions
 * over the years after the baseline's up to it) and into tab. Returns 0, or -1 with an error
 * (the rows keep empty cells). */
int mw_site_reference_forest(const mw_pipeline *p, const mw_site *site, void *wpoly,
                             size_t mem_budget_mb, mw_indicator_row *rows, mw_rf_table *tab,
                             json_t *jsite);
/* One site's years (ny from year_from) at the end of tab. */
int mw_rf_table_append(mw_rf_table *tab, const char *site_id, const mw_treecover_year *years,
                       int ny, int year_from);
/* reference_forest.csv: site_id,year,treecover_ha,loss_ha,emissions_mg_co2e. */
int mw_rf_table_write(const mw_rf_table *tab, const char *path);
void mw_rf_table_free(mw_rf_table *tab);

#endif
