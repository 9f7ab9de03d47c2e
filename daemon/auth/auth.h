/* Request authentication and role checks for the HTTP API and /ws: bearer tokens from the config
 * and from the database, session cookies of people, the anonymous role; and the audit log. */
#ifndef IOCD_AUTH_H
#define IOCD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

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

#define AUTH_COOKIE "iocd_session" /* the session cookie's name */
#define AUTH_MAX_NAME 64           /* longest user or token name (bytes) */

/* Who a request comes from. */
typedef struct auth_ident {
    int role;                        /* role bit; 0: no valid credentials */
    uint64_t principal;              /* session or runtime token it came with (revocable), else 0 */
    char name[AUTH_MAX_NAME + 16];   /* "alice", "token:telegraf-gw", or "anonymous" */
    bool session;                    /* authenticated by the session cookie */
} auth_ident_t;

/* Parses a role name; returns its bit or 0 if unknown. */
int auth_role_bit(const char *name);
/* The name of a role bit ("viewer", ...), or "none". Static string. */
const char *auth_role_name(int bit);

/* Identifies credentials: an Authorization header ("Bearer <token>": auth.tokens, then runtime
 * tokens), else the iocd_session cookie in a Cookie header, else auth.anonymous_role. Either
 * header may be NULL. A bad bearer token gives no role (an invalid or expired cookie falls back to
 * the anonymous role). Fills *out (may be NULL) and returns its role bit, 0 for none. */
int auth_identify(const config_t *cfg, const char *authorization, const char *cookie,
                  auth_ident_t *out);

/* The role bit of an Authorization header's credentials, or with no header of
 * auth.anonymous_role; 0 for invalid or missing credentials. Sends nothing. */
int auth_role_of(const config_t *cfg, const char *authorization);

/* Checks the request's credentials (auth_identify over its Authorization and Cookie headers)
 * against the roles in `allowed` (admin always passes). A cookie-authenticated request that is
 * not GET/HEAD must carry no foreign Origin (403). Returns 0 if allowed, 401 without valid
 * credentials, 403 for a role that may not; on 401/403 the response has been sent. An allowed
 * change under /api/v1/ (alert rules, acks, silences; not samples, users or tokens, which are
 * recorded elsewhere) or export is recorded in the audit log (action "api.post", "api.put",
 * "api.delete" or "export", target the path). */
int auth_require(const config_t *cfg, web_req_t *req, int allowed);
/* Same, and on success fills *who (for audit records and "acked by"). */
int auth_require_who(const config_t *cfg, web_req_t *req, int allowed, auth_ident_t *who);

/* Records an audit event (who, what, target, from where, detail copied; any but actor/action
 * may be NULL). Written to the audit_log table in the background, in order; dropped and counted
 * (iocd_audit_dropped_total) when the runtime store is absent or its queue is full. */
void auth_audit(const char *actor, const char *action, const char *target, const char *peer,
                const cJSON *detail);
/* auth_audit with the actor and peer of a request. */
void auth_audit_req(web_req_t *req, const auth_ident_t *who, const char *action,
                    const char *target, const cJSON *detail);

#endif
