/* MW_API marks the functions and tables the shared library exports (everything else in it is
 * hidden); the public headers are C, usable from C++ as they are. */
#ifndef MINEWATCH_EXPORT_H
#define MINEWATCH_EXPORT_H

#if defined(MW_BUILDING_LIBRARY) && defined(__GNUC__)
#define MW_API __attribute__((visibility("default")))
#else
#define MW_API
#endif

/* An array parameter of at least n elements: C's [static n], which C++ does not have. */
#ifdef __cplusplus
#define MW_AT_LEAST(n) n
#else
#define MW_AT_LEAST(n) static n
#endif

#endif
