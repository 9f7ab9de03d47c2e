/* The sql collector's internal interfaces: config, cell parsing, the async libpq connection. */
#ifndef IOCD_SQL_H
#define IOCD_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ioc/collector.h"

#define SQL_MAX_TAGS 64           /* tag columns (ingest's limit) */
#define SQL_MAX_NAME 256          /* bytes in a metric name, tag key or tag value (ingest's) */
#define SQL_MAX_QUERY (64u << 10) /* bytes in the query */
#define SQL_DEFAULT_MAX_ROWS 10000u
#define SQL_MAX_MAX_ROWS 1000000u

/* One tag: its key and the result column it is read from (both borrowed from the config). */
typedef struct sql_tag_col {
    const char *key;
    const char *column;
} sql_tag_col_t;

/* A checked instance configuration. Strings are borrowed from the instance's cJSON config
 * (valid from init until stop) except the connection parameters, which are owned. */
typedef struct sql_config {
    const char **conn_keys;  /* NULL-terminated libpq keywords (owned array and strings) */
    const char **conn_vals;  /* their values, same length (owned) */
    char *where;             /* "host=… port=… dbname=…" for logs, no password (owned) */
    char *resolve;           /* a host name to look up before each connection, or NULL (owned) */
    size_t hostaddr_index;   /* with resolve: the conn_vals slot ("hostaddr") for its address */
    const char *query;
    const char *metric;      /* fixed metric name, or NULL when metric_column is set */
    const char *metric_column;
    const char *value_column;
    const char *time_column; /* NULL: samples are stamped with the time of the query */
    sql_tag_col_t tags[SQL_MAX_TAGS];
    size_t ntags;
    uint64_t timeout_ms;     /* connect + setup + query, less than the host's collect timeout */
    uint64_t reconnect_ms;   /* least time between two connection attempts */
    size_t max_rows;         /* rows read per query; more are counted and dropped */
} sql_config_t;

/* Validates an instance's config entry (host keys plugin/name/interval/timeout/enabled are
 * skipped). name is the instance name (for application_name). A single host name without
 * hostaddr is kept in `resolve`: the plugin looks it up off the loop. Returns IOC_OK, or
 * IOC_EINVAL / IOC_ENOMEM with a message naming the key in err (never quoting the DSN). On
 * success *out owns its connection parameters: free them with sql_config_free. */
int sql_config_parse(const cJSON *obj, const char *name, sql_config_t *out, char *err,
                     size_t errlen);
/* Frees what sql_config_parse allocated (not cfg itself); safe on a zeroed struct. */
void sql_config_free(sql_config_t *cfg);

/* Parses a cell as a sample value: booleans (type bool) give 1/0, anything else must be a
 * finite decimal number (numeric, integer, float, or text holding one). Returns IOC_OK or
 * IOC_EINVAL. */
int sql_parse_value(const char *text, Oid type, double *out);
/* Parses a cell as a sample time in µs since the epoch: a number is seconds since the epoch;
 * otherwise an ISO 8601 date or date-time ("2024-03-12", "2024-03-12 08:30:00.25+07",
 * "2024-03-12T01:30:00Z"); without a zone it is UTC. Returns IOC_OK or IOC_EINVAL. */
int sql_parse_time(const char *text, Oid type, int64_t *us);

/* One non-blocking libpq connection driven by uv_poll on its socket. */
typedef struct sql_conn sql_conn_t;

typedef struct sql_conn_cbs {
    /* The connection is up and its session set up. */
    void (*connected)(void *ud);
    /* Connecting failed or the connection broke (why: libpq's reason, one line). A query in
     * flight ends without `done`. The connection is unusable: close it. */
    void (*broken)(void *ud, const char *why);
    /* A result with rows (single-row mode: one row per call, then a final one with none);
     * res is valid only during the call. */
    void (*rows)(void *ud, const PGresult *res);
    /* The query finished: IOC_OK, or IOC_EDB with the server's message (one line) in why. */
    void (*done)(void *ud, int status, const char *why);
} sql_conn_cbs_t;

/* Starts connecting with the given libpq keywords/values (PQconnectStartParams; the host must
 * be a socket directory or an address, or have a hostaddr, so libpq does not look names up on
 * the loop). setup is sent as one simple-protocol command once connected, before `connected`.
 * Returns IOC_OK and *out (release with sql_conn_close), or IOC_EDB / IOC_ENOMEM with the reason
 * in err; no callback runs then. */
int sql_conn_start(uv_loop_t *loop, const char *const *keys, const char *const *vals,
                   const char *setup, const sql_conn_cbs_t *cbs, void *ud, sql_conn_t **out,
                   char *err, size_t errlen);
/* Sends one statement (extended protocol: a single statement, no parameters) in single-row
 * mode. Only when connected and idle. Returns IOC_OK (rows/done or broken will follow) or
 * IOC_EDB. */
int sql_conn_query(sql_conn_t *c, const char *sql);
/* Closes the connection; no callback but `closed` runs afterwards. Safe inside a callback.
 * closed(ud) runs once its uv handles are closed: from inside this call if none is open, else
 * later on the loop. */
void sql_conn_close(sql_conn_t *c, void (*closed)(void *ud), void *ud);

#endif
