/* The engine: binds series to indicator cells, feeds samples, and at each tick ages windows,
 * evaluates every (indicator, group), sets status, publishes changes and records rollups. A
 * group a sample touches, if not yet published in this tick, is evaluated on the next loop turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/log.h"
#include "engine/engine_int.h"
#include "ioc/error.h"

#define FUTURE_US (5LL * 1000000) /* timestamps later than now + this are taken as now + this */
#define MINUTE_US (60LL * 1000000)

int64_t eng_now(engine_t *e)
{
    if (e->manual_clock)
        return e->now_us;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static eng_group_t *group_new(eng_ind_t *ind, const char *name)
{
    size_t nt = expr_nterms(ind->expr);
    eng_group_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name);
    g->cells = calloc(nt, sizeof *g->cells);
    if (!g->name || !g->cells)
        goto fail;
    for (size_t i = 0; i < nt; i++)
        if (eng_cell_init(&g->cells[i], expr_term(ind->expr, i)->agg))
            goto fail;
    for (int m = 0; m < ENG_MINUTES; m++)
        g->minutes[m].minute = -1;
    return g;
fail:
    for (size_t i = 0; g->cells && i < nt; i++)
        eng_cell_free(&g->cells[i]);
    free(g->cells);
    free(g->name);
    free(g);
    return NULL;
}

static void group_free(eng_ind_t *ind, eng_group_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < expr_nterms(ind->expr); i++)
        eng_cell_free(&g->cells[i]);
    free(g->cells);
    free(g->name);
    free(g);
}

eng_group_t *eng_group_find(eng_ind_t *ind, const char *name, bool create)
{
    if (!name[0] || ind->ngroup_by == 0)
        return name[0] ? NULL : ind->total;
    eng_group_t *g = hashmap_get(&ind->group_map, name);
    if (g || !create)
        return g;
    if (ind->ngroups == ENG_MAX_GROUPS) {
        if (!ind->dropped_groups_logged)
            log_warn("engine", "event=group_limit indicator=%s max=%d", ind->id, ENG_MAX_GROUPS);
        ind->dropped_groups_logged = true;
        return NULL;
    }
    if (ind->ngroups == ind->capgroups) {
        size_t cap = ind->capgroups ? ind->capgroups * 2 : 16;
        eng_group_t **ng = realloc(ind->groups, cap * sizeof *ng);
        if (!ng)
            return NULL;
        ind->groups = ng;
        ind->capgroups = cap;
    }
    if (!(g = group_new(ind, name)))
        return NULL;
    if (hashmap_put(&ind->group_map, g->name, g)) {
        group_free(ind, g);
        return NULL;
    }
    ind->groups[ind->ngroups++] = g;
    return g;
}

eng_ind_t *eng_ind_find(engine_t *e, const char *id)
{
    for (size_t i = 0; i < e->ninds; i++)
        if (strcmp(e->inds[i].id, id) == 0)
            return &e->inds[i];
    return NULL;
}

static const char *tag_of(const cJSON *tags, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tags, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool term_matches(const expr_term_t *t, const char *metric, const cJSON *tags)
{
    if (strcmp(t->metric, metric) != 0)
        return false;
    for (size_t i = 0; i < t->nfilters; i++) {
        const char *v = tag_of(tags, t->filters[i].key);
        if (!v || strcmp(v, t->filters[i].value) != 0)
            return false;
    }
    return true;
}

/* The group a series belongs to in ind ("" when ungrouped); false when a tag is missing. */
static bool group_name(const eng_ind_t *ind, const cJSON *tags, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ind->ngroup_by; i++) {
        const char *v = tag_of(tags, ind->group_by[i]);
        if (!v)
            return false;
        int w = snprintf(out + n, len - n, "%s%s", i ? "|" : "", v);
        if (w < 0 || (size_t)w >= len - n)
            return false;
        n += (size_t)w;
    }
    return true;
}

/* Creates the binding of a series key: every (indicator, term) cell it feeds. */
static eng_binding_t *bind_new(engine_t *e, const char *key, const char *metric,
                               const char *tags_json)
{
    eng_bind_ent_t ents[64];
    size_t n = 0;
    char gname[1024];
    cJSON *tags = cJSON_Parse(tags_json);
    eng_binding_t *b = NULL;
    for (size_t i = 0; tags && i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        for (size_t t = 0; t < expr_nterms(ind->expr) && n < 64; t++) {
            if (!term_matches(expr_term(ind->expr, t), metric, tags) ||
                !group_name(ind, tags, gname, sizeof gname))
                continue;
            eng_group_t *g = eng_group_find(ind, gname, true);
            if (!g)
                continue;
            ents[n++] = (eng_bind_ent_t){.ind = ind, .group = g, .cell = &g->cells[t]};
        }
    }
    cJSON_Delete(tags);
    if (e->nbindings == e->capbindings) {
        size_t cap = e->capbindings ? e->capbindings * 2 : 256;
        eng_binding_t **nb = realloc(e->bindings, cap * sizeof *nb);
        if (!nb)
            return NULL;
        e->bindings = nb;
        e->capbindings = cap;
    }
    if (!(b = calloc(1, sizeof *b + n * sizeof b->ents[0])) || !(b->key = strdup(key)))
        goto fail;
    b->n = n;
    memcpy(b->ents, ents, n * sizeof ents[0]);
    if (hashmap_put(&e->by_key, b->key, b))
        goto fail;
    e->bindings[e->nbindings++] = b;
    return b;
fail:
    if (b)
        free(b->key);
    free(b);
    return NULL;
}

static eng_binding_t *bind_key(engine_t *e, const char *key, const char *metric,
                               const char *tags_json)
{
    eng_binding_t *b = hashmap_get(&e->by_key, key);
    return b ? b : bind_new(e, key, metric, tags_json);
}

static void minute_count(eng_group_t *g, int64_t ts)
{
    int64_t m = ts / MINUTE_US;
    eng_minute_t *mi = &g->minutes[m % ENG_MINUTES];
    if (mi->minute != m) {
        if (mi->minute > m)
            return; /* older than the minutes kept */
        *mi = (eng_minute_t){.minute = m};
    }
    mi->count++;
    mi->dirty = true;
}

static void on_prompt(uv_timer_t *t);

/* Queues a group for the prompt evaluation unless it has had its one publish or prompt
 * evaluation of this tick (the tick evaluates it anyway). */
static void mark_dirty(engine_t *e, eng_ind_t *ind, eng_group_t *g)
{
    if (g->dirty || g->pub_tick == e->tickno || g->prompt_tick == e->tickno || e->closing)
        return;
    if (e->ndirty == e->capdirty) {
        size_t cap = e->capdirty ? e->capdirty * 2 : 64;
        eng_dirty_t *nd = realloc(e->dirty, cap * sizeof *nd);
        if (!nd)
            return; /* the tick evaluates it */
        e->dirty = nd;
        e->capdirty = cap;
    }
    g->dirty = true;
    e->dirty[e->ndirty++] = (eng_dirty_t){.ind = ind, .group = g};
    if (e->ndirty == 1)
        uv_timer_start(&e->prompt, on_prompt, 0, 0);
}

static void feed(engine_t *e, eng_binding_t *b, int64_t ts, double v, bool replay)
{
    int64_t now = e->now_us;
    if (ts > now + FUTURE_US)
        ts = now + FUTURE_US;
    if (ts < now - ENG_LATE_US)
        return;
    for (size_t i = 0; i < b->n; i++) {
        eng_bind_ent_t *en = &b->ents[i];
        eng_cell_add(en->cell, en->ind, en->cell->ring ? NULL : &en->sv, ts, v, now);
        if (replay)
            continue;
        minute_count(en->group, ts);
        mark_dirty(e, en->ind, en->group);
        if (en->group != en->ind->total) {
            minute_count(en->ind->total, ts);
            mark_dirty(e, en->ind, en->ind->total);
        }
    }
}

void engine_on_sample(engine_t *e, const series_t *se, int64_t ts_us, double value)
{
    /* The series remembers its binding, so the usual path is one pointer load. */
    eng_binding_t *b = se->engine_slot;
    if (!b) {
        if (!(b = bind_key(e, se->key, se->metric, se->tags_json)))
            return;
        ((series_t *)se)->engine_slot = b;
    }
    if (b->n)
        feed(e, b, ts_us, value, false);
}

void eng_feed_key(engine_t *e, const char *metric, const char *tags_json, int64_t ts_us,
                  double value, bool replay)
{
    size_t ml = strlen(metric), tl = strlen(tags_json);
    char *key = malloc(ml + tl + 2);
    if (!key)
        return;
    memcpy(key, metric, ml);
    key[ml] = '\x1f';
    memcpy(key + ml + 1, tags_json, tl + 1);
    eng_binding_t *b = bind_key(e, key, metric, tags_json);
    free(key);
    if (b && b->n)
        feed(e, b, ts_us, value, replay);
}

/* Evaluates a group from its cells (or, for a grouped total, from every group's cells) and
 * publishes it if its value or status changed (or, with a value, its time). The tick (at_tick)
 * also records the value in the group's minute; a prompt evaluation ages every cell it reads. */
static void evaluate(engine_t *e, eng_ind_t *ind, eng_group_t *g, bool derived, int64_t now,
                     bool at_tick)
{
    size_t nt = expr_nterms(ind->expr);
    double vals[EXPR_MAX_TERMS];
    bool has[EXPR_MAX_TERMS];
    int64_t ts = 0;
    for (size_t t = 0; t < nt; t++) {
        if (!derived) {
            eng_cell_t *c = &g->cells[t];
            eng_cell_age(c, ind, now);
            has[t] = eng_cells_value(&c, 1, ind, &vals[t]);
            if (c->newest_ts > ts)
                ts = c->newest_ts;
            continue;
        }
        eng_cell_t **cs = malloc((ind->ngroups ? ind->ngroups : 1) * sizeof *cs);
        if (!cs) {
            has[t] = false;
            continue;
        }
        for (size_t i = 0; i < ind->ngroups; i++) {
            cs[i] = &ind->groups[i]->cells[t];
            if (!at_tick)
                eng_cell_age(cs[i], ind, now);
            if (cs[i]->newest_ts > ts)
                ts = cs[i]->newest_ts;
        }
        has[t] = ind->ngroups && eng_cells_value(cs, ind->ngroups, ind, &vals[t]);
        free(cs);
    }
    g->has = nt > 0 && expr_eval(ind->expr, vals, has, &g->value);
    g->status = eng_status_of(ind, g->has, g->value);
    g->ts = ts ? ts : now;
    if (g->has && at_tick) {
        int64_t m = now / MINUTE_US;
        eng_minute_t *mi = &g->minutes[m % ENG_MINUTES];
        if (mi->minute != m)
            *mi = (eng_minute_t){.minute = m};
        mi->min = mi->ticks == 0 || g->value < mi->min ? g->value : mi->min;
        mi->max = mi->ticks == 0 || g->value > mi->max ? g->value : mi->max;
        mi->sum_v += g->value;
        mi->ticks++;
        mi->dirty = true;
    }
    /* A new sample's time is a change (alerts count "no data" from the last one); the time of
     * a group that never had a sample is the evaluation's, and a value without data is none. */
    bool changed = !g->published || g->has != g->pub_has || g->status != g->pub_status ||
                   (g->has && (g->value != g->pub_value || (ts && g->ts != g->pub_ts)));
    if (!changed)
        return;
    g->published = true;
    g->pub_tick = e->tickno;
    g->pub_has = g->has;
    g->pub_value = g->value;
    g->pub_status = g->status;
    g->pub_ts = g->ts;
    if (e->listener)
        e->listener(e->listener_ud, ind->id, g->name, g->ts, g->value, g->has,
                    eng_status_name(g->status));
    if (e->hub) {
        hub_item_t it = {.indicator = ind->id, .group = g->name, .ts_us = g->ts,
                         .value = g->value, .has_value = g->has,
                         .status = eng_status_name(g->status)};
        hub_update(e->hub, &it);
    }
}

/* Forgets the dirty groups (the tick evaluates every group). */
static void clear_dirty(engine_t *e)
{
    for (size_t i = 0; i < e->ndirty; i++)
        e->dirty[i].group->dirty = false;
    e->ndirty = 0;
    uv_timer_stop(&e->prompt);
}

void eng_run_tick(engine_t *e)
{
    int64_t now = e->now_us;
    e->tickno++;
    clear_dirty(e);
    for (size_t i = 0; i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        for (size_t g = 0; g < ind->ngroups; g++)
            evaluate(e, ind, ind->groups[g], false, now, true);
        evaluate(e, ind, ind->total, ind->ngroup_by > 0, now, true);
    }
}

/* The leading edge: evaluates (once per tick at most) the groups samples touched since the
 * last evaluation, so a change after a quiet spell is published without waiting for the tick.
 * No minutes are recorded here: they take the values at the ticks. */
static void on_prompt(uv_timer_t *t)
{
    engine_t *e = t->data;
    e->now_us = eng_now(e);
    for (size_t i = 0; i < e->ndirty; i++) {
        eng_ind_t *ind = e->dirty[i].ind;
        eng_group_t *g = e->dirty[i].group;
        g->dirty = false;
        g->prompt_tick = e->tickno;
        evaluate(e, ind, g, g == ind->total && ind->ngroup_by > 0, e->now_us, false);
    }
    e->ndirty = 0;
}

static void on_tick(uv_timer_t *t)
{
    engine_t *e = t->data;
    e->now_us = eng_now(e);
    eng_run_tick(e);
    if (e->db)
        eng_db_tick(e->db);
}

/* "2025-01-31T12:00:00.000Z" */
void eng_iso(char *buf, size_t len, int64_t ts_us)
{
    time_t s = (time_t)(ts_us / 1000000);
    int ms = (int)((ts_us % 1000000) / 1000);
    if (ts_us < 0 && ts_us % 1000000) {
        s--;
        ms = (int)((1000000 + ts_us % 1000000) / 1000);
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* {"group", "value", "status", "ts"} as the API lists a group. */
static cJSON *group_json(const eng_group_t *g)
{
    char ts[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "group", g->name);
    eng_iso(ts, sizeof ts, g->ts);
    cJSON_AddStringToObject(o, "ts", ts);
    if (g->has)
        cJSON_AddNumberToObject(o, "value", g->value);
    else
        cJSON_AddNullToObject(o, "value");
    cJSON_AddStringToObject(o, "status", eng_status_name(g->status));
    return o;
}

/* The item of a group as the hub sends it. */
static cJSON *item_json(const eng_ind_t *ind, const eng_group_t *g)
{
    hub_item_t it = {.indicator = ind->id, .group = g->name, .ts_us = g->ts, .value = g->value,
                     .has_value = g->has, .status = eng_status_name(g->status)};
    return hub_item_json(&it);
}

cJSON *engine_indicators_json(engine_t *e)
{
    char ts[40];
    cJSON *root = cJSON_CreateObject(), *arr;
    if (!root)
        return NULL;
    eng_iso(ts, sizeof ts, e->now_us);
    cJSON_AddStringToObject(root, "ts", ts);
    cJSON_AddBoolToObject(root, "warming_up", e->db && eng_db_warming(e->db));
    arr = cJSON_AddArrayToObject(root, "indicators");
    for (size_t i = 0; arr && i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        cJSON *o = cJSON_Duplicate(ind->def, true), *groups;
        if (!o)
            continue;
        eng_group_t *t = ind->total;
        if (t->has)
            cJSON_AddNumberToObject(o, "value", t->value);
        else
            cJSON_AddNullToObject(o, "value");
        cJSON_AddStringToObject(o, "status", eng_status_name(t->status));
        eng_iso(ts, sizeof ts, t->ts);
        cJSON_AddStringToObject(o, "ts", ts);
        groups = cJSON_AddArrayToObject(o, "groups");
        for (size_t g = 0; groups && g < ind->ngroups; g++)
            cJSON_AddItemToArray(groups, group_json(ind->groups[g]));
        cJSON_AddItemToArray(arr, o);
    }
    return root;
}

/* Snapshot for "indicators" or "indicator:<id>": every group's item (the total included). */
static cJSON *snapshot(void *ud, const char *topic)
{
    engine_t *e = ud;
    const char *only = NULL;
    if (strncmp(topic, "indicator:", 10) == 0)
        only = topic + 10;
    else if (strcmp(topic, "indicators") != 0)
        return NULL;
    if (only && !eng_ind_find(e, only))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        if (only && strcmp(ind->id, only))
            continue;
        cJSON_AddItemToArray(arr, item_json(ind, ind->total));
        for (size_t g = 0; g < ind->ngroups; g++)
            cJSON_AddItemToArray(arr, item_json(ind, ind->groups[g]));
    }
    return arr;
}

int engine_check_config(const config_t *cfg, char *err, size_t errlen)
{
    eng_ind_t *inds;
    size_t n;
    int rc = eng_inds_parse(cfg, &inds, &n, err, errlen);
    if (rc == 0)
        eng_inds_free(inds, n);
    return rc;
}

int engine_create(uv_loop_t *loop, const config_t *cfg, hub_t *hub, engine_t **out, char *err,
                  size_t errlen)
{
    engine_t *e = calloc(1, sizeof *e);
    int rc;
    *out = NULL;
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    e->loop = loop;
    e->hub = hub;
    hashmap_init(&e->by_key);
    if ((rc = eng_inds_parse(cfg, &e->inds, &e->ninds, err, errlen)))
        goto fail;
    for (size_t i = 0; i < e->ninds; i++) {
        hashmap_init(&e->inds[i].group_map);
        if (!(e->inds[i].total = group_new(&e->inds[i], ""))) {
            rc = IOC_ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    e->now_us = e->started_us = eng_now(e);
    e->tickno = 1;
    uv_timer_init(loop, &e->tick);
    uv_timer_init(loop, &e->prompt);
    e->tick.data = e->prompt.data = e;
    e->open_handles = 2;
    uv_timer_start(&e->tick, on_tick, ENG_TICK_MS, ENG_TICK_MS);
    if (hub)
        hub_set_snapshot_provider(hub, "indicator", snapshot, e);
    *out = e;
    return IOC_OK;
fail:
    eng_free(e);
    return rc;
}

void eng_free(engine_t *e)
{
    for (size_t i = 0; i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        for (size_t g = 0; g < ind->ngroups; g++)
            group_free(ind, ind->groups[g]);
        group_free(ind, ind->total);
        free(ind->groups);
        hashmap_free(&ind->group_map);
    }
    eng_inds_free(e->inds, e->ninds);
    for (size_t i = 0; i < e->nbindings; i++) {
        free(e->bindings[i]->key);
        free(e->bindings[i]);
    }
    free(e->bindings);
    free(e->dirty);
    hashmap_free(&e->by_key);
    free(e);
}

void engine_set_dsn(engine_t *e, const char *dsn)
{
    if (e->db || !dsn)
        return;
    if (eng_db_create(e, dsn, &e->db))
        log_error("engine", "event=db_failed action=no_rollups");
}

void engine_set_listener(engine_t *e, engine_value_fn fn, void *ud)
{
    e->listener = fn;
    e->listener_ud = ud;
}

static void on_handle_closed(uv_handle_t *h)
{
    engine_t *e = h->data;
    if (--e->open_handles > 0)
        return;
    void (*done)(void *) = e->done;
    void *ud = e->done_ud;
    eng_free(e);
    if (done)
        done(ud);
}

static void on_db_closed(void *ud)
{
    engine_t *e = ud;
    e->db = NULL;
    uv_close((uv_handle_t *)&e->tick, on_handle_closed);
    uv_close((uv_handle_t *)&e->prompt, on_handle_closed);
}

void engine_close(engine_t *e, void (*done)(void *ud), void *ud)
{
    e->closing = true;
    e->done = done;
    e->done_ud = ud;
    uv_timer_stop(&e->tick);
    clear_dirty(e);
    if (e->hub)
        hub_set_snapshot_provider(e->hub, "indicator", NULL, NULL);
    if (e->db) {
        e->now_us = eng_now(e);
        eng_run_tick(e);
        eng_db_close(e->db, on_db_closed, e);
    } else {
        on_db_closed(e);
    }
}
