/* GET /api/v1/export: CSV and JSON streamed from a server-side cursor on the export's own
 * connection, one FETCH at a time as the socket drains; XLSX built in a worker thread into a
 * temporary file that is then streamed. Memory per export stays bounded whatever the range. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "ioc/error.h"
#include "reports/report_int.h"
#include "store/pg_conn.h"

#define PREFETCH_BELOW (1u << 20) /* fetch the next rows while less than this waits to be sent */
#define FILE_CHUNK (256u << 10)   /* bytes of a built XLSX file read per drain */

typedef enum { ST_CONNECT, ST_TZ, ST_RANGE, ST_BEGIN, ST_DECLARE, ST_FETCH } step_t;

struct rpt_export {
    reports_t *r;
    rpt_export_t *prev, *next;
    web_req_t *req;          /* NULL once the client has gone */
    rpt_spec_t spec;
    char *vals[RPT_NPARAMS];
    pg_conn_t *pg;
    step_t step;
    bool whole_hours;
    bool streaming;          /* the 200 and its headers are committed */
    bool fetching;           /* a FETCH is in flight */
    bool last;               /* the cursor is exhausted */
    uint64_t rows;
    strbuf_t buf;
    /* XLSX */
    uv_work_t work;
    atomic_bool cancel;
    bool in_worker;
    int wrc;
    int fd;                  /* the built file, already unlinked */
    char err[256];
    uv_fs_t fs;
    bool reading;
    char *chunk;
};

static void respond_error(web_req_t *req, int status, const char *param, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    char *s;
    cJSON_AddStringToObject(o, "error", msg);
    if (param)
        cJSON_AddStringToObject(o, "param", param);
    s = cJSON_PrintUnformatted(o);
    if (s)
        web_respond(req, status, "application/json", s, strlen(s));
    else
        web_respond(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void export_free(rpt_export_t *e)
{
    reports_t *r = e->r;
    if (e->prev)
        e->prev->next = e->next;
    else
        r->exports = e->next;
    if (e->next)
        e->next->prev = e->prev;
    r->nexports--;
    pg_conn_free(e->pg);
    if (e->fd >= 0)
        close(e->fd); /* a regular file: close does not block */
    rpt_sql_params_free(e->vals);
    rpt_spec_free(&e->spec);
    strbuf_free(&e->buf);
    free(e->chunk);
    free(e);
    rpt_maybe_done(r);
}

/* The export failed: an error answer if nothing was sent yet, else a truncated body. */
static void fail(rpt_export_t *e, int status, const char *param, const char *msg)
{
    if (e->req && e->streaming)
        web_stream_abort(e->req);
    else if (e->req)
        respond_error(e->req, status, param, msg);
    e->req = NULL;
    if (e->reading)
        return; /* the read in flight frees it */
    export_free(e);
}

static void on_cancel(void *ud)
{
    rpt_export_t *e = ud;
    e->req = NULL;
    if (e->in_worker) {
        atomic_store(&e->cancel, true); /* after_work frees it */
        return;
    }
    if (!e->reading)
        export_free(e);
}

static const char *disposition(rpt_export_t *e, char *out, size_t len)
{
    char day[11];
    size_t n = 0;
    for (const char *p = e->spec.from; *p && n < 10; p++)
        if ((*p >= '0' && *p <= '9') || *p == '-')
            day[n++] = *p;
    day[n] = '\0';
    static const char *const steps[] = {"1m", "1h", "1d", "1w", "1mo"};
    snprintf(out, len, "attachment; filename=\"iocd-export-%s-%s.%s\"", day,
             steps[e->spec.step], rpt_extension(e->spec.format));
    return out;
}

static void on_drain(void *ud);
static void read_file(rpt_export_t *e);

/* Sends the stream's headers once the first rows (or the built file) are ready. */
static int begin_stream(rpt_export_t *e)
{
    char disp[160];
    if (web_stream_begin(e->req, 200, rpt_content_type(e->spec.format),
                         disposition(e, disp, sizeof disp), on_drain, e))
        return IOC_ENOMEM;
    e->streaming = true;
    return IOC_OK;
}

static void on_result(void *ud, int status, PGresult *res);

static int send_fetch(rpt_export_t *e)
{
    e->fetching = true;
    e->step = ST_FETCH;
    return pg_conn_send(e->pg, rpt_sql_fetch, 0, NULL, NULL, NULL, NULL, on_result, e);
}

/* One FETCH's rows: formatted and queued on the stream. */
static void on_rows(rpt_export_t *e, PGresult *res)
{
    int n = PQntuples(res);
    bool first = !e->streaming;
    e->fetching = false;
    if (first && begin_stream(e)) {
        fail(e, 500, NULL, "out of memory");
        return;
    }
    strbuf_reset(&e->buf);
    if (first)
        rpt_fmt_head(&e->spec, &e->buf);
    for (int i = 0; i < n; i++, e->rows++)
        rpt_fmt_row(&e->spec, res, i, e->rows == 0, &e->buf);
    e->last = n < RPT_FETCH_ROWS;
    if (e->last)
        rpt_fmt_tail(&e->spec, &e->buf);
    if (e->buf.overflow || web_stream_write(e->req, e->buf.data, e->buf.len)) {
        fail(e, 500, NULL, "out of memory");
        return;
    }
    if (e->last) {
        web_stream_end(e->req);
        e->req = NULL;
        log_info("reports", "event=export_done rows=%llu format=%s",
                 (unsigned long long)e->rows, rpt_extension(e->spec.format));
        export_free(e);
        return;
    }
    if (web_stream_pending(e->req) < PREFETCH_BELOW && send_fetch(e))
        fail(e, 503, NULL, "database unavailable");
}

static void on_drain(void *ud)
{
    rpt_export_t *e = ud;
    if (e->fd >= 0) {
        read_file(e);
        return;
    }
    if (!e->fetching && !e->last && send_fetch(e))
        fail(e, 503, NULL, "database unavailable");
}

static void on_result(void *ud, int status, PGresult *res)
{
    rpt_export_t *e = ud;
    char msg[300];
    int rc;
    if (status) {
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = '\0';
        log_warn("reports", "event=export_query_failed step=%d error=\"%s\"", (int)e->step, msg);
        if (e->step == ST_TZ)
            fail(e, 400, "tz", msg);
        else if (e->step == ST_RANGE)
            fail(e, 400, "from", msg);
        else
            fail(e, 503, NULL, "database error");
        return;
    }
    switch (e->step) {
    case ST_TZ:
        e->whole_hours = PQgetvalue(res, 0, 0)[0] == 't';
        {
            const char *v[2] = {e->spec.from, e->spec.to};
            e->step = ST_RANGE;
            rc = pg_conn_send(e->pg, rpt_sql_range, 2, NULL, v, NULL, NULL, on_result, e);
        }
        break;
    case ST_RANGE:
        if (PQgetvalue(res, 0, 0)[0] != 't') {
            fail(e, 400, "from", "must be before to");
            return;
        }
        e->step = ST_BEGIN;
        rc = pg_conn_send(e->pg, "BEGIN READ ONLY", -1, NULL, NULL, NULL, NULL, on_result, e);
        break;
    case ST_BEGIN:
        e->step = ST_DECLARE;
        rc = pg_conn_send(e->pg, rpt_sql_declare(&e->spec, e->whole_hours), RPT_NPARAMS,
                          rpt_sql_types,
                          (const char *const *)e->vals, NULL, NULL, on_result, e);
        break;
    case ST_DECLARE:
        rc = send_fetch(e);
        break;
    case ST_FETCH:
        on_rows(e, res);
        return;
    default:
        return;
    }
    if (rc)
        fail(e, 503, NULL, "database unavailable");
}

static void on_connected(void *ud)
{
    rpt_export_t *e = ud;
    const char *v[1] = {e->spec.tz};
    e->step = ST_TZ;
    if (pg_conn_send(e->pg, rpt_sql_tz, 1, NULL, v, NULL, NULL, on_result, e))
        fail(e, 503, NULL, "database unavailable");
}

static void on_broken(void *ud, const char *msg)
{
    rpt_export_t *e = ud;
    char q[256];
    log_warn("reports", "event=export_db_broken error=%s", log_q(q, sizeof q, msg));
    fail(e, 503, NULL, "database unavailable");
}

/* XLSX: the next piece of the built file goes out as the socket drains. */
static void on_read(uv_fs_t *fs)
{
    rpt_export_t *e = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    e->reading = false;
    if (!e->req) {
        export_free(e);
        return;
    }
    if (n < 0) {
        fail(e, 500, NULL, "read failed");
        return;
    }
    if (n == 0) {
        web_stream_end(e->req);
        e->req = NULL;
        log_info("reports", "event=export_done rows=%llu format=xlsx",
                 (unsigned long long)e->rows);
        export_free(e);
        return;
    }
    if (web_stream_write(e->req, e->chunk, (size_t)n))
        fail(e, 500, NULL, "out of memory");
}

static void read_file(rpt_export_t *e)
{
    uv_buf_t b = uv_buf_init(e->chunk, FILE_CHUNK);
    if (e->reading)
        return;
    e->fs.data = e;
    if (uv_fs_read(e->r->loop, &e->fs, e->fd, &b, 1, -1, on_read) < 0) {
        fail(e, 500, NULL, "read failed");
        return;
    }
    e->reading = true;
}

/* Worker thread: builds the workbook, then keeps only an open descriptor to it. */
static void xlsx_work(uv_work_t *w)
{
    rpt_export_t *e = w->data;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.iocd-export-XXXXXX", e->r->tmp_dir);
    int tfd = mkstemp(path);
    if (tfd < 0) {
        e->wrc = IOC_EIO;
        snprintf(e->err, sizeof e->err, "cannot create a temporary file in %s", e->r->tmp_dir);
        return;
    }
    close(tfd);
    e->wrc = rpt_run_to_file(e->r->dsn, &e->spec, path, &e->cancel, &e->rows, e->err,
                             sizeof e->err);
    if (e->wrc == IOC_OK)
        e->fd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
}

static void xlsx_done(uv_work_t *w, int status)
{
    rpt_export_t *e = w->data;
    e->in_worker = false;
    e->r->nworkers--;
    if (!e->req || status) {
        fail(e, 503, NULL, "cancelled");
        return;
    }
    if (e->wrc == IOC_EINVAL) {
        const char *colon = strchr(e->err, ':');
        char param[16];
        snprintf(param, sizeof param, "%.*s", colon ? (int)(colon - e->err) : 0, e->err);
        if (!strcmp(param, "from/to"))
            snprintf(param, sizeof param, "from");
        fail(e, 400, param[0] ? param : NULL, colon ? colon + 2 : e->err);
        return;
    }
    if (e->wrc == IOC_ETOOBIG) {
        fail(e, 400, "step", e->err);
        return;
    }
    if (e->wrc || e->fd < 0) {
        log_warn("reports", "event=export_failed format=xlsx error=\"%s\"", e->err);
        fail(e, 503, NULL, e->wrc == IOC_EDB ? "database unavailable" : "cannot build the file");
        return;
    }
    if (!(e->chunk = malloc(FILE_CHUNK)) || begin_stream(e)) {
        fail(e, 500, NULL, "out of memory");
        return;
    }
}

static const char *query_get(void *ud, const char *name)
{
    return web_req_query(ud, name);
}

void reports_export(reports_t *r, web_req_t *req, const config_t *cfg)
{
    char param[32], msg[256], err[256];
    rpt_export_t *e;
    if (r->closing) {
        respond_error(req, 503, NULL, "shutting down");
        return;
    }
    if (!r->dsn) {
        respond_error(req, 503, NULL, "database unavailable");
        return;
    }
    if (r->nexports >= RPT_MAX_EXPORTS) {
        respond_error(req, 429, NULL, "too many exports running; try again shortly");
        return;
    }
    if (!(e = calloc(1, sizeof *e))) {
        respond_error(req, 500, NULL, "out of memory");
        return;
    }
    e->r = r;
    e->req = req;
    e->fd = -1;
    strbuf_init(&e->buf, 0);
    e->next = r->exports;
    if (r->exports)
        r->exports->prev = e;
    r->exports = e;
    r->nexports++;
    int rc = rpt_spec_parse(cfg, query_get, req, &e->spec, param, sizeof param, msg, sizeof msg);
    if (rc) {
        fail(e, rc == IOC_EINVAL ? 400 : 500, rc == IOC_EINVAL ? param : NULL,
             rc == IOC_EINVAL ? msg : "out of memory");
        return;
    }
    if (!strcmp(web_req_method(req), "HEAD")) {
        web_respond(req, 200, rpt_content_type(e->spec.format), NULL, 0);
        e->req = NULL;
        export_free(e);
        return;
    }
    web_req_on_cancel(req, on_cancel, e);
    if (e->spec.format == RPT_XLSX) {
        e->work.data = e;
        e->in_worker = true;
        r->nworkers++;
        if (uv_queue_work(r->loop, &e->work, xlsx_work, xlsx_done)) {
            e->in_worker = false;
            r->nworkers--;
            fail(e, 500, NULL, "cannot start a worker");
        }
        return;
    }
    if (rpt_sql_params(&e->spec, e->vals)) {
        fail(e, 500, NULL, "out of memory");
        return;
    }
    pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    if (pg_conn_start(r->loop, r->dsn, &cbs, e, &e->pg, err, sizeof err)) {
        log_warn("reports", "event=export_connect_failed error=\"%s\"", err);
        fail(e, 503, NULL, "database unavailable");
    }
}

void rpt_export_cancel_all(reports_t *r)
{
    rpt_export_t *e, *next;
    for (e = r->exports; e; e = next) {
        next = e->next;
        if (e->in_worker) {
            atomic_store(&e->cancel, true);
            continue;
        }
        fail(e, 503, NULL, "shutting down");
    }
}
