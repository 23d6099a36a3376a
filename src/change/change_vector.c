#include "minewatch/change_vector.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minewatch/error.h"

#define MAXB MW_CHANGE_MAX_BANDS
#define MAX2 (2 * MAXB)

const mw_change_method_info mw_change_methods[MW_CHANGE_METHOD_COUNT] = {
    {MW_CHANGE_CVA_OTSU, "cva_otsu",
     "change where the standardised change-vector magnitude exceeds Otsu's threshold",
     MW_CVA_CITATION "; " MW_OTSU_CITATION},
    {MW_CHANGE_IRMAD, "irmad",
     "change where the IR-MAD chi-square gives P(no change) < alpha (variances calibrated)",
     MW_IRMAD_CITATION "; " MW_IRMAD_CALIBRATION},
};

const mw_change_method_info *mw_change_method_find(const char *name)
{
    for (int i = 0; name && i < MW_CHANGE_METHOD_COUNT; i++)
        if (strcmp(mw_change_methods[i].name, name) == 0) return &mw_change_methods[i];
    return NULL;
}

/* Sums over pixels go through fixed chunks whose partial sums are added in chunk order: the
 * chunking depends on npix only, so the result is the same for any thread count. */
#define CHUNK_MIN 4096
#define CHUNK_COUNT_MAX 256

static long chunking(size_t npix, size_t *len)
{
    size_t n = (npix + CHUNK_MIN - 1) / CHUNK_MIN;
    if (n > CHUNK_COUNT_MAX) n = CHUNK_COUNT_MAX;
    if (n == 0) n = 1;
    *len = (npix + n - 1) / n;
    return (long)n;
}

static int check_bands(const float *const *a, const float *const *b, int nbands, size_t npix,
                       const char *who)
{
    if (!a || !b || nbands < 1 || nbands > MAXB || npix == 0)
        return mw_error_set(MW_ERR_INPUT, "%s: need 1..%d bands and at least one pixel (got %d)",
                            who, MAXB, nbands);
    for (int k = 0; k < nbands; k++)
        if (!a[k] || !b[k]) return mw_error_set(MW_ERR_INPUT, "%s: band %d is missing", who, k);
    return 0;
}

static int pixel_valid(const float *const *a, const float *const *b, int nb, size_t i)
{
    for (int k = 0; k < nb; k++)
        if (!isfinite(a[k][i]) || !isfinite(b[k][i])) return 0;
    return 1;
}

/* ---- CVA ---------------------------------------------------------------------------------- */

/* Mean and standard deviation of each band's difference over the pixels valid in every band,
 * two-pass (mean, then squared deviations) so large offsets do not cancel digits. */
static int difference_stats(const float *const *a, const float *const *b, int nb, size_t npix,
                            double *mean, double *sd, size_t *nvalid)
{
    size_t len;
    long nch = chunking(npix, &len);
    double *sum = calloc((size_t)nch * (nb + 1), sizeof *sum);
    if (!sum) return mw_error_set(MW_ERR_NOMEM, "change vector: out of memory");
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nch; c++) {
        double *s = sum + (size_t)c * (nb + 1);
        size_t end = (size_t)(c + 1) * len < npix ? (size_t)(c + 1) * len : npix;
        for (size_t i = (size_t)c * len; i < end; i++) {
            if (!pixel_valid(a, b, nb, i)) continue;
            s[nb] += 1;
            for (int k = 0; k < nb; k++)
                s[k] += (double)b[k][i] - a[k][i];
        }
    }
    double n = 0;
    for (int k = 0; k < nb; k++)
        mean[k] = 0;
    for (long c = 0; c < nch; c++) {
        for (int k = 0; k < nb; k++)
            mean[k] += sum[(size_t)c * (nb + 1) + k];
        n += sum[(size_t)c * (nb + 1) + nb];
    }
    if (n < 2) {
        free(sum);
        return mw_error_set(MW_ERR_INPUT,
                            "change vector: fewer than 2 pixels have every band on both dates");
    }
    for (int k = 0; k < nb; k++)
        mean[k] /= n;
    memset(sum, 0, sizeof *sum * (size_t)nch * (nb + 1));
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nch; c++) {
        double *s = sum + (size_t)c * (nb + 1);
        size_t end = (size_t)(c + 1) * len < npix ? (size_t)(c + 1) * len : npix;
        for (size_t i = (size_t)c * len; i < end; i++) {
            if (!pixel_valid(a, b, nb, i)) continue;
            for (int k = 0; k < nb; k++) {
                double d = (double)b[k][i] - a[k][i] - mean[k];
                s[k] += d * d;
            }
        }
    }
    for (int k = 0; k < nb; k++) {
        double ss = 0;
        for (long c = 0; c < nch; c++)
            ss += sum[(size_t)c * (nb + 1) + k];
        sd[k] = sqrt(ss / n);
    }
    *nvalid = (size_t)n;
    free(sum);
    return 0;
}

/* A shift common to the whole scene (sun, atmosphere, gain, phenology) is not change, so each
 * band's difference is centred on its scene mean before scaling: on the Taizhou Landsat-7 pair the
 * band means differ by up to 3.9 sd between dates, and without centring CVA + Otsu scores
 * kappa -0.04 there (0.90 with it). */
static int cva(const float *const *a, const float *const *b, int nb, size_t npix, float *out,
               double *sd, size_t *nvalid)
{
    double mean[MAXB], inv[MAXB];
    if (difference_stats(a, b, nb, npix, mean, sd, nvalid)) return -1;
    for (int k = 0; k < nb; k++)
        inv[k] = sd[k] > 0 ? 1 / sd[k] : 0; /* a constant difference carries no change signal */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < npix; i++) {
        if (!pixel_valid(a, b, nb, i)) {
            out[i] = NAN;
            continue;
        }
        double m = 0;
        for (int k = 0; k < nb; k++) {
            double d = ((double)b[k][i] - a[k][i] - mean[k]) * inv[k];
            m += d * d;
        }
        out[i] = (float)sqrt(m);
    }
    return 0;
}

int mw_cva_magnitude(const float *const *a, const float *const *b, int nbands, size_t npix,
                     float *out)
{
    double sd[MAXB];
    size_t nvalid;
    if (check_bands(a, b, nbands, npix, "change vector")) return -1;
    if (!out) return mw_error_set(MW_ERR_INPUT, "change vector: no output");
    return cva(a, b, nbands, npix, out, sd, &nvalid);
}

/* ---- Otsu --------------------------------------------------------------------------------- */

int mw_otsu_threshold(const float *v, size_t n, int nbins, double *threshold)
{
    if (!v || !threshold || nbins < 2 || nbins > (1 << 20))
        return mw_error_set(MW_ERR_INPUT, "Otsu: need values and 2..%d bins (got %d)", 1 << 20,
                            nbins);
    double lo = INFINITY, hi = -INFINITY;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            m++;
            if (v[i] < lo) lo = v[i];
            if (v[i] > hi) hi = v[i];
        }
    if (m < 2) return mw_error_set(MW_ERR_INPUT, "Otsu: fewer than 2 finite values");
    if (hi == lo) { /* one value: nothing lies above it */
        *threshold = lo;
        return 0;
    }
    double *hist = calloc((size_t)nbins, sizeof *hist);
    if (!hist) return mw_error_set(MW_ERR_NOMEM, "Otsu: out of memory");
    const double scale = nbins / (hi - lo);
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            int k = (int)((v[i] - lo) * scale);
            hist[k < nbins ? k : nbins - 1] += 1;
        }
    /* Between-class variance w0 w1 (mu0 - mu1)^2 in bin units, for a split after bin k; the first
     * maximum wins so ties resolve the same way every time. */
    double total = 0;
    for (int k = 0; k < nbins; k++)
        total += hist[k] * (k + 0.5);
    double w0 = 0, s0 = 0, best = -1;
    int bestk = 0;
    for (int k = 0; k < nbins - 1; k++) {
        w0 += hist[k];
        s0 += hist[k] * (k + 0.5);
        double w1 = (double)m - w0;
        if (w0 == 0 || w1 == 0) continue;
        double d = s0 / w0 - (total - s0) / w1, sb = w0 * w1 * d * d;
        if (sb > best) best = sb, bestk = k;
    }
    free(hist);
    *threshold = lo + (bestk + 1) / scale;
    return 0;
}

/* ---- chi-square --------------------------------------------------------------------------- */

/* P(s, x) and Q(s, x) = 1 - P given gln = lgamma(s): the series where it converges fast
 * (x < s + 1), else Lentz's continued fraction for Q, so a small tail keeps its digits.
 * Press et al. 2007, Numerical Recipes 3rd ed., sec. 6.2. Serial callers only: glibc's lgamma
 * writes the global signgam (the parallel IR-MAD loop uses mw_chi2_sf). */
static void gamma_pq(double s, double x, double gln, double *p, double *q)
{
    if (!(x > 0)) {
        *p = x == 0 ? 0 : NAN, *q = x == 0 ? 1 : NAN;
        if (isinf(x)) *p = 1, *q = 0;
        return;
    }
    if (isinf(x)) {
        *p = 1, *q = 0;
        return;
    }
    const double front = exp(-x + s * log(x) - gln);
    if (x < s + 1) {
        double ap = s, del = 1 / s, sum = del;
        for (int i = 0; i < 1000; i++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * DBL_EPSILON) break;
        }
        *p = sum * front;
        if (*p > 1) *p = 1;
        *q = 1 - *p;
        return;
    }
    const double tiny = DBL_MIN / DBL_EPSILON;
    double b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - s);
        b += 2;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < DBL_EPSILON) break;
    }
    *q = front * h;
    if (*q > 1) *q = 1;
    *p = 1 - *q;
}

double mw_gamma_p(double s, double x)
{
    double p, q;
    if (!(s > 0)) return NAN;
    gamma_pq(s, x, lgamma(s), &p, &q);
    return p;
}

double mw_chi2_cdf(double z, int k)
{
    return k > 0 ? mw_gamma_p(0.5 * k, 0.5 * z) : NAN;
}

/* Q(k/2, z/2) by the finite sums for integer k (Abramowitz & Stegun 1964, sec. 26.4): one exp
 * (and an erfc for odd k) per pixel instead of a series, in the IR-MAD loop. Built up with
 * Q(s + 1, x) = Q(s, x) + x^s e^-x / Gamma(s + 1) from Q(1, x) = e^-x, Q(1/2, x) = erfc(sqrt x). */
double mw_chi2_sf(double z, int k)
{
    if (k < 1 || isnan(z)) return NAN;
    if (!(z > 0)) return 1;
    const double x = 0.5 * z, e = exp(-x);
    double term, sum, q;
    if (k % 2 == 0) {
        term = sum = 1;
        for (int j = 1; j < k / 2; j++)
            sum += term *= x / j;
        q = e * sum;
    } else {
        const double r = sqrt(x);
        term = r / 0.88622692545275801365; /* Gamma(3/2) = sqrt(pi) / 2 */
        sum = 0;
        for (int j = 0; j <= (k - 3) / 2; j++) {
            if (j) term *= x / (j + 0.5);
            sum += term;
        }
        q = erfc(r) + e * sum;
    }
    return q < 1 ? q : 1;
}

/* z with Q(k/2, z/2) = alpha, by bisection: the chi-square value a change must exceed. */
static double chi2_upper_quantile(double alpha, int k)
{
    double lo = 0, hi = 2 * k + 10;
    while (mw_chi2_sf(hi, k) > alpha && hi < 1e6)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (mw_chi2_sf(mid, k) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Under no change the MAD variates are Gaussian and Z ~ chi2(k). Weighting pixels by Q(Z) =
 * P(chi2(k) > Z) shrinks the weighted variance of each MAD variate by
 *   kappa_k = E[Z Q(Z)] / (k E[Q(Z)]) = E[min(Z, Z')] / k = (1/k) int_0^inf Q(t)^2 dt
 * (E[Q(Z)] = 1/2 and E[Z 1{Z' > Z}] = E[min(Z, Z')] / 2 for an independent copy Z'). Left
 * uncorrected, the next Z is inflated by 1/kappa_k, the weights narrow, and the variances keep
 * shrinking: on pure noise with k = 3 they settle near 0.19 of the truth and P < 0.01 marks about
 * half of the unchanged pixels. Dividing by kappa_k makes the true variance the fixed point.
 * Integrated over u = sqrt(t) (Simpson), which removes the sqrt(t) cusp of Q at 0 for k = 1. */
static double irmad_consistency(int k)
{
    const double top = sqrt(80.0 + 8.0 * k);
    const int n = 4000; /* even */
    double sum = 0;
    for (int i = 0; i <= n; i++) {
        double u = top * i / n, q = mw_chi2_sf(u * u, k);
        double f = q * q * 2 * u;
        sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    return sum * top / n / 3 / k;
}

/* ---- small dense linear algebra (n <= 16, row-major) --------------------------------------- */

/* In place: the lower triangle becomes L with A = L L^T. -1 when A is not positive definite to
 * working precision (a constant band, or bands that are linear combinations of others). */
static int cholesky(double *A, int n)
{
    for (int j = 0; j < n; j++) {
        double s = A[j * n + j], diag = s;
        for (int k = 0; k < j; k++)
            s -= A[j * n + k] * A[j * n + k];
        if (!(s > 1e-12 * diag)) return -1;
        double l = sqrt(s);
        A[j * n + j] = l;
        for (int i = j + 1; i < n; i++) {
            double t = A[i * n + j];
            for (int k = 0; k < j; k++)
                t -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = t / l;
        }
    }
    return 0;
}

static void solve_lower(const double *L, int n, double *x) /* L y = x, y in x */
{
    for (int i = 0; i < n; i++) {
        double t = x[i];
        for (int k = 0; k < i; k++)
            t -= L[i * n + k] * x[k];
        x[i] = t / L[i * n + i];
    }
}

static void solve_upper_t(const double *L, int n, double *x) /* L^T y = x, y in x */
{
    for (int i = n - 1; i >= 0; i--) {
        double t = x[i];
        for (int k = i + 1; k < n; k++)
            t -= L[k * n + i] * x[k];
        x[i] = t / L[i * n + i];
    }
}

/* Cyclic Jacobi: A (symmetric, destroyed) = V diag(d) V^T, eigenvectors in V's columns. Fixed
 * sweep order, so the same input gives the same bits. */
static void jacobi(double *A, int n, double *d, double *V)
{
    for (int i = 0; i < n * n; i++)
        V[i] = 0;
    for (int i = 0; i < n; i++)
        V[i * n + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int p = 0; p < n; p++) {
            diag += A[p * n + p] * A[p * n + p];
            for (int q = p + 1; q < n; q++)
                off += A[p * n + q] * A[p * n + q];
        }
        if (off <= 1e-32 * diag || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* A P */
                    double x = A[k * n + p], y = A[k * n + q];
                    A[k * n + p] = c * x - s * y;
                    A[k * n + q] = s * x + c * y;
                }
                for (int k = 0; k < n; k++) { /* P^T (A P) */
                    double x = A[p * n + k], y = A[q * n + k];
                    A[p * n + k] = c * x - s * y;
                    A[q * n + k] = s * x + c * y;
                }
                for (int k = 0; k < n; k++) {
                    double x = V[k * n + p], y = V[k * n + q];
                    V[k * n + p] = c * x - s * y;
                    V[k * n + q] = s * x + c * y;
                }
            }
    }
    for (int i = 0; i < n; i++)
        d[i] = A[i * n + i];
}

/* ---- IR-MAD ------------------------------------------------------------------------------- */

typedef struct mad_transform {
    double mx[MAXB], my[MAXB];             /* weighted means */
    double A[MAXB * MAXB], B[MAXB * MAXB]; /* row j: coefficients of canonical variates j */
    double rho[MAXB], var[MAXB];           /* correlations (increasing) and MAD variances */
} mad_transform;

/* Per chunk: sum w (z - c)(z - c)^T (upper triangle), sum w (z - c), sum w, count. */
#define ACC_STRIDE(n2) ((n2) * (n2) + (n2) + 2)

/* One pass over the pixels (w: weights, NaN where a band is missing). With t, each pixel's Z and
 * Q = P(chi2 > Z) under t, Q becoming its weight for the next round. With part, the weighted sums
 * for the next covariance, centred on shift (near the mean, so no digits cancel). Doing both in
 * one pass reads the bands once per iteration. */
static void irmad_pass(const float *const *a, const float *const *b, int nb, size_t npix,
                       const mad_transform *t, float *w, float *chi2, const double *shift,
                       double *part)
{
    const int n2 = 2 * nb, stride = ACC_STRIDE(n2);
    size_t len;
    long nch = chunking(npix, &len);
    if (part) memset(part, 0, sizeof *part * (size_t)nch * stride);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nch; c++) {
        double *sp = part ? part + (size_t)c * stride : NULL;
        size_t end = (size_t)(c + 1) * len < npix ? (size_t)(c + 1) * len : npix;
        for (size_t i = (size_t)c * len; i < end; i++) {
            if (isnan(w[i])) {
                if (chi2) chi2[i] = NAN;
                continue;
            }
            if (t) {
                double x[MAXB], y[MAXB], z = 0;
                for (int k = 0; k < nb; k++)
                    x[k] = a[k][i] - t->mx[k], y[k] = b[k][i] - t->my[k];
                for (int j = 0; j < nb; j++) {
                    double m = 0;
                    for (int k = 0; k < nb; k++)
                        m += t->A[j * nb + k] * x[k] - t->B[j * nb + k] * y[k];
                    z += m * m / t->var[j];
                }
                w[i] = (float)mw_chi2_sf(z, nb);
                if (chi2) chi2[i] = (float)z;
            }
            const double wi = w[i];
            if (!sp || !(wi > 0)) continue;
            double z[MAX2];
            for (int k = 0; k < nb; k++)
                z[k] = a[k][i] - shift[k], z[nb + k] = b[k][i] - shift[nb + k];
            for (int r = 0; r < n2; r++) {
                const double wz = wi * z[r];
                sp[n2 * n2 + r] += wz;
                for (int q = r; q < n2; q++)
                    sp[r * n2 + q] += wz * z[q];
            }
            sp[n2 * n2 + n2] += wi;
            sp[n2 * n2 + n2 + 1] += 1;
        }
    }
}

/* Adds the chunks' sums in chunk order: weighted mean and covariance (divided by sum w). */
static int finish_cov(const double *part, size_t npix, int nb, const double *shift, double *mean,
                      double *S, size_t *nused)
{
    const int n2 = 2 * nb, stride = ACC_STRIDE(n2);
    size_t len;
    long nch = chunking(npix, &len);
    double sum[ACC_STRIDE(MAX2)] = {0};
    for (long c = 0; c < nch; c++)
        for (int j = 0; j < stride; j++)
            sum[j] += part[(size_t)c * stride + j];
    const double sw = sum[n2 * n2 + n2], cnt = sum[n2 * n2 + n2 + 1];
    if (!(sw > 0) || cnt < n2 + 1)
        return mw_error_set(MW_ERR_INPUT, "IR-MAD: %.0f usable pixels for %d bands", cnt, nb);
    double d[MAX2];
    for (int k = 0; k < n2; k++)
        d[k] = sum[n2 * n2 + k] / sw, mean[k] = shift[k] + d[k];
    for (int r = 0; r < n2; r++)
        for (int q = r; q < n2; q++)
            S[r * n2 + q] = S[q * n2 + r] = sum[r * n2 + q] / sw - d[r] * d[q];
    if (nused) *nused = (size_t)cnt;
    return 0;
}

/* Canonical correlation analysis of x against y under covariance S (2nb x 2nb): the generalized
 * problem S12 S22^-1 S21 a = rho^2 S11 a, made symmetric with S11 = L L^T (Cholesky), solved by
 * Jacobi. a is scaled to a^T S11 a = 1, b = S22^-1 S21 a / rho to b^T S22 b = 1. */
static int cca(const double *S, int nb, mad_transform *t)
{
    const int n2 = 2 * nb;
    double L1[MAXB * MAXB], L2[MAXB * MAXB], S12[MAXB * MAXB], X[MAXB * MAXB];
    double M[MAXB * MAXB], C[MAXB * MAXB], U[MAXB * MAXB], lam[MAXB], col[MAXB];
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < nb; j++) {
            L1[i * nb + j] = S[i * n2 + j];
            L2[i * nb + j] = S[(nb + i) * n2 + nb + j];
            S12[i * nb + j] = S[i * n2 + nb + j];
        }
    if (cholesky(L1, nb) || cholesky(L2, nb))
        return mw_error_set(MW_ERR_INPUT, "IR-MAD: a date's bands are constant or collinear");
    for (int j = 0; j < nb; j++) { /* X = S22^-1 S21, column j from S21's column j = S12's row j */
        for (int i = 0; i < nb; i++)
            col[i] = S12[j * nb + i];
        solve_lower(L2, nb, col);
        solve_upper_t(L2, nb, col);
        for (int i = 0; i < nb; i++)
            X[i * nb + j] = col[i];
    }
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < nb; j++) {
            double s = 0;
            for (int k = 0; k < nb; k++)
                s += S12[i * nb + k] * X[k * nb + j];
            M[i * nb + j] = s;
        }
    /* C = L1^-1 M L1^-T: T = L1^-1 M by columns, then C = L1^-1 T^T by columns (M symmetric). */
    double T[MAXB * MAXB];
    for (int j = 0; j < nb; j++) {
        for (int i = 0; i < nb; i++)
            col[i] = M[i * nb + j];
        solve_lower(L1, nb, col);
        for (int i = 0; i < nb; i++)
            T[i * nb + j] = col[i];
    }
    for (int j = 0; j < nb; j++) {
        for (int i = 0; i < nb; i++)
            col[i] = T[j * nb + i];
        solve_lower(L1, nb, col);
        for (int i = 0; i < nb; i++)
            C[i * nb + j] = col[i];
    }
    for (int i = 0; i < nb; i++)
        for (int j = i + 1; j < nb; j++)
            C[i * nb + j] = C[j * nb + i] = 0.5 * (C[i * nb + j] + C[j * nb + i]);
    jacobi(C, nb, lam, U);
    int order[MAXB];
    for (int i = 0; i < nb; i++)
        order[i] = i;
    for (int i = 1; i < nb; i++) /* insertion sort, increasing rho^2, stable */
        for (int j = i; j > 0 && lam[order[j]] < lam[order[j - 1]]; j--) {
            int x = order[j];
            order[j] = order[j - 1], order[j - 1] = x;
        }
    for (int r = 0; r < nb; r++) {
        const int e = order[r];
        double *av = t->A + r * nb, *bv = t->B + r * nb;
        for (int i = 0; i < nb; i++)
            av[i] = U[i * nb + e];
        solve_upper_t(L1, nb, av);
        /* Sign: the canonical variate correlates positively with the sum of the x bands. */
        double s = 0;
        for (int i = 0; i < nb; i++)
            for (int k = 0; k < nb; k++)
                s += S[i * n2 + k] * av[k];
        if (s < 0)
            for (int i = 0; i < nb; i++)
                av[i] = -av[i];
        double rho = lam[e] > 0 ? sqrt(lam[e]) : 0;
        if (rho > 1) rho = 1;
        for (int i = 0; i < nb; i++) {
            double v = 0;
            for (int k = 0; k < nb; k++)
                v += X[i * nb + k] * av[k];
            bv[i] = rho > 1e-9 ? v / rho : 0;
        }
        t->rho[r] = rho;
        /* Var(U - V) = 2 (1 - rho); an uncorrelated pair (b = 0) leaves Var(U) = 1. The floor
         * keeps a perfectly correlated variate (rounding-level residuals) from dividing by 0. */
        t->var[r] = rho > 1e-9 ? 2 * (1 - rho) : 1;
        if (t->var[r] < 1e-12) t->var[r] = 1e-12;
    }
    return 0;
}

int mw_irmad(const float *const *a, const float *const *b, int nbands, size_t npix,
             const mw_change_options *o, float *chi2, float *p_nochange, mw_irmad_result *r)
{
    const mw_change_options def = MW_CHANGE_OPTIONS_DEFAULT;
    if (!o) o = &def;
    if (check_bands(a, b, nbands, npix, "IR-MAD")) return -1;
    if (o->irmad_max_iter < 1 || !(o->irmad_tol >= 0))
        return mw_error_set(MW_ERR_INPUT, "IR-MAD: need at least 1 iteration and a tolerance >= 0");
    const int nb = nbands;
    size_t len;
    long nch = chunking(npix, &len);
    float *w = malloc(sizeof *w * npix);
    double *part = malloc(sizeof *part * (size_t)nch * ACC_STRIDE(2 * nb));
    if (!w || !part) {
        free(w), free(part);
        return mw_error_set(MW_ERR_NOMEM, "IR-MAD: out of memory");
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < npix; i++)
        w[i] = pixel_valid(a, b, nb, i) ? 1.0f : NAN;
    const double kappa = irmad_consistency(nb);
    double S[MAX2 * MAX2], mean[MAX2], shift[MAX2] = {0}, rho_old[MAXB] = {0};
    mad_transform t;
    memset(&t, 0, sizeof t);
    mw_irmad_result res = {0};
    /* The first, unweighted covariance: its mean first, so the products are taken about it. */
    irmad_pass(a, b, nb, npix, NULL, w, NULL, shift, part);
    int rc = finish_cov(part, npix, nb, shift, mean, S, &res.n_valid);
    if (rc == 0) {
        memcpy(shift, mean, sizeof mean);
        irmad_pass(a, b, nb, npix, NULL, w, NULL, shift, part);
        rc = finish_cov(part, npix, nb, shift, mean, S, NULL);
    }
    for (int it = 1; rc == 0; it++) {
        if (cca(S, nb, &t)) {
            rc = -1;
            break;
        }
        for (int k = 0; k < nb; k++)
            t.mx[k] = mean[k], t.my[k] = mean[nb + k];
        if (it > 1 && o->irmad_calibrated) /* the weights are Q(Z) from here on */
            for (int k = 0; k < nb; k++)
                t.var[k] = fmax(t.var[k] / kappa, 1e-12);
        double moved = it == 1 ? INFINITY : 0;
        for (int k = 0; k < nb; k++) {
            if (it > 1 && fabs(t.rho[k] - rho_old[k]) > moved) moved = fabs(t.rho[k] - rho_old[k]);
            rho_old[k] = t.rho[k];
        }
        res.iterations = it;
        res.converged = moved < o->irmad_tol;
        const int last = res.converged || it == o->irmad_max_iter;
        /* Z and P under this transform; unless it is the last, each pixel's P weights it in the
         * next covariance. */
        memcpy(shift, mean, sizeof mean);
        irmad_pass(a, b, nb, npix, &t, w, chi2, shift, last ? NULL : part);
        if (last) break;
        rc = finish_cov(part, npix, nb, shift, mean, S, NULL);
    }
    if (rc == 0) {
        for (int k = 0; k < nb; k++)
            res.rho[k] = t.rho[k];
        if (p_nochange) memcpy(p_nochange, w, sizeof *w * npix);
        if (r) *r = res;
    }
    free(w), free(part);
    return rc;
}

/* ---- decision and scores ------------------------------------------------------------------ */

int mw_change_detect(const float *const *a, const float *const *b, int nbands, size_t npix,
                     mw_change_method method, const mw_change_options *o, uint8_t *change,
                     mw_change_stats *st)
{
    const mw_change_options def = MW_CHANGE_OPTIONS_DEFAULT;
    if (!o) o = &def;
    if (check_bands(a, b, nbands, npix, "change map")) return -1;
    if (!change) return mw_error_set(MW_ERR_INPUT, "change map: no output");
    if (method != MW_CHANGE_CVA_OTSU && method != MW_CHANGE_IRMAD)
        return mw_error_set(MW_ERR_INPUT, "change map: unknown method %d", (int)method);
    if (method == MW_CHANGE_IRMAD && !(o->alpha > 0 && o->alpha < 1))
        return mw_error_set(MW_ERR_INPUT, "change map: alpha %g is not in (0, 1)", o->alpha);
    mw_change_stats s;
    memset(&s, 0, sizeof s);
    s.method = method, s.nbands = nbands, s.alpha = NAN;
    for (int k = 0; k < MAXB; k++)
        s.rho[k] = s.band_sd[k] = NAN;
    float *v = malloc(sizeof *v * npix);
    if (!v) return mw_error_set(MW_ERR_NOMEM, "change map: out of memory");
    if (method == MW_CHANGE_CVA_OTSU) {
        if (cva(a, b, nbands, npix, v, s.band_sd, &s.n_valid) ||
            mw_otsu_threshold(v, npix, o->otsu_bins, &s.threshold)) {
            free(v);
            return -1;
        }
        s.otsu_bins = o->otsu_bins;
        const double thr = s.threshold;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < npix; i++)
            change[i] = isnan(v[i]) ? MW_CHANGE_NODATA : v[i] > thr ? MW_CHANGE_YES : MW_CHANGE_NO;
    } else {
        mw_irmad_result r;
        if (mw_irmad(a, b, nbands, npix, o, NULL, v, &r)) {
            free(v);
            return -1;
        }
        s.alpha = o->alpha;
        s.threshold = chi2_upper_quantile(o->alpha, nbands);
        s.iterations = r.iterations, s.converged = r.converged;
        for (int k = 0; k < nbands; k++)
            s.rho[k] = r.rho[k];
        const double alpha = o->alpha;
        size_t nv = 0;
#pragma omp parallel for schedule(static) reduction(+ : nv)
        for (size_t i = 0; i < npix; i++) {
            change[i] = isnan(v[i])    ? MW_CHANGE_NODATA
                        : v[i] < alpha ? MW_CHANGE_YES
                                       : MW_CHANGE_NO;
            nv += !isnan(v[i]);
        }
        s.n_valid = nv;
    }
    free(v);
    size_t nc = 0;
#pragma omp parallel for schedule(static) reduction(+ : nc)
    for (size_t i = 0; i < npix; i++)
        nc += change[i] == MW_CHANGE_YES;
    s.n_change = nc;
    if (st) *st = s;
    return 0;
}

int mw_change_score(const uint8_t *pred, const uint8_t *truth_change, const uint8_t *truth_nochange,
                    size_t npix, mw_change_scores *s)
{
    if (!pred || !truth_change || !s)
        return mw_error_set(MW_ERR_INPUT, "change score: missing map or reference");
    mw_change_scores r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < npix; i++) {
        int yes = truth_change[i] != 0, no = truth_nochange ? truth_nochange[i] != 0 : !yes;
        if (pred[i] == MW_CHANGE_NODATA || yes == no) {
            r.n_unscored++;
            continue;
        }
        int p = pred[i] != 0;
        if (yes)
            p ? r.tp++ : r.fn++;
        else
            p ? r.fp++ : r.tn++;
    }
    const double tp = (double)r.tp, fp = (double)r.fp, fn = (double)r.fn, tn = (double)r.tn;
    const double n = tp + fp + fn + tn;
    r.precision = tp + fp > 0 ? tp / (tp + fp) : NAN;
    r.recall = tp + fn > 0 ? tp / (tp + fn) : NAN;
    r.f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
    r.accuracy = n > 0 ? (tp + tn) / n : NAN;
    /* kappa = (po - pe) / (1 - pe), pe from the row and column totals */
    double po = r.accuracy,
           pe = n > 0 ? ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n) : NAN;
    r.kappa = n > 0 && pe < 1 ? (po - pe) / (1 - pe) : NAN;
    *s = r;
    return 0;
}
