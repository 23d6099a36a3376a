#include "io/stac_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "minewatch/error.h"

int mw_stac_page_read(json_t *page, const char *url, mw_stac_page_ctx *c, mw_scene_catalog *out,
                      char **next_url, char **next_method, json_t **body)
{
    const mw_stac_query *q = c->q;
    *next_url = NULL;
    json_t *features = json_object_get(page, "features");
    if (!json_is_array(features))
        return mw_error_set(MW_ERR_IO, "STAC API %s answered without a 'features' list", url);
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(features, i, item)
    {
        if (q->max_items > 0 && c->items >= q->max_items) break;
        mw_scene *sc = realloc(out->scenes, (out->n + 1) * sizeof *sc);
        if (!sc) {
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
            break;
        }
        out->scenes = sc;
        const char *iid = json_string_value(json_object_get(item, "id"));
        char *page_url = mw_text_redact_url(url);
        size_t wn = strlen(page_url ? page_url : "") + (iid ? strlen(iid) : 1) + 8;
        char *where = malloc(wn);
        if (!where) {
            free(page_url);
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(where, wn, "%s#%s", page_url ? page_url : "", iid ? iid : "?");
        free(page_url);
        int r =
            mw_stac_item_from_remote_json(item, where, q->allow_local_assets, &out->scenes[out->n]);
        if (r == 0 && c->sign) {
            const char *col = json_string_value(json_object_get(item, "collection"));
            if (!col) col = q->collections && q->collections[0] ? q->collections[0] : "";
            if (c->sign(&out->scenes[out->n], col, c->sign_user)) {
                mw_scene_free(&out->scenes[out->n]);
                free(where);
                rc = mw_error_prefix("signing assets of '%s'", iid ? iid : "?");
                break;
            }
        }
        if (r == 0)
            out->n++;
        else if (r < 0 && c->on_fail)
            c->on_fail(where, mw_error_message(), c->fail_user);
        mw_error_clear();
        free(where);
        c->items++;
    }
    if (rc) return rc;
    /* Follow rel=next: POST with its body (merged into ours when asked), or GET. */
    json_t *links = json_object_get(page, "links"), *next = NULL, *l;
    json_array_foreach(links, i, l)
    {
        const char *rel = json_string_value(json_object_get(l, "rel"));
        if (rel && strcmp(rel, "next") == 0) next = l;
    }
    const char *nh = next ? json_string_value(json_object_get(next, "href")) : NULL;
    if (!nh || (q->max_items > 0 && c->items >= q->max_items)) return 0;
    if (!mw_text_is_http(nh))
        return mw_error_set(MW_ERR_IO,
                            "STAC API %s: the next page is '%s', not an http(s) URL; stopped "
                            "after %d item(s)",
                            url, nh, c->items);
    const char *m = json_string_value(json_object_get(next, "method"));
    *next_url = mw_text_dup(nh);
    *next_method = mw_text_dup(m && !strcasecmp(m, "POST") ? "POST" : "GET");
    json_t *nb = json_object_get(next, "body");
    if (json_is_object(nb)) {
        if (json_is_true(json_object_get(next, "merge")) && json_is_object(*body)) {
            json_object_update(*body, nb);
        } else {
            json_decref(*body);
            *body = json_deep_copy(nb);
        }
    }
    return 0;
}
