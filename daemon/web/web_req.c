/* HTTP requests: their lifetime, accessors, and writing the response from WRITEABLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "ioc/error.h"
#include "web/web_int.h"

#define HDR_BUF 2048 /* response header block (standard ones + WEB_MAX_EXTRA_HEADERS) */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " \
            "connect-src 'self' ws: wss:; frame-ancestors "

web_req_t *web_req_new(web_t *w, struct lws *wsi, web_conn_t *conn, const char *method,
                       const char *path)
{
    web_req_t *req = calloc(1, sizeof *req);

    if (!req)
        return NULL;
    req->path = strdup(path);
    if (!req->path) {
        free(req);
        return NULL;
    }
    req->w = w;
    req->wsi = wsi;
    req->conn = conn;
    req->fd = -1;
    snprintf(req->method, sizeof req->method, "%s", method);
    strbuf_init(&req->body, 0);
    req->next = w->reqs;
    if (w->reqs)
        w->reqs->prev = req;
    w->reqs = req;
    conn->req = req;
    return req;
}

int web_req_load(web_req_t *req)
{
    char frag[WEB_MAX_QUERY + 1];
    strbuf_t sb;
    int n, i;

    lws_get_peer_simple(req->wsi, req->peer, sizeof req->peer);
    strbuf_init(&sb, 0);
    for (i = 0; (n = lws_hdr_copy_fragment(req->wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS,
                                           i)) >= 0; i++) {
        if (strbuf_append(&sb, frag, (size_t)n + 1) < 0) {
            strbuf_free(&sb);
            return IOC_ENOMEM;
        }
    }
    req->args = strbuf_steal(&sb, &req->args_len);
    return IOC_OK;
}

static void unlink_req(web_req_t *req)
{
    if (!req->conn)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        req->w->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    req->conn->req = NULL;
    req->conn = NULL;
}

void web_req_orphan(web_req_t *req)
{
    unlink_req(req);
    req->wsi = NULL;
}

void web_req_free(web_req_t *req)
{
    web_hdr_t *h, *next;

    unlink_req(req);
    for (h = req->hdrs; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    if (req->fd >= 0) {
        uv_fs_t close_req;
        uv_fs_close(NULL, &close_req, req->fd, NULL); /* a regular file: close does not block */
        uv_fs_req_cleanup(&close_req);
    }
    strbuf_free(&req->body);
    strbuf_free(&req->spend);
    free(req->sframe);
    free(req->path);
    free(req->args);
    free(req->resp);
    free(req->fpath);
    free(req);
}

const char *web_req_method(const web_req_t *req)
{
    return req->method;
}

const char *web_req_path(const web_req_t *req)
{
    return req->path;
}

const char *web_req_query(const web_req_t *req, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = req->args, *end = req->args + req->args_len;

    if (!p)
        return NULL;
    while (p < end) {
        if (!strncmp(p, name, nlen) && p[nlen] == '=')
            return p + nlen + 1;
        if (!strcmp(p, name))
            return p + nlen;
        p += strlen(p) + 1;
    }
    return NULL;
}

/* Copies a header from lws: a known token if lws has one by that name, else a custom one.
 * Returns a malloc'd value or NULL. */
static char *fetch_header(struct lws *wsi, const char *lname)
{
    char key[96];
    const unsigned char *tok;
    char *val;
    int i, n, len = -1;

    snprintf(key, sizeof key, "%s:", lname);
    for (i = 0; i < WSI_TOKEN_COUNT; i++) {
        tok = lws_token_to_string((enum lws_token_indexes)i);
        if (tok && !strcmp((const char *)tok, key)) {
            len = lws_hdr_total_length(wsi, (enum lws_token_indexes)i);
            if (len <= 0)
                return NULL;
            val = malloc((size_t)len + 1);
            if (!val)
                return NULL;
            n = lws_hdr_copy(wsi, val, len + 1, (enum lws_token_indexes)i);
            if (n < 0) {
                free(val);
                return NULL;
            }
            return val;
        }
    }
    len = lws_hdr_custom_length(wsi, key, (int)strlen(key));
    if (len < 0)
        return NULL;
    val = malloc((size_t)len + 1);
    if (!val)
        return NULL;
    if (lws_hdr_custom_copy(wsi, val, len + 1, key, (int)strlen(key)) < 0) {
        free(val);
        return NULL;
    }
    return val;
}

const char *web_req_header(const web_req_t *req, const char *name)
{
    web_req_t *r = (web_req_t *)req; /* caches the copy; the request is logically const */
    char lname[80];
    web_hdr_t *h;
    char *val;
    size_t i;

    if (strlen(name) >= sizeof lname)
        return NULL;
    for (i = 0; name[i]; i++)
        lname[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lname[i] = '\0';
    for (h = r->hdrs; h; h = h->next)
        if (!strcmp(h->name, lname))
            return h->value;
    if (!r->wsi)
        return NULL;
    val = fetch_header(r->wsi, lname);
    if (!val)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(lname))) {
        free(h);
        free(val);
        return NULL;
    }
    h->value = val;
    h->next = r->hdrs;
    r->hdrs = h;
    return val;
}

const char *web_req_body(const web_req_t *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

const char *web_req_peer(const web_req_t *req)
{
    return req->peer;
}

void web_req_on_cancel(web_req_t *req, void (*cb)(void *ud), void *ud)
{
    req->cancel = cb;
    req->cancel_ud = ud;
}

int web_req_reply_take(web_req_t *req, int status, const char *ctype, unsigned char *buf,
                       size_t len, const char *allow)
{
    free(req->resp);
    req->resp = buf;
    req->resp_len = len;
    req->resp_off = 0;
    req->status = status;
    snprintf(req->ctype, sizeof req->ctype, "%s", ctype ? ctype : "");
    snprintf(req->allow, sizeof req->allow, "%s", allow ? allow : "");
    req->hdr_sent = false;
    req->state = WEB_REQ_WRITING;
    if (req->wsi)
        lws_callback_on_writable(req->wsi);
    return IOC_OK;
}

int web_req_reply(web_req_t *req, int status, const char *ctype, const char *body, size_t len,
                  const char *allow)
{
    unsigned char *buf = malloc(LWS_PRE + len + 1);

    if (!buf)
        return IOC_ENOMEM;
    if (len)
        memcpy(buf + LWS_PRE, body, len);
    return web_req_reply_take(req, status, ctype, buf, len, allow);
}

/* Out of memory while replying: drop the connection (no cancel: the request was answered). */
static void reply_failed(web_req_t *req, int status)
{
    log_error("web", "event=reply_failed path=%s status=%d err=%s", req->path, status,
              ioc_strerror(IOC_ENOMEM));
    req->cancel = NULL;
    if (req->wsi)
        lws_set_timeout(req->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

void web_req_error(web_req_t *req, int status, const char *text)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%s\n", text);

    if (web_req_reply(req, status, "text/plain; charset=utf-8", body, (size_t)n, NULL) < 0)
        reply_failed(req, status);
}

void web_respond(web_req_t *req, int status, const char *content_type, const char *body,
                 size_t len)
{
    if (req->state != WEB_REQ_HANDLING) {
        log_error("web", "event=respond_twice path=%s status=%d", req->path, status);
        return;
    }
    if (web_req_reply(req, status, content_type, body, len, NULL) < 0)
        reply_failed(req, status);
}

int web_req_add_header(web_req_t *req, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);

    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return IOC_EINVAL;
    if (req->extra_len + nlen + vlen + 3 > sizeof req->extra)
        return IOC_ETOOBIG;
    memcpy(req->extra + req->extra_len, name, nlen);
    req->extra_len += nlen;
    req->extra[req->extra_len++] = ':';
    req->extra[req->extra_len++] = '\0';
    memcpy(req->extra + req->extra_len, value, vlen + 1);
    req->extra_len += vlen + 1;
    return IOC_OK;
}

/* Appends a header by name; returns nonzero if it did not fit. */
static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_headers(web_req_t *req)
{
    /* Static files (the dashboards) may be framed by http.frame_ancestors; nothing else. */
    const char *ancestors = !req->route && req->w->frame_ancestors ? req->w->frame_ancestors
                                                                   : NULL;
    char csp[sizeof CSP + 512];
    unsigned char buf[LWS_PRE + HDR_BUF], *start = buf + LWS_PRE, *p = start,
                                          *end = buf + sizeof buf - 1;
    struct lws *wsi = req->wsi;

    snprintf(csp, sizeof csp, CSP "%s", ancestors ? ancestors : "'none'");
    if (lws_add_http_header_status(wsi, (unsigned int)req->status | LWSAHH_FLAG_NO_SERVER_NAME,
                                   &p, end) ||
        (req->ctype[0] &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                      (unsigned char *)req->ctype, (int)strlen(req->ctype), &p,
                                      end)) ||
        (req->streaming ? add_hdr(wsi, "transfer-encoding:", "chunked", &p, end)
                        : lws_add_http_header_content_length(wsi, req->resp_len, &p, end)) ||
        (req->disp[0] && add_hdr(wsi, "content-disposition:", req->disp, &p, end)) ||
        add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        add_hdr(wsi, "referrer-policy:", "no-referrer", &p, end) ||
        (!ancestors && add_hdr(wsi, "x-frame-options:", "DENY", &p, end)) ||
        add_hdr(wsi, "content-security-policy:", csp, &p, end) ||
        (req->allow[0] && add_hdr(wsi, "allow:", req->allow, &p, end)) ||
        (req->close_after && add_hdr(wsi, "connection:", "close", &p, end)))
        return -1;
    for (size_t off = 0; off < req->extra_len;) {
        const char *name = req->extra + off, *value = name + strlen(name) + 1;
        if (add_hdr(wsi, name, value, &p, end))
            return -1;
        off = (size_t)(value + strlen(value) + 1 - req->extra);
    }
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

int web_req_write(web_req_t *req)
{
    size_t left, n;
    enum lws_write_protocol flag;

    if (!req->hdr_sent) {
        if (write_headers(req) < 0)
            return -1;
        req->hdr_sent = true;
        lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT, WEB_WRITE_TIMEOUT_S);
        if (req->head || (!req->resp_len && !req->streaming))
            return 1;
        lws_callback_on_writable(req->wsi);
        return 0;
    }
    if (req->streaming)
        return web_stream_step(req);
    left = req->resp_len - req->resp_off;
    n = left > WEB_WRITE_CHUNK ? WEB_WRITE_CHUNK : left;
    flag = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
    /* The bytes before this piece are ours (headroom or body already sent), as lws_write wants. */
    if (lws_write(req->wsi, req->resp + LWS_PRE + req->resp_off, n, flag) < (int)n)
        return -1;
    req->resp_off += n;
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT, WEB_WRITE_TIMEOUT_S);
    if (req->resp_off < req->resp_len) {
        lws_callback_on_writable(req->wsi);
        return 0;
    }
    return 1;
}
