/* Collector scheduling against real plugin objects: interval, timeout, back-off on failure,
 * health on /metrics, invalid samples counted, reload keeping unchanged instances, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/collectors.h"
#include "core/metrics.h"
#include "helper_pg.h"

typedef struct fixture {
    uv_loop_t loop;
    char dir[64];
    spool_t *spool;
    ingest_t *in;
    collectors_t *c;
    bool closed;
} fixture_t;

static void on_closed(void *ud) { ((fixture_t *)ud)->closed = true; }

static fixture_t *make(void)
{
    fixture_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof f->dir, "/tmp/iocd-collect-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    spool_opts_t so = {.dir = f->dir, .max_bytes = 1 << 20};
    assert_int_equal(spool_open(&f->loop, &so, &f->spool), 0);
    ingest_opts_t io = {.spool = f->spool};
    assert_int_equal(ingest_create(&f->loop, &io, &f->in), 0);
    const char *dir = getenv("IOCD_TEST_PLUGIN_DIR");
    assert_non_null(dir);
    assert_int_equal(collectors_create(&f->loop, dir, f->in, &f->c), 0);
    return f;
}

static void destroy(fixture_t *f)
{
    f->closed = false;
    collectors_close(f->c, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 5000));
    f->closed = false;
    ingest_drain(f->in, 1000, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 5000));
    f->closed = false;
    spool_close(f->spool, on_closed, f);
    assert_true(helper_run_until(&f->loop, &f->closed, 5000));
    ingest_free(f->in);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static config_t *cfg_of(const char *json)
{
    config_t *cfg;
    char err[512];
    int rc = config_parse("test.json", json, strlen(json), &cfg, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    return cfg;
}

/* Reads one metric line's value from /metrics, or -1 if absent. */
static double metric(const char *name_and_labels)
{
    strbuf_t out;
    strbuf_init(&out, 0);
    metrics_render(&out);
    double v = -1;
    char *p = out.data ? strstr(out.data, name_and_labels) : NULL;
    if (p && p[strlen(name_and_labels)] == ' ')
        v = atof(p + strlen(name_and_labels) + 1);
    strbuf_free(&out);
    return v;
}

static void run_for(fixture_t *f, uint64_t ms)
{
    bool never = false;
    helper_run_until(&f->loop, &never, ms);
}

static void test_interval_and_health(void **state)
{
    (void)state;
    fixture_t *f = make();
    config_t *cfg = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"good\","
                           " \"interval\": \"100ms\", \"mode\": \"ok\"}]}");
    char err[512];
    assert_int_equal(collectors_apply(f->c, cfg, err, sizeof err), 0);
    run_for(f, 1050);
    double ok = metric("iocd_collector_collections_total{collector=\"good\",plugin=\"flaky\","
                       "result=\"ok\"}");
    /* First run within one interval, then every 100 ms ± 5%: 9 to 11 runs in 1.05 s. */
    assert_true(ok >= 8 && ok <= 11);
    assert_int_equal(metric("iocd_collector_up{collector=\"good\",plugin=\"flaky\"}"), 1);
    assert_int_equal(metric("iocd_collector_samples_total{collector=\"good\",plugin=\"flaky\"}"), ok);
    config_free(cfg);
    destroy(f);
}

static void test_failures_back_off(void **state)
{
    (void)state;
    fixture_t *f = make();
    config_t *cfg = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"bad\","
                           " \"interval\": \"100ms\", \"mode\": \"fail\"}]}");
    char err[512];
    assert_int_equal(collectors_apply(f->c, cfg, err, sizeof err), 0);
    run_for(f, 1600);
    /* Back-off doubles: runs at ~0-0.1, +0.2, +0.4, +0.8 s: at most 5 in 1.6 s, not 16. */
    double errors = metric("iocd_collector_collections_total{collector=\"bad\",plugin=\"flaky\","
                           "result=\"error\"}");
    assert_true(errors >= 3 && errors <= 5);
    assert_int_equal(metric("iocd_collector_up{collector=\"bad\",plugin=\"flaky\"}"), 0);
    assert_int_equal(metric("iocd_collector_consecutive_failures{collector=\"bad\","
                            "plugin=\"flaky\"}"), errors);
    config_free(cfg);
    destroy(f);
}

static void test_hang_times_out(void **state)
{
    (void)state;
    fixture_t *f = make();
    config_t *cfg = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"stuck\","
                           " \"interval\": \"100ms\", \"timeout\": \"100ms\", \"mode\": \"hang\"}]}");
    char err[512];
    assert_int_equal(collectors_apply(f->c, cfg, err, sizeof err), 0);
    run_for(f, 700);
    double timeouts = metric("iocd_collector_collections_total{collector=\"stuck\","
                             "plugin=\"flaky\",result=\"timeout\"}");
    assert_true(timeouts >= 1 && timeouts <= 3);
    config_free(cfg);
    destroy(f);
}

static void test_invalid_samples_counted(void **state)
{
    (void)state;
    fixture_t *f = make();
    config_t *cfg = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"junk\","
                           " \"interval\": \"100ms\", \"mode\": \"bad\"}]}");
    char err[512];
    assert_int_equal(collectors_apply(f->c, cfg, err, sizeof err), 0);
    run_for(f, 450);
    assert_true(metric("iocd_collector_samples_invalid_total{collector=\"junk\","
                       "plugin=\"flaky\"}") >= 2);
    assert_int_equal(metric("iocd_collector_samples_total{collector=\"junk\",plugin=\"flaky\"}"), 0);
    config_free(cfg);
    destroy(f);
}

static void test_reload_is_all_or_nothing(void **state)
{
    (void)state;
    fixture_t *f = make();
    char err[512];
    config_t *one = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"a\","
                           " \"interval\": \"100ms\", \"mode\": \"ok\"}]}");
    assert_int_equal(collectors_apply(f->c, one, err, sizeof err), 0);
    run_for(f, 250);
    /* b's plugin refuses its config: nothing changes, a keeps running. */
    config_t *bad = cfg_of("{\"collectors\": [{\"plugin\": \"flaky\", \"name\": \"a\","
                           " \"interval\": \"100ms\", \"mode\": \"ok\"}, {\"plugin\": \"flaky\","
                           " \"name\": \"b\", \"mode\": 3}]}");
    assert_int_not_equal(collectors_apply(f->c, bad, err, sizeof err), 0);
    assert_non_null(strstr(err, "collector \"b\""));
    assert_non_null(strstr(err, "mode"));
    assert_int_equal(collectors_count(f->c), 1);
    double before = metric("iocd_collector_samples_total{collector=\"a\",plugin=\"flaky\"}");
    run_for(f, 250);
    assert_true(metric("iocd_collector_samples_total{collector=\"a\",plugin=\"flaky\"}") > before);
    /* A wrong ABI and a missing file are refused naming the file. */
    config_t *abi = cfg_of("{\"collectors\": [{\"plugin\": \"abi99\", \"name\": \"x\"}]}");
    assert_int_equal(collectors_apply(f->c, abi, err, sizeof err), IOC_EABI);
    assert_non_null(strstr(err, "abi99.so"));
    assert_non_null(strstr(err, "version 99"));
    config_t *none = cfg_of("{\"collectors\": [{\"plugin\": \"nosuch\", \"name\": \"x\"}]}");
    assert_int_equal(collectors_apply(f->c, none, err, sizeof err), IOC_ENOTFOUND);
    assert_non_null(strstr(err, "nosuch.so"));
    assert_int_equal(collectors_count(f->c), 1);
    config_free(one);
    config_free(bad);
    config_free(abi);
    config_free(none);
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_and_health),
        cmocka_unit_test(test_failures_back_off),
        cmocka_unit_test(test_hang_times_out),
        cmocka_unit_test(test_invalid_samples_counted),
        cmocka_unit_test(test_reload_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
