/* Generic multi-band change between two co-registered dates: not tied to vegetation, so it sees
 * new pits, tailings, ponds and plant as well as clearing. Two methods:
 *  - CVA + Otsu: magnitude of the per-band standardised difference vector, split in two by Otsu
 *    (with change types of very different strength the split can fall between them, keeping only
 *    the strongest);
 *  - IR-MAD: iteratively re-weighted canonical correlation of the two band sets; the sum of the
 *    squared standardised MAD variates is chi-square with nbands degrees of freedom where nothing
 *    changed, so a significance level decides (see MW_IRMAD_CALIBRATION).
 * Both are unsupervised and scene-relative: they find what changed most in this pair, not a
 * particular kind of change. Output is identical for any OpenMP thread count (sums over pixels are
 * taken in fixed chunks combined in a fixed order). */
#ifndef MINEWATCH_CHANGE_VECTOR_H
#define MINEWATCH_CHANGE_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_CVA_CITATION                                                                            \
    "Malila W.A. 1980, Change vector analysis: an approach for detecting forest changes with "     \
    "Landsat, Proc. 6th Int. Symp. on Machine Processing of Remotely Sensed Data, LARS, Purdue "   \
    "University, pp. 326-335 (magnitude of the difference vector; each band's difference "         \
    "standardised by its scene mean and standard deviation)"
#define MW_OTSU_CITATION                                                                           \
    "Otsu N. 1979, A threshold selection method from gray-level histograms, IEEE Trans. Syst. "    \
    "Man Cybern. 9(1):62-66"
#define MW_IRMAD_CITATION                                                                          \
    "Nielsen A.A. 2007, The regularized iteratively reweighted MAD method for change detection "   \
    "in multi- and hyperspectral data, IEEE Trans. Image Process. 16(2):463-478 (unregularised "   \
    "IR-MAD; MAD: Nielsen, Conradsen & Simpson 1998, Remote Sens. Environ. 64(1):1-19)"
#define MW_IRMAD_CALIBRATION                                                                       \
    "minewatch: after the first iteration the MAD variances 2(1 - rho_i) from the Q(Z)-weighted "  \
    "covariance are divided by kappa_k = (1/k) int_0^inf Q_k(t)^2 dt (k = bands; 0.576 for 3, "    \
    "0.688 for 6), the shrinkage such weights cause on Gaussian no-change data, so that Z is "     \
    "chi-square(k) for unchanged pixels and P < alpha marks about alpha of them"
#define MW_KAPPA_CITATION                                                                          \
    "Cohen J. 1960, A coefficient of agreement for nominal scales, Educ. Psychol. Meas. "          \
    "20(1):37-46"

#define MW_CHANGE_MAX_BANDS 16

/* Values of a change map. */
#define MW_CHANGE_NO 0
#define MW_CHANGE_YES 1
#define MW_CHANGE_NODATA 255

typedef enum mw_change_method {
    MW_CHANGE_CVA_OTSU = 0,
    MW_CHANGE_IRMAD = 1,
    MW_CHANGE_METHOD_COUNT
} mw_change_method;

typedef struct mw_change_method_info {
    mw_change_method id;
    const char *name;     /* "cva_otsu", "irmad" */
    const char *rule;     /* the decision, in words, for provenance */
    const char *citation; /* the MW_..._CITATION strings it rests on */
} mw_change_method_info;

MW_API extern const mw_change_method_info mw_change_methods[MW_CHANGE_METHOD_COUNT];
MW_API const mw_change_method_info *mw_change_method_find(const char *name); /* NULL if unknown */

typedef struct mw_change_options {
    double alpha;         /* IR-MAD: change where P(no change) < alpha */
    int otsu_bins;        /* CVA: Otsu histogram bins between the magnitude's min and max */
    int irmad_max_iter;   /* IR-MAD: at most this many re-weightings */
    double irmad_tol;     /* IR-MAD: stop when no canonical correlation moves more than this */
    int irmad_calibrated; /* IR-MAD: 1 divides the re-weighted MAD variances by the consistency
                           * factor kappa_k (see MW_IRMAD_CALIBRATION); 0 is Nielsen 2007 as
                           * published, whose P values are far too small (over-flags change) */
} mw_change_options;

/* alpha 0.01, 256 bins, 30 iterations, 1e-6 (Nielsen 2007's stopping rule), calibrated */
#define MW_CHANGE_OPTIONS_DEFAULT ((mw_change_options){0.01, 256, 30, 1e-6, 1})

typedef struct mw_change_stats {
    mw_change_method method;
    int nbands;
    size_t n_valid;   /* pixels with every band finite on both dates */
    size_t n_change;  /* of those, marked change */
    double threshold; /* CVA: Otsu threshold on the magnitude; IR-MAD: chi-square at P = alpha */
    double alpha;     /* IR-MAD significance; NaN for CVA */
    int otsu_bins;    /* CVA; 0 for IR-MAD */
    int iterations;   /* IR-MAD: canonical correlation analyses done; 0 for CVA */
    int converged;    /* IR-MAD: 1 if the correlations settled before irmad_max_iter */
    double rho[MW_CHANGE_MAX_BANDS];     /* IR-MAD canonical correlations, increasing */
    double band_sd[MW_CHANGE_MAX_BANDS]; /* CVA: standard deviation of each band's difference */
} mw_change_stats;

typedef struct mw_irmad_result {
    int iterations;
    int converged;
    size_t n_valid;
    double rho[MW_CHANGE_MAX_BANDS]; /* canonical correlations, increasing (MAD 1 changes most) */
} mw_irmad_result;

/* Change vector magnitude sqrt(sum_k ((d_k - mean_k) / sd_k)^2), d_k = b_k - a_k standardised by
 * its mean and standard deviation over the pixels where every band is finite on both dates (a
 * scene-wide radiometric shift is not change; a band whose difference is constant contributes 0).
 * NaN in any band gives NaN. a[k], b[k]: band k, npix values each. */
MW_API int mw_cva_magnitude(const float *const *a, const float *const *b, int nbands, size_t npix,
                            float *out);

/* Otsu's threshold over the finite values of v, from an nbins histogram between their min and
 * max: values > *threshold form the upper class. Fails on fewer than 2 finite values. */
MW_API int mw_otsu_threshold(const float *v, size_t n, int nbins, double *threshold);

/* IR-MAD (o NULL: defaults). chi2: Z = sum_i (MAD_i / sigma_i)^2, sigma_i^2 = 2 (1 - rho_i);
 * p_nochange: 1 - chi-square CDF(Z, nbands), the probability of a Z this large without change.
 * Either output may be NULL; NaN where any band is not finite. Fails (MW_ERR_INPUT) when a date's
 * bands are constant or collinear over the valid pixels. */
MW_API int mw_irmad(const float *const *a, const float *const *b, int nbands, size_t npix,
                    const mw_change_options *o, float *chi2, float *p_nochange, mw_irmad_result *r);

/* Lower regularised incomplete gamma P(s, x), and the chi-square CDF P(k/2, z/2). */
MW_API double mw_gamma_p(double s, double x);
MW_API double mw_chi2_cdf(double z, int k);
/* 1 - CDF, accurate in the far tail (closed form for integer k): IR-MAD's P(no change). */
MW_API double mw_chi2_sf(double z, int k);

/* Binary change map: change[i] = MW_CHANGE_YES / MW_CHANGE_NO, MW_CHANGE_NODATA where any band
 * is not finite. o NULL: defaults. st may be NULL. */
MW_API int mw_change_detect(const float *const *a, const float *const *b, int nbands, size_t npix,
                            mw_change_method method, const mw_change_options *o, uint8_t *change,
                            mw_change_stats *st);

typedef struct mw_change_scores {
    size_t tp, fp, fn, tn;
    size_t n_unscored; /* no prediction (255), or in neither reference mask */
    double precision, recall, f1, accuracy;
    double kappa; /* Cohen's kappa (MW_KAPPA_CITATION); NaN where undefined */
} mw_change_scores;

/* Scores a change map against reference masks. A pixel is reference change where truth_change is
 * nonzero; reference no-change where truth_nochange is nonzero (truth_nochange NULL: wherever
 * truth_change is 0); pixels in both or neither, and predictions of 255, are not scored. */
MW_API int mw_change_score(const uint8_t *pred, const uint8_t *truth_change,
                           const uint8_t *truth_nochange, size_t npix, mw_change_scores *s);

#ifdef __cplusplus
}
#endif

#endif
