/* The commands that run a pipeline file, or part of it: run, change, merge, ingest, simulate,
 * and pipeline (its template and reference). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/site_shards.h"
#include "minewatch/pipeline.h"
#include "minewatch/run.h"
#include "minewatch/sim.h"
#include "minewatch/site.h"

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
    if (mw_pipeline_load(argv[0], &p)) return cli_exit_for_error();
    char *out = c->out ? strdup(c->out) : cli_default_out(p.name, NULL);
    if (!out) {
        mw_pipeline_free(&p);
        return cli_fail_input("out of memory");
    }
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
        rc = worker ? EXIT_OK : cli_exit_for_error(); /* rank 0 says what failed */
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
        cli_print_report(&rep);
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
    if (mw_shards_check((const char *const *)argv, (size_t)argc, &pl)) return cli_exit_for_error();
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
    if (mw_pipeline_load(argv[0], &p)) return cli_exit_for_error();
    mw_site_catalog cat;
    if (mw_site_catalog_load(p.catalogue, &cat)) {
        mw_pipeline_free(&p);
        return cli_exit_for_error();
    }
    const mw_site **sites = NULL;
    size_t ns = 0;
    int rc = EXIT_OK;
    if (mw_pipeline_select_sites(&p, &cat, &sites, &ns)) {
        rc = cli_exit_for_error();
    } else {
        char *out = c->out ? strdup(c->out) : cli_default_out(p.name, "scenes");
        mw_sim_options so = {c->have_seed ? (uint64_t)c->seed : p.sim_seed, p.sim_scenes_per_period,
                             p.sim_cloud_cover, 1000.0};
        if (!out)
            rc = cli_fail_input("out of memory");
        else if (mw_simulate(sites, ns, p.periods, p.n_periods, &so, out))
            rc = cli_exit_for_error();
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

static int cmd_pipeline(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc || c->template_ == c->reference) return cli_bad_usage(c);
    char *text = c->template_ ? mw_pipeline_template() : mw_pipeline_reference();
    if (!text) return cli_fail_input("out of memory");
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
static const cli_use pipeline_uses[] = {{O_TEMPLATE, NULL, 0}, {O_REFERENCE, NULL, 0}, {0}};
// clang-format on

const cli_command cli_cmd_run = {
    "run",
    "PIPELINE",
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
    run_uses,
    cmd_run};

const cli_command cli_cmd_change = {
    "change",
    "PIPELINE",
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
    NULL,
    change_uses,
    cmd_change};

const cli_command cli_cmd_merge = {
    "merge",
    "DIR_1 ... DIR_N",
    "join the output folders of a pipeline's shards (run --shard K/N) into the outputs one run "
    "of every site writes",
    "Joins the output folders of 'minewatch run PIPELINE --shard K/N -o DIR_K' (every K of 1..N,\n"
    "the same pipeline file, unchanged since) into DIR: the indicators, GeoPackages, maps,\n"
    "STAC catalogue and report of one run of every site, the same bytes (provenance.json says\n"
    "merged_from). Each site's record is taken from its shard's folder, nothing is computed; a\n"
    "site whose shard did not finish, or whose inputs changed since, is named (exit 1).\n",
    NULL,
    merge_uses,
    cmd_merge};

const cli_command cli_cmd_ingest = {
    "ingest",
    "PIPELINE",
    "only fill the site datacube: each scene's site window, harmonised to surface reflectance "
    "with a QA band, as COG chips",
    "Catalogues the pipeline's scenes and writes each scene's site window onto the site grid,\n"
    "harmonised to surface reflectance (offsets from the scene's own metadata) with one\n"
    "bit-packed QA band, as COG chips in the datacube (default: outputs.datacube, else\n"
    "DIR/tiles), co-registered where the pipeline says so. Chips whose key still matches are\n"
    "reused. Writes DIR/provenance.json.\n",
    NULL,
    ingest_uses,
    cmd_ingest};

const cli_command cli_cmd_simulate = {
    "simulate",
    "PIPELINE",
    "write simulated Sentinel-2 L2A scenes and truth.json for the pipeline's sites and periods",
    "Writes Sentinel-2 L2A-like products (per-band GeoTIFFs B02 B03 B04 B08 at 10 m, B8A B11\n"
    "B12 SCL at 20 m, a STAC item each) for the pipeline's sites and periods, and truth.json\n"
    "with the planted forest loss, disturbance, water and revegetation per site and period\n"
    "and each scene's sub-pixel shift. The same seed gives the same files.\n",
    NULL,
    simulate_uses,
    cmd_simulate};

const cli_command cli_cmd_pipeline = {
    "pipeline",
    "",
    "write a pipeline file's template (every key and its default) or its reference",
    "Writes, from the tables the parser reads, a template pipeline file (--template: every key\n"
    "with its default, examples of the keys without one, commented) or the reference of every\n"
    "key (--reference: Markdown tables, the README's \"Pipeline files\"). One of the two.\n",
    NULL,
    pipeline_uses,
    cmd_pipeline};
