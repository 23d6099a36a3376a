#include "pipeline/provenance.h"

#include "core/atomic_file.h"
#include "core/out_dir.h"
#include "core/text.h"
#include "pipeline/site_heat.h"
#include "pipeline/site_maps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <fftw3.h>
#include <gdal.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tiffio.h>
#include <proj.h>
#include <yaml.h>

#include "minewatch/band.h"
#include "minewatch/composite.h"
#include "minewatch/forest_change.h"
#include "minewatch/indicator.h"
#include "minewatch/qa.h"
#include "minewatch/run_report.h"
#include "minewatch/treecover.h"
#include "minewatch/trend.h"
#include "minewatch/spectral_index.h"
#include "minewatch/git_version.h"
#include "minewatch/version.h"

static char *hex_of(const unsigned char *md, unsigned len)
{
    char *hex = calloc(65, 1);
    for (unsigned i = 0; hex && i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

char *mw_sha256_text(const char *text)
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    return hex_of(md, len);
}

char *mw_sha256_file(const char *path)
{
    char *hex = calloc(65, 1);
    FILE *f = fopen(path, "rb");
    if (!f || !hex) {
        if (f) fclose(f);
        return hex;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    free(hex);
    return hex_of(md, len);
}

void mw_utc_now(char buf[static 32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *qa_names(uint8_t bits)
{
    json_t *a = json_array();
    for (int i = 0; i < mw_qa_nflags; i++)
        if (bits & mw_qa_flags[i].bit) json_array_append_new(a, json_string(mw_qa_flags[i].name));
    return a;
}

/* Every library a figure depends on, with the version linked at run time where the library
 * says it, and the commit minewatch was built from. */
json_t *mw_software_versions(void)
{
    PJ_INFO pj = proj_info();
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    char tiff[64]; /* its first line: the rest is copyright */
    snprintf(tiff, sizeof tiff, "%.*s", (int)strcspn(TIFFGetVersion(), "\n"), TIFFGetVersion());
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "minewatch", MW_VERSION_STRING,
                     "git_commit", MW_GIT_COMMIT, "gdal", GDALVersionInfo("RELEASE_NAME"), "proj",
                     pj.release, "fftw", fftw_version, "libcurl", cv ? cv->version : "", "openssl",
                     OpenSSL_version(OPENSSL_VERSION), "libtiff", tiff, "jansson", JANSSON_VERSION,
                     "libyaml", yaml_get_version_string());
}

/* What every provenance file starts with: the software, the command, when, the pipeline. */
static json_t *provenance_head(const mw_pipeline *p, const mw_run_options *o)
{
    char now[32];
    mw_utc_now(now);
    char *sha = mw_sha256_file(p->path);
    json_t *prov =
        json_pack("{s:o,s:s,s:s,s:{s:s,s:s,s:s}}", "software", mw_software_versions(), "command",
                  o->command_line ? o->command_line : "", "started_utc", now, "pipeline", "path",
                  p->path, "sha256", sha ? sha : "", "name", p->name);
    free(sha);
    return prov;
}

json_t *mw_provenance_begin_change(const mw_pipeline *p, const mw_run_options *o)
{
    json_t *prov = provenance_head(p, o);
    json_object_set_new(prov, "methods", json_pack("{s:o}", "change", mw_change_methods_json(p)));
    json_object_set_new(prov, "sites", json_array());
    return prov;
}

json_t *mw_provenance_begin(const mw_pipeline *p, const mw_run_options *o)
{
    json_t *prov = provenance_head(p, o);
    char sd[11], ed[11];
    json_t *periods = json_array();
    for (size_t i = 0; i < p->n_periods; i++) {
        mw_day_format(p->periods[i].start, sd);
        mw_day_format(p->periods[i].end, ed);
        json_array_append_new(periods, json_pack("{s:s,s:s,s:s}", "name", p->periods[i].name,
                                                 "start", sd, "end", ed));
    }
    json_object_set_new(prov, "parameters",
                        json_pack("{s:s,s:s,s:o,s:f,s:f,s:o,s:f,s:f,s:i,s:i,s:I,s:i}",
                                  "site_catalogue", p->catalogue, "source",
                                  p->source_type == MW_SOURCE_SIMULATOR  ? "simulator"
                                  : p->source_type == MW_SOURCE_STAC_API ? p->stac_url
                                                                         : p->source_path,
                                  "periods", periods, "pixel_size_m", p->pixel_size_m, "buffer_m",
                                  p->buffer_m, "qa_exclude", qa_names(p->qa_exclude),
                                  "forest_ndvi_min", p->forest_ndvi_min, "loss_ndvi_drop_min",
                                  p->loss_ndvi_drop_min, "min_clear_observations", p->min_clear_obs,
                                  "loss_min_width_px", p->loss_min_width_px, "memory_budget_mb",
                                  (json_int_t)o->mem_budget_mb, "chunk_rows", o->chunk_rows));
    /* the inputs beside the scenes, by hash: local files only (tile templates and URLs are
     * read piecewise; their tiles are named in the methods) */
    json_t *ins = json_object();
    const char *const in_path[] = {p->catalogue,    p->baseline_forest, p->pa_path,
                                   p->rf_treecover, p->rf_lossyear,     p->rf_emissions};
    const char *const in_name[] = {"site_catalogue",
                                   "baseline_forest",
                                   "protected_areas",
                                   "reference_forest.treecover",
                                   "reference_forest.lossyear",
                                   "reference_forest.emissions"};
    for (int i = 0; i < 6; i++) {
        if (!in_path[i] || mw_text_is_http(in_path[i]) || strchr(in_path[i], '{')) continue;
        char *h = mw_sha256_file(in_path[i]);
        if (h && *h)
            json_object_set_new(ins, in_name[i],
                                json_pack("{s:s,s:s}", "path", in_path[i], "sha256", h));
        free(h);
    }
    json_object_set_new(prov, "inputs", ins);
    json_t *scl = json_array();
    for (int i = 0; i < 12; i++)
        json_array_append_new(scl, json_pack("{s:i,s:s,s:o}", "value", mw_scl_classes[i].value,
                                             "name", mw_scl_classes[i].name, "qa",
                                             qa_names(mw_scl_classes[i].qa)));
    const mw_spectral_index *ndvi = mw_spectral_index_find("ndvi");
    json_t *cols = json_array();
    for (int c = 0; c < mw_indicator_ncolumns; c++)
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s}", "name", mw_indicator_columns[c].name,
                                              "unit", mw_indicator_columns[c].unit, "description",
                                              mw_indicator_columns[c].description));
    json_object_set_new(
        prov, "methods",
        json_pack("{s:s,s:{s:s,s:o},s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:s,s:s,s:s}",
                  "harmonisation", MW_S2_HARMONISATION_CITATION, "qa", "citation", MW_SCL_CITATION,
                  "scl_classes", scl, "resampling",
                  "GDAL warp onto the site grid: bilinear for reflectance, nearest for SCL; exact "
                  "transformer. A raster on the grid's lattice (same CRS, the grid's pixel or a "
                  "whole multiple with nearest, on its pixel edges) is read directly, with the "
                  "values the warper gives",
                  "composite", "method", mw_composite_methods[p->composite_method].name, "rule",
                  mw_composite_methods[p->composite_method].rule, "citation",
                  mw_composite_methods[p->composite_method].citation, "index", "name", ndvi->name,
                  "formula", ndvi->formula, "citation", ndvi->citation, "forest",
                  MW_FOREST_RULE_CITATION, "loss_filter", MW_LOSS_OPENING_CITATION, "areas",
                  "pixel counts x pixel area on the UTM grid plane (UTM scale error < 0.1 % within "
                  "the zone's central 3 degrees)"));
    json_object_set_new(json_object_get(prov, "methods"), "change", mw_change_methods_json(p));
    json_object_set_new(json_object_get(json_object_get(prov, "methods"), "change"),
                        "coregistration_enabled", json_boolean(p->coregister));
    if (p->rf_treecover) {
        char *tc = mw_text_redact_url(p->rf_treecover), *ly = mw_text_redact_url(p->rf_lossyear),
             *em = p->rf_emissions ? mw_text_redact_url(p->rf_emissions) : NULL;
        json_object_set_new(
            json_object_get(prov, "methods"), "reference_forest",
            json_pack("{s:s,s:[s,s,s],s:s,s:s,s:s?,s:f,s:f}", "semantics", MW_TREECOVER_SEMANTICS,
                      "citations", MW_GFC_CITATION, MW_GFW_EMISSIONS_CITATION, MW_COVERAGE_CITATION,
                      "treecover2000", tc, "lossyear", ly, "emissions", em, "min_cover_pct",
                      p->rf_min_cover, "min_size_ha", p->rf_min_size_ha));
        free(tc), free(ly), free(em);
    }
    if (p->pa_path) {
        char *pa_sha = mw_sha256_file(p->pa_path);
        json_object_set_new(json_object_get(prov, "methods"), "protected_areas",
                            json_pack("{s:s,s:s,s:s?,s:f,s:s}", "path", p->pa_path, "sha256",
                                      pa_sha ? pa_sha : "", "name_field", p->pa_name_field,
                                      "max_distance_km", p->pa_max_distance_km, "measures",
                                      "distance and overlap of the site polygon in its grid CRS "
                                      "(GEOS); loss inside: the kept loss pixels whose centre "
                                      "lies in an area"));
        free(pa_sha);
    }
    json_object_set_new(json_object_get(prov, "methods"), "heat",
                        json_pack("{s:s,s:s}", "rule", MW_HEAT_RULE, "citation", MW_HEAT_CITATION));
    json_object_set_new(json_object_get(prov, "methods"), "trend_p_note",
                        json_string(MW_TREND_P_NOTE));
    json_object_set_new(prov, "indicator_columns", cols);
    json_object_set_new(prov, "sites", json_array());
    return prov;
}

void mw_provenance_finish(json_t *prov, const mw_run_report *rep)
{
    char now[32];
    mw_utc_now(now);
    json_object_set_new(prov, "finished_utc", json_string(now));
    json_t *f = json_array();
    for (size_t i = 0; i < rep->n; i++)
        json_array_append_new(f, json_pack("{s:s,s:s,s:s,s:s}", "site_id", rep->items[i].site_id,
                                           "scene_id", rep->items[i].scene_id, "stage",
                                           rep->items[i].stage, "message", rep->items[i].message));
    json_object_set_new(prov, "failures", f);
}

int mw_provenance_write(const json_t *prov, const mw_out_dir *od, const char *name,
                        mw_run_report *rep)
{
    char *pp = mw_out_dir_stage(od, name);
    char *tmp = pp ? mw_part_path(pp) : NULL;
    int rc = 0;
    if (!tmp || json_dump_file(prov, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0 ||
        mw_commit_path(tmp, pp) != 0) {
        mw_report_add(rep, "", "", "outputs", "cannot write '%s/%s'", od->root, name);
        if (tmp) mw_remove_tree(tmp);
        rc = -1;
    }
    free(tmp), free(pp);
    return rc;
}

json_t *mw_provenance_output_files(const mw_out_dir *od)
{
    json_t *files = json_array();
    char **list = mw_out_dir_list(od, NULL);
    for (size_t i = 0; list && list[i]; i++) {
        char *path = mw_out_dir_stage(od, list[i]);
        char *sha = path ? mw_sha256_file(path) : NULL;
        json_array_append_new(files,
                              json_pack("{s:s,s:s}", "path", list[i], "sha256", sha ? sha : ""));
        free(sha);
        free(path);
    }
    mw_out_dir_list_free(list);
    return files;
}

void mw_outputs_commit(mw_out_dir *od, mw_run_report *rep)
{
    size_t failed = mw_report_count_stage(rep, "outputs");
    if (failed)
        mw_report_add(rep, "", "", "outputs",
                      "%zu output(s) could not be written: nothing of this run was moved into "
                      "'%s', the earlier outputs are kept",
                      failed, od->root);
    else if (mw_out_dir_commit(od) != 0)
        mw_report_add(rep, "", "", "outputs", "%s", mw_error_message());
}
