/* Exposure of each node to each site; see minewatch/supply_graph.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

static long site_index(const mw_site_figures *sites, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) /* sites are few beside nodes: a scan per node site */
        if (strcmp(sites[i].site_id, id) == 0) return (long)i;
    return -1;
}

int mw_supply_graph_exposure(const mw_supply_graph *g, const mw_site_figures *sites, size_t nsites,
                             size_t max_bytes, double **out)
{
    *out = NULL;
    const size_t stride = nsites * MW_GM_COUNT;
    const double bytes = (double)g->nnodes * (double)stride * sizeof(double);
    if (bytes > (double)max_bytes)
        return mw_error_set(MW_ERR_NOMEM,
                            "exposure of %zu nodes to %zu sites needs %.0f MB, more than the "
                            "%.0f MB allowed; give --mem %.0f or more",
                            g->nnodes, nsites, bytes / 1048576.0, max_bytes / 1048576.0,
                            2 * bytes / 1048576.0 + 64);
    double *x = calloc(g->nnodes * stride + 1, sizeof *x);
    if (!x) return mw_error_set(MW_ERR_NOMEM, "exposure: out of memory");
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < g->nnodes; k++) {
        const size_t i = g->order[k];
        const mw_graph_node *n = &g->nodes[i];
        double *xi = x + i * stride;
        for (size_t s = 0; s < n->nsites; s++) {
            long si = site_index(sites, nsites, n->sites[s]);
            if (si < 0) {
                rc = mw_error_set(MW_ERR_INPUT,
                                  "%s: node '%s' names site '%s', which the "
                                  "indicators do not have for this period",
                                  g->path, n->id, n->sites[s]);
                break;
            }
            for (int m = 0; m < MW_GM_COUNT; m++)
                xi[(size_t)si * MW_GM_COUNT + (size_t)m] += sites[si].v[m][1];
        }
        for (size_t q = g->in_first[i]; q < g->in_first[i + 1]; q++) {
            const mw_graph_edge *e = &g->edges[g->in_edges[q]];
            const mw_graph_product *pr = &g->nodes[e->from].products[e->product];
            /* the supplier's exposure, per tonne of this product, times the tonnes */
            const double f = pr->output_t > 0 ? e->tonnes * pr->share / pr->output_t : 0;
            const double *xu = x + e->from * stride;
            for (size_t j = 0; j < stride; j++)
                xi[j] += f * xu[j];
        }
    }
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    return 0;
}
