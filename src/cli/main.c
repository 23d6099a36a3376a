/* minewatch: satellite evidence for critical-mineral supply chains. Only this file decides the
 * exit status: 0 ok, 1 some sites or scenes failed, 2 bad usage or bad input files. */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <jansson.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/memory.h"
#include "core/text.h"
#include "io/http_reader.h"
#include "pipeline/provenance.h"
#include "pipeline/site_shards.h"
#include "cli.h"
#include "mpi_dispatch.h"
#include "minewatch/graph_run.h"
#include "minewatch/index_stream.h"
#include "minewatch/log.h"
#include "minewatch/pipeline.h"
#include "minewatch/qa.h"
#include "minewatch/run.h"
#include "minewatch/scene.h"
#include "minewatch/sim.h"
#include "minewatch/site.h"
#include "minewatch/spectral_index.h"
#include "minewatch/treecover.h"
#include "minewatch/treecover_run.h"
#include "minewatch/version.h"

static void utc_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* On a terminal: messages between progress lines. Without one (a scheduled job): every stage
 * and site on its own line with its time, so the job leaves a record. --log: JSON lines too. */
static void log_sink(mw_log_level lv, const char *msg, void *user)
{
    const cli *c = user;
    static const char *const level[] = {"debug", "info", "warning", "error"};
    char now[32];
    utc_now(now);
    if (c->log_file && lv != MW_LOG_DEBUG) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "time", now, "level", level[lv], "message", msg);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line) fprintf(c->log_file, "%s\n", line), fflush(c->log_file);
        free(line);
        json_decref(j);
    }
    if (lv == MW_LOG_DEBUG || (lv == MW_LOG_INFO && c->quiet)) return;
    char who[32] = "minewatch"; /* under mpirun, which rank says it */
    if (c->dispatch) snprintf(who, sizeof who, "minewatch[%d]", c->dispatch->rank);
    if (c->tty)
        fprintf(stderr, "%s%s: %s%s\n", c->quiet ? "" : "\r\033[K", who,
                lv >= MW_LOG_WARN ? "warning: " : "", msg);
    else
        fprintf(stderr, "%s %s: %s%s\n", now, who, lv >= MW_LOG_WARN ? "warning: " : "", msg);
}

static void progress_sink(const char *stage, long done, long total, void *user)
{
    (void)user;
    fprintf(stderr, "\r\033[K%s %ld/%ld", stage, done, total);
    if (done >= total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static int fail_input(const char *msg)
{
    fprintf(stderr, "minewatch: error: %s\n", msg);
    return EXIT_BAD_INPUT;
}

static int exit_for_error(void)
{
    fprintf(stderr, "minewatch: error: %s\n", mw_error_message());
    return mw_error_get_kind() == MW_ERR_INPUT ? EXIT_BAD_INPUT : EXIT_PARTIAL;
}

static char *default_out(const mw_pipeline *p, const char *sub)
{
    size_t n = strlen(p->name) + (sub ? strlen(sub) : 0) + 8;
    char *s = malloc(n);
    snprintf(s, n, "out/%s%s%s", p->name, sub ? "/" : "", sub ? sub : "");
    return s;
}

static void print_report(const mw_run_report *rep)
{
    if (rep->n == 0) return;
    fprintf(stderr, "minewatch: %zu problem(s) in this run:\n", rep->n);
    for (size_t i = 0; i < rep->n; i++) {
        const mw_failure *f = &rep->items[i];
        fprintf(stderr, "  [%s]%s%s%s%s %s\n", f->stage, *f->site_id ? " site " : "", f->site_id,
                *f->scene_id ? " scene " : "", f->scene_id, f->message);
    }
}

typedef enum pipeline_mode { MODE_RUN, MODE_INGEST, MODE_CHANGE } pipeline_mode;

/* The table a finished command prints, by mode. */
static void print_rows(pipeline_mode mode, const mw_run_result *res, const char *out, int maps)
{
    if (mode == MODE_INGEST) {
        printf("%-22s %-10s %6s %7s\n", "site_id", "period", "chips", "failed");
        for (size_t i = 0; i < res->nrows; i++)
            printf("%-22s %-10s %6ld %7ld\n", res->rows[i].site_id, res->rows[i].period,
                   res->rows[i].n_scenes, res->rows[i].n_scenes_failed);
        printf("\ndatacube chips written or reused; provenance in %s/provenance.json\n", out);
    } else if (mode == MODE_CHANGE) {
        printf("%-22s %-10s %10s %8s %9s %9s %9s %10s\n", "site_id", "period", "loss_ha", "patches",
               "water_ha", "dist_ha", "reveg_ha", "ndvi_trend");
        for (size_t i = 0; i < res->nrows; i++) {
            const mw_indicator_row *r = &res->rows[i];
            printf("%-22s %-10s %10.2f %8ld %9.2f %9.2f %9.2f %10.5f\n", r->site_id, r->period,
                   r->forest_loss_ha, r->loss_patches, r->water_ha, r->disturbed_ha, r->reveg_ha,
                   r->ndvi_trend_per_yr);
        }
        printf("\noutputs in %s: change.csv, maps/\n", out);
    } else {
        printf("%-22s %-10s %6s %6s %10s %10s %8s %7s\n", "site_id", "period", "scenes", "clear",
               "forest_ha", "loss_ha", "ndvi", "failed");
        for (size_t i = 0; i < res->nrows; i++) {
            const mw_indicator_row *r = &res->rows[i];
            printf("%-22s %-10s %6ld %6.2f %10.2f %10.2f %8.4f %7ld\n", r->site_id, r->period,
                   r->n_scenes, r->clear_fraction, r->forest_ha, r->forest_loss_ha, r->ndvi_mean,
                   r->n_scenes_failed);
        }
        printf("\noutputs in %s: indicators.gpkg (layer site_indicators), indicators.csv, "
               "provenance.json%s\n",
               out, maps ? ", maps/" : "");
    }
}

static int run_pipeline(cli *c, int argc, char **argv, pipeline_mode mode)
{
    if (argc != 1) return cli_bad_usage(c);
    mw_pipeline p;
    if (mw_pipeline_load(argv[0], &p)) return exit_for_error();
    char *out = c->out ? strdup(c->out) : default_out(&p, NULL);
    mw_run_options o = {out,
                        (size_t)c->mem_mb,
                        c->chunk_rows,
                        c->command_line,
                        mode == MODE_CHANGE ? NULL : c->datacube,
                        mode == MODE_INGEST,
                        mode == MODE_RUN ? c->shard_k : 0,
                        mode == MODE_RUN ? c->shard_n : 0,
                        c->merge_dirs,
                        c->nmerge,
                        c->dispatch};
    mw_run_report rep = {0};
    mw_run_result res;
    int rc;
    const int worker = c->dispatch && c->dispatch->rank != 0 && mode != MODE_CHANGE;
    if (mode == MODE_CHANGE ? mw_pipeline_change(&p, &o, &rep, &res)
                            : mw_pipeline_run(&p, &o, &rep, &res)) {
        rc = worker ? EXIT_OK : exit_for_error(); /* rank 0 says what failed */
    } else if (worker) {
        rc = EXIT_OK; /* its sites' failures reach rank 0 with their results */
        mw_run_result_free(&res);
    } else {
        if (!c->quiet) print_rows(mode, &res, out, p.write_maps);
        if (res.scenes_outside > 0)
            fprintf(stderr,
                    "minewatch: %ld scene(s) of %s overlap none of the sites and were not used "
                    "(listed in provenance.json, scenes_outside_every_site)\n",
                    res.scenes_outside, p.source_path ? p.source_path : "the source");
        print_report(&rep);
        rc = rep.n ? EXIT_PARTIAL : EXIT_OK;
        mw_run_result_free(&res);
    }
    if (c->dispatch) mw_mpi_release(c->dispatch);
    mw_report_free(&rep);
    free(out);
    mw_pipeline_free(&p);
    return rc;
}

static int cmd_run(cli *c, int argc, char **argv)
{
    return run_pipeline(c, argc, argv, MODE_RUN);
}

static int cmd_merge(cli *c, int argc, char **argv)
{
    if (argc < 1) return cli_bad_usage(c); /* -o is required (the table) */
    char *pl = NULL;
    if (mw_shards_check((const char *const *)argv, (size_t)argc, &pl)) return exit_for_error();
    c->merge_dirs = (const char *const *)argv, c->nmerge = (size_t)argc;
    char *args[1] = {pl};
    const int rc = run_pipeline(c, 1, args, MODE_RUN);
    free(pl);
    return rc;
}

static int cmd_ingest(cli *c, int argc, char **argv)
{
    return run_pipeline(c, argc, argv, MODE_INGEST);
}

static int cmd_change(cli *c, int argc, char **argv)
{
    return run_pipeline(c, argc, argv, MODE_CHANGE);
}

static int cmd_simulate(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c);
    mw_pipeline p;
    if (mw_pipeline_load(argv[0], &p)) return exit_for_error();
    mw_site_catalog cat;
    if (mw_site_catalog_load(p.catalogue, &cat)) {
        mw_pipeline_free(&p);
        return exit_for_error();
    }
    const mw_site **sites = NULL;
    size_t ns = 0;
    int rc = EXIT_OK;
    if (mw_pipeline_select_sites(&p, &cat, &sites, &ns)) {
        rc = exit_for_error();
    } else {
        char *out = c->out ? strdup(c->out) : default_out(&p, "scenes");
        mw_sim_options so = {c->have_seed ? (uint64_t)c->seed : p.sim_seed, p.sim_scenes_per_period,
                             p.sim_cloud_cover, 1000.0};
        if (mw_simulate(sites, ns, p.periods, p.n_periods, &so, out))
            rc = exit_for_error();
        else if (!c->quiet)
            printf("simulated %zu scene(s) for %zu site(s) into %s (truth in %s/truth.json)\n",
                   ns * p.n_periods * (size_t)so.scenes_per_period, ns, out, out);
        free(out);
    }
    free(sites);
    mw_site_catalog_free(&cat);
    mw_pipeline_free(&p);
    return rc;
}

/* Records (objects of strings and numbers) as CSV with the given columns, or as a JSON array. */
static void print_records(json_t *recs, const char *const *cols, const char *format)
{
    if (!strcmp(format, "json")) {
        json_dumpf(recs, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        return;
    }
    for (int k = 0; cols[k]; k++)
        printf("%s%s", k ? "," : "", cols[k]);
    fputc('\n', stdout);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        for (int k = 0; cols[k]; k++) {
            json_t *v = json_object_get(r, cols[k]);
            if (k) fputc(',', stdout);
            if (json_is_string(v))
                mw_csv_cell(stdout, json_string_value(v), 1);
            else if (json_is_number(v))
                printf("%.10g", json_number_value(v));
        }
        fputc('\n', stdout);
    }
}

static int cmd_sites(cli *c, int argc, char **argv)
{
    if (argc > 1) return cli_bad_usage(c);
    const char *path = argc ? argv[0] : "aoi/critical_mineral_sites.geojson";
    mw_site_catalog cat;
    if (mw_site_catalog_load(path, &cat)) return exit_for_error();
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
    if (!text) print_records(recs, cols, c->format);
    json_decref(recs);
    if (!c->quiet) fprintf(stderr, "%zu of %zu site(s) in %s\n", shown, cat.n, path);
    mw_site_catalog_free(&cat);
    return EXIT_OK;
}

static int cmd_index(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c); /* -o is required (the table) */
    const mw_spectral_index *ix = mw_spectral_index_find(argv[0]);
    if (!ix) {
        fprintf(stderr, "minewatch: error: unknown index '%s'; 'minewatch indices' lists them\n",
                argv[0]);
        return EXIT_BAD_INPUT;
    }
    mw_index_input in[MW_BAND_COUNT] = {{0}};
    char *paths[MW_BAND_COUNT] = {0};
    mw_scene sc = {0};
    int have_scene = 0;
    if (c->item) {
        if (mw_stac_item_read(c->item, &sc)) return exit_for_error();
        have_scene = 1;
    }
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        in[b].band = 1;
        in[b].scale = c->scale;
        in[b].offset = c->offset;
        in[b].has_nodata = c->has_nodata;
        in[b].nodata = c->nodata;
        if (c->band_file[b]) {
            paths[b] = strdup(c->band_file[b]);
            char *colon = strrchr(paths[b], ':');
            if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
                long bn;
                if (cli_parse_long(colon + 1, 1, 65535, &bn)) {
                    fprintf(stderr,
                            "minewatch: error: --%s '%s': the band number after ':' must be 1 "
                            "to 65535\n",
                            mw_bands[b].name, c->band_file[b]);
                    for (int k = 0; k <= b; k++)
                        free(paths[k]);
                    if (have_scene) mw_scene_free(&sc);
                    return EXIT_BAD_INPUT;
                }
                *colon = 0;
                in[b].band = (int)bn;
            }
            in[b].path = paths[b];
        } else if (have_scene && sc.bands[b].href) {
            in[b].path = sc.bands[b].href;
            in[b].scale = sc.bands[b].scale;
            in[b].offset = sc.bands[b].offset;
            in[b].has_nodata = 1;
            in[b].nodata = sc.bands[b].nodata;
        }
    }
    /* the one command of this process: it may set GDAL's block cache (see index_stream.h) */
    mw_index_options o = {(size_t)c->mem_mb * 1024 * 1024 / 2, c->chunk_rows, c->cog, c->compress,
                          1};
    const char *item_path[1] = {c->item};
    int rc = mw_output_path_check(c->out, item_path, 1) || mw_index_compute(ix, in, c->out, &o)
                 ? exit_for_error()
                 : EXIT_OK;
    if (rc == EXIT_OK && !c->quiet) printf("%s written to %s\n", ix->name, c->out);
    for (int b = 0; b < MW_BAND_COUNT; b++)
        free(paths[b]);
    if (have_scene) mw_scene_free(&sc);
    return rc;
}

static int cmd_indices(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc) return cli_bad_usage(c);
    for (int i = 0; i < mw_spectral_nindices; i++) {
        const mw_spectral_index *x = &mw_spectral_indices[i];
        printf("%-10s %-52s %s\n", x->name, x->formula, x->citation);
    }
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
    if (!text) print_records(recs, cols, c->format);
    json_decref(recs);
    return EXIT_OK;
}

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
        return fail_input("--years needs Y0-Y1 (or one year), from 2000, e.g. 2000-2023");
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
        rc = exit_for_error();
    } else {
        if (!c->quiet)
            printf("%ld polygon(s), years %d-%d: %s/treecover.csv, %s/treecover.gpkg (layer "
                   "treecover), %s/provenance.json\n",
                   res.polygons, o.params.year_from, o.params.year_to, c->out, c->out, c->out);
        print_report(&rep);
        rc = rep.n ? EXIT_PARTIAL : EXIT_OK;
    }
    mw_report_free(&rep);
    return rc;
}

static int cmd_graph(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c);
    mw_graph_options o = {argv[0],         c->indicators, c->period,        c->out,
                          c->command_line, c->exposure,   c->remove,        (size_t)c->mem_mb,
                          c->evidence,     c->postgis,    c->postgis_schema};
    mw_graph_result_summary res;
    if (mw_graph_run(&o, &res)) return exit_for_error();
    if (!c->quiet)
        printf("%ld node(s), %ld edge(s), %ld site(s) of period '%s': %s/graph_nodes.csv, "
               "%s/provenance.json\n",
               res.nodes, res.edges, res.sites, c->period, c->out, c->out);
    return EXIT_OK;
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = calloc(n, 1);
    for (int i = 0; i < argc && s; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static int cmd_pipeline(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc || c->template_ == c->reference) return cli_bad_usage(c);
    char *text = c->template_ ? mw_pipeline_template() : mw_pipeline_reference();
    if (!text) return fail_input("out of memory");
    fputs(text, stdout);
    free(text);
    return EXIT_OK;
}

// clang-format off
static const cli_use run_uses[] = {{O_OUT, "output folder (default out/<pipeline name>)", 0}, {O_CUBE, NULL, 0}, {O_SHARD, NULL, 0}, {O_CHUNK, NULL, 0}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use merge_uses[] = {{O_OUT, "the output folder of the whole run", USE_REQUIRED}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use change_uses[] = {{O_OUT, "the run's output folder (default out/<pipeline name>)", 0}, {O_CHUNK, NULL, 0}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use ingest_uses[] = {{O_OUT, "output folder (default out/<pipeline name>)", 0}, {O_CUBE, NULL, 0}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use simulate_uses[] = {{O_OUT, "output folder (default out/<pipeline name>/scenes)", 0}, {O_SEED, NULL, 0}, {O_THREADS, NULL, 0}, {0}};
static const cli_use sites_uses[] = {{O_KIND, NULL, 0}, {O_COMMODITY, NULL, 0}, {O_FORMAT, NULL, 0}, {0}};
static const cli_use index_uses[] = {{O_OUT, "the index raster (Float32, tiled GeoTIFF)", USE_REQUIRED | USE_IN_ARGS}, {O_ITEM, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_BLUE, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_GREEN, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_RED, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_NIR, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_NIR08, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_SWIR16, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_SWIR22, NULL, USE_IN_ARGS}, {O_SCALE, NULL, 0}, {O_OFFSET, NULL, 0}, {O_NODATA, NULL, 0}, {O_COG, NULL, 0}, {O_COMPRESS, NULL, 0}, {O_CHUNK, "rows per chunk (default: from --mem, whole input blocks); the output does not depend on it", 0}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use format_uses[] = {{O_FORMAT, NULL, 0}, {0}};
static const cli_use treecover_uses[] = {{O_TREECOVER, NULL, USE_REQUIRED}, {O_LOSSYEAR, NULL, USE_REQUIRED}, {O_EMISSIONS, NULL, 0}, {O_YEARS, NULL, USE_REQUIRED}, {O_MIN_COVER, NULL, USE_REQUIRED}, {O_MIN_SIZE, NULL, USE_REQUIRED}, {O_ID_FIELD, NULL, 0}, {O_OUT, "output folder", USE_REQUIRED}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use graph_uses[] = {{O_INDICATORS, NULL, USE_REQUIRED}, {O_PERIOD, NULL, USE_REQUIRED}, {O_OUT, "output folder", USE_REQUIRED}, {O_EXPOSURE, NULL, 0}, {O_REMOVE, NULL, 0}, {O_EVIDENCE, NULL, 0}, {O_POSTGIS, NULL, 0}, {O_POSTGIS_SCHEMA, NULL, 0}, {O_MEM, NULL, 0}, {0}};
static const cli_use pipeline_uses[] = {{O_TEMPLATE, NULL, 0}, {O_REFERENCE, NULL, 0}, {0}};
static const cli_use no_uses[] = {{0}};
// clang-format on

static const cli_command commands[] = {
    {"run", "PIPELINE",
     "run a pipeline file end to end; writes indicators.gpkg, indicators.csv, provenance.json, "
     "maps/ and report.html to the output folder",
     "Runs PIPELINE (a YAML file, see pipelines/demo.yaml and 'minewatch pipeline --reference'):\n"
     "catalogues the scenes over each site, reads only the site window onto the site grid, masks\n"
     "clouds and shadows (SCL, QA_PIXEL, a manifest's mask or the built-in screen), co-registers\n"
     "each scene to the site's reference, composites clear pixels per period (median, max_ndvi or\n"
     "bap), maps land cover, forest loss and vegetation cleared since the baseline, and writes\n"
     "per-site, per-period indicators, maps and report.html.\n",
     "Each site's finished work is kept in DIR/.minewatch/sites/ with the checksum of its\n"
     "inputs: a re-run, or a run after a kill, redoes only the sites whose pipeline file,\n"
     "catalogue entry or scenes changed, and ends with the same bytes as one uninterrupted run.\n"
     "A scene or site that fails is reported and skipped; the others still run (exit 1).\n",
     run_uses, cmd_run},
    {"change", "PIPELINE",
     "only the change stages, from the composites a run wrote: land cover, transitions, loss "
     "patches, dNBR, trends",
     "Runs the change stages alone on the period composites that 'minewatch run PIPELINE -o\n"
     "DIR' wrote to DIR/maps (<site>_composite_<period>.tif): land cover per period (rule\n"
     "table, 'minewatch indicators' and provenance.json cite it), the class transitions from\n"
     "the baseline (maps/<site>_transitions.csv), forest loss with the minimum mapping unit\n"
     "and its patches as polygons (maps/<site>_loss_patches.gpkg), dNBR, and the per-pixel and\n"
     "per-site NDVI trend (Theil-Sen, Mann-Kendall). Writes DIR/change.csv: the indicator\n"
     "columns that do not need the scenes. Change thresholds can be edited in PIPELINE and\n"
     "re-run here without touching the scenes.\n",
     NULL, change_uses, cmd_change},
    {"merge", "DIR_1 ... DIR_N",
     "join the output folders of a pipeline's shards (run --shard K/N) into the outputs one run "
     "of every site writes",
     "Joins the output folders of 'minewatch run PIPELINE --shard K/N -o DIR_K' (every K of 1..N,\n"
     "the same pipeline file, unchanged since) into DIR: the indicators, GeoPackages, maps,\n"
     "STAC catalogue and report of one run of every site, the same bytes (provenance.json says\n"
     "merged_from). Each site's record is taken from its shard's folder, nothing is computed; a\n"
     "site whose shard did not finish, or whose inputs changed since, is named (exit 1).\n",
     NULL, merge_uses, cmd_merge},
    {"ingest", "PIPELINE",
     "only fill the site datacube: each scene's site window, harmonised to surface reflectance "
     "with a QA band, as COG chips",
     "Catalogues the pipeline's scenes and writes each scene's site window onto the site grid,\n"
     "harmonised to surface reflectance (offsets from the scene's own metadata) with one\n"
     "bit-packed QA band, as COG chips in the datacube (default: outputs.datacube, else\n"
     "DIR/tiles), co-registered where the pipeline says so. Chips whose key still matches are\n"
     "reused. Writes DIR/provenance.json.\n",
     NULL, ingest_uses, cmd_ingest},
    {"simulate", "PIPELINE",
     "write simulated Sentinel-2 L2A scenes and truth.json for the pipeline's sites and periods",
     "Writes Sentinel-2 L2A-like products (per-band GeoTIFFs B02 B03 B04 B08 at 10 m, B8A B11\n"
     "B12 SCL at 20 m, a STAC item each) for the pipeline's sites and periods, and truth.json\n"
     "with the planted forest loss, disturbance, water and revegetation per site and period\n"
     "and each scene's sub-pixel shift. The same seed gives the same files.\n",
     NULL, simulate_uses, cmd_simulate},
    {"pipeline", "",
     "write a pipeline file's template (every key and its default) or its reference",
     "Writes, from the tables the parser reads, a template pipeline file (--template: every key\n"
     "with its default, examples of the keys without one, commented) or the reference of every\n"
     "key (--reference: Markdown tables, the README's \"Pipeline files\"). One of the two.\n",
     NULL, pipeline_uses, cmd_pipeline},
    {"sites", "[CATALOGUE]",
     "list the sites of a catalogue (default aoi/critical_mineral_sites.geojson)",
     "Lists the sites of a catalogue (any OGR vector format) with kind, commodities, country\n"
     "and location.\n",
     NULL, sites_uses, cmd_sites},
    {"index", "NAME -o OUT.tif (--item ITEM.json | --red FILE[:BAND] --nir FILE[:BAND] ...)",
     "compute one registered index from band files or a STAC item",
     "Computes a registered spectral index (see 'minewatch indices') into a Float32 tiled "
     "GeoTIFF,\n"
     "streaming row strips sized from --mem. Bands come from a STAC item (with its own "
     "radiometry)\n"
     "or from files: --blue --green --red --nir --nir08 --swir16 --swir22, each FILE or "
     "FILE:BAND.\n"
     "Reflectance = DN x scale + offset (default 1 and 0). No data, saturated values (the largest\n"
     "value of integer inputs), zero denominators and values outside the index's range are "
     "written\n"
     "as NaN, the no-data value of every real-valued map minewatch writes. Bands on different\n"
     "grids are aligned to the finest. The output is the same, byte for byte, for any thread\n"
     "count, --mem and --chunk-rows.\n",
     NULL, index_uses, cmd_index},
    {"graph", "GRAPH.json",
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
     NULL, graph_uses, cmd_graph},
    {"treecover", "AOI",
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
     treecover_uses, cmd_treecover},
    {"indices", "", "list the registered spectral indices with formulae and citations",
     "Lists the spectral index registry: name, formula, bands and citation.\n", NULL, no_uses,
     cmd_indices},
    {"indicators", "", "list the indicator columns written per site and period",
     "Lists the columns of indicators.csv and the site_indicators layer: name, type, unit,\n"
     "meaning.\n",
     NULL, format_uses, cmd_indicators},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static int run_main(cli *cp, int argc, char **argv)
{
    cli c = *cp;
    int nargs;
    char **args;
    int rc = cli_parse(&c, argc, argv, commands, NCOMMANDS, &nargs, &args);
    cp->log_file = c.log_file; /* main closes it */
    if (rc) return rc;
    if (c.version) {
        json_t *sv = mw_software_versions();
        printf("minewatch %s (commit %s)\n", MW_VERSION_STRING,
               json_string_value(json_object_get(sv, "git_commit")));
        const char *k;
        json_t *x;
        json_object_foreach(sv, k, x) if (strcmp(k, "minewatch") && strcmp(k, "git_commit"))
            printf("  %-9s %s\n", k, json_string_value(x));
        json_decref(sv);
        return EXIT_OK;
    }
    if (!c.command || c.help) {
        cli_help(c.help ? stdout : stderr, c.command, commands, NCOMMANDS);
        return c.help ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (c.dispatch && c.dispatch->size > 1) {
        /* the ranks on a machine share its cores and the memory budget */
        if (!c.threads) {
            const int per = omp_get_num_procs() / (c.local_ranks > 0 ? c.local_ranks : 1);
            c.threads = per > 0 ? per : 1;
        }
        c.mem_mb /= c.local_ranks > 0 ? c.local_ranks : 1;
        const char *cmd0 = c.command->name;
        const int spreads =
            !strcmp(cmd0, "run") || !strcmp(cmd0, "ingest") || !strcmp(cmd0, "merge");
        if (c.dispatch->rank != 0 && !c.site_process) { /* its sites go to its site process */
            mw_log_set_sink(log_sink, &c);              /* it says which site's process died */
            if (spreads) mw_mpi_supervise(c.dispatch, c.local_ranks);
            mw_log_set_sink(NULL, NULL);
            return EXIT_OK; /* rank 0 says what failed */
        }
    }
    if (c.threads) omp_set_num_threads(c.threads);
    GDALAllRegister();
    mw_http_reader_install();                 /* remote assets: see io/http_reader.h */
    CPLSetErrorHandler(CPLQuietErrorHandler); /* GDAL's messages reach the user through ours */
    /* GDAL's block cache is an eighth of what the budget leaves beside the process itself
     * (4 to 256 MB): the rest is planned per site (see pipeline/site_memory.h). */
    {
        const GIntBig mb = 1024 * 1024, left = (GIntBig)c.mem_mb * mb - (GIntBig)mw_memory_rss();
        GIntBig cache = left / 8;
        if (cache < 4 * mb) cache = 4 * mb;
        if (cache > 256 * mb) cache = 256 * mb;
        GDALSetCacheMax64(cache);
    }
    mw_log_set_sink(log_sink, &c);
    if (c.tty && !c.quiet) mw_progress_set_sink(progress_sink, NULL);
    return c.command->run(&c, nargs, args);
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /* Large buffers (site planes, chunks) come from mmap and go back to the system when freed.
     * glibc otherwise raises this threshold after the first such free and keeps later ones in
     * its heap, which let the resident set grow past the memory budget period after period. A
     * fixed 8 MB keeps GDAL's warp and block buffers (which come and go by the thousand) in the
     * heap: from 256 kB, their page faults were a seventh of a fresh run. */
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
#endif
    cli c = {.mem_mb = 1024, .tty = isatty(STDERR_FILENO), .scale = 1.0};
    c.command_line = join_args(argc, argv);
    mw_site_dispatch mpi = {0};
    const int with_mpi = mw_mpi_start(&argc, &argv, &mpi, &c.local_ranks);
    if (with_mpi != MW_MPI_NONE && mpi.size > 1) c.dispatch = &mpi;
    c.site_process = with_mpi == MW_MPI_SITE_PROCESS;
    int rc = run_main(&c, argc, argv);
    if (with_mpi == MW_MPI_RANK) mw_mpi_stop();
    free(c.command_line); /* every exit path comes through here */
    if (c.log_file) fclose(c.log_file);
    return rc;
}
