/* A local Sentinel-2 L2A SAFE folder, read from its MTD_MSIL2A.xml with GDAL's XML parser:
 * date, baseline, cloud cover, footprint, band files and the product's own quantification and
 * BOA_ADD_OFFSET per band (ESA S2 Products Specification, PSD 14.9). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_minixml.h>
#include <cpl_string.h>

#include "core/name_check.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/scene.h"

/* Element name without its namespace prefix. */
static const char *local_name(const CPLXMLNode *n)
{
    const char *c = strchr(n->pszValue, ':');
    return c ? c + 1 : n->pszValue;
}

typedef void (*visit_fn)(const CPLXMLNode *n, void *user);

static void walk(const CPLXMLNode *n, visit_fn fn, void *user)
{
    for (; n; n = n->psNext)
        if (n->eType == CXT_Element) {
            fn(n, user);
            walk(n->psChild, fn, user);
        }
}

typedef struct mtd {
    const char *start, *uri, *baseline, *spacecraft, *cloud, *footprint, *quant;
    const char *offset[13]; /* by ESA band_id: 0 B01 ... 8 B8A, 9 B09, 10 B10, 11 B11, 12 B12 */
    const char *image[64];
    int nimage;
} mtd;

static void collect(const CPLXMLNode *n, void *user)
{
    mtd *m = user;
    const char *nm = local_name(n), *v = CPLGetXMLValue(n, NULL, NULL);
    if (!strcmp(nm, "PRODUCT_START_TIME"))
        m->start = v;
    else if (!strcmp(nm, "PRODUCT_URI"))
        m->uri = v;
    else if (!strcmp(nm, "PROCESSING_BASELINE"))
        m->baseline = v;
    else if (!strcmp(nm, "SPACECRAFT_NAME"))
        m->spacecraft = v;
    else if (!strcmp(nm, "Cloud_Coverage_Assessment"))
        m->cloud = v;
    else if (!strcmp(nm, "EXT_POS_LIST") && !m->footprint)
        m->footprint = v;
    else if (!strcmp(nm, "BOA_QUANTIFICATION_VALUE"))
        m->quant = v;
    else if (!strcmp(nm, "BOA_ADD_OFFSET")) {
        int id = atoi(CPLGetXMLValue(n, "band_id", "-1"));
        if (id >= 0 && id < 13) m->offset[id] = v;
    } else if (!strcmp(nm, "IMAGE_FILE") && m->nimage < 64) {
        m->image[m->nimage++] = v;
    }
}

/* ESA band_id of each harmonised band (blue .. swir22). */
static const int esa_band_id[MW_BAND_COUNT] = {1, 2, 3, 7, 8, 11, 12};
static const char *const native_res[MW_BAND_COUNT] = {"10m", "10m", "10m", "10m",
                                                      "20m", "20m", "20m"};

/* The file of band `name` at `res` among the IMAGE_FILE entries, with its extension. */
static char *image_path(const char *dir, const mtd *m, const char *name, const char *res)
{
    char want[32];
    snprintf(want, sizeof want, "_%s_%s", name, res);
    for (int i = 0; i < m->nimage; i++) {
        const char *f = m->image[i]; /* NULL for an empty <IMAGE_FILE/> */
        if (!f) continue;
        size_t lf = strlen(f), lw = strlen(want);
        if (lf < lw || strcmp(f + lf - lw, want) != 0) continue;
        static const char *const ext[] = {".jp2", ".tif", ""};
        for (int e = 0; e < 3; e++) {
            char rel[1024];
            snprintf(rel, sizeof rel, "%s%s", f, ext[e]);
            const char *p = CPLFormFilename(dir, rel, NULL);
            struct stat st;
            if (stat(p, &st) == 0) return mw_text_dup(p);
        }
    }
    return NULL;
}

int mw_safe_read(const char *mtd_path, mw_scene *s)
{
    memset(s, 0, sizeof *s);
    CPLXMLNode *root = CPLParseXMLFile(mtd_path);
    if (!root)
        return mw_error_set(MW_ERR_INPUT, "%s: not a readable XML product description (%s)",
                            mtd_path, CPLGetLastErrorMsg());
    mtd m = {0};
    walk(root, collect, &m);
    int rc = -1;
    const char *dir = CPLGetPath(mtd_path);
    if (!m.start || !m.uri) {
        mw_error_set(MW_ERR_INPUT,
                     "%s: no PRODUCT_START_TIME / PRODUCT_URI: not an L2A SAFE description",
                     mtd_path);
        goto done;
    }
    char *id = mw_text_dup(m.uri);
    char *dot = id ? strstr(id, ".SAFE") : NULL;
    if (dot) *dot = 0;
    s->id = id;
    if (mw_name_check(id, "scene id")) { /* it names the chips */
        mw_error_prefix("%s", mtd_path);
        goto done;
    }
    s->item_path = mw_text_dup(mtd_path);
    s->datetime = mw_text_dup(m.start);
    if (mw_day_parse(m.start, &s->day, &s->seconds) != 0) {
        mw_error_set(MW_ERR_INPUT, "%s: PRODUCT_START_TIME '%s' is not an ISO 8601 UTC time",
                     mtd_path, m.start);
        goto done;
    }
    s->platform = mw_text_dup(m.spacecraft ? m.spacecraft : "Sentinel-2");
    s->sensor = MW_SENSOR_S2_MSI;
    s->sensor_code = mw_sensors[MW_SENSOR_S2_MSI].code;
    s->qa_source = MW_QA_FROM_SCL;
    s->cloud_cover = m.cloud ? atof(m.cloud) : NAN;
    s->baseline = mw_text_dup(m.baseline);
    /* Footprint: "lat lon lat lon ..." */
    s->bbox[0] = s->bbox[1] = 1e9;
    s->bbox[2] = s->bbox[3] = -1e9;
    char **tok = m.footprint ? CSLTokenizeString(m.footprint) : NULL;
    int nt = CSLCount(tok);
    for (int i = 0; i + 1 < nt; i += 2) {
        double lat = CPLAtof(tok[i]), lon = CPLAtof(tok[i + 1]);
        s->bbox[0] = fmin(s->bbox[0], lon);
        s->bbox[2] = fmax(s->bbox[2], lon);
        s->bbox[1] = fmin(s->bbox[1], lat);
        s->bbox[3] = fmax(s->bbox[3], lat);
    }
    CSLDestroy(tok);
    if (nt < 6) {
        mw_error_set(MW_ERR_INPUT, "%s: no product footprint (EXT_POS_LIST)", mtd_path);
        goto done;
    }
    double quant = m.quant ? CPLAtof(m.quant) : MW_S2_QUANTIFICATION;
    int maj = 0, min = 0;
    int pb_ok = m.baseline && sscanf(m.baseline, "%d.%d", &maj, &min) == 2;
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        s->bands[b].href = image_path(dir, &m, mw_bands[b].s2_name, native_res[b]);
        s->bands[b].scale = 1.0 / quant;
        s->bands[b].nodata = 0;
        const char *off = m.offset[esa_band_id[b]];
        if (off) {
            s->bands[b].offset = CPLAtof(off) / quant;
        } else if (pb_ok && maj < 4) {
            s->bands[b].offset = 0.0; /* before 04.00 the field did not exist: no offset */
        } else {
            mw_error_set(
                MW_ERR_INPUT,
                "%s: baseline %s but no BOA_ADD_OFFSET for band %s; minewatch does not guess "
                "the offset",
                mtd_path, m.baseline ? m.baseline : "(none)", mw_bands[b].s2_name);
            goto done;
        }
    }
    s->qa.href = image_path(dir, &m, "SCL", "20m");
    char src[160];
    snprintf(src, sizeof src, "MTD_MSIL2A.xml BOA_QUANTIFICATION_VALUE %g, BOA_ADD_OFFSET%s", quant,
             m.offset[esa_band_id[MW_BAND_RED]] ? " per band" : " absent (baseline before 04.00)");
    s->offset_source = mw_text_dup(src);
    rc = 0;
done:
    CPLDestroyXMLNode(root);
    if (rc) mw_scene_free(s);
    return rc;
}
