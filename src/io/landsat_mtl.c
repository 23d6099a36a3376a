/* A Landsat Collection 2 Level-2 product folder read from its MTL, for archives that come without
 * STAC items: *_MTL.json, *_MTL.xml (GDAL's XML parser) or *_MTL.txt (ODL: GROUP / KEY = VALUE
 * lines), all three read into the same tree. The MTL is the product's own statement of its
 * radiometry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_minixml.h>
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

/* The MTL names every file of the full product; crops and partial downloads hold fewer. A file
 * that is not there is a band or mask the scene lacks, said as such where it is needed. */
static int present(const char *dir, const char *name)
{
    struct stat st;
    return stat(CPLFormFilename(dir, name, NULL), &st) == 0;
}

static double num(json_t *o, const char *k)
{
    const char *s = str(o, k);
    return s ? atof(s) : NAN;
}

/* The XML MTL as the JSON one: an element with child elements is an object, one with text a
 * string (GDAL's XML parser reads it). */
static json_t *xml_to_json(const CPLXMLNode *n)
{
    int has_elements = 0;
    for (const CPLXMLNode *c = n->psChild; c; c = c->psNext)
        has_elements |= c->eType == CXT_Element;
    if (!has_elements) {
        for (const CPLXMLNode *c = n->psChild; c; c = c->psNext)
            if (c->eType == CXT_Text) return json_string(c->pszValue);
        return json_string("");
    }
    json_t *o = json_object();
    for (const CPLXMLNode *c = n->psChild; c; c = c->psNext)
        if (c->eType == CXT_Element) json_object_set_new(o, c->pszValue, xml_to_json(c));
    return o;
}

/* The text (ODL) MTL as the JSON one: GROUP = X ... END_GROUP = X nest objects, KEY = VALUE
 * lines are strings (quotes removed), END ends it. Anything else is an error with its line. */
static json_t *odl_to_json(const char *text, size_t len, const char *path)
{
    enum { MAX_DEPTH = 16, MAX_LINE = 4096 };
    json_t *stack[MAX_DEPTH + 1];
    int depth = 0, line_no = 0, ended = 0;
    stack[0] = json_object();
    char line[MAX_LINE];
    size_t at = 0;
    while (!ended && at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        line_no++;
        if (n >= MAX_LINE) {
            mw_error_set(MW_ERR_INPUT, "%s:%d: line longer than %d bytes", path, line_no,
                         MAX_LINE - 1);
            goto bad;
        }
        memcpy(line, text + at, n);
        line[n] = 0;
        at += n + (nl ? 1 : 0);
        if (memchr(line, 0, n)) {
            mw_error_set(MW_ERR_INPUT, "%s:%d: a NUL byte: not a text MTL", path, line_no);
            goto bad;
        }
        char *k = line + strspn(line, " \t");
        k[strcspn(k, "\r")] = 0;
        if (!*k) continue;
        if (strcmp(k, "END") == 0) {
            ended = 1;
            break;
        }
        char *eq = strstr(k, " = ");
        if (!eq) {
            mw_error_set(MW_ERR_INPUT, "%s:%d: expected KEY = VALUE, GROUP = NAME or END", path,
                         line_no);
            goto bad;
        }
        *eq = 0;
        char *v = eq + 3;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v[vl - 1] = 0, v++;
        if (strcmp(k, "GROUP") == 0) {
            if (depth == MAX_DEPTH) {
                mw_error_set(MW_ERR_INPUT, "%s:%d: groups nested deeper than %d", path, line_no,
                             MAX_DEPTH);
                goto bad;
            }
            json_t *g = json_object();
            json_object_set_new(stack[depth], v, g);
            stack[++depth] = g;
        } else if (strcmp(k, "END_GROUP") == 0) {
            if (depth == 0) {
                mw_error_set(MW_ERR_INPUT, "%s:%d: END_GROUP = %s closes no group", path, line_no,
                             v);
                goto bad;
            }
            depth--;
        } else {
            json_object_set_new(stack[depth], k, json_string(v));
        }
    }
    if (!ended || depth != 0) {
        json_decref(stack[0]);
        return mw_error_set(MW_ERR_INPUT, "%s: the MTL ends before its END (%d group(s) open)",
                            path, depth),
               NULL;
    }
    return stack[0];
bad:
    json_decref(stack[0]);
    return NULL;
}

int mw_landsat_mtl_from_text(const char *text, size_t len, const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = odl_to_json(text, len, path);
    if (!root) return -1;
    int rc = mw_landsat_mtl_from_json(root, path, s);
    json_decref(root);
    return rc;
}

int mw_landsat_mtl_read(const char *path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    json_t *root = NULL;
    if (mw_text_ends_with(path, ".xml") || mw_text_ends_with(path, ".XML")) {
        CPLXMLNode *x = CPLParseXMLFile(path);
        CPLXMLNode *m = x ? CPLGetXMLNode(x, "=LANDSAT_METADATA_FILE") : NULL;
        if (m) {
            root = json_object();
            json_object_set_new(root, "LANDSAT_METADATA_FILE", xml_to_json(m));
        } else {
            mw_error_from_gdal(MW_ERR_INPUT, "'%s' is not a Landsat MTL in XML", path);
        }
        if (x) CPLDestroyXMLNode(x);
    } else if (mw_text_ends_with(path, ".txt") || mw_text_ends_with(path, ".TXT")) {
        size_t len = 0;
        char *text = mw_text_read_file(path, (size_t)1 << 20, "Landsat MTL", &len);
        if (!text) return -1;
        int rc = mw_landsat_mtl_from_text(text, len, path, s);
        free(text);
        return rc;
    } else {
        root = mw_json_load_file(path);
    }
    if (!root) return -1;
    int rc = mw_landsat_mtl_from_json(root, path, s);
    json_decref(root);
    return rc;
}

int mw_landsat_mtl_from_json(json_t *json_root, const char *path, mw_scene *s)
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
    s->sun_azimuth = num(ia, "SUN_AZIMUTH");
    s->sun_elevation = num(ia, "SUN_ELEVATION");
    if (!(s->sun_elevation > 0 && s->sun_elevation <= 90 && isfinite(s->sun_azimuth)))
        s->sun_azimuth = s->sun_elevation = 0; /* unknown */
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
    /* CPLGetPath and CPLFormFilename share one buffer: keep the folder apart */
    char *dir = mw_text_dup(CPLGetPath(path));
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        const char *nb = si->native[b]; /* "B4" */
        char k[64];
        snprintf(k, sizeof k, "FILE_NAME_BAND_%s", nb + 1);
        const char *f = str(pc, k);
        snprintf(k, sizeof k, "REFLECTANCE_MULT_BAND_%s", nb + 1);
        double mult = num(sr, k);
        snprintf(k, sizeof k, "REFLECTANCE_ADD_BAND_%s", nb + 1);
        double add = num(sr, k);
        if (!f || isnan(mult) || isnan(add) || !present(dir, f)) continue;
        s->bands[b].href = mw_text_dup(CPLFormFilename(dir, f, NULL));
        s->bands[b].scale = mult;
        s->bands[b].offset = add;
        s->bands[b].nodata = 0;
    }
    const char *qa = str(pc, "FILE_NAME_QUALITY_L1_PIXEL"),
               *rs = str(pc, "FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION");
    if (qa && present(dir, qa)) s->qa.href = mw_text_dup(CPLFormFilename(dir, qa, NULL));
    if (rs && present(dir, rs)) s->radsat.href = mw_text_dup(CPLFormFilename(dir, rs, NULL));
    free(dir);
    s->offset_source = mw_text_dup("Landsat MTL REFLECTANCE_MULT_BAND_n / REFLECTANCE_ADD_BAND_n");
    rc = 0;
done:
    if (rc) mw_scene_free(s);
    return rc;
}
