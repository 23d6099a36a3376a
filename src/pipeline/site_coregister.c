#include <math.h>
#include <stdlib.h>

#include <gdal.h>

#include "minewatch/coregister.h"
#include "minewatch/error.h"
#include "minewatch/log.h"
#include "minewatch/qa.h"
#include "minewatch/site_change.h"
#include "pipeline/site_stack.h"

/* Shifts below this are within the estimate's own error (RMSE 0.03 px): left alone. */
#define MIN_APPLIED_SHIFT_PX 0.02

/* The chip's NIR band, NaN where the QA excludes the pixel. */
static int load_nir(const mw_pipeline *p, const mw_chip *c, const mw_grid *g, float *v, uint8_t *qa)
{
    int nir = 0;
    while (nir < p->nbands && p->bands[nir] != MW_BAND_NIR)
        nir++;
    GDALDatasetH d = GDALOpen(c->path, GA_ReadOnly), q = GDALOpen(c->qa_path, GA_ReadOnly);
    int rc =
        d && q &&
                GDALRasterIO(GDALGetRasterBand(d, nir + 1), GF_Read, 0, 0, g->width, g->height, v,
                             g->width, g->height, GDT_Float32, 0, 0) == CE_None &&
                GDALRasterIO(GDALGetRasterBand(q, 1), GF_Read, 0, 0, g->width, g->height, qa,
                             g->width, g->height, GDT_Byte, 0, 0) == CE_None
            ? 0
            : mw_error_from_gdal(MW_ERR_IO, "cannot read chip '%s' for co-registration", c->path);
    if (d) GDALClose(d);
    if (q) GDALClose(q);
    if (rc == 0)
        for (size_t i = 0; i < mw_grid_npix(g); i++)
            if (qa[i] & p->qa_exclude) v[i] = NAN;
    return rc;
}

void mw_coregister_site(const mw_pipeline *p, const mw_grid *g, const char *site_dir,
                        const mw_ingest_options *io, const uint8_t *mask, period_stack *ps,
                        size_t nperiods, const char *site_id, mw_run_report *rep, int threads)
{
    if (!p->coregister || nperiods == 0 || ps[0].n == 0) return;
    size_t ref = 0; /* the clearest baseline chip; the earliest on a tie */
    for (size_t i = 1; i < ps[0].n; i++)
        if (ps[0].c[i].chip.clear_fraction > ps[0].c[ref].chip.clear_fraction) ref = i;
    const size_t npix = mw_grid_npix(g);
    float *rv = malloc(npix * sizeof *rv);
    uint8_t *rq = malloc(npix);
    if (!rv || !rq || load_nir(p, &ps[0].c[ref].chip, g, rv, rq)) {
        mw_report_add(rep, site_id, ps[0].c[ref].scene->id, "coregister",
                      "%s; the site's chips are composited without co-registration",
                      rv && rq ? mw_error_message() : "out of memory");
        mw_error_clear();
        free(rv), free(rq);
        return;
    }
    const char *ref_id = ps[0].c[ref].scene->id;
    mw_log(MW_LOG_INFO, "site %s: co-registering to %s", site_id, ref_id);
    /* Flatten (period, chip) so one parallel loop covers the whole site. */
    size_t total = 0;
    for (size_t k = 0; k < nperiods; k++)
        total += ps[k].n;
    site_chip **all = malloc((total + 1) * sizeof *all);
    if (!all) {
        free(rv), free(rq), free(all);
        return;
    }
    size_t t = 0;
    for (size_t k = 0; k < nperiods; k++)
        for (size_t i = 0; i < ps[k].n; i++)
            all[t++] = &ps[k].c[i];
    const mw_coreg_options co = {100, 1, p->coreg_min_snr, 0};
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long j = 0; j < (long)total; j++) {
        site_chip *sc = all[j];
        json_t *jc;
        if (sc == &ps[0].c[ref]) {
            jc = json_pack("{s:s,s:b}", "reference", ref_id, "is_reference", 1);
        } else {
            float *mv = malloc(npix * sizeof *mv);
            uint8_t *mq = malloc(npix);
            mw_coreg_result r;
            int rc = mv && mq ? load_nir(p, &sc->chip, g, mv, mq) : -1;
            if (rc == 0) rc = mw_coreg_estimate(rv, mv, g->width, g->height, &co, &r);
            free(mv), free(mq);
            if (rc) {
                mw_report_add(rep, site_id, sc->scene->id, "coregister",
                              "%s; the chip is composited unshifted",
                              mv && mq ? mw_error_message() : "out of memory");
                mw_error_clear();
                continue;
            }
            /* A strong peak far off is a repeated pattern or real change lining up, not the
             * sub-pixel to few-pixel misregistration of one sensor's products. */
            const char *why_not = r.trusted ? NULL : r.why_not;
            if (r.trusted && hypot(r.dx, r.dy) > p->coreg_max_shift_px) {
                r.trusted = 0;
                why_not = "implausible shift";
            }
            int apply = r.trusted && hypot(r.dx, r.dy) >= MIN_APPLIED_SHIFT_PX;
            jc = json_pack("{s:s,s:f,s:f,s:f,s:f,s:b,s:b}", "reference", ref_id, "dx_px", r.dx,
                           "dy_px", r.dy, "snr", r.snr, "valid_fraction", r.valid, "trusted",
                           r.trusted, "applied", apply);
            if (!r.trusted) json_object_set_new(jc, "why_not", json_string(why_not));
            if (apply) {
                mw_ingest_options so = *io;
                so.shift_dx = r.dx, so.shift_dy = r.dy;
                mw_chip shifted;
                int st = mw_chip_ingest(sc->scene, g, site_dir, &so, mask, &shifted);
                if (st == 0) {
                    mw_chip_free(&sc->chip);
                    sc->chip = shifted;
                    sc->dx = r.dx, sc->dy = r.dy;
                    json_object_set_new(jc, "chip", json_string(shifted.path));
                } else {
                    if (st > 0) mw_chip_free(&shifted);
                    json_object_set_new(jc, "applied", json_false());
                    mw_report_add(rep, site_id, sc->scene->id, "coregister",
                                  "%s; the chip is composited unshifted",
                                  st < 0 ? mw_error_message() : "shifted chip lies off the site");
                }
                mw_error_clear();
            }
        }
        json_object_set_new(sc->prov, "coregistration", jc);
    }
    free(all), free(rv), free(rq);
}
