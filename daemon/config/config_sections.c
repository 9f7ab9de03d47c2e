/* Validation of the top-level object and its sections (all but collectors). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "core/log.h"
#include "ioc/error.h"

#define MS_SECOND 1000ULL
#define MS_MINUTE (60 * MS_SECOND)
#define MS_DAY (24 * 60 * MS_MINUTE)
#define MAX_JSON_INT 9007199254740992ULL /* 2^53: the largest whole number a double holds */

static int oom(cfg_ctx_t *c)
{
    snprintf(c->err, c->errlen, "%s: out of memory", c->name);
    return IOC_ENOMEM;
}

/* Reads "port" (0-65535, digits only) into *port; returns false if it is not one. */
static bool parse_port(const char *s, int *port)
{
    long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
        return false;
    v = strtol(s, NULL, 10);
    if (v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* http.listen: "a.b.c.d:port", "[v6]:port" or ":port" (all IPv4 interfaces). */
static int check_listen(cfg_ctx_t *c, const cJSON *v)
{
    char host[64];
    const char *s, *port_s;
    unsigned char addr[16];
    int port;
    bool v6;
    if (!cJSON_IsString(v))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected a string \"host:port\"");
    s = v->valuestring;
    v6 = s[0] == '[';
    if (v6) {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
            return cfg_fail(c, CFG_AT_VALUE, 0, "expected \"[IPv6 address]:port\"");
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port_s = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return cfg_fail(c, CFG_AT_VALUE, 0,
                            "expected \"host:port\" with an IPv4 address, [IPv6 address] or "
                            "nothing (all interfaces) before the colon");
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (host[0] == '\0')
            strcpy(host, "0.0.0.0");
        port_s = colon + 1;
    }
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
        return cfg_fail(c, CFG_AT_VALUE, 0, "\"%s\" is not an %s address", host,
                        v6 ? "IPv6" : "IPv4");
    if (!parse_port(port_s, &port))
        return cfg_fail(c, CFG_AT_VALUE, 0, "the port must be a number from 0 to 65535");
    char *copy = strdup(host);
    if (!copy)
        return oom(c);
    free(c->cfg->http_host);
    c->cfg->http_host = copy;
    c->cfg->http_port = port;
    return 0;
}

static int check_tls(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"cert", "key", "redirect_http", NULL};
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_require(c, obj, "cert");
    if (!rc)
        rc = cfg_require(c, obj, "key");
    if (!rc)
        rc = cfg_get_string(c, obj, "cert", &c->cfg->tls_cert);
    if (!rc)
        rc = cfg_get_string(c, obj, "key", &c->cfg->tls_key);
    if (!rc)
        rc = cfg_get_bool(c, obj, "redirect_http", &c->cfg->tls_redirect_http);
    return rc;
}

/* One CSP source of http.frame_ancestors: 'self' or an http(s) origin. */
static bool frame_source_ok(const char *p, size_t n)
{
    if (n == 6 && !strncmp(p, "'self'", 6))
        return true;
    if (!(n > 8 && !strncmp(p, "https://", 8)) && !(n > 7 && !strncmp(p, "http://", 7)))
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] >= 127 || strchr(";,'\"", p[i]))
            return false;
    return true;
}

/* http.frame_ancestors: who may frame the dashboards, e.g. "https://portal.example.gov.vn". */
static int check_frame_ancestors(cfg_ctx_t *c, const cJSON *obj)
{
    char *v = NULL;
    int rc = cfg_get_string(c, obj, "frame_ancestors", &v);
    bool ok = v && *v && strlen(v) <= 400;

    for (const char *p = v; ok && *p; p += strspn(p, " ")) {
        size_t n = strcspn(p, " ");
        ok = frame_source_ok(p, n);
        p += n;
    }
    if (!rc && v && !ok) {
        cfg_push_key(c, "frame_ancestors");
        rc = cfg_fail(c, CFG_AT_VALUE, 0,
                      "expected at most 400 bytes of origins separated by spaces, e.g. "
                      "\"https://portal.example.gov.vn\" or \"'self'\"");
        cfg_pop(c);
    }
    if (!rc)
        c->cfg->frame_ancestors = v;
    else
        free(v);
    return rc;
}

static int check_http(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"listen", "tls", "dashboards", "frame_ancestors", NULL};
    const cJSON *v;
    int rc = cfg_check_object(c, obj, keys);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(obj, "listen"))) {
        cfg_push_key(c, "listen");
        rc = check_listen(c, v);
        cfg_pop(c);
    }
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(obj, "tls"))) {
        cfg_push_key(c, "tls");
        rc = check_tls(c, v);
        cfg_pop(c);
    }
    if (!rc)
        rc = cfg_get_string(c, obj, "dashboards", &c->cfg->dashboards_dir);
    if (!rc)
        rc = check_frame_ancestors(c, obj);
    return rc;
}

static int check_database(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"dsn", NULL};
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_get_string(c, obj, "dsn", &c->cfg->db_dsn);
    return rc;
}

/* Reads obj.key, if present, into *out; it must name a role. */
static int check_role(cfg_ctx_t *c, const cJSON *obj, const char *key, char **out)
{
    int rc = cfg_get_string(c, obj, key, out);
    if (!rc && *out && !cfg_role_valid(*out)) {
        cfg_push_key(c, key);
        rc = cfg_fail(c, CFG_AT_VALUE, 0,
                      "unknown role (use viewer, operator, analyst, admin or writer)");
        cfg_pop(c);
    }
    return rc;
}

/* Decodes 64 hex digits into 32 bytes; returns false for anything else. */
static bool parse_sha256(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        unsigned int b;
        sscanf(hex + 2 * i, "%2x", &b);
        out[i] = (uint8_t)b;
    }
    return true;
}

static int check_token(cfg_ctx_t *c, const cJSON *obj, config_token_t *t, size_t idx)
{
    static const char *const keys[] = {"name", "role", "sha256", NULL};
    char *hex = NULL;
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_require(c, obj, "name");
    if (!rc)
        rc = cfg_require(c, obj, "role");
    if (!rc)
        rc = cfg_require(c, obj, "sha256");
    if (!rc)
        rc = cfg_get_string(c, obj, "name", &t->name);
    for (size_t i = 0; !rc && i < idx; i++) {
        if (strcmp(c->cfg->tokens[i].name, t->name) == 0) {
            cfg_push_key(c, "name");
            rc = cfg_fail(c, CFG_AT_VALUE, 0, "token name \"%s\" is already used by tokens[%zu]",
                          t->name, i);
            cfg_pop(c);
        }
    }
    if (!rc)
        rc = check_role(c, obj, "role", &t->role);
    if (!rc)
        rc = cfg_get_string(c, obj, "sha256", &hex);
    if (!rc && !parse_sha256(hex, t->sha256)) {
        cfg_push_key(c, "sha256");
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "expected 64 hex digits (the SHA-256 of the token)");
        cfg_pop(c);
    }
    free(hex);
    return rc;
}

static int check_tokens(cfg_ctx_t *c, const cJSON *arr)
{
    const cJSON *it;
    int rc = 0;
    size_t n;
    if (!cJSON_IsArray(arr))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected an array");
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > CFG_MAX_ENTRIES)
        return cfg_fail(c, CFG_AT_VALUE, 0, "too many tokens (at most %d)", CFG_MAX_ENTRIES);
    if (n == 0)
        return 0;
    c->cfg->tokens = calloc(n, sizeof *c->cfg->tokens);
    if (!c->cfg->tokens)
        return oom(c);
    cJSON_ArrayForEach(it, arr) {
        size_t i = c->cfg->ntokens++;
        cfg_push_index(c, i);
        rc = check_token(c, it, &c->cfg->tokens[i], i);
        cfg_pop(c);
        if (rc)
            break;
    }
    return rc;
}

static int check_auth(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"anonymous_role", "tokens", "session_ttl", NULL};
    const cJSON *v;
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = check_role(c, obj, "anonymous_role", &c->cfg->anonymous_role);
    if (!rc)
        rc = cfg_get_duration(c, obj, "session_ttl", 5 * MS_MINUTE, 30 * MS_DAY, false,
                              &c->cfg->session_ttl_ms);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(obj, "tokens"))) {
        cfg_push_key(c, "tokens");
        rc = check_tokens(c, v);
        cfg_pop(c);
    }
    return rc;
}

static int check_retention(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"raw", NULL};
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_get_duration(c, obj, "raw", MS_MINUTE, 100000 * MS_DAY, true,
                              &c->cfg->retention_raw_ms);
    return rc;
}

static int check_ingest(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"batch_max_samples", "batch_max_delay",
                                       "queue_max_batches", "max_series", NULL};
    config_t *cfg = c->cfg;
    uint64_t samples = cfg->batch_max_samples, batches = cfg->queue_max_batches;
    uint64_t series = cfg->max_series;
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_get_uint(c, obj, "batch_max_samples", 1, 1000000, &samples);
    if (!rc)
        rc = cfg_get_duration(c, obj, "batch_max_delay", 1, 60 * MS_SECOND, false,
                              &cfg->batch_max_delay_ms);
    if (!rc)
        rc = cfg_get_uint(c, obj, "queue_max_batches", 1, 4096, &batches);
    if (!rc)
        rc = cfg_get_uint(c, obj, "max_series", 1, 100000000, &series);
    cfg->batch_max_samples = (uint32_t)samples;
    cfg->queue_max_batches = (uint32_t)batches;
    cfg->max_series = (uint32_t)series;
    return rc;
}

static int check_spool(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"max_bytes", NULL};
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_get_size(c, obj, "max_bytes", 65536, MAX_JSON_INT, &c->cfg->spool_max_bytes);
    return rc;
}

static int check_log(cfg_ctx_t *c, const cJSON *obj)
{
    static const char *const keys[] = {"level", NULL};
    int rc = cfg_check_object(c, obj, keys);
    if (!rc)
        rc = cfg_get_string(c, obj, "level", &c->cfg->log_level);
    if (!rc && log_level_parse(c->cfg->log_level) < 0) {
        cfg_push_key(c, "level");
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "unknown level (use error, warn, info or debug)");
        cfg_pop(c);
    }
    return rc;
}

/* indicators, alerts, reports: arrays that later modules validate; kept as they are. */
static int check_later(cfg_ctx_t *c, const cJSON *v)
{
    if (!cJSON_IsArray(v))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected an array");
    return 0;
}

typedef int (*section_fn)(cfg_ctx_t *c, const cJSON *v);

typedef struct section {
    const char *key;
    section_fn check; /* NULL: a string kept in the field at `offset` */
    size_t offset;
} section_t;

static const section_t sections[] = {
    {"state_dir", NULL, offsetof(config_t, state_dir)},
    {"database", check_database, 0},
    {"http", check_http, 0},
    {"auth", check_auth, 0},
    {"collectors", cfg_check_collectors, 0},
    {"indicators", check_later, 0},
    {"alerts", check_later, 0},
    {"reports", check_later, 0},
    {"retention", check_retention, 0},
    {"ingest", check_ingest, 0},
    {"spool", check_spool, 0},
    {"log", check_log, 0},
    {"plugin_dir", NULL, offsetof(config_t, plugin_dir)},
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

int cfg_check_root(cfg_ctx_t *c, const cJSON *root)
{
    const char *keys[NSECTIONS + 1];
    int rc;
    for (size_t i = 0; i < NSECTIONS; i++)
        keys[i] = sections[i].key;
    keys[NSECTIONS] = NULL;
    rc = cfg_check_object(c, root, keys);
    for (size_t i = 0; !rc && i < NSECTIONS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, sections[i].key);
        if (!v)
            continue;
        if (!sections[i].check) {
            rc = cfg_get_string(c, root, sections[i].key,
                                (char **)((char *)c->cfg + sections[i].offset));
            continue;
        }
        cfg_push_key(c, sections[i].key);
        rc = sections[i].check(c, v);
        cfg_pop(c);
    }
    if (!rc) {
        c->cfg->indicators = cJSON_GetObjectItemCaseSensitive(root, "indicators");
        c->cfg->alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
        c->cfg->reports = cJSON_GetObjectItemCaseSensitive(root, "reports");
    }
    return rc;
}
