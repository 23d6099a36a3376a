/* Recovery trends: the Theil-Sen slope and the Mann-Kendall test of a short series (annual NDVI
 * over the periods), per pixel or per site. Robust to one bad year, no distribution assumed. */
#ifndef MINEWATCH_TREND_H
#define MINEWATCH_TREND_H

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_TREND_CITATION                                                                          \
    "Sen P.K. 1968, J. Am. Stat. Assoc. 63(324):1379-1389 (Theil-Sen slope); Mann H.B. 1945, "     \
    "Econometrica 13(3):245-259 and Kendall M.G. 1975, Rank Correlation Methods (trend test, "     \
    "tie-corrected variance, continuity correction)"

typedef struct mw_trend {
    int n;            /* finite observations used */
    double slope;     /* median of the pairwise slopes (value units per time unit); NaN if n < 2 */
    double intercept; /* median of v - slope * t */
    long s;           /* Mann-Kendall S: concordant minus discordant pairs */
    double z;         /* (S - sign(S)) / sqrt(Var S), ties in v corrected */
    double p;         /* two-sided p-value of z (normal approximation); NaN if n < 3 */
} mw_trend;

/* Fewer points than this give no reported p-value: with n = 3 the smallest two-sided p is 0.296,
 * so a "p" there says nothing about a trend. */
#define MW_TREND_MIN_N_FOR_P 4
#define MW_TREND_P_NOTE                                                                            \
    "ndvi_trend_p is left empty when fewer than 4 periods have a site-mean NDVI: with 3 points "   \
    "the smallest two-sided Mann-Kendall p-value is 0.296"

/* t: times (strictly increasing), v: values (NaN skipped), n <= 64. */
MW_API void mw_trend_fit(const double *t, const float *v, int n, mw_trend *out);

#ifdef __cplusplus
}
#endif

#endif
