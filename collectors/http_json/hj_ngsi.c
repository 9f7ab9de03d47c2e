/* FIWARE NGSI v2 (key-values, normalized) and NGSI-LD (normalized, concise) entities to
 * samples: <type>.<attribute>{id=<entity id>} per numeric attribute. */
#include <stdio.h>
#include <string.h>

#include "hj.h"

/* Entity attributes that give the observation time, in order of preference. */
static const char *const time_attrs[] = {"dateObservedTo", "dateObserved", "observationDateTime",
                                         "TimeInstant"};
#define NTIME (sizeof time_attrs / sizeof time_attrs[0])

static int is_time_attr(const char *name)
{
    for (size_t i = 0; i < NTIME; i++)
        if (strcmp(name, time_attrs[i]) == 0)
            return 1;
    return 0;
}

/* The payload of an attribute: {"value": x} (v2 normalized, LD Property, concise) gives x,
 * {"object": x} (LD Relationship) gives x with *rel set; anything else is the value itself. */
static const cJSON *unwrap(const cJSON *attr, int *rel)
{
    const cJSON *v;
    *rel = 0;
    if (!cJSON_IsObject(attr))
        return attr;
    if ((v = cJSON_GetObjectItemCaseSensitive(attr, "value")))
        return v;
    if ((v = cJSON_GetObjectItemCaseSensitive(attr, "object"))) {
        *rel = 1;
        return v;
    }
    return attr;
}

/* Resolves a tag pointer against the entity, unwrapping the attribute at the first level. */
static const cJSON *entity_pointer(const cJSON *ent, const char *ptr)
{
    int rel;
    if (*ptr == '\0')
        return NULL;
    const cJSON *node = hj_pointer_step(ent, &ptr);
    node = node ? unwrap(node, &rel) : NULL;
    while (node && *ptr)
        node = hj_pointer_step(node, &ptr);
    return node;
}

/* The time an attribute carries itself: LD observedAt, or v2 metadata TimeInstant/dateObserved.
 * Returns 1 and sets *ts if it has a valid one, 0 if none, -1 if it is malformed. */
static int attr_time(const cJSON *attr, int64_t *ts)
{
    static const char *const meta_names[] = {"TimeInstant", "dateObserved"};
    const cJSON *t, *meta;
    int rel;
    if (!cJSON_IsObject(attr))
        return 0;
    if ((t = cJSON_GetObjectItemCaseSensitive(attr, "observedAt")))
        return hj_time_from_node(t, ts) == 0 ? 1 : -1;
    meta = cJSON_GetObjectItemCaseSensitive(attr, "metadata");
    for (size_t i = 0; cJSON_IsObject(meta) && i < 2; i++) {
        if ((t = cJSON_GetObjectItemCaseSensitive(meta, meta_names[i])))
            return hj_time_from_node(unwrap(t, &rel), ts) == 0 ? 1 : -1;
    }
    return 0;
}

/* The entity's observation time, or the default. Returns 0, or -1 naming the bad attribute. */
static int entity_time(const cJSON *ent, hj_emitter_t *em, int64_t *ts, const char **bad)
{
    int rel;
    *ts = hj_emit_default_ts(em);
    for (size_t i = 0; i < NTIME; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(ent, time_attrs[i]);
        if (!a)
            continue;
        if (hj_time_from_node(unwrap(a, &rel), ts) != 0) {
            *bad = time_attrs[i];
            return -1;
        }
        return 0;
    }
    return 0;
}

/* A number for the attribute's payload: numbers, booleans 1/0, texts in the value map. */
static int attr_number(const hj_map_cfg_t *cfg, const char *name, const cJSON *v, double *out)
{
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "@value");
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? 1.0 : 0.0;
        return 0;
    }
    if (cJSON_IsString(v) && cfg->value_map) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg->value_map, name);
        m = m ? cJSON_GetObjectItemCaseSensitive(m, v->valuestring) : NULL;
        if (m) {
            *out = m->valuedouble;
            return 0;
        }
    }
    return -1;
}

int hj_ngsi_entity(const hj_map_cfg_t *cfg, const cJSON *ent, size_t index, hj_emitter_t *em)
{
    ioc_tag_t tags[HJ_MAX_TAGS + 1];
    char nums[HJ_MAX_TAGS][HJ_NUM_LEN];
    char metric[2 * HJ_MAX_NAME + 2];
    const char *bad = NULL;
    size_t ntags = 1;
    int64_t ent_ts;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ent, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ent, "type");
    if (!cJSON_IsString(id) || !hj_name_ok(id->valuestring, strlen(id->valuestring)) ||
        !cJSON_IsString(type) || !*type->valuestring) {
        hj_emit_skip(em, "items[%zu]: not an NGSI entity (needs string id and type)", index);
        return IOC_OK;
    }
    if (entity_time(ent, em, &ent_ts, &bad) != 0) {
        hj_emit_skip(em, "items[%zu] (%.64s): %s is not an ISO 8601 time", index,
                     id->valuestring, bad);
        return IOC_OK;
    }
    tags[0] = (ioc_tag_t){.key = "id", .value = id->valuestring};
    for (size_t i = 0; i < cfg->ntags; i++) {
        const cJSON *v = entity_pointer(ent, cfg->tags[i].ptr);
        const char *s = v ? hj_tag_value(v, nums[i]) : NULL;
        if (s)
            tags[ntags++] = (ioc_tag_t){.key = cfg->tags[i].key, .value = s};
    }
    for (const cJSON *a = ent->child; a; a = a->next) {
        const char *name = a->string;
        int64_t ts = ent_ts;
        double d;
        int rel, trc;
        if (!name || name[0] == '@' || strcmp(name, "id") == 0 || strcmp(name, "type") == 0 ||
            is_time_attr(name))
            continue;
        const cJSON *v = unwrap(a, &rel);
        if (rel || attr_number(cfg, name, v, &d) != 0)
            continue;
        if ((trc = attr_time(a, &ts)) < 0) {
            hj_emit_skip(em, "items[%zu] (%.64s).%.64s: bad observedAt or metadata time", index,
                         id->valuestring, name);
            continue;
        }
        int n = snprintf(metric, sizeof metric, "%s.%s", type->valuestring, name);
        if (n < 0 || !hj_name_ok(metric, (size_t)n)) {
            hj_emit_skip(em, "items[%zu] (%.64s).%.64s: metric name too long or not UTF-8",
                         index, id->valuestring, name);
            continue;
        }
        int rc = hj_emit_add(em, metric, tags, ntags, d, ts);
        if (rc != IOC_OK)
            return rc;
    }
    return IOC_OK;
}
