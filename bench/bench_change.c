/* Benchmark (not a test): minewatch's generic change maps scored on two real labelled pairs from
 * ../shared/data, with timings (median of runs):
 *  - OSCD Aguas Claras (Sentinel-2 L1C, 2015-09 / 2017-10; B02 B03 B04 B08 at 10 m, B11 B12
 *    resampled bilinearly to the 10 m grid by GDAL), urban-change label;
 *  - Taizhou (Landsat-7 ETM+, 2000 / 2003, 6 bands), change and no-change masks (Wu et al. 2014).
 * Methods: cva_otsu and irmad (the library defaults), and two reference variants: IR-MAD with
 * Nielsen's variances as published (uncalibrated) and plain MAD (one iteration, P < 0.01), the
 * latter being what OTB's MultivariateAlterationDetector computes (bench/change_scores.sh).
 * Prints one row per pair and method: pair method precision recall F1 kappa marked% seconds;
 * comment lines start with '#'. Usage: bench_change DATA_DIR [runs] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <omp.h>

#include "minewatch/change_vector.h"
#include "minewatch/error.h"
#include "bench_util.h"
#include "change_pairs.h"

typedef struct variant {
    const char *label;
    mw_change_method method;
    int calibrated, max_iter;
} variant;

static const variant VARIANTS[] = {
    {"minewatch cva_otsu", MW_CHANGE_CVA_OTSU, 1, 30},
    {"minewatch irmad (P<0.01)", MW_CHANGE_IRMAD, 1, 30},
    {"minewatch irmad-uncalibrated (P<0.01)", MW_CHANGE_IRMAD, 0, 30},
    {"minewatch mad-1-iteration (P<0.01)", MW_CHANGE_IRMAD, 1, 1},
};

static int run_pair(const labelled_pair *p, int runs)
{
    const size_t npix = (size_t)p->w * p->h;
    uint8_t *map = malloc(npix);
    if (!map) return -1;
    for (size_t v = 0; v < sizeof VARIANTS / sizeof *VARIANTS; v++) {
        mw_change_options o = MW_CHANGE_OPTIONS_DEFAULT;
        o.irmad_calibrated = VARIANTS[v].calibrated;
        o.irmad_max_iter = VARIANTS[v].max_iter;
        mw_change_stats st;
        double t[16];
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            if (mw_change_detect((const float *const *)p->a, (const float *const *)p->b,
                                 LABELLED_NB, npix, VARIANTS[v].method, &o, map, &st)) {
                fprintf(stderr, "bench_change: %s\n", mw_error_message());
                free(map);
                return -1;
            }
            t[r] = now() - t0;
        }
        mw_change_scores s;
        mw_change_score(map, p->yes, p->no, npix, &s);
        printf("%-8s %-40s %9.3f %7.3f %6.3f %6.3f %7.1f %8.3f\n", p->name, VARIANTS[v].label,
               s.precision, s.recall, s.f1, s.kappa, 100.0 * st.n_change / st.n_valid,
               median_of(t, runs));
        if (VARIANTS[v].method == MW_CHANGE_IRMAD)
            printf("# %s %s: %d iteration(s)%s, rho %.4f %.4f %.4f %.4f %.4f %.4f, chi2 "
                   "threshold %.3f\n",
                   p->name, VARIANTS[v].label, st.iterations, st.converged ? " (converged)" : "",
                   st.rho[0], st.rho[1], st.rho[2], st.rho[3], st.rho[4], st.rho[5], st.threshold);
        else
            printf("# %s %s: Otsu threshold %.3f on the standardised magnitude\n", p->name,
                   VARIANTS[v].label, st.threshold);
    }
    free(map);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR [runs]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (runs < 1 || runs > 16) runs = 3;
    GDALAllRegister();
    printf("# minewatch, %d OpenMP thread(s), median of %d run(s)\n", omp_get_max_threads(), runs);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        labelled_pair p;
        int got = i == 0 ? load_oscd(argv[1], &p) : load_taizhou(argv[1], &p);
        if (got) {
            printf("# %s: not found under %s (skipped)\n", i == 0 ? "OSCD" : "Taizhou", argv[1]);
            labelled_pair_free(&p);
            continue;
        }
        rc |= run_pair(&p, runs);
        labelled_pair_free(&p);
    }
    GDALDestroyDriverManager();
    return rc ? 1 : 0;
}
