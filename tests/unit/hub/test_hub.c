/* Hub unit tests without sockets: frames and their refcounts, op parsing, conflation, queue
 * bounds and resync, and per-tick fan-out to connections created through the /ws handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub/hub_int.h"
#include "ioc/error.h"

/* The frame's bytes as sent with seq, as a NUL-terminated copy. */
static char *rendered(hub_frame_t *f, uint64_t seq)
{
    size_t len;
    unsigned char *p = hub_frame_render(f, seq, &len);
    char *s = malloc(len + 1);

    assert_non_null(s);
    assert_true(p - f->mem >= WEB_WS_PRE);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static void test_frame_render_patches_seq(void **state)
{
    cJSON *body = cJSON_Parse("{\"items\":[{\"a\":1}]}");
    hub_frame_t *f = hub_frame_new("update", body);
    char *a, *b;

    (void)state;
    assert_non_null(f);
    a = rendered(f, 7);
    assert_string_equal(a, "{\"type\":\"update\",\"seq\":7,\"items\":[{\"a\":1}]}");
    b = rendered(f, 18446744073709551615ull);
    assert_string_equal(b, "{\"type\":\"update\",\"seq\":18446744073709551615,\"items\":[{\"a\":1}]}");
    free(a);
    free(b);
    /* the shared tail is untouched by rendering for another connection */
    a = rendered(f, 1);
    assert_string_equal(a, "{\"type\":\"update\",\"seq\":1,\"items\":[{\"a\":1}]}");
    free(a);
    hub_frame_unref(f);
    cJSON_Delete(body);
}

static void test_frame_empty_body_and_refs(void **state)
{
    cJSON *body = cJSON_CreateObject();
    hub_frame_t *f = hub_frame_new("pong", body);
    char *s;

    (void)state;
    assert_non_null(f);
    s = rendered(f, 3);
    assert_string_equal(s, "{\"type\":\"pong\",\"seq\":3}");
    free(s);
    assert_int_equal(f->refs, 1);
    assert_ptr_equal(hub_frame_ref(f), f);
    assert_int_equal(f->refs, 2);
    hub_frame_unref(f);
    assert_int_equal(f->refs, 1);
    hub_frame_unref(f); /* freed: ASan would flag a leak or double free */
    hub_frame_unref(NULL);
    assert_null(hub_frame_new("a-type-name-over-sixteen", body));
    cJSON_Delete(body);
}

static void expect_op_error(const char *msg, int code, const char *want)
{
    hub_op_t op;
    char err[256];

    assert_int_equal(hub_op_parse(msg, strlen(msg), &op, err, sizeof err), code);
    if (!strstr(err, want))
        fail_msg("message %s: error \"%s\" does not contain \"%s\"", msg, err, want);
}

static void test_op_parse_good(void **state)
{
    hub_op_t op;
    char err[256];
    const char *m = "{\"op\":\"subscribe\",\"topics\":[\"indicators\",\"alerts\",\"indicator:traffic.avg_speed\"]}";

    (void)state;
    assert_int_equal(hub_op_parse(m, strlen(m), &op, err, sizeof err), 0);
    assert_int_equal(op.kind, HUB_OP_SUBSCRIBE);
    assert_int_equal(op.ntopics, 3);
    assert_string_equal(op.topics[2], "indicator:traffic.avg_speed");
    m = "{\"op\":\"ping\"}";
    assert_int_equal(hub_op_parse(m, strlen(m), &op, err, sizeof err), 0);
    assert_int_equal(op.kind, HUB_OP_PING);
    m = "{\"op\":\"unsubscribe\",\"topics\":[\"alerts\"]}xyz";
    /* only the first len bytes count: the frame is not NUL-terminated */
    assert_int_equal(hub_op_parse(m, strlen(m) - 3, &op, err, sizeof err), 0);
    assert_int_equal(op.kind, HUB_OP_UNSUBSCRIBE);
    assert_string_equal(op.topics[0], "alerts");
}

static void test_op_parse_errors(void **state)
{
    char big[WEB_WS_MAX_MSG + 2];

    (void)state;
    expect_op_error("{\"op\":\"ping\"", IOC_EINVAL, "not valid JSON (at byte");
    expect_op_error("hello", IOC_EINVAL, "not valid JSON (at byte 0)");
    expect_op_error("[1]", IOC_EINVAL, "expected a JSON object");
    expect_op_error("{}", IOC_EINVAL, "key \"op\": missing");
    expect_op_error("{\"op\":5}", IOC_EINVAL, "key \"op\": expected a string");
    expect_op_error("{\"op\":\"jump\"}", IOC_EINVAL, "unknown op \"jump\"");
    expect_op_error("{\"op\":\"ping\",\"x\":1}", IOC_EINVAL, "unknown key \"x\" for op \"ping\"");
    expect_op_error("{\"op\":\"subscribe\"}", IOC_EINVAL, "key \"topics\": missing");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":\"alerts\"}", IOC_EINVAL,
                    "key \"topics\": expected an array");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[]}", IOC_EINVAL, "expected 1 to 16 topics, got 0");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[\"alerts\",7]}", IOC_EINVAL,
                    "topics[1]: expected a string");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[\"alerts\",\"weather\"]}", IOC_EINVAL,
                    "topics[1]: unknown topic");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[\"indicator:\"]}", IOC_EINVAL,
                    "topics[0]: empty indicator id");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[\"indicator:a\\u0001b\"]}", IOC_EINVAL,
                    "topics[0]: control character");
    expect_op_error("{\"op\":\"subscribe\",\"topics\":[\"indicator:\xff\"]}", IOC_EINVAL,
                    "topics[0]: indicator id is not valid UTF-8");
    /* a client's bytes echoed in an error are made printable ASCII */
    expect_op_error("{\"op\":\"\xc3\xa9t\\\"\"}", IOC_EINVAL, "unknown op \"??t?\"");
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '\0';
    expect_op_error(big, IOC_ETOOBIG, "message over 4096 bytes");
}

static void test_op_parse_nul_byte(void **state)
{
    hub_op_t op;
    char err[256];
    const char m[] = "{\"op\":\"ping\"}\0{";

    (void)state;
    assert_int_equal(hub_op_parse(m, sizeof m - 1, &op, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "NUL byte at byte 13");
}

static void test_pending_conflates(void **state)
{
    hub_pending_t p;
    hub_item_t a = {"speed", "Tân An", 1700000000123456, 31.5, true, "ok"};
    hub_item_t b = {"speed", "Bến Lức", 1700000000000000, 0, false, "no-data"};
    hub_item_t c = {"flow", "", -1500, 7, true, "crit"};
    cJSON *arr, *o;
    char *s;

    (void)state;
    hub_pending_init(&p, 3);
    assert_int_equal(hub_pending_put(&p, &a), 0);
    assert_int_equal(hub_pending_put(&p, &b), 0);
    a.value = 28;
    a.status = "warn";
    assert_int_equal(hub_pending_put(&p, &a), 0); /* same pair: replaced, not added */
    assert_int_equal(p.n, 2);
    assert_int_equal(hub_pending_put(&p, &c), 0);
    hub_item_t d = {"flow", "x", 0, 1, true, "ok"};
    assert_int_equal(hub_pending_put(&p, &d), IOC_EFULL);
    arr = hub_pending_json(&p, "speed");
    s = cJSON_PrintUnformatted(arr);
    assert_string_equal(s, "[{\"indicator\":\"speed\",\"group\":\"Tân An\",\"ts\":\"2023-11-14T22:13:20.123Z\","
                           "\"value\":28,\"status\":\"warn\"},{\"indicator\":\"speed\",\"group\":\"Bến Lức\","
                           "\"ts\":\"2023-11-14T22:13:20.000Z\",\"value\":null,\"status\":\"no-data\"}]");
    free(s);
    cJSON_Delete(arr);
    arr = hub_pending_json(&p, NULL);
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    o = cJSON_GetArrayItem(arr, 2);
    /* -1500 us is 2 ms before the epoch when floored */
    assert_string_equal(cJSON_GetObjectItem(o, "ts")->valuestring, "1969-12-31T23:59:59.998Z");
    cJSON_Delete(arr);
    arr = hub_pending_json(&p, "none");
    assert_int_equal(cJSON_GetArraySize(arr), 0);
    cJSON_Delete(arr);
    hub_pending_clear(&p);
    assert_int_equal(p.n, 0);
    assert_int_equal(hub_pending_put(&p, &d), 0);
    hub_pending_free(&p);
}

typedef struct fx {
    uv_loop_t loop;
    hub_t *h;
    int closed;
} fx_t;

static cJSON *provide(void *ud, const char *topic)
{
    (void)ud;
    if (!strcmp(topic, "indicators"))
        return cJSON_Parse("[{\"indicator\":\"speed\",\"group\":\"A\",\"value\":1}]");
    if (!strcmp(topic, "indicator:speed"))
        return cJSON_Parse("[{\"indicator\":\"speed\",\"group\":\"A\",\"value\":1}]");
    if (!strcmp(topic, "indicator:flow"))
        return cJSON_Parse("[]");
    return NULL;
}

static cJSON *provide_alerts(void *ud, const char *topic)
{
    (void)ud;
    return strcmp(topic, "alerts") ? NULL : cJSON_Parse("[{\"id\":4,\"state\":\"firing\"}]");
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    hub_opts_t o = {.tick_ms = 10, .max_queue = 4};

    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(hub_create(&fx->loop, &o, &fx->h), 0);
    hub_set_snapshot_provider(fx->h, "indicator", provide, NULL);
    hub_set_snapshot_provider(fx->h, "alerts", provide_alerts, NULL);
    *state = fx;
    return 0;
}

static void on_closed(void *ud)
{
    ((fx_t *)ud)->closed = 1;
}

static int teardown(void **state)
{
    fx_t *fx = *state;

    hub_close(fx->h, on_closed, fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(fx->closed, 1);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

static hub_conn_t *conn_with(fx_t *fx, const char *msg)
{
    hub_conn_t *c = hub_ws_handler.open(fx->h, NULL);

    assert_non_null(c);
    if (msg)
        hub_ws_handler.message(c, msg, strlen(msg), NULL);
    return c;
}

/* Hands a client message to the hub as the transport would. */
static void send_msg(hub_conn_t *c, const char *msg)
{
    hub_ws_handler.message(c, msg, strlen(msg), NULL);
}

/* Pops the next queued frame rendered with the next seq. */
static char *next_frame(hub_conn_t *c)
{
    hub_frame_t *f = hub_conn_pop(c);
    char *s;

    if (!f)
        return NULL;
    s = rendered(f, ++c->seq);
    hub_frame_unref(f);
    return s;
}

static void test_fanout_shares_frames(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *all1 = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}");
    hub_conn_t *all2 = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"indicators\",\"indicator:speed\"]}");
    hub_conn_t *one = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"indicator:flow\"]}");
    hub_conn_t *none = conn_with(fx, NULL);
    hub_item_t it = {"speed", "A", 0, 10, true, "ok"};
    hub_stats_t st;
    char *s;

    assert_true(all1->resync && all2->resync && one->resync);
    all1->resync = all2->resync = one->resync = false; /* as if their snapshots were sent */
    hub_update(fx->h, &it);
    it.value = 12; /* conflated: only the latest value goes out */
    hub_update(fx->h, &it);
    it.indicator = "flow";
    it.value = 5;
    hub_update(fx->h, &it);
    hub_get_stats(fx->h, &st);
    uint64_t built = st.frames_built;
    uv_run(&fx->loop, UV_RUN_DEFAULT); /* the tick fires once and the loop goes idle */
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.frames_built - built, 2); /* "indicators" once, "indicator:flow" once */
    assert_int_equal(all1->qlen, 1);
    assert_int_equal(all2->qlen, 1); /* no duplicate for indicator:speed */
    assert_int_equal(one->qlen, 1);
    assert_int_equal(none->qlen, 0);
    assert_ptr_equal(all1->q[all1->qhead], all2->q[all2->qhead]);
    assert_int_equal(all1->q[all1->qhead]->refs, 2);
    s = next_frame(all1);
    assert_string_equal(s, "{\"type\":\"update\",\"seq\":1,\"items\":[{\"indicator\":\"speed\",\"group\":\"A\","
                           "\"ts\":\"1970-01-01T00:00:00.000Z\",\"value\":12,\"status\":\"ok\"},"
                           "{\"indicator\":\"flow\",\"group\":\"A\",\"ts\":\"1970-01-01T00:00:00.000Z\","
                           "\"value\":5,\"status\":\"ok\"}]}");
    free(s);
    s = next_frame(one);
    assert_non_null(strstr(s, "\"items\":[{\"indicator\":\"flow\""));
    assert_null(strstr(s, "speed"));
    free(s);
}

static void test_queue_bound_resyncs(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *slow = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}");
    hub_item_t it = {"speed", "A", 0, 0, true, "ok"};
    hub_stats_t st;
    hub_frame_t *f;
    char *s;
    int i;

    slow->resync = false;
    for (i = 0; i < 4; i++) {
        it.value = i;
        hub_update(fx->h, &it);
        hub_flush(fx->h);
    }
    assert_int_equal(slow->qlen, 4);
    assert_false(slow->resync);
    it.value = 99;
    hub_update(fx->h, &it);
    hub_flush(fx->h); /* the fifth frame does not fit: queue dropped, snapshot due */
    assert_int_equal(slow->qlen, 0);
    assert_true(slow->resync);
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.resyncs, 1);
    assert_int_equal(st.queued, 0);
    hub_update(fx->h, &it);
    hub_flush(fx->h); /* the snapshot will carry it: not queued */
    assert_int_equal(slow->qlen, 0);
    /* a ping is still answered, after the snapshot's place */
    send_msg(slow, "{\"op\":\"ping\"}");
    assert_int_equal(slow->qlen, 1);
    f = hub_snapshot(fx->h, slow);
    s = rendered(f, 1);
    assert_string_equal(s, "{\"type\":\"snapshot\",\"seq\":1,\"topics\":[\"indicators\"],"
                           "\"items\":[{\"indicator\":\"speed\",\"group\":\"A\",\"value\":1}]}");
    free(s);
    hub_frame_unref(f);
}

static void test_queue_byte_bound(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *c = conn_with(fx, NULL);
    char *big = malloc(400 * 1024);
    cJSON *body = cJSON_CreateObject();
    hub_frame_t *f;

    memset(big, 'x', 400 * 1024 - 1);
    big[400 * 1024 - 1] = '\0';
    cJSON_AddStringToObject(body, "s", big);
    f = hub_frame_new("update", body);
    assert_non_null(f);
    hub_conn_push(c, f, true);
    hub_conn_push(c, f, true);
    assert_int_equal(c->qlen, 2);
    assert_int_equal(c->qbytes, 2 * f->len);
    hub_conn_push(c, f, true); /* 1.2 MB would be queued: dropped for a snapshot */
    assert_int_equal(c->qlen, 0);
    assert_int_equal(c->qbytes, 0);
    assert_true(c->resync);
    assert_int_equal(f->refs, 1);
    hub_frame_unref(f);
    cJSON_Delete(body);
    free(big);
}

static void test_ops_on_connection(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *c = conn_with(fx, NULL);
    hub_stats_t st;
    hub_frame_t *f;
    char *s, msg[600];
    int i;

    send_msg(c, "{\"op\":\"ping\"}");
    s = next_frame(c);
    assert_string_equal(s, "{\"type\":\"pong\",\"seq\":1}");
    free(s);
    send_msg(c, "{\"op\":\"subscribe\",\"topics\":[\"indicator:nope\"]}");
    s = next_frame(c);
    assert_string_equal(s, "{\"type\":\"error\",\"seq\":2,\"message\":\"topics[0]: unknown indicator\"}");
    free(s);
    assert_int_equal(c->nids, 0);
    hub_ws_handler.message(c, NULL, 0, "message over 4096 bytes");
    s = next_frame(c);
    assert_string_equal(s, "{\"type\":\"error\",\"seq\":3,\"message\":\"message over 4096 bytes\"}");
    free(s);
    send_msg(c, "{\"op\":\"subscribe\",\"topics\":[\"alerts\",\"indicator:speed\"]}");
    assert_true(c->resync && c->alerts);
    f = hub_snapshot(fx->h, c);
    s = rendered(f, 4);
    assert_string_equal(s, "{\"type\":\"snapshot\",\"seq\":4,\"topics\":[\"indicator:speed\",\"alerts\"],"
                           "\"items\":[{\"indicator\":\"speed\",\"group\":\"A\",\"value\":1}],"
                           "\"alerts\":[{\"id\":4,\"state\":\"firing\"}]}");
    free(s);
    hub_frame_unref(f);
    /* the longest matching provider prefix answers: this one knows no flow ids */
    strcpy(msg, "{\"op\":\"subscribe\",\"topics\":[");
    for (i = 0; i < 16; i++)
        sprintf(msg + strlen(msg), "%s\"indicator:flow%d\"", i ? "," : "", i);
    strcat(msg, "]}");
    hub_set_snapshot_provider(fx->h, "indicator:flow", provide_alerts, NULL);
    hub_ws_handler.message(c, msg, strlen(msg), NULL);
    s = next_frame(c);
    assert_non_null(strstr(s, "topics[0]: unknown indicator"));
    free(s);
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.bad_frames, 3);
    send_msg(c, "{\"op\":\"unsubscribe\",\"topics\":[\"indicator:speed\",\"alerts\"]}");
    assert_int_equal(c->nids, 0);
    assert_false(c->alerts);
    hub_ws_handler.closed(c);
    hub_get_stats(fx->h, &st);
    assert_int_equal(st.connections, 0);
}

static void test_conn_topic_limit(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *c = conn_with(fx, NULL);
    hub_op_t op = {.kind = HUB_OP_SUBSCRIBE, .ntopics = 16};
    int i;

    for (i = 0; i < 16; i++)
        snprintf(op.topics[i], sizeof op.topics[i], "indicator:x%d", i);
    assert_int_equal(hub_conn_apply(c, &op), 0);
    assert_int_equal(c->nids, 16);
    assert_int_equal(hub_conn_apply(c, &op), 0); /* already there: no growth */
    op.ntopics = 1;
    strcpy(op.topics[0], "indicator:y");
    assert_int_equal(hub_conn_apply(c, &op), IOC_EFULL);
    assert_int_equal(c->nids, 16);
    strcpy(op.topics[0], "indicators");
    assert_int_equal(hub_conn_apply(c, &op), 0);
    assert_true(c->all_indicators);
}

static void test_alert_frames(void **state)
{
    fx_t *fx = *state;
    hub_conn_t *a = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"alerts\"]}");
    hub_conn_t *b = conn_with(fx, "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}");
    cJSON *alert = cJSON_Parse("{\"id\":9,\"state\":\"firing\",\"rule\":\"Tốc độ\"}");
    char *s;

    a->resync = b->resync = false;
    hub_alert(fx->h, alert);
    cJSON_Delete(alert); /* copied */
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(b->qlen, 0);
    s = next_frame(a);
    assert_string_equal(s, "{\"type\":\"alert\",\"seq\":1,\"alert\":{\"id\":9,\"state\":\"firing\",\"rule\":\"Tốc độ\"}}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_render_patches_seq),
        cmocka_unit_test(test_frame_empty_body_and_refs),
        cmocka_unit_test(test_op_parse_good),
        cmocka_unit_test(test_op_parse_errors),
        cmocka_unit_test(test_op_parse_nul_byte),
        cmocka_unit_test(test_pending_conflates),
        cmocka_unit_test_setup_teardown(test_fanout_shares_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound_resyncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_byte_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_on_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_topic_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_frames, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
