/* Disruption stress test; see minewatch/supply_graph.h. */
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

long mw_supply_graph_stress(const mw_supply_graph *g, const char *removed, double *lost,
                            int *is_removed)
{
    const size_t n = g->nnodes;
    long matched = 0;
    for (size_t i = 0; i < n; i++) {
        const mw_graph_node *nd = &g->nodes[i];
        is_removed[i] = !strcmp(nd->id, removed) || (nd->country && !strcmp(nd->country, removed));
        matched += is_removed[i];
    }
    for (size_t k = 0; k < n; k++) {
        const size_t i = g->order[k];
        double total = 0, gone = 0;
        for (size_t q = g->in_first[i]; q < g->in_first[i + 1]; q++) {
            const mw_graph_edge *e = &g->edges[g->in_edges[q]];
            total += e->tonnes;
            gone += e->tonnes * lost[e->from];
        }
        /* a node that stops loses all; one that loses a share of its inputs passes it on */
        lost[i] = is_removed[i] ? 1.0 : total > 0 ? gone / total : 0.0;
    }
    return matched;
}
