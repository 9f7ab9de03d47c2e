/* The hub on a real loop behind a real lws server, with real WebSocket clients in a thread:
 * upgrade refusals, snapshot/update/pong/error frames with gapless seq, sample-to-client
 * latency, a stalled client that must not slow a healthy one, and memory per idle client. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "helper_wsclient.h"
#include "hub/hub_int.h"

/* AddressSanitizer's allocator keeps freed memory in quarantine: heap and RSS figures mean
 * nothing under it, so those checks are skipped there. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define TICK_MS 50
#define MAX_QUEUE 8
#define FLOOD_GROUPS 5000
#define IDLE_CLIENTS 200

enum { CMD_NONE, CMD_UPDATE, CMD_FLOOD };

typedef struct fx {
    uv_loop_t loop;
    web_t *w;
    hub_t *h;
    int port;
    config_t cfg;
    config_t *cfgp;
    config_token_t tokens[2];
    uv_timer_t poll;
    atomic_int cmd;        /* set by the client thread, cleared by the loop once done */
    atomic_int value;      /* the value the next command writes */
    atomic_int done;       /* the client thread finished */
    atomic_ullong max_queued;
    int last_value;
    void (*scenario)(struct fx *);
    int ok;                /* the scenario reached its end */
    int closed;
} fx_t;

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static cJSON *provide(void *ud, const char *topic)
{
    fx_t *fx = ud;
    hub_item_t it = {"speed", "A", 0, fx->last_value, true, "ok"};
    cJSON *arr;

    if (strcmp(topic, "indicators") && strcmp(topic, "indicator:speed"))
        return NULL;
    arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, hub_item_json(&it));
    return arr;
}

/* The loop side of the client thread's commands, and the queue-size watch. */
static void poll_tick(uv_timer_t *t)
{
    fx_t *fx = t->data;
    hub_stats_t st;
    hub_item_t it = {"speed", "A", 0, 0, true, "ok"};
    char group[16];
    int cmd = atomic_load(&fx->cmd), i;

    hub_get_stats(fx->h, &st);
    if (st.queued > atomic_load(&fx->max_queued))
        atomic_store(&fx->max_queued, st.queued);
    if (cmd == CMD_UPDATE) {
        fx->last_value = atomic_load(&fx->value);
        it.value = fx->last_value;
        hub_update(fx->h, &it);
    } else if (cmd == CMD_FLOOD) {
        it.value = atomic_load(&fx->value);
        for (i = 0; i < FLOOD_GROUPS; i++) {
            snprintf(group, sizeof group, "g%d", i);
            it.group = group;
            hub_update(fx->h, &it);
        }
    }
    if (cmd != CMD_NONE)
        atomic_store(&fx->cmd, CMD_NONE);
    if (atomic_load(&fx->done))
        uv_stop(&fx->loop);
}

/* From the client thread: asks the loop to run a command and waits until it has. */
static void command(fx_t *fx, int cmd, int value)
{
    atomic_store(&fx->value, value);
    atomic_store(&fx->cmd, cmd);
    while (atomic_load(&fx->cmd) != CMD_NONE)
        usleep(200);
}

static void set_token(config_token_t *t, char *name, char *role, const char *secret)
{
    t->name = name;
    t->role = role;
    crypto_hash_sha256(t->sha256, (const unsigned char *)secret, strlen(secret));
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    web_opts_t wo = {.host = "127.0.0.1", .port = 0};
    hub_opts_t ho = {.tick_ms = TICK_MS, .max_queue = MAX_QUEUE};

    assert_int_equal(sodium_init() < 0, 0);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(web_create(&fx->loop, &wo, &fx->w), 0);
    fx->port = web_port(fx->w);
    assert_int_equal(hub_create(&fx->loop, &ho, &fx->h), 0);
    set_token(&fx->tokens[0], "wall", "viewer", "view-secret");
    set_token(&fx->tokens[1], "gw", "writer", "write-secret");
    fx->cfg.tokens = fx->tokens;
    fx->cfg.ntokens = 2;
    fx->cfgp = &fx->cfg;
    hub_set_snapshot_provider(fx->h, "indicator", provide, fx);
    assert_int_equal(hub_attach(fx->h, fx->w, &fx->cfgp), 0);
    uv_timer_init(&fx->loop, &fx->poll);
    fx->poll.data = fx;
    *state = fx;
    return 0;
}

static void on_closed(void *ud)
{
    ((fx_t *)ud)->closed++;
}

static int teardown(void **state)
{
    fx_t *fx = *state;

    uv_close((uv_handle_t *)&fx->poll, NULL);
    hub_close(fx->h, on_closed, fx);
    web_close(fx->w, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, 2);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

static void *client_thread(void *arg)
{
    fx_t *fx = arg;

    fx->scenario(fx);
    atomic_store(&fx->done, 1);
    return NULL;
}

/* Runs scenario in a client thread while the loop serves. */
static void run(fx_t *fx, void (*scenario)(fx_t *))
{
    pthread_t t;

    fx->scenario = scenario;
    uv_timer_start(&fx->poll, poll_tick, 1, 1);
    assert_int_equal(pthread_create(&t, NULL, client_thread, fx), 0);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
    uv_timer_stop(&fx->poll);
    assert_true(fx->ok);
}

#define VIEWER "Authorization: Bearer view-secret\r\n"

/* Receives the next text frame and checks its type and seq. Returns it (caller frees). */
static cJSON *expect(wsc_t *c, const char *type, uint64_t seq)
{
    char *msg;
    cJSON *j;

    if (wsc_recv(c, &msg, 5000) != 1) {
        free(msg);
        return NULL;
    }
    j = cJSON_Parse(msg);
    if (!j || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")), type) ||
        (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")) != seq) {
        fprintf(stderr, "expected %s seq %llu, got %s\n", type, (unsigned long long)seq, msg);
        cJSON_Delete(j);
        j = NULL;
    }
    free(msg);
    return j;
}

static void scenario_refusals(fx_t *fx)
{
    wsc_t c;
    char hdr[256];

    if (wsc_connect(&c, fx->port, NULL, 0) != 401)
        goto out;
    wsc_close(&c);
    if (wsc_connect(&c, fx->port, "Authorization: Bearer wrong\r\n", 0) != 401)
        goto out;
    wsc_close(&c);
    if (wsc_connect(&c, fx->port, "Authorization: Bearer write-secret\r\n", 0) != 403)
        goto out;
    wsc_close(&c);
    if (wsc_connect(&c, fx->port, VIEWER "Origin: http://evil.example:8080\r\n", 0) != 403)
        goto out;
    wsc_close(&c);
    snprintf(hdr, sizeof hdr, VIEWER "Origin: http://127.0.0.1:%d\r\n", fx->port);
    if (wsc_connect(&c, fx->port, hdr, 0) != 101)
        goto out;
    fx->ok = 1;
out:
    wsc_close(&c);
}

static void test_refusals(void **state)
{
    fx_t *fx = *state;
    hub_stats_t st;

    run(fx, scenario_refusals);
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.refused, 4);
    assert_int_equal(st.accepted, 1);
}

static void scenario_frames(fx_t *fx)
{
    wsc_t c;
    cJSON *j = NULL;
    char big[5000];
    uint64_t seq = 0, t0, lat, max_lat = 0, sum_lat = 0;
    const cJSON *item;
    int i;

    if (wsc_connect(&c, fx->port, VIEWER, 0) != 101 ||
        wsc_text(&c, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}") < 0 ||
        !(j = expect(&c, "snapshot", ++seq)))
        goto out;
    item = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0);
    if (!item || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(item, "indicator")), "speed"))
        goto out;
    cJSON_Delete(j);
    if (wsc_text(&c, "{\"op\":\"ping\"}") < 0 || !(j = expect(&c, "pong", ++seq)))
        goto out;
    cJSON_Delete(j);
    if (wsc_text(&c, "{\"op\":") < 0 || !(j = expect(&c, "error", ++seq)) ||
        !strstr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "message")), "not valid JSON"))
        goto out;
    cJSON_Delete(j);
    /* over the limit, arriving in pieces through lws's 512-byte rx buffer */
    memset(big, ' ', sizeof big);
    big[0] = '{';
    if (wsc_send(&c, 1, big, sizeof big, true) < 0 || !(j = expect(&c, "error", ++seq)) ||
        strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "message")), "message over 4096 bytes"))
        goto out;
    cJSON_Delete(j);
    /* a valid message in two WebSocket fragments */
    if (wsc_send(&c, 1, "{\"op\":", 6, false) < 0 || wsc_send(&c, 0, "\"ping\"}", 7, true) < 0 ||
        !(j = expect(&c, "pong", ++seq)))
        goto out;
    cJSON_Delete(j);
    if (wsc_send(&c, 2, "{}", 2, true) < 0 || !(j = expect(&c, "error", ++seq)) ||
        !strstr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "message")), "binary"))
        goto out;
    cJSON_Delete(j);
    for (i = 1; i <= 20; i++) {
        usleep(TICK_MS * 1000); /* a quiet tick: the change goes out at once */
        t0 = now_us();
        command(fx, CMD_UPDATE, 100 + i);
        if (!(j = expect(&c, "update", ++seq)))
            goto out;
        lat = now_us() - t0;
        sum_lat += lat;
        max_lat = lat > max_lat ? lat : max_lat;
        item = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0);
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(item, "value")) != 100 + i)
            goto out;
        cJSON_Delete(j);
        j = NULL;
    }
    printf("ws update latency (tick %d ms, updates a tick apart): avg %.1f ms, max %.1f ms over "
           "20 updates\n", TICK_MS, sum_lat / 20 / 1000.0, max_lat / 1000.0);
    fx->ok = max_lat < 1000000 && sum_lat / 20 < TICK_MS * 1000;
out:
    cJSON_Delete(j);
    wsc_close(&c);
}

static void test_frames_and_latency(void **state)
{
    fx_t *fx = *state;
    hub_stats_t st;

    run(fx, scenario_frames);
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.bad_frames, 3);
}

static size_t rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &size, &res), 2);
    fclose(f);
    return res * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* Reads frames until one whose first item has value `want` (want < 0: until a quiet
 * timeout), checking that seq has no gaps. Returns the last value seen, or -1 on a gap,
 * a bad frame, or a timeout before `want`. */
static int drain(wsc_t *c, uint64_t *seq, int want, bool *saw_snapshot)
{
    char *msg;
    cJSON *j;
    int last = -2;

    while (wsc_recv(c, &msg, want < 0 && last != -2 ? 300 : 2000) == 1) {
        j = cJSON_Parse(msg);
        free(msg);
        if (!j || (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")) != ++*seq) {
            cJSON_Delete(j);
            return -1;
        }
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")), "snapshot"))
            *saw_snapshot = true;
        last = (int)cJSON_GetNumberValue(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0), "value"));
        cJSON_Delete(j);
        if (want >= 0 && last == want)
            return last;
    }
    return want < 0 ? last : -1;
}

/* Memory and latency figures mean nothing under ASan or valgrind (IOCD_SANITIZED is set by
 * scripts/test for those runs): check behaviour only. */
static bool figures_meaningful(void)
{
    return !UNDER_ASAN && !getenv("IOCD_SANITIZED");
}

static void scenario_slow(fx_t *fx)
{
    wsc_t good, slow;
    uint64_t gseq = 0, sseq = 0, t0, lat, max_lat = 0;
    size_t rss_mid = 0, rss_end;
    bool snap = false;
    cJSON *j = NULL;
    char *msg;
    int i, v;

    if (wsc_connect(&good, fx->port, VIEWER, 0) != 101 ||
        wsc_connect(&slow, fx->port, VIEWER, 4096) != 101 ||
        wsc_text(&good, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}") < 0 ||
        wsc_text(&slow, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}") < 0 ||
        !(j = expect(&good, "snapshot", ++gseq)))
        goto out;
    cJSON_Delete(j);
    if (!(j = expect(&slow, "snapshot", ++sseq)))
        goto out;
    cJSON_Delete(j);
    j = NULL;
    /* the slow client reads nothing more; each tick's frame is ~500 KB */
    for (i = 1; i <= 60; i++) {
        t0 = now_us();
        command(fx, CMD_FLOOD, i);
        if (drain(&good, &gseq, i, &snap) != i)
            goto out;
        lat = now_us() - t0;
        max_lat = lat > max_lat ? lat : max_lat;
        if (i == 30)
            rss_mid = rss_kb();
    }
    rss_end = rss_kb();
    printf("healthy client beside a stalled one: max latency %.1f ms over 60 ticks of %d items; "
           "RSS %zu kB at tick 30, %zu kB at tick 60; max frames queued %llu\n",
           max_lat / 1000.0, FLOOD_GROUPS, rss_mid, rss_end,
           (unsigned long long)atomic_load(&fx->max_queued));
    if (snap || (figures_meaningful() && (max_lat > 1000000 || rss_end > rss_mid + 8 * 1024)))
        goto out;
    /* the stalled client reads again: gapless seq, and a snapshot instead of what it missed */
    snap = false;
    if (drain(&slow, &sseq, -1, &snap) < 0 || !snap)
        goto out;
    command(fx, CMD_UPDATE, 7);
    if (wsc_recv(&slow, &msg, 2000) != 1)
        goto out;
    j = cJSON_Parse(msg);
    free(msg);
    v = (int)cJSON_GetNumberValue(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0), "value"));
    fx->ok = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seq")) == sseq + 1 && v == 7;
out:
    cJSON_Delete(j);
    wsc_close(&good);
    wsc_close(&slow);
}

static void test_stalled_client(void **state)
{
    fx_t *fx = *state;
    hub_stats_t st;

    run(fx, scenario_slow);
    hub_get_stats(fx->h, &st);
    assert_true(st.resyncs >= 1);
    assert_true(atomic_load(&fx->max_queued) <= 2 * MAX_QUEUE);
}

static size_t idle_bytes;

static void scenario_idle(fx_t *fx)
{
    wsc_t *c = calloc(IDLE_CLIENTS, sizeof *c);
    cJSON *j;
    int i, n = 0;

    for (i = 0; i < IDLE_CLIENTS; i++) {
        if (wsc_connect(&c[i], fx->port, VIEWER, 0) != 101 ||
            wsc_text(&c[i], "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}") < 0 ||
            !(j = expect(&c[i], "snapshot", 1)))
            break;
        cJSON_Delete(j);
        n++;
    }
    usleep(100000); /* let the loop settle (snapshots freed) */
    atomic_store(&fx->value, n);
    /* the loop thread measures while these stay open */
    atomic_store(&fx->cmd, 3);
    while (atomic_load(&fx->cmd) == 3)
        usleep(1000);
    fx->ok = n == IDLE_CLIENTS;
    for (i = 0; i < IDLE_CLIENTS; i++)
        wsc_close(&c[i]);
    free(c);
}

static size_t heap_before;

static void measure_tick(uv_timer_t *t)
{
    fx_t *fx = t->data;

    if (atomic_load(&fx->cmd) == 3) {
        idle_bytes = (mallinfo2().uordblks - heap_before) / IDLE_CLIENTS;
        atomic_store(&fx->cmd, CMD_NONE);
    }
    if (atomic_load(&fx->done))
        uv_stop(&fx->loop);
}

static void test_idle_memory(void **state)
{
    fx_t *fx = *state;
    pthread_t t;
    hub_stats_t st;

    if (UNDER_ASAN)
        skip();
    fx->scenario = scenario_idle;
    heap_before = mallinfo2().uordblks;
    uv_timer_start(&fx->poll, measure_tick, 1, 1);
    assert_int_equal(pthread_create(&t, NULL, client_thread, fx), 0);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
    uv_timer_stop(&fx->poll);
    assert_true(fx->ok);
    hub_get_stats(fx->h, &st);
    printf("heap per idle subscribed /ws client (server side, lws + hub): %zu bytes\n",
           idle_bytes);
    if (figures_meaningful())
        assert_true(idle_bytes > 0 && idle_bytes < 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_and_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
