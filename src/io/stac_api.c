#include "minewatch/stac_api.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/text.h"
#include "io/http_reader.h"
#include "io/stac_page.h"
#include "minewatch/error.h"
#include "minewatch/log.h"

typedef struct buffer {
    char *data;
    size_t len, cap;
    size_t max; /* the body bound: a larger answer aborts the transfer */
    int too_big;
} buffer;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    buffer *b = user;
    size_t add = size * n;
    if (b->len + add > b->max) {
        b->too_big = 1;
        return 0; /* libcurl aborts the transfer */
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536);
        while (cap < b->len + add + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = 0;
    return add;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The first 300 characters of a server's answer, on one line, for messages. */
static char *snippet(const buffer *b)
{
    if (!b->data) return mw_text_dup("(empty body)");
    size_t n = b->len < 300 ? b->len : 300;
    char *s = malloc(n + 4);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++)
        s[i] = (b->data[i] == '\n' || b->data[i] == '\r') ? ' ' : b->data[i];
    strcpy(s + n, b->len > n ? "..." : "");
    return s;
}

#define DEFAULT_MAX_PAGES 1000
#define DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define DEFAULT_MAX_SECONDS 1800.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct search_ctx {
    const mw_stac_query *q;
    mw_stac_stats *st;
    size_t max_bytes;
    double deadline; /* monotonic seconds */
    double max_seconds;
} search_ctx;

/* One HTTP exchange with retries. body == NULL: GET. Returns the parsed JSON or NULL with an
 * error. Retries network failures (including stalls and truncated bodies), 429 and 5xx; never
 * past the search's deadline. Only http and https are spoken, redirects included (a remote
 * catalogue must not make minewatch read file:// or speak gopher). */
static json_t *exchange(CURL *c, const char *url, const char *body, search_ctx *sx)
{
    const mw_stac_query *q = sx->q;
    double wait = q->backoff_s > 0 ? q->backoff_s : 0.5;
    for (int attempt = 0;; attempt++) {
        double left = sx->deadline - now_s();
        if (left <= 0) {
            mw_error_set(MW_ERR_IO,
                         "STAC API %s: the search ran out of its time bound (%.0f s, "
                         "source.max_search_s) after %d request(s)",
                         url, sx->max_seconds, sx->st->requests);
            return NULL;
        }
        buffer b = {NULL, 0, 0, sx->max_bytes, 0};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sx->max_bytes);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        const double tmo = fmin(q->timeout_s, left);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ceil(tmo * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ceil(fmin(tmo, 10.0) * 1000));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "minewatch");
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, "Accept: application/geo+json, application/json");
        if (body) {
            h = curl_slist_append(h, "Content-Type: application/json");
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        CURLcode cr = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(h);
        sx->st->requests++;
        int retry = 0;
        char *why = NULL;
        if (b.too_big || cr == CURLE_FILESIZE_EXCEEDED) {
            mw_error_set(MW_ERR_IO,
                         "STAC API %s: the answer is larger than %zu MB (source.max_response_mb); "
                         "stopped reading it",
                         url, sx->max_bytes >> 20);
            free(b.data);
            return NULL;
        } else if (cr == CURLE_UNSUPPORTED_PROTOCOL || cr == CURLE_TOO_MANY_REDIRECTS) {
            mw_error_set(MW_ERR_IO,
                         "STAC API %s: %s (minewatch speaks only http and https, and "
                         "follows at most 10 redirects)",
                         url, *errbuf ? errbuf : curl_easy_strerror(cr));
            free(b.data);
            return NULL;
        } else if (cr != CURLE_OK) {
            retry = 1;
            why = mw_text_dup(*errbuf ? errbuf : curl_easy_strerror(cr));
        } else if (code == 429 || code >= 500) {
            retry = 1;
            char *sn = snippet(&b);
            size_t n = strlen(sn ? sn : "") + 32;
            why = malloc(n);
            if (why) snprintf(why, n, "HTTP %ld: %s", code, sn ? sn : "");
            free(sn);
        } else if (code >= 400) {
            char *sn = snippet(&b);
            mw_error_set(MW_ERR_INPUT, "STAC API %s refused the request: HTTP %ld: %s", url, code,
                         sn ? sn : "");
            free(sn);
            free(b.data);
            return NULL;
        } else {
            json_error_t je;
            json_t *j = b.data ? json_loadb(b.data, b.len, 0, &je) : NULL;
            if (!j) {
                retry = 1;
                why = mw_text_dup("the answer is not JSON (truncated?)");
            } else {
                free(b.data);
                return j;
            }
        }
        free(b.data);
        if (!retry || attempt >= q->retries || now_s() + wait >= sx->deadline) {
            mw_error_set(MW_ERR_IO, "STAC API %s failed after %d attempt(s): %s", url, attempt + 1,
                         why ? why : "?");
            free(why);
            return NULL;
        }
        mw_log(MW_LOG_WARN, "STAC API %s: %s; retrying in %.2f s", url, why ? why : "?", wait);
        free(why);
        sleep_s(wait);
        wait *= 2;
    }
}

static json_t *first_body(const mw_stac_query *q)
{
    char s[11], e[11];
    mw_day_format(q->start, s);
    mw_day_format(q->end, e);
    char dt[128];
    snprintf(dt, sizeof dt, "%sT00:00:00Z/%sT23:59:59Z", s, e);
    json_t *body =
        json_pack("{s:s,s:i}", "datetime", dt, "limit", q->page_size > 0 ? q->page_size : 100);
    json_t *cols = json_array();
    for (const char *const *c = q->collections; c && *c; c++)
        json_array_append_new(cols, json_string(*c));
    json_object_set_new(body, "collections", cols);
    json_t *geom = q->intersects_geojson ? json_loads(q->intersects_geojson, 0, NULL) : NULL;
    if (geom)
        json_object_set_new(body, "intersects", geom);
    else
        json_object_set_new(body, "bbox",
                            json_pack("[f,f,f,f]", q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3]));
    if (q->max_cloud_cover >= 0)
        json_object_set_new(body, "query",
                            json_pack("{s:{s:f}}", "eo:cloud_cover", "lte", q->max_cloud_cover));
    return body;
}

/* Planetary Computer: GET <token_url>/<collection> -> {"token": "st=...&sig=..."}; one token per
 * collection per search. The token is kept apart from hrefs (see mw_scene_asset.signature). */
typedef struct token_cache {
    char *collection[8], *token[8];
    int n;
} token_cache;

static const char *token_for(CURL *c, token_cache *tc, const char *collection, search_ctx *sx)
{
    const mw_stac_query *q = sx->q;
    mw_stac_stats *st = sx->st;
    for (int i = 0; i < tc->n; i++)
        if (strcmp(tc->collection[i], collection) == 0) return tc->token[i];
    size_t n = strlen(q->sign_token_url) + strlen(collection) + 2;
    char *url = malloc(n);
    snprintf(url, n, "%s/%s", q->sign_token_url, collection);
    json_t *j = exchange(c, url, NULL, sx);
    free(url);
    const char *tok = j ? json_string_value(json_object_get(j, "token")) : NULL;
    if (!tok) {
        if (j)
            mw_error_set(MW_ERR_IO, "the signing endpoint %s gave no token for '%s'",
                         q->sign_token_url, collection);
        json_decref(j);
        return NULL;
    }
    st->tokens++;
    if (tc->n == 8) { /* tiny cache: drop the oldest */
        free(tc->collection[0]);
        free(tc->token[0]);
        memmove(tc->collection, tc->collection + 1, 7 * sizeof *tc->collection);
        memmove(tc->token, tc->token + 1, 7 * sizeof *tc->token);
        tc->n--;
    }
    tc->collection[tc->n] = mw_text_dup(collection);
    tc->token[tc->n] = mw_text_dup(tok);
    json_decref(j);
    return tc->token[tc->n++];
}

/* The host of a remote href, lower case, without port or user info; "" if none. */
static void url_host(const char *href, char out[256])
{
    out[0] = 0;
    const char *u = strstr(href, "://");
    if (!u) return;
    u += 3;
    size_t n = strcspn(u, "/?#");
    const char *at = memchr(u, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - u);
        u = at + 1;
    }
    size_t h = u[0] == '[' ? strcspn(u, "]") + 1 : strcspn(u, ":/?#");
    if (h > n) h = n;
    if (h >= 256) return;
    for (size_t i = 0; i < h; i++)
        out[i] = (char)tolower((unsigned char)u[i]);
    out[h] = 0;
}

/* "*.blob.core.windows.net" matches any subdomain of blob.core.windows.net; a plain name matches
 * itself only. */
static int host_allowed(const char *host, const char *const *allowed)
{
    for (const char *const *a = allowed; *host && a && *a; a++) {
        if ((*a)[0] == '*' && (*a)[1] == '.') {
            size_t hl = strlen(host), sl = strlen(*a + 1);
            if (hl > sl && strcasecmp(host + hl - sl, *a + 1) == 0) return 1;
        } else if (strcasecmp(host, *a) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The token goes only to hosts the signing service covers: sent anywhere else, it would hand the
 * catalogue's author a credential. */
static void sign_asset(mw_scene_asset *a, const char *token, const char *const *hosts)
{
    char host[256];
    if (!a->href || strncmp(a->href, MW_HTTP_PREFIX "http", sizeof MW_HTTP_PREFIX + 3) != 0) return;
    url_host(a->href, host);
    if (!host_allowed(host, hosts)) return;
    free(a->signature);
    a->signature = mw_text_dup(token);
}

typedef struct sign_ctx {
    CURL *c;
    token_cache *tc;
    search_ctx *sx;
} sign_ctx;

static int sign_scene(mw_scene *s, const char *collection, void *user)
{
    sign_ctx *g = user;
    const char *tok = token_for(g->c, g->tc, collection, g->sx);
    if (!tok) return -1;
    for (int b = 0; b < MW_BAND_COUNT; b++)
        sign_asset(&s->bands[b], tok, g->sx->q->sign_hosts);
    sign_asset(&s->qa, tok, g->sx->q->sign_hosts);
    sign_asset(&s->radsat, tok, g->sx->q->sign_hosts);
    return 0;
}

/* Pages already asked for: a next link that repeats one means the server's paging loops. */
typedef struct page_key {
    char **v;
    int n, cap;
} page_key;

static int page_seen(page_key *k, const char *method, const char *url, const char *body)
{
    size_t n = strlen(method) + strlen(url) + (body ? strlen(body) : 0) + 3;
    char *s = malloc(n);
    if (!s) return -1;
    snprintf(s, n, "%s %s %s", method, url, body ? body : "");
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->v[i], s) == 0) {
            free(s);
            return i + 1;
        }
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 16;
        char **nv = realloc(k->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            free(s);
            return -1;
        }
        k->v = nv;
        k->cap = cap;
    }
    k->v[k->n++] = s;
    return 0;
}

int mw_stac_search(const mw_stac_query *q, mw_scene_catalog *out, mw_scan_failure_fn on_fail,
                   void *user, mw_stac_stats *stats)
{
    mw_stac_stats local = {0};
    mw_stac_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (strncasecmp(q->url, "http://", 7) != 0 && strncasecmp(q->url, "https://", 8) != 0)
        return mw_error_set(MW_ERR_INPUT, "STAC API url '%s' is not an http(s) URL", q->url);
    CURL *c = curl_easy_init();
    if (!c) return mw_error_set(MW_ERR_INTERNAL, "libcurl could not start");
    const int max_pages = q->max_pages > 0 ? q->max_pages : DEFAULT_MAX_PAGES;
    search_ctx sx = {q, st, q->max_response_bytes ? q->max_response_bytes : DEFAULT_MAX_BYTES, 0,
                     q->max_seconds > 0 ? q->max_seconds : DEFAULT_MAX_SECONDS};
    sx.deadline = now_s() + sx.max_seconds;
    size_t ul = strlen(q->url);
    char *url = malloc(ul + 16);
    snprintf(url, ul + 16, "%s%ssearch", q->url, ul && q->url[ul - 1] == '/' ? "" : "/");
    json_t *body = first_body(q);
    char *method = mw_text_dup("POST");
    token_cache tc = {{0}, {0}, 0};
    page_key seen = {0};
    sign_ctx sg = {c, &tc, &sx};
    mw_stac_page_ctx pc = {q, on_fail, user, q->sign_token_url ? sign_scene : NULL, &sg, 0};
    int rc = 0;
    while (url) {
        char *bs = body && strcmp(method, "POST") == 0 ? json_dumps(body, JSON_COMPACT) : NULL;
        int again = page_seen(&seen, method, url, bs);
        if (again != 0) {
            free(bs);
            rc = again < 0 ? mw_error_set(MW_ERR_NOMEM, "out of memory")
                           : mw_error_set(MW_ERR_IO,
                                          "STAC API %s: page %d's next link repeats page %d: the "
                                          "server's paging loops; stopped after %d item(s)",
                                          url, st->pages, again, st->items);
            break;
        }
        if (st->pages >= max_pages) {
            free(bs);
            rc = mw_error_set(MW_ERR_IO,
                              "STAC API %s: more than %d pages (source.max_pages); stopped after "
                              "%d item(s). Narrow the search or raise the bound",
                              url, max_pages, st->items);
            break;
        }
        json_t *page = exchange(c, url, bs, &sx);
        free(bs);
        if (!page) {
            rc = -1;
            break;
        }
        st->pages++;
        char *from = url, *next_method = NULL;
        url = NULL;
        pc.items = st->items;
        rc = mw_stac_page_read(page, from, &pc, out, &url, &next_method, &body);
        st->items = pc.items;
        if (url) {
            free(method);
            method = next_method;
        }
        free(from);
        json_decref(page);
    }
    free(url);
    free(method);
    json_decref(body);
    for (int i = 0; i < seen.n; i++)
        free(seen.v[i]);
    free(seen.v);
    for (int i = 0; i < tc.n; i++) {
        free(tc.collection[i]);
        free(tc.token[i]);
    }
    curl_easy_cleanup(c);
    return rc;
}
