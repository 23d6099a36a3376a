/* PostgreSQL/PostGIS as an output: a run's indicators and loss patches in a database, through
 * OGR's PostgreSQL driver. */
#ifndef MW_OUTPUT_POSTGIS_H
#define MW_OUTPUT_POSTGIS_H

#include <stddef.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"

/* Writes rows into <schema>.site_indicators and the features of the loss-patch GeoPackages in
 * maps_dir into <schema>.forest_loss_patches, each row with the pipeline's name and the run's
 * start time. Tables and columns are created when missing. A re-run replaces the rows of the same
 * pipeline and sites (by site, period and pipeline) instead of adding to them. Everything happens
 * in one transaction: a refused connection or any failed statement leaves the database as it
 * was, with an MW_ERR_IO error naming the server (never a password). Returns 0 or -1. */
int mw_postgis_write(const mw_pipeline *p, const char *run_started, const mw_indicator_row *rows,
                     size_t nrows, const char *maps_dir);

#endif
