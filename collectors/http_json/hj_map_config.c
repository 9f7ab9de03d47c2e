/* Validation of the mapping keys of an http_json instance: format, items, metrics, time, tags,
 * value_map. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hj.h"

static const char *const format_names[] = {"json", "ngsi-v2", "ngsi-ld"};

/* Checks that `node` (at `where`) is a valid pointer string; stores it in *out. */
static int get_pointer(const cJSON *node, const char *where, const char **out, char *err,
                       size_t errlen)
{
    size_t off;
    if (!cJSON_IsString(node)) {
        snprintf(err, errlen, "%s: must be a JSON pointer string such as \"/speed\"", where);
        return IOC_EINVAL;
    }
    if (hj_pointer_check(node->valuestring, &off) != 0) {
        snprintf(err, errlen, "%s: bad JSON pointer at offset %zu (must start with '/', and '~' "
                 "be followed by 0 or 1)", where, off);
        return IOC_EINVAL;
    }
    *out = node->valuestring;
    return IOC_OK;
}

static int check_name(const char *s, const char *where, char *err, size_t errlen)
{
    if (!hj_name_ok(s, strlen(s))) {
        snprintf(err, errlen, "%s: must be 1 to %d bytes of UTF-8", where, HJ_MAX_NAME);
        return IOC_EINVAL;
    }
    return IOC_OK;
}

/* A value map: {"text": number, ...}. */
static int check_value_map(const cJSON *vm, const char *where, char *err, size_t errlen)
{
    if (!cJSON_IsObject(vm)) {
        snprintf(err, errlen, "%s: must be an object of text -> number, e.g. {\"on\": 1}", where);
        return IOC_EINVAL;
    }
    for (const cJSON *it = vm->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            snprintf(err, errlen, "%s.%s: must be a number", where, it->string);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

static int parse_metric(const cJSON *m, size_t i, hj_metric_map_t *out, char *err, size_t errlen)
{
    char where[64];
    snprintf(where, sizeof where, "metrics[%zu]", i);
    if (!cJSON_IsObject(m)) {
        snprintf(err, errlen, "%s: must be an object {\"metric\": ..., \"value\": ...}", where);
        return IOC_EINVAL;
    }
    memset(out, 0, sizeof *out);
    for (const cJSON *it = m->child; it; it = it->next) {
        int rc = IOC_OK;
        snprintf(where, sizeof where, "metrics[%zu].%.20s", i, it->string);
        if (strcmp(it->string, "metric") == 0) {
            if (!cJSON_IsString(it)) {
                snprintf(err, errlen, "%s: must be a string", where);
                return IOC_EINVAL;
            }
            out->metric = it->valuestring;
            rc = check_name(it->valuestring, where, err, errlen);
        } else if (strcmp(it->string, "value") == 0) {
            rc = get_pointer(it, where, &out->value, err, errlen);
        } else if (strcmp(it->string, "value_map") == 0) {
            out->value_map = it;
            rc = check_value_map(it, where, err, errlen);
        } else {
            snprintf(err, errlen, "%s: unknown key (known: metric, value, value_map)", where);
            return IOC_EINVAL;
        }
        if (rc != IOC_OK)
            return rc;
    }
    if (!out->metric || !out->value) {
        snprintf(err, errlen, "metrics[%zu]: needs both \"metric\" and \"value\"", i);
        return IOC_EINVAL;
    }
    return IOC_OK;
}

static int parse_metrics(const cJSON *arr, hj_map_cfg_t *cfg, char *err, size_t errlen)
{
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n == 0 || n > HJ_MAX_METRICS) {
        snprintf(err, errlen,
                 "metrics: must be an array of 1 to %d {\"metric\", \"value\"} objects",
                 HJ_MAX_METRICS);
        return IOC_EINVAL;
    }
    for (const cJSON *m = arr->child; m; m = m->next) {
        int rc = parse_metric(m, cfg->nmetrics, &cfg->metrics[cfg->nmetrics], err, errlen);
        if (rc != IOC_OK)
            return rc;
        cfg->nmetrics++;
    }
    return IOC_OK;
}

static int parse_tags(const cJSON *obj, hj_map_cfg_t *cfg, char *err, size_t errlen)
{
    char where[300];
    if (!cJSON_IsObject(obj) || cJSON_GetArraySize(obj) > HJ_MAX_TAGS) {
        snprintf(err, errlen, "tags: must be an object of at most %d tag -> JSON pointer",
                 HJ_MAX_TAGS);
        return IOC_EINVAL;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        hj_tag_map_t *t = &cfg->tags[cfg->ntags];
        snprintf(where, sizeof where, "tags.%s", it->string);
        int rc = check_name(it->string, "tags", err, errlen);
        if (rc == IOC_OK)
            rc = get_pointer(it, where, &t->ptr, err, errlen);
        if (rc != IOC_OK)
            return rc;
        if (cfg->format != HJ_FORMAT_JSON && strcmp(it->string, "id") == 0) {
            snprintf(err, errlen, "tags.id: reserved (NGSI samples carry the entity id as tag id)");
            return IOC_EINVAL;
        }
        for (size_t j = 0; j < cfg->ntags; j++) {
            if (strcmp(cfg->tags[j].key, it->string) == 0) {
                snprintf(err, errlen, "%s: given twice", where);
                return IOC_EINVAL;
            }
        }
        t->key = it->string;
        cfg->ntags++;
    }
    return IOC_OK;
}

static int parse_ngsi_value_map(const cJSON *obj, char *err, size_t errlen)
{
    char where[300];
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "value_map: must be an object of attribute -> {text: number}, "
                 "e.g. {\"powerState\": {\"on\": 1, \"off\": 0}}");
        return IOC_EINVAL;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        snprintf(where, sizeof where, "value_map.%s", it->string);
        int rc = check_value_map(it, where, err, errlen);
        if (rc != IOC_OK)
            return rc;
    }
    return IOC_OK;
}

int hj_map_config_parse(const cJSON *obj, hj_map_cfg_t *cfg, char *err, size_t errlen)
{
    const cJSON *it;
    int rc = IOC_OK;
    memset(cfg, 0, sizeof *cfg);
    cfg->items = "";
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "collector config: must be an object");
        return IOC_EINVAL;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "format"))) {
        size_t f = 0;
        while (f < 3 && !(cJSON_IsString(it) && strcmp(it->valuestring, format_names[f]) == 0))
            f++;
        if (f == 3) {
            snprintf(err, errlen, "format: must be \"json\", \"ngsi-v2\" or \"ngsi-ld\"");
            return IOC_EINVAL;
        }
        cfg->format = (hj_format_t)f;
    }
    bool ngsi = cfg->format != HJ_FORMAT_JSON;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "items")))
        rc = get_pointer(it, "items", &cfg->items, err, errlen);
    it = cJSON_GetObjectItemCaseSensitive(obj, "metrics");
    if (rc == IOC_OK && ngsi && it) {
        snprintf(err, errlen, "metrics: not used with format %s (every numeric attribute becomes "
                 "<type>.<attribute>)", format_names[cfg->format]);
        return IOC_EINVAL;
    }
    if (rc == IOC_OK && !ngsi && !it) {
        snprintf(err, errlen, "metrics: required with format json, e.g. "
                 "[{\"metric\": \"traffic.speed\", \"value\": \"/speed\"}]");
        return IOC_EINVAL;
    }
    if (rc == IOC_OK && it)
        rc = parse_metrics(it, cfg, err, errlen);
    it = cJSON_GetObjectItemCaseSensitive(obj, "time");
    if (rc == IOC_OK && it && ngsi) {
        snprintf(err, errlen, "time: not used with format %s (the time comes from dateObserved, "
                 "observedAt, ...)", format_names[cfg->format]);
        return IOC_EINVAL;
    }
    if (rc == IOC_OK && it)
        rc = get_pointer(it, "time", &cfg->time, err, errlen);
    if (rc == IOC_OK && (it = cJSON_GetObjectItemCaseSensitive(obj, "tags")))
        rc = parse_tags(it, cfg, err, errlen);
    it = cJSON_GetObjectItemCaseSensitive(obj, "value_map");
    if (rc == IOC_OK && it && !ngsi) {
        snprintf(err, errlen, "value_map: only with an NGSI format; with json put it in the "
                 "metrics entry");
        return IOC_EINVAL;
    }
    if (rc == IOC_OK && it) {
        cfg->value_map = it;
        rc = parse_ngsi_value_map(it, err, errlen);
    }
    return rc;
}
