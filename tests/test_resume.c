/* Resumable runs: a run killed at any stage (fault injection: MW_FAULT_KILL_AT, a SIGKILL as a
 * power cut or the OOM killer gives) never leaves outputs that look complete but are not, and
 * the run after it ends byte-identical to an uninterrupted run, redoing only the sites it had
 * not finished; a re-run redoes only the sites whose inputs changed. What is tested is the
 * resumption, not the size: three small sites, two periods, three scenes each. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "pipeline/provenance.h"
#include "test_util.h"

static char *g_dir, *g_pl, *g_scenes, *g_ref;

/* OpenMPI's plugins keep allocations to the end and are unloaded before LeakSanitizer can name
 * them: leak checks are off for the ranks (the same site code is leak-checked without MPI in the
 * tests above); every other sanitizer check stays on. No effect outside the sanitizer build. */
#define MPIRUN                                                                                     \
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 mpirun --allow-run-as-root --oversubscribe -np " \
    "3"

#define SITES                                                                                      \
    "{\"type\":\"FeatureCollection\",\"features\":["                                               \
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"km\",\"name\":\"mine\",\"kind\":\"mine\","     \
    "\"radius_m\":400},\"geometry\":{\"type\":\"Point\",\"coordinates\":[25.42,-10.73]}},"         \
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"gb\",\"name\":\"lithium\",\"kind\":\"mine\","  \
    "\"radius_m\":300},\"geometry\":{\"type\":\"Point\",\"coordinates\":[116.07,-33.86]}},"        \
    "{\"type\":\"Feature\",\"properties\":{\"id\":\"mo\",\"name\":\"smelter\",\"kind\":"           \
    "\"smelter\",\"radius_m\":350},\"geometry\":{\"type\":\"Point\",\"coordinates\":[122.16,"      \
    "-2.81]}}]}"

static int mw(char **out, const char *fmt, ...)
{
    char args[4096], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", MW_CLI, args);
    return tu_run(cmd, out);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp("resume");
    if (!g_dir) return -1;
    char *cat = tu_path(g_dir, "sites.geojson");
    tu_write(cat, SITES);
    g_scenes = tu_path(g_dir, "scenes");
    const char *common = "periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
                         "  monitoring:\n    - {name: \"2023\", start: 2023-06-01, end: "
                         "2023-09-30}\n"
                         "grid: {pixel_size_m: 20, buffer_m: 100}\n"
                         "outputs: {formats: [gpkg, csv, maps, stac]}\n";
    char text[4096];
    char *sim = tu_path(g_dir, "sim.yaml");
    snprintf(text, sizeof text,
             "name: resume\nsites: {catalogue: %s}\n"
             "source: {type: simulator, seed: 5, scenes_per_period: 3, cloud_cover: 0.1}\n%s",
             cat, common);
    tu_write(sim, text);
    g_pl = tu_path(g_dir, "resume.yaml");
    snprintf(text, sizeof text,
             "name: resume\nsites: {catalogue: %s}\n"
             "source: {type: local, path: %s}\n%s",
             cat, g_scenes, common);
    tu_write(g_pl, text);
    char *out = NULL;
    int rc = mw(&out, "simulate %s -o %s -q", sim, g_scenes);
    if (rc) fprintf(stderr, "simulate: %s\n", out);
    free(out);
    /* the uninterrupted run every other one must equal */
    g_ref = tu_path(g_dir, "ref");
    if (rc == 0) rc = mw(&out, "run %s -o %s --datacube %s/ref-cube -q", g_pl, g_ref, g_dir);
    if (rc) fprintf(stderr, "reference run: %s\n", out ? out : "");
    free(out);
    free(sim), free(cat);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir), free(g_pl), free(g_scenes), free(g_ref);
    return 0;
}

/* Every output file of the reference (indicators, GeoPackages, maps with their attribute
 * tables, STAC) is in dir with the same bytes, and dir has no other. */
static void same_as_reference(const char *dir, const char *what)
{
    static const char *const subs[] = {"", "maps", "stac"};
    int files = 0;
    for (int s = 0; s < 3; s++) {
        char *a = tu_path(g_ref, subs[s]), *b = tu_path(dir, subs[s]);
        DIR *d = opendir(a);
        if (!d) fail_msg("%s: no %s", what, a);
        for (struct dirent *e; (e = readdir(d));) {
            char *x = tu_path(a, e->d_name), *y = tu_path(b, e->d_name);
            struct stat st;
            if (e->d_name[0] != '.' && stat(x, &st) == 0 && S_ISREG(st.st_mode) &&
                strcmp(e->d_name, "provenance.json")) {
                if (!tu_same_file(x, y)) fail_msg("%s: %s differs from the reference", what, y);
                files++;
            }
            free(x), free(y);
        }
        closedir(d);
        d = opendir(b);
        for (struct dirent *e; d && (e = readdir(d));) {
            char *x = tu_path(a, e->d_name);
            if (e->d_name[0] != '.' && access(x, F_OK))
                fail_msg("%s: %s/%s is not in the reference", what, b, e->d_name);
            free(x);
        }
        if (d) closedir(d);
        free(a), free(b);
    }
    assert_true(files > 40);
}

/* What a killed run leaves never looks complete when it is not: either no provenance (and no
 * indicators), or every file provenance lists with the hash it gives, or the commit journal
 * that says files are still moving in. */
static void never_falsely_complete(const char *out, const char *what)
{
    char *jp = tu_path(out, ".minewatch/commit.json");
    const int journal = access(jp, F_OK) == 0;
    free(jp);
    if (journal) return;
    char *csv = tu_path(out, "indicators.csv");
    long checked;
    char *unlike = tu_outputs_unlike_provenance(out, "provenance.json", &checked);
    if (checked < 0 && access(csv, F_OK) == 0)
        fail_msg("%s: indicators.csv without provenance.json", what);
    if (unlike) fail_msg("%s: %s is not what provenance.json says", what, unlike);
    free(csv);
}

/* Killed at twelve points across the stages (scenes ingested, periods composited, a site's maps
 * written before its record, records committed, outputs staged, files half moved in), each into
 * a fresh folder; then resumed. The kills while scenes are ingested get a fresh datacube too; the
 * others share the reference's, whose chips they read as a re-run does. */
static void killed_anywhere_then_resumed(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        int sites_done; /* sites the resumed run must not redo */
    } kills[] = {
        {"MW_FAULT_KILL_AT=scene:1", 0},        {"MW_FAULT_KILL_AT=scene:8", 1},
        {"MW_FAULT_KILL_AT=scene:15", 2},       {"MW_FAULT_KILL_AT=period:2", 0},
        {"MW_FAULT_KILL_AT=period:5", 2},       {"MW_FAULT_KILL_AT=site:1", 0},
        {"MW_FAULT_KILL_AT=site:3", 2},         {"MW_FAULT_KILL_AT=record:1", 1},
        {"MW_FAULT_KILL_AT=record:3", 3},       {"MW_FAULT_KILL_AT=outputs:1", 3},
        {"MW_FAULT_KILL_AFTER_COMMITTED=1", 3}, {"MW_FAULT_KILL_AFTER_COMMITTED=30", 3},
    };
    const int n = (int)(sizeof kills / sizeof *kills);
    for (int k = 0; k < n; k++) {
        char name[32], *out;
        snprintf(name, sizeof name, "kill-%02d", k);
        char *dir = tu_path(g_dir, name), cmd[4096];
        char *cube = strstr(kills[k].env, "scene:") ? strdup(dir) : tu_path(g_dir, "ref");
        snprintf(cmd, sizeof cmd, "%s %s run %s -o %s --datacube %s-cube -q", kills[k].env, MW_CLI,
                 g_pl, dir, cube);
        const int rc = tu_run(cmd, &out);
        if (rc != 128 + 9)
            fail_msg("%s: the run was not killed (exit %d):\n%s", kills[k].env, rc, out);
        free(out);
        never_falsely_complete(dir, kills[k].env);
        int rc2 = mw(&out, "run %s -o %s --datacube %s-cube", g_pl, dir, cube);
        if (rc2) fail_msg("%s: the resumed run exited %d:\n%s", kills[k].env, rc2, out);
        const int reused = tu_count(out, "not redone");
        if (reused != kills[k].sites_done)
            fail_msg("%s: %d site(s) reused, want %d:\n%s", kills[k].env, reused,
                     kills[k].sites_done, out);
        free(out);
        same_as_reference(dir, kills[k].env);
        char *ls = NULL;
        snprintf(cmd, sizeof cmd, "ls -A %s/.minewatch %s/.minewatch/sites", dir, dir);
        tu_run(cmd, &ls);
        if (strstr(ls, "staging") || strstr(ls, ".part-"))
            fail_msg("%s: left behind:\n%s", kills[k].env, ls);
        free(ls), free(dir), free(cube);
    }
}

/* A re-run redoes only what changed: a scene that was missing comes back (one site redone, the
 * other two not), then nothing changes (none redone), then a threshold changes (all redone). */
static void rerun_redoes_only_what_changed(void **state)
{
    (void)state;
    char *dir = tu_path(g_dir, "rerun"), cmd[4096], *out;
    /* one of km's scenes out of the folder */
    snprintf(cmd, sizeof cmd, "mv %s/S2SIM_km_20230801 %s/aside", g_scenes, g_dir);
    assert_int_equal(tu_run(cmd, NULL), 0);
    int rc = mw(&out, "run %s -o %s --datacube %s/ref-cube", g_pl, dir, g_dir);
    snprintf(cmd, sizeof cmd, "mv %s/aside %s/S2SIM_km_20230801", g_dir, g_scenes);
    assert_int_equal(tu_run(cmd, NULL), 0);
    if (rc) fail_msg("run without the scene exited %d:\n%s", rc, out);
    free(out);
    char *a = tu_path(dir, "indicators.csv"), *b = tu_path(g_ref, "indicators.csv");
    assert_false(tu_same_file(a, b)); /* the scene mattered */
    rc = mw(&out, "run %s -o %s --datacube %s/ref-cube", g_pl, dir, g_dir);
    if (rc) fail_msg("re-run exited %d:\n%s", rc, out);
    assert_int_equal(tu_count(out, "not redone"), 2);
    assert_non_null(strstr(out, "site mo: done before"));
    assert_non_null(strstr(out, "site gb: done before"));
    free(out);
    same_as_reference(dir, "the re-run with the scene back");
    rc = mw(&out, "run %s -o %s --datacube %s/ref-cube", g_pl, dir, g_dir);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_count(out, "not redone"), 3);
    free(out);
    /* another threshold: another pipeline, every site redone */
    char *text = tu_read(g_pl, NULL), *pl2 = tu_path(g_dir, "resume2.yaml");
    char *t2 = malloc(strlen(text) + 64);
    sprintf(t2, "%sthresholds: {forest_ndvi_min: 0.65}\n", text);
    tu_write(pl2, t2);
    rc = mw(&out, "run %s -o %s --datacube %s/ref-cube", pl2, dir, g_dir);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_count(out, "not redone"), 0);
    free(out);
    free(t2), free(text), free(pl2), free(a), free(b), free(dir);
}

/* Shards for job arrays: 1/2 and 2/2 run apart (each its share of the sites, balanced by grid
 * size), merged into the reference's bytes; a merge with a shard missing, twice, or a site's
 * record gone is refused or names the site. */
static void shards_merged_equal_one_run(void **state)
{
    (void)state;
    char *s1 = tu_path(g_dir, "shard1"), *s2 = tu_path(g_dir, "shard2"),
         *m = tu_path(g_dir, "merged"), *out;
    int rc = mw(&out, "run %s --shard 1/2 -o %s --datacube %s/ref-cube -q", g_pl, s1, g_dir);
    if (rc) fail_msg("shard 1/2 exited %d:\n%s", rc, out);
    free(out);
    rc = mw(&out, "run %s --shard 2/2 -o %s --datacube %s/ref-cube -q", g_pl, s2, g_dir);
    if (rc) fail_msg("shard 2/2 exited %d:\n%s", rc, out);
    free(out);
    /* a balanced split: the largest site alone, the two smaller together */
    char *c1 = tu_path(s1, "indicators.csv"), *c2 = tu_path(s2, "indicators.csv");
    char *t1 = tu_read(c1, NULL), *t2 = tu_read(c2, NULL);
    assert_int_equal(tu_count(t1, "\nkm,"), 2);
    assert_int_equal(tu_count(t2, "\ngb,") + tu_count(t2, "\nmo,"), 4);
    free(t1), free(t2), free(c1), free(c2);
    rc = mw(&out, "merge %s %s -o %s -q", s2, s1, m);
    if (rc) fail_msg("merge exited %d:\n%s", rc, out);
    free(out);
    same_as_reference(m, "the merged shards");
    /* refused: a shard missing, a shard twice, not a shard */
    rc = mw(&out, "merge %s -o %s/m2 -q", s1, g_dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "split into 2 shards; 1 given"));
    free(out);
    rc = mw(&out, "merge %s %s -o %s/m2 -q", s1, s1, g_dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "given twice"));
    free(out);
    rc = mw(&out, "merge %s %s -o %s/m2 -q", g_ref, s1, g_dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "is not a shard's output"));
    free(out);
    /* a shard whose site record is gone: the merge names the site, exits 1 */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf %s/.minewatch/sites/km", s1);
    assert_int_equal(tu_run(cmd, NULL), 0);
    rc = mw(&out, "merge %s %s -o %s/m3 -q", s1, s2, g_dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "[merge] site km no shard folder has this site's record"));
    free(out);
    free(s1), free(s2), free(m);
}

/* Under MPI (OpenMPI's mpirun, 3 ranks on 2 cores: rank 0 hands out the sites, largest first,
 * to whichever rank is free, and writes the outputs): the reference's bytes. Then the process
 * computing one site dies (SIGKILL, as the OOM killer would) in the middle of it: that site is
 * reported with the reason, the other two finish, the job exits 1, and a run under mpirun again
 * redoes that site only and ends with the reference's bytes. */
static void mpi_ranks_equal_one_process(void **state)
{
    (void)state;
    if (access("/usr/bin/mpirun", X_OK)) fail_msg("mpirun is not installed (make deps)");
    char *dir = tu_path(g_dir, "mpi"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd, MPIRUN " %s run %s -o %s --datacube %s/ref-cube", MW_CLI, g_pl, dir,
             g_dir);
    int rc = tu_run(cmd, &out);
    if (rc) fail_msg("mpirun exited %d:\n%s", rc, out);
    /* the sites were computed by the two other ranks, none by rank 0 */
    assert_true(tu_count(out, "minewatch[1]: site ") + tu_count(out, "minewatch[2]: site ") >= 3);
    assert_true(tu_count(out, "minewatch[1]: site ") > 0 &&
                tu_count(out, "minewatch[2]: site ") > 0);
    assert_int_equal(tu_count(out, "minewatch[0]: site "), 0);
    free(out);
    same_as_reference(dir, "the MPI run");
    char *dir2 = tu_path(g_dir, "mpi-crash");
    snprintf(cmd, sizeof cmd,
             "MW_FAULT_KILL_AT=scene:2 MW_FAULT_ONCE_FILE=%s/crash-once " MPIRUN
             " %s run %s -o %s --datacube %s/ref-cube -q",
             g_dir, MW_CLI, g_pl, dir2, g_dir);
    rc = tu_run(cmd, &out);
    if (rc != 1) fail_msg("the job with a site's process killed exited %d, want 1:\n%s", rc, out);
    if (tu_count(out, "[dispatch] site ") != 1 || !strstr(out, "was killed by signal 9") ||
        tu_count(out, "problem(s)") != 1 || strstr(out, "overlap none of the sites"))
        fail_msg("want the one lost site reported with its reason, nothing else:\n%s", out);
    free(out);
    never_falsely_complete(dir2, "the MPI job with a site's process killed");
    snprintf(cmd, sizeof cmd, MPIRUN " %s run %s -o %s --datacube %s/ref-cube", MW_CLI, g_pl, dir2,
             g_dir);
    rc = tu_run(cmd, &out);
    if (rc) fail_msg("the resumed MPI run exited %d:\n%s", rc, out);
    if (tu_count(out, "not redone") != 2) fail_msg("want the 2 other sites reused:\n%s", out);
    free(out);
    same_as_reference(dir2, "the resumed MPI run");
    free(dir), free(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_anywhere_then_resumed),
        cmocka_unit_test(rerun_redoes_only_what_changed),
        cmocka_unit_test(shards_merged_equal_one_run),
        cmocka_unit_test(mpi_ranks_equal_one_process),
    };
    /* MW_TEST_FILTER=name runs the tests whose name matches (a cmocka pattern) */
    if (getenv("MW_TEST_FILTER")) cmocka_set_test_filter(getenv("MW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
