/* The sql collector's libpq connection: connect, session setup, single-row queries, on uv_poll. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

typedef enum phase {
    PH_CONNECTING, /* PQconnectPoll in progress */
    PH_SETUP,      /* the session setup command is in flight */
    PH_IDLE,       /* connected, no command */
    PH_QUERY,      /* a query is in flight */
    PH_DEAD        /* broken or closed */
} phase_t;

struct sql_conn {
    uv_loop_t *loop;
    PGconn *conn;
    uv_poll_t *poll; /* heap: freed in its close callback */
    int poll_fd, events;
    int closing;     /* poll handles whose close callback has not run yet */
    phase_t phase;
    bool flushing;   /* output of the command in flight not yet all sent */
    sql_conn_cbs_t cbs;
    void *ud;
    char *setup;
    char error[256]; /* first error of the command in flight */
    int busy;        /* depth of callbacks running from here */
    bool doomed;     /* sql_conn_close ran */
    void (*closed)(void *ud);
    void *closed_ud;
};

static void on_poll(uv_poll_t *h, int status, int events);

/* Server notices and libpq's own messages would go to stderr: the callbacks report what
 * matters (errors, a lost connection). */
static void on_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Copies the first line of a libpq message, without quotes or control bytes. */
static void one_line(char *out, size_t outlen, const char *msg)
{
    size_t n = 0;
    if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
        msg += 8;
    for (; msg[n] && msg[n] != '\n' && n + 1 < outlen; n++)
        out[n] = (msg[n] == '"' || (unsigned char)msg[n] < 0x20) ? '\'' : msg[n];
    out[n] = '\0';
}

/* Frees c once it is closed, no callback of ours is running and no handle is closing. */
static void maybe_free(sql_conn_t *c)
{
    if (!c->doomed || c->busy || c->closing)
        return;
    void (*closed)(void *) = c->closed;
    void *ud = c->closed_ud;
    free(c->setup);
    free(c);
    if (closed)
        closed(ud);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_poll_closed(uv_handle_t *h)
{
    sql_conn_t *c = h->data;
    free(h);
    c->closing--;
    maybe_free(c);
}

static void detach_poll(sql_conn_t *c)
{
    if (!c->poll)
        return;
    uv_poll_stop(c->poll);
    c->closing++;
    uv_close((uv_handle_t *)c->poll, on_poll_closed);
    c->poll = NULL;
    c->events = 0;
}

/* Polls the connection's current socket for events, re-creating the handle if it changed. */
static int watch(sql_conn_t *c, int events)
{
    int fd = PQsocket(c->conn);
    if (fd < 0)
        return IOC_EDB;
    if (c->poll && c->poll_fd != fd)
        detach_poll(c);
    if (!c->poll) {
        c->poll = malloc(sizeof *c->poll);
        if (!c->poll)
            return IOC_ENOMEM;
        if (uv_poll_init_socket(c->loop, c->poll, fd) != 0) {
            free(c->poll);
            c->poll = NULL;
            return IOC_EIO;
        }
        c->poll->data = c;
        c->poll_fd = fd;
    }
    if (events == c->events)
        return IOC_OK;
    c->events = events;
    return uv_poll_start(c->poll, events, on_poll) == 0 ? IOC_OK : IOC_EIO;
}

/* Reports the connection broken (once) and stops watching it. */
static void broken(sql_conn_t *c, const char *why)
{
    char line[256];
    if (c->phase == PH_DEAD)
        return;
    one_line(line, sizeof line, why ? why : PQerrorMessage(c->conn));
    if (!line[0])
        snprintf(line, sizeof line, "connection lost");
    c->phase = PH_DEAD;
    detach_poll(c);
    c->busy++;
    c->cbs.broken(c->ud, line);
    c->busy--;
}

/* Starts a command: the writable event flushes it from the loop. */
static int begin(sql_conn_t *c, phase_t phase)
{
    c->phase = phase;
    c->flushing = true;
    c->error[0] = '\0';
    return watch(c, UV_READABLE | UV_WRITABLE);
}

static void connect_step(sql_conn_t *c)
{
    int rc;
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    /* libpq may have closed the socket and opened another (next address, SSL retry) that got
     * the same number: watch it afresh. */
    detach_poll(c);
    switch (st) {
    case PGRES_POLLING_READING:
        rc = watch(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = watch(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->conn, 1) != 0 || !PQsendQuery(c->conn, c->setup)) {
            broken(c, NULL);
            return;
        }
        rc = begin(c, PH_SETUP);
        break;
    default:
        broken(c, NULL);
        return;
    }
    if (rc != IOC_OK)
        broken(c, "cannot poll the connection's socket");
}

/* The command in flight has no more results. */
static void finished(sql_conn_t *c)
{
    phase_t was = c->phase;
    c->phase = PH_IDLE;
    c->busy++;
    if (was == PH_SETUP && c->error[0]) {
        c->busy--;
        broken(c, c->error);
        return;
    }
    if (was == PH_SETUP)
        c->cbs.connected(c->ud);
    else
        c->cbs.done(c->ud, c->error[0] ? IOC_EDB : IOC_OK, c->error);
    c->busy--;
}

/* Takes one result of the command in flight. Returns 0, or -1 if the connection was dropped. */
static int take(sql_conn_t *c, PGresult *res)
{
    switch (PQresultStatus(res)) {
    case PGRES_SINGLE_TUPLE:
    case PGRES_TUPLES_OK:
        if (c->phase == PH_QUERY && !c->error[0] && !c->doomed) {
            c->busy++;
            c->cbs.rows(c->ud, res);
            c->busy--;
        }
        break;
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
        break;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        PQclear(res);
        broken(c, "the query started a COPY, which the sql collector does not read");
        return -1;
    default:
        if (!c->error[0])
            one_line(c->error, sizeof c->error, PQresultErrorMessage(res));
        if (!c->error[0])
            snprintf(c->error, sizeof c->error, "%s", PQresStatus(PQresultStatus(res)));
        break;
    }
    PQclear(res);
    return 0;
}

/* Advances the command in flight as far as the socket allows, then sets the poll events. */
static void pump(sql_conn_t *c, int events)
{
    if ((events & UV_READABLE) && !PQconsumeInput(c->conn)) {
        broken(c, NULL);
        return;
    }
    if (c->phase == PH_IDLE) {
        for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
            PQfreemem(n);
        if (PQstatus(c->conn) == CONNECTION_BAD)
            broken(c, NULL);
        return;
    }
    if (c->flushing) {
        int r = PQflush(c->conn);
        if (r < 0) {
            broken(c, NULL);
            return;
        }
        if (r > 0)
            return;
        c->flushing = false;
        if (watch(c, UV_READABLE) != IOC_OK) {
            broken(c, "cannot poll the connection's socket");
            return;
        }
    }
    while (!c->doomed && c->phase != PH_DEAD && !PQisBusy(c->conn)) {
        PGresult *res = PQgetResult(c->conn);
        if (!res) {
            finished(c);
            return;
        }
        if (take(c, res) != 0)
            return;
    }
    if (!c->doomed && PQstatus(c->conn) == CONNECTION_BAD)
        broken(c, NULL);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sql_conn_t *c = h->data;
    if (c->doomed || c->phase == PH_DEAD)
        return;
    c->busy++;
    /* libuv reports POLLERR (e.g. a refused connect) as UV_EBADF and stops the handle: let
     * libpq find the socket's error, so the message says what happened. */
    if (status < 0)
        c->events = 0;
    if (c->phase == PH_CONNECTING)
        connect_step(c);
    else
        pump(c, status < 0 ? UV_READABLE : events);
    c->busy--;
    maybe_free(c);
}

int sql_conn_start(uv_loop_t *loop, const char *const *keys, const char *const *vals,
                   const char *setup, const sql_conn_cbs_t *cbs, void *ud, sql_conn_t **out,
                   char *err, size_t errlen)
{
    int rc = IOC_ENOMEM;
    sql_conn_t *c = calloc(1, sizeof *c);
    if (!c || !(c->setup = strdup(setup)))
        goto fail;
    c->loop = loop;
    c->cbs = *cbs;
    c->ud = ud;
    c->poll_fd = -1;
    c->phase = PH_CONNECTING;
    c->conn = PQconnectStartParams(keys, vals, 0);
    if (!c->conn)
        goto fail;
    PQsetNoticeProcessor(c->conn, on_notice, NULL);
    rc = IOC_EDB;
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        one_line(err, errlen, PQerrorMessage(c->conn));
        goto fail;
    }
    /* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
    if (watch(c, UV_WRITABLE) != IOC_OK) {
        snprintf(err, errlen, "cannot poll the connection's socket");
        goto fail;
    }
    *out = c;
    return IOC_OK;
fail:
    if (rc == IOC_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (c) {
        PQfinish(c->conn);
        c->conn = NULL;
        if (c->poll)
            uv_close((uv_handle_t *)c->poll, free_handle);
        free(c->setup);
        free(c);
    }
    return rc;
}

int sql_conn_query(sql_conn_t *c, const char *sql)
{
    if (c->doomed || c->phase != PH_IDLE || PQstatus(c->conn) != CONNECTION_OK)
        return IOC_EDB;
    if (!PQsendQueryParams(c->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsetSingleRowMode(c->conn))
        return IOC_EDB;
    return begin(c, PH_QUERY) == IOC_OK ? IOC_OK : IOC_EDB;
}

void sql_conn_close(sql_conn_t *c, void (*closed)(void *ud), void *ud)
{
    if (c->doomed)
        return;
    c->doomed = true;
    c->closed = closed;
    c->closed_ud = ud;
    c->phase = PH_DEAD;
    detach_poll(c);
    PQfinish(c->conn);
    c->conn = NULL;
    maybe_free(c);
}
