/* What the engine publishes and when: a no-data group once (not every tick), every change of
 * value or status, a sample after a quiet spell on the next loop turn, and under a steady
 * stream at most one publish per group per tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_engine.h"

#define TICK ((int64_t)ENG_TICK_MS * 1000)
#define MAX_PUBS 64

static uv_loop_t loop;

/* One published item, as the listener (and the hub) got it. */
typedef struct pub {
    char indicator[32], group[32], status[16];
    double value;
    bool has;
} pub_t;

static pub_t pubs[MAX_PUBS];
static size_t npubs;

static void on_value(void *ud, const char *indicator, const char *group, int64_t ts_us,
                     double value, bool has_value, const char *status)
{
    (void)ud;
    (void)ts_us;
    assert_true(npubs < MAX_PUBS);
    pub_t *p = &pubs[npubs++];
    snprintf(p->indicator, sizeof p->indicator, "%s", indicator);
    snprintf(p->group, sizeof p->group, "%s", group);
    snprintf(p->status, sizeof p->status, "%s", status);
    p->value = value;
    p->has = has_value;
}

/* How many items were published for (indicator, group) since the last reset. */
static size_t count_of(const char *indicator, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < npubs; i++)
        n += strcmp(pubs[i].indicator, indicator) == 0 && strcmp(pubs[i].group, group) == 0;
    return n;
}

/* The last item published for (indicator, group); fails if none. */
static const pub_t *last_of(const char *indicator, const char *group)
{
    for (size_t i = npubs; i-- > 0;)
        if (strcmp(pubs[i].indicator, indicator) == 0 && strcmp(pubs[i].group, group) == 0)
            return &pubs[i];
    fail_msg("nothing published for %s/%s", indicator, group);
    return NULL;
}

/* An engine whose listener records into pubs, with its real-time tick stopped: the test
 * drives ticks with helper_tick and loop turns with uv_run. */
static engine_t *engine(const char *indicators)
{
    engine_t *e = helper_engine(&loop, indicators);
    uv_timer_stop(&e->tick);
    engine_set_listener(e, on_value, NULL);
    npubs = 0;
    return e;
}

static const char speed[] =
    "[{\"id\":\"speed\",\"name\":{\"vi\":\"v\"},\"metric\":\"m\",\"agg\":\"avg\","
    "  \"window\":\"10s\","
    "  \"thresholds\":{\"warn\":30,\"crit\":20},\"better\":\"higher\"},"
    " {\"id\":\"by_d\",\"name\":{\"vi\":\"d\"},\"metric\":\"m\",\"agg\":\"sum\",\"window\":\"10s\","
    "  \"group_by\":[\"d\"]},"
    " {\"id\":\"empty\",\"name\":{\"vi\":\"e\"},\"metric\":\"none\",\"agg\":\"avg\"},"
    " {\"id\":\"none\",\"name\":{\"vi\":\"n\"},\"metric\":\"none\",\"agg\":\"count\"}]";

/* A no-data group (or a count that never saw a sample) is published on the first tick only;
 * value and status changes, and the window ageing out, are published at the tick they happen. */
static void test_nodata_once_changes_published(void **state)
{
    (void)state;
    engine_t *e = engine(speed);
    series_t *a = helper_series("m", "{\"d\":\"x\",\"id\":\"a\"}");
    helper_tick(e, T0);
    assert_int_equal(count_of("empty", ""), 1);
    assert_int_equal(count_of("speed", ""), 1);
    assert_false(last_of("empty", "")->has);
    assert_string_equal(last_of("empty", "")->status, "no-data");
    assert_true(last_of("none", "")->has); /* a count without samples is 0 */
    assert_float_equal(last_of("none", "")->value, 0, 1e-9);
    for (int i = 1; i <= 20; i++)
        helper_tick(e, T0 + i * TICK);
    assert_int_equal(npubs, 4); /* speed, by_d's total, empty and none, once each */

    npubs = 0;
    engine_on_sample(e, a, T0 + 5 * SEC, 40);
    helper_tick(e, T0 + 5 * SEC + TICK);
    assert_int_equal(count_of("speed", ""), 1);
    assert_true(last_of("speed", "")->has);
    assert_float_equal(last_of("speed", "")->value, 40, 1e-9);
    assert_string_equal(last_of("speed", "")->status, "ok");
    assert_int_equal(count_of("by_d", "x"), 1);
    assert_int_equal(count_of("by_d", ""), 1);
    for (int i = 2; i <= 8; i++) /* nothing changes */
        helper_tick(e, T0 + 5 * SEC + i * TICK);
    assert_int_equal(npubs, 3);

    engine_on_sample(e, a, T0 + 7 * SEC, 25); /* value and status change */
    helper_tick(e, T0 + 7 * SEC + TICK);
    assert_int_equal(count_of("speed", ""), 2);
    assert_float_equal(last_of("speed", "")->value, 25, 1e-9);
    assert_string_equal(last_of("speed", "")->status, "warn");

    npubs = 0;
    helper_tick(e, T0 + 17 * SEC + TICK); /* the 10 s window ages out */
    assert_int_equal(count_of("speed", ""), 1);
    assert_false(last_of("speed", "")->has);
    assert_string_equal(last_of("speed", "")->status, "no-data");
    assert_int_equal(count_of("by_d", "x"), 1);
    assert_false(last_of("by_d", "x")->has);
    for (int i = 2; i <= 20; i++)
        helper_tick(e, T0 + 17 * SEC + i * TICK);
    assert_int_equal(npubs, 3); /* speed, by_d x and by_d's total lost their data, once */
    helper_engine_close(&loop, e);
}

/* After a quiet tick, one loop turn publishes a sample's group (and its total) without a
 * tick; later samples in the same tick wait for it, which publishes the latest value once. */
static void test_prompt_after_quiet(void **state)
{
    (void)state;
    engine_t *e = engine(speed);
    series_t *a = helper_series("m", "{\"d\":\"x\",\"id\":\"a\"}");
    helper_tick(e, T0);
    helper_tick(e, T0 + TICK);
    npubs = 0;
    engine_on_sample(e, a, T0 + TICK + 100000, 50);
    engine_on_sample(e, a, T0 + TICK + 110000, 60); /* same loop turn: one evaluation */
    assert_int_equal(npubs, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(count_of("speed", ""), 1);
    assert_float_equal(last_of("speed", "")->value, 60, 1e-9);
    assert_int_equal(count_of("by_d", "x"), 1);
    assert_int_equal(count_of("by_d", ""), 1);
    assert_float_equal(last_of("by_d", "")->value, 60, 1e-9);
    assert_int_equal(npubs, 3);

    engine_on_sample(e, a, T0 + TICK + 120000, 70); /* already published in this tick: waits */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(npubs, 3);
    helper_tick(e, T0 + 2 * TICK);
    assert_int_equal(count_of("speed", ""), 2);
    assert_float_equal(last_of("speed", "")->value, 70, 1e-9);

    npubs = 0; /* quiet: a tick with no change, then a sample goes out on the next turn */
    helper_tick(e, T0 + 3 * TICK);
    assert_int_equal(npubs, 0);
    engine_on_sample(e, a, T0 + 3 * TICK + 1000, 80);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(count_of("speed", ""), 1);
    assert_float_equal(last_of("speed", "")->value, 80, 1e-9);
    helper_engine_close(&loop, e);
}

/* A steady stream (a sample every loop turn) publishes each group at most once per tick: the
 * first sample after a quiet tick on the next turn, then the ticks, each with the latest value. */
static void test_steady_once_per_tick(void **state)
{
    (void)state;
    engine_t *e = engine(speed);
    series_t *a = helper_series("m", "{\"d\":\"x\",\"id\":\"a\"}");
    helper_tick(e, T0);
    helper_tick(e, T0 + TICK);
    npubs = 0;
    int64_t ts = T0 + TICK;
    for (int tick = 1; tick <= 10; tick++) {
        /* npubs holds what the tick that opened this interval published */
        for (int k = 0; k < 10; k++) {
            ts += TICK / 10;
            engine_on_sample(e, a, ts - 1, tick * 100 + k);
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        assert_int_equal(count_of("speed", ""), 1);
        assert_int_equal(count_of("by_d", "x"), 1);
        assert_int_equal(count_of("by_d", ""), 1);
        if (tick == 1) /* the leading edge: the first sample, on its loop turn */
            assert_float_equal(last_of("speed", "")->value, 100, 1e-9);
        npubs = 0;
        helper_tick(e, ts);
        assert_int_equal(count_of("speed", ""), 1);
        assert_int_equal(count_of("by_d", "x"), 1);
        assert_int_equal(count_of("by_d", ""), 1);
        assert_float_equal(last_of("speed", "")->value, tick * 100 + 9, 1e-9);
    }
    helper_engine_close(&loop, e);
}

int main(void)
{
    uv_loop_init(&loop);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodata_once_changes_published),
        cmocka_unit_test(test_prompt_after_quiet),
        cmocka_unit_test(test_steady_once_per_tick),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    uv_loop_close(&loop);
    return rc;
}
