/* A scene described by a manifest: plain band files from anywhere (an export, a crop) with a small
 * YAML file beside them, `<name>.scene.yaml`. The format is in the README ("Scene manifests");
 * every error names manifest:line:col. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_srs_api.h>
#include <yaml.h>

#include "core/text.h"
#include "core/yaml_doc.h"
#include "minewatch/error.h"
#include "minewatch/qa.h"
#include "minewatch/scene.h"
#include "minewatch/lonlat.h"

#define MANIFEST_SUFFIX ".scene.yaml"

/* One band file's grid, to check that a scene's bands share one. */
typedef struct band_grid {
    int w, h;
    double gt[6];
    OGRSpatialReferenceH srs;
} band_grid;

static int open_grid(const mw_yaml_ctx *c, yaml_node_t *at, const char *href, int band,
                     const char *what, band_grid *g, double *file_nodata)
{
    struct stat st;
    if (stat(href, &st) != 0 || !S_ISREG(st.st_mode))
        return mw_yaml_err_at(c, at,
                              "%s: '%s' is not there (file names are relative to the manifest's "
                              "folder)",
                              what, href);
    CPLErrorReset();
    /* as for every scene band: formats that hold pixels and never name other files */
    static const char *const pixel_formats[] = {"GTiff", "JP2OpenJPEG", NULL};
    GDALDatasetH ds =
        GDALOpenEx(href, GDAL_OF_RASTER | GDAL_OF_READONLY, pixel_formats, NULL, NULL);
    if (!ds)
        return mw_yaml_err_at(c, at, "%s: cannot open '%s' as a GeoTIFF or JPEG 2000 raster (%s)",
                              what, href,
                              *CPLGetLastErrorMsg() ? CPLGetLastErrorMsg() : "another format");
    int rc = 0;
    if (band < 1) band = 1;
    if (band > GDALGetRasterCount(ds)) {
        rc = mw_yaml_err_at(c, at, "%s: '%s' has %d band(s), not band %d", what, href,
                            GDALGetRasterCount(ds), band);
        GDALClose(ds);
        return rc;
    }
    g->w = GDALGetRasterXSize(ds), g->h = GDALGetRasterYSize(ds);
    const char *wkt = GDALGetProjectionRef(ds);
    if (GDALGetGeoTransform(ds, g->gt) != CE_None || !wkt || !*wkt)
        rc = mw_yaml_err_at(c, at, "%s: '%s' has no georeferencing (geotransform and CRS)", what,
                            href);
    else {
        g->srs = OSRNewSpatialReference(wkt);
        OSRSetAxisMappingStrategy(g->srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    int has = 0;
    double nd = GDALGetRasterNoDataValue(GDALGetRasterBand(ds, band), &has);
    if (file_nodata) *file_nodata = has ? nd : NAN;
    GDALClose(ds);
    return rc;
}

static int same_grid(const band_grid *a, const band_grid *b)
{
    if (a->w != b->w || a->h != b->h || !OSRIsSame(a->srs, b->srs)) return 0;
    for (int i = 0; i < 6; i++)
        if (fabs(a->gt[i] - b->gt[i]) > 1e-6 * (fabs(a->gt[i]) + 1)) return 0;
    return 1;
}

/* The scene's footprint in lon/lat from its first band's grid. */
static int footprint(const band_grid *g, double bbox[4])
{
    OGRSpatialReferenceH ll = mw_lonlat_srs();
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(g->srs, ll);
    int rc = ct ? 0 : -1;
    bbox[0] = bbox[1] = 1e9, bbox[2] = bbox[3] = -1e9;
    for (int i = 0; rc == 0 && i <= 8; i++) /* corners and edge midpoints */
        for (int j = 0; rc == 0 && j <= 8; j++) {
            double px = g->w * i / 8.0, py = g->h * j / 8.0;
            double x = g->gt[0] + px * g->gt[1] + py * g->gt[2];
            double y = g->gt[3] + px * g->gt[4] + py * g->gt[5];
            if (!OCTTransform(ct, 1, &x, &y, NULL)) {
                rc = -1;
                break;
            }
            bbox[0] = fmin(bbox[0], x), bbox[1] = fmin(bbox[1], y);
            bbox[2] = fmax(bbox[2], x), bbox[3] = fmax(bbox[3], y);
        }
    if (ct) OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(ll);
    return rc;
}

static char *file_beside(const char *manifest, const char *name)
{
    if (name[0] == '/') return mw_text_dup(name);
    char *dir = mw_text_dup(CPLGetPath(manifest));
    char *p = dir ? mw_text_dup(CPLFormFilename(dir, name, NULL)) : NULL;
    free(dir);
    return p;
}

/* A band entry: `red: B04.tif` or `red: {file: B04.tif, scale: .., offset: .., nodata: ..}`. */
static int read_band(const mw_yaml_ctx *c, yaml_node_t *v, const char *name, double scale,
                     double offset, double nodata, mw_scene_asset *a, yaml_node_t **file_node)
{
    char what[64];
    snprintf(what, sizeof what, "bands.%s", name);
    *file_node = v;
    a->scale = scale, a->offset = offset, a->nodata = nodata;
    const char *file = mw_yaml_scalar(v);
    if (!file && v && v->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"file", "band", "scale", "offset", "nodata", NULL};
        if (mw_yaml_check_keys(c, v, what, keys)) return -1;
        yaml_node_t *f;
        if (mw_yaml_need(c, v, "file", what, &f)) return -1;
        file = mw_yaml_scalar(f), *file_node = f;
        yaml_node_t *x;
        double bn = 1;
        if ((x = mw_yaml_map_get(c, v, "band")) &&
            (mw_yaml_get_num(c, x, "band", 1, 65535, &bn) || bn != floor(bn)))
            return mw_yaml_err_at(c, x, "%s.band must be a band number from 1", what);
        a->band = (int)bn;
        if ((x = mw_yaml_map_get(c, v, "scale")) &&
            mw_yaml_get_num(c, x, "scale", -1e9, 1e9, &a->scale))
            return -1;
        if ((x = mw_yaml_map_get(c, v, "offset")) &&
            mw_yaml_get_num(c, x, "offset", -1e9, 1e9, &a->offset))
            return -1;
        if ((x = mw_yaml_map_get(c, v, "nodata")) &&
            mw_yaml_get_num(c, x, "nodata", -1e300, 1e300, &a->nodata))
            return -1;
    }
    if (!file || !*file)
        return mw_yaml_err_at(c, v, "%s must be a file name or {file: ..., scale: ...}", what);
    a->href = file_beside(c->path, file);
    return a->href ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
}

/* mask: {file: F, classes: {cloud: [8, 9], shadow: [3], nodata: [0], ...}} */
static int read_mask(const mw_yaml_ctx *c, yaml_node_t *m, mw_scene *s, yaml_node_t **file_node)
{
    static const char *const keys[] = {"file", "classes", NULL};
    if (mw_yaml_check_keys(c, m, "mask", keys)) return -1;
    yaml_node_t *f, *cl;
    if (mw_yaml_need(c, m, "file", "mask", &f) || mw_yaml_need(c, m, "classes", "mask", &cl))
        return -1;
    *file_node = f;
    const char *file = mw_yaml_scalar(f);
    if (!file || !*file) return mw_yaml_err_at(c, f, "mask.file must be a file name");
    if (cl->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, cl,
                              "mask.classes must map QA classes to the mask's values, e.g. "
                              "{cloud: [8, 9], shadow: [3]}");
    if (!(s->qa_lut = calloc(256, 1))) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = cl->data.mapping.pairs.start; p < cl->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key),
                    *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = mw_yaml_scalar(kn);
        const int bit = k ? mw_qa_flag_by_name(k) : 0;
        if (!bit) {
            char list[160] = "";
            for (int i = 0; i < mw_qa_nflags; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         mw_qa_flags[i].name);
            return mw_yaml_err_at(c, kn, "unknown QA class '%s' in mask.classes (known: %s)",
                                  k ? k : "?", list);
        }
        if (vn->type != YAML_SEQUENCE_NODE)
            return mw_yaml_err_at(c, vn, "mask.classes.%s must be a list of values 0-255", k);
        for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            double v;
            if (mw_yaml_get_num(c, e, "mask class value", 0, 255, &v)) return -1;
            if (v != floor(v)) return mw_yaml_err_at(c, e, "mask class values are whole numbers");
            s->qa_lut[(int)v] |= (uint8_t)bit;
        }
    }
    s->qa.href = file_beside(c->path, file);
    s->qa.scale = 1, s->qa.offset = 0, s->qa.nodata = NAN;
    s->qa_source = MW_QA_FROM_CLASSES;
    return s->qa.href ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
}

static int parse(const mw_yaml_ctx *c, yaml_node_t *root, mw_scene *s)
{
    static const char *const keys[] = {"id",     "datetime",    "sensor", "scale",
                                       "offset", "nodata",      "bands",  "mask",
                                       "sun",    "cloud_cover", NULL};
    if (mw_yaml_check_keys(c, root, "scene manifest", keys)) return -1;
    yaml_node_t *v;
    /* id: given, or the manifest's name */
    if ((v = mw_yaml_map_get(c, root, "id"))) {
        if (mw_yaml_get_str(c, v, "id", &s->id)) return -1;
    } else {
        const char *base = strrchr(c->path, '/');
        base = base ? base + 1 : c->path;
        s->id = mw_text_dup(base);
        if (s->id) s->id[strlen(s->id) - strlen(MANIFEST_SUFFIX)] = 0;
    }
    if (mw_yaml_need(c, root, "datetime", "scene manifest", &v)) return -1;
    const char *dt = mw_yaml_scalar(v);
    char full[64];
    if (dt && strlen(dt) == 10)
        snprintf(full, sizeof full, "%sT00:00:00Z", dt); /* a date alone: its start */
    else
        snprintf(full, sizeof full, "%s", dt ? dt : "");
    if (!dt || mw_day_parse(full, &s->day, &s->seconds) != 0)
        return mw_yaml_err_at(c, v, "datetime must be YYYY-MM-DD or an ISO 8601 UTC time, got '%s'",
                              dt ? dt : "(not a value)");
    s->datetime = mw_text_dup(full);
    if (mw_yaml_need(c, root, "sensor", "scene manifest", &v)) return -1;
    const char *sensor = mw_yaml_scalar(v);
    int si = sensor ? mw_sensor_from_platform(sensor, NULL) : -1;
    if (si < 0)
        return mw_yaml_err_at(c, v,
                              "unknown sensor '%s': sentinel-2a/b/c, landsat-4/5/7/8/9 (platform "
                              "names as STAC writes them)",
                              sensor ? sensor : "?");
    s->platform = mw_text_dup(sensor);
    s->sensor = (mw_sensor)si;
    s->sensor_code = mw_sensors[si].code;
    s->qa_source = mw_sensors[si].qa;
    double scale = 1, offset = 0, nodata = NAN;
    if ((v = mw_yaml_map_get(c, root, "scale")) &&
        mw_yaml_get_num(c, v, "scale", -1e9, 1e9, &scale))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "offset")) &&
        mw_yaml_get_num(c, v, "offset", -1e9, 1e9, &offset))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "nodata")) &&
        mw_yaml_get_num(c, v, "nodata", -1e300, 1e300, &nodata))
        return -1;
    s->cloud_cover = NAN;
    if ((v = mw_yaml_map_get(c, root, "cloud_cover")) &&
        mw_yaml_get_num(c, v, "cloud_cover", 0, 100, &s->cloud_cover))
        return -1;
    if ((v = mw_yaml_map_get(c, root, "sun"))) {
        static const char *const sk[] = {"azimuth", "elevation", NULL};
        yaml_node_t *a, *e;
        if (mw_yaml_check_keys(c, v, "sun", sk) || mw_yaml_need(c, v, "azimuth", "sun", &a) ||
            mw_yaml_need(c, v, "elevation", "sun", &e) ||
            mw_yaml_get_num(c, a, "sun.azimuth", 0, 360, &s->sun_azimuth) ||
            mw_yaml_get_num(c, e, "sun.elevation", 0.001, 90, &s->sun_elevation))
            return -1;
    }
    yaml_node_t *bands;
    if (mw_yaml_need(c, root, "bands", "scene manifest", &bands)) return -1;
    if (bands->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, bands,
                              "bands must map band names (blue, green, red, nir, nir08, swir16, "
                              "swir22) to files");
    band_grid first = {0}, g = {0};
    yaml_node_t *first_at = NULL;
    const char *first_name = NULL;
    int rc = 0;
    for (yaml_node_pair_t *p = bands->data.mapping.pairs.start;
         rc == 0 && p < bands->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key),
                    *vn = yaml_document_get_node(c->doc, p->value);
        const char *name = mw_yaml_scalar(kn);
        int b = -1;
        for (int i = 0; name && i < MW_BAND_COUNT; i++)
            if (!strcmp(name, mw_bands[i].name)) b = i;
        if (b < 0) {
            rc = mw_yaml_err_at(c, kn,
                                "unknown band '%s' (blue, green, red, nir, nir08, swir16, swir22)",
                                name ? name : "?");
            break;
        }
        if (s->bands[b].href) {
            rc = mw_yaml_err_at(c, kn, "band '%s' is given twice", name);
            break;
        }
        yaml_node_t *at;
        if ((rc = read_band(c, vn, name, scale, offset, nodata, &s->bands[b], &at))) break;
        double file_nd;
        if ((rc = open_grid(c, at, s->bands[b].href, s->bands[b].band, name, &g, &file_nd))) break;
        if (isnan(s->bands[b].nodata)) s->bands[b].nodata = file_nd;
        if (!first_at) {
            first = g, first_at = at, first_name = name;
            g.srs = NULL;
            continue;
        }
        if (!same_grid(&first, &g))
            rc = mw_yaml_err_at(c, at,
                                "band '%s' (%dx%d, origin %.3f %.3f, pixel %.3f) is not on the "
                                "grid of band '%s' (%dx%d, origin %.3f %.3f, pixel %.3f): export "
                                "the scene's bands on one grid",
                                name, g.w, g.h, g.gt[0], g.gt[3], g.gt[1], first_name, first.w,
                                first.h, first.gt[0], first.gt[3], first.gt[1]);
        OSRDestroySpatialReference(g.srs), g.srs = NULL;
    }
    if (rc == 0 && !first_at) rc = mw_yaml_err_at(c, bands, "bands lists no band");
    if (rc == 0 && (v = mw_yaml_map_get(c, root, "mask"))) {
        yaml_node_t *at;
        rc = read_mask(c, v, s, &at);
        if (rc == 0 && (rc = open_grid(c, at, s->qa.href, 1, "mask", &g, NULL)) == 0) {
            if (!same_grid(&first, &g))
                rc = mw_yaml_err_at(c, at, "the mask is not on the grid of band '%s'", first_name);
            OSRDestroySpatialReference(g.srs);
        }
    }
    if (rc == 0 && footprint(&first, s->bbox))
        rc = mw_yaml_err_at(c, first_at, "the footprint of '%s' cannot be put in lon/lat",
                            first_name);
    if (first.srs) OSRDestroySpatialReference(first.srs);
    if (rc == 0) {
        s->baseline = mw_text_dup("");
        s->offset_source = mw_text_dup("scene manifest scale/offset");
    }
    return rc;
}

int mw_scene_manifest_parse(const char *path, const char *text, size_t len, mw_scene *out)
{
    memset(out, 0, sizeof *out);
    if (!mw_text_ends_with(path, MANIFEST_SUFFIX))
        return mw_error_set(MW_ERR_INPUT, "scene manifest '%s' must be named <id>" MANIFEST_SUFFIX,
                            path);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = mw_error_set(MW_ERR_INPUT, "%s:%zu:%zu: not valid YAML: %s", path,
                          parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return rc;
    }
    mw_yaml_ctx c = {path, &doc};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    rc = root ? parse(&c, root, out) : mw_error_set(MW_ERR_INPUT, "%s: empty manifest", path);
    if (rc == 0) out->item_path = mw_text_dup(path);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) mw_scene_free(out);
    return rc;
}

int mw_scene_manifest_read(const char *path, mw_scene *out)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *text = mw_text_read_file(path, 1 << 20, "scene manifest", &len);
    if (!text) return -1;
    int rc = mw_scene_manifest_parse(path, text, len, out);
    free(text);
    return rc;
}
