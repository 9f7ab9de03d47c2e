/* GET /api/v1/audit?since=&action=&actor=&limit= (admin): the audit log, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth_store.h"
#include "ioc/error.h"

#define DEFAULT_LIMIT 100

typedef struct audit_req {
    web_req_t *req;   /* NULL once the client has gone */
} audit_req_t;

static void on_cancel(void *ud)
{
    audit_req_t *ar = ud;
    ar->req = NULL;
}

static void on_entries(void *ud, int status, const cJSON *entries)
{
    audit_req_t *ar = ud;
    char *s;

    if (ar->req) {
        if (status || !(s = cJSON_PrintUnformatted(entries))) {
            api_respond_error(ar->req, 503, NULL, NULL, "audit log unavailable (database), try again");
        } else {
            web_respond(ar->req, 200, "application/json", s, strlen(s));
            cJSON_free(s);
        }
    }
    free(ar);
}

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (UTC) or a number of seconds since the epoch. */
static int parse_since(const char *s, int64_t *us)
{
    struct tm tm = {0};
    char *end;
    long long secs = strtoll(s, &end, 10);

    if (*s && !*end) {
        *us = secs * 1000000;
        return 0;
    }
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z")))
        return -1;
    *us = (int64_t)timegm(&tm) * 1000000;
    return 0;
}

static void handle_audit(web_req_t *req, void *ud)
{
    app_t *app = ud;
    const char *since = web_req_query(req, "since"), *lim = web_req_query(req, "limit");
    int64_t since_us = 0;
    long limit = DEFAULT_LIMIT;
    char *end;
    audit_req_t *ar;
    int rc;

    if (auth_require(app->cfg, req, ROLE_ADMIN))
        return;
    if (since && parse_since(since, &since_us))
        return api_respond_error(req, 400, "param", "since",
                             "expected seconds since the epoch or YYYY-MM-DDTHH:MM:SSZ");
    if (lim && ((limit = strtol(lim, &end, 10)) < 1 || limit > 1000 || *end || !*lim))
        return api_respond_error(req, 400, "param", "limit", "expected 1 to 1000");
    if (!auth_store_ready(app->auth))
        return api_respond_error(req, 503, NULL, NULL, "audit log unavailable (database), try again");
    if (!(ar = calloc(1, sizeof *ar)))
        return api_respond_error(req, 500, NULL, NULL, "out of memory");
    ar->req = req;
    web_req_on_cancel(req, on_cancel, ar);
    rc = auth_audit_list(app->auth, since_us, web_req_query(req, "action"),
                         web_req_query(req, "actor"), (int)limit, on_entries, ar);
    if (rc) {
        web_req_on_cancel(req, NULL, NULL);
        free(ar);
        api_respond_error(req, 503, NULL, NULL, "audit log unavailable (database), try again");
    }
}

int api_audit_register(app_t *app)
{
    return web_route(app->web, "GET", "/api/v1/audit", handle_audit, app, 0);
}
