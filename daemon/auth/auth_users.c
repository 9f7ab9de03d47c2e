/* People: add, change, disable, list, the first admin; log-in (password checked on the
 * threadpool, guessing slowed) and log-out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "ioc/error.h"

/* A change of a person in progress. */
typedef struct uop {
    auth_store_t *s;
    char name[AUTH_MAX_NAME + 1];
    const char *role;          /* static role name, or NULL: unchanged */
    int disabled;              /* -1: unchanged */
    bool add, bootstrap, password;
    char *pwhash;              /* new hash (owned), or NULL */
    char actor[AUTH_MAX_NAME + 16];
    char peer[64];
    auth_done_fn cb;
    void *ud;
} uop_t;

static void uop_finish(uop_t *op, int status, const char *msg)
{
    op->cb(op->ud, status, msg);
    free(op->pwhash);
    free(op);
}

/* Canonical static name for a role name, or NULL. */
static const char *role_static(const char *name)
{
    int bit = auth_role_bit(name);
    return bit ? auth_role_name(bit) : NULL;
}

static int check_password(const char *password, const char **msg)
{
    size_t len = strlen(password);
    if (len < AUTH_MIN_PASSWORD || len > AUTH_MAX_PASSWORD) {
        *msg = "password: must be 8 to 1024 bytes";
        return IOC_EINVAL;
    }
    return IOC_OK;
}

static void on_written(void *ud, int status, PGresult *res)
{
    uop_t *op = ud;
    auth_store_t *s = op->s;
    auth_user_t *u;
    char detail[96];

    if (status == IOC_ECLOSED)
        return uop_finish(op, status, "closing");
    if (status) {
        return uop_finish(op, op->add ? IOC_EAGAIN : IOC_EDB,
                          op->add ? "name: exists" : "database error");
    }
    if (atoi(PQcmdTuples(res)) != 1)
        return uop_finish(op, op->bootstrap ? IOC_EPERM : IOC_ENOTFOUND,
                          op->bootstrap ? "an admin exists already" : "name: no such user");
    if (op->add) {
        if (!(u = calloc(1, sizeof *u)))
            return uop_finish(op, IOC_ENOMEM, "out of memory");
        snprintf(u->name, sizeof u->name, "%s", op->name);
        u->role = auth_role_bit(op->role);
        u->pwhash = op->pwhash;
        op->pwhash = NULL;
        u->next = s->users;
        s->users = u;
        s->nusers++;
        snprintf(detail, sizeof detail, "{\"role\":\"%s\"}", op->role);
    } else {
        if (!(u = auth_user_find(s, op->name)))
            return uop_finish(op, IOC_ENOTFOUND, "name: no such user");
        bool ends = op->pwhash || (op->role && auth_role_bit(op->role) != u->role) ||
                    op->disabled == 1;
        if (op->pwhash) {
            free(u->pwhash);
            u->pwhash = op->pwhash;
            op->pwhash = NULL;
        }
        if (op->role)
            u->role = auth_role_bit(op->role);
        if (op->disabled >= 0)
            u->disabled = op->disabled;
        if (ends)
            auth_sess_drop_user(s, u);
        snprintf(detail, sizeof detail, "{\"role\":\"%s\",\"disabled\":%s,\"password\":%s}",
                 auth_role_name(u->role), u->disabled ? "true" : "false",
                 op->password ? "true" : "false");
    }
    cJSON *d = cJSON_Parse(detail);
    auth_audit(op->actor, op->bootstrap ? "user.bootstrap" : op->add ? "user.add" : "user.update",
               op->name, op->peer, d);
    cJSON_Delete(d);
    log_info("auth", "event=%s user=%s by=\"%s\"", op->add ? "user_added" : "user_changed",
             op->name, op->actor);
    uop_finish(op, IOC_OK, NULL);
}

/* Writes the change to the database (then memory). */
static void write_op(uop_t *op)
{
    const char *dis = op->disabled < 0 ? NULL : op->disabled ? "true" : "false";
    int rc;

    if (op->bootstrap) {
        const char *vals[] = {op->name, op->pwhash};
        rc = auth_db_send(op->s,
                          "INSERT INTO users (name, role, pwhash) SELECT $1, 'admin', $2"
                          " WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin'"
                          " AND NOT disabled)",
                          2, vals, true, on_written, op);
    } else if (op->add) {
        const char *vals[] = {op->name, op->role, op->pwhash};
        rc = auth_db_send(op->s, "INSERT INTO users (name, role, pwhash) VALUES ($1, $2, $3)", 3,
                          vals, true, on_written, op);
    } else {
        const char *vals[] = {op->name, op->pwhash, op->role, dis};
        rc = auth_db_send(op->s,
                          "UPDATE users SET pwhash = coalesce($2, pwhash),"
                          " role = coalesce($3, role), disabled = coalesce($4::boolean, disabled),"
                          " updated_at = now() WHERE name = $1",
                          4, vals, true, on_written, op);
    }
    if (rc)
        uop_finish(op, rc == IOC_EFULL ? IOC_EFULL : IOC_EDB, "database unavailable");
}

static void on_hashed(auth_pw_t *job)
{
    uop_t *op = job->ud;

    if (job->result || op->s->closing) {
        uop_finish(op, op->s->closing ? IOC_ECLOSED : IOC_ENOMEM, "hashing failed");
    } else {
        op->pwhash = job->pwhash;
        job->pwhash = NULL;
        write_op(op);
    }
    auth_pw_free(job);
}

/* Hashes the password (if any) on the threadpool, then writes. Returns 0 or an error (op freed
 * without its callback). */
static int start_op(uop_t *op, const char *password)
{
    auth_pw_t *job;
    int rc;

    if (!op->s->ready) {
        free(op);
        return IOC_EDB;
    }
    if (!password) {
        write_op(op);
        return IOC_OK;
    }
    if (!(job = calloc(1, sizeof *job)) || !(job->password = strdup(password))) {
        free(job);
        free(op);
        return IOC_ENOMEM;
    }
    job->ud = op;
    job->done = on_hashed;
    if ((rc = auth_pw_start(op->s, job))) {
        auth_pw_free(job);
        free(op);
    }
    return rc;
}

static uop_t *uop_new(auth_store_t *s, const char *name, const char *actor, const char *peer,
                      auth_done_fn cb, void *ud)
{
    uop_t *op = calloc(1, sizeof *op);

    if (!op)
        return NULL;
    op->s = s;
    op->disabled = -1;
    snprintf(op->name, sizeof op->name, "%s", name);
    snprintf(op->actor, sizeof op->actor, "%s", actor ? actor : "unknown");
    snprintf(op->peer, sizeof op->peer, "%s", peer ? peer : "");
    op->cb = cb;
    op->ud = ud;
    return op;
}

int auth_user_add(auth_store_t *s, const char *name, const char *password, const char *role,
                  const char *actor, const char *peer, auth_done_fn cb, void *ud)
{
    const char *msg = NULL;
    uop_t *op;

    if (!auth_name_ok(name))
        msg = "name: 1 to 64 of A-Z a-z 0-9 . _ @ -";
    else if (!role_static(role))
        msg = "role: one of viewer, operator, analyst, admin, writer";
    else if (!password || check_password(password, &msg))
        msg = msg ? msg : "password: missing";
    if (msg) {
        cb(ud, IOC_EINVAL, msg);
        return IOC_OK;
    }
    if (s->nusers >= AUTH_MAX_USERS)
        return IOC_EFULL;
    if (auth_user_find(s, name)) {
        cb(ud, IOC_EAGAIN, "name: exists");
        return IOC_OK;
    }
    if (!(op = uop_new(s, name, actor, peer, cb, ud)))
        return IOC_ENOMEM;
    op->add = op->password = true;
    op->role = role_static(role);
    return start_op(op, password);
}

int auth_user_update(auth_store_t *s, const char *name, const char *password, const char *role,
                     int disabled, const char *actor, const char *peer, auth_done_fn cb,
                     void *ud)
{
    const char *msg = NULL;
    uop_t *op;

    if (role && !role_static(role))
        msg = "role: one of viewer, operator, analyst, admin, writer";
    else if (password && check_password(password, &msg))
        ;
    else if (!password && !role && disabled < 0)
        msg = "nothing to change: give password, role or disabled";
    if (msg) {
        cb(ud, IOC_EINVAL, msg);
        return IOC_OK;
    }
    if (!auth_name_ok(name) || !auth_user_find(s, name)) {
        cb(ud, IOC_ENOTFOUND, "no such user");
        return IOC_OK;
    }
    if (!(op = uop_new(s, name, actor, peer, cb, ud)))
        return IOC_ENOMEM;
    op->role = role ? role_static(role) : NULL;
    op->disabled = disabled < 0 ? -1 : !!disabled;
    op->password = password != NULL;
    return start_op(op, password);
}

int auth_bootstrap_admin(auth_store_t *s, const char *name, const char *password, auth_done_fn cb,
                         void *ud)
{
    const char *msg = NULL;
    uop_t *op;

    if (!auth_name_ok(name))
        msg = "name: 1 to 64 of A-Z a-z 0-9 . _ @ -";
    else if (!password || check_password(password, &msg))
        msg = msg ? msg : "password: missing";
    if (msg) {
        cb(ud, IOC_EINVAL, msg);
        return IOC_OK;
    }
    if (!(op = uop_new(s, name, "bootstrap", "local", cb, ud)))
        return IOC_ENOMEM;
    op->add = op->bootstrap = op->password = true;
    op->role = "admin";
    return start_op(op, password);
}

cJSON *auth_users_json(const auth_store_t *s)
{
    cJSON *arr = cJSON_CreateArray(), *o;

    for (const auth_user_t *u = s->users; arr && u; u = u->next) {
        if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "name", u->name) ||
            !cJSON_AddStringToObject(o, "role", auth_role_name(u->role)) ||
            !cJSON_AddBoolToObject(o, "disabled", u->disabled) ||
            !cJSON_AddNumberToObject(o, "sessions", u->nsessions)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* A log-in in progress. */
typedef struct lop {
    auth_store_t *s;
    char name[AUTH_MAX_NAME + 1];
    char peer[64];
    void (*cb)(void *ud, const auth_login_t *res);
    void *ud;
} lop_t;

static void login_answer(void (*cb)(void *, const auth_login_t *), void *ud, int status,
                         uint32_t retry_after_s)
{
    auth_login_t res = {.status = status, .retry_after_s = retry_after_s};
    cb(ud, &res);
}

static void on_bg(void *ud, int status, PGresult *res)
{
    (void)ud;
    (void)res;
    if (status && status != IOC_ECLOSED)
        log_warn("auth", "event=session_not_stored");
}

/* Ends the person's oldest session. */
static void drop_oldest(auth_store_t *s, auth_user_t *u)
{
    auth_sess_t *oldest = NULL;
    for (size_t b = 0; b < AUTH_SESSION_BUCKETS; b++)
        for (auth_sess_t *se = s->sess[b]; se; se = se->next)
            if (se->user == u && (!oldest || se->created_us < oldest->created_us))
                oldest = se;
    if (oldest) {
        char hex[2 * AUTH_DIGEST + 3];
        auth_digest_hex(oldest->digest, hex);
        const char *vals[] = {hex};
        auth_db_send(s, "DELETE FROM sessions WHERE token_sha256 = $1::bytea", 1, vals, false,
                     on_bg, NULL);
        auth_sess_drop(s, oldest);
    }
}

/* Opens a session for u; fills res. Returns 0 or IOC_EFULL / IOC_ENOMEM. */
static int open_session(auth_store_t *s, auth_user_t *u, const char *peer, auth_login_t *res)
{
    uint8_t raw[32];
    char value[64], hex[2 * AUTH_DIGEST + 3], exp[32];
    auth_sess_t *se;

    if (s->nsess >= AUTH_MAX_SESSIONS)
        return IOC_EFULL;
    if (!(se = calloc(1, sizeof *se)))
        return IOC_ENOMEM;
    if (u->nsessions >= AUTH_MAX_USER_SESSIONS)
        drop_oldest(s, u);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(value, sizeof value, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    crypto_hash_sha256(se->digest, (const unsigned char *)value, strlen(value));
    se->user = u;
    se->created_us = auth_now_us();
    se->expires_us = se->created_us + (int64_t)s->ttl_ms * 1000;
    auth_sess_add(s, se);
    auth_digest_hex(se->digest, hex);
    snprintf(exp, sizeof exp, "%lld", (long long)se->expires_us);
    const char *vals[] = {u->name, hex, peer, exp};
    auth_db_send(s,
                 "INSERT INTO sessions (user_id, token_sha256, peer, expires_at)"
                 " SELECT id, $2::bytea, $3, to_timestamp($4::double precision / 1e6)"
                 " FROM users WHERE name = $1",
                 4, vals, false, on_bg, NULL);
    snprintf(res->cookie, sizeof res->cookie,
             AUTH_COOKIE "=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Strict%s", value,
             (unsigned long long)(s->ttl_ms / 1000), s->secure ? "; Secure" : "");
    sodium_memzero(value, sizeof value);
    snprintf(res->who.name, sizeof res->who.name, "%s", u->name);
    res->who.role = u->role;
    res->who.principal = se->principal;
    res->who.session = true;
    res->expires_us = se->expires_us;
    return IOC_OK;
}

static void on_checked(auth_pw_t *job)
{
    lop_t *op = job->ud;
    auth_store_t *s = op->s;
    auth_user_t *u = s->closing ? NULL : auth_user_find(s, op->name);
    auth_login_t res = {0};

    if (s->closing) {
        res.status = IOC_ECLOSED;
    } else if (job->result || !u || u->disabled || strcmp(u->pwhash, job->pwhash)) {
        /* The hash compared must still be the person's: a password changed meanwhile fails. */
        auth_throttle_fail(&s->thr, op->peer, op->name, (int64_t)uv_now(s->loop));
        s->logins_failed++;
        auth_audit(op->name, "login_failed", op->name, op->peer, NULL);
        log_info("auth", "event=login_failed user=%s peer=%s", op->name, op->peer);
        res.status = IOC_EPERM;
    } else if ((res.status = open_session(s, u, op->peer, &res)) == 0) {
        auth_throttle_ok(&s->thr, op->peer, op->name);
        s->logins_ok++;
        auth_audit(u->name, "login", u->name, op->peer, NULL);
        log_info("auth", "event=login user=%s peer=%s", u->name, op->peer);
    }
    op->cb(op->ud, &res);
    sodium_memzero(res.cookie, sizeof res.cookie);
    auth_pw_free(job);
    free(op);
}

void auth_login(auth_store_t *s, const char *name, const char *password, const char *peer,
                void (*cb)(void *ud, const auth_login_t *res), void *ud)
{
    uint32_t wait;
    auth_user_t *u;
    auth_pw_t *job = NULL;
    lop_t *op = NULL;

    if (!s || !s->ready || s->closing)
        return login_answer(cb, ud, IOC_EDB, 0);
    /* A name no account can have is throttled (and recorded) as "?": one key however long. */
    if (!auth_name_ok(name))
        name = "?";
    if ((wait = auth_throttle_check(&s->thr, peer, name, (int64_t)uv_now(s->loop)))) {
        s->logins_slowed++;
        return login_answer(cb, ud, IOC_EAGAIN, wait);
    }
    u = auth_user_find(s, name);
    if (!(op = calloc(1, sizeof *op)) || !(job = calloc(1, sizeof *job)) ||
        !(job->password = strdup(password)) || (u && !(job->pwhash = strdup(u->pwhash))))
        goto nomem;
    snprintf(op->name, sizeof op->name, "%s", name);
    snprintf(op->peer, sizeof op->peer, "%s", peer);
    op->s = s;
    op->cb = cb;
    op->ud = ud;
    job->verify = true;
    job->ud = op;
    job->done = on_checked;
    if (auth_pw_start(s, job)) {
        auth_pw_free(job);
        free(op);
        s->logins_slowed++;
        return login_answer(cb, ud, IOC_EAGAIN, 1);
    }
    return;
nomem:
    auth_pw_free(job);
    free(op);
    login_answer(cb, ud, IOC_ENOMEM, 0);
}

const char *auth_logout(auth_store_t *s, const char *cookie, const char *peer)
{
    uint8_t digest[AUTH_DIGEST];
    char hex[2 * AUTH_DIGEST + 3], name[AUTH_MAX_NAME + 1];
    auth_sess_t *se;

    if (s && auth_cookie_digest(cookie, digest) && (se = auth_sess_find(s, digest, auth_now_us()))) {
        snprintf(name, sizeof name, "%s", se->user->name);
        auth_sess_drop(s, se);
        auth_digest_hex(digest, hex);
        const char *vals[] = {hex};
        auth_db_send(s, "DELETE FROM sessions WHERE token_sha256 = $1::bytea", 1, vals, false,
                     on_bg, NULL);
        auth_audit(name, "logout", name, peer, NULL);
    }
    return AUTH_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
}
