/* /api/v1/tokens (admin): list (GET), create (POST {"name","role"}: the token is in the answer,
 * once), revoke (DELETE /api/v1/tokens/{name}: its live sockets are closed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth_store.h"
#include "ioc/error.h"

#define PATH "/api/v1/tokens"
#define MAX_BODY 4096

typedef struct token_req {
    web_req_t *req;   /* NULL once the client has gone */
    char name[AUTH_MAX_NAME + 1];
    char role[16];
    bool create;
} token_req_t;

static void respond_status(web_req_t *req, int status, const char *msg)
{
    switch (status) {
    case IOC_EINVAL:
        api_respond_error(req, 422, "field", msg && !strncmp(msg, "role", 4) ? "role" : "name", msg);
        return;
    case IOC_EAGAIN: api_respond_error(req, 409, "field", "name", "a token of that name exists"); return;
    case IOC_ENOTFOUND: api_respond_error(req, 404, NULL, NULL, "no such token"); return;
    case IOC_EFULL: api_respond_error(req, 503, NULL, NULL, "too many tokens or requests"); return;
    default: api_respond_error(req, 503, NULL, NULL, "token store unavailable (database), try again"); return;
    }
}

static void on_cancel(void *ud)
{
    token_req_t *tr = ud;
    tr->req = NULL;
}

static void on_done(void *ud, int status, const char *msg)
{
    token_req_t *tr = ud;
    cJSON *o;

    if (tr->req) {
        if (status) {
            respond_status(tr->req, status, msg);
        } else if (!tr->create) {
            web_respond(tr->req, 204, NULL, NULL, 0);
        } else {
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", tr->name);
            cJSON_AddStringToObject(o, "role", tr->role);
            cJSON_AddStringToObject(o, "token", msg);
            api_respond_json(tr->req, 201, o);
        }
    }
    free(tr);
}

static token_req_t *pending(web_req_t *req, const char *name, bool create)
{
    token_req_t *tr = calloc(1, sizeof *tr);
    if (!tr) {
        api_respond_error(req, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    tr->req = req;
    tr->create = create;
    snprintf(tr->name, sizeof tr->name, "%s", name);
    web_req_on_cancel(req, on_cancel, tr);
    return tr;
}

static void started(web_req_t *req, token_req_t *tr, int rc)
{
    if (!rc)
        return;
    web_req_on_cancel(req, NULL, NULL);
    free(tr);
    respond_status(req, rc, NULL);
}

static void handle_list(web_req_t *req, void *ud)
{
    app_t *app = ud;
    if (auth_require(app->cfg, req, ROLE_ADMIN))
        return;
    api_respond_json(req, 200, auth_tokens_json(app->auth, app->cfg));
}

static void handle_create(web_req_t *req, void *ud)
{
    app_t *app = ud;
    auth_ident_t who;
    cJSON *body, *name, *role;
    token_req_t *tr;

    if (auth_require_who(app->cfg, req, ROLE_ADMIN, &who))
        return;
    if (!auth_store_ready(app->auth))
        return respond_status(req, IOC_EDB, NULL);
    body = cJSON_Parse(web_req_body(req, NULL));
    name = cJSON_GetObjectItemCaseSensitive(body, "name");
    role = cJSON_GetObjectItemCaseSensitive(body, "role");
    if (!cJSON_IsObject(body))
        api_respond_error(req, 400, NULL, NULL, "expected a JSON object {\"name\", \"role\"}");
    else if (!cJSON_IsString(name))
        api_respond_error(req, 400, "field", "name", "expected a string");
    else if (!cJSON_IsString(role))
        api_respond_error(req, 400, "field", "role", "expected a string");
    else if ((tr = pending(req, name->valuestring, true))) {
        snprintf(tr->role, sizeof tr->role, "%s", role->valuestring);
        for (size_t i = 0; i < app->cfg->ntokens; i++)
            if (!strcmp(app->cfg->tokens[i].name, name->valuestring)) {
                started(req, tr, IOC_EAGAIN);
                goto out;
            }
        started(req, tr,
                auth_token_create(app->auth, name->valuestring, role->valuestring, who.name,
                                  web_req_peer(req), on_done, tr));
    }
out:
    cJSON_Delete(body);
}

static void handle_revoke(web_req_t *req, void *ud)
{
    app_t *app = ud;
    auth_ident_t who;
    const char *name = web_req_path(req) + strlen(PATH "/");
    token_req_t *tr;

    if (auth_require_who(app->cfg, req, ROLE_ADMIN, &who))
        return;
    if (!auth_store_ready(app->auth))
        return respond_status(req, IOC_EDB, NULL);
    if ((tr = pending(req, name, false)))
        started(req, tr, auth_token_revoke(app->auth, name, who.name, web_req_peer(req), on_done, tr));
}

int api_tokens_register(app_t *app)
{
    int rc = web_route(app->web, "GET", PATH, handle_list, app, 0);
    if (rc == 0)
        rc = web_route(app->web, "POST", PATH, handle_create, app, MAX_BODY);
    if (rc == 0)
        rc = web_route(app->web, "DELETE", PATH "/*", handle_revoke, app, 0);
    return rc;
}
