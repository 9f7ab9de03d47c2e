/* Alert documents, history rows and restore: what each change stores and shows, and loading
 * the stored rules and active alerts when the database connects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts_int.h"
#include "core/log.h"
#include "ioc/error.h"

void alerts_iso(char *buf, size_t len, int64_t ts_us)
{
    time_t s = (time_t)(ts_us / 1000000);
    int ms = (int)((ts_us % 1000000) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static void add_time(cJSON *o, const char *key, int64_t us)
{
    char ts[40];
    if (us <= 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    alerts_iso(ts, sizeof ts, us);
    cJSON_AddStringToObject(o, key, ts);
}

static const char *doc_state(const alert_sm_t *sm)
{
    if (sm->state != AST_OK)
        return alert_state_name(sm->state);
    return sm->fired_us ? "resolved" : "cancelled";
}

cJSON *alerts_doc(const alerts_slot_t *s)
{
    const alert_rule_t *r = s->re->r;
    const alerts_ind_t *ind = s->re->ind;
    char msg[1024];
    cJSON *o = cJSON_CreateObject(), *m, *ack;
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)s->sm.id);
    cJSON_AddStringToObject(o, "rule", r->id);
    cJSON_AddStringToObject(o, "rule_name", r->name);
    cJSON_AddStringToObject(o, "indicator", r->indicator);
    cJSON_AddStringToObject(o, "group", s->group);
    cJSON_AddStringToObject(o, "severity", alert_severity_name(r->severity));
    cJSON_AddStringToObject(o, "state", doc_state(&s->sm));
    if (s->in.has && r->op != AOP_NODATA)
        cJSON_AddNumberToObject(o, "value", s->in.value);
    else
        cJSON_AddNullToObject(o, "value");
    add_time(o, "started_at", s->sm.started_us);
    add_time(o, "fired_at", s->sm.fired_us);
    add_time(o, "resolved_at", s->sm.state == AST_OK ? s->sm.resolved_us : 0);
    alert_vars_t v = {
        .name = r->name, .group = s->group, .unit = ind ? ind->unit : "",
        .severity = alert_severity_name(r->severity), .value = s->in.value,
        .has_value = s->in.has && r->op != AOP_NODATA,
        .threshold = r->op == AOP_OUTSIDE ? (s->in.value < r->min ? r->min : r->max) : r->value,
    };
    m = cJSON_AddObjectToObject(o, "message");
    v.indicator = ind ? ind->name_vi : r->indicator;
    alert_render(r->msg_vi, &v, msg, sizeof msg);
    cJSON_AddStringToObject(m, "vi", msg);
    v.indicator = ind ? ind->name_en : r->indicator;
    alert_render(r->msg_en, &v, msg, sizeof msg);
    cJSON_AddStringToObject(m, "en", msg);
    if (s->acked_by) { /* kept after it resolves, until the next episode */
        ack = cJSON_AddObjectToObject(o, "acked");
        cJSON_AddStringToObject(ack, "by", s->acked_by);
        add_time(ack, "at", s->acked_at);
        cJSON_AddStringToObject(ack, "comment", s->ack_comment ? s->ack_comment : "");
    } else {
        cJSON_AddNullToObject(o, "acked");
    }
    bool silenced = alert_sm_silenced(&s->sm, alerts_now());
    add_time(o, "silenced_until", silenced ? s->sm.silenced_until : 0);
    if (silenced && s->silenced_by)
        cJSON_AddStringToObject(o, "silenced_by", s->silenced_by);
    cJSON_AddBoolToObject(o, "flapping", s->sm.flapping);
    return o;
}

/* Stores the alert's row and one history row in one statement. */
static const char record_sql[] =
    "WITH a AS (INSERT INTO alerts (id, rule_id, grp, state, severity, started_at, fired_at, "
    "  resolved_at, value, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())"
    "  ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, fired_at = EXCLUDED.fired_at,"
    "  resolved_at = EXCLUDED.resolved_at, value = EXCLUDED.value, doc = EXCLUDED.doc,"
    "  severity = EXCLUDED.severity, updated_at = now())"
    " INSERT INTO alert_events (alert_id, rule_id, grp, ts, event, state, value, who, comment)"
    " VALUES ($1, $2, $3, now(), $11, $4, $9, $12, $13)";

static const char *opt_time(char *buf, size_t len, int64_t us)
{
    if (us <= 0)
        return NULL;
    alerts_iso(buf, len, us);
    return buf;
}

void alerts_record(alerts_t *a, alerts_slot_t *s, const char *event, const char *who,
                   const char *comment)
{
    char id[32], started[40], fired[40], resolved[40], value[40];
    cJSON *doc = alerts_doc(s);
    char *text;
    if (!doc)
        return;
    cJSON_AddStringToObject(doc, "event", event);
    if (a->hub)
        hub_alert(a->hub, doc);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "event");
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!text || !a->db) {
        cJSON_free(text);
        return;
    }
    snprintf(id, sizeof id, "%lld", (long long)s->sm.id);
    snprintf(value, sizeof value, "%.17g", s->in.value);
    const char *p[] = {
        id,
        s->re->r->id,
        s->group,
        doc_state(&s->sm),
        alert_severity_name(s->re->r->severity),
        opt_time(started, sizeof started, s->sm.started_us),
        opt_time(fired, sizeof fired, s->sm.fired_us),
        s->sm.state == AST_OK ? opt_time(resolved, sizeof resolved, s->sm.resolved_us) : NULL,
        s->in.has ? value : NULL,
        text,
        event,
        who,
        comment,
    };
    if (adb_send(a->db, record_sql, 13, p, true, NULL, NULL)) {
        if (a->st.history_dropped++ == 0)
            log_warn("alerts", "event=history_dropped reason=database_queue_full");
    }
    cJSON_free(text);
}

/* Restores one active alert from its stored document. */
static void restore_one(alerts_t *a, const char *text, int64_t now)
{
    cJSON *d = cJSON_Parse(text);
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(d, "rule");
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(d, "group");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "state");
    alerts_rent_t *re;
    alerts_slot_t *s;
    int64_t t;
    if (cJSON_IsNumber(id) && (int64_t)id->valuedouble > a->last_id)
        a->last_id = (int64_t)id->valuedouble;
    if (!cJSON_IsString(rule) || !cJSON_IsString(grp) || !cJSON_IsNumber(id) ||
        !cJSON_IsString(st) ||
        (strcmp(st->valuestring, "firing") && strcmp(st->valuestring, "pending")) ||
        !(re = alerts_rule_find(a, rule->valuestring)) ||
        !(s = alerts_slot_get(a, re, grp->valuestring, true)) || s->sm.state != AST_OK)
        goto done;
    s->sm.id = (int64_t)id->valuedouble;
    s->sm.state = strcmp(st->valuestring, "firing") == 0 ? AST_FIRING : AST_PENDING;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "started_at");
    s->sm.started_us = cJSON_IsString(v) && !alerts_parse_time(v->valuestring, &t) ? t : now;
    v = cJSON_GetObjectItemCaseSensitive(d, "fired_at");
    s->sm.fired_us = cJSON_IsString(v) && !alerts_parse_time(v->valuestring, &t) ? t : 0;
    v = cJSON_GetObjectItemCaseSensitive(d, "silenced_until");
    if (cJSON_IsString(v) && !alerts_parse_time(v->valuestring, &t))
        s->sm.silenced_until = t;
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(d, "acked");
    if (cJSON_IsObject(ack)) {
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(ack, "by");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(ack, "comment");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(ack, "at");
        s->sm.acked = true;
        s->acked_by = strdup(cJSON_IsString(by) ? by->valuestring : "");
        s->ack_comment = strdup(cJSON_IsString(c) ? c->valuestring : "");
        s->acked_at = cJSON_IsString(at) && !alerts_parse_time(at->valuestring, &t) ? t : now;
    }
    /* It was notified before the restart (as far as we know): no second "firing". */
    s->sm.notified = s->sm.state == AST_FIRING;
    s->sm.notified_id = s->sm.id;
    s->sm.last_notify_us = now;
done:
    cJSON_Delete(d);
}

static void on_alerts_loaded(void *ud, int status, PGresult *res)
{
    alerts_t *a = ud;
    int64_t now = alerts_now();
    a->loading = false;
    if (status || !res) {
        log_error("alerts", "event=restore_failed error=\"%s\" action=retry",
                  res ? PQresultErrorMessage(res) : "no result");
        return;
    }
    for (int i = 0; i < PQntuples(res); i++)
        restore_one(a, PQgetvalue(res, i, 0), now);
    log_info("alerts", "event=loaded rules=%zu rows=%d", a->nrules, PQntuples(res));
    a->loaded = true;
}

static void on_rules_loaded(void *ud, int status, PGresult *res)
{
    alerts_t *a = ud;
    alert_env_t env;
    alerts_env(a, &env);
    if (status || !res) {
        /* Before the store's migrations ran the tables are missing: the next tick retries. */
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (!state || strcmp(state, "42P01") != 0)
            log_error("alerts", "event=rules_load_failed error=\"%s\" action=retry",
                      res ? PQresultErrorMessage(res) : "no result");
        a->loading = false;
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        cJSON *def = cJSON_Parse(PQgetvalue(res, i, 1));
        alert_rule_t *r;
        alert_err_t e;
        if (alerts_rule_find(a, id)) {
            log_warn("alerts", "event=rule_shadowed id=%s detail=\"a config rule has this id\"",
                     id);
        } else if (alert_rule_parse(def, id, false, &env, &r, &e)) {
            log_warn("alerts", "event=rule_invalid id=%s field=%s error=\"%s\"", id, e.field,
                     e.msg);
        } else if (a->nrules < ALERTS_MAX_RULES) {
            alerts_rule_add(a, r);
        } else {
            alert_rule_free(r);
        }
        cJSON_Delete(def);
    }
    a->rules_loaded = true;
    a->loading = false;
    alerts_db_ready(a);
}

void alerts_db_ready(void *ud)
{
    alerts_t *a = ud;
    if (a->loaded || a->loading || !a->db || !adb_up(a->db))
        return;
    if (a->rules_loaded)
        a->loading = adb_send_first(a->db,
                                    "SELECT doc FROM alerts WHERE state IN ('pending', 'firing')"
                                    " OR id = (SELECT max(id) FROM alerts)",
                                    0, NULL, on_alerts_loaded, a) == 0;
    else
        a->loading = adb_send_first(a->db, "SELECT id, def FROM alert_rules ORDER BY created_at",
                                    0, NULL, on_rules_loaded, a) == 0;
}
