/* The auth store's life: create, load from PostgreSQL, in-memory session and token tables,
 * the expiry sweep, and close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ioc/error.h"

#define DEFAULT_TTL_MS (12ull * 3600 * 1000)

int64_t auth_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

bool auth_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;

    if (len < 1 || len > AUTH_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-", name[i]))
            return false;
    return true;
}

void auth_digest_hex(const uint8_t *digest, char out[2 * AUTH_DIGEST + 3])
{
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 2 * AUTH_DIGEST + 1, digest, AUTH_DIGEST);
}

static size_t bucket(const uint8_t *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof h); /* a SHA-256 digest: its bytes are already uniform */
    return (size_t)(h % AUTH_SESSION_BUCKETS);
}

auth_user_t *auth_user_find(const auth_store_t *s, const char *name)
{
    for (auth_user_t *u = s->users; u; u = u->next)
        if (!strcmp(u->name, name))
            return u;
    return NULL;
}

auth_sess_t *auth_sess_find(const auth_store_t *s, const uint8_t *digest, int64_t now_us)
{
    for (auth_sess_t *se = s->sess[bucket(digest)]; se; se = se->next)
        if (sodium_memcmp(se->digest, digest, AUTH_DIGEST) == 0)
            return se->expires_us > now_us ? se : NULL;
    return NULL;
}

auth_tok_t *auth_tok_find(const auth_store_t *s, const uint8_t *digest)
{
    auth_tok_t *found = NULL;
    for (auth_tok_t *t = s->toks; t; t = t->next)
        if (sodium_memcmp(t->digest, digest, AUTH_DIGEST) == 0)
            found = t;
    return found;
}

void auth_sess_add(auth_store_t *s, auth_sess_t *se)
{
    size_t b = bucket(se->digest);

    se->principal = AUTH_PRINCIPAL_SESSION | ++s->next_principal;
    se->next = s->sess[b];
    s->sess[b] = se;
    s->nsess++;
    se->user->nsessions++;
}

void auth_sess_drop(auth_store_t *s, auth_sess_t *se)
{
    auth_sess_t **pp = &s->sess[bucket(se->digest)];

    while (*pp && *pp != se)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = se->next;
    s->nsess--;
    se->user->nsessions--;
    if (s->on_revoke)
        s->on_revoke(s->revoke_ud, se->principal);
    free(se);
}

static void on_bg_done(void *ud, int status, PGresult *res)
{
    (void)ud;
    (void)status;
    (void)res;
}

void auth_sess_drop_user(auth_store_t *s, auth_user_t *u)
{
    for (size_t b = 0; b < AUTH_SESSION_BUCKETS && u->nsessions; b++)
        for (auth_sess_t *se = s->sess[b], *next; se; se = next) {
            next = se->next;
            if (se->user == u)
                auth_sess_drop(s, se);
        }
    const char *vals[] = {u->name};
    auth_db_send(s, "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = $1)",
                 1, vals, false, on_bg_done, NULL);
}

static void on_sweep(uv_timer_t *t)
{
    auth_store_t *s = t->data;
    int64_t now = auth_now_us();
    uint32_t n = 0;

    for (size_t b = 0; b < AUTH_SESSION_BUCKETS; b++)
        for (auth_sess_t *se = s->sess[b], *next; se; se = next) {
            next = se->next;
            if (se->expires_us <= now) {
                auth_sess_drop(s, se);
                n++;
            }
        }
    if (n)
        log_info("auth", "event=sessions_expired count=%u", n);
    auth_db_send(s, "DELETE FROM sessions WHERE expires_at <= now()", 0, NULL, true, on_bg_done,
                 NULL);
}

static void load_done(auth_store_t *s, const char *what, int status)
{
    if (status && !s->closing) {
        log_warn("auth", "event=load_failed what=%s", what);
        s->loading = false;
        auth_db_retry(s, 1000);
    }
}

static void on_tokens(void *ud, int status, PGresult *res)
{
    auth_store_t *s = ud;

    if (status)
        return load_done(s, "tokens", status);
    for (int i = 0; i < PQntuples(res) && s->ntoks < AUTH_MAX_TOKENS; i++) {
        auth_tok_t *t = calloc(1, sizeof *t);
        if (!t)
            break;
        snprintf(t->name, sizeof t->name, "%s", PQgetvalue(res, i, 0));
        t->role = auth_role_bit(PQgetvalue(res, i, 1));
        sodium_hex2bin(t->digest, sizeof t->digest, PQgetvalue(res, i, 2), 2 * AUTH_DIGEST, NULL,
                       NULL, NULL);
        snprintf(t->created_by, sizeof t->created_by, "%s", PQgetvalue(res, i, 3));
        t->created_us = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        t->principal = AUTH_PRINCIPAL_TOKEN | ++s->next_principal;
        t->next = s->toks;
        s->toks = t;
        s->ntoks++;
    }
    s->loading = false;
    s->ready = true;
    log_info("auth", "event=loaded users=%u sessions=%u tokens=%u", s->nusers, s->nsess, s->ntoks);
}

static void on_sessions(void *ud, int status, PGresult *res)
{
    auth_store_t *s = ud;
    int64_t now = auth_now_us();

    if (status)
        return load_done(s, "sessions", status);
    for (int i = 0; i < PQntuples(res) && s->nsess < AUTH_MAX_SESSIONS; i++) {
        auth_user_t *u = auth_user_find(s, PQgetvalue(res, i, 1));
        auth_sess_t *se;
        if (!u || !(se = calloc(1, sizeof *se)))
            continue;
        sodium_hex2bin(se->digest, sizeof se->digest, PQgetvalue(res, i, 0), 2 * AUTH_DIGEST,
                       NULL, NULL, NULL);
        se->user = u;
        se->created_us = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        se->expires_us = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        if (se->expires_us <= now) {
            free(se);
            continue;
        }
        auth_sess_add(s, se);
    }
    if (auth_db_send(s,
                     "SELECT name, role, encode(token_sha256, 'hex'), created_by,"
                     " (extract(epoch FROM created_at) * 1e6)::bigint"
                     " FROM api_tokens WHERE revoked_at IS NULL ORDER BY id",
                     0, NULL, false, on_tokens, s))
        load_done(s, "tokens", IOC_EDB);
}

static void on_users(void *ud, int status, PGresult *res)
{
    auth_store_t *s = ud;

    if (status)
        return load_done(s, "users", status);
    for (int i = 0; i < PQntuples(res) && s->nusers < AUTH_MAX_USERS; i++) {
        auth_user_t *u = calloc(1, sizeof *u);
        if (!u || !(u->pwhash = strdup(PQgetvalue(res, i, 2)))) {
            free(u);
            break;
        }
        snprintf(u->name, sizeof u->name, "%s", PQgetvalue(res, i, 0));
        u->role = auth_role_bit(PQgetvalue(res, i, 1));
        u->disabled = PQgetvalue(res, i, 3)[0] == 't';
        u->next = s->users;
        s->users = u;
        s->nusers++;
    }
    if (auth_db_send(s,
                     "SELECT encode(s.token_sha256, 'hex'), u.name,"
                     " (extract(epoch FROM s.created_at) * 1e6)::bigint,"
                     " (extract(epoch FROM s.expires_at) * 1e6)::bigint"
                     " FROM sessions s JOIN users u ON u.id = s.user_id"
                     " WHERE s.expires_at > now() AND NOT u.disabled ORDER BY s.id",
                     0, NULL, false, on_sessions, s))
        load_done(s, "sessions", IOC_EDB);
}

static void on_schema(void *ud, int status, PGresult *res)
{
    auth_store_t *s = ud;

    if (status)
        return load_done(s, "schema", status);
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        /* The store has not migrated yet (it runs at the same time): look again soon. */
        s->loading = false;
        auth_db_retry(s, 200);
        return;
    }
    if (auth_db_send(s, "SELECT name, role, pwhash, disabled FROM users ORDER BY id DESC", 0, NULL,
                     false, on_users, s))
        load_done(s, "users", IOC_EDB);
}

void auth_store_load(auth_store_t *s)
{
    if (s->ready || s->loading)
        return;
    s->loading = true;
    if (auth_db_send(s,
                     /* migration 3 made audit_log last, in one transaction */
                     "SELECT to_regclass('audit_log') IS NOT NULL",
                     0, NULL, false, on_schema, s))
        s->loading = false;
}

static void render_metrics(strbuf_t *out, void *ud)
{
    const auth_store_t *s = ud;

    metrics_header(out, "iocd_auth_logins_total", "counter", "Log-in attempts by result.");
    strbuf_printf(out, "iocd_auth_logins_total{result=\"ok\"} %llu\n",
                  (unsigned long long)s->logins_ok);
    strbuf_printf(out, "iocd_auth_logins_total{result=\"failed\"} %llu\n",
                  (unsigned long long)s->logins_failed);
    strbuf_printf(out, "iocd_auth_logins_total{result=\"slowed\"} %llu\n",
                  (unsigned long long)s->logins_slowed);
    metrics_header(out, "iocd_auth_sessions", "gauge", "Live sessions.");
    strbuf_printf(out, "iocd_auth_sessions %u\n", s->nsess);
    metrics_header(out, "iocd_audit_dropped_total", "counter",
                   "Audit records dropped (database queue full).");
    strbuf_printf(out, "iocd_audit_dropped_total %llu\n", (unsigned long long)s->audit_dropped);
}

int auth_store_create(uv_loop_t *loop, const auth_opts_t *opts, auth_store_t **out)
{
    auth_store_t *s = calloc(1, sizeof *s);

    if (!s || !(s->dsn = strdup(opts->dsn))) {
        free(s);
        return IOC_ENOMEM;
    }
    s->loop = loop;
    s->ttl_ms = opts->session_ttl_ms ? opts->session_ttl_ms : DEFAULT_TTL_MS;
    s->secure = opts->secure_cookie;
    s->backoff_ms = 500;
    auth_throttle_init(&s->thr);
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->sweep);
    s->timer.data = s->sweep.data = s;
    s->open_handles = 2;
    uv_timer_start(&s->sweep, on_sweep, AUTH_SWEEP_MS, AUTH_SWEEP_MS);
    metrics_register(render_metrics, s);
    auth_current = s;
    auth_db_connect(s);
    *out = s;
    return IOC_OK;
}

bool auth_store_ready(const auth_store_t *s)
{
    return s && s->ready;
}

void auth_store_on_revoke(auth_store_t *s, void (*fn)(void *ud, uint64_t principal), void *ud)
{
    s->on_revoke = fn;
    s->revoke_ud = ud;
}

static void free_all(auth_store_t *s)
{
    void (*done)(void *) = s->done;
    void *done_ud = s->done_ud;

    for (size_t b = 0; b < AUTH_SESSION_BUCKETS; b++)
        for (auth_sess_t *se = s->sess[b], *next; se; se = next) {
            next = se->next;
            free(se);
        }
    for (auth_tok_t *t = s->toks, *next; t; t = next) {
        next = t->next;
        free(t);
    }
    for (auth_user_t *u = s->users, *next; u; u = next) {
        next = u->next;
        free(u->pwhash);
        free(u);
    }
    free(s->dsn);
    free(s);
    if (done)
        done(done_ud);
}

static void maybe_free(auth_store_t *s)
{
    if (s->closing && !s->open_handles && !s->hashing)
        free_all(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    auth_store_t *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

void auth_store_close(auth_store_t *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_ud = ud;
    s->on_revoke = NULL;
    if (auth_current == s)
        auth_current = NULL;
    metrics_unregister(render_metrics, s);
    auth_db_shutdown(s);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
}

void auth_store_job_finished(auth_store_t *s)
{
    maybe_free(s);
}
