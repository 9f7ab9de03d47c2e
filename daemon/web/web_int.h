/* Private definitions shared by the web module's files (server, requests, static files). */
#ifndef IOCD_WEB_INT_H
#define IOCD_WEB_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "core/strbuf.h"
#include "web/web.h"

#define WEB_MAX_ROUTES 64
#define WEB_MAX_QUERY 8192            /* bytes of query string accepted */
#define WEB_MAX_HEADERS 16384         /* lws header buffer per connection */
#define WEB_MAX_FILE (16u << 20)      /* largest static file served */
#define WEB_WRITE_CHUNK (64u << 10)   /* body bytes per WRITEABLE callback */
#define WEB_HANDLER_TIMEOUT_S 120     /* a handler that never responds: the connection drops */
#define WEB_WRITE_TIMEOUT_S 30        /* a client that stops reading the response */

typedef struct web_route_ent {
    char method[8];     /* "GET", ..., or "*" */
    char *path;         /* owned; without the trailing '*' for a prefix */
    size_t plen;
    bool prefix;
    web_handler_fn fn;
    void *ud;
    size_t max_body;
} web_route_ent_t;

/* Decoder for a Transfer-Encoding: chunked request body. */
typedef struct web_chunked {
    int state;
    uint64_t left;      /* bytes left in the current chunk, or size being parsed */
    size_t line;        /* bytes in the current size/trailer line */
    size_t trailer;     /* bytes of trailer section seen */
} web_chunked_t;

typedef enum web_req_state {
    WEB_REQ_READING,    /* reading the body */
    WEB_REQ_HANDLING,   /* handler called, waiting for web_respond */
    WEB_REQ_STATIC,     /* a file-system operation is in flight */
    WEB_REQ_WRITING,    /* response stored, written from WRITEABLE */
    WEB_REQ_STREAMING   /* streamed response still being produced (web_stream.c) */
} web_req_state_t;

typedef struct web_hdr {
    struct web_hdr *next;
    char *name, *value;
} web_hdr_t;

/* Per-connection data lws allocates for us (per_session_data_size). */
typedef struct web_conn {
    web_req_t *req;     /* the request in progress on this connection, or NULL */
} web_conn_t;

struct web_req {
    web_t *w;
    struct lws *wsi;          /* NULL once orphaned (client gone during a file read) */
    web_conn_t *conn;         /* NULL once orphaned */
    web_req_t *prev, *next;   /* w->reqs: requests bound to a connection */
    web_req_state_t state;
    char method[8];
    char *path;               /* decoded path, owned */
    char *args;               /* decoded "name=value\0" fragments, owned */
    size_t args_len;
    web_hdr_t *hdrs;          /* headers looked up so far (copies) */
    char peer[64];
    const web_route_ent_t *route;
    strbuf_t body;
    bool chunked, head, close_after;
    web_chunked_t ck;
    void (*cancel)(void *ud);
    void *cancel_ud;
    /* response */
    int status;
    char ctype[80];
    char allow[64];
    char extra[WEB_MAX_EXTRA_HEADERS]; /* web_req_add_header's "name:\0value\0" pairs */
    size_t extra_len;
    unsigned char *resp;      /* LWS_PRE bytes of headroom, then the body; owned */
    size_t resp_len, resp_off;
    bool hdr_sent;
    /* streamed response (web_stream.c) */
    bool streaming;           /* chunked body; resp/resp_len unused */
    bool stream_ended;        /* web_stream_end called: the last chunk follows the queued bytes */
    strbuf_t spend;           /* bytes queued, spend.len - soff not yet sent */
    size_t soff;
    unsigned char *sframe;    /* LWS_PRE headroom + one chunk with its framing; owned */
    web_drain_fn drain;
    void *drain_ud;
    char disp[256];           /* Content-Disposition, or "" */
    /* static file */
    uv_fs_t fs;
    uv_file fd;
    char *fpath;
    size_t fsize, fgot;
    bool index_tried;
};

struct web {
    uv_loop_t *loop;
    struct lws_context *ctx;  /* lws writes NULL here once the context is freed */
    struct lws_vhost *vh;
    int port;
    char *static_root;        /* realpath of static_dir, owned, or NULL */
    char *frame_ancestors;    /* web_opts.frame_ancestors, owned, or NULL */
    web_route_ent_t routes[WEB_MAX_ROUTES];
    size_t nroutes;
    web_req_t *reqs;
    bool closing;
    uv_timer_t timer;         /* watches waiting handlers' clients; after web_close, the reaper */
    int ticks;
    void (*done)(void *ud);
    void *done_ud;
    const web_ws_handler_t *ws_handler; /* the /ws handler (web_set_ws_handler), or NULL */
    void *ws_ud;
};

#define WEB_WS_RX_BUFFER 512          /* lws rx buffer per WebSocket connection */

/* Per-connection data lws allocates for a /ws connection (per_session_data_size). */
struct web_ws {
    struct lws *wsi;
    web_t *w;
    void *conn;       /* the handler's state, or NULL once detached */
    char *rx;         /* reassembly of a message that arrives in pieces; owned, or NULL */
    size_t rxlen;
    const char *rx_err; /* why the message being received is refused, or NULL */
    bool in_msg;      /* a message has started and its last piece has not arrived */
    bool closing;     /* web_ws_close was called */
    uint64_t principal; /* set at the upgrade by the handler's accept */
};

/* lws callback of the "ioc.v1" protocol (web_ws.c). */
int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
/* The vhost's retry policy: no lws ping/hangup timers (web_ws.c says why; TCP keepalive instead). */
extern const lws_retry_bo_t web_ws_retry;

#define WEB_WS_PROTOCOL_ENTRY                                                                  \
    {WEB_WS_PROTOCOL, web_ws_callback, sizeof(web_ws_t), WEB_WS_RX_BUFFER, 0, NULL, 0}

/* Makes a request for a connection and links it into w->reqs. Returns NULL on ENOMEM. */
web_req_t *web_req_new(web_t *w, struct lws *wsi, web_conn_t *conn, const char *method,
                       const char *path);
/* Copies the query fragments and the peer address from lws. Returns 0 or IOC_ENOMEM. */
int web_req_load(web_req_t *req);
/* Unlinks and frees a request (does not run the cancel callback). */
void web_req_free(web_req_t *req);
/* Detaches a request from its connection and from w->reqs; its in-flight file operation
 * frees it when it completes. */
void web_req_orphan(web_req_t *req);
/* Stores a response (body copied) and asks lws for a WRITEABLE callback. `allow` may be NULL.
 * Returns 0 or IOC_ENOMEM (then the connection should be closed). */
int web_req_reply(web_req_t *req, int status, const char *ctype, const char *body, size_t len,
                  const char *allow);
/* Same, taking ownership of buf (LWS_PRE bytes of headroom, then len bytes of body). */
int web_req_reply_take(web_req_t *req, int status, const char *ctype, unsigned char *buf,
                       size_t len, const char *allow);
/* Replies with a short text/plain error body. */
void web_req_error(web_req_t *req, int status, const char *text);
/* Writes the next piece of the response from LWS_CALLBACK_HTTP_WRITEABLE. Returns 0 while
 * more is to come, 1 when the response is complete, -1 on a write error. */
int web_req_write(web_req_t *req);

/* Writes the next chunk of a streamed response (after its headers) from WRITEABLE. Same
 * returns as web_req_write. */
int web_stream_step(web_req_t *req);

/* Starts serving req->path from w->static_root (GET/HEAD). Replies itself. */
void web_static_serve(web_req_t *req);
/* The content type for a file name, by extension. */
const char *web_static_type(const char *name);

/* Resets a chunked decoder. */
void web_chunked_init(web_chunked_t *ck);
/* Decodes `len` bytes of chunked encoding, appending the data to out. Returns 1 when the
 * last chunk and trailers are complete (`*used` says how much of in was consumed), 0 when
 * more is needed, IOC_EINVAL on bad framing, IOC_ETOOBIG when out's limit is exceeded. */
int web_chunked_feed(web_chunked_t *ck, const char *in, size_t len, strbuf_t *out,
                     size_t *used);

#endif
