/* Fuzz target: a STAC API search page (items and the next link), without the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "io/stac_page.h"
#include "minewatch/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_fail(const char *path, const char *msg, void *user)
{
    (void)path, (void)msg;
    ++*(int *)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *page = json_loadb((const char *)data, size, 0, NULL);
    if (!page) return 0;
    const char *cols[] = {"sentinel-2-l2a", NULL};
    mw_stac_query q = {.url = "http://fuzz", .collections = cols, .max_items = 50};
    int failed = 0;
    mw_stac_page_ctx c = {&q, on_fail, &failed, NULL, NULL, 0};
    mw_scene_catalog out = {0};
    char *next = NULL, *method = NULL;
    json_t *body = json_pack("{s:i}", "limit", 10);
    mw_stac_page_read(page, "http://fuzz/search?page=1", &c, &out, &next, &method, &body);
    mw_scene_catalog_dedupe(&out, NULL, NULL);
    mw_error_clear();
    free(next), free(method);
    json_decref(body);
    mw_scene_catalog_free(&out);
    json_decref(page);
    return 0;
}
