/* The real http_json.so in a fake host on a real libuv loop, polling a real local HTTP server
 * (fixture_server.py): FIWARE payloads, several URLs, auth, headers, and failures survived. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_host.h"

#define TFO_ID "id=TrafficFlowObserved-Valladolid-osm-60821110"
#define TFO_TS 1481109300000000LL

static const ioc_collector_desc_t *desc;
static void *dl;
static pid_t server;
static int port;

static int setup(void **state)
{
    (void)state;
    desc = hh_load(&dl);
    server = hh_server_start(&port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hh_server_stop(server);
    return 0;
}

/* Makes a host and an initialised instance; fails the test if init fails. */
static ioc_host_t *start(const char *config, void **inst)
{
    char err[256] = "";
    ioc_host_t *h = hh_new(config, port);
    int rc = desc->init(&hh_services, h, inst, err, sizeof err);
    if (rc != IOC_OK)
        fail_msg("init: %d %s", rc, err);
    return h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->magic, IOC_COLLECTOR_MAGIC);
    assert_int_equal(desc->abi_version, IOC_COLLECTOR_ABI_VERSION);
    assert_string_equal(desc->name, "http_json");
    assert_non_null(desc->collect);
}

static void test_polls_ngsi_v2_entity(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"orion\", \"format\": \"ngsi-v2\", \"url\": "
                          "\"http://127.0.0.1:$PORT/fiware/TrafficFlowObserved/example.json\"}", &inst);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_OK);
        assert_int_equal(h->rec.n, 7);
        const rec_sample_t *s = rec_find(&h->rec, "TrafficFlowObserved.averageVehicleSpeed", TFO_ID);
        assert_non_null(s);
        assert_float_equal(s->value, 52.6, 0);
        assert_int_equal(s->ts_us, TFO_TS);
    }
    assert_int_equal(h->nlogs, 0);
    hh_free(desc, inst, h);
}

static void test_several_urls_one_round(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start(
        "{\"name\": \"many\", \"format\": \"ngsi-v2\", \"urls\": ["
        " \"http://127.0.0.1:$PORT/fiware/TrafficFlowObserved/example.json\","
        " \"http://127.0.0.1:$PORT/fiware/TrafficFlowObserved/example-normalized.json\","
        " \"http://127.0.0.1:$PORT/fiware/Streetlight/example-normalized.json\"],"
        " \"value_map\": {\"powerState\": {\"on\": 1, \"off\": 0}},"
        " \"tags\": {\"district\": \"/municipalityInfo/district\"}}", &inst);
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->rec.n, 7 + 7 + 9);
    const rec_sample_t *s = rec_find(&h->rec, "Streetlight.powerState",
                                     "district=Bangalore Urban,id=streetlight:guadalajara:4567");
    assert_non_null(s);
    assert_float_equal(s->value, 0, 0);
    hh_free(desc, inst, h);
}

static void test_generic_json_and_auth(void **state)
{
    void *inst;
    (void)state;
    static const char *const configs[] = {
        "{\"name\": \"b\", \"url\": \"http://127.0.0.1:$PORT/auth/basic\", \"username\": \"ioc\","
        " \"password\": \"s3cret\", \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"}]}",
        "{\"name\": \"t\", \"url\": \"http://127.0.0.1:$PORT/auth/bearer\", \"bearer_token\": "
        "\"t0k3n\", \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"}]}",
        "{\"name\": \"h\", \"url\": \"http://127.0.0.1:$PORT/headers\", \"headers\": "
        "{\"Fiware-Service\": \"longan\"}, \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"}]}",
    };
    for (int i = 0; i < 3; i++) {
        ioc_host_t *h = start(configs[i], &inst);
        assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_OK);
        assert_int_equal(h->rec.n, 1);
        assert_float_equal(h->rec.s[0].value, i + 1, 0);
        assert_int_equal(h->rec.s[0].ts_us, h->now_us);
        hh_free(desc, inst, h);
    }
    /* Wrong or missing credentials: 401, the round fails. */
    ioc_host_t *h = start("{\"name\": \"b\", \"url\": \"http://127.0.0.1:$PORT/auth/basic\","
                          " \"username\": \"ioc\", \"password\": \"wrong\","
                          " \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"}]}", &inst);
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_EIO);
    assert_non_null(strstr(h->logs, "HTTP status 401"));
    hh_free(desc, inst, h);
}

/* Each failure ends the round with an error and is logged, naming the URL; the instance keeps
 * working afterwards. */
static void test_failures_survived(void **state)
{
    static const struct { const char *path, *extra; int status; const char *log; } cases[] = {
        {"/fiware/Nope/example.json", "", IOC_EIO, "HTTP status 404"},
        {"/status/500", "", IOC_EIO, "HTTP status 500"},
        {"/status/503", "", IOC_EIO, "HTTP status 503"},
        {"/garbage", "", IOC_EINVAL, "event=malformed_payload detail=\"line 1 column 1: not valid JSON\""},
        {"/big", ", \"max_body\": \"4KiB\"", IOC_ETOOBIG, "over max_body (4096 bytes)"},
        {"/slow", ", \"timeout\": \"500ms\"", IOC_ETIMEDOUT, "event=poll_failed detail=\"timed out"},
    };
    char config[512];
    void *inst;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(config, sizeof config, "{\"name\": \"f\", \"format\": \"ngsi-v2\", "
                 "\"url\": \"http://127.0.0.1:$PORT%s\"%s}", cases[i].path, cases[i].extra);
        ioc_host_t *h = start(config, &inst);
        double t0 = now_s();
        int rc = hh_collect(desc, inst, h, 5000);
        if (rc != cases[i].status || !strstr(h->logs, cases[i].log))
            fail_msg("%s: status %d (want %d), logs: %s", cases[i].path, rc, cases[i].status,
                     h->logs);
        assert_non_null(strstr(h->logs, cases[i].path));
        assert_int_equal(h->rec.n, 0);
        if (cases[i].status == IOC_ETIMEDOUT)
            assert_true(now_s() - t0 < 1.5);
        hh_free(desc, inst, h);
    }
}

static void test_refused_connection_and_recovery(void **state)
{
    void *inst;
    (void)state;
    /* Nothing listens on port 1 of localhost. */
    ioc_host_t *h = start("{\"name\": \"r\", \"format\": \"ngsi-v2\", \"urls\": ["
                          " \"http://127.0.0.1:1/v2/entities\","
                          " \"http://127.0.0.1:$PORT/fiware/Camera/example.json\"]}", &inst);
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_EIO);
    /* The good URL of the same round still delivered. */
    assert_int_equal(h->rec.n, 2);
    assert_non_null(strstr(h->logs, "127.0.0.1:1/v2/entities"));
    assert_int_equal(h->nlogs, 1);
    /* Within a minute, repeats are counted, not logged. */
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_EIO);
    assert_int_equal(h->nlogs, 1);
    h->now_us += 61 * 1000000LL;
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_EIO);
    assert_int_equal(h->nlogs, 2);
    assert_non_null(strstr(h->logs, "failures=3"));
    assert_non_null(strstr(h->logs, "suppressed=1"));
    hh_free(desc, inst, h);
}

/* The host's timeout fired and it collects again: the old round is closed out at once. */
static void test_collect_while_busy(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"s\", \"format\": \"ngsi-v2\", \"interval\": \"10s\","
                          " \"url\": \"http://127.0.0.1:$PORT/slow\"}", &inst);
    h->done_calls = 0;
    desc->collect(inst);
    hh_run_for(h, 200);
    assert_int_equal(h->done_calls, 0);
    desc->collect(inst);
    assert_int_equal(h->done_calls, 1);
    assert_int_equal(h->done_status, IOC_ETIMEDOUT);
    hh_run_for(h, 200);
    /* Stop with the second transfer in flight: no collect_done after stop, `closed` is called. */
    hh_free(desc, inst, h);
}

static void test_emit_refused(void **state)
{
    void *inst;
    (void)state;
    ioc_host_t *h = start("{\"name\": \"e\", \"format\": \"ngsi-v2\", \"url\": "
                          "\"http://127.0.0.1:$PORT/fiware/Streetlight/example.json\"}", &inst);
    h->emit_status = IOC_EFULL;
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_EFULL);
    assert_non_null(strstr(h->logs, "event=emit_refused"));
    h->emit_status = IOC_OK;
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->rec.n, 8);
    hh_free(desc, inst, h);
}

/* A small body that would make a huge number of samples is cut at 4 x max_body bytes of them. */
static void test_samples_bounded_per_body(void **state)
{
    char config[600], metric[201];
    void *inst;
    (void)state;
    memset(metric, 'm', 200);
    metric[200] = '\0';
    snprintf(config, sizeof config, "{\"name\": \"o\", \"url\": \"http://127.0.0.1:$PORT/ones\","
             " \"max_body\": \"1KiB\", \"metrics\": [{\"metric\": \"%s\", \"value\": \"\"}]}",
             metric);
    ioc_host_t *h = start(config, &inst);
    assert_int_equal(hh_collect(desc, inst, h, 5000), IOC_ETOOBIG);
    assert_non_null(strstr(h->logs, "samples of one body over 4096 bytes"));
    /* What fitted is delivered: 4096 / (200 + 1 + 20) bytes per sample. */
    assert_int_equal(h->rec.n, 4096 / 221);
    hh_free(desc, inst, h);
}

static void test_init_errors_and_tls_warning(void **state)
{
    char err[256] = "";
    void *inst = NULL;
    (void)state;
    ioc_host_t *h = hh_new("{\"name\": \"x\", \"format\": \"ngsi-v2\", \"url\": \"http://a\","
                           " \"pasword\": \"p\"}", port);
    assert_int_equal(desc->init(&hh_services, h, &inst, err, sizeof err), IOC_EINVAL);
    assert_non_null(strstr(err, "unknown key \"pasword\""));
    hh_free(desc, NULL, h);
    h = start("{\"name\": \"x\", \"format\": \"ngsi-v2\", \"url\": \"https://127.0.0.1:$PORT/\","
              " \"tls_verify\": false}", &inst);
    assert_non_null(strstr(h->logs, "tls_verify is false"));
    hh_free(desc, inst, h);
    ioc_host_services_t old = hh_services;
    old.abi_version = 0;
    h = hh_new("{\"name\": \"x\", \"format\": \"ngsi-v2\", \"url\": \"http://a\"}", port);
    assert_int_equal(desc->init(&old, h, &inst, err, sizeof err), IOC_EABI);
    hh_free(desc, NULL, h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_polls_ngsi_v2_entity),
        cmocka_unit_test(test_several_urls_one_round),
        cmocka_unit_test(test_generic_json_and_auth),
        cmocka_unit_test(test_failures_survived),
        cmocka_unit_test(test_refused_connection_and_recovery),
        cmocka_unit_test(test_collect_while_busy),
        cmocka_unit_test(test_emit_refused),
        cmocka_unit_test(test_samples_bounded_per_body),
        cmocka_unit_test(test_init_errors_and_tls_warning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
