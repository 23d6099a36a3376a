#include "minewatch/site_change.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/change_vector.h"
#include "minewatch/error.h"
#include "minewatch/forest_change.h"
#include "minewatch/patches.h"
#include "minewatch/severity.h"
#include "minewatch/spectral_index.h"

void mw_site_change_free(mw_site_change *c)
{
    for (size_t k = 0; k < c->nperiods; k++) {
        if (c->cover) free(c->cover[k]);
        if (c->ndvi) free(c->ndvi[k]);
        if (c->dnbr) free(c->dnbr[k]);
        if (c->changed) free(c->changed[k]);
        if (c->cleared) free(c->cleared[k]);
    }
    free(c->cover), free(c->ndvi), free(c->dnbr), free(c->changed), free(c->cleared);
    free(c->per), free(c->first_loss), free(c->lost_by), free(c->patches);
    free(c->trend_slope), free(c->trend_p);
    memset(c, 0, sizeof *c);
}

static int is_veg(uint8_t c)
{
    return c == MW_COVER_FOREST || c == MW_COVER_OTHER_VEG;
}

/* Per-pixel Theil-Sen and Mann-Kendall over the periods with a composite; pixels are
 * independent, so any thread count gives the same map. */
static void pixel_trends(mw_site_change *c, const uint8_t *mask, size_t npix, const double *t)
{
    double tt[64];
    int m = 0;
    size_t idx[64];
    for (size_t k = 0; k < c->nperiods && m < 64; k++)
        if (c->per[k].ok) tt[m] = t[k], idx[m++] = k;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < npix; i++) {
        float v[64];
        mw_trend tr = {0, NAN, NAN, 0, NAN, NAN};
        if (mask[i]) {
            for (int j = 0; j < m; j++)
                v[j] = c->ndvi[idx[j]][i];
            mw_trend_fit(tt, v, m, &tr);
        }
        c->trend_slope[i] = (float)tr.slope;
        c->trend_p[i] = (float)tr.p;
    }
}

int mw_site_change_compute(const mw_grid *g, const uint8_t *mask, size_t nperiods,
                           const float *const *const *rows, const double *t_years,
                           const mw_change_config *cfg, mw_site_change *out)
{
    memset(out, 0, sizeof *out);
    if (nperiods < 2)
        return mw_error_set(MW_ERR_INPUT,
                            "change needs the baseline and at least one monitoring period; "
                            "%zu period(s) given. Add a monitoring period to the pipeline file",
                            nperiods);
    if (nperiods > 64)
        return mw_error_set(MW_ERR_INPUT, "change: %zu periods; at most 64 are supported",
                            nperiods);
    if (!rows[0])
        return mw_error_set(MW_ERR_INPUT,
                            "the baseline period has no composite (no clear observation), so "
                            "change against it cannot be measured. Widen the baseline's dates or "
                            "lower min_clear_observations");
    const size_t npix = mw_grid_npix(g);
    const double px_ha = g->res * g->res / 1e4;
    out->nperiods = nperiods;
    out->per = calloc(nperiods, sizeof *out->per);
    out->cover = calloc(nperiods, sizeof *out->cover);
    out->ndvi = calloc(nperiods, sizeof *out->ndvi);
    out->dnbr = calloc(nperiods, sizeof *out->dnbr);
    out->changed = calloc(nperiods, sizeof *out->changed);
    out->cleared = calloc(nperiods, sizeof *out->cleared);
    out->first_loss = malloc(npix);
    out->lost_bytes = (nperiods - 1 + 7) / 8;
    out->lost_by = calloc(npix, out->lost_bytes);
    out->trend_slope = malloc(npix * sizeof(float));
    out->trend_p = malloc(npix * sizeof(float));
    uint8_t *loss = malloc(npix), *scratch = malloc(npix), *was_bare = calloc(npix, 1);
    int32_t *lab = malloc(npix * sizeof *lab);
    float *nbr0 = malloc(npix * sizeof *nbr0), *nbr = malloc(npix * sizeof *nbr);
    float *dndvi = malloc(npix * sizeof *dndvi);
    int rc = out->per && out->cover && out->ndvi && out->dnbr && out->changed && out->cleared &&
                     out->first_loss && out->lost_by && out->trend_slope && out->trend_p && loss &&
                     scratch && was_bare && lab && nbr0 && nbr && dndvi
                 ? 0
                 : mw_error_set(MW_ERR_NOMEM, "change: out of memory for a %dx%d grid", g->width,
                                g->height);
    const mw_spectral_index *ndvi_ix = mw_spectral_index_find("ndvi"),
                            *nbr_ix = mw_spectral_index_find("nbr");
    int high = mw_severity_nclasses - 1; /* Key & Benson's "high" is the last class */
    for (size_t k = 0; k < nperiods && rc == 0; k++) {
        if (!rows[k]) continue;
        out->per[k].ok = 1;
        out->cover[k] = malloc(npix);
        out->ndvi[k] = malloc(npix * sizeof(float));
        if (!out->cover[k] || !out->ndvi[k]) {
            rc = mw_error_set(MW_ERR_NOMEM, "change: out of memory");
            break;
        }
        mw_spectral_index_row(ndvi_ix, rows[k], out->ndvi[k], npix);
        mw_cover_classify(rows[k], npix, mask, &cfg->cover, k == 0 ? cfg->baseline_forest : NULL,
                          out->cover[k]);
    }
    /* Bands the composites lack: their figures are NaN, never a misleading 0. */
    const int can_nbr = rows[0][MW_BAND_SWIR22] != NULL,
              can_water = rows[0][MW_BAND_GREEN] && rows[0][MW_BAND_SWIR16],
              can_built = rows[0][MW_BAND_BLUE] != NULL;
    if (rc == 0 && can_nbr) mw_spectral_index_row(nbr_ix, rows[0], nbr0, npix);
    long base_forest = 0, inside = 0;
    for (size_t i = 0; rc == 0 && i < npix; i++) {
        inside += mask[i];
        base_forest += mask[i] && out->cover[0][i] == MW_COVER_FOREST;
        out->first_loss[i] = mask[i] && out->cover[0][i] != MW_COVER_NODATA ? 0 : 255;
        was_bare[i] = out->cover[0][i] == MW_COVER_BARE;
    }
    out->forest_baseline_ha = base_forest * px_ha;
    const long mmu_px = (long)ceil(cfg->mmu_ha / px_ha - 1e-9);
    for (size_t k = 0; k < nperiods && rc == 0; k++) {
        mw_period_change *pc = &out->per[k];
        for (int c = 0; c < MW_COVER_COUNT; c++)
            pc->cover_ha[c] = NAN;
        pc->forest_loss_ha = pc->reveg_ha = pc->dnbr_high_ha = pc->ndvi_mean = NAN;
        pc->changed_ha = pc->change_threshold = pc->veg_cleared_ha = NAN;
        pc->valid_fraction = pc->forest_observed_fraction = NAN;
        for (int c = 0; c < MW_COVER_COUNT * MW_COVER_COUNT; c++)
            pc->transition_ha[c] = NAN;
        if (!pc->ok) continue;
        const uint8_t *c0 = out->cover[0], *ck = out->cover[k];
        const float *v0 = out->ndvi[0], *vk = out->ndvi[k];
        long count[MW_COVER_COUNT] = {0}, trans[MW_COVER_COUNT * MW_COVER_COUNT];
        long valid = 0, seen = 0, reveg = 0, high_n = 0, nsum = 0;
        double sum = 0;
        if (k > 0 && can_nbr) {
            out->dnbr[k] = malloc(npix * sizeof(float));
            if (!out->dnbr[k]) {
                rc = mw_error_set(MW_ERR_NOMEM, "change: out of memory");
                break;
            }
            mw_spectral_index_row(nbr_ix, rows[k], nbr, npix);
        }
        for (size_t i = 0; i < npix; i++) {
            if (k > 0) {
                if (can_nbr) {
                    float d = mask[i] ? nbr0[i] - nbr[i] : NAN;
                    out->dnbr[k][i] = d;
                    high_n += mask[i] && mw_severity_of(d) == high;
                }
                dndvi[i] = v0[i] - vk[i];
                loss[i] = mask[i] && c0[i] == MW_COVER_FOREST && ck[i] != MW_COVER_FOREST &&
                          ck[i] != MW_COVER_NODATA &&
                          (double)v0[i] - (double)vk[i] >= cfg->loss_ndvi_drop_min;
                reveg += mask[i] && is_veg(ck[i]) && was_bare[i];
            }
            if (!mask[i]) continue;
            count[ck[i]]++;
            if (ck[i] == MW_COVER_NODATA) continue;
            valid++;
            /* NDVI outside [-1, 1] (negative surface reflectance over dark water or shadow) is
             * no value; it must not make the site's mean NaN */
            if (!isnan(vk[i])) sum += vk[i], nsum++;
            seen += c0[i] == MW_COVER_FOREST;
        }
        mw_cover_transitions(c0, ck, npix, mask, trans);
        for (int c = 0; c < MW_COVER_COUNT; c++)
            pc->cover_ha[c] = count[c] * px_ha;
        if (!can_water) pc->cover_ha[MW_COVER_WATER] = NAN;
        if (!can_built) pc->cover_ha[MW_COVER_BUILT] = NAN;
        for (int c = 0; c < MW_COVER_COUNT * MW_COVER_COUNT; c++)
            pc->transition_ha[c] = trans[c] * px_ha;
        pc->valid_fraction = inside ? (double)valid / (double)inside : NAN;
        pc->ndvi_mean = nsum ? sum / (double)nsum : NAN;
        pc->forest_observed_fraction = base_forest ? (double)seen / (double)base_forest : NAN;
        if (k == 0) {
            pc->forest_loss_ha = 0, pc->loss_patches = 0, pc->reveg_ha = 0, pc->dnbr_high_ha = 0;
            pc->changed_ha = pc->veg_cleared_ha = 0;
            continue;
        }
        /* Vegetation cleared, buried or built over: the cover maps' transition, as a map */
        if (!(out->cleared[k] = malloc(npix))) {
            rc = mw_error_set(MW_ERR_NOMEM, "change: out of memory");
            break;
        }
        long ncleared = 0;
        for (size_t i = 0; i < npix; i++) {
            const uint8_t from = out->cover[0][i], to = out->cover[k][i];
            const int known = mask[i] && from != MW_COVER_NODATA && to != MW_COVER_NODATA;
            out->cleared[k][i] =
                !known ? 255 : is_veg(from) && (to == MW_COVER_BARE || to == MW_COVER_BUILT);
            ncleared += out->cleared[k][i] == 1;
        }
        pc->veg_cleared_ha = ncleared * px_ha;
        pc->reveg_ha = reveg * px_ha;
        pc->dnbr_high_ha = can_nbr ? high_n * px_ha : NAN;
        /* Generic change over all composite bands: pits, tailings and plants too. Outside the
         * site mask the composites are NaN, so only site pixels set the threshold. */
        const float *a[MW_BAND_COUNT], *b[MW_BAND_COUNT];
        int nb = 0;
        for (int j = 0; j < MW_BAND_COUNT; j++)
            if (rows[0][j] && rows[k][j]) a[nb] = rows[0][j], b[nb] = rows[k][j], nb++;
        mw_change_stats cs;
        out->changed[k] = malloc(npix);
        if (!out->changed[k]) {
            rc = mw_error_set(MW_ERR_NOMEM, "change: out of memory");
            break;
        }
        if (mw_change_detect(a, b, nb, npix, (mw_change_method)cfg->generic_method, NULL,
                             out->changed[k], &cs) == 0) {
            long nchg = 0;
            for (size_t i = 0; i < npix; i++)
                nchg += mask[i] && out->changed[k][i] == MW_CHANGE_YES;
            pc->changed_ha = nchg * px_ha;
            pc->change_threshold = cs.threshold;
        } else {
            memset(out->changed[k], MW_CHANGE_NODATA, npix); /* e.g. a flat composite */
            pc->changed_ha = pc->change_threshold = NAN;
        }
        mw_error_clear();
        /* Slivers first (misregistration), then the minimum mapping unit on what is left. */
        mw_loss_open(loss, g->width, g->height, cfg->loss_min_width_px, scratch);
        mw_patch *p = NULL;
        size_t np = 0;
        rc = mw_patches_label(loss, dndvi, g->width, g->height, cfg->chunk_rows, mmu_px, lab, &p,
                              &np);
        if (rc) break;
        /* the patches are those of forest_loss_ha: same pixels, so counts and hectares agree */
        mw_loss_patch *grown = realloc(out->patches, (out->npatches + np + 1) * sizeof *grown);
        if (!grown) {
            free(p);
            rc = mw_error_set(MW_ERR_NOMEM, "loss patches: out of memory");
            break;
        }
        out->patches = grown;
        for (size_t j = 0; j < np; j++)
            out->patches[out->npatches++] =
                (mw_loss_patch){p[j].id, (int)k, p[j].npix, p[j].npix * px_ha,
                                p[j].value_n ? p[j].value_sum / (double)p[j].value_n : NAN};
        free(p);
        long nloss = 0;
        const size_t byte = (k - 1) / 8;
        const uint8_t bit = (uint8_t)(1u << ((k - 1) % 8));
        for (size_t i = 0; i < npix; i++) {
            if (!lab[i]) continue;
            nloss++;
            out->lost_by[i * out->lost_bytes + byte] |= bit;
            if (out->first_loss[i] == 0) out->first_loss[i] = (uint8_t)k;
        }
        pc->forest_loss_ha = nloss * px_ha;
        pc->loss_patches = (long)np;
        for (size_t i = 0; i < npix; i++)
            was_bare[i] |= ck[i] == MW_COVER_BARE;
    }
    if (rc == 0) {
        pixel_trends(out, mask, npix, t_years);
        float site_ndvi[64];
        for (size_t k = 0; k < nperiods; k++)
            site_ndvi[k] = (float)out->per[k].ndvi_mean;
        mw_trend_fit(t_years, site_ndvi, (int)nperiods, &out->site_trend);
    }
    free(loss), free(scratch), free(was_bare), free(lab), free(nbr0), free(nbr), free(dndvi);
    if (rc) mw_site_change_free(out);
    return rc;
}
