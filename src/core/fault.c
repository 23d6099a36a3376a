#include "core/fault.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int g_passes;

void mw_fault_point(const char *name)
{
    const char *v = getenv("MW_FAULT_KILL_AT");
    if (!v || !*v) return;
    const char *colon = strchr(v, ':');
    const size_t n = colon ? (size_t)(colon - v) : strlen(v);
    if (strlen(name) != n || strncmp(v, name, n)) return;
    const int at = colon ? atoi(colon + 1) : 1;
    if (atomic_fetch_add(&g_passes, 1) + 1 != at) return;
    /* MW_FAULT_ONCE_FILE: only the first process of a job to get here dies (the file marks it) */
    const char *once = getenv("MW_FAULT_ONCE_FILE");
    if (once && *once) {
        const int fd = open(once, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) return;
        close(fd);
    }
    raise(SIGKILL);
}
