/* pg_conn: a DSN's host name is looked up off the loop, which keeps ticking; the reason given to
 * on_broken stays valid when the callback frees the connection first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_pg.h"
#include "store/pg_conn.h"

#define SLOW_LOOKUP_US 600000

static pthread_t loop_thread;
static int lookups, lookups_on_loop;

/* Interposes libc's getaddrinfo (used by libpq and libuv): a slow resolver that counts where
 * it is called from. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                          struct addrinfo **);
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    __atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), loop_thread))
        __atomic_add_fetch(&lookups_on_loop, 1, __ATOMIC_SEQ_CST);
    usleep(SLOW_LOOKUP_US);
    return real(node, service, hints, res);
}

typedef struct ctx {
    bool broken, connected;
    char msg[256];
    int ticks;
} ctx_t;

static void on_connected(void *ud) { ((ctx_t *)ud)->connected = true; }

static void on_broken(void *ud, const char *msg)
{
    ctx_t *c = ud;
    c->broken = true;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void on_tick(uv_timer_t *t) { ((ctx_t *)t->data)->ticks++; }

static void on_closed(uv_handle_t *h) { (void)h; }

static void test_host_name_looked_up_off_the_loop(void **state)
{
    (void)state;
    loop_thread = pthread_self();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ctx_t c = {0};
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    tick.data = &c;
    uv_timer_start(&tick, on_tick, 20, 20);
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    pg_conn_t *pg = NULL;
    char err[256] = "";
    int rc = pg_conn_start(&loop, "host=iocd-no-such-host.invalid port=5432 user=x dbname=x "
                                  "connect_timeout=5", &cbs, &c, &pg, err, sizeof err);
    if (rc == 0)
        assert_true(helper_run_until(&loop, &c.broken, 5000));
    assert_int_equal(lookups_on_loop, 0);
    assert_true(lookups >= 1);
    /* The loop kept running during the slow look-up: ~30 ticks of 20 ms. */
    assert_true(c.ticks >= 10);
    assert_non_null(strstr(c.msg, "iocd-no-such-host.invalid"));
    assert_false(c.connected);
    pg_conn_free(pg);
    uv_close((uv_handle_t *)&tick, on_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Freed while its look-up is still running: nothing is called back, nothing leaks. */
static void test_freed_during_look_up(void **state)
{
    (void)state;
    loop_thread = pthread_self();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ctx_t c = {0};
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    pg_conn_t *pg = NULL;
    char err[256] = "";
    assert_int_equal(pg_conn_start(&loop, "host=localhost port=1 user=x dbname=x", &cbs, &c, &pg,
                                   err, sizeof err),
                     0);
    pg_conn_free(pg);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_false(c.broken);
    assert_false(c.connected);
    assert_int_equal(lookups_on_loop, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static pg_conn_t *freed_in_cb;

static void on_broken_free_first(void *ud, const char *msg)
{
    ctx_t *c = ud;
    pg_conn_free(freed_in_cb);
    c->broken = true;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

/* The server ends the session; the callback frees the connection before reading the reason. */
static void test_broken_message_outlives_free(void **state)
{
    (void)state;
    loop_thread = pthread_self();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ctx_t c = {0};
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected,
                                      .on_broken = on_broken_free_first};
    char dsn[1024], err[256] = "";
    snprintf(dsn, sizeof dsn, "%s application_name=iocd_pg_conn_test", getenv("IOCD_TEST_DSN"));
    assert_int_equal(pg_conn_start(&loop, dsn, &cbs, &c, &freed_in_cb, err, sizeof err), 0);
    assert_true(helper_run_until(&loop, &c.connected, 5000));
    PQclear(helper_query(getenv("IOCD_TEST_DSN"),
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE application_name = 'iocd_pg_conn_test'"));
    assert_true(helper_run_until(&loop, &c.broken, 5000));
    assert_non_null(strstr(c.msg, "terminat"));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_name_looked_up_off_the_loop),
        cmocka_unit_test(test_freed_during_look_up),
        cmocka_unit_test(test_broken_message_outlives_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
