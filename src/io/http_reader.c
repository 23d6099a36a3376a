#define _LARGEFILE64_SOURCE /* GDAL's VSIStatBufL is a struct stat64 */
#define _DEFAULT_SOURCE     /* S_IFREG */
#include "io/http_reader.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <curl/curl.h>

#include "core/text.h"
#include "minewatch/error.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static mw_http_limits g_limits = {60.0, 3, 1.0, (size_t)64 << 20};

void mw_http_reader_configure(const mw_http_limits *l)
{
    pthread_mutex_lock(&g_lock);
    g_limits = *l;
    if (g_limits.max_read_bytes < ((size_t)1 << 20)) g_limits.max_read_bytes = (size_t)1 << 20;
    pthread_mutex_unlock(&g_lock);
}

static mw_http_limits limits(void)
{
    pthread_mutex_lock(&g_lock);
    mw_http_limits l = g_limits;
    pthread_mutex_unlock(&g_lock);
    return l;
}

/* ---- one range request ------------------------------------------------------------------- */

typedef struct sink {
    char *dst;
    size_t cap, len;
    int too_much;
    long long total; /* from Content-Range, -1 unknown */
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
    sink *s = user;
    const size_t add = size * n;
    if (s->len + add > s->cap) { /* more than was asked for: stop, whatever the server says */
        s->too_much = 1;
        return 0;
    }
    if (s->dst) memcpy(s->dst + s->len, p, add);
    s->len += add;
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    sink *s = user;
    const size_t len = size * n;
    if (len > 20 && strncasecmp(p, "Content-Range:", 14) == 0) {
        const char *slash = memchr(p, '/', len);
        if (slash && slash[1] != '*') s->total = strtoll(slash + 1, NULL, 10);
    }
    return len;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

typedef enum { GOT, GOT_EOF, FAILED } fetch_status;

/* GET bytes [off, off+n) of url into dst (NULL: discard). *got the bytes received, *total the
 * size of the whole file if the server said. Fails, with a CPLError naming the URL (its query
 * hidden), on a refusal, on a server that sends more than asked, or after the retries. */
static fetch_status fetch(CURL *c, const char *url, uint64_t off, size_t n, void *dst, size_t *got,
                          long long *total)
{
    const mw_http_limits L = limits();
    double wait = L.backoff_s > 0 ? L.backoff_s : 0.5;
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + n - 1));
    char *shown = mw_text_redact_url(url);
    fetch_status st = FAILED;
    for (int attempt = 0;; attempt++) {
        sink s = {dst, n, 0, 0, -1};
        char err[CURL_ERROR_SIZE] = "";
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ceil(L.timeout_s * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(fmin(L.timeout_s, 10.0) * 1000));
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ceil(L.timeout_s));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "minewatch");
        CURLcode cr = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        char why[CURL_ERROR_SIZE + 64] = "";
        int retry = 0;
        if (s.too_much && code == 200) {
            CPLError(CE_Failure, CPLE_HttpResponse,
                     "%s: the server does not honour HTTP range requests (it sent the whole "
                     "file for a read of %zu bytes); minewatch reads remote rasters by range only",
                     shown, n);
            break;
        } else if (s.too_much) {
            CPLError(CE_Failure, CPLE_HttpResponse,
                     "%s: the server sent more than the %zu bytes asked for; stopped reading",
                     shown, n);
            break;
        } else if (cr == CURLE_UNSUPPORTED_PROTOCOL || cr == CURLE_TOO_MANY_REDIRECTS) {
            CPLError(CE_Failure, CPLE_HttpResponse,
                     "%s: %s (minewatch speaks only http and https, and follows at most 10 "
                     "redirects)",
                     shown, *err ? err : curl_easy_strerror(cr));
            break;
        } else if (cr != CURLE_OK) {
            retry = 1;
            snprintf(why, sizeof why, "%s", *err ? err : curl_easy_strerror(cr));
        } else if (code == 206 || (code == 200 && off == 0)) {
            *got = s.len;
            if (total) *total = code == 200 ? (long long)s.len : s.total;
            st = GOT;
            break;
        } else if (code == 416) {
            *got = 0;
            st = GOT_EOF;
            break;
        } else if (code == 429 || code >= 500) {
            retry = 1;
            snprintf(why, sizeof why, "HTTP %ld", code);
        } else {
            CPLError(CE_Failure, CPLE_HttpResponse, "%s: HTTP %ld", shown, code);
            break;
        }
        if (!retry || attempt >= L.retries) {
            CPLError(CE_Failure, CPLE_HttpResponse, "%s: %s, after %d attempt(s)", shown, why,
                     attempt + 1);
            break;
        }
        sleep_s(wait);
        wait *= 2;
    }
    free(shown);
    return st;
}

/* ---- the size of a file, asked once per URL ---------------------------------------------- */

#define SIZE_CACHE 256
static struct {
    char *url;
    long long size;
} g_sizes[SIZE_CACHE];
static int g_next;

static long long cached_size(const char *url)
{
    long long v = -1;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < SIZE_CACHE; i++)
        if (g_sizes[i].url && strcmp(g_sizes[i].url, url) == 0) v = g_sizes[i].size;
    pthread_mutex_unlock(&g_lock);
    return v;
}

static void cache_size(const char *url, long long size)
{
    pthread_mutex_lock(&g_lock);
    free(g_sizes[g_next].url);
    g_sizes[g_next].url = mw_text_dup(url);
    g_sizes[g_next].size = size;
    g_next = (g_next + 1) % SIZE_CACHE;
    pthread_mutex_unlock(&g_lock);
}

/* The URL of a name GDAL hands the plugin (it strips the prefix), or NULL when it is not an
 * http(s) URL. */
static const char *url_of(const char *name)
{
    const size_t k = sizeof MW_HTTP_PREFIX - 1;
    const char *u = strncmp(name, MW_HTTP_PREFIX, k) == 0 ? name + k : name;
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0 ? u : NULL;
}

/* The size by a one-byte range read; -1 if the file cannot be read. */
static long long probe(CURL *c, const char *url)
{
    long long size = cached_size(url);
    if (size >= 0) return size;
    char one[1];
    size_t got = 0;
    long long total = -1;
    fetch_status st = fetch(c, url, 0, 1, one, &got, &total);
    if (st == GOT_EOF) total = 0;
    if (st == FAILED || total < 0) return -1;
    cache_size(url, total);
    return total;
}

/* ---- the GDAL plugin ---------------------------------------------------------------------- */

typedef struct handle {
    char *url;
    CURL *c;
    uint64_t size, pos;
    int eof;
} handle;

static int cb_stat(void *user, const char *name, VSIStatBufL *st, int flags)
{
    (void)user, (void)flags;
    const char *url = url_of(name);
    if (!url) return -1;
    CURL *c = curl_easy_init();
    long long size = c ? probe(c, url) : -1;
    if (c) curl_easy_cleanup(c);
    if (size < 0) return -1;
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0444;
    st->st_size = (off_t)size;
    return 0;
}

static void *cb_open(void *user, const char *name, const char *access)
{
    (void)user;
    const char *url = url_of(name);
    if (!url || !access || access[0] != 'r' || strchr(access, '+') || strchr(access, 'w'))
        return NULL;
    handle *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->url = mw_text_dup(url);
    h->c = curl_easy_init();
    long long size = h->url && h->c ? probe(h->c, url) : -1;
    if (size < 0) {
        if (h->c) curl_easy_cleanup(h->c);
        free(h->url);
        free(h);
        return NULL;
    }
    h->size = (uint64_t)size;
    return h;
}

static vsi_l_offset cb_tell(void *f)
{
    return ((handle *)f)->pos;
}

static int cb_seek(void *f, vsi_l_offset off, int whence)
{
    handle *h = f;
    if (whence == SEEK_SET)
        h->pos = off;
    else if (whence == SEEK_CUR)
        h->pos += off;
    else if (whence == SEEK_END)
        h->pos = h->size + off;
    else
        return -1;
    h->eof = 0;
    return 0;
}

static size_t cb_read(void *f, void *buf, size_t size, size_t count)
{
    handle *h = f;
    if (size == 0 || count == 0) return 0;
    size_t want = size * count, done = 0;
    if (h->pos >= h->size) {
        h->eof = 1;
        return 0;
    }
    if (want > h->size - h->pos) want = (size_t)(h->size - h->pos);
    const size_t chunk = limits().max_read_bytes;
    while (done < want) {
        size_t n = want - done < chunk ? want - done : chunk, got = 0;
        fetch_status st = fetch(h->c, h->url, h->pos, n, (char *)buf + done, &got, NULL);
        if (st != GOT) break;
        h->pos += got;
        done += got;
        if (got < n) break;
    }
    if (done < size * count) h->eof = 1;
    return done / size;
}

static int cb_eof(void *f)
{
    return ((handle *)f)->eof;
}

static int cb_close(void *f)
{
    handle *h = f;
    if (h->c) curl_easy_cleanup(h->c);
    free(h->url);
    free(h);
    return 0;
}

/* A remote raster has no side files: GDAL must not probe for .aux.xml, .ovr or .msk beside it
 * with a request each. */
static char **cb_siblings(void *user, const char *name)
{
    (void)user, (void)name;
    return CPLCalloc(1, sizeof(char *));
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_installed = -1;

static void install(void)
{
    VSIFilesystemPluginCallbacksStruct *cb = VSIAllocFilesystemPluginCallbacksStruct();
    if (!cb) return;
    cb->stat = cb_stat;
    cb->open = cb_open;
    cb->tell = cb_tell;
    cb->seek = cb_seek;
    cb->read = cb_read;
    cb->eof = cb_eof;
    cb->close = cb_close;
    cb->sibling_files = cb_siblings;
    /* GDAL's plugin layer reads whole 16 kB blocks (consecutive ones in one request) and keeps
     * up to 16 MB of them per open file: a COG's header and tiles without a request per read. */
    cb->nBufferSize = 16384;
    cb->nCacheSize = (size_t)16 << 20;
    g_installed = VSIInstallPluginHandler(MW_HTTP_PREFIX, cb) == 0 ? 0 : -1;
    VSIFreeFilesystemPluginCallbacksStruct(cb);
}

int mw_http_reader_install(void)
{
    pthread_once(&g_once, install);
    if (g_installed != 0)
        return mw_error_set(MW_ERR_INTERNAL, "cannot register the %s reader with GDAL",
                            MW_HTTP_PREFIX);
    return 0;
}
