/* Runtime API tokens: created by admins (shown once, stored as SHA-256), listed, revoked (their
 * live sockets closed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "ioc/error.h"

#define TOKEN_PREFIX "iocd_"

typedef struct top {
    auth_store_t *s;
    auth_tok_t *tok;               /* create: the new token (owned until added) */
    char name[AUTH_MAX_NAME + 1];
    char text[64];                 /* create: the token itself, wiped after the callback */
    char actor[AUTH_MAX_NAME + 16];
    char peer[64];
    auth_done_fn cb;
    void *ud;
} top_t;

static void top_finish(top_t *op, int status, const char *msg)
{
    op->cb(op->ud, status, msg);
    sodium_memzero(op->text, sizeof op->text);
    free(op->tok);
    free(op);
}

static top_t *top_new(auth_store_t *s, const char *name, const char *actor, const char *peer,
                      auth_done_fn cb, void *ud)
{
    top_t *op = calloc(1, sizeof *op);

    if (!op)
        return NULL;
    op->s = s;
    snprintf(op->name, sizeof op->name, "%s", name);
    snprintf(op->actor, sizeof op->actor, "%s", actor ? actor : "unknown");
    snprintf(op->peer, sizeof op->peer, "%s", peer ? peer : "");
    op->cb = cb;
    op->ud = ud;
    return op;
}

static auth_tok_t *find_name(const auth_store_t *s, const char *name)
{
    for (auth_tok_t *t = s->toks; t; t = t->next)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

static void on_created(void *ud, int status, PGresult *res)
{
    top_t *op = ud;
    auth_store_t *s = op->s;
    (void)res;

    if (status)
        return top_finish(op, status == IOC_ECLOSED ? status : IOC_EAGAIN,
                          status == IOC_ECLOSED ? "closing" : "name: exists");
    op->tok->principal = AUTH_PRINCIPAL_TOKEN | ++s->next_principal;
    op->tok->next = s->toks;
    s->toks = op->tok;
    s->ntoks++;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "role", auth_role_name(op->tok->role));
    auth_audit(op->actor, "token.create", op->name, op->peer, d);
    cJSON_Delete(d);
    log_info("auth", "event=token_created name=%s by=\"%s\"", op->name, op->actor);
    op->tok = NULL;
    top_finish(op, IOC_OK, op->text);
}

int auth_token_create(auth_store_t *s, const char *name, const char *role, const char *actor,
                      const char *peer, auth_done_fn cb, void *ud)
{
    uint8_t raw[32];
    char hex[2 * AUTH_DIGEST + 3];
    int bit = auth_role_bit(role), rc;
    top_t *op;

    if (!auth_name_ok(name)) {
        cb(ud, IOC_EINVAL, "name: 1 to 64 of A-Z a-z 0-9 . _ @ -");
        return IOC_OK;
    }
    if (!bit) {
        cb(ud, IOC_EINVAL, "role: one of viewer, operator, analyst, admin, writer");
        return IOC_OK;
    }
    if (!s->ready)
        return IOC_EDB;
    if (s->ntoks >= AUTH_MAX_TOKENS)
        return IOC_EFULL;
    if (find_name(s, name)) {
        cb(ud, IOC_EAGAIN, "name: exists");
        return IOC_OK;
    }
    if (!(op = top_new(s, name, actor, peer, cb, ud)) || !(op->tok = calloc(1, sizeof *op->tok))) {
        free(op);
        return IOC_ENOMEM;
    }
    randombytes_buf(raw, sizeof raw);
    memcpy(op->text, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
    sodium_bin2base64(op->text + sizeof TOKEN_PREFIX - 1, sizeof op->text - sizeof TOKEN_PREFIX + 1,
                      raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    crypto_hash_sha256(op->tok->digest, (const unsigned char *)op->text, strlen(op->text));
    snprintf(op->tok->name, sizeof op->tok->name, "%s", name);
    snprintf(op->tok->created_by, sizeof op->tok->created_by, "%s", op->actor);
    op->tok->role = bit;
    op->tok->created_us = auth_now_us();
    auth_digest_hex(op->tok->digest, hex);
    const char *vals[] = {name, auth_role_name(bit), hex, op->actor};
    if ((rc = auth_db_send(s,
                           "INSERT INTO api_tokens (name, role, token_sha256, created_by)"
                           " VALUES ($1, $2, $3::bytea, $4)",
                           4, vals, true, on_created, op))) {
        sodium_memzero(op->text, sizeof op->text);
        free(op->tok);
        free(op);
    }
    return rc;
}

static void on_revoked(void *ud, int status, PGresult *res)
{
    top_t *op = ud;
    auth_store_t *s = op->s;
    auth_tok_t **pp;

    if (status)
        return top_finish(op, status == IOC_ECLOSED ? status : IOC_EDB, "database error");
    if (atoi(PQcmdTuples(res)) == 0 && !find_name(s, op->name))
        return top_finish(op, IOC_ENOTFOUND, "no such token");
    for (pp = &s->toks; *pp && strcmp((*pp)->name, op->name); pp = &(*pp)->next)
        ;
    if (*pp) {
        auth_tok_t *t = *pp;
        *pp = t->next;
        s->ntoks--;
        if (s->on_revoke)
            s->on_revoke(s->revoke_ud, t->principal);
        free(t);
    }
    auth_audit(op->actor, "token.revoke", op->name, op->peer, NULL);
    log_info("auth", "event=token_revoked name=%s by=\"%s\"", op->name, op->actor);
    top_finish(op, IOC_OK, NULL);
}

int auth_token_revoke(auth_store_t *s, const char *name, const char *actor, const char *peer,
                      auth_done_fn cb, void *ud)
{
    top_t *op;
    int rc;

    if (!s->ready)
        return IOC_EDB;
    if (!auth_name_ok(name) || !find_name(s, name)) {
        cb(ud, IOC_ENOTFOUND, "no such token");
        return IOC_OK;
    }
    if (!(op = top_new(s, name, actor, peer, cb, ud)))
        return IOC_ENOMEM;
    const char *vals[] = {name};
    if ((rc = auth_db_send(s,
                           "UPDATE api_tokens SET revoked_at = now()"
                           " WHERE name = $1 AND revoked_at IS NULL",
                           1, vals, true, on_revoked, op)))
        free(op);
    return rc;
}

/* Appends one token's entry; returns false on ENOMEM. */
static bool add_entry(cJSON *arr, const char *name, int role, const char *by, int64_t created_us,
                      const char *source)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "name", name) ||
        !cJSON_AddStringToObject(o, "role", auth_role_name(role)) ||
        !cJSON_AddStringToObject(o, "source", source) ||
        (by && !cJSON_AddStringToObject(o, "created_by", by)) ||
        (created_us && !cJSON_AddNumberToObject(o, "created", (double)(created_us / 1000000)))) {
        cJSON_Delete(o);
        return false;
    }
    cJSON_AddItemToArray(arr, o);
    return true;
}

cJSON *auth_tokens_json(const auth_store_t *s, const config_t *cfg)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr && cfg && i < cfg->ntokens; i++)
        if (!add_entry(arr, cfg->tokens[i].name, auth_role_bit(cfg->tokens[i].role), NULL, 0,
                       "config"))
            goto fail;
    for (const auth_tok_t *t = s ? s->toks : NULL; arr && t; t = t->next)
        if (!add_entry(arr, t->name, t->role, t->created_by, t->created_us, "api"))
            goto fail;
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}
