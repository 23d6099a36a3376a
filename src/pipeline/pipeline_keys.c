/* The pipeline file's keys; see pipeline/pipeline_keys.h. */
#include "pipeline/pipeline_keys.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>

#include "core/text.h"
#include "minewatch/change_vector.h"
#include "minewatch/chip.h"
#include "minewatch/composite.h"
#include "minewatch/error.h"
#include "minewatch/land_cover.h"
#include "minewatch/qa.h"
#include "minewatch/warp.h"

static const char *resample_choice(int i)
{
    return i >= MW_RESAMPLE_NEAREST && i <= MW_RESAMPLE_CUBIC ? mw_resample_name((mw_resample)i)
                                                              : NULL;
}
static const char *mask_source_choice(int i)
{
    return i >= 0 && i < 3 ? mw_mask_source_names[i] : NULL;
}
static const char *composite_choice(int i)
{
    return i >= 0 && i < mw_composite_nmethods ? mw_composite_methods[i].name : NULL;
}
static const char *change_choice(int i)
{
    return i >= 0 && i < MW_CHANGE_METHOD_COUNT && (int)mw_change_methods[i].id == i
               ? mw_change_methods[i].name
               : NULL;
}
static double water_default(void)
{
    return mw_cover_default_thresholds().water_mndwi_min;
}
static double veg_default(void)
{
    return mw_cover_default_thresholds().veg_ndvi_min;
}
static double built_default(void)
{
    return mw_cover_default_thresholds().built_iron_ratio_max;
}

#define F(field) offsetof(mw_pipeline, field), sizeof(((mw_pipeline *)0)->field)
#define NOF 0, 0
/* key, type, unit, lo, hi, default, doc, field, choice, required, sources, def_of, example */
// clang-format off
static const mw_key top_keys[] = {
    {"name", MW_KEY_TEXT, "", 0, 0, NULL, "the pipeline's name: the default output folder is out/<name>; letters, digits, . _ + -", F(name), NULL, 1, 0, NULL, "my-pipeline"},
    {"bands", MW_KEY_OTHER, "", 0, 0, "[blue, green, red, nir, swir16, swir22]", "chip and composite bands (blue, green, red, nir, nir08, swir16, swir22); red and nir are required. Without green and swir16 no water is mapped, without blue no built, without swir22 no dNBR: those figures are left empty, never 0", NOF, NULL, 0, 0, NULL, NULL},
};
static const mw_key sites_keys[] = {
    {"catalogue", MW_KEY_PATH, "", 0, 0, NULL, "the site catalogue (GeoJSON, GeoPackage, any OGR layer with id, name, kind)", F(catalogue), NULL, 1, 0, NULL, "sites.geojson"},
    {"ids", MW_KEY_OTHER, "", 0, 0, NULL, "a list of site ids: only these sites of the catalogue (leave out: every site)", NOF, NULL, 0, 0, NULL, NULL},
};
static const mw_key source_keys[] = {
    {"type", MW_KEY_OTHER, "", 0, 0, NULL, "simulator (built-in scene simulator), local (a folder of STAC items, SAFE folders, Landsat C2 folders or scene manifests) or stac_api", NOF, NULL, 1, 0, NULL, "local"},
    {"seed", MW_KEY_WHOLE, "", 0, 9007199254740991.0, "1", "the simulator's random seed", F(sim_seed), NULL, 0, MW_KEY_SIM, NULL, NULL},
    {"scenes_per_period", MW_KEY_WHOLE, "", 1, 60, "6", "scenes the simulator makes per period", F(sim_scenes_per_period), NULL, 0, MW_KEY_SIM, NULL, NULL},
    {"cloud_cover", MW_KEY_NUMBER, "", 0, 0.9, "0.2", "mean fraction of each simulated scene under cloud", F(sim_cloud_cover), NULL, 0, MW_KEY_SIM, NULL, NULL},
    {"path", MW_KEY_PATH, "", 0, 0, NULL, "the scene folder", F(source_path), NULL, 1, MW_KEY_LOCAL, NULL, "scenes"},
    {"url", MW_KEY_TEXT, "", 0, 0, NULL, "the STAC API's root", F(stac_url), NULL, 1, MW_KEY_API, NULL, "https://earth-search.aws.element84.com/v1"},
    {"collections", MW_KEY_TEXTS, "", 0, 0, NULL, "the collections searched", F(stac_collections), NULL, 1, MW_KEY_API, NULL, "[sentinel-2-l2a]"},
    {"max_cloud_cover", MW_KEY_NUMBER, "%", 0, 100, NULL, "only scenes with eo:cloud_cover at most this (leave out: any)", F(stac_max_cloud_cover), NULL, 0, MW_KEY_API, NULL, "60"},
    {"page_size", MW_KEY_WHOLE, "", 1, 10000, "100", "items per page of a search", F(stac_page_size), NULL, 0, MW_KEY_API, NULL, NULL},
    {"max_items", MW_KEY_WHOLE, "", 1, 1000000, "2000", "items one site's search may return", F(stac_max_items), NULL, 0, MW_KEY_API, NULL, NULL},
    {"max_pages", MW_KEY_WHOLE, "", 1, 100000, "1000", "pages one search may follow", F(stac_max_pages), NULL, 0, MW_KEY_API, NULL, NULL},
    {"max_response_mb", MW_KEY_WHOLE, "MB", 1, 4096, "64", "size of one answer of the API", F(stac_max_response_mb), NULL, 0, MW_KEY_API, NULL, NULL},
    {"max_search_s", MW_KEY_NUMBER, "s", 1, 86400, "1800", "time one site's search may take", F(stac_max_search_s), NULL, 0, MW_KEY_API, NULL, NULL},
    {"timeout_s", MW_KEY_NUMBER, "s", 0.1, 3600, "60", "time a request may take (the API's, and any URL an item names)", F(stac_timeout_s), NULL, 0, MW_KEY_LOCAL | MW_KEY_API, NULL, NULL},
    {"retries", MW_KEY_WHOLE, "", 0, 20, "3", "retries of a request after a network error, 429 or 5xx", F(stac_retries), NULL, 0, MW_KEY_LOCAL | MW_KEY_API, NULL, NULL},
    {"backoff_s", MW_KEY_NUMBER, "s", 0, 600, "1", "first wait before a retry, doubled each time", F(stac_backoff_s), NULL, 0, MW_KEY_LOCAL | MW_KEY_API, NULL, NULL},
    {"sign", MW_KEY_OTHER, "", 0, 0, "none", "planetary_computer: a SAS token per collection, never written anywhere; or none", NOF, NULL, 0, MW_KEY_API, NULL, NULL},
    {"token_url", MW_KEY_OTHER, "", 0, 0, NULL, "the token endpoint (with sign: planetary_computer; default Planetary Computer's)", NOF, NULL, 0, MW_KEY_API, NULL, NULL},
    {"sign_hosts", MW_KEY_OTHER, "", 0, 0, NULL, "the hosts a token is sent to, \"*.x\" for subdomains (with sign; default [\"*.blob.core.windows.net\"])", NOF, NULL, 0, MW_KEY_API, NULL, NULL},
    {"allow_local_assets", MW_KEY_BOOL, "", 0, 0, "false", "may the catalogue's items name local files?", F(allow_local_assets), NULL, 0, MW_KEY_API, NULL, NULL},
};
static const mw_key periods_keys[] = {
    {"baseline", MW_KEY_OTHER, "", 0, 0, NULL, "{start: YYYY-MM-DD, end: YYYY-MM-DD}: the baseline period", NOF, NULL, 0, 0, NULL, "{start: 2021-06-01, end: 2021-09-30}"},
    {"monitoring", MW_KEY_OTHER, "", 0, 0, NULL, "a list of {name, start, end}, after the baseline and not overlapping; or {yearly: {from, to, months: [M0, M1]}}, one period a year named by its year", NOF, NULL, 0, 0, NULL, "[{name: \"2023\", start: 2023-06-01, end: 2023-09-30}]"},
    {"yearly", MW_KEY_OTHER, "", 0, 0, NULL, "{from: Y0, to: Y1, months: [M0, M1]} instead of both: Y0 is the baseline, each later year a monitoring period; months [11, 2] runs across the new year", NOF, NULL, 0, 0, NULL, NULL},
};
static const mw_key grid_keys[] = {
    {"pixel_size_m", MW_KEY_NUMBER, "m", 1, 1000, "10", "pixel size of every site's grid", F(pixel_size_m), NULL, 0, 0, NULL, NULL},
    {"buffer_m", MW_KEY_NUMBER, "m", 0, 50000, "500", "the grid covers the site and this much around it", F(buffer_m), NULL, 0, 0, NULL, NULL},
    {"origin_m", MW_KEY_OTHER, "m", 0, 0, "[0, 0]", "[x, y]: the grid's pixel edges pass through this point (a tile's corner, e.g. [499980, 5200020], reads its pixels without resampling)", NOF, NULL, 0, 0, NULL, NULL},
    {"resampling", MW_KEY_CHOICE, "", 0, 0, "bilinear", "reflectance onto the grid: nearest, bilinear or cubic (QA is always nearest)", F(resampling), resample_choice, 0, 0, NULL, NULL},
    {"epsg", MW_KEY_OTHER, "", 0, 0, NULL, "a projected CRS in metres for every site (leave out: each site's UTM zone)", NOF, NULL, 0, 0, NULL, "32735"},
};
static const mw_key mask_keys[] = {
    {"source", MW_KEY_CHOICE, "", 0, 0, "auto", "auto: the scene's own mask (SCL, QA_PIXEL, a manifest's), else the built-in screen; provider: its own only; screen: the built-in screen for every scene", F(mask_source), mask_source_choice, 0, 0, NULL, NULL},
    {"exclude", MW_KEY_QA, "", 0, 0, "[nodata, saturated, cloud, shadow, cirrus]", "QA classes left out of composites (no data always is)", F(qa_exclude), NULL, 0, 0, NULL, NULL},
    {"dilate", MW_KEY_QA, "", 0, 0, "[cloud, shadow]", "QA classes grown by dilate_m", F(qa_dilate), NULL, 0, 0, NULL, NULL},
    {"dilate_m", MW_KEY_NUMBER, "m", 0, 5000, "0", "how far they are grown", F(dilate_m), NULL, 0, 0, NULL, NULL},
};
static const mw_key composite_keys[] = {
    {"method", MW_KEY_CHOICE, "", 0, 0, "median", "median, max_ndvi or bap (best available pixel); see `minewatch run --help`", F(composite_method), composite_choice, 0, 0, NULL, NULL},
};
static const mw_key thresholds_keys[] = {
    {"forest_ndvi_min", MW_KEY_NUMBER, "", -1, 1, "0.7", "composite NDVI at or above this is forest", F(forest_ndvi_min), NULL, 0, 0, NULL, NULL},
    {"loss_ndvi_drop_min", MW_KEY_NUMBER, "", 0, 2, "0.3", "forest loss: the baseline's NDVI minus the period's reaches this", F(loss_ndvi_drop_min), NULL, 0, 0, NULL, NULL},
    {"min_clear_observations", MW_KEY_WHOLE, "", 1, 1000, "1", "fewer clear observations in a period: the pixel has no data", F(min_clear_obs), NULL, 0, 0, NULL, NULL},
    {"loss_min_width_px", MW_KEY_WHOLE, "px", 1, 5, "1", "forest loss narrower than this is dropped (1 keeps all)", F(loss_min_width_px), NULL, 0, 0, NULL, NULL},
    {"loss_mmu_ha", MW_KEY_NUMBER, "ha", 0, 10000, "0.5", "forest-loss patches smaller than this are dropped", F(loss_mmu_ha), NULL, 0, 0, NULL, NULL},
    {"water_mndwi_min", MW_KEY_NUMBER, "", -1, 1, NULL, "land cover: MNDWI at or above this (and NDVI < 0.2) is water", F(water_mndwi_min), NULL, 0, 0, water_default, NULL},
    {"veg_ndvi_min", MW_KEY_NUMBER, "", -1, 1, NULL, "land cover: NDVI at or above this is vegetation (at most forest_ndvi_min)", F(veg_ndvi_min), NULL, 0, 0, veg_default, NULL},
    {"built_iron_ratio_max", MW_KEY_NUMBER, "", 0, 100, NULL, "land cover: not vegetation, red/blue below this is bright built", F(built_iron_ratio_max), NULL, 0, 0, built_default, NULL},
};
static const mw_key coreg_keys[] = {
    {"enabled", MW_KEY_BOOL, "", 0, 0, "true", "align every scene to the site's clearest baseline scene before compositing", F(coregister), NULL, 0, 0, NULL, NULL},
    {"min_snr", MW_KEY_NUMBER, "", 1, 1e6, "12", "shifts with a weaker phase-correlation peak are not applied", F(coreg_min_snr), NULL, 0, 0, NULL, NULL},
    {"max_shift_px", MW_KEY_NUMBER, "px", 0.1, 1000, "3", "longer shifts are taken as false matches, not applied", F(coreg_max_shift_px), NULL, 0, 0, NULL, NULL},
};
static const mw_key change_keys[] = {
    {"method", MW_KEY_CHOICE, "", 0, 0, "cva_otsu", "the generic multi-band change map: cva_otsu or irmad", F(change_method), change_choice, 0, 0, NULL, NULL},
};
static const mw_key baseline_forest_keys[] = {
    {"path", MW_KEY_PATH, "", 0, 0, NULL, "a raster of tree cover (%): baseline forest from it instead of the NDVI rule", F(baseline_forest), NULL, 1, 0, NULL, "treecover2000.tif"},
    {"min_percent", MW_KEY_NUMBER, "%", 0, 100, "30", "tree cover at or above this is baseline forest", F(baseline_forest_min_pct), NULL, 0, 0, NULL, NULL},
};
static const mw_key reference_forest_keys[] = {
    {"treecover", MW_KEY_SOURCE, "", 0, 0, NULL, "Hansen GFC tree cover 2000: a file, URL or tile template ({lat}_{lon})", F(rf_treecover), NULL, 1, 0, NULL, "Hansen_GFC-2023-v1.11_treecover2000_{lat}_{lon}.tif"},
    {"lossyear", MW_KEY_SOURCE, "", 0, 0, NULL, "Hansen GFC loss year, the same way", F(rf_lossyear), NULL, 1, 0, NULL, "Hansen_GFC-2023-v1.11_lossyear_{lat}_{lon}.tif"},
    {"emissions", MW_KEY_SOURCE, "", 0, 0, NULL, "GFW gross emissions (Mg CO2e per pixel), the same way (leave out: none)", F(rf_emissions), NULL, 0, 0, NULL, "gfw_emissions_{lat}_{lon}.tif"},
    {"min_cover", MW_KEY_NUMBER, "%", 0, 100, "30", "canopy density above which a pixel is forest", F(rf_min_cover), NULL, 0, 0, NULL, NULL},
    {"min_size_ha", MW_KEY_NUMBER, "ha", 0, 1e6, "0", "forest patches of at most this area do not count", F(rf_min_size_ha), NULL, 0, 0, NULL, NULL},
};
static const mw_key protected_areas_keys[] = {
    {"path", MW_KEY_PATH, "", 0, 0, NULL, "any OGR layer of protected or key biodiversity areas (a WDPA or KBA extract)", F(pa_path), NULL, 1, 0, NULL, "wdpa_extract.gpkg"},
    {"name_field", MW_KEY_TEXT, "", 0, 0, NULL, "the field naming each area (leave out: the layer's first text field)", F(pa_name_field), NULL, 0, 0, NULL, "NAME"},
    {"max_distance_km", MW_KEY_NUMBER, "km", 1, 20000, "500", "areas farther from every site are not read", F(pa_max_distance_km), NULL, 0, 0, NULL, NULL},
};
static const mw_key outputs_keys[] = {
    {"formats", MW_KEY_OTHER, "", 0, 0, "[gpkg, csv, maps, report, stac]", "what is written: gpkg, csv, maps, report, stac", NOF, NULL, 0, 0, NULL, NULL},
    {"datacube", MW_KEY_PATH, "", 0, 0, NULL, "the site datacube folder, shared between runs (leave out: <out>/tiles)", F(datacube), NULL, 0, 0, NULL, "../tiles"},
    {"postgis", MW_KEY_OTHER, "", 0, 0, NULL, "{connection: libpq conninfo without a password (~/.pgpass or PGPASSWORD), schema: a-z 0-9 _}: indicators and loss patches to <schema>.site_indicators and <schema>.forest_loss_patches", NOF, NULL, 0, 0, NULL, "{connection: \"host=db.example dbname=mw user=mw\", schema: minewatch}"},
};
// clang-format on
#undef F
#undef NOF

#define SECTION(name, keys, doc, required)                                                         \
    {                                                                                              \
        name, keys, sizeof keys / sizeof *keys, doc, required                                      \
    }
const mw_key_section mw_key_sections[] = {
    SECTION("", top_keys, "the top level", 1),
    SECTION("sites", sites_keys, "which sites", 1),
    SECTION("source", source_keys, "where the scenes come from", 1),
    SECTION("periods", periods_keys, "the baseline and the monitoring periods", 1),
    SECTION("grid", grid_keys, "each site's grid", 0),
    SECTION("mask", mask_keys, "clouds, shadows and other pixels left out", 0),
    SECTION("composite", composite_keys, "one composite per period", 0),
    SECTION("thresholds", thresholds_keys, "forest, loss and land-cover rules", 0),
    SECTION("coregistration", coreg_keys, "scene-to-scene alignment", 0),
    SECTION("change", change_keys, "the generic change map", 0),
    SECTION("baseline_forest", baseline_forest_keys, "optional: the user's own baseline forest", 0),
    SECTION("reference_forest", reference_forest_keys,
            "optional: Global Forest Watch figures beside minewatch's", 0),
    SECTION("protected_areas", protected_areas_keys, "optional: loss inside protected areas", 0),
    SECTION("outputs", outputs_keys, "what is written, and where", 0),
};
#undef SECTION
const size_t mw_key_nsections = sizeof mw_key_sections / sizeof *mw_key_sections;

const mw_key_section *mw_key_section_find(const char *name)
{
    for (size_t i = 0; i < mw_key_nsections; i++)
        if (strcmp(mw_key_sections[i].name, name) == 0) return &mw_key_sections[i];
    return NULL;
}

char *mw_keys_resolve(const mw_pipeline *p, const char *rel)
{
    if (rel[0] == '/') return mw_text_dup(rel);
    return mw_text_dup(CPLFormFilename(p->dir, rel, NULL));
}

/* "section.key" for messages, as a user writes it in the file. */
static void key_name(const mw_key_section *s, const mw_key *k, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", s->name, *s->name ? "." : "", k->key);
}

static void *field(mw_pipeline *p, const mw_key *k)
{
    return (char *)p + k->off;
}

static int choice_index(const mw_key *k, const char *s)
{
    for (int i = 0; s && k->choice(i); i++)
        if (strcmp(s, k->choice(i)) == 0) return i;
    return -1;
}

static void choice_list(const mw_key *k, char *out, size_t n)
{
    *out = 0;
    for (int i = 0; k->choice(i); i++) {
        if (*out) strncat(out, ", ", n - strlen(out) - 1);
        strncat(out, k->choice(i), n - strlen(out) - 1);
    }
}

/* QA class names, separated by commas, spaces or brackets: a default's text. */
static uint8_t qa_from_text(const char *t)
{
    uint8_t bits = 0;
    char name[32];
    size_t n = 0;
    for (const char *s = t;; s++) {
        if (*s && !strchr("[], ", *s)) {
            if (n + 1 < sizeof name) name[n++] = *s;
            continue;
        }
        name[n] = 0;
        if (n) bits |= (uint8_t)mw_qa_flag_by_name(name);
        n = 0;
        if (!*s) break;
    }
    return bits;
}

static void store_whole(mw_pipeline *p, const mw_key *k, double v)
{
    if (k->size == sizeof(uint64_t))
        *(uint64_t *)field(p, k) = (uint64_t)v;
    else
        *(int *)field(p, k) = (int)v;
}

void mw_keys_defaults(mw_pipeline *p)
{
    for (size_t i = 0; i < mw_key_nsections; i++)
        for (size_t j = 0; j < mw_key_sections[i].n; j++) {
            const mw_key *k = &mw_key_sections[i].keys[j];
            if (!k->size || (!k->def && !k->def_of)) continue;
            switch (k->type) {
            case MW_KEY_NUMBER:
                *(double *)field(p, k) = k->def_of ? k->def_of() : CPLAtof(k->def);
                break;
            case MW_KEY_WHOLE:
                store_whole(p, k, CPLAtof(k->def));
                break;
            case MW_KEY_BOOL:
                *(bool *)field(p, k) = strcmp(k->def, "true") == 0;
                break;
            case MW_KEY_CHOICE:
                *(int *)field(p, k) = choice_index(k, k->def);
                break;
            case MW_KEY_QA:
                *(uint8_t *)field(p, k) = qa_from_text(k->def);
                break;
            default: /* texts and paths default to none */
                break;
            }
        }
}

static int get_qa(const mw_yaml_ctx *c, yaml_node_t *v, const char *what, uint8_t *out)
{
    if (mw_yaml_need_list(c, v, what)) return -1;
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

static int parse_key(const mw_yaml_ctx *c, yaml_node_t *v, const mw_key_section *s, const mw_key *k,
                     mw_pipeline *p)
{
    char what[96];
    key_name(s, k, what, sizeof what);
    double d;
    switch (k->type) {
    case MW_KEY_NUMBER:
        return mw_yaml_get_num(c, v, what, k->lo, k->hi, (double *)field(p, k));
    case MW_KEY_WHOLE:
        if (mw_yaml_get_whole(c, v, what, k->lo, k->hi, &d)) return -1;
        store_whole(p, k, d);
        return 0;
    case MW_KEY_BOOL:
        return mw_yaml_get_bool(c, v, what, (bool *)field(p, k));
    case MW_KEY_TEXT:
        return mw_yaml_get_str(c, v, what, (char **)field(p, k));
    case MW_KEY_PATH:
    case MW_KEY_SOURCE: {
        char *t = NULL;
        if (mw_yaml_get_str(c, v, what, &t)) return -1;
        char **dst = field(p, k);
        free(*dst);
        *dst =
            k->type == MW_KEY_SOURCE && strstr(t, "://") ? mw_text_dup(t) : mw_keys_resolve(p, t);
        free(t);
        return *dst ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    }
    case MW_KEY_TEXTS:
        return mw_yaml_get_texts(c, v, what, (char ***)field(p, k));
    case MW_KEY_CHOICE: {
        const char *t = mw_yaml_scalar(v);
        int i = choice_index(k, t);
        if (i < 0) {
            char list[160];
            choice_list(k, list, sizeof list);
            return mw_yaml_err_at(c, v, "unknown %s '%s' (known: %s)", what, t ? t : "?", list);
        }
        *(int *)field(p, k) = i;
        return 0;
    }
    case MW_KEY_QA:
        return get_qa(c, v, what, (uint8_t *)field(p, k));
    case MW_KEY_OTHER:
        return 0;
    }
    return 0;
}

int mw_keys_parse(const mw_yaml_ctx *c, yaml_node_t *n, const mw_key_section *s, int sources,
                  mw_pipeline *p)
{
    const char *known[64];
    size_t nk = 0;
    for (size_t i = 0; i < s->n && nk + 1 < sizeof known / sizeof *known; i++)
        if (!sources || !s->keys[i].sources || (s->keys[i].sources & sources))
            known[nk++] = s->keys[i].key;
    known[nk] = NULL;
    char section[96];
    snprintf(section, sizeof section, "%s%s", *s->name ? s->name : "top level",
             sources == MW_KEY_SIM     ? " (type simulator)"
             : sources == MW_KEY_LOCAL ? " (type local)"
             : sources == MW_KEY_API   ? " (type stac_api)"
                                       : "");
    if (mw_yaml_check_keys(c, n, section, known)) return -1;
    for (size_t i = 0; i < s->n; i++) {
        const mw_key *k = &s->keys[i];
        if (sources && k->sources && !(k->sources & sources)) continue;
        yaml_node_t *v = mw_yaml_map_get(c, n, k->key);
        if (!v && k->required) {
            if (mw_yaml_need(c, n, k->key, *s->name ? s->name : "the pipeline", &v)) return -1;
        }
        if (v && parse_key(c, v, s, k, p)) return -1;
    }
    return 0;
}
