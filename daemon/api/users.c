/* /api/v1/users (admin): list (GET), add (POST {"name","password","role"}), change
 * (PUT /api/v1/users/{name} {"password"?, "role"?, "disabled"?}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth_store.h"
#include "ioc/error.h"

#define PATH "/api/v1/users"
#define MAX_BODY 4096

typedef struct user_req {
    web_req_t *req;   /* NULL once the client has gone */
    int ok_status;
    char name[AUTH_MAX_NAME + 1];
    app_t *app;
} user_req_t;

/* Maps a change's status to HTTP: the message names the field ("password: ..."). */
static void respond_status(web_req_t *req, int status, const char *msg)
{
    char field[32] = "";
    const char *colon = msg ? strstr(msg, ": ") : NULL;

    if (colon && (size_t)(colon - msg) < sizeof field && !memchr(msg, ' ', (size_t)(colon - msg)))
        snprintf(field, sizeof field, "%.*s", (int)(colon - msg), msg);
    switch (status) {
    case IOC_EINVAL: api_respond_error(req, 422, "field", field[0] ? field : NULL, msg); return;
    case IOC_EAGAIN: api_respond_error(req, 409, "field", "name", "a user of that name exists"); return;
    case IOC_ENOTFOUND: api_respond_error(req, 404, NULL, NULL, "no such user"); return;
    case IOC_EPERM: api_respond_error(req, 403, NULL, NULL, msg ? msg : "not allowed"); return;
    default: api_respond_error(req, 503, NULL, NULL, "user store unavailable (database), try again"); return;
    }
}

/* The list entry of one user, or NULL. */
static cJSON *user_entry(app_t *app, const char *name)
{
    cJSON *all = auth_users_json(app->auth), *it, *found = NULL;
    cJSON_ArrayForEach(it, all)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")), name)) {
            found = cJSON_DetachItemViaPointer(all, it);
            break;
        }
    cJSON_Delete(all);
    return found;
}

static void on_cancel(void *ud)
{
    user_req_t *ur = ud;
    ur->req = NULL;
}

static void on_done(void *ud, int status, const char *msg)
{
    user_req_t *ur = ud;

    if (ur->req) {
        if (status)
            respond_status(ur->req, status, msg);
        else
            api_respond_json(ur->req, ur->ok_status, user_entry(ur->app, ur->name));
    }
    free(ur);
}

/* Starts a change with the request kept until its callback. */
static user_req_t *pending(web_req_t *req, app_t *app, const char *name, int ok_status)
{
    user_req_t *ur = calloc(1, sizeof *ur);
    if (!ur) {
        api_respond_error(req, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    ur->req = req;
    ur->app = app;
    ur->ok_status = ok_status;
    snprintf(ur->name, sizeof ur->name, "%s", name);
    web_req_on_cancel(req, on_cancel, ur);
    return ur;
}

/* After starting: a refusal before the callback is answered here. */
static void started(web_req_t *req, user_req_t *ur, int rc)
{
    if (!rc)
        return;
    web_req_on_cancel(req, NULL, NULL);
    free(ur);
    respond_status(req, rc, NULL);
}

static void wipe(cJSON *pw)
{
    if (cJSON_IsString(pw))
        sodium_memzero(pw->valuestring, strlen(pw->valuestring));
}

static void handle_list(web_req_t *req, void *ud)
{
    app_t *app = ud;
    if (auth_require(app->cfg, req, ROLE_ADMIN))
        return;
    if (!auth_store_ready(app->auth))
        respond_status(req, IOC_EDB, NULL);
    else
        api_respond_json(req, 200, auth_users_json(app->auth));
}

static void handle_add(web_req_t *req, void *ud)
{
    app_t *app = ud;
    auth_ident_t who;
    cJSON *body = NULL, *name, *pw, *role;
    user_req_t *ur;

    if (auth_require_who(app->cfg, req, ROLE_ADMIN, &who))
        return;
    if (!auth_store_ready(app->auth))
        return respond_status(req, IOC_EDB, NULL);
    body = cJSON_Parse(web_req_body(req, NULL));
    name = cJSON_GetObjectItemCaseSensitive(body, "name");
    pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    role = cJSON_GetObjectItemCaseSensitive(body, "role");
    if (!cJSON_IsObject(body))
        api_respond_error(req, 400, NULL, NULL, "expected a JSON object {\"name\", \"password\", \"role\"}");
    else if (!cJSON_IsString(name))
        api_respond_error(req, 400, "field", "name", "expected a string");
    else if (!cJSON_IsString(pw))
        api_respond_error(req, 400, "field", "password", "expected a string");
    else if (!cJSON_IsString(role))
        api_respond_error(req, 400, "field", "role", "expected a string");
    else if ((ur = pending(req, app, name->valuestring, 201)))
        started(req, ur,
                auth_user_add(app->auth, name->valuestring, pw->valuestring, role->valuestring,
                              who.name, web_req_peer(req), on_done, ur));
    wipe(pw);
    cJSON_Delete(body);
}

static void handle_change(web_req_t *req, void *ud)
{
    app_t *app = ud;
    auth_ident_t who;
    const char *name = web_req_path(req) + strlen(PATH "/");
    cJSON *body = NULL, *pw, *role, *dis;
    user_req_t *ur;

    if (auth_require_who(app->cfg, req, ROLE_ADMIN, &who))
        return;
    if (!auth_store_ready(app->auth))
        return respond_status(req, IOC_EDB, NULL);
    body = cJSON_Parse(web_req_body(req, NULL));
    pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    role = cJSON_GetObjectItemCaseSensitive(body, "role");
    dis = cJSON_GetObjectItemCaseSensitive(body, "disabled");
    if (!cJSON_IsObject(body))
        api_respond_error(req, 400, "field", NULL,
                      "expected a JSON object {\"password\"?, \"role\"?, \"disabled\"?}");
    else if (pw && !cJSON_IsString(pw))
        api_respond_error(req, 400, "field", "password", "expected a string");
    else if (role && !cJSON_IsString(role))
        api_respond_error(req, 400, "field", "role", "expected a string");
    else if (dis && !cJSON_IsBool(dis))
        api_respond_error(req, 400, "field", "disabled", "expected true or false");
    else if (!strcmp(name, who.name) && (cJSON_IsTrue(dis) || (role && strcmp(role->valuestring,
                                                                             "admin"))))
        api_respond_error(req, 422, "field", role ? "role" : "disabled",
                      "an admin cannot disable or demote themselves");
    else if ((ur = pending(req, app, name, 200)))
        started(req, ur,
                auth_user_update(app->auth, name, pw ? pw->valuestring : NULL,
                                 role ? role->valuestring : NULL, dis ? cJSON_IsTrue(dis) : -1,
                                 who.name, web_req_peer(req), on_done, ur));
    wipe(pw);
    cJSON_Delete(body);
}

int api_users_register(app_t *app)
{
    int rc = web_route(app->web, "GET", PATH, handle_list, app, 0);
    if (rc == 0)
        rc = web_route(app->web, "POST", PATH, handle_add, app, MAX_BODY);
    if (rc == 0)
        rc = web_route(app->web, "PUT", PATH "/*", handle_change, app, MAX_BODY);
    return rc;
}
