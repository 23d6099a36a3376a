#include "core/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>

#include "core/text.h"
#include "minewatch/error.h"

static const char part_tag[] = ".part-";

char *mw_part_path(const char *final_path)
{
    /* Threads of one process and processes sharing a folder each get their own name; the
     * extension stays last because GDAL drivers pick formats by it. */
    static unsigned long counter;
    const unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    const char *slash = strrchr(final_path, '/');
    const char *dot = strrchr(slash ? slash : final_path, '.');
    if (dot && slash && dot == slash + 1) dot = NULL; /* ".hidden" has no extension */
    size_t stem = dot ? (size_t)(dot - final_path) : strlen(final_path);
    size_t len = strlen(final_path) + 64;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%.*s%s%ld-%lu%s", (int)stem, final_path, part_tag, (long)getpid(), n,
                 dot ? dot : "");
    return s;
}

int mw_part_name_pid(const char *name, long *pid)
{
    const char *t = strstr(name, part_tag);
    if (!t) return 0;
    char *end;
    long p = strtol(t + sizeof part_tag - 1, &end, 10);
    if (end == t + sizeof part_tag - 1 || *end != '-' || p <= 0) return 0;
    if (pid) *pid = p;
    return 1;
}

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a folder"
           : S_ISLNK(m)  ? "a symbolic link"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a pipe"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* Data first, then the name: a crash never leaves a renamed but empty file. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return dir ? 0 : mw_error_set(MW_ERR_IO, "cannot reopen '%s': %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = mw_error_set(MW_ERR_IO, "writing '%s' to the disk failed: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static char *parent_of(const char *path)
{
    char *d = mw_text_dup(path);
    char *slash = d ? strrchr(d, '/') : NULL;
    if (!d) return NULL;
    if (!slash)
        strcpy(d, ".");
    else if (slash == d)
        d[1] = 0;
    else
        *slash = 0;
    return d;
}

int mw_commit_path(const char *tmp, const char *final_path)
{
    struct stat st;
    if (lstat(final_path, &st) == 0 && !S_ISREG(st.st_mode))
        return mw_error_set(MW_ERR_INPUT,
                            "'%s' exists and is %s: minewatch writes only regular files and will "
                            "not replace it; remove it or choose another output",
                            final_path, kind_of(st.st_mode));
    if (sync_path(tmp, 0)) return -1;
    if (rename(tmp, final_path) != 0)
        return mw_error_set(MW_ERR_IO, "cannot move '%s' to '%s': %s", tmp, final_path,
                            strerror(errno));
    char *dir = parent_of(final_path);
    if (dir) sync_path(dir, 1);
    free(dir);
    return 0;
}

/* Removes name inside dirfd without following links: a link is unlinked, a folder emptied
 * first. Names are listed before anything is removed so the listing is never disturbed. */
static void remove_at(int at, const char *name, int depth)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(at, name, 0);
        return;
    }
    if (depth > 64) return; /* deeper than anything minewatch makes */
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = mw_text_dup(e->d_name))) break;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        remove_at(dirfd(d), names[i], depth + 1);
        free(names[i]);
    }
    free(names);
    closedir(d);
    unlinkat(at, name, AT_REMOVEDIR);
}

void mw_remove_tree(const char *path)
{
    if (path && *path) remove_at(AT_FDCWD, path, 0);
}

int mw_commit_dir(const char *tmp, const char *final_dir)
{
    struct stat st;
    char *old = NULL;
    if (lstat(final_dir, &st) == 0) {
        old = mw_part_path(final_dir);
        if (!old) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        if (rename(final_dir, old) != 0) {
            int e = errno;
            free(old);
            return mw_error_set(MW_ERR_IO, "cannot move '%s' aside: %s", final_dir, strerror(e));
        }
    }
    int rc = 0;
    if (rename(tmp, final_dir) != 0) {
        rc = mw_error_set(MW_ERR_IO, "cannot move '%s' to '%s': %s", tmp, final_dir,
                          strerror(errno));
        if (old) rename(old, final_dir); /* put the old one back */
    } else if (old) {
        mw_remove_tree(old);
    }
    free(old);
    return rc;
}

int mw_make_dirs(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    memcpy(p, dir, n + 1);
    /* Create each missing parent in turn; relative paths work from the current folder. */
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return mw_error_set(MW_ERR_IO, "cannot create folder '%s': %s", dir, strerror(e));
        }
        p[i] = c;
    }
    free(p);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mw_error_set(MW_ERR_IO, "cannot create folder '%s': a file of that name exists",
                            dir);
    return 0;
}

int mw_gdal_close_written(void *dataset, const char *path)
{
    if (!dataset) return 0;
    CPLErrorReset();
    GDALClose((GDALDatasetH)dataset);
    if (CPLGetLastErrorType() >= CE_Failure)
        return mw_error_from_gdal(MW_ERR_IO, "writing '%s' failed (disk full?)", path);
    return 0;
}

int mw_output_path_check(const char *path, const char *const *inputs, int ninputs)
{
    struct stat out;
    if (lstat(path, &out) != 0) return 0; /* a new file */
    if (!S_ISREG(out.st_mode))
        return mw_error_set(MW_ERR_INPUT,
                            "output '%s' exists and is %s: minewatch writes only regular files "
                            "and will not replace it",
                            path, kind_of(out.st_mode));
    for (int i = 0; i < ninputs; i++) {
        struct stat in;
        if (!inputs[i] || strncmp(inputs[i], "/vsi", 4) == 0 || stat(inputs[i], &in) != 0) continue;
        if (in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            return mw_error_set(MW_ERR_INPUT,
                                "output '%s' is the input '%s': writing it would destroy the "
                                "input; choose another output name",
                                path, inputs[i]);
    }
    return 0;
}
