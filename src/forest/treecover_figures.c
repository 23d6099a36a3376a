/* Per-year tree cover, loss and emissions of one polygon; the method and where it differs from
 * mapme.biodiversity are in minewatch/treecover.h. Sums run in raster order in double, so the
 * figures never depend on threads (one polygon is one thread's work). */
#include "minewatch/treecover.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"

static int32_t find(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

/* 4-connected components of forest pixels inside the polygon: label[i] (-1 outside any) is
 * the component's root. */
static void label_patches(const uint8_t *forest, int w, int h, int32_t *label)
{
    size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++)
        label[i] = forest[i] ? (int32_t)i : -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (label[i] < 0) continue;
            if (x > 0 && label[i - 1] >= 0) {
                int32_t a = find(label, (int32_t)i), b = find(label, (int32_t)(i - 1));
                if (a != b) label[a > b ? a : b] = a < b ? a : b;
            }
            if (y > 0 && label[i - (size_t)w] >= 0) {
                int32_t a = find(label, (int32_t)i), b = find(label, (int32_t)(i - (size_t)w));
                if (a != b) label[a > b ? a : b] = a < b ? a : b;
            }
        }
    for (size_t i = 0; i < n; i++)
        if (label[i] >= 0) label[i] = find(label, (int32_t)i);
}

int mw_treecover_figures(const mw_treecover_window *win, const mw_treecover_params *p,
                         mw_treecover_year *years, mw_treecover_stats *stats)
{
    const int w = win->w, h = win->h;
    const int ny = p->year_to - p->year_from + 1;
    memset(stats, 0, sizeof *stats);
    for (int k = 0; k < ny; k++)
        years[k] = (mw_treecover_year){p->year_from + k, 0, 0, win->emissions ? 0 : NAN};
    if ((double)w * (double)h >= 2147483647.0)
        return mw_error_set(MW_ERR_NOMEM, "window of %d x %d pixels is too large", w, h);
    size_t n = (size_t)w * (size_t)h;
    uint8_t *forest = malloc(n ? n : 1);
    int32_t *label = malloc((n ? n : 1) * sizeof *label);
    double *patch_ha = NULL;
    if (!forest || !label) goto nomem;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            forest[i] = 0;
            if (win->coverage[i] <= 0) continue;
            stats->pixels++;
            if (win->treecover[i] == MW_GFC_NODATA || win->lossyear[i] == MW_GFC_NODATA ||
                win->treecover[i] > 100) {
                stats->unknown_pixels++;
                continue;
            }
            forest[i] = win->treecover[i] > p->min_cover_pct;
        }
    }
    if (stats->unknown_pixels)
        return free(forest), free(label),
               mw_error_set(MW_ERR_INPUT,
                            "%ld of the polygon's %ld pixels have no tree cover or loss year "
                            "(outside the rasters or no data): no figures for a part of a site",
                            stats->unknown_pixels, stats->pixels);
    label_patches(forest, w, h, label);
    /* patch areas, indexed by root pixel */
    patch_ha = calloc(n ? n : 1, sizeof *patch_ha);
    if (!patch_ha) goto nomem;
    for (size_t i = 0; i < n; i++)
        if (label[i] >= 0) patch_ha[label[i]] += win->coverage[i] * win->row_area_ha[i / (size_t)w];
    /* loss area and emissions by loss year (index 0: no loss) */
    double forest_ha = 0, loss_ha[256] = {0}, emis[256] = {0};
    long missing[256] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (label[i] < 0 || !(patch_ha[label[i]] > p->min_size_ha)) continue;
            double a = win->coverage[i] * win->row_area_ha[y];
            uint8_t ly = win->lossyear[i];
            forest_ha += a;
            loss_ha[ly] += a;
            if (ly && win->emissions) {
                float e = win->emissions[i];
                if (isfinite(e))
                    emis[ly] += win->coverage[i] * (double)e;
                else
                    stats->loss_pixels_without_emissions++, missing[ly]++;
            }
        }
    double lost = 0;
    for (int ly = 1; ly < 256 && 2000 + ly < p->year_from; ly++)
        lost += loss_ha[ly];
    for (int k = 0; k < ny; k++) {
        int ly = years[k].year - 2000;
        double l = ly >= 1 && ly < 255 ? loss_ha[ly] : 0;
        lost += l;
        years[k].loss_ha = l;
        years[k].treecover_ha = forest_ha - lost;
        if (win->emissions)
            years[k].emissions_mg_co2e = ly < 1 || ly >= 255 ? 0 : missing[ly] ? NAN : emis[ly];
    }
    free(forest), free(label), free(patch_ha);
    return 0;
nomem:
    free(forest), free(label), free(patch_ha);
    return mw_error_set(MW_ERR_NOMEM, "tree cover: out of memory for %d x %d pixels", w, h);
}
