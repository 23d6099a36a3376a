#include "core/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_vsi.h>

#include "minewatch/error.h"

char *mw_part_path(const char *final_path)
{
    /* Keep the extension last: GDAL drivers pick formats by it. */
    const char *slash = strrchr(final_path, '/');
    const char *dot = strrchr(slash ? slash : final_path, '.');
    size_t stem = dot ? (size_t)(dot - final_path) : strlen(final_path);
    size_t n = strlen(final_path) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%.*s.part-%ld%s", (int)stem, final_path, (long)getpid(), dot ? dot : "");
    return s;
}

int mw_commit_path(const char *tmp, const char *final_path)
{
    if (rename(tmp, final_path) != 0)
        return mw_error_set(MW_ERR_IO, "cannot move '%s' to '%s': %s", tmp, final_path,
                            strerror(errno));
    return 0;
}

void mw_remove_tree(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode))
        VSIRmdirRecursive(path);
    else
        VSIUnlink(path);
}

int mw_commit_dir(const char *tmp, const char *final_dir)
{
    mw_remove_tree(final_dir);
    return mw_commit_path(tmp, final_dir);
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
