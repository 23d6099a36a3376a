#include "minewatch/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>

#include "core/atomic_file.h"
#include "core/memory.h"
#include "core/name_check.h"
#include "core/out_dir.h"
#include "core/fault.h"
#include "core/text.h"
#include "io/http_reader.h"
#include "minewatch/log.h"
#include "minewatch/lonlat.h"
#include "minewatch/scene.h"
#include "minewatch/sim.h"
#include "minewatch/stac_api.h"
#include "pipeline/provenance.h"
#include "pipeline/output_postgis.h"
#include "pipeline/output_stac.h"
#include "pipeline/run_page.h"
#include "pipeline/site_protected_areas.h"
#include "pipeline/site_record.h"
#include "pipeline/site_shards.h"
#include "pipeline/site_reference_forest.h"
#include "pipeline/site_run.h"

const char *mw_run_result_keep(mw_run_result *r, char *s)
{
    char **no = realloc(r->owned, (r->nowned + 1) * sizeof *no);
    if (!no) return s;
    r->owned = no;
    r->owned[r->nowned++] = s;
    return s;
}

void mw_run_result_free(mw_run_result *r)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

int mw_pipeline_select_sites(const mw_pipeline *p, const mw_site_catalog *cat, const mw_site ***out,
                             size_t *n)
{
    size_t want = p->n_site_ids ? p->n_site_ids : cat->n;
    const mw_site **v = calloc(want ? want : 1, sizeof *v);
    if (!v) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    char *missing = NULL;
    for (size_t i = 0; i < want; i++) {
        v[i] = p->n_site_ids ? mw_site_catalog_find(cat, p->site_ids[i]) : &cat->sites[i];
        if (!v[i]) {
            size_t len = (missing ? strlen(missing) : 0) + strlen(p->site_ids[i]) + 4;
            char *m = malloc(len);
            snprintf(m, len, "%s%s'%s'", missing ? missing : "", missing ? ", " : "",
                     p->site_ids[i]);
            free(missing);
            missing = m;
        }
    }
    if (missing) {
        mw_error_set(MW_ERR_INPUT,
                     "%s: unknown site id %s in sites.ids: not in the catalogue '%s'. "
                     "'minewatch sites %s' lists the ids",
                     p->path, missing, cat->path, cat->path);
        free(missing);
        free(v);
        return -1;
    }
    *out = v;
    *n = want;
    return 0;
}

int mw_pipeline_load_sites(const mw_pipeline *p, mw_site_catalog *cat, const mw_site ***sites,
                           size_t *n)
{
    if (mw_site_catalog_load(p->catalogue, cat))
        return mw_error_prefix("%s: sites.catalogue", p->path);
    if (mw_pipeline_select_sites(p, cat, sites, n)) {
        mw_site_catalog_free(cat);
        return -1;
    }
    return 0;
}

static void on_scan_fail(const char *path, const char *msg, void *user)
{
    mw_report_add(user, "", path, "catalogue", "%s", msg);
}

/* The scene ids a truth.json of the simulator lists: the folders it made. */
static json_t *truth_scene_ids(const char *scene_dir, char **sim_key)
{
    char *tp = mw_text_path(scene_dir, "truth.json");
    json_t *truth = tp ? json_load_file(tp, 0, NULL) : NULL;
    free(tp);
    json_t *ids = json_object();
    if (sim_key) *sim_key = mw_text_dup(json_string_value(json_object_get(truth, "sim_key")));
    size_t i, j;
    json_t *s, *sc;
    json_array_foreach(json_object_get(truth, "sites"), i, s)
    {
        json_array_foreach(json_object_get(s, "scenes"), j, sc)
        {
            const char *id = json_string_value(json_object_get(sc, "id"));
            if (id && mw_name_ok(id) && !strncmp(id, "S2SIM_", 6))
                json_object_set_new(ids, id, json_true());
        }
    }
    json_decref(truth);
    return ids;
}

/* Scenes from the simulator live under <out>/scenes and are remade only when the pipeline's
 * simulation settings change. Only the scene folders the simulator itself made (listed in its
 * truth.json) are ever replaced or removed; anything else in the folder is left alone. */
static int ensure_simulated(const mw_pipeline *p, const mw_site *const *sites, size_t ns,
                            const char *scene_dir)
{
    mw_sim_options so = {p->sim_seed, p->sim_scenes_per_period, p->sim_cloud_cover,
                         MW_SIM_MARGIN_M};
    char *key = mw_sim_key(sites, ns, p->periods, p->n_periods, &so);
    char *old_key = NULL;
    json_t *old = truth_scene_ids(scene_dir, &old_key);
    int same = old_key && key && strcmp(old_key, key) == 0;
    free(old_key);
    free(key);
    if (same) {
        json_decref(old);
        mw_log(MW_LOG_INFO, "simulated scenes in %s are current; reusing them", scene_dir);
        return 0;
    }
    mw_log(MW_LOG_INFO, "simulating scenes into %s", scene_dir);
    int rc = mw_simulate(sites, ns, p->periods, p->n_periods, &so, scene_dir);
    if (rc == 0) { /* scenes of the previous simulation that this one did not remake */
        json_t *now = truth_scene_ids(scene_dir, NULL);
        const char *id;
        json_t *v;
        json_object_foreach(old, id, v)
        {
            if (json_object_get(now, id)) continue;
            char *d = mw_text_path(scene_dir, id);
            mw_remove_tree(d);
            free(d);
        }
        json_decref(now);
    }
    json_decref(old);
    return rc;
}

/* Keeps only the scenes the simulator listed: a stray item put beside them is not composited. */
static void keep_simulated(const char *scene_dir, mw_scene_catalog *cat)
{
    json_t *ids = truth_scene_ids(scene_dir, NULL);
    size_t k = 0;
    for (size_t i = 0; i < cat->n; i++) {
        if (json_object_get(ids, cat->scenes[i].id))
            cat->scenes[k++] = cat->scenes[i];
        else
            mw_scene_free(&cat->scenes[i]);
    }
    cat->n = k;
    json_decref(ids);
}

/* Remote assets are read through minewatch's range reader (io/http_reader.h) with the same
 * patience as the search, whatever the source: a local item may name a URL too, and a server that
 * never answers must not hang the run. GDAL's own HTTP options are set too, for a user's own
 * /vsicurl/ raster (baseline_forest); they are process-wide, so they are put back at the end. */
static const char *const remote_keys[] = {
    "GDAL_DISABLE_READDIR_ON_OPEN", "GDAL_HTTP_TIMEOUT",
    "GDAL_HTTP_CONNECTTIMEOUT",     "GDAL_HTTP_MAX_RETRY",
    "GDAL_HTTP_RETRY_DELAY",        "GDAL_HTTP_LOW_SPEED_TIME",
    "GDAL_HTTP_LOW_SPEED_LIMIT",    NULL};
#define NREMOTE_KEYS 7

static void configure_remote_reads(const mw_pipeline *p, char *saved[NREMOTE_KEYS])
{
    for (int i = 0; i < NREMOTE_KEYS; i++) {
        const char *v = CPLGetConfigOption(remote_keys[i], NULL);
        saved[i] = v ? mw_text_dup(v) : NULL;
    }
    char v[32];
    const mw_http_limits lim = {p->stac_timeout_s, p->stac_retries, p->stac_backoff_s,
                                (size_t)64 << 20};
    mw_http_reader_configure(&lim);
    mw_http_reader_install();
    CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"); /* no directory listings */
    snprintf(v, sizeof v, "%d", (int)ceil(p->stac_timeout_s));
    CPLSetConfigOption("GDAL_HTTP_TIMEOUT", v);
    CPLSetConfigOption("GDAL_HTTP_CONNECTTIMEOUT", v);
    CPLSetConfigOption("GDAL_HTTP_LOW_SPEED_TIME", v); /* a trickle counts as a stall */
    CPLSetConfigOption("GDAL_HTTP_LOW_SPEED_LIMIT", "1");
    snprintf(v, sizeof v, "%d", p->stac_retries);
    CPLSetConfigOption("GDAL_HTTP_MAX_RETRY", v);
    snprintf(v, sizeof v, "%g", p->stac_backoff_s);
    CPLSetConfigOption("GDAL_HTTP_RETRY_DELAY", v);
}

static void restore_remote_reads(char *saved[NREMOTE_KEYS])
{
    for (int i = 0; i < NREMOTE_KEYS; i++) {
        CPLSetConfigOption(remote_keys[i], saved[i]);
        free(saved[i]);
    }
}

/* One search per site over the span of all its periods; scenes are split by period later. */
static void search_site(const mw_pipeline *p, const mw_site *site, mw_scene_catalog *out,
                        mw_run_report *rep)
{
    OGRGeometryH g = mw_site_polygon_wgs84(site, mw_site_utm_epsg(site));
    char *gj = g ? OGR_G_ExportToJson(g) : NULL;
    mw_stac_query q = {p->stac_url,
                       (const char *const *)p->stac_collections,
                       gj,
                       {0, 0, 0, 0},
                       p->periods[0].start,
                       p->periods[0].end,
                       p->stac_max_cloud_cover,
                       p->stac_page_size,
                       p->stac_max_items,
                       p->stac_timeout_s,
                       p->stac_retries,
                       p->stac_backoff_s,
                       p->stac_sign_token_url,
                       (const char *const *)p->stac_sign_hosts,
                       p->stac_max_pages,
                       (size_t)p->stac_max_response_mb << 20,
                       p->stac_max_search_s,
                       p->allow_local_assets};
    for (size_t k = 1; k < p->n_periods; k++) {
        if (p->periods[k].start < q.start) q.start = p->periods[k].start;
        if (p->periods[k].end > q.end) q.end = p->periods[k].end;
    }
    mw_stac_stats st;
    if (mw_stac_search(&q, out, on_scan_fail, rep, &st) != 0)
        mw_report_add(rep, site->id, "", "catalogue", "%s; the site's scenes could not be listed",
                      mw_error_message());
    else
        mw_log(MW_LOG_INFO, "site %s: %d item(s) in %d page(s), %d request(s) to %s", site->id,
               st.items, st.pages, st.requests, p->stac_url);
    mw_error_clear();
    CPLFree(gj);
    if (g) OGR_G_DestroyGeometry(g);
}

/* What a site may use: the budget, less what the process already holds (its libraries, GDAL's
 * drivers, the catalogue), GDAL's block cache, and a margin for allocations no stage counts
 * (GDAL's and PROJ's own, the heap's slack). */
static size_t site_budget(const mw_run_options *o)
{
    const size_t budget = o->mem_budget_mb << 20;
    const size_t held =
        mw_memory_rss() + (size_t)GDALGetCacheMax64() + ((size_t)16 << 20) + budget / 16;
    size_t avail = budget > held ? budget - held : 0;
    mw_log(MW_LOG_INFO,
           "memory: a %zu MB budget; the process, GDAL's cache and a margin hold %zu MB, which "
           "leaves %zu MB for each site",
           o->mem_budget_mb, held >> 20, avail >> 20);
    return avail;
}

static void on_duplicate(const char *id, const char *kept, const char *dropped, void *user)
{
    json_array_append_new(user, json_pack("{s:s,s:s,s:s}", "id", id, "kept", kept ? kept : "",
                                          "dropped", dropped ? dropped : ""));
    mw_log(MW_LOG_WARN, "scene %s is catalogued twice (%s and %s); it is used once, from %s", id,
           kept, dropped, kept);
}

/* The part of every site's record key that is the run's: the build, the pipeline file, the
 * catalogue and reference inputs. */
static char *run_key(const json_t *prov)
{
    json_t *k =
        json_pack("{s:O,s:O,s:O}", "software", json_object_get(prov, "software"), "pipeline_sha256",
                  json_object_get(json_object_get(prov, "pipeline"), "sha256"), "inputs",
                  json_object_get(prov, "inputs") ? json_object_get(prov, "inputs") : json_null());
    char *text = k ? json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *h = text ? mw_sha256_text(text) : NULL;
    free(text);
    json_decref(k);
    return h;
}

/* Local catalogue scenes by id, to mark those a record says are over its site. */
typedef struct scene_index {
    const mw_scene *scenes;
    const mw_scene **by_id; /* the scenes sorted by id */
    size_t n;
    uint8_t *over_any;
} scene_index;

static int by_scene_id(const void *a, const void *b)
{
    return strcmp((*(const mw_scene *const *)a)->id, (*(const mw_scene *const *)b)->id);
}

static void mark_over_site(const char *scene_id, void *user)
{
    scene_index *x = user;
    const mw_scene key = {.id = (char *)scene_id}, *kp = &key;
    const mw_scene **hit =
        x->by_id ? bsearch(&kp, x->by_id, x->n, sizeof *x->by_id, by_scene_id) : NULL;
    if (hit && x->over_any) x->over_any[*hit - x->scenes] = 1;
}

/* Runs one site's stages into a record: its maps into <record dir>.part-*, then record.json,
 * then the folder renamed into place (rdir NULL: the record stays in memory). */
static json_t *compute_site(const site_ctx *sc, const mw_site *site, const char *key,
                            const char *rdir, json_t *site_dups)
{
    const mw_pipeline *p = sc->p;
    mw_site_work w = {0};
    mw_run_result kept = {0}; /* strings the rows point at, until the record holds them */
    w.rows = calloc(p->n_periods + 1, sizeof *w.rows);
    w.nrows = p->n_periods;
    site_ctx local = *sc;
    local.rep = &w.report;
    local.rf = &w.rf;
    local.res = &kept;
    local.prov_sites = json_array();
    local.over_any = sc->over_any ? calloc(sc->scenes->n + 1, 1) : NULL;
    char *tmp = rdir ? mw_part_path(rdir) : NULL;
    char *maps = tmp && p->write_maps ? mw_text_path(tmp, "maps") : NULL;
    local.maps_dir = maps;
    json_t *rec = NULL;
    if (!w.rows || (rdir && !tmp) || (sc->over_any && !local.over_any)) {
        mw_report_add(sc->rep, site->id, "", "memory", "out of memory to start the site");
        goto done;
    }
    if ((tmp && mw_make_dirs(tmp)) || (maps && mw_make_dirs(maps))) {
        mw_report_add(sc->rep, site->id, "", "outputs", "%s", mw_error_message());
        goto done;
    }
    mw_site_run(&local, site, w.rows);
    mw_fault_point("site");
    w.provenance = json_array_get(local.prov_sites, 0);
    w.overlapped = json_array();
    for (size_t i = 0; local.over_any && i < sc->scenes->n; i++)
        if (local.over_any[i])
            json_array_append_new(w.overlapped, json_string(sc->scenes->scenes[i].id));
    w.duplicates = site_dups;
    mw_report_order(&w.report); /* reported from every thread */
    rec = mw_site_record_make(key ? key : "", &w);
    if (rec && tmp && mw_site_record_commit(rec, tmp, rdir)) {
        mw_report_add(sc->rep, site->id, "", "outputs", "%s", mw_error_message());
        json_decref(rec);
        rec = NULL;
    } else if (rec && tmp) {
        mw_fault_point("record");
    }
done:
    if (tmp) mw_remove_tree(tmp); /* what a failed commit left */
    free(tmp), free(maps);
    free(local.over_any);
    json_decref(local.prov_sites);
    json_decref(w.overlapped);
    mw_report_free(&w.report);
    mw_rf_table_free(&w.rf);
    mw_run_result_free(&kept);
    free(w.rows);
    return rec;
}

/* A local catalogue's scenes over the site, marked as used by a site (for a site whose result
 * never came back: the same bounding box its computation uses). */
static void mark_scenes_over(const site_ctx *sc, const mw_site *site)
{
    if (!sc->over_any || sc->scenes->scenes != sc->scenes_local) return;
    const int epsg = sc->p->grid_epsg ? sc->p->grid_epsg : mw_site_utm_epsg(site);
    OGRGeometryH wpoly = mw_site_polygon_wgs84(site, epsg);
    double bbox[4] = {0, 0, 0, 0};
    if (wpoly) mw_lonlat_bbox(wpoly, bbox);
    for (size_t i = 0; wpoly && i < sc->scenes->n; i++)
        if (mw_lonlat_bbox_overlap(sc->scenes->scenes[i].bbox, bbox)) sc->over_any[i] = 1;
    OGR_G_DestroyGeometry(wpoly);
    mw_error_clear();
}

/* What every rank needs to obtain a site's record. */
typedef struct site_env {
    const site_ctx *sc; /* the run's context: pipeline, scenes, datacube, reference layers */
    const mw_site **sites;
    size_t ns;
    const char *meta; /* <out>/.minewatch */
    const char *rkey; /* run_key */
    int keep;         /* records on the disk (not for ingest) */
    int broken;       /* this rank could not set up: every site it gets fails */
} site_env;

/* Site i's result as a JSON text: {"record": the record or null, "failures": what went wrong
 * outside the record}. The record is loaded when it still holds, taken from a shard's folder
 * (merge), or computed; on whichever rank gets the site. */
static char *obtain_site(size_t i, void *user)
{
    const site_env *e = user;
    const site_ctx *tpl = e->sc;
    const mw_pipeline *p = tpl->p;
    const mw_run_options *o = tpl->o;
    const mw_site *site = e->sites[i];
    mw_log(MW_LOG_INFO, "site %zu/%zu: %s (%s)", i + 1, e->ns, site->id, site->name);
    mw_run_report pre = {0};
    json_t *rec = NULL, *site_dups = json_array();
    mw_scene_catalog found = {0};
    site_ctx sc = *tpl;
    sc.rep = &pre;
    char *key = NULL, *rdir = NULL;
    if (e->broken) {
        mw_report_add(&pre, site->id, "", "dispatch",
                      "the process given this site could not "
                      "start (see its messages); run again");
        goto out;
    }
    if (p->source_type == MW_SOURCE_STAC_API) {
        search_site(p, site, &found, &pre);
        mw_scene_catalog_dedupe(&found, on_duplicate, site_dups);
        sc.scenes = &found;
    }
    const int epsg = p->grid_epsg ? p->grid_epsg : mw_site_utm_epsg(site);
    const int named = mw_name_check(site->id, "site id") == 0;
    mw_error_clear();
    key =
        e->keep && named ? mw_site_record_key(e->rkey ? e->rkey : "", site, epsg, sc.scenes) : NULL;
    rdir = key ? mw_site_record_dir(e->meta, site->id) : NULL;
    rec = rdir ? mw_site_record_load(rdir, key) : NULL;
    for (size_t m = 0; rdir && !rec && m < o->nmerge; m++) { /* a shard's record */
        char *meta = mw_text_path(o->merge_dirs[m], ".minewatch");
        char *from = meta ? mw_site_record_dir(meta, site->id) : NULL;
        json_t *r = from ? mw_site_record_load(from, key) : NULL;
        if (r && mw_site_record_adopt(from, rdir) == 0)
            rec = r;
        else if (r) {
            mw_report_add(&pre, site->id, "", "merge", "%s", mw_error_message());
            json_decref(r);
        }
        free(meta), free(from);
    }
    if (rec) {
        mw_log(MW_LOG_INFO, "site %s: done before with the same inputs, not redone", site->id);
        /* the partial chips a killed run left in its datacube go all the same */
        char *cube = o->nmerge ? NULL : mw_text_path(sc.cube_dir, site->id);
        struct stat st;
        if (cube && stat(cube, &st) == 0 && S_ISDIR(st.st_mode))
            mw_dir_unlock(mw_site_cube_lock(cube, site->id));
        mw_error_clear();
        free(cube);
    } else if (o->nmerge)
        mw_report_add(&pre, site->id, "", "merge",
                      "no shard folder has this site's record with these inputs (its shard did "
                      "not finish, or its scenes or catalogue entry changed since): run its "
                      "shard again, then merge");
    else
        rec = compute_site(&sc, site, key, rdir, site_dups);
out:;
    json_t *res = json_pack("{s:o,s:o}", "record", rec ? rec : json_null(), "failures",
                            mw_site_failures_json(&pre));
    char *text = res ? json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(res);
    json_decref(site_dups);
    mw_report_free(&pre);
    mw_scene_catalog_free(&found);
    free(key), free(rdir);
    return text;
}

static char *scene_dir_of(const mw_pipeline *p, const mw_run_options *o)
{
    return p->source_type == MW_SOURCE_SIMULATOR  ? mw_text_path(o->out_dir, "scenes")
           : p->source_type == MW_SOURCE_STAC_API ? mw_text_redact_url(p->stac_url)
                                                  : mw_text_dup(p->source_path);
}

static char *cube_dir_of(const mw_pipeline *p, const mw_run_options *o)
{
    return o->datacube   ? mw_text_dup(o->datacube)
           : p->datacube ? mw_text_dup(p->datacube)
                         : mw_text_path(o->out_dir, "tiles");
}

/* A rank other than 0: once rank 0 has the output folder (and the simulated scenes), catalogue
 * the same scenes and compute the sites rank 0 hands out, as records in the output folder. */
static int run_worker(const mw_pipeline *p, const mw_run_options *o, const mw_site **sites,
                      size_t ns)
{
    const mw_site_dispatch *d = o->dispatch;
    if (d->agree(d->ctx, 0) != 0) return 0; /* rank 0 could not start: it says why */
    char *saved[NREMOTE_KEYS];
    configure_remote_reads(p, saved);
    char *scene_dir = scene_dir_of(p, o), *cube_dir = cube_dir_of(p, o);
    char *meta = mw_text_path(o->out_dir, ".minewatch");
    int broken = !scene_dir || !cube_dir || !meta;
    mw_protected_areas pa = {0};
    if (!broken && p->pa_path && mw_protected_areas_open(p, &pa)) broken = 1;
    mw_scene_catalog scenes = {0};
    mw_run_report rep = {0}; /* rank 0 reports the catalogue's failures */
    json_t *dups = json_array();
    if (!broken && p->source_type != MW_SOURCE_STAC_API) {
        if (mw_scene_catalog_scan(scene_dir, &scenes, on_scan_fail, &rep)) broken = 1;
        if (!broken && p->source_type == MW_SOURCE_SIMULATOR) keep_simulated(scene_dir, &scenes);
        mw_scene_catalog_dedupe(&scenes, on_duplicate, dups);
    }
    if (broken) mw_log(MW_LOG_ERROR, "rank %d cannot start: %s", d->rank, mw_error_message());
    json_t *prov = mw_provenance_begin(p, o);
    char *rkey = run_key(prov);
    site_ctx sc = {site_budget(o),
                   p,
                   o,
                   &scenes,
                   cube_dir,
                   NULL,
                   &rep,
                   NULL,
                   NULL,
                   NULL,
                   p->pa_path && !broken ? &pa : NULL,
                   p->source_type != MW_SOURCE_STAC_API ? calloc(scenes.n + 1, 1) : NULL,
                   scenes.scenes};
    const site_env env = {&sc, sites, ns, meta, rkey, !o->ingest_only, broken};
    const int rc = d->spread(d->ctx, ns, NULL, obtain_site, (void *)&env, NULL, NULL);
    free(sc.over_any);
    free(rkey);
    json_decref(prov);
    json_decref(dups);
    mw_report_free(&rep);
    mw_scene_catalog_free(&scenes);
    mw_protected_areas_close(&pa);
    restore_remote_reads(saved);
    free(scene_dir), free(cube_dir), free(meta);
    return rc;
}

/* Each output the run wrote, with its SHA-256, into provenance: which file came from this run
 * can always be told. */
int mw_pipeline_run(const mw_pipeline *p, const mw_run_options *o, mw_run_report *rep,
                    mw_run_result *res)
{
    memset(res, 0, sizeof *res);
    mw_site_catalog cat;
    const mw_site **sites = NULL;
    size_t ns = 0;
    if (mw_pipeline_load_sites(p, &cat, &sites, &ns)) return -1;
    json_t *shard_ids = NULL;
    /* The simulator draws every site's scenes in one stream: a shard simulates them all, so each
     * site's scenes are those of a run of every site. */
    const mw_site **all_sites = malloc((ns + 1) * sizeof *all_sites);
    const size_t nall = ns;
    if (all_sites) memcpy(all_sites, sites, ns * sizeof *sites);
    if (o->shard_n > 0) { /* this shard's sites, in pipeline order */
        int *sh = calloc(ns + 1, sizeof *sh);
        if (!sh) {
            free(sites), free(all_sites);
            mw_site_catalog_free(&cat);
            return mw_error_set(MW_ERR_NOMEM, "out of memory");
        }
        mw_site_shards(p, sites, ns, o->shard_n, sh);
        size_t kept = 0;
        shard_ids = json_array();
        for (size_t s = 0; s < ns; s++)
            if (sh[s] == o->shard_k - 1) {
                json_array_append_new(shard_ids, json_string(sites[s]->id));
                sites[kept++] = sites[s];
            }
        mw_log(MW_LOG_INFO, "shard %d/%d: %zu of the pipeline's %zu site(s)", o->shard_k,
               o->shard_n, kept, ns);
        ns = kept;
        free(sh);
    }
    if (o->dispatch && o->dispatch->rank != 0) { /* a rank that only computes sites */
        const int wrc = run_worker(p, o, sites, ns);
        json_decref(shard_ids);
        free(sites), free(all_sites);
        mw_site_catalog_free(&cat);
        return wrc;
    }
    /* One run at a time in the folder; what it writes lands as a whole at the end. */
    mw_out_dir od;
    if (mw_out_dir_open(o->out_dir, &od)) {
        if (o->dispatch && o->dispatch->size > 1) o->dispatch->agree(o->dispatch->ctx, -1);
        json_decref(shard_ids);
        free(sites), free(all_sites);
        mw_site_catalog_free(&cat);
        return -1;
    }
    char *saved[NREMOTE_KEYS];
    configure_remote_reads(p, saved);
    char *scene_dir = scene_dir_of(p, o), *cube_dir = cube_dir_of(p, o);
    char *maps_dir = mw_out_dir_stage(&od, "maps");
    char *maps_final = mw_out_dir_final(&od, "maps");
    int rc = scene_dir && cube_dir && maps_dir && maps_final
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0 && !o->nmerge) rc = mw_make_dirs(cube_dir); /* a merge computes nothing */
    if (rc == 0 && p->write_maps && !o->ingest_only) rc = mw_make_dirs(maps_dir);
    mw_protected_areas pa = {0};
    if (rc == 0 && p->pa_path) rc = mw_protected_areas_open(p, &pa);
    if (rc == 0 && p->source_type == MW_SOURCE_SIMULATOR)
        rc = all_sites ? ensure_simulated(p, all_sites, nall, scene_dir)
                       : mw_error_set(MW_ERR_NOMEM, "out of memory");
    mw_scene_catalog scenes = {0};
    json_t *dups = json_array();
    if (rc == 0 && p->source_type != MW_SOURCE_STAC_API) {
        rc = mw_scene_catalog_scan(scene_dir, &scenes, on_scan_fail, rep);
        if (rc == 0 && p->source_type == MW_SOURCE_SIMULATOR) keep_simulated(scene_dir, &scenes);
        mw_scene_catalog_dedupe(&scenes, on_duplicate, dups);
    }
    if (rc == 0) {
        mw_log(MW_LOG_INFO, "%zu scene(s) catalogued in %s", scenes.n, scene_dir);
        res->rows = calloc(ns * p->n_periods + 1, sizeof *res->rows);
        res->nrows = ns * p->n_periods;
        if (!res->rows) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    if (o->dispatch && o->dispatch->size > 1) /* the other ranks start now, or stop */
        o->dispatch->agree(o->dispatch->ctx, rc ? -1 : 0);
    if (rc == 0) {
        json_t *prov = mw_provenance_begin(p, o);
        if (shard_ids)
            json_object_set_new(
                prov, "shard",
                json_pack("{s:i,s:i,s:O}", "k", o->shard_k, "n", o->shard_n, "sites", shard_ids));
        if (o->nmerge) {
            json_t *from = json_array();
            for (size_t m = 0; m < o->nmerge; m++)
                json_array_append_new(from, json_string(o->merge_dirs[m]));
            json_object_set_new(prov, "merged_from", from);
        }
        mw_rf_table rf = {0};
        site_ctx sc = {site_budget(o),
                       p,
                       o,
                       &scenes,
                       cube_dir,
                       p->write_maps ? maps_dir : NULL,
                       rep,
                       res,
                       json_object_get(prov, "sites"),
                       &rf,
                       p->pa_path ? &pa : NULL,
                       calloc(scenes.n + 1, 1),
                       scenes.scenes};
        /* Every site becomes a record first (here, or spread over the ranks), then the records
         * are read back in pipeline order: a site done before (same key) is not done again. */
        char *rkey = run_key(prov);
        const int keep = !o->ingest_only; /* ingest's product is the datacube */
        if (keep) mw_site_record_clear_parts(od.meta);
        scene_index sx = {scenes.scenes, calloc(scenes.n + 1, sizeof *sx.by_id), scenes.n,
                          sc.over_any};
        for (size_t i = 0; sx.by_id && i < scenes.n; i++)
            sx.by_id[i] = &scenes.scenes[i];
        if (sx.by_id) qsort(sx.by_id, scenes.n, sizeof *sx.by_id, by_scene_id);
        const site_env env = {&sc, sites, ns, od.meta, rkey, keep, 0};
        char **texts = calloc(ns + 1, sizeof *texts), **why = calloc(ns + 1, sizeof *why);
        if (!texts || !why) free(texts), texts = NULL;
        if (!texts) mw_report_add(rep, "", "", "memory", "out of memory for %zu sites", ns);
        if (o->dispatch && o->dispatch->size > 1) { /* the ranks wait for it: always called */
            /* largest first: sites differ greatly in size, and the last ones fill the gaps */
            size_t *order = calloc(ns + 1, sizeof *order);
            if (order && mw_site_order(p, sites, ns, order, NULL)) free(order), order = NULL;
            if (!order) mw_report_add(rep, "", "", "memory", "out of memory for %zu sites", ns);
            if (o->dispatch->spread(o->dispatch->ctx, order ? ns : 0, order, obtain_site,
                                    (void *)&env, texts, why))
                mw_report_add(rep, "", "", "dispatch", "%s", mw_error_message());
            free(order);
        } else {
            for (size_t s = 0; texts && s < ns; s++)
                texts[s] = obtain_site(s, (void *)&env);
        }
        for (size_t s = 0; texts && s < ns; s++) {
            const mw_site *site = sites[s];
            mw_indicator_row *rows = res->rows + s * p->n_periods;
            for (size_t k = 0; k < p->n_periods; k++)
                mw_indicator_row_reset(&rows[k], site, p->periods[k].name, p->periods[k].start,
                                       p->periods[k].end);
            json_t *got = texts[s] ? json_loads(texts[s], 0, NULL) : NULL;
            if (!got) {
                mark_scenes_over(&sc, site); /* they were not unused: their site failed */
                mw_report_add(rep, site->id, "", "dispatch", "%s",
                              why[s] ? why[s]
                                     : "no result came back for the site (its process died?); run "
                                       "again: the sites that finished are not redone");
                continue;
            }
            mw_site_failures_add(rep, json_object_get(got, "failures"));
            const json_t *rec = json_object_get(got, "record");
            char *rdir = keep && json_is_object(rec) ? mw_site_record_dir(od.meta, site->id) : NULL;
            if (json_is_object(rec) && mw_site_record_apply(rec, site, p, rows, res, sc.prov_sites,
                                                            rep, &rf, dups, mark_over_site, &sx))
                mw_report_add(rep, site->id, "", "outputs",
                              "the site's record '%s' is not this pipeline's; remove it and run "
                              "again",
                              rdir ? rdir : "");
            else if (rdir && p->write_maps && maps_dir && mw_site_record_link_maps(rdir, maps_dir))
                mw_report_add(rep, site->id, "", "outputs", "%s", mw_error_message());
            json_decref(got);
            free(rdir);
        }
        for (size_t s = 0; texts && s < ns; s++)
            free(texts[s]), free(why[s]);
        free(texts), free(why);
        free(sx.by_id);
        free(rkey);
        /* The rows point into the catalogue, which is freed below: copy the strings. */
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
        char *csv = mw_out_dir_stage(&od, "indicators.csv"),
             *gpkg = mw_out_dir_stage(&od, "indicators.gpkg");
        char *csv_final = mw_out_dir_final(&od, "indicators.csv"),
             *gpkg_final = mw_out_dir_final(&od, "indicators.gpkg");
        if (!o->ingest_only && p->write_csv && mw_indicators_write_csv(csv, res->rows, res->nrows))
            mw_report_add(rep, "", "", "outputs", "%s", mw_error_message());
        if (!o->ingest_only && p->write_gpkg &&
            mw_indicators_write_gpkg(gpkg, res->rows, res->nrows))
            mw_report_add(rep, "", "", "outputs", "%s", mw_error_message());
        if (!o->ingest_only && p->rf_treecover) {
            char *rfp = mw_out_dir_stage(&od, "reference_forest.csv");
            if (!rfp || mw_rf_table_write(&rf, rfp))
                mw_report_add(rep, "", "", "outputs", "%s", mw_error_message());
            free(rfp);
        }
        mw_rf_table_free(&rf);
        const int ind = !o->ingest_only;
        if (ind && p->write_report) { /* before the outputs are listed: it is one of them */
            char *hp = mw_out_dir_stage(&od, "report.html"), *ad = mw_out_dir_stage(&od, "report");
            if (!hp || !ad ||
                mw_run_page_write(hp, ad, "report", maps_dir, prov, p, res->rows, res->nrows, rep))
                mw_report_add(rep, "", "", "outputs", "report: %s", mw_error_message());
            else
                mw_log(MW_LOG_INFO, "report written: %s/report.html", o->out_dir);
            free(hp), free(ad);
        }
        if (ind && p->write_stac && p->write_maps) { /* a catalogue of the maps */
            char *sd = mw_out_dir_stage(&od, "stac");
            if (!sd ||
                mw_output_stac_write(sd, maps_dir, "../maps", prov, p, res->rows, res->nrows))
                mw_report_add(rep, "", "", "outputs", "stac: %s", mw_error_message());
            free(sd);
        }
        json_t *outs =
            json_pack("{s:s?,s:s?,s:s?,s:s}", "csv", ind && p->write_csv ? csv_final : NULL, "gpkg",
                      ind && p->write_gpkg ? gpkg_final : NULL, "maps",
                      ind && p->write_maps ? maps_final : NULL, "datacube", cube_dir);
        json_object_set_new(outs, "files", mw_provenance_output_files(&od));
        json_object_set_new(prov, "outputs", outs);
        json_object_set_new(prov, "duplicate_scenes", json_incref(dups));
        /* a local folder's scenes that no site overlaps: named, so a wrong folder or a wrong
         * footprint shows; not a failure (a region's folder serves many pipelines) */
        json_t *outside = json_array();
        for (size_t i = 0; sc.over_any && i < scenes.n; i++)
            if (!sc.over_any[i])
                json_array_append_new(
                    outside,
                    json_pack("{s:s,s:s}", "id", scenes.scenes[i].id, "item",
                              scenes.scenes[i].item_path ? scenes.scenes[i].item_path : ""));
        res->scenes_outside = (long)json_array_size(outside);
        json_object_set_new(prov, "scenes_outside_every_site", outside);
        free(sc.over_any);
        mw_provenance_finish(prov, rep);
        mw_fault_point("outputs");
        if (mw_provenance_write(prov, &od, "provenance.json", rep) == 0) {
            mw_outputs_commit(&od, rep);
            /* the database after the files: a server that is down costs the files nothing */
            if (ind && p->pg_connection && mw_report_count_stage(rep, "outputs") == 0) {
                if (mw_postgis_write(p, json_string_value(json_object_get(prov, "started_utc")),
                                     res->rows, res->nrows, p->write_maps ? maps_final : NULL))
                    mw_report_add(rep, "", "", "postgis", "%s", mw_error_message());
                else
                    mw_log(MW_LOG_INFO, "indicators and loss patches written to PostgreSQL");
            }
        }
        mw_error_clear();
        free(csv), free(gpkg), free(csv_final), free(gpkg_final);
        json_decref(prov);
    }
    json_decref(dups);
    mw_protected_areas_close(&pa);
    mw_scene_catalog_free(&scenes);
    restore_remote_reads(saved);
    mw_out_dir_close(&od);
    free(scene_dir);
    free(cube_dir);
    free(maps_dir);
    free(maps_final);
    json_decref(shard_ids);
    free(sites), free(all_sites);
    mw_site_catalog_free(&cat);
    return rc;
}
