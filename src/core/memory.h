/* What the process holds in memory, read from the kernel: the memory budget is checked against
 * what is real, not against an estimate alone. */
#ifndef MW_MEMORY_H
#define MW_MEMORY_H

#include <stddef.h>

size_t mw_memory_rss(void);  /* resident set now, bytes (0 if unknown) */
size_t mw_memory_peak(void); /* the highest resident set so far (VmHWM), bytes (0 if unknown) */

#endif
