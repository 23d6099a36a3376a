#include "core/text.h"

#include "minewatch/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *mw_text_dup(const char *s)
{
    const char *v = s ? s : "";
    size_t n = strlen(v) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, v, n);
    return d;
}

char *mw_text_vformat(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *mw_text_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mw_text_vformat(fmt, ap);
    va_end(ap);
    return s;
}

char *mw_text_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

const char *mw_text_ifind(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return hay;
    return NULL;
}

static int token_end(char c)
{
    return c == 0 || c == ' ' || c == '\'' || c == '"' || c == ')' || c == ',' || c == '<' ||
           c == '>' || c == ']' || c == '\n' || c == '\t';
}

/* s with [head, tail) replaced by mark (s freed; on no memory s is returned unchanged). */
static char *splice(char *s, size_t head, const char *mark, size_t ml, const char *tail)
{
    size_t rest = strlen(tail);
    char *n = malloc(head + ml + rest + 1);
    if (!n) return NULL;
    memcpy(n, s, head);
    memcpy(n + head, mark, ml);
    memcpy(n + head + ml, tail, rest + 1);
    free(s);
    return n;
}

/* "scheme://user:password@host" -> "scheme://<hidden>@host". */
static char *redact_userinfo(char *s)
{
    static const char mark[] = "<hidden>";
    const size_t ml = sizeof mark - 1;
    for (char *u = strstr(s, "://"); u; u = strstr(u + 1, "://")) {
        char *h = u + 3, *e = h;
        while (!token_end(*e) && *e != '/' && *e != '?' && *e != '#')
            e++;
        char *at = NULL;
        for (char *c = h; c < e; c++)
            if (*c == '@') at = c;
        if (!at || ((size_t)(at - h) == ml && !strncmp(h, mark, ml))) continue;
        size_t head = (size_t)(h - s);
        char *n = splice(s, head, mark, ml, at);
        if (!n) return s;
        s = n, u = n + head;
    }
    return s;
}

/* In place: "scheme://host/path?query" -> "scheme://host/path?<query hidden>". */
static char *redact_queries(char *s)
{
    static const char mark[] = "?<query hidden>";
    const size_t ml = sizeof mark - 1;
    for (char *u = strstr(s, "://"); u; u = strstr(u + 1, "://")) {
        char *q = u + 3;
        while (!token_end(*q) && *q != '?')
            q++;
        if (*q != '?') continue;
        char *end = q + 1;
        while (!token_end(*end))
            end++;
        if (end - q <= 1 || ((size_t)(end - q) == ml && !strncmp(q, mark, ml))) continue;
        size_t head = (size_t)(q - s);
        char *n = splice(s, head, mark, ml, end);
        if (!n) return s;
        s = n, u = n + head;
    }
    return s;
}

char *mw_text_redact_url(const char *url)
{
    char *s = mw_text_dup(url);
    return s ? redact_userinfo(redact_queries(s)) : NULL;
}

char *mw_text_clean_message(char *s)
{
    if (!s) return NULL;
    s = redact_userinfo(redact_queries(s));
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = (*p == '\t' || *p == '\n') ? ' ' : '?';
    /* Shorten overlong tokens: keep their start and end, say how much was cut. */
    size_t n = strlen(s);
    char *out = NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        const size_t len = j - i;
        if (len > MW_TEXT_TOKEN_MAX && !out) {
            out = malloc(n + 1);
            if (!out) return s;
            memcpy(out, s, i);
            o = i;
        }
        if (out) {
            if (len > MW_TEXT_TOKEN_MAX) {
                const size_t head = 1000, tail = 100;
                memcpy(out + o, s + i, head);
                o += head;
                o += (size_t)sprintf(out + o, "...[%zu bytes not shown]...", len - head - tail);
                memcpy(out + o, s + j - tail, tail);
                o += tail;
            } else {
                memcpy(out + o, s + i, len);
                o += len;
            }
            if (j < n) out[o++] = ' ';
        }
        i = j < n ? j + 1 : j;
    }
    if (!out) return s;
    out[o] = 0;
    free(s);
    return out;
}

void mw_csv_cell(FILE *f, const char *s, int text)
{
    const int formula = text && *s && strchr("=+-@\t\r", *s);
    if (!formula && !strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    if (formula) fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int mw_text_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

char *mw_text_read_file(const char *path, size_t max, const char *what, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mw_error_set(MW_ERR_INPUT, "cannot open %s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        mw_error_set(MW_ERR_NOMEM, "out of memory");
    else if (bad)
        mw_error_set(MW_ERR_INPUT, "cannot read %s '%s'", what, path);
    else if (n > max)
        mw_error_set(MW_ERR_INPUT, "%s '%s' is larger than %zu kB: not a %s", what, path, max >> 10,
                     what);
    if (!buf || bad || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int mw_text_is_http(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

char *mw_text_sql_literal(const char *s)
{
    size_t n = 3;
    for (const char *c = s ? s : ""; *c; c++)
        n += *c == '\'' ? 2 : 1;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    *o++ = '\'';
    for (const char *c = s ? s : ""; *c; c++) {
        if (*c == '\'') *o++ = '\'';
        *o++ = *c;
    }
    *o++ = '\'', *o = 0;
    return out;
}
