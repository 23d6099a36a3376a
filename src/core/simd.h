/* Wider vectors where the CPU has them, chosen once at load time (GCC function multiversioning).
 * The clones run the same IEEE operations in the same order (ISO C: no FMA contraction), so
 * results are bit-identical whichever clone the machine picks. */
#ifndef MW_CORE_SIMD_H
#define MW_CORE_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MW_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MW_TARGET_CLONES
#endif

#endif
