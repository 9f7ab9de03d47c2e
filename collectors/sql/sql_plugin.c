/* The sql collector's exported descriptor: each interval one query, each row one sample. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

#define COMPLAIN_EVERY_US (60LL * 1000000)

/* What a rate-limited complaint is about: each kind has its own minute. */
enum { K_CONN, K_QUERY, K_ROWS, K_COUNT };

typedef struct sql_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    sql_config_t cfg;
    char setup[256];          /* session settings sent once per connection */
    sql_conn_t *conn;         /* NULL while down */
    bool resolving;           /* the host name is being looked up on the threadpool */
    unsigned resolve_gen;     /* a look-up whose generation differs was abandoned */
    bool up;                  /* connected and set up */
    bool collecting;          /* a collect waits for collect_done */
    bool stopping;
    uv_timer_t deadline;      /* connect + query of one collection, or a lone connect */
    int open;                 /* handles and connections not yet closed */
    int64_t last_attempt_us;  /* start of the last connection attempt */
    void (*closed)(ioc_host_t *host);
    /* the query in flight */
    bool resolved;            /* columns looked up in the first result */
    int col_metric, col_value, col_time, col_tags[SQL_MAX_TAGS];
    char col_error[200];      /* a configured column is missing */
    size_t rows, samples, skipped, over, refused;
    char first_skip[200];
    /* rate-limited logging */
    int64_t last_log_us[K_COUNT];
    uint64_t unlogged[K_COUNT];
} sql_instance_t;

/* Logs a problem of one kind: the first at once, then at most once a minute with the number
 * of those not logged in between. */
__attribute__((format(printf, 3, 4)))
static void complain(sql_instance_t *inst, int kind, const char *fmt, ...)
{
    char msg[512];
    int64_t now = inst->svc->now_us(inst->host);
    if (inst->last_log_us[kind] && now - inst->last_log_us[kind] < COMPLAIN_EVERY_US) {
        inst->unlogged[kind]++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    inst->svc->log(inst->host, IOC_LOG_WARN, "%s not_logged=%llu", msg,
                   (unsigned long long)inst->unlogged[kind]);
    inst->last_log_us[kind] = now;
    inst->unlogged[kind] = 0;
}

/* Copies text for a log line: at most 120 bytes; quotes, backslashes, controls become '?'. */
static const char *log_text(char *out, size_t outlen, const char *s)
{
    size_t n = 0;
    for (; s[n] && n + 1 < outlen && n < 120; n++)
        out[n] = (s[n] == '"' || s[n] == '\\' || (unsigned char)s[n] < 0x20) ? '?' : s[n];
    out[n] = '\0';
    return out;
}

static void finish(sql_instance_t *inst, int status)
{
    inst->collecting = false;
    uv_timer_stop(&inst->deadline);
    inst->svc->collect_done(inst->host, status);
}

static void free_instance(sql_instance_t *inst)
{
    void (*closed)(ioc_host_t *) = inst->closed;
    ioc_host_t *host = inst->host;
    sql_config_free(&inst->cfg);
    free(inst);
    closed(host);
}

static void on_closed(void *ud)
{
    sql_instance_t *inst = ud;
    if (--inst->open == 0 && inst->stopping)
        free_instance(inst);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_closed(h->data);
}

/* Drops the connection (if any); the next collection reconnects. */
static void drop(sql_instance_t *inst)
{
    if (!inst->conn)
        return;
    sql_conn_t *c = inst->conn;
    inst->conn = NULL;
    inst->up = false;
    inst->open++;
    sql_conn_close(c, on_closed, inst);
}

static void start_query(sql_instance_t *inst)
{
    inst->resolved = false;
    inst->col_error[0] = inst->first_skip[0] = '\0';
    inst->rows = inst->samples = inst->skipped = inst->over = inst->refused = 0;
    if (sql_conn_query(inst->conn, inst->cfg.query) != IOC_OK) {
        complain(inst, K_CONN, "event=db_error db=\"%s\" detail=\"cannot send the query\"",
                 inst->cfg.where);
        drop(inst);
        finish(inst, IOC_EDB);
    }
}

static void on_connected(void *ud)
{
    sql_instance_t *inst = ud;
    inst->up = true;
    if (inst->last_log_us[K_CONN]) {
        inst->svc->log(inst->host, IOC_LOG_INFO, "event=connected db=\"%s\"", inst->cfg.where);
        inst->last_log_us[K_CONN] = 0;
        inst->unlogged[K_CONN] = 0;
    }
    if (inst->collecting)
        start_query(inst);
    else
        uv_timer_stop(&inst->deadline);
}

static void on_broken(void *ud, const char *why)
{
    sql_instance_t *inst = ud;
    char t[128];
    complain(inst, K_CONN, "event=db_error db=\"%s\" detail=\"%s\"", inst->cfg.where,
             log_text(t, sizeof t, why));
    drop(inst);
    if (inst->collecting)
        finish(inst, IOC_EDB);
    else
        uv_timer_stop(&inst->deadline);
}

/* Finds a configured column by its exact name (PQfnumber would fold case). */
static int column(const PGresult *res, const char *name)
{
    for (int i = 0; i < PQnfields(res); i++)
        if (strcmp(PQfname(res, i), name) == 0)
            return i;
    return -1;
}

/* Looks up every configured column in the result; a missing one is a configuration error. */
static void resolve(sql_instance_t *inst, const PGresult *res)
{
    const sql_config_t *cfg = &inst->cfg;
    const char *missing = NULL;
    inst->resolved = true;
    inst->col_metric = cfg->metric_column ? column(res, cfg->metric_column) : -1;
    inst->col_value = column(res, cfg->value_column);
    inst->col_time = cfg->time_column ? column(res, cfg->time_column) : -1;
    if (cfg->metric_column && inst->col_metric < 0)
        missing = cfg->metric_column;
    else if (inst->col_value < 0)
        missing = cfg->value_column;
    else if (cfg->time_column && inst->col_time < 0)
        missing = cfg->time_column;
    for (size_t i = 0; i < cfg->ntags; i++)
        if ((inst->col_tags[i] = column(res, cfg->tags[i].column)) < 0 && !missing)
            missing = cfg->tags[i].column;
    if (missing)
        snprintf(inst->col_error, sizeof inst->col_error,
                 "column '%.64s' is not in the query's result", missing);
}

/* Notes why a row gave no sample (the first reason of each query is logged). */
__attribute__((format(printf, 2, 3)))
static void skip(sql_instance_t *inst, const char *fmt, ...)
{
    inst->skipped++;
    if (inst->first_skip[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inst->first_skip, sizeof inst->first_skip, fmt, ap);
    va_end(ap);
}

/* Turns row r of res into a sample. */
static void map_row(sql_instance_t *inst, const PGresult *res, int r)
{
    const sql_config_t *cfg = &inst->cfg;
    ioc_tag_t tags[SQL_MAX_TAGS];
    size_t ntags = 0;
    ioc_sample_t s = {.metric = cfg->metric, .tags = tags};
    char t[128];
    size_t rowno = inst->rows;
    if (inst->col_metric >= 0) {
        s.metric = PQgetvalue(res, r, inst->col_metric);
        if (!s.metric[0] || PQgetlength(res, r, inst->col_metric) > SQL_MAX_NAME) {
            skip(inst, "row %zu: metric is NULL, empty or over %d bytes", rowno, SQL_MAX_NAME);
            return;
        }
    }
    if (PQgetisnull(res, r, inst->col_value)) {
        skip(inst, "row %zu: %s is NULL", rowno, cfg->value_column);
        return;
    }
    if (sql_parse_value(PQgetvalue(res, r, inst->col_value), PQftype(res, inst->col_value),
                        &s.value) != IOC_OK) {
        skip(inst, "row %zu: %s '%s' is not a number", rowno, cfg->value_column,
             log_text(t, sizeof t, PQgetvalue(res, r, inst->col_value)));
        return;
    }
    if (inst->col_time >= 0 && !PQgetisnull(res, r, inst->col_time) &&
        sql_parse_time(PQgetvalue(res, r, inst->col_time), PQftype(res, inst->col_time),
                       &s.ts_us) != IOC_OK) {
        skip(inst, "row %zu: %s '%s' is not a time", rowno, cfg->time_column,
             log_text(t, sizeof t, PQgetvalue(res, r, inst->col_time)));
        return;
    }
    for (size_t i = 0; i < cfg->ntags; i++) {
        int col = inst->col_tags[i];
        if (PQgetisnull(res, r, col) || PQgetlength(res, r, col) == 0)
            continue;
        if (PQgetlength(res, r, col) > SQL_MAX_NAME) {
            skip(inst, "row %zu: tag %s is over %d bytes", rowno, cfg->tags[i].key,
                 SQL_MAX_NAME);
            return;
        }
        tags[ntags++] = (ioc_tag_t){.key = cfg->tags[i].key, .value = PQgetvalue(res, r, col)};
    }
    s.ntags = ntags;
    /* The host counts what it refuses (dropped or invalid) and logs it rate-limited. */
    if (inst->svc->emit(inst->host, &s, 1) == IOC_OK)
        inst->samples++;
    else
        inst->refused++;
}

static void on_rows(void *ud, const PGresult *res)
{
    sql_instance_t *inst = ud;
    if (!inst->resolved)
        resolve(inst, res);
    if (inst->col_error[0])
        return;
    for (int r = 0; r < PQntuples(res); r++) {
        inst->rows++;
        if (inst->rows > inst->cfg.max_rows)
            inst->over++;
        else
            map_row(inst, res, r);
    }
}

static void on_done(void *ud, int status, const char *why)
{
    sql_instance_t *inst = ud;
    char t[128];
    if (status != IOC_OK) {
        complain(inst, K_QUERY, "event=query_failed db=\"%s\" detail=\"%s\"", inst->cfg.where,
                 log_text(t, sizeof t, why));
        finish(inst, IOC_EDB);
        return;
    }
    if (!inst->resolved || inst->col_error[0]) {
        complain(inst, K_QUERY, "event=query_unusable db=\"%s\" detail=\"%s\"", inst->cfg.where,
                 inst->resolved ? inst->col_error : "the query returned no rows: not a SELECT?");
        finish(inst, IOC_EINVAL);
        return;
    }
    if (inst->skipped)
        complain(inst, K_ROWS, "event=rows_skipped rows=%zu skipped=%zu first=\"%s\"", inst->rows,
                 inst->skipped, inst->first_skip);
    if (inst->over)
        complain(inst, K_ROWS, "event=rows_over_max rows=%zu max_rows=%zu dropped=%zu",
                 inst->rows, inst->cfg.max_rows, inst->over);
    inst->svc->log(inst->host, IOC_LOG_DEBUG, "event=query_done rows=%zu samples=%zu skipped=%zu "
                   "over_max=%zu refused=%zu", inst->rows, inst->samples, inst->skipped,
                   inst->over, inst->refused);
    finish(inst, IOC_OK);
}

/* The collection (or a lone connection attempt) ran out of time: the connection is dropped,
 * since libpq's cancel request would block. */
static void on_deadline(uv_timer_t *t)
{
    sql_instance_t *inst = t->data;
    complain(inst, inst->up ? K_QUERY : K_CONN, "event=%s db=\"%s\" timeout_ms=%llu",
             inst->up ? "query_timeout" : "connect_timeout", inst->cfg.where,
             (unsigned long long)inst->cfg.timeout_ms);
    inst->resolving = false;
    drop(inst);
    if (inst->collecting)
        finish(inst, IOC_ETIMEDOUT);
}

static void open_conn(sql_instance_t *inst)
{
    char err[256];
    static const sql_conn_cbs_t cbs = {
        .connected = on_connected, .broken = on_broken, .rows = on_rows, .done = on_done};
    if (sql_conn_start(inst->svc->loop(inst->host), inst->cfg.conn_keys, inst->cfg.conn_vals,
                       inst->setup, &cbs, inst, &inst->conn, err, sizeof err) != IOC_OK) {
        inst->conn = NULL;
        on_broken(inst, err);
    }
}

/* One host name look-up on the libuv threadpool (getaddrinfo blocks). */
typedef struct sql_lookup {
    uv_getaddrinfo_t req;
    sql_instance_t *inst;
    unsigned gen;
} sql_lookup_t;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sql_lookup_t *l = req->data;
    sql_instance_t *inst = l->inst;
    char addr[INET6_ADDRSTRLEN] = "", why[160];
    bool current = !inst->stopping && inst->resolving && l->gen == inst->resolve_gen;
    if (status == 0 && res) {
        const void *a = res->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, a, addr, sizeof addr);
    }
    uv_freeaddrinfo(res);
    free(l);
    if (current) {
        inst->resolving = false;
        char *copy = addr[0] ? strdup(addr) : NULL;
        if (!copy) {
            snprintf(why, sizeof why, "cannot look up host %.64s: %s", inst->cfg.resolve,
                     status ? uv_strerror(status) : "no address");
            on_broken(inst, why);
        } else {
            free((char *)inst->cfg.conn_vals[inst->cfg.hostaddr_index]);
            inst->cfg.conn_vals[inst->cfg.hostaddr_index] = copy;
            inst->svc->log(inst->host, IOC_LOG_DEBUG, "event=resolved host=%s addr=%s",
                           inst->cfg.resolve, copy);
            open_conn(inst);
        }
    }
    on_closed(inst);
}

/* Starts a connection attempt (with a look-up first for a host name), under the deadline. */
static void connect_now(sql_instance_t *inst)
{
    char why[160];
    inst->last_attempt_us = inst->svc->now_us(inst->host);
    uv_timer_start(&inst->deadline, on_deadline, inst->cfg.timeout_ms, 0);
    if (!inst->cfg.resolve) {
        open_conn(inst);
        return;
    }
    sql_lookup_t *l = malloc(sizeof *l);
    const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = UV_ENOMEM;
    if (l) {
        l->req.data = l;
        l->inst = inst;
        l->gen = ++inst->resolve_gen;
        rc = uv_getaddrinfo(inst->svc->loop(inst->host), &l->req, on_resolved,
                            inst->cfg.resolve, NULL, &hints);
    }
    if (rc != 0) {
        free(l);
        snprintf(why, sizeof why, "cannot look up host %.64s: %s", inst->cfg.resolve,
                 uv_strerror(rc));
        on_broken(inst, why);
        return;
    }
    inst->resolving = true;
    inst->open++;
}

static void sql_collect(void *state)
{
    sql_instance_t *inst = state;
    if (inst->collecting) {
        inst->svc->collect_done(inst->host, IOC_EAGAIN);
        return;
    }
    inst->collecting = true;
    if (inst->up) {
        uv_timer_start(&inst->deadline, on_deadline, inst->cfg.timeout_ms, 0);
        start_query(inst);
    } else if (inst->conn || inst->resolving) {
        uv_timer_start(&inst->deadline, on_deadline, inst->cfg.timeout_ms, 0);
    } else if (inst->svc->now_us(inst->host) - inst->last_attempt_us >=
               (int64_t)inst->cfg.reconnect_ms * 1000) {
        connect_now(inst);
    } else {
        finish(inst, IOC_EDB);
    }
}

static int sql_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                    char *err, size_t errlen)
{
    int rc;
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), sql needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION,
                 sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    sql_instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    inst->svc = svc;
    inst->host = host;
    rc = sql_config_parse(svc->config(host), svc->name(host), &inst->cfg, err, errlen);
    if (rc != IOC_OK) {
        free(inst);
        return rc;
    }
    /* The server cancels a slow query itself a little before our deadline drops the link. */
    snprintf(inst->setup, sizeof inst->setup,
             "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET default_transaction_read_only = on; "
             "SET statement_timeout = %llu",
             (unsigned long long)(inst->cfg.timeout_ms - inst->cfg.timeout_ms / 10 + 1));
    uv_timer_init(svc->loop(host), &inst->deadline);
    inst->deadline.data = inst;
    inst->open = 1;
    svc->log(host, IOC_LOG_INFO, "db=\"%s\" metric=%s%s tags=%zu timeout_ms=%llu",
             inst->cfg.where, inst->cfg.metric ? "" : "column:",
             inst->cfg.metric ? inst->cfg.metric : inst->cfg.metric_column, inst->cfg.ntags,
             (unsigned long long)inst->cfg.timeout_ms);
    *state_out = inst;
    return IOC_OK;
}

static int sql_start(void *state)
{
    sql_instance_t *inst = state;
    connect_now(inst);
    return IOC_OK;
}

static void sql_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    sql_instance_t *inst = state;
    inst->closed = closed;
    inst->host = host;
    inst->stopping = true;
    inst->collecting = false;
    inst->resolving = false;
    drop(inst);
    uv_close((uv_handle_t *)&inst->deadline, on_timer_closed);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "sql",
    .version = "1.0.0",
    .init = sql_init,
    .start = sql_start,
    .collect = sql_collect,
    .stop = sql_stop,
};
