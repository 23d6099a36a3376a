/* Core pieces: dates, thread-local errors, the QA and index tables. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cpl_error.h>
#include <omp.h>

#include "minewatch/band.h"
#include "minewatch/date.h"
#include "minewatch/error.h"
#include "minewatch/qa.h"
#include "minewatch/severity.h"
#include "minewatch/spectral_index.h"

static void dates_round_trip(void **state)
{
    (void)state;
    assert_int_equal(mw_day_from_ymd(1970, 1, 1), 0);
    assert_int_equal(mw_day_from_ymd(2000, 3, 1), 11017);
    assert_int_equal(mw_day_from_ymd(2022, 1, 25), 19017);
    for (mw_day d = -800000; d < 800000; d += 37) {
        int y, m, dd;
        mw_day_to_ymd(d, &y, &m, &dd);
        assert_int_equal(mw_day_from_ymd(y, m, dd), d);
    }
    mw_day d;
    double sod;
    assert_int_equal(mw_day_parse("2024-02-29", &d, NULL), 0);
    assert_int_not_equal(mw_day_parse("2023-02-29", &d, NULL), 0);
    assert_int_not_equal(mw_day_parse("2023-13-01", &d, NULL), 0);
    assert_int_equal(mw_day_parse("2023-08-13T10:06:29.024000Z", &d, &sod), 0);
    assert_int_equal(d, mw_day_from_ymd(2023, 8, 13));
    assert_true(fabs(sod - 36389.024) < 1e-6);
    assert_int_not_equal(mw_day_parse("2023-08-13T10:06:29+02:00", &d, NULL), 0);
    /* Times cut short are refused without reading past their end (found by fuzz_stac_item under
     * ASan): each is copied to a buffer of exactly its size. */
    const char *cut[] = {"2021-01-01T", "2021-01-01T1", "2021-01-01T10:0",
                         "2021-01-01T10:00:", "2021-01-01 1"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        char *c = strdup(cut[i]);
        assert_int_not_equal(mw_day_parse(c, &d, NULL), 0);
        free(c);
    }
    char buf[11];
    mw_day_format(mw_day_from_ymd(2021, 6, 1), buf);
    assert_string_equal(buf, "2021-06-01");
}

static void errors_are_per_thread(void **state)
{
    (void)state;
    mw_error_clear();
    mw_error_set(MW_ERR_INPUT, "main %d", 1);
    int ok = 1;
#pragma omp parallel num_threads(4) reduction(&& : ok)
    {
        int t = omp_get_thread_num();
        if (t != 0) {
            ok = ok && mw_error_message()[0] == '\0';
            mw_error_set(MW_ERR_IO, "thread %d", t);
            char want[32];
            snprintf(want, sizeof want, "thread %d", t);
            ok = ok && strcmp(mw_error_message(), want) == 0;
        }
    }
    assert_true(ok);
    assert_string_equal(mw_error_message(), "main 1");
    mw_error_prefix("ctx %s", "x");
    assert_string_equal(mw_error_message(), "ctx x: main 1");
    assert_int_equal(mw_error_get_kind(), MW_ERR_INPUT);
    /* Long messages are not truncated. */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mw_error_set(MW_ERR_IO, "%s!", big);
    assert_int_equal(strlen(mw_error_message()), sizeof big);
    mw_error_clear();
}

static void gdal_messages_never_carry_tokens(void **state)
{
    (void)state;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLError(CE_Failure, CPLE_AppDefined,
             "HTTP error code: 500 - "
             "https://x.blob.core.windows.net/a/B04.tif?st=1&sig=SECRET%%2Fabc, retried");
    CPLPopErrorHandler();
    mw_error_from_gdal(MW_ERR_IO, "cannot open '%s'",
                       "/vsicurl/https://x.blob.core.windows.net/a/B04.tif");
    const char *m = mw_error_message();
    assert_null(strstr(m, "SECRET"));
    assert_null(strstr(m, "sig="));
    assert_non_null(strstr(m, "B04.tif?<query hidden>, retried"));
    assert_non_null(strstr(m, "cannot open '/vsicurl/https://x.blob.core.windows.net/a/B04.tif'"));
    mw_error_clear();
    /* Any message: presigned queries, user info in URLs, control characters, overlong echoes. */
    mw_error_set(MW_ERR_IO,
                 "cannot read 'https://alice:pa55@h.example/B04.tif?X-Amz-Signature=abc' or "
                 "'http://u@h2/x?sig=2#frag'\x1b[31m");
    m = mw_error_message();
    assert_null(strstr(m, "pa55"));
    assert_null(strstr(m, "alice"));
    assert_null(strstr(m, "X-Amz-Signature"));
    assert_null(strstr(m, "sig=2"));
    assert_null(strchr(m, '\x1b'));
    assert_non_null(strstr(m, "https://<hidden>@h.example/B04.tif?<query hidden>'"));
    assert_non_null(strstr(m, "http://<hidden>@h2/x?<query hidden>'"));
    static char flood[3 << 20];
    memset(flood, 'n', sizeof flood - 1);
    mw_error_set(MW_ERR_INPUT, "unknown band '%s' in bands", flood);
    m = mw_error_message();
    assert_true(strlen(m) < 2000);
    assert_non_null(strstr(m, "bytes not shown]"));
    assert_non_null(strstr(m, "' in bands"));
    mw_error_clear();
}

static void scl_table_matches_esa_legend(void **state)
{
    (void)state;
    for (int v = 0; v < 12; v++)
        assert_int_equal(mw_scl_classes[v].value, v);
    assert_int_equal(mw_qa_from_scl(0), MW_QA_NODATA);
    assert_int_equal(mw_qa_from_scl(1), MW_QA_SATURATED);
    assert_int_equal(mw_qa_from_scl(3), MW_QA_SHADOW);
    assert_int_equal(mw_qa_from_scl(4), 0);
    assert_int_equal(mw_qa_from_scl(5), 0);
    assert_int_equal(mw_qa_from_scl(6), MW_QA_WATER);
    assert_int_equal(mw_qa_from_scl(8), MW_QA_CLOUD);
    assert_int_equal(mw_qa_from_scl(9), MW_QA_CLOUD);
    assert_int_equal(mw_qa_from_scl(10), MW_QA_CIRRUS);
    assert_int_equal(mw_qa_from_scl(11), MW_QA_SNOW);
    assert_int_equal(mw_qa_from_scl(200), MW_QA_NODATA);
    assert_int_equal(mw_qa_flag_by_name("shadow"), MW_QA_SHADOW);
    assert_int_equal(mw_qa_flag_by_name("nope"), 0);
}

static void index_registry_edges(void **state)
{
    (void)state;
    const mw_spectral_index *ndvi = mw_spectral_index_find("NDVI");
    assert_non_null(ndvi);
    float red[6] = {0.03f, 0.0f, NAN, 0.1f, -0.05f, -0.02f};
    float nir[6] = {0.34f, 0.0f, 0.3f, 0.1f, 0.05f, 0.01f};
    float out[6];
    const float *rows[MW_BAND_COUNT] = {0};
    rows[MW_BAND_RED] = red;
    rows[MW_BAND_NIR] = nir;
    mw_spectral_index_row(ndvi, rows, out, 6);
    assert_true(fabs(out[0] - (0.34 - 0.03) / (0.34 + 0.03)) < 1e-6);
    assert_true(isnan(out[1])); /* 0/0 */
    assert_true(isnan(out[2])); /* no data in */
    assert_true(out[3] == 0.0f);
    assert_true(isnan(out[4])); /* zero sum after offset */
    assert_true(isnan(out[5])); /* |value| > 1: outside the valid range */
    for (int i = 0; i < mw_spectral_nindices; i++) {
        assert_non_null(mw_spectral_indices[i].citation);
        assert_true(strlen(mw_spectral_indices[i].citation) > 10);
        assert_true(mw_spectral_indices[i].nbands >= 2);
    }
    assert_null(mw_spectral_index_find("nope"));
    assert_int_equal(mw_band_by_name("B8A")->band, MW_BAND_NIR08);
    assert_int_equal(mw_band_by_name("swir16")->band, MW_BAND_SWIR16);
}

/* Key & Benson's table: each bound belongs to the class above it. */
static void severity_classes_at_their_bounds(void **state)
{
    (void)state;
    const struct {
        double dnbr;
        const char *cls;
    } cases[] = {{-0.6, "enhanced_regrowth_high"},
                 {-0.2500001, "enhanced_regrowth_high"},
                 {-0.25, "enhanced_regrowth_low"},
                 {-0.1, "unburned"},
                 {0.0999, "unburned"},
                 {0.1, "low"},
                 {0.27, "moderate_low"},
                 {0.4399, "moderate_low"},
                 {0.44, "moderate_high"},
                 {0.66, "high"},
                 {1.8, "high"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int k = mw_severity_of(cases[i].dnbr);
        assert_true(k >= 0);
        if (strcmp(mw_severity_classes[k].name, cases[i].cls) != 0)
            fail_msg("dNBR %g: %s, want %s", cases[i].dnbr, mw_severity_classes[k].name,
                     cases[i].cls);
    }
    assert_int_equal(mw_severity_of(NAN), -1);
    assert_int_equal(mw_severity_nclasses, 7);
    assert_non_null(strstr(mw_severity_citation, "RMRS-GTR-164"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates_round_trip),
        cmocka_unit_test(errors_are_per_thread),
        cmocka_unit_test(gdal_messages_never_carry_tokens),
        cmocka_unit_test(scl_table_matches_esa_legend),
        cmocka_unit_test(index_registry_edges),
        cmocka_unit_test(severity_classes_at_their_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
