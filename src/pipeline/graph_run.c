/* `minewatch graph`: a run's site indicators for one period carried along a supply graph, into
 * DIR/graph_nodes.csv and DIR/provenance.json, committed together. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>

#include "core/name_check.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/graph_run.h"
#include "minewatch/supply_graph.h"
#include "minewatch/version.h"
#include "pipeline/graph_evidence.h"
#include "pipeline/graph_outputs.h"
#include "pipeline/output_postgis.h"
#include "pipeline/provenance.h"

/* The field of the first of the space-separated names the layer has, or -1. */
static int first_field(OGRFeatureDefnH d, const char *names, const char **which)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        int i = OGR_FD_GetFieldIndex(d, t);
        if (i >= 0) {
            if (which) *which = names + (t - buf);
            return i;
        }
    }
    return -1;
}

static double field_number(OGRFeatureH f, int i)
{
    if (i < 0 || !OGR_F_IsFieldSetAndNotNull(f, i)) return NAN;
    const char *s = OGR_F_GetFieldAsString(f, i);
    if (!s || !*s) return NAN; /* an empty cell: not measured */
    return OGR_F_GetFieldAsDouble(f, i);
}

/* The sites' figures of one period from indicators.csv or .gpkg. */
static int read_figures(const char *path, const char *period, mw_site_figures **out, size_t *n,
                        char ***owned, json_t *used)
{
    *out = NULL, *n = 0, *owned = NULL;
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return mw_error_from_gdal(MW_ERR_INPUT, "cannot open the indicators '%s'", path);
    OGRLayerH l = GDALDatasetGetLayerByName(ds, "site_indicators");
    if (!l && GDALDatasetGetLayerCount(ds) > 0) l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureDefnH d = l ? OGR_L_GetLayerDefn(l) : NULL;
    int fs = d ? OGR_FD_GetFieldIndex(d, "site_id") : -1,
        fp = d ? OGR_FD_GetFieldIndex(d, "period") : -1;
    if (fs < 0 || fp < 0) {
        GDALClose(ds);
        return mw_error_set(
            MW_ERR_INPUT, "'%s' is not a minewatch indicators table (no site_id and period)", path);
    }
    int fm[MW_GM_COUNT][3];
    for (int m = 0; m < MW_GM_COUNT; m++) {
        const char *which = NULL;
        fm[m][1] = *mw_graph_metrics[m].indicators
                       ? first_field(d, mw_graph_metrics[m].indicators, &which)
                       : -1;
        fm[m][0] = fm[m][2] = -1;
        if (fm[m][1] >= 0) {
            char name[128];
            size_t len = strcspn(which, " ");
            snprintf(name, sizeof name, "%.*s_low", (int)len, which);
            fm[m][0] = OGR_FD_GetFieldIndex(d, name);
            snprintf(name, sizeof name, "%.*s_high", (int)len, which);
            fm[m][2] = OGR_FD_GetFieldIndex(d, name);
            snprintf(name, sizeof name, "%.*s", (int)len, which);
            json_object_set_new(used, mw_graph_metrics[m].name, json_string(name));
        }
    }
    size_t cap = 64;
    mw_site_figures *v = malloc(cap * sizeof *v);
    char **ids = malloc(cap * sizeof *ids);
    json_t *periods = json_array();
    OGRFeatureH f;
    int rc = v && ids ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    OGR_L_ResetReading(l);
    while (rc == 0 && (f = OGR_L_GetNextFeature(l)) != NULL) {
        const char *per = OGR_F_GetFieldAsString(f, fp);
        int listed = 0;
        for (size_t k = 0; k < json_array_size(periods); k++)
            listed |= strcmp(json_string_value(json_array_get(periods, k)), per) == 0;
        if (!listed) json_array_append_new(periods, json_string(per));
        if (strcmp(per, period) == 0) {
            if (*n == cap) {
                cap *= 2;
                mw_site_figures *v2 = realloc(v, cap * sizeof *v);
                char **i2 = v2 ? realloc(ids, cap * sizeof *ids) : NULL;
                if (v2) v = v2;
                if (i2) ids = i2;
                if (!v2 || !i2) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
            }
            if (rc == 0) {
                ids[*n] = mw_text_dup(OGR_F_GetFieldAsString(f, fs));
                mw_site_figures *s = &v[*n];
                s->site_id = ids[*n];
                for (int m = 0; m < MW_GM_COUNT; m++) {
                    double val = field_number(f, fm[m][1]);
                    double lo = fm[m][0] >= 0 ? field_number(f, fm[m][0]) : val;
                    double hi = fm[m][2] >= 0 ? field_number(f, fm[m][2]) : val;
                    s->v[m][0] = lo, s->v[m][1] = val, s->v[m][2] = hi;
                }
                (*n)++;
            }
        }
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    if (rc == 0 && *n == 0) {
        char list[512] = "";
        for (size_t k = 0; k < json_array_size(periods); k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                     json_string_value(json_array_get(periods, k)));
        rc = mw_error_set(MW_ERR_INPUT, "the indicators '%s' have no rows for period '%s' (%s: %s)",
                          path, period, json_array_size(periods) ? "periods there" : "none", list);
    }
    json_decref(periods);
    if (rc) {
        for (size_t i = 0; ids && i < *n; i++)
            free(ids[i]);
        free(v), free(ids);
        *n = 0;
        return rc;
    }
    *out = v, *owned = ids;
    return 0;
}

int mw_graph_run(const mw_graph_options *o, mw_graph_result_summary *res)
{
    memset(res, 0, sizeof *res);
    mw_supply_graph g;
    if (mw_supply_graph_load(o->graph, &g)) return -1;
    mw_site_figures *sites = NULL;
    char **owned = NULL;
    size_t ns = 0;
    json_t *used = json_object();
    mw_graph_result r = {0};
    int rc = read_figures(o->indicators, o->period, &sites, &ns, &owned, used);
    if (rc == 0) rc = mw_supply_graph_propagate(&g, sites, ns, &r);
    double *lost = NULL, *exposure = NULL;
    int *removed = NULL;
    if (rc == 0 && o->remove) { /* a name that matches nothing is a mistake: say so first */
        lost = calloc(g.nnodes + 1, sizeof *lost), removed = calloc(g.nnodes + 1, sizeof *removed);
        if (!lost || !removed)
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
        else if (mw_supply_graph_stress(&g, o->remove, lost, removed) == 0)
            rc =
                mw_error_set(MW_ERR_INPUT,
                             "--remove %s: no node of the graph has that id or country", o->remove);
    }
    if (rc == 0 && o->postgis && mw_text_ifind(o->postgis, "password"))
        rc = mw_error_set(MW_ERR_INPUT,
                          "--postgis must not hold a password: put it in ~/.pgpass or the "
                          "PGPASSWORD variable");
    if (rc == 0 && o->postgis_schema && !mw_postgis_name_ok(o->postgis_schema))
        rc = mw_error_set(MW_ERR_INPUT,
                          "--postgis-schema must be a lower-case SQL name (a-z, 0-9, _), got '%s'",
                          o->postgis_schema);
    if (rc == 0 && o->evidence) {
        int found = 0;
        for (size_t i = 0; i < g.nnodes; i++)
            found |= !strcmp(g.nodes[i].id, o->evidence);
        if (!found)
            rc = mw_error_set(MW_ERR_INPUT, "--evidence %s: the graph has no such node",
                              o->evidence);
        else if (mw_name_check(o->evidence, "--evidence node id")) /* it names files */
            rc = -1;
    }
    if (rc == 0 && o->exposure)
        rc = mw_supply_graph_exposure(
            &g, sites, ns, (o->mem_budget_mb ? o->mem_budget_mb : 1024) * (size_t)1048576 / 2,
            &exposure);
    /* nothing is written until the inputs have passed every check */
    mw_out_dir od = {0};
    int od_open = 0;
    if (rc == 0) rc = mw_out_dir_open(o->out_dir, &od), od_open = rc == 0;
    char *nodes_path = od_open ? mw_out_dir_stage(&od, "graph_nodes.csv") : NULL;
    if (rc == 0) rc = mw_graph_write_nodes(nodes_path, &g, &r);
    if (rc == 0) {
        char *cp = mw_out_dir_stage(&od, "graph_concentration.csv");
        rc =
            cp ? mw_graph_write_concentration(cp, &g) : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(cp);
    }
    if (rc == 0) { /* the graph for the tools people use */
        char *jp = mw_out_dir_stage(&od, "graph_annotated.json"),
             *xp = mw_out_dir_stage(&od, "graph.graphml"),
             *gp = mw_out_dir_stage(&od, "graph.gpkg"), *gf = mw_out_dir_final(&od, "graph.gpkg");
        rc = jp && xp && gp && gf ? mw_graph_write_annotated(jp, &g, &r)
                                  : mw_error_set(MW_ERR_NOMEM, "out of memory");
        if (rc == 0) rc = mw_graph_write_graphml(xp, &g, &r);
        if (rc == 0) rc = mw_graph_write_gpkg(gp, gf, &g, &r);
        free(jp), free(xp), free(gp), free(gf);
    }
    if (rc == 0 && o->exposure) {
        char *ep = mw_out_dir_stage(&od, "graph_exposure.csv");
        rc = ep ? mw_graph_write_exposure(ep, &g, sites, ns, exposure)
                : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(ep);
    }
    if (rc == 0 && o->evidence) {
        char name[160];
        snprintf(name, sizeof name, "evidence_%s.json", o->evidence);
        char *ej = mw_out_dir_stage(&od, name);
        snprintf(name, sizeof name, "evidence_%s.csv", o->evidence);
        char *ec = mw_out_dir_stage(&od, name);
        snprintf(name, sizeof name, "evidence_%s.html", o->evidence);
        char *eh = mw_out_dir_stage(&od, name);
        rc = ej && ec && eh ? mw_graph_write_evidence(ej, ec, eh, o, &g, &r, sites, ns)
                            : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(ej), free(ec), free(eh);
    }
    if (rc == 0 && o->remove) {
        char *sp = mw_out_dir_stage(&od, "stress.csv");
        rc = sp ? mw_graph_write_stress(sp, &g, lost, removed)
                : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(sp);
    }
    if (rc == 0) {
        char now[32];
        mw_utc_now(now);
        char *gsha = mw_sha256_file(o->graph), *isha = mw_sha256_file(o->indicators);
        json_t *metrics = json_array();
        for (int m = 0; m < MW_GM_COUNT; m++)
            json_array_append_new(
                metrics,
                json_pack("{s:s,s:s,s:s,s:s,s:o}", "name", mw_graph_metrics[m].name, "unit",
                          mw_graph_metrics[m].unit, "per", mw_graph_metrics[m].per_name, "meaning",
                          mw_graph_metrics[m].meaning, "indicator",
                          json_incref(json_object_get(used, mw_graph_metrics[m].name)
                                          ? json_object_get(used, mw_graph_metrics[m].name)
                                          : json_null())));
        json_t *prov = json_pack(
            "{s:s,s:s,s:s?,s:{s:s,s:s,s:s?,s:i},s:{s:s,s:s,s:s},s:o,s:s,s:I,s:I}", "tool",
            "minewatch " MW_VERSION_STRING, "created", now, "command_line", o->command_line,
            "graph", "path", o->graph, "sha256", gsha ? gsha : "", "name", g.name, "year", g.year,
            "indicators", "path", o->indicators, "sha256", isha ? isha : "", "period", o->period,
            "metrics", metrics, "method",
            "burden(n) = its sites' indicators + direct_tco2e + sum of tonnes x intensity of "
            "each input; intensity(n, p) = burden x allocation share / output (economic shares "
            "where the graph gives them, else by mass); low and high carried the same way",
            "nodes", (json_int_t)g.nnodes, "edges", (json_int_t)g.nedges);
        json_object_set_new(prov, "outputs",
                            json_pack("{s:o}", "files", mw_provenance_output_files(&od)));
        char *pp = mw_out_dir_stage(&od, "provenance.json");
        if (!pp || json_dump_file(prov, pp, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0)
            rc = mw_error_set(MW_ERR_IO, "cannot write '%s/provenance.json'", o->out_dir);
        free(pp), free(gsha), free(isha);
        json_decref(prov);
    }
    if (rc == 0) rc = mw_out_dir_commit(&od);
    /* the database after the files: a server that is down costs the files nothing */
    if (rc == 0 && o->postgis) {
        char *gf = mw_out_dir_final(&od, "graph.gpkg"), now[32];
        mw_utc_now(now);
        rc = gf ? mw_postgis_write_graph(o->postgis, o->postgis_schema, gf,
                                         g.name ? g.name : o->graph, o->period, now)
                : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(gf);
    }
    if (od_open) mw_out_dir_close(&od);
    res->nodes = (long)g.nnodes, res->edges = (long)g.nedges, res->sites = (long)ns;
    free(nodes_path), free(lost), free(removed), free(exposure);
    json_decref(used);
    for (size_t i = 0; i < ns; i++)
        free(owned[i]);
    free(owned), free(sites);
    if (r.burden) mw_graph_result_free(&g, &r);
    mw_supply_graph_free(&g);
    return rc;
}
