/* Large scratch buffers (row strips, tile rows) backed by transparent huge pages where the kernel
 * offers them: first touching tens of MB in 4 KB pages costs more than the kernels that use them.
 */
#ifndef MW_BIG_BUFFER_H
#define MW_BIG_BUFFER_H

#include <stddef.h>

void *mw_big_alloc(size_t bytes); /* NULL when out of memory; free with free() */

#endif
