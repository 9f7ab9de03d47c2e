/* A libmosquitto client driven by the host's libuv loop: uv_poll on its socket, a 1 s timer for
 * keepalive, connect on the threadpool (DNS and TLS set-up block), capped jittered back-off. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "mqtt.h"

#define TICK_MS 1000
#define MQTT_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt" /* Debian's ca-certificates */
#define COMPLAIN_EVERY_US (60LL * 1000000)

typedef enum conn_state {
    ST_IDLE,       /* waiting for the retry timer */
    ST_CONNECTING, /* mosquitto_connect_async running on the threadpool */
    ST_HANDSHAKE,  /* socket open, CONNECT sent, waiting for CONNACK */
    ST_UP          /* CONNACK accepted */
} conn_state_t;

struct mqtt_conn {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    const mqtt_config_t *cfg;
    mqtt_conn_events_t ev;
    struct mosquitto *mosq;
    uv_loop_t *loop;
    uv_timer_t tick, retry;
    uv_poll_t *poll; /* watches the socket; NULL when there is none */
    int poll_fd;
    uv_work_t work;
    int work_rc, work_errno;
    conn_state_t state;
    bool working, closing;
    bool failing;    /* attempts have failed since the last connect (for the log) */
    int refused;     /* CONNACK return code seen in the callback, 0 if none */
    unsigned attempt;
    int64_t state_since_us, down_since_us;
    uint64_t connects;
    int *mids;       /* SUBSCRIBE message id per cfg->filters entry */
    size_t subacks_pending;
    uint64_t rng;
    unsigned failures_unlogged;
    int64_t last_complaint_us;
    int open_handles;
    void (*done)(void *);
    void *done_ud;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static int64_t now_us(const mqtt_conn_t *c)
{
    return c->svc->now_us(c->host);
}

static void maybe_finish(mqtt_conn_t *c)
{
    if (!c->closing || c->open_handles || c->working)
        return;
    mosquitto_destroy(c->mosq);
    free(c->mids);
    void (*done)(void *) = c->done;
    void *ud = c->done_ud;
    free(c);
    done(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    mqtt_conn_t *c = h->data;
    if (h->type == UV_POLL)
        free(h);
    c->open_handles--;
    maybe_finish(c);
}

/* Stops watching the socket; libmosquitto may close it afterwards. */
static void detach_poll(mqtt_conn_t *c)
{
    if (!c->poll)
        return;
    uv_poll_stop(c->poll);
    uv_close((uv_handle_t *)c->poll, on_handle_closed);
    c->poll = NULL;
}

static void begin_connect(mqtt_conn_t *c);

static void on_retry(uv_timer_t *t)
{
    begin_connect(t->data);
}

/* Logs a failed attempt: the first of a streak at once, then at most once a minute. */
static void complain(mqtt_conn_t *c, const char *detail)
{
    int64_t now = now_us(c);
    c->failures_unlogged++;
    if (c->failing && now - c->last_complaint_us < COMPLAIN_EVERY_US)
        return;
    c->failing = true;
    c->last_complaint_us = now;
    c->svc->log(c->host, IOC_LOG_WARN,
                "event=connect_failed broker=%s:%d detail=\"%s\" failures=%u down_for_s=%lld",
                c->cfg->host, c->cfg->port, detail, c->failures_unlogged,
                (long long)((now - c->down_since_us) / 1000000));
    c->failures_unlogged = 0;
}

/* The connection or the attempt is over: stop watching, then try again after a back-off of
 * reconnect_min doubling per attempt up to reconnect_max, drawn from [delay/2, delay]. */
static void lost(mqtt_conn_t *c, const char *detail)
{
    detach_poll(c);
    if (c->state == ST_UP) {
        c->down_since_us = now_us(c);
        c->svc->log(c->host, IOC_LOG_WARN, "event=disconnected broker=%s:%d detail=\"%s\"",
                    c->cfg->host, c->cfg->port, detail);
    } else {
        complain(c, detail);
    }
    c->state = ST_IDLE;
    c->refused = 0;
    uint64_t delay = c->cfg->reconnect_max_ms;
    if (c->attempt < 32 && (c->cfg->reconnect_min_ms << c->attempt) < delay)
        delay = c->cfg->reconnect_min_ms << c->attempt;
    c->attempt++;
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    delay = delay / 2 + c->rng % (delay / 2 + 1);
    uv_timer_start(&c->retry, on_retry, delay, 0);
}

static const char *mosq_detail(int rc, int err)
{
    return rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc);
}

static void on_poll(uv_poll_t *p, int status, int events);

static void update_poll(mqtt_conn_t *c)
{
    int events = UV_READABLE | (mosquitto_want_write(c->mosq) ? UV_WRITABLE : 0);
    uv_poll_start(c->poll, events, on_poll);
}

/* After any libmosquitto call: the socket may have been closed under us. */
static void after_io(mqtt_conn_t *c, int rc)
{
    if (c->refused) {
        lost(c, mosquitto_connack_string(c->refused));
        return;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        lost(c, mosq_detail(rc, errno));
        return;
    }
    if (mosquitto_socket(c->mosq) != c->poll_fd) {
        lost(c, "socket closed");
        return;
    }
    update_poll(c);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    mqtt_conn_t *c = p->data;
    int rc = MOSQ_ERR_SUCCESS;
    if (status < 0) {
        /* libuv reports POLLERR as UV_EBADF: let libmosquitto read the real error. */
        rc = mosquitto_loop_read(c->mosq, 1);
        lost(c, rc != MOSQ_ERR_SUCCESS ? mosq_detail(rc, errno) : "socket error");
        return;
    }
    /* During a TLS handshake libmosquitto advances it only from loop_read, whichever way the
     * socket is ready; otherwise a read that finds nothing is harmless. */
    if ((events & UV_READABLE) || (c->cfg->tls && c->state == ST_HANDSHAKE))
        rc = mosquitto_loop_read(c->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && !c->refused && (events & UV_WRITABLE) &&
        mosquitto_socket(c->mosq) == c->poll_fd)
        rc = mosquitto_loop_write(c->mosq, 1);
    after_io(c, rc);
}

static void on_tick(uv_timer_t *t)
{
    mqtt_conn_t *c = t->data;
    if (c->state != ST_HANDSHAKE && c->state != ST_UP)
        return;
    if (c->state == ST_HANDSHAKE &&
        now_us(c) - c->state_since_us > (int64_t)c->cfg->connect_timeout_ms * 1000) {
        lost(c, "no CONNACK within connect_timeout");
        return;
    }
    after_io(c, mosquitto_loop_misc(c->mosq));
}

static void work_connect(uv_work_t *w)
{
    mqtt_conn_t *c = w->data;
    errno = 0;
    c->work_rc = mosquitto_connect_async(c->mosq, c->cfg->host, c->cfg->port, c->cfg->keepalive_s);
    c->work_errno = errno;
}

static void after_connect(uv_work_t *w, int status)
{
    mqtt_conn_t *c = w->data;
    c->working = false;
    if (c->closing) {
        maybe_finish(c);
        return;
    }
    if (status < 0 || c->work_rc != MOSQ_ERR_SUCCESS) {
        lost(c, status < 0 ? uv_strerror(status) : mosq_detail(c->work_rc, c->work_errno));
        return;
    }
    c->poll = malloc(sizeof *c->poll);
    c->poll_fd = mosquitto_socket(c->mosq);
    if (!c->poll || uv_poll_init_socket(c->loop, c->poll, c->poll_fd) != 0) {
        free(c->poll);
        c->poll = NULL;
        lost(c, "cannot watch the socket");
        return;
    }
    c->poll->data = c;
    c->open_handles++;
    c->state = ST_HANDSHAKE;
    c->state_since_us = now_us(c);
    uv_poll_start(c->poll, UV_READABLE | UV_WRITABLE, on_poll);
}

static void begin_connect(mqtt_conn_t *c)
{
    c->state = ST_CONNECTING;
    c->working = true;
    c->work.data = c;
    int rc = uv_queue_work(c->loop, &c->work, work_connect, after_connect);
    if (rc) {
        c->working = false;
        lost(c, uv_strerror(rc));
    }
}

/* libmosquitto callbacks: they run inside mosquitto_loop_read on the loop thread. */

static void cb_connect(struct mosquitto *mosq, void *ud, int rc)
{
    mqtt_conn_t *c = ud;
    if (rc != 0) {
        c->refused = rc;
        return;
    }
    c->state = ST_UP;
    c->attempt = 0;
    c->failing = false;
    c->connects++;
    c->failures_unlogged = 0;
    c->svc->log(c->host, IOC_LOG_INFO, "event=connected broker=%s:%d client_id=\"%s\" tls=%s",
                c->cfg->host, c->cfg->port, c->cfg->client_id, c->cfg->tls ? "on" : "off");
    c->subacks_pending = c->cfg->nfilters;
    for (size_t i = 0; i < c->cfg->nfilters; i++) {
        int src = mosquitto_subscribe(mosq, &c->mids[i], c->cfg->filters[i], 1);
        if (src != MOSQ_ERR_SUCCESS) {
            c->subacks_pending--;
            c->svc->log(c->host, IOC_LOG_ERROR, "event=subscribe_failed topic=\"%s\" detail=\"%s\"",
                        c->cfg->filters[i], mosquitto_strerror(src));
        }
    }
}

static void cb_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted)
{
    mqtt_conn_t *c = ud;
    (void)mosq;
    for (size_t i = 0; i < c->cfg->nfilters; i++) {
        if (c->mids[i] != mid)
            continue;
        if (n < 1 || granted[0] > 2)
            c->svc->log(c->host, IOC_LOG_ERROR, "event=subscribe_refused topic=\"%s\"",
                        c->cfg->filters[i]);
        if (c->subacks_pending && --c->subacks_pending == 0)
            c->svc->log(c->host, IOC_LOG_INFO, "event=subscribed filters=%zu connects=%llu",
                        c->cfg->nfilters, (unsigned long long)c->connects);
    }
}

static void cb_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *m)
{
    mqtt_conn_t *c = ud;
    (void)mosq;
    if (m->topic && m->payloadlen >= 0)
        c->ev.message(c->ev.ud, m->topic, m->payload, (size_t)m->payloadlen);
}

/* Applies the TLS settings; verification stays on unless tls.verify is false. Without ca_file or
 * ca_path the system bundle is named as a file: libmosquitto 2.0.11 with MOSQ_OPT_TLS_USE_OS_CERTS
 * refuses every reconnect (MOSQ_ERR_INVAL, its SSL_CTX is kept but has no CA file). */
static int setup_tls(mqtt_conn_t *c, char *err, size_t errlen)
{
    const mqtt_config_t *cfg = c->cfg;
    const char *ca_file = cfg->ca_file, *ca_path = cfg->ca_path;
    if (!ca_file && !ca_path)
        ca_file = MQTT_SYSTEM_CA_FILE;
    int rc = mosquitto_tls_set(c->mosq, ca_file, ca_path, cfg->cert_file, cfg->key_file, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_opts_set(c->mosq, cfg->tls_verify ? 1 : 0, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_insecure_set(c->mosq, !cfg->tls_verify);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "tls: %s (check that ca_file/ca_path, cert_file and key_file "
                 "exist and are readable)", mosquitto_strerror(rc));
        return IOC_EINVAL;
    }
    return IOC_OK;
}

int mqtt_conn_new(const ioc_host_services_t *svc, ioc_host_t *host, const mqtt_config_t *cfg,
                  const mqtt_conn_events_t *ev, mqtt_conn_t **out, char *err, size_t errlen)
{
    int rc = IOC_ENOMEM;
    pthread_once(&lib_once, lib_init);
    mqtt_conn_t *c = calloc(1, sizeof *c);
    if (!c || !(c->mids = calloc(cfg->nfilters, sizeof *c->mids)))
        goto fail;
    c->svc = svc;
    c->host = host;
    c->cfg = cfg;
    c->ev = *ev;
    c->loop = svc->loop(host);
    c->poll_fd = -1;
    c->rng = ((uint64_t)svc->now_us(host) ^ (uint64_t)(uintptr_t)c) | 1;
    c->mosq = mosquitto_new(cfg->client_id, cfg->clean_session, c);
    if (!c->mosq)
        goto fail;
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (cfg->username &&
        mosquitto_username_pw_set(c->mosq, cfg->username, cfg->password) != MOSQ_ERR_SUCCESS)
        goto fail;
    if (cfg->tls && (rc = setup_tls(c, err, errlen)) != IOC_OK)
        goto fail_msg;
    mosquitto_connect_callback_set(c->mosq, cb_connect);
    mosquitto_subscribe_callback_set(c->mosq, cb_subscribe);
    mosquitto_message_callback_set(c->mosq, cb_message);
    uv_timer_init(c->loop, &c->tick);
    uv_timer_init(c->loop, &c->retry);
    c->tick.data = c->retry.data = c;
    c->open_handles = 2;
    *out = c;
    return IOC_OK;
fail:
    snprintf(err, errlen, "out of memory creating the MQTT client");
fail_msg:
    if (c) {
        mosquitto_destroy(c->mosq);
        free(c->mids);
    }
    free(c);
    return rc;
}

int mqtt_conn_start(mqtt_conn_t *c)
{
    c->down_since_us = c->state_since_us = now_us(c);
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    begin_connect(c);
    return IOC_OK;
}

bool mqtt_conn_connected(const mqtt_conn_t *c)
{
    return c->state == ST_UP;
}

int64_t mqtt_conn_down_for_us(const mqtt_conn_t *c)
{
    return c->state == ST_UP ? 0 : now_us(c) - c->down_since_us;
}

uint64_t mqtt_conn_connects(const mqtt_conn_t *c)
{
    return c->connects;
}

void mqtt_conn_close(mqtt_conn_t *c, void (*done)(void *ud), void *ud)
{
    c->closing = true;
    c->done = done;
    c->done_ud = ud;
    detach_poll(c);
    if (c->state == ST_UP || c->state == ST_HANDSHAKE)
        mosquitto_disconnect(c->mosq); /* best effort: one DISCONNECT packet, never blocks */
    if (c->working)
        uv_cancel((uv_req_t *)&c->work);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
    uv_close((uv_handle_t *)&c->retry, on_handle_closed);
}
