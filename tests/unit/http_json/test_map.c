/* http_json generic mapping (items, metrics, time, tags pointers), bad documents, chunking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_rec.h"

#define NOW_US 1700000000000000LL

static int run(const char *cfg_json, const char *text, size_t len, rec_t *r, hj_map_stats_t *st,
               char *err, size_t errlen)
{
    hj_map_cfg_t cfg;
    cJSON *obj = rec_map_cfg(cfg_json, &cfg);
    err[0] = '\0';
    int rc = hj_map(&cfg, text, len, NOW_US, rec_sink, r, st, err, errlen);
    cJSON_Delete(obj);
    return rc;
}

static const char vendor_cfg[] =
    "{\"items\": \"/data/sensors\","
    " \"metrics\": [{\"metric\": \"traffic.speed\", \"value\": \"/speed\"},"
    "               {\"metric\": \"traffic.flow\", \"value\": \"/counts/flow\"},"
    "               {\"metric\": \"traffic.congested\", \"value\": \"/state\","
    "                \"value_map\": {\"free\": 0, \"jam\": 1}}],"
    " \"time\": \"/ts\", \"tags\": {\"id\": \"/id\", \"district\": \"/where/district\","
    "  \"lane\": \"/lane\"}}";

static void test_vendor_payload(void **state)
{
    static const char text[] =
        "{\"data\": {\"sensors\": ["
        " {\"id\": \"TA-TS-001\", \"where\": {\"district\": \"Tân An\"}, \"lane\": 2,"
        "  \"speed\": 41.5, \"counts\": {\"flow\": 12}, \"state\": \"free\","
        "  \"ts\": \"2024-03-12T08:30:00+07:00\"},"
        " {\"id\": \"TA-TS-002\", \"where\": {\"district\": \"Tân An\"},"
        "  \"speed\": \"38.25\", \"counts\": {\"flow\": null}, \"state\": \"jam\", \"ts\": 1710207000},"
        " {\"id\": \"TA-TS-003\", \"speed\": 50, \"counts\": {\"flow\": 3}, \"state\": \"unknown\","
        "  \"ts\": 1710207000123},"
        " {\"id\": \"TA-TS-004\", \"speed\": 9, \"ts\": \"not a time\"},"
        " {\"id\": \"TA-TS-005\", \"speed\": true, \"counts\": {\"flow\": \"12 cars\"}}"
        "]}}";
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    assert_int_equal(run(vendor_cfg, text, strlen(text), &r, &st, err, sizeof err), IOC_OK);
    const char *t1 = "district=Tân An,id=TA-TS-001,lane=2";
    const char *t2 = "district=Tân An,id=TA-TS-002";
    const rec_sample_t *s = rec_find(&r, "traffic.speed", t1);
    assert_non_null(s);
    assert_float_equal(s->value, 41.5, 0);
    assert_int_equal(s->ts_us, 1710207000000000LL); /* 08:30 at UTC+7 */
    assert_float_equal(rec_find(&r, "traffic.flow", t1)->value, 12, 0);
    assert_float_equal(rec_find(&r, "traffic.congested", t1)->value, 0, 0);
    s = rec_find(&r, "traffic.speed", t2);
    assert_float_equal(s->value, 38.25, 0);  /* a numeric text */
    assert_int_equal(s->ts_us, 1710207000000000LL);
    assert_null(rec_find(&r, "traffic.flow", t2)); /* null: skipped */
    assert_float_equal(rec_find(&r, "traffic.congested", t2)->value, 1, 0);
    s = rec_find(&r, "traffic.speed", "id=TA-TS-003");
    assert_int_equal(s->ts_us, 1710207000123000LL); /* epoch milliseconds */
    assert_null(rec_find(&r, "traffic.congested", "id=TA-TS-003")); /* not in the map */
    assert_null(rec_find(&r, "traffic.speed", "id=TA-TS-004")); /* bad time: item skipped */
    s = rec_find(&r, "traffic.speed", "id=TA-TS-005");
    assert_float_equal(s->value, 1, 0);
    assert_int_equal(s->ts_us, NOW_US); /* no time: the poll's */
    assert_int_equal(r.n, 8);
    assert_int_equal(st.items, 5);
    assert_int_equal(st.samples, 8);
    /* flow null (002), state "unknown" (003), item 004 whole, flow "12 cars" and no state (005) */
    assert_int_equal(st.skipped, 5);
    assert_string_equal(st.first_skip, "items[1]/counts/flow: no value for traffic.flow");
    rec_free(&r);
}

static void test_document_is_the_item(void **state)
{
    static const char text[] = "{\"temp\": 31.5, \"station\": \"Bến Lức\"}";
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    assert_int_equal(run("{\"metrics\": [{\"metric\": \"weather.temp\", \"value\": \"/temp\"}],"
                         " \"tags\": {\"station\": \"/station\"}}",
                         text, strlen(text), &r, &st, err, sizeof err), IOC_OK);
    assert_int_equal(r.n, 1);
    assert_float_equal(rec_find(&r, "weather.temp", "station=Bến Lức")->value, 31.5, 0);
    rec_free(&r);
    /* An array of plain numbers, each item its own value. */
    assert_int_equal(run("{\"items\": \"/v\", \"metrics\": [{\"metric\": \"x\", \"value\": \"\"}]}",
                         "{\"v\": [1, 2, 3.5]}", 18, &r, &st, err, sizeof err), IOC_OK);
    assert_int_equal(r.n, 3);
    assert_float_equal(r.s[0].value + r.s[1].value + r.s[2].value, 6.5, 0);
    rec_free(&r);
}

static void test_bad_documents(void **state)
{
    static const char cfg[] = "{\"items\": \"/items\", \"metrics\": [{\"metric\": \"m\", "
                              "\"value\": \"/v\"}]}";
    static const char broken[] = "{\"items\": [\n  {\"v\": 1},\n  {\"v\": }\n]}";
    static const char nul[] = "{\"items\": [{\"v\": 1}]}\0{}";
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    assert_int_equal(run(cfg, broken, strlen(broken), &r, &st, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "line 3 column 9: not valid JSON");
    assert_int_equal(run(cfg, "", 0, &r, &st, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "line 1 column 1: not valid JSON");
    assert_int_equal(run(cfg, "{\"v\": 1}", 8, &r, &st, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "items \"/items\": not found in the document");
    assert_int_equal(run(cfg, "{\"items\": 5}", 12, &r, &st, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "items \"/items\": not an array or object");
    assert_int_equal(run(cfg, nul, sizeof nul - 1, &r, &st, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "line 1 column 22: NUL byte in the document");
    assert_int_equal(run(cfg, "[1] [2]", 7, &r, &st, err, sizeof err), IOC_EINVAL);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.calls, 0);
    /* Strings that ingest would refuse are skipped here: invalid UTF-8, empty, too long. */
    char big[600];
    memset(big, 'a', sizeof big);
    big[0] = '\0';
    strcat(big, "{\"items\": [{\"v\": 1, \"t\": \"ok\"}, {\"v\": 2, \"t\": \"\xff\"},"
                " {\"v\": 3, \"t\": \"\"}, {\"v\": 4, \"t\": \"");
    size_t n = strlen(big);
    memset(big + n, 'x', 300);
    strcpy(big + n + 300, "\"}]}");
    assert_int_equal(run("{\"items\": \"/items\", \"metrics\": [{\"metric\": \"m\", \"value\": "
                         "\"/v\"}], \"tags\": {\"t\": \"/t\"}}",
                         big, strlen(big), &r, &st, err, sizeof err), IOC_OK);
    assert_int_equal(r.n, 4);
    assert_non_null(rec_find(&r, "m", "t=ok"));
    for (size_t i = 1; i < 4; i++)
        assert_string_equal(r.s[i].tags, ""); /* the bad tag is left off, the value kept */
    rec_free(&r);
}

static void test_chunks_and_refusal(void **state)
{
    size_t cap = 1000 * 48 + 64, n = 0;
    char *text = malloc(cap);
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "[");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s{\"id\": \"S-%04d\", \"v\": %d}",
                              i ? "," : "", i, i);
    n += (size_t)snprintf(text + n, cap - n, "]");
    static const char cfg[] = "{\"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"},"
                              " {\"metric\": \"m2\", \"value\": \"/v\"}], \"tags\": {\"id\": \"/id\"}}";
    assert_int_equal(run(cfg, text, n, &r, &st, err, sizeof err), IOC_OK);
    assert_int_equal(r.n, 2000);
    assert_true(r.calls >= 8);
    assert_true(r.max_chunk <= 256);
    for (int i = 0; i < 1000; i += 111) {
        char tags[32];
        snprintf(tags, sizeof tags, "id=S-%04d", i);
        assert_float_equal(rec_find(&r, "m", tags)->value, i, 0);
        assert_float_equal(rec_find(&r, "m2", tags)->value, i, 0);
    }
    rec_free(&r);
    /* The host refuses the third chunk: mapping stops with its code. */
    r.refuse_at = 3;
    assert_int_equal(run(cfg, text, n, &r, &st, err, sizeof err), IOC_EFULL);
    assert_int_equal(r.calls, 3);
    assert_int_equal(r.n, 2 * 256);
    assert_string_equal(err, "the host refused samples (code -4)");
    rec_free(&r);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_payload),
        cmocka_unit_test(test_document_is_the_item),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_chunks_and_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
