/* STAC API sources against a real HTTP server on loopback (tests/stac_test_server.py): paged
 * search, only the site window's blocks fetched, retries, and failures that skip one scene or
 * one site with a clear message while the rest goes on. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <gdal.h>
#include <jansson.h>

#include "minewatch/grid.h"
#include "minewatch/sim.h"
#include "minewatch/site.h"
#include "http_fixture.h"
#include "test_util.h"

#define AOI MW_SOURCE_DIR "/aoi/critical_mineral_sites.geojson"
static char *g_dir, *g_scenes;
static pid_t g_servers[16]; /* killed in teardown too: a failed assertion skips stop_server */
static int g_nservers;
static mw_period g_per[2];

typedef struct server {
    http_server h;
    int port;
    char *log;
} server;

/* Starts the test server with extra arguments; returns once it listens. */
static server start_server(const char *tag, const char *const *extra)
{
    server s = {{-1, 0, -1}, 0, NULL};
    char name[64];
    snprintf(name, sizeof name, "server-%s.jsonl", tag);
    s.log = tu_path(g_dir, name);
    remove(s.log);
    s.h = http_server_start(MW_SOURCE_DIR "/tests/stac_test_server.py", g_scenes, s.log, extra);
    if (s.h.pid > 0 && g_nservers < 16) g_servers[g_nservers++] = s.h.pid;
    if (s.h.port <= 0) fail_msg("the test HTTP server did not start (is python3 installed?)");
    s.port = s.h.port;
    return s;
}

static void stop_server(server *s)
{
    for (int i = 0; i < g_nservers; i++)
        if (g_servers[i] == s->h.pid) g_servers[i] = 0;
    http_server_stop(&s->h);
    free(s->log);
}

static char *write_pipeline(const char *name, const char *source)
{
    char *f = tu_path(g_dir, name);
    char text[4096];
    snprintf(text, sizeof text,
             "name: api\nsites: {catalogue: %s, ids: [cd-kamoto]}\nsource: %s\n"
             "periods:\n  baseline: {start: 2021-06-01, end: 2021-07-31}\n"
             "  monitoring: [{name: \"2023\", start: 2023-06-01, end: 2023-07-31}]\n"
             "grid: {pixel_size_m: 10, buffer_m: 300}\noutputs: {formats: [csv]}\n",
             AOI, source);
    tu_write(f, text);
    return f;
}

static char *api_source(int port, const char *extra)
{
    char *s = malloc(512);
    snprintf(s, 512,
             "{type: stac_api, url: \"http://127.0.0.1:%d\", collections: [sentinel-2-l2a], "
             "page_size: 2, "
             "max_cloud_cover: 100, timeout_s: 2, retries: 2, backoff_s: 0.05%s}",
             port, extra ? extra : "");
    return s;
}

static int run_cli(const char *pipeline, const char *out, char **text)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s run %s -o %s --threads 2", MW_CLI, pipeline, out);
    return tu_run(cmd, text);
}

static void paged_search_reads_only_the_window(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    server s = start_server("ok", none);
    char *src = api_source(s.port, NULL);
    char *pl = write_pipeline("api.yaml", src);
    char *out = tu_path(g_dir, "out-api"), *text;
    int rc = run_cli(pl, out, &text);
    if (rc != 0) fail_msg("run against the STAC API exited %d:\n%s", rc, text);
    free(text);
    /* The same scenes read from disk give the same indicators, byte for byte. */
    char local[1024];
    snprintf(local, sizeof local, "{type: local, path: %s}", g_scenes);
    char *pl2 = write_pipeline("local.yaml", local);
    char *out2 = tu_path(g_dir, "out-local");
    assert_int_equal(run_cli(pl2, out2, NULL), 0);
    char *a = tu_path(out, "indicators.csv"), *b = tu_path(out2, "indicators.csv");
    assert_true(tu_same_file(a, b));
    char *csv = tu_read(a, NULL);
    assert_non_null(strstr(csv, "cd-kamoto,"));
    assert_non_null(strstr(csv, ",3,0,")); /* three scenes per period, none failed */
    free(csv);
    /* 6 items at 2 per page: 3 pages, each one POST. */
    mw_site_catalog cat;
    assert_int_equal(mw_site_catalog_load(AOI, &cat), 0);
    mw_grid g;
    assert_int_equal(mw_grid_for_site(mw_site_catalog_find(&cat, "cd-kamoto"), 10, 300, 0, 0, &g),
                     0);
    char lst[4096];
    snprintf(lst, sizeof lst, "ls %s | head -1", g_scenes);
    char *first;
    tu_run(lst, &first);
    first[strcspn(first, "\n")] = 0;
    char suffix[256], tif[2048];
    snprintf(suffix, sizeof suffix, "/%s/B04.tif", first);
    snprintf(tif, sizeof tif, "%s/%s/B04.tif", g_scenes, first);
    http_log ls = http_log_read(s.log, suffix);
    assert_int_equal(ls.searches, 3);
    struct stat fst;
    assert_int_equal(stat(tif, &fst), 0);
    long fsize = (long)fst.st_size, wbytes = window_tile_bytes(tif, &g);
    assert_true(wbytes > 0);
    double ratio = (double)ls.bytes_for / (double)wbytes;
    fprintf(stderr,
            "B04 of %s: %ld bytes fetched for a window of %ld tile bytes (%.2fx), file %ld bytes "
            "(%.1f%%)\n",
            first, ls.bytes_for, wbytes, ratio, fsize, 100.0 * ls.bytes_for / fsize);
    assert_true(ls.bytes_for > 0);
    assert_true(ls.bytes_for <= 1.5 * wbytes + 32768);
    assert_true(ls.bytes_for < fsize / 3);
    free(first), free(a), free(b), free(out), free(out2), free(pl), free(pl2), free(src);
    mw_site_catalog_free(&cat);
    stop_server(&s);
}

static void search_retries_then_succeeds(void **state)
{
    (void)state;
    const char *extra[] = {"--fail-search", "2", NULL};
    server s = start_server("retry", extra);
    char *src = api_source(s.port, NULL), *pl = write_pipeline("retry.yaml", src);
    char *out = tu_path(g_dir, "out-retry"), *text;
    int rc = run_cli(pl, out, &text);
    if (rc != 0) fail_msg("exited %d:\n%s", rc, text);
    http_log ls = http_log_read(s.log, NULL);
    assert_int_equal(ls.searches, 5); /* 2 failures, then 3 pages */
    free(text), free(src), free(pl), free(out);
    stop_server(&s);
}

static void broken_assets_skip_their_scenes(void **state)
{
    (void)state;
    char lst[4096];
    snprintf(lst, sizeof lst, "ls %s | grep S2SIM | head -4 | tail -3", g_scenes);
    char *ids;
    tu_run(lst, &ids);
    char id[3][128], p500[200], pstall[200], ptrunc[200];
    assert_int_equal(sscanf(ids, "%127s %127s %127s", id[0], id[1], id[2]), 3);
    free(ids);
    snprintf(p500, sizeof p500, "/%s/B04.tif", id[0]);
    snprintf(pstall, sizeof pstall, "/%s/B08.tif", id[1]);
    snprintf(ptrunc, sizeof ptrunc, "/%s/SCL.tif", id[2]);
    const char *extra[] = {"--fail-500", p500, "--stall", pstall, "--truncate", ptrunc, NULL};
    server s = start_server("faults", extra);
    char *src = api_source(s.port, NULL), *pl = write_pipeline("faults.yaml", src);
    char *out = tu_path(g_dir, "out-faults"), *text;
    int rc = run_cli(pl, out, &text);
    assert_int_equal(rc, 1);
    for (int i = 0; i < 3; i++)
        if (!strstr(text, id[i])) fail_msg("the report does not name %s:\n%s", id[i], text);
    assert_non_null(strstr(text, "the scene is skipped"));
    free(text);
    /* Three scenes failed in all, each named in provenance; the other three were used. */
    char *a = tu_path(out, "provenance.json");
    json_t *prov = json_load_file(a, 0, NULL);
    assert_non_null(prov);
    assert_int_equal(json_array_size(json_object_get(prov, "failures")), 3);
    size_t used = 0, i, k;
    json_t *site, *per;
    json_array_foreach(json_object_get(prov, "sites"), i, site)
        json_array_foreach(json_object_get(site, "periods"), k, per) used +=
        json_array_size(json_object_get(per, "scenes"));
    assert_int_equal(used, 3);
    json_decref(prov);
    char *csv = NULL;
    free(a), free(csv), free(src), free(pl), free(out);
    stop_server(&s);
}

/* Planetary Computer signing: the token reaches the server with every read, and nowhere else. */
static void signed_assets_keep_tokens_out_of_outputs(void **state)
{
    (void)state;
    const char *extra[] = {"--require-token", NULL};
    server s = start_server("signed", extra);
    char sign[256];
    snprintf(sign, sizeof sign,
             ", sign: planetary_computer, token_url: \"http://127.0.0.1:%d/api/sas/v1/token\", "
             "sign_hosts: [127.0.0.1]",
             s.port);
    char *src = api_source(s.port, sign), *pl = write_pipeline("signed.yaml", src);
    char *out = tu_path(g_dir, "out-signed"), *text;
    int rc = run_cli(pl, out, &text);
    if (rc != 0) fail_msg("signed run exited %d:\n%s", rc, text);
    assert_null(strstr(text, "SECRET-TOKEN"));
    free(text);
    /* Every file read carried the signature; one token was fetched for the one collection. */
    FILE *f = fopen(s.log, "r");
    char line[4096];
    int gets = 0, tokens = 0, unsigned_reads = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "/api/sas/v1/token/sentinel-2-l2a"))
            tokens++;
        else if (strstr(line, "\"GET\"") || strstr(line, "\"HEAD\"")) {
            gets++;
            unsigned_reads += strstr(line, "sig=SECRET-TOKEN-4711") == NULL;
        }
    }
    fclose(f);
    assert_int_equal(tokens, 1);
    assert_true(gets > 6);
    assert_int_equal(unsigned_reads, 0);
    /* The token is in no output: not provenance, indicators, chip tags or keys. */
    char cmd[1024], *grep;
    snprintf(cmd, sizeof cmd, "grep -rl SECRET-TOKEN %s; true", out);
    tu_run(cmd, &grep);
    if (*grep) fail_msg("the token leaked into: %s", grep);
    free(grep);
    free(src), free(pl), free(out);
    /* Without signing, the server refuses every read: each scene is reported, without a token. */
    src = api_source(s.port, NULL);
    pl = write_pipeline("unsigned.yaml", src);
    out = tu_path(g_dir, "out-unsigned");
    assert_int_equal(run_cli(pl, out, &text), 1);
    assert_non_null(strstr(text, "the scene is skipped"));
    free(text), free(src), free(pl), free(out);
    /* Signing on, but the assets are not on a host the signing service covers (by default its
     * Azure Blob Storage accounts): the token is fetched and sent nowhere. */
    remove(s.log);
    snprintf(sign, sizeof sign,
             ", sign: planetary_computer, token_url: \"http://127.0.0.1:%d/api/sas/v1/token\"",
             s.port);
    src = api_source(s.port, sign);
    pl = write_pipeline("other-host.yaml", src);
    out = tu_path(g_dir, "out-other-host");
    assert_int_equal(run_cli(pl, out, &text), 1);
    free(text);
    f = fopen(s.log, "r");
    int sent = 0, fetched = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "/api/sas/v1/token/"))
            fetched++;
        else
            sent += strstr(line, "SECRET-TOKEN") != NULL;
    }
    if (f) fclose(f);
    assert_int_equal(fetched, 1);
    assert_int_equal(sent, 0);
    free(src), free(pl), free(out);
    stop_server(&s);
}

static void search_failures_are_clear(void **state)
{
    (void)state;
    const char *always[] = {"--search-always-fail", NULL};
    server s = start_server("down", always);
    char *src = api_source(s.port, NULL), *pl = write_pipeline("down.yaml", src);
    char *out = tu_path(g_dir, "out-down"), *text;
    assert_int_equal(run_cli(pl, out, &text), 1);
    char want[256];
    snprintf(want, sizeof want,
             "STAC API http://127.0.0.1:%d/search failed after 3 attempt(s): HTTP 500", s.port);
    if (!strstr(text, want)) fail_msg("want '%s' in:\n%s", want, text);
    assert_non_null(strstr(text, "search backend unavailable"));
    free(text), free(src), free(pl), free(out);
    stop_server(&s);
    const char *refuse[] = {"--search-400", NULL};
    s = start_server("refuse", refuse);
    src = api_source(s.port, NULL);
    pl = write_pipeline("refuse.yaml", src);
    out = tu_path(g_dir, "out-refuse");
    assert_int_equal(run_cli(pl, out, &text), 1);
    assert_non_null(strstr(text, "refused the request: HTTP 400"));
    assert_non_null(strstr(text, "collection 'nope' does not exist"));
    assert_int_equal(http_log_read(s.log, NULL).searches, 1); /* a refusal is not retried */
    free(text), free(src), free(pl), free(out);
    stop_server(&s);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    g_dir = tu_mkdtemp("stac");
    g_scenes = tu_path(g_dir, "scenes");
    mw_site_catalog cat;
    if (mw_site_catalog_load(AOI, &cat)) return -1;
    const mw_site *sites[1] = {mw_site_catalog_find(&cat, "cd-kamoto")};
    g_per[0] = (mw_period){"baseline", mw_day_from_ymd(2021, 6, 1), mw_day_from_ymd(2021, 7, 31)};
    g_per[1] = (mw_period){"2023", mw_day_from_ymd(2023, 6, 1), mw_day_from_ymd(2023, 7, 31)};
    /* Scenes 6 km larger than the site on every side: the window is a small part of each file. */
    mw_sim_options o = {11, 3, 0.2, 6000.0};
    int rc = mw_simulate(sites, 1, g_per, 2, &o, g_scenes);
    mw_site_catalog_free(&cat);
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
    tu_rmtree(g_dir);
    free(g_dir), free(g_scenes);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paged_search_reads_only_the_window),
        cmocka_unit_test(search_retries_then_succeeds),
        cmocka_unit_test(broken_assets_skip_their_scenes),
        cmocka_unit_test(signed_assets_keep_tokens_out_of_outputs),
        cmocka_unit_test(search_failures_are_clear),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
