/* Concentration of supply (Herfindahl-Hirschman index); see minewatch/supply_graph.h. */
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "minewatch/supply_graph.h"

typedef struct holding {
    const char *stage, *product, *key;
    double tonnes;
} holding;

static int by_group(const void *a, const void *b)
{
    const holding *x = a, *y = b;
    int c = strcmp(x->stage, y->stage);
    if (!c) c = strcmp(x->product, y->product);
    if (!c) c = strcmp(x->key, y->key);
    return c;
}

int mw_supply_graph_concentration(const mw_supply_graph *g, mw_hhi_row row, void *user)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nnodes; i++)
        n += g->nodes[i].nproducts;
    holding *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return mw_error_set(MW_ERR_NOMEM, "concentration: out of memory");
    static const char *const bys[] = {"country", "operator"};
    for (int b = 0; b < 2; b++) {
        size_t k = 0;
        for (size_t i = 0; i < g->nnodes; i++) {
            const mw_graph_node *nd = &g->nodes[i];
            const char *key = b == 0 ? nd->country : nd->operator_name;
            for (size_t p = 0; p < nd->nproducts; p++)
                h[k++] = (holding){nd->stage, nd->products[p].name, key && *key ? key : "(unknown)",
                                   nd->products[p].output_t};
        }
        qsort(h, k, sizeof *h, by_group);
        /* one group per stage and product; holders merged by key within it */
        for (size_t a = 0; a < k;) {
            size_t z = a;
            double total = 0;
            while (z < k && !strcmp(h[z].stage, h[a].stage) && !strcmp(h[z].product, h[a].product))
                total += h[z].tonnes, z++;
            double hhi = 0, top_t = -1;
            const char *top = "";
            size_t holders = 0;
            for (size_t c = a; c < z;) {
                size_t d = c;
                double t = 0;
                while (d < z && !strcmp(h[d].key, h[c].key))
                    t += h[d].tonnes, d++;
                double share = total > 0 ? t / total : 0;
                hhi += 10000.0 * share * share;
                if (t > top_t) top_t = t, top = h[c].key;
                holders++;
                c = d;
            }
            row(h[a].stage, h[a].product, bys[b], hhi, top, total > 0 ? top_t / total : 0, holders,
                user);
            a = z;
        }
    }
    free(h);
    return 0;
}
