#include "pipeline/graph_outputs.h"

#include <math.h>
#include <stdio.h>

#include <gdal.h>
#include <jansson.h>
#include <cpl_minixml.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/text.h"
#include "io/gpkg_file.h"
#include "minewatch/error.h"
#include "minewatch/supply_graph.h"
#include "minewatch/lonlat.h"

/* Nine significant digits: intensities run from 1e-6 t/t to thousands, and fixed decimals would
 * round the small ones away; %.9g is as repeatable. */
void mw_graph_csv_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputs(",", f);
}

int mw_graph_write_nodes(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
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
            mw_graph_csv_number(f, n->products[p].output_t);
            mw_graph_csv_number(f, n->products[p].share);
            for (int j = 0; j < 3; j++)
                mw_graph_csv_number(f, in[MW_GM_DIRECT_TCO2E][j] + in[MW_GM_LUC_TCO2E][j]);
            for (int m = 0; m < MW_GM_COUNT; m++)
                for (int j = 0; j < 3; j++)
                    mw_graph_csv_number(f, in[m][j] * mw_graph_metrics[m].per);
            for (int m = 0; m < MW_GM_COUNT; m++)
                mw_graph_csv_number(f, in[m][1] * n->products[p].output_t);
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

int mw_graph_write_concentration(const char *path, const mw_supply_graph *g)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("stage,product,by,hhi,top,top_share,holders\n", f);
    int rc = mw_supply_graph_concentration(g, hhi_row, f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return rc ? rc : bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

int mw_graph_write_exposure(const char *path, const mw_supply_graph *g,
                            const mw_site_figures *sites, size_t ns, const double *x)
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
                if (m != MW_GM_DIRECT_TCO2E) mw_graph_csv_number(f, v[m]);
            fputc('\n', f);
        }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

int mw_graph_write_stress(const char *path, const mw_supply_graph *g, const double *lost,
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
json_t *mw_graph_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *mw_graph_json_range(double lo, double v, double hi)
{
    json_t *a = json_array();
    json_array_append_new(a, mw_graph_json_number(lo));
    json_array_append_new(a, mw_graph_json_number(v));
    json_array_append_new(a, mw_graph_json_number(hi));
    return a;
}

/* The graph with what it carries: per node the burden, per product the intensities (JSON). */
int mw_graph_write_annotated(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
{
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; i < g->nnodes; i++) {
        const mw_graph_node *n = &g->nodes[i];
        json_t *burden = json_object(), *prods = json_array(), *sites = json_array();
        for (int m = 0; m < MW_GM_COUNT; m++)
            json_object_set_new(
                burden, mw_graph_metrics[m].name,
                mw_graph_json_range(r->burden[i][m][0], r->burden[i][m][1], r->burden[i][m][2]));
        for (size_t p = 0; p < n->nproducts; p++) {
            json_t *per_t = json_object();
            for (int m = 0; m < MW_GM_COUNT; m++)
                json_object_set_new(per_t, mw_graph_metrics[m].name,
                                    mw_graph_json_range(r->intensity[i][p][m][0],
                                                        r->intensity[i][p][m][1],
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
                      mw_graph_json_number(ed->tonnes *
                                           (in[MW_GM_DIRECT_TCO2E][1] + in[MW_GM_LUC_TCO2E][1])),
                      "forest_loss_ha",
                      mw_graph_json_number(ed->tonnes * in[MW_GM_FOREST_LOSS_HA][1]), "source",
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
int mw_graph_write_graphml(const char *path, const mw_supply_graph *g, const mw_graph_result *r)
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
int mw_graph_write_gpkg(const char *path, const char *final_path, const mw_supply_graph *g,
                        const mw_graph_result *r)
{
    char *mem = NULL;
    GDALDatasetH ds = mw_gpkg_begin(final_path, &mem);
    if (!ds) return -1;
    OGRSpatialReferenceH srs = mw_lonlat_srs();
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
