/* Site evidence carried along the supply graph; the recursion is in minewatch/supply_graph.h.
 * Nodes are visited once, suppliers first, so the cost is linear in nodes + edges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

static int by_site(const void *a, const void *b)
{
    return strcmp(((const mw_site_figures *)a)->site_id, ((const mw_site_figures *)b)->site_id);
}

void mw_graph_result_free(const mw_supply_graph *g, mw_graph_result *r)
{
    for (size_t i = 0; r->intensity && i < g->nnodes; i++)
        free(r->intensity[i]);
    free(r->intensity), free(r->burden);
    memset(r, 0, sizeof *r);
}

int mw_supply_graph_propagate(const mw_supply_graph *g, const mw_site_figures *sites, size_t nsites,
                              mw_graph_result *r)
{
    memset(r, 0, sizeof *r);
    const size_t n = g->nnodes;
    mw_site_figures *sorted = malloc((nsites ? nsites : 1) * sizeof *sorted);
    r->burden = calloc(n, sizeof *r->burden);
    r->intensity = calloc(n, sizeof *r->intensity);
    int rc = sorted && r->burden && r->intensity
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!(r->intensity[i] = calloc(g->nodes[i].nproducts + 1, sizeof *r->intensity[i])))
            rc = mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    if (rc == 0) {
        memcpy(sorted, sites, nsites * sizeof *sorted);
        qsort(sorted, nsites, sizeof *sorted, by_site);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const size_t i = g->order[k];
        const mw_graph_node *node = &g->nodes[i];
        double(*b)[3] = r->burden[i];
        for (int m = 0; m < MW_GM_COUNT; m++)
            b[m][0] = b[m][1] = b[m][2] = 0;
        b[MW_GM_DIRECT_TCO2E][0] = node->direct_low;
        b[MW_GM_DIRECT_TCO2E][1] = node->direct_tco2e;
        b[MW_GM_DIRECT_TCO2E][2] = node->direct_high;
        for (size_t s = 0; s < node->nsites; s++) {
            mw_site_figures key = {node->sites[s], {{0}}};
            const mw_site_figures *f = bsearch(&key, sorted, nsites, sizeof *sorted, by_site);
            if (!f) {
                rc = mw_error_set(MW_ERR_INPUT,
                                  "%s: node '%s' names site '%s', which the indicators do not "
                                  "have for this period",
                                  g->path, node->id, node->sites[s]);
                break;
            }
            for (int m = 0; m < MW_GM_COUNT; m++)
                if (m != MW_GM_DIRECT_TCO2E)
                    for (int j = 0; j < 3; j++)
                        b[m][j] += f->v[m][j]; /* NaN: not measured, and stays so downstream */
        }
        for (size_t q = g->in_first[i]; q < g->in_first[i + 1]; q++) {
            const mw_graph_edge *e = &g->edges[g->in_edges[q]];
            double(*u)[3] = r->intensity[e->from][e->product];
            for (int m = 0; m < MW_GM_COUNT; m++)
                for (int j = 0; j < 3; j++)
                    b[m][j] += e->tonnes * u[m][j];
        }
        for (size_t p = 0; p < node->nproducts; p++) {
            const mw_graph_product *pr = &node->products[p];
            const double f = pr->output_t > 0 ? pr->share / pr->output_t : 0;
            for (int m = 0; m < MW_GM_COUNT; m++)
                for (int j = 0; j < 3; j++)
                    r->intensity[i][p][m][j] = b[m][j] * f;
        }
    }
    free(sorted);
    if (rc) mw_graph_result_free(g, r);
    return rc;
}
