#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "io/json_file.h"
#include "minewatch/error.h"
#include "minewatch/scene.h"

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int push(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    size_t n = strlen(p) + 1;
    l->v[l->n] = malloc(n);
    if (!l->v[l->n]) return -1;
    memcpy(l->v[l->n++], p, n);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int walk(const char *dir, path_list *out, int depth)
{
    if (depth > 8) return 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk(p, out, depth + 1);
            else if (ends_with(p, ".json") || ends_with(p, "/MTD_MSIL2A.xml"))
                rc = push(out, p);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_scene(const void *a, const void *b)
{
    const mw_scene *x = a, *y = b;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    if (x->seconds != y->seconds) return x->seconds < y->seconds ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mw_scene_catalog_scan(const char *dir, mw_scene_catalog *out, mw_scan_failure_fn on_fail,
                          void *user)
{
    memset(out, 0, sizeof *out);
    path_list pl = {0};
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mw_error_set(MW_ERR_INPUT,
                            "scene source '%s' is not a readable folder; check source.path in "
                            "the pipeline file",
                            dir);
    if (walk(dir, &pl, 0) != 0) {
        for (size_t i = 0; i < pl.n; i++)
            free(pl.v[i]);
        free(pl.v);
        return mw_error_set(MW_ERR_IO, "cannot list scene source '%s'", dir);
    }
    qsort(pl.v, pl.n, sizeof *pl.v, cmp_str);
    out->scenes = calloc(pl.n ? pl.n : 1, sizeof *out->scenes);
    int rc = out->scenes ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory scanning '%s'", dir);
    for (size_t i = 0; i < pl.n && rc == 0; i++) {
        /* Items are JSON files whose "type" is "Feature"; collections and truth files are not. */
        if (ends_with(pl.v[i], "/MTD_MSIL2A.xml")) {
            int r = mw_safe_read(pl.v[i], &out->scenes[out->n]);
            if (r == 0)
                out->n++;
            else if (on_fail)
                on_fail(pl.v[i], mw_error_message(), user);
            mw_error_clear();
            continue;
        }
        json_t *root = mw_json_load_file(pl.v[i]);
        const char *t = root ? json_string_value(json_object_get(root, "type")) : NULL;
        int r = 0;
        if (!root)
            r = -1;
        else if (t && strcmp(t, "Feature") == 0)
            r = mw_stac_item_from_json(root, pl.v[i], &out->scenes[out->n]);
        else
            r = 1;
        json_decref(root);
        if (r == 0)
            out->n++;
        else if (r < 0 && on_fail)
            on_fail(pl.v[i], mw_error_message(), user);
        mw_error_clear();
    }
    for (size_t i = 0; i < pl.n; i++)
        free(pl.v[i]);
    free(pl.v);
    qsort(out->scenes, out->n, sizeof *out->scenes, cmp_scene);
    return rc;
}

void mw_scene_catalog_free(mw_scene_catalog *cat)
{
    if (!cat) return;
    for (size_t i = 0; i < cat->n; i++)
        mw_scene_free(&cat->scenes[i]);
    free(cat->scenes);
    memset(cat, 0, sizeof *cat);
}
