/* Calendar dates as days since 1970-01-01 (proleptic Gregorian, UTC). */
#ifndef MINEWATCH_DATE_H
#define MINEWATCH_DATE_H

#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t mw_day;

MW_API mw_day mw_day_from_ymd(int y, int m, int d);
MW_API void mw_day_to_ymd(mw_day day, int *y, int *m, int *d);
/* Parse "YYYY-MM-DD", optionally followed by "Thh:mm:ss[.fff](Z|+00:00)". Returns 0 or -1 (no
 * error message set: the caller knows the context). *seconds_of_day may be NULL. */
MW_API int mw_day_parse(const char *s, mw_day *day, double *seconds_of_day);
/* Writes "YYYY-MM-DD" into buf (at least 11 bytes). */
MW_API void mw_day_format(mw_day day, char buf[MW_AT_LEAST(11)]);

/* A named span of days: a pipeline's baseline or monitoring period. */
typedef struct mw_period {
    char *name;
    mw_day start, end; /* inclusive */
} mw_period;

#ifdef __cplusplus
}
#endif

#endif
