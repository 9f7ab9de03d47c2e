/* The alerts module: rules and their slots, evaluation on each value and each second,
 * transitions recorded, notifications sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alerts/alerts_int.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ioc/error.h"

int64_t alerts_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t alerts_peek_id(const alerts_t *a, int64_t now_us)
{
    int64_t id = now_us / 1000 * 100;
    return id > a->last_id ? id : a->last_id + 1;
}

const alerts_ind_t *alerts_ind_find(const alerts_t *a, const char *id)
{
    for (size_t i = 0; i < a->ninds; i++)
        if (strcmp(a->inds[i].id, id) == 0)
            return &a->inds[i];
    return NULL;
}

static int env_indicator(void *ud, const char *id)
{
    const alerts_ind_t *ind = alerts_ind_find(ud, id);
    return ind ? ind->grouped : -1;
}

void alerts_env(alerts_t *a, alert_env_t *env)
{
    env->indicator = env_indicator;
    env->ud = a;
}

alerts_rent_t *alerts_rule_find(const alerts_t *a, const char *id)
{
    for (size_t i = 0; i < a->nrules; i++)
        if (strcmp(a->rules[i]->r->id, id) == 0)
            return a->rules[i];
    return NULL;
}

cJSON *alerts_err_json(const char *field, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    if (field && *field)
        cJSON_AddStringToObject(o, "field", field);
    return o;
}

/* Reads the indicators' ids, names, units and grouping from the config. */
static int load_inds(alerts_t *a, const config_t *cfg)
{
    const cJSON *it;
    size_t n = (size_t)cJSON_GetArraySize(cfg->indicators);
    if (!n)
        return IOC_OK;
    if (!(a->inds = calloc(n, sizeof *a->inds)))
        return IOC_ENOMEM;
    cJSON_ArrayForEach(it, cfg->indicators)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *vi = cJSON_GetObjectItemCaseSensitive(name, "vi");
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(name, "en");
        const cJSON *unit = cJSON_GetObjectItemCaseSensitive(it, "unit");
        const cJSON *gb = cJSON_GetObjectItemCaseSensitive(it, "group_by");
        if (!cJSON_IsString(id))
            continue;
        alerts_ind_t *ind = &a->inds[a->ninds++];
        ind->id = strdup(id->valuestring);
        ind->name_vi = strdup(cJSON_IsString(vi) ? vi->valuestring : id->valuestring);
        const char *name_en = cJSON_IsString(en) ? en->valuestring : ind->name_vi;
        ind->name_en = name_en ? strdup(name_en) : NULL;
        ind->unit = strdup(cJSON_IsString(unit) ? unit->valuestring : "");
        ind->grouped = cJSON_GetArraySize(gb) > 0;
        if (!ind->id || !ind->name_vi || !ind->name_en || !ind->unit)
            return IOC_ENOMEM;
    }
    return IOC_OK;
}

static void free_inds(alerts_t *a)
{
    for (size_t i = 0; i < a->ninds; i++) {
        free(a->inds[i].id);
        free(a->inds[i].name_vi);
        free(a->inds[i].name_en);
        free(a->inds[i].unit);
    }
    free(a->inds);
}

/* Writes "file:line:column: alerts[i].field: msg" for a config rule. */
static void config_error(const config_t *cfg, size_t i, const alert_err_t *e, char *err,
                         size_t errlen)
{
    char path[160];
    int line, col;
    const char *file = cfg->path ? cfg->path : "config";
    if (e->field[0] && e->field[0] != '[')
        snprintf(path, sizeof path, "alerts[%zu].%s", i, e->field);
    else
        snprintf(path, sizeof path, "alerts[%zu]", i);
    if (config_locate(cfg, path, &line, &col) == 0 ||
        (snprintf(path, sizeof path, "alerts[%zu]", i), config_locate(cfg, path, &line, &col)) == 0)
        snprintf(err, errlen, "%s:%d:%d: alerts[%zu]%s%s: %s", file, line, col, i,
                 e->field[0] ? "." : "", e->field, e->msg);
    else
        snprintf(err, errlen, "%s: alerts[%zu]%s%s: %s", file, i, e->field[0] ? "." : "",
                 e->field, e->msg);
}

/* Parses the config's rules; each is handed to add (or freed when add is NULL). */
static int parse_config_rules(alerts_t *a, const config_t *cfg, bool keep, char *err,
                              size_t errlen)
{
    alert_env_t env;
    alert_err_t e;
    const cJSON *it;
    size_t i = 0;
    alerts_env(a, &env);
    cJSON_ArrayForEach(it, cfg->alerts)
    {
        alert_rule_t *r;
        int rc = alert_rule_parse(it, NULL, true, &env, &r, &e);
        if (rc == 0 && !r->id[0]) {
            snprintf(e.field, sizeof e.field, "id");
            snprintf(e.msg, sizeof e.msg, "required for rules in the config file");
            alert_rule_free(r);
            rc = IOC_EINVAL;
        }
        for (size_t k = 0; rc == 0 && k < i; k++) {
            const cJSON *prev = cJSON_GetArrayItem(cfg->alerts, (int)k);
            const cJSON *pid = cJSON_GetObjectItemCaseSensitive(prev, "id");
            if (cJSON_IsString(pid) && strcmp(pid->valuestring, r->id) == 0) {
                snprintf(e.field, sizeof e.field, "id");
                snprintf(e.msg, sizeof e.msg, "duplicate id (also alerts[%zu])", k);
                alert_rule_free(r);
                rc = IOC_EINVAL;
            }
        }
        if (rc) {
            config_error(cfg, i, &e, err, errlen);
            return rc;
        }
        if (i >= ALERTS_MAX_RULES) {
            alert_rule_free(r);
            snprintf(err, errlen, "%s: alerts: more than %d rules", cfg->path, ALERTS_MAX_RULES);
            return IOC_EINVAL;
        }
        if (!keep)
            alert_rule_free(r);
        else if (!alerts_rule_add(a, r))
            return IOC_ENOMEM;
        i++;
    }
    return IOC_OK;
}

/* True if cfg's alerts hold a rule with this id. */
static bool config_has(const config_t *cfg, const char *id)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cfg->alerts)
    {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
        if (s && strcmp(s, id) == 0)
            return true;
    }
    return false;
}

void alerts_apply_config(alerts_t *a, const config_t *cfg)
{
    alert_env_t env;
    const cJSON *it;
    size_t added = 0, changed = 0, removed = 0;
    alerts_env(a, &env);
    for (size_t i = a->nrules; i-- > 0;)
        if (a->rules[i]->r->from_config && !config_has(cfg, a->rules[i]->r->id)) {
            alerts_rule_remove(a, a->rules[i]);
            removed++;
        }
    cJSON_ArrayForEach(it, cfg->alerts)
    {
        alert_rule_t *r;
        alert_err_t e;
        if (alert_rule_parse(it, NULL, true, &env, &r, &e)) {
            log_warn("alerts", "event=config_rule_skipped field=%s error=\"%s\"", e.field, e.msg);
            continue;
        }
        alerts_rent_t *re = alerts_rule_find(a, r->id);
        if (re && !re->r->from_config) {
            log_warn("alerts", "event=config_rule_skipped id=%s reason=\"an API rule has this id\"",
                     r->id);
            alert_rule_free(r);
        } else if (re && cJSON_Compare(re->r->def, r->def, true)) {
            alert_rule_free(r);
        } else if (re) {
            alerts_rule_replace(a, re, r);
            changed++;
        } else if (a->nrules >= ALERTS_MAX_RULES) {
            alert_rule_free(r);
        } else if (alerts_rule_add(a, r)) {
            added++;
        }
    }
    log_info("alerts", "event=config_applied added=%zu changed=%zu removed=%zu", added, changed,
             removed);
}

int alerts_check_config(const config_t *cfg, char *err, size_t errlen)
{
    alerts_t a = {0};
    int rc = load_inds(&a, cfg);
    if (rc == 0)
        rc = parse_config_rules(&a, cfg, false, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    free_inds(&a);
    return rc;
}

alerts_slot_t *alerts_slot_get(alerts_t *a, alerts_rent_t *re, const char *group, bool create)
{
    alerts_slot_t *s = hashmap_get(&re->by_group, group);
    if (s || !create)
        return s;
    if (re->nslots >= ALERTS_MAX_SLOTS) {
        if (!re->slots_full_logged)
            log_warn("alerts", "event=slots_full rule=%s max=%d", re->r->id, ALERTS_MAX_SLOTS);
        re->slots_full_logged = true;
        return NULL;
    }
    if (re->nslots == re->capslots) {
        size_t cap = re->capslots ? re->capslots * 2 : 8;
        alerts_slot_t **p = realloc(re->slots, cap * sizeof *p);
        if (!p)
            return NULL;
        re->slots = p;
        re->capslots = cap;
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->group = strdup(group))) {
        free(s);
        return NULL;
    }
    s->re = re;
    alert_input_init(&s->in, alerts_now());
    if (hashmap_put(&re->by_group, s->group, s)) {
        free(s->group);
        free(s);
        return NULL;
    }
    re->slots[re->nslots++] = s;
    (void)a;
    return s;
}

static void slot_free(alerts_slot_t *s)
{
    free(s->group);
    free(s->acked_by);
    free(s->ack_comment);
    free(s->silenced_by);
    free(s);
}

alerts_slot_t *alerts_slot_by_id(const alerts_t *a, int64_t id)
{
    for (size_t i = 0; i < a->nrules; i++)
        for (size_t k = 0; k < a->rules[i]->nslots; k++)
            if (a->rules[i]->slots[k]->sm.id == id)
                return a->rules[i]->slots[k];
    return NULL;
}

/* A rule on a named group (or an ungrouped indicator) has its slot from the start, so that
 * "no data" can fire for a group that never reports. */
static void make_fixed_slot(alerts_t *a, alerts_rent_t *re)
{
    if (re->r->group)
        alerts_slot_get(a, re, re->r->group, true);
    else if (re->ind && !re->ind->grouped)
        alerts_slot_get(a, re, "", true);
}

alerts_rent_t *alerts_rule_add(alerts_t *a, alert_rule_t *r)
{
    alerts_rent_t *re = calloc(1, sizeof *re);
    alerts_rent_t **p = realloc(a->rules, (a->nrules + 1) * sizeof *p);
    if (!re || !p) {
        free(re);
        if (p)
            a->rules = p;
        alert_rule_free(r);
        return NULL;
    }
    a->rules = p;
    re->r = r;
    alert_sm_cfg_of(r, &re->smc);
    re->ind = alerts_ind_find(a, r->indicator);
    hashmap_init(&re->by_group);
    a->rules[a->nrules++] = re;
    make_fixed_slot(a, re);
    return re;
}

static void send_notes(alerts_t *a, alerts_slot_t *s, const alert_sm_out_t *o);

/* Ends a slot's active episode (the rule changed or went away); channels that were told it
 * fired are told it resolved. */
static void end_slot(alerts_t *a, alerts_slot_t *s, const char *why)
{
    alert_sm_out_t o = {0};
    if (s->sm.notified) {
        o.notes[0] = ANO_RESOLVED;
        o.note_ids[0] = s->sm.notified_id;
        o.nnotes = 1;
        s->sm.notified = false;
    }
    if (s->sm.state != AST_OK) {
        s->sm.state = AST_OK;
        s->sm.resolved_us = alerts_now();
        alerts_record(a, s, "resolved", NULL, why);
    }
    send_notes(a, s, &o);
}

static void free_slots(alerts_t *a, alerts_rent_t *re, const char *why)
{
    for (size_t k = 0; k < re->nslots; k++) {
        if (why)
            end_slot(a, re->slots[k], why);
        slot_free(re->slots[k]);
    }
    free(re->slots);
    re->slots = NULL;
    re->nslots = re->capslots = 0;
    hashmap_free(&re->by_group);
    hashmap_init(&re->by_group);
}

void alerts_rule_replace(alerts_t *a, alerts_rent_t *re, alert_rule_t *r)
{
    bool same = strcmp(re->r->indicator, r->indicator) == 0 &&
                ((!re->r->group && !r->group) ||
                 (re->r->group && r->group && strcmp(re->r->group, r->group) == 0)) &&
                r->enabled;
    if (!same)
        free_slots(a, re, "rule changed");
    alert_rule_free(re->r);
    re->r = r;
    alert_sm_cfg_of(r, &re->smc);
    re->ind = alerts_ind_find(a, r->indicator);
    if (!same)
        make_fixed_slot(a, re);
}

void alerts_rule_remove(alerts_t *a, alerts_rent_t *re)
{
    free_slots(a, re, a->closing ? NULL : "rule deleted");
    hashmap_free(&re->by_group);
    alert_rule_free(re->r);
    for (size_t i = 0; i < a->nrules; i++)
        if (a->rules[i] == re) {
            memmove(&a->rules[i], &a->rules[i + 1], (a->nrules - i - 1) * sizeof *a->rules);
            a->nrules--;
            break;
        }
    free(re);
}

/* The webhook body: the alert document with "event". */
static void send_notes(alerts_t *a, alerts_slot_t *s, const alert_sm_out_t *o)
{
    const alert_rule_t *r = s->re->r;
    for (int i = 0; i < o->nnotes; i++) {
        cJSON *doc = alerts_doc(s);
        if (!doc)
            continue;
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "id",
                                               cJSON_CreateNumber((double)o->note_ids[i]));
        cJSON_AddStringToObject(doc, "event", alert_note_name(o->notes[i]));
        char *body = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        for (size_t t = 0; body && t < r->nnotify; t++) {
            notify_msg_t m = {
                .channel = r->notify[t].channel, .target = r->notify[t].url,
                .timeout_ms = r->notify[t].timeout_ms, .retries = r->notify[t].retries,
                .body = body, .alert_id = o->note_ids[i], .rule_id = r->id,
                .event = alert_note_name(o->notes[i]),
            };
            int rc = notifier_send(&a->notifier, &m);
            if (rc && rc != IOC_EFULL) /* a full channel has logged (and counted) the drop */
                a->st.notifications_failed++;
        }
        cJSON_free(body);
    }
}

/* Advances one slot to now and acts on what happened. */
static void step(alerts_t *a, alerts_slot_t *s, int64_t now)
{
    alert_sm_out_t o;
    alerts_rent_t *re = s->re;
    int cond = alert_input_cond(&s->in, re->r, now);
    int64_t next = alerts_peek_id(a, now);
    alert_sm_step(&s->sm, &re->smc, cond, now, next, &o);
    if (o.used_id) {
        a->last_id = next;
        free(s->acked_by);
        free(s->ack_comment);
        s->acked_by = s->ack_comment = NULL;
        s->acked_at = 0;
    }
    for (int i = 0; i < o.ntrans; i++)
        alerts_record(a, s, alert_trans_name(o.trans[i]), NULL, NULL);
    send_notes(a, s, &o);
}

static bool ready(const alerts_t *a, int64_t now)
{
    return a->loaded || now - a->created_us >= ALERTS_READY_GRACE_US;
}

void alerts_on_value(void *ud, const char *indicator, const char *group, int64_t ts_us,
                     double value, bool has_value, const char *status)
{
    alerts_t *a = ud;
    int64_t now = alerts_now();
    (void)ts_us;
    (void)status;
    if (!a || a->closing)
        return;
    for (size_t i = 0; i < a->nrules; i++) {
        alerts_rent_t *re = a->rules[i];
        const alert_rule_t *r = re->r;
        if (!r->enabled || strcmp(r->indicator, indicator) != 0)
            continue;
        if (r->group ? strcmp(r->group, group) != 0
                     : (re->ind && re->ind->grouped) != (*group != '\0'))
            continue;
        alerts_slot_t *s = alerts_slot_get(a, re, group, true);
        if (!s)
            continue;
        alert_input_value(&s->in, r, has_value, value, now);
        if (ready(a, now))
            step(a, s, now);
    }
}

static void on_tick(uv_timer_t *t)
{
    alerts_t *a = t->data;
    int64_t now = alerts_now();
    uint64_t pending = 0, firing = 0;
    alerts_db_ready(a);
    if (!ready(a, now))
        return;
    for (size_t i = 0; i < a->nrules; i++) {
        alerts_rent_t *re = a->rules[i];
        for (size_t k = 0; k < re->nslots; k++) {
            if (re->r->enabled)
                step(a, re->slots[k], now);
            pending += re->slots[k]->sm.state == AST_PENDING;
            firing += re->slots[k]->sm.state == AST_FIRING;
        }
    }
    a->st.pending = pending;
    a->st.firing = firing;
}

/* Hub snapshot of "alerts": the active alerts. */
static cJSON *snapshot(void *ud, const char *topic)
{
    alerts_t *a = ud;
    cJSON *arr = cJSON_CreateArray();
    (void)topic;
    for (size_t i = 0; arr && i < a->nrules; i++)
        for (size_t k = 0; k < a->rules[i]->nslots; k++)
            if (a->rules[i]->slots[k]->sm.state != AST_OK)
                cJSON_AddItemToArray(arr, alerts_doc(a->rules[i]->slots[k]));
    return arr;
}

static void render_metrics(strbuf_t *out, void *ud)
{
    const alerts_t *a = ud;
    static const char *const names[][3] = {
        {"iocd_alerts_rules", "gauge", "Alert rules (config file and API)"},
        {"iocd_alerts_pending", "gauge", "Alerts pending (condition true, waiting for `for`)"},
        {"iocd_alerts_firing", "gauge", "Alerts firing"},
        {"iocd_alerts_notifications_total", "counter", "Notification deliveries that succeeded"},
        {"iocd_alerts_notifications_failed_total", "counter",
         "Notifications given up (every attempt failed, or the channel's queue was full)"},
        {"iocd_alerts_history_dropped_total", "counter",
         "Alert history writes dropped (database queue full)"},
    };
    const uint64_t v[] = {a->nrules, a->st.pending, a->st.firing, a->st.notifications_sent,
                          a->st.notifications_failed, a->st.history_dropped};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        metrics_header(out, names[i][0], names[i][1], names[i][2]);
        strbuf_printf(out, "%s %llu\n", names[i][0], (unsigned long long)v[i]);
    }
}

static void on_delivery(void *ud, const notify_result_t *r)
{
    alerts_t *a = ud;
    char id[32], attempt[16], status[16];
    char q1[256], q2[256];
    snprintf(id, sizeof id, "%lld", (long long)r->alert_id);
    snprintf(attempt, sizeof attempt, "%u", r->attempt);
    snprintf(status, sizeof status, "%ld", r->status);
    if (r->ok)
        a->st.notifications_sent++;
    else if (r->final)
        a->st.notifications_failed++;
    if (!r->ok)
        log_warn("alerts", "event=notify_failed channel=%s target=%s attempt=%u final=%d error=%s",
                 r->channel, log_q(q1, sizeof q1, r->target), r->attempt, r->final,
                 log_q(q2, sizeof q2, r->error));
    if (!a->db)
        return;
    const char *p[] = {id, r->rule_id, r->channel, r->target, r->event, attempt,
                       r->ok ? "t" : "f", status, r->error};
    if (adb_send(a->db,
                 "INSERT INTO alert_deliveries (alert_id, rule_id, channel, target, event, "
                 "attempt, ok, status, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                 "NULLIF($9, ''))",
                 9, p, true, NULL, NULL))
        a->st.history_dropped++;
}

int alerts_create(uv_loop_t *loop, const config_t *cfg, hub_t *hub, alerts_t **out, char *err,
                  size_t errlen)
{
    alerts_t *a = calloc(1, sizeof *a);
    notify_channel_t *wh;
    int rc = IOC_ENOMEM;
    *out = NULL;
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    a->loop = loop;
    a->hub = hub;
    a->created_us = alerts_now();
    if ((rc = load_inds(a, cfg))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((rc = parse_config_rules(a, cfg, true, err, errlen)))
        goto fail;
    if ((rc = notify_webhook_create(loop, ALERTS_WEBHOOK_JOBS, on_delivery, a, &wh))) {
        snprintf(err, errlen, "webhooks: libcurl could not be set up (or has no asynchronous "
                              "resolver)");
        goto fail;
    }
    notifier_add(&a->notifier, wh);
    uv_timer_init(loop, &a->tick);
    a->tick.data = a;
    uv_timer_start(&a->tick, on_tick, ALERTS_TICK_MS, ALERTS_TICK_MS);
    if (hub)
        hub_set_snapshot_provider(hub, "alerts", snapshot, a);
    metrics_register(render_metrics, a);
    *out = a;
    return IOC_OK;
fail:
    while (a->nrules)
        alerts_rule_remove(a, a->rules[a->nrules - 1]);
    free(a->rules);
    free_inds(a);
    free(a);
    return rc;
}

void alerts_set_dsn(alerts_t *a, const char *dsn)
{
    if (a->db || !dsn)
        return;
    if (adb_create(a->loop, dsn, alerts_db_ready, a, &a->db)) {
        log_error("alerts", "event=db_failed action=memory_only");
        a->db = NULL;
    }
}

static void part_closed(void *ud)
{
    alerts_t *a = ud;
    if (--a->closing_parts > 0)
        return;
    void (*done)(void *) = a->done;
    void *dud = a->done_ud;
    while (a->nrules)
        alerts_rule_remove(a, a->rules[a->nrules - 1]);
    free(a->rules);
    free_inds(a);
    free(a);
    if (done)
        done(dud);
}

static void on_tick_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void on_notifier_closed(void *ud)
{
    alerts_t *a = ud;
    a->closing_parts++;
    if (a->db)
        adb_close(a->db, part_closed, a);
    else
        part_closed(a);
    a->db = NULL;
    part_closed(a);
}

void alerts_close(alerts_t *a, void (*done)(void *ud), void *ud)
{
    a->closing = true;
    a->done = done;
    a->done_ud = ud;
    a->closing_parts = 2;
    if (a->hub)
        hub_set_snapshot_provider(a->hub, "alerts", NULL, NULL);
    metrics_unregister(render_metrics, a);
    uv_timer_stop(&a->tick);
    uv_close((uv_handle_t *)&a->tick, on_tick_closed);
    notifier_close(&a->notifier, on_notifier_closed, a);
}

