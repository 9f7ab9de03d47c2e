/* Alert rules and alerts over HTTP: /api/v1/alert-rules[/{id}|/preview], /api/v1/alerts[/{id}
 * [/ack|/silence|/unsilence]] and /api/v1/alert-events. Viewers read; operators change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alerts/alerts.h"
#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth.h"

#define READ_ROLES (ROLE_VIEWER | ROLE_OPERATOR | ROLE_ANALYST)
#define CHANGE_ROLES ROLE_OPERATOR
#define MAX_BODY (64 * 1024)
#define RULES "/api/v1/alert-rules"
#define ALERTS "/api/v1/alerts"

/* One request waiting for the alerts module's answer. */
typedef struct areq {
    web_req_t *req;
    bool cancelled;
} areq_t;

static void on_cancel(void *ud)
{
    ((areq_t *)ud)->cancelled = true;
}

static void on_reply(void *ud, int status, cJSON *body)
{
    areq_t *r = ud;
    if (r->cancelled)
        cJSON_Delete(body);
    else
        api_respond_json(r->req, status, body);
    free(r);
}

/* A waiting request, with its cancel callback set; NULL after answering 500. */
static areq_t *wait_req(web_req_t *req)
{
    areq_t *r = calloc(1, sizeof *r);
    if (!r) {
        api_respond_error(req, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    r->req = req;
    web_req_on_cancel(req, on_cancel, r);
    return r;
}

/* The JSON body, or NULL after answering 400 naming where it fails. */
static cJSON *body_json(web_req_t *req, bool allow_empty)
{
    size_t len;
    const char *b = web_req_body(req, &len);
    const char *end = NULL;
    char msg[96];
    if ((!b || len == 0) && allow_empty)
        return cJSON_CreateObject();
    cJSON *j = b ? cJSON_ParseWithLengthOpts(b, len, &end, false) : NULL;
    while (j && end < b + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (j && end != b + len) {
        cJSON_Delete(j);
        snprintf(msg, sizeof msg, "invalid JSON: trailing bytes at byte %ld", (long)(end - b));
        api_respond_error(req, 400, NULL, NULL, msg);
        return NULL;
    }
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(msg, sizeof msg, "invalid JSON at byte %ld",
                 b && at && at >= b && at <= b + len ? (long)(at - b) : 0L);
        api_respond_error(req, 400, NULL, NULL, msg);
    }
    return j;
}

static bool ready(app_t *app, web_req_t *req)
{
    if (!app->alerts) {
        api_respond_error(req, 503, NULL, NULL, "alerts are not running");
        return false;
    }
    return true;
}

static void handle_rules(web_req_t *req, void *ud)
{
    app_t *app = ud;
    const char *m = web_req_method(req);
    bool post = strcmp(m, "POST") == 0;
    if (!post && strcmp(m, "GET") != 0) {
        api_respond_error(req, 405, NULL, NULL, "use GET or POST");
        return;
    }
    if (auth_require(app->cfg, req, post ? CHANGE_ROLES : READ_ROLES) || !ready(app, req))
        return;
    cJSON *j = post ? body_json(req, false) : NULL;
    areq_t *r = (!post || j) ? wait_req(req) : NULL;
    if (r && post)
        alerts_rule_put(app->alerts, NULL, j, on_reply, r);
    else if (r)
        alerts_rules_list(app->alerts, on_reply, r);
    cJSON_Delete(j);
}

static void handle_rule(web_req_t *req, void *ud)
{
    app_t *app = ud;
    const char *m = web_req_method(req);
    const char *id = web_req_path(req) + strlen(RULES "/");
    bool get = strcmp(m, "GET") == 0, put = strcmp(m, "PUT") == 0;
    bool del = strcmp(m, "DELETE") == 0, preview = strcmp(id, "preview") == 0;
    if (preview ? strcmp(m, "POST") != 0 : !(get || put || del)) {
        api_respond_error(req, 405, NULL, NULL, preview ? "use POST" : "use GET, PUT or DELETE");
        return;
    }
    if (!*id || strchr(id, '/')) {
        api_respond_error(req, 404, NULL, NULL, "not found");
        return;
    }
    if (auth_require(app->cfg, req, get ? READ_ROLES : CHANGE_ROLES) || !ready(app, req))
        return;
    cJSON *j = (put || preview) ? body_json(req, false) : NULL;
    if ((put || preview) && !j)
        return;
    areq_t *r = wait_req(req);
    if (!r) {
        cJSON_Delete(j);
        return;
    }
    if (preview)
        alerts_preview(app->alerts, j, on_reply, r);
    else if (put)
        alerts_rule_put(app->alerts, id, j, on_reply, r);
    else if (del)
        alerts_rule_delete(app->alerts, id, on_reply, r);
    else
        alerts_rule_get(app->alerts, id, on_reply, r);
    cJSON_Delete(j);
}

/* Reads since/limit/rule/group; false after answering 400. */
static bool read_filter(web_req_t *req, alerts_filter_t *f)
{
    const char *since = web_req_query(req, "since"), *limit = web_req_query(req, "limit");
    char *end;
    memset(f, 0, sizeof *f);
    f->rule = web_req_query(req, "rule");
    f->group = web_req_query(req, "group");
    if (since && alerts_parse_time(since, &f->since_us)) {
        api_respond_error(req, 400, "field", "since", "expected an ISO 8601 time, e.g. 2025-01-31T08:00:00Z");
        return false;
    }
    if (limit) {
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > 1000) {
            api_respond_error(req, 400, "field", "limit", "a whole number from 1 to 1000");
            return false;
        }
        f->limit = (int)v;
    }
    return true;
}

static void handle_alerts(web_req_t *req, void *ud)
{
    app_t *app = ud;
    alerts_filter_t f;
    if (auth_require(app->cfg, req, READ_ROLES) || !ready(app, req) || !read_filter(req, &f))
        return;
    f.state = web_req_query(req, "state");
    areq_t *r = wait_req(req);
    if (r)
        alerts_list(app->alerts, &f, on_reply, r);
}

static void handle_events(web_req_t *req, void *ud)
{
    app_t *app = ud;
    alerts_filter_t f;
    const char *alert = web_req_query(req, "alert");
    char *end;
    if (auth_require(app->cfg, req, READ_ROLES) || !ready(app, req) || !read_filter(req, &f))
        return;
    f.state = web_req_query(req, "event");
    if (alert) {
        f.alert_id = strtoll(alert, &end, 10);
        if (*end || f.alert_id <= 0) {
            api_respond_error(req, 400, "field", "alert", "expected an alert id");
            return;
        }
    }
    areq_t *r = wait_req(req);
    if (r)
        alerts_events(app->alerts, &f, on_reply, r);
}

/* POST {id}/ack {"comment"}, {id}/silence {"until"}, {id}/unsilence; GET {id}. */
static void handle_alert(web_req_t *req, void *ud)
{
    app_t *app = ud;
    const char *m = web_req_method(req), *p = web_req_path(req) + strlen(ALERTS "/");
    char *end;
    int64_t id = strtoll(p, &end, 10), until = 0;
    const char *action = *end == '/' ? end + 1 : end;
    bool get = !*action;
    if (id <= 0 || end == p || (*end && *end != '/') ||
        (!get && strcmp(action, "ack") && strcmp(action, "silence") &&
         strcmp(action, "unsilence"))) {
        api_respond_error(req, 404, NULL, NULL, "not found");
        return;
    }
    if (strcmp(m, get ? "GET" : "POST") != 0) {
        api_respond_error(req, 405, NULL, NULL, get ? "use GET" : "use POST");
        return;
    }
    auth_ident_t who;
    if (auth_require_who(app->cfg, req, get ? READ_ROLES : CHANGE_ROLES, &who) ||
        !ready(app, req))
        return;
    if (get) {
        areq_t *r = wait_req(req);
        if (r)
            alerts_get(app->alerts, id, on_reply, r);
        return;
    }
    cJSON *j = body_json(req, true);
    if (!j)
        return;
    const cJSON *comment = cJSON_GetObjectItemCaseSensitive(j, "comment");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "until");
    if (!cJSON_IsObject(j)) {
        api_respond_error(req, 400, NULL, NULL, "expected a JSON object");
    } else if (!strcmp(action, "ack") && comment && !cJSON_IsString(comment)) {
        api_respond_error(req, 400, "field", "comment", "expected a string");
    } else if (!strcmp(action, "ack") && comment && strlen(comment->valuestring) > 2000) {
        api_respond_error(req, 422, "field", "comment", "longer than 2000 bytes");
    } else if (!strcmp(action, "silence") && !cJSON_IsString(u)) {
        api_respond_error(req, 400, "field", "until", "required: an ISO 8601 time");
    } else if (!strcmp(action, "silence") && alerts_parse_time(u->valuestring, &until)) {
        api_respond_error(req, 422, "field", "until",
                      "expected an ISO 8601 time, e.g. 2025-01-31T18:00:00+07:00");
    } else {
        areq_t *r = wait_req(req);
        if (r && !strcmp(action, "ack"))
            alerts_ack(app->alerts, id, who.name, comment ? comment->valuestring : "", on_reply,
                       r);
        else if (r)
            alerts_silence(app->alerts, id, who.name, until, on_reply, r);
    }
    cJSON_Delete(j);
}

int api_alerts_register(app_t *app)
{
    int rc = web_route(app->web, "*", RULES, handle_rules, app, MAX_BODY);
    if (!rc)
        rc = web_route(app->web, "*", RULES "/*", handle_rule, app, MAX_BODY);
    if (!rc)
        rc = web_route(app->web, "GET", ALERTS, handle_alerts, app, 0);
    if (!rc)
        rc = web_route(app->web, "*", ALERTS "/*", handle_alert, app, 4096);
    if (!rc)
        rc = web_route(app->web, "GET", "/api/v1/alert-events", handle_events, app, 0);
    return rc;
}
