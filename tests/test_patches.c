/* Patch labelling: equal to a flood fill written out here, for any chunk height and thread count;
 * a patch that meets chunk borders only diagonally, across four chunks, is one patch; the minimum
 * mapping unit drops small patches and keeps the statistics of the rest. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "core/hash_random.h"
#include "minewatch/patches.h"

#define W 173
#define H 151

/* Breadth-first flood fill, 8-connected, numbering patches as they are met in raster order. */
static int reference(const uint8_t *m, int32_t *lab, long *size)
{
    int *queue = malloc(sizeof(int) * W * H);
    int next = 0;
    memset(lab, 0, sizeof(int32_t) * W * H);
    for (int p = 0; p < W * H; p++) {
        if (!m[p] || lab[p]) continue;
        int head = 0, tail = 0;
        lab[p] = ++next;
        size[next] = 0;
        queue[tail++] = p;
        while (head < tail) {
            int q = queue[head++], x = q % W, y = q / W;
            size[next]++;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                    int r = yy * W + xx;
                    if (m[r] && !lab[r]) lab[r] = next, queue[tail++] = r;
                }
        }
    }
    free(queue);
    return next;
}

static void equals_a_flood_fill_for_any_chunks_and_threads(void **state)
{
    (void)state;
    static uint8_t m[W * H];
    static int32_t want[W * H], got[W * H];
    static long size[W * H + 1];
    for (int p = 0; p < W * H; p++)
        m[p] = mw_unif(mw_hash4(5, (uint64_t)p, 0, 0)) < 0.42; /* near percolation: long shapes */
    int n = reference(m, want, size);
    assert_true(n > 100);
    const int chunks[] = {1, 2, 3, 7, 64, H};
    for (int t = 1; t <= 2; t++)
        for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
            omp_set_num_threads(t);
            mw_patch *pt;
            size_t np;
            assert_int_equal(mw_patches_label(m, NULL, W, H, chunks[k], 1, got, &pt, &np), 0);
            assert_int_equal((int)np, n);
            assert_memory_equal(got, want, sizeof got);
            for (size_t i = 0; i < np; i++)
                assert_int_equal(pt[i].npix, size[i + 1]);
            free(pt);
        }
}

static void a_patch_across_four_chunks_is_one(void **state)
{
    (void)state;
    static uint8_t m[W * H];
    static int32_t lab[W * H];
    memset(m, 0, sizeof m);
    /* A staircase that crosses each chunk border (every 10 rows) only through a corner. */
    for (int y = 0; y < 40; y++)
        m[y * W + 5 + y] = 1;
    mw_patch *pt;
    size_t np;
    assert_int_equal(mw_patches_label(m, NULL, W, H, 10, 1, lab, &pt, &np), 0);
    assert_int_equal((int)np, 1);
    assert_int_equal(pt[0].npix, 40);
    assert_true(pt[0].x0 == 5 && pt[0].y0 == 0 && pt[0].x1 == 44 && pt[0].y1 == 39);
    free(pt);
}

static void the_minimum_mapping_unit(void **state)
{
    (void)state;
    static uint8_t m[W * H];
    static int32_t lab[W * H];
    static float v[W * H];
    memset(m, 0, sizeof m);
    for (int p = 0; p < W * H; p++)
        v[p] = -0.3f;
    /* 0.5 ha at 10 m is 50 pixels: a 7x7 block (49) goes, an 8x7 block (56) stays */
    for (int y = 10; y < 17; y++)
        for (int x = 10; x < 17; x++)
            m[y * W + x] = 1;
    for (int y = 50; y < 57; y++)
        for (int x = 100; x < 108; x++)
            m[y * W + x] = 1, v[y * W + x] = (float)(-0.5 + 0.01 * (x - 100));
    v[53 * W + 103] = NAN;
    mw_patch *pt;
    size_t np;
    assert_int_equal(mw_patches_label(m, v, W, H, 16, 50, lab, &pt, &np), 0);
    assert_int_equal((int)np, 1);
    assert_int_equal(pt[0].id, 1);
    assert_int_equal(pt[0].npix, 56);
    assert_int_equal(pt[0].value_n, 55);
    /* the mean over the 55 finite pixels: all 56 (mean -0.465) less the NaN's -0.47 */
    assert_true(fabs(pt[0].value_sum / pt[0].value_n - (56 * -0.465 + 0.47) / 55) < 1e-6);
    assert_int_equal(lab[12 * W + 12], 0);  /* the small patch is gone */
    assert_int_equal(lab[52 * W + 104], 1); /* the big one is patch 1 */
    free(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equals_a_flood_fill_for_any_chunks_and_threads),
        cmocka_unit_test(a_patch_across_four_chunks_is_one),
        cmocka_unit_test(the_minimum_mapping_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
