/* Durations and sizes: table-driven, including overflow and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "ioc/error.h"

typedef struct good_case {
    const char *text;
    uint64_t want;
} good_case_t;

static const good_case_t good_durations[] = {
    {"0s", 0},
    {"1ms", 1},
    {"500ms", 500},
    {"10s", 10000},
    {"5m", 300000},
    {"1h", 3600000},
    {"7d", 604800000},
    {"1h30m", 5400000},
    {"1d2h3m4s5ms", 93784005},
    {"1m500ms", 60500},
    {"18446744073709551615ms", UINT64_MAX},
    {"213503982334d", 213503982334ULL * 86400000ULL},
    {"213503982334d14h", 213503982334ULL * 86400000ULL + 14 * 3600000ULL},
};

static const char *const bad_durations[] = {
    "", "10", "s", "ms", "10x", "-1s", "+1s", " 1s", "1s ", "1 s", "1.5s", "1S", "1sec",
    "30m1h",                     /* units must go largest first */
    "1s1s",                      /* and each at most once */
    "1mss", "1hh", "0x10s",
    "18446744073709551616ms",    /* overflows while reading digits */
    "18446744073709552s",        /* overflows when scaled */
    "213503982335d",             /* overflows when scaled by a day */
    "213503982334d1d",           /* repeated unit (would also overflow) */
    "213503982334d15h",          /* overflows when added */
};

static const good_case_t good_sizes[] = {
    {"0", 0},
    {"4096", 4096},
    {"1B", 1},
    {"2KB", 2000},
    {"500MB", 500000000},
    {"3GB", 3000000000ULL},
    {"2KiB", 2048},
    {"512MiB", 536870912},
    {"1GiB", 1073741824},
    {"18446744073709551615", UINT64_MAX},
    {"17179869183GiB", 17179869183ULL << 30},
};

static const char *const bad_sizes[] = {
    "", "GiB", "1 GiB", "1gib", "1kb", "1TB", "-1", "1.5GB", "1GiBx", " 1", "1e9",
    "18446744073709551616",  /* overflows while reading digits */
    "17179869184GiB",        /* overflows when scaled */
    "18446744073709552KB",   /* overflows when scaled */
};

static void test_durations_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_durations / sizeof good_durations[0]; i++) {
        uint64_t ms = 12345;
        int rc = config_parse_duration(good_durations[i].text, &ms);
        if (rc != 0 || ms != good_durations[i].want)
            fail_msg("duration \"%s\": rc=%d ms=%llu, want %llu", good_durations[i].text, rc,
                     (unsigned long long)ms, (unsigned long long)good_durations[i].want);
    }
}

static void test_durations_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++) {
        uint64_t ms = 12345;
        int rc = config_parse_duration(bad_durations[i], &ms);
        if (rc != IOC_EINVAL || ms != 12345)
            fail_msg("duration \"%s\" accepted (rc=%d ms=%llu)", bad_durations[i], rc,
                     (unsigned long long)ms);
    }
    assert_int_equal(config_parse_duration(NULL, &(uint64_t){0}), IOC_EINVAL);
}

static void test_sizes_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_sizes / sizeof good_sizes[0]; i++) {
        uint64_t n = 12345;
        int rc = config_parse_size(good_sizes[i].text, &n);
        if (rc != 0 || n != good_sizes[i].want)
            fail_msg("size \"%s\": rc=%d n=%llu, want %llu", good_sizes[i].text, rc,
                     (unsigned long long)n, (unsigned long long)good_sizes[i].want);
    }
}

static void test_sizes_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        uint64_t n = 12345;
        int rc = config_parse_size(bad_sizes[i], &n);
        if (rc != IOC_EINVAL || n != 12345)
            fail_msg("size \"%s\" accepted (rc=%d n=%llu)", bad_sizes[i], rc,
                     (unsigned long long)n);
    }
    assert_int_equal(config_parse_size(NULL, &(uint64_t){0}), IOC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations_good),
        cmocka_unit_test(test_durations_bad),
        cmocka_unit_test(test_sizes_good),
        cmocka_unit_test(test_sizes_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
