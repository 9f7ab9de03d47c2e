/* Unit tests for the store against a real PostgreSQL (IOCD_TEST_DSN), one database per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helper_pg.h"
#include "ingest/batch.h"
#include "store/store_schema.h"
#include "ioc/error.h"
#include "store/store.h"
#include "store/store_schema.h"

#define DAY_US (86400LL * 1000000LL)

typedef struct ctx {
    uv_loop_t loop;
    char *dsn;
    store_t *store;
    bool up, down_seen, committed, closed;
    int ups, downs, commit_status, commits;
} ctx_t;

static void on_state(void *ud, bool up)
{
    ctx_t *c = ud;
    c->up = up;
    if (up)
        c->ups++;
    else {
        c->downs++;
        c->down_seen = true;
    }
}

static void on_commit(void *ud, int status)
{
    ctx_t *c = ud;
    c->commit_status = status;
    c->commits++;
    c->committed = true;
}

static void on_closed(void *ud)
{
    ((ctx_t *)ud)->closed = true;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void open_store(ctx_t *c, uint64_t retention_ms)
{
    store_opts_t o = {.dsn = c->dsn, .retry_min_ms = 20, .retry_max_ms = 200,
                      .retention_raw_ms = retention_ms, .on_state = on_state, .ud = c};
    c->up = false;
    assert_int_equal(store_create(&c->loop, &o, &c->store), 0);
    assert_true(helper_run_until(&c->loop, &c->up, 20000));
    assert_true(store_up(c->store));
    assert_true(store_idle(c->store));
}

static void close_store(ctx_t *c)
{
    c->closed = false;
    store_close(c->store, on_closed, c);
    assert_true(helper_run_until(&c->loop, &c->closed, 5000));
    c->store = NULL;
}

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof *c);
    uv_loop_init(&c->loop);
    c->dsn = helper_make_db();
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    if (c->store)
        close_store(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c->dsn);
    free(c);
    return 0;
}

/* Commits b and runs the loop until the callback; returns its status. */
static int commit(ctx_t *c, const batch_t *b)
{
    c->committed = false;
    int rc = store_commit(c->store, b, on_commit, c);
    if (rc != 0)
        return rc;
    assert_false(store_idle(c->store));
    assert_int_equal(store_commit(c->store, b, on_commit, c), IOC_EAGAIN);
    assert_true(helper_run_until(&c->loop, &c->committed, 20000));
    return c->commit_status;
}

static void test_migrations_idempotent(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM schema_migrations"),
                     store_nmigrations);
    assert_int_equal(helper_count(c->dsn, "SELECT max(version) FROM schema_migrations"),
                     store_migrations[store_nmigrations - 1].version);
    /* Today and three days ahead. */
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM pg_inherits"
                                          " WHERE inhparent = 'samples'::regclass"), 4);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM pg_indexes WHERE tablename ="
                                          " 'samples' AND indexdef LIKE '%USING brin (ts)%'"), 1);
    char *applied = helper_value(c->dsn, "SELECT max(applied_at)::text FROM schema_migrations");
    close_store(c);

    open_store(c, 0);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM schema_migrations"),
                     store_nmigrations);
    char *again = helper_value(c->dsn, "SELECT max(applied_at)::text FROM schema_migrations");
    assert_string_equal(applied, again);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM pg_inherits"
                                          " WHERE inhparent = 'samples'::regclass"), 4);
    free(applied);
    free(again);
}

static void test_commit_lands_in_view(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    int64_t t0 = (now_us() / 1000000) * 1000000 + 123456;
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "traffic.speed", "{\"district\":\"Tân An\",\"id\":\"s1\"}"), 0);
    assert_int_equal(batch_add_series(b, "dịch_vụ.hồ_sơ", "{\"huyện\":\"Đức Hòa\"}"), 1);
    assert_int_equal(batch_add_sample(b, 0, t0, 42.5), 0);
    assert_int_equal(batch_add_sample(b, 1, t0 + 1, -3.25), 0);
    assert_int_equal(batch_add_sample(b, 0, t0 + 2, 1e-300), 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_true(store_idle(c->store));

    PGresult *r = helper_query(c->dsn,
        "SELECT metric, tags::text, value, (extract(epoch from ts) * 1000000)::bigint"
        " FROM samples_view ORDER BY ts");
    assert_int_equal(PQntuples(r), 3);
    assert_string_equal(PQgetvalue(r, 0, 0), "traffic.speed");
    assert_string_equal(PQgetvalue(r, 0, 1), "{\"id\": \"s1\", \"district\": \"Tân An\"}");
    assert_true(strtod(PQgetvalue(r, 0, 2), NULL) == 42.5);
    assert_int_equal(strtoll(PQgetvalue(r, 0, 3), NULL, 10), t0);
    assert_string_equal(PQgetvalue(r, 1, 0), "dịch_vụ.hồ_sơ");
    assert_string_equal(PQgetvalue(r, 1, 1), "{\"huyện\": \"Đức Hòa\"}");
    assert_true(strtod(PQgetvalue(r, 1, 2), NULL) == -3.25);
    assert_int_equal(strtoll(PQgetvalue(r, 1, 3), NULL, 10), t0 + 1);
    assert_true(strtod(PQgetvalue(r, 2, 2), NULL) == 1e-300);
    PQclear(r);

    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_int_equal(st.batches_committed, 1);
    assert_int_equal(st.samples_committed, 3);
    assert_int_equal(st.series_interned, 2);
    assert_int_equal(st.batches_duplicate, 0);
    assert_int_equal(st.commit_errors, 0);
    batch_free(b);
}

static void test_duplicate_batch_once(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "m", "{\"a\":\"1\"}"), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(batch_add_sample(b, 0, now_us() + i, i), 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 100);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM ingest_batches"), 1);
    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_int_equal(st.batches_committed, 1);
    assert_int_equal(st.batches_duplicate, 1);

    /* Still a duplicate for a fresh store (the record is in the database, not in memory). */
    close_store(c);
    open_store(c, 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 100);
    store_get_stats(c->store, &st);
    assert_int_equal(st.batches_duplicate, 1);
    batch_free(b);
}

static void test_series_interned_once(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    for (int round = 0; round < 3; round++) {
        batch_t *b = batch_new(batch_next_id());
        assert_int_equal(batch_add_series(b, "lighting.power", "{\"district\":\"Bến Lức\"}"), 0);
        assert_int_equal(batch_add_series(b, "lighting.power", "{\"district\":\"Cần Giuộc\"}"), 1);
        if (round == 2)
            assert_int_equal(batch_add_series(b, "lighting.power", "{\"district\": \"Bến Lức\"}"), 2);
        assert_int_equal(batch_add_sample(b, 0, now_us(), 1), 0);
        assert_int_equal(batch_add_sample(b, 1, now_us(), 2), 0);
        if (round == 2)
            assert_int_equal(batch_add_sample(b, 2, now_us(), 3), 0);
        assert_int_equal(commit(c, b), IOC_OK);
        batch_free(b);
    }
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM series"), 2);
    /* The differently spaced but equal tags landed on the first series. */
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples_view"
                                          " WHERE tags->>'district' = 'Bến Lức'"), 4);
    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_int_equal(st.series_interned, 3); /* two, plus the respelled key once */

    /* A new store (empty cache) finds the same ids. */
    close_store(c);
    open_store(c, 0);
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "lighting.power", "{\"district\":\"Cần Giuộc\"}"), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us(), 9), 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM series"), 2);
    assert_int_equal(helper_count(c->dsn, "SELECT count(DISTINCT series_id) FROM samples"
                                          " WHERE value IN (2, 9)"), 1);
    batch_free(b);
}

static void test_old_timestamp_gets_partition(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    int64_t old = now_us() - 40 * DAY_US;
    int64_t future = now_us() + 10 * DAY_US;
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(b, 0, old, 1), 0);
    assert_int_equal(batch_add_sample(b, 0, future, 2), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us(), 3), 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM pg_inherits"
                                          " WHERE inhparent = 'samples'::regclass"), 6);
    char sql[256];
    time_t t = (time_t)(old / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM samples_%04d%02d%02d WHERE value = 1",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    assert_int_equal(helper_count(c->dsn, sql), 1);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 3);

    /* Timestamps no partition name can hold are refused up front. */
    batch_t *bad = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(bad, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(bad, 0, INT64_MAX / 2, 1), 0);
    assert_int_equal(store_commit(c->store, bad, on_commit, c), IOC_EINVAL);
    batch_free(bad);
    batch_free(b);
}

static void test_retention_drops_old_partition(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us() - 10 * DAY_US, 1), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us() - DAY_US, 2), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us(), 3), 0);
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 3);
    close_store(c);

    open_store(c, 3 * 86400000ULL);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 2);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples WHERE value = 1"), 0);
    /* Yesterday's partition is kept, as are today's and those ahead. */
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM pg_inherits"
                                          " WHERE inhparent = 'samples'::regclass"), 5);
    batch_free(b);
}

static void test_reconnects_after_kill(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    c->down_seen = false;
    PQclear(helper_query(c->dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                 " WHERE datname = current_database() AND pid <> pg_backend_pid()"));
    assert_true(helper_run_until(&c->loop, &c->down_seen, 5000));
    assert_false(store_up(c->store));
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(b, 0, now_us(), 1), 0);
    assert_int_equal(store_commit(c->store, b, on_commit, c), IOC_EDB);
    assert_true(helper_run_until(&c->loop, &c->up, 5000));
    assert_int_equal(commit(c, b), IOC_OK);
    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_true(st.reconnects >= 1);
    assert_int_equal(c->ups, 2);
    assert_int_equal(c->downs, 1);
    batch_free(b);
}

static void test_failed_commit_rolls_back_and_heals(void **state)
{
    ctx_t *c = *state;
    open_store(c, 0);
    /* Drop today's partition behind the store's back: the COPY fails, nothing is kept. */
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE samples_%04d%02d%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    PQclear(helper_query(c->dsn, sql));
    batch_t *b = batch_new(batch_next_id());
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(b, 0, (int64_t)t * 1000000, 1), 0);
    assert_int_equal(commit(c, b), IOC_EDB);
    assert_true(store_up(c->store));
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM ingest_batches"), 0);
    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_int_equal(st.commit_errors, 1);
    /* The caller retries the same batch: the partition is made again and the batch lands. */
    assert_int_equal(commit(c, b), IOC_OK);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM samples"), 1);
    assert_int_equal(helper_count(c->dsn, "SELECT count(*) FROM ingest_batches"), 1);
    batch_free(b);
}

typedef struct ticker {
    uint64_t last, max_gap;
    int ticks;
} ticker_t;

static void on_tick(uv_timer_t *t)
{
    ticker_t *k = t->data;
    uint64_t now = uv_hrtime() / 1000000;
    if (k->last && now - k->last > k->max_gap)
        k->max_gap = now - k->last;
    k->last = now;
    k->ticks++;
}

static void test_bad_dsn_backs_off(void **state)
{
    ctx_t *c = *state;
    store_opts_t o = {.dsn = "host=/nonexistent/run port=1 user=postgres dbname=x",
                      .retry_min_ms = 20, .retry_max_ms = 160, .on_state = on_state, .ud = c};
    assert_int_equal(store_create(&c->loop, &o, &c->store), 0);
    assert_int_equal(store_commit(c->store, NULL, on_commit, c), IOC_EDB);
    ticker_t k = {0};
    uv_timer_t tick;
    uv_timer_init(&c->loop, &tick);
    tick.data = &k;
    uv_timer_start(&tick, on_tick, 5, 5);
    bool never = false;
    uint64_t t0 = uv_hrtime();
    helper_run_until(&c->loop, &never, 1500);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);

    store_stats_t st;
    store_get_stats(c->store, &st);
    assert_true(c->down_seen);
    assert_int_equal(c->downs, 1);
    assert_int_equal(c->ups, 0);
    /* Back-off 20, 40, 80, 160, 160... ms with jitter in [d/2, d]: between 8 and 40 tries. */
    assert_true(st.reconnects >= 8);
    assert_true(st.reconnects <= 40);
    /* The loop kept ticking. */
    assert_true(k.ticks >= (int)(elapsed_ms / 5) / 2);
    assert_true(k.max_gap < 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_lands_in_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_batch_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_interned_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_timestamp_gets_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_drops_old_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects_after_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_rolls_back_and_heals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dsn_backs_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
