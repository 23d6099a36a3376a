/* graph: a run's site indicators carried along a supply-chain graph. */
#include "cli.h"

#include <stdio.h>

#include "minewatch/graph_run.h"

static int cmd_graph(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c);
    mw_graph_options o = {argv[0],         c->indicators, c->period,        c->out,
                          c->command_line, c->exposure,   c->remove,        (size_t)c->mem_mb,
                          c->evidence,     c->postgis,    c->postgis_schema};
    mw_graph_result_summary res;
    if (mw_graph_run(&o, &res)) return cli_exit_for_error();
    if (!c->quiet)
        printf("%ld node(s), %ld edge(s), %ld site(s) of period '%s': %s/graph_nodes.csv, "
               "%s/provenance.json\n",
               res.nodes, res.edges, res.sites, c->period, c->out, c->out);
    return EXIT_OK;
}

// clang-format off
static const cli_use graph_uses[] = {{O_INDICATORS, NULL, USE_REQUIRED}, {O_PERIOD, NULL, USE_REQUIRED}, {O_OUT, "output folder", USE_REQUIRED}, {O_EXPOSURE, NULL, 0}, {O_REMOVE, NULL, 0}, {O_EVIDENCE, NULL, 0}, {O_POSTGIS, NULL, 0}, {O_POSTGIS_SCHEMA, NULL, 0}, {O_MEM, NULL, 0}, {0}};
// clang-format on

const cli_command cli_cmd_graph = {
    "graph",
    "GRAPH.json",
    "carry a run's site indicators along a supply-chain graph: embedded emissions and forest "
    "loss per tonne of each product",
    "Carries the sites' indicators of one period along a supply-chain graph (JSON; the format\n"
    "is docs/supply_graph.schema.json): the burden of a node is its sites' indicators plus its\n"
    "direct_tco2e plus, for each input, tonnes x the supplier's intensity; the intensity of a\n"
    "product is the burden x its allocation share / its output (economic shares where the\n"
    "graph gives them, else by mass). Writes DIR/graph_nodes.csv (one row per node and\n"
    "product: embedded t CO2e per t, forest loss ha per kt, the other metrics, low and high\n"
    "bounds, totals attributed to the product) and DIR/provenance.json. A graph that breaks a\n"
    "rule (unknown ids, missing or negative flows, a cycle, shares that do not add up to 1,\n"
    "more sent than made) is refused with the place and the numbers, and nothing is written.\n"
    "Also DIR/graph_concentration.csv: the Herfindahl-Hirschman index of each stage and\n"
    "product's output by country and by operator.\n",
    NULL,
    graph_uses,
    cmd_graph};
