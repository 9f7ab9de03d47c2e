/* Streamed HTTP responses: chunked transfer encoding, written from WRITEABLE as clients read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ioc/error.h"
#include "web/web_int.h"

#define CHUNK_HEAD 12 /* "ffffffff\r\n" */

int web_stream_begin(web_req_t *req, int status, const char *content_type,
                     const char *disposition, web_drain_fn on_drain, void *ud)
{
    if (req->state != WEB_REQ_HANDLING || req->head)
        return IOC_EINVAL;
    req->sframe = malloc(LWS_PRE + CHUNK_HEAD + WEB_WRITE_CHUNK + 2);
    if (!req->sframe)
        return IOC_ENOMEM;
    strbuf_init(&req->spend, WEB_STREAM_MAX_PENDING);
    req->soff = 0;
    req->streaming = true;
    req->stream_ended = false;
    req->drain = on_drain;
    req->drain_ud = ud;
    req->status = status;
    req->resp_len = 0;
    snprintf(req->ctype, sizeof req->ctype, "%s", content_type ? content_type : "");
    snprintf(req->disp, sizeof req->disp, "%s", disposition ? disposition : "");
    req->allow[0] = '\0';
    req->hdr_sent = false;
    req->state = WEB_REQ_STREAMING;
    if (req->wsi)
        lws_callback_on_writable(req->wsi);
    return IOC_OK;
}

int web_stream_write(web_req_t *req, const void *data, size_t len)
{
    if (!len)
        return IOC_OK;
    /* reclaim the sent prefix before growing */
    if (req->soff && req->soff == req->spend.len) {
        strbuf_reset(&req->spend);
        req->soff = 0;
    }
    int rc = strbuf_append(&req->spend, data, len);
    if (rc < 0)
        return rc;
    if (req->wsi)
        lws_callback_on_writable(req->wsi);
    return IOC_OK;
}

size_t web_stream_pending(const web_req_t *req)
{
    return req->spend.len - req->soff;
}

void web_stream_end(web_req_t *req)
{
    req->stream_ended = true;
    req->state = WEB_REQ_WRITING; /* the producer is done: a hang-up now cancels nothing */
    req->cancel = NULL;
    if (req->wsi)
        lws_callback_on_writable(req->wsi);
}

void web_stream_abort(web_req_t *req)
{
    log_warn("web", "event=stream_aborted path=%s sent_partial=yes", req->path);
    req->cancel = NULL;
    req->drain = NULL;
    req->close_after = true;
    req->state = WEB_REQ_WRITING;
    if (req->wsi)
        lws_set_timeout(req->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

int web_stream_step(web_req_t *req)
{
    unsigned char *p = req->sframe + LWS_PRE;
    size_t left = req->spend.len - req->soff, n = left > WEB_WRITE_CHUNK ? WEB_WRITE_CHUNK : left;
    int h;

    if (!req->drain && !req->stream_ended)
        return 0; /* aborted: the connection is being killed */
    if (!n) {
        if (!req->stream_ended) {
            /* everything sent: the producer may take its time (a query), within the handler
             * timeout rather than the write timeout */
            lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT, WEB_HANDLER_TIMEOUT_S);
            strbuf_reset(&req->spend);
            req->soff = 0;
            req->drain(req->drain_ud);
            return 0;
        }
        memcpy(p, "0\r\n\r\n", 5);
        return lws_write(req->wsi, p, 5, LWS_WRITE_HTTP_FINAL) < 5 ? -1 : 1;
    }
    h = snprintf((char *)p, CHUNK_HEAD, "%zx\r\n", n);
    memcpy(p + h, req->spend.data + req->soff, n);
    memcpy(p + h + n, "\r\n", 2);
    if (lws_write(req->wsi, p, (size_t)h + n + 2, LWS_WRITE_HTTP) < (int)((size_t)h + n + 2))
        return -1;
    req->soff += n;
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT, WEB_WRITE_TIMEOUT_S);
    lws_callback_on_writable(req->wsi);
    return 0;
}
