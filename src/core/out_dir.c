#include "core/out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/log.h"

#define META ".minewatch"
#define JOURNAL "commit.json"
#define STAGING_PREFIX "staging-"

int mw_dir_lock(const char *dir, const char *name, const char *what, int wait)
{
    char *path = mw_text_path(dir, name);
    if (!path) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        mw_error_set(MW_ERR_IO, "cannot open the lock '%s' of %s: %s", path, what, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char owner[64] = "";
        ssize_t n = pread(fd, owner, sizeof owner - 1, 0);
        owner[n > 0 ? n : 0] = 0;
        owner[strcspn(owner, "\n")] = 0;
        if (!wait) {
            mw_error_set(MW_ERR_INPUT,
                         "%s is in use by another minewatch run (%s%s); wait for it to finish "
                         "or choose another folder",
                         what, *owner ? "pid " : "pid unknown", owner);
            close(fd);
            free(path);
            return -1;
        }
        mw_log(MW_LOG_INFO, "waiting for another minewatch run (pid %s) using %s", owner, what);
        if (flock(fd, LOCK_EX) != 0) {
            mw_error_set(MW_ERR_IO, "cannot lock %s: %s", what, strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
    }
    char me[32];
    int n = snprintf(me, sizeof me, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, me, (size_t)n, 0) < 0) {
        /* the pid is a courtesy for the message above; the lock itself holds */
    }
    free(path);
    return fd;
}

void mw_dir_unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing releases the flock */
}

/* A path inside the output folder as the journal may name it: relative, no "..". */
static int rel_ok(const char *rel)
{
    if (!rel || !*rel || rel[0] == '/') return 0;
    const char *p = rel;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += n;
        if (*p == '/') p++;
    }
    return 1;
}

static int staging_name_ok(const char *name)
{
    const size_t k = sizeof STAGING_PREFIX - 1;
    return name && !strncmp(name, STAGING_PREFIX, k) && name[k] &&
           strspn(name + k, "0123456789") == strlen(name + k);
}

typedef struct list {
    char **v;
    size_t n, cap;
} list;

static int list_push(list *l, char *s)
{
    if (!s) return -1;
    if (l->n + 1 >= l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            free(s);
            return -1;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
    return 0;
}

/* Regular files under base/rel, recursively, never through a symbolic link. */
static int walk(const char *base, const char *rel, list *out, int depth)
{
    char *dir = *rel ? mw_text_path(base, rel) : mw_text_dup(base);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        free(dir);
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *r = *rel ? mw_text_path(rel, e->d_name) : mw_text_dup(e->d_name);
        char *full = r ? mw_text_path(base, r) : NULL;
        struct stat st;
        if (!r || !full) {
            rc = -1;
        } else if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode) && depth < 16) {
            rc = walk(base, r, out, depth + 1);
        } else if (lstat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            /* a partial file of a writer that failed is not an output */
            if (!mw_part_name_pid(e->d_name, NULL)) {
                rc = list_push(out, r);
                r = NULL;
            }
        }
        free(r);
        free(full);
    }
    closedir(d);
    free(dir);
    return rc;
}

static int cmp_rel(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    /* provenance.json last: it names everything else, so it lands when the rest has */
    int px = !strcmp(x, "provenance.json"), py = !strcmp(y, "provenance.json");
    if (px != py) return px - py;
    return strcmp(x, y);
}

char **mw_out_dir_list(const mw_out_dir *od, size_t *n)
{
    list l = {0};
    if (walk(od->staging, "", &l, 0) != 0 || !l.v) {
        if (!l.v) l.v = calloc(1, sizeof *l.v);
        if (l.v) l.v[l.n] = NULL;
    }
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cmp_rel);
    if (n) *n = l.n;
    return l.v;
}

void mw_out_dir_list_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int make_parent(const char *root, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) return 0;
    char *sub = mw_text_dup(rel);
    if (!sub) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    sub[slash - rel] = 0;
    char *d = mw_text_path(root, sub);
    int rc = d ? mw_make_dirs(d) : mw_error_set(MW_ERR_NOMEM, "out of memory");
    free(d);
    free(sub);
    return rc;
}

/* Fault injection for the tests: MW_FAULT_KILL_AFTER_COMMITTED=N kills the process (SIGKILL, as
 * a power cut or an OOM killer would) right after the N-th file of a commit has moved. */
static int fault_kill_after(void)
{
    const char *v = getenv("MW_FAULT_KILL_AFTER_COMMITTED");
    return v && *v ? atoi(v) : -1;
}

/* Moves files[] from staging into root; those already moved (gone from staging) are skipped. */
static int move_in(const char *root, const char *staging, const char *const *files, size_t n,
                   int *moved)
{
    for (size_t i = 0; i < n; i++) {
        char *from = mw_text_path(staging, files[i]), *to = mw_text_path(root, files[i]);
        struct stat st;
        int rc = 0;
        if (!from || !to)
            rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
        else if (lstat(from, &st) != 0 || !S_ISREG(st.st_mode))
            rc = 0; /* moved before the interruption */
        else if ((rc = make_parent(root, files[i])) == 0 && (rc = mw_commit_path(from, to)) == 0)
            ++*moved;
        if (rc == 0 && *moved == fault_kill_after()) raise(SIGKILL);
        free(from);
        free(to);
        if (rc) return -1;
    }
    return 0;
}

static char *journal_path(const mw_out_dir *od)
{
    return mw_text_path(od->meta, JOURNAL);
}

/* Finishes the commit a killed run left (its journal), then clears old staging folders. */
static int recover(mw_out_dir *od)
{
    char *jp = journal_path(od);
    struct stat st;
    int rc = 0;
    if (jp && lstat(jp, &st) == 0) {
        json_error_t je;
        json_t *j = json_load_file(jp, 0, &je);
        const char *stg = j ? json_string_value(json_object_get(j, "staging")) : NULL;
        json_t *files = j ? json_object_get(j, "files") : NULL;
        size_t n = json_array_size(files);
        const char **fv = calloc(n + 1, sizeof *fv);
        int ok = j && staging_name_ok(stg) && json_is_array(files) && fv;
        for (size_t i = 0; ok && i < n; i++)
            ok = rel_ok(fv[i] = json_string_value(json_array_get(files, i)));
        if (!ok) {
            rc = mw_error_set(MW_ERR_INPUT,
                              "'%s' is not a commit journal minewatch wrote; the outputs in '%s' "
                              "may mix two runs. Check them, then remove '%s' and rerun",
                              jp, od->root, jp);
        } else {
            char *sd = mw_text_path(od->meta, stg);
            int moved = 0;
            rc = sd ? move_in(od->root, sd, fv, n, &moved) : -1;
            if (rc == 0) {
                od->recovered = moved;
                mw_log(MW_LOG_WARN,
                       "the run that wrote '%s' was interrupted while committing its outputs; "
                       "its remaining %d file(s) were moved in, so the folder holds that run's "
                       "outputs whole",
                       od->root, moved);
                unlink(jp);
            } else {
                mw_error_prefix("finishing the interrupted commit recorded in '%s'", jp);
            }
            free(sd);
        }
        free(fv);
        json_decref(j);
    }
    free(jp);
    if (rc) return rc;
    /* Staging folders of runs that died before committing: this run holds the lock, so none is
     * in use. */
    DIR *d = opendir(od->meta);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (staging_name_ok(e->d_name)) {
            char *p = mw_text_path(od->meta, e->d_name);
            mw_remove_tree(p);
            free(p);
        }
    if (d) closedir(d);
    return 0;
}

int mw_out_dir_open(const char *root, mw_out_dir *od)
{
    memset(od, 0, sizeof *od);
    od->lock_fd = -1;
    if (mw_make_dirs(root)) return -1;
    od->root = mw_text_dup(root);
    od->meta = mw_text_path(root, META);
    if (!od->root || !od->meta) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    struct stat st;
    if (lstat(od->meta, &st) == 0 && !S_ISDIR(st.st_mode)) {
        mw_out_dir_close(od);
        return mw_error_set(MW_ERR_INPUT,
                            "'%s' is not a folder minewatch made (a file or a link); remove it",
                            root);
    }
    if (mkdir(od->meta, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        mw_out_dir_close(od);
        return mw_error_set(MW_ERR_IO, "cannot create '%s/%s': %s", root, META, strerror(e));
    }
    char what[64 + 4096];
    snprintf(what, sizeof what, "output folder '%.4096s'", root);
    od->lock_fd = mw_dir_lock(od->meta, "lock", what, 0);
    if (od->lock_fd < 0 || recover(od) != 0) {
        mw_out_dir_close(od);
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, STAGING_PREFIX "%ld", (long)getpid());
    od->staging = mw_text_path(od->meta, name);
    if (!od->staging || mw_make_dirs(od->staging)) {
        mw_out_dir_close(od);
        return -1;
    }
    return 0;
}

char *mw_out_dir_stage(const mw_out_dir *od, const char *rel)
{
    return mw_text_path(od->staging, rel);
}

char *mw_out_dir_final(const mw_out_dir *od, const char *rel)
{
    return mw_text_path(od->root, rel);
}

int mw_out_dir_commit(mw_out_dir *od)
{
    size_t n = 0;
    char **files = mw_out_dir_list(od, &n);
    if (!files) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    int rc = 0;
    /* Every target first: a refusal must come before anything has moved. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *to = mw_text_path(od->root, files[i]);
        struct stat st;
        if (to && lstat(to, &st) == 0 && !S_ISREG(st.st_mode))
            rc = mw_error_set(MW_ERR_INPUT,
                              "'%s' exists and is not a regular file: minewatch will not "
                              "replace it, so none of this run's outputs were moved into '%s' "
                              "(they are in '%s')",
                              to, od->root, od->staging);
        free(to);
    }
    char *jp = journal_path(od), *jtmp = jp ? mw_part_path(jp) : NULL;
    if (rc == 0 && (!jp || !jtmp)) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        json_t *j = json_pack("{s:s,s:[]}", "staging", strrchr(od->staging, '/') + 1, "files");
        for (size_t i = 0; i < n; i++)
            json_array_append_new(json_object_get(j, "files"), json_string(files[i]));
        if (json_dump_file(j, jtmp, JSON_INDENT(1)) != 0)
            rc = mw_error_set(MW_ERR_IO, "cannot write the commit journal '%s'", jp);
        json_decref(j);
        if (rc == 0) rc = mw_commit_path(jtmp, jp);
        if (rc) unlink(jtmp);
    }
    if (rc == 0) {
        int moved = 0;
        rc = move_in(od->root, od->staging, (const char *const *)files, n, &moved);
        if (rc == 0)
            unlink(jp);
        else
            mw_error_prefix("committing the outputs into '%s' stopped after %d of %zu file(s); "
                            "the next run into this folder completes it",
                            od->root, moved, n);
    }
    free(jp);
    free(jtmp);
    mw_out_dir_list_free(files);
    return rc;
}

void mw_out_dir_close(mw_out_dir *od)
{
    if (od->staging) {
        /* After a failed commit the journal still needs the staged files. */
        char *jp = od->meta ? journal_path(od) : NULL;
        struct stat st;
        if (!(jp && lstat(jp, &st) == 0)) mw_remove_tree(od->staging);
        free(jp);
    }
    mw_dir_unlock(od->lock_fd);
    free(od->root);
    free(od->meta);
    free(od->staging);
    memset(od, 0, sizeof *od);
    od->lock_fd = -1;
}
