#include "core/memory.h"

#include <stdio.h>
#include <string.h>

/* "VmRSS:    12345 kB" from /proc/self/status */
static size_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0, n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            sscanf(line + n + 1, "%zu", &kb);
            break;
        }
    fclose(f);
    return kb;
}

size_t mw_memory_rss(void)
{
    return status_kb("VmRSS") * 1024;
}

size_t mw_memory_peak(void)
{
    return status_kb("VmHWM") * 1024;
}
