/* The runtime side of auth: people (argon2id passwords), sessions and API tokens, kept in memory
 * for synchronous checks and in PostgreSQL (own connection) so they survive restarts. */
#ifndef IOCD_AUTH_STORE_H
#define IOCD_AUTH_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "auth/auth.h"

typedef struct auth_store auth_store_t;

typedef struct auth_opts {
    const char *dsn;          /* the daemon's database (copied) */
    uint64_t session_ttl_ms;  /* session lifetime; 0: 12 h */
    bool secure_cookie;       /* served over TLS: the cookie gets Secure */
} auth_opts_t;

/* Creates the store and starts connecting and loading (auth_store_ready once loaded; the store
 * retries while the database is away or not migrated yet). It becomes the process's store, the
 * one auth_identify and auth_audit use. Returns 0 and *out, or an ioc_err_t. */
int auth_store_create(uv_loop_t *loop, const auth_opts_t *opts, auth_store_t **out);
/* True once users, sessions and tokens are loaded. */
bool auth_store_ready(const auth_store_t *s);
/* Sets who is told when a principal (session or runtime token) stops being valid (log-out,
 * revocation, expiry, user disabled), e.g. to close its WebSocket connections. */
void auth_store_on_revoke(auth_store_t *s, void (*fn)(void *ud, uint64_t principal), void *ud);
/* Fails queued operations (their callbacks run with IOC_ECLOSED), waits for password hashing in
 * flight, closes the connection and frees the store, then calls done. */
void auth_store_close(auth_store_t *s, void (*done)(void *ud), void *ud);

/* Completion of a change: status 0, or IOC_EINVAL (msg names the field), IOC_ENOTFOUND,
 * IOC_EAGAIN (the name exists), IOC_EPERM, IOC_EDB, IOC_EFULL, IOC_ECLOSED. Runs exactly once. */
typedef void (*auth_done_fn)(void *ud, int status, const char *msg);

/* Adds a person (password hashed with argon2id on the threadpool). `actor` is recorded in the
 * audit log. Returns 0 (cb will run) or an error (cb will not run). */
int auth_user_add(auth_store_t *s, const char *name, const char *password, const char *role,
                  const char *actor, const char *peer, auth_done_fn cb, void *ud);
/* Changes a person: a new password and/or role (NULL: unchanged), disabled (-1: unchanged).
 * A new password, a role change or disabling ends the person's sessions. Returns like add. */
int auth_user_update(auth_store_t *s, const char *name, const char *password, const char *role,
                     int disabled, const char *actor, const char *peer, auth_done_fn cb,
                     void *ud);
/* The first admin: refused with IOC_EPERM if an enabled admin exists. Waits for the store to be
 * loaded. Returns like add. */
int auth_bootstrap_admin(auth_store_t *s, const char *name, const char *password, auth_done_fn cb,
                         void *ud);
/* [{"name","role","disabled","sessions"}] for GET /api/v1/users. Caller owns it; NULL on ENOMEM. */
cJSON *auth_users_json(const auth_store_t *s);

typedef struct auth_login {
    int status;             /* 0, IOC_EPERM (wrong name or password), IOC_EAGAIN (slowed down:
                             * retry_after_s), IOC_EDB (store not loaded), IOC_ECLOSED */
    uint32_t retry_after_s;
    char cookie[512];       /* the Set-Cookie value on success */
    auth_ident_t who;
    int64_t expires_us;
} auth_login_t;
/* Checks a password (on the threadpool) and opens a session. Guessing is slowed per (account,
 * client address) and per client address. cb runs exactly once (also when refused at once). */
void auth_login(auth_store_t *s, const char *name, const char *password, const char *peer,
                void (*cb)(void *ud, const auth_login_t *res), void *ud);
/* Ends the session of a Cookie header (if any) and returns the Set-Cookie value that clears
 * the cookie in the browser (static string). */
const char *auth_logout(auth_store_t *s, const char *cookie, const char *peer);

/* Creates a runtime API token; cb gets the token text (shown once, never stored) in msg on
 * success. Returns like add. */
int auth_token_create(auth_store_t *s, const char *name, const char *role, const char *actor,
                      const char *peer, auth_done_fn cb, void *ud);
/* Revokes a runtime token by name; its live sockets are closed. Returns like add. */
int auth_token_revoke(auth_store_t *s, const char *name, const char *actor, const char *peer,
                      auth_done_fn cb, void *ud);
/* [{"name","role","created_by","created","source":"api"|"config"}]. Caller owns it. */
cJSON *auth_tokens_json(const auth_store_t *s, const config_t *cfg);

/* Reads the audit log, newest first: entries since since_us (0: any), with action/actor equal
 * to the filters (NULL: any), at most limit (1..1000). cb gets a JSON array it must not keep
 * (freed after cb), or NULL with status < 0. Returns 0 (cb will run) or an error. */
int auth_audit_list(auth_store_t *s, int64_t since_us, const char *action, const char *actor,
                    int limit, void (*cb)(void *ud, int status, const cJSON *entries), void *ud);

#endif
