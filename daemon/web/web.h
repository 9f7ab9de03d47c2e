/* The web server: libwebsockets on the daemon's libuv loop, with a small route table. */
#ifndef IOCD_WEB_H
#define IOCD_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct web web_t;
typedef struct web_req web_req_t;

/* Handles one request whose body (if any) has been read completely. The handler must end the
 * request with web_respond, now or later (asynchronously); until then `req` stays valid unless
 * the client goes away, in which case the cancel callback (web_req_on_cancel) runs and the
 * handler must not touch req again. */
typedef void (*web_handler_fn)(web_req_t *req, void *ud);

typedef struct web_opts {
    const char *host;           /* listen address, e.g. "127.0.0.1" */
    int port;                   /* e.g. 8080; 0 picks a free port (see web_port) */
    const char *static_dir;     /* served for paths no route takes; NULL: none */
    const char *tls_cert, *tls_key; /* both or neither */
    bool tls_redirect_http;     /* with TLS: answer plain HTTP on the port with a redirect to https */
    const char *frame_ancestors; /* CSP sources that may frame the static files (a portal showing
                                  * the dashboards); NULL: nothing may be framed. Copied. */
} web_opts_t;

/* Creates the lws context on `loop` (foreign loop) and starts listening. Returns 0 or ioc_err_t
 * (the reason is logged, e.g. the address is in use). */
int web_create(uv_loop_t *loop, const web_opts_t *opts, web_t **out);
/* The port actually listened on. */
int web_port(const web_t *w);
/* Adds a route. `path` ending in '*' matches that prefix, otherwise the exact path. `method`
 * "GET", "POST", "PUT", "DELETE" or "*" for any. Bodies over max_body get 413 before the
 * handler runs. First match wins; a path that matches with another method gets 405. */
int web_route(web_t *w, const char *method, const char *path, web_handler_fn fn, void *ud,
              size_t max_body);
/* Stops listening, cancels open requests and frees the server after its handles close. */
void web_close(web_t *w, void (*done)(void *ud), void *ud);

/* Request accessors; strings are valid until the request ends. */
const char *web_req_method(const web_req_t *req);
const char *web_req_path(const web_req_t *req);   /* decoded path, without the query */
/* A query parameter's URL-decoded value, or NULL if absent. */
const char *web_req_query(const web_req_t *req, const char *name);
/* A request header (name case-insensitive, e.g. "authorization"), or NULL. */
const char *web_req_header(const web_req_t *req, const char *name);
/* The body (NUL-terminated copy; len excludes the NUL). */
const char *web_req_body(const web_req_t *req, size_t *len);
/* The peer's IP address as text. */
const char *web_req_peer(const web_req_t *req);

/* Adds a response header (e.g. "set-cookie", "retry-after") to send with the response; name and
 * value are copied. Returns 0, or IOC_ETOOBIG when the request's room for extra headers
 * (WEB_MAX_EXTRA_HEADERS bytes) is used up, or IOC_EINVAL for a CR or LF in either. */
int web_req_add_header(web_req_t *req, const char *name, const char *value);
#define WEB_MAX_EXTRA_HEADERS 512

/* Sends the response (the body is copied) and ends the request. `content_type` may be NULL
 * for an empty body (e.g. 204). */
void web_respond(web_req_t *req, int status, const char *content_type, const char *body,
                 size_t len);
/* Registers the callback run if the client disconnects before web_respond. */
void web_req_on_cancel(web_req_t *req, void (*cb)(void *ud), void *ud);

/* Streamed responses (web_stream.c): a body of unknown length, sent with chunked transfer
 * encoding as the handler produces it and at the pace the client reads it. */
typedef void (*web_drain_fn)(void *ud);

#define WEB_STREAM_MAX_PENDING (4u << 20) /* bytes a stream may have queued and unsent */

/* Starts a streamed response instead of web_respond. `disposition` (may be NULL) is sent as
 * Content-Disposition. on_drain runs on the loop each time everything written so far has
 * gone to the socket: write more then (or later, e.g. after a query), or end. Until
 * web_stream_end the cancel callback (web_req_on_cancel) runs if the client goes away.
 * Returns 0 or IOC_ENOMEM (then answer with web_respond). */
int web_stream_begin(web_req_t *req, int status, const char *content_type,
                     const char *disposition, web_drain_fn on_drain, void *ud);
/* Queues len bytes of body (copied). Returns 0, or IOC_ETOOBIG/IOC_ENOMEM when over
 * WEB_STREAM_MAX_PENDING or out of memory. */
int web_stream_write(web_req_t *req, const void *data, size_t len);
/* Bytes queued and not yet written to the socket. */
size_t web_stream_pending(const web_req_t *req);
/* Ends the body: the request completes once the queued bytes are sent; no callback runs after
 * this and req must not be used again. */
void web_stream_end(web_req_t *req);
/* Gives up on a stream that cannot be finished (e.g. its query failed after the headers went
 * out): the connection is closed without the last chunk, so the client sees a truncated body.
 * No callback runs after this and req must not be used again. */
void web_stream_abort(web_req_t *req);

/* WebSocket endpoint /ws, subprotocol "ioc.v1" (served by the hub through a handler). */
typedef struct web_ws web_ws_t;

#define WEB_WS_PATH "/ws"
#define WEB_WS_PROTOCOL "ioc.v1"
#define WEB_WS_PRE 16          /* headroom web_ws_send needs before a frame (lws's LWS_PRE) */
#define WEB_WS_MAX_MSG 4096    /* largest client message accepted */

/* What an upgrade request to /ws carries (each string NULL when absent). */
typedef struct web_ws_upgrade {
    const char *authorization, *cookie, *origin, *host;
    const char *peer;     /* the client's IP address */
    uint64_t principal;   /* 0; accept may set it (who this is), see web_ws_principal */
} web_ws_upgrade_t;

typedef struct web_ws_handler {
    /* Decides on an upgrade to /ws from its headers. Returns 0 to accept, else the HTTP
     * status to refuse with (401, 403). */
    int (*accept)(void *ud, web_ws_upgrade_t *up);
    /* A connection opened: returns the handler's state for it, or NULL to close it. */
    void *(*open)(void *ud, web_ws_t *ws);
    /* One complete client message (`data` not NUL-terminated, len <= WEB_WS_MAX_MSG), or,
     * with data NULL, a message refused by the transport with `err` saying why. */
    void (*message)(void *conn, const char *data, size_t len, const char *err);
    /* The connection may write one frame now (web_ws_send). Returns 0, or -1 to close. */
    int (*writeable)(void *conn);
    /* The connection is gone; its state must not be used by web again. */
    void (*closed)(void *conn);
} web_ws_handler_t;

/* Installs (or with h NULL removes) the /ws handler; h must outlive its use. Without a
 * handler, upgrades are refused and open connections are closed at their next event. */
void web_set_ws_handler(web_t *w, const web_ws_handler_t *h, void *ud);
/* True if `origin` (a browser's Origin header) names the same host and port as `host` (the
 * Host header): "http://h:p" or "https://h:p" against "h:p", case-insensitive. */
bool web_ws_origin_ok(const char *origin, const char *host);
/* The principal the handler's accept set for this connection's upgrade (0 if none). */
uint64_t web_ws_principal(const web_ws_t *ws);
/* Asks for a writeable callback on the connection (NULL: nothing to do). */
void web_ws_want_write(web_ws_t *ws);
/* Runs the writeable callback now, as if the socket had polled writable: a burst to many
 * clients then skips, per frame, the POLLOUT arming and the poll round that
 * web_ws_want_write costs (with libuv 1.44 each poll change is an epoll_ctl DEL and ADD).
 * What the socket does not take, lws keeps and finishes on a real POLLOUT. Call it only outside lws callbacks (e.g. from a timer); it may close the
 * connection, calling the handler's closed. NULL: nothing to do. */
void web_ws_write_now(web_ws_t *ws);
/* Sends one text frame of len bytes at p; WEB_WS_PRE bytes before p are scratch space lws
 * writes the frame header into (p's bytes are not changed). Call only from writeable.
 * Returns 0 or IOC_EIO. */
int web_ws_send(web_ws_t *ws, unsigned char *p, size_t len);
/* Detaches the handler's state (no more callbacks for it) and closes the connection (NULL:
 * nothing to do). */
void web_ws_close(web_ws_t *ws);

#endif
