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

/* The options of every request: a range, http(s) only (redirects too, at most 10), the body
 * bounded by the sink, a timeout and a low-speed limit. */
static void set_request(CURL *c, const char *url, const char *range, sink *s, char *err,
                        const mw_http_limits *L)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RANGE, range);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ceil(L->timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(fmin(L->timeout_s, 10.0) * 1000));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ceil(L->timeout_s));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "minewatch");
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
        set_request(c, url, range, &s, err, &L);
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

/* Small reads (a COG's header, its IFDs and tile tables) are served from 64 kB blocks kept per
 * open file; larger ones go straight to a range request; the tiles of a window come through
 * read_multi_range, in parallel. */
#define BLOCK ((size_t)64 << 10)
#define NBLOCKS 32

typedef struct block {
    uint64_t index; /* offset / BLOCK */
    size_t len;     /* bytes held (the last block of a file is short) */
    unsigned long used;
    char *data;
} block;

typedef struct handle {
    char *url;
    CURL *c;
    uint64_t size, pos;
    int eof;
    block blocks[NBLOCKS];
    unsigned long tick;
} handle;

static block *find_block(handle *h, uint64_t index)
{
    for (int i = 0; i < NBLOCKS; i++)
        if (h->blocks[i].data && h->blocks[i].index == index) {
            h->blocks[i].used = ++h->tick;
            return &h->blocks[i];
        }
    return NULL;
}

/* Loads block `index` (one request), evicting the least recently used. */
static block *load_block(handle *h, uint64_t index)
{
    block *b = &h->blocks[0];
    for (int i = 1; i < NBLOCKS; i++)
        if (!h->blocks[i].data || (b->data && h->blocks[i].used < b->used)) b = &h->blocks[i];
    if (!b->data && !(b->data = malloc(BLOCK))) return NULL;
    const uint64_t off = index * BLOCK;
    size_t n = off + BLOCK <= h->size ? BLOCK : (size_t)(h->size - off), got = 0;
    if (fetch(h->c, h->url, off, n, b->data, &got, NULL) != GOT || got != n) {
        free(b->data);
        b->data = NULL;
        return NULL;
    }
    b->index = index;
    b->len = n;
    b->used = ++h->tick;
    return b;
}

/* n bytes at off into dst; returns the bytes read. */
static size_t read_at(handle *h, uint64_t off, size_t n, char *dst)
{
    if (off >= h->size) return 0;
    if (n > h->size - off) n = (size_t)(h->size - off);
    if (n > BLOCK) { /* large: straight from the server, split at the read bound */
        const size_t chunk = limits().max_read_bytes;
        size_t done = 0;
        while (done < n) {
            size_t k = n - done < chunk ? n - done : chunk, got = 0;
            if (fetch(h->c, h->url, off + done, k, dst + done, &got, NULL) != GOT) break;
            done += got;
            if (got < k) break;
        }
        return done;
    }
    size_t done = 0;
    while (done < n) {
        const uint64_t at = off + done, index = at / BLOCK;
        block *b = find_block(h, index);
        if (!b) b = load_block(h, index);
        if (!b) break;
        const size_t in = (size_t)(at - index * BLOCK);
        if (in >= b->len) break;
        size_t k = b->len - in < n - done ? b->len - in : n - done;
        memcpy(dst + done, b->data + in, k);
        done += k;
    }
    return done;
}

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
    const size_t want = size * count;
    size_t done = read_at(h, h->pos, want, buf);
    h->pos += done;
    if (done < want) h->eof = 1;
    return done / size;
}

#define MAX_PARALLEL 8

/* The ranges of a window's tiles, fetched in parallel (at most MAX_PARALLEL at once), each
 * receiving at most its own size; any that fails is fetched again alone, with retries. */
static int cb_read_multi_range(void *f, int nranges, void **data, const vsi_l_offset *offsets,
                               const size_t *sizes)
{
    handle *h = f;
    const mw_http_limits L = limits();
    CURLM *m = curl_multi_init();
    if (!m) return -1;
    CURL *easy[MAX_PARALLEL] = {0};
    sink sinks[MAX_PARALLEL];
    char errs[MAX_PARALLEL][CURL_ERROR_SIZE];
    char ranges[MAX_PARALLEL][64];
    int which[MAX_PARALLEL]; /* range index in each slot, -1 free */
    char *ok = calloc((size_t)nranges + 1, 1);
    int next = 0, running = 0, rc = ok ? 0 : -1;
    for (int i = 0; i < MAX_PARALLEL; i++)
        which[i] = -1;
    while (rc == 0 && (next < nranges || running > 0)) {
        /* fill free slots */
        for (int i = 0; i < MAX_PARALLEL && next < nranges; i++) {
            if (which[i] >= 0) continue;
            if (!easy[i] && !(easy[i] = curl_easy_init())) break;
            const int r = next++;
            if (sizes[r] == 0) {
                ok[r] = 1;
                continue;
            }
            sinks[i] = (sink){data[r], sizes[r], 0, 0, -1};
            errs[i][0] = 0;
            snprintf(ranges[i], sizeof ranges[i], "%llu-%llu", (unsigned long long)offsets[r],
                     (unsigned long long)(offsets[r] + sizes[r] - 1));
            set_request(easy[i], h->url, ranges[i], &sinks[i], errs[i], &L);
            curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
            curl_multi_add_handle(m, easy[i]);
            which[i] = r;
        }
        int still = 0;
        if (curl_multi_perform(m, &still) != CURLM_OK) rc = -1;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            void *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            const int slot = (int)(intptr_t)priv, r = which[slot];
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            ok[r] = msg->data.result == CURLE_OK && !sinks[slot].too_much &&
                    sinks[slot].len == sizes[r] &&
                    (code == 206 || (code == 200 && offsets[r] == 0));
            curl_multi_remove_handle(m, msg->easy_handle);
            which[slot] = -1;
        }
        running = 0;
        for (int i = 0; i < MAX_PARALLEL; i++)
            running += which[i] >= 0;
        if (running > 0) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < MAX_PARALLEL; i++)
        if (easy[i]) {
            if (which[i] >= 0) curl_multi_remove_handle(m, easy[i]);
            curl_easy_cleanup(easy[i]);
        }
    curl_multi_cleanup(m);
    /* what failed, again alone with the retries and their messages */
    for (int r = 0; rc == 0 && r < nranges; r++) {
        if (ok[r]) continue;
        size_t got = 0;
        if (fetch(h->c, h->url, offsets[r], sizes[r], data[r], &got, NULL) != GOT ||
            got != sizes[r])
            rc = -1;
    }
    free(ok);
    return rc;
}

static int cb_eof(void *f)
{
    return ((handle *)f)->eof;
}

static int cb_close(void *f)
{
    handle *h = f;
    if (h->c) curl_easy_cleanup(h->c);
    for (int i = 0; i < NBLOCKS; i++)
        free(h->blocks[i].data);
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
    cb->read_multi_range = cb_read_multi_range;
    cb->eof = cb_eof;
    cb->close = cb_close;
    cb->sibling_files = cb_siblings;
    /* No GDAL buffering layer: it would hide read_multi_range, through which GeoTIFF asks for
     * a window's tiles at once. The handle keeps its own blocks for small reads. */
    cb->nBufferSize = 0;
    cb->nCacheSize = 0;
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
