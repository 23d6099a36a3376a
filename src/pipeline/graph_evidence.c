#include "pipeline/graph_evidence.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>

#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/graph_run.h"
#include "minewatch/supply_graph.h"
#include "pipeline/evidence_page.h"
#include "pipeline/graph_outputs.h"
#include "pipeline/provenance.h"

/* The frameworks a buyer files under, by what flows to it. */
static int product_has(const mw_supply_graph *g, const int *upstream, const char *const *words)
{
    for (size_t i = 0; i < g->nnodes; i++) {
        if (!upstream[i]) continue;
        for (size_t p = 0; p < g->nodes[i].nproducts; p++)
            for (int w = 0; words[w]; w++)
                if (mw_text_ifind(g->nodes[i].products[p].name, words[w])) return 1;
    }
    return 0;
}

/* Every indicator of each site's row for the period, as the run wrote it, keyed by site id. */
static json_t *indicator_rows(const char *path, const char *period)
{
    json_t *rows = json_object();
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return rows;
    OGRLayerH l = GDALDatasetGetLayerByName(ds, "site_indicators");
    if (!l) l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    OGR_L_ResetReading(l);
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        int fs = OGR_F_GetFieldIndex(f, "site_id"), fp = OGR_F_GetFieldIndex(f, "period");
        if (!strcmp(OGR_F_GetFieldAsString(f, fp), period)) {
            json_t *row = json_object();
            for (int i = 0; i < OGR_F_GetFieldCount(f); i++)
                json_object_set_new(row, OGR_Fld_GetNameRef(OGR_F_GetFieldDefnRef(f, i)),
                                    json_string(OGR_F_GetFieldAsString(f, i)));
            json_object_set_new(rows, OGR_F_GetFieldAsString(f, fs), row);
        }
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return rows;
}

/* The scenes behind a site's figures for the period, from the run's provenance.json. */
static json_t *site_scenes(json_t *prov, const char *period, const char *site)
{
    size_t i, k;
    json_t *s, *per;
    json_array_foreach(json_object_get(prov, "sites"), i, s)
    {
        const char *id = json_string_value(json_object_get(s, "id"));
        if (!id || strcmp(id, site)) continue;
        json_array_foreach(json_object_get(s, "periods"), k, per)
        {
            const char *name = json_string_value(json_object_get(per, "name"));
            if (!name || strcmp(name, period)) continue;
            json_t *out = json_array(), *sc;
            size_t j;
            json_array_foreach(json_object_get(per, "scenes"), j, sc)
            {
                static const char *const keep[] = {"id", "datetime", "clear_fraction", "item"};
                json_t *o = json_object();
                for (int q = 0; q < 4; q++)
                    if (json_object_get(sc, keep[q]))
                        json_object_set(o, keep[q], json_object_get(sc, keep[q]));
                json_array_append_new(out, o);
            }
            return out;
        }
    }
    return json_null();
}

/* The fraction of each site's figures that reaches node b: the exposure recursion on unit
 * figures. With primary_only, flows whose tonnes are not reported or derived carry nothing; the
 * recursion is linear, so what is left is what arrived over primary flows alone. */
static int site_fractions(const mw_supply_graph *g, const mw_site_figures *sites, size_t ns,
                          size_t b, int primary_only, size_t max_bytes, double *frac)
{
    mw_site_figures *unit = calloc(ns ? ns : 1, sizeof *unit);
    mw_graph_edge *edges = primary_only ? malloc((g->nedges + 1) * sizeof *edges) : NULL;
    if (!unit || (primary_only && !edges)) {
        free(unit), free(edges);
        return mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    for (size_t s = 0; s < ns; s++) {
        unit[s].site_id = sites[s].site_id;
        for (int m = 0; m < MW_GM_COUNT; m++)
            unit[s].v[m][0] = unit[s].v[m][1] = unit[s].v[m][2] = 1;
    }
    mw_supply_graph view = *g;
    if (primary_only) {
        memcpy(edges, g->edges, g->nedges * sizeof *edges);
        for (size_t e = 0; e < g->nedges; e++)
            if (!mw_flow_bases[edges[e].basis].primary) edges[e].tonnes = 0;
        view.edges = edges;
    }
    double *x = NULL;
    int rc = mw_supply_graph_exposure(&view, unit, ns, max_bytes, &x);
    for (size_t s = 0; rc == 0 && s < ns; s++)
        frac[s] = x[(b * ns + s) * MW_GM_COUNT + MW_GM_FOREST_LOSS_HA];
    free(x), free(unit), free(edges);
    return rc;
}

static json_t *jmetric(const double v[3], double scale)
{
    return mw_graph_json_range(v[0] * scale, v[1] * scale, v[2] * scale);
}

/* The evidence pack for one buyer: its upstream chain with every source, its upstream sites with
 * their shares of its burden, bounds, indicators and scenes, the share carried by primary data,
 * and the frameworks it files under. One document feeds the JSON, the CSV and the page. */
int mw_graph_write_evidence(const char *json_path, const char *csv_path, const char *html_path,
                            const mw_graph_options *o, const mw_supply_graph *g,
                            const mw_graph_result *r, const mw_site_figures *sites, size_t ns)
{
    size_t b = 0;
    while (b < g->nnodes && strcmp(g->nodes[b].id, o->evidence))
        b++;
    const size_t max_bytes = (o->mem_budget_mb ? o->mem_budget_mb : 1024) * (size_t)1048576 / 2;
    /* the buyer's upstream nodes: those with a path to it, walked back along incoming edges */
    int *up = calloc(g->nnodes, sizeof *up);
    size_t *stack = malloc((g->nnodes + 1) * sizeof *stack), top = 0;
    double *frac = calloc(ns + 1, sizeof *frac), *frac_p = calloc(ns + 1, sizeof *frac_p);
    int rc = up && stack && frac && frac_p ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        up[b] = 1, stack[top++] = b;
        while (top) {
            size_t i = stack[--top];
            for (size_t q = g->in_first[i]; q < g->in_first[i + 1]; q++) {
                size_t u = g->edges[g->in_edges[q]].from;
                if (!up[u]) up[u] = 1, stack[top++] = u;
            }
        }
        rc = site_fractions(g, sites, ns, b, 0, max_bytes, frac);
    }
    if (rc == 0) rc = site_fractions(g, sites, ns, b, 1, max_bytes, frac_p);
    free(stack);
    if (rc) {
        free(up), free(frac), free(frac_p);
        return rc;
    }
    json_t *rows = indicator_rows(o->indicators, o->period);
    /* the run's provenance, beside its indicators */
    char *dir = mw_text_dup(o->indicators), *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    char *pp = mw_text_path(slash ? dir : ".", "provenance.json");
    json_t *prov = json_load_file(pp, 0, NULL);
    const mw_graph_node *n = &g->nodes[b];
    const double(*burden)[3] = (const double(*)[3])r->burden[b];
    /* which upstream node each site belongs to */
    json_t *site_node = json_object();
    for (size_t i = 0; i < g->nnodes; i++)
        for (size_t s = 0; up[i] && s < g->nodes[i].nsites; s++)
            if (!json_object_get(site_node, g->nodes[i].sites[s]))
                json_object_set_new(site_node, g->nodes[i].sites[s], json_integer((json_int_t)i));
    json_t *jsites = json_array();
    double via_primary[MW_GM_COUNT] = {0}, via_all[MW_GM_COUNT] = {0};
    for (size_t s = 0; s < ns; s++) {
        json_t *owner = json_object_get(site_node, sites[s].site_id);
        if (!owner || !(frac[s] > 0)) continue;
        const mw_graph_node *sn = &g->nodes[json_integer_value(owner)];
        const double(*v)[3] = (const double(*)[3])sites[s].v;
        json_t *js =
            json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:o,s:o}", "site_id", sites[s].site_id, "node_id",
                      sn->id, "stage", sn->stage, "country", sn->country, "operator",
                      sn->operator_name, "sourcing_fraction", mw_graph_json_number(frac[s]),
                      "primary_fraction", mw_graph_json_number(frac_p[s] / frac[s]));
        for (int m = 0; m < MW_GM_COUNT; m++) {
            if (m == MW_GM_DIRECT_TCO2E) continue;
            const char *name = mw_graph_metrics[m].name;
            char key[64];
            json_object_set_new(js, name, jmetric(v[m], frac[s]));
            snprintf(key, sizeof key, "%s_share", name);
            json_object_set_new(
                js, key,
                mw_graph_json_number(burden[m][1] > 0 ? v[m][1] * frac[s] / burden[m][1] : NAN));
            if (isfinite(v[m][1])) {
                via_all[m] += v[m][1] * frac[s];
                via_primary[m] += v[m][1] * frac_p[s];
            }
        }
        json_t *scenes = prov ? site_scenes(prov, o->period, sites[s].site_id) : json_null();
        json_object_set_new(js, "scenes", scenes);
        json_t *row = json_object_get(rows, sites[s].site_id);
        json_object_set(js, "indicators", row ? row : json_null());
        json_array_append_new(jsites, js);
    }
    json_decref(site_node);
    json_t *totals = json_object(), *primary = json_object();
    for (int m = 0; m < MW_GM_COUNT; m++) {
        json_object_set_new(totals, mw_graph_metrics[m].name,
                            json_pack("{s:o,s:s}", "low_value_high", jmetric(burden[m], 1), "unit",
                                      mw_graph_metrics[m].unit));
        if (m != MW_GM_DIRECT_TCO2E)
            json_object_set_new(
                primary, mw_graph_metrics[m].name,
                mw_graph_json_number(via_all[m] > 0 ? via_primary[m] / via_all[m] : NAN));
    }
    json_t *jnodes = json_array(), *jedges = json_array();
    int direct_given = 0, upstream_nodes = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        if (!up[i]) continue;
        const mw_graph_node *u = &g->nodes[i];
        json_t *prods = json_array(), *jsn = json_array();
        for (size_t p = 0; p < u->nproducts; p++)
            json_array_append_new(prods, json_pack("{s:s,s:f,s:f}", "product", u->products[p].name,
                                                   "output_t", u->products[p].output_t, "share",
                                                   u->products[p].share));
        for (size_t s = 0; s < u->nsites; s++)
            json_array_append_new(jsn, json_string(u->sites[s]));
        direct_given += u->direct_given, upstream_nodes++;
        json_array_append_new(
            jnodes, json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:o,s:o,s:o,s:s,s:o,s:o,s:s?}", "id", u->id,
                              "stage", u->stage, "name", u->name, "country", u->country, "operator",
                              u->operator_name, "lon", mw_graph_json_number(u->lon), "lat",
                              mw_graph_json_number(u->lat), "sites", jsn, "allocation",
                              u->economic ? "economic (given)" : "by mass", "products", prods,
                              "direct_tco2e",
                              u->direct_given ? mw_graph_json_number(u->direct_tco2e) : json_null(),
                              "source", u->source));
    }
    for (size_t e = 0; e < g->nedges; e++) {
        const mw_graph_edge *ed = &g->edges[e];
        if (!up[ed->to]) continue;
        json_array_append_new(
            jedges, json_pack("{s:s,s:s,s:s,s:f,s:s,s:s?}", "from", g->nodes[ed->from].id, "to",
                              g->nodes[ed->to].id, "product",
                              g->nodes[ed->from].products[ed->product].name, "tonnes", ed->tonnes,
                              "basis", mw_flow_bases[ed->basis].name, "source", ed->source));
    }
    static const char *const cbam_words[] = {"alumin", "steel", "iron", NULL};
    static const char *const battery_words[] = {"cobalt", "lithium", "nickel", "graphite", NULL};
    const int cbam = product_has(g, up, cbam_words), battery = product_has(g, up, battery_words);
    json_t *products = json_array();
    for (size_t p = 0; p < n->nproducts; p++) {
        const double(*in)[3] = (const double(*)[3])r->intensity[b][p];
        json_array_append_new(
            products,
            json_pack("{s:s,s:f,s:f,s:o,s:o,s:o,s:o}", "product", n->products[p].name, "output_t",
                      n->products[p].output_t, "allocation_share", n->products[p].share,
                      "embedded_tco2e_per_t",
                      mw_graph_json_range(in[MW_GM_DIRECT_TCO2E][0] + in[MW_GM_LUC_TCO2E][0],
                                          in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1],
                                          in[MW_GM_DIRECT_TCO2E][2] + in[MW_GM_LUC_TCO2E][2]),
                      "direct_tco2e_per_t", jmetric(in[MW_GM_DIRECT_TCO2E], 1), "luc_tco2e_per_t",
                      jmetric(in[MW_GM_LUC_TCO2E], 1), "forest_loss_ha_per_kt",
                      jmetric(in[MW_GM_FOREST_LOSS_HA], 1000)));
    }
    json_t *frameworks = json_pack(
        "{s:{s:s,s:s},s:{s:b,s:s},s:{s:b,s:s}}", "ghg_protocol_scope3", "category",
        "1: purchased goods and services", "figure",
        "embedded_tco2e_per_t x tonnes purchased, by product (cradle-to-gate of the "
        "nodes upstream; land-use change from the sites' observed forest loss)",
        "eu_cbam", "in_scope", cbam, "note",
        cbam ? "aluminium, iron or steel flows upstream: specific embedded emissions as CBAM "
               "reports them, allocation basis stated per node"
             : "outside CBAM's scope: no aluminium, iron or steel flows upstream",
        "eu_battery_regulation", "in_scope", battery, "note",
        battery ? "cobalt, lithium, nickel or natural graphite upstream: the sites below are the "
                  "due-diligence evidence (Regulation (EU) 2023/1542)"
                : "no battery raw material (cobalt, lithium, nickel, natural graphite) upstream");
    char *gsha = mw_sha256_file(o->graph), *isha = mw_sha256_file(o->indicators);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s?,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:s,s:s},s:{s:s,"
        "s:s},s:s}",
        "buyer", n->id, "stage", n->stage, "name", n->name, "country", n->country, "operator",
        n->operator_name, "period", o->period, "graph_name", g->name, "graph_year", g->year,
        "products", products, "totals", totals, "primary_data_fraction", primary, "upstream_sites",
        jsites, "upstream_nodes", jnodes, "upstream_edges", jedges, "frameworks", frameworks,
        "graph", "path", o->graph, "sha256", gsha ? gsha : "", "indicators", "path", o->indicators,
        "sha256", isha ? isha : "", "method",
        "burden(n) = its sites' indicators + direct_tco2e + sum of tonnes x intensity of each "
        "input; intensity(n, p) = burden x allocation share / output. A site's sourcing fraction "
        "is the part of its figures that reaches the buyer by the same recursion; the primary "
        "fraction is the part of that carried over reported or derived flows only");
    free(gsha), free(isha);
    json_object_set_new(doc, "direct_reported",
                        json_pack("{s:i,s:i}", "nodes", direct_given, "of", upstream_nodes));
    /* the CSV: one row per upstream site */
    FILE *f = fopen(csv_path, "w");
    if (f) {
        fputs("buyer,site_id,node_id,sourcing_fraction,primary_fraction", f);
        for (int m = 0; m < MW_GM_COUNT; m++)
            if (m != MW_GM_DIRECT_TCO2E)
                fprintf(f, ",%s,%s_low,%s_high,%s_share", mw_graph_metrics[m].name,
                        mw_graph_metrics[m].name, mw_graph_metrics[m].name,
                        mw_graph_metrics[m].name);
        fputs(",scenes\n", f);
        size_t i;
        json_t *js;
        json_array_foreach(jsites, i, js)
        {
            mw_csv_cell(f, n->id, 1);
            fputc(',', f);
            mw_csv_cell(f, json_string_value(json_object_get(js, "site_id")), 1);
            fputc(',', f);
            mw_csv_cell(f, json_string_value(json_object_get(js, "node_id")), 1);
            mw_graph_csv_number(f, json_number_value(json_object_get(js, "sourcing_fraction")));
            json_t *pf = json_object_get(js, "primary_fraction");
            mw_graph_csv_number(f, pf ? json_number_value(pf) : NAN);
            for (int m = 0; m < MW_GM_COUNT; m++) {
                if (m == MW_GM_DIRECT_TCO2E) continue;
                char key[64];
                json_t *t = json_object_get(js, mw_graph_metrics[m].name);
                for (int j = 0; j < 3; j++) {
                    json_t *x = json_array_get(t, (size_t)j);
                    mw_graph_csv_number(f, json_is_number(x) ? json_number_value(x) : NAN);
                }
                snprintf(key, sizeof key, "%s_share", mw_graph_metrics[m].name);
                json_t *sh = json_object_get(js, key);
                mw_graph_csv_number(f, json_is_number(sh) ? json_number_value(sh) : NAN);
            }
            fprintf(f, ",%zu\n", json_array_size(json_object_get(js, "scenes")));
        }
    }
    if (!f || ferror(f)) rc = mw_error_set(MW_ERR_IO, "cannot write '%s'", csv_path);
    if (f && fclose(f) != 0 && rc == 0)
        rc = mw_error_set(MW_ERR_IO, "writing '%s' failed", csv_path);
    if (rc == 0 && json_dump_file(doc, json_path, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0)
        rc = mw_error_set(MW_ERR_IO, "cannot write '%s'", json_path);
    if (rc == 0) rc = mw_evidence_page_write(html_path, doc);
    json_decref(doc), json_decref(prov);
    json_decref(rows);
    free(pp), free(dir), free(up), free(frac), free(frac_p);
    return rc;
}
