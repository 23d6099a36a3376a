#include "minewatch/trend.h"

#include <math.h>
#include <stdlib.h>

#define MAX_N 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void mw_trend_fit(const double *t, const float *v, int n, mw_trend *out)
{
    double tt[MAX_N], vv[MAX_N], slopes[MAX_N * (MAX_N - 1) / 2];
    int m = 0;
    for (int i = 0; i < n && m < MAX_N; i++)
        if (isfinite(v[i])) tt[m] = t[i], vv[m] = v[i], m++;
    *out = (mw_trend){m, NAN, NAN, 0, NAN, NAN};
    if (m < 2) return;
    int k = 0;
    long s = 0;
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) {
            slopes[k++] = (vv[j] - vv[i]) / (tt[j] - tt[i]);
            s += (vv[j] > vv[i]) - (vv[j] < vv[i]);
        }
    out->slope = median(slopes, k);
    for (int i = 0; i < m; i++)
        slopes[i] = vv[i] - out->slope * tt[i];
    out->intercept = median(slopes, m);
    out->s = s;
    if (m < 3) return;
    /* Var(S) with groups of tied values: [n(n-1)(2n+5) - sum g(g-1)(2g+5)] / 18 */
    for (int i = 0; i < m; i++)
        slopes[i] = vv[i];
    qsort(slopes, (size_t)m, sizeof *slopes, cmp_double);
    double var = (double)m * (m - 1) * (2 * m + 5);
    for (int i = 0; i < m;) {
        int g = 1;
        while (i + g < m && slopes[i + g] == slopes[i])
            g++;
        var -= (double)g * (g - 1) * (2 * g + 5);
        i += g;
    }
    var /= 18;
    if (var <= 0) { /* every value equal: no trend */
        out->z = 0, out->p = 1;
        return;
    }
    out->z = (double)(s - (s > 0) + (s < 0)) / sqrt(var);
    out->p = erfc(fabs(out->z) / sqrt(2.0));
}
