#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <jansson.h>

#include "core/name_check.h"
#include "core/text.h"
#include "io/http_reader.h"
#include "io/json_file.h"
#include "minewatch/error.h"
#include "minewatch/scene.h"

void mw_scene_free(mw_scene *s)
{
    if (!s) return;
    free(s->id);
    free(s->item_path);
    free(s->platform);
    free(s->datetime);
    free(s->baseline);
    free(s->offset_source);
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        free(s->bands[b].href);
        free(s->bands[b].query);
        free(s->bands[b].signature);
    }
    free(s->qa.href);
    free(s->qa_lut);
    free(s->qa.query);
    free(s->qa.signature);
    free(s->radsat.href);
    free(s->radsat.query);
    free(s->radsat.signature);
    memset(s, 0, sizeof *s);
}

char *mw_scene_asset_read_path(const mw_scene_asset *a)
{
    if (!a->href) return NULL;
    const char *q = a->query, *sg = a->signature;
    size_t n = strlen(a->href) + (q ? strlen(q) : 0) + (sg ? strlen(sg) : 0) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s%s%s", a->href, q ? "?" : "", q ? q : "", sg ? (q ? "&" : "?") : "",
                 sg ? sg : "");
    return p;
}

/* Where an asset may be read from. A local folder is the user's: its items may name local
 * paths and URLs. A remote catalogue is not: its items may name only http(s) URLs, unless the
 * user allows local paths. GDAL's /vsi prefixes are never taken from an item (/vsistdin/ would
 * block, /vsicurl/ would skip these checks), nor other schemes (file://, gopher://, ftp://...).
 */
typedef enum { HREF_LOCAL_ITEM, HREF_REMOTE_ITEM, HREF_REMOTE_ALLOW_LOCAL } href_policy;

/* Sets a->href (and a->query for a URL); -1 with an error when the href is refused. */
static int resolve_href(const char *item_path, const char *href, href_policy pol, mw_scene_asset *a)
{
    if (mw_text_is_http(href)) {
        /* Remote assets are read by range through minewatch's own GDAL reader (io/http_reader.h):
         * only the blocks needed, never more than asked. The query (a presigned URL's signature)
         * is kept apart, out of keys, messages and provenance. */
        const char *q = strchr(href, '?');
        size_t base = q ? (size_t)(q - href) : strlen(href);
        const char *frag = strchr(href, '#');
        if (frag && (!q || frag < q)) base = (size_t)(frag - href);
        size_t n = base + sizeof MW_HTTP_PREFIX;
        a->href = malloc(n);
        if (!a->href) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        snprintf(a->href, n, MW_HTTP_PREFIX "%.*s", (int)base, href);
        if (q && q[1]) {
            a->query = mw_text_dup(q + 1);
            char *h = a->query ? strchr(a->query, '#') : NULL;
            if (h) *h = 0;
        }
        return 0;
    }
    const int is_file_url = strncasecmp(href, "file://", 7) == 0;
    if (!is_file_url && strstr(href, "://"))
        return mw_error_set(MW_ERR_INPUT,
                            "%s: asset href '%s' uses a scheme minewatch does not read; assets "
                            "must be http(s) URLs%s",
                            item_path, href, pol == HREF_REMOTE_ITEM ? "" : " or local paths");
    const char *path = is_file_url ? href + 7 : href;
    if (strncmp(path, "/vsi", 4) == 0)
        return mw_error_set(MW_ERR_INPUT,
                            "%s: asset href '%s' names a GDAL virtual file system; give an "
                            "http(s) URL or a file path instead",
                            item_path, href);
    if (pol == HREF_REMOTE_ITEM)
        return mw_error_set(MW_ERR_INPUT,
                            "%s: asset href '%s' is a local path in an item from a remote "
                            "catalogue; minewatch reads only http(s) assets from a STAC API "
                            "unless the pipeline sets source.allow_local_assets: true",
                            item_path, href);
    if (pol == HREF_REMOTE_ALLOW_LOCAL && path[0] != '/')
        return mw_error_set(MW_ERR_INPUT,
                            "%s: asset href '%s' is a relative path in an item from a remote "
                            "catalogue; give an absolute path",
                            item_path, href);
    if (path[0] == '/') {
        a->href = mw_text_dup(path);
    } else {
        const char *rel = path[0] == '.' && path[1] == '/' ? path + 2 : path;
        a->href = mw_text_dup(CPLFormFilename(CPLGetPath(item_path), rel, NULL));
    }
    return a->href ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
}

typedef enum { A_NONE = -1, A_QA = MW_BAND_COUNT, A_RADSAT } asset_kind;

static int key_is(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

/* The QA role of an asset key: SCL for Sentinel-2, QA_PIXEL / QA_RADSAT for Landsat. */
static int qa_kind(const char *key)
{
    if (key_is(key, "scl") || key_is(key, "SCL")) return A_QA;
    if (key_is(key, "qa_pixel") || mw_text_ifind(key, "QA_PIXEL")) return A_QA;
    if (key_is(key, "qa_radsat") || mw_text_ifind(key, "QA_RADSAT")) return A_RADSAT;
    return A_NONE;
}

/* Which band an asset is by its eo:bands entry: an object (name / common_name) or, in old STAC,
 * an index into properties."eo:bands". */
static int band_by_eo(const mw_sensor_info *si, json_t *asset, json_t *props)
{
    json_t *eob = json_object_get(asset, "eo:bands");
    if (!json_is_array(eob) || json_array_size(eob) != 1) return A_NONE;
    json_t *b0 = json_array_get(eob, 0);
    if (json_is_integer(b0))
        b0 = json_array_get(json_object_get(props, "eo:bands"), (size_t)json_integer_value(b0));
    if (!json_is_object(b0)) return A_NONE;
    const char *nm = json_string_value(json_object_get(b0, "name"));
    const char *cn = json_string_value(json_object_get(b0, "common_name"));
    int b;
    if (nm && (b = mw_sensor_band_from_native(si, nm)) >= 0) return b;
    if (nm && key_is(nm, "SCL")) return A_QA;
    const mw_band_info *bi;
    if (cn && (bi = mw_band_by_name(cn)) && si->native[bi->band]) return (int)bi->band;
    return A_NONE;
}

/* Landsat has one NIR band: it stands for both nir and nir08. */
static int band_by_key(const mw_sensor_info *si, const char *key)
{
    const mw_band_info *bi = mw_band_by_name(key);
    if (bi && (si->id == MW_SENSOR_S2_MSI || strcasecmp(key, bi->s2_name) != 0))
        return (int)bi->band;
    int b = mw_sensor_band_from_native(si, key);
    if (b >= 0) return b;
    /* "LC08_..._SR_B4.TIF" */
    const char *sr = mw_text_ifind(key, "SR_B");
    return sr ? mw_sensor_band_from_native(si, sr) : A_NONE;
}

static int set_asset(mw_scene_asset *a, const char *item_path, json_t *asset, href_policy pol)
{
    free(a->href);
    free(a->query);
    a->href = a->query = NULL;
    if (resolve_href(item_path, json_string_value(json_object_get(asset, "href")), pol, a))
        return -1;
    a->scale = NAN;
    a->offset = NAN;
    a->nodata = 0.0;
    json_t *rb = json_object_get(asset, "raster:bands");
    json_t *rb0 = json_is_array(rb) ? json_array_get(rb, 0) : NULL;
    json_t *v;
    if (rb0 && json_is_number(v = json_object_get(rb0, "nodata"))) a->nodata = json_number_value(v);
    if (rb0 && json_is_number(v = json_object_get(rb0, "scale"))) {
        a->scale = json_number_value(v);
        json_t *o = json_object_get(rb0, "offset");
        a->offset = json_is_number(o) ? json_number_value(o) : 0.0;
    }
    return 0;
}

/* "NN.NN" from the properties, or from the "_Nxxyy_" field of an ESA product name. */
static char *find_baseline(json_t *props, const char *id, const char **from)
{
    static const char *const keys[] = {"s2:processing_baseline", "sentinel:processing_baseline",
                                       NULL};
    for (const char *const *k = keys; *k; k++) {
        const char *v = json_string_value(json_object_get(props, *k));
        if (v && *v) {
            *from = *k;
            return mw_text_dup(v);
        }
    }
    const char *names[] = {json_string_value(json_object_get(props, "s2:product_uri")),
                           json_string_value(json_object_get(props, "sentinel:product_id")), id};
    static const char *const labels[] = {"s2:product_uri", "sentinel:product_id", "id"};
    for (int i = 0; i < 3; i++) {
        const char *n = names[i];
        for (const char *p = n ? strstr(n, "_N") : NULL; p; p = strstr(p + 1, "_N"))
            if (isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
                isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && p[6] == '_') {
                char b[6] = {p[2], p[3], '.', p[4], p[5], 0};
                *from = labels[i];
                return mw_text_dup(b);
            }
    }
    return NULL;
}

/* Decide DN -> reflectance for every band, and say where the numbers came from.
 * Sentinel-2, in order:
 *  1. earthsearch:boa_offset_applied = true: the COG values are already harmonised; Earth
 *     Search's raster:bands offset -0.1 is then wrong (Element84/earth-search#9, maintainer:
 *     "boa_offset_applied is the truth"), so scale 1e-4, offset 0;
 *  2. raster:bands scale/offset;
 *  3. the processing baseline (properties or product name): offset -1000 DN from 04.00.
 * Landsat C2 L2: raster:bands, else the product's documented constants. Otherwise: refuse. */
static int decide_radiometry(mw_scene *s, json_t *props, const char *path)
{
    char buf[160];
    const char *from = NULL;
    char *pb = s->sensor == MW_SENSOR_S2_MSI ? find_baseline(props, s->id, &from) : NULL;
    free(s->baseline);
    s->baseline = mw_text_dup(pb);
    json_t *applied = json_object_get(props, "earthsearch:boa_offset_applied");
    int all_rb = 1;
    for (int b = 0; b < MW_BAND_COUNT; b++)
        if (s->bands[b].href && isnan(s->bands[b].scale)) all_rb = 0;
    if (s->sensor == MW_SENSOR_S2_MSI && json_is_true(applied)) {
        for (int b = 0; b < MW_BAND_COUNT; b++) {
            s->bands[b].scale = 1.0 / MW_S2_QUANTIFICATION;
            s->bands[b].offset = 0.0;
        }
        snprintf(buf, sizeof buf,
                 "earthsearch:boa_offset_applied=true (values already harmonised; "
                 "raster:bands offset ignored)");
    } else if (all_rb) {
        snprintf(buf, sizeof buf, "raster:bands scale/offset");
    } else if (s->sensor == MW_SENSOR_S2_MSI && pb) {
        int maj = 0, min = 0;
        if (sscanf(pb, "%d.%d", &maj, &min) != 2) {
            free(pb);
            return mw_error_set(MW_ERR_INPUT,
                                "%s: scene '%s' has an unreadable processing baseline '%s'", path,
                                s->id, s->baseline);
        }
        double off = (maj >= 4 ? MW_S2_BOA_OFFSET_PB0400 : 0.0) / MW_S2_QUANTIFICATION;
        for (int b = 0; b < MW_BAND_COUNT; b++) {
            s->bands[b].scale = 1.0 / MW_S2_QUANTIFICATION;
            s->bands[b].offset = off;
        }
        snprintf(buf, sizeof buf, "processing baseline %s (from %s)", pb, from);
    } else if (s->sensor != MW_SENSOR_S2_MSI &&
               ((strstr(s->id, "_L2SP_") || strstr(s->id, "_L2SR_")) && strstr(s->id, "_02_T"))) {
        for (int b = 0; b < MW_BAND_COUNT; b++) {
            s->bands[b].scale = MW_LANDSAT_C2L2_SCALE;
            s->bands[b].offset = MW_LANDSAT_C2L2_OFFSET;
        }
        snprintf(buf, sizeof buf, "Landsat Collection 2 Level-2 SR constants (LSDS-1619)");
    } else {
        free(pb);
        return mw_error_set(
            MW_ERR_INPUT,
            "%s: scene '%s': cannot tell how to turn its numbers into reflectance: no "
            "raster:bands scale/offset and no processing baseline (s2:processing_baseline "
            "or an _Nxxyy_ product name). minewatch does not guess the offset; add one "
            "to the item",
            path, s->id);
    }
    free(pb);
    free(s->offset_source);
    s->offset_source = mw_text_dup(buf);
    return 0;
}

static int item_from_json(json_t *root, const char *path, href_policy pol, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    int rc = -1;
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *props = json_object_get(root, "properties");
    json_t *assets = json_object_get(root, "assets");
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!type || strcmp(type, "Feature") != 0 || !json_is_object(props) || !id) {
        mw_error_set(MW_ERR_INPUT, "%s: not a STAC item (needs type Feature, id, properties)",
                     path);
        goto done;
    }
    /* Scene ids name the chips in the datacube: an item must not choose where files go. */
    if (mw_name_check(id, "scene id")) {
        mw_error_prefix("%s", path);
        goto done;
    }
    s->id = mw_text_dup(id);
    s->item_path = mw_text_dup(path);
    const char *dt = json_string_value(json_object_get(props, "datetime"));
    if (!dt) dt = json_string_value(json_object_get(props, "start_datetime"));
    if (!dt || mw_day_parse(dt, &s->day, &s->seconds) != 0) {
        mw_error_set(MW_ERR_INPUT,
                     "%s: scene '%s' has no valid properties.datetime (ISO 8601 UTC expected)",
                     path, id);
        goto done;
    }
    s->datetime = mw_text_dup(dt);
    const char *plat = json_string_value(json_object_get(props, "platform"));
    if (!plat) plat = json_string_value(json_object_get(props, "eo:platform"));
    s->platform = mw_text_dup(plat);
    int sensor = mw_sensor_from_platform(plat, id);
    if (sensor < 0) {
        mw_error_set(
            MW_ERR_INPUT,
            "%s: scene '%s' is from platform '%s', which minewatch does not know (Sentinel-2 "
            "and Landsat 4-9 are supported)",
            path, id, plat ? plat : "?");
        goto done;
    }
    s->sensor = (mw_sensor)sensor;
    const mw_sensor_info *si = &mw_sensors[sensor];
    s->sensor_code = si->code;
    s->qa_source = si->qa;
    json_t *cc = json_object_get(props, "eo:cloud_cover");
    s->cloud_cover = json_is_number(cc) ? json_number_value(cc) : NAN;
    /* STAC view extension; older items (STAC 0.x, eo extension) say eo:sun_* */
    json_t *saz = json_object_get(props, "view:sun_azimuth"),
           *sel = json_object_get(props, "view:sun_elevation");
    if (!saz || !sel)
        saz = json_object_get(props, "eo:sun_azimuth"),
        sel = json_object_get(props, "eo:sun_elevation");
    if (json_is_number(saz) && json_is_number(sel) && json_number_value(sel) > 0 &&
        json_number_value(sel) <= 90)
        s->sun_azimuth = json_number_value(saz), s->sun_elevation = json_number_value(sel);
    json_t *bbox = json_object_get(root, "bbox");
    if (!json_is_array(bbox) || json_array_size(bbox) < 4) {
        mw_error_set(MW_ERR_INPUT, "%s: scene '%s' has no bbox", path, id);
        goto done;
    }
    size_t nb = json_array_size(bbox); /* 2D or 3D bbox */
    s->bbox[0] = json_number_value(json_array_get(bbox, 0));
    s->bbox[1] = json_number_value(json_array_get(bbox, 1));
    s->bbox[2] = json_number_value(json_array_get(bbox, nb == 6 ? 3 : 2));
    s->bbox[3] = json_number_value(json_array_get(bbox, nb == 6 ? 4 : 3));
    if (!json_is_object(assets)) {
        mw_error_set(MW_ERR_INPUT, "%s: scene '%s' has no assets", path, id);
        goto done;
    }
    /* Pass 1 by asset key, pass 2 by eo:bands for bands still missing: a key names the primary
     * asset, while eo:bands also matches resampled copies (blue_20m) and other encodings. */
    /* A refused href (a scheme or place minewatch does not read) is passed over while another
     * asset may give the band; it fails the item only if the band stays missing. */
    char *refused[A_RADSAT + 1] = {0};
    for (int pass = 0; pass < 2; pass++) {
        const char *key;
        json_t *asset;
        json_object_foreach(assets, key, asset)
        {
            if (!json_string_value(json_object_get(asset, "href"))) continue;
            int k = qa_kind(key);
            if (k == A_NONE) k = pass == 0 ? band_by_key(si, key) : band_by_eo(si, asset, props);
            if (k == A_NONE) continue;
            mw_scene_asset *a = k == A_QA ? &s->qa : k == A_RADSAT ? &s->radsat : &s->bands[k];
            if (a->href) continue;
            if (set_asset(a, path, asset, pol) && !refused[k])
                refused[k] = mw_text_dup(mw_error_message());
            mw_error_clear();
        }
    }
    const char *why = NULL;
    for (int k = 0; k <= A_RADSAT && !why; k++) {
        const mw_scene_asset *a = k == A_QA ? &s->qa : k == A_RADSAT ? &s->radsat : &s->bands[k];
        if (refused[k] && !a->href) why = refused[k];
    }
    const int refuse = why != NULL;
    if (refuse) mw_error_set(MW_ERR_INPUT, "%s", why);
    for (int k = 0; k <= A_RADSAT; k++)
        free(refused[k]);
    if (refuse) goto done;
    if (s->sensor != MW_SENSOR_S2_MSI) { /* one NIR band: it is both nir and nir08 */
        mw_scene_asset *n = &s->bands[MW_BAND_NIR], *n8 = &s->bands[MW_BAND_NIR08];
        const mw_scene_asset *from = n->href ? n : n8->href ? n8 : NULL;
        mw_scene_asset *to = n->href ? n8 : n;
        if (from && !to->href) {
            *to = *from;
            to->href = mw_text_dup(from->href);
            to->query = from->query ? mw_text_dup(from->query) : NULL;
            to->signature = NULL;
        }
    }
    int any = 0;
    for (int b = 0; b < MW_BAND_COUNT; b++)
        any |= s->bands[b].href != NULL;
    if (!any) {
        rc = 1; /* e.g. a Landsat surface-temperature item: nothing for us, not an error */
        goto done;
    }
    rc = decide_radiometry(s, props, path);
done:
    if (rc) mw_scene_free(s);
    return rc;
}

int mw_stac_item_from_json(json_t *json_root, const char *path, mw_scene *s)
{
    return item_from_json(json_root, path, HREF_LOCAL_ITEM, s);
}

int mw_stac_item_from_remote_json(json_t *json_root, const char *where, int allow_local,
                                  mw_scene *s)
{
    return item_from_json(json_root, where,
                          allow_local ? HREF_REMOTE_ALLOW_LOCAL : HREF_REMOTE_ITEM, s);
}

int mw_stac_item_read(const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = mw_json_load_file(path);
    if (!root) return -1;
    int rc = mw_stac_item_from_json(root, path, s);
    json_decref(root);
    return rc;
}
