#include "minewatch/run_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"

void mw_report_add(mw_run_report *r, const char *site_id, const char *scene_id, const char *stage,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mw_text_clean_message(mw_text_vformat(fmt, ap));
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
            f->site_id = mw_text_dup(site_id);
            f->scene_id = mw_text_dup(scene_id);
            f->stage = mw_text_dup(stage);
            f->message = msg ? msg : mw_text_dup("(out of memory)");
            msg = NULL;
        }
    }
    free(msg);
}

static int by_place(const void *a, const void *b)
{
    const mw_failure *x = a, *y = b;
    int c = strcmp(x->site_id, y->site_id);
    if (!c) c = strcmp(x->scene_id, y->scene_id);
    if (!c) c = strcmp(x->stage, y->stage);
    return c ? c : strcmp(x->message, y->message);
}

void mw_report_order(mw_run_report *r)
{
    if (r->n > 1) qsort(r->items, r->n, sizeof *r->items, by_place);
}

size_t mw_report_count_for(const mw_run_report *r, const char *site_id)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        c += strcmp(r->items[i].site_id, site_id) == 0;
    return c;
}

size_t mw_report_count_stage(const mw_run_report *r, const char *stage)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        c += strcmp(r->items[i].stage, stage) == 0;
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
