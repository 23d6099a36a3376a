/* Reading and checking a supply-chain graph file; see minewatch/supply_graph.h. */
#include "minewatch/supply_graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/text.h"
#include "minewatch/error.h"

/* Adding a metric is one line here and one in the enum. */
const mw_graph_metric_info mw_graph_metrics[MW_GM_COUNT] = {
    {"direct_tco2e", "t CO2e", 1, "t", "",
     "the nodes' reported scope 1 and 2 emissions (direct_tco2e in the graph file)"},
    {"luc_tco2e", "t CO2e", 1, "t", "luc_emissions_tco2e gfw_emissions_mg_co2e",
     "land-use-change emissions at the sites: luc_emissions_tco2e where the indicators have it, "
     "else GFW's gross emissions of the forest loss (Mg = t CO2e)"},
    {"forest_loss_ha", "ha", 1000, "kt", "forest_loss_ha",
     "forest lost at the sites since the baseline, by the period"},
    {"disturbed_ha", "ha", 1000, "kt", "disturbed_ha", "bare or disturbed ground at the sites"},
    {"hot_pixel_days", "pixel-days", 1000, "kt", "hot_pixel_days",
     "processing heat observed at the sites in the period"},
};

/* GHG Protocol (2011) Corporate Value Chain (Scope 3) Standard, ch. 7.3 and 7.5: primary data
 * come from the suppliers' own activities; the rest are secondary or estimated and are disclosed
 * as such. */
const mw_flow_basis_info mw_flow_bases[MW_FLOW_BASIS_COUNT] = {
    {"unstated", 0, "the graph file does not say how the tonnes are known"},
    {"reported", 1, "the tonnes are in the cited source"},
    {"derived", 1, "arithmetic on reported figures, stated in the edge's source"},
    {"estimated", 0, "an estimate or an illustration: no public figure"},
};

static const char *const stages[] = {"mine",      "concentrator", "refinery", "smelter",
                                     "precursor", "cathode",      "anode",    "cell",
                                     "pack",      "oem",          "trader",   NULL};

#define SHARE_TOLERANCE 1e-6

static int fail(const char *path, const char *fmt, ...) MW_PRINTF(2, 3);
static int fail(const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mw_error_set(MW_ERR_INPUT, "%s: %s", path, msg);
}

static int check_keys(const char *path, const char *where, json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known) {
            char list[512] = "";
            for (int i = 0; keys[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         keys[i]);
            return fail(path, "%s: unknown key '%s' (expected one of: %s)", where, k, list);
        }
    }
    return 0;
}

static char *opt_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? mw_text_dup(json_string_value(v)) : NULL;
}

/* A number >= 0 at o[key]; *out NaN and 0 returned when absent and not required. */
static int get_amount(const char *path, const char *where, json_t *o, const char *key, int required,
                      double *out)
{
    json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v) return required ? fail(path, "%s needs '%s'", where, key) : 0;
    if (!json_is_number(v)) return fail(path, "%s.%s must be a number", where, key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        return fail(path, "%s.%s is %g; it must be a number of 0 or more", where, key, d);
    *out = d;
    return 0;
}

typedef struct id_index {
    const char *id;
    size_t i;
} id_index;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const id_index *)a)->id, ((const id_index *)b)->id);
}

/* Node ids sorted, for edges to find their ends in log time (a million edges is a real chain). */
static long node_index(const id_index *ids, size_t n, const char *id)
{
    id_index key = {id, 0};
    const id_index *f = bsearch(&key, ids, n, sizeof *ids, by_id);
    return f ? (long)f->i : -1;
}

static int parse_node(const char *path, json_t *jn, size_t i, mw_supply_graph *g)
{
    static const char *const keys[] = {"id",
                                       "stage",
                                       "name",
                                       "country",
                                       "operator",
                                       "lon",
                                       "lat",
                                       "sites",
                                       "outputs",
                                       "allocation",
                                       "direct_tco2e",
                                       "direct_tco2e_low",
                                       "direct_tco2e_high",
                                       "source",
                                       NULL};
    char where[128];
    snprintf(where, sizeof where, "nodes[%zu]", i);
    if (!json_is_object(jn)) return fail(path, "%s must be an object", where);
    mw_graph_node *n = &g->nodes[i];
    json_t *id = json_object_get(jn, "id");
    if (!json_is_string(id) || !*json_string_value(id))
        return fail(path, "%s needs an 'id' (a non-empty string)", where);
    n->id = mw_text_dup(json_string_value(id));
    snprintf(where, sizeof where, "nodes[%zu] ('%.40s')", i, n->id);
    if (check_keys(path, where, jn, keys)) return -1;
    n->stage = opt_str(jn, "stage");
    int known = 0;
    for (int s = 0; n->stage && stages[s] && !known; s++)
        known = strcmp(n->stage, stages[s]) == 0;
    if (!known) {
        char list[256] = "";
        for (int s = 0; stages[s]; s++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", s ? ", " : "",
                     stages[s]);
        return fail(path, "%s: stage '%s' is not one of: %s", where,
                    n->stage ? n->stage : "(missing)", list);
    }
    n->name = opt_str(jn, "name"), n->country = opt_str(jn, "country");
    n->operator_name = opt_str(jn, "operator"), n->source = opt_str(jn, "source");
    json_t *lon = json_object_get(jn, "lon"), *lat = json_object_get(jn, "lat");
    n->lon = json_is_number(lon) ? json_number_value(lon) : NAN;
    n->lat = json_is_number(lat) ? json_number_value(lat) : NAN;
    if ((lon && !(n->lon >= -180 && n->lon <= 180)) || (lat && !(n->lat >= -90 && n->lat <= 90)))
        return fail(path, "%s: lon/lat must be numbers within -180..180 and -90..90", where);
    json_t *sites = json_object_get(jn, "sites");
    if (sites) {
        if (!json_is_array(sites)) return fail(path, "%s.sites must be a list of site ids", where);
        n->sites = calloc(json_array_size(sites) + 1, sizeof *n->sites);
        size_t k;
        json_t *s;
        json_array_foreach(sites, k, s)
        {
            if (!json_is_string(s)) return fail(path, "%s.sites[%zu] must be a site id", where, k);
            n->sites[n->nsites++] = mw_text_dup(json_string_value(s));
        }
    }
    json_t *outs = json_object_get(jn, "outputs");
    if (!json_is_object(outs) || json_object_size(outs) == 0)
        return fail(path,
                    "%s needs 'outputs': the tonnes a year of each product it makes, e.g. "
                    "{\"ore\": 1000}",
                    where);
    n->products = calloc(json_object_size(outs), sizeof *n->products);
    const char *pk;
    json_t *pv;
    double total = 0;
    json_object_foreach(outs, pk, pv)
    {
        mw_graph_product *p = &n->products[n->nproducts++];
        p->name = mw_text_dup(pk);
        char w2[160];
        snprintf(w2, sizeof w2, "%s.outputs", where);
        if (get_amount(path, w2, outs, pk, 1, &p->output_t)) return -1;
        total += p->output_t;
    }
    if (!(total > 0)) return fail(path, "%s: its outputs add up to 0 tonnes", where);
    json_t *alloc = json_object_get(jn, "allocation");
    if (alloc) {
        if (!json_is_object(alloc)) return fail(path, "%s.allocation must be an object", where);
        json_object_foreach(alloc, pk, pv)
        {
            int found = 0;
            for (size_t p = 0; p < n->nproducts; p++)
                found |= strcmp(n->products[p].name, pk) == 0;
            if (!found)
                return fail(path, "%s.allocation names '%s', which is not among its outputs", where,
                            pk);
        }
        double sum = 0;
        for (size_t p = 0; p < n->nproducts; p++) {
            char w2[160];
            snprintf(w2, sizeof w2, "%s.allocation", where);
            if (get_amount(path, w2, alloc, n->products[p].name, 1, &n->products[p].share))
                return -1;
            sum += n->products[p].share;
        }
        if (fabs(sum - 1) > SHARE_TOLERANCE)
            return fail(path, "%s: allocation shares add up to %.6g, not 1", where, sum);
        n->economic = 1;
    } else {
        for (size_t p = 0; p < n->nproducts; p++)
            n->products[p].share = n->products[p].output_t / total;
    }
    for (size_t p = 0; p < n->nproducts; p++)
        if (n->products[p].share > 0 && !(n->products[p].output_t > 0))
            return fail(path,
                        "%s: product '%s' has an allocation share but no output: its intensity "
                        "would be infinite",
                        where, n->products[p].name);
    if (get_amount(path, where, jn, "direct_tco2e", 0, &n->direct_tco2e) ||
        get_amount(path, where, jn, "direct_tco2e_low", 0, &n->direct_low) ||
        get_amount(path, where, jn, "direct_tco2e_high", 0, &n->direct_high))
        return -1;
    if (isnan(n->direct_tco2e)) {
        if (!isnan(n->direct_low) || !isnan(n->direct_high))
            return fail(path, "%s: direct_tco2e bounds without direct_tco2e", where);
        n->direct_tco2e = n->direct_low = n->direct_high = 0;
    } else {
        n->direct_given = 1;
        if (isnan(n->direct_low)) n->direct_low = n->direct_tco2e;
        if (isnan(n->direct_high)) n->direct_high = n->direct_tco2e;
        if (!(n->direct_low <= n->direct_tco2e && n->direct_tco2e <= n->direct_high))
            return fail(path, "%s: direct_tco2e_low <= direct_tco2e <= direct_tco2e_high fails",
                        where);
    }
    return 0;
}

static int parse_edge(const char *path, json_t *je, size_t i, mw_supply_graph *g,
                      const id_index *ids)
{
    static const char *const keys[] = {"from", "to", "product", "tonnes", "source", "basis", NULL};
    char where[128];
    snprintf(where, sizeof where, "edges[%zu]", i);
    if (!json_is_object(je)) return fail(path, "%s must be an object", where);
    if (check_keys(path, where, je, keys)) return -1;
    mw_graph_edge *e = &g->edges[i];
    const char *ends[2] = {"from", "to"};
    long idx[2];
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(je, ends[k]);
        if (!json_is_string(v)) return fail(path, "%s needs '%s' (a node id)", where, ends[k]);
        idx[k] = node_index(ids, g->nnodes, json_string_value(v));
        if (idx[k] < 0)
            return fail(path, "%s.%s: unknown node id '%s'", where, ends[k], json_string_value(v));
    }
    e->from = (size_t)idx[0], e->to = (size_t)idx[1];
    json_t *pr = json_object_get(je, "product");
    if (!json_is_string(pr)) return fail(path, "%s needs 'product'", where);
    const mw_graph_node *u = &g->nodes[e->from];
    int found = -1;
    for (size_t p = 0; p < u->nproducts && found < 0; p++)
        if (strcmp(u->products[p].name, json_string_value(pr)) == 0) found = (int)p;
    if (found < 0)
        return fail(path, "%s: node '%s' has no output '%s' to send", where, u->id,
                    json_string_value(pr));
    e->product = (size_t)found;
    if (get_amount(path, where, je, "tonnes", 1, &e->tonnes)) return -1;
    e->source = opt_str(je, "source");
    e->basis = MW_FLOW_UNSTATED;
    json_t *jb = json_object_get(je, "basis");
    if (jb) {
        int found_basis = 0;
        for (int b = MW_FLOW_REPORTED; b < MW_FLOW_BASIS_COUNT && json_is_string(jb); b++)
            if (!strcmp(json_string_value(jb), mw_flow_bases[b].name))
                e->basis = (mw_flow_basis)b, found_basis = 1;
        if (!found_basis)
            return fail(path, "%s.basis must be \"reported\", \"derived\" or \"estimated\"", where);
    }
    return 0;
}

/* The edges into each node, for every walk that goes from a node to its suppliers. */
static int index_edges(mw_supply_graph *g)
{
    const size_t n = g->nnodes;
    g->in_first = calloc(n + 1, sizeof *g->in_first);
    g->in_edges = malloc((g->nedges + 1) * sizeof *g->in_edges);
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!g->in_first || !g->in_edges || !fill) {
        free(fill);
        return mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    }
    for (size_t e = 0; e < g->nedges; e++)
        g->in_first[g->edges[e].to + 1]++;
    for (size_t i = 0; i < n; i++)
        g->in_first[i + 1] += g->in_first[i];
    for (size_t e = 0; e < g->nedges; e++)
        g->in_edges[g->in_first[g->edges[e].to] + fill[g->edges[e].to]++] = e;
    free(fill);
    return 0;
}

/* Kahn's order; on a cycle, its nodes named in order. */
static int order_nodes(const char *path, mw_supply_graph *g)
{
    const size_t n = g->nnodes;
    size_t *indeg = calloc(n, sizeof *indeg), *queue = malloc(n * sizeof *queue);
    size_t *first = calloc(n + 1, sizeof *first), *adj = malloc((g->nedges + 1) * sizeof *adj);
    if (!indeg || !queue || !first || !adj) {
        free(indeg), free(queue), free(first), free(adj);
        return mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    }
    for (size_t e = 0; e < g->nedges; e++)
        indeg[g->edges[e].to]++, first[g->edges[e].from + 1]++;
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    size_t *fill = calloc(n, sizeof *fill);
    for (size_t e = 0; fill && e < g->nedges; e++) {
        size_t u = g->edges[e].from;
        adj[first[u] + fill[u]++] = g->edges[e].to;
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (!indeg[i]) queue[tail++] = i;
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t k = first[u]; k < first[u + 1]; k++)
            if (--indeg[adj[k]] == 0) queue[tail++] = adj[k];
    }
    int rc = 0;
    if (tail < n) {
        /* every node left has a supplier left: walk back along them until one repeats */
        size_t start = 0;
        while (indeg[start] == 0)
            start++;
        size_t *seen_at = malloc(n * sizeof *seen_at), *walk = malloc((n + 1) * sizeof *walk);
        for (size_t i = 0; seen_at && i < n; i++)
            seen_at[i] = (size_t)-1;
        size_t len = 0, v = start;
        while (seen_at && walk && seen_at[v] == (size_t)-1) {
            seen_at[v] = len, walk[len++] = v;
            size_t next = v;
            for (size_t q = g->in_first[v]; q < g->in_first[v + 1]; q++)
                if (indeg[g->edges[g->in_edges[q]].from] > 0) {
                    next = g->edges[g->in_edges[q]].from;
                    break;
                }
            v = next;
        }
        char msg[1024] = "";
        if (seen_at && walk)
            for (size_t k = len; k-- > seen_at[v];) /* the cycle, in the direction of flow */
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s -> ",
                         g->nodes[walk[k]].id);
        if (walk && len) /* back to where the cycle began */
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s", g->nodes[walk[len - 1]].id);
        rc = fail(path, "the graph has a cycle: %s (material cannot be its own supplier)", msg);
        free(seen_at), free(walk);
    } else {
        g->order = queue, queue = NULL;
    }
    free(indeg), free(queue), free(first), free(adj), free(fill);
    return rc;
}

static int load_root(const char *path, json_t *root, mw_supply_graph *g);

int mw_supply_graph_load(const char *path, mw_supply_graph *g)
{
    memset(g, 0, sizeof *g);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return mw_error_set(MW_ERR_INPUT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    return load_root(path, root, g);
}

int mw_supply_graph_parse(const char *path, const char *text, size_t len, mw_supply_graph *g)
{
    memset(g, 0, sizeof *g);
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return mw_error_set(MW_ERR_INPUT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    return load_root(path, root, g);
}

/* Takes root. */
static int load_root(const char *path, json_t *root, mw_supply_graph *g)
{
    static const char *const keys[] = {"name", "year", "nodes", "edges", "source", NULL};
    int rc = json_is_object(root) ? check_keys(path, "the graph", root, keys)
                                  : fail(path, "a graph file is a JSON object");
    g->path = mw_text_dup(path);
    if (rc == 0) {
        g->name = opt_str(root, "name");
        json_t *y = json_object_get(root, "year");
        if (!json_is_integer(y) || json_integer_value(y) < 1900 || json_integer_value(y) > 2200)
            rc = fail(path, "needs 'year' (the year the flows are for, e.g. 2024)");
        else
            g->year = (int)json_integer_value(y);
    }
    json_t *nodes = json_object_get(root, "nodes"), *edges = json_object_get(root, "edges");
    if (rc == 0 && (!json_is_array(nodes) || json_array_size(nodes) == 0))
        rc = fail(path, "needs 'nodes', a non-empty list");
    if (rc == 0 && edges && !json_is_array(edges)) rc = fail(path, "'edges' must be a list");
    if (rc == 0) {
        g->nodes = calloc(json_array_size(nodes), sizeof *g->nodes);
        g->edges = calloc(json_array_size(edges) + 1, sizeof *g->edges);
        if (!g->nodes || !g->edges) rc = mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(nodes); i++) {
        g->nnodes = i + 1;
        rc = parse_node(path, json_array_get(nodes, i), i, g);
    }
    id_index *ids = rc == 0 ? malloc(g->nnodes * sizeof *ids) : NULL;
    if (rc == 0 && !ids) rc = mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    if (rc == 0) {
        for (size_t i = 0; i < g->nnodes; i++)
            ids[i] = (id_index){g->nodes[i].id, i};
        qsort(ids, g->nnodes, sizeof *ids, by_id);
        for (size_t i = 1; rc == 0 && i < g->nnodes; i++)
            if (strcmp(ids[i - 1].id, ids[i].id) == 0) {
                size_t a = ids[i - 1].i < ids[i].i ? ids[i - 1].i : ids[i].i,
                       b = ids[i - 1].i < ids[i].i ? ids[i].i : ids[i - 1].i;
                rc = fail(path, "node id '%s' is used twice (nodes[%zu] and nodes[%zu])", ids[i].id,
                          a, b);
            }
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(edges); i++) {
        g->nedges = i + 1;
        rc = parse_edge(path, json_array_get(edges, i), i, g, ids);
    }
    free(ids);
    /* what leaves a node of a product cannot be more than it makes */
    double **sent = rc == 0 ? calloc(g->nnodes, sizeof *sent) : NULL;
    size_t **count = rc == 0 ? calloc(g->nnodes, sizeof *count) : NULL;
    if (rc == 0 && (!sent || !count)) rc = mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    for (size_t i = 0; rc == 0 && i < g->nnodes; i++) {
        sent[i] = calloc(g->nodes[i].nproducts, sizeof **sent);
        count[i] = calloc(g->nodes[i].nproducts, sizeof **count);
        if (!sent[i] || !count[i]) rc = mw_error_set(MW_ERR_NOMEM, "graph: out of memory");
    }
    for (size_t e = 0; rc == 0 && e < g->nedges; e++) {
        sent[g->edges[e].from][g->edges[e].product] += g->edges[e].tonnes;
        count[g->edges[e].from][g->edges[e].product]++;
    }
    for (size_t i = 0; rc == 0 && i < g->nnodes; i++)
        for (size_t p = 0; rc == 0 && p < g->nodes[i].nproducts; p++) {
            const mw_graph_product *pr = &g->nodes[i].products[p];
            if (sent[i][p] > pr->output_t * (1 + 1e-9) + 1e-9)
                rc = fail(path,
                          "node '%s' sends %.6g t of '%s' in %zu edge(s) but makes %.6g t a year",
                          g->nodes[i].id, sent[i][p], pr->name, count[i][p], pr->output_t);
        }
    for (size_t i = 0; sent && i < g->nnodes; i++)
        free(sent[i]), free(count ? count[i] : NULL);
    free(sent), free(count);
    if (rc == 0) rc = index_edges(g);
    if (rc == 0) rc = order_nodes(path, g);
    json_decref(root);
    if (rc) {
        char *msg = mw_text_dup(mw_error_message());
        mw_error_kind kind = mw_error_get_kind();
        mw_supply_graph_free(g);
        mw_error_set(kind, "%s", msg);
        free(msg);
    }
    return rc;
}

void mw_supply_graph_free(mw_supply_graph *g)
{
    for (size_t i = 0; g->nodes && i < g->nnodes; i++) {
        mw_graph_node *n = &g->nodes[i];
        free(n->id), free(n->stage), free(n->name), free(n->country), free(n->operator_name);
        free(n->source);
        for (size_t s = 0; s < n->nsites; s++)
            free(n->sites[s]);
        free(n->sites);
        for (size_t p = 0; p < n->nproducts; p++)
            free(n->products[p].name);
        free(n->products);
    }
    for (size_t e = 0; g->edges && e < g->nedges; e++)
        free(g->edges[e].source);
    free(g->nodes), free(g->edges), free(g->order), free(g->path), free(g->name);
    free(g->in_first), free(g->in_edges);
    memset(g, 0, sizeof *g);
}
