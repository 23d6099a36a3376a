/* `minewatch graph`: a run's site indicators for one period carried along a supply graph, into
 * DIR/graph_nodes.csv and DIR/provenance.json, committed together. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <jansson.h>
#include <cpl_minixml.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/name_check.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "io/gpkg_file.h"
#include "minewatch/error.h"
#include "minewatch/graph_run.h"
#include "minewatch/supply_graph.h"
#include "minewatch/version.h"
#include "pipeline/evidence_page.h"
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

/* Nine significant digits: intensities run from 1e-6 t/t to thousands, and fixed decimals would
 * round the small ones away; %.9g is as repeatable. */
static void cell(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputs(",", f);
}

static int write_nodes(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("node_id,product,stage,country,output_t,allocation_share,embedded_tco2e_per_t,"
          "embedded_tco2e_per_t_low,embedded_tco2e_per_t_high",
          f);
    for (int m = 0; m < MW_GM_COUNT; m++)
        fprintf(f, ",%s_per_%s,%s_per_%s_low,%s_per_%s_high", mw_graph_metrics[m].name,
                mw_graph_metrics[m].per_name, mw_graph_metrics[m].name,
                mw_graph_metrics[m].per_name, mw_graph_metrics[m].name,
                mw_graph_metrics[m].per_name);
    for (int m = 0; m < MW_GM_COUNT; m++)
        fprintf(f, ",attributed_%s", mw_graph_metrics[m].name);
    fputc('\n', f);
    for (size_t i = 0; i < g->nnodes; i++) {
        const mw_graph_node *n = &g->nodes[i];
        for (size_t p = 0; p < n->nproducts; p++) {
            double(*in)[3] = r->intensity[i][p];
            mw_csv_cell(f, n->id, 1);
            fputc(',', f);
            mw_csv_cell(f, n->products[p].name, 1);
            fputc(',', f);
            mw_csv_cell(f, n->stage, 1);
            fputc(',', f);
            mw_csv_cell(f, n->country ? n->country : "", 1);
            cell(f, n->products[p].output_t);
            cell(f, n->products[p].share);
            for (int j = 0; j < 3; j++)
                cell(f, in[MW_GM_DIRECT_TCO2E][j] + in[MW_GM_LUC_TCO2E][j]);
            for (int m = 0; m < MW_GM_COUNT; m++)
                for (int j = 0; j < 3; j++)
                    cell(f, in[m][j] * mw_graph_metrics[m].per);
            for (int m = 0; m < MW_GM_COUNT; m++)
                cell(f, in[m][1] * n->products[p].output_t);
            fputc('\n', f);
        }
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

static void hhi_row(const char *stage, const char *product, const char *by, double hhi,
                    const char *top, double top_share, size_t holders, void *user)
{
    FILE *f = user;
    mw_csv_cell(f, stage, 1);
    fputc(',', f);
    mw_csv_cell(f, product, 1);
    fprintf(f, ",%s,%.1f,", by, hhi);
    mw_csv_cell(f, top, 1);
    fprintf(f, ",%.6f,%zu\n", top_share, holders);
}

static int write_concentration(const char *path, const mw_supply_graph *g)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("stage,product,by,hhi,top,top_share,holders\n", f);
    int rc = mw_supply_graph_concentration(g, hhi_row, f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return rc ? rc : bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

static int write_exposure(const char *path, const mw_supply_graph *g, const mw_site_figures *sites,
                          size_t ns, const double *x)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("node_id,site_id", f);
    for (int m = 0; m < MW_GM_COUNT; m++)
        if (m != MW_GM_DIRECT_TCO2E) fprintf(f, ",%s", mw_graph_metrics[m].name);
    fputc('\n', f);
    for (size_t i = 0; i < g->nnodes; i++)
        for (size_t s = 0; s < ns; s++) {
            const double *v = x + (i * ns + s) * MW_GM_COUNT;
            int any = 0;
            for (int m = 0; m < MW_GM_COUNT; m++)
                any |= m != MW_GM_DIRECT_TCO2E && v[m] != 0;
            if (!any) continue; /* this site does not reach this node */
            mw_csv_cell(f, g->nodes[i].id, 1);
            fputc(',', f);
            mw_csv_cell(f, sites[s].site_id, 1);
            for (int m = 0; m < MW_GM_COUNT; m++)
                if (m != MW_GM_DIRECT_TCO2E) cell(f, v[m]);
            fputc('\n', f);
        }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

static int write_stress(const char *path, const mw_supply_graph *g, const double *lost,
                        const int *rm)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("node_id,supply_lost_fraction,removed,left_with_none\n", f);
    for (size_t i = 0; i < g->nnodes; i++) {
        mw_csv_cell(f, g->nodes[i].id, 1);
        fprintf(f, ",%.6f,%d,%d\n", lost[i], rm[i], lost[i] >= 1.0 - 1e-12);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

/* JSON numbers: NaN (not measured) is null, which jansson's packer would refuse. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jtriple(double lo, double v, double hi)
{
    json_t *a = json_array();
    json_array_append_new(a, jnum(lo));
    json_array_append_new(a, jnum(v));
    json_array_append_new(a, jnum(hi));
    return a;
}

/* The graph with what it carries: per node the burden, per product the intensities (JSON). */
static int write_annotated(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
{
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; i < g->nnodes; i++) {
        const mw_graph_node *n = &g->nodes[i];
        json_t *burden = json_object(), *prods = json_array(), *sites = json_array();
        for (int m = 0; m < MW_GM_COUNT; m++)
            json_object_set_new(
                burden, mw_graph_metrics[m].name,
                jtriple(r->burden[i][m][0], r->burden[i][m][1], r->burden[i][m][2]));
        for (size_t p = 0; p < n->nproducts; p++) {
            json_t *per_t = json_object();
            for (int m = 0; m < MW_GM_COUNT; m++)
                json_object_set_new(per_t, mw_graph_metrics[m].name,
                                    jtriple(r->intensity[i][p][m][0], r->intensity[i][p][m][1],
                                            r->intensity[i][p][m][2]));
            json_array_append_new(prods,
                                  json_pack("{s:s,s:f,s:f,s:o}", "product", n->products[p].name,
                                            "output_t", n->products[p].output_t, "allocation_share",
                                            n->products[p].share, "per_tonne", per_t));
        }
        for (size_t s = 0; s < n->nsites; s++)
            json_array_append_new(sites, json_string(n->sites[s]));
        json_t *jn =
            json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o,s:o,s:o,s:s}", "id", n->id, "stage",
                      n->stage, "name", n->name, "country", n->country, "operator",
                      n->operator_name, "source", n->source, "sites", sites, "products", prods,
                      "burden", burden, "allocation", n->economic ? "economic" : "mass");
        if (isfinite(n->lon) && isfinite(n->lat)) {
            json_object_set_new(jn, "lon", json_real(n->lon));
            json_object_set_new(jn, "lat", json_real(n->lat));
        }
        json_array_append_new(nodes, jn);
    }
    for (size_t e = 0; e < g->nedges; e++) {
        const mw_graph_edge *ed = &g->edges[e];
        const double(*in)[3] = (const double(*)[3])r->intensity[ed->from][ed->product];
        json_array_append_new(
            edges,
            json_pack("{s:s,s:s,s:s,s:f,s:o,s:o,s:s?}", "from", g->nodes[ed->from].id, "to",
                      g->nodes[ed->to].id, "product", g->nodes[ed->from].products[ed->product].name,
                      "tonnes", ed->tonnes, "embedded_tco2e",
                      jnum(ed->tonnes * (in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1])),
                      "forest_loss_ha", jnum(ed->tonnes * in[MW_GM_FOREST_LOSS_HA][1]), "source",
                      ed->source));
    }
    json_t *root = json_pack("{s:s?,s:i,s:o,s:o}", "name", g->name, "year", g->year, "nodes", nodes,
                             "edges", edges);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) == 0
                 ? 0
                 : mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    json_decref(root);
    return rc;
}

static CPLXMLNode *graphml_key(CPLXMLNode *root, const char *id, const char *for_, const char *name,
                               const char *type)
{
    CPLXMLNode *k = CPLCreateXMLNode(root, CXT_Element, "key");
    CPLAddXMLAttributeAndValue(k, "id", id);
    CPLAddXMLAttributeAndValue(k, "for", for_);
    CPLAddXMLAttributeAndValue(k, "attr.name", name);
    CPLAddXMLAttributeAndValue(k, "attr.type", type);
    return k;
}

static void graphml_data(CPLXMLNode *parent, const char *key, const char *value)
{
    CPLXMLNode *d = CPLCreateXMLElementAndValue(parent, "data", value ? value : "");
    CPLAddXMLAttributeAndValue(d, "key", key);
}

/* GraphML (yEd, Gephi, NetworkX read it), written through GDAL's XML tree so text is escaped. */
static int write_graphml(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
{
    CPLXMLNode *root = CPLCreateXMLNode(NULL, CXT_Element, "graphml");
    CPLAddXMLAttributeAndValue(root, "xmlns", "http://graphml.graphdrawing.org/xmlns");
    graphml_key(root, "stage", "node", "stage", "string");
    graphml_key(root, "name", "node", "name", "string");
    graphml_key(root, "country", "node", "country", "string");
    graphml_key(root, "tco2e", "node", "burden_tco2e", "double");
    graphml_key(root, "forest", "node", "burden_forest_loss_ha", "double");
    graphml_key(root, "product", "edge", "product", "string");
    graphml_key(root, "tonnes", "edge", "tonnes", "double");
    graphml_key(root, "etco2e", "edge", "embedded_tco2e", "double");
    CPLXMLNode *gr = CPLCreateXMLNode(root, CXT_Element, "graph");
    CPLAddXMLAttributeAndValue(gr, "id", g->name ? g->name : "supply");
    CPLAddXMLAttributeAndValue(gr, "edgedefault", "directed");
    char num[64];
    for (size_t i = 0; i < g->nnodes; i++) {
        const mw_graph_node *n = &g->nodes[i];
        CPLXMLNode *x = CPLCreateXMLNode(gr, CXT_Element, "node");
        CPLAddXMLAttributeAndValue(x, "id", n->id);
        graphml_data(x, "stage", n->stage);
        graphml_data(x, "name", n->name);
        graphml_data(x, "country", n->country);
        snprintf(num, sizeof num, "%.6f",
                 r->burden[i][MW_GM_DIRECT_TCO2E][1] + r->burden[i][MW_GM_LUC_TCO2E][1]);
        graphml_data(x, "tco2e", num);
        snprintf(num, sizeof num, "%.6f", r->burden[i][MW_GM_FOREST_LOSS_HA][1]);
        graphml_data(x, "forest", num);
    }
    for (size_t e = 0; e < g->nedges; e++) {
        const mw_graph_edge *ed = &g->edges[e];
        const double(*in)[3] = (const double(*)[3])r->intensity[ed->from][ed->product];
        CPLXMLNode *x = CPLCreateXMLNode(gr, CXT_Element, "edge");
        CPLAddXMLAttributeAndValue(x, "source", g->nodes[ed->from].id);
        CPLAddXMLAttributeAndValue(x, "target", g->nodes[ed->to].id);
        graphml_data(x, "product", g->nodes[ed->from].products[ed->product].name);
        snprintf(num, sizeof num, "%.6f", ed->tonnes);
        graphml_data(x, "tonnes", num);
        snprintf(num, sizeof num, "%.6f",
                 ed->tonnes * (in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1]));
        graphml_data(x, "etco2e", num);
    }
    int ok = CPLSerializeXMLTreeToFile(root, path);
    CPLDestroyXMLNode(root);
    return ok ? 0 : mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
}

/* Nodes as points and edges as lines for QGIS (nodes without lon/lat have no geometry). */
static int write_graph_gpkg(const char *path, const char *final_path, const mw_supply_graph *g,
                            const mw_graph_result *r)
{
    char *mem = NULL;
    GDALDatasetH ds = mw_gpkg_begin(final_path, &mem);
    if (!ds) return -1;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 4326);
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRLayerH ln = GDALDatasetCreateLayer(ds, "graph_nodes", srs, wkbPoint, NULL);
    OGRLayerH le = GDALDatasetCreateLayer(ds, "graph_edges", srs, wkbLineString, NULL);
    OSRDestroySpatialReference(srs);
    int rc = ln && le ? 0 : mw_error_from_gdal(MW_ERR_IO, "cannot make the graph layers");
    static const struct {
        int edge;
        const char *name;
        OGRFieldType t;
    } fields[] = {{0, "node_id", OFTString},
                  {0, "stage", OFTString},
                  {0, "name", OFTString},
                  {0, "country", OFTString},
                  {0, "operator", OFTString},
                  {0, "burden_tco2e", OFTReal},
                  {0, "burden_forest_loss_ha", OFTReal},
                  {1, "from_node", OFTString},
                  {1, "to_node", OFTString},
                  {1, "product", OFTString},
                  {1, "tonnes", OFTReal},
                  {1, "embedded_tco2e", OFTReal},
                  {1, "forest_loss_ha", OFTReal}};
    for (size_t k = 0; rc == 0 && k < sizeof fields / sizeof *fields; k++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[k].name, fields[k].t);
        if (OGR_L_CreateField(fields[k].edge ? le : ln, fd, 1) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot make the graph layers");
        OGR_Fld_Destroy(fd);
    }
    if (rc == 0) GDALDatasetStartTransaction(ds, 0);
    for (size_t i = 0; rc == 0 && i < g->nnodes; i++) {
        const mw_graph_node *n = &g->nodes[i];
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(ln));
        OGR_F_SetFieldString(f, 0, n->id);
        OGR_F_SetFieldString(f, 1, n->stage);
        if (n->name) OGR_F_SetFieldString(f, 2, n->name);
        if (n->country) OGR_F_SetFieldString(f, 3, n->country);
        if (n->operator_name) OGR_F_SetFieldString(f, 4, n->operator_name);
        OGR_F_SetFieldDouble(
            f, 5, r->burden[i][MW_GM_DIRECT_TCO2E][1] + r->burden[i][MW_GM_LUC_TCO2E][1]);
        OGR_F_SetFieldDouble(f, 6, r->burden[i][MW_GM_FOREST_LOSS_HA][1]);
        if (isfinite(n->lon) && isfinite(n->lat)) {
            OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(pt, 0, n->lon, n->lat);
            OGR_F_SetGeometryDirectly(f, pt);
        }
        if (OGR_L_CreateFeature(ln, f) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot write a graph node");
        OGR_F_Destroy(f);
    }
    for (size_t e = 0; rc == 0 && e < g->nedges; e++) {
        const mw_graph_edge *ed = &g->edges[e];
        const mw_graph_node *a = &g->nodes[ed->from], *b = &g->nodes[ed->to];
        const double(*in)[3] = (const double(*)[3])r->intensity[ed->from][ed->product];
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(le));
        OGR_F_SetFieldString(f, 0, a->id);
        OGR_F_SetFieldString(f, 1, b->id);
        OGR_F_SetFieldString(f, 2, a->products[ed->product].name);
        OGR_F_SetFieldDouble(f, 3, ed->tonnes);
        OGR_F_SetFieldDouble(f, 4,
                             ed->tonnes * (in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1]));
        OGR_F_SetFieldDouble(f, 5, ed->tonnes * in[MW_GM_FOREST_LOSS_HA][1]);
        if (isfinite(a->lon) && isfinite(a->lat) && isfinite(b->lon) && isfinite(b->lat)) {
            OGRGeometryH l = OGR_G_CreateGeometry(wkbLineString);
            OGR_G_AddPoint_2D(l, a->lon, a->lat);
            OGR_G_AddPoint_2D(l, b->lon, b->lat);
            OGR_F_SetGeometryDirectly(f, l);
        }
        if (OGR_L_CreateFeature(le, f) != OGRERR_NONE)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot write a graph edge");
        OGR_F_Destroy(f);
    }
    if (rc == 0 && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", final_path);
    return mw_gpkg_finish(ds, mem, path, rc == 0) ? -1 : rc;
}

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
    return jtriple(v[0] * scale, v[1] * scale, v[2] * scale);
}

/* The evidence pack for one buyer: its upstream chain with every source, its upstream sites with
 * their shares of its burden, bounds, indicators and scenes, the share carried by primary data,
 * and the frameworks it files under. One document feeds the JSON, the CSV and the page. */
static int write_evidence(const char *json_path, const char *csv_path, const char *html_path,
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
        json_t *js = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:o,s:o}", "site_id", sites[s].site_id,
                               "node_id", sn->id, "stage", sn->stage, "country", sn->country,
                               "operator", sn->operator_name, "sourcing_fraction", jnum(frac[s]),
                               "primary_fraction", jnum(frac_p[s] / frac[s]));
        for (int m = 0; m < MW_GM_COUNT; m++) {
            if (m == MW_GM_DIRECT_TCO2E) continue;
            const char *name = mw_graph_metrics[m].name;
            char key[64];
            json_object_set_new(js, name, jmetric(v[m], frac[s]));
            snprintf(key, sizeof key, "%s_share", name);
            json_object_set_new(js, key,
                                jnum(burden[m][1] > 0 ? v[m][1] * frac[s] / burden[m][1] : NAN));
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
            json_object_set_new(primary, mw_graph_metrics[m].name,
                                jnum(via_all[m] > 0 ? via_primary[m] / via_all[m] : NAN));
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
            jnodes,
            json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:o,s:o,s:o,s:s,s:o,s:o,s:s?}", "id", u->id, "stage",
                      u->stage, "name", u->name, "country", u->country, "operator",
                      u->operator_name, "lon", jnum(u->lon), "lat", jnum(u->lat), "sites", jsn,
                      "allocation", u->economic ? "economic (given)" : "by mass", "products", prods,
                      "direct_tco2e", u->direct_given ? jnum(u->direct_tco2e) : json_null(),
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
            products, json_pack("{s:s,s:f,s:f,s:o,s:o,s:o,s:o}", "product", n->products[p].name,
                                "output_t", n->products[p].output_t, "allocation_share",
                                n->products[p].share, "embedded_tco2e_per_t",
                                jtriple(in[MW_GM_DIRECT_TCO2E][0] + in[MW_GM_LUC_TCO2E][0],
                                        in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1],
                                        in[MW_GM_DIRECT_TCO2E][2] + in[MW_GM_LUC_TCO2E][2]),
                                "direct_tco2e_per_t", jmetric(in[MW_GM_DIRECT_TCO2E], 1),
                                "luc_tco2e_per_t", jmetric(in[MW_GM_LUC_TCO2E], 1),
                                "forest_loss_ha_per_kt", jmetric(in[MW_GM_FOREST_LOSS_HA], 1000)));
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
            cell(f, json_number_value(json_object_get(js, "sourcing_fraction")));
            json_t *pf = json_object_get(js, "primary_fraction");
            cell(f, pf ? json_number_value(pf) : NAN);
            for (int m = 0; m < MW_GM_COUNT; m++) {
                if (m == MW_GM_DIRECT_TCO2E) continue;
                char key[64];
                json_t *t = json_object_get(js, mw_graph_metrics[m].name);
                for (int j = 0; j < 3; j++) {
                    json_t *x = json_array_get(t, (size_t)j);
                    cell(f, json_is_number(x) ? json_number_value(x) : NAN);
                }
                snprintf(key, sizeof key, "%s_share", mw_graph_metrics[m].name);
                json_t *sh = json_object_get(js, key);
                cell(f, json_is_number(sh) ? json_number_value(sh) : NAN);
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
    if (rc == 0) rc = write_nodes(nodes_path, &g, &r);
    if (rc == 0) {
        char *cp = mw_out_dir_stage(&od, "graph_concentration.csv");
        rc = cp ? write_concentration(cp, &g) : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(cp);
    }
    if (rc == 0) { /* the graph for the tools people use */
        char *jp = mw_out_dir_stage(&od, "graph_annotated.json"),
             *xp = mw_out_dir_stage(&od, "graph.graphml"),
             *gp = mw_out_dir_stage(&od, "graph.gpkg"), *gf = mw_out_dir_final(&od, "graph.gpkg");
        rc = jp && xp && gp && gf ? write_annotated(jp, &g, &r)
                                  : mw_error_set(MW_ERR_NOMEM, "out of memory");
        if (rc == 0) rc = write_graphml(xp, &g, &r);
        if (rc == 0) rc = write_graph_gpkg(gp, gf, &g, &r);
        free(jp), free(xp), free(gp), free(gf);
    }
    if (rc == 0 && o->exposure) {
        char *ep = mw_out_dir_stage(&od, "graph_exposure.csv");
        rc = ep ? write_exposure(ep, &g, sites, ns, exposure)
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
        rc = ej && ec && eh ? write_evidence(ej, ec, eh, o, &g, &r, sites, ns)
                            : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(ej), free(ec), free(eh);
    }
    if (rc == 0 && o->remove) {
        char *sp = mw_out_dir_stage(&od, "stress.csv");
        rc = sp ? write_stress(sp, &g, lost, removed) : mw_error_set(MW_ERR_NOMEM, "out of memory");
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
