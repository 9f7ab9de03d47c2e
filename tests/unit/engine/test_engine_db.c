/* The engine against a real PostgreSQL: rollups persisted idempotently and readable through the
 * views, history from engine_series, and a restart warmed from raw samples and rollups. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_db.h"
#include "helper_engine.h"
#include "ioc/error.h"
#include "store/store.h"

static uv_loop_t loop;

static const char inds[] =
    "[{\"id\":\"lights\",\"name\":{\"vi\":\"\\u0110\\u00e8n\"},\"metric\":\"on\",\"agg\":\"sum\","
    "  \"group_by\":[\"district\"]},"
    " {\"id\":\"events\",\"name\":{\"vi\":\"e\"},\"metric\":\"on\",\"agg\":\"count\"}]";

static void on_state(void *ud, bool up) { *(bool *)ud = up; }
static void on_store_closed(void *ud) { *(bool *)ud = true; }

typedef struct series_res {
    bool done;
    int status;
    cJSON *points;
} series_res_t;

static void on_series(void *ud, int status, cJSON *points)
{
    series_res_t *r = ud;
    r->done = true;
    r->status = status;
    r->points = points;
}

static engine_t *real_engine(const char *dsn)
{
    char err[256];
    engine_t *e;
    config_t *cfg = helper_config(inds);
    assert_int_equal(engine_create(&loop, cfg, NULL, &e, err, sizeof err), 0);
    config_free(cfg); /* the engine keeps nothing of the config */
    engine_set_dsn(e, dsn);
    return e;
}

static bool warmed(engine_t *e) { return e->db && !eng_db_warming(e->db); }

static void wait_warm(engine_t *e)
{
    for (int i = 0; i < 200 && !warmed(e); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(warmed(e));
}

/* Inserts one raw sample as the store would have committed it. */
static void raw(const char *dsn, const char *district, const char *id, int64_t ts, double v)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH s AS (INSERT INTO series (metric, tags) VALUES ('on', "
             "jsonb_build_object('district', '%s', 'id', '%s')) ON CONFLICT (metric, tags) "
             "DO UPDATE SET metric = EXCLUDED.metric RETURNING id) "
             "INSERT INTO samples (series_id, ts, value) SELECT id, to_timestamp(%lld / 1e6), %g "
             "FROM s", district, id, (long long)ts, v);
    helper_db_exec(dsn, sql);
}

static void close_engine(engine_t *e)
{
    bool done = false;
    engine_close(e, on_store_closed, &done);
    assert_true(helper_db_run_until(&loop, &done, 10000));
    helper_series_free_all();
}

static void test_rollups_and_restart(void **state)
{
    (void)state;
    char *dsn = helper_db_make();
    if (!dsn)
        skip();
    bool up = false, closed = false;
    store_t *store;
    store_opts_t so = {.dsn = dsn, .on_state = on_state, .ud = &up};
    assert_int_equal(store_create(&loop, &so, &store), 0);
    assert_true(helper_db_run_until(&loop, &up, 20000));

    engine_t *e = real_engine(dsn);
    wait_warm(e);
    int64_t now = eng_now(e);
    const char *ids[] = {"1", "2", "3"};
    const char *raw_districts[] = {"Tân An", "Tân An", "Bến Lức"};
    double vals[] = {40, 50, 7};
    for (int i = 0; i < 3; i++) {
        char tags[128];
        snprintf(tags, sizeof tags, "{\"district\":\"%s\",\"id\":\"%s\"}", raw_districts[i], ids[i]);
        engine_on_sample(e, helper_series("on", tags), now - 20 * SEC, vals[i] - 1);
        engine_on_sample(e, helper_series("on", tags), now - 10 * SEC, vals[i]);
        raw(dsn, raw_districts[i], ids[i], now - 20 * SEC, vals[i] - 1);
        raw(dsn, raw_districts[i], ids[i], now - 10 * SEC, vals[i]);
    }
    eng_run_tick(e);
    assert_float_equal(helper_group(e, "lights", "Tân An")->value, 90, 0);
    assert_float_equal(helper_group(e, "lights", "")->value, 97, 0);
    assert_float_equal(helper_group(e, "events", "")->value, 6, 0);

    /* the flush runs within ~5s of ticks; the rows are readable through the views */
    bool never = false;
    helper_db_run_until(&loop, &never, 6500);
    assert_float_equal(helper_db_number(dsn, "SELECT value FROM rollups_1m WHERE "
                       "indicator = 'lights' AND grp = 'Tân An' ORDER BY ts DESC LIMIT 1"), 90, 0);
    assert_float_equal(helper_db_number(dsn, "SELECT sum(count) FROM rollups_1m WHERE "
                       "indicator = 'events' AND grp = ''"), 6, 0);
    assert_float_equal(helper_db_number(dsn, "SELECT sum(count) FROM rollups_1h WHERE "
                       "indicator = 'lights' AND grp = ''"), 6, 0);
    assert_float_equal(helper_db_number(dsn, "SELECT max(max) FROM rollups_1d WHERE "
                       "indicator = 'lights' AND grp = 'Bến Lức'"), 7, 0);
    char minute_rows[160];
    snprintf(minute_rows, sizeof minute_rows,
             "SELECT count(*) FROM rollup_1m WHERE ts = to_timestamp(%lld)",
             (long long)((now - 10 * SEC) / MINUTE * 60));
    double rows = helper_db_number(dsn, minute_rows);
    assert_float_equal(rows, 4, 0); /* lights: 2 groups and the total; events: the total */

    series_res_t r = {0};
    assert_int_equal(engine_series(e, "nope", "", now - 3600 * SEC, now + MINUTE, MINUTE,
                                   on_series, &r), IOC_ENOTFOUND);
    assert_int_equal(engine_series(e, "lights", "", now - 3600 * SEC, now + MINUTE, 90 * SEC,
                                   on_series, &r), IOC_EINVAL);
    assert_int_equal(engine_series(e, "lights", "Tân An", now - 3600 * SEC, now + MINUTE,
                                   MINUTE, on_series, &r), 0);
    assert_true(helper_db_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.status, 0);
    assert_true(cJSON_GetArraySize(r.points) >= 1);
    cJSON *last = cJSON_GetArrayItem(r.points, cJSON_GetArraySize(r.points) - 1);
    assert_float_equal(cJSON_GetObjectItem(last, "value")->valuedouble, 90, 0);
    assert_float_equal(cJSON_GetObjectItem(last, "max")->valuedouble, 90, 0);
    cJSON_Delete(r.points);

    close_engine(e);
    /* the last flush rewrote the same minute: no new rows for it */
    assert_float_equal(helper_db_number(dsn, minute_rows), rows, 0);

    /* a restart warms the windows from raw samples and the minutes from the rollups */
    e = real_engine(dsn);
    wait_warm(e);
    eng_run_tick(e);
    assert_true(helper_group(e, "lights", "Tân An")->has);
    assert_float_equal(helper_group(e, "lights", "Tân An")->value, 90, 0);
    assert_float_equal(helper_group(e, "lights", "")->value, 97, 0);
    assert_float_equal(helper_group(e, "events", "")->value, 6, 0);
    int64_t m = (now - 10 * SEC) / MINUTE;
    eng_minute_t *mi = &helper_group(e, "events", "")->minutes[m % ENG_MINUTES];
    assert_int_equal(mi->minute, m);
    assert_true(mi->count >= 3);
    close_engine(e);

    store_close(store, on_store_closed, &closed);
    assert_true(helper_db_run_until(&loop, &closed, 10000));
    free(dsn);
}

int main(void)
{
    uv_loop_init(&loop);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollups_and_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    uv_loop_close(&loop);
    return rc;
}
