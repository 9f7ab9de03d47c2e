/* Test helpers for the engine's database side: throwaway databases and blocking queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "helper_db.h"

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGresult *run(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", dsn, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

char *helper_db_make(void)
{
    static int seq;
    const char *base = getenv("IOCD_TEST_DSN");
    char name[64], sql[160];
    if (!base)
        return NULL;
    snprintf(name, sizeof name, "iocd_t_engine_%d_%d", (int)getpid(), ++seq);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(run(base, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PQclear(run(base, sql));
    size_t n = strlen(base) + strlen(name) + 16;
    char *dsn = malloc(n);
    snprintf(dsn, n, "%s dbname=%s", base, name);
    return dsn;
}

double helper_db_number(const char *dsn, const char *sql)
{
    PGresult *r = run(dsn, sql);
    if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0))
        fail_msg("no value from: %s", sql);
    double v = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return v;
}

void helper_db_exec(const char *dsn, const char *sql)
{
    PQclear(run(dsn, sql));
}

bool helper_db_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t timeout_ms)
{
    uint64_t end = uv_now(loop) + timeout_ms;
    while (!*flag && uv_now(loop) < end) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
    }
    return *flag;
}
