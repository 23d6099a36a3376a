#include "minewatch/error.h"

#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

/* One growable buffer per thread: no fixed-size truncation, no locking. Every message is cleaned
 * as it is stored (mw_text_clean_message): URL queries hidden, control characters and overlong
 * echoes of untrusted text cut. */
static _Thread_local char *tl_msg;
static _Thread_local size_t tl_cap;
static _Thread_local mw_error_kind tl_kind;

static void store(char *s)
{
    if (!s) {
        static const char oom[] = "out of memory while formatting an error message";
        s = malloc(sizeof oom);
        if (!s) return;
        memcpy(s, oom, sizeof oom);
    }
    free(tl_msg);
    tl_msg = s;
    tl_cap = strlen(s) + 1;
}

int mw_error_setv(mw_error_kind kind, const char *fmt, va_list ap)
{
    tl_kind = kind;
    store(mw_text_clean_message(mw_text_vformat(fmt, ap)));
    return -1;
}

int mw_error_set(mw_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mw_error_setv(kind, fmt, ap);
    va_end(ap);
    return -1;
}

int mw_error_prefix(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *pre = mw_text_vformat(fmt, ap);
    va_end(ap);
    if (!pre) return -1;
    const char *old = tl_msg ? tl_msg : "";
    size_t n = strlen(pre) + strlen(old) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s: %s", pre, old);
    free(pre);
    if (tl_kind == MW_ERR_NONE) tl_kind = MW_ERR_INTERNAL;
    store(mw_text_clean_message(s));
    return -1;
}

const char *mw_error_message(void)
{
    return tl_msg ? tl_msg : "";
}

mw_error_kind mw_error_get_kind(void)
{
    return tl_kind;
}

void mw_error_clear(void)
{
    free(tl_msg);
    tl_msg = NULL;
    tl_cap = 0;
    tl_kind = MW_ERR_NONE;
}

int mw_error_from_gdal(mw_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *head = mw_text_vformat(fmt, ap);
    va_end(ap);
    char *g = mw_text_dup(CPLGetLastErrorMsg()); /* cleaned with the whole message */
    if (g && *g)
        mw_error_set(kind, "%s (GDAL: %s)", head ? head : "", g);
    else
        mw_error_set(kind, "%s", head ? head : "");
    free(head);
    free(g);
    CPLErrorReset();
    return -1;
}
