/* Unit test for the embedded PostgreSQL: first start (initdb), restart, stale pid file, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_pg.h"
#include "store/pgembed.h"

typedef struct ctx {
    uv_loop_t loop;
    pgembed_t *pg;
    bool ready, stopped;
    int status;
    char dsn[512];
} ctx_t;

static void on_ready(void *ud, int status, const char *dsn)
{
    ctx_t *c = ud;
    c->status = status;
    if (dsn)
        snprintf(c->dsn, sizeof c->dsn, "%s", dsn);
    c->ready = true;
}

static void on_stopped(void *ud)
{
    ((ctx_t *)ud)->stopped = true;
}

static void start(ctx_t *c, const char *state_dir)
{
    c->ready = false;
    c->dsn[0] = '\0';
    assert_int_equal(pgembed_start(&c->loop, state_dir, on_ready, c, &c->pg), 0);
    assert_true(helper_run_until(&c->loop, &c->ready, 90000));
    assert_int_equal(c->status, 0);
}

static void stop(ctx_t *c)
{
    c->stopped = false;
    pgembed_stop(c->pg, on_stopped, c);
    assert_true(helper_run_until(&c->loop, &c->stopped, 60000));
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_start_restart_stop(void **state)
{
    (void)state;
    ctx_t c = {0};
    uv_loop_init(&c.loop);
    char dir[] = "/tmp/iocd_pgembed_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char expect[256];
    snprintf(expect, sizeof expect, "host=%s/pg/run port=5432 user=postgres dbname=iocd", dir);

    start(&c, dir);
    assert_string_equal(c.dsn, expect);
    char *db = helper_value(c.dsn, "SELECT current_database()");
    assert_string_equal(db, "iocd");
    free(db);
    char *listen = helper_value(c.dsn, "SHOW listen_addresses");
    assert_string_equal(listen, "");
    free(listen);
    PQclear(helper_query(c.dsn, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('Tân An')"));
    char pidpath[300];
    snprintf(pidpath, sizeof pidpath, "%s/pg/data/postmaster.pid", dir);
    char *pidfile = read_file(pidpath);
    assert_non_null(pidfile);
    stop(&c);
    assert_int_equal(access(pidpath, F_OK), -1);
    /* pg_ctl stop returns once the pid file is gone; the postmaster may still be exiting. */
    pid_t old = (pid_t)atol(pidfile);
    for (int i = 0; i < 500 && kill(old, 0) == 0; i++)
        usleep(10000);
    assert_int_equal(kill(old, 0), -1);

    /* A crash leaves postmaster.pid behind naming a dead postmaster: start must not mind. */
    FILE *f = fopen(pidpath, "wb");
    assert_non_null(f);
    fputs(pidfile, f);
    fclose(f);
    free(pidfile);

    /* The second start finds the cluster (no initdb, which would refuse a non-empty dir). */
    start(&c, dir);
    char *kept = helper_value(c.dsn, "SELECT v FROM kept");
    assert_string_equal(kept, "Tân An");
    free(kept);
    stop(&c);

    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c.loop), 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_restart_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
