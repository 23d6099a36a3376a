/* The evidence pack as HTML: hand-written markup and SVG from the evidence document, so that the
 * page shows exactly the figures of evidence_<node>.json. No script and no remote resource: the
 * file opens offline, prints, and can be archived as it is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"
#include "pipeline/evidence_page.h"
#include "pipeline/html_page.h"

/* The regulations and methods the page cites, one line each. */
static const char *const citations[] = {
    "World Resources Institute and WBCSD (2011) Corporate Value Chain (Scope 3) Accounting and "
    "Reporting Standard, ch. 5 (category 1), ch. 7 (data quality), ch. 8 (allocation)",
    "Regulation (EU) 2023/956 establishing a carbon border adjustment mechanism, Annex I (goods: "
    "aluminium, iron and steel among them) and Annex IV (specific embedded emissions); "
    "Implementing Regulation (EU) 2023/1773 (transitional period reporting)",
    "Regulation (EU) 2023/1542 concerning batteries and waste batteries, Articles 47-52 and "
    "Annex X (supply-chain due diligence for cobalt, lithium, nickel and natural graphite)",
    "Godar J., Suavet C., Gardner T.A., Dawkins E., Meyfroidt P. (2016) Balancing detail and "
    "scale in assessing transparency to improve the governance of agricultural commodity supply "
    "chains. Environmental Research Letters 11, 035015 (attribution by sourcing share, Trase)",
    NULL};

/* "value (low to high)" from a [low, value, high] array; the bounds only where they differ. */
static void triple(FILE *f, const json_t *a)
{
    double lo = mw_html_number(json_array_get(a, 0)), v = mw_html_number(json_array_get(a, 1)),
           hi = mw_html_number(json_array_get(a, 2));
    mw_html_num(f, v);
    if (isfinite(v) && isfinite(lo) && isfinite(hi) && (lo != v || hi != v)) {
        fputs(" <span class=\"bounds\">(", f);
        mw_html_num(f, lo);
        fputs(" to ", f);
        mw_html_num(f, hi);
        fputs(")</span>", f);
    }
}

/* Columns by depth from the chain's sources, so that flows run left to right. */
#define DRAW_MAX_NODES 200

static long node_index(const json_t *nodes, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) if (!strcmp(mw_html_str(n, "id"), id)) return (long)i;
    return -1;
}

static void chain_svg(FILE *f, const json_t *nodes, const json_t *edges, const char *buyer)
{
    const size_t nn = json_array_size(nodes), ne = json_array_size(edges);
    if (nn > DRAW_MAX_NODES) {
        fprintf(f,
                "<p class=\"note\">The chain has %zu upstream nodes, more than a drawing can "
                "show; the tables below list them all.</p>\n",
                nn);
        return;
    }
    int *depth = calloc(nn + 1, sizeof *depth), *row = calloc(nn + 1, sizeof *row);
    long *from = malloc((ne + 1) * sizeof *from), *to = malloc((ne + 1) * sizeof *to);
    int rows[DRAW_MAX_NODES + 1] = {0};
    if (!depth || !row || !from || !to) {
        free(depth), free(row), free(from), free(to);
        return;
    }
    double tmax = 0;
    for (size_t e = 0; e < ne; e++) {
        const json_t *ed = json_array_get(edges, e);
        from[e] = node_index(nodes, mw_html_str(ed, "from")),
        to[e] = node_index(nodes, mw_html_str(ed, "to"));
        tmax = fmax(tmax, mw_html_number(json_object_get(ed, "tonnes")));
    }
    /* the longest path from a source: the graph has no cycle, so nn passes settle it */
    for (size_t pass = 0, changed = 1; changed && pass < nn; pass++) {
        changed = 0;
        for (size_t e = 0; e < ne; e++)
            if (from[e] >= 0 && to[e] >= 0 && depth[to[e]] < depth[from[e]] + 1)
                depth[to[e]] = depth[from[e]] + 1, changed = 1;
    }
    int maxd = 0, maxr = 0;
    for (size_t i = 0; i < nn; i++) {
        row[i] = rows[depth[i]]++;
        maxd = depth[i] > maxd ? depth[i] : maxd;
        maxr = row[i] > maxr ? row[i] : maxr;
    }
    const int bw = 176, bh = 46, cw = 236, rh = 66, top = 34, left = 10;
    const int width = left + (maxd + 1) * cw, height = top + (maxr + 1) * rh + 10;
    fprintf(f,
            "<svg id=\"chain-diagram\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" style=\"max-width:100%%;"
            "height:auto\" "
            "font-family=\"DejaVu Sans,Arial,sans-serif\">\n"
            "<title>Upstream chain of %s: line width by tonnes</title>\n",
            width, height, width, height, buyer);
    fputs("<g font-size=\"11\" fill=\"#3c4650\"><line x1=\"10\" y1=\"12\" x2=\"40\" y2=\"12\" "
          "stroke=\"#2f5d50\" stroke-width=\"3\"/><text x=\"46\" y=\"16\">reported</text>"
          "<line x1=\"120\" y1=\"12\" x2=\"150\" y2=\"12\" stroke=\"#3f7fbf\" "
          "stroke-width=\"3\"/><text x=\"156\" y=\"16\">derived</text>"
          "<line x1=\"220\" y1=\"12\" x2=\"250\" y2=\"12\" stroke=\"#d08a2e\" stroke-width=\"3\" "
          "stroke-dasharray=\"6 4\"/><text x=\"256\" y=\"16\">estimated</text>"
          "<line x1=\"340\" y1=\"12\" x2=\"370\" y2=\"12\" stroke=\"#9aa3aa\" stroke-width=\"3\" "
          "stroke-dasharray=\"2 3\"/><text x=\"376\" y=\"16\">unstated</text></g>\n",
          f);
    for (size_t e = 0; e < ne; e++) {
        if (from[e] < 0 || to[e] < 0) continue;
        const json_t *ed = json_array_get(edges, e);
        const double x1 = left + depth[from[e]] * cw + bw, y1 = top + row[from[e]] * rh + bh / 2.0;
        const double x2 = left + depth[to[e]] * cw, y2 = top + row[to[e]] * rh + bh / 2.0;
        const double t = mw_html_number(json_object_get(ed, "tonnes"));
        const double w = 1.5 + (tmax > 0 && t > 0 ? 8 * sqrt(t / tmax) : 0);
        const char *basis = mw_html_str(ed, "basis");
        const char *colour = !strcmp(basis, "reported")    ? "#2f5d50"
                             : !strcmp(basis, "derived")   ? "#3f7fbf"
                             : !strcmp(basis, "estimated") ? "#d08a2e"
                                                           : "#9aa3aa";
        const char *dash = !strcmp(basis, "estimated") ? " stroke-dasharray=\"6 4\""
                           : strcmp(basis, "reported") && strcmp(basis, "derived")
                               ? " stroke-dasharray=\"2 3\""
                               : "";
        fprintf(
            f,
            "<path class=\"flow\" d=\"M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f\" fill=\"none\" "
            "stroke=\"%s\" stroke-opacity=\"0.8\" stroke-width=\"%.1f\"%s><title>",
            x1, y1, x1 + 30, y1, x2 - 30, y2, x2, y2, colour, w, dash);
        mw_html_esc(f, mw_html_str(ed, "from"));
        fputs(" to ", f);
        mw_html_esc(f, mw_html_str(ed, "to"));
        fputs(": ", f);
        mw_html_num(f, t);
        fputs(" t of ", f);
        mw_html_esc(f, mw_html_str(ed, "product"));
        fprintf(f, " (%s)</title></path>\n", basis);
    }
    for (size_t i = 0; i < nn; i++) {
        const json_t *n = json_array_get(nodes, i);
        const int x = left + depth[i] * cw, y = top + row[i] * rh;
        const int is_buyer = !strcmp(mw_html_str(n, "id"), buyer);
        fprintf(f,
                "<g class=\"node\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\" "
                "fill=\"%s\" stroke=\"#2f5d50\"/><text x=\"%d\" y=\"%d\" font-size=\"12\" "
                "font-weight=\"bold\" fill=\"#1d2329\">",
                x, y, bw, bh, is_buyer ? "#d7eadf" : "#ffffff", x + 7, y + 18);
        char label[25];
        snprintf(label, sizeof label, "%s", mw_html_str(n, "id"));
        mw_html_esc(f, label);
        fprintf(f, "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#4a555f\">", x + 7,
                y + 35);
        mw_html_esc(f, mw_html_str(n, "stage"));
        if (*mw_html_str(n, "country")) {
            fputs(" &#183; ", f);
            mw_html_esc(f, mw_html_str(n, "country"));
        }
        if (json_array_size(json_object_get(n, "sites")))
            fprintf(f, " &#183; %zu site%s", json_array_size(json_object_get(n, "sites")),
                    json_array_size(json_object_get(n, "sites")) > 1 ? "s" : "");
        fputs("</text></g>\n", f);
    }
    fputs("</svg>\n", f);
    free(depth), free(row), free(from), free(to);
}

/* Each site's contribution to the buyer's forest loss, with its bounds as whiskers. */
static void sites_svg(FILE *f, const json_t *sites)
{
    const size_t ns = json_array_size(sites);
    double vmax = 0;
    int any = 0;
    for (size_t s = 0; s < ns; s++) {
        const json_t *a = json_object_get(json_array_get(sites, s), "forest_loss_ha");
        for (size_t j = 0; j < 3; j++)
            if (isfinite(mw_html_number(json_array_get(a, j))))
                vmax = fmax(vmax, mw_html_number(json_array_get(a, j))), any = 1;
    }
    if (!any) {
        fputs(
            "<p class=\"note\">No upstream site has a measured forest loss for this period.</p>\n",
            f);
        return;
    }
    const int lw = 190, bwid = 520, bar = 18, gap = 10, top = 26;
    const int height = top + (int)ns * (bar + gap) + 24, width = lw + bwid + 110;
    const double scale = vmax > 0 ? bwid / vmax : 0;
    fprintf(f,
            "<svg id=\"sites-chart\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans,Arial,sans-serif\" font-size=\"12\">\n"
            "<title>Forest loss reaching the buyer, by site (ha, bounds as whiskers)</title>\n"
            "<text x=\"%d\" y=\"16\" fill=\"#3c4650\">forest loss reaching the buyer, ha "
            "(bar: value; whiskers: low to high)</text>\n",
            width, height, width, height, lw);
    for (size_t s = 0; s < ns; s++) {
        const json_t *js = json_array_get(sites, s);
        const json_t *a = json_object_get(js, "forest_loss_ha");
        const double lo = mw_html_number(json_array_get(a, 0)),
                     v = mw_html_number(json_array_get(a, 1)),
                     hi = mw_html_number(json_array_get(a, 2));
        const int y = top + (int)s * (bar + gap);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#1d2329\">", lw - 8,
                y + bar - 4);
        mw_html_esc(f, mw_html_str(js, "site_id"));
        fputs("</text>", f);
        if (isfinite(v))
            fprintf(f,
                    "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                    "fill=\"#5b8f6f\"/>",
                    lw, y, v * scale, bar);
        if (isfinite(lo) && isfinite(hi) && hi > lo)
            fprintf(f,
                    "<path d=\"M%.1f %d V%d M%.1f %d H%.1f M%.1f %d V%d\" stroke=\"#1d2329\" "
                    "fill=\"none\"/>",
                    lw + lo * scale, y + 4, y + bar - 4, lw + lo * scale, y + bar / 2,
                    lw + hi * scale, lw + hi * scale, y + 4, y + bar - 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#3c4650\">",
                lw +
                    (isfinite(hi)  ? hi
                     : isfinite(v) ? v
                                   : 0) *
                        scale +
                    6,
                y + bar - 4);
        mw_html_num(f, v);
        fputs(" ha</text>\n", f);
    }
    const int ya = top + (int)ns * (bar + gap);
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9aa3aa\"/>"
            "<text x=\"%d\" y=\"%d\" fill=\"#4a555f\">0</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#4a555f\">",
            lw, ya, lw + bwid, ya, lw, ya + 16, lw + bwid, ya + 16);
    mw_html_num(f, vmax);
    fputs(" ha</text>\n</svg>\n", f);
}

static void framework(FILE *f, const char *id, const char *title, const json_t *fw, int always)
{
    const int in = always || json_is_true(json_object_get(fw, "in_scope"));
    fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n<p><span class=\"verdict %s\">%s</span> ", id,
            title, in ? "yes" : "no", in ? "applies" : "outside its scope");
    mw_html_esc(f, always ? mw_html_str(fw, "figure") : mw_html_str(fw, "note"));
    fputs("</p>\n", f);
}

static void products_table(FILE *f, const json_t *products, const char *id)
{
    static const char *const cols[] = {"product",
                                       "output (t a year)",
                                       "allocation share",
                                       "embedded t CO<sub>2</sub>e per t",
                                       "of which direct (scope 1+2 upstream)",
                                       "of which land-use change",
                                       "forest loss ha per kt",
                                       NULL};
    fprintf(f, "<table id=\"%s\">", id);
    mw_html_head_row(f, cols);
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p)
    {
        fputs("<tr>", f);
        mw_html_td_text(f, mw_html_str(p, "product"));
        mw_html_td_num(f, mw_html_number(json_object_get(p, "output_t")));
        mw_html_td_num(f, mw_html_number(json_object_get(p, "allocation_share")));
        static const char *const keys[] = {"embedded_tco2e_per_t", "direct_tco2e_per_t",
                                           "luc_tco2e_per_t", "forest_loss_ha_per_kt"};
        for (int k = 0; k < 4; k++) {
            fputs("<td class=\"n\">", f);
            triple(f, json_object_get(p, keys[k]));
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void chain_tables(FILE *f, const json_t *nodes, const json_t *edges)
{
    static const char *const ncols[] = {"node",       "stage",       "name",
                                        "country",    "operator",    "sites",
                                        "allocation", "outputs (t)", "direct t CO<sub>2</sub>e",
                                        "source",     NULL};
    fputs("<table id=\"chain-nodes\">", f);
    mw_html_head_row(f, ncols);
    size_t i, k;
    json_t *n, *x;
    json_array_foreach(nodes, i, n)
    {
        fputs("<tr>", f);
        mw_html_td_text(f, mw_html_str(n, "id"));
        mw_html_td_text(f, mw_html_str(n, "stage"));
        mw_html_td_text(f, mw_html_str(n, "name"));
        mw_html_td_text(f, mw_html_str(n, "country"));
        mw_html_td_text(f, mw_html_str(n, "operator"));
        fputs("<td>", f);
        json_array_foreach(json_object_get(n, "sites"), k, x)
        {
            if (k) fputs(", ", f);
            mw_html_esc(f, json_string_value(x));
        }
        fputs("</td>", f);
        mw_html_td_text(f, mw_html_str(n, "allocation"));
        fputs("<td>", f);
        json_array_foreach(json_object_get(n, "products"), k, x)
        {
            if (k) fputs("<br>", f);
            mw_html_esc(f, mw_html_str(x, "product"));
            fputs(": ", f);
            mw_html_num(f, mw_html_number(json_object_get(x, "output_t")));
            fputs(" (share ", f);
            mw_html_num(f, mw_html_number(json_object_get(x, "share")));
            fputs(")", f);
        }
        fputs("</td>", f);
        if (json_is_number(json_object_get(n, "direct_tco2e")))
            mw_html_td_num(f, mw_html_number(json_object_get(n, "direct_tco2e")));
        else
            fputs("<td>not reported</td>", f);
        fputs("<td class=\"src\">", f);
        mw_html_esc(f, mw_html_str(n, "source"));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    static const char *const ecols[] = {"from",  "to",     "product", "tonnes a year",
                                        "basis", "source", NULL};
    fputs("<table id=\"chain-edges\">", f);
    mw_html_head_row(f, ecols);
    json_array_foreach(edges, i, x)
    {
        fputs("<tr>", f);
        mw_html_td_text(f, mw_html_str(x, "from"));
        mw_html_td_text(f, mw_html_str(x, "to"));
        mw_html_td_text(f, mw_html_str(x, "product"));
        mw_html_td_num(f, mw_html_number(json_object_get(x, "tonnes")));
        mw_html_td_text(f, mw_html_str(x, "basis"));
        fputs("<td class=\"src\">", f);
        mw_html_esc(f, mw_html_str(x, "source"));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void sites_tables(FILE *f, const json_t *sites)
{
    static const char *const cols[] = {"site",
                                       "node",
                                       "country",
                                       "operator",
                                       "sourcing share",
                                       "primary data",
                                       "forest loss ha",
                                       "share of buyer's",
                                       "land-use change t CO<sub>2</sub>e",
                                       "share of buyer's",
                                       "disturbed ha",
                                       "hot-pixel days",
                                       "scenes",
                                       NULL};
    fputs("<table id=\"upstream-sites\">", f);
    mw_html_head_row(f, cols);
    size_t i, k;
    json_t *s, *sc;
    json_array_foreach(sites, i, s)
    {
        fputs("<tr>", f);
        mw_html_td_text(f, mw_html_str(s, "site_id"));
        mw_html_td_text(f, mw_html_str(s, "node_id"));
        mw_html_td_text(f, mw_html_str(s, "country"));
        mw_html_td_text(f, mw_html_str(s, "operator"));
        fputs("<td class=\"n\">", f);
        mw_html_percent(f, mw_html_number(json_object_get(s, "sourcing_fraction")));
        fputs("</td><td class=\"n\">", f);
        mw_html_percent(f, mw_html_number(json_object_get(s, "primary_fraction")));
        fputs("</td><td class=\"n\">", f);
        triple(f, json_object_get(s, "forest_loss_ha"));
        fputs("</td><td class=\"n\">", f);
        mw_html_percent(f, mw_html_number(json_object_get(s, "forest_loss_ha_share")));
        fputs("</td><td class=\"n\">", f);
        triple(f, json_object_get(s, "luc_tco2e"));
        fputs("</td><td class=\"n\">", f);
        mw_html_percent(f, mw_html_number(json_object_get(s, "luc_tco2e_share")));
        fputs("</td><td class=\"n\">", f);
        triple(f, json_object_get(s, "disturbed_ha"));
        fputs("</td><td class=\"n\">", f);
        triple(f, json_object_get(s, "hot_pixel_days"));
        fprintf(f, "</td><td class=\"n\">%zu</td></tr>\n",
                json_array_size(json_object_get(s, "scenes")));
    }
    fputs("</tbody></table>\n", f);
    static const char *const scols[] = {"site", "scene", "acquired (UTC)", "clear fraction", NULL};
    fputs("<h3>Scenes behind the site figures</h3>\n<table id=\"scenes\">", f);
    mw_html_head_row(f, scols);
    json_array_foreach(sites, i, s)
    {
        json_array_foreach(json_object_get(s, "scenes"), k, sc)
        {
            fputs("<tr>", f);
            mw_html_td_text(f, mw_html_str(s, "site_id"));
            mw_html_td_text(f, mw_html_str(sc, "id"));
            mw_html_td_text(f, mw_html_str(sc, "datetime"));
            mw_html_td_num(f, mw_html_number(json_object_get(sc, "clear_fraction")));
            fputs("</tr>\n", f);
        }
    }
    fputs("</tbody></table>\n", f);
}

int mw_evidence_page_write(const char *path, const json_t *doc)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    const char *buyer = mw_html_str(doc, "buyer");
    const json_t *fw = json_object_get(doc, "frameworks");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Evidence "
          "pack: ",
          f);
    mw_html_esc(f, *mw_html_str(doc, "name") ? mw_html_str(doc, "name") : buyer);
    fputs(", period ", f);
    mw_html_esc(f, mw_html_str(doc, "period"));
    fprintf(f, "</title>\n<style>\n%s</style></head>\n<body>\n<header><h1>Evidence pack: ",
            mw_html_style);
    mw_html_esc(f, *mw_html_str(doc, "name") ? mw_html_str(doc, "name") : buyer);
    fputs("</h1>\n<p class=\"sub\">Buyer node <code>", f);
    mw_html_esc(f, buyer);
    fputs("</code> &#183; ", f);
    mw_html_esc(f, mw_html_str(doc, "stage"));
    if (*mw_html_str(doc, "country")) {
        fputs(" &#183; ", f);
        mw_html_esc(f, mw_html_str(doc, "country"));
    }
    if (*mw_html_str(doc, "operator")) {
        fputs(" &#183; ", f);
        mw_html_esc(f, mw_html_str(doc, "operator"));
    }
    fputs("</p>\n<p class=\"sub\">Site figures of period <b>", f);
    mw_html_esc(f, mw_html_str(doc, "period"));
    fputs("</b>, carried along the supply graph &#8220;", f);
    mw_html_esc(f, mw_html_str(doc, "graph_name"));
    fprintf(f, "&#8221; (flows of %d).</p></header>\n",
            (int)json_integer_value(json_object_get(doc, "graph_year")));

    fputs("<section id=\"summary\"><h2>Embedded figures of the buyer's products</h2>\n", f);
    products_table(f, json_object_get(doc, "products"), "products");
    static const char *const tcols[] = {"metric", "unit", "value", "low", "high", NULL};
    fputs("<table id=\"totals\">", f);
    mw_html_head_row(f, tcols);
    const char *key;
    json_t *t;
    json_object_foreach((json_t *)json_object_get(doc, "totals"), key, t)
    {
        const json_t *a = json_object_get(t, "low_value_high");
        fputs("<tr>", f);
        mw_html_td_text(f, key);
        mw_html_td_text(f, mw_html_str(t, "unit"));
        mw_html_td_num(f, mw_html_number(json_array_get(a, 1)));
        mw_html_td_num(f, mw_html_number(json_array_get(a, 0)));
        mw_html_td_num(f, mw_html_number(json_array_get(a, 2)));
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    const json_t *pd = json_object_get(doc, "primary_data_fraction");
    const json_t *dr = json_object_get(doc, "direct_reported");
    fprintf(f,
            "<p class=\"note\" id=\"direct-reported\">Direct (scope 1 and 2) emissions: "
            "reported in the graph for %d of the %d nodes of the chain; the others count as 0, "
            "so the direct figures are a lower bound unless every node reports.</p>\n",
            (int)json_integer_value(json_object_get(dr, "nodes")),
            (int)json_integer_value(json_object_get(dr, "of")));
    fputs("<p class=\"note\" id=\"data-quality\">Share reaching the buyer over primary flows "
          "(tonnes reported, or derived from reported figures): ",
          f);
    static const char *const pd_keys[] = {"forest_loss_ha", "luc_tco2e"};
    static const char *const pd_words[] = {"forest loss", "land-use-change emissions"};
    for (int k = 0; k < 2; k++) {
        const double v = mw_html_number(json_object_get(pd, pd_keys[k]));
        fprintf(f, "%s%s ", k ? ", " : "", pd_words[k]);
        if (isfinite(v))
            mw_html_percent(f, v);
        else
            fputs("not measured", f);
    }
    fputs(". The rest rests on estimated or unstated flows (the basis of every edge is in the "
          "chain table).</p>\n<p class=\"note\">&ndash; : not measured (an empty cell in the "
          "indicators, or a figure that depends on one).</p>\n</section>\n",
          f);

    framework(f, "ghg-scope3", "GHG Protocol Scope 3, category 1 (purchased goods and services)",
              json_object_get(fw, "ghg_protocol_scope3"), 1);
    fputs("<p class=\"note\">Multiply each product's embedded t CO<sub>2</sub>e per t by the "
          "tonnes purchased. The allocation basis of every upstream node is in the chain table; "
          "the bounds carry the sites' measurement bounds.</p></section>\n",
          f);
    framework(f, "eu-cbam", "EU CBAM: specific embedded emissions", json_object_get(fw, "eu_cbam"),
              0);
    if (json_is_true(json_object_get(json_object_get(fw, "eu_cbam"), "in_scope"))) {
        fputs("<p class=\"note\">Specific embedded emissions per tonne of each good, direct "
              "emissions as reported by the installations upstream and land-use change as "
              "observed at their sites, allocated as stated per node:</p>\n",
              f);
        products_table(f, json_object_get(doc, "products"), "cbam-products");
    }
    fputs("</section>\n", f);
    framework(f, "eu-battery", "EU Battery Regulation: supply-chain due diligence",
              json_object_get(fw, "eu_battery_regulation"), 0);
    fputs("</section>\n", f);

    fputs("<section id=\"chain\"><h2>Upstream chain</h2>\n", f);
    chain_svg(f, json_object_get(doc, "upstream_nodes"), json_object_get(doc, "upstream_edges"),
              buyer);
    chain_tables(f, json_object_get(doc, "upstream_nodes"), json_object_get(doc, "upstream_edges"));
    fputs("</section>\n<section id=\"sites\"><h2>Upstream sites</h2>\n", f);
    sites_svg(f, json_object_get(doc, "upstream_sites"));
    sites_tables(f, json_object_get(doc, "upstream_sites"));
    fputs("</section>\n<section id=\"method\"><h2>Method and sources</h2>\n<p>", f);
    mw_html_esc(f, mw_html_str(doc, "method"));
    fputs(".</p>\n<table id=\"inputs\"><thead><tr><th>input</th><th>path</th><th>SHA-256</th>"
          "</tr></thead><tbody>\n",
          f);
    static const char *const inputs[] = {"graph", "indicators"};
    for (int k = 0; k < 2; k++) {
        const json_t *in = json_object_get(doc, inputs[k]);
        fputs("<tr>", f);
        mw_html_td_text(f, inputs[k]);
        mw_html_td_text(f, mw_html_str(in, "path"));
        fputs("<td><code>", f);
        mw_html_esc(f, mw_html_str(in, "sha256"));
        fputs("</code></td></tr>\n", f);
    }
    fputs("</tbody></table>\n<ol id=\"citations\">\n", f);
    for (int c = 0; citations[c]; c++) {
        fputs("<li>", f);
        mw_html_esc(f, citations[c]);
        fputs("</li>\n", f);
    }
    fputs("</ol>\n</section>\n</body></html>\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}
