/* Alert rules over the API: list, get, create/replace (validated, stored, then applied) and
 * delete. Rules from the config file are read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alerts/alerts_int.h"
#include "ioc/error.h"

typedef struct rctx {
    alerts_t *a;
    alert_rule_t *r;     /* the new definition (put) */
    char id[ALERT_ID_MAX + 1];
    bool create;
    alerts_reply_fn reply;
    void *ud;
} rctx_t;

void alerts_rules_list(alerts_t *a, alerts_reply_fn reply, void *ud)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < a->nrules; i++)
        cJSON_AddItemToArray(arr, alert_rule_json(a->rules[i]->r));
    reply(ud, arr ? 200 : 500, arr ? arr : alerts_err_json(NULL, "out of memory"));
}

void alerts_rule_get(alerts_t *a, const char *id, alerts_reply_fn reply, void *ud)
{
    alerts_rent_t *re = alerts_rule_find(a, id);
    if (!re)
        reply(ud, 404, alerts_err_json(NULL, "no such rule"));
    else
        reply(ud, 200, alert_rule_json(re->r));
}

static void finish(rctx_t *c, int status, cJSON *body)
{
    c->reply(c->ud, status, body);
    alert_rule_free(c->r);
    free(c);
}

static void on_stored(void *ud, int status, PGresult *res)
{
    rctx_t *c = ud;
    alerts_t *a = c->a;
    alerts_rent_t *re;
    if (status) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (state && strcmp(state, "23505") == 0)
            finish(c, 409, alerts_err_json("id", "a rule with this id exists"));
        else
            finish(c, 503, alerts_err_json(NULL, "database unavailable, try again"));
        return;
    }
    if (!c->create && (!res || strcmp(PQcmdTuples(res), "0") == 0)) {
        finish(c, 404, alerts_err_json(NULL, "no such rule"));
        return;
    }
    re = alerts_rule_find(a, c->id);
    if (a->closing) {
        finish(c, 503, alerts_err_json(NULL, "shutting down"));
        return;
    }
    if (re) {
        alerts_rule_replace(a, re, c->r);
    } else if (!(re = alerts_rule_add(a, c->r))) {
        c->r = NULL;
        finish(c, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    c->r = NULL;
    finish(c, c->create ? 201 : 200, alert_rule_json(re->r));
}

/* Answers 503 when the database is not there, 409 for config rules; false if answered. */
static bool writable(alerts_t *a, const alerts_rent_t *re, alerts_reply_fn reply, void *ud)
{
    if (re && re->r->from_config) {
        reply(ud, 409, alerts_err_json(NULL, "this rule comes from the configuration file and "
                                             "cannot be changed through the API"));
        return false;
    }
    if (!a->db || !a->loaded) {
        reply(ud, 503, alerts_err_json(NULL, "rules are not loaded from the database yet, "
                                             "try again"));
        return false;
    }
    return true;
}

void alerts_rule_put(alerts_t *a, const char *id, const cJSON *def, alerts_reply_fn reply,
                     void *ud)
{
    alert_env_t env;
    alert_err_t e;
    alerts_rent_t *re = id ? alerts_rule_find(a, id) : NULL;
    rctx_t *c;
    char gen[20], *text;
    int rc;
    if (id && !re) {
        reply(ud, 404, alerts_err_json(NULL, "no such rule"));
        return;
    }
    if (re && !writable(a, re, reply, ud))
        return;
    alerts_env(a, &env);
    if (!(c = calloc(1, sizeof *c))) {
        reply(ud, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    c->a = a;
    c->reply = reply;
    c->ud = ud;
    c->create = id == NULL;
    if ((rc = alert_rule_parse(def, id, false, &env, &c->r, &e))) {
        finish(c, rc == IOC_ENOMEM ? 500 : e.http, alerts_err_json(e.field, e.msg));
        return;
    }
    if (!writable(a, NULL, c->reply, c->ud)) {
        alert_rule_free(c->r);
        free(c);
        return;
    }
    if (c->create && alerts_rule_find(a, c->r->id)) {
        finish(c, 409, alerts_err_json("id", "a rule with this id exists"));
        return;
    }
    if (c->create && a->nrules >= ALERTS_MAX_RULES) {
        finish(c, 422, alerts_err_json(NULL, "too many rules"));
        return;
    }
    if (!c->r->id[0]) {
        uint8_t rnd[6];
        randombytes_buf(rnd, sizeof rnd);
        snprintf(gen, sizeof gen, "r-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5]);
        alert_rule_set_id(c->r, gen);
    }
    snprintf(c->id, sizeof c->id, "%s", c->r->id);
    if (!(text = cJSON_PrintUnformatted(c->r->def))) {
        finish(c, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    const char *p[] = {c->id, text};
    rc = adb_send(a->db,
                  c->create ? "INSERT INTO alert_rules (id, def) VALUES ($1, $2)"
                            : "UPDATE alert_rules SET def = $2, updated_at = now() WHERE id = $1",
                  2, p, false, on_stored, c);
    cJSON_free(text);
    if (rc)
        finish(c, 503, alerts_err_json(NULL, "database unavailable, try again"));
}

static void on_deleted(void *ud, int status, PGresult *res)
{
    rctx_t *c = ud;
    alerts_rent_t *re;
    (void)res;
    if (status) {
        finish(c, 503, alerts_err_json(NULL, "database unavailable, try again"));
        return;
    }
    if (!c->a->closing && (re = alerts_rule_find(c->a, c->id)))
        alerts_rule_remove(c->a, re);
    finish(c, 204, NULL);
}

void alerts_rule_delete(alerts_t *a, const char *id, alerts_reply_fn reply, void *ud)
{
    alerts_rent_t *re = alerts_rule_find(a, id);
    rctx_t *c;
    if (!re) {
        reply(ud, 404, alerts_err_json(NULL, "no such rule"));
        return;
    }
    if (!writable(a, re, reply, ud))
        return;
    if (!(c = calloc(1, sizeof *c))) {
        reply(ud, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    c->a = a;
    c->reply = reply;
    c->ud = ud;
    snprintf(c->id, sizeof c->id, "%s", id);
    const char *p[] = {c->id};
    if (adb_send(a->db, "DELETE FROM alert_rules WHERE id = $1", 1, p, false, on_deleted, c))
        finish(c, 503, alerts_err_json(NULL, "database unavailable, try again"));
}
