/* Reports' pure parts: CSV fields (RFC 4180, formula neutralising), ISO times, options, zones,
 * the SQL chosen per step and zone, and config errors that name the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ioc/error.h"
#include "reports/report_int.h"

static void field_is(const char *in, char sep, bool text, const char *want)
{
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(rpt_csv_field(&sb, in, sep, text), 0);
    assert_string_equal(sb.data ? sb.data : "", want);
    strbuf_free(&sb);
}

static void test_csv_fields(void **state)
{
    (void)state;
    field_is("Tân An", ',', true, "Tân An");
    field_is("Bến Lức, \"Q\"", ',', true, "\"Bến Lức, \"\"Q\"\"\"");
    field_is("a;b", ';', true, "\"a;b\"");
    field_is("a;b", ',', true, "a;b");
    field_is("two\nlines", ',', true, "\"two\nlines\"");
    field_is("=HYPERLINK(\"x\")", ',', true, "\"'=HYPERLINK(\"\"x\"\")\"");
    field_is("+1+2", ',', true, "\"'+1+2\"");
    field_is("@SUM(A1)", ',', true, "\"'@SUM(A1)\"");
    field_is("-cmd|' /C calc'!A0", ',', true, "\"'-cmd|' /C calc'!A0\"");
    field_is("\tx", ',', true, "\"'\tx\"");
    /* numbers are never neutralised, as text or as numbers */
    field_is("-5", ',', true, "-5");
    field_is("-3.25e-7", ',', false, "-3.25e-7");
    field_is("+7", ',', true, "+7");
    field_is("", ',', true, "");
}

static void test_times(void **state)
{
    (void)state;
    const char *good[] = {"2025-01-31", "2024-02-29", "2025-01-31T08:00", "2025-01-31T08:00:59",
                          "2025-01-31T08:00:00.123Z", "2025-01-31T08:00:00+07:00",
                          "2025-01-31T08:00:00 07:00", "2025-01-31T08:00-0530", "2025-01-31 08:00"};
    const char *bad[] = {"2025-02-29", "2025-13-01", "2025-01-32", "2025-01-31T24:00",
                         "2025-01-31T08:60", "2025-01-31T08", "31/01/2025", "2025-01-31T08:00+15",
                         "2025-01-31T08:00:00Zjunk", "1969-12-31", "", "2025-1-31"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(rpt_time_ok(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (rpt_time_ok(bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
}

static void test_options(void **state)
{
    (void)state;
    rpt_step_t st;
    rpt_format_t f;
    rpt_cmp_t c;
    assert_int_equal(rpt_parse_step("1mo", &st), 0);
    assert_int_equal(st, RPT_STEP_1MO);
    assert_int_equal(rpt_parse_step("1w", &st), 0);
    assert_int_equal(st, RPT_STEP_1W);
    assert_int_equal(rpt_parse_step("5m", &st), -1);
    assert_int_equal(rpt_parse_format("xlsx", &f), 0);
    assert_int_equal(f, RPT_XLSX);
    assert_int_equal(rpt_parse_format("XLSX", &f), -1);
    assert_int_equal(rpt_parse_compare("year", &c), 0);
    assert_int_equal(c, RPT_CMP_YEAR);
    assert_int_equal(rpt_parse_compare("week", &c), -1);
    assert_true(rpt_tz_ok("Asia/Ho_Chi_Minh"));
    assert_true(rpt_tz_ok("UTC"));
    assert_false(rpt_tz_ok("Mars/Olympus"));
    assert_false(rpt_tz_ok("../../etc/passwd"));
    assert_false(rpt_tz_ok("/etc/localtime"));
}

/* 1m steps read minute rows; hour rows serve longer steps only in a whole-hour zone. */
static void test_sql_choice(void **state)
{
    (void)state;
    rpt_spec_t s = {.step = RPT_STEP_1M};
    assert_non_null(strstr(rpt_sql_declare(&s, true), "FROM rollup_1m s"));
    assert_null(strstr(rpt_sql_declare(&s, true), "GROUP BY"));
    s.step = RPT_STEP_1H;
    assert_non_null(strstr(rpt_sql_declare(&s, true), "FROM rollup_1h s"));
    assert_null(strstr(rpt_sql_declare(&s, true), "GROUP BY"));
    assert_non_null(strstr(rpt_sql_declare(&s, false), "FROM rollup_1m s"));
    assert_non_null(strstr(rpt_sql_declare(&s, false), "GROUP BY"));
    s.step = RPT_STEP_1MO;
    assert_non_null(strstr(rpt_sql_declare(&s, true), "FROM rollup_1h s"));
    assert_null(strstr(rpt_sql_declare(&s, true), "LEFT JOIN LATERAL"));
    s.compare = RPT_CMP_YEAR;
    assert_non_null(strstr(rpt_sql_declare(&s, true), "LEFT JOIN LATERAL"));
}

static void config_error_is(const char *reports, const char *want)
{
    char text[2048], err[512];
    config_t *cfg;
    snprintf(text, sizeof text,
             "{\"indicators\": [{\"id\": \"a.b\", \"name\": {\"vi\": \"A\"}, \"metric\": \"m\","
             " \"agg\": \"avg\"}],\n \"reports\": %s}", reports);
    assert_int_equal(config_parse("t.json", text, strlen(text), &cfg, err, sizeof err), 0);
    int rc = reports_check_config(cfg, err, sizeof err);
    config_free(cfg);
    if (!want) {
        if (rc)
            fail_msg("refused: %s", err);
        return;
    }
    assert_int_equal(rc, IOC_EINVAL);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void test_config_errors(void **state)
{
    (void)state;
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/tmp\"}]",
                    NULL);
    config_error_is("[{\"name\": \"d\", \"schedule\": \"monthly 1 06:30\","
                    " \"directory\": \"/tmp\", \"indicators\": [\"a.b\"], \"format\": \"xlsx\","
                    " \"bom\": true, \"sep\": \";\","
                    " \"range\": \"7d\", \"compare\": \"year\", \"time_zone\": \"UTC\"}]",
                    NULL);
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 7:00\", \"directory\": \"/tmp\"}]",
                    "t.json:2:28: reports[0].schedule: expected");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"monthly 29 07:00\","
                    " \"directory\": \"/t\"}]",
                    "reports[0].schedule: expected");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"weekly sun 23:59\"}]",
                    "reports[0].directory: required");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/t\","
                    " \"indicators\": [\"x.y\"]}]",
                    "reports[0].indicators: unknown indicator \"x.y\"");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/t\","
                    " \"formt\": \"csv\"}]",
                    "reports[0].formt: unknown key");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/t\","
                    " \"time_zone\": \"Mars/Base\"}]",
                    "reports[0].time_zone: expected a time zone");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/t\"},"
                    " {\"name\": \"d\", \"schedule\": \"daily 08:00\", \"directory\": \"/t\"}]",
                    "reports[1].name: two reports with this name");
    config_error_is("[{\"name\": \"d\", \"schedule\": \"daily 07:00\", \"directory\": \"/t\","
                    " \"webhook\": \"ftp://x\"}]",
                    "reports[0].webhook: expected an http");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_fields), cmocka_unit_test(test_times),
        cmocka_unit_test(test_options),    cmocka_unit_test(test_sql_choice),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
