/* Log-in (password checked on the threadpool, guessing slowed, session opened) and log-out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "ioc/error.h"

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
