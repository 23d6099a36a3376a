/* Helpers shared by the tests: temporary folders, files, running the CLI. */
#ifndef MW_TEST_UTIL_H
#define MW_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gdal.h>
#include <jansson.h>

#include "pipeline/provenance.h"

static inline char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *p = malloc(strlen(base) + strlen(tag) + 32);
    sprintf(p, "%s/mw-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

/* Removes what folder fd (closed here) holds, never following a link: what the hostile tests
 * leave (link loops, FIFOs, paths past PATH_MAX, folders made unreadable) goes too. */
static inline void tu_rm_in(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW)) continue;
        if (S_ISDIR(st.st_mode)) {
            fchmodat(fd, e->d_name, 0700, 0);
            const int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (sub >= 0) tu_rm_in(sub);
            unlinkat(fd, e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(fd, e->d_name, 0);
        }
    }
    closedir(d);
}

static inline void tu_rmtree(const char *p)
{
    if (!p || getenv("MW_KEEP_TEST_FILES")) return;
    const int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) return;
    tu_rm_in(fd);
    rmdir(p);
}

static inline char *tu_path(const char *a, const char *b)
{
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

/* Whether every file <dir>/<prov_name> lists among its outputs has the SHA-256 it gives: NULL
 * if so, else the first that does not (malloc'd). *n: the files checked, -1 when there is no
 * readable provenance file. */
static inline char *tu_outputs_unlike_provenance(const char *dir, const char *prov_name, long *n)
{
    char *pp = tu_path(dir, prov_name), *bad = NULL;
    json_t *prov = json_load_file(pp, 0, NULL), *f;
    free(pp);
    *n = prov ? 0 : -1;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(prov, "outputs"), "files"), i, f)
    {
        const char *rel = json_string_value(json_object_get(f, "path"));
        const char *want = json_string_value(json_object_get(f, "sha256"));
        char *full = tu_path(dir, rel ? rel : "");
        char *got = mw_sha256_file(full);
        if (!got || !want || strcmp(got, want))
            bad = full;
        else
            free(full);
        free(got);
        ++*n;
        if (bad) break;
    }
    json_decref(prov);
    return bad;
}

static inline void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static inline char *tu_read(const char *path, size_t *len)
{
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    if (len) *len = got;
    return s;
}

/* 1 if both files exist and hold the same bytes. */
static inline int tu_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Runs a shell command, returns its exit status; *out gets stdout+stderr (caller frees). */
static inline int tu_run(const char *cmd, char **out)
{
    if (out) *out = NULL;
    char *full = malloc(strlen(cmd) + 16);
    sprintf(full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* How many times needle occurs in hay. */
static inline int tu_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Opens a local HTML page in headless Chromium (Debian's chromium, installed by make deps):
 * takes a 1280 px wide screenshot into png and returns the DOM as rendered (caller frees), or
 * NULL with a message on stderr. A fresh profile each time, so nothing of the user's leaks in. */
static inline char *tu_browser_dom(const char *html, const char *png)
{
    char profile[] = "/tmp/mw-chromium-XXXXXX";
    if (!mkdtemp(profile)) return NULL;
    char cmd[8192], *text = NULL;
    const char *flags = "--headless=new --no-sandbox --disable-gpu --hide-scrollbars "
                        "--no-first-run --disable-extensions --mute-audio";
    snprintf(cmd, sizeof cmd,
             "chromium %s --user-data-dir=%s/a --window-size=1280,2400 --screenshot=%s "
             "'file://%s' >/dev/null 2>&1",
             flags, profile, png, html);
    int rc = system(cmd);
    snprintf(cmd, sizeof cmd, "chromium %s --user-data-dir=%s/b --dump-dom 'file://%s' 2>/dev/null",
             flags, profile, html);
    if (rc == 0 && tu_run(cmd, &text) != 0) {
        fprintf(stderr, "chromium --dump-dom failed on %s:\n%s\n", html, text ? text : "");
        free(text), text = NULL;
    } else if (rc != 0)
        fprintf(stderr,
                "chromium --screenshot failed on %s (exit %d): is chromium installed "
                "(make deps)?\n",
                html, rc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", profile);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", profile);
    return text;
}

/* The value of column col in the row of site and period of an indicators-like CSV (quoted
 * cells may hold commas); NaN when absent or empty. */
static inline double tu_csv_value(const char *path, const char *site, const char *period,
                                  const char *col)
{
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    char line[8192], *cols[64];
    int nc = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return NAN;
    }
    line[strcspn(line, "\n")] = 0;
    for (char *t = strtok(line, ","); t && nc < 64; t = strtok(NULL, ","))
        cols[nc++] = strdup(t);
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *cells[64];
        int k = 0, q = 0;
        cells[k++] = line;
        for (char *c = line; *c && k < 64; c++) {
            if (*c == '"')
                q = !q;
            else if (*c == ',' && !q)
                *c = 0, cells[k++] = c + 1;
        }
        const char *s = NULL, *p = NULL, *x = NULL;
        for (int i = 0; i < nc && i < k; i++) {
            if (!strcmp(cols[i], "site_id")) s = cells[i];
            if (!strcmp(cols[i], "period")) p = cells[i];
            if (!strcmp(cols[i], col)) x = cells[i];
        }
        if (s && p && x && !strcmp(s, site) && !strcmp(p, period)) v = *x ? atof(x) : NAN;
    }
    fclose(f);
    for (int i = 0; i < nc; i++)
        free(cols[i]);
    return v;
}

/* 1 if the PNG at path is a page drawn (width px wide, dark and light pixels, contrast), not a
 * blank. */
static inline int tu_png_is_drawn(const char *path, int width)
{
    GDALDatasetH d = GDALOpen(path, GA_ReadOnly);
    if (!d) return 0;
    double lo, hi, mean, sd;
    int ok = GDALGetRasterXSize(d) == width &&
             GDALComputeRasterStatistics(GDALGetRasterBand(d, 1), 0, &lo, &hi, &mean, &sd, NULL,
                                         NULL) == CE_None &&
             lo < 60 && hi > 240 && sd > 10;
    GDALClose(d);
    return ok;
}

#endif
