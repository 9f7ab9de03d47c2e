/* Validation of an mqtt instance's configuration (its entry in `collectors`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

#define MAX_STR 1024
#define MAX_PAYLOAD_CAP (16u << 20)

/* Keys the host reads itself. */
static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};

static int is_host_key(const char *key)
{
    for (size_t i = 0; i < sizeof host_keys / sizeof host_keys[0]; i++)
        if (strcmp(key, host_keys[i]) == 0)
            return 1;
    return 0;
}

static int fail(char *err, size_t errlen, const char *where, const char *msg)
{
    snprintf(err, errlen, "%s: %s", where, msg);
    return IOC_EINVAL;
}

/* Copies a non-empty string item of at most MAX_STR bytes into *out (owned). */
static int get_string(const cJSON *it, const char *where, char **out, char *err, size_t errlen)
{
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > MAX_STR) {
        snprintf(err, errlen, "%s: must be a non-empty string of at most %d bytes", where, MAX_STR);
        return IOC_EINVAL;
    }
    free(*out);
    *out = strdup(it->valuestring);
    if (!*out) {
        snprintf(err, errlen, "%s: out of memory", where);
        return IOC_ENOMEM;
    }
    return IOC_OK;
}

/* Parses a duration string like "500ms", "10s", "5m", "1h" within [min_ms, max_ms]. */
static int get_duration(const cJSON *it, const char *where, uint64_t min_ms, uint64_t max_ms,
                        uint64_t *out, char *err, size_t errlen)
{
    static const struct { const char *suffix; uint64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    if (cJSON_IsString(it) && it->valuestring[0] >= '0' && it->valuestring[0] <= '9') {
        unsigned long long n = strtoull(it->valuestring, &end, 10);
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(end, units[i].suffix) == 0 && n <= max_ms / units[i].ms &&
                n * units[i].ms >= min_ms) {
                *out = n * units[i].ms;
                return IOC_OK;
            }
        }
    }
    snprintf(err, errlen, "%s: must be a duration such as \"10s\" from %llums to %llums", where,
             (unsigned long long)min_ms, (unsigned long long)max_ms);
    return IOC_EINVAL;
}

static int get_bool(const cJSON *it, const char *where, bool *out, char *err, size_t errlen)
{
    if (!cJSON_IsBool(it))
        return fail(err, errlen, where, "must be true or false");
    *out = cJSON_IsTrue(it);
    return IOC_OK;
}

/* Splits "mqtt://host:port" or "mqtts://[v6]:port" into cfg. */
static int parse_url(const char *url, mqtt_config_t *cfg, char *err, size_t errlen)
{
    const char *s;
    if (strncmp(url, "mqtt://", 7) == 0) {
        s = url + 7;
        cfg->port = 1883;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        s = url + 8;
        cfg->tls = true;
        cfg->port = 8883;
    } else {
        return fail(err, errlen, "url", "must start with mqtt:// or mqtts://");
    }
    size_t rest = strcspn(s, "/");
    if (s[rest] == '/' && s[rest + 1] != '\0')
        return fail(err, errlen, "url", "must not have a path (topics go in subscribe)");
    if (memchr(s, '@', rest))
        return fail(err, errlen, "url", "must not carry credentials: use username and password");
    const char *host = s, *hend, *port = NULL;
    if (*s == '[') {
        host = s + 1;
        hend = memchr(host, ']', rest);
        if (!hend)
            return fail(err, errlen, "url", "unterminated [IPv6] address");
        if (hend + 1 < s + rest) {
            if (hend[1] != ':')
                return fail(err, errlen, "url", "expected :port after ]");
            port = hend + 2;
        }
    } else {
        hend = memchr(s, ':', rest);
        if (hend)
            port = hend + 1;
        else
            hend = s + rest;
    }
    if (hend == host)
        return fail(err, errlen, "url", "has no host");
    if (port) {
        size_t plen = (size_t)(s + rest - port);
        char pbuf[8];
        if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen)
            return fail(err, errlen, "url", "port must be a number from 1 to 65535");
        memcpy(pbuf, port, plen);
        pbuf[plen] = '\0';
        cfg->port = atoi(pbuf);
        if (cfg->port < 1 || cfg->port > 65535)
            return fail(err, errlen, "url", "port must be a number from 1 to 65535");
    }
    cfg->host = strndup(host, (size_t)(hend - host));
    if (!cfg->host)
        return fail(err, errlen, "url", "out of memory");
    return IOC_OK;
}

static int parse_tls(const cJSON *obj, mqtt_config_t *cfg, char *err, size_t errlen)
{
    char where[64];
    int rc = IOC_OK;
    if (!cJSON_IsObject(obj))
        return fail(err, errlen, "tls", "must be an object");
    for (const cJSON *it = obj->child; it && rc == IOC_OK; it = it->next) {
        snprintf(where, sizeof where, "tls.%.40s", it->string);
        if (strcmp(it->string, "ca_file") == 0)
            rc = get_string(it, where, &cfg->ca_file, err, errlen);
        else if (strcmp(it->string, "ca_path") == 0)
            rc = get_string(it, where, &cfg->ca_path, err, errlen);
        else if (strcmp(it->string, "cert_file") == 0)
            rc = get_string(it, where, &cfg->cert_file, err, errlen);
        else if (strcmp(it->string, "key_file") == 0)
            rc = get_string(it, where, &cfg->key_file, err, errlen);
        else if (strcmp(it->string, "verify") == 0)
            rc = get_bool(it, where, &cfg->tls_verify, err, errlen);
        else
            rc = fail(err, errlen, where, "unknown key (known: ca_file, ca_path, cert_file, "
                      "key_file, verify)");
    }
    if (rc == IOC_OK && !cfg->cert_file != !cfg->key_file)
        rc = fail(err, errlen, "tls", "cert_file and key_file go together");
    if (rc == IOC_OK && cfg->cert_file && !cfg->ca_file && !cfg->ca_path)
        rc = fail(err, errlen, "tls", "a client certificate needs ca_file or ca_path");
    return rc;
}

static int parse_tags(const cJSON *obj, const char *where, mqtt_sub_t *sub, char *err,
                      size_t errlen)
{
    char w[160];
    if (!cJSON_IsObject(obj))
        return fail(err, errlen, where, "must be an object of string values");
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n + sub->pattern.nnamed > MQTT_MAX_TAGS)
        return fail(err, errlen, where, "too many tags (with the named wildcards, at most 64)");
    sub->tags = calloc(n ? n : 1, sizeof *sub->tags);
    if (!sub->tags)
        return fail(err, errlen, where, "out of memory");
    for (const cJSON *it = obj->child; it; it = it->next) {
        snprintf(w, sizeof w, "%s.%.40s", where, it->string);
        if (!it->string[0] || strlen(it->string) > MQTT_MAX_TAG_LEN)
            return fail(err, errlen, w, "tag keys are 1 to 256 bytes");
        for (size_t i = 0; i < sub->pattern.nlevels; i++) {
            const char *name = sub->pattern.levels[i].kind == MQTT_LEVEL_PLUS
                                   ? sub->pattern.levels[i].text : NULL;
            if (name && strcmp(name, it->string) == 0)
                return fail(err, errlen, w, "is also a named wildcard of the topic");
        }
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) > MQTT_MAX_TAG_LEN)
            return fail(err, errlen, w, "must be a string of 1 to 256 bytes");
        ioc_tag_t *t = &sub->tags[sub->ntags++];
        t->key = strdup(it->string);
        t->value = strdup(it->valuestring);
        if (!t->key || !t->value)
            return fail(err, errlen, w, "out of memory");
    }
    return IOC_OK;
}

static int get_pointer(const cJSON *it, const char *where, char **out, char *err, size_t errlen)
{
    if (!cJSON_IsString(it) || mqtt_pointer_check(it->valuestring) != IOC_OK)
        return fail(err, errlen, where, "must be a JSON pointer (RFC 6901) such as \"/power\"");
    *out = strdup(it->valuestring);
    return *out ? IOC_OK : fail(err, errlen, where, "out of memory");
}

static int parse_sub(const cJSON *obj, size_t idx, mqtt_sub_t *sub, char *err, size_t errlen)
{
    char where[96], sub_err[200];
    const cJSON *topic = cJSON_GetObjectItemCaseSensitive(obj, "topic");
    const cJSON *tags = NULL;
    int rc;
    snprintf(where, sizeof where, "subscribe[%zu]", idx);
    if (!cJSON_IsObject(obj))
        return fail(err, errlen, where, "must be an object with topic and metric");
    snprintf(where, sizeof where, "subscribe[%zu].topic", idx);
    if (!cJSON_IsString(topic))
        return fail(err, errlen, where, "is required (a topic filter such as \"a/+name/#\")");
    rc = mqtt_pattern_parse(topic->valuestring, &sub->pattern, sub_err, sizeof sub_err);
    if (rc)
        return fail(err, errlen, where, sub_err);
    for (const cJSON *it = obj->child; it; it = it->next) {
        snprintf(where, sizeof where, "subscribe[%zu].%.40s", idx, it->string);
        if (strcmp(it->string, "topic") == 0)
            continue;
        if (strcmp(it->string, "metric") == 0) {
            rc = get_string(it, where, &sub->metric, err, errlen);
            if (rc == IOC_OK && strlen(sub->metric) > MQTT_MAX_TAG_LEN)
                rc = fail(err, errlen, where, "is longer than 256 bytes");
        } else if (strcmp(it->string, "value") == 0) {
            rc = get_pointer(it, where, &sub->value_ptr, err, errlen);
        } else if (strcmp(it->string, "time") == 0) {
            rc = get_pointer(it, where, &sub->time_ptr, err, errlen);
        } else if (strcmp(it->string, "time_unit") == 0) {
            static const char *const names[] = {"s", "ms", "us", "ns"};
            rc = fail(err, errlen, where, "must be one of \"s\", \"ms\", \"us\", \"ns\"");
            for (int u = 0; u < 4 && cJSON_IsString(it); u++) {
                if (strcmp(it->valuestring, names[u]) == 0) {
                    sub->time_unit = (mqtt_time_unit_t)u;
                    rc = IOC_OK;
                }
            }
        } else if (strcmp(it->string, "tags") == 0) {
            tags = it;
        } else {
            rc = fail(err, errlen, where, "unknown key (known: topic, metric, value, time, "
                      "time_unit, tags)");
        }
        if (rc)
            return rc;
    }
    snprintf(where, sizeof where, "subscribe[%zu]", idx);
    if (!sub->metric)
        return fail(err, errlen, where, "metric is required");
    if (sub->time_ptr && !sub->value_ptr)
        return fail(err, errlen, where, "time needs value (a time pointer needs a JSON payload)");
    snprintf(where, sizeof where, "subscribe[%zu].tags", idx);
    if (tags)
        return parse_tags(tags, where, sub, err, errlen);
    return IOC_OK;
}

/* Collects the distinct broker filters of the subscriptions. */
static int collect_filters(mqtt_config_t *cfg, char *err, size_t errlen)
{
    cfg->filters = calloc(cfg->nsubs, sizeof *cfg->filters);
    if (!cfg->filters)
        return fail(err, errlen, "subscribe", "out of memory");
    for (size_t i = 0; i < cfg->nsubs; i++) {
        const char *f = cfg->subs[i].pattern.filter;
        bool seen = false;
        for (size_t j = 0; j < cfg->nfilters && !seen; j++)
            seen = strcmp(cfg->filters[j], f) == 0;
        if (!seen)
            cfg->filters[cfg->nfilters++] = cfg->subs[i].pattern.filter;
    }
    return IOC_OK;
}

static int parse_subscribe(const cJSON *arr, mqtt_config_t *cfg, char *err, size_t errlen)
{
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n < 1 || n > MQTT_MAX_SUBS)
        return fail(err, errlen, "subscribe", "must be an array of 1 to 256 subscriptions");
    cfg->subs = calloc((size_t)n, sizeof *cfg->subs);
    if (!cfg->subs)
        return fail(err, errlen, "subscribe", "out of memory");
    for (const cJSON *it = arr->child; it; it = it->next) {
        int rc = parse_sub(it, cfg->nsubs, &cfg->subs[cfg->nsubs], err, errlen);
        cfg->nsubs++;
        if (rc)
            return rc;
    }
    return collect_filters(cfg, err, errlen);
}

static int parse_key(const cJSON *it, mqtt_config_t *cfg, char *err, size_t errlen)
{
    const char *k = it->string;
    if (strcmp(k, "url") == 0) {
        if (!cJSON_IsString(it))
            return fail(err, errlen, "url", "must be a string such as \"mqtt://127.0.0.1:1883\"");
        return parse_url(it->valuestring, cfg, err, errlen);
    }
    if (strcmp(k, "username") == 0)
        return get_string(it, k, &cfg->username, err, errlen);
    if (strcmp(k, "password") == 0)
        return get_string(it, k, &cfg->password, err, errlen);
    if (strcmp(k, "client_id") == 0) {
        int rc = get_string(it, k, &cfg->client_id, err, errlen);
        if (rc == IOC_OK && strlen(cfg->client_id) > 256)
            rc = fail(err, errlen, k, "is longer than 256 bytes");
        return rc;
    }
    if (strcmp(k, "clean_session") == 0)
        return get_bool(it, k, &cfg->clean_session, err, errlen);
    if (strcmp(k, "keepalive") == 0) {
        uint64_t ms;
        int rc = get_duration(it, k, 5000, 3600000, &ms, err, errlen);
        cfg->keepalive_s = (int)(ms / 1000);
        return rc;
    }
    if (strcmp(k, "connect_timeout") == 0)
        return get_duration(it, k, 1000, 600000, &cfg->connect_timeout_ms, err, errlen);
    if (strcmp(k, "reconnect_min") == 0)
        return get_duration(it, k, 100, 3600000, &cfg->reconnect_min_ms, err, errlen);
    if (strcmp(k, "reconnect_max") == 0)
        return get_duration(it, k, 100, 3600000, &cfg->reconnect_max_ms, err, errlen);
    if (strcmp(k, "max_payload") == 0) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > MAX_PAYLOAD_CAP ||
            it->valuedouble != (double)(size_t)it->valuedouble)
            return fail(err, errlen, k, "must be a number of bytes from 1 to 16777216");
        cfg->max_payload = (size_t)it->valuedouble;
        return IOC_OK;
    }
    if (strcmp(k, "tls") == 0)
        return parse_tls(it, cfg, err, errlen);
    if (strcmp(k, "subscribe") == 0)
        return parse_subscribe(it, cfg, err, errlen);
    snprintf(err, errlen, "unknown key \"%s\" (known: url, username, password, client_id, "
             "clean_session, keepalive, connect_timeout, reconnect_min, reconnect_max, "
             "max_payload, tls, subscribe)", k);
    return IOC_EINVAL;
}

int mqtt_config_parse(const cJSON *obj, const char *name, mqtt_config_t *out, char *err,
                      size_t errlen)
{
    int rc = IOC_EINVAL;
    memset(out, 0, sizeof *out);
    out->tls_verify = true;
    out->keepalive_s = 30;
    out->connect_timeout_ms = 10000;
    out->reconnect_min_ms = 500;
    out->reconnect_max_ms = 30000;
    out->max_payload = 65536;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "collector config: must be an object");
        goto fail;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (is_host_key(it->string))
            continue;
        rc = parse_key(it, out, err, errlen);
        if (rc)
            goto fail;
    }
    rc = IOC_EINVAL;
    if (!out->host) {
        snprintf(err, errlen, "url: is required (e.g. \"mqtt://127.0.0.1:1883\")");
        goto fail;
    }
    if (!out->subs) {
        snprintf(err, errlen, "subscribe: is required (an array of {topic, metric})");
        goto fail;
    }
    if (out->password && !out->username) {
        snprintf(err, errlen, "password: needs username");
        goto fail;
    }
    if (out->reconnect_min_ms > out->reconnect_max_ms) {
        snprintf(err, errlen, "reconnect_min: must not be above reconnect_max");
        goto fail;
    }
    if (!out->tls && (out->ca_file || out->ca_path || out->cert_file)) {
        snprintf(err, errlen, "tls: needs an mqtts:// url");
        goto fail;
    }
    if (!out->client_id) {
        size_t n = strlen(name) + 6;
        out->client_id = malloc(n);
        if (!out->client_id) {
            rc = IOC_ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(out->client_id, n, "iocd-%s", name);
    }
    return IOC_OK;
fail:
    mqtt_config_free(out);
    return rc;
}

void mqtt_config_free(mqtt_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nsubs; i++) {
        mqtt_sub_t *s = &cfg->subs[i];
        mqtt_pattern_free(&s->pattern);
        free(s->metric);
        free(s->value_ptr);
        free(s->time_ptr);
        for (size_t t = 0; t < s->ntags; t++) {
            free((char *)s->tags[t].key);
            free((char *)s->tags[t].value);
        }
        free(s->tags);
    }
    free(cfg->subs);
    free(cfg->filters);
    free(cfg->host);
    free(cfg->username);
    free(cfg->password);
    free(cfg->client_id);
    free(cfg->ca_file);
    free(cfg->ca_path);
    free(cfg->cert_file);
    free(cfg->key_file);
    memset(cfg, 0, sizeof *cfg);
}
