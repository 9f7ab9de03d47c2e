/* HTTP GETs with libcurl's multi interface driven by the daemon's libuv loop: curl tells us which
 * sockets to watch (uv_poll) and when to wake it (uv_timer); nothing here blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hj.h"

#define MAX_REDIRS 5L
#define CONNECT_TIMEOUT_MS 10000L

typedef struct transfer {
    struct transfer *next;
    hj_http_t *http;
    CURL *easy;
    size_t idx;
    char *body;
    size_t len, cap;
    int too_big;
    char errbuf[CURL_ERROR_SIZE];
} transfer_t;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    hj_http_t *http;
} sock_ctx_t;

struct hj_http {
    uv_loop_t *loop;
    const hj_http_cfg_t *cfg;
    hj_http_done_fn done;
    void *ud;
    CURLM *multi;
    struct curl_slist *headers;
    char *bearer_header;
    uv_timer_t timer;
    transfer_t *transfers;
    int handles;     /* uv handles open (timer and polls) */
    int closing;
    void (*closed)(void *ud);
    void *closed_ud;
};

static void maybe_free(hj_http_t *h)
{
    if (!h->closing || h->handles > 0)
        return;
    void (*closed)(void *) = h->closed;
    void *ud = h->closed_ud;
    curl_slist_free_all(h->headers);
    free(h->bearer_header);
    free(h);
    curl_global_cleanup();
    if (closed)
        closed(ud);
}

static void on_handle_closed(uv_handle_t *hd)
{
    hj_http_t *h = hd->data;
    if (hd->type == UV_POLL)
        free(hd);
    h->handles--;
    maybe_free(h);
}

static void free_transfer(transfer_t *t)
{
    hj_http_t *h = t->http;
    for (transfer_t **pp = &h->transfers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    curl_multi_remove_handle(h->multi, t->easy);
    curl_easy_cleanup(t->easy);
    free(t->body);
    free(t);
}

/* Ends one finished transfer: works out its status and hands the body to the owner. */
static void finish(transfer_t *t, CURLcode res)
{
    long code = 0;
    int status = IOC_OK;
    char msg[CURL_ERROR_SIZE + 64] = "";
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (t->too_big || res == CURLE_FILESIZE_EXCEEDED) {
        status = IOC_ETOOBIG;
        snprintf(msg, sizeof msg, "response body over max_body (%zu bytes)",
                 t->http->cfg->max_body);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        status = IOC_ETIMEDOUT;
        snprintf(msg, sizeof msg, "timed out: %s",
                 t->errbuf[0] ? t->errbuf : curl_easy_strerror(res));
    } else if (res != CURLE_OK) {
        status = IOC_EIO;
        snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(res));
    } else if (code < 200 || code > 299) {
        status = IOC_EIO;
        snprintf(msg, sizeof msg, "HTTP status %ld", code);
    }
    hj_http_t *h = t->http;
    size_t idx = t->idx, len = t->len;
    char *body = t->body;
    t->body = NULL;
    free_transfer(t);
    h->done(h->ud, idx, status, body, body ? len : 0, msg);
}

static void check_done(hj_http_t *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        transfer_t *t = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        finish(t, m->data.result);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx_t *s = (sock_ctx_t *)p;
    hj_http_t *h = s->http;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    check_done(h);
}

static void on_timer(uv_timer_t *tm)
{
    hj_http_t *h = tm->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be woken in timeout_ms (-1: never). */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    hj_http_t *h = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else if (!h->closing)
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: curl wants socket fd watched for `what`, or no longer watched. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    hj_http_t *h = userp;
    sock_ctx_t *s = sockp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_handle_closed);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->http = h;
        s->poll.data = h;
        h->handles++;
        curl_multi_assign(h->multi, fd, s);
    }
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    transfer_t *t = userp;
    size_t n = size * nmemb, max = t->http->cfg->max_body;
    if (n > max - t->len) {
        t->too_big = 1;
        return 0;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < t->len + n + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        char *p = realloc(t->body, cap);
        if (!p)
            return 0;
        t->body = p;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, n);
    t->len += n;
    t->body[t->len] = '\0';
    return n;
}

/* Builds the header list once: Accept, the bearer token, then the configured headers. */
static int build_headers(hj_http_t *h)
{
    const hj_http_cfg_t *cfg = h->cfg;
    struct curl_slist *l = curl_slist_append(NULL, "Accept: application/json");
    if (!l)
        return IOC_ENOMEM;
    h->headers = l;
    if (cfg->bearer) {
        size_t n = strlen(cfg->bearer) + sizeof "Authorization: Bearer ";
        if (!(h->bearer_header = malloc(n)))
            return IOC_ENOMEM;
        snprintf(h->bearer_header, n, "Authorization: Bearer %s", cfg->bearer);
        if (!(l = curl_slist_append(h->headers, h->bearer_header)))
            return IOC_ENOMEM;
    }
    for (const cJSON *it = cfg->headers ? cfg->headers->child : NULL; it; it = it->next) {
        size_t n = strlen(it->string) + strlen(it->valuestring) + 3;
        char *line = malloc(n);
        if (!line)
            return IOC_ENOMEM;
        /* "Name;" is curl's way to send a header with an empty value. */
        if (*it->valuestring)
            snprintf(line, n, "%s: %s", it->string, it->valuestring);
        else
            snprintf(line, n, "%s;", it->string);
        l = curl_slist_append(h->headers, line);
        free(line);
        if (!l)
            return IOC_ENOMEM;
    }
    return IOC_OK;
}

int hj_http_new(uv_loop_t *loop, const hj_http_cfg_t *cfg, hj_http_done_fn done, void *ud,
                hj_http_t **out, char *err, size_t errlen)
{
    hj_http_t *h = NULL;
    int rc = IOC_ENOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl: global initialisation failed");
        return IOC_EIO;
    }
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS)) {
        snprintf(err, errlen, "libcurl was built without an asynchronous resolver: DNS look-ups "
                 "would block the loop");
        rc = IOC_EINVAL;
        goto fail;
    }
    if (!(h = calloc(1, sizeof *h)) || !(h->multi = curl_multi_init()))
        goto fail_oom;
    h->loop = loop;
    h->cfg = cfg;
    h->done = done;
    h->ud = ud;
    if (build_headers(h) != IOC_OK)
        goto fail_oom;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->handles = 1;
    *out = h;
    return IOC_OK;
fail_oom:
    snprintf(err, errlen, "out of memory setting up libcurl");
fail:
    if (h) {
        if (h->multi)
            curl_multi_cleanup(h->multi);
        curl_slist_free_all(h->headers);
        free(h->bearer_header);
        free(h);
    }
    curl_global_cleanup();
    return rc;
}

int hj_http_get(hj_http_t *h, size_t idx)
{
    const hj_http_cfg_t *cfg = h->cfg;
    transfer_t *t = calloc(1, sizeof *t);
    if (!t || !(t->easy = curl_easy_init())) {
        free(t);
        return IOC_ENOMEM;
    }
    t->http = h;
    t->idx = idx;
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, cfg->urls[idx]);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRS);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "iocd-http_json/1.0");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    long connect_ms = (long)cfg->timeout_ms < CONNECT_TIMEOUT_MS ? (long)cfg->timeout_ms
                                                                 : CONNECT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_body);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg->tls_verify ? 2L : 0L);
    if (cfg->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->password);
    }
    t->next = h->transfers;
    h->transfers = t;
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        h->transfers = t->next;
        curl_easy_cleanup(e);
        free(t);
        return IOC_EIO;
    }
    return IOC_OK;
}

void hj_http_abort(hj_http_t *h)
{
    while (h->transfers)
        free_transfer(h->transfers);
}

void hj_http_close(hj_http_t *h, void (*closed)(void *ud), void *ud)
{
    hj_http_abort(h);
    h->closing = 1;
    h->closed = closed;
    h->closed_ud = ud;
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
}
