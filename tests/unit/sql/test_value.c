/* The sql plugin's cell parsing: values by type, times in PostgreSQL's ISO output and epochs. */
#include <stdint.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../../collectors/sql/sql.h"

#define T_BOOL 16
#define T_INT8 20
#define T_TEXT 25
#define T_NUMERIC 1700
#define T_DATE 1082
#define T_TIMESTAMP 1114
#define T_TIMESTAMPTZ 1184

static void test_values(void **state)
{
    double v;
    (void)state;
    assert_int_equal(sql_parse_value("t", T_BOOL, &v), IOC_OK);
    assert_true(v == 1);
    assert_int_equal(sql_parse_value("f", T_BOOL, &v), IOC_OK);
    assert_true(v == 0);
    assert_int_equal(sql_parse_value("true", T_BOOL, &v), IOC_EINVAL);
    assert_int_equal(sql_parse_value("-9223372036854775808", T_INT8, &v), IOC_OK);
    assert_true(v == -9223372036854775808.0);
    assert_int_equal(sql_parse_value("1234.5678901", T_NUMERIC, &v), IOC_OK);
    assert_true(v == 1234.5678901);
    assert_int_equal(sql_parse_value(".5", T_TEXT, &v), IOC_OK);
    assert_true(v == 0.5);
    assert_int_equal(sql_parse_value("1e3", T_TEXT, &v), IOC_OK);
    assert_true(v == 1000);
    static const char *const bad[] = {"", " 1", "1 ", "NaN", "Infinity", "-Infinity", "0x10",
                                      "12abc", "Tân An", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (sql_parse_value(bad[i], T_NUMERIC, &v) != IOC_EINVAL || v != 42)
            fail_msg("\"%s\" was taken as a number", bad[i]);
    }
}

static void test_times(void **state)
{
    int64_t us;
    (void)state;
    static const struct {
        const char *text;
        unsigned type;
        int64_t us;
    } ok[] = {
        {"2024-03-12 01:30:00+00", T_TIMESTAMPTZ, 1710207000000000LL},
        {"2024-03-12 08:30:00+07", T_TIMESTAMPTZ, 1710207000000000LL},
        {"2024-03-12 01:30:00.25+00", T_TIMESTAMPTZ, 1710207000250000LL},
        {"2024-03-12 01:30:00.123456789+00", T_TIMESTAMPTZ, 1710207000123456LL},
        {"2024-03-11 20:00:00-05:30", T_TIMESTAMPTZ, 1710207000000000LL},
        {"1960-01-01 00:00:00+00", T_TIMESTAMPTZ, -315619200000000LL},
        {"2024-03-12 01:30:00", T_TIMESTAMP, 1710207000000000LL},
        {"2024-02-29", T_DATE, 1709164800000000LL},
        {"2024-03-12T01:30:00Z", T_TEXT, 1710207000000000LL},
        {"2024-03-12T08:30:00+0700", T_TEXT, 1710207000000000LL},
        {"2024-03-12 01:30", T_TEXT, 1710207000000000LL},
        {"1710207000", T_INT8, 1710207000000000LL},
        {"1710207000.5", T_NUMERIC, 1710207000500000LL},
        {"1710207000", T_TEXT, 1710207000000000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        us = 0;
        if (sql_parse_time(ok[i].text, ok[i].type, &us) != IOC_OK || us != ok[i].us)
            fail_msg("\"%s\": got %lld, want %lld", ok[i].text, (long long)us,
                     (long long)ok[i].us);
    }
    static const char *const bad[] = {"", "infinity", "-infinity", "2023-02-29", "2024-13-01",
                                      "2024-03-12 24:00:00+00", "0044-03-15 BC",
                                      "2024-03-12 01:30:00+16", "2024-03-12 01:30:00 UTC",
                                      "1e12", "yesterday", "2024-3-12"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sql_parse_time(bad[i], T_TEXT, &us) != IOC_EINVAL)
            fail_msg("\"%s\" was taken as a time", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
