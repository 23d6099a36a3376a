/* Disruption stress test; see minewatch/supply_graph.h. */
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

long mw_supply_graph_stress(const mw_supply_graph *g, const char *removed, double *lost,
                            int *is_removed)
{
    const size_t n = g->nnodes;
    size_t *first = calloc(n + 1, sizeof *first), *in = malloc((g->nedges + 1) * sizeof *in);
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!first || !in || !fill) {
        free(first), free(in), free(fill);
        mw_error_set(MW_ERR_NOMEM, "stress test: out of memory");
        return -1;
    }
    long matched = 0;
    for (size_t i = 0; i < n; i++) {
        const mw_graph_node *nd = &g->nodes[i];
        is_removed[i] = !strcmp(nd->id, removed) || (nd->country && !strcmp(nd->country, removed));
        matched += is_removed[i];
    }
    for (size_t e = 0; e < g->nedges; e++)
        first[g->edges[e].to + 1]++;
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    for (size_t e = 0; e < g->nedges; e++)
        in[first[g->edges[e].to] + fill[g->edges[e].to]++] = e;
    for (size_t k = 0; k < n; k++) {
        const size_t i = g->order[k];
        double total = 0, gone = 0;
        for (size_t q = first[i]; q < first[i + 1]; q++) {
            const mw_graph_edge *e = &g->edges[in[q]];
            total += e->tonnes;
            gone += e->tonnes * lost[e->from];
        }
        /* a node that stops loses all; one that loses a share of its inputs passes it on */
        lost[i] = is_removed[i] ? 1.0 : total > 0 ? gone / total : 0.0;
    }
    free(first), free(in), free(fill);
    return matched;
}
