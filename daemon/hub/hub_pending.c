/* The per-tick conflation table: the latest value per (indicator, group) since the last tick,
 * and the JSON items of update frames. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub/hub_int.h"
#include "ioc/error.h"

void hub_pending_init(hub_pending_t *p, size_t max)
{
    memset(p, 0, sizeof *p);
    hashmap_init(&p->map);
    p->max = max;
}

/* Copies one item into an allocation holding its key and strings. */
static hub_pitem_t *pitem_new(const hub_item_t *it)
{
    size_t il = strlen(it->indicator), gl = strlen(it->group ? it->group : "");
    hub_pitem_t *pi = malloc(sizeof *pi + 2 * (il + gl + 2));
    char *s;

    if (!pi)
        return NULL;
    s = (char *)(pi + 1);
    pi->key = s;
    memcpy(s, it->indicator, il);
    s[il] = '\x1f';
    memcpy(s + il + 1, it->group ? it->group : "", gl + 1);
    s += il + gl + 2;
    pi->indicator = s;
    memcpy(s, it->indicator, il + 1);
    pi->group = s + il + 1;
    memcpy(s + il + 1, it->group ? it->group : "", gl + 1);
    return pi;
}

static void pitem_set(hub_pitem_t *pi, const hub_item_t *it)
{
    pi->ts_us = it->ts_us;
    pi->value = it->value;
    pi->has_value = it->has_value && isfinite(it->value);
    snprintf(pi->status, sizeof pi->status, "%s", it->status ? it->status : "no-data");
}

int hub_pending_put(hub_pending_t *p, const hub_item_t *it)
{
    char stackkey[256], *key = stackkey;
    size_t il = strlen(it->indicator), gl = strlen(it->group ? it->group : "");
    hub_pitem_t *pi, **grown;
    int rc = IOC_OK;

    if (il + gl + 2 > sizeof stackkey && !(key = malloc(il + gl + 2)))
        return IOC_ENOMEM;
    memcpy(key, it->indicator, il);
    key[il] = '\x1f';
    memcpy(key + il + 1, it->group ? it->group : "", gl + 1);
    pi = hashmap_get(&p->map, key);
    if (pi) {
        pitem_set(pi, it);
        goto out;
    }
    if (p->n == p->max) {
        rc = IOC_EFULL;
        goto out;
    }
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        grown = realloc(p->items, ncap * sizeof *grown);
        if (!grown) {
            rc = IOC_ENOMEM;
            goto out;
        }
        p->items = grown;
        p->cap = ncap;
    }
    pi = pitem_new(it);
    if (!pi || hashmap_put(&p->map, pi->key, pi) < 0) {
        free(pi);
        rc = IOC_ENOMEM;
        goto out;
    }
    pitem_set(pi, it);
    p->items[p->n++] = pi;
out:
    if (key != stackkey)
        free(key);
    return rc;
}

cJSON *hub_item_json(const hub_item_t *item)
{
    cJSON *o = cJSON_CreateObject();
    int64_t ms = item->ts_us >= 0 ? item->ts_us / 1000 : -((-item->ts_us + 999) / 1000);
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    struct tm tm;
    char ts[96];

    if (!o)
        return NULL;
    gmtime_r(&secs, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms - (int64_t)secs * 1000));
    if (!cJSON_AddStringToObject(o, "indicator", item->indicator) ||
        !cJSON_AddStringToObject(o, "group", item->group ? item->group : "") ||
        !cJSON_AddStringToObject(o, "ts", ts) ||
        !(item->has_value && isfinite(item->value) ? cJSON_AddNumberToObject(o, "value", item->value)
                                                   : cJSON_AddNullToObject(o, "value")) ||
        !cJSON_AddStringToObject(o, "status", item->status ? item->status : "no-data")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *hub_pending_json(const hub_pending_t *p, const char *indicator)
{
    cJSON *arr = cJSON_CreateArray(), *o;
    const hub_pitem_t *pi;
    hub_item_t it;
    size_t i;

    for (i = 0; arr && i < p->n; i++) {
        pi = p->items[i];
        if (indicator && strcmp(indicator, pi->indicator))
            continue;
        it = (hub_item_t){pi->indicator, pi->group, pi->ts_us, pi->value, pi->has_value,
                          pi->status};
        o = hub_item_json(&it);
        if (!o) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

void hub_pending_clear(hub_pending_t *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->items[i]);
    p->n = 0;
    hashmap_free(&p->map);
}

void hub_pending_free(hub_pending_t *p)
{
    hub_pending_clear(p);
    free(p->items);
    p->items = NULL;
    p->cap = 0;
}
