/* Hot pixels per scene; see pipeline/site_heat.h. */
#include "pipeline/site_heat.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>

#include "minewatch/error.h"
#include "minewatch/qa.h"

static int band_index(const mw_pipeline *p, mw_band b)
{
    for (int i = 0; i < p->nbands; i++)
        if (p->bands[i] == b) return i;
    return -1;
}

int mw_site_heat(const mw_pipeline *p, const mw_grid *g, const uint8_t *mask,
                 const period_stack *ps, mw_indicator_row *row)
{
    const int s16 = band_index(p, MW_BAND_SWIR16), s22 = band_index(p, MW_BAND_SWIR22);
    int n8 = band_index(p, MW_BAND_NIR08);
    if (n8 < 0) n8 = band_index(p, MW_BAND_NIR);
    if (s16 < 0 || s22 < 0 || n8 < 0 || ps->n == 0) return 0; /* cells stay empty */
    const size_t npix = mw_grid_npix(g);
    const uint8_t not_seen = MW_QA_NODATA | MW_QA_CLOUD | MW_QA_SHADOW | MW_QA_CIRRUS;
    /* per chip, on every thread (each its own buffers); summed in chip order below */
    long *hot = calloc(ps->n, sizeof *hot), *saturated = calloc(ps->n, sizeof *saturated);
    double *tai_max = malloc(ps->n * sizeof *tai_max);
    int *failed = calloc(ps->n, sizeof *failed);
    char **why = calloc(ps->n, sizeof *why);
    if (!hot || !saturated || !tai_max || !failed || !why) {
        free(hot), free(saturated), free(tai_max), free(failed), free(why);
        return mw_error_set(MW_ERR_NOMEM, "heat: out of memory");
    }
#pragma omp parallel
    {
        float *v = malloc(3 * npix * sizeof *v);
        uint8_t *qa = malloc(npix);
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < ps->n; c++) {
            const mw_chip *ch = &ps->c[c].chip;
            tai_max[c] = NAN;
            int rc = !v || !qa ? mw_error_set(MW_ERR_NOMEM, "heat: out of memory") : 0;
            GDALDatasetH d = rc ? NULL : GDALOpen(ch->path, GA_ReadOnly);
            GDALDatasetH q = rc ? NULL : GDALOpen(ch->qa_path, GA_ReadOnly);
            const int bands[3] = {s16 + 1, s22 + 1, n8 + 1};
            for (int b = 0; b < 3 && rc == 0; b++)
                if (!d || GDALRasterIO(GDALGetRasterBand(d, bands[b]), GF_Read, 0, 0, g->width,
                                       g->height, v + (size_t)b * npix, g->width, g->height,
                                       GDT_Float32, 0, 0) != CE_None)
                    rc = mw_error_from_gdal(MW_ERR_IO, "heat: cannot read chip '%s'", ch->path);
            if (rc == 0 &&
                (!q || GDALRasterIO(GDALGetRasterBand(q, 1), GF_Read, 0, 0, g->width, g->height, qa,
                                    g->width, g->height, GDT_Byte, 0, 0) != CE_None))
                rc = mw_error_from_gdal(MW_ERR_IO, "heat: cannot read chip QA '%s'", ch->qa_path);
            if (d) GDALClose(d);
            if (q) GDALClose(q);
            if (rc) {
                failed[c] = 1;
                why[c] = strdup(mw_error_message());
                continue;
            }
            for (size_t i = 0; i < npix; i++) {
                if (!mask[i] || (qa[i] & not_seen)) continue;
                const double r16 = v[i], r22 = v[npix + i], r8 = v[2 * npix + i];
                if (!(r8 > 0) || !isfinite(r16) || !isfinite(r22)) continue;
                const double tai = (r22 - r16) / r8;
                /* Liu et al.'s two rules, and a floor of our own: on dark surfaces (water)
                 * sensor noise alone can pass the ratio, a furnace lifts swir22 far above it */
                if (tai >= 0.45 && r22 - r16 >= r16 - r8 && r22 - r16 >= MW_HEAT_MIN_EXCESS) {
                    hot[c]++;
                    saturated[c] += (qa[i] & MW_QA_SATURATED) != 0;
                    if (!(tai <= tai_max[c])) tai_max[c] = tai; /* NaN at first */
                }
            }
        }
        free(v), free(qa);
    }
    long total = 0;
    double max_tai = NAN;
    int rc = 0;
    for (size_t c = 0; c < ps->n; c++) {
        if (failed[c]) { /* the first chip that failed, as the serial loop said */
            rc = mw_error_set(MW_ERR_IO, "%s", why[c] ? why[c] : "heat: a chip failed");
            break;
        }
        total += hot[c];
        if (!(tai_max[c] <= max_tai) && !isnan(tai_max[c])) max_tai = tai_max[c];
        if (ps->c[c].prov)
            json_object_set_new(ps->c[c].prov, "heat",
                                json_pack("{s:I,s:I}", "hot_pixels", (json_int_t)hot[c],
                                          "saturated_hot_pixels", (json_int_t)saturated[c]));
    }
    for (size_t c = 0; c < ps->n; c++)
        free(why[c]);
    free(hot), free(saturated), free(tai_max), free(failed), free(why);
    if (rc) return rc;
    row->hot_pixel_days = (double)total;
    row->max_tai = max_tai;
    return 0;
}
