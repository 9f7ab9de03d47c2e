/* The real probe.so in a fake host on a real libuv loop, probing local peers run by the test:
 * TCP, HTTP 200/500, RTSP, a closed port, black holes, 2,000 targets in one round, stop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fakehost.h"
#include "helper_servers.h"

/* a look-up still on the threadpool may hold a stop up to the resolver's own timeout */
#define STOP_MS 30000


/* Upper time bounds stretch under valgrind or sanitizers (IOCD_SANITIZED), which slow every
 * step; lower bounds (the timeouts themselves) do not, but allow the loop's cached clock to be
 * a few tens of ms behind the wall clock when a round starts. */
static long slack(void)
{
    return getenv("IOCD_SANITIZED") ? 10 : 1;
}
static const ioc_collector_desc_t *desc;
static ts_servers_t *servers;
static ts_ports_t P;
static ts_seen_t *seen;

static int setup(void **state)
{
    (void)state;
    desc = fhost_load("probe");
    servers = ts_start(&P, &seen);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(servers);
    return 0;
}

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Clears the recorded samples and runs one collect until collect_done (fails after
 * timeout_ms). Returns collect_done's status; *elapsed_ms (may be NULL) gets the round time. */
static int collect(void *inst, ioc_host_t *h, int timeout_ms, double *elapsed_ms)
{
    uint64_t t0 = uv_hrtime();
    h->nsamples = 0;
    int status = fhost_collect(desc, inst, h, timeout_ms);
    if (elapsed_ms)
        *elapsed_ms = (double)(uv_hrtime() - t0) / 1e6;
    return status;
}

/* The recorded sample of metric whose tags contain "target=<target>," or end with it; NULL if
 * none. Fails the test if there are several. */
static const fhost_sample_t *find(const ioc_host_t *h, const char *metric, const char *target)
{
    char needle[300];
    const fhost_sample_t *found = NULL;
    size_t nlen = (size_t)snprintf(needle, sizeof needle, "target=%s", target);
    for (size_t i = 0; i < h->nsamples; i++) {
        const fhost_sample_t *s = &h->samples[i];
        const char *p = strstr(s->tags, needle);
        if (strcmp(s->metric, metric) != 0 || !p || (p != s->tags && p[-1] != ',') ||
            (p[nlen] != ',' && p[nlen] != '\0'))
            continue;
        if (found)
            fail_msg("two %s samples for target %s", metric, target);
        found = s;
    }
    return found;
}

/* Checks target's probe.up and that probe.latency_ms is there exactly when it is up. */
static void expect_up(const ioc_host_t *h, const char *target, int up, double max_latency_ms)
{
    const fhost_sample_t *u = find(h, "probe.up", target);
    const fhost_sample_t *l = find(h, "probe.latency_ms", target);
    if (!u)
        fail_msg("no probe.up for %s", target);
    if (u->value != up)
        fail_msg("probe.up{target=%s} = %g, want %d", target, u->value, up);
    if (up && (!l || l->value < 0 || l->value > max_latency_ms))
        fail_msg("probe.latency_ms{target=%s} = %g, want 0..%g", target, l ? l->value : NAN,
                 max_latency_ms);
    if (!up && l)
        fail_msg("probe.latency_ms for %s, which is down", target);
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->magic, IOC_COLLECTOR_MAGIC);
    assert_int_equal(desc->abi_version, IOC_COLLECTOR_ABI_VERSION);
    assert_string_equal(desc->name, "probe");
    assert_non_null(desc->collect);
}

static void test_every_kind(void **state)
{
    char cfg[4096];
    (void)state;
    snprintf(cfg, sizeof cfg,
             "{\"name\": \"cams\", \"interval\": \"5s\", \"target_timeout\": \"500ms\", "
             "\"tags\": {\"source\": \"vms\"}, \"targets\": ["
             "{\"name\": \"tcp-ok\", \"kind\": \"tcp\", \"address\": \"127.0.0.1:%d\", "
             " \"tags\": {\"district\": \"Tân An\", \"source\": \"field\"}},"
             "{\"name\": \"http-ok\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\", "
             " \"path\": \"/status?x=1\"},"
             "{\"name\": \"http-500\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"http-500-ok\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\", "
             " \"expect_status\": [401, 500]},"
             "{\"name\": \"cam-TA-001\", \"kind\": \"rtsp\", \"address\": \"127.0.0.1:%d\", "
             " \"path\": \"/Streaming/Channels/101\"},"
             "{\"name\": \"closed\", \"kind\": \"tcp\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"silent-http\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"silent-rtsp\", \"kind\": \"rtsp\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"black-hole\", \"kind\": \"tcp\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"http-on-rtsp\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\"},"
             "{\"name\": \"by-name\", \"kind\": \"tcp\", \"address\": \"localhost:%d\"}]}",
             P.tcp, P.http200, P.http500, P.http500, P.rtsp, P.closed, P.silent, P.silent, P.full,
             P.rtsp, P.tcp);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    for (int round = 0; round < 2; round++) {
        int gets = atomic_load(&seen->http_gets), opts = atomic_load(&seen->rtsp_options);
        int bad = atomic_load(&seen->malformed);
        double ms;
        int64_t t0 = wall_us();
        assert_int_equal(collect(inst, h, 5000, &ms), IOC_OK);
        int64_t t1 = wall_us();
        assert_int_equal(h->malformed, 0);
        assert_int_equal(h->nsamples, 11 + 5);
        expect_up(h, "tcp-ok", 1, 500);
        expect_up(h, "http-ok", 1, 500);
        expect_up(h, "http-500", 0, 0);
        expect_up(h, "http-500-ok", 1, 500);
        expect_up(h, "cam-TA-001", 1, 500);
        expect_up(h, "closed", 0, 0);
        expect_up(h, "silent-http", 0, 0);
        expect_up(h, "silent-rtsp", 0, 0);
        expect_up(h, "black-hole", 0, 0);
        expect_up(h, "http-on-rtsp", 0, 0);
        expect_up(h, "by-name", 1, 500);
        /* the target's own tags win over the instance's */
        assert_string_equal(find(h, "probe.up", "tcp-ok")->tags,
                            "district=Tân An,kind=tcp,source=field,target=tcp-ok");
        assert_string_equal(find(h, "probe.latency_ms", "cam-TA-001")->tags,
                            "kind=rtsp,source=vms,target=cam-TA-001");
        const fhost_sample_t *s = find(h, "probe.up", "black-hole");
        assert_true(s->ts_us >= t0 && s->ts_us <= t1);
        /* the silent peers time out after 500 ms; the round does not wait for anything else */
        if (!(ms >= 450 && ms < 2000 * slack()))
            fail_msg("round took %.0f ms: want 450 to %ld", ms, 2000 * slack());
        /* what the peers received: 3 GETs, 1 OPTIONS, and the GET sent to the RTSP peer */
        assert_int_equal(atomic_load(&seen->http_gets) - gets, 3);
        assert_int_equal(atomic_load(&seen->rtsp_options) - opts, 1);
        assert_int_equal(atomic_load(&seen->malformed) - bad, 1);
    }
    /* down targets are logged once a minute, with the reasons */
    assert_int_equal(fhost_count_logs(h, "event=targets_down down=6 of=11 timeout=3 refused=1 "
                                         "unreachable=0 dns=0 bad_status=1 bad_answer=1"), 1);
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
}

static void test_closed_port_is_down_at_once(void **state)
{
    char cfg[512];
    (void)state;
    snprintf(cfg, sizeof cfg, "{\"interval\": \"30s\", \"target_timeout\": \"10s\", \"targets\": "
             "[{\"name\": \"a\", \"address\": \"127.0.0.1:%d\"}, {\"name\": \"b\", \"kind\": "
             "\"rtsp\", \"address\": \"127.0.0.1:%d\"}]}", P.closed, P.closed);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    double ms;
    assert_int_equal(collect(inst, h, 5000, &ms), IOC_OK);
    expect_up(h, "a", 0, 0);
    expect_up(h, "b", 0, 0);
    assert_true(ms < 500 * slack());
    assert_int_equal(fhost_count_logs(h, "refused=2"), 1);
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
}

/* Builds a config of n targets named <prefix><i> at 127.0.0.1:port of one kind. */
static char *many(const char *opts, const char *prefix, const char *kind, int port, int n)
{
    cJSON *root = cJSON_Parse(opts);
    cJSON *arr = cJSON_AddArrayToObject(root, "targets");
    for (int i = 0; i < n; i++) {
        char name[64], addr[64];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", name);
        cJSON_AddStringToObject(t, "kind", kind);
        cJSON_AddStringToObject(t, "address", addr);
        cJSON_AddItemToArray(arr, t);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static void test_concurrency_limit(void **state)
{
    (void)state;
    char *cfg = many("{\"timeout\": \"5s\", \"target_timeout\": \"200ms\", \"concurrency\": 4}",
                     "s", "http", P.silent, 8);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    double ms;
    assert_int_equal(collect(inst, h, 5000, &ms), IOC_OK);
    assert_int_equal(h->nsamples, 8);
    /* 8 silent targets, 4 at a time: two waves of 200 ms */
    assert_true(ms >= 360 && ms < 1000 * slack());
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
    free(cfg);
}

static void test_round_budget_skips_and_rotates(void **state)
{
    (void)state;
    char *cfg = many("{\"timeout\": \"1s\", \"target_timeout\": \"400ms\", \"concurrency\": 2}",
                     "s", "rtsp", P.silent, 8);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    double ms;
    /* the budget is 900 ms: waves at 0 and 400 ms fit, one at 800 ms would not */
    assert_int_equal(collect(inst, h, 5000, &ms), IOC_ETIMEDOUT);
    assert_true(ms >= 750 && ms < 1000 * slack()); /* within the host's timeout */
    assert_int_equal(h->nsamples, 4);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_true((find(h, "probe.up", name) != NULL) == (i < 4));
    }
    assert_int_equal(
        fhost_count_logs(h, "event=round_overrun skipped=4 probed=4 budget_ms=900"), 1);
    /* the next round begins with the targets skipped */
    assert_int_equal(collect(inst, h, 5000, &ms), IOC_ETIMEDOUT);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_true((find(h, "probe.up", name) != NULL) == (i >= 4));
    }
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
    free(cfg);
}

typedef struct ticker {
    uv_timer_t timer;
    uint64_t last_ns, max_gap_ns;
    unsigned ticks;
} ticker_t;

static void on_tick(uv_timer_t *t)
{
    ticker_t *k = t->data;
    uint64_t now = uv_hrtime();
    if (k->last_ns && now - k->last_ns > k->max_gap_ns)
        k->max_gap_ns = now - k->last_ns;
    k->last_ns = now;
    k->ticks++;
}

static void test_two_thousand_targets(void **state)
{
    static const char *const kinds[] = {"tcp", "http", "rtsp", "http"};
    (void)state;
    cJSON *root = cJSON_Parse("{\"name\": \"province\", \"timeout\": \"5s\", "
                              "\"target_timeout\": \"2s\", \"tags\": {\"district\": \"Bến Lức\"}}");
    cJSON *arr = cJSON_AddArrayToObject(root, "targets");
    for (int i = 0; i < 2000; i++) {
        char name[64], addr[64];
        int port = i % 4 == 0 ? P.tcp : i % 4 == 1 ? P.http200 : i % 4 == 2 ? P.rtsp : P.http500;
        snprintf(name, sizeof name, "cam-%04d", i);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", name);
        cJSON_AddStringToObject(t, "kind", kinds[i % 4]);
        cJSON_AddStringToObject(t, "address", addr);
        cJSON_AddItemToArray(arr, t);
    }
    char *cfg = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    ticker_t k = {0};
    uv_timer_init(&h->loop, &k.timer);
    k.timer.data = &k;
    uv_timer_start(&k.timer, on_tick, 5, 5);
    int gets = atomic_load(&seen->http_gets), opts = atomic_load(&seen->rtsp_options);
    int bad = atomic_load(&seen->malformed);
    double ms;
    assert_int_equal(collect(inst, h, 10000, &ms), IOC_OK);
    uv_close((uv_handle_t *)&k.timer, NULL);
    assert_int_equal(h->nsamples, 2000 + 1500);
    size_t up = 0;
    for (size_t i = 0; i < h->nsamples; i++)
        if (strcmp(h->samples[i].metric, "probe.up") == 0)
            up += h->samples[i].value == 1;
    assert_int_equal(up, 1500);
    expect_up(h, "cam-0000", 1, 2000);
    expect_up(h, "cam-1999", 0, 0);
    assert_string_equal(find(h, "probe.up", "cam-0002")->tags,
                        "district=Bến Lức,kind=rtsp,target=cam-0002");
    assert_int_equal(atomic_load(&seen->http_gets) - gets, 1000);
    assert_int_equal(atomic_load(&seen->rtsp_options) - opts, 500);
    assert_int_equal(atomic_load(&seen->malformed) - bad, 0);
    /* well within the 4.5 s budget, and the loop kept ticking all along */
    assert_true(ms < 4500 * slack());
    assert_true(k.ticks >= 2);
    assert_true(k.max_gap_ns < 100000000u);
    print_message("2000 targets: round %.0f ms, longest loop gap %.1f ms over %u ticks\n", ms,
                  (double)k.max_gap_ns / 1e6, k.ticks);
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
    free(cfg);
}

static void test_targets_file(void **state)
{
    char path[] = "/tmp/iocd-probe-XXXXXX", cfg[512];
    (void)state;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# cameras of Tân An\n\n"
               "{\"name\": \"f-cam\", \"kind\": \"rtsp\", \"address\": \"127.0.0.1:%d\"}\n"
               "  {\"name\": \"f-web\", \"kind\": \"http\", \"address\": \"127.0.0.1:%d\", "
               "\"tags\": {\"district\": \"Tân An\"}}\n", P.rtsp, P.http500);
    fclose(f);
    snprintf(cfg, sizeof cfg, "{\"interval\": \"10s\", \"targets_file\": \"%s\", \"targets\": "
             "[{\"name\": \"c-tcp\", \"address\": \"127.0.0.1:%d\"}]}", path, P.tcp);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    assert_int_equal(collect(inst, h, 5000, NULL), IOC_OK);
    expect_up(h, "c-tcp", 1, 1000);
    expect_up(h, "f-cam", 1, 1000);
    expect_up(h, "f-web", 0, 0);
    assert_string_equal(find(h, "probe.up", "f-web")->tags,
                        "district=Tân An,kind=http,target=f-web");
    assert_int_equal(fhost_count_logs(h, "INFO targets=3 concurrency=256 target_timeout_ms=3000 "
                                         "round_budget_ms=9000"), 1);
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
    unlink(path);
}

static void test_init_error_names_key(void **state)
{
    char err[512] = "";
    void *inst = NULL;
    (void)state;
    ioc_host_t *h = fhost_new("{\"targets\": [{\"name\": \"x\", \"kind\": \"rtsp\", "
                              "\"address\": \"10.0.0.5:99999\"}]}");
    assert_int_equal(desc->init(&fhost_services, h, &inst, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "targets[0].address: port must be a number from 1 to 65535");
    assert_null(inst);
    fhost_free(h);
}

static void on_wait(uv_timer_t *t)
{
    (void)t;
}

static void test_stop_mid_round(void **state)
{
    (void)state;
    char *cfg = many("{\"target_timeout\": \"3s\"}", "s", "http", P.silent, 20);
    ioc_host_t *h = fhost_new(cfg);
    void *inst = fhost_init(desc, h);
    h->done_calls = 0;
    desc->collect(inst);
    uv_timer_t wait;
    uv_timer_init(&h->loop, &wait);
    uv_timer_start(&wait, on_wait, 100, 0);
    while (uv_is_active((uv_handle_t *)&wait))
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wait, NULL);
    uint64_t t0 = uv_hrtime();
    fhost_stop(desc, inst, h, STOP_MS);
    assert_true(uv_hrtime() - t0 < 1000000000u);
    assert_int_equal(h->done_calls, 0);
    assert_int_equal(h->nsamples, 0);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    fhost_free(h);
    free(cfg);
}

static void test_unresolvable_name(void **state)
{
    (void)state;
    ioc_host_t *h = fhost_new("{\"target_timeout\": \"2s\", \"targets\": [{\"name\": \"n\", "
                              "\"address\": \"no-such-host.invalid:80\"}]}");
    void *inst = fhost_init(desc, h);
    assert_int_equal(collect(inst, h, 5000, NULL), IOC_OK);
    expect_up(h, "n", 0, 0);
    assert_int_equal(fhost_count_logs(h, "example=\"n\""), 1);
    fhost_stop(desc, inst, h, STOP_MS);
    fhost_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_closed_port_is_down_at_once),
        cmocka_unit_test(test_concurrency_limit),
        cmocka_unit_test(test_round_budget_skips_and_rotates),
        cmocka_unit_test(test_two_thousand_targets),
        cmocka_unit_test(test_targets_file),
        cmocka_unit_test(test_init_error_names_key),
        cmocka_unit_test(test_stop_mid_round),
        cmocka_unit_test(test_unresolvable_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
