/* A Landsat Collection 2 Level-2 product folder read from its *_MTL.json, for archives that
 * come without STAC items. The MTL is the product's own statement of its radiometry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <jansson.h>

#include "core/name_check.h"
#include "core/text.h"
#include "io/json_file.h"
#include "minewatch/error.h"
#include "minewatch/scene.h"

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static double num(json_t *o, const char *k)
{
    const char *s = str(o, k);
    return s ? atof(s) : NAN;
}

int mw_landsat_mtl_read(const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = mw_json_load_file(path);
    if (!root) return -1;
    int rc = mw_landsat_mtl_from_json(root, path, s);
    json_decref(root);
    return rc;
}

int mw_landsat_mtl_from_json(void *json_root, const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = json_root;
    int rc = -1;
    json_t *m = json_object_get(root, "LANDSAT_METADATA_FILE");
    json_t *pc = json_object_get(m, "PRODUCT_CONTENTS"),
           *ia = json_object_get(m, "IMAGE_ATTRIBUTES");
    json_t *pa = json_object_get(m, "PROJECTION_ATTRIBUTES");
    json_t *sr = json_object_get(m, "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS");
    const char *id = str(pc, "LANDSAT_PRODUCT_ID");
    if (!pc || !ia || !pa || !id) {
        mw_error_set(MW_ERR_INPUT,
                     "%s: not a Landsat Collection 2 MTL (no PRODUCT_CONTENTS / IMAGE_ATTRIBUTES)",
                     path);
        goto done;
    }
    const char *level = str(pc, "PROCESSING_LEVEL"), *coll = str(pc, "COLLECTION_NUMBER");
    if (!sr || !level || strncmp(level, "L2", 2) != 0 || !coll || strcmp(coll, "02") != 0) {
        rc = 1; /* Level-1 or another collection: no surface reflectance to use here */
        goto done;
    }
    if (mw_name_check(id, "scene id")) { /* it names the chips */
        mw_error_prefix("%s", path);
        goto done;
    }
    s->id = mw_text_dup(id);
    s->item_path = mw_text_dup(path);
    s->platform = mw_text_dup(str(ia, "SPACECRAFT_ID"));
    int sensor = mw_sensor_from_platform(s->platform, id);
    if (sensor < 0) {
        mw_error_set(MW_ERR_INPUT, "%s: unknown spacecraft '%s'", path, s->platform);
        goto done;
    }
    s->sensor = (mw_sensor)sensor;
    const mw_sensor_info *si = &mw_sensors[sensor];
    s->sensor_code = si->code;
    s->qa_source = si->qa;
    const char *date = str(ia, "DATE_ACQUIRED"), *time = str(ia, "SCENE_CENTER_TIME");
    char dt[64];
    snprintf(dt, sizeof dt, "%sT%.8sZ", date ? date : "", time ? time : "00:00:00");
    if (!date || mw_day_parse(dt, &s->day, &s->seconds) != 0) {
        mw_error_set(MW_ERR_INPUT, "%s: no valid DATE_ACQUIRED / SCENE_CENTER_TIME", path);
        goto done;
    }
    s->datetime = mw_text_dup(dt);
    s->cloud_cover = num(ia, "CLOUD_COVER");
    s->baseline = mw_text_dup("");
    static const char *const corners[] = {"UL", "UR", "LL", "LR"};
    s->bbox[0] = s->bbox[1] = 1e9;
    s->bbox[2] = s->bbox[3] = -1e9;
    for (int c = 0; c < 4; c++) {
        char k[40];
        snprintf(k, sizeof k, "CORNER_%s_LON_PRODUCT", corners[c]);
        double lon = num(pa, k);
        snprintf(k, sizeof k, "CORNER_%s_LAT_PRODUCT", corners[c]);
        double lat = num(pa, k);
        if (isnan(lon) || isnan(lat)) {
            mw_error_set(MW_ERR_INPUT, "%s: missing %s corner coordinates", path, corners[c]);
            goto done;
        }
        s->bbox[0] = fmin(s->bbox[0], lon);
        s->bbox[1] = fmin(s->bbox[1], lat);
        s->bbox[2] = fmax(s->bbox[2], lon);
        s->bbox[3] = fmax(s->bbox[3], lat);
    }
    const char *dir = CPLGetPath(path);
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        const char *nb = si->native[b]; /* "B4" */
        char k[64];
        snprintf(k, sizeof k, "FILE_NAME_BAND_%s", nb + 1);
        const char *f = str(pc, k);
        snprintf(k, sizeof k, "REFLECTANCE_MULT_BAND_%s", nb + 1);
        double mult = num(sr, k);
        snprintf(k, sizeof k, "REFLECTANCE_ADD_BAND_%s", nb + 1);
        double add = num(sr, k);
        if (!f || isnan(mult) || isnan(add)) continue;
        s->bands[b].href = mw_text_dup(CPLFormFilename(dir, f, NULL));
        s->bands[b].scale = mult;
        s->bands[b].offset = add;
        s->bands[b].nodata = 0;
    }
    const char *qa = str(pc, "FILE_NAME_QUALITY_L1_PIXEL"),
               *rs = str(pc, "FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION");
    if (qa) s->qa.href = mw_text_dup(CPLFormFilename(dir, qa, NULL));
    if (rs) s->radsat.href = mw_text_dup(CPLFormFilename(dir, rs, NULL));
    s->offset_source = mw_text_dup("Landsat MTL REFLECTANCE_MULT_BAND_n / REFLECTANCE_ADD_BAND_n");
    rc = 0;
done:
    if (rc) mw_scene_free(s);
    return rc;
}
