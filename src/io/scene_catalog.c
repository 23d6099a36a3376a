#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "io/json_file.h"
#include "core/text.h"
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

/* Folders already walked, by device and inode: a link back up the tree (`ln -s . x`) or two
 * links to one folder are walked once, so the walk ends and no item is counted twice. */
typedef struct seen {
    dev_t *dev;
    ino_t *ino;
    size_t n, cap;
} seen;

static int seen_add(seen *s, const struct stat *st)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->dev[i] == st->st_dev && s->ino[i] == st->st_ino) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        dev_t *d = realloc(s->dev, cap * sizeof *d);
        if (d) s->dev = d;
        ino_t *i = realloc(s->ino, cap * sizeof *i);
        if (i) s->ino = i;
        if (!d || !i) return -1;
        s->cap = cap;
    }
    s->dev[s->n] = st->st_dev;
    s->ino[s->n++] = st->st_ino;
    return 1;
}

#define MAX_SCAN_DEPTH 8
#define MAX_SCAN_ENTRIES 1000000 /* a scene folder, not a file system */

static int walk(const char *dir, path_list *out, int depth, seen *dirs, seen *files, long *entries)
{
    if (depth > MAX_SCAN_DEPTH) return 0;
    DIR *d = opendir(dir);
    if (!d) return depth == 0 ? -1 : 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.') continue;
        if (++*entries > MAX_SCAN_ENTRIES) {
            rc = mw_error_set(MW_ERR_INPUT,
                              "scene source '%s' holds more than %d entries; point source.path "
                              "at the folder of the scenes",
                              dir, MAX_SCAN_ENTRIES);
            break;
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                int fresh = seen_add(dirs, &st);
                if (fresh < 0) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
                if (fresh > 0) rc = walk(p, out, depth + 1, dirs, files, entries);
            } else if (S_ISREG(st.st_mode) &&
                       (mw_text_ends_with(p, ".json") || mw_text_ends_with(p, "/MTD_MSIL2A.xml") ||
                        mw_text_ends_with(p, "_MTL.txt") || mw_text_ends_with(p, "_MTL.xml") ||
                        mw_text_ends_with(p, ".scene.yaml"))) {
                int fresh = seen_add(files, &st);
                if (fresh < 0) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
                if (fresh > 0 && push(out, p)) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
            }
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

/* A product folder may describe itself several times (a STAC item and its MTL as JSON, XML and
 * text): one scene, read from the best of them (item, then MTL.json, .xml, .txt). The same id in
 * two folders is a real duplicate, left to mw_scene_catalog_dedupe to report. */
static int source_rank(const char *path)
{
    return mw_text_ends_with(path, "_MTL.json")  ? 1
           : mw_text_ends_with(path, "_MTL.xml") ? 2
           : mw_text_ends_with(path, "_MTL.txt") ? 3
                                                 : 0;
}

static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

static int cmp_product(const void *a, const void *b)
{
    const mw_scene *x = *(const mw_scene *const *)a, *y = *(const mw_scene *const *)b;
    int c = strcmp(x->id, y->id);
    if (c) return c;
    size_t lx = dir_len(x->item_path), ly = dir_len(y->item_path);
    c = lx != ly ? (lx < ly ? -1 : 1) : strncmp(x->item_path, y->item_path, lx);
    if (c) return c;
    return source_rank(x->item_path) - source_rank(y->item_path);
}

static void one_per_product(mw_scene_catalog *cat)
{
    if (cat->n < 2) return;
    mw_scene **v = malloc(cat->n * sizeof *v);
    if (!v) return; /* then duplicates reach the run's dedupe, which reports them */
    for (size_t i = 0; i < cat->n; i++)
        v[i] = &cat->scenes[i];
    qsort(v, cat->n, sizeof *v, cmp_product);
    for (size_t i = 1; i < cat->n; i++) {
        const mw_scene *a = v[i - 1], *b = v[i];
        if (!a->id || strcmp(a->id, b->id) || dir_len(a->item_path) != dir_len(b->item_path) ||
            strncmp(a->item_path, b->item_path, dir_len(a->item_path)))
            continue;
        v[i] = (mw_scene *)v[i - 1]; /* keep the better one, first in this run of equals */
        mw_scene_free((mw_scene *)b);
        ((mw_scene *)b)->id = NULL; /* marked: removed below */
    }
    free(v);
    size_t k = 0;
    for (size_t i = 0; i < cat->n; i++)
        if (cat->scenes[i].id) cat->scenes[k++] = cat->scenes[i];
    cat->n = k;
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
    seen dirs = {0}, files = {0};
    long entries = 0;
    seen_add(&dirs, &st);
    int wr = walk(dir, &pl, 0, &dirs, &files, &entries);
    free(dirs.dev), free(dirs.ino), free(files.dev), free(files.ino);
    if (wr != 0) {
        for (size_t i = 0; i < pl.n; i++)
            free(pl.v[i]);
        free(pl.v);
        if (*mw_error_message()) return -1;
        return mw_error_set(MW_ERR_IO, "cannot list scene source '%s'", dir);
    }
    if (pl.n) qsort(pl.v, pl.n, sizeof *pl.v, cmp_str);
    out->scenes = calloc(pl.n ? pl.n : 1, sizeof *out->scenes);
    int rc = out->scenes ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory scanning '%s'", dir);
    for (size_t i = 0; i < pl.n && rc == 0; i++) {
        /* Items are JSON files whose "type" is "Feature"; collections and truth files are not. */
        if (mw_text_ends_with(pl.v[i], "/MTD_MSIL2A.xml")) {
            int r = mw_safe_read(pl.v[i], &out->scenes[out->n]);
            if (r == 0)
                out->n++;
            else if (on_fail)
                on_fail(pl.v[i], mw_error_message(), user);
            mw_error_clear();
            continue;
        }
        if (mw_text_ends_with(pl.v[i], "_MTL.txt") || mw_text_ends_with(pl.v[i], "_MTL.xml") ||
            mw_text_ends_with(pl.v[i], ".scene.yaml")) {
            int r = mw_text_ends_with(pl.v[i], ".scene.yaml")
                        ? mw_scene_manifest_read(pl.v[i], &out->scenes[out->n])
                        : mw_landsat_mtl_read(pl.v[i], &out->scenes[out->n]);
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
        else if (json_object_get(root, "LANDSAT_METADATA_FILE"))
            r = mw_landsat_mtl_from_json(root, pl.v[i], &out->scenes[out->n]);
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
    if (rc == 0) one_per_product(out);
    if (out->n) qsort(out->scenes, out->n, sizeof *out->scenes, cmp_scene);
    return rc;
}

static int cmp_id_then_path(const void *a, const void *b)
{
    const mw_scene *x = *(const mw_scene *const *)a, *y = *(const mw_scene *const *)b;
    int c = strcmp(x->id, y->id);
    if (c) return c;
    c = strcmp(x->item_path ? x->item_path : "", y->item_path ? y->item_path : "");
    return c ? c : (x > y) - (x < y);
}

void mw_scene_catalog_dedupe(mw_scene_catalog *cat, mw_scene_dup_fn on_dup, void *user)
{
    if (cat->n < 2) return;
    const mw_scene **v = malloc(cat->n * sizeof *v);
    char *drop = calloc(cat->n, 1);
    if (!v || !drop) {
        free(v), free(drop);
        return;
    }
    for (size_t i = 0; i < cat->n; i++)
        v[i] = &cat->scenes[i];
    /* Sorted by id, then path: the kept copy does not depend on the order of the listing. */
    qsort(v, cat->n, sizeof *v, cmp_id_then_path);
    for (size_t i = 1, first = 0; i < cat->n; i++) {
        if (strcmp(v[i]->id, v[first]->id) != 0) {
            first = i;
            continue;
        }
        drop[v[i] - cat->scenes] = 1;
        if (on_dup) on_dup(v[i]->id, v[first]->item_path, v[i]->item_path, user);
    }
    size_t k = 0;
    for (size_t i = 0; i < cat->n; i++) {
        if (drop[i])
            mw_scene_free(&cat->scenes[i]);
        else
            cat->scenes[k++] = cat->scenes[i];
    }
    cat->n = k;
    free(v);
    free(drop);
}

void mw_scene_catalog_free(mw_scene_catalog *cat)
{
    if (!cat) return;
    for (size_t i = 0; i < cat->n; i++)
        mw_scene_free(&cat->scenes[i]);
    free(cat->scenes);
    memset(cat, 0, sizeof *cat);
}
