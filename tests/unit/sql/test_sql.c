/* The real sql.so in a fake host on a real libuv loop, querying a second database on the test
 * PostgreSQL (IOCD_TEST_DSN): Vietnamese tags, types, skipped rows, query errors, timeouts,
 * connection loss survived, row bound, stop mid-query. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "fakehost.h"
#include "helper_pg.h"

#define DB "unit_sql_src"

static const ioc_collector_desc_t *desc;
static char dsn[1024];  /* the source database */
static char jdsn[1100]; /* dsn as a JSON string's content */

/* Runs SQL on dsn_ (blocking: test set-up only); fails the test on an error. */
static void exec_sql(const char *dsn_, const char *sql)
{
    PQclear(helper_query(dsn_, sql));
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("IOCD_TEST_DSN");
    if (!base)
        fail_msg("IOCD_TEST_DSN is not set: run this test through ctest");
    desc = fhost_load("sql");
    exec_sql(base, "DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    exec_sql(base, "CREATE DATABASE " DB);
    snprintf(dsn, sizeof dsn, "%s dbname=" DB, base);
    snprintf(jdsn, sizeof jdsn, "%s", dsn);
    exec_sql(dsn,
             "CREATE TABLE dossiers (district text, service text, received int, overdue numeric,"
             " updated timestamptz, ok bool, note text);"
             "INSERT INTO dossiers VALUES"
             " ('Tân An', 'Cấp phép xây dựng', 12, 1.5, '2024-03-12 08:30:00+07', true, '7'),"
             " ('Bến Lức', 'Đăng ký kinh doanh', 30, 0, '2024-03-12 09:00:00.25+07', false, 'x'),"
             " ('Đức Hòa', NULL, NULL, 2, NULL, NULL, NULL);"
             "CREATE TABLE feedback (metric text, quận text, n bigint, at date);"
             "INSERT INTO feedback VALUES ('1022.calls', 'Thủ Thừa', 41, '2024-03-01'),"
             " ('1022.resolved', 'Thủ Thừa', 38, '2024-03-01');");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    exec_sql(getenv("IOCD_TEST_DSN"), "DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

/* A host with an sql instance for config (printf format: %s is the DSN), initialised and
 * started. */
static ioc_host_t *start(const char *fmt, void **inst)
{
    ioc_host_t *h = fhost_open(desc, inst, fmt, jdsn);
    assert_int_equal(desc->start(*inst), IOC_OK);
    return h;
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->magic, IOC_COLLECTOR_MAGIC);
    assert_int_equal(desc->abi_version, IOC_COLLECTOR_ABI_VERSION);
    assert_string_equal(desc->name, "sql");
    assert_non_null(desc->collect);
}

static void test_fixed_metric(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"portal\", \"dsn\": \"%s\", \"metric\": \"portal.received\","
                          " \"query\": \"SELECT district, service AS \\\"Dịch vụ\\\", received,"
                          " updated FROM dossiers WHERE received IS NOT NULL ORDER BY 1\","
                          " \"value\": \"received\", \"time\": \"updated\","
                          " \"tags\": {\"district\": \"district\", \"service\": \"Dịch vụ\"}}",
                          &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 2);
    const fhost_sample_t *s =
        fhost_find(h, "portal.received", "district=Tân An,service=Cấp phép xây dựng");
    assert_non_null(s);
    assert_true(s->value == 12);
    assert_int_equal(s->ts_us, 1710207000000000LL); /* 2024-03-12 01:30:00 UTC */
    s = fhost_find(h, "portal.received", "district=Bến Lức,service=Đăng ký kinh doanh");
    assert_non_null(s);
    assert_true(s->value == 30);
    assert_int_equal(s->ts_us, 1710208800250000LL);
    /* The connection is kept: a second collection gives the same rows again. */
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 4);
    assert_int_equal(fhost_count_logs(h, "password"), 0);
    fhost_finish(desc, inst, h);
}

static void test_metric_column_types(void **state)
{
    void *inst;
    (void)state;
    /* Metric from a column, a bigint value, a date as time, a tag whose column is Vietnamese. */
    ioc_host_t *h = start("{\"name\": \"hotline\", \"dsn\": \"%s\", \"metric_column\": \"metric\","
                          " \"query\": \"SELECT * FROM feedback\", \"value\": \"n\","
                          " \"time\": \"at\", \"tags\": {\"district\": \"quận\"}}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 2);
    const fhost_sample_t *s = fhost_find(h, "1022.calls", "district=Thủ Thừa");
    assert_non_null(s);
    assert_true(s->value == 41);
    assert_int_equal(s->ts_us, 1709251200000000LL);
    assert_non_null(fhost_find(h, "1022.resolved", "district=Thủ Thừa"));
    fhost_finish(desc, inst, h);

    /* Booleans are 1/0, numeric keeps its fraction, no time column means "now" (0). */
    h = start("{\"name\": \"b\", \"dsn\": \"%s\", \"metric\": \"m\", \"tags\": [\"district\"],"
              " \"query\": \"SELECT district, ok::int + overdue AS value, ok FROM dossiers"
              " WHERE ok IS NOT NULL\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 2);
    s = fhost_find(h, "m", "district=Tân An");
    assert_non_null(s);
    assert_true(s->value == 2.5);
    assert_int_equal(s->ts_us, 0);
    fhost_finish(desc, inst, h);
}

static void test_bad_rows_skipped(void **state)
{
    void *inst;
    (void)state;
    /* Row 2 has a text value that is no number, row 3 a NULL value and NULL tag: skipped and
     * counted; row 1 still gives its sample; a NULL tag would only be left out. */
    ioc_host_t *h = start("{\"name\": \"p\", \"dsn\": \"%s\", \"metric\": \"m\","
                          " \"query\": \"SELECT district, service, note FROM dossiers ORDER BY"
                          " received NULLS LAST\", \"value\": \"note\", \"tags\": [\"service\"]}",
                          &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 1);
    assert_string_equal(h->samples[0].tags, "service=Cấp phép xây dựng");
    assert_true(h->samples[0].value == 7);
    assert_int_equal(fhost_count_logs(h, "event=rows_skipped rows=3 skipped=2 first=\"row 2: note "
                                         "'x' is not a number\""), 1);
    /* The next query's skips fall in the same minute: counted, not logged again. */
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(fhost_count_logs(h, "rows_skipped"), 1);
    fhost_finish(desc, inst, h);
}

static void test_query_errors(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"p\", \"dsn\": \"%s\", \"metric\": \"m\","
                          " \"query\": \"SELECT n FROM no_such_table\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "event=query_failed"), 1);
    assert_int_equal(fhost_count_logs(h, "relation 'no_such_table' does not exist"), 1);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "event=query_failed"), 1); /* rate-limited */
    assert_int_equal(fhost_count_logs(h, "event=db_error"), 0);     /* the link stayed up */
    fhost_finish(desc, inst, h);

    /* A configured column missing from the result names the column. */
    h = start("{\"name\": \"p\", \"dsn\": \"%s\", \"metric\": \"m\", \"tags\": [\"district\"],"
              " \"query\": \"SELECT 1 AS value\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EINVAL);
    assert_int_equal(fhost_count_logs(h, "column 'district' is not in the query's result"), 1);
    fhost_finish(desc, inst, h);

    /* Writing is refused (read-only session); the error is reported and survived. */
    h = start("{\"name\": \"p\", \"dsn\": \"%s\", \"metric\": \"m\","
              " \"query\": \"DELETE FROM dossiers RETURNING received AS value\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "read-only transaction"), 1);
    fhost_finish(desc, inst, h);
    exec_sql(dsn, "DO $$ BEGIN IF (SELECT count(*) FROM dossiers) <> 3 THEN"
                  " RAISE 'rows deleted'; END IF; END $$");
}

static void test_statement_timeout(void **state)
{
    void *inst;
    (void)state;
    /* timeout 1s: the server cancels the statement at ~0.8 s; the connection stays usable. */
    ioc_host_t *h = start("{\"name\": \"slow\", \"dsn\": \"%s\", \"metric\": \"m\", \"timeout\":"
                          " \"1s\", \"query\": \"SELECT 1 AS value FROM pg_sleep(3)\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "canceling statement due to statement timeout"), 1);
    fhost_finish(desc, inst, h);
}

/* A TCP listener that never accepts: the kernel completes the handshake, no server answers. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_connect_timeout_and_refused(void **state)
{
    char config[512], err[256];
    void *inst;
    int port;
    (void)state;
    int fd = silent_listener(&port);
    snprintf(config, sizeof config, "{\"name\": \"mute\", \"dsn\": \"host=127.0.0.1 port=%d "
             "user=x dbname=y password=hunter2\", \"metric\": \"m\", \"query\": \"SELECT 1\","
             " \"timeout\": \"500ms\", \"reconnect\": \"1h\"}", port);
    ioc_host_t *h = fhost_new(config);
    assert_int_equal(desc->init(&fhost_services, h, &inst, err, sizeof err), IOC_OK);
    desc->start(inst);
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_ETIMEDOUT);
    assert_int_equal(fhost_count_logs(h, "event=connect_timeout db=\"host=127.0.0.1"), 1);
    /* Within `reconnect` of the last attempt no new attempt is made: an error at once. */
    assert_int_equal(fhost_collect(desc, inst, h, 100), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "hunter2"), 0);
    fhost_stop(desc, inst, h, 5000);
    fhost_free(h);
    close(fd);

    /* Nothing listens on the socket: reported at once, with host and database, no password. */
    h = fhost_new("{\"name\": \"gone\", \"dsn\": \"host=/nonexistent port=5 dbname=khong_co "
                  "password=hunter2\", \"metric\": \"m\", \"query\": \"SELECT 1\"}");
    assert_int_equal(desc->init(&fhost_services, h, &inst, err, sizeof err), IOC_OK);
    desc->start(inst);
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_EDB);
    assert_int_equal(fhost_count_logs(h, "event=db_error db=\"host=/nonexistent port=5 "
                                         "dbname=khong_co"), 1);
    assert_int_equal(fhost_count_logs(h, "hunter2"), 0);
    fhost_stop(desc, inst, h, 5000);
    fhost_free(h);
}

/* A host name is looked up on the threadpool before each connection; a failed look-up and a
 * refused connection are reported and survived. */
static void test_host_name_lookup(void **state)
{
    char err[256];
    void *inst;
    (void)state;
    ioc_host_t *h = fhost_new("{\"name\": \"named\", \"dsn\": \"host=localhost port=1 "
                              "dbname=x user=x password=hunter2\", \"metric\": \"m\", "
                              "\"query\": \"SELECT 1\", \"reconnect\": \"100ms\"}");
    assert_int_equal(desc->init(&fhost_services, h, &inst, err, sizeof err), IOC_OK);
    desc->start(inst);
    assert_true(fhost_run_until(h, fhost_has_log, "event=db_error", 3000));
    assert_int_equal(fhost_count_logs(h, "event=resolved host=localhost addr="), 1);
    assert_int_equal(fhost_count_logs(h, "Connection refused"), 1);
    assert_int_equal(fhost_count_logs(h, "db=\"host=localhost port=1 dbname=x"), 2);
    fhost_run_for(h, 150);
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_EDB); /* again: looked up again */
    assert_int_equal(fhost_count_logs(h, "event=resolved host=localhost"), 2);
    assert_int_equal(fhost_count_logs(h, "hunter2"), 0);
    fhost_stop(desc, inst, h, 5000);
    fhost_free(h);

    h = fhost_new("{\"name\": \"nx\", \"dsn\": \"host=no-such-host.invalid dbname=x\", "
                  "\"metric\": \"m\", \"query\": \"SELECT 1\"}");
    assert_int_equal(desc->init(&fhost_services, h, &inst, err, sizeof err), IOC_OK);
    desc->start(inst);
    assert_true(fhost_run_until(h, fhost_has_log, "event=db_error", 5000));
    assert_int_equal(fhost_count_logs(h, "cannot look up host no-such-host.invalid"), 1);
    /* Stopped while a look-up may still run: closed once, nothing left on the loop. */
    desc->start(inst);
    fhost_stop(desc, inst, h, 5000);
    fhost_free(h);
}

static bool has_backend(const char *app)
{
    char q[256];
    PGconn *c = PQconnectdb(getenv("IOCD_TEST_DSN"));
    snprintf(q, sizeof q, "SELECT 1 FROM pg_stat_activity WHERE application_name = '%s'", app);
    PGresult *r = PQexec(c, q);
    bool found = PQntuples(r) > 0;
    PQclear(r);
    PQfinish(c);
    return found;
}

static void test_connection_loss_survived(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"lossy\", \"dsn\": \"%s\", \"metric\": \"m\","
                          " \"reconnect\": \"100ms\", \"query\": \"SELECT received AS value"
                          " FROM dossiers WHERE received > 0\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 2);
    assert_true(has_backend("iocd-sql-lossy"));
    /* The server ends the session: noticed on the loop, logged, and the next collection
     * reconnects and succeeds. */
    exec_sql(getenv("IOCD_TEST_DSN"), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = 'iocd-sql-lossy'");
    assert_true(fhost_run_until(h, fhost_has_log, "event=db_error", 3000));
    fhost_run_for(h, 150);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 4);
    assert_int_equal(fhost_count_logs(h, "event=connected"), 1);
    fhost_finish(desc, inst, h);
    assert_false(has_backend("iocd-sql-lossy"));
}

/* Killed in the middle of a query: that collection fails, the next one works. */
static void test_kill_mid_query(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"midq\", \"dsn\": \"%s\", \"metric\": \"m\","
                          " \"reconnect\": \"100ms\", \"timeout\": \"10s\", \"query\":"
                          " \"SELECT 1 AS value FROM pg_sleep(1)\"}", &inst);
    h->done_calls = 0;
    desc->collect(inst);
    fhost_run_for(h, 300);
    assert_int_equal(h->done_calls, 0);
    exec_sql(getenv("IOCD_TEST_DSN"), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = 'iocd-sql-midq'");
    fhost_run_until(h, fhost_has_log, "event=db_error", 3000);
    assert_int_equal(h->done_calls, 1);
    assert_int_equal(h->done_status, IOC_EDB);
    fhost_run_for(h, 150);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 1);
    fhost_finish(desc, inst, h);
}

static void test_max_rows_and_stop_mid_query(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"many\", \"dsn\": \"%s\", \"metric\": \"m\","
                          " \"max_rows\": 10, \"tags\": [\"i\"], \"query\":"
                          " \"SELECT i, i * 2 AS value FROM generate_series(1, 5000) i\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 10);
    assert_string_equal(h->samples[9].tags, "i=10");
    assert_true(h->samples[9].value == 20);
    assert_int_equal(fhost_count_logs(h, "event=rows_over_max rows=5000 max_rows=10 dropped=4990"),
                     1);
    fhost_finish(desc, inst, h);

    /* Stopped while a query runs: closed once, no collect_done, the loop ends clean. */
    h = start("{\"name\": \"stopq\", \"dsn\": \"%s\", \"metric\": \"m\", \"query\":"
              " \"SELECT 1 AS value FROM pg_sleep(2)\"}", &inst);
    h->done_calls = 0;
    desc->collect(inst);
    fhost_run_for(h, 200);
    fhost_finish(desc, inst, h);
}

static void config_error(const char *config, const char *want)
{
    fhost_config_error(desc, config, want, "hunter2");
}

static void test_config_errors(void **state)
{
    (void)state;
    config_error("{\"query\": \"SELECT 1\", \"metric\": \"m\"}", "dsn: required");
    config_error("{\"dsn\": \"host=/tmp\", \"metric\": \"m\"}", "query: required");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\"}", "metric: give either");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", "
                 "\"metric_column\": \"c\"}", "metric: give either");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"colums\": 1}",
                 "unknown key \"colums\"");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"tags\": "
                 "[\"a\", 3]}", "tags[1]: must be a non-empty column name");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"tags\": "
                 "{\"a\": \"x\", \"b\": \"\"}}", "tags.b: must be a non-empty column name");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"tags\": "
                 "\"a\"}", "tags: must be an array");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"max_rows\": 0}",
                 "max_rows: must be an integer from 1");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"reconnect\": "
                 "\"5x\"}", "reconnect: must be a duration");
    config_error("{\"dsn\": \"host=/tmp\", \"query\": \"q\", \"metric\": \"m\", \"timeout\": 5}",
                 "timeout: must be a duration");
    config_error("{\"dsn\": \"host=/tmp passwrd=hunter2\", \"query\": \"q\", \"metric\": \"m\"}",
                 "dsn: not a libpq connection string");
    config_error("{\"dsn\": \"host=a,b\", \"query\": \"q\", \"metric\": \"m\"}",
                 "dsn: a list of hosts needs hostaddr");
    config_error("{\"dsn\": \"\", \"query\": \"q\", \"metric\": \"m\"}",
                 "dsn: must be a non-empty string");
}

static void test_config_accepts(void **state)
{
    char err[256] = "";
    void *inst;
    (void)state;
    /* A URI, a name with hostaddr, an IPv6 address: accepted, logged without the password. */
    static const char *const ok[] = {
        "{\"dsn\": \"postgresql://iocd:hunter2@10.0.0.5:5433/portal\", \"query\": \"q\", "
        "\"metric\": \"m\"}",
        "{\"dsn\": \"host=db.example hostaddr=10.0.0.5 password=hunter2\", \"query\": \"q\", "
        "\"metric\": \"m\"}",
        "{\"dsn\": \"host=::1 dbname=x\", \"query\": \"q\", \"metric_column\": \"c\"}",
        "{\"dsn\": \"host=db.portal.example password=hunter2\", \"query\": \"q\", "
        "\"metric\": \"m\"}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ioc_host_t *h = fhost_new(ok[i]);
        int rc = desc->init(&fhost_services, h, &inst, err, sizeof err);
        if (rc != IOC_OK)
            fail_msg("config %s: %d %s", ok[i], rc, err);
        assert_int_equal(fhost_count_logs(h, "hunter2"), 0);
        fhost_stop(desc, inst, h, 5000);
        fhost_free(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_fixed_metric),
        cmocka_unit_test(test_metric_column_types),
        cmocka_unit_test(test_bad_rows_skipped),
        cmocka_unit_test(test_query_errors),
        cmocka_unit_test(test_statement_timeout),
        cmocka_unit_test(test_connect_timeout_and_refused),
        cmocka_unit_test(test_host_name_lookup),
        cmocka_unit_test(test_connection_loss_survived),
        cmocka_unit_test(test_kill_mid_query),
        cmocka_unit_test(test_max_rows_and_stop_mid_query),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_accepts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
