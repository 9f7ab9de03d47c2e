/* The auth store's database connection: a bounded FIFO of parameterised commands, reconnect with
 * back-off, and a wait for the store's migrations before loading. */
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "ioc/error.h"

#define MAX_PARAMS 8
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

typedef struct auth_dbop {
    struct auth_dbop *next;
    const char *sql;           /* static text */
    int n;
    char *vals[MAX_PARAMS];    /* owned copies, NULL for SQL NULL */
    auth_db_cb cb;
    void *ud;
} auth_dbop_t;

static void op_free(auth_dbop_t *op)
{
    for (int i = 0; i < op->n; i++)
        free(op->vals[i]);
    free(op);
}

static void run_next(auth_store_t *s);

static void on_result(void *ud, int status, PGresult *res)
{
    auth_store_t *s = ud;
    auth_dbop_t *op = s->inflight;

    s->inflight = NULL;
    if (status)
        log_warn("auth", "event=db_error error=\"%s\"", PQresultErrorMessage(res));
    op->cb(op->ud, status, status ? NULL : res);
    op_free(op);
    run_next(s);
}

static void run_next(auth_store_t *s)
{
    auth_dbop_t *op = s->qhead;

    if (!s->up || s->inflight || !op)
        return;
    s->qhead = op->next;
    if (!s->qhead)
        s->qtail = NULL;
    s->qlen--;
    s->inflight = op;
    if (pg_conn_send(s->conn, op->sql, op->n, NULL, (const char *const *)op->vals, NULL, NULL,
                     on_result, s)) {
        s->inflight = NULL;
        op->cb(op->ud, IOC_EDB, NULL);
        op_free(op);
        run_next(s);
    }
}

int auth_db_send(auth_store_t *s, const char *sql, int n, const char *const *vals, bool need_up,
                 auth_db_cb cb, void *ud)
{
    auth_dbop_t *op;

    if (s->closing)
        return IOC_ECLOSED;
    if (need_up && !s->up)
        return IOC_EDB;
    if (s->qlen >= AUTH_DB_QUEUE)
        return IOC_EFULL;
    if (!(op = calloc(1, sizeof *op)))
        return IOC_ENOMEM;
    op->sql = sql;
    op->cb = cb;
    op->ud = ud;
    for (op->n = 0; op->n < n && op->n < MAX_PARAMS; op->n++)
        if (vals[op->n] && !(op->vals[op->n] = strdup(vals[op->n]))) {
            op_free(op);
            return IOC_ENOMEM;
        }
    if (s->qtail)
        s->qtail->next = op;
    else
        s->qhead = op;
    s->qtail = op;
    s->qlen++;
    run_next(s);
    return IOC_OK;
}

static void on_timer(uv_timer_t *t)
{
    auth_store_t *s = t->data;

    if (s->closing)
        return;
    if (!s->conn)
        auth_db_connect(s);
    else if (s->up && !s->ready && !s->loading)
        auth_store_load(s);
}

void auth_db_retry(auth_store_t *s, uint64_t ms)
{
    if (!s->closing)
        uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void retry_later(auth_store_t *s)
{
    uv_timer_start(&s->timer, on_timer, s->backoff_ms, 0);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void on_connected(void *ud)
{
    auth_store_t *s = ud;

    s->up = true;
    s->backoff_ms = BACKOFF_MIN_MS;
    log_info("auth", "event=db_up");
    if (!s->ready)
        auth_store_load(s);
    run_next(s);
}

static void on_broken(void *ud, const char *msg)
{
    auth_store_t *s = ud;
    auth_dbop_t *op = s->inflight;

    log_warn("auth", "event=db_down error=\"%s\"", msg);
    pg_conn_free(s->conn);
    s->conn = NULL;
    s->up = false;
    /* The command in flight may or may not have run: retry it first (log-ins and audit records
     * are worth a rare duplicate; changes of people and tokens were answered with 503 if
     * refused). */
    if (op) {
        s->inflight = NULL;
        op->next = s->qhead;
        s->qhead = op;
        if (!s->qtail)
            s->qtail = op;
        s->qlen++;
    }
    if (!s->closing)
        retry_later(s);
}

void auth_db_connect(auth_store_t *s)
{
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    char err[256];

    if (pg_conn_start(s->loop, s->dsn, &cbs, s, &s->conn, err, sizeof err)) {
        s->conn = NULL;
        log_warn("auth", "event=db_connect_failed error=\"%s\"", err);
        retry_later(s);
    }
}

void auth_db_shutdown(auth_store_t *s)
{
    auth_dbop_t *op, *next;

    s->up = false;
    if (s->conn)
        pg_conn_free(s->conn);
    s->conn = NULL;
    if (s->inflight) {
        s->inflight->next = s->qhead;
        s->qhead = s->inflight;
        s->inflight = NULL;
    }
    for (op = s->qhead; op; op = next) {
        next = op->next;
        op->cb(op->ud, IOC_ECLOSED, NULL);
        op_free(op);
    }
    s->qhead = s->qtail = NULL;
    s->qlen = 0;
}
