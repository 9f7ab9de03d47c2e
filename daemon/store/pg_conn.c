/* One non-blocking libpq connection on the loop: connect, commands and COPY IN via uv_poll.
 * libpq resolves a host name synchronously, so a DSN naming one host by name is looked up on
 * the threadpool first and connected with the address in hostaddr. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ioc/error.h"
#include "store/pg_conn.h"

#define PG_COPY_CHUNK (64 * 1024)

typedef enum phase {
    PH_CONNECTING, /* PQconnectPoll in progress */
    PH_IDLE,       /* connected, no command */
    PH_FLUSH,      /* command (or COPY end) queued, output not yet all sent */
    PH_RESULTS,    /* waiting for results */
    PH_COPY,       /* server is in COPY IN: streaming data */
} phase_t;

struct pg_conn {
    uv_loop_t *loop;
    PGconn *conn;
    uv_poll_t *poll; /* heap: closed asynchronously and freed in its close callback */
    int poll_fd;
    int events;
    phase_t phase;
    pg_conn_cbs_t cbs;
    void *ud;

    pg_result_cb cb; /* the command in flight */
    void *cb_ud;
    PGresult *kept; /* first error, else last result, of the command in flight */
    bool kept_error;
    const char *copy_data;
    size_t copy_len, copy_off;
    bool copy_pending; /* the command is a COPY IN with data to send */

    PQconninfoOption *opts; /* the parsed DSN while its host name is looked up */
    uv_getaddrinfo_t *lookup; /* heap; the look-up in flight (counts in busy) */

    int busy;    /* depth of callbacks running from pg_conn, plus a look-up in flight */
    bool doomed; /* pg_conn_free ran while busy: free on the way out */
};

static void conn_destroy(pg_conn_t *c)
{
    PQconninfoFree(c->opts);
    free(c);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Server notices (e.g. "relation already exists, skipping") go to the debug log, not stderr. */
static void on_notice(void *arg, const char *msg)
{
    char q[512];
    (void)arg;
    log_debug("store", "event=pg_notice message=%s", log_q(q, sizeof q, msg));
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void detach_poll(pg_conn_t *c)
{
    if (!c->poll)
        return;
    uv_poll_stop(c->poll);
    c->poll->data = NULL;
    uv_close((uv_handle_t *)c->poll, free_handle);
    c->poll = NULL;
    c->events = 0;
}

/* Polls the connection's current socket for events, re-creating the handle if it changed. */
static int watch(pg_conn_t *c, int events)
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

static void clear_command(pg_conn_t *c)
{
    PQclear(c->kept);
    c->kept = NULL;
    c->kept_error = false;
    c->cb = NULL;
    c->copy_pending = false;
}

/* Reports the connection broken (once) and stops watching it. */
static void broken(pg_conn_t *c, const char *why)
{
    /* A copy: libpq's message dies with the PGconn, which the callback may free first. */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why ? why : PQerrorMessage(c->conn));
    detach_poll(c);
    clear_command(c);
    c->phase = PH_IDLE;
    c->busy++;
    c->cbs.on_broken(c->ud, msg);
    c->busy--;
}

static void connect_step(pg_conn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    int rc = IOC_OK;
    switch (st) {
    case PGRES_POLLING_READING:
        rc = watch(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = watch(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->conn, 1) != 0) {
            broken(c, "cannot make the connection non-blocking");
            return;
        }
        c->phase = PH_IDLE;
        rc = watch(c, UV_READABLE);
        if (rc == IOC_OK) {
            c->busy++;
            c->cbs.on_connected(c->ud);
            c->busy--;
            return;
        }
        break;
    default:
        broken(c, NULL);
        return;
    }
    if (rc != IOC_OK)
        broken(c, "cannot poll the connection's socket");
}

/* Keeps the first error result, else the latest result, of the command in flight. */
static void keep_result(pg_conn_t *c, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    bool err = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
    if (c->kept_error) {
        PQclear(res);
        return;
    }
    PQclear(c->kept);
    c->kept = res;
    c->kept_error = err;
}

/* Hands the finished command's result to its callback. */
static void deliver(pg_conn_t *c)
{
    pg_result_cb cb = c->cb;
    void *ud = c->cb_ud;
    PGresult *res = c->kept;
    int status = (c->kept_error || !res) ? IOC_EDB : IOC_OK;
    c->kept = NULL;
    clear_command(c);
    c->phase = PH_IDLE;
    c->busy++;
    cb(ud, status, res);
    c->busy--;
    PQclear(res);
}

/* Streams COPY data; returns 1 when all is sent and the end queued, 0 to wait, -1 if broken. */
static int copy_step(pg_conn_t *c)
{
    while (c->copy_off < c->copy_len) {
        size_t n = c->copy_len - c->copy_off;
        if (n > PG_COPY_CHUNK)
            n = PG_COPY_CHUNK;
        int r = PQputCopyData(c->conn, c->copy_data + c->copy_off, (int)n);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        c->copy_off += n;
    }
    int r = PQputCopyEnd(c->conn, NULL);
    return r < 0 ? -1 : r;
}

/* Advances the command in flight as far as the socket allows, then sets the poll events. */
static void pump(pg_conn_t *c, int events)
{
    if ((events & UV_READABLE) && !PQconsumeInput(c->conn)) {
        broken(c, NULL);
        return;
    }
    for (;;) {
        switch (c->phase) {
        case PH_CONNECTING:
            return;
        case PH_IDLE:
            if (PQstatus(c->conn) == CONNECTION_BAD) {
                broken(c, NULL);
                return;
            }
            for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
                PQfreemem(n);
            if (watch(c, UV_READABLE))
                broken(c, "cannot poll the connection's socket");
            return;
        case PH_FLUSH: {
            int r = PQflush(c->conn);
            if (r < 0) {
                broken(c, NULL);
                return;
            }
            if (r > 0) {
                if (watch(c, UV_READABLE | UV_WRITABLE))
                    broken(c, "cannot poll the connection's socket");
                return;
            }
            c->phase = PH_RESULTS;
            break;
        }
        case PH_RESULTS:
            while (!PQisBusy(c->conn)) {
                PGresult *res = PQgetResult(c->conn);
                if (!res) {
                    deliver(c);
                    return;
                }
                if (PQresultStatus(res) == PGRES_COPY_IN) {
                    PQclear(res);
                    if (!c->copy_pending) {
                        /* A COPY we did not ask to feed: end it with an error. */
                        PQputCopyEnd(c->conn, "unexpected COPY");
                        c->phase = PH_FLUSH;
                    } else {
                        c->phase = PH_COPY;
                    }
                    break;
                }
                keep_result(c, res);
            }
            if (c->phase != PH_RESULTS)
                break;
            if (PQstatus(c->conn) == CONNECTION_BAD) {
                broken(c, NULL);
                return;
            }
            if (watch(c, UV_READABLE))
                broken(c, "cannot poll the connection's socket");
            return;
        case PH_COPY: {
            int r = copy_step(c);
            if (r < 0) {
                broken(c, NULL);
                return;
            }
            if (r == 0) {
                if (watch(c, UV_READABLE | UV_WRITABLE))
                    broken(c, "cannot poll the connection's socket");
                return;
            }
            c->copy_pending = false;
            c->phase = PH_FLUSH;
            break;
        }
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    pg_conn_t *c = h->data;
    if (!c)
        return;
    c->busy++;
    if (status < 0)
        broken(c, uv_strerror(status));
    else if (c->phase == PH_CONNECTING)
        connect_step(c);
    else
        pump(c, events);
    c->busy--;
    if (c->doomed && c->busy == 0)
        conn_destroy(c);
}

/* Starts libpq's connection; params NULL: the DSN as it is. Returns 0 or IOC_EDB (reason in
 * err), IOC_ENOMEM, IOC_EIO. */
static int connect_begin(pg_conn_t *c, const char *dsn, const char *const *keys,
                         const char *const *vals, char *err, size_t errlen)
{
    c->conn = keys ? PQconnectStartParams(keys, vals, 0) : PQconnectStart(dsn);
    if (!c->conn) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    PQsetNoticeProcessor(c->conn, on_notice, NULL);
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        snprintf(err, errlen, "%s", PQerrorMessage(c->conn));
        return IOC_EDB;
    }
    /* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
    if (watch(c, UV_WRITABLE) != IOC_OK) {
        snprintf(err, errlen, "cannot poll the connection's socket");
        return IOC_EIO;
    }
    return IOC_OK;
}

static const char *opt_val(const PQconninfoOption *o, const char *key)
{
    for (; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

/* The host to look up first: one name (not a socket directory, list or numeric address) given
 * without hostaddr; NULL when libpq will not resolve anything. */
static const char *name_to_resolve(const PQconninfoOption *o)
{
    const char *host = opt_val(o, "host");
    unsigned char addr[16];
    if (!host || opt_val(o, "hostaddr") || host[0] == '/' || host[0] == '@' ||
        strchr(host, ',') || inet_pton(AF_INET, host, addr) == 1 ||
        inet_pton(AF_INET6, host, addr) == 1)
        return NULL;
    return host;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    pg_conn_t *c = req->data;
    char ip[64] = "", err[512];
    free(req);
    c->lookup = NULL;
    if (status == 0 && res)
        uv_ip_name(res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    if (c->doomed) {
        if (--c->busy == 0)
            conn_destroy(c);
        return;
    }
    int rc = IOC_EDB;
    if (!*ip) {
        snprintf(err, sizeof err, "could not translate host name \"%s\" to address: %s",
                 opt_val(c->opts, "host"), uv_strerror(status ? status : UV_EAI_NONAME));
    } else {
        size_t n = 1;
        for (const PQconninfoOption *o = c->opts; o->keyword; o++)
            n++;
        const char **keys = calloc(n + 1, sizeof *keys);
        const char **vals = calloc(n + 1, sizeof *vals);
        size_t k = 0;
        rc = IOC_ENOMEM;
        snprintf(err, sizeof err, "out of memory");
        if (keys && vals) {
            for (const PQconninfoOption *o = c->opts; o->keyword; o++) {
                if (o->val && *o->val) {
                    keys[k] = o->keyword;
                    vals[k++] = o->val;
                }
            }
            keys[k] = "hostaddr";
            vals[k] = ip;
            rc = connect_begin(c, NULL, keys, vals, err, sizeof err);
        }
        free(keys);
        free(vals);
    }
    PQconninfoFree(c->opts);
    c->opts = NULL;
    if (rc != IOC_OK)
        broken(c, err);
    if (--c->busy == 0 && c->doomed)
        conn_destroy(c);
}

int pg_conn_start(uv_loop_t *loop, const char *dsn, const pg_conn_cbs_t *cbs, void *ud,
                  pg_conn_t **out, char *err, size_t errlen)
{
    int rc = IOC_ENOMEM;
    pg_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->loop = loop;
    c->cbs = *cbs;
    c->ud = ud;
    c->phase = PH_CONNECTING;
    c->poll_fd = -1;
    char *msg = NULL;
    c->opts = PQconninfoParse(dsn, &msg);
    if (!c->opts) {
        rc = msg ? IOC_EDB : IOC_ENOMEM;
        snprintf(err, errlen, "%s", msg ? msg : "out of memory");
        PQfreemem(msg);
        goto fail;
    }
    const char *host = name_to_resolve(c->opts);
    if (host) {
        static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        c->lookup = malloc(sizeof *c->lookup);
        if (!c->lookup)
            goto fail;
        c->lookup->data = c;
        if (uv_getaddrinfo(loop, c->lookup, on_resolved, host, NULL, &hints) != 0) {
            free(c->lookup);
            c->lookup = NULL;
            rc = IOC_EIO;
            snprintf(err, errlen, "cannot start looking up \"%s\"", host);
            goto fail;
        }
        c->busy++;
        *out = c;
        return IOC_OK;
    }
    PQconninfoFree(c->opts);
    c->opts = NULL;
    rc = connect_begin(c, dsn, NULL, NULL, err, errlen);
    if (rc != IOC_OK)
        goto fail;
    *out = c;
    return IOC_OK;
fail:
    if (rc == IOC_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (c) {
        detach_poll(c);
        PQfinish(c->conn);
        conn_destroy(c);
    }
    return rc;
}

/* Marks a command started; the writable event flushes it from the loop. */
static int start_command(pg_conn_t *c, pg_result_cb cb, void *ud)
{
    c->cb = cb;
    c->cb_ud = ud;
    c->phase = PH_FLUSH;
    return watch(c, UV_READABLE | UV_WRITABLE) == IOC_OK ? IOC_OK : IOC_EDB;
}

int pg_conn_send(pg_conn_t *c, const char *sql, int nparams, const Oid *types,
                 const char *const *values, const int *lengths, const int *formats,
                 pg_result_cb cb, void *ud)
{
    if (!c->conn || c->phase != PH_IDLE || c->cb || PQstatus(c->conn) != CONNECTION_OK)
        return IOC_EDB;
    int ok = nparams < 0
                 ? PQsendQuery(c->conn, sql)
                 : PQsendQueryParams(c->conn, sql, nparams, types, values, lengths, formats, 0);
    if (!ok)
        return IOC_EDB;
    return start_command(c, cb, ud);
}

int pg_conn_copy_in(pg_conn_t *c, const char *sql, const void *data, size_t len,
                    pg_result_cb cb, void *ud)
{
    if (!c->conn || c->phase != PH_IDLE || c->cb || PQstatus(c->conn) != CONNECTION_OK)
        return IOC_EDB;
    if (!PQsendQueryParams(c->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
        return IOC_EDB;
    c->copy_data = data;
    c->copy_len = len;
    c->copy_off = 0;
    c->copy_pending = true;
    return start_command(c, cb, ud);
}

PGconn *pg_conn_raw(pg_conn_t *c)
{
    return c->conn;
}

void pg_conn_free(pg_conn_t *c)
{
    if (!c || c->doomed)
        return;
    detach_poll(c);
    clear_command(c);
    PQfinish(c->conn);
    c->conn = NULL;
    c->doomed = true;
    if (c->busy == 0)
        conn_destroy(c);
}
