/* The files `minewatch graph` writes besides its provenance: the node table, concentration,
 * exposure and stress-test tables, the annotated graph (JSON), GraphML and a GeoPackage. Each
 * returns 0, or -1 with an error naming the file. */
#ifndef MW_GRAPH_OUTPUTS_H
#define MW_GRAPH_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "minewatch/supply_graph.h"

/* ",v" with nine significant digits (intensities run from 1e-6 t/t to thousands: fixed decimals
 * would round the small ones away), or "," for NaN (not measured). */
void mw_graph_csv_number(FILE *f, double v);
/* v as a JSON number, or null for NaN (not measured). */
json_t *mw_graph_json_number(double v);
/* [lo, v, hi], each as mw_graph_json_number. */
json_t *mw_graph_json_range(double lo, double v, double hi);

/* One row per node and product: embedded figures per tonne with their bounds (graph_nodes.csv). */
int mw_graph_write_nodes(const char *path, const mw_supply_graph *g, const mw_graph_result *r);
/* The Herfindahl-Hirschman index of each stage and product by country and by operator. */
int mw_graph_write_concentration(const char *path, const mw_supply_graph *g);
/* Each node's figures by site: x holds, per node and site (ns sites), every metric's share that
 * reached the node from the site; rows for sites that do not reach a node are left out. */
int mw_graph_write_exposure(const char *path, const mw_supply_graph *g,
                            const mw_site_figures *sites, size_t ns, const double *x);
/* The stress test: per node the fraction of its supply lost when the nodes marked in rm stop
 * supplying, whether it was removed, and whether it is left with none. */
int mw_graph_write_stress(const char *path, const mw_supply_graph *g, const double *lost,
                          const int *rm);
/* The graph with what it carries: per node the burden, per product the intensities (JSON). */
int mw_graph_write_annotated(const char *path, const mw_supply_graph *g, const mw_graph_result *r);
/* GraphML (yEd, Gephi, NetworkX read it), written through GDAL's XML tree so text is escaped. */
int mw_graph_write_graphml(const char *path, const mw_supply_graph *g, const mw_graph_result *r);
/* Nodes as points and edges as lines for QGIS (nodes without lon/lat have no geometry), at path
 * (a staging name for final_path, which the layers' metadata names). */
int mw_graph_write_gpkg(const char *path, const char *final_path, const mw_supply_graph *g,
                        const mw_graph_result *r);

#endif
