/* minewatch tried as a hostile user would (issue #10): names that try to choose paths, folders
 * holding other people's files, full disks, outputs naming inputs, catalogues that point at local
 * files or other protocols, servers that loop, stall, reset or send gigabytes, secrets in hrefs,
 * scenes found twice, runs killed at random moments, and the smaller cases. Every case checks
 * what minewatch does and that the files written before are intact. */
#define _DEFAULT_SOURCE /* wait4, usleep, mount */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cpl_string.h>
#include <gdal.h>
#include <jansson.h>

#include <ogr_srs_api.h>

#include "http_fixture.h"
#include "minewatch/error.h"
#include "pipeline/provenance.h"
#include "test_util.h"

/* AddressSanitizer's shadow memory and quarantine are not minewatch's: resident-set bounds are
 * checked in the release build only (the refusals are checked in both). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

static char *g_dir;
static pid_t g_servers[16];
static int g_nservers;

/* ---- helpers ---------------------------------------------------------------------------- */

static char *vpathf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *s = malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *pathf(const char *fmt, ...) MW_PRINTF(1, 2);
static char *pathf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vpathf(fmt, ap);
    va_end(ap);
    return s;
}

/* A shell command from a format; its exit status, its output in *out if asked. */
static int sh(char **out, const char *fmt, ...) MW_PRINTF(2, 3);
static int sh(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = vpathf(fmt, ap);
    va_end(ap);
    int rc = tu_run(cmd, out);
    free(cmd);
    return rc;
}

/* A point site of radius r metres; extra is appended to its properties. */
static char *site_feature(const char *id, double lon, double lat, double r, const char *extra)
{
    return pathf("{\"type\":\"Feature\",\"properties\":{\"id\":\"%s\",\"name\":\"site %s\","
                 "\"kind\":\"mine\",\"radius_m\":%g%s},\"geometry\":{\"type\":\"Point\","
                 "\"coordinates\":[%.6f,%.6f]}}",
                 id, id, r, extra ? extra : "", lon, lat);
}

static char *write_catalogue(const char *name, const char *features)
{
    char *f = tu_path(g_dir, name);
    char *text = pathf("{\"type\":\"FeatureCollection\",\"features\":[%s]}", features);
    tu_write(f, text);
    free(text);
    return f;
}

/* A small pipeline: one baseline and one monitoring period, 10 m, 100 m buffer. */
static char *write_pipeline(const char *file, const char *name, const char *catalogue,
                            const char *source, const char *extra)
{
    char *f = tu_path(g_dir, file);
    char *text = pathf("name: %s\nsites: {catalogue: %s}\nsource: %s\n"
                       "periods:\n  baseline: {start: 2021-06-01, end: 2021-07-31}\n"
                       "  monitoring: [{name: \"2023\", start: 2023-06-01, end: 2023-07-31}]\n"
                       "grid: {pixel_size_m: 10, buffer_m: 100}\n%s",
                       name, catalogue, source, extra ? extra : "");
    tu_write(f, text);
    free(text);
    return f;
}

static int cli(char **out, const char *fmt, ...) MW_PRINTF(2, 3);
static int cli(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = vpathf(fmt, ap);
    va_end(ap);
    char *cmd = pathf("%s %s", MW_CLI, args);
    int rc = tu_run(cmd, out);
    free(cmd);
    free(args);
    return rc;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* "rel sha" lines for the files under dir, via find (simple and recursive). */
static char *snapshot(const char *dir)
{
    char *cmd = pathf("cd '%s' 2>/dev/null && find . -path ./.minewatch -prune -o \\( -type f -o "
                      "-type l \\) -print | LC_ALL=C sort",
                      dir);
    char *list = NULL;
    tu_run(cmd, &list);
    free(cmd);
    char *acc = strdup("");
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        char *full = tu_path(dir, line);
        struct stat st;
        char *sha =
            lstat(full, &st) == 0 && S_ISREG(st.st_mode) ? mw_sha256_file(full) : strdup("link");
        char *old = acc;
        acc = pathf("%s%s %s\n", old, line, sha);
        free(old), free(sha), free(full);
    }
    free(list);
    return acc;
}

/* The folder holds one run whole: every file provenance.json lists is there with its SHA-256.
 * Or the folder says it does not: a commit journal marks a commit that a kill interrupted,
 * which the next run completes (returns 2 then). */
static int outputs_consistent(const char *out, char *why, size_t whylen)
{
    char *jp = pathf("%s/.minewatch/commit.json", out);
    struct stat jst;
    int marked = lstat(jp, &jst) == 0;
    free(jp);
    if (marked) return 2;
    long checked;
    char *unlike = tu_outputs_unlike_provenance(out, "provenance.json", &checked);
    if (checked < 0)
        snprintf(why, whylen, "no readable provenance.json");
    else if (checked == 0)
        snprintf(why, whylen, "provenance lists no files");
    else if (unlike)
        snprintf(why, whylen, "%s differs from the run that wrote provenance.json",
                 unlike + strlen(out) + 1);
    const int ok = checked > 0 && !unlike;
    free(unlike);
    return ok;
}

/* Peak RSS (MB) and exit status of a command run without a shell in between. */
static int run_measured(const char *cmd, long *peak_mb, char **out)
{
    char *full = pathf("exec %s", cmd);
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd[0], buf + n, cap - n - 1)) > 0) {
        n += (size_t)got;
        if (cap - n < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    close(fd[0]);
    int st = 0;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    free(full);
    if (peak_mb) *peak_mb = ru.ru_maxrss / 1024;
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define SIM_SOURCE "{type: simulator, seed: 7, scenes_per_period: 2, cloud_cover: 0.1}"
static char *g_cat; /* two tiny sites */
static char *g_sim; /* pipeline over them, simulator source */
static char *g_ref; /* a finished run of g_sim, the reference */

/* ---- 1. names never choose paths ---------------------------------------------------------- */

static void site_ids_and_names_never_choose_paths(void **state)
{
    (void)state;
    const char *bad[] = {"../../../../escaped", "a/b", ".hidden", "-rf", "..", "x y", "id;rm"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *f = site_feature(bad[i], 25.40, -10.70, 300, NULL);
        char *cat = write_catalogue("bad-id.geojson", f);
        char *pl = write_pipeline("bad-id.yaml", "badid", cat, SIM_SOURCE, NULL);
        char *out = tu_path(g_dir, "out-bad-id"), *text;
        int rc = cli(&text, "run %s -o %s", pl, out);
        if (rc != 2 || !strstr(text, "site id"))
            fail_msg("id '%s': exit %d, want 2 naming the site id:\n%s", bad[i], rc, text);
        /* nothing written: not the escape, not even the output folder */
        char *esc = tu_path(g_dir, "escaped");
        assert_false(exists(esc));
        assert_false(exists(out));
        free(esc), free(text), free(out), free(pl), free(cat), free(f);
    }
    /* A pipeline name with ../ chooses the default output folder out/<name>: refused, and
     * nothing is written beside or above the working folder. */
    char *work = tu_path(g_dir, "work");
    mkdir(work, 0755);
    const char *names[] = {"../up", "a/../../b", "/abs"};
    for (size_t i = 0; i < 3; i++) {
        char *pl = write_pipeline("bad-name.yaml", names[i], g_cat, SIM_SOURCE, NULL), *text;
        char *cmd = pathf("cd %s && %s run %s", work, MW_CLI, pl);
        int rc = tu_run(cmd, &text);
        if (rc != 2 || !strstr(text, "pipeline name"))
            fail_msg("name '%s': exit %d, want 2:\n%s", names[i], rc, text);
        char *up = tu_path(g_dir, "up"), *o = tu_path(work, "out");
        assert_false(exists(up));
        assert_false(exists(o));
        free(up), free(o), free(cmd), free(text), free(pl);
    }
    /* A scene id from a STAC item names its chips in the datacube: refused, the scene reported,
     * the other scenes used, nothing written outside. */
    char *items = tu_path(g_dir, "bad-scene-ids");
    assert_int_equal(
        sh(NULL,
           "mkdir -p %s && cp -r %s/scenes/S2SIM_t1_* %s/ && cd %s && d=$(ls | head -1) && "
           "sed -i 's#\"id\": *\"S2SIM_[^\"]*\"#\"id\": \"../../../../escaped-scene\"#' "
           "$d/$d.json",
           items, g_ref, items, items),
        0);
    char *isrc = pathf("{type: local, path: %s}", items);
    char *ipl = write_pipeline("bad-scene-id.yaml", "badscene", g_cat, isrc, NULL), *itext;
    int irc = cli(&itext, "run %s -o %s/out-bad-scene-id", ipl, g_dir);
    if (irc != 1 || !strstr(itext, "scene id '../../../../escaped-scene'"))
        fail_msg("a scene id with ../: exit %d, want 1 naming it:\n%s", irc, itext);
    char *esc2 = tu_path(g_dir, "escaped-scene");
    char *esc3 = pathf("%s/../escaped-scene", g_dir);
    assert_false(exists(esc2));
    assert_false(exists(esc3));
    free(esc3), free(esc2), free(itext), free(ipl), free(isrc), free(items);
    /* A period name is part of map names too. */
    char *pl = write_pipeline("bad-period.yaml", "ok", g_cat, SIM_SOURCE, NULL);
    char *text = tu_read(pl, NULL);
    char *p = strstr(text, "\"2023\"");
    memcpy(p, "\"../2\"", 6);
    tu_write(pl, text);
    free(text);
    assert_int_equal(cli(&text, "run %s -o %s/out-bad-period", pl, g_dir), 2);
    assert_non_null(strstr(text, "period name"));
    free(text), free(pl), free(work);
}

/* ---- 2. user data is never deleted -------------------------------------------------------- */

static void user_files_beside_simulated_scenes_survive(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "out-userdata"), *text;
    assert_int_equal(cli(&text, "run %s -o %s -q", g_sim, out), 0);
    free(text);
    char *scenes = tu_path(out, "scenes");
    /* the user's own things beside the simulated scenes */
    char *mine = tu_path(scenes, "user.txt"), *sub = tu_path(scenes, "my-folder");
    tu_write(mine, "mine");
    mkdir(sub, 0755);
    char *subf = tu_path(sub, "keep.txt");
    tu_write(subf, "keep");
    char *other = tu_path(g_dir, "elsewhere"), *precious = tu_path(other, "precious.txt");
    mkdir(other, 0755);
    tu_write(precious, "precious");
    char *link = tu_path(scenes, "link");
    assert_int_equal(symlink(other, link), 0);
    /* a stray STAC item beside the simulated ones is not composited */
    assert_int_equal(sh(NULL,
                        "cp -r %s/$(ls %s | grep S2SIM | head -1) %s/stray && "
                        "sed -i 's/\"id\": *\"S2SIM_/\"id\": \"STRAY_/' %s/stray/*.json",
                        scenes, scenes, scenes, scenes),
                     0);
    /* other periods: the simulation is remade, and the scenes it no longer lists go */
    char *pl = write_pipeline("userdata.yaml", "userdata", g_cat, SIM_SOURCE, NULL);
    char *t = tu_read(pl, NULL);
    char *p = strstr(t, "2023-06-01");
    memcpy(p, "2023-06-11", 10);
    tu_write(pl, t);
    free(t);
    int rc = cli(&text, "run %s -o %s", pl, out);
    if (rc != 0) fail_msg("rerun exited %d:\n%s", rc, text);
    free(text);
    assert_true(tu_same_file(mine, mine) && exists(mine) && exists(subf) && exists(precious));
    char *got = tu_read(precious, NULL);
    assert_string_equal(got, "precious");
    free(got);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* the old monitoring scenes (other dates) are gone, the new ones are there */
    char *csv = tu_path(out, "indicators.csv"), *c = tu_read(csv, NULL);
    assert_null(strstr(c, "STRAY"));
    assert_non_null(strstr(c, ",2,0,")); /* two scenes per period, none failed */
    free(c), free(csv);
    /* OUT/scenes itself a link to someone's folder: their file stays */
    char *out2 = tu_path(g_dir, "out-scenelink"), *theirs = tu_path(g_dir, "theirs");
    mkdir(out2, 0755);
    mkdir(theirs, 0755);
    char *tf = tu_path(theirs, "their.txt"), *sl = tu_path(out2, "scenes");
    tu_write(tf, "theirs");
    assert_int_equal(symlink(theirs, sl), 0);
    assert_int_equal(cli(&text, "run %s -o %s -q", g_sim, out2), 0);
    free(text);
    assert_int_equal(cli(&text, "run %s -o %s -q", pl, out2), 0);
    free(text);
    assert_true(exists(tf));
    free(tf), free(sl), free(theirs), free(out2);
    free(link), free(precious), free(other), free(subf), free(sub), free(mine), free(scenes);
    free(pl), free(out);
}

/* ---- 3. a full disk keeps what was written -------------------------------------------------- */

static char *g_tmpfs;

/* A small file system of our own: a real disk that fills. Needs root (CI runs as root). */
static int mount_small_disk(const char *dir, long kb)
{
    mkdir(dir, 0755);
    char opt[64];
    snprintf(opt, sizeof opt, "size=%ldk", kb);
    return mount("tmpfs", dir, "tmpfs", 0, opt);
}

/* Leaves `free_kb` of the file system free by a filler file (0: full). */
static void fill_disk(const char *dir, long free_kb)
{
    char *f = tu_path(dir, "filler");
    remove(f);
    struct statvfs vs;
    statvfs(dir, &vs);
    long avail = (long)(vs.f_bavail * vs.f_frsize / 1024) - free_kb;
    FILE *fp = fopen(f, "wb");
    static char block[1024];
    for (long i = 0; fp && i < avail; i++)
        if (fwrite(block, 1, sizeof block, fp) != sizeof block) break;
    if (fp) fclose(fp);
    free(f);
}

static void full_disk_keeps_earlier_outputs(void **state)
{
    (void)state;
    char *disk = tu_path(g_dir, "disk");
    if (mount_small_disk(disk, 24 * 1024) != 0) {
        if (getenv("CI")) fail_msg("cannot mount a tmpfs (%s); CI runs as root", strerror(errno));
        skip();
    }
    g_tmpfs = disk;
    char *out = tu_path(disk, "out"), *text;
    /* scenes and datacube off the small disk: only the outputs are on it */
    char *pl = write_pipeline("disk.yaml", "disk", g_cat, SIM_SOURCE, NULL);
    char *t = tu_read(pl, NULL), *t2 = pathf("%soutputs: {datacube: %s/disk-tiles}\n", t, g_dir);
    tu_write(pl, t2);
    free(t), free(t2);
    char *scenes_src = tu_path(g_ref, "scenes");
    t = tu_read(pl, NULL);
    char *loc = pathf("{type: local, path: %s}", scenes_src);
    char *src = strstr(t, SIM_SOURCE);
    char *t3 = pathf("%.*s%s%s", (int)(src - t), t, loc, src + strlen(SIM_SOURCE));
    tu_write(pl, t3);
    free(t), free(t3), free(loc);
    int rc = cli(&text, "run %s -o %s", pl, out);
    if (rc != 0) fail_msg("first run exited %d:\n%s", rc, text);
    free(text);
    char *good = snapshot(out);
    /* The second run would write different numbers (another threshold). */
    t = tu_read(pl, NULL);
    t2 = pathf("%sthresholds: {forest_ndvi_min: 0.6}\n", t);
    tu_write(pl, t2);
    free(t), free(t2);
    /* A full disk, then space for a part of the outputs at several points: each run either
     * fails and leaves the earlier outputs exactly as they were, or completes whole. */
    long frees[10] = {0, 40, 300, 900, 2000, 100000};
    /* and at random points: 4 more levels drawn from MW_TEST_SEED (printed, to rerun one) */
    unsigned seed =
        getenv("MW_TEST_SEED") ? (unsigned)strtoul(getenv("MW_TEST_SEED"), NULL, 10) : 20261130u;
    fprintf(stderr, "full disk: random fill levels from MW_TEST_SEED=%u:", seed);
    for (int i = 6; i < 10; i++) {
        frees[i] = (long)(rand_r(&seed) % 2400);
        fprintf(stderr, " %ld kB", frees[i]);
    }
    fprintf(stderr, "\n");
    int failed = 0, completed = 0;
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) {
        fill_disk(disk, frees[i]);
        rc = cli(&text, "run %s -o %s", pl, out);
        char why[256];
        if (rc == 0) {
            completed++;
            if (!outputs_consistent(out, why, sizeof why))
                fail_msg("free %ld kB: exit 0 but %s", frees[i], why);
            free(good);
            good = snapshot(out);
        } else {
            failed++;
            if (!strstr(text, "disk") && !strstr(text, "No space") && !strstr(text, "space"))
                fprintf(stderr, "free %ld kB: exit %d:\n%s\n", frees[i], rc, text);
            char *now = snapshot(out);
            if (strcmp(now, good) != 0)
                fail_msg("free %ld kB: exit %d and the earlier outputs changed:\nbefore:\n%s\n"
                         "after:\n%s\n%s",
                         frees[i], rc, good, now, text);
            assert_true(outputs_consistent(out, why, sizeof why));
            free(now);
        }
        free(text);
    }
    fprintf(stderr, "full disk: %d run(s) failed cleanly, %d completed\n", failed, completed);
    assert_true(failed >= 2);
    assert_true(completed >= 1);
    /* index: a full disk never replaces a good map with a truncated one */
    char *first = NULL;
    sh(&first, "ls %s | grep S2SIM | head -1", scenes_src);
    first[strcspn(first, "\n")] = 0;
    char *red = pathf("%s/%s", scenes_src, first);
    free(first);
    char *ndvi = tu_path(disk, "ndvi.tif");
    fill_disk(disk, 100000);
    rc = cli(&text, "index ndvi --red %s/B04.tif --nir %s/B08.tif -o %s", red, red, ndvi);
    if (rc != 0) fail_msg("index exited %d:\n%s", rc, text);
    free(text);
    char *sha = mw_sha256_file(ndvi);
    fill_disk(disk, 0);
    rc = cli(&text, "index ndvi --red %s/B04.tif --nir %s/B08.tif -o %s --compress none", red, red,
             ndvi);
    assert_int_not_equal(rc, 0);
    char *sha2 = mw_sha256_file(ndvi);
    assert_string_equal(sha, sha2);
    free(text), free(sha), free(sha2), free(ndvi), free(red);
    free(good), free(scenes_src), free(pl), free(out);
    umount(disk);
    g_tmpfs = NULL;
    free(disk);
}

/* ---- 4. outputs never replace inputs or devices -------------------------------------------- */

static void index_output_never_replaces_an_input(void **state)
{
    (void)state;
    char *scenes = tu_path(g_ref, "scenes"), *first = NULL;
    sh(&first, "ls %s | grep S2SIM | head -1", scenes);
    first[strcspn(first, "\n")] = 0;
    char *red = pathf("%s/%s/B04.tif", scenes, first), *nir = pathf("%s/%s/B08.tif", scenes, first);
    char *copy = tu_path(g_dir, "red-copy.tif");
    sh(NULL, "cp %s %s", red, copy);
    char *sha = mw_sha256_file(copy), *text;
    /* the output is the input, by its own name, by a link, and by a relative path */
    char *alias = tu_path(g_dir, "alias.tif");
    assert_int_equal(symlink(copy, alias), 0);
    const char *outs[] = {copy, alias};
    for (int i = 0; i < 2; i++) {
        int rc = cli(&text, "index ndvi --red %s --nir %s -o %s", copy, nir, outs[i]);
        if (rc != 2) fail_msg("-o %s: exit %d, want 2:\n%s", outs[i], rc, text);
        free(text);
        char *now = mw_sha256_file(copy);
        assert_string_equal(now, sha);
        free(now);
    }
    /* a pipe and a folder are not regular files: refused, left as they are */
    char *fifo = tu_path(g_dir, "a-fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    int rc = cli(&text, "index ndvi --red %s --nir %s -o %s", red, nir, fifo);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "not a regular file") ? text : strstr(text, "a pipe"));
    free(text);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    rc = cli(&text, "index ndvi --red %s --nir %s -o %s", red, nir, g_dir);
    assert_int_equal(rc, 2);
    free(text);
    /* the STAC item given with --item is an input too */
    char *item = pathf("%s/%s/%s.json", scenes, first, first);
    char *item_copy = tu_path(g_dir, "item-copy.json");
    sh(NULL, "cp %s %s && sed -i 's#\"\\./#\"%s/%s/#g' %s", item, item_copy, scenes, first,
       item_copy);
    char *isha = mw_sha256_file(item_copy);
    rc = cli(&text, "index ndvi --item %s -o %s", item_copy, item_copy);
    assert_int_equal(rc, 2);
    char *isha2 = mw_sha256_file(item_copy);
    assert_string_equal(isha, isha2);
    free(text), free(isha), free(isha2), free(item), free(item_copy);
    /* a band number past any file */
    rc = cli(&text, "index ndvi --red %s:99999999999 --nir %s -o %s/x.tif", red, nir, g_dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "band number"));
    free(text);
    free(fifo), free(alias), free(sha), free(copy), free(red), free(nir), free(first);
    free(scenes);
}

/* ---- 7. hangs: loops, stalls, blocking hrefs, huge rasters, disjoint bands ------------------- */

static void scene_folder_link_loops_end_and_count_once(void **state)
{
    (void)state;
    char *src = tu_path(g_dir, "loops");
    char *cmd =
        pathf("cp -r %s/scenes %s && cd %s && ln -s . a && ln -s . b && ln -s ../loops c && "
              "ln -s . d && mkdir -p deep && cd deep && ln -s .. e",
              g_ref, src, src);
    assert_int_equal(tu_run(cmd, NULL), 0);
    free(cmd);
    char *s = pathf("{type: local, path: %s}", src);
    char *pl = write_pipeline("loops.yaml", "loops", g_cat, s, NULL);
    char *out = tu_path(g_dir, "out-loops"), *text;
    double t0 = now_s();
    int rc = cli(&text, "run %s -o %s", pl, out);
    double dt = now_s() - t0;
    if (rc != 0) fail_msg("exit %d:\n%s", rc, text);
    fprintf(stderr, "scene folder with link loops: %.1f s\n", dt);
    assert_true(dt < 60);
    /* each scene counted once: the same figures as the reference */
    char *a = tu_path(out, "indicators.csv"), *b = tu_path(g_ref, "indicators.csv");
    assert_true(tu_same_file(a, b));
    free(a), free(b), free(text), free(out), free(pl), free(s), free(src);
}

static void duplicate_scenes_are_used_once(void **state)
{
    (void)state;
    /* the same scenes in two folders and through a link: composited once, in any thread count */
    char *src = tu_path(g_dir, "dups");
    char *cmd = pathf("mkdir -p %s && cp -r %s/scenes %s/a && cp -r %s/scenes %s/b && "
                      "ln -s a %s/c",
                      src, g_ref, src, g_ref, src, src);
    assert_int_equal(tu_run(cmd, NULL), 0);
    free(cmd);
    char *s = pathf("{type: local, path: %s}", src);
    char *pl = write_pipeline("dups.yaml", "dups", g_cat, s, NULL);
    for (int threads = 1; threads <= 2; threads++) {
        char *out = pathf("%s/out-dups-%d", g_dir, threads), *text;
        int rc = cli(&text, "run %s -o %s --threads %d", pl, out, threads);
        if (rc != 0) fail_msg("exit %d:\n%s", rc, text);
        char *a = tu_path(out, "indicators.csv"), *b = tu_path(g_ref, "indicators.csv");
        assert_true(tu_same_file(a, b));
        char *pp = tu_path(out, "provenance.json");
        json_t *prov = json_load_file(pp, 0, NULL);
        assert_true(json_array_size(json_object_get(prov, "duplicate_scenes")) >= 8);
        json_decref(prov);
        free(pp), free(a), free(b), free(text), free(out);
    }
    free(pl), free(s), free(src);
}

static void blocking_hrefs_and_huge_rasters_are_refused(void **state)
{
    (void)state;
    /* an item whose band is /vsistdin/ (would block on the terminal) or a GDAL virtual path */
    char *src = tu_path(g_dir, "vsi");
    char *cmd = pathf("mkdir -p %s && cp -r %s/scenes/$(ls %s/scenes | grep S2SIM | head -1) %s/",
                      src, g_ref, g_ref, src);
    assert_int_equal(tu_run(cmd, NULL), 0);
    free(cmd);
    cmd = pathf("cd %s/S2SIM* && sed -i 's#\"\\./B04.tif\"#\"/vsistdin/\"#; "
                "s#\"\\./B08.tif\"#\"file:///vsicurl/http://127.0.0.1:9/x.tif\"#' *.json",
                src);
    assert_int_equal(tu_run(cmd, NULL), 0);
    free(cmd);
    char *s = pathf("{type: local, path: %s}", src);
    char *pl = write_pipeline("vsi.yaml", "vsi", g_cat, s, NULL);
    char *out = tu_path(g_dir, "out-vsi"), *text;
    double t0 = now_s();
    int rc = cli(&text, "run %s -o %s < /dev/zero", pl, out);
    assert_true(now_s() - t0 < 30);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "GDAL virtual file system"));
    free(text), free(out), free(pl), free(s), free(src);

    /* a band whose footprint covers the site at 1 cm pixels: 10^10 source pixels for the window,
     * refused at once instead of read for hours (a sparse GeoTIFF: no blocks on disk) */
    char *fine = tu_path(g_dir, "fine");
    mkdir(fine, 0755);
    char *tif = tu_path(fine, "B04.tif");
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "SPARSE_OK", "TRUE");
    co = CSLSetNameValue(co, "BIGTIFF", "YES");
    GDALDatasetH ds = GDALCreate(drv, tif, 120000, 120000, 1, GDT_UInt16, co);
    CSLDestroy(co);
    assert_non_null(ds);
    /* UTM 35S over the first tiny site (25.40 E, 10.70 S): 1.2 km at 1 cm */
    double gt[6] = {324000, 0.01, 0, 8817000, 0, -0.01};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 32735);
    char *wkt = NULL;
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
    for (const char *const *b =
             (const char *const[]){"B02", "B03", "B08", "B11", "B12", "SCL", NULL};
         *b; b++)
        sh(NULL, "ln -sf B04.tif %s/%s.tif", fine, *b);
    char *item = tu_path(fine, "fine.json");
    char *it = pathf(
        "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"FINE\",\"bbox\":[25.3,-10.8,"
        "25.5,-10.6],\"geometry\":null,\"properties\":{\"datetime\":\"2021-06-15T10:00:00Z\","
        "\"platform\":\"sentinel-2a\",\"s2:processing_baseline\":\"03.00\"},\"assets\":{"
        "\"blue\":{\"href\":\"./B02.tif\"},\"green\":{\"href\":\"./B03.tif\"},\"red\":{\"href\":"
        "\"./B04.tif\"},\"nir\":{\"href\":\"./B08.tif\"},\"swir16\":{\"href\":\"./B11.tif\"},"
        "\"swir22\":{\"href\":\"./B12.tif\"},\"scl\":{\"href\":\"./SCL.tif\"}}}");
    tu_write(item, it);
    free(it);
    s = pathf("{type: local, path: %s}", fine);
    pl = write_pipeline("fine.yaml", "fine", g_cat, s, NULL);
    out = tu_path(g_dir, "out-fine");
    t0 = now_s();
    rc = cli(&text, "run %s -o %s", pl, out);
    double dt = now_s() - t0;
    fprintf(stderr, "1 cm raster over the site: refused in %.1f s\n", dt);
    assert_true(dt < 60);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "far finer than the site grid"));
    free(text), free(out), free(pl), free(s), free(item), free(tif), free(fine);

    /* index over bands of two places far apart: refused, not a 33006 x 882428 raster */
    char *a = tu_path(g_dir, "place-a.tif"), *b = tu_path(g_dir, "place-b.tif");
    for (int k = 0; k < 2; k++) {
        ds = GDALCreate(drv, k ? b : a, 100, 100, 1, GDT_UInt16, NULL);
        double g2[6] = {k ? 9000000.0 : 300000.0, k ? 20.0 : 10.0, 0, 8000000, 0,
                        k ? -20.0 : -10.0};
        GDALSetGeoTransform(ds, g2);
        GDALClose(ds);
    }
    char *o = tu_path(g_dir, "apart.tif");
    t0 = now_s();
    rc = cli(&text, "index ndvi --red %s --nir %s -o %s", a, b, o);
    assert_true(now_s() - t0 < 20);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "cover different areas"));
    assert_false(exists(o));
    free(text), free(o), free(a), free(b);
}

/* ---- 5.-9. remote catalogues and servers ----------------------------------------------------- */

static http_server start_server(const char *tag, const char *const *extra, char **log)
{
    char *scenes = tu_path(g_ref, "scenes");
    char name[64];
    snprintf(name, sizeof name, "server-%s.jsonl", tag);
    *log = tu_path(g_dir, name);
    remove(*log);
    http_server h =
        http_server_start(MW_SOURCE_DIR "/tests/stac_test_server.py", scenes, *log, extra);
    free(scenes);
    if (h.pid > 0 && g_nservers < 16) g_servers[g_nservers++] = h.pid;
    if (h.port <= 0) fail_msg("the test HTTP server did not start (is python3 installed?)");
    return h;
}

static void stop_server(http_server *h)
{
    for (int i = 0; i < g_nservers; i++)
        if (g_servers[i] == h->pid) g_servers[i] = 0;
    http_server_stop(h);
}

static char *api_pipeline(const char *file, int port, const char *extra)
{
    char *src =
        pathf("{type: stac_api, url: \"http://127.0.0.1:%d\", collections: [sentinel-2-l2a], "
              "page_size: 3, timeout_s: 2, retries: 1, backoff_s: 0.05%s}",
              port, extra ? extra : "");
    char *pl = write_pipeline(file, "api", g_cat, src, NULL);
    free(src);
    return pl;
}

/* One STAC item of the reference scenes, each href replaced by prefix + its file name. */
static char *item_json(const char *id_suffix, const char *prefix)
{
    char *scenes = tu_path(g_ref, "scenes"), *first = NULL;
    sh(&first, "ls %s | grep S2SIM_t1 | head -1", scenes);
    first[strcspn(first, "\n")] = 0;
    char *ip = pathf("%s/%s/%s.json", scenes, first, first);
    json_t *it = json_load_file(ip, 0, NULL);
    const char *key;
    json_t *a;
    json_object_foreach(json_object_get(it, "assets"), key, a)
    {
        const char *h = json_string_value(json_object_get(a, "href"));
        char *nh = pathf("%s%s", prefix, h[0] == '.' ? h + 2 : h);
        json_object_set_new(a, "href", json_string(nh));
        free(nh);
    }
    char *id = pathf("%s%s", first, id_suffix);
    json_object_set_new(it, "id", json_string(id));
    char *out = json_dumps(it, JSON_COMPACT);
    json_decref(it);
    free(id), free(ip), free(first), free(scenes);
    return out;
}

static char *write_page(const char *name, const char *features, const char *next_href)
{
    char *f = tu_path(g_dir, name);
    char *links = next_href
                      ? pathf("[{\"rel\":\"next\",\"href\":\"%s\",\"method\":\"GET\"}]", next_href)
                      : strdup("[]");
    char *text = pathf("{\"type\":\"FeatureCollection\",\"features\":[%s],\"links\":%s}",
                       features ? features : "", links);
    tu_write(f, text);
    free(text), free(links);
    return f;
}

static int log_mentions(const char *log, const char *needle)
{
    char *t = tu_read(log, NULL);
    int hit = t && strstr(t, needle) != NULL;
    free(t);
    return hit;
}

static void remote_catalogue_speaks_only_http(void **state)
{
    (void)state;
    struct {
        const char *tag, *next, *want;
    } loops[] = {
        {"self", "http://127.0.0.1:{PORT}/search?page=1", "repeats page"},
        {"file", "file:///etc/passwd", "not an http(s) URL"},
        {"gopher", "gopher://127.0.0.1:{PORT}/_GOPHERPROBE", "not an http(s) URL"},
    };
    for (size_t i = 0; i < 3; i++) {
        char *page = write_page("page.json", NULL, loops[i].next), *log;
        const char *extra[] = {"--page", page, NULL};
        http_server h = start_server(loops[i].tag, extra, &log);
        char *pl = api_pipeline("loop.yaml", h.port, NULL), *text;
        double t0 = now_s();
        int rc = cli(&text, "run %s -o %s/out-next-%s", pl, g_dir, loops[i].tag);
        double dt = now_s() - t0;
        if (rc != 1 || !strstr(text, loops[i].want))
            fail_msg("next '%s': exit %d, want 1 and '%s':\n%s", loops[i].next, rc, loops[i].want,
                     text);
        assert_true(dt < 30);
        assert_false(log_mentions(log, "GOPHERPROBE"));
        if (i == 0) {
            http_log hl = http_log_read(log, NULL);
            fprintf(stderr, "a next link to itself: stopped after %d requests, %.1f s\n", hl.gets,
                    dt);
            assert_true(hl.gets <= 6); /* one repeat per site, not 1,364 a minute */
        }
        free(text), free(pl), free(log), free(page);
        stop_server(&h);
    }
    /* redirects: in a loop, and to file:// */
    const char *redirects[][2] = {{"http://127.0.0.1:{PORT}/search", "redirects"},
                                  {"file:///etc/passwd", "only http and https"}};
    for (int i = 0; i < 2; i++) {
        char *log;
        const char *extra[] = {"--redirect-search", redirects[i][0], NULL};
        http_server h = start_server("redirect", extra, &log);
        char *pl = api_pipeline("redirect.yaml", h.port, NULL), *text;
        int rc = cli(&text, "run %s -o %s/out-redirect", pl, g_dir);
        if (rc != 1 || !strstr(text, redirects[i][1]))
            fail_msg("redirect to %s: exit %d:\n%s", redirects[i][0], rc, text);
        free(text), free(pl), free(log);
        stop_server(&h);
    }
    /* items whose assets are gopher://, dict:// or local files: refused, nothing connects */
    char *g = item_json("_G", "gopher://127.0.0.1:{PORT}/_GOPHERPROBE/");
    char *d = item_json("_D", "dict://127.0.0.1:{PORT}/DICTPROBE/");
    char *l = item_json("_L", "/etc/");
    char *all = pathf("%s,%s,%s", g, d, l);
    char *page = write_page("assets.json", all, NULL), *log;
    const char *extra[] = {"--page", page, NULL};
    http_server h = start_server("assets", extra, &log);
    char *pl = api_pipeline("assets.yaml", h.port, NULL), *text;
    int rc = cli(&text, "run %s -o %s/out-assets", pl, g_dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "uses a scheme minewatch does not read"));
    assert_non_null(strstr(text, "local path in an item from a remote catalogue"));
    assert_false(log_mentions(log, "GOPHERPROBE"));
    assert_false(log_mentions(log, "DICTPROBE"));
    free(text), free(pl);
    /* the user may allow local files: then the local href is taken (and read) */
    pl = api_pipeline("assets-local.yaml", h.port, ", allow_local_assets: true");
    rc = cli(&text, "run %s -o %s/out-assets-local", pl, g_dir);
    assert_null(strstr(text, "local path in an item from a remote catalogue"));
    assert_non_null(strstr(text, "/etc/"));
    free(text), free(pl), free(log), free(page), free(all), free(g), free(d), free(l);
    stop_server(&h);
}

static void endless_answers_are_bounded(void **state)
{
    (void)state;
    char *log;
    const char *extra[] = {"--huge-search", NULL};
    http_server h = start_server("huge", extra, &log);
    char *pl = api_pipeline("huge.yaml", h.port, ", max_response_mb: 16"), *text;
    char *cmd = pathf("%s run %s -o %s/out-huge", MW_CLI, pl, g_dir);
    long peak = 0;
    double t0 = now_s();
    int rc = run_measured(cmd, &peak, &text);
    fprintf(stderr, "a 2 GiB search answer: exit %d after %.1f s, peak RSS %ld MB\n", rc,
            now_s() - t0, peak);
    if (rc != 1 || !strstr(text, "larger than 16 MB")) fail_msg("exit %d:\n%s", rc, text);
    assert_true(peak < 200);
    free(text), free(cmd), free(pl), free(log);
    stop_server(&h);
}

static void stalled_reset_and_huge_assets_fail_their_scene(void **state)
{
    (void)state;
    /* a local catalogue whose items name URLs: a stall, a reset, gigabytes, each one scene */
    char *scenes = tu_path(g_ref, "scenes"), *ids = NULL;
    sh(&ids, "ls %s | grep S2SIM_t1", scenes);
    char id[4][64];
    assert_int_equal(sscanf(ids, "%63s %63s %63s %63s", id[0], id[1], id[2], id[3]), 4);
    free(ids);
    char stall[128], reset[128], huge[128];
    snprintf(stall, sizeof stall, "/%s/B04.tif", id[0]);
    snprintf(reset, sizeof reset, "/%s/B08.tif", id[1]);
    snprintf(huge, sizeof huge, "/%s/SCL.tif", id[2]);
    char *log;
    const char *extra[] = {"--stall", stall,         "--stall-s", "120", "--reset",
                           reset,     "--huge-file", huge,        NULL};
    http_server h = start_server("assets-faults", extra, &log);
    char *local = tu_path(g_dir, "remote-items");
    sh(NULL,
       "mkdir -p %s && cp -r %s/S2SIM_t1_* %s/ && cd %s && for d in S2SIM_*; do "
       "sed -i \"s#\\\"\\./#\\\"http://127.0.0.1:%d/$d/#g\" $d/$d.json; rm -f $d/*.tif; done",
       local, scenes, local, local, h.port);
    char *src = pathf("{type: local, path: %s, timeout_s: 1, retries: 0}", local);
    char *cat = pathf("%s", g_cat);
    char *pl = write_pipeline("faults.yaml", "faults", cat, src, NULL), *text;
    char *cmd = pathf("%s run %s -o %s/out-asset-faults", MW_CLI, pl, g_dir);
    long peak = 0;
    double t0 = now_s();
    int rc = run_measured(cmd, &peak, &text);
    double dt = now_s() - t0;
    fprintf(stderr, "a stalled, a reset and a 2 GiB asset: exit %d after %.1f s, peak %ld MB\n", rc,
            dt, peak);
    assert_int_equal(rc, 1);
    for (int i = 0; i < 3; i++)
        if (!strstr(text, id[i])) fail_msg("the report does not name %s:\n%s", id[i], text);
    assert_non_null(strstr(text, "more than the"));
    assert_true(dt < 60);
    assert_true(peak < 200 || UNDER_ASAN); /* a range read receives what it asked for, no more */
    free(cmd), free(text), free(pl), free(cat), free(src), free(local), free(log), free(scenes);
    stop_server(&h);
}

static void presigned_urls_keep_their_signature_out_of_everything(void **state)
{
    (void)state;
    char *log;
    const char *extra[] = {"--require-query", "X-Amz-Signature=SECRETSIG4711", NULL};
    http_server h = start_server("presigned", extra, &log);
    char *scenes = tu_path(g_ref, "scenes"), *local = tu_path(g_dir, "presigned-items");
    sh(NULL,
       "mkdir -p %s && cp -r %s/S2SIM_* %s/ && cd %s && for d in S2SIM_*; do sed -i "
       "\"s#\\\"\\./\\([A-Z0-9]*\\.tif\\)\\\"#\\\"http://127.0.0.1:%d/$d/\\1?X-Amz-Algorithm="
       "AWS4-HMAC-SHA256\\&X-Amz-Signature=SECRETSIG4711\\\"#g\" $d/$d.json; rm -f $d/*.tif; "
       "done",
       local, scenes, local, local, h.port);
    char *src = pathf("{type: local, path: %s, timeout_s: 5}", local);
    char *pl = write_pipeline("presigned.yaml", "presigned", g_cat, src, NULL), *text;
    char *out = tu_path(g_dir, "out-presigned");
    int rc = cli(&text, "run %s -o %s", pl, out);
    if (rc != 0) fail_msg("presigned run exited %d:\n%s", rc, text);
    assert_null(strstr(text, "SECRETSIG"));
    free(text);
    /* the reads carried it, and it is in no output, chip or tag */
    assert_true(log_mentions(log, "SECRETSIG4711"));
    char *a = tu_path(out, "indicators.csv"), *b = tu_path(g_ref, "indicators.csv");
    assert_true(tu_same_file(a, b));
    char *grep = NULL;
    sh(&grep,
       "grep -rl SECRETSIG %s; for f in $(find %s -name '*.tif'); do gdalinfo $f | grep -l "
       "SECRETSIG; done",
       out, out);
    if (*grep) fail_msg("the signature leaked into: %s", grep);
    free(grep);
    /* and a failing read names the file, not its signature */
    stop_server(&h);
    free(log);
    const char *extra2[] = {"--fail-500", "B04.tif", NULL};
    h = start_server("presigned-500", extra2, &log);
    sh(NULL, "cd %s && sed -i 's#127.0.0.1:[0-9]*/#127.0.0.1:%d/#g' */*.json", local, h.port);
    rc = cli(&text, "run %s -o %s-500", pl, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "B04.tif"));
    assert_null(strstr(text, "SECRETSIG"));
    char *prov = pathf("%s-500/provenance.json", out), *pt = tu_read(prov, NULL);
    assert_null(strstr(pt, "SECRETSIG"));
    free(pt), free(prov), free(text), free(a), free(b), free(out), free(pl), free(src);
    free(local), free(scenes), free(log);
    stop_server(&h);
}

/* ---- 8. --mem is a bound ----------------------------------------------------------------------
 */

static void memory_budget_holds(void **state)
{
    (void)state;
    /* a legal 190 km polygon at 10 m, and a small site with a 50 km buffer: refused with the size
     * they need, never run past the budget */
    char *cat = write_catalogue(
        "huge-site.geojson",
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"big\",\"name\":\"big\",\"kind\":\"mine\"},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[24.5,-11.5],[26.2,-11.5],[26.2,"
        "-9.8],[24.5,-9.8],[24.5,-11.5]]]}}");
    char *pl =
        write_pipeline("huge-site.yaml", "big", cat, "{type: local, path: /nonexistent}", NULL);
    char *scenes = tu_path(g_ref, "scenes");
    char *t = tu_read(pl, NULL), *src = pathf("{type: local, path: %s}", scenes);
    char *p = strstr(t, "{type: local, path: /nonexistent}");
    char *t2 =
        pathf("%.*s%s%s", (int)(p - t), t, src, p + strlen("{type: local, path: /nonexistent}"));
    tu_write(pl, t2);
    free(t), free(t2);
    char *buf = write_pipeline("huge-buffer.yaml", "buf", g_cat, src, NULL);
    t = tu_read(buf, NULL);
    p = strstr(t, "buffer_m: 100");
    t2 = pathf("%.*sbuffer_m: 50000%s", (int)(p - t), t, p + strlen("buffer_m: 100"));
    tu_write(buf, t2);
    free(t), free(t2);
    const char *pls[] = {pl, buf};
    const long mems[] = {64, 256};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++) {
            char *cmd = pathf("%s run %s -o %s/out-mem-%d-%ld --mem %ld", MW_CLI, pls[i], g_dir, i,
                              mems[k], mems[k]),
                 *text;
            long peak = 0;
            int rc = run_measured(cmd, &peak, &text);
            fprintf(stderr, "%s with --mem %ld: exit %d, peak RSS %ld MB\n",
                    i ? "a 50 km buffer" : "a 190 km site", mems[k], rc, peak);
            if (rc != 1 || !strstr(text, "needs about"))
                fail_msg("want exit 1 and the size needed:\n%s", text);
            assert_true(peak <= mems[k] || UNDER_ASAN);
            free(text), free(cmd);
        }
    /* a site that fits runs, and stays under its budget (under ASan, whose own memory counts
     * in the resident set, the budget is larger and only the run is checked) */
    const long fits = UNDER_ASAN ? 512 : 128;
    char *cmd = pathf("%s run %s -o %s/out-mem-fits --mem %ld", MW_CLI, g_sim, g_dir, fits), *text;
    long peak = 0;
    int rc = run_measured(cmd, &peak, &text);
    fprintf(stderr, "the tiny sites with --mem %ld: exit %d, peak RSS %ld MB\n", fits, rc, peak);
    if (rc != 0) fail_msg("exit %d:\n%s", rc, text);
    assert_true(peak <= fits || UNDER_ASAN);
    free(text), free(cmd), free(buf), free(src), free(scenes), free(pl), free(cat);
}

/* ---- 10./11. one run at a time; a kill at any moment leaves one run's outputs whole --------- */

static void second_run_into_a_folder_is_refused(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "out-lock");
    char *cmd = pathf("%s run %s -o %s -q > /dev/null 2>&1 & echo $!", MW_CLI, g_sim, out);
    char *pid_s = NULL;
    tu_run(cmd, &pid_s);
    pid_t pid = (pid_t)atol(pid_s);
    /* wait until the first run holds the lock */
    char *lock = pathf("%s/.minewatch/lock", out);
    for (int i = 0; i < 200 && !exists(lock); i++)
        usleep(20000);
    char *text;
    int rc = cli(&text, "run %s -o %s", g_sim, out);
    if (rc != 2 || !strstr(text, "in use by another minewatch run"))
        fail_msg("second run: exit %d:\n%s", rc, text);
    free(text);
    for (int i = 0; i < 1500 && kill(pid, 0) == 0; i++)
        usleep(100000);
    char why[256];
    assert_true(outputs_consistent(out, why, sizeof why));
    free(lock), free(pid_s), free(cmd), free(out);
}

static void killed_runs_leave_one_run_whole(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "out-kill"), *text;
    assert_int_equal(sh(NULL, "cp -r %s %s && rm -rf %s/.minewatch", g_ref, out, out), 0);
    /* how long a run takes once its chips are in the datacube, as those below */
    char *pl = write_pipeline("kill.yaml", "kill", g_cat, SIM_SOURCE, NULL);
    char *timing = tu_path(g_dir, "out-kill-timing");
    assert_int_equal(cli(NULL, "run %s -o %s -q", pl, timing), 0);
    double t0 = now_s();
    assert_int_equal(cli(NULL, "run %s -o %s -q", pl, timing), 0);
    double full = now_s() - t0;
    unsigned seed = 12345;
    int kills = 0, in_commit = 0;
    for (int i = 0; i < 10; i++) {
        /* each run writes other numbers (another threshold): a mixture of two would show */
        free(pl);
        char extra[64];
        snprintf(extra, sizeof extra, "thresholds: {forest_ndvi_min: %.2f}\n", 0.60 + 0.01 * i);
        pl = write_pipeline("kill.yaml", "kill", g_cat, SIM_SOURCE, extra);
        double at = full * (0.02 + 0.98 * (rand_r(&seed) / (double)RAND_MAX));
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1), dup2(devnull, 2);
            execl(MW_CLI, MW_CLI, "run", pl, "-o", out, "-q", (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(at * 1e6));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        kills += WIFSIGNALED(st);
        char why[256];
        int c = outputs_consistent(out, why, sizeof why);
        if (!c) fail_msg("killed after %.2f s of %.2f: %s", at, full, why);
        in_commit += c == 2;
    }
    fprintf(stderr,
            "killed %d of 10 runs at random moments (a run takes %.2f s); the folder always held "
            "one run whole, or was marked as being committed (%d)\n",
            kills, full, in_commit);
    assert_true(kills >= 5);
    /* the run after the kills completes, and equals an uninterrupted run byte for byte */
    int rc = cli(&text, "run %s -o %s", pl, out);
    if (rc != 0) fail_msg("resumed run exited %d:\n%s", rc, text);
    free(text);
    rc = cli(&text, "run %s -o %s", pl, timing);
    free(text);
    char *a = tu_path(out, "indicators.csv"), *b = tu_path(timing, "indicators.csv");
    assert_true(tu_same_file(a, b));
    char *ls = NULL;
    sh(&ls, "ls -A %s/.minewatch", out);
    assert_null(strstr(ls, "staging")); /* nothing left behind */
    free(ls), free(a), free(b), free(timing), free(out), free(pl);
}

/* A kill in the middle of the commit itself (fault injection): the journal marks the folder, and
 * the next run first completes that commit, then writes its own. */
static void kill_during_commit_rolls_forward(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "out-commitkill"), *text;
    assert_int_equal(sh(NULL, "cp -r %s %s && rm -rf %s/.minewatch", g_ref, out, out), 0);
    char *pl = write_pipeline("commitkill.yaml", "commitkill", g_cat, SIM_SOURCE,
                              "thresholds: {forest_ndvi_min: 0.62}\n");
    char *killed = tu_path(g_dir, "out-commitkill-ref");
    assert_int_equal(cli(NULL, "run %s -o %s -q", pl, killed), 0); /* what the killed run writes */
    int rc = sh(&text, "MW_FAULT_KILL_AFTER_COMMITTED=5 %s run %s -o %s -q", MW_CLI, pl, out);
    assert_int_not_equal(rc, 0);
    free(text);
    char why[256];
    assert_int_equal(outputs_consistent(out, why, sizeof why), 2); /* marked: being committed */
    /* `change` (any command writing the folder) completes the commit before its own work */
    rc = cli(&text, "change %s -o %s", pl, out);
    if (rc != 0) fail_msg("change after the kill exited %d:\n%s", rc, text);
    assert_non_null(strstr(text, "interrupted while committing"));
    free(text);
    /* the killed run's outputs, whole: its indicators and every file its provenance lists */
    assert_int_equal(outputs_consistent(out, why, sizeof why), 1);
    char *a = tu_path(out, "indicators.csv"), *b = tu_path(killed, "indicators.csv");
    assert_true(tu_same_file(a, b));
    free(a), free(b), free(killed), free(pl), free(out);
}

/* ---- 12. the smaller cases ------------------------------------------------------------------ */

static void catalogue_geometry_bounds(void **state)
{
    (void)state;
    struct {
        const char *feature, *want;
    } cases[] = {
        {"{\"type\":\"Feature\",\"properties\":{\"id\":\"globe\",\"name\":\"g\",\"kind\":\"mine\"},"
         "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[-179.9,-80],[179.9,-80],[179.9,"
         "80],[-179.9,80],[-179.9,-80]]]}}",
         "spans"},
        {"{\"type\":\"Feature\",\"properties\":{\"id\":\"lon400\",\"name\":\"g\",\"kind\":"
         "\"mine\",\"radius_m\":100},\"geometry\":{\"type\":\"Point\",\"coordinates\":[400,10]}}",
         "outside longitude"},
        {"{\"type\":\"Feature\",\"properties\":{\"id\":\"lat95\",\"name\":\"g\",\"kind\":\"mine\"},"
         "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[10,80],[10.1,80],[10.1,95],[10,95],"
         "[10,80]]]}}",
         "outside longitude"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *cat = write_catalogue("geom.geojson", cases[i].feature), *text;
        int rc = cli(&text, "sites %s", cat);
        if (rc != 2 || !strstr(text, cases[i].want))
            fail_msg("case %zu: exit %d, want 2 and '%s':\n%s", i, rc, cases[i].want, text);
        free(text), free(cat);
    }
    /* 100,000 sites list in seconds, not a minute */
    char *big = tu_path(g_dir, "many.geojson");
    FILE *f = fopen(big, "w");
    fputs("{\"type\":\"FeatureCollection\",\"features\":[", f);
    for (int i = 0; i < 100000; i++)
        fprintf(f,
                "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"s%d\",\"name\":\"n\",\"kind\":"
                "\"mine\",\"radius_m\":100},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.4f,"
                "%.4f]}}",
                i ? "," : "", i, -170 + (i % 3400) * 0.1, -60 + (i / 3400) * 0.1);
    fputs("]}", f);
    fclose(f);
    double t0 = now_s();
    char *text;
    int rc = cli(&text, "sites %s -q", big);
    double dt = now_s() - t0;
    fprintf(stderr, "sites over 100,000 points: %.1f s\n", dt);
    assert_int_equal(rc, 0);
    assert_true(dt < 30);
    free(text), free(big);
}

static void pipeline_file_bounds(void **state)
{
    (void)state;
    /* nested 100,000 deep: refused at once */
    char *deep = tu_path(g_dir, "deep.yaml");
    FILE *f = fopen(deep, "w");
    fputs("name: deep\nx: ", f);
    for (int i = 0; i < 100000; i++)
        fputc('[', f);
    for (int i = 0; i < 100000; i++)
        fputc(']', f);
    fputc('\n', f);
    fclose(f);
    double t0 = now_s();
    char *text;
    int rc = cli(&text, "run %s -o %s/out-deep", deep, g_dir);
    assert_true(now_s() - t0 < 10);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(text, "nested more than"));
    free(text), free(deep);
    /* a reader error (invalid UTF-8 on line 3) says where */
    char *bad = tu_path(g_dir, "utf8.yaml");
    tu_write(bad, "name: x\nsites: {catalogue: a}\nsource: \"\xff\xfe\"\n");
    rc = cli(&text, "run %s", bad);
    assert_int_equal(rc, 2);
    char *want = pathf("%s:3:", bad);
    if (!strstr(text, want)) fail_msg("want '%s' in:\n%s", want, text);
    free(want), free(text), free(bad);
    /* a 3 MB value is not echoed whole (an unknown band name: the message quotes it) */
    char *huge = write_pipeline("hugevalue.yaml", "x", g_cat, SIM_SOURCE, NULL);
    f = fopen(huge, "a");
    fputs("bands: [red, nir, ", f);
    for (int i = 0; i < 3 << 20; i++)
        fputc('k', f);
    fputs("]\n", f);
    fclose(f);
    rc = cli(&text, "run %s", huge);
    assert_int_equal(rc, 2);
    fprintf(stderr, "a 3 MB band name: %zu bytes of message\n", strlen(text));
    assert_true(strlen(text) < 16384);
    assert_non_null(strstr(text, "bytes not shown"));
    want = pathf("%s:8:", huge);
    if (!strstr(text, want)) fail_msg("want '%s' in:\n%s", want, text);
    free(want), free(text), free(huge);
}

static void long_output_paths_and_csv_formulas(void **state)
{
    (void)state;
    /* a long -o: map names are whole, none overwrites another */
    char *longdir = strdup(g_dir);
    for (int i = 0; i < 6; i++) {
        char *n = pathf("%s/%s", longdir,
                        "a-rather-long-folder-name-to-push-paths-past-512-bytes"
                        "-of-text-in-total-aaaaaaaaaaaaaaaa");
        free(longdir);
        longdir = n;
    }
    char *text;
    int rc = cli(&text, "run %s -o %s -q", g_sim, longdir);
    if (rc != 0) fail_msg("exit %d:\n%s", rc, text);
    free(text);
    assert_true(strlen(longdir) > 512);
    char *n = NULL, *m = NULL;
    sh(&n, "ls %s/maps | wc -l", longdir);
    sh(&m, "ls %s/maps | wc -l", g_ref);
    assert_string_equal(n, m);
    free(n), free(m), free(longdir);
    /* a site name a spreadsheet would run as a formula */
    char *f = site_feature("formula", 25.40, -10.70, 300, NULL);
    char *g = strstr(f, "\"site formula\"");
    char *f2 = pathf("%.*s\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\"%s", (int)(g - f), f,
                     g + strlen("\"site formula\""));
    char *cat = write_catalogue("formula.geojson", f2);
    char *pl = write_pipeline("formula.yaml", "formula", cat, SIM_SOURCE, NULL);
    char *out = tu_path(g_dir, "out-formula");
    rc = cli(&text, "run %s -o %s -q", pl, out);
    if (rc != 0) fail_msg("exit %d:\n%s", rc, text);
    free(text);
    char *csv = tu_path(out, "indicators.csv"), *c = tu_read(csv, NULL);
    if (!strstr(c, ",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","))
        fail_msg("the formula is not neutralised:\n%s", c);
    free(c), free(csv), free(out), free(pl), free(cat), free(f2), free(f);
}

static void stale_partial_files_are_cleared(void **state)
{
    (void)state;
    char *out = tu_path(g_dir, "out-stale"), *text;
    assert_int_equal(cli(&text, "run %s -o %s -q", g_sim, out), 0);
    free(text);
    char *cube = pathf("%s/tiles/t1", out);
    char *stale = pathf("%s/20210615_S2_X.part-999999-3.tif", cube);
    tu_write(stale, "left by a killed run");
    char *staging = pathf("%s/.minewatch/staging-999999", out);
    mkdir(staging, 0755);
    assert_int_equal(cli(&text, "run %s -o %s -q", g_sim, out), 0);
    free(text);
    assert_false(exists(stale));
    assert_false(exists(staging));
    /* an empty scene folder: a clear message, no undefined behaviour (UBSan build) */
    char *empty = tu_path(g_dir, "empty-scenes");
    mkdir(empty, 0755);
    char *s = pathf("{type: local, path: %s}", empty);
    char *pl = write_pipeline("empty.yaml", "empty", g_cat, s, NULL);
    int rc = cli(&text, "run %s -o %s/out-empty", pl, g_dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "no usable scene"));
    /* and what was found, and where to look */
    assert_non_null(strstr(text, "Of the 0 scene(s) catalogued, 0 fall in these dates"));
    assert_non_null(strstr(text, "none (before) and none (after)"));
    free(text), free(pl), free(s), free(empty), free(staging), free(stale), free(cube), free(out);
}

/* ---- set-up --------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("hostile");
    char *f1 = site_feature("t1", 25.40, -10.70, 300, NULL);
    char *f2 = site_feature("t2", 25.43, -10.70, 300, NULL);
    char *both = pathf("%s,%s", f1, f2);
    g_cat = write_catalogue("tiny.geojson", both);
    free(f1), free(f2), free(both);
    g_sim = write_pipeline("tiny.yaml", "tiny", g_cat, SIM_SOURCE, NULL);
    g_ref = tu_path(g_dir, "ref");
    char *text;
    int rc = cli(&text, "run %s -o %s", g_sim, g_ref);
    if (rc != 0) fprintf(stderr, "reference run exited %d:\n%s\n", rc, text);
    free(text);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g_nservers; i++)
        if (g_servers[i] > 0) {
            kill(g_servers[i], SIGTERM);
            waitpid(g_servers[i], NULL, 0);
        }
    if (g_tmpfs) umount(g_tmpfs);
    tu_rmtree(g_dir);
    free(g_dir), free(g_cat), free(g_sim), free(g_ref);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(site_ids_and_names_never_choose_paths),
        cmocka_unit_test(user_files_beside_simulated_scenes_survive),
        cmocka_unit_test(full_disk_keeps_earlier_outputs),
        cmocka_unit_test(index_output_never_replaces_an_input),
        cmocka_unit_test(scene_folder_link_loops_end_and_count_once),
        cmocka_unit_test(duplicate_scenes_are_used_once),
        cmocka_unit_test(blocking_hrefs_and_huge_rasters_are_refused),
        cmocka_unit_test(remote_catalogue_speaks_only_http),
        cmocka_unit_test(endless_answers_are_bounded),
        cmocka_unit_test(stalled_reset_and_huge_assets_fail_their_scene),
        cmocka_unit_test(presigned_urls_keep_their_signature_out_of_everything),
        cmocka_unit_test(memory_budget_holds),
        cmocka_unit_test(second_run_into_a_folder_is_refused),
        cmocka_unit_test(killed_runs_leave_one_run_whole),
        cmocka_unit_test(kill_during_commit_rolls_forward),
        cmocka_unit_test(catalogue_geometry_bounds),
        cmocka_unit_test(pipeline_file_bounds),
        cmocka_unit_test(long_output_paths_and_csv_formulas),
        cmocka_unit_test(stale_partial_files_are_cleared),
    };
    /* MW_TEST_FILTER=name runs the tests whose name matches (a cmocka pattern) */
    if (getenv("MW_TEST_FILTER")) cmocka_set_test_filter(getenv("MW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
