/* People: add, change, disable, list, and the first admin (passwords hashed on the threadpool). */
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
