/* JSON text to samples: finds the items, then maps each one (generic pointers, or NGSI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hj.h"

/* Line and column (1-based) of byte offset off in text. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* A value node to a number: number, bool (1/0), a text in the value map, or a numeric text. */
static int to_number(const cJSON *node, const cJSON *value_map, double *out)
{
    if (cJSON_IsNumber(node)) {
        *out = node->valuedouble;
        return isfinite(*out) ? 0 : -1;
    }
    if (cJSON_IsBool(node)) {
        *out = cJSON_IsTrue(node) ? 1.0 : 0.0;
        return 0;
    }
    if (!cJSON_IsString(node))
        return -1;
    const cJSON *m = value_map ? cJSON_GetObjectItemCaseSensitive(value_map, node->valuestring)
                               : NULL;
    if (m) {
        *out = m->valuedouble;
        return 0;
    }
    char *end;
    const char *s = node->valuestring;
    if (*s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
        return -1;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out) ? 0 : -1;
}

/* Maps one item with the configured metrics, time and tags. */
static int map_item(const hj_map_cfg_t *cfg, const cJSON *item, size_t index, hj_emitter_t *em)
{
    ioc_tag_t tags[HJ_MAX_TAGS];
    char nums[HJ_MAX_TAGS][HJ_NUM_LEN];
    size_t ntags = 0;
    int64_t ts = hj_emit_default_ts(em);
    if (cfg->time) {
        const cJSON *t = hj_pointer_get(item, cfg->time);
        if (t && hj_time_from_node(t, &ts) != 0) {
            hj_emit_skip(em, "items[%zu]%s: not an ISO 8601 time or epoch seconds/ms", index,
                         cfg->time);
            return IOC_OK;
        }
    }
    for (size_t i = 0; i < cfg->ntags; i++) {
        const cJSON *v = hj_pointer_get(item, cfg->tags[i].ptr);
        const char *s = v ? hj_tag_value(v, nums[ntags]) : NULL;
        if (s)
            tags[ntags++] = (ioc_tag_t){.key = cfg->tags[i].key, .value = s};
    }
    for (size_t i = 0; i < cfg->nmetrics; i++) {
        const hj_metric_map_t *m = &cfg->metrics[i];
        const cJSON *v = hj_pointer_get(item, m->value);
        double d;
        if (!v || cJSON_IsNull(v)) {
            hj_emit_skip(em, "items[%zu]%s: no value for %s", index, m->value, m->metric);
            continue;
        }
        if (to_number(v, m->value_map, &d) != 0) {
            hj_emit_skip(em, "items[%zu]%s: not a number for %s", index, m->value, m->metric);
            continue;
        }
        int rc = hj_emit_add(em, m->metric, tags, ntags, d, ts);
        if (rc != IOC_OK)
            return rc;
    }
    return IOC_OK;
}

static int map_one(const hj_map_cfg_t *cfg, const cJSON *item, size_t index, hj_emitter_t *em)
{
    if (cfg->format == HJ_FORMAT_JSON)
        return map_item(cfg, item, index, em);
    return hj_ngsi_entity(cfg, item, index, em);
}

int hj_map(const hj_map_cfg_t *cfg, const char *text, size_t len, int64_t default_ts_us,
           hj_sink_fn sink, void *ud, hj_map_stats_t *st, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *doc = NULL;
    hj_emitter_t *em = NULL;
    int rc = IOC_OK;
    size_t line, col;
    memset(st, 0, sizeof *st);
    if (strlen(text) != len) {
        line_col(text, strlen(text), &line, &col);
        snprintf(err, errlen, "line %zu column %zu: NUL byte in the document", line, col);
        return IOC_EINVAL;
    }
    doc = cJSON_ParseWithOpts(text, &end, 1);
    if (!doc) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        line_col(text, off, &line, &col);
        snprintf(err, errlen, "line %zu column %zu: not valid JSON", line, col);
        return IOC_EINVAL;
    }
    const cJSON *items = hj_pointer_get(doc, cfg->items);
    if (!items || (!cJSON_IsArray(items) && !cJSON_IsObject(items))) {
        snprintf(err, errlen, "items \"%.100s\": %s", cfg->items,
                 items ? "not an array or object" : "not found in the document");
        rc = IOC_EINVAL;
        goto out;
    }
    em = hj_emit_new(sink, ud, default_ts_us, st);
    if (!em) {
        snprintf(err, errlen, "out of memory");
        rc = IOC_ENOMEM;
        goto out;
    }
    if (cJSON_IsArray(items)) {
        for (const cJSON *it = items->child; it && rc == IOC_OK; it = it->next)
            rc = map_one(cfg, it, st->items++, em);
    } else {
        rc = map_one(cfg, items, st->items++, em);
    }
    if (rc == IOC_OK)
        rc = hj_emit_flush(em);
    if (rc != IOC_OK)
        snprintf(err, errlen, "the host refused samples (code %d)", rc);
out:
    hj_emit_free(em);
    cJSON_Delete(doc);
    return rc;
}
