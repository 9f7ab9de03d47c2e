/* The web server: libwebsockets on the daemon's libuv loop, with a small route table. */
#ifndef IOCD_WEB_H
#define IOCD_WEB_H

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

/* Sends the response (the body is copied) and ends the request. `content_type` may be NULL
 * for an empty body (e.g. 204). */
void web_respond(web_req_t *req, int status, const char *content_type, const char *body,
                 size_t len);
/* Registers the callback run if the client disconnects before web_respond. */
void web_req_on_cancel(web_req_t *req, void (*cb)(void *ud), void *ud);

#endif
