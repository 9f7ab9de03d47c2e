/* The mqtt plugin (the real mqtt.so) in a fake host on a real uv loop against a real mosquitto
 * broker: samples and tags, bad payloads counted and survived, a broker restart, clean stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helper_broker.h"
#include "fakehost.h"

#define WAIT_MS 10000

static const ioc_collector_desc_t *desc;

/* LeakSanitizer: OpenSSL keeps per-thread error queues for libuv's threadpool threads (where
 * connects run) and global caches until its own exit handler; those are not the plugin's. A
 * client libmosquitto allocated and the plugin did not destroy is still reported. */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}

typedef struct fixture {
    broker_t broker;
    ioc_host_t *host;
    void *state;
} fixture_t;

/* Makes a host from config text and starts the plugin. */
static void open_config(fixture_t *f, const char *cfg)
{
    f->host = fhost_open(desc, &f->state, "%s", cfg);
    assert_int_equal(desc->start(f->state), IOC_OK);
}

/* Makes a host for the broker's port with the standard subscriptions and starts the plugin. */
static void open_plugin(fixture_t *f)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"plugin\": \"mqtt\", \"name\": \"lights\", \"url\": \"mqtt://127.0.0.1:%d\","
             " \"reconnect_min\": \"100ms\", \"reconnect_max\": \"400ms\", \"keepalive\": \"5s\","
             " \"subscribe\": ["
             "  {\"topic\": \"longan/+district/light/+id/power\", \"metric\": \"lighting.power\","
             "   \"tags\": {\"source\": \"cms\"}},"
             "  {\"topic\": \"longan/+district/traffic/+id\", \"metric\": \"traffic.speed\","
             "   \"value\": \"/speed\", \"time\": \"/ts\"},"
             "  {\"topic\": \"site/+site/#\", \"metric\": \"site.any\"}]}",
             f->broker.port);
    open_config(f, cfg);
}

static void close_plugin(fixture_t *f)
{
    fhost_stop(desc, f->state, f->host, WAIT_MS); /* fails if the plugin left a handle open */
    fhost_free(f->host);
    f->host = NULL;
}

static int setup(void **st)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    broker_start(&f->broker);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture_t *f = *st;
    broker_cleanup(&f->broker);
    free(f);
    return 0;
}

static void wait_samples(fixture_t *f, size_t n)
{
    if (!fhost_run_until(f->host, fhost_has_samples, &n, WAIT_MS))
        fail_msg("got %zu samples, expected %zu", f->host->nsamples, n);
}

static void wait_log(fixture_t *f, const char *needle)
{
    if (!fhost_run_until(f->host, fhost_has_log, needle, WAIT_MS))
        fail_msg("no log line with \"%s\" (last: %s)", needle,
                 f->host->nlogs ? f->host->logs[f->host->nlogs - 1] : "none");
}

static void publish(fixture_t *f, const char *topic, const char *payload)
{
    if (broker_publish_str(&f->broker, topic, payload) != 0)
        fail_msg("could not publish to %s on port %d", topic, f->broker.port);
}

static void test_samples_and_tags(void **st)
{
    fixture_t *f = *st;
    open_plugin(f);
    wait_log(f, "event=subscribed filters=3");
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_OK);
    publish(f, "longan/Tân An/light/TA-0001/power", "120.5");
    publish(f, "longan/Bến Lức/traffic/BL-7", "{\"speed\": 42.25, \"ts\": 1700000000.5}");
    publish(f, "site/s9/a/b", " 3 ");
    publish(f, "elsewhere/x", "1"); /* matches no subscription: never delivered */
    wait_samples(f, 3);
    const fhost_sample_t *s = f->host->samples;
    assert_string_equal(s[0].metric, "lighting.power");
    assert_string_equal(s[0].tags, "district=Tân An,id=TA-0001,source=cms");
    assert_true(s[0].value == 120.5);
    assert_int_equal(s[0].ts_us, 0);
    assert_string_equal(s[1].metric, "traffic.speed");
    assert_string_equal(s[1].tags, "district=Bến Lức,id=BL-7");
    assert_true(s[1].value == 42.25);
    assert_int_equal(s[1].ts_us, 1700000000500000LL);
    assert_string_equal(s[2].metric, "site.any");
    assert_string_equal(s[2].tags, "site=s9");
    assert_true(s[2].value == 3.0);
    assert_int_equal(f->host->malformed, 0);
    close_plugin(f);
}

static void test_bad_payloads_survived(void **st)
{
    fixture_t *f = *st;
    open_plugin(f);
    wait_log(f, "event=subscribed");
    publish(f, "longan/Tân An/light/TA-1/power", "on");
    publish(f, "longan/Tân An/traffic/TA-2", "{\"speed\": \"fast\"}");
    publish(f, "longan/Tân An/traffic/TA-2", "{\"sped\": 1}");
    publish(f, "longan/Tân An/traffic/TA-2", "{not json");
    publish(f, "longan/Tân An/light/TA-1/power", "");
    publish(f, "longan/Tân An/light/TA-1/power", "77");
    wait_samples(f, 1);
    assert_string_equal(f->host->samples[0].tags, "district=Tân An,id=TA-1,source=cms");
    assert_true(f->host->samples[0].value == 77.0);
    /* Logged once (rate-limited), counted every time. */
    assert_int_equal(fhost_count_logs(f->host, "event=bad_payload "), 1);
    assert_int_equal(
        fhost_count_logs(f->host, "detail=\"payload is not a number\" bad_payloads=1"), 1);
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_OK);
    assert_int_equal(fhost_count_logs(f->host, "bad_payloads=5 unmatched=0"), 1);
    assert_int_equal(fhost_count_logs(f->host, "messages=6 samples=1"), 1);
    close_plugin(f);
}

static void test_broker_restart(void **st)
{
    fixture_t *f = *st;
    open_plugin(f);
    wait_log(f, "event=subscribed filters=3 connects=1");
    publish(f, "longan/Tân An/light/TA-1/power", "1");
    wait_samples(f, 1);

    broker_stop(&f->broker, 1);
    wait_log(f, "event=disconnected");
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_EIO);
    /* It keeps trying while the broker is away, and says so without flooding the log. */
    wait_log(f, "event=connect_failed");
    fhost_run_for(f->host, 1500);
    assert_int_equal(fhost_count_logs(f->host, "event=connect_failed"), 1);

    broker_start(&f->broker); /* same port, no persistence: the session is gone */
    wait_log(f, "event=subscribed filters=3 connects=2");
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_OK);
    publish(f, "longan/Cần Giuộc/light/CG-3/power", "2.5");
    wait_samples(f, 2);
    assert_string_equal(f->host->samples[1].tags, "district=Cần Giuộc,id=CG-3,source=cms");
    assert_true(f->host->samples[1].value == 2.5);
    close_plugin(f);
}

static void test_stop_while_down(void **st)
{
    fixture_t *f = *st;
    broker_stop(&f->broker, 1);
    open_plugin(f);
    wait_log(f, "event=connect_failed");
    fhost_run_for(f->host, 1000);
    assert_int_equal(fhost_count_logs(f->host, "event=connect_failed"), 1); /* rate-limited */
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_EIO);
    close_plugin(f);
    /* Stopped in the middle of a connect attempt: the work request must be waited for. */
    open_plugin(f);
    close_plugin(f);
    broker_start(&f->broker);
}

static int setup_tls(void **st)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    broker_enable_tls(&f->broker);
    broker_start(&f->broker);
    *st = f;
    return 0;
}

/* Opens the plugin on the TLS listener by host name; tls is the "tls" object's text. */
static void open_tls(fixture_t *f, const char *tls)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"plugin\": \"mqtt\", \"name\": \"secure\", \"url\": \"mqtts://localhost:%d\","
             " \"reconnect_min\": \"100ms\", \"reconnect_max\": \"400ms\", \"tls\": %s,"
             " \"subscribe\": [{\"topic\": \"v/+id\", \"metric\": \"v\"}]}",
             f->broker.tls_port, tls);
    open_config(f, cfg);
}

static void test_tls(void **st)
{
    fixture_t *f = *st;
    char tls[512];
    /* Verified against the test CA, by host name. */
    snprintf(tls, sizeof tls, "{\"ca_file\": \"%s/ca.pem\"}", f->broker.dir);
    open_tls(f, tls);
    wait_log(f, "event=subscribed filters=1");
    assert_int_equal(fhost_count_logs(f->host, "tls=on"), 2);
    publish(f, "v/x1", "5"); /* through the plain listener: the broker forwards across */
    wait_samples(f, 1);
    assert_string_equal(f->host->samples[0].tags, "id=x1");
    assert_true(f->host->samples[0].value == 5.0);
    close_plugin(f);
    /* The system's CA store does not know the test CA: refused, reported, retried. */
    open_tls(f, "{}");
    wait_log(f, "event=connect_failed");
    fhost_run_for(f->host, 1000);
    assert_int_equal(fhost_count_logs(f->host, "event=connected"), 0);
    assert_int_equal(fhost_count_logs(f->host, "event=connect_failed"), 1); /* rate-limited */
    assert_int_equal(fhost_collect(desc, f->state, f->host, 0), IOC_EIO);
    close_plugin(f);
    /* Verification off (tls.verify false) connects to the same broker, and reconnects after a
     * broker restart (the TLS context is reused). */
    open_tls(f, "{\"verify\": false}");
    wait_log(f, "event=subscribed filters=1 connects=1");
    broker_stop(&f->broker, 1);
    wait_log(f, "event=disconnected");
    broker_start(&f->broker);
    wait_log(f, "event=subscribed filters=1 connects=2");
    close_plugin(f);
}

static void test_init_errors(void **st)
{
    (void)st;
    char err[512] = "";
    void *state = NULL;
    ioc_host_t *h = fhost_new("{\"plugin\": \"mqtt\", \"name\": \"x\", \"url\": \"mqtt://h\","
                              " \"subscribe\": [{\"topic\": \"a/+b+\", \"metric\": \"m\"}]}");
    assert_non_null(h);
    assert_int_equal(desc->init(&fhost_services, h, &state, err, sizeof err), IOC_EINVAL);
    assert_non_null(strstr(err, "subscribe[0].topic: level 2"));
    ioc_host_services_t old = fhost_services;
    old.abi_version = 0;
    assert_int_equal(desc->init(&old, h, &state, err, sizeof err), IOC_EABI);
    fhost_free(h);
}

int main(void)
{
    desc = fhost_load("mqtt");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_samples_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_payloads_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup_tls, teardown),
        cmocka_unit_test(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
