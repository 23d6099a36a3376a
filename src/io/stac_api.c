#include "minewatch/stac_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/log.h"

typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    buffer *b = user;
    size_t add = size * n;
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

/* One HTTP exchange with retries. body == NULL: GET. Returns the parsed JSON or NULL with an
 * error. Retries network failures (including stalls and truncated bodies), 429 and 5xx. */
static json_t *exchange(CURL *c, const char *url, const char *body, const mw_stac_query *q,
                        mw_stac_stats *st)
{
    double wait = q->backoff_s > 0 ? q->backoff_s : 0.5;
    for (int attempt = 0;; attempt++) {
        buffer b = {0};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(q->timeout_s * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(fmin(q->timeout_s, 10.0) * 1000));
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
        st->requests++;
        int retry = 0;
        char *why = NULL;
        if (cr != CURLE_OK) {
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
        if (!retry || attempt >= q->retries) {
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

static const char *token_for(CURL *c, token_cache *tc, const char *collection,
                             const mw_stac_query *q, mw_stac_stats *st)
{
    for (int i = 0; i < tc->n; i++)
        if (strcmp(tc->collection[i], collection) == 0) return tc->token[i];
    size_t n = strlen(q->sign_token_url) + strlen(collection) + 2;
    char *url = malloc(n);
    snprintf(url, n, "%s/%s", q->sign_token_url, collection);
    json_t *j = exchange(c, url, NULL, q, st);
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

static void sign_asset(mw_scene_asset *a, const char *token)
{
    if (a->href && strncmp(a->href, "/vsicurl/http", 13) == 0) {
        free(a->signature);
        a->signature = mw_text_dup(token);
    }
}

int mw_stac_search(const mw_stac_query *q, mw_scene_catalog *out, mw_scan_failure_fn on_fail,
                   void *user, mw_stac_stats *stats)
{
    mw_stac_stats local = {0};
    mw_stac_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    CURL *c = curl_easy_init();
    if (!c) return mw_error_set(MW_ERR_INTERNAL, "libcurl could not start");
    size_t ul = strlen(q->url);
    char *url = malloc(ul + 16);
    snprintf(url, ul + 16, "%s%ssearch", q->url, ul && q->url[ul - 1] == '/' ? "" : "/");
    json_t *body = first_body(q);
    char *method_post = mw_text_dup("POST");
    token_cache tc = {{0}, {0}, 0};
    int rc = 0;
    while (url) {
        char *bs = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_t *page = exchange(c, url, strcmp(method_post, "POST") == 0 ? bs : NULL, q, st);
        free(bs);
        if (!page) {
            rc = -1;
            break;
        }
        st->pages++;
        json_t *features = json_object_get(page, "features");
        if (!json_is_array(features)) {
            json_decref(page);
            rc = mw_error_set(MW_ERR_IO, "STAC API %s answered without a 'features' list", url);
            break;
        }
        size_t i;
        json_t *item;
        json_array_foreach(features, i, item)
        {
            if (q->max_items > 0 && st->items >= q->max_items) break;
            mw_scene *sc = realloc(out->scenes, (out->n + 1) * sizeof *sc);
            if (!sc) {
                rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
                break;
            }
            out->scenes = sc;
            const char *iid = json_string_value(json_object_get(item, "id"));
            char *where = malloc(strlen(url) + (iid ? strlen(iid) : 1) + 8);
            sprintf(where, "%s#%s", url, iid ? iid : "?");
            int r = mw_stac_item_from_json(item, where, &out->scenes[out->n]);
            if (r == 0 && q->sign_token_url) {
                const char *col = json_string_value(json_object_get(item, "collection"));
                if (!col) col = q->collections && q->collections[0] ? q->collections[0] : "";
                const char *tok = token_for(c, &tc, col, q, st);
                if (!tok) {
                    mw_scene_free(&out->scenes[out->n]);
                    free(where);
                    rc = mw_error_prefix("signing assets of '%s'", iid ? iid : "?");
                    break;
                }
                mw_scene *signed_scene = &out->scenes[out->n];
                for (int b = 0; b < MW_BAND_COUNT; b++)
                    sign_asset(&signed_scene->bands[b], tok);
                sign_asset(&signed_scene->qa, tok);
                sign_asset(&signed_scene->radsat, tok);
            }
            if (r == 0)
                out->n++;
            else if (r < 0 && on_fail)
                on_fail(where, mw_error_message(), user);
            mw_error_clear();
            free(where);
            st->items++;
        }
        /* Follow rel=next: POST with its body (merged into ours when asked), or GET. */
        json_t *links = json_object_get(page, "links"), *next = NULL, *l;
        json_array_foreach(links, i, l)
        {
            const char *rel = json_string_value(json_object_get(l, "rel"));
            if (rel && strcmp(rel, "next") == 0) next = l;
        }
        free(url);
        url = NULL;
        if (rc == 0 && next && json_string_value(json_object_get(next, "href")) &&
            !(q->max_items > 0 && st->items >= q->max_items)) {
            url = mw_text_dup(json_string_value(json_object_get(next, "href")));
            const char *m = json_string_value(json_object_get(next, "method"));
            free(method_post);
            method_post = mw_text_dup(m ? m : "GET");
            json_t *nb = json_object_get(next, "body");
            if (json_is_object(nb)) {
                if (json_is_true(json_object_get(next, "merge")))
                    json_object_update(body, nb);
                else {
                    json_decref(body);
                    body = json_deep_copy(nb);
                }
            }
        }
        json_decref(page);
    }
    free(url);
    free(method_post);
    json_decref(body);
    for (int i = 0; i < tc.n; i++) {
        free(tc.collection[i]);
        free(tc.token[i]);
    }
    curl_easy_cleanup(c);
    return rc;
}
