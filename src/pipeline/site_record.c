#include "pipeline/site_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ogr_api.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/lonlat.h"
#include "pipeline/provenance.h"

/* Reals exactly (jansson writes what JSON_REAL_PRECISION(17) gives back bit for bit); JSON has
 * no NaN or infinity. */
static json_t *real_json(double v)
{
    if (isnan(v)) return json_null();
    if (isinf(v)) return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

static double real_of(const json_t *j)
{
    if (json_is_number(j)) return json_number_value(j);
    if (json_is_string(j)) return strcmp(json_string_value(j), "inf") ? -INFINITY : INFINITY;
    return NAN;
}

static json_t *row_json(const mw_indicator_row *r)
{
    json_t *o = json_object();
    for (int c = 0; c < mw_indicator_ncolumns; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        const char *base = (const char *)r + col->offset;
        json_t *v;
        switch (col->type) {
        case MW_COL_TEXT: {
            const char *s = *(const char *const *)base;
            v = s ? json_string(s) : json_null();
            break;
        }
        case MW_COL_DATE:
            v = json_integer(*(const mw_day *)base);
            break;
        case MW_COL_INT:
            v = json_integer(*(const long *)base);
            break;
        default:
            v = real_json(*(const double *)base);
        }
        json_object_set_new(o, col->name, v);
    }
    json_object_set_new(o, "wkt_wgs84", r->wkt_wgs84 ? json_string(r->wkt_wgs84) : json_null());
    return o;
}

static const char *kept(mw_run_result *res, const json_t *j)
{
    return json_is_string(j) ? mw_run_result_keep(res, mw_text_dup(json_string_value(j))) : NULL;
}

static void row_apply(const json_t *o, mw_indicator_row *r, mw_run_result *res)
{
    for (int c = 0; c < mw_indicator_ncolumns; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        char *base = (char *)r + col->offset;
        const json_t *v = json_object_get(o, col->name);
        switch (col->type) {
        case MW_COL_TEXT:
            *(const char **)base = kept(res, v);
            break;
        case MW_COL_DATE:
            *(mw_day *)base = (mw_day)json_integer_value(v);
            break;
        case MW_COL_INT:
            *(long *)base = (long)json_integer_value(v);
            break;
        default:
            *(double *)base = real_of(v);
        }
    }
    r->wkt_wgs84 = kept(res, json_object_get(o, "wkt_wgs84"));
}

json_t *mw_site_failures_json(const mw_run_report *rep)
{
    json_t *fails = json_array();
    for (size_t i = 0; i < rep->n; i++) {
        const mw_failure *f = &rep->items[i];
        json_array_append_new(fails,
                              json_pack("{s:s,s:s,s:s,s:s}", "site", f->site_id, "scene",
                                        f->scene_id, "stage", f->stage, "message", f->message));
    }
    return fails;
}

void mw_site_failures_add(mw_run_report *rep, const json_t *failures)
{
    size_t i;
    const json_t *v;
    json_array_foreach(failures, i, v)
    {
        mw_report_add(rep, json_string_value(json_object_get(v, "site")),
                      json_string_value(json_object_get(v, "scene")),
                      json_string_value(json_object_get(v, "stage")), "%s",
                      json_string_value(json_object_get(v, "message")));
    }
}

/* A record is taken again only when what went wrong in it follows from its inputs alone (a
 * period without a usable scene); a failure that may pass (a full disk, the memory budget, a
 * scene that could not be read, a server) makes the next run do the site again. */
static int reusable(const mw_run_report *rep)
{
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->items[i].stage, "composite")) return 0;
    return 1;
}

json_t *mw_site_record_make(const char *key, const mw_site_work *w)
{
    json_t *rows = json_array(), *fails = mw_site_failures_json(&w->report);
    for (size_t k = 0; k < w->nrows; k++)
        json_array_append_new(rows, row_json(&w->rows[k]));
    json_t *rf = NULL;
    if (w->rf.nsites == 1) {
        json_t *years = json_array();
        for (int y = 0; y < w->rf.nyears; y++) {
            const mw_treecover_year *t = &w->rf.years[y];
            json_array_append_new(years, json_pack("[i,o,o,o]", t->year, real_json(t->treecover_ha),
                                                   real_json(t->loss_ha),
                                                   real_json(t->emissions_mg_co2e)));
        }
        rf = json_pack("{s:i,s:o}", "year_from", w->rf.year_from, "years", years);
    }
    return json_pack(
        "{s:s,s:b,s:o,s:O,s:o,s:o?,s:O,s:O}", "key", key, "reusable", reusable(&w->report), "rows",
        rows, "provenance", w->provenance ? w->provenance : json_null(), "failures", fails,
        "reference_forest", rf, "overlapped", w->overlapped ? w->overlapped : json_null(),
        "duplicates", w->duplicates ? w->duplicates : json_null());
}

int mw_site_record_apply(const json_t *rec, const mw_site *site, const mw_pipeline *p,
                         mw_indicator_row *rows, mw_run_result *res, json_t *prov_sites,
                         mw_run_report *rep, mw_rf_table *rf, json_t *dups,
                         void (*over_site)(const char *scene_id, void *user), void *user)
{
    const json_t *jr = json_object_get(rec, "rows");
    if (json_array_size(jr) != p->n_periods) return -1;
    for (size_t k = 0; k < p->n_periods; k++) {
        const json_t *o = json_array_get(jr, k);
        const char *id = json_string_value(json_object_get(o, "site_id")),
                   *per = json_string_value(json_object_get(o, "period"));
        if (!id || !per || strcmp(id, site->id) || strcmp(per, p->periods[k].name)) return -1;
    }
    for (size_t k = 0; k < p->n_periods; k++)
        row_apply(json_array_get(jr, k), &rows[k], res);
    const json_t *jp = json_object_get(rec, "provenance");
    if (json_is_object(jp)) json_array_append_new(prov_sites, json_deep_copy(jp));
    size_t i;
    const json_t *v;
    mw_site_failures_add(rep, json_object_get(rec, "failures"));
    const json_t *jf = json_object_get(rec, "reference_forest");
    if (json_is_object(jf) && rf) {
        const json_t *ys = json_object_get(jf, "years");
        const size_t ny = json_array_size(ys);
        mw_treecover_year *years = calloc(ny + 1, sizeof *years);
        if (!years) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        json_array_foreach(ys, i, v)
        {
            years[i].year = (int)json_integer_value(json_array_get(v, 0));
            years[i].treecover_ha = real_of(json_array_get(v, 1));
            years[i].loss_ha = real_of(json_array_get(v, 2));
            years[i].emissions_mg_co2e = real_of(json_array_get(v, 3));
        }
        int rc = mw_rf_table_append(rf, site->id, years, (int)ny,
                                    (int)json_integer_value(json_object_get(jf, "year_from")));
        free(years);
        if (rc) return -1;
    }
    json_array_foreach(json_object_get(rec, "duplicates"), i, v)
    {
        json_array_append_new(dups, json_deep_copy(v));
    }
    json_array_foreach(json_object_get(rec, "overlapped"), i, v)
    {
        if (over_site && json_is_string(v)) over_site(json_string_value(v), user);
    }
    return 0;
}

char *mw_site_record_dir(const char *meta_dir, const char *site_id)
{
    char *sites = mw_text_path(meta_dir, "sites");
    char *d = sites ? mw_text_path(sites, site_id) : NULL;
    free(sites);
    return d;
}

/* The maps a record names are all there, with the sizes it gives. */
static int maps_present(const char *dir, const json_t *maps)
{
    char *md = mw_text_path(dir, "maps");
    int ok = md != NULL;
    size_t i;
    const json_t *v;
    json_array_foreach(maps, i, v)
    {
        char *f = ok ? mw_text_path(md, json_string_value(json_array_get(v, 0))) : NULL;
        struct stat st;
        ok = f && lstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
             (json_int_t)st.st_size == json_integer_value(json_array_get(v, 1));
        free(f);
        if (!ok) break;
    }
    free(md);
    return ok;
}

json_t *mw_site_record_load(const char *dir, const char *key)
{
    char *f = mw_text_path(dir, "record.json");
    json_t *rec = f ? json_load_file(f, 0, NULL) : NULL;
    free(f);
    const char *k = json_string_value(json_object_get(rec, "key"));
    if (!k || strcmp(k, key) || !json_is_true(json_object_get(rec, "reusable")) ||
        !maps_present(dir, json_object_get(rec, "maps"))) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* [name, size] of each file of <dir>/maps, sorted by name: what load checks. */
static json_t *maps_list(const char *dir)
{
    json_t *a = json_array();
    char *md = mw_text_path(dir, "maps");
    struct dirent **names = NULL;
    const int n = md ? scandir(md, &names, NULL, alphasort) : -1;
    for (int i = 0; i < n; i++) {
        char *p = mw_text_path(md, names[i]->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
            json_array_append_new(a, json_pack("[s,I]", names[i]->d_name, (json_int_t)st.st_size));
        free(p);
        free(names[i]);
    }
    free(names);
    free(md);
    return a;
}

int mw_site_record_commit(const json_t *rec, const char *tmp_dir, const char *dir)
{
    json_t *full = json_deep_copy(rec);
    json_object_set_new(full, "maps", maps_list(tmp_dir));
    char *f = mw_text_path(tmp_dir, "record.json");
    char *tmp = f ? mw_part_path(f) : NULL;
    int rc = tmp && json_dump_file(full, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) == 0
                 ? mw_commit_path(tmp, f)
                 : mw_error_set(MW_ERR_IO, "cannot write the site record '%s'", f ? f : dir);
    if (rc && tmp) remove(tmp);
    if (rc == 0) {
        char *parent = mw_text_dup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash) *slash = 0;
        rc = parent ? mw_make_dirs(parent) : mw_error_set(MW_ERR_NOMEM, "out of memory");
        free(parent);
    }
    if (rc == 0) rc = mw_commit_dir(tmp_dir, dir);
    free(tmp), free(f);
    json_decref(full);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    int rc = a && b ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) rc = -1;
    if (a && ferror(a)) rc = -1;
    if (a) fclose(a);
    if (b && fclose(b) != 0) rc = -1;
    return rc;
}

int mw_site_record_link_maps(const char *dir, const char *maps_dir)
{
    char *md = mw_text_path(dir, "maps");
    DIR *d = md ? opendir(md) : NULL;
    int rc = md ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (d && maps_dir) rc = mw_make_dirs(maps_dir);
    struct dirent *e;
    while (rc == 0 && d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *from = mw_text_path(md, e->d_name), *to = mw_text_path(maps_dir, e->d_name);
        struct stat st;
        if (!from || !to)
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
        else if (lstat(from, &st) == 0 && S_ISREG(st.st_mode)) {
            unlink(to);
            /* one file on the disk for the record and the output; a copy where links fail */
            if (link(from, to) != 0 && copy_file(from, to) != 0)
                rc = mw_error_set(MW_ERR_IO, "cannot put '%s' into '%s': %s", from, maps_dir,
                                  strerror(errno));
        }
        free(from), free(to);
    }
    if (d) closedir(d);
    free(md);
    return rc;
}

int mw_site_record_adopt(const char *from, const char *dir)
{
    char *tmp = mw_part_path(dir), *tmaps = tmp ? mw_text_path(tmp, "maps") : NULL;
    char *rf = mw_text_path(from, "record.json"),
         *rt = tmp ? mw_text_path(tmp, "record.json") : NULL;
    int rc = tmp && tmaps && rf && rt ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0) rc = mw_make_dirs(tmp);
    if (rc == 0) rc = mw_site_record_link_maps(from, tmaps);
    if (rc == 0 && link(rf, rt) != 0 && copy_file(rf, rt) != 0)
        rc = mw_error_set(MW_ERR_IO, "cannot take the site record '%s'", rf);
    if (rc == 0) {
        char *parent = mw_text_dup(dir), *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash) *slash = 0;
        rc = parent ? mw_make_dirs(parent) : -1;
        free(parent);
    }
    if (rc == 0) rc = mw_commit_dir(tmp, dir);
    if (rc && tmp) mw_remove_tree(tmp);
    free(tmp), free(tmaps), free(rf), free(rt);
    return rc;
}

void mw_site_record_clear_parts(const char *meta_dir)
{
    char *sites = mw_text_path(meta_dir, "sites");
    DIR *d = sites ? opendir(sites) : NULL;
    struct dirent *e;
    long pid;
    while (d && (e = readdir(d)) != NULL)
        if (mw_part_name_pid(e->d_name, &pid)) {
            char *p = mw_text_path(sites, e->d_name);
            if (p) mw_remove_tree(p);
            free(p);
        }
    if (d) closedir(d);
    free(sites);
}

char *mw_site_record_key(const char *run_key, const mw_site *site, int epsg,
                         const mw_scene_catalog *cat)
{
    double bbox[4] = {0, 0, 0, 0};
    OGRGeometryH w = mw_site_polygon_wgs84(site, epsg);
    if (w) {
        mw_lonlat_bbox(w, bbox);
        OGR_G_DestroyGeometry(w);
    }
    json_t *scenes = json_array();
    for (size_t i = 0; cat && i < cat->n; i++) {
        const mw_scene *s = &cat->scenes[i];
        if (!mw_lonlat_bbox_overlap(s->bbox, bbox)) continue;
        char *h = s->item_path ? mw_sha256_file(s->item_path) : NULL;
        json_array_append_new(scenes, json_pack("[s,s]", s->id,
                                                h && *h        ? h
                                                : s->item_path ? s->item_path
                                                               : ""));
        free(h);
    }
    json_t *k = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:f,s:f,s:f,s:i,s:o}", "run",
                          run_key, "id", site->id, "name", site->name, "kind", site->kind,
                          "commodities", site->commodities, "country", site->country, "operator",
                          site->operator_name, "supply_node", site->supply_node, "wkt",
                          site->wkt_wgs84, "radius_m", site->radius_m, "lon", site->lon, "lat",
                          site->lat, "epsg", epsg, "scenes", scenes);
    char *text = k ? json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    char *key = text ? mw_sha256_text(text) : NULL;
    free(text);
    json_decref(k);
    return key;
}
