/* The audit log: records queued to the audit_log table in order, and read back for admins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/log.h"
#include "ioc/error.h"

static void on_written(void *ud, int status, PGresult *res)
{
    (void)ud;
    (void)res;
    if (status && status != IOC_ECLOSED && auth_current)
        auth_current->audit_dropped++;
}

void auth_audit(const char *actor, const char *action, const char *target, const char *peer,
                const cJSON *detail)
{
    auth_store_t *s = auth_current;
    char *dj = detail ? cJSON_PrintUnformatted(detail) : NULL;
    const char *vals[] = {actor, action, target, peer && *peer ? peer : NULL, dj};

    if (!s || auth_db_send(s,
                           "INSERT INTO audit_log (actor, action, target, peer, detail)"
                           " VALUES ($1, $2, $3, $4, $5::jsonb)",
                           5, vals, false, on_written, NULL)) {
        if (s)
            s->audit_dropped++;
        log_warn("auth", "event=audit_dropped action=%s", action);
    }
    free(dj);
}

typedef struct aq {
    void (*cb)(void *ud, int status, const cJSON *entries);
    void *ud;
} aq_t;

static void on_listed(void *ud, int status, PGresult *res)
{
    aq_t *q = ud;
    cJSON *arr = NULL;

    if (!status && !(arr = cJSON_Parse(PQgetvalue(res, 0, 0))))
        status = IOC_ENOMEM;
    q->cb(q->ud, status, arr);
    cJSON_Delete(arr);
    free(q);
}

int auth_audit_list(auth_store_t *s, int64_t since_us, const char *action, const char *actor,
                    int limit, void (*cb)(void *ud, int status, const cJSON *entries), void *ud)
{
    char since[32], lim[16];
    aq_t *q;
    int rc;

    if (limit < 1 || limit > 1000)
        return IOC_EINVAL;
    if (!(q = calloc(1, sizeof *q)))
        return IOC_ENOMEM;
    q->cb = cb;
    q->ud = ud;
    snprintf(since, sizeof since, "%lld", (long long)since_us);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *vals[] = {since, action, actor, lim};
    rc = auth_db_send(s,
                      "SELECT coalesce(json_agg(json_build_object('id', id,"
                      " 'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                      " 'actor', actor, 'action', action, 'target', target, 'peer', peer,"
                      " 'detail', detail) ORDER BY id DESC), '[]')::text FROM ("
                      "SELECT * FROM audit_log WHERE ts >= to_timestamp($1::double precision / 1e6)"
                      " AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR actor = $3)"
                      " ORDER BY id DESC LIMIT $4::int) a",
                      4, vals, true, on_listed, q);
    if (rc)
        free(q);
    return rc;
}
