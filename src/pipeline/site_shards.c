#include "pipeline/site_shards.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "pipeline/provenance.h"

typedef struct weighted {
    double w;
    size_t i;
} weighted;

static int heavier_first(const void *a, const void *b)
{
    const weighted *x = a, *y = b;
    if (x->w != y->w) return x->w < y->w ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The pixels of a site's grid: what its work grows with (1 when the grid cannot be made). */
static double site_weight(const mw_pipeline *p, const mw_site *site)
{
    mw_grid g;
    const int epsg = p->grid_epsg ? p->grid_epsg : mw_site_utm_epsg(site);
    const double w = mw_grid_for_site_in(site, epsg, p->pixel_size_m, p->buffer_m, p->origin_x,
                                         p->origin_y, &g) == 0
                         ? (double)g.width * g.height
                         : 1;
    mw_error_clear();
    return w;
}

int mw_site_order(const mw_pipeline *p, const mw_site *const *sites, size_t ns, size_t *order,
                  double *weights)
{
    weighted *ws = calloc(ns + 1, sizeof *ws);
    if (!ws) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < ns; s++)
        ws[s] = (weighted){site_weight(p, sites[s]), s};
    qsort(ws, ns, sizeof *ws, heavier_first);
    for (size_t j = 0; j < ns; j++) {
        order[j] = ws[j].i;
        if (weights) weights[j] = ws[j].w;
    }
    free(ws);
    return 0;
}

void mw_site_shards(const mw_pipeline *p, const mw_site *const *sites, size_t ns, int n, int *shard)
{
    size_t *order = calloc(ns + 1, sizeof *order);
    double *load = calloc((size_t)n + 1, sizeof *load), *weight = calloc(ns + 1, sizeof *weight);
    if (!order || !load || !weight || mw_site_order(p, sites, ns, order, weight)) {
        for (size_t s = 0; s < ns; s++) /* round robin: still the same everywhere */
            shard[s] = (int)(s % (size_t)n);
        free(order), free(load), free(weight);
        return;
    }
    for (size_t j = 0; j < ns; j++) {
        int best = 0;
        for (int k = 1; k < n; k++)
            if (load[k] < load[best]) best = k;
        shard[order[j]] = best;
        load[best] += weight[j];
    }
    free(order), free(load), free(weight);
}

int mw_shards_check(const char *const *dirs, size_t ndirs, char **pipeline_path)
{
    *pipeline_path = NULL;
    const char *sha = NULL;
    json_t *first = NULL;
    long n = 0;
    char *seen = calloc(ndirs + 1, 1);
    int rc = seen ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ndirs && rc == 0; i++) {
        char *pp = mw_text_path(dirs[i], "provenance.json");
        json_t *prov = pp ? json_load_file(pp, 0, NULL) : NULL;
        json_t *sh = json_object_get(prov, "shard");
        const char *s =
            json_string_value(json_object_get(json_object_get(prov, "pipeline"), "sha256"));
        const long k = (long)json_integer_value(json_object_get(sh, "k")),
                   nk = (long)json_integer_value(json_object_get(sh, "n"));
        if (!prov)
            rc = mw_error_set(MW_ERR_INPUT,
                              "'%s' holds no provenance.json: not the output of a finished "
                              "shard (run the shard, then merge)",
                              dirs[i]);
        else if (!sh || k < 1 || nk < 1 || k > nk)
            rc = mw_error_set(MW_ERR_INPUT,
                              "'%s' is not a shard's output (run it with --shard K/N)", dirs[i]);
        else if (i == 0) {
            first = json_incref(prov), sha = s, n = nk;
        } else if (nk != n || !s || !sha || strcmp(s, sha))
            rc = mw_error_set(MW_ERR_INPUT,
                              "'%s' is shard %ld/%ld of another pipeline or split than '%s'",
                              dirs[i], k, nk, dirs[0]);
        if (rc == 0 && (size_t)nk != ndirs)
            rc = mw_error_set(MW_ERR_INPUT, "the pipeline was split into %ld shards; %zu given", nk,
                              ndirs);
        if (rc == 0 && seen[k - 1])
            rc = mw_error_set(MW_ERR_INPUT, "shard %ld/%ld is given twice ('%s')", k, nk, dirs[i]);
        if (rc == 0) seen[k - 1] = 1;
        json_decref(prov);
        free(pp);
    }
    if (rc == 0) {
        const char *path =
            json_string_value(json_object_get(json_object_get(first, "pipeline"), "path"));
        char *now = path ? mw_sha256_file(path) : NULL;
        if (!path || !now || strcmp(now, sha))
            rc = mw_error_set(MW_ERR_INPUT,
                              "the pipeline file '%s' the shards ran is not there as it was "
                              "(changed or moved since): run the shards again",
                              path ? path : "?");
        else
            *pipeline_path = mw_text_dup(path);
        free(now);
    }
    json_decref(first);
    free(seen);
    return rc;
}
