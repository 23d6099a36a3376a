/* The options, once each; parsing and help from them. See cli.h. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minewatch/band.h"

typedef struct cli_option {
    int id;
    const char *name;
    const char *value; /* NULL: a flag */
    const char *doc;
} cli_option;

/* The options every command takes. */
static const int common[] = {O_HELP, O_VERSION, O_QUIET, O_LOG, 0};

// clang-format off
static const cli_option options[] = {
    {O_HELP, "help", NULL, "show the help (also 'minewatch <command> --help')"},
    {O_VERSION, "version", NULL, "print the version, the commit it was built from and the versions of the libraries linked"},
    {O_QUIET, "quiet", NULL, "no progress and no informational messages"},
    {O_LOG, "log", "FILE", "also append every message, with its time and level, to FILE as JSON lines (for schedulers; without a terminal, messages go to stderr one per line with their UTC time)"},
    {O_THREADS, "threads", "N", "worker threads (default: all cores); results do not depend on it"},
    {O_MEM, "mem", "MB", "memory budget for raster work (default 1024)"},
    {O_OUT, "out", "DIR", "output folder"},
    {O_CUBE, "datacube", "DIR", "site datacube folder (default: outputs.datacube of the pipeline, else DIR/tiles); chips there are reused when still valid"},
    {O_CHUNK, "chunk-rows", "N", "rows per processing chunk (default: from --mem); results do not depend on it"},
    {O_SHARD, "shard", "K/N", "only the K-th of N shares of the sites (balanced by grid size, the same on every machine): for job arrays; 'minewatch merge' joins the N folders"},
    {O_SEED, "seed", "N", "override source.seed of the pipeline"},
    {O_FORMAT, "format", "text|csv|json", "how the list is written (default text)"},
    {O_KIND, "kind", "K", "only sites of this kind (mine, refinery, smelter, ...)"},
    {O_COMMODITY, "commodity", "C", "only sites whose commodities include C (any case)"},
    {O_ITEM, "item", "ITEM.json", "the bands of a STAC item, with its own radiometry"},
    {O_SCALE, "scale", "S", "reflectance = DN x S + O for band files (default 1)"},
    {O_OFFSET, "offset", "O", "(default 0)"},
    {O_NODATA, "nodata", "DN", "the DN of band files that means no data"},
    {O_COG, "cog", NULL, "write a Cloud Optimized GeoTIFF"},
    {O_COMPRESS, "compress", "C", "none (fastest), deflate (default, level 1), zstd or lzw; tiles are compressed on every thread and written in order"},
    {O_TREECOVER, "treecover", "T", "Hansen GFC treecover2000 (percent): a file, a URL, or a template of Hansen's 10-degree tiles with {lat} and {lon} (e.g. .../Hansen_GFC-2023-v1.11_treecover2000_{lat}_{lon}.tif, tiles named 20N_080W); only the blocks under the polygons are read"},
    {O_LOSSYEAR, "lossyear", "L", "Hansen GFC lossyear (0 none, 1-23 = 2001-2023), on the same grid"},
    {O_EMISSIONS, "emissions", "E", "GFW gross emissions from forest loss (Mg CO2e per pixel, Harris et al. 2021), on the same grid; without it the column stays empty"},
    {O_YEARS, "years", "Y0-Y1", "years to report, from 2000"},
    {O_MIN_COVER, "min-cover", "P", "canopy density threshold in percent (GFW's default 30)"},
    {O_MIN_SIZE, "min-size-ha", "A", "minimum forest patch area in hectares"},
    {O_ID_FIELD, "id-field", "F", "the AOI field that names each polygon (default: id, else the feature id)"},
    {O_INDICATORS, "indicators", "FILE", "a run's indicators.csv or indicators.gpkg"},
    {O_PERIOD, "period", "NAME", "the period whose indicators are carried"},
    {O_EXPOSURE, "exposure", NULL, "also DIR/graph_exposure.csv: each node's burden by upstream site (the way Trase attributes deforestation to buyers); it adds up to the burden less direct emissions"},
    {O_REMOVE, "remove", "X", "stress test: the nodes with id or country X stop; DIR/stress.csv gives each node's share of input supply lost, carried down in proportion"},
    {O_EVIDENCE, "evidence", "NODE", "the evidence pack of a buyer: DIR/evidence_NODE.json, .csv and .html, its upstream sites with their shares of its burden, their indicators and scenes (from the run's provenance.json beside the indicators), and the frameworks it files under (GHG Protocol Scope 3 category 1; EU CBAM for aluminium, iron and steel; EU Battery Regulation for cobalt, lithium, nickel and natural graphite)"},
    {O_POSTGIS, "postgis", "C", "also the graph into PostgreSQL/PostGIS after the files (C: a libpq connection string without a password, e.g. 'host=/run/postgresql dbname=audit'): tables supply_graph_nodes (points) and supply_graph_edges (lines) with the graph's name and the period; a re-run of the same graph and period replaces its rows; one transaction. A refused connection keeps the files and exits 1"},
    {O_POSTGIS_SCHEMA, "postgis-schema", "S", "the schema for those tables (created when missing; default public)"},
    {O_TEMPLATE, "template", NULL, "write a pipeline file with every key and its default, and examples of the keys without one"},
    {O_REFERENCE, "reference", NULL, "write the reference of every key (Markdown tables; the README's)"},
    {O_BAND0 + MW_BAND_BLUE, "blue", "FILE[:BAND]", "a band file, and its band number after ':' (default 1); likewise --green, --red, --nir, --nir08, --swir16, --swir22"},
    {O_BAND0 + MW_BAND_GREEN, "green", "FILE[:BAND]", NULL},
    {O_BAND0 + MW_BAND_RED, "red", "FILE[:BAND]", NULL},
    {O_BAND0 + MW_BAND_NIR, "nir", "FILE[:BAND]", NULL},
    {O_BAND0 + MW_BAND_NIR08, "nir08", "FILE[:BAND]", NULL},
    {O_BAND0 + MW_BAND_SWIR16, "swir16", "FILE[:BAND]", NULL},
    {O_BAND0 + MW_BAND_SWIR22, "swir22", "FILE[:BAND]", NULL},
};
// clang-format on
#define NOPTIONS (sizeof options / sizeof *options)

static const cli_option *option(int id)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].id == id) return &options[i];
    return NULL;
}

static const cli_option *option_named(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (!strcmp(options[i].name, name)) return &options[i];
    return NULL;
}

/* "-o" (or "--name" when long_form or it has no letter), and " VALUE" when with_value and it
 * takes one. */
static const char *spell(const cli_option *o, int with_value, int long_form, char *buf, size_t n)
{
    const char *v = with_value && o->value ? o->value : NULL;
    if (o->id < 256 && !long_form)
        snprintf(buf, n, "-%c%s%s", o->id, v ? " " : "", v ? v : "");
    else
        snprintf(buf, n, "--%s%s%s", o->name, v ? " " : "", v ? v : "");
    return buf;
}

static const cli_use *use_of(const cli_command *cmd, int id)
{
    for (const cli_use *u = cmd ? cmd->uses : NULL; u && u->id; u++)
        if (u->id == id) return u;
    return NULL;
}

static int takes(const cli_command *cmd, int id)
{
    for (int i = 0; common[i]; i++)
        if (common[i] == id) return 1;
    return use_of(cmd, id) != NULL;
}

/* text, wrapped at width, every line after the first indented by indent. */
static void wrapped(FILE *f, const char *text, int col, int indent, int width)
{
    const char *s = text;
    while (*s) {
        int len = (int)strcspn(s, " ");
        if (col > indent && col + 1 + len > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(s, 1, (size_t)len, f);
        col += len;
        s += len;
        while (*s == ' ')
            s++;
    }
    fputc('\n', f);
}

#define WIDTH 92
#define DOC_COLUMN 22

static void option_lines(FILE *f, int id, const char *doc)
{
    const cli_option *o = option(id);
    if (!o || (!doc && !o->doc)) return; /* a band after the first: named in its text */
    char head[64], lf[48];
    snprintf(head, sizeof head, "  %s%c%s%s", o->id < 256 ? "-" : " ", o->id < 256 ? o->id : ' ',
             o->id < 256 ? ", " : "  ", spell(o, 1, 1, lf, sizeof lf));
    int col = (int)strlen(head);
    fputs(head, f);
    if (col + 2 > DOC_COLUMN) {
        fprintf(f, "\n%*s", DOC_COLUMN, "");
        col = DOC_COLUMN;
    } else {
        fprintf(f, "%*s", DOC_COLUMN - col, "");
        col = DOC_COLUMN;
    }
    wrapped(f, doc ? doc : o->doc, col, DOC_COLUMN, WIDTH);
}

static void synopsis(FILE *f, const cli_command *cmd)
{
    char line[1024];
    snprintf(line, sizeof line, "usage: minewatch %s%s%s", cmd->name, *cmd->args ? " " : "",
             cmd->args);
    fputs(line, f);
    int col = (int)strlen(line);
    for (const cli_use *u = cmd->uses; u->id; u++) {
        const cli_option *o = option(u->id);
        if (!o || (u->flags & USE_IN_ARGS)) continue;
        char w[128], sp[96];
        const int req = u->flags & USE_REQUIRED;
        snprintf(w, sizeof w, "%s%s%s", req ? "" : "[", spell(o, 1, 0, sp, sizeof sp),
                 req ? "" : "]");
        if (col + 1 + (int)strlen(w) > WIDTH) {
            fprintf(f, "\n%*s", 18 + (int)strlen(cmd->name), "");
            col = 18 + (int)strlen(cmd->name);
        }
        fprintf(f, " %s", w);
        col += 1 + (int)strlen(w);
    }
    fputc('\n', f);
}

void cli_help(FILE *f, const cli_command *cmd, const cli_command *const *commands, size_t ncommands)
{
    if (!cmd) {
        fputs("usage: minewatch <command> [options]\n\n", f);
        wrapped(f,
                "Satellite evidence for critical-mineral supply chains: per-site land-cover "
                "change, forest loss and indicators from Sentinel-2 L2A and Landsat Collection 2 "
                "Level-2 scenes (STAC items and APIs, SAFE and MTL folders, scene manifests), "
                "carried along supply graphs.",
                0, 0, WIDTH);
        fputs("\ncommands:\n", f);
        for (size_t i = 0; i < ncommands; i++) {
            char head[160];
            snprintf(head, sizeof head, "  %s%s%s", commands[i]->name,
                     *commands[i]->args ? " " : "", commands[i]->args);
            if (strlen(head) > 40) /* the arguments in full are in the command's own help */
                snprintf(head, sizeof head, "  %s %.*s ...", commands[i]->name,
                         (int)strcspn(commands[i]->args, " "), commands[i]->args);
            if ((int)strlen(head) + 1 > DOC_COLUMN)
                fprintf(f, "%s\n%*s", head, DOC_COLUMN, "");
            else
                fprintf(f, "%-*s", DOC_COLUMN, head);
            wrapped(f, commands[i]->summary, DOC_COLUMN, DOC_COLUMN, WIDTH);
        }
        fputs("\noptions for every command:\n", f);
        for (int i = 0; common[i]; i++)
            option_lines(f, common[i], NULL);
        fputs("\n'minewatch <command> --help' says what a command does and which options it "
              "takes.\n\nexit status: 0 ok; 1 some sites or scenes failed (see the report and "
              "provenance.json);\n2 bad usage or bad input files.\n",
              f);
        return;
    }
    synopsis(f, cmd);
    fputc('\n', f);
    fputs(cmd->about, f);
    if (cmd->uses[0].id) fputc('\n', f);
    for (const cli_use *u = cmd->uses; u->id; u++)
        option_lines(f, u->id, u->doc);
    if (cmd->after) fprintf(f, "\n%s", cmd->after);
    fputs("\nand the options of every command:", f);
    for (int i = 0; common[i]; i++) {
        char sp[96];
        fprintf(f, "%s %s", i ? "," : "", spell(option(common[i]), 1, 1, sp, sizeof sp));
    }
    fputc('\n', f);
}

int cli_bad_usage(const cli *c)
{
    if (c->command) synopsis(stderr, c->command);
    fprintf(stderr, "(see 'minewatch %s --help')\n", c->command ? c->command->name : "");
    return EXIT_BAD_INPUT;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int bad_value(const cli *c, const char *msg)
{
    fprintf(stderr, "minewatch: error: %s\n", msg);
    return c->command ? cli_bad_usage(c) : EXIT_BAD_INPUT;
}

/* One option's value into c. */
static int take(cli *c, int id, const char *arg)
{
    long v;
    char *end;
    double d;
    switch (id) {
    case O_HELP:
        c->help = 1;
        break;
    case O_VERSION:
        c->version = 1;
        break;
    case O_QUIET:
        c->quiet = 1;
        break;
    case O_OUT:
        c->out = arg;
        break;
    case O_LOG:
        if (c->log_file) fclose(c->log_file);
        c->log_file = fopen(arg, "a"); /* main closes it */
        if (!c->log_file) {
            fprintf(stderr, "minewatch: error: cannot open the log file '%s' to append\n", arg);
            return EXIT_BAD_INPUT;
        }
        break;
    case O_FORMAT:
        if (strcmp(arg, "text") && strcmp(arg, "csv") && strcmp(arg, "json"))
            return bad_value(c, "--format takes text, csv or json");
        c->format = arg;
        break;
    case O_THREADS:
        if (cli_parse_long(arg, 1, 1024, &v))
            return bad_value(c, "--threads needs a whole number from 1 to 1024");
        c->threads = (int)v;
        break;
    case O_MEM:
        if (cli_parse_long(arg, 64, 1L << 20, &v))
            return bad_value(c, "--mem needs a size in MB, at least 64");
        c->mem_mb = v;
        break;
    case O_CHUNK:
        if (cli_parse_long(arg, 1, INT_MAX, &v))
            return bad_value(c, "--chunk-rows needs a whole number >= 1");
        c->chunk_rows = (int)v;
        break;
    case O_SEED:
        if (cli_parse_long(arg, 0, LONG_MAX, &v))
            return bad_value(c, "--seed needs a whole number >= 0");
        c->seed = v;
        c->have_seed = 1;
        break;
    case O_ITEM:
        c->item = arg;
        break;
    case O_SCALE:
    case O_OFFSET:
    case O_NODATA:
        d = strtod(arg, &end);
        if (!*arg || *end) return bad_value(c, "--scale, --offset and --nodata need a number");
        if (id == O_SCALE)
            c->scale = d;
        else if (id == O_OFFSET)
            c->offset = d;
        else
            c->nodata = d, c->has_nodata = 1;
        break;
    case O_COMPRESS:
        if (strcasecmp(arg, "none") && strcasecmp(arg, "deflate") && strcasecmp(arg, "zstd") &&
            strcasecmp(arg, "lzw"))
            return bad_value(c, "--compress is one of none, deflate, zstd, lzw");
        c->compress = arg;
        break;
    case O_COG:
        c->cog = 1;
        break;
    case O_TREECOVER:
        c->treecover = arg;
        break;
    case O_LOSSYEAR:
        c->lossyear = arg;
        break;
    case O_EMISSIONS:
        c->emissions = arg;
        break;
    case O_YEARS:
        c->years = arg;
        break;
    case O_ID_FIELD:
        c->id_field = arg;
        break;
    case O_INDICATORS:
        c->indicators = arg;
        break;
    case O_PERIOD:
        c->period = arg;
        break;
    case O_EXPOSURE:
        c->exposure = 1;
        break;
    case O_REMOVE:
        c->remove = arg;
        break;
    case O_EVIDENCE:
        c->evidence = arg;
        break;
    case O_POSTGIS:
        c->postgis = arg;
        break;
    case O_POSTGIS_SCHEMA:
        c->postgis_schema = arg;
        break;
    case O_SHARD: {
        int k = 0, n = 0, used = 0;
        if (sscanf(arg, "%d/%d%n", &k, &n, &used) != 2 || arg[used] || n < 1 || n > 100000 ||
            k < 1 || k > n) {
            fprintf(stderr,
                    "minewatch: error: --shard wants K/N with 1 <= K <= N (e.g. 2/8), got '%s'\n",
                    arg);
            return EXIT_BAD_INPUT;
        }
        c->shard_k = k, c->shard_n = n;
        break;
    }
    case O_MIN_COVER:
    case O_MIN_SIZE:
        d = strtod(arg, &end);
        if (!*arg || *end || !(d >= 0) || (id == O_MIN_COVER && d > 100) || d > 1e9)
            return bad_value(c, id == O_MIN_COVER
                                    ? "--min-cover needs a percentage from 0 to 100"
                                    : "--min-size-ha needs an area in hectares, 0 or more");
        if (id == O_MIN_COVER)
            c->min_cover = d;
        else
            c->min_size_ha = d;
        break;
    case O_CUBE:
        c->datacube = arg;
        break;
    case O_KIND:
        c->kind = arg;
        break;
    case O_COMMODITY:
        c->commodity = arg;
        break;
    case O_TEMPLATE:
        c->template_ = 1;
        break;
    case O_REFERENCE:
        c->reference = 1;
        break;
    default:
        if (id >= O_BAND0 && id < O_BAND0 + MW_BAND_COUNT) c->band_file[id - O_BAND0] = arg;
        break;
    }
    return EXIT_OK;
}

int cli_parse(cli *c, int argc, char **argv, const cli_command *const *commands, size_t ncommands,
              int *nargs, char ***args)
{
    /* the command first (the first word that is not an option or an option's value), so that
     * every message can give its usage */
    for (int i = 1; i < argc && !c->command; i++) {
        if (argv[i][0] == '-') {
            const cli_option *o = argv[i][1] == '-'
                                      ? (strchr(argv[i], '=') ? NULL : option_named(argv[i] + 2))
                                  : argv[i][1] ? option(argv[i][1])
                                               : NULL;
            if (o && o->value && !(argv[i][1] != '-' && argv[i][2])) i++; /* its value */
            continue;
        }
        for (size_t k = 0; k < ncommands; k++)
            if (!strcmp(argv[i], commands[k]->name)) c->command = commands[k];
        break;
    }
    struct option lo[NOPTIONS + 1];
    char shorts[32] = ":";
    for (size_t i = 0; i < NOPTIONS; i++) {
        lo[i] = (struct option){options[i].name, options[i].value ? required_argument : no_argument,
                                NULL, options[i].id};
        if (options[i].id < 256) {
            size_t n = strlen(shorts);
            shorts[n++] = (char)options[i].id;
            if (options[i].value) shorts[n++] = ':';
            shorts[n] = 0;
        }
    }
    lo[NOPTIONS] = (struct option){0, 0, 0, 0};
    opterr = 0;
    int ch;
    unsigned char seen[O_BAND0 + MW_BAND_COUNT] = {0};
    while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (ch == ':') {
            fprintf(stderr, "minewatch: error: option '%s' needs a value\n", argv[optind - 1]);
            return c->command ? cli_bad_usage(c) : EXIT_BAD_INPUT;
        }
        if (ch == '?') {
            fprintf(stderr, "minewatch: error: unknown option '%s'\n", argv[optind - 1]);
            return c->command ? cli_bad_usage(c)
                              : (fputs("(see minewatch --help)\n", stderr), EXIT_BAD_INPUT);
        }
        if (c->command && !takes(c->command, ch)) {
            char sp[96];
            fprintf(stderr, "minewatch: error: '%s' is not an option of 'minewatch %s'\n",
                    spell(option(ch), 0, 0, sp, sizeof sp), c->command->name);
            return cli_bad_usage(c);
        }
        int rc = take(c, ch, optarg);
        if (rc) return rc;
        if (ch >= 0 && ch < (int)sizeof seen) seen[ch] = 1;
    }
    *nargs = argc - optind;
    *args = argv + optind;
    if (*nargs > 0 && !c->command) {
        fprintf(stderr, "minewatch: error: unknown command '%s' (see minewatch --help)\n",
                (*args)[0]);
        return EXIT_BAD_INPUT;
    }
    if (*nargs > 0) (*nargs)--, (*args)++; /* the command itself */
    /* a command's required options */
    for (const cli_use *u = c->command ? c->command->uses : NULL; !c->help && u && u->id; u++) {
        if (!(u->flags & USE_REQUIRED)) continue;
        if (!seen[u->id]) {
            char sp[96];
            fprintf(stderr, "minewatch: error: %s needs %s\n", c->command->name,
                    spell(option(u->id), 1, 0, sp, sizeof sp));
            return cli_bad_usage(c);
        }
    }
    return EXIT_OK;
}
