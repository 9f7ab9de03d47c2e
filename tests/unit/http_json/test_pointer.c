/* http_json's RFC 6901 JSON pointers and its time parsing. */
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_rec.h"

/* The example document of RFC 6901 section 5. */
static const char rfc_doc[] =
    "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3, \"g|h\": 4,"
    " \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8}";

static void test_rfc6901_examples(void **state)
{
    static const struct { const char *ptr; int value; } cases[] = {
        {"/foo/0", -1}, {"/", 0}, {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
        {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7}, {"/m~0n", 8}};
    (void)state;
    cJSON *doc = cJSON_Parse(rfc_doc);
    assert_non_null(doc);
    assert_ptr_equal(hj_pointer_get(doc, ""), doc);
    const cJSON *foo = hj_pointer_get(doc, "/foo");
    assert_true(cJSON_IsArray(foo));
    assert_int_equal(cJSON_GetArraySize(foo), 2);
    assert_string_equal(hj_pointer_get(doc, "/foo/0")->valuestring, "bar");
    assert_string_equal(hj_pointer_get(doc, "/foo/1")->valuestring, "baz");
    for (size_t i = 1; i < sizeof cases / sizeof cases[0]; i++) {
        const cJSON *n = hj_pointer_get(doc, cases[i].ptr);
        if (!n || !cJSON_IsNumber(n) || n->valueint != cases[i].value)
            fail_msg("pointer %s: expected %d", cases[i].ptr, cases[i].value);
    }
    cJSON_Delete(doc);
}

static void test_pointer_edges(void **state)
{
    (void)state;
    cJSON *doc = cJSON_Parse("{\"arr\": [10, 11, {\"x\": [true]}], \"~1\": \"tilde-one\","
                             " \"s\": \"str\", \"n\": null, \"a\": {\"\": {\"b\": 9}}}");
    assert_non_null(doc);
    assert_int_equal(hj_pointer_get(doc, "/arr/2/x/0")->type & 0xff, cJSON_True);
    assert_null(hj_pointer_get(doc, "/arr/01"));   /* leading zero is not an index */
    assert_null(hj_pointer_get(doc, "/arr/-"));    /* past-the-end: nothing to read */
    assert_null(hj_pointer_get(doc, "/arr/3"));
    assert_null(hj_pointer_get(doc, "/arr/-1"));
    assert_null(hj_pointer_get(doc, "/arr/1x"));
    assert_null(hj_pointer_get(doc, "/arr/99999999999"));
    assert_null(hj_pointer_get(doc, "/s/0"));      /* a string is not a container */
    assert_null(hj_pointer_get(doc, "/missing"));
    assert_null(hj_pointer_get(doc, "/ARR"));      /* case-sensitive */
    assert_null(hj_pointer_get(doc, "/arr~"));     /* a bare ~ matches nothing */
    assert_string_equal(hj_pointer_get(doc, "/~01")->valuestring, "tilde-one");
    assert_true(cJSON_IsNull(hj_pointer_get(doc, "/n")));
    assert_int_equal(hj_pointer_get(doc, "/a//b")->valueint, 9);
    assert_int_equal(hj_pointer_get(doc, "/arr/1")->valueint, 11);
    cJSON_Delete(doc);
}

static void test_pointer_check(void **state)
{
    size_t off = 99;
    (void)state;
    assert_int_equal(hj_pointer_check("", &off), 0);
    assert_int_equal(hj_pointer_check("/a/~0/~1", &off), 0);
    assert_int_equal(hj_pointer_check("a/b", &off), -1);
    assert_int_equal(off, 0);
    assert_int_equal(hj_pointer_check("/ab/~2", &off), -1);
    assert_int_equal(off, 4);
    assert_int_equal(hj_pointer_check("/x~", &off), -1);
    assert_int_equal(off, 2);
}

static void test_iso_times(void **state)
{
    static const struct { const char *s; int64_t us; } ok[] = {
        {"2016-12-07T11:15:00Z", 1481109300000000LL},
        {"2016-12-07T11:15:00", 1481109300000000LL},            /* no zone: UTC */
        {"2016-12-07 11:15:00z", 1481109300000000LL},
        {"2016-12-07T11:10:00/2016-12-07T11:15:00", 1481109300000000LL}, /* interval: end */
        {"2021-01-11T15:51:02+05:30", 1610360462000000LL},
        {"2021-01-11T15:51:02+0530", 1610360462000000LL},
        {"2021-01-11T05:21:02-05", 1610360462000000LL},
        {"2024-03-12T08:30:00.250+07:00", 1710207000250000LL},
        {"2016-07-08T08:02:21.753Z", 1467964941753000LL},
        {"2024-03-12T01:30:00.1234567Z", 1710207000123456LL},
        {"2024-02-29", 1709164800000000LL},
        {"2024-02-29T23:59", 1709251140000000LL},
        {"1970-01-01T00:00:00Z", 0},
    };
    static const char *const bad[] = {
        "", "yesterday", "2016-13-01", "2023-02-29", "2016-12-07T24:00:00Z", "2016-12-07T11:60",
        "2016-12-07T11:15:00+25:00", "2016-12-07T11:15:00Zjunk", "2016-12-07T11:15:00.",
        "16-12-07", "1969-12-31T23:59:59Z", "2016-12-07T11:10:00/P1D", "2016-12-7"};
    int64_t us;
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        us = -1;
        if (hj_time_parse_iso(ok[i].s, &us) != 0 || us != ok[i].us)
            fail_msg("%s: got %lld, want %lld", ok[i].s, (long long)us, (long long)ok[i].us);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hj_time_parse_iso(bad[i], &us) == 0)
            fail_msg("%s: accepted as %lld", bad[i], (long long)us);
}

static void test_epoch_times(void **state)
{
    int64_t us;
    (void)state;
    assert_int_equal(hj_time_from_epoch(1710207000, &us), 0);
    assert_int_equal(us, 1710207000000000LL);
    assert_int_equal(hj_time_from_epoch(1710207000.5, &us), 0);
    assert_int_equal(us, 1710207000500000LL);
    assert_int_equal(hj_time_from_epoch(1710207000250.0, &us), 0); /* milliseconds */
    assert_int_equal(us, 1710207000250000LL);
    assert_int_equal(hj_time_from_epoch(-1, &us), -1);
    assert_int_equal(hj_time_from_epoch(1e300, &us), -1);
    cJSON *n = cJSON_Parse("{\"@type\": \"DateTime\", \"@value\": \"2024-02-29\"}");
    assert_int_equal(hj_time_from_node(n, &us), 0);
    assert_int_equal(us, 1709164800000000LL);
    cJSON_Delete(n);
    n = cJSON_CreateTrue();
    assert_int_equal(hj_time_from_node(n, &us), -1);
    cJSON_Delete(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6901_examples),
        cmocka_unit_test(test_pointer_edges),
        cmocka_unit_test(test_pointer_check),
        cmocka_unit_test(test_iso_times),
        cmocka_unit_test(test_epoch_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
