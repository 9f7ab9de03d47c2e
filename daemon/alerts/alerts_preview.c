/* Rule preview: replays the last 24 hours of 1-minute rollups through the rule's lifecycle
 * and counts how often it would have fired, per group. A threshold is checked against the
 * minute's extreme on its side (max for > and >=, min for < and <=, both for outside), so a
 * crossing within a minute counts; rate rules use the minute's mean. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts_int.h"
#include "ioc/error.h"

#define MINUTES 1440
#define MINUTE_US (60LL * 1000000)
#define PREVIEW_MAX_GROUPS 500

typedef struct pctx {
    alerts_t *a;
    alert_rule_t *r;
    int64_t from_min, to_min; /* minutes since the epoch, [from, to) */
    alerts_reply_fn reply;
    void *ud;
} pctx_t;

/* One group's minutes: mean, min, max and presence. */
typedef struct series {
    double v[MINUTES], lo[MINUTES], hi[MINUTES];
    bool has[MINUTES];
} series_t;

static int cond_at(const alert_rule_t *r, const series_t *s, int i, int *last_data)
{
    if (s->has[i])
        *last_data = i;
    if (r->op == AOP_NODATA)
        return (int64_t)(i - *last_data) * 60000 >= (int64_t)r->after_ms;
    if (!s->has[i])
        return -1;
    if (r->op == AOP_RATE) {
        int back = (int)(r->window_ms / 60000);
        if (i - back < 0 || !s->has[i - back])
            return -1;
        return alert_rule_check(r, s->v[i] - s->v[i - back]);
    }
    if (r->op == AOP_OUTSIDE) {
        int lo = alert_rule_check(r, s->lo[i]), hi = alert_rule_check(r, s->hi[i]);
        return lo == 1 || hi == 1 ? 1 : lo == 0 && hi == 0 ? 0 : -1;
    }
    return alert_rule_check(r, r->op == AOP_GT || r->op == AOP_GE ? s->hi[i] : s->lo[i]);
}

/* Runs one group's day; adds {"group","fired","firing_minutes"} to arr; returns fires. */
static int simulate(const pctx_t *c, const char *group, const series_t *s, cJSON *arr)
{
    alert_sm_cfg_t smc;
    alert_sm_t sm = {0};
    alert_sm_out_t o;
    int fired = 0, firing_min = 0, last_data = 0; /* the day's start counts as data */
    alert_sm_cfg_of(c->r, &smc);
    smc.flap_changes = 0;
    for (int i = 0; i < (int)(c->to_min - c->from_min) && i < MINUTES; i++) {
        int64_t now = (c->from_min + i) * MINUTE_US;
        alert_sm_step(&sm, &smc, cond_at(c->r, s, i, &last_data), now, now, &o);
        for (int k = 0; k < o.ntrans; k++)
            fired += o.trans[k] == ATR_FIRING;
        firing_min += sm.state == AST_FIRING;
    }
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "group", group);
    cJSON_AddNumberToObject(g, "fired", fired);
    cJSON_AddNumberToObject(g, "firing_minutes", firing_min);
    cJSON_AddItemToArray(arr, g);
    return fired;
}

static void on_rows(void *ud, int status, PGresult *res)
{
    pctx_t *c = ud;
    char ts[40];
    series_t *s = NULL;
    cJSON *out = NULL, *groups;
    int total = 0, ngroups = 0;
    bool truncated = false;
    if (status || !res) {
        c->reply(c->ud, 503, alerts_err_json(NULL, "database error"));
        goto done;
    }
    out = cJSON_CreateObject();
    s = malloc(sizeof *s);
    if (!out || !s) {
        c->reply(c->ud, 500, alerts_err_json(NULL, "out of memory"));
        goto done;
    }
    alerts_iso(ts, sizeof ts, c->from_min * MINUTE_US);
    cJSON_AddStringToObject(out, "from", ts);
    alerts_iso(ts, sizeof ts, c->to_min * MINUTE_US);
    cJSON_AddStringToObject(out, "to", ts);
    groups = cJSON_AddArrayToObject(out, "groups");
    for (int i = 0, n = PQntuples(res); i < n;) {
        const char *grp = PQgetvalue(res, i, 0);
        if (ngroups == PREVIEW_MAX_GROUPS) {
            truncated = true;
            break;
        }
        memset(s->has, 0, sizeof s->has);
        int j = i;
        for (; j < n && strcmp(PQgetvalue(res, j, 0), grp) == 0; j++) {
            long long m = strtoll(PQgetvalue(res, j, 1), NULL, 10) - c->from_min;
            if (m >= 0 && m < MINUTES && !PQgetisnull(res, j, 2) && !PQgetisnull(res, j, 3) &&
                !PQgetisnull(res, j, 4)) {
                s->v[m] = strtod(PQgetvalue(res, j, 2), NULL);
                s->lo[m] = strtod(PQgetvalue(res, j, 3), NULL);
                s->hi[m] = strtod(PQgetvalue(res, j, 4), NULL);
                s->has[m] = isfinite(s->v[m]) && isfinite(s->lo[m]) && isfinite(s->hi[m]);
            }
        }
        total += simulate(c, grp, s, groups);
        ngroups++;
        i = j;
    }
    if (ngroups == 0 && c->r->group) {
        memset(s->has, 0, sizeof s->has);
        total += simulate(c, c->r->group, s, groups);
    }
    cJSON_AddNumberToObject(out, "fired", total);
    cJSON_AddBoolToObject(out, "truncated", truncated);
    c->reply(c->ud, 200, out);
    out = NULL;
done:
    cJSON_Delete(out);
    free(s);
    alert_rule_free(c->r);
    free(c);
}

void alerts_preview(alerts_t *a, const cJSON *def, alerts_reply_fn reply, void *ud)
{
    alert_env_t env;
    alert_err_t e;
    char from[32], to[32];
    pctx_t *c = calloc(1, sizeof *c);
    int rc;
    if (!c) {
        reply(ud, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    c->a = a;
    c->reply = reply;
    c->ud = ud;
    alerts_env(a, &env);
    if ((rc = alert_rule_parse(def, NULL, false, &env, &c->r, &e))) {
        reply(ud, rc == IOC_ENOMEM ? 500 : e.http, alerts_err_json(e.field, e.msg));
        free(c);
        return;
    }
    c->to_min = alerts_now() / MINUTE_US + 1; /* the current minute so far included */
    c->from_min = c->to_min - MINUTES;
    snprintf(from, sizeof from, "%lld", (long long)c->from_min * 60);
    snprintf(to, sizeof to, "%lld", (long long)c->to_min * 60);
    const alerts_ind_t *ind = alerts_ind_find(a, c->r->indicator);
    bool grouped = ind && ind->grouped;
    const char *p[] = {c->r->indicator, c->r->group ? c->r->group : grouped ? NULL : "",
                       !c->r->group && grouped ? "t" : "f", from, to};
    rc = a->db ? adb_send(a->db,
                          "SELECT grp, (extract(epoch FROM ts) / 60)::bigint, value, min, max"
                          " FROM rollups_1m"
                          " WHERE indicator = $1 AND ($2::text IS NULL OR grp = $2)"
                          " AND (NOT $3::bool OR grp <> '')"
                          " AND ts >= to_timestamp($4::bigint) AND ts < to_timestamp($5::bigint)"
                          " ORDER BY grp, ts",
                          5, p, false, on_rows, c)
               : IOC_EDB;
    if (rc) {
        reply(ud, 503, alerts_err_json(NULL, "database unavailable, try again"));
        alert_rule_free(c->r);
        free(c);
    }
}
