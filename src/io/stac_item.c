#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <jansson.h>

#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/scene.h"

void mw_scene_free(mw_scene *s)
{
    if (!s) return;
    free(s->id);
    free(s->item_path);
    free(s->platform);
    free(s->sensor);
    free(s->datetime);
    free(s->baseline);
    for (int b = 0; b < MW_BAND_COUNT; b++)
        free(s->bands[b].href);
    free(s->scl.href);
    memset(s, 0, sizeof *s);
}

/* Asset hrefs are relative to the item file unless absolute or a URL. */
static char *resolve_href(const char *item_path, const char *href)
{
    if (strstr(href, "://")) {
        /* Remote assets are read through GDAL's network layer (issue: STAC sources). */
        size_t n = strlen(href) + 16;
        char *s = malloc(n);
        if (s) snprintf(s, n, "/vsicurl/%s", href);
        return s;
    }
    if (href[0] == '/') return mw_text_dup(href);
    const char *rel = href[0] == '.' && href[1] == '/' ? href + 2 : href;
    return mw_text_dup(CPLFormFilename(CPLGetPath(item_path), rel, NULL));
}

/* Which harmonised band an asset carries: by key, then by eo:bands name or common_name. */
static int asset_band(const char *key, json_t *asset, int *is_scl)
{
    *is_scl = 0;
    if (strcasecmp(key, "scl") == 0) {
        *is_scl = 1;
        return -1;
    }
    const mw_band_info *bi = mw_band_by_name(key);
    if (bi) return (int)bi->band;
    json_t *eob = json_object_get(asset, "eo:bands");
    json_t *b0 = json_is_array(eob) ? json_array_get(eob, 0) : NULL;
    if (b0) {
        const char *nm = json_string_value(json_object_get(b0, "name"));
        const char *cn = json_string_value(json_object_get(b0, "common_name"));
        if (nm && strcasecmp(nm, "SCL") == 0) {
            *is_scl = 1;
            return -1;
        }
        if (nm && (bi = mw_band_by_name(nm))) return (int)bi->band;
        if (cn && (bi = mw_band_by_name(cn))) return (int)bi->band;
    }
    return -1;
}

/* Processing baseline "NN.NN" >= 04.00 means BOA_ADD_OFFSET -1000. */
static int baseline_offset(const char *pb, double *offset)
{
    int maj = 0, min = 0;
    if (!pb || sscanf(pb, "%d.%d", &maj, &min) != 2) return -1;
    *offset = (maj >= 4 ? MW_S2_BOA_OFFSET_PB0400 : 0.0) / MW_S2_QUANTIFICATION;
    return 0;
}

int mw_stac_item_read(const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return mw_error_set(MW_ERR_INPUT, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                            jerr.column, jerr.text);
    int rc = mw_stac_item_from_json(root, path, s);
    json_decref(root);
    return rc;
}

int mw_stac_item_from_json(void *json_root, const char *path, mw_scene *s)
{
    json_t *root = json_root;
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
    s->id = mw_text_dup(id);
    s->item_path = mw_text_dup(path);
    const char *dt = json_string_value(json_object_get(props, "datetime"));
    if (!dt) dt = json_string_value(json_object_get(props, "start_datetime"));
    if (!dt || mw_day_parse(dt, &s->day, &s->seconds) != 0) {
        mw_error_set(MW_ERR_INPUT,
                     "%s: scene '%s' has no valid properties.datetime (ISO 8601 "
                     "UTC expected)",
                     path, id);
        goto done;
    }
    s->datetime = mw_text_dup(dt);
    const char *plat = json_string_value(json_object_get(props, "platform"));
    s->platform = mw_text_dup(plat ? plat : "");
    s->sensor = mw_text_dup("S2");
    json_t *cc = json_object_get(props, "eo:cloud_cover");
    s->cloud_cover = json_is_number(cc) ? json_number_value(cc) : NAN;
    const char *pb = json_string_value(json_object_get(props, "s2:processing_baseline"));
    s->baseline = mw_text_dup(pb ? pb : "");
    json_t *bbox = json_object_get(root, "bbox");
    if (!json_is_array(bbox) || json_array_size(bbox) < 4) {
        mw_error_set(MW_ERR_INPUT, "%s: scene '%s' has no bbox", path, id);
        goto done;
    }
    for (int i = 0; i < 4; i++)
        s->bbox[i] = json_number_value(json_array_get(bbox, (size_t)i));
    if (!json_is_object(assets)) {
        mw_error_set(MW_ERR_INPUT, "%s: scene '%s' has no assets", path, id);
        goto done;
    }
    double pb_offset = 0;
    int have_pb = baseline_offset(pb, &pb_offset) == 0;
    int all_from_raster = 1, any_band = 0;
    const char *key;
    json_t *asset;
    json_object_foreach(assets, key, asset)
    {
        int is_scl;
        int b = asset_band(key, asset, &is_scl);
        if (b < 0 && !is_scl) continue;
        const char *href = json_string_value(json_object_get(asset, "href"));
        if (!href) continue;
        mw_scene_asset *a = is_scl ? &s->scl : &s->bands[b];
        free(a->href);
        a->href = resolve_href(path, href);
        a->scale = 1.0;
        a->offset = 0.0;
        a->nodata = 0.0;
        json_t *rb = json_object_get(asset, "raster:bands");
        json_t *rb0 = json_is_array(rb) ? json_array_get(rb, 0) : NULL;
        json_t *nd = rb0 ? json_object_get(rb0, "nodata") : NULL;
        if (json_is_number(nd)) a->nodata = json_number_value(nd);
        if (is_scl) continue;
        any_band = 1;
        json_t *jsc = rb0 ? json_object_get(rb0, "scale") : NULL;
        json_t *jof = rb0 ? json_object_get(rb0, "offset") : NULL;
        if (json_is_number(jsc)) {
            a->scale = json_number_value(jsc);
            a->offset = json_is_number(jof) ? json_number_value(jof) : 0.0;
        } else if (have_pb) {
            a->scale = 1.0 / MW_S2_QUANTIFICATION;
            a->offset = pb_offset;
            all_from_raster = 0;
        } else {
            mw_error_set(MW_ERR_INPUT,
                         "%s: scene '%s': cannot tell how to convert band '%s' to reflectance: "
                         "no raster:bands scale/offset and no s2:processing_baseline. Add "
                         "either to the item; minewatch does not guess the BOA offset",
                         path, id, key);
            goto done;
        }
    }
    if (!any_band) {
        mw_error_set(MW_ERR_INPUT, "%s: scene '%s' has no recognised band assets", path, id);
        goto done;
    }
    s->offset_source = all_from_raster ? MW_OFFSET_FROM_RASTER_BANDS : MW_OFFSET_FROM_BASELINE;
    rc = 0;
done:
    if (rc) mw_scene_free(s);
    return rc;
}
