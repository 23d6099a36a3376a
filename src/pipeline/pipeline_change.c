/* `minewatch change`: the change stages alone, from the composites a run wrote. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gdal.h>

#include "core/atomic_file.h"
#include "core/memory.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "minewatch/log.h"
#include "minewatch/run.h"
#include "pipeline/provenance.h"
#include "pipeline/site_change_stage.h"
#include "pipeline/site_maps.h"
#include "pipeline/site_memory.h"

/* Reads one period's composite; 1 if the file is absent (the period had none), -1 on error. */
static int read_composite(const mw_pipeline *p, const char *path, const mw_grid *g, float **band)
{
    struct stat st;
    if (stat(path, &st) != 0) return 1;
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds)
        return mw_error_from_gdal(MW_ERR_INPUT,
                                  "cannot open composite '%s'; run 'minewatch run' "
                                  "again to rewrite it",
                                  path);
    int rc = 0;
    if (GDALGetRasterXSize(ds) != g->width || GDALGetRasterYSize(ds) != g->height ||
        GDALGetRasterCount(ds) != p->nbands)
        rc = mw_error_set(MW_ERR_INPUT,
                          "composite '%s' is %dx%d with %d bands, but the site grid is %dx%d with "
                          "%d bands: it was written with other grid settings. Run 'minewatch run' "
                          "with this pipeline first",
                          path, GDALGetRasterXSize(ds), GDALGetRasterYSize(ds),
                          GDALGetRasterCount(ds), g->width, g->height, p->nbands);
    for (int b = 0; b < p->nbands && rc == 0; b++)
        if (GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Read, 0, 0, g->width, g->height, band[b],
                         g->width, g->height, GDT_Float32, 0, 0) != CE_None)
            rc = mw_error_from_gdal(MW_ERR_INPUT, "cannot read composite '%s'", path);
    GDALClose(ds);
    return rc;
}

/* Reads the composites from maps_dir (what a run committed), writes into out_maps (staged);
 * jsite gets the composites read, by hash, and the stage's provenance. */
static void change_site(const mw_pipeline *p, const mw_run_options *o, const mw_site *site,
                        const char *maps_dir, const char *out_maps, mw_indicator_row *rows,
                        json_t *jsite, mw_run_report *rep)
{
    const size_t np = p->n_periods;
    mw_grid g;
    if (mw_grid_for_site_in(site, p->grid_epsg ? p->grid_epsg : mw_site_utm_epsg(site),
                            p->pixel_size_m, p->buffer_m, p->origin_x, p->origin_y, &g)) {
        mw_report_add(rep, site->id, "", "grid", "%s", mw_error_message());
        return;
    }
    const size_t npix = mw_grid_npix(&g);
    const size_t budget = o->mem_budget_mb << 20;
    const size_t held =
        mw_memory_rss() + (size_t)GDALGetCacheMax64() + ((size_t)16 << 20) + budget / 16;
    const size_t need = mw_site_memory_change(p, npix);
    if (held + need > budget) {
        mw_report_add(rep, site->id, "", "memory",
                      "the site's %d x %d grid needs about %zu MB for the change stages, and the "
                      "memory budget leaves %zu MB; raise --mem by at least %zu MB",
                      g.width, g.height, (need >> 20) + 1,
                      budget > held ? (budget - held) >> 20 : 0,
                      ((held + need - budget) >> 20) + 1);
        return;
    }
    uint8_t *mask = malloc(npix);
    float *planes = malloc(np * p->nbands * npix * sizeof *planes);
    const float *(*rowsv)[MW_BAND_COUNT] = calloc(np, sizeof *rowsv);
    const float *const **rowsp = calloc(np, sizeof *rowsp);
    json_t *jperiods = json_array();
    json_object_set_new(jsite, "periods", jperiods);
    if (!mask || !planes || !rowsv || !rowsp) {
        mw_report_add(rep, site->id, "", "memory", "out of memory for a %dx%d grid", g.width,
                      g.height);
        goto out;
    }
    if (mw_grid_site_mask(&g, site, mask)) {
        mw_report_add(rep, site->id, "", "grid", "%s", mw_error_message());
        goto out;
    }
    OGRGeometryH up = mw_site_polygon(site, g.epsg);
    double area = up ? OGR_G_Area(up) / 1e4 : NAN;
    if (up) OGR_G_DestroyGeometry(up);
    for (size_t k = 0; k < np; k++) {
        rows[k].area_ha = area;
        float *band[MW_BAND_COUNT];
        for (int b = 0; b < p->nbands; b++)
            band[b] = planes + ((size_t)k * p->nbands + b) * npix;
        char *path = mw_composite_map_path(maps_dir, site->id, p->periods[k].name);
        int st = path ? read_composite(p, path, &g, band) : -1;
        char *sha = st == 0 ? mw_sha256_file(path) : NULL;
        json_array_append_new(jperiods,
                              json_pack("{s:s,s:s?,s:s?}", "name", p->periods[k].name, "composite",
                                        st == 0 ? path : NULL, "composite_sha256", sha));
        free(sha);
        if (st < 0) {
            mw_report_add(rep, site->id, "", "change", "%s", mw_error_message());
        } else if (st > 0) {
            mw_report_add(rep, site->id, "", "change",
                          "no composite for period '%s' ('%s' is missing): 'minewatch run' "
                          "writes it when the period has clear scenes; its change figures are "
                          "left empty",
                          p->periods[k].name, path);
        } else {
            for (int b = 0; b < p->nbands; b++)
                rowsv[k][p->bands[b]] = band[b];
            rowsp[k] = rowsv[k];
        }
        mw_error_clear();
        free(path);
    }
    mw_site_change_stage(p, &g, mask, rowsp, o->chunk_rows, NULL, out_maps, site->id, rows,
                         jperiods, rep);
out:
    free(mask), free(planes), free(rowsv), free(rowsp);
}

int mw_pipeline_change(const mw_pipeline *p, const mw_run_options *o, mw_run_report *rep,
                       mw_run_result *res)
{
    memset(res, 0, sizeof *res);
    if (p->n_periods < 2)
        return mw_error_set(MW_ERR_INPUT,
                            "%s: change needs the baseline and at least one monitoring period",
                            p->path);
    mw_site_catalog cat;
    const mw_site **sites = NULL;
    size_t ns = 0;
    if (mw_pipeline_load_sites(p, &cat, &sites, &ns)) return -1;
    char *maps_dir = mw_text_path(o->out_dir, "maps");
    struct stat st;
    int rc = 0;
    if (!maps_dir || stat(maps_dir, &st) != 0)
        rc = mw_error_set(MW_ERR_INPUT,
                          "'%s' holds no composites: run 'minewatch run %s -o %s' first (with "
                          "'maps' in outputs.formats)",
                          maps_dir ? maps_dir : o->out_dir, p->path, o->out_dir);
    /* The run's lock and commit: change rewrites maps a run wrote, so it must not overlap one. */
    mw_out_dir od = {0};
    od.lock_fd = -1;
    if (rc == 0) rc = mw_out_dir_open(o->out_dir, &od);
    char *out_maps = rc == 0 ? mw_out_dir_stage(&od, "maps") : NULL;
    if (rc == 0 && (!out_maps || mw_make_dirs(out_maps))) rc = -1;
    if (rc == 0) {
        res->rows = calloc(ns * p->n_periods + 1, sizeof *res->rows);
        res->nrows = ns * p->n_periods;
        if (!res->rows) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    /* change_provenance.json: what this command read and wrote, beside the run's own */
    json_t *prov = mw_provenance_begin_change(p, o), *jsites = json_object_get(prov, "sites");
    for (size_t s = 0; rc == 0 && s < ns; s++) {
        mw_log(MW_LOG_INFO, "site %zu/%zu: %s: change", s + 1, ns, sites[s]->id);
        json_t *jsite = json_pack("{s:s,s:s}", "id", sites[s]->id, "name", sites[s]->name);
        json_array_append_new(jsites, jsite);
        mw_indicator_row *rows = res->rows + s * p->n_periods;
        for (size_t k = 0; k < p->n_periods; k++) {
            mw_indicator_row_reset(&rows[k], sites[s], p->periods[k].name, p->periods[k].start,
                                   p->periods[k].end);
        }
        change_site(p, o, sites[s], maps_dir, out_maps, rows, jsite, rep);
    }
    if (rc == 0) {
        char *csv = mw_out_dir_stage(&od, "change.csv");
        if (mw_indicators_write_csv_change(csv, res->rows, res->nrows))
            mw_report_add(rep, "", "", "outputs", "%s", mw_error_message());
        free(csv);
        json_object_set_new(prov, "outputs",
                            json_pack("{s:o}", "files", mw_provenance_output_files(&od)));
        mw_provenance_finish(prov, rep);
        mw_provenance_write(prov, &od, "change_provenance.json", rep);
        mw_outputs_commit(&od, rep);
        mw_error_clear();
        /* The rows point into the catalogue, which is freed below. */
        for (size_t i = 0; i < res->nrows; i++) {
            res->rows[i].site_id = mw_run_result_keep(res, mw_text_dup(res->rows[i].site_id));
            res->rows[i].site_name = mw_run_result_keep(res, mw_text_dup(res->rows[i].site_name));
            mw_indicator_row *ri = &res->rows[i];
            const char **own[] = {&ri->kind, &ri->commodities, &ri->country, &ri->operator_name,
                                  &ri->supply_node};
            for (int t = 0; t < 5; t++)
                *own[t] = *own[t] ? mw_run_result_keep(res, mw_text_dup(*own[t])) : NULL;
            res->rows[i].period = mw_run_result_keep(res, mw_text_dup(res->rows[i].period));
        }
    }
    if (od.root) mw_out_dir_close(&od);
    json_decref(prov);
    free(out_maps);
    free(maps_dir);
    free(sites);
    mw_site_catalog_free(&cat);
    return rc;
}
