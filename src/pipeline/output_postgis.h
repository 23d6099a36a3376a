/* PostgreSQL/PostGIS as an output: a run's indicators and loss patches in a database, through
 * OGR's PostgreSQL driver. */
#ifndef MW_OUTPUT_POSTGIS_H
#define MW_OUTPUT_POSTGIS_H

#include <stddef.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"

/* 1 if s is a lower-case SQL name (a-z, _, then also 0-9): a schema minewatch may quote. */
int mw_postgis_name_ok(const char *s);

/* Writes rows into <schema>.site_indicators and the features of the loss-patch GeoPackages in
 * maps_dir into <schema>.forest_loss_patches, each row with the pipeline's name and the run's
 * start time. Tables and columns are created when missing. A re-run replaces the rows of the same
 * pipeline and sites (by site, period and pipeline) instead of adding to them. Everything happens
 * in one transaction: a refused connection or any failed statement leaves the database as it
 * was, with an MW_ERR_IO error naming the server (never a password). Returns 0 or -1. */
int mw_postgis_write(const mw_pipeline *p, const char *run_started, const mw_indicator_row *rows,
                     size_t nrows, const char *maps_dir);

/* The supply graph of `minewatch graph` (graph_gpkg: its graph.gpkg) into
 * <schema>.supply_graph_nodes (points) and <schema>.supply_graph_edges (lines), every column of
 * the GeoPackage plus the graph's name, the period and the run's start; a re-run of the same graph
 * and period replaces its rows. One transaction, errors as above (prefixed "--postgis"). */
int mw_postgis_write_graph(const char *connection, const char *schema, const char *graph_gpkg,
                           const char *graph_name, const char *period, const char *run_started);

#endif
