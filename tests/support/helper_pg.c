/* Test helpers shared by unit tests: throwaway databases and running the loop until a condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_pg.h"

static int db_seq;

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

char *helper_make_db(void)
{
    const char *base = getenv("IOCD_TEST_DSN");
    assert_non_null(base);
    char name[64];
    snprintf(name, sizeof name, "iocd_t_store_%d_%d", (int)getpid(), ++db_seq);
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    size_t n = strlen(base) + strlen(name) + 16;
    char *dsn = malloc(n);
    snprintf(dsn, n, "%s dbname=%s", base, name);
    return dsn;
}

PGresult *helper_query(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("query failed: %s: %s", sql, PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

char *helper_value(const char *dsn, const char *sql)
{
    PGresult *r = helper_query(dsn, sql);
    assert_int_equal(PQntuples(r), 1);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

long long helper_count(const char *dsn, const char *sql)
{
    char *v = helper_value(dsn, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool helper_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t timeout_ms)
{
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, timeout_ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}
