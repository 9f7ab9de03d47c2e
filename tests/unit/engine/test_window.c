/* Engine windows against hand-computed values: every aggregation, group-by and the derived
 * total, filters, ageing out on the tick, late samples and the rollup minutes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helper_engine.h"

#define TAN_A "{\"district\":\"T\\u00e2n An\",\"id\":\"a\"}"

static uv_loop_t loop;

static const char gauges[] =
    "[{\"id\":\"avg\",\"name\":{\"vi\":\"a\"},\"metric\":\"m\",\"agg\":\"avg\"},"
    " {\"id\":\"sum\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"sum\"},"
    " {\"id\":\"min\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"min\"},"
    " {\"id\":\"max\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"max\"},"
    " {\"id\":\"last\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"last\"},"
    " {\"id\":\"count\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"count\"},"
    " {\"id\":\"rate\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"rate\"}]";

static double value(engine_t *e, const char *id, const char *group)
{
    eng_group_t *g = helper_group(e, id, group);
    assert_true(g->has);
    return g->value;
}

/* Gauges take each series' latest value; count and rate take every sample. */
static void test_each_agg(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, gauges);
    series_t *a = helper_series("m", "{\"id\":\"a\"}"), *b = helper_series("m", "{\"id\":\"b\"}");
    series_t *c = helper_series("m", "{\"id\":\"c\"}"), *other = helper_series("n", "{}");
    engine_on_sample(e, a, T0 - 50 * SEC, 10);
    engine_on_sample(e, b, T0 - 40 * SEC, 5);
    engine_on_sample(e, a, T0 - 30 * SEC, 20); /* a's latest: 20 */
    engine_on_sample(e, c, T0 - 20 * SEC, 30);
    engine_on_sample(e, c, T0 - 60 * SEC, 99); /* older than c's latest: not its value */
    engine_on_sample(e, other, T0 - 10 * SEC, 1000);
    helper_tick(e, T0);
    assert_float_equal(value(e, "avg", ""), 55.0 / 3, 1e-9);
    assert_float_equal(value(e, "sum", ""), 55, 1e-9);
    assert_float_equal(value(e, "min", ""), 5, 1e-9);
    assert_float_equal(value(e, "max", ""), 30, 1e-9);
    assert_float_equal(value(e, "last", ""), 30, 1e-9);
    assert_float_equal(value(e, "count", ""), 5, 1e-9);
    assert_float_equal(value(e, "rate", ""), 5.0 / 300, 1e-12);
    assert_int_equal(helper_group(e, "sum", "")->ts, T0 - 20 * SEC);
    /* the max series drops: max must be recomputed, not kept */
    engine_on_sample(e, c, T0 + SEC, 1);
    helper_tick(e, T0 + 2 * SEC);
    assert_float_equal(value(e, "max", ""), 20, 1e-9);
    assert_float_equal(value(e, "min", ""), 1, 1e-9);
    assert_float_equal(value(e, "sum", ""), 26, 1e-9);
    assert_float_equal(value(e, "last", ""), 1, 1e-9);
    helper_engine_close(&loop, e);
}

/* Windows age out on the tick with no new sample. */
static void test_ageing(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, gauges);
    series_t *a = helper_series("m", "{\"id\":\"a\"}"), *b = helper_series("m", "{\"id\":\"b\"}");
    engine_on_sample(e, a, T0 - 4 * MINUTE, 10);
    engine_on_sample(e, b, T0 - 1 * MINUTE, 30);
    helper_tick(e, T0);
    assert_float_equal(value(e, "sum", ""), 40, 1e-9);
    assert_float_equal(value(e, "count", ""), 2, 1e-9);
    helper_tick(e, T0 + 2 * MINUTE); /* a (T0-4m) is now older than 5m */
    assert_float_equal(value(e, "sum", ""), 30, 1e-9);
    assert_float_equal(value(e, "avg", ""), 30, 1e-9);
    assert_float_equal(value(e, "min", ""), 30, 1e-9);
    assert_float_equal(value(e, "count", ""), 1, 1e-9);
    helper_tick(e, T0 + 5 * MINUTE);
    assert_false(helper_group(e, "sum", "")->has);
    assert_int_equal(helper_group(e, "sum", "")->status, ST_NODATA);
    assert_float_equal(value(e, "count", ""), 0, 1e-9);
    helper_engine_close(&loop, e);
}

static const char grouped[] =
    "[{\"id\":\"g.sum\",\"name\":{\"vi\":\"s\"},\"metric\":\"m\",\"agg\":\"sum\","
    "  \"group_by\":[\"district\"]},"
    " {\"id\":\"g.avg\",\"name\":{\"vi\":\"a\"},\"metric\":\"m\",\"agg\":\"avg\","
    "  \"group_by\":[\"district\"]},"
    " {\"id\":\"g.p\",\"name\":{\"vi\":\"a\"},\"metric\":\"m\",\"agg\":\"p50\","
    "  \"group_by\":[\"district\"]},"
    " {\"id\":\"f.sum\",\"name\":{\"vi\":\"f\"},\"metric\":\"m\",\"agg\":\"sum\","
    "  \"filter\":{\"kind\":\"x\"}}]";

static void test_group_by_and_filter(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, grouped);
    series_t *a1 = helper_series("m", "{\"district\":\"T\\u00e2n An\",\"id\":\"1\",\"kind\":\"x\"}");
    series_t *a2 = helper_series("m", "{\"district\":\"T\\u00e2n An\",\"id\":\"2\"}");
    series_t *b1 = helper_series("m", "{\"district\":\"B\\u1ebfn L\\u1ee9c\",\"id\":\"3\",\"kind\":\"x\"}");
    series_t *none = helper_series("m", "{\"id\":\"4\",\"kind\":\"y\"}"); /* no district */
    engine_on_sample(e, a1, T0 - SEC, 10);
    engine_on_sample(e, a2, T0 - SEC, 20);
    engine_on_sample(e, b1, T0 - SEC, 60);
    engine_on_sample(e, none, T0 - SEC, 1000);
    helper_tick(e, T0);
    assert_float_equal(value(e, "g.sum", "Tân An"), 30, 1e-9);
    assert_float_equal(value(e, "g.sum", "Bến Lức"), 60, 1e-9);
    assert_float_equal(value(e, "g.sum", ""), 90, 1e-9); /* the series without district: out */
    assert_float_equal(value(e, "g.avg", "Tân An"), 15, 1e-9);
    assert_float_equal(value(e, "g.avg", ""), 30, 1e-9); /* (10+20+60)/3, not (15+60)/2 */
    assert_float_equal(value(e, "f.sum", ""), 70, 1e-9);
    assert_int_equal(eng_ind_find(e, "g.sum")->ngroups, 2);
    /* p50 of the total merges the groups' sketches: {10, 20, 60} -> 20 within 5% */
    assert_float_equal(value(e, "g.p", ""), 20, 1.0);
    assert_float_equal(value(e, "g.p", "Bến Lức"), 60, 3.0);
    helper_engine_close(&loop, e);
}

static void test_percentiles(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop,
        "[{\"id\":\"p50\",\"name\":{\"vi\":\"p\"},\"metric\":\"m\",\"agg\":\"p50\"},"
        " {\"id\":\"p95\",\"name\":{\"vi\":\"p\"},\"metric\":\"m\",\"agg\":\"p95\"}]");
    series_t *s = helper_series("m", "{}");
    for (int i = 1; i <= 100; i++)
        engine_on_sample(e, s, T0 - 100 * SEC + i * SEC, i);
    helper_tick(e, T0);
    assert_float_equal(value(e, "p50", ""), 50, 50 * 0.05);
    assert_float_equal(value(e, "p95", ""), 95, 95 * 0.05);
    /* 5s buckets: at T0+275s the bucket of T0-25s..T0-20s and older have left the window,
     * which keeps samples 80..100 (21 values): p50 is 90 */
    helper_tick(e, T0 + 275 * SEC);
    assert_float_equal(value(e, "p50", ""), 90, 90 * 0.06);
    assert_float_equal(value(e, "p50", ""), eng_group_find(eng_ind_find(e, "p50"), "", false)->value, 0);
    helper_engine_close(&loop, e);
}

/* A late sample counts in its own minute's rollup, not in the live window; beyond 1h: ignored. */
static void test_late_sample(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, gauges);
    series_t *a = helper_series("m", "{\"id\":\"a\"}");
    int64_t late = T0 - 30 * MINUTE;
    engine_on_sample(e, a, late, 7);
    engine_on_sample(e, a, T0 - 2 * 3600 * SEC, 8);
    helper_tick(e, T0);
    assert_false(helper_group(e, "sum", "")->has);
    assert_float_equal(value(e, "count", ""), 0, 0);
    eng_group_t *g = helper_group(e, "count", "");
    eng_minute_t *mi = &g->minutes[(late / MINUTE) % ENG_MINUTES];
    assert_int_equal(mi->minute, late / MINUTE);
    assert_int_equal(mi->count, 1);
    assert_true(mi->dirty);
    int64_t old = (T0 - 2 * 3600 * SEC) / MINUTE;
    assert_int_not_equal(g->minutes[old % ENG_MINUTES].minute, old);
    /* a sample late by less than the window still counts live */
    engine_on_sample(e, a, T0 - 3 * MINUTE, 5);
    helper_tick(e, T0 + SEC);
    assert_float_equal(value(e, "sum", ""), 5, 0);
    assert_float_equal(value(e, "count", ""), 1, 0);
    helper_engine_close(&loop, e);
}

/* The minute rollup holds the mean, min and max of the tick values and the samples' count. */
static void test_minute_rollup(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, gauges);
    series_t *a = helper_series("m", "{\"id\":\"a\"}");
    int64_t m0 = (T0 / MINUTE + 1) * MINUTE; /* the start of a minute */
    helper_tick(e, m0);
    engine_on_sample(e, a, m0 + SEC, 10);
    helper_tick(e, m0 + 2 * SEC);
    engine_on_sample(e, a, m0 + 3 * SEC, 20);
    helper_tick(e, m0 + 4 * SEC);
    engine_on_sample(e, a, m0 + 5 * SEC, 60);
    helper_tick(e, m0 + 6 * SEC);
    eng_minute_t *mi = &helper_group(e, "sum", "")->minutes[(m0 / MINUTE) % ENG_MINUTES];
    assert_int_equal(mi->minute, m0 / MINUTE);
    assert_int_equal(mi->ticks, 3); /* the tick at m0 had no data: not a tick of the mean */
    assert_float_equal(mi->sum_v / mi->ticks, 30, 1e-9);
    assert_float_equal(mi->min, 10, 0);
    assert_float_equal(mi->max, 60, 0);
    assert_int_equal(mi->count, 3);
    helper_engine_close(&loop, e);
}

static void test_json(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop, grouped);
    engine_on_sample(e, helper_series("m", TAN_A), T0 - SEC, 4);
    helper_tick(e, T0);
    cJSON *j = engine_indicators_json(e);
    cJSON *inds = cJSON_GetObjectItem(j, "indicators");
    assert_int_equal(cJSON_GetArraySize(inds), 4);
    cJSON *first = cJSON_GetArrayItem(inds, 0);
    assert_string_equal(cJSON_GetObjectItem(first, "id")->valuestring, "g.sum");
    assert_float_equal(cJSON_GetObjectItem(first, "value")->valuedouble, 4, 0);
    assert_string_equal(cJSON_GetObjectItem(first, "status")->valuestring, "ok");
    assert_string_equal(cJSON_GetObjectItem(first, "window")->valuestring, "5m");
    cJSON *g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(first, "groups"), 0);
    assert_string_equal(cJSON_GetObjectItem(g0, "group")->valuestring, "Tân An");
    assert_string_equal(cJSON_GetObjectItem(g0, "ts")->valuestring, "2023-11-14T22:13:19.000Z");
    cJSON *f = cJSON_GetArrayItem(inds, 3); /* f.sum: filter kind=x, none seen */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(f, "value")));
    assert_string_equal(cJSON_GetObjectItem(f, "status")->valuestring, "no-data");
    cJSON_Delete(j);
    helper_engine_close(&loop, e);
}

int main(void)
{
    uv_loop_init(&loop);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_agg),      cmocka_unit_test(test_ageing),
        cmocka_unit_test(test_group_by_and_filter), cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_late_sample),   cmocka_unit_test(test_minute_rollup),
        cmocka_unit_test(test_json),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    uv_loop_close(&loop);
    return rc;
}
