/* /api/v1/session: log in (POST {"user","password"}: session cookie), log out (DELETE), who am I
 * (GET). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth_store.h"
#include "ioc/error.h"

#define PATH "/api/v1/session"
#define MAX_BODY 4096

typedef struct login_req {
    web_req_t *req;   /* NULL once the client has gone */
} login_req_t;

/* {"user","role","kind","expires"?} for an identity. */
static cJSON *who_json(const auth_ident_t *who, int64_t expires_us)
{
    cJSON *o = cJSON_CreateObject();
    const char *kind = who->session ? "session" : strncmp(who->name, "token:", 6) ? "anonymous"
                                                                                  : "token";
    cJSON_AddStringToObject(o, "user", who->session ? who->name : "");
    cJSON_AddStringToObject(o, "name", who->name);
    cJSON_AddStringToObject(o, "role", auth_role_name(who->role));
    cJSON_AddStringToObject(o, "kind", kind);
    if (expires_us)
        cJSON_AddNumberToObject(o, "expires", (double)(expires_us / 1000000));
    return o;
}

static void on_cancel(void *ud)
{
    login_req_t *lr = ud;
    lr->req = NULL;
}

static void on_login(void *ud, const auth_login_t *res)
{
    login_req_t *lr = ud;
    web_req_t *req = lr->req;
    char retry[16];

    free(lr);
    if (!req)
        return;
    switch (res->status) {
    case IOC_OK:
        web_req_add_header(req, "set-cookie", res->cookie);
        api_respond_json(req, 200, who_json(&res->who, res->expires_us));
        return;
    case IOC_EPERM:
        api_respond_error(req, 401, NULL, NULL, "wrong user name or password");
        return;
    case IOC_EAGAIN:
        snprintf(retry, sizeof retry, "%u", res->retry_after_s);
        web_req_add_header(req, "retry-after", retry);
        api_respond_error(req, 429, NULL, NULL, "too many attempts, wait before trying again");
        return;
    default:
        api_respond_error(req, 503, NULL, NULL, "log-in is unavailable (database), try again");
        return;
    }
}

static void handle_login(web_req_t *req, void *ud)
{
    app_t *app = ud;
    cJSON *body = cJSON_Parse(web_req_body(req, NULL));
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(body, "user");
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    login_req_t *lr;

    const char *origin = web_req_header(req, "origin");

    if (origin && !web_ws_origin_ok(origin, web_req_header(req, "host")))
        api_respond_error(req, 403, NULL, NULL, "log-in from another site's page");
    else if (!cJSON_IsObject(body))
        api_respond_error(req, 400, NULL, NULL, "expected a JSON object {\"user\", \"password\"}");
    else if (!cJSON_IsString(user) || !user->valuestring[0])
        api_respond_error(req, 400, "field", "user", "expected a non-empty string");
    else if (!cJSON_IsString(pw) || !pw->valuestring[0])
        api_respond_error(req, 400, "field", "password", "expected a non-empty string");
    else if (!auth_store_ready(app->auth))
        api_respond_error(req, 503, NULL, NULL, "log-in is unavailable (database), try again");
    else if (!(lr = calloc(1, sizeof *lr)))
        api_respond_error(req, 500, NULL, NULL, "out of memory");
    else {
        lr->req = req;
        web_req_on_cancel(req, on_cancel, lr);
        auth_login(app->auth, user->valuestring, pw->valuestring, web_req_peer(req), on_login, lr);
    }
    if (cJSON_IsString(pw))
        sodium_memzero(pw->valuestring, strlen(pw->valuestring));
    cJSON_Delete(body);
}

static void handle_logout(web_req_t *req, void *ud)
{
    app_t *app = ud;
    web_req_add_header(req, "set-cookie",
                       auth_logout(app->auth, web_req_header(req, "cookie"), web_req_peer(req)));
    web_respond(req, 204, NULL, NULL, 0);
}

static void handle_whoami(web_req_t *req, void *ud)
{
    app_t *app = ud;
    auth_ident_t who;

    if (auth_require_who(app->cfg, req, ROLE_VIEWER | ROLE_OPERATOR | ROLE_ANALYST | ROLE_WRITER,
                         &who))
        return;
    api_respond_json(req, 200, who_json(&who, 0));
}

static void handle_session(web_req_t *req, void *ud)
{
    const char *m = web_req_method(req);

    if (!strcmp(m, "POST"))
        handle_login(req, ud);
    else if (!strcmp(m, "DELETE"))
        handle_logout(req, ud);
    else
        handle_whoami(req, ud);
}

int api_session_register(app_t *app)
{
    int rc = web_route(app->web, "POST", PATH, handle_session, app, MAX_BODY);
    if (rc == 0)
        rc = web_route(app->web, "DELETE", PATH, handle_session, app, 0);
    if (rc == 0)
        rc = web_route(app->web, "GET", PATH, handle_session, app, 0);
    return rc;
}
