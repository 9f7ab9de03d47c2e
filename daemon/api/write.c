/* POST /api/v1/write and /write: InfluxDB line protocol in, 204 once every line is durable
 * (committed or fsync'd to the spool); 400 naming the first bad line while good lines are kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/gunzip.h"
#include "auth/auth.h"
#include "ingest/lineproto.h"

#define WRITE_MAX_BODY (32u << 20)

typedef struct write_ctx {
    app_t *app;
    web_req_t *req;
    int64_t now_us;      /* when the body arrived */
    bool cancelled;
    bool full;           /* ingest refused a line: back-pressure */
    size_t lines_ok;
    size_t invalid;      /* lines the parser took but ingest refused as invalid */
    size_t invalid_line; /* the first of them */
    char invalid_msg[160];
    lp_error_t perr;
    size_t bad_lines;
} write_ctx_t;

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void respond_json_error(web_req_t *req, int status, const char *msg, size_t line,
                               size_t bad_lines)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    if (line)
        cJSON_AddNumberToObject(o, "line", (double)line);
    if (bad_lines)
        cJSON_AddNumberToObject(o, "bad_lines", (double)bad_lines);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    web_respond(req, status, "application/json", s, s ? strlen(s) : 0);
    cJSON_free(s);
}

static int on_line(void *ud, const ioc_sample_t *samples, size_t n)
{
    write_ctx_t *c = ud;
    char err[160];
    int rc = ingest_submit(c->app->ingest, samples, n, c->now_us, err, sizeof err);
    if (rc == IOC_EFULL || rc == IOC_ECLOSED) {
        c->full = true;
        return 1; /* stop: later lines would be refused too */
    }
    if (rc) {
        if (!c->invalid++) {
            c->invalid_line = c->perr.at;
            snprintf(c->invalid_msg, sizeof c->invalid_msg, "%s", err);
        }
        return 0;
    }
    c->lines_ok++;
    return 0;
}

static void on_cancel(void *ud)
{
    ((write_ctx_t *)ud)->cancelled = true;
}

static void on_durable(void *ud, int status)
{
    write_ctx_t *c = ud;
    if (c->cancelled)
        goto out;
    char msg[256];
    if (status != IOC_OK) {
        snprintf(msg, sizeof msg, "samples could not be stored durably (%s); retry later",
                 ioc_strerror(status));
        respond_json_error(c->req, 503, msg, 0, 0);
    } else if (c->bad_lines && (!c->invalid || c->perr.line < c->invalid_line)) {
        snprintf(msg, sizeof msg, "line %zu: %s", c->perr.line, c->perr.msg);
        respond_json_error(c->req, 400, msg, c->perr.line, c->bad_lines + c->invalid);
    } else if (c->invalid) {
        snprintf(msg, sizeof msg, "line %zu: invalid sample: %s", c->invalid_line,
                 c->invalid_msg);
        respond_json_error(c->req, 400, msg, c->invalid_line, c->bad_lines + c->invalid);
    } else if (c->full) {
        snprintf(msg, sizeof msg, "ingest is full after %zu lines; retry the rest later",
                 c->lines_ok);
        respond_json_error(c->req, 503, msg, 0, 0);
    } else {
        web_respond(c->req, 204, NULL, NULL, 0);
    }
out:
    free(c);
}

static void handle_write(web_req_t *req, void *ud)
{
    app_t *app = ud;
    if (auth_require(app->cfg, req, ROLE_WRITER))
        return;
    size_t len;
    const char *body = web_req_body(req, &len);
    strbuf_t inflated;
    strbuf_init(&inflated, WRITE_MAX_BODY);
    const char *enc = web_req_header(req, "content-encoding");
    if (enc && strcasecmp(enc, "gzip") == 0) {
        int rc = gunzip_body(body, len, &inflated);
        if (rc) {
            respond_json_error(req, rc == IOC_ETOOBIG ? 413 : 400,
                               rc == IOC_ETOOBIG ? "decompressed body over the size limit"
                                                 : "body is not valid gzip", 0, 0);
            strbuf_free(&inflated);
            return;
        }
        body = inflated.data ? inflated.data : "";
        len = inflated.len;
    } else if (enc && *enc && strcasecmp(enc, "identity") != 0) {
        respond_json_error(req, 415, "content-encoding not supported; send gzip or identity", 0,
                           0);
        return;
    }
    const char *p = web_req_query(req, "precision");
    int prec = p ? lp_precision_parse(p) : LP_NS;
    write_ctx_t *c = prec < 0 ? NULL : calloc(1, sizeof *c);
    if (!c) {
        respond_json_error(req, prec < 0 ? 400 : 503,
                           prec < 0 ? "precision must be ns, us, ms or s" : "out of memory", 0, 0);
        strbuf_free(&inflated);
        return;
    }
    c->app = app;
    c->req = req;
    uint64_t mark = ingest_mark(app->ingest);
    c->now_us = now_us(); /* one clock read per body: lines without a timestamp share it */
    c->bad_lines = lp_parse(body, len, (lp_precision_t)prec, c->now_us, on_line, c, &c->perr);
    strbuf_free(&inflated);
    web_req_on_cancel(req, on_cancel, c);
    if (ingest_when_durable(app->ingest, mark, on_durable, c) != IOC_OK) {
        respond_json_error(req, 503, "out of memory", 0, 0);
        free(c);
    }
}

int api_write_register(app_t *app)
{
    int rc = web_route(app->web, "POST", "/api/v1/write", handle_write, app, WRITE_MAX_BODY);
    if (rc == 0)
        rc = web_route(app->web, "POST", "/write", handle_write, app, WRITE_MAX_BODY);
    return rc;
}
