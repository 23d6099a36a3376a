/* Theil-Sen slope and Mann-Kendall test: exact on a straight line, robust to one bad year, and
 * equal to scipy's theilslopes and a numpy Mann-Kendall on random series with ties and gaps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash_random.h"
#include "minewatch/trend.h"
#include "test_util.h"

static void a_straight_line(void **state)
{
    (void)state;
    double t[10];
    float v[10];
    for (int i = 0; i < 10; i++)
        t[i] = 2016 + i, v[i] = (float)(0.25 + 0.03125 * i); /* exact in float */
    mw_trend r;
    mw_trend_fit(t, v, 10, &r);
    assert_int_equal(r.n, 10);
    assert_true(r.slope == 0.03125);
    assert_true(fabs(r.intercept - (0.25 - 0.03125 * 2016)) < 1e-9);
    assert_int_equal(r.s, 45);
    /* z = (45 - 1) / sqrt(10 * 9 * 25 / 18) */
    assert_true(fabs(r.z - 44 / sqrt(125.0)) < 1e-12);
    assert_true(r.p < 1e-4 && r.p > 5e-5);
}

static void one_bad_year_does_not_move_the_slope(void **state)
{
    (void)state;
    double t[8];
    float v[8];
    for (int i = 0; i < 8; i++)
        t[i] = i, v[i] = (float)(0.2 + 0.05 * i);
    v[3] = 0.9f; /* a smoke-hazed or mis-masked year */
    mw_trend r;
    mw_trend_fit(t, v, 8, &r);
    assert_true(fabs(r.slope - 0.05) < 1e-6); /* the median of the pairwise slopes ignores it */
    v[5] = NAN;                               /* a year with no clear composite */
    mw_trend_fit(t, v, 8, &r);
    assert_int_equal(r.n, 7);
    assert_true(fabs(r.slope - 0.05) < 1e-6);
}

static void short_and_flat_series(void **state)
{
    (void)state;
    double t[3] = {0, 1, 2};
    float v[3] = {0.4f, NAN, NAN};
    mw_trend r;
    mw_trend_fit(t, v, 3, &r);
    assert_int_equal(r.n, 1);
    assert_true(isnan(r.slope) && isnan(r.p));
    float f[3] = {0.4f, 0.4f, 0.4f};
    mw_trend_fit(t, f, 3, &r);
    assert_true(r.slope == 0 && r.s == 0 && r.p == 1);
}

static void equals_scipy_on_random_series(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("trend"), *in = tu_path(dir, "series.txt");
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    enum { NS = 200 };
    double t[NS][12];
    float v[NS][12];
    int n[NS];
    for (int k = 0; k < NS; k++) {
        n[k] = 3 + k % 10;
        double slope = 0.04 * (mw_unif(mw_hash4(8, (uint64_t)k, 0, 0)) - 0.5);
        for (int i = 0; i < n[k]; i++) {
            t[k][i] = 2015 + i + (k % 3 == 0 ? 0.5 * i : 0); /* uneven spacing too */
            double noise = floor(mw_unif(mw_hash4(8, (uint64_t)k, (uint64_t)i, 1)) * 8) / 100;
            v[k][i] = (float)(0.5 + slope * i + noise); /* noise on a 0.01 lattice: ties */
            if (mw_unif(mw_hash4(8, (uint64_t)k, (uint64_t)i, 2)) < 0.1 && i > 2) v[k][i] = NAN;
            fprintf(f, "%.17g ", t[k][i]);
        }
        fprintf(f, "|");
        for (int i = 0; i < n[k]; i++)
            fprintf(f, " %.17g", (double)v[k][i]); /* the float exactly */
        fprintf(f, "\n");
    }
    fclose(f);
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/trend_reference.py %s", MW_SOURCE_DIR, in);
    int rc = tu_run(cmd, &out);
    if (rc) fail_msg("scipy reference failed (apt-get install python3-scipy):\n%s", out);
    char *line = out;
    for (int k = 0; k < NS; k++) {
        double slope, z, p;
        long s;
        assert_int_equal(sscanf(line, "%lf %ld %lf %lf", &slope, &s, &z, &p), 4);
        line = strchr(line, '\n') + 1;
        mw_trend r;
        mw_trend_fit(t[k], v[k], n[k], &r);
        if (fabs(r.slope - slope) > 1e-12 || r.s != s || fabs(r.z - z) > 1e-12 ||
            fabs(r.p - p) > 1e-12)
            fail_msg(
                "series %d: slope %.12g S %ld z %.12g p %.12g; reference %.12g %ld %.12g %.12g", k,
                r.slope, r.s, r.z, r.p, slope, s, z, p);
    }
    free(out);
    tu_rmtree(dir);
    free(in), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_straight_line),
        cmocka_unit_test(one_bad_year_does_not_move_the_slope),
        cmocka_unit_test(short_and_flat_series),
        cmocka_unit_test(equals_scipy_on_random_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
