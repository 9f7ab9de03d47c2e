/* One non-blocking libpq connection driven by uv_poll on its socket: connect, query, COPY IN. */
#ifndef IOCD_PG_CONN_H
#define IOCD_PG_CONN_H

#include <stddef.h>

#include <libpq-fe.h>
#include <uv.h>

typedef struct pg_conn pg_conn_t;

typedef struct pg_conn_cbs {
    /* The connection is established (and non-blocking). */
    void (*on_connected)(void *ud);
    /* Connecting failed or the connection broke; msg is libpq's reason. A query in flight is
     * dropped without its callback. The connection is unusable: free it. */
    void (*on_broken)(void *ud, const char *msg);
} pg_conn_cbs_t;

/* Completion of one command: status 0 with the last result, or IOC_EDB with the first error
 * result (read its message with PQresultErrorMessage). res is freed after the callback. */
typedef void (*pg_result_cb)(void *ud, int status, PGresult *res);

/* Starts connecting to dsn on loop (PQconnectStart; never blocks). The callbacks get ud.
 * Returns 0 and *out (free with pg_conn_free), or IOC_EDB / IOC_ENOMEM with the reason in err
 * (e.g. a malformed DSN); no callback runs then. */
int pg_conn_start(uv_loop_t *loop, const char *dsn, const pg_conn_cbs_t *cbs, void *ud,
                  pg_conn_t **out, char *err, size_t errlen);
/* Sends a parameterised command (PQsendQueryParams, text results); with nparams < 0, sends
 * sql through the simple protocol (constant SQL only; may hold several statements). One
 * command at a time. Returns 0 (cb will run unless the connection breaks) or IOC_EDB. */
int pg_conn_send(pg_conn_t *c, const char *sql, int nparams, const Oid *types,
                 const char *const *values, const int *lengths, const int *formats,
                 pg_result_cb cb, void *ud);
/* Runs a COPY ... FROM STDIN and streams len bytes of data (borrowed until cb) into it,
 * waiting for the socket to be writable instead of blocking. Returns 0 or IOC_EDB. */
int pg_conn_copy_in(pg_conn_t *c, const char *sql, const void *data, size_t len,
                    pg_result_cb cb, void *ud);
/* The underlying PGconn (for escaping and status), or NULL once closed. */
PGconn *pg_conn_raw(pg_conn_t *c);
/* Closes the connection; no callback runs afterwards. Safe to call from inside a callback. */
void pg_conn_free(pg_conn_t *c);

#endif
