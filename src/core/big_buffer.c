#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "core/big_buffer.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *mw_big_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE) return malloc(bytes ? bytes : 1);
    const size_t n = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, n);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: 4 KB pages still work */
#endif
    return p;
}
