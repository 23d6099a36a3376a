/* `minewatch graph`: a run's indicators carried along a supply-chain graph. */
#ifndef MINEWATCH_GRAPH_RUN_H
#define MINEWATCH_GRAPH_RUN_H

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_graph_options {
    const char *graph;      /* graph file (docs/supply_graph.schema.json) */
    const char *indicators; /* a run's indicators.csv or indicators.gpkg */
    const char *period;     /* whose rows are carried */
    const char *out_dir;
    const char *command_line;
    int exposure;         /* also DIR/graph_exposure.csv: each node's burden by upstream site */
    const char *remove;   /* a node id or country: also DIR/stress.csv */
    size_t mem_budget_mb; /* bounds the exposure table */
    const char *evidence; /* a buyer node: DIR/evidence_<node>.json and .csv */
    const char *postgis;  /* libpq connection string: also the graph into PostGIS (no password) */
    const char *postgis_schema; /* NULL: the connection's default (public) */
} mw_graph_options;

typedef struct mw_graph_result_summary {
    long nodes, edges, sites;
} mw_graph_result_summary;

/* Writes also DIR/graph_concentration.csv (Herfindahl-Hirschman index per stage and product, by
 * country and by operator). */
/* Checks the graph and the indicators first (any violation: MW_ERR_INPUT, nothing written),
 * then writes DIR/graph_nodes.csv (one row per node and product: output, allocation share,
 * embedded emissions and every metric per tonne or kilotonne with bounds, and the totals
 * attributed to the product) and DIR/provenance.json, committed together. Returns 0 or -1. */
/* With o->postgis, after the files are committed, the graph's nodes and flows go into
 * <schema>.supply_graph_nodes and supply_graph_edges (see pipeline/output_postgis.h); a failure
 * there keeps the files and returns -1 with an MW_ERR_IO error. */
MW_API int mw_graph_run(const mw_graph_options *o, mw_graph_result_summary *res);

#ifdef __cplusplus
}
#endif

#endif
