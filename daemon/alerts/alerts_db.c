/* The alerts module's PostgreSQL connection: a bounded command FIFO with reconnects. */
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts_db.h"
#include "core/log.h"
#include "ioc/error.h"
#include "store/pg_conn.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define CLOSE_FLUSH_MS 3000 /* how long close waits for queued writes */

typedef struct cmd {
    struct cmd *next;
    const char *sql; /* a constant */
    int n;
    char *params[ADB_MAX_PARAMS];
    bool retry;
    adb_cb cb;
    void *ud;
} cmd_t;

struct adb {
    uv_loop_t *loop;
    char *dsn;
    pg_conn_t *conn;
    bool up;
    uv_timer_t timer; /* reconnect back-off, and the close deadline */
    uint64_t backoff_ms;
    cmd_t *head, *tail, *inflight;
    size_t count;
    void (*on_ready)(void *ud);
    void *ud;
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
    bool down_logged;
};

static void connect_now(adb_t *db);
static void pump(adb_t *db);

static void cmd_free(cmd_t *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->params[i]);
    free(c);
}

static void finish_cmd(cmd_t *c, int status)
{
    if (c->cb)
        c->cb(c->ud, status, NULL);
    cmd_free(c);
}

static cmd_t *pop(adb_t *db)
{
    cmd_t *c = db->head;
    if (c) {
        db->head = c->next;
        if (!db->head)
            db->tail = NULL;
        db->count--;
    }
    return c;
}

static void push_head(adb_t *db, cmd_t *c)
{
    c->next = db->head;
    db->head = c;
    if (!db->tail)
        db->tail = c;
    db->count++;
}

/* Fails the queued commands that are not to be retried (the database is down). */
static void fail_unretried(adb_t *db, int status)
{
    cmd_t *keep = NULL, *keep_tail = NULL, *c;
    size_t kept = 0;
    while ((c = pop(db))) {
        if (c->retry && status != IOC_ECLOSED) {
            c->next = NULL;
            if (keep_tail)
                keep_tail->next = c;
            else
                keep = c;
            keep_tail = c;
            kept++;
        } else {
            finish_cmd(c, status);
        }
    }
    db->head = keep;
    db->tail = keep_tail;
    db->count = kept;
}

static void on_handle_closed(uv_handle_t *h)
{
    adb_t *db = h->data;
    void (*done)(void *) = db->done;
    void *ud = db->done_ud;
    free(db->dsn);
    free(db);
    if (done)
        done(ud);
}

static void finish_close(adb_t *db)
{
    cmd_t *c = db->inflight;
    db->inflight = NULL;
    pg_conn_free(db->conn);
    db->conn = NULL;
    db->up = false;
    if (c)
        finish_cmd(c, IOC_ECLOSED);
    fail_unretried(db, IOC_ECLOSED);
    uv_timer_stop(&db->timer);
    uv_close((uv_handle_t *)&db->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
    adb_t *db = t->data;
    if (db->closing)
        finish_close(db);
    else
        connect_now(db);
}

static void on_connected(void *ud)
{
    adb_t *db = ud;
    db->up = true;
    db->backoff_ms = BACKOFF_MIN_MS;
    if (db->down_logged)
        log_info("alerts", "event=db_up");
    db->down_logged = false;
    if (db->on_ready)
        db->on_ready(db->ud);
    pump(db);
}

static void on_broken(void *ud, const char *msg)
{
    adb_t *db = ud;
    char q[256];
    cmd_t *c = db->inflight;
    db->inflight = NULL;
    db->up = false;
    pg_conn_free(db->conn);
    db->conn = NULL;
    if (!db->down_logged)
        log_warn("alerts", "event=db_down error=%s action=retry", log_q(q, sizeof q, msg));
    db->down_logged = true;
    if (c && c->retry)
        push_head(db, c);
    else if (c)
        finish_cmd(c, IOC_EDB);
    fail_unretried(db, IOC_EDB);
    if (db->closing) {
        finish_close(db);
        return;
    }
    uv_timer_start(&db->timer, on_timer, db->backoff_ms, 0);
    db->backoff_ms = db->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : db->backoff_ms * 2;
}

static void connect_now(adb_t *db)
{
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    char err[256];
    if (pg_conn_start(db->loop, db->dsn, &cbs, db, &db->conn, err, sizeof err)) {
        db->conn = NULL;
        on_broken(db, err);
    }
}

static void on_result(void *ud, int status, PGresult *res)
{
    adb_t *db = ud;
    cmd_t *c = db->inflight;
    char q[512];
    db->inflight = NULL;
    if (status && c && !c->cb)
        log_warn("alerts", "event=db_write_failed error=%s",
                 log_q(q, sizeof q, res ? PQresultErrorMessage(res) : "no result"));
    if (c) {
        if (c->cb)
            c->cb(c->ud, status, res);
        cmd_free(c);
    }
    pump(db);
}

static void pump(adb_t *db)
{
    while (db->up && !db->inflight && db->head) {
        cmd_t *c = pop(db);
        db->inflight = c;
        if (pg_conn_send(db->conn, c->sql, c->n, NULL, (const char *const *)c->params, NULL,
                         NULL, on_result, db) == 0)
            return;
        on_broken(db, "cannot send a command");
        return;
    }
    if (db->closing && !db->inflight && (!db->head || !db->up))
        finish_close(db);
}

int adb_create(uv_loop_t *loop, const char *dsn, void (*on_ready)(void *ud), void *ud,
               adb_t **out)
{
    adb_t *db = calloc(1, sizeof *db);
    if (!db || !(db->dsn = strdup(dsn))) {
        free(db);
        return IOC_ENOMEM;
    }
    db->loop = loop;
    db->on_ready = on_ready;
    db->ud = ud;
    db->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &db->timer);
    db->timer.data = db;
    *out = db;
    connect_now(db);
    return IOC_OK;
}

static cmd_t *make_cmd(const char *sql, int nparams, const char *const *params, bool retry,
                       adb_cb cb, void *ud)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c || nparams > ADB_MAX_PARAMS) {
        free(c);
        return NULL;
    }
    c->sql = sql;
    c->retry = retry;
    c->cb = cb;
    c->ud = ud;
    for (; c->n < nparams; c->n++) {
        if (params[c->n] && !(c->params[c->n] = strdup(params[c->n]))) {
            cmd_free(c);
            return NULL;
        }
    }
    return c;
}

int adb_send(adb_t *db, const char *sql, int nparams, const char *const *params, bool retry,
             adb_cb cb, void *ud)
{
    if (db->closing)
        return IOC_ECLOSED;
    if (!retry && !db->up)
        return IOC_EDB;
    if (db->count >= ADB_QUEUE_MAX)
        return IOC_EFULL;
    cmd_t *c = make_cmd(sql, nparams, params, retry, cb, ud);
    if (!c)
        return IOC_ENOMEM;
    if (db->tail)
        db->tail->next = c;
    else
        db->head = c;
    db->tail = c;
    db->count++;
    pump(db);
    return IOC_OK;
}

int adb_send_first(adb_t *db, const char *sql, int nparams, const char *const *params,
                   adb_cb cb, void *ud)
{
    if (db->closing)
        return IOC_ECLOSED;
    cmd_t *c = make_cmd(sql, nparams, params, false, cb, ud);
    if (!c)
        return IOC_ENOMEM;
    push_head(db, c);
    pump(db);
    return IOC_OK;
}

bool adb_up(const adb_t *db)
{
    return db->up;
}

size_t adb_queued(const adb_t *db)
{
    return db->count + (db->inflight != NULL);
}

void adb_close(adb_t *db, void (*done)(void *ud), void *ud)
{
    db->closing = true;
    db->done = done;
    db->done_ud = ud;
    uv_timer_stop(&db->timer);
    if (!db->up || (!db->inflight && !db->head)) {
        finish_close(db);
        return;
    }
    uv_timer_start(&db->timer, on_timer, CLOSE_FLUSH_MS, 0);
}
