/* The web server: libwebsockets (HTTP/1.1 only) on the daemon's libuv loop, a route table,
 * request dispatch, and a shutdown that lets lws close its libuv handles on the running loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "ioc/error.h"
#include "web/web_int.h"

#define WATCH_MS 100        /* how often waiting handlers' clients are checked for a hang-up */
#define REAP_MS 1           /* how often web_close checks whether lws has let go of the loop */
#define REAP_WARN_TICKS 5000

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

static const struct lws_protocols protocols[] = {
    {"http", on_lws, sizeof(web_conn_t), 0, 0, NULL, 0},
    WEB_WS_PROTOCOL_ENTRY, /* the live-update WebSocket protocol "ioc.v1" (/ws), web_ws.c */
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const char *const method_names[] = {
    [LWSHUMETH_GET] = "GET",     [LWSHUMETH_POST] = "POST",     [LWSHUMETH_OPTIONS] = "OPTIONS",
    [LWSHUMETH_PUT] = "PUT",     [LWSHUMETH_PATCH] = "PATCH",   [LWSHUMETH_DELETE] = "DELETE",
    [LWSHUMETH_CONNECT] = NULL,  [LWSHUMETH_HEAD] = "HEAD",     [LWSHUMETH_COLON_PATH] = NULL,
};

/* lws's own log lines (errors and warnings only) go to our log. */
static void lws_log_emit(int level, const char *line)
{
    char msg[512], q[600];
    const char *p = strstr(line, "] ");
    size_t n;

    p = p ? p + 2 : line;
    if (p[0] && p[1] == ':' && p[2] == ' ')
        p += 3;
    n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    if (n >= sizeof msg)
        n = sizeof msg - 1;
    memcpy(msg, p, n);
    msg[n] = '\0';
    log_q(q, sizeof q, msg);
    if (level & LLL_ERR)
        log_error("lws", "msg=%s", q);
    else
        log_warn("lws", "msg=%s", q);
}

/* True if lws will read a request body for this request (so an early reply must close). */
static bool lws_reads_body(struct lws *wsi)
{
    char cl[32];

    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) ||
        lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) ||
        lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI))
        return true;
    return lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && atoll(cl) > 0;
}

static bool method_is(const web_req_t *req, const char *m)
{
    return !strcmp(req->method, m);
}

static bool path_matches(const web_route_ent_t *r, const char *path)
{
    if (r->prefix)
        return !strncmp(path, r->path, r->plen);
    return !strcmp(path, r->path);
}

static bool method_matches(const web_route_ent_t *r, const char *method)
{
    return !strcmp(r->method, "*") || !strcmp(r->method, method) ||
           (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"));
}

/* Replies before the body is read: the connection closes afterwards if a body follows. */
static void early_reply(web_req_t *req, int status, const char *text)
{
    req->close_after = req->close_after || lws_reads_body(req->wsi);
    web_req_error(req, status, text);
}

/* True if the client has closed or reset its connection (data waiting does not count). */
static bool peer_gone(struct lws *wsi)
{
    char c;
    ssize_t n = recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* lws 4.1 does not read while a request is being handled (and rx flow control would also stop
 * its WRITEABLE callbacks), so it would not see a client hang up before the response, and the
 * readable socket spins the loop until then: look at the sockets of requests whose handler is
 * still working and drop those whose client has gone. */
static void watch_tick(uv_timer_t *t)
{
    web_t *w = t->data;
    web_req_t *req;
    bool any = false;

    for (req = w->reqs; req; req = req->next) {
        if (req->state != WEB_REQ_HANDLING)
            continue;
        any = true;
        if (peer_gone(req->wsi))
            lws_set_timeout(req->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    if (!any)
        uv_timer_stop(t);
}

static void dispatch(web_req_t *req)
{
    web_t *w = req->w;

    req->state = WEB_REQ_HANDLING;
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT, WEB_HANDLER_TIMEOUT_S);
    req->route->fn(req, req->route->ud);
    if (req->state == WEB_REQ_HANDLING && !uv_is_active((uv_handle_t *)&w->timer))
        uv_timer_start(&w->timer, watch_tick, WATCH_MS, WATCH_MS);
}

/* The 405 reply: collects the methods of the routes that take this path. */
static void method_not_allowed(web_req_t *req)
{
    web_t *w = req->w;
    strbuf_t allow;
    size_t i;

    strbuf_init(&allow, sizeof req->allow - 1);
    for (i = 0; i < w->nroutes; i++) {
        if (!path_matches(&w->routes[i], req->path) || strstr(allow.data ? allow.data : "",
                                                              w->routes[i].method))
            continue;
        strbuf_printf(&allow, "%s%s", allow.len ? ", " : "", w->routes[i].method);
        if (!strcmp(w->routes[i].method, "GET"))
            strbuf_puts(&allow, ", HEAD");
    }
    req->close_after = req->close_after || lws_reads_body(req->wsi);
    if (web_req_reply(req, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", 19,
                      allow.data) < 0)
        lws_set_timeout(req->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    strbuf_free(&allow);
}

/* Decides how the body arrives (Content-Length, chunked, none) and checks it against the
 * route's limit. Dispatches at once when there is no body. */
static void start_body(web_req_t *req)
{
    struct lws *wsi = req->wsi;
    size_t max = req->route->max_body;
    char cl[32], te[64];
    bool has_cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    bool has_te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    bool post = method_is(req, "POST");
    bool lws_expects = post || method_is(req, "PUT") || method_is(req, "PATCH");
    unsigned long long n = 0;
    char *end;

    if (has_te) {
        req->close_after = true; /* lws does not know where a chunked body ends */
        if (lws_hdr_copy(wsi, te, sizeof te, WSI_TOKEN_HTTP_TRANSFER_ENCODING) < 0 ||
            strcasecmp(te, "chunked") || has_cl || !lws_expects) {
            web_req_error(req, 400, "Bad Request: unsupported transfer-encoding");
            return;
        }
        if (!max) {
            web_req_error(req, 413, "Payload Too Large");
            return;
        }
        req->chunked = true;
        web_chunked_init(&req->ck);
        req->body.limit = max;
        req->state = WEB_REQ_READING;
        return;
    }
    if (has_cl) {
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 || cl[0] < '0' ||
            cl[0] > '9' || (errno = 0, n = strtoull(cl, &end, 10), *end) || errno) {
            req->close_after = true;
            web_req_error(req, 400, "Bad Request: content-length");
            return;
        }
        if (n > max) {
            req->close_after = true;
            web_req_error(req, 413, "Payload Too Large");
            return;
        }
        req->body.limit = max;
        if (n > 0 || post) { /* lws sends BODY_COMPLETION (also for a POST of length 0) */
            req->state = WEB_REQ_READING;
            return;
        }
    } else if (lws_expects) {
        req->close_after = true;
        web_req_error(req, 411, "Length Required");
        return;
    }
    dispatch(req);
}

static int on_request(struct lws *wsi, web_conn_t *conn, const char *path)
{
    web_t *w = lws_context_user(lws_get_context(wsi));
    char *uri;
    int ulen, m;
    web_req_t *req;
    size_t i;
    const web_route_ent_t *r, *hit = NULL;
    bool path_known = false;

    if (w->closing)
        return -1;
    if (conn->req)
        web_req_free(conn->req);
    m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    if (m < 0 || m >= (int)(sizeof method_names / sizeof method_names[0]) || !method_names[m])
        return -1;
    req = web_req_new(w, wsi, conn, method_names[m], path ? path : "/");
    if (!req || web_req_load(req) < 0) {
        log_error("web", "event=request_failed err=%s", ioc_strerror(IOC_ENOMEM));
        return -1;
    }
    req->head = m == LWSHUMETH_HEAD;
    /* lws keeps a decoded %00 in the URI but does not count it: a shorter string means one
     * (a trailing %00 leaves the same path and is harmless) */
    if (ulen < 0 || strlen(uri) != (size_t)ulen) {
        early_reply(req, 400, "Bad Request: NUL in path");
        return 0;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > WEB_MAX_QUERY) {
        early_reply(req, 414, "URI Too Long: query string over 8 KiB");
        return 0;
    }
    for (i = 0; i < w->nroutes && !hit; i++) {
        r = &w->routes[i];
        if (!path_matches(r, req->path))
            continue;
        path_known = true;
        if (method_matches(r, req->method))
            hit = r;
    }
    if (hit) {
        req->route = hit;
        start_body(req);
    } else if (path_known) {
        method_not_allowed(req);
    } else if (method_is(req, "GET") || req->head) {
        req->close_after = lws_reads_body(wsi);
        web_static_serve(req);
    } else {
        early_reply(req, 404, "Not Found");
    }
    return 0;
}

static int on_body(web_req_t *req, const char *in, size_t len)
{
    size_t used = 0;
    int rc;

    if (req->state != WEB_REQ_READING)
        return 0;
    if (req->chunked) {
        rc = web_chunked_feed(&req->ck, in, len, &req->body, &used);
        if (rc == 1)
            dispatch(req);
        else if (rc == IOC_ETOOBIG)
            web_req_error(req, 413, "Payload Too Large");
        else if (rc == IOC_EINVAL)
            web_req_error(req, 400, "Bad Request: chunked encoding");
        else if (rc < 0)
            web_req_error(req, 500, "Internal Server Error");
        return 0;
    }
    rc = strbuf_append(&req->body, in, len);
    if (rc < 0) {
        req->close_after = true;
        web_req_error(req, rc == IOC_ETOOBIG ? 413 : 500,
                      rc == IOC_ETOOBIG ? "Payload Too Large" : "Internal Server Error");
    }
    return 0;
}

/* A request loses its connection (client gone or server closing): a handler still working
 * gets its cancel callback; an in-flight file read frees the request when it completes. */
static void drop_req(web_req_t *req)
{
    void (*cancel)(void *);
    void *ud;

    switch (req->state) {
    case WEB_REQ_STATIC:
        web_req_orphan(req);
        return;
    case WEB_REQ_STREAMING: /* the producer of a streamed body learns it like a handler */
    case WEB_REQ_HANDLING:
        cancel = req->cancel;
        ud = req->cancel_ud;
        web_req_free(req);
        if (cancel)
            cancel(ud);
        return;
    default:
        web_req_free(req);
        return;
    }
}

static int on_writeable(struct lws *wsi, web_conn_t *conn)
{
    web_req_t *req = conn->req;
    bool close;
    int rc;

    if (!req || (req->state != WEB_REQ_WRITING && req->state != WEB_REQ_STREAMING))
        return 0;
    rc = web_req_write(req);
    if (rc <= 0)
        return rc;
    close = req->close_after;
    web_req_free(req);
    if (close)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Refuses every upgrade but WebSocket. lws 4.1.6 offers plaintext h2c (and with it the HPACK
 * bug) only through this callback, so it must be handled; CVE-2025-11677 is a use-after-free of
 * `in` after lws has already answered an unknown upgrade, so `in` is never read here: the header
 * is copied from the wsi, which fails safely once lws has released its header table. */
static int confirm_upgrade(struct lws *wsi)
{
    char up[16];
    if (lws_hdr_copy(wsi, up, sizeof up, WSI_TOKEN_UPGRADE) <= 0)
        return -1;
    return strcasecmp(up, "websocket") == 0 ? 0 : -1;
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    web_conn_t *conn = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, conn, in);
    case LWS_CALLBACK_HTTP_BODY:
        return conn->req ? on_body(conn->req, in, len) : 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (conn->req && conn->req->state == WEB_REQ_READING && !conn->req->chunked)
            dispatch(conn->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, conn);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a WebSocket upgrade without protocol "ioc.v1" lands here: refused */
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (conn && conn->req)
            drop_req(conn->req);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* Fails early, with the address in the message, if host:port cannot be bound. */
static int check_bind(const char *host, int port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    socklen_t slen;
    int fd, one = 1, rc = IOC_OK;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        slen = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        slen = sizeof *s6;
    } else {
        log_error("web", "event=bad_listen_address host=%s reason=\"not a numeric IP address\"",
                  host);
        return IOC_EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return IOC_EIO;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, slen) < 0) {
        log_error("web", "event=listen_failed host=%s port=%d err=\"%s\"", host, port,
                  strerror(errno));
        rc = IOC_EIO;
    }
    close(fd);
    return rc;
}

int web_create(uv_loop_t *loop, const web_opts_t *opts, web_t **out)
{
    struct lws_context_creation_info info;
    void *loops[1] = {loop};
    const char *host = opts->host && strcmp(opts->host, "localhost") ? opts->host : "127.0.0.1";
    bool tls = opts->tls_cert || opts->tls_key, v6 = strchr(host, ':') != NULL;
    char root[PATH_MAX];
    web_t *w = NULL;
    int rc;

    *out = NULL;
    if (opts->port < 0 || opts->port > 65535 || (tls && !(opts->tls_cert && opts->tls_key))) {
        log_error("web", "event=bad_options port=%d tls_cert=%s tls_key=%s", opts->port,
                  opts->tls_cert ? "set" : "unset", opts->tls_key ? "set" : "unset");
        return IOC_EINVAL;
    }
    rc = check_bind(host, opts->port);
    if (rc < 0)
        return rc;
    w = calloc(1, sizeof *w);
    if (!w)
        return IOC_ENOMEM;
    w->loop = loop;
    if (opts->static_dir) {
        /* once, at start-up, before the loop serves anyone */
        if (!realpath(opts->static_dir, root)) {
            log_error("web", "event=bad_static_dir dir=%s err=\"%s\"", opts->static_dir,
                      strerror(errno));
            free(w);
            return IOC_EINVAL;
        }
        w->static_root = strdup(root);
        if (!w->static_root) {
            free(w);
            return IOC_ENOMEM;
        }
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    info.foreign_loops = loops;
    info.user = w;
    info.pcontext = &w->ctx;
    info.max_http_header_data = WEB_MAX_HEADERS;
    info.alpn = "http/1.1"; /* never h2 (HPACK bug in lws < 5) */
    info.port = CONTEXT_PORT_NO_LISTEN;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        log_error("web", "event=lws_context_failed");
        free(w->static_root);
        free(w);
        return IOC_EIO;
    }

    memset(&info, 0, sizeof info);
    info.options = (v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6) |
                   (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0); /* the vhost checks it too */
    /* Plain HTTP reaching the TLS port gets a redirect to https, never the content. */
    if (tls && opts->tls_redirect_http)
        info.options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                        LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
    info.port = opts->port;
    info.iface = host;
    info.protocols = protocols;
    info.vhost_name = "iocd";
    info.alpn = "http/1.1";
    info.retry_and_idle_policy = &web_ws_retry; /* only WebSocket connections use it */
    info.ssl_cert_filepath = opts->tls_cert;
    info.ssl_private_key_filepath = opts->tls_key;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    if (opts->frame_ancestors && !(w->frame_ancestors = strdup(opts->frame_ancestors))) {
        web_close(w, NULL, NULL);
        return IOC_ENOMEM;
    }
    w->vh = lws_create_vhost(w->ctx, &info);
    if (!w->vh) {
        log_error("web", "event=listen_failed host=%s port=%d", host, opts->port);
        web_close(w, NULL, NULL);
        return IOC_EIO;
    }
    w->port = lws_get_vhost_listen_port(w->vh);
    log_info("web", "event=listening host=%s port=%d tls=%s static=%s", host, w->port,
             tls ? "on" : "off", w->static_root ? w->static_root : "none");
    *out = w;
    return IOC_OK;
}

int web_port(const web_t *w)
{
    return w->port;
}

int web_route(web_t *w, const char *method, const char *path, web_handler_fn fn, void *ud,
              size_t max_body)
{
    web_route_ent_t *r;
    size_t len;

    if (!method || !path || path[0] != '/' || !fn || strlen(method) >= sizeof r->method) {
        log_error("web", "event=bad_route method=%s path=%s", method ? method : "(null)",
                  path ? path : "(null)");
        return IOC_EINVAL;
    }
    if (w->nroutes == WEB_MAX_ROUTES) {
        log_error("web", "event=too_many_routes path=%s max=%d", path, WEB_MAX_ROUTES);
        return IOC_EFULL;
    }
    r = &w->routes[w->nroutes];
    len = strlen(path);
    r->prefix = path[len - 1] == '*';
    r->plen = r->prefix ? len - 1 : len;
    r->path = strndup(path, r->plen);
    if (!r->path)
        return IOC_ENOMEM;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->fn = fn;
    r->ud = ud;
    r->max_body = max_body;
    w->nroutes++;
    return IOC_OK;
}

static void on_reaper_closed(uv_handle_t *h)
{
    web_t *w = h->data;
    void (*done)(void *) = w->done;
    void *ud = w->done_ud;
    size_t i;

    for (i = 0; i < w->nroutes; i++)
        free(w->routes[i].path);
    free(w->static_root);
    free(w->frame_ancestors);
    free(w);
    if (done)
        done(ud);
}

static void count_lws_handles(uv_handle_t *h, void *arg)
{
    void **a = arg;

    if (h->data == a[0])
        a[1] = (char *)a[1] + 1;
}

/* With a foreign loop, lws closes its libuv handles asynchronously after the first
 * lws_context_destroy and does not finish by itself: once none of its per-loop handles
 * (whose data is the context) remain, a second call frees the context and sets w->ctx NULL. */
static void reap_tick(uv_timer_t *t)
{
    web_t *w = t->data;
    void *arg[2] = {w->ctx, NULL};

    if (w->ctx) {
        uv_walk(w->loop, count_lws_handles, arg);
        if (!arg[1])
            lws_context_destroy(w->ctx);
    }
    if (w->ctx) {
        if (++w->ticks == REAP_WARN_TICKS)
            log_warn("web", "event=close_slow ms=%d", REAP_WARN_TICKS * REAP_MS);
        return;
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, on_reaper_closed);
}

void web_close(web_t *w, void (*done)(void *ud), void *ud)
{
    web_req_t *req, *next;

    if (w->closing)
        return;
    w->closing = true;
    w->done = done;
    w->done_ud = ud;
    for (req = w->reqs; req; req = next) {
        next = req->next;
        drop_req(req);
    }
    lws_context_destroy(w->ctx);
    uv_timer_start(&w->timer, reap_tick, REAP_MS, REAP_MS);
}
