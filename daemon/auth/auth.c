/* Request authentication and role checks for the HTTP API. */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/auth.h"

int auth_role_bit(const char *name)
{
    static const struct {
        const char *name;
        int bit;
    } roles[] = {{"viewer", ROLE_VIEWER}, {"operator", ROLE_OPERATOR}, {"analyst", ROLE_ANALYST},
                 {"admin", ROLE_ADMIN},   {"writer", ROLE_WRITER}};
    for (size_t i = 0; name && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(name, roles[i].name) == 0)
            return roles[i].bit;
    return 0;
}

/* Returns the role bit of a bearer token, or 0 if it matches no configured token. */
static int token_role(const config_t *cfg, const char *token)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    int role = 0;
    /* Compare against every token so timing does not tell which one matched. */
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (sodium_memcmp(digest, cfg->tokens[i].sha256, sizeof digest) == 0)
            role = auth_role_bit(cfg->tokens[i].role);
    return role;
}

static void deny(web_req_t *req, int status)
{
    const char *body = status == 401 ? "{\"error\":\"authentication required\"}\n"
                                     : "{\"error\":\"your role may not do this\"}\n";
    web_respond(req, status, "application/json", body, strlen(body));
}

int auth_role_of(const config_t *cfg, const char *authorization)
{
    if (authorization && *authorization)
        return strncasecmp(authorization, "Bearer ", 7) ? 0 : token_role(cfg, authorization + 7);
    return cfg->anonymous_role ? auth_role_bit(cfg->anonymous_role) : 0;
}

int auth_require(const config_t *cfg, web_req_t *req, int allowed)
{
    int role = auth_role_of(cfg, web_req_header(req, "authorization"));

    if (!role) {
        deny(req, 401);
        return 401;
    }
    if (role & (allowed | ROLE_ADMIN))
        return 0;
    deny(req, 403);
    return 403;
}
