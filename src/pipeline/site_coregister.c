#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <jansson.h>

#include "core/atomic_file.h"
#include "core/fault.h"
#include "core/text.h"
#include "minewatch/coregister.h"
#include "minewatch/error.h"
#include "minewatch/log.h"
#include "minewatch/qa.h"
#include "minewatch/site_change.h"
#include "pipeline/provenance.h"
#include "pipeline/site_stack.h"

/* Shifts below this are within the estimate's own error (RMSE 0.03 px): left alone. */
#define MIN_APPLIED_SHIFT_PX 0.02

/* The NIR chip's band, NaN where the QA excludes the pixel. */
static int load_nir(const mw_pipeline *p, const mw_chip *c, const mw_grid *g, float *v, uint8_t *qa)
{
    GDALDatasetH d = GDALOpen(c->path, GA_ReadOnly), q = GDALOpen(c->qa_path, GA_ReadOnly);
    int rc =
        d && q &&
                GDALRasterIO(GDALGetRasterBand(d, 1), GF_Read, 0, 0, g->width, g->height, v,
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

/* A scene's shift estimate is kept beside its NIR chip (<chip>.shift.json) with what it is a
 * function of: both chips (their keys, which name everything their pixels depend on), the QA
 * flags masked, the estimator's settings and version. A run on reused chips reads it instead of
 * estimating again, and gets the same bits; anything that does not match is estimated anew. */

/* The SHA-256 of a chip's key (its MW_CHIP_KEY tag), or NULL. */
static char *chip_key_hash(const char *path)
{
    GDALDatasetH d = GDALOpen(path, GA_ReadOnly);
    const char *key = d ? GDALGetMetadataItem(d, "MW_CHIP_KEY", NULL) : NULL;
    char *h = key ? mw_sha256_text(key) : NULL;
    if (d) GDALClose(d);
    mw_error_clear();
    return h;
}

static json_t *estimate_inputs(const char *ref_hash, const char *mov_hash, const mw_pipeline *p,
                               const mw_coreg_options *co)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:f}", "estimator", MW_COREG_VERSION,
                     "reference_chip", ref_hash, "moving_chip", mov_hash, "qa_exclude",
                     (int)p->qa_exclude, "upsample", co->upsample, "prepare", co->prepare,
                     "min_snr", co->min_snr);
}

/* The kept estimate if it was made from these inputs and reads back sound: 1, else 0. */
static int kept_estimate(const char *path, const json_t *inputs, const mw_grid *g,
                         mw_coreg_result *r)
{
    static const char *const why[] = {"flat", "too few clear pixels", "weak peak"};
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    const json_t *v[5] = {json_object_get(j, "dx"), json_object_get(j, "dy"),
                          json_object_get(j, "peak"), json_object_get(j, "snr"),
                          json_object_get(j, "valid")};
    const json_t *trusted = json_object_get(j, "trusted"), *w = json_object_get(j, "why_not");
    int ok = j && json_equal(json_object_get(j, "inputs"), inputs) && json_is_boolean(trusted);
    for (int i = 0; ok && i < 5; i++)
        ok = json_is_number(v[i]) && isfinite(json_number_value(v[i]));
    if (ok) {
        *r = (mw_coreg_result){json_number_value(v[1]),
                               json_number_value(v[0]),
                               json_number_value(v[2]),
                               json_number_value(v[3]),
                               json_number_value(v[4]),
                               json_is_true(trusted),
                               NULL};
        ok = fabs(r->dx) <= g->width && fabs(r->dy) <= g->height;
        for (size_t i = 0; ok && !r->trusted && i < sizeof why / sizeof *why; i++)
            if (json_is_string(w) && !strcmp(json_string_value(w), why[i])) r->why_not = why[i];
        if (!r->trusted && (!r->why_not || r->dx != 0 || r->dy != 0)) ok = 0;
    }
    json_decref(j);
    return ok;
}

static void keep_estimate(const char *path, json_t *inputs, const mw_coreg_result *r)
{
    json_t *j = json_pack("{s:O,s:f,s:f,s:f,s:f,s:f,s:b,s:s?}", "inputs", inputs, "dx", r->dx, "dy",
                          r->dy, "peak", r->peak, "snr", r->snr, "valid", r->valid, "trusted",
                          r->trusted, "why_not", r->trusted ? NULL : r->why_not);
    char *tmp = mw_part_path(path);
    /* A cache: renamed into place but not synced (a file a crash left short does not parse, and
     * is estimated again); when it cannot be written, the next run estimates again. */
    if (!(j && tmp && json_dump_file(j, tmp, JSON_COMPACT | JSON_REAL_PRECISION(17)) == 0 &&
          rename(tmp, path) == 0) &&
        tmp)
        remove(tmp);
    free(tmp);
    json_decref(j);
}

/* Every chip of the site, (period, chip) flattened so one parallel loop covers the site. */
static site_chip **all_chips(period_stack *ps, size_t nperiods, size_t *total)
{
    size_t n = 0;
    for (size_t k = 0; k < nperiods; k++)
        n += ps[k].n;
    site_chip **all = malloc((n + 1) * sizeof *all);
    for (size_t k = 0, t = 0; all && k < nperiods; k++)
        for (size_t i = 0; i < ps[k].n; i++)
            all[t++] = &ps[k].c[i];
    *total = n;
    return all;
}

void mw_coregister_site(const mw_pipeline *p, const mw_grid *g, period_stack *ps, size_t nperiods,
                        const char *site_id, mw_run_report *rep, int threads)
{
    if (!p->coregister || nperiods == 0 || ps[0].n == 0) return;
    size_t ref = 0; /* the clearest baseline chip; the earliest on a tie */
    for (size_t i = 1; i < ps[0].n; i++)
        if (ps[0].c[i].chip.clear_fraction > ps[0].c[ref].chip.clear_fraction) ref = i;
    const char *ref_id = ps[0].c[ref].scene->id;
    size_t total;
    site_chip **all = all_chips(ps, nperiods, &total);
    json_t **inputs = calloc(total + 1, sizeof *inputs);
    mw_coreg_result *kept = calloc(total + 1, sizeof *kept);
    char *ref_hash = chip_key_hash(ps[0].c[ref].chip.path);
    const mw_coreg_options co = {100, 1, p->coreg_min_snr, 0};
    /* the estimates kept from an earlier run on these very chips; the reference is read only if
     * one is missing */
    int *is_kept = calloc(total + 1, sizeof *is_kept), missing = 0;
    for (size_t j = 0; all && inputs && kept && is_kept && j < total; j++) {
        if (all[j] == &ps[0].c[ref]) continue;
        char *h = ref_hash ? chip_key_hash(all[j]->chip.path) : NULL;
        char *path = h ? mw_text_format("%s.shift.json", all[j]->chip.path) : NULL;
        inputs[j] = h ? estimate_inputs(ref_hash, h, p, &co) : NULL;
        is_kept[j] = path && inputs[j] && kept_estimate(path, inputs[j], g, &kept[j]);
        missing |= !is_kept[j];
        free(h), free(path);
    }
    const size_t npix = mw_grid_npix(g);
    float *rv = missing ? malloc(npix * sizeof *rv) : NULL;
    uint8_t *rq = missing ? malloc(npix) : NULL;
    if (!all || !inputs || !kept || !is_kept ||
        (missing && (!rv || !rq || load_nir(p, &ps[0].c[ref].chip, g, rv, rq)))) {
        mw_report_add(rep, site_id, ref_id, "coregister",
                      "%s; the site's chips are composited without co-registration",
                      all && inputs && kept && is_kept && rv && rq ? mw_error_message()
                                                                   : "out of memory");
        mw_error_clear();
        goto done;
    }
    mw_log(MW_LOG_INFO, "site %s: co-registering to %s", site_id, ref_id);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long j = 0; j < (long)total; j++) {
        site_chip *sc = all[j];
        json_t *jc;
        if (sc == &ps[0].c[ref]) {
            jc = json_pack("{s:s,s:b,s:s}", "reference", ref_id, "is_reference", 1,
                           "estimated_from", sc->chip.path);
        } else {
            mw_coreg_result r = kept[j];
            if (!is_kept[j]) {
                float *mv = malloc(npix * sizeof *mv);
                uint8_t *mq = malloc(npix);
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
                if (inputs[j]) {
                    char *path = mw_text_format("%s.shift.json", sc->chip.path);
                    if (path) keep_estimate(path, inputs[j], &r);
                    free(path);
                }
            }
            /* A strong peak far off is a repeated pattern or real change lining up, not the
             * sub-pixel to few-pixel misregistration of one sensor's products. */
            const char *why_not = r.trusted ? NULL : r.why_not;
            if (r.trusted && hypot(r.dx, r.dy) > p->coreg_max_shift_px) {
                r.trusted = 0;
                why_not = "implausible shift";
            }
            int apply = r.trusted && hypot(r.dx, r.dy) >= MIN_APPLIED_SHIFT_PX;
            jc = json_pack("{s:s,s:f,s:f,s:f,s:f,s:b,s:b,s:s}", "reference", ref_id, "dx_px", r.dx,
                           "dy_px", r.dy, "snr", r.snr, "valid_fraction", r.valid, "trusted",
                           r.trusted, "applied", apply, "estimated_from", sc->chip.path);
            if (!r.trusted) json_object_set_new(jc, "why_not", json_string(why_not));
            if (is_kept[j]) json_object_set_new(jc, "estimate_reused", json_true());
            if (apply) sc->dx = r.dx, sc->dy = r.dy;
        }
        json_object_set_new(sc->prov, "coregistration", jc);
    }
done:
    for (size_t j = 0; inputs && j < total; j++)
        json_decref(inputs[j]);
    free(inputs), free(kept), free(is_kept), free(ref_hash);
    free(all), free(rv), free(rq);
}

/* The scene's provenance entry, pointing at the chip composited. */
static void describe_chip(json_t *js, const mw_chip *c)
{
    json_object_set_new(js, "coverage_fraction", json_real(c->coverage_fraction));
    json_object_set_new(js, "clear_fraction", json_real(c->clear_fraction));
    json_object_set_new(js, "chip", json_string(c->path));
    json_object_set_new(js, "chip_reused", json_boolean(c->reused));
    json_object_set_new(js, "mask", json_string(c->mask ? c->mask : ""));
}

/* Drops the stack's chips whose full chip could not be made (state: 1 misses the site, -1
 * failed), moving their provenance entries to the period's skipped list. */
static void drop_unmade(period_stack *ps, const int *state)
{
    size_t kept = 0;
    for (size_t i = 0; i < ps->n; i++) {
        site_chip *c = &ps->c[i];
        if (state[i] == 0) {
            ps->c[kept++] = *c;
            continue;
        }
        ps->failed += state[i] < 0;
        ps->missed += state[i] > 0;
        json_array_append_new(ps->jskipped,
                              json_pack("{s:s,s:s}", "id", c->scene->id, "reason",
                                        state[i] < 0 ? "failed to ingest (see failures)"
                                                     : "does not cover the site"));
        for (size_t a = 0; a < json_array_size(ps->jscenes); a++)
            if (json_array_get(ps->jscenes, a) == c->prov) {
                json_array_remove(ps->jscenes, a);
                break;
            }
        mw_chip_free(&c->chip);
    }
    ps->n = kept;
}

void mw_coregister_chips(const mw_grid *g, const char *site_dir, const mw_ingest_options *io,
                         const uint8_t *mask, period_stack *ps, size_t nperiods,
                         const char *site_id, mw_run_report *rep, int threads)
{
    size_t total;
    site_chip **all = all_chips(ps, nperiods, &total);
    int *state = calloc(total + 1, sizeof *state);
    if (!all || !state) {
        mw_report_add(rep, site_id, "", "memory", "out of memory making the site's chips");
        for (size_t k = 0; k < nperiods; k++) {
            for (size_t i = 0; i < ps[k].n; i++)
                mw_chip_free(&ps[k].c[i].chip);
            ps[k].n = 0;
        }
        free(all), free(state);
        return;
    }
    long done = 0;
    char stage[256];
    snprintf(stage, sizeof stage, "%s: chips", site_id);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long j = 0; j < (long)total; j++) {
        site_chip *sc = all[j];
        mw_ingest_options so = *io;
        so.shift_dx = sc->dx, so.shift_dy = sc->dy;
        mw_chip c;
        int st = mw_chip_ingest(sc->scene, g, site_dir, &so, mask, &c);
        mw_fault_point("chip");
        /* (a shifted chip that fails to be made fails for what an unshifted one would too: the
         * scene's files) */
        if (st > 0 && (sc->dx != 0 || sc->dy != 0)) {
            mw_report_add(rep, site_id, sc->scene->id, "coregister",
                          "shifted chip lies off the site; the chip is composited unshifted");
            json_object_set_new(json_object_get(sc->prov, "coregistration"), "applied",
                                json_false());
            sc->dx = sc->dy = 0;
            so.shift_dx = so.shift_dy = 0;
            st = mw_chip_ingest(sc->scene, g, site_dir, &so, mask, &c);
        }
        if (st < 0)
            mw_report_add(rep, site_id, sc->scene->id, "ingest", "%s; the scene is skipped",
                          mw_error_message());
        mw_error_clear();
        state[j] = st;
        if (st == 0) {
            mw_chip_free(&sc->chip);
            sc->chip = c;
            if (sc->dx != 0 || sc->dy != 0)
                json_object_set_new(json_object_get(sc->prov, "coregistration"), "chip",
                                    json_string(c.path));
        }
        long d;
#pragma omp atomic capture
        d = ++done;
        mw_progress(stage, d, (long)total);
    }
    /* provenance in chip order, whatever the threads did */
    for (size_t j = 0; j < total; j++)
        if (state[j] == 0) describe_chip(all[j]->prov, &all[j]->chip);
    for (size_t k = 0, t = 0; k < nperiods; k++) {
        const size_t n = ps[k].n;
        drop_unmade(&ps[k], state + t);
        t += n;
    }
    free(all), free(state);
}
