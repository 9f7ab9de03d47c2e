/* Ingest routing against a real PostgreSQL and a real spool: durable acknowledgements, spooling
 * while the database is away, replay exactly once, the spool cap, all-or-nothing submits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_pg.h"
#include "ingest/ingest.h"

typedef struct fixture {
    uv_loop_t loop;
    char dir[64];
    char *dsn;
    spool_t *spool;
    store_t *store;
    ingest_t *in;
    bool up, durable, closed;
    int durable_status;
} fixture_t;

static void on_state(void *ud, bool up)
{
    fixture_t *f = ud;
    f->up = up;
    if (f->in)
        ingest_store_state(f->in, up);
}

static void on_durable(void *ud, int status)
{
    fixture_t *f = ud;
    f->durable = true;
    f->durable_status = status;
}

static void on_closed(void *ud) { ((fixture_t *)ud)->closed = true; }

/* Builds spool + ingest, and a store on dsn (NULL: no store yet). */
static fixture_t *make(const char *dsn, uint64_t spool_max)
{
    fixture_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof f->dir, "/tmp/iocd-ingest-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    spool_opts_t so = {.dir = f->dir, .max_bytes = spool_max};
    assert_int_equal(spool_open(&f->loop, &so, &f->spool), 0);
    ingest_opts_t io = {.batch_max_samples = 1000, .batch_max_delay_ms = 20,
                        .queue_max_batches = 4, .spool = f->spool};
    assert_int_equal(ingest_create(&f->loop, &io, &f->in), 0);
    if (dsn) {
        store_opts_t st = {.dsn = dsn, .retry_min_ms = 50, .retry_max_ms = 200,
                           .on_state = on_state, .ud = f};
        assert_int_equal(store_create(&f->loop, &st, &f->store), 0);
        ingest_set_store(f->in, f->store);
    }
    return f;
}

static void destroy(fixture_t *f)
{
    f->closed = false;
    ingest_drain(f->in, 2000, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 10000));
    if (f->store) {
        f->closed = false;
        store_close(f->store, on_closed, f);
        assert_true(helper_run_until(&f->loop, &f->closed, 10000));
    }
    f->closed = false;
    spool_close(f->spool, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 10000));
    ingest_free(f->in);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* Submits n samples of metric `m` with a tag per sample index modulo 10, then waits. */
static int write_and_wait(fixture_t *f, const char *m, int n)
{
    uint64_t mark = ingest_mark(f->in);
    char err[128];
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i % 10);
        ioc_tag_t tag = {"k", v};
        ioc_sample_t s = {.metric = m, .tags = &tag, .ntags = 1, .value = i,
                          .ts_us = 1790000000000000LL + i};
        int rc = ingest_submit(f->in, &s, 1, 0, err, sizeof err);
        if (rc)
            return rc;
    }
    f->durable = false;
    assert_int_equal(ingest_when_durable(f->in, mark, on_durable, f), 0);
    assert_true(helper_run_until(&f->loop, &f->durable, 20000));
    return f->durable_status;
}

static void test_acknowledged_means_committed(void **state)
{
    (void)state;
    char *dsn = helper_make_db();
    fixture_t *f = make(dsn, 1 << 20);
    assert_true(helper_run_until(&f->loop, &f->up, 10000));
    assert_int_equal(write_and_wait(f, "ack", 2500), IOC_OK);
    /* Acknowledged: in PostgreSQL now, without waiting further. */
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM samples_view WHERE metric='ack'"), 2500);
    assert_int_equal(helper_count(dsn, "SELECT count(DISTINCT tags) FROM samples_view"), 10);
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_committed, 2500);
    assert_int_equal(st.samples_spooled, 0);
    destroy(f);
    free(dsn);
}

static void test_spooled_while_down_then_replayed_once(void **state)
{
    (void)state;
    char *dsn = helper_make_db();
    fixture_t *f = make(NULL, 1 << 20);
    /* No database: acknowledged from the spool. */
    assert_int_equal(write_and_wait(f, "outage", 3000), IOC_OK);
    assert_true(spool_records(f->spool) >= 3);
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_spooled, 3000);
    /* The database arrives: everything is replayed, in order, exactly once. */
    store_opts_t so = {.dsn = dsn, .on_state = on_state, .ud = f};
    assert_int_equal(store_create(&f->loop, &so, &f->store), 0);
    ingest_set_store(f->in, f->store);
    for (int i = 0; i < 200 && spool_records(f->spool); i++) {
        bool never = false;
        helper_run_until(&f->loop, &never, 50);
    }
    assert_int_equal(spool_records(f->spool), 0);
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM samples_view WHERE metric='outage'"),
                     3000);
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM (SELECT ts FROM samples GROUP BY ts "
                                       "HAVING count(*) > 1) d"), 0);
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_replayed, 3000);
    destroy(f);
    free(dsn);
}

static void test_spool_full_is_reported_not_hidden(void **state)
{
    (void)state;
    fixture_t *f = make(NULL, 64 << 10); /* 64 KiB: a few batches of 1000 samples */
    int status = IOC_OK;
    for (int round = 0; round < 40 && status == IOC_OK; round++)
        status = write_and_wait(f, "full", 1000);
    assert_true(status == IOC_EFULL);
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_true(st.samples_dropped_full > 0);
    assert_true(spool_bytes(f->spool) <= 64 << 10);
    destroy(f);
}

static void test_invalid_sample_named_and_earlier_kept(void **state)
{
    (void)state;
    fixture_t *f = make(NULL, 1 << 20);
    ioc_tag_t bad = {"k", ""};
    ioc_sample_t s[2] = {{.metric = "ok", .value = 1}, {.metric = "bad", .tags = &bad, .ntags = 1}};
    char err[128];
    assert_int_equal(ingest_submit(f->in, s, 2, 1, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "tag value is empty");
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_received, 1);
    assert_int_equal(st.samples_invalid, 1);
    destroy(f);
}

/* A timestamp PostgreSQL cannot store is refused at submit; it must not wedge the queue. */
static void test_unstorable_timestamp_refused(void **state)
{
    (void)state;
    char *dsn = helper_make_db();
    fixture_t *f = make(dsn, 1 << 20);
    assert_true(helper_run_until(&f->loop, &f->up, 10000));
    ioc_sample_t far = {.metric = "far", .value = 1, .ts_us = INT64_C(9000000000000000000)};
    char err[128] = "";
    uint64_t mark = ingest_mark(f->in);
    assert_int_equal(ingest_submit(f->in, &far, 1, 0, err, sizeof err), IOC_EINVAL);
    assert_non_null(strstr(err, "timestamp"));
    f->durable = false;
    assert_int_equal(ingest_when_durable(f->in, mark, on_durable, f), 0);
    assert_true(helper_run_until(&f->loop, &f->durable, 5000));
    /* Later samples still reach PostgreSQL. */
    assert_int_equal(write_and_wait(f, "after", 10), IOC_OK);
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM samples_view WHERE metric='after'"), 10);
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_invalid, 1);
    destroy(f);
    free(dsn);
}

static void on_drain_done(void *ud) { ((fixture_t *)ud)->closed = true; }

/* SIGTERM while PostgreSQL hangs on a commit: the drain ends at its timeout with the batch in
 * flight spooled too; replayed later, it is stored exactly once. */
static void test_drain_spools_a_hung_commit(void **state)
{
    (void)state;
    char *dsn = helper_make_db();
    fixture_t *f = make(dsn, 1 << 20);
    assert_true(helper_run_until(&f->loop, &f->up, 10000));
    assert_int_equal(write_and_wait(f, "warm", 10), IOC_OK);
    PGconn *locker = PQconnectdb(dsn);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *r = PQexec(locker, "LOCK TABLE ingest_batches IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char err[128];
    for (int i = 0; i < 50; i++) {
        ioc_sample_t s = {.metric = "hung", .value = i, .ts_us = 1790000000000000LL + i};
        assert_int_equal(ingest_submit(f->in, &s, 1, 0, err, sizeof err), IOC_OK);
    }
    bool never = false;
    helper_run_until(&f->loop, &never, 300); /* sealed, its commit now waits on the lock */
    f->closed = false;
    uint64_t t0 = uv_now(&f->loop);
    ingest_drain(f->in, 300, on_drain_done, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 3000));
    assert_true(uv_now(&f->loop) - t0 < 2000);
    assert_true(spool_records(f->spool) >= 1);
    f->closed = false;
    store_close(f->store, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 10000));
    f->store = NULL;
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    /* A fresh ingest over the same spool replays the batch once. */
    spool_t *sp = f->spool;
    ingest_t *old = f->in;
    f->closed = false;
    spool_close(sp, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 10000));
    ingest_free(old);
    spool_opts_t so = {.dir = f->dir, .max_bytes = 1 << 20};
    assert_int_equal(spool_open(&f->loop, &so, &f->spool), 0);
    assert_true(spool_records(f->spool) >= 1);
    ingest_opts_t io = {.batch_max_samples = 1000, .batch_max_delay_ms = 20,
                        .queue_max_batches = 4, .spool = f->spool};
    assert_int_equal(ingest_create(&f->loop, &io, &f->in), 0);
    f->up = false;
    store_opts_t st = {.dsn = dsn, .retry_min_ms = 50, .retry_max_ms = 200,
                       .on_state = on_state, .ud = f};
    assert_int_equal(store_create(&f->loop, &st, &f->store), 0);
    ingest_set_store(f->in, f->store);
    for (int i = 0; i < 200 && spool_records(f->spool); i++)
        helper_run_until(&f->loop, &never, 50);
    assert_int_equal(spool_records(f->spool), 0);
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM samples_view WHERE metric='hung'"), 50);
    destroy(f);
    free(dsn);
}

/* PostgreSQL up but refusing every write for a server-side reason (a full disk, a read-only
 * standby): spooled batches are retried, not dropped as poison, and stored once it recovers. */
static void test_server_error_keeps_spooled_batches(void **state)
{
    (void)state;
    char *dsn = helper_make_db();
    fixture_t *f = make(dsn, 1 << 20);
    assert_true(helper_run_until(&f->loop, &f->up, 10000));
    PQclear(helper_query(dsn, "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$BEGIN RAISE EXCEPTION 'no space' USING ERRCODE = 'disk_full'; "
                              "END$$"));
    PQclear(helper_query(dsn, "CREATE TRIGGER full_disk BEFORE INSERT ON ingest_batches "
                              "FOR EACH ROW EXECUTE FUNCTION full_disk()"));
    assert_int_equal(write_and_wait(f, "diskfull", 100), IOC_OK); /* acknowledged by the spool */
    bool never = false;
    helper_run_until(&f->loop, &never, 7000); /* more than five replay attempts */
    ingest_stats_t st;
    ingest_get_stats(f->in, &st);
    assert_int_equal(st.samples_dropped_full, 0);
    assert_true(spool_records(f->spool) >= 1);
    PQclear(helper_query(dsn, "DROP TRIGGER full_disk ON ingest_batches"));
    for (int i = 0; i < 100 && spool_records(f->spool); i++)
        helper_run_until(&f->loop, &never, 50);
    assert_int_equal(spool_records(f->spool), 0);
    assert_int_equal(helper_count(dsn, "SELECT count(*) FROM samples_view WHERE metric='diskfull'"),
                     100);
    destroy(f);
    free(dsn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acknowledged_means_committed),
        cmocka_unit_test(test_spooled_while_down_then_replayed_once),
        cmocka_unit_test(test_spool_full_is_reported_not_hidden),
        cmocka_unit_test(test_invalid_sample_named_and_earlier_kept),
        cmocka_unit_test(test_unstorable_timestamp_refused),
        cmocka_unit_test(test_drain_spools_a_hung_commit),
        cmocka_unit_test(test_server_error_keeps_spooled_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
