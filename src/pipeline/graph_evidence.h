/* The evidence pack `minewatch graph --evidence BUYER` writes: JSON, CSV and an HTML page. */
#ifndef MW_GRAPH_EVIDENCE_H
#define MW_GRAPH_EVIDENCE_H

#include <stddef.h>

#include "minewatch/graph_run.h"
#include "minewatch/supply_graph.h"

/* The evidence pack for one buyer (o->evidence): its upstream chain with every source, its
 * upstream sites with their shares of its burden, bounds, indicators and scenes, the share
 * carried by primary data, and the frameworks it files under. One document feeds the three
 * files. 0, or -1 with an error naming the file or the buyer. */
int mw_graph_write_evidence(const char *json_path, const char *csv_path, const char *html_path,
                            const mw_graph_options *o, const mw_supply_graph *g,
                            const mw_graph_result *r, const mw_site_figures *sites, size_t ns);

#endif
