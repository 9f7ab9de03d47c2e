/* Validation of an sql instance's configuration (its entry in `collectors`). */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "../common/plugin_config.h"

#define DEFAULT_INTERVAL_MS 10000ULL
#define HOST_TIMEOUT_CAP_MS 60000ULL
#define DEFAULT_RECONNECT_MS 10000ULL
#define MIN_RECONNECT_MS 100ULL
#define MAX_RECONNECT_MS 3600000ULL
#define MAX_CONN_PARAMS 64

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};
static const char *const own_keys[] = {"dsn", "query", "metric", "metric_column", "value",
                                       "time", "tags", "max_rows", "reconnect"};



/* A non-empty string of at most max bytes at obj.key, or NULL in *out when absent. */
static int get_string(const cJSON *obj, const char *key, size_t max, const char **out, char *err,
                      size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it)
        return IOC_OK;
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > max) {
        snprintf(err, errlen, "%s: must be a non-empty string of at most %zu bytes", key, max);
        return IOC_EINVAL;
    }
    *out = it->valuestring;
    return IOC_OK;
}

/* The query timeout: 90% of the host's collect timeout, so that the query fails first and says
 * why. The host's default timeout is the interval, at most 60 s. */
static int query_timeout(const cJSON *obj, uint64_t *ms, char *err, size_t errlen)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(obj, "interval");
    uint64_t host_ms = DEFAULT_INTERVAL_MS;
    if (cJSON_IsString(iv) && plugin_parse_duration(iv->valuestring, &host_ms) != 0)
        host_ms = DEFAULT_INTERVAL_MS;
    if (host_ms > HOST_TIMEOUT_CAP_MS)
        host_ms = HOST_TIMEOUT_CAP_MS;
    if (t && (!cJSON_IsString(t) || plugin_parse_duration(t->valuestring, &host_ms) != 0)) {
        snprintf(err, errlen, "timeout: must be a duration such as \"10s\"");
        return IOC_EINVAL;
    }
    *ms = host_ms - host_ms / 10;
    if (*ms == 0)
        *ms = 1;
    return IOC_OK;
}

static int parse_tags(const cJSON *tags, sql_config_t *cfg, char *err, size_t errlen)
{
    if (!cJSON_IsArray(tags) && !cJSON_IsObject(tags)) {
        snprintf(err, errlen, "tags: must be an array of column names or an object "
                 "{\"tag\": \"column\"}");
        return IOC_EINVAL;
    }
    for (const cJSON *t = tags->child; t; t = t->next) {
        size_t i = cfg->ntags;
        const char *key = cJSON_IsArray(tags) ? t->valuestring : t->string;
        if (i == SQL_MAX_TAGS) {
            snprintf(err, errlen, "tags: at most %d tags", SQL_MAX_TAGS);
            return IOC_EINVAL;
        }
        if (!cJSON_IsString(t) || !t->valuestring[0] || !key[0] || strlen(key) > SQL_MAX_NAME) {
            if (cJSON_IsArray(tags))
                snprintf(err, errlen, "tags[%zu]: must be a non-empty column name of at most "
                         "%d bytes", i, SQL_MAX_NAME);
            else
                snprintf(err, errlen, "tags.%.64s: must be a non-empty column name, the tag "
                         "name at most %d bytes", t->string, SQL_MAX_NAME);
            return IOC_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->tags[j].key, key) == 0) {
                snprintf(err, errlen, "tags: tag \"%.64s\" is given twice", key);
                return IOC_EINVAL;
            }
        }
        cfg->tags[i].key = key;
        cfg->tags[i].column = t->valuestring;
        cfg->ntags++;
    }
    return IOC_OK;
}

/* True for a host that libpq would look up by name (blocking): not a socket directory, not an
 * abstract socket, not a numeric address. */
static bool is_host_name(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return h[0] && h[0] != '/' && h[0] != '@' && inet_pton(AF_INET, h, buf) != 1 &&
           inet_pton(AF_INET6, h, buf) != 1;
}

/* Appends one keyword/value pair (copied). Returns IOC_OK, IOC_ETOOBIG or IOC_ENOMEM. */
static int add_param(sql_config_t *cfg, size_t *n, const char *key, const char *val)
{
    if (*n + 1 >= MAX_CONN_PARAMS)
        return IOC_ETOOBIG;
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) {
        free(k);
        free(v);
        return IOC_ENOMEM;
    }
    cfg->conn_keys[*n] = k;
    cfg->conn_vals[*n] = v;
    (*n)++;
    return IOC_OK;
}

/* Splits the DSN into libpq keywords and values, adds client_encoding and the application
 * name, and builds the log description. libpq's own message is not quoted: it may echo part of
 * the DSN, password included. */
static int parse_dsn(const char *dsn, const char *name, sql_config_t *cfg, char *err,
                     size_t errlen)
{
    char *msg = NULL, app[96];
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL, *user = NULL;
    size_t n = 0;
    int rc = IOC_ENOMEM;
    PQconninfoOption *opts = PQconninfoParse(dsn, &msg);
    if (!opts) {
        rc = IOC_EINVAL;
        snprintf(err, errlen, "dsn: not a libpq connection string (\"host=… dbname=…\") or "
                 "URI (\"postgresql://…\")");
        goto out;
    }
    cfg->conn_keys = calloc(MAX_CONN_PARAMS, sizeof *cfg->conn_keys);
    cfg->conn_vals = calloc(MAX_CONN_PARAMS, sizeof *cfg->conn_vals);
    if (!cfg->conn_keys || !cfg->conn_vals)
        goto out;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0] || strcmp(o->keyword, "client_encoding") == 0)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        if ((rc = add_param(cfg, &n, o->keyword, o->val)) != IOC_OK)
            goto out;
    }
    snprintf(app, sizeof app, "iocd-sql-%s", name);
    if ((rc = add_param(cfg, &n, "client_encoding", "UTF8")) != IOC_OK ||
        (rc = add_param(cfg, &n, "fallback_application_name", app)) != IOC_OK)
        goto out;
    if (host && strchr(host, ',') && !hostaddr) {
        rc = IOC_EINVAL;
        snprintf(err, errlen, "dsn: a list of hosts needs hostaddr (numeric addresses): iocd "
                 "looks up one host name off the loop, not a list");
        goto out;
    }
    if (host && is_host_name(host) && !hostaddr) {
        /* Looked up off the loop before each connection; the address goes into hostaddr. */
        if ((rc = add_param(cfg, &n, "hostaddr", "")) != IOC_OK ||
            !(cfg->resolve = strdup(host))) {
            rc = rc ? rc : IOC_ENOMEM;
            goto out;
        }
        cfg->hostaddr_index = n - 1;
    }
    if (asprintf(&cfg->where, "host=%s port=%s dbname=%s user=%s",
                 host ? host : hostaddr ? hostaddr : "(default)", port ? port : "(default)",
                 db ? db : "(default)", user ? user : "(default)") < 0) {
        cfg->where = NULL;
        rc = IOC_ENOMEM;
        goto out;
    }
    rc = IOC_OK;
out:
    if (rc == IOC_ENOMEM)
        snprintf(err, errlen, "dsn: out of memory");
    if (rc == IOC_ETOOBIG) {
        rc = IOC_EINVAL;
        snprintf(err, errlen, "dsn: more than %d parameters", MAX_CONN_PARAMS - 3);
    }
    PQfreemem(msg);
    PQconninfoFree(opts);
    return rc;
}

static int parse_max_rows(const cJSON *obj, sql_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "max_rows");
    cfg->max_rows = SQL_DEFAULT_MAX_ROWS;
    if (!it)
        return IOC_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < 1 || it->valuedouble > SQL_MAX_MAX_ROWS) {
        snprintf(err, errlen, "max_rows: must be an integer from 1 to %u", SQL_MAX_MAX_ROWS);
        return IOC_EINVAL;
    }
    cfg->max_rows = (size_t)it->valuedouble;
    return IOC_OK;
}

static int parse_reconnect(const cJSON *obj, sql_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "reconnect");
    cfg->reconnect_ms = DEFAULT_RECONNECT_MS;
    if (it && (!cJSON_IsString(it) || plugin_parse_duration(it->valuestring, &cfg->reconnect_ms) != 0 ||
               cfg->reconnect_ms < MIN_RECONNECT_MS || cfg->reconnect_ms > MAX_RECONNECT_MS)) {
        snprintf(err, errlen, "reconnect: must be a duration from \"100ms\" to \"1h\"");
        return IOC_EINVAL;
    }
    return IOC_OK;
}

int sql_config_parse(const cJSON *obj, const char *name, sql_config_t *out, char *err,
                     size_t errlen)
{
    const char *dsn;
    const cJSON *tags;
    int rc;
    memset(out, 0, sizeof *out);
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!plugin_in_list(it->string, host_keys, NELEM(host_keys)) &&
            !plugin_in_list(it->string, own_keys, NELEM(own_keys))) {
            snprintf(err, errlen, "unknown key \"%.64s\" (known: dsn, query, metric, "
                     "metric_column, value, time, tags, max_rows, reconnect)", it->string);
            return IOC_EINVAL;
        }
    }
    if ((rc = get_string(obj, "dsn", 4096, &dsn, err, errlen)) != IOC_OK ||
        (rc = get_string(obj, "query", SQL_MAX_QUERY, &out->query, err, errlen)) != IOC_OK ||
        (rc = get_string(obj, "metric", SQL_MAX_NAME, &out->metric, err, errlen)) != IOC_OK ||
        (rc = get_string(obj, "metric_column", SQL_MAX_NAME, &out->metric_column, err,
                         errlen)) != IOC_OK ||
        (rc = get_string(obj, "value", SQL_MAX_NAME, &out->value_column, err, errlen)) != IOC_OK ||
        (rc = get_string(obj, "time", SQL_MAX_NAME, &out->time_column, err, errlen)) != IOC_OK ||
        (rc = parse_max_rows(obj, out, err, errlen)) != IOC_OK ||
        (rc = parse_reconnect(obj, out, err, errlen)) != IOC_OK ||
        (rc = query_timeout(obj, &out->timeout_ms, err, errlen)) != IOC_OK)
        goto fail;
    rc = IOC_EINVAL;
    if (!dsn) {
        snprintf(err, errlen, "dsn: required (a libpq connection string or URI)");
        goto fail;
    }
    if (!out->query) {
        snprintf(err, errlen, "query: required (one SELECT statement)");
        goto fail;
    }
    if (!out->metric == !out->metric_column) {
        snprintf(err, errlen, "metric: give either \"metric\" (a fixed name) or "
                 "\"metric_column\" (the column holding it)");
        goto fail;
    }
    if (!out->value_column)
        out->value_column = "value";
    if ((tags = cJSON_GetObjectItemCaseSensitive(obj, "tags")) &&
        (rc = parse_tags(tags, out, err, errlen)) != IOC_OK)
        goto fail;
    if ((rc = parse_dsn(dsn, name, out, err, errlen)) != IOC_OK)
        goto fail;
    return IOC_OK;
fail:
    sql_config_free(out);
    return rc;
}

void sql_config_free(sql_config_t *cfg)
{
    for (size_t i = 0; cfg->conn_keys && cfg->conn_keys[i]; i++) {
        free((char *)cfg->conn_keys[i]);
        free((char *)cfg->conn_vals[i]);
    }
    free(cfg->conn_keys);
    free(cfg->conn_vals);
    free(cfg->where);
    free(cfg->resolve);
    memset(cfg, 0, sizeof *cfg);
}
