/* Unit tests for the auth store against a real PostgreSQL (IOCD_TEST_DSN): people, log-in and
 * sessions, runtime tokens, revocation callbacks, the hashing bound, reload after a restart,
 * the bootstrap refusal and the audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth_int.h"
#include "helper_pg.h"
#include "ioc/error.h"
#include "store/store.h"

#define PW "correct horse battery"

typedef struct ctx {
    uv_loop_t loop;
    char *dsn;
    store_t *store;
    auth_store_t *auth;
    config_t cfg;
    bool done, closed;
    int status;
    char msg[256];
    auth_login_t login;
    uint64_t revoked[8];
    int nrevoked;
} ctx_t;

static void on_done(void *ud, int status, const char *msg)
{
    ctx_t *c = ud;
    c->status = status;
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "");
    c->done = true;
}

static void on_login(void *ud, const auth_login_t *res)
{
    ctx_t *c = ud;
    c->login = *res;
    c->done = true;
}

static void on_revoke(void *ud, uint64_t principal)
{
    ctx_t *c = ud;
    if (c->nrevoked < 8)
        c->revoked[c->nrevoked++] = principal;
}

static void on_closed(void *ud)
{
    ((ctx_t *)ud)->closed = true;
}

static void open_auth(ctx_t *c)
{
    auth_opts_t o = {.dsn = c->dsn, .session_ttl_ms = 3600000};
    assert_int_equal(auth_store_create(&c->loop, &o, &c->auth), 0);
    auth_store_on_revoke(c->auth, on_revoke, c);
    uv_update_time(&c->loop);
    for (uint64_t end = uv_now(&c->loop) + 20000; !auth_store_ready(c->auth) && uv_now(&c->loop) < end;)
        uv_run(&c->loop, UV_RUN_ONCE);
    assert_true(auth_store_ready(c->auth));
}

static void close_auth(ctx_t *c)
{
    c->closed = false;
    auth_store_close(c->auth, on_closed, c);
    assert_true(helper_run_until(&c->loop, &c->closed, 10000));
    c->auth = NULL;
}

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof *c);
    store_opts_t so;

    uv_loop_init(&c->loop);
    c->dsn = helper_make_db();
    so = (store_opts_t){.dsn = c->dsn};
    assert_int_equal(store_create(&c->loop, &so, &c->store), 0); /* applies the migrations */
    open_auth(c);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    if (c->auth)
        close_auth(c);
    c->closed = false;
    store_close(c->store, on_closed, c);
    helper_run_until(&c->loop, &c->closed, 10000);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c->dsn);
    free(c);
    return 0;
}

/* Runs an operation's callback to completion; returns its status. */
static int wait_done(ctx_t *c)
{
    assert_true(helper_run_until(&c->loop, &c->done, 20000));
    c->done = false;
    return c->status;
}

static int add_user(ctx_t *c, const char *name, const char *pw, const char *role)
{
    c->done = false;
    assert_int_equal(auth_user_add(c->auth, name, pw, role, "tester", "10.0.0.1", on_done, c), 0);
    return wait_done(c);
}

static const auth_login_t *login(ctx_t *c, const char *name, const char *pw, const char *peer)
{
    c->done = false;
    auth_login(c->auth, name, pw, peer, on_login, c);
    assert_true(helper_run_until(&c->loop, &c->done, 20000));
    c->done = false;
    return &c->login;
}

/* "iocd_session=<value>" out of a Set-Cookie value. */
static void cookie_header(const char *set_cookie, char *out, size_t size)
{
    snprintf(out, size, "%.*s", (int)strcspn(set_cookie, ";"), set_cookie);
}

/* The store writes to PostgreSQL in the background: runs the loop until sql counts `want` rows
 * (or 5 s pass) and returns the last count. */
static long long count_when_written(ctx_t *c, const char *sql, long long want)
{
    long long n = helper_count(c->dsn, sql);
    for (int i = 0; i < 100 && n != want; i++) {
        bool never = false;
        helper_run_until(&c->loop, &never, 50);
        n = helper_count(c->dsn, sql);
    }
    return n;
}

static void test_users_and_sessions(void **state)
{
    ctx_t *c = *state;
    char cookie[256];
    auth_ident_t who;

    assert_int_equal(add_user(c, "an", PW, "operator"), 0);
    assert_int_equal(add_user(c, "an", PW, "operator"), IOC_EAGAIN);
    assert_int_equal(add_user(c, "bo", PW, "king"), IOC_EINVAL);
    assert_string_equal(c->msg, "role: one of viewer, operator, analyst, admin, writer");
    assert_int_equal(add_user(c, "bo", "short", "viewer"), IOC_EINVAL);
    assert_true(strncmp(c->msg, "password:", 9) == 0);
    assert_int_equal(add_user(c, "no spaces", PW, "viewer"), IOC_EINVAL);
    char *hash = helper_value(c->dsn, "SELECT pwhash FROM users WHERE name = 'an'");
    assert_true(strncmp(hash, "$argon2id$", 10) == 0);
    free(hash);

    assert_int_equal(login(c, "an", "wrong password", "10.0.0.1")->status, IOC_EPERM);
    assert_int_equal(login(c, "nobody", PW, "10.0.0.1")->status, IOC_EPERM);
    const auth_login_t *res = login(c, "an", PW, "10.0.0.1");
    assert_int_equal(res->status, 0);
    assert_non_null(strstr(res->cookie, "; HttpOnly; SameSite=Strict"));
    assert_null(strstr(res->cookie, "Secure"));
    assert_int_equal(res->who.role, ROLE_OPERATOR);
    cookie_header(res->cookie, cookie, sizeof cookie);
    uint64_t principal = res->who.principal;

    assert_int_equal(auth_identify(&c->cfg, NULL, cookie, &who), ROLE_OPERATOR);
    assert_string_equal(who.name, "an");
    assert_true(who.session);
    assert_int_equal(who.principal, principal);
    assert_int_equal(auth_identify(&c->cfg, NULL, "iocd_session=forged", &who), 0);
    char both[300];
    snprintf(both, sizeof both, "theme=dark; %s; lang=vi", cookie);
    assert_int_equal(auth_identify(&c->cfg, NULL, both, &who), ROLE_OPERATOR);
    /* The digest, never the cookie, is stored. */
    assert_int_equal(count_when_written(c, "SELECT count(*) FROM sessions", 1), 1);

    /* Disabling the person ends the session (the revoke callback names it). */
    c->nrevoked = 0;
    c->done = false;
    assert_int_equal(auth_user_update(c->auth, "an", NULL, NULL, 1, "tester", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), 0);
    assert_int_equal(c->nrevoked, 1);
    assert_int_equal(c->revoked[0], principal);
    assert_int_equal(auth_identify(&c->cfg, NULL, cookie, &who), 0);
    assert_int_equal(login(c, "an", PW, "10.0.0.1")->status, IOC_EPERM);
    c->done = false;
    assert_int_equal(auth_user_update(c->auth, "ghost", NULL, NULL, 1, "t", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), IOC_ENOTFOUND);
}

static void test_logout_and_reload(void **state)
{
    ctx_t *c = *state;
    char keep[256], gone[256];
    auth_ident_t who;

    assert_int_equal(add_user(c, "chi", PW, "viewer"), 0);
    cookie_header(login(c, "chi", PW, "10.0.0.2")->cookie, keep, sizeof keep);
    const auth_login_t *res = login(c, "chi", PW, "10.0.0.2");
    cookie_header(res->cookie, gone, sizeof gone);
    uint64_t principal = res->who.principal;
    c->nrevoked = 0;
    assert_non_null(strstr(auth_logout(c->auth, gone, "10.0.0.2"), "Max-Age=0"));
    assert_int_equal(c->nrevoked, 1);
    assert_int_equal(c->revoked[0], principal);
    assert_int_equal(auth_identify(&c->cfg, NULL, gone, &who), 0);

    /* Let the background writes land, then restart the store: the live session survives. */
    assert_int_equal(count_when_written(c, "SELECT count(*) FROM sessions", 1), 1);
    close_auth(c);
    assert_int_equal(auth_identify(&c->cfg, NULL, keep, &who), 0); /* no store, no sessions */
    open_auth(c);
    assert_int_equal(auth_identify(&c->cfg, NULL, keep, &who), ROLE_VIEWER);
    assert_string_equal(who.name, "chi");
    assert_int_equal(auth_identify(&c->cfg, NULL, gone, &who), 0);
}

static void test_tokens(void **state)
{
    ctx_t *c = *state;
    char authz[300], token[sizeof ((ctx_t *)0)->msg];
    auth_ident_t who;

    c->done = false;
    assert_int_equal(auth_token_create(c->auth, "gw", "writer", "root", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), 0);
    snprintf(token, sizeof token, "%s", c->msg);
    assert_true(strncmp(token, "iocd_", 5) == 0 && strlen(token) == 5 + 43);
    snprintf(authz, sizeof authz, "Bearer %s", token);
    assert_int_equal(auth_identify(&c->cfg, authz, NULL, &who), ROLE_WRITER);
    assert_string_equal(who.name, "token:gw");
    uint64_t principal = who.principal;
    assert_true(principal != 0);
    c->done = false;
    assert_int_equal(auth_token_create(c->auth, "gw", "viewer", "root", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), IOC_EAGAIN);

    close_auth(c);
    open_auth(c);
    assert_int_equal(auth_identify(&c->cfg, authz, NULL, &who), ROLE_WRITER);
    principal = who.principal;

    c->nrevoked = 0;
    c->done = false;
    assert_int_equal(auth_token_revoke(c->auth, "gw", "root", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), 0);
    assert_int_equal(c->nrevoked, 1);
    assert_int_equal(c->revoked[0], principal);
    assert_int_equal(auth_identify(&c->cfg, authz, NULL, &who), 0);
    c->done = false;
    assert_int_equal(auth_token_revoke(c->auth, "gw", "root", NULL, on_done, c), 0);
    assert_int_equal(wait_done(c), IOC_ENOTFOUND);
    assert_int_equal(count_when_written(
                         c, "SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL", 1),
                     1);
}

static void test_bootstrap_and_hashing_bound(void **state)
{
    ctx_t *c = *state;
    ctx_t extra[AUTH_MAX_HASHING + 1];

    c->done = false;
    assert_int_equal(auth_bootstrap_admin(c->auth, "root", PW, on_done, c), 0);
    assert_int_equal(wait_done(c), 0);
    c->done = false;
    assert_int_equal(auth_bootstrap_admin(c->auth, "root2", PW, on_done, c), 0);
    assert_int_equal(wait_done(c), IOC_EPERM);

    /* More log-ins at once than hashing slots: the extra one is told to come back. */
    memset(extra, 0, sizeof extra);
    for (int i = 0; i <= AUTH_MAX_HASHING; i++)
        auth_login(c->auth, "root", PW, "10.0.0.9", on_login, &extra[i]);
    assert_true(extra[AUTH_MAX_HASHING].done);
    assert_int_equal(extra[AUTH_MAX_HASHING].login.status, IOC_EAGAIN);
    assert_int_equal(extra[AUTH_MAX_HASHING].login.retry_after_s, 1);
    for (int i = 0; i < AUTH_MAX_HASHING; i++) {
        assert_true(helper_run_until(&c->loop, &extra[i].done, 20000));
        assert_int_equal(extra[i].login.status, 0);
    }
}

static void on_audit(void *ud, int status, const cJSON *entries)
{
    ctx_t *c = ud;
    c->status = status;
    c->msg[0] = '\0';
    if (!status) {
        char *s = cJSON_PrintUnformatted(entries);
        snprintf(c->msg, sizeof c->msg, "%s", s);
        free(s);
    }
    c->done = true;
}

static void test_audit(void **state)
{
    ctx_t *c = *state;
    cJSON *d = cJSON_Parse("{\"rule\":7}");

    auth_audit("otto", "alert.ack", "alert:42", "10.1.1.1", d);
    cJSON_Delete(d);
    assert_int_equal(add_user(c, "dung", PW, "analyst"), 0);
    c->done = false;
    assert_int_equal(auth_audit_list(c->auth, 0, "alert.ack", NULL, 10, on_audit, c), 0);
    assert_int_equal(wait_done(c), 0);
    assert_non_null(strstr(c->msg, "\"actor\":\"otto\",\"action\":\"alert.ack\",\"target\":\"alert:42\","
                                   "\"peer\":\"10.1.1.1\",\"detail\":{\"rule\":7}"));
    c->done = false;
    assert_int_equal(auth_audit_list(c->auth, 0, NULL, "tester", 10, on_audit, c), 0);
    assert_int_equal(wait_done(c), 0);
    assert_non_null(strstr(c->msg, "\"action\":\"user.add\",\"target\":\"dung\""));
    assert_null(strstr(c->msg, "otto"));
    assert_int_equal(auth_audit_list(c->auth, 0, NULL, NULL, 0, on_audit, c), IOC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_and_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_and_hashing_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
