/* Validation of an http_json instance's configuration (its entry in `collectors`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hj.h"
#include "../common/plugin_config.h"

#define DEFAULT_INTERVAL_MS 10000ULL
#define HOST_TIMEOUT_CAP_MS 60000ULL
#define MIN_MAX_BODY 1024u

static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};
static const char *const own_keys[] = {
    "url", "urls", "headers", "username", "password", "bearer_token", "tls_verify", "ca_file",
    "max_body", "format", "items", "metrics", "time", "tags", "value_map"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))



/* A size: a JSON number of bytes or "8MiB", "500KB", ... Returns 0 or -1. */
static int parse_size(const cJSON *it, uint64_t *bytes)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
        {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824}};
    char *end;
    if (cJSON_IsNumber(it)) {
        double v = it->valuedouble;
        if (!(v >= 0 && v <= (double)HJ_MAX_MAX_BODY) || v != floor(v))
            return -1;
        *bytes = (uint64_t)v;
        return 0;
    }
    if (!cJSON_IsString(it) || it->valuestring[0] < '0' || it->valuestring[0] > '9')
        return -1;
    unsigned long long v = strtoull(it->valuestring, &end, 10);
    for (size_t i = 0; i < NELEM(units); i++) {
        if (strcmp(end, units[i].unit) == 0 && v <= UINT64_MAX / units[i].mul) {
            *bytes = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* A string without control characters (they would split an HTTP header). */
static int get_text(const cJSON *obj, const char *key, const char **out, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it)
        return IOC_OK;
    if (!cJSON_IsString(it) || !*it->valuestring) {
        snprintf(err, errlen, "%s: must be a non-empty string", key);
        return IOC_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)it->valuestring; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "%s: control character at offset %td", key,
                     (const char *)p - it->valuestring);
            return IOC_EINVAL;
        }
    }
    *out = it->valuestring;
    return IOC_OK;
}

static int check_url(const char *url, const char *where, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s: must start with http:// or https://", where);
        return IOC_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "%s: space or control character at offset %td", where,
                     (const char *)p - url);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

static int parse_urls(const cJSON *obj, hj_http_cfg_t *http, char *err, size_t errlen)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(obj, "url");
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive(obj, "urls");
    char where[32];
    if (!url == !urls) {
        snprintf(err, errlen, "url: give either \"url\" (a string) or \"urls\" (an array)");
        return IOC_EINVAL;
    }
    if (url) {
        if (!cJSON_IsString(url)) {
            snprintf(err, errlen, "url: must be a string");
            return IOC_EINVAL;
        }
        http->urls[http->nurls++] = url->valuestring;
        return check_url(url->valuestring, "url", err, errlen);
    }
    int n = cJSON_GetArraySize(urls);
    if (!cJSON_IsArray(urls) || n == 0 || n > HJ_MAX_URLS) {
        snprintf(err, errlen, "urls: must be an array of 1 to %d strings", HJ_MAX_URLS);
        return IOC_EINVAL;
    }
    for (const cJSON *u = urls->child; u; u = u->next) {
        snprintf(where, sizeof where, "urls[%zu]", http->nurls);
        if (!cJSON_IsString(u)) {
            snprintf(err, errlen, "%s: must be a string", where);
            return IOC_EINVAL;
        }
        int rc = check_url(u->valuestring, where, err, errlen);
        if (rc != IOC_OK)
            return rc;
        http->urls[http->nurls++] = u->valuestring;
    }
    return IOC_OK;
}

static int parse_headers(const cJSON *h, char *err, size_t errlen)
{
    if (!cJSON_IsObject(h)) {
        snprintf(err, errlen, "headers: must be an object of header -> value");
        return IOC_EINVAL;
    }
    for (const cJSON *it = h->child; it; it = it->next) {
        size_t n = strlen(it->string);
        if (n == 0 || strspn(it->string, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789!#$%&'*+-.^_`|~") != n) {
            snprintf(err, errlen, "headers.%.64s: not a valid header name", it->string);
            return IOC_EINVAL;
        }
        if (!cJSON_IsString(it) || strpbrk(it->valuestring, "\r\n")) {
            snprintf(err, errlen, "headers.%.64s: must be a string without line breaks",
                     it->string);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

/* The request timeout: 90% of the host's collect timeout, so that the request fails first and
 * says why. The host's default timeout is the interval, at most 60 s. */
static int request_timeout(const cJSON *obj, uint64_t *ms, char *err, size_t errlen)
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

int hj_config_parse(const cJSON *obj, hj_http_cfg_t *http, hj_map_cfg_t *map, char *warn,
                    size_t warnlen, char *err, size_t errlen)
{
    const cJSON *it;
    uint64_t size;
    int rc;
    memset(http, 0, sizeof *http);
    http->tls_verify = true;
    http->max_body = HJ_DEFAULT_MAX_BODY;
    warn[0] = '\0';
    rc = hj_map_config_parse(obj, map, err, errlen);
    if (rc != IOC_OK)
        return rc;
    for (it = obj->child; it; it = it->next) {
        if (!plugin_in_list(it->string, host_keys, NELEM(host_keys)) &&
            !plugin_in_list(it->string, own_keys, NELEM(own_keys))) {
            snprintf(err, errlen, "unknown key \"%.64s\" (known: url, urls, headers, username, "
                     "password, bearer_token, tls_verify, ca_file, max_body, format, items, "
                     "metrics, time, tags, value_map)", it->string);
            return IOC_EINVAL;
        }
    }
    if ((rc = parse_urls(obj, http, err, errlen)) != IOC_OK ||
        (rc = get_text(obj, "username", &http->username, err, errlen)) != IOC_OK ||
        (rc = get_text(obj, "password", &http->password, err, errlen)) != IOC_OK ||
        (rc = get_text(obj, "bearer_token", &http->bearer, err, errlen)) != IOC_OK ||
        (rc = get_text(obj, "ca_file", &http->ca_file, err, errlen)) != IOC_OK ||
        (rc = request_timeout(obj, &http->timeout_ms, err, errlen)) != IOC_OK)
        return rc;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "headers")) &&
        (rc = parse_headers(it, err, errlen)) != IOC_OK)
        return rc;
    http->headers = it;
    if (!http->username != !http->password) {
        snprintf(err, errlen, "%s: basic auth needs both username and password",
                 http->username ? "password" : "username");
        return IOC_EINVAL;
    }
    if (http->username && http->bearer) {
        snprintf(err, errlen, "bearer_token: give either bearer_token or username/password");
        return IOC_EINVAL;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "max_body"))) {
        if (parse_size(it, &size) != 0 || size < MIN_MAX_BODY || size > HJ_MAX_MAX_BODY) {
            snprintf(err, errlen, "max_body: must be a size from 1KiB to 1GiB, e.g. \"8MiB\"");
            return IOC_EINVAL;
        }
        http->max_body = (size_t)size;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "tls_verify"))) {
        if (!cJSON_IsBool(it)) {
            snprintf(err, errlen, "tls_verify: must be true or false");
            return IOC_EINVAL;
        }
        http->tls_verify = cJSON_IsTrue(it);
        if (!http->tls_verify)
            snprintf(warn, warnlen, "msg=\"tls_verify is false: HTTPS peers are not "
                     "authenticated, anyone on the path can forge the data\"");
    }
    return IOC_OK;
}
