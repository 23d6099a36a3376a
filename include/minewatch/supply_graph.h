/* The supply-chain graph: nodes (mines to OEMs) with their sites, outputs and allocation, edges
 * of product tonnes between them, and the propagation of site evidence along it: the recursion of
 * CBAM's specific embedded emissions with the allocation basis made explicit.
 *
 *   burden(n)      = sum of n's sites' indicators + direct_tco2e(n)
 *                    + sum over edges u -> n of tonnes x intensity(u, product)
 *   intensity(n,p) = burden(n) x share(n, p) / output(n, p)
 *   share(n, p)    = allocation(n, p) when given (economic), else output(n, p) / sum of outputs
 *
 * Every metric is carried as low, value and high: the sites' bounds where the indicators give
 * them, the value otherwise. The file format is in docs/supply_graph.schema.json. */
#ifndef MINEWATCH_SUPPLY_GRAPH_H
#define MINEWATCH_SUPPLY_GRAPH_H

#include <stddef.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The metrics carried along the chain, in this order. */
typedef enum mw_graph_metric {
    MW_GM_DIRECT_TCO2E,   /* the nodes' reported scope 1 and 2 emissions, t CO2e */
    MW_GM_LUC_TCO2E,      /* land-use-change emissions at the sites, t CO2e */
    MW_GM_FOREST_LOSS_HA, /* forest lost at the sites, ha */
    MW_GM_DISTURBED_HA,   /* bare or disturbed ground at the sites, ha */
    MW_GM_HOT_PIXEL_DAYS, /* processing heat at the sites */
    MW_GM_COUNT
} mw_graph_metric;

typedef struct mw_graph_metric_info {
    const char *name;       /* column stem in graph_nodes.csv */
    const char *unit;       /* of the total */
    double per;             /* intensities are given per this many tonnes (1 or 1000) */
    const char *per_name;   /* "t" or "kt" */
    const char *indicators; /* indicator columns read per site, first found wins ("" none) */
    const char *meaning;
} mw_graph_metric_info;
MW_API extern const mw_graph_metric_info mw_graph_metrics[MW_GM_COUNT];

typedef struct mw_graph_product {
    char *name;
    double output_t; /* tonnes a year */
    double share;    /* allocation share (given, or by mass) */
} mw_graph_product;

typedef struct mw_graph_node {
    char *id, *stage, *name, *country, *operator_name, *source;
    double lon, lat; /* NaN when not given */
    char **sites;
    size_t nsites;
    mw_graph_product *products;
    size_t nproducts;
    int economic; /* allocation given */
    double direct_tco2e, direct_low, direct_high;
    int direct_given; /* 0: the file gives no direct_tco2e and it counts as 0 */
} mw_graph_node;

/* How an edge's tonnes are known: the data-quality flag GHG Protocol Scope 3 asks a reporter to
 * disclose (primary data or estimates). Evidence packs give the share of a buyer's figures that
 * reached it over primary flows only. */
typedef enum mw_flow_basis {
    MW_FLOW_UNSTATED,  /* the file does not say: counted as not primary */
    MW_FLOW_REPORTED,  /* the figure is in the cited source */
    MW_FLOW_DERIVED,   /* arithmetic on reported figures, stated in the source field */
    MW_FLOW_ESTIMATED, /* an estimate or illustration, no public figure */
    MW_FLOW_BASIS_COUNT
} mw_flow_basis;

typedef struct mw_flow_basis_info {
    const char *name; /* as written in the graph file */
    int primary;      /* counts as primary data */
    const char *meaning;
} mw_flow_basis_info;
MW_API extern const mw_flow_basis_info mw_flow_bases[MW_FLOW_BASIS_COUNT];

typedef struct mw_graph_edge {
    size_t from, to; /* node indices */
    size_t product;  /* index into nodes[from].products */
    double tonnes;
    char *source;
    mw_flow_basis basis;
} mw_graph_edge;

typedef struct mw_supply_graph {
    char *path, *name;
    int year;
    mw_graph_node *nodes;
    size_t nnodes;
    mw_graph_edge *edges;
    size_t nedges;
    size_t *order; /* nodes in an order where every supplier comes first */
    /* the edges into node i: in_edges[in_first[i] .. in_first[i + 1]), in file order */
    size_t *in_first, *in_edges;
} mw_supply_graph;

/* Reads and checks a graph file. Every violation is an MW_ERR_INPUT error naming the file and
 * the place in it: unknown stage or node id, a missing or negative flow or output, an edge of a
 * product its supplier does not make, edges leaving a node with more of a product than it makes
 * (with the numbers), allocation shares that do not sum to 1, a cycle (its nodes in order). */
MW_API int mw_supply_graph_load(const char *path, mw_supply_graph *g);
/* The same from text in memory; path names it in messages. */
MW_API int mw_supply_graph_parse(const char *path, const char *text, size_t len,
                                 mw_supply_graph *g);
MW_API void mw_supply_graph_free(mw_supply_graph *g);

/* The per-site figures the propagation starts from: value, low, high per metric (NaN: not
 * measured). */
typedef struct mw_site_figures {
    const char *site_id;
    double v[MW_GM_COUNT][3];
} mw_site_figures;

/* Per node: burden [metric][low, value, high], and per product the intensity per tonne. */
typedef struct mw_graph_result {
    double (*burden)[MW_GM_COUNT][3];     /* [node] */
    double (**intensity)[MW_GM_COUNT][3]; /* [node][product] per tonne */
} mw_graph_result;

/* Propagates the sites' figures through the graph in its order. A node's site that has no
 * figures fails with an error naming both (MW_ERR_INPUT). Returns 0 or -1. */
MW_API int mw_supply_graph_propagate(const mw_supply_graph *g, const mw_site_figures *sites,
                                     size_t nsites, mw_graph_result *r);
MW_API void mw_graph_result_free(const mw_supply_graph *g, mw_graph_result *r);

/* Exposure by sourcing share, the way Trase attributes deforestation to buyers: out[(n * nsites
 * + s) * MW_GM_COUNT + m] is the part of node n's burden of metric m that comes from site s
 * (sites in the order given), carried by the same recursion; over the sites they add up to the
 * burden less the direct emissions of n and its suppliers. Refused (MW_ERR_NOMEM, with the size)
 * when nodes x sites does not fit max_bytes. */
MW_API int mw_supply_graph_exposure(const mw_supply_graph *g, const mw_site_figures *sites,
                                    size_t nsites, size_t max_bytes, double **out);

/* Concentration of supply per stage and product: the Herfindahl-Hirschman index (0-10,000) of the
 * output tonnes by country and by operator. Calls row() once per stage, product and key. */
typedef void (*mw_hhi_row)(const char *stage, const char *product, const char *by, double hhi,
                           const char *top, double top_share, size_t holders, void *user);
MW_API int mw_supply_graph_concentration(const mw_supply_graph *g, mw_hhi_row row, void *user);

/* A stress test: the nodes whose id or country is `removed` stop. lost[n] is the share of node
 * n's input supply lost (1 for a removed node), carried down the chain in proportion: a node
 * that loses a share of its inputs loses that share of its outputs. Returns the number of nodes
 * matched. */
MW_API long mw_supply_graph_stress(const mw_supply_graph *g, const char *removed, double *lost,
                                   int *is_removed);

#ifdef __cplusplus
}
#endif

#endif
