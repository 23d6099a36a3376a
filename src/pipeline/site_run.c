#include "pipeline/site_run.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <jansson.h>
#include <ogr_api.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/name_check.h"
#include "core/out_dir.h"
#include "core/fault.h"
#include "core/text.h"
#include "minewatch/chip.h"
#include "minewatch/chip_composite.h"
#include "minewatch/composite.h"
#include "minewatch/grid.h"
#include "minewatch/log.h"
#include "minewatch/lonlat.h"
#include "minewatch/scene.h"
#include "minewatch/site_change.h"
#include "pipeline/provenance.h"
#include "pipeline/site_change_stage.h"
#include "pipeline/site_heat.h"
#include "pipeline/site_protected_areas.h"
#include "pipeline/site_reference_forest.h"
#include "pipeline/site_maps.h"
#include "pipeline/site_memory.h"
#include "pipeline/site_stack.h"

/* The count of clear observations, and for selecting methods the date each pixel took
 * (YYYYMMDD), beside the period's composite: what an auditor asks of a composite pixel. */
static void write_composite_maps(site_ctx *sc, const mw_site *site, const mw_period *per,
                                 const mw_grid *g, float *const *band, const uint16_t *nclear,
                                 const mw_day *taken)
{
    const mw_pipeline *p = sc->p;
    const size_t npix = mw_grid_npix(g);
    const char *bn[MW_BAND_COUNT];
    for (int b = 0; b < p->nbands; b++)
        bn[b] = mw_bands[p->bands[b]].name;
    char *cp = mw_composite_map_path(sc->maps_dir, site->id, per->name);
    const char *refl[MW_BAND_COUNT];
    for (int b = 0; b < p->nbands; b++)
        refl[b] = "reflectance (0-1)";
    const mw_map_bands comp = {GDT_Float32,
                               p->nbands,
                               (const void *const *)band,
                               "period composite: surface reflectance per band",
                               bn,
                               refl};
    if (mw_write_map(cp, g, &comp))
        mw_report_add(sc->rep, site->id, "", "outputs", "%s", mw_error_message());
    free(cp);

    char *name = mw_map_path(sc->maps_dir, site->id, "clear_obs", per->name, ".tif");
    const mw_map_bands clear = {GDT_UInt16,
                                1,
                                (const void *const[]){nclear},
                                "clear observations composited per pixel (QA flags not excluded, "
                                "all bands finite)",
                                NULL,
                                (const char *const[]){"observations"}};
    if (mw_write_map(name, g, &clear))
        mw_report_add(sc->rep, site->id, "", "outputs", "%s", mw_error_message());
    free(name);
    if (!taken) return;
    uint32_t *ymd = malloc(npix * sizeof *ymd);
    if (!ymd) {
        mw_report_add(sc->rep, site->id, "", "outputs", "out of memory for the date map");
        return;
    }
    for (size_t i = 0; i < npix; i++) {
        int y, m, d;
        if (taken[i] == MW_COMPOSITE_NO_DAY) {
            ymd[i] = (uint32_t)mw_map_nodata(GDT_UInt32);
            continue;
        }
        mw_day_to_ymd(taken[i], &y, &m, &d);
        ymd[i] = (uint32_t)(y * 10000 + m * 100 + d);
    }
    name = mw_map_path(sc->maps_dir, site->id, "date", per->name, ".tif");
    const mw_map_bands date = {GDT_UInt32,
                               1,
                               (const void *const[]){ymd},
                               "acquisition date (YYYYMMDD, UTC) of the observation each pixel "
                               "took; 4294967295 none",
                               NULL,
                               (const char *const[]){"YYYYMMDD"}};
    if (mw_write_map(name, g, &date))
        mw_report_add(sc->rep, site->id, "", "outputs", "%s", mw_error_message());
    free(name);
    free(ymd);
}

/* (none of the partial files can be in use: the lock is this process's) */
int mw_site_cube_lock(const char *site_dir, const char *site_id)
{
    char what[256];
    snprintf(what, sizeof what, "the datacube folder of site '%s'", site_id);
    int fd = mw_dir_lock(site_dir, ".lock", what, 1);
    if (fd < 0) return -1;
    DIR *d = opendir(site_dir);
    struct dirent *e;
    int stale = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (!mw_part_name_pid(e->d_name, NULL)) continue;
        char *p = mw_text_path(site_dir, e->d_name);
        mw_remove_tree(p);
        free(p);
        stale++;
    }
    if (d) closedir(d);
    if (stale)
        mw_log(MW_LOG_INFO, "site %s: removed %d partial file(s) left by an interrupted run",
               site_id, stale);
    return fd;
}

/* Ingests the period's scenes over the site into chips, in catalogue order. */
static void ingest_period(site_ctx *sc, const mw_site *site, size_t k, const mw_grid *g,
                          const double site_bbox[4], const uint8_t *mask, const char *site_dir,
                          const mw_ingest_options *io, period_stack *ps, json_t *jperiods,
                          int threads)
{
    const mw_pipeline *p = sc->p;
    const mw_period *per = &p->periods[k];
    size_t nsel = 0;
    const mw_scene **sel = calloc(sc->scenes->n + 1, sizeof *sel);
    ps->in_dates = ps->over_site = ps->missed = 0, ps->before = ps->after = 0;
    for (size_t i = 0; sel && i < sc->scenes->n; i++) {
        const mw_scene *s = &sc->scenes->scenes[i];
        const int dates = s->day >= per->start && s->day <= per->end,
                  over = mw_lonlat_bbox_overlap(s->bbox, site_bbox);
        ps->in_dates += dates;
        if (dates && over) sel[nsel++] = s;
        if (over && sc->over_any && sc->scenes->scenes == sc->scenes_local) sc->over_any[i] = 1;
        /* the nearest scenes over the site outside the period, to say where to look */
        if (over && s->day < per->start && (!ps->before || s->day > ps->before))
            ps->before = s->day;
        if (over && s->day > per->end && (!ps->after || s->day < ps->after)) ps->after = s->day;
    }
    ps->over_site = (long)nsel;
    mw_chip *chips = calloc(nsel + 1, sizeof *chips);
    int *state = calloc(nsel + 1, sizeof *state); /* 0 ok, 1 misses the site, -1 failed */
    ps->c = calloc(nsel + 1, sizeof *ps->c);
    ps->n = 0;
    if (!sel || !chips || !state || !ps->c) {
        mw_report_add(sc->rep, site->id, "", "memory", "out of memory listing period '%s'",
                      per->name);
        free(sel), free(chips), free(state);
        return;
    }
    long done = 0;
    char stage[256];
    snprintf(stage, sizeof stage, "%s %s: ingest", site->id, per->name);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long i = 0; i < (long)nsel; i++) {
        state[i] = mw_chip_ingest(sel[i], g, site_dir, io, mask, &chips[i]);
        mw_fault_point("scene");
        if (state[i] < 0)
            mw_report_add(sc->rep, site->id, sel[i]->id, "ingest", "%s; the scene is skipped",
                          mw_error_message());
        mw_error_clear();
        long d;
#pragma omp atomic capture
        d = ++done;
        mw_progress(stage, d, (long)nsel);
    }
    /* Compact in catalogue order so the composite's input order never depends on threads. */
    json_t *jscenes = json_array(), *jskipped = json_array();
    long failed = 0;
    for (size_t i = 0; i < nsel; i++) {
        if (state[i] == 0) {
            const mw_scene_asset *a = &sel[i]->bands[MW_BAND_RED];
            json_t *js = json_pack(
                "{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:b,s:s}", "id", sel[i]->id, "sensor",
                mw_sensors[sel[i]->sensor].name, "datetime", sel[i]->datetime, "item",
                sel[i]->item_path, "processing_baseline", sel[i]->baseline, "radiometry",
                sel[i]->offset_source, "scale", a->scale, "offset", a->offset, "coverage_fraction",
                chips[i].coverage_fraction, "clear_fraction", chips[i].clear_fraction, "chip",
                chips[i].path, "chip_reused", chips[i].reused, "mask",
                chips[i].mask ? chips[i].mask : "");
            json_array_append_new(jscenes, js);
            ps->c[ps->n++] = (site_chip){sel[i], chips[i], js, 0, 0};
        } else {
            failed += state[i] < 0;
            ps->missed += state[i] > 0;
            json_array_append_new(jskipped,
                                  json_pack("{s:s,s:s}", "id", sel[i]->id, "reason",
                                            state[i] < 0 ? "failed to ingest (see failures)"
                                                         : "does not cover the site"));
            mw_chip_free(&chips[i]);
        }
    }
    char sd[11], ed[11];
    mw_day_format(per->start, sd);
    mw_day_format(per->end, ed);
    json_array_append_new(jperiods,
                          json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", per->name, "start", sd, "end",
                                    ed, "scenes", jscenes, "skipped", jskipped));
    ps->jscenes = jscenes, ps->jskipped = jskipped;
    ps->failed = failed;
    free(sel), free(chips), free(state);
}

/* Period k's composite from its chips (pk, nok of them) into band (nbands planes it allocates),
 * nclear and taken; the heat figures and the chips' hashes on the way. 1: composited, with clear
 * pixels; 0: composited, none clear (reported); -1: failed (reported, band freed). */
static int composite_period(site_ctx *sc, const mw_site *site, size_t k, const mw_grid *g,
                            const uint8_t *mask, long inside, period_stack *pk,
                            const mw_site_memory *mem, float **band, uint16_t *nclear,
                            mw_day *taken, mw_indicator_row *r)
{
    const mw_pipeline *p = sc->p;
    const mw_period *per = &p->periods[k];
    const size_t nok = pk->n, npix = mw_grid_npix(g);
    char sd[11], ed[11];
    mw_day_format(per->start, sd);
    mw_day_format(per->end, ed);
    int made = -1;
    if (mw_site_heat(p, g, mask, pk, r))
        mw_report_add(sc->rep, site->id, "", "heat", "%s", mw_error_message());
    mw_chip *chips = calloc(nok, sizeof *chips);
    mw_day *days = calloc(nok, sizeof *days);
    double *cfrac = calloc(nok, sizeof *cfrac), *score = calloc(nok, sizeof *score);
    int ok = chips && days && cfrac && score;
    for (int b = 0; ok && b < p->nbands; b++)
        ok = (band[b] = malloc(npix * sizeof(float))) != NULL;
    double shift_sum = 0;
    /* the chip files the composite reads, by hash: what proves the pixels behind it (the
     * files hashed on every thread, the entries made in chip order) */
    char **hashes = ok ? calloc(2 * nok, sizeof *hashes) : NULL;
    if (hashes) {
#pragma omp parallel for schedule(dynamic, 1)
        for (size_t j = 0; j < 2 * nok; j++) {
            const mw_chip *c = &pk->c[j / 2].chip;
            hashes[j] = mw_sha256_file(j % 2 ? c->qa_path : c->path);
        }
    }
    for (size_t i = 0; ok && i < nok; i++) {
        chips[i] = pk->c[i].chip;
        const char *hc = hashes ? hashes[2 * i] : NULL, *hq = hashes ? hashes[2 * i + 1] : NULL;
        if (pk->c[i].prov)
            json_object_set_new(pk->c[i].prov, "composited_chip",
                                json_pack("{s:s,s:s,s:s}", "path", chips[i].path, "sha256",
                                          hc ? hc : "", "qa_sha256", hq ? hq : ""));
        days[i] = pk->c[i].scene->day;
        cfrac[i] = chips[i].clear_fraction;
        shift_sum += hypot(pk->c[i].dx, pk->c[i].dy);
    }
    for (size_t j = 0; hashes && j < 2 * nok; j++)
        free(hashes[j]);
    free(hashes);
    r->coreg_shift_px = p->coregister && nok ? shift_sum / (double)nok : NAN;
    int red = 0, nir = 0;
    for (int b = 0; b < p->nbands; b++) {
        if (p->bands[b] == MW_BAND_RED) red = b;
        if (p->bands[b] == MW_BAND_NIR) nir = b;
    }
    /* Each thread also holds a GDAL handle on every chip (about 2 MB each with its
     * decompression buffers); the chunks get what is left, up to 128 MB (more is no
     * faster). */
    const int nth = omp_get_max_threads();
    const size_t handles = (size_t)nth * (((size_t)8 << 20) + nok * ((size_t)2 << 20));
    size_t chunk_bytes = mem->composite_bytes > handles ? mem->composite_bytes - handles : 0;
    if (chunk_bytes > ((size_t)128 << 20)) chunk_bytes = (size_t)128 << 20;
    int rows_per = sc->o->chunk_rows ? sc->o->chunk_rows
                                     : mw_composite_chunk_rows(g, nok, p->nbands, nth, chunk_bytes);
    /* BAP aims at the middle of the period. */
    if (ok)
        mw_composite_bap_scores(days, cfrac, nok, per->start + (per->end - per->start) / 2, score);
    const mw_composite_spec spec = {
        p->composite_method, p->qa_exclude, p->min_clear_obs, red, nir, days, score};
    const mw_composite_result res = {band, nclear, taken};
    if (!ok || mw_composite_chips(chips, nok, p->nbands, g, mask, &spec, rows_per, &res)) {
        mw_report_add(sc->rep, site->id, "", "composite", "period '%s': %s", per->name,
                      ok ? mw_error_message() : "out of memory");
        for (int b = 0; b < p->nbands; b++) {
            free(band[b]);
            band[b] = NULL;
        }
    } else {
        long clear_obs = 0, valid = 0;
        for (size_t i = 0; i < npix; i++)
            if (mask[i]) clear_obs += nclear[i], valid += nclear[i] > 0;
        r->clear_fraction = inside ? (double)clear_obs / ((double)nok * (double)inside) : NAN;
        if (valid == 0) {
            /* name the scenes and where their masks came from: the user checks them */
            char names[512] = "";
            for (size_t i = 0; i < nok && strlen(names) + 8 < sizeof names; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s (%s)",
                         i ? ", " : "", pk->c[i].scene->id,
                         pk->c[i].chip.mask ? pk->c[i].chip.mask : "?");
            mw_report_add(sc->rep, site->id, "", "composite",
                          "period '%s' (%s to %s): none of its %zu scene(s) has a clear pixel "
                          "over the site (all cloud, shadow or masked: %s); its land-cover "
                          "and change figures are left empty. Add scenes or widen the period",
                          per->name, sd, ed, nok, names);
        }
        if (p->write_maps && sc->maps_dir)
            write_composite_maps(sc, site, per, g, band, nclear, taken);
        mw_fault_point("period");
        made = valid ? 1 : 0;
    }
    free(chips), free(days), free(cfrac), free(score);
    return made;
}

/* A period no usable scene covers: why, and where to look instead. */
static void report_empty_period(const site_ctx *sc, const mw_site *site, size_t k,
                                const period_stack *pk)
{
    const mw_period *per = &sc->p->periods[k];
    char sd[11], ed[11], bd[11] = "none", ad[11] = "none";
    mw_day_format(per->start, sd);
    mw_day_format(per->end, ed);
    if (pk->before) mw_day_format(pk->before, bd);
    if (pk->after) mw_day_format(pk->after, ad);
    mw_report_add(sc->rep, site->id, "", "composite",
                  "no usable scene of period '%s' (%s to %s) covers the site; its "
                  "indicators are left empty. Of the %zu scene(s) catalogued, %ld fall "
                  "in these dates, %ld of them overlap the site, %ld had no pixel over "
                  "it and %ld could not be read (see above). The nearest scenes over the "
                  "site are on %s (before) and %s (after): widen the period or add "
                  "scenes of these dates",
                  per->name, sd, ed, sc->scenes->n, pk->in_dates, pk->over_site, pk->missed,
                  pk->failed, bd, ad);
}

/* One site: ingest every period, co-register, composite, then the change stages. */
void mw_site_run(site_ctx *sc, const mw_site *site, mw_indicator_row *rows)
{
    const mw_pipeline *p = sc->p;
    const size_t np = p->n_periods;
    const char *wkt_out = NULL;
    for (size_t k = 0; k < np; k++) {
        mw_indicator_row_reset(&rows[k], site, p->periods[k].name, p->periods[k].start,
                               p->periods[k].end);
    }
    json_t *jsite = json_pack("{s:s,s:s}", "id", site->id, "name", site->name);
    json_array_append_new(sc->prov_sites, jsite);
    mw_grid g;
    if (mw_grid_for_site_in(site, p->grid_epsg ? p->grid_epsg : mw_site_utm_epsg(site),
                            p->pixel_size_m, p->buffer_m, p->origin_x, p->origin_y, &g)) {
        mw_report_add(sc->rep, site->id, "", "grid", "%s", mw_error_message());
        return;
    }
    OGRGeometryH wpoly = mw_site_polygon_wgs84(site, g.epsg);
    OGRGeometryH upoly = mw_site_polygon(site, g.epsg);
    double site_bbox[4] = {0, 0, 0, 0}, area_ha = NAN;
    if (wpoly && upoly) {
        mw_lonlat_bbox(wpoly, site_bbox);
        char *wkt = NULL;
        OGR_G_ExportToWkt(wpoly, &wkt);
        wkt_out = mw_run_result_keep(sc->res, mw_text_dup(wkt));
        CPLFree(wkt);
        area_ha = OGR_G_Area(upoly) / 1e4;
    }
    if (wpoly && p->rf_treecover && !sc->o->ingest_only &&
        mw_site_reference_forest(p, site, wpoly, sc->o->mem_budget_mb, rows, sc->rf, jsite))
        mw_report_add(sc->rep, site->id, "", "reference_forest", "%s", mw_error_message());
    OGRGeometryH pa_local = NULL; /* protected areas over the grid, for the loss inside them */
    if (upoly && sc->pa && !sc->o->ingest_only &&
        mw_site_pa_figures(sc->pa, upoly, &g, rows, p->n_periods, sc->res, jsite,
                           (void **)&pa_local))
        mw_report_add(sc->rep, site->id, "", "protected_areas", "%s", mw_error_message());
    if (wpoly) OGR_G_DestroyGeometry(wpoly);
    if (upoly) OGR_G_DestroyGeometry(upoly);
    /* The budget first: a site that does not fit is refused before anything is allocated. */
    mw_site_memory mem;
    if (mw_site_memory_plan(p, g.width, g.height, omp_get_max_threads(), sc->site_avail, &mem)) {
        mw_report_add(sc->rep, site->id, "", "memory", "%s", mw_error_message());
        json_object_set_new(
            jsite, "grid",
            json_pack("{s:i,s:i,s:i}", "epsg", g.epsg, "width", g.width, "height", g.height));
        mw_error_clear();
        for (size_t k = 0; k < np; k++)
            rows[k].wkt_wgs84 = wkt_out;
        if (pa_local) OGR_G_DestroyGeometry(pa_local);
        return;
    }
    const size_t npix = mw_grid_npix(&g);
    uint8_t *mask = malloc(npix);
    float **comp = calloc(np * p->nbands, sizeof *comp); /* [k * NB + b] */
    const float *(*rowsv)[MW_BAND_COUNT] = calloc(np, sizeof *rowsv);
    const float *const **rowsp = calloc(np, sizeof *rowsp);
    period_stack *ps = calloc(np, sizeof *ps);
    uint16_t *nclear = malloc(npix * sizeof *nclear);
    const int selects = p->composite_method != MW_COMPOSITE_MEDIAN;
    mw_day *taken = selects ? malloc(npix * sizeof *taken) : NULL; /* the date each pixel took */
    char *site_dir =
        mw_name_check(site->id, "site id") ? NULL : mw_text_path(sc->cube_dir, site->id);
    int cube_lock = -1;
    json_t *jperiods = json_array();
    json_object_set_new(jsite, "grid",
                        json_pack("{s:i,s:f,s:f,s:f,s:i,s:i}", "epsg", g.epsg, "x0", g.x0, "y0",
                                  g.y0, "pixel_size_m", g.res, "width", g.width, "height",
                                  g.height));
    json_object_set_new(jsite, "periods", jperiods);
    if (!mask || !comp || !rowsv || !rowsp || !ps || !nclear || !site_dir || (selects && !taken)) {
        mw_report_add(sc->rep, site->id, "", "memory", "out of memory for a %dx%d grid", g.width,
                      g.height);
        goto out;
    }
    if (mw_grid_site_mask(&g, site, mask) || mw_make_dirs(site_dir) ||
        (cube_lock = mw_site_cube_lock(site_dir, site->id)) < 0 ||
        mw_chip_write_grid(site_dir, &g, site->id)) {
        mw_report_add(sc->rep, site->id, "", "grid", "%s", mw_error_message());
        goto out;
    }
    long inside = 0;
    for (size_t i = 0; i < npix; i++)
        inside += mask[i];
    const mw_ingest_options io = {
        p->bands,       p->nbands, p->resampling, p->qa_exclude, p->qa_dilate, p->dilate_m, 0, 0,
        p->mask_source, 0};
    /* With co-registration, each scene's NIR chip first: its shift is known before its full chip
     * is made, so every scene is resampled once. */
    static const mw_band nir_only[1] = {MW_BAND_NIR};
    mw_ingest_options nio = io;
    nio.bands = nir_only, nio.nbands = 1, nio.estimate_only = 1;
    for (size_t k = 0; k < np; k++) {
        rows[k].area_ha = area_ha;
        ingest_period(sc, site, k, &g, site_bbox, mask, site_dir, p->coregister ? &nio : &io,
                      &ps[k], jperiods, mem.ingest_threads);
    }
    /* Co-registered chips belong to the datacube: `ingest` makes them too, so a later run on the
     * cached datacube reads no scene. */
    if (p->coregister) {
        mw_coregister_site(p, &g, ps, np, site->id, sc->rep, mem.coreg_threads);
        mw_coregister_chips(&g, site_dir, &io, mask, ps, np, site->id, sc->rep, mem.ingest_threads);
    }
    for (size_t k = 0; k < np; k++) {
        rows[k].n_scenes = (long)ps[k].n;
        rows[k].n_scenes_failed = ps[k].failed;
        mw_log(MW_LOG_INFO, "site %s: period %s: %zu scene(s) ingested, %ld failed", site->id,
               p->periods[k].name, ps[k].n, ps[k].failed);
    }
    if (sc->o->ingest_only) goto out; /* the datacube is the product */
    for (size_t k = 0; k < np; k++) {
        if (ps[k].n == 0) {
            report_empty_period(sc, site, k, &ps[k]);
            continue;
        }
        float **band = comp + k * p->nbands;
        const int made = composite_period(sc, site, k, &g, mask, inside, &ps[k], &mem, band, nclear,
                                          taken, &rows[k]);
        for (int b = 0; made >= 0 && b < p->nbands; b++)
            rowsv[k][p->bands[b]] = band[b];
        rowsp[k] = made > 0 ? rowsv[k] : NULL;
    }
    /* The change stages: land cover, loss, severity, trends; every figure in pixel order. */
    mw_site_change_stage(p, &g, mask, rowsp, sc->o->chunk_rows, pa_local,
                         p->write_maps ? sc->maps_dir : NULL, site->id, rows, jperiods, sc->rep);
out:
    if (pa_local) OGR_G_DestroyGeometry(pa_local);
    for (size_t k = 0; ps && k < np; k++) {
        for (size_t i = 0; i < ps[k].n; i++)
            mw_chip_free(&ps[k].c[i].chip);
        free(ps[k].c);
    }
    free(ps);
    for (size_t i = 0; comp && i < np * p->nbands; i++)
        free(comp[i]);
    free(comp);
    free(rowsv);
    free(rowsp);
    free(mask);
    free(nclear);
    free(taken);
    free(site_dir);
    mw_dir_unlock(cube_lock);
    for (size_t k = 0; k < np; k++)
        rows[k].wkt_wgs84 = wkt_out;
}
