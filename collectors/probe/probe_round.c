/* The probe round runner: at most `concurrency` probes at once on uv_tcp, each with its own
 * timeout, look-ups on the threadpool, and a round that never outlives its budget. */
#include <stdlib.h>
#include <string.h>

#include "probe.h"

typedef struct slot {
    probe_runner_t *r;
    probe_target_t *t;
    unsigned round;     /* the round this probe belongs to */
    bool busy;          /* holds a probe (until reported, closed and looked up) */
    bool reported;      /* the probe's result is decided */
    bool tcp_open;      /* tcp was initialised and its close callback has not run */
    bool tcp_closing;
    bool gai_pending;   /* a look-up is on the threadpool */
    uint64_t start_ns;  /* uv_hrtime when connecting began */
    int64_t ts_us;
    size_t len;
    uv_timer_t timer;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    uv_getaddrinfo_t gai;
    char buf[PROBE_STATUS_MAX];
} slot_t;

struct probe_runner {
    uv_loop_t *loop;
    probe_config_t *cfg;
    probe_runner_events_t ev;
    int64_t (*now_us)(void *ud);
    slot_t *slots;
    slot_t **free_slots; /* stack of idle slots */
    unsigned nfree;
    size_t start;        /* target index the round begins at */
    size_t next;         /* targets started (or skipped) in this round */
    size_t pending;      /* started and not yet reported */
    unsigned round;
    uint64_t round_start_ms, deadline_ms;
    probe_round_stats_t st;
    bool running, pumping, closing;
    int refs;            /* open handles and look-ups still out */
    void (*done)(void *ud);
    void *done_ud;
};

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void pump(probe_runner_t *r);

/* Frees the runner once it is closing and nothing of it is left on the loop. */
static void unref(probe_runner_t *r)
{
    if (--r->refs > 0 || !r->closing)
        return;
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    free(r->free_slots);
    free(r->slots);
    free(r);
    done(ud);
}

/* Returns the slot to the idle stack once its probe is decided, its socket closed and its
 * look-up back. */
static void maybe_idle(slot_t *s)
{
    probe_runner_t *r = s->r;
    if (!s->busy || !s->reported || s->tcp_open || s->gai_pending)
        return;
    s->busy = false;
    r->free_slots[r->nfree++] = s;
    pump(r);
}

static void on_tcp_closed(uv_handle_t *h)
{
    slot_t *s = h->data;
    probe_runner_t *r = s->r;
    s->tcp_open = false;
    s->tcp_closing = false;
    maybe_idle(s);
    unref(r);
}

/* Lets go of what the probe holds: closes the socket, cancels a look-up. */
static void release(slot_t *s)
{
    if (s->tcp_open && !s->tcp_closing) {
        s->tcp_closing = true;
        uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
    }
    if (s->gai_pending)
        uv_cancel((uv_req_t *)&s->gai);
    maybe_idle(s);
}

/* Decides the probe: reports it if its round is still the current one, then releases it. */
static void finish(slot_t *s, probe_outcome_t outcome, int status)
{
    probe_runner_t *r = s->r;
    if (s->reported)
        return;
    s->reported = true;
    uv_timer_stop(&s->timer);
    if (s->round == r->round && r->running) {
        r->pending--;
        probe_result_t res = {.target = s->t, .outcome = outcome, .status = status,
                              .ts_us = s->ts_us};
        if (outcome == PROBE_UP)
            res.latency_ms = (double)(uv_hrtime() - s->start_ns) / 1e6;
        r->st.probed++;
        r->st.outcomes[outcome]++;
        if (outcome == PROBE_UP)
            r->st.up++;
        r->ev.result(r->ev.ud, &res);
    }
    release(s);
    pump(r);
}

static probe_outcome_t outcome_of(int uverr)
{
    switch (uverr) {
    case UV_ECONNREFUSED:
        return PROBE_REFUSED;
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
    case UV_ENETDOWN:
    case UV_EHOSTDOWN:
    case UV_EADDRNOTAVAIL:
        return PROBE_UNREACHABLE;
    case UV_ETIMEDOUT:
        return PROBE_TIMEOUT;
    case UV_ECONNRESET:
    case UV_ECONNABORTED:
    case UV_EOF:
    case UV_EPIPE:
        return PROBE_CLOSED;
    default:
        return PROBE_ERROR;
    }
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, PROBE_TIMEOUT, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    slot_t *s = h->data;
    (void)suggested;
    *buf = uv_buf_init(s->buf + s->len, (unsigned)(sizeof s->buf - s->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    slot_t *s = stream->data;
    int code = 0;
    (void)buf;
    if (s->reported || nread == 0)
        return;
    if (nread < 0) {
        finish(s, outcome_of((int)nread), 0);
        return;
    }
    s->len += (size_t)nread;
    int rc = probe_status_parse(s->t->kind, s->buf, s->len, &code);
    if (rc == 1)
        finish(s, probe_status_ok(s->t, code) ? PROBE_UP : PROBE_BAD_STATUS, code);
    else if (rc < 0 || s->len == sizeof s->buf)
        finish(s, PROBE_BAD_ANSWER, 0);
}

static void on_write(uv_write_t *req, int status)
{
    slot_t *s = req->data;
    if (status < 0 && !s->reported)
        finish(s, outcome_of(status), 0);
}

static void on_connect(uv_connect_t *req, int status)
{
    slot_t *s = req->data;
    int rc;
    if (s->reported)
        return;
    if (status < 0) {
        finish(s, outcome_of(status), 0);
        return;
    }
    if (s->t->kind == PROBE_TCP) {
        finish(s, PROBE_UP, 0);
        return;
    }
    uv_buf_t b = uv_buf_init(s->t->request, (unsigned)s->t->request_len);
    rc = uv_write(&s->wr, (uv_stream_t *)&s->tcp, &b, 1, on_write);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc < 0)
        finish(s, outcome_of(rc), 0);
}

static void connect_target(slot_t *s)
{
    probe_runner_t *r = s->r;
    int rc = uv_tcp_init(r->loop, &s->tcp);
    if (rc < 0) {
        finish(s, PROBE_ERROR, 0);
        return;
    }
    s->tcp_open = true;
    r->refs++;
    s->tcp.data = s;
    s->conn.data = s;
    s->wr.data = s;
    s->start_ns = uv_hrtime();
    rc = uv_tcp_connect(&s->conn, &s->tcp, (const struct sockaddr *)&s->t->addr, on_connect);
    if (rc < 0)
        finish(s, outcome_of(rc), 0);
}

/* Takes the first IPv4 address of a look-up, else the first one, with the target's port. */
static bool pick_address(probe_target_t *t, const struct addrinfo *res)
{
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (!pick && a->ai_family == AF_INET6)
            pick = a;
    }
    if (!pick || pick->ai_addrlen > sizeof t->addr)
        return false;
    memset(&t->addr, 0, sizeof t->addr);
    memcpy(&t->addr, pick->ai_addr, pick->ai_addrlen);
    if (pick->ai_family == AF_INET)
        ((struct sockaddr_in *)&t->addr)->sin_port = htons(t->port);
    else
        ((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(t->port);
    return true;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    slot_t *s = req->data;
    probe_runner_t *r = s->r;
    s->gai_pending = false;
    if (!s->reported) {
        if (status == 0 && pick_address(s->t, res)) {
            s->t->resolved = true;
            s->t->resolved_ms = mono_ms();
            connect_target(s);
        } else {
            finish(s, PROBE_DNS, 0);
        }
    }
    uv_freeaddrinfo(res);
    maybe_idle(s);
    unref(r);
}

static void start_probe(probe_runner_t *r, slot_t *s, probe_target_t *t)
{
    s->busy = true;
    s->reported = false;
    s->t = t;
    s->round = r->round;
    s->len = 0;
    s->ts_us = r->now_us(r->ev.ud);
    r->pending++;
    uv_timer_start(&s->timer, on_timeout, r->cfg->target_timeout_ms, 0);
    bool fresh = t->resolved && (t->numeric || mono_ms() - t->resolved_ms < r->cfg->dns_ttl_ms);
    if (fresh) {
        connect_target(s);
        return;
    }
    const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    s->gai.data = s;
    if (uv_getaddrinfo(r->loop, &s->gai, on_resolved, t->host, NULL, &hints) < 0) {
        finish(s, PROBE_DNS, 0);
        return;
    }
    s->gai_pending = true;
    r->refs++;
}

/* Ends the round when every target was started or skipped and every started one reported. */
static void check_done(probe_runner_t *r)
{
    if (!r->running || r->next < r->cfg->ntargets || r->pending)
        return;
    r->running = false;
    r->st.elapsed_ms = mono_ms() - r->round_start_ms;
    r->ev.round_done(r->ev.ud, &r->st);
}

/* Starts probes on idle slots while targets remain and a full target timeout still fits in
 * the round's budget; targets that do not fit are skipped (and come first next round). */
static void pump(probe_runner_t *r)
{
    if (r->pumping || !r->running)
        return;
    r->pumping = true;
    size_t n = r->cfg->ntargets;
    while (r->running && r->next < n && r->nfree) {
        if (mono_ms() + r->cfg->target_timeout_ms > r->deadline_ms) {
            r->st.skipped = n - r->next;
            r->start = (r->start + r->next) % n;
            r->next = n;
            break;
        }
        slot_t *s = r->free_slots[--r->nfree];
        probe_target_t *t = &r->cfg->targets[(r->start + r->next) % n];
        r->next++;
        start_probe(r, s, t);
    }
    r->pumping = false;
    check_done(r);
}

/* Ends the current round's probes without reporting them. */
static void abandon(probe_runner_t *r)
{
    r->running = false;
    for (unsigned i = 0; i < r->cfg->concurrency; i++) {
        slot_t *s = &r->slots[i];
        if (s->busy && !s->reported) {
            s->reported = true;
            uv_timer_stop(&s->timer);
            release(s);
        }
    }
}

void probe_runner_round(probe_runner_t *r)
{
    if (r->closing)
        return;
    abandon(r);
    r->round++;
    r->next = 0;
    r->pending = 0;
    memset(&r->st, 0, sizeof r->st);
    r->round_start_ms = mono_ms();
    r->deadline_ms = r->round_start_ms + r->cfg->round_ms;
    r->running = true;
    pump(r);
}

int probe_runner_new(uv_loop_t *loop, probe_config_t *cfg, const probe_runner_events_t *ev,
                     int64_t (*now_us)(void *ud), probe_runner_t **out)
{
    probe_runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return IOC_ENOMEM;
    r->slots = calloc(cfg->concurrency, sizeof *r->slots);
    r->free_slots = calloc(cfg->concurrency, sizeof *r->free_slots);
    if (!r->slots || !r->free_slots) {
        free(r->slots);
        free(r->free_slots);
        free(r);
        return IOC_ENOMEM;
    }
    r->loop = loop;
    r->cfg = cfg;
    r->ev = *ev;
    r->now_us = now_us;
    for (unsigned i = 0; i < cfg->concurrency; i++) {
        slot_t *s = &r->slots[i];
        s->r = r;
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
        r->refs++;
        r->free_slots[r->nfree++] = s;
    }
    *out = r;
    return IOC_OK;
}

static void on_timer_closed(uv_handle_t *h)
{
    slot_t *s = h->data;
    unref(s->r);
}

void probe_runner_close(probe_runner_t *r, void (*done)(void *ud), void *ud)
{
    abandon(r);
    r->closing = true;
    r->done = done;
    r->done_ud = ud;
    for (unsigned i = 0; i < r->cfg->concurrency; i++)
        uv_close((uv_handle_t *)&r->slots[i].timer, on_timer_closed);
}
