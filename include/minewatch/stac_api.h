/* STAC API item search (POST /search), with paging, timeouts and retries (libcurl). */
#ifndef MINEWATCH_STAC_API_H
#define MINEWATCH_STAC_API_H

#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/date.h"
#include "minewatch/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_stac_query {
    const char *url;                /* API root; /search is appended */
    const char *const *collections; /* NULL-terminated */
    const char *intersects_geojson; /* site geometry (WGS 84 GeoJSON), or NULL to use bbox */
    double bbox[4];                 /* lon/lat, used when intersects_geojson is NULL */
    mw_day start, end;              /* inclusive */
    double max_cloud_cover;         /* percent; < 0: no filter */
    int page_size;
    int max_items;                 /* stop after this many (a guard against runaway paging) */
    double timeout_s;              /* whole request */
    int retries;                   /* attempts after the first, on network errors, 429 and 5xx */
    double backoff_s;              /* wait before the first retry; doubles each time */
    const char *sign_token_url;    /* Planetary Computer SAS token endpoint, or NULL: no signing */
    const char *const *sign_hosts; /* NULL-terminated: hosts a token may go to ("*.a.b": any
                                      subdomain of a.b); assets elsewhere are read unsigned */
    /* Bounds: a search stops with an error naming the bound it hit. */
    int max_pages;             /* pages followed through rel=next (0: 1000) */
    size_t max_response_bytes; /* one answer's body (0: 64 MiB) */
    double max_seconds;        /* the whole search, retries included (0: 1800) */
    int allow_local_assets;    /* items may name local files (default: only http(s)) */
} mw_stac_query;

typedef struct mw_stac_stats {
    int requests; /* HTTP requests made, retries included */
    int pages;
    int items;
    int tokens; /* SAS tokens fetched */
} mw_stac_stats;

/* Appends the matching items to *out as scenes (asset hrefs read through /vsicurl/). Items that
 * do not parse go to on_fail and the search goes on. Only http(s) is spoken, redirects included;
 * a next link that repeats a page, or one that is not http(s), ends the search with an error.
 * Returns -1 with an error naming the URL and the server's answer (or the bound hit) when the
 * search itself fails after its retries. */
MW_API int mw_stac_search(const mw_stac_query *q, mw_scene_catalog *out, mw_scan_failure_fn on_fail,
                          void *user, mw_stac_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
