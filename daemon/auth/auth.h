/* Request authentication and role checks for the HTTP API. */
#ifndef IOCD_AUTH_H
#define IOCD_AUTH_H

#include "config/config.h"
#include "web/web.h"

/* Role bits, so a route can accept several roles. */
enum {
    ROLE_VIEWER = 1 << 0,
    ROLE_OPERATOR = 1 << 1,
    ROLE_ANALYST = 1 << 2,
    ROLE_ADMIN = 1 << 3,
    ROLE_WRITER = 1 << 4,
};

/* Parses a role name; returns its bit or 0 if unknown. */
int auth_role_bit(const char *name);

/* The role bit of an Authorization header's credentials (a configured "Bearer <token>"), or
 * with no header (NULL or "") of auth.anonymous_role; 0 for invalid or missing credentials.
 * Sends nothing (for callers like the /ws upgrade that answer themselves). */
int auth_role_of(const config_t *cfg, const char *authorization);

/* Checks the request's credentials (Authorization: Bearer <token> against auth.tokens, compared
 * by SHA-256 in constant time; else auth.anonymous_role) against the roles in `allowed` (admin
 * always passes). Returns 0 if allowed, 401 without valid credentials, 403 for a role that may
 * not; on 401/403 the response has been sent. */
int auth_require(const config_t *cfg, web_req_t *req, int allowed);

#endif
