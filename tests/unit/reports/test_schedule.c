/* Scheduled reports against PostgreSQL with the clock injected: a due report is written once
 * (atomic rename, history), a new due time writes the next file, missed days give one run for
 * the latest due time only, monthly schedules cover the previous month. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "reports/reports.h"
#include "store/store_schema.h"

static int64_t fake_now;

static int64_t clock_now(void *ud)
{
    (void)ud;
    return fake_now;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGresult *sql(const char *dsn, const char *q)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", dsn, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", q, PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

/* A fresh database with iocd's schema; returns its DSN (static storage). */
static const char *make_db(void)
{
    static char dsn[512];
    char q[128];
    const char *base = getenv("IOCD_TEST_DSN");
    if (!base)
        return NULL;
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS iocd_t_reports_%d WITH (FORCE)", (int)getpid());
    PQclear(sql(base, q));
    snprintf(q, sizeof q, "CREATE DATABASE iocd_t_reports_%d", (int)getpid());
    PQclear(sql(base, q));
    snprintf(dsn, sizeof dsn, "%s dbname=iocd_t_reports_%d", base, (int)getpid());
    for (int i = 0; i < store_nmigrations; i++)
        PQclear(sql(dsn, store_migrations[i].sql));
    /* hist.rate per hour, the value being the local day of the month (Jan 28 to Feb 8) */
    PQclear(sql(dsn, "INSERT INTO rollup_1h (indicator, grp, ts, value, count, min, max, ticks)"
                     " SELECT 'hist.rate', '', t, extract(day FROM t AT TIME ZONE"
                     " 'Asia/Ho_Chi_Minh'), 1, 0, 100, 60 FROM generate_series("
                     "timestamptz '2026-01-28 00:00+07', '2026-02-08 23:00+07', '1 hour') t"));
    return dsn;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static long runs(const char *dsn, const char *where)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM report_runs WHERE %s", where);
    PGresult *r = sql(dsn, q);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Runs the loop until the history holds `want` runs, or fails after 20 s. */
static void run_until_runs(uv_loop_t *loop, const char *dsn, long want)
{
    for (int i = 0; i < 2000; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (i % 10 == 0 && runs(dsn, "true") >= want)
            return;
        usleep(10000);
    }
    fail_msg("history never reached %ld runs (has %ld)", want, runs(dsn, "true"));
}

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void on_closed(void *ud)
{
    *(bool *)ud = true;
}

static void test_schedules(void **state)
{
    (void)state;
    const char *dsn = make_db();
    if (!dsn)
        skip();
    char dir[] = "/tmp/iocd-reports-XXXXXX", text[2048], err[512], path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(text, sizeof text,
             "{\"indicators\": [{\"id\": \"hist.rate\", \"name\": {\"vi\": \"Tỉ lệ\"},"
             " \"metric\": \"hist.rate\", \"agg\": \"avg\"}],"
             " \"reports\": [{\"name\": \"daily\", \"schedule\": \"daily 07:00\","
             " \"indicators\": [\"hist.rate\"], \"step\": \"1h\", \"directory\": \"%s\"},"
             " {\"name\": \"month\", \"schedule\": \"monthly 1 06:30\", \"step\": \"1d\","
             " \"format\": \"json\", \"directory\": \"%s\"}]}",
             dir, dir);
    config_t *cfg;
    assert_int_equal(config_parse("t.json", text, strlen(text), &cfg, err, sizeof err), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    reports_t *r;
    reports_opts_t o = {.now = clock_now, .check_ms = 50, .tmp_dir = dir};
    fake_now = 1770077100LL * 1000000; /* 2026-02-03 07:05 +07 */
    assert_int_equal(reports_create(&loop, cfg, &o, &r, err, sizeof err), 0);
    reports_set_dsn(r, dsn);

    /* both are due: daily for 07:00 today (yesterday's hours), monthly for Feb 1 (January) */
    run_until_runs(&loop, dsn, 2);
    assert_int_equal(runs(dsn, "status = 'ok' AND report = 'daily' AND scheduled_for ="
                               " '2026-02-03 07:00+07'"), 1);
    assert_int_equal(runs(dsn, "status = 'ok' AND report = 'month' AND scheduled_for ="
                               " '2026-02-01 06:30+07'"), 1);
    snprintf(path, sizeof path, "%s/daily-2026-02-03T0700.csv", dir);
    char *csv = slurp(path);
    assert_non_null(csv);
    assert_non_null(
        strstr(csv, "\r\n2026-02-02T00:00:00+07:00,hist.rate,Tỉ lệ,,,2,0,100,1,100\r\n"));
    assert_non_null(strstr(csv, "\r\n2026-02-02T23:00:00+07:00,"));
    assert_null(strstr(csv, "2026-02-03T00:00:00"));
    assert_null(strstr(csv, "2026-02-01T23:00:00"));
    free(csv);
    snprintf(path, sizeof path, "%s/month-2026-02-01T0630.json", dir);
    char *json = slurp(path);
    assert_non_null(json);
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    cJSON *rows = cJSON_GetObjectItem(doc, "rows");
    assert_int_equal(cJSON_GetArraySize(rows), 4); /* January 28 to 31 */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 3), "ts")->valuestring,
                        "2026-01-31T00:00:00+07:00");
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 3), "value")->valuedouble == 31);
    cJSON_Delete(doc);
    free(json);
    assert_int_equal(count_files(dir), 2);

    /* later the same day: nothing new */
    fake_now += 3600LL * 1000000;
    run_for(&loop, 400);
    assert_int_equal(runs(dsn, "true"), 2);
    assert_int_equal(count_files(dir), 2);

    /* iocd "was down" three days: one run, for the latest due time (Feb 6 07:00) */
    fake_now = 1770336000LL * 1000000; /* 2026-02-06 07:00 +07 */
    run_until_runs(&loop, dsn, 3);
    run_for(&loop, 300);
    assert_int_equal(runs(dsn, "true"), 3);
    assert_int_equal(runs(dsn, "report = 'daily' AND scheduled_for = '2026-02-06 07:00+07'"), 1);
    snprintf(path, sizeof path, "%s/daily-2026-02-06T0700.csv", dir);
    csv = slurp(path);
    assert_non_null(csv);
    assert_non_null(
        strstr(csv, "\r\n2026-02-05T00:00:00+07:00,hist.rate,Tỉ lệ,,,5,0,100,1,100\r\n"));
    free(csv);
    assert_int_equal(count_files(dir), 3);

    bool closed = false;
    reports_close(r, on_closed, &closed);
    for (int i = 0; i < 500 && !closed; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    config_free(cfg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_schedules)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
