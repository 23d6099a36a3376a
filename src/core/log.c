#include "minewatch/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <omp.h>

#include "core/text.h"

static mw_log_sink g_sink;
static void *g_user;
static mw_progress_sink g_psink;
static void *g_puser;

void mw_log_set_sink(mw_log_sink sink, void *user)
{
    g_sink = sink;
    g_user = user;
}

void mw_log(mw_log_level level, const char *fmt, ...)
{
    if (!g_sink) return;
    va_list ap;
    va_start(ap, fmt);
    char *s = mw_text_clean_message(mw_text_vformat(fmt, ap));
    va_end(ap);
    if (!s) return;
        /* Sinks need not be thread-safe: serialise calls. */
#pragma omp critical(mw_log_sink)
    g_sink(level, s, g_user);
    free(s);
}

void mw_progress_set_sink(mw_progress_sink sink, void *user)
{
    g_psink = sink;
    g_puser = user;
}

void mw_progress(const char *stage, long done, long total)
{
    if (!g_psink) return;
#pragma omp critical(mw_progress_sink)
    g_psink(stage, done, total, g_puser);
}
