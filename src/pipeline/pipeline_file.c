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
#include "pipeline/pipeline_keys.h"

/* A whole number in [lo, hi]. */
static int get_int(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, long lo, long hi,
                   long *out)
{
    double v;
    if (mw_yaml_get_whole(c, n, what, (double)lo, (double)hi, &v)) return -1;
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

/* The keys of the section the table holds (pipeline_keys.c); then what it cannot. */
static int parse_keys(const mw_yaml_ctx *c, yaml_node_t *n, const char *section, int sources,
                      mw_pipeline *p)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, n, "'%s' must be a mapping of keys to values", section);
    return mw_keys_parse(c, n, mw_key_section_find(section), sources, p);
}

static int parse_sites(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (parse_keys(c, n, "sites", 0, p)) return -1;
    yaml_node_t *ids = mw_yaml_map_get(c, n, "ids");
    if (!ids) return 0;
    if (mw_yaml_need_list(c, ids, "sites.ids")) return -1;
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

/* Signed reads from Planetary Computer: the token endpoint and the hosts it is sent to. */
static int parse_signing(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    yaml_node_t *v;
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
        if (mw_yaml_get_texts(c, v, "source.sign_hosts", &p->stac_sign_hosts)) return -1;
    } else if (p->stac_sign_token_url) {
        /* Planetary Computer's SAS tokens are for its Azure Blob Storage accounts only. */
        p->stac_sign_hosts = calloc(2, sizeof *p->stac_sign_hosts);
        if (!p->stac_sign_hosts ||
            !(p->stac_sign_hosts[0] = mw_text_dup("*.blob.core.windows.net")))
            return mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int parse_source(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, n, "'source' must be a mapping of keys to values");
    yaml_node_t *t;
    if (mw_yaml_need(c, n, "type", "source", &t)) return -1;
    const char *ts = mw_yaml_scalar(t);
    static const struct {
        const char *name;
        mw_source_type type;
        int keys;
    } types[] = {{"simulator", MW_SOURCE_SIMULATOR, MW_KEY_SIM},
                 {"local", MW_SOURCE_LOCAL, MW_KEY_LOCAL},
                 {"stac_api", MW_SOURCE_STAC_API, MW_KEY_API}};
    int k = -1;
    for (int i = 0; i < 3 && ts; i++)
        if (strcmp(ts, types[i].name) == 0) k = i;
    if (k < 0)
        return mw_yaml_err_at(c, t,
                              "'source.type' must be 'simulator', 'local' or 'stac_api', got '%s'",
                              ts ? ts : "?");
    p->source_type = types[k].type;
    /* Each type has its own keys: one meant for another type is an error, not ignored. */
    if (parse_keys(c, n, "source", types[k].keys, p)) return -1;
    return p->source_type == MW_SOURCE_STAC_API ? parse_signing(c, n, p) : 0;
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
    if (parse_keys(c, n, "periods", 0, p)) return -1;
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
    if (parse_keys(c, n, "grid", 0, p)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "origin_m"))) {
        if (mw_yaml_need_list(c, v, "grid.origin_m") ||
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
    return 0;
}

static int parse_mask(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (parse_keys(c, n, "mask", 0, p)) return -1;
    p->qa_exclude |= MW_QA_NODATA; /* no-data is never composited */
    return 0;
}

static int parse_thresholds(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (parse_keys(c, n, "thresholds", 0, p)) return -1;
    if (p->veg_ndvi_min > p->forest_ndvi_min)
        return mw_yaml_err_at(c, n,
                              "thresholds.veg_ndvi_min (%g) must not exceed forest_ndvi_min (%g)",
                              p->veg_ndvi_min, p->forest_ndvi_min);
    return 0;
}

static int parse_bands(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (mw_yaml_need_list(c, n, "bands")) return -1;
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

static int parse_outputs(const mw_yaml_ctx *c, yaml_node_t *n, mw_pipeline *p)
{
    if (parse_keys(c, n, "outputs", 0, p)) return -1;
    yaml_node_t *v;
    if ((v = mw_yaml_map_get(c, n, "formats"))) {
        if (mw_yaml_need_list(c, v, "outputs.formats")) return -1;
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
    return 0;
}

/* The sections whose keys the table holds whole. */
static int parse_plain(const mw_yaml_ctx *c, yaml_node_t *n, const char *section, mw_pipeline *p)
{
    return parse_keys(c, n, section, 0, p);
}

static void defaults(mw_pipeline *p)
{
    mw_keys_defaults(p);
    p->stac_max_cloud_cover = -1; /* none */
    for (int i = 0; i < MW_COMPOSITE_NBANDS; i++)
        p->bands[i] = mw_composite_bands[i];
    p->nbands = MW_COMPOSITE_NBANDS;
    p->write_gpkg = p->write_csv = p->write_maps = p->write_report = p->write_stac = true;
}

static int parse_root(const mw_yaml_ctx *c, yaml_node_t *root, mw_pipeline *p)
{
    if (!root) return mw_error_set(MW_ERR_INPUT, "%s:1:1: the pipeline file is empty", c->path);
    if (root->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, root, "a pipeline file is a mapping of keys to values");
    /* the top level: its own keys and every section */
    const char *known[48];
    size_t nk = 0;
    const mw_key_section *top = mw_key_section_find("");
    for (size_t i = 0; i < top->n; i++)
        known[nk++] = top->keys[i].key;
    for (size_t i = 0; i < mw_key_nsections; i++)
        if (*mw_key_sections[i].name) known[nk++] = mw_key_sections[i].name;
    known[nk] = NULL;
    if (mw_yaml_check_keys(c, root, "top level", known)) return -1;
    yaml_node_t *v;
    if (mw_yaml_need(c, root, "name", "the pipeline", &v) ||
        mw_yaml_get_str(c, v, "name", &p->name))
        return -1;
    /* The name chooses the default output folder, out/<name>. */
    if (mw_name_check(p->name, "pipeline name"))
        return mw_yaml_err_at(c, v, "%s", mw_error_message());
    static const struct {
        const char *name;
        int (*parse)(const mw_yaml_ctx *, yaml_node_t *, mw_pipeline *);
    } own[] = {{"sites", parse_sites},     {"source", parse_source},
               {"periods", parse_periods}, {"grid", parse_grid},
               {"mask", parse_mask},       {"thresholds", parse_thresholds},
               {"outputs", parse_outputs}};
    for (size_t i = 0; i < mw_key_nsections; i++) {
        const mw_key_section *s = &mw_key_sections[i];
        if (!*s->name) continue;
        v = mw_yaml_map_get(c, root, s->name);
        if (!v && s->required) return mw_yaml_need(c, root, s->name, "the pipeline", &v);
        if (!v) continue;
        int rc = -2;
        for (size_t j = 0; j < sizeof own / sizeof *own; j++)
            if (strcmp(own[j].name, s->name) == 0) rc = own[j].parse(c, v, p);
        if (rc == -2) rc = parse_plain(c, v, s->name, p);
        if (rc) return -1;
    }
    if ((v = mw_yaml_map_get(c, root, "bands")) && parse_bands(c, v, p)) return -1;
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
