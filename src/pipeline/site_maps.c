#include "pipeline/site_maps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_string.h>
#include <gdal.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/name_check.h"
#include "core/text.h"
#include "minewatch/change_vector.h"
#include "minewatch/coregister.h"
#include "minewatch/forest_change.h"

#include "minewatch/severity.h"
#include "minewatch/trend.h"
#include "minewatch/warp.h"

double mw_map_nodata(int gdal_type)
{
    switch ((GDALDataType)gdal_type) {
    case GDT_Byte:
        return 255;
    case GDT_UInt16:
        return 65535;
    case GDT_UInt32:
        return 4294967295.0;
    default:
        return NAN;
    }
}

/* The raster attribute table of a class map: value, name, colour, pixels and hectares per class,
 * so a GIS (QGIS 3.30+, ArcGIS) shows names and areas without a legend file. GeoTIFF keeps it in
 * the .aux.xml beside the map. */
static GDALRasterAttributeTableH class_table(const mw_grid *g, const unsigned char *plane,
                                             const mw_map_class *classes, int nclasses)
{
    long count[256] = {0};
    const size_t npix = mw_grid_npix(g);
    for (size_t i = 0; i < npix; i++)
        count[plane[i]]++;
    GDALRasterAttributeTableH t = GDALCreateRasterAttributeTable();
    GDALRATSetTableType(t, GRTT_THEMATIC);
    GDALRATCreateColumn(t, "value", GFT_Integer, GFU_MinMax);
    GDALRATCreateColumn(t, "class", GFT_String, GFU_Name);
    GDALRATCreateColumn(t, "red", GFT_Integer, GFU_Red);
    GDALRATCreateColumn(t, "green", GFT_Integer, GFU_Green);
    GDALRATCreateColumn(t, "blue", GFT_Integer, GFU_Blue);
    GDALRATCreateColumn(t, "pixels", GFT_Integer, GFU_PixelCount);
    GDALRATCreateColumn(t, "hectares", GFT_Real, GFU_Generic);
    const double px_ha = g->res * g->res / 1e4;
    for (int i = 0; i < nclasses; i++) {
        const mw_map_class *c = &classes[i];
        GDALRATSetValueAsInt(t, i, 0, c->value);
        GDALRATSetValueAsString(t, i, 1, c->name);
        GDALRATSetValueAsInt(t, i, 2, c->r);
        GDALRATSetValueAsInt(t, i, 3, c->g);
        GDALRATSetValueAsInt(t, i, 4, c->b);
        GDALRATSetValueAsInt(t, i, 5, (int)count[c->value & 255]);
        /* two decimals, as the indicators: the table must not read finer than the maps are */
        GDALRATSetValueAsDouble(t, i, 6, round(count[c->value & 255] * px_ha * 100) / 100);
    }
    return t;
}

static int write_cog_map(const char *path, const mw_grid *g, const mw_map_bands *m,
                         const mw_map_class *classes, int nclasses)
{
    if (!path) return -1; /* the path could not be made: the error says why */
    const GDALDataType t = (GDALDataType)m->gdal_type;
    const double nodata = mw_map_nodata(m->gdal_type);
    GDALDatasetH mem = mw_grid_create_dataset(g, "MEM", NULL, m->nbands, t, NULL);
    int rc = mem ? 0 : mw_error_from_gdal(MW_ERR_IO, "cannot lay out '%s'", path);
    if (mem) {
        GDALSetDescription(mem, m->desc);
        GDALSetMetadataItem(mem, "TIFFTAG_IMAGEDESCRIPTION", m->desc, NULL);
        GDALSetMetadataItem(mem, "MW_NODATA_CONVENTION", MW_MAP_NODATA_RULE, NULL);
        for (int b = 0; b < m->nbands && rc == 0; b++) {
            GDALRasterBandH h = GDALGetRasterBand(mem, b + 1);
            GDALSetRasterNoDataValue(h, nodata);
            GDALSetDescription(h, m->band_names ? m->band_names[b] : m->desc);
            if (m->units && m->units[b] && *m->units[b]) GDALSetRasterUnitType(h, m->units[b]);
            if (GDALRasterIO(h, GF_Write, 0, 0, g->width, g->height, (void *)m->planes[b], g->width,
                             g->height, t, 0, 0) != CE_None)
                rc = mw_error_from_gdal(MW_ERR_IO, "cannot fill '%s'", path);
        }
        if (rc == 0 && nclasses > 0) {
            GDALRasterBandH h = GDALGetRasterBand(mem, 1);
            GDALColorTableH ct = GDALCreateColorTable(GPI_RGB);
            for (int i = 0; i < nclasses; i++) {
                GDALColorEntry e = {classes[i].r, classes[i].g, classes[i].b, 255};
                GDALSetColorEntry(ct, classes[i].value, &e);
                char key[32];
                snprintf(key, sizeof key, "CLASS_%d", classes[i].value);
                GDALSetMetadataItem(h, key, classes[i].name, NULL);
            }
            GDALSetRasterColorTable(h, ct);
            GDALSetRasterColorInterpretation(h, GCI_PaletteIndex);
            GDALDestroyColorTable(ct);
            GDALRasterAttributeTableH rat = class_table(g, m->planes[0], classes, nclasses);
            GDALSetDefaultRAT(h, rat);
            GDALDestroyRasterAttributeTable(rat);
        }
    }
    char *tmp = mw_part_path(path);
    char *tmp_aux = tmp ? mw_text_format("%s.aux.xml", tmp) : NULL;
    char *aux = mw_text_format("%s.aux.xml", path);
    if (rc == 0 && tmp && tmp_aux && aux) {
        const int integer = t != GDT_Float32 && t != GDT_Float64;
        char **co = CSLSetNameValue(NULL, "COMPRESS", "DEFLATE");
        co = CSLSetNameValue(co, "PREDICTOR", "YES");
        /* Real-valued maps (composites: most of the bytes) gain 0.2 % from level 6 over level 1
         * and take 35 % longer to write; class and count maps gain 8-35 % and are small. */
        co = CSLSetNameValue(co, "LEVEL", integer ? "6" : "1");
        co = CSLSetNameValue(co, "OVERVIEWS", "AUTO");
        co = CSLSetNameValue(co, "RESAMPLING", integer ? "NEAREST" : "AVERAGE");
        /* compressed on every thread when maps are written one after the other, on this one when
         * several are written at once (mw_change_write_outputs); the tiles are written in order
         * either way, so the bytes do not depend on the thread count */
        char nt[16];
        snprintf(nt, sizeof nt, "%d", omp_in_parallel() ? 1 : omp_get_max_threads());
        co = CSLSetNameValue(co, "NUM_THREADS", nt);
        GDALDatasetH out =
            GDALCreateCopy(GDALGetDriverByName("COG"), tmp, mem, FALSE, co, NULL, NULL);
        CSLDestroy(co);
        if (!out)
            rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
        else if (mw_gdal_close_written(out, path))
            rc = -1;
    } else if (rc == 0)
        rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (mem) GDALClose(mem);
    /* The table first: a map in place always has its own table beside it. */
    if (rc == 0 && access(tmp_aux, F_OK) == 0)
        rc = mw_commit_path(tmp_aux, aux);
    else if (rc == 0 && nclasses > 0)
        rc = mw_error_set(MW_ERR_IO, "GDAL wrote no attribute table for '%s'", path);
    if (rc == 0) rc = mw_commit_path(tmp, path);
    if (rc && tmp) mw_remove_tree(tmp);
    if (rc && tmp_aux) mw_remove_tree(tmp_aux);
    free(tmp), free(tmp_aux), free(aux);
    return rc;
}

const unsigned char mw_period_palette[6][3] = {{228, 26, 28}, {255, 127, 0},   {152, 78, 163},
                                               {166, 86, 40}, {247, 129, 191}, {77, 175, 74}};

int mw_write_map(const char *path, const mw_grid *g, const mw_map_bands *m)
{
    return write_cog_map(path, g, m, NULL, 0);
}

int mw_write_class_map(const char *path, const mw_grid *g, const unsigned char *plane,
                       const char *desc, const mw_map_class *classes, int nclasses)
{
    const mw_map_bands m = {GDT_Byte, 1, (const void *const[]){plane}, desc, NULL, NULL};
    return write_cog_map(path, g, &m, classes, nclasses);
}

char *mw_map_path(const char *maps_dir, const char *site_id, const char *what, const char *period,
                  const char *ext)
{
    /* Ids and period names were checked when read; checked again here, where they become file
     * names, so no caller can slip a path through. */
    if (mw_name_check(site_id, "site id") || (period && mw_name_check(period, "period name")))
        return NULL;
    size_t n = strlen(maps_dir) + strlen(site_id) + strlen(what) + (period ? strlen(period) : 0) +
               strlen(ext) + 8;
    char *s = malloc(n);
    if (!s) {
        mw_error_set(MW_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(s, n, "%s/%s_%s%s%s%s", maps_dir, site_id, what, period ? "_" : "",
             period ? period : "", ext);
    return s;
}

char *mw_composite_map_path(const char *maps_dir, const char *site_id, const char *period)
{
    return mw_map_path(maps_dir, site_id, "composite", period, ".tif");
}

mw_change_config mw_pipeline_change_config(const mw_pipeline *p, int chunk_rows)
{
    mw_change_config c = {
        {p->water_mndwi_min, p->forest_ndvi_min, p->veg_ndvi_min, p->built_iron_ratio_max},
        p->loss_ndvi_drop_min,
        p->loss_min_width_px,
        p->loss_mmu_ha,
        NULL,
        chunk_rows,
        p->change_method};
    return c;
}

int mw_load_baseline_forest(const mw_pipeline *p, const mw_grid *g, uint8_t **out)
{
    *out = NULL;
    if (!p->baseline_forest) return 0;
    const size_t npix = mw_grid_npix(g);
    float *pct = malloc(npix * sizeof *pct);
    uint8_t *f = malloc(npix);
    if (!pct || !f) {
        free(pct), free(f);
        return mw_error_set(MW_ERR_NOMEM, "out of memory for the baseline forest map");
    }
    mw_scene_asset a = {p->baseline_forest, 1, 0, 255, NULL, NULL, 1}; /* Hansen: 255 unused */
    mw_warp_spec ws = {MW_RESAMPLE_BILINEAR, GDT_Float32, 0, 0, 0, 1, 0};
    if (mw_warp_to_grid(&a, g, &ws, pct)) {
        free(pct), free(f);
        return mw_error_prefix("baseline_forest '%s' (a raster of tree cover %%)",
                               p->baseline_forest);
    }
    for (size_t i = 0; i < npix; i++)
        f[i] = isnan(pct[i]) ? 255 : pct[i] >= p->baseline_forest_min_pct;
    free(pct);
    *out = f;
    return 0;
}

double mw_period_mid_year(const mw_period *per)
{
    /* Days since 1970 over the mean Gregorian year: a time axis in years for the trend. */
    return 1970.0 + (0.5 * ((double)per->start + (double)per->end) + 0.5) / 365.2425;
}

void mw_change_fill_rows(mw_indicator_row *rows, const mw_site_change *c)
{
    for (size_t k = 0; k < c->nperiods; k++) {
        mw_indicator_row *r = &rows[k];
        const mw_period_change *pc = &c->per[k];
        r->ndvi_trend_per_yr = c->site_trend.slope;
        /* Mann-Kendall on 3 points cannot go below p = 0.296: a number that only looks like a
         * test. Below MW_TREND_MIN_N_FOR_P points the cell stays empty (provenance says why). */
        r->ndvi_trend_p = c->site_trend.n >= MW_TREND_MIN_N_FOR_P ? c->site_trend.p : NAN;
        if (!pc->ok) continue;
        r->valid_fraction = pc->valid_fraction;
        r->ndvi_mean = pc->ndvi_mean;
        r->forest_ha = pc->cover_ha[MW_COVER_FOREST];
        r->forest_baseline_ha = c->forest_baseline_ha;
        r->forest_loss_ha = pc->forest_loss_ha;
        r->forest_observed_fraction = pc->forest_observed_fraction;
        r->loss_patches = pc->loss_patches;
        r->disturbed_ha = pc->cover_ha[MW_COVER_BARE];
        r->water_ha = pc->cover_ha[MW_COVER_WATER];
        r->built_ha = pc->cover_ha[MW_COVER_BUILT];
        r->reveg_ha = pc->reveg_ha;
        r->dnbr_high_ha = pc->dnbr_high_ha;
        r->changed_ha = pc->changed_ha;
        r->veg_cleared_ha = pc->veg_cleared_ha;
    }
}

static int cover_map_value(int cover_class)
{
    return cover_class == MW_COVER_NODATA ? (int)mw_map_nodata(GDT_Byte) : cover_class;
}

static void report_io(mw_run_report *rep, const char *site_id, int rc)
{
    if (rc) mw_report_add(rep, site_id, "", "outputs", "%s", mw_error_message());
    mw_error_clear();
}

static int write_transitions(const char *path, const char *site_id, const mw_pipeline *p,
                             const mw_site_change *c)
{
    if (!path) return -1;
    char *tmp = mw_part_path(path);
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    if (!f) {
        free(tmp);
        return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    }
    fprintf(f, "site_id,period,from_baseline,to,ha\n");
    for (size_t k = 1; k < c->nperiods; k++) {
        if (!c->per[k].ok) continue;
        for (int a = 0; a < MW_COVER_COUNT; a++)
            for (int b = 0; b < MW_COVER_COUNT; b++)
                fprintf(f, "%s,%s,%s,%s,%.2f\n", site_id, p->periods[k].name,
                        mw_cover_name((mw_cover)a), mw_cover_name((mw_cover)b),
                        c->per[k].transition_ha[a * MW_COVER_COUNT + b]);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    int rc = bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : mw_commit_path(tmp, path);
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

void mw_change_write_outputs(const char *maps_dir, const char *site_id, const mw_grid *g,
                             const mw_pipeline *p, const mw_site_change *c, mw_run_report *rep)
{
    /* On disk the no-data class is the convention's 255 (class 0 in memory): cover_map_value. */
    char legend[512] = "land cover:";
    mw_map_class cover_classes[MW_COVER_COUNT];
    int ncover = 0;
    for (int i = 0; i < MW_COVER_COUNT; i++) {
        char one[64];
        snprintf(one, sizeof one, " %d %s%s", cover_map_value(i), mw_cover_rules[i].name,
                 i + 1 < MW_COVER_COUNT ? "," : "");
        strncat(legend, one, sizeof legend - strlen(legend) - 1);
        if (i != MW_COVER_NODATA)
            cover_classes[ncover++] =
                (mw_map_class){i, mw_cover_rules[i].name, mw_cover_rules[i].rgb[0],
                               mw_cover_rules[i].rgb[1], mw_cover_rules[i].rgb[2]};
    }
    static const mw_map_class cleared_classes[2] = {{0, "not cleared", 230, 230, 230},
                                                    {1, "vegetation cleared", 255, 215, 0}};
    static const mw_map_class change_classes[2] = {{0, "no change", 230, 230, 230},
                                                   {1, "change", 215, 48, 31}};
    /* forest loss: the values name their periods */
    mw_map_class loss_classes[64];
    char loss_names[64][96];
    int nloss = 0;
    loss_classes[nloss++] = (mw_map_class){0, "no forest loss", 230, 230, 230};
    for (size_t k = 1; k < c->nperiods && nloss < 64; k++, nloss++) {
        snprintf(loss_names[nloss], sizeof loss_names[nloss], "forest loss first seen in %s",
                 p->periods[k].name);
        const unsigned char *rgb = mw_period_palette[(k - 1) % 6];
        loss_classes[nloss] = (mw_map_class){(int)k, loss_names[nloss], rgb[0], rgb[1], rgb[2]};
    }
    /* The files, written on every thread: each is compressed and committed on its own, so its
     * bytes do not depend on which thread wrote it (GDAL's own threads alone left most of the
     * time serial: overviews, predictors). */
    enum {
        NDVI,
        COVER,
        DNBR,
        CLEARED,
        CHANGED,
        PER_PERIOD,
        LOSS = PER_PERIOD,
        TREND,
        PATCHES,
        TABLE,
        END /* the site's own files: LOSS to TABLE */
    };
    const size_t njobs = c->nperiods * PER_PERIOD + (END - PER_PERIOD);
    const size_t npix = mw_grid_npix(g);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t j = 0; j < njobs; j++) {
        const size_t k = j < c->nperiods * PER_PERIOD ? j / PER_PERIOD : 0;
        const int what = j < c->nperiods * PER_PERIOD
                             ? (int)(j % PER_PERIOD)
                             : PER_PERIOD + (int)(j - c->nperiods * PER_PERIOD);
        const char *pn = p->periods[k].name;
        if (what < PER_PERIOD && (!c->per[k].ok || (k == 0 && what > COVER))) continue;
        char *f = NULL;
        int rc = 0;
        switch (what) {
        case NDVI: {
            f = mw_map_path(maps_dir, site_id, "ndvi", pn, ".tif");
            const mw_map_bands ndvi = {
                GDT_Float32, 1,   (const void *const[]){c->ndvi[k]}, "NDVI of the period composite",
                NULL,        NULL};
            rc = mw_write_map(f, g, &ndvi);
            break;
        }
        case COVER: {
            uint8_t *plane = malloc(npix);
            if (!plane) {
                rc = mw_error_set(MW_ERR_NOMEM, "out of memory for the land-cover map");
                break;
            }
            for (size_t i = 0; i < npix; i++)
                plane[i] = (uint8_t)cover_map_value(c->cover[k][i]);
            f = mw_map_path(maps_dir, site_id, "cover", pn, ".tif");
            rc = mw_write_class_map(f, g, plane, legend, cover_classes, ncover);
            free(plane);
            break;
        }
        case DNBR: {
            if (!c->dnbr[k]) break;
            f = mw_map_path(maps_dir, site_id, "dnbr", pn, ".tif");
            const mw_map_bands dnbr = {GDT_Float32,
                                       1,
                                       (const void *const[]){c->dnbr[k]},
                                       "dNBR = NBR(baseline) - NBR(period); Key & Benson classes",
                                       NULL,
                                       NULL};
            rc = mw_write_map(f, g, &dnbr);
            break;
        }
        case CLEARED:
            if (!c->cleared[k]) break;
            f = mw_map_path(maps_dir, site_id, "veg_cleared", pn, ".tif");
            rc = mw_write_class_map(f, g, c->cleared[k],
                                    "vegetated in the baseline, bare, disturbed or built in "
                                    "this period (1; 0 not; 255 no data)",
                                    cleared_classes, 2);
            break;
        case CHANGED:
            if (!c->changed[k]) break;
            f = mw_map_path(maps_dir, site_id, "change", pn, ".tif");
            rc = mw_write_class_map(f, g, c->changed[k], mw_change_methods[p->change_method].rule,
                                    change_classes, 2);
            break;
        case LOSS:
            f = mw_map_path(maps_dir, site_id, "forest_loss", NULL, ".tif");
            rc = mw_write_class_map(f, g, c->first_loss,
                                    "first monitoring period with forest loss (0 none, 255 no "
                                    "data; CLASS_<n> names each value's period)",
                                    loss_classes, nloss);
            break;
        case TREND: {
            const void *tr[2] = {c->trend_slope, c->trend_p};
            const char *names[2] = {"ndvi_slope_per_year (Theil-Sen)",
                                    "mann_kendall_p (two-sided)"};
            const char *units[2] = {"NDVI/year", ""};
            const mw_map_bands trend = {
                GDT_Float32, 2, tr, "NDVI trend over the periods, per pixel", names, units};
            f = mw_map_path(maps_dir, site_id, "ndvi_trend", NULL, ".tif");
            rc = mw_write_map(f, g, &trend);
            break;
        }
        case PATCHES: {
            const char **names = calloc(c->nperiods, sizeof *names);
            if (!names) {
                rc = mw_error_set(MW_ERR_NOMEM, "out of memory for the loss patches");
                break;
            }
            for (size_t q = 0; q < c->nperiods; q++)
                names[q] = p->periods[q].name;
            f = mw_map_path(maps_dir, site_id, "loss_patches", NULL, ".gpkg");
            rc = mw_loss_patches_write(f, g, site_id, c, names);
            free(names);
            break;
        }
        default:
            f = mw_map_path(maps_dir, site_id, "transitions", NULL, ".csv");
            rc = write_transitions(f, site_id, p, c);
        }
        report_io(rep, site_id, rc);
        free(f);
    }
}

json_t *mw_change_methods_json(const mw_pipeline *p)
{
    json_t *cover = json_array();
    for (int i = 0; i < MW_COVER_COUNT; i++)
        json_array_append_new(cover,
                              json_pack("{s:i,s:s,s:s,s:s}", "code", cover_map_value(i), "name",
                                        mw_cover_rules[i].name, "rule", mw_cover_rules[i].rule,
                                        "citation", mw_cover_rules[i].citation));
    json_t *m = json_pack(
        "{s:o,s:{s:f,s:f,s:f,s:f},s:{s:s,s:s,s:f,s:f,s:i,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:f,"
        "s:f,s:s}}",
        "land_cover_rules", cover, "land_cover_thresholds", "water_mndwi_min", p->water_mndwi_min,
        "forest_ndvi_min", p->forest_ndvi_min, "veg_ndvi_min", p->veg_ndvi_min,
        "built_iron_ratio_max", p->built_iron_ratio_max, "forest_loss", "rule",
        "forest (land cover) in the baseline, not forest and not no data now, NDVI drop >= "
        "loss_ndvi_drop_min; opened by loss_min_width_px; 8-connected patches smaller than "
        "loss_mmu_ha dropped",
        "citation", MW_FOREST_RULE_CITATION, "loss_ndvi_drop_min", p->loss_ndvi_drop_min,
        "loss_mmu_ha", p->loss_mmu_ha, "loss_min_width_px", p->loss_min_width_px, "opening",
        MW_LOSS_OPENING_CITATION, "burn_severity", "rule",
        "dNBR = NBR(baseline) - NBR(period), NBR = (nir-swir22)/(nir+swir22); dnbr_high_ha: "
        "dNBR >= 0.66",
        "citation", mw_severity_citation, "trend", "rule",
        "per pixel and per site (site-mean NDVI): Theil-Sen slope per year over the periods' "
        "middles, Mann-Kendall p",
        "citation", MW_TREND_CITATION, "coregistration", "rule",
        "NIR phase correlation of every chip against the clearest baseline chip over clear "
        "pixels (the largest window clear in both), upsampled DFT x100; a shift with SNR >= "
        "min_snr, >= 0.02 px and <= max_shift_px is applied by re-sampling the scene once",
        "min_snr", p->coreg_min_snr, "max_shift_px", p->coreg_max_shift_px, "citation",
        MW_COREG_CITATION);
    const mw_change_method_info *gm = &mw_change_methods[p->change_method];
    json_object_set_new(
        m, "generic_change",
        json_pack("{s:s,s:s,s:s}", "method", gm->name, "rule", gm->rule, "citation", gm->citation));
    if (p->baseline_forest)
        json_object_set_new(m, "baseline_forest",
                            json_pack("{s:s,s:f,s:s}", "path", p->baseline_forest, "min_percent",
                                      p->baseline_forest_min_pct, "rule",
                                      "tree cover % averaged onto the grid; at or above "
                                      "min_percent is baseline forest, instead of the NDVI rule"));
    return m;
}
