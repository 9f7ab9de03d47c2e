/* Series registry: canonical keys, validation with reasons, the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/series.h"

static ioc_sample_t sample(const char *metric, const ioc_tag_t *tags, size_t n)
{
    return (ioc_sample_t){.metric = metric, .tags = tags, .ntags = n, .value = 1.0};
}

static void test_tags_sorted_and_escaped(void **state)
{
    (void)state;
    ioc_tag_t tags[] = {{"id", "s\"1"}, {"district", "Tân An"}, {"a\\b", "x"}};
    char out[256];
    assert_int_equal(series_tags_json(tags, 3, out, sizeof out), 0);
    assert_string_equal(out, "{\"a\\\\b\":\"x\",\"district\":\"Tân An\",\"id\":\"s\\\"1\"}");
    assert_int_equal(series_tags_json(NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "{}");
    assert_int_equal(series_tags_json(tags, 3, out, 10), IOC_ETOOBIG);
}

static void test_same_series_any_tag_order(void **state)
{
    (void)state;
    series_registry_t r;
    series_registry_init(&r, 10);
    ioc_tag_t t1[] = {{"district", "Bến Lức"}, {"id", "7"}};
    ioc_tag_t t2[] = {{"id", "7"}, {"district", "Bến Lức"}};
    series_t *a, *b, *c;
    char err[128];
    ioc_sample_t s1 = sample("traffic.speed", t1, 2), s2 = sample("traffic.speed", t2, 2);
    ioc_sample_t s3 = sample("traffic.flow", t1, 2);
    assert_int_equal(series_intern(&r, &s1, &a, err, sizeof err), 0);
    assert_int_equal(series_intern(&r, &s2, &b, err, sizeof err), 0);
    assert_int_equal(series_intern(&r, &s3, &c, err, sizeof err), 0);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_string_equal(a->metric, "traffic.speed");
    assert_string_equal(a->tags_json, "{\"district\":\"Bến Lức\",\"id\":\"7\"}");
    assert_int_equal(r.count, 2);
    series_registry_free(&r);
}

static void test_invalid_samples_say_why(void **state)
{
    (void)state;
    series_registry_t r;
    series_registry_init(&r, 10);
    series_t *se;
    char err[128];
    ioc_tag_t dup[] = {{"a", "1"}, {"a", "2"}};
    ioc_tag_t empty[] = {{"a", ""}};
    ioc_tag_t bad_utf8[] = {{"a", "\xc3\x28"}};
    ioc_sample_t s = sample("m", dup, 2);
    assert_int_equal(series_intern(&r, &s, &se, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "duplicate tag key \"a\"");
    s = sample("m", empty, 1);
    assert_int_equal(series_intern(&r, &s, &se, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "tag value is empty");
    s = sample("m", bad_utf8, 1);
    assert_int_equal(series_intern(&r, &s, &se, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "tag value is not valid UTF-8");
    s = sample("", NULL, 0);
    assert_int_equal(series_intern(&r, &s, &se, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "metric is empty");
    s = sample("m", NULL, 0);
    s.value = 0.0 / 0.0;
    assert_int_equal(series_intern(&r, &s, &se, err, sizeof err), IOC_EINVAL);
    assert_non_null(strstr(err, "not a finite number"));
    assert_int_equal(r.count, 0);
    series_registry_free(&r);
}

static void test_cap_refuses_new_series_only(void **state)
{
    (void)state;
    series_registry_t r;
    series_registry_init(&r, 2);
    series_t *se;
    char err[128];
    ioc_sample_t a = sample("a", NULL, 0), b = sample("b", NULL, 0), c = sample("c", NULL, 0);
    assert_int_equal(series_intern(&r, &a, &se, err, sizeof err), 0);
    assert_int_equal(series_intern(&r, &b, &se, err, sizeof err), 0);
    assert_int_equal(series_intern(&r, &c, &se, err, sizeof err), IOC_EFULL);
    assert_int_equal(series_intern(&r, &a, &se, err, sizeof err), 0);
    assert_int_equal(r.count, 2);
    series_registry_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_sorted_and_escaped),
        cmocka_unit_test(test_same_series_any_tag_order),
        cmocka_unit_test(test_invalid_samples_say_why),
        cmocka_unit_test(test_cap_refuses_new_series_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
