#include "minewatch/run_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *sdup(const char *s)
{
    const char *v = s ? s : "";
    size_t n = strlen(v) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, v, n);
    return d;
}

void mw_report_add(mw_run_report *r, const char *site_id, const char *scene_id, const char *stage,
                   const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
#pragma omp critical(mw_run_report)
    {
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            mw_failure *ni = realloc(r->items, cap * sizeof *ni);
            if (ni) {
                r->items = ni;
                r->cap = cap;
            }
        }
        if (r->n < r->cap) {
            mw_failure *f = &r->items[r->n++];
            f->site_id = sdup(site_id);
            f->scene_id = sdup(scene_id);
            f->stage = sdup(stage);
            f->message = msg ? msg : sdup("(out of memory)");
            msg = NULL;
        }
    }
    free(msg);
}

size_t mw_report_count_for(const mw_run_report *r, const char *site_id)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        c += strcmp(r->items[i].site_id, site_id) == 0;
    return c;
}

void mw_report_free(mw_run_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].site_id);
        free(r->items[i].scene_id);
        free(r->items[i].stage);
        free(r->items[i].message);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}
