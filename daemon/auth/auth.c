/* Request authentication and role checks: bearer tokens, session cookies, the anonymous role. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/auth_int.h"

auth_store_t *auth_current;

static const struct {
    const char *name;
    int bit;
} roles[] = {{"viewer", ROLE_VIEWER}, {"operator", ROLE_OPERATOR}, {"analyst", ROLE_ANALYST},
             {"admin", ROLE_ADMIN},   {"writer", ROLE_WRITER}};

int auth_role_bit(const char *name)
{
    for (size_t i = 0; name && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(name, roles[i].name) == 0)
            return roles[i].bit;
    return 0;
}

const char *auth_role_name(int bit)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].bit == bit)
            return roles[i].name;
    return "none";
}

/* Matches a bearer token against auth.tokens, then the runtime tokens. Returns the role bit. */
static int token_ident(const config_t *cfg, const char *token, auth_ident_t *out)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    const char *name = NULL;
    int role = 0;

    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    /* Compare against every token so timing does not tell which one matched. */
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (sodium_memcmp(digest, cfg->tokens[i].sha256, sizeof digest) == 0) {
            role = auth_role_bit(cfg->tokens[i].role);
            name = cfg->tokens[i].name;
        }
    if (!role && auth_current) {
        const auth_tok_t *t = auth_tok_find(auth_current, digest);
        if (t) {
            role = t->role;
            name = t->name;
            out->principal = t->principal;
        }
    }
    if (role)
        snprintf(out->name, sizeof out->name, "token:%s", name);
    return role;
}

/* Finds the iocd_session value in a Cookie header; copies it into buf. Returns its length or 0. */
static size_t cookie_value(const char *cookie, char *buf, size_t size)
{
    const size_t klen = sizeof AUTH_COOKIE - 1;

    for (const char *p = cookie; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && !strncmp(p, AUTH_COOKIE "=", klen + 1)) {
            len -= klen + 1;
            if (len == 0 || len >= size)
                return 0;
            memcpy(buf, p + klen + 1, len);
            buf[len] = '\0';
            return len;
        }
        p += len;
    }
    return 0;
}

bool auth_cookie_digest(const char *cookie, uint8_t *digest)
{
    char value[128];
    size_t len = cookie_value(cookie, value, sizeof value);

    if (!len)
        return false;
    crypto_hash_sha256(digest, (const unsigned char *)value, len);
    sodium_memzero(value, sizeof value);
    return true;
}

/* Matches the session cookie against the live sessions. Returns the role bit. */
static int session_ident(const char *cookie, auth_ident_t *out)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    const auth_sess_t *se;

    if (!auth_current || !auth_cookie_digest(cookie, digest))
        return 0;
    se = auth_sess_find(auth_current, digest, auth_now_us());
    if (!se || se->user->disabled)
        return 0;
    snprintf(out->name, sizeof out->name, "%s", se->user->name);
    out->principal = se->principal;
    out->session = true;
    return se->user->role;
}

int auth_identify(const config_t *cfg, const char *authorization, const char *cookie,
                  auth_ident_t *out)
{
    auth_ident_t tmp;

    if (!out)
        out = &tmp;
    memset(out, 0, sizeof *out);
    if (authorization && *authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) == 0)
            out->role = token_ident(cfg, authorization + 7, out);
        return out->role;
    }
    if (cookie && (out->role = session_ident(cookie, out)))
        return out->role;
    if (cfg->anonymous_role && (out->role = auth_role_bit(cfg->anonymous_role)))
        snprintf(out->name, sizeof out->name, "anonymous");
    return out->role;
}

int auth_role_of(const config_t *cfg, const char *authorization)
{
    return auth_identify(cfg, authorization, NULL, NULL);
}

/* Records an allowed change (POST/PUT/DELETE under /api/v1/) or export in the audit log, as
 * allowed: the outcome is the route's. Not recorded here: samples written (volume), log-ins,
 * users and tokens (the store records those with their result). */
static void audit_request(web_req_t *req, const auth_ident_t *who)
{
    static const char *const params[] = {"indicators", "from", "to", "step", "group", "format"};
    const char *m = web_req_method(req), *path = web_req_path(req), *v;
    bool change = strcmp(m, "GET") && strcmp(m, "HEAD");
    char action[16];
    cJSON *detail = NULL;

    if (strncmp(path, "/api/v1/", 8) || !strcmp(path, "/api/v1/write") ||
        !strcmp(path, "/api/v1/session") || !strncmp(path, "/api/v1/users", 13) ||
        !strncmp(path, "/api/v1/tokens", 14) || (!change && strcmp(path, "/api/v1/export")))
        return;
    if (change) {
        snprintf(action, sizeof action, "api.%s", m);
        for (char *p = action; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    } else {
        snprintf(action, sizeof action, "export");
        detail = cJSON_CreateObject();
        for (size_t i = 0; detail && i < sizeof params / sizeof params[0]; i++)
            if ((v = web_req_query(req, params[i])))
                cJSON_AddStringToObject(detail, params[i], v);
    }
    auth_audit_req(req, who, action, path, detail);
    cJSON_Delete(detail);
}

static void deny(web_req_t *req, int status)
{
    const char *body = status == 401 ? "{\"error\":\"authentication required\"}\n"
                                     : "{\"error\":\"your role may not do this\"}\n";
    web_respond(req, status, "application/json", body, strlen(body));
}

int auth_require_who(const config_t *cfg, web_req_t *req, int allowed, auth_ident_t *who)
{
    const char *method = web_req_method(req), *origin;
    int role = auth_identify(cfg, web_req_header(req, "authorization"),
                             web_req_header(req, "cookie"), who);

    if (!role) {
        deny(req, 401);
        return 401;
    }
    /* A cookie rides along on cross-site requests in old browsers: changes need our Origin. */
    if (who->session && strcmp(method, "GET") && strcmp(method, "HEAD") &&
        (origin = web_req_header(req, "origin")) &&
        !web_ws_origin_ok(origin, web_req_header(req, "host"))) {
        deny(req, 403);
        return 403;
    }
    if (role & (allowed | ROLE_ADMIN)) {
        audit_request(req, who);
        return 0;
    }
    deny(req, 403);
    return 403;
}

int auth_require(const config_t *cfg, web_req_t *req, int allowed)
{
    auth_ident_t who;
    return auth_require_who(cfg, req, allowed, &who);
}

void auth_audit_req(web_req_t *req, const auth_ident_t *who, const char *action,
                    const char *target, const cJSON *detail)
{
    auth_audit(who && who->name[0] ? who->name : "unknown", action, target, web_req_peer(req),
               detail);
}
