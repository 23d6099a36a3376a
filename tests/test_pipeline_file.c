/* Pipeline files: the demo parses; every mistake is reported as file:line:column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "minewatch/error.h"
#include "minewatch/date.h"
#include "minewatch/pipeline.h"
#include "minewatch/land_cover.h"
#include "minewatch/qa.h"
#include "pipeline/pipeline_keys.h"
#include "test_util.h"

static char *g_dir;

static const char *const good = "name: t\n"
                                "sites:\n"
                                "  catalogue: sites.geojson\n"
                                "  ids: [a, b]\n"
                                "source: {type: local, path: scenes}\n"
                                "periods:\n"
                                "  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
                                "  monitoring:\n"
                                "    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"
                                "grid: {pixel_size_m: 20, buffer_m: 100}\n"
                                "mask: {exclude: [cloud, shadow]}\n"
                                "thresholds: {forest_ndvi_min: 0.65}\n"
                                "outputs: {formats: [csv]}\n";

static void demo_pipeline_parses(void **state)
{
    (void)state;
    mw_pipeline p;
    assert_int_equal(mw_pipeline_load(MW_SOURCE_DIR "/pipelines/demo.yaml", &p), 0);
    assert_string_equal(p.name, "demo");
    assert_int_equal(p.source_type, MW_SOURCE_SIMULATOR);
    assert_int_equal(p.n_periods, 3);
    assert_string_equal(p.periods[0].name, "baseline");
    assert_string_equal(p.periods[1].name, "2023");
    assert_int_equal(p.n_site_ids, 4);
    assert_true(strstr(p.catalogue, "aoi/critical_mineral_sites.geojson") != NULL);
    mw_pipeline_free(&p);
}

static void good_file_values(void **state)
{
    (void)state;
    char *f = tu_path(g_dir, "good.yaml");
    tu_write(f, good);
    mw_pipeline p;
    assert_int_equal(mw_pipeline_load(f, &p), 0);
    assert_int_equal(p.source_type, MW_SOURCE_LOCAL);
    char *want = tu_path(g_dir, "scenes");
    assert_string_equal(p.source_path, want);
    free(want);
    assert_true(p.pixel_size_m == 20 && p.buffer_m == 100 && p.forest_ndvi_min == 0.65);
    assert_int_equal(p.qa_exclude, MW_QA_NODATA | MW_QA_CLOUD | MW_QA_SHADOW);
    assert_true(p.write_csv && !p.write_gpkg && !p.write_maps);
    assert_int_equal(p.periods[1].end - p.periods[1].start, 121);
    mw_pipeline_free(&p);
    free(f);
}

/* Replace the first occurrence of `from` in the good file with `to`, load, expect failure whose
 * message starts with "<file>:<line>:<col>: " and contains `needle`. */
static void expect_error(const char *from, const char *to, int line, int col, const char *needle)
{
    const char *at = strstr(good, from);
    assert_non_null(at);
    size_t n = strlen(good) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    char *f = tu_path(g_dir, "bad.yaml");
    tu_write(f, text);
    mw_pipeline p;
    assert_int_equal(mw_pipeline_load(f, &p), -1);
    assert_int_equal(mw_error_get_kind(), MW_ERR_INPUT);
    char want[1024];
    snprintf(want, sizeof want, "%s:%d:%d: ", f, line, col);
    const char *msg = mw_error_message();
    if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, needle))
        fail_msg("for %s -> %s\n got:  %s\n want: %s...%s", from, to, msg, want, needle);
    mw_error_clear();
    free(text);
    free(f);
}

static void mistakes_have_positions(void **state)
{
    (void)state;
    expect_error("grid:", "gird:", 10, 1, "unknown key 'gird' in 'top level'");
    expect_error("pixel_size_m: 20", "pixel_size_m: twenty", 10, 22, "must be a number");
    expect_error("pixel_size_m: 20", "pixel_size_m: 0", 10, 22, "between 1 and 1000");
    expect_error("start: 2021-06-01", "start: 2021-06-31", 7, 21, "must be a date YYYY-MM-DD");
    expect_error("end: 2023-09-30", "end: 2023-05-30", 9, 46, "ends before it starts");
    expect_error("start: 2023-06-01", "start: 2021-07-01", 9, 7, "must start after the baseline");
    expect_error("type: local", "type: s3", 5, 16, "must be 'simulator', 'local' or 'stac_api'");
    expect_error("[cloud, shadow]", "[cloud, smoke]", 11, 25, "unknown QA class 'smoke'");
    expect_error("[csv]", "[csv, pdf]", 13, 26, "unknown output format 'pdf'");
    expect_error("thresholds:", "composite: {method: mean}\nthresholds:", 12, 21,
                 "unknown composite.method 'mean' (known: median, max_ndvi, bap)");
    expect_error("thresholds:", "composite: {methd: bap}\nthresholds:", 12, 13,
                 "unknown key 'methd'");
    expect_error("thresholds:", "change: {method: pca}\nthresholds:", 12, 18,
                 "unknown change.method 'pca' (known: cva_otsu, irmad)");
    expect_error("thresholds:", "bands: [red, green]\nthresholds:", 12, 8,
                 "bands must include red and nir");
    expect_error("thresholds:", "bands: [red, nir, red]\nthresholds:", 12, 19,
                 "band 'red' is listed twice");
    expect_error("thresholds:", "coregistration: {enabled: maybe}\nthresholds:", 12, 27,
                 "coregistration.enabled must be true or false");
    expect_error("thresholds:", "baseline_forest: {min_percent: 30}\nthresholds:", 12, 18,
                 "needs 'path'");
    expect_error("ids: [a, b]", "ids: [a, a]", 4, 12, "listed twice");
    expect_error("  catalogue: sites.geojson\n", "", 3, 3, "needs 'catalogue'");
    expect_error("name: \"2023\"", "name: baseline", 9, 14, "name of the baseline");
    expect_error("forest_ndvi_min: 0.65", "forest_ndvi_min: 0.65, forest_ndvi_mn: 1", 12, 37,
                 "unknown key 'forest_ndvi_mn' in 'thresholds'");
    expect_error("outputs: {formats: [csv]}", "outputs: {formats: [csv]", 14, 1,
                 "YAML syntax error");
    expect_error("name: t\n", "name: t\nname: u\n", 2, 1, "given twice");
}

/* periods.yearly and monitoring.yearly expand to one period a year; reference_forest parses. */
static void yearly_periods_and_reference_forest(void **state)
{
    (void)state;
    char *f = tu_path(g_dir, "yearly.yaml");
    tu_write(f, "name: y\nsites: {catalogue: s.geojson}\nsource: {type: simulator}\n"
                "periods:\n  yearly: {from: 2019, to: 2022, months: [11, 2]}\n"
                "reference_forest: {treecover: 'https://h/x_{lat}_{lon}.tif', lossyear: ly.tif}\n");
    mw_pipeline p;
    if (mw_pipeline_load(f, &p)) fail_msg("%s", mw_error_message());
    assert_int_equal(p.n_periods, 4);
    const char *names[] = {"baseline", "2020", "2021", "2022"};
    for (int k = 0; k < 4; k++) {
        assert_string_equal(p.periods[k].name, names[k]);
        char a[11], b[11], wa[24], wb[24];
        mw_day_format(p.periods[k].start, a), mw_day_format(p.periods[k].end, b);
        snprintf(wa, sizeof wa, "%d-11-01", 2019 + k);
        snprintf(wb, sizeof wb, "%d-02-%02d", 2020 + k, (2020 + k) % 4 == 0 ? 29 : 28);
        assert_string_equal(a, wa), assert_string_equal(b, wb);
    }
    assert_string_equal(p.rf_treecover, "https://h/x_{lat}_{lon}.tif");
    char *ly = tu_path(g_dir, "ly.tif");
    assert_string_equal(p.rf_lossyear, ly);
    assert_null(p.rf_emissions);
    assert_true(p.rf_min_cover == 30 && p.rf_min_size_ha == 0);
    free(ly);
    mw_pipeline_free(&p);
    tu_write(f, "name: y\nsites: {catalogue: s.geojson}\nsource: {type: simulator}\n"
                "periods:\n  baseline: {start: 2018-06-01, end: 2018-09-30}\n"
                "  monitoring: {yearly: {from: 2020, to: 2024, months: [6, 9]}}\n");
    if (mw_pipeline_load(f, &p)) fail_msg("%s", mw_error_message());
    assert_int_equal(p.n_periods, 6);
    assert_string_equal(p.periods[5].name, "2024");
    char d[11];
    mw_day_format(p.periods[5].end, d);
    assert_string_equal(d, "2024-09-30");
    mw_pipeline_free(&p);
    free(f);
    expect_error("  baseline: {start: 2021-06-01, end: 2021-09-30}\n  monitoring:\n"
                 "    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n",
                 "  yearly: {from: 2021, to: 2021}\n", 7, 11, "two years at least");
    expect_error("  baseline: {start: 2021-06-01, end: 2021-09-30}\n  monitoring:\n"
                 "    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n",
                 "  yearly: {from: 2019, to: 2024, months: [6]}\n", 7, 42,
                 "[first month, last month]");
    expect_error("    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n",
                 "    yearly: {from: 2020, to: 2024, months: [6, 13]}\n", 9, 48,
                 "between 1 and 12");
    expect_error("thresholds:", "reference_forest: {treecover: t.tif}\nthresholds:", 12, 19,
                 "needs 'lossyear'");
}

static void missing_file_and_empty_file(void **state)
{
    (void)state;
    mw_pipeline p;
    assert_int_equal(mw_pipeline_load("/nonexistent/x.yaml", &p), -1);
    assert_non_null(strstr(mw_error_message(), "cannot open pipeline file '/nonexistent/x.yaml'"));
    char *f = tu_path(g_dir, "empty.yaml");
    tu_write(f, "");
    assert_int_equal(mw_pipeline_load(f, &p), -1);
    assert_non_null(strstr(mw_error_message(), ":1:1: the pipeline file is empty"));
    free(f);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp("pipeline");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

/* Every field the key tables fill, equal in a and b. */
static void same_settings(const mw_pipeline *a, const mw_pipeline *b)
{
    for (size_t i = 0; i < mw_key_nsections; i++)
        for (size_t j = 0; j < mw_key_sections[i].n; j++) {
            const mw_key *k = &mw_key_sections[i].keys[j];
            if (!k->size) continue;
            const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
            int same;
            if (k->type == MW_KEY_TEXT || k->type == MW_KEY_PATH || k->type == MW_KEY_SOURCE) {
                const char *x = *(char *const *)fa, *y = *(char *const *)fb;
                same = (!x && !y) || (x && y && !strcmp(x, y));
            } else if (k->type == MW_KEY_TEXTS) {
                char *const *x = *(char **const *)fa, *const *y = *(char **const *)fb;
                same = !x == !y;
                for (size_t n = 0; same && x && (x[n] || y[n]); n++)
                    same = x[n] && y[n] && !strcmp(x[n], y[n]);
            } else {
                same = memcmp(fa, fb, k->size) == 0;
            }
            if (!same)
                fail_msg("%s.%s differs between the template and the defaults",
                         mw_key_sections[i].name, k->key);
        }
    assert_int_equal(a->nbands, b->nbands);
    assert_memory_equal(a->bands, b->bands, (size_t)a->nbands * sizeof *a->bands);
    assert_true(a->write_gpkg == b->write_gpkg && a->write_maps == b->write_maps &&
                a->write_stac == b->write_stac && a->write_report == b->write_report);
}

/* The template (`minewatch pipeline --template`, written from the key tables) is a pipeline file
 * that parses, to the values a file of the required keys alone gets: every default it shows is
 * the one applied. Some defaults, checked by hand against what the README always said. */
static void template_parses_to_the_defaults(void **state)
{
    (void)state;
    char *text = mw_pipeline_template();
    assert_non_null(text);
    char *tp = tu_path(g_dir, "template.yaml"), *mp = tu_path(g_dir, "minimal.yaml");
    tu_write(tp, text);
    tu_write(mp, "name: my-pipeline\nsites: {catalogue: sites.geojson}\n"
                 "source: {type: local, path: scenes}\n"
                 "periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
                 "  monitoring: [{name: \"2023\", start: 2023-06-01, end: 2023-09-30}]\n");
    mw_pipeline t, m;
    if (mw_pipeline_load(tp, &t)) fail_msg("the template does not parse: %s", mw_error_message());
    assert_int_equal(mw_pipeline_load(mp, &m), 0);
    same_settings(&t, &m);
    assert_true(m.pixel_size_m == 10 && m.buffer_m == 500 && m.coreg_min_snr == 12);
    assert_int_equal(m.qa_dilate, MW_QA_CLOUD | MW_QA_SHADOW);
    assert_int_equal(m.qa_exclude, MW_QA_DEFAULT_EXCLUDE);
    assert_true(m.water_mndwi_min == mw_cover_default_thresholds().water_mndwi_min);
    assert_true(m.coregister && m.stac_max_cloud_cover < 0 && m.sim_seed == 1);
    /* the other source types' keys, uncommented one type at a time, parse too */
    for (int type = 0; type < 2; type++) {
        const char *name = type ? "stac_api" : "simulator";
        char *edited = tu_path(g_dir, "template-type.yaml"), cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "awk -v T=%s '/^  type: local/ {print \"  type: \" T; next} "
                 "/^  path: scenes/ {next} "
                 "/^  timeout_s|^  retries|^  backoff_s/ {if (T == \"simulator\") next} "
                 "/^[^ ]/ {on = 0} /^  # with type: / {on = ($0 ~ T)} "
                 "on && /^  # [a-z_]+: [^.]/ "
                 "{sub(/^  # /, \"  \"); print; next} {print}' %s > %s",
                 name, tp, edited);
        assert_int_equal(tu_run(cmd, NULL), 0);
        mw_pipeline e;
        if (mw_pipeline_load(edited, &e))
            fail_msg("the template with type %s does not parse: %s", name, mw_error_message());
        assert_int_equal(e.source_type, type ? MW_SOURCE_STAC_API : MW_SOURCE_SIMULATOR);
        if (type) assert_true(e.stac_max_cloud_cover == 60 && e.stac_page_size == 100);
        mw_pipeline_free(&e);
        free(edited);
    }
    mw_pipeline_free(&t);
    mw_pipeline_free(&m);
    free(text), free(tp), free(mp);
}

/* The README's pipeline reference is `minewatch pipeline --reference`, as the tables say today. */
static void readme_reference_is_current(void **state)
{
    (void)state;
    char *readme = tu_read(MW_SOURCE_DIR "/README.md", NULL), *ref = mw_pipeline_reference();
    assert_non_null(readme);
    assert_non_null(ref);
    static const char begin[] = "<!-- pipeline reference: minewatch pipeline --reference -->\n",
                      end[] = "<!-- end of the pipeline reference -->";
    char *a = strstr(readme, begin), *b = a ? strstr(a, end) : NULL;
    if (!a || !b) fail_msg("README.md has no pipeline reference between '%s' and '%s'", begin, end);
    a += strlen(begin);
    if ((size_t)(b - a) != strlen(ref) || strncmp(a, ref, strlen(ref)) != 0)
        fail_msg("README.md's pipeline reference is not current: put the output of `minewatch "
                 "pipeline --reference` between its markers");
    /* and the example above it parses */
    char *ex = strstr(readme, "## Pipeline files");
    ex = ex ? strstr(ex, "```yaml\n") : NULL;
    char *ex_end = ex ? strstr(ex + 8, "```") : NULL;
    assert_non_null(ex_end);
    mw_pipeline p;
    if (mw_pipeline_parse(MW_SOURCE_DIR "/README.md", ex + 8, (size_t)(ex_end - ex - 8), &p))
        fail_msg("the README's example pipeline does not parse: %s", mw_error_message());
    mw_pipeline_free(&p);
    free(readme), free(ref);
}

/* Each command takes its own options only: a wrong one is refused with the command's usage. */
static void commands_take_their_own_options(void **state)
{
    (void)state;
    static const struct {
        const char *args, *want;
        int rc;
    } cases[] = {
        {"indices --cog", "'--cog' is not an option of 'minewatch indices'", 2},
        {"index ndvi --seed 3 --red x.tif -o o.tif", "'--seed' is not an option", 2},
        {"run x.yaml --format csv", "usage: minewatch run PIPELINE", 2},
        {"graph g.json --period p -o d", "graph needs --indicators FILE", 2},
        {"run x.yaml --frobnicate", "unknown option '--frobnicate'", 2},
        {"pipeline", "usage: minewatch pipeline", 2},
        {"run --help", "--shard K/N", 0},
        {"--help", "pipeline", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", MW_CLI, cases[i].args);
        int rc = tu_run(cmd, &out);
        if (rc != cases[i].rc || !strstr(out, cases[i].want))
            fail_msg("minewatch %s: exit %d, want %d and '%s':\n%s", cases[i].args, rc, cases[i].rc,
                     cases[i].want, out);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_pipeline_parses),
        cmocka_unit_test(good_file_values),
        cmocka_unit_test(mistakes_have_positions),
        cmocka_unit_test(missing_file_and_empty_file),
        cmocka_unit_test(yearly_periods_and_reference_forest),
        cmocka_unit_test(template_parses_to_the_defaults),
        cmocka_unit_test(readme_reference_is_current),
        cmocka_unit_test(commands_take_their_own_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
