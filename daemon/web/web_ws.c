/* The /ws WebSocket endpoint (protocol "ioc.v1"): upgrade checks, message reassembly with a
 * size bound, and one-frame-per-callback writes, handed to the handler the hub installs. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/log.h"
#include "ioc/error.h"
#include "web/web_int.h"

#define WS_KEEPIDLE_S 30 /* idle seconds before TCP keepalive probes a /ws peer */
#define WS_KEEPINTVL_S 10 /* seconds between probes */
#define WS_KEEPCNT 3      /* unanswered probes before the kernel drops the connection */
#define WS_CLOSE_S 5      /* seconds a closing connection may take to send its close frame */

_Static_assert(WEB_WS_PRE >= LWS_PRE, "WEB_WS_PRE must cover lws's LWS_PRE");

/* No lws ping/hangup ("validity") timers: lws 4.1 keeps all its timers in one sorted linked
 * list, so each connection's timer cost a walk of the whole list when the connection was
 * established and again at each ping: at 10k clients that held the loop for seconds (see
 * BENCHMARKS.md). Dead peers are found by TCP keepalive instead (keepalive() below), which
 * costs nothing in user space. An explicit policy is needed: without one lws pings every 300 s. */
const lws_retry_bo_t web_ws_retry = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};

/* Turns on TCP keepalive for a WebSocket peer: a host that vanished without closing is
 * dropped after about WS_KEEPIDLE_S + WS_KEEPCNT * WS_KEEPINTVL_S seconds. */
static void keepalive(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi), on = 1, idle = WS_KEEPIDLE_S, intvl = WS_KEEPINTVL_S,
        cnt = WS_KEEPCNT;

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0)
        log_warn("web", "event=ws_keepalive_failed fd=%d", fd);
}

void web_set_ws_handler(web_t *w, const web_ws_handler_t *h, void *ud)
{
    w->ws_handler = h;
    w->ws_ud = ud;
}

/* Compares an Origin's authority (after the scheme) with the Host header, allowing the
 * scheme's default port to be implied on either side. */
static bool authority_eq(const char *a, size_t alen, const char *host, const char *defport)
{
    size_t hlen = strlen(host), dlen = strlen(defport);

    if (alen == hlen && !strncasecmp(a, host, alen))
        return true;
    if (hlen == alen + dlen && !strncasecmp(a, host, alen) && !strcmp(host + alen, defport))
        return true;
    return alen == hlen + dlen && !strncasecmp(a, host, hlen) && !strcmp(a + hlen, defport);
}

bool web_ws_origin_ok(const char *origin, const char *host)
{
    const char *a, *defport;

    if (!origin || !host || !*host)
        return false;
    if (!strncasecmp(origin, "http://", 7)) {
        a = origin + 7;
        defport = ":80";
    } else if (!strncasecmp(origin, "https://", 8)) {
        a = origin + 8;
        defport = ":443";
    } else {
        return false;
    }
    if (!*a || strpbrk(a, "/?#@ "))
        return false;
    return authority_eq(a, strlen(a), host, defport);
}

uint64_t web_ws_principal(const web_ws_t *ws)
{
    return ws ? ws->principal : 0;
}

void web_ws_want_write(web_ws_t *ws)
{
    if (ws && ws->wsi)
        lws_callback_on_writable(ws->wsi);
}

void web_ws_write_now(web_ws_t *ws)
{
    struct lws_pollfd pfd;

    if (!ws || !ws->wsi || (pfd.fd = lws_get_socket_fd(ws->wsi)) < 0)
        return;
    pfd.events = LWS_POLLOUT;
    pfd.revents = LWS_POLLOUT;
    lws_service_fd(lws_get_context(ws->wsi), &pfd);
}

int web_ws_send(web_ws_t *ws, unsigned char *p, size_t len)
{
    int n = lws_write(ws->wsi, p, len, LWS_WRITE_TEXT);

    return n < 0 || (size_t)n < len ? IOC_EIO : IOC_OK;
}

void web_ws_close(web_ws_t *ws)
{
    if (!ws)
        return;
    ws->conn = NULL;
    ws->closing = true;
    if (!ws->wsi)
        return;
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_S);
    lws_callback_on_writable(ws->wsi);
}

/* Copies a header into buf. Returns its length, 0 if absent, -1 if longer than buf. */
static int header(struct lws *wsi, enum lws_token_indexes tok, char *buf, int size)
{
    int n = lws_hdr_total_length(wsi, tok);

    buf[0] = '\0';
    if (n <= 0)
        return 0;
    if (n >= size)
        return -1;
    return lws_hdr_copy(wsi, buf, size, tok);
}

/* Refuses an upgrade with an HTTP status before lws would switch protocols. */
static int refuse(struct lws *wsi, int status, const char *why)
{
    char peer[64];

    lws_get_peer_simple(wsi, peer, sizeof peer);
    log_info("web", "event=ws_refused peer=%s status=%d reason=%s", peer, status, why);
    lws_return_http_status(wsi, (unsigned)status, NULL);
    return -1;
}

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: path, then the handler's Origin and auth checks.
 * lws has allocated the connection's web_ws_t (zeroed) by now: the principal is kept there. */
static int on_filter(struct lws *wsi, web_t *w, web_ws_t *ws)
{
    char uri[16], authz[1024], cookie[2048], origin[512], host[512], peer[64];
    web_ws_upgrade_t up = {0};
    int rc;

    if (!w->ws_handler || w->closing)
        return refuse(wsi, 503, "no_handler");
    if (header(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri) <= 0 || strcmp(uri, WEB_WS_PATH))
        return refuse(wsi, 404, "path");
    if (header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof authz) < 0 ||
        header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) < 0 ||
        header(wsi, WSI_TOKEN_HOST, host, sizeof host) < 0 ||
        header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie) < 0)
        return refuse(wsi, 400, "header_too_long");
    lws_get_peer_simple(wsi, peer, sizeof peer);
    up.authorization = authz[0] ? authz : NULL;
    up.cookie = cookie[0] ? cookie : NULL;
    up.origin = origin[0] ? origin : NULL;
    up.host = host[0] ? host : NULL;
    up.peer = peer;
    rc = w->ws_handler->accept(w->ws_ud, &up);
    if (rc)
        return refuse(wsi, rc, rc == 401 ? "credentials" : "forbidden");
    if (ws)
        ws->principal = up.principal;
    return 0;
}

/* Collects one piece of a client message and hands over the message once complete. */
static int on_receive(struct lws *wsi, web_ws_t *ws, const char *in, size_t len)
{
    const web_ws_handler_t *h = ws->w->ws_handler;
    bool last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);

    if (!ws->in_msg) {
        ws->in_msg = true;
        ws->rxlen = 0;
        ws->rx_err = lws_frame_is_binary(wsi) ? "binary frames are not accepted, send JSON text"
                                              : NULL;
        if (last && !ws->rx_err && len <= WEB_WS_MAX_MSG) { /* the usual case: no copy here */
            ws->in_msg = false;
            h->message(ws->conn, in, len, NULL);
            return 0;
        }
    }
    if (!ws->rx_err && ws->rxlen + len > WEB_WS_MAX_MSG)
        ws->rx_err = "message over 4096 bytes";
    if (!ws->rx_err) {
        if (!ws->rx && !(ws->rx = malloc(WEB_WS_MAX_MSG)))
            return -1;
        memcpy(ws->rx + ws->rxlen, in, len);
        ws->rxlen += len;
    }
    if (!last)
        return 0;
    ws->in_msg = false;
    if (ws->rx_err)
        h->message(ws->conn, NULL, 0, ws->rx_err);
    else
        h->message(ws->conn, ws->rx, ws->rxlen, NULL);
    free(ws->rx); /* an idle connection holds no reassembly buffer */
    ws->rx = NULL;
    return 0;
}

int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    web_t *w = lws_context_user(lws_get_context(wsi));
    web_ws_t *ws = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(wsi, w, ws);
    case LWS_CALLBACK_ESTABLISHED:
        ws->wsi = wsi;
        ws->w = w;
        keepalive(wsi);
        if (!w->ws_handler || w->closing)
            return -1;
        ws->conn = w->ws_handler->open(w->ws_ud, ws);
        return ws->conn ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        if (!ws->conn || !w->ws_handler)
            return -1;
        return on_receive(wsi, ws, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (ws->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
            return -1;
        }
        if (!ws->conn || !w->ws_handler)
            return -1;
        return w->ws_handler->writeable(ws->conn);
    case LWS_CALLBACK_CLOSED:
        if (!ws)
            return 0;
        free(ws->rx);
        ws->rx = NULL;
        if (ws->conn && w->ws_handler)
            w->ws_handler->closed(ws->conn);
        ws->conn = NULL;
        ws->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}
