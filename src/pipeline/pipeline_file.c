#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <ogr_srs_api.h>
#include <yaml.h>

#include "core/name_check.h"
#include "core/text.h"
#include "core/yaml_doc.h"
#include "minewatch/date.h"
#include "minewatch/error.h"
#include "minewatch/pipeline.h"

#include "minewatch/composite.h"
#include "minewatch/change_vector.h"
#include "minewatch/chip.h"
#include "minewatch/land_cover.h"
#include "minewatch/site_change.h"
#include "minewatch/qa.h"
#include "minewatch/warp.h"
#include "pipeline/output_postgis.h"

static int get_int(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, long lo, long hi,
                   long *out)
{
    double v;
    if (mw_yaml_get_num(c, n, what, (double)lo, (double)hi, &v)) return -1;
    if (v != floor(v)) return mw_yaml_err_at(c, n, "'%s' must be a whole number, got %g", what, v);
    *out = (long)v;
    return 0;
}

static int get_date(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, mw_day *out)
{
    const char *s = mw_yaml_scalar(n);
    if (!s || strlen(s) != 10 || mw_day_parse(s, out, NULL) != 0)
        return mw_yaml_err_at(c, n, "'%s' must be a date YYYY-MM-DD, got '%s'", what,
                              s ? s : "(not a value)");
    return 0;
}

static int need_list(const mw_yaml_ctx *c, yaml_node_t *seq, const char *what)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return mw_yaml_err_at(c, seq, "'%s' must be a list, e.g. [a, b]", what);
    return 0;
}

static int get_bool(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, bool *out)
{
    const char *s = mw_yaml_scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes")))
        *out = true;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no")))
        *out = false;
    else
        return mw_yaml_err_at(c, n, "%s must be true or false, not '%s'", what, s ? s : "?");
    return 0;
}

/* A list of non-empty texts, NULL-terminated. */
static int get_str_list(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, char ***out)
{
    if (need_list(c, n, what)) return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0) return mw_yaml_err_at(c, n, "'%s' is empty", what);
    char **v = calloc(cnt + 1, sizeof *v);
    if (!v) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    *out = v; /* owned by the pipeline from here, so an error path frees it */
    for (size_t i = 0; i < cnt; i++)
        if (mw_yaml_get_str(c, yaml_document_get_node(c->doc, n->data.sequence.items.start[i]),
                            what, &v[i]))
            return -1;
    return 0;
}

static char *resolve(const mw_pipeline *p, const char *rel)
{
    if (rel[0] == '/') return mw_text_dup(rel);
    return mw_text_dup(CPLFormFilename(p->dir, rel, NULL));
}

static int parse_sites(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"catalogue", "ids", NULL};
    if (mw_yaml_check_keys(c, n, "sites", keys)) return -1;
    yaml_node_t *v;
    char *cat = NULL;
    if (mw_yaml_need(c, n, "catalogue", "sites", &v) ||
        mw_yaml_get_str(c, v, "sites.catalogue", &cat))
        return -1;
    p->catalogue = resolve(p, cat);
    free(cat);
    yaml_node_t *ids = mw_yaml_map_get(c, n, "ids");
    if (!ids) return 0;
    if (need_list(c, ids, "sites.ids")) return -1;
    size_t cnt = (size_t)(ids->data.sequence.items.top - ids->data.sequence.items.start);
    if (cnt == 0)
        return mw_yaml_err_at(c, ids, "'sites.ids' is empty; leave it out to take every site");
    p->site_ids = calloc(cnt, sizeof *p->site_ids);
    if (!p->site_ids) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    for (yaml_node_item_t *it = ids->data.sequence.items.start; it < ids->data.sequence.items.top;
         it++) {
        yaml_node_t *in = yaml_document_get_node(c->doc, *it);
        size_t at = p->n_site_ids++; /* counted first so that an error path still frees it */
        if (mw_yaml_get_str(c, in, "sites.ids[]", &p->site_ids[at])) return -1;
        for (size_t k = 0; k < at; k++)
            if (strcmp(p->site_ids[k], p->site_ids[at]) == 0)
                return mw_yaml_err_at(c, in, "site id '%s' is listed twice", p->site_ids[k]);
    }
    return 0;
}

/* Patience with servers: the STAC API's, and any URL a local item names. */
static int parse_network(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    yaml_node_t *v;
    long l;
    if ((v = mw_yaml_map_get(c, n, "retries"))) {
        if (get_int(c, v, "source.retries", 0, 20, &l)) return -1;
        p->stac_retries = (int)l;
    }
    if ((v = mw_yaml_map_get(c, n, "timeout_s")) &&
        mw_yaml_get_num(c, v, "source.timeout_s", 0.1, 3600, &p->stac_timeout_s))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "backoff_s")) &&
        mw_yaml_get_num(c, v, "source.backoff_s", 0, 600, &p->stac_backoff_s))
        return -1;
    return 0;
}

static int parse_source(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, n, "'source' must be a mapping of keys to values");
    yaml_node_t *t;
    if (mw_yaml_need(c, n, "type", "source", &t)) return -1;
    const char *ts = mw_yaml_scalar(t);
    /* Each type has its own keys: one meant for another type is an error, not ignored. */
    static const char *const sim_keys[] = {"type", "seed", "scenes_per_period", "cloud_cover",
                                           NULL};
    static const char *const local_keys[] = {"type",    "path",      "timeout_s",
                                             "retries", "backoff_s", NULL};
    static const char *const api_keys[] = {"type",
                                           "url",
                                           "collections",
                                           "max_cloud_cover",
                                           "page_size",
                                           "max_items",
                                           "timeout_s",
                                           "retries",
                                           "backoff_s",
                                           "sign",
                                           "token_url",
                                           "max_pages",
                                           "max_response_mb",
                                           "max_search_s",
                                           "sign_hosts",
                                           "allow_local_assets",
                                           NULL};
    const char *const *keys = ts && strcmp(ts, "simulator") == 0  ? sim_keys
                              : ts && strcmp(ts, "local") == 0    ? local_keys
                              : ts && strcmp(ts, "stac_api") == 0 ? api_keys
                                                                  : NULL;
    if (keys && mw_yaml_check_keys(c, n,
                                   ts && strcmp(ts, "simulator") == 0 ? "source (type simulator)"
                                   : ts && strcmp(ts, "local") == 0   ? "source (type local)"
                                                                      : "source (type stac_api)",
                                   keys))
        return -1;
    yaml_node_t *v;
    if (ts && strcmp(ts, "simulator") == 0) {
        p->source_type = MW_SOURCE_SIMULATOR;
        long l;
        if ((v = mw_yaml_map_get(c, n, "seed"))) {
            if (get_int(c, v, "source.seed", 0, 9007199254740991L, &l)) return -1;
            p->sim_seed = (uint64_t)l;
        }
        if ((v = mw_yaml_map_get(c, n, "scenes_per_period"))) {
            if (get_int(c, v, "source.scenes_per_period", 1, 60, &l)) return -1;
            p->sim_scenes_per_period = (int)l;
        }
        if ((v = mw_yaml_map_get(c, n, "cloud_cover")) &&
            mw_yaml_get_num(c, v, "source.cloud_cover", 0, 0.9, &p->sim_cloud_cover))
            return -1;
    } else if (ts && strcmp(ts, "local") == 0) {
        p->source_type = MW_SOURCE_LOCAL;
        char *path = NULL;
        if (mw_yaml_need(c, n, "path", "source", &v) || mw_yaml_get_str(c, v, "source.path", &path))
            return -1;
        p->source_path = resolve(p, path);
        free(path);
        if (parse_network(c, n, p)) return -1;
    } else if (ts && strcmp(ts, "stac_api") == 0) {
        p->source_type = MW_SOURCE_STAC_API;
        if (mw_yaml_need(c, n, "url", "source", &v) ||
            mw_yaml_get_str(c, v, "source.url", &p->stac_url))
            return -1;
        if (mw_yaml_need(c, n, "collections", "source", &v) ||
            need_list(c, v, "source.collections"))
            return -1;
        size_t nc = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (nc == 0)
            return mw_yaml_err_at(c, v, "'source.collections' is empty, e.g. [sentinel-2-l2a]");
        p->stac_collections = calloc(nc + 1, sizeof *p->stac_collections);
        if (!p->stac_collections) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < nc; i++)
            if (mw_yaml_get_str(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]),
                                "source.collections[]", &p->stac_collections[i]))
                return -1;
        long l;
        if ((v = mw_yaml_map_get(c, n, "max_cloud_cover")) &&
            mw_yaml_get_num(c, v, "source.max_cloud_cover", 0, 100, &p->stac_max_cloud_cover))
            return -1;
        if ((v = mw_yaml_map_get(c, n, "page_size"))) {
            if (get_int(c, v, "source.page_size", 1, 10000, &l)) return -1;
            p->stac_page_size = (int)l;
        }
        if ((v = mw_yaml_map_get(c, n, "max_items"))) {
            if (get_int(c, v, "source.max_items", 1, 1000000, &l)) return -1;
            p->stac_max_items = (int)l;
        }
        if (parse_network(c, n, p)) return -1;
        if ((v = mw_yaml_map_get(c, n, "sign"))) {
            const char *sg = mw_yaml_scalar(v);
            if (!sg || (strcmp(sg, "planetary_computer") != 0 && strcmp(sg, "none") != 0))
                return mw_yaml_err_at(c, v, "'source.sign' must be 'planetary_computer' or 'none'");
            if (strcmp(sg, "planetary_computer") == 0)
                p->stac_sign_token_url =
                    mw_text_dup("https://planetarycomputer.microsoft.com/api/sas/v1/token");
        }
        if ((v = mw_yaml_map_get(c, n, "token_url"))) {
            if (!p->stac_sign_token_url)
                return mw_yaml_err_at(c, v, "'source.token_url' needs 'sign: planetary_computer'");
            if (mw_yaml_get_str(c, v, "source.token_url", &p->stac_sign_token_url)) return -1;
        }
        if ((v = mw_yaml_map_get(c, n, "sign_hosts"))) {
            if (!p->stac_sign_token_url)
                return mw_yaml_err_at(c, v, "'source.sign_hosts' needs 'sign: planetary_computer'");
            if (get_str_list(c, v, "source.sign_hosts", &p->stac_sign_hosts)) return -1;
        } else if (p->stac_sign_token_url) {
            /* Planetary Computer's SAS tokens are for its Azure Blob Storage accounts only. */
            p->stac_sign_hosts = calloc(2, sizeof *p->stac_sign_hosts);
            if (!p->stac_sign_hosts ||
                !(p->stac_sign_hosts[0] = mw_text_dup("*.blob.core.windows.net")))
                return mw_error_set(MW_ERR_NOMEM, "out of memory");
        }
        if ((v = mw_yaml_map_get(c, n, "max_pages"))) {
            if (get_int(c, v, "source.max_pages", 1, 100000, &l)) return -1;
            p->stac_max_pages = (int)l;
        }
        if ((v = mw_yaml_map_get(c, n, "max_response_mb"))) {
            if (get_int(c, v, "source.max_response_mb", 1, 4096, &l)) return -1;
            p->stac_max_response_mb = (int)l;
        }
        if ((v = mw_yaml_map_get(c, n, "max_search_s")) &&
            mw_yaml_get_num(c, v, "source.max_search_s", 1, 86400, &p->stac_max_search_s))
            return -1;
        if ((v = mw_yaml_map_get(c, n, "allow_local_assets")) &&
            get_bool(c, v, "source.allow_local_assets", &p->allow_local_assets))
            return -1;
    } else {
        return mw_yaml_err_at(c, t,
                              "'source.type' must be 'simulator', 'local' or 'stac_api', got '%s'",
                              ts ? ts : "?");
    }
    return 0;
}

static int parse_period(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, mw_period *out,
                        int named)
{
    static const char *const keys_named[] = {"name", "start", "end", NULL};
    static const char *const keys_base[] = {"start", "end", NULL};
    if (mw_yaml_check_keys(c, n, what, named ? keys_named : keys_base)) return -1;
    yaml_node_t *v;
    if (named) {
        if (mw_yaml_need(c, n, "name", what, &v) || mw_yaml_get_str(c, v, "name", &out->name))
            return -1;
        if (strcmp(out->name, "baseline") == 0)
            return mw_yaml_err_at(c, v,
                                  "'baseline' is the name of the baseline period; pick another");
        /* Period names become parts of map file names. */
        if (mw_name_check(out->name, "period name"))
            return mw_yaml_err_at(c, v, "%s", mw_error_message());
    } else {
        out->name = mw_text_dup("baseline");
    }
    if (mw_yaml_need(c, n, "start", what, &v) || get_date(c, v, "start", &out->start)) return -1;
    if (mw_yaml_need(c, n, "end", what, &v) || get_date(c, v, "end", &out->end)) return -1;
    if (out->end < out->start)
        return mw_yaml_err_at(c, v, "period '%s' ends before it starts", out->name);
    return 0;
}

/* yearly: {from: Y0, to: Y1, months: [M0, M1]}: one period a year, named by its year, from the
 * first day of month M0 to the last day of M1 (in the next year when M1 < M0: a season across
 * the new year). months defaults to [1, 12]. */
typedef struct yearly {
    long from, to, m0, m1;
} yearly;

static int parse_yearly(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, yearly *y)
{
    static const char *const keys[] = {"from", "to", "months", NULL};
    if (mw_yaml_check_keys(c, n, what, keys)) return -1;
    yaml_node_t *v;
    if (mw_yaml_need(c, n, "from", what, &v) || get_int(c, v, "from", 1900, 2200, &y->from))
        return -1;
    if (mw_yaml_need(c, n, "to", what, &v) || get_int(c, v, "to", y->from, 2200, &y->to)) return -1;
    y->m0 = 1, y->m1 = 12;
    if ((v = mw_yaml_map_get(c, n, "months"))) {
        if (v->type != YAML_SEQUENCE_NODE ||
            v->data.sequence.items.top - v->data.sequence.items.start != 2)
            return mw_yaml_err_at(c, v, "%s.months must be [first month, last month], e.g. [6, 9]",
                                  what);
        if (get_int(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[0]),
                    "first month", 1, 12, &y->m0) ||
            get_int(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[1]),
                    "last month", 1, 12, &y->m1))
            return -1;
    }
    if (y->to - y->from >= 63)
        return mw_yaml_err_at(c, n, "%s spans %ld years; at most 63 (a trend takes 64 points)",
                              what, y->to - y->from + 1);
    return 0;
}

static int yearly_period(const yearly *y, long year, const char *name, mw_period *out)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%ld", year);
    out->name = mw_text_dup(name ? name : buf);
    out->start = mw_day_from_ymd((int)year, (int)y->m0, 1);
    long ey = y->m1 < y->m0 ? year + 1 : year, em = y->m1 + 1;
    if (em == 13) em = 1, ey++;
    out->end = mw_day_from_ymd((int)ey, (int)em, 1) - 1; /* the last day of month m1 */
    return out->name ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
}

static int parse_periods(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"baseline", "monitoring", "yearly", NULL};
    if (mw_yaml_check_keys(c, n, "periods", keys)) return -1;
    yaml_node_t *b = mw_yaml_map_get(c, n, "baseline"), *m = mw_yaml_map_get(c, n, "monitoring"),
                *yl = mw_yaml_map_get(c, n, "yearly");
    if (yl) { /* the first year is the baseline, each later year a monitoring period */
        if (b || m)
            return mw_yaml_err_at(
                c, b ? b : m,
                "'periods.yearly' makes the baseline and the monitoring periods; give "
                "it alone, or 'monitoring: {yearly: ...}' beside a baseline");
        yearly y;
        if (parse_yearly(c, yl, "periods.yearly", &y)) return -1;
        if (y.to == y.from)
            return mw_yaml_err_at(c, yl,
                                  "periods.yearly needs two years at least (a baseline and one "
                                  "monitoring year)");
        p->periods = calloc((size_t)(y.to - y.from + 1), sizeof *p->periods);
        if (!p->periods) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        for (long yr = y.from; yr <= y.to; yr++)
            if (yearly_period(&y, yr, yr == y.from ? "baseline" : NULL,
                              &p->periods[p->n_periods++]))
                return -1;
        return 0;
    }
    if (mw_yaml_need(c, n, "baseline", "periods", &b) ||
        mw_yaml_need(c, n, "monitoring", "periods", &m))
        return -1;
    yaml_node_t *my = m->type == YAML_MAPPING_NODE ? mw_yaml_map_get(c, m, "yearly") : NULL;
    if (my) {
        static const char *const mkeys[] = {"yearly", NULL};
        if (mw_yaml_check_keys(c, m, "periods.monitoring", mkeys)) return -1;
        yearly y;
        if (parse_yearly(c, my, "periods.monitoring.yearly", &y)) return -1;
        p->periods = calloc((size_t)(y.to - y.from + 2), sizeof *p->periods);
        if (!p->periods) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        p->n_periods = 1;
        if (parse_period(c, b, "periods.baseline", &p->periods[0], 0)) return -1;
        for (long yr = y.from; yr <= y.to; yr++) {
            mw_period *q = &p->periods[p->n_periods++];
            if (yearly_period(&y, yr, NULL, q)) return -1;
            if (q->start <= p->periods[0].end)
                return mw_yaml_err_at(
                    c, my, "monitoring period '%s' must start after the baseline ends", q->name);
        }
        return 0;
    }
    if (m->type != YAML_SEQUENCE_NODE || m->data.sequence.items.top == m->data.sequence.items.start)
        return mw_yaml_err_at(
            c, m,
            "'periods.monitoring' must be a non-empty list of {name, start, end} or "
            "{yearly: {from, to, months}}");
    size_t nm = (size_t)(m->data.sequence.items.top - m->data.sequence.items.start);
    p->periods = calloc(nm + 1, sizeof *p->periods);
    if (!p->periods) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    p->n_periods = 1; /* counted first so that an error path still frees it */
    if (parse_period(c, b, "periods.baseline", &p->periods[0], 0)) return -1;
    for (yaml_node_item_t *it = m->data.sequence.items.start; it < m->data.sequence.items.top;
         it++) {
        yaml_node_t *pn = yaml_document_get_node(c->doc, *it);
        mw_period *q = &p->periods[p->n_periods++];
        if (parse_period(c, pn, "periods.monitoring[]", q, 1)) return -1;
        if (q->start <= p->periods[0].end)
            return mw_yaml_err_at(
                c, pn, "monitoring period '%s' must start after the baseline ends", q->name);
        for (size_t k = 1; k + 1 < p->n_periods; k++) {
            if (strcmp(p->periods[k].name, q->name) == 0)
                return mw_yaml_err_at(c, pn, "period name '%s' is used twice", q->name);
            if (q->start <= p->periods[k].end && q->end >= p->periods[k].start)
                return mw_yaml_err_at(c, pn, "monitoring period '%s' overlaps '%s'", q->name,
                                      p->periods[k].name);
        }
    }
    return 0;
}

static int parse_grid(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"pixel_size_m", "buffer_m", "origin_m",
                                       "resampling",   "epsg",     NULL};
    if (mw_yaml_check_keys(c, n, "grid", keys)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "pixel_size_m")) &&
        mw_yaml_get_num(c, v, "grid.pixel_size_m", 1, 1000, &p->pixel_size_m))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "buffer_m")) &&
        mw_yaml_get_num(c, v, "grid.buffer_m", 0, 50000, &p->buffer_m))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "origin_m"))) {
        if (need_list(c, v, "grid.origin_m") ||
            v->data.sequence.items.top - v->data.sequence.items.start != 2)
            return mw_yaml_err_at(
                c, v, "'grid.origin_m' must be [x, y] in metres, e.g. [499980, 5200020]");
        yaml_node_t *x = yaml_document_get_node(c->doc, v->data.sequence.items.start[0]);
        yaml_node_t *y = yaml_document_get_node(c->doc, v->data.sequence.items.start[1]);
        if (mw_yaml_get_num(c, x, "grid.origin_m[0]", -1e8, 1e8, &p->origin_x) ||
            mw_yaml_get_num(c, y, "grid.origin_m[1]", -1e8, 1e8, &p->origin_y))
            return -1;
    }
    long ep;
    if ((v = mw_yaml_map_get(c, n, "epsg"))) {
        if (get_int(c, v, "grid.epsg", 1024, 999999, &ep)) return -1;
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        int ok = OSRImportFromEPSG(srs, (int)ep) == OGRERR_NONE && OSRIsProjected(srs) &&
                 fabs(OSRGetLinearUnits(srs, NULL) - 1.0) < 1e-9;
        OSRDestroySpatialReference(srs);
        if (!ok)
            return mw_yaml_err_at(
                c, v,
                "'grid.epsg' %ld is not a projected CRS in metres (leave it out to use "
                "each site's UTM zone)",
                ep);
        p->grid_epsg = (int)ep;
    }
    if ((v = mw_yaml_map_get(c, n, "resampling"))) {
        const char *r = mw_yaml_scalar(v);
        int k = -1;
        for (int i = MW_RESAMPLE_NEAREST; r && i <= MW_RESAMPLE_CUBIC; i++)
            if (strcmp(r, mw_resample_name((mw_resample)i)) == 0) k = i;
        if (k < 0)
            return mw_yaml_err_at(c, v,
                                  "'grid.resampling' must be nearest, bilinear or cubic, got '%s'",
                                  r ? r : "?");
        p->resampling = k;
    }
    return 0;
}

static int qa_bits(const mw_yaml_ctx *c, yaml_node_t *v, const char *what, uint8_t *out)
{
    if (need_list(c, v, what)) return -1;
    *out = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *in = yaml_document_get_node(c->doc, *it);
        const char *s = mw_yaml_scalar(in);
        int bit = s ? mw_qa_flag_by_name(s) : 0;
        if (!bit) {
            char list[256] = "";
            for (int i = 0; i < mw_qa_nflags; i++) {
                if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, mw_qa_flags[i].name, sizeof list - strlen(list) - 1);
            }
            return mw_yaml_err_at(c, in, "unknown QA class '%s' in %s (known: %s)", s ? s : "?",
                                  what, list);
        }
        *out |= (uint8_t)bit;
    }
    return 0;
}

static int parse_mask(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"exclude", "dilate", "dilate_m", "source", NULL};
    if (mw_yaml_check_keys(c, n, "mask", keys)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "source"))) {
        const char *s = mw_yaml_scalar(v);
        int found = -1;
        for (int k = 0; k < 3 && s; k++)
            if (!strcmp(s, mw_mask_source_names[k])) found = k;
        if (found < 0)
            return mw_yaml_err_at(
                c, v,
                "mask.source must be auto (the scene's own mask, else the built-in "
                "screen), provider (the scene's own only) or screen");
        p->mask_source = found;
    }
    if ((v = mw_yaml_map_get(c, n, "exclude"))) {
        if (qa_bits(c, v, "mask.exclude", &p->qa_exclude)) return -1;
        p->qa_exclude |= MW_QA_NODATA; /* no-data is never composited */
    }
    if ((v = mw_yaml_map_get(c, n, "dilate")) && qa_bits(c, v, "mask.dilate", &p->qa_dilate))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "dilate_m")) &&
        mw_yaml_get_num(c, v, "mask.dilate_m", 0, 5000, &p->dilate_m))
        return -1;
    return 0;
}

static int parse_thresholds(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {
        "forest_ndvi_min",   "loss_ndvi_drop_min",   "min_clear_observations",
        "loss_min_width_px", "loss_mmu_ha",          "water_mndwi_min",
        "veg_ndvi_min",      "built_iron_ratio_max", NULL};
    if (mw_yaml_check_keys(c, n, "thresholds", keys)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "forest_ndvi_min")) &&
        mw_yaml_get_num(c, v, "thresholds.forest_ndvi_min", -1, 1, &p->forest_ndvi_min))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "loss_ndvi_drop_min")) &&
        mw_yaml_get_num(c, v, "thresholds.loss_ndvi_drop_min", 0, 2, &p->loss_ndvi_drop_min))
        return -1;
    long l;
    if ((v = mw_yaml_map_get(c, n, "min_clear_observations"))) {
        if (get_int(c, v, "thresholds.min_clear_observations", 1, 1000, &l)) return -1;
        p->min_clear_obs = (int)l;
    }
    if ((v = mw_yaml_map_get(c, n, "loss_min_width_px"))) {
        if (get_int(c, v, "thresholds.loss_min_width_px", 1, 5, &l)) return -1;
        p->loss_min_width_px = (int)l;
    }
    if ((v = mw_yaml_map_get(c, n, "loss_mmu_ha")) &&
        mw_yaml_get_num(c, v, "thresholds.loss_mmu_ha", 0, 10000, &p->loss_mmu_ha))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "water_mndwi_min")) &&
        mw_yaml_get_num(c, v, "thresholds.water_mndwi_min", -1, 1, &p->water_mndwi_min))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "veg_ndvi_min")) &&
        mw_yaml_get_num(c, v, "thresholds.veg_ndvi_min", -1, 1, &p->veg_ndvi_min))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "built_iron_ratio_max")) &&
        mw_yaml_get_num(c, v, "thresholds.built_iron_ratio_max", 0, 100, &p->built_iron_ratio_max))
        return -1;
    if (p->veg_ndvi_min > p->forest_ndvi_min)
        return mw_yaml_err_at(c, n,
                              "thresholds.veg_ndvi_min (%g) must not exceed forest_ndvi_min (%g)",
                              p->veg_ndvi_min, p->forest_ndvi_min);
    return 0;
}

static int parse_change(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"method", NULL};
    if (mw_yaml_check_keys(c, n, "change", keys)) return -1;
    yaml_node_t *v = mw_yaml_map_get(c, n, "method");
    if (!v) return 0;
    const char *s = mw_yaml_scalar(v);
    const mw_change_method_info *m = s ? mw_change_method_find(s) : NULL;
    if (m) {
        p->change_method = (int)m->id;
        return 0;
    }
    char list[128] = "";
    for (int i = 0; i < MW_CHANGE_METHOD_COUNT; i++) {
        if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, mw_change_methods[i].name, sizeof list - strlen(list) - 1);
    }
    return mw_yaml_err_at(c, v, "unknown change.method '%s' (known: %s)", s ? s : "?", list);
}

static int parse_baseline_forest(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"path", "min_percent", NULL};
    if (mw_yaml_check_keys(c, n, "baseline_forest", keys)) return -1;
    yaml_node_t *v;
    char *s = NULL;
    if (mw_yaml_need(c, n, "path", "baseline_forest", &v) ||
        mw_yaml_get_str(c, v, "baseline_forest.path", &s))
        return -1;
    p->baseline_forest = resolve(p, s);
    free(s);
    if ((v = mw_yaml_map_get(c, n, "min_percent")) &&
        mw_yaml_get_num(c, v, "baseline_forest.min_percent", 0, 100, &p->baseline_forest_min_pct))
        return -1;
    return 0;
}

/* A path, URL or tile template: paths are taken from the pipeline's folder, URLs as they are. */
static int get_source(const mw_yaml_ctx *c, yaml_node_t *v, const char *what, const mw_pipeline *p,
                      char **out)
{
    char *s = NULL;
    if (mw_yaml_get_str(c, v, what, &s)) return -1;
    *out = strstr(s, "://") ? mw_text_dup(s) : resolve(p, s);
    free(s);
    return 0;
}

static int parse_reference_forest(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"treecover", "lossyear",    "emissions",
                                       "min_cover", "min_size_ha", NULL};
    if (mw_yaml_check_keys(c, n, "reference_forest", keys)) return -1;
    yaml_node_t *v;
    if (mw_yaml_need(c, n, "treecover", "reference_forest", &v) ||
        get_source(c, v, "reference_forest.treecover", p, &p->rf_treecover))
        return -1;
    if (mw_yaml_need(c, n, "lossyear", "reference_forest", &v) ||
        get_source(c, v, "reference_forest.lossyear", p, &p->rf_lossyear))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "emissions")) &&
        get_source(c, v, "reference_forest.emissions", p, &p->rf_emissions))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "min_cover")) &&
        mw_yaml_get_num(c, v, "reference_forest.min_cover", 0, 100, &p->rf_min_cover))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "min_size_ha")) &&
        mw_yaml_get_num(c, v, "reference_forest.min_size_ha", 0, 1e6, &p->rf_min_size_ha))
        return -1;
    return 0;
}

static int parse_protected_areas(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"path", "name_field", "max_distance_km", NULL};
    if (mw_yaml_check_keys(c, n, "protected_areas", keys)) return -1;
    yaml_node_t *v;
    char *s = NULL;
    if (mw_yaml_need(c, n, "path", "protected_areas", &v) ||
        mw_yaml_get_str(c, v, "protected_areas.path", &s))
        return -1;
    p->pa_path = resolve(p, s);
    free(s);
    if ((v = mw_yaml_map_get(c, n, "name_field")) &&
        mw_yaml_get_str(c, v, "protected_areas.name_field", &p->pa_name_field))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "max_distance_km")) &&
        mw_yaml_get_num(c, v, "protected_areas.max_distance_km", 1, 20000, &p->pa_max_distance_km))
        return -1;
    return 0;
}

static int parse_bands(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (need_list(c, n, "bands")) return -1;
    int have = 0, nb = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *in = yaml_document_get_node(c->doc, *it);
        const char *s = mw_yaml_scalar(in);
        const mw_band_info *b = s ? mw_band_by_name(s) : NULL;
        if (!b)
            return mw_yaml_err_at(c, in,
                                  "unknown band '%s' (harmonised names: blue, green, red, nir, "
                                  "nir08, swir16, swir22)",
                                  s ? s : "?");
        if (have & (1 << b->band)) return mw_yaml_err_at(c, in, "band '%s' is listed twice", s);
        have |= 1 << b->band;
        p->bands[nb++] = b->band;
    }
    if (!(have & (1 << MW_BAND_RED)) || !(have & (1 << MW_BAND_NIR)))
        return mw_yaml_err_at(c, n,
                              "bands must include red and nir (NDVI, forest and loss need them)");
    p->nbands = nb;
    return 0;
}

static int parse_coregistration(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"enabled", "min_snr", "max_shift_px", NULL};
    if (mw_yaml_check_keys(c, n, "coregistration", keys)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "enabled")) &&
        get_bool(c, v, "coregistration.enabled", &p->coregister))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "min_snr")) &&
        mw_yaml_get_num(c, v, "coregistration.min_snr", 1, 1e6, &p->coreg_min_snr))
        return -1;
    if ((v = mw_yaml_map_get(c, n, "max_shift_px")) &&
        mw_yaml_get_num(c, v, "coregistration.max_shift_px", 0.1, 1000, &p->coreg_max_shift_px))
        return -1;
    return 0;
}

static int parse_composite(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"method", NULL};
    if (mw_yaml_check_keys(c, n, "composite", keys)) return -1;
    yaml_node_t *v = mw_yaml_map_get(c, n, "method");
    if (!v) return 0;
    const char *s = mw_yaml_scalar(v);
    int m = s ? mw_composite_method_find(s) : -1;
    if (m < 0) {
        char list[128] = "";
        for (int i = 0; i < mw_composite_nmethods; i++) {
            if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, mw_composite_methods[i].name, sizeof list - strlen(list) - 1);
        }
        return mw_yaml_err_at(c, v, "unknown composite.method '%s' (known: %s)", s ? s : "?", list);
    }
    p->composite_method = m;
    return 0;
}

static int parse_outputs(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    static const char *const keys[] = {"formats", "datacube", "postgis", NULL};
    if (mw_yaml_check_keys(c, n, "outputs", keys)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "formats"))) {
        if (need_list(c, v, "outputs.formats")) return -1;
        p->write_gpkg = p->write_csv = p->write_maps = p->write_report = p->write_stac = false;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *in = yaml_document_get_node(c->doc, *it);
            const char *s = mw_yaml_scalar(in);
            if (s && strcmp(s, "gpkg") == 0)
                p->write_gpkg = true;
            else if (s && strcmp(s, "csv") == 0)
                p->write_csv = true;
            else if (s && strcmp(s, "maps") == 0)
                p->write_maps = true;
            else if (s && strcmp(s, "report") == 0)
                p->write_report = true;
            else if (s && strcmp(s, "stac") == 0)
                p->write_stac = true;
            else
                return mw_yaml_err_at(
                    c, in, "unknown output format '%s' (known: gpkg, csv, maps, report, stac)",
                    s ? s : "?");
        }
    }
    if ((v = mw_yaml_map_get(c, n, "postgis"))) {
        static const char *const pk[] = {"connection", "schema", NULL};
        yaml_node_t *cn, *sn;
        if (mw_yaml_check_keys(c, v, "outputs.postgis", pk) ||
            mw_yaml_need(c, v, "connection", "outputs.postgis", &cn) ||
            mw_yaml_get_str(c, cn, "outputs.postgis.connection", &p->pg_connection))
            return -1;
        if (mw_text_ifind(p->pg_connection, "password"))
            return mw_yaml_err_at(c, cn,
                                  "outputs.postgis.connection must not hold a password: put it in "
                                  "~/.pgpass or the PGPASSWORD variable");
        if ((sn = mw_yaml_map_get(c, v, "schema"))) {
            if (mw_yaml_get_str(c, sn, "outputs.postgis.schema", &p->pg_schema)) return -1;
            if (!mw_postgis_name_ok(p->pg_schema))
                return mw_yaml_err_at(c, sn,
                                      "outputs.postgis.schema must be a lower-case SQL name "
                                      "(a-z, 0-9, _), got '%s'",
                                      p->pg_schema);
        }
    }
    if ((v = mw_yaml_map_get(c, n, "datacube"))) {
        char *d = NULL;
        if (mw_yaml_get_str(c, v, "outputs.datacube", &d)) return -1;
        p->datacube = resolve(p, d);
        free(d);
    }
    return 0;
}

static void defaults(mw_pipeline *p)
{
    p->sim_seed = 1;
    p->sim_scenes_per_period = 6;
    p->sim_cloud_cover = 0.2;
    p->stac_max_cloud_cover = -1;
    p->stac_page_size = 100;
    p->stac_max_items = 2000;
    p->stac_retries = 3;
    p->stac_timeout_s = 60;
    p->stac_backoff_s = 1;
    p->stac_max_pages = 1000;
    p->stac_max_response_mb = 64;
    p->stac_max_search_s = 1800;
    p->pixel_size_m = 10;
    p->buffer_m = 500;
    p->qa_exclude = MW_QA_DEFAULT_EXCLUDE;
    p->qa_dilate = MW_QA_CLOUD | MW_QA_SHADOW;
    p->dilate_m = 0;
    p->resampling = MW_RESAMPLE_BILINEAR;
    p->forest_ndvi_min = 0.7;
    p->loss_ndvi_drop_min = 0.3;
    p->min_clear_obs = 1;
    p->loss_min_width_px = 1;
    p->loss_mmu_ha = 0.5;
    mw_cover_thresholds ct = mw_cover_default_thresholds();
    p->water_mndwi_min = ct.water_mndwi_min;
    p->veg_ndvi_min = ct.veg_ndvi_min;
    p->built_iron_ratio_max = ct.built_iron_ratio_max;
    p->coregister = true;
    p->coreg_min_snr = 12;
    p->coreg_max_shift_px = 3;
    for (int i = 0; i < MW_COMPOSITE_NBANDS; i++)
        p->bands[i] = mw_composite_bands[i];
    p->nbands = MW_COMPOSITE_NBANDS;
    p->baseline_forest_min_pct = 30; /* the GFW canopy threshold */
    p->rf_min_cover = 30;            /* GFW's dashboards: canopy density > 30 % */
    p->rf_min_size_ha = 0;           /* and no minimum patch size */
    p->pa_max_distance_km = 500;
    p->write_gpkg = p->write_csv = p->write_maps = p->write_report = p->write_stac = true;
}

static int parse_root(const mw_yaml_ctx *c, yaml_node_t *root, mw_pipeline *p)
{
    if (!root) return mw_error_set(MW_ERR_INPUT, "%s:1:1: the pipeline file is empty", c->path);
    static const char *const keys[] = {
        "name",   "sites",           "source",     "periods",          "grid",
        "mask",   "composite",       "thresholds", "outputs",          "coregistration",
        "change", "baseline_forest", "bands",      "reference_forest", "protected_areas",
        NULL};
    if (mw_yaml_check_keys(c, root, "top level", keys)) return -1;
    yaml_node_t *v;
    if (mw_yaml_need(c, root, "name", "the pipeline", &v) ||
        mw_yaml_get_str(c, v, "name", &p->name))
        return -1;
    /* The name chooses the default output folder, out/<name>. */
    if (mw_name_check(p->name, "pipeline name"))
        return mw_yaml_err_at(c, v, "%s", mw_error_message());
    if (mw_yaml_need(c, root, "sites", "the pipeline", &v) || parse_sites(c, v, p)) return -1;
    if (mw_yaml_need(c, root, "source", "the pipeline", &v) || parse_source(c, v, p)) return -1;
    if (mw_yaml_need(c, root, "periods", "the pipeline", &v) || parse_periods(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "grid")) && parse_grid(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "mask")) && parse_mask(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "composite")) && parse_composite(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "thresholds")) && parse_thresholds(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "outputs")) && parse_outputs(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "coregistration")) && parse_coregistration(c, v, p))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "change")) && parse_change(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "bands")) && parse_bands(c, v, p)) return -1;
    if ((v = mw_yaml_map_get(c, root, "baseline_forest")) && parse_baseline_forest(c, v, p))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "reference_forest")) && parse_reference_forest(c, v, p))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "protected_areas")) && parse_protected_areas(c, v, p))
        return -1;
    return 0;
}

/* A pipeline file is a page of settings; anything larger or deeper is not one, and is refused
 * before libyaml builds a document of it. */
#define MAX_PIPELINE_BYTES ((size_t)4 << 20)
#define MAX_PIPELINE_DEPTH 32

/* Line and column (1-based) of a byte offset, for libyaml's reader errors, which give only the
 * offset. */
static void offset_position(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int yaml_failure(const char *path, const yaml_parser_t *ps, const char *text, size_t len)
{
    size_t line = ps->problem_mark.line + 1, col = ps->problem_mark.column + 1;
    if (ps->error == YAML_READER_ERROR) offset_position(text, len, ps->problem_offset, &line, &col);
    return mw_error_set(MW_ERR_INPUT, "%s:%zu:%zu: YAML syntax error: %s%s%s", path, line, col,
                        ps->problem ? ps->problem : "unknown problem", ps->context ? " " : "",
                        ps->context ? ps->context : "");
}

/* Nesting depth, from libyaml's event stream (no document is built). */
static int check_depth(const char *path, const char *text, size_t len)
{
    yaml_parser_t ps;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    int depth = 0, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&ps, &ev)) {
            rc = yaml_failure(path, &ps, text, len);
            break;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_PIPELINE_DEPTH)
                rc = mw_error_set(MW_ERR_INPUT,
                                  "%s:%zu:%zu: nested more than %d levels deep; a pipeline file "
                                  "is a few levels of settings",
                                  path, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                  MAX_PIPELINE_DEPTH);
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    return rc;
}

int mw_pipeline_parse(const char *path, const char *text, size_t len, mw_pipeline *p)
{
    memset(p, 0, sizeof *p);
    defaults(p);
    if (len > MAX_PIPELINE_BYTES)
        return mw_error_set(MW_ERR_INPUT,
                            "pipeline file '%s' is larger than %zu MB: not a pipeline file", path,
                            MAX_PIPELINE_BYTES >> 20);
    p->path = mw_text_dup(path);
    p->dir = mw_text_dup(CPLGetPath(path));
    if (p->dir && !*p->dir) {
        free(p->dir);
        p->dir = mw_text_dup(".");
    }
    int rc = check_depth(path, text, len);
    if (rc == 0) {
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
            rc = yaml_failure(path, &parser, text, len);
        } else {
            mw_yaml_ctx c = {path, &doc};
            rc = parse_root(&c, yaml_document_get_root_node(&doc), p);
            yaml_document_delete(&doc);
        }
        yaml_parser_delete(&parser);
    }
    if (rc) mw_pipeline_free(p);
    return rc;
}

int mw_pipeline_load(const char *path, mw_pipeline *p)
{
    memset(p, 0, sizeof *p);
    size_t len = 0;
    char *text = mw_text_read_file(path, MAX_PIPELINE_BYTES, "pipeline file", &len);
    if (!text) return -1;
    int rc = mw_pipeline_parse(path, text, len, p);
    free(text);
    return rc;
}

void mw_pipeline_free(mw_pipeline *p)
{
    if (!p) return;
    free(p->path);
    free(p->dir);
    free(p->name);
    free(p->catalogue);
    for (size_t i = 0; i < p->n_site_ids; i++)
        free(p->site_ids[i]);
    free(p->site_ids);
    free(p->source_path);
    free(p->stac_url);
    free(p->baseline_forest);
    free(p->rf_treecover), free(p->rf_lossyear), free(p->rf_emissions);
    free(p->pa_path), free(p->pa_name_field);
    free(p->stac_sign_token_url);
    for (size_t i = 0; p->stac_sign_hosts && p->stac_sign_hosts[i]; i++)
        free(p->stac_sign_hosts[i]);
    free(p->stac_sign_hosts);
    for (size_t i = 0; p->stac_collections && p->stac_collections[i]; i++)
        free(p->stac_collections[i]);
    free(p->stac_collections);
    for (size_t i = 0; i < p->n_periods; i++)
        free(p->periods[i].name);
    free(p->periods);
    free(p->datacube);
    free(p->pg_connection), free(p->pg_schema);
    memset(p, 0, sizeof *p);
}
