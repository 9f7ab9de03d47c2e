/* Webhook notifications: JSON POSTs with libcurl's multi interface driven by the libuv loop
 * (uv_poll per socket, one uv_timer for curl), retried with back-off; nothing blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "alerts/notifier.h"
#include "ioc/error.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define CONNECT_TIMEOUT_MS 5000L
#define MAX_REPLY 4096 /* bytes of the reply kept (discarded: only the status matters) */

typedef struct wh wh_t;

typedef struct job {
    struct job *prev, *next;
    wh_t *wh;
    CURL *easy;           /* while a transfer runs */
    uv_timer_t retry;     /* back-off before the next attempt */
    bool timer_open;
    char *url, *body, *rule_id, *event;
    int64_t alert_id;
    uint64_t timeout_ms;
    uint32_t retries, attempt;
    size_t reply_len;
    char errbuf[CURL_ERROR_SIZE];
} job_t;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    wh_t *wh;
} sock_ctx_t;

struct wh {
    notify_channel_t ch;
    uv_loop_t *loop;
    CURLM *multi;
    struct curl_slist *headers;
    uv_timer_t timer;
    job_t *jobs;
    uint32_t njobs, max_jobs;
    int handles;
    bool closing;
    notify_log_fn log;
    void *log_ud;
    void (*done)(void *ud);
    void *done_ud;
};

static void start_attempt(job_t *j);

static void maybe_free(wh_t *w)
{
    if (!w->closing || w->handles > 0)
        return;
    void (*done)(void *) = w->done;
    void *ud = w->done_ud;
    curl_slist_free_all(w->headers);
    free(w);
    curl_global_cleanup();
    if (done)
        done(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    wh_t *w = h->data;
    if (h->type == UV_POLL)
        free(h);
    w->handles--;
    maybe_free(w);
}

static void on_job_timer_closed(uv_handle_t *h)
{
    job_t *j = h->data;
    wh_t *w = j->wh;
    free(j->url);
    free(j->body);
    free(j->rule_id);
    free(j->event);
    free(j);
    w->handles--;
    maybe_free(w);
}

/* Unlinks and frees a job (its transfer, if any, is removed first). */
static void job_free(job_t *j)
{
    wh_t *w = j->wh;
    if (j->prev)
        j->prev->next = j->next;
    else
        w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    w->njobs--;
    if (j->easy) {
        if (w->multi)
            curl_multi_remove_handle(w->multi, j->easy);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    uv_timer_stop(&j->retry);
    uv_close((uv_handle_t *)&j->retry, on_job_timer_closed);
}

static void report(job_t *j, bool ok, bool final, long status, const char *error)
{
    notify_result_t r = {
        .alert_id = j->alert_id, .rule_id = j->rule_id, .channel = "webhook",
        .target = j->url, .event = j->event, .attempt = j->attempt, .ok = ok,
        .final = final, .status = status, .error = error,
    };
    j->wh->log(j->wh->log_ud, &r);
}

static void on_retry(uv_timer_t *t)
{
    start_attempt(t->data);
}

/* One attempt ended: log it, then retry after a back-off or drop the job. */
static void attempt_done(job_t *j, CURLcode res)
{
    long code = 0;
    char msg[CURL_ERROR_SIZE + 32] = "";
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(j->wh->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    if (res != CURLE_OK)
        snprintf(msg, sizeof msg, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(res));
    else if (code < 200 || code > 299)
        snprintf(msg, sizeof msg, "HTTP status %ld", code);
    bool ok = msg[0] == '\0';
    bool final = ok || j->attempt > j->retries;
    report(j, ok, final, code, msg);
    if (final) {
        job_free(j);
        return;
    }
    uint64_t delay = BACKOFF_FIRST_MS;
    for (uint32_t i = 1; i < j->attempt && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    uv_timer_start(&j->retry, on_retry, delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS, 0);
}

static void check_done(wh_t *w)
{
    CURLMsg *m;
    int left;
    while (w->multi && (m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        job_t *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        attempt_done(j, m->data.result);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx_t *s = (sock_ctx_t *)p;
    wh_t *w = s->wh;
    int running, flags = status < 0 ? CURL_CSELECT_ERR
                                    : (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                                          (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(w->multi, s->fd, flags, &running);
    check_done(w);
}

static void on_timer(uv_timer_t *t)
{
    wh_t *w = t->data;
    int running;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    wh_t *w = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&w->timer);
    else if (!w->closing)
        uv_timer_start(&w->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    wh_t *w = userp;
    sock_ctx_t *s = sockp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_handle_closed);
            curl_multi_assign(w->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || uv_poll_init_socket(w->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->wh = w;
        s->poll.data = w;
        w->handles++;
        curl_multi_assign(w->multi, fd, s);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    return uv_poll_start(&s->poll, ev, on_poll) == 0 ? 0 : -1;
}

/* The reply is read and dropped (bounded), so the connection can be reused. */
static size_t on_reply(char *data, size_t size, size_t nmemb, void *userp)
{
    job_t *j = userp;
    size_t n = size * nmemb;
    (void)data;
    j->reply_len += n;
    return j->reply_len > MAX_REPLY ? 0 : n;
}

static void start_attempt(job_t *j)
{
    wh_t *w = j->wh;
    CURL *e = curl_easy_init();
    j->attempt++;
    j->errbuf[0] = '\0';
    j->reply_len = 0;
    if (!e) {
        report(j, false, true, 0, "out of memory");
        job_free(j);
        return;
    }
    j->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "iocd-alerts/1.0");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)j->timeout_ms < CONNECT_TIMEOUT_MS
                                                       ? (long)j->timeout_ms
                                                       : CONNECT_TIMEOUT_MS);
    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        j->easy = NULL;
        report(j, false, true, 0, "cannot start the transfer");
        job_free(j);
    }
}

static int wh_send(notify_channel_t *ch, const notify_msg_t *m)
{
    wh_t *w = (wh_t *)ch;
    if (w->closing)
        return IOC_ECLOSED;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return IOC_ENOMEM;
    j->wh = w;
    j->alert_id = m->alert_id;
    j->timeout_ms = m->timeout_ms;
    j->retries = m->retries;
    if (!(j->url = strdup(m->target)) || !(j->body = strdup(m->body)) ||
        !(j->rule_id = strdup(m->rule_id)) || !(j->event = strdup(m->event))) {
        free(j->url);
        free(j->body);
        free(j->rule_id);
        free(j);
        return IOC_ENOMEM;
    }
    uv_timer_init(w->loop, &j->retry);
    j->retry.data = j;
    w->handles++;
    j->next = w->jobs;
    if (w->jobs)
        w->jobs->prev = j;
    w->jobs = j;
    w->njobs++;
    if (w->njobs > w->max_jobs) {
        j->attempt = 1;
        report(j, false, true, 0, "webhook queue full: dropped");
        job_free(j);
        return IOC_EFULL;
    }
    start_attempt(j);
    return IOC_OK;
}

static void wh_close(notify_channel_t *ch, void (*done)(void *ud), void *ud)
{
    wh_t *w = (wh_t *)ch;
    w->closing = true;
    w->done = done;
    w->done_ud = ud;
    while (w->jobs)
        job_free(w->jobs);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_handle_closed);
}

int notify_webhook_create(uv_loop_t *loop, uint32_t max_jobs, notify_log_fn log, void *ud,
                          notify_channel_t **out)
{
    wh_t *w = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return IOC_EIO;
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
        goto fail; /* DNS look-ups would block the loop */
    if (!(w = calloc(1, sizeof *w)) || !(w->multi = curl_multi_init()) ||
        !(w->headers = curl_slist_append(NULL, "Content-Type: application/json")))
        goto fail;
    w->ch.name = "webhook";
    w->ch.send = wh_send;
    w->ch.close = wh_close;
    w->loop = loop;
    w->max_jobs = max_jobs;
    w->log = log;
    w->log_ud = ud;
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->handles = 1;
    *out = &w->ch;
    return IOC_OK;
fail:
    if (w) {
        if (w->multi)
            curl_multi_cleanup(w->multi);
        free(w);
    }
    curl_global_cleanup();
    return IOC_EIO;
}
