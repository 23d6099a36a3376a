/* treecover: tree cover, loss and emissions per polygon by the Global Forest Watch method. */
#include "cli.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#include "minewatch/treecover.h"
#include "minewatch/treecover_run.h"

/* Y0-Y1, from 2000 (Hansen's baseline) to 2254 (the last year a byte of lossyear can hold). */
static int parse_years(const char *s, int *y0, int *y1)
{
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s) return -1;
    if (*end == '-') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t) return -1;
    }
    if (*end || a < 2000 || b < a || b > 2254) return -1;
    *y0 = (int)a, *y1 = (int)b;
    return 0;
}

static int cmd_treecover(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c);
    mw_treecover_options o = {argv[0],     c->id_field,       c->treecover,
                              c->lossyear, c->emissions,      {c->min_cover, c->min_size_ha, 0, 0},
                              c->out,      (size_t)c->mem_mb, c->command_line};
    if (parse_years(c->years, &o.params.year_from, &o.params.year_to))
        return cli_fail_input("--years needs Y0-Y1 (or one year), from 2000, e.g. 2000-2023");
#ifdef __GLIBC__
    /* GDAL's decompressed blocks (up to 1 MB each) come and go by the thousand here: from the
     * heap, reused, rather than a fresh mmap and its page faults each time. The block cache and
     * the windows still bound the memory. */
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
#endif
    mw_run_report rep = {0};
    mw_treecover_result res;
    int rc;
    if (mw_treecover_run(&o, &rep, &res)) {
        rc = cli_exit_for_error();
    } else {
        if (!c->quiet)
            printf("%ld polygon(s), years %d-%d: %s/treecover.csv, %s/treecover.gpkg (layer "
                   "treecover), %s/provenance.json\n",
                   res.polygons, o.params.year_from, o.params.year_to, c->out, c->out, c->out);
        cli_print_report(&rep);
        rc = rep.n ? EXIT_PARTIAL : EXIT_OK;
    }
    mw_report_free(&rep);
    return rc;
}

// clang-format off
static const cli_use treecover_uses[] = {{O_TREECOVER, NULL, USE_REQUIRED}, {O_LOSSYEAR, NULL, USE_REQUIRED}, {O_EMISSIONS, NULL, 0}, {O_YEARS, NULL, USE_REQUIRED}, {O_MIN_COVER, NULL, USE_REQUIRED}, {O_MIN_SIZE, NULL, USE_REQUIRED}, {O_ID_FIELD, NULL, 0}, {O_OUT, "output folder", USE_REQUIRED}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
// clang-format on

const cli_command cli_cmd_treecover = {
    "treecover",
    "AOI",
    "tree cover, loss and gross emissions per polygon and year from Hansen GFC and GFW layers "
    "(the Global Forest Watch method)",
    "Per polygon of AOI (any OGR vector file) and year: tree-cover area (ha), tree-cover loss\n"
    "(ha) and gross emissions from that loss (Mg CO2e), by the Global Forest Watch method as\n"
    "mapme.biodiversity implements it: forest is treecover2000 > P %, in 4-connected patches\n"
    "of more than A ha inside the polygon; pixels count by the fraction of them inside the\n"
    "polygon, with their area on the WGS 84 ellipsoid; the tree cover of a year is that of\n"
    "2000 less the loss of every year up to it. Writes DIR/treecover.csv\n"
    "(site_id,year,treecover_ha,loss_ha,emissions_mg_co2e), DIR/treecover.gpkg (layer\n"
    "treecover) and DIR/provenance.json.\n",
    "A polygon outside the rasters, or not a polygon, gets rows with empty figures and is\n"
    "reported; the others are done (exit 1).\n",
    treecover_uses,
    cmd_treecover};
