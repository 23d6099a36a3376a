/* The lists: sites (a catalogue's) and indicators (the columns a run writes). */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "minewatch/indicator.h"
#include "minewatch/site.h"

static int cmd_sites(cli *c, int argc, char **argv)
{
    if (argc > 1) return cli_bad_usage(c);
    const char *path = argc ? argv[0] : "aoi/critical_mineral_sites.geojson";
    mw_site_catalog cat;
    if (mw_site_catalog_load(path, &cat)) return cli_exit_for_error();
    size_t shown = 0;
    const int text = !c->format || !strcmp(c->format, "text");
    json_t *recs = json_array();
    if (text)
        printf("%-24s %-12s %-28s %-3s %9s %10s %-10s %s\n", "id", "kind", "commodities", "cc",
               "lat", "lon", "geometry", "name");
    for (size_t i = 0; i < cat.n; i++) {
        const mw_site *s = &cat.sites[i];
        if (c->kind && strcasecmp(s->kind, c->kind) != 0) continue;
        if (c->commodity && !mw_text_ifind(s->commodities, c->commodity)) continue;
        char geom[32];
        if (s->radius_m > 0)
            snprintf(geom, sizeof geom, "r=%.0fm", s->radius_m);
        else
            snprintf(geom, sizeof geom, "polygon");
        if (text)
            printf("%-24s %-12s %-28s %-3s %9.4f %10.4f %-10s %s\n", s->id, s->kind, s->commodities,
                   s->country, s->lat, s->lon, geom, s->name);
        else
            json_array_append_new(
                recs, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:f,s:f,s:o}", "id", s->id, "name",
                                s->name, "kind", s->kind, "commodities", s->commodities, "country",
                                s->country, "operator", s->operator_name, "supply_node",
                                s->supply_node, "lat", s->lat, "lon", s->lon, "radius_m",
                                s->radius_m > 0 ? json_real(s->radius_m) : json_null()));
        shown++;
    }
    static const char *const cols[] = {"id",      "name",     "kind",        "commodities",
                                       "country", "operator", "supply_node", "lat",
                                       "lon",     "radius_m", NULL};
    if (!text) cli_print_records(recs, cols, c->format);
    json_decref(recs);
    if (!c->quiet) fprintf(stderr, "%zu of %zu site(s) in %s\n", shown, cat.n, path);
    mw_site_catalog_free(&cat);
    return EXIT_OK;
}

static int cmd_indicators(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc) return cli_bad_usage(c);
    const int text = !c->format || !strcmp(c->format, "text");
    json_t *recs = json_array();
    static const char *const type_names[] = {"text", "date", "integer", "real"};
    for (int i = 0; i < mw_indicator_ncolumns; i++) {
        const mw_indicator_column *x = &mw_indicator_columns[i];
        if (text)
            printf("%-26s %-9s %s\n", x->name, x->unit, x->description);
        else
            json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "name", x->name, "type",
                                                  type_names[x->type], "unit", x->unit,
                                                  "description", x->description));
    }
    static const char *const cols[] = {"name", "type", "unit", "description", NULL};
    if (!text) cli_print_records(recs, cols, c->format);
    json_decref(recs);
    return EXIT_OK;
}

// clang-format off
static const cli_use sites_uses[] = {{O_KIND, NULL, 0}, {O_COMMODITY, NULL, 0}, {O_FORMAT, NULL, 0}, {0}};
static const cli_use format_uses[] = {{O_FORMAT, NULL, 0}, {0}};
// clang-format on

const cli_command cli_cmd_sites = {
    "sites",
    "[CATALOGUE]",
    "list the sites of a catalogue (default aoi/critical_mineral_sites.geojson)",
    "Lists the sites of a catalogue (any OGR vector format) with kind, commodities, country\n"
    "and location.\n",
    NULL,
    sites_uses,
    cmd_sites};

const cli_command cli_cmd_indicators = {
    "indicators",
    "",
    "list the indicator columns written per site and period",
    "Lists the columns of indicators.csv and the site_indicators layer: name, type, unit,\n"
    "meaning.\n",
    NULL,
    format_uses,
    cmd_indicators};
