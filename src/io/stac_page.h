/* One page of a STAC API item search: its items as scenes, and where the next page is. Split
 * from the HTTP exchange so the parsing of what a server sends can be fuzzed on its own. */
#ifndef MW_STAC_PAGE_H
#define MW_STAC_PAGE_H

#include <jansson.h>

#include "minewatch/scene.h"
#include "minewatch/stac_api.h"

/* Signs a scene's assets (collection: the item's, or the query's first); -1 stops the search. */
typedef int (*mw_stac_sign_fn)(mw_scene *s, const char *collection, void *user);

typedef struct mw_stac_page_ctx {
    const mw_stac_query *q;
    mw_scan_failure_fn on_fail; /* items that do not parse */
    void *fail_user;
    mw_stac_sign_fn sign; /* NULL: no signing */
    void *sign_user;
    int items; /* items seen so far, all pages (bounded by q->max_items) */
} mw_stac_page_ctx;

/* Appends the page's items to out. When the page links a next page (and max_items is not
 * reached), *next_url and *next_method get it and the request body is updated as the link asks
 * (merged or replaced); *next_url is NULL otherwise. A next link that is not http(s) is an
 * error. Returns 0 or -1 with an error naming url. */
int mw_stac_page_read(json_t *page, const char *url, mw_stac_page_ctx *c, mw_scene_catalog *out,
                      char **next_url, char **next_method, json_t **body);

#endif
