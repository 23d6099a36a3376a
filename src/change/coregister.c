#include "minewatch/coregister.h"

#include <complex.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "minewatch/error.h"

#define PI 3.14159265358979323846

/* FFTW's planner is not thread-safe, its plans are (new-array execute): plans are made once per
 * size under this lock and shared. FFTW_ESTIMATE, never MEASURE: a measured plan can differ
 * between runs, and with it the last bits of every shift. */
#define MAX_PLANS 64
typedef struct plan_entry {
    int w, h;
    fftw_plan fwd, inv;
} plan_entry;
static plan_entry g_plans[MAX_PLANS];
static int g_nplans;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int plans_for(int w, int h, fftw_plan *fwd, fftw_plan *inv)
{
    int rc = -1;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nplans; i++)
        if (g_plans[i].w == w && g_plans[i].h == h) {
            *fwd = g_plans[i].fwd, *inv = g_plans[i].inv;
            rc = 0;
            break;
        }
    if (rc && g_nplans < MAX_PLANS) {
        fftw_complex *a = fftw_malloc(sizeof(fftw_complex) * (size_t)w * h);
        fftw_complex *b = fftw_malloc(sizeof(fftw_complex) * (size_t)w * h);
        if (a && b) {
            plan_entry *e = &g_plans[g_nplans];
            e->w = w, e->h = h;
            e->fwd = fftw_plan_dft_2d(h, w, a, b, FFTW_FORWARD, FFTW_ESTIMATE);
            e->inv = fftw_plan_dft_2d(h, w, a, b, FFTW_BACKWARD, FFTW_ESTIMATE);
            if (e->fwd && e->inv) {
                *fwd = e->fwd, *inv = e->inv;
                g_nplans++;
                rc = 0;
            }
        }
        fftw_free(a), fftw_free(b);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* numpy.fft.fftfreq(n, d)[k] */
static double fftfreq(int n, int k, double d)
{
    const int half = (n - 1) / 2 + 1;
    return (k < half ? k : k - n) / (n * d);
}

/* The DFT of data (h x w) sampled on an r x r grid of 1/up pixel steps around the offsets:
 * out[v * r + u] = sum_{j,k} data[j,k] exp(-2 pi i ((v - oy) fy_j + (u - ox) fx_k)). */
static int upsampled_dft(const double complex *data, int w, int h, int r, double up, double oy,
                         double ox, double complex *out)
{
    /* Real and imaginary parts apart, the kernels transposed ([k][u], [j][v]) and the partial
     * sums held [j][u]: the innermost loop runs over r independent sums, which vectorises. Each
     * sum still adds its terms one by one in k (then j) order, each term the complex product
     * written out as C computes it, so the bits are those of a plain sum for any thread count. */
    const size_t R = (size_t)r;
    double *kxr = malloc(sizeof(double) * R * (size_t)w),
           *kxi = malloc(sizeof(double) * R * (size_t)w);
    double *kyr = malloc(sizeof(double) * R * (size_t)h),
           *kyi = malloc(sizeof(double) * R * (size_t)h);
    double *tr = malloc(sizeof(double) * R * (size_t)h),
           *ti = malloc(sizeof(double) * R * (size_t)h);
    if (!kxr || !kxi || !kyr || !kyi || !tr || !ti) {
        free(kxr), free(kxi), free(kyr), free(kyi), free(tr), free(ti);
        return -1;
    }
    for (int k = 0; k < w; k++)
        for (int u = 0; u < r; u++) {
            const double complex e = cexp(-2.0 * PI * I * (u - ox) * fftfreq(w, k, up));
            kxr[(size_t)k * R + (size_t)u] = creal(e), kxi[(size_t)k * R + (size_t)u] = cimag(e);
        }
    for (int j = 0; j < h; j++)
        for (int v = 0; v < r; v++) {
            const double complex e = cexp(-2.0 * PI * I * (v - oy) * fftfreq(h, j, up));
            kyr[(size_t)j * R + (size_t)v] = creal(e), kyi[(size_t)j * R + (size_t)v] = cimag(e);
        }
        /* t[j][u] = sum_k kx[u][k] data[j][k] */
#pragma omp parallel for schedule(static)
    for (int j = 0; j < h; j++) {
        double *restrict sr = tr + (size_t)j * R, *restrict si = ti + (size_t)j * R;
        for (size_t u = 0; u < R; u++)
            sr[u] = 0, si[u] = 0;
        for (int k = 0; k < w; k++) {
            const double dr = creal(data[(size_t)j * w + k]), di = cimag(data[(size_t)j * w + k]);
            const double *restrict ar = kxr + (size_t)k * R, *restrict ai = kxi + (size_t)k * R;
#pragma omp simd
            for (size_t u = 0; u < R; u++) {
                sr[u] = sr[u] + (ar[u] * dr - ai[u] * di);
                si[u] = si[u] + (ar[u] * di + ai[u] * dr);
            }
        }
    }
    /* out[v][u] = sum_j ky[v][j] t[j][u] */
    int short_of_memory = 0;
#pragma omp parallel reduction(| : short_of_memory)
    {
        double *sr = malloc(sizeof(double) * R), *si = malloc(sizeof(double) * R);
#pragma omp for schedule(static)
        for (int v = 0; v < r; v++) {
            if (!sr || !si) {
                short_of_memory = 1;
                continue;
            }
            for (size_t u = 0; u < R; u++)
                sr[u] = 0, si[u] = 0;
            for (int j = 0; j < h; j++) {
                const double br = kyr[(size_t)j * R + (size_t)v],
                             bi = kyi[(size_t)j * R + (size_t)v];
                const double *restrict cr = tr + (size_t)j * R, *restrict ci = ti + (size_t)j * R;
#pragma omp simd
                for (size_t u = 0; u < R; u++) {
                    sr[u] = sr[u] + (br * cr[u] - bi * ci[u]);
                    si[u] = si[u] + (br * ci[u] + bi * cr[u]);
                }
            }
            for (size_t u = 0; u < R; u++) { /* a complex is two doubles (C11 6.2.5) */
                double *o = (double *)&out[(size_t)v * R + u];
                o[0] = sr[u], o[1] = si[u];
            }
        }
        free(sr), free(si);
    }
    free(kxr), free(kxi), free(kyr), free(kyi), free(tr), free(ti);
    return short_of_memory ? -1 : 0;
}

/* A complex image from x (all finite); prepared images lose their mean and are Hann-windowed.
 * Returns the relative spread (0: flat). */
static double fill(const float *x, int w, int h, int prepare, fftw_complex *out)
{
    const size_t n = (size_t)w * h;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - mean) * (x[i] - mean);
    const double sd = sqrt(sq / (double)n);
    for (int y = 0; y < h; y++) {
        const double wy = prepare ? 0.5 - 0.5 * cos(2.0 * PI * (y + 0.5) / h) : 1.0;
        for (int xx = 0; xx < w; xx++) {
            const size_t i = (size_t)y * w + xx;
            double v = x[i];
            if (prepare) v = (v - mean) * wy * (0.5 - 0.5 * cos(2.0 * PI * (xx + 0.5) / w));
            out[i] = v;
        }
    }
    return sd / fmax(fabs(mean), 1e-12);
}

static int estimate(const float *ref, const float *mov, int w, int h, const mw_coreg_options *o,
                    mw_coreg_result *r)
{
    const int up = o && o->upsample > 0 ? o->upsample : 100;
    const int prepare = o ? o->prepare : 1;
    const double min_snr = o && o->min_snr > 0 ? o->min_snr : 12.0;
    const size_t n = (size_t)w * h;
    fftw_plan fwd, inv;
    if (plans_for(w, h, &fwd, &inv))
        return mw_error_set(MW_ERR_NOMEM, "co-registration: no FFT plan for %d x %d", w, h);
    fftw_complex *a = fftw_malloc(sizeof(fftw_complex) * n),
                 *b = fftw_malloc(sizeof(fftw_complex) * n);
    fftw_complex *fa = fftw_malloc(sizeof(fftw_complex) * n),
                 *fb = fftw_malloc(sizeof(fftw_complex) * n);
    const int r_up = (int)ceil(up * 1.5);
    double complex *cc = malloc(sizeof *cc * (size_t)r_up * r_up);
    int rc = 0;
    if (!a || !b || !fa || !fb || !cc) {
        rc = mw_error_set(MW_ERR_NOMEM, "co-registration: out of memory for %d x %d", w, h);
        goto done;
    }
    r->valid = 1;
    if (fill(ref, w, h, prepare, a) < 1e-6 || fill(mov, w, h, prepare, b) < 1e-6) {
        r->why_not = "flat";
        goto done;
    }
    fftw_execute_dft(fwd, a, fa);
    fftw_execute_dft(fwd, b, fb);
    /* The normalised cross-power spectrum (phase only), then its inverse: a peak at the shift. */
    double complex *p = a; /* a is free again: it holds the spectrum */
    for (size_t i = 0; i < n; i++) {
        double complex x = fa[i] * conj(fb[i]);
        p[i] = x / fmax(cabs(x), 100 * DBL_EPSILON);
    }
    fftw_execute_dft(inv, a, fb);
    size_t best = 0;
    double bm = -1;
    for (size_t i = 0; i < n; i++) {
        const double m = creal(fb[i]) * creal(fb[i]) + cimag(fb[i]) * cimag(fb[i]);
        if (m > bm) bm = m, best = i;
    }
    double sy = (double)(best / w), sx = (double)(best % w);
    if (sy > h / 2) sy -= h; /* numpy's fix(size / 2) for positive sizes */
    if (sx > w / 2) sx -= w;
    double peak = sqrt(bm);
    if (up > 1) {
        const double ds = floor(r_up / 2.0);
        for (size_t i = 0; i < n; i++)
            p[i] = conj(p[i]);
        if (upsampled_dft(p, w, h, r_up, up, ds - sy * up, ds - sx * up, cc)) {
            rc = mw_error_set(MW_ERR_NOMEM, "co-registration: out of memory for %d x %d", w, h);
            goto done;
        }
        size_t bi = 0;
        double bv = -1;
        for (size_t i = 0; i < (size_t)r_up * r_up; i++) {
            const double m = cabs(conj(cc[i]));
            if (m > bv) bv = m, bi = i;
        }
        sy += ((double)(bi / r_up) - ds) / up;
        sx += ((double)(bi % r_up) - ds) / up;
        peak = bv;
    }
    r->peak = peak / (double)n;
    r->snr = r->peak * sqrt((double)n);
    if (r->snr < min_snr) {
        r->why_not = "weak peak";
        goto done;
    }
    r->dy = sy, r->dx = sx;
    r->trusted = 1;
done:
    free(cc);
    fftw_free(a), fftw_free(b), fftw_free(fa), fftw_free(fb);
    return rc;
}

/* Keys' cubic convolution weights, a = -0.5. */
static void keys(double t, double wt[4])
{
    const double a = -0.5;
    for (int k = 0; k < 4; k++) {
        const double x = fabs(t - (k - 1));
        wt[k] = x <= 1  ? ((a + 2) * x - (a + 3)) * x * x + 1
                : x < 2 ? ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
                        : 0;
    }
}

void mw_coreg_shift_image(const float *in, int w, int h, double dy, double dx, float *out)
{
    const double fy0 = floor(-dy), fx0 = floor(-dx);
    double wy[4], wx[4];
    keys(-dy - fy0, wy);
    keys(-dx - fx0, wx);
    const int oy = (int)fy0, ox = (int)fx0;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const int y0 = y + oy - 1, x0 = x + ox - 1;
            double s = 0;
            int bad = y0 < 0 || x0 < 0 || y0 + 3 >= h || x0 + 3 >= w;
            for (int j = 0; j < 4 && !bad; j++)
                for (int k = 0; k < 4; k++) {
                    const float v = in[(size_t)(y0 + j) * w + (x0 + k)];
                    bad |= !isfinite(v);
                    s += wy[j] * wx[k] * v;
                }
            out[(size_t)y * w + x] = bad ? NAN : (float)s;
        }
}

/* The largest square window clear in both images, searched from the whole image down (first in
 * row-major order at each size, so the choice is repeatable). Masking clouds inside the window
 * instead would correlate the mask's own edges; like AROSICS, a clear matching window is chosen
 * (Scheffler et al. 2017, Remote Sens. 9(7):676). Returns the side, 0 if none of min_side. */
static int clear_window(const float *a, const float *b, int w, int h, int min_side, int *wx,
                        int *wy)
{
    long *sat = calloc((size_t)(w + 1) * (h + 1), sizeof *sat); /* summed no-data counts */
    if (!sat) return 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const size_t i = (size_t)y * w + x;
            sat[(size_t)(y + 1) * (w + 1) + x + 1] =
                (!isfinite(a[i]) || !isfinite(b[i])) + sat[(size_t)y * (w + 1) + x + 1] +
                sat[(size_t)(y + 1) * (w + 1) + x] - sat[(size_t)y * (w + 1) + x];
        }
    int found = 0;
    for (int side = w < h ? w : h; side >= min_side && !found;
         side = side * 7 / 8 < side - 1 ? side * 7 / 8 : side - 1) {
        const int step = side / 16 > 1 ? side / 16 : 1;
        for (int y = 0; y + side <= h && !found; y += step)
            for (int x = 0; x + side <= w && !found; x += step) {
                const long bad = sat[(size_t)(y + side) * (w + 1) + x + side] -
                                 sat[(size_t)y * (w + 1) + x + side] -
                                 sat[(size_t)(y + side) * (w + 1) + x] +
                                 sat[(size_t)y * (w + 1) + x];
                if (bad == 0) *wx = x, *wy = y, found = side;
            }
    }
    free(sat);
    return found;
}

int mw_coreg_estimate(const float *ref, const float *mov, int w, int h, const mw_coreg_options *o,
                      mw_coreg_result *r)
{
    memset(r, 0, sizeof *r);
    if (w < 8 || h < 8)
        return mw_error_set(MW_ERR_INPUT,
                            "co-registration needs at least 8 x 8 pixels, not %d x %d", w, h);
    const size_t n = (size_t)w * h;
    size_t nv = 0;
    for (size_t i = 0; i < n; i++)
        nv += isfinite(ref[i]) && isfinite(mov[i]);
    if (nv == n) return estimate(ref, mov, w, h, o, r);
    const double min_valid = o && o->min_valid > 0 ? o->min_valid : 0.2;
    int x0 = 0, y0 = 0, side = 0;
    if ((double)nv / (double)n >= min_valid) side = clear_window(ref, mov, w, h, 32, &x0, &y0);
    if (!side) {
        r->valid = (double)nv / (double)n;
        r->why_not = "too few clear pixels";
        return 0;
    }
    float *a = malloc(sizeof(float) * (size_t)side * side);
    float *b = malloc(sizeof(float) * (size_t)side * side);
    if (!a || !b) {
        free(a), free(b);
        return mw_error_set(MW_ERR_NOMEM, "co-registration: out of memory");
    }
    for (int y = 0; y < side; y++) {
        memcpy(a + (size_t)y * side, ref + (size_t)(y0 + y) * w + x0, sizeof(float) * (size_t)side);
        memcpy(b + (size_t)y * side, mov + (size_t)(y0 + y) * w + x0, sizeof(float) * (size_t)side);
    }
    int rc = estimate(a, b, side, side, o, r);
    r->valid = (double)side * side / (double)n;
    free(a), free(b);
    return rc;
}
