/* Fuzz target: supply-chain graph files, checked and, when they pass, propagated with figures
 * for the sites they name. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mw_supply_graph g;
    if (mw_supply_graph_parse("/fuzz/graph.json", (const char *)data, size, &g) == 0) {
        /* every site any node names has figures, one of them unmeasured */
        size_t n = 0;
        for (size_t i = 0; i < g.nnodes; i++)
            n += g.nodes[i].nsites;
        mw_site_figures *f = calloc(n + 1, sizeof *f);
        size_t k = 0;
        for (size_t i = 0; f && i < g.nnodes; i++)
            for (size_t s = 0; s < g.nodes[i].nsites; s++, k++) {
                f[k].site_id = g.nodes[i].sites[s];
                for (int m = 0; m < MW_GM_COUNT; m++)
                    for (int j = 0; j < 3; j++)
                        f[k].v[m][j] = k == 1 ? NAN : (double)(k + m + j);
            }
        mw_graph_result r;
        if (f && mw_supply_graph_propagate(&g, f, k, &r) == 0) mw_graph_result_free(&g, &r);
        double *lost = calloc(g.nnodes + 1, sizeof *lost);
        int *rm = calloc(g.nnodes + 1, sizeof *rm);
        if (lost && rm && g.nnodes) mw_supply_graph_stress(&g, g.nodes[0].id, lost, rm);
        free(lost), free(rm), free(f);
        mw_supply_graph_free(&g);
    }
    mw_error_clear();
    return 0;
}
