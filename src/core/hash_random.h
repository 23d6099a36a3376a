/* Counter-based random numbers: a value depends only on its key, never on call order, so
 * simulated scenes are identical whatever the thread count. (SplitMix64 finaliser, Steele et
 * al. 2014.) */
#ifndef MW_HASH_RANDOM_H
#define MW_HASH_RANDOM_H

#include <math.h>
#include <stdint.h>

static inline uint64_t mw_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t mw_hash4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return mw_mix64(a ^ mw_mix64(b ^ mw_mix64(c ^ mw_mix64(d))));
}

/* Uniform in [0, 1). */
static inline double mw_unif(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller) from one key. */
static inline double mw_gauss(uint64_t h)
{
    double u1 = mw_unif(mw_mix64(h ^ 0x5851f42d4c957f2dull));
    double u2 = mw_unif(mw_mix64(h ^ 0x14057b7ef767814full));
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A small sequential stream for placing features: state advances per draw. */
typedef struct mw_rng {
    uint64_t s;
} mw_rng;
static inline double mw_rng_unif(mw_rng *r)
{
    return mw_unif(mw_mix64(r->s++));
}
static inline double mw_rng_range(mw_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * mw_rng_unif(r);
}

#endif
