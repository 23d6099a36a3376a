/* The supply-chain graph: propagation on a small graph computed by hand below, and every rule
 * violation refused with its message and nothing written. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cpl_minixml.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>

#include "test_util.h"

static char *g_dir;

/* Sites of period 2023 (a run's indicators, the columns the graph reads):
 *   A: forest loss 10 ha, disturbed 20 ha, hot 0, GFW emissions 4000 t CO2e
 *   B: forest loss  5 ha, disturbed 10 ha, hot 0, GFW emissions 1500 t CO2e
 *   S: forest loss  0 ha, disturbed  2 ha, hot 30 pixel-days, emissions 0
 * A 2021 row of A must not be read. */
static const char *const indicators =
    "site_id,site_name,period,forest_loss_ha,disturbed_ha,hot_pixel_days,gfw_emissions_mg_co2e\n"
    "A,a,2021,99,99,99,99\n"
    "A,a,2023,10,20,0,4000\n"
    "B,b,2023,5,10,0,1500\n"
    "S,s,2023,0,2,30,0\n";

/* m1 (mine, site A, 1000 t ore, direct 100) and m2 (mine, site B, 500 t ore, direct 50) send 600 t
 * and 500 t of ore to r1 (refinery, site S, direct 900), which makes 100 t cobalt and 400 t copper
 * with economic shares 0.7 / 0.3. r1 sends its 100 t of cobalt to t1 (a trader that only passes
 * it on), t1 sends 80 t to c1 (cathode, direct 40, 200 t cathode).
 *
 * By hand:
 *   m1 ore per t: direct 0.1, LUC 4, forest 0.01 ha (10 ha/kt), disturbed 20 ha/kt
 *   m2 ore per t: direct 0.1, LUC 3, forest 10 ha/kt, disturbed 20 ha/kt
 *   r1 burden: direct 900 + 60 + 50 = 1010; LUC 2400 + 1500 = 3900; forest 6 + 5 = 11 ha;
 *              disturbed 2 + 12 + 10 = 24 ha; hot 30
 *   r1 cobalt (0.7 / 100 t): direct 7.07, LUC 27.3 -> embedded 34.37 t/t; forest 77 ha/kt;
 *              disturbed 168 ha/kt; hot 210 /kt; attributed forest 7.7 ha
 *   r1 copper (0.3 / 400 t): direct 0.7575, LUC 2.925 -> 3.6825 t/t; forest 8.25 ha/kt;
 *              disturbed 18 ha/kt; hot 22.5 /kt; attributed forest 3.3 ha
 *   t1 cobalt: the same intensities as r1's (it only passes the flow): 34.37 t/t, 77 ha/kt
 *   c1 burden: direct 40 + 80 x 7.07 = 605.6; LUC 80 x 27.3 = 2184; forest 6.16 ha
 *   c1 cathode (200 t): direct 3.028 + LUC 10.92 -> 13.948 t/t; forest 30.8 ha/kt;
 *              disturbed 80 x 0.168 / 200 = 67.2 ha/kt; hot 80 x 0.21 / 200 = 84 /kt
 * Forest loss attributed to the products nobody takes further adds up to the sites' 15 ha:
 * m1 ore 4 + r1 copper 3.3 + t1 cobalt 1.54 + c1 cathode 6.16. */
static const char *const good =
    "{\"name\": \"test chain\", \"year\": 2023,\n"
    " \"nodes\": [\n"
    "  {\"id\": \"m1\", \"stage\": \"mine\", \"country\": \"CD\", \"sites\": [\"A\"],"
    " \"lon\": 25.4, \"lat\": -10.7,"
    " \"outputs\": {\"ore\": 1000}, \"direct_tco2e\": 100, \"source\": \"test\"},\n"
    "  {\"id\": \"m2\", \"stage\": \"mine\", \"country\": \"ZM\", \"sites\": [\"B\"],"
    " \"outputs\": {\"ore\": 500}, \"direct_tco2e\": 50},\n"
    "  {\"id\": \"r1\", \"stage\": \"refinery\", \"country\": \"FI\", \"sites\": [\"S\"],"
    " \"lon\": 22.14, \"lat\": 61.32,"
    " \"outputs\": {\"cobalt\": 100, \"copper\": 400}, \"allocation\": {\"cobalt\": 0.7,"
    " \"copper\": 0.3}, \"direct_tco2e\": 900},\n"
    "  {\"id\": \"t1\", \"stage\": \"trader\", \"outputs\": {\"cobalt\": 100}},\n"
    "  {\"id\": \"c1\", \"stage\": \"cathode\", \"country\": \"IN\", \"outputs\": {\"cathode\": "
    "200},"
    " \"direct_tco2e\": 40}],\n"
    " \"edges\": [\n"
    "  {\"from\": \"m1\", \"to\": \"r1\", \"product\": \"ore\", \"tonnes\": 600,"
    " \"basis\": \"reported\", \"source\": \"m1 <annual> report & \\\"accounts\\\"\"},\n"
    "  {\"from\": \"m2\", \"to\": \"r1\", \"product\": \"ore\", \"tonnes\": 500},\n"
    "  {\"from\": \"r1\", \"to\": \"t1\", \"product\": \"cobalt\", \"tonnes\": 100,"
    " \"basis\": \"derived\"},\n"
    "  {\"from\": \"t1\", \"to\": \"c1\", \"product\": \"cobalt\", \"tonnes\": 80,"
    " \"basis\": \"reported\"}]}\n";

static int run_graph_with(const char *graph_text, const char *out, const char *extra, char **text)
{
    char *g = tu_path(g_dir, "graph.json"), *ind = tu_path(g_dir, "indicators.csv");
    tu_write(g, graph_text);
    tu_write(ind, indicators);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s graph %s --indicators %s --period 2023 -o %s %s", MW_CLI, g, ind,
             out, extra);
    int rc = tu_run(cmd, text);
    free(g), free(ind);
    return rc;
}

static int run_graph(const char *graph_text, const char *out, char **text)
{
    return run_graph_with(graph_text, out, "", text);
}

/* The value in column col of the row starting "node,product,". */
static double value(const char *csv, const char *node_product, const char *col)
{
    int want = -1, c = 0;
    const char *p = csv;
    for (const char *q = csv; *q && *q != '\n'; q++) {
        if (q == csv || q[-1] == ',') {
            size_t n = strcspn(q, ",\n");
            if (n == strlen(col) && strncmp(q, col, n) == 0) want = c;
        }
        if (*q == ',') c++;
    }
    if (want < 0) fail_msg("no column %s", col);
    p = strstr(csv, node_product);
    if (!p) fail_msg("no row %s", node_product);
    for (int i = 0; i < want; i++)
        p = strchr(p, ',') + 1;
    return *p == ',' || *p == '\n' ? NAN : atof(p);
}

static void near(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= 1e-6 * (1 + fabs(want))))
        fail_msg("%s: %.9g, by hand %.9g", what, got, want);
}

static void propagation_matches_hand_computation(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "good"), *text;
    int rc = run_graph(good, out, &text);
    if (rc != 0) fail_msg("graph exited %d:\n%s", rc, text);
    free(text);
    char *path = tu_path(out, "graph_nodes.csv");
    char *csv = tu_read(path, NULL);
    assert_non_null(csv);
    near(value(csv, "m1,ore,", "embedded_tco2e_per_t"), 4.1, "m1 ore t CO2e/t");
    near(value(csv, "m2,ore,", "luc_tco2e_per_t"), 3.0, "m2 ore LUC t/t");
    near(value(csv, "r1,cobalt,", "embedded_tco2e_per_t"), 34.37, "r1 cobalt t CO2e/t");
    near(value(csv, "r1,cobalt,", "direct_tco2e_per_t"), 7.07, "r1 cobalt direct t/t");
    near(value(csv, "r1,cobalt,", "forest_loss_ha_per_kt"), 77, "r1 cobalt forest ha/kt");
    near(value(csv, "r1,cobalt,", "disturbed_ha_per_kt"), 168, "r1 cobalt disturbed ha/kt");
    near(value(csv, "r1,cobalt,", "hot_pixel_days_per_kt"), 210, "r1 cobalt heat /kt");
    near(value(csv, "r1,copper,", "embedded_tco2e_per_t"), 3.6825, "r1 copper t CO2e/t");
    near(value(csv, "r1,copper,", "forest_loss_ha_per_kt"), 8.25, "r1 copper forest ha/kt");
    near(value(csv, "r1,copper,", "allocation_share"), 0.3, "r1 copper share");
    near(value(csv, "t1,cobalt,", "embedded_tco2e_per_t"), 34.37, "trader passes intensity");
    near(value(csv, "t1,cobalt,", "forest_loss_ha_per_kt"), 77, "trader forest ha/kt");
    near(value(csv, "c1,cathode,", "embedded_tco2e_per_t"), 13.948, "c1 cathode t CO2e/t");
    near(value(csv, "c1,cathode,", "forest_loss_ha_per_kt"), 30.8, "c1 cathode forest ha/kt");
    near(value(csv, "c1,cathode,", "disturbed_ha_per_kt"), 67.2, "c1 cathode disturbed ha/kt");
    near(value(csv, "c1,cathode,", "hot_pixel_days_per_kt"), 84, "c1 cathode heat /kt");
    /* no bounds in these indicators: low = value = high */
    near(value(csv, "c1,cathode,", "embedded_tco2e_per_t_low"), 13.948, "c1 low");
    near(value(csv, "c1,cathode,", "embedded_tco2e_per_t_high"), 13.948, "c1 high");
    /* what reaches the ends of the chain adds up to the sites' forest loss */
    double total = value(csv, "m1,ore,", "attributed_forest_loss_ha") * 0.4 + /* 400 t unsent */
                   value(csv, "r1,copper,", "attributed_forest_loss_ha") +
                   value(csv, "t1,cobalt,", "attributed_forest_loss_ha") * 0.2 + /* 20 t kept */
                   value(csv, "c1,cathode,", "attributed_forest_loss_ha");
    near(total, 15, "forest loss at the ends of the chain");
    char *prov = tu_path(out, "provenance.json");
    char *pt = tu_read(prov, NULL);
    assert_non_null(strstr(pt, "gfw_emissions_mg_co2e"));
    free(pt), free(prov), free(csv), free(path), free(out);
}

/* Exposure by site (by hand, from the figures above): r1's forest loss is 6 ha from A and 5 from
 * B; a tonne of its cobalt carries 6 x 0.7 / 100 = 0.042 ha of A and 0.035 of B; c1's 80 t carry
 * 3.36 ha of A and 2.8 of B (6.16 in all), and 80 x 2400 x 0.7 / 100 = 1344 t CO2e of A's and
 * 840 of B's land-use change; site S reaches c1 with 80 x 2 x 0.7 / 100 = 1.12 ha disturbed and
 * 80 x 30 x 0.7 / 100 = 16.8 hot pixel-days.
 * Concentration: mine ore is 1000 t from CD and 500 t from ZM: HHI 10,000 x (4/9 + 1/9) = 5555.6.
 * Stress: without m2, r1 loses 500 of its 1100 t of ore (0.454545), and t1 and c1 the same share;
 * without r1, t1 and c1 are left with none. */
static void exposure_concentration_and_stress(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "exposure"), *text;
    int rc = run_graph_with(good, out, "--exposure --remove m2", &text);
    if (rc != 0) fail_msg("graph exited %d:\n%s", rc, text);
    free(text);
    char *p = tu_path(out, "graph_exposure.csv"), *csv = tu_read(p, NULL);
    assert_non_null(csv);
    near(value(csv, "c1,A,", "forest_loss_ha"), 3.36, "c1 from A, ha");
    near(value(csv, "c1,B,", "forest_loss_ha"), 2.8, "c1 from B, ha");
    near(value(csv, "c1,A,", "luc_tco2e"), 1344, "c1 from A, t CO2e");
    near(value(csv, "c1,B,", "luc_tco2e"), 840, "c1 from B, t CO2e");
    near(value(csv, "c1,S,", "disturbed_ha"), 1.12, "c1 from S, disturbed");
    near(value(csv, "c1,S,", "hot_pixel_days"), 16.8, "c1 from S, heat");
    assert_null(strstr(csv, "m1,B,")); /* B does not reach m1 */
    free(csv), free(p);
    p = tu_path(out, "graph_concentration.csv"), csv = tu_read(p, NULL);
    assert_non_null(csv);
    near(value(csv, "mine,ore,country,", "hhi"), 5555.6, "mine ore HHI by country (1 decimal)");
    near(value(csv, "mine,ore,country,", "top_share"), 0.666667, "mine ore top share");
    assert_non_null(strstr(csv, "mine,ore,country,5555.6,CD,0.666667,2\n"));
    assert_non_null(strstr(csv, "refinery,cobalt,country,10000.0,FI,1.000000,1\n"));
    free(csv), free(p);
    p = tu_path(out, "stress.csv"), csv = tu_read(p, NULL);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "m2,1.000000,1,1\n"));
    assert_non_null(strstr(csv, "m1,0.000000,0,0\n"));
    assert_non_null(strstr(csv, "r1,0.454545,0,0\n"));
    assert_non_null(strstr(csv, "c1,0.454545,0,0\n"));
    free(csv), free(p), free(out);
    out = tu_path(g_dir, "stress-r1");
    assert_int_equal(run_graph_with(good, out, "--remove r1", &text), 0);
    free(text);
    p = tu_path(out, "stress.csv"), csv = tu_read(p, NULL);
    assert_non_null(strstr(csv, "t1,1.000000,0,1\n"));
    assert_non_null(strstr(csv, "c1,1.000000,0,1\n"));
    free(csv), free(p), free(out);
    /* a country removes all its nodes; an unknown one is refused, nothing written */
    out = tu_path(g_dir, "stress-cd");
    assert_int_equal(run_graph_with(good, out, "--remove CD", &text), 0);
    free(text);
    p = tu_path(out, "stress.csv"), csv = tu_read(p, NULL);
    assert_non_null(strstr(csv, "m1,1.000000,1,1\n"));
    assert_non_null(strstr(csv, "r1,0.545455,0,0\n"));
    free(csv), free(p), free(out);
    out = tu_path(g_dir, "stress-none");
    assert_int_equal(run_graph_with(good, out, "--remove XX", &text), 2);
    assert_non_null(strstr(text, "no node of the graph has that id or country"));
    assert_int_not_equal(access(out, F_OK), 0);
    free(text), free(out);
}

/* The graph for the tools people use: annotated JSON, GraphML, and a GeoPackage of nodes as
 * points and edges as lines (where both ends have coordinates). */
static void graph_outputs_open_in_their_tools(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "good"); /* written by the first test */
    char *jp = tu_path(out, "graph_annotated.json"), *xp = tu_path(out, "graph.graphml"),
         *gp = tu_path(out, "graph.gpkg");
    json_t *j = json_load_file(jp, 0, NULL);
    assert_non_null(j);
    json_t *c1 = json_array_get(json_object_get(j, "nodes"), 4);
    assert_string_equal(json_string_value(json_object_get(c1, "id")), "c1");
    near(json_real_value(
             json_array_get(json_object_get(json_object_get(c1, "burden"), "forest_loss_ha"), 1)),
         6.16, "annotated c1 forest burden");
    json_decref(j);
    CPLXMLNode *x = CPLParseXMLFile(xp);
    assert_non_null(x);
    CPLXMLNode *gr = CPLGetXMLNode(x, "=graphml.graph");
    assert_non_null(gr);
    int nodes = 0, edges = 0;
    for (CPLXMLNode *c = gr->psChild; c; c = c->psNext)
        if (c->eType == CXT_Element)
            nodes += !strcmp(c->pszValue, "node"), edges += !strcmp(c->pszValue, "edge");
    assert_int_equal(nodes, 5);
    assert_int_equal(edges, 4);
    CPLDestroyXMLNode(x);
    GDALAllRegister();
    GDALDatasetH ds = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    OGRLayerH ln = GDALDatasetGetLayerByName(ds, "graph_nodes"),
              le = GDALDatasetGetLayerByName(ds, "graph_edges");
    assert_non_null(ln), assert_non_null(le);
    assert_int_equal(OGR_L_GetFeatureCount(ln, 1), 5);
    assert_int_equal(OGR_L_GetFeatureCount(le, 4), 4);
    OGRFeatureH f = OGR_L_GetNextFeature(le); /* m1 -> r1: a line from Katanga to Finland */
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    assert_non_null(g);
    assert_true(fabs(OGR_G_GetX(g, 0) - 25.4) < 1e-9 && fabs(OGR_G_GetY(g, 1) - 61.32) < 1e-9);
    near(OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "forest_loss_ha")), 6, "m1->r1 forest");
    OGR_F_Destroy(f);
    GDALClose(ds);
    free(jp), free(xp), free(gp), free(out);
}

/* The evidence pack of c1: A carries 3.36 of its 6.16 ha (0.545455) and 1344 of its 2184 t CO2e
 * of land-use change (0.615385), B the rest, S only disturbance and heat; cobalt upstream puts it
 * under the EU Battery Regulation, and no aluminium, iron or steel leaves it outside CBAM.
 * Sourcing fractions: A 0.6 (m1's ore to r1) x 0.7 (cobalt's share) x 0.8 (t1 to c1) = 0.336,
 * B 1 x 0.7 x 0.8 = 0.56, S 0.56. A's path is reported, derived, reported: all primary; B's ore
 * edge states no basis: none primary; so 3.36 / 6.16 of the forest loss is primary data. */
static void evidence_pack_for_a_buyer(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "evidence"), *text;
    int rc = run_graph_with(good, out, "--evidence c1", &text);
    if (rc != 0) fail_msg("graph exited %d:\n%s", rc, text);
    free(text);
    char *jp = tu_path(out, "evidence_c1.json"), *cp = tu_path(out, "evidence_c1.csv");
    json_t *j = json_load_file(jp, 0, NULL);
    assert_non_null(j);
    json_t *sites = json_object_get(j, "upstream_sites");
    assert_int_equal(json_array_size(sites), 3);
    json_t *a = json_array_get(sites, 0);
    assert_string_equal(json_string_value(json_object_get(a, "site_id")), "A");
    assert_string_equal(json_string_value(json_object_get(a, "node_id")), "m1");
    near(json_real_value(json_object_get(a, "sourcing_fraction")), 0.336, "A sourcing fraction");
    near(json_real_value(json_object_get(a, "primary_fraction")), 1, "A over primary flows");
    near(json_real_value(json_object_get(json_array_get(sites, 1), "primary_fraction")), 0,
         "B over an unstated flow");
    near(json_real_value(json_object_get(json_array_get(sites, 2), "sourcing_fraction")), 0.56,
         "S sourcing fraction");
    near(json_real_value(json_object_get(a, "forest_loss_ha_share")), 3.36 / 6.16, "A share of c1");
    near(json_real_value(json_object_get(a, "luc_tco2e_share")), 1344.0 / 2184,
         "A LUC share of c1");
    near(json_real_value(json_array_get(json_object_get(a, "forest_loss_ha"), 1)), 3.36,
         "A's hectares reaching c1");
    near(json_real_value(
             json_object_get(json_object_get(j, "primary_data_fraction"), "forest_loss_ha")),
         3.36 / 6.16, "primary share of c1's forest loss");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "indicators"), "period")), "2023");
    /* the chain behind c1, with every edge's basis: all five nodes lead to it */
    assert_int_equal(json_array_size(json_object_get(j, "upstream_nodes")), 5);
    json_t *edges = json_object_get(j, "upstream_edges");
    assert_int_equal(json_array_size(edges), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(edges, 1), "basis")),
                        "unstated");
    json_t *fw = json_object_get(j, "frameworks");
    assert_true(
        json_is_true(json_object_get(json_object_get(fw, "eu_battery_regulation"), "in_scope")));
    assert_true(json_is_false(json_object_get(json_object_get(fw, "eu_cbam"), "in_scope")));
    near(json_real_value(
             json_array_get(json_object_get(json_array_get(json_object_get(j, "products"), 0),
                                            "embedded_tco2e_per_t"),
                            1)),
         13.948, "c1 embedded in the pack");
    json_decref(j);
    char *csv = tu_read(cp, NULL);
    near(value(csv, "c1,B,", "forest_loss_ha_share"), 2.8 / 6.16, "B share in the CSV");
    near(value(csv, "c1,S,", "sourcing_fraction"), 0.56, "S sourcing fraction in the CSV");
    free(csv), free(jp), free(cp);
    /* the page: opened by a real browser, every table and picture rendered */
    char *hp = tu_path(out, "evidence_c1.html"), *png = tu_path(g_dir, "evidence_c1.png");
    char *dom = tu_browser_dom(hp, png);
    if (!dom) fail_msg("headless Chromium could not render %s", hp);
    /* the screenshot is a page drawn, not a blank: 1280 px wide, with contrast */
    assert_true(tu_png_is_drawn(png, 1280));
    static const char *const present[] = {
        "id=\"products\"", "id=\"totals\"", "id=\"chain-diagram\"", "id=\"chain-nodes\"",
        "id=\"chain-edges\"", "id=\"sites-chart\"", "id=\"upstream-sites\"", "id=\"scenes\"",
        "id=\"inputs\"", "id=\"citations\"", "id=\"ghg-scope3\"", "id=\"eu-battery\"",
        /* the source's markup shows as text, not as markup */
        "m1 &lt;annual&gt; report &amp; \"accounts\"", NULL};
    for (int k = 0; present[k]; k++)
        if (!strstr(dom, present[k])) fail_msg("the rendered page has no %s", present[k]);
    assert_int_equal(tu_count(dom, "<rect class=\"bar\""), 3);  /* a bar per site */
    assert_int_equal(tu_count(dom, "<path class=\"flow\""), 4); /* a line per flow */
    assert_int_equal(tu_count(dom, "<g class=\"node\">"), 5);   /* a box per node */
    assert_non_null(strstr(dom, "<span class=\"verdict no\">outside its scope</span> outside "
                                "CBAM's scope"));
    assert_non_null(strstr(dom, "<span class=\"verdict yes\">applies</span> cobalt, lithium"));
    assert_null(strstr(dom, "<script"));
    free(dom), free(hp), free(png), free(out);
    out = tu_path(g_dir, "evidence-none");
    assert_int_equal(run_graph_with(good, out, "--evidence z9", &text), 2);
    assert_non_null(strstr(text, "--evidence z9: the graph has no such node"));
    assert_int_not_equal(access(out, F_OK), 0);
    free(text), free(out);
}

/* A site whose land-use-change emissions were not measured (an empty cell): every figure that
 * depends on it is empty downstream, in the CSV, the annotated graph and the evidence pack, and
 * the forest figures still flow. */
static void unmeasured_stays_empty_downstream(void **state)
{
    (void)state;
    char *g = tu_path(g_dir, "graph.json"), *ind = tu_path(g_dir, "indicators-gap.csv");
    tu_write(g, good);
    tu_write(ind,
             "site_id,period,forest_loss_ha,disturbed_ha,hot_pixel_days,gfw_emissions_mg_co2e\n"
             "A,2023,10,20,0,4000\nB,2023,5,10,0,\nS,2023,0,2,30,0\n");
    char *out = tu_path(g_dir, "gap"), cmd[4096], *text;
    snprintf(cmd, sizeof cmd, "%s graph %s --indicators %s --period 2023 -o %s --evidence c1 -q",
             MW_CLI, g, ind, out);
    int rc = tu_run(cmd, &text);
    if (rc != 0) fail_msg("graph exited %d:\n%s", rc, text);
    free(text);
    char *p = tu_path(out, "graph_nodes.csv"), *csv = tu_read(p, NULL);
    assert_true(isnan(value(csv, "c1,cathode,", "embedded_tco2e_per_t")));
    assert_true(isnan(value(csv, "m2,ore,", "luc_tco2e_per_t")));
    near(value(csv, "m1,ore,", "luc_tco2e_per_t"), 4, "m1 is measured");
    near(value(csv, "c1,cathode,", "forest_loss_ha_per_kt"), 30.8, "forest still flows");
    free(csv), free(p);
    p = tu_path(out, "graph_annotated.json");
    json_t *j = json_load_file(p, 0, NULL);
    json_t *c1 = json_array_get(json_object_get(j, "nodes"), 4);
    assert_true(json_is_null(
        json_array_get(json_object_get(json_object_get(c1, "burden"), "luc_tco2e"), 1)));
    json_decref(j), free(p);
    p = tu_path(out, "evidence_c1.json");
    j = json_load_file(p, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "upstream_sites")), 3);
    json_decref(j), free(p);
    free(out), free(g), free(ind);
}

/* The repository's demo graph (NALCO's Odisha aluminium chain, FY 2018-19, every figure from the
 * company's annual report): it passes every rule, and the smelter receives the mine's forest loss
 * in the share of the refinery's alumina it takes: F x 908,244 / 2,152,500. */
static void demo_graph_is_valid_and_carries_by_hand(void **state)
{
    (void)state;
    char *ind = tu_path(g_dir, "odisha-indicators.csv");
    tu_write(ind,
             "site_id,period,forest_loss_ha,disturbed_ha,hot_pixel_days,gfw_emissions_mg_co2e\n"
             "in-panchpatmali,2019,100,200,0,5000\nin-damanjodi,2019,0,10,5,0\n"
             "in-angul,2019,0,0,40,0\n");
    char *out = tu_path(g_dir, "odisha"), cmd[4096], *text;
    snprintf(cmd, sizeof cmd,
             "%s graph " MW_SOURCE_DIR "/pipelines/graphs/nalco_odisha_2019.json --indicators %s "
             "--period 2019 --evidence angul -o %s -q",
             MW_CLI, ind, out);
    int rc = tu_run(cmd, &text);
    if (rc != 0) fail_msg("demo graph exited %d:\n%s", rc, text);
    free(text);
    char *p = tu_path(out, "graph_nodes.csv"), *csv = tu_read(p, NULL);
    const double share = 908244.0 / 2152500.0;
    near(value(csv, "angul,primary aluminium,", "attributed_forest_loss_ha"), 100 * share,
         "Angul's share of Panchpatmali's forest loss");
    near(value(csv, "angul,primary aluminium,", "luc_tco2e_per_t"), 5000 * share / 440242,
         "Angul's LUC emissions per t of aluminium");
    near(value(csv, "alumina-exports,alumina hydrate,", "attributed_forest_loss_ha"),
         100 * (1 - share), "the exports carry the rest");
    free(csv), free(p);
    p = tu_path(out, "evidence_angul.json");
    json_t *j = json_load_file(p, 0, NULL);
    assert_true(json_is_true(
        json_object_get(json_object_get(json_object_get(j, "frameworks"), "eu_cbam"), "in_scope")));
    assert_true(json_is_false(json_object_get(
        json_object_get(json_object_get(j, "frameworks"), "eu_battery_regulation"), "in_scope")));
    /* every flow of the NALCO chain is reported or derived from reported figures */
    near(json_real_value(
             json_object_get(json_object_get(j, "primary_data_fraction"), "forest_loss_ha")),
         1, "Angul's forest loss over primary flows");
    json_decref(j), free(p), free(out), free(ind);
}

/* Every node and edge of the repository's graphs names its source, and every edge says how its
 * tonnes are known. */
static void demo_graphs_cite_every_figure(void **state)
{
    (void)state;
    static const char *const graphs[] = {"nalco_odisha_2019.json", "battery_chains_demo.json"};
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, MW_SOURCE_DIR "/pipelines/graphs/%s", graphs[k]);
        json_error_t err;
        json_t *g = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
        if (!g) fail_msg("%s: %s", path, err.text);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(g, "nodes"), i, x)
        {
            const char *src = json_string_value(json_object_get(x, "source"));
            if (!src || strlen(src) < 20) fail_msg("%s: node %zu has no source", graphs[k], i);
        }
        json_array_foreach(json_object_get(g, "edges"), i, x)
        {
            const char *src = json_string_value(json_object_get(x, "source"));
            const char *basis = json_string_value(json_object_get(x, "basis"));
            if (!src || strlen(src) < 20 || !basis)
                fail_msg("%s: edge %zu has no source or basis", graphs[k], i);
            /* an estimate says so in its source, for the reader of the graph file alone */
            if (!strcmp(basis, "estimated") && strncmp(src, "estimated", 9))
                fail_msg("%s: edge %zu is estimated but its source does not start so", graphs[k],
                         i);
        }
        json_decref(g);
    }
}

/* The battery demo graph to Nissan's Sunderland plant, with Kamoto's forest loss F carried by
 * hand: cobalt is 17,100 of Kamoto's 251,600 t (by mass); 3,000 t go to Kokkola, 1,220 of its
 * 12,000 t to Nysa, 6,000 of Nysa's 20,000 t to AESC and all its cells to Nissan:
 * F x 3000 / 251600 x 1220 / 12000 x 0.3. Every flow downstream is an estimate: no primary share.
 */
static void battery_demo_graph_to_a_uk_carmaker(void **state)
{
    (void)state;
    char *ind = tu_path(g_dir, "battery-indicators.csv");
    tu_write(ind,
             "site_id,period,forest_loss_ha,disturbed_ha,hot_pixel_days,gfw_emissions_mg_co2e\n"
             "cd-kamoto,2024,1000,200,0,\nid-weda-bay,2024,0,0,0,\nau-greenbushes,2024,0,0,0,\n"
             "id-imip-morowali,2024,0,0,9,\n");
    char *out = tu_path(g_dir, "battery"), cmd[4096], *text;
    snprintf(cmd, sizeof cmd,
             "%s graph " MW_SOURCE_DIR "/pipelines/graphs/battery_chains_demo.json --indicators "
             "%s --period 2024 --evidence nissan-sunderland -o %s -q",
             MW_CLI, ind, out);
    int rc = tu_run(cmd, &text);
    if (rc != 0) fail_msg("battery demo graph exited %d:\n%s", rc, text);
    free(text);
    char *p = tu_path(out, "evidence_nissan-sunderland.json");
    json_t *j = json_load_file(p, 0, NULL);
    assert_non_null(j);
    json_t *kamoto = json_array_get(json_object_get(j, "upstream_sites"), 0);
    assert_string_equal(json_string_value(json_object_get(kamoto, "site_id")), "cd-kamoto");
    near(json_real_value(json_array_get(json_object_get(kamoto, "forest_loss_ha"), 1)),
         1000 * 3000.0 / 251600 * 1220 / 12000 * 0.3, "Kamoto's hectares reaching Nissan");
    near(json_real_value(json_object_get(kamoto, "primary_fraction")), 0, "all estimated");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(j, "frameworks"), "eu_battery_regulation"), "in_scope")));
    assert_true(json_is_false(
        json_object_get(json_object_get(json_object_get(j, "frameworks"), "eu_cbam"), "in_scope")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "direct_reported"), "of")), 13);
    json_decref(j), free(p), free(out), free(ind);
}

/* good with `from` replaced by `to` once, run, expect exit 2 with needle and no output folder. */
static void refused(const char *from, const char *to, const char *needle)
{
    const char *at = strstr(good, from);
    if (!at) fail_msg("test text '%s' not in the graph", from);
    size_t n = strlen(good) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    char *out = tu_path(g_dir, "bad"), *msg;
    tu_rmtree(out);
    int rc = run_graph(text, out, &msg);
    if (rc != 2 || !strstr(msg, needle))
        fail_msg("%s -> %s: exit %d, wanted 2 and '%s':\n%s", from, to, rc, needle, msg);
    if (access(out, F_OK) == 0) fail_msg("%s -> %s: the output folder was made", from, to);
    free(msg), free(out), free(text);
}

static void every_violation_is_refused(void **state)
{
    (void)state;
    refused("\"to\": \"r1\", \"product\": \"ore\", \"tonnes\": 600",
            "\"to\": \"r9\", \"product\": \"ore\", \"tonnes\": 600", "unknown node id 'r9'");
    refused("\"sites\": [\"B\"]", "\"sites\": [\"Z\"]",
            "node 'm2' names site 'Z', which the indicators do not have for this period");
    refused("\"tonnes\": 500", "\"tonnes\": -5", "edges[1].tonnes is -5");
    refused(", \"tonnes\": 500", "", "edges[1] needs 'tonnes'");
    refused("\"outputs\": {\"ore\": 500}", "\"outputs\": {\"ore\": -500}",
            "nodes[1] ('m2').outputs.ore is -500");
    refused("\"basis\": \"reported\"}]",
            "\"basis\": \"reported\"},\n  {\"from\": \"c1\", \"to\": \"m1\", "
            "\"product\": \"cathode\", \"tonnes\": 5}]",
            "the graph has a cycle: r1 -> t1 -> c1 -> m1 -> r1");
    refused("\"copper\": 0.3}", "\"copper\": 0.2}", "allocation shares add up to 0.9, not 1");
    refused("\"product\": \"cobalt\", \"tonnes\": 100", "\"product\": \"cobalt\", \"tonnes\": 120",
            "node 'r1' sends 120 t of 'cobalt' in 1 edge(s) but makes 100 t a year");
    refused("\"product\": \"cobalt\", \"tonnes\": 80", "\"product\": \"nickel\", \"tonnes\": 80",
            "node 't1' has no output 'nickel' to send");
    refused("\"stage\": \"trader\"", "\"stage\": \"broker\"", "stage 'broker' is not one of");
    refused("\"id\": \"m2\"", "\"id\": \"m1\"", "node id 'm1' is used twice");
    refused("\"outputs\": {\"cobalt\": 100}}", "\"outputs\": {\"cobalt\": 100}, \"sitez\": []}",
            "unknown key 'sitez'");
    refused("\"year\": 2023,", "\"year\": 2023, \"year\": 2024,", "duplicate object key");
    refused("\"basis\": \"derived\"", "\"basis\": \"guessed\"",
            "edges[2].basis must be \"reported\", \"derived\" or \"estimated\"");
    /* a period the indicators do not have */
    char *g = tu_path(g_dir, "graph.json"), *ind = tu_path(g_dir, "indicators.csv"), cmd[4096],
         *msg;
    char *out = tu_path(g_dir, "bad-period");
    tu_write(g, good);
    tu_write(ind, indicators);
    snprintf(cmd, sizeof cmd, "%s graph %s --indicators %s --period 2030 -o %s", MW_CLI, g, ind,
             out);
    assert_int_equal(tu_run(cmd, &msg), 2);
    assert_non_null(strstr(msg, "no rows for period '2030' (periods there: 2021, 2023)"));
    assert_int_not_equal(access(out, F_OK), 0);
    free(msg), free(out), free(g), free(ind);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("graph");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(propagation_matches_hand_computation),
        cmocka_unit_test(graph_outputs_open_in_their_tools),
        cmocka_unit_test(every_violation_is_refused),
        cmocka_unit_test(exposure_concentration_and_stress),
        cmocka_unit_test(evidence_pack_for_a_buyer),
        cmocka_unit_test(unmeasured_stays_empty_downstream),
        cmocka_unit_test(demo_graph_is_valid_and_carries_by_hand),
        cmocka_unit_test(demo_graphs_cite_every_figure),
        cmocka_unit_test(battery_demo_graph_to_a_uk_carmaker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
